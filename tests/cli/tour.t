#!/bin/bash
# tour: the README's tour is share/examples/tour.sh; run it against the
# simulator with nothing but its own configuration, and check that every
# command the README's tour shows is one the script runs.
. "${top_srcdir:-.}/tests/lib.sh"

TOUR="$top_srcdir/share/examples/tour.sh"
sim_start
# the tour must bring its own configuration: forget what sim_start exported
unset IGKIT_GRAPH_FACEBOOK_URL IGKIT_GRAPH_INSTAGRAM_URL IGKIT_API_INSTAGRAM_URL \
	IGKIT_WWW_FACEBOOK_URL IGKIT_WWW_INSTAGRAM_URL IGKIT_LLM_URL IGKIT_APP_ID IGKIT_IG_APP_ID \
	IGKIT_APP_SECRET_FILE IGKIT_IG_APP_SECRET_FILE IGKIT_REDIRECT_URI IGKIT_DB IGKIT_CONFIG

mkdir -p "$T/tour"
SIM=$SIM TOUR_DIR="$T/tour" sh "$TOUR" > "$T/tour.out" 2> "$T/tour.err"
rc=$?
err=$(cat "$T/tour.err")
is_rc 0 "share/examples/tour.sh runs to the end against the simulator"
out=$(cat "$T/tour.out")
is "$(printf '%s\n' "$out" | grep -c '"status":"created"')" "$(grep -c . "$top_srcdir/share/examples/onboard.jsonl")" \
	"…onboards every record of share/examples/onboard.jsonl"
like "$out" '"account":"17841400000000001","username":"marco_energia".*"agent":"marco"' \
	"…connects marco's account through the OAuth dialog (consent against the simulator)"
like "$out" '"verified":true' "…ig-connect test verifies it"
[ -s "$T/tour/deliveries.jsonl" ]; ok $? "…deliveries.jsonl comes from the simulator's signed trigger"
like "$out" '"conversation":1,.*"skip":"debounce"' "…ig-route | ig-reply routes it (marco waits his debounce)"
like "$out" '"origin":"human","state":"sent"' "…a human's reply is sent"
is "$(curl -sS "$SIM/_sim/messages" | "$PYTHON3" -c 'import json,sys; print(sum(1 for m in json.load(sys.stdin) if m.get("mid")))')" \
	1 "…and Meta (the simulator) received exactly that one message"
like "$(cat "$T/tour/config/igkit/config")" "redirect_uri = " "the tour's configuration names redirect_uri"
for s in app_id app_secret_file ig_app_id ig_app_secret_file graph_facebook_url graph_instagram_url \
	api_instagram_url www_facebook_url www_instagram_url llm_url; do
	grep -q "^$s = " "$T/tour/config/igkit/config"; ok $? "…and $s"
done
like "$(grep '^llm_url' "$T/tour/config/igkit/config")" '/llm/v1$' "…llm_url is the simulator's /llm/v1"
ok "$([ "$(stat -c %a "$T/tour/app.secret")" = 600 ]; echo $?)" "the secrets it writes are mode 0600"

# The README's tour, command by command, is in the script (the build line aside).
"$PYTHON3" - "$top_srcdir/README.md" > "$T/readme.cmds" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
tour = text.split("## A tour", 1)[1].split("\n## ", 1)[0]
for block in re.findall(r"```\n(.*?)```", tour, re.S):
    for line in block.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "autoreconf" not in line and "graphsim.py serve" not in line \
                and not line.startswith("SIM="):
            print(line)
PY
ok "$([ "$(wc -l < "$T/readme.cmds")" -ge 20 ]; echo $?)" "the README's tour shows $(wc -l < "$T/readme.cmds") lines"
missing=0
while IFS= read -r l; do
	if ! grep -qF -- "$l" "$TOUR"; then
		missing=$((missing + 1)); _diag "not in tour.sh: $l"
	fi
done < "$T/readme.cmds"
is "$missing" 0 "every command and setting of the README's tour is in share/examples/tour.sh"

done_testing
