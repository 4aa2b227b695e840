/*
 * report.c — ig-insights' HTML report: one self-contained document (XHTML
 * syntax, so any XML parser reads it), inline SVG charts, images as data:
 * URIs from the bytes sync stored, no script, nothing loaded from the
 * network.  Contract in insights.h (ig_insights_report).
 *
 * Sections: brand snapshot per account; the period's key figures with the
 * engagement rate and its denominator; followers over time (snapshots);
 * reach and views per day; top media with thumbnails; stories; results by
 * SKU (when ig-publish's tables exist).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "exitcodes.h"
#include "igtime.h"
#include "insights.h"
#include "jsonio.h"
#include "store.h"

#define DAY 86400
#define REPORT_MAX (256u * 1024 * 1024)
#define MAX_SERIES 6

struct rep {
	struct ig_ctx *ctx;
	struct ig_store *st;
	struct ig_buf b;
	int64_t tid, aid, since, until, now;
	int limit;
	int failed;
	struct ig_err *err;
};

static const char *const palette[MAX_SERIES] = {
	"#4f46e5", "#e11d48", "#0891b2", "#ca8a04", "#16a34a", "#9333ea"
};

static void put(struct rep *R, const char *s)
{
	if (ig_buf_adds(&R->b, s))
		R->failed = 1;
}

static void putf(struct rep *R, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct rep *R, const char *fmt, ...)
{
	char small[512], *big = NULL;
	va_list ap;
	int n = 0;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		R->failed = 1;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		put(R, small);
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&big, fmt, ap) < 0)
		big = NULL;
	va_end(ap);
	if (!big) {
		R->failed = 1;
		return;
	}
	put(R, big);
	free(big);
}

/* Text for XML: & < > " ' escaped, control characters dropped, invalid
 * UTF-8 replaced, so the document always parses. */
static void esc(struct rep *R, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	char buf[8];

	while (*p) {
		unsigned c = *p;
		size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
			: (c & 0xF8) == 0xF0 ? 4 : 0;
		size_t k;

		if (c == '&')
			put(R, "&amp;");
		else if (c == '<')
			put(R, "&lt;");
		else if (c == '>')
			put(R, "&gt;");
		else if (c == '"')
			put(R, "&quot;");
		else if (c == '\'')
			put(R, "&#39;");
		else if (c < 0x20 && c != '\n' && c != '\t')
			;
		else if (len == 1) {
			buf[0] = (char)c;
			buf[1] = '\0';
			put(R, buf);
		} else {
			for (k = 1; len && k < len; k++)
				if ((p[k] & 0xC0) != 0x80)
					len = 0;
			if (!len) {
				put(R, "\xEF\xBF\xBD");
				p++;
				continue;
			}
			memcpy(buf, p, len);
			buf[len] = '\0';
			put(R, buf);
			p += len;
			continue;
		}
		p++;
	}
}

static void fmt_num(char *buf, size_t n, double v)
{
	char raw[40];
	size_t len, i, o = 0, lead;
	int neg = v < 0;

	if (v != floor(v)) {
		snprintf(buf, n, "%.1f", v);
		return;
	}
	snprintf(raw, sizeof(raw), "%.0f", fabs(v));
	len = strlen(raw);
	lead = len % 3 ? len % 3 : 3;
	if (neg && o + 1 < n)
		buf[o++] = '-';
	for (i = 0; i < len && o + 2 < n; i++) {
		if (i && (i - lead) % 3 == 0 && i >= lead)
			buf[o++] = ',';
		buf[o++] = raw[i];
	}
	buf[o] = '\0';
}

static void put_num(struct rep *R, double v)
{
	char b[48];

	fmt_num(b, sizeof(b), v);
	put(R, b);
}

static void day_label(int64_t t, char *buf, size_t n)
{
	char iso[32];

	ig_time_iso(t, iso);
	snprintf(buf, n, "%.5s", iso + 5);   /* MM-DD */
}

static void date_of(int64_t t, char *buf)
{
	char iso[32];

	ig_time_iso(t, iso);
	memcpy(buf, iso, 10);
	buf[10] = '\0';
}

