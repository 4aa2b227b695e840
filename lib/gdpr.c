/* lib/gdpr.c — being written; see lib/gdpr.h */
typedef int ig_gdpr_placeholder;
