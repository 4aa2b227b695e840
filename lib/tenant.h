#ifndef IG_TENANT_H
#define IG_TENANT_H
#endif
