#!/usr/bin/env bash
# tests/bench/route.sh — ig-route throughput and CGI latency (called by scripts/bench).
# Prints figures; passes or fails on nothing but a broken set-up.
#
#   pipe:  100,000 signed messaging deliveries (one event each) over 4 tenants
#          and 20 accounts, as an envelope stream, beside two limits measured
#          in the same run (WAL, synchronous=FULL, 1,000 per transaction):
#          plain batched inserts of the same message rows into a one-index
#          table (the issue's yardstick), and the same three writes per event
#          that ig-route makes (raw delivery, conversation upsert, message)
#          as plain SQL into igkit's own schema and indexes.
#          And the yardstick of issue 9: the intake a user would write
#          instead, tests/bench/naive_intake.py (verify, store the raw
#          delivery, upsert the conversation, insert the message; same
#          batches and durability), on the same stream.  Each of the two runs
#          twice, alternately, on a fresh store; the better run of each counts.
#   CGI:   1,000 signed POSTs in sequence through lighttpd + mod_cgi, p50 / p99,
#          beside a trivial C CGI (reads the body, answers 200) behind the
#          same server.
#
# Environment: top_srcdir, top_builddir (default: this tree), BENCH_EVENTS,
# BENCH_POSTS, LIGHTTPD.
set -eu
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
N=${BENCH_EVENTS:-100000}
POSTS=${BENCH_POSTS:-1000}
PY=$(${PYTHON3:-python3} -c 'import sys; print(sys.executable)')
B=$top_builddir
T=$(mktemp -d "${TMPDIR:-/tmp}/igkit-bench.XXXXXX")
lpid=
trap '[ -n "$lpid" ] && kill $lpid 2>/dev/null; [ -n "${BENCH_KEEP:-}" ] || rm -rf "$T"' EXIT
export HOME=$T XDG_CONFIG_HOME=$T/config XDG_DATA_HOME=$T/data IGKIT_DB=$T/igkit.db IGKIT_CONFIG=$T/config/igkit/config
mkdir -p "$T/config/igkit" && : > "$IGKIT_CONFIG"
printf 'bench-secret\n' > "$T/app.secret" && chmod 600 "$T/app.secret"
export IGKIT_APP_SECRET_FILE=$T/app.secret
unset IGKIT_API_KEY

"$B/tenant-admin" -q init >/dev/null
for t in 1 2 3 4; do
	"$B/tenant-admin" -q tenant create "t$t" >/dev/null
	"$B/tenant-admin" -q --tenant "t$t" agent create "default$t" >/dev/null
	"$B/tenant-admin" -q --tenant "t$t" agent create "own$t" >/dev/null
done
# 20 accounts, 5 per tenant; odd ones have their own agent
sqlite3 "$IGKIT_DB" "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 19)
	INSERT INTO accounts(tenant_id, agent_id, channel, flavour, external_id, created_at, updated_at)
	SELECT t.id, CASE WHEN i % 2 THEN (SELECT id FROM agents WHERE tenant_id = t.id AND name LIKE 'own%') END,
	       'instagram', 'instagram', '178414000000' || printf('%05d', i), 0, 0
	FROM n JOIN tenants t ON t.slug = 't' || (i / 5 + 1);"

# copies of the set-up store: for the second limit, and a fresh one per run
sqlite3 "$IGKIT_DB" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
cp "$IGKIT_DB" "$T/schema-limit.db"
cp "$IGKIT_DB" "$T/setup.db"

