/*
 * record.h — what the listings and records of the tenancy modules (tenant.h,
 * user.h, member.h, agent.h, location.h, apikey.h) share with each other and
 * with other modules' listings (publish.h): the row sink and the limits on
 * free text.  Depends on jansson only.
 */
#ifndef IG_RECORD_H
#define IG_RECORD_H

#include <jansson.h>

/* Limits on free text, so one record cannot bloat the store. */
#define IG_NAME_MAX 200        /* display names, business and tenant names */
#define IG_TEXT_MAX 65536      /* personality, instructions, hours, context */

/*
 * A row sink for listings: called once per row with a borrowed object.  It
 * returns 0 to go on, or an exit code that stops the listing; the listing
 * function then returns that code without touching err (the sink knows why
 * it stopped, e.g. a write error).
 */
typedef int ig_row_fn(void *arg, const json_t *row);

#endif
