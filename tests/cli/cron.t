#!/bin/bash
# cron: what the jobs of share/examples/crontab do when something is wrong —
# `ig-reply --pending` says which tenant, account and why on every non-zero
# exit, one tenant's broken account hides no other failure, --account holds
# for queued rows too, `outbox retry` after an LLM failure asks again; and the
# example crontab's lines run under cron's bare environment (env -i).
. "${top_srcdir:-.}/tests/lib.sh"

sim_start
export IGKIT_LLM_KEY=sk-sim-test
A1=17841400000000001   # rossi, marco (kb)
A2=17841400000000002   # rossi, luca (openai)
B1=17841400000000021   # bianchi, bea (kb)

route_msg() { # ACCOUNT USER TEXT: the simulator signs a delivery, ig-route stores it
	"$PYTHON3" -c 'import json,sys; print(json.dumps({"kind":"ig_message_text","account":sys.argv[1],"user":sys.argv[2],"text":sys.argv[3],"envelope":True}))' \
		"$1" "$2" "$3" > "$T/trig.json"
	curl -sS -X POST -H 'Content-Type: application/json' --data @"$T/trig.json" "$SIM/_sim/trigger" |
		"$PYTHON3" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["envelope"]))' | ig-route
}
conv_of() { sq "SELECT c.id FROM conversations c JOIN accounts a ON a.id = c.account_id WHERE a.external_id = '$1' AND c.participant_id = '$2'"; }
sent_to() { # ACCOUNT USER: messages the simulator accepted
	curl -sS "$SIM/_sim/messages?account=$1" |
		"$PYTHON3" -c 'import json,sys; print(sum(1 for m in json.load(sys.stdin) if m["recipient"]==sys.argv[1] and m.get("mid")))' "$2"
}
connect() { # ACCOUNT TENANT AGENT
	simctl POST /_sim/token "{\"action\":\"issue\",\"account\":\"$1\"}" | jget token.token |
		ig-connect add --tenant "$2" --agent "$3" > /dev/null
}

tenant-admin init > /dev/null
tenant-admin tenant create rossi --name "Pizzeria Rossi" > /dev/null
tenant-admin tenant create bianchi --name "Bianchi" > /dev/null
tenant-admin --tenant rossi agent create marco --display-name Marco --business-name Rossi > /dev/null
tenant-admin --tenant rossi agent create luca --display-name Luca --business-name Rossi \
	--engine openai --model sim-model > /dev/null
tenant-admin --tenant bianchi agent create bea --display-name Bea --business-name Bianchi > /dev/null
simctl POST /_sim/accounts "{\"id\":\"$B1\",\"username\":\"bianchi_shop\"}" > /dev/null
connect $A1 rossi marco; ok $? "account A1 connected to rossi (marco)"
connect $A2 rossi luca; ok $? "account A2 connected to rossi (luca, openai)"
connect $B1 bianchi bea; ok $? "account B1 connected to bianchi (bea)"
ig-reply --tenant rossi kb add --title Hours --body "We are open every day from 12 to 23." \
	--tags "hours open" > /dev/null
ig-reply --tenant bianchi kb add --title Hours --body "We are open every day from 9 to 18." \
	--tags "hours open" > /dev/null

# --- one tenant's broken account, another's temporary failure --------------
route_msg $A1 5000001 "what are your opening hours?" > /dev/null
route_msg $B1 5000002 "what are your opening hours?" > /dev/null
sq "UPDATE accounts SET status = 'needs_reauth' WHERE external_id = '$A1'"
simctl POST /_sim/inject "{\"match\":\"$B1/messages\",\"code\":613,\"subcode\":2534040,\"is_transient\":true,\"count\":-1}" > /dev/null
IGKIT_HTTP_RETRIES=0 run ig-reply --pending
is_rc 77 "a re-login and a rate limit in one run → 77 (the most actionable)"
like "$err" "tenant 'rossi' account $A1: the account is 'needs_reauth'" \
	"…stderr names rossi's account and why"
like "$err" "tenant 'bianchi' account $B1: .*the next run retries" \
	"…and bianchi's temporary failure is reported too"
simctl DELETE /_sim/inject > /dev/null
IGKIT_HTTP_RETRIES=0 run ig-reply --pending
is_rc 77 "the account still needs re-login → 77"
like "$err" "tenant 'rossi' account $A1: the account is 'needs_reauth'.*1 conversation" \
	"…said again, with the conversations waiting"
