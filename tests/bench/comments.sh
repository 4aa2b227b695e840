#!/bin/bash
# tests/bench/comments.sh — ig-comments figures (called by scripts/bench).
#
# 1. moderate: N (100,000) stored comments, seeded with SQL in one
#    transaction, against a rules file of 50 rules (keywords, POSIX regexes,
#    links, phones, emoji-only, mentions, competitors, deny lists; actions
#    tag, hide, reply, dm).  Runs `moderate --pending --dry-run` (every
#    decision made and printed, nothing sent) and `backtest --summary`;
#    prints comments and decisions per second and peak RSS (GNU time).
# 2. sync: MEDIA (1,000) media with COMMENTS (200) comments each in the
#    simulator, 50 ms per Graph request; prints wall time, requests and
#    what was found.  Nothing passes or fails on time.
#
#   N=20000 MEDIA=100 COMMENTS=50 PARALLEL=32 bash tests/bench/comments.sh
#   SKIP_SYNC=1 bash tests/bench/comments.sh      (only the moderation figures)
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
N=${N:-100000}
MEDIA=${MEDIA:-1000}
COMMENTS=${COMMENTS:-200}
PARALLEL=${PARALLEL:-32}
LATENCY=${LATENCY:-50}
A=17841400000000001

sim_start
tenant-admin init > /dev/null
tenant-admin tenant create bench --name "Bench Pizza" > /dev/null
tenant-admin --tenant bench agent create marco --business-name "Bench Pizza" > /dev/null
simctl POST /_sim/token "{\"action\":\"issue\",\"account\":\"$A\"}" | jget token.token |
	ig-connect add --tenant bench --agent marco > /dev/null || { echo "ig-connect add failed" >&2; exit 1; }

# ---------------------------------------------------------------- rules
"$PYTHON3" - > "$T/bench.rules" <<'PY'
print("competitors @rival_one @rival_two @rival_three")
print("deny @spam_bot_1 @spam_bot_2 @spam_bot_3")
print("allow @our_partner")
kinds = [
    ("when link", "then hide\nthen tag spam"),
    ("when phone", "then tag phone"),
    ("when emoji-only", "then tag fan"),
    ("when mentions >= 3", "then hide"),
    ("when competitor", "then tag competitor"),
    ("when denied", "then delete"),
    ("when question\nunless reply", "then dm \"Thanks! We sent you a DM.\""),
]
words = ["free", "promo", "discount", "followers", "giveaway", "cheap", "crypto", "bitcoin",
         "winner", "prize", "click", "offer", "deal", "sale", "coupon", "cash", "loan", "bet",
         "casino", "porn", "viagra", "forex", "invest", "profit", "earn", "money", "bonus",
         "gift", "lottery", "dm me", "follow back", "check my", "link in bio", "sexy", "hot"]
n = 0
for when, then in kinds:
    print("rule r%02d\n%s\n%s\n" % (n, when, then)); n += 1
i = 0
while n < 40:
    print('rule r%02d\nwhen keyword "%s" %s\nthen tag kw%d\n' % (n, words[i % len(words)],
          words[(i + 7) % len(words)], n)); n += 1; i += 1
regexes = [r"^(buy|get) .* now", r"[0-9]{3,}[ -]?off", r"(.)\1{5,}", r"\$[0-9]+", r"whats?app",
           r"t\.me/", r"(ciao|hola|hello) +(bella|guapa)", r"[A-Z]{8,}", r"!{4,}", r"xx+x"]
for rx in regexes:
    print('rule r%02d\nwhen regex "%s"\nthen tag rx%d\n' % (n, rx.replace("\\", "\\\\"), n)); n += 1
PY
ig-comments rules check "$T/bench.rules" > /dev/null || { echo "bench rules do not parse" >&2; exit 1; }
ig-comments --tenant bench rules set "$T/bench.rules" > /dev/null

