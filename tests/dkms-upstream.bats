#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The `dkms` command on the cases of DKMS's own test suite (run_test.sh and its test/ packages):
# packages of the same shapes (written here), the expectations of DKMS 3.0.10 — checked side by
# side with Debian's dkms where it runs in a scratch root — and of later DKMS where 3.0.10 is
# the one at fault (docs/dkms-compat.md says which). tests/dkms-run-test.bats runs DKMS's own
# packages through its run_test.sh steps.

load lib/dkms-both

# upkg DIR NAME VERSION: a package of the shape of DKMS's test/dkms_test-1.0 in DIR (one module,
# dkms_test, no MAKE: DKMS's default make); more dkms.conf lines on stdin
upkg() {
	local d=$1 n=$2 v=$3
	mkdir -p "$d"
	cp "$FIXTURES/module-test/dkms_test.c" "$d/"
	echo "MODULE_VERSION(\"$v\");" >> "$d/dkms_test.c"
	echo 'obj-m += dkms_test.o' > "$d/Makefile"
	{
		echo "PACKAGE_NAME=\"$n\""
		echo "PACKAGE_VERSION=\"$v\""
		echo 'BUILT_MODULE_NAME[0]="dkms_test"'
		echo 'DEST_MODULE_LOCATION[0]="/kernel/extra"'
		echo 'AUTOINSTALL="yes"'
		[ -t 0 ] || cat
	} > "$d/dkms.conf"
	reachable "$d"
}

@test "remove keeps the source in the source tree: a later 'dkms add M/V' works, as DKMS" {
	O=$BATS_TEST_TMPDIR/ours
	new_root "$O"
	upkg "$BATS_TEST_TMPDIR/dkms_test-1.0" dkms_test 1.0 < /dev/null
	# added from elsewhere: copied to <source_tree>/dkms_test-1.0
	run ours "$O" add "$BATS_TEST_TMPDIR/dkms_test-1.0"
	[ "$status" -eq 0 ]
	[ -f "$O/usr/src/dkms_test-1.0/dkms.conf" ]
	run ours "$O" install dkms_test/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	run ours "$O" remove dkms_test/1.0 --all
	[ "$status" -eq 0 ]
	[[ "$output" == *"Deleting module dkms_test-1.0 completely from the DKMS tree."* ]]
	[ -f "$O/usr/src/dkms_test-1.0/dkms.conf" ]
	run ours "$O" status
	[ -z "$output" ]
	run ours "$O" add dkms_test/1.0
	[ "$status" -eq 0 ]
	run ours "$O" status
	[ "$output" = "dkms_test/1.0: added" ]
	# remove for the last kernel with a build deletes the module, not the source either
	run ours "$O" build dkms_test/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	run ours "$O" remove dkms_test/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	[ -f "$O/usr/src/dkms_test-1.0/dkms.conf" ]
	# dkm-hook's own remove keeps deleting what its own add copied
	rm -rf "$O/usr/src/dkms_test-1.0"
	DKM_HOOK_ROOT=$O run "$DKM" add "$BATS_TEST_TMPDIR/dkms_test-1.0"
	[ "$status" -eq 0 ]
	[ -f "$O/usr/src/dkms_test-1.0/dkms.conf" ]
	DKM_HOOK_ROOT=$O run "$DKM" remove dkms_test/1.0 --all
	[ "$status" -eq 0 ]
	[ ! -e "$O/usr/src/dkms_test-1.0" ]
}

@test "uninstall --all and unbuild --all act on every kernel, like Debian's dkms" {
	both_roots "$KVER" "$K2"
	for r in "$T" "$O"; do
		upkg "$r/usr/src/dkms_test-1.0" dkms_test 1.0 < /dev/null
	done
	both add dkms_test/1.0
	both install dkms_test/1.0 -k "$KVER" -k "$K2"
	[ "$o_status" -eq 0 ]
	run same_status
	[ "${lines[0]}" = "dkms_test/1.0, $KVER, $ARCH: installed" ]
	[ "${lines[1]}" = "dkms_test/1.0, $K2, $ARCH: installed" ]
	both uninstall dkms_test/1.0 --all
	[ "$o_status" -eq 0 ]
	run same_status
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "dkms_test/1.0, $KVER, $ARCH: built" ]
	[ "${lines[1]}" = "dkms_test/1.0, $K2, $ARCH: built" ]
	[ -z "$(kos "$O")" ]
	[ -z "$(kos "$O" "$K2")" ]
	both unbuild dkms_test/1.0 --all
	[ "$o_status" -eq 0 ]
	run same_status
	[ "$status" -eq 0 ]
	[ "$output" = "dkms_test/1.0: added" ]
}

