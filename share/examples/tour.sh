#!/bin/sh
# tour.sh — the README's tour as one script: an operator's first hour with
# igkit, against the Graph API simulator instead of Meta.
#
#   python3 tests/sim/graphsim.py serve --port 8787 &     # Meta, on loopback
#   SIM=http://127.0.0.1:8787 sh share/examples/tour.sh
#
# It needs the programs on PATH (`make install`, or the build directory),
# curl, python3 (as the simulator does), and SIM, the simulator's base URL.  It writes only under TOUR_DIR
# (default: a new temporary directory): the configuration, the secrets, the
# store.  tests/cli/tour.t runs it, so what the README shows keeps working.
set -eu
: "${SIM:?set SIM to the simulator, e.g. http://127.0.0.1:8787}"
TOUR_DIR=${TOUR_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/igkit-tour.XXXXXX")}
EXAMPLES=${EXAMPLES:-$(dirname "$0")}
say() { printf '\n== %s\n' "$*"; }
field() { python3 -c 'import json, sys; v = json.loads(sys.stdin.readline())[sys.argv[1]]
print(v if isinstance(v, str) else json.dumps(v))' "$1"; }

# --- 1. configuration ----------------------------------------------------------
# A private world for the tour; yours would be $XDG_CONFIG_HOME/igkit/config.
export HOME="$TOUR_DIR/home" XDG_CONFIG_HOME="$TOUR_DIR/config" XDG_DATA_HOME="$TOUR_DIR/data"
export IGKIT_CONFIG="$XDG_CONFIG_HOME/igkit/config"
mkdir -p "$HOME" "$XDG_CONFIG_HOME/igkit" "$XDG_DATA_HOME"
say "configuration: $IGKIT_CONFIG"
# Secrets live in files readable by their owner only (igkit refuses others).
umask 077
printf 'sim-app-secret\n' > "$TOUR_DIR/app.secret"          # the simulator's app secrets
printf 'sim-ig-app-secret\n' > "$TOUR_DIR/ig-app.secret"
printf 'sk-tour\n' > "$TOUR_DIR/llm.key"                    # any key: the simulator's LLM takes it
cat > "$IGKIT_CONFIG" <<CONF
# the Meta apps (Facebook Login and Instagram Login) and where Meta sends the
# business owner back after consent
app_id = 1234567890
app_secret_file = $TOUR_DIR/app.secret
ig_app_id = 9876543210
ig_app_secret_file = $TOUR_DIR/ig-app.secret
redirect_uri = https://example.com/igkit/callback
# every Meta host, and the LLM, point at the simulator
graph_facebook_url = $SIM/graph.facebook.com
graph_instagram_url = $SIM/graph.instagram.com
api_instagram_url = $SIM/api.instagram.com
www_facebook_url = $SIM/www.facebook.com
www_instagram_url = $SIM/www.instagram.com
llm_url = $SIM/llm/v1
llm_key_file = $TOUR_DIR/llm.key
CONF
umask 022

# --- 2. the store and the tenants --------------------------------------------------
say "create the store and the master key, then onboard tenants from JSON Lines"
tenant-admin init
tenant-admin onboard < "$EXAMPLES/onboard.jsonl"
tenant-admin agent list --tenant rossi --format table
ig-reply kb add --tenant rossi --title "Free call" --tags "price cost call" \
	--body "The first call is free and lasts 20 minutes."
say "the kb engine reads Italian: a synonym of the business, and why it would answer"
ig-reply --tenant rossi kb synonyms add "pagare alla consegna" contrassegno
ig-reply --tenant rossi kb explain "si può pagare alla consegna?" --agent marco

# --- 3. connect an account through OAuth ----------------------------------------------
say "connect marco's Instagram account (Instagram Login)"
# ig-connect url prints the consent URL; state is single-use and bound to the
# tenant and the agent.  A business owner opens it in a browser and consents;
# against the simulator, say who consents, then follow the dialog's redirect.
url=$(ig-connect url --tenant rossi --agent marco | field url)
curl -sS -X POST --data '{"as":"17841400000000001"}' "$SIM/_sim/consent" > /dev/null
redirect=$(curl -sS -o /dev/null -w '%{redirect_url}' "$url")
# Meta sends the browser to redirect_uri?code=...&state=...; your web page
# hands that URL to ig-connect callback:
printf '%s\n' "$redirect" | ig-connect callback
ig-connect test --all
ig-connect subscribe --all

# --- 4. webhooks ---------------------------------------------------------------
say "route captured deliveries and answer them"
# deliveries.jsonl: one envelope per line, {"headers":{...},"body":"..."}, as
# Meta POSTed them.  Here the simulator signs one (POST /_sim/trigger); in
# production ig-route stores every CGI POST, and `ig-route replay` re-routes.
curl -sS -X POST -H 'Content-Type: application/json' \
	--data '{"kind":"ig_message_text","account":"17841400000000001","user":"7341092865519203","text":"How much does a call cost?","envelope":true}' \
	"$SIM/_sim/trigger" | field envelope > "$TOUR_DIR/deliveries.jsonl"
ig-route --envelopes < "$TOUR_DIR/deliveries.jsonl" | ig-reply --explain

# --- 5. cron ---------------------------------------------------------------------------
say "what cron runs (share/examples/crontab)"
ig-reply --pending
ig-connect refresh --within 10
ig-insights sync --all -q

# --- 6. a human takes over --------------------------------------------------------------
say "take over a conversation as a human, and give it back"
ig-reply pause 1
ig-reply send 1 --text "Ciao, sono Anna: ti richiamo io."
ig-reply resume 1
ig-reply conversations --tenant rossi --format table

# --- 7. comments: rules checked first, then applied as comments arrive --------------------
say "moderate comments with a rules file (ig-comments(1) RULES)"
cat > "$TOUR_DIR/rossi.rules" <<'RULES'
# links are spam: hidden and tagged
rule spam-links
  when link
  then hide
  then tag spam
RULES
cd "$TOUR_DIR"
ig-comments rules check rossi.rules && ig-comments --tenant rossi rules set rossi.rules
ig-route --envelopes < deliveries.jsonl | ig-comments moderate
ig-comments --tenant rossi list --unread --format table
cd - > /dev/null

# --- 8. the content calendar ----------------------------------------------------------
say "schedule a carousel; cron's ig-publish run publishes it when it is due"
# the simulator serves generated JPEGs under $SIM/media.sim/ (in production: public https URLs,
# since Meta fetches the media itself)
ig-publish --tenant rossi draft --account @marco_energia --type carousel \
    --media "$SIM/media.sim/a.jpg" --media "$SIM/media.sim/b.jpg" \
    --caption "Two new pizzas" --at 2026-12-05T18:00:00Z --key dec-05
# crontab: * * * * *   ig-publish run -q
ig-publish run -q
ig-publish --tenant rossi list --calendar --format table
ig-publish --tenant rossi status 1        # every step, Meta's ids, every error
say "done: $TOUR_DIR"