static void put_datauri(struct rep *R, const char *type, const unsigned char *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char out[5];
	size_t i;

	putf(R, "data:%s;base64,", type && !strncmp(type, "image/", 6) ? type : "image/jpeg");
	for (i = 0; i + 2 < n; i += 3) {
		out[0] = tab[p[i] >> 2];
		out[1] = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		out[2] = tab[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		out[3] = tab[p[i + 2] & 63];
		out[4] = '\0';
		put(R, out);
	}
	if (n - i == 1) {
		out[0] = tab[p[i] >> 2];
		out[1] = tab[(p[i] & 3) << 4];
		out[2] = out[3] = '=';
		out[4] = '\0';
		put(R, out);
	} else if (n - i == 2) {
		out[0] = tab[p[i] >> 2];
		out[1] = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		out[2] = tab[(p[i + 1] & 15) << 2];
		out[3] = '=';
		out[4] = '\0';
		put(R, out);
	}
}

/* The image of picture id (0: none) as an <img>, or a placeholder. */
static void put_picture(struct rep *R, int64_t id, const char *cls, const char *alt)
{
	struct ig_stmt *s;
	int n = 0;

	if (id > 0) {
		s = ig_store_query(R->st, R->err,
			"SELECT content_type, bytes FROM insight_pictures WHERE id = ? AND (?2 = 0 OR tenant_id = ?2)",
			"ii", id, R->tid);
		if (s && (n = ig_stmt_next(R->st, s, R->err)) > 0) {
			size_t len = 0;
			const void *bytes = ig_col_blob(s, 1, &len);

			if (bytes && len) {
				putf(R, "<img class=\"%s\" alt=\"", cls);
				esc(R, alt);
				put(R, "\" src=\"");
				put_datauri(R, ig_col_text(s, 0), bytes, len);
				put(R, "\"/>");
				ig_stmt_reset(s);
				return;
			}
			ig_stmt_reset(s);
		} else if (!s || n < 0) {
			R->failed = 1;
		}
	}
	putf(R, "<div class=\"%s placeholder\">", cls);
	if (!strcmp(cls, "thumb"))
		esc(R, alt && *alt ? alt : "?");   /* the product type */
	else
		esc(R, alt && *alt ? (char[]){ alt[0] == '@' && alt[1] ? alt[1] : alt[0], 0 } : "?");
	put(R, "</div>");
}

/* ------------------------------------------------------------ charts */

static double nice_max(double v)
{
	double p, f;

	if (v <= 0)
		return 1;
	p = pow(10, floor(log10(v)));
	f = v / p;
	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
}

struct series {
	const char *name;
	const char *color;
	double *v;       /* per day; NAN = no data */
};

#define CW 760
#define CH 240
#define ML 56
#define MR 16
#define MT 16
#define MB 34

static void axes(struct rep *R, double ymax, int ndays, int64_t first)
{
	int k;

	for (k = 0; k <= 4; k++) {
		double y = MT + (CH - MT - MB) * (1.0 - k / 4.0);
		char lab[48];

		fmt_num(lab, sizeof(lab), ymax * k / 4.0);
		putf(R, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>", ML, y,
		     CW - MR, y);
		putf(R, "<text x=\"%d\" y=\"%.1f\" class=\"ylab\">%s</text>", ML - 6, y + 4, lab);
	}
	for (k = 0; k < ndays; k++) {
		int step = ndays > 20 ? 5 : ndays > 10 ? 2 : 1;
		double x = ML + (CW - ML - MR) * (k + 0.5) / ndays;
		char lab[16];

		if (k % step && k != ndays - 1)
			continue;
		day_label(first + (int64_t)k * DAY, lab, sizeof(lab));
		putf(R, "<text x=\"%.1f\" y=\"%d\" class=\"xlab\">%s</text>", x, CH - MB + 16, lab);
	}
}

static void legend(struct rep *R, const struct series *ss, int ns)
{
	int i;

	put(R, "<div class=\"legend\">");
	for (i = 0; i < ns; i++) {
		putf(R, "<span><i style=\"background:%s\"></i>", ss[i].color);
		esc(R, ss[i].name);
		put(R, "</span>");
	}
	put(R, "</div>");
}

static void bar_chart(struct rep *R, const char *label, const struct series *ss, int ns, int ndays,
		      int64_t first)
{
	double ymax = 0, slot, bw;
	int i, k, any = 0;

	for (i = 0; i < ns; i++)
		for (k = 0; k < ndays; k++)
			if (!isnan(ss[i].v[k])) {
				any = 1;
				if (ss[i].v[k] > ymax)
					ymax = ss[i].v[k];
			}
	if (!any) {
		put(R, "<p class=\"empty\">No daily figures in this period yet.</p>");
		return;
	}
	ymax = nice_max(ymax);
	putf(R, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" role=\"img\""
	     " aria-label=\"", CW, CH);
	esc(R, label);
	put(R, "\">");
	axes(R, ymax, ndays, first);
	slot = (double)(CW - ML - MR) / ndays;
	bw = slot * 0.8 / ns;
	for (i = 0; i < ns; i++)
		for (k = 0; k < ndays; k++) {
			double v = ss[i].v[k], h;
			char lab[48], dl[16];

			if (isnan(v))
				continue;
			h = (CH - MT - MB) * v / ymax;
			fmt_num(lab, sizeof(lab), v);
			day_label(first + (int64_t)k * DAY, dl, sizeof(dl));
			putf(R, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"1.5\""
			     " fill=\"%s\"><title>%s %s: %s</title></rect>",
			     ML + slot * k + slot * 0.1 + bw * i, CH - MB - h, bw > 1 ? bw - 0.6 : bw,
			     h, ss[i].color, dl, ss[i].name, lab);
		}
	put(R, "</svg>");
	legend(R, ss, ns);
}

/* ------------------------------------------------------------ data */

/* The period's daily sum of an account metric into v[ndays] (NAN = none). */
static int daily(struct rep *R, const char *metric, const char *breakdown, double *v, int ndays)
{
	struct ig_stmt *s;
	int n = 0, k;

	for (k = 0; k < ndays; k++)
		v[k] = NAN;
	s = ig_store_query(R->st, R->err,
		"SELECT end_time, sum(value) FROM insight_values WHERE (?1 = 0 OR tenant_id = ?1)"
		" AND (?2 = 0 OR account_id = ?2) AND media_id = '' AND metric = ?3 AND breakdown = ?4"
		" AND period = 'day' AND end_time > ?5 AND end_time <= ?6 GROUP BY end_time",
		"iissii", R->tid, R->aid, metric, breakdown, R->since, R->until);
	while (s && (n = ig_stmt_next(R->st, s, R->err)) > 0) {
		k = (int)((ig_col_int(s, 0) - R->since) / DAY) - 1;
		if (k >= 0 && k < ndays)
			v[k] = ig_col_double(s, 1);
	}
	return !s || n < 0 ? -1 : 0;
}

static double sum_of(const double *v, int n, int *days)
{
	double t = 0;
	int k;

	*days = 0;
	for (k = 0; k < n; k++)
		if (!isnan(v[k])) {
			t += v[k];
			(*days)++;
		}
	return t;
}

/* ------------------------------------------------------------ sections */

static void section_snapshots(struct rep *R)
{
	struct ig_stmt *s;
	int n = 0;

	put(R, "<section><h2>Brand snapshot</h2><div class=\"cards\">");
	s = ig_store_query(R->st, R->err,
		"SELECT a.external_id, coalesce(b.username, a.username, ''), coalesce(b.name, ''),"
		" coalesce(b.biography, ''), coalesce(b.website, ''), b.followers_count, b.follows_count,"
		" b.media_count, coalesce(b.picture_id, 0), coalesce(b.fetched_at, 0), a.flavour,"
		" (SELECT count(DISTINCT coalesce(b3.username, '') || '|' || coalesce(b3.biography, ''))"
		"  FROM brand_snapshots b3 WHERE b3.account_id = a.id)"
		" FROM accounts a LEFT JOIN brand_snapshots b ON b.id = (SELECT max(b2.id)"
		"  FROM brand_snapshots b2 WHERE b2.account_id = a.id AND b2.tenant_id = a.tenant_id)"
		" WHERE (?1 = 0 OR a.tenant_id = ?1) AND (?2 = 0 OR a.id = ?2) AND a.channel = 'instagram'"
		" AND a.status <> 'disconnected' ORDER BY b.followers_count DESC, a.external_id LIMIT 60",
		"ii", R->tid, R->aid);
	while (s && (n = ig_stmt_next(R->st, s, R->err)) > 0) {
		int64_t at = ig_col_int(s, 9);
		char iso[32], alt[160];
		int stale = !at || R->now - at > DAY;

		snprintf(alt, sizeof(alt), "@%s", ig_col_text(s, 1));
		put(R, "<div class=\"card\"><div class=\"who\">");
		put_picture(R, ig_col_int(s, 8), "avatar", alt);
		put(R, "<div><div class=\"handle\">@");
		esc(R, ig_col_text(s, 1));
		put(R, "</div><div class=\"name\">");
		esc(R, ig_col_text(s, 2));
		put(R, "</div></div></div><div class=\"stats\">");
		put(R, "<div><b>");
		if (ig_col_null(s, 5)) put(R, "–"); else put_num(R, (double)ig_col_int(s, 5));
		put(R, "</b><span>followers</span></div><div><b>");
		if (ig_col_null(s, 6)) put(R, "–"); else put_num(R, (double)ig_col_int(s, 6));
		put(R, "</b><span>following</span></div><div><b>");
		if (ig_col_null(s, 7)) put(R, "–"); else put_num(R, (double)ig_col_int(s, 7));
		put(R, "</b><span>posts</span></div></div>");
		if (*ig_col_text(s, 3)) {
			put(R, "<p class=\"bio\">");
			esc(R, ig_col_text(s, 3));
			put(R, "</p>");
		}
		if (*ig_col_text(s, 4)) {
			put(R, "<p class=\"site\">");
			esc(R, ig_col_text(s, 4));
			put(R, "</p>");
		}
		putf(R, "<p class=\"meta%s\">", stale ? " stale" : "");
		if (at)
			putf(R, "Synced %.16s UTC%s", ig_time_iso(at, iso), stale ? " · stale (over 24 h)" : "");
		else
			put(R, "Never synced");
		if (ig_col_int(s, 11) > 1)
			putf(R, " · profile changed %lld× in the kept history", (long long)ig_col_int(s, 11) - 1);
		putf(R, " · %s Login</p></div>", !strcmp(ig_col_text(s, 10), "facebook") ? "Facebook"
		     : "Instagram");
	}
	if (!s || n < 0)
		R->failed = 1;
	put(R, "</div></section>");
}

static void kpi(struct rep *R, const char *label, double v, int days, const char *hint)
{
	put(R, "<div class=\"kpi\"><span>");
	esc(R, label);
	put(R, "</span><b>");
	if (days)
		put_num(R, v);
	else
		put(R, "–");
	put(R, "</b><small>");
	esc(R, hint);
	put(R, "</small></div>");
}

static void section_overview(struct rep *R, int ndays)
{
	double *reach = calloc((size_t)ndays * 6, sizeof(double));
	double *views, *inter, *fol, *unf, *eng;
	double tr, tv, ti, tf, tu, te;
	int dr, dv, di, df, du, de;
	struct series ss[2];
	char iso1[16], iso2[16];

	if (!reach) {
		R->failed = 1;
		return;
	}
	views = reach + ndays;
	inter = views + ndays;
	fol = inter + ndays;
	unf = fol + ndays;
	eng = unf + ndays;
	if (daily(R, "reach", "", reach, ndays) || daily(R, "views", "", views, ndays)
	    || daily(R, "total_interactions", "", inter, ndays)
	    || daily(R, "follows_and_unfollows", "follow_type=FOLLOWER", fol, ndays)
	    || daily(R, "follows_and_unfollows", "follow_type=NON_FOLLOWER", unf, ndays)
	    || daily(R, "accounts_engaged", "", eng, ndays))
		R->failed = 1;
	tr = sum_of(reach, ndays, &dr);
	tv = sum_of(views, ndays, &dv);
	ti = sum_of(inter, ndays, &di);
	tf = sum_of(fol, ndays, &df);
	tu = sum_of(unf, ndays, &du);
	te = sum_of(eng, ndays, &de);
	date_of(R->since, iso1);
	date_of(R->until - DAY, iso2);
	put(R, "<section><h2>The period at a glance</h2><div class=\"kpis\">");
	kpi(R, "Accounts reached", tr, dr, "sum of daily reach");
	kpi(R, "Views", tv, dv, "times content was seen");
	kpi(R, "Interactions", ti, di, "likes, comments, saves, shares, replies");
	kpi(R, "Accounts engaged", te, de, "sum of daily counts");
	kpi(R, "Follows", tf, df, "followers gained");
	kpi(R, "Unfollows", tu, du, "followers lost");
	put(R, "<div class=\"kpi accent\"><span>Engagement rate</span><b>");
	if (dr && di && tr > 0)
		putf(R, "%.2f%%", 100.0 * ti / tr);
	else
		put(R, "–");
	put(R, "</b><small>interactions ÷ accounts reached</small></div></div>");
	put(R, "<p class=\"note\">Engagement rate = total interactions (");
	put_num(R, ti);
	put(R, ") ÷ accounts reached (");
	put_num(R, tr);
	putf(R, "), both summed over the %d day%s from %s to %s that have figures. Reach counts"
	     " unique accounts per day, so a person reached on two days counts twice.</p>",
	     dr, dr == 1 ? "" : "s", iso1, iso2);
	put(R, "<h3>Reach and views per day</h3>");
	ss[0] = (struct series){ "Accounts reached", palette[0], reach };
	ss[1] = (struct series){ "Views", palette[2], views };
	bar_chart(R, "Reach and views per day", ss, 2, ndays, R->since);
	free(reach);
	put(R, "</section>");
}

/* One account's daily net follows (gained - lost) into net[ndays]; NAN
 * where Meta gave nothing. */
static void net_follows(struct rep *R, int64_t account, double *net, int ndays)
{
	struct ig_stmt *s;
	int n = 0, k;

	for (k = 0; k < ndays; k++)
		net[k] = NAN;
	s = ig_store_query(R->st, R->err,
		"SELECT end_time, sum(CASE WHEN breakdown = 'follow_type=FOLLOWER' THEN value"
		" WHEN breakdown = 'follow_type=NON_FOLLOWER' THEN -value ELSE 0 END)"
		" FROM insight_values WHERE account_id = ? AND media_id = '' AND metric ="
		" 'follows_and_unfollows' AND end_time > ? AND end_time <= ? GROUP BY end_time",
		"iii", account, R->since, R->until);
	while (s && (n = ig_stmt_next(R->st, s, R->err)) > 0) {
		k = (int)((ig_col_int(s, 0) - R->since) / DAY) - 1;
		if (k >= 0 && k < ndays)
			net[k] = ig_col_double(s, 1);
	}
	if (!s || n < 0)
		R->failed = 1;
}

/* A small chart of one series: solid where measured, dashed where
 * estimated. */
static void mini_chart(struct rep *R, const double *v, const char *measured, int ndays,
		       const char *color)
{
	const int W = 340, H = 110, L = 6, RM = 6, T = 8, B = 18;
	double lo = INFINITY, hi = -INFINITY;
	int k, pass;
	char lab[16];

	for (k = 0; k < ndays; k++)
		if (!isnan(v[k])) {
			lo = fmin(lo, v[k]);
			hi = fmax(hi, v[k]);
		}
	putf(R, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" role=\"img\""
	     " aria-label=\"followers per day\">", W, H);
	if (isinf(lo)) {
		put(R, "</svg>");
		return;
	}
	if (hi - lo < 4) {
		hi += 2;
		lo -= 2;
	}
	putf(R, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"grid\"/>", L, H - B, W - RM, H - B);
	/* the whole series dashed (estimated and measured alike), then the
	 * measured stretches solid over it */
	for (pass = 0; pass < 2; pass++) {
		int open = 0;

		for (k = 0; k < ndays; k++) {
			int in = !isnan(v[k]) && (pass == 0 || measured[k]);

			if (in && !open) {
				putf(R, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\""
				     " stroke-linejoin=\"round\"%s points=\"", color,
				     pass ? "" : " stroke-dasharray=\"4 3\" opacity=\".6\"");
				open = 1;
			}
			if (in)
				putf(R, "%.1f,%.1f ", L + (double)(W - L - RM) * k / (ndays > 1 ? ndays - 1 : 1),
				     T + (H - T - B) * (1.0 - (v[k] - lo) / (hi - lo)));
			if (!in && open) {
				put(R, "\"/>");
				open = 0;
			}
		}
		if (open)
			put(R, "\"/>");
	}
	for (k = ndays - 1; k >= 0; k--)
		if (!isnan(v[k])) {
			putf(R, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.2\" fill=\"%s\"/>",
			     L + (double)(W - L - RM) * k / (ndays > 1 ? ndays - 1 : 1),
			     T + (H - T - B) * (1.0 - (v[k] - lo) / (hi - lo)), color);
			break;
		}
	day_label(R->since, lab, sizeof(lab));
	putf(R, "<text x=\"%d\" y=\"%d\" class=\"xlab\" style=\"text-anchor:start\">%s</text>", L,
	     H - 4, lab);
	day_label(R->until - DAY, lab, sizeof(lab));
	putf(R, "<text x=\"%d\" y=\"%d\" class=\"xlab\" style=\"text-anchor:end\">%s</text>",
	     W - RM, H - 4, lab);
	put(R, "</svg>");
}

static void section_followers(struct rep *R, int ndays)
{
	struct ig_stmt *s;
	int64_t ids[MAX_SERIES];
	char names[MAX_SERIES][80];
	double *v, *net;
	char *measured;
	int na = 0, n = 0, i, k, any_est = 0;

	v = malloc(sizeof(double) * (size_t)ndays * 2);
	measured = malloc((size_t)ndays);
	if (!v || !measured) {
		free(v);
		free(measured);
		R->failed = 1;
		return;
	}
	net = v + ndays;
	s = ig_store_query(R->st, R->err,
		"SELECT a.id, coalesce(a.username, a.external_id) FROM accounts a"
		" WHERE (?1 = 0 OR a.tenant_id = ?1) AND (?2 = 0 OR a.id = ?2) AND a.channel = 'instagram'"
		" AND EXISTS (SELECT 1 FROM brand_snapshots b WHERE b.account_id = a.id"
		"  AND b.followers_count IS NOT NULL)"
		" ORDER BY (SELECT max(b.followers_count) FROM brand_snapshots b WHERE b.account_id = a.id)"
		" DESC LIMIT 6", "ii", R->tid, R->aid);
	while (s && na < MAX_SERIES && (n = ig_stmt_next(R->st, s, R->err)) > 0) {
		ids[na] = ig_col_int(s, 0);
		snprintf(names[na], sizeof(names[na]), "@%s", ig_col_text(s, 1));
		na++;
	}
	if (!s || n < 0)
		R->failed = 1;
	if (s && n > 0)
		ig_stmt_reset(s);
	put(R, "<section><h2>Followers over time</h2>");
	if (!na)
		put(R, "<p class=\"empty\">No snapshots yet.</p>");
	else
		put(R, "<div class=\"minis\">");
	for (i = 0; i < na; i++) {
		double first = NAN, last = NAN;
		int lastk = -1;

		for (k = 0; k < ndays; k++) {
			v[k] = NAN;
			measured[k] = 0;
		}
		s = ig_store_query(R->st, R->err,
			"SELECT fetched_at, followers_count FROM brand_snapshots WHERE account_id = ?"
			" AND followers_count IS NOT NULL AND fetched_at >= ? AND fetched_at < ?"
			" ORDER BY fetched_at, id", "iii", ids[i], R->since, R->until + DAY);
		while (s && (n = ig_stmt_next(R->st, s, R->err)) > 0) {
			k = (int)((ig_col_int(s, 0) - R->since) / DAY);
			if (k >= ndays)
				k = ndays - 1;   /* today's snapshot: the period's last point */
			if (k >= 0) {
				v[k] = (double)ig_col_int(s, 1);
				measured[k] = 1;
			}
		}
		if (!s || n < 0)
			R->failed = 1;
		/* before the first snapshot: walk back with Meta's daily follows
		 * minus unfollows (follows_and_unfollows), marked as estimated */
		net_follows(R, ids[i], net, ndays);
		for (k = 0; k < ndays && isnan(v[k]); k++)
			;
		for (k = k - 1; k >= 0 && k + 1 < ndays && !isnan(v[k + 1]); k--) {
			if (isnan(net[k + 1]))
				break;
			v[k] = v[k + 1] - net[k + 1];
			any_est = 1;
		}
		for (k = 0; k < ndays; k++)
			if (!isnan(v[k])) {
				if (isnan(first))
					first = v[k];
				last = v[k];
				lastk = k;
			}
		put(R, "<div class=\"mini\"><div class=\"mhead\"><span class=\"handle\">");
		esc(R, names[i]);
		put(R, "</span><span><b>");
		if (lastk >= 0)
			put_num(R, last);
		put(R, "</b>");
		if (lastk >= 0 && !isnan(first) && first != last) {
			putf(R, " <span class=\"%s\">%s", last > first ? "up" : "down", last > first ? "+" : "");
			put_num(R, last - first);
			put(R, "</span>");
		}
		put(R, "</span></div>");
		mini_chart(R, v, measured, ndays, palette[i % MAX_SERIES]);
		put(R, "</div>");
	}
	if (na)
		put(R, "</div>");
	put(R, "<p class=\"note\">Solid: the brand snapshot's followers_count (Meta keeps no history"
	     " of the total, so igkit keeps one).");
	if (any_est)
		put(R, " Dashed: before the first snapshot, estimated backwards from Meta's daily"
		     " follows minus unfollows (follows_and_unfollows).");
	put(R, "</p></section>");
	free(v);
	free(measured);
}

/* The newest lifetime value of a media's metric, or NAN. */
static double media_value(struct rep *R, int64_t account, const char *media, const char *metric)
{
	int64_t dummy = 0;
	struct ig_stmt *s = ig_store_query(R->st, R->err,
		"SELECT value FROM insight_values WHERE account_id = ? AND media_id = ? AND metric = ?"
		" AND breakdown = '' ORDER BY end_time DESC LIMIT 1", "iss", account, media, metric);
	double v = NAN;
	int n = 0;

	(void)dummy;
	if (s && (n = ig_stmt_next(R->st, s, R->err)) > 0) {
		v = ig_col_double(s, 0);
		ig_stmt_reset(s);
	} else if (!s || n < 0) {
		R->failed = 1;
	}
	return v;
}

static void cell_num(struct rep *R, double v)
{
	put(R, "<td class=\"n\">");
	if (isnan(v))
		put(R, "–");
	else
		put_num(R, v);
	put(R, "</td>");
}

static void caption_cell(struct rep *R, const char *caption, const char *permalink)
{
	char cap[200];
	size_t k;

	snprintf(cap, sizeof(cap), "%.*s", (int)strcspn(caption, "\r\n"), caption);
	if (strlen(cap) > 90) {
		k = 90;
		while (k && ((unsigned char)cap[k] & 0xC0) == 0x80)
			k--;
		strcpy(cap + k, "…");
	}
	put(R, "<td class=\"cap\">");
	if (permalink && *permalink) {
		put(R, "<a href=\"");
		esc(R, permalink);
		put(R, "\">");
		esc(R, *cap ? cap : "(no caption)");
		put(R, "</a>");
	} else {
		esc(R, *cap ? cap : "(no caption)");
	}
	put(R, "</td>");
}

static void section_top(struct rep *R)
{
	struct ig_stmt *s;
	json_t *rows = json_array(), *row;
	size_t i;
	int n = 0;

	if (!rows) {
		R->failed = 1;
		return;
	}
	s = ig_store_query(R->st, R->err,
		"SELECT m.account_id, m.media_id, m.product_type, coalesce(m.caption, ''),"
		" coalesce(m.permalink, ''), coalesce(m.posted_at, 0), coalesce(m.thumb_id, 0),"
		" coalesce(a.username, a.external_id), v.value"
		" FROM ig_media m JOIN accounts a ON a.id = m.account_id AND a.tenant_id = m.tenant_id"
		" JOIN insight_values v ON v.account_id = m.account_id AND v.media_id = m.media_id"
		"  AND v.metric = 'reach' AND v.breakdown = '' AND v.end_time = (SELECT max(x.end_time)"
		"  FROM insight_values x WHERE x.account_id = v.account_id AND x.media_id = v.media_id"
		"  AND x.metric = 'reach' AND x.breakdown = '')"
		" WHERE (?1 = 0 OR m.tenant_id = ?1) AND (?2 = 0 OR m.account_id = ?2)"
		" AND m.product_type <> 'STORY' AND coalesce(m.posted_at, 0) >= ?3 AND coalesce(m.posted_at, 0) < ?4"
		" ORDER BY v.value DESC LIMIT ?5", "iiiii", R->tid, R->aid, R->since - 30 * DAY, R->until,
		(int64_t)R->limit);
	while (s && (n = ig_stmt_next(R->st, s, R->err)) > 0) {
		row = json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:f}", "acc", (json_int_t)ig_col_int(s, 0),
			"media", ig_col_text(s, 1), "type", ig_col_text(s, 2), "caption", ig_col_text(s, 3),
			"link", ig_col_text(s, 4), "posted", (json_int_t)ig_col_int(s, 5),
			"thumb", (json_int_t)ig_col_int(s, 6), "user", ig_col_text(s, 7),
			"reach", ig_col_double(s, 8));
		if (!row || json_array_append_new(rows, row))
			R->failed = 1;
	}
	if (!s || n < 0)
		R->failed = 1;
	put(R, "<section><h2>Top media</h2>");
	if (!json_array_size(rows)) {
		put(R, "<p class=\"empty\">No media with insights posted in this period.</p>");
	} else {
		put(R, "<table><thead><tr><th></th><th>Media</th><th>Type</th><th>Posted</th>"
		     "<th class=\"n\">Reach</th><th class=\"n\">Views</th><th class=\"n\">Interactions</th>"
		     "<th class=\"n\">Saves</th><th class=\"n\">Eng. rate</th></tr></thead><tbody>");
	}
	json_array_foreach(rows, i, row) {
		int64_t acc = json_integer_value(json_object_get(row, "acc"));
		const char *media = ig_json_str(row, "media");
		double reach = json_real_value(json_object_get(row, "reach"));
		double inter = media_value(R, acc, media, "total_interactions");
		char d[16], alt[120];

		snprintf(alt, sizeof(alt), "%s", ig_json_str(row, "type"));
		put(R, "<tr><td class=\"th\">");
		put_picture(R, json_integer_value(json_object_get(row, "thumb")), "thumb", alt);
		put(R, "</td>");
		caption_cell(R, ig_json_str(row, "caption"), ig_json_str(row, "link"));
		put(R, "<td><span class=\"tag\">");
		esc(R, ig_json_str(row, "type"));
		put(R, "</span><div class=\"sub\">@");
		esc(R, ig_json_str(row, "user"));
		put(R, "</div></td><td>");
		if (json_integer_value(json_object_get(row, "posted"))) {
			date_of(json_integer_value(json_object_get(row, "posted")), d);
			put(R, d);
		}
		put(R, "</td>");
		cell_num(R, reach);
		cell_num(R, media_value(R, acc, media, "views"));
		cell_num(R, inter);
		cell_num(R, media_value(R, acc, media, "saved"));
		put(R, "<td class=\"n\">");
		if (!isnan(inter) && reach > 0)
			putf(R, "%.1f%%", 100.0 * inter / reach);
		else
			put(R, "–");
		put(R, "</td></tr>");
	}
	if (json_array_size(rows))
		put(R, "</tbody></table><p class=\"note\">Ranked by reach (lifetime, as last read);"
		     " engagement rate = interactions ÷ accounts reached by the media.</p>");
	put(R, "</section>");
	json_decref(rows);
}

