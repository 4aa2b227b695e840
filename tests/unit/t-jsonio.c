/* Unit tests of lib/jsonio: JSON Lines reading (limits, duplicates, line
 * numbers, blank lines, CRLF), compact output, table and CSV listings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonio.h"
#include "tap.h"

static FILE *input(const char *s)
{
	return fmemopen((void *)s, strlen(s), "r");
}

/* ig_json_dumpb writes exactly what json_dumps(COMPACT | ENCODE_ANY) does. */
static void dump_like_jansson(void)
{
	static const char ctl[] = "a\001\002\b\t\n\v\f\r\016\037 \"\\/\177é€😀";
	json_t *cases[16];
	int n = 0, i, same = 0;

	cases[n++] = json_pack("{s:s,s:I,s:I,s:b,s:b,s:n}", "text", "hello", "max",
			       (json_int_t)9223372036854775807LL, "min",
			       (json_int_t)(-9223372036854775807LL - 1), "t", 1, "f", 0, "z");
	cases[n++] = json_pack("{s:[],s:{},s:[{},[],[i,[i,[i]]]]}", "a", "o", "deep", 1, 2, 3);
	cases[n++] = json_pack("[f,f,f,f,f,f,f]", 1.5, 3.0, -0.0, 1e300, 1e-300, 0.1, -2.5e-7);
	cases[n++] = json_object();
	json_object_set_new(cases[n - 1], ctl, json_stringn(ctl, sizeof(ctl) - 1));
	json_object_set_new(cases[n - 1], "nul", json_stringn("a\0b", 3));
	json_object_set_new(cases[n - 1], "", json_string(""));
	cases[n++] = json_string("a bare \"string\"");
	cases[n++] = json_integer(-42);
	cases[n++] = json_null();
	cases[n++] = json_pack("{s:s,s:s,s:s,s:i}", "zeta", "1", "alpha", "2", "mid", "3", "n", 0);
	for (i = 0; i < n; i++) {
		struct ig_buf b = IG_BUF_INIT(SIZE_MAX);
		char *want;

		if (!cases[i]) {
			printf("#   case %d: not built\n", i);
			continue;
		}
		want = json_dumps(cases[i], JSON_COMPACT | JSON_ENCODE_ANY);
		if (!ig_json_dumpb(&b, cases[i]) && want && !strcmp(b.data, want))
			same++;
		else
			printf("#   case %d: got %s\n#   want %s\n", i, b.data, want);
		free(want);
		ig_buf_release(&b);
		json_decref(cases[i]);
	}
	is_int(same, n, "ig_json_dumpb writes what json_dumps writes (%d cases)", n);
	{
		struct ig_buf b = IG_BUF_INIT(8);
		json_t *v = json_pack("{s:s}", "key", "a value too long");

		ok(ig_json_dumpb(&b, v) == -1 && b.len == 0, "a full buffer: -1, the buffer unchanged");
		json_decref(v);
		ig_buf_release(&b);
	}
}

/* ig_jw_* writes, member by member, what ig_json_dumpb writes for the same
 * object; the parser says whether a string value held \u0000. */
static void writer_and_nul_flag(void)
{
	static const char ctl[] = "a\001\b\t\n\r\037 \"\\/\177é😀";
	struct ig_buf b = IG_BUF_INIT(SIZE_MAX), small = IG_BUF_INIT(16);
	json_t *nested = json_pack("{s:[i,s,n],s:{}}", "list", 1, "two", "o"), *o;
	struct ig_jw w;
	const char *j;
	char *want;
	int nul = -1;

	o = json_pack("{s:s,s:n,s:I,s:I,s:i,s:O}", "text", ctl, "none", "min",
		      (json_int_t)(-9223372036854775807LL - 1), "max",
		      (json_int_t)9223372036854775807LL, "zero", 0, "nested", nested);
	want = json_dumps(o, JSON_COMPACT);
	ig_buf_add(&b, "x", 1);
	ig_jw_begin(&w, &b);
	ig_jw_str(&w, "text", ctl);
	ig_jw_str(&w, "none", NULL);
	ig_jw_int(&w, "min", INT64_MIN);
	ig_jw_int(&w, "max", INT64_MAX);
	ig_jw_int(&w, "zero", 0);
	ig_jw_value(&w, "nested", nested);
	is_int(ig_jw_end(&w), 0, "ig_jw_end: 0");
	ok(want && b.data[0] == 'x' && !strcmp(b.data + 1, want), "ig_jw_* writes what json_dumps writes:"
	   " %s", b.data + 1);
	ig_jw_begin(&w, &b);
	is_int(ig_jw_end(&w), 0, "an empty object");
	ok(!strcmp(b.data + b.len - 2, "{}"), "is {}");
	ig_buf_add(&small, "abc", 3);
	ig_jw_begin(&w, &small);
	ig_jw_str(&w, "key", "a value longer than the cap");
	ig_jw_int(&w, "n", 1);
	ok(ig_jw_end(&w) == -1 && small.len == 3 && !strcmp(small.data, "abc"),
	   "over the cap: -1, the buffer back as it was");
	free(want);
	json_decref(o);
	json_decref(nested);
	ig_buf_release(&b);
	ig_buf_release(&small);

	j = "{\"a\":\"x\\u0000y\"}";
	o = ig_json_parse_nul(j, strlen(j), &nul, NULL);
	ok(o && nul == 1, "\\u0000 in a value: the flag is set");
	json_decref(o);
	j = "{\"a\":[\"x\",{\"b\":\"\\u0041\"}]}";
	o = ig_json_parse_nul(j, strlen(j), &nul, NULL);
	ok(o && nul == 0, "no NUL: the flag is clear");
	json_decref(o);
	j = "{\"a\":[\"x\",{\"b\":\"\\u0000\"}]}";
	o = ig_json_parse_nul(j, strlen(j), &nul, NULL);
	ok(o && nul == 1, "a NUL deep in the tree: set");
	json_decref(o);
	nul = -1;
	ok(!ig_json_parse_nul("{\"a\":", 5, &nul, NULL) && nul == 0, "bad JSON: NULL, the flag clear");
}

