#!/bin/bash
# NUL (U+0000) inside ids and text of a webhook delivery (issue 10): C
# strings would cut them at the NUL — two mids "m\u0000one" and "m\u0000two"
# would become one (the second dropped as its duplicate), "first\u0000 hidden
# tail" would be stored as "first".  ig-route refuses such an event (exit 65),
# keeps the raw delivery and files the event as bad input; nothing is cut.
. "${top_srcdir:-.}/tests/lib.sh"

sim_start
A1=17841400000000001
tenant-admin init > /dev/null
tenant-admin tenant create rossi --name "Pizzeria Rossi" > /dev/null
simctl POST /_sim/token "{\"action\":\"issue\",\"account\":\"$A1\"}" | jget token.token |
	ig-connect add --tenant rossi > /dev/null
ok $? "account connected"

envelope() {	# USER MID TEXT: a signed delivery (as ig-route reads it), "<NUL>" → \u0000
	"$PYTHON3" -c 'import json,sys; print(json.dumps({"kind":"ig_message_text","account":sys.argv[1],"user":sys.argv[2],"text":"x","envelope":True}))' \
		"$A1" "$1" > "$T/trig.json"
	curl -sS -X POST -H 'Content-Type: application/json' --data @"$T/trig.json" "$SIM/_sim/trigger" |
		"$PYTHON3" -c 'import hashlib,hmac,json,sys
env = json.load(sys.stdin)["envelope"]
d = json.loads(env["body"])
m = d["entry"][0]["messaging"][0]["message"]
m["mid"], m["text"] = (a.replace("<NUL>", "\0") for a in sys.argv[1:3])
body = json.dumps(d, separators=(",", ":"))
sig = hmac.new(b"sim-app-secret", body.encode(), hashlib.sha256).hexdigest()
print(json.dumps({"headers": {"X-Hub-Signature-256": "sha256=" + sig, "Content-Type": "application/json"}, "body": body}))' "$2" "$3"
}
deliveries() { sq "SELECT count(*) FROM deliveries"; }
messages() { sq "SELECT count(*) FROM messages"; }

envelope 9000001 'm<NUL>one' "hello" > "$T/a.json"
envelope 9000001 'm<NUL>two' "hello again" > "$T/b.json"
grep -qF 'm\\u0000one' "$T/a.json"
ok $? "the delivery carries the NUL as \\u0000"
d0=$(deliveries); m0=$(messages)
run_in "$(cat "$T/a.json")" ig-route
is_rc 65 "a mid with a NUL: 65"
like "$err" "contains a NUL character" "…says why"
run_in "$(cat "$T/b.json")" ig-route
is_rc 65 "the second one: 65 too, not a silent duplicate of the first"
is "$(( $(deliveries) - d0 ))" 2 "…both raw deliveries are kept"
is "$(( $(messages) - m0 ))" 0 "…no message stored under a cut id"
like "$(ig-route dead 2>/dev/null)" "contains a NUL character" "…filed as bad input (ig-route dead)"

envelope 9000002 'm-text-1' 'first<NUL> hidden tail' > "$T/c.json"
run_in "$(cat "$T/c.json")" ig-route
is_rc 65 "a text with a NUL: 65"
is "$(sq "SELECT count(*) FROM messages WHERE text = 'first'")" 0 "…never stored cut as 'first'"

envelope 9000003 'm-clean-1' 'ciao' > "$T/d.json"
run_in "$(cat "$T/d.json")" ig-route
is_rc 0 "a clean delivery still routes"
is "$(( $(messages) - m0 ))" 1 "…and is stored"

done_testing
