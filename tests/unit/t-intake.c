/* Unit tests of lib/intake's envelope handling (what ig-route's pipe mode
 * and explain read): an envelope's body and signature headers, what is not
 * one, and the auto-detection of the input. */
#include <string.h>

#include "intake.h"
#include "tap.h"

static int env(const char *line, struct ig_route_in *in, char *why)
{
	json_t *e = NULL;
	int rc;

	memset(in, 0, sizeof(*in));
	rc = ig_intake_envelope(line, strlen(line), &e, in, why, 200);
	json_decref(e);
	return rc;
}

int main(void)
{
	struct ig_route_in in;
	char why[200];
	const char *ok1 = "{\"headers\":{\"x-hub-signature-256\":\"sha256=ab\",\"X-Hub-Signature\":\"sha1=cd\"},"
			  "\"body\":\"{\\\"object\\\":\\\"instagram\\\"}\"}";
	json_t *e = NULL;

	ok(ig_intake_envelope(ok1, strlen(ok1), &e, &in, why, sizeof(why)) == 0, "an envelope");
	ok(in.len == 22 && !strncmp(in.body, "{\"object\":\"instagram\"}", in.len), "its body");
	ok(in.sha256 && !strcmp(in.sha256, "sha256=ab"), "header names in any case");
	ok(in.sha1 && !strcmp(in.sha1, "sha1=cd"), "the SHA-1 header too");
	json_decref(e);
	ok(env("{\"body\":\"x\"}", &in, why) == 0 && !in.sha256, "no headers: unsigned");
	ok(env("{bad", &in, why) == -1 && strstr(why, "not an envelope: invalid JSON"), "bad JSON: %s", why);
	ok(env("{\"body\":1}", &in, why) == -1 && strstr(why, "no string \"body\""), "a body that is not a string");
	ok(env("{\"body\":\"x\",\"headers\":[]}", &in, why) == -1 && strstr(why, "not an object"),
	   "headers that are not an object");
	ok(env("{\"body\":\"x\",\"headers\":{\"X-Hub-Signature-256\":5}}", &in, why) == -1
	   && strstr(why, "not a string"), "a signature header that is not a string");
	ok(ig_intake_is_envelope(ok1, strlen(ok1)), "auto-detection: an envelope");
	ok(!ig_intake_is_envelope("{\"object\":\"instagram\",\"entry\":[],\"body\":\"x\"}", 43),
	   "…a delivery with \"entry\" is not one");
	ok(!ig_intake_is_envelope("not json", 8), "…nor is text");
	ok(ig_intake_line_max(1000) == 6000 + 65536, "an envelope line may hold a body escaped 6x");
	return done_testing();
}
