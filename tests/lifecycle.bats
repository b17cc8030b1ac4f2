#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The core lifecycle against the real installed kernel headers, in a scratch root per test:
# add -> build -> install -> modprobe-able -> uninstall -> remove, as in the DKMS walkthrough,
# without its surprises.

load lib/common

setup() {
	require_headers
	make_root
}

@test "walkthrough: add, status, build, install, modinfo, uninstall, remove" {
	debian_root
	src=$(fixture module-test)

	run "$DKM" add "$src"
	[ "$status" -eq 0 ]
	[[ "$output" == *"added module-test/0.1"* ]]
	# the source was copied where DKMS keeps it
	[ -f "$ROOT/usr/src/module-test-0.1/dkms.conf" ]

	run "$DKM" status module-test
	[ "$status" -eq 0 ]
	[ "$output" = "module-test/0.1: added (modules: dkms_test)" ]

	run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	run "$DKM" status module-test
	[[ "$output" == "module-test/0.1, $KVER, $(uname -m): built "* ]]
	# built, not installed: nothing in the module tree yet
	[ -z "$(find "$ROOT/lib/modules/$KVER" -name 'dkms_test.ko*')" ]

	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	# Debian rule, as DKMS does there: /updates/dkms
	[ -f "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko" ]
	run "$DKM" status module-test
	[[ "$output" == "module-test/0.1, $KVER, $(uname -m): installed (modules: dkms_test"* ]]

	# what modprobe would load: the module name, not the package name
	run modinfo_field dkms_test filename
	[ "$output" = "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko" ]
	run modinfo_field dkms_test vermagic
	[[ "$output" == "$KVER "* ]]
	grep -q '^updates/dkms/dkms_test.ko:' "$ROOT/lib/modules/$KVER/modules.dep"

	run "$DKM" uninstall module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko" ]
	# the directory we created is gone again, and depmod forgot the module
	[ ! -e "$ROOT/lib/modules/$KVER/updates" ]
	if grep -q dkms_test "$ROOT/lib/modules/$KVER/modules.dep"; then false; fi
	run "$DKM" status module-test
	[[ "$output" == "module-test/0.1, $KVER, $(uname -m): built "* ]]

	run "$DKM" remove module-test/0.1 --all
	[ "$status" -eq 0 ]
	run "$DKM" status
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# we copied the source in, so remove takes it away again
	[ ! -e "$ROOT/usr/src/module-test-0.1" ]
}

@test "without a Debian os-release, DEST_MODULE_LOCATION is honoured (no /extra surprise)" {
	src=$(fixture module-test)
	"$DKM" add "$src"
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[ -f "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko" ]
	[ ! -e "$ROOT/lib/modules/$KVER/extra" ]
}

@test "add pkg/ver registers a source already in <root>/usr/src and remove leaves it there" {
	cp -a "$FIXTURES/module-test" "$ROOT/usr/src/module-test-0.1"
	run "$DKM" add module-test/0.1
	[ "$status" -eq 0 ]
	run "$DKM" add module-test/0.1
	[ "$status" -eq 0 ]
	[[ "$output" == *"already added"* ]]
	run "$DKM" remove module-test/0.1 --all
	[ "$status" -eq 0 ]
	[ -f "$ROOT/usr/src/module-test-0.1/dkms.conf" ]
}

@test "install builds first when needed, and a second install changes nothing" {
	"$DKM" add "$(fixture module-test)"
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"building for $KVER"* ]]
	before=$(stat -c %Y.%i "$ROOT/lib/modules/$KVER/modules.dep")
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"already installed"* ]]
	[[ "$output" != *"building"* ]]
	[ "$(stat -c %Y.%i "$ROOT/lib/modules/$KVER/modules.dep")" = "$before" ]
}

