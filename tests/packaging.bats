#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian packages: `dpkg-buildpackage -us -uc -b` on a copy of the tree (the .debs land
# next to it, never in the checkout's parent): dkm-hook and dkm-hook-dkms (the system's `dkms`),
# lintian without errors or warnings, then installed into a
# scratch root with `dpkg --root --force-script-chrootless` (the maintainer scripts act on
# $DPKG_ROOT): the files are there, the build user exists, and removal takes out every module
# dkm-hook installed (restoring the ones it displaced), purge the state. Takes about a minute.

load lib/common

setup_file() {
	# debhelper and lintian are installed here, not with the build dependencies
	"$TOP/tests/deps" package
	export PKG=$BATS_FILE_TMPDIR/pkg
	local src=$PKG/dkm-hook-src
	mkdir -p "$src"
	# the working tree as it is (tracked and new files), without build output
	(cd "$TOP" && git ls-files -z -co --exclude-standard | xargs -0 cp --parents -a -t "$src")
	(cd "$src" && dpkg-buildpackage -us -uc -b) > "$PKG/build.log" 2>&1 || {
		tail -30 "$PKG/build.log" >&3
		return 1
	}
}

# a scratch system with an empty dpkg database and the account files useradd needs
dpkg_root() {
	R=$BATS_TEST_TMPDIR/sys
	mkdir -p "$R/etc" "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers"
	touch "$R/var/lib/dpkg/status"
	printf 'root:x:0:0:root:/root:/bin/bash\n' > "$R/etc/passwd"
	printf 'root:x:0:\n' > "$R/etc/group"
	printf 'root:*::0:99999:7:::\n' > "$R/etc/shadow"
	printf 'root:*::\n' > "$R/etc/gshadow"
	chmod 0640 "$R/etc/shadow" "$R/etc/gshadow"
}

deb() {
	ls "$PKG"/dkm-hook_*_"$(dpkg --print-architecture)".deb
}

dkmsdeb() {
	ls "$PKG"/dkm-hook-dkms_*_"$(dpkg --print-architecture)".deb
}

dpkg_r() {
	dpkg --root="$R" --force-script-chrootless "$@"
}

@test "dpkg-buildpackage builds both packages, and lintian reports no error or warning for either" {
	[ -f "$(deb)" ]
	[ "$(dpkg-deb -f "$(deb)" Package)" = dkm-hook ]
	[ -f "$(dkmsdeb)" ]
	[ "$(dpkg-deb -f "$(dkmsdeb)" Package)" = dkm-hook-dkms ]
	grep -q "dh_auto_test" "$PKG/build.log"
	# the .changes lists both
	grep -q " dkm-hook-dkms_.*\.deb$" "$PKG"/dkm-hook_*.changes
	run lintian --fail-on error,warning "$PKG"/dkm-hook_*.changes
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"E: "* ]]
	[[ "$output" != *"W: "* ]]
}

@test "dkm-hook-dkms: provides the dkms its drop-in speaks, replaces Debian's, ships /usr/sbin/dkms and common.postinst, no kernel hooks" {
	d=$(dkmsdeb)
	v=$(dpkg-deb -f "$(deb)" Version)
	[ "$(dpkg-deb -f "$d" Depends)" = "dkm-hook (= $v)" ]
	[ "$(dpkg-deb -f "$d" Provides)" = "dkms (= 3.0.10)" ]
	[ "$(dpkg-deb -f "$d" Conflicts)" = dkms ]
	[ "$(dpkg-deb -f "$d" Replaces)" = dkms ]
	# what a *-dkms package depends on (dh_dkms: dkms (>= 2.1.0.0)) is satisfied by it
	dpkg --compare-versions 3.0.10 ge 2.1.0.0
	# one set of kernel hooks on the system: dkm-hook's
	run dpkg-deb -c "$d"
	echo "$output"
	[[ "$output" != *" ./etc/"* ]]
	[[ "$output" != *"dkms_autoinstaller"* ]]

	dpkg_root
	run dpkg_r --force-depends -i "$(deb)" "$d"
	echo "$output"
	[ "$status" -eq 0 ]
	dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Status}\n' dkm-hook-dkms | grep -qx 'install ok installed'
	[ "$(readlink -f "$R/usr/sbin/dkms")" = "$R/usr/sbin/dkm-hook" ]
	[ -x "$R/usr/lib/dkms/common.postinst" ]
	cmp "$R/usr/lib/dkms/common.postinst" "$TOP/hooks/dkms/common.postinst"
	[ -f "$(readlink -f "$R/usr/share/man/man8/dkms.8.gz")" ]
	# the drop-in answers as the DKMS version the package provides
	[ "$("$R/usr/sbin/dkms" --version | head -n 1)" = "dkms-$(dpkg-deb -f "$d" Provides | sed -n 's/^dkms (= \(.*\))$/\1/p')" ]
	# no DKMS tree: nothing to adopt, nothing said
	[[ "$output" != *"import"* ]]
}

