/*
 * preflight.c — every rule a post must pass before a container is created
 * (reference §4.1, §4.5, §4.6), and reading media headers (JPEG, PNG).
 * Each refusal names the field and the rule, so the user knows what to fix:
 *   media[1].url: rule image.aspect: aspect 0.50 (540x1080) is outside 4:5 to 1.91:1
 * The network check fetches the first bytes of each media URL (Meta fetches
 * the media itself, with cURL, from a public URL: §4.1), so a URL Meta could
 * not read is refused here instead of failing later with 9004/2207052.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include <build.h>  /* PACKAGE_VERSION */

#include "igtime.h"
#include "jsonio.h"
#include "publish.h"
#include "pubint.h"

#define CAPTION_MAX 2200
#define HASHTAGS_MAX 30
#define MENTIONS_MAX 20
#define COLLAB_MAX 3
#define ALT_MAX 1000
#define IMAGE_MAX_BYTES (8LL * 1024 * 1024)
#define PROBE_BYTES 65536

/* ------------------------------------------------------------ headers */

static int sniff_jpeg(const unsigned char *p, size_t n, struct ig_media_info *mi)
{
	size_t i = 2;

	if (n < 4 || p[0] != 0xFF || p[1] != 0xD8)
		return 0;
	snprintf(mi->mime, sizeof(mi->mime), "image/jpeg");
	while (i + 4 <= n) {
		unsigned m;
		size_t len;

		if (p[i] != 0xFF) {
			i++;
			continue;
		}
		m = p[i + 1];
		if (m == 0xFF) {
			i++;
			continue;
		}
		if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
			i += 2;
			continue;
		}
		len = (size_t)p[i + 2] << 8 | p[i + 3];
		/* SOF0..SOF15 carry the size, except DHT (C4), JPG (C8), DAC (CC) */
		if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
			if (i + 9 <= n) {
				mi->height = p[i + 5] << 8 | p[i + 6];
				mi->width = p[i + 7] << 8 | p[i + 8];
			}
			return 1;
		}
		if (m == 0xDA || m == 0xD9)
			return 1;   /* scan data before a frame header: no size */
		i += 2 + len;
	}
	return 1;
}

static int sniff_png(const unsigned char *p, size_t n, struct ig_media_info *mi)
{
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n' };

	if (n < 8 || memcmp(p, sig, 8))
		return 0;
	snprintf(mi->mime, sizeof(mi->mime), "image/png");
	if (n >= 24 && !memcmp(p + 12, "IHDR", 4)) {
		mi->width = (int)((unsigned)p[16] << 24 | p[17] << 16 | p[18] << 8 | p[19]);
		mi->height = (int)((unsigned)p[20] << 24 | p[21] << 16 | p[22] << 8 | p[23]);
	}
	return 1;
}

static uint64_t be(const unsigned char *p, int k)
{
	uint64_t v = 0;

	while (k--)
		v = v << 8 | *p++;
	return v;
}

/* ISO BMFF (MP4, MOV): moov → mvhd holds timescale and duration. */
int ig_media_mp4_duration(const unsigned char *p, size_t n, long long *ms)
{
	size_t i = 0;

	while (i + 8 <= n) {
		uint64_t len = be(p + i, 4);
		size_t hdr = 8;

		if (len == 1) {
			if (i + 16 > n)
				return 0;
			len = be(p + i + 8, 8);
			hdr = 16;
		} else if (len == 0) {
			len = n - i;
		}
		if (len < hdr || len > n - i)
			return 0;
		if (!memcmp(p + i + 4, "moov", 4)) {
			/* descend: its children */
			size_t end = i + (size_t)len;

			i += hdr;
			while (i + 8 <= end) {
				uint64_t cl = be(p + i, 4);

				if (cl < 8 || cl > end - i)
					return 0;
				if (!memcmp(p + i + 4, "mvhd", 4)) {
					const unsigned char *b = p + i + 8;
					uint64_t scale, dur;

					if (b[0] == 1 && cl >= 8 + 32) {
						scale = be(b + 20, 4);
						dur = be(b + 24, 8);
					} else if (cl >= 8 + 20) {
						scale = be(b + 12, 4);
						dur = be(b + 16, 4);
					} else {
						return 0;
					}
					if (!scale)
						return 0;
					*ms = (long long)(dur * 1000 / scale);
					return 1;
				}
				i += (size_t)cl;
			}
			return 0;
		}
		i += (size_t)len;
	}
	return 0;
}

