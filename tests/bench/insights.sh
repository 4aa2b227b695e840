#!/bin/bash
# tests/bench/insights.sh — ig-insights sync (called by scripts/bench).
#
# N accounts (default 1000) connected with the real ig-connect, each with
# MEDIA recent media (default 30, no stories), the simulator answering
# every request after LATENCY ms (default 50).  One `ig-insights sync --all`
# on a fresh store (the first sync: 30 days of account insights, every
# media, pictures and thumbnails), then a second one (the cache).  Prints
# wall time, HTTP requests per account (as the simulator counted them) and
# peak RSS; nothing passes or fails on time.
#
#   N=200 FLAVOUR=instagram PARALLEL=64 bash tests/bench/insights.sh
# FLAVOUR: facebook (Facebook Login: Graph batch requests, the default) or
# instagram (Instagram Login: one request per call; batch is not
# documented on graph.instagram.com).
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
N=${N:-1000}
MEDIA=${MEDIA:-30}
LATENCY=${LATENCY:-50}
PARALLEL=${PARALLEL:-64}
FLAVOUR=${FLAVOUR:-facebook}

sim_start
tenant-admin init > /dev/null
tenant-admin tenant create bench --name "Bench Brands" > /dev/null
# the world in one call: N accounts (Facebook Login: N Pages of one user)
"$PYTHON3" - "$N" "$FLAVOUR" > "$T/world.json" <<'EOF'
import json, sys
n, flavour = int(sys.argv[1]), sys.argv[2]
accts = [{"id": "1784150%010d" % i, "username": "brand_%04d" % i, "name": "Brand %d" % i,
          "followers_count": 500 + (i * 37) % 20000, "follows_count": 100 + i % 300,
          "media_count": 80 + i % 50, "biography": "Bench brand %d" % i} for i in range(n)]
if flavour == "facebook":
    pages = [{"id": "1000500%08d" % i, "name": "Brand %d" % i,
              "instagram_business_account": a} for i, a in enumerate(accts)]
    print(json.dumps({"users": [{"id": "10000000000009999", "name": "Bench Owner", "pages": pages}]}))
else:
    print(json.dumps({"accounts": accts}))
EOF
curl -sS -X POST -H 'Content-Type: application/json' --data @"$T/world.json" "$SIM/_sim/world" > /dev/null
simctl POST /_sim/insights "{\"media_per_account\": $MEDIA, \"stories_per_account\": 0}" > /dev/null
printf '==> connecting %d accounts (%s login) with ig-connect add\n' "$N" "$FLAVOUR"
for ((i = 0; i < N; i++)); do
	if [ "$FLAVOUR" = facebook ]; then printf '1000500%08d\n' "$i"; else printf '1784150%010d\n' "$i"; fi
done | xargs -P 4 -I{} sh -c 'curl -sS -X POST -H "Content-Type: application/json" \
	--data "{\"action\":\"issue\",\"account\":\"{}\"}" "$SIM/_sim/token" |
	python3 -c "import json,sys; print(json.load(sys.stdin)[\"token\"][\"token\"])" |
	ig-connect add --tenant bench --flavour '"$FLAVOUR"' > /dev/null 2>&1'
connected=$(sqlite3 "$IGKIT_DB" "SELECT count(*) FROM accounts")
simctl POST /_sim/latency "{\"ms\":$LATENCY}" > /dev/null

run_sync() { # LABEL
	local seq0 t0 t1 rc
	# a marker request: the simulator numbers every request it records
	curl -sS "$SIM/graph.facebook.com/v25.0/marker" > /dev/null
	seq0=$(curl -sS "$SIM/_sim/requests?path=/marker" | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)[-1]["seq"])')
	cpu0=$(awk '{print $14 + $15}' /proc/$SIM_PID/stat)
	t0=$(date +%s%N)
	/usr/bin/time -f '%M' -o "$T/rss" ig-insights sync --all -q --parallel "$PARALLEL" > "$T/out" 2> "$T/err"
	rc=$?
	t1=$(date +%s%N)
	cpu1=$(awk '{print $14 + $15}' /proc/$SIM_PID/stat)
	curl -sS "$SIM/_sim/requests?since=$seq0" | "$PYTHON3" -c '
import json, sys, collections
r = json.load(sys.stdin)
c = collections.Counter(x["host"] for x in r)
n = (r[-1]["seq"] - int(sys.argv[1])) if r else 0
print(n, " ".join("%s=%d" % kv for kv in sorted(c.items())) if len(r) == n else "(per host: more than the simulator keeps)")' "$seq0" > "$T/count"
	read -r nreq hosts < "$T/count"
	awk -v a="$t0" -v b="$t1" -v n="$connected" -v r="$nreq" -v h="$hosts" -v rss="$(cat "$T/rss")" \
		-v ok="$(grep -c '"result":"ok"' "$T/out")" -v rc="$rc" -v what="$1" \
		-v sc="$(awk -v a="$cpu0" -v b="$cpu1" -v hz="$(getconf CLK_TCK)" 'BEGIN { print (b - a) / hz }')" \
		-v vals="$("$PYTHON3" -c 'import json,sys; print(sum(json.loads(l)["values"] for l in open(sys.argv[1])))' "$T/out")" 'BEGIN {
		t = (b - a) / 1e9
		printf "%s\n", what
		printf "  wall time        %.2f s (exit %d, %d/%d accounts ok)\n", t, rc, ok, n
		printf "  HTTP requests    %d (%.1f per account; %s)\n", r, r / n, h
		printf "  values stored    %d\n", vals
		printf "  peak RSS         %.1f MB\n", rss / 1024
		printf "  simulator CPU    %.2f s (the simulator serves one request at a time per lock)\n", sc
	}'
	head -3 "$T/err"
}

printf '==> ig-insights sync --all: %d accounts (%s login), %d media each, %d ms per request, --parallel %d\n' \
	"$connected" "$FLAVOUR" "$MEDIA" "$LATENCY" "$PARALLEL"
run_sync "first sync (fresh store: 30 days of account insights, every media, pictures, thumbnails)"
run_sync "second sync (everything under 24 h: only the media listings)"
# a day later, as the daily cron finds it: the days still under 72 h, every
# media (its 24 h are over), the profiles
simctl POST /_sim/clock '{"advance": 90000}' > /dev/null
export IGKIT_NOW=$(( $(date +%s) + 90000 ))
run_sync "a day later (cron's steady state: 3 days of account insights re-read, 30 media, profiles)"
