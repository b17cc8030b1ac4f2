#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The habits the machine keeps: every shell script we install passes shellcheck, and every C
# file is formatted as .clang-format says (Debian 12's clang-format 14; another major version
# formats differently, so the check needs that one). `make lint` runs both by hand.

load lib/common

setup_file() {
	unset MAKEFLAGS MFLAGS MAKELEVEL
}

@test "every installed shell script is in the Makefile's list that shellcheck reads" {
	D=$BATS_TEST_TMPDIR/dest
	# the build make check made (nothing to compile again), installed into a scratch dir
	make -s -C "$TOP" DESTDIR="$D" install >/dev/null
	listed=$(make -s -C "$TOP" list-installed-scripts)
	# a script installed by the Debian packages beyond `make install`
	for f in $(find "$D" -type f | sort); do
		head -c 64 "$f" | grep -qE '^#! ?/bin/(ba|da)?sh' || continue
		src=
		for l in $listed; do
			cmp -s "$TOP/$l" "$f" && src=$l && break
		done
		[ -n "$src" ] || { echo "installed shell script not checked by shellcheck: ${f#"$D"}"; false; }
	done
	# the bash completion has no #! line; it is listed too
	grep -qx completion/dkm-hook.bash <<<"$listed"
}

@test "shellcheck: every installed shell script is clean" {
	command -v shellcheck >/dev/null || skip "shellcheck is not installed (tests/deps check installs it)"
	run make -s -C "$TOP" lint-sh
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "clang-format: every C file is formatted as .clang-format says" {
	command -v clang-format >/dev/null || skip "clang-format is not installed (tests/deps check installs it)"
	v=$(clang-format --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
	[ "$v" = 14 ] || skip "clang-format $v: the tree is formatted with Debian 12's clang-format 14, other versions format differently"
	run make -s -C "$TOP" lint-c
	echo "$output" | head -40
	[ "$status" -eq 0 ]
}
