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
	src=$(fixture module-test)
	echo 'REMAKE_INITRD="yes"' >>"$src/dkms.conf"
	"$DKM" add "$src" >/dev/null
	"$DKM" add "$(fixture dep-base)" >/dev/null
	# no kernel hook ran: nothing is built yet
	[ -z "$(find "$ROOT/lib/modules/$KVER" -name '*.ko*')" ]
	run mkinitrd
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Including module: dkm-hook"* ]]
	files=$(image_files)
	grep -qxE "(usr/)?lib/modules/$KVER/updates/dkms/dkms_test\.ko\.xz" <<<"$files"
	# dep-base is AUTOINSTALL (so it was built and installed) but does not belong in the image
	[ -f "$ROOT/lib/modules/$KVER/updates/dkms/dep_base.ko.xz" ]
	if grep -q 'dep_base.ko' <<<"$files"; then false; fi
	# the file in the image is the installed one, signature and compression as they were
	inimg=$(grep "/dkms_test.ko.xz$" <<<"$files")
	[ "$(lsinitrd -f "$inimg" "$IMG" | sha256sum)" = "$(sha256sum <"$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko.xz")" ]
	[ "$(modinfo -b "$ROOT" -k "$KVER" -F signer dkms_test)" = "dkm-hook test key" ]
}

@test "/etc/dkms/no-autoinstall: dracut builds nothing and adds what is installed" {
	no_autoinstall_installed_and_not
	run mkinitrd
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"dkm-hook: automatic builds are disabled by '$ROOT/etc/dkms/no-autoinstall': adding what is installed"* ]]
	grep -qxE "(usr/)?lib/modules/$KVER/updates/dkms/dkms_test\.ko\.xz" <<<"$(image_files)"
	# dep-base was not built behind the admin's back
	[ ! -e "$ROOT/lib/modules/$KVER/updates/dkms/dep_base.ko.xz" ]
	[ ! -e "$ROOT/var/lib/dkm-hook/packages/dep-base/1.0/kernels" ]
}

@test "a module that belongs but fails to build makes dracut fail: no image; fail_policy=never makes one without it" {
	src=$(fixture module-test)
	echo 'REMAKE_INITRD="yes"' >>"$src/dkms.conf"
	break_package "$src"
	"$DKM" add "$src" >/dev/null
	run mkinitrd
	echo "$output"
	[ "$status" -ne 0 ]
	[ ! -e "$IMG" ]
	log=$(state_log module-test 0.1)
	[[ "$output" == *"dkm-hook: error: dkms_test (module-test/0.1) belongs in the initramfs of $KVER (REMAKE_INITRD=\"yes\" in its dkms.conf) but failed to build (log: '$log'): an initramfs without it would not boot"* ]]
	[[ "$output" == *"dkm-hook: $KVER needs a module that is not there (see above): no initramfs is made"* ]]
	[[ "$output" == *"installkernel failed in module dkm-hook"* ]]

	conf compress=xz fail_policy=never
	run mkinitrd
	[ "$status" -eq 0 ]
	[[ "$output" == *"dkm-hook: warning: dkms_test (module-test/0.1) belongs in the initramfs of $KVER (REMAKE_INITRD=\"yes\" in its dkms.conf) but failed to build (log: '$log'): the initramfs is made without it (fail_policy=never)"* ]]
	if image_files | grep -q 'dkms_test.ko'; then false; fi
}

@test "the provider of the root file system goes in (root_device= an ext4 image)" {
	truncate -s 8M "$T/root.img"
	mkfs.ext4 -q -F "$T/root.img"
	conf compress=xz "root_device=$T/root.img"
	"$DKM" add "$(fixture fs-provider)" >/dev/null
	run mkinitrd
	echo "$output"
	[ "$status" -eq 0 ]
	image_files | grep -q "lib/modules/$KVER/updates/dkms/dkm_fsprov.ko.xz$"
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
	initrd_installed_other_not
	DKM_HOOK_SKIP_REBUILD=1 run mkinitrd
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qxE "(usr/)?lib/modules/$KVER/updates/dkms/dkms_test\.ko\.xz" <<<"$(image_files)"
	# an install of module-test must not install dep-base behind the admin's back
	[ ! -e "$ROOT/var/lib/dkm-hook/packages/dep-base/1.0/kernels" ]
	# a plain dracut run does build what is missing
	run mkinitrd
	[ "$status" -eq 0 ]
	[ -f "$ROOT/lib/modules/$KVER/updates/dkms/dep_base.ko.xz" ]
}
