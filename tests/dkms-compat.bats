#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The `dkms` command against the real thing: Debian's own dkms 3.0.10 and its common.postinst,
# extracted from their .deb (never installed), run in a private mount namespace over a scratch
# root, side by side with ours on the same scenarios and real *-dkms packages.

load lib/dkms-both

setup_file() {
	dkms_both_setup_file
	# snapshot of the host paths that nothing here may change
	host_snapshot > "$BATS_FILE_TMPDIR/host.before"
}

host_snapshot() {
	local k
	for k in /lib/modules/*; do
		ls -la --time-style=full-iso "$k" | grep -v ' \.\.$'
		[ -f "$k/modules.dep" ] && sha256sum "$k/modules.dep"
	done
	ls -la --time-style=full-iso /usr/src 2>&1 | grep -v ' \.\.$'
	find /var/lib/dkms /etc/dkms -printf '%p %y %s %T@\n' 2>&1 | sort
}

@test "common.postinst of Debian's dkms installs acpi-call-dkms with our dkms; its prerm removes it" {
	R=$BATS_TEST_TMPDIR/root
	new_root "$R"
	src_from_deb "$R" acpi-call-dkms
	ctl=$BATS_TEST_TMPDIR/ctl
	dpkg-deb -e "$(ls "$DKM_TEST_DEB_CACHE"/acpi-call-dkms_*.deb)" "$ctl"
	common=$DEBIAN_DKMS/usr/lib/dkms/common.postinst

	# exactly what the package's postinst runs on 'configure', with our dkms first on PATH
	DKM_HOOK_ROOT=$R PATH=$OURBIN:$PATH DEBIAN_FRONTEND=noninteractive \
		run in_root_ns "$R" sh "$common" acpi-call 1.2.2 /usr/share/acpi-call-dkms "" ""
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Loading new acpi-call-1.2.2 DKMS files..."* ]]
	[[ "$output" == *"Building initial module for $KVER"* ]]
	[[ "$output" != *"binaries-only"* ]]
	run ours "$R" status
	[ "$output" = "acpi-call/1.2.2, $KVER, $ARCH: installed" ]
	ko=$R/lib/modules/$KVER/updates/dkms/acpi_call.ko
	[ -f "$ko" ]
	grep -q '^updates/dkms/acpi_call.ko:' "$R/lib/modules/$KVER/modules.dep"
	[ -n "$(modinfo -F signer "$ko")" ]
	# what common.postinst tests before it builds: DKMS's tree knows the source
	[ "$(readlink "$R/var/lib/dkms/acpi-call/1.2.2/source")" = /usr/src/acpi-call-1.2.2 ]

	# reconfiguring the same version: "Removing old ..." then added and installed again
	DKM_HOOK_ROOT=$R PATH=$OURBIN:$PATH DEBIAN_FRONTEND=noninteractive \
		run in_root_ns "$R" sh "$common" acpi-call 1.2.2 /usr/share/acpi-call-dkms "" ""
	[ "$status" -eq 0 ]
	[[ "$output" == *"Removing old acpi-call-1.2.2 DKMS files..."* ]]
	run ours "$R" status
	[ "$output" = "acpi-call/1.2.2, $KVER, $ARCH: installed" ]

	# the package's prerm: dkms status -m -v, then dkms remove ... --all
	DKM_HOOK_ROOT=$R PATH=$OURBIN:$PATH run in_root_ns "$R" sh "$ctl/prerm" remove
	echo "$output"
	[ "$status" -eq 0 ]
	run ours "$R" status
	[ -z "$output" ]
	[ ! -e "$ko" ]
	if grep -q acpi_call "$R/lib/modules/$KVER/modules.dep"; then false; fi
	[ ! -e "$R/var/lib/dkms/acpi-call" ]
	# the distribution package owns /usr/src/acpi-call-1.2.2: left alone
	[ -f "$R/usr/src/acpi-call-1.2.2/dkms.conf" ]
}

@test "status lines and exit codes match Debian's dkms: added, built, installed, uninstall, remove" {
	both_roots
	src_from_deb "$T" vpoll-dkms
	src_from_deb "$O" vpoll-dkms

	both add -m vpoll -v 0.1
	run same_status
	[ "$status" -eq 0 ]
	[ "$output" = "vpoll/0.1: added" ]
	both add vpoll/0.1 # twice: "DKMS tree already contains"
	[ "$o_status" -eq 3 ]

	both build -m vpoll/0.1 -k "$KVER"
	[ "$o_status" -eq 0 ]
	run same_status
	[ "$output" = "vpoll/0.1, $KVER, $ARCH: built" ]
	run same_status -m vpoll -v 0.1 -k "$KVER"
	[ "$output" = "vpoll/0.1, $KVER, $ARCH: built" ]
	both build vpoll/0.1 -k "$KVER" # again: skipped, exit 0
	[[ "$o_output" == *"Module vpoll/0.1 already built for kernel $KVER ($ARCH), skip."* ]]

	both install --module vpoll -v 0.1 --kernelver "$KVER/$ARCH"
	[ "$o_status" -eq 0 ]
	run same_status
	[ "$output" = "vpoll/0.1, $KVER, $ARCH: installed" ]
	[ "$(kos "$O")" = "$(kos "$T")" ]
	[ "$(kos "$O")" = "updates/dkms/vpoll.ko" ]

	# a module changed behind our back: both say so
	echo tampered >> "$T/lib/modules/$KVER/updates/dkms/vpoll.ko"
	echo tampered >> "$O/lib/modules/$KVER/updates/dkms/vpoll.ko"
	run same_status
	[ "$output" = "vpoll/0.1, $KVER, $ARCH: installed (WARNING! Diff between built and installed module!)" ]

	both uninstall vpoll/0.1 -k "$KVER"
	[ "$o_status" -eq 0 ]
	run same_status
	[ "$output" = "vpoll/0.1, $KVER, $ARCH: built" ]
	both unbuild vpoll/0.1 -k "$KVER"
	run same_status
	[ "$output" = "vpoll/0.1: added" ]
	both remove vpoll/0.1 --all
	[ "$o_status" -eq 0 ]
	run same_status
	[ -z "$output" ]
	both remove vpoll/0.1 --all # not added any more
	[ "$o_status" -eq 3 ]
	both status --frobnicate
	[ "$o_status" -eq 2 ]
	[[ "$o_output" == *"Unknown option: --frobnicate"* ]]
	both build -m vpoll
	[ "$o_status" -eq 1 ]
	[[ "$o_output" == *"Arguments <module> and <module-version> are not specified."* ]]
}

@test "status with two kernels, -k filters and remove for one kernel, like Debian's dkms; match" {
	both_roots "$KVER" "$K2"
	src_from_deb "$T" vpoll-dkms
	src_from_deb "$O" vpoll-dkms
	both add vpoll/0.1
	both install vpoll/0.1 -k "$KVER" -k "$K2"
	[ "$o_status" -eq 0 ]
	run same_status
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "vpoll/0.1, $KVER, $ARCH: installed" ]
	[ "${lines[1]}" = "vpoll/0.1, $K2, $ARCH: installed" ]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(modinfo -F vermagic "$O/lib/modules/$K2/updates/dkms/vpoll.ko" | cut -d' ' -f1)" = "$K2" ]
	run same_status -k "$K2"
	[ "$output" = "vpoll/0.1, $K2, $ARCH: installed" ]
	both uninstall vpoll/0.1 -k "$K2"
	run same_status -k "$KVER" -k "$K2"
	[ "${lines[0]}" = "vpoll/0.1, $KVER, $ARCH: installed" ]
	[ "${lines[1]}" = "vpoll/0.1, $K2, $ARCH: built" ]
	# remove for one kernel keeps the module for the other
	both remove vpoll/0.1 -k "$K2"
	run same_status
	[ "$output" = "vpoll/0.1, $KVER, $ARCH: installed" ]
	# match: install on K2 what is installed on KVER (dkms 3.0.10's own match reads the
	# status lines of DKMS 2 and fails: "/usr/src/vpoll/0.1-<kver> does not exist"; ours only)
	run ours "$O" match --templatekernel="$KVER" -k "$K2"
	[ "$status" -eq 0 ]
	run ours "$O" status
	[ "${lines[0]}" = "vpoll/0.1, $KVER, $ARCH: installed" ]
	[ "${lines[1]}" = "vpoll/0.1, $K2, $ARCH: installed" ]
}

@test "BUILD_EXCLUSIVE: build exits 77 like Debian's dkms, status stays added; an /etc/dkms override applies" {
	both_roots
	for r in "$T" "$O"; do
		src_from_deb "$r" vpoll-dkms
		echo 'BUILD_EXCLUSIVE_KERNEL="^2\.6\."' >> "$r/usr/src/vpoll-0.1/dkms.conf"
	done
	both add vpoll/0.1
	both build vpoll/0.1 -k "$KVER"
	[ "$o_status" -eq 77 ]
	both install vpoll/0.1 -k "$KVER"
	[ "$o_status" -eq 77 ]
	run same_status
	[ "$output" = "vpoll/0.1: added" ]
	[ -z "$(kos "$O")" ]

	# DKMS sources /etc/dkms/<module>-<version>.conf after the package's file
	for r in "$T" "$O"; do
		echo "BUILD_EXCLUSIVE_KERNEL=\"^${KVER%%-*}\"" > "$r/etc/dkms/vpoll-0.1.conf"
	done
	both build vpoll/0.1 -k "$KVER"
	[ "$o_status" -eq 0 ]
	run same_status
	[ "$output" = "vpoll/0.1, $KVER, $ARCH: built" ]
}

@test "a failing make exits 10, a make that produces no BUILT_MODULE_NAME exits 7, like Debian's dkms" {
	both_roots
	for r in "$T" "$O"; do
		src_from_deb "$r" vpoll-dkms
		cp -a "$r/usr/src/vpoll-0.1" "$r/usr/src/vpoll-0.2"
		sed -i 's/^PACKAGE_VERSION=.*/PACKAGE_VERSION="0.2"/; s/^BUILT_MODULE_NAME\[0\]=.*/BUILT_MODULE_NAME[0]="vpoll_renamed"/' \
			"$r/usr/src/vpoll-0.2/dkms.conf"
		grep -q '^BUILT_MODULE_NAME\[0\]="vpoll_renamed"' "$r/usr/src/vpoll-0.2/dkms.conf"
		printf '\n#error broken on purpose\n' >> "$r/usr/src/vpoll-0.1/vpoll.c"
	done
	both add vpoll/0.1
	both build vpoll/0.1 -k "$KVER"
	[ "$o_status" -eq 10 ]
	both add vpoll/0.2
	both build vpoll/0.2 -k "$KVER"
	[ "$o_status" -eq 7 ]
	both install vpoll/0.2 -k "$KVER"
	[ "$o_status" -eq 7 ]
	[ -z "$(kos "$O")" ]
}

