"""sim_publish — content publishing for graphsim (reference §4, §6).

Containers (POST /{ig-id}/media) with a status that advances over polls,
carousels, reels, stories; media_publish with the publishing limit;
content_publishing_limit; the media listing (/media, /stories); GET of a
container (status_code incl. PUBLISHED) or a media node (permalink, ...);
first comments with the 20/1772107 trap; and a media host, /media.sim/NAME,
that serves generated JPEG/PNG/MP4 bytes for media URLs.

Control: GET /_sim/publish (containers, media, comments, publish counts,
duplicates), POST /_sim/publish with any of
  {"quota_total": 50, "polls_image": 0, "polls_video": 2, "polls_carousel": 0,
   "next_status": ["ERROR"|"EXPIRED", ...],     # forced on the next containers
   "container": ID, "status": "ERROR"|"EXPIRED", # force one container
   "publish_then_error": {"count": 1, "status": 500, "code": 2, "hang": 0},
   "comment_trap": 1,                            # next comments: created, then 20/1772107
   "quota_usage": {"ACCOUNT": N}}                # N publishes already in the last 24 h
Every request is recorded by graphsim (/_sim/requests); latency applies.
"""
import json
import struct
import time
import urllib.parse
import zlib

import graphsim as G

DAY = 86400
HOSTS = G.IG_GRAPH + G.FB_GRAPH
MEDIA_HOST = ("media.sim",)


def reset(sim):
    sim.pub = {"containers": {}, "media": {}, "order": [], "comments": {}, "publishes": {},
               "publish_times": {}, "duplicates": 0, "seq": 0,
               "config": {"quota_total": 50, "polls_image": 0, "polls_video": 2,
                          "polls_carousel": 0, "next_status": [], "publish_then_error": None,
                          "comment_trap": 0}}


G.RESET_HOOKS.append(reset)


def new_id(sim, prefix):
    sim.pub["seq"] += 1
    return "%s%012d" % (prefix, sim.pub["seq"])


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(t))


# --------------------------------------------------------------------------- auth

def owner(api, req, node, method="post"):
    """(account, host) for the {node} of a publishing endpoint, checked against the token."""
    if req.host in G.IG_GRAPH:
        tok = api.auth(req, ("ig",))
        acct = api.ig_account(node, tok, method)
        api.need_scope(tok, "instagram_business_content_publish")
        return acct
    tok = api.auth(req, ("user", "page"))
    kind, rec = api.fb_node(node, tok, method)
    if kind != "iguser":
        raise G.unsupported(node, method)
    api.need_scope(tok, "instagram_content_publish")
    return rec


def token_account(api, req):
    """The IG accounts the token may act for (a set of ids)."""
    if req.host in G.IG_GRAPH:
        tok = api.auth(req, ("ig",))
        return {tok["owner"]}
    tok = api.auth(req, ("user", "page"))
    sim = api.sim
    user = sim.users.get(tok["user"])
    pages = [tok["owner"]] if tok["kind"] == "page" else (user["pages"] if user else [])
    return {sim.pages[p]["ig"] for p in pages if p in sim.pages and sim.pages[p]["ig"]}


# --------------------------------------------------------------------------- media URLs

def fetchable(sim, url):
    """None if Meta could fetch url, else why not.  Media on /media.sim/ exist unless
    their name says missing; loopback and non-http URLs are not public."""
    u = urllib.parse.urlsplit(url or "")
    if u.scheme not in ("http", "https") or not u.netloc:
        return "not an http(s) URL"
    if "/media.sim/" in u.path:
        name = u.path.rsplit("/", 1)[-1]
        if "missing" in name or "unreachable" in name:
            return "404"
        return None
    host = (u.hostname or "").lower()
    if host in ("localhost", "::1") or host.startswith("127.") or host.endswith(".local"):
        return "not public"
    return None


def media_kind(url):
    path = urllib.parse.urlsplit(url or "").path.lower()
    return "video" if path.endswith((".mp4", ".mov", ".m4v")) else "image"


# --------------------------------------------------------------------------- containers

CAPTION_MAX, HASHTAGS_MAX, MENTIONS_MAX = 2200, 30, 20


def check_caption(text):
    if len(text) > CAPTION_MAX:
        raise G.param_error("The caption is too long: at most 2200 characters")
    import re
    if len(re.findall(r"(?:^|(?<=[^\w]))#\w", text)) > HASHTAGS_MAX:
        raise G.param_error("The caption has more than 30 hashtags")
    if len(re.findall(r"(?:^|(?<=[^\w]))@[\w.]", text)) > MENTIONS_MAX:
        raise G.param_error("The caption has more than 20 @mentions")


