#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The bash completion (completion/dkm-hook.bash) driven as bash drives it: COMP_WORDS and
# COMP_CWORD set, the function called, COMPREPLY checked — against a scratch root with
# registered packages and kernels. The zsh one is checked for syntax (and loads) when zsh is
# installed.

load lib/common

setup() {
	ROOT=$BATS_TEST_TMPDIR/root
	mkdir -p "$ROOT/lib/modules/6.1.0-90-amd64" "$ROOT/lib/modules/6.2.0-1-amd64" \
		"$ROOT/lib/modules/not-a-dir-parent"
	rmdir "$ROOT/lib/modules/not-a-dir-parent"
	touch "$ROOT/lib/modules/stray-file"
	# two registered packages, straight in the state tree (status reads only that)
	for pv in alpha/1.0 alpha/2.0 beta-dkms/0.3; do
		d=$ROOT/var/lib/dkm-hook/packages/$pv
		mkdir -p "$d"
		printf 'name=%s\nversion=%s\nsource=/usr/src/x\nmodules=m\n' "${pv%/*}" "${pv#*/}" > "$d/package"
	done
	export DKM_HOOK_ROOT=$ROOT
	# shellcheck source=../completion/dkm-hook.bash
	source "$TOP/completion/dkm-hook.bash"
}

