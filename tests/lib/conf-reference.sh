#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# conf-reference.sh <file> <kernelver> <arch> [kernel_source_dir]
#
# The reference for `conf-dump --raw`: source a dkms.conf with bash the way DKMS does
# (read_conf -> safe_source: inside a function, stdout discarded, extglob on, the dkms
# variables set, $BASH_SOURCE the file's absolute path) and print every variable it left
# behind as sorted "NAME[idx]=value" lines with the same escaping as dkm_shvars_format():
# '\' -> '\\', LF -> '\n', CR -> '\r', other control characters -> '\xHH'. Like DKMS, one
# trailing CR is removed from each value. Not printed: bash's own variables (the same list as
# dkm_shvars_name_is_reserved()) and the dkms variables the file did not change.
#
# It runs as the caller (root in CI), in the file's own directory, with an environment reduced
# to PATH and LC_ALL, so that the only difference with dkm-hook's evaluation is what we want
# to measure: the no-exec parser or the sandbox.

if [[ ${1-} != --inner ]]; then
	if (($# < 3 || $# > 4)); then
		echo "usage: conf-reference.sh <file> <kernelver> <arch> [kernel_source_dir]" >&2
		exit 2
	fi
	exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
		/bin/bash --norc --noprofile "$0" --inner "$@"
fi
shift

__ref_file=$1
[[ $__ref_file == /* ]] || __ref_file=$PWD/$__ref_file
__ref_env_names=(kernelver arch kernel_source_dir dkms_tree source_tree install_tree module module_version)
declare -A __ref_env=(
	[kernelver]=$2
	[arch]=$3
	[kernel_source_dir]=${4:-/lib/modules/$2/build}
	[dkms_tree]=/var/lib/dkms
	[source_tree]=/usr/src
	[install_tree]=/lib/modules
)
for __ref_n in "${!__ref_env[@]}"; do
	printf -v "$__ref_n" %s "${__ref_env[$__ref_n]}"
done
unset __ref_n
shift $#
shopt -s extglob
cd "${__ref_file%/*}" || exit 1

__ref_reserved() {
	case $1 in
	BASH* | COMP_* | HIST* | READLINE_* | LC_*) return 0 ;;
	_ | CDPATH | CHILD_MAX | COLUMNS | COPROC | DIRSTACK | EPOCHREALTIME | EPOCHSECONDS | EUID | \
		EXECIGNORE | FCEDIT | FIGNORE | FUNCNAME | FUNCNEST | GLOBIGNORE | GLOBSORT | GROUPS | \
		HOME | HOSTFILE | HOSTNAME | HOSTTYPE | IFS | IGNOREEOF | INPUTRC | INSIDE_EMACS | LANG | \
		LINENO | LINES | MACHTYPE | MAIL | MAILCHECK | MAILPATH | OLDPWD | OPTARG | OPTERR | \
		OPTIND | OSTYPE | PATH | PIPESTATUS | POSIXLY_CORRECT | PPID | PROMPT_COMMAND | \
		PROMPT_DIRTRIM | PS0 | PS1 | PS2 | PS3 | PS4 | PWD | RANDOM | REPLY | SECONDS | SHELL | \
		SHELLOPTS | SHLVL | SRANDOM | TERM | TIMEFORMAT | TMOUT | TMPDIR | UID | auto_resume | \
		histchars) return 0 ;;
	esac
	return 1
}

__ref_escape() {
	local __ref_s=$1 __ref_o='' __ref_c __ref_k
	__ref_s=${__ref_s//\\/\\\\}
	__ref_s=${__ref_s//$'\n'/\\n}
	__ref_s=${__ref_s//$'\r'/\\r}
	if [[ $__ref_s == *[$'\x01'-$'\x1f'$'\x7f']* ]]; then
		for ((__ref_k = 0; __ref_k < ${#__ref_s}; __ref_k++)); do
			__ref_c=${__ref_s:__ref_k:1}
			if [[ $__ref_c == [$'\x01'-$'\x1f'$'\x7f'] ]]; then
				printf -v __ref_c '\\x%02x' "'$__ref_c"
			fi
			__ref_o+=$__ref_c
		done
		__ref_s=$__ref_o
	fi
	REPLY=$__ref_s
}

__ref_dump() {
	local IFS=$' \t\n' __ref_n __ref_i __ref_v __ref_e
	local -a __ref_names
	mapfile -t __ref_names < <(compgen -v | LC_ALL=C sort)
	for __ref_n in "${__ref_names[@]}"; do
		[[ $__ref_n == __ref_* ]] && continue
		__ref_reserved "$__ref_n" && continue
		[[ ${!__ref_n@a} == *A* ]] && continue
		local -n __ref_r=$__ref_n
		# a dkms variable the file did not touch is not "assigned by the file"
		for __ref_e in "${__ref_env_names[@]}"; do
			[[ $__ref_e == "$__ref_n" ]] || continue
			if [[ -v "__ref_env[$__ref_n]" ]]; then
				[[ ${#__ref_r[@]} == 1 && ${!__ref_r[*]} == 0 &&
					${__ref_r[0]} == "${__ref_env[$__ref_n]}" ]] && continue 2
			else
				((${#__ref_r[@]} == 0)) && continue 2
			fi
		done
		for __ref_i in "${!__ref_r[@]}"; do
			__ref_v=${__ref_r[$__ref_i]}
			__ref_escape "${__ref_v%$'\r'}"
			printf '%s[%s]=%s\n' "$__ref_n" "$__ref_i" "$REPLY"
		done
		unset -n __ref_r
	done
}

__ref_source() {
	# shellcheck disable=SC1090 # the file under test
	. "$__ref_file" >/dev/null
	__ref_dump
}
__ref_source