@test "missing headers: build exits like Debian's dkms (1), install of a kernel without a module dir exits 6" {
	K3=6.1.0-998-amd64
	both_roots
	mkdir -p "$T/lib/modules/$K3" "$O/lib/modules/$K3" # a kernel without its headers
	src_from_deb "$T" vpoll-dkms
	src_from_deb "$O" vpoll-dkms
	both add vpoll/0.1
	both build vpoll/0.1 -k "$K3"
	[ "$o_status" -eq 1 ]
	[[ "$o_output" == *"linux-headers-$K3"* ]]
	run same_status
	[ "$output" = "vpoll/0.1: added" ]
	run same_status -k "$K3"
	[ "$output" = "vpoll/0.1: added" ]
	both install vpoll/0.1 -k "$K3"
	[ "$o_status" -eq 1 ]
	# a kernel whose module dir does not exist, headers named by hand: built, then 6
	both install vpoll/0.1 -k 6.1.0-997-amd64 --kernelsourcedir "$(fake_headers 6.1.0-997-amd64)"
	[ "$o_status" -eq 6 ]
	[[ "$o_output" == *"You cannot install a module onto a non-existant kernel."* ]]
	# `dkms autoinstall -k` for such a kernel fails (11), like Debian's dkms; the kernel hook
	# (kernel_postinst) does not: the headers' own hook finishes the job
	both autoinstall -k "$K3"
	[ "$o_status" -eq 11 ]
	[[ "$o_output" == *"linux-headers-$K3"* ]]
	run ours "$O" kernel_postinst -k "$K3"
	[ "$status" -eq 0 ]
	[[ "$output" == *"kernel headers for this kernel do not seem to be installed"* ]]
}

