# bash completion for igkit's programs: subcommands, then long options as
# the program's own --help lists them (so completion never drifts from it).

_igkit_subcommands() {
	case $1 in
	tenant-admin) echo "init onboard tenant user member agent location key audit export erase" ;;
	ig-connect) echo "url callback add list assign test refresh subscribe doctor disconnect deauthorize data-deletion deletion-status move rekey" ;;
	ig-route) echo "explain replay dead" ;;
	ig-reply) echo "pause resume send assign status priority conversations outbox drafts approve reject kb templates" ;;
	ig-insights) echo "sync show export top report metrics" ;;
	esac
}

_igkit_second() {
	case "$1 $2" in
	"tenant-admin tenant") echo "create list show rename delete" ;;
	"tenant-admin user") echo "add list remove" ;;
	"tenant-admin member") echo "grant revoke" ;;
	"tenant-admin agent") echo "create list show update delete set-default" ;;
	"tenant-admin location") echo "create list update delete" ;;
	"tenant-admin key") echo "create list revoke" ;;
	"ig-reply outbox") echo "list retry abandon" ;;
	"ig-reply kb") echo "add list rm search" ;;
	"ig-reply templates") echo "add list rm" ;;
	esac
}

_igkit() {
	local cur prog words_before opts
	cur=${COMP_WORDS[COMP_CWORD]}
	prog=${COMP_WORDS[0]##*/}
	case $cur in
	-*)
		opts=$("$prog" "${COMP_WORDS[@]:1:COMP_CWORD-1}" --help 2>/dev/null |
			grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
		;;
	esac
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$(_igkit_subcommands "$prog")" -- "$cur"))
	elif [ "$COMP_CWORD" -eq 2 ]; then
		words_before=$(_igkit_second "$prog" "${COMP_WORDS[1]}")
		if [ -n "$words_before" ]; then
			COMPREPLY=($(compgen -W "$words_before" -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}

complete -F _igkit tenant-admin ig-connect ig-route ig-reply
complete -F _igkit ig-insights
