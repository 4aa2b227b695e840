#!/bin/bash
# docs.t — the documentation is true: every program has a man page with the
# fixed sections, mandoc -Tlint is clean, and --help and the page name the
# same options (git's rule); igkit(7) and the README mention every program.
. "${top_srcdir:-.}/tests/lib.sh"

# The programs: the build's bin_PROGRAMS (IGKIT_PROGRAMS, set by the
# Makefile), or the same list read from Makefile.am when run by hand.
programs=$(igkit_programs)
man=$top_srcdir/share/man
completion=$top_srcdir/share/completions/igkit.bash

opts_of_help() { grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
opts_of_man() { grep -oE '^\.(It|Op|Fl|Oo)?.*Fl -[a-z][a-z0-9-]*|Fl -[a-z][a-z0-9-]*' "$1" |
	grep -oE 'Fl -[a-z][a-z0-9-]*' | sed 's/^Fl -/--/' | sort -u; }
# the words of the SYNOPSIS's .Cm lines (commands, verbs, literal values)
cm_of_synopsis() { sed -n '/^\.Sh SYNOPSIS/,/^\.Sh /p' "$1" | grep '^\.Cm ' |
	sed 's/^\.Cm //; s/ Ar .*//' | tr ' ' '\n' | grep -E '^[a-z][a-z0-9-]*$' | sort -u; }

ok "$([ -n "$programs" ]; echo $?)" "the build names its programs: $programs"
for p in $programs; do
	page=$man/$p.1
	[ -s "$page" ]; ok $? "$p has a man page"
	[ -s "$page" ] || continue
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT FILES "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -q "^\.Sh $s\$" "$page"; ok $? "$p(1) has section $s"
	done
	if [ -n "${MANDOC:-}" ] && command -v "${MANDOC}" >/dev/null; then
		run "$MANDOC" -Tlint -W warning "$page"
		lint=$(printf '%s\n%s\n' "$out" "$err" | grep -v 'referenced manual not found' | grep -v '^$')
		is "$lint" "" "$p(1) is mandoc -Tlint clean"
	else
		skip "mandoc not installed"
	fi
	# The binary's own list of commands and options (cmd_main's table).
	run "$p" --list-commands
	is_rc 0 "$p --list-commands exits 0"
	list=$out
	ok "$([ -n "$list" ]; echo $?)" "$p --list-commands lists its commands"
	commands=$(printf '%s\n' "$list" | cut -f1 | grep -vx -- '-')
	listed_opts=$(printf '%s\n' "$list" | cut -f2 | tr ' ' '\n' | sed 's/=$//' | grep . | sort -u)
	# every command word is in the SYNOPSIS
	missing=$(comm -23 <(printf '%s\n' $commands | sort -u) <(cm_of_synopsis "$page") | tr '\n' ' ')
	is "$missing" "" "every command of $p is in the SYNOPSIS of $p(1)"
	# options: the table and the page name the same ones (git's rule)
	missing_in_man=$(comm -23 <(printf '%s\n' "$listed_opts") <(opts_of_man "$page") | tr '\n' ' ')
	is "$missing_in_man" "" "every option of $p is in $p(1)"
	missing_in_bin=$(comm -13 <(printf '%s\n' "$listed_opts") <(opts_of_man "$page") | tr '\n' ' ')
	is "$missing_in_bin" "" "every option of $p(1) is one $p takes"
	# --help shows every option; each command's --help its own
	run "$p" --help
	is_rc 0 "$p --help exits 0"
	missing=$(comm -23 <(printf '%s\n' "$listed_opts") <(printf '%s\n' "$out" | opts_of_help) | tr '\n' ' ')
	is "$missing" "" "$p --help shows every option"
	bad=""
	while IFS=$'\t' read -r name copts _; do
		[ "$name" = "-" ] && continue
		# shellcheck disable=SC2086
		h=$("$p" $name --help 2>/dev/null) || { bad="$bad [$name: exit]"; continue; }
		for o in $copts; do
			o=${o%=}
			printf '%s\n' "$h" | grep -q -- "$o\\b" || bad="$bad [$name $o]"
		done
	done <<< "$list"
	is "$bad" "" "'$p COMMAND --help' shows each command's options"
	# the completion offers what the binary lists
	grep -qE "^complete -F _igkit .*\\b$p\\b" "$completion"; ok $? "the completion is registered for $p"
	bad=""
	while IFS=$'\t' read -r name copts _; do
		[ "$name" = "-" ] && name=""
		# shellcheck disable=SC2086
		set -- $name
		typed=()
		for w in "$@"; do
			got=$(complete_words "$p" "${typed[@]}" "")
			printf '%s\n' $got | grep -qx -- "$w" || bad="$bad [$name: $w]"
			typed+=("$w")
		done
		got=$(complete_words "$p" "${typed[@]}" "--")
		for o in $copts; do
			printf '%s\n' $got | grep -qx -- "${o%=}" || bad="$bad [$name ${o%=}]"
		done
	done <<< "$list"
	is "$bad" "" "the completion offers every command and option of $p"
	run "$p" --version
	like "$out" "^$p \\(igkit\\) [0-9]" "$p --version names program and version"
	like "$out" "SQLite [0-9]" "$p --version names the libraries"
	run "$p" --no-such-option
	is_rc 64 "$p rejects an unknown option with 64"
	like "$err" "Try '$p --help'" "and points at --help"
	grep -q "$p" "$man/igkit.7"; ok $? "igkit(7) mentions $p"
	grep -q "$p" "$top_srcdir/README.md"; ok $? "README mentions $p"
done

# the missing completion of old: 'tenant-admin location show'
like "$(complete_words tenant-admin location "")" "(^| )show( |$)" "completion: tenant-admin location show"
like "$(complete_words tenant-admin --tenant rossi agent cr)" "^create$" \
	"completion: an option's value is not taken for a command"

page=$man/igkit.7
if [ -n "${MANDOC:-}" ] && command -v "${MANDOC}" >/dev/null; then
	run "$MANDOC" -Tlint -W warning "$page"
	lint=$(printf '%s\n%s\n' "$out" "$err" | grep -v 'referenced manual not found' | grep -v '^$')
	is "$lint" "" "igkit(7) is mandoc -Tlint clean"
else
	skip "mandoc not installed"
fi
run tenant-admin --print-config
undocumented=""
for name in $(printf '%s\n' "$out" | grep -oE '"name":"[a-z0-9_]+"' | cut -d'"' -f4); do
	grep -qE "(Cm|,) $name( |,|\$)" "$page" || undocumented="$undocumented $name"
done
is "$undocumented" "" "igkit(7) CONFIGURATION names every setting --print-config shows"
for code in 0 64 65 66 69 70 73 74 75 77 78; do
	grep -qE "^\.It $code\b|^\.It Sy $code\b" "$page"; ok $? "igkit(7) documents exit code $code"
done
grep -q 'scripts/check' "$top_srcdir/README.md"; ok $? "README shows scripts/check"
grep -q 'scripts/demo' "$top_srcdir/README.md"; ok $? "README shows scripts/demo"
# The dispatcher: a verb of several words (kb synonyms add) is matched whole,
# its help is its own, and a partial one is a usage error that lists the verbs.
run ig-reply kb synonyms add --help
is_rc 0 "a verb of two words: --help"
like "$out" "^Usage: ig-reply kb synonyms add WORD ALT" "…shows that command's own usage"
run ig-reply kb synonyms
is_rc 64 "half a verb: 64"
like "$err" "kb: unknown subcommand 'synonyms'" "…says which word"
like "$err" "synonyms add, synonyms list, synonyms rm" "…and lists the verbs of the group"
run ig-reply kb synonyms add onlyword
is_rc 64 "a two-word verb still checks its operands"
like "$err" "missing WORD ALT" "…naming what is missing"

done_testing
