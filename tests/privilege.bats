#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# Least privilege: compilers and package scripts run as an unprivileged user, in a sandbox
# where everything but the private build dir is read-only, with no network and no access to
# the signing key. Signing, installing and depmod stay in the privileged parent.

load lib/common

setup() {
	require_headers
	[ "$(id -u)" -eq 0 ] || skip "needs root (builds drop to the build user only when run as root)"
	make_root
}

# a package whose MAKE first runs $1 (a shell snippet, from a script in the source), then the
# normal build
hostile_make() {
	local src
	src=$(fixture module-test)
	printf '#!/bin/sh\nset -e\n%s\n' "$1" > "$src/evil.sh"
	sed -i 's|^MAKE\[0\]=.*|MAKE[0]="sh ./evil.sh \&\& make KERNDIR=${kernel_source_dir} all"|' "$src/dkms.conf"
	"$DKM" add "$src" >/dev/null
}

log_of() { echo "$ROOT/var/lib/dkm-hook/packages/module-test/0.1/kernels/$KVER/$(uname -m)/build.log"; }

@test "the build runs as a uid of its own (from the reserved range), not root" {
	hostile_make 'id -u >&2'
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	# build_user unset: a uid of the reserved range that no user has
	uid=$(grep -xE '[0-9]+' "$(log_of)")
	[ "$uid" -ge $((0x7C000000)) ] && [ "$uid" -le $((0x7C00FFFF)) ]
	! getent passwd "$uid"
	# and the module the root-owned parent installed is signed
	[ -n "$(modinfo_field dkms_test signer)" ]
}

@test "a MAKE that writes to /etc fails, and the failure says why" {
	pwned=/etc/dkm-hook-pwned-$$-$BATS_TEST_NUMBER
	hostile_make "echo pwned > $pwned"
	run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -eq 4 ]
	[ ! -e "$pwned" ] || { rm -f "$pwned"; false; }
	grep -q "$pwned: \(Read-only file system\|Permission denied\)" "$(log_of)"
	[[ "$output" == *"build of module-test/0.1 for $KVER failed: MAKE exited with status"* ]]
}

@test "a MAKE that writes into the module tree fails; the tree is unchanged" {
	before=$(snapshot)
	hostile_make "touch $ROOT/lib/modules/$KVER/evil.ko"
	run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -eq 4 ]
	[ ! -e "$ROOT/lib/modules/$KVER/evil.ko" ]
	grep -q "evil.ko.*\(Read-only file system\|Permission denied\)" "$(log_of)"
	# only the registration (usr/src copy) changed outside the state dir
	diff <(echo "$before") <(snapshot | grep -v '^./usr/src/module-test-0.1')
}

@test "a MAKE cannot read the signing key, even as root (build_user=root)" {
	mkdir -p "$ROOT/etc/dkm-hook"
	echo "build_user=root" > "$ROOT/etc/dkm-hook/dkm-hook.conf"
	hostile_make "n=\$(wc -c < $ROOT/var/lib/dkm-hook/mok.key); echo \$n >&2; test \$n -gt 0"
	run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -eq 4 ]
	# the key is still there and intact for the parent, which signs
	[ -s "$ROOT/var/lib/dkm-hook/mok.key" ]
	grep -qx 0 "$(log_of)"
}

@test "a MAKE that writes outside its build dir (e.g. /tmp) fails; /tmp is untouched" {
	marker=/tmp/dkm-hook-outside-$$-$BATS_TEST_NUMBER
	hostile_make "touch $marker"
	run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -eq 4 ]
	[ ! -e "$marker" ] || { rm -f "$marker"; false; }
}

@test "a build has no network" {
	hostile_make 'test "$(grep -c : /proc/net/dev)" = 1'
	run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
}

@test "package scripts (POST_ADD) run unprivileged and read-only too" {
	src=$(fixture module-test)
	cat > "$src/post-add.sh" <<-EOF
	#!/bin/sh
	id -u > "$ROOT/post-add-ran" 2>/dev/null || echo "post-add: cannot write" >&2
	exit 0
	EOF
	chmod +x "$src/post-add.sh"
	echo 'POST_ADD="post-add.sh"' >> "$src/dkms.conf"
	run "$DKM" add "$src"
	[ "$status" -eq 0 ]
	[[ "$output" == *"running POST_ADD script 'post-add.sh'"* ]]
	[[ "$output" == *"post-add: cannot write"* ]]
	[ ! -e "$ROOT/post-add-ran" ]
}

@test "an unknown build_user is a clear error naming the setting" {
	mkdir -p "$ROOT/etc/dkm-hook"
	echo "build_user=no-such-user-here" > "$ROOT/etc/dkm-hook/dkm-hook.conf"
	"$DKM" add "$(fixture module-test)" >/dev/null
	run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -ne 0 ]
	[[ "$output" == *"build_user 'no-such-user-here' does not exist: create it (e.g. 'useradd --system no-such-user-here') or change build_user in dkm-hook.conf"* ]]
}