static void section_stories(struct rep *R)
{
	struct ig_stmt *s;
	json_t *rows = json_array(), *row;
	size_t i;
	int n = 0;

	if (!rows) {
		R->failed = 1;
		return;
	}
	s = ig_store_query(R->st, R->err,
		"SELECT m.account_id, m.media_id, coalesce(m.posted_at, 0), coalesce(m.thumb_id, 0),"
		" coalesce(a.username, a.external_id),"
		" (SELECT f.note FROM insight_fetches f WHERE f.account_id = m.account_id"
		"  AND f.media_id = m.media_id AND f.grp = 'media' AND f.status = 'unavailable'),"
		" (SELECT count(*) FROM insight_values w WHERE w.account_id = m.account_id"
		"  AND w.media_id = m.media_id AND w.source = 'webhook')"
		" FROM ig_media m JOIN accounts a ON a.id = m.account_id AND a.tenant_id = m.tenant_id"
		" WHERE (?1 = 0 OR m.tenant_id = ?1) AND (?2 = 0 OR m.account_id = ?2)"
		" AND m.product_type = 'STORY' AND (m.posted_at IS NULL OR (m.posted_at >= ?3"
		" AND m.posted_at < ?4)) ORDER BY m.posted_at DESC LIMIT ?5",
		"iiiii", R->tid, R->aid, R->since, R->until + DAY, (int64_t)R->limit * 2);
	while (s && (n = ig_stmt_next(R->st, s, R->err)) > 0) {
		row = json_pack("{s:I,s:s,s:I,s:I,s:s,s:s?,s:I}", "acc", (json_int_t)ig_col_int(s, 0),
			"media", ig_col_text(s, 1), "posted", (json_int_t)ig_col_int(s, 2),
			"thumb", (json_int_t)ig_col_int(s, 3), "user", ig_col_text(s, 4),
			"note", ig_col_textn(s, 5), "webhook", (json_int_t)ig_col_int(s, 6));
		if (!row || json_array_append_new(rows, row))
			R->failed = 1;
	}
	if (!s || n < 0)
		R->failed = 1;
	put(R, "<section><h2>Stories</h2>");
	if (!json_array_size(rows)) {
		put(R, "<p class=\"empty\">No stories in this period. Stories answer for 24 hours only:"
		     " a sync at least every few hours catches them.</p></section>");
		json_decref(rows);
		return;
	}
	put(R, "<table><thead><tr><th></th><th>Story</th><th>Posted</th><th class=\"n\">Reach</th>"
	     "<th class=\"n\">Views</th><th class=\"n\">Replies</th><th class=\"n\">Navigation</th>"
	     "<th class=\"n\">Shares</th><th>Source</th></tr></thead><tbody>");
	json_array_foreach(rows, i, row) {
		int64_t acc = json_integer_value(json_object_get(row, "acc"));
		const char *media = ig_json_str(row, "media"), *note = ig_json_str(row, "note");
		char d[32];

		put(R, "<tr><td class=\"th\">");
		put_picture(R, json_integer_value(json_object_get(row, "thumb")), "thumb", "STORY");
		put(R, "</td><td><code>");
		esc(R, media);
		put(R, "</code><div class=\"sub\">@");
		esc(R, ig_json_str(row, "user"));
		put(R, "</div></td><td>");
		if (json_integer_value(json_object_get(row, "posted"))) {
			ig_time_iso(json_integer_value(json_object_get(row, "posted")), d);
			putf(R, "%.10s %.5s", d, d + 11);
		}
		put(R, "</td>");
		cell_num(R, media_value(R, acc, media, "reach"));
		cell_num(R, media_value(R, acc, media, "views"));
		cell_num(R, media_value(R, acc, media, "replies"));
		cell_num(R, media_value(R, acc, media, "navigation"));
		cell_num(R, media_value(R, acc, media, "shares"));
		put(R, "<td>");
		if (note) {
			put(R, "<span class=\"warn\">");
			esc(R, note);
			put(R, "</span>");
		} else {
			put(R, json_integer_value(json_object_get(row, "webhook")) ? "webhook" : "API");
		}
		put(R, "</td></tr>");
	}
	put(R, "</tbody></table><p class=\"note\">Meta serves story metrics for 24 hours and not below"
	     " 5 viewers (then marked). Figures from the story_insights webhook use Meta's names as"
	     " sent.</p></section>");
	json_decref(rows);
}

