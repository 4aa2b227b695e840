/* lib/reply.c — being written; see lib/reply.h */
typedef int ig_reply_placeholder;
