#ifndef IG_ROUTE_H
#define IG_ROUTE_H
#endif