# complete <words...>: the last word is the one being completed; sets REPLY to the sorted
# candidates, one per line
complete_words() {
	COMP_WORDS=("$DKM" "$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	# as bash calls it: its status is not looked at (compgen with no match returns 1)
	_dkm_hook || true
	REPLY=$(printf '%s\n' "${COMPREPLY[@]}" | sort)
}

@test "the function is registered for dkm-hook" {
	run complete -p dkm-hook
	[ "$output" = "complete -F _dkm_hook dkm-hook" ]
}

@test "commands: every verb of the verb table, filtered by the prefix" {
	complete_words ""
	[ "$REPLY" = "$("$DKM" --list verbs | cut -f1 | sort)" ]
	[[ "$REPLY" == *export* && "$REPLY" == *import-binary* ]]
	complete_words "in"
	[ "$REPLY" = "$(printf 'initrd-modules\ninstall')" ]
	complete_words "--root" "$ROOT" "keyg"
	[ "$REPLY" = keygen ]
}

@test "packages: the registered pkg/ver from the state tree, under --root or DKM_HOOK_ROOT" {
	complete_words install ""
	[ "$REPLY" = "$(printf 'alpha/1.0\nalpha/2.0\nbeta-dkms/0.3')" ]
	complete_words remove al
	[ "$REPLY" = "$(printf 'alpha/1.0\nalpha/2.0')" ]
	complete_words status ""
	[[ "$REPLY" == *beta-dkms/0.3* ]]
	# --root on the command line wins over the environment
	other=$BATS_TEST_TMPDIR/other
	mkdir -p "$other/var/lib/dkm-hook/packages/gamma/9"
	printf 'name=gamma\nversion=9\nsource=/usr/src/g\nmodules=g\n' > "$other/var/lib/dkm-hook/packages/gamma/9/package"
	complete_words --root "$other" uninstall ""
	[ "$REPLY" = gamma/9 ]
	# a package is asked for once: the next positional of install is nothing
	complete_words install alpha/1.0 ""
	[ -z "$REPLY" ]
}

@test "kernels: the directories under <root>/lib/modules, after -k and where the synopsis says <kver>" {
	complete_words install alpha/1.0 -k ""
	[ "$REPLY" = "$(printf '6.1.0-90-amd64\n6.2.0-1-amd64')" ]
	complete_words build alpha/1.0 --kernel 6.2
	[ "$REPLY" = 6.2.0-1-amd64 ]
	complete_words rebuild ""
	[ "$REPLY" = "$(printf '6.1.0-90-amd64\n6.2.0-1-amd64')" ]
	complete_words kernel-remove 6.1
	[ "$REPLY" = 6.1.0-90-amd64 ]
	complete_words --root "$BATS_TEST_TMPDIR/nowhere" rebuild ""
	[ -z "$REPLY" ]
}

@test "options: all of --help's without a command; the command's own (and the general ones) after it" {
	complete_words --
	[[ "$REPLY" == *--root* && "$REPLY" == *--no-initrd* && "$REPLY" == *--format* ]]
	[ "$(grep -c -- '^--help$' <<<"$REPLY")" -eq 1 ]
	complete_words remove alpha/1.0 --
	[ "$REPLY" = "$(printf -- '--all\n--help\n--root\n--verbose')" ]
	complete_words export alpha/1.0 -
	[ "$REPLY" = "$(printf -- '--format\n--help\n--root\n--verbose\n-h\n-k\n-o\n-v')" ]
	complete_words verify x.ko --c
	[ "$REPLY" = --cert ]
}

@test "option arguments: --format, --root, -o, --cert, --arch" {
	complete_words export alpha/1.0 -k 6.1.0-90-amd64 --format ""
	[ "$REPLY" = "$(printf 'deb\ntar')" ]
	mkdir -p "$BATS_TEST_TMPDIR/dirs/sub" && touch "$BATS_TEST_TMPDIR/dirs/file"
	complete_words --root "$BATS_TEST_TMPDIR/dirs/"
	[ "$REPLY" = "$BATS_TEST_TMPDIR/dirs/sub" ]
	complete_words export alpha/1.0 -o "$BATS_TEST_TMPDIR/dirs/f"
	[ "$REPLY" = "$BATS_TEST_TMPDIR/dirs/file" ]
	complete_words -a ""
	[ "$REPLY" = "$(uname -m)" ]
}

@test "files: verify and import-binary complete file names" {
	touch "$BATS_TEST_TMPDIR/m.tar" "$BATS_TEST_TMPDIR/mod.ko.xz"
	complete_words import-binary "$BATS_TEST_TMPDIR/m."
	[ "$REPLY" = "$BATS_TEST_TMPDIR/m.tar" ]
	complete_words verify "$BATS_TEST_TMPDIR/mod"
	[ "$REPLY" = "$BATS_TEST_TMPDIR/mod.ko.xz" ]
}

@test "zsh completion: valid zsh, and it loads as a completion function" {
	command -v zsh >/dev/null || skip "zsh is not installed (optional: apt-get install zsh)"
	zsh -n "$TOP/completion/_dkm-hook"
	run zsh -f -c "fpath=($TOP/completion \$fpath); autoload -Uz compinit && compinit -u -d $BATS_TEST_TMPDIR/zcd; print -r -- \${_comps[dkm-hook]}"
	[ "$status" -eq 0 ]
	[ "$output" = "_dkm-hook" ]
}

@test "zsh completion in an interactive zsh (zpty): command, package, kernel, option" {
	command -v zsh >/dev/null || skip "zsh is not installed (optional: apt-get install zsh)"
	bin=$(dirname "$DKM")
	cat > "$BATS_TEST_TMPDIR/drive.zsh" <<-EOF
		zmodload zsh/zpty
		zpty -b z zsh -f -i
		zpty -w z "PS1='> '; fpath=($TOP/completion \\\$fpath); autoload -Uz compinit; compinit -u -d $BATS_TEST_TMPDIR/zcd"
		zpty -w z 'path=($bin \$path); export DKM_HOOK_ROOT=$ROOT'
		all=
		# each key once what it completes has appeared (not after a fixed sleep: a loaded
		# machine may take seconds), at most 30 s each
		for keys want in \$'dkm-hook exp\t' export \$'be\t' beta-dkms/0.3 \$'-k 6.2\t' 6.2.0-1-amd64 \$'--fo\t' --format; do
			zpty -w -n z "\$keys"
			integer deadline=\$(( SECONDS + 30 ))
			while [[ \$all != *\$want* ]] && (( SECONDS < deadline )); do
				if zpty -rt z chunk; then all+=\$chunk; else sleep 0.05; fi
			done
		done
		zpty -w -n z \$'\x15'
		sleep 0.2
		while zpty -rt z chunk; do all+=\$chunk; done
		print -r -- "\$all"
		zpty -d z
	EOF
	run zsh -f "$BATS_TEST_TMPDIR/drive.zsh"
	# the terminal's view, without escape sequences, backspaces and bells
	line=$(sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' <<<"$output" | tr '\r' '\n' | tr -d '\000-\011\013-\037')
	grep -aqE 'dkm-hook export +beta-dkms/0\.3 +-k 6\.2\.0-1-amd64 +--format' <<<"$line" ||
		{ echo "$line" | tail -5 >&2; return 1; }
}

# ---- hostile names: candidates are words, never shell code ----

# a dkm-hook whose --list packages prints what a hostile (or pre-name-rule) registration could
# hold; everything else is the real program
hostile_prog() {
	local bin=$BATS_TEST_TMPDIR/hostile-bin
	mkdir -p "$bin"
	cat >"$bin/dkm-hook" <<-EOS
		#!/bin/bash
		if [[ " \$* " == *" --list packages "* ]]; then
			printf '%s\n' 'x\$(touch\${IFS}PWNED)/1' 'y\`touch\${IFS}PWNED2\`/1' '*/1' 'z;touch\${IFS}PWNED3/1'
			exit 0
		fi
		exec "$DKM" "\$@"
	EOS
	chmod +x "$bin/dkm-hook"
	HOSTILE=$bin/dkm-hook
}

@test "bash: a package name holding \$(...), backquotes or a glob is offered as it is and never run" {
	hostile_prog
	mkdir -p "$BATS_TEST_TMPDIR/cwd" && cd "$BATS_TEST_TMPDIR/cwd"
	touch a-file-a-glob-would-find
	# kernels too: a directory under <root>/lib/modules named like shell code
	mkdir -p "$ROOT/lib/modules/6.9\$(touch\${IFS}PWNED4)"
	COMP_WORDS=("$HOSTILE" status "")
	COMP_CWORD=2
	COMPREPLY=()
	_dkm_hook || true
	REPLY=$(printf '%s\n' "${COMPREPLY[@]}" | sort)
	[ "$REPLY" = "$(printf '%s\n' '*/1' 'x$(touch${IFS}PWNED)/1' 'y`touch${IFS}PWNED2`/1' 'z;touch${IFS}PWNED3/1' | sort)" ]
	COMP_WORDS=("$HOSTILE" status 'x$')
	COMPREPLY=()
	_dkm_hook || true
	[ "${COMPREPLY[*]}" = 'x$(touch${IFS}PWNED)/1' ]
	complete_words rebuild 6.9
	[ "$REPLY" = '6.9$(touch${IFS}PWNED4)' ]
	complete_words install alpha/1.0 -k 6.9
	[ "$REPLY" = '6.9$(touch${IFS}PWNED4)' ]
	[ -z "$(ls "$BATS_TEST_TMPDIR/cwd" | grep PWNED)" ]
	[ -z "$(find "$BATS_TEST_TMPDIR" "$TOP" -name 'PWNED*' | grep -v '/lib/modules/')" ]
}

@test "--list packages offers only registrations whose names follow the name rule" {
	for pv in 'x$(touch${IFS}PWNED)/1' 'gamma/1;id' '-rf/1'; do
		d=$ROOT/var/lib/dkm-hook/packages/$pv
		mkdir -p "$d"
		printf 'name=%s\nversion=%s\nsource=/usr/src/x\nmodules=m\n' "${pv%/*}" "${pv#*/}" > "$d/package"
	done
	run "$DKM" --list packages
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'alpha/1.0\nalpha/2.0\nbeta-dkms/0.3')" ]
}

@test "zsh: a package name holding \$(...) is inserted quoted and never run" {
	command -v zsh >/dev/null || skip "zsh is not installed (optional: apt-get install zsh)"
	hostile_prog
	mkdir -p "$BATS_TEST_TMPDIR/cwd"
	cat > "$BATS_TEST_TMPDIR/drive.zsh" <<-EOF
		zmodload zsh/zpty
		zpty -b z zsh -f -i
		zpty -w z "cd $BATS_TEST_TMPDIR/cwd; PS1='> '; fpath=($TOP/completion \\\$fpath); autoload -Uz compinit; compinit -u -d $BATS_TEST_TMPDIR/zcd"
		zpty -w z 'path=($(dirname "$HOSTILE") \$path); export DKM_HOOK_ROOT=$ROOT'
		all=
		for keys want in \$'dkm-hook status x\t' 'PWNED'; do
			zpty -w -n z "\$keys"
			integer deadline=\$(( SECONDS + 30 ))
			while [[ \$all != *\$want* ]] && (( SECONDS < deadline )); do
				if zpty -rt z chunk; then all+=\$chunk; else sleep 0.05; fi
			done
		done
		zpty -w -n z \$'\x15'
		sleep 0.2
		while zpty -rt z chunk; do all+=\$chunk; done
		print -r -- "\$all"
		zpty -d z
	EOF
	run zsh -f "$BATS_TEST_TMPDIR/drive.zsh"
	line=$(sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' <<<"$output" | tr '\r' '\n' | tr -d '\000-\011\013-\037')
	# inserted with its special characters quoted: a word, not a command substitution
	grep -aqF 'dkm-hook status x\$\(touch\$\{IFS\}PWNED\)/1' <<<"$line" ||
		{ echo "$line" | tail -5 >&2; return 1; }
	[ -z "$(find "$BATS_TEST_TMPDIR" -name 'PWNED*')" ]
}