@test "real packages: same .ko set as Debian's dkms; ours signed and xz-compressed like the kernel's modules" {
	both_roots
	pkgs="acpi-call-dkms vpoll-dkms adv-17v35x-dkms"
	# a kernel whose shipped modules are .ko.xz: DKMS compresses like them (modules.dep), we
	# are told by the configuration
	m=$(kmod_build "$BATS_TEST_TMPDIR/km")
	for r in "$T" "$O"; do
		mkdir -p "$r/lib/modules/$KVER/kernel/misc"
		xz --check=crc32 --lzma2=dict=1MiB -c "$m" > "$r/lib/modules/$KVER/kernel/misc/dkm_sigtest.ko.xz"
		depmod -b "$r" -C "$r/etc/depmod.d" "$KVER"
		grep -q 'dkm_sigtest.ko.xz:' "$r/lib/modules/$KVER/modules.dep"
	done
	mkdir -p "$O/etc/dkm-hook"
	echo "compress=xz" > "$O/etc/dkm-hook/dkm-hook.conf"
	expect=
	for p in $pkgs; do
		src_from_deb "$T" "$p"
		src_from_deb "$O" "$p"
		# the name and version the package's postinst hands to common.postinst
		ctl=$BATS_TEST_TMPDIR/ctl-$p
		dpkg-deb -e "$(ls "$DKM_TEST_DEB_CACHE/${p}"_*.deb)" "$ctl"
		mv=$(sed -n 's/^DKMS_NAME=//p' "$ctl/postinst")/$(sed -n 's/^DKMS_VERSION=//p' "$ctl/postinst")
		both add "$mv"
		[ "$o_status" -eq 0 ]
		both install "$mv" -k "$KVER"
		[ "$o_status" -eq 0 ]
		expect+="${mv%%/*}/${mv#*/}, $KVER, $ARCH: installed"$'\n'
	done
	run same_status
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s' "$expect" | sort)" ]
	echo "theirs: $(kos "$T")" "ours: $(kos "$O")"
	[ "$(kos "$O")" = "$(kos "$T")" ]
	[ "$(kos "$O" | grep -c 'updates/dkms/.*\.ko\.xz$')" -eq 3 ]
	for ko in "$O"/lib/modules/"$KVER"/updates/dkms/*.ko.xz; do
		theirs_ko=$T/lib/modules/$KVER/updates/dkms/${ko##*/}
		xz -t "$ko"
		[ "$(modinfo -F signer "$ko")" = "dkm-hook test key" ]
		[ "$(modinfo -F sig_hashalgo "$ko")" = "sha256" ]
		[ -n "$(modinfo -F signer "$theirs_ko")" ]
		[ "$(modinfo -F vermagic "$ko")" = "$(modinfo -F vermagic "$theirs_ko")" ]
		# the same module either way, as modinfo sees it (signatures apart)
		[ "$(modinfo -F srcversion "$ko")" = "$(modinfo -F srcversion "$theirs_ko")" ]
	done
	grep -q '^updates/dkms/vpoll.ko.xz:' "$O/lib/modules/$KVER/modules.dep"
}

