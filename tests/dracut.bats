#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# dracut-module/50dkm-hook under the real dracut, on a scratch root: a private dracut base dir
# (the host's modules plus ours, no dracut.conf.d), --conf /dev/null and an empty --confdir,
# --kmoddir pointing at the root's module dir, --no-hostonly. See docs/boot-test.md for why
# each of these is needed to keep the host's configuration out.

load lib/common
load lib/kernel-hooks
load boot/lib.sh

setup() {
	command -v dracut >/dev/null && command -v lsinitrd >/dev/null || {
		echo "dracut and lsinitrd (dracut-core) are needed" >&2
		return 1
	}
	hook_kernel_root
	boot_dracut_base "$T/base" "$TOP/dracut-module/50dkm-hook"
	mkdir -p "$T/confdir" "$T/tmp"
	IMG=$T/initrd.img
	export DKM_HOOK_BIN=$DKM
}

# mkinitrd [extra dracut args...] — the real dracut with our module, on the scratch root
mkinitrd() {
	dracutbasedir=$T/base dracut --conf /dev/null --confdir "$T/confdir" \
		--kmoddir "$ROOT/lib/modules/$KVER" --kver "$KVER" --no-hostonly --no-hostonly-cmdline \
		--no-early-microcode --no-compress --nofscks --nomdadmconf --nolvmconf \
		--no-hostonly-i18n --fwdir "$T/confdir" --tmpdir "$T/tmp" \
		-m "base dkm-hook" "$@" --force "$IMG"
}

image_files() {
	lsinitrd "$IMG" | awk '{ print $NF }'
}

@test "dracut alone: our module builds and installs what is missing, and puts in the modules that belong, as installed" {
	initrd_alone
	[[ "$output" == *"Including module: dkm-hook"* ]]
	in_image "^(usr/)?lib/modules/$KVER/updates/dkms/dkms_test\.ko\.xz$"
	# the file in the image is the installed one, signature and compression as they were
	inimg=$(image_files | grep "/dkms_test.ko.xz$")
	[ "$(lsinitrd -f "$inimg" "$IMG" | sha256sum)" = "$(sha256sum <"$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko.xz")" ]
	[ "$(modinfo -b "$ROOT" -k "$KVER" -F signer dkms_test)" = "dkm-hook test key" ]
}

@test "/etc/dkms/no-autoinstall: dracut builds nothing and adds what is installed" {
	initrd_no_autoinstall
	in_image "^(usr/)?lib/modules/$KVER/updates/dkms/dkms_test\.ko\.xz$"
}

@test "a module that belongs but fails to build makes dracut fail: no image; fail_policy=never makes one without it" {
	initrd_belonging_fails
	[ ! -e "$IMG" ]
	[[ "$output" == *"dkm-hook: $KVER needs a module that is not there (see above): no initramfs is made"* ]]
	[[ "$output" == *"installkernel failed in module dkm-hook"* ]]
	initrd_fail_policy_never
}

@test "the provider of the root file system goes in (root_device= an ext4 image)" {
	initrd_root_provider
	in_image "^(usr/)?lib/modules/$KVER/updates/dkms/dkm_fsprov\.ko\.xz$"
}

@test "a --kmoddir that is not dkm-hook's root is refused with a message" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	run env DKM_HOOK_ROOT="$T/elsewhere" dracutbasedir="$T/base" dracut --conf /dev/null \
		--confdir "$T/confdir" --kmoddir "$ROOT/lib/modules/$KVER" --kver "$KVER" \
		--no-hostonly --no-early-microcode --no-compress --tmpdir "$T/tmp" \
		-m "base dkm-hook" --force "$IMG"
	[ "$status" -ne 0 ]
	[[ "$output" == *"dkm-hook: dracut reads the modules of $KVER from '$ROOT/lib/modules/$KVER', dkm-hook installs them into '$T/elsewhere/lib/modules/$KVER': set DKM_HOOK_ROOT (or --sysroot) to the root of --kmoddir"* ]]
}

@test "run by dkm-hook itself (DKM_HOOK_SKIP_REBUILD=1): no rebuild of its own, what is installed goes in" {
	initrd_skip_rebuild
	in_image "^(usr/)?lib/modules/$KVER/updates/dkms/dkms_test\.ko\.xz$"
	# a plain dracut run does build what is missing
	run mkinitrd
	[ "$status" -eq 0 ]
	[ -f "$ROOT/lib/modules/$KVER/updates/dkms/dep_base.ko.xz" ]
}
