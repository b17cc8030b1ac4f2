#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The build sandbox: what a hostile package or a process sharing the build uid can reach, and
# where kernels are installed (plain chroots, hosts without namespaces, umask 077, roots below
# private directories). Each attack here once worked; docs/security.md says how it is stopped.

load lib/common

setup() {
	require_headers
	[ "$(id -u)" -eq 0 ] || skip "needs root (builds drop to their own uid only when run as root)"
	make_root
	ARCH=$(uname -m)
	NAP=9$$.${BATS_TEST_NUMBER}
}

teardown() {
	pkill -KILL -f "^sleep ${NAP//./\\.}\$" 2>/dev/null || true
	[ -z "${ATTACKER:-}" ] || { kill "$ATTACKER" 2>/dev/null; wait "$ATTACKER" 2>/dev/null; } || true
}

conf() { mkdir -p "$ROOT/etc/dkm-hook"; printf '%s\n' "$@" >> "$ROOT/etc/dkm-hook/dkm-hook.conf"; }

# private_root <name>: a root R below a 0700 directory (as mktemp -d makes), its kernel's
# headers linked as in make_root
private_root() {
	mkdir -m 0700 "$BATS_TEST_TMPDIR/$1"
	R=$BATS_TEST_TMPDIR/$1/root
	mkdir -p "$R/lib/modules/$KVER" "$R/etc/dkm-hook"
	ln -s "$(readlink -f "/lib/modules/$KVER/build")" "$R/lib/modules/$KVER/build"
}

# module-test whose MAKE first runs $1 (a script in the source), then the normal build
hostile() {
	local src
	src=$(fixture module-test)
	printf '#!/bin/bash\n%s\n' "$1" > "$src/evil.sh"
	sed -i 's|^MAKE\[0\]=.*|MAKE[0]="bash ./evil.sh; make KERNDIR=${kernel_source_dir} all"|' "$src/dkms.conf"
	"$DKM" add "$src" >/dev/null
}

log_of() { echo "$ROOT/var/lib/dkm-hook/packages/$1/kernels/$KVER/$ARCH/build.log"; }

@test "a build sees only its own processes: /proc is its own" {
	hostile 'n=$(ls -d /proc/[0-9]* | wc -l); echo "procs=$n"; echo "init=$(tr "\0" " " < /proc/1/cmdline)"'
	run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	log=$(log_of module-test/0.1)
	n=$(sed -n 's/^procs=//p' "$log")
	[ "$n" -gt 0 ] && [ "$n" -lt 10 ]
	# pid 1 is the build's own shell, not the host's init
	grep -q '^init=/bin/bash -c bash ./evil.sh; make' "$log"
}

@test "a build cannot write to the host through /proc/<pid>/cwd of a process with its uid" {
	# the weakest setup: a build_user shared with a daemon that runs on the host
	conf "build_user=nobody"
	hostdir=$BATS_TEST_TMPDIR/daemon-cwd
	mkdir -p "$hostdir" && chown nobody "$hostdir"
	(cd "$hostdir" && exec setpriv --reuid=nobody --regid=nogroup --clear-groups sleep "$NAP") &
	ATTACKER=$!
	hostile 'for p in /proc/[0-9]*; do echo pwned > "$p/cwd/pwned" 2>/dev/null; done; true'
	run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[ ! -e "$hostdir/pwned" ]
}

@test "two builds at once: one cannot change what the other builds (and gets signed)" {
	# the attacker: looks for the other build through /proc/*/cwd and through the state dir
	hostile '
	end=$((SECONDS + 8))
	while [ $SECONDS -lt $end ]; do
		for f in /proc/[0-9]*/cwd/dep_base.c '"$ROOT"'/var/lib/dkm-hook/build/*/*/dep-base/*/build/dep_base.c /run/dkm-hook/build/dep-base/*/build/dep_base.c; do
			[ -w "$f" ] && echo "MODULE_INFO(pwned, \"yes\");" >> "$f" && echo "wrote $f"
		done
		sleep 0.05
	done; true'
	# the victim: waits a while in its build dir before it compiles
	victim=$(fixture dep-base)
	printf '#!/bin/sh\nsleep 4\n' > "$victim/slow.sh"
	chmod +x "$victim/slow.sh"
	echo 'PRE_BUILD="slow.sh"' >> "$victim/dkms.conf"
	"$DKM" add "$victim" >/dev/null
	run "$DKM" -j 2 rebuild "$KVER"
	echo "$output"
	[ "$status" -eq 0 ]
	! grep -q '^wrote' "$(log_of module-test/0.1)"
	[ -n "$(modinfo_field dep_base signer)" ]
	[ -z "$(modinfo_field dep_base pwned)" ]
	# and they ran as two different uids
	a=$(stat -c %u "$ROOT/usr/src/module-test-0.1")
	[ "$a" -eq 0 ]
}

