#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# dkm-hook-dkms end to end through the real package manager, in a Debian 12 chroot
# (tests/lib/chroot.bash: cached debootstrap tarballs): dkm-hook and dkm-hook-dkms from the
# .debs built from this tree, the kernel headers from the mirror, then a real *-dkms package
# (v4l2loopback-dkms, which depends on dkms): apt takes our package for its dkms, its postinst
# runs our common.postinst, the module is built, signed, installed and indexed without Debian's
# dkms ever being installed, and purging the package takes it all out again. And the other way
# in: Debian's dkms built the module first, then apt replaces it with dkm-hook-dkms, whose
# postinst adopts that build and DKMS's signing key; a kernel's hooks then rebuild once, not
# twice, signing with that key.
# Needs root, debootstrap and the Debian mirror of this machine's apt sources.

load lib/common
load lib/chroot

setup_file() {
	[ "$(id -u)" -eq 0 ] || { echo "needs root (chroot, mounts)" >&2; return 1; }
	command -v debootstrap >/dev/null || { echo "debootstrap is missing: tests/deps check installs it" >&2; return 1; }
	chroot_tarballs
	chroot_fresh_lists
	chroot_build_deb
}

teardown() {
	chroot_cleanup
}

# copies our two .debs into the chroot; prints their paths there
our_debs() {
	local d
	for d in "$(chroot_deb)" "$(ls "$BATS_FILE_TMPDIR"/pkg/dkm-hook-dkms_*_"$(dpkg --print-architecture)".deb)"; do
		cp "$d" "$CHROOT/tmp/"
		echo "/tmp/${d##*/}"
	done
}

@test "apt: dkm-hook-dkms, then v4l2loopback-dkms: built, signed, installed and indexed without Debian's dkms; purge removes it" {
	chroot_new build bind
	mapfile -t debs < <(our_debs)
	chroot_apt install "${debs[@]}"
	chroot_apt install linux-headers-amd64
	K=$(chroot_kver)
	[ -n "$K" ]

	chroot_apt install v4l2loopback-dkms
	# apt took ours for the dkms that v4l2loopback-dkms depends on
	run chroot_run dpkg-query -W -f='${Status}' dkms
	[[ "$output" != *"ok installed"* ]]
	chroot_run dpkg-query -W -f='${Status}\n' dkm-hook-dkms | grep -qx 'install ok installed'
	# what our common.postinst said, in Debian's words
	grep -q "Loading new v4l2loopback-.* DKMS files..." "$CHROOT_LOG"
	grep -q "Building initial module for $K" "$CHROOT_LOG"
	ver=$(chroot_run dpkg-query -W -f='${Version}' v4l2loopback-dkms)
	ver=${ver%-*}
	run chroot_run dkms status
	echo "$output"
	[ "$output" = "v4l2loopback/$ver, $K, $(uname -m): installed" ]
	files=$(cd "$CHROOT/lib/modules/$K" && find . -name 'v4l2loopback.ko*')
	[[ "$files" =~ ^\./updates/dkms/v4l2loopback\.ko(\.xz|\.zst|\.gz)?$ ]]
	grep -q "^updates/dkms/v4l2loopback.ko[.a-z]*:" "$CHROOT/lib/modules/$K/modules.dep"
	[ -n "$(chroot_run modinfo -k "$K" -F signer v4l2loopback)" ]
	[ "$(readlink "$CHROOT/var/lib/dkms/v4l2loopback/$ver/source")" = "/usr/src/v4l2loopback-$ver" ]

	# the package's prerm (dkms status, dkms remove --all) through our dkms
	chroot_apt purge v4l2loopback-dkms
	[ -z "$(find "$CHROOT/lib/modules/$K" -name 'v4l2loopback.ko*')" ]
	if grep -q v4l2loopback "$CHROOT/lib/modules/$K/modules.dep"; then false; fi
	[ -z "$(chroot_run dkms status)" ]
	[ ! -e "$CHROOT/var/lib/dkms/v4l2loopback" ]
	[ ! -e "$CHROOT/var/lib/dkm-hook/packages/v4l2loopback" ]
	[ ! -e "$CHROOT/usr/src/v4l2loopback-$ver" ]
}