@test "import: a tree made by Debian's dkms is adopted without a rebuild; uninstall through us removes the module" {
	T=$BATS_TEST_TMPDIR/theirs
	new_root "$T"
	src_from_deb "$T" acpi-call-dkms
	src_from_deb "$T" vpoll-dkms
	theirs "$T" add acpi-call/1.2.2
	theirs "$T" install acpi-call/1.2.2 -k "$KVER"
	theirs "$T" add vpoll/0.1
	theirs "$T" build vpoll/0.1 -k "$KVER"
	before=$(theirs "$T" status)
	ko=$T/lib/modules/$KVER/updates/dkms/acpi_call.ko
	sum=$(sha256sum < "$ko")
	stamp=$(stat -c %Y.%i "$ko")

	DKM_HOOK_ROOT=$T run "$DKM" import
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"building"* ]]
	[[ "$output" == *"2 packages, 1 installed, 1 built, 0 not imported"* ]]
	# untouched: no rebuild, no reinstall
	[ "$(sha256sum < "$ko")" = "$sum" ]
	[ "$(stat -c %Y.%i "$ko")" = "$stamp" ]
	# the same status through our dkms as Debian's dkms printed from its own tree
	run ours "$T" status
	[ "$output" = "$before" ]
	[ "${lines[0]}" = "acpi-call/1.2.2, $KVER, $ARCH: installed" ]
	[ "${lines[1]}" = "vpoll/0.1, $KVER, $ARCH: built" ]
	DKM_HOOK_ROOT=$T run "$DKM" status acpi-call
	[[ "$output" == "acpi-call/1.2.2, $KVER, $ARCH: installed (modules: acpi_call; signed)" ]]
	# importing again changes nothing
	DKM_HOOK_ROOT=$T run "$DKM" import
	[ "$status" -eq 0 ]
	[[ "$output" == *"0 packages"* ]]

	run ours "$T" uninstall acpi-call/1.2.2 -k "$KVER"
	[ "$status" -eq 0 ]
	[ ! -e "$ko" ]
	if grep -q acpi_call "$T/lib/modules/$KVER/modules.dep"; then false; fi
	# DKMS's tree no longer claims it is installed
	[ ! -e "$T/var/lib/dkms/acpi-call/kernel-$KVER-$ARCH" ]
	run theirs "$T" status acpi-call
	[ "$output" = "acpi-call/1.2.2, $KVER, $ARCH: built" ]
	# an imported build installs without building
	run ours "$T" install vpoll/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" != *"building"* ]]
	[ -f "$T/lib/modules/$KVER/updates/dkms/vpoll.ko" ]
	run ours "$T" remove vpoll/0.1 --all
	[ "$status" -eq 0 ]
	[ ! -e "$T/lib/modules/$KVER/updates/dkms/vpoll.ko" ]
	[ ! -e "$T/var/lib/dkms/vpoll" ]
}

