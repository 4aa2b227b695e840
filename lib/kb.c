/* lib/kb.c — being written; see lib/kb.h */
typedef int ig_kb_placeholder;
