#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonio.h"

/* ------------------------------------------------------------ lines */

void ig_lines_init(struct ig_lines *l, int fd)
{
	memset(l, 0, sizeof(*l));
	l->fd = fd;
}

void ig_lines_release(struct ig_lines *l)
{
	free(l->buf);
	l->buf = NULL;
	l->len = l->pos = l->cap = 0;
}

/* Read more input after what is buffered (compacting or growing the
 * buffer); 0 or -1 (errno). */
static int lines_fill(struct ig_lines *l)
{
	ssize_t n;

	if (l->pos > 0 && l->pos == l->len) {
		l->pos = l->len = 0;
	} else if (l->pos > (1 << 20) || (l->pos && l->len == l->cap)) {
		memmove(l->buf, l->buf + l->pos, l->len - l->pos);
		l->len -= l->pos;
		l->pos = 0;
	}
	if (l->len == l->cap) {
		size_t nc = l->cap ? 2 * l->cap : 1 << 16;
		char *nb = realloc(l->buf, nc + 1);

		if (!nb)
			return -1;
		l->buf = nb;
		l->cap = nc;
	}
	if (l->f) {
		n = (ssize_t)fread(l->buf + l->len, 1, l->cap - l->len, l->f);
		if (n == 0 && ferror(l->f))
			n = -1;
	} else {
		do
			n = read(l->fd, l->buf + l->len, l->cap - l->len);
		while (n < 0 && errno == EINTR);
	}
	if (n < 0)
		return -1;
	if (n == 0)
		l->eof = 1;
	l->len += (size_t)n;
	l->buf[l->len] = '\0';
	return 0;
}

int ig_lines_next(struct ig_lines *l, size_t max, char **line, size_t *len, int *toolong)
{
	size_t scanned = 0;

	*toolong = 0;
	if (!l->buf && lines_fill(l))
		return -1;
	for (;;) {
		char *nl = memchr(l->buf + l->pos + scanned, '\n', l->len - l->pos - scanned);

		if (nl || (l->eof && l->len > l->pos)) {
			size_t n = nl ? (size_t)(nl - (l->buf + l->pos)) : l->len - l->pos;

			*line = l->buf + l->pos;
			l->pos += n + (nl ? 1 : 0);
			if (n && (*line)[n - 1] == '\r')
				n--;
			(*line)[n] = '\0';
			if (*toolong || n > max) {
				*toolong = 1;
				if (n > max)
					n = max;
			}
			*len = n;
			l->line++;
			return 1;
		}
		if (l->eof)
			return 0;
		scanned = l->len - l->pos;
		if (scanned > max + 1) {
			/* keep the start (for a dead letter), drop the middle */
			*toolong = 1;
			l->len = l->pos + max + 1;
			scanned = max + 1;
		}
		if (lines_fill(l))
			return -1;
	}
}

int ig_lines_ready(struct ig_lines *l)
{
	struct pollfd p = { .fd = l->fd, .events = POLLIN };

	if (l->eof || l->f || (l->buf && memchr(l->buf + l->pos, '\n', l->len - l->pos)))
		return 1;
	return poll(&p, 1, 0) > 0;
}

int ig_lines_peek(struct ig_lines *l, size_t max, const char **data, size_t *len)
{
	while (!l->eof && !(l->buf && memchr(l->buf + l->pos, '\n', l->len - l->pos))
	       && l->len - l->pos <= max)
		if (lines_fill(l))
			return -1;
	*data = l->buf ? l->buf + l->pos : "";
	*len = l->len - l->pos;
	return 0;
}

int ig_lines_all(struct ig_lines *l, size_t max, char **data, size_t *len)
{
	while (!l->eof) {
		if (l->len - l->pos > max) {
			/* too long: keep max + 1 bytes to say so, drain the rest */
			char sink[65536];
			ssize_t n;

			while (l->f ? (n = (ssize_t)fread(sink, 1, sizeof(sink), l->f)) > 0
			       : (n = read(l->fd, sink, sizeof(sink))) > 0 || (n < 0 && errno == EINTR))
				;
			if (n < 0)
				return -1;
			l->len = l->pos + max + 1;
			l->eof = 1;
			break;
		}
		if (lines_fill(l))
			return -1;
	}
	if (!l->buf && !(l->buf = calloc(1, 1)))
		return -1;
	l->buf[l->len] = '\0';
	*data = l->buf + l->pos;
	*len = l->len - l->pos;
	l->pos = l->len;
	return 0;
}

/* ------------------------------------------------------------ JSON Lines */

