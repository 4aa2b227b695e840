/* lib/tenant.c — being written; see lib/tenant.h */
typedef int ig_tenant_placeholder;