echo "==> ig-route pipe mode: $N messaging events, 4 tenants, 20 accounts"
"$PY" - "$T/in.jsonl" "$T/rows.tsv" "$N" "$T/bodies.txt" <<'PYEOF'
import hashlib, hmac, json, sys
out, rows, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
secret = b"bench-secret"
with open(out, "w") as f, open(rows, "w") as r, open(sys.argv[4], "w") as bf:
    for i in range(n):
        acct = "178414000000%05d" % (i % 20)
        who = "7341%012d" % (i % 5000)
        mid = "aWdfZAG1faXRlbToxOklHTWVzc2FnZ%010d" % i
        ts = 1770112845000 + i
        text = "Ciao! question number %d about opening hours" % i
        b = json.dumps({"object": "instagram", "entry": [{"id": acct, "time": ts, "messaging": [
            {"sender": {"id": who}, "recipient": {"id": acct}, "timestamp": ts,
             "message": {"mid": mid, "text": text}}]}]}, separators=(",", ":"))
        sig = "sha256=" + hmac.new(secret, b.encode(), hashlib.sha256).hexdigest()
        f.write(json.dumps({"headers": {"X-Hub-Signature-256": sig}, "body": b}, separators=(",", ":")) + "\n")
        r.write("%s\t%s\t%s\t%s\t%d\n" % (acct, who, mid, text, ts // 1000))
        bf.write(b + "\n")
PYEOF
# ig-route, then the naive intake, twice each, alternately, on fresh stores
route_rate=0 naive_rate=0 route_s=0
for run in 1 2; do
	cp "$T/setup.db" "$IGKIT_DB" && rm -f "$IGKIT_DB-wal" "$IGKIT_DB-shm"
	t0=$(date +%s%N)
	"$B/ig-route" < "$T/in.jsonl" > "$T/out.jsonl"
	t1=$(date +%s%N)
	got=$(wc -l < "$T/out.jsonl")
	[ "$got" = "$N" ] || { echo "route.sh: expected $N routed events, got $got" >&2; exit 70; }
	r=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / ((b - a) / 1e9) }')
	[ "$r" -gt "$route_rate" ] && { route_rate=$r; route_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 1e9 }'); }
	rm -f "$T/naive.db" "$T/naive.db-wal" "$T/naive.db-shm"
	r=$("$PY" "$top_srcdir/tests/bench/naive_intake.py" "$T/naive.db" "$T/app.secret" 500 < "$T/in.jsonl")
	[ "$r" -gt "$naive_rate" ] && naive_rate=$r
done
printf 'ig-route pipe:   %8d events/s  (%.2f s, batches of 500, signature checked, raw delivery + conversation + message stored)\n' \
	"$route_rate" "$route_s"
printf 'naive Python:    %8d events/s  (tests/bench/naive_intake.py: the same work, batches and durability)\n' "$naive_rate"
printf 'ratio to it:     %8.2f         (target >= 1.5; better of 2 runs each, alternately)\n' \
	"$(awk -v a="$route_rate" -v b="$naive_rate" 'BEGIN { print a / b }')"

# the limit: the same message rows, plain batched inserts, same durability
base_rate=$("$PY" - "$T/base.db" "$T/rows.tsv" <<'PYEOF'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, account TEXT, participant TEXT, mid TEXT, text TEXT, sent_at INTEGER, UNIQUE(account, mid))")
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[2])]
t0 = time.perf_counter()
for i in range(0, len(rows), 1000):
    db.execute("BEGIN")
    db.executemany("INSERT INTO messages(account, participant, mid, text, sent_at) VALUES (?,?,?,?,?)", rows[i:i + 1000])
    db.execute("COMMIT")
print("%.0f" % (len(rows) / (time.perf_counter() - t0)))
PYEOF
)
printf 'SQLite limit:    %8d rows/s    (same rows, WAL + synchronous=FULL, 1,000 rows per transaction)\n' "$base_rate"
printf 'ratio:           %8.2f         (target >= 0.33)\n' "$(awk -v a="$route_rate" -v b="$base_rate" 'BEGIN { print a / b }')"

# the second limit: ig-route's own writes, without parsing, verifying or routing
schema_rate=$("$PY" - "$T/schema-limit.db" "$T/rows.tsv" "$T/bodies.txt" <<'PYEOF'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA foreign_keys=ON"); db.execute("PRAGMA synchronous=FULL"); db.execute("PRAGMA journal_mode=WAL")
acct = {ext: (aid, tid) for aid, tid, ext in db.execute("SELECT id, tenant_id, external_id FROM accounts")}
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[2])]
bodies = [l.rstrip("\n") for l in open(sys.argv[3])]
t0 = time.perf_counter()
for i in range(0, len(rows), 1000):
    db.execute("BEGIN")
    for j in range(i, min(i + 1000, len(rows))):
        a, who, mid, text, ts = rows[j]
        aid, tid = acct[a]
        did = db.execute("INSERT INTO deliveries(received_at, source, object, signature, sig_status, status, body)"
                         " VALUES (?, 'pipe', 'instagram', 'sha256=x', 'valid', 'processed', ?)", (int(ts), bodies[j])).lastrowid
        cid = db.execute("INSERT INTO conversations(tenant_id, account_id, participant_id, last_inbound_at, created_at, updated_at)"
                         " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(account_id, participant_id) DO UPDATE SET"
                         " last_inbound_at = excluded.last_inbound_at, updated_at = excluded.updated_at RETURNING id",
                         (tid, aid, who, int(ts), int(ts), int(ts))).fetchone()[0]
        db.execute("INSERT INTO messages(tenant_id, account_id, conversation_id, mid, direction, sender_kind, kind, text,"
                   " sent_at, created_at, delivery_id) VALUES (?, ?, ?, ?, 'in', 'customer', 'text', ?, ?, ?, ?)",
                   (tid, aid, cid, mid, text, int(ts), int(ts), did))
    db.execute("COMMIT")
print("%.0f" % (len(rows) / (time.perf_counter() - t0)))
PYEOF
)
printf 'igkit-rows limit: %7d events/s  (raw delivery + conversation upsert + message per event, plain SQL, igkit schema)\n' "$schema_rate"
printf 'ratio to that:   %8.2f\n' "$(awk -v a="$route_rate" -v b="$schema_rate" 'BEGIN { print a / b }')"