static void section_skus(struct rep *R)
{
	struct ig_stmt *s;
	int n = 0, any = 0;

	put(R, "<section><h2>Results by SKU</h2>");
	if (!ig_store_has_table(R->st, "post_skus") || !ig_store_has_table(R->st, "posts")) {
		put(R, "<p class=\"empty\">No SKU tags in this store: results by SKU come from"
		     " ig-publish's posts and their SKU tags.</p></section>");
		return;
	}
	s = ig_store_query(R->st, R->err,
		"SELECT ps.sku, count(DISTINCT m.media_id),"
		" sum(CASE WHEN v.metric = 'reach' THEN v.value ELSE 0 END),"
		" sum(CASE WHEN v.metric = 'views' THEN v.value ELSE 0 END),"
		" sum(CASE WHEN v.metric = 'total_interactions' THEN v.value ELSE 0 END)"
		" FROM post_skus ps JOIN posts p ON p.id = ps.post_id AND p.tenant_id = ps.tenant_id"
		" JOIN ig_media m ON m.media_id = p.media_id AND m.tenant_id = p.tenant_id"
		"  AND m.account_id = p.account_id"
		" JOIN insight_values v ON v.account_id = m.account_id AND v.media_id = m.media_id"
		"  AND v.breakdown = '' AND (v.metric = 'reach' OR v.metric = 'views'"
		"  OR v.metric = 'total_interactions') AND v.end_time = (SELECT max(x.end_time)"
		"  FROM insight_values x WHERE x.account_id = v.account_id AND x.media_id = v.media_id"
		"  AND x.metric = v.metric AND x.breakdown = '')"
		" WHERE (?1 = 0 OR ps.tenant_id = ?1) AND (?2 = 0 OR m.account_id = ?2)"
		" GROUP BY ps.sku ORDER BY 3 DESC, ps.sku LIMIT ?3", "iii", R->tid, R->aid,
		(int64_t)R->limit * 2);
	while (s && (n = ig_stmt_next(R->st, s, R->err)) > 0) {
		double reach = ig_col_double(s, 2), inter = ig_col_double(s, 4);

		if (!any++)
			put(R, "<table><thead><tr><th>SKU</th><th class=\"n\">Media</th>"
			     "<th class=\"n\">Reach</th><th class=\"n\">Views</th>"
			     "<th class=\"n\">Interactions</th><th class=\"n\">Eng. rate</th></tr></thead><tbody>");
		put(R, "<tr><td><code>");
		esc(R, ig_col_text(s, 0));
		put(R, "</code></td>");
		cell_num(R, (double)ig_col_int(s, 1));
		cell_num(R, reach);
		cell_num(R, ig_col_double(s, 3));
		cell_num(R, inter);
		put(R, "<td class=\"n\">");
		if (reach > 0)
			putf(R, "%.1f%%", 100.0 * inter / reach);
		else
			put(R, "–");
		put(R, "</td></tr>");
	}
	if (!s || n < 0)
		R->failed = 1;
	if (any)
		put(R, "</tbody></table><p class=\"note\">Per SKU: the sums over the media of the posts"
		     " tagged with it (ig-publish); engagement rate = interactions ÷ reach.</p>");
	else
		put(R, "<p class=\"empty\">No published post with SKU tags has insights yet.</p>");
	put(R, "</section>");
}

