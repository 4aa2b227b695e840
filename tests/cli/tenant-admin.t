#!/bin/bash
# tenant-admin: init, tenants, users, members, agents, locations, keys,
# onboarding streams, permissions, audit, export, erase.
. "${top_srcdir:-.}/tests/lib.sh"

nlines() { if [ -z "$1" ]; then echo 0; else printf '%s\n' "$1" | grep -c .; fi; }
sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
KEYFILE="$XDG_CONFIG_HOME/igkit/master.key"

# ---------------------------------------------------------------- usage
run tenant-admin --help
is_rc 0 "--help exits 0"
like "$out" "onboard \[FILE\|-\]" "--help lists the commands"
run tenant-admin agent --help
like "$out" "--personality TEXT" "agent --help lists the agent fields"
run tenant-admin
is_rc 64 "no command is a usage error"
run tenant-admin frobnicate
is_rc 64 "unknown command is 64"
like "$err" "^tenant-admin: unknown command 'frobnicate'" "and says which"
run tenant-admin agent
is_rc 64 "a command without its subcommand is 64"
like "$err" "agent: which subcommand\? \(create, list, show, update, delete, set-default\)" "and lists them"
run tenant-admin agent create marco --no-such-option
is_rc 64 "unknown option is 64"
run tenant-admin agent delete marco --personality x
is_rc 64 "an option that does not apply is 64"
like "$err" "agent delete: --personality does not apply here" "and names it"

# ---------------------------------------------------------------- init
run tenant-admin tenant list
is_rc 66 "no store yet: 66"
like "$err" "tenant-admin init" "with the hint to run init"
run tenant-admin init
is_rc 0 "init creates the store and the key"
is "$(printf '%s' "$out" | jget store_created)/$(printf '%s' "$out" | jget master_key_created)" "True/True" "init reports both as created"
is "$(stat -c %a "$IGKIT_DB")" "600" "store is mode 0600"
is "$(stat -c %a "$KEYFILE")" "600" "master key is mode 0600"
is "$(stat -c %s "$KEYFILE")" "32" "master key holds 32 bytes"
keysum=$(md5sum < "$KEYFILE")
run tenant-admin init
is_rc 0 "init again succeeds"
is "$(printf '%s' "$out" | jget store_created)/$(printf '%s' "$out" | jget master_key_created)/$(printf '%s' "$out" | jget migrated_from)" \
	"False/False/$(sq 'PRAGMA user_version')" "second init keeps store and key"
is "$(md5sum < "$KEYFILE")" "$keysum" "the existing key is not replaced"
chmod 644 "$KEYFILE"
run tenant-admin init
is_rc 77 "init refuses a key file readable by others"
like "$err" "chmod 600 '$KEYFILE'" "with the chmod hint"
chmod 600 "$KEYFILE"
IGKIT_MASTER_KEY_FILE="$T/deep/er/dir/master.key" IGKIT_DB="$T/second.db" run tenant-admin init
is_rc 0 "init creates the key's directories"
is "$(stat -c %a "$T/deep/er/dir/master.key")" "600" "new key in a new directory is 0600"

# A store with sealed tokens: the right key passes, a missing or other key is refused.
sq "INSERT INTO tenants(id, slug, name, created_at, updated_at) VALUES (900, 'tmp', 'tmp', 0, 0)"
kid=$(sha256sum < "$KEYFILE" | cut -c1-16)
sq "INSERT INTO accounts(tenant_id, channel, flavour, external_id, access_token, created_at, updated_at)
    VALUES (900, 'instagram', 'instagram', 'x1', X'494731${kid}00000000000000000000000000000000000000000000000000000000', 0, 0)"
run tenant-admin init
is_rc 0 "init accepts the key the tokens were sealed with"
mv "$KEYFILE" "$T/key.saved"
run tenant-admin init
is_rc 66 "missing key while tokens are sealed: 66"
like "$err" "master key '.*' is missing, but the store holds tokens sealed with key $kid" "and explains why"
[ ! -e "$KEYFILE" ]; ok $? "no new key was created in its place"
head -c 32 /dev/urandom > "$T/other.key"; chmod 600 "$T/other.key"
IGKIT_MASTER_KEY_FILE="$T/other.key" run tenant-admin init
is_rc 78 "another key than the tokens' is a configuration error"
like "$err" "is not the key the store's tokens were sealed with" "and says so"
mv "$T/key.saved" "$KEYFILE"
sq "PRAGMA foreign_keys=ON; DELETE FROM tenants WHERE id = 900"

cp "$IGKIT_DB" "$T/newer.db"
sqlite3 "$T/newer.db" "PRAGMA user_version = 999"
IGKIT_DB="$T/newer.db" run tenant-admin tenant list
is_rc 78 "a store newer than the binary: 78"
like "$err" "schema version 999, newer than this igkit" "with the message"