@test "apt: dkm-hook-dkms replaces Debian's dkms: the module DKMS installed is adopted as it is; a kernel's hooks build once, with DKMS's key; purge removes it" {
	chroot_new build bind
	chroot_apt install linux-headers-amd64
	K=$(chroot_kver)
	[ -n "$K" ]
	# Debian's dkms builds, signs (with the key it makes with openssl) and installs the module
	chroot_apt install openssl
	chroot_apt install dkms v4l2loopback-dkms
	[ -f "$CHROOT/var/lib/dkms/mok.key" ]
	ver=$(chroot_run dpkg-query -W -f='${Version}' v4l2loopback-dkms)
	ver=${ver%-*}
	ko=$(cd "$CHROOT/lib/modules/$K" && find . -name 'v4l2loopback.ko*')
	[[ "$ko" =~ ^\./updates/dkms/v4l2loopback\.ko(\.xz|\.zst|\.gz)?$ ]]
	sum=$(sha256sum <"$CHROOT/lib/modules/$K/$ko")
	# signed with the key DKMS made (/var/lib/dkms/mok.key), the one a Secure Boot machine enrolled
	signer=$(chroot_run modinfo -k "$K" -F signer v4l2loopback)
	[ -n "$signer" ]

	mapfile -t debs < <(our_debs)
	chroot_apt install "${debs[@]}"
	# Debian's dkms is gone (its conffiles stay), ours is the dkms now
	chroot_run dpkg-query -W -f='${Status}\n' dkms | grep -qx 'deinstall ok config-files'
	[ -f "$CHROOT/etc/kernel/postinst.d/dkms" ]
	[ "$(readlink -f "$CHROOT/usr/sbin/dkms")" = "$CHROOT/usr/sbin/dkm-hook" ]
	grep -q "import from '/var/lib/dkms': 1 package, 1 installed" "$CHROOT_LOG"
	run chroot_run dkms status
	echo "$output"
	[ "$output" = "v4l2loopback/$ver, $K, $(uname -m): installed" ]
	# adopted as it is: nothing rebuilt or reinstalled
	[ "$(sha256sum <"$CHROOT/lib/modules/$K/$ko")" = "$sum" ]

	# the kernel's hooks as the kernel package runs them: dkm-hook's rebuilds the imported
	# build once (docs/dkms-compat.md), DKMS's left-over conffile builds nothing
	: >"$CHROOT_LOG.hooks"
	CHROOT_LOG=$CHROOT_LOG.hooks chroot_log run-parts --verbose --exit-on-error --arg="$K" \
		--arg="/boot/vmlinuz-$K" /etc/kernel/postinst.d
	cat "$CHROOT_LOG.hooks"
	[ "$(grep -c "^v4l2loopback/$ver: built for $K\$" "$CHROOT_LOG.hooks")" -le 1 ]
	if grep -q "running auto installation service" "$CHROOT_LOG.hooks"; then false; fi
	run chroot_run dkms status
	[ "$output" = "v4l2loopback/$ver, $K, $(uname -m): installed" ]
	# signed with DKMS's key still: no new key, nothing to enrol
	if grep -q "generated signing key" "$CHROOT_LOG.hooks"; then false; fi
	[ "$(chroot_run modinfo -k "$K" -F signer v4l2loopback)" = "$signer" ]

	chroot_apt purge v4l2loopback-dkms
	[ -z "$(find "$CHROOT/lib/modules/$K" -name 'v4l2loopback.ko*')" ]
	[ -z "$(chroot_run dkms status)" ]
	[ ! -e "$CHROOT/var/lib/dkms/v4l2loopback" ]
}
