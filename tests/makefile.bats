#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README's first commands on a fresh machine, where the -dev packages are not installed yet:
# the real Makefile and tests/deps, with stand-ins on PATH for what a fresh machine lacks —
# dpkg-query says libblkid-dev is not installed until the stand-in apt-get "installs" it, and
# pkg-config does not find blkid until then; the compiler is a stand-in that records its
# arguments and stops the build. The build dir is the test's own; nothing is installed.

load lib/common

setup() {
	T=$BATS_TEST_TMPDIR
	BIN=$T/bin
	LOG=$T/order.log
	mkdir -p "$BIN"
	: >"$LOG"
	# an outer make (make check) must not pass its flags and variables to ours
	unset MAKEFLAGS MFLAGS MAKELEVEL B CC PKG_CONFIG WERROR SANITIZE
	# libblkid-dev: "installed" once $T/installed exists; every other package as on the host
	cat >"$BIN/dpkg-query" <<-EOF
		#!/bin/sh
		for a; do
			if [ "\$a" = libblkid-dev ] && [ ! -e "$T/installed" ]; then
				exit 1
			fi
		done
		exec /usr/bin/dpkg-query "\$@"
	EOF
	cat >"$BIN/apt-get" <<-EOF
		#!/bin/sh
		echo "apt-get \$*" >>"$LOG"
		[ "\$1" = update ] || touch "$T/installed"
	EOF
	# pkg-config does not know blkid before the install; after it, its flags carry a marker
	cat >"$BIN/pkg-config" <<-EOF
		#!/bin/sh
		echo "pkg-config \$*" >>"$LOG"
		case " \$* " in
		*" blkid "*)
			if [ ! -e "$T/installed" ]; then
				echo "Package blkid was not found in the pkg-config search path." >&2
				exit 1
			fi ;;
		esac
		case " \$* " in
		*" --cflags "*) printf '%s -DBLKID_WAS_INSTALLED\n' "\$(/usr/bin/pkg-config "\$@")" ;;
		*) exec /usr/bin/pkg-config "\$@" ;;
		esac
	EOF
	cat >"$BIN/cc" <<-EOF
		#!/bin/sh
		echo "cc \$*" >>"$LOG"
		exit 1
	EOF
	chmod +x "$BIN"/*
}

# mk ARGS... — the real Makefile, run from the top of the tree, our stand-ins first on PATH
mk() {
	PATH=$BIN:$PATH make -s --no-print-directory -C "$TOP" B="$T/build" CC="$BIN/cc" \
		PKG_CONFIG="$BIN/pkg-config" "$@"
}

as_user() {
	printf '#!/bin/sh\necho 1000\n' >"$BIN/id"
	chmod +x "$BIN/id"
}

as_root() {
	printf '#!/bin/sh\necho 0\n' >"$BIN/id"
	chmod +x "$BIN/id"
}

LINE="dkm-hook: error: missing packages, install them as root: apt-get install -y libblkid-dev"

@test "plain make without a -dev package: one line with the apt-get command, exit non-zero, no compiler run" {
	as_root
	run mk
	echo "$output"
	[ "$status" -ne 0 ]
	[ "${lines[0]}" = "$LINE" ]
	# after our line only make's own "*** [deps-found] Error 1"
	[ "${#lines[@]}" -le 2 ]
	[[ "${lines[1]:-make: *** }" == "make: *** "* ]]
	[[ "$output" != *"blkid.h"* ]]
	! grep -q '^cc ' "$LOG"
	# a plain make installs nothing, even as root
	! grep -q '^apt-get' "$LOG"
	[ ! -e "$T/installed" ]
	[ -z "$(find "$T/build" -name '*.o' 2>/dev/null)" ]
}

@test "plain make with the packages installed but pkg-config not finding them: one line naming what it misses" {
	as_root
	touch "$T/installed"
	printf '#!/bin/sh\nexit 1\n' >"$BIN/pkg-config"
	run mk
	echo "$output"
	[ "$status" -ne 0 ]
	[ "${lines[0]}" = "dkm-hook: error: '$BIN/pkg-config' does not find: libkmod blkid liblzma libzstd zlib libcrypto, although the packages of 'tests/deps build' are installed: check PKG_CONFIG and PKG_CONFIG_PATH" ]
	! grep -q '^cc ' "$LOG"
}

@test "make demo as root on a fresh machine: the packages are installed before pkg-config is asked, the first compile has their flags" {
	as_root
	run mk demo
	echo "$output"
	cat "$LOG"
	# the stand-in compiler stops the build at its first compile
	[ "$status" -ne 0 ]
	[ "$(sed -n 1p "$LOG")" = "apt-get update -q" ]
	[[ "$(sed -n 2p "$LOG")" == "apt-get install -y -q --no-install-recommends "*libblkid-dev* ]]
	# nothing asked pkg-config before the install; the first compile got blkid's flags
	[[ "$(sed -n 3p "$LOG")" == "pkg-config "* ]]
	first_cc=$(grep -m1 '^cc ' "$LOG")
	[[ "$first_cc" == *" -DBLKID_WAS_INSTALLED "* ]]
	[[ "$first_cc" == *" -c -o $T/build/"* ]]
}

@test "make check and make demo as a user without the packages: the one apt-get line, exit non-zero, nothing built" {
	as_user
	for goal in check demo; do
		run mk "$goal"
		echo "$output"
		[ "$status" -ne 0 ]
		[[ "${lines[0]}" == "dkm-hook: error: missing packages, install them as root: apt-get install -y "*libblkid-dev* ]]
		[ "${#lines[@]}" -le 2 ]
		[[ "${lines[1]:-make: *** }" == "make: *** "* ]]
	done
	[ ! -s "$LOG" ]
	[ ! -e "$T/build" ]
}

@test "make -n demo and make -n check: the dependency step comes before any compile" {
	for goal in demo check; do
		run make -n --no-print-directory -C "$TOP" B="$T/build-$goal" "$goal"
		[ "$status" -eq 0 ]
		[ "${lines[0]}" = "tests/deps $goal" ]
		n=$(printf '%s\n' "${lines[@]}" | grep -n -m1 -- ' -c -o ' | cut -d: -f1)
		[ -n "$n" ] && [ "$n" -gt 1 ]
	done
}
