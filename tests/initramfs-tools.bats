#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# hooks/initramfs-tools/dkm-hook under the real mkinitramfs, on a scratch root. mkinitramfs
# reads only host paths (/lib/modules/KVER through modprobe, /usr/share/initramfs-tools,
# /boot/config-KVER), so it runs in a private mount namespace where those are bind mounts:
# /lib/modules is the scratch root's, /usr/share/initramfs-tools a copy of the host's whose
# hooks/ holds only ours (the image does not depend on which other packages put hooks there),
# /boot holds the kernel's config (mkinitramfs checks its compressor against it). The conf dir
# is a private one (`-d`: MODULES=list, BUSYBOX=n). Nothing on the host changes; the mounts die
# with the namespace.

load lib/common
load lib/kernel-hooks

setup_file() {
	# initramfs-tools-core (mkinitramfs, lsinitramfs, unmkinitramfs) coexists with
	# dracut-core; it brings no kernel hook and no update-initramfs
	if ! dpkg-query -W -f='${Status}\n' initramfs-tools-core 2>/dev/null |
		grep -qx 'install ok installed'; then
		if [ "$(id -u)" -ne 0 ]; then
			echo "initramfs-tools-core is needed: apt-get install initramfs-tools-core" >&2
			return 1
		fi
		{
			DEBIAN_FRONTEND=noninteractive apt-get update -q &&
				DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
					initramfs-tools-core
		} >"$BATS_FILE_TMPDIR/apt.log" 2>&1 || {
			tail -20 "$BATS_FILE_TMPDIR/apt.log" >&2
			return 1
		}
	fi
}

setup() {
	hook_kernel_root
	# the private /usr/share/initramfs-tools: the host's, with our hook as the only hook
	cp -a /usr/share/initramfs-tools "$T/share"
	rm -rf "$T/share/hooks" "$T/share/conf-hooks.d"
	mkdir -p "$T/share/conf-hooks.d"
	install -Dm0755 "$TOP/hooks/initramfs-tools/dkm-hook" "$T/share/hooks/dkm-hook"
	# the private conf dir
	mkdir -p "$T/conf/conf.d" "$T/conf/hooks" "$T/conf/scripts" "$T/tmp" "$T/boot"
	cat >"$T/conf/initramfs.conf" <<-EOF
		MODULES=list
		BUSYBOX=n
		KEYMAP=n
		COMPRESS=zstd
		DEVICE=
		NFSROOT=auto
		RUNSIZE=10%
		FSTYPE=auto
	EOF
	cp "$ROOT/lib/modules/$KVER/build/.config" "$T/boot/config-$KVER"
	IMG=$T/initrd.img
	export DKM_HOOK_BIN=$DKM
}

# itools_ns CMD [ARGS...] — CMD in a private mount namespace with the bind mounts above
itools_ns() {
	touch "$ROOT/lib/modules/.dkm-test-scratch"
	# shellcheck disable=SC2016 # expanded by the inner sh
	unshare --mount --propagation private -- sh -c '
		mount --bind "$1" /lib/modules &&
		mount --bind "$2" /usr/share/initramfs-tools &&
		mount --bind "$3" /boot && shift 3 && exec "$@"' \
		sh "$ROOT/lib/modules" "$T/share" "$T/boot" "$@"
}

# mkinitrd [extra mkinitramfs args...] — the real mkinitramfs with our hook, on the scratch root
mkinitrd() {
	TMPDIR=$T/tmp itools_ns mkinitramfs -d "$T/conf" "$@" -o "$IMG" "$KVER"
}

image_files() {
	lsinitramfs "$IMG"
}