@test "every action takes the path of a dkms.conf, or of its directory" {
	# DKMS's run_test.sh: "dkms build -k K test/dkms_test-1.0/dkms.conf" adds and builds,
	# "dkms install -k K test/dkms_test-1.0" adds, builds, installs (dkms 3.0.10 itself takes
	# the path only for add: build exits 3 there); ours also for uninstall, unbuild, remove
	O=$BATS_TEST_TMPDIR/ours
	new_root "$O"
	upkg "$BATS_TEST_TMPDIR/t/dkms_test-1.0" dkms_test 1.0 < /dev/null
	c=$BATS_TEST_TMPDIR/t/dkms_test-1.0/dkms.conf
	run ours "$O" build -k "$KVER" "$c"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Creating symlink /var/lib/dkms/dkms_test/1.0/source -> /usr/src/dkms_test-1.0"* ]]
	[ -f "$O/usr/src/dkms_test-1.0/dkms.conf" ]
	run ours "$O" status
	[ "$output" = "dkms_test/1.0, $KVER, $ARCH: built" ]
	run ours "$O" install -k "$KVER" "${c%/dkms.conf}"
	[ "$status" -eq 0 ]
	run ours "$O" status
	[ "$output" = "dkms_test/1.0, $KVER, $ARCH: installed" ]
	run ours "$O" uninstall -k "$KVER" "$c"
	[ "$status" -eq 0 ]
	run ours "$O" unbuild -k "$KVER" "$O/usr/src/dkms_test-1.0"
	[ "$status" -eq 0 ]
	run ours "$O" status
	[ "$output" = "dkms_test/1.0: added" ]
	run ours "$O" remove --all "$O/usr/src/dkms_test-1.0/dkms.conf"
	[ "$status" -eq 0 ]
	run ours "$O" status
	[ -z "$output" ]
	# a fresh source through its directory: added, built, installed at once
	rm -rf "$O/usr/src/dkms_test-1.0"
	run ours "$O" install -k "$KVER" "${c%/dkms.conf}"
	[ "$status" -eq 0 ]
	run ours "$O" status
	[ "$output" = "dkms_test/1.0, $KVER, $ARCH: installed" ]
}