# ---------------------------------------------------------------- tenants
run tenant-admin tenant create rossi --name "Rossi Consulting"
is_rc 0 "tenant create"
is "$(printf '%s' "$out" | jget tenant) / $(printf '%s' "$out" | jget name)" "rossi / Rossi Consulting" "record shows slug and name"
like "$out" '"created_at":"20[0-9-]+T[0-9:]+Z"' "times are ISO-8601"
run tenant-admin tenant create rossi
is_rc 65 "duplicate tenant: 65"
is "$err" "tenant-admin: tenant 'rossi' already exists" "duplicate message"
run tenant-admin tenant create 'Rossi!'
is_rc 65 "invalid slug: 65"
like "$err" "invalid tenant name 'Rossi!'" "invalid slug message"
run tenant-admin tenant create "$(printf 'a%.0s' $(seq 64))"
is_rc 65 "64-character slug refused"
run tenant-admin tenant create bianchi --name "Bianchi Srl"
run tenant-admin tenant create verdi
is "$(sq 'SELECT count(*) FROM tenants')" "3" "three tenants, no half-written one"
run tenant-admin tenant list
is "$(nlines "$out")" "3" "tenant list: one line per tenant"
run tenant-admin tenant show nope
is_rc 65 "unknown tenant: 65"
is "$err" "tenant-admin: unknown tenant 'nope'" "unknown tenant message"
run tenant-admin tenant rename verdi --name "Verdi & Figli"
is "$(printf '%s' "$out" | jget name)" "Verdi & Figli" "rename changes the name"
run tenant-admin tenant rename verdi bianchi
is_rc 65 "rename onto an existing slug: 65"
run tenant-admin tenant rename verdi verdi-spa
is "$(printf '%s' "$out" | jget tenant)" "verdi-spa" "rename changes the slug"
run tenant-admin tenant show verdi-spa --format table
like "$out" "^tenant +name" "show --format table has a header"

# ---------------------------------------------------------------- users and members
run tenant-admin user add anna@rossi.it --name "Anna Rossi" --tenant rossi --role org_admin
is_rc 0 "user add with a role"
is "$(printf '%s' "$out" | jget role)" "org_admin" "user add reports the role"
run tenant-admin user add anna@rossi.it
is_rc 65 "duplicate user: 65"
is "$err" "tenant-admin: user 'anna@rossi.it' already exists" "duplicate user message"
run tenant-admin user add not-an-email
is_rc 65 "invalid e-mail: 65"
run tenant-admin user add carla@rossi.it --tenant rossi --role boss
is_rc 65 "invalid role: 65"
like "$err" "invalid role 'boss'" "invalid role message"
is "$(sq "SELECT count(*) FROM users WHERE email = 'carla@rossi.it'")" "0" "a failed user add leaves no user"
run tenant-admin user add bob@rossi.it --name Bob
run tenant-admin member grant bob@rossi.it --role viewer --tenant rossi
is_rc 0 "member grant"
run tenant-admin member grant bob@rossi.it --role viewer --tenant rossi
is_rc 65 "granting the same role again: 65"
run tenant-admin member grant bob@rossi.it --role sales --tenant rossi
is "$(printf '%s' "$out" | jget status)/$(printf '%s' "$out" | jget previous)" "updated/viewer" "a new role updates the membership"
run tenant-admin member grant bob@rossi.it --role viewer --tenant rossi
run tenant-admin member grant ghost@rossi.it --role viewer --tenant rossi
is_rc 65 "granting to an unknown user: 65"
like "$err" "unknown user 'ghost@rossi.it'" "unknown user message"
run tenant-admin member grant bob@rossi.it --tenant rossi
is_rc 64 "member grant without --role: 64"
run tenant-admin user list --tenant rossi --format table
like "$out" "^user +name +role" "user list --format table header"
like "$out" "anna@rossi.it +Anna Rossi +org_admin" "user list shows members with roles"
run tenant-admin user list
like "$out" '"tenants":"rossi:org_admin"' "owner's user list shows memberships"

# ---------------------------------------------------------------- agents
run tenant-admin agent create marco --tenant rossi --display-name Marco --personality energetic \
	--business-name "Rossi Consulting" --language it --booking yes --debounce 2m
is_rc 0 "agent create"
is "$(printf '%s' "$out" | jget default)/$(printf '%s' "$out" | jget debounce)/$(printf '%s' "$out" | jget booking)" "True/120/True" \
	"first agent is the default; debounce and booking stored"
run tenant-admin agent create giulia --tenant rossi --engine openai --model gpt-4o-mini
is "$(printf '%s' "$out" | jget default)" "False" "second agent is not the default"
run tenant-admin agent create giulia --tenant rossi
is_rc 65 "duplicate agent: 65"
is "$err" "tenant-admin: agent 'giulia' already exists in tenant 'rossi'" "duplicate agent message"
run tenant-admin agent create luca --tenant rossi --engine gpt
is_rc 65 "invalid engine: 65"
run tenant-admin agent create luca --tenant rossi --booking maybe
is_rc 64 "--booking takes yes or no"
run tenant-admin agent create luca --tenant nope
is_rc 65 "agent in an unknown tenant: 65"
run tenant-admin agent create luca
is_rc 64 "no tenant for the owner: 64"
like "$err" "which tenant\?" "asks which tenant"
is "$(sq "SELECT count(*) FROM agents WHERE name = 'luca'")" "0" "failed creates left no agent"
run tenant-admin agent update marco --tenant rossi --personality calm --active no
is "$(printf '%s' "$out" | jget personality)/$(printf '%s' "$out" | jget active)" "calm/False" "agent update changes the fields given"
is "$(sq "SELECT display_name FROM agents WHERE name = 'marco'")" "Marco" "and keeps the others"
run tenant-admin agent update marco --tenant rossi
is_rc 64 "agent update with nothing to change: 64"
run tenant-admin agent update nope --tenant rossi --model x
is_rc 65 "update of an unknown agent: 65"
is "$err" "tenant-admin: unknown agent 'nope' in tenant 'rossi'" "unknown agent message"
run tenant-admin agent set-default giulia --tenant rossi
is "$(printf '%s' "$out" | jget default)" "True" "set-default moves the default"
is "$(sq "SELECT group_concat(name) FROM agents WHERE is_default = 1 AND tenant_id = (SELECT id FROM tenants WHERE slug = 'rossi')")" "giulia" "exactly one default agent"
run tenant-admin agent delete giulia --tenant rossi
is_rc 65 "deleting the default agent needs --new-default"
like "$err" "name its successor with --new-default NAME" "the message names the option"
is "$(sq "SELECT count(*) FROM agents")" "2" "nothing was deleted"
run tenant-admin agent delete giulia --tenant rossi --new-default nope
is_rc 65 "unknown successor: 65"
run tenant-admin agent delete giulia --tenant rossi --new-default marco
is_rc 0 "delete with a successor"
is "$(sq "SELECT name FROM agents WHERE is_default = 1")" "marco" "the successor is the default"
run tenant-admin agent delete marco --tenant rossi
is_rc 0 "the last agent may be deleted"
run tenant-admin agent create marco --tenant rossi --personality warm
run tenant-admin agent create sara --tenant rossi
run tenant-admin agent list --tenant rossi --format csv
is "$(printf '%s' "$out" | head -1 | tr -d '\r')" "agent,display_name,default,active,engine,model,language,booking,debounce,pause_on_human,accounts" "agent list csv header"
is "$(nlines "$out")" "3" "agent list csv: header and two rows"
run tenant-admin agent show sara --tenant rossi
is "$(printf '%s' "$out" | jget agent)" "sara" "agent show"

