# SPDX-License-Identifier: LGPL-2.1-or-later
# bash completion for dkm-hook(8).
#
# Nothing here repeats the command line's tables: the commands and their synopses come from
# `dkm-hook --list verbs` (the verb table that --help prints), the options from `--help`, the
# registered packages from `dkm-hook --list packages` (the state tree under the root, no lock),
# the kernels from <root>/lib/modules. A new command or option is completed without a change
# here. The root is the command line's --root, else $DKM_HOOK_ROOT, else /.
# Works with or without the bash-completion package.
#
# Candidates are matched as literal prefixes (_dkm_hook_words), never through `compgen -W`:
# that expands each word of its list again, command substitution included, so a package named
# 'x$(cmd)' would run cmd in the shell of whoever pressed TAB (root, usually). Lists are read
# into arrays line by line, never split or globbed.

_dkm_hook_run() { # <program> <root> args... : the program's output, errors silenced
	local prog=$1 root=$2
	shift 2
	"$prog" --root "$root" "$@" 2>/dev/null
}

_dkm_hook_words() { # <cur> words...: COMPREPLY += the words that start with cur, as they are
	local cur=$1 w
	shift
	for w in "$@"; do
		[[ $w == "$cur"* ]] && COMPREPLY+=("$w")
	done
	return 0
}

_dkm_hook_lines() { # <cur> <text>: _dkm_hook_words over the lines of text
	local -a l=()
	[[ -n $2 ]] && mapfile -t l <<<"$2"
	_dkm_hook_words "$1" "${l[@]}"
}

_dkm_hook_compgen() { # <-d|-f> <cur>: file or directory names, one candidate per line
	local -a l=()
	mapfile -t l < <(compgen "$1" -- "$2")
	COMPREPLY+=("${l[@]}")
}

_dkm_hook() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev='' prog=${COMP_WORDS[0]}
	local root='' verb='' synopsis='' i w npos=0 line
	local -a verbs=() synopses=()

	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()
	command -v "$prog" >/dev/null 2>&1 || prog=dkm-hook

	while IFS=$'\t' read -r w line; do
		[[ -n $w ]] || continue
		verbs+=("$w")
		synopses+=("$line")
	done < <("$prog" --list verbs 2>/dev/null)

	# what is on the line already: the root, the command, how many arguments it has
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--root) root=${COMP_WORDS[i + 1]}; i=$((i + 1)) ;;
		--root=*) root=${w#--root=} ;;
		-k | --kernel | -a | --arch | -j | --jobs | --kernel-source-dir | --cert | --format | \
			-o | --output | --dkmstree)
			i=$((i + 1)) ;;
		-*) ;;
		*)
			if [[ -z $verb ]]; then
				verb=$w
			else
				npos=$((npos + 1))
			fi
			;;
		esac
	done
	root=${root:-${DKM_HOOK_ROOT:-/}}
	for ((i = 0; i < ${#verbs[@]}; i++)); do
		[[ ${verbs[i]} == "$verb" ]] && synopsis=${synopses[i]}
	done

	# the argument of an option
	case $prev in
	-k | --kernel)
		_dkm_hook_lines "$cur" "$(_dkm_hook_kernels "$root")"
		return 0
		;;
	--root | --kernel-source-dir | --dkmstree)
		_dkm_hook_compgen -d "$cur"
		return 0
		;;
	--cert | -o | --output)
		_dkm_hook_compgen -f "$cur"
		return 0
		;;
	--format)
		_dkm_hook_words "$cur" tar deb
		return 0
		;;
	-a | --arch)
		_dkm_hook_words "$cur" "$(uname -m)"
		return 0
		;;
	-j | --jobs)
		return 0
		;;
	esac

	if [[ $cur == -* ]]; then
		local opts
		if [[ -n $synopsis ]]; then
			# the command's own options, and those that apply to every command
			opts="$(grep -oE -- '(^|[[ (|])--?[a-z][a-z-]*' <<<"$synopsis" | tr -d ' [(|')"
			opts+=" --root -v --verbose -h --help"
		else
			# the option column of --help's "Options:" (descriptions start after 2 blanks)
			opts=$("$prog" --help 2>/dev/null | sed -n '/^Options:/,/^$/p' |
				sed -E 's/^ +//; s/ {2,}.*//' | grep -oE -- '(^|[ ,])--?[a-z][a-z-]*' |
				tr -d ' ,' | sort -u)
		fi
		_dkm_hook_lines "$cur" "$(tr ' ' '\n' <<<"$opts" | sed '/^$/d')"
		return 0
	fi

	if [[ -z $verb ]]; then
		_dkm_hook_words "$cur" "${verbs[@]}"
		return 0
	fi

	# a positional argument: what the synopsis names in that place ("<pkg/ver>", "<kver>",
	# "<file>"...), skipping options and their arguments: "-k <kver>...", "[--format tar|deb]",
	# "(-k <kver>... | --all)"
	local -a words
	local what='' k=0 inopt=0 skip=0
	read -r -a words <<<"${synopsis// | /|}"
	for w in "${words[@]}"; do
		if ((inopt)); then
			case $w in *']' | *')') inopt=0 ;; esac
			continue
		fi
		if ((skip)); then
			skip=0
			continue
		fi
		case $w in
		\[-* | \(-*)
			case $w in *']' | *')') ;; *) inopt=1 ;; esac
			continue
			;;
		-*)
			skip=1
			continue
			;;
		esac
		if ((k == npos)); then
			what=$w
			break
		fi
		k=$((k + 1))
	done
	case $what in
	*pkg* | *package*)
		_dkm_hook_lines "$cur" "$(_dkm_hook_run "$prog" "$root" --list packages)"
		[[ $what == *source-dir* ]] && _dkm_hook_compgen -d "$cur"
		;;
	*kver*)
		_dkm_hook_lines "$cur" "$(_dkm_hook_kernels "$root")"
		;;
	*file*)
		_dkm_hook_compgen -f "$cur"
		;;
	esac
	return 0
}

_dkm_hook_kernels() { # <root>: the kernels whose module directory exists
	local d
	for d in "${1%/}"/lib/modules/*/; do
		[[ -d $d ]] || continue
		d=${d%/}
		printf '%s\n' "${d##*/}"
	done
}

complete -F _dkm_hook dkm-hook
