#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The kernel-install plugin (40-dkm-hook.install) under the real `kernel-install` of systemd:
# a scratch BOOT_ROOT, MACHINE_ID and KERNEL_INSTALL_CONF_ROOT, the plugin list given by
# KERNEL_INSTALL_PLUGINS, the scratch root through DKM_HOOK_ROOT (`add` takes no --root).
# Where systemd's real 50-depmod.install runs too, the test runs in a private mount namespace
# whose /lib/modules is the scratch root's, so it indexes the scratch tree, never the host's.

load lib/common
load lib/kernel-hooks

setup() {
	command -v kernel-install >/dev/null || {
		echo "kernel-install (systemd) is needed" >&2
		return 1
	}
	hook_kernel_root
	mkdir -p "$T/boot" "$T/kconf"
	: >"$T/vmlinuz"
	# a plugin after ours: it runs only if the installation goes on
	MARKER=$T/marker.log
	printf '#!/bin/sh\necho "$*" >>"%s"\n' "$MARKER" >"$T/99-marker.install"
	chmod +x "$T/99-marker.install"
	DEPMOD_PLUGIN=/usr/lib/kernel/install.d/50-depmod.install
}

# ki <plugins> <kernel-install args...> — the real kernel-install, our environment
ki() {
	local plugins=$1
	shift
	local cmd=(env BOOT_ROOT="$T/boot" MACHINE_ID=0123456789abcdef0123456789abcdef
		KERNEL_INSTALL_CONF_ROOT="$T/kconf" KERNEL_INSTALL_PLUGINS="$plugins" kernel-install "$@")
	case ${KI_NS-} in
	dirs) in_plugin_ns "${cmd[@]}" ;;
	?*) in_modules_ns "${cmd[@]}" ;;
	*) "${cmd[@]}" ;;
	esac
}
# ki_ns: the same in a namespace where /lib/modules is the root's (for 50-depmod.install)
ki_ns() {
	KI_NS=1 ki "$@"
}
# ki_dirs <kernel-install args...>: kernel-install choosing its plugins from its directories,
# which are the test's (in_plugin_ns)
ki_dirs() {
	KI_NS=dirs ki "" "$@"
}

# plugin_dirs [NAME] — the plugin directories of in_plugin_ns: $KI/usr (for
# /usr/lib/kernel/install.d) holds our plugin as NAME (default 40-dkm-hook.install, a link to
# the built one), systemd's real 50-depmod.install and 99-marker.install; $KI/etc (for
# /etc/kernel/install.d) is empty, so are the kernel/install.d dirs of $KI/run and $KI/usrlocal
# (for /run and /usr/local/lib). A kernel/ dir in the root's module tree, so that
# 50-depmod.install does its work.
plugin_dirs() {
	[ -x "$DEPMOD_PLUGIN" ] || skip "systemd's $DEPMOD_PLUGIN is not installed"
	KI=$T/ki
	mkdir -p "$KI/etc" "$KI/usr" "$KI/run/kernel/install.d" "$KI/usrlocal/kernel/install.d"
	ln -s "$PLUGIN" "$KI/usr/${1:-40-dkm-hook.install}"
	cp "$DEPMOD_PLUGIN" "$KI/usr/50-depmod.install"
	cp "$T/99-marker.install" "$KI/usr/99-marker.install"
	mkdir -p "$ROOT/lib/modules/$KVER/kernel"
}

# in_plugin_ns CMD [ARGS...] — CMD in a private mount namespace where /etc/kernel/install.d and
# /usr/lib/kernel/install.d are $KI/etc and $KI/usr, /run and /usr/local/lib are $KI/run and
# $KI/usrlocal, and /lib/modules is the root's (as in in_modules_ns). It all dies with it.
in_plugin_ns() {
	touch "$ROOT/lib/modules/.dkm-test-scratch"
	# shellcheck disable=SC2016 # expanded by the inner sh
	unshare --mount --propagation private -- sh -c '
		k=$1 m=$2
		shift 2
		mount --bind "$m" /lib/modules &&
			mount --bind "$k/etc" /etc/kernel/install.d &&
			mount --bind "$k/usr" /usr/lib/kernel/install.d &&
			mount --bind "$k/run" /run &&
			mount --bind "$k/usrlocal" /usr/local/lib &&
			exec "$@"' sh "$KI" "$ROOT/lib/modules" "$@"
}

