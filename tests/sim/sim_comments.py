"""sim_comments - the simulator's media listing and comments (reference §6) for ig-comments.

Graph endpoints (graph.instagram.com with an Instagram token, graph.facebook.com with a Page
token of the linked Page):
  GET  /<IG_ID>/media                 newest first, cursor paging (limit default 25, max 100)
  GET  /<MEDIA>/comments              top-level comments, newest first, at most 50 a page,
                                      replies{...} expandable (first 50, with paging.next)
  POST /<MEDIA>/comments?message=     a top-level comment (refused on live media)
  GET  /<COMMENT>/replies             replies, oldest first, at most 50 a page
  POST /<COMMENT>/replies?message=    text only; refused on a reply, with an attachment,
                                      without text
  POST /<IG_ID>/mentions?media_id=&comment_id=&message=   (graph.facebook.com only) answer
                                      where the account was @mentioned
  GET  /<COMMENT>?fields=             the comment (100/33 once deleted)
  POST /<COMMENT>?hide=true|false     refused on live comments, on the owner's own comments,
                                      for another account's media
  DELETE /<COMMENT>                   the media owner only; refused on live comments
Private replies stay in graphsim.py's Send API: every comment made here is also registered in
sim.comments so its 7-day and once-per-comment rules apply.  One correction goes first:
POST graph.facebook.com/<IG_ID>/messages answers (#3) "does not have the capability" (§3.4),
where graphsim's Send API would answer 100/33.

Control endpoints:
  POST /_sim/media          {"account","id"?,"caption"?,"media_product_type"?,"timestamp"?,
                             "owner"? (another account's media: a mention),
                             "comments":[{"id"?,"from","username","text","timestamp"?,
                                          "hidden"?,"replies":[...]}]}
  GET  /_sim/media?account=
  POST /_sim/media_bulk     {"account","media":N,"comments":M,"replies":R} (benchmarks)
  POST /_sim/media/<MEDIA>/comment  {"from","username","text","parent"?,"id"?,"webhook"?:true}
                            creates a comment and, with webhook, answers the signed delivery
                            (an ig-route envelope) of its `comments` change (§2.4)
  GET  /_sim/comment/<ID>   the comment as the simulator holds it
  POST /_sim/comment_fault  {"action":"reply|hide|unhide|delete|comment","count"?:1,"code"?:1,
                             "subcode"?,"status"?:500,"message"?}: the next such action is
                            carried out, then answered with that error (§9.1 ambiguity)
"""
import base64
import time
import urllib.parse

import graphsim as G

COMMENT_PAGE = 50
MEDIA_PAGE_MAX = 100


def _reset(sim):
    sim.cm_media = {}        # media id -> record
    sim.cm_by_account = {}   # account id -> [media ids], newest first
    sim.cm_comments = {}     # comment id -> record
    sim.cm_faults = []
    sim.cm_seq = 0


G.RESET_HOOKS.append(_reset)


def _iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(t))


def _new_id(sim, prefix="18"):
    sim.cm_seq += 1
    return "%s%015d" % (prefix, int(sim.now()) % 10 ** 9 * 10 ** 6 + sim.cm_seq)


def _cursor(i):
    return base64.b64encode(str(i).encode()).decode()


def _offset(req):
    try:
        return int(base64.b64decode(req.params.get("after") or "MA==").decode())
    except ValueError:
        raise G.param_error("Invalid after cursor")


def _limit(req, default, cap):
    try:
        n = int(req.params.get("limit") or default)
    except ValueError:
        raise G.param_error("Invalid limit")
    return max(1, min(cap, n))


