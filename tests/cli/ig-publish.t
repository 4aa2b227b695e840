#!/bin/bash
# ig-publish: drafts and the preflight, the calendar, assets, and the worker
# publishing every post type exactly once against the simulator — under
# retries, lost answers, overlapping runs and a spent quota.  Accounts are
# connected with the real ig-connect (tokens issued by the simulator).
. "${top_srcdir:-.}/tests/lib.sh"

sim_start
A1=17841400000000001      # marco_energia, Instagram Login (tenant rossi)
A2=17841400000000002      # sara_ascolta, Instagram Login (tenant bianchi)
A3=17841400000000003      # rossi_consulting, Facebook Login via Page 100000000000001 (rossi)
M="$SIM/media.sim"        # the simulator's media host: generated JPEG/PNG/MP4

# --- helpers ---------------------------------------------------------------
field() { printf '%s' "$out" | jget "$1"; }
# the simulator's publishing state, one Python expression over it (d)
pub() { simctl GET /_sim/publish | "$PYTHON3" -c 'import json,sys
d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
pubset() { simctl POST /_sim/publish "$1" > /dev/null; }
# how many media_publish requests reached the simulator for this post's container(s)
publishes_of() { pub "sum(v for k,v in d['publishes'].items() if k in '$(sq "SELECT COALESCE(container_id,'') FROM posts WHERE id = $1")')"; }
post_col() { sq "SELECT $2 FROM posts WHERE id = $1"; }
img() { printf '{"account":"%s","type":"image","media":[{"url":"%s/%s.jpg"}],"caption":"%s","at":"2020-01-01T00:00:00Z"%s}' "$1" "$M" "$2" "$3" "${4:-}"; }
connect() { # ACCOUNT TENANT
	simctl POST /_sim/token "{\"action\":\"issue\",\"account\":\"$1\"}" | jget token.token |
		ig-connect add --tenant "$2" > /dev/null
}
sim_req() { simctl GET "/_sim/requests?method=$1&path=$2" | "$PYTHON3" -c 'import json,sys
print(" ".join(r["host"] for r in json.load(sys.stdin)))'; }
sim_count() { simctl GET "/_sim/requests?method=$1&path=$2" | "$PYTHON3" -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
runp() { run ig-publish run --wait --poll-interval 50 --all "$@"; }
line_of() { printf '%s\n' "$out" | grep "\"id\":$1," | head -n 1; }

# --- set-up ------------------------------------------------------------------
tenant-admin init > /dev/null
tenant-admin tenant create rossi --name "Pizzeria Rossi" > /dev/null
tenant-admin tenant create bianchi --name "Bianchi" > /dev/null
connect $A1 rossi; ok $? "account 1 connected (Instagram Login)"
connect $A2 bianchi; ok $? "account 2 connected to another tenant"
run ig-connect url --tenant rossi --flavour facebook
run_in "$(curl -s -o /dev/null -w '%{redirect_url}' "$(field url)")" ig-connect callback
is_rc 0 "account 3 connected (Facebook Login)"
for u in marketer viewer sales; do
	tenant-admin --tenant rossi user add $u@rossi.test --role $u > /dev/null
	tenant-admin --tenant rossi key create $u@rossi.test 2>/dev/null | jget key > "$T/$u.key"
done
tenant-admin --tenant bianchi user add boss@bianchi.test --role org_admin > /dev/null
tenant-admin --tenant bianchi key create boss@bianchi.test 2>/dev/null | jget key > "$T/bianchi.key"
chmod 600 "$T"/*.key

# --- usage -------------------------------------------------------------------
run ig-publish frobnicate; is_rc 64 "unknown command → 64"
run ig-publish --tenant rossi list --wait; is_rc 64 "an option of another command → 64"
like "$err" "--wait does not apply here" "…and says so"
run ig-publish --tenant rossi schedule 1; is_rc 64 "schedule without --at → 64"
run ig-publish --tenant rossi list --state nope; is_rc 64 "a bad --state → 64"

# --- draft: a stream with good and bad lines -----------------------------------
{
	img @marco_energia a "hello #pizza" ',"key":"k-1","skus":["PIZZA-1","PIZZA-2"]'; echo
	printf '{"account":"@marco_energia","type":"carousel","media":["%s/b.jpg","%s/c.jpg?w=1080&h=1350"],"caption":"two","at":"2020-01-01T00:00:00Z","skus":["PIZZA-1"],"key":"k-2"}\n' "$M" "$M"
	printf '{"account":"@marco_energia","type":"image","media":["%s/tall.jpg?w=500&h=1080"]}\n' "$M"
	echo 'not json'
	printf '{"account":"@nobody","type":"image","media":["%s/a.jpg"]}\n' "$M"
	printf '{"account":"@marco_energia","type":"carousel","media":["%s/x.jpg"]}\n' "$M"
} > "$T/posts.jsonl"
run ig-publish --tenant rossi draft "$T/posts.jsonl"
is_rc 65 "a stream with refused lines → 65"
is "$(printf '%s\n' "$out" | grep -c '"state":"scheduled"')" 2 "the two good posts are stored and scheduled"
like "$err" "posts.jsonl:3: media\[0\]: rule image.aspect: aspect 0.46 \(500x1080\) is outside 4:5 to 1.91:1" \
	"line 3: the JPEG header is read and the aspect rule named"
like "$err" "posts.jsonl:4: " "line 4: bad JSON reported with its line"
like "$err" "posts.jsonl:5: account: rule account.known: no Instagram account '@nobody' in this tenant" \
	"line 5: an unknown account"
like "$err" "posts.jsonl:6: media: rule carousel.count: a carousel has 2 to 10 items, not 1" \
	"line 6: the carousel rule"
like "$out" '"line":3,"ok":false' "a refused line is reported on stdout too"
like "$out" 'is plain http' "a plain-http media URL is a warning, not a refusal"
is "$(sq 'SELECT count(*) FROM posts')" 2 "nothing of a refused post was stored"
run ig-publish --tenant rossi draft "$T/posts.jsonl"
like "$(printf '%s\n' "$out" | head -n 1)" '"id":1,"state":"scheduled","key":"k-1","duplicate":true' \
	"the same key again is the same post"
is "$(sq "SELECT count(*) FROM posts WHERE idem_key = 'k-1'")" 1 "…stored once"
is "$(sq 'SELECT group_concat(sku) FROM (SELECT sku FROM post_skus WHERE post_id = 1 ORDER BY sku)')" \
	"PIZZA-1,PIZZA-2" "SKUs are kept for ig-insights"

# --- run: image and carousel published, exactly once -----------------------------
runp
is_rc 0 "run --wait publishes the due posts"
is "$(post_col 1 state)/$(post_col 2 state)" "published/published" "image and carousel are published"
like "$(post_col 1 media_id)" '^178[0-9]+$' "Meta's media id is stored"
like "$(post_col 2 permalink)" '^https://www.instagram.com/p/' "…and the permalink"
is "$(pub "d['published']")" 2 "the simulator has two posts"
is "$(pub "d['duplicates']")" 0 "no duplicate publish"
is "$(pub "len([c for c in d['containers'] if c['child']])")" 2 "the carousel's two children were created"
run ig-publish --tenant rossi status 2
like "$out" '"step":"child","outcome":"ok"' "status shows every step of the journal"
like "$out" '"step":"publish","outcome":"ok","meta_id":"178' "…with Meta's ids"
run ig-publish --tenant rossi list --state published --format csv
like "$out" '^id,tenant,username,type,state' "list --format csv has a header"
is "$(printf '%s\n' "$out" | grep -c ',published,')" 2 "…and both posts"
run ig-publish run
is_rc 0 "a second run has nothing to do"
is "$(pub "d['published']")" 2 "…and publishes nothing again"
is "$(sq "SELECT count(*) FROM audit_log WHERE action = 'post.publish'")" 2 "every publish is audited"

# --- a reel on a Facebook Login account, one step per run ------------------------
printf '{"account":"%s","type":"reel","media":["%s/r.mp4"],"caption":"reel","share_to_feed":true,"thumb_offset":1500,"at":"2020-01-01T00:00:00Z","key":"reel-1"}' \
	$A3 "$M" > "$T/reel.json"
run ig-publish --tenant rossi draft "$T/reel.json"
is_rc 0 "a reel for the Facebook Login account is drafted"
R=$(field id)
steps=""
for i in 1 2 3 4 5; do
	run ig-publish run
	steps="$steps $(post_col $R step)"
done
is "$steps" " poll poll poll permalink done" "cron runs move the reel one step each: create, poll, poll, publish, permalink"
is "$(post_col $R state)" published "the reel is published"
like "$(sim_req POST media_publish)" "graph.facebook.com" "…through graph.facebook.com"
is "$(pub "[c['media_type'] for c in d['containers'] if c['id']=='$(post_col $R container_id)'][0]")" REELS \
	"as a REELS container"

# --- lost answers ------------------------------------------------------------------
pubset '{"publish_then_error":{"count":1,"status":500,"code":2}}'
img @marco_energia lost1 "lost answer" ',"key":"lost-1"' | ig-publish --tenant rossi draft > "$T/o"
L1=$(jget id < "$T/o")
runp
is_rc 75 "a publish whose answer is lost: 75"
like "$(line_of $L1)" '"state":"unknown"' "…the post is unknown, on run's stdout"
is "$(pub "d['published']")" 4 "(Meta did publish it)"
run ig-publish --tenant rossi list --state unknown
like "$out" "\"id\":$L1," "list --state unknown shows it"
like "$out" "\"alert\":\"post $L1 is unknown: " "…with its open alert"
is "$(sq "SELECT count(*) FROM post_alerts WHERE post_id = $L1 AND status = 'open'")" 1 "an alert is open for the tenant"
runp
is_rc 0 "the next run settles it"
is "$(post_col $L1 state)" published "status_code PUBLISHED → published"
is "$(post_col $L1 media_id)" "$(pub "[m['id'] for m in d['media'] if m['caption']=='lost answer'][0]")" \
	"the media id is found (by content, not the newest item)"
is "$(publishes_of $L1)" 1 "media_publish was sent once"
is "$(sq "SELECT count(*) FROM post_alerts WHERE post_id = $L1 AND status = 'open'")" 0 "the alert is resolved"
simctl POST /_sim/inject '{"match":"/media_publish","method":"POST","count":1,"status":502}' > /dev/null
img @marco_energia lost2 "5xx before Meta acted" ',"key":"lost-2"' | ig-publish --tenant rossi draft > "$T/o"
L2=$(jget id < "$T/o")
runp
is_rc 75 "a 502 on media_publish: 75 (ambiguous, not resent)"
is "$(post_col $L2 state)" unknown "…unknown"
is "$(sim_count POST media_publish)" 5 "the POST was sent once, not retried by the client"
runp
is_rc 0 "the next run settles it"
is "$(post_col $L2 state)" published "status_code FINISHED → it did not happen → published now"
is "$(publishes_of $L2)" 1 "…exactly once at Meta"
run ig-publish --tenant rossi status $L2
like "$out" "status FINISHED: the publish did not happen" "the journal says how it was settled"
like "$out" '"step":"publish","outcome":"unknown"' "…and keeps the lost attempt"
# a run that died after sending: the step 'sent' is committed first
img @marco_energia died "died mid-publish" ',"key":"died"' | ig-publish --tenant rossi draft > "$T/o"
L3=$(jget id < "$T/o")
run ig-publish run
run ig-publish run
is "$(post_col $L3 step)" permalink "(published normally)"
sq "UPDATE posts SET state = 'publishing', step = 'sent', media_id = NULL, permalink = NULL WHERE id = $L3"
run ig-publish run --all
is_rc 0 "a post left 'sent' by a run that died…"
like "$(line_of $L3)" '"state":"published"' "…is settled from Meta's state, not sent again"
is "$(publishes_of $L3)" 1 "…one media_publish"

# --- overlapping runs ------------------------------------------------------------
simctl POST /_sim/latency '{"ms":40}' > /dev/null
for i in $(seq 1 16); do img @marco_energia "ov$i" "overlap $i" ",\"key\":\"ov-$i\""; echo; done |
	ig-publish --tenant rossi draft --no-network-check > /dev/null
before=$(pub "d['published']")
( ig-publish run --wait --all --limit 10 --poll-interval 20 --parallel 4 > "$T/run1" 2>&1; echo $? > "$T/rc1" ) &
p1=$!
( ig-publish run --wait --all --limit 10 --poll-interval 20 --parallel 4 > "$T/run2" 2>&1; echo $? > "$T/rc2" ) &
p2=$!
wait $p1 $p2
simctl POST /_sim/latency '{"ms":0}' > /dev/null
is "$(cat "$T/rc1")/$(cat "$T/rc2")" "0/0" "two overlapping runs both succeed"
is "$(sq "SELECT count(*) FROM posts WHERE idem_key LIKE 'ov-%' AND state = 'published'")" 16 "every post is published"
is "$(( $(pub "d['published']") - before ))" 16 "…16 publishes at Meta"
is "$(pub "d['duplicates']")" 0 "…none twice"
ov_ids=" $(sq "SELECT id FROM posts WHERE idem_key LIKE 'ov-%'" | tr '\n' ' ')"
ov_count() { cat "$@" | "$PYTHON3" -c 'import json,sys
ids = set(sys.argv[1].split())
print(sum(1 for l in sys.stdin if l.startswith("{") and str(json.loads(l)["id"]) in ids))' "$ov_ids"; }
is "$(ov_count "$T/run1" "$T/run2")" 16 "each post was worked on by exactly one of the runs"
ok "$([ "$(ov_count "$T/run1")" -gt 0 ] && [ "$(ov_count "$T/run2")" -gt 0 ]; echo $?)" \
	"…and both runs published some (they overlapped)"

# --- limits --------------------------------------------------------------------
pubset "{\"quota_usage\":{\"$A1\":50}}"
img @marco_energia q1 "over quota" ',"key":"q-1"' | ig-publish --tenant rossi draft > "$T/o"
Q1=$(jget id < "$T/o")
runp
is_rc 0 "a spent quota is not a failure"
is "$(post_col $Q1 state)/$(post_col $Q1 step)" "publishing/publish" "the post waits to publish"
like "$(line_of $Q1)" '"deferred_until":"' "…deferred"
like "$(post_col $Q1 error)" "publishing limit reached \(50 of 50" "the reason is kept"
run ig-publish --tenant rossi limit @marco_energia
like "$out" '"quota_usage":50,"quota_total":50,"quota_duration":86400,"remaining":0' "limit reads the live content_publishing_limit"
pubset "{\"quota_usage\":{\"$A1\":0}}"
IGKIT_NOW=$(( $(date +%s) + 7200 )) ig-publish run --wait --poll-interval 20 > /dev/null
is "$(post_col $Q1 state)" published "once quota is back it is published"
simctl POST /_sim/inject '{"match":"/media_publish","method":"POST","count":1,"code":9,"subcode":2207042}' > /dev/null
img @marco_energia q2 "quota race" ',"key":"q-2"' | ig-publish --tenant rossi draft > "$T/o"
Q2=$(jget id < "$T/o")
runp
is_rc 0 "9/2207042 from media_publish defers, does not fail"
is "$(post_col $Q2 state)/$(post_col $Q2 error_code)/$(post_col $Q2 error_subcode)" "publishing/9/2207042" "…with Meta's code"
mp_before=$(sim_count POST media_publish)
simctl POST /_sim/inject '{"match":"/media_publish","method":"POST","count":1,"code":9007,"subcode":2207027}' > /dev/null
img @marco_energia nr "not ready" ',"key":"nr"' | ig-publish --tenant rossi draft > "$T/o"
NR=$(jget id < "$T/o")
runp
is "$(post_col $NR state)" published "9007/2207027 (not ready) on media_publish: published all the same"
is "$(publishes_of $NR)" 1 "…one successful media_publish"
is "$(( $(sim_count POST media_publish) - mp_before ))" 2 \
	"…not acted on, so the client resent the POST itself: two requests, no duplicate"
is "$(sq "SELECT count(*) FROM post_journal WHERE post_id = $NR AND outcome = 'not_ready'")" 0 \
	"…after the client's backoff, with no not_ready round in the journal"

# a publish that times out after it left: ambiguous, never resent
pubset '{"publish_then_error":{"count":1,"hang":3}}'
img @marco_energia slow "timed out" ',"key":"slow"' | ig-publish --tenant rossi draft > "$T/o"
SL=$(jget id < "$T/o")
IGKIT_HTTP_TIMEOUT=1 ig-publish run --wait --poll-interval 20 > /dev/null 2>&1
is "$(post_col $SL state)" unknown "a media_publish that timed out: unknown"
sleep 2
runp
is "$(post_col $SL state)" published "…settled by the next run"
is "$(publishes_of $SL)" 1 "…one media_publish at Meta"
# the container-creation limit (400 per 24 h, every child counts)
sq "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
    INSERT INTO post_journal (post_id, tenant_id, at, step, outcome)
    SELECT 1, tenant_id, $(date +%s), 'container', 'ok' FROM n, posts WHERE posts.id = 1"
img @marco_energia cl "container limit" ',"key":"cl"' | ig-publish --tenant rossi draft > "$T/o"
CL=$(jget id < "$T/o")
runp
is "$(post_col $CL state)/$(post_col $CL container_id)" "publishing/" "over the container-creation limit: the post waits, nothing created"
like "$(post_col $CL error)" "container-creation limit: 4[0-9][0-9] containers in 24 h \\(at most 400\\)" "…and says why"
sq "DELETE FROM post_journal WHERE post_id = 1 AND message IS NULL AND step = 'container' AND meta_id IS NULL"
IGKIT_NOW=$(( $(date +%s) + 7200 )) ig-publish run --wait --poll-interval 20 > /dev/null
is "$(post_col $CL state)" published "…and goes out later"

# --- retries, and a carousel with a video item ------------------------------------------
simctl POST /_sim/inject '{"match":"/media","method":"POST","count":1,"status":503}' > /dev/null
img @marco_energia retry "after a 503" ',"key":"retry"' | ig-publish --tenant rossi draft > "$T/o"
RT=$(jget id < "$T/o")
runp
is "$(post_col $RT state)" published "a 503 on container creation is retried and the post published"
is "$(pub "len([c for c in d['containers'] if c['caption']=='after a 503'])")" 1 "…one container"
printf '{"account":"@marco_energia","type":"carousel","media":["%s/v1.jpg",{"url":"%s/v2.mp4"}],"caption":"mixed carousel","at":"2020-01-01T00:00:00Z","key":"mixed"}' "$M" "$M" > "$T/mixed.json"
run ig-publish --tenant rossi draft "$T/mixed.json"
MX=$(field id)
runp
is "$(post_col $MX state)" published "a carousel with a video item is published"
is "$(sq "SELECT kind || ':' || status FROM post_media WHERE post_id = $MX ORDER BY position" | tr '\n' ' ')" \
	"image:FINISHED video:FINISHED " "…its video item was polled until FINISHED first"
like "$(pub "[c for c in d['containers'] if c['caption']=='mixed carousel'][0]['children']")" "179" \
	"…and the parent names both children"

# --- a story -------------------------------------------------------------------------
printf '{"account":"@marco_energia","type":"story","media":["%s/story.jpg?w=1080&h=1920"],"at":"2020-01-01T00:00:00Z","key":"story"}' "$M" > "$T/story.json"
run ig-publish --tenant rossi draft "$T/story.json"
is_rc 0 "a story (9:16 is fine for a story)"
ST=$(field id)
runp
is "$(post_col $ST state)" published "the story is published"
is "$(pub "[c['media_type'] for c in d['containers'] if c['id']=='$(post_col $ST container_id)'][0]")" STORIES \
	"…as a STORIES container"
printf '{"account":"@marco_energia","type":"story","media":["%s/s.jpg"],"caption":"no"}' "$M" > "$T/story2.json"
run ig-publish --tenant rossi check "$T/story2.json"
like "$err" "caption: rule story.caption" "a story takes no caption"

# --- container errors ------------------------------------------------------------
pubset '{"next_status":["ERROR"]}'
img @marco_energia err "will fail" ',"key":"err"' | ig-publish --tenant rossi draft > "$T/o"
E1=$(jget id < "$T/o")
runp
is_rc 69 "a container in ERROR: the post fails, 69"
like "$(line_of $E1)" '"state":"failed".*"explain":"Meta could not process the media' "…one JSON line with an explanation"
run ig-publish --tenant rossi list --state failed
like "$out" "\"id\":$E1," "list --state failed shows it"
is "$(sq "SELECT count(*) FROM audit_log WHERE action = 'post.fail' AND target = 'post:$E1'")" 1 "the failure is audited"
is "$(sq "SELECT count(*) FROM post_alerts WHERE post_id = $E1 AND status = 'open'")" 1 "…and raises an alert"
pubset '{"next_status":["EXPIRED"]}'
img @marco_energia exp "expired once" ',"key":"exp"' | ig-publish --tenant rossi draft > "$T/o"
X1=$(jget id < "$T/o")
runp
is "$(post_col $X1 state)" published "an EXPIRED container is created again and published"
is "$(pub "len([c for c in d['containers'] if c['caption']=='expired once'])")" 2 "…two containers"
printf '{"account":"@marco_energia","type":"image","media":["%s/missing.jpg"],"at":"2020-01-01T00:00:00Z"}' "$M" > "$T/miss.json"
run ig-publish --tenant rossi draft "$T/miss.json"
is_rc 65 "the preflight refuses a media URL that does not answer 200"
like "$err" "media\[0\]: rule media.reachable: .* answers HTTP 404" "…naming the rule"
run ig-publish --tenant rossi draft --no-network-check "$T/miss.json"
MI=$(field id)
run ig-publish run
is "$(sq "SELECT code || '/' || subcode FROM post_journal WHERE post_id = $MI AND outcome = 'retry'")" "9004/2207052" \
	"unreachable at Meta: 9004/2207052, tried again later"
for i in 1 2 3 4 5; do IGKIT_NOW=$(( $(date +%s) + i * 3600 )) ig-publish run > /dev/null 2>&1; done
is "$(post_col $MI state)" failed "…and failed after bounded retries"
like "$(post_col $MI explain)" "must be public" "…saying the URL must be public"

# --- first comment exactly once ---------------------------------------------------
pubset '{"comment_trap":1}'
img @marco_energia fc "with a comment" ',"key":"fc","first_comment":"Order at the link in bio"' |
	ig-publish --tenant rossi draft > "$T/o"
FC=$(jget id < "$T/o")
runp
is "$(post_col $FC comment_state)" sent "20/1772107 (created, then an error): the comment is found, not resent"
is "$(pub "len(d['comments']['$(post_col $FC media_id)'])")" 1 "…one comment on the media"
like "$(post_col $FC comment_id)" '^180' "…its id is kept"

# --- the preflight's rules --------------------------------------------------------
chk() { printf '%s' "$1" > "$T/c.json"; run ig-publish --tenant rossi check "$T/c.json"; }
long=$("$PYTHON3" -c 'print("x"*2201)')
tags=$("$PYTHON3" -c 'print(" ".join("#t%d" % i for i in range(31)))')
ments=$("$PYTHON3" -c 'print(" ".join("@u%d" % i for i in range(21)))')
chk "{\"account\":\"@marco_energia\",\"type\":\"image\",\"media\":[\"$M/a.jpg\"],\"caption\":\"$long\"}"
like "$err" "caption: rule caption.length: 2201 characters, at most 2200" "caption.length"
chk "{\"account\":\"@marco_energia\",\"type\":\"image\",\"media\":[\"$M/a.jpg\"],\"caption\":\"$tags\"}"
like "$err" "rule caption.hashtags: 31 hashtags, at most 30" "caption.hashtags"
chk "{\"account\":\"@marco_energia\",\"type\":\"image\",\"media\":[\"$M/a.jpg\"],\"caption\":\"$ments\"}"
like "$err" "rule caption.mentions: 21 @mentions, at most 20" "caption.mentions"
chk "{\"account\":\"@marco_energia\",\"type\":\"carousel\",\"media\":[\"$M/a.jpg\",{\"url\":\"$M/r.mp4\",\"type\":\"reel\"}]}"
like "$err" "media\[1\]: rule carousel.no_reels" "carousel.no_reels"
chk "{\"account\":\"@marco_energia\",\"type\":\"carousel\",\"media\":[$(for i in $(seq 11); do printf '"%s/a.jpg",' "$M"; done)\"$M/a.jpg\"]}"
like "$err" "rule carousel.count: a carousel has 2 to 10 items, not 12" "carousel.count"
chk "{\"account\":\"@marco_energia\",\"type\":\"image\",\"media\":[\"$M/a.jpg\"],\"collaborators\":[\"a\",\"b\",\"c\",\"d\"]}"
like "$err" "rule collaborators.count: 4 collaborators, at most 3" "collaborators.count"
chk "{\"account\":\"@marco_energia\",\"type\":\"image\",\"media\":[\"$M/a.jpg\"],\"collaborators\":[\"@luca\"]}"
like "$err" "rule collaborators.at: '@luca': give the username without '@'" "collaborators.at"
chk "{\"account\":\"@marco_energia\",\"type\":\"image\",\"media\":[\"$M/a.png\"]}"
like "$err" "rule image.format: Instagram takes JPEG images only; this is image/png" "image.format (from the content type)"
chk "{\"account\":\"@marco_energia\",\"type\":\"image\",\"media\":[\"$M/a.jpg?w=1600&h=1600\"]}"
like "$err" "rule image.width: width 1600 px is outside 320 to 1440 px" "image.width (from the JPEG header)"
chk "{\"account\":\"@marco_energia\",\"type\":\"image\",\"media\":[\"$M/a.jpg?pad=9000000\"]}"
like "$err" "rule image.size: 9[0-9]+ bytes is over the 8 MiB limit" "image.size"
chk "{\"account\":\"@marco_energia\",\"type\":\"image\",\"media\":[\"$M/login.html\"]}"
like "$err" "rule media.content_type: .* is served as 'text/html', not an image" "media.content_type"
chk "{\"account\":\"@marco_energia\",\"type\":\"image\",\"media\":[\"$M/a.jpg\"],\"share_to_feed\":true}"
like "$err" "share_to_feed: rule reel.fields: only a reel takes share_to_feed" "reel.fields"
chk "{\"account\":\"@marco_energia\",\"type\":\"reel\",\"media\":[\"$M/short.mp4?d=1.5\"]}"
like "$err" "rule reel.duration: 1.5 s is outside 3 s to 15 min" "reel.duration (from the MP4's mvhd)"
chk "{\"account\":\"@marco_energia\",\"type\":\"story\",\"media\":[\"$M/long.mp4?d=75\"]}"
like "$err" "rule story.duration: 75.0 s is outside 3 s to 60 s" "story.duration"
chk "{\"account\":\"@marco_energia\",\"type\":\"image\",\"media\":[\"ftp://x/a.jpg\"]}"
like "$err" "rule media.url: 'ftp://x/a.jpg' is not an http\(s\) URL" "media.url"
chk "{\"account\":\"@marco_energia\",\"type\":\"image\",\"media\":[\"$M/a.jpg\"],\"captoin\":\"x\"}"
like "$err" "captoin: rule post.fields: unknown field" "an unknown field is named"
# every rule of the two tables (post_rules, item_rules) answers with its name
A='"account":"@marco_energia"'
alt=$("$PYTHON3" -c 'print("x"*1001)')
chk "{$A,\"type\":\"story\",\"media\":[\"$M/story.jpg?w=1080&h=1920\"],\"caption\":\"hi\"}"
like "$err" "caption: rule story.caption: a story has no caption or comments" "story.caption"
chk "{$A,\"type\":\"image\",\"media\":[\"$M/a.jpg\"],\"first_comment\":\"$long\"}"
like "$err" "first_comment: rule comment.length: 2201 characters, at most 2200" "comment.length"
chk "{$A,\"type\":\"image\",\"media\":[\"$M/a.jpg\",\"$M/b.jpg\"]}"
like "$err" "media: rule media.count: an image has exactly one media item, not 2" "media.count"
chk "{$A,\"type\":\"story\",\"media\":[\"$M/story.jpg?w=1080&h=1920\"],\"collaborators\":[\"luca\"]}"
like "$err" "collaborators: rule collaborators.story: stories take no collaborators" "collaborators.story"
chk "{$A,\"type\":\"image\",\"media\":[\"$M/a.jpg\"],\"collaborators\":[\"luca\",\"\"]}"
like "$err" "rule collaborators.name: item 1 is not a username" "collaborators.name"
chk "{$A,\"type\":\"reel\",\"media\":[\"$M/r.mp4\"],\"cover_url\":\"ftp://x/c.jpg\"}"
like "$err" "cover_url: rule media.url: not an http\(s\) URL" "media.url of cover_url"
chk "{$A,\"type\":\"reel\",\"media\":[{\"url\":\"$M/a.jpg\",\"kind\":\"image\"}]}"
like "$err" "media\[0\]: rule reel.video: a reel is a video" "reel.video"
chk "{$A,\"type\":\"image\",\"media\":[\"$M/r.mp4\"]}"
like "$err" "media\[0\]: rule image.kind: an image post takes an image" "image.kind"
chk "{$A,\"type\":\"carousel\",\"media\":[\"$M/a.jpg\",{\"url\":\"$M/v.mp4\",\"alt_text\":\"x\"}]}"
like "$err" "media\[1\]: rule alt_text.image: alt_text is for images only" "alt_text.image"
chk "{$A,\"type\":\"image\",\"media\":[{\"url\":\"$M/a.jpg\",\"alt_text\":\"$alt\"}]}"
like "$err" "media\[0\]: rule alt_text.length: 1001 characters, at most 1000" "alt_text.length"
chk "{$A,\"type\":\"image\",\"media\":[{\"url\":\"$M/a.jpg\",\"user_tags\":[{\"username\":\"u\",\"x\":2,\"y\":0.5}]}]}"
like "$err" "media\[0\]: rule user_tags.shape: tag 0 needs a username and x, y between 0.0 and 1.0" "user_tags.shape"
chk "{$A,\"type\":\"reel\",\"media\":[\"$M/a.jpg\"]}"
like "$err" "media\[0\]: rule media.content_type: .* is served as 'image/jpeg', not a video" "media.content_type of a video"
chk "{$A,\"type\":\"story\",\"caption\":\"x\",\"collaborators\":[\"@a\"],\"media\":[\"ftp://x/a.jpg\"]}"
like "$err" "caption: rule story.caption" "the first rule that refuses is the answer (post rules before items)"
chk "{\"account\":\"@marco_energia\",\"type\":\"image\",\"media\":[\"$M/a.jpg?w=1080&h=1350\"]}"
is_rc 0 "check passes a good post"
like "$out" '"ok":true' "…and says so"
is "$(sq "SELECT count(*) FROM posts WHERE caption = '' AND state <> 'draft' AND idem_key IS NULL AND type = 'image' AND id > $FC")" 0 \
	"check stores nothing"

# --- calendar: schedule, edit, cancel, list -----------------------------------------
run ig-publish --tenant rossi draft --account @marco_energia --type image --media "$M/d.jpg" --caption "a draft" --sku SUMMER
is_rc 0 "a draft from flags"
D=$(field id)
is "$(field state)" draft "…without --at it is a draft"
run ig-publish run --all
unlike "$out" "\"id\":$D," "run leaves drafts alone"
run ig-publish --tenant rossi schedule $D --at 2030-06-01T10:00:00Z
is "$(field state)/$(field at)" "scheduled/2030-06-01T10:00:00Z" "schedule sets the time"
run ig-publish run --all
unlike "$out" "\"id\":$D," "a post in the future is not due"
run ig-publish --tenant rossi edit $D --caption "an edited draft"
is "$(field caption)" "an edited draft" "edit changes the caption"
run ig-publish --tenant rossi edit $D --json '{"collaborators":["@x"]}'
is_rc 65 "edit runs the preflight again"
like "$err" "collaborators.at" "…naming the rule"
run ig-publish --tenant rossi list --sku SUMMER --calendar --format table
like "$out" "^day +time +id +type +state" "list --calendar as a table"
like "$out" "2030-06-01 +10:00 +$D +image +scheduled" "…one row per post by day"
run ig-publish --tenant rossi list --from 2030-01-01 --to 2031-01-01
is "$(printf '%s\n' "$out" | grep -c .)" 1 "list --from/--to"
run ig-publish --tenant rossi cancel $D
is "$(field state)" cancelled "cancel"
IGKIT_NOW=1910000000 ig-publish run > /dev/null
is "$(post_col $D state)" cancelled "a cancelled post is never published"
run ig-publish --tenant rossi cancel 1
is_rc 65 "a published post cannot be cancelled"
like "$err" "post 1 is published: only a draft, scheduled or failed post can be cancelled" "…says why"
run ig-publish --tenant rossi edit 1 --caption x
is_rc 65 "…nor edited"
run ig-publish --tenant rossi status 99999
is_rc 65 "an unknown post: 65"
like "$err" "unknown post 99999" "…named"

# --- roles, tenants, audit ---------------------------------------------------------
run env IGKIT_API_KEY="$(cat "$T/viewer.key")" ig-publish draft --account @marco_energia --type image --media "$M/a.jpg"
is_rc 77 "a viewer cannot draft"
like "$err" "role 'viewer' may not change publishing in tenant 'rossi'" "…says why"
run env IGKIT_API_KEY="$(cat "$T/viewer.key")" ig-publish run
is_rc 77 "…nor run"
run env IGKIT_API_KEY="$(cat "$T/sales.key")" ig-publish list
is_rc 0 "sales may read the calendar"
like "$out" '"id":1,' "…of its tenant"
run env IGKIT_API_KEY="$(cat "$T/marketer.key")" ig-publish draft --account @marco_energia --type image --media "$M/m.jpg" --caption "by the marketer"
is_rc 0 "a marketer drafts"
run env IGKIT_API_KEY="$(cat "$T/bianchi.key")" ig-publish status 1
is_rc 65 "another tenant's post is unknown"
is "$err" "ig-publish: unknown post 1" "…with nothing of it in the message"
run env IGKIT_API_KEY="$(cat "$T/bianchi.key")" ig-publish cancel $D
is_rc 65 "…and cannot be cancelled"
run env IGKIT_API_KEY="$(cat "$T/bianchi.key")" ig-publish list
is "$out" "" "another tenant's calendar is empty to it"
run env IGKIT_API_KEY="$(cat "$T/bianchi.key")" ig-publish --tenant rossi list
is_rc 77 "naming another tenant: 77"
run env IGKIT_API_KEY="$(cat "$T/bianchi.key")" ig-publish draft --account @marco_energia --type image --media "$M/a.jpg"
is_rc 65 "another tenant's account cannot be used"
like "$err" "no Instagram account '@marco_energia' in this tenant" "…it is simply not there"
is "$(sq "SELECT count(*) FROM audit_log WHERE action = 'post.schedule'")" \
	"$(sq "SELECT count(*) FROM post_journal WHERE step IN ('schedule') OR (step = 'draft' AND message = 'stored and scheduled')")" \
	"every schedule is audited"
is "$(sq "SELECT count(*) FROM audit_log WHERE action = 'post.cancel' AND target = 'post:$D'")" 1 "the cancel is audited"
is "$(sq "SELECT count(*) FROM audit_log WHERE action = 'post.draft' AND outcome = 'denied'")" 1 "the viewer's attempt is audited as denied"

# --- assets ----------------------------------------------------------------------------
mkdir -p "$T/media/dec"
curl -s "$M/photo.jpg?w=1080&h=1350" > "$T/media/dec/photo.jpg"
run ig-publish --tenant rossi asset add "$T/media/dec/photo.jpg"
is_rc 78 "a local file needs the media directory and its public URL"
export IGKIT_MEDIA_DIR="$T/media" IGKIT_MEDIA_BASE_URL="$M"
run ig-publish --tenant rossi asset add "$T/media/dec/photo.jpg" --title "December" --folder dec
is_rc 0 "asset add: a local file under the media directory"
AS=$(field id)
is "$(field width)x$(field height)/$(field mime)" "1080x1350/image/jpeg" "…type and size from the JPEG header"
is "$(field sha256)" "$(sha256sum "$T/media/dec/photo.jpg" | cut -d' ' -f1)" "…its SHA-256"
is "$(field url)" "$M/dec/photo.jpg" "…served at the public base URL"
is "$(field size)" "$(stat -c %s "$T/media/dec/photo.jpg")" "…its size"
cp "$T/media/dec/photo.jpg" "$T/outside.jpg"
run ig-publish --tenant rossi asset add "$T/outside.jpg"
is_rc 65 "a file outside the media directory is refused"
like "$err" "rule asset.media_dir" "…naming the rule"
run ig-publish --tenant rossi asset add "$M/remote.jpg?w=1080&h=1080" --title remote
is_rc 0 "asset add: a URL"
like "$out" '"warnings":\["the URL is plain http' "…plain http is a warning"
is "$(field width)x$(field height)" "1080x1080" "…its header read"
like "$(field local_path)" "^$T/media/.copies/t[0-9]+-" "…and a local copy kept in the media directory"
is "$(field sha256)" "$(sha256sum "$(field local_path)" | cut -d' ' -f1)" "…hashed"
is "$(field sha256)" "$(curl -s "$M/remote.jpg?w=1080&h=1080" | sha256sum | cut -d' ' -f1)" "…the same bytes Meta gets"
run ig-publish --tenant rossi asset add "$M/missing.jpg"
is_rc 65 "an asset URL that does not answer 200 is refused"
like "$err" "rule media.reachable: .* answers HTTP 404" "…naming the rule"
is "$(ls "$T/media/.copies" | wc -l)" 1 "…and leaves no file behind"
run ig-publish --tenant rossi asset add "ftp://cdn.example/a.jpg"
is_rc 66 "not an http(s) URL, nor a file there: 66"
run ig-publish --tenant rossi asset add "https://cdn.example/clip.mp4" --no-network-check
is "$(field kind)" video "an https video URL"
curl -s "$M/clip.mp4?d=12.5" > "$T/media/clip.mp4"
run ig-publish --tenant rossi asset add "$T/media/clip.mp4"
is "$(field kind)/$(field mime)/$(field duration_ms)" "video/video/mp4/12500" "a video's duration from its mvhd"
printf '{"account":"@marco_energia","type":"image","media":[{"asset":%s,"alt_text":"a pizza"}],"caption":"from an asset","at":"2020-01-01T00:00:00Z"}' $AS > "$T/as.json"
run ig-publish --tenant rossi draft "$T/as.json"
is_rc 0 "a post from a registered asset"
run env IGKIT_API_KEY="$(cat "$T/bianchi.key")" ig-publish check --account @sara_ascolta --type image --json x 2>/dev/null
printf '{"account":"@sara_ascolta","type":"image","media":[{"asset":%s}]}' $AS > "$T/as2.json"
run env IGKIT_API_KEY="$(cat "$T/bianchi.key")" ig-publish draft "$T/as2.json"
is_rc 65 "another tenant's asset is unknown"
like "$err" "media\[0\].asset: unknown asset $AS" "…by its id only"
run ig-publish --tenant rossi asset list --format csv
like "$out" "dec/photo.jpg" "asset list"

# --- re-login -----------------------------------------------------------------------------
simctl POST /_sim/token "{\"account\":\"$A1\",\"action\":\"revoke\"}" > /dev/null
img @marco_energia relog "after revoke" ',"key":"relog"' | ig-publish --tenant rossi draft > "$T/o"
RL=$(jget id < "$T/o")
runp
is_rc 77 "a revoked token: 77"
like "$(line_of $RL)" "re-authorise" "…the post says to re-authorise"
is "$(sq "SELECT status FROM accounts WHERE external_id = '$A1'")" needs_reauth "the account is marked"
is "$(post_col $RL state)" publishing "the post waits, not failed"

# --- GDPR export, deauthorisation purge ------------------------------------------------
tenant-admin --tenant rossi export > "$T/export.json"
is "$("$PYTHON3" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["posts"]), len(d["assets"]) > 0, any(j["step"]=="publish" for j in d["post_journal"]))' "$T/export.json")" \
	"$(sq 'SELECT count(*) FROM posts WHERE tenant_id = (SELECT id FROM tenants WHERE slug = '"'rossi'"')') True True" \
	"the tenant's export holds its posts, assets and journal"
printf '{"account":"@sara_ascolta","type":"image","media":["%s/s.jpg"],"at":"2020-01-01T00:00:00Z"}' "$M" > "$T/sara.json"
IGKIT_API_KEY="$(cat "$T/bianchi.key")" ig-publish draft "$T/sara.json" > /dev/null
is "$(sq "SELECT count(*) FROM posts p JOIN accounts a ON a.id = p.account_id WHERE a.external_id = '$A2'")" 1 "(a post of account 2)"
SR=$(simctl POST /_sim/deauthorize "{\"user\":\"$A2\",\"revoke\":false}" | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["signed_request"])')
run_in "signed_request=$SR" ig-connect deauthorize
is_rc 0 "Meta deauthorises account 2"
run env IGKIT_API_KEY="$(cat "$T/bianchi.key")" ig-publish run
is_rc 77 "its scheduled posts wait for a new authorisation"
run_in "signed_request=$SR" env IGKIT_DATA_DELETION_URL=https://example.test/deletion ig-connect data-deletion
is_rc 0 "Meta asks to delete the user's data"
is "$(sq "SELECT count(*) FROM posts WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 'bianchi')")" 0 \
	"its posts are purged with the account"

# --- Meta's request id on successful answers -----------------------------------------------
is "$(sq "SELECT count(*) FROM post_journal WHERE post_id = 2 AND outcome = 'ok' AND step IN ('child', 'container', 'publish', 'permalink') AND (request_id IS NULL OR request_id NOT GLOB 'A[A-Za-z0-9]*')")" 0 \
	"every successful call in the journal keeps Meta's x-fb-trace-id"
is "$(sq "SELECT count(DISTINCT request_id) = count(*) AND count(*) >= 4 FROM post_journal WHERE post_id = 2 AND outcome = 'ok' AND step IN ('child', 'container', 'publish', 'permalink')")" 1 \
	"…one per request"
run ig-publish --tenant rossi status 2
like "$out" '"step":"publish","outcome":"ok","meta_id":"178[0-9]*","request_id":"A[A-Za-z0-9]+"' "status shows the request id of the publish"

done_testing