void ig_jsonl_reader_init(struct ig_jsonl_reader *r, FILE *f, const char *name, size_t max)
{
	r->f = f;
	r->name = name ? name : "stdin";
	r->line = 0;
	r->truncated = 0;
	ig_buf_init(&r->raw, max ? max : IG_JSONL_MAX_DEFAULT);
	ig_lines_init(&r->in, fileno(f));
	if (r->in.fd < 0)
		r->in.f = f;
}

void ig_jsonl_reader_release(struct ig_jsonl_reader *r)
{
	ig_buf_release(&r->raw);
	ig_lines_release(&r->in);
}

int ig_jsonl_ready(struct ig_jsonl_reader *r)
{
	return ig_lines_ready(&r->in);
}

int ig_jsonl_next(struct ig_jsonl_reader *r, json_t **out, struct ig_err *err)
{
	*out = NULL;
	for (;;) {
		char *line;
		size_t len, i;
		int toolong, rc = ig_lines_next(&r->in, r->raw.max, &line, &len, &toolong);

		if (rc < 0)
			return ig_err_errno(err, IG_EX_IOERR, "%s: read error", r->name), -1;
		if (rc == 0)
			return 0;
		r->line = r->in.line;
		for (i = 0; i < len; i++)
			if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
				break;
		if (i == len && !toolong)
			continue;  /* blank line */
		ig_buf_reset(&r->raw);
		r->truncated = toolong;
		if (ig_buf_add(&r->raw, line, len))
			return ig_err_set(err, IG_EX_SOFTWARE, "out of memory"), -1;
		if (toolong) {
			ig_err_set(err, IG_EX_DATAERR, "%s:%ld: record longer than %zu bytes",
				   r->name, r->line, r->raw.max);
			return 1;
		}
		*out = ig_json_parse(r->raw.data, r->raw.len, err);
		if (!*out)
			ig_err_prefix(err, "%s:%ld", r->name, r->line);
		return 1;
	}
}

/*
 * Compact serialisation into a buffer, byte for byte what
 * json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) writes (t-jsonio compares
 * the two), without jansson's per-character callback: output is on
 * ig-route's per-event path.
 */
static const char dump_esc[256] = {
	/* 0: copy; 1: \u00XX; else the letter after the backslash */
	1, 1, 1, 1, 1, 1, 1, 1, 'b', 't', 'n', 1, 'f', 'r', 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, '"', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	['\\'] = '\\',
};

static int dump_str(struct ig_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, start = 0;

	if (ig_buf_add(b, "\"", 1))
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[6];

		if (!dump_esc[c])
			continue;
		if (ig_buf_add(b, s + start, i - start))
			return -1;
		start = i + 1;
		e[0] = '\\';
		if (dump_esc[c] == 1) {
			memcpy(e + 1, "u00", 3);
			e[4] = hex[c >> 4];
			e[5] = hex[c & 15];
			if (ig_buf_add(b, e, 6))
				return -1;
		} else {
			e[1] = dump_esc[c];
			if (ig_buf_add(b, e, 2))
				return -1;
		}
	}
	if (ig_buf_add(b, s + start, n - start))
		return -1;
	return ig_buf_add(b, "\"", 1);
}

/* Decimal digits of v into num (at least 21 bytes); how many. */
static size_t fmt_int(char *num, int64_t v)
{
	char tmp[24];
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	size_t n = 0, i = 0;

	do
		tmp[n++] = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		num[i++] = '-';
	while (n)
		num[i++] = tmp[--n];
	return i;
}

