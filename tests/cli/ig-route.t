#!/bin/bash
# ig-route: webhook intake in pipe mode and as a CGI program behind lighttpd.
. "${top_srcdir:-.}/tests/lib.sh"
# a version manager's shim can cost half a second per start: resolve it once
PYTHON3=$("$PYTHON3" -c 'import sys; print(sys.executable)')

FX="$top_srcdir/tests/fixtures/webhooks"
IG=17841458213306627      # rossi's Instagram account, own agent marco
PAGE=108452917735209      # rossi's Messenger Page, no agent: default giulia
IG2=17841400123456789     # bianchi's Instagram account, connected later

# ------------------------------------------------------------ helpers
cat > "$T/wh.py" <<'EOF'
import hashlib, hmac, json, sys
def compact(path):
    return json.dumps(json.load(open(path)), separators=(",", ":"))
def sig(body, secret, algo="sha256"):
    h = hashlib.sha256 if algo == "sha256" else hashlib.sha1
    return algo + "=" + hmac.new(secret.encode(), body.encode(), h).hexdigest()
cmd = sys.argv[1]
if cmd == "compact":            # compact FILE
    sys.stdout.write(compact(sys.argv[2]))
elif cmd == "sig":              # sig SECRET [sha1] < body
    sys.stdout.write(sig(sys.stdin.read(), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "sha256"))
elif cmd == "envelopes":        # envelopes SECRET FILE...: one signed envelope per file
    for p in sys.argv[3:]:
        b = compact(p)
        print(json.dumps({"headers": {"x-hub-signature-256": sig(b, sys.argv[2])}, "body": b}))
elif cmd == "many":             # many SECRET N FIRST ACCOUNT: N one-message deliveries
    secret, n, first, acct = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    for i in range(first, first + n):
        b = json.dumps({"object": "instagram", "entry": [{"id": acct, "time": 1770112845000 + i,
            "messaging": [{"sender": {"id": "9%05d" % (i % 50)}, "recipient": {"id": acct},
                           "timestamp": 1770112845000 + i, "message": {"mid": "mid-%d" % i, "text": "hello %d" % i}}]}]},
            separators=(",", ":"))
        print(json.dumps({"headers": {"X-Hub-Signature-256": sig(b, secret)}, "body": b}))
elif cmd == "field":            # field KEY < JSON Lines: that field of every line
    for l in sys.stdin:
        if l.strip():
            v = json.loads(l)
            for k in sys.argv[2].split("."):
                v = v.get(k) if isinstance(v, dict) else None
            print("" if v is None else v)
EOF
wh() { "$PYTHON3" "$T/wh.py" "$@"; }
body_of() { wh compact "$FX/$1.json"; }
sign() { # BODY [SECRET] [sha1]: the X-Hub-Signature(-256) value, over the exact bytes
	local algo=${3:-sha256}
	printf '%s=%s' "$algo" "$(printf '%s' "$1" | openssl dgst "-$algo" -hmac "${2:-app-secret}" | sed 's/^.*= //')"
}
# run with a file on stdin
run_file() {
	local f=$1
	shift
	_last_cmd="$* < $f"
	out=$("$@" < "$f" 2>"$T/.stderr") && rc=0 || rc=$?
	err=$(cat "$T/.stderr")
}
# route a fixture in pipe mode, signed with the app secret
route() { # FIXTURE [options]
	local f=$1 b
	shift
	b=$(body_of "$f")
	run_in "$b" ig-route --signature "$(sign "$b")" "$@"
}
types() { printf '%s\n' "$1" | wh field type | tr '\n' ' ' | sed 's/ $//'; }
field() { printf '%s\n' "$1" | wh field "$2" | tr '\n' ' ' | sed 's/ $//'; }

