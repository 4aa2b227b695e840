/* Unit tests of lib/events: the routed-events loop — records handed over,
 * keys gathered in batches (distinct, in order), bad records kept as dead
 * letters and reported while the stream goes on. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "exitcodes.h"
#include "tap.h"

struct seen {
	int events, batches, reports;
	size_t keys[8];
	int64_t first[8];
	char last_report[256];
	int fail_batch;
};

static int on_event(void *arg, const json_t *rec, int64_t *key, int64_t *tenant,
		    struct ig_err *err)
{
	struct seen *s = arg;

	s->events++;
	if (json_object_get(rec, "refuse")) {
		*tenant = 0;
		return ig_err_set(err, IG_EX_DATAERR, "refused");
	}
	*key = json_integer_value(json_object_get(rec, "conv"));
	return 0;
}

static int on_batch(void *arg, const int64_t *keys, size_t n, struct ig_err *err)
{
	struct seen *s = arg;

	if (s->batches < 8) {
		s->keys[s->batches] = n;
		s->first[s->batches] = keys[0];
	}
	s->batches++;
	if (s->fail_batch)
		return ig_err_set(err, IG_EX_TEMPFAIL, "store busy");
	return 0;
}

static void on_report(void *arg, int code, const char *msg)
{
	struct seen *s = arg;

	(void)code;
	s->reports++;
	snprintf(s->last_report, sizeof(s->last_report), "%s", msg);
}

static int run(struct ig_store *st, const char *in, size_t batch, struct seen *s,
	       struct ig_err *err)
{
	static const struct ig_events_ops ops = { on_event, on_batch, on_report };
	struct ig_jsonl_reader rd;
	FILE *f = tmpfile();
	int rc;

	fwrite(in, 1, strlen(in), f);
	rewind(f);
	ig_jsonl_reader_init(&rd, f, "stdin", 0);
	rc = ig_events_run(&rd, st, batch, &ops, s, err);
	ig_jsonl_reader_release(&rd);
	fclose(f);
	return rc;
}

int main(void)
{
	char dir[] = "/tmp/igkit-t-events.XXXXXX", path[256], cmd[300];
	struct ig_store *st;
	struct ig_err err = { 0 };
	struct seen s = { 0 };
	int64_t n = 0;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/igkit.db", dir);
	if (ig_store_open(&st, path, IG_STORE_CREATE, &err)) {
		ok(0, "open: %s", err.msg);
		return done_testing();
	}
	/* a file is read to its end: one batch at the end of input (or when full) */
	is_int(run(st, "{\"conv\":7}\n{\"conv\":7}\n{\"conv\":9}\n{\"conv\":0}\n", 10, &s, &err), 0,
	       "a stream: 0");
	is_int(s.events, 4, "every record handed over");
	is_int(s.batches, 1, "one batch");
	ok(s.keys[0] == 2 && s.first[0] == 7, "distinct keys, in order, 0 left out");
	memset(&s, 0, sizeof(s));
	is_int(run(st, "{\"conv\":1}\n{\"conv\":2}\n{\"conv\":3}\n", 2, &s, &err), 0, "batch of 2");
	ok(s.batches == 2 && s.keys[0] == 2 && s.keys[1] == 1 && s.first[1] == 3,
	   "a full batch goes at once, the rest at the end");
	memset(&s, 0, sizeof(s));
	is_int(run(st, "{bad\n{\"refuse\":1}\n{\"conv\":5}\n", 10, &s, &err), 0,
	       "bad records do not stop the stream");
	is_int(s.reports, 2, "two reported");
	ok(strstr(s.last_report, "stdin:2: refused") != NULL, "with their position: %s", s.last_report);
	ok(s.batches == 1 && s.first[0] == 5, "the good record still acted on");
	ig_store_int(st, &err, &n, "SELECT count(*) FROM dead_letters WHERE source = 'ig-reply'", "");
	is_int((int)n, 2, "both kept as dead letters");
	memset(&s, 0, sizeof(s));
	s.fail_batch = 1;
	is_int(run(st, "{\"conv\":1}\n{\"conv\":2}\n", 1, &s, &err), IG_EX_TEMPFAIL,
	       "a failing batch ends the loop with its code");
	is_int(s.batches, 1, "…at once");
	ig_store_free(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		ok(0, "cleanup");
	return done_testing();
}
