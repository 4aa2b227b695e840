#!/bin/bash
# docs.t — the documentation is true: every program has a man page with the
# fixed sections, mandoc -Tlint is clean, and --help and the page name the
# same options (git's rule); igkit(7) and the README mention every program.
. "${top_srcdir:-.}/tests/lib.sh"

programs="tenant-admin ig-connect ig-route ig-reply"
man=$top_srcdir/share/man

opts_of_help() { grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
opts_of_man() { grep -oE '^\.(It|Op|Fl|Oo)?.*Fl -[a-z][a-z0-9-]*|Fl -[a-z][a-z0-9-]*' "$1" |
	grep -oE 'Fl -[a-z][a-z0-9-]*' | sed 's/^Fl -/--/' | sort -u; }

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
	run "$p" --help
	is_rc 0 "$p --help exits 0"
	help=$out
	# Subcommand help texts: every "Cm word" of the SYNOPSIS.
	for sub in $(sed -n '/^\.Sh SYNOPSIS/,/^\.Sh /p' "$page" | grep -oE '^\.Cm [a-z-]+' | awk '{print $2}' | sort -u); do
		sub_help=$("$p" "$sub" --help 2>/dev/null) && help="$help
$sub_help"
	done
	missing_in_man=$(comm -23 <(printf '%s\n' "$help" | opts_of_help) <(opts_of_man "$page") | tr '\n' ' ')
	is "$missing_in_man" "" "every option of $p --help is in $p(1)"
	missing_in_help=$(comm -13 <(printf '%s\n' "$help" | opts_of_help) <(opts_of_man "$page") | tr '\n' ' ')
	is "$missing_in_help" "" "every option of $p(1) is in $p --help"
	run "$p" --version
	like "$out" "^$p \\(igkit\\) [0-9]" "$p --version names program and version"
	like "$out" "SQLite [0-9]" "$p --version names the libraries"
	run "$p" --no-such-option
	is_rc 64 "$p rejects an unknown option with 64"
	like "$err" "Try '$p --help'" "and points at --help"
	grep -q "$p" "$man/igkit.7"; ok $? "igkit(7) mentions $p"
	grep -q "$p" "$top_srcdir/README.md"; ok $? "README mentions $p"
done

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
done_testing
