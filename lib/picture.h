/*
 * picture.h — fetching image bytes from Meta's CDN (profile pictures, media
 * thumbnails) for ig-insights, which keeps them because CDN links expire.
 * Plain HTTP(S) GETs of absolute URLs, in parallel, without a token; each
 * answer bounded in size and required to be an image.  Separate from
 * lib/graph.c because these are not Graph calls (no JSON, no Graph errors,
 * no rate-limit headers).
 */
#ifndef IG_PICTURE_H
#define IG_PICTURE_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

struct ig_picture_req {
	const char *url;       /* borrowed */
	void *user;            /* caller's cookie */
	/* results */
	struct ig_buf bytes;   /* the image (release with ig_picture_release) */
	char content_type[64];
	int rc;                /* 0, or 75 (network, 5xx), 69 (4xx, not an image, too large) */
	struct ig_err err;
};

/* Fetch n URLs, at most parallel at a time, each within timeout_ms and
 * max_bytes.  Always fills each req; returns the number that failed. */
size_t ig_picture_fetch_many(struct ig_picture_req *reqs, size_t n, int parallel, long timeout_ms,
			     size_t max_bytes);
void ig_picture_release(struct ig_picture_req *r);

#endif
