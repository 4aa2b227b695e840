#!/bin/bash
# ig-connect: OAuth for both login flavours against the simulator, sealed
# tokens, list/assign/test/refresh/subscribe/doctor/disconnect/move/rekey,
# the Graph client's retry policy, Meta's signed callbacks, permissions.
. "${top_srcdir:-.}/tests/lib.sh"

MARCO=17841400000000001 SARA=17841400000000002 ROSSI_IG=17841400000000003
FB_USER=10000000000000001 PAGE1=100000000000001 PAGE2=100000000000002
KEYFILE="$XDG_CONFIG_HOME/igkit/master.key"
export IGKIT_HTTP_BACKOFF_MS=5   # keep the retry tests fast

# Requests the simulator recorded whose path contains $1 (method $2).
nreq() { simctl GET "/_sim/requests?path=$1${2:+&method=$2}" |
	"$PYTHON3" -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
clear_requests() { simctl DELETE /_sim/requests >/dev/null; }
# Play the browser: follow the authorisation URL to the redirect.
browse() { curl -s -o /dev/null -w '%{redirect_url}' "$1"; }
field() { printf '%s' "$out" | jget "$1"; }
# Every token the simulator ever issued, one per line.
sim_tokens() { simctl GET /_sim/tokens | "$PYTHON3" -c 'import json,sys
for t in json.load(sys.stdin): print(t["token"])'; }
# A signed_request for payload JSON $2 under secret $1 (reference §8).
signed_request() { "$PYTHON3" -c 'import base64,hmac,hashlib,sys
b=lambda x: base64.urlsafe_b64encode(x).rstrip(b"=").decode()
p=b(sys.argv[2].encode())
print(b(hmac.new(sys.argv[1].encode(), p.encode(), hashlib.sha256).digest())+"."+p)' "$1" "$2"; }

# ---------------------------------------------------------------- usage
run ig-connect --help
is_rc 0 "--help exits 0"
like "$out" "callback +finish it" "--help lists the commands"
run ig-connect
is_rc 64 "no command: 64"
run ig-connect frobnicate
is_rc 64 "unknown command: 64"
like "$err" "^ig-connect: unknown command 'frobnicate'" "names the command"
run ig-connect url
is_rc 66 "url without --tenant looks up the key's tenant: it needs the store"
run ig-connect url --tenant rossi --flavour myspace
is_rc 64 "bad --flavour: 64"
like "$err" "--flavour takes instagram or facebook, not 'myspace'" "says what --flavour takes"
run ig-connect test
is_rc 64 "test without ACCOUNT or --all: 64"
run ig-connect list --erase
is_rc 64 "an option of another command: 64"
like "$err" "list does not take --erase" "says which option"
run ig-connect list
is_rc 66 "no store yet: 66"
like "$err" "tenant-admin init" "with the hint to create it"

# ---------------------------------------------------------------- set-up
sim_start
tenant-admin init >/dev/null 2>&1
tenant-admin tenant create rossi --name "Rossi" >/dev/null 2>&1
tenant-admin tenant create bianchi --name "Bianchi" >/dev/null 2>&1
tenant-admin agent create marco --tenant rossi >/dev/null 2>&1
tenant-admin agent create sara --tenant rossi >/dev/null 2>&1
tenant-admin location create milano --tenant rossi >/dev/null 2>&1
is "$(sq "SELECT count(*) FROM agents")" "2" "set-up: tenants and agents exist"

# ---------------------------------------------------------------- url
run ig-connect url --tenant rossi --agent marco
is_rc 0 "url"
URL=$(field url) STATE=$(field state)
like "$URL" "^$SIM/www.instagram.com/oauth/authorize\?client_id=9876543210&" "Instagram Login dialog with the IG app id"
like "$URL" "redirect_uri=https%3A%2F%2Fexample.test%2Figkit%2Fcallback" "carries the redirect URI"
like "$URL" "scope=instagram_business_basic%2C" "asks for the business scopes"
like "$STATE" '^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$' "state is nonce.mac"
is "$(field agent)/$(field flavour)" "marco/instagram" "bound to agent and flavour"
is "$(sq "SELECT count(*) FROM oauth_states WHERE used_at IS NULL")" "1" "state stored, unused"
run ig-connect url --tenant rossi --agent nobody
is_rc 65 "unknown agent: 65"
like "$err" "unknown agent 'nobody' in tenant 'rossi'" "names agent and tenant"
run ig-connect url --tenant nowhere
is_rc 65 "unknown tenant: 65"
IGKIT_REDIRECT_URI= run ig-connect url --tenant rossi
is_rc 78 "no redirect_uri: 78"

# ---------------------------------------------------------------- callback, Instagram Login
REDIR=$(browse "$URL")
like "$REDIR" "^https://example.test/igkit/callback\?code=.*#_$" "the simulator redirects with a code"
run_in "$REDIR" ig-connect -v callback
is_rc 0 "callback connects the account"
VERBOSE_ERR=$err CB_OUT=$out
is "$(field account)/$(field username)/$(field agent)" "$MARCO/marco_energia/marco" "account, username and agent"
like "$(field token)" "^IGAA…...$" "the token is shown masked"
like "$(field token_expires_at)" "^20[0-9-]+T" "with its expiry"
like "$VERBOSE_ERR" "graph: > POST .*/api.instagram.com/oauth/access_token" "-v logs the requests"
like "$VERBOSE_ERR" "code=AQ..…" "-v masks the code"
is "$(sq "SELECT status || '/' || flavour || '/' || typeof(access_token) FROM accounts WHERE external_id = '$MARCO'")" "active/instagram/blob" "stored with a sealed token"
is "$(sq "SELECT count(*) FROM audit_log WHERE action = 'account.connect' AND target = '$MARCO'")" "1" "connection audited"
run_in "$REDIR" ig-connect callback
is_rc 65 "a state is single-use"
like "$err" "state already used" "says so"
st=${REDIR##*state=}; st=${st%%#*}; mac=${st#*.}
[ "${mac:0:1}" = A ] && c=B || c=A
TAMPERED=${REDIR/"$st"/"${st%%.*}.$c${mac:1}"}
run_in "$TAMPERED" ig-connect callback
is_rc 65 "a tampered state: 65"
like "$err" "does not verify" "says it does not verify"
run_in "code=x&state=AAAAAAAAAAAAAAAAAAAAAA.BBBB" ig-connect callback
is_rc 65 "an unknown state: 65"
like "$err" "unknown OAuth state" "says unknown"
run_in "" ig-connect callback
is_rc 65 "nothing on stdin: 65"

# expired: issued an hour ago with the default 10 minutes
IGKIT_NOW=$(( $(date +%s) - 3600 )) run ig-connect url --tenant rossi
REDIR=$(browse "$(field url)")
run_in "$REDIR" ig-connect callback
is_rc 65 "an expired state: 65"
like "$err" "OAuth state expired at" "says expired"

# denied consent
simctl POST /_sim/consent '{"as":"'$SARA'","deny":true}' >/dev/null
run ig-connect url --tenant bianchi
REDIR=$(browse "$(field url)")
run_in "$REDIR" ig-connect callback
is_rc 69 "consent denied: 69"
like "$err" "authorisation refused: The user denied your request \(access_denied, user_denied\)" "quotes Meta's reason"
is "$(sq "SELECT count(*) FROM accounts WHERE external_id = '$SARA'")" "0" "nothing stored"

# the flat token shape, JSON input
simctl POST /_sim/consent '{"as":"'$SARA'","deny":false}' >/dev/null
simctl POST /_sim/config '{"ig_token_shape":"flat"}' >/dev/null
run ig-connect url --tenant bianchi
REDIR=$(browse "$(field url)")
CODE=$(printf '%s' "$REDIR" | sed -E 's/.*code=([^&#]*).*/\1/') ST=$(printf '%s' "$REDIR" | sed -E 's/.*state=([^&#]*).*/\1/')
run_in "{\"code\":\"$CODE\",\"state\":\"$ST\"}" ig-connect callback
is_rc 0 "flat code-exchange answer, JSON input"
is "$(field tenant)/$(field username)/$(field agent)" "bianchi/sara_ascolta/" "sara connected to bianchi's default agent"
like "$out" '"agent":null' "…shown as null, not a placeholder"
simctl POST /_sim/config '{"ig_token_shape":"data"}' >/dev/null

# a used code is refused by Meta with its own error shape
run ig-connect url --tenant bianchi
ST2=$(field state)
run_in "code=$CODE&state=$ST2" ig-connect callback
is_rc 69 "a spent code: 69"
like "$err" "code exchange: graph: \(#400\) Matching code was not found or was already used" "Meta's api.instagram.com message"

# one Instagram account, one tenant
simctl POST /_sim/consent '{"as":"'$MARCO'"}' >/dev/null
run ig-connect url --tenant bianchi
run_in "$(browse "$(field url)")" ig-connect callback
is_rc 65 "connecting an account of another tenant: 65"
like "$err" "account $MARCO \(@marco_energia\) is already connected to tenant 'rossi'" "names the conflict"
is "$(sq "SELECT slug FROM accounts a JOIN tenants t ON t.id = a.tenant_id WHERE external_id = '$MARCO'")" "rossi" "it stays with rossi"

# ---------------------------------------------------------------- callback, Facebook Login
run ig-connect url --tenant rossi --agent sara --flavour facebook
like "$(field url)" "^$SIM/www.facebook.com/v25.0/dialog/oauth\?client_id=1234567890&" "Facebook Login dialog with the app id"
run_in "$(browse "$(field url)")" ig-connect callback
is_rc 0 "Facebook Login callback"
is "$(field account)/$(field page_id)/$(field flavour)/$(field agent)" "$ROSSI_IG/$PAGE1/facebook/sara" "the Page's Instagram account, with its Page"
like "$err" "skipped Page $PAGE2: no Instagram professional account is linked" "the Page without Instagram is reported"
is "$(sq "SELECT login_user_id FROM accounts WHERE external_id = '$ROSSI_IG'")" "$FB_USER" "the Facebook user is remembered for deauthorize"

# ---------------------------------------------------------------- no token in plaintext
TOKENS=$(sim_tokens)
ok "$([ "$(printf '%s\n' "$TOKENS" | grep -c .)" -ge 4 ]; echo $?)" "the simulator issued tokens"
leaks=0
for t in $TOKENS; do
	for f in "$IGKIT_DB" "$IGKIT_DB-wal"; do
		[ -f "$f" ] && [ "$(grep -c -a -F -- "$t" "$f")" != 0 ] && leaks=$((leaks + 1))
	done
	printf '%s\n%s\n' "$CB_OUT" "$VERBOSE_ERR" | grep -q -F -- "$t" && leaks=$((leaks + 1))
done
is "$leaks" "0" "no raw token in the store, its WAL, stdout or -v stderr"

# ---------------------------------------------------------------- list, assign
run ig-connect list
is_rc 0 "list"
is "$(printf '%s\n' "$out" | grep -c .)" "3" "three accounts"
unlike "$out" "EAA[A-Z][A-Za-z0-9]{20}|IGAA[A-Za-z0-9]{20}" "list shows no token"
run ig-connect list --tenant rossi --format csv
like "$out" "^tenant,account,username,flavour,status,agent" "csv header"
is "$(printf '%s\n' "$out" | grep -c '^rossi,')" "2" "csv, one tenant"
run ig-connect assign @marco_energia --default --location milano
is_rc 0 "assign to the default agent and a location"
is "$(field agent)/$(field location)" "/milano" "assigned"
like "$out" '"agent":null,' "…the default agent is null"
unlike "$out" '"token":' "…and no token placeholder: assign does not unseal, so the field is left out"
run ig-connect assign $MARCO --agent marco --no-location
is "$(field agent)/$(field location)" "marco/" "assigned back, location cleared"
run ig-connect assign @marco_energia --agent nobody
is_rc 65 "assign to an unknown agent: 65"
run ig-connect assign @nobody --default
is_rc 65 "unknown account: 65"
like "$err" "unknown account '@nobody'" "names it"
run ig-connect assign @marco_energia --agent marco --default
is_rc 64 "--agent and --default together: 64"
is "$(sq "SELECT count(*) FROM audit_log WHERE action = 'account.assign'")" "2" "assignments audited"

# ---------------------------------------------------------------- test and the retry policy
run ig-connect test @marco_energia
is_rc 0 "test"
is "$(field username)/$(field verified)/$(field followers_count)" "marco_energia/True/1200" "verified username and brand snapshot"
is "$(sq "SELECT biography FROM accounts WHERE external_id = '$MARCO'")" "Allenamento e energia" "snapshot stored"
clear_requests
simctl POST /_sim/inject '{"match":"/me","method":"GET","count":2,"code":4,"headers":{"Retry-After":"1"}}' >/dev/null
run ig-connect test @marco_energia
is_rc 0 "rate limited twice with Retry-After: 1, then success"
is "$(nreq /graph.instagram.com/v25.0/me GET)" "3" "after exactly 3 requests"
# Reference §9.2: a rate limit that does not say how long means minutes, not seconds.
for c in 4 17 32 341 613 80001 80002 80006; do
	clear_requests
	simctl POST /_sim/inject '{"match":"/me","method":"GET","count":1,"code":'$c',"eta":null}' >/dev/null
	run ig-connect test @marco_energia
	is_rc 75 "rate limit $c without a wait: 75 at once"
	like "$err" "rate limited: retry after 5 min" "…retry after 5 min ($c)"
	is "$(nreq /graph.instagram.com/v25.0/me GET)" "1" "…not retried in seconds ($c)"
	is "$(sq "SELECT status FROM accounts WHERE external_id = '$MARCO'")" "active" "…the account is not marked error ($c)"
done
simctl DELETE /_sim/inject >/dev/null
clear_requests
simctl POST /_sim/inject '{"match":"/me","method":"GET","count":1,"code":1200}' >/dev/null
run ig-connect test @marco_energia
is_rc 0 "1200 is temporary: retried"
is "$(nreq /graph.instagram.com/v25.0/me GET)" "2" "…once"
clear_requests
simctl POST /_sim/inject '{"match":"/me","method":"GET","count":1,"status":502}' >/dev/null
run ig-connect test @marco_energia
is_rc 0 "a 502 is retried"
is "$(nreq /graph.instagram.com/v25.0/me GET)" "2" "once"
clear_requests
ERRS=$(sq "SELECT error_count FROM accounts WHERE external_id = '$MARCO'")
simctl POST /_sim/inject '{"match":"/me","method":"GET","count":5,"status":500}' >/dev/null
IGKIT_HTTP_RETRIES=1 run ig-connect test @marco_energia
is_rc 75 "5xx that persists: 75"
like "$err" "gave up after 2 attempts" "says how often it tried"
is "$(nreq /graph.instagram.com/v25.0/me GET)" "2" "1 + http_retries requests"
simctl DELETE /_sim/inject >/dev/null
is "$(sq "SELECT status || '/' || error_count FROM accounts WHERE external_id = '$MARCO'")" "active/$((ERRS + 1))" "a temporary failure keeps the status, counts the error"
clear_requests
simctl POST /_sim/inject '{"match":"/me","method":"GET","count":1,"hang":3}' >/dev/null
IGKIT_HTTP_TIMEOUT=0.5 IGKIT_HTTP_RETRIES=0 run ig-connect test @marco_energia
is_rc 75 "a hang past http_timeout: 75"
like "$err" "timed out" "says it timed out"
clear_requests
simctl POST /_sim/inject '{"match":"/me","method":"GET","count":1,"code":100,"message":"Invalid parameter"}' >/dev/null
run ig-connect test @marco_energia
is_rc 69 "code 100: 69"
like "$err" "graph: \(#100\) Invalid parameter \[fbtrace " "Graph code, message and fbtrace id"
is "$(nreq /graph.instagram.com/v25.0/me GET)" "1" "not retried"
clear_requests
simctl POST /_sim/inject '{"match":"/me","method":"GET","count":1,"code":80002,"eta":45}' >/dev/null
run ig-connect test @marco_energia
is_rc 75 "rate limited for 45 minutes: 75 at once"
like "$err" "rate limited: retry after 45 min \(20[0-9-]+T[0-9:]+Z\)" "says when to retry"
clear_requests
simctl POST /_sim/inject '{"match":"/me","method":"GET","count":1,"code":80002,"eta":45,"buc_objects":32}' >/dev/null
run ig-connect test @marco_energia
is_rc 75 "a BUC header of 32 objects (over 4 KB)"
like "$err" "rate limited: retry after 45 min" "…is read, not dropped"
is "$(nreq /graph.instagram.com/v25.0/me GET)" "1" "without waiting or retrying"
run ig-connect test @marco_energia
is_rc 0 "an error clears with the next success"
is "$(sq "SELECT status || '/' || coalesce(last_error, '-') FROM accounts WHERE external_id = '$MARCO'")" "active/-" "status active, last error cleared"

# ---------------------------------------------------------------- subscribe, doctor
run ig-connect subscribe --tenant rossi
is_rc 0 "subscribe every account of a tenant"
is "$(printf '%s\n' "$out" | grep -c '"subscribed":true')" "2" "both accounts"
like "$(simctl GET /_sim/subscriptions)" "\"page\", \"id\": \"$PAGE1\"|\"object\":\"page\",\"id\":\"$PAGE1\"|\"object\": \"page\", \"id\": \"$PAGE1\"" "the Page is subscribed at the simulator"
is "$(sq "SELECT subscribed_fields FROM accounts WHERE external_id = '$MARCO'")" "comments,live_comments,messages,message_reactions,messaging_postbacks,messaging_seen,messaging_referral,message_edit,messaging_optins,messaging_handover,standby" "Instagram fields recorded, standby and handover included"
like "$(curl -sS "$SIM/_sim/requests?path=/$PAGE1/subscribed_apps&method=POST" | jget 0.query.subscribed_fields)" \
	'messaging_handovers,standby' "the Page subscribes standby and messaging_handovers (the thread-owner logic's input)"
is "$(nreq /$PAGE1/subscribed_apps POST)" "1" "FB: POST /{page}/subscribed_apps"
run ig-connect doctor --tenant rossi
is_rc 0 "doctor: all healthy"
is "$(printf '%s\n' "$out" | grep -c '"ok":true')" "2" "two healthy accounts"
run ig-connect doctor --tenant rossi --format table
is_rc 0 "doctor --format table, all healthy"
is "$out" "" "the problems-only view is empty"
run ig-connect subscribe --tenant rossi --format csv
like "$(printf '%s\n' "$out" | sed -n 2p)" ',"comments,live_comments,messages,' "subscribe --format csv: the field list is one quoted cell"
ROSSI_PAGE_TOKEN=$(simctl GET "/_sim/tokens?account=$PAGE1" | "$PYTHON3" -c 'import json,sys
print([t["token"] for t in json.load(sys.stdin) if t["kind"]=="page"][0])')
curl -s -X DELETE -H "Authorization: Bearer $ROSSI_PAGE_TOKEN" "$SIM/graph.facebook.com/v25.0/$PAGE1/subscribed_apps" >/dev/null
run ig-connect doctor $PAGE1
is_rc 78 "doctor: a missing subscription needs a fix (78)"
like "$out" "not subscribed to webhooks: run 'ig-connect subscribe $ROSSI_IG'" "and says which"
like "$err" "^ig-connect: tenant 'rossi', account $ROSSI_IG: needs attention: not subscribed to webhooks" "stderr: who, then the reason"
is "$(printf '%s' "$err" | grep -o "$ROSSI_IG" | wc -l | tr -d ' ')" "2" "…the id once, plus once in the hint to run"
run ig-connect doctor --tenant rossi --format table
is_rc 78 "doctor --format table with a problem: 78"
is "$(printf '%s\n' "$out" | head -1 | awk '{print $1, $2, $3}')" "tenant account problem" "a compact header"
is "$(printf '%s\n' "$out" | grep -c "^rossi *$ROSSI_IG ")" "1" "one row, for the account with the problem only"
is "$(printf '%s\n' "$out" | awk '{ if (length($0) > w) w = length($0) } END { print (w <= 100) }')" "1" "every line fits 100 columns"

# ---------------------------------------------------------------- refresh
run ig-connect refresh --tenant rossi
is_rc 0 "refresh: nothing due"
is "$(printf '%s\n' "$out" | head -1 | jget result)" "not_due" "a new token is not due"
is "$(printf '%s\n' "$out" | sed -n 2p | jget result)" "valid" "a Page token is validated"
OLD_BLOB=$(sq "SELECT hex(access_token) FROM accounts WHERE external_id = '$MARCO'")
simctl POST /_sim/clock '{"advance":90000}' >/dev/null
IGKIT_NOW=$(( $(date +%s) + 90000 )) run ig-connect refresh $MARCO --within 60
is_rc 0 "refresh after 25 h"
is "$(field result)" "refreshed" "the token was refreshed"
is "$(nreq /refresh_access_token GET)" "1" "with ig_refresh_token"
unlike "$(sq "SELECT hex(access_token) FROM accounts WHERE external_id = '$MARCO'")" "^$OLD_BLOB\$" "a new sealed token is stored"
simctl POST /_sim/token '{"account":"'$SARA'","action":"revoke"}' >/dev/null
IGKIT_NOW=$(( $(date +%s) + 90000 )) run ig-connect refresh --tenant bianchi --within 60
is_rc 77 "refresh of a revoked token: 77"
is "$(field result)" "needs_reauth" "reported as needs_reauth"
is "$(sq "SELECT status FROM accounts WHERE external_id = '$SARA'")" "needs_reauth" "and marked so"
is "$(sq "SELECT outcome FROM audit_log WHERE action = 'token.refresh' ORDER BY id DESC LIMIT 1")" "failed" "the failure is audited"

run ig-connect refresh --tenant bianchi
is_rc 77 "refresh of an account needing re-login: 77, not 'not_due'"
is "$(field result)" "needs_reauth" "…reported as needs_reauth"
like "$err" "tenant 'bianchi', account $SARA: needs re-login" "…stderr names tenant and account"

# ---------------------------------------------------------------- 190: token revoked
simctl POST /_sim/token '{"account":"'$MARCO'","action":"expire"}' >/dev/null
run ig-connect test @marco_energia
is_rc 77 "an expired token: 77"
like "$err" "graph: \(#190/463\) Error validating access token" "names 190 and the subcode"
is "$(sq "SELECT status FROM accounts WHERE external_id = '$MARCO'")" "needs_reauth" "account needs re-authorisation"
run ig-connect doctor @marco_energia
is_rc 77 "doctor: 77 for a dead token"
simctl POST /_sim/token '{"account":"'$MARCO'","action":"restore"}' >/dev/null

# ---------------------------------------------------------------- add
TOK=$(simctl POST /_sim/token '{"action":"issue","account":"'$SARA'"}' | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["token"]["token"])')
run_in "$TOK" ig-connect add --tenant bianchi
is_rc 0 "add: reconnect from a token on stdin"
is "$(field account)/$(field status)/$(field reconnected)" "$SARA/active/True" "the account is active again"
run_in "IGAAnotatoken0000000000" ig-connect add --tenant bianchi
is_rc 77 "add with an invalid token: 77"
TOK=$(simctl POST /_sim/token '{"action":"issue","account":"'$MARCO'"}' | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["token"]["token"])')
run_in "$TOK" ig-connect add --tenant rossi --agent marco
is "$(field account)/$(field agent)/$(field status)" "$MARCO/marco/active" "add: marco back with a fresh token"

# ---------------------------------------------------------------- move
run ig-connect move @sara_ascolta --to-tenant rossi
is_rc 0 "move"
is "$(field tenant)/$(field agent)" "rossi/" "now rossi's, default agent"
is "$(sq "SELECT count(*) FROM audit_log WHERE action = 'account.move'")" "2" "audited in both tenants"
run ig-connect move @sara_ascolta --to-tenant rossi
is_rc 65 "move to its own tenant: 65"

# ---------------------------------------------------------------- permissions
tenant-admin user add vera@rossi.it --tenant rossi --role viewer >/dev/null 2>&1
VERA=$(tenant-admin key create vera@rossi.it --tenant rossi 2>/dev/null | jget key)
IGKIT_API_KEY=$VERA run ig-connect list
is_rc 0 "a viewer may list"
unlike "$out" "\"tenant\":\"bianchi\"" "only its own tenant"
IGKIT_API_KEY=$VERA run ig-connect url --tenant rossi
is_rc 77 "a viewer may not connect"
like "$err" "permission denied: role 'viewer' may not change accounts in tenant 'rossi'" "says why"
IGKIT_API_KEY=$VERA run ig-connect list --tenant bianchi
is_rc 77 "nor look into another tenant"
IGKIT_API_KEY=$VERA run ig-connect move @sara_ascolta --to-tenant bianchi
is_rc 77 "move needs a super admin"

# ---------------------------------------------------------------- rekey
head -c 32 /dev/urandom > "$T/new.key"; chmod 600 "$T/new.key"
run ig-connect rekey --new-key-file "$T/new.key"
is_rc 0 "rekey"
is "$(field resealed)" "$(sq "SELECT count(*) FROM accounts WHERE access_token IS NOT NULL")" "every token re-sealed"
run ig-connect test @marco_energia
is_rc 78 "the old key alone no longer opens them"
IGKIT_MASTER_KEY_FILE="$T/new.key" IGKIT_PREVIOUS_KEY_FILE="$KEYFILE" run ig-connect test @marco_energia
is_rc 0 "after the swap the new key opens them"
run ig-connect rekey --new-key-file "$T/missing.key"
is_rc 66 "rekey with a missing key file: 66"
mv "$KEYFILE" "$T/old.key"; cp -p "$T/new.key" "$KEYFILE"

# ---------------------------------------------------------------- deauthorize
# The simulator's clock runs ahead by now; its signed_request carries its time.
export IGKIT_NOW=$(simctl GET /_sim/clock | jget now)
SR=$(simctl POST /_sim/deauthorize '{"user":"'$SARA'"}' | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["signed_request"])')
run_in "signed_request=${SR}%00tail" ig-connect deauthorize
is_rc 65 "a form value with an escaped NUL is refused, not cut at the NUL"
like "$err" "no signed_request in the input" "…the one form decoder (lib/cgi.h) skips the pair"
run_in "signed_request=${SR%?}x" ig-connect deauthorize
is_rc 65 "deauthorize with a bad signature: 65"
like "$err" "signed_request signature does not verify" "says so"
BAD_ALG=$(signed_request sim-ig-app-secret '{"algorithm":"HMAC-SHA1","user_id":"1"}')
run_in "$BAD_ALG" ig-connect deauthorize
is_rc 65 "another algorithm: 65"
like "$err" "algorithm 'HMAC-SHA1' is not HMAC-SHA256" "names it"
# issued_at (reference §8): a replay of an old request, or one from the future
STALE=$(signed_request sim-app-secret '{"algorithm":"HMAC-SHA256","issued_at":'$((IGKIT_NOW - 86400 - 60))',"user_id":"'$SARA'"}')
run_in "signed_request=$STALE" ig-connect deauthorize
is_rc 65 "a signed_request issued over 24 h ago: 65"
like "$err" "more than 24 h ago: refused as a replay" "…says why"
FUTURE=$(signed_request sim-app-secret '{"algorithm":"HMAC-SHA256","issued_at":'$((IGKIT_NOW + 600))',"user_id":"'$SARA'"}')
run_in "signed_request=$FUTURE" ig-connect deauthorize
is_rc 65 "one issued 10 min in the future: 65"
like "$err" "in the future: check this machine's clock" "…says why"
NOAT=$(signed_request sim-app-secret '{"algorithm":"HMAC-SHA256","user_id":"'$SARA'"}')
run_in "signed_request=$NOAT" ig-connect deauthorize
is_rc 65 "one without issued_at: 65"
is "$(sq "SELECT status FROM accounts WHERE external_id = '$SARA'")" "active" "…none of them touched the account"
# rotation: a request signed with the previous app secret still verifies
printf 'old-app-secret\n' > "$T/prev.secret"; chmod 600 "$T/prev.secret"
ROT=$(signed_request old-app-secret '{"algorithm":"HMAC-SHA256","issued_at":'$IGKIT_NOW',"user_id":"nobody-here"}')
run_in "signed_request=$ROT" ig-connect deauthorize
is_rc 65 "the previous secret is not tried unless configured"
IGKIT_PREVIOUS_APP_SECRET_FILE="$T/prev.secret" run_in "signed_request=$ROT" ig-connect deauthorize
is_rc 0 "with previous_app_secret_file set, a request signed with the old secret verifies"
run_in "signed_request=$SR" ig-connect deauthorize
is_rc 0 "deauthorize"
is "$(sq "SELECT status || '/' || typeof(access_token) FROM accounts WHERE external_id = '$SARA'")" "disconnected/null" "account disconnected, token dropped"
is "$(sq "SELECT actor FROM audit_log WHERE action = 'account.deauthorize'")" "meta" "audited as meta"
body="signed_request=${SR%?}x"
out=$(printf '%s' "$body" | REQUEST_METHOD=POST CONTENT_LENGTH=${#body} ig-connect deauthorize 2>/dev/null) && rc=0 || rc=$?
is "$rc" "65" "CGI: bad signature exits 65"
like "$out" "^Status: 403" "CGI: answers 403"

# ---------------------------------------------------------------- data deletion
SR=$(signed_request sim-app-secret '{"algorithm":"HMAC-SHA256","issued_at":'$IGKIT_NOW',"user_id":"'$FB_USER'"}')
run_in "signed_request=$SR" ig-connect data-deletion
is_rc 78 "data-deletion without data_deletion_url: 78"
export IGKIT_DATA_DELETION_URL=https://example.test/deletion
sq "INSERT INTO conversations(tenant_id, account_id, participant_id, created_at, updated_at)
    SELECT tenant_id, id, '$FB_USER', 1, 1 FROM accounts WHERE external_id = '$SARA'"
body="signed_request=$SR"
out=$(printf '%s' "$body" | REQUEST_METHOD=POST CONTENT_LENGTH=${#body} ig-connect data-deletion 2>"$T/.stderr") && rc=0 || rc=$?
is "$rc" "0" "CGI data-deletion"
like "$out" "^Status: 200 OK" "CGI: 200"
DEL_CODE=$(printf '%s' "$out" | tail -1 | jget confirmation_code)
like "$DEL_CODE" '^[A-Za-z0-9]{16}$' "the confirmation code is alphanumeric (reference §8)"
is "$(printf '%s' "$out" | tail -1 | jget url)" "https://example.test/deletion?id=$DEL_CODE" "answers {url, confirmation_code}"
is "$(sq "SELECT count(*) FROM accounts WHERE external_id = '$ROSSI_IG'")" "0" "the Facebook user's account is erased"
is "$(sq "SELECT count(*) FROM conversations WHERE participant_id = '$FB_USER'")" "0" "and the same person as a participant elsewhere"
run ig-connect deletion-status "$DEL_CODE"
is "$(field status)/$(field accounts_erased)" "completed/1" "deletion-status shows it"
run ig-connect deletion-status nope
is_rc 65 "unknown confirmation code: 65"

# ---------------------------------------------------------------- disconnect
run ig-connect subscribe @marco_energia
run ig-connect disconnect @marco_energia
is_rc 0 "disconnect"
is "$(sq "SELECT status || '/' || typeof(access_token) FROM accounts WHERE external_id = '$MARCO'")" "disconnected/null" "tokens dropped, history kept"
is "$(nreq /graph.instagram.com/v25.0/me/subscribed_apps DELETE)" "1" "unsubscribed at Meta"
run ig-connect disconnect @marco_energia
is_rc 65 "disconnecting twice: 65"
run ig-connect test @marco_energia
is_rc 65 "testing a disconnected account: 65"
run ig-connect disconnect @marco_energia --erase
is_rc 0 "disconnect --erase"
is "$(sq "SELECT count(*) FROM accounts WHERE external_id = '$MARCO'")" "0" "the account is gone"
is "$(sq "SELECT count(*) FROM audit_log WHERE action IN ('account.disconnect','account.erase') AND target = '$MARCO'")" "2" "both audited"


# ---------------------------------------------------------------- issue 10: connecting
# A local configuration error during the callback does not spend the state.
simctl POST /_sim/consent '{"as":"'$SARA'"}' >/dev/null
run ig-connect url --tenant rossi
ST=$(field state)
REDIR=$(browse "$(field url)")
chmod 644 "$T/ig-app.secret"
run_in "$REDIR" ig-connect callback
is_rc 77 "callback with an app secret readable by others: 77 (lib/secret.c's code)"
like "$err" "the OAuth state is kept" "…says the state is kept"
is "$(sq "SELECT coalesce(used_at, 'unused') FROM oauth_states WHERE nonce = '${ST%%.*}'")" "unused" "…the single-use state is not spent"
chmod 600 "$T/ig-app.secret"
run_in "$REDIR" ig-connect callback
is_rc 0 "once fixed, the same redirect connects"
# The Instagram dialog is on www.instagram.com only (reference §7.1).
IGKIT_WWW_INSTAGRAM_URL=https://api.instagram.com run ig-connect url --tenant rossi
is_rc 78 "www_instagram_url on api.instagram.com: 78"
like "$err" "www.instagram.com only" "…says where the dialog is"

# A tenant's key does not learn which tenant holds an account.
tenant-admin user add olga@bianchi.it --tenant bianchi --role org_admin >/dev/null 2>&1
OLGA=$(tenant-admin key create olga@bianchi.it --tenant bianchi 2>/dev/null | jget key)
TOK=$(simctl POST /_sim/token '{"action":"issue","account":"'$SARA'"}' | jget token.token)
IGKIT_API_KEY=$OLGA run_in "$TOK" ig-connect add --tenant bianchi
is_rc 65 "add with a token of another tenant's account: 65"
like "$err" "already connected to another tenant" "…says so"
unlike "$err$out" "rossi" "…without naming the other tenant"
run_in "$TOK" ig-connect add --tenant bianchi
like "$err" "already connected to tenant 'rossi'" "the store owner is told which tenant"

# A Page token: no tasks on the Page node (reference §7.2; Meta answers #100).
clear_requests
PTOK=$(simctl POST /_sim/token '{"action":"issue","account":"'$PAGE1'"}' | jget token.token)
run_in "$PTOK" ig-connect add --tenant rossi --flavour facebook
is_rc 0 "add with a Page token"
is "$(field account)/$(field page_id)" "$ROSSI_IG/$PAGE1" "…the Page's Instagram account"
unlike "$(simctl GET "/_sim/requests?path=/graph.facebook.com/v25.0/me&method=GET")" 'tasks' "…asked the Page node for no tasks"

# Messenger on purpose: --channel messenger.
run ig-connect url --tenant bianchi --channel messenger
is_rc 64 "--channel messenger with Instagram Login: 64"
like "$err" "needs Facebook Login" "…says why"
run ig-connect url --tenant bianchi --flavour facebook --channel whatsapp
is_rc 64 "an unknown channel: 64"
simctl POST /_sim/consent '{"as":"'$FB_USER'"}' >/dev/null
run ig-connect url --tenant bianchi --flavour facebook --channel messenger
is_rc 0 "url --channel messenger"
is "$(field channel)" "messenger" "…the state is for Messenger"
like "$(field url)" "scope=pages_show_list%2Cpages_manage_metadata%2Cpages_messaging" "…asking the Page scopes"
clear_requests
run_in "$(browse "$(field url)")" ig-connect callback
is_rc 0 "Messenger callback"
is "$(sq "SELECT group_concat(external_id || '=' || page_id || '/' || flavour, ' ') FROM accounts WHERE channel = 'messenger' ORDER BY external_id")" \
	"$PAGE1=$PAGE1/facebook $PAGE2=$PAGE2/facebook" "…each Page the user manages is a Messenger account (external_id = Page id)"
like "$(simctl GET "/_sim/requests?path=/me/accounts&method=GET")" 'tasks' "…tasks read from the /me/accounts edge"
run ig-connect test $PAGE2
is_rc 0 "test a Messenger account (the Page node)"
is "$(field name)" "No IG Page" "…its Page name"
run ig-connect subscribe $PAGE2
is_rc 0 "subscribe a Messenger account"
like "$(field subscribed_fields)" '"messaging_handovers", "standby"|"messaging_handovers","standby"' "…with standby and handovers"
run ig-connect doctor $PAGE2
is_rc 0 "doctor: a Messenger account needs no Instagram link"
PTOK2=$(simctl POST /_sim/token '{"action":"issue","account":"'$PAGE2'"}' | jget token.token)
run_in "$PTOK2" ig-connect add --tenant bianchi --flavour facebook --channel messenger
is_rc 0 "add --channel messenger with a Page token"
is "$(field account)/$(field channel)" "$PAGE2/messenger" "…reconnects the Messenger account"
is "$(sq "SELECT count(*) FROM accounts WHERE channel = 'messenger'")" "2" "…no second row"
run ig-connect test $PAGE1
is_rc 0 "a Page id names its Messenger account before the Instagram account it links"
is "$(field account)/$(field tenant)" "$PAGE1/bianchi" "…the Messenger account"
run ig-connect test $ROSSI_IG
is "$(field account)/$(field tenant)" "$ROSSI_IG/rossi" "…the Instagram account by its own id"

# ---------------------------------------------------------------- the key's own tenant by default
run ig-connect list
unlike "$out" '[(](default|sealed|unreadable)[)]' "list shows no display placeholders"
tenant-admin user add olga@rossi.it --tenant rossi --role org_admin >/dev/null 2>&1
OLGA=$(tenant-admin key create olga@rossi.it --tenant rossi 2>/dev/null | jget key)
IGKIT_API_KEY=$OLGA run ig-connect url
is_rc 0 "url without --tenant: the key's own tenant"
like "$(field url)" '/oauth/authorize[?].*&state=' "…an authorisation URL"
IGKIT_API_KEY=$VERA run_in "x" ig-connect add
is_rc 77 "add without --tenant acts on the key's tenant (a viewer may not)"
like "$err" "in tenant 'rossi'" "…and names it"
run ig-connect url
is_rc 64 "a super admin must still name the tenant"
like "$err" "which tenant" "…says so"

done_testing