def parse_list(v):
    if isinstance(v, list):
        return [str(x) for x in v]
    s = str(v or "").strip()
    if s.startswith("["):
        try:
            return [str(x) for x in json.loads(s)]
        except ValueError:
            raise G.param_error("Param children must be an array of ids")
    return [x for x in (p.strip() for p in s.split(",")) if x]


@G.route(HOSTS, "POST", "{node}/media")
def create_container(api, req, node):
    sim = api.sim
    acct = owner(api, req, node)
    p = req.params
    mtype = str(p.get("media_type") or "").upper() or None
    child = str(p.get("is_carousel_item", "")).lower() == "true"
    cfg = sim.pub["config"]
    if mtype not in (None, "REELS", "STORIES", "CAROUSEL", "VIDEO"):
        raise G.param_error("Param media_type must be one of {REELS, STORIES, CAROUSEL, VIDEO}")
    if mtype == "VIDEO" and not child:
        raise G.param_error("The media_type VIDEO is no longer supported; use REELS", 2207023)
    if child and mtype in ("REELS", "STORIES", "CAROUSEL"):
        raise G.param_error("A %s cannot be a carousel item" % mtype.lower(), 2207028)
    if child and p.get("caption"):
        raise G.param_error("Carousel items do not take a caption")
    if p.get("collaborators"):
        collab = parse_list(p["collaborators"])
        if child:
            raise G.param_error("Collaborators go on the carousel, not on its items", 2207028)
        if mtype == "STORIES":
            raise G.param_error("Stories do not take collaborators")
        if any(c.startswith("@") for c in collab):
            raise G.GraphError(110, "(#110) Invalid collaborator username", 2207018)
        if len(collab) > 3:
            raise G.param_error("At most 3 collaborators")
    if p.get("caption"):
        check_caption(str(p["caption"]))
    rec = {"id": new_id(sim, "179"), "account": acct["id"], "media_type": mtype, "child": child,
           "caption": str(p.get("caption") or ""), "created_at": sim.now(), "status": "IN_PROGRESS",
           "polls": 0, "children": [], "url": None, "published": None}
    if mtype == "CAROUSEL":
        kids = parse_list(p.get("children"))
        if not 2 <= len(kids) <= 10:
            raise G.param_error("A carousel needs 2 to 10 children", 2207028)
        for k in kids:
            c = sim.pub["containers"].get(k)
            if c is None or c["account"] != acct["id"] or not c["child"]:
                raise G.param_error("Child %s is not a carousel item of this account" % k, 2207028)
            if status_of(sim, c) != "FINISHED":
                raise G.GraphError(9007, "Media ID is not available: child %s is not ready" % k,
                                   2207027)
        rec.update(children=kids, kind="carousel", polls_needed=cfg["polls_carousel"])
    else:
        url = p.get("video_url") if mtype in ("REELS", "VIDEO") or p.get("video_url") else \
            p.get("image_url")
        if not url:
            raise G.param_error("The parameter %s is required" %
                                ("video_url" if mtype in ("REELS", "VIDEO") else "image_url"))
        why = fetchable(sim, url)
        if why:
            raise G.GraphError(9004, "The media could not be fetched from this URI: %s" % url,
                               2207052)
        kind = "video" if (p.get("video_url") or mtype in ("REELS", "VIDEO")) else "image"
        if kind == "image" and urllib.parse.urlsplit(url).path.lower().endswith(".png"):
            raise G.GraphError(36001, "(#36001) Only JPEG images are supported", 2207026)
        rec.update(url=url, kind=kind,
                   polls_needed=cfg["polls_video"] if kind == "video" else cfg["polls_image"])
    if cfg["next_status"]:
        rec["forced"] = cfg["next_status"].pop(0)
    sim.pub["containers"][rec["id"]] = rec
    return {"id": rec["id"]}


def status_of(sim, c):
    if c["published"]:
        return "PUBLISHED"
    if c.get("forced"):
        return c["forced"]
    if sim.now() - c["created_at"] >= DAY:
        return "EXPIRED"
    if c["polls"] >= c["polls_needed"]:
        return "FINISHED"
    return "IN_PROGRESS"


STATUS_TEXT = {"FINISHED": "Finished: Media has been uploaded and it is complete.",
               "IN_PROGRESS": "In Progress: Media is still being processed.",
               "ERROR": "Error: Media upload has failed with error code 2207001",
               "EXPIRED": "Expired: The media container was not published within 24 hours",
               "PUBLISHED": "Published: Media has been published."}


