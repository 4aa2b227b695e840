/*
 * apikey_parse.c — the form of a presented API key (apikey.h).  Alone in
 * its file: ctx.c links it into every program, and it must not bring the
 * key management (OpenSSL's random source, the tenancy modules) along.
 */
#include <string.h>

#include "apikey.h"
#include "crypto.h"

int ig_apikey_parse(const char *key, char prefix[17], char hash[65])
{
	unsigned char h[32];
	const char *p;

	if (!key || strncmp(key, "igk_", 4))
		return -1;
	p = strchr(key + 4, '_');
	if (!p || p - (key + 4) != 16 || strlen(p + 1) < 32)
		return -1;
	memcpy(prefix, key + 4, 16);
	prefix[16] = '\0';
	ig_sha256(key, strlen(key), h);
	ig_hex(h, 32, hash);
	return 0;
}
