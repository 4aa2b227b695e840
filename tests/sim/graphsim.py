#!/usr/bin/env python3
"""graphsim - a local stand-in for Meta's Graph API, for igkit's tests and demo.

Serves, on loopback and under a path prefix named after each Meta host
(/graph.facebook.com, /graph.instagram.com, /api.instagram.com,
/www.facebook.com, /www.instagram.com), the OAuth flows of both login
flavours, /me and page/IG nodes, debug_token, subscribed_apps, the Send API
and Graph batch requests; a fake OpenAI-compatible LLM under /llm; and
control endpoints under /_sim/ (world, clock, error injection, latency,
recorded requests, webhook triggers).  It also builds and signs webhook
deliveries from fixtures on the command line (like `stripe trigger`).

Python 3 standard library only.  Usage and every endpoint: tests/sim/README.md.
"""
import argparse
import base64
import copy
import hashlib
import hmac
import ipaddress
import json
import os
import random
import re
import signal
import socket
import string
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES_DIR = HERE / "fixtures"

DEFAULT_APP_ID = "1234567890"
DEFAULT_APP_SECRET = "sim-app-secret"
DEFAULT_IG_APP_ID = "9876543210"
DEFAULT_IG_APP_SECRET = "sim-ig-app-secret"
DEFAULT_VERSION = "v25.0"
APP_NAME = "igkit-sim"

HOUR, DAY = 3600, 86400
IG_SHORT_TTL = HOUR            # api.instagram.com code exchange
FB_SHORT_TTL = 5400            # graph.facebook.com code exchange
LONG_TTL = 60 * DAY            # 5184000: long-lived IG and FB user tokens
CODE_TTL = HOUR                # OAuth codes
REFRESH_MIN_AGE = DAY          # ig_refresh_token needs a token >= 24 h old
WINDOW = DAY                   # standard messaging window
HUMAN_AGENT_WINDOW = 7 * DAY
PRIVATE_REPLY_WINDOW = 7 * DAY

IG_SCOPES = ("instagram_business_basic", "instagram_business_manage_messages",
             "instagram_business_manage_comments", "instagram_business_content_publish",
             "instagram_business_manage_insights")
FB_SCOPES = ("public_profile", "pages_show_list", "pages_read_engagement", "pages_manage_metadata",
             "pages_messaging", "instagram_basic", "instagram_manage_messages",
             "instagram_manage_comments", "instagram_content_publish", "instagram_manage_insights",
             "business_management")
ALL_TASKS = ["ANALYZE", "ADVERTISE", "MESSAGING", "MODERATE", "CREATE_CONTENT", "MANAGE"]

# subscribed_apps field lists (reference §1.4)
IG_WEBHOOK_FIELDS = ("comments", "live_comments", "messages", "message_reactions",
                     "messaging_postbacks", "messaging_seen", "messaging_referral",
                     "messaging_handover", "standby", "messaging_optins", "message_edit")
PAGE_WEBHOOK_FIELDS = ("messages", "message_echoes", "message_deliveries", "message_reads",
                       "message_reactions", "message_edits", "messaging_postbacks",
                       "messaging_optins", "messaging_referrals", "messaging_handovers", "standby",
                       "messaging_policy_enforcement", "messaging_account_linking",
                       "messaging_feedback", "messaging_game_plays", "response_feedback",
                       "send_cart", "messenger_template_status_update", "feed", "mention",
                       "name", "picture", "category", "description", "conversations", "ratings")

# IG user node fields per host (graph.facebook.com has no user_id/account_type)
IG_USER_FIELDS_IG = ("id", "user_id", "username", "name", "account_type", "profile_picture_url",
                     "followers_count", "follows_count", "media_count", "biography", "website")
IG_USER_FIELDS_FB = ("id", "ig_id", "username", "name", "profile_picture_url", "followers_count",
                     "follows_count", "media_count", "biography", "website")

ATTACHMENT_TYPES = ("image", "video", "audio", "file", "like_heart", "MEDIA_SHARE", "template",
                    "share", "ig_post", "ig_reel", "reel")
SENDER_ACTIONS = ("typing_on", "typing_off", "mark_seen", "react", "unreact")
# Reference §3.6, §9.1: rate limits mean wait, then retry.  Meta's examples
# show no is_transient on them.
RATE_LIMIT_CODES = (4, 17, 32, 341, 613, 80001, 80002, 80006)
AD_RATE_LIMIT_CODES = (80000, 80003, 80004)
WINDOW_OPENING = ("message", "postback", "referral", "optin")
MESSAGING_EVENT_KEYS = ("message", "message_edit", "postback", "reaction", "read", "referral",
                        "optin", "delivery", "pass_thread_control", "take_thread_control")
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"

DEFAULT_CONFIG = {
    "ig_token_shape": "data",        # "data" (documented) | "flat" (observed variant)
    "human_agent_approved": True,
    "auto_echo": False,
    "webhook_url": None,
    "webhook_secret": None,          # None = the app secret
    "llm_key": None,                 # None = any non-empty bearer key
    "ig_scoped_ids": True,           # BLfI: /me id and token user_id are app-scoped ids
    "redirect_uris": None,           # None = any http(s) redirect_uri is accepted
}

DEFAULT_WORLD = {
    "accounts": [
        {"id": "17841400000000001", "username": "marco_energia", "name": "Marco Energia",
         "followers_count": 1200, "follows_count": 310, "media_count": 87,
         "biography": "Allenamento e energia", "flavour": "instagram"},
        {"id": "17841400000000002", "username": "sara_ascolta", "name": "Sara Ascolta",
         "followers_count": 860, "follows_count": 140, "media_count": 34,
         "biography": "Ascolto e consulenza", "flavour": "instagram"},
        {"id": "17841400000000003", "username": "rossi_consulting", "name": "Rossi Consulting",
         "followers_count": 2400, "follows_count": 75, "media_count": 120,
         "biography": "Consulenza per PMI", "flavour": "facebook", "page_id": "100000000000001"},
    ],
    "users": [
        {"id": "10000000000000001", "name": "Luca Admin", "pages": [
            {"id": "100000000000001", "name": "Rossi Consulting", "tasks": ALL_TASKS,
             "instagram_business_account": "17841400000000003"},
            {"id": "100000000000002", "name": "No IG Page", "tasks": ALL_TASKS},
        ]},
    ],
}


# --------------------------------------------------------------------------- helpers

def meta_json(obj):
    """Serialise like Meta's webhook bodies: compact, ASCII only, '/' escaped."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")


def sign(secret, body):
    """(X-Hub-Signature-256, X-Hub-Signature) header values for body bytes."""
    key = secret.encode()
    return ("sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
            "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest())


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def signed_request(secret, payload):
    """Meta's signed_request for deauthorize / data-deletion callbacks (reference §8)."""
    p = b64url(json.dumps(payload, separators=(",", ":")).encode())
    return b64url(hmac.new(secret.encode(), p.encode(), hashlib.sha256).digest()) + "." + p


def rand_str(rng, n, alphabet=ALNUM):
    return "".join(rng.choice(alphabet) for _ in range(n))


def make_mid(rng, platform, account):
    """A fresh message id: base64 'aWdf...' for Instagram, 'm_...' for Messenger."""
    if platform == "page":
        return "m_" + rand_str(rng, 86, URLSAFE)
    raw = "ig_message_item:1:IGMessageThread:%s:%d" % (account, rng.getrandbits(120))
    return b64url(raw.encode())


def derive_id(forced, k):
    """The k-th distinct id of a payload when the first one is forced (--mid)."""
    if k == 0:
        return forced
    return str(int(forced) + k) if forced.isdigit() else "%s.%d" % (forced, k + 1)


def add_query(url, params):
    """url with params appended to its query; any fragment is dropped."""
    parts = urllib.parse.urlsplit(url)
    extra = urllib.parse.urlencode([(k, v) for k, v in params.items() if v is not None])
    query = parts.query + "&" + extra if parts.query else extra
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def parse_fields(spec):
    """'a,b{c,d},e.limit(3)' -> [('a', None), ('b', [('c', None), ('d', None)]), ('e', None)]"""
    out, depth, cur = [], 0, ""
    for ch in (spec or "") + ",":
        if ch == "," and depth == 0:
            cur = cur.strip()
            if cur:
                name, _, sub = cur.partition("{")
                name = re.sub(r"\.\w+\([^)]*\)", "", name).strip()
                out.append((name, parse_fields(sub[:-1]) if sub else None))
            cur = ""
            continue
        depth += (ch == "{") - (ch == "}")
        cur += ch
    return out


def split_list(value):
    """A comma/space separated list or a JSON array (string or list) -> list of str."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    value = str(value).strip()
    if value.startswith("["):
        try:
            return [str(v) for v in json.loads(value)]
        except ValueError:
            pass
    return [v for v in re.split(r"[,\s]+", value) if v]


def content_text(content):
    """Chat message content (string or list of parts) as plain text."""
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def llm_answer(messages):
    """The fake LLM's deterministic reply (the formula is documented in README.md)."""
    system = "\n".join(content_text(m.get("content")) for m in messages
                       if m.get("role") in ("system", "developer"))
    voice = None
    for line in system.splitlines():
        if line.strip().startswith("Voice:"):
            voice = line.strip()[len("Voice:"):].strip()
            break
    if voice is None:
        flat = " ".join(system.split())
        m = re.match(r"(.*?[.!?])(\s|$)", flat)
        voice = (m.group(1) if m else flat)[:60].strip()
    last_user = ""
    for m in messages:
        if m.get("role") == "user":
            last_user = content_text(m.get("content"))
    reply = "re: " + last_user[:80]
    return voice + " " + reply if voice else reply


