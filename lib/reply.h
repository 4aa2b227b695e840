#ifndef IG_REPLY_H
#define IG_REPLY_H
#endif
