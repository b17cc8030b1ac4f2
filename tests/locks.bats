#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The locks against a local user and against a lock held too long: flock(2) works on a
# read-only descriptor, so a lock file anyone can open is one anyone can hold for ever, and
# every kernel upgrade would wait for them. Lock files are 0600 files of root's, whatever was
# at their path before is replaced (never followed); the kernel entry points (kernel-add,
# kernel-remove, the Debian hooks, the kernel-install plugin) wait at most lock_timeout
# seconds, saying which lock and which live process holds it; commands typed by hand wait and
# say so. lib/lock.c.

load lib/common
load lib/kernel-hooks

setup() {
	hook_kernel_root
	stub_dracut
	STATE=$ROOT/var/lib/dkm-hook
	"$DKM" add "$(fixture module-test)" >/dev/null
	# the registry lock exists from add, the kernel's from a first build
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	USER_HOLDER=
}

teardown() {
	[ -z "${USER_HOLDER-}" ] || kill "$USER_HOLDER" 2>/dev/null || true
	release_lock 2>/dev/null || true
}

# as_nobody_hold FILE — nobody (no groups) opens FILE read-only and flocks it until the test
# ends: what any local user can do to a lock file they can open. Returns 0 if they got it.
as_nobody_hold() {
	local ready=$BATS_TEST_TMPDIR/nobody/holds
	mkdir -p "${ready%/*}" && chmod 0777 "${ready%/*}"
	rm -f "$ready"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		flock -x "$1" sh -c ": >'$ready'; exec sleep 300" 2>"$BATS_TEST_TMPDIR/nobody.err" &
	USER_HOLDER=$!
	for _ in $(seq 1 100); do
		[ -e "$ready" ] && return 0
		kill -0 "$USER_HOLDER" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

lock_is_ours() { # lock_is_ours FILE: a regular file of root's, mode 0600
	[ ! -L "$1" ] && [ -f "$1" ] && [ "$(stat -c '%u %a' "$1")" = "0 600" ]
}

@test "lock files are root's 0600: a local user cannot open them, so cannot hold them" {
	command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
	lock_is_ours "$STATE/lock"
	lock_is_ours "$STATE/kernels/$KVER/lock"
	# the state dir is reachable by nobody (make_root opened the test dirs): only the mode stops them
	setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$STATE"
	if as_nobody_hold "$STATE/lock"; then false; fi
	grep -q 'Permission denied' "$BATS_TEST_TMPDIR/nobody.err"
	if as_nobody_hold "$STATE/kernels/$KVER/lock"; then false; fi
	# so the kernel hook runs at once
	run timeout 120 "$DKM" kernel-add "$KVER"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *waiting* ]]
}

@test "a 0644 lock file left by an older version, held by a local user, is replaced: kernel-add does not wait" {
	command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
	for l in "$STATE/lock" "$STATE/kernels/$KVER/lock"; do
		chmod 0644 "$l"
		as_nobody_hold "$l"
		run timeout 120 "$DKM" kernel-add "$KVER"
		echo "$output"
		[ "$status" -eq 0 ]
		[[ "$output" != *waiting* ]]
		[[ "$output" == *"dkm-hook: warning: replaced lock file '$l': its mode was 0644 (others could open it); others could hold it and block every command"* ]]
		lock_is_ours "$l"
		kill "$USER_HOLDER"
		USER_HOLDER=
	done
	# install, remove, rebuild: the same lock files, no wait either
	chmod 0644 "$STATE/lock"
	as_nobody_hold "$STATE/lock"
	run timeout 120 "$DKM" rebuild "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" != *waiting* ]]
}

@test "a lock path that is a symlink, another user's file or a FIFO is replaced, never followed" {
	echo untouched >"$BATS_TEST_TMPDIR/target"
	rm "$STATE/lock"
	ln -s "$BATS_TEST_TMPDIR/target" "$STATE/lock"
	run timeout 120 "$DKM" rebuild "$KVER"
	echo "$output"
	[ "$status" -eq 0 ]
	has() { grep -qxF -- "$1" <<<"$output" || { echo "missing: $1"; return 1; }; }
	has "dkm-hook: warning: replaced lock file '$STATE/lock': it was a symbolic link (not followed); others could hold it and block every command"
	lock_is_ours "$STATE/lock"
	[ "$(cat "$BATS_TEST_TMPDIR/target")" = untouched ]
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/target")" = 644 ]

	chown nobody "$STATE/kernels/$KVER/lock"
	run timeout 120 "$DKM" rebuild "$KVER"
	[ "$status" -eq 0 ]
	has "dkm-hook: warning: replaced lock file '$STATE/kernels/$KVER/lock': it belonged to uid $(id -u nobody); others could hold it and block every command"
	lock_is_ours "$STATE/kernels/$KVER/lock"

	rm "$STATE/kernels/$KVER/lock" && mkfifo -m 0600 "$STATE/kernels/$KVER/lock"
	run timeout 120 "$DKM" rebuild "$KVER"
	[ "$status" -eq 0 ]
	has "dkm-hook: warning: replaced lock file '$STATE/kernels/$KVER/lock': it was not a regular file; others could hold it and block every command"
	lock_is_ours "$STATE/kernels/$KVER/lock"

	# a kernel's state dir that others could write (where they could swap the lock) is made root's
	chmod 0777 "$STATE/kernels/$KVER"
	run timeout 120 "$DKM" rebuild "$KVER"
	[ "$status" -eq 0 ]
	has "dkm-hook: warning: directory '$STATE/kernels/$KVER' belonged to uid 0 with mode 0777: made it root's, writable only by root"
	[ "$(stat -c '%u %a' "$STATE/kernels/$KVER")" = "0 755" ]
}

