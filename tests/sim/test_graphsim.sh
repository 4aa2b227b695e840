#!/usr/bin/env bash
# TAP test for the Graph API simulator (tests/sim/graphsim.py).
# Run from the repo root (`bash tests/sim/test_graphsim.sh`) or with $srcdir
# pointing at the repo root (automake).  Needs python3 and curl (openssl optional).
set -u
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy

if [ -n "${srcdir:-}" ] && [ -f "$srcdir/tests/sim/graphsim.py" ]; then
	here=$srcdir/tests/sim
else
	here=$(cd "$(dirname "$0")" && pwd)
fi
SIMPY=$here/graphsim.py
PY=$(python3 -c 'import sys; print(sys.executable)') || { echo "1..0 # SKIP no python3"; exit 0; }
command -v curl >/dev/null || { echo "1..0 # SKIP no curl"; exit 0; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/graphsim-test.XXXXXX")
SIMPID= RCVPID=
cleanup() {
	[ -n "$SIMPID" ] && kill "$SIMPID" 2>/dev/null
	[ -n "$RCVPID" ] && kill "$RCVPID" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

n=0 failed=0
ok() {	# ok STATUS DESCRIPTION [DIAGNOSTIC]
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
		[ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/#   /'
	fi
}
is() {	# is GOT WANT DESCRIPTION
	if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3" "got:  $1
want: $2"; fi
}
like() {	# like GOT REGEX DESCRIPTION
	if printf '%s' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; else ok 1 "$3" "got:  $1
want: /$2/"; fi
}
# j EXPR: evaluate a Python expression over the JSON on stdin (as d); strings raw
j() {
	"$PY" -S -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))' "$1"
}
c() { curl -s -g --max-time 10 "$@"; }
# st URL ARGS...: "STATUS BODY" in one string
st() { c -o "$tmp/body" -w '%{http_code}' "$@"; printf ' '; cat "$tmp/body"; }
body() { printf '%s' "${1#* }"; }
code() { printf '%s' "${1%% *}"; }
post() { c -X POST -H 'Content-Type: application/json' -d "$2" "${@:3}" "$U$1"; }
clock() { post /_sim/clock "{\"advance\": $1}" >/dev/null; }

# ---------------------------------------------------------------- start
"$PY" "$SIMPY" serve --port 0 --seed 42 --log "$tmp/sim.log" >"$tmp/url" 2>"$tmp/err" &
SIMPID=$!
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.05; done
U=$(head -n 1 "$tmp/url")
like "$U" '^http://127\.0\.0\.1:[0-9]+$' "serve prints its URL on one line"
is "$(c "$U/_sim/health")" '{"ok": true}' "health answers"

IG=$U/graph.instagram.com/v25.0
FB=$U/graph.facebook.com/v25.0
CB=https://app.example/cb
MARCO=17841400000000001 SARA=17841400000000002 ROSSI=17841400000000003
PAGE=100000000000001 NOIGPAGE=100000000000002 LUCA=10000000000000001
SCOPES=instagram_business_basic,instagram_business_manage_messages,instagram_business_manage_comments
ig_authorize() {	# prints the redirect Location
	c -o /dev/null -w '%{redirect_url}' "$U/www.instagram.com/oauth/authorize?client_id=9876543210&redirect_uri=$CB&response_type=code&scope=$SCOPES&state=${1:-s1}"
}
code_of() { printf '%s' "$1" | sed -n 's/.*[?&]code=\([^&#]*\).*/\1/p'; }
ig_exchange() {	# ig_exchange CODE [SECRET] [REDIRECT]
	c -X POST "$U/api.instagram.com/oauth/access_token" -d client_id=9876543210 \
		-d "client_secret=${2:-sim-ig-app-secret}" -d grant_type=authorization_code \
		-d "redirect_uri=${3:-$CB}" -d "code=$1"
}

# ---------------------------------------------------------------- Instagram Login
loc=$(ig_authorize 'a%2Fb+c')
like "$loc" "^$CB\\?code=AQ[A-Za-z0-9_-]+&state=a%2Fb\\+c#_\$" "IG authorize redirects with code, untouched state and #_"
FIRST_CODE=$(code_of "$loc")
r=$(st "$U/www.instagram.com/oauth/authorize?client_id=42&redirect_uri=$CB&response_type=code&scope=$SCOPES")
like "$r" '^400 .*"code": 101' "IG authorize rejects a wrong client_id (400)"
r=$(st "$U/www.instagram.com/oauth/authorize?client_id=9876543210&redirect_uri=$CB&response_type=code&scope=business_basic")
like "$r" '^400 .*Invalid Scopes: business_basic' "IG authorize rejects retired scope names"
r=$(st "$U/api.instagram.com/oauth/authorize?client_id=9876543210&redirect_uri=$CB&response_type=code&scope=$SCOPES")
like "$r" "^404 Sorry, this page isn't available" "the old dialog host api.instagram.com no longer serves the consent screen (reference §7.1)"
tokjson=$(ig_exchange "$FIRST_CODE")
IGT=$(printf '%s' "$tokjson" | j 'd["data"][0]["access_token"]')
like "$IGT" '^IGAA[A-Za-z0-9]+$' "code exchange returns an IGAA token in the documented data[] shape"
is "$(printf '%s' "$tokjson" | j 'd["data"][0]["permissions"]')" "$SCOPES" "permissions is the comma list of granted scopes"
uid=$(printf '%s' "$tokjson" | j 'd["data"][0]["user_id"]')
r=$(c -X POST "$U/api.instagram.com/oauth/access_token" -d client_id=9876543210 -d client_secret=sim-ig-app-secret \
	-d grant_type=authorization_code -d redirect_uri=$CB -d "code=$FIRST_CODE" -w ' %{http_code}')
is "$r" '{"error_type": "OAuthException", "code": 400, "error_message": "Matching code was not found or was already used"} 400' "a reused code is refused in the endpoint's own error shape"
r=$(ig_exchange "$(code_of "$(ig_authorize)")" wrong-secret)
is "$(printf '%s' "$r" | j 'd["error_message"]')" "Error validating client secret." "a wrong client secret is refused"
r=$(ig_exchange "$(code_of "$(ig_authorize)")" sim-ig-app-secret https://evil.example/cb)
like "$r" 'redirect_uri is identical' "a redirect_uri mismatch is refused"
post /_sim/config '{"ig_token_shape": "flat"}' >/dev/null
r=$(ig_exchange "$(code_of "$(ig_authorize)")")
is "$(printf '%s' "$r" | j '[type(d["access_token"]).__name__, type(d["user_id"]).__name__, d["permissions"][0]]')" \
	'["str", "int", "instagram_business_basic"]' "ig_token_shape=flat answers the flat shape (numeric user_id, permission list)"
post /_sim/config '{"ig_token_shape": "data"}' >/dev/null

post /_sim/consent '{"deny": true}' >/dev/null
is "$(ig_authorize st8)" "$CB?error=access_denied&error_reason=user_denied&error_description=The+user+denied+your+request&state=st8" \
	"denied consent redirects with access_denied and the state"
post /_sim/consent '{"deny": false}' >/dev/null
post /_sim/consent "{\"as\": \"$SARA\"}" >/dev/null
SARAT=$(ig_exchange "$(code_of "$(ig_authorize)")" | j 'd["data"][0]["access_token"]')
is "$(c "$IG/me?fields=username" -H "Authorization: Bearer $SARAT" | j 'd["username"]')" sara_ascolta "consent 'as' picks who logs in"
post /_sim/consent "{\"as\": \"$MARCO\"}" >/dev/null

# ---------------------------------------------------------------- IG tokens and /me
r=$(c "$IG/me?fields=user_id,username,followers_count,biography" -H "Authorization: Bearer $IGT")
is "$r" "{\"user_id\": \"$MARCO\", \"username\": \"marco_energia\", \"followers_count\": 1200, \"biography\": \"Allenamento e energia\", \"id\": \"$uid\"}" \
	"/me returns only the requested fields (id = app-scoped id, user_id = account id)"
is "$(c "$IG/me?access_token=$IGT" | j 'sorted(d)')" '["id", "username"]' "/me without fields gives id and username"
like "$(st "$IG/me?fields=nope&access_token=$IGT")" '^400 .*nonexisting field \(nope\)' "/me rejects an unknown field"
is "$(c "$IG/$MARCO?fields=account_type,name,media_count&access_token=$IGT" | j '[d["account_type"], d["name"], d["media_count"]]')" \
	'["BUSINESS", "Marco Energia", 87]' "/{ig-id} works with the account's own token"
like "$(st "$IG/$SARA?access_token=$IGT")" '^400 .*"code": 100, "error_subcode": 33' "another account's node is not visible"
like "$(st "$U/graph.instagram.com/v25.0/me")" '^400 .*"code": 104' "a missing token is refused"

r=$(c "$U/graph.instagram.com/access_token?grant_type=ig_exchange_token&client_secret=sim-ig-app-secret&access_token=$IGT")
LONG=$(printf '%s' "$r" | j 'd["access_token"]')
is "$(printf '%s' "$r" | j '[d["token_type"], d["expires_in"], d["access_token"][:4]]')" '["bearer", 5184000, "IGAA"]' "ig_exchange_token gives a 60-day token"
like "$(st "$U/graph.instagram.com/access_token?grant_type=ig_exchange_token&client_secret=bad&access_token=$IGT")" '^400 .*client secret' "ig_exchange_token checks the secret"
like "$(st "$U/graph.instagram.com/refresh_access_token?grant_type=ig_refresh_token&access_token=$LONG")" \
	'^400 .*at least 24 hours.*"code": 100,' "ig_refresh_token refuses a token younger than 24 h (code 100)"
code1=$(code_of "$(ig_authorize)")
clock 3601
like "$(ig_exchange "$code1")" 'expired' "a code older than one hour is refused"
like "$(st "$IG/me?access_token=$IGT")" '^400 .*"code": 190, "error_subcode": 463' "the short-lived token expires after an hour (190/463)"
clock 86400
r=$(c "$U/graph.instagram.com/refresh_access_token?grant_type=ig_refresh_token&access_token=$LONG")
is "$(printf '%s' "$r" | j 'd["expires_in"]')" 5184000 "ig_refresh_token works once the token is 24 h old"
IGT=$(printf '%s' "$r" | j 'd["access_token"]')

# ---------------------------------------------------------------- Facebook Login
loc=$(c -o /dev/null -w '%{redirect_url}' "$U/www.facebook.com/v25.0/dialog/oauth?client_id=1234567890&redirect_uri=$CB&state=fbst&response_type=code&scope=pages_show_list,pages_messaging,pages_manage_metadata,instagram_basic,instagram_manage_messages")
like "$loc" "^$CB\\?code=AQ[A-Za-z0-9_-]+&state=fbst\$" "FB dialog redirects with code and state"
r=$(c "$FB/oauth/access_token?client_id=1234567890&redirect_uri=$CB&client_secret=sim-app-secret&code=$(code_of "$loc")")
FBS=$(printf '%s' "$r" | j 'd["access_token"]')
is "$(printf '%s' "$r" | j '[d["access_token"][:4], d["expires_in"]]')" '["EAAB", 5400]' "FB code exchange gives a short user token"
like "$(st "$FB/oauth/access_token?client_id=1234567890&redirect_uri=$CB&client_secret=sim-app-secret&code=$(code_of "$loc")")" \
	'^400 .*has been used' "FB code is single use"
r=$(c "$U/graph.facebook.com/oauth/access_token?grant_type=fb_exchange_token&client_id=1234567890&client_secret=sim-app-secret&fb_exchange_token=$FBS")
FBL=$(printf '%s' "$r" | j 'd["access_token"]')
is "$(printf '%s' "$r" | j 'd["expires_in"]')" 5184000 "fb_exchange_token (unversioned) gives a long-lived token"
is "$(c "$FB/me?access_token=$FBL")" "{\"id\": \"$LUCA\", \"name\": \"Luca Admin\"}" "/me with a user token"
r=$(c "$FB/me/accounts?fields=id,name,access_token,tasks,instagram_business_account&access_token=$FBL")
is "$(printf '%s' "$r" | j '[[p["id"], p["access_token"][:4], "instagram_business_account" in p] for p in d["data"]]')" \
	"[[\"$PAGE\", \"EAAP\", true], [\"$NOIGPAGE\", \"EAAP\", false]]" "/me/accounts lists pages with page tokens, IG link only where linked"
is "$(printf '%s' "$r" | j 'd["data"][0]["instagram_business_account"]["id"] + " " + ",".join(d["data"][0]["tasks"])')" \
	"$ROSSI ANALYZE,ADVERTISE,MESSAGING,MODERATE,CREATE_CONTENT,MANAGE" "linked IG account and tasks"
PT=$(printf '%s' "$r" | j 'd["data"][0]["access_token"]')
PT2=$(printf '%s' "$r" | j 'd["data"][1]["access_token"]')
# Reference §7.2: tasks is a field of the /accounts edge, not of the Page node.
like "$(st "$FB/me?fields=id,name,tasks,instagram_business_account&access_token=$PT")" \
	'^400 .*nonexisting field \(tasks\) on node type \(Page\).*"code": 100' "tasks on the Page node (/me with a Page token) is (#100)"
like "$(st "$FB/$PAGE?fields=tasks&access_token=$FBL")" '^400 .*"code": 100' "…and on /<PAGE_ID>"
is "$(code "$(st "$FB/me?fields=id,name,instagram_business_account&access_token=$PT")")" 200 "…the Page node without tasks answers"
r=$(c "$FB/me/accounts?fields=name&limit=1&access_token=$FBL")
nxt=$(printf '%s' "$r" | j 'd["paging"]["next"]')
is "$(printf '%s' "$r" | j 'd["data"][0]["name"]')/$(c "$nxt" | j 'd["data"][0]["name"] + " " + str("next" in d["paging"])')" \
	"Rossi Consulting/No IG Page False" "/me/accounts pages with limit and paging.next"
is "$(c "$FB/$PAGE?fields=instagram_business_account,name&access_token=$FBL")" \
	"{\"instagram_business_account\": {\"id\": \"$ROSSI\"}, \"name\": \"Rossi Consulting\", \"id\": \"$PAGE\"}" "/{page-id}?fields=instagram_business_account,name"
is "$(c "$FB/$ROSSI?fields=username,followers_count&access_token=$PT")" \
	"{\"username\": \"rossi_consulting\", \"followers_count\": 2400, \"id\": \"$ROSSI\"}" "/{ig-user-id} with a page token"
post /_sim/consent '{"as": "10000000000000001", "deny": true}' >/dev/null
like "$(c -o /dev/null -w '%{redirect_url}' "$U/www.facebook.com/v24.0/dialog/oauth?client_id=1234567890&redirect_uri=$CB&state=q")" \
	'error=access_denied.*error_reason=user_denied.*state=q$' "FB dialog honours denied consent"
post /_sim/consent '{"as": "10000000000000001"}' >/dev/null

APPTOK='1234567890|sim-app-secret'
r=$(c -G "$FB/debug_token" --data-urlencode "input_token=$FBL" --data-urlencode "access_token=$APPTOK")
is "$(printf '%s' "$r" | j '[d["data"][k] for k in ("app_id", "type", "is_valid", "user_id")] + ["pages_messaging" in d["data"]["scopes"], d["data"]["expires_at"] > d["data"]["issued_at"]]')" \
	"[\"1234567890\", \"USER\", true, \"$LUCA\", true, true]" "debug_token on a user token"
r=$(c -G "$FB/debug_token" --data-urlencode "input_token=$PT" --data-urlencode "access_token=$APPTOK")
is "$(printf '%s' "$r" | j '[d["data"]["type"], d["data"]["expires_at"], d["data"]["profile_id"]]')" "[\"PAGE\", 0, \"$PAGE\"]" \
	"page token from a long-lived user token never expires"
r=$(c -G "$FB/debug_token" --data-urlencode "input_token=$IGT" --data-urlencode "access_token=$APPTOK")
is "$(printf '%s' "$r" | j '[d["data"]["app_id"], d["data"]["type"], d["data"]["profile_id"], d["data"]["is_valid"]]')" \
	"[\"9876543210\", \"USER\", \"$MARCO\", true]" "debug_token also answers for IG-Login tokens"
like "$(st -G "$FB/debug_token" --data-urlencode "input_token=$FBL" --data-urlencode 'access_token=1234567890|wrong')" '^400 .*"code": 190' \
	"debug_token needs a valid app token"
like "$(st "$FB/me?access_token=$IGT")" '^400 .*"code": 190' "an IG token is not accepted on graph.facebook.com"

# ---------------------------------------------------------------- subscribed_apps
is "$(c -X POST "$IG/me/subscribed_apps?subscribed_fields=messages,comments&access_token=$IGT")" '{"success": true}' "IG subscribed_apps POST"
is "$(c "$IG/$MARCO/subscribed_apps?access_token=$IGT" | j '[d["data"][0]["id"], d["data"][0]["subscribed_fields"]]')" \
	'["9876543210", ["messages", "comments"]]' "IG subscribed_apps GET lists the fields"
like "$(st -X POST "$IG/me/subscribed_apps?subscribed_fields=messages,feed&access_token=$IGT")" '^400 .*subscribed_fields\[1\] must be one of' \
	"IG subscribed_apps rejects a Page-only field"
like "$(st -X POST "$IG/me/subscribed_apps?access_token=$IGT")" '^400 .*"code": 100' "missing subscribed_fields is code 100"
is "$(c -X POST "$FB/$PAGE/subscribed_apps" -d subscribed_fields=messages,message_echoes,feed -d "access_token=$PT")" '{"success": true}' \
	"Page subscribed_apps POST with a page token"
like "$(st -X POST "$FB/$PAGE/subscribed_apps" -d subscribed_fields=comments -d "access_token=$PT")" '^400 .*got \\"comments\\"' \
	"Page subscribed_apps rejects an Instagram field"
like "$(st -X POST "$FB/$PAGE/subscribed_apps" -d subscribed_fields=messages -d "access_token=$FBL")" '^400 .*"code": 210' \
	"Page subscribed_apps needs a page token"
c -X DELETE "$IG/me/subscribed_apps?access_token=$IGT" >/dev/null
is "$(c "$IG/me/subscribed_apps?access_token=$IGT")" '{"data": []}' "IG subscribed_apps DELETE"

# ---------------------------------------------------------------- webhook trigger
USER1=7341092865519203
out=$("$PY" "$SIMPY" trigger ig_message_text --account $MARCO --user $USER1 --text 'Ciao/è' 2>"$tmp/sig")
printf '%s' "$out" >"$tmp/wh"
sig=$(sed -n 's/^X-Hub-Signature-256: //p' "$tmp/sig")
if command -v openssl >/dev/null; then
	calc=sha256=$(openssl dgst -sha256 -hmac sim-app-secret "$tmp/wh" | sed 's/.* //') how=openssl
else
	calc=sha256=$("$PY" -c 'import hashlib, hmac, sys; print(hmac.new(b"sim-app-secret", open(sys.argv[1], "rb").read(), hashlib.sha256).hexdigest())' "$tmp/wh") how=python
fi
is "$sig" "$calc" "trigger signature verifies ($how, app secret)"
is "$(wc -l <<<"$out" | tr -d ' ')" 1 "trigger prints the body on one line"
"$PY" "$SIMPY" trigger ig_message_text --account $MARCO --user $USER1 --text 'raw' >"$tmp/raw" 2>"$tmp/rawsig"
is "$(sed -n 's/^X-Hub-Signature-256: //p' "$tmp/rawsig")" \
	"sha256=$("$PY" -c 'import hashlib, hmac, sys; print(hmac.new(b"sim-app-secret", open(sys.argv[1], "rb").read(), hashlib.sha256).hexdigest())' "$tmp/raw")" \
	"trigger's stdout is exactly the signed bytes (no trailing newline)"
like "$out" 'Ciao\\/\\u00e8' "body is compact with / and non-ASCII escaped as Meta does"
is "$(printf '%s' "$out" | j '[d["entry"][0]["id"], d["entry"][0]["messaging"][0]["sender"]["id"], d["entry"][0]["messaging"][0]["recipient"]["id"]]')" \
	"[\"$MARCO\", \"$USER1\", \"$MARCO\"]" "account and user are substituted"
m1=$(printf '%s' "$out" | j 'd["entry"][0]["messaging"][0]["message"]["mid"]')
m2=$("$PY" "$SIMPY" trigger ig_message_text --account $MARCO --user $USER1 2>/dev/null | j 'd["entry"][0]["messaging"][0]["message"]["mid"]')
ok "$([ "$m1" != "$m2" ] && echo 0 || echo 1)" "each trigger gets a fresh mid"
env=$("$PY" "$SIMPY" trigger ig_echo --account $MARCO --user $USER1 --mid FORCED --envelope --app-secret other 2>/dev/null)
is "$(printf '%s' "$env" | "$PY" -c '
import hashlib, hmac, json, sys
e = json.load(sys.stdin); b = json.loads(e["body"]); m = b["entry"][0]["messaging"][0]
good = e["headers"]["X-Hub-Signature-256"] == "sha256=" + hmac.new(b"other", e["body"].encode(), hashlib.sha256).hexdigest()
print(sorted(e["headers"]), good, m["message"]["mid"], m["sender"]["id"], m["message"]["is_echo"])')" \
	"['Content-Type', 'X-Hub-Signature-256'] True FORCED $MARCO True" "--envelope: headers+body, --mid forced, echo sender is the account"
is "$(c "$U/_sim/kinds" | j '"ig_message_text" in d and "page_message" in d and "standby" in d')" true "/_sim/kinds lists fixture kinds"

# receiver for --post and auto_echo: checks the signature, answers 200 or 403
cat >"$tmp/recv.py" <<'EOF'
import hashlib, hmac, json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
secret, out = sys.argv[1].encode(), sys.argv[2]
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, code, text):
        self.send_response(code); self.send_header("Content-Length", str(len(text))); self.end_headers()
        self.wfile.write(text.encode())
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        good = hmac.compare_digest("sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest(),
                                   self.headers.get("X-Hub-Signature-256", ""))
        with open(out, "a") as f:
            f.write(json.dumps({"good": good, "body": body.decode()}) + "\n")
        self.reply(200 if good else 403, "EVENT_RECEIVED" if good else "bad signature")
s = HTTPServer(("127.0.0.1", 0), H)
print("http://127.0.0.1:%d/hook" % s.server_address[1], flush=True)
s.serve_forever()
EOF
"$PY" "$tmp/recv.py" sim-app-secret "$tmp/received" >"$tmp/rurl" 2>/dev/null &
RCVPID=$!
for _ in $(seq 100); do [ -s "$tmp/rurl" ] && break; sleep 0.05; done
HOOK=$(head -n 1 "$tmp/rurl")
is "$("$PY" "$SIMPY" trigger ig_reaction --account $MARCO --user $USER1 --post "$HOOK" | tr '\n' ' ')" "200 EVENT_RECEIVED " "--post delivers a signed body (receiver verified it)"
is "$("$PY" "$SIMPY" trigger ig_reaction --post "$HOOK" --app-secret wrong | sed -n 1p)" 403 "--post with another secret is rejected by the receiver"

# ---------------------------------------------------------------- Send API
send() {	# send TOKEN-ARGS JSON  (graph.instagram.com, me)
	st -X POST "$IG/me/messages" -H "Authorization: Bearer $IGT" -H 'Content-Type: application/json' -d "$1"
}
USER2=5550001112223334
r=$(send "{\"recipient\":{\"id\":\"$USER2\"},\"message\":{\"text\":\"hi\"}}")
like "$r" '^400 .*"code": 100, "error_subcode": 2534014' "sending to an unknown IGSID is 100/2534014"
r=$("$PY" "$SIMPY" trigger ig_message_text --sim "$U" --account $MARCO --user $USER2 --text 'Hai posto?' 2>/dev/null)
is "$(printf '%s' "$r" | j 'd["entry"][0]["messaging"][0]["message"]["text"]')" 'Hai posto?' "trigger --sim returns the body"
r=$(send "{\"recipient\":{\"id\":\"$USER2\"},\"message\":{\"text\":\"Sì, alle 18\"}}")
is "$(code "$r")" 200 "send within the 24 h window succeeds"
MID=$(body "$r" | j 'd["message_id"]')
is "$(body "$r" | j 'd["recipient_id"] + " " + d["message_id"][:4]')" "$USER2 aWdf" "send answers recipient_id and an IG-style mid"
long=$("$PY" -c 'print("è" * 501)')
like "$(send "{\"recipient\":{\"id\":\"$USER2\"},\"message\":{\"text\":\"$long\"}}")" '^400 .*"error_subcode": 2534015' \
	"text over 1000 bytes (501 chars) is 100/2534015"
r=$(st -X POST "$IG/$MARCO/messages" -d "recipient={\"id\":\"$USER2\"}" --data-urlencode 'message={"text":"form"}' -d "access_token=$IGT")
is "$(code "$r")" 200 "form-encoded send with JSON-string fields"
is "$(send "{\"recipient\":{\"id\":\"$USER2\"},\"sender_action\":\"typing_on\"}" | tr -d '\n')" "200 {\"recipient_id\": \"$USER2\"}" "sender_action typing_on"
clock 90000
like "$(send "{\"recipient\":{\"id\":\"$USER2\"},\"message\":{\"text\":\"late\"}}")" '^400 .*allowed window.*"code": 10, "error_subcode": 2534022' \
	"after 24 h a plain send is 10/2534022"
is "$(code "$(send "{\"recipient\":{\"id\":\"$USER2\"},\"message\":{\"text\":\"human\"},\"tag\":\"HUMAN_AGENT\"}")")" 200 \
	"HUMAN_AGENT tag is accepted within 7 days"
post /_sim/config '{"human_agent_approved": false}' >/dev/null
like "$(send "{\"recipient\":{\"id\":\"$USER2\"},\"message\":{\"text\":\"human\"},\"tag\":\"HUMAN_AGENT\"}")" '^400 .*"error_subcode": 2018276' \
	"HUMAN_AGENT without approval is 100/2018276"
post /_sim/config '{"human_agent_approved": true}' >/dev/null
clock $((7 * 86400))
like "$(send "{\"recipient\":{\"id\":\"$USER2\"},\"message\":{\"text\":\"human\"},\"tag\":\"HUMAN_AGENT\"}")" '^400 .*"error_subcode": 2534022' \
	"HUMAN_AGENT beyond 7 days is refused"
r=$(c "$U/_sim/messages?account=$MARCO")
is "$(printf '%s' "$r" | j '[m["text"] for m in d if m["text"]] + [d[-1]["tag"], d[0]["mid"] == "'"$MID"'"]')" \
	'["Sì, alle 18", "form", "human", "HUMAN_AGENT", true]' "/_sim/messages records sent messages"

# private replies
r=$("$PY" "$SIMPY" trigger ig_comment --sim "$U" --account $MARCO --user $USER1 2>/dev/null)
CID=$(printf '%s' "$r" | j 'd["entry"][0]["changes"][0]["value"]["id"]')
pr="{\"recipient\":{\"comment_id\":\"$CID\"},\"message\":{\"text\":\"Ti scrivo in DM\"}}"
r=$(send "$pr")
is "$(code "$r") $(body "$r" | j 'd["recipient_id"]')" "200 $USER1" "private reply to a triggered comment"
like "$(send "$pr")" '^400 .*"error_subcode": 2534025' "a second private reply to the same comment is 100/2534025"

# Messenger and IG via the Page
PSID=6823049917345561
"$PY" "$SIMPY" trigger page_message --sim "$U" --account $NOIGPAGE --user $PSID >/dev/null 2>&1
r=$(st -X POST "$FB/me/messages?access_token=$PT2" -H 'Content-Type: application/json' \
	-d "{\"recipient\":{\"id\":\"$PSID\"},\"messaging_type\":\"RESPONSE\",\"message\":{\"text\":\"Aperti domenica\"}}")
is "$(code "$r") $(body "$r" | j 'd["message_id"][:2]')" "200 m_" "Messenger send with a page token gives an m_ mid"
"$PY" "$SIMPY" trigger ig_message_text --sim "$U" --account $ROSSI --user $USER1 >/dev/null 2>&1
r=$(st -X POST "$FB/$PAGE/messages?access_token=$PT" -H 'Content-Type: application/json' \
	-d "{\"recipient\":{\"id\":\"$USER1\"},\"message\":{\"text\":\"via page\"}}")
is "$(code "$r") $(body "$r" | j 'd["message_id"][:4]')" "200 aWdf" "IG-via-Page send reaches the linked IG account's participant"

# auto echo
post /_sim/config "{\"auto_echo\": true, \"webhook_url\": \"$HOOK\"}" >/dev/null
: >"$tmp/received"
"$PY" "$SIMPY" trigger ig_message_text --sim "$U" --account $MARCO --user $USER2 >/dev/null 2>&1
r=$(send "{\"recipient\":{\"id\":\"$USER2\"},\"message\":{\"text\":\"eco\"}}")
MID2=$(body "$r" | j 'd["message_id"]')
for _ in $(seq 50); do grep -q is_echo "$tmp/received" 2>/dev/null && break; sleep 0.1; done
is "$(grep is_echo "$tmp/received" | head -n 1 | j 'json.loads(d["body"])["entry"][0]["messaging"][0]["message"]["mid"] == "'"$MID2"'" and d["good"]')" \
	true "auto_echo posts a signed echo with the sent mid"
post /_sim/config '{"auto_echo": false}' >/dev/null
r=$(post /_sim/trigger "{\"kind\": \"ig_echo\", \"mid\": \"$MID2\", \"post\": true}")
is "$(printf '%s' "$r" | j '[d["post_status"], json.loads(d["body"])["entry"][0]["messaging"][0]["message"]["text"], d["envelope"]["body"] == d["body"]]')" \
	'[200, "eco", true]' "/_sim/trigger echo of a sent mid reuses its text and posts to webhook_url"

# ---------------------------------------------------------------- error injection, latency
post /_sim/inject '{"match": "/me", "method": "GET", "count": 2, "code": 4}' >/dev/null
h1=$(c -D - -o "$tmp/b1" "$IG/me?access_token=$IGT")
is "$(j 'd["error"]["code"], d["error"]["is_transient"]' <"$tmp/b1" | tr -d '\n')" '[4, false]' "injected code 4 answers a Graph error (no is_transient, reference §3.6)"
like "$h1" 'X-App-Usage: \{"call_count":100' "code 4 carries X-App-Usage"
is "$(code "$(st "$IG/me?access_token=$IGT")")" 400 "the second matching request fails too"
is "$(code "$(st "$IG/me?access_token=$IGT")")" 200 "the third succeeds (count exhausted)"
post /_sim/inject '{"match": "/messages", "code": 80002, "headers": {"Retry-After": "1"}, "eta": 2}' >/dev/null
h=$(c -D - -o "$tmp/b2" -X POST "$IG/me/messages?access_token=$IGT" -d x=1)
like "$h" 'Retry-After: 1' "injection adds custom headers"
like "$h" '"type":"instagram".*"estimated_time_to_regain_access":2' "BUC header with the requested eta"
# every rate-limit class of reference §3.6 / §9.1 with its usage header
for cls in 4:X-App-Usage: 17:X-App-Usage: 341:X-App-Usage: 32:'"type":"pages"' 613:'"type":"instagram"' \
	80001:'"type":"pages"' 80002:'"type":"instagram"' 80006:'"type":"messenger"' 80004:X-Ad-Account-Usage:; do
	post /_sim/inject '{"match": "/me", "count": 1, "code": '"${cls%%:*}"'}' >/dev/null
	h=$(c -D - -o "$tmp/b3" "$IG/me?access_token=$IGT")
	like "$h" "${cls#*:}" "rate limit ${cls%%:*} answers with ${cls#*:}"
	is "$(j 'd["error"]["code"]' <"$tmp/b3")" "${cls%%:*}" "…and its code"
done
post /_sim/inject '{"match": "/me", "count": 1, "code": 80002, "eta": null}' >/dev/null
h=$(c -D - -o /dev/null "$IG/me?access_token=$IGT")
like "$h" 'X-Business-Use-Case-Usage: \{"[0-9]+":\[\{"call_count":100,"total_cputime":20,"total_time":35,"type":"instagram"\}\]\}' \
	'"eta": null leaves estimated_time_to_regain_access out'
post /_sim/inject '{"match": "/me", "count": 1, "code": 80001, "buc_objects": 32}' >/dev/null
h=$(c -D - -o /dev/null "$IG/me?access_token=$IGT" | grep -i '^X-Business-Use-Case-Usage:')
ok $(( ${#h} > 4096 ? 0 : 1 )) "buc_objects 32 makes a BUC header over 4 KB (${#h} bytes)"
is "$(printf '%s' "${h#*: }" | j 'len(d)')" 32 "…with 32 objects"
# "act, then answer an error": the handler runs, then the injected error
n0=$(c "$U/_sim/messages?account=$MARCO" | j 'len(d)')
post /_sim/inject '{"match": "/me/messages", "method": "POST", "count": 1, "code": 1, "subcode": 1357046, "message": "Received invalid JSON reply", "after": true}' >/dev/null
r=$(st -X POST "$IG/me/messages" -H "Authorization: Bearer $IGT" -H 'Content-Type: application/json' -d "{\"recipient\":{\"id\":\"$USER2\"},\"message\":{\"text\":\"after\"},\"tag\":\"HUMAN_AGENT\"}")
like "$r" '^500 .*"code": 1, "error_subcode": 1357046' "after: the injected 1/1357046 is the answer"
is "$(c "$U/_sim/messages?account=$MARCO" | j '[len(d) - '"$n0"', d[-1]["text"]]')" '[1, "after"]' "…and the message was delivered"
is "$(c "$U/_sim/requests?path=/me/messages&method=POST" | j 'd[-1]["acted"]')" 200 "…the request record says the handler answered 200"
post /_sim/inject '{"match": "/me/messages", "method": "POST", "count": 1, "status": 502, "after": true}' >/dev/null
r=$(st -X POST "$IG/me/messages" -H "Authorization: Bearer $IGT" -H 'Content-Type: application/json' -d "{\"recipient\":{\"id\":\"$USER2\"},\"message\":{\"text\":\"after 502\"},\"tag\":\"HUMAN_AGENT\"}")
is "$(code "$r"):$(c "$U/_sim/messages?account=$MARCO" | j 'd[-1]["text"]')" "502:after 502" "after with a 5xx: delivered, then 502"
post /_sim/inject '{"match": "/me/messages", "method": "POST", "count": 1, "hang": 2, "after": true}' >/dev/null
c --max-time 1 -o /dev/null -X POST "$IG/me/messages" -H "Authorization: Bearer $IGT" -H 'Content-Type: application/json' -d "{\"recipient\":{\"id\":\"$USER2\"},\"message\":{\"text\":\"after hang\"},\"tag\":\"HUMAN_AGENT\"}"
rc=$?
sleep 1.2
is "$rc:$(c "$U/_sim/messages?account=$MARCO" | j 'd[-1]["text"]')" "28:after hang" "after with hang: delivered, then the client times out"
post /_sim/inject '{"match": "/llm/", "status": 503}' >/dev/null
r=$(st -X POST "$U/llm/v1/chat/completions" -H 'Authorization: Bearer k' -d '{"messages":[{"role":"user","content":"x"}]}')
like "$r" '^503 503 Simulated' "status-only injection is a plain 5xx"
post /_sim/inject '{"match": "/graph.instagram.com/v25.0/me", "count": 1, "code": 190, "subcode": 460}' >/dev/null
is "$(c "$U/_sim/inject" | j 'len(d)')" 1 "GET /_sim/inject lists pending injections"
c -X DELETE "$U/_sim/inject" >/dev/null
is "$(c "$U/_sim/inject")" '[]' "DELETE /_sim/inject clears them"
post /_sim/inject '{"match": "/me", "hang": 2}' >/dev/null
c --max-time 1 -o /dev/null "$IG/me?access_token=$IGT"
is "$?" 28 "hang makes a client with a 1 s timeout time out"
post /_sim/latency '{"ms": 300}' >/dev/null
t=$(c -o /dev/null -w '%{time_total}' "$IG/me?access_token=$IGT")
post /_sim/latency '{"ms": 0}' >/dev/null
like "$t" '^(0\.[3-9]|[1-9])' "latency delays requests (${t}s)"

# ---------------------------------------------------------------- token control
TT=$(post /_sim/token "{\"action\": \"issue\", \"account\": \"$SARA\"}" | j 'd["token"]["token"]')
is "$(c "$IG/me?fields=username&access_token=$TT" | j 'd["username"] + " " + "'"$TT"'"[:4]')" "sara_ascolta IGAA" "/_sim/token issue mints a usable token"
post /_sim/token "{\"token\": \"$TT\", \"action\": \"expire\"}" >/dev/null
like "$(st "$IG/me?access_token=$TT")" '^400 .*"code": 190, "error_subcode": 463' "expired token → 190/463"
post /_sim/token "{\"token\": \"$PT\", \"action\": \"revoke\"}" >/dev/null
like "$(st "$FB/me?access_token=$PT")" '^400 .*"code": 190, "error_subcode": 460' "revoked token → 190/460"
post /_sim/token "{\"account\": \"$MARCO\", \"action\": \"revoke\"}" >/dev/null
like "$(st "$IG/me?access_token=$IGT")" '^400 .*"code": 190' "revoking by account invalidates its tokens"
is "$(c "$U/_sim/tokens?account=$MARCO" | j 'all(not t["valid"] for t in d) and len(d) > 2')" true "/_sim/tokens lists tokens with validity"

# ---------------------------------------------------------------- fake LLM
llm='{"model":"m","messages":[{"role":"system","content":"Sei Marco.\nVoice: Energico!\nSii breve."},{"role":"user","content":"Quanto costa il corso?"}]}'
r1=$(post /llm/v1/chat/completions "$llm" -H 'Authorization: Bearer anykey')
is "$(printf '%s' "$r1" | j 'd["choices"][0]["message"]["content"]')" "Energico! re: Quanto costa il corso?" "LLM answer = Voice line + re: last user message"
is "$(printf '%s' "$r1" | j '[d["object"], d["choices"][0]["finish_reason"], d["usage"]]')" \
	'["chat.completion", "stop", {"prompt_tokens": 10, "completion_tokens": 6, "total_tokens": 16}]' "LLM response shape and word-count usage"
r2=$(post /llm/v1/chat/completions "$llm" -H 'Authorization: Bearer anykey')
is "$(printf '%s' "$r2" | j 'd["choices"][0]["message"]["content"]')" "Energico! re: Quanto costa il corso?" "LLM is deterministic"
r=$(post /llm/v1/chat/completions '{"messages":[{"role":"system","content":"You are a calm assistant for a gym. Reply briefly."},{"role":"user","content":"'"$("$PY" -c 'print("x" * 100)')"'"}]}' -H 'Authorization: Bearer k')
is "$(printf '%s' "$r" | j 'd["choices"][0]["message"]["content"]')" "You are a calm assistant for a gym. re: $("$PY" -c 'print("x" * 80)')" \
	"without Voice: the first sentence, user text cut to 80 chars"
post /_sim/config '{"llm_key": "sekret"}' >/dev/null
is "$(code "$(st -X POST "$U/llm/v1/chat/completions" -H 'Authorization: Bearer nope' -d "$llm")")" 401 "a configured llm_key is enforced"
is "$(code "$(st -X POST "$U/llm/v1/chat/completions" -H 'Authorization: Bearer sekret' -d "$llm")")" 200 "the right key passes"

# ---------------------------------------------------------------- misc
like "$(st "$IG/me/nothing/here")" '^400 .*Unsupported get request' "unknown path → code 100 Unsupported get request"
r=$(c "$U/_sim/requests?path=/messages&method=POST")
is "$(printf '%s' "$r" | j 'len(d) > 5 and all(x["method"] == "POST" and "/messages" in x["path"] and x["status"] for x in d)')" true \
	"/_sim/requests filters recorded requests by path and method"
like "$(printf '%s' "$r" | j 'd[0]["body"]')" 'recipient' "recorded requests keep the body"
c -X DELETE "$U/_sim/requests" >/dev/null
is "$(c "$U/_sim/requests")" '[]' "DELETE /_sim/requests clears the record"
r=$(c -X POST "$FB/" --data-urlencode 'batch=[{"method":"GET","relative_url":"me?fields=name"},{"method":"GET","relative_url":"nope/x/y"}]' -d "access_token=$FBL")
is "$(printf '%s' "$r" | j '[x["code"] for x in d] + [json.loads(d[0]["body"])["name"]]')" '[200, 400, "Luca Admin"]' "Graph batch requests"
r=$(post /_sim/deauthorize "{\"user\": \"$LUCA\", \"post\": \"$HOOK\"}")
is "$(printf '%s' "$r" | "$PY" -c '
import base64, hashlib, hmac, json, sys
d = json.load(sys.stdin); sig, p = d["signed_request"].split(".")
pad = lambda s: s + "=" * (-len(s) % 4)
good = hmac.compare_digest(base64.urlsafe_b64decode(pad(sig)), hmac.new(b"sim-app-secret", p.encode(), hashlib.sha256).digest())
print(good, json.loads(base64.urlsafe_b64decode(pad(p)))["user_id"], len(d["revoked"]) > 0)')" "True $LUCA True" \
	"/_sim/deauthorize signs a signed_request and revokes the user's tokens"
grep -q ' GET /graph.instagram.com/v25.0/me' "$tmp/sim.log"
ok $? "--log records requests"

# ---------------------------------------------------------------- world
post /_sim/accounts '{"id": "17841400000000009", "username": "nuovo_studio", "followers_count": 5}' >/dev/null
NT=$(post /_sim/token '{"action": "issue", "account": "17841400000000009", "scopes": ["instagram_business_basic"]}' | j 'd["token"]["token"]')
is "$(c "$IG/me?fields=username,followers_count,account_type&access_token=$NT" | j '[d["username"], d["followers_count"], d["account_type"]]')" \
	'["nuovo_studio", 5, "BUSINESS"]' "POST /_sim/accounts adds a BLfI account"
like "$(st -X POST "$IG/me/messages?access_token=$NT" -d 'recipient={"id":"1"}' -d 'message={"text":"x"}')" '^400 .*"code": 200' \
	"sending without the messaging scope is refused (code 200)"
post /_sim/users '{"id": "10000000000000002", "name": "Giulia Owner", "pages": [{"id": "100000000000003", "name": "Bar Giulia", "tasks": ["MESSAGING"], "instagram_business_account": {"id": "17841400000000010", "username": "bar_giulia"}}]}' >/dev/null
GT=$(post /_sim/token '{"action": "issue", "account": "10000000000000002"}' | j 'd["token"]["token"]')
is "$(c "$FB/me/accounts?fields=name,tasks,instagram_business_account{username}&access_token=$GT" | j 'd["data"][0]')" \
	'{"name": "Bar Giulia", "tasks": ["MESSAGING"], "instagram_business_account": {"username": "bar_giulia", "id": "17841400000000010"}, "id": "100000000000003"}' \
	"POST /_sim/users adds a FB user with a page and a linked IG account (field expansion)"
post /_sim/participants "{\"account\": \"$SARA\", \"id\": \"42\", \"last_message_at\": $(( $(c "$U/_sim/clock" | j 'd["now"]') - 90000 ))}" >/dev/null
ST=$(post /_sim/token "{\"action\": \"issue\", \"account\": \"$SARA\"}" | j 'd["token"]["token"]')
like "$(st -X POST "$IG/me/messages?access_token=$ST" -d 'recipient={"id":"42"}' -d 'message={"text":"x"}')" '"error_subcode": 2534022' \
	"POST /_sim/participants with an old last_message_at closes the window"
r=$("$PY" "$SIMPY" trigger page_feed_comment --account $NOIGPAGE --user 77 --text 'Prezzo?' 2>/dev/null)
is "$(printf '%s' "$r" | j '[d["entry"][0]["id"], d["entry"][0]["changes"][0]["value"]["post_id"].split("_")[0], d["entry"][0]["changes"][0]["value"]["from"]["id"], d["entry"][0]["changes"][0]["value"]["message"], d["entry"][0]["time"] < 10**11]')" \
	"[\"$NOIGPAGE\", \"$NOIGPAGE\", \"77\", \"Prezzo?\", true]" "feed trigger: page id, post_id prefix, user, text, time in seconds"
echo '{"accounts": [{"id": "17841400000000077", "username": "from_world_file"}]}' >"$tmp/world.json"
"$PY" "$SIMPY" serve --port 0 --world "$tmp/world.json" >"$tmp/url2" 2>/dev/null &
pid2=$!
for _ in $(seq 100); do [ -s "$tmp/url2" ] && break; sleep 0.05; done
is "$(c "$(head -n 1 "$tmp/url2")/_sim/accounts" | j '[a["username"] for a in d]')" '["marco_energia", "sara_ascolta", "rossi_consulting", "from_world_file"]' \
	"--world extends the default world"
kill "$pid2"; wait "$pid2" 2>/dev/null
is "$("$PY" "$SIMPY" trigger ig_message_text --sim "$U" --account $MARCO --user 99 --post "$HOOK" | sed -n 1p)" 200 "trigger --sim --post makes the simulator deliver"

# ---------------------------------------------------------------- reset and determinism
post /_sim/reset '{}' >/dev/null
is "$(c "$U/_sim/clock" | j 'd["offset"]'):$(c "$U/_sim/messages"):$(c "$U/_sim/tokens")" "0.0:[]:[]" "reset clears clock, messages and tokens"
is "$(code_of "$(ig_authorize)")" "$FIRST_CODE" "after reset the seeded simulator repeats its codes"

# ---------------------------------------------------------------- shutdown
kill -TERM "$SIMPID"
for _ in $(seq 40); do kill -0 "$SIMPID" 2>/dev/null || break; sleep 0.05; done
wait "$SIMPID"
is "$?" 0 "SIGTERM stops the simulator cleanly"
SIMPID=
is "$(cat "$tmp/err")" "" "nothing was written to stderr"

echo "1..$n"
[ "$failed" = 0 ]
