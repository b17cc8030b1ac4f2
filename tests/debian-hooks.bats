#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian/Ubuntu kernel hooks (hooks/debian/{postinst.d,header_postinst.d,prerm.d}/dkm-hook)
# run the way the kernel packages run them: `run-parts --report --exit-on-error --arg=<kver>
# [--arg=<image>] <dir>`, over scratch copies of those directories, with the built dkm-hook first
# on PATH and the scratch root through DKM_HOOK_ROOT.

load lib/common
load lib/kernel-hooks

setup() {
	hook_kernel_root
	local d
	for d in postinst.d header_postinst.d prerm.d; do
		mkdir -p "$T/$d"
		cp "$TOP/hooks/debian/$d/dkm-hook" "$T/$d/"
		# a hook after ours (initramfs-tools, zz-update-grub): runs only if ours let it
		printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$d" "$T/after.log" >"$T/$d/zz-after"
		chmod +x "$T/$d/zz-after"
	done
	stub_dracut
}

postinst() {
	run-parts --report --exit-on-error --arg="$KVER" --arg="/boot/vmlinuz-$KVER" "$T/postinst.d"
}
header_postinst() {
	run-parts --report --exit-on-error --arg="$KVER" "$T/header_postinst.d"
}
prerm() {
	run-parts --report --exit-on-error --arg="$KVER" --arg="/boot/vmlinuz-$KVER" "$T/prerm.d"
}

@test "postinst.d: every AUTOINSTALL package installed, signed, .ko.xz, one depmod; the second run is a one-line no-op" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	"$DKM" add "$(fixture dep-base)" >/dev/null
	ship_original
	run postinst
	echo "$output"
	[ "$status" -eq 0 ]
	assert_installed_signed_xz dkms_test
	assert_installed_signed_xz dep_base
	[ ! -e "$ORIG" ]
	[ "$(depmod_runs)" -eq 1 ]
	[[ "$(cat "$DEPMOD_LOG")" == "RAN -a -b $ROOT "*" $KVER" ]]
	[ "$(cat "$T/after.log")" = "postinst.d $KVER /boot/vmlinuz-$KVER" ]

	local t0 t1
	t0=$(date +%s%N)
	run postinst
	t1=$(date +%s%N)
	echo "# second postinst.d run: $(((t1 - t0) / 1000000)) ms" >&3
	[ "$status" -eq 0 ]
	[ "$output" = "$T/postinst.d/dkm-hook:"$'\n'"$KVER: nothing to do (2 packages up to date)" ]
	[ "$(depmod_runs)" -eq 1 ]
	# the initramfs is the later hooks' job
	[ ! -e "$DRACUT_LOG" ]
}

@test "the image before its headers: no failure, one line; header_postinst.d builds and regenerates the initramfs once" {
	initrd_and_other_added
	conf compress=xz initrd_generator=dracut
	build=$(readlink "$ROOT/lib/modules/$KVER/build")
	rm "$ROOT/lib/modules/$KVER/build"
	run postinst
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "$T/postinst.d/dkm-hook:"$'\n'"dkm-hook: warning: $KVER: kernel headers not installed ('$ROOT/lib/modules/$KVER/build' is missing): 2 packages not built yet; install linux-headers-$KVER, its hook will finish the job" ]
	[ -s "$T/after.log" ]
	[ "$(depmod_runs)" -eq 0 ]

	# the image's hooks made an initramfs without our modules; then the headers arrive
	boot_initrd
	ln -s "$build" "$ROOT/lib/modules/$KVER/build"
	run header_postinst
	echo "$output"
	[ "$status" -eq 0 ]
	assert_installed_signed_xz dkms_test
	assert_installed_signed_xz dep_base
	[ "$(depmod_runs)" -eq 1 ]
	[ "$(cat "$DRACUT_LOG")" = "--force --sysroot $ROOT --kver $KVER $ROOT/boot/initrd.img-$KVER" ]
	[[ "$output" == *"initramfs of $KVER: regenerating '$ROOT/boot/initrd.img-$KVER' with dracut"* ]]

	# again: nothing changed, nothing regenerated
	run header_postinst
	[ "$status" -eq 0 ]
	[ "$output" = "$T/header_postinst.d/dkm-hook:"$'\n'"$KVER: nothing to do (2 packages up to date)" ]
	[ "$(wc -l <"$DRACUT_LOG")" -eq 1 ]
}