@test "build --force of an installed package: it stays installed, the next install or rebuild places the new build" {
	src=$(fixture module-test)
	"$DKM" add "$src" >/dev/null
	"$DKM" install module-test/0.1 -k "$KVER" >/dev/null
	installed=$(modinfo_field dkms_test filename)
	old=$(sha256sum <"$installed")
	# the registered source changes under the same version, then a forced build
	echo 'MODULE_INFO(rebuilt, "yes");' >>"$ROOT/usr/src/module-test-0.1/dkms_test.c"
	run "$DKM" build module-test/0.1 -k "$KVER" --force
	[ "$status" -eq 0 ]
	run "$DKM" status module-test
	[ "$output" = "module-test/0.1, $KVER, $(uname -m): installed (modules: dkms_test; signed)" ]
	[ "$(sha256sum <"$installed")" = "$old" ] # the tree is not touched by a build
	run "$DKM" fsck
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	# rebuild sees that what is installed is not the latest build
	run "$DKM" rebuild "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"installed '$installed'"* ]]
	[ "$(modinfo_field dkms_test rebuilt)" = yes ]
	run "$DKM" rebuild "$KVER"
	[[ "$output" == *"nothing to do (1 package up to date)"* ]]
}

@test "two versions of one package: the newer install replaces the older one" {
	"$DKM" add "$(fixture module-test)"
	src2=${BATS_TEST_TMPDIR}/src/module-test-0.2
	cp -a "$FIXTURES/module-test" "$src2"
	sed -i 's/PACKAGE_VERSION="0.1"/PACKAGE_VERSION="0.2"/; s/Test module/Test module v0.2/' "$src2/dkms.conf" "$src2/dkms_test.c"
	"$DKM" add "$src2"
	run "$DKM" install module-test -k "$KVER"
	[ "$status" -ne 0 ]
	[[ "$output" == *"several versions (0.1, 0.2)"* ]]

	"$DKM" install module-test/0.1 -k "$KVER"
	run modinfo_field dkms_test description
	[ "$output" = "Test module" ]
	run "$DKM" install module-test/0.2 -k "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"module-test/0.2 replaces module-test/0.1"* ]]
	run modinfo_field dkms_test description
	[ "$output" = "Test module v0.2" ]
	run "$DKM" status module-test
	[[ "$output" == *"module-test/0.1, $KVER, $(uname -m): built"* ]]
	[[ "$output" == *"module-test/0.2, $KVER, $(uname -m): installed"* ]]
	[ "$(find "$ROOT/lib/modules/$KVER" -name 'dkms_test.ko*' | wc -l)" -eq 1 ]
}

@test "a package with two modules, default MAKE, BUILT_MODULE_LOCATION and DEST_MODULE_NAME" {
	"$DKM" add "$(fixture two-modules)"
	run "$DKM" install two-modules/2.0 -k "$KVER"
	[ "$status" -eq 0 ]
	[ -f "$ROOT/lib/modules/$KVER/extra/mod_a.ko" ]
	[ -f "$ROOT/lib/modules/$KVER/extra/two/mod_b_renamed.ko" ]
	run modinfo_field mod_b_renamed description
	[ "$output" = "two-modules: mod_b" ]
	run "$DKM" status two-modules
	[[ "$output" == *"(modules: mod_a mod_b_renamed"* ]]
	"$DKM" uninstall two-modules/2.0 -k "$KVER"
	[ ! -e "$ROOT/lib/modules/$KVER/extra" ]
}

@test "MAKE_MATCH picks the matching MAKE, PATCH_MATCH the matching patch" {
	"$DKM" add "$(fixture variant)"
	run "$DKM" install variant/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	run modinfo_field variant variant
	[ "$output" = "1" ]
	run modinfo_field variant description
	[ "$output" = "patched by PATCH[0]" ]
	# the build log shows the command DKMS would have run
	grep -q "make -j[0-9]* KERNELRELEASE=$KVER -C .* VARIANT=1\|make KERNELRELEASE=$KVER -C .* VARIANT=1" \
		"$ROOT/var/lib/dkm-hook/packages/variant/1.0/kernels/$KVER/$(uname -m)/build.log"
	# the original source is untouched by the patch
	grep -q 'MODULE_DESCRIPTION("unpatched")' "$ROOT/usr/src/variant-1.0/variant.c"
}

