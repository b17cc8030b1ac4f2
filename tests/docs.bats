#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The man pages (generated from docs/man/*.md next to the binary under test) say what the
# program does: every command's synopsis is its --help synopsis, every option --help lists is
# documented, every dkm-hook.conf key and dkms.conf directive the code accepts has an entry
# (and nothing stale has one), every exit code is explained, and man renders them cleanly.

load lib/common

ITEMS="python3 $BATS_TEST_DIRNAME/lib/man-items.py"

setup() {
	MAN=$(dirname "$DKM")/man
	for p in dkm-hook.8 dkm-hook.conf.5 dkm-hook-dkms.conf.5; do
		[ -f "$MAN/$p" ] || { echo "'$MAN/$p' was not built: run make" >&2; return 1; }
	done
}

# the lines only in $1 / only in $2 (sorted), printed for the log; fails when any differ
same_set() {
	local a=$BATS_TEST_TMPDIR/a b=$BATS_TEST_TMPDIR/b
	sort -u <<<"$1" > "$a"
	sort -u <<<"$2" > "$b"
	if ! cmp -s "$a" "$b"; then
		echo "only in the program:" >&2
		comm -23 "$a" "$b" >&2
		echo "only in the man page:" >&2
		comm -13 "$a" "$b" >&2
		return 1
	fi
}

@test "dkm-hook(8): each command's synopsis is the one '<command> --help' prints, and there is no other" {
	local verbs help man=
	verbs=$("$DKM" --list verbs | cut -f1)
	[ "$(wc -l <<<"$verbs")" -ge 15 ]
	help=$(for v in $verbs; do
		"$DKM" "$v" --help | sed -n 's/^Usage: dkm-hook \[--root DIR\] \[-v\] //p'
	done)
	[ "$(wc -l <<<"$help")" -eq "$(wc -l <<<"$verbs")" ]
	same_set "$help" "$($ITEMS "$MAN/dkm-hook.8" COMMANDS ss)"
}

@test "dkm-hook(8): every option --help shows (and every option the parser takes) is documented" {
	local help_opts man_opts src_opts
	# the option column of --help's Options, and the options in the commands' synopses
	help_opts=$( { "$DKM" --help | sed -n '/^Options:/,/^$/p' | sed -E 's/^ +//; s/ {2,}.*//'
		"$DKM" --list verbs | cut -f2; } | grep -oE -- '(^|[ ,[(|])--?[a-z][a-z-]*' | tr -d ' ,[(|' | sort -u)
	man_opts=$($ITEMS "$MAN/dkm-hook.8" OPTIONS tp | grep -oE -- '(^|[ ,])--?[a-z][a-z-]*' | tr -d ' ,' | sort -u)
	same_set "$help_opts" "$man_opts"
	# the long options of bin/dkm-hook/main.c's getopt table, but the hidden --list
	src_opts=$(sed -n '/struct option longopts/,/^\t};/p' "$TOP/bin/dkm-hook/main.c" |
		grep -oE '\{ "[a-z-]+"' | sed -E 's/\{ "/--/; s/"//' | grep -vx -- --list | sort -u)
	[ -n "$src_opts" ]
	same_set "$src_opts" "$(grep -- '^--' <<<"$help_opts")"
}

@test "dkm-hook.conf(5): every key lib/ctx.c accepts has an entry, and only those" {
	local keys
	keys=$("$DKM" --list config-keys)
	[ "$(wc -l <<<"$keys")" -ge 17 ]
	same_set "$keys" "$($ITEMS "$MAN/dkm-hook.conf.5" KEYS tp)"
	# keys parsed by hand in config_set() are in the list too
	for k in $(grep -oE 'streq\(key, "[a-z_]+"\)' "$TOP/lib/ctx.c" | sed -E 's/.*"(.*)".*/\1/' | sort -u); do
		grep -qx "$k" <<<"$keys" || { echo "config_set() parses '$k' but --list config-keys lacks it" >&2; return 1; }
	done
	# and the program really accepts each one the page documents (a bad value is refused by name)
	root=$BATS_TEST_TMPDIR/root
	mkdir -p "$root/etc/dkm-hook"
	echo 'no_such_key=1' > "$root/etc/dkm-hook/dkm-hook.conf"
	run "$DKM" --root "$root" status
	[ "$status" -eq 5 ]
	[[ "$output" == *"unknown key 'no_such_key'"* ]]
	for k in $keys; do
		echo "$k=/" > "$root/etc/dkm-hook/dkm-hook.conf"
		run "$DKM" --root "$root" status
		[[ "$output" != *"unknown key"* ]] || { echo "$k: $output" >&2; return 1; }
	done
}

