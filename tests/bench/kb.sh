#!/bin/bash
# tests/bench/kb.sh — the kb engine on the labelled FAQ sets of
# tests/fixtures/kb (called by scripts/bench kb): per language, the confusion
# table of the decisions taken through ig-route | ig-reply --dry-run, each
# question a fresh customer's DM.  Prints figures; passes or fails nothing.
#
#   bash tests/bench/kb.sh            every language with a labelled set
#   VERBOSE=1 bash tests/bench/kb.sh  also every question that was not right
#   SYNONYMS=no ...                   without the businesses' synonyms
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
. "$top_srcdir/tests/fixtures/kb/eval.sh"

sim_start
tenant-admin init > /dev/null
printf '==> kb engine on the labelled FAQ sets (kb_min_confidence %s; synonyms: %s)\n' \
	"${IGKIT_KB_MIN_CONFIDENCE:-0.5, the default}" "$SYNONYMS"
printf '%-8s %-10s %5s %9s %-10s %5s\n' language right wrong escalated "oos esc." "oos answered"
outs=""
for f in "$top_srcdir"/tests/fixtures/kb/*-questions.tsv; do
	lang=$(basename "$f" -questions.tsv)
	kb_eval "$lang" "$T/$lang" || { echo "kb.sh: the evaluation of '$lang' failed" >&2; cat "$T/$lang".*err >&2; exit 1; }
	kb_eval_table "$lang" "$T/$lang"
	outs="$outs $T/$lang"
	if [ -n "${VERBOSE:-}" ]; then
		grep -v '^right\|^oos_escalated' "$T/$lang.rows" | sed 's/^/    /'
	fi
done
for set in heldout fresh; do
	case $set in
	heldout) printf '\n==> held-out questions (tests/fixtures/kb/*-heldout.tsv, written after a first tuning;\n    the list fixes that followed looked at them)\n' ;;
	fresh) printf '\n==> fresh questions (tests/fixtures/kb/*-fresh.tsv, written last, never tuned on)\n' ;;
	esac
	printf '%-8s %-10s %5s %9s %-10s %5s\n' language right wrong escalated "oos esc." "oos answered"
	for f in "$top_srcdir"/tests/fixtures/kb/*-$set.tsv; do
		lang=$(basename "$f" "-$set.tsv")
		IGKIT_DB=$T/$set-$lang.db
		tenant-admin init > /dev/null
		kb_eval "$lang" "$T/$lang-$set" "$set" ||
			{ echo "kb.sh: the $set evaluation of '$lang' failed" >&2; exit 1; }
		kb_eval_table "$lang" "$T/$lang-$set"
		if [ -n "${VERBOSE:-}" ]; then
			grep -v '^right\|^oos_escalated' "$T/$lang-$set.rows" | sed 's/^/    /'
		fi
	done
done
printf '\n==> calibration: the same decisions at other kb_min_confidence values (safe: no wrong\n'
printf '    answer and no out-of-scope question answered in any language)\n'
# shellcheck disable=SC2086
kb_eval_sweep $outs