static const char css[] =
	"*{box-sizing:border-box}"
	"body{margin:0;background:#f4f5f8;color:#1f2430;font:15px/1.45 -apple-system,'Segoe UI',"
	"Roboto,'Helvetica Neue',Arial,sans-serif}"
	"header{background:linear-gradient(120deg,#4338ca,#7c3aed 55%,#db2777);color:#fff;"
	"padding:28px 40px 24px}"
	"header h1{margin:0 0 4px;font-size:26px;font-weight:700;letter-spacing:-.01em}"
	"header p{margin:0;opacity:.88}"
	"main{max-width:1080px;margin:0 auto;padding:8px 24px 40px}"
	"section{background:#fff;border-radius:14px;box-shadow:0 1px 3px rgba(20,20,50,.08);"
	"padding:20px 24px;margin:20px 0}"
	"h2{margin:0 0 14px;font-size:18px}h3{margin:18px 0 8px;font-size:15px;color:#4b5263}"
	".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:14px}"
	".card{border:1px solid #e6e8ef;border-radius:12px;padding:14px 16px}"
	".who{display:flex;gap:12px;align-items:center}"
	".avatar{width:56px;height:56px;border-radius:50%;object-fit:cover;flex:none;"
	"border:2px solid #fff;box-shadow:0 0 0 2px #db2777}"
	".placeholder{display:flex;align-items:center;justify-content:center;background:#e0e7ff;"
	"color:#4338ca;font-weight:700;font-size:20px;text-transform:uppercase}"
	".handle{font-weight:700}.name{color:#667085;font-size:13px}"
	".stats{display:flex;gap:18px;margin:12px 0 6px}.stats b{display:block;font-size:18px}"
	".stats span{color:#667085;font-size:12px}"
	".bio{margin:6px 0;font-size:13px;white-space:pre-line}.site{margin:0;font-size:13px;color:#4338ca}"
	".meta{margin:8px 0 0;font-size:12px;color:#667085}.meta.stale{color:#b45309}"
	".kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(118px,1fr));gap:10px}"
	".kpi{background:#f7f7fb;border-radius:10px;padding:12px 14px}"
	".kpi span{display:block;font-size:12px;color:#667085}.kpi b{display:block;font-size:21px;"
	"margin:2px 0}.kpi small{color:#98a2b3;font-size:11px}"
	".kpi.accent{background:#eef2ff}.kpi.accent b{color:#4338ca}"
	".note{font-size:12px;color:#667085;margin:10px 0 0}.empty{color:#98a2b3;font-style:italic}"
	"svg{width:100%;height:auto;display:block}"
	"svg .grid{stroke:#eceef3;stroke-width:1}"
	"svg text{font-size:11px;fill:#8a92a6}svg .ylab{text-anchor:end}svg .xlab{text-anchor:middle}"
	".legend{display:flex;gap:16px;font-size:12px;color:#4b5263;margin-top:4px}"
	".legend i{display:inline-block;width:10px;height:10px;border-radius:3px;margin-right:6px}"
	"table{width:100%;border-collapse:collapse;font-size:13px}"
	"th{text-align:left;color:#667085;font-weight:600;font-size:12px;padding:6px 8px;"
	"border-bottom:1px solid #e6e8ef}"
	"td{padding:8px;border-bottom:1px solid #f0f1f5;vertical-align:middle}"
	".n{text-align:right;font-variant-numeric:tabular-nums}"
	".th{width:60px}.thumb{width:48px;height:48px;border-radius:8px;object-fit:cover;display:block}"
	".thumb.placeholder{display:flex;font-size:9px;letter-spacing:.04em;"
	"background:linear-gradient(135deg,#e0e7ff,#fce7f3);color:#6366f1}"
	".minis{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:14px}"
	".mini{border:1px solid #e6e8ef;border-radius:12px;padding:10px 12px 4px}"
	".mhead{display:flex;justify-content:space-between;align-items:baseline;font-size:14px}"
	".up{color:#16a34a;font-size:12px}.down{color:#dc2626;font-size:12px}"
	".cap a{color:#1f2430;text-decoration:none}.sub{color:#98a2b3;font-size:11px}"
	".tag{background:#f1f5f9;border-radius:6px;padding:2px 6px;font-size:11px;font-weight:600}"
	".warn{color:#b45309;font-size:12px}code{font-size:12px}"
	"footer{max-width:1080px;margin:0 auto;padding:0 24px 32px;color:#98a2b3;font-size:12px}";

