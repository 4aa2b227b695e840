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
	int i, within = 1;
	long d;

	/* decoding */
	b = J("{\"error\":{\"message\":\"Error validating access token\",\"type\":\"OAuthException\","
	      "\"code\":190,\"error_subcode\":463,\"is_transient\":false,\"fbtrace_id\":\"EJplcsCHuLu\"}}");
	ok(ig_graph_error_decode(b, 400, &e), "a Graph error object is found");
	is_int(e.code, 190, "code");
	is_int(e.subcode, 463, "subcode");
	is_str(e.fbtrace_id, "EJplcsCHuLu", "fbtrace_id");
	ig_graph_error_format(&e, buf, sizeof(buf));
	is_str(buf, "(#190/463) Error validating access token [fbtrace EJplcsCHuLu]", "message format");
	is_int(ig_graph_classify(&e, NULL), IG_EX_NOPERM, "190 is 77");
	json_decref(b);

	b = J("{\"error_type\":\"OAuthException\",\"code\":400,"
	      "\"error_message\":\"Matching code was not found or was already used\"}");
	ok(ig_graph_error_decode(b, 400, &e), "the api.instagram.com shape is found");
	ig_graph_error_format(&e, buf, sizeof(buf));
	is_str(buf, "(#400) Matching code was not found or was already used", "its message");
	is_int(ig_graph_classify(&e, NULL), IG_EX_UNAVAILABLE, "a used code is 69");
	json_decref(b);

	ok(!ig_graph_error_decode(NULL, 502, &e), "no body: no Graph error");
	is_int(ig_graph_classify(&e, NULL), IG_EX_TEMPFAIL, "a bare 502 is 75");
	e.http_status = 404;
	is_int(ig_graph_classify(&e, NULL), IG_EX_UNAVAILABLE, "a bare 404 is 69");
	e.http_status = 401;
	is_int(ig_graph_classify(&e, NULL), IG_EX_NOPERM, "a bare 401 is 77");

	{
		/* reference §3.6, §9.1: temporary (75), and whether a POST may have acted */
		static const long retry[] = { 1, 2, 1200 };
		static const int acted[] = { 1, 1, 0 };
		/* rate limits: wait, never an account failure */
		static const long waitc[] = { 4, 17, 32, 341, 613, 80001, 80002, 80006 };
		static const long never[] = { 10, 100, 200, 299, 368, 506 };
		struct ig_graph_verdict v;

		memset(&e, 0, sizeof(e));
		e.http_status = 400;
		for (i = 0; i < 3; i++) {
			e.code = retry[i];
			is_int(ig_graph_classify(&e, &v), IG_EX_TEMPFAIL, "code %ld is 75", retry[i]);
			is_int(v.action, IG_GRAPH_RETRY, "code %ld is retry", retry[i]);
			is_int(v.acted, acted[i], "code %ld acted = %d", retry[i], acted[i]);
		}
		for (i = 0; i < 8; i++) {
			e.code = waitc[i];
			is_int(ig_graph_classify(&e, &v), IG_EX_TEMPFAIL, "code %ld is 75", waitc[i]);
			is_int(v.action, IG_GRAPH_WAIT, "code %ld is wait", waitc[i]);
			ok(v.wait_s >= 60, "code %ld waits minutes by default", waitc[i]);
			ok(!v.acted, "code %ld was not acted on", waitc[i]);
		}
		for (i = 0; i < 6; i++) {
			e.code = never[i];
			is_int(ig_graph_classify(&e, &v), IG_EX_UNAVAILABLE, "code %ld is 69", never[i]);
			is_str(ig_graph_action_name(v.action), "permanent", "code %ld permanent", never[i]);
		}
		e.code = 1;
		e.subcode = 1357046;
		ig_graph_classify(&e, &v);
		ok(v.acted && v.action == IG_GRAPH_RETRY, "1/1357046: delivered although an error");
		e.code = 190;
		e.subcode = 463;
		ig_graph_classify(&e, &v);
		is_str(ig_graph_action_name(v.action), "relogin", "190 is relogin");
		/* §4.6 media and comment codes */
		{
			static const struct { long c, s; int act, acted; } m[] = {
				{ 9004, 2207052, IG_GRAPH_RETRY, 0 },
				{ 9007, 2207027, IG_GRAPH_RETRY, 0 },
				{ 9, 2207042, IG_GRAPH_WAIT, 0 },
				{ -1, 2207001, IG_GRAPH_RETRY, 1 },
				{ 20, 1772107, IG_GRAPH_RETRY, 1 },
				{ 24, 2207008, IG_GRAPH_PERMANENT, 0 },
				{ 36000, 2207004, IG_GRAPH_PERMANENT, 0 },
				{ 36003, 0, IG_GRAPH_PERMANENT, 0 },
				{ 4, 2207051, IG_GRAPH_PERMANENT, 0 },
				{ 1, 2207057, IG_GRAPH_PERMANENT, 0 },
				{ -2, 2207020, IG_GRAPH_PERMANENT, 0 },
				{ -2, 2207003, IG_GRAPH_RETRY, 0 },
			};

			for (i = 0; i < (int)(sizeof(m) / sizeof(m[0])); i++) {
				e.code = m[i].c;
				e.subcode = m[i].s;
				ig_graph_classify(&e, &v);
				ok(v.action == (enum ig_graph_action)m[i].act && v.acted == m[i].acted,
				   "%ld/%ld is %s%s", m[i].c, m[i].s, ig_graph_action_name(m[i].act),
				   m[i].acted ? " (may have acted)" : "");
			}
		}
		e.subcode = 0;
		e.code = 100;
		e.http_status = 500;
		is_int(ig_graph_classify(&e, NULL), IG_EX_UNAVAILABLE, "code 100 is 69 even with HTTP 500");
		e.code = 0;
		ig_graph_classify(&e, &v);
		ok(v.action == IG_GRAPH_RETRY && v.acted, "a bare 500 is temporary and may have acted");
		e.http_status = 429;
		ig_graph_classify(&e, &v);
		is_int(v.action, IG_GRAPH_WAIT, "HTTP 429 is wait");
		e.http_status = 400;
		e.code = 12345;
		e.is_transient = 1;
		is_int(ig_graph_classify(&e, NULL), IG_EX_TEMPFAIL, "is_transient is 75");
	}

	/* usage headers (reference §9.2) */
	{
		struct ig_graph_usage u;
		char *big;
		size_t off = 0;

		ok(!ig_graph_usage_parse("{\"call_count\":28,\"total_cputime\":96,\"total_time\":25}",
					 NULL, NULL, &u), "X-App-Usage parses");
		is_int(u.app_pct, 96, "highest percentage");
		is_int(u.buc_pct, -1, "no BUC header");
		ok(!ig_graph_usage_parse(NULL, "{\"1784\":[{\"type\":\"instagram\",\"call_count\":100,"
					 "\"estimated_time_to_regain_access\":3}]}", NULL, &u),
		   "X-Business-Use-Case-Usage parses");
		is_int(u.regain_s, 180, "regain time in seconds");
		is_str(u.buc_type, "instagram", "BUC type");
		ok(!ig_graph_usage_parse(NULL, NULL, "{\"acc_id_util_pct\":97.5,\"reset_time_duration\":120,"
					 "\"ads_api_access_tier\":\"standard_access\"}", &u),
		   "X-Ad-Account-Usage parses");
		is_int(u.ad_pct, 97, "ad account percentage");
		is_int(u.regain_s, 120, "reset_time_duration in seconds");
		ok(ig_graph_usage_parse("nonsense", NULL, NULL, &u), "garbage is refused");
		/* 32 objects, well over 4 KB */
		big = malloc(16384);
		off += (size_t)snprintf(big + off, 16384 - off, "{");
		for (i = 0; i < 32; i++)
			off += (size_t)snprintf(big + off, 16384 - off,
				"%s\"17841%010d\":[{\"type\":\"instagram\",\"call_count\":%d,"
				"\"total_cputime\":1,\"total_time\":1,\"estimated_time_to_regain_access\":%d,"
				"\"ads_api_access_tier\":\"development_access_padding_padding_padding\"},"
				"{\"type\":\"messenger\",\"call_count\":1,\"total_cputime\":1,\"total_time\":1}]",
				i ? "," : "", i, i == 31 ? 99 : 10, i == 31 ? 7 : 0);
		snprintf(big + off, 16384 - off, "}");
		ok(strlen(big) > 4096, "the BUC header is %zu bytes", strlen(big));
		ok(!ig_graph_usage_parse(NULL, big, NULL, &u), "a large BUC header parses");
		is_int(u.buc_pct, 99, "its last object counts");
		is_int(u.regain_s, 420, "and its regain time");
		free(big);
	}

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
