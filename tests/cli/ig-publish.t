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

done_testing
