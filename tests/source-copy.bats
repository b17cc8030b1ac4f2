#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The privileged copy of a module source (`add`, and the private copy of every build): root
# never creates a setuid, setgid or sticky entry, nor a group- or world-writable one, whatever
# the source's modes and the process umask; and a source changed while it is being copied (a
# directory swapped for a symlink to a directory only root can read) never makes root copy
# what the source's owner cannot read. docs/security.md says what each defence is.

load lib/common

setup() {
	require_headers
	make_root
	SRC=$(fixture module-test)
	COPY=$ROOT/usr/src/module-test-0.1
	ATTACKER=
}

teardown() {
	# an attacker loop never outlives its test, whatever failed
	if [ -n "$ATTACKER" ]; then
		: >"$BATS_TEST_TMPDIR/stop"
		wait "$ATTACKER" || true
	fi
}

# start_swapper <dir> <name-a> <name-b> <pause>: as nobody, swap two names in <dir> back and
# forth (renameat2 RENAME_EXCHANGE) until $BATS_TEST_TMPDIR/stop exists; counts in attacker.log
start_swapper() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 -c '
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
os.chdir(sys.argv[1])
AT_FDCWD, RENAME_EXCHANGE = -100, 2
n = 0
while not os.path.exists(sys.argv[2]):
    if libc.renameat2(AT_FDCWD, sys.argv[3].encode(), AT_FDCWD, sys.argv[4].encode(), RENAME_EXCHANGE) != 0:
        sys.exit("renameat2: %s" % os.strerror(ctypes.get_errno()))
    n += 1
    time.sleep(float(sys.argv[5]))
print(n, "swaps")
' "$1" "$BATS_TEST_TMPDIR/stop" "$2" "$3" "$4" >"$BATS_TEST_TMPDIR/attacker.log" 2>&1 &
	ATTACKER=$!
}

# stop_swapper <at least>: stop it; it must have swapped more than <at least> times
stop_swapper() {
	: >"$BATS_TEST_TMPDIR/stop"
	wait "$ATTACKER"
	ATTACKER=
	cat "$BATS_TEST_TMPDIR/attacker.log"
	[ "$(awk '/ swaps$/ { print $1 }' "$BATS_TEST_TMPDIR/attacker.log")" -gt "$1" ]
}

# every entry under $1 whose mode is not what root may create: files 0644/0755, dirs 0755,
# symlinks as they are; and every entry not owned by root
bad_modes() {
	find "$1" \( -type d ! -perm 0755 \) -o \( -type f ! -perm 0644 ! -perm 0755 \) \
		-o \( ! -type l -perm /7022 \) -o ! -user root -o ! -group root
}

# a source with every mode bit that must not survive the copy
hostile_modes() {
	install -m 4755 /bin/true "$SRC/setuid-tool"
	install -m 2755 /bin/true "$SRC/setgid-tool"
	install -m 6777 /bin/true "$SRC/both-world-writable"
	mkdir "$SRC/tmp"
	chmod 1777 "$SRC/tmp"
	echo x >"$SRC/tmp/world-writable.h"
	chmod 0666 "$SRC/tmp/world-writable.h"
	echo x >"$SRC/group-writable.h"
	chmod 0664 "$SRC/group-writable.h"
	echo x >"$SRC/private.h"
	chmod 0600 "$SRC/private.h"
	echo x >"$SRC/exec-by-owner-only"
	chmod 0700 "$SRC/exec-by-owner-only"
	mkdir -p "$SRC/include/linux"
	chmod 0777 "$SRC/include" "$SRC/include/linux"
	echo x >"$SRC/include/linux/h.h"
	chmod 2777 "$SRC"
	ln -s include/linux "$SRC/linux"
}

