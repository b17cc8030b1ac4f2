#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# Correctness of the fast paths (not timings): one job budget shared by every make
# through our jobserver, BUILD_DEPENDS order under the scheduler, one depmod per kernel, a build
# cache that rebuilds exactly when an input changed (the compiler cache: tests/cc-cache.bats).

load lib/common
load lib/gen-pkg

setup() {
	require_headers
	make_root
	BIN=$BATS_TEST_TMPDIR/bin
	mkdir -p "$BIN"
	HEADERS=$(readlink -f "/lib/modules/$KVER/build")
	STATE=$ROOT/var/lib/dkm-hook
}

# The kernel's own compiler (CONFIG_CC_VERSION_TEXT, e.g. gcc-12), wrapped first on PATH: each
# call writes "dkm-perf-cc <start ns> <end ns>" to its stderr, which make sends to the build
# log (the only place a sandboxed build may write that outlives it).
wrap_compiler() {
	local cc real
	cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' "$HEADERS/.config")
	real=$(command -v "$cc")
	cat > "$BIN/$cc" <<-EOF
		#!/bin/bash
		s=\$(date +%s%N)
		"$real" "\$@"
		rc=\$?
		echo "dkm-perf-cc \$s \$(date +%s%N)" >&2
		exit \$rc
	EOF
	chmod 755 "$BIN/$cc"
}

# depmod first on PATH: logs its kernel argument, then runs the real one
wrap_depmod() {
	local real
	real=$(PATH=/usr/sbin:/sbin:$PATH command -v depmod)
	cat > "$BIN/depmod" <<-EOF
		#!/bin/bash
		echo "\${@: -1}" >> "$BATS_TEST_TMPDIR/depmod.calls"
		date +%s%N > "$BATS_TEST_TMPDIR/depmod.last"
		exec "$real" "\$@"
	EOF
	chmod 755 "$BIN/depmod"
	: > "$BATS_TEST_TMPDIR/depmod.calls"
}

logs() { # the build logs of every package
	find "$STATE/packages" -name build.log | sort
}

build_log() { # build_log <package> [<kernel>]: the build log of <package>/1.0 for it (or $KVER)
	echo "$STATE/packages/$1/1.0/kernels/${2:-$KVER}/$(uname -m)/build.log"
}

# first_cc <log>, last_cc <log>: when the first compile in the log started, the last one ended
first_cc() {
	awk '$1 == "dkm-perf-cc" { print $2 }' "$1" | sort -n | head -1
}

last_cc() {
	awk '$1 == "dkm-perf-cc" { print $3 }' "$1" | sort -n | tail -1
}

# the largest number of [start, end] intervals open at one time, read from the logs given
max_overlap() {
	cat "$@" | awk '$1 == "dkm-perf-cc" { print $2, 1; print $3, -1 }' |
		sort -k1,1n -k2,2n | awk '{ c += $2; if (c > m) m = c } END { print m + 0 }'
}