# ---------------------------------------------------------------- locations
run tenant-admin location create milano --tenant rossi --timezone Europe/Rome --hours "Mon-Fri 9-18" --context "Via Roma 1, near the station"
is_rc 0 "location create"
run tenant-admin location create roma --tenant rossi --timezone 'Europe/../etc'
is_rc 65 "invalid timezone: 65"
if [ -d "${TZDIR:-/usr/share/zoneinfo}" ]; then
	run tenant-admin location create roma --tenant rossi --timezone 'Mars/Olympus'
	is_rc 65 "a time zone not in the tz database: 65"
	like "$err" "invalid timezone 'Mars/Olympus'" "…named"
	run tenant-admin location create roma --tenant rossi --timezone 'Europe/Rom'
	is_rc 65 "a misspelt time zone: 65"
else
	skip "no tz database"; skip "no tz database"; skip "no tz database"
fi
run tenant-admin location update milano --tenant rossi --hours "Mon-Sat 9-19"
is "$(printf '%s' "$out" | jget hours)" "Mon-Sat 9-19" "location update"
run tenant-admin location list --tenant rossi --format table
like "$out" "milano +Europe/Rome +Mon-Sat 9-19" "location list table"
run tenant-admin location delete nope --tenant rossi
is_rc 65 "delete an unknown location: 65"
run tenant-admin location create torino --tenant rossi
run tenant-admin location delete torino --tenant rossi
is "$(printf '%s' "$out" | jget status)" "deleted" "location delete"

