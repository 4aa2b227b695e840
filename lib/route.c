/* lib/route.c — being written; see lib/route.h */
typedef int ig_route_placeholder;