# The kernel-install on PATH tells the plugin which rules choose the plugins: Debian 12's is the
# shell script of systemd 252; systemd 254 and later install a C program (an ELF file).
script_kernel_install() {
	[ "$(head -c2 "$(command -v kernel-install)")" = '#!' ] ||
		skip "needs the shell-script kernel-install of systemd 253 or older (Debian 12 has 252)"
}
# kernel_install_is program|unknown — a stand-in kernel-install first on PATH: an ELF file (a
# copy of true, never run) or a file that is neither a program nor a script. The plugin is
# then run as that kernel-install would run it (as_kernel_install).
kernel_install_is() {
	case $1 in
	program) cp "$(type -P true)" "$HOOKBIN/kernel-install" ;;
	unknown) printf 'neither a program nor a script\n' >"$HOOKBIN/kernel-install" ;;
	esac
	chmod +x "$HOOKBIN/kernel-install"
}
# as_kernel_install [NAME] — our plugin as NAME (default 40-dkm-hook.install) from
# /usr/lib/kernel/install.d, run in in_plugin_ns with kernel-install's arguments for add
as_kernel_install() {
	in_plugin_ns env -u KERNEL_INSTALL_PLUGINS \
		"/usr/lib/kernel/install.d/${1:-40-dkm-hook.install}" add "$KVER" "$T/boot/e" "$T/vmlinuz"
}
# again — module-test no longer installed, the depmod log empty: the next add starts over
again() {
	"$DKM" uninstall module-test/0.1 -k "$KVER" >/dev/null
	: >"$DEPMOD_LOG"
}
# ours_ran, ours_skipped — after the plugin: our depmod ran once on the root, or none ran
ours_ran() {
	cat "$DEPMOD_LOG"
	[ "$(depmod_runs)" -eq 1 ]
	[[ "$(cat "$DEPMOD_LOG")" == "RAN -a -b $ROOT "*" $KVER" ]]
	[ -f "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko.xz" ]
}
ours_skipped() {
	cat "$DEPMOD_LOG"
	[ "$(depmod_runs)" -eq 0 ]
	[ -f "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko.xz" ]
}

two_packages() {
	"$DKM" add "$(fixture module-test)" >/dev/null
	"$DKM" add "$(fixture dep-base)" >/dev/null
	# not AUTOINSTALL: a new kernel does not get it
	src=$(fixture fs-provider)
	sed -i '/^AUTOINSTALL=/d' "$src/dkms.conf"
	"$DKM" add "$src" >/dev/null
}

@test "add: every AUTOINSTALL package installed, signed, .ko.xz; one depmod (50-depmod.install's); later plugins run" {
	[ -x "$DEPMOD_PLUGIN" ] || skip "systemd's $DEPMOD_PLUGIN is not installed"
	two_packages
	ship_original
	run ki_ns "$PLUGIN $DEPMOD_PLUGIN $T/99-marker.install" add "$KVER" "$T/vmlinuz"
	echo "$output"
	[ "$status" -eq 0 ]
	# quiet unless KERNEL_INSTALL_VERBOSE
	[ -z "$output" ]
	[ "$(cat "$MARKER")" = "add $KVER $T/boot/0123456789abcdef0123456789abcdef/$KVER $T/vmlinuz" ]
	assert_installed_signed_xz dkms_test
	assert_installed_signed_xz dep_base
	[ -z "$(find "$ROOT/lib/modules/$KVER" -name 'dkm_fsprov.ko*')" ]
	# the kernel's own dkms_test.ko is displaced (archived), not shadowed
	[ ! -e "$ORIG" ]
	# depmod ran once, and it was 50-depmod.install's (no -b): ours was skipped
	cat "$DEPMOD_LOG"
	[ "$(depmod_runs)" -eq 1 ]
	[ "$(cat "$DEPMOD_LOG")" = "RAN -a $KVER" ]
}