# ---------------------------------------------------------------- JSON Lines on stdin
input='{"agent":"paolo","personality":"formal"}
{"agent":"broken"
{"agent":"lucia","colour":"red"}
{"personality":"no name"}
{"agent":"marco"}
{"agent":"nina","debounce":"45s","booking":true}'
run_in "$input" tenant-admin agent create - --tenant rossi
is_rc 65 "a stream with bad lines ends 65"
is "$(nlines "$out")" "6" "every line is reported"
like "$out" '^\{"line":1,"status":"created"' "line 1 created"
like "$out" '"line":2,"status":"failed","error":"invalid JSON' "malformed JSON reported, run goes on"
like "$out" "\"line\":3,\"status\":\"failed\",\"error\":\"unknown field 'colour'\"" "unknown field reported"
like "$out" "\"line\":4,\"status\":\"failed\",\"error\":\"missing field 'agent'\"" "missing field reported"
like "$out" "\"line\":5,\"status\":\"failed\",\"error\":\"agent 'marco' already exists" "duplicate reported"
like "$out" '"line":6,"status":"created".*"debounce":45' "the line after the failures is created"
like "$err" "^tenant-admin: stdin:2: invalid JSON" "errors on stderr with stdin:LINE"
like "$err" "tenant-admin: stdin:3: unknown field 'colour'" "field errors on stderr with stdin:LINE"
is "$(sq "SELECT group_concat(name, ',') FROM (SELECT name FROM agents WHERE name IN ('paolo','broken','lucia','nina') ORDER BY name)")" "nina,paolo" "failed lines left nothing behind"
run_in '{"agent":"x"}' tenant-admin agent create - --tenant rossi --personality x
is_rc 64 "field options do not go with '-'"
run_in '{"tenant":"neri","name":"Neri"}
{"tenant":"NERI"}' tenant-admin tenant create -
is_rc 65 "tenant create - with one bad line"
is "$(sq "SELECT count(*) FROM tenants WHERE slug = 'neri'")" "1" "its good line was applied"
run_in '{"user":"dario@neri.it","name":"Dario","tenant":"neri","role":"marketer"}
{"user":"elena@neri.it"}' tenant-admin user add -
is_rc 0 "user add - applies every line"
run_in '{"user":"elena@neri.it","role":"sales"}' tenant-admin member grant - --tenant neri
is "$(printf '%s' "$out" | jget status)/$(printf '%s' "$out" | jget role)" "created/sales" "member grant - "
run_in '{"location":"centro","timezone":"Europe/Rome"}' tenant-admin location create - --tenant neri
is "$(printf '%s' "$out" | jget location)" "centro" "location create -"

# ---------------------------------------------------------------- API keys and permissions
run tenant-admin key create anna@rossi.it --tenant rossi --name ci
is_rc 0 "key create"
ANNA=$(printf '%s' "$out" | jget key)
anna_prefix=$(printf '%s' "$out" | jget prefix)
like "$ANNA" "^igk_${anna_prefix}_" "the key is printed once, igk_<prefix>_…"
like "$err" "shown only this once" "with a reminder on stderr"
is "$(sq "SELECT hash FROM api_keys WHERE prefix = '$anna_prefix'")" "$(sha256 "$ANNA")" "only SHA-256 of the key is stored"
ok "$(grep -c -a -- "${ANNA#igk_*_}" "$IGKIT_DB"* | awk -F: '{s+=$NF} END {print s}')" "the key's secret is nowhere in the store files"
run tenant-admin key create bob@rossi.it --tenant rossi --name viewer
BOB=$(printf '%s' "$out" | jget key)
bob_prefix=$(printf '%s' "$out" | jget prefix)
run tenant-admin key create dario@neri.it --tenant rossi
is_rc 65 "key for a non-member: 65"
like "$err" "user 'dario@neri.it' is not a member of tenant 'rossi'" "non-member message"

IGKIT_API_KEY=$ANNA run tenant-admin agent list
is_rc 0 "org_admin key lists its tenant's agents"
is "$(nlines "$out")" "4" "…all four"
IGKIT_API_KEY=$ANNA run tenant-admin tenant list
is "$(nlines "$out")/$(printf '%s' "$out" | jget tenant)" "1/rossi" "a tenant key lists only its own tenant"
run tenant-admin key list --tenant rossi
unlike "$out" '"key"|"hash"|igk_' "key list never shows keys or hashes"
like "$out" "\"prefix\":\"$anna_prefix\".*\"last_used_at\":\"20" "key list shows when a key was last used"

before=$(sq "SELECT count(*) FROM agents")
IGKIT_API_KEY=$BOB run tenant-admin agent create intruder --tenant rossi
is_rc 77 "viewer may not create agents"
like "$err" "permission denied: role 'viewer' may not change agents in tenant 'rossi'" "denial message"
is "$(sq "SELECT count(*) FROM agents")" "$before" "nothing created"
is "$(sq "SELECT count(*) FROM audit_log WHERE action = 'agent.create' AND outcome = 'denied' AND actor LIKE 'key:$bob_prefix%'")" "1" "the denial is audited"
IGKIT_API_KEY=$ANNA run tenant-admin agent list --tenant neri
is_rc 77 "a key of tenant rossi cannot read tenant neri"
like "$err" "this API key belongs to tenant 'rossi', not 'neri'" "cross-tenant message"
is "$(sq "SELECT count(*) FROM audit_log WHERE outcome = 'denied' AND target = 'neri' AND actor LIKE 'key:$anna_prefix%'")" "1" "cross-tenant attempt audited"
IGKIT_API_KEY=$ANNA run tenant-admin agent list --tenant does-not-exist
is_rc 77 "a tenant key cannot probe for other tenants (77, not 65)"
IGKIT_API_KEY=$ANNA run tenant-admin tenant create evil
is_rc 77 "a tenant key cannot create tenants"
IGKIT_API_KEY=$ANNA run tenant-admin key create bob@rossi.it --super-admin
is_rc 77 "org_admin cannot create a super-admin key"
IGKIT_API_KEY=$ANNA run tenant-admin key create bob@rossi.it --name second
is_rc 0 "org_admin creates keys for members of their tenant"
IGKIT_API_KEY=igk_0000000000000000_notarealkeynotarealkeynotarealkey run tenant-admin agent list
is_rc 77 "an unknown key: 77"
IGKIT_API_KEY=garbage run tenant-admin agent list
is_rc 77 "a malformed key: 77"

run tenant-admin key create bob@rossi.it --super-admin
is_rc 65 "super-admin key for an ordinary user: 65"
run tenant-admin user add ops@agency.example --super-admin
run tenant-admin key create ops@agency.example --super-admin --name ops
is_rc 0 "the owner creates a super-admin key"
OPS=$(printf '%s' "$out" | jget key)
is "$(printf '%s' "$out" | jget tenant)/$(printf '%s' "$out" | jget role)" "/super_admin" "a super-admin key has no tenant"
IGKIT_API_KEY=$OPS run tenant-admin tenant list
is "$(nlines "$out")" "4" "a super-admin key sees every tenant"
IGKIT_API_KEY=$OPS run tenant-admin key create ops@agency.example --super-admin
is_rc 77 "only the store owner mints super-admin keys"
like "$err" "only the store owner may create a super-admin key" "super-key denial message"

run tenant-admin key revoke "$bob_prefix"
is_rc 0 "key revoke"
is "$(printf '%s' "$out" | jget status)" "revoked" "revoke reports the status"
IGKIT_API_KEY=$BOB run tenant-admin agent list
is_rc 77 "a revoked key is refused"
like "$err" "was revoked" "revoked message"
run tenant-admin key revoke "$bob_prefix"
is_rc 65 "revoking twice: 65"
run tenant-admin key revoke not-a-prefix
is_rc 65 "malformed prefix: 65"

# An org_admin grants roles only to its own members or to users of no tenant;
# an unknown user and another tenant's user get the same answer.
run tenant-admin user add free@nowhere.example
run tenant-admin user add zoe@example.org --tenant neri --role viewer
IGKIT_API_KEY=$ANNA run tenant-admin member grant zoe@example.org --role viewer
is_rc 77 "org_admin cannot take in another tenant's user"
is "$err" "tenant-admin: permission denied: user 'zoe@example.org' is unknown or a member of another tenant; ask a super admin" \
	"…the message names no other tenant"
is "$(sq "SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'zoe@example.org'")" "1" \
	"…and no membership was added"
is "$(sq "SELECT count(*) FROM audit_log WHERE action = 'member.grant' AND outcome = 'denied' AND target = 'zoe@example.org'")" "1" \
	"…the denial is audited"
denied_err=$err
IGKIT_API_KEY=$ANNA run tenant-admin member grant nobody@nowhere.example --role viewer
is "$rc ${err/nobody@nowhere.example/zoe@example.org}" "77 $denied_err" "an unknown user gets the same answer"
IGKIT_API_KEY=$ANNA run_in '{"tenant":"rossi","user":"zoe@example.org","role":"viewer"}' tenant-admin onboard -
is_rc 77 "…also through onboard"
IGKIT_API_KEY=$ANNA run tenant-admin member grant ops@agency.example --role viewer
is_rc 77 "…and for a super admin"
IGKIT_API_KEY=$ANNA run tenant-admin member grant free@nowhere.example --role viewer
is_rc 0 "org_admin grants a role to a user of no tenant"
IGKIT_API_KEY=$ANNA run tenant-admin member grant free@nowhere.example --role sales
is_rc 0 "…and changes a member's role"
run tenant-admin member grant zoe@example.org --role viewer --tenant rossi
is_rc 0 "the owner may grant a role to another tenant's user"
run tenant-admin member revoke zoe@example.org --tenant rossi
run tenant-admin member revoke free@nowhere.example --tenant rossi
IGKIT_API_KEY=$ANNA run tenant-admin key create nobody@nowhere.example
is "$rc $err" "65 tenant-admin: user 'nobody@nowhere.example' is not a member of tenant 'rossi'" \
	"key create: an unknown user looks like a non-member to org_admin"

# Another tenant's key is no key at all for a tenant's key.
run tenant-admin key create dario@neri.it --tenant neri
dario_prefix=$(printf '%s' "$out" | jget prefix)
IGKIT_API_KEY=$ANNA run tenant-admin key revoke "$dario_prefix"
is_rc 65 "org_admin revoking another tenant's key: 65"
is "$err" "tenant-admin: unknown API key '$dario_prefix'" "…as an unknown key, naming no tenant"
is "$(sq "SELECT revoked_at IS NULL FROM api_keys WHERE prefix = '$dario_prefix'")" "1" "…and the key stays valid"

# ---------------------------------------------------------------- customer data for export and erase
rossi=$(sq "SELECT id FROM tenants WHERE slug = 'rossi'")
neri=$(sq "SELECT id FROM tenants WHERE slug = 'neri'")
sq "INSERT INTO accounts(id, tenant_id, channel, flavour, external_id, access_token, refresh_token, created_at, updated_at)
    VALUES (1, $rossi, 'instagram', 'instagram', '17841400000000001', X'53454352455454414E', X'5345435245545245', 0, 0),
           (2, $neri, 'messenger', 'facebook', '10000000000002', X'53454352455454414E', NULL, 0, 0);
    INSERT INTO conversations(id, tenant_id, account_id, participant_id, created_at, updated_at)
    VALUES (1, $rossi, 1, '7341092865519203', 0, 0), (2, $rossi, 1, '5550001112223334', 0, 0),
           (3, $neri, 2, '7341092865519203', 0, 0);
    INSERT INTO messages(tenant_id, account_id, conversation_id, mid, direction, sender_kind, text, sent_at, created_at)
    VALUES ($rossi, 1, 1, 'm1', 'in', 'customer', 'Ciao, sono Giovanni', 1, 1),
           ($rossi, 1, 1, 'm2', 'out', 'ai', 'Ciao Giovanni!', 2, 2),
           ($rossi, 1, 2, 'm3', 'in', 'customer', 'other customer', 3, 3),
           ($neri, 2, 3, 'm4', 'in', 'customer', 'Giovanni again', 4, 4);
    INSERT INTO escalations(tenant_id, conversation_id, reason, created_at) VALUES ($rossi, 1, 'human marker', 5);
    INSERT INTO outbox(tenant_id, account_id, conversation_id, origin, recipient, text, state, created_at, updated_at)
    VALUES ($rossi, 1, 1, 'ai', '7341092865519203', 'Ciao Giovanni!', 'sent', 2, 2);
    INSERT INTO comments(tenant_id, account_id, comment_id, field, from_id, text, created_at, received_at)
    VALUES ($rossi, 1, 'c1', 'comments', '7341092865519203', 'nice post', 6, 6),
           ($rossi, 1, 'c2', 'comments', '5550001112223334', 'meh', 7, 7);
    INSERT INTO dead_letters(tenant_id, source, reason, raw, created_at, updated_at)
    VALUES ($neri, 'ig-route', 'test', CAST('{\"sender\":{\"id\":\"7341092865519203\"}}' AS BLOB), 8, 8);
    INSERT INTO audit_log(at, tenant_id, actor, action, target, detail)
    VALUES (9, $rossi, 'owner', 'conversation.assign', 'participant:7341092865519203', '{}'),
           (9, $rossi, 'owner', 'reply.queue', 'conversation:1', '{\"outbox\":1}'),
           (9, $neri, 'owner', 'conversation.pause', 'conversation:3', '{}'),
           (9, $rossi, 'owner', 'decoy.target', '7341092865519203', '{}'),
           (9, $rossi, 'owner', 'decoy.detail', 'x', '{\"user\":\"7341092865519203\"}');
    INSERT INTO deliveries(received_at, sig_status, body) VALUES
      (9, 'valid', CAST('{\"object\":\"instagram\",\"entry\":[{\"id\":\"17841400000000001\",\"messaging\":[{\"sender\":{\"id\":\"7341092865519203\"},\"recipient\":{\"id\":\"17841400000000001\"}}]}]}' AS BLOB)),
      (9, 'valid', CAST('{\"object\":\"instagram\",\"entry\":[{\"id\":\"17841400000000001\",\"messaging\":[{\"sender\":{\"id\":\"5550001112223334\"},\"message\":{\"text\":\"my friend is \\\"7341092865519203\\\"\"}}]}]}' AS BLOB)),
      (9, 'invalid', CAST('not json \"7341092865519203\" instagram' AS BLOB));"

# ---------------------------------------------------------------- audit
run tenant-admin audit --tenant rossi --action agent.create
is_rc 0 "audit with filters"
is "$(printf '%s\n' "$out" | grep -vc '"action":"agent.create"')" "0" "--action filters exactly"
run tenant-admin audit --tenant rossi --action 'agent.*' --format csv
like "$out" "agent.set_default" "--action prefix with '*'"
is "$(printf '%s' "$out" | head -1 | tr -d '\r')" "at,tenant,actor,action,target,outcome,detail" "audit csv header"
run tenant-admin audit --actor "$anna_prefix"
like "$out" '"outcome":"denied"' "--actor filters by the key"
run tenant-admin audit --tenant rossi --limit 2
is "$(nlines "$out")" "2" "--limit"
run tenant-admin audit --since 2099-01-01
is "$(nlines "$out")" "0" "--since in the future: nothing"
run tenant-admin audit --since 24h --action tenant.create --actor owner
is "$(nlines "$out")" "4" "--since as an age"
run tenant-admin audit --since yesterday
is_rc 64 "bad --since: 64"
IGKIT_API_KEY=$ANNA run tenant-admin audit --format table
like "$out" "^at +tenant +actor" "org_admin reads the audit log as a table"
unlike "$out" "neri" "…of their own tenant only"

n_audit=$(sq "SELECT count(*) FROM audit_log")
sq "UPDATE audit_log SET action = 'forged'" 2>"$T/sq.err"
like "$(cat "$T/sq.err")" "append-only" "the audit log refuses UPDATE"
sq "DELETE FROM audit_log" 2>"$T/sq.err"
like "$(cat "$T/sq.err")" "append-only" "the audit log refuses DELETE outside an erasure"
is "$(sq "SELECT count(*) FROM audit_log")" "$n_audit" "audit rows intact"

# ---------------------------------------------------------------- export
run tenant-admin export --tenant rossi
is_rc 0 "export a tenant"
is "$(nlines "$out")" "1" "export is one JSON document"
is "$(printf '%s' "$out" | jq -r '[.tenant.tenant, (.agents|length), (.users|length), (.accounts|length), (.conversations|length), (.messages|length), (.comments|length), (.escalations|length)] | join(" ")')" \
	"rossi 4 2 1 2 3 2 1" "export holds tenant, agents, users, accounts, conversations, messages, comments, escalations"
is "$(printf '%s' "$out" | jq '.audit | length > 10')" "true" "export holds the tenant's audit rows"
unlike "$out" "access_token|refresh_token|SECRET|$(sha256 "$ANNA")" "export holds no token and no key hash"
unlike "$out" '"hash"' "no hash field at all"
run tenant-admin export --tenant rossi --participant 7341092865519203
is "$(printf '%s' "$out" | jq -r '[(.conversations|length), (.messages|length), (.comments|length), (.outbox|length)] | join(" ")')" "1 2 1 1" \
	"participant export: only that customer's rows"
unlike "$out" "other customer" "…and nobody else's"
IGKIT_API_KEY=$BOB run tenant-admin export
is_rc 77 "a revoked viewer key cannot export"
run tenant-admin export --tenant rossi --format table
is_rc 64 "export writes JSON only"

# ---------------------------------------------------------------- erase a customer
P=7341092865519203
run tenant-admin erase --participant "$P" --dry-run
is_rc 0 "erase --dry-run"
is "$(printf '%s' "$out" | jq -r '[.status, (.tenants|length), ([.tenants[].messages]|add), .dead_letters, .audit_rows, .deliveries] | join(" ")')" "dry_run 2 3 1 3 1" "dry run reports what would go"
is "$(sq "SELECT count(*) FROM conversations WHERE participant_id = '$P'")" "2" "dry run erased nothing"
IGKIT_API_KEY=$ANNA run tenant-admin erase --participant "$P"
is_rc 0 "org_admin erases a customer in their tenant"
is "$(sq "SELECT count(*) FROM conversations WHERE participant_id = '$P'")/$(sq "SELECT count(*) FROM conversations WHERE participant_id = '$P' AND tenant_id = $neri")" "1/1" "only in their tenant"
run tenant-admin erase --participant "$P"
is_rc 0 "the owner erases a customer everywhere"
is "$(sq "SELECT (SELECT count(*) FROM conversations WHERE participant_id = '$P')
	+ (SELECT count(*) FROM comments WHERE from_id = '$P') + (SELECT count(*) FROM outbox WHERE recipient = '$P')
	+ (SELECT count(*) FROM messages WHERE text LIKE '%Giovanni%') + (SELECT count(*) FROM escalations)
	+ (SELECT count(*) FROM dead_letters)")" "0" "conversations, messages, comments, outbox, escalations, dead letters gone in every tenant"
is "$(sq "SELECT count(*) FROM audit_log WHERE target IN ('participant:$P', 'conversation:1', 'conversation:3')")" "0" "the audit rows about the customer are gone"
is "$(sq "SELECT group_concat(action) FROM audit_log WHERE action LIKE 'decoy.%'")" "decoy.target,decoy.detail" \
	"…rows that merely contain the digits are kept"
is "$(sq "SELECT group_concat(id) FROM deliveries")" "2,3" "only the delivery with the customer as sender went; text and non-JSON mentions stay"
is "$(sq "SELECT count(*) FROM audit_log WHERE action = 'erase.participant' AND target = 'sha256:$(sha256 "$P")' AND tenant_id IS NULL")" "1" \
	"an audit row records the erasure by the id's SHA-256"
is "$(sq "SELECT count(*) FROM messages WHERE text = 'other customer'")/$(sq "SELECT count(*) FROM comments")" "1/1" "other customers' data is kept"
is "$(sq "SELECT active FROM erasure_guard")" "0" "the erasure guard is off again"
run tenant-admin erase --participant 'bad id'
is_rc 65 "invalid participant id: 65"
n_deliv=$(sq "SELECT count(*) FROM deliveries")
run tenant-admin erase --participant instagram
is_rc 65 "a participant id is digits only: 65"
like "$err" "invalid participant id 'instagram' \(an IGSID or PSID: 1-64 decimal digits\)" "…says so"
is "$(sq "SELECT count(*) FROM deliveries")" "$n_deliv" "…and erased no delivery"
IGKIT_API_KEY=$ANNA run tenant-admin erase --participant "$anna_prefix"
# A key prefix is 16 random hex digits: about once in 1,800 keys it has no
# letter and is a well-formed (if unknown) participant id, erasing nothing.
case $anna_prefix in
*[a-f]*) is_rc 65 "org_admin cannot erase audit rows by a key prefix" ;;
*) is "$rc/$(printf '%s' "$out" | jget audit_rows)" "0/0" "an all-digit key prefix erases no audit row" ;;
esac
is "$(sq "SELECT count(*) FROM audit_log WHERE action = 'key.create' AND target = '$anna_prefix'")" "1" "…the key.create row stays"
IGKIT_API_KEY=$ANNA run tenant-admin export --participant "x'1"
is_rc 65 "export checks the participant id too"
IGKIT_API_KEY=$ANNA run tenant-admin erase --participant 5550001112223334 --tenant neri
is_rc 77 "a tenant key cannot erase in another tenant"