@test "add under umask 0: no setuid/setgid/sticky bit, nothing group- or world-writable" {
	hostile_modes
	run bash -c 'umask 0 && exec "$1" add "$2"' - "$DKM" "$SRC"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$(bad_modes "$COPY")" ] || { bad_modes "$COPY" | xargs ls -ld; false; }
	[ "$(stat -c %a "$COPY")" = 755 ]
	[ "$(stat -c %a "$COPY/setuid-tool")" = 755 ]
	[ "$(stat -c %a "$COPY/setgid-tool")" = 755 ]
	[ "$(stat -c %a "$COPY/both-world-writable")" = 755 ]
	[ "$(stat -c %a "$COPY/exec-by-owner-only")" = 755 ]
	[ "$(stat -c %a "$COPY/tmp")" = 755 ]
	[ "$(stat -c %a "$COPY/tmp/world-writable.h")" = 644 ]
	[ "$(stat -c %a "$COPY/group-writable.h")" = 644 ]
	[ "$(stat -c %a "$COPY/private.h")" = 644 ]
	[ "$(stat -c %a "$COPY/include/linux")" = 755 ]
	[ "$(readlink "$COPY/linux")" = include/linux ]
	# the content is the source's
	cmp "$SRC/setuid-tool" "$COPY/setuid-tool"
	cmp "$SRC/include/linux/h.h" "$COPY/include/linux/h.h"
	# and the unprivileged user who could run the tool does not become root through it
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$COPY/setuid-tool"
	[ "$status" -eq 0 ]
}

@test "add under umask 077: still 0644/0755, so the build user can read the source" {
	hostile_modes
	run bash -c 'umask 077 && exec "$1" add "$2"' - "$DKM" "$SRC"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$(bad_modes "$COPY")" ] || { bad_modes "$COPY" | xargs ls -ld; false; }
	[ "$(stat -c %a "$COPY")" = 755 ]
	[ "$(stat -c %a "$COPY/dkms.conf")" = 644 ]
	[ "$(stat -c %a "$COPY/private.h")" = 644 ]
	[ "$(stat -c %a "$COPY/setuid-tool")" = 755 ]
	[ "$(stat -c %a "$COPY/include")" = 755 ]
	# the build user reads all of it
	setpriv --reuid=nobody --regid=nogroup --clear-groups cat "$COPY/include/linux/h.h" \
		"$COPY/private.h" "$COPY/dkms.conf" >/dev/null
}

@test "copying the source keeps its symlinks that stay inside, in any listing order" {
	mkdir -p "$SRC/a" "$SRC/z/y"
	echo inside >"$SRC/z/y/file"
	# each resolves only through entries the copy may list after the link itself
	ln -s ../z/y/../y/file "$SRC/a/link"
	ln -s z/y/.. "$SRC/zz"
	ln -s . "$SRC/z/self"
	ln -s self/self/y "$SRC/z/y2"
	ln -s ../../missing/generated.h "$SRC/z/y/generated.h"
	run "$DKM" add "$SRC"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(readlink "$COPY/a/link")" = ../z/y/../y/file ]
	[ "$(cat "$COPY/a/link")" = inside ]
	[ "$(readlink "$COPY/zz")" = z/y/.. ]
	[ "$(readlink "$COPY/z/y2")" = self/self/y ]
	[ "$(readlink "$COPY/z/y/generated.h")" = ../../missing/generated.h ]
	[ -z "$(bad_modes "$COPY")" ]
}

@test "a symlink leaving the source through a link inside a subdirectory is left out of the copy, and named" {
	mkdir -p "$SRC/a/b"
	ln -s .. "$SRC/a/b/up"
	ln -s b/up/b/up/../../../etc "$SRC/a/etc"
	run "$DKM" add "$SRC"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qxF "dkm-hook: warning: adding '$SRC': left out 'a/etc -> b/up/b/up/../../../etc': a symlink that points outside the source (put a copy of what it points to in the source if the build needs it)" <<<"$output"
	# the copy has no way out: the link is not there, the one inside the source is
	[ ! -e "$COPY/a/etc" ] && [ ! -L "$COPY/a/etc" ]
	[ "$(readlink "$COPY/a/b/up")" = .. ]
}

# ---- a source that changes while root copies it ----

