/*
 * err.h — the error value the library returns instead of printing or exiting.
 *
 * Every library function that can fail takes a `struct ig_err *` (may be NULL)
 * and returns 0 on success or an exit code from exitcodes.h; on failure it
 * has filled err->msg with a lower-case message without a final stop, which
 * the program prints after its own name.
 */
#ifndef IG_ERR_H
#define IG_ERR_H

#include "exitcodes.h"

struct ig_err {
	int code;         /* an IG_EX_* value; 0 when no error */
	char msg[1024];
};

/* Set err (if not NULL) and return code.  printf-style. */
int ig_err_set(struct ig_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefix err->msg with "fmt: " (adds context on the way up); returns err->code. */
int ig_err_prefix(struct ig_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ig_err_clear(struct ig_err *err);

/* Like ig_err_set, but the message ends in ": strerror(errno)". */
int ig_err_errno(struct ig_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