# ---------------------------------------------------------------- erase a tenant, delete a tenant
run tenant-admin erase --tenant neri
is_rc 64 "erasing a tenant needs --yes"
run tenant-admin erase
is_rc 64 "erase needs --participant or --tenant"
IGKIT_API_KEY=$ANNA run tenant-admin erase --tenant rossi --yes
is_rc 77 "org_admin cannot erase its whole tenant"
is "$err" "tenant-admin: permission denied: erase.tenant needs a super admin" "…it needs a super admin"
is "$(sq "SELECT count(*) FROM tenants WHERE slug = 'rossi'")" "1" "…the tenant stays"
run tenant-admin erase --tenant neri --dry-run
is "$(printf '%s' "$out" | jq -r '.status + " " + (.erased.accounts|tostring)')" "dry_run 1" "tenant erase dry run"
is "$(sq "SELECT count(*) FROM tenants WHERE slug = 'neri'")" "1" "…changes nothing"
run tenant-admin erase --tenant neri --yes
is_rc 0 "erase a whole tenant"
is "$(sq "SELECT count(*) FROM tenants WHERE slug = 'neri'")/$(sq "SELECT count(*) FROM accounts WHERE tenant_id = $neri")/$(sq "SELECT count(*) FROM memberships WHERE tenant_id = $neri")" "0/0/0" "the tenant and its rows are gone"
is "$(sq "SELECT group_concat(action) FROM audit_log WHERE tenant_id = $neri")" "erase.tenant" "only the erasure's own audit row remains"
run tenant-admin tenant delete verdi-spa
is_rc 64 "tenant delete needs --yes"
IGKIT_API_KEY=$ANNA run tenant-admin tenant delete rossi --yes
is_rc 77 "a tenant key cannot delete tenants"
verdi=$(sq "SELECT id FROM tenants WHERE slug = 'verdi-spa'")
run tenant-admin tenant delete verdi-spa --yes
is_rc 0 "tenant delete"
is "$(sq "SELECT count(*) FROM audit_log WHERE tenant_id = $verdi AND action = 'tenant.create'")" "1" "tenant delete keeps the audit log"
run tenant-admin tenant create gialli
gialli=$(sq "SELECT id FROM tenants WHERE slug = 'gialli'")
ok "$([ "$gialli" -gt "$(sq 'SELECT max(tenant_id) FROM audit_log WHERE tenant_id <> '"$gialli")" ]; echo $?)" "a new tenant never reuses an old tenant's id"

