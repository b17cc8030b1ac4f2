#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# hooks/dkms/common.postinst, the /usr/lib/dkms/common.postinst of the dkm-hook-dkms package:
# run as a *-dkms package's postinst (dh_dkms) runs it on "configure", with our `dkms` first on
# PATH, over a scratch root (DKM_HOOK_ROOT). A `uname` on PATH says which kernel is running.

load lib/common

CP=$TOP/hooks/dkms/common.postinst
ARCH=$(uname -m)

setup() {
	require_headers
	make_root
	debian_root
	BIN=$BATS_TEST_TMPDIR/bin
	mkdir -p "$BIN"
	ln -sfn "$DKM" "$BIN/dkms"
	running "$KVER"
	cp -a "$FIXTURES/module-test" "$ROOT/usr/src/module-test-0.1"
}

running() { # running KVER: what `uname -r` says from now on
	printf '#!/bin/sh\n[ "$1" = -r ] && { echo %s; exit 0; }\nexec /bin/uname "$@"\n' "$1" >"$BIN/uname"
	chmod +x "$BIN/uname"
}

common() { # common ARGS...: the script as the package's postinst runs it
	PATH=$BIN:$PATH run sh "$CP" "$@"
	echo "$output"
}

ko() { echo "$ROOT/lib/modules/$1/updates/dkms/dkms_test.ko"; }

@test "configure: registered, built and installed for the running kernel; again: removed first, installed again; the prerm's calls remove it" {
	common module-test 0.1 /usr/share/module-test-dkms "" ""
	[ "$status" -eq 0 ]
	[[ "$output" == *"Loading new module-test-0.1 DKMS files..."* ]]
	[[ "$output" == *"Building for $KVER"* ]]
	[[ "$output" == *"Building initial module for $KVER"*"Done."* ]]
	[[ "$output" != *"chroot's host"* ]]
	[ "$(PATH=$BIN:$PATH dkms status)" = "module-test/0.1, $KVER, $ARCH: installed" ]
	[ -f "$(ko "$KVER")" ]
	grep -q '^updates/dkms/dkms_test.ko:' "$ROOT/lib/modules/$KVER/modules.dep"
	[ "$(readlink "$ROOT/var/lib/dkms/module-test/0.1/source")" = /usr/src/module-test-0.1 ]

	# reconfigured (dpkg-reconfigure, a reinstall): one version at a time, as Debian's
	common module-test 0.1 /usr/share/module-test-dkms "" 0.1
	[ "$status" -eq 0 ]
	[[ "$output" == *"Removing old module-test-0.1 DKMS files..."*"Loading new"* ]]
	[ "$(PATH=$BIN:$PATH dkms status)" = "module-test/0.1, $KVER, $ARCH: installed" ]

	# the prerm dh_dkms writes: `dkms status -m -v` not empty, then `dkms remove --all`
	[ -n "$(PATH=$BIN:$PATH dkms status -m module-test -v 0.1)" ]
	PATH=$BIN:$PATH run dkms remove -m module-test -v 0.1 --all
	[ "$status" -eq 0 ]
	[ -z "$(PATH=$BIN:$PATH dkms status)" ]
	[ ! -e "$(ko "$KVER")" ]
	[ ! -e "$ROOT/var/lib/dkms/module-test" ]
	[ -f "$ROOT/usr/src/module-test-0.1/dkms.conf" ]
}

@test "the running kernel and the newest installed one (Debian's /boot/config-*), not the others" {
	K2=6.1.0-99999-amd64
	second_kernel "$K2"
	# an older kernel with a config, a newer module dir without one: neither is chosen
	mkdir -p "$ROOT/boot" "$ROOT/lib/modules/6.1.0-1-amd64" "$ROOT/lib/modules/6.1.0-999999-amd64"
	touch "$ROOT/boot/config-$KVER" "$ROOT/boot/config-$K2" "$ROOT/boot/config-6.1.0-1-amd64"
	common module-test 0.1 /usr/share/module-test-dkms "" ""
	[ "$status" -eq 0 ]
	[[ "$output" == *"Building for $KVER and $K2"$'\n'* ]]
	[ -f "$(ko "$KVER")" ]
	[ -f "$(ko "$K2")" ]
	[ -z "$(find "$ROOT/lib/modules/6.1.0-1-amd64" "$ROOT/lib/modules/6.1.0-999999-amd64" -name '*.ko*')" ]
}

