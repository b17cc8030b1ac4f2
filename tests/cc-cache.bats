#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The compiler cache: on by default when ccache is installed, one cache per package (a build can
# neither read nor write another package's), one build at a time per cache, handed to the
# build's uid without a privileged walk a process of that uid could redirect, capped in size,
# removed with the package's last version; and reuse only when ccache's own hash matches.

load lib/common
load lib/gen-pkg

setup() {
	require_headers
	command -v ccache >/dev/null || skip "ccache not installed (optional: apt-get install ccache)"
	make_root
	STATE=$ROOT/var/lib/dkm-hook
	rm "$ROOT/etc/dkm-hook/dkm-hook.conf" # the shipped default (tests/lib/common.bash turns it off)
	HEADERS=$(readlink -f "/lib/modules/$KVER/build")
}

build_log() { # build_log <package> [<version>]
	echo "$STATE/packages/$1/${2:-1.0}/kernels/$KVER/$(uname -m)/build.log"
}

# ccstat <package> <counter>: a counter of the package's cache
ccstat() {
	CCACHE_DIR=$STATE/cc-cache/$1/ccache ccache --print-stats | awk -v k="$2" '$1 == k { print $2 }'
}

hits() { echo $(( $(ccstat "$1" direct_cache_hit) + $(ccstat "$1" preprocessed_cache_hit) )); }

@test "on by default: with ccache installed, builds go through it into the package's own cache; cc_launcher= (empty) turns it off" {
	"$DKM" add "$(gen_pkg cca 3)"
	run "$DKM" build cca/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	grep -q "^\$ .*make KERNELRELEASE=$KVER CC='ccache [^ ]*' \|^\$ .*make -j[0-9]* KERNELRELEASE=$KVER CC='ccache [^ ]*' " "$(build_log cca)"
	[ -d "$STATE/cc-cache/cca/ccache" ]
	[ "$(ccstat cca cache_miss)" -ge 4 ]
	# only root enters the directory that holds the caches' names
	[ "$(stat -c %a "$STATE/cc-cache")" = 711 ]
	[ "$(stat -c %a "$STATE/cc-cache/cca")" = 700 ]

	echo "cc_launcher=" > "$ROOT/etc/dkm-hook/dkm-hook.conf"
	"$DKM" add "$(gen_pkg ccb 3)"
	run "$DKM" build ccb/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	if grep -q "CC=" "$(build_log ccb)"; then false; fi
	[ ! -e "$STATE/cc-cache/ccb" ]
}

@test "two packages built at once, each as its own uid, each into its own cache; a forced rebuild is served from it and gives the same module" {
	"$DKM" add "$(gen_pkg cca 3)"
	"$DKM" add "$(gen_pkg ccb 3)"
	run "$DKM" rebuild "$KVER" -j 2
	[ "$status" -eq 0 ]
	[[ "$output" == *"2 built and installed"* ]]
	[ "$(ccstat cca cache_miss)" -ge 4 ]
	[ "$(ccstat ccb cache_miss)" -ge 4 ]
	# two caches, handed to two different build uids
	[ "$(stat -c %u "$STATE/cc-cache/cca")" != "$(stat -c %u "$STATE/cc-cache/ccb")" ]
	[ "$(stat -c %u "$STATE/cc-cache/cca")" -ne 0 ]
	sum=$(sha256sum < "$ROOT/lib/modules/$KVER/extra/cca.ko"*)
	CCACHE_DIR=$STATE/cc-cache/cca/ccache ccache --zero-stats >/dev/null
	CCACHE_DIR=$STATE/cc-cache/ccb/ccache ccache --zero-stats >/dev/null

	run "$DKM" rebuild "$KVER" -j 2 --force
	[ "$status" -eq 0 ]
	[[ "$output" == *"2 built and installed"* ]]
	# every object (3 files + the .mod.c) came from the cache
	[ "$(hits cca)" -ge 4 ]
	[ "$(hits ccb)" -ge 4 ]
	[ "$(ccstat cca cache_miss)" -eq 0 ]
	[ "$(sha256sum < "$ROOT/lib/modules/$KVER/extra/cca.ko"*)" = "$sum" ]
}