int ig_insights_report(struct ig_ctx *ctx, const struct ig_insights_filter *f, FILE *out,
		       struct ig_err *err)
{
	struct rep R;
	char title[256] = "", d1[16], d2[16], iso[32];
	int ndays, rc;

	memset(&R, 0, sizeof(R));
	R.ctx = ctx;
	R.st = ctx->store;
	R.err = err;
	R.now = ig_time_now();
	R.limit = f->limit > 0 ? f->limit : 10;
	if ((rc = ig_insights_metric_check(f->metric, err)))
		return rc;
	if ((rc = ig_insights_scope(ctx, f->tenant, 0, "insights.read", &R.tid, err)))
		return rc;
	if (f->account && (rc = ig_insights_account_ref(ctx, R.tid, f->account, &R.aid, err)))
		return rc;
	/* the period: whole UTC days, default the last 30 complete ones */
	R.until = f->until ? (f->until + DAY - 1) / DAY * DAY : R.now / DAY * DAY;
	R.since = f->since ? f->since / DAY * DAY : R.until - 30 * DAY;
	if (R.since >= R.until)
		return ig_err_set(err, IG_EX_USAGE, "the report's period is empty");
	ndays = (int)((R.until - R.since) / DAY);
	if (ndays > 400)
		return ig_err_set(err, IG_EX_USAGE, "the report covers at most 400 days, not %d", ndays);
	ig_buf_init(&R.b, REPORT_MAX);
	if (f->title) {
		snprintf(title, sizeof(title), "%s", f->title);
	} else if (R.tid) {
		struct ig_stmt *s = ig_store_query(R.st, err, "SELECT name FROM tenants WHERE id = ?", "i",
						   R.tid);

		if (s && ig_stmt_next(R.st, s, err) > 0) {
			snprintf(title, sizeof(title), "%s — Instagram insights", ig_col_text(s, 0));
			ig_stmt_reset(s);
		}
	}
	if (!title[0])
		snprintf(title, sizeof(title), "Instagram insights");
	date_of(R.since, d1);
	date_of(R.until - DAY, d2);
	put(&R, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"/><meta name=\"viewport\" content=\"width=device-width,"
	    "initial-scale=1\"/><meta name=\"generator\" content=\"ig-insights (igkit)\"/><title>");
	esc(&R, title);
	putf(&R, "</title><style>%s</style></head><body><header><h1>", css);
	esc(&R, title);
	putf(&R, "</h1><p>%s to %s (UTC) · generated %.16s UTC</p></header><main>", d1, d2,
	     ig_time_iso(R.now, iso));
	section_snapshots(&R);
	section_overview(&R, ndays);
	section_followers(&R, ndays);
	section_top(&R);
	section_stories(&R);
	section_skus(&R);
	put(&R, "</main><footer>Figures from Meta's Instagram Graph API (account and media insights,"
	    " the story_insights webhook), cached by ig-insights sync: a value is at most 24 hours"
	    " old after a sync, and days younger than 72 hours are read again as Meta's data"
	    " settles. Generated by ig-insights; this file loads nothing from the network.</footer>"
	    "</body></html>\n");
	if (R.failed) {
		ig_buf_release(&R.b);
		return err->code ? err->code : ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	}
	if (fwrite(R.b.data, 1, R.b.len, out) != R.b.len || fflush(out) || ferror(out)) {
		ig_buf_release(&R.b);
		return ig_err_errno(err, IG_EX_IOERR, "cannot write the report");
	}
	ig_buf_release(&R.b);
	return 0;
}
