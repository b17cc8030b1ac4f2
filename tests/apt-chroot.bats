#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# End to end through the real package manager: Debian 12 chroots made with
# `debootstrap --variant=minbase bookworm` (tests/lib/chroot.bash caches them), dkm-hook's own
# .deb built from this tree and installed with apt, a package registered with REMAKE_INITRD="yes",
# then Debian's real kernel packages (linux-image-amd64, linux-headers-amd64) from the mirror in
# both orders: the module is built, signed, installed, indexed, in the initramfs-tools image and
# in a dracut image, and purging the kernel leaves nothing of ours for it. Each chroot's root is
# one of: not a mount point (a plain chroot, as debootstrap-based image builders have), a bind
# mount of itself (a container), a bind mount without CAP_SYS_ADMIN (a container without it).
# Then the fleet path: `export --format deb` in a build chroot, installed with apt from a local
# repository into a minbase chroot without compilers or headers.
# Needs root, debootstrap and the Debian mirror of this machine's apt sources. A cold run (no
# cached tarballs) adds the debootstrap and the compiler install, once.

load lib/common
load lib/chroot

# setup_file (tarballs, fresh lists, our .debs) and teardown: tests/lib/chroot.bash

# A chroot with dkm-hook installed from its .deb and the fixture registered (REMAKE_INITRD)
build_chroot() { # build_chroot MODE
	chroot_new build "$1"
	chroot_install_dkm_hook
	chroot_register_fixture
}

# the module, as the kernel hooks installed it for K: one file, indexed by depmod, signed with
# the machine's key (what modinfo and `dkm-hook verify` inside the chroot say), installed in
# dkm-hook's status
assert_module_installed() { # assert_module_installed K
	local k=$1 files signer
	files=$(cd "$CHROOT/lib/modules/$k" && find . -name 'dkms_test.ko*')
	[[ "$files" =~ ^\./updates/dkms/dkms_test\.ko(\.xz|\.zst|\.gz)?$ ]] || {
		echo "dkms_test for $k: expected one file in updates/dkms, found: '$files'" >&2
		return 1
	}
	grep -q "^updates/dkms/dkms_test.ko[.a-z]*:" "$CHROOT/lib/modules/$k/modules.dep" || {
		echo "dkms_test is not in $k's modules.dep" >&2
		return 1
	}
	signer=$(chroot_run modinfo -k "$k" -F signer dkms_test)
	[ -n "$signer" ] || { echo "modinfo in the chroot: dkms_test is not signed" >&2; return 1; }
	chroot_log dkm-hook verify "/lib/modules/$k/${files#./}"
	chroot_run dkm-hook status module-test/0.1 -k "$k" | grep -q ": installed (modules: dkms_test; signed)"
}

# the module is in an initramfs image: the listing's command, the image
assert_in_image() { # assert_in_image K LISTING...
	local k=$1 list
	shift
	list=$(chroot_run "$@") || { echo "'$*' failed" >&2; return 1; }
	grep -q "lib/modules/$k/updates/dkms/dkms_test\.ko" <<<"$list" || {
		echo "'$*' does not list dkms_test.ko:" >&2
		grep "lib/modules/$k/updates" <<<"$list" >&2 || echo "(nothing under updates/)" >&2
		return 1
	}
}

# apt-get purge linux-image-K: nothing of ours is left for K, neither in its module dir nor in
# dkm-hook's state
assert_purge_leaves_nothing() { # assert_purge_leaves_nothing K
	local k=$1 left
	chroot_apt purge "linux-image-$k"
	[ ! -e "$CHROOT/boot/vmlinuz-$k" ]
	[ ! -e "$CHROOT/boot/initrd.img-$k" ]
	left=$(find "$CHROOT/lib/modules/$k" -name 'dkms_test*' -o -path '*/updates/*' 2>/dev/null)
	[ -z "$left" ] || { echo "left in lib/modules/$k: $left" >&2; return 1; }
	left=$(find "$CHROOT/var/lib/dkm-hook" -name "$k" -o -name "*$k*" | sed "s|^$CHROOT||")
	[ -z "$left" ] || { echo "state left for $k: $left" >&2; return 1; }
	# the registration stays: the next kernel gets the module
	[ -f "$CHROOT/var/lib/dkm-hook/packages/module-test/0.1/package" ]
}