@test "remove: none of ours left, the displaced original back at its path; 50-depmod.install drops the index" {
	[ -x "$DEPMOD_PLUGIN" ] || skip "systemd's $DEPMOD_PLUGIN is not installed"
	two_packages
	ship_original
	ki_ns "$PLUGIN $DEPMOD_PLUGIN $T/99-marker.install" add "$KVER" "$T/vmlinuz"
	: >"$DEPMOD_LOG"
	run ki_ns "$PLUGIN $DEPMOD_PLUGIN $T/99-marker.install" remove "$KVER"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(tail -n1 "$MARKER")" = "remove $KVER $T/boot/0123456789abcdef0123456789abcdef/$KVER" ]
	[ -z "$(find "$ROOT/lib/modules/$KVER" -name 'dkms_test.ko.xz' -o -name 'dep_base.ko*')" ]
	[ "$(sha256sum <"$ORIG")" = "$ORIG_SHA" ]
	[ ! -e "$ROOT/lib/modules/$KVER/updates" ]
	# the kernel's state is gone; the packages stay registered
	[ ! -e "$ROOT/var/lib/dkm-hook/kernels/$KVER" ]
	[ ! -e "$ROOT/var/lib/dkm-hook/packages/module-test/0.1/kernels/$KVER" ]
	run "$DKM" status module-test
	[ "$output" = "module-test/0.1: added (modules: dkms_test)" ]
	# 50-depmod.install removes the index files of a removed kernel: no depmod at all
	[ "$(depmod_runs)" -eq 0 ]
	[ ! -e "$ROOT/lib/modules/$KVER/modules.dep" ]
}

@test "without 50-depmod.install after it, the plugin runs depmod itself, once, in the root; -v shows progress" {
	two_packages
	ship_original
	run ki "$PLUGIN $T/99-marker.install" -v add "$KVER" "$T/vmlinuz"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"dkm-hook: $KVER: 2 built and installed, 0 up to date, 0 failed"* ]]
	[ "$(depmod_runs)" -eq 1 ]
	[[ "$(cat "$DEPMOD_LOG")" == "RAN -a -b $ROOT "*" $KVER" ]]
	assert_installed_signed_xz dkms_test
	assert_installed_signed_xz dep_base

	# remove, with nobody to drop the index: ours re-indexes the tree, the original is back
	: >"$DEPMOD_LOG"
	run ki "$PLUGIN $T/99-marker.install" remove "$KVER"
	[ "$status" -eq 0 ]
	[ "$(depmod_runs)" -eq 1 ]
	[ "$(modinfo -b "$ROOT" -k "$KVER" -F filename dkms_test)" = "$ORIG" ]
	[ "$(modinfo -b "$ROOT" -k "$KVER" -F description dkms_test)" = "shipped with the kernel" ]
}

@test "a 50-depmod.install that works on another tree (the host's) does not make the plugin skip its own" {
	[ -x "$DEPMOD_PLUGIN" ] || skip "systemd's $DEPMOD_PLUGIN is not installed"
	two_packages
	ship_original
	# no namespace: 50-depmod.install sees the host's /lib/modules, not our root
	run ki "$PLUGIN $DEPMOD_PLUGIN $T/99-marker.install" add "$KVER" "$T/vmlinuz"
	[ "$status" -eq 0 ]
	[ "$(depmod_runs)" -eq 1 ]
	[[ "$(grep '^RAN ' "$DEPMOD_LOG")" == "RAN -a -b $ROOT "*" $KVER" ]]
	assert_installed_signed_xz dkms_test
}

@test "a failing package beside a working one: the kernel is installed, a warning names the package and its log" {
	src=$(fixture module-test)
	break_package "$src"
	"$DKM" add "$src" >/dev/null
	"$DKM" add "$(fixture dep-base)" >/dev/null
	run ki "$PLUGIN $T/99-marker.install" add "$KVER" "$T/vmlinuz"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -s "$MARKER" ]
	log=$(state_log module-test 0.1)
	[[ "$output" == *"dkm-hook: warning: module-test/0.1 failed to build for $KVER (log: '$log'): $KVER is installed without it"* ]]
	assert_installed_signed_xz dep_base
}