@test "in a chroot (the running kernel is the host's): every kernel on the first installation, the newest on an upgrade; missing headers skip a kernel" {
	running 1.0.0-host
	K2=6.1.0-99999-amd64
	mkdir -p "$ROOT/boot" "$ROOT/lib/modules/$K2"
	touch "$ROOT/boot/config-$K2"
	common module-test 0.1 "" "" ""
	[ "$status" -eq 0 ]
	[[ "$output" == *"It is likely that 1.0.0-host belongs to a chroot's host"* ]]
	[[ "$output" == *"Building for $KVER and $K2"$'\n'* ]]
	[[ "$output" == *"Module build for kernel $K2 was skipped since the"* ]]
	[ -f "$(ko "$KVER")" ]
	[ "$(PATH=$BIN:$PATH dkms status)" = "module-test/0.1, $KVER, $ARCH: installed" ]

	common module-test 0.1 "" "" 0.0.9
	[ "$status" -eq 0 ]
	[[ "$output" == *"Building for $K2"$'\n'* ]]
	[ ! -e "$(ko "$KVER")" ]
}

@test "/etc/dkms/no-autoinstall: nothing registered, nothing built, exit 0; without a module or version: exit 1" {
	mkdir -p "$ROOT/etc/dkms"
	touch "$ROOT/etc/dkms/no-autoinstall"
	common module-test 0.1 "" "" ""
	[ "$status" -eq 0 ]
	[ "$output" = "autoinstall for dkms modules has been disabled." ]
	[ -z "$(PATH=$BIN:$PATH dkms status)" ]
	[ ! -e "$ROOT/var/lib/dkms/module-test" ]
	common module-test
	[ "$status" -eq 1 ]
	[[ "$output" == *"Need NAME, and VERSION defined"* ]]
}

@test "BUILD_EXCLUSIVE not matching: Skipped., exit 0; make failing: its exit code (10), nothing installed" {
	echo 'BUILD_EXCLUSIVE_KERNEL="^0\.0\."' >>"$ROOT/usr/src/module-test-0.1/dkms.conf"
	common module-test 0.1 "" "" ""
	[ "$status" -eq 0 ]
	[[ "$output" == *"Building initial module for $KVER"$'\n'"Skipped."* ]]
	[ ! -e "$(ko "$KVER")" ]

	cp -a "$FIXTURES/module-test" "$ROOT/usr/src/module-test-0.2"
	sed -i 's/^PACKAGE_VERSION=.*/PACKAGE_VERSION="0.2"/; s/^MAKE\[0\]=.*/MAKE[0]="make no-such-target"/' \
		"$ROOT/usr/src/module-test-0.2/dkms.conf"
	common module-test 0.2 "" "" ""
	[ "$status" -eq 10 ]
	[ ! -e "$(ko "$KVER")" ]
}

@test "framework.conf is read, never executed: autoinstall_all_kernels builds for every kernel" {
	K2=6.1.0-99999-amd64
	second_kernel "$K2"
	mkdir -p "$ROOT/etc/dkms"
	printf 'autoinstall_all_kernels="yes"\ntouch %s/sourced\n' "$ROOT" >"$ROOT/etc/dkms/framework.conf"
	common module-test 0.1 "" "" ""
	[ "$status" -eq 0 ]
	[[ "$output" == *"Building for $KVER and $K2"$'\n'* ]]
	[ -f "$(ko "$KVER")" ]
	[ -f "$(ko "$K2")" ]
	[ ! -e "$ROOT/sourced" ]
}