@test "PATCH: subdir/ under patches/ applies; '..' and absolute paths are refused naming the field; a missing patch exits 5" {
	O=$BATS_TEST_TMPDIR/ours
	new_root "$O"
	p=$O/usr/src/dkms_patches_test-1.0
	upkg "$p" dkms_patches_test 1.0 <<-'EOF'
		PATCH=(patch1.patch subdir/patch2.patch)
	EOF
	sed -i 's/dkms_test/dkms_patches_test/' "$p/dkms.conf" && mv "$p/dkms_test.c" "$p/dkms_patches_test.c"
	echo 'obj-m += dkms_patches_test.o' > "$p/Makefile"
	mkdir -p "$p/patches/subdir"
	cp "$p/dkms_patches_test.c" "$BATS_TEST_TMPDIR/a.c"
	echo 'MODULE_INFO(patch1, "applied");' >> "$BATS_TEST_TMPDIR/a.c"
	(cd "$BATS_TEST_TMPDIR" && diff -u --label a/dkms_patches_test.c --label b/dkms_patches_test.c \
		"$p/dkms_patches_test.c" a.c > "$p/patches/patch1.patch") || true
	cp "$BATS_TEST_TMPDIR/a.c" "$BATS_TEST_TMPDIR/b.c"
	echo 'MODULE_INFO(patch2, "applied");' >> "$BATS_TEST_TMPDIR/b.c"
	(cd "$BATS_TEST_TMPDIR" && diff -u --label a/dkms_patches_test.c --label b/dkms_patches_test.c \
		a.c b.c > "$p/patches/subdir/patch2.patch") || true
	run ours "$O" install dkms_patches_test/1.0 -k "$KVER"
	echo "$output"
	[ "$status" -eq 0 ]
	ko=$O/lib/modules/$KVER/updates/dkms/dkms_patches_test.ko
	[ "$(modinfo -F patch2 "$ko")" = applied ]
	[ "$(modinfo -F patch1 "$ko")" = applied ]

	# DKMS's dkms_conf_test_patch_badpath1/2: '..' anywhere is refused, the source left as it is
	for bad in ../badpath.patch subdir/../badpath.patch /etc/passwd; do
		sed -i '/^PATCH/d' "$p/dkms.conf"
		echo "PATCH[0]=\"$bad\"" >> "$p/dkms.conf"
		run ours "$O" build dkms_patches_test/1.0 -k "$KVER" --force
		echo "$bad: $output"
		[ "$status" -ne 0 ]
		[[ "$output" == *"PATCH[0]='$bad'"* ]]
		[[ "$output" == *"$p/dkms.conf"* ]]
	done
	# a patch reached through a symlinked directory is not below patches/: not applied
	mv "$p/patches/subdir" "$BATS_TEST_TMPDIR/outside"
	ln -s "$BATS_TEST_TMPDIR/outside" "$p/patches/subdir"
	sed -i '/^PATCH/d' "$p/dkms.conf"
	echo 'PATCH=(patch1.patch subdir/patch2.patch)' >> "$p/dkms.conf"
	run ours "$O" build dkms_patches_test/1.0 -k "$KVER" --force
	echo "$output"
	[ "$status" -eq 5 ]
	DKM_HOOK_ROOT=$O run "$DKM" build dkms_patches_test/1.0 -k "$KVER" --force
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"patches/subdir"* ]]
	# dkms_conf_test_patch_missing: exit 5, as DKMS's "cannot be found in .../patches/"
	sed -i '/^PATCH/d' "$p/dkms.conf"
	echo 'PATCH[0]="missing.patch"' >> "$p/dkms.conf"
	run ours "$O" build dkms_patches_test/1.0 -k "$KVER" --force
	echo "$output"
	[ "$status" -eq 5 ]
	[[ "$output" == *"missing.patch"* ]]
}

@test "a missing patch exits 5, like Debian's dkms" {
	both_roots
	for r in "$T" "$O"; do
		upkg "$r/usr/src/dkms_conf_test-1.0" dkms_conf_test 1.0 <<-'EOF'
			PATCH="missing.patch"
		EOF
	done
	both add dkms_conf_test/1.0
	both build dkms_conf_test/1.0 -k "$KVER"
	[ "$o_status" -eq 5 ]
	run same_status
	[ "$output" = "dkms_conf_test/1.0: added" ]
}

@test "DEST_MODULE_LOCATION: only the prefix (/kernel, /updates, /extra) is checked, like Debian's dkms; an empty dkms.conf exits 8" {
	both_roots
	for r in "$T" "$O"; do
		upkg "$r/usr/src/dkms_test-1.0" dkms_test 1.0 < /dev/null
		sed -i 's|^DEST_MODULE_LOCATION.*|DEST_MODULE_LOCATION[0]="/updates-dkms-test"|' \
			"$r/usr/src/dkms_test-1.0/dkms.conf"
		mkdir -p "$r/usr/src/dkms_conf_test_empty"
		: > "$r/usr/src/dkms_conf_test_empty/dkms.conf"
	done
	both add dkms_test/1.0
	[ "$o_status" -eq 0 ]
	both build dkms_test/1.0 -k "$KVER"
	[ "$o_status" -eq 0 ]
	run same_status
	[ "$output" = "dkms_test/1.0, $KVER, $ARCH: built" ]
	# a location that does not start with one of them stays refused
	sed -i 's|^DEST_MODULE_LOCATION.*|DEST_MODULE_LOCATION[0]="/misc"|' "$O/usr/src/dkms_test-1.0/dkms.conf"
	run ours "$O" build dkms_test/1.0 -k "$KVER" --force
	[ "$status" -eq 8 ]
	[[ "$output" == *"DEST_MODULE_LOCATION[0]='/misc'"* ]]

	run theirs "$T" add /usr/src/dkms_conf_test_empty
	t=$status
	run ours "$O" add "$O/usr/src/dkms_conf_test_empty"
	echo "theirs $t, ours $status: $output"
	[ "$t" -eq 8 ]
	[ "$status" -eq 8 ]
	[[ "$output" == *"PACKAGE_NAME"* ]]
}

