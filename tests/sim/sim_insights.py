"""sim_insights - graphsim plugin for ig-insights (reference §5, §6, §9).

Adds to the simulator:
* /<IG_ID>/media (FEED and REELS, cursor paging) and /<IG_ID>/stories (the
  last 24 h), on both hosts, media generated per account on first use;
* account insights GET /<IG_ID>/insights with Meta's current metric table
  (metric_type=total_value required except reach / follower_count,
  breakdowns per metric, a wrong breakdown -> code 1 "An unknown error has
  occurred.", more than 30 days between since and until -> (#100),
  follower_count only for the last 30 days excluding today, follower metrics
  absent below 100 followers, empty data while not yet available);
* media insights GET /<MEDIA_ID>/insights with the metric set of each
  product type (a metric the type lacks -> (#100), removed metrics ->
  (#100) naming views, story metrics under 5 viewers -> code 10,
  facebook_views / crossposted_views -> error when not shared to Facebook,
  media from before the business conversion -> 100/2108006);
* X-Business-Use-Case-Usage on every answer, rising with the calls an
  account made in the last hour against a budget; at 100 % the call fails
  with 80002 and estimated_time_to_regain_access;
* profile pictures and media images as PNG bytes under the CDN host
  /scontent.cdninstagram.com/ (the IG user node's profile_picture_url is
  rewritten to the simulator's address).
Control: GET/POST /_sim/insights  {"media_per_account", "stories_per_account",
"lag_hours", "budget", "accounts": {ID: {"media": N, "stories": N,
"story_viewers": N, "pre_conversion": N, "shared_to_facebook": bool,
"refuse_metrics": [names refused on IMAGE media, as one issue saw for shares],
"refuse_breakdowns": bool}}}
(POST merges; per-account settings apply before that account's media are
first generated; "regenerate": true drops generated media).
"""
import collections
import json
import struct
import threading
import zlib

import graphsim as G

DAY = 86400
CDN = "scontent.cdninstagram.com"
DEFAULTS = {"media_per_account": 12, "stories_per_account": 2, "lag_hours": 0,
            "budget": 1000000, "accounts": {}}

# §5.1 current metrics: name -> (periods, metric_types, breakdowns)
ACCOUNT_METRICS = {
    "accounts_engaged": ({"day"}, {"total_value"}, set()),
    "comments": ({"day"}, {"total_value"}, {"media_product_type"}),
    "likes": ({"day"}, {"total_value"}, {"media_product_type"}),
    "profile_links_taps": ({"day"}, {"total_value"}, {"contact_button_type"}),
    "reach": ({"day"}, {"total_value", "time_series"}, {"media_product_type", "follow_type"}),
    "replies": ({"day"}, {"total_value"}, set()),
    "reposts": ({"day"}, {"total_value"}, set()),
    "saves": ({"day"}, {"total_value"}, {"media_product_type"}),
    "shares": ({"day"}, {"total_value"}, {"media_product_type"}),
    "total_interactions": ({"day"}, {"total_value"}, {"media_product_type"}),
    "views": ({"day"}, {"total_value"}, {"follow_type", "media_product_type"}),
    "follows_and_unfollows": ({"day"}, {"total_value"}, {"follow_type"}),
    "follower_count": ({"day"}, {"time_series", None}, set()),
    "follower_demographics": ({"lifetime"}, {"total_value"}, {"age", "city", "country", "gender"}),
    "engaged_audience_demographics": ({"lifetime"}, {"total_value"},
                                      {"age", "city", "country", "gender"}),
}
FOLLOWER_GATED = {"follows_and_unfollows", "follower_count", "follower_demographics"}
REMOVED = {"impressions": "views", "plays": "views", "video_views": "views",
           "clips_replays_count": "views", "ig_reels_aggregated_all_plays_count": "views",
           "profile_views": "profile_links_taps", "website_clicks": "profile_links_taps",
           "email_contacts": "profile_links_taps", "phone_call_clicks": "profile_links_taps",
           "text_message_clicks": "profile_links_taps", "get_direction_clicks": "profile_links_taps",
           "engagement": "total_interactions", "exits": "navigation", "taps_forward": "navigation",
           "taps_back": "navigation"}