def container_fields(api, req, c):
    sim = api.sim
    st = status_of(sim, c)
    c["polls"] += 1          # every read advances processing
    return api.select("IGContainer", {"id": c["id"], "status_code": st,
                                       "status": STATUS_TEXT.get(st, st)},
                      req.params.get("fields"), ("id",))


def media_fields(api, req, m):
    return api.select("IGMedia", {
        "id": m["id"], "caption": m["caption"] or None, "media_type": m["media_type"],
        "media_product_type": m["media_product_type"], "permalink": m["permalink"],
        "timestamp": iso(m["timestamp"]), "username": m["username"],
        "like_count": 0, "comments_count": len(sim_comments(api.sim, m["id"])),
        "media_url": m.get("url"), "shortcode": m["shortcode"]},
        req.params.get("fields"), ("id",))


def sim_comments(sim, mid):
    return sim.pub["comments"].setdefault(mid, [])


def node_wrapper(original):
    """GET /{id}: a container or media of ours, else graphsim's own node handler."""
    def get(api, req, node):
        sim = api.sim
        c = sim.pub["containers"].get(node)
        m = sim.pub["media"].get(node)
        if c is None and m is None:
            return original(api, req, node)
        mine = token_account(api, req)
        rec = c or m
        if rec["account"] not in mine:
            raise G.unsupported(node)
        return container_fields(api, req, c) if c else media_fields(api, req, m)
    return get


for r in G.ROUTES:
    if r["segs"] == ("{node}",) and "GET" in r["methods"]:
        r["fn"] = node_wrapper(r["fn"])


# --------------------------------------------------------------------------- publish

def publishes_in_window(sim, account, since=None):
    now = sim.now()
    lo = now - DAY if since is None else max(float(since), now - DAY)
    return sum(1 for t in sim.pub["publish_times"].get(account, []) if t >= lo)


@G.route(HOSTS, "POST", "{node}/media_publish")
def media_publish(api, req, node):
    sim = api.sim
    acct = owner(api, req, node)
    req.require("creation_id")
    cid = str(req.params["creation_id"])
    c = sim.pub["containers"].get(cid)
    if c is None or c["account"] != acct["id"]:
        raise G.GraphError(24, "The media builder with creation_id %s does not exist" % cid,
                           2207008)
    if c["child"]:
        raise G.param_error("Carousel item cannot be published standalone", 2207089)
    st = status_of(sim, c)
    if st == "PUBLISHED":
        sim.pub["duplicates"] += 1
        raise G.param_error("The media has already been published")
    if st == "EXPIRED":
        raise G.GraphError(-2, "The media container has expired; create a new one", 2207020)
    if st == "ERROR":
        raise G.GraphError(-1, "Failed to create media", 2207032)
    if st != "FINISHED":
        raise G.GraphError(9007, "Media ID is not available", 2207027)
    if publishes_in_window(sim, acct["id"]) >= sim.pub["config"]["quota_total"]:
        raise G.GraphError(9, "(#9) Application request limit reached: the account has reached"
                           " its content publishing limit", 2207042)
    mid = new_id(sim, "178")
    kind = {"CAROUSEL": ("CAROUSEL_ALBUM", "FEED"), "REELS": ("VIDEO", "REELS"),
            "STORIES": ("VIDEO" if c["kind"] == "video" else "IMAGE", "STORY")}.get(
        c["media_type"], ("IMAGE", "FEED"))
    short = "S" + mid[-9:]
    m = {"id": mid, "account": acct["id"], "username": acct.get("username"),
         "caption": c["caption"], "media_type": kind[0], "media_product_type": kind[1],
         "timestamp": int(sim.now()), "shortcode": short, "container": cid, "url": c["url"],
         "permalink": "https://www.instagram.com/%s/%s/" % (
             "reel" if kind[1] == "REELS" else "stories/" + str(acct.get("username"))
             if kind[1] == "STORY" else "p", short)}
    c["published"] = mid
    sim.pub["media"][mid] = m
    sim.pub["order"].append(mid)
    sim.pub["publishes"][cid] = sim.pub["publishes"].get(cid, 0) + 1
    sim.pub["publish_times"].setdefault(acct["id"], []).append(sim.now())
    trap = sim.pub["config"]["publish_then_error"]
    if trap and trap.get("count", 1) > 0:
        trap["count"] = trap.get("count", 1) - 1
        if trap.get("hang"):
            sim.lock.release()
            try:
                time.sleep(float(trap["hang"]))
            finally:
                sim.lock.acquire()
        if trap.get("code") is not None or trap.get("status"):
            code = trap.get("code", 1)
            raise G.GraphError(code, trap.get("message"), trap.get("subcode"),
                               trap.get("status") or {1: 500, 2: 503}.get(code, 500))
    return {"id": mid}