@test "a process of the build uid cannot redirect the hand-over of the build dir (chown race)" {
	conf "build_user=nobody"
	src=$(fixture module-test)
	mkdir "$src/many" && (cd "$src/many" && seq -f 'f%g' 1 3000 | xargs touch)
	"$DKM" add "$src" >/dev/null
	# a root-owned directory outside the build dir with the same names inside
	victim=$BATS_TEST_TMPDIR/victim
	mkdir -p "$victim/many" && (cd "$victim/many" && seq -f 'f%g' 1 3000 | xargs touch)
	chmod 755 "$victim" "$victim/many"
	pv=$ROOT/var/lib/dkm-hook/build/$KVER/$ARCH/module-test/0.1
	setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 -c '
import os, sys, time
pv, victim = sys.argv[1], sys.argv[2]
end = time.time() + 600
while time.time() < end:
    try:
        os.rename(pv + "/build", pv + "/taken")
        os.symlink(victim, pv + "/build")
    except OSError:
        pass
' "$pv" "$victim" 2>"$BATS_TEST_TMPDIR/attacker.err" &
	ATTACKER=$!
	for _ in $(seq 1 8); do
		"$DKM" build --force module-test/0.1 -k "$KVER" >/dev/null 2>&1 || true
	done
	cat "$BATS_TEST_TMPDIR/attacker.err"
	kill "$ATTACKER" 2>/dev/null || true
	# nothing outside the build dir changed hands
	[ -z "$(find "$victim" ! -uid 0)" ]
}

@test "builds work in a plain chroot, where '/' is not a mount point, and leave no mount behind" {
	c=$BATS_TEST_TMPDIR/chroot
	mkdir -p "$c"
	# a shared mount namespace: a mount the sandbox made there would propagate back
	run unshare -m --propagation shared bash -c '
		before=$(findmnt -rn -o TARGET | sort | md5sum)
		"$1" "$2" "$3" "$4" "$5" sh -c "/bin-dkm/dkm-hook --root /scratch add /src >/dev/null && /bin-dkm/dkm-hook --root /scratch install module-test/0.1 -k $4 && modinfo -b /scratch -k $4 -F signer dkms_test"
		rc=$?
		# only what plain-chroot.sh itself mounted is there
		extra=$(findmnt -rn -o TARGET | grep -c "^$2/\(run\|scratch\|src\)" || true)
		echo "rc=$rc extra-mounts=$extra"
	' _ "$TOP/tests/lib/plain-chroot.sh" "$c" "$DKM" "$KVER" "$FIXTURES/module-test"
	echo "$output"
	[[ "$output" == *"dkms_test: installed '/scratch/lib/modules/$KVER/updates/dkms/dkms_test.ko"* ]]
	[[ "$output" == *"module signing key"* ]]
	[[ "$output" == *"rc=0 extra-mounts=0"* ]]
}

@test "umask 077 and a root below a 0700 directory: the whole lifecycle works" {
	private_root private
	printf 'ID=debian\n' > "$R/etc/os-release"
	src=$BATS_TEST_TMPDIR/private/src
	cp -a "$FIXTURES/module-test" "$src"
	chmod -R go-rwx "$src"
	run bash -c 'umask 077 && "$1" --root "$2" add "$3" && "$1" --root "$2" install module-test/0.1 -k "$4"' _ "$DKM" "$R" "$src" "$KVER"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q 'updates/dkms/dkms_test.ko' "$R/lib/modules/$KVER/modules.dep"
	[ -n "$(modinfo -b "$R" -k "$KVER" -F signer dkms_test)" ]
	# what others must read was made readable, whatever the umask
	[ "$(stat -c %a "$R/lib/modules/$KVER/updates/dkms/dkms_test.ko")" = 644 ]
	[ "$(stat -c %a "$R/usr/src/module-test-0.1/dkms_test.c")" = 644 ]
	run "$DKM" --root "$R" remove module-test/0.1 --all
	[ "$status" -eq 0 ]
	[ ! -e "$R/lib/modules/$KVER/updates/dkms/dkms_test.ko" ]
}