def http_request(url, data=None, headers=None, method=None, timeout=10):
    """(status, body text); status 0 on a connection failure.  Never uses a proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        return 0, str(getattr(e, "reason", e))


def webhook_headers(sig256, sig1):
    return {"Content-Type": "application/json", "X-Hub-Signature-256": sig256,
            "X-Hub-Signature": sig1, "User-Agent": "facebookexternalua"}


# --------------------------------------------------------------------------- errors

TOKEN_PROBLEMS = {   # code 190 subcodes (reference §9.1)
    458: "Error validating access token: The user has not authorized application.",
    460: "Error validating access token: The session has been invalidated because the user "
         "changed their password or Facebook has changed the session for security reasons.",
    463: "Error validating access token: Session has expired.",
    467: "Error validating access token: Invalid OAuth access token - Cannot parse access token",
}


class GraphError(Exception):
    """A Graph API error object (reference §9.1)."""
    DEFAULT_MESSAGES = {
        1: "An unknown error has occurred.",
        2: "An unexpected error has occurred. Please retry your request later.",
        4: "(#4) Application request limit reached",
        10: "(#10) Application does not have permission for this action",
        17: "(#17) User request limit reached",
        32: "(#32) Page request limit reached",
        100: "(#100) Invalid parameter",
        190: "Error validating access token: Invalid OAuth access token.",
        200: "(#200) Permissions error",
        368: "(#368) The action attempted has been deemed abusive or is otherwise disallowed",
        613: "(#613) Calls to this api have exceeded the rate limit.",
        80002: "(#80002) There have been too many calls to this Instagram account. "
               "Wait a bit and try again.",
    }

    def __init__(self, code, message=None, subcode=None, status=400, etype="OAuthException",
                 transient=None, headers=None):
        super().__init__(message)
        self.code, self.subcode, self.status, self.etype = code, subcode, status, etype
        self.message = message or (TOKEN_PROBLEMS.get(subcode) if code == 190 else None) or \
            self.DEFAULT_MESSAGES.get(code, "(#%s) Simulated error" % code)
        self.transient = (code in (1, 2)) if transient is None else transient
        self.headers = headers or {}

    def body(self, trace_id):
        err = {"message": self.message, "type": self.etype, "code": self.code}
        if self.subcode is not None:
            err["error_subcode"] = self.subcode
        err["is_transient"] = bool(self.transient)
        err["fbtrace_id"] = trace_id
        return {"error": err}


def unsupported(node, method="get"):
    return GraphError(100, "Unsupported %s request. Object with ID '%s' does not exist, cannot be "
                      "loaded due to missing permissions, or does not support this operation. "
                      "Please read the Graph API documentation at "
                      "https://developers.facebook.com/docs/graph-api" % (method.lower(), node),
                      subcode=33, etype="GraphMethodException")


def param_error(message, subcode=None):
    return GraphError(100, "(#100) " + message, subcode=subcode)


class IGOAuthError(Exception):
    """api.instagram.com/oauth/access_token's own error shape."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class OpenAIError(Exception):
    def __init__(self, status, message, etype="invalid_request_error", code=None):
        super().__init__(message)
        self.status, self.message, self.etype, self.code = status, message, etype, code


class ControlError(Exception):
    def __init__(self, message, status=400):
        super().__init__(message)
        self.status, self.message = status, message


class Reply:
    """A response: body is a dict/list (JSON), str or bytes."""

    def __init__(self, body=None, status=200, headers=None, ctype=None):
        self.body, self.status, self.headers = body, status, dict(headers or {})
        self.ctype = ctype

    def encode(self):
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), self.ctype or "application/json; charset=UTF-8"
        if isinstance(self.body, str):
            return self.body.encode(), self.ctype or "text/plain; charset=UTF-8"
        return self.body or b"", self.ctype or "text/html; charset=UTF-8"


def redirect(url):
    html = '<html><body>Redirecting to <a href="%s">%s</a></body></html>' % (url, url)
    return Reply(html.encode(), 302, {"Location": url})


# --------------------------------------------------------------------------- webhook payloads

def list_kinds(fixtures_dir):
    return sorted(p.stem for p in Path(fixtures_dir).glob("*.json"))


def load_fixture(fixtures_dir, kind):
    if not re.fullmatch(r"[A-Za-z0-9_-]+", kind or ""):
        raise KeyError(kind)
    path = Path(fixtures_dir) / (kind + ".json")
    if not path.is_file():
        raise KeyError(kind)
    return json.loads(path.read_text(encoding="utf-8"))


def _items(entry):
    for key in ("messaging", "standby"):
        for item in entry.get(key, []):
            yield key, item


def _unique(values):
    out = []
    for v in values:
        if v and v not in out:
            out.append(v)
    return out


def _id_map(originals, replacements):
    """Map distinct original ids onto replacements in order; the last one repeats."""
    if not replacements:
        return {}
    return {o: replacements[min(i, len(replacements) - 1)] for i, o in enumerate(originals)}


def build_delivery(fixture, accounts=(), users=(), text=None, mid=None, time_ms=None, rng=None):
    """Substitute ids, text, mids and timestamps into a fixture.

    Returns (payload, events) where events describe each messaging event or
    comment, for the simulator to learn participants and comments from.
    """
    obj = copy.deepcopy(fixture)
    rng = rng or random.SystemRandom()
    platform = obj.get("object", "instagram")
    entries = obj.get("entry", [])
    orig_accounts = _unique(e.get("id") for e in entries)
    orig_users, mids, cids = [], [], []
    for e in entries:
        for _, it in _items(e):
            s, r = it.get("sender", {}).get("id"), it.get("recipient", {}).get("id")
            orig_users.append(r if s in orig_accounts else s)
            for key in MESSAGING_EVENT_KEYS:
                if isinstance(it.get(key), dict) and it[key].get("mid"):
                    mids.append(it[key]["mid"])
        for ch in e.get("changes", []):
            v = ch.get("value", {})
            who = v.get("from", {}).get("id")
            if who and who not in orig_accounts:
                orig_users.append(who)
            if ch.get("field") in ("comments", "live_comments") and v.get("id"):
                cids.append(v["id"])
            if v.get("comment_id"):
                cids.append(v["comment_id"])
    acc_map = _id_map(orig_accounts, list(accounts))
    user_map = _id_map(_unique(orig_users), list(users))
    mids, cids = _unique(mids), _unique(cids)
    now_ms = int(time.time() * 1000) if time_ms is None else int(time_ms)
    first_account = acc_map.get(orig_accounts[0], orig_accounts[0]) if orig_accounts else ""
    mid_map = {m: derive_id(mid, i) if mid else make_mid(rng, platform, first_account)
               for i, m in enumerate(mids)}
    cid_map = {}
    for i, c in enumerate(cids):
        if mid and not mids:
            cid_map[c] = derive_id(mid, i)
        elif "_" in c:
            head, _, tail = c.rpartition("_")
            cid_map[c] = head + "_" + rand_str(rng, len(tail), string.digits[1:])
        else:
            cid_map[c] = "18" + rand_str(rng, 15, string.digits)

    def subst(key, value):
        if key == "id" and value in acc_map:
            return acc_map[value]
        if key == "id" and value in user_map:
            return user_map[value]
        if key == "mid" and value in mid_map:
            return mid_map[value]
        if key in ("id", "comment_id", "parent_id") and value in cid_map:
            return cid_map[value]
        if key in ("id", "post_id", "parent_id") and "_" in value:
            head, _, tail = value.partition("_")
            if head in acc_map:
                return acc_map[head] + "_" + tail
        return value

    def walk(node):
        pairs = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in list(pairs):
            if isinstance(v, str):
                node[k] = subst(k, v)
            elif isinstance(v, (dict, list)):
                walk(v)
    walk(obj)

    # timestamps: keep the fixture's relative offsets, anchored at now
    ts = [it["timestamp"] for e in entries for _, it in _items(e) if "timestamp" in it]
    t0 = min(ts) if ts else 0
    change_times = [e["time"] for e in entries if "changes" in e and "time" in e]
    c0 = min(change_times) if change_times else 0
    for e in entries:
        if "changes" in e:
            unit = 1000 if e.get("time", 0) > 10 ** 12 else 1
            e["time"] = now_ms * unit // 1000 + (e.get("time", c0) - c0)
            for ch in e["changes"]:
                if "created_time" in ch.get("value", {}):
                    ch["value"]["created_time"] = now_ms // 1000
        else:
            for _, it in _items(e):
                it["timestamp"] = now_ms + (it.get("timestamp", t0) - t0)
            e["time"] = now_ms + max(0, e.get("time", t0) - t0)

    if text is not None:       # the first event that carries text gets --text
        for e in entries:
            holders = [it.get(k) for _, it in _items(e) for k in ("message", "message_edit")]
            holders += [ch.get("value") for ch in e.get("changes", [])]
            done = False
            for h in holders:
                if isinstance(h, dict) and ("text" in h or "message" in h):
                    h["text" if "text" in h else "message"] = text
                    done = True
                    break
            if done:
                break
    return obj, describe_events(obj)


def describe_events(obj):
    events = []
    for e in obj.get("entry", []):
        account = e.get("id")
        for where, it in _items(e):
            sender = it.get("sender", {}).get("id")
            recipient = it.get("recipient", {}).get("id")
            key = next((k for k in MESSAGING_EVENT_KEYS if k in it), None)
            body = it.get(key) if isinstance(it.get(key), dict) else {}
            events.append({
                "type": key, "account": account, "where": where,
                "user": recipient if sender == account else sender,
                "inbound": sender != account and not body.get("is_echo"),
                "echo": bool(body.get("is_echo")), "deleted": bool(body.get("is_deleted")),
                "mid": body.get("mid"), "text": body.get("text"),
                "ts": it.get("timestamp", 0) / 1000.0})
        for ch in e.get("changes", []):
            v = ch.get("value", {})
            cid = v.get("id") if ch.get("field") in ("comments", "live_comments") \
                else v.get("comment_id")
            if not cid or ch.get("field") == "mentions":
                continue
            t = e.get("time", 0)
            events.append({
                "type": "comment", "field": ch.get("field"), "account": account,
                "comment_id": cid, "user": v.get("from", {}).get("id"),
                "self": v.get("from", {}).get("id") == account, "text": v.get("text",
                                                                            v.get("message")),
                "ts": t / 1000.0 if t > 10 ** 12 else float(t)})
    return events


# --------------------------------------------------------------------------- state

