# bash completion for igkit's programs.  Commands and options come from the
# program itself (`PROG --list-commands`: one line per command, its name, a
# tab, its options with "=" after those taking a value), so completion never
# drifts from the binary.  A new program only adds its name to the
# `complete` line at the end.

_igkit() {
	local cur prog list line name opts i w k
	local -a typed=() words
	cur=${COMP_WORDS[COMP_CWORD]}
	prog=${COMP_WORDS[0]}
	list=$("$prog" --list-commands 2>/dev/null) || return 0
	opts=$(printf '%s\n' "$list" | cut -f2 | tr ' ' '\n' | sort -u)
	# the command words typed so far: not options, not an option's value
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--*=*) ;;
		-*) printf '%s\n' "$opts" | grep -qx -- "${w}=" && i=$((i + 1)) ;;
		*) typed+=("$w") ;;
		esac
	done
	# the rows the typed words lead to
	local matched="-" next=""
	while IFS= read -r line; do
		name=${line%%$'\t'*}
		[ "$name" = "-" ] && continue
		read -r -a words <<< "$name"
		for ((k = 0; k < ${#typed[@]} && k < ${#words[@]}; k++)); do
			[ "${typed[k]}" = "${words[k]}" ] || continue 2
		done
		if [ "${#typed[@]}" -ge "${#words[@]}" ]; then
			matched=$name
		else
			[ "$k" -eq "${#typed[@]}" ] && next="$next ${words[k]}"
		fi
	done <<< "$list"
	case $cur in
	-*)
		line=$(printf '%s\n' "$list" | awk -F'\t' -v n="$matched" '$1 == n { print $2 }')
		[ -n "$line" ] || line=$opts   # no command yet, and no default one: all
		COMPREPLY=($(compgen -W "$(printf '%s' "$line" | tr -d '=')" -- "$cur"))
		;;
	*)
		if [ -n "$next" ]; then
			COMPREPLY=($(compgen -W "$(printf '%s\n' $next | awk '!seen[$0]++')" -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		;;
	esac
	return 0
}

complete -F _igkit tenant-admin ig-connect ig-route ig-reply ig-publish ig-insights ig-comments