int ig_json_dumpb(struct ig_buf *b, const json_t *v)
{
	char num[64];
	size_t i, len0 = b->len;
	const char *k;
	json_t *m;
	char *r;
	int rc = 0;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		rc = ig_buf_add(b, "{", 1);
		i = 0;
		json_object_foreach((json_t *)v, k, m) {
			if (rc)
				break;
			rc = (i++ && ig_buf_add(b, ",", 1)) || dump_str(b, k, strlen(k))
			     || ig_buf_add(b, ":", 1) || ig_json_dumpb(b, m);
		}
		rc = rc || ig_buf_add(b, "}", 1);
		break;
	case JSON_ARRAY:
		rc = ig_buf_add(b, "[", 1);
		for (i = 0; !rc && i < json_array_size(v); i++)
			rc = (i && ig_buf_add(b, ",", 1)) || ig_json_dumpb(b, json_array_get(v, i));
		rc = rc || ig_buf_add(b, "]", 1);
		break;
	case JSON_STRING:
		rc = dump_str(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		rc = ig_buf_add(b, num, fmt_int(num, (int64_t)json_integer_value(v)));
		break;
	case JSON_REAL:
		/* rare: jansson's own digits, exponent and ".0" rules */
		r = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		rc = !r || ig_buf_adds(b, r);
		free(r);
		break;
	case JSON_TRUE:
		rc = ig_buf_add(b, "true", 4);
		break;
	case JSON_FALSE:
		rc = ig_buf_add(b, "false", 5);
		break;
	default:
		rc = ig_buf_add(b, "null", 4);
		break;
	}
	if (rc) {
		b->len = len0;
		if (b->data)
			b->data[len0] = '\0';
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ writer */

void ig_jw_begin(struct ig_jw *w, struct ig_buf *b)
{
	w->b = b;
	w->len0 = b->len;
	w->n = 0;
	w->rc = ig_buf_add(b, "{", 1);
}

static int jw_key(struct ig_jw *w, const char *key)
{
	if (!w->rc)
		w->rc = (w->n++ && ig_buf_add(w->b, ",", 1)) || dump_str(w->b, key, strlen(key))
			|| ig_buf_add(w->b, ":", 1);
	return w->rc;
}

void ig_jw_str(struct ig_jw *w, const char *key, const char *val)
{
	if (!jw_key(w, key))
		w->rc = val ? dump_str(w->b, val, strlen(val)) : ig_buf_add(w->b, "null", 4);
}

void ig_jw_int(struct ig_jw *w, const char *key, int64_t val)
{
	char num[24];

	if (!jw_key(w, key))
		w->rc = ig_buf_add(w->b, num, fmt_int(num, val));
}

void ig_jw_value(struct ig_jw *w, const char *key, const json_t *val)
{
	if (!jw_key(w, key))
		w->rc = ig_json_dumpb(w->b, val);
}

int ig_jw_end(struct ig_jw *w)
{
	if (!w->rc)
		w->rc = ig_buf_add(w->b, "}", 1);
	if (w->rc) {
		w->b->len = w->len0;
		if (w->b->data)
			w->b->data[w->len0] = '\0';
		return -1;
	}
	return 0;
}

int ig_json_emit(FILE *f, const json_t *v)
{
	struct ig_buf b = IG_BUF_INIT(SIZE_MAX);
	int rc;

	rc = ig_json_dumpb(&b, v) || ig_buf_add(&b, "\n", 1)
	     || fwrite(b.data, 1, b.len, f) != b.len || fflush(f) ? -1 : 0;
	ig_buf_release(&b);
	return rc;
}

const char *ig_json_str(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

long long ig_json_int(const json_t *obj, const char *key, long long dflt)
{
	const json_t *v = json_object_get(obj, key);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (long long)json_real_value(v);
	return dflt;
}

const char *ig_json_id(const json_t *obj, const char *key, char *buf)
{
	const json_t *v = json_object_get(obj, key);

	if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) < 32) {
		memcpy(buf, json_string_value(v), json_string_length(v) + 1);
		return buf;
	}
	if (json_is_integer(v)) {
		snprintf(buf, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	return NULL;
}

int ig_format_parse(const char *s, enum ig_format *out)
{
	if (!strcmp(s, "json") || !strcmp(s, "jsonl"))
		*out = IG_FMT_JSON;
	else if (!strcmp(s, "table"))
		*out = IG_FMT_TABLE;
	else if (!strcmp(s, "csv"))
		*out = IG_FMT_CSV;
	else
		return -1;
	return 0;
}

char *ig_json_cell(const json_t *v)
{
	char buf[64];

	if (!v || json_is_null(v))
		return strdup("");
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_true(v))
		return strdup("true");
	if (json_is_false(v))
		return strdup("false");
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return strdup(buf);
	}
	if (json_is_real(v)) {
		snprintf(buf, sizeof(buf), "%g", json_real_value(v));
		return strdup(buf);
	}
	if (json_is_array(v)) {
		/* A list of words reads best as "a,b,c"; anything else stays JSON. */
		struct ig_buf b = IG_BUF_INIT(1 << 20);
		size_t i;

		for (i = 0; i < json_array_size(v); i++) {
			if (!json_is_string(json_array_get(v, i)))
				break;
			if ((i && ig_buf_add(&b, ",", 1))
			    || ig_buf_adds(&b, json_string_value(json_array_get(v, i))))
				break;
		}
		if (i == json_array_size(v))
			return ig_buf_detach(&b, NULL);
		ig_buf_release(&b);
	}
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

void ig_out_init(struct ig_out *o, FILE *f, enum ig_format fmt, const char *const *cols)
{
	o->f = f;
	o->fmt = fmt;
	o->cols = cols;
	o->own_cols = NULL;
	o->rows = fmt == IG_FMT_TABLE ? json_array() : NULL;
	o->header_done = 0;
	o->failed = 0;
}

static void csv_field(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\r\n")) {
		putc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				putc('"', f);
			putc(*s, f);
		}
		putc('"', f);
	} else {
		fputs(s, f);
	}
}