def _page(req, items, start, limit, render):
    chunk = items[start:start + limit]
    out = {"data": [render(x) for x in chunk]}
    if chunk:
        out["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(start + len(chunk))}}
        if start + len(chunk) < len(items):
            q = dict(req.query, after=_cursor(start + len(chunk)), limit=limit)
            out["paging"]["next"] = "%s%s?%s" % (req.base_url, req.path, urllib.parse.urlencode(q))
    return out


# ---------------------------------------------------------------- world

def add_media(sim, account, d):
    mid = str(d.get("id") or _new_id(sim, "17"))
    ts = float(d.get("timestamp", sim.now()))
    m = {"id": mid, "account": str(account), "owner": str(d.get("owner") or account),
         "caption": d.get("caption", ""), "media_product_type": d.get("media_product_type", "FEED"),
         "media_type": d.get("media_type", "IMAGE"), "timestamp": ts,
         "permalink": "https://www.instagram.com/p/%s/" % mid, "comments": []}
    sim.cm_media[mid] = m
    lst = sim.cm_by_account.setdefault(str(account), [])
    lst.append(mid)
    lst.sort(key=lambda x: -sim.cm_media[x]["timestamp"])
    for c in d.get("comments", []):
        add_comment(sim, m, c)
    return m


def add_comment(sim, media, d, parent=None):
    cid = str(d.get("id") or _new_id(sim))
    owner = sim.accounts.get(media["owner"], {})
    frm = str(d.get("from") or "")
    own = frm == media["owner"] or bool(d.get("self"))
    c = {"id": cid, "media": media["id"], "account": media["owner"], "parent": parent,
         "from": frm, "username": d.get("username") or (owner.get("username") if own else None),
         "text": d.get("text", ""), "timestamp": float(d.get("timestamp", sim.now())),
         "hidden": bool(d.get("hidden")), "deleted": False, "like_count": int(d.get("like_count", 0)),
         "self": own, "replies": []}
    sim.cm_comments[cid] = c
    if parent:
        sim.cm_comments[parent]["replies"].append(cid)
    else:
        media["comments"].append(cid)
    # private replies (graphsim's Send API) know the comment
    sim.add_comment({"id": cid, "account": media["owner"], "from": frm, "text": c["text"],
                     "created_at": c["timestamp"], "self": own})
    for r in d.get("replies", []):
        add_comment(sim, media, r, parent=cid)
    return c


_DEFAULT_FIELDS = [("id", None), ("text", None), ("timestamp", None)]
_parsed = {}


def _fields(spec):
    """parse_fields, once per distinct spec (a page renders 50 comments)."""
    if not spec:
        return _DEFAULT_FIELDS
    if spec not in _parsed:
        if len(_parsed) > 256:
            _parsed.clear()
        _parsed[spec] = G.parse_fields(spec)
    return _parsed[spec]


def render(sim, c, fields):
    sim_fields = _fields(fields)
    out = {}
    for name, sub in sim_fields:
        if name == "id":
            out["id"] = c["id"]
        elif name == "text":
            out["text"] = c["text"]
        elif name == "timestamp":
            out["timestamp"] = _iso(c["timestamp"])
        elif name == "from":
            if c["from"]:
                out["from"] = {"id": c["from"], "username": c["username"]}
        elif name == "username":
            if c["username"]:
                out["username"] = c["username"]
        elif name == "like_count":
            out["like_count"] = c["like_count"]
        elif name == "hidden":
            out["hidden"] = c["hidden"]
        elif name == "parent_id":
            if c["parent"]:
                out["parent_id"] = c["parent"]
        elif name == "media":
            out["media"] = {"id": c["media"]}
        elif name == "replies":
            reps = [r for r in c["replies"] if not sim.cm_comments[r]["deleted"]]
            sub_fields = ",".join(n for n, _ in sub) if sub else None
            page = reps[:COMMENT_PAGE]
            rep = {"data": [render(sim, sim.cm_comments[r], sub_fields) for r in page]}
            if len(reps) > COMMENT_PAGE:
                rep["paging"] = {"cursors": {"before": _cursor(0), "after": _cursor(COMMENT_PAGE)},
                                 "next": "replies?after=" + _cursor(COMMENT_PAGE)}
            out["replies"] = rep
        else:
            raise G.param_error("Tried accessing nonexisting field (%s) on node type "
                                "(IGComment)" % name)
    out.setdefault("id", c["id"])
    return out


# ---------------------------------------------------------------- auth

def _check(api, req, account, method="get", node=None):
    """The token may act for account (the media owner); else Meta's 100/33."""
    sim = api.sim
    if req.host in G.IG_GRAPH:
        tok = api.auth(req, ("ig",))
        acct = sim.accounts.get(tok["owner"])
        if acct is None or acct["id"] != account:
            raise G.unsupported(node or account, method)
        api.need_scope(tok, "instagram_business_manage_comments")
    else:
        tok = api.auth(req, ("user", "page"))
        try:
            kind, _ = api.fb_node(account, tok, method)
        except G.GraphError:
            raise G.unsupported(node or account, method)
        if kind != "iguser":
            raise G.unsupported(node or account, method)
        api.need_scope(tok, "instagram_manage_comments")
    return tok


def _fault(sim, action):
    for f in sim.cm_faults:
        if f["action"] == action:
            f["count"] -= 1
            if f["count"] <= 0:
                sim.cm_faults.remove(f)
            code = int(f.get("code", 1))
            raise G.GraphError(code, f.get("message"), f.get("subcode"),
                               int(f.get("status") or {1: 500, 2: 503}.get(code, 400)))


def _live(media):
    return media["media_product_type"] in ("LIVE", "IG_LIVE")


def _comment(sim, node, method):
    c = sim.cm_comments.get(node)
    if c is None or c["deleted"]:
        raise G.unsupported(node, method)
    return c


# ---------------------------------------------------------------- routes

# Fields of IGMedia (reference §6) that the media made here (images, no video) lack.
IGMEDIA_ABSENT = {"thumbnail_url", "shortcode", "username", "is_comment_enabled", "owner",
                  "alt_text", "children", "boost_ads_list", "legacy_instagram_media_id"}


@G.route(G.IG_GRAPH + G.FB_GRAPH, "GET", "{node}/media")
def media_list(api, req, node):
    sim = api.sim
    if req.host in G.IG_GRAPH:
        tok = api.auth(req, ("ig",))
        acct = api.ig_account(node, tok)
    else:
        tok = api.auth(req, ("user", "page"))
        kind, acct = api.fb_node(node, tok)
        if kind != "iguser":
            raise G.param_error("Tried accessing nonexisting field (media) on node type (%s)" %
                                {"page": "Page", "user": "User"}[kind])
    items = [m for m in sim.cm_by_account.get(acct["id"], [])
             if sim.cm_media[m]["owner"] == acct["id"]]
    if not items:
        raise G.NextRoute()   # the account's media are another plugin's (publish, insights)
    fields = G.parse_fields(req.params.get("fields") or "id")

    def rend(mid):
        m = sim.cm_media[mid]
        avail = {"id": m["id"], "caption": m["caption"], "media_type": m["media_type"],
                 "media_product_type": m["media_product_type"], "permalink": m["permalink"],
                 "timestamp": _iso(m["timestamp"]),
                 "comments_count": sum(1 + len(sim.cm_comments[c]["replies"])
                                       for c in m["comments"]),
                 "like_count": 0, "media_url": "https://scontent.cdninstagram.com/sim/%s.jpg" % mid}
        out = {}
        for name, _ in fields:
            if name in IGMEDIA_ABSENT:
                continue   # a field of IGMedia these media do not have (Meta leaves it out)
            if name not in avail:
                raise G.param_error("Tried accessing nonexisting field (%s) on node type "
                                    "(IGMedia)" % name)
            out[name] = avail[name]
        out.setdefault("id", m["id"])
        return out
    return _page(req, items, _offset(req), _limit(req, 25, MEDIA_PAGE_MAX), rend)


@G.route(G.IG_GRAPH + G.FB_GRAPH, "GET,POST", "{node}/comments")
def media_comments(api, req, node):
    sim = api.sim
    m = sim.cm_media.get(node)
    if m is None:
        raise G.NextRoute()   # another plugin's media (a published post's first comment)
    tok = _check(api, req, m["owner"], req.method, node)
    if req.method == "POST":
        if _live(m):
            raise G.param_error("Comments cannot be created on live media")
        text = req.params.get("message")
        if not text:
            raise G.param_error("The parameter message is required")
        acct = sim.accounts[m["owner"]]
        c = add_comment(sim, m, {"from": acct["id"], "username": acct["username"], "text": text,
                                 "self": True})
        _fault(sim, "comment")
        return {"id": c["id"]}
    del tok
    items = sorted((c for c in m["comments"] if not sim.cm_comments[c]["deleted"]),
                   key=lambda c: -sim.cm_comments[c]["timestamp"])
    fields = req.params.get("fields")
    return _page(req, items, _offset(req), _limit(req, 25, COMMENT_PAGE),
                 lambda cid: render(sim, sim.cm_comments[cid], fields))


@G.route(G.IG_GRAPH + G.FB_GRAPH, "GET,POST", "{node}/replies")
def comment_replies(api, req, node):
    sim = api.sim
    c = _comment(sim, node, req.method)
    m = sim.cm_media[c["media"]]
    _check(api, req, m["owner"], req.method, node)
    if req.method == "POST":
        if c["parent"]:
            raise G.param_error("Replies can only be made to top-level comments; reply to %s"
                                % c["parent"])
        for k in ("attachment", "attachment_url", "attachment_id", "image_url", "video_url"):
            if req.params.get(k):
                raise G.param_error("Comment replies are text only: %s is not supported" % k)
        text = req.params.get("message")
        if not text:
            raise G.param_error("The parameter message is required")
        acct = sim.accounts[m["owner"]]
        r = add_comment(sim, m, {"from": acct["id"], "username": acct["username"], "text": text,
                                 "self": True}, parent=node)
        _fault(sim, "reply")
        return {"id": r["id"]}
    items = [r for r in c["replies"] if not sim.cm_comments[r]["deleted"]]
    fields = req.params.get("fields")
    return _page(req, items, _offset(req), _limit(req, 25, COMMENT_PAGE),
                 lambda cid: render(sim, sim.cm_comments[cid], fields))


@G.route(G.FB_GRAPH, "POST", "{node}/mentions")
def mention_reply(api, req, node):
    """FLfB only (§6): a comment on the media where the account was @mentioned."""
    sim = api.sim
    tok = api.auth(req, ("user", "page"))
    kind, acct = api.fb_node(node, tok, "post")
    if kind != "iguser":
        raise G.unsupported(node, "post")
    api.need_scope(tok, "instagram_manage_comments")
    req.require("media_id", "message")
    m = sim.cm_media.get(str(req.params["media_id"]))
    if m is None:
        raise G.param_error("Invalid media_id")
    if m["media_product_type"] == "STORY":
        raise G.param_error("Mentions in stories cannot be replied to")
    parent = req.params.get("comment_id")
    if parent and parent not in sim.cm_comments:
        raise G.param_error("Invalid comment_id")
    c = add_comment(sim, m, {"from": acct["id"], "username": acct["username"],
                             "text": req.params["message"], "self": True},
                    parent=sim.cm_comments[parent]["parent"] or parent if parent else None)
    _fault(sim, "mention")
    return {"id": c["id"]}


def comment_node(api, req, node):
    sim = api.sim
    c = sim.cm_comments.get(node)
    if c is None:
        raise G.NextRoute()   # graphsim's user and page nodes, another plugin's media
    if c["deleted"]:
        raise G.unsupported(node, req.method)
    m = sim.cm_media[c["media"]]
    _check(api, req, c["account"], req.method, node)
    if req.method == "GET":
        return render(sim, c, req.params.get("fields"))
    if m["owner"] != c["account"] or (req.host in G.IG_GRAPH and
                                      api.auth(req, ("ig",))["owner"] != m["owner"]):
        raise G.GraphError(10, "(#10) Application does not have permission for this action")
    if _live(m):
        raise G.param_error("This operation is not supported for live video comments")
    if req.method == "DELETE":
        c["deleted"] = True
        sim.comments.pop(node, None)
        _fault(sim, "delete")
        return {"success": True}
    hide = str(req.params.get("hide", "")).lower()
    if hide not in ("true", "false"):
        raise G.param_error("The parameter hide is required (true or false)")
    if c["self"]:
        raise G.param_error("The media owner's own comments cannot be hidden")
    c["hidden"] = hide == "true"
    _fault(sim, "hide" if c["hidden"] else "unhide")
    return {"success": True}


# First in the table: a comment id is tried before graphsim's IG user / Page nodes.
G.ROUTES.insert(0, {"hosts": G.IG_GRAPH + G.FB_GRAPH, "methods": ["GET", "POST", "DELETE"],
                    "segs": ("{node}",), "fn": comment_node, "locked": True})


def fb_ig_messages(api, req, node):
    """§3.4: with Facebook Login, /<IG_ID>/messages answers (#3); the Page node is the one.
    graphsim's Send API answers 100/33 there, so this comes first for an IG user id."""
    sim = api.sim
    if node in sim.accounts and sim.accounts[node].get("page_id"):
        api.auth(req, ("user", "page"))
        raise G.GraphError(3, "(#3) Application does not have the capability to make this API "
                           "call.", etype="OAuthException")
    raise G.NextRoute()   # graphsim's Send API


G.ROUTES.insert(0, {"hosts": G.FB_GRAPH, "methods": ["POST"], "segs": ("{node}", "messages"),
                    "fn": fb_ig_messages, "locked": True})


# ---------------------------------------------------------------- control

@G.route(G.SIM, "GET,POST", "media")
def c_media(api, req):
    sim, b = api.sim, api.body(req)
    if req.method == "POST":
        if not b.get("account"):
            raise G.ControlError("need account")
        m = add_media(sim, str(b["account"]), b)
        return dict(m, comments=[dict(sim.cm_comments[c]) for c in m["comments"]])
    acct = req.params.get("account")
    return [sim.cm_media[m] for a, lst in sim.cm_by_account.items() for m in lst
            if not acct or a == acct]


@G.route(G.SIM, "POST", "media_bulk")
def c_media_bulk(api, req):
    sim, b = api.sim, api.body(req)
    acct = str(b.get("account") or "")
    if acct not in sim.accounts:
        raise G.ControlError("need a known account")
    n, k, r = int(b.get("media", 1)), int(b.get("comments", 0)), int(b.get("replies", 0))
    now = sim.now()
    for i in range(n):
        m = add_media(sim, acct, {"caption": "post %d" % i, "timestamp": now - 3600 * (i + 1)})
        for j in range(k):
            c = add_comment(sim, m, {"from": str(7000000000000000 + j), "username": "fan%d" % j,
                                     "text": "comment %d on post %d" % (j, i),
                                     "timestamp": now - 60 * (j + 1)})
            for q in range(r):
                add_comment(sim, m, {"from": str(8000000000000000 + q), "username": "re%d" % q,
                                     "text": "reply %d" % q}, parent=c["id"])
    return {"ok": True, "media": n, "comments": n * k * (1 + r)}


@G.route(G.SIM, "POST", "media/{media}/comment")
def c_new_comment(api, req, media):
    sim, b = api.sim, api.body(req)
    m = sim.cm_media.get(media)
    if m is None:
        raise G.ControlError("unknown media " + media, 404)
    if b.get("parent") and b["parent"] not in sim.cm_comments:
        raise G.ControlError("unknown parent comment")
    c = add_comment(sim, m, b, parent=b.get("parent"))
    out = {"comment": dict(c)}
    if b.get("webhook"):
        value = {"id": c["id"], "from": {"id": c["from"], "username": c["username"]},
                 "text": c["text"], "media": {"id": m["id"],
                                              "media_product_type": m["media_product_type"]}}
        if c["parent"]:
            value["parent_id"] = c["parent"]
        field = "live_comments" if _live(m) else "comments"
        obj = {"object": "instagram", "entry": [{"id": m["account"], "time": int(sim.now()),
                                                 "changes": [{"field": field, "value": value}]}]}
        body = G.meta_json(obj)
        sig256, _ = G.sign(sim.webhook_secret(), body.encode())
        out["envelope"] = {"headers": {"X-Hub-Signature-256": sig256,
                                       "Content-Type": "application/json"}, "body": body}
    return out


@G.route(G.SIM, "GET", "comment/{cid}")
def c_comment(api, req, cid):
    c = api.sim.cm_comments.get(cid)
    if c is None:
        raise G.ControlError("unknown comment", 404)
    return c


@G.route(G.SIM, "POST", "comment_fault")
def c_comment_fault(api, req):
    b = api.body(req)
    if b.get("action") not in ("reply", "hide", "unhide", "delete", "comment", "mention"):
        raise G.ControlError("action must be reply, hide, unhide, delete, comment or mention")
    f = {"action": b["action"], "count": int(b.get("count", 1))}
    f.update({k: b[k] for k in ("code", "subcode", "status", "message") if k in b})
    api.sim.cm_faults.append(f)
    return {"ok": True, "fault": f}
