#!/bin/bash
# tests/bench/reply.sh — ig-reply --pending throughput (called by scripts/bench).
#
# 10,000 conversations with one unanswered inbound message each, over 10
# accounts connected with the real ig-connect, seeded with SQL in one
# transaction; the simulator learns the participants in one /_sim/world call
# and answers every Graph call after 50 ms.  kb engine.  Prints replies per
# second and the number of customers who got more than one message (must be
# 0); nothing passes or fails on time.
#
#   N=2000 PARALLEL=32 WORKERS=2 bash tests/bench/reply.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
N=${N:-10000}
PARALLEL=${PARALLEL:-32}
WORKERS=${WORKERS:-1}
LATENCY=${LATENCY:-50}

sim_start
tenant-admin init > /dev/null
tenant-admin tenant create bench --name "Bench Pizza" > /dev/null
tenant-admin --tenant bench agent create marco --display-name Marco --personality energetic \
	--business-name "Bench Pizza" > /dev/null
ig-reply --tenant bench kb add --title "Opening hours" --body "Open every day 12-23." \
	--tags "hours open" > /dev/null
accounts=""
for i in 0 1 2 3 4 5 6 7 8 9; do
	a=178414000000001$i$i
	simctl POST /_sim/accounts "{\"id\":\"$a\",\"username\":\"bench_$i\"}" > /dev/null
	simctl POST /_sim/token "{\"action\":\"issue\",\"account\":\"$a\"}" | jget token.token |
		ig-connect add --tenant bench --agent marco > /dev/null || { echo "ig-connect add failed" >&2; exit 1; }
	accounts="$accounts $a"
done

"$PYTHON3" - "$IGKIT_DB" "$N" "$(date +%s)" $accounts > "$T/world.json" <<'EOF'
import json, sqlite3, sys
db, n, now, accts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
c = sqlite3.connect(db)
ids = {a: c.execute("SELECT id, tenant_id FROM accounts WHERE external_id = ?", (a,)).fetchone()
       for a in accts}
parts = []
with c:
    for i in range(n):
        a = accts[i % len(accts)]
        aid, tid = ids[a]
        p = "5%09d" % i
        cur = c.execute("INSERT INTO conversations (tenant_id, account_id, participant_id,"
                        " last_inbound_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (tid, aid, p, now, now, now))
        c.execute("INSERT INTO messages (tenant_id, account_id, conversation_id, mid, direction,"
                  " sender_kind, text, sent_at, created_at) VALUES (?, ?, ?, ?, 'in', 'customer',"
                  " 'what are your opening hours?', ?, ?)", (tid, aid, cur.lastrowid, "b-" + p, now, now))
        parts.append({"account": a, "id": p, "last_message_at": now})
print(json.dumps({"participants": parts}))
EOF
curl -sS -X POST -H 'Content-Type: application/json' --data @"$T/world.json" "$SIM/_sim/world" > /dev/null
simctl POST /_sim/latency "{\"ms\":$LATENCY}" > /dev/null

printf '==> ig-reply --pending: %d conversations, %d account(s), %d ms per Graph call, kb engine, --parallel %d, %d worker(s)\n' \
	"$N" 10 "$LATENCY" "$PARALLEL" "$WORKERS"
t0=$(date +%s%N)
pids=""
for ((w = 0; w < WORKERS; w++)); do
	ig-reply --pending --parallel "$PARALLEL" > "$T/out.$w" 2> "$T/err.$w" &
	pids="$pids $!"
done
rcs=""
for p in $pids; do wait "$p"; rcs="$rcs $?"; done
t1=$(date +%s%N)
sent=$(cat "$T"/out.* | grep -c '"state":"sent"')
read -r recipients dups < <(curl -sS "$SIM/_sim/messages" | "$PYTHON3" -c 'import json,sys,collections
c = collections.Counter((m["account"], m["recipient"]) for m in json.load(sys.stdin) if m.get("mid"))
print(len(c), sum(1 for v in c.values() if v > 1))')
awk -v a="$t0" -v b="$t1" -v s="$sent" -v r="$recipients" -v d="$dups" -v rc="$rcs" 'BEGIN {
	t = (b - a) / 1e9
	printf "replies sent     %d (exit status:%s)\n", s, rc
	printf "elapsed          %.2f s\n", t
	printf "replies/s        %.1f\n", s / t
	printf "customers        %d answered, %d answered more than once (duplicates)\n", r, d
}'
cat "$T"/err.* | head -5