# ---------------------------------------------------------------- stdout errors
run sh -c 'tenant-admin tenant list > /dev/full'
is_rc 74 "a write error on stdout: 74"

# ---------------------------------------------------------------- ten tenants in one pipeline
gen() {
	for i in $(seq -w 1 10); do
		printf '{"tenant":"client-%s","name":"Client %s"}\n' "$i" "$i"
		printf '{"tenant":"client-%s","user":"admin@client-%s.example","name":"Admin %s","role":"org_admin"}\n' "$i" "$i" "$i"
		printf '{"tenant":"client-%s","user":"ops@agency.example","role":"viewer"}\n' "$i"
		printf '{"tenant":"client-%s","agent":"front","display_name":"Front desk","personality":"warm","debounce":20}\n' "$i"
		printf '{"tenant":"client-%s","agent":"sales","engine":"openai","model":"llama3.1","booking":true}\n' "$i"
		printf '{"tenant":"client-%s","location":"hq","timezone":"Europe/Rome","context":"Main office"}\n' "$i"
		printf '{"tenant":"client-%s","api_key":"automation","user":"admin@client-%s.example"}\n' "$i" "$i"
	done
}
gen | tenant-admin onboard > "$T/onboard.out" 2>"$T/onboard.err"
is "$?" "0" "ten tenants onboarded from JSON Lines in one pipeline"
is "$(grep -c '"status":"created"' "$T/onboard.out")" "70" "every record created"
jq -r 'select(.kind == "key") | "\(.tenant) \(.key)"' < "$T/onboard.out" > "$T/keys"
is "$(wc -l < "$T/keys")" "10" "ten keys printed"
good=0
while read -r tenant key; do
	agents=$(IGKIT_API_KEY=$key tenant-admin agent list | jq -r '"\(.tenant)/\(.agent)/\(.default)"' | tr '\n' ' ')
	[ "$agents" = "$tenant/front/true $tenant/sales/false " ] && good=$((good + 1))
