#!/bin/bash
# ig-reply: decision rules, both engines, the outbox states, review, humans,
# roles, concurrent workers.  Accounts are connected with the real ig-connect
# (tokens issued by the simulator), inbound messages come through the real
# ig-route from the simulator's signed deliveries.
. "${top_srcdir:-.}/tests/lib.sh"

sim_start
export IGKIT_LLM_KEY=sk-sim-test
A1=17841400000000001   # marco: energetic, en, kb (tenant default)
A2=17841400000000002   # sara: empathetic, it, kb
A3=17841400000000010   # luca: openai
A4=17841400000000011   # dani: kb, debounce 60 s

# --- helpers ---------------------------------------------------------------
# An inbound text from USER to ACCOUNT: the simulator signs the delivery,
# ig-route stores it and prints the routed event.
route_msg() {
	"$PYTHON3" -c 'import json,sys; print(json.dumps({"kind":"ig_message_text","account":sys.argv[1],"user":sys.argv[2],"text":sys.argv[3],"envelope":True}))' \
		"$1" "$2" "$3" > "$T/trig.json"
	curl -sS -X POST -H 'Content-Type: application/json' --data @"$T/trig.json" "$SIM/_sim/trigger" |
		"$PYTHON3" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["envelope"]))' | ig-route
}
conv_of() { sq "SELECT c.id FROM conversations c JOIN accounts a ON a.id = c.account_id WHERE a.external_id = '$1' AND c.participant_id = '$2'"; }
# Messages the simulator accepted for USER on ACCOUNT.
sent_to() {
	curl -sS "$SIM/_sim/messages?account=$1" |
		"$PYTHON3" -c 'import json,sys; print(sum(1 for m in json.load(sys.stdin) if m["recipient"]==sys.argv[1] and m.get("mid")))' "$2"
}
last_sent() { # ACCOUNT FIELD
	curl -sS "$SIM/_sim/messages?account=$1" |
		"$PYTHON3" -c 'import json,sys; m=json.load(sys.stdin)[-1]; v=m.get(sys.argv[1]); print("" if v is None else v)' "$2"
}
connect() { # ACCOUNT TENANT AGENT
	simctl POST /_sim/token "{\"action\":\"issue\",\"account\":\"$1\"}" | jget token.token |
		ig-connect add --tenant "$2" --agent "$3" > /dev/null
}

# --- set-up with the real tenant-admin and ig-connect ---------------------
tenant-admin init > /dev/null
tenant-admin tenant create rossi --name "Pizzeria Rossi" > /dev/null
tenant-admin tenant create bianchi --name "Bianchi" > /dev/null
tenant-admin --tenant rossi agent create marco --display-name Marco \
	--personality "energetic and friendly" --business-name "Pizzeria Rossi" > /dev/null
tenant-admin --tenant rossi agent create sara --display-name Sara --personality "empathetic, warm" \
	--business-name "Pizzeria Rossi" --language it > /dev/null
tenant-admin --tenant rossi agent create luca --display-name Luca --personality "calm and formal" \
	--business-name "Pizzeria Rossi" --engine openai --model sim-model \
	--instructions "Never promise discounts." > /dev/null
tenant-admin --tenant rossi agent create dani --display-name Dani --business-name "Pizzeria Rossi" \
	--debounce 60 > /dev/null
tenant-admin --tenant rossi location create centro \
	--context "Via Roma 1, Milano; parking in Piazza Duomo" > /dev/null