printf 'app-secret\n' > "$T/app.secret"
printf 'ig-app-secret\n' > "$T/ig.secret"
printf 'old-secret\n' > "$T/old.secret"
printf 'verify-me\n' > "$T/verify.token"
chmod 600 "$T"/*.secret "$T/verify.token"
export IGKIT_APP_SECRET_FILE="$T/app.secret" IGKIT_APP_ID=555000111

# ------------------------------------------------------------ set-up
# DESIGN.md §10: the intake, one process per delivery in CGI mode, loads
# neither libcurl nor libcrypto (lib/secret.c does its HMAC)
if command -v ldd >/dev/null; then
	unlike "$(ldd "$top_builddir/ig-route")" "libcurl|libcrypto" "ig-route loads neither libcurl nor libcrypto"
else
	skip "no ldd"
fi
run tenant-admin init
is_rc 0 "tenant-admin init creates the store"
tenant-admin -q tenant create rossi --name "Pizzeria Rossi" >/dev/null
tenant-admin -q tenant create bianchi --name "Bianchi" >/dev/null
tenant-admin -q --tenant rossi agent create giulia >/dev/null     # first agent: the default
tenant-admin -q --tenant rossi agent create marco >/dev/null
tenant-admin -q --tenant bianchi agent create luca >/dev/null
# accounts come from ig-connect (OAuth against the simulator); for routing a row is enough
sq "INSERT INTO accounts(tenant_id, agent_id, channel, flavour, external_id, username, created_at, updated_at)
    SELECT t.id, a.id, 'instagram', 'instagram', '$IG', 'pizzeriarossi', 0, 0 FROM tenants t JOIN agents a
    ON a.tenant_id = t.id AND a.name = 'marco' WHERE t.slug = 'rossi';
    INSERT INTO accounts(tenant_id, channel, flavour, external_id, page_id, created_at, updated_at)
    SELECT id, 'messenger', 'facebook', '$PAGE', '$PAGE', 0, 0 FROM tenants WHERE slug = 'rossi';"
is "$(sq "SELECT name FROM agents WHERE is_default = 1 AND tenant_id = (SELECT id FROM tenants WHERE slug='rossi')")" \
	giulia "giulia is rossi's default agent"

# ------------------------------------------------------------ usage
run ig-route --help
is_rc 0 "--help exits 0"
like "$out" '--envelopes' "--help lists --envelopes"
like "$out" '--no-verify' "--help lists --no-verify"
run ig-route frobnicate
is_rc 64 "unknown command is a usage error"
like "$err" "^ig-route: unknown command 'frobnicate'" "…with the command quoted"
run ig-route --batch 0
is_rc 64 "--batch 0 refused"
run ig-route --signature nonsense
is_rc 64 "--signature without sha256= refused"
run ig-route --envelopes --raw
is_rc 64 "--envelopes and --raw exclude each other"
run ig-route dead --status weird
is_rc 64 "dead --status checks its value"

# ------------------------------------------------------------ every fixture kind, pipe mode (raw body + --signature)
route ig_message_text
is_rc 0 "text message routed"
is "$(types "$out")" "message" "one message event"
is "$(printf '%s' "$out" | jget tenant)/$(printf '%s' "$out" | jget agent)" "rossi/marco" "own agent marco"
is "$(printf '%s' "$out" | jget text)" "Hi! Do you ship to Lisbon?" "text kept"
is "$(printf '%s' "$out" | jget at)" "2026-02-03T10:00:45Z" "ms timestamp as ISO-8601"
is "$(printf '%s' "$out" | jget ai)" "active" "AI state carried"
like "$out" '"conversation":[0-9]+' "conversation id carried"
is "$(sq "SELECT status, sig_status, source FROM deliveries ORDER BY id DESC LIMIT 1")" "processed|valid|pipe" \
	"raw delivery stored, signature valid, processed"

route ig_message_attachments
is "$(printf '%s' "$out" | jget attachments.2.type)" "audio" "three attachments normalised"
route ig_story_mention
is "$(printf '%s' "$out" | jget kind)/$(printf '%s' "$out" | jget attachments.0.type)" "story_mention/story_mention" "story mention"
route ig_story_reply
is "$(printf '%s' "$out" | jget kind)/$(printf '%s' "$out" | jget reply_to.story.id)" "story_reply/18011223344556677" "story reply with its story"
route ig_share_post
is "$(printf '%s' "$out" | jget attachments)" \
	'[{"type": "ig_post", "url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17912345678901234&signature=AbShArE1", "title": "New spring collection is here", "media_id": "17912345678901234"}]' \
	"post share: ig_post kept, legacy share dropped"
route ig_quick_reply
is "$(printf '%s' "$out" | jget quick_reply)" "QR_TRACK_ORDER" "quick reply payload"
route ig_reaction
is "$(types "$out")" "reaction reaction" "react and unreact"
is "$(field "$out" action)" "react unreact" "reaction actions"
route ig_read
is "$(types "$out")" "read" "read receipt"
route ig_postback
is "$(printf '%s' "$out" | jget type)/$(printf '%s' "$out" | jget payload)" "postback/ICEBREAKER_HOURS" "postback"
is "$(sq "SELECT kind, text FROM messages WHERE mid LIKE '%Njc10AZDZD'")" "postback|See opening hours" "postback stored as a message"
route ig_referral
is "$(types "$out")" "referral message" "referral event and a message with an ad referral"
is "$(printf '%s' "$out" | sed -n 2p | jget referral.ad_id)" "120210987654321098" "ad context kept on the message"
is "$(sq "SELECT json_extract(referral, '$.ref') FROM conversations WHERE participant_id = '2938475610293847'")" \
	"ctd_spring" "conversation remembers the last referral"
route ig_message_edit
is "$(types "$out")" "edit" "edit"
is "$(sq "SELECT text, edit_count FROM messages WHERE mid LIKE '%Njc1AZDZD'")" "Hi! Do you ship to Porto?|1" "edit updates the text"
is "$(sq "SELECT old_text, new_text FROM message_edits")" "Hi! Do you ship to Lisbon?|Hi! Do you ship to Porto?" "edit history kept"
route ig_deleted
is "$(types "$out")" "delete" "delete"
is "$(sq "SELECT deleted FROM messages WHERE mid LIKE '%Njc1AZDZD'")" "1" "message marked deleted"
route ig_comment
is "$(types "$out")" "comment comment" "two comments"
is "$(sq "SELECT count(*), sum(own) FROM comments WHERE field = 'comments'")" "2|1" "comments stored, the business's own reply marked"
route ig_live_comment
is "$(printf '%s' "$out" | jget field)/$(printf '%s' "$out" | jget agent)" "live_comments/marco" "live comment routed to the agent"
route ig_story_insights
is "$(printf '%s' "$out" | jget type)/$(printf '%s' "$out" | jget metrics.reach)" "story_insights/640" "story insights"
route page_message
is "$(printf '%s' "$out" | jget agent)" "giulia" "no agent of its own: tenant default giulia"
route page_feed_comment
is "$(printf '%s' "$out" | jget field)/$(printf '%s' "$out" | jget verb)" "feed/add" "Page feed comment"
is "$(sq "SELECT from_username FROM comments WHERE field = 'feed'")" "Maria Silva" "feed comment stored"
route standby
is "$(printf '%s' "$out" | jget standby)/$(printf '%s' "$out" | jget thread_owner)" "True/unknown" "standby: another app owns the thread"
is "$(sq "SELECT thread_owner FROM conversations WHERE participant_id = '6823049917345561'")" "unknown" "thread ownership recorded"
route ig_echo
is "$(printf '%s' "$out" | jget type)/$(printf '%s' "$out" | jget sender)/$(printf '%s' "$out" | jget ai)" "echo/human/paused" \
	"echo not from our outbox: a human replied, AI paused"
is "$(sq "SELECT ai_state, ai_reason, last_human_at IS NOT NULL FROM conversations WHERE participant_id = '7341092865519203'")" \
	"paused|human reply|1" "conversation paused with the reason, last_human_at set"

# unknown account: dead letters, never guessed
route multi_entry_batch
is_rc 65 "unroutable events make the run exit 65"
is "$(types "$out")" "message message message message" "the four routable events still come out"
like "$err" "unknown account '$IG2'" "the unknown account is reported"
is "$(sq "SELECT count(*) FROM dead_letters WHERE status = 'open' AND account_ref = '$IG2'")" "3" "three dead letters"
is "$(sq "SELECT status FROM deliveries ORDER BY id DESC LIMIT 1")" "partial" "the delivery is partial"
is "$(printf '%s' "$out" | sed -n 4p | jget kind)" "unsupported" "is_unsupported kept as an unsupported attachment"

# ------------------------------------------------------------ counters
is "$(sq "SELECT message_count, user_count, last_synced_at IS NOT NULL FROM accounts WHERE external_id = '$IG'")" \
	"$(sq "SELECT count(*) FROM messages m JOIN accounts a ON a.id = m.account_id WHERE a.external_id = '$IG'")|2|1" \
	"account counters: messages, distinct participants, last synced"

# ------------------------------------------------------------ duplicates
before=$(sq "SELECT (SELECT count(*) FROM messages) || '/' || (SELECT count(*) FROM dead_letters) || '/' || (SELECT count(*) FROM comments) || '/' || (SELECT count(*) FROM event_keys)")
for f in ig_message_text ig_reaction ig_comment multi_entry_batch ig_echo; do
	route $f
	is "$rc:$out" "0:" "redelivered $f: nothing emitted, exit 0"
done
is "$(sq "SELECT (SELECT count(*) FROM messages) || '/' || (SELECT count(*) FROM dead_letters) || '/' || (SELECT count(*) FROM comments) || '/' || (SELECT count(*) FROM event_keys)")" \
	"$before" "redeliveries change nothing"

# ten events of which three are new: exactly those three
wh many app-secret 7 100 $IG > "$T/seven.jsonl"
run_file "$T/seven.jsonl" ig-route
is "$rc/$(printf '%s\n' "$out" | grep -c mid-)" "0/7" "seven new deliveries routed"
"$PYTHON3" - "$T" "$IG" <<'EOF'
import hashlib, hmac, json, sys
t, acct = sys.argv[1], sys.argv[2]
ev = [{"sender": {"id": "9%05d" % (i % 50)}, "recipient": {"id": acct}, "timestamp": 1770112845000 + i,
       "message": {"mid": "mid-%d" % i, "text": "hello %d" % i}} for i in range(100, 110)]
b = json.dumps({"object": "instagram", "entry": [{"id": acct, "time": 1770112900000, "messaging": ev}]}, separators=(",", ":"))
open(t + "/ten.body", "w").write(b)
EOF
run_file "$T/ten.body" ig-route --signature "$(wh sig app-secret < "$T/ten.body")"
is "$rc:$(field "$out" mid)" "0:mid-107 mid-108 mid-109" "a delivery of ten events with three new yields exactly those three"

# ------------------------------------------------------------ envelopes: both modes give the same events
all="ig_message_text ig_message_attachments ig_story_mention ig_story_reply ig_share_post ig_quick_reply ig_reaction ig_read ig_postback ig_referral ig_message_edit ig_deleted ig_comment ig_live_comment ig_story_insights page_message page_feed_comment standby ig_echo"
export IGKIT_DB="$T/second.db"
tenant-admin -q init >/dev/null
tenant-admin -q tenant create rossi >/dev/null
tenant-admin -q --tenant rossi agent create giulia >/dev/null
tenant-admin -q --tenant rossi agent create marco >/dev/null
sq "INSERT INTO accounts(tenant_id, agent_id, channel, flavour, external_id, created_at, updated_at)
    VALUES (1, 2, 'instagram', 'instagram', '$IG', 0, 0);
    INSERT INTO accounts(tenant_id, channel, flavour, external_id, created_at, updated_at)
    VALUES (1, 'messenger', 'facebook', '$PAGE', 0, 0);"
(cd "$FX" && wh envelopes app-secret $(for f in $all; do printf '%s.json ' "$f"; done)) > "$T/all.jsonl"
run_file "$T/all.jsonl" ig-route
is_rc 0 "every fixture kind as an envelope stream (auto-detected)"
is "$(types "$out")" "message message message message message message reaction reaction read postback referral message edit delete comment comment comment story_insights message comment message echo" \
	"envelope mode yields every kind, in order"
env_out=$out
run_file "$T/all.jsonl" ig-route --envelopes
is "$rc:$out" "0:" "the same stream again (--envelopes): all duplicates"
export IGKIT_DB="$T/igkit.db"
# raw mode in a fresh store gives the same events as the envelope stream
export IGKIT_DB="$T/third.db"
cp "$T/second.db" "$T/third.db"
sq "DELETE FROM messages; DELETE FROM comments; DELETE FROM event_keys; DELETE FROM message_edits; DELETE FROM conversations; DELETE FROM deliveries;"
raw_types=""
for f in $all; do route $f; raw_types+="$(field "$out" type) "; done
is "${raw_types% }" "$(types "$env_out")" "raw mode and envelope mode route the same events"
export IGKIT_DB="$T/igkit.db"

# ------------------------------------------------------------ signatures
b=$(body_of ig_message_text | sed 's/Lisbon/Faro/; s/Njc1AZDZD/NjA1AZDZD/')
run_in "$b" ig-route --signature "$(sign "$b" wrong-secret)"
is_rc 65 "bad signature: exit 65"
like "$err" "rejected: bad signature: X-Hub-Signature-256 does not match the body" "bad signature reported"
is "$(sq "SELECT status || '/' || sig_status FROM deliveries ORDER BY id DESC LIMIT 1")" "rejected/invalid" "kept as a rejected delivery"
is "$(sq "SELECT count(*) FROM messages WHERE text = 'Hi! Do you ship to Faro?'")" "0" "nothing routed from it"
run_in "$b" ig-route --raw
is_rc 65 "missing signature: exit 65"
like "$err" "unsigned delivery: no X-Hub-Signature-256 header" "missing signature reported"
is "$(sq "SELECT sig_status FROM deliveries ORDER BY id DESC LIMIT 1")" "missing" "sig_status missing"
run_in "$b" ig-route --signature "$(sign "$b" app-secret sha1)"
is_rc 65 "SHA-1 refused unless legacy_sha1"
IGKIT_LEGACY_SHA1=yes run_in "$b" ig-route --signature "$(sign "$b" app-secret sha1)"
is_rc 0 "SHA-1 accepted with legacy_sha1=yes"
b2=$(printf '%s' "$b" | sed 's/NjA1AZDZD/NjA2AZDZD/')
export IGKIT_PREVIOUS_APP_SECRET_FILE="$T/old.secret"
IGKIT_WEBHOOK_SECRETS="app,previous_app" run_in "$b2" ig-route --signature "$(sign "$b2" old-secret)"
is_rc 0 "rotation: the previous app secret is accepted when listed"
b3=$(printf '%s' "$b" | sed 's/NjA1AZDZD/NjA3AZDZD/')
export IGKIT_IG_APP_SECRET_FILE="$T/ig.secret"
IGKIT_WEBHOOK_SECRETS="instagram:ig_app page:app" run_in "$b3" ig-route --signature "$(sign "$b3")"
is_rc 65 "per-object policy: instagram deliveries need the ig_app secret"
IGKIT_WEBHOOK_SECRETS="instagram:ig_app page:app" run_in "$b3" ig-route --signature "$(sign "$b3" ig-app-secret)"
is_rc 0 "…and pass with it"
IGKIT_WEBHOOK_SECRETS="bogus" run_in "$b3" ig-route --raw
is_rc 78 "a malformed webhook_secrets is a configuration error"
like "$err" "unknown secret 'bogus'" "…naming the bad secret"
unset IGKIT_PREVIOUS_APP_SECRET_FILE IGKIT_IG_APP_SECRET_FILE
IGKIT_APP_SECRET_FILE= run_in "$b3" ig-route --raw
is_rc 78 "no secret available: exit 78"
like "$err" "no webhook secret available: set app_secret_file, ig_app_secret_file" "…saying which settings to set"
b4=$(printf '%s' "$b" | sed 's/NjA1AZDZD/NjA4AZDZD/')
run_in "$b4" ig-route -q --no-verify
is_rc 0 "--no-verify routes unsigned fixtures"
like "$err" "warning: --no-verify: signatures are not checked" "--no-verify warns, even with -q"
is "$(sq "SELECT sig_status FROM deliveries ORDER BY id DESC LIMIT 1")" "unchecked" "sig_status unchecked"

# ------------------------------------------------------------ bad input
bad() { # NAME BODY WANT-ERR
	run_in "$2" ig-route --signature "$(sign "$2")"
	is_rc 65 "$1: exit 65"
	like "$err" "$3" "$1: message"
}
bad "malformed JSON" '{"object":"instagram","entry":[' "rejected: malformed delivery: invalid JSON"
is "$(sq "SELECT status FROM deliveries ORDER BY id DESC LIMIT 1")" "rejected" "malformed JSON kept as a rejected delivery"
bad "not an object" '[1,2]' "malformed delivery: the delivery is not a JSON object"
bad "missing entry" '{"object":"instagram"}' "malformed delivery: the delivery has no array 'entry'"
bad "invalid UTF-8" "$(printf '{"object":"instagram","entry":[{"id":"1","time":1,"messaging":[{"sender":{"id":"2"},"message":{"mid":"m","text":"\xff"}}]}]}')" \
	"malformed delivery: invalid JSON"
bad "deep nesting" "{\"object\":\"instagram\",\"entry\":$(printf '%*s' 5000 '' | tr ' ' '[')" "malformed delivery: invalid JSON"
bad "wrong types" "{\"object\":\"instagram\",\"entry\":[{\"id\":\"$IG\",\"time\":1,\"messaging\":[{\"sender\":{\"id\":\"5\"},\"recipient\":{\"id\":\"$IG\"},\"timestamp\":1,\"message\":{\"mid\":\"w1\",\"text\":42}}]}]}" \
	"invalid event: entry\[0\].messaging\[0\]: 'message.text' is not a string"
is "$(sq "SELECT reason FROM dead_letters ORDER BY id DESC LIMIT 1")" \
	"invalid event: entry[0].messaging[0]: 'message.text' is not a string" "the invalid event is a dead letter"
bad "missing mid" "{\"object\":\"instagram\",\"entry\":[{\"id\":\"$IG\",\"time\":1,\"messaging\":[{\"sender\":{\"id\":\"5\"},\"timestamp\":1,\"message\":{\"text\":\"x\"}},{\"sender\":{\"id\":\"5\"},\"recipient\":{\"id\":\"$IG\"},\"timestamp\":1,\"message\":{\"mid\":\"after-bad\",\"text\":\"next\"}}]}]}" \
	"'message.mid' is missing"
is "$(field "$out" mid)" "after-bad" "the event after a bad one is still routed"
big=$(body_of ig_message_text)
IGKIT_MAX_BODY=100 run_in "$big" ig-route --signature "$(sign "$big")"
is_rc 65 "oversized body: exit 65"
like "$err" "delivery larger than max_body \(100 bytes\)" "oversize reported"
is "$(sq "SELECT length(body), status FROM deliveries ORDER BY id DESC LIMIT 1")" "100|rejected" "its first max_body bytes kept, rejected"
IGKIT_MAX_BODY=lots run_in "$big" ig-route --raw
is_rc 78 "a bad max_body is a configuration error"

# a stream goes on after a bad record
good=$(wh many app-secret 1 500 $IG)
printf '%s\n' 'this is not json' '{"headers":{},"nobody":1}' "$good" '{"headers":{"X-Hub-Signature-256":"sha256=00"},"body":"{}"}' > "$T/mixed.jsonl"
run_file "$T/mixed.jsonl" ig-route --envelopes
is_rc 65 "a stream with bad records exits 65"
is "$(field "$out" mid)" "mid-500" "the good record in the middle is routed"
like "$err" "stdin:1: not an envelope: invalid JSON" "line 1 reported with its number"
like "$err" 'stdin:2: not an envelope: no string "body"' "line 2 reported"
like "$err" "stdin:4: delivery [0-9]+ rejected: bad signature" "line 4 reported"
is "$(sq "SELECT count(*) FROM dead_letters WHERE source = 'ig-route:input'")" "2" "non-envelopes kept as dead letters"

# an unknown kind is kept and reported, never fatal
uk="{\"object\":\"instagram\",\"entry\":[{\"id\":\"$IG\",\"time\":1,\"messaging\":[{\"sender\":{\"id\":\"5\"},\"recipient\":{\"id\":\"$IG\"},\"timestamp\":7,\"game_play\":{\"score\":1}}]}]}"
run_in "$uk" ig-route --signature "$(sign "$uk")"
is_rc 0 "unknown event kind: exit 0"
like "$err" "warning: delivery [0-9]+: entry\[0\].messaging\[0\]: unknown event kind 'game_play', kept as dead letter" "…reported"

# ------------------------------------------------------------ explain
before=$(sq "SELECT (SELECT count(*) FROM messages) || (SELECT count(*) FROM deliveries) || (SELECT count(*) FROM dead_letters) || (SELECT total_changes())")
run ig-route explain "$FX/multi_entry_batch.json"
is_rc 0 "explain a delivery file"
is "$(field "$out" route)" "duplicate duplicate duplicate duplicate duplicate duplicate duplicate" "already-seen events explained as duplicates"
run_in "$(body_of page_message | sed 's/m_Xy7/m_New/')" ig-route explain --format csv
like "$out" "^record,event,type,account,participant,tenant,agent,route,reason" "explain --format csv header"
like "$out" "tenant default,account '$PAGE' of tenant 'rossi' has no agent of its own; the tenant's default agent is 'giulia'" "tenant default explained"
run_in "$(body_of ig_message_text | sed 's/Njc1AZDZD/NjkxAZDZD/')" ig-route explain
is "$(field "$out" route)/$(field "$out" agent)" "own agent/marco" "own agent explained"
run_in "$(body_of ig_message_text | sed "s/$IG/17840000000000000/g")" ig-route explain
is "$(field "$out" route)" "unknown account" "unknown account explained"
is "$(sq "SELECT (SELECT count(*) FROM messages) || (SELECT count(*) FROM deliveries) || (SELECT count(*) FROM dead_letters) || (SELECT total_changes())")" \
	"$before" "explain writes nothing"
# the signature, as intake would check it: a tampered envelope says so
good=$(body_of ig_message_text | sed 's/Njc1AZDZD/NjkyAZDZD/')
tampered=$(printf '%s' "$good" | sed 's/Lisbon/Porto/')
env_of() { "$PYTHON3" -c 'import json,sys; print(json.dumps({"headers":{"X-Hub-Signature-256":sys.argv[1]},"body":sys.argv[2]}))' "$1" "$2"; }
run_in "$(env_of "$(sign "$good")" "$tampered")" ig-route explain
is "$rc:$(field "$out" route)/$(field "$out" signature)" "0:own agent/invalid" \
	"explain of a tampered envelope shows the route and signature invalid"
run_in "$(env_of "$(sign "$good")" "$tampered")" ig-route explain --verify
is_rc 65 "…with --verify it fails (65)"
like "$err" "stdin:1: signature invalid: intake would reject this delivery \(403\)" "…and says why"
run_in "$(env_of "$(sign "$good")" "$good")" ig-route explain --verify
is "$rc:$(field "$out" signature)" "0:valid" "a well-signed envelope: signature valid"
run_in "$good" ig-route explain --signature "$(sign "$good")"
is "$(field "$out" signature)" valid "a raw body with --signature: valid"
run_in "$good" ig-route explain --verify
is "$rc:$(field "$out" signature)" "65:missing" "…without one, --verify: missing, 65"
run ig-route explain --delivery 999999
is_rc 65 "explain of an unknown delivery id"
like "$err" "^ig-route: no delivery 999999" "…says so"
run ig-route explain "$T/no-such-file"
is_rc 66 "explain of a missing file: exit 66"

# ------------------------------------------------------------ dead letters and replay after connecting the account
run ig-route dead --format table
is_rc 0 "dead --format table"
like "$out" "unknown account '$IG2' \(object instagram\)" "the unroutable events are listed with the reason"
run ig-route dead --format csv
like "$out" "^id,created,status,source,account,tenant,delivery,reason" "dead --format csv header"
is "$(sq "SELECT count(*) FROM comments c JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = 'bianchi'")" "0" "nothing in bianchi before connecting"
sq "INSERT INTO accounts(tenant_id, channel, flavour, external_id, created_at, updated_at)
    SELECT id, 'instagram', 'instagram', '$IG2', 0, 0 FROM tenants WHERE slug = 'bianchi';"
rossi_before=$(sq "SELECT count(*) FROM comments WHERE tenant_id = (SELECT id FROM tenants WHERE slug='rossi')")
run ig-route replay
is_rc 0 "replay after connecting the account"
is "$(types "$out")" "comment mention mention" "the three events are routed now"
is "$(field "$out" tenant | tr ' ' '\n' | sort -u)" "bianchi" "to bianchi"
is "$(field "$out" agent | tr ' ' '\n' | sort -u)" "luca" "via bianchi's default agent luca"
like "$err" "3 dead letters replayed" "replay reports the count"
is "$(sq "SELECT count(*) FROM dead_letters WHERE account_ref = '$IG2' AND status = 'replayed'")" "3" "dead letters marked replayed"
is "$(sq "SELECT status FROM deliveries WHERE id = (SELECT delivery_id FROM dead_letters WHERE account_ref = '$IG2' LIMIT 1)")" "processed" \
	"the partial delivery is whole again"
is "$(sq "SELECT count(*) FROM comments WHERE tenant_id = (SELECT id FROM tenants WHERE slug='rossi')")" "$rossi_before" \
	"a delivery for bianchi never touches rossi"
run ig-route replay
is "$rc:$out" "0:" "a second replay has nothing to do"
run ig-route replay --id 999999
is_rc 65 "replay --id of an unknown dead letter"
like "$err" "no dead letter 999999" "…says so"
still=$(sq "SELECT id FROM dead_letters WHERE status = 'open' AND source = 'ig-route' AND reason LIKE 'invalid%' LIMIT 1")
run ig-route replay --id "$still"
is_rc 65 "replay --id of a still-invalid dead letter exits 65"

# ------------------------------------------------------------ human takeover
conv=$(sq "SELECT id FROM conversations WHERE participant_id = '2938475610293847'")
acct=$(sq "SELECT id FROM accounts WHERE external_id = '$IG'")
tid=$(sq "SELECT id FROM tenants WHERE slug = 'rossi'")
is "$(sq "SELECT ai_state FROM conversations WHERE id = $conv")" "active" "the conversation starts active"
sq "INSERT INTO outbox(tenant_id, account_id, conversation_id, origin, recipient, text, state, mid, created_at, updated_at)
    VALUES ($tid, $acct, $conv, 'ai', '2938475610293847', 'We open at 9.', 'sent', 'out-mid-1', 0, 0),
           ($tid, $acct, $conv, 'ai', '2938475610293847', 'See you soon!', 'sending', NULL, 0, 0);"
echo_body() { # MID TEXT
	printf '{"object":"instagram","entry":[{"id":"%s","time":1770113000000,"messaging":[{"sender":{"id":"%s"},"recipient":{"id":"2938475610293847"},"timestamp":1770113000000,"message":{"mid":"%s","text":"%s","is_echo":true}}]}]}' \
		"$IG" "$IG" "$1" "$2"
}
e=$(echo_body out-mid-1 'We open at 9.')
run_in "$e" ig-route --signature "$(sign "$e")"
is "$(printf '%s' "$out" | jget sender)/$(printf '%s' "$out" | jget ai)" "ai/active" "echo of our own outbox message (same mid): AI stays active"
e=$(echo_body out-mid-2 'See you soon!')
run_in "$e" ig-route --signature "$(sign "$e")"
is "$(printf '%s' "$out" | jget sender)/$(printf '%s' "$out" | jget ai)" "ai/active" "echo racing the Send API (row still sending, same text): ours"
is "$(sq "SELECT sender_kind FROM messages WHERE mid = 'out-mid-2'")" "ai" "stored as sent by the AI"
sq "UPDATE agents SET pause_on_human = 0 WHERE name = 'marco'"
e=$(echo_body human-1 'Sure, ask me anything')
run_in "$e" ig-route --signature "$(sign "$e")"
is "$(printf '%s' "$out" | jget sender)/$(printf '%s' "$out" | jget ai)" "human/active" "human reply with pause_on_human off: AI not paused"
is "$(sq "SELECT last_human_at IS NOT NULL FROM conversations WHERE id = $conv")" "1" "…but last_human_at is set"
e=$(echo_body human-2 'Ci penso io...')
run_in "$e" ig-route --signature "$(sign "$e")"
is "$(printf '%s' "$out" | jget marker)/$(printf '%s' "$out" | jget ai)/$(printf '%s' "$out" | jget ai_reason)" "True/paused/human marker" \
	"the '...' marker always pauses"
is "$(sq "SELECT ai_state, ai_reason FROM conversations WHERE id = $conv")" "paused|human marker" "conversation paused: human marker"
is "$(sq "SELECT count(*), reason, status FROM escalations WHERE conversation_id = $conv")" "1|human marker|open" "an escalation is opened"
e=$(echo_body human-3 "Un attimo…")
run_in "$e" ig-route --signature "$(sign "$e")"
is "$(sq "SELECT count(*) FROM escalations WHERE conversation_id = $conv")" "1" "the ellipsis marker again: no second open escalation"
is "$(printf '%s' "$out" | jget marker)" "True" "the ellipsis character is the marker too"
sq "UPDATE agents SET pause_on_human = 1 WHERE name = 'marco'"

# handover back to us clears the thread owner
h="{\"object\":\"page\",\"entry\":[{\"id\":\"$PAGE\",\"time\":1770113000000,\"messaging\":[{\"sender\":{\"id\":\"6823049917345561\"},\"recipient\":{\"id\":\"$PAGE\"},\"timestamp\":1770113000000,\"pass_thread_control\":{\"previous_owner_app_id\":\"263902037430900\",\"new_owner_app_id\":\"555000111\"}}]}]}"
run_in "$h" ig-route --signature "$(sign "$h")"
is "$(printf '%s' "$out" | jget type)/$(printf '%s' "$out" | jget action)" "handover/pass_thread_control" "handover event"
is "$(sq "SELECT thread_owner IS NULL FROM conversations WHERE participant_id = '6823049917345561'")" "1" \
	"thread passed to our app id: igkit owns it again"

# ------------------------------------------------------------ kill -9 in the middle of a stream loses nothing
wh many app-secret 3000 10000 $IG > "$T/many.jsonl"
mkfifo "$T/fifo"
"$PYTHON3" -c '
import sys, time
lines = open(sys.argv[1]).readlines()
with open(sys.argv[2], "w") as f:
    for i in range(0, len(lines), 20):
        f.writelines(lines[i:i + 20]); f.flush(); time.sleep(0.004)
' "$T/many.jsonl" "$T/fifo" 2>/dev/null &
writer=$!
ig-route < "$T/fifo" > "$T/killed.out" 2>"$T/killed.err" &
victim=$!
for i in $(seq 1 500); do
	[ "$(cat "$T/killed.out" 2>/dev/null | wc -l)" -ge 300 ] && break
	sleep 0.02
done
kill -9 $victim 2>/dev/null
wait $victim 2>/dev/null
kill $writer 2>/dev/null
wait $writer 2>/dev/null
printed=$(wc -l < "$T/killed.out")
stored=$(sq "SELECT count(*) FROM messages WHERE mid >= 'mid-10000' AND mid < 'mid-13000' AND length(mid) = 9")
[ "$printed" -ge 300 ] && [ "$printed" -lt 3000 ]
ok $? "killed mid-stream after $printed events were printed"
missing=$(wh field mid < "$T/killed.out" | while read -r m; do sq "SELECT count(*) FROM messages WHERE mid = '$m'"; done | grep -c '^0$')
is "$missing" "0" "every printed (acknowledged) event is in the store"
is "$(sq "SELECT count(*) FROM deliveries WHERE CAST(body AS TEXT) GLOB '*\"mid\":\"mid-1[0-9][0-9][0-9][0-9]\"*' AND status = 'processed'")" "$stored" \
	"every stored delivery of the killed run is fully processed (one batch, one transaction)"
is "$(sq "SELECT count(*) FROM deliveries WHERE status = 'received'")" "0" "none is left half-done"
run ig-route replay --deliveries
is_rc 0 "replay --deliveries after the kill"
run_file "$T/many.jsonl" ig-route
is_rc 0 "the whole stream re-sent after the kill"
is "$(sq "SELECT count(*) FROM messages WHERE mid >= 'mid-10000' AND mid < 'mid-13000' AND length(mid) = 9")" "3000" \
	"all 3000 events stored exactly once"
# ig-route(1): re-sending the input routes exactly what was lost — what the
# killed run did not print, whether or not it had stored it
# ...and at most the killed run's last printed batch again, should the kill
# have fallen in the instant between printing it and recording that (ig-route(1))
printf '%s\n' "$out" | wh field mid | sort > "$T/resent.mids"
wh field mid < "$T/killed.out" > "$T/killed.mids"
sort "$T/killed.mids" | comm -12 - "$T/resent.mids" > "$T/again.mids"
again=$(wc -l < "$T/again.mids")
is "$(($(wc -l < "$T/resent.mids") - again))" "$((3000 - printed))" \
	"the re-sent stream emits exactly the events the killed run did not print"
is "$(tail -n "$again" "$T/killed.mids" | sort)" "$(cat "$T/again.mids")" \
	"…and any it printed again are the killed run's last lines ($again)"
is "$( (wh field mid < "$T/killed.out"; printf '%s\n' "$out" | wh field mid) | sort -u | grep -c '^mid-1')" 3000 \
	"…so every event was printed by one run or the other"
run_file "$T/many.jsonl" ig-route
is "$rc:$out" "0:" "a third sending emits nothing"

# killed after COMMIT, before printing: stdout is a pipe whose reader is gone,
# so the first write after the first batch's commit fails and ig-route exits
wh many app-secret 1200 40000 $IG > "$T/lost.jsonl"
"$PYTHON3" -c '
import os, subprocess, sys
r, w = os.pipe(); os.close(r)
p = subprocess.run([sys.argv[1], "--batch", "100"], stdin=open(sys.argv[2]), stdout=w, stderr=subprocess.DEVNULL)
print(p.returncode)' "$(command -v ig-route)" "$T/lost.jsonl" > "$T/lost.rc"
stored=$(sq "SELECT count(*) FROM messages WHERE mid >= 'mid-40000' AND mid < 'mid-41200' AND length(mid) = 9")
ok "$([ "$(cat "$T/lost.rc")" != 0 ] && [ "$stored" -ge 100 ] && [ "$stored" -lt 1200 ]; echo $?)" \
	"a run that cannot print after its commit stops ($(cat "$T/lost.rc")) with $stored events stored, none printed"
unprinted() { sq "SELECT count(*) FROM deliveries d JOIN emit_runs e ON e.run = d.emit_run WHERE d.id > e.printed"; }
is "$(unprinted)" "$stored" "…its deliveries are recorded as not printed"
run_file "$T/lost.jsonl" ig-route --batch 100
is_rc 0 "the input re-sent"
is "$(printf '%s\n' "$out" | grep -c '"mid":"mid-4')" 1200 "…emits all 1200 events: the $stored stored but never printed, and the rest"
is "$(sq "SELECT count(*) FROM messages WHERE mid >= 'mid-40000' AND mid < 'mid-41200' AND length(mid) = 9")" 1200 \
	"…each stored once"
is "$(unprinted)" 0 "…and all recorded as printed"
is "$(sq "SELECT count(*) FROM emit_runs")" 2 \
	"only the two runs that died keep a row in emit_runs (the clean runs leave none)"
run_file "$T/lost.jsonl" ig-route --batch 100
is "$rc:$out" "0:" "sent once more: nothing emitted"

# replay --deliveries: a delivery stored but never routed (as after a crash between CGI's two transactions)
stuck=$(wh many app-secret 1 20000 $IG | "$PYTHON3" -c 'import json,sys; print(json.loads(sys.stdin.readline())["body"])')
sq "INSERT INTO deliveries(received_at, source, object, sig_status, status, body) VALUES (1, 'cgi', 'instagram', 'valid', 'received', CAST('$stuck' AS BLOB))"
run ig-route replay --deliveries --dry-run
is "$rc:$(field "$out" mid)" "0:mid-20000" "replay --deliveries --dry-run shows the event"
is "$(sq "SELECT status FROM deliveries ORDER BY id DESC LIMIT 1")" "received" "…and changes nothing"
run ig-route replay --deliveries
is "$rc:$(field "$out" mid)" "0:mid-20000" "replay --deliveries routes a stuck delivery"
is "$(sq "SELECT status FROM deliveries ORDER BY id DESC LIMIT 1")" "processed" "…and marks it processed"
like "$(sq "EXPLAIN QUERY PLAN SELECT id, body FROM deliveries WHERE status = 'received' AND id > 0 ORDER BY id LIMIT 200")" \
	"USING INDEX deliveries_received" "stuck deliveries are found through the partial index"
is "$(sq "SELECT count(*) FROM deliveries INDEXED BY deliveries_received WHERE status = 'received'")" "$(sq "SELECT count(*) FROM deliveries WHERE status = 'received'")" \
	"…which holds exactly the 'received' deliveries"

# a delivery that fails half-way through routing in the middle of a batch:
# the batch is routed again, that delivery alone is kept 'received'
wh many app-secret 5 21000 $IG > "$T/five.jsonl"
sq "CREATE TRIGGER boom BEFORE INSERT ON messages WHEN NEW.mid = 'mid-21002'
	BEGIN SELECT RAISE(ABORT, 'boom: injected failure'); END;"
run_file "$T/five.jsonl" ig-route --envelopes
is_rc 65 "a routing failure in a batch exits 65"
is "$(field "$out" mid)" "mid-21000 mid-21001 mid-21003 mid-21004" "the rest of the batch is routed and printed once"
like "$err" "stdin:3: delivery [0-9]+ kept as 'received', routing failed: .*boom: injected failure" "the failure reported with its line"
is "$(sq "SELECT count(*) FROM messages WHERE mid IN ('mid-21000','mid-21001','mid-21002','mid-21003','mid-21004')")" "4" \
	"four messages stored, none twice"
is "$(sq "SELECT status FROM deliveries WHERE CAST(body AS TEXT) LIKE '%mid-21002%'")" "received" \
	"the failed delivery kept once, 'received', for replay --deliveries"
is "$(sq "SELECT count(*) FROM deliveries WHERE CAST(body AS TEXT) LIKE '%mid-2100%'")" "5" "each delivery stored once"
sq "DROP TRIGGER boom"
run ig-route replay --deliveries
is "$rc:$(field "$out" mid)" "0:mid-21002" "replay --deliveries routes it once the cause is gone"

# ------------------------------------------------------------ permissions
tenant-admin -q --tenant rossi user add viewer@rossi.test --role viewer >/dev/null 2>&1
run tenant-admin --tenant rossi key create viewer@rossi.test
if key=$(printf '%s\n' "$out" | "$PYTHON3" -c 'import json,sys; print(json.loads(sys.stdin.readline()).get("key",""))' 2>/dev/null) && [ -n "$key" ]; then
	IGKIT_API_KEY=$key run_in "$(body_of ig_message_text)" ig-route --no-verify
	is_rc 77 "a tenant API key may not run the intake"
	like "$err" "permission denied" "…permission denied"
else
	skip "tenant-admin key create not available"
	skip "tenant-admin key create not available"
fi

# ------------------------------------------------------------ CGI behind lighttpd
LIGHTTPD=${LIGHTTPD:-/usr/sbin/lighttpd}
if [ ! -x "$LIGHTTPD" ]; then
	for i in $(seq 1 16); do skip "lighttpd not installed"; done
	done_testing
	exit
fi
port=$("$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$T/www"
user_line=""
[ "$(id -u)" = 0 ] || user_line="# running as $(id -un): no server.username needed"
cat > "$T/lighttpd.conf" <<EOF
server.document-root = "$T/www"
server.bind = "127.0.0.1"
server.port = $port
server.errorlog = "$T/lighttpd.log"
server.pid-file = "$T/lighttpd.pid"
$user_line
server.modules = ("mod_alias", "mod_cgi", "mod_setenv")
alias.url = ("/webhook" => "$(command -v ig-route)")
\$HTTP["url"] =~ "^/webhook" { cgi.assign = ("" => "") }
setenv.add-environment = (
	"PATH" => "$PATH",
	"HOME" => "$HOME",
	"IGKIT_DB" => "$IGKIT_DB",
	"IGKIT_CONFIG" => "$IGKIT_CONFIG",
	"IGKIT_APP_SECRET_FILE" => "$T/app.secret",
	"IGKIT_VERIFY_TOKEN_FILE" => "$T/verify.token",
	"IGKIT_MAX_BODY" => "4096"
)
EOF
"$LIGHTTPD" -D -f "$T/lighttpd.conf" 2>"$T/lighttpd.stderr" &
_cleanup_pids="$_cleanup_pids $!"
for i in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
U="http://127.0.0.1:$port/webhook"
# the CGI's routing child may hold the write lock while we look: wait for it
sq() { sqlite3 -batch -noheader -cmd '.timeout 10000' "$IGKIT_DB" "$@"; }
hit() { # curl args...: sets $code and $out
	out=$(curl -s -w '\n%{http_code}' "$@")
	code=${out##*$'\n'}
	out=${out%$'\n'*}
	out=${out%$'\n'}
}
# routing runs after the answer: wait for it
routed() { # SQL-LIKE on the body
	local i
	for i in $(seq 1 100); do
		[ "$(sq "SELECT status FROM deliveries WHERE CAST(body AS TEXT) LIKE '$1' ORDER BY id DESC LIMIT 1")" = processed ] && return 0
		sleep 0.05
	done
	return 1
}
hit "$U?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=verify-me"
is "$code:$out" "200:1158201444" "GET handshake: the challenge is the whole body"
hit "$U?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=wrong"
is "$code" "403" "GET handshake with a wrong token: 403"
hit "$U?hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=verify-me"
is "$code" "403" "GET handshake with another mode: 403"
hit "$U?hub.mode=subscribe&hub.challenge=%3Cscript%3E&hub.verify_token=verify-me"
is "$code" "400" "a challenge that is not a token is never echoed"
cb=$(body_of ig_message_text | sed 's/Njc1AZDZD/Q0dJAZDZD/; s/Lisbon/Braga/')
hit -X POST -H 'Content-Type: application/json' -H "X-Hub-Signature-256: $(sign "$cb")" --data-binary "$cb" "$U"
is "$code:$out" "200:EVENT_RECEIVED" "signed POST: 200"
routed '%Braga%'
is "$(sq "SELECT source, status, sig_status FROM deliveries WHERE CAST(body AS TEXT) LIKE '%Braga%' ORDER BY id LIMIT 1")" "cgi|processed|valid" \
	"CGI delivery stored and routed"
is "$(sq "SELECT m.text, c.participant_id FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.mid LIKE '%Q0dJAZDZD'")" \
	"Hi! Do you ship to Braga?|7341092865519203" "CGI routing wrote the conversation and the message"
hit -X POST -H "X-Hub-Signature-256: $(sign "$cb")" --data-binary "$cb" "$U"
routed '%Braga%'
is "$code:$(sq "SELECT count(*) FROM messages WHERE mid LIKE '%Q0dJAZDZD'")" "200:1" "the same POST again: 200, no double"
hit -X POST --data-binary "$cb" "$U"
is "$code" "403" "unsigned POST: 403"
hit -X POST -H "X-Hub-Signature-256: $(sign "$cb" wrong)" --data-binary "$cb" "$U"
is "$code" "403" "badly signed POST: 403"
is "$(sq "SELECT sig_status, status FROM deliveries WHERE source = 'cgi' ORDER BY id DESC LIMIT 1")" "invalid|rejected" \
	"a bad CGI POST is kept as rejected"
hit -X POST -H "X-Hub-Signature-256: $(sign '{oops')" --data-binary '{oops' "$U"
is "$code" "400" "signed but malformed POST: 400"
huge=$(printf '%*s' 5000 '' | tr ' ' x)
hit -X POST -H "X-Hub-Signature-256: $(sign "$huge")" --data-binary "$huge" "$U"
is "$code" "413" "oversized POST: 413"
hit -X PUT --data-binary "$cb" "$U"
is "$code" "405" "other methods: 405"
like "$(cat "$T/lighttpd.log" "$T/lighttpd.stderr")" "ig-route: delivery [0-9]+ rejected \(invalid\): bad signature" "CGI reasons go to the server's error log"
unlike "$(cat "$T/lighttpd.log" "$T/lighttpd.stderr")" "==[0-9]+==" "no valgrind report from the CGI runs"

done_testing