@test "mok_signing_key naming a missing file: 'modules won't be signed', built unsigned; a key that is not the certificate's is refused" {
	O=$BATS_TEST_TMPDIR/ours
	new_root "$O"
	upkg "$O/usr/src/dkms_test-1.0" dkms_test 1.0 < /dev/null
	mkdir -p "$O/etc/dkms/framework.conf.d"
	# DKMS's test/framework/bad_key_file_path.conf
	echo 'mok_signing_key="/no/such/path.key"' > "$O/etc/dkms/framework.conf.d/t.conf"
	run ours "$O" build dkms_test/1.0 -k "$KVER"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Key file /no/such/path.key not found and can't be generated, modules won't be signed"* ]]
	[ ! -e "$O/no" ]
	run ours "$O" install dkms_test/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	[ -z "$(modinfo -F signer "$O/lib/modules/$KVER/updates/dkms/dkms_test.ko")" ]
	# bad_cert_file_path.conf
	echo 'mok_certificate="/no/such/path.crt"' > "$O/etc/dkms/framework.conf.d/t.conf"
	run ours "$O" build dkms_test/1.0 -k "$KVER" --force
	[ "$status" -eq 0 ]
	[[ "$output" == *"Certificate file /no/such/path.crt not found and can't be generated, modules won't be signed"* ]]

	# a key next to a certificate of another key: never signed with that pair
	mkdir -p "$O/etc/mykeys"
	for n in a b; do
		openssl req -new -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=key $n/" \
			-outform DER -keyout "$O/etc/mykeys/$n.key" -out "$O/etc/mykeys/$n.der" 2>/dev/null
	done
	printf 'mok_signing_key=/etc/mykeys/a.key\nmok_certificate=/etc/mykeys/b.der\n' \
		> "$O/etc/dkms/framework.conf.d/t.conf"
	run ours "$O" install dkms_test/1.0 -k "$KVER" --force
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"/etc/mykeys/a.key"*"does not match"*"/etc/mykeys/b.der"* ]]
	[ -z "$(modinfo -F signer "$O/lib/modules/$KVER/updates/dkms/dkms_test.ko")" ]
}

@test "autoinstall -k for a kernel without headers exits 11; kernel_postinst keeps its lenience" {
	K3=6.1.0-998-amd64
	O=$BATS_TEST_TMPDIR/ours
	new_root "$O"
	mkdir -p "$O/lib/modules/$K3"
	upkg "$O/usr/src/dkms_test-1.0" dkms_test 1.0 < /dev/null
	run ours "$O" add dkms_test/1.0
	[ "$status" -eq 0 ]
	run ours "$O" autoinstall -k "$K3"
	echo "$output"
	[ "$status" -eq 11 ]
	[[ "$output" == *"linux-headers-$K3"* ]]
	run ours "$O" kernel_postinst -k "$K3"
	[ "$status" -eq 0 ]
	[[ "$output" == *"kernel headers for this kernel do not seem to be installed"* ]]
}

