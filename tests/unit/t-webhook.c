/* t-webhook — the delivery normaliser and the signature policy (lib/webhook.c). */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "tap.h"
#include "webhook.h"

static struct ig_wh_delivery d;
static struct ig_err err;

static int parse(const char *body)
{
	ig_webhook_release(&d);
	memset(&err, 0, sizeof(err));
	return ig_webhook_parse(&d, body, strlen(body), &err);
}

#define MSG(item) "{\"object\":\"instagram\",\"entry\":[{\"id\":\"1784\",\"time\":1770112845273," \
	"\"messaging\":[{\"sender\":{\"id\":\"734\"},\"recipient\":{\"id\":\"1784\"}," \
	"\"timestamp\":1770112845123," item "}]}]}"

static const char *ex(const struct ig_wh_event *e, const char *k)
{
	const char *s = json_string_value(json_object_get(e->extra, k));

	return s ? s : "";
}

int main(void)
{
	struct ig_wh_policy pol;
	unsigned char mac[32];
	char hdr[80], hex[65];
	const char *which;
	const char *body = "{\"object\":\"instagram\",\"entry\":[]}";

	/* --- a text message */
	is_int(parse(MSG("\"message\":{\"mid\":\"m1\",\"text\":\"Ciao!\"}")), 0, "text message parses");
	is_int(d.n, 1, "one event");
	is_str(ig_wh_type_name(d.ev[0].type), "message", "type message");
	is_str(d.ev[0].account, "1784", "account is entry id");
	is_str(d.ev[0].participant, "734", "participant is sender");
	is_str(d.ev[0].text, "Ciao!", "text");
	is_int(d.ev[0].at, 1770112845, "ms timestamp normalised to seconds");
	is_str(d.ev[0].key, "1784|m|m1", "message key is account + mid");
	is_str(d.ev[0].kind, "message", "kind message");

	/* --- NUL inside ids and text (issue 10): refused, never cut */
	is_int(parse(MSG("\"message\":{\"mid\":\"m\\u0000one\",\"text\":\"a\"}")), 0,
	       "a mid with a NUL parses as a delivery");
	is_str(ig_wh_type_name(d.ev[0].type), "invalid", "…the event is invalid");
	ok(strstr(d.ev[0].reason, "'message.mid' contains a NUL character") != NULL,
	   "…the reason names the member: %s", d.ev[0].reason);
	ok(d.ev[0].key == NULL, "…no dedup key (so 'm\\u0000two' is never its duplicate)");
	is_int(parse(MSG("\"message\":{\"mid\":\"m3\",\"text\":\"first\\u0000 hidden tail\"}")), 0,
	       "a text with a NUL parses as a delivery");
	is_str(ig_wh_type_name(d.ev[0].type), "invalid", "…refused rather than stored cut at the NUL");
	ok(strstr(d.ev[0].reason, "'message.text'") != NULL, "…names message.text");
	is_int(parse(MSG("\"reaction\":{\"mid\":\"m\\u0000x\",\"action\":\"react\"}")), 0,
	       "a reaction whose mid holds a NUL");
	is_str(ig_wh_type_name(d.ev[0].type), "invalid", "…is invalid too");
	is_int(parse("{\"object\":\"instagram\",\"entry\":[{\"id\":\"1784\",\"time\":1,\"changes\":"
		     "[{\"field\":\"comments\",\"value\":{\"id\":\"c\\u00001\",\"text\":\"x\","
		     "\"from\":{\"id\":\"9\",\"username\":\"u\"},\"media\":{\"id\":\"5\"}}}]}]}"), 0,
	       "a comment id with a NUL");
	is_str(ig_wh_type_name(d.ev[0].type), "invalid", "…is invalid");
	ok(strstr(d.ev[0].reason, "'id' contains a NUL") != NULL, "…names the id: %s", d.ev[0].reason);
	is_int(parse(MSG("\"message\":{\"mid\":\"m4\",\"text\":\"plain\"}")), 0, "a clean message");
	is_str(ig_wh_type_name(d.ev[0].type), "message", "…is still a message");

	/* --- an echo: the account is the sender */
	parse("{\"object\":\"instagram\",\"entry\":[{\"id\":\"1784\",\"time\":1,\"messaging\":[{\"sender\":{\"id\":\"1784\"},"
	      "\"recipient\":{\"id\":\"734\"},\"timestamp\":1770112850,\"message\":{\"mid\":\"e1\",\"text\":\"hi...\",\"is_echo\":true}}]}]}");
	is_str(ig_wh_type_name(d.ev[0].type), "echo", "is_echo → echo");
	is_str(d.ev[0].account, "1784", "echo account = sender");
	is_str(d.ev[0].participant, "734", "echo participant = recipient");
	is_int(d.ev[0].at, 1770112850, "seconds timestamp kept as seconds");

	/* --- attachments: share dropped when ig_post is there, media ids unified */
	parse(MSG("\"message\":{\"mid\":\"m2\",\"attachments\":[{\"type\":\"share\",\"payload\":{\"url\":\"u\"}},"
		  "{\"type\":\"ig_post\",\"payload\":{\"url\":\"u\",\"title\":\"T\",\"ig_post_media_id\":\"179\"}},"
		  "{\"type\":\"ig_reel\",\"payload\":{\"url\":\"r\",\"reel_video_id\":\"182\"}},{\"type\":\"ephemeral\"}]}"));
	is_int(json_array_size(d.ev[0].attachments), 3, "legacy share dropped beside ig_post");
	is_str(json_string_value(json_object_get(json_array_get(d.ev[0].attachments, 0), "media_id")), "179",
	       "ig_post media_id");
	is_str(json_string_value(json_object_get(json_array_get(d.ev[0].attachments, 1), "media_id")), "182",
	       "ig_reel media_id from reel_video_id");
	ok(!json_object_get(json_array_get(d.ev[0].attachments, 2), "url"), "ephemeral has no url");

	/* --- kinds */
	parse(MSG("\"message\":{\"mid\":\"m3\",\"text\":\"x\",\"reply_to\":{\"story\":{\"url\":\"u\",\"id\":\"s\"}}}"));
	is_str(d.ev[0].kind, "story_reply", "story reply kind");
	ok(json_object_get(d.ev[0].extra, "reply_to") != NULL, "reply_to kept");
	parse(MSG("\"message\":{\"mid\":\"m4\",\"text\":\"x\",\"reply_to\":{\"mid\":\"m1\"}}"));
	is_str(d.ev[0].kind, "reply", "inline reply kind");
	parse(MSG("\"message\":{\"mid\":\"m5\",\"text\":\"Track\",\"quick_reply\":{\"payload\":\"QR\"}}"));
	is_str(d.ev[0].kind, "quick_reply", "quick reply kind");
	is_str(ex(&d.ev[0], "quick_reply"), "QR", "quick reply payload");
	parse(MSG("\"message\":{\"mid\":\"m6\",\"attachments\":[{\"type\":\"story_mention\",\"payload\":{\"url\":\"u\"}}]}"));
	is_str(d.ev[0].kind, "story_mention", "story mention kind");
	parse(MSG("\"message\":{\"mid\":\"m7\",\"is_unsupported\":true}"));
	is_str(d.ev[0].kind, "unsupported", "unsupported kind");
	parse(MSG("\"message\":{\"mid\":\"m8\",\"is_deleted\":true}"));
	is_str(ig_wh_type_name(d.ev[0].type), "delete", "is_deleted → delete");
	parse(MSG("\"message_edit\":{\"mid\":\"m1\",\"text\":\"new\",\"num_edit\":2}"));
	is_str(ig_wh_type_name(d.ev[0].type), "edit", "message_edit → edit");
	is_int(json_integer_value(json_object_get(d.ev[0].extra, "num_edit")), 2, "num_edit kept");
	parse(MSG("\"reaction\":{\"mid\":\"m1\",\"action\":\"unreact\"}"));
	is_str(ig_wh_type_name(d.ev[0].type), "reaction", "reaction");
	is_str(ex(&d.ev[0], "action"), "unreact", "unreact without emoji");
	parse(MSG("\"read\":{\"mid\":\"m1\"}"));
	is_str(ig_wh_type_name(d.ev[0].type), "read", "read");
	parse(MSG("\"postback\":{\"mid\":\"p1\",\"title\":\"Hours\",\"payload\":\"H\"}"));
	is_str(ig_wh_type_name(d.ev[0].type), "postback", "postback");
	is_str(d.ev[0].text, "Hours", "postback title as text");
	parse(MSG("\"referral\":{\"ref\":\"r\",\"source\":\"ADS\",\"ad_id\":\"9\"}"));
	is_str(ig_wh_type_name(d.ev[0].type), "referral", "referral");
	parse(MSG("\"optin\":{\"type\":\"notification_messages\",\"payload\":\"p\"}"));
	is_str(ig_wh_type_name(d.ev[0].type), "optin", "optin");
	parse(MSG("\"pass_thread_control\":{\"new_owner_app_id\":263902037430900}"));
	is_str(ig_wh_type_name(d.ev[0].type), "handover", "pass_thread_control → handover");
	is_str(ex(&d.ev[0], "new_owner"), "263902037430900", "integer app id kept as string");
	parse(MSG("\"game_play\":{\"score\":3}"));
	is_str(ig_wh_type_name(d.ev[0].type), "unknown", "unknown kind is kept");
	is_str(d.ev[0].reason, "unknown event kind 'game_play'", "unknown kind reason");

	/* --- standby */
	parse("{\"object\":\"page\",\"entry\":[{\"id\":\"108\",\"time\":1,\"standby\":[{\"sender\":{\"id\":\"6\"},"
	      "\"recipient\":{\"id\":\"108\"},\"timestamp\":1,\"message\":{\"mid\":\"s1\",\"text\":\"t\"}}]}]}");
	ok(d.ev[0].standby, "standby flagged");

	/* --- changes: comments, mentions, feed, flattened, wrapped DMs, seconds */
	parse("{\"object\":\"instagram\",\"entry\":[{\"id\":\"1784\",\"time\":1770113100,\"changes\":["
	      "{\"field\":\"comments\",\"value\":{\"id\":\"c1\",\"from\":{\"id\":\"9\",\"username\":\"ana\"},\"text\":\"hi\","
	      "\"media\":{\"id\":\"m\",\"media_product_type\":\"FEED\"}}},"
	      "{\"field\":\"mentions\",\"value\":{\"media_id\":\"m2\"}},"
	      "{\"field\":\"comments\",\"value\":{\"comment_id\":\"c2\",\"from\":{\"id\":\"1784\",\"self_ig_scoped_id\":\"5\"}}}]}]}");
	is_int(d.n, 3, "three changes");
	is_str(ig_wh_type_name(d.ev[0].type), "comment", "comment");
	is_str(d.ev[0].key, "1784|comments|c1|1770113100000", "change key: field + id + time");
	is_int(d.ev[0].at, 1770113100, "entry time in seconds");
	is_str(ig_wh_type_name(d.ev[1].type), "mention", "mention");
	is_str(d.ev[1].mid, "m2", "caption mention keyed by media id");
	ok(json_is_true(json_object_get(d.ev[2].extra, "own")), "own comment via self_ig_scoped_id");
	is_str(d.ev[2].mid, "c2", "comment_id accepted for id");
	parse("{\"object\":\"instagram\",\"entry\":[{\"id\":\"1784\",\"time\":1,\"field\":\"live_comments\","
	      "\"value\":{\"id\":\"c3\",\"from\":{\"id\":\"9\"},\"text\":\"x\"}}]}");
	is_int(d.n, 1, "flattened change parsed");
	ok(d.ev[0].flattened && d.ev[0].type == IG_WH_COMMENT, "flattened live comment");
	parse("{\"object\":\"instagram\",\"entry\":[{\"id\":\"1784\",\"time\":1,\"changes\":[{\"field\":\"messages\","
	      "\"value\":{\"sender\":{\"id\":\"9\"},\"recipient\":{\"id\":\"1784\"},\"timestamp\":5,\"message\":{\"mid\":\"w\",\"text\":\"t\"}}}]}]}");
	is_str(ig_wh_type_name(d.ev[0].type), "message", "message wrapped in changes[]");
	parse("{\"object\":\"page\",\"entry\":[{\"id\":\"108\",\"time\":1,\"changes\":[{\"field\":\"feed\",\"value\":"
	      "{\"item\":\"comment\",\"verb\":\"add\",\"comment_id\":\"c\",\"message\":\"blue?\",\"from\":{\"id\":\"7\",\"name\":\"M\"},"
	      "\"created_time\":\"2026-02-03T10:43:18+0000\"}},{\"field\":\"feed\",\"value\":{\"item\":\"like\",\"verb\":\"add\",\"post_id\":\"p\"}}]}]}");
	is_str(ig_wh_type_name(d.ev[0].type), "comment", "feed comment → comment");
	is_int(d.ev[0].at, 1770115398, "Graph '+0000' time parsed");
	is_str(ig_wh_type_name(d.ev[1].type), "feed", "feed like → feed");
	parse("{\"object\":\"instagram\",\"entry\":[{\"id\":\"1784\",\"time\":1,\"changes\":[{\"field\":\"new_field\",\"value\":{}}]}]}");
	is_str(d.ev[0].reason, "unknown change field 'new_field'", "unknown change field reported");

	/* --- bad input */
	ok(parse("{\"object\":\"instagram\"") == IG_EX_DATAERR, "truncated JSON refused");
	ok(strstr(err.msg, "invalid JSON") != NULL, "message says invalid JSON");
	is_int(parse("[1]"), IG_EX_DATAERR, "array refused");
	is_str(err.msg, "the delivery is not a JSON object", "not an object message");
	is_int(parse("{\"entry\":[]}"), IG_EX_DATAERR, "missing object refused");
	is_int(parse("{\"object\":\"instagram\",\"entry\":{}}"), IG_EX_DATAERR, "entry not array refused");
	is_int(parse("{\"object\":\"instagram\",\"entry\":[],\"object\":\"page\"}"), IG_EX_DATAERR, "duplicate keys refused");
	is_int(parse("{\"object\":\"instagram\",\"entry\":[{\"id\":\"1\",\"time\":1,\"messaging\":[{\"sender\":{\"id\":\"2\"},"
		     "\"message\":{\"mid\":\"m\",\"text\":\"\xff\"}}]}]}"), IG_EX_DATAERR, "invalid UTF-8 refused");
	{
		char *deep = malloc(70000);
		int i;

		strcpy(deep, "{\"object\":\"instagram\",\"entry\":");
		for (i = 0; i < 30000; i++)
			strcat(deep + strlen(deep) - (i ? 1 : 0), "[");
		is_int(parse(deep), IG_EX_DATAERR, "deep nesting refused without a crash");
		free(deep);
	}
	parse(MSG("\"message\":{\"mid\":\"m\",\"text\":3}"));
	is_str(ig_wh_type_name(d.ev[0].type), "invalid", "wrong type → invalid event");
	ok(strstr(d.ev[0].reason, "'message.text' is not a string") != NULL, "reason names the member");
	parse(MSG("\"message\":{\"text\":\"no mid\"}"));
	ok(strstr(d.ev[0].reason, "'message.mid' is missing") != NULL, "missing mid → invalid");
	parse("{\"object\":\"instagram\",\"entry\":[{\"id\":\"1\",\"time\":1,\"messaging\":[{\"recipient\":{\"id\":\"1\"},\"message\":{\"mid\":\"x\"}},"
	      "{\"sender\":{\"id\":\"2\"},\"recipient\":{\"id\":\"1\"},\"timestamp\":1,\"message\":{\"mid\":\"ok\"}}]}]}");
	ok(d.n == 2 && d.ev[0].type == IG_WH_INVALID && d.ev[1].type == IG_WH_MESSAGE,
	   "a bad event does not stop the next");
	parse("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\",\"time\":1,\"changes\":[]}]}");
	is_str(d.ev[0].reason, "unknown object 'whatsapp_business_account'", "unknown object kept as unknown");

	/* --- dead-letter round trip */
	parse(MSG("\"message\":{\"mid\":\"rt\",\"text\":\"x\"}"));
	{
		json_t *mini = ig_webhook_event_delivery(&d, &d.ev[0]);
		char *s = json_dumps(mini, JSON_COMPACT);
		char *key = strdup(d.ev[0].key);

		parse(s);
		is_str(d.ev[0].key, key, "a dead letter parses back to the same event");
		free(s);
		free(key);
		json_decref(mini);
	}

	/* --- the marker */
	ok(ig_webhook_has_marker("..."), "'...' is the marker");
	ok(ig_webhook_has_marker("I'll take it from here... "), "ends with '...' (trailing space)");
	ok(ig_webhook_has_marker("ok\xE2\x80\xA6"), "ends with the ellipsis character");
	ok(!ig_webhook_has_marker("...and then"), "leading dots are not the marker");
	ok(!ig_webhook_has_marker("thanks."), "one dot is not the marker");
	ok(!ig_webhook_has_marker(NULL), "no text, no marker");

	/* --- the signature policy */
	ig_wh_policy_init(&pol);
	is_int(ig_wh_policy_parse(&pol, "instagram:ig_app,app page:app", &err), 0, "per-object policy parses");
	is_int(pol.nterm, 2, "two terms");
	is_int(ig_wh_policy_parse(&pol, "app,bogus", &err), IG_EX_CONFIG, "unknown secret refused");
	is_str(err.msg, "webhook_secrets: unknown secret 'bogus' (app, ig_app or previous_app)", "…with its name");
	is_int(ig_wh_policy_parse(&pol, "page:app page:ig_app", &err), IG_EX_CONFIG, "object named twice refused");
	is_int(ig_wh_policy_parse(&pol, "", &err), IG_EX_CONFIG, "empty policy refused");
	ig_wh_policy_parse(&pol, "instagram:ig_app page:app", &err);
	ig_wh_policy_set_secret(&pol, IG_WH_APP, "app-secret");
	ig_wh_policy_set_secret(&pol, IG_WH_IG_APP, "ig-secret");
	ig_hmac_sha256("ig-secret", 9, body, strlen(body), mac);
	ig_hex(mac, 32, hex);
	snprintf(hdr, sizeof(hdr), "sha256=%s", hex);
	is_int(ig_wh_verify(&pol, "instagram", hdr, NULL, body, strlen(body), &which), IG_SIG_VALID,
	       "instagram delivery signed with ig_app secret is valid");
	is_str(which, "ig_app", "which secret matched");
	is_int(ig_wh_verify(&pol, "page", hdr, NULL, body, strlen(body), NULL), IG_SIG_INVALID,
	       "the same signature is not valid for page (app secret only)");
	is_int(ig_wh_verify(&pol, NULL, hdr, NULL, body, strlen(body), NULL), IG_SIG_VALID,
	       "unparsable bodies try every secret");
	hdr[10] ^= 1;
	is_int(ig_wh_verify(&pol, "instagram", hdr, NULL, body, strlen(body), NULL), IG_SIG_INVALID,
	       "one flipped digit is invalid");
	is_int(ig_wh_verify(&pol, "instagram", NULL, NULL, body, strlen(body), NULL), IG_SIG_MISSING,
	       "no header is missing");
	{
		unsigned char m1[20];
		char h1[41], s1[50];

		ig_hmac_sha1("ig-secret", 9, body, strlen(body), m1);
		ig_hex(m1, 20, h1);
		snprintf(s1, sizeof(s1), "sha1=%s", h1);
		is_int(ig_wh_verify(&pol, "instagram", NULL, s1, body, strlen(body), NULL), IG_SIG_MISSING,
		       "SHA-1 ignored without legacy_sha1");
		pol.legacy_sha1 = 1;
		is_int(ig_wh_verify(&pol, "instagram", NULL, s1, body, strlen(body), NULL), IG_SIG_VALID,
		       "SHA-1 accepted with legacy_sha1");
		is_int(ig_wh_verify(&pol, "instagram", s1, NULL, body, strlen(body), NULL), IG_SIG_INVALID,
		       "a sha1= value in the -256 header is invalid");
	}
	ig_wh_policy_clear(&pol);
	ig_webhook_release(&d);
	return done_testing();
}
