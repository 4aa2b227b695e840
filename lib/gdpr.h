#ifndef IG_GDPR_H
#define IG_GDPR_H
#endif