# A kernel arrives through apt in ORDER (image-first or headers-first), in a chroot of MODE:
# built, signed, installed, indexed, and in the initramfs-tools image. Sets K.
kernel_arrives() { # kernel_arrives MODE ORDER
	build_chroot "$1"
	case $2 in
	image-first)
		chroot_apt install linux-image-amd64
		K=$(chroot_kver)
		# the image's hook could not build (no headers yet), and said so in one line
		grep -q "dkm-hook: warning: $K: kernel headers not installed" "$CHROOT_LOG"
		[ -z "$(find "$CHROOT/lib/modules/$K" -name 'dkms_test.ko*')" ]
		chroot_apt install linux-headers-amd64
		;;
	headers-first)
		chroot_apt install linux-headers-amd64
		K=$(chroot_kver)
		chroot_apt install linux-image-amd64
		;;
	esac
	[ -n "$K" ]
	[ -f "$CHROOT/boot/vmlinuz-$K" ]
	[ -f "$CHROOT/boot/initrd.img-$K" ]
	assert_module_installed "$K"
	assert_in_image "$K" lsinitramfs "/boot/initrd.img-$K"
	# where namespaces can be made, the build ran in the sandbox, silently
	if [ "$1" != nocap ]; then
		grep -q "in its sandbox), as uid " "$(build_log "$K")"
		run grep "no build sandbox" "$CHROOT_LOG"
		[ "$status" -eq 1 ]
	fi
}

build_log() { # build_log K
	echo "$CHROOT/var/lib/dkm-hook/packages/module-test/0.1/kernels/$1/$(uname -m)/build.log"
}

@test "container-like chroot (root bind-mounted): image, then headers: built, signed, indexed, in the initramfs-tools and the dracut image; purge takes it out" {
	kernel_arrives bind image-first
	# dracut replaces initramfs-tools; an image made by hand holds the module too
	chroot_apt install dracut
	chroot_log dracut -f --kver "$K"
	assert_in_image "$K" lsinitrd --kver "$K"
	assert_purge_leaves_nothing "$K"
}

@test "container-like chroot (root bind-mounted): headers, then image: built once, in the initramfs; purge takes it out" {
	kernel_arrives bind headers-first
	# the image's hooks found it up to date: one build, for the headers' hook
	[ "$(grep -c "^module-test/0.1: built for $K\$" "$CHROOT_LOG")" -eq 1 ]
	assert_purge_leaves_nothing "$K"
}

@test "plain chroot (root not a mount point, as image builders have): image, then headers; purge takes it out" {
	kernel_arrives plain image-first
	assert_purge_leaves_nothing "$K"
}

@test "plain chroot (root not a mount point): headers, then image; purge takes it out" {
	kernel_arrives plain headers-first
	assert_purge_leaves_nothing "$K"
}

@test "container without CAP_SYS_ADMIN: the kernel installs, the module is built without the sandbox's isolation, with one line saying so" {
	kernel_arrives nocap headers-first
	# one line, from the one build (the image's hooks found it up to date)
	run grep "no build sandbox" "$CHROOT_LOG"
	echo "$output"
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "dkm-hook: warning: no build sandbox here (cannot unshare the mount, PID, network, IPC and UTS namespaces: Operation not permitted): builds run only as an unprivileged uid, without namespaces; sandbox=required in '/etc/dkm-hook/dkm-hook.conf' refuses instead" ]]
	grep -q "(no sandbox), as uid " "$(build_log "$K")"
	assert_purge_leaves_nothing "$K"
}

