# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the suites of the kernel entry points (kernel-install.bats, debian-hooks.bats,
# dracut.bats, initramfs-tools.bats, initrd.bats): the set-up they start from (a scratch root,
# a PATH with the built dkm-hook and a logging depmod, a stand-in dracut), a module "shipped
# with the kernel" to be displaced, a private mount namespace in which /lib/modules is the
# scratch root's; and the tests dracut.bats and initramfs-tools.bats have in common. Nothing
# here writes to the host's /lib/modules.

# shellcheck disable=SC2034 # PLUGIN, ORIG, ORIG_SHA are for the suites that load this file
# shellcheck disable=SC2154 # output and status are set by bats' run
PLUGIN=${DKM_HOOK_PLUGIN:-$(dirname "$DKM")/40-dkm-hook.install}

# hook_path — $HOOKBIN first on PATH: `dkm-hook` (the built binary) and a `depmod` that logs
# every call to $DEPMOD_LOG. It runs the real depmod only on a scratch tree: with -b, or in
# in_modules_ns (where /lib/modules is the scratch root's); any other call is logged as
# REFUSED and does nothing, so no test can touch the host's /lib/modules.
hook_path() {
	HOOKBIN=$BATS_TEST_TMPDIR/bin
	DEPMOD_LOG=$BATS_TEST_TMPDIR/depmod.log
	mkdir -p "$HOOKBIN"
	: >"$DEPMOD_LOG"
	ln -sfn "$DKM" "$HOOKBIN/dkm-hook"
	cat >"$HOOKBIN/depmod" <<-EOF
		#!/bin/sh
		case " \$* " in
		*" -b "*) ;;
		*) if [ ! -e /lib/modules/.dkm-test-scratch ]; then
			echo "REFUSED \$*" >>"$DEPMOD_LOG"
			exit 0
		fi ;;
		esac
		echo "RAN \$*" >>"$DEPMOD_LOG"
		exec /usr/sbin/depmod "\$@"
	EOF
	chmod +x "$HOOKBIN/depmod"
	export PATH=$HOOKBIN:$PATH DEPMOD_LOG
}

# hook_root — the set-up every entry-point suite starts from: the kernel headers, a Debian
# scratch root ($ROOT), hook_path, and T, the test's own directory
hook_root() {
	require_headers
	make_root
	debian_root
	hook_path
	T=$BATS_TEST_TMPDIR
}

# hook_kernel_root — hook_root with the index files a kernel package ships (so that depmod has
# nothing to warn about) and compress=xz in the root's dkm-hook.conf
hook_kernel_root() {
	hook_root
	(cd "$ROOT/lib/modules/$KVER" && touch modules.order modules.builtin modules.builtin.modinfo)
	conf compress=xz
}

# stub_dracut — a stand-in dracut in $HOOKBIN: records how it was called in $DRACUT_LOG
stub_dracut() {
	DRACUT_LOG=$T/dracut.log
	printf '#!/bin/sh\necho "$*" >>"%s"\n' "$DRACUT_LOG" >"$HOOKBIN/dracut"
	chmod +x "$HOOKBIN/dracut"
}

# depmod_runs — how many depmods ran (on the scratch tree)
depmod_runs() {
	grep -c '^RAN ' "$DEPMOD_LOG" || true
}

# in_modules_ns CMD [ARGS...] — CMD in a private mount namespace where /lib/modules is
# $ROOT/lib/modules: what kernel-install's own plugins (50-depmod.install) see is the scratch
# tree. The bind mount dies with the namespace.
in_modules_ns() {
	touch "$ROOT/lib/modules/.dkm-test-scratch"
	# shellcheck disable=SC2016 # expanded by the inner sh
	unshare --mount --propagation private -- \
		sh -c 'mount --bind "$1" /lib/modules && shift && exec "$@"' sh "$ROOT/lib/modules" "$@"
}

# original_module — a dkms_test.ko "shipped with the kernel" (description "shipped with the
# kernel"), built once per test file; prints its path.
original_module() {
	local d=$BATS_FILE_TMPDIR/original
	if [ ! -f "$d/dkms_test.ko" ]; then
		rm -rf "$d" && cp -a "$FIXTURES/module-test" "$d"
		sed -i 's/MODULE_DESCRIPTION(.*)/MODULE_DESCRIPTION("shipped with the kernel")/' "$d/dkms_test.c"
		grep -q 'shipped with the kernel' "$d/dkms_test.c"
		make -C "/lib/modules/$KVER/build" M="$d" modules >"$d/make.log" 2>&1
	fi
	echo "$d/dkms_test.ko"
}

