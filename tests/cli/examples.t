#!/bin/bash
# examples: share/examples/crontab runs under cron's bare environment and
# says what igkit(7) says; the systemd units in share/examples/systemd/ pass
# `systemd-analyze verify` (when installed), are hardened, and load every
# secret as a credential; scripts/demo --help.
. "${top_srcdir:-.}/tests/lib.sh"

EX="$top_srcdir/share/examples"
CRON_PATH=/usr/bin:/bin   # what cron gives a job

# --- crontab ----------------------------------------------------------------
# The example's variable lines and job lines (uncommented).
grep -E '^[A-Z_]+=' "$EX/crontab" > "$T/cron.env"
grep -E '^[0-9*]' "$EX/crontab" | sed -E 's/^([^ ]+ +){5}//' > "$T/cron.jobs"
like "$(cat "$T/cron.env")" '^PATH=.*/usr/local/bin' "the crontab sets PATH, with where make install puts igkit"
ok "$([ "$(wc -l < "$T/cron.jobs")" -ge 3 ]; echo $?)" "…and has its jobs"
# igkit(7) CRONTAB shows the same lines
mandoc -Tutf8 "$top_srcdir/share/man/igkit.7" 2>/dev/null | col -b > "$T/igkit.7.txt" || man -l "$top_srcdir/share/man/igkit.7" > "$T/igkit.7.txt" 2>/dev/null
while IFS= read -r job; do
	grep -qF -- "$job" "$T/igkit.7.txt"; ok $? "igkit(7) CRONTAB shows: $job"
done < "$T/cron.jobs"
grep -qF -- "$(grep '^PATH=' "$T/cron.env")" "$T/igkit.7.txt"; ok $? "…and its PATH line"

# Install the programs where the crontab says (a stand-in for /usr/local/bin),
# give the jobs a store, and run each line as cron would: env -i, cron's PATH,
# then the crontab's own variables.
mkdir -p "$T/usr/local/bin"
for p in tenant-admin ig-connect ig-route ig-reply ig-publish ig-insights ig-comments; do [ -x "$top_builddir/$p" ] || continue; ln -s "$top_builddir/$p" "$T/usr/local/bin/$p"; done
sed -e "s|/usr/local/bin|$T/usr/local/bin|" -e "s|^IGKIT_DB=.*|IGKIT_DB=$T/cron.db|" "$T/cron.env" > "$T/cron.env.test"
IGKIT_DB="$T/cron.db" tenant-admin -q init > /dev/null
cronrun() { # JOB [with the crontab's variables: 1 (default) or 0]
	local vars=() line
	if [ "${2:-1}" = 1 ]; then
		while IFS= read -r line; do vars+=("$line"); done < "$T/cron.env.test"
	fi
	_last_cmd="cron: $1"
	out=$(cd "$T" && env -i HOME="$T/home" LOGNAME=igkit SHELL=/bin/sh PATH="$CRON_PATH" \
		"${vars[@]}" /bin/sh -c "$1" 2>"$T/.stderr") && rc=0 || rc=$?
	err=$(cat "$T/.stderr")
}
while IFS= read -r job; do
	cronrun "$job"
	is_rc 0 "under cron's environment: $job"
done < "$T/cron.jobs"
cronrun "$(head -1 "$T/cron.jobs")" 0
is_rc 127 "…while without the crontab's PATH the programs are not found"

# --- systemd ----------------------------------------------------------------
SD="$EX/systemd"
for job in igkit-reply igkit-refresh igkit-doctor igkit-publish igkit-insights igkit-comments; do
	[ -f "$SD/$job.service" ] && [ -f "$SD/$job.timer" ]; ok $? "$job: a .service and a .timer"
done
for u in "$SD"/*.service; do
	n=$(basename "$u")
	for want in '^ProtectSystem=strict$' '^NoNewPrivileges=yes$' '^StateDirectory=igkit$' '^User=igkit$' \
		'^LoadCredential=master_key:' '^LoadCredential=app_secret:' '^LoadCredential=ig_app_secret:' \
		'^Environment=IGKIT_MASTER_KEY_FILE=%d/master_key$' '^UMask=0077$'; do
		grep -qE -- "$want" "$u"; ok $? "$n: $want"
	done
	unlike "$(grep -iE '^Environment=.*(SECRET|_KEY=)' "$u")" . "$n: no secret in its environment"
done
grep -q "ExecStart=/usr/local/bin/ig-reply --pending" "$SD/igkit-reply.service"; ok $? "igkit-reply runs ig-reply --pending"
grep -q "ExecStart=/usr/local/bin/ig-connect refresh" "$SD/igkit-refresh.service"; ok $? "igkit-refresh runs ig-connect refresh"
if command -v systemd-analyze > /dev/null 2>&1; then
	# verify checks that ExecStart= exists: point it at the build (a stub for
	# the programs still to come)
	mkdir -p "$T/units" "$T/stub"
	stubs=()
	for p in ig-publish ig-insights ig-comments; do
		[ -x "$top_builddir/$p" ] && continue
		printf '#!/bin/sh\nexit 0\n' > "$T/stub/$p"; chmod +x "$T/stub/$p"
		stubs+=(-e "s#/usr/local/bin/$p#$T/stub/$p#")
	done
	for u in "$SD"/*.service "$SD"/*.timer; do
		sed -E "${stubs[@]}" -e "s|/usr/local/bin/|$top_builddir/|" "$u" > "$T/units/$(basename "$u")"
	done
	run systemd-analyze verify --man=no "$T"/units/*.service "$T"/units/*.timer
	is "$rc:$out$err" "0:" "systemd-analyze verify: every unit clean (no warning)"
	if systemd-analyze security --help 2>/dev/null | grep -q -- --offline; then
		for u in "$T"/units/*.service; do
			level=$(systemd-analyze security --offline=yes --man=no "$u" 2>/dev/null |
				sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
			ok "$(awk -v l="${level:-99}" 'BEGIN { exit !(l <= 2.0) }'; echo $?)" \
				"$(basename "$u"): exposure $level (systemd-analyze security, at most 2.0)"
		done
	else
		skip "systemd-analyze security --offline not available"
	fi
else
	skip "systemd-analyze not installed"
fi

# --- scripts/demo --------------------------------------------------------------
run "$top_srcdir/scripts/demo" --help
is_rc 0 "scripts/demo --help"
unlike "$(printf '%s' "$out" | tail -1)" "set -e" "…does not end with a line of the script"
like "$out" "--keep" "…describes its options"
unlike "$(grep -n '\\033\[' "$top_srcdir/scripts/demo" | grep -v 'bold=\|=\$(' )" . \
	"scripts/demo writes escape codes only through its terminal-only variables"

done_testing