@G.route(HOSTS, "GET", "{node}/content_publishing_limit")
def publishing_limit(api, req, node):
    sim = api.sim
    acct = owner(api, req, node, "get")
    used = publishes_in_window(sim, acct["id"], req.params.get("since"))
    row = {"quota_usage": used, "config": {"quota_total": sim.pub["config"]["quota_total"],
                                           "quota_duration": DAY}}
    fields = [f for f, _ in G.parse_fields(req.params.get("fields") or "quota_usage")]
    return {"data": [{k: v for k, v in row.items() if k in fields}]}


def listing(api, req, node, stories):
    sim = api.sim
    acct = owner(api, req, node, "get")
    since, until = req.params.get("since"), req.params.get("until")
    limit = min(int(req.params.get("limit") or 25), 100)
    if not any(m["account"] == acct["id"] for m in sim.pub["media"].values()):
        raise G.NextRoute()   # nothing published here: the insights plugin's media
    out = []
    for mid in reversed(sim.pub["order"]):
        m = sim.pub["media"][mid]
        if m["account"] != acct["id"] or (m["media_product_type"] == "STORY") != stories:
            continue
        if stories and sim.now() - m["timestamp"] > DAY:
            continue
        if since and m["timestamp"] < float(since):
            continue
        if until and m["timestamp"] > float(until):
            continue
        out.append(media_fields(api, req, m))
        if len(out) >= limit:
            break
    return {"data": out}


@G.route(HOSTS, "GET", "{node}/media")
def media_list(api, req, node):
    return listing(api, req, node, False)


@G.route(HOSTS, "GET", "{node}/stories")
def stories_list(api, req, node):
    return listing(api, req, node, True)


# --------------------------------------------------------------------------- comments

def media_for(api, req, mid):
    m = api.sim.pub["media"].get(mid)
    if m is None:
        raise G.NextRoute()   # not a published post: another plugin's media
    if m["account"] not in token_account(api, req):
        raise G.unsupported(mid, req.method)
    return m


@G.route(HOSTS, "POST", "{node}/comments")
def comment_create(api, req, mid):
    sim = api.sim
    m = media_for(api, req, mid)
    req.require("message")
    c = {"id": new_id(sim, "180"), "text": str(req.params["message"]),
         "username": m["username"], "timestamp": iso(sim.now()), "own": True}
    sim_comments(sim, mid).append(c)
    # §4.6: a POST with fields=, or the injected trap: created, then an error
    if req.params.get("fields") or sim.pub["config"]["comment_trap"] > 0:
        if not req.params.get("fields"):
            sim.pub["config"]["comment_trap"] -= 1
        raise G.GraphError(20, "(#20) The API does not support the requested response format",
                           1772107)
    return {"id": c["id"]}


@G.route(HOSTS, "GET", "{node}/comments")
def comment_list(api, req, mid):
    m = media_for(api, req, mid)
    rows = [{"id": c["id"], "text": c["text"], "username": c["username"],
             "timestamp": c["timestamp"]} for c in reversed(sim_comments(api.sim, m["id"]))]
    fields = req.params.get("fields")
    if fields:
        keep = {f for f, _ in G.parse_fields(fields)} | {"id"}
        rows = [{k: v for k, v in r.items() if k in keep} for r in rows]
    return {"data": rows}


# --------------------------------------------------------------------------- the media host

