/*
 * buf.h — a growable byte buffer with a hard maximum (after curl's dynbuf).
 * The content is always NUL-terminated (the NUL is not counted in len).
 * Init with IG_BUF_INIT(max) or ig_buf_init(); release with ig_buf_release().
 */
#ifndef IG_BUF_H
#define IG_BUF_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct ig_buf {
	char *data;
	size_t len, alloc, max;   /* max SIZE_MAX: no limit but memory */
};

#define IG_BUF_INIT(max) { NULL, 0, 0, (max) }

void ig_buf_init(struct ig_buf *b, size_t max);
/* Append; returns 0, or -1 when the result would pass max or memory ran out
 * (the buffer is unchanged then). */
int ig_buf_add(struct ig_buf *b, const void *p, size_t n);
int ig_buf_adds(struct ig_buf *b, const char *s);
int ig_buf_addf(struct ig_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Read all of f (up to max).  0 ok; -1 over max (errno EFBIG) or I/O error. */
int ig_buf_read_file(struct ig_buf *b, FILE *f);
void ig_buf_reset(struct ig_buf *b);   /* len = 0, memory kept */
void ig_buf_release(struct ig_buf *b); /* memory freed, back to empty */
/* Hand over the data (caller frees); the buffer is left empty. */
char *ig_buf_detach(struct ig_buf *b, size_t *len);

/* src into dst[n] (n > 0), cut to fit and NUL-terminated: what
 * snprintf(dst, n, "%s", src) writes, without the format machinery (hot
 * paths copy an id or two per event). */
static inline void ig_copy(char *dst, size_t n, const char *src)
{
	size_t len = strnlen(src, n - 1);

	memcpy(dst, src, len);
	dst[len] = '\0';
}

#endif