class Sim:
    """All simulator state.  Every access goes through self.lock."""

    def __init__(self, app_id=DEFAULT_APP_ID, app_secret=DEFAULT_APP_SECRET,
                 ig_app_id=DEFAULT_IG_APP_ID, ig_app_secret=DEFAULT_IG_APP_SECRET,
                 seed=None, world=None, fixtures_dir=FIXTURES_DIR, log=None):
        self.lock = threading.RLock()
        self.app_id, self.app_secret = app_id, app_secret
        self.ig_app_id, self.ig_app_secret = ig_app_id, ig_app_secret
        self.seed, self.world_file, self.fixtures_dir = seed, world, fixtures_dir
        self.log_file = log
        self.reset()

    def reset(self):
        with self.lock:
            self.rng = random.Random(self.seed if self.seed is not None else os.urandom(16))
            self.offset = 0.0
            self.config = dict(DEFAULT_CONFIG)
            self.accounts, self.users, self.pages = {}, {}, {}
            self.participants, self.comments = {}, {}
            self.apply_world(DEFAULT_WORLD)
            if self.world_file:
                self.apply_world(self.world_file)
            self.tokens, self.page_tokens, self.codes = {}, {}, {}
            self.consent = {"ig": {"as": None, "deny": False, "scopes": None},
                            "fb": {"as": None, "deny": False, "scopes": None}}
            self.messages, self.subscriptions, self.deliveries = [], {}, []
            self.requests, self.seq = [], 0
            self.injections, self.inject_seq, self.latency_ms = [], 0, 0
            for hook in RESET_HOOKS:     # the plugins' state (sim_*.py)
                hook(self)

    # -- clock and ids
    def now(self):
        return time.time() + self.offset

    def rand(self, n, alphabet=ALNUM):
        with self.lock:
            return rand_str(self.rng, n, alphabet)

    def trace_id(self):
        return "A" + self.rand(10)

    # -- world
    def apply_world(self, world):
        with self.lock:
            if world.get("replace"):
                self.accounts, self.users, self.pages = {}, {}, {}
            for a in world.get("accounts", []):
                self.add_account(a)
            for u in world.get("users", []):
                self.add_user(u)
            for p in world.get("participants", []):
                self.add_participant(p["account"], p["id"], p.get("last_message_at", "now"))
            for c in world.get("comments", []):
                self.add_comment(c)
            for k, v in world.get("config", {}).items():
                self.set_config(k, v)

    def add_account(self, d):
        if not str(d.get("id", "")).isdigit() or not d.get("username"):
            raise ControlError("an account needs a numeric id and a username")
        aid = str(d["id"])
        acct = {"name": d["username"], "account_type": "BUSINESS", "biography": "",
                "followers_count": 0, "follows_count": 0, "media_count": 0, "website": None,
                "profile_picture_url": "https://scontent.cdninstagram.com/v/sim/%s.jpg"
                % d["username"], "scoped_id": str(26 * 10 ** 15 + int(aid) % 10 ** 15),
                "flavour": "facebook" if d.get("page_id") else "instagram"}
        acct.update(self.accounts.get(aid, {}))
        acct.update({k: v for k, v in d.items() if k != "user"}, id=aid)
        self.accounts[aid] = acct
        if acct.get("page_id"):
            pid = str(acct["page_id"])
            if pid not in self.pages:
                owner = d.get("user") or next(iter(self.users), None)
                self.pages[pid] = {"id": pid, "name": acct["name"], "category": "Business",
                                   "tasks": list(ALL_TASKS), "ig": None, "users": []}
                if owner in self.users:
                    self.pages[pid]["users"].append(owner)
                    self.users[owner]["pages"].append(pid)
            self.pages[pid]["ig"] = aid
        return acct

    def add_user(self, d):
        if not str(d.get("id", "")).isdigit():
            raise ControlError("a user needs a numeric id")
        uid = str(d["id"])
        user = self.users.setdefault(uid, {"id": uid, "name": d.get("name", "User " + uid),
                                           "pages": []})
        user["name"] = d.get("name", user["name"])
        for p in d.get("pages", []):
            pid = str(p["id"])
            page = self.pages.setdefault(pid, {"id": pid, "ig": None, "users": []})
            page["name"] = p.get("name", page.get("name", "Page " + pid))
            page["category"] = p.get("category", page.get("category", "Business"))
            page["tasks"] = list(p.get("tasks", page.get("tasks", ALL_TASKS)))
            if uid not in page["users"]:
                page["users"].append(uid)
            if pid not in user["pages"]:
                user["pages"].append(pid)
            iba = p.get("instagram_business_account")
            if isinstance(iba, dict):
                self.add_account(dict(iba, page_id=pid, flavour="facebook"))
            elif iba:
                iba = str(iba)
                if iba in self.accounts:
                    self.accounts[iba]["page_id"] = pid
                    page["ig"] = iba
                else:
                    self.add_account({"id": iba, "username": "ig_" + iba[-4:], "page_id": pid,
                                      "flavour": "facebook"})
        return user

    def world_dump(self):
        page = lambda p: {"id": p["id"], "name": p["name"], "tasks": p["tasks"],
                          "instagram_business_account": p["ig"]}
        return {"accounts": list(self.accounts.values()),
                "users": [dict(u, pages=[page(self.pages[p]) for p in u["pages"]])
                          for u in self.users.values()]}

    def scoped_id(self, acct):
        return acct["scoped_id"] if self.config["ig_scoped_ids"] else acct["id"]

    def first_blfi_account(self):
        return next((a["id"] for a in self.accounts.values() if a["flavour"] == "instagram"),
                    next(iter(self.accounts), None))

    def set_config(self, key, value):
        if key not in DEFAULT_CONFIG:
            raise ControlError("unknown config key: %s (known: %s)" %
                               (key, ", ".join(sorted(DEFAULT_CONFIG))))
        if key == "ig_token_shape" and value not in ("data", "flat"):
            raise ControlError("ig_token_shape must be 'data' or 'flat'")
        self.config[key] = value

    # -- participants and comments
    def add_participant(self, account, user, last_message_at="now"):
        key = (str(account), str(user))
        rec = self.participants.setdefault(key, {"account": key[0], "id": key[1],
                                                 "last_message_at": None})
        if last_message_at == "now":
            last_message_at = self.now()
        if last_message_at is not None:
            t = float(last_message_at)
            t = t / 1000.0 if t > 10 ** 12 else t
            if rec["last_message_at"] is None or t > rec["last_message_at"]:
                rec["last_message_at"] = t
        return rec

    def add_comment(self, c):
        created = float(c.get("created_at", self.now()))
        rec = {"id": str(c["id"]), "account": str(c["account"]), "from": str(c.get("from", "")),
               "text": c.get("text"), "created_at": created / 1000.0 if created > 10 ** 12
               else created, "self": bool(c.get("self")), "replied": bool(c.get("replied"))}
        self.comments[rec["id"]] = rec
        return rec

    def learn(self, events):
        """Remember participants, inbound times and comments from a triggered delivery."""
        for ev in events:
            if ev["type"] == "comment":
                if not ev["self"] and ev["user"]:
                    self.add_comment({"id": ev["comment_id"], "account": ev["account"],
                                      "from": ev["user"], "text": ev["text"],
                                      "created_at": ev["ts"]})
                continue
            opens = ev["inbound"] and ev["type"] in WINDOW_OPENING and not ev["deleted"]
            self.add_participant(ev["account"], ev["user"], ev["ts"] if opens else None)

    # -- tokens
    def issue_token(self, kind, owner, scopes, ttl, user=None, long_lived=False, source="oauth"):
        prefix = {"ig": "IGAA", "user": "EAAB", "page": "EAAP"}[kind]
        with self.lock:
            now = int(self.now())
            rec = {"token": prefix + self.rand(120), "kind": kind, "owner": str(owner),
                   "user": str(user or owner), "scopes": list(scopes),
                   "app_id": self.ig_app_id if kind == "ig" else self.app_id,
                   "issued_at": now, "expires_at": now + ttl if ttl else 0,
                   "long_lived": long_lived, "revoked": None, "source": source}
            self.tokens[rec["token"]] = rec
            return rec

    def token_problem(self, rec):
        """None if the token is usable, else (subcode, message)."""
        if rec["revoked"] == "deauthorized":
            return 458, "User %s has not authorized application %s." % (rec["user"], rec["app_id"])
        if rec["revoked"]:
            return 460, TOKEN_PROBLEMS[460].split(": ", 1)[1]
        now = self.now()
        if rec["expires_at"] and now >= rec["expires_at"]:
            fmt = "%A, %d-%b-%y %H:%M:%S UTC"
            return 463, "Session has expired on %s. The current time is %s." % (
                time.strftime(fmt, time.gmtime(rec["expires_at"])),
                time.strftime(fmt, time.gmtime(now)))
        if rec["kind"] == "page" and rec["owner"] not in self.pages:
            return 467, "The page no longer exists."
        return None

    def check_token(self, token, kinds):
        rec = self.tokens.get(token)
        if rec is None or rec["kind"] not in kinds:
            raise GraphError(190, subcode=467)
        problem = self.token_problem(rec)
        if problem:
            raise GraphError(190, "Error validating access token: " + problem[1],
                             subcode=problem[0])
        return rec

    def page_token(self, user_tok, pid):
        """The page token /me/accounts hands out for (user token, page); stable per pair."""
        key = (user_tok["token"], pid)
        rec = self.tokens.get(self.page_tokens.get(key, ""))
        if rec is None:
            ttl = 0 if user_tok["long_lived"] else max(1, user_tok["expires_at"] - int(self.now()))
            rec = self.issue_token("page", pid, user_tok["scopes"], ttl, user=user_tok["owner"],
                                   long_lived=user_tok["long_lived"], source="accounts")
            self.page_tokens[key] = rec["token"]
        return rec

    def tokens_of(self, account):
        return [t for t in self.tokens.values() if account in (t["owner"], t["user"])]

    # -- requests, injections
    def record(self, req):
        with self.lock:
            self.seq += 1
            rec = {"seq": self.seq, "method": req.method, "path": req.path, "host": req.host,
                   "query": req.query, "headers": req.headers,
                   "body": req.raw.decode("utf-8", "replace"), "status": None,
                   "at": round(self.now(), 3)}
            self.requests.append(rec)
            del self.requests[:-20000]
            return rec

    def take_injection(self, req):
        with self.lock:
            for inj in self.injections:
                if inj["match"] in req.path and inj["method"] in ("*", req.method):
                    if inj["count"] > 0:
                        inj["count"] -= 1
                    if inj["count"] == 0:
                        self.injections.remove(inj)
                    return dict(inj)
        return None

    def log(self, line):
        if self.log_file:
            with self.lock, open(self.log_file, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    # -- outbound webhooks
    def webhook_secret(self, override=None):
        return override or self.config["webhook_secret"] or self.app_secret

    def deliver(self, url, body, headers, what):
        status, text = http_request(url, body, headers, "POST")
        with self.lock:
            self.deliveries.append({"url": url, "what": what, "body": body.decode(),
                                    "status": status, "response": text[:2000],
                                    "at": round(self.now(), 3)})
        return status, text


# --------------------------------------------------------------------------- requests and routes

class Request:
    def __init__(self, method, path, query, headers, raw, base_url):
        self.method, self.path, self.query, self.headers, self.raw = (
            method, path, query, headers, raw)
        self.base_url = base_url
        segs = [urllib.parse.unquote(s) for s in path.split("/") if s]
        self.host = segs[0] if segs else ""
        rest = segs[1:]
        self.version = None
        if rest and re.fullmatch(r"v\d+\.\d+", rest[0]):
            self.version, rest = rest[0], rest[1:]
        self.segs = rest
        self.json = None
        self.params = dict(query)
        if raw.lstrip()[:1] in (b"{", b"["):       # JSON, whatever the Content-Type says
            try:
                self.json = json.loads(raw.decode("utf-8"))
            except ValueError:
                pass
        if isinstance(self.json, dict):
            self.params.update(self.json)
        elif raw and self.json is None:
            self.params.update(parse_query(raw.decode("utf-8", "replace")))
        if self.host not in SIM + LLM and self.method in ("GET", "POST") and \
                str(self.params.get("method", "")).upper() in ("GET", "POST", "DELETE"):
            self.method = str(self.params["method"]).upper()   # Graph method override

    def header(self, name, default=""):
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return default

    @property
    def token(self):
        auth = self.header("Authorization").strip()
        for scheme in ("Bearer ", "OAuth "):
            if auth[:len(scheme)].lower() == scheme.lower():
                return auth[len(scheme):].strip()
        return self.params.get("access_token")

    def obj(self, name):
        """A parameter that is a JSON object, sent as JSON or as a JSON string in a form."""
        v = self.params.get(name)
        if isinstance(v, str):
            try:
                v = json.loads(v)
            except ValueError:
                raise param_error("param %s must be a JSON object" % name)
        if v is not None and not isinstance(v, dict):
            raise param_error("param %s must be a JSON object" % name)
        return v

    def require(self, *names):
        for n in names:
            if self.params.get(n) in (None, ""):
                raise param_error("The parameter %s is required" % n)


def parse_query(qs):
    out = {}
    for k, v in urllib.parse.parse_qsl(qs, keep_blank_values=True):
        out.setdefault(k, v)
    return out


ROUTES = []
RESET_HOOKS = []   # fn(sim), called by Sim.reset with the lock held: plugins' state
IG_GRAPH, FB_GRAPH = ("graph.instagram.com",), ("graph.facebook.com",)
# Reference §7.1: the authorize dialog is on www.instagram.com only; the old
# host answers "Sorry, this page isn't available" (see old_ig_authorize).
IG_DIALOG, FB_DIALOG = ("www.instagram.com",), ("www.facebook.com",)
IG_API, LLM, SIM = ("api.instagram.com",), ("llm",), ("_sim",)


def route(hosts, methods, pattern, locked=True):
    """Register an Api method for hosts x methods x path pattern ('{x}' = any segment)."""
    segs = tuple(s for s in pattern.split("/") if s)

    def deco(fn):
        ROUTES.append({"hosts": hosts, "methods": methods.split(","), "segs": segs,
                       "fn": fn, "locked": locked})
        return fn
    return deco


class NextRoute(Exception):
    """Raised by a handler for an object that is not its own (a plugin's media id that is
    another plugin's): dispatch tries the next route that matches."""


def match_routes(host, segs, method):
    """Every (route, captures) for host, path and method, the most specific first; None if
    no path matched, False if only the method is wrong."""
    found = []
    for r in ROUTES:
        if host not in r["hosts"] or len(r["segs"]) != len(segs):
            continue
        caps = []
        for p, s in zip(r["segs"], segs):
            if p.startswith("{"):
                caps.append(s)
            elif p != s:
                break
        else:
            found.append((-sum(not p.startswith("{") for p in r["segs"]), len(found), r, caps))
    if not found:
        return None
    out = [(r, caps) for _, _, r, caps in sorted(found, key=lambda f: f[:2])
           if method in r["methods"]]
    return out or False


def match_route(host, segs, method):
    """(route, captures) or (None, None) if no path matched, (False, None) on bad method."""
    cands = match_routes(host, segs, method)
    return cands[0] if cands else (cands, None)


class Api:
    """Route handlers.  Each returns a Reply or a JSON-able object, or raises."""

    def __init__(self, sim):
        self.sim = sim

    # ------------------------------------------------------------ dispatch
    def dispatch(self, req):
        sim = self.sim
        try:
            cands = match_routes(req.host, req.segs, req.method)
            r, caps = cands[0] if cands else (cands, None)
            if r is None:
                if req.host in SIM:
                    raise ControlError("unknown control endpoint: " + req.path, 404)
                if req.host in LLM:
                    raise OpenAIError(404, "Unknown path: " + req.path)
                if req.host not in IG_GRAPH + FB_GRAPH + IG_DIALOG + FB_DIALOG:
                    raise GraphError(100, "Unknown host prefix '%s'; use one of /%s" % (
                        req.host, ", /".join(IG_GRAPH + FB_GRAPH + IG_DIALOG + FB_DIALOG)),
                        status=404)
                raise unsupported("/".join(req.segs) or "/", req.method)
            if r is False:
                raise GraphError(100, "(#100) Unsupported %s request." % req.method.lower())
            for r, caps in cands:
                try:
                    if r["locked"]:
                        with sim.lock:
                            out = r["fn"](self, req, *caps)
                    else:
                        out = r["fn"](self, req, *caps)
                    break
                except NextRoute:
                    continue
            else:   # every route passed: nobody has the object
                raise unsupported("/".join(req.segs) or "/", req.method)
            reply = out if isinstance(out, Reply) else Reply(out)
        except GraphError as e:
            reply = Reply(e.body(sim.trace_id()), e.status, e.headers)
        except IGOAuthError as e:
            reply = Reply({"error_type": "OAuthException", "code": 400,
                           "error_message": e.message}, 400)
        except OpenAIError as e:
            reply = Reply({"error": {"message": e.message, "type": e.etype, "param": None,
                                     "code": e.code}}, e.status)
        except ControlError as e:
            reply = Reply({"ok": False, "error": e.message}, e.status)
        except Exception:                                      # a simulator bug
            traceback.print_exc(file=sys.stderr)
            reply = Reply(GraphError(1, transient=True).body(sim.trace_id()), 500)
        if req.host in IG_GRAPH + FB_GRAPH:
            reply.headers.setdefault("facebook-api-version", req.version or DEFAULT_VERSION)
            reply.headers.setdefault("x-fb-trace-id", sim.trace_id())
        return reply

    def injected(self, req, inj):
        """The Reply for an injected failure, or None if the rule only hangs."""
        code, status = inj.get("code"), inj.get("status")
        if code is None and not status:
            return None
        if code is None:
            return Reply("%d Simulated server error\n" % status, status, inj.get("headers"))
        err = GraphError(code, inj.get("message"), inj.get("subcode"), status or
                         {1: 500, 2: 503}.get(code, 400), inj.get("type") or "OAuthException",
                         inj.get("is_transient"))
        headers = {}
        if code in RATE_LIMIT_CODES + AD_RATE_LIMIT_CODES and inj.get("usage_headers", True):
            headers = self.usage_headers(req, code, inj.get("eta", 1), inj.get("buc_objects", 1))
        headers.update(inj.get("headers") or {})
        if req.host in LLM:
            return Reply({"error": {"message": err.message, "type": "sim_injected",
                                    "param": None, "code": code}}, err.status, headers)
        return Reply(err.body(self.sim.trace_id()), err.status, headers)

    def usage_headers(self, req, code, eta, objects=1):
        """The usage headers Meta sends with a rate-limit error (reference §9.2).

        4, 17, 341 (app and user limits): X-App-Usage at 100 %.  32, 613,
        80001, 80002, 80006: X-Business-Use-Case-Usage with the BUC type of the
        code (pages / instagram / messenger; 613 by host), the limited object
        first and `objects - 1` more objects after it (a header of several KB
        for 32), `estimated_time_to_regain_access` = eta minutes (None: left
        out).  80000/80003/80004: X-Ad-Account-Usage."""
        js = lambda v: json.dumps(v, separators=(",", ":"))
        node = next((s for s in req.segs if s.isdigit()), None) or self.sim.app_id
        usage = {"call_count": 100, "total_cputime": 20, "total_time": 35}
        if code in (4, 17, 341):
            return {"X-App-Usage": js(usage)}
        if code in AD_RATE_LIMIT_CODES:
            return {"X-Ad-Account-Usage": js({"acc_id_util_pct": 100.0,
                                              "reset_time_duration": (eta or 0) * 60,
                                              "ads_api_access_tier": "standard_access"})}
        buc_type = {80001: "pages", 80002: "instagram", 80006: "messenger", 32: "pages"}.get(code)
        if buc_type is None:
            buc_type = ("messenger" if "messages" in req.segs and req.host in FB_GRAPH else
                        "instagram" if req.host in IG_GRAPH else "pages")
        first = dict(usage, type=buc_type)
        if eta is not None:
            first["estimated_time_to_regain_access"] = eta
        buc = {node: [first]}
        for i in range(1, max(1, int(objects))):
            buc["1784%011d" % i] = [{"type": buc_type, "call_count": 3, "total_cputime": 1,
                                     "total_time": 1, "estimated_time_to_regain_access": 0,
                                     "ads_api_access_tier": "development_access"}]
        return {"X-Business-Use-Case-Usage": js(buc)}

    # ------------------------------------------------------------ auth helpers
    def auth(self, req, kinds):
        tok = req.token
        if not tok:
            raise GraphError(104, "An access token is required to request this resource.")
        if "|" in tok:
            raise GraphError(190, "Error validating access token: an app access token cannot "
                             "be used here", subcode=467)
        return self.sim.check_token(tok, kinds)

    @staticmethod
    def need_scope(tok, *scopes):
        if not any(s in tok["scopes"] for s in scopes):
            raise GraphError(200, "(#200) Requires %s permission to manage the object" %
                             " or ".join(scopes))

    def ig_account(self, node, tok, method="get"):
        """The BLfI account a graph.instagram.com node names, checked against the token."""
        acct = self.sim.accounts.get(tok["owner"])
        if acct is None or node not in ("me", acct["id"], self.sim.scoped_id(acct)):
            raise unsupported(node, method)
        return acct

    def fb_node(self, node, tok, method="get"):
        """('user'|'page'|'iguser', record) for a graph.facebook.com node the token may see."""
        sim = self.sim
        user = sim.users.get(tok["user"])
        my_pages = [tok["owner"]] if tok["kind"] == "page" else (user["pages"] if user else [])
        if node == "me":
            return ("page", sim.pages[tok["owner"]]) if tok["kind"] == "page" else ("user", user)
        if node in sim.pages and node in my_pages:
            return "page", sim.pages[node]
        if node in sim.accounts and sim.accounts[node].get("page_id") in my_pages:
            return "iguser", sim.accounts[node]
        if node in sim.users and tok["kind"] == "user" and node == tok["owner"]:
            return "user", user
        raise unsupported(node, method)

    def select(self, node_type, available, fields, default):
        """Pick requested fields from available (value or callable(subfields))."""
        out = {}
        for name, sub in (parse_fields(fields) if fields else [(f, None) for f in default]):
            if name not in available:
                raise param_error("Tried accessing nonexisting field (%s) on node type (%s)" %
                                  (name, node_type))
            v = available[name]
            v = v(sub) if callable(v) else v
            if v is not None:
                out[name] = v
        if "id" in available and "id" not in out:
            out["id"] = available["id"]
        return out

    def ig_user_fields(self, acct, host):
        a = {k: acct.get(k) for k in IG_USER_FIELDS_IG if k in acct}
        if host in IG_GRAPH:
            a.update(id=self.sim.scoped_id(acct), user_id=acct["id"])
        else:
            a = {k: v for k, v in a.items() if k in IG_USER_FIELDS_FB}
            a.update(id=acct["id"], ig_id=int(acct["id"]) % 10 ** 10)
        return a

    def page_fields(self, page, tok, edge=False):
        """A Page's fields; `tasks` only on the /accounts edge (reference §7.2)."""
        sim = self.sim
        ig = sim.accounts.get(page["ig"]) if page["ig"] else None

        def iba(sub):
            if not ig:
                return None
            if not sub:
                return {"id": ig["id"]}
            return self.select("ShadowIGUser", self.ig_user_fields(ig, "graph.facebook.com"),
                               ",".join(n for n, _ in sub), ())

        def access_token(_):
            if tok["kind"] == "page":
                return tok["token"]
            return sim.page_token(tok, page["id"])["token"]
        out = {"id": page["id"], "name": page["name"], "category": page["category"],
               "instagram_business_account": iba, "access_token": access_token}
        if edge:
            out["tasks"] = page["tasks"]
        return out

    # ------------------------------------------------------------ Instagram Login OAuth
    def consent_for(self, flavour):
        c = self.sim.consent[flavour]
        who = c["as"] or (self.sim.first_blfi_account() if flavour == "ig"
                          else next(iter(self.sim.users), None))
        return who, c

    def new_code(self, flavour, subject, scopes, redirect_uri, client_id):
        code = "AQ" + self.sim.rand(110, URLSAFE)
        self.sim.codes[code] = {"flavour": flavour, "subject": subject, "scopes": scopes,
                                "redirect_uri": redirect_uri, "client_id": client_id,
                                "created_at": self.sim.now(), "used": False}
        return code

    def check_redirect_uri(self, uri):
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise param_error("Invalid redirect_uri: it must be an absolute http(s) URL")
        allowed = self.sim.config["redirect_uris"]
        if allowed is not None and uri not in allowed:
            raise GraphError(191, "URL Blocked: This redirect failed because the redirect URI is "
                             "not whitelisted in the app's Client OAuth Settings.")

    @route(IG_API, "GET", "oauth/authorize")
    def old_ig_authorize(self, req):
        """api.instagram.com no longer serves the consent screen (reference §7.1)."""
        return Reply("Sorry, this page isn't available.\n", 404)

    @route(IG_DIALOG, "GET", "oauth/authorize")
    def ig_authorize(self, req):
        sim, p = self.sim, req.params
        req.require("client_id", "redirect_uri", "response_type", "scope")
        if p["client_id"] != sim.ig_app_id:
            raise GraphError(101, "Invalid platform app: client_id %s is not this Instagram app"
                             % p["client_id"])
        if p["response_type"] != "code":
            raise param_error("response_type must be 'code'")
        self.check_redirect_uri(p["redirect_uri"])
        scopes = split_list(p["scope"])
        bad = [s for s in scopes if s not in IG_SCOPES]
        if bad:
            raise param_error("Invalid Scopes: %s" % ", ".join(bad))
        who, c = self.consent_for("ig")
        if c["deny"]:
            return redirect(add_query(p["redirect_uri"], {
                "error": "access_denied", "error_reason": "user_denied",
                "error_description": "The user denied your request", "state": p.get("state")}))
        granted = [s for s in scopes if c["scopes"] is None or s in c["scopes"]]
        code = self.new_code("ig", who, granted, p["redirect_uri"], p["client_id"])
        return redirect(add_query(p["redirect_uri"], {"code": code, "state": p.get("state")})
                        + "#_")

    def redeem(self, code, flavour, redirect_uri):
        """The code record, or the reason it cannot be used: missing|used|expired|redirect."""
        rec = self.sim.codes.get(code or "")
        if rec is None or rec["flavour"] != flavour:
            return None, "missing"
        if rec["used"]:
            return None, "used"
        if self.sim.now() - rec["created_at"] > CODE_TTL:
            return None, "expired"
        if rec["redirect_uri"] != redirect_uri:
            return None, "redirect"
        rec["used"] = True
        return rec, None

    @route(IG_API, "POST", "oauth/access_token")
    def ig_code_exchange(self, req):
        sim, p = self.sim, req.params
        for name in ("client_id", "client_secret", "grant_type", "redirect_uri", "code"):
            if not p.get(name):
                raise IGOAuthError("Missing required field: %s" % name)
        if p["client_id"] != sim.ig_app_id:
            raise IGOAuthError("Invalid platform app")
        if p["client_secret"] != sim.ig_app_secret:
            raise IGOAuthError("Error validating client secret.")
        if p["grant_type"] != "authorization_code":
            raise IGOAuthError("Unsupported grant_type: %s" % p["grant_type"])
        rec, why = self.redeem(p["code"], "ig", p["redirect_uri"])
        if why == "redirect":
            raise IGOAuthError("Error validating verification code. Please make sure your "
                               "redirect_uri is identical to the one you used in the OAuth "
                               "dialog request")
        if why == "expired":
            raise IGOAuthError("This authorization code has expired.")
        if why:
            raise IGOAuthError("Matching code was not found or was already used")
        acct = sim.accounts[rec["subject"]]
        tok = sim.issue_token("ig", acct["id"], rec["scopes"], IG_SHORT_TTL)
        uid = sim.scoped_id(acct)
        if sim.config["ig_token_shape"] == "flat":
            return {"access_token": tok["token"], "user_id": int(uid),
                    "permissions": tok["scopes"]}
        return {"data": [{"access_token": tok["token"], "user_id": uid,
                          "permissions": ",".join(tok["scopes"])}]}

    @route(IG_GRAPH, "GET", "access_token")
    def ig_exchange(self, req):
        sim, p = self.sim, req.params
        req.require("grant_type", "client_secret")
        if p["grant_type"] != "ig_exchange_token":
            raise param_error("grant_type must be ig_exchange_token")
        if p["client_secret"] != sim.ig_app_secret:
            raise GraphError(101, "Error validating client secret.")
        tok = self.auth(req, ("ig",))
        if tok["long_lived"]:
            raise param_error("The access token is already long-lived; use "
                              "refresh_access_token")
        new = sim.issue_token("ig", tok["owner"], tok["scopes"], LONG_TTL, long_lived=True,
                              source="exchange")
        return {"access_token": new["token"], "token_type": "bearer", "expires_in": LONG_TTL}

    @route(IG_GRAPH, "GET", "refresh_access_token")
    def ig_refresh(self, req):
        sim = self.sim
        req.require("grant_type")
        if req.params["grant_type"] != "ig_refresh_token":
            raise param_error("grant_type must be ig_refresh_token")
        tok = self.auth(req, ("ig",))
        if not tok["long_lived"]:
            raise param_error("Only long-lived access tokens can be refreshed")
        age = int(sim.now()) - tok["issued_at"]
        if age < REFRESH_MIN_AGE:
            raise param_error("Token is too new to be refreshed: it must be at least 24 hours "
                              "old (it is %d seconds old)" % age)
        if "instagram_business_basic" not in tok["scopes"]:
            raise GraphError(10, "(#10) Refreshing requires the instagram_business_basic "
                             "permission")
        new = sim.issue_token("ig", tok["owner"], tok["scopes"], LONG_TTL, long_lived=True,
                              source="refresh")
        return {"access_token": new["token"], "token_type": "bearer", "expires_in": LONG_TTL}

    # ------------------------------------------------------------ Facebook Login OAuth
    @route(FB_DIALOG, "GET", "dialog/oauth")
    def fb_dialog(self, req):
        sim, p = self.sim, req.params
        req.require("client_id", "redirect_uri")
        if p["client_id"] != sim.app_id:
            raise GraphError(101, "Error validating application. Invalid application ID.")
        if p.get("response_type", "code") != "code":
            raise param_error("response_type must be 'code'")
        self.check_redirect_uri(p["redirect_uri"])
        scopes = split_list(p.get("scope")) or list(FB_SCOPES)
        bad = [s for s in scopes if not re.fullmatch(r"[a-z_]+", s)]
        if bad:
            raise param_error("Invalid Scopes: %s" % ", ".join(bad))
        who, c = self.consent_for("fb")
        if c["deny"]:
            return redirect(add_query(p["redirect_uri"], {
                "error": "access_denied", "error_code": "200", "error_reason": "user_denied",
                "error_description": "The user denied your request", "state": p.get("state")}))
        granted = _unique(["public_profile"] + [s for s in scopes
                                                if c["scopes"] is None or s in c["scopes"]])
        code = self.new_code("fb", who, granted, p["redirect_uri"], p["client_id"])
        return redirect(add_query(p["redirect_uri"], {"code": code, "state": p.get("state")}))

    @route(FB_GRAPH, "GET,POST", "oauth/access_token")
    def fb_token(self, req):
        sim, p = self.sim, req.params
        req.require("client_id")
        if p["client_id"] != sim.app_id:
            raise GraphError(101, "Error validating application. Invalid application ID.")
        req.require("client_secret")
        if p["client_secret"] != sim.app_secret:
            raise GraphError(101, "Error validating client secret.")
        grant = p.get("grant_type")
        if grant == "client_credentials":
            return {"access_token": "%s|%s" % (sim.app_id, sim.app_secret),
                    "token_type": "bearer"}
        if grant == "fb_exchange_token":
            req.require("fb_exchange_token")
            old = sim.check_token(p["fb_exchange_token"], ("user",))
            new = sim.issue_token("user", old["owner"], old["scopes"], LONG_TTL,
                                  long_lived=True, source="exchange")
            return {"access_token": new["token"], "token_type": "bearer", "expires_in": LONG_TTL}
        if grant not in (None, "", "authorization_code"):
            raise param_error("Unsupported grant_type: %s" % grant)
        req.require("redirect_uri", "code")
        rec, why = self.redeem(p["code"], "fb", p["redirect_uri"])
        if why:
            raise GraphError(100, {
                "missing": "Invalid verification code format.",
                "used": "This authorization code has been used.",
                "expired": "This authorization code has expired.",
                "redirect": "Error validating verification code. Please make sure your "
                            "redirect_uri is identical to the one you used in the OAuth "
                            "dialog request"}[why],
                subcode={"missing": 36008, "used": 36009, "expired": 36007,
                         "redirect": 36008}[why])
        tok = sim.issue_token("user", rec["subject"], rec["scopes"], FB_SHORT_TTL)
        return {"access_token": tok["token"], "token_type": "bearer", "expires_in": FB_SHORT_TTL}

    @route(FB_GRAPH, "GET", "debug_token")
    def debug_token(self, req):
        sim = self.sim
        req.require("input_token")
        app_tokens = {"%s|%s" % (sim.app_id, sim.app_secret),
                      "%s|%s" % (sim.ig_app_id, sim.ig_app_secret)}
        caller = req.token
        if not caller:
            raise GraphError(104, "An access token is required to request this resource.")
        if caller not in app_tokens:
            sim.check_token(caller, ("user", "page"))
        inp = req.params["input_token"]
        if inp in app_tokens:
            return {"data": {"app_id": inp.split("|")[0], "type": "APP",
                             "application": APP_NAME, "is_valid": True}}
        rec = sim.tokens.get(inp)
        if rec is None:
            return {"data": {"error": {"code": 190, "message": "Invalid OAuth access token."},
                             "is_valid": False, "scopes": []}}
        d = {"app_id": rec["app_id"], "type": "PAGE" if rec["kind"] == "page" else "USER",
             "application": APP_NAME + (" (Instagram)" if rec["kind"] == "ig" else ""),
             "data_access_expires_at": rec["issued_at"] + 90 * DAY,
             "expires_at": rec["expires_at"], "is_valid": True, "issued_at": rec["issued_at"],
             "scopes": rec["scopes"], "granular_scopes": self.granular(rec)}
        if rec["kind"] == "ig":
            acct = sim.accounts.get(rec["owner"], {"id": rec["owner"], "scoped_id": rec["owner"]})
            d.update(user_id=sim.scoped_id(acct), profile_id=acct["id"])
        else:
            d["user_id"] = rec["user"]
            if rec["kind"] == "page":
                d["profile_id"] = rec["owner"]
        problem = sim.token_problem(rec)
        if problem:
            d["is_valid"] = False
            d["error"] = {"code": 190, "subcode": problem[0], "message": problem[1]}
        return {"data": d}

    def granular(self, rec):
        sim = self.sim
        if rec["kind"] == "ig":
            return [{"scope": s, "target_ids": [rec["owner"]]} for s in rec["scopes"]]
        pages = [rec["owner"]] if rec["kind"] == "page" else \
            sim.users.get(rec["user"], {}).get("pages", [])
        igs = [sim.pages[p]["ig"] for p in pages if p in sim.pages and sim.pages[p]["ig"]]
        out = []
        for s in rec["scopes"]:
            if s.startswith("pages_"):
                out.append({"scope": s, "target_ids": list(pages)})
            elif s.startswith("instagram_"):
                out.append({"scope": s, "target_ids": igs})
            else:
                out.append({"scope": s})
        return out

    # ------------------------------------------------------------ nodes
    @route(IG_GRAPH, "GET", "{node}")
    def ig_node(self, req, node):
        tok = self.auth(req, ("ig",))
        acct = self.ig_account(node, tok)
        return self.select("IGUser", self.ig_user_fields(acct, req.host), req.params.get("fields"),
                           ("id", "username"))

    @route(FB_GRAPH, "GET", "{node}")
    def fb_node_get(self, req, node):
        tok = self.auth(req, ("user", "page"))
        kind, rec = self.fb_node(node, tok)
        fields = req.params.get("fields")
        if kind == "user":
            return self.select("User", {"id": rec["id"], "name": rec["name"]}, fields,
                               ("id", "name"))
        if kind == "page":
            return self.select("Page", self.page_fields(rec, tok), fields, ("id", "name"))
        return self.select("ShadowIGUser", self.ig_user_fields(rec, req.host), fields, ("id",))

    @route(FB_GRAPH, "GET", "{node}/accounts")
    def fb_accounts(self, req, node):
        sim = self.sim
        tok = self.auth(req, ("user", "page"))
        kind, user = self.fb_node(node, tok)
        if kind != "user":
            raise param_error("Tried accessing nonexisting field (accounts) on node type (%s)" %
                              {"page": "Page", "iguser": "ShadowIGUser"}[kind])
        pages = user["pages"] if "pages_show_list" in tok["scopes"] else []
        fields = req.params.get("fields") or "access_token,category,name,id,tasks"
        try:
            limit = max(1, min(100, int(req.params.get("limit") or 25)))
            start = int(base64.b64decode(req.params.get("after") or "MA==").decode())
        except ValueError:
            raise param_error("Invalid limit or after cursor")
        chunk = pages[start:start + limit]
        data = [self.select("Page", self.page_fields(sim.pages[p], tok, edge=True), fields, ())
                for p in chunk]
        out = {"data": data}
        if chunk:
            cur = lambda i: base64.b64encode(str(i).encode()).decode()
            out["paging"] = {"cursors": {"before": cur(start), "after": cur(start + len(chunk))}}
            if start + len(chunk) < len(pages):
                q = dict(req.query, after=cur(start + len(chunk)), limit=limit)
                out["paging"]["next"] = "%s%s?%s" % (req.base_url, req.path,
                                                     urllib.parse.urlencode(q))
        return out

    # ------------------------------------------------------------ subscribed_apps
    @route(IG_GRAPH + FB_GRAPH, "GET,POST,DELETE", "{node}/subscribed_apps")
    def subscribed_apps(self, req, node):
        sim = self.sim
        if req.host in IG_GRAPH:
            tok = self.auth(req, ("ig",))
            key = ("instagram", self.ig_account(node, tok, req.method)["id"])
            allowed, app_id = IG_WEBHOOK_FIELDS, sim.ig_app_id
        else:
            tok = self.auth(req, ("user", "page"))
            kind, rec = self.fb_node(node, tok, req.method)
            if kind != "page":
                raise unsupported(node, req.method)
            if tok["kind"] != "page":
                raise GraphError(210, "(#210) A page access token is required to request this "
                                 "resource.")
            key, allowed, app_id = ("page", rec["id"]), PAGE_WEBHOOK_FIELDS, sim.app_id
        if req.method == "GET":
            fields = sim.subscriptions.get(key)
            return {"data": [] if fields is None else
                    [{"id": app_id, "name": APP_NAME, "subscribed_fields": fields}]}
        if req.method == "DELETE":
            sim.subscriptions.pop(key, None)
            return {"success": True}
        fields = split_list(req.params.get("subscribed_fields"))
        if not fields:
            raise param_error("The parameter subscribed_fields is required.")
        for i, f in enumerate(fields):
            if f not in allowed:
                raise param_error('Param subscribed_fields[%d] must be one of {%s} - got "%s".'
                                  % (i, ", ".join(allowed), f))
        sim.subscriptions[key] = _unique(fields)
        return {"success": True}

    # ------------------------------------------------------------ Send API
    @route(IG_GRAPH + FB_GRAPH, "POST", "{node}/messages")
    def send(self, req, node):
        sim = self.sim
        if req.host in IG_GRAPH:
            tok = self.auth(req, ("ig",))
            acct = self.ig_account(node, tok, "post")
            candidates, page_id = [acct["id"]], None
            msg_scopes = ("instagram_business_manage_messages",)
            comment_scopes = ("instagram_business_manage_comments",) + msg_scopes
        else:
            tok = self.auth(req, ("user", "page"))
            kind, page = self.fb_node(node, tok, "post")
            if kind != "page":
                raise unsupported(node, "post")
            if tok["kind"] != "page":
                raise GraphError(210, "(#210) A page access token is required to request this "
                                 "resource.")
            page_id = page["id"]
            candidates = [page_id] + ([page["ig"]] if page["ig"] else [])
            msg_scopes = ("pages_messaging", "instagram_manage_messages")
            comment_scopes = ("instagram_manage_comments", "pages_manage_engagement") + msg_scopes
        recipient = req.obj("recipient")
        message = req.obj("message")
        action = req.params.get("sender_action")
        if not recipient:
            raise param_error("The parameter recipient is required")
        if recipient.get("comment_id"):
            self.need_scope(tok, *comment_scopes)
            return self.private_reply(req, str(recipient["comment_id"]), message, candidates,
                                      page_id)
        self.need_scope(tok, *msg_scopes)
        rid = str(recipient.get("id") or "")
        part = next((sim.participants[(a, rid)] for a in candidates
                     if (a, rid) in sim.participants), None)
        ig_thread = part is not None and part["account"] in sim.accounts
        if part is None:
            ig_host = req.host in IG_GRAPH or len(candidates) > 1
            raise param_error("No matching user found", 2534014 if ig_host else 2018001)
        if message and action:
            raise param_error("Only one of message or sender_action may be sent")
        if not message and not action:
            raise param_error("Must send either message or sender_action")
        tag = req.params.get("tag")
        if tag is not None and tag != "HUMAN_AGENT":
            raise param_error("Param tag must be HUMAN_AGENT (other message tags are not "
                              "supported)")
        if tag and not sim.config["human_agent_approved"]:
            raise param_error("Cannot tag messages with 'HUMAN_AGENT' without prior approval",
                              2018276)
        last = part["last_message_at"]
        age = sim.now() - last if last is not None else float("inf")
        if age > WINDOW and not (tag == "HUMAN_AGENT" and age <= HUMAN_AGENT_WINDOW):
            raise GraphError(10, "(#10) This message is sent outside of allowed window.",
                             2534022 if ig_thread else 2018278)
        if action:
            if action not in SENDER_ACTIONS:
                raise param_error("Param sender_action must be one of {%s}" %
                                  ", ".join(SENDER_ACTIONS))
            payload = req.obj("payload") or {}
            if action in ("react", "unreact") and not payload.get("message_id"):
                raise param_error("payload.message_id is required for %s" % action)
            self.remember(req, part["account"], page_id, rid, None, None, None, action=action)
            return {"recipient_id": rid}
        self.check_message(message, ig_thread)
        mid = self.remember(req, part["account"], page_id, rid, message, tag,
                            "instagram" if ig_thread else "page")
        return {"recipient_id": rid, "message_id": mid}

    def check_message(self, message, instagram):
        text = message.get("text")
        atts = message.get("attachments") or ([message["attachment"]]
                                              if message.get("attachment") else [])
        sub = 2534015 if instagram else None
        if text is None and not atts:
            raise param_error("Message cannot be empty, must provide valid attachment or text",
                              sub)
        if text is not None:
            if not isinstance(text, str) or not text:
                raise param_error("Invalid message data: text must be a non-empty string", sub)
            if instagram and len(text.encode("utf-8")) > 1000:
                raise param_error("Invalid message data: text is %d bytes, the limit is 1000 "
                                  "bytes" % len(text.encode("utf-8")), 2534015)
            if not instagram and len(text) > 2000:
                raise param_error("Length of param message[text] must be less than or equal "
                                  "to 2000")
        if len(atts) > 10:
            raise param_error("Invalid message data: at most 10 attachments", sub)
        for a in atts:
            if not isinstance(a, dict) or a.get("type") not in ATTACHMENT_TYPES:
                raise param_error("Invalid message data: unsupported attachment type", sub)
            pl = a.get("payload") or {}
            if a["type"] != "like_heart" and not (pl.get("url") or pl.get("attachment_id")
                                                  or pl.get("id") or a["type"] == "template"):
                raise param_error("Invalid message data: attachment needs payload.url or "
                                  "payload.attachment_id", sub)
        if len(message.get("quick_replies") or []) > 13:
            raise param_error("Invalid message data: at most 13 quick replies", sub)

    def private_reply(self, req, cid, message, candidates, page_id):
        sim = self.sim
        c = sim.comments.get(cid)
        if (c is None or c["account"] not in candidates or c["self"] or c["replied"]
                or sim.now() - c["created_at"] > PRIVATE_REPLY_WINDOW):
            raise param_error("The comment is invalid for a private reply (unknown, already "
                              "replied to, or older than 7 days)", 2534025)
        if not message:
            raise param_error("Must send a message")
        instagram = c["account"] in sim.accounts
        self.check_message(message, instagram)
        c["replied"] = True
        sim.add_participant(c["account"], c["from"], None)
        mid = self.remember(req, c["account"], page_id, c["from"], message, None,
                            "instagram" if instagram else "page", comment_id=cid)
        return {"recipient_id": c["from"], "message_id": mid}

    def remember(self, req, account, page_id, recipient, message, tag, platform, action=None,
                 comment_id=None):
        """Record a send; returns the new mid (None for sender actions)."""
        sim = self.sim
        mid = make_mid(sim.rng, platform, account) if platform else None
        rec = {"seq": len(sim.messages) + 1, "account": account, "page": page_id,
               "recipient": recipient, "comment_id": comment_id,
               "text": (message or {}).get("text"),
               "attachments": (message or {}).get("attachments") or (
                   [message["attachment"]] if message and message.get("attachment") else None),
               "tag": tag, "messaging_type": req.params.get("messaging_type"),
               "sender_action": action, "mid": mid, "at": round(sim.now(), 3), "host": req.host}
        sim.messages.append(rec)
        if mid and sim.config["auto_echo"] and sim.config["webhook_url"]:
            kind = "ig_echo" if platform == "instagram" else "page_echo"
            built = self.build(kind, [account], [recipient], rec["text"] or "", mid, None, None)
            threading.Thread(target=sim.deliver, daemon=True, args=(
                sim.config["webhook_url"], built["body"].encode(),
                webhook_headers(built["signature_256"], built["signature_1"]),
                "echo " + mid)).start()
        return mid

    # ------------------------------------------------------------ batch (reference §9.3)
    @route(FB_GRAPH, "POST", "")
    def batch(self, req):
        try:
            ops = json.loads(req.params.get("batch") or "null")
        except ValueError:
            ops = None
        if not isinstance(ops, list) or not ops:
            raise param_error("The parameter batch is required and must be a JSON array")
        if len(ops) > 50:
            raise param_error("Too many requests in batch message. Maximum batch size is 50")
        results = []
        for op in ops:
            if not isinstance(op, dict) or not op.get("relative_url"):
                results.append(None)
                continue
            rel = urllib.parse.urlsplit("/" + op["relative_url"].lstrip("/"))
            query = parse_query(rel.query)
            body = op.get("body") or ""
            if req.token and "access_token" not in query and "access_token=" not in body:
                query["access_token"] = req.token
            sub = Request(op.get("method", "GET").upper(), "/" + req.host + rel.path, query,
                          {"Content-Type": "application/x-www-form-urlencoded"}, body.encode(),
                          req.base_url)
            reply = self.dispatch(sub)
            data, ctype = reply.encode()
            item = {"code": reply.status, "body": data.decode("utf-8", "replace")}
            if req.params.get("include_headers", "true") != "false":
                item["headers"] = [{"name": "Content-Type", "value": ctype}]
            results.append(item)
        return results

    # ------------------------------------------------------------ fake LLM
    @route(LLM, "POST", "v1/chat/completions")
    def llm_chat(self, req):
        sim = self.sim
        key = req.token if req.header("Authorization") else None
        if not key:
            raise OpenAIError(401, "You didn't provide an API key.", code="invalid_api_key")
        if sim.config["llm_key"] and key != sim.config["llm_key"]:
            raise OpenAIError(401, "Incorrect API key provided.", code="invalid_api_key")
        body = req.json
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) \
                or not body["messages"]:
            raise OpenAIError(400, "'messages' is required and must be a non-empty array")
        msgs = [m for m in body["messages"] if isinstance(m, dict)]
        content = llm_answer(msgs)
        prompt = sum(len(content_text(m.get("content")).split()) for m in msgs)
        completion = len(content.split())
        cid = "chatcmpl-" + sim.rand(24)
        model = body.get("model") or "sim-llm"
        created = int(sim.now())
        return {"id": cid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                          "total_tokens": prompt + completion}}

    # ------------------------------------------------------------ webhook building
    def build(self, kind, accounts, users, text, mid, time_ms, secret):
        """Build and sign one delivery (lock held).  Returns the /_sim/trigger result."""
        sim = self.sim
        try:
            fixture = load_fixture(sim.fixtures_dir, kind)
        except KeyError:
            raise ControlError("unknown kind %r; known: %s" %
                               (kind, ", ".join(list_kinds(sim.fixtures_dir))), 404)
        sent = next((m for m in sim.messages if mid and m["mid"] == mid), None)
        if sent and kind.endswith("echo"):       # echo of a message sent through the Send API
            accounts = accounts or [sent["account"]]
            users = users or [sent["recipient"]]
            text = sent["text"] if text is None else text
        if time_ms is None:
            time_ms = int(sim.now() * 1000)
        obj, events = build_delivery(fixture, accounts, users, text, mid, time_ms, sim.rng)
        body = meta_json(obj)
        sig256, sig1 = sign(sim.webhook_secret(secret), body.encode())
        sim.learn(events)
        return {"kind": kind, "body": body, "signature_256": sig256, "signature_1": sig1,
                "envelope": {"headers": {"X-Hub-Signature-256": sig256,
                                         "Content-Type": "application/json"}, "body": body},
                "events": events}

    # ------------------------------------------------------------ control endpoints
    @staticmethod
    def body(req):
        if req.raw and not isinstance(req.json, dict):
            raise ControlError("the body must be a JSON object")
        return req.json or {}

    @route(SIM, "GET", "health")
    def c_health(self, req):
        return {"ok": True}

    @route(SIM, "POST", "reset")
    def c_reset(self, req):
        self.sim.reset()
        return {"ok": True}

    @route(SIM, "GET,POST", "config")
    def c_config(self, req):
        for k, v in self.body(req).items():
            self.sim.set_config(k, v)
        return dict(self.sim.config)

    @route(SIM, "GET,POST", "clock")
    def c_clock(self, req):
        sim, b = self.sim, self.body(req)
        if "set" in b:
            sim.offset = float(b["set"]) - time.time()
        if "advance" in b:
            sim.offset += float(b["advance"])
        return {"now": int(sim.now()), "now_ms": int(sim.now() * 1000), "offset": sim.offset}

    @route(SIM, "GET,POST", "consent")
    def c_consent(self, req):
        sim, b = self.sim, self.body(req)
        if req.method == "POST":
            who = b.get("as")
            flavours = ["ig", "fb"]
            if who is not None:
                who = str(who)
                flavours = ["ig"] if who in sim.accounts else ["fb"] if who in sim.users else []
                if not flavours:
                    raise ControlError("'as' must be a known IG account id or FB user id")
            for f in flavours:
                sim.consent[f] = {"as": who if who else sim.consent[f]["as"],
                                  "deny": bool(b.get("deny", False)),
                                  "scopes": split_list(b["scopes"]) if b.get("scopes") is not None
                                  else None}
        return sim.consent

    @route(SIM, "GET,POST", "accounts")
    def c_accounts(self, req):
        if req.method == "POST":
            return self.sim.add_account(self.body(req))
        return list(self.sim.accounts.values())

    @route(SIM, "GET,POST", "users")
    def c_users(self, req):
        if req.method == "POST":
            self.sim.add_user(self.body(req))
        return self.sim.world_dump()["users"]

    @route(SIM, "GET,POST", "world")
    def c_world(self, req):
        if req.method == "POST":
            self.sim.apply_world(self.body(req))
        return self.sim.world_dump()

    @route(SIM, "GET,POST", "participants")
    def c_participants(self, req):
        sim, b = self.sim, self.body(req)
        if req.method == "POST":
            if not b.get("account") or not b.get("id"):
                raise ControlError("need account and id")
            return sim.add_participant(b["account"], b["id"], b.get("last_message_at", "now"))
        acct = req.params.get("account")
        return [p for p in sim.participants.values() if not acct or p["account"] == acct]

    @route(SIM, "GET,POST", "comments")
    def c_comments(self, req):
        sim, b = self.sim, self.body(req)
        if req.method == "POST":
            if not b.get("account") or not b.get("id") or not b.get("from"):
                raise ControlError("need account, id and from")
            return sim.add_comment(b)
        return list(sim.comments.values())

    @route(SIM, "POST", "token")
    def c_token(self, req):
        sim, b = self.sim, self.body(req)
        action = b.get("action")
        if action == "issue":
            who = str(b.get("account", ""))
            kind = b.get("kind") or ("ig" if who in sim.accounts else "user" if who in sim.users
                                     else "page" if who in sim.pages else None)
            if kind not in ("ig", "user", "page") or not who:
                raise ControlError("issue needs a known account (IG id, FB user id or page id)")
            user = (sim.pages.get(who, {}).get("users") or [who])[0] if kind == "page" else who
            scopes = b.get("scopes") or (IG_SCOPES if kind == "ig" else FB_SCOPES)
            ttl = int(b.get("expires_in", LONG_TTL))
            rec = sim.issue_token(kind, who, split_list(scopes), ttl, user=user,
                                  long_lived=bool(b.get("long_lived", ttl == 0 or ttl > DAY)),
                                  source="issue")
            return {"ok": True, "token": rec}
        if action not in ("expire", "revoke", "restore"):
            raise ControlError("action must be issue, expire, revoke or restore")
        if b.get("token"):
            targets = [sim.tokens[b["token"]]] if b["token"] in sim.tokens else []
        elif b.get("account"):
            targets = sim.tokens_of(str(b["account"]))
        else:
            raise ControlError("need token or account")
        if not targets:
            raise ControlError("no such token", 404)
        for t in targets:
            if action == "expire":
                t["expires_at"] = int(sim.now()) - 1
            elif action == "revoke":
                t["revoked"] = b.get("reason", "password")
            else:
                t["revoked"] = None
        return {"ok": True, "tokens": [t["token"] for t in targets]}

    @route(SIM, "GET", "tokens")
    def c_tokens(self, req):
        acct = req.params.get("account")
        out = []
        for t in self.sim.tokens.values():
            if acct and acct not in (t["owner"], t["user"]):
                continue
            problem = self.sim.token_problem(t)
            out.append(dict(t, valid=problem is None, problem=problem and problem[1]))
        return out

    @route(SIM, "GET,DELETE", "requests")
    def c_requests(self, req):
        sim, p = self.sim, req.params
        if req.method == "DELETE":
            sim.requests.clear()
            return {"ok": True}
        since = int(p.get("since") or 0)
        return [r for r in sim.requests if p.get("path", "") in r["path"] and r["seq"] > since
                and p.get("method", r["method"]).upper() == r["method"]]

    @route(SIM, "GET,POST,DELETE", "inject")
    def c_inject(self, req):
        sim, b = self.sim, self.body(req)
        if req.method == "DELETE":
            sim.injections.clear()
        elif req.method == "POST":
            if b.get("code") is None and not b.get("status") and not b.get("hang"):
                raise ControlError("an injection needs code, status or hang")
            sim.inject_seq += 1
            inj = {"id": sim.inject_seq, "match": b.get("match", ""),
                   "method": str(b.get("method", "*")).upper(), "count": int(b.get("count", 1))}
            inj.update({k: b[k] for k in ("status", "code", "subcode", "message", "type",
                                          "is_transient", "headers", "hang", "usage_headers",
                                          "eta", "buc_objects", "after") if k in b})
            if inj["count"] == 0:
                raise ControlError("count must be positive, or -1 for unlimited")
            sim.injections.append(inj)
            return {"ok": True, "injection": inj}
        return sim.injections

    @route(SIM, "GET,POST", "latency")
    def c_latency(self, req):
        b = self.body(req)
        if "ms" in b:
            self.sim.latency_ms = max(0, int(b["ms"]))
        return {"ms": self.sim.latency_ms}

    @route(SIM, "GET,DELETE", "messages")
    def c_messages(self, req):
        sim, acct = self.sim, req.params.get("account")
        if req.method == "DELETE":
            sim.messages.clear()
            return {"ok": True}
        return [m for m in sim.messages if not acct or acct in (m["account"], m["page"])]

    @route(SIM, "GET", "subscriptions")
    def c_subscriptions(self, req):
        return [{"object": k[0], "id": k[1], "subscribed_fields": v}
                for k, v in self.sim.subscriptions.items()]

    @route(SIM, "GET", "deliveries")
    def c_deliveries(self, req):
        return self.sim.deliveries

    @route(SIM, "GET", "kinds")
    def c_kinds(self, req):
        return list_kinds(self.sim.fixtures_dir)

    @route(SIM, "POST", "trigger", locked=False)
    def c_trigger(self, req):
        sim, b = self.sim, self.body(req)
        if not b.get("kind"):
            raise ControlError("need kind")
        with sim.lock:
            out = self.build(b["kind"], split_list(b.get("account")), split_list(b.get("user")),
                             b.get("text"), b.get("mid"), b.get("time"), b.get("secret"))
            post = sim.config["webhook_url"] if b.get("post") is True else b.get("post")
        if post:
            out["post_status"], out["post_body"] = sim.deliver(
                post, out["body"].encode(), webhook_headers(out["signature_256"],
                                                            out["signature_1"]),
                "trigger " + b["kind"])
        return out

    @route(SIM, "POST", "deauthorize", locked=False)
    def c_deauthorize(self, req):
        sim, b = self.sim, self.body(req)
        who = str(b.get("user") or "")
        with sim.lock:
            if who in sim.accounts:
                uid, secret = sim.scoped_id(sim.accounts[who]), sim.ig_app_secret
            elif who in sim.users:
                uid, secret = who, sim.app_secret
            else:
                raise ControlError("user must be a known IG account id or FB user id")
            now = int(sim.now())
            payload = {"algorithm": "HMAC-SHA256", "issued_at": now, "expires": now + HOUR,
                       "user_id": uid}
            sr = signed_request(b.get("secret") or secret, payload)
            revoked = []
            if b.get("revoke", True):
                for t in sim.tokens_of(who):
                    t["revoked"] = "deauthorized"
                    revoked.append(t["token"])
        out = {"signed_request": sr, "payload": payload, "revoked": revoked}
        if b.get("post"):
            out["post_status"], out["post_body"] = http_request(
                b["post"], urllib.parse.urlencode({"signed_request": sr}).encode(),
                {"Content-Type": "application/x-www-form-urlencoded"}, "POST")
        return out


