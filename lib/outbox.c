/* lib/outbox.c — being written; see lib/outbox.h */
typedef int ig_outbox_placeholder;