def jpeg_bytes(w, h):
    """A real baseline grayscale JPEG of w x h, flat gray: every 8x8 block is DC diff 0
    (code '00') and EOB (code '1010') with the standard luminance tables."""
    def seg(marker, payload):
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload
    dqt = seg(0xDB, b"\x00" + bytes([1] * 64))
    sof = seg(0xC0, struct.pack(">BHHB", 8, h, w, 1) + b"\x01\x11\x00")
    dc_bits = bytes([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    dc_vals = bytes(range(12))
    ac_bits = bytes([0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D])
    ac_vals = bytes([
        0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61,
        0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xA1, 0x08, 0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52,
        0xD1, 0xF0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0A, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x25,
        0x26, 0x27, 0x28, 0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45,
        0x46, 0x47, 0x48, 0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64,
        0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x83,
        0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
        0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6,
        0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3,
        0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8,
        0xE9, 0xEA, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA])
    dht = seg(0xC4, b"\x00" + dc_bits + dc_vals + b"\x10" + ac_bits + ac_vals)
    sos = seg(0xDA, b"\x01\x01\x00\x00\x3F\x00")
    blocks = ((w + 7) // 8) * ((h + 7) // 8)
    bits = "001010" * blocks
    bits += "1" * (-len(bits) % 8)
    data = bytearray()
    for i in range(0, len(bits), 8):
        b = int(bits[i:i + 8], 2)
        data.append(b)
        if b == 0xFF:
            data.append(0)
    app0 = seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    return b"\xFF\xD8" + app0 + dqt + sof + dht + sos + bytes(data) + b"\xFF\xD9"


def png_bytes(w, h):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    raw = b"".join(b"\x00" + b"\x80" * w for _ in range(min(h, 4)))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def mp4_bytes(size, seconds=10.0):
    """ftyp, moov with an mvhd of the given duration (timescale 1000), mdat."""
    ftyp = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isomavc1"
    mvhd_body = (b"\x00\x00\x00\x00" + struct.pack(">IIII", 0, 0, 1000, int(seconds * 1000))
                 + b"\x00" * 80)
    mvhd = struct.pack(">I", 8 + len(mvhd_body)) + b"mvhd" + mvhd_body
    moov = struct.pack(">I", 8 + len(mvhd)) + b"moov" + mvhd
    return ftyp + moov + struct.pack(">I", 8 + size) + b"mdat" + b"\x00" * size


_CACHE = {}


@G.route(MEDIA_HOST, "GET,HEAD", "{name}", locked=False)
def media_file(api, req, name):
    """/media.sim/NAME[?w=W&h=H&pad=N&d=SECONDS]: generated bytes (d: a video's length); names with 'missing' are 404,
    '.html' is served as text/html (a login page, say)."""
    if "missing" in name or "unreachable" in name:
        return G.Reply("not found\n", 404, ctype="text/plain")
    low = name.lower()
    w, h = int(req.params.get("w") or 1080), int(req.params.get("h") or 1080)
    pad = int(req.params.get("pad") or 0)
    secs = float(req.params.get("d") or 10)
    key = (low.rsplit(".", 1)[-1], w, h, pad, secs)
    if low.endswith(".html"):
        return G.Reply("<html><body>Please log in</body></html>", 200, ctype="text/html")
    if key not in _CACHE:
        if low.endswith((".mp4", ".mov")):
            body, ctype = mp4_bytes(4096 + pad, secs), "video/quicktime" \
                if low.endswith(".mov") else "video/mp4"
        elif low.endswith(".png"):
            body, ctype = png_bytes(w, h), "image/png"
        else:
            body, ctype = jpeg_bytes(w, h) + b"\x00" * pad, "image/jpeg"
        _CACHE[key] = (body, ctype)
    body, ctype = _CACHE[key]
    return G.Reply(body, 200, ctype=ctype)


# --------------------------------------------------------------------------- control

@G.route(G.SIM, "GET,POST", "publish")
def c_publish(api, req):
    sim = api.sim
    if req.method == "POST":
        b = api.body(req)
        cfg = sim.pub["config"]
        for k in ("quota_total", "polls_image", "polls_video", "polls_carousel", "comment_trap"):
            if k in b:
                cfg[k] = int(b[k])
        if "next_status" in b:
            cfg["next_status"] = list(b["next_status"])
        if "publish_then_error" in b:
            cfg["publish_then_error"] = b["publish_then_error"]
        if b.get("container"):
            c = sim.pub["containers"].get(str(b["container"]))
            if c is None:
                raise G.ControlError("unknown container")
            c["forced"] = b.get("status")
        for acct, n in (b.get("quota_usage") or {}).items():
            sim.pub["publish_times"][str(acct)] = [sim.now()] * int(n)
    containers = list(sim.pub["containers"].values())
    return {"config": sim.pub["config"],
            "containers": [dict(c, status_code=status_of(sim, c)) for c in containers],
            "media": [sim.pub["media"][m] for m in sim.pub["order"]],
            "comments": sim.pub["comments"], "publishes": sim.pub["publishes"],
            "published": len(sim.pub["order"]), "duplicates": sim.pub["duplicates"]
            + sum(n - 1 for n in sim.pub["publishes"].values() if n > 1)}
