#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# dkm-hook-dkms end to end through the real package manager, in a Debian 12 chroot
# (tests/lib/chroot.bash: cached debootstrap tarballs): dkm-hook and dkm-hook-dkms from the
# .debs built from this tree, the kernel headers from the mirror, then a real *-dkms package
# (v4l2loopback-dkms, which depends on dkms): apt takes our package for its dkms, its postinst
# runs our common.postinst, the module is built, signed, installed and indexed without Debian's
# dkms ever being installed, and purging the package takes it all out again.
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

@test "apt: dkm-hook-dkms, then v4l2loopback-dkms: built, signed, installed and indexed without Debian's dkms; purge removes it" {
	chroot_new build bind
	local debs=() d
	for d in "$(chroot_deb)" "$(ls "$BATS_FILE_TMPDIR"/pkg/dkm-hook-dkms_*_"$(dpkg --print-architecture)".deb)"; do
		cp "$d" "$CHROOT/tmp/"
		debs+=("/tmp/${d##*/}")
	done
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