# §5.2 media metrics per product type (both flavours; total_* FLfB only)
MEDIA_METRICS = {
    "FEED": {"comments", "likes", "saved", "shares", "reach", "views", "total_interactions",
             "follows", "profile_visits", "profile_activity", "reposts", "facebook_views"},
    "REELS": {"comments", "likes", "saved", "shares", "reach", "views", "total_interactions",
              "ig_reels_avg_watch_time", "ig_reels_video_view_total_time", "reels_skip_rate",
              "reposts", "crossposted_views", "facebook_views"},
    "STORY": {"reach", "views", "replies", "shares", "total_interactions", "follows",
              "profile_visits", "profile_activity", "navigation", "reposts", "facebook_views"},
}
FLFB_ONLY = {"total_likes", "total_comments", "total_views"}
MEDIA_BREAKDOWNS = {"profile_activity": "action_type", "navigation": "story_navigation_action_type"}

_tls = threading.local()


def reset(sim):
    sim.insights_cfg = json.loads(json.dumps(DEFAULTS))
    sim.insights_media = {}        # media id -> record
    sim.insights_by_account = {}   # account id -> [media ids], newest first
    sim.insights_calls = {}        # account id -> [times]


G.RESET_HOOKS.append(reset)


def h(*parts):
    """A stable hash of parts (the same numbers every run)."""
    key = "|".join(map(str, parts)).encode()
    return zlib.crc32(key) * 65536 + zlib.adler32(key) % 65536


def frac(*parts):
    return (h(*parts) % 10000) / 10000.0


# ---------------------------------------------------------------- pictures

def png(seed, size=64):
    """A small PNG, a diagonal two-colour gradient from seed (cheap: rows repeat)."""
    c1 = [(h(seed, k) % 190) + 40 for k in "rgb"]
    c2 = [(h(seed, k, 2) % 190) + 40 for k in "rgb"]
    band = max(1, size // 16)
    rows = []
    for y in range(size):
        t = (y // band) / 16.0
        px = bytes(int(a + (b - a) * t) for a, b in zip(c1, c2))
        rows.append(b"\x00" + px * size)

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b""))


@G.route((CDN,), "GET", "v/{kind}/{name}", locked=False)
def cdn(api, req, kind, name):
    return G.Reply(png(kind + "/" + name.rsplit(".", 1)[0]), ctype="image/png",
                   headers={"Cache-Control": "max-age=3600"})


def cdn_url(req, path):
    return "%s/%s/v/%s" % (req.base_url, CDN, path)


_dispatch = G.Api.dispatch
_ig_user_fields = G.Api.ig_user_fields


def dispatch(self, req):
    _tls.base = req.base_url
    return _dispatch(self, req)


def ig_user_fields(self, acct, host):
    a = _ig_user_fields(self, acct, host)
    url = a.get("profile_picture_url")
    base = getattr(_tls, "base", None)
    if base and isinstance(url, str) and url.startswith("https://%s/" % CDN):
        a["profile_picture_url"] = "%s/%s/%s" % (base, CDN, url.split("/", 3)[3])
    return a


G.Api.dispatch = dispatch
G.Api.ig_user_fields = ig_user_fields


# ---------------------------------------------------------------- media

def account_cfg(sim, aid):
    c = sim.insights_cfg
    per = c["accounts"].get(aid, {})
    return {"media": int(per.get("media", c["media_per_account"])),
            "stories": int(per.get("stories", c["stories_per_account"])),
            "story_viewers": per.get("story_viewers"),
            "pre_conversion": int(per.get("pre_conversion", 0)),
            "shared_to_facebook": bool(per.get("shared_to_facebook", False)),
            "refuse_metrics": set(per.get("refuse_metrics", ())),
            "refuse_breakdowns": bool(per.get("refuse_breakdowns", False))}


