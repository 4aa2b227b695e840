/*
 * igtime.h — time in igkit: Unix seconds (int64) in the store, UTC ISO-8601
 * ("2026-11-22T10:00:00Z") on output.  Meta's millisecond timestamps are
 * normalised on intake with ig_time_from_meta().
 */
#ifndef IG_TIME_H
#define IG_TIME_H

#include <stdint.h>

/* Now, in Unix seconds.  IGKIT_NOW (Unix seconds) overrides the clock, for
 * tests of windows and expiries; it is read once per process. */
int64_t ig_time_now(void);
/* Write "YYYY-MM-DDTHH:MM:SSZ" into buf (at least 21 bytes); returns buf. */
char *ig_time_iso(int64_t t, char *buf);
/* Parse ISO-8601 UTC ("…Z", "…+00:00", date only) or decimal Unix seconds.
 * Returns 0 and sets *out, or -1. */
int ig_time_parse(const char *s, int64_t *out);
/* A Meta timestamp in ms or s (values > 1e12 are ms) → seconds. */
int64_t ig_time_from_meta(int64_t t);
/* Parse a duration: "90", "90s", "15m", "24h", "7d".  0 or -1. */
int ig_duration_parse(const char *s, int64_t *out);

#endif