# ship_original — put it at kernel/drivers/misc/dkms_test.ko in the root, index the tree
# shellcheck disable=SC2034
ship_original() {
	ORIG=$ROOT/lib/modules/$KVER/kernel/drivers/misc/dkms_test.ko
	mkdir -p "${ORIG%/*}" "$ROOT/etc/depmod.d"
	cp "$(original_module)" "$ORIG"
	ORIG_SHA=$(sha256sum <"$ORIG")
	/usr/sbin/depmod -b "$ROOT" -C "$ROOT/etc/depmod.d" "$KVER" 2>/dev/null
}

# conf KEY=VALUE... — the root's dkm-hook.conf
conf() {
	mkdir -p "$ROOT/etc/dkm-hook"
	printf '%s\n' "$@" >"$ROOT/etc/dkm-hook/dkm-hook.conf"
}

# break_package DIR — a source that no longer compiles
break_package() {
	echo '#error broken on purpose by the test' >>"$1/dkms_test.c"
}

# assert_installed_signed_xz MODULE — the root's index finds MODULE at updates/dkms/MODULE.ko.xz,
# an intact xz file, signed with the test key and sha256
assert_installed_signed_xz() {
	local f
	f=$(modinfo -b "$ROOT" -k "$KVER" -F filename "$1")
	[ "$f" = "$ROOT/lib/modules/$KVER/updates/dkms/$1.ko.xz" ]
	xz -t "$f"
	[ "$(modinfo -b "$ROOT" -k "$KVER" -F signer "$1")" = "dkm-hook test key" ]
	[ "$(modinfo -b "$ROOT" -k "$KVER" -F sig_hashalgo "$1")" = sha256 ]
}

state_log() { # state_log <pkg> <ver>: the build log path dkm-hook records
	echo "$ROOT/var/lib/dkm-hook/packages/$1/$2/kernels/$KVER/$(uname -m)/build.log"
}

# initrd_and_other_added — module-test, which belongs in the initramfs (REMAKE_INITRD), and
# dep-base (AUTOINSTALL), which does not: both added, nothing built
initrd_and_other_added() {
	local src
	src=$(fixture module-test)
	echo 'REMAKE_INITRD="yes"' >>"$src/dkms.conf"
	"$DKM" add "$src" >/dev/null
	"$DKM" add "$(fixture dep-base)" >/dev/null
}

# boot_initrd — an initramfs of $KVER in the root's /boot, for dkm-hook to regenerate
boot_initrd() {
	mkdir -p "$ROOT/boot"
	: >"$ROOT/boot/initrd.img-$KVER"
}

# initrd_installed_other_not — module-test (REMAKE_INITRD) installed by hand, dep-base
# (AUTOINSTALL) registered and never built
initrd_installed_other_not() {
	local src
	src=$(fixture module-test)
	echo 'REMAKE_INITRD="yes"' >>"$src/dkms.conf"
	"$DKM" add "$src" >/dev/null
	"$DKM" install module-test/0.1 -k "$KVER" --no-initrd >/dev/null
	"$DKM" add "$(fixture dep-base)" >/dev/null
}

# no_autoinstall_installed_and_not — the same, with /etc/dkms/no-autoinstall set
no_autoinstall_installed_and_not() {
	initrd_installed_other_not
	mkdir -p "$ROOT/etc/dkms"
	touch "$ROOT/etc/dkms/no-autoinstall"
}

# The tests dracut.bats and initramfs-tools.bats share, one generator each. The suite defines
# mkinitrd [ARGS...] (its generator with our module or hook, on the scratch root, making $IMG)
# and image_files (the paths in $IMG); a helper below sets up, runs `mkinitrd ARGS` and checks
# what holds for both, and the suite then checks what its generator does its own way (dracut
# keeps our .ko.xz in the image, mkinitramfs decompresses it; each has its own messages).

# in_image ERE, not_in_image ERE — a path in the image matches (does not match) ERE
in_image() {
	image_files | grep -qE "$1"
}

not_in_image() {
	! image_files | grep -qE "$1"
}