@test "a package needed to boot that fails stops the installation (exit 1, never 77): later plugins do not run" {
	src=$(fixture module-test)
	break_package "$src"
	echo 'REMAKE_INITRD="yes"' >>"$src/dkms.conf"
	"$DKM" add "$src" >/dev/null
	"$DKM" add "$(fixture dep-base)" >/dev/null
	run ki "$PLUGIN $T/99-marker.install" add "$KVER" "$T/vmlinuz"
	echo "$output"
	[ "$status" -eq 1 ]
	[ ! -e "$MARKER" ]
	log=$(state_log module-test 0.1)
	[[ "$output" == *"dkm-hook: error: module-test/0.1 failed to build for $KVER (log: '$log'), and $KVER needs it to boot (REMAKE_INITRD=\"yes\" in its dkms.conf): stopping the installation of $KVER, so the machine keeps booting its current kernel; fix the build and run 'dkm-hook rebuild $KVER', or set fail_policy=never"* ]]
	# the others are installed all the same
	assert_installed_signed_xz dep_base

	# fail_policy=never: a warning, the installation goes on
	conf compress=xz fail_policy=never
	run ki "$PLUGIN $T/99-marker.install" add "$KVER" "$T/vmlinuz"
	[ "$status" -eq 0 ]
	[ -s "$MARKER" ]
	[[ "$output" == *"dkm-hook: warning: module-test/0.1 failed to build for $KVER (log: '$log'): $KVER is installed without it"* ]]
}

@test "fail_policy=always: any failed package stops the installation" {
	src=$(fixture module-test)
	break_package "$src"
	"$DKM" add "$src" >/dev/null
	conf compress=xz fail_policy=always
	run ki "$PLUGIN $T/99-marker.install" add "$KVER" "$T/vmlinuz"
	[ "$status" -eq 1 ]
	[ ! -e "$MARKER" ]
	[[ "$output" == *"dkm-hook: error: module-test/0.1 failed to build for $KVER (log: '$(state_log module-test 0.1)'), and fail_policy=always: stopping the installation of $KVER, so the machine keeps booting its current kernel"* ]]
}

@test "the image before its headers: no failure, one line naming the headers package" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	rm "$ROOT/lib/modules/$KVER/build"
	run ki "$PLUGIN $T/99-marker.install" add "$KVER" "$T/vmlinuz"
	[ "$status" -eq 0 ]
	[ -s "$MARKER" ]
	[ "$output" = "dkm-hook: warning: $KVER: kernel headers not installed ('$ROOT/lib/modules/$KVER/build' is missing): 1 package not built yet; install linux-headers-$KVER, its hook will finish the job" ]
	[ "$(depmod_runs)" -eq 0 ]
}

@test "the plugin never exits 77: unknown commands are ignored, bad usage is 1" {
	run "$PLUGIN" inspect "$KVER"
	[ "$status" -eq 0 ]
	run "$PLUGIN"
	[ "$status" -eq 1 ]
	[[ "$output" == "Usage: "*"add KERNEL-VERSION ENTRY-DIR KERNEL-IMAGE [INITRD...]"* ]]
	# an unreadable configuration stops the installation with a message, not with 77
	conf 'compress=lzip'
	run ki "$PLUGIN $T/99-marker.install" add "$KVER" "$T/vmlinuz"
	[ "$status" -eq 1 ]
	[ ! -e "$MARKER" ]
	[[ "$output" == *"compress='lzip': expected one of"* ]]
	[[ "$output" == *"dkm-hook: error: invalid configuration: not touching the modules of $KVER"* ]]
}

@test "kernel-install 252 (the script) reads /etc and /usr/lib only: a mask in /run/kernel/install.d changes nothing, depmod runs once (50-depmod.install's)" {
	script_kernel_install
	"$DKM" add "$(fixture module-test)" >/dev/null
	plugin_dirs
	ln -s /dev/null "$KI/run/kernel/install.d/50-depmod.install"
	run ki_dirs add "$KVER" "$T/vmlinuz"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -s "$MARKER" ]
	cat "$DEPMOD_LOG"
	[ "$(depmod_runs)" -eq 1 ]
	[ "$(cat "$DEPMOD_LOG")" = "RAN -a $KVER" ]
	assert_installed_signed_xz dkms_test
}