@test "framework.conf is read, never executed: keys, sign_file, source_tree; no-autoinstall, kernel_postinst/prerm" {
	O=$BATS_TEST_TMPDIR/ours
	new_root "$O"
	src_from_deb "$O" vpoll-dkms
	mkdir -p "$O/etc/mykeys" "$O/srv/src"
	mv "$O/usr/src/vpoll-0.1" "$O/srv/src/"
	openssl req -new -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=framework key/" \
		-addext "extendedKeyUsage=codeSigning" -outform DER \
		-keyout "$O/etc/mykeys/k.key" -out "$O/etc/mykeys/k.der" 2>/dev/null
	cat > "$O/etc/dkms/framework.conf" <<-EOF
		# comments and blank lines are fine

		source_tree="/srv/src"
		mok_signing_key=/etc/mykeys/k.key
		mok_certificate='/etc/mykeys/k.der'
		parallel_jobs=1
		touch $BATS_TEST_TMPDIR/executed
		x=\$(touch $BATS_TEST_TMPDIR/executed2)
	EOF
	run ours "$O" add vpoll/0.1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"framework.conf' line 7: "*"never executes it"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/executed" ]
	[ ! -e "$BATS_TEST_TMPDIR/executed2" ]
	sed -i '/touch/d' "$O/etc/dkms/framework.conf"
	run ours "$O" install vpoll/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[ "$(modinfo -F signer "$O/lib/modules/$KVER/updates/dkms/vpoll.ko")" = "framework key" ]
	[ ! -e "$O/var/lib/dkm-hook/mok.key" ]

	# sign_file that does not exist: DKMS does not sign, neither do we
	mkdir -p "$O/etc/dkms/framework.conf.d"
	echo 'sign_file="/nonexistent/sign-file"' > "$O/etc/dkms/framework.conf.d/nosign.conf"
	run ours "$O" install vpoll/0.1 -k "$KVER" --force
	[ "$status" -eq 0 ]
	[[ "$output" == *"Binary /nonexistent/sign-file not found, modules won't be signed"* ]]
	[ -z "$(modinfo -F signer "$O/lib/modules/$KVER/updates/dkms/vpoll.ko")" ]
	rm "$O/etc/dkms/framework.conf.d/nosign.conf"

	# /etc/dkms/no-autoinstall: kernel_postinst does nothing
	ours "$O" remove vpoll/0.1 --all
	ours "$O" add vpoll/0.1
	touch "$O/etc/dkms/no-autoinstall"
	run ours "$O" kernel_postinst -k "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"autoinstall for dkms modules has been disabled"* ]]
	run ours "$O" status
	[ "$output" = "vpoll/0.1: added" ]
	rm "$O/etc/dkms/no-autoinstall"
	run ours "$O" kernel_postinst -k "$KVER"
	[ "$status" -eq 0 ]
	run ours "$O" status
	[ "$output" = "vpoll/0.1, $KVER, $ARCH: installed" ]
	run ours "$O" kernel_prerm -k "$KVER"
	[ "$status" -eq 0 ]
	run ours "$O" status
	[ "$output" = "vpoll/0.1: added" ]
}