# initrd_alone [ARGS...] — no kernel hook has run, module-test (REMAKE_INITRD) and dep-base
# (AUTOINSTALL) are only added: the generator alone builds and installs both; dep-base does not
# belong and stays out of the image
initrd_alone() {
	initrd_and_other_added
	# no kernel hook ran: nothing is built yet
	[ -z "$(find "$ROOT/lib/modules/$KVER" -name '*.ko*')" ]
	run mkinitrd "$@"
	echo "$output"
	[ "$status" -eq 0 ]
	# dep-base is AUTOINSTALL (so it was built and installed) but does not belong in the image
	[ -f "$ROOT/lib/modules/$KVER/updates/dkms/dep_base.ko.xz" ]
	not_in_image 'dep_base\.ko'
}

# initrd_no_autoinstall [ARGS...] — /etc/dkms/no-autoinstall (no_autoinstall_installed_and_not):
# the generator builds nothing, says so and makes the image; what is installed (dkms_test) is for
# the suite to find in it
initrd_no_autoinstall() {
	no_autoinstall_installed_and_not
	run mkinitrd "$@"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"dkm-hook: automatic builds are disabled by '$ROOT/etc/dkms/no-autoinstall': adding what is installed"* ]]
	# dep-base was not built behind the admin's back
	[ ! -e "$ROOT/lib/modules/$KVER/updates/dkms/dep_base.ko.xz" ]
	[ ! -e "$ROOT/var/lib/dkm-hook/packages/dep-base/1.0/kernels" ]
}

# initrd_skip_rebuild [ARGS...] — run by dkm-hook itself (DKM_HOOK_SKIP_REBUILD=1), after
# initrd_installed_other_not: the generator builds nothing and makes the image; what is installed
# (dkms_test) is for the suite to find in it
initrd_skip_rebuild() {
	initrd_installed_other_not
	DKM_HOOK_SKIP_REBUILD=1 run mkinitrd "$@"
	echo "$output"
	[ "$status" -eq 0 ]
	# an install of module-test must not install dep-base behind the admin's back
	[ ! -e "$ROOT/var/lib/dkm-hook/packages/dep-base/1.0/kernels" ]
}

# initrd_belonging_fails [ARGS...] — module-test belongs (REMAKE_INITRD) but does not compile:
# the generator fails, leaves no image with anything in it, and the error names the module and
# its build log
initrd_belonging_fails() {
	local src
	src=$(fixture module-test)
	echo 'REMAKE_INITRD="yes"' >>"$src/dkms.conf"
	break_package "$src"
	"$DKM" add "$src" >/dev/null
	run mkinitrd "$@"
	echo "$output"
	[ "$status" -ne 0 ]
	# none from dracut; mkinitramfs touches its output first, so it is left empty
	# (update-initramfs writes to IMAGE.new and keeps the old image)
	[ ! -s "$IMG" ]
	[[ "$output" == *"dkm-hook: error: dkms_test (module-test/0.1) belongs in the initramfs of $KVER (REMAKE_INITRD=\"yes\" in its dkms.conf) but failed to build (log: '$(state_log module-test 0.1)'): an initramfs without it would not boot"* ]]
}

# initrd_fail_policy_never [ARGS...] — after initrd_belonging_fails, with fail_policy=never: the
# image is made, without the module, and a warning says so
initrd_fail_policy_never() {
	conf compress=xz fail_policy=never
	run mkinitrd "$@"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -s "$IMG" ]
	[[ "$output" == *"dkm-hook: warning: dkms_test (module-test/0.1) belongs in the initramfs of $KVER (REMAKE_INITRD=\"yes\" in its dkms.conf) but failed to build (log: '$(state_log module-test 0.1)'): the initramfs is made without it (fail_policy=never)"* ]]
	not_in_image 'dkms_test\.ko'
}

# initrd_root_provider [ARGS...] — root_device= an ext4 image and fs-provider added: the
# generator makes the image; dkm_fsprov is for the suite to find in it
initrd_root_provider() {
	truncate -s 8M "$T/root.img"
	mkfs.ext4 -q -F "$T/root.img"
	conf compress=xz "root_device=$T/root.img"
	"$DKM" add "$(fixture fs-provider)" >/dev/null
	run mkinitrd "$@"
	echo "$output"
	[ "$status" -eq 0 ]
}