@test "BUILD_EXCLUSIVE_KERNEL excludes: state excluded, exit 6, nothing installed" {
	src=$(fixture module-test)
	echo 'BUILD_EXCLUSIVE_KERNEL="^2\.6\."' >> "$src/dkms.conf"
	"$DKM" add "$src"
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -eq 6 ]
	[[ "$output" == *"excluded"* ]]
	run "$DKM" status module-test
	[[ "$output" == "module-test/0.1, $KVER, $(uname -m): excluded (BUILD_EXCLUSIVE_KERNEL"* ]]
	[ -z "$(find "$ROOT/lib/modules/$KVER" -name 'dkms_test.ko*')" ]
}

@test "BUILD_EXCLUSIVE_CONFIG is checked against the kernel's .config" {
	src=$(fixture module-test)
	echo 'BUILD_EXCLUSIVE_CONFIG="CONFIG_MODULES !CONFIG_MODULE_SIG"' >> "$src/dkms.conf"
	"$DKM" add "$src"
	run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -eq 6 ]
	[[ "$output" == *"CONFIG_MODULE_SIG"* ]]
}

@test "BUILD_DEPENDS: rebuild builds and installs the dependency first" {
	"$DKM" add "$(fixture dep-user)"
	"$DKM" add "$(fixture dep-base)"
	run "$DKM" rebuild "$KVER"
	[ "$status" -eq 0 ]
	[ -f "$ROOT/lib/modules/$KVER/extra/dep_base.ko" ]
	[ -f "$ROOT/lib/modules/$KVER/extra/dep_user.ko" ]
	# dep-user's MAKE fails unless dep_base.ko was installed before it started
	base_line=$(grep -n 'dep-base/1.0: built' <<<"$output" | cut -d: -f1)
	user_line=$(grep -n 'dep-user/1.0: building' <<<"$output" | cut -d: -f1)
	[ "$base_line" -lt "$user_line" ]
}

@test "BUILD_DEPENDS: building a dependant alone says what to build first" {
	"$DKM" add "$(fixture dep-user)"
	"$DKM" add "$(fixture dep-base)"
	run "$DKM" build dep-user/1.0 -k "$KVER"
	[ "$status" -ne 0 ]
	[[ "$output" == *"dep-user/1.0 needs 'dep-base' (BUILD_DEPENDS) built for $KVER first"* ]]
}

@test "a failing build: exit 4, log path and its last lines, state failed, installed module untouched" {
	src=$(fixture module-test)
	"$DKM" add "$src"
	"$DKM" install module-test/0.1 -k "$KVER"
	good=$(sha256sum < "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko")
	# the registered source breaks (e.g. a package upgrade shipped a bad file)
	echo '#error this source is broken' >> "$ROOT/usr/src/module-test-0.1/dkms_test.c"
	run "$DKM" install module-test/0.1 -k "$KVER" --force
	[ "$status" -eq 4 ]
	log=$ROOT/var/lib/dkm-hook/packages/module-test/0.1/kernels/$KVER/$(uname -m)/build.log
	[[ "$output" == *"build of module-test/0.1 for $KVER failed: MAKE exited with status 2; log: '$log'"* ]]
	[[ "$output" == *"| "*"this source is broken"* ]]
	# the log is kept from its first line
	head -1 "$log" | grep -q "^# dkm-hook .*: build of module-test/0.1 for $KVER"
	grep -q "this source is broken" "$log"
	# the previously installed module is still there, intact
	[ "$(sha256sum < "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko")" = "$good" ]
	run "$DKM" status module-test
	[[ "$output" == *"installed"*"last rebuild failed, log: $log"* ]]
}

@test "a failing first build leaves state failed with the log path" {
	src=$(fixture module-test)
	echo '#error never builds' >> "$src/dkms_test.c"
	"$DKM" add "$src"
	run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -eq 4 ]
	run "$DKM" status module-test
	[[ "$output" == "module-test/0.1, $KVER, $(uname -m): failed (build failed; log: $ROOT/var/lib/dkm-hook/"*"/build.log)" ]]
}