@test "umask 027: install works" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	run bash -c 'umask 027 && "$1" install module-test/0.1 -k "$2"' _ "$DKM" "$KVER"
	[ "$status" -eq 0 ]
	[ -n "$(modinfo_field dkms_test signer)" ]
}

@test "without the sandbox (sandbox=off), what the build uid cannot reach is named before make" {
	private_root closed
	echo "sandbox=off" > "$R/etc/dkm-hook/dkm-hook.conf"
	"$DKM" --root "$R" add "$(fixture module-test)" >/dev/null
	run "$DKM" --root "$R" build module-test/0.1 -k "$KVER"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot enter '$R/var/lib/dkm-hook/build/$KVER/$ARCH/module-test/0.1/build': Permission denied: every directory above it must be searchable by that uid"* ]]
	! grep -q 'Entering directory' "$R/var/lib/dkm-hook/packages/module-test/0.1/kernels/$KVER/$ARCH/build.log"
}

# a host (or container) where dkm-hook lacks CAP_SYS_ADMIN: no namespaces can be made
no_sys_admin() { setpriv --bounding-set -sys_admin --inh-caps -sys_admin "$@"; }

@test "sandbox=auto without namespaces: the build still works, with one line saying what is missing" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	run no_sys_admin "$DKM" install module-test/0.1 -k "$KVER"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'no build sandbox here' <<<"$output")" -eq 1 ]
	[[ "$output" == *"dkm-hook: warning: no build sandbox here (cannot unshare the mount, PID, network, IPC and UTS namespaces: Operation not permitted): builds run only as an unprivileged uid, without namespaces; sandbox=required in '$ROOT/etc/dkm-hook/dkm-hook.conf' refuses instead"* ]]
	[ -n "$(modinfo_field dkms_test signer)" ]
	grep -q '(no sandbox), as uid ' "$(log_of module-test/0.1)"
}

@test "sandbox=required without namespaces: refused with one line naming the step and the key" {
	conf "sandbox=required"
	"$DKM" add "$(fixture module-test)" >/dev/null
	before=$(snapshot)
	run no_sys_admin "$DKM" build module-test/0.1 -k "$KVER"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"dkm-hook: error: the build sandbox is required (sandbox=required in '$ROOT/etc/dkm-hook/dkm-hook.conf') but unavailable here: cannot unshare the mount, PID, network, IPC and UTS namespaces: Operation not permitted: allow namespaces (CAP_SYS_ADMIN) for dkm-hook, or set sandbox=auto"* ]]
	diff <(echo "$before") <(snapshot)
}

@test "sandbox=required where namespaces work: builds as usual; sandbox=off: no namespaces, no warning" {
	conf "sandbox=required"
	hostile 'readlink /proc/self/ns/mnt'
	run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	inside=$(grep '^mnt:' "$(log_of module-test/0.1)")
	[ "$inside" != "$(readlink /proc/self/ns/mnt)" ]
	sed -i 's/^sandbox=.*/sandbox=off/' "$ROOT/etc/dkm-hook/dkm-hook.conf"
	run "$DKM" build --force module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" != *warning* ]]
	cat "$(log_of module-test/0.1)"
	grep -Fqx "$(readlink /proc/self/ns/mnt)" "$(log_of module-test/0.1)"
}

@test "sandbox= with a wrong value is refused naming the file and the values" {
	conf "sandbox=maybe" # line 2: make_root wrote line 1
	run "$DKM" status
	[ "$status" -ne 0 ]
	[[ "$output" == *"invalid configuration: '$ROOT/etc/dkm-hook/dkm-hook.conf':2: sandbox='maybe': expected one of auto, required, off"* ]]
}

@test "a dkms.conf that needs the shell is evaluated in the sandbox too, from a 0700 directory" {
	private=$BATS_TEST_TMPDIR/home
	mkdir -m 0700 "$private"
	src=$private/pkg
	cp -a "$FIXTURES/module-test" "$src"
	# $(...) needs the shell; it reads a file next to the dkms.conf
	echo 0.1 > "$src/VERSION"
	sed -i 's/^PACKAGE_VERSION=.*/PACKAGE_VERSION="$(cat VERSION)"/' "$src/dkms.conf"
	echo 'X="$(ls -d /proc/[0-9]* | wc -l)"' >> "$src/dkms.conf"
	run "$DKM" add "$src"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"added module-test/0.1"* ]]
}