int ig_media_sniff(const unsigned char *p, size_t n, struct ig_media_info *mi)
{
	if (sniff_jpeg(p, n, mi) || sniff_png(p, n, mi))
		return 1;
	if (n >= 12 && !memcmp(p + 4, "ftyp", 4)) {
		snprintf(mi->mime, sizeof(mi->mime), !memcmp(p + 8, "qt  ", 4)
			 ? "video/quicktime" : "video/mp4");
		ig_media_mp4_duration(p, n, &mi->duration_ms);
		return 1;
	}
	return 0;
}

void pub_media_info_init(struct ig_media_info *mi)
{
	memset(mi, 0, sizeof(*mi));
	mi->size = -1;
	mi->duration_ms = -1;
}

/* ------------------------------------------------------------ the URL probe */

/* A GET of a media URL as Meta's fetcher makes it (§4.1): http(s) only, a
 * few redirects, bounded in time.  NULL when libcurl cannot start one. */
static CURL *media_get(const char *url, long timeout_s, const char *agent)
{
	CURL *h = curl_easy_init();

	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, agent);
	return h;
}

struct probe {
	unsigned char buf[PROBE_BYTES];
	size_t n;
	char ctype[128];
	long long clen;
};

static size_t probe_body(char *p, size_t size, size_t nm, void *u)
{
	struct probe *pr = u;
	size_t len = size * nm, room = sizeof(pr->buf) - pr->n;

	if (len > room)
		len = room;
	memcpy(pr->buf + pr->n, p, len);
	pr->n += len;
	return pr->n >= sizeof(pr->buf) ? 0 : size * nm;   /* enough: stop */
}

static size_t probe_header(char *p, size_t size, size_t nm, void *u)
{
	struct probe *pr = u;
	size_t len = size * nm;

	if (len > 13 && !strncasecmp(p, "Content-Type:", 13)) {
		const char *v = p + 13;
		size_t k;

		while (*v == ' ' || *v == '\t')
			v++;
		k = strcspn(v, ";\r\n");
		snprintf(pr->ctype, sizeof(pr->ctype), "%.*s", (int)k, v);
	} else if (len > 15 && !strncasecmp(p, "Content-Length:", 15)) {
		pr->clen = strtoll(p + 15, NULL, 10);
	}
	return len;
}

int pub_probe_url(const char *url, struct ig_media_info *mi, long *status, char *why, size_t whyn)
{
	struct probe *pr = calloc(1, sizeof(*pr));
	CURL *h;
	CURLcode cc;

	*status = 0;
	if (!pr)
		return snprintf(why, whyn, "out of memory"), -1;
	pr->clen = -1;
	if (!(h = media_get(url, 15L, "igkit-preflight/" PACKAGE_VERSION))) {
		free(pr);
		return snprintf(why, whyn, "cannot start an HTTP request"), -1;
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, probe_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, pr);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, probe_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, pr);
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(h);
	if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && pr->n >= sizeof(pr->buf))) {
		snprintf(why, whyn, "%s", curl_easy_strerror(cc));
		free(pr);
		return -1;
	}
	snprintf(mi->mime, sizeof(mi->mime), "%.63s", pr->ctype);
	mi->size = pr->clen;
	if (*status == 200 && pr->n) {
		struct ig_media_info sn;

		pub_media_info_init(&sn);
		if (ig_media_sniff(pr->buf, pr->n, &sn)) {
			mi->width = sn.width;
			mi->height = sn.height;
			mi->duration_ms = sn.duration_ms;
			if (!mi->mime[0])
				snprintf(mi->mime, sizeof(mi->mime), "%s", sn.mime);
		}
	}
	free(pr);
	return 0;
}

