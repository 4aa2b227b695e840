#include <string.h>

#include "authz.h"
#include "inbox.h"

static int may(struct ig_ctx *ctx, int64_t tenant, enum ig_access a, const char *action,
	       struct ig_err *err)
{
	return ig_authz_require(ctx, tenant, IG_MOD_CONVERSATIONS, a, action, err);
}

int ig_inbox_reply_init(struct ig_reply *r, struct ig_ctx *ctx, struct ig_graph *g,
			const struct ig_reply_opts *o, struct ig_err *err)
{
	int rc = may(ctx, o->tenant_id, IG_WRITE, "reply.run", err);

	return rc ? rc : ig_reply_init(r, ctx, g, o, err);
}

int ig_inbox_send(struct ig_reply *r, int64_t tenant, int64_t conv, const char *text,
		  const char *template_name, int keep_ai, struct ig_outbox_item *it,
		  struct ig_err *err)
{
	int rc;

	memset(it, 0, sizeof(*it));   /* released by the caller either way */
	rc = may(r->ctx, tenant, IG_WRITE, "conversation.send", err);
	return rc ? rc : ig_reply_human_send(r, tenant, conv, text, template_name, keep_ai, it, err);
}

int ig_inbox_change(struct ig_ctx *ctx, int64_t tenant, int64_t conv, const char *action,
		    enum ig_conv_change what, const char *value, json_t **row, struct ig_err *err)
{
	int rc;

	*row = NULL;
	if ((rc = may(ctx, tenant, IG_WRITE, action, err))
	    || (rc = ig_reply_conv_change(ctx, tenant, conv, what, value, err)))
		return rc;
	return ig_reply_conv_json(ctx->store, tenant, conv, row, err);
}

int ig_inbox_list(struct ig_ctx *ctx, int64_t tenant, const struct ig_conv_filter *f,
		  json_t **out, struct ig_err *err)
{
	int rc = may(ctx, tenant, IG_READ, "conversation.list", err);

	*out = NULL;
	return rc ? rc : ig_reply_conv_list(ctx->store, tenant, f, out, err);
}

int ig_inbox_outbox(struct ig_ctx *ctx, int64_t tenant, const char *state, int64_t conv,
		    long limit, json_t **out, struct ig_err *err)
{
	int rc = may(ctx, tenant, IG_READ, "outbox.list", err);

	*out = NULL;
	return rc ? rc : ig_outbox_list(ctx->store, tenant, state, conv, limit, out, err);
}

int ig_inbox_decide(struct ig_ctx *ctx, int64_t tenant, int64_t id,
		    enum ig_outbox_action action, const char *text, struct ig_err *err)
{
	int rc = may(ctx, tenant, IG_WRITE, "outbox.decide", err);

	return rc ? rc : ig_outbox_decide(ctx, tenant, id, action, text, err);
}