@test "fleet: export --format deb in a build chroot, apt installs it from a local repository into a minbase chroot without compilers or headers" {
	# the build machine: headers only, no kernel image needed to build for it
	build_chroot bind
	chroot_apt install linux-headers-amd64
	K=$(chroot_kver)
	assert_module_installed "$K"
	chroot_log sh -c "mkdir -p /tmp/export && cd /tmp/export && dkm-hook export module-test/0.1 -k '$K' --format deb"
	debs=("$CHROOT"/tmp/export/*.deb)
	[ "${#debs[@]}" -eq 1 ]
	[ -f "${debs[0]}" ]
	name=$(dpkg-deb -f "${debs[0]}" Package)
	[ "$name" = "module-test-modules-$K" ]
	cert=$BATS_TEST_TMPDIR/build-cert.der
	cp "$CHROOT/var/lib/dkm-hook/mok.der" "$cert"
	repo=$BATS_TEST_TMPDIR/repo
	mkdir -p "$repo"
	cp "${debs[0]}" "$repo/"
	(cd "$repo" && dpkg-scanpackages --multiversion . /dev/null >Packages 2>/dev/null)

	# the fleet machine: minbase, no compiler, no headers, no dkm-hook
	chroot_new minbase bind
	[ ! -e "$CHROOT/usr/bin/gcc" ]
	[ ! -e "$CHROOT/usr/bin/make" ]
	mkdir -p "$CHROOT/srv/repo"
	cp "$repo"/* "$CHROOT/srv/repo/"
	echo "deb [trusted=yes] file:/srv/repo ./" >"$CHROOT/etc/apt/sources.list.d/fleet.list"
	# the new repository only: the mirror's lists are fresh (setup_file)
	chroot_apt update -o Dir::Etc::SourceList=sources.list.d/fleet.list -o Dir::Etc::SourceParts=- \
		-o APT::Get::List-Cleanup=0
	chroot_apt install "$name"
	[ -f "$CHROOT/boot/vmlinuz-$K" ]
	[ ! -e "$CHROOT/usr/sbin/dkm-hook" ]
	[ ! -e "$CHROOT/usr/bin/gcc" ]
	[ ! -e "$CHROOT/lib/modules/$K/build" ]
	# installed where dkm-hook would have put it, known to depmod, signed by the build machine
	files=$(cd "$CHROOT/lib/modules/$K" && find . -name 'dkms_test.ko*')
	[[ "$files" =~ ^\./updates/dkms/dkms_test\.ko(\.xz|\.zst|\.gz)?$ ]]
	grep -q "^updates/dkms/dkms_test.ko[.a-z]*:" "$CHROOT/lib/modules/$K/modules.dep"
	[ -n "$(chroot_run modinfo -k "$K" -F signer dkms_test)" ]
	# the certificate where `mokutil --import` is told to take it, the build machine's, and it
	# verifies the installed module
	fleet_cert=$CHROOT/usr/share/dkm-hook/certs/$name.der
	cmp "$fleet_cert" "$cert"
	dpkg-deb -f "${debs[0]}" Description | grep -q "mokutil --import /usr/share/dkm-hook/certs/$name.der"
	"$DKM" verify "$CHROOT/lib/modules/$K/${files#./}" --cert "$fleet_cert"
	# REMAKE_INITRD="yes": the module belongs in the initramfs, and is there
	[ -f "$CHROOT/boot/initrd.img-$K" ]
	assert_in_image "$K" lsinitramfs "/boot/initrd.img-$K"
	# removing the package takes the module out again
	chroot_apt purge "$name"
	[ -z "$(find "$CHROOT/lib/modules/$K" -name 'dkms_test*')" ]
	run grep dkms_test "$CHROOT/lib/modules/$K/modules.dep"
	[ "$status" -eq 1 ]
}