@test "reuse only when ccache's hash matches: a changed kernel configuration or a changed source file recompiles" {
	"$DKM" add "$(gen_pkg cca 3)"
	run "$DKM" build cca/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	CCACHE_DIR=$STATE/cc-cache/cca/ccache ccache --zero-stats >/dev/null

	# one source file changes: that file, and nothing else, is compiled again
	echo "int cca_extra(void); int cca_extra(void) { return 42; }" >> "$ROOT/usr/src/cca-1.0/f2.c"
	run "$DKM" build cca/1.0 -k "$KVER" --force
	[ "$status" -eq 0 ]
	[ "$(ccstat cca cache_miss)" -eq 1 ]
	CCACHE_DIR=$STATE/cc-cache/cca/ccache ccache --zero-stats >/dev/null

	# the kernel's configuration changes in a way the code sees (CONFIG_NR_CPUS sizes the
	# cpumasks of headers every file includes): all again. (A CONFIG_ no code uses changes no
	# preprocessed text, and its objects are rightly the same.)
	h=$BATS_TEST_TMPDIR/headers-changed
	cp -as "$HEADERS" "$h"
	rm "$h/include/generated/autoconf.h"
	sed 's/^#define CONFIG_NR_CPUS .*/#define CONFIG_NR_CPUS 64/' "$HEADERS/include/generated/autoconf.h" > "$h/include/generated/autoconf.h"
	if cmp -s "$h/include/generated/autoconf.h" "$HEADERS/include/generated/autoconf.h"; then false; fi
	chmod o+rx "$h"
	ln -sfn "$h" "$ROOT/lib/modules/$KVER/build"
	run "$DKM" build cca/1.0 -k "$KVER" --force
	[ "$status" -eq 0 ]
	[ "$(ccstat cca cache_miss)" -ge 4 ]
	# (kbuild's compiler probes may hit: what matters is that each of the 4 objects missed)
}

@test "another kernel of the same flavour (same headers, another ABI name and directory) is served from the cache; only the .mod.c, which names the kernel, compiles again" {
	grep -q "^include /.*/Makefile$" "$HEADERS/Makefile" || skip "the headers are not a Debian-style stub (include <srctree>/Makefile)"
	second_kernel "$KVER-cc2"
	"$DKM" add "$(gen_pkg cca 3)"
	run "$DKM" build cca/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	# the kernel's source tree is seen at one fixed place whatever its name
	grep -q "abs_srctree=/run/dkm-hook/kernel/usr/src/common " "$(build_log cca)"
	CCACHE_DIR=$STATE/cc-cache/cca/ccache ccache --zero-stats >/dev/null
	run "$DKM" build cca/1.0 -k "$KVER-cc2"
	[ "$status" -eq 0 ]
	[ "$(hits cca)" -ge 3 ]
	[ "$(ccstat cca cache_miss)" -ge 1 ]
	run modinfo -b "$ROOT" -k "$KVER-cc2" -F vermagic "$STATE/packages/cca/1.0/kernels/$KVER-cc2/$(uname -m)/"*/cca.ko*
	[[ "$output" == "$KVER-cc2 "* ]]
}

@test "a package's build can neither write nor read another package's cache (sandboxed, and with sandbox=off)" {
	for policy in auto off; do
		rm -rf "$STATE" "$ROOT/usr/src"/* "$ROOT/lib/modules/$KVER/extra"
		make_root
		echo "sandbox=$policy" > "$ROOT/etc/dkm-hook/dkm-hook.conf"
		"$DKM" add "$(gen_pkg good 3)"
		run "$DKM" build good/1.0 -k "$KVER"
		[ "$status" -eq 0 ]
		before=$(cd "$STATE/cc-cache/good" && find . -printf '%p %s %u\n' | sort)
		# the hostile package tries the cache's host path, and the fixed place of caches
		evil=$(gen_pkg evil 1)
		cat > "$evil/poison.sh" <<-EOF
			#!/bin/sh
			for d in "$STATE/cc-cache/good/ccache" /run/dkm-hook/cc-cache/../good /run/dkm-hook/root/var/lib/dkm-hook/cc-cache/good/ccache; do
				touch "\$d/poisoned" 2>/dev/null && echo "WROTE \$d"
				ls "\$d" >/dev/null 2>&1 && echo "READ \$d"
			done
			exit 0
		EOF
		chmod 755 "$evil/poison.sh"
		echo 'PRE_BUILD="poison.sh"' >> "$evil/dkms.conf"
		"$DKM" add "$evil"
		run "$DKM" build evil/1.0 -k "$KVER"
		[ "$status" -eq 0 ]
		if grep -E "^(WROTE|READ) " "$(build_log evil)"; then false; fi
		[ -z "$(find "$STATE/cc-cache/good" -name poisoned)" ]
		[ "$(cd "$STATE/cc-cache/good" && find . -printf '%p %s %u\n' | sort)" = "$before" ]
	done
}

@test "the cache survives the removal of another package and of its own older version, goes with its package's last version" {
	"$DKM" add "$(gen_pkg cca 2)"
	"$DKM" add "$(gen_pkg ccb 2)"
	d=$(gen_pkg cca 2)
	cp -a "$d" "$BATS_TEST_TMPDIR/src/cca-2"
	sed -i 's/^PACKAGE_VERSION=.*/PACKAGE_VERSION="2.0"/' "$BATS_TEST_TMPDIR/src/cca-2/dkms.conf"
	"$DKM" add "$BATS_TEST_TMPDIR/src/cca-2"
	run "$DKM" rebuild "$KVER"
	[ "$status" -eq 0 ]
	[ -d "$STATE/cc-cache/cca/ccache" ] && [ -d "$STATE/cc-cache/ccb/ccache" ]

	run "$DKM" remove ccb/1.0 --all
	[ "$status" -eq 0 ]
	[ ! -e "$STATE/cc-cache/ccb" ]
	[ -d "$STATE/cc-cache/cca/ccache" ]
	run "$DKM" remove cca/1.0 --all
	[ "$status" -eq 0 ]
	[ -d "$STATE/cc-cache/cca/ccache" ]
	run "$DKM" remove cca/2.0 --all
	[ "$status" -eq 0 ]
	[ ! -e "$STATE/cc-cache/cca" ]
}