@test "dkm-hook-dkms installed where Debian's dkms was: its postinst adopts DKMS's registrations; configuring again keeps them" {
	require_headers
	dpkg_root
	# a kernel with headers (import reads each dkms.conf for one)
	mkdir -p "$R/usr/src" "$R/var/lib/dkms/module-test/0.1" "$R/lib/modules/$KVER"
	ln -sfn "$(readlink -f "/lib/modules/$KVER/build")" "$R/lib/modules/$KVER/build"
	printf 'ID=debian\n' > "$R/etc/os-release"
	cp -a "$FIXTURES/module-test" "$R/usr/src/module-test-0.1"
	ln -s /usr/src/module-test-0.1 "$R/var/lib/dkms/module-test/0.1/source"
	# DKMS's signing key pair, made as dkms 3.0.10 makes it (the certificate in DER)
	openssl req -new -x509 -nodes -days 3650 -subj "/CN=DKMS module signing key/" -newkey rsa:2048 \
		-keyout "$R/var/lib/dkms/mok.key" -outform DER -out "$R/var/lib/dkms/mok.pub" 2>/dev/null
	chmod 0600 "$R/var/lib/dkms/mok.key"
	dpkg_r --force-depends -i "$(deb)" >/dev/null 2>&1
	[ -z "$("$R/usr/sbin/dkm-hook" --root "$R" status 2>/dev/null)" ]
	run dpkg_r --force-depends -i "$(dkmsdeb)"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"import from '$R/var/lib/dkms': 1 package"* ]]
	run "$R/usr/sbin/dkms" --root "$R" status
	echo "$output"
	[ "$output" = "module-test/0.1: added" ]
	# dkm-hook, which had no key, signs with DKMS's (probably the enrolled one) from now on
	cmp "$R/var/lib/dkms/mok.key" "$R/var/lib/dkm-hook/mok.key"
	cmp "$R/var/lib/dkms/mok.pub" "$R/var/lib/dkm-hook/mok.der"
	[ "$(stat -c '%a %u' "$R/var/lib/dkm-hook/mok.key")" = "600 0" ]
	"$R/usr/sbin/dkm-hook" --root "$R" keygen 2>&1 | grep -q "already exist"
	# a key dkm-hook has is never replaced
	rm "$R/var/lib/dkms/mok.key" "$R/var/lib/dkms/mok.pub"
	openssl req -new -x509 -nodes -days 3650 -subj "/CN=another/" -newkey rsa:2048 \
		-keyout "$R/var/lib/dkms/mok.key" -outform DER -out "$R/var/lib/dkms/mok.pub" 2>/dev/null
	sum=$(cat "$R/var/lib/dkm-hook/mok.key" "$R/var/lib/dkm-hook/mok.der" | sha256sum)
	# a DKMS tree that cannot all be adopted is a warning, never a failed configuration
	mkdir -p "$R/var/lib/dkms/gone/1.0"
	ln -s /usr/src/gone-1.0 "$R/var/lib/dkms/gone/1.0/source"
	run dpkg_r --force-depends -i "$(dkmsdeb)"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"dkm-hook: warning: not everything in '$R/var/lib/dkms' could be adopted"* ]]
	run "$R/usr/sbin/dkms" --root "$R" status
	[ "$output" = "module-test/0.1: added" ]
	[ "$(cat "$R/var/lib/dkm-hook/mok.key" "$R/var/lib/dkm-hook/mok.der" | sha256sum)" = "$sum" ]
}