LIGHTTPD=${LIGHTTPD:-/usr/sbin/lighttpd}
if [ ! -x "$LIGHTTPD" ] || ! command -v curl >/dev/null; then
	echo "==> CGI: skipped (lighttpd or curl missing)"
	exit 0
fi
echo "==> ig-route CGI through lighttpd: $POSTS signed POSTs in sequence"
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$T/www"
# the yardstick: a C CGI that reads the body and answers 200, nothing else
cat > "$T/trivial.c" <<'CEOF'
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
	const char *cl = getenv("CONTENT_LENGTH");
	long n = cl ? atol(cl) : 0;
	char buf[65536];

	while (n > 0) {
		size_t got = fread(buf, 1, n < (long)sizeof(buf) ? (size_t)n : sizeof(buf), stdin);
		if (!got)
			break;
		n -= (long)got;
	}
	fputs("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n", stdout);
	return 0;
}
CEOF
${CC:-cc} -O2 -o "$T/trivial.cgi" "$T/trivial.c"
cat > "$T/lighttpd.conf" <<CONF
server.document-root = "$T/www"
server.bind = "127.0.0.1"
server.port = $port
server.errorlog = "$T/lighttpd.log"
server.modules = ("mod_alias", "mod_cgi", "mod_setenv")
alias.url = ("/webhook" => "$B/ig-route", "/trivial" => "$T/trivial.cgi")
\$HTTP["url"] =~ "^/(webhook|trivial)" { cgi.assign = ("" => "") }
setenv.add-environment = ("IGKIT_DB" => "$IGKIT_DB", "IGKIT_CONFIG" => "$IGKIT_CONFIG",
	"IGKIT_APP_SECRET_FILE" => "$T/app.secret", "HOME" => "$T")
CONF
"$LIGHTTPD" -D -f "$T/lighttpd.conf" 2>"$T/lighttpd.stderr" &
lpid=$!
for i in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
# fresh mids: the POSTs are new events, routed in the background child
"$PY" - "$T/posts" "$POSTS" <<'PYEOF'
import hashlib, hmac, json, os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d)
for i in range(n):
    acct = "178414000000%05d" % (i % 20)
    b = json.dumps({"object": "instagram", "entry": [{"id": acct, "time": 1770200000000 + i, "messaging": [
        {"sender": {"id": "99%010d" % i}, "recipient": {"id": acct}, "timestamp": 1770200000000 + i,
         "message": {"mid": "cgi-bench-%d" % i, "text": "hello"}}]}]}, separators=(",", ":"))
    open("%s/%d.json" % (d, i), "w").write(b)
    open("%s/%d.sig" % (d, i), "w").write("sha256=" + hmac.new(b"bench-secret", b.encode(), hashlib.sha256).hexdigest())
PYEOF
: > "$T/times"
: > "$T/trivial.times"
# alternately: a signed POST to ig-route, the same bytes to the trivial CGI
for ((i = 0; i < POSTS; i++)); do
	curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -X POST -H 'Content-Type: application/json' \
		-H "X-Hub-Signature-256: $(cat "$T/posts/$i.sig")" --data-binary "@$T/posts/$i.json" \
		"http://127.0.0.1:$port/webhook" >> "$T/times"
	curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -X POST -H 'Content-Type: application/json' \
		-H "X-Hub-Signature-256: $(cat "$T/posts/$i.sig")" --data-binary "@$T/posts/$i.json" \
		"http://127.0.0.1:$port/trivial" >> "$T/trivial.times"
done
pct() {  # file label: p50 p99 max of curl's time_total, in ms
	local bad
	bad=$(awk '$1 != 200' "$1" | wc -l)
	sort -k2 -n "$1" | awk -v n="$POSTS" -v bad="$bad" -v label="$2" '
		{ t[NR] = $2 * 1000 }
		END { i50 = int(n * 0.50); if (i50 < 1) i50 = 1; i99 = int(n * 0.99); if (i99 < 1) i99 = 1
			printf "%-16s p50 %.2f ms   p99 %.2f ms   max %.2f ms   (%d non-200)\n",
			label, t[i50], t[i99], t[NR], bad }'
}
pct "$T/times" "CGI latency:"
pct "$T/trivial.times" "trivial CGI:"
p50() { awk '{ print $2 * 1000 }' "$1" | sort -n | awk '{ t[NR] = $1 } END { i = int(NR / 2); if (i < 1) i = 1; print t[i] }'; }
printf 'CGI ratio:       %8.2f         (p50 of ig-route / p50 of the trivial CGI, same server; target <= 2)\n' \
	"$(awk -v a="$(p50 "$T/times")" -v b="$(p50 "$T/trivial.times")" 'BEGIN { print a / b }')"
sleep 1
printf 'CGI routed:      %d of %d deliveries processed\n' \
	"$(sqlite3 "$IGKIT_DB" "SELECT count(*) FROM deliveries WHERE source = 'cgi' AND status = 'processed'")" "$POSTS"