@test "kernel-install 252 (the script): 50-depmod.install in /etc empty (it runs and does nothing), a link to /dev/null or without x bit (a mask): the plugin runs depmod itself, once" {
	script_kernel_install
	"$DKM" add "$(fixture module-test)" >/dev/null
	plugin_dirs
	for kind in empty null noexec; do
		rm -f "$KI/etc/50-depmod.install"
		case $kind in
		empty) : >"$KI/etc/50-depmod.install" && chmod 0755 "$KI/etc/50-depmod.install" ;;
		null) ln -s /dev/null "$KI/etc/50-depmod.install" ;;
		noexec) install -m 0644 "$DEPMOD_PLUGIN" "$KI/etc/50-depmod.install" ;;
		esac
		[ "$kind" = empty ] || again
		run ki_dirs add "$KVER" "$T/vmlinuz"
		echo "$kind: $output"
		[ "$status" -eq 0 ]
		ours_ran
		assert_installed_signed_xz dkms_test
	done
}

@test "kernel-install 254+ (a program): a 50-depmod.install in /etc without x bit is skipped, not a mask: /usr/lib's runs after us, ours is skipped" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	plugin_dirs
	kernel_install_is program
	install -m 0644 "$DEPMOD_PLUGIN" "$KI/etc/50-depmod.install"
	run as_kernel_install
	echo "$output"
	[ "$status" -eq 0 ]
	ours_skipped
}

@test "kernel-install 254+ (a program): an empty file or a link to /dev/null in /etc masks 50-depmod.install: ours runs" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	plugin_dirs
	kernel_install_is program
	: >"$KI/etc/50-depmod.install"
	chmod 0755 "$KI/etc/50-depmod.install"
	run as_kernel_install
	echo "$output"
	[ "$status" -eq 0 ]
	ours_ran

	again
	rm "$KI/etc/50-depmod.install"
	ln -s /dev/null "$KI/etc/50-depmod.install"
	run as_kernel_install
	[ "$status" -eq 0 ]
	ours_ran
}

@test "the order: by version for the script (6-dkm-hook.install before 50-depmod.install: one depmod, its), by bytes for the program (after it: ours runs)" {
	script_kernel_install
	"$DKM" add "$(fixture module-test)" >/dev/null
	plugin_dirs 6-dkm-hook.install
	run ki_dirs add "$KVER" "$T/vmlinuz"
	echo "$output"
	[ "$status" -eq 0 ]
	cat "$DEPMOD_LOG"
	[ "$(cat "$DEPMOD_LOG")" = "RAN -a $KVER" ]

	again
	kernel_install_is program
	run as_kernel_install 6-dkm-hook.install
	echo "$output"
	[ "$status" -eq 0 ]
	ours_ran
}

@test "kernel-install 254+ (a program): a 50-depmod.install in /run/kernel/install.d (a mask) or /usr/local/lib/kernel/install.d, which no kernel-install reads so far: ours runs" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	plugin_dirs
	kernel_install_is program
	ln -s /dev/null "$KI/run/kernel/install.d/50-depmod.install"
	run as_kernel_install
	echo "$output"
	[ "$status" -eq 0 ]
	ours_ran

	again
	rm "$KI/run/kernel/install.d/50-depmod.install"
	cp "$DEPMOD_PLUGIN" "$KI/usrlocal/kernel/install.d/50-depmod.install"
	run as_kernel_install
	[ "$status" -eq 0 ]
	ours_ran
}

@test "a kernel-install that is neither script nor program: 50-depmod.install must follow us under both rules, or ours runs" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	plugin_dirs 6-dkm-hook.install
	kernel_install_is unknown
	# after 50-depmod.install by bytes, before it by version
	run as_kernel_install 6-dkm-hook.install
	echo "$output"
	[ "$status" -eq 0 ]
	ours_ran

	# before it both ways
	again
	rm "$KI/usr/6-dkm-hook.install"
	ln -s "$PLUGIN" "$KI/usr/40-dkm-hook.install"
	run as_kernel_install
	[ "$status" -eq 0 ]
	ours_skipped
}
