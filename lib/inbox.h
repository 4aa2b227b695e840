/*
 * inbox.h — the human side of conversations as ig-reply's subcommands use
 * it, with the permission checks next to the data (module conversations:
 * read for listings, write for changes and sends).  The work itself is
 * lib/reply.c's and lib/outbox.c's.
 */
#ifndef IG_INBOX_H
#define IG_INBOX_H

#include <stdint.h>
#include <jansson.h>

#include "ctx.h"
#include "err.h"
#include "outbox.h"
#include "reply.h"

/* ig_reply_init for a reply run over tenant (0: all), after checking that
 * the actor may reply there ("reply.run"). */
int ig_inbox_reply_init(struct ig_reply *r, struct ig_ctx *ctx, struct ig_graph *g,
			const struct ig_reply_opts *o, struct ig_err *err);

/* A human reply (ig_reply_human_send), checked ("conversation.send"); *it
 * is initialised even when the check fails (release it either way). */
int ig_inbox_send(struct ig_reply *r, int64_t tenant, int64_t conv, const char *text,
		  const char *template_name, int keep_ai, struct ig_outbox_item *it,
		  struct ig_err *err);

/* Change a conversation (action: "pause", "resume", "assign", "status",
 * "priority"), then *row: its listing row (new reference). */
int ig_inbox_change(struct ig_ctx *ctx, int64_t tenant, int64_t conv, const char *action,
		    enum ig_conv_change what, const char *value, json_t **row, struct ig_err *err);

/* Listings: conversations ("conversation.list"), outbox rows ("outbox.list"). */
int ig_inbox_list(struct ig_ctx *ctx, int64_t tenant, const struct ig_conv_filter *f,
		  json_t **out, struct ig_err *err);
int ig_inbox_outbox(struct ig_ctx *ctx, int64_t tenant, const char *state, int64_t conv,
		    long limit, json_t **out, struct ig_err *err);

/* A human's decision on an outbox row ("outbox.decide"). */
int ig_inbox_decide(struct ig_ctx *ctx, int64_t tenant, int64_t id,
		    enum ig_outbox_action action, const char *text, struct ig_err *err);

#endif