done < "$T/keys"
is "$good" "10" "each key sees exactly its own tenant's agents, first one default"
IGKIT_DB="$T/example.db" run tenant-admin init
IGKIT_DB="$T/example.db" run tenant-admin onboard "$top_srcdir/share/examples/onboard.jsonl"
is_rc 0 "share/examples/onboard.jsonl applies cleanly to a new store"
is "$(printf '%s\n' "$out" | grep -c '"status":"created"')" "$(grep -c . "$top_srcdir/share/examples/onboard.jsonl")" "…every record of it"
run tenant-admin onboard "$T/missing.jsonl"
is_rc 66 "onboard of a missing file: 66"
printf 'not a database at all, just text that is long enough to be read as a header\n' > "$T/garbage.db"
IGKIT_DB="$T/garbage.db" run tenant-admin tenant list
ok "$([ "$rc" != 0 ]; echo $?)" "a file that is not a store fails ($rc)"
like "$err" "'$T/garbage.db'" "…and the error names the file"

# ---------------------------------------------------------------- onboarding again is safe; --dry-run
EX="$top_srcdir/share/examples/onboard.jsonl"
nrec=$(grep -c . "$EX")
keys_before=$(IGKIT_DB="$T/example.db" sq "SELECT COUNT(*) FROM api_keys")
IGKIT_DB="$T/example.db" run tenant-admin onboard "$EX"
is_rc 0 "the same onboarding file again: 0"
is "$(printf '%s\n' "$out" | grep -c '"status":"exists"')" "$nrec" "…every record reported exists"
is "$(printf '%s\n' "$out" | grep -c '"status":"failed"')" 0 "…none failed"
unlike "$out" '"key":"igk_' "…no key printed"
is "$(IGKIT_DB="$T/example.db" sq "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL")" "$keys_before" \
	"…and no second API key minted"