unlike "$err" "bianchi" "…bianchi's queued reply went out (nothing to report)"
is "$(sent_to $B1 5000002)" 1 "…bianchi's customer got one answer"

# Only a temporary failure: 75, and said.
route_msg $B1 5000003 "what are your opening hours?" > /dev/null
simctl POST /_sim/inject "{\"match\":\"$B1/messages\",\"status\":503,\"count\":-1}" > /dev/null
IGKIT_HTTP_RETRIES=0 run ig-reply --pending --tenant bianchi
ok "$([ "$rc" = 75 ] || [ "$rc" = 77 ]; echo $?)" "a 5xx on a send → non-zero ($rc)"
like "$err" "tenant 'bianchi' account $B1: " "…stderr names the tenant and account"
simctl DELETE /_sim/inject > /dev/null
sq "UPDATE outbox SET state = 'abandoned' WHERE state IN ('unknown','pending')"

# --- --account holds for rows queued earlier -------------------------------
sq "UPDATE accounts SET status = 'active' WHERE external_id = '$A1'"
sq "UPDATE messages SET replied_at = 1 WHERE replied_at IS NULL"
route_msg $A1 5000010 "what are your opening hours?" > /dev/null
route_msg $B1 5000011 "what are your opening hours?" > /dev/null
simctl POST /_sim/inject '{"match":"/messages","code":613,"subcode":2534040,"is_transient":true,"count":-1}' > /dev/null
IGKIT_HTTP_RETRIES=0 run ig-reply --pending; is_rc 75 "both sends rate-limited → 75, queued"
is "$(sq "SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND text IS NOT NULL")" 2 "…two rows queued"
simctl DELETE /_sim/inject > /dev/null
run ig-reply --pending --account $A1; is_rc 0 "--pending --account A1"
is "$(sent_to $A1 5000010)" 1 "…sends A1's queued reply"
is "$(sent_to $B1 5000011)" 0 "…and not B1's"
is "$(sq "SELECT o.state FROM outbox o JOIN accounts a ON a.id = o.account_id WHERE a.external_id = '$B1' AND o.recipient = '5000011'")" \
	pending "…B1's row is still pending"
run ig-reply --pending; is_rc 0 "a run without --account"
is "$(sent_to $B1 5000011)" 1 "…sends it"

# --- outbox retry after an LLM failure regenerates ------------------------
route_msg $A2 5000020 "can I book a table?" > /dev/null
C=$(conv_of $A2 5000020)
simctl POST /_sim/inject '{"match":"/chat/completions","status":400,"count":1}' > /dev/null
run ig-reply --pending
ok "$([ "$rc" != 0 ]; echo $?)" "an LLM failure fails the run ($rc)"
like "$err" "tenant 'rossi' account $A2: llm: " "…stderr names the account and labels the error llm:"
unlike "$err" "graph:" "…not graph:"
ID=$(sq "SELECT id FROM outbox WHERE conversation_id = $C AND state = 'failed'")
ok "$([ -n "$ID" ]; echo $?)" "…the row is failed"
is "$(sq "SELECT text IS NULL FROM outbox WHERE id = $ID")" 1 "…without text"
run ig-reply --tenant rossi outbox retry "$ID"; is_rc 0 "outbox retry of it"
is "$(sent_to $A2 5000020)" 1 "…asks the LLM again and sends the answer"
is "$(sq "SELECT state FROM outbox WHERE id = $ID")" abandoned "…the old row is abandoned"
is "$(sq "SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND text IS NULL")" 0 \
	"…no pending row without text is left"
is "$(sq "SELECT COUNT(*) FROM messages WHERE conversation_id = $C AND direction = 'in' AND replied_at IS NULL")" 0 \
	"…the message is answered"

# A textless pending row left behind by an older version is given back by --pending.
route_msg $A2 5000021 "a second question?" > /dev/null
C=$(conv_of $A2 5000021)
simctl POST /_sim/inject '{"match":"/chat/completions","status":400,"count":1}' > /dev/null
ig-reply --pending > /dev/null 2>&1
ID=$(sq "SELECT id FROM outbox WHERE conversation_id = $C AND state = 'failed'")
sq "UPDATE outbox SET state = 'pending', lease_owner = NULL, lease_until = NULL WHERE id = $ID"
run ig-reply --pending; is_rc 0 "--pending with a textless pending row"
is "$(sent_to $A2 5000021)" 1 "…regenerates and sends"
is "$(sq "SELECT state FROM outbox WHERE id = $ID")" abandoned "…the textless row is abandoned"

done_testing
