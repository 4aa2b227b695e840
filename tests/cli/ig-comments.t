#!/bin/bash
# ig-comments: sync and the gap, the board, actions confirmed by Meta (and
# left 'unknown' when the answer is lost, settled by the next sync, never
# sent twice), Meta's refusals before calling, private replies on the right
# host and node per login flavour, tags, assignment, roles and tenancy,
# rules as code (check, moderate from ig-route, --pending, backtest), AI
# replies with loop guards.  Accounts are connected with the real
# ig-connect; webhooks go through the real ig-route.
. "${top_srcdir:-.}/tests/lib.sh"

sim_start
A1=17841400000000001     # marco_energia, Instagram Login, tenant rossi
A3=17841400000000003     # rossi_consulting, Facebook Login (Page 100000000000001), tenant bianchi
PAGE=100000000000001
M1=17900000000000001
M2=17900000000000002
C_SPAM=18000000000000001
C_ASK=18000000000000002
C_REPLY=18000000000000003
C_OWN=18000000000000004

field() { printf '%s\n' "$out" | head -n 1 | jget "$1"; }
# requests the simulator saw: METHOD PATH-SUBSTRING
seen() { curl -sS "$SIM/_sim/requests?method=$1&path=$2" | "$PYTHON3" -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
simc() { curl -sS "$SIM/_sim/comment/$1" | jget "$2"; }
media() { simctl POST /_sim/media "$1" >/dev/null; }

# --- set-up -----------------------------------------------------------------
tenant-admin init >/dev/null
tenant-admin tenant create rossi --name "Pizzeria Rossi" >/dev/null
tenant-admin tenant create bianchi --name "Bianchi" >/dev/null
tenant-admin --tenant rossi agent create marco --display-name Marco --business-name "Pizzeria Rossi" \
	--personality "energetic and friendly" >/dev/null
tenant-admin --tenant bianchi agent create bea --business-name "Bianchi" >/dev/null
simctl POST /_sim/token "{\"action\":\"issue\",\"account\":\"$A1\"}" | jget token.token |
	ig-connect add --tenant rossi --agent marco >/dev/null
ok $? "ig-connect add the Instagram Login account"
simctl POST /_sim/token "{\"action\":\"issue\",\"account\":\"$PAGE\"}" | jget token.token |
	ig-connect add --tenant bianchi --agent bea --flavour facebook >/dev/null
ok $? "ig-connect add the Facebook Login account (Page token)"
for u in sales viewer; do
	tenant-admin --tenant rossi user add $u@rossi.test --role $u >/dev/null
	tenant-admin --tenant rossi key create $u@rossi.test 2>/dev/null | jget key > "$T/$u.key"
done
tenant-admin --tenant bianchi user add boss@bianchi.test --role org_admin >/dev/null
tenant-admin --tenant bianchi key create boss@bianchi.test 2>/dev/null | jget key > "$T/bianchi.key"
chmod 600 "$T"/*.key

media "{\"account\":\"$A1\",\"id\":\"$M1\",\"caption\":\"Margherita\",\"comments\":[
 {\"id\":\"$C_SPAM\",\"from\":\"5550001\",\"username\":\"ana\",\"text\":\"buy followers at spam.ly\"},
 {\"id\":\"$C_ASK\",\"from\":\"5550002\",\"username\":\"bob\",\"text\":\"do you deliver to Brera?\",
  \"replies\":[{\"id\":\"$C_REPLY\",\"from\":\"5550003\",\"username\":\"cy\",\"text\":\"me too\"}]},
 {\"id\":\"$C_OWN\",\"from\":\"$A1\",\"username\":\"marco_energia\",\"text\":\"New menu today!\"}]}"

# --- usage ------------------------------------------------------------------
run ig-comments frobnicate; is_rc 64 "unknown command: 64"
like "$err" "unknown command 'frobnicate'" "…named"
run ig-comments reply $C_ASK; is_rc 64 "reply without a text: 64"
like "$err" "exactly one of TEXT" "…says what it needs"
run ig-comments hide $C_ASK --text x; is_rc 64 "an option that does not apply: 64"
run ig-comments reply $C_ASK hi --draft; is_rc 64 "--draft without --ai: 64"
run ig-comments list --overdue soon; is_rc 64 "a bad --overdue: 64"

# --- sync and the gap ---------------------------------------------------------
# a webhook delivers one comment first: it is not part of the gap
simctl POST /_sim/media "{\"account\":\"$A1\",\"id\":\"$M2\",\"caption\":\"Diavola\"}" >/dev/null
env_=$(simctl POST /_sim/media/$M2/comment '{"id":"18000000000000010","from":"5550010","username":"dee","text":"via webhook","webhook":true}' |
	"$PYTHON3" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["envelope"]))')
run_in "$env_" ig-route
is_rc 0 "ig-route stores the webhook comment"
run ig-comments --tenant rossi sync
is_rc 0 "sync"
is "$(field media)/$(field comments)/$(field new)/$(field gap)" "2/5/4/4" \
	"sync: 2 media, 5 comments, 4 new = the gap (the webhook's is not)"
is "$(sq "SELECT source FROM comments WHERE comment_id = '18000000000000010'")" "webhook" "the webhook's comment keeps its source"
is "$(sq "SELECT count(*) FROM comments WHERE source = 'sync'")" "4" "the others are marked found by sync"
is "$(sq "SELECT parent_id FROM comments WHERE comment_id = '$C_REPLY'")" "$C_ASK" "a reply keeps its parent"
is "$(sq "SELECT own FROM comments WHERE comment_id = '$C_OWN'")" "1" "the account's own comment is known as own"
run ig-comments --tenant rossi sync
is "$(field new)/$(field gap)/$(field comments)" "0/0/5" "a second sync finds nothing new"

# paging at Meta's page size: 120 comments, one with 60 replies
simctl POST /_sim/media_bulk "{\"account\":\"$A1\",\"media\":1,\"comments\":120}" >/dev/null
BIG=$(curl -sS "$SIM/_sim/media?account=$A1" | "$PYTHON3" -c 'import json,sys; print([m["id"] for m in json.load(sys.stdin) if m["caption"]=="post 0"][0])')
FIRST=$(curl -sS "$SIM/_sim/media?account=$A1" | "$PYTHON3" -c 'import json,sys; m=[m for m in json.load(sys.stdin) if m["caption"]=="post 0"][0]; print(m["comments"][0])')
for i in $(seq 1 60); do printf '{"from":"66%03d","username":"r%d","text":"reply %d","parent":"%s"}\n' $i $i $i "$FIRST"; done |
	while read -r l; do simctl POST /_sim/media/$BIG/comment "$l" >/dev/null; done
curl -sS -X DELETE "$SIM/_sim/requests" >/dev/null
run ig-comments --tenant rossi sync --parallel 4
is_rc 0 "sync with paging"
is "$(field new)" "180" "120 comments and 60 replies found"
is "$(seen GET /$BIG/comments)" "3" "comments read in pages of 50 (3 requests)"
is "$(seen GET /$FIRST/replies)" "1" "replies past the first 50 read from /replies"
like "$(curl -sS "$SIM/_sim/requests?path=/$BIG/comments")" '"limit": "50"' "…asking for limit=50"

# --- the board ------------------------------------------------------------------
run ig-comments --tenant rossi list --media $M1 --format csv
is_rc 0 "list --format csv"
is "$(printf '%s\n' "$out" | head -n 1 | tr -d '\r')" "comment,account,username,created,hidden,replied,dm,read,tags,assignee,text" "csv header"
is "$(printf '%s\n' "$out" | grep -c .)" "5" "four comments on M1 and the header"
run ig-comments --tenant rossi list --media $M1 --unread --mark-read
is "$(printf '%s\n' "$out" | grep -c .)" "4" "--unread --mark-read lists four"
run ig-comments --tenant rossi list --media $M1 --unread
is "$out" "" "then none is unread"
is "$(sq "SELECT count(*) FROM audit_log WHERE action = 'comments.read'")" "1" "marking read is audited"
run ig-comments --tenant rossi list --media $M1 --since 1h
is "$(printf '%s\n' "$out" | grep -c .)" "4" "--since an age"
run ig-comments --tenant rossi list --media $M1 --since $(( $(date +%s) + 3600 ))
is "$rc/$out" "0/" "--since Unix seconds (in an hour: nothing)"
run ig-comments --tenant rossi list --since yesterday
is_rc 64 "--since nonsense: 64"
run ig-comments --tenant rossi list --media $M1 --overdue 1h
is "$out" "" "nothing is overdue past a 1 h SLA yet"
IGKIT_NOW=$(( $(date +%s) + 7200 )) run ig-comments --tenant rossi list --media $M1 --overdue 1h
is "$(printf '%s\n' "$out" | grep -c .)" "3" "two hours later three are overdue (not the account's own)"

# --- hide, confirmed by Graph, audited ------------------------------------------
run ig-comments --tenant rossi hide $C_SPAM
is_rc 0 "hide"
is "$(field state)" "done" "…done"
is "$(simc $C_SPAM hidden)" "True" "Meta has it hidden"
is "$(sq "SELECT hidden FROM comments WHERE comment_id = '$C_SPAM'")" "1" "the store too"
is "$(sq "SELECT before || ' -> ' || after || ' ' || actor FROM comment_actions WHERE comment_id = '$C_SPAM' AND action = 'hide'")" \
	'{"hidden":false} -> {"hidden":true} owner' "comment_actions: before, after, who"
is "$(sq "SELECT outcome FROM audit_log WHERE action = 'comments.hide' AND target = '$C_SPAM'")" "ok" "and the audit log"
run ig-comments --tenant rossi list --hidden
is "$(field comment)" "$C_SPAM" "list --hidden"
n0=$(seen POST /$C_SPAM)
run ig-comments --tenant rossi hide $C_SPAM
is "$rc/$(field state)/$(seen POST /$C_SPAM)" "0/unchanged/$n0" "hiding a hidden comment sends nothing"
run ig-comments --tenant rossi unhide $C_SPAM
is "$(field state)/$(simc $C_SPAM hidden)" "done/False" "unhide"

# --- refusals before calling ----------------------------------------------------
curl -sS -X DELETE "$SIM/_sim/requests" >/dev/null
run ig-comments --tenant rossi hide $C_OWN
is_rc 65 "hiding the account's own comment: 65"
like "$err" "is the account's own: Meta always shows the owner's comments" "…says why"
run ig-comments --tenant rossi reply $C_REPLY "thanks"
is_rc 65 "replying to a reply: 65"
like "$err" "answer on its parent '$C_ASK'" "…names the parent"
run ig-comments --tenant rossi reply $C_ASK "see the photo" --attachment https://x.test/a.jpg
is_rc 65 "a reply with an attachment: 65"
like "$err" "text only" "…text only"
run ig-comments --tenant rossi reply $C_ASK "   "
is_rc 65 "an empty reply: 65"
sq "INSERT INTO comments(tenant_id, account_id, comment_id, field, media_id, media_product_type, from_id, from_username, text, created_at, received_at)
    SELECT tenant_id, id, '18000000000000090', 'live_comments', '17900000000000090', 'LIVE', '5550090', 'liv', 'hi live', strftime('%s','now'), strftime('%s','now') FROM accounts WHERE external_id = '$A1';
    INSERT INTO comments(tenant_id, account_id, comment_id, field, media_id, from_id, from_username, text, created_at, received_at)
    SELECT tenant_id, id, '18000000000000091', 'mentions', '17900000000000091', '5550091', 'men', '@marco_energia look', strftime('%s','now'), strftime('%s','now') FROM accounts WHERE external_id = '$A1';"
run ig-comments --tenant rossi delete 18000000000000090
is_rc 65 "deleting a live comment: 65"
like "$err" "live comment: Meta does not allow deleting on live video" "…says why"
run ig-comments --tenant rossi hide 18000000000000091
is_rc 65 "hiding a comment on media the account does not own: 65"
like "$err" "does not own \(a mention\)" "…says why"
is "$(seen '*' /v25.0/18)" "0" "no refused action reached Meta"
run ig-comments --tenant rossi hide 18999999999999999
is_rc 65 "an unknown comment: 65"
like "$err" "unknown comment '18999999999999999'" "…named"

# --- reply, and a reply that succeeds then answers an error ------------------------
run ig-comments --tenant rossi reply $C_REPLY --on-parent "Yes, we deliver to Brera!"
is_rc 0 "reply to a reply --on-parent"
R1=$(field reply_id)
is "$(simc $R1 parent)" "$C_ASK" "…posted under the parent"
is "$(sq "SELECT own || ' ' || parent_id FROM comments WHERE comment_id = '$R1'")" "1 $C_ASK" "our reply is stored as our own"
is "$(sq "SELECT replied_at IS NOT NULL FROM comments WHERE comment_id = '$C_REPLY'")" "1" "the comment counts as replied"
simctl POST /_sim/comment_fault '{"action":"reply","code":1,"status":500}' >/dev/null
curl -sS -X DELETE "$SIM/_sim/requests" >/dev/null
run ig-comments --tenant rossi reply 18000000000000010 "Thanks Dee!"
is_rc 75 "a reply Meta made and then answered 500 for: 75"
is "$(field state)" "unknown" "…the action is unknown"
like "$err" "not sent again" "…and says it is not sent again"
run ig-comments --tenant rossi reply 18000000000000010 "Thanks Dee!"
is_rc 65 "a second reply while the first is unknown: refused"
like "$err" "run 'ig-comments sync' to settle it" "…pointing at sync"
is "$(seen POST /18000000000000010/replies)" "1" "Meta got the reply once"
run ig-comments --tenant rossi sync --account @marco_energia
is "$(field settled)" "1" "sync settles it by reading the replies back"
is "$(sq "SELECT state || ' ' || (result_id IS NOT NULL) FROM comment_actions WHERE comment_id = '18000000000000010' AND action = 'reply'")" \
	"done 1" "…done, with Meta's id of the reply"

# a lost reply in a thread of 60 replies: ours is on the second page of the read back
simctl POST /_sim/comment_fault '{"action":"reply","code":1,"status":500}' >/dev/null
run ig-comments --tenant rossi reply $FIRST "Thanks to all sixty of you"
is "$rc/$(field state)" "75/unknown" "a lost reply in a long thread: unknown"
run ig-comments --tenant rossi sync
is "$(sq "SELECT state FROM comment_actions WHERE comment_id = '$FIRST' AND action = 'reply'")" "done" \
	"sync pages through the replies and finds it"

# a hide lost before Meta acted: read back, it did not happen
simctl POST /_sim/inject '{"match":"/'$C_SPAM'","method":"POST","status":502}' >/dev/null
IGKIT_HTTP_RETRIES=0 run ig-comments --tenant rossi hide $C_SPAM
is "$rc/$(field state)" "75/unknown" "a 502 (Meta did not act) and no retry left: unknown"
run ig-comments --tenant rossi sync
is "$(sq "SELECT state FROM comment_actions WHERE comment_id = '$C_SPAM' ORDER BY id DESC LIMIT 1")" "failed" \
	"the read back shows it shown: failed (it did not happen)"
is "$(sq "SELECT hidden FROM comments WHERE comment_id = '$C_SPAM'")" "0" "…and the store stays shown"

# delete that succeeds then answers an error
simctl POST /_sim/comment_fault '{"action":"delete","code":2,"status":503}' >/dev/null
run ig-comments --tenant rossi delete $C_SPAM
is "$rc/$(field state)" "75/unknown" "a delete answered 503 after acting: unknown"
is "$(seen DELETE /$C_SPAM)" "1" "…sent once (no automatic retry)"
run ig-comments --tenant rossi sync
is "$(sq "SELECT state FROM comment_actions WHERE comment_id = '$C_SPAM' AND action = 'delete'")/$(sq "SELECT deleted FROM comments WHERE comment_id = '$C_SPAM'")" \
	"done/1" "sync: Meta no longer has it, the delete is done"
run ig-comments --tenant rossi log $C_SPAM
is "$(printf '%s\n' "$out" | grep -c .)" "4" "log: hide, unhide, the lost hide, delete"

# --- private replies ------------------------------------------------------------
run ig-comments --tenant rossi dm $C_ASK "Hi Bob, yes: our menu is in your inbox"
is_rc 0 "dm (private reply)"
CONV=$(field conversation)
is "$(curl -sS "$SIM/_sim/messages?account=$A1" | "$PYTHON3" -c 'import json,sys; m=json.load(sys.stdin)[-1]; print(m["host"], m["comment_id"], m["recipient"])')" \
	"graph.instagram.com $C_ASK 5550002" "Instagram Login: graph.instagram.com, recipient.comment_id"
is "$(seen POST /$A1/messages)" "1" "…on /<IG_ID>/messages"
is "$(sq "SELECT participant_id || ' ' || ai_state FROM conversations WHERE id = $CONV")" "5550002 active" \
	"the conversation is the author's, and the agent's"
is "$(sq "SELECT origin || ' ' || state || ' ' || recipient || ' ' || (mid IS NOT NULL) FROM outbox WHERE conversation_id = $CONV")" \
	"private_reply sent $C_ASK 1" "the outbox keeps it, with Meta's mid (so the echo is ours)"
run ig-comments --tenant rossi dm $C_ASK "again"
is_rc 65 "a second private reply: 65"
like "$err" "already has a private reply \(sent\): Meta allows one per comment" "…says why"
IGKIT_NOW=$(( $(date +%s) + 8 * 86400 )) run ig-comments --tenant rossi dm 18000000000000010 "late"
is_rc 65 "a private reply after 7 days: 65"
like "$err" "within 7 days" "…says why"
IGKIT_NOW=$(( $(date +%s) + 5 * 3600 )) run ig-comments --tenant rossi dm 18000000000000090 "hi"
is_rc 65 "a private reply to a live comment after the broadcast: 65"
like "$err" "broadcast that has ended" "…says why"
run ig-comments --tenant rossi dm $C_OWN "hi"
is_rc 65 "a private reply to the account's own comment: 65"

# Facebook Login: the Page node on graph.facebook.com
media "{\"account\":\"$A3\",\"id\":\"17900000000000301\",\"comments\":[{\"id\":\"18000000000000301\",\"from\":\"5550301\",\"username\":\"fb_fan\",\"text\":\"price?\"}]}"
run ig-comments --api-key-file "$T/bianchi.key" sync
is "$(field new)" "1" "sync on graph.facebook.com (Facebook Login)"
run ig-comments sync
is_rc 0 "the store owner syncs every tenant without --tenant"
is "$(printf '%s\n' "$out" | grep -c '"tenant":"rossi"')/$(printf '%s\n' "$out" | grep -c '"tenant":"bianchi"')" "1/1" \
	"…one record per account, naming its tenant"
run ig-comments --api-key-file "$T/bianchi.key" dm 18000000000000301 "Hi! Prices are in your DMs"
is_rc 0 "dm, Facebook Login"
is "$(curl -sS "$SIM/_sim/messages?account=$A3" | "$PYTHON3" -c 'import json,sys; m=json.load(sys.stdin)[-1]; print(m["host"], m["page"], m["comment_id"])')" \
	"graph.facebook.com $PAGE 18000000000000301" "…on /<PAGE_ID>/messages"
PTOK=$(curl -sS "$SIM/_sim/tokens?account=$PAGE" | "$PYTHON3" -c 'import json,sys; print([t["token"] for t in json.load(sys.stdin) if t["kind"]=="page"][0])')
like "$(curl -sS -X POST -H "Authorization: Bearer $PTOK" -H 'Content-Type: application/json' \
	--data '{"recipient":{"comment_id":"18000000000000301"},"message":{"text":"x"}}' \
	"$SIM/graph.facebook.com/v25.0/$A3/messages")" '"code": ?3' "the simulator: /<IG_ID>/messages with Facebook Login answers (#3)"
run ig-comments --api-key-file "$T/bianchi.key" hide 18000000000000301
is "$(field state)/$(simc 18000000000000301 hidden)" "done/True" "hide, Facebook Login"

# mention replies (§6): Facebook Login answers on /<IG_USER_ID>/mentions; Instagram Login cannot
media '{"account":"17841400000000002","id":"17900000000000302","comments":[{"id":"18000000000000302","from":"5550302","username":"fan2","text":"@rossi_consulting look at this"}]}'
sq "INSERT INTO comments(tenant_id, account_id, comment_id, field, media_id, from_id, from_username, text, created_at, received_at)
    SELECT tenant_id, id, '18000000000000302', 'mentions', '17900000000000302', '5550302', 'fan2', '@rossi_consulting look at this', strftime('%s','now'), strftime('%s','now') FROM accounts WHERE external_id = '$A3';"
run ig-comments --api-key-file "$T/bianchi.key" reply 18000000000000302 "Thanks for the mention!"
is_rc 0 "reply to a mention (Facebook Login)"
is "$(seen POST /$A3/mentions)" "1" "…on /<IG_USER_ID>/mentions"
like "$(curl -sS "$SIM/_sim/requests?path=/$A3/mentions" | jget 0.body)" "media_id=17900000000000302.*comment_id=18000000000000302" \
	"…naming the media and the comment"
is "$(simc "$(field reply_id)" parent)" "18000000000000302" "…the answer sits under the mentioning comment"
run ig-comments --tenant rossi reply 18000000000000091 "hi"
is_rc 65 "a mention reply with Instagram Login: 65"
like "$err" "needs Facebook Login" "…says why"

# --- tenancy and roles ------------------------------------------------------------
run ig-comments --api-key-file "$T/bianchi.key" hide $C_ASK
is_rc 65 "tenant bianchi does not see rossi's comment"
is "$err" "ig-comments: unknown comment '$C_ASK'" "…and the message names nothing of rossi"
run ig-comments --api-key-file "$T/bianchi.key" --tenant rossi list
is_rc 77 "a bianchi key naming rossi: 77"
run ig-comments --api-key-file "$T/bianchi.key" list --format csv
unlike "$out" "$C_ASK" "bianchi's board has none of rossi's comments"
run ig-comments --api-key-file "$T/viewer.key" list --media $M1
is_rc 0 "viewer reads"
run ig-comments --api-key-file "$T/viewer.key" hide $C_ASK
is_rc 77 "viewer may not moderate: 77"
like "$err" "role 'viewer' may not change comments" "…says so"
run ig-comments --api-key-file "$T/sales.key" tag $C_ASK lead delivery
is_rc 0 "sales tags"
is "$(field after.tags)" "delivery lead" "tags sorted"
run ig-comments --api-key-file "$T/sales.key" assign $C_ASK nobody@x.test
is_rc 65 "assigning to a non-member: 65"
run ig-comments --api-key-file "$T/sales.key" assign $C_ASK sales@rossi.test
is_rc 0 "assign to a member"
run ig-comments --tenant rossi list --assigned sales@rossi.test --tag lead
is "$(field comment)" "$C_ASK" "list --assigned --tag"

# --- rules as code --------------------------------------------------------------------
cat > "$T/bad.rules" <<'EOF'
rule spam
  when link
  then hid
rule q
  when regex "(("
  then tag x
EOF
run ig-comments rules check "$T/bad.rules"
is_rc 65 "rules check: bad file 65"
like "$err" "bad.rules:3: unknown action 'hid'" "an error with its line"
like "$err" "bad.rules:5: bad regular expression" "every error, with its line"
cat > "$T/good.rules" <<'EOF'
# spam is hidden, questions answered in private
allow @our_partner
rule spam-links
  when link
  then hide
  then tag spam
  stop
rule questions
  when question
  unless reply
  then tag question
  then dm "Thanks for asking! We have sent you the details in a DM."
EOF
run ig-comments rules check "$T/good.rules"
is_rc 0 "rules check: good file"
is "$(field rule)/$(field line)" "spam-links/3" "…lists the rules with their lines"
run ig-comments --tenant rossi rules set "$T/good.rules"
is_rc 0 "rules set"
run ig-comments --api-key-file "$T/viewer.key" rules set "$T/good.rules"
is_rc 77 "viewer may not set rules"

# the pipeline: a webhook comment → ig-route → ig-comments moderate
env_=$(simctl POST /_sim/media/$M2/comment '{"id":"18000000000000020","from":"5550020","username":"eve","text":"cheap likes at promo.xyz","webhook":true}' |
	"$PYTHON3" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["envelope"]))')
run_in "$env_" ig-route
ROUTED=$out
run_in "$ROUTED" ig-comments moderate --dry-run
is_rc 0 "moderate --dry-run"
is "$(field rule)/$(field action)/$(field result)" "spam-links:5/hide/dry_run" "the decision names its rule"
is "$(simc 18000000000000020 hidden)" "False" "dry run: nothing sent"
run_in "$ROUTED" ig-comments moderate
is_rc 0 "ig-route | ig-comments moderate"
is "$(field result)" "done" "the spam is hidden"
is "$(simc 18000000000000020 hidden)/$(sq "SELECT tags FROM comments WHERE comment_id = '18000000000000020'")" "True/spam" \
	"Meta has it hidden; tagged spam"
is "$(sq "SELECT rule || ' ' || origin FROM comment_actions WHERE comment_id = '18000000000000020' AND action = 'hide'")" \
	"spam-links:5 rule" "the action row names the rule"
run_in "$ROUTED" ig-comments moderate
is "$rc/$out" "0/" "the same event again: already decided, nothing done"
run_in '{"type":"message","tenant":"rossi"}
not json
' ig-comments moderate
is_rc 65 "a bad line in the stream: 65 at the end"
like "$err" "stdin:2:" "…reported with its line"
is "$(sq "SELECT count(*) FROM dead_letters WHERE source = 'ig-comments' AND CAST(raw AS TEXT) = 'not json'")" "1" "…and kept as a dead letter"

# --pending over the store, backtest
run ig-comments --tenant rossi moderate --pending --dry-run
is_rc 0 "moderate --pending --dry-run"
like "$out" '"comment":"'$C_ASK'","account":"'$A1'","rule":"questions:12","action":"dm","result":"dry_run"' "…the question would get a DM"
run ig-comments --tenant rossi moderate --pending
is_rc 0 "moderate --pending"
like "$out" '"comment":"'$C_ASK'".*"action":"dm","result":"refused","reason":"dm: comment' "…the DM refused: it already has one"
unlike "$out" "\"comment\":\"$C_OWN\"" "…the account's own comment is never moderated"
run ig-comments --tenant rossi moderate --pending
is "$out" "" "a second --pending finds nothing new"
simctl POST /_sim/media/$M2/comment '{"id":"18000000000000021","from":"5550021","username":"zed","text":"win at bet.win now"}' >/dev/null
ig-comments --tenant rossi sync >/dev/null
run ig-comments moderate --pending
is_rc 0 "the store owner moderates every tenant with rules, without --tenant"
like "$out" '"comment":"18000000000000021".*"action":"hide","result":"done"' "…the new spam is hidden"
BEFORE=$(sq "SELECT count(*) FROM comment_actions")
run ig-comments --tenant rossi backtest --days 30
is_rc 0 "backtest"
like "$out" '"summary":true,"rule":"spam-links","line":3' "counts per rule"
is "$(sq "SELECT count(*) FROM comment_actions")" "$BEFORE" "backtest changes nothing"
run ig-comments --api-key-file "$T/bianchi.key" backtest
is_rc 65 "backtest without rules: 65"
like "$err" "no rules stored" "…says what to do"
run ig-comments --tenant rossi backtest --rules "$T/good.rules" --summary --format table
like "$out" "questions" "backtest --rules --summary --format table"

# --- the agent's voice: reply --ai, drafts, loop guards --------------------------------------
ig-reply --tenant rossi kb add --title "Delivery" --body "We deliver in Brera and all of central Milan, every day from 18:00." >/dev/null
simctl POST /_sim/media/$M2/comment '{"id":"18000000000000030","from":"5550030","username":"fra","text":"do you deliver in Brera?"}' >/dev/null
ig-comments --tenant rossi sync >/dev/null
run ig-comments --tenant rossi reply 18000000000000030 --ai --draft
is_rc 0 "reply --ai --draft"
is "$(field state)" "draft" "…kept as a draft"
like "$(field text)" "Brera" "…composed from the knowledge base"
DRAFT=$(field action_id)
is "$(seen POST /18000000000000030/replies)" "0" "a draft is not sent"
run ig-comments --tenant rossi approve $DRAFT
is_rc 0 "approve the draft"
is "$(field state)" "done" "…sent and confirmed"
run ig-comments --tenant rossi reply 18000000000000030 --ai
is_rc 65 "a second automated reply to the same user on the same post: refused"
like "$err" "loop guard" "…by the loop guard"
run ig-comments --tenant rossi reply $C_OWN --ai
is_rc 65 "the account's own comment is never answered automatically"

# --- GDPR: export and erasure cover comment authors, by id and by username ------------------
sq "INSERT INTO comments(tenant_id, account_id, comment_id, field, media_id, from_username, text, created_at, received_at)
    SELECT tenant_id, id, '18000000000000099', 'comments', '$M1', 'bob', 'an old comment of bob, no id', 0, 0 FROM accounts WHERE external_id = '$A1';"
run tenant-admin export --tenant rossi --participant 5550002
is_rc 0 "export one comment author"
is "$(printf '%s' "$out" | "$PYTHON3" -c 'import json,sys; d=json.load(sys.stdin); print(len(d["comments"]), len(d["comments_by_username"]), sorted({a["action"] for a in d["comment_actions"]}))')" \
	"1 1 ['assign', 'dm', 'tag']" "…their comments, by id and by username, and the actions on them"
run tenant-admin erase --participant 5550002
is_rc 0 "erase one comment author"
is "$(sq "SELECT count(*) FROM comments WHERE from_id = '5550002' OR from_username = 'bob'")" "0" "their comments are gone, by id and by username"
is "$(sq "SELECT count(*) FROM comment_actions WHERE from_id = '5550002'")" "0" "…and the actions on them"
is "$(sq "SELECT count(*) FROM audit_log WHERE action LIKE 'comments.%' AND target = '$C_ASK'")" "0" "…and the audit rows about them"
is "$(sq "SELECT count(*) FROM comments WHERE comment_id = '$C_OWN'")" "1" "other comments stay"

# --- loop guard: at most 5 automated replies per post in 10 minutes -----------------------------
media "{\"account\":\"$A1\",\"id\":\"17900000000000500\",\"comments\":[$(for i in 1 2 3 4 5 6; do printf '%s{"id":"1800000000000050%d","from":"555050%d","username":"fan%d","text":"thanks a lot"}' "$([ $i = 1 ] || echo ,)" $i $i $i; done)]}"
ig-comments --tenant rossi sync >/dev/null
printf 'rule thanks\n  when keyword thanks\n  then reply "You are welcome!"\n' > "$T/thanks.rules"
run ig-comments --tenant rossi moderate --pending --rules "$T/thanks.rules"
is_rc 0 "moderate with a reply rule"
is "$(printf '%s\n' "$out" | grep -c '"result":"done"')" "5" "five automated replies on the post"
like "$out" '"result":"refused","reason":"loop guard: 5 automated replies on post 17900000000000500 in 10 minutes already"' \
	"the sixth is held back by the loop guard"
run ig-comments --tenant rossi moderate --pending --since 1h
is "$out" "" "moderate --pending --since: nothing left"

# --- two runs racing on one comment: one send ------------------------------------------------
simctl POST /_sim/media/$M2/comment '{"id":"18000000000000040","from":"5550040","username":"gus","text":"race"}' >/dev/null
ig-comments --tenant rossi sync >/dev/null
simctl POST /_sim/latency '{"ms":400}' >/dev/null
curl -sS -X DELETE "$SIM/_sim/requests" >/dev/null
ig-comments --tenant rossi reply 18000000000000040 "first" > "$T/r1" 2>&1 & p1=$!
ig-comments --tenant rossi reply 18000000000000040 "second" > "$T/r2" 2>&1 & p2=$!
wait $p1; rc1=$?; wait $p2; rc2=$?
simctl POST /_sim/latency '{"ms":0}' >/dev/null
is "$(seen POST /18000000000000040/replies)" "1" "two racing replies: Meta gets one"
is "$(( (rc1 == 0) + (rc2 == 0) ))/$(( (rc1 == 65) + (rc2 == 65) ))" "1/1" "…one done, the other refused"

# --- the openai engine, a revoked token, erasure of an account --------------------------------
A2=17841400000000002
export IGKIT_LLM_KEY=sk-sim-test
tenant-admin --tenant rossi agent create luca --business-name "Pizzeria Rossi" --engine openai \
	--model sim-model --personality "calm and formal" >/dev/null
simctl POST /_sim/token "{\"action\":\"issue\",\"account\":\"$A2\"}" | jget token.token |
	ig-connect add --tenant rossi --agent luca >/dev/null
media "{\"account\":\"$A2\",\"id\":\"17900000000000201\",\"comments\":[{\"id\":\"18000000000000201\",\"from\":\"5550201\",\"username\":\"gia\",\"text\":\"Are you open on Sunday?\"}]}"
ig-comments --tenant rossi sync --account $A2 >/dev/null
run ig-comments --tenant rossi reply 18000000000000201 --ai
is_rc 0 "reply --ai with the openai engine"
like "$(field text)" "." "…the LLM's answer is posted"
is "$(seen POST /llm/v1/chat/completions)" "1" "…one chat completion"
like "$(curl -sS "$SIM/_sim/requests?path=/llm/v1/chat/completions" | jget 0.body)" "calm and formal" "…with the agent's persona"
simctl POST /_sim/token "{\"action\":\"revoke\",\"account\":\"$A2\"}" >/dev/null
run ig-comments --tenant rossi sync --account $A2
is_rc 77 "sync with a revoked token: 77"
is "$(field error | grep -c 190)" "1" "…the account's record says why"
is "$(sq "SELECT status FROM accounts WHERE external_id = '$A2'")" "needs_reauth" "…and the account waits for ig-connect"
run ig-connect disconnect $A3 --erase
is "$(sq "SELECT (SELECT count(*) FROM comments c JOIN accounts a ON a.id = c.account_id WHERE a.external_id = '$A3') + (SELECT count(*) FROM comment_actions x JOIN accounts a ON a.id = x.account_id WHERE a.external_id = '$A3')")/$(sq "SELECT count(*) FROM comment_media WHERE media_id = '17900000000000301'")" \
	"0/0" "erasing an account purges its comments, actions and media"

# --- Meta's request id on successful actions -------------------------------------------------
CH=$(sq "SELECT c.comment_id FROM comments c JOIN accounts a ON a.id = c.account_id WHERE a.external_id = '$A1' AND c.own = 0 AND c.deleted = 0 AND c.hidden = 0 ORDER BY c.id LIMIT 1")
run ig-comments --tenant rossi hide $CH
is_rc 0 "(hide $CH)"
like "$(sq "SELECT trace_id FROM comment_actions WHERE comment_id = '$CH' AND action = 'hide' AND state = 'done' ORDER BY id DESC LIMIT 1")" '^A[A-Za-z0-9]+$' \
	"a successful hide keeps Meta's x-fb-trace-id"
is "$(sq "SELECT count(*) FROM comment_actions x JOIN accounts a ON a.id = x.account_id WHERE a.external_id = '$A1' AND x.state = 'done' AND x.error IS NULL AND x.trace_id IS NULL AND (x.action IN ('hide', 'unhide') OR (x.action IN ('reply', 'dm') AND x.result_id IS NOT NULL))")" 0 \
	"…as does every other action Meta answered at once (an approved draft's row is not a call)"
run ig-comments --tenant rossi log $CH
like "$out" '"action":"hide".*"trace_id":"A[A-Za-z0-9]+"' "log shows it"


# --- what the client may resend: only an answer that says nothing happened -----------------
# (graph.h: a non-idempotent request Meta may have acted on is never resent; the
# ambiguous cases above are each sent once)
media "{\"account\":\"$A1\",\"id\":\"17900000000000401\",\"comments\":[{\"id\":\"18000000000000401\",\"from\":\"5550401\",\"username\":\"rita\",\"text\":\"Do you deliver?\"},{\"id\":\"18000000000000402\",\"from\":\"5550402\",\"username\":\"sam\",\"text\":\"Gluten free?\"}]}"
ig-comments --tenant rossi sync --account $A1 >/dev/null
curl -sS -X DELETE "$SIM/_sim/requests" >/dev/null
simctl POST /_sim/inject '{"match":"/'$A1'/messages","method":"POST","count":1,"code":1200}' >/dev/null
run ig-comments --tenant rossi dm 18000000000000401 "Yes, everywhere in Milan"
is "$rc/$(field state)" "0/done" "a private reply refused with 1200 (not sent): the client sends it again"
is "$(seen POST /$A1/messages)/$(curl -sS "$SIM/_sim/messages?account=$A1" | "$PYTHON3" -c 'import json,sys; print(sum(1 for m in json.load(sys.stdin) if m.get("comment_id")=="18000000000000401"))')" \
	"2/1" "…two requests, one private reply delivered"
simctl POST /_sim/inject '{"match":"/18000000000000402/replies","method":"POST","count":1,"code":4,"usage_headers":false,"headers":{"Retry-After":"1"}}' >/dev/null
run ig-comments --tenant rossi reply 18000000000000402 "Yes: ask for the gluten-free base"
is "$rc/$(field state)" "0/done" "a reply rate limited for a second (not made): the client sends it again"
is "$(seen POST /18000000000000402/replies)/$(curl -sS "$SIM/_sim/comment/18000000000000402" | "$PYTHON3" -c 'import json,sys; print(len(json.load(sys.stdin)["replies"]))')" \
	"2/1" "…two requests, one reply at Meta"

done_testing
