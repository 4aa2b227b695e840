/* Unit tests of lib/igtime: ig_time_iso writes what strftime writes. */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "igtime.h"
#include "tap.h"

int main(void)
{
	static const int64_t fixed[] = { 0, 1, 59, 86399, 951782400 /* 2000-02-29 */,
		1770112845, 4102444799 /* 2099-12-31T23:59:59 */, 253402300799 /* 9999-12-31 */ };
	char got[24], want[32];
	int64_t t;
	size_t i;
	int same = 0, n = 0;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		time_t tt = (time_t)fixed[i];
		struct tm tm;

		gmtime_r(&tt, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
		is_str(ig_time_iso(fixed[i], got), want, "%lld is %s", (long long)fixed[i], want);
	}
	/* every day of 1970-2100 at a varying time of day */
	for (t = 0; t < 4102444800LL; t += 86400 + 3607, n++) {
		time_t tt = (time_t)t;
		struct tm tm;

		gmtime_r(&tt, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
		same += !strcmp(ig_time_iso(t, got), want);
	}
	is_int(same, n, "%d instants from 1970 to 2100 as strftime writes them", n);
	return done_testing();
}
