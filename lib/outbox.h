#ifndef IG_OUTBOX_H
#define IG_OUTBOX_H
#endif
