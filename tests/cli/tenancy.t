#!/bin/bash
# tenancy: a key of tenant A against tenant B's objects through every door
# (ig-reply's stdin, pause/resume/assign/status/priority), the audit log of
# denials, dead letters filed under the tenant they belong to, and Messenger
# deliveries (object "page") that only a Messenger account may take.
. "${top_srcdir:-.}/tests/lib.sh"

IGA=17841400000000101   # rossi's Instagram account (tenant A)
IGB=17841400000000202   # bianchi's Instagram account (tenant B)
PAGEA=108400000000101   # the Facebook Page linked to rossi's Instagram account

delivery() { # OBJECT ENTRY-ID SENDER MID TEXT: one message delivery, compact
	"$PYTHON3" -c 'import json,sys; o,e,s,m,t=sys.argv[1:6]
print(json.dumps({"object":o,"entry":[{"id":e,"time":1770112845000,"messaging":[{"sender":{"id":s},"recipient":{"id":e},"timestamp":1770112845000,"message":{"mid":m,"text":t}}]}]},separators=(",",":")))' "$@"
}

tenant-admin -q init > /dev/null
tenant-admin -q tenant create rossi --name Rossi > /dev/null
tenant-admin -q tenant create bianchi --name Bianchi > /dev/null
tenant-admin -q --tenant rossi agent create marco > /dev/null
tenant-admin -q --tenant bianchi agent create bea > /dev/null
sq "INSERT INTO accounts(tenant_id, channel, flavour, external_id, page_id, username, created_at, updated_at)
    SELECT id, 'instagram', 'facebook', '$IGA', '$PAGEA', 'rossi_ig', 0, 0 FROM tenants WHERE slug = 'rossi';
    INSERT INTO accounts(tenant_id, channel, flavour, external_id, username, created_at, updated_at)
    SELECT id, 'instagram', 'instagram', '$IGB', 'bianchi_ig', 0, 0 FROM tenants WHERE slug = 'bianchi';"
