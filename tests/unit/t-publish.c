/* Unit tests of lib/publish's pure pieces: reading JPEG and PNG headers
 * (lib/preflight.c) and the one table mapping Meta's errors to what the
 * publishing worker does (lib/pubworker.c, reference §4.6, §9.1). */
#include <stdlib.h>
#include <string.h>

#include "publish.h"
#include "tap.h"

static struct ig_graph_error E(long code, long subcode, long http)
{
	struct ig_graph_error e;

	memset(&e, 0, sizeof(e));
	e.code = code;
	e.subcode = subcode;
	e.http_status = http;
	return e;
}

static enum ig_pub_action act(long code, long subcode, long http, int post)
{
	struct ig_graph_error e = E(code, subcode, http);
	const char *explain;
	enum ig_pub_action a = ig_publish_classify(&e, post, &explain);

	ok(explain && *explain, "(#%ld/%ld) has an explanation", code, subcode);
	return a;
}

int main(void)
{
	/* a baseline JPEG: SOI, APP0, DQT, SOF0 (1350 x 1080), ... */
	static const unsigned char jpeg[] = {
		0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0,
		0xFF, 0xDB, 0x00, 0x04, 0x00, 0x01,
		0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x05, 0x46, 0x04, 0x38, 0x01, 0x01, 0x11, 0x00,
		0xFF, 0xD9
	};
	static const unsigned char png[] = {
		0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
		0, 0, 0x02, 0x80, 0, 0, 0x01, 0xE0, 8, 2, 0, 0, 0
	};
	static const unsigned char mp4[] = { 0, 0, 0, 24, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm' };
	static const unsigned char junk[] = "GIF89a....";
	struct ig_media_info mi;

	memset(&mi, 0, sizeof(mi));
	ok(ig_media_sniff(jpeg, sizeof(jpeg), &mi), "a JPEG is recognised");
	is_str(mi.mime, "image/jpeg", "…as image/jpeg");
	is_int(mi.width, 1080, "width from SOF0");
	is_int(mi.height, 1350, "height from SOF0");
	memset(&mi, 0, sizeof(mi));
	ok(ig_media_sniff(jpeg, 30, &mi), "a JPEG cut before its frame header");
	is_int(mi.width, 0, "…has no size, and no read past the end");
	memset(&mi, 0, sizeof(mi));
	ok(ig_media_sniff(png, sizeof(png), &mi), "a PNG is recognised");
	is_str(mi.mime, "image/png", "…as image/png");
	is_int(mi.width, 640, "PNG width from IHDR");
	is_int(mi.height, 480, "PNG height from IHDR");
	memset(&mi, 0, sizeof(mi));
	ok(ig_media_sniff(mp4, sizeof(mp4), &mi), "an MP4 is recognised");
	is_str(mi.mime, "video/mp4", "…as video/mp4");
	memset(&mi, 0, sizeof(mi));
	ok(!ig_media_sniff(junk, sizeof(junk), &mi), "anything else is not");

	{   /* ftyp, moov/mvhd (version 0: timescale 600, duration 4500 → 7.5 s), mdat */
		unsigned char b[24 + 8 + 108 + 8];
		long long ms = 0;

		memset(b, 0, sizeof(b));
		memcpy(b, mp4, sizeof(mp4));
		b[3] = 24;
		b[24 + 3] = 116;
		memcpy(b + 28, "moov", 4);
		b[32 + 3] = 108;
		memcpy(b + 36, "mvhd", 4);
		b[40 + 12 + 2] = 600 >> 8;
		b[40 + 12 + 3] = 600 & 0xFF;
		b[40 + 16 + 2] = 4500 >> 8;
		b[40 + 16 + 3] = 4500 & 0xFF;
		b[140 + 3] = 8;
		memcpy(b + 144, "mdat", 4);
		ok(ig_media_mp4_duration(b, sizeof(b), &ms), "an MP4's mvhd is found");
		is_int((int)ms, 7500, "…its duration in ms");
		ok(!ig_media_mp4_duration(b, 60, &ms), "a cut moov is not read past its end");
	}

	/* the error table */
	is_int(act(9007, 2207027, 400, 1), IG_PUB_NOT_READY, "9007/2207027: not ready, poll again");
	is_int(act(9, 2207042, 400, 1), IG_PUB_WAIT, "9/2207042: the quota is spent, wait");
	is_int(act(-2, 2207020, 400, 0), IG_PUB_RECREATE, "-2/2207020: expired, recreate");
	is_int(act(24, 2207008, 400, 1), IG_PUB_RECREATE, "24/2207008: unknown container, recreate");
	is_int(act(-1, 2207001, 500, 0), IG_PUB_RETRY, "-1/2207001 is a server error, retried (not spam)");
	is_int(act(9004, 2207052, 400, 0), IG_PUB_RETRY, "9004/2207052: fetch failed, bounded retries");
	is_int(act(36000, 2207004, 400, 0), IG_PUB_PERMANENT, "36000/2207004: image too large");
	is_int(act(110, 2207018, 400, 0), IG_PUB_PERMANENT, "110/2207018: collaborator with '@'");
	is_int(act(100, 2207089, 400, 1), IG_PUB_PERMANENT, "100/2207089: a carousel item alone");
	is_int(act(4, 2207051, 400, 1), IG_PUB_PERMANENT, "4/2207051: restricted, not a rate limit");
	is_int(act(4, 0, 400, 1), IG_PUB_WAIT, "4: rate limit, wait");
	is_int(act(80002, 0, 400, 0), IG_PUB_WAIT, "80002: Instagram BUC, wait");
	is_int(act(190, 463, 400, 1), IG_PUB_RELOGIN, "190: re-login");
	is_int(act(10, 0, 403, 1), IG_PUB_RELOGIN, "10: permission, re-authorise with it");
	is_int(act(2, 0, 503, 1), IG_PUB_AMBIGUOUS, "2 on media_publish: ambiguous");
	is_int(act(2, 0, 503, 0), IG_PUB_RETRY, "2 on a read: retry");
	is_int(act(0, 0, 502, 1), IG_PUB_AMBIGUOUS, "HTTP 5xx on media_publish: ambiguous");
	is_int(act(100, 0, 400, 0), IG_PUB_PERMANENT, "100: a bad parameter");
	is_str(ig_pub_action_name(IG_PUB_WAIT), "wait", "action names");
	return done_testing();
}
