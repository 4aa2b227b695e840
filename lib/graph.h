#ifndef IG_GRAPH_H
#define IG_GRAPH_H
#endif