@test "the hook answers prereqs with nothing" {
	run "$TOP/hooks/initramfs-tools/dkm-hook" prereqs
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "mkinitramfs alone: our hook builds and installs what is missing, and puts in the modules that belong, signed as installed" {
	initrd_alone -v
	[[ "$output" == *"dkm-hook: 1 module(s) for $KVER added"* ]]
	installed=$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko.xz
	[ -f "$installed" ]
	# mkinitramfs decompresses .ko.xz in the image ("for boot speed"): the file there is the
	# installed one without its xz layer, the signature inside it
	in_image "^(usr/)?lib/modules/$KVER/updates/dkms/dkms_test\.ko$"
	mkdir "$T/x"
	unmkinitramfs "$IMG" "$T/x"
	inimg=$(find "$T/x" -path "*/lib/modules/$KVER/updates/dkms/dkms_test.ko" -type f)
	[ -n "$inimg" ]
	[ "$(sha256sum <"$inimg")" = "$(xz -dc "$installed" | sha256sum)" ]
	[ "$(modinfo -F signer "$inimg")" = "dkm-hook test key" ]
	# the image's module index knows it
	grep -q '^updates/dkms/dkms_test\.ko:' "$(dirname "$inimg")/../../modules.dep"
}

@test "/etc/dkms/no-autoinstall: mkinitramfs builds nothing and adds what is installed" {
	initrd_no_autoinstall -v
	[[ "$output" == *"dkm-hook: 1 module(s) for $KVER added"* ]]
	in_image "^(usr/)?lib/modules/$KVER/updates/dkms/dkms_test\.ko$"
}

@test "the hook adds nothing but what belongs: a package without REMAKE_INITRD stays out" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	run mkinitrd
	echo "$output"
	[ "$status" -eq 0 ]
	[ -f "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko.xz" ]
	not_in_image 'dkms_test\.ko'
	# a module given by initrd_packages= goes in
	conf compress=xz initrd_packages=module-test
	run mkinitrd
	[ "$status" -eq 0 ]
	in_image "^(usr/)?lib/modules/$KVER/updates/dkms/dkms_test\.ko$"
}

@test "a module that belongs but fails to build makes mkinitramfs fail: no image; fail_policy=never makes one without it" {
	initrd_belonging_fails
	[[ "$output" == *"E: dkm-hook: $KVER needs a module that is not there (see above): no initramfs is made"* ]]
	[[ "$output" == *"E: /usr/share/initramfs-tools/hooks/dkm-hook failed with return 1."* ]]
	initrd_fail_policy_never
}

@test "the provider of the root file system goes in (root_device= an ext4 image)" {
	initrd_root_provider
	in_image "^(usr/)?lib/modules/$KVER/updates/dkms/dkm_fsprov\.ko$"
}

@test "a DKM_HOOK_ROOT whose module dir is not the one mkinitramfs reads is refused with a message" {
	src=$(fixture module-test)
	echo 'REMAKE_INITRD="yes"' >>"$src/dkms.conf"
	"$DKM" add "$src" >/dev/null
	mkdir -p "$T/elsewhere/lib/modules/$KVER"
	DKM_HOOK_ROOT=$T/elsewhere run mkinitrd
	echo "$output"
	[ "$status" -ne 0 ]
	[ ! -s "$IMG" ]
	[[ "$output" == *"E: dkm-hook: mkinitramfs reads the modules of $KVER from '/lib/modules/$KVER', dkm-hook installs them into '$T/elsewhere/lib/modules/$KVER': unset DKM_HOOK_ROOT, or make it the root whose lib/modules mkinitramfs reads"* ]]
	# nothing was built into either tree
	[ -z "$(find "$ROOT/lib/modules/$KVER" "$T/elsewhere/lib/modules" -name '*.ko*')" ]
}

@test "without a dkm-hook program the hook does nothing and the image is made" {
	DKM_HOOK_BIN=$T/no-such-dkm-hook run mkinitrd
	echo "$output"
	[ "$status" -eq 0 ]
	[ -s "$IMG" ]
}

@test "run by dkm-hook itself (DKM_HOOK_SKIP_REBUILD=1): no rebuild of its own, what is installed goes in" {
	initrd_skip_rebuild -v
	[[ "$output" == *"dkm-hook: 1 module(s) for $KVER added"* ]]
	in_image "^(usr/)?lib/modules/$KVER/updates/dkms/dkms_test\.ko$"
}