@test "a MAKE that succeeds without producing the module is a failure naming the missing file" {
	src=$(fixture module-test)
	sed -i 's/^MAKE\[0\]=.*/MAKE[0]="true"/' "$src/dkms.conf"
	"$DKM" add "$src"
	run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -eq 4 ]
	[[ "$output" == *"make succeeded but '"*"/dkms_test.ko' (BUILT_MODULE_NAME[0]='dkms_test', BUILT_MODULE_LOCATION[0]="*") was not produced"* ]]
}

@test "displaced module: the kernel's own dkms_test.ko in ethercat/ is archived and restored to exactly ethercat/" {
	src=$(fixture module-test)
	"$DKM" add "$src"
	"$DKM" build module-test/0.1 -k "$KVER"
	# a "shipped" module with the same name in an unusual directory
	shipped=$ROOT/lib/modules/$KVER/ethercat/dkms_test.ko
	mkdir -p "$(dirname "$shipped")"
	cp "$ROOT"/var/lib/dkm-hook/packages/module-test/0.1/kernels/"$KVER"/*/modules/dkms_test.ko "$shipped"
	echo "shipped by the kernel" >> "$shipped" # make it distinguishable
	orig=$(sha256sum < "$shipped")
	depmod -b "$ROOT" -C "$ROOT/etc/depmod.d" "$KVER"
	run modinfo_field dkms_test filename
	[ "$output" = "$shipped" ]

	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"original module '/lib/modules/$KVER/ethercat/dkms_test.ko' archived"* ]]
	run modinfo_field dkms_test filename
	[ "$output" = "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko" ]
	[ ! -e "$shipped" ]

	run "$DKM" uninstall module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"original module restored to '/lib/modules/$KVER/ethercat/dkms_test.ko'"* ]]
	[ "$(sha256sum < "$shipped")" = "$orig" ]
	run modinfo_field dkms_test filename
	[ "$output" = "$shipped" ]
	[ ! -e "$ROOT/lib/modules/$KVER/updates" ]
}

@test "package vs module name: every verb says which package owns the module" {
	"$DKM" add "$(fixture module-test)"
	run "$DKM" remove dkms_test/0.1 --all
	[ "$status" -eq 3 ]
	[[ "$output" == *"'dkms_test' is not a package but a module of package 'module-test' (module-test/0.1): use 'module-test/0.1'"* ]]
	for verb in build install uninstall unbuild export; do
		run "$DKM" "$verb" dkms_test/0.1 -k "$KVER"
		[ "$status" -eq 3 ]
		[[ "$output" == *"use 'module-test/0.1'"* ]]
	done
	run "$DKM" status dkms_test
	[ "$status" -eq 3 ]
	[[ "$output" == *"module of package module-test/0.1"* ]]
	# and nothing happened to the package
	run "$DKM" status module-test
	[ "$output" = "module-test/0.1: added (modules: dkms_test)" ]
}

@test "unknown package: clear error, exit 3" {
	run "$DKM" build nosuch/1.0 -k "$KVER"
	[ "$status" -eq 3 ]
	[[ "$output" == *"package 'nosuch' is not registered"* ]]
}

@test "status --json carries the same facts as the text" {
	"$DKM" add "$(fixture module-test)"
	"$DKM" install module-test/0.1 -k "$KVER"
	run "$DKM" status --json
	[ "$status" -eq 0 ]
	printf '%s' "$output" > "$BATS_TEST_TMPDIR/status.json"
	python3 - "$KVER" "$(uname -m)" "$BATS_TEST_TMPDIR/status.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[3]))
kver, arch = sys.argv[1], sys.argv[2]
(p,) = doc["packages"]
assert p["name"] == "module-test" and p["version"] == "0.1", p
assert p["modules"] == ["dkms_test"], p
(k,) = p["kernels"]
assert k["kernel"] == kver and k["arch"] == arch and k["state"] == "installed", k
assert k["modules"] == ["dkms_test"], k
PY
}

@test "status reads only the state tree: no child process is started" {
	"$DKM" add "$(fixture module-test)"
	"$DKM" build module-test/0.1 -k "$KVER"
	command -v strace >/dev/null || skip "strace not installed (optional)"
	# (LeakSanitizer cannot run under ptrace: sanitizer builds need it off here)
	ASAN_OPTIONS=detect_leaks=0 run strace -f -e trace=execve,clone,clone3,fork,vfork -o "$BATS_TEST_TMPDIR/trace" "$DKM" status
	[ "$status" -eq 0 ]
	[ "$(grep -c -E 'clone|fork' "$BATS_TEST_TMPDIR/trace")" -eq 0 ]
	[ "$(grep -c execve "$BATS_TEST_TMPDIR/trace")" -eq 1 ]
}

@test "a mutating command waits for the lock with a message; status does not block" {
	"$DKM" add "$(fixture module-test)"
	lock=$ROOT/var/lib/dkm-hook/lock
	# status goes on while the lock is held (it would hang here otherwise)
	hold_lock "$lock"
	run timeout 60 "$DKM" status
	release_lock
	[ "$status" -eq 0 ]
	run_waiting_for_lock "$lock" "$DKM" unbuild module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"waiting for another dkm-hook command"*"'$lock'"* ]]
}

@test "remove needs -k or --all; unknown options and verbs are usage errors (exit 2)" {
	run "$DKM" remove module-test/0.1
	[ "$status" -eq 2 ]
	run "$DKM" frobnicate
	[ "$status" -eq 2 ]
	run "$DKM" status --no-such-option
	[ "$status" -eq 2 ]
	run "$DKM" build
	[ "$status" -eq 2 ]
	run "$DKM" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Exit status:"* ]]
	run "$DKM" install --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"install <pkg/ver> -k <kver>"* ]]
}

@test "--root and DKM_HOOK_ROOT: nothing is written outside the root" {
	unset DKM_HOOK_ROOT
	"$DKM" --root "$ROOT" add "$(fixture module-test)"
	"$DKM" --root "$ROOT" install module-test/0.1 -k "$KVER"
	[ -f "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko" ]
	[ -d "$ROOT/var/lib/dkm-hook/packages/module-test/0.1" ]
	[ ! -e /var/lib/dkm-hook/packages/module-test ]
}

@test "an invalid dkms.conf is refused at add: message names file, directive, index; nothing changes" {
	src=$(fixture module-test)
	sed -i 's|DEST_MODULE_LOCATION\[0\]=.*|DEST_MODULE_LOCATION[0]="/opt/elsewhere"|' "$src/dkms.conf"
	before=$(snapshot)
	run "$DKM" add "$src"
	[ "$status" -eq 5 ]
	[[ "$output" == *"'$src/dkms.conf'"*"DEST_MODULE_LOCATION[0]"*"/kernel"*"/updates"*"/extra"* ]]
	[ "$(snapshot)" = "$before" ]
	[ ! -e "$ROOT/var/lib/dkm-hook/packages" ]
}

@test "an /etc/dkms/<module>.conf override is an input of the build cache: changing it rebuilds" {
	"$DKM" add "$(fixture variant)"
	run "$DKM" rebuild "$KVER"
	[ "$status" -eq 0 ]
	run "$DKM" rebuild "$KVER"
	[[ "$output" == *"nothing to do (1 package up to date)"* ]]
	mkdir -p "$ROOT/etc/dkms"
	echo 'MAKE_MATCH[1]="^never-this-kernel"' > "$ROOT/etc/dkms/variant.conf"
	run "$DKM" rebuild "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"variant/1.0: building for $KVER"* ]]
	# the override took effect: MAKE[1] no longer matches, MAKE[0] (VARIANT=0) builds
	[ "$(modinfo_field variant variant)" = "0" ]
}

@test "a symlink planted where a module would be displaced is refused, named, and nothing changes" {
	debian_root
	"$DKM" add "$(fixture module-test)" >/dev/null
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	echo precious > "$ROOT/etc/precious"
	d=$ROOT/lib/modules/$KVER/updates/dkms
	mkdir -p "$d"
	ln -s "$ROOT/etc/precious" "$d/dkms_test.ko.xz"
	before=$(snapshot)
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -ne 0 ]
	[[ "$output" == *"dkm-hook: error: cannot install module-test/0.1 for $KVER: '$d/dkms_test.ko.xz' (where module 'dkms_test' would be displaced) is a symbolic link: dkm-hook archives only regular files"* ]]
	[ "$(snapshot)" = "$before" ]
	[ ! -e "$ROOT/var/lib/dkm-hook/kernels/$KVER/originals" ]
	[ "$(cat "$ROOT/etc/precious")" = precious ]
	# a dangling one too (it is not "nothing")
	ln -sfn "$ROOT/nowhere" "$d/dkms_test.ko.xz"
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -ne 0 ]
	[[ "$output" == *"'$d/dkms_test.ko.xz' (where module 'dkms_test' would be displaced) is a symbolic link"* ]]
	# once it is gone, the install goes through
	rm "$d/dkms_test.ko.xz"
	"$DKM" install module-test/0.1 -k "$KVER"
	[ ! -e "$ROOT/var/lib/dkm-hook/kernels/$KVER/originals" ]
}

@test "a FIFO or a directory where a module would be displaced is refused at once (never read, never archived)" {
	debian_root
	"$DKM" add "$(fixture module-test)" >/dev/null
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	d=$ROOT/lib/modules/$KVER/updates/dkms
	mkdir -p "$d"
	mkfifo "$d/dkms_test.ko.gz"
	before=$(snapshot)
	run timeout 60 "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -ne 124 ] # a read of the FIFO would block
	[ "$status" -ne 0 ]
	[[ "$output" == *"'$d/dkms_test.ko.gz' (where module 'dkms_test' would be displaced) is not a regular file (a FIFO, device or socket)"* ]]
	[ "$(snapshot)" = "$before" ]
	rm "$d/dkms_test.ko.gz"
	mkdir "$d/dkms_test.ko.zst"
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -ne 0 ]
	[[ "$output" == *"'$d/dkms_test.ko.zst' (where module 'dkms_test' would be displaced) is a directory"* ]]
	[ ! -e "$ROOT/var/lib/dkm-hook/kernels/$KVER/originals" ]
}

@test "a kernel module reached through a symlinked directory is not displaced; a symlinked install directory is refused" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	# the kernel "ships" dkms_test.ko in a directory that is a link out of the tree
	mkdir -p "$BATS_TEST_TMPDIR/elsewhere" "$ROOT/lib/modules/$KVER/kernel"
	cp "$ROOT"/var/lib/dkm-hook/packages/module-test/0.1/kernels/"$KVER"/*/modules/dkms_test.ko "$BATS_TEST_TMPDIR/elsewhere/"
	echo shipped >> "$BATS_TEST_TMPDIR/elsewhere/dkms_test.ko"
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$ROOT/lib/modules/$KVER/kernel/linked"
	depmod -b "$ROOT" -C "$ROOT/etc/depmod.d" "$KVER" 2>/dev/null
	grep -q '^kernel/linked/dkms_test.ko:' "$ROOT/lib/modules/$KVER/modules.dep"
	before=$(snapshot)
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -ne 0 ]
	[[ "$output" == *"module 'dkms_test' at '$ROOT/lib/modules/$KVER/kernel/linked/dkms_test.ko' is reached through '$ROOT/lib/modules/$KVER/kernel/linked', a symbolic link"* ]]
	[ "$(snapshot)" = "$before" ]
	[ -f "$BATS_TEST_TMPDIR/elsewhere/dkms_test.ko" ]
	rm "$ROOT/lib/modules/$KVER/kernel/linked"
	depmod -b "$ROOT" -C "$ROOT/etc/depmod.d" "$KVER" 2>/dev/null
	# the directory we install to is a link (into the headers, say): refused, nothing written there
	mkdir -p "$BATS_TEST_TMPDIR/target"
	ln -s "$BATS_TEST_TMPDIR/target" "$ROOT/lib/modules/$KVER/updates"
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot install module-test/0.1 for $KVER: '$ROOT/lib/modules/$KVER/updates' is a symbolic link: a module is installed only below '$ROOT/lib/modules/$KVER' through real directories (location '/updates/dkms'); nothing was changed"* ]]
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/target")" ]
}

