# tests/lib.sh — shared by the TAP test files in tests/cli (bash).
#
# Each test file: `. "${srcdir:-.}/tests/lib.sh"`, then assertions, then
# `done_testing`.  Every file runs in a fresh temporary directory ($T) with
# its own store, config home and master key; the built programs come first
# on PATH.  With IGKIT_VALGRIND=1 every igkit program runs under valgrind
# (a memory error or leak fails the test with exit 99).
#
#   run CMD...            runs CMD; sets $out (stdout), $err (stderr), $rc
#   run_in INPUT CMD...   the same with INPUT on stdin
#   is GOT WANT NAME      string equality
#   is_rc WANT NAME       $rc equals WANT (prints the command's stderr if not)
#   like TEXT REGEX NAME  grep -E match;  unlike TEXT REGEX NAME
#   ok COND-STATUS NAME   e.g. `[ -f x ]; ok $? "x exists"`
#   sim_start             starts tests/sim/graphsim.py; sets $SIM, points igkit at it
#   sq SQL                runs SQL on the store with sqlite3, prints the result
#   igkit_programs        the build's programs, one a line
#   complete_words P W..  what the bash completion offers after P W...
set -u
top_srcdir=${top_srcdir:-${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}}
top_builddir=${top_builddir:-$top_srcdir}
PYTHON3=${PYTHON3:-python3}

T=$(mktemp -d "${TMPDIR:-/tmp}/igkit-test.XXXXXX")
_tap_n=0
_tap_failed=0
_cleanup_pids=""
cleanup() {
	for p in $_cleanup_pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ "${IGKIT_KEEP_TMP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

export HOME="$T/home" XDG_CONFIG_HOME="$T/config" XDG_DATA_HOME="$T/data"
export IGKIT_DB="$T/igkit.db"
export IGKIT_CONFIG="$T/config/igkit/config"
unset IGKIT_API_KEY IGKIT_NOW IGKIT_APP_SECRET IGKIT_IG_APP_SECRET IGKIT_VERIFY_TOKEN CREDENTIALS_DIRECTORY
mkdir -p "$HOME" "$T/config/igkit" "$T/data"
: > "$IGKIT_CONFIG"

# The programs of the build: IGKIT_PROGRAMS (the Makefile passes its
# bin_PROGRAMS), else the bin_PROGRAMS lines of Makefile.am.
igkit_programs() {
	if [ -n "${IGKIT_PROGRAMS:-}" ]; then
		printf '%s\n' $IGKIT_PROGRAMS
	else
		sed -n 's/^bin_PROGRAMS *+\{0,1\}= *//p' "$top_srcdir/Makefile.am" | tr ' ' '\n' | grep .
	fi
}

# What the bash completion offers after PROG WORDS... (the last word is the
# one being completed), one per line.
complete_words() {
	(
		. "$top_srcdir/share/completions/igkit.bash"
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMPREPLY=()
		_igkit
		printf '%s\n' "${COMPREPLY[@]}"
	)
}

# The programs under test: the build tree, optionally behind valgrind.
_bin="$T/bin"
mkdir -p "$_bin"
for p in $(igkit_programs); do
	[ -x "$top_builddir/$p" ] || continue
	if [ "${IGKIT_VALGRIND:-}" = 1 ]; then
		printf '#!/bin/sh\nexec valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --track-fds=no "%s" "$@"\n' \
			"$top_builddir/$p" > "$_bin/$p"
		chmod +x "$_bin/$p"
	else
		ln -s "$top_builddir/$p" "$_bin/$p"
	fi
done
export PATH="$_bin:$PATH"

_diag() { printf '%s\n' "$@" | sed 's/^/#   /'; }

_result() { # status name
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		printf 'ok %d - %s\n' "$_tap_n" "$2"
	else
		printf 'not ok %d - %s\n' "$_tap_n" "$2"
		_tap_failed=$((_tap_failed + 1))
		[ -n "${_last_cmd:-}" ] && _diag "command: $_last_cmd"
	fi
	return "$1"
}

run() {
	_last_cmd="$*"
	out=$("$@" 2>"$T/.stderr") && rc=0 || rc=$?
	err=$(cat "$T/.stderr")
	return 0
}

run_in() {
	local input=$1
	shift
	_last_cmd="$* <<< ${input:0:200}"
	out=$(printf '%s' "$input" | "$@" 2>"$T/.stderr") && rc=0 || rc=$?
	err=$(cat "$T/.stderr")
	return 0
}

ok() { _result "$1" "$2"; }

is() {
	if [ "$1" = "$2" ]; then _result 0 "$3"; else
		_result 1 "$3"; _diag "got:  $1" "want: $2"; return 1; fi
}

is_rc() {
	if [ "$rc" = "$1" ]; then _result 0 "$2"; else
		_result 1 "$2"; _diag "exit: $rc, wanted $1" "stderr: $err" "stdout: ${out:0:500}"; return 1; fi
}

like() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then _result 0 "$3"; else
		_result 1 "$3"; _diag "text: ${1:0:800}" "does not match: $2"; return 1; fi
}

