/*
 * fuzz-webhook.c — fuzz target for the delivery parser (lib/webhook.c).
 *
 * Built two ways:
 *   - with libFuzzer (tests/fuzz/build.sh, `make fuzz`): clang
 *     -fsanitize=fuzzer,address,undefined; run it on tests/fuzz/corpus/;
 *   - with -DSTANDALONE (a `make check` program): main() replays the files
 *     named on the command line, or every file of tests/fuzz/corpus/, and
 *     prints TAP — so the corpus, and every crash ever minimised into it,
 *     runs on every build (under ASan with --enable-sanitizers).
 *
 * Besides "no crash, no leak", it checks a property: every messaging or
 * change event survives the dead-letter round trip — the self-contained
 * delivery ig_webhook_event_delivery() builds parses back into exactly one
 * event of the same type and key, which `ig-route replay` relies on.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_roundtrip(const struct ig_wh_delivery *d, const struct ig_wh_event *e)
{
	struct ig_wh_delivery d2;
	struct ig_err err;
	json_t *mini;
	char *text;
	int ok;

	if (e->level == IG_WH_LVL_ENTRY || e->type == IG_WH_INVALID)
		return 1;
	mini = ig_webhook_event_delivery(d, e);
	text = mini ? json_dumps(mini, JSON_COMPACT) : NULL;
	json_decref(mini);
	if (!text)
		return 0;
	ok = ig_webhook_parse(&d2, text, strlen(text), &err) == 0 && d2.n == 1
	     && d2.ev[0].type == e->type
	     && ((!d2.ev[0].key && !e->key) || (d2.ev[0].key && e->key && !strcmp(d2.ev[0].key, e->key)));
	ig_webhook_release(&d2);
	free(text);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ig_wh_delivery d;
	struct ig_wh_policy pol;
	struct ig_err err;
	char *s;
	size_t i;

	if (ig_webhook_parse(&d, (const char *)data, size, &err) == 0) {
		for (i = 0; i < d.n; i++) {
			const struct ig_wh_event *e = &d.ev[i];

			(void)ig_webhook_has_marker(e->text);
			(void)ig_wh_type_name(e->type);
			if (!check_roundtrip(&d, e)) {
				fprintf(stderr, "round trip failed for event %zu (%s)\n", i,
					ig_wh_type_name(e->type));
				abort();
			}
		}
	}
	ig_webhook_release(&d);
	/* the signature policy parser takes operator text: fuzz it too */
	s = malloc(size + 1);
	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
		ig_wh_policy_init(&pol);
		if (ig_wh_policy_parse(&pol, s, &err) == 0) {
			ig_wh_policy_set_secret(&pol, IG_WH_APP, "k");
			(void)ig_wh_verify(&pol, "instagram", s, NULL, data, size, NULL);
		}
		ig_wh_policy_clear(&pol);
		free(s);
	}
	return 0;
}

#ifdef STANDALONE
#include <dirent.h>

static int run_file(const char *path, int n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, got;

	if (!f) {
		printf("not ok %d - %s: cannot open\n", n, path);
		return 1;
	}
	do {
		if (len == cap) {
			unsigned char *nb = realloc(buf, cap = cap ? 2 * cap : 65536);

			if (!nb) {
				fclose(f);
				free(buf);
				return 1;
			}
			buf = nb;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
	} while (got > 0);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);  /* aborts on a broken property */
	free(buf);
	printf("ok %d - %s\n", n, path);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	const char *srcdir = getenv("srcdir");
	char dir[4096], path[8192], *names[4096];
	int n = 0, i, fail = 0, count = 0;
	struct dirent *de;
	DIR *dp;

	if (argc > 1) {
		for (i = 1; i < argc; i++)
			fail |= run_file(argv[i], i);
		printf("1..%d\n", argc - 1);
		return fail;
	}
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus", srcdir ? srcdir : ".");
	if (!(dp = opendir(dir))) {
		printf("not ok 1 - cannot open corpus %s\n1..1\n", dir);
		return 1;
	}
	while ((de = readdir(dp)) && n < 4096)
		if (de->d_name[0] != '.')
			names[n++] = strdup(de->d_name);
	closedir(dp);
	qsort(names, (size_t)n, sizeof(names[0]), cmp);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		fail |= run_file(path, ++count);
		free(names[i]);
	}
	if (!count)
		printf("not ok 1 - empty corpus %s\n", dir), count = 1, fail = 1;
	printf("1..%d\n", count);
	return fail;
}
#endif