@test "installing 1.0 over an installed 2.0 is refused (exit 6) and 2.0 stays, unless --force" {
	O=$BATS_TEST_TMPDIR/ours
	new_root "$O"
	upkg "$O/usr/src/dkms_multiver_test-1.0" dkms_multiver_test 1.0 < /dev/null
	upkg "$O/usr/src/dkms_multiver_test-2.0" dkms_multiver_test 2.0 < /dev/null
	ours "$O" add dkms_multiver_test/1.0
	ours "$O" add dkms_multiver_test/2.0
	run ours "$O" install dkms_multiver_test/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	run ours "$O" install dkms_multiver_test/2.0 -k "$KVER"
	[ "$status" -eq 0 ]
	ko=$O/lib/modules/$KVER/updates/dkms/dkms_test.ko
	[ "$(modinfo -F version "$ko")" = 2.0 ]
	run ours "$O" install dkms_multiver_test/1.0 -k "$KVER"
	echo "$output"
	[ "$status" -eq 6 ]
	[[ "$output" == *"is not newer than what is already found in kernel $KVER (2.0)"* ]]
	[ "$(modinfo -F version "$ko")" = 2.0 ]
	run ours "$O" status
	[ "${lines[0]}" = "dkms_multiver_test/1.0, $KVER, $ARCH: built" ]
	[ "${lines[1]}" = "dkms_multiver_test/2.0, $KVER, $ARCH: installed" ]
	run ours "$O" install dkms_multiver_test/1.0 -k "$KVER" --force
	[ "$status" -eq 0 ]
	[ "$(modinfo -F version "$ko")" = 1.0 ]
}

@test "status of a package whose source is gone says broken" {
	O=$BATS_TEST_TMPDIR/ours
	new_root "$O"
	upkg "$O/usr/src/dkms_test-1.0" dkms_test 1.0 < /dev/null
	run ours "$O" add dkms_test/1.0
	[ "$status" -eq 0 ]
	rm -rf "$O/usr/src/dkms_test-1.0"
	run ours "$O" status
	echo "$output"
	[ "${lines[0]}" = "dkms_test/1.0: broken" ]
	[[ "$output" == *"Missing the module source directory or the symbolic link pointing to it."* ]]
}

# DKMS's test/dkms_scripts_test-1.0: every script "script.sh <what>"; ours writes where a real
# one writes /etc/modprobe.d: /out of the root (scripts that run as root run chrooted there), or
# else $hostout (outside the root: what a sandboxed script cannot write)
scripts_pkg() {
	local r=$1 p=$1/usr/src/dkms_scripts_test-1.0 f
	upkg "$p" dkms_scripts_test 1.0 <<-'EOF'
		POST_ADD="script.sh post_add"
		PRE_BUILD="script.sh pre_build"
		POST_BUILD="script.sh post_build"
		PRE_INSTALL="script.sh pre_install"
		POST_INSTALL="script.sh post_install"
		POST_REMOVE="script.sh post_remove"
	EOF
	hostout=$BATS_TEST_TMPDIR/hostout
	# a write it cannot do is no failure of the script (as in real ones: "cp ... || true")
	cat > "$p/script.sh" <<-EOF
		#!/bin/sh
		echo "\$1"
		if [ -d /out ]; then echo "\$1" > /out/"\$1"; else echo "\$1" > $hostout/"\$1" || true; fi
	EOF
	chmod 0755 "$p/script.sh"
	mkdir -p "$hostout" "$r/out"
	chmod 0755 "$hostout" "$r/out"
	reachable "$hostout"
	# a shell in the root, for the chroot
	mkdir -p "$r/bin"
	cp "$(readlink -f /bin/sh)" "$r/bin/sh"
	for f in $(ldd /bin/sh | grep -o '/[^ ]*'); do
		mkdir -p "$r$(dirname "$f")"
		cp "$(readlink -f "$f")" "$r$f"
	done
}

@test "package scripts: install-time ones of a root-owned source run as root; POST_ADD and build-time ones sandboxed" {
	O=$BATS_TEST_TMPDIR/ours
	new_root "$O"
	scripts_pkg "$O"
	run ours "$O" add dkms_scripts_test/1.0
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"POST_ADD script 'script.sh post_add' could not write '$hostout/post_add'"* ]]
	run ours "$O" install dkms_scripts_test/1.0 -k "$KVER"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"running POST_INSTALL script 'script.sh post_install' as root"* ]]
	[ "$(grep -c "PRE_BUILD script 'script.sh pre_build' could not write '$hostout/pre_build'" <<< "$output")" -eq 1 ]
	[ "$(grep -c "POST_BUILD script 'script.sh post_build' could not write '$hostout/post_build'" <<< "$output")" -eq 1 ]
	[[ "$output" != *"POST_INSTALL script 'script.sh post_install' could not write"* ]]
	run ours "$O" remove dkms_scripts_test/1.0 --all
	echo "$output"
	[ "$status" -eq 0 ]
	ls -ln "$O/out" "$hostout"
	for s in pre_install post_install post_remove; do
		[ "$(cat "$O/out/$s")" = "$s" ]
		[ "$(stat -c %u "$O/out/$s")" = 0 ]
	done
	# POST_ADD and the build ones stay in the sandbox: their writes were refused
	[ -z "$(ls -A "$hostout")" ]
	[ ! -e "$O/out/post_add" ]
	[ ! -e "$O/out/pre_build" ]
	[ ! -e "$O/out/post_build" ]
}