/* Columns from the keys of the first row (insertion order). */
static void cols_from_row(struct ig_out *o, const json_t *row)
{
	const char *key;
	json_t *v;
	size_t n = 0;

	o->own_cols = calloc(json_object_size(row) + 1, sizeof(char *));
	if (!o->own_cols)
		return;
	json_object_foreach((json_t *)row, key, v)
		o->own_cols[n++] = strdup(key);
	o->cols = (const char *const *)o->own_cols;
}

static void free_cols(struct ig_out *o)
{
	size_t i;

	if (!o->own_cols)
		return;
	for (i = 0; o->own_cols[i]; i++)
		free(o->own_cols[i]);
	free(o->own_cols);
	o->own_cols = NULL;
	o->cols = NULL;
}

int ig_out_row(struct ig_out *o, const json_t *row)
{
	int i;

	if (!o->cols && o->fmt != IG_FMT_JSON)
		cols_from_row(o, row);
	if (!o->cols && o->fmt != IG_FMT_JSON)
		return o->failed = 1, -1;

	switch (o->fmt) {
	case IG_FMT_JSON:
		if (ig_json_emit(o->f, row))
			o->failed = 1;
		break;
	case IG_FMT_TABLE:
		json_array_append(o->rows, (json_t *)row);
		break;
	case IG_FMT_CSV:
		if (!o->header_done) {
			for (i = 0; o->cols[i]; i++) {
				if (i)
					putc(',', o->f);
				csv_field(o->f, o->cols[i]);
			}
			fputs("\r\n", o->f);
			o->header_done = 1;
		}
		for (i = 0; o->cols[i]; i++) {
			char *c = ig_json_cell(json_object_get(row, o->cols[i]));

			if (i)
				putc(',', o->f);
			csv_field(o->f, c ? c : "");
			free(c);
		}
		fputs("\r\n", o->f);
		if (fflush(o->f))
			o->failed = 1;
		break;
	}
	return o->failed ? -1 : 0;
}

/* Display width of UTF-8 text: one column per code point (good enough for
 * the Latin, emoji aside, text igkit lists). */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}


int ig_out_finish(struct ig_out *o)
{
	size_t ncols = 0, i, r, *w;

	if (o->fmt != IG_FMT_TABLE || !o->cols) {
		if (o->fmt == IG_FMT_CSV && !o->header_done && o->cols) {
			for (i = 0; o->cols[i]; i++) {
				if (i)
					putc(',', o->f);
				csv_field(o->f, o->cols[i]);
			}
			fputs("\r\n", o->f);
		}
		json_decref(o->rows);
		o->rows = NULL;
		free_cols(o);
		if (fflush(o->f))
			o->failed = 1;
		return o->failed ? -1 : 0;
	}
	while (o->cols[ncols])
		ncols++;
	w = calloc(ncols ? ncols : 1, sizeof(*w));
	if (!w) {
		json_decref(o->rows);
		return -1;
	}
	for (i = 0; i < ncols; i++)
		w[i] = width(o->cols[i]);
	for (r = 0; r < json_array_size(o->rows); r++) {
		for (i = 0; i < ncols; i++) {
			char *c = ig_json_cell(json_object_get(json_array_get(o->rows, r), o->cols[i]));

			if (c && width(c) > w[i])
				w[i] = width(c);
			free(c);
		}
	}
	for (i = 0; i < ncols; i++) {
		size_t n;

		fputs(o->cols[i], o->f);
		if (i + 1 < ncols)
			for (n = width(o->cols[i]); n < w[i] + 2; n++)
				putc(' ', o->f);
	}
	putc('\n', o->f);
	for (r = 0; r < json_array_size(o->rows); r++) {
		for (i = 0; i < ncols; i++) {
			char *c = ig_json_cell(json_object_get(json_array_get(o->rows, r), o->cols[i]));
			const char *s = c ? c : "";
			size_t n;

			for (const char *p = s; *p; p++)
				putc(*p == '\n' || *p == '\t' ? ' ' : *p, o->f);
			if (i + 1 < ncols)
				for (n = width(s); n < w[i] + 2; n++)
					putc(' ', o->f);
			free(c);
		}
		putc('\n', o->f);
	}
	free(w);
	json_decref(o->rows);
	o->rows = NULL;
	free_cols(o);
	if (fflush(o->f))
		o->failed = 1;
	return o->failed ? -1 : 0;
}