@test "cc_cache_max caps each package's cache" {
	# (ccache keeps at least one result in each of its 16 parts: the cap is well above 16 results)
	echo "cc_cache_max=384K" > "$ROOT/etc/dkm-hook/dkm-hook.conf"
	"$DKM" add "$(gen_pkg cca 12)"
	run "$DKM" build cca/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	[ "$(ccstat cca cache_miss)" -ge 12 ]
	# ccache cleaned up when the cache passed the cap, and keeps it near the cap (it checks one
	# of its 16 parts at a time, so it may pass it by a little); uncapped, this build leaves
	# about 700K
	[ "$(ccstat cca cleanups_performed)" -ge 1 ]
	[ "$(ccstat cca cache_size_kibibyte)" -le 480 ]

	echo "cc_cache_max=64 KB" > "$ROOT/etc/dkm-hook/dkm-hook.conf"
	run "$DKM" build cca/1.0 -k "$KVER" --force
	[ "$status" -ne 0 ]
	[[ "$output" == *"dkm-hook.conf"*"cc_cache_max='64 KB'"*"expected a size in bytes"* ]]
}

@test "a build whose package's cache is in use (another kernel's build of it) builds without it" {
	"$DKM" add "$(gen_pkg cca 2)"
	run "$DKM" build cca/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	# the holder is the sleep itself (--no-fork), and keeps none of bats' descriptors open
	flock --no-fork "$STATE/cc-cache/cca" sleep 600 >/dev/null 2>&1 3>&- &
	holder=$!
	until [ "$(flock -n "$STATE/cc-cache/cca" echo free)" != free ]; do sleep 0.1; done
	run "$DKM" build cca/1.0 -k "$KVER" --force
	kill "$holder"
	[ "$status" -eq 0 ]
	grep -q "the compiler cache '.*/cc-cache/cca' is in use by another build of cca: this one runs without it" "$(build_log cca)"
	if grep -q "CC='ccache" "$(build_log cca)"; then false; fi
}

@test "a hard link into the cache is never handed to the build uid: the file it names keeps its owner" {
	"$DKM" add "$(gen_pkg cca 2)"
	run "$DKM" build cca/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	# what an earlier process of the build uid could leave where fs.protected_hardlinks is off
	secret=$STATE/cc-cache/secret
	echo secret > "$secret"
	chmod 600 "$secret"
	ln "$secret" "$STATE/cc-cache/cca/ccache/link"
	run "$DKM" build cca/1.0 -k "$KVER" --force
	[ "$status" -eq 0 ]
	[ "$(stat -c %u:%a "$secret")" = "0:600" ]
	[ ! -e "$STATE/cc-cache/cca/ccache/link" ]
}

@test "a cache directory an older layout handed to a build uid is taken back: root's, 0711" {
	mkdir -p "$STATE/cc-cache/ccache"
	chown -R 2080400:2080400 "$STATE/cc-cache"
	chmod 0777 "$STATE/cc-cache"
	"$DKM" add "$(gen_pkg cca 1)"
	run "$DKM" build cca/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	[ "$(stat -c %u:%a "$STATE/cc-cache")" = "0:711" ]
	[ "$(stat -c %a "$STATE/cc-cache/cca")" = 700 ]
}