@test "package scripts with pkg_scripts_as_root=no, or of a source others may write: sandboxed, and a warning names the script and the path" {
	O=$BATS_TEST_TMPDIR/ours
	new_root "$O"
	scripts_pkg "$O"
	mkdir -p "$O/etc/dkm-hook"
	echo 'pkg_scripts_as_root=no' > "$O/etc/dkm-hook/dkm-hook.conf"
	run ours "$O" add dkms_scripts_test/1.0
	[ "$status" -eq 0 ]
	run ours "$O" install dkms_scripts_test/1.0 -k "$KVER"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$(ls -A "$O/out")$(ls -A "$hostout")" ]
	[ "$(grep -c "POST_INSTALL script 'script.sh post_install' could not write '$hostout/post_install'" <<< "$output")" -eq 1 ]
	[[ "$output" == *"(pkg_scripts_as_root=no)"* ]]

	# a group-writable file in the source: not trusted with root, whatever the setting
	echo 'pkg_scripts_as_root=yes' > "$O/etc/dkm-hook/dkm-hook.conf"
	chmod g+w "$O/usr/src/dkms_scripts_test-1.0/Makefile"
	run ours "$O" install dkms_scripts_test/1.0 -k "$KVER" --force
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$(ls -A "$O/out")$(ls -A "$hostout")" ]
	[[ "$output" == *"POST_INSTALL script 'script.sh post_install' could not write '$hostout/post_install'"* ]]
	[[ "$output" == *"Makefile' is group- or world-writable"* ]]
	run ours "$O" status
	[ "$output" = "dkms_scripts_test/1.0, $KVER, $ARCH: installed" ]
	# and a value other than yes or no is refused, naming the key
	echo 'pkg_scripts_as_root=maybe' > "$O/etc/dkm-hook/dkm-hook.conf"
	run ours "$O" status
	[ "$status" -ne 0 ]
	[[ "$output" == *"pkg_scripts_as_root"* ]]
}

@test "package scripts: autoinstall (a kernel's arrival) runs PRE_INSTALL and POST_INSTALL as install does" {
	O=$BATS_TEST_TMPDIR/ours
	new_root "$O"
	scripts_pkg "$O"
	run ours "$O" add dkms_scripts_test/1.0
	[ "$status" -eq 0 ]
	run ours "$O" autoinstall -k "$KVER"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"running PRE_INSTALL script 'script.sh pre_install' as root"* ]]
	[[ "$output" == *"running POST_INSTALL script 'script.sh post_install' as root"* ]]
	for s in pre_install post_install; do
		[ "$(cat "$O/out/$s")" = "$s" ]
	done
	[ -n "$(find "$O/lib/modules/$KVER" -name 'dkms_test.ko*')" ]

	# a PRE_INSTALL that fails vetoes the install, as with install
	rm "$O/out/post_install"
	sed -i 's/^echo "\$1"$/echo "$1"; [ "$1" != pre_install ] || exit 3/' "$O/usr/src/dkms_scripts_test-1.0/script.sh"
	run ours "$O" uninstall dkms_scripts_test/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	run ours "$O" autoinstall -k "$KVER"
	echo "$output"
	[[ "$output" == *"PRE_INSTALL failed: not installed for $KVER"* ]]
	[ ! -e "$O/out/post_install" ]
	[ -z "$(find "$O/lib/modules/$KVER" -name 'dkms_test.ko*')" ]
}
