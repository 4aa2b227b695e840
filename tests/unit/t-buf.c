/* Unit tests of lib/buf: growth, the hard maximum, SIZE_MAX as "no limit",
 * reading a file, detaching. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tap.h"

int main(void)
{
	struct ig_buf b = IG_BUF_INIT(10), u = IG_BUF_INIT(SIZE_MAX);
	char big[1000], *p;
	size_t n;
	FILE *f;

	ok(ig_buf_adds(&b, "hello") == 0, "add within max");
	ok(ig_buf_addf(&b, "%d", 1234) == 0, "formatted add");
	is_str(b.data, "hello1234", "content NUL-terminated");
	errno = 0;
	ok(ig_buf_adds(&b, "xy") == -1 && errno == EFBIG, "past max refused with EFBIG");
	is_str(b.data, "hello1234", "a refused add changes nothing");
	ok(ig_buf_adds(&b, "x") == 0 && b.len == 10, "exactly max is allowed");
	ok(b.alloc <= 11, "never allocates past max + 1");
	ig_buf_release(&b);
	ok(b.data == NULL && b.len == 0, "release empties");

	memset(big, 'a', sizeof(big));
	for (n = 0; n < 100; n++)
		if (ig_buf_add(&u, big, sizeof(big)))
			break;
	is_int(u.len, 100000, "SIZE_MAX max grows without wrapping");
	ok(u.data[u.len] == '\0', "still terminated");
	p = ig_buf_detach(&u, &n);
	is_int(n, 100000, "detach hands over the length");
	ok(u.data == NULL && u.len == 0, "detach leaves the buffer empty");
	free(p);

	f = fmemopen((void *)"", 0, "r");
	ig_buf_init(&b, 100);
	ok(ig_buf_read_file(&b, f) == 0 && b.data && b.data[0] == '\0', "empty file gives an empty string");
	fclose(f);
	ig_buf_release(&b);
	f = fmemopen((void *)"0123456789abc", 13, "r");
	ig_buf_init(&b, 10);
	ok(ig_buf_read_file(&b, f) == -1 && errno == EFBIG, "file over max refused");
	fclose(f);
	ig_buf_release(&b);
	return done_testing();
}