def media_of(sim, acct):
    aid = acct["id"]
    if aid in sim.insights_by_account:
        return sim.insights_by_account[aid]
    cfg, now = account_cfg(sim, aid), int(sim.now())
    ids = []
    kinds = (("FEED", "IMAGE"), ("FEED", "CAROUSEL_ALBUM"), ("REELS", "VIDEO"))
    words = ("Morning class", "New menu", "Behind the scenes", "Customer story", "Weekend offer",
             "Team day", "Tips & tricks", "Launch", "Q&A", "Studio tour")
    for i in range(cfg["media"]):
        mid = str(18000000000000000 + h(aid, "m", i) % 10 ** 16)
        prod, mtype = kinds[h(aid, i, "k") % 3]
        age = int((i + 0.5) * 2.3 * DAY) + h(aid, i, "t") % 7200
        sim.insights_media[mid] = {
            "id": mid, "owner": aid, "media_product_type": prod, "media_type": mtype,
            "caption": "%s #%d — %s" % (words[h(aid, i) % len(words)], i + 1, acct["username"]),
            "timestamp": now - age, "like_count": 0, "comments_count": 0,
            "pre_conversion": i >= cfg["media"] - cfg["pre_conversion"],
            "shared": cfg["shared_to_facebook"], "viewers": None}
        ids.append(mid)
    for i in range(cfg["stories"]):
        mid = str(18100000000000000 + h(aid, "s", i) % 10 ** 16)
        viewers = cfg["story_viewers"]
        if viewers is None:
            viewers = 3 if i == 1 else 40 + h(aid, "v", i) % 400
        sim.insights_media[mid] = {
            "id": mid, "owner": aid, "media_product_type": "STORY",
            "media_type": "IMAGE" if i % 2 == 0 else "VIDEO", "caption": None,
            "timestamp": now - 3600 * (2 + 5 * i), "like_count": 0, "comments_count": 0,
            "pre_conversion": False, "shared": cfg["shared_to_facebook"], "viewers": int(viewers)}
        ids.append(mid)
    for mid in ids:
        m = sim.insights_media[mid]
        reach = media_reach(acct, m)
        m["like_count"] = int(reach * (0.03 + 0.05 * frac(mid, "likes")))
        m["comments_count"] = int(reach * 0.004 * frac(mid, "c") * 3)
    sim.insights_by_account[aid] = ids
    return ids


def iso(t):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(t))


def media_node(req, m, fields):
    thumb = cdn_url(req, "media/%s.png" % m["id"])
    avail = {"id": m["id"], "caption": m["caption"], "media_type": m["media_type"],
             "media_product_type": m["media_product_type"],
             "media_url": thumb if m["media_type"] != "VIDEO" else cdn_url(req, "video/%s.mp4" % m["id"]),
             "thumbnail_url": thumb if m["media_type"] == "VIDEO" else None,
             "permalink": "https://www.instagram.com/p/%s/" % m["id"][-11:],
             "timestamp": iso(m["timestamp"]), "like_count": m["like_count"],
             "comments_count": m["comments_count"], "username": None}
    out = {}
    for name in (fields.split(",") if fields else ["id"]):
        name = name.strip()
        if not name:
            continue
        if name not in avail:
            raise G.param_error("Tried accessing nonexisting field (%s) on node type (Media)" % name)
        if avail[name] is not None:
            out[name] = avail[name]
    out["id"] = m["id"]
    return out


def owner_of(api, req, node):
    """The IG account record a /<node>/... request names, checked against the token."""
    if req.host in G.IG_GRAPH:
        tok = api.auth(req, ("ig",))
        return api.ig_account(node, tok), tok
    tok = api.auth(req, ("user", "page"))
    kind, rec = api.fb_node(node, tok)
    if kind != "iguser":
        raise G.unsupported(node)
    return rec, tok