tenant-admin -q --tenant rossi user add sales@rossi.test --role sales > /dev/null
tenant-admin -q --tenant rossi user add admin@rossi.test --role org_admin > /dev/null
tenant-admin -q --tenant bianchi user add boss@bianchi.test --role org_admin > /dev/null
tenant-admin --tenant rossi key create sales@rossi.test 2>/dev/null | jget key > "$T/a-sales.key"
tenant-admin --tenant rossi key create admin@rossi.test 2>/dev/null | jget key > "$T/a-admin.key"
tenant-admin --tenant bianchi key create boss@bianchi.test 2>/dev/null | jget key > "$T/b-admin.key"
chmod 600 "$T"/*.key
[ -s "$T/a-sales.key" ] && [ -s "$T/a-admin.key" ] && [ -s "$T/b-admin.key" ]; ok $? "keys for both tenants"

delivery instagram $IGA 7001 mid-a1 "hello rossi" | ig-route --no-verify > "$T/ea" 2>/dev/null
delivery instagram $IGB 7002 mid-b1 "hello bianchi" | ig-route --no-verify > "$T/eb" 2>/dev/null
CA=$(jget conversation < "$T/ea"); CB=$(jget conversation < "$T/eb")
ok "$([ -n "$CA" ] && [ -n "$CB" ] && [ "$CA" != "$CB" ]; echo $?)" "one conversation in each tenant ($CA, $CB)"
NOWHERE=$((CB + 1000))

# --- ig-reply's stdin: A's tenant and account, B's conversation -----------
dl_before=$(sq "SELECT COUNT(*) FROM dead_letters")
for who in a-sales a-admin; do
	for c in $CB $NOWHERE; do
		ev=$(printf '{"type":"message","direction":"in","tenant":"rossi","account":"%s","conversation":%s,"text":"secret of rossi"}' $IGA "$c")
		run_in "$ev" ig-reply --api-key-file "$T/$who.key"
		is_rc 65 "$who: an event naming conversation $c (of $( [ "$c" = "$CB" ] && echo bianchi || echo nobody)) → 65"
		like "$err" "no conversation $c\$" "…one answer: no conversation $c"
		unlike "$err" "bianchi|$IGB" "…naming neither bianchi nor its account"
	done
done
is "$(sq "SELECT COUNT(*) FROM dead_letters d JOIN tenants t ON t.id = d.tenant_id WHERE t.slug = 'bianchi'")" 0 \
	"nothing filed under bianchi"
is "$(sq "SELECT COUNT(*) FROM dead_letters d JOIN tenants t ON t.id = d.tenant_id WHERE t.slug = 'rossi' AND source = 'ig-reply'")" \
	4 "the four bad records are kept under rossi, whose key sent them"
ev=$(printf '{"type":"message","direction":"in","tenant":"bianchi","account":"%s","conversation":%s}' $IGB "$CB")
run_in "$ev" ig-reply --api-key-file "$T/a-admin.key"
is_rc 65 "an event naming bianchi itself, with rossi's key → 65"
is "$(sq "SELECT COUNT(*) FROM dead_letters d JOIN tenants t ON t.id = d.tenant_id WHERE t.slug = 'bianchi'")" 0 \
	"…still nothing under bianchi"

# --- pause, resume, assign, status, priority ------------------------------
for cmd in "pause" "resume" "assign X -" "status X closed" "priority X P0"; do
	for c in $CB $NOWHERE; do
		set -- ${cmd/X/$c}
		[ "$1" = pause ] || [ "$1" = resume ] && set -- "$1" "$c"
		run ig-reply --api-key-file "$T/a-admin.key" "$@"
		is_rc 65 "$1 of conversation $c with rossi's key → 65"
		is "$err" "ig-reply: no conversation $c" "…one answer"
	done
done
is "$(sq "SELECT ai_state || ' ' || status || ' ' || priority FROM conversations WHERE id = $CB")" \
	"active open P2" "bianchi's conversation is unchanged"

# --- denials by a key of A are written into A's audit log, not B's ---------
b_before=$(sq "SELECT COUNT(*) FROM audit_log a JOIN tenants t ON t.id = a.tenant_id WHERE t.slug = 'bianchi'")
run ig-reply --api-key-file "$T/a-sales.key" --tenant bianchi conversations
is_rc 77 "rossi's key asking for bianchi's conversations → 77"
run tenant-admin --api-key-file "$T/a-admin.key" --tenant bianchi audit
is_rc 77 "…or bianchi's audit log → 77"
is "$(sq "SELECT COUNT(*) FROM audit_log a JOIN tenants t ON t.id = a.tenant_id WHERE t.slug = 'bianchi'")" "$b_before" \
	"nothing was added to bianchi's audit log"
ok "$([ "$(sq "SELECT COUNT(*) FROM audit_log WHERE tenant_id IS NULL AND outcome = 'denied' AND target = 'bianchi'")" -ge 2 ]; echo $?)" \
	"the denials are in the platform's log (super admins only)"
run tenant-admin audit --tenant bianchi
unlike "$out" "denied" "…the owner's view of bianchi's log shows none of them either"
run tenant-admin --api-key-file "$T/b-admin.key" audit
unlike "$out" "rossi.test|denied" "bianchi's org_admin sees neither rossi's users nor its denials"

# --- ig-route: dead letters carry the tenant when it is known ---------------
delivery page $PAGEA 6823049917345561 m_page_1 "Is the store open on Sunday?" | ig-route --no-verify > "$T/out" 2> "$T/err"
is "$?" 65 "a Messenger delivery for a Page connected for Instagram only → 65"
is "$(cat "$T/out")" "" "…routes nothing (the Instagram agent does not answer Messenger)"
like "$(cat "$T/err")" "Page not connected for Messenger" "…and says why"
is "$(sq "SELECT t.slug || ' ' || d.reason FROM dead_letters d JOIN tenants t ON t.id = d.tenant_id WHERE d.source = 'ig-route' ORDER BY d.id DESC LIMIT 1")" \
	"rossi Page not connected for Messenger: Page '$PAGEA' is connected for Instagram only" \
	"…kept as a dead letter of rossi"
is "$(sq "SELECT COUNT(*) FROM messages WHERE mid = 'm_page_1'")" 0 "…no message stored on the Instagram account"
run ig-route dead --tenant rossi
like "$out" "Page not connected for Messenger" "ig-route dead --tenant rossi lists it"
run ig-route dead --tenant bianchi
unlike "$out" "Page not connected" "…bianchi's list does not"
run ig-route --api-key-file "$T/a-admin.key" dead
is_rc 0 "ig-route dead with rossi's key and no --tenant: the key's tenant"
like "$out" "Page not connected for Messenger" "…lists rossi's dead letters"
is "$(printf '%s\n' "$out" | "$PYTHON3" -c 'import json,sys; print(" ".join(sorted({json.loads(l)["tenant"] for l in sys.stdin if l.strip()})))')" \
	rossi "…and none of bianchi's"
# an unknown kind on a known account is filed under its tenant
printf '{"object":"instagram","entry":[{"id":"%s","time":1770112845000,"changes":[{"field":"brand_new_field","value":{"x":1}}]}]}' $IGB |
	ig-route --no-verify > /dev/null 2>&1
is "$(sq "SELECT COALESCE(t.slug, '-') FROM dead_letters d LEFT JOIN tenants t ON t.id = d.tenant_id WHERE d.source = 'ig-route' ORDER BY d.id DESC LIMIT 1")" \
	bianchi "an event of an unknown kind is a dead letter of its account's tenant"

# Connected for Messenger (an account row with channel 'messenger', external id = the Page):
sq "INSERT INTO accounts(tenant_id, channel, flavour, external_id, page_id, username, created_at, updated_at)
    SELECT id, 'messenger', 'facebook', '$PAGEA', '$PAGEA', 'rossi_page', 0, 0 FROM tenants WHERE slug = 'rossi';"
delivery page $PAGEA 6823049917345561 m_page_2 "And on Monday?" | ig-route --no-verify > "$T/out" 2> "$T/err"
is "$?" 0 "a Messenger delivery for a Page connected for Messenger → 0"
is "$(jget account < "$T/out")/$(jget tenant < "$T/out")" "$PAGEA/rossi" "…routed to the Messenger account"
is "$(sq "SELECT a.channel FROM messages m JOIN conversations c ON c.id = m.conversation_id JOIN accounts a ON a.id = c.account_id WHERE m.mid = 'm_page_2'")" \
	messenger "…stored on it"

done_testing
