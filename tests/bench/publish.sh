#!/bin/bash
# tests/bench/publish.sh — ig-publish run throughput (called by scripts/bench).
#
# 1,000 due posts over 100 accounts connected with the real ig-connect, a mix
# of images, carousels of 5 and reels (reel containers answer IN_PROGRESS for
# two polls), drafted with the real ig-publish; the simulator answers every
# Graph call after 50 ms.  One `ig-publish run --wait` publishes them with
# parallel requests.  Prints posts published per second, HTTP requests per
# post, duplicates at Meta (must be 0) and the run's peak RSS; nothing passes
# or fails on time.
#
#   N=300 ACCOUNTS=30 PARALLEL=64 bash tests/bench/publish.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
N=${N:-1000}
ACCOUNTS=${ACCOUNTS:-100}
PARALLEL=${PARALLEL:-64}
LATENCY=${LATENCY:-50}

sim_start
tenant-admin init > /dev/null
tenant-admin tenant create bench --name "Bench Pizza" > /dev/null
for ((i = 0; i < ACCOUNTS; i++)); do
	a=$(printf '178414100%08d' "$i")
	simctl POST /_sim/accounts "{\"id\":\"$a\",\"username\":\"bench_$i\"}" > /dev/null
	simctl POST /_sim/token "{\"action\":\"issue\",\"account\":\"$a\"}" | jget token.token |
		ig-connect add --tenant bench > /dev/null || { echo "ig-connect add failed" >&2; exit 1; }
done
M="$SIM/media.sim"
"$PYTHON3" - "$N" "$ACCOUNTS" "$M" > "$T/posts.jsonl" <<'PY'
import json, sys
n, accts, m = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for i in range(n):
    a = "bench_%d" % (i % accts)
    kind = ("image", "carousel", "reel")[i % 3]
    media = {"image": ["%s/p%d.jpg" % (m, i)],
             "carousel": ["%s/c%d-%d.jpg" % (m, i, k) for k in range(5)],
             "reel": ["%s/r%d.mp4" % (m, i)]}[kind]
    print(json.dumps({"account": "@" + a, "type": kind, "media": media,
                      "caption": "post %d #bench" % i, "at": "2020-01-01T00:00:00Z",
                      "key": "bench-%d" % i}))
PY
ig-publish --tenant bench draft --no-network-check "$T/posts.jsonl" > "$T/draft.out" ||
	{ echo "draft failed" >&2; exit 1; }
simctl DELETE /_sim/requests > /dev/null
simctl POST /_sim/latency "{\"ms\":$LATENCY}" > /dev/null

printf '==> ig-publish run --wait: %d due posts (image, carousel of 5, reel) over %d accounts, %d ms per Graph call, --parallel %d\n' \
	"$N" "$ACCOUNTS" "$LATENCY" "$PARALLEL"
t0=$(date +%s%N)
/usr/bin/time -f '%M' -o "$T/rss" ig-publish run --wait --poll-interval 0 --parallel "$PARALLEL" \
	> "$T/run.out" 2> "$T/run.err"
rc=$?
t1=$(date +%s%N)
read -r published dups < <(simctl GET /_sim/publish | "$PYTHON3" -c 'import json,sys
d = json.load(sys.stdin); print(d["published"], d["duplicates"])')
requests=$(simctl GET /_sim/requests | "$PYTHON3" -c 'import json,sys
print(sum(1 for r in json.load(sys.stdin) if r["host"].startswith("graph.")))')
stored=$(sq "SELECT count(*) FROM posts WHERE state = 'published'")
awk -v a="$t0" -v b="$t1" -v p="$published" -v s="$stored" -v q="$requests" -v d="$dups" \
	-v rc="$rc" -v rss="$(cat "$T/rss")" 'BEGIN {
	t = (b - a) / 1e9
	printf "posts published  %d at Meta, %d in the store (exit status %s)\n", p, s, rc
	printf "elapsed          %.2f s\n", t
	printf "posts/s          %.1f\n", p / t
	printf "requests/post    %.2f (%d Graph requests; minimum: image 4, carousel 9, reel 4, + polls and limit reads)\n", q / (p ? p : 1), q
	printf "duplicates       %d\n", d
	printf "peak RSS         %.1f MiB\n", rss / 1024
}'
head -5 "$T/run.err"
