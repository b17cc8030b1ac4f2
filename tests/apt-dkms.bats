#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# dkm-hook-dkms end to end through the real package manager, in a Debian 12 chroot
# (tests/lib/chroot.bash: cached debootstrap tarballs): dkm-hook and dkm-hook-dkms from the
# .debs built from this tree, the kernel headers from the mirror, and real *-dkms packages.
# First Debian's dkms builds v4l2loopback-dkms, then apt replaces it with dkm-hook-dkms, whose
# postinst adopts that build and DKMS's signing key; a kernel's hooks then rebuild once, not
# twice, signing with that key. Then three real packages in one chroot where Debian's dkms is
# never installed, each a shape of dkms.conf a package in the wild has (REAL_PKGS below: a
# shell-evaluated file with several modules, a PRE_BUILD script, no MAKE at all): apt takes
# our package for their dkms, their postinsts run our common.postinst, and they are built,
# signed, installed and indexed for kernel A, rebuilt by the kernel packages' hooks when kernel
# B's image and headers come, and purged without a trace. No Debian 12 *-dkms package in main
# has a PRE_INSTALL, POST_INSTALL or POST_REMOVE script: tests/dkms-upstream.bats covers those
# with DKMS's own test packages.
# Needs root, debootstrap and the Debian mirror of this machine's apt sources.

load lib/common
load lib/chroot

# setup_file (tarballs, fresh lists, our .debs) and teardown: tests/lib/chroot.bash

# copies our two .debs into the chroot; prints their paths there
our_debs() {
	local d
	for d in "$(chroot_deb)" "$(ls "$BATS_FILE_TMPDIR"/pkg/dkm-hook-dkms_*_"$(dpkg --print-architecture)".deb)"; do
		cp "$d" "$CHROOT/tmp/"
		echo "/tmp/${d##*/}"
	done
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

# The real packages of the third test, each a different shape of dkms.conf (docs/dkms-compat.md):
#   ddcci-dkms            dkms.conf with `if ! grep … "$kernel_source_dir/.config"`: only the
#                         shell reading of it (docs/dkms-conf-evaluation.md) gets its values;
#                         two modules, each in its own BUILT_MODULE_LOCATION
#   iptables-netflow-dkms `pushd \`dirname $BASH_SOURCE\``, and a PRE_BUILD script (./configure)
#                         without which there is no Makefile: its options show in the module's
#                         parameters (snmp_rules, sampler)
#   nat-rtsp-dkms         no MAKE at all (DKMS's default make command), two modules
# "dkms name:modules" of each
REAL_PKGS="ddcci-dkms iptables-netflow-dkms nat-rtsp-dkms"
REAL_MODS="ddcci:ddcci,ddcci-backlight ipt-netflow:ipt_NETFLOW nat-rtsp:nf_nat_rtsp,nf_conntrack_rtsp"

# real_assert_installed K — every package of REAL_MODS is installed for K: dkms status says so,
# each module is one signed file in updates/dkms that depmod indexed
real_assert_installed() {
	local k=$1 e name mods ver m ko st
	st=$(chroot_run dkms status -k "$k")
	echo "$st"
	for e in $REAL_MODS; do
		name=${e%%:*} mods=${e#*:}
		ver=$(cd "$CHROOT/usr/src" && ls -d "$name"-*)
		ver=${ver#"$name"-}
		grep -qxF "$name/$ver, $k, $(uname -m): installed" <<<"$st"
		for m in ${mods//,/ }; do
			ko=$(cd "$CHROOT/lib/modules/$k" && find . -name "$m.ko*")
			[[ "$ko" =~ ^\./updates/dkms/$m\.ko(\.xz|\.zst|\.gz)?$ ]] || {
				echo "$m for $k: '$ko'" >&2
				return 1
			}
			grep -q "^updates/dkms/$m.ko[.a-z]*:" "$CHROOT/lib/modules/$k/modules.dep"
			[ -n "$(chroot_run modinfo -k "$k" -F signer "$m")" ]
		done
	done
}

@test "apt: three real *-dkms packages of different shapes with dkm-hook-dkms; a new kernel rebuilds them all; purge removes everything" {
	chroot_new build bind
	# two kernel ABIs the mirror has: A now, B the upgrade (as bench/apt-upgrade)
	abis=$(chroot_run apt-cache pkgnames linux-image-6 |
		sed -n 's/^linux-image-\([0-9.]*-[0-9]*\)-amd64$/\1/p' | sort -V | uniq | tail -n 2)
	KA=$(sed -n 1p <<<"$abis")-amd64 KB=$(sed -n 2p <<<"$abis")-amd64
	echo "kernels: $KA, then $KB"
	[ "$KA" != -amd64 ] && [ "$KB" != -amd64 ] && [ "$KA" != "$KB" ]

	mapfile -t debs < <(our_debs)
	chroot_apt install "${debs[@]}"
	chroot_apt install "linux-headers-$KA"
	# shellcheck disable=SC2086
	chroot_apt install $REAL_PKGS
	run chroot_run dpkg-query -W -f='${Status}' dkms
	[[ "$output" != *"ok installed"* ]]
	real_assert_installed "$KA"
	# what our common.postinst said, in Debian's words, and DKMS's tree of source links
	grep -q "Building initial module for $KA" "$CHROOT_LOG"
	for e in $REAL_MODS; do
		name=${e%%:*}
		ver=$(cd "$CHROOT/usr/src" && ls -d "$name"-*)
		ver=${ver#"$name"-}
		grep -qF "Loading new $name-$ver DKMS files..." "$CHROOT_LOG"
		[ "$(readlink "$CHROOT/var/lib/dkms/$name/$ver/source")" = "/usr/src/$name-$ver" ]
	done
	# the PRE_BUILD script ran, with its options: the parameters they enable are there
	parms=$(chroot_run modinfo -k "$KA" -F parm ipt_NETFLOW)
	[[ "$parms" == *snmp_rules:* ]]
	[[ "$parms" == *sampler:* ]]

	# a new kernel: its packages' postinst hooks build and install everything for it
	: >"$CHROOT_LOG.upgrade"
	CHROOT_LOG=$CHROOT_LOG.upgrade chroot_apt install "linux-image-$KB" "linux-headers-$KB"
	real_assert_installed "$KB"
	real_assert_installed "$KA"

	# shellcheck disable=SC2086
	chroot_apt purge $REAL_PKGS
	[ -z "$(chroot_run dkms status)" ]
	for k in "$KA" "$KB"; do
		for e in $REAL_MODS; do
			mods=${e#*:}
			for m in ${mods//,/ }; do
				[ -z "$(find "$CHROOT/lib/modules/$k" -name "$m.ko*")" ]
				if grep -q "/$m.ko" "$CHROOT/lib/modules/$k/modules.dep"; then false; fi
			done
		done
	done
	for e in $REAL_MODS; do
		name=${e%%:*}
		[ ! -e "$CHROOT/var/lib/dkms/$name" ]
		[ ! -e "$CHROOT/var/lib/dkm-hook/packages/$name" ]
		[ -z "$(ls -d "$CHROOT/usr/src/$name"-* 2>/dev/null)" ]
	done
}
