/*
 * apikey.h — the form of an API key, "igk_<prefix>_<secret>" (made by
 * ig_apikey_new in tenant.h).  Depends on nothing but the hashes, so both
 * the context (who is acting) and the permission table can use it without
 * depending on each other.
 */
#ifndef IG_APIKEY_H
#define IG_APIKEY_H

/* Split and hash a presented key: prefix (16 characters), hash (SHA-256,
 * hex).  0, or -1 when malformed. */
int ig_apikey_parse(const char *key, char prefix[17], char hash[65]);

#endif
