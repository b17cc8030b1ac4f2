#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# `dkm-hook initrd-modules <kver> [--json]`: which of our modules belong in the initramfs, and
# why — REMAKE_INITRD, initrd_packages=, and the module that provides the root file system
# (libblkid on root_device=, here a file system image made by the test; else the device of
# the root from /proc/self/mountinfo). And `rebuild` regenerating the initramfs once.

load lib/common
load lib/kernel-hooks

setup() {
	hook_root
	stub_dracut
}

fs_image() { # fs_image <mkfs> <file>
	truncate -s 8M "$2"
	"$1" -q -F "$2"
}

@test "root device with ext4: the module with alias fs-ext4 belongs, with its reason; nothing else does" {
	fs_image mkfs.ext4 "$T/root.img"
	conf compress=xz "root_device=$T/root.img"
	"$DKM" add "$(fixture fs-provider)" >/dev/null
	"$DKM" add "$(fixture module-test)" >/dev/null
	"$DKM" rebuild "$KVER" --no-initrd >/dev/null
	run "$DKM" initrd-modules "$KVER"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "dkm_fsprov"$'\t'"fs-provider/1.0"$'\t'"installed"$'\t'"provides the root file system (ext4 on '$T/root.img', alias fs-ext4)" ]
}

@test "root device with ext2: the fs-ext4 provider does not belong" {
	fs_image mkfs.ext2 "$T/root.img"
	conf "root_device=$T/root.img"
	"$DKM" add "$(fixture fs-provider)" >/dev/null
	"$DKM" rebuild "$KVER" --no-initrd >/dev/null
	run "$DKM" initrd-modules "$KVER" --json
	[ "$status" -eq 0 ]
	[ "$output" = '{"version":1,"kernel":"'"$KVER"'","root_device":"'"$T/root.img"'","root_fstype":"ext2","modules":[]}' ]
}

@test "REMAKE_INITRD and initrd_packages= are reasons; both at once are joined" {
	initrd_and_other_added
	"$DKM" add "$(fixture two-modules)" >/dev/null
	conf 'initrd_packages=dep-base module-test'
	"$DKM" rebuild "$KVER" --no-initrd >/dev/null
	run "$DKM" initrd-modules "$KVER"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "dep_base"$'\t'"dep-base/1.0"$'\t'"installed"$'\t'"initrd_packages= in '/etc/dkm-hook/dkm-hook.conf' names dep-base" ]
	[ "${lines[1]}" = "dkms_test"$'\t'"module-test/0.1"$'\t'"installed"$'\t'"REMAKE_INITRD=\"yes\" in its dkms.conf; initrd_packages= in '/etc/dkm-hook/dkm-hook.conf' names module-test" ]
	[ "${#lines[@]}" -eq 2 ]
}

@test "initrd_packages= naming a module instead of its package says which package to name" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	conf 'initrd_packages=dkms_test'
	run "$DKM" initrd-modules "$KVER"
	[ "$status" -eq 0 ]
	[ "$output" = "dkm-hook: warning: initrd_packages= names 'dkms_test', a module of module-test/0.1: name the package instead" ]
}

@test "--json carries module, package, version, state, installed file and reasons" {
	fs_image mkfs.ext4 "$T/root.img"
	src=$(fixture module-test)
	echo 'REMAKE_INITRD="yes"' >>"$src/dkms.conf"
	"$DKM" add "$src" >/dev/null
	"$DKM" add "$(fixture fs-provider)" >/dev/null
	conf compress=xz "root_device=$T/root.img"
	"$DKM" rebuild "$KVER" --no-initrd >/dev/null
	run "$DKM" initrd-modules "$KVER" --json
	[ "$status" -eq 0 ]
	printf '%s' "$output" >"$T/out.json"
	python3 - "$KVER" "$T" "$T/out.json" <<'PY'
import json, sys
kver, t, path = sys.argv[1:]
doc = json.load(open(path))
assert doc["kernel"] == kver and doc["root_fstype"] == "ext4", doc
assert doc["root_device"] == t + "/root.img", doc
mods = {m["module"]: m for m in doc["modules"]}
assert sorted(mods) == ["dkm_fsprov", "dkms_test"], mods
f = mods["dkm_fsprov"]
assert (f["package"], f["version"], f["state"]) == ("fs-provider", "1.0", "installed"), f
assert f["file"] == "/lib/modules/%s/updates/dkms/dkm_fsprov.ko.xz" % kver, f
assert f["reasons"] == ["provides the root file system (ext4 on '%s/root.img', alias fs-ext4)" % t], f
assert f["log"] is None, f
d = mods["dkms_test"]
assert d["reasons"] == ['REMAKE_INITRD="yes" in its dkms.conf'], d
PY
}

@test "without root_device=, the root's own mount is probed" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	run "$DKM" initrd-modules "$KVER" --json
	[ "$status" -eq 0 ]
	printf '%s' "$output" >"$T/out.json"
	want_type=$(findmnt -n -o FSTYPE --target "$ROOT")
	want_src=$(findmnt -n -o SOURCE --target "$ROOT")
	python3 - "$want_type" "$want_src" "$T/out.json" <<'PY'
import json, sys
want_type, want_src, path = sys.argv[1:]
doc = json.load(open(path))
assert doc["root_fstype"] == want_type, (doc, want_type)
# findmnt adds "[/subvolume]" to some sources
assert want_src.startswith(doc["root_device"]), (doc, want_src)
PY
}

