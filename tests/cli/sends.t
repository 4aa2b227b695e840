#!/bin/bash
# Sends never double (reference §3.6, §9.1; issue 10): a Send API POST whose
# answer says it may have been delivered — 1/1357046, code 2, any HTTP 5xx,
# an unreadable body, a timeout after the request left — is sent once,
# recorded 'unknown' and never resent by a later run.  A temporary failure
# that cannot have been delivered (1200) and every rate-limit class stay
# 'pending', are not held against the account, and go out on a later run.
# The simulator's "after" injections deliver the message, then answer the
# error, as Meta does.
. "${top_srcdir:-.}/tests/lib.sh"

sim_start
export IGKIT_LLM_KEY=sk-sim-test
A1=17841400000000001

route_msg() {	# ACCOUNT USER TEXT: a signed delivery through ig-route
	"$PYTHON3" -c 'import json,sys; print(json.dumps({"kind":"ig_message_text","account":sys.argv[1],"user":sys.argv[2],"text":sys.argv[3],"envelope":True}))' \
		"$1" "$2" "$3" > "$T/trig.json"
	curl -sS -X POST -H 'Content-Type: application/json' --data @"$T/trig.json" "$SIM/_sim/trigger" |
		"$PYTHON3" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["envelope"]))' | ig-route
}
conv_of() { sq "SELECT c.id FROM conversations c JOIN accounts a ON a.id = c.account_id WHERE a.external_id = '$1' AND c.participant_id = '$2'"; }
delivered() {	# ACCOUNT USER: messages the simulator delivered to USER
	curl -sS "$SIM/_sim/messages?account=$1" |
		"$PYTHON3" -c 'import json,sys; print(sum(1 for m in json.load(sys.stdin) if m["recipient"]==sys.argv[1]))' "$2"
}
posts() { curl -sS "$SIM/_sim/requests?path=/messages&method=POST" | "$PYTHON3" -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
state_of() { sq "SELECT group_concat(state) FROM outbox WHERE conversation_id = $1"; }

tenant-admin init > /dev/null
tenant-admin tenant create rossi --name "Pizzeria Rossi" > /dev/null
tenant-admin --tenant rossi agent create marco --display-name Marco --business-name "Pizzeria Rossi" > /dev/null
simctl POST /_sim/token "{\"action\":\"issue\",\"account\":\"$A1\"}" | jget token.token |
	ig-connect add --tenant rossi --agent marco > /dev/null
ok $? "account connected"
ig-reply --tenant rossi kb add --title "Opening hours" \
	--body "We are open Tuesday to Sunday, 12:00-15:00 and 19:00-23:30." --tags "hours open time tonight" > /dev/null
ok $? "an article to answer from"

# --- ambiguous answers: delivered, then an error (the last: HTTP 200 with a
# body that is not JSON, reference §3.6 "unparsable body") ------------------
n=0
for inj in '"code":1,"subcode":1357046,"message":"Received invalid JSON reply"' \
	'"code":2,"message":"Service temporarily unavailable"' '"status":500' '"status":503' \
	'"code":1,"message":"An unknown error occurred"' '"status":200'; do
	n=$((n + 1)); U=900010$n
	route_msg $A1 $U "are you open tonight?" > /dev/null
	C=$(conv_of $A1 $U)
	curl -sS -X DELETE "$SIM/_sim/requests" > /dev/null
	simctl POST /_sim/inject '{"match":"/messages","method":"POST","count":1,"after":true,'"$inj"'}' > /dev/null
	IGKIT_HTTP_RETRIES=3 run ig-reply --pending
	is_rc 75 "{$inj}: 75"
	is "$(posts)" 1 "…sent exactly once ({$inj})"
	is "$(delivered $A1 $U)" 1 "…the customer got it once"
	is "$(state_of "$C")" unknown "…recorded unknown"
	is "$(sq "SELECT count(*) FROM outbox WHERE conversation_id = $C AND error LIKE '%ambiguous%'")" 1 "…the row says why"
	run ig-reply --pending
	is "$(delivered $A1 $U)" 1 "…a later run does not resend it ({$inj})"
	is "$(state_of "$C")" unknown "…still unknown"
done

# a timeout after the request left: delivered, the answer lost
route_msg $A1 9000200 "are you open tonight?" > /dev/null
C=$(conv_of $A1 9000200)
curl -sS -X DELETE "$SIM/_sim/requests" > /dev/null
simctl POST /_sim/inject '{"match":"/messages","method":"POST","count":1,"after":true,"hang":3}' > /dev/null
IGKIT_HTTP_TIMEOUT=1 IGKIT_HTTP_RETRIES=3 run ig-reply --pending
is_rc 75 "a timeout after the send: 75"
sleep 2.5
is "$(posts)/$(delivered $A1 9000200)/$(state_of "$C")" "1/1/unknown" "…sent once, delivered, unknown"

# --- not delivered: temporary and rate limits stay pending ------------------
for code in 1200 4 17 32 341 613 80001 80002 80006; do
	U=9000$code
	route_msg $A1 $U "are you open tonight?" > /dev/null
	C=$(conv_of $A1 $U)
	simctl POST /_sim/inject '{"match":"/messages","method":"POST","count":-1,"code":'$code',"eta":null}' > /dev/null
	IGKIT_HTTP_RETRIES=1 run ig-reply --pending
	is_rc 75 "code $code: 75"
	is "$(delivered $A1 $U)/$(state_of "$C")" "0/pending" "…nothing delivered, the row stays pending ($code)"
	is "$(sq "SELECT status FROM accounts WHERE external_id = '$A1'")" active "…the account is not blamed ($code)"
	simctl DELETE /_sim/inject > /dev/null
	run ig-reply --pending
	is_rc 0 "…the next run ($code)"
	is "$(delivered $A1 $U)/$(state_of "$C")" "1/sent" "…sends it once ($code)"
done

# the outbox lists the unknown rows for a person to settle
run ig-reply --tenant rossi outbox list --state unknown
is_rc 0 "outbox list --state unknown"
is "$(printf '%s\n' "$out" | grep -c '"state":"unknown"')" 7 "…the seven ambiguous sends"

done_testing
