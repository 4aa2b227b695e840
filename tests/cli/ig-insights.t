#!/bin/bash
# ig-insights: sync against the simulator (both login flavours, batch on
# graph.facebook.com, the metric sets per product type, Meta's errors, the
# 24-hour cache, refresh limits, stories, the story_insights webhook,
# retention), show/export/top/report read-back, roles and tenancy.
. "${top_srcdir:-.}/tests/lib.sh"

MARCO=17841400000000001 SARA=17841400000000002 ROSSI_IG=17841400000000003 PAGE1=100000000000001
SMALL=17841400000000020
export IGKIT_HTTP_BACKOFF_MS=5

field() { printf '%s' "$out" | jget "$1"; }
clear_requests() { simctl DELETE /_sim/requests >/dev/null; }
# The recorded Graph requests as JSON Lines {method, host, path, query, body}.
requests() { simctl GET /_sim/requests | "$PYTHON3" -c 'import json,sys
for r in json.load(sys.stdin): print(json.dumps(r))'; }
# Every insights call the simulator saw, batch operations unpacked: "node metric since until breakdown".
insight_calls() { simctl GET /_sim/requests | "$PYTHON3" -c '
import json, sys, urllib.parse as U
for r in json.load(sys.stdin):
    ops = []
    if r["method"] == "GET" and r["path"].endswith("/insights"):
        ops.append((r["path"].split("/")[-2], r["query"]))
    elif r["method"] == "POST" and r["host"] == "graph.facebook.com":
        body = dict(U.parse_qsl(r["body"]))
        for op in json.loads(body.get("batch", "[]")):
            u = U.urlsplit("/" + op["relative_url"])
            if u.path.endswith("/insights"):
                ops.append((u.path.split("/")[-2], dict(U.parse_qsl(u.query))))
    for node, q in ops:
        print(node, q.get("metric"), q.get("since", "-"), q.get("until", "-"), q.get("breakdown", "-"))
'; }
connect() { # ACCOUNT TENANT [FLAVOUR]
	simctl POST /_sim/token "{\"action\":\"issue\",\"account\":\"$1\"}" | jget token.token |
		ig-connect add --tenant "$2" ${3:+--flavour "$3"} > /dev/null
}

# ---------------------------------------------------------------- usage
run ig-insights --help
is_rc 0 "--help exits 0"
like "$out" "report \[ACCOUNT\]" "--help lists the commands"
run ig-insights
is_rc 64 "no command: 64"
run ig-insights sync
is_rc 64 "sync without ACCOUNT, --tenant or --all: 64"
like "$err" "which accounts\?" "says what is missing"
run ig-insights show --refresh
is_rc 64 "an option of another command: 64"
run ig-insights export --metric impressions
is_rc 64 "a removed metric: 64"
like "$err" "'impressions' was removed by Meta .*use 'views'" "names the replacement"
run ig-insights top --metric video_views
like "$err" "'video_views' was removed .*use 'views'" "video_views too"
run ig-insights top --metric plays
like "$err" "'plays' was removed .*use 'views'" "plays too"
run ig-insights export --metric frobs
is_rc 64 "an unknown metric: 64"
run ig-insights export --level both
is_rc 64 "a bad --level: 64"
run ig-insights top --by colour
is_rc 64 "a bad --by: 64"
run ig-insights show
is_rc 66 "no store yet: 66"
run ig-insights metrics --format csv
is_rc 0 "metrics needs no store"
like "$out" "follows_and_unfollows,account" "the catalogue lists the account metrics"
like "$out" "ig_reels_avg_watch_time,media,REELS" "and the media metrics with their product type"

# ---------------------------------------------------------------- docs (docs.t's rules)
page=$top_srcdir/share/man/ig-insights.1
for s in NAME SYNOPSIS DESCRIPTION OPTIONS INPUT OUTPUT ENVIRONMENT FILES "EXIT STATUS" EXAMPLES "SEE ALSO"; do
	grep -q "^\.Sh $s\$" "$page" || { echo "# ig-insights(1) lacks $s"; false; } || break
done
ok $? "ig-insights(1) has the fixed sections"
if [ -n "${MANDOC:-}" ] && command -v "${MANDOC}" >/dev/null; then
	is "$("$MANDOC" -Tlint -W warning "$page" 2>&1 | grep -v 'referenced manual not found')" "" "ig-insights(1) is mandoc -Tlint clean"
else
	skip "mandoc not installed"
fi
help=$(ig-insights --help; for c in sync show export top report metrics; do ig-insights $c --help; done)
opts_of_man() { grep -oE 'Fl -[a-z][a-z0-9-]*' "$1" | sed 's/^Fl -/--/' | sort -u; }
is "$(comm -3 <(printf '%s\n' "$help" | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u) <(opts_of_man "$page") | tr -d '\t' | tr '\n' ' ')" "" "--help and ig-insights(1) name the same options"
for code in 0 64 65 66 69 73 74 75 77 78; do
	grep -q "^\.It $code\$" "$page" || break
done
ok $? "ig-insights(1) lists the exit codes"
grep -q ig-insights "$top_srcdir/share/man/igkit.7" && grep -q ig-insights "$top_srcdir/README.md"
ok $? "igkit(7) and the README mention ig-insights"

# ---------------------------------------------------------------- set-up
sim_start --seed 7
tenant-admin init >/dev/null 2>&1
tenant-admin tenant create rossi --name "Pizzeria Rossi" >/dev/null 2>&1
tenant-admin tenant create bianchi --name "Bianchi" >/dev/null 2>&1
simctl POST /_sim/accounts "{\"id\":\"$SMALL\",\"username\":\"tiny_shop\",\"followers_count\":40,\"biography\":\"small\"}" >/dev/null
connect $MARCO rossi; ok $? "connect marco (Instagram Login)"
connect $PAGE1 rossi facebook; ok $? "connect rossi_consulting (Facebook Login, via its Page)"
connect $SMALL rossi; ok $? "connect tiny_shop (40 followers)"
connect $SARA bianchi; ok $? "connect sara in another tenant"
tenant-admin user add anna@rossi.test --tenant rossi --role marketer >/dev/null 2>&1
tenant-admin --tenant rossi key create anna@rossi.test 2>/dev/null | jget key > "$T/marketer.key"
tenant-admin user add vic@rossi.test --tenant rossi --role viewer >/dev/null 2>&1
tenant-admin --tenant rossi key create vic@rossi.test 2>/dev/null | jget key > "$T/viewer.key"
tenant-admin user add bea@bianchi.test --tenant bianchi --role org_admin >/dev/null 2>&1
tenant-admin --tenant bianchi key create bea@bianchi.test 2>/dev/null | jget key > "$T/bianchi.key"
[ -s "$T/marketer.key" ] && [ -s "$T/viewer.key" ] && [ -s "$T/bianchi.key" ]; ok $? "set-up: API keys for a marketer, a viewer and another tenant"

# ---------------------------------------------------------------- permissions
IGKIT_API_KEY=$(cat "$T/viewer.key") run ig-insights sync --tenant rossi
is_rc 77 "a viewer may not sync: 77"
like "$err" "role 'viewer' may not change insights in tenant 'rossi'" "says why"
IGKIT_API_KEY=$(cat "$T/bianchi.key") run ig-insights sync --tenant rossi
is_rc 77 "another tenant's key: 77"
unlike "$err" "$MARCO" "without naming the other tenant's accounts"
is "$(sq "SELECT count(*) FROM audit_log WHERE action = 'insights.sync' AND outcome = 'denied'")" "2" "denials are audited"

# ---------------------------------------------------------------- first sync
clear_requests
run ig-insights sync --tenant rossi
is_rc 0 "sync --tenant rossi"
is "$(printf '%s\n' "$out" | grep -c '"result":"ok"')" "3" "one ok record per account of the tenant"
unlike "$out" "$SARA" "another tenant's account is not synced"
like "$err" "sync: 3/3 accounts, 0 failed" "progress as plain lines when stderr is not a terminal"
is "$(sq "SELECT count(*) FROM brand_snapshots b JOIN accounts a ON a.id = b.account_id WHERE a.external_id = '$MARCO' AND b.username = 'marco_energia' AND b.followers_count = 1200 AND b.biography = 'Allenamento e energia'")" "1" "snapshot: username, followers, bio"
is "$(sq "SELECT hex(substr(p.bytes, 1, 4)) FROM brand_snapshots b JOIN insight_pictures p ON p.id = b.picture_id JOIN accounts a ON a.id = b.account_id WHERE a.external_id = '$MARCO'")" "89504E47" "the profile picture's bytes are stored (PNG)"
is "$(sq "SELECT count(*) FROM ig_media m JOIN accounts a ON a.id = m.account_id WHERE a.external_id = '$MARCO'")" "14" "12 media and 2 stories listed"
is "$(sq "SELECT count(DISTINCT product_type) FROM ig_media")" "3" "FEED, REELS and STORY"
calls=$(insight_calls)
printf '%s\n' "$calls" > "$T/calls.1"
stories=$(sq "SELECT group_concat(media_id, ' ') FROM ig_media WHERE product_type = 'STORY'")
reels=$(sq "SELECT group_concat(media_id, ' ') FROM ig_media WHERE product_type = 'REELS'")
feed=$(sq "SELECT group_concat(media_id, ' ') FROM ig_media WHERE product_type = 'FEED'")
bad=0
for m in $stories; do printf '%s\n' "$calls" | grep "^$m " | grep -Eq 'likes|saved|comments|ig_reels' && bad=1; done
ok $bad "no story is asked for likes, saved, comments or reels metrics"
bad=0
for m in $feed; do printf '%s\n' "$calls" | grep "^$m " | grep -Eq 'ig_reels|reels_skip|navigation|replies' && bad=1; done
ok $bad "no feed media is asked for reels or story metrics"
r1=${reels%% *}
like "$(printf '%s\n' "$calls" | grep "^$r1 ")" "ig_reels_avg_watch_time" "reels are asked their own metrics"
unlike "$calls" "impressions|plays|video_views|facebook_views" "no removed metric, no Facebook cross-post metric is asked"
unlike "$(printf '%s\n' "$calls" | grep "^$SMALL ")" "follows_and_unfollows|follower_count" "follower metrics are not asked under 100 followers"
like "$(printf '%s\n' "$calls" | grep "^$MARCO ")" "follows_and_unfollows .* follow_type" "follows_and_unfollows with its breakdown"
like "$(printf '%s\n' "$calls" | grep "^$MARCO " | grep '^[0-9]* accounts_engaged')" "views" "total_value metrics in one request per day"
spans=$(printf '%s\n' "$calls" | awk '$3 != "-" && $4 - $3 > 2592000' | wc -l)
is "$spans" "0" "no request spans more than 30 days"
is "$(requests | grep -c '"host": "graph.facebook.com", "query": {}, "headers".*"method": "GET"' )" "0" "Facebook Login account: no single GETs"
is "$(requests | "$PYTHON3" -c 'import json,sys
print(sum(1 for l in sys.stdin for r in [json.loads(l)] if r["host"]=="graph.facebook.com" and r["method"]=="POST"))')" \
   "$(requests | "$PYTHON3" -c 'import json,sys
print(sum(1 for l in sys.stdin for r in [json.loads(l)] if r["host"]=="graph.facebook.com"))')" "Facebook Login account: every call is a batch"
fbreq=$(requests | grep -c '"host": "graph.facebook.com"')
[ "$fbreq" -le 4 ]; ok $? "batching: the Facebook Login account's ~90 Graph calls went in $fbreq requests"
story_unavail=$(sq "SELECT count(*) FROM insight_fetches WHERE grp = 'media' AND status = 'unavailable' AND note = 'not enough viewers'")
[ "$story_unavail" -ge 1 ]; ok $? "a story under 5 viewers (code 10) is recorded as unavailable, not a failure"
is "$(sq "SELECT count(*) FROM insight_values v JOIN accounts a ON a.id = v.account_id WHERE a.external_id = '$SMALL' AND v.metric IN ('follows_and_unfollows', 'follower_count')")" "0" "no follower metric stored for the small account"
is "$(sq "SELECT count(DISTINCT end_time) FROM insight_values v JOIN accounts a ON a.id = v.account_id WHERE a.external_id = '$MARCO' AND v.metric = 'views' AND v.media_id = ''")" "30" "30 days of account views"
is "$(sq "SELECT count(DISTINCT end_time) FROM insight_values v JOIN accounts a ON a.id = v.account_id WHERE a.external_id = '$MARCO' AND v.metric = 'reach' AND v.media_id = ''")" "30" "30 days of reach (time series)"
is "$(sq "SELECT count(*) FROM insight_values WHERE metric = 'follows_and_unfollows' AND breakdown = 'follow_type=FOLLOWER'")" "60" "follows gained per day (2 accounts x 30 days)"
[ "$(sq "SELECT count(*) FROM ig_media WHERE thumb_id IS NOT NULL")" -ge 9 ]; ok $? "thumbnails of each account's best media stored"
best=$(sq "SELECT m.thumb_id IS NOT NULL FROM ig_media m JOIN insight_values v ON v.account_id = m.account_id AND v.media_id = m.media_id AND v.metric = 'reach' WHERE m.tenant_id = (SELECT id FROM tenants WHERE slug = 'rossi') AND m.product_type <> 'STORY' ORDER BY v.value DESC LIMIT 12" | sort -u)
is "$best" "1" "and of the tenant's 12 best media"

# ---------------------------------------------------------------- the cache
clear_requests
run ig-insights sync --tenant rossi
is_rc 0 "a second sync"
is "$(insight_calls | wc -l | tr -d ' ')" "$(insight_calls | awk -v s="$stories" 'BEGIN{n=split(s,a," ");for(i=1;i<=n;i++)st[a[i]]=1} st[$1]' | wc -l | tr -d ' ')" "values under 24 h old are not asked again (stories aside)"
unlike "$(requests)" "/me\"|fields=.*followers_count" "nor the profile"
clear_requests
run ig-insights sync $MARCO --refresh
is_rc 0 "--refresh"
[ "$(insight_calls | wc -l)" -gt 30 ]; ok $? "--refresh asks Meta again"
clear_requests
run ig-insights sync $MARCO --refresh
is_rc 0 "a second --refresh within the hour still syncs"
like "$out" "refresh refused: this account was refreshed less than 3600 s ago" "but the refresh is refused"
like "$err" "refresh refused" "and says so on stderr"
is "$(insight_calls | grep -c "^$MARCO ")" "0" "and nothing is asked"
# a day later: the days still under 72 h are read again, older ones are not
NOW=$(date +%s)
simctl POST /_sim/clock '{"advance": 90000}' >/dev/null
clear_requests
IGKIT_NOW=$((NOW + 90000)) run ig-insights sync $MARCO
is_rc 0 "a sync 25 h later"
days=$(insight_calls | grep "^$MARCO accounts_engaged" | wc -l | tr -d ' ')
[ "$days" -ge 2 ] && [ "$days" -le 4 ]; ok $? "the last 48-72 h are read again ($days days)"
[ "$(insight_calls | grep -c "^$MARCO ")" -lt 40 ]; ok $? "older days are not"
simctl POST /_sim/clock '{"advance": -90000}' >/dev/null

# ---------------------------------------------------------------- Meta's errors
# one unsupported metric fails the whole request: one metric per request
sq "DELETE FROM insight_fetches WHERE account_id = (SELECT id FROM accounts WHERE external_id = '$SARA')"
simctl POST /_sim/inject '{"match": "insights", "code": 100, "message": "(#100) metric shares is not supported", "count": 1}' >/dev/null
clear_requests
run ig-insights sync --tenant bianchi --days 3
is_rc 0 "an insights call refused with (#100): still ok"
[ "$(insight_calls | awk '$2 !~ /,/' | wc -l)" -gt 5 ]; ok $? "retried one metric per request"
# wrong breakdown → code 1 "An unknown error has occurred": asked again without it
simctl POST /_sim/inject '{"match": "insights", "code": 1, "message": "An unknown error has occurred.", "status": 500, "count": 4}' >/dev/null
run ig-insights sync $SARA --refresh --refresh-interval 0 --days 2
is_rc 0 "code 1 on an insights call does not fail the account"
# a breakdown Meta refuses ("An unknown error has occurred"): asked again without it
simctl POST /_sim/insights "{\"accounts\": {\"$SARA\": {\"refuse_breakdowns\": true, \"refuse_metrics\": [\"shares\"]}}}" >/dev/null
sq "DELETE FROM insight_fetches WHERE account_id = (SELECT id FROM accounts WHERE external_id = '$SARA')"
clear_requests
run ig-insights sync $SARA --days 2 --refresh --refresh-interval 0
is_rc 0 "a refused breakdown and a refused metric: still ok"
like "$(insight_calls | grep "^$SARA follows_and_unfollows" | tr '\n' ' ')" "follow_type .*- $|follow_type.* - " "follows_and_unfollows asked again without its breakdown"
[ "$(sq "SELECT count(*) FROM insight_values v JOIN accounts a ON a.id = v.account_id WHERE a.external_id = '$SARA' AND v.metric = 'follows_and_unfollows' AND v.breakdown = ''")" -ge 2 ]; ok $? "and stored as its total"
like "$out" "does not support the shares metric" "shares refused on an image is reported as unavailable"
is "$(sq "SELECT count(*) FROM insight_fetches f JOIN accounts a ON a.id = f.account_id WHERE a.external_id = '$SARA' AND f.grp = 'refused:FEED.IMAGE:shares'")" "1" "and remembered"
sq "UPDATE insight_fetches SET fetched_at = fetched_at - 90000 WHERE account_id = (SELECT id FROM accounts WHERE external_id = '$SARA') AND grp = 'media'"
clear_requests
run ig-insights sync $SARA --days 2
feedcalls=$(insight_calls | grep -F -f <(sq "SELECT media_id FROM ig_media m JOIN accounts a ON a.id = m.account_id WHERE a.external_id = '$SARA' AND m.product_type = 'FEED' AND m.media_type = 'IMAGE'"))
[ -n "$feedcalls" ]; ok $? "image media asked again after 24 h"
unlike "$feedcalls" "shares" "without the metric refused for images"
like "$(insight_calls | grep -F -f <(sq "SELECT media_id FROM ig_media m JOIN accounts a ON a.id = m.account_id WHERE a.external_id = '$SARA' AND m.media_type = 'CAROUSEL_ALBUM'"))" "shares" "carousels are still asked for shares"
simctl POST /_sim/insights "{\"accounts\": {\"$SARA\": {\"refuse_breakdowns\": false, \"refuse_metrics\": []}}}" >/dev/null
# rate limit: 80002 with usage headers → 75, the others go on
simctl POST /_sim/insights '{"budget": 3, "reset_usage": true}' >/dev/null
run ig-insights sync $SARA --refresh --refresh-interval 0 --days 2
is_rc 75 "Instagram's rate limit (80002): 75"
like "$out" '"result":"retry_later"' "the account is to be retried later"
like "$err" "80002" "the message names Meta's code"
simctl POST /_sim/insights '{"budget": 1000000, "reset_usage": true}' >/dev/null
# a revoked token: 77 for that account, the others still sync
simctl POST /_sim/token "{\"action\":\"revoke\",\"account\":\"$MARCO\"}" >/dev/null
simctl POST /_sim/clock '{"advance": 90000}' >/dev/null
IGKIT_NOW=$((NOW + 90000)) run ig-insights sync --all
is_rc 77 "a revoked token: 77"
like "$(printf '%s\n' "$out" | grep "$MARCO")" '"result":"needs_reauth"' "that account needs to log in again"
is "$(printf '%s\n' "$out" | grep -c '"result":"ok"')" "3" "the other accounts synced"
is "$(sq "SELECT status FROM accounts WHERE external_id = '$MARCO'")" "needs_reauth" "the account is marked for re-authorisation"
run ig-insights sync $MARCO
is_rc 77 "it is not called again until it logs in"
simctl POST /_sim/clock '{"advance": -90000}' >/dev/null

# ---------------------------------------------------------------- story_insights webhook (ig-route)
STORY=18999000000000042
body="{\"object\":\"instagram\",\"entry\":[{\"id\":\"$ROSSI_IG\",\"time\":$NOW,\"changes\":[{\"field\":\"story_insights\",\"value\":{\"media_id\":\"$STORY\",\"impressions\":812,\"reach\":640,\"taps_forward\":311,\"exits\":44,\"replies\":6}}]}]}"
run_in "$body" ig-route -q --no-verify
is_rc 0 "ig-route stores a story_insights delivery"
run ig-insights sync $ROSSI_IG
is_rc 0 "sync reads it"
is "$(sq "SELECT value FROM insight_values WHERE media_id = '$STORY' AND metric = 'reach' AND source = 'webhook'")" "640" "the webhook's figures land in the same table"
is "$(sq "SELECT product_type FROM ig_media WHERE media_id = '$STORY'")" "STORY" "as a story"
run ig-insights sync $ROSSI_IG
is "$(sq "SELECT count(*) FROM insight_values WHERE media_id = '$STORY'")" "5" "a delivery is read once"

IGKIT_API_KEY=$(cat "$T/marketer.key") run ig-insights sync --all
is_rc 77 "a marketer syncs --all (marco still needs to log in: 77)"
is "$(printf '%s\n' "$out" | grep -c '"result":"ok"')" "2" "the tenant's other accounts synced"
unlike "$out" "$SARA" "and only its own tenant's"

# ---------------------------------------------------------------- show, export, top
run ig-insights show --tenant rossi --format csv
is_rc 0 "show --format csv"
like "$(printf '%s' "$out" | head -n 1)" "^tenant,account,username,followers" "a header"
like "$out" "rossi_consulting,2400" "the snapshot's followers"
run ig-insights show $ROSSI_IG
is "$(field figures.reach.fetched_at | cut -c1-2)" "20" "each figure with its fetched-at time"
is "$(field stale)" "False" "fresh figures are not stale"
IGKIT_NOW=$((NOW + 200000)) run ig-insights show $ROSSI_IG
is "$(field stale)" "True" "stale past 24 h"
run ig-insights export --tenant rossi --format csv --metric reach --level account
is_rc 0 "export --format csv"
is "$(printf '%s' "$out" | head -n 1 | tr -d '\r')" "tenant,account,media,metric,period,breakdown,end_time,value,source,fetched_at" "the long format's columns"
printf '%s' "$out" | head -n 1 | grep -q $'\r$'; ok $? "CSV lines end in CRLF (RFC 4180)"
printf '%s' "$out" | "$PYTHON3" -c 'import csv,sys
rows=list(csv.DictReader(sys.stdin))
assert rows and all(r["metric"]=="reach" and r["media"]=="" and r["period"]=="day" for r in rows), rows[:2]'
ok $? "every row is an account reach value"
run ig-insights export --tenant rossi --account @marco_energia --level media --since 2020-01-01
is_rc 0 "export json with filters"
printf '%s\n' "$out" | "$PYTHON3" -c 'import json,sys
rows=[json.loads(l) for l in sys.stdin]
assert rows and all(r["account"]=="17841400000000001" and r["media"] for r in rows)'
ok $? "only that account's media values"
sq "UPDATE ig_media SET caption = 'Pizza, \"la vera\"' || char(10) || 'seconda riga' WHERE media_id = (SELECT media_id FROM ig_media WHERE product_type = 'FEED' LIMIT 1)"
run ig-insights top --tenant rossi --metric reach --limit 5 --format csv
is_rc 0 "top --by media"
printf '%s' "$out" | "$PYTHON3" -c 'import csv,sys
rows=list(csv.DictReader(sys.stdin))
v=[float(r["value"]) for r in rows]
assert len(rows)==5 and v==sorted(v, reverse=True), v'
ok $? "five media, best first"
run ig-insights top --tenant rossi --by sku
if [ "$(sq "SELECT count(*) FROM sqlite_master WHERE name = 'post_skus'")" = 0 ]; then
	is_rc 78 "top --by sku without ig-publish's tables: 78"
	like "$err" "need ig-publish's posts and their SKU tags" "says what is missing"
	skip "results by SKU: no post_skus table (ig-publish not merged)"
else
	m1=$(sq "SELECT media_id FROM ig_media m JOIN accounts a ON a.id = m.account_id WHERE a.external_id = '$ROSSI_IG' AND product_type = 'FEED' LIMIT 1")
	tid=$(sq "SELECT id FROM tenants WHERE slug = 'rossi'")
	aid=$(sq "SELECT id FROM accounts WHERE external_id = '$ROSSI_IG'")
	sq "INSERT INTO posts(tenant_id, account_id, type, state, media_id, created_at, updated_at) VALUES ($tid, $aid, 'image', 'published', '$m1', 1, 1); INSERT INTO post_skus(post_id, tenant_id, sku) VALUES (last_insert_rowid(), $tid, 'PIZZA-01')"
	run ig-insights top --tenant rossi --by sku
	is_rc 0 "top --by sku"
	like "$out" '"sku":"PIZZA-01"' "the SKU tagged on a published post"
fi

# ---------------------------------------------------------------- tenancy on reads
IGKIT_API_KEY=$(cat "$T/viewer.key") run ig-insights show
is_rc 0 "a viewer reads insights"
unlike "$out" "$SARA" "only its own tenant's"
IGKIT_API_KEY=$(cat "$T/bianchi.key") run ig-insights export --tenant rossi
is_rc 77 "another tenant's figures: 77"
IGKIT_API_KEY=$(cat "$T/bianchi.key") run ig-insights export --account $MARCO
is_rc 65 "another tenant's account is unknown"
unlike "$err" "rossi" "without naming the tenant"

# ---------------------------------------------------------------- report
run ig-insights report --tenant rossi -o "$T/report.html"
is_rc 0 "report -o FILE"
[ -s "$T/report.html" ] && [ -z "$out" ]; ok $? "written to the file, nothing on stdout"
"$PYTHON3" - "$T/report.html" <<'EOF'
import sys, xml.etree.ElementTree as ET
doc = open(sys.argv[1], encoding="utf-8").read()
assert doc.startswith("<!DOCTYPE html>")
root = ET.fromstring(doc.split("\n", 1)[1])
ns = {"h": "http://www.w3.org/1999/xhtml", "s": "http://www.w3.org/2000/svg"}
assert not root.findall(".//h:script", ns), "no script"
svgs = root.findall(".//s:svg", ns)
assert len(svgs) >= 2, len(svgs)
imgs = root.findall(".//h:img", ns)
assert imgs and all(i.get("src", "").startswith("data:image/") for i in imgs), "inline images only"
for e in root.iter():
    for a in ("src", "data", "poster"):
        assert not (e.get(a) or "").startswith(("http:", "https:", "//")), (e.tag, e.get(a))
assert "@import" not in doc and "url(" not in doc, "nothing loaded by CSS"
for want in ("Brand snapshot", "Followers over time", "Reach and views per day", "Top media",
             "Stories", "Results by SKU", "Engagement rate = total interactions"):
    assert want in doc, want
EOF
ok $? "the report is valid XML, self-contained, with every section"
run ig-insights report --tenant rossi --account @marco_energia --since 2026-01-01 --until 2026-01-31
is_rc 0 "a report of an empty period"
printf '%s' "$out" | tail -n +2 | "$PYTHON3" -c 'import sys,xml.etree.ElementTree as ET; ET.fromstring(sys.stdin.read())'
ok $? "still valid XML"
run ig-insights report --tenant rossi -o /nonexistent/dir/r.html
is_rc 73 "an unwritable report: 73"
if [ -x /usr/bin/chromium ]; then
	timeout 60 /usr/bin/chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
		--window-size=1200,2600 --screenshot="$T/report.png" "file://$T/report.html" >/dev/null 2>&1
	[ -s "$T/report.png" ]; ok $? "headless Chromium renders the report"
	[ -n "${IGKIT_REPORT_PNG:-}" ] && cp "$T/report.png" "$IGKIT_REPORT_PNG"
else
	skip "no /usr/bin/chromium: report not rendered"
fi

# ---------------------------------------------------------------- retention, purge, GDPR
aid=$(sq "SELECT id FROM accounts WHERE external_id = '$ROSSI_IG'")
tid=$(sq "SELECT tenant_id FROM accounts WHERE id = $aid")
sq "INSERT INTO insight_values (tenant_id, account_id, media_id, metric, period, end_time, value, fetched_at) VALUES ($tid, $aid, '', 'reach', 'day', $((NOW - 100 * 86400)), 5, $((NOW - 99 * 86400)))"
run ig-insights sync $ROSSI_IG --retention 60
is_rc 0 "sync --retention 60"
is "$(sq "SELECT count(*) FROM insight_values WHERE end_time < $((NOW - 90 * 86400))")" "0" "history past the retention is purged"
run ig-insights sync $ROSSI_IG --retention 10
is_rc 64 "a retention shorter than --days: 64"
run tenant-admin export --tenant rossi
like "$out" '"brand_snapshots":\[\{' "GDPR export includes the snapshots"
like "$out" '"insight_values":\[\{' "and the insight values"
run ig-connect disconnect $SMALL
run ig-insights sync $ROSSI_IG
is "$(sq "SELECT count(*) FROM insight_values v JOIN accounts a ON a.id = v.account_id WHERE a.external_id = '$SMALL'") $(sq "SELECT count(*) FROM brand_snapshots b JOIN accounts a ON a.id = b.account_id WHERE a.external_id = '$SMALL'")" "0 0" "a disconnected account's figures and snapshots are purged"
run ig-connect disconnect $ROSSI_IG --erase
is "$(sq "SELECT count(*) FROM insight_values WHERE account_id = $aid") $(sq "SELECT count(*) FROM ig_media WHERE account_id = $aid")" "0 0" "erasing an account erases its insights"

done_testing