@test "header_postinst.d regenerates only when a module that belongs in the initramfs changed" {
	"$DKM" add "$(fixture dep-base)" >/dev/null
	conf compress=xz initrd_generator=dracut
	boot_initrd
	run header_postinst
	[ "$status" -eq 0 ]
	assert_installed_signed_xz dep_base
	[ ! -e "$DRACUT_LOG" ]
}

@test "postinst.d: a failing package beside a working one is a warning; a failing one needed to boot stops run-parts" {
	src=$(fixture module-test)
	break_package "$src"
	"$DKM" add "$src" >/dev/null
	"$DKM" add "$(fixture dep-base)" >/dev/null
	log=$(state_log module-test 0.1)
	run postinst
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"dkm-hook: warning: module-test/0.1 failed to build for $KVER (log: '$log'): $KVER is installed without it"* ]]
	assert_installed_signed_xz dep_base
	[ -s "$T/after.log" ]

	# the same package is now needed to boot: named in initrd_packages=
	rm "$T/after.log"
	conf compress=xz 'initrd_packages=module-test'
	run postinst
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"dkm-hook: error: module-test/0.1 failed to build for $KVER (log: '$log'), and $KVER needs it to boot (initrd_packages= in '/etc/dkm-hook/dkm-hook.conf' names module-test): stopping the installation of $KVER, so the machine keeps booting its current kernel; fix the build and run 'dkm-hook rebuild $KVER', or set fail_policy=never"* ]]
	[ ! -e "$T/after.log" ]
}

@test "prerm.d: our modules go, the displaced original comes back, the kernel's state is dropped" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	ship_original
	postinst
	[ ! -e "$ORIG" ]
	run prerm
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$(find "$ROOT/lib/modules/$KVER" -name 'dkms_test.ko.xz')" ]
	[ "$(sha256sum <"$ORIG")" = "$ORIG_SHA" ]
	[ "$(modinfo -b "$ROOT" -k "$KVER" -F filename dkms_test)" = "$ORIG" ]
	[ ! -e "$ROOT/var/lib/dkm-hook/kernels/$KVER" ]
	[ ! -e "$ROOT/var/lib/dkm-hook/packages/module-test/0.1/kernels/$KVER" ]
	[ "$(cat "$T/after.log" | tail -n1)" = "prerm.d $KVER /boot/vmlinuz-$KVER" ]
}

@test "/etc/dkms/no-autoinstall: the hooks build nothing and say why in one line; rebuild by hand still works" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	mkdir -p "$ROOT/etc/dkms"
	touch "$ROOT/etc/dkms/no-autoinstall"
	run postinst
	[ "$status" -eq 0 ]
	# run-parts --report names the hook, then our one line
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[1]}" = "$KVER: automatic builds are disabled by '$ROOT/etc/dkms/no-autoinstall': nothing was built; remove that file, or run 'dkm-hook rebuild $KVER'" ]
	run header_postinst
	[ "$status" -eq 0 ]
	[[ "$output" == *"automatic builds are disabled"* ]]
	[ ! -e "$ROOT/var/lib/dkm-hook/packages/module-test/0.1/kernels" ]
	[ ! -e "$DRACUT_LOG" ]
	grep -qx "postinst.d $KVER /boot/vmlinuz-$KVER" "$T/after.log"
	run "$DKM" rebuild "$KVER" --no-initrd
	[ "$status" -eq 0 ]
	assert_installed_signed_xz dkms_test
}

@test "the hooks do nothing, successfully, once dkm-hook is removed (their conffiles stay)" {
	PATH=/usr/sbin:/usr/bin:/sbin:/bin
	for d in postinst.d header_postinst.d prerm.d; do
		run run-parts --exit-on-error --arg="$KVER" "$T/$d"
		[ "$status" -eq 0 ]
		[ -z "$output" ]
	done
}