"$PYTHON3" - "$IGKIT_DB" "$N" "$(date +%s)" "$A" <<'PY'
import random, sqlite3, sys
db, n, now, acct = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = random.Random(7)
c = sqlite3.connect(db)
aid, tid = c.execute("SELECT id, tenant_id FROM accounts WHERE external_id = ?", (acct,)).fetchone()
texts = ["Looks delicious! When do you open tomorrow?", "buy followers now at cheap.ly",
         "\U0001F525\U0001F525\U0001F525", "@a @b @c @d come here", "call me 333 123 4567",
         "better pizza at @rival_two", "Great service, thank you so much, see you soon",
         "FREE GIVEAWAY click the link in bio!!!!", "ciao bella", "is the margherita vegan?",
         "I love this place, the crust is perfect and the staff are kind", "50% off $20 today"]
rows = []
for i in range(n):
    rows.append((tid, aid, "18%016d" % i, "comments", "179%014d" % (i % 1000),
                 None if i % 5 else "18%016d" % (i - 1), str(5000000000 + i % 20000),
                 "user%d" % (i % 20000) if i % 97 else "spam_bot_1", rng.choice(texts),
                 now - 86400 * (i % 6) - i % 86400, now, "sync"))
c.executemany("INSERT INTO comments(tenant_id, account_id, comment_id, field, media_id, parent_id,"
              " from_id, from_username, text, created_at, received_at, source)"
              " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
c.commit()
PY

timed() { # LABEL CMD...: wall seconds and peak RSS of CMD
	local label=$1 t0 t1
	shift
	t0=$(date +%s%N)
	if command -v /usr/bin/time > /dev/null; then
		/usr/bin/time -f '%M %U %S' -o "$T/rss" "$@" > "$T/out.jsonl" 2> "$T/err"
	else
		"$@" > "$T/out.jsonl" 2> "$T/err"; echo 0 0 0 > "$T/rss"
	fi
	t1=$(date +%s%N)
	SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	RSS=$(tail -n 1 "$T/rss" | awk '{ print $1 }')
	# CPU seconds of the program itself: a figure a loaded machine disturbs less
	CPU=$(tail -n 1 "$T/rss" | awk '{ printf "%.2f", $2 + $3 }')
}

printf '==> ig-comments moderate: %d stored comments, 50 rules\n' "$N"
timed moderate ig-comments --tenant bench moderate --pending --dry-run
D=$(grep -c . "$T/out.jsonl")
printf 'moderate --pending --dry-run  %7.2f s (%5.2f s CPU)  %8.0f comments/s  %7d decisions (%8.0f/s)  peak RSS %6d KiB\n' \
	"$SECS" "$CPU" "$(awk -v n="$N" -v s="$SECS" 'BEGIN { print n / s }')" "$D" \
	"$(awk -v n="$D" -v s="$SECS" 'BEGIN { print n / s }')" "$RSS"
timed backtest ig-comments --tenant bench backtest --days 30 --summary
printf 'backtest --days 30 --summary  %7.2f s (%5.2f s CPU)  %8.0f comments/s  %7d rules with counts          peak RSS %6d KiB\n' \
	"$SECS" "$CPU" "$(awk -v n="$N" -v s="$SECS" 'BEGIN { print n / s }')" "$(grep -c . "$T/out.jsonl")" "$RSS"

# ---------------------------------------------------------------- sync
[ -n "${SKIP_SYNC:-}" ] && exit 0
printf '==> ig-comments sync: %d media x %d comments, %d ms per request, --parallel %d\n' \
	"$MEDIA" "$COMMENTS" "$LATENCY" "$PARALLEL"
sqlite3 "$IGKIT_DB" "DELETE FROM comments; DELETE FROM comment_actions;"
simctl POST /_sim/media_bulk "{\"account\":\"$A\",\"media\":$MEDIA,\"comments\":$COMMENTS}" > /dev/null
simctl POST /_sim/latency "{\"ms\":$LATENCY}" > /dev/null
curl -sS -X DELETE "$SIM/_sim/requests" > /dev/null
timed sync ig-comments --tenant bench sync --recent "$MEDIA" --parallel "$PARALLEL"
printf 'sync  %7.2f s wall (%5.2f s CPU)  %s  peak RSS %d KiB\n' "$SECS" "$CPU" \
	"$("$PYTHON3" -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline()); print("requests %d, media %d, comments %d, new (gap) %d" % (r["requests"], r["media"], r["comments"], r["gap"]))' "$T/out.jsonl")" \
	"$RSS"
[ -s "$T/err" ] && sed 's/^/  stderr: /' "$T/err" | head -n 5
exit 0
