/* lib/connect.c — being written; see lib/connect.h */
typedef int ig_connect_placeholder;
