/* lib/webhook.c — being written; see lib/webhook.h */
typedef int ig_webhook_placeholder;