/* A NUL byte inside a line is that line's error, never the next record's
 * loss (the reader once took strlen of each fgets chunk). */
static void nul_safe(void)
{
	static const char in[] = "{\"a\":1}\0x\n{\"b\":2}\n{\"c\":\"\0\"}\n";
	struct ig_jsonl_reader r;
	struct ig_err err = { 0 };
	json_t *v;
	FILE *f = tmpfile();

	fwrite(in, 1, sizeof(in) - 1, f);
	rewind(f);
	ig_jsonl_reader_init(&r, f, "stdin", 0);
	is_int(ig_jsonl_next(&r, &v, &err), 1, "NUL: line 1 is a record");
	ok(v == NULL && !strncmp(err.msg, "stdin:1: ", 9), "NUL: line 1 is an error: %s", err.msg);
	is_int((int)r.raw.len, 9, "NUL: its raw bytes kept whole, NUL included");
	is_int(ig_jsonl_next(&r, &v, &err), 1, "NUL: line 2 read");
	ok(v && ig_json_int(v, "b", 0) == 2, "NUL: record 2 intact");
	is_int(r.line, 2, "NUL: at line 2");
	json_decref(v);
	is_int(ig_jsonl_next(&r, &v, &err), 1, "NUL: line 3 read");
	ok(v == NULL, "NUL: a raw NUL inside a string is invalid JSON too");
	is_int(ig_jsonl_next(&r, &v, &err), 0, "NUL: end of input");
	ig_jsonl_reader_release(&r);
	fclose(f);
}

/* ig_lines: lines of any length, NULs, CRLF, no final newline, peek, all. */
static void lines(void)
{
	static const char in[] = "one\r\ntw\0o\n\nlast";
	struct ig_lines l;
	char *line, *all;
	const char *data;
	size_t len;
	int tl, fds[2];

	if (pipe(fds))
		return;
	if (write(fds[1], in, sizeof(in) - 1) != (ssize_t)(sizeof(in) - 1))
		return;
	close(fds[1]);
	ig_lines_init(&l, fds[0]);
	ok(!ig_lines_peek(&l, 100, &data, &len) && len == sizeof(in) - 1, "peek: all buffered");
	is_int(ig_lines_next(&l, 100, &line, &len, &tl), 1, "line 1");
	ok(len == 3 && !strcmp(line, "one") && !tl, "CR dropped");
	is_int(ig_lines_next(&l, 2, &line, &len, &tl), 1, "line 2");
	ok(len == 2 && tl, "cut at max, flagged too long");
	is_int(ig_lines_next(&l, 100, &line, &len, &tl), 1, "line 3 (empty)");
	is_int((int)len, 0, "empty line");
	ok(ig_lines_ready(&l), "ready: the last line is there");
	ok(!ig_lines_all(&l, 100, &all, &len) && len == 4 && !strcmp(all, "last"), "all: the rest");
	is_int(ig_lines_next(&l, 100, &line, &len, &tl), 0, "end of input");
	is_int((int)l.line, 3, "three lines counted");
	ig_lines_release(&l);
	close(fds[0]);
}

