/* lib/graph.c — being written; see lib/graph.h */
typedef int ig_graph_placeholder;