simctl POST /_sim/accounts '{"id":"17841400000000010","username":"luca_calmo"}' > /dev/null
simctl POST /_sim/accounts '{"id":"17841400000000011","username":"dani_pizza"}' > /dev/null
connect $A1 rossi marco; ok $? "ig-connect add account 1 (marco)"
connect $A2 rossi sara; ok $? "ig-connect add account 2 (sara)"
connect $A3 rossi luca; ok $? "ig-connect add account 3 (luca, openai)"
connect $A4 rossi dani; ok $? "ig-connect add account 4 (dani, debounce)"
ig-connect assign $A1 --agent marco --location centro > /dev/null
ok $? "account 1 gets the location centro"
tenant-admin --tenant rossi user add sales@rossi.test --role sales > /dev/null
tenant-admin --tenant rossi user add viewer@rossi.test --role viewer > /dev/null
tenant-admin --tenant bianchi user add boss@bianchi.test --role org_admin > /dev/null
tenant-admin --tenant rossi key create sales@rossi.test 2>/dev/null | jget key > "$T/sales.key"
tenant-admin --tenant rossi key create viewer@rossi.test 2>/dev/null | jget key > "$T/viewer.key"
tenant-admin --tenant bianchi key create boss@bianchi.test 2>/dev/null | jget key > "$T/bianchi.key"
chmod 600 "$T"/*.key
[ -s "$T/sales.key" ] && [ -s "$T/viewer.key" ]; ok $? "API keys for sales and viewer"

# --- usage -----------------------------------------------------------------
run ig-reply frobnicate; is_rc 64 "unknown subcommand → 64"
like "$err" "unknown subcommand 'frobnicate'" "…named in the message"
run ig-reply --limit 5; is_rc 64 "--limit without --pending → 64"
run ig-reply pause 1 --text hi; is_rc 64 "an option that does not apply → 64"
like "$err" "--text does not apply to pause" "…and says which"
run ig-reply --pending --dry-run --review; is_rc 64 "--dry-run with --review → 64"

# --- knowledge base and templates -----------------------------------------
run ig-reply --tenant rossi kb add --title "Opening hours" \
	--body "We are open Tuesday to Sunday, 12:00-15:00 and 19:00-23:30." --tags "hours open time"
is_rc 0 "kb add with options"
is "$(printf '%s' "$out" | jget title)" "Opening hours" "…prints the article"
run_in '{"title":"Gluten free","body":"Every pizza can be made with a gluten-free base.","tags":"celiac gluten"}
not json
{"title":"Delivery","body":"We deliver within 3 km of the restaurant until 23:00.","agent":"sara"}
{"body":"no title"}' ig-reply --tenant rossi kb add
is_rc 65 "kb add from JSON Lines with bad lines → 65"
like "$err" "stdin:2:" "…the bad JSON line is named"
like "$err" "stdin:4: an article needs a title" "…so is the article without a title"
is "$(sq "SELECT COUNT(*) FROM kb_articles")" 3 "…the good lines were added"
is "$(sq "SELECT g.name FROM kb_articles k JOIN agents g ON g.id = k.agent_id WHERE k.title = 'Delivery'")" \
	sara "…with the agent a line names"
run ig-reply --tenant rossi kb add --title "Only a title"; is_rc 64 "kb add --title without --body → 64"
run ig-reply --tenant rossi kb add --title T --body B --agent nobody; is_rc 65 "kb add for an unknown agent → 65"
like "$err" "unknown agent 'nobody' in tenant '" "…named"
run ig-reply --tenant rossi kb list; is_rc 0 "kb list"
is "$(printf '%s\n' "$out" | wc -l | tr -d ' ')" 3 "…lists the three articles"
run ig-reply --tenant rossi kb search "when are you open? what hours"; is_rc 0 "kb search"
is "$(printf '%s' "$out" | jget title)" "Opening hours" "…finds the opening hours first"
is "$(printf '%s' "$out" | jget coverage)" 1.0 "…covering every content term"
run ig-reply --tenant rossi kb rm 999; is_rc 65 "kb rm of an unknown article → 65"
# A commit that fails (here a deferred foreign key, checked at COMMIT) prints no record.
sq "CREATE TABLE kb_commit_fail (x INTEGER REFERENCES kb_articles(id) DEFERRABLE INITIALLY DEFERRED);
    CREATE TRIGGER kb_commit_fail_ins AFTER INSERT ON kb_articles BEGIN INSERT INTO kb_commit_fail VALUES (-1); END;
    CREATE TRIGGER kb_commit_fail_del AFTER DELETE ON kb_articles BEGIN INSERT INTO kb_commit_fail VALUES (-1); END;"
run ig-reply --tenant rossi kb add --title "Never" --body "stored"
ok "$([ "$rc" -ne 0 ] && [ -z "$out" ]; echo $?)" "kb add whose commit fails prints no record"
run_in '{"title":"Never","body":"stored"}' ig-reply --tenant rossi kb add
ok "$([ "$rc" -ne 0 ] && [ -z "$out" ]; echo $?)" "…nor from JSON Lines"
run ig-reply --tenant rossi kb rm "$(sq "SELECT min(id) FROM kb_articles")"
ok "$([ "$rc" -ne 0 ] && [ -z "$out" ]; echo $?)" "kb rm whose commit fails prints no record"
is "$(sq "SELECT COUNT(*) FROM kb_articles")" 3 "…and nothing changed"
sq "DROP TRIGGER kb_commit_fail_ins; DROP TRIGGER kb_commit_fail_del; DROP TABLE kb_commit_fail;"
run ig-reply --tenant rossi templates add welcome --text "Welcome to {business}! {agent} here."
is_rc 0 "templates add"
run ig-reply --tenant rossi templates add welcome --text "again"; is_rc 65 "a duplicate template → 65"
like "$err" "template 'welcome' already exists" "…said so"
run ig-reply --tenant rossi templates list; is_rc 0 "templates list"
is "$(printf '%s' "$out" | jget name)" welcome "…shows it"
run ig-reply --tenant rossi templates rm nothing; is_rc 65 "templates rm of an unknown name → 65"
run ig-reply --tenant rossi --api-key-file "$T/viewer.key" kb add --title X --body Y
is_rc 77 "a viewer may not add articles → 77"
run ig-reply --tenant rossi --api-key-file "$T/viewer.key" kb list
is_rc 0 "…but may list them"

# --- the kb engine from routed events (real ig-route) ----------------------
route_msg $A1 9000001 "Hi, what are your opening hours?" > "$T/ev1"
ok $? "ig-route stores an inbound message and prints the event"
run ig-reply < "$T/ev1"; is_rc 0 "ig-reply answers the routed event"
is "$(printf '%s' "$out" | jget state)" sent "…state sent"
like "$(printf '%s' "$out" | jget text)" "^Hey there! Great question! We are open Tuesday to Sunday" \
	"…in marco's energetic voice, from the article"
like "$(printf '%s' "$out" | jget text)" "— Marco, Pizzeria Rossi$" "…signed with his name and business"
is "$(sent_to $A1 9000001)" 1 "the simulator received one message"
C1=$(conv_of $A1 9000001)
is "$(sq "SELECT mid FROM outbox WHERE conversation_id = $C1")" "$(last_sent $A1 mid)" \
	"Meta's message id is stored in the outbox"
is "$(sq "SELECT COUNT(*) FROM messages WHERE conversation_id = $C1 AND direction = 'in' AND replied_at IS NULL")" 0 \
	"the message is marked answered"
run ig-reply --explain < "$T/ev1"; is_rc 0 "the same event again"
is "$(printf '%s' "$out" | jget skip)" no_unanswered "…is skipped: nothing unanswered"
is "$(sent_to $A1 9000001)" 1 "…and nothing is sent twice"

route_msg $A2 9000002 "Avete la pizza senza glutine? celiac gluten" > "$T/ev2"
run ig-reply < "$T/ev2"; is_rc 0 "an event for sara's account"
like "$(printf '%s' "$out" | jget text)" "^Capisco, e sono felice" "…answered in sara's empathetic Italian voice"
like "$(printf '%s' "$out" | jget text)" "— Sara, Pizzeria Rossi$" "…signed Sara"

route_msg $A1 9000003 "Where can I park the car?" > "$T/ev3"
run ig-reply < "$T/ev3"; is_rc 0 "a question the location answers"
like "$(printf '%s' "$out" | jget text)" "centro: Via Roma 1, Milano; parking in Piazza Duomo" \
	"…uses the account's location context"
is "$(printf '%s' "$out" | jget source)" location "…and says so"

# bad input lines: reported, kept as dead letters, the stream goes on
route_msg $A1 9000004 "Hello there" > "$T/ev4"
run_in "this is not json
{\"type\":\"message\",\"tenant\":\"rossi\",\"account\":\"$A1\"}
{\"type\":\"message\",\"tenant\":\"bianchi\",\"account\":\"$A1\",\"conversation\":$C1}
{\"type\":\"read\",\"tenant\":\"rossi\"}
$(cat "$T/ev4")" ig-reply
is_rc 65 "a stream with bad lines → 65"
like "$err" "stdin:1:" "…line 1 reported"
like "$err" "stdin:2: message event without a \"conversation\" number" "…line 2 reported"
like "$err" "stdin:3: no conversation $C1\$" "…line 3 reported (bianchi has no such conversation)"
is "$(sq "SELECT COUNT(*) FROM dead_letters WHERE source = 'ig-reply'")" 3 "…three dead letters kept"
is "$(printf '%s' "$out" | jget state)" sent "…and the good line was still answered"
like "$(printf '%s' "$out" | jget text)" "What can I do for you today\\?" "…a greeting gets a greeting"

# --- skip reasons ----------------------------------------------------------
route_msg $A1 9000010 "Do you have gluten free pizza?" > /dev/null
C=$(conv_of $A1 9000010)
run ig-reply pause "$C" --reason "angry customer"; is_rc 0 "pause"
is "$(printf '%s' "$out" | jget ai)" paused "…the AI is paused"
run ig-reply --pending --explain; is_rc 0 "--pending with a paused conversation"
like "$out" "\"conversation\":$C,[^}]*\"skip\":\"ai_paused\",\"detail\":\"angry customer\"" "…skip ai_paused with the reason"
is "$(sq "SELECT COUNT(*) FROM messages WHERE conversation_id = $C AND replied_at IS NULL")" 1 \
	"…the message stays unanswered"
run ig-reply resume "$C"; is_rc 0 "resume"
run ig-reply --pending; is_rc 0 "…then --pending answers it"
is "$(sent_to $A1 9000010)" 1 "…one message sent"

route_msg $A1 9000011 "What are the opening hours?" > /dev/null
C=$(conv_of $A1 9000011)
sq "UPDATE conversations SET thread_owner = '263902037430900' WHERE id = $C"
run ig-reply --pending --explain
like "$out" "\"conversation\":$C,[^}]*\"skip\":\"not_thread_owner\"" "another app owns the thread → not_thread_owner"
sq "UPDATE conversations SET thread_owner = NULL WHERE id = $C"
tenant-admin --tenant rossi agent update marco --active no > /dev/null
run ig-reply --pending --explain
like "$out" "\"conversation\":$C,[^}]*\"skip\":\"agent_inactive\"" "agent switched off → agent_inactive"
tenant-admin --tenant rossi agent update marco --active yes > /dev/null
NOW=$(date +%s)
IGKIT_NOW=$((NOW + 25 * 3600)) run ig-reply --explain < <(printf '{"type":"message","tenant":"rossi","account":"%s","conversation":%s}\n' $A1 "$C")
like "$out" "\"skip\":\"window_closed\"" "25 h later → window_closed"
is "$(sent_to $A1 9000011)" 0 "…nothing sent"
sq "UPDATE accounts SET status = 'needs_reauth' WHERE external_id = '$A1'"
run ig-reply --pending --explain; is_rc 77 "an account needing re-authorisation → 77"
like "$out" "\"conversation\":$C,[^}]*\"skip\":\"no_account_token\"" "…skip no_account_token"
sq "UPDATE accounts SET status = 'active' WHERE external_id = '$A1'"
run ig-reply --pending; is_rc 0 "once re-authorised, --pending answers"
is "$(sent_to $A1 9000011)" 1 "…one message"

# debounce: a burst of two gets one answer, after the agent's 60 s
route_msg $A4 9000020 "Hello" > /dev/null
route_msg $A4 9000020 "what are your opening hours" > /dev/null
C=$(conv_of $A4 9000020)
run ig-reply --pending --explain; is_rc 0 "within the debounce window"
like "$out" "\"conversation\":$C,[^}]*\"skip\":\"debounce\"" "…skip debounce"
like "$out" "\"wait\":(5[0-9]|60)" "…with the seconds left"
is "$(sq "SELECT COUNT(*) FROM messages WHERE conversation_id = $C AND replied_at IS NULL")" 2 \
	"…the burst stays unanswered"
IGKIT_NOW=$(($(date +%s) + 61)) run ig-reply --pending; is_rc 0 "61 s later"
is "$(printf '%s\n' "$out" | grep -c "\"conversation\":$C,")" 1 "…one answer for the burst"
is "$(sent_to $A4 9000020)" 1 "…one message sent"
is "$(sq "SELECT COUNT(DISTINCT reply_outbox_id) || '/' || COUNT(*) FROM messages WHERE conversation_id = $C AND replied_at IS NOT NULL")" 1/2 \
	"…both messages answered by the same outbox row"

# loop guard
route_msg $A1 9000010 "and do you have gluten free pizza?" > /dev/null
C=$(conv_of $A1 9000010)
IGKIT_REPLY_MAX_PER_HOUR=1 run ig-reply --pending --explain
like "$out" "\"conversation\":$C,[^}]*\"skip\":\"loop_guard\"" "a second automated reply within the hour → loop_guard"
is "$(sq "SELECT reason FROM escalations WHERE conversation_id = $C AND status = 'open'")" loop_guard \
	"…and an escalation opens"
IGKIT_REPLY_MAX_PER_HOUR=abc run ig-reply --pending; is_rc 78 "a bad setting → 78"

# low confidence: escalate instead of guessing
route_msg $A1 9000012 "Is the quantum spectrometer calibrated weekly?" > /dev/null
C=$(conv_of $A1 9000012)
run ig-reply --pending; is_rc 0 "a question the knowledge base cannot answer"
like "$out" "\"conversation\":$C,[^}]*\"state\":\"escalated\",\"reason\":\"low_confidence\"" "…is escalated"
is "$(sent_to $A1 9000012)" 0 "…nothing is sent"
is "$(sq "SELECT status || ' ' || ai_state FROM conversations WHERE id = $C")" "pending active" \
	"…the conversation waits for a human, AI stays on"
is "$(sq "SELECT COUNT(*) FROM escalations WHERE conversation_id = $C AND status = 'open'")" 1 "…one open escalation"
run ig-reply resume "$C"; is_rc 0 "resume"
is "$(sq "SELECT COUNT(*) FROM escalations WHERE conversation_id = $C AND status = 'open'")" 0 \
	"…resolves the escalation"

# --- openai engine ----------------------------------------------------------
route_msg $A3 9000030 "Can I book a table for two?" > "$T/ev30"
run ig-reply < "$T/ev30"; is_rc 0 "openai engine"
is "$(printf '%s' "$out" | jget text)" "Luca (calm and formal) re: Can I book a table for two?" \
	"…the LLM answered in luca's voice"
is "$(last_sent $A3 text)" "Luca (calm and formal) re: Can I book a table for two?" "…and that was sent"
is "$(sq "SELECT calls FROM llm_usage")" 1 "tokens are recorded per tenant per day"
ok "$([ "$(sq "SELECT total_tokens FROM llm_usage")" -gt 0 ]; echo $?)" "…a positive count"
route_msg $A3 9000031 "Another question" > "$T/ev31"
IGKIT_LLM_DAILY_TOKEN_CAP=1 run ig-reply --explain < "$T/ev31"
like "$out" "\"skip\":\"token_cap\"" "at the daily token cap → token_cap"
is "$(sq "SELECT reason FROM escalations WHERE conversation_id = $(conv_of $A3 9000031)")" token_cap "…escalated"
route_msg $A3 9000032 "A third question" > "$T/ev32"
IGKIT_LLM_KEY= IGKIT_LLM_KEY_FILE=/nonexistent run ig-reply < "$T/ev32"
ok "$([ "$rc" -ne 0 ]; echo $?)" "an unusable LLM key fails the run"

# --- dry run and review ----------------------------------------------------
route_msg $A1 9000040 "What are your opening hours please" > /dev/null
C=$(conv_of $A1 9000040)
before=$(sq "SELECT COUNT(*) FROM outbox")
run ig-reply --pending --dry-run; is_rc 0 "--dry-run"
is "$(printf '%s' "$out" | jget state)" dry_run "…prints a draft"
is "$(sq "SELECT COUNT(*) FROM outbox")" "$before" "…creates no outbox row"
is "$(sq "SELECT COUNT(*) FROM messages WHERE conversation_id = $C AND replied_at IS NULL")" 1 "…marks nothing"
is "$(sent_to $A1 9000040)" 0 "…sends nothing"
run ig-reply --pending --review; is_rc 0 "--review"
is "$(printf '%s' "$out" | jget state)" draft "…stores a draft"
D=$(printf '%s' "$out" | jget outbox)
run ig-reply --tenant rossi drafts; is_rc 0 "drafts"
is "$(printf '%s' "$out" | jget id)" "$D" "…lists it"
is "$(sent_to $A1 9000040)" 0 "a draft is not sent"
run ig-reply --tenant rossi approve "$D" --text "Open Tuesday to Sunday, see you soon!"
is_rc 0 "approve with an edited text"
is "$(printf '%s' "$out" | jget state)" sent "…sends it"
is "$(last_sent $A1 text)" "Open Tuesday to Sunday, see you soon!" "…the edited text"
run ig-reply --tenant rossi approve "$D"; is_rc 65 "approving a sent row → 65"
like "$err" "outbox row $D is sent" "…names its state"
route_msg $A1 9000041 "opening hours?" > /dev/null
run ig-reply --pending --review
D=$(printf '%s' "$out" | jget outbox)
run ig-reply --tenant rossi reject "$D"; is_rc 0 "reject"
is "$(sq "SELECT state FROM outbox WHERE id = $D")" rejected "…the draft is rejected"

# --- outbox states ---------------------------------------------------------
route_msg $A2 9000050 "gluten free?" > /dev/null
simctl POST /_sim/inject '{"match":"/messages","code":10,"subcode":2534022,"message":"(#10) This message is sent outside of allowed window."}' > /dev/null
run ig-reply --pending; is_rc 69 "a window error → 69"
is "$(printf '%s' "$out" | jget state)" failed "…the row is failed"
like "$(printf '%s' "$out" | jget error)" "2534022" "…with Meta's code"
is "$(sent_to $A2 9000050)" 0 "…and it is not retried"

route_msg $A2 9000051 "gluten free pizza?" > /dev/null
simctl POST /_sim/inject '{"match":"/messages","code":190,"subcode":460,"message":"Error validating access token"}' > /dev/null
run ig-reply --pending; is_rc 77 "error 190 → 77"
is "$(sq "SELECT status || ' ' || error_count FROM accounts WHERE external_id = '$A2'")" "needs_reauth 1" \
	"…the account needs re-authorisation, error counted"
like "$(sq "SELECT last_error FROM accounts WHERE external_id = '$A2'")" "190" "…with the last error"
sq "UPDATE accounts SET status = 'active' WHERE external_id = '$A2'"

route_msg $A2 9000052 "gluten free?" > /dev/null
C=$(conv_of $A2 9000052)
simctl POST /_sim/inject '{"match":"/messages","code":613,"subcode":2534040,"is_transient":true,"count":-1}' > /dev/null
IGKIT_HTTP_RETRIES=1 run ig-reply --pending; is_rc 75 "rate limited beyond the retries → 75"
is "$(sq "SELECT state FROM outbox WHERE conversation_id = $C")" pending "…the row goes back to pending"
simctl DELETE /_sim/inject > /dev/null
run ig-reply --pending; is_rc 0 "the next run"
is "$(sq "SELECT state FROM outbox WHERE conversation_id = $C")" sent "…sends it"
is "$(sent_to $A2 9000052)" 1 "…once"

# A reply left pending by a temporary failure is not sent once a human took the conversation.
route_msg $A2 9000055 "gluten free?" > /dev/null
route_msg $A2 9000056 "gluten free?" > /dev/null
C55=$(conv_of $A2 9000055); C56=$(conv_of $A2 9000056)
simctl POST /_sim/inject '{"match":"/messages","code":1200,"count":-1}' > /dev/null
IGKIT_HTTP_RETRIES=0 run ig-reply --pending; is_rc 75 "a temporary send failure (1200) → 75"
is "$(sq "SELECT group_concat(state) FROM outbox WHERE conversation_id IN ($C55, $C56)")" "pending,pending" \
	"…both AI rows stay pending"
simctl DELETE /_sim/inject > /dev/null
run ig-reply pause "$C55"; is_rc 0 "a human pauses the first conversation"
sleep 1   # the human reply comes in a later second than the queued row
run ig-reply send "$C56" --text "Giulia here, yes we do." --keep-ai; is_rc 0 "…and answers the second one"
run ig-reply --pending --explain; is_rc 0 "--pending afterwards"
is "$(sent_to $A2 9000055)/$(sent_to $A2 9000056)" "0/1" "…sends neither AI reply (only the human's went out)"
is "$(sq "SELECT state || ' ' || error FROM outbox WHERE conversation_id = $C55 AND origin = 'ai'")" "abandoned ai paused" \
	"…the paused conversation's row is abandoned: ai paused"
is "$(sq "SELECT state || ' ' || error FROM outbox WHERE conversation_id = $C56 AND origin = 'ai'")" "abandoned human took over" \
	"…the other's: human took over"
like "$out" "\"conversation\":$C55,[^}]*\"state\":\"abandoned\",[^}]*\"skip\":\"ai_paused\"" "…reported as skipped with --explain"
run ig-reply resume "$C55"

route_msg $A2 9000053 "gluten free?" > /dev/null
C=$(conv_of $A2 9000053)
simctl POST /_sim/inject '{"match":"/messages","hang":4}' > /dev/null
IGKIT_HTTP_TIMEOUT=1 run ig-reply --pending; is_rc 75 "a send that timed out after leaving → 75"
U=$(sq "SELECT id FROM outbox WHERE conversation_id = $C")
is "$(sq "SELECT state FROM outbox WHERE id = $U")" unknown "…the row is unknown"
sleep 4
n=$(sent_to $A2 9000053)
run ig-reply --pending; is_rc 0 "--pending afterwards"
is "$(sent_to $A2 9000053)" "$n" "…does not resend an unknown row"
run ig-reply --tenant rossi outbox list --state unknown; is_rc 0 "outbox list --state unknown"
is "$(printf '%s' "$out" | jget id)" "$U" "…lists it"
run ig-reply --tenant rossi outbox abandon "$U"; is_rc 0 "outbox abandon"
is "$(sq "SELECT state FROM outbox WHERE id = $U")" abandoned "…abandoned"
run ig-reply --tenant rossi outbox retry "$U"; is_rc 65 "retry of an abandoned row → 65"
route_msg $A2 9000054 "gluten free?" > /dev/null
C=$(conv_of $A2 9000054)
simctl POST /_sim/inject '{"match":"/messages","hang":3}' > /dev/null
IGKIT_HTTP_TIMEOUT=1 run ig-reply --pending
U=$(sq "SELECT id FROM outbox WHERE conversation_id = $C")
sleep 3
run ig-reply --tenant rossi outbox retry "$U"; is_rc 0 "outbox retry of an unknown row (a human's decision)"
is "$(sq "SELECT state FROM outbox WHERE id = $U")" sent "…sends it"

# a worker that died mid-send: its lease runs out, the row becomes unknown
NOWS=$(date +%s)
sq "INSERT INTO outbox (tenant_id, account_id, conversation_id, origin, recipient, text, state, attempts, lease_owner, lease_until, created_at, updated_at)
    SELECT tenant_id, account_id, id, 'ai', participant_id, 'x', 'sending', 1, 'dead:1:x', $NOWS - 10, $NOWS - 400, $NOWS - 400 FROM conversations WHERE id = $C"
run ig-reply --pending; is_rc 75 "a stale 'sending' row → 75"
like "$err" "1 outbox row left 'sending' by a stopped worker is now 'unknown'" "…reported"
is "$(sq "SELECT COUNT(*) FROM outbox WHERE lease_owner IS NULL AND state = 'unknown' AND text = 'x'")" 1 "…and unknown"

# --- humans ----------------------------------------------------------------
route_msg $A1 9000060 "I need to talk to a person" > /dev/null
C=$(conv_of $A1 9000060)
run ig-reply send "$C" --text "Hi, this is Giulia from the restaurant."; is_rc 0 "a human reply within 24 h"
is "$(printf '%s' "$out" | jget state)" sent "…is sent"
is "$(printf '%s' "$out" | jget origin)" human "…as a human reply"
is "$(last_sent $A1 tag)" "" "…without a tag"
is "$(sq "SELECT ai_state FROM conversations WHERE id = $C")" paused "…and pauses the AI"
is "$(sq "SELECT COUNT(*) FROM messages WHERE conversation_id = $C AND replied_at IS NULL")" 0 "…answering the waiting message"
is "$(sq "SELECT COUNT(*) FROM audit_log WHERE action = 'conversation.send' AND target = 'conversation:$C'")" 1 "…audited"
run ig-reply resume "$C"
run ig-reply send "$C" --template welcome --keep-ai; is_rc 0 "send --template --keep-ai"
is "$(last_sent $A1 text)" "Welcome to Pizzeria Rossi! Marco here." "…the template, filled"
is "$(sq "SELECT origin || ' ' || (SELECT ai_state FROM conversations WHERE id = $C) FROM outbox ORDER BY id DESC LIMIT 1")" \
	"template active" "…origin template, AI left on"
run ig-reply send "$C" --text hi --template welcome; is_rc 64 "--text with --template → 64"
run ig-reply send 99999 --text hi; is_rc 65 "an unknown conversation → 65"
long=$(head -c 1001 /dev/zero | tr '\0' a)
run ig-reply send "$C" --text "$long"; is_rc 65 "a text over 1000 bytes → 65"
run ig-reply send "$C" --text "just checking" --dry-run; is_rc 0 "send --dry-run"
is "$(printf '%s' "$out" | jget state)" dry_run "…sends nothing"

run ig-reply assign "$C" sales@rossi.test; is_rc 0 "assign"
is "$(printf '%s' "$out" | jget assignee)" sales@rossi.test "…to a member"
run ig-reply assign "$C" stranger@x.test; is_rc 65 "assign to a non-member → 65"
run ig-reply status "$C" closed; is_rc 0 "status closed"
run ig-reply priority "$C" P0; is_rc 0 "priority P0"
run ig-reply priority "$C" P9; is_rc 65 "priority P9 → 65"
run ig-reply --tenant rossi conversations --status closed --priority P0; is_rc 0 "conversations with filters"
is "$(printf '%s' "$out" | jget id)" "$C" "…finds it"
run ig-reply --tenant rossi conversations --unanswered --format csv; is_rc 0 "conversations --format csv"
like "$out" "^id,account,participant" "…has a header"

# roles
run ig-reply --api-key-file "$T/viewer.key" send "$C" --text hi; is_rc 77 "a viewer may not send → 77"
like "$err" "permission denied" "…permission denied"
run ig-reply --api-key-file "$T/viewer.key" pause "$C"; is_rc 77 "a viewer may not pause → 77"
run ig-reply --api-key-file "$T/viewer.key" conversations; is_rc 0 "a viewer may list conversations"
run ig-reply --api-key-file "$T/sales.key" pause "$C"; is_rc 0 "sales may take over"
run ig-reply --api-key-file "$T/bianchi.key" resume "$C"; is_rc 65 "another tenant's key does not find the conversation"
run ig-reply --api-key-file "$T/bianchi.key" --tenant rossi conversations; is_rc 77 "…nor lists rossi's conversations (77)"
run ig-reply --api-key-file "$T/viewer.key" --pending; is_rc 77 "a viewer may not run the reply worker"

# --- two workers at once never answer twice -------------------------------
NOWS=$(date +%s)
"$PYTHON3" - "$IGKIT_DB" "$A1" "$NOWS" > "$T/parts.json" <<'EOF'
import json, sqlite3, sys
db, acct, now = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = sqlite3.connect(db)
aid, tid = c.execute("SELECT id, tenant_id FROM accounts WHERE external_id = ?", (acct,)).fetchone()
parts = []
with c:
    for i in range(60):
        p = "77%06d" % i
        cur = c.execute("INSERT INTO conversations (tenant_id, account_id, participant_id, last_inbound_at,"
                        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)", (tid, aid, p, now, now, now))
        c.execute("INSERT INTO messages (tenant_id, account_id, conversation_id, mid, direction, sender_kind,"
                  " text, sent_at, created_at) VALUES (?, ?, ?, ?, 'in', 'customer', 'opening hours?', ?, ?)",
                  (tid, aid, cur.lastrowid, "bench-%s" % p, now, now))
        parts.append({"account": acct, "id": p, "last_message_at": now})
print(json.dumps({"participants": parts}))
EOF
simctl POST /_sim/world "$(cat "$T/parts.json")" > /dev/null
simctl POST /_sim/latency '{"ms":20}' > /dev/null
ig-reply --pending --parallel 4 > "$T/w1" 2> "$T/w1.err" & p1=$!
ig-reply --pending --parallel 4 > "$T/w2" 2> "$T/w2.err" & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
simctl POST /_sim/latency '{"ms":0}' > /dev/null
is "$r1 $r2" "0 0" "two concurrent --pending workers succeed"
is "$(cat "$T/w1" "$T/w2" | grep -c '"state":"sent"')" 60 "…60 replies between them"
dups=$(curl -sS "$SIM/_sim/messages?account=$A1" | "$PYTHON3" -c 'import json,sys,collections
c=collections.Counter(m["recipient"] for m in json.load(sys.stdin) if m["recipient"].startswith("77"))
print(len(c), sum(1 for v in c.values() if v > 1))')
is "$dups" "60 0" "…every customer got exactly one message"

# --- 24 h to 7 days: HUMAN_AGENT; beyond: refused ---------------------------
route_msg $A1 9000070 "are you there?" > /dev/null
C=$(conv_of $A1 9000070)
simctl POST /_sim/clock '{"advance":172800}' > /dev/null
NOW=$(simctl GET /_sim/clock | jget now)
IGKIT_NOW=$NOW run ig-reply send "$C" --text "Sorry for the late answer!"; is_rc 0 "a human reply after 2 days"
is "$(last_sent $A1 tag)" HUMAN_AGENT "…carries the HUMAN_AGENT tag"
is "$(printf '%s' "$out" | jget tag)" HUMAN_AGENT "…and says so"
IGKIT_NOW=$NOW run ig-reply --pending --explain
is "$(sent_to $A1 9000070)" 1 "automated replies never use the tag"
IGKIT_NOW=$((NOW + 6 * 86400)) run ig-reply send "$C" --text "Still there?"
is_rc 65 "a human reply after 8 days → 65"
like "$err" "only within 7 days" "…names the 7-day window"
is "$(sq "SELECT COUNT(*) FROM outbox WHERE conversation_id = $C")" 1 "…and queues nothing"

done_testing
