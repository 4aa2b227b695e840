#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "igtime.h"

int64_t ig_time_now(void)
{
	static int64_t fixed = -1;
	static int read_env;

	if (!read_env) {
		const char *s = getenv("IGKIT_NOW");
		int64_t v;

		read_env = 1;
		if (s && *s && ig_time_parse(s, &v) == 0)
			fixed = v;
	}
	if (fixed >= 0)
		return fixed;
	return (int64_t)time(NULL);
}

char *ig_time_iso(int64_t t, char *buf)
{
	time_t tt = (time_t)t;
	struct tm tm;

	int y;

	gmtime_r(&tt, &tm);
	y = tm.tm_year + 1900;
	if (y < 0 || y > 9999) {
		strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
		return buf;
	}
	/* what strftime writes, without its locale machinery (a routed event
	 * prints one of these) */
	buf[0] = (char)('0' + y / 1000);
	buf[1] = (char)('0' + y / 100 % 10);
	buf[2] = (char)('0' + y / 10 % 10);
	buf[3] = (char)('0' + y % 10);
	buf[4] = '-';
	buf[5] = (char)('0' + (tm.tm_mon + 1) / 10);
	buf[6] = (char)('0' + (tm.tm_mon + 1) % 10);
	buf[7] = '-';
	buf[8] = (char)('0' + tm.tm_mday / 10);
	buf[9] = (char)('0' + tm.tm_mday % 10);
	buf[10] = 'T';
	buf[11] = (char)('0' + tm.tm_hour / 10);
	buf[12] = (char)('0' + tm.tm_hour % 10);
	buf[13] = ':';
	buf[14] = (char)('0' + tm.tm_min / 10);
	buf[15] = (char)('0' + tm.tm_min % 10);
	buf[16] = ':';
	buf[17] = (char)('0' + tm.tm_sec / 10);
	buf[18] = (char)('0' + tm.tm_sec % 10);
	buf[19] = 'Z';
	buf[20] = '\0';
	return buf;
}

int ig_time_parse(const char *s, int64_t *out)
{
	struct tm tm;
	const char *p;
	char *end;

	if (!s || !*s)
		return -1;
	for (p = s; *p && isdigit((unsigned char)*p); p++)
		;
	if (!*p) {
		long long v;

		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno || *end || v < 0)
			return -1;
		*out = v;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%d", &tm);
	if (!p)
		return -1;
	if (*p == 'T' || *p == ' ') {
		p = strptime(p + 1, "%H:%M", &tm);
		if (!p)
			return -1;
		if (*p == ':') {
			p = strptime(p + 1, "%S", &tm);
			if (!p)
				return -1;
		}
		if (*p == '.')
			for (p++; isdigit((unsigned char)*p); p++)
				;
	}
	if (*p == 'Z')
		p++;
	else if (!strcmp(p, "+00:00"))
		p += 6;
	if (*p)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

int64_t ig_time_from_meta(int64_t t)
{
	return t > 1000000000000LL ? t / 1000 : t;
}

int ig_duration_parse(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || v < 0)
		return -1;
	switch (*end) {
	case '\0': case 's': break;
	case 'm': v *= 60; break;
	case 'h': v *= 3600; break;
	case 'd': v *= 86400; break;
	default: return -1;
	}
	if (*end && end[1])
		return -1;
	*out = v;
	return 0;
}