def usage(api, req, acct):
    """Count the call; the BUC header; 80002 once the hour's budget is used."""
    sim = api.sim
    now = sim.now()
    calls = sim.insights_calls.setdefault(acct["id"], collections.deque())
    while calls and calls[0] <= now - 3600:
        calls.popleft()
    calls.append(now)
    pct = min(100, int(len(calls) * 100 / max(1, int(sim.insights_cfg["budget"]))))
    eta = 0 if pct < 100 else max(1, int((calls[0] + 3600 - now) / 60))
    hdr = {"X-Business-Use-Case-Usage": json.dumps(
        {acct["id"]: [{"type": "instagram", "call_count": pct, "total_cputime": pct // 3,
                       "total_time": pct // 2, "estimated_time_to_regain_access": eta}]},
        separators=(",", ":"))}
    if pct >= 100:
        raise G.GraphError(80002, subcode=2446079, headers=hdr)
    return hdr


@G.route(G.IG_GRAPH + G.FB_GRAPH, "GET", "{node}/media")
def list_media(api, req, node):
    acct, tok = owner_of(api, req, node)
    api.need_scope(tok, "instagram_business_basic", "instagram_basic")
    hdr = usage(api, req, acct)
    ids = [i for i in media_of(api.sim, acct)
           if api.sim.insights_media[i]["media_product_type"] != "STORY"]
    try:
        limit = max(1, min(100, int(req.params.get("limit") or 25)))
    except ValueError:
        raise G.param_error("limit must be an integer")
    start = 0
    if req.params.get("after"):
        try:
            start = ids.index(req.params["after"]) + 1
        except ValueError:
            raise G.param_error("Invalid cursor")
    page = ids[start:start + limit]
    fields = req.params.get("fields") or "id"
    out = {"data": [media_node(req, api.sim.insights_media[i], fields) for i in page]}
    if page:
        out["paging"] = {"cursors": {"before": page[0], "after": page[-1]}}
        if start + limit < len(ids):
            out["paging"]["next"] = G.add_query(
                "%s/%s/%s/media" % (req.base_url, req.host, node),
                {"fields": fields, "limit": limit, "after": page[-1]})
    return G.Reply(out, headers=hdr)


@G.route(G.IG_GRAPH + G.FB_GRAPH, "GET", "{node}/stories")
def list_stories(api, req, node):
    acct, tok = owner_of(api, req, node)
    api.need_scope(tok, "instagram_business_basic", "instagram_basic")
    hdr = usage(api, req, acct)
    now = api.sim.now()
    fields = req.params.get("fields") or "id"
    data = [media_node(req, api.sim.insights_media[i], fields) for i in media_of(api.sim, acct)
            if api.sim.insights_media[i]["media_product_type"] == "STORY"
            and now - api.sim.insights_media[i]["timestamp"] < DAY]
    return G.Reply({"data": data}, headers=hdr)


# ---------------------------------------------------------------- insights

def ival(name, *parts):
    """A metric's value for parts (account/media, day ...): stable across calls."""
    return h(name, *parts)


def account_value(acct, metric, day, breakdown_value=None):
    f = max(1, int(acct.get("followers_count") or 0))
    r = frac(acct["id"], metric, day, breakdown_value)
    base = {"reach": 0.35, "views": 0.9, "accounts_engaged": 0.04, "total_interactions": 0.06,
            "likes": 0.045, "comments": 0.004, "saves": 0.006, "shares": 0.004, "replies": 0.002,
            "reposts": 0.001, "profile_links_taps": 0.003, "follower_count": 0.004,
            "follows_and_unfollows": 0.004}.get(metric, 0.01)
    v = int(f * base * (0.6 + 0.8 * r))
    if metric == "follows_and_unfollows" and breakdown_value == "NON_FOLLOWER":
        v = int(v * 0.4)
    return v


def parse_int(req, name):
    v = req.params.get(name)
    if v in (None, ""):
        return None
    try:
        return int(v)
    except ValueError:
        raise G.param_error("Param %s must be a valid unix timestamp" % name)


def unknown_error():
    return G.GraphError(1, "An unknown error has occurred.", status=500, transient=False)


def account_insights(api, req, acct):
    sim, p = api.sim, req.params
    req.require("metric")
    metrics = [m.strip() for m in p["metric"].split(",") if m.strip()]
    period, mtype, breakdown = p.get("period"), p.get("metric_type"), p.get("breakdown")
    for m in metrics:
        if m in REMOVED:
            raise G.param_error("Starting from version v22.0 and above, the %s metric is no longer"
                                " supported; use %s" % (m, REMOVED[m]))
        if m not in ACCOUNT_METRICS:
            raise G.param_error("metric[0] must be one of the following values: %s" %
                                ", ".join(sorted(ACCOUNT_METRICS)))
    if not period:
        raise G.param_error("The parameter period is required")
    needs_tv = [m for m in metrics if None not in ACCOUNT_METRICS[m][1]
                and "time_series" not in ACCOUNT_METRICS[m][1]]
    if mtype not in (None, "total_value", "time_series"):
        raise G.param_error("metric_type must be one of: time_series, total_value")
    if mtype != "total_value" and needs_tv:
        raise G.param_error("The following metrics (%s) should be specified with parameter"
                            " metric_type=total_value" % ", ".join(needs_tv))
    for m in metrics:
        if period not in ACCOUNT_METRICS[m][0]:
            raise G.param_error("metric %s does not support the %s period" % (m, period))
        if mtype and mtype not in ACCOUNT_METRICS[m][1]:
            raise G.param_error("metric %s does not support metric_type=%s" % (m, mtype))
    if breakdown and account_cfg(sim, acct["id"])["refuse_breakdowns"]:
        raise unknown_error()
    if breakdown and mtype == "total_value":
        for m in metrics:
            if breakdown not in ACCOUNT_METRICS[m][2]:
                raise unknown_error()
    now = int(sim.now())
    until = parse_int(req, "until")
    since = parse_int(req, "since")
    until = now if until is None else until
    since = until - DAY if since is None else since
    if until - since > 30 * DAY:
        raise G.param_error("There cannot be more than 30 days (2592000 s) between since and until")
    if since >= until:
        raise G.param_error("since must be before until")
    today = now // DAY * DAY
    if "follower_count" in metrics and since < today - 30 * DAY:
        raise G.param_error("(follower_count) metric only supports querying data for the last 30"
                            " days excluding the current day")
    lag = float(sim.insights_cfg["lag_hours"]) * 3600
    data = []
    for m in metrics:
        if m in FOLLOWER_GATED and int(acct.get("followers_count") or 0) < 100:
            continue   # §5.1: not returned below 100 followers
        item = {"name": m, "period": period, "title": m.replace("_", " ").capitalize(),
                "description": "Simulated " + m, "id": "%s/insights/%s/%s" % (acct["id"], m, period)}
        if mtype == "total_value":
            if until > now - lag:
                continue   # not available yet: empty data, not 0
            days = range(since // DAY * DAY, until, DAY)
            tv = {"value": sum(account_value(acct, m, d) for d in days)}
            if m == "follows_and_unfollows" and breakdown == "follow_type":
                res = [{"dimension_values": [k], "value": sum(account_value(acct, m, d, k)
                                                              for d in days)}
                       for k in ("FOLLOWER", "NON_FOLLOWER")]
                tv = {"value": res[0]["value"] - res[1]["value"],
                      "breakdowns": [{"dimension_keys": ["follow_type"], "results": res}]}
            elif breakdown:
                keys = {"media_product_type": ("POST", "REEL", "STORY"),
                        "follow_type": ("FOLLOWER", "NON_FOLLOWER"),
                        "contact_button_type": ("CALL", "EMAIL", "DIRECTION")}[breakdown]
                tv["breakdowns"] = [{"dimension_keys": [breakdown], "results": [
                    {"dimension_values": [k], "value": int(tv["value"] * frac(acct["id"], m, k) / 1.5)}
                    for k in keys]}]
            item["total_value"] = tv
        else:
            vals = []
            for d in range(since // DAY * DAY, until, DAY):
                if d + DAY > now - lag or (m == "follower_count" and d + DAY > today):
                    continue
                vals.append({"value": account_value(acct, m, d), "end_time": iso(d + DAY + 8 * 3600)})
            if not vals:
                continue
            item["values"] = vals
        data.append(item)
    return {"data": data, "paging": {
        "previous": "%s/%s/%s/insights?since=%d&until=%d" % (req.base_url, req.host, acct["id"],
                                                             since - (until - since), since),
        "next": "%s/%s/%s/insights?since=%d&until=%d" % (req.base_url, req.host, acct["id"],
                                                         until, until + (until - since))}}


def media_value(acct, m, metric):
    f = max(1, int(acct.get("followers_count") or 0))
    if m["media_product_type"] == "STORY":
        reach = m["viewers"]
    else:
        reach = media_reach(acct, m)
    r = frac(m["id"], metric)
    table = {"reach": reach, "views": int(reach * (1.3 + r)), "likes": m["like_count"],
             "comments": m["comments_count"], "saved": int(reach * 0.01 * (0.5 + r)),
             "shares": int(reach * 0.008 * (0.5 + r)), "follows": int(reach * 0.002 * r * 2),
             "profile_visits": int(reach * 0.02 * (0.5 + r)), "reposts": int(reach * 0.001 * r * 3),
             "replies": int(reach * 0.01 * r), "navigation": int(reach * (0.8 + r)),
             "profile_activity": int(reach * 0.01 * r), "ig_reels_avg_watch_time": 4000 + int(9000 * r),
             "ig_reels_video_view_total_time": int(reach * (4000 + 9000 * r)),
             "reels_skip_rate": round(20 + 40 * r, 1), "facebook_views": int(reach * 0.1 * r),
             "crossposted_views": int(reach * 0.1 * r)}
    if metric == "total_interactions":
        return (table["likes"] + table["comments"] + table["saved"] + table["shares"]
                + table["replies"])
    return table.get(metric, int(f * 0.01 * r))


def media_reach(acct, m):
    f = max(1, int(acct.get("followers_count") or 0))
    return int(f * (0.25 + 0.6 * frac(m["id"], "reach")))


def media_insights(api, req, m):
    sim = api.sim
    acct = sim.accounts.get(m["owner"])
    if req.host in G.IG_GRAPH:
        tok = api.auth(req, ("ig",))
        api.ig_account(m["owner"], tok)
        api.need_scope(tok, "instagram_business_manage_insights")
    else:
        tok = api.auth(req, ("user", "page"))
        if api.fb_node(m["owner"], tok)[0] != "iguser":
            raise G.unsupported(m["id"])
        api.need_scope(tok, "instagram_manage_insights")
    hdr = usage(api, req, acct)
    req.require("metric")
    metrics = [x.strip() for x in req.params["metric"].split(",") if x.strip()]
    prod = m["media_product_type"]
    allowed = MEDIA_METRICS[prod] | (FLFB_ONLY if req.host in G.FB_GRAPH else set())
    for x in metrics:
        if x in REMOVED or x.startswith("carousel_album_"):
            raise G.param_error("metric[0] must be one of the following values: %s (%s was removed;"
                                " use %s)" % (", ".join(sorted(allowed)), x, REMOVED.get(x, "views")))
        if x not in allowed or (x in account_cfg(sim, m["owner"])["refuse_metrics"]
                                and m["media_type"] == "IMAGE"):
            raise G.param_error("The Media Insights API does not support the %s metric for this"
                                " media product type" % x)
    if req.params.get("breakdown"):
        b = req.params["breakdown"]
        if any(MEDIA_BREAKDOWNS.get(x) != b for x in metrics):
            raise unknown_error()
    if m["pre_conversion"]:
        raise G.GraphError(100, "(#100) Media posted before business account conversion",
                           subcode=2108006, headers=hdr)
    now = sim.now()
    if prod == "STORY":
        if now - m["timestamp"] >= DAY:
            return G.Reply({"data": []}, headers=hdr)   # story metrics live 24 h (§5.2)
        if m["viewers"] < 5:
            raise G.GraphError(10, "(#10) Not enough viewers for the media to show insights",
                               headers=hdr)
    if any(x in ("facebook_views", "crossposted_views") for x in metrics) and not m["shared"]:
        raise G.param_error("The media was not shared to Facebook; %s is not available" %
                            next(x for x in metrics if x in ("facebook_views", "crossposted_views")))
    if now - m["timestamp"] < float(sim.insights_cfg["lag_hours"]) * 3600:
        return G.Reply({"data": []}, headers=hdr)
    data = [{"name": x, "period": "lifetime", "values": [{"value": media_value(acct, m, x)}],
             "title": x.replace("_", " ").capitalize(), "description": "Simulated " + x,
             "id": "%s/insights/%s/lifetime" % (m["id"], x)} for x in metrics]
    return G.Reply({"data": data}, headers=hdr)


@G.route(G.IG_GRAPH + G.FB_GRAPH, "GET", "{node}/insights")
def insights(api, req, node):
    sim = api.sim
    if node in sim.insights_media:
        return media_insights(api, req, sim.insights_media[node])
    acct, tok = owner_of(api, req, node)
    api.need_scope(tok, "instagram_business_manage_insights", "instagram_manage_insights")
    hdr = usage(api, req, acct)
    return G.Reply(account_insights(api, req, acct), headers=hdr)


@G.route(G.SIM, "GET,POST", "insights")
def control(api, req):
    sim = api.sim
    if req.method == "POST":
        b = api.body(req)
        for k in ("media_per_account", "stories_per_account", "lag_hours", "budget"):
            if k in b:
                sim.insights_cfg[k] = b[k]
        for aid, per in (b.get("accounts") or {}).items():
            sim.insights_cfg["accounts"].setdefault(str(aid), {}).update(per)
        if b.get("regenerate"):
            for mid in [k for k, v in sim.insights_media.items()]:
                del sim.insights_media[mid]
            sim.insights_by_account.clear()
        if b.get("reset_usage"):
            sim.insights_calls.clear()
    return {"config": sim.insights_cfg, "media": len(sim.insights_media)}