@test "dkm-hook-dkms.conf(5): every directive the reader knows has an entry, and only those" {
	local dirs man
	dirs=$("$DKM" --list dkms-conf-directives)
	[ "$(wc -l <<<"$dirs")" -ge 28 ]
	# entries are "NAME", "NAME[i]" or "A, B": one directive per name
	man=$($ITEMS "$MAN/dkm-hook-dkms.conf.5" DIRECTIVES tp | tr ',' '\n' | sed -E 's/\[.*//; s/^ +//; s/ +$//')
	same_set "$dirs" "$man"
}

@test "dkm-hook(8): every exit code of bin/dkm-hook/exit-code.h is explained" {
	local codes
	codes=$(sed -n 's/^\tDKM_EXIT_[A-Z]* = \([0-9]*\),.*/\1/p' "$TOP/bin/dkm-hook/exit-code.h")
	[ "$(wc -l <<<"$codes")" -ge 7 ]
	same_set "$codes" "$($ITEMS "$MAN/dkm-hook.8" "EXIT STATUS" tp)"
}

@test "man renders every page without a warning, and the pages name each other" {
	command -v man >/dev/null || skip "man-db is not installed (optional: apt-get install man-db)"
	for p in "$MAN"/*.[0-9]; do
		run bash -c 'MANWIDTH=80 man --warnings -l "$1" 2>&1 >/dev/null' _ "$p"
		[ -z "$output" ] || { echo "$p: $output" >&2; return 1; }
		MANWIDTH=80 man -l "$p" 2>/dev/null | grep -q "^SEE ALSO"
	done
	MANWIDTH=80 man -l "$MAN/dkm-hook.8" 2>/dev/null | grep -q 'dkm-hook.conf(5), dkm-hook-dkms.conf(5)'
	# a hyphen in a command or option is a minus (copy-pasteable), not a typographic hyphen
	# (man renders U+2010 only in a UTF-8 locale: ask for one, else this checks nothing)
	if LANG=C.UTF-8 LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$MAN/dkm-hook.8" 2>/dev/null |
		grep -q $'\u2010'; then false; fi
}

@test "md2man refuses what it cannot render faithfully" {
	local md=$BATS_TEST_TMPDIR/x.1.md out=$BATS_TEST_TMPDIR/x.1
	printf -- '---\nname: x\nsection: 1\ndescription: d\n---\n# A\n\nan `unbalanced quote\n' > "$md"
	run python3 "$TOP/docs/man/md2man.py" "$md" "$out"
	[ "$status" -eq 1 ]
	[[ "$output" == *"unbalanced backquote"* ]]
	printf -- '---\nname: x\nsection: 1\ndescription: d\n---\n# A\n\ncaf\xc3\xa9\n' > "$md"
	run python3 "$TOP/docs/man/md2man.py" "$md" "$out"
	[ "$status" -eq 1 ]
	[[ "$output" == *"non-ASCII"* ]]
	# a line starting with a dot is text, not a request; options keep their minus signs
	printf -- '---\nname: x\nsection: 1\ndescription: d\n---\n# A\n\n.config and `a-b`\n' > "$md"
	run python3 "$TOP/docs/man/md2man.py" "$md" "$out"
	[ "$status" -eq 0 ]
	grep -qxF '\&.config and \fBa\-b\fR' "$out"
}