unlike() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		_result 1 "$3"; _diag "text: ${1:0:800}" "matches: $2"; return 1; else _result 0 "$3"; fi
}

skip() { _tap_n=$((_tap_n + 1)); printf 'ok %d # SKIP %s\n' "$_tap_n" "$1"; }

done_testing() {
	printf '1..%d\n' "$_tap_n"
	[ "$_tap_failed" -eq 0 ]
}

sq() { sqlite3 -batch -noheader "$IGKIT_DB" "$@"; }

# JSON field of the first line of stdin, with python (tests only).
jget() { "$PYTHON3" -c 'import json,sys
v=json.loads(sys.stdin.readline())
for k in sys.argv[1].split("."):
    v=v[int(k)] if isinstance(v,list) else v.get(k)
print("" if v is None else (json.dumps(v) if isinstance(v,(dict,list)) else v))' "$1"; }

# Start the Graph API simulator on a free port and point igkit at it.
sim_start() {
	local fifo="$T/.sim.fifo"
	mkfifo "$fifo"
	"$PYTHON3" "$top_srcdir/tests/sim/graphsim.py" serve --port 0 "$@" > "$fifo" 2>"$T/sim.log" &
	_cleanup_pids="$_cleanup_pids $!"
	SIM_PID=$!
	read -r SIM < "$fifo"
	export SIM
	export IGKIT_GRAPH_FACEBOOK_URL="$SIM/graph.facebook.com"
	export IGKIT_GRAPH_INSTAGRAM_URL="$SIM/graph.instagram.com"
	export IGKIT_API_INSTAGRAM_URL="$SIM/api.instagram.com"
	export IGKIT_WWW_FACEBOOK_URL="$SIM/www.facebook.com"
	export IGKIT_WWW_INSTAGRAM_URL="$SIM/www.instagram.com"
	export IGKIT_LLM_URL="$SIM/llm/v1"
	export IGKIT_APP_ID=1234567890 IGKIT_IG_APP_ID=9876543210
	printf 'sim-app-secret\n' > "$T/app.secret"
	printf 'sim-ig-app-secret\n' > "$T/ig-app.secret"
	chmod 600 "$T/app.secret" "$T/ig-app.secret"
	export IGKIT_APP_SECRET_FILE="$T/app.secret" IGKIT_IG_APP_SECRET_FILE="$T/ig-app.secret"
	export IGKIT_REDIRECT_URI="https://example.test/igkit/callback"
}

# curl against the simulator's control API: simctl METHOD PATH [JSON]
simctl() {
	if [ $# -ge 3 ]; then
		curl -sS -X "$1" -H 'Content-Type: application/json' --data "$3" "$SIM$2"
	else
		curl -sS -X "$1" "$SIM$2"
	fi
}
