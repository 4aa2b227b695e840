#!/bin/bash
# stdin.t — every program reads its stdin through one reader (lib/jsonio):
# a NUL byte inside a line is that line's error and never costs the next
# record (the old reader took strlen of each fgets chunk and lost record 2).
. "${top_srcdir:-.}/tests/lib.sh"

run tenant-admin init; is_rc 0 "init"
run tenant-admin tenant create rossi; is_rc 0 "a tenant"

# tenant-admin onboard: line 1 fails, line 2 is applied
out=$(printf '{"tenant":"nul1","name":"N"}\0x\n{"tenant":"nul2","name":"M"}\n' | tenant-admin onboard 2>"$T/err") && rc=0 || rc=$?
err=$(cat "$T/err")
is_rc 65 "onboard: a NUL line makes the run 65"
like "$out" '"line":1,"status":"failed"' "onboard: line 1 reported failed"
like "$out" '"line":2,"status":"created"' "onboard: line 2 applied"
like "$err" "stdin:1: " "onboard: the message names line 1"
is "$(sq "SELECT group_concat(slug) FROM tenants WHERE slug LIKE 'nul%'")" "nul2" "onboard: only record 2 stored"

# ig-reply kb add: JSON Lines of articles
out=$(printf '{"title":"A","body":"alpha"}\0x\n{"title":"B","body":"beta"}\n' | ig-reply --tenant rossi kb add 2>"$T/err") && rc=0 || rc=$?
err=$(cat "$T/err")
is_rc 65 "kb add: a NUL line makes it 65"
like "$err" "stdin:1: " "kb add: line 1 reported"
like "$out" '"title":"B"' "kb add: record 2 added"
is "$(sq "SELECT group_concat(title) FROM kb_articles")" "B" "kb add: only record 2 stored"

# ig-reply's routed events: both lines become their own dead letters
printf '{"event":"message"}\0x\n{}\n' > "$T/events"
run sh -c "ig-reply < '$T/events'"
like "$err" "stdin:1: " "routed events: line 1 reported"
like "$err" "stdin:2: " "routed events: line 2 read as its own record"
is "$(sq "SELECT count(*) FROM dead_letters WHERE source = 'ig-reply'")" "2" "routed events: two dead letters, none lost"

# ig-route pipe mode: envelopes
body='{"object":"instagram","entry":[]}'
env=$(printf '{"headers":{},"body":"%s"}' "$(printf '%s' "$body" | sed 's/"/\\"/g')")
printf '%s\0x\n%s\n' "$env" "$env" > "$T/envs"
run sh -c "ig-route --no-verify --envelopes < '$T/envs'"
is_rc 65 "ig-route: a NUL line makes the run 65"
like "$err" "stdin:1: not an envelope" "ig-route: line 1 kept as a dead letter"
unlike "$err" "stdin:2: not an envelope" "ig-route: line 2 is an envelope"
is "$(sq "SELECT count(*) FROM deliveries WHERE source = 'pipe'")" "1" "ig-route: delivery 2 stored"

# ig-connect reads text: a NUL byte is refused, not a silent cut
run sh -c "printf 'signed_request=abc\0def' | ig-connect deauthorize"
is_rc 65 "ig-connect: a NUL byte on stdin is 65"
like "$err" "a NUL byte" "ig-connect: and says so"
# CGI: the request body on stdin, CONTENT_LENGTH checked (lib/cgi.c)
printf 'verify-me\n' > "$T/verify"; chmod 600 "$T/verify"
printf 'app-secret\n' > "$T/app"; chmod 600 "$T/app"
printf 'verify_token_file = %s\napp_secret_file = %s\n' "$T/verify" "$T/app" >> "$IGKIT_CONFIG"
for cl in -1 12abc ' 5' 99999999999999999999999; do
	out=$(printf 'abcde' | REQUEST_METHOD=POST CONTENT_LENGTH=$cl ig-route 2>"$T/err") && rc=0 || rc=$?
	like "$out" "^Status: 400 " "ig-route: CONTENT_LENGTH '$cl' → 400"
	like "$(cat "$T/err")" "bad CONTENT_LENGTH" "…said in the server log"
done
is "$(sq "SELECT count(*) FROM deliveries WHERE source = 'cgi'")" "0" "ig-route: nothing stored for them"
out=$(printf 'abc' | REQUEST_METHOD=POST CONTENT_LENGTH=10 ig-route 2>"$T/err") && rc=0 || rc=$?
like "$out" "^Status: 400 " "ig-route: a short body → 400"
out=$(printf 'x' | REQUEST_METHOD=POST CONTENT_LENGTH=-1 ig-connect deauthorize 2>"$T/err") && rc=0 || rc=$?
like "$out" "^Status: 400 " "ig-connect: a negative CONTENT_LENGTH → 400"
out=$(printf 'x' | REQUEST_METHOD=POST CONTENT_LENGTH=100000 ig-connect deauthorize 2>"$T/err") && rc=0 || rc=$?
like "$out" "^Status: 413 " "ig-connect: over 64 KiB → 413"
out=$(REQUEST_METHOD=GET QUERY_STRING='hub.mode=subscribe&hub.verify_token=verify%2Dme&hub.challenge=42' ig-route 2>"$T/err") && rc=0 || rc=$?
like "$out" $'\r\n\r\n42$' "ig-route: the handshake decodes its parameters"
done_testing