like "$(printf '%s\n' "$out" | grep '"kind":"key"' | head -1)" '"api_key":"crm-sync".*"prefix":"[0-9a-f]{16}"' \
	"…the existing key is named by its prefix"
audit_before=$(IGKIT_DB="$T/example.db" sq "SELECT COUNT(*) FROM audit_log")
IGKIT_DB="$T/dry.db" tenant-admin -q init > /dev/null
IGKIT_DB="$T/dry.db" run tenant-admin onboard --dry-run "$EX"
is_rc 0 "onboard --dry-run on a new store: 0"
is "$(printf '%s\n' "$out" | grep -c '"status":"would_create"')" "$nrec" \
	"…every record would be created (later records see earlier ones)"
unlike "$out" '"key":|"prefix":' "…no key shown"
is "$(IGKIT_DB="$T/dry.db" sq "SELECT (SELECT COUNT(*) FROM tenants) + (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM api_keys) + (SELECT COUNT(*) FROM agents)")" 0 \
	"…and nothing was written"
run_in '{"tenant":"rossi","name":"Rossi"}
{"tenant":"rossi","location":"x","timezone":"Mars/Olympus"}
{"tenant":"rossi","agent":"ok"}' env IGKIT_DB="$T/dry.db" tenant-admin onboard --dry-run -
is_rc 65 "--dry-run reports a record that would fail: 65"
like "$out" '"line":2,"status":"failed"' "…as failed, on its line"
is "$(IGKIT_DB="$T/dry.db" sq "SELECT COUNT(*) FROM tenants")" 0 "…still nothing written"
IGKIT_DB="$T/example.db" run tenant-admin onboard --dry-run "$EX"
is "$(printf '%s\n' "$out" | grep -c '"status":"exists"')" "$nrec" "--dry-run on the onboarded store: all exist"
is "$(IGKIT_DB="$T/example.db" sq "SELECT COUNT(*) FROM audit_log")" "$audit_before" "…nothing audited"

done_testing