/* Download url into path (created 0600, at most max bytes); 0, or -1 with
 * why set and path removed. */
struct fetch {
	FILE *f;
	long long n, max;
};

static size_t fetch_body(char *p, size_t size, size_t nm, void *u)
{
	struct fetch *fe = u;
	size_t len = size * nm;

	if (fe->n + (long long)len > fe->max)
		return 0;
	fe->n += (long long)len;
	return fwrite(p, 1, len, fe->f);
}

int pub_fetch_file(const char *url, const char *path, long long max, char *why, size_t whyn)
{
	struct fetch fe = { NULL, 0, max };
	long status = 0;
	CURL *h;
	CURLcode cc;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

	if (fd < 0 || !(fe.f = fdopen(fd, "wb"))) {
		snprintf(why, whyn, "cannot create '%.200s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!(h = media_get(url, 300L, "igkit-asset/" PACKAGE_VERSION))) {
		fclose(fe.f);
		unlink(path);
		return snprintf(why, whyn, "cannot start an HTTP request"), -1;
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fetch_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &fe);
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (fclose(fe.f) && cc == CURLE_OK) {
		snprintf(why, whyn, "cannot write '%.200s': %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	if (cc != CURLE_OK || status != 200) {
		if (cc == CURLE_WRITE_ERROR && fe.n + 1 > max)
			snprintf(why, whyn, "larger than %lld bytes", max);
		else if (cc != CURLE_OK)
			snprintf(why, whyn, "%s", curl_easy_strerror(cc));
		else
			snprintf(why, whyn, "HTTP %ld, not 200", status);
		unlink(path);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ rules */

static int refuse(struct ig_err *err, const char *field, const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int refuse(struct ig_err *err, const char *field, const char *rule, const char *fmt, ...)
{
	char msg[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ig_err_set(err, IG_EX_DATAERR, "%s: rule %s: %s", field, rule, msg);
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* #tags and @mentions in a caption: a '#' or '@' at the start or after a
 * non-word character, followed by a tag character. */
static void count_tags(const char *s, int *hashtags, int *mentions)
{
	const char *p;

	*hashtags = *mentions = 0;
	for (p = s; *p; p++) {
		int lead = p == s || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
		unsigned char c = (unsigned char)p[1];

		if (!lead || !c)
			continue;
		if (*p == '#' && (isalnum(c) || c == '_' || c >= 0x80))
			(*hashtags)++;
		else if (*p == '@' && (isalnum(c) || c == '_' || c == '.'))
			(*mentions)++;
	}
}

static const char *const post_keys[] = {
	"account", "type", "media", "caption", "at", "location_id", "collaborators",
	"share_to_feed", "cover_url", "thumb_offset", "audio_name", "first_comment", "skus",
	"key", "tenant", NULL
};

static int known(const char *const *keys, const char *k)
{
	for (; *keys; keys++)
		if (!strcmp(*keys, k))
			return 1;
	return 0;
}

static int url_scheme_ok(const char *u, int *is_http)
{
	*is_http = !strncasecmp(u, "http://", 7);
	return *is_http || !strncasecmp(u, "https://", 8);
}

static void warn_add(json_t *warnings, const char *field, const char *url)
{
	char w[600];

	if (!warnings)
		return;
	snprintf(w, sizeof(w), "%s: %.400s is plain http; Meta fetches it, but https is safer",
		 field, url);
	json_array_append_new(warnings, json_string(w));
}

/*
 * The rules, as two tables of small functions tried in order: the post's
 * (post_rules) and each media item's (item_rules).  The first refusal is
 * the answer.
 */
struct check {
	const struct pub_post *p;
	int network;             /* fetch each media URL's first bytes */
	json_t *warnings;        /* NULL: not wanted */
	struct ig_err *err;
};

/* One media item under check: what is known of it so far. */
struct item_check {
	const struct pub_item *it;
	char field[48];          /* "media[N]" */
	struct ig_media_info mi; /* from the asset row, or the probe */
};

/* caption (§4.1) */
static int caption_rules(const struct check *c)
{
	const struct pub_post *p = c->p;
	int hashtags, mentions;

	if (utf8_chars(p->caption) > CAPTION_MAX)
		return refuse(c->err, "caption", "caption.length", "%zu characters, at most %d",
			      utf8_chars(p->caption), CAPTION_MAX);
	count_tags(p->caption, &hashtags, &mentions);
	if (hashtags > HASHTAGS_MAX)
		return refuse(c->err, "caption", "caption.hashtags", "%d hashtags, at most %d",
			      hashtags, HASHTAGS_MAX);
	if (mentions > MENTIONS_MAX)
		return refuse(c->err, "caption", "caption.mentions", "%d @mentions, at most %d",
			      mentions, MENTIONS_MAX);
	if (p->first_comment && utf8_chars(p->first_comment) > CAPTION_MAX)
		return refuse(c->err, "first_comment", "comment.length", "%zu characters, at most %d",
			      utf8_chars(p->first_comment), CAPTION_MAX);
	if (!strcmp(p->type, "story") && (*p->caption || p->first_comment))
		return refuse(c->err, *p->caption ? "caption" : "first_comment", "story.caption",
			      "a story has no caption or comments");
	return 0;
}

/* media count (§4.1: carousel 2..10, any other post one) */
static int media_count_rules(const struct check *c)
{
	const struct pub_post *p = c->p;

	if (!strcmp(p->type, "carousel")) {
		if (p->nitems < 2 || p->nitems > 10)
			return refuse(c->err, "media", "carousel.count",
				      "a carousel has 2 to 10 items, not %zu", p->nitems);
	} else if (p->nitems != 1) {
		return refuse(c->err, "media", "media.count", "a%s %s has exactly one media item,"
			      " not %zu", !strcmp(p->type, "image") ? "n" : "", p->type, p->nitems);
	}
	return 0;
}

/* collaborators (§4.1): ≤ 3, bare usernames, not on stories */
static int collaborator_rules(const struct check *c)
{
	const struct pub_post *p = c->p;
	json_t *v;
	size_t i;

	if (!p->collaborators)
		return 0;
	if (!strcmp(p->type, "story"))
		return refuse(c->err, "collaborators", "collaborators.story",
			      "stories take no collaborators");
	if (json_array_size(p->collaborators) > COLLAB_MAX)
		return refuse(c->err, "collaborators", "collaborators.count",
			      "%zu collaborators, at most %d", json_array_size(p->collaborators),
			      COLLAB_MAX);
	json_array_foreach(p->collaborators, i, v) {
		const char *u = json_string_value(v);

		if (!u || !*u)
			return refuse(c->err, "collaborators", "collaborators.name",
				      "item %zu is not a username", i);
		if (*u == '@')
			return refuse(c->err, "collaborators", "collaborators.at", "'%.60s': give the"
				      " username without '@' (Meta answers 110/2207018)", u);
	}
	return 0;
}

/* the fields only a reel takes, and its cover */
static int reel_rules(const struct check *c)
{
	const struct pub_post *p = c->p;
	int http;

	if (strcmp(p->type, "reel")) {
		const char *f = p->share_to_feed >= 0 ? "share_to_feed" : p->cover_url ? "cover_url"
			: p->thumb_offset >= 0 ? "thumb_offset" : p->audio_name ? "audio_name" : NULL;

		if (f)
			return refuse(c->err, f, "reel.fields", "only a reel takes %s", f);
	}
	if (p->cover_url && !url_scheme_ok(p->cover_url, &http))
		return refuse(c->err, "cover_url", "media.url", "not an http(s) URL");
	return 0;
}

/* what the post's type allows of an item */
static int item_kind_rules(const struct check *c, struct item_check *ic)
{
	const struct pub_item *it = ic->it;

	if (it->is_reel_child)
		return refuse(c->err, ic->field, "carousel.no_reels", "a reel cannot be a carousel item");
	if (!strcmp(c->p->type, "reel") && it->kind != PUB_VIDEO)
		return refuse(c->err, ic->field, "reel.video", "a reel is a video");
	if (!strcmp(c->p->type, "image") && it->kind != PUB_IMAGE)
		return refuse(c->err, ic->field, "image.kind",
			      "an image post takes an image (post a video as a reel)");
	return 0;
}

static int alt_text_rules(const struct check *c, struct item_check *ic)
{
	const struct pub_item *it = ic->it;

	if (it->alt_text && it->kind != PUB_IMAGE)
		return refuse(c->err, ic->field, "alt_text.image", "alt_text is for images only");
	if (it->alt_text && utf8_chars(it->alt_text) > ALT_MAX)
		return refuse(c->err, ic->field, "alt_text.length", "%zu characters, at most %d",
			      utf8_chars(it->alt_text), ALT_MAX);
	return 0;
}

static int url_rules(const struct check *c, struct item_check *ic)
{
	int http = 0;

	if (!url_scheme_ok(ic->it->url, &http))
		return refuse(c->err, ic->field, "media.url",
			      "'%.100s' is not an http(s) URL Meta could fetch", ic->it->url);
	if (http)
		warn_add(c->warnings, ic->field, ic->it->url);
	return 0;
}

/* What an item of each kind is served as, and called in a refusal. */
static const struct {
	const char *mime_prefix, *noun;
} kind_names[] = {
	[PUB_IMAGE] = { "image/", "an image" },
	[PUB_VIDEO] = { "video/", "a video" },
};

/* With the network check, the URL as Meta would fetch it (a registered
 * asset was checked when it was added); its facts replace the item's. */
static int reachable_rules(const struct check *c, struct item_check *ic)
{
	const struct pub_item *it = ic->it;
	const char *prefix = kind_names[it->kind].mime_prefix;
	long status;
	char why[256];
	struct ig_media_info probed;

	if (!c->network || it->asset_id)
		return 0;
	pub_media_info_init(&probed);
	if (pub_probe_url(it->url, &probed, &status, why, sizeof(why)))
		return refuse(c->err, ic->field, "media.reachable", "'%.100s' cannot be fetched: %s",
			      it->url, why);
	if (status != 200)
		return refuse(c->err, ic->field, "media.reachable", "'%.100s' answers HTTP %ld, not 200"
			      " (Meta would fail with 9004/2207052)", it->url, status);
	if (strncasecmp(probed.mime, prefix, strlen(prefix)))
		return refuse(c->err, ic->field, "media.content_type", "'%.100s' is served as '%s',"
			      " not %s", it->url, probed.mime[0] ? probed.mime : "(none)",
			      kind_names[it->kind].noun);
	ic->mi = probed;
	return 0;
}

/* An image's facts (§4.1): JPEG, 8 MiB, and on the feed 320 to 1440 px
 * wide with an aspect from 4:5 to 1.91:1. */
static int image_rules(const struct check *c, struct item_check *ic)
{
	const struct ig_media_info *mi = &ic->mi;
	int feed = strcmp(c->p->type, "story") != 0;

	if (mi->mime[0] && strcasecmp(mi->mime, "image/jpeg") && strcasecmp(mi->mime, "image/jpg"))
		return refuse(c->err, ic->field, "image.format",
			      "Instagram takes JPEG images only; this is %s", mi->mime);
	if (mi->size > IMAGE_MAX_BYTES)
		return refuse(c->err, ic->field, "image.size", "%lld bytes is over the 8 MiB limit",
			      mi->size);
	if (mi->width > 0 && (mi->width < 320 || mi->width > 1440) && feed)
		return refuse(c->err, ic->field, "image.width", "width %d px is outside 320 to 1440 px",
			      mi->width);
	if (mi->width > 0 && mi->height > 0 && feed) {
		double r = (double)mi->width / mi->height;

		if (r < 0.8 - 1e-9 || r > 1.91 + 1e-9)
			return refuse(c->err, ic->field, "image.aspect", "aspect %.2f (%dx%d) is outside"
				      " 4:5 to 1.91:1", r, mi->width, mi->height);
	}
	return 0;
}

/* A video's facts (§4.1): MP4 or MOV; reels 3 s to 15 min, story videos
 * 3 to 60 s. */
static int video_rules(const struct check *c, struct item_check *ic)
{
	const struct ig_media_info *mi = &ic->mi;
	const char *type = c->p->type;
	int story = !strcmp(type, "story");
	long long hi = story ? 60000 : 900000;

	if (mi->mime[0] && strncasecmp(mi->mime, "video/", 6))
		return refuse(c->err, ic->field, "video.format", "a video must be MP4 or MOV; this is %s",
			      mi->mime);
	if (mi->duration_ms > 0 && (story || !strcmp(type, "reel"))
	    && (mi->duration_ms < 3000 || mi->duration_ms > hi))
		return refuse(c->err, ic->field, story ? "story.duration" : "reel.duration",
			      "%.1f s is outside 3 s to %s", (double)mi->duration_ms / 1000,
			      story ? "60 s" : "15 min");
	return 0;
}

static int media_rules(const struct check *c, struct item_check *ic)
{
	return ic->it->kind == PUB_IMAGE ? image_rules(c, ic) : video_rules(c, ic);
}

static int user_tag_rules(const struct check *c, struct item_check *ic)
{
	json_t *t;
	size_t j;

	json_array_foreach(ic->it->user_tags, j, t) {
		json_t *x = json_object_get(t, "x"), *y = json_object_get(t, "y");

		if (!ig_json_str(t, "username") || !json_is_number(x) || !json_is_number(y)
		    || json_number_value(x) < 0 || json_number_value(x) > 1
		    || json_number_value(y) < 0 || json_number_value(y) > 1)
			return refuse(c->err, ic->field, "user_tags.shape",
				      "tag %zu needs a username and x, y between 0.0 and 1.0", j);
	}
	return 0;
}

static int (*const item_rules[])(const struct check *, struct item_check *) = {
	item_kind_rules, alt_text_rules, url_rules, reachable_rules, media_rules, user_tag_rules,
};

/* each media item, through item_rules */
static int items_rules(const struct check *c)
{
	size_t i, k;
	int rc;

	for (i = 0; i < c->p->nitems; i++) {
		struct item_check ic;

		ic.it = &c->p->items[i];
		ic.mi = ic.it->info;
		snprintf(ic.field, sizeof(ic.field), "media[%zu]", i);
		for (k = 0; k < sizeof(item_rules) / sizeof(item_rules[0]); k++)
			if ((rc = item_rules[k](c, &ic)))
				return rc;
	}
	return 0;
}

static int (*const post_rules[])(const struct check *) = {
	caption_rules, media_count_rules, collaborator_rules, reel_rules, items_rules,
};

int ig_preflight(struct ig_ctx *ctx, int64_t tenant_id, const json_t *post, int network,
		 json_t **warnings, struct ig_err *err)
{
	struct pub_post p;
	struct check c = { &p, network, NULL, err };
	const char *k;
	json_t *v;
	size_t i;
	int rc;

	memset(&p, 0, sizeof(p));
	if (warnings)
		*warnings = c.warnings = json_array();
	if (!json_is_object(post))
		return ig_err_set(err, IG_EX_DATAERR, "a post must be a JSON object");
	json_object_foreach((json_t *)post, k, v)
		if (!known(post_keys, k))
			return refuse(err, k, "post.fields", "unknown field (known: account, type, media,"
				      " caption, at, location_id, collaborators, share_to_feed,"
				      " cover_url, thumb_offset, audio_name, first_comment, skus, key)");
	/* Shapes first: pub_post_parse reads them. */
	rc = pub_post_parse(ctx, tenant_id, post, &p, err);
	for (i = 0; !rc && i < sizeof(post_rules) / sizeof(post_rules[0]); i++)
		rc = post_rules[i](&c);
	pub_post_release(&p);
	if (rc && warnings) {
		json_decref(*warnings);
		*warnings = NULL;
	}
	return rc;
}