# --------------------------------------------------------------------------- HTTP server

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "graphsim/1"
    sys_version = ""

    def log_message(self, fmt, *args):     # quiet: logging goes to --log only
        pass

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _handle(self):
        sim, api = self.server.sim, self.server.api
        started = time.monotonic()
        url = urllib.parse.urlsplit(self.path)
        req = Request(self.command, url.path, parse_query(url.query), dict(self.headers.items()),
                      self._read_body(), "http://%s" % (self.headers.get("Host") or
                                                        "%s:%d" % self.server.server_address[:2]))
        if req.host in SIM:
            reply = api.dispatch(req)
        else:
            rec = sim.record(req)
            inj = sim.take_injection(req)
            after = bool((inj or {}).get("after"))
            hang = float((inj or {}).get("hang") or 0)
            delay = sim.latency_ms / 1000.0 + (0 if after else hang)
            if delay:
                time.sleep(delay)
            if after:
                # "act, then answer an error": the handler runs (message
                # delivered, object created), then the injected error, 5xx
                # or hang replaces its answer (reference §3.6 1/1357046).
                acted = api.dispatch(req)
                rec["acted"] = acted.status
                if hang:
                    time.sleep(hang)
                reply = api.injected(req, inj) or acted
            else:
                reply = (inj and api.injected(req, inj)) or api.dispatch(req)
            rec["status"] = reply.status
        sim.log("%s %s %s %d %.1fms" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                        self.command, self.path, reply.status,
                                        (time.monotonic() - started) * 1000))
        data, ctype = reply.encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in reply.headers.items():
                self.send_header(k, str(v))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _handle


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Benchmarks keep 32+ requests in flight; the default backlog of 5
    # drops connections and makes clients wait for SYN retries.
    request_queue_size = 256