@test "dpkg --root installs the program, plugin, kernel hooks, dracut module, initramfs-tools hook, man pages, completions, and the build user" {
	dpkg_root
	run dpkg_r --force-depends -i "$(deb)"
	[ "$status" -eq 0 ]
	dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Status}\n' dkm-hook | grep -qx 'install ok installed'
	for f in usr/sbin/dkm-hook usr/lib/kernel/install.d/40-dkm-hook.install \
		etc/kernel/postinst.d/dkm-hook etc/kernel/prerm.d/dkm-hook etc/kernel/header_postinst.d/dkm-hook \
		usr/lib/dracut/modules.d/50dkm-hook/module-setup.sh \
		usr/share/initramfs-tools/hooks/dkm-hook; do
		[ -x "$R/$f" ] || { echo "missing or not executable: $f" >&2; return 1; }
	done
	for f in usr/share/man/man8/dkm-hook.8.gz usr/share/man/man5/dkm-hook.conf.5.gz \
		usr/share/man/man5/dkm-hook-dkms.conf.5.gz usr/share/bash-completion/completions/dkm-hook \
		usr/share/zsh/vendor-completions/_dkm-hook usr/share/doc/dkm-hook/copyright \
		usr/share/doc/dkm-hook/schema/status.schema.json; do
		[ -f "$R/$f" ] || { echo "missing: $f" >&2; return 1; }
	done
	[ "$(readlink -f "$R/usr/lib/dkm-hook/dkms")" = "$R/usr/sbin/dkm-hook" ]
	# the kernel hooks are conffiles
	grep -qx /etc/kernel/postinst.d/dkm-hook "$R/var/lib/dpkg/info/dkm-hook.conffiles"
	# the installed program runs, and its man page renders
	"$R/usr/sbin/dkm-hook" --version | grep -qx "dkm-hook [0-9.]*"
	MANWIDTH=80 man -l "$R/usr/share/man/man8/dkm-hook.8.gz" | grep -q '^SYNOPSIS'
	# the build user: a system account without a login, with its own group
	run grep '^dkm-hook:' "$R/etc/passwd"
	IFS=: read -r _ _ uid gid _ home shell <<<"$output"
	[ "$uid" -lt 1000 ] && [ "$uid" -gt 0 ]
	[ "$home" = /nonexistent ] && [ "$shell" = /usr/sbin/nologin ]
	grep -q "^dkm-hook:x:$gid:" "$R/etc/group"
	# configuring again (dpkg-reconfigure, upgrade) keeps that user
	run dpkg_r --force-depends -i "$(deb)"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^dkm-hook:' "$R/etc/passwd")" -eq 1 ]
}

@test "removal takes our modules out of every kernel and restores displaced ones; purge removes the state" {
	require_headers
	dpkg_root
	dpkg_r --force-depends -i "$(deb)" >/dev/null 2>&1
	# the installed dkm-hook at work on that system: a package installed for a kernel,
	# displacing a module the kernel ships in an unusual place
	ROOT=$R
	mkdir -p "$R/lib/modules/$KVER"
	ln -sfn "$(readlink -f "/lib/modules/$KVER/build")" "$R/lib/modules/$KVER/build"
	d=$R
	while [[ "$d" == "$BATS_RUN_TMPDIR"* ]]; do chmod o+x "$d"; d=$(dirname "$d"); done
	printf 'ID=debian\n' > "$R/etc/os-release"
	"$R/usr/sbin/dkm-hook" --root "$R" add "$(fixture module-test)" >/dev/null
	"$R/usr/sbin/dkm-hook" --root "$R" build module-test/0.1 -k "$KVER" >/dev/null
	mkdir -p "$R/lib/modules/$KVER/ethercat"
	orig=$R/lib/modules/$KVER/ethercat/dkms_test.ko
	cp "$R/var/lib/dkm-hook/packages/module-test/0.1/kernels/$KVER/$(uname -m)/modules/dkms_test.ko" "$orig"
	printf 'shipped with the kernel' >> "$orig"
	sum=$(sha256sum < "$orig")
	depmod -b "$R" -C "$R/etc/depmod.d" "$KVER"
	run "$R/usr/sbin/dkm-hook" --root "$R" install module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[ -f "$R/lib/modules/$KVER/updates/dkms/dkms_test.ko" ]
	[ ! -e "$R/lib/modules/$KVER/ethercat/dkms_test.ko" ]
	[ -d "$R/usr/src/module-test-0.1" ]

	run dpkg_r -r dkm-hook
	[ "$status" -eq 0 ]
	[ -z "$(find "$R/lib/modules/$KVER" -path '*/updates/*' -name 'dkms_test.ko*')" ]
	[ "$(sha256sum < "$orig")" = "$sum" ]
	grep -q '^ethercat/dkms_test.ko:' "$R/lib/modules/$KVER/modules.dep"
	if grep -q updates/dkms "$R/lib/modules/$KVER/modules.dep"; then false; fi
	[ ! -e "$R/usr/sbin/dkm-hook" ]
	# removed, not purged: the registration and the conffiles stay
	[ -f "$R/var/lib/dkm-hook/packages/module-test/0.1/package" ]
	[ -f "$R/etc/kernel/postinst.d/dkm-hook" ]

	run dpkg_r --purge dkm-hook
	[ "$status" -eq 0 ]
	[ ! -e "$R/var/lib/dkm-hook" ]
	[ ! -e "$R/usr/src/module-test-0.1" ]
	[ ! -e "$R/etc/kernel/postinst.d/dkm-hook" ]
	run dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Status}' dkm-hook
	[[ "$output" != *installed* ]]
}
