/* lib/webhook.c — see lib/webhook.h.  Section numbers cite
 * shared/reference/meta-graph-api.md. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "igtime.h"
#include "jsonio.h"
#include "webhook.h"

static const char *const type_names[] = {
	"message", "echo", "delete", "edit", "reaction", "read", "delivery", "postback",
	"referral", "optin", "handover", "comment", "mention", "feed", "story_insights",
	"unknown", "invalid",
};

const char *ig_wh_type_name(enum ig_wh_type t)
{
	return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "?";
}

/* ------------------------------------------------------------ helpers */

static struct ig_wh_event *new_event(struct ig_wh_delivery *d, enum ig_wh_type type,
				     enum ig_wh_level level, int entry, int index,
				     json_t *raw, json_t *entry_obj)
{
	struct ig_wh_event *e;

	if (d->n == d->alloc) {
		size_t na = d->alloc ? 2 * d->alloc : 8;
		struct ig_wh_event *nv = realloc(d->ev, na * sizeof(*nv));

		if (!nv)
			return NULL;
		d->ev = nv;
		d->alloc = na;
	}
	e = &d->ev[d->n];
	memset(e, 0, sizeof(*e));
	e->extra = json_object();
	if (!e->extra)
		return NULL;
	d->n++;
	e->type = type;
	e->level = level;
	e->entry = entry;
	e->index = index;
	e->raw = raw;
	e->entry_obj = entry_obj;
	e->kind = "";
	return e;
}

static void release_event(struct ig_wh_event *e)
{
	json_decref(e->attachments);
	json_decref(e->extra);
	free(e->key);
	e->attachments = e->extra = NULL;
	e->key = NULL;
}

__attribute__((format(printf, 2, 3)))
static void set_reason(struct ig_wh_event *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
}

/* Turn e into an invalid event with a reason (its partial fields stay for
 * the report; its key is dropped). */
__attribute__((format(printf, 2, 3)))
static void invalid(struct ig_wh_event *e, const char *fmt, ...)
{
	va_list ap;

	e->type = IG_WH_INVALID;
	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
	free(e->key);
	e->key = NULL;
}

__attribute__((format(printf, 2, 3)))
static void set_key(struct ig_wh_event *e, const char *fmt, ...)
{
	va_list ap;

	free(e->key);
	va_start(ap, fmt);
	if (vasprintf(&e->key, fmt, ap) < 0)
		e->key = NULL;
	va_end(ap);
}

/* An id (string or integer, §0: "always treat IDs as strings") into buf;
 * 1 found, 0 absent, -1 present but of the wrong type or too long. */
static int get_id(const json_t *obj, const char *key, char buf[IG_WH_ID_MAX])
{
	const json_t *v = json_object_get(obj, key);

	buf[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		size_t n = json_string_length(v);

		if (n == 0 || n >= IG_WH_ID_MAX || memchr(json_string_value(v), '\0', n))
			return -1;
		memcpy(buf, json_string_value(v), n + 1);
		return 1;
	}
	if (json_is_integer(v)) {
		snprintf(buf, IG_WH_ID_MAX, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return 1;
	}
	return -1;
}

/* An optional string member: 1 present (*out set), 0 absent or null, -1 wrong type. */
static int get_str(const json_t *obj, const char *key, const char **out)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	return 1;
}

/* A Meta time: integer (or real) in s or ms, or a decimal string, or an
 * ISO-8601 string (Page feed created_time, §2.5).  Milliseconds out;
 * 1 ok, 0 absent, -1 wrong type. */
static int get_time_ms(const json_t *obj, const char *key, int64_t *ms)
{
	const json_t *v = json_object_get(obj, key);
	int64_t t;

	*ms = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v))
		t = json_integer_value(v);
	else if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 1e15)
		t = (int64_t)json_real_value(v);
	else if (json_is_string(v)) {
		/* Graph API text times end in "+0000", which ig_time_parse does
		 * not take: rewrite that suffix as "Z". */
		char buf[40];
		size_t n = json_string_length(v);

		if (n < 5 || n >= sizeof(buf))
			return -1;
		memcpy(buf, json_string_value(v), n + 1);
		if (!strcmp(buf + n - 5, "+0000"))
			strcpy(buf + n - 5, "Z");
		if (ig_time_parse(buf, &t))
			return -1;
	} else
		return -1;
	if (t < 0 || t > 100000000000000LL)
		return -1;
	/* §1.3: "> 1e12 ⇒ ms" */
	*ms = t > 1000000000000LL ? t : t * 1000;
	return 1;
}

static void put_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

/* Copy member k of src into dst when present (new reference kept by dst). */
static void copy_member(json_t *dst, const char *k, const json_t *src, const char *sk)
{
	json_t *v = json_object_get(src, sk ? sk : k);

	if (v && !json_is_null(v))
		json_object_set(dst, k, v);
}

/* ------------------------------------------------------------ attachments */

/*
 * Unified attachment: {type, url?, title?, media_id?} (§2.2).  Payload keys
 * differ by type: ig_post carries ig_post_media_id, ig_reel reel_video_id,
 * Messenger stickers sticker_id.  0 ok, -1 malformed (reason in e).
 */
