#ifndef IG_KB_H
#define IG_KB_H
#endif