# --------------------------------------------------------------------------- command line

def read_secret(value, path, default):
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return value if value is not None else default


def cmd_serve(args):
    try:
        host_ip = socket.getaddrinfo(args.host, None)[0][4][0]
        if not ipaddress.ip_address(host_ip).is_loopback:
            raise ValueError
    except (ValueError, OSError):
        sys.exit("graphsim: --host must be a loopback address")
    world = json.loads(Path(args.world).read_text(encoding="utf-8")) if args.world else None
    sim = Sim(args.app_id, read_secret(args.app_secret, args.app_secret_file, DEFAULT_APP_SECRET),
              args.ig_app_id, read_secret(None, args.ig_app_secret_file, DEFAULT_IG_APP_SECRET),
              args.seed, world, args.fixtures, args.log)
    if ":" in host_ip:
        SimServer.address_family = socket.AF_INET6
    server = SimServer((host_ip, args.port), Handler)
    server.sim, server.api = sim, Api(sim)
    port = server.server_address[1]
    print("http://%s:%d" % ("[%s]" % host_ip if ":" in host_ip else host_ip, port), flush=True)

    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def cmd_trigger(args):
    secret = read_secret(args.app_secret, args.app_secret_file, None)
    if args.sim:
        req = {"kind": args.kind, "account": args.account, "user": args.user, "text": args.text,
               "mid": args.mid, "time": args.time, "post": args.post, "secret": secret}
        status, text = http_request(args.sim.rstrip("/") + "/_sim/trigger",
                                    json.dumps(req).encode(),
                                    {"Content-Type": "application/json"}, "POST", timeout=30)
        if status != 200:
            sys.stderr.write("graphsim: simulator answered %d: %s\n" % (status, text))
            return 1
        out = json.loads(text)
    else:
        try:
            fixture = load_fixture(args.fixtures, args.kind)
        except KeyError:
            sys.stderr.write("graphsim: unknown kind %r; known: %s\n" %
                             (args.kind, ", ".join(list_kinds(args.fixtures))))
            return 64
        rng = random.Random(args.seed) if args.seed is not None else None
        obj, _ = build_delivery(fixture, split_list(args.account), split_list(args.user),
                                args.text, args.mid, args.time, rng)
        body = meta_json(obj)
        sig256, sig1 = sign(secret or DEFAULT_APP_SECRET, body.encode())
        out = {"body": body, "signature_256": sig256, "signature_1": sig1,
               "envelope": {"headers": {"X-Hub-Signature-256": sig256,
                                        "Content-Type": "application/json"}, "body": body}}
        if args.post:
            out["post_status"], out["post_body"] = http_request(
                args.post, body.encode(), webhook_headers(sig256, sig1), "POST")
    if args.post:
        print(out["post_status"])
        print(out["post_body"])
        return 0 if 200 <= out["post_status"] < 300 else 1
    if args.envelope:
        print(json.dumps(out["envelope"], separators=(",", ":")))
    else:
        # exactly the signed bytes: a trailing newline would break the signature
        sys.stdout.write(out["body"])
        sys.stdout.flush()
        sys.stderr.write("X-Hub-Signature-256: %s\n" % out["signature_256"])
    return 0