int main(void)
{
	struct ig_jsonl_reader r;
	struct ig_err err = { 0 };
	json_t *v;
	FILE *f;
	char *buf = NULL;
	size_t len = 0;
	char id[32];

	f = input("{\"a\":1}\n\n  \n{\"a\":2}\r\n{bad\n{\"a\":1,\"a\":2}\n{\"big\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n{\"a\":3}");
	ig_jsonl_reader_init(&r, f, "stdin", 40);
	is_int(ig_jsonl_next(&r, &v, &err), 1, "first record");
	is_int(ig_json_int(v, "a", 0), 1, "value");
	json_decref(v);
	is_int(ig_jsonl_next(&r, &v, &err), 1, "blank lines skipped");
	is_int(r.line, 4, "line number counts blank lines");
	is_int(ig_json_int(v, "a", 0), 2, "CRLF tolerated");
	json_decref(v);
	is_int(ig_jsonl_next(&r, &v, &err), 1, "bad line is a record");
	ok(v == NULL, "with no value");
	ok(strncmp(err.msg, "stdin:5: invalid JSON", 21) == 0, "message has the position: %s", err.msg);
	is_str(r.raw.data, "{bad", "raw bytes kept");
	ig_jsonl_next(&r, &v, &err);
	ok(v == NULL && strstr(err.msg, "duplicate"), "duplicate keys rejected: %s", err.msg);
	ig_jsonl_next(&r, &v, &err);
	ok(v == NULL && strstr(err.msg, "longer than 40 bytes"), "overlong line rejected: %s", err.msg);
	ok(r.truncated && r.raw.len == 40, "its first bytes kept");
	is_int(ig_jsonl_next(&r, &v, &err), 1, "the stream goes on");
	is_int(ig_json_int(v, "a", 0), 3, "last line without newline read");
	is_int(r.line, 8, "line 8");
	json_decref(v);
	is_int(ig_jsonl_next(&r, &v, &err), 0, "end of input");
	ig_jsonl_reader_release(&r);
	fclose(f);

	{
		const char *j = "{\"id\":\"17841400000000001\",\"n\":17841400000000002,\"s\":\"x\"}";

		v = ig_json_parse(j, strlen(j), &err);
	}
	is_str(ig_json_id(v, "id", id), "17841400000000001", "string id");
	is_str(ig_json_id(v, "n", id), "17841400000000002", "integer id kept exact");
	ok(ig_json_id(v, "none", id) == NULL, "missing id");
	is_str(ig_json_str(v, "s"), "x", "string getter");
	ok(ig_json_str(v, "n") == NULL, "string getter refuses a number");
	json_decref(v);
	ok(ig_json_parse("{} x", 4, &err) == NULL, "trailing data refused");

	f = open_memstream(&buf, &len);
	v = json_pack("{s:s,s:i}", "name", "Ciao – é", "n", 3);
	ig_json_emit(f, v);
	fclose(f);
	is_str(buf, "{\"name\":\"Ciao – é\",\"n\":3}\n", "compact, one line, UTF-8 kept");
	free(buf);
	dump_like_jansson();
	writer_and_nul_flag();

	{
		static const char *const cols[] = { "name", "n", "note", NULL };
		struct ig_out o;
		json_t *w = json_pack("{s:s,s:i,s:s}", "name", "a,\"b\"", "n", 10, "note", "x\ny");

		f = open_memstream(&buf, &len);
		ig_out_init(&o, f, IG_FMT_CSV, cols);
		ig_out_row(&o, v);
		ig_out_row(&o, w);
		ig_out_finish(&o);
		fclose(f);
		is_str(buf, "name,n,note\r\nCiao – é,3,\r\n\"a,\"\"b\"\"\",10,\"x\ny\"\r\n",
		       "CSV with header, RFC 4180 quoting, missing cell empty");
		free(buf);
		f = open_memstream(&buf, &len);
		ig_out_init(&o, f, IG_FMT_TABLE, cols);
		ig_out_row(&o, v);
		ig_out_row(&o, w);
		ig_out_finish(&o);
		fclose(f);
		is_str(buf, "name      n   note\nCiao – é  3   \na,\"b\"     10  x y\n",
		       "table aligned by characters, newlines flattened");
		free(buf);
		f = open_memstream(&buf, &len);
		ig_out_init(&o, f, IG_FMT_CSV, cols);
		ig_out_finish(&o);
		fclose(f);
		is_str(buf, "name,n,note\r\n", "empty CSV listing still has its header");
		free(buf);
		json_decref(w);
	}
	json_decref(v);
	{
		json_t *row = json_pack("{s:s,s:[s,s],s:[i],s:[]}", "name", "a", "tags", "x", "y", "nums", 1, "none");
		struct ig_out o;
		char *c = ig_json_cell(json_object_get(row, "tags"));

		is_str(c, "x,y", "a list of strings is one comma-joined cell");
		free(c);
		c = ig_json_cell(json_object_get(row, "nums"));
		is_str(c, "[1]", "other arrays stay JSON");
		free(c);
		c = ig_json_cell(json_object_get(row, "none"));
		is_str(c, "", "an empty list is an empty cell");
		free(c);
		f = open_memstream(&buf, &len);
		ig_out_init(&o, f, IG_FMT_CSV, NULL);
		ig_out_row(&o, row);
		ig_out_finish(&o);
		fclose(f);
		is_str(buf, "name,tags,nums,none\r\na,\"x,y\",[1],\r\n", "no columns given: the first row's keys, in order");
		free(buf);
		json_decref(row);
	}
	{
		enum ig_format fmt;

		ok(ig_format_parse("table", &fmt) == 0 && fmt == IG_FMT_TABLE, "format table");
		ok(ig_format_parse("xml", &fmt) == -1, "unknown format refused");
	}
	nul_safe();
	lines();
	return done_testing();
}
