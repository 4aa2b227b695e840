#!/bin/sh
# tests/fuzz/build.sh — build the libFuzzer target for the delivery parser
# and, with "run", fuzz for a while on a copy of the corpus.
#
#   tests/fuzz/build.sh [run [SECONDS]]      (also: make fuzz)
#
# Needs clang (libFuzzer ships with it) and the -dev packages configure
# checks for.  The binary lands in $FUZZ_OUT (default /tmp/igkit-fuzz).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_OUT:-/tmp/igkit-fuzz}
CLANG=${CLANG:-clang}
command -v "$CLANG" >/dev/null 2>&1 || { echo "build.sh: clang not found; install clang" >&2; exit 69; }
mkdir -p "$out"
# the schema is not needed: the target links only the pure modules
"$CLANG" -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-I"$top/lib" $(pkg-config --cflags jansson) \
	"$top/tests/fuzz/fuzz-webhook.c" "$top/lib/webhook.c" "$top/lib/secret.c" "$top/lib/jsonparse.c" \
	"$top/lib/jsonio.c" "$top/lib/igtime.c" "$top/lib/err.c" "$top/lib/buf.c" \
	$(pkg-config --libs jansson) -o "$out/fuzz-webhook"
echo "built $out/fuzz-webhook"
if [ "${1:-}" = run ]; then
	mkdir -p "$out/corpus"
	cp "$top"/tests/fuzz/corpus/* "$out/corpus/"
	"$out/fuzz-webhook" -max_total_time="${2:-60}" -max_len=65536 "$out/corpus"
fi