def load_plugins():
    """Load tests/sim/sim_*.py: each extends the simulator for one program
    (publishing, insights, comments).  A plugin does `import graphsim as G`
    and registers handlers with @G.route(...) (called as fn(api, req, *caps))
    and its state with G.RESET_HOOKS.append(fn(sim))."""
    import importlib.util
    sys.modules.setdefault("graphsim", sys.modules[__name__])
    # Routes that several plugins share ({node}/media, {node}/comments) are tried in load
    # order, each passing (NextRoute) what is not its own: objects made through a plugin's
    # control endpoints first, media the insights plugin generates for any account last.
    order = {"sim_comments": 0, "sim_publish": 1, "sim_insights": 9}
    for path in sorted(HERE.glob("sim_*.py"), key=lambda p: (order.get(p.stem, 5), p.stem)):
        if path.stem in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = mod
        spec.loader.exec_module(mod)


load_plugins()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="graphsim.py", description="Meta Graph API simulator")
    ap.add_argument("--fixtures", default=str(FIXTURES_DIR), help="webhook fixture directory")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def secret_opts(p):
        g = p.add_mutually_exclusive_group()
        g.add_argument("--app-secret")
        g.add_argument("--app-secret-file")

    s = sub.add_parser("serve", help="run the simulator")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--seed", type=int)
    s.add_argument("--app-id", default=DEFAULT_APP_ID)
    secret_opts(s)
    s.add_argument("--ig-app-id", default=DEFAULT_IG_APP_ID)
    s.add_argument("--ig-app-secret-file")
    s.add_argument("--world")
    s.add_argument("--log")
    s.set_defaults(fn=cmd_serve)

    t = sub.add_parser("trigger", help="build, sign and print or post a webhook delivery")
    t.add_argument("kind")
    t.add_argument("--account", help="account id(s), comma separated, one per fixture entry")
    t.add_argument("--user", help="user id(s) (IGSID/PSID), comma separated")
    t.add_argument("--text")
    t.add_argument("--mid", help="force the (first) mid / comment id, e.g. to redeliver")
    t.add_argument("--time", type=int, help="event time in unix milliseconds")
    secret_opts(t)
    t.add_argument("--post", metavar="URL")
    t.add_argument("--envelope", action="store_true")
    t.add_argument("--sim", metavar="URL", help="ask a running simulator to do it")
    t.add_argument("--seed", type=int, help="seed for fresh ids (offline mode)")
    t.set_defaults(fn=cmd_trigger)

    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:        # e.g. `graphsim.py trigger ... | head -n 1`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