@test "two files of one module to displace: refused before anything changes (no transaction left that could never finish)" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	built=$(echo "$ROOT"/var/lib/dkm-hook/packages/module-test/0.1/kernels/"$KVER"/*/modules/dkms_test.ko)
	mkdir -p "$ROOT/lib/modules/$KVER/ethercat" "$ROOT/lib/modules/$KVER/updates/dkms"
	{ cat "$built"; echo shipped; } > "$ROOT/lib/modules/$KVER/ethercat/dkms_test.ko"
	depmod -b "$ROOT" -C "$ROOT/etc/depmod.d" "$KVER" 2>/dev/null
	# and, not indexed yet, another one where ours goes
	{ cat "$built"; echo leftover; } > "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko.xz"
	before=$(snapshot)
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -ne 0 ]
	[[ "$output" == *"module 'dkms_test' would displace both '/lib/modules/$KVER/"*"' and '/lib/modules/$KVER/"*"': dkm-hook archives one original per module"*"nothing was changed"* ]]
	[ "$(snapshot)" = "$before" ]
	[ ! -e "$ROOT/var/lib/dkm-hook/kernels/$KVER/journal" ]
	run "$DKM" fsck
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	# once the stray file is gone, everything works
	rm "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko.xz"
	"$DKM" install module-test/0.1 -k "$KVER"
	"$DKM" uninstall module-test/0.1 -k "$KVER"
	[ -f "$ROOT/lib/modules/$KVER/ethercat/dkms_test.ko" ]
}

@test "a module that replaces the kernel's at the very same path: archived and restored; a file changed since is never overwritten by the restore" {
	src=$(fixture module-test)
	sed -i 's|^DEST_MODULE_LOCATION\[0\]=.*|DEST_MODULE_LOCATION[0]="/kernel/drivers/misc"|' "$src/dkms.conf"
	"$DKM" add "$src" >/dev/null
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	cp "$ROOT"/var/lib/dkm-hook/packages/module-test/0.1/kernels/"$KVER"/*/modules/dkms_test.ko "$BATS_TEST_TMPDIR/shipped.ko"
	echo shipped >> "$BATS_TEST_TMPDIR/shipped.ko"
	ship_module kernel/drivers/misc/dkms_test.ko "$BATS_TEST_TMPDIR/shipped.ko"
	p=$ROOT/lib/modules/$KVER/kernel/drivers/misc/dkms_test.ko
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"original module '/lib/modules/$KVER/kernel/drivers/misc/dkms_test.ko' archived"* ]]
	run "$DKM" uninstall module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	cmp "$p" "$BATS_TEST_TMPDIR/shipped.ko"
	# installed again, then changed by hand: uninstall leaves it, and keeps the original archived
	"$DKM" install module-test/0.1 -k "$KVER" >/dev/null
	echo local change >> "$p"
	run "$DKM" uninstall module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"changed since dkm-hook installed it: left in place"* ]]
	[[ "$output" == *"the original module is not restored to '/lib/modules/$KVER/kernel/drivers/misc/dkms_test.ko': another file is there now"* ]]
	[ "$(tail -1 "$p")" = "local change" ]
	run "$DKM" fsck
	[ "$status" -eq 1 ]
	[[ "$output" == *"displaced original of 'dkms_test' not restored to '$p': another file is at that path now: move it away"* ]]
	rm "$p"
	run "$DKM" fsck --repair
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	cmp "$p" "$BATS_TEST_TMPDIR/shipped.ko"
}

@test "a kernel removed takes its build dirs along, also what a failed build kept" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	"$DKM" install module-test/0.1 -k "$KVER" >/dev/null
	# a successful build leaves no build dir behind
	[ ! -e "$ROOT/var/lib/dkm-hook/build/$KVER" ]
	# a failed one keeps its dir (the log points into it) until the kernel goes
	mkdir -p "$ROOT/var/lib/dkm-hook/build/$KVER/$(uname -m)/module-test/0.1/build"
	run "$DKM" kernel-remove "$KVER"
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/var/lib/dkm-hook/build/$KVER" ]
	[ ! -e "$ROOT/var/lib/dkm-hook/kernels/$KVER" ]
}
