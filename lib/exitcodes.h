/*
 * exitcodes.h — the one table of exit statuses every igkit program keeps
 * (DESIGN.md §4).  Values follow sysexits(3) so supervisors and cron wrappers
 * can tell "don't retry" (64-70, 77, 78) from "retry later" (75).
 * Every man page's EXIT STATUS section cites this table.
 */
#ifndef IG_EXITCODES_H
#define IG_EXITCODES_H

enum ig_exit {
	IG_EX_OK = 0,           /* success */
	IG_EX_USAGE = 64,       /* bad command line */
	IG_EX_DATAERR = 65,     /* bad input data, bad signature, a named object that
	                         * does not exist, a stream with a bad record */
	IG_EX_NOINPUT = 66,     /* an input file is missing or unreadable */
	IG_EX_UNAVAILABLE = 69, /* the remote refused permanently */
	IG_EX_SOFTWARE = 70,    /* internal error (a bug) */
	IG_EX_CANTCREAT = 73,   /* cannot create the store or a key file */
	IG_EX_IOERR = 74,       /* I/O error on the store or stdout */
	IG_EX_TEMPFAIL = 75,    /* temporary: network, 5xx, rate limit, busy store */
	IG_EX_NOPERM = 77,      /* permission denied, token revoked */
	IG_EX_CONFIG = 78,      /* configuration error */
};

#endif