static int norm_attachments(struct ig_wh_event *e, const json_t *arr)
{
	json_t *out = json_array();
	size_t i;
	int have_ig_post = 0;
	const json_t *a;

	if (!out)
		return -1;
	json_array_foreach(arr, i, a) {
		const char *type, *url = NULL, *title = NULL;
		char media[IG_WH_ID_MAX] = "";
		const json_t *p;
		json_t *o;

		if (!json_is_object(a) || get_str(a, "type", &type) != 1 || !*type) {
			invalid(e, "'message.attachments[%zu]' has no string 'type'", i);
			json_decref(out);
			return -1;
		}
		p = json_object_get(a, "payload");
		if (p && !json_is_null(p) && !json_is_object(p)) {
			invalid(e, "'message.attachments[%zu].payload' is not an object", i);
			json_decref(out);
			return -1;
		}
		if (json_is_object(p)) {
			if (get_str(p, "url", &url) < 0 || get_str(p, "title", &title) < 0
			    || get_id(p, "ig_post_media_id", media) < 0
			    || (!media[0] && get_id(p, "reel_video_id", media) < 0)
			    || (!media[0] && get_id(p, "sticker_id", media) < 0)) {
				invalid(e, "'message.attachments[%zu].payload' has a member of the wrong type", i);
				json_decref(out);
				return -1;
			}
		}
		if (!strcmp(type, "ig_post"))
			have_ig_post = 1;
		o = json_object();
		json_object_set_new(o, "type", json_string(type));
		put_str(o, "url", url);
		put_str(o, "title", title);
		if (media[0])
			json_object_set_new(o, "media_id", json_string(media));
		json_array_append_new(out, o);
	}
	/* §2.2: since Nov 2025 a post share comes as both a legacy "share" and an
	 * "ig_post"; keep the ig_post only. */
	if (have_ig_post) {
		for (i = json_array_size(out); i-- > 0;)
			if (!strcmp(ig_json_str(json_array_get(out, i), "type"), "share"))
				json_array_remove(out, i);
	}
	e->attachments = out;
	return 0;
}

/* ------------------------------------------------------------ messaging */

/*
 * NUL (U+0000) inside a string: C strings would cut it there — two mids
 * "m\u0000one" and "m\u0000two" would become one event and "first\u0000
 * tail" would be stored as "first".  Such an item is refused whole (an
 * invalid event: raw kept, reported) rather than cut in silence.  The path
 * of the first string holding one goes into path ("message.mid"); 1 found.
 */