@test "command-line forms: source dir, dkms.conf path, -m m/v, --opt=value, unsupported actions and options" {
	O=$BATS_TEST_TMPDIR/ours
	new_root "$O"
	src_from_deb "$O" vpoll-dkms
	src_from_deb "$O" acpi-call-dkms
	cp -a "$O/usr/src/vpoll-0.1" "$BATS_TEST_TMPDIR/vpoll-elsewhere"
	rm -rf "$O/usr/src/vpoll-0.1"
	# a source directory anywhere: copied into the source tree, as DKMS does
	run ours "$O" add "$BATS_TEST_TMPDIR/vpoll-elsewhere"
	[ "$status" -eq 0 ]
	[ -f "$O/usr/src/vpoll-0.1/dkms.conf" ]
	[ "$(readlink "$O/var/lib/dkms/vpoll/0.1/source")" = /usr/src/vpoll-0.1 ]
	# the path of a dkms.conf
	run ours "$O" add "$O/usr/src/acpi-call-1.2.2/dkms.conf"
	[ "$status" -eq 0 ]
	run ours "$O" status
	[ "${lines[0]}" = "acpi-call/1.2.2: added" ]
	[ "${lines[1]}" = "vpoll/0.1: added" ]
	run ours "$O" build --module=vpoll/0.1 --kernelver="$KVER" --arch="$ARCH" -j 1 --no-depmod
	[ "$status" -eq 0 ]
	run ours "$O" status -m vpoll -a "$ARCH"
	[ "$output" = "vpoll/0.1, $KVER, $ARCH: built" ]

	run ours "$O" mktarball vpoll/0.1 -k "$KVER"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not supported: mktarball"* ]]
	run ours "$O" build vpoll/0.1 -k "$KVER" --directive="MAKE[0]=true"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not supported: --directive"* ]]
	run ours "$O" build vpoll/0.1 -k "$KVER" -c "$BATS_TEST_TMPDIR/vpoll-elsewhere/dkms.conf"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not supported: -c"* ]]
	run ours "$O" build vpoll/0.1 -k "$KVER" -c "$O/usr/src/vpoll-0.1/dkms.conf"
	[ "$status" -eq 0 ]
	run ours "$O" remove vpoll/0.1 -k "$KVER" --all
	[ "$status" -eq 2 ]
	run ours "$O" --version
	[ "${lines[0]}" = "dkms-3.0.10" ]
	run ours "$O" status -q
	[ -z "$output" ]
	# the native command adopts what dkms added, and the other way round
	DKM_HOOK_ROOT=$O run "$DKM" status vpoll
	[[ "$output" == "vpoll/0.1, $KVER, $ARCH: built"* ]]
}

@test "none of the runs of Debian's dkms touched the host" {
	host_snapshot > "$BATS_FILE_TMPDIR/host.after"
	diff "$BATS_FILE_TMPDIR/host.before" "$BATS_FILE_TMPDIR/host.after"
}
