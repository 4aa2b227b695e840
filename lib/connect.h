#ifndef IG_CONNECT_H
#define IG_CONNECT_H
#endif