# A directory only root can read, holding files with the names of the source's sub/ files.
# The source's owner (nobody) swaps sub/ with a symlink to it, again and again, while root
# copies: root must never read through that symlink.
@test "a directory swapped for a symlink to a root-only directory during the copy is never followed" {
	local secret=$BATS_TEST_TMPDIR/secret marker=SECRET-MARKER-$$-$RANDOM i ok=0 refused=0 leaked=
	mkdir -m 0700 "$secret" "$SRC/sub"
	for i in $(seq -w 000 299); do
		echo "real $i" >"$SRC/sub/f$i.h"
		echo "$marker" >"$secret/f$i.h"
	done
	mkdir -m 0700 "$secret/nested"
	echo "$marker" >"$secret/nested/f000.h"
	# parked outside the source: a symlink in the source pointing out is refused anyway
	ln -s "$secret" "$BATS_TEST_TMPDIR/src/parked"
	chown -R nobody:nogroup "$BATS_TEST_TMPDIR/src"
	setpriv --reuid=nobody --regid=nogroup --clear-groups test -w "$SRC"

	start_swapper "$BATS_TEST_TMPDIR/src" module-test/sub parked 0.0001
	for i in $(seq 1 100); do
		run "$DKM" add "$SRC"
		if grep -rlF "$marker" "$ROOT" >/dev/null 2>&1; then
			leaked=$(grep -rlF "$marker" "$ROOT" | head -3)
			break
		fi
		if [ "$status" -eq 0 ] && [[ "$output" == *"left out 'sub -> $secret'"* ]]; then
			# sub was the symlink when it was listed: left out of the copy, never followed
			ok=$((ok + 1))
			[ ! -e "$COPY/sub" ] && [ ! -L "$COPY/sub" ]
			"$DKM" remove module-test/0.1 --all >/dev/null
		elif [ "$status" -eq 0 ]; then
			ok=$((ok + 1))
			# the real content, complete
			[ "$(cat "$COPY/sub/f000.h")" = "real 000" ]
			[ "$(ls "$COPY/sub" | wc -l)" -eq 300 ]
			"$DKM" remove module-test/0.1 --all >/dev/null
		else
			refused=$((refused + 1))
			# a clear message naming the entry that changed, and nothing left behind
			echo "$output"
			grep -qE "^dkm-hook: error: cannot add '$SRC': 'sub(/[^']*)?' changed while it was being copied \(replaced or moved\): make sure nothing changes the source during 'dkm-hook add', then add it again$|^dkm-hook: error: cannot add '$SRC': 'sub -> $secret' is a symlink that points outside the source: " <<<"$output"
			[ ! -e "$ROOT/var/lib/dkm-hook/packages/module-test" ]
			[ -z "$(ls -A "$ROOT/usr/src")" ]
		fi
	done
	echo "$ok added, $refused refused"
	[ -z "$leaked" ] || { echo "root copied the root-only files into: $leaked"; false; }
	# the attack did run all along
	stop_swapper 100
}

@test "the source directory itself swapped between reading its dkms.conf and copying it: refused, nothing leaks" {
	local secret=$BATS_TEST_TMPDIR/secret2 marker=SECRET-MARKER-$$-$RANDOM i ok=0 refused=0 leaked=
	mkdir -m 0700 "$secret"
	for i in $(seq -w 000 199); do
		echo "$marker" >"$secret/f$i.h"
		echo "real $i" >"$SRC/f$i.h"
	done
	# parked next to it: the owner of the parent directory swaps the two names back and forth
	ln -s "$secret" "$BATS_TEST_TMPDIR/src/parked"
	chown -R nobody:nogroup "$BATS_TEST_TMPDIR/src"
	start_swapper "$BATS_TEST_TMPDIR/src" module-test parked 0.0002
	for i in $(seq 1 60); do
		run "$DKM" add "$SRC"
		if grep -rlF "$marker" "$ROOT" >/dev/null 2>&1; then
			leaked=$(grep -rlF "$marker" "$ROOT" | head -3)
			break
		fi
		if [ "$status" -eq 0 ]; then
			ok=$((ok + 1))
			[ "$(cat "$COPY/f000.h")" = "real 000" ]
			"$DKM" remove module-test/0.1 --all >/dev/null
		else
			refused=$((refused + 1))
			[ ! -e "$ROOT/var/lib/dkm-hook/packages/module-test" ]
			[ -z "$(ls -A "$ROOT/usr/src")" ]
		fi
	done
	echo "$ok added, $refused refused"
	[ -z "$leaked" ] || { echo "root copied the root-only files into: $leaked"; false; }
	stop_swapper 50
}