@test "a module that belongs but failed to build: exit 1 naming it and its log; fail_policy=never: a warning" {
	src=$(fixture module-test)
	echo 'REMAKE_INITRD="yes"' >>"$src/dkms.conf"
	break_package "$src"
	"$DKM" add "$src" >/dev/null
	"$DKM" rebuild "$KVER" --no-initrd >/dev/null 2>&1 || true
	log=$(state_log module-test 0.1)
	run "$DKM" initrd-modules "$KVER"
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = "dkms_test"$'\t'"module-test/0.1"$'\t'"failed"$'\t'"REMAKE_INITRD=\"yes\" in its dkms.conf" ]
	[ "${lines[1]}" = "dkm-hook: error: dkms_test (module-test/0.1) belongs in the initramfs of $KVER (REMAKE_INITRD=\"yes\" in its dkms.conf) but failed to build (log: '$log'): an initramfs without it would not boot" ]
	conf fail_policy=never
	run "$DKM" initrd-modules "$KVER"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "dkm-hook: warning: dkms_test (module-test/0.1) belongs in the initramfs of $KVER (REMAKE_INITRD=\"yes\" in its dkms.conf) but failed to build (log: '$log'): the initramfs is made without it (fail_policy=never)" ]
}

@test "a root file system provider that fails for a new kernel is still known as one (its build for another kernel)" {
	make_root "$KVER" "$KVER-next"
	fs_image mkfs.ext4 "$T/root.img"
	conf "root_device=$T/root.img"
	"$DKM" add "$(fixture fs-provider)" >/dev/null
	"$DKM" rebuild "$KVER" --no-initrd >/dev/null
	echo '#error broken for the next kernel' >>"$ROOT/usr/src/fs-provider-1.0/dkm_fsprov.c"
	run "$DKM" kernel-add "$KVER-next" --no-initrd
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"dkm-hook: error: fs-provider/1.0 failed to build for $KVER-next (log: '$ROOT/var/lib/dkm-hook/packages/fs-provider/1.0/kernels/$KVER-next/$(uname -m)/build.log'), and $KVER-next needs it to boot (provides the root file system (ext4 on '$T/root.img', alias fs-ext4)): stopping the installation of $KVER-next"* ]]
}

@test "rebuild regenerates the initramfs once when a module in it changed, never with --no-initrd or initrd_generator=none" {
	initrd_and_other_added
	boot_initrd
	conf initrd_generator=dracut
	run "$DKM" rebuild "$KVER" --no-initrd
	[ "$status" -eq 0 ]
	[ ! -e "$DRACUT_LOG" ]
	run "$DKM" rebuild "$KVER" --force
	[ "$status" -eq 0 ]
	[ "$(cat "$DRACUT_LOG")" = "--force --sysroot $ROOT --kver $KVER $ROOT/boot/initrd.img-$KVER" ]
	run "$DKM" rebuild "$KVER"
	[ "$output" = "$KVER: nothing to do (2 packages up to date)" ]
	[ "$(wc -l <"$DRACUT_LOG")" -eq 1 ]
	conf initrd_generator=none
	run "$DKM" rebuild "$KVER" --force
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$DRACUT_LOG")" -eq 1 ]
}

@test "rebuild does not make an initramfs that does not exist yet, and says so" {
	src=$(fixture module-test)
	echo 'REMAKE_INITRD="yes"' >>"$src/dkms.conf"
	"$DKM" add "$src" >/dev/null
	conf initrd_generator=dracut
	run "$DKM" rebuild "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"initramfs of $KVER: none yet ('$ROOT/boot/initrd.img-$KVER'): the kernel's own hooks will make it, with our modules"* ]]
	[ ! -e "$DRACUT_LOG" ]
}

@test "install by hand regenerates the initramfs when the package belongs in it, and only then; uninstall says the image still holds it" {
	initrd_and_other_added
	boot_initrd
	conf initrd_generator=dracut
	# the stand-in also records whether it was told not to rebuild
	printf '#!/bin/sh\necho "$* skip=$DKM_HOOK_SKIP_REBUILD" >>"%s"\n' "$DRACUT_LOG" >"$HOOKBIN/dracut"
	want="--force --sysroot $ROOT --kver $KVER $ROOT/boot/initrd.img-$KVER skip=1"
	run "$DKM" install dep-base/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	[ ! -e "$DRACUT_LOG" ] # dep-base does not belong in it
	run "$DKM" install module-test/0.1 -k "$KVER" --no-initrd
	[ "$status" -eq 0 ]
	[ ! -e "$DRACUT_LOG" ]
	"$DKM" uninstall module-test/0.1 -k "$KVER" --no-initrd >/dev/null
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"initramfs of $KVER: regenerating '$ROOT/boot/initrd.img-$KVER' with dracut"* ]]
	[ "$(cat "$DRACUT_LOG")" = "$want" ]
	run "$DKM" install module-test/0.1 -k "$KVER" # already installed: nothing changed
	[ "$(wc -l <"$DRACUT_LOG")" -eq 1 ]
	run "$DKM" uninstall dep-base/1.0 -k "$KVER"
	[ "$(wc -l <"$DRACUT_LOG")" -eq 1 ]
	# an image without a module that belongs would be refused: it is not regenerated
	run "$DKM" uninstall module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"initramfs of $KVER: not regenerated: it still holds the modules of module-test as they were"* ]]
	[ "$(wc -l <"$DRACUT_LOG")" -eq 1 ]
	run "$DKM" uninstall module-test/0.1 -k "$KVER" # not installed: nothing changed
	[[ "$output" != *"initramfs"* ]]
}
