#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void ig_buf_init(struct ig_buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->alloc = 0;
	b->max = max;
}

static int grow(struct ig_buf *b, size_t need)
{
	size_t a;
	char *p;

	/* need + 1 (the NUL) must not wrap, whatever max is. */
	if (need > b->max || need == SIZE_MAX) {
		errno = EFBIG;
		return -1;
	}
	if (need + 1 <= b->alloc)
		return 0;
	a = b->alloc ? b->alloc : 256;
	while (a < need + 1)
		a = a > SIZE_MAX / 2 ? need + 1 : a * 2;
	if (b->max < SIZE_MAX && a > b->max + 1)
		a = b->max + 1;
	p = realloc(b->data, a);
	if (!p)
		return -1;
	b->data = p;
	b->alloc = a;
	return 0;
}

int ig_buf_add(struct ig_buf *b, const void *p, size_t n)
{
	if (n > b->max - b->len) {
		errno = EFBIG;
		return -1;
	}
	if (b->len + n >= b->alloc && grow(b, b->len + n))
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int ig_buf_adds(struct ig_buf *b, const char *s)
{
	return ig_buf_add(b, s, strlen(s));
}

int ig_buf_addf(struct ig_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || grow(b, b->len + (size_t)n))
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int ig_buf_read_file(struct ig_buf *b, FILE *f)
{
	char chunk[16384];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (ig_buf_add(b, chunk, n))
			return -1;
	if (ferror(f))
		return -1;
	if (!b->data && grow(b, 0))
		return -1;
	b->data[b->len] = '\0';  /* empty input: the fresh buffer must be a string too */
	return 0;
}

void ig_buf_reset(struct ig_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void ig_buf_release(struct ig_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->alloc = 0;
}

char *ig_buf_detach(struct ig_buf *b, size_t *len)
{
	char *p = b->data;

	if (!p)
		p = calloc(1, 1);
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->alloc = 0;
	return p;
}