# hold_live FILE — a live process (util-linux flock, which stays while its command runs)
# holds FILE; LIVE_PID is the pid /proc/locks names
hold_live() {
	local ready=$BATS_TEST_TMPDIR/.live-holds
	rm -f "$ready"
	flock -x "$1" sh -c ": >'$ready'; exec sleep 300" &
	LIVE_PID=$!
	for _ in $(seq 1 200); do
		[ -e "$ready" ] && return 0
		sleep 0.05
	done
	return 1
}

@test "kernel-add gives up after lock_timeout with one line naming the lock and its live holder" {
	conf compress=xz lock_timeout=2
	hold_live "$STATE/kernels/$KVER/lock"
	local t0=$SECONDS
	run timeout 120 "$DKM" kernel-add "$KVER"
	kill "$LIVE_PID"
	echo "$output"
	[ "$status" -eq 1 ]
	((SECONDS - t0 < 60))
	local l=$STATE/kernels/$KVER/lock
	# shown at once, as a warning (the plugin's log level shows warnings)
	[[ "$output" == *"dkm-hook: warning: waiting for pid $LIVE_PID ('flock'), which is not a dkm-hook command, to release '$l'; giving up after 2 s (lock_timeout=)"* ]]
	[[ "$output" == *"dkm-hook: error: gave up after 2 s waiting for pid $LIVE_PID ('flock'), which is not a dkm-hook command, to release '$l': if it is stuck, stop it ('fuser -v $l' names it), then run this again; lock_timeout= in dkm-hook.conf sets the wait"* ]]
	[[ "$output" == *"stopping the installation of $KVER"* ]]
}

@test "the pid named is a live holder, never a stale one from an earlier command" {
	conf compress=xz lock_timeout=1
	# an older dkm-hook wrote its pid into the file; hold_lock's holder took the lock with a
	# short-lived flock(1) whose pid /proc/locks keeps: neither is alive and holding
	printf '99999\n' >"$STATE/lock"
	hold_lock "$STATE/lock"
	run timeout 120 "$DKM" kernel-remove "$KVER"
	release_lock
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"dkm-hook: warning: waiting for another dkm-hook command to release '$STATE/lock'; giving up after 1 s (lock_timeout=)"* ]]
	[[ "$output" != *99999* && "$output" != *"pid "* ]]
}

@test "the kernel-install plugin and the Debian hooks: the wait is visible and bounded" {
	conf compress=xz lock_timeout=1
	hold_live "$STATE/lock"
	run timeout 120 "$PLUGIN" add "$KVER" "$T/entry" "/boot/vmlinuz-$KVER"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"dkm-hook: warning: waiting for pid $LIVE_PID ('flock'), which is not a dkm-hook command, to release '$STATE/lock'; giving up after 1 s (lock_timeout=)"* ]]
	[[ "$output" == *"dkm-hook: error: gave up after 1 s waiting for"* ]]
	for d in postinst.d prerm.d; do
		mkdir -p "$T/$d"
		cp "$TOP/hooks/debian/$d/dkm-hook" "$T/$d/"
	done
	run timeout 120 run-parts --exit-on-error --arg="$KVER" --arg="/boot/vmlinuz-$KVER" "$T/postinst.d"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"gave up after 1 s waiting for pid $LIVE_PID"* ]]
	# prerm never stops a removal: it warns and goes on
	run timeout 120 run-parts --exit-on-error --arg="$KVER" --arg="/boot/vmlinuz-$KVER" "$T/prerm.d"
	[ "$status" -eq 0 ]
	[[ "$output" == *"gave up after 1 s waiting for pid $LIVE_PID"* ]]
	kill "$LIVE_PID"
}

@test "commands typed by hand wait for as long as it takes, and say so" {
	conf compress=xz lock_timeout=1
	run_waiting_for_lock "$STATE/kernels/$KVER/lock" "$DKM" install module-test/0.1 -k "$KVER"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"waiting for another dkm-hook command to release '$STATE/kernels/$KVER/lock'; this command waits until it does (Ctrl-C stops it)"* ]]
}

@test "a lock deleted while a command waits on it (kernel-remove drops the kernel's dir) is not trusted" {
	local l=$STATE/kernels/$KVER/lock out=$BATS_TEST_TMPDIR/rebuild.out pid
	hold_lock "$l"
	first=$LOCK_HOLDER
	"$DKM" rebuild "$KVER" >"$out" 2>&1 &
	pid=$!
	for _ in $(seq 1 600); do
		grep -q 'waiting for' "$out" && break
		sleep 0.05
	done
	grep -q 'waiting for' "$out"
	# the file is deleted and made again, and someone takes the new one
	rm "$l"
	install -m 0600 /dev/null "$l"
	hold_lock "$l"
	second=$LOCK_HOLDER
	LOCK_HOLDER=$first release_lock
	# the rebuild gets the old file's lock now: it must see that the file is gone and wait for
	# the new one's holder (an older version went on building at once)
	for _ in $(seq 1 50); do
		grep -q 'building' "$out" && break
		sleep 0.1
	done
	kill -0 "$pid"
	if grep -q 'building' "$out"; then cat "$out"; false; fi
	LOCK_HOLDER=$second release_lock
	wait "$pid" || { cat "$out"; false; }
	grep -q "module-test/0.1: built for $KVER" "$out"
}
