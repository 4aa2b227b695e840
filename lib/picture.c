/*
 * picture.c — parallel image fetches; contracts in picture.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include <build.h>  /* PACKAGE_VERSION */

#include "exitcodes.h"
#include "picture.h"

struct pfetch {
	struct ig_picture_req *req;
	CURL *h;
	int active, done;
};

static size_t on_bytes(char *p, size_t size, size_t n, void *u)
{
	struct ig_picture_req *r = u;

	return ig_buf_add(&r->bytes, p, size * n) ? 0 : size * n;
}

static void finish(struct pfetch *f, CURLcode cc)
{
	struct ig_picture_req *r = f->req;
	long status = 0;
	char *ct = NULL;

	curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(f->h, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(r->content_type, sizeof(r->content_type), "%s", ct ? ct : "");
	r->content_type[strcspn(r->content_type, "; ")] = '\0';
	if (cc == CURLE_WRITE_ERROR)
		r->rc = ig_err_set(&r->err, IG_EX_UNAVAILABLE, "picture larger than %zu bytes",
				   r->bytes.max);
	else if (cc != CURLE_OK)
		r->rc = ig_err_set(&r->err, IG_EX_TEMPFAIL, "picture: %s", curl_easy_strerror(cc));
	else if (status >= 500 || status == 429)
		r->rc = ig_err_set(&r->err, IG_EX_TEMPFAIL, "picture: HTTP %ld", status);
	else if (status < 200 || status >= 300)
		r->rc = ig_err_set(&r->err, IG_EX_UNAVAILABLE, "picture: HTTP %ld", status);
	else if (strncasecmp(r->content_type, "image/", 6) || !r->bytes.len)
		r->rc = ig_err_set(&r->err, IG_EX_UNAVAILABLE, "picture: not an image ('%s')",
				   r->content_type);
	if (r->rc)
		ig_buf_release(&r->bytes);
	f->done = 1;
}

size_t ig_picture_fetch_many(struct ig_picture_req *reqs, size_t n, int parallel, long timeout_ms,
			     size_t max_bytes)
{
	struct pfetch *fs;
	CURLM *m;
	size_t i, next = 0, left = n, failed = 0;
	int active = 0;

	for (i = 0; i < n; i++) {
		ig_buf_init(&reqs[i].bytes, max_bytes);
		reqs[i].rc = 0;
		reqs[i].content_type[0] = '\0';
		ig_err_clear(&reqs[i].err);
	}
	if (!n)
		return 0;
	if (parallel < 1)
		parallel = 1;
	fs = calloc(n, sizeof(*fs));
	m = curl_multi_init();
	if (!fs || !m) {
		free(fs);
		if (m)
			curl_multi_cleanup(m);
		for (i = 0; i < n; i++)
			reqs[i].rc = ig_err_set(&reqs[i].err, IG_EX_SOFTWARE, "out of memory");
		return n;
	}
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)parallel);
	while (left) {
		CURLMsg *msg;
		int running, q;

		while (active < parallel && next < n) {
			struct pfetch *f = &fs[next];

			f->req = &reqs[next++];
			if (!(f->h = curl_easy_init())) {
				f->req->rc = ig_err_set(&f->req->err, IG_EX_SOFTWARE, "out of memory");
				f->done = 1;
				left--;
				continue;
			}
			curl_easy_setopt(f->h, CURLOPT_URL, f->req->url);
			curl_easy_setopt(f->h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
			curl_easy_setopt(f->h, CURLOPT_PROTOCOLS_STR, "http,https");
			curl_easy_setopt(f->h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
			curl_easy_setopt(f->h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
			curl_easy_setopt(f->h, CURLOPT_REDIR_PROTOCOLS,
					 (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
			curl_easy_setopt(f->h, CURLOPT_FOLLOWLOCATION, 1L);
			curl_easy_setopt(f->h, CURLOPT_MAXREDIRS, 3L);
			curl_easy_setopt(f->h, CURLOPT_TIMEOUT_MS, timeout_ms);
			curl_easy_setopt(f->h, CURLOPT_USERAGENT, "igkit/" PACKAGE_VERSION);
			curl_easy_setopt(f->h, CURLOPT_WRITEFUNCTION, on_bytes);
			curl_easy_setopt(f->h, CURLOPT_WRITEDATA, f->req);
			curl_easy_setopt(f->h, CURLOPT_PRIVATE, f);
			if (curl_multi_add_handle(m, f->h) != CURLM_OK) {
				f->req->rc = ig_err_set(&f->req->err, IG_EX_SOFTWARE, "cannot start a transfer");
				f->done = 1;
				left--;
				continue;
			}
			f->active = 1;
			active++;
		}
		if (!left)
			break;
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &q))) {
			struct pfetch *f = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
			curl_multi_remove_handle(m, f->h);
			finish(f, msg->data.result);
			curl_easy_cleanup(f->h);
			f->h = NULL;
			f->active = 0;
			active--;
			left--;
		}
		if (left)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	for (i = 0; i < n; i++) {
		if (fs[i].h) {
			if (fs[i].active)
				curl_multi_remove_handle(m, fs[i].h);
			curl_easy_cleanup(fs[i].h);
		}
		if (reqs[i].rc)
			failed++;
	}
	curl_multi_cleanup(m);
	free(fs);
	return failed;
}

void ig_picture_release(struct ig_picture_req *r)
{
	ig_buf_release(&r->bytes);
}