# A symlink farm of the real headers in which the files named (relative paths) are real,
# writable copies; prints nothing. Usage: headers_overlay <dir> <file>...
headers_overlay() {
	local dst=$1 f cur i e
	local -a parts
	shift
	mkdir -p "$dst"
	(shopt -s dotglob nullglob; for e in "$HEADERS"/*; do ln -s "$e" "$dst/"; done)
	for f in "$@"; do
		IFS=/ read -ra parts <<<"$f"
		cur=
		for ((i = 0; i < ${#parts[@]} - 1; i++)); do
			cur=${cur:+$cur/}${parts[i]}
			if [ -L "$dst/$cur" ]; then
				rm "$dst/$cur"
				mkdir "$dst/$cur"
				(shopt -s dotglob nullglob; for e in "$HEADERS/$cur"/*; do ln -s "$e" "$dst/$cur/"; done)
			fi
		done
		rm -f "$dst/$f"
		cp "$HEADERS/$f" "$dst/$f"
	done
}

# A second kernel in the root, <name>, whose headers are the real ones under another release
# name (its modules carry vermagic <name>)
fake_kernel() {
	local name=$1 h=$BATS_TEST_TMPDIR/headers-$1
	headers_overlay "$h" Makefile include/generated/utsrelease.h include/config/kernel.release
	sed -i "s/^override KERNELRELEASE = .*/override KERNELRELEASE = $name/" "$h/Makefile"
	echo "#define UTS_RELEASE \"$name\"" > "$h/include/generated/utsrelease.h"
	echo "$name" > "$h/include/config/kernel.release"
	mkdir -p "$ROOT/lib/modules/$name"
	ln -sfn "$h" "$ROOT/lib/modules/$name/build"
}

@test "-j 2 for 4 packages: never more than 2 compiles at once, more than 1 does happen, every make joined our jobserver, one depmod" {
	wrap_compiler
	wrap_depmod
	for p in para parb parc pard; do
		"$DKM" add "$(gen_pkg "$p" 5)"
	done
	PATH=$BIN:$PATH run "$DKM" -j 2 rebuild "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"4 built and installed"* ]]
	[ "$(logs | wc -l)" -eq 4 ]
	# the wrapper really ran (the logs carry its lines), and the budget held
	[ "$(cat $(logs) | grep -c '^dkm-perf-cc ')" -ge 20 ]
	run max_overlap $(logs)
	[ "$output" -le 2 ]
	[ "$output" -gt 1 ]
	# the makes joined our jobserver: no make fell back to -j1 or started its own
	if grep -i -E 'jobserver unavailable|forced in submake|jobserver' $(logs); then false; fi
	for l in $(logs); do
		grep -q "^\$ .*make KERNELRELEASE=$KVER " "$l"
		if grep -q -- "make -j" "$l"; then false; fi
	done
	# install, depmod: once for the kernel, after all of them
	[ "$(cat "$BATS_TEST_TMPDIR/depmod.calls")" = "$KVER" ]
	for ko in "$ROOT/lib/modules/$KVER"/extra/par?.ko; do
		[ "$(stat -c %.9Y "$ko" | tr -d .)" -lt "$(cat "$BATS_TEST_TMPDIR/depmod.last")" ]
	done
}

@test "one package at -j 2 compiles 2 files at once (its make takes tokens from our pipe); -j 1 compiles one at a time" {
	wrap_compiler
	# every compile must run: no compiler cache serving the second build
	mkdir -p "$ROOT/etc/dkm-hook"
	echo "cc_launcher=" > "$ROOT/etc/dkm-hook/dkm-hook.conf"
	"$DKM" add "$(gen_pkg solo 6)"
	PATH=$BIN:$PATH run "$DKM" -j 2 install solo/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	run max_overlap $(logs)
	[ "$output" -eq 2 ]
	PATH=$BIN:$PATH run "$DKM" -j 1 install solo/1.0 -k "$KVER" --force
	[ "$status" -eq 0 ]
	run max_overlap $(logs)
	[ "$output" -eq 1 ]
	if grep -i 'jobserver' $(logs); then false; fi
}

@test "install -k K1 -k K2: both builds run together within the budget, one depmod per kernel" {
	wrap_compiler
	wrap_depmod
	fake_kernel "$KVER-perf2"
	"$DKM" add "$(gen_pkg twok 4)"
	PATH=$BIN:$PATH run "$DKM" -j 2 install twok/1.0 -k "$KVER" -k "$KVER-perf2"
	[ "$status" -eq 0 ]
	[ "$(sort "$BATS_TEST_TMPDIR/depmod.calls")" = "$(printf '%s\n' "$KVER" "$KVER-perf2" | sort)" ]
	l1=$(build_log twok)
	l2=$(build_log twok "$KVER-perf2")
	[ "$(first_cc "$l2")" -lt "$(last_cc "$l1")" ]
	[ "$(first_cc "$l1")" -lt "$(last_cc "$l2")" ]
	run max_overlap "$l1" "$l2"
	[ "$output" -le 2 ]
	run modinfo -b "$ROOT" -k "$KVER-perf2" -F vermagic twok
	[[ "$output" == "$KVER-perf2 "* ]]
	run modinfo_field twok vermagic
	[[ "$output" == "$KVER "* ]]
}

@test "rebuild --all-kernels (and rebuild K1 K2 K3): three kernels' builds run together within the budget, one depmod and one notice per kernel" {
	wrap_compiler
	wrap_depmod
	fake_kernel "$KVER-perf2"
	fake_kernel "$KVER-perf3"
	mkdir -p "$ROOT/lib/modules/$KVER-noheaders" # a kernel without headers is not a target
	"$DKM" add "$(gen_pkg threek 3)"
	"$DKM" add "$(gen_pkg threel 3)"
	PATH=$BIN:$PATH run "$DKM" -j 2 rebuild --all-kernels --no-initrd
	[ "$status" -eq 0 ]
	out=$output
	[[ "$out" != *noheaders* ]]
	for k in "$KVER" "$KVER-perf2" "$KVER-perf3"; do
		[[ "$out" == *"$k: 2 built and installed, 0 up to date, 0 failed"* ]]
		run modinfo -b "$ROOT" -k "$k" -F vermagic threek
		[[ "$output" == "$k "* ]]
	done
	[ "$(sort "$BATS_TEST_TMPDIR/depmod.calls")" = "$(printf '%s\n' "$KVER" "$KVER-perf2" "$KVER-perf3" | sort)" ]
	# one schedule: the builds for different kernels overlap, and the budget holds
	run max_overlap $(logs)
	[ "$output" -le 2 ]
	[ "$output" -gt 1 ]
	l1=$(build_log threek)
	l3=$(build_log threel "$KVER-perf3")
	[ "$(first_cc "$l3")" -lt "$(last_cc "$l1")" ] || [ "$(first_cc "$l1")" -lt "$(last_cc "$l3")" ]

	# named kernels: nothing changed for them, nothing is done
	: > "$BATS_TEST_TMPDIR/depmod.calls"
	PATH=$BIN:$PATH run "$DKM" -j 2 rebuild "$KVER-perf2" "$KVER-perf3" --no-initrd
	[ "$status" -eq 0 ]
	[[ "$output" == *"$KVER-perf2: nothing to do (2 packages up to date)"* ]]
	[[ "$output" == *"$KVER-perf3: nothing to do (2 packages up to date)"* ]]
	[ ! -s "$BATS_TEST_TMPDIR/depmod.calls" ]

	run "$DKM" rebuild "$KVER" --all-kernels
	[ "$status" -eq 2 ]
	[[ "$output" == *"name kernels or give --all-kernels, not both"* ]]

	# install --all-kernels: every kernel with headers
	"$DKM" add "$(gen_pkg threem 2)"
	: > "$BATS_TEST_TMPDIR/depmod.calls"
	run "$DKM" -j 2 install threem/1.0 --all-kernels --no-initrd
	[ "$status" -eq 0 ]
	for k in "$KVER" "$KVER-perf2" "$KVER-perf3"; do
		run modinfo -b "$ROOT" -k "$k" -F vermagic threem
		[[ "$output" == "$k "* ]]
	done
	[ ! -e "$ROOT/lib/modules/$KVER-noheaders/updates" ] && [ ! -e "$ROOT/lib/modules/$KVER-noheaders/extra" ]
}

@test "BUILD_DEPENDS under the scheduler: the dependant starts after its dependency is installed, others do not wait" {
	wrap_compiler
	"$DKM" add "$(fixture dep-user)"
	"$DKM" add "$(fixture dep-base)"
	"$DKM" add "$(gen_pkg other 4)"
	PATH=$BIN:$PATH run "$DKM" -j 2 rebuild "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"3 built and installed"* ]]
	user_first=$(first_cc "$(build_log dep-user)")
	base_last=$(last_cc "$(build_log dep-base)")
	# dep-user's first compiler call comes after dep-base's last one and after its install
	[ "$user_first" -gt "$base_last" ]
	[ "$(stat -c %.9Y "$ROOT/lib/modules/$KVER/extra/dep_base.ko" | tr -d .)" -lt "$user_first" ]
	# the independent package ran alongside dep-base: the scheduler only held back dep-user
	[ "$(first_cc "$(build_log other)")" -lt "$base_last" ]
}

@test "build cache: rebuilt exactly when sources, dkms.conf, signing key, .config or Module.symvers change, or with --force" {
	a=$(gen_pkg cachea 1)
	b=$(gen_pkg cacheb 1)
	"$DKM" add "$a"
	"$DKM" add "$b"
	run "$DKM" rebuild "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"2 built and installed"* ]]
	alog=$(build_log cachea)
	blog=$(build_log cacheb)
	sums() { sha256sum "$alog" "$blog" | cut -c1-64 | tr '\n' ' '; }
	unchanged() { # the command ran, nothing was built, no log changed
		[ "$status" -eq 0 ]
		[[ "$output" == *"nothing to do (2 packages up to date)"* ]]
		[[ "$output" != *"building"* ]]
		[ "$(sums)" = "$before" ]
	}
	rebuilt() { # rebuilt() <n>: n packages rebuilt
		[ "$status" -eq 0 ]
		[[ "$output" == *"$1 built and installed, $((2 - $1)) up to date"* ]]
	}

	# nothing changed
	before=$(sums)
	run "$DKM" rebuild "$KVER"
	unchanged
	# a touch without a change is no change (content, not mtimes)
	touch "$ROOT/usr/src/cachea-1.0/f1.c"
	run "$DKM" rebuild "$KVER"
	unchanged

	# a source file changes: that package only
	bsum=$(sha256sum < "$blog")
	echo 'int cachea_extra(void); int cachea_extra(void) { return 7; }' >> "$ROOT/usr/src/cachea-1.0/f1.c"
	run "$DKM" rebuild "$KVER"
	rebuilt 1
	[[ "$output" == *"cachea/1.0: building"* ]]
	[[ "$output" != *"cacheb/1.0: building"* ]]
	[ "$(sha256sum < "$blog")" = "$bsum" ]
	before=$(sums)
	run "$DKM" rebuild "$KVER"
	unchanged

	# dkms.conf changes
	echo 'STRIP[0]="no"' >> "$ROOT/usr/src/cacheb-1.0/dkms.conf"
	run "$DKM" rebuild "$KVER"
	rebuilt 1
	[[ "$output" == *"cacheb/1.0: building"* ]]

	# a new signing key pair: every signed module is rebuilt, and carries the new key
	openssl req -new -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=dkm-hook perf second key/" \
		-addext "extendedKeyUsage=codeSigning" -outform DER \
		-keyout "$STATE/mok.key" -out "$STATE/mok.der" 2>/dev/null
	run "$DKM" rebuild "$KVER"
	rebuilt 2
	run modinfo_field cachea signer
	[ "$output" = "dkm-hook perf second key" ]
	before=$(sums)
	run "$DKM" rebuild "$KVER"
	unchanged

	# the kernel's .config changes (headers reinstalled with another configuration)
	headers_overlay "$BATS_TEST_TMPDIR/h-config" .config
	echo '# changed by the perf test' >> "$BATS_TEST_TMPDIR/h-config/.config"
	ln -sfn "$BATS_TEST_TMPDIR/h-config" "$ROOT/lib/modules/$KVER/build"
	run "$DKM" rebuild "$KVER"
	rebuilt 2
	before=$(sums)
	run "$DKM" rebuild "$KVER"
	unchanged

	# Module.symvers changes (an ABI change under the same release name)
	headers_overlay "$BATS_TEST_TMPDIR/h-symvers" Module.symvers
	printf '0x12345678\tdkm_perf_test_symbol\tvmlinux\tEXPORT_SYMBOL\t\n' >> "$BATS_TEST_TMPDIR/h-symvers/Module.symvers"
	ln -sfn "$BATS_TEST_TMPDIR/h-symvers" "$ROOT/lib/modules/$KVER/build"
	run "$DKM" rebuild "$KVER"
	rebuilt 2
	before=$(sums)
	run "$DKM" rebuild "$KVER"
	unchanged

	# --force rebuilds whatever the cache says
	run "$DKM" rebuild "$KVER" --force
	rebuilt 2
}
