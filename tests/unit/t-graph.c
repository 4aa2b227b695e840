/* Unit tests of lib/graph's policy pieces: error decoding (Graph and
 * api.instagram.com shapes), classification (retry / 77 / 69), message
 * format, usage headers, Retry-After, the full-jitter backoff bounds, URL
 * building and the masking of secrets in logged queries. */
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "tap.h"

static json_t *J(const char *text)
{
	return json_loads(text, 0, NULL);
}

int main(void)
{
	struct ig_graph_error e;
	struct ig_config cfg;
	struct ig_graph g;
	struct ig_err err = { 0 };
	json_t *b;
	char buf[700], *s;
	int pct, i, within = 1;
	long regain, d;

	/* decoding */
	b = J("{\"error\":{\"message\":\"Error validating access token\",\"type\":\"OAuthException\","
	      "\"code\":190,\"error_subcode\":463,\"is_transient\":false,\"fbtrace_id\":\"EJplcsCHuLu\"}}");
	ok(ig_graph_error_decode(b, 400, &e), "a Graph error object is found");
	is_int(e.code, 190, "code");
	is_int(e.subcode, 463, "subcode");
	is_str(e.fbtrace_id, "EJplcsCHuLu", "fbtrace_id");
	ig_graph_error_format(&e, buf, sizeof(buf));
	is_str(buf, "(#190/463) Error validating access token [fbtrace EJplcsCHuLu]", "message format");
	is_int(ig_graph_classify(&e), IG_EX_NOPERM, "190 is 77");
	json_decref(b);

	b = J("{\"error_type\":\"OAuthException\",\"code\":400,"
	      "\"error_message\":\"Matching code was not found or was already used\"}");
	ok(ig_graph_error_decode(b, 400, &e), "the api.instagram.com shape is found");
	ig_graph_error_format(&e, buf, sizeof(buf));
	is_str(buf, "(#400) Matching code was not found or was already used", "its message");
	is_int(ig_graph_classify(&e), IG_EX_UNAVAILABLE, "a used code is 69");
	json_decref(b);

	ok(!ig_graph_error_decode(NULL, 502, &e), "no body: no Graph error");
	is_int(ig_graph_classify(&e), -1, "a bare 502 is retried");
	e.http_status = 404;
	is_int(ig_graph_classify(&e), IG_EX_UNAVAILABLE, "a bare 404 is 69");
	e.http_status = 401;
	is_int(ig_graph_classify(&e), IG_EX_NOPERM, "a bare 401 is 77");

	{
		static const long retry[] = { 1, 2, 4, 17, 32, 613, 80002 };
		static const long never[] = { 10, 100, 200, 299, 368 };

		memset(&e, 0, sizeof(e));
		e.http_status = 400;
		for (i = 0; i < 7; i++) {
			e.code = retry[i];
			is_int(ig_graph_classify(&e), -1, "code %ld is retried", retry[i]);
		}
		for (i = 0; i < 5; i++) {
			e.code = never[i];
			is_int(ig_graph_classify(&e), IG_EX_UNAVAILABLE, "code %ld is 69", never[i]);
		}
		e.code = 100;
		e.http_status = 500;
		is_int(ig_graph_classify(&e), IG_EX_UNAVAILABLE, "code 100 is 69 even with HTTP 500");
		e.code = 12345;
		e.is_transient = 1;
		is_int(ig_graph_classify(&e), -1, "is_transient is retried");
	}

	/* usage headers (reference §9.2) */
	ok(!ig_graph_usage_parse("{\"call_count\":28,\"total_cputime\":96,\"total_time\":25}", NULL,
				 &pct, &regain), "X-App-Usage parses");
	is_int(pct, 96, "highest percentage");
	ok(!ig_graph_usage_parse(NULL, "{\"1784\":[{\"type\":\"instagram\",\"call_count\":100,"
				 "\"estimated_time_to_regain_access\":3}]}", &pct, &regain),
	   "X-Business-Use-Case-Usage parses");
	is_int(regain, 180, "regain time in seconds");
	ok(ig_graph_usage_parse("nonsense", NULL, &pct, &regain), "garbage is refused");

	/* Retry-After */
	is_int(ig_graph_retry_after("7", 0), 7, "Retry-After in seconds");
	is_int(ig_graph_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", 40), 60, "Retry-After as a date");
	is_int(ig_graph_retry_after("soon", 0), -1, "unparsable Retry-After");

	/* backoff and URLs need a configured client */
	ok(!ig_config_load(&cfg, "/dev/null", &err), "configuration loads");
	ig_config_set(&cfg, "http_backoff_ms", "100", IG_SRC_FLAG, NULL);
	ok(!ig_graph_init(&g, &cfg, 0, &err), "client initialises");
	for (i = 0; i < 200; i++) {
		d = ig_graph_backoff_ms(&g, 3);
		if (d < 0 || d > 400)
			within = 0;
	}
	ok(within, "third retry waits within [0, 400] ms");
	for (i = 0, within = 1; i < 200; i++)
		if (ig_graph_backoff_ms(&g, 30) > IG_GRAPH_WAIT_CAP_S * 1000L)
			within = 0;
	ok(within, "the backoff is capped");
	s = ig_graph_url(&g, IG_HOST_GRAPH_IG, 1, "/me");
	is_str(s, "https://graph.instagram.com/v25.0/me", "versioned URL");
	free(s);
	s = ig_graph_url(&g, IG_HOST_API_IG, 0, "/oauth/access_token");
	is_str(s, "https://api.instagram.com/oauth/access_token", "unversioned URL");
	free(s);
	ig_graph_release(&g);
	ig_config_set(&cfg, "http_timeout", "soon", IG_SRC_FLAG, NULL);
	is_int(ig_graph_init(&g, &cfg, 0, &err), IG_EX_CONFIG, "a bad http_timeout is 78");
	ig_graph_release(&g);
	ig_config_release(&cfg);

	/* masking */
	s = ig_graph_mask_query("https://x/y?grant_type=ig_refresh_token&access_token=IGAAabcdefghijklmnXYZ"
				"&client_secret=0123456789abcdef&code=AQxxxxxxxxxxxxyz#_");
	is_str(s, "https://x/y?grant_type=ig_refresh_token&access_token=IGAA…XYZ&client_secret=****"
	       "&code=AQxx…xyz#_", "secrets masked, the rest kept");
	free(s);
	s = ig_url_escape("a b/c,d");
	is_str(s, "a%20b%2Fc%2Cd", "url escape");
	free(s);
	return done_testing();
}