static int find_nul(const json_t *v, char *path, size_t n, size_t at)
{
	if (json_is_string(v))
		return memchr(json_string_value(v), '\0', json_string_length(v)) != NULL;
	if (json_is_object(v)) {
		const char *k;
		json_t *m;

		json_object_foreach((json_t *)v, k, m) {
			int w = snprintf(path + at, n - at, "%s%s", at ? "." : "", k);
			size_t next = at + (w > 0 ? (size_t)w : 0);

			if (next >= n)
				next = n - 1;
			if (find_nul(m, path, n, next))
				return 1;
			path[at] = '\0';
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *m;

		json_array_foreach(v, i, m) {
			int w = snprintf(path + at, n - at, "[%zu]", i);
			size_t next = at + (w > 0 ? (size_t)w : 0);

			if (next >= n)
				next = n - 1;
			if (find_nul(m, path, n, next))
				return 1;
			path[at] = '\0';
		}
	}
	return 0;
}

/* 1 (and e invalid) when the item holds a NUL anywhere. */
static int refuse_nul(const struct ig_wh_delivery *d, struct ig_wh_event *e, const json_t *item,
		      const char *where)
{
	char path[160] = "";

	/* the parser said whether the body holds a NUL at all: most do not */
	if (!d->nul || !find_nul(item, path, sizeof(path), 0))
		return 0;
	invalid(e, "%s: '%s' contains a NUL character (\\u0000): refused, an id or text is never cut",
		where, path);
	return 1;
}

/* The handler of one messaging event kind: v is the kind's member (never
 * NULL), key its name; e has account, participant and times set. */
typedef void norm_kind_fn(struct ig_wh_event *e, json_t *v, const char *key, int echo,
			  const char *where);

static void norm_message(struct ig_wh_event *e, json_t *v, const char *key, int echo,
			 const char *where)
{
	const char *mid, *text, *s;
	char tmp[IG_WH_ID_MAX];
	json_t *att, *rt, *qr, *ref;

	(void)key;
	e->kind = "message";
	if (!json_is_object(v)) {
		invalid(e, "%s: 'message' is not an object", where);
		return;
	}
	if (get_str(v, "mid", &mid) != 1 || !*mid) {
		invalid(e, "%s: 'message.mid' is missing or not a string", where);
		return;
	}
	e->mid = mid;
	set_key(e, "%s|m|%s", e->account, mid);
	if (json_is_true(json_object_get(v, "is_deleted"))) {
		e->type = IG_WH_DELETE;
		return;
	}
	e->type = echo ? IG_WH_ECHO : IG_WH_MESSAGE;
	if (get_str(v, "text", &text) < 0) {
		invalid(e, "%s: 'message.text' is not a string", where);
		return;
	}
	e->text = text;
	att = json_object_get(v, "attachments");
	if (att && !json_is_null(att)) {
		if (!json_is_array(att)) {
			invalid(e, "%s: 'message.attachments' is not an array", where);
			return;
		}
		if (norm_attachments(e, att))
			return;
	}
	if (json_is_true(json_object_get(v, "is_unsupported"))) {
		if (!e->attachments)
			e->attachments = json_array();
		json_array_append_new(e->attachments, json_pack("{s:s}", "type", "unsupported"));
		e->kind = "unsupported";
	}
	rt = json_object_get(v, "reply_to");
	if (rt && !json_is_null(rt)) {
		json_t *story = json_object_get(rt, "story");

		if (!json_is_object(rt) || (story && !json_is_object(story))) {
			invalid(e, "%s: 'message.reply_to' is not an object", where);
			return;
		}
		json_object_set(e->extra, "reply_to", rt);
		e->kind = story ? "story_reply" : "reply";
	}
	qr = json_object_get(v, "quick_reply");
	if (qr && !json_is_null(qr)) {
		if (!json_is_object(qr) || get_str(qr, "payload", &s) < 0) {
			invalid(e, "%s: 'message.quick_reply' is not an object with a string payload", where);
			return;
		}
		put_str(e->extra, "quick_reply", s);
		e->kind = "quick_reply";
	}
	ref = json_object_get(v, "referral");
	if (ref && !json_is_null(ref)) {
		if (!json_is_object(ref)) {
			invalid(e, "%s: 'message.referral' is not an object", where);
			return;
		}
		json_object_set(e->extra, "referral", ref);
	}
	if (e->attachments && !strcmp(e->kind, "message")) {
		const char *t0 = ig_json_str(json_array_get(e->attachments, 0), "type");

		if (t0 && !strcmp(t0, "story_mention"))
			e->kind = "story_mention";
	}
	if (echo) {
		if (get_id(v, "app_id", tmp) == 1)
			json_object_set_new(e->extra, "app_id", json_string(tmp));
		copy_member(e->extra, "metadata", v, NULL);
	}
	if (json_is_true(json_object_get(v, "is_self")))
		json_object_set_new(e->extra, "is_self", json_true());
}

static void norm_edit(struct ig_wh_event *e, json_t *v, const char *key, int echo,
		      const char *where)
{
	const char *mid, *text;
	long long num = 0;

	(void)key;
	(void)echo;
	e->type = IG_WH_EDIT;
	e->kind = "message_edit";
	if (!json_is_object(v) || get_str(v, "mid", &mid) != 1 || !*mid) {
		invalid(e, "%s: 'message_edit.mid' is missing or not a string", where);
		return;
	}
	if (get_str(v, "text", &text) < 0) {
		invalid(e, "%s: 'message_edit.text' is not a string", where);
		return;
	}
	if (json_object_get(v, "num_edit") && !json_is_integer(json_object_get(v, "num_edit"))) {
		invalid(e, "%s: 'message_edit.num_edit' is not an integer", where);
		return;
	}
	num = ig_json_int(v, "num_edit", 0);
	e->mid = mid;
	e->text = text;
	json_object_set_new(e->extra, "num_edit", json_integer(num));
	set_key(e, "%s|edit|%s|%lld|%lld", e->account, mid, num, (long long)e->ts_ms);
}

static void norm_reaction(struct ig_wh_event *e, json_t *v, const char *key, int echo,
			  const char *where)
{
	const char *mid, *action, *reaction, *emoji;

	(void)key;
	(void)echo;
	e->type = IG_WH_REACTION;
	e->kind = "reaction";
	if (!json_is_object(v) || get_str(v, "mid", &mid) != 1 || get_str(v, "action", &action) != 1
	    || get_str(v, "reaction", &reaction) < 0 || get_str(v, "emoji", &emoji) < 0) {
		invalid(e, "%s: 'reaction' needs string 'mid' and 'action'", where);
		return;
	}
	e->mid = mid;
	put_str(e->extra, "action", action);
	put_str(e->extra, "reaction", reaction);
	put_str(e->extra, "emoji", emoji);
	set_key(e, "%s|reaction|%s|%s|%s|%lld", e->account, mid, e->participant, action,
		(long long)e->ts_ms);
}

static void norm_read(struct ig_wh_event *e, json_t *v, const char *key, int echo,
		      const char *where)
{
	const char *mid;
	int64_t wm = 0;

	(void)key;
	(void)echo;
	e->type = IG_WH_READ;
	e->kind = "read";
	if (!json_is_object(v) || get_str(v, "mid", &mid) < 0 || get_time_ms(v, "watermark", &wm) < 0) {
		invalid(e, "%s: 'read' needs a string 'mid' or a 'watermark'", where);
		return;
	}
	e->mid = mid;
	if (wm)
		json_object_set_new(e->extra, "watermark", json_integer(wm));
	set_key(e, "%s|read|%s|%s|%lld", e->account, e->participant, mid ? mid : "", (long long)wm);
}

static void norm_delivery(struct ig_wh_event *e, json_t *v, const char *key, int echo,
			  const char *where)
{
	int64_t wm = 0;
	json_t *mids;

	(void)key;
	(void)echo;
	e->type = IG_WH_DELIVERY;
	e->kind = "delivery";
	mids = json_object_get(v, "mids");
	if (!json_is_object(v) || get_time_ms(v, "watermark", &wm) < 0 || (mids && !json_is_array(mids))) {
		invalid(e, "%s: 'delivery' needs a 'watermark' and an array 'mids'", where);
		return;
	}
	if (mids)
		json_object_set(e->extra, "mids", mids);
	json_object_set_new(e->extra, "watermark", json_integer(wm));
	set_key(e, "%s|delivery|%s|%lld", e->account, e->participant, (long long)wm);
}

static void norm_postback(struct ig_wh_event *e, json_t *v, const char *key, int echo,
			  const char *where)
{
	const char *mid, *title, *payload;
	json_t *ref;

	(void)key;
	(void)echo;
	e->type = IG_WH_POSTBACK;
	e->kind = "postback";
	if (!json_is_object(v) || get_str(v, "mid", &mid) < 0 || get_str(v, "title", &title) < 0
	    || get_str(v, "payload", &payload) < 0) {
		invalid(e, "%s: 'postback' members must be strings", where);
		return;
	}
	/* §2.3: postbacks on the standby channel lack the payload */
	e->mid = mid;
	e->text = title;
	put_str(e->extra, "payload", payload);
	ref = json_object_get(v, "referral");
	if (json_is_object(ref))
		json_object_set(e->extra, "referral", ref);
	if (mid && *mid)
		set_key(e, "%s|m|%s", e->account, mid);
	else
		set_key(e, "%s|postback|%s|%lld|%s", e->account, e->participant, (long long)e->ts_ms,
			payload ? payload : "");
}

/* referral and optin: the object is kept whole. */
static void norm_object_kind(struct ig_wh_event *e, json_t *v, const char *key, int echo,
			     const char *where)
{
	(void)echo;
	e->type = !strcmp(key, "optin") ? IG_WH_OPTIN : IG_WH_REFERRAL;
	e->kind = key;
	if (!json_is_object(v)) {
		invalid(e, "%s: '%s' is not an object", where, key);
		return;
	}
	json_object_set(e->extra, key, v);
	set_key(e, "%s|%s|%s|%lld", e->account, key, e->participant, (long long)e->ts_ms);
}

static void norm_handover(struct ig_wh_event *e, json_t *v, const char *key, int echo,
			  const char *where)
{
	char tmp[IG_WH_ID_MAX];

	(void)echo;
	e->type = IG_WH_HANDOVER;
	e->kind = key;
	if (!json_is_object(v)) {
		invalid(e, "%s: '%s' is not an object", where, key);
		return;
	}
	json_object_set_new(e->extra, "action", json_string(key));
	if (get_id(v, "previous_owner_app_id", tmp) == 1)
		json_object_set_new(e->extra, "previous_owner", json_string(tmp));
	if (get_id(v, "new_owner_app_id", tmp) == 1)
		json_object_set_new(e->extra, "new_owner", json_string(tmp));
	if (get_id(v, "requested_owner_app_id", tmp) == 1)
		json_object_set_new(e->extra, "requested_owner", json_string(tmp));
	copy_member(e->extra, "metadata", v, NULL);
	set_key(e, "%s|%s|%s|%lld", e->account, key, e->participant, (long long)e->ts_ms);
}

/* Anything else (policy enforcement, game plays, account linking, a field
 * Meta adds tomorrow): kept and reported, never fatal. */
static void norm_unknown(struct ig_wh_event *e, json_t *it)
{
	const char *k;
	json_t *val;

	e->type = IG_WH_UNKNOWN;
	e->kind = "?";
	json_object_foreach(it, k, val) {
		if (strcmp(k, "sender") && strcmp(k, "recipient") && strcmp(k, "timestamp")) {
			e->kind = k;
			break;
		}
	}
	(void)val;
	set_reason(e, "unknown event kind '%s'", e->kind);
	set_key(e, "%s|unknown|%s|%s|%lld", e->account, e->kind, e->participant, (long long)e->ts_ms);
}

/* The event kinds of a messaging item, in the order they are looked for
 * (§2.2, §2.3): the first member present decides. */
static const struct {
	const char *key;
	norm_kind_fn *fn;
} messaging_kinds[] = {
	{ "message", norm_message },
	{ "message_edit", norm_edit },
	{ "reaction", norm_reaction },
	{ "read", norm_read },
	{ "delivery", norm_delivery },
	{ "postback", norm_postback },
	{ "referral", norm_object_kind },
	{ "optin", norm_object_kind },
	{ "pass_thread_control", norm_handover },
	{ "take_thread_control", norm_handover },
	{ "request_thread_control", norm_handover },
	{ "app_roles", norm_handover },
};

/* sender, recipient, timestamp and who is who; 0, or -1 with e invalid. */
static int norm_parties(struct ig_wh_event *e, json_t *it, const char *entry_id, int64_t entry_ms,
			int *echo, const char *where)
{
	char sender[IG_WH_ID_MAX], recipient[IG_WH_ID_MAX];
	const json_t *so = json_object_get(it, "sender"), *ro = json_object_get(it, "recipient");
	json_t *v;
	int rc;

	if (!json_is_object(so) || get_id(so, "id", sender) != 1) {
		invalid(e, "%s: 'sender.id' is missing or not an id", where);
		return -1;
	}
	if (ro && !json_is_object(ro)) {
		invalid(e, "%s: 'recipient' is not an object", where);
		return -1;
	}
	if (get_id(ro, "id", recipient) < 0) {
		invalid(e, "%s: 'recipient.id' is not an id", where);
		return -1;
	}
	rc = get_time_ms(it, "timestamp", &e->ts_ms);
	if (rc < 0) {
		invalid(e, "%s: 'timestamp' is not a time", where);
		return -1;
	}
	if (rc == 0)
		e->ts_ms = entry_ms;
	e->at = e->ts_ms / 1000;
	v = json_object_get(it, "message");
	*echo = json_is_object(v) && json_is_true(json_object_get(v, "is_echo"));
	/* the business account, and the customer on the other side */
	ig_copy(e->account, sizeof(e->account), *echo ? sender : (*entry_id ? entry_id : recipient));
	ig_copy(e->participant, sizeof(e->participant), *echo ? recipient : sender);
	if (!e->account[0] || !e->participant[0]) {
		invalid(e, "%s: no account id (entry 'id' and 'recipient.id' are missing)", where);
		return -1;
	}
	return 0;
}

/*
 * One item of entry[].messaging[] or entry[].standby[] (§2.1-2.3).  The
 * account is the entry id (falling back to the recipient); for echoes the
 * sender (§2.1: "business → user (echo): reversed").  The kind is chosen
 * from messaging_kinds.
 */
static void norm_messaging(struct ig_wh_delivery *d, struct ig_wh_event *e, const char *entry_id,
			   int64_t entry_ms, const char *where)
{
	json_t *it = e->raw, *v;
	int echo = 0;
	size_t i;

	(void)d;
	if (!json_is_object(it)) {
		invalid(e, "%s is not an object", where);
		return;
	}
	if (norm_parties(e, it, entry_id, entry_ms, &echo, where) || refuse_nul(d, e, it, where))
		return;
	if (e->standby)
		json_object_set_new(e->extra, "standby", json_true());
	for (i = 0; i < sizeof(messaging_kinds) / sizeof(messaging_kinds[0]); i++) {
		if ((v = json_object_get(it, messaging_kinds[i].key))) {
			messaging_kinds[i].fn(e, v, messaging_kinds[i].key, echo, where);
			return;
		}
	}
	norm_unknown(e, it);
}

/* ------------------------------------------------------------ changes */

/* Change fields that carry a messaging item as their value (the Instagram
 * API's self-messaging and test examples wrap DMs in changes[], §2.4). */
static int messaging_field(const char *f)
{
	static const char *const names[] = {
		"messages", "message_echoes", "message_reactions", "messaging_postbacks",
		"messaging_seen", "message_reads", "message_deliveries", "messaging_referral",
		"messaging_referrals", "messaging_optins", "message_edit", "message_edits",
		"messaging_handover", "messaging_handovers", "standby", NULL
	};
	int i;

	for (i = 0; names[i]; i++)
		if (!strcmp(f, names[i]))
			return 1;
	return 0;
}

static void norm_comment(struct ig_wh_event *e, const json_t *val, const char *field,
			 const char *entry_id, const char *where)
{
	const char *cid = NULL, *text, *parent, *username, *mpt = NULL;
	char from[IG_WH_ID_MAX] = "", media[IG_WH_ID_MAX] = "", self[IG_WH_ID_MAX] = "";
	const json_t *fo, *mo;

	if (get_str(val, "id", &cid) < 0 || (!cid && get_str(val, "comment_id", &cid) < 0) || !cid
	    || !*cid) {
		invalid(e, "%s: '%s' change has no string comment 'id'", where, field);
		return;
	}
	fo = json_object_get(val, "from");
	mo = json_object_get(val, "media");
	if ((fo && !json_is_object(fo)) || (mo && !json_is_object(mo))) {
		invalid(e, "%s: 'from' and 'media' must be objects", where);
		return;
	}
	if (get_str(val, "text", &text) < 0 || get_str(val, "parent_id", &parent) < 0
	    || get_id(fo, "id", from) < 0 || get_str(fo, "username", &username) < 0
	    || get_id(fo, "self_ig_scoped_id", self) < 0 || get_id(mo, "id", media) < 0
	    || get_str(mo, "media_product_type", &mpt) < 0) {
		invalid(e, "%s: a member of the '%s' change has the wrong type", where, field);
		return;
	}
	e->type = IG_WH_COMMENT;
	e->mid = cid;
	e->text = text;
	ig_copy(e->participant, sizeof(e->participant), from);
	json_object_set_new(e->extra, "comment_id", json_string(cid));
	json_object_set_new(e->extra, "field", json_string(field));
	if (media[0])
		json_object_set_new(e->extra, "media_id", json_string(media));
	put_str(e->extra, "media_product_type", mpt);
	put_str(e->extra, "parent_id", parent);
	put_str(e->extra, "username", username);
	/* §2.4: self_ig_scoped_id appears when the business comments on its own media */
	if (self[0] || (from[0] && !strcmp(from, entry_id)))
		json_object_set_new(e->extra, "own", json_true());
	if (mo) {
		copy_member(e->extra, "ad_id", mo, NULL);
		copy_member(e->extra, "ad_title", mo, NULL);
		copy_member(e->extra, "original_media_id", mo, NULL);
	}
	set_key(e, "%s|%s|%s|%lld", e->account, field, cid, (long long)e->ts_ms);
}

/* Page feed (§2.5): item + verb; comments go to the comments table. */
static void norm_feed(struct ig_wh_event *e, const json_t *val, const char *entry_id,
		      const char *where)
{
	const char *item, *verb, *message, *cid, *post, *parent, *name, *rt;
	char from[IG_WH_ID_MAX] = "";
	const json_t *fo = json_object_get(val, "from");
	int64_t created = 0;

	if (get_str(val, "item", &item) != 1 || get_str(val, "verb", &verb) < 0
	    || get_str(val, "message", &message) < 0 || get_str(val, "comment_id", &cid) < 0
	    || get_str(val, "post_id", &post) < 0 || get_str(val, "parent_id", &parent) < 0
	    || get_str(val, "reaction_type", &rt) < 0 || (fo && !json_is_object(fo))
	    || get_id(fo, "id", from) < 0 || get_str(fo, "name", &name) < 0
	    || get_time_ms(val, "created_time", &created) < 0) {
		invalid(e, "%s: 'feed' change needs a string 'item' and well-typed members", where);
		return;
	}
	if (created) {
		e->ts_ms = created;
		e->at = created / 1000;
	}
	ig_copy(e->participant, sizeof(e->participant), from);
	e->text = message;
	put_str(e->extra, "item", item);
	put_str(e->extra, "verb", verb);
	put_str(e->extra, "post_id", post);
	put_str(e->extra, "parent_id", parent);
	put_str(e->extra, "name", name);
	put_str(e->extra, "reaction_type", rt);
	if (!strcmp(item, "comment") && cid && *cid) {
		e->type = IG_WH_COMMENT;
		e->mid = cid;
		json_object_set_new(e->extra, "comment_id", json_string(cid));
		json_object_set_new(e->extra, "field", json_string("feed"));
		if (from[0] && !strcmp(from, entry_id))
			json_object_set_new(e->extra, "own", json_true());
	} else {
		e->type = IG_WH_FEED;
		e->mid = cid ? cid : post;
	}
	set_key(e, "%s|feed|%s|%s|%s|%lld", e->account, item, verb ? verb : "",
		e->mid ? e->mid : "", (long long)e->ts_ms);
}

static void norm_change(struct ig_wh_delivery *d, struct ig_wh_event *e, const char *entry_id,
			int64_t entry_ms, const char *where)
{
	const json_t *ch = e->raw;
	const char *field;
	json_t *val;

	if (!json_is_object(ch)) {
		invalid(e, "%s is not an object", where);
		return;
	}
	if (get_str(ch, "field", &field) != 1 || !*field) {
		invalid(e, "%s: 'field' is missing or not a string", where);
		return;
	}
	e->kind = field;
	val = json_object_get(ch, "value");
	if (!json_is_object(val)) {
		invalid(e, "%s: 'value' of the '%s' change is not an object", where, field);
		return;
	}
	if (!*entry_id) {
		invalid(e, "%s: the entry has no 'id'", where);
		return;
	}
	ig_copy(e->account, sizeof(e->account), entry_id);
	e->ts_ms = entry_ms;
	e->at = entry_ms / 1000;
	/* comment ids and texts too: refused whole, never cut (see find_nul) */
	if (refuse_nul(d, e, val, where))
		return;

	if (messaging_field(field) && json_object_get(val, "sender")) {
		e->raw = val;
		e->level = IG_WH_LVL_MESSAGING;
		norm_messaging(d, e, entry_id, entry_ms, where);
		e->raw = (json_t *)ch;
		e->level = IG_WH_LVL_CHANGE;
		return;
	}
	if (!strcmp(field, "comments") || !strcmp(field, "live_comments")) {
		e->kind = field;
		norm_comment(e, val, field, entry_id, where);
	} else if (!strcmp(field, "mentions") || !strcmp(field, "mention")) {
		const char *cid, *mid;
		char media[IG_WH_ID_MAX];

		if (get_str(val, "comment_id", &cid) < 0 || get_id(val, "media_id", media) < 0) {
			invalid(e, "%s: 'mentions' change needs string ids", where);
			return;
		}
		(void)mid;
		e->type = IG_WH_MENTION;
		e->kind = "mentions";
		if (media[0])
			json_object_set_new(e->extra, "media_id", json_string(media));
		put_str(e->extra, "comment_id", cid);
		e->mid = cid ? cid : json_string_value(json_object_get(e->extra, "media_id"));
		if (!e->mid) {
			invalid(e, "%s: 'mentions' change has neither 'comment_id' nor 'media_id'", where);
			return;
		}
		set_key(e, "%s|mentions|%s|%lld", e->account, e->mid, (long long)e->ts_ms);
	} else if (!strcmp(field, "feed")) {
		e->kind = "feed";
		norm_feed(e, val, entry_id, where);
	} else if (!strcmp(field, "story_insights")) {
		char media[IG_WH_ID_MAX];

		if (get_id(val, "media_id", media) != 1) {
			invalid(e, "%s: 'story_insights' change has no 'media_id'", where);
			return;
		}
		e->type = IG_WH_INSIGHTS;
		json_object_set_new(e->extra, "media_id", json_string(media));
		json_object_set(e->extra, "metrics", val);
		e->mid = json_string_value(json_object_get(e->extra, "media_id"));
		set_key(e, "%s|story_insights|%s|%lld", e->account, media, (long long)e->ts_ms);
	} else {
		e->type = IG_WH_UNKNOWN;
		set_reason(e, "unknown change field '%s'", field);
		set_key(e, "%s|%s|%lld", e->account, field, (long long)e->ts_ms);
	}
}

/* ------------------------------------------------------------ delivery */

static int oom(struct ig_wh_delivery *d, struct ig_err *err)
{
	ig_webhook_release(d);
	return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
}

int ig_webhook_parse(struct ig_wh_delivery *d, const char *body, size_t len, struct ig_err *err)
{
	json_t *entries, *en;
	size_t i;

	memset(d, 0, sizeof(*d));
	d->root = ig_json_parse_nul(body, len, &d->nul, err);
	if (!d->root)
		return IG_EX_DATAERR;
	if (!json_is_object(d->root)) {
		ig_webhook_release(d);
		return ig_err_set(err, IG_EX_DATAERR, "the delivery is not a JSON object");
	}
	if (get_str(d->root, "object", &d->object) != 1 || !*d->object) {
		ig_webhook_release(d);
		return ig_err_set(err, IG_EX_DATAERR, "the delivery has no string 'object'");
	}
	entries = json_object_get(d->root, "entry");
	if (!json_is_array(entries)) {
		ig_webhook_release(d);
		return ig_err_set(err, IG_EX_DATAERR, "the delivery has no array 'entry'");
	}
	json_array_foreach(entries, i, en) {
		char id[IG_WH_ID_MAX] = "", where[96];
		int64_t ms = 0;
		static const char *const lists[] = { "messaging", "standby", "changes" };
		int l, any = 0, known = !strcmp(d->object, "instagram") || !strcmp(d->object, "page");
		struct ig_wh_event *e;

		if (!json_is_object(en) || get_id(en, "id", id) < 0 || get_time_ms(en, "time", &ms) < 0) {
			if (!(e = new_event(d, IG_WH_INVALID, IG_WH_LVL_ENTRY, (int)i, 0, en, NULL)))
				return oom(d, err);
			invalid(e, "entry[%zu] is not an object with an id and a time", i);
			continue;
		}
		if (!known) {
			if (!(e = new_event(d, IG_WH_UNKNOWN, IG_WH_LVL_ENTRY, (int)i, 0, en, en)))
				return oom(d, err);
			ig_copy(e->account, sizeof(e->account), id);
			e->kind = d->object;
			set_reason(e, "unknown object '%s'", d->object);
			set_key(e, "%s|object|%s|%lld", id, d->object, (long long)ms);
			e->ts_ms = ms;
			e->at = ms / 1000;
			continue;
		}
		for (l = 0; l < 3; l++) {
			json_t *arr = json_object_get(en, lists[l]), *it;
			size_t j;

			if (!arr)
				continue;
			any = 1;
			if (!json_is_array(arr)) {
				if (!(e = new_event(d, IG_WH_INVALID, IG_WH_LVL_ENTRY, (int)i, 0, en, en)))
					return oom(d, err);
				ig_copy(e->account, sizeof(e->account), id);
				invalid(e, "entry[%zu].%s is not an array", i, lists[l]);
				continue;
			}
			json_array_foreach(arr, j, it) {
				e = new_event(d, IG_WH_MESSAGE, l == 2 ? IG_WH_LVL_CHANGE : IG_WH_LVL_MESSAGING,
					      (int)i, (int)j, it, en);
				if (!e)
					return oom(d, err);
				snprintf(where, sizeof(where), "entry[%zu].%s[%zu]", i, lists[l], j);
				e->standby = l == 1;
				if (l == 2)
					norm_change(d, e, id, ms, where);
				else
					norm_messaging(d, e, id, ms, where);
			}
		}
		/* §2.4: Meta's Instagram-Login example puts field/value directly
		 * under the entry; parse it as one change. */
		if (!any && json_object_get(en, "field")) {
			any = 1;
			if (!(e = new_event(d, IG_WH_MESSAGE, IG_WH_LVL_CHANGE, (int)i, 0, en, en)))
				return oom(d, err);
			e->flattened = 1;
			snprintf(where, sizeof(where), "entry[%zu]", i);
			norm_change(d, e, id, ms, where);
		}
		if (!any) {
			if (!(e = new_event(d, IG_WH_UNKNOWN, IG_WH_LVL_ENTRY, (int)i, 0, en, en)))
				return oom(d, err);
			ig_copy(e->account, sizeof(e->account), id);
			e->kind = "entry";
			set_reason(e, "entry[%zu] has no messaging, standby or changes", i);
			set_key(e, "%s|entry|%lld", id, (long long)ms);
		}
	}
	for (i = 0; i < d->n; i++)
		if (d->ev[i].type != IG_WH_INVALID && !d->ev[i].key)
			return oom(d, err);
	return 0;
}

void ig_webhook_release(struct ig_wh_delivery *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		release_event(&d->ev[i]);
	free(d->ev);
	json_decref(d->root);
	memset(d, 0, sizeof(*d));
}

json_t *ig_webhook_event_delivery(const struct ig_wh_delivery *d, const struct ig_wh_event *ev)
{
	json_t *entry, *root;

	if (ev->level == IG_WH_LVL_ENTRY || !ev->entry_obj) {
		entry = json_incref(ev->raw);
	} else {
		const char *list = ev->level == IG_WH_LVL_CHANGE ? "changes"
				 : ev->standby ? "standby" : "messaging";
		json_t *item = ev->raw;

		entry = json_object();
		copy_member(entry, "id", ev->entry_obj, NULL);
		copy_member(entry, "time", ev->entry_obj, NULL);
		if (ev->flattened)
			item = json_pack("{s:O?,s:O?}", "field", json_object_get(ev->raw, "field"),
					 "value", json_object_get(ev->raw, "value"));
		else
			json_incref(item);
		json_object_set_new(entry, list, json_pack("[o]", item));
	}
	root = json_pack("{s:s,s:[o]}", "object", d->object ? d->object : "", "entry", entry);
	return root;
}

int ig_webhook_has_marker(const char *text)
{
	size_t n;

	if (!text)
		return 0;
	n = strlen(text);
	/* trim trailing white space (ASCII, and U+00A0 as Instagram's editor may leave it) */
	for (;;) {
		if (n && strchr(" \t\r\n\v\f", text[n - 1]))
			n--;
		else if (n >= 2 && (unsigned char)text[n - 2] == 0xC2 && (unsigned char)text[n - 1] == 0xA0)
			n -= 2;
		else
			break;
	}
	if (n >= 3 && !memcmp(text + n - 3, "...", 3))
		return 1;
	if (n >= 3 && !memcmp(text + n - 3, "\xE2\x80\xA6", 3))  /* U+2026 … */
		return 1;
	return 0;
}

/* ------------------------------------------------------------ signatures */

static const char *const secret_names[] = { "app", "ig_app", "previous_app" };

const char *ig_wh_secret_name(enum ig_wh_secret s)
{
	return (unsigned)s < IG_WH_NSECRETS ? secret_names[s] : "?";
}

static const char *const sig_names[] = { "valid", "invalid", "missing", "unchecked" };

const char *ig_wh_sig_name(enum ig_wh_sig s)
{
	return (unsigned)s <= IG_SIG_UNCHECKED ? sig_names[s] : "?";
}

void ig_wh_policy_init(struct ig_wh_policy *p)
{
	memset(p, 0, sizeof(*p));
}

void ig_wh_policy_clear(struct ig_wh_policy *p)
{
	int i;

	for (i = 0; i < IG_WH_NSECRETS; i++)
		ig_wipe_free(p->secret[i]);
	memset(p, 0, sizeof(*p));
}

int ig_wh_policy_parse(struct ig_wh_policy *p, const char *spec, struct ig_err *err)
{
	const char *s = spec ? spec : "";
	int i;

	p->nterm = 0;
	while (*s) {
		size_t n = strcspn(s, " \t");
		char term[128], *names, *colon, *tok, *save = NULL;

		if (n == 0) {
			s++;
			continue;
		}
		if (n >= sizeof(term) || p->nterm == (int)(sizeof(p->term) / sizeof(p->term[0])))
			return ig_err_set(err, IG_EX_CONFIG, "webhook_secrets: too long near '%.*s'",
					  (int)(n > 40 ? 40 : n), s);
		memcpy(term, s, n);
		term[n] = '\0';
		s += n;
		memset(&p->term[p->nterm], 0, sizeof(p->term[0]));
		names = term;
		if ((colon = strchr(term, ':'))) {
			*colon = '\0';
			if (!*term || strlen(term) >= sizeof(p->term[0].object))
				return ig_err_set(err, IG_EX_CONFIG,
					"webhook_secrets: '%s:' needs an object name such as instagram or page", term);
			for (i = 0; i < p->nterm; i++)
				if (!strcmp(p->term[i].object, term))
					return ig_err_set(err, IG_EX_CONFIG,
						"webhook_secrets: object '%s' is named twice", term);
			strcpy(p->term[p->nterm].object, term);
			names = colon + 1;
		} else {
			for (i = 0; i < p->nterm; i++)
				if (!p->term[i].object[0])
					return ig_err_set(err, IG_EX_CONFIG,
						"webhook_secrets: two lists without an object");
		}
		for (tok = strtok_r(names, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			int k;

			for (k = 0; k < IG_WH_NSECRETS; k++)
				if (!strcmp(tok, secret_names[k]))
					break;
			if (k == IG_WH_NSECRETS)
				return ig_err_set(err, IG_EX_CONFIG,
					"webhook_secrets: unknown secret '%s' (app, ig_app or previous_app)", tok);
			for (i = 0; i < p->term[p->nterm].n; i++)
				if ((int)p->term[p->nterm].order[i] == k)
					break;
			if (i == p->term[p->nterm].n)
				p->term[p->nterm].order[p->term[p->nterm].n++] = (enum ig_wh_secret)k;
		}
		if (!p->term[p->nterm].n)
			return ig_err_set(err, IG_EX_CONFIG, "webhook_secrets: an empty list of secrets");
		p->nterm++;
	}
	if (!p->nterm)
		return ig_err_set(err, IG_EX_CONFIG, "webhook_secrets is empty: name app, ig_app or previous_app");
	return 0;
}

int ig_wh_policy_uses(const struct ig_wh_policy *p, enum ig_wh_secret s)
{
	int i, j;

	for (i = 0; i < p->nterm; i++)
		for (j = 0; j < p->term[i].n; j++)
			if (p->term[i].order[j] == s)
				return 1;
	return 0;
}

int ig_wh_policy_set_secret(struct ig_wh_policy *p, enum ig_wh_secret s, const char *secret)
{
	ig_wipe_free(p->secret[s]);
	p->secret[s] = strdup(secret);
	if (!p->secret[s])
		return -1;
	p->secret_len[s] = strlen(secret);
	return 0;
}

enum ig_wh_sig ig_wh_verify(const struct ig_wh_policy *p, const char *object,
			    const char *sha256, const char *sha1, const void *body, size_t len,
			    const char **which)
{
	const char *hdr = sha256;
	enum ig_wh_secret order[IG_WH_NSECRETS * 8];
	int n = 0, i, t = -1;

	if (which)
		*which = NULL;
	if (!hdr && p->legacy_sha1)
		hdr = sha1;
	if (!hdr || !*hdr)
		return IG_SIG_MISSING;
	/* the prefix must match the header it came in (a sha1= value in the
	 * -256 header is a forgery attempt, not a fallback) */
	if (hdr == sha256 ? strncmp(hdr, "sha256=", 7) : strncmp(hdr, "sha1=", 5))
		return IG_SIG_INVALID;
	if (object) {
		for (i = 0; i < p->nterm; i++)
			if (!strcmp(p->term[i].object, object))
				t = i;
		if (t < 0)
			for (i = 0; i < p->nterm; i++)
				if (!p->term[i].object[0])
					t = i;
		if (t >= 0)
			for (i = 0; i < p->term[t].n; i++)
				order[n++] = p->term[t].order[i];
	} else {
		for (i = 0; i < IG_WH_NSECRETS; i++)
			if (ig_wh_policy_uses(p, (enum ig_wh_secret)i))
				order[n++] = (enum ig_wh_secret)i;
	}
	for (i = 0; i < n; i++) {
		enum ig_wh_secret s = order[i];

		if (!p->secret[s])
			continue;
		if (ig_verify_hub_signature(hdr, body, len, p->secret[s], p->secret_len[s])) {
			if (which)
				*which = secret_names[s];
			return IG_SIG_VALID;
		}
	}
	return IG_SIG_INVALID;
}
