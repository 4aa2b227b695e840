#ifndef IG_WEBHOOK_H
#define IG_WEBHOOK_H
#endif
