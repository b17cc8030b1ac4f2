#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# Hostile and broken inputs: third-party sources, sloppy or malicious dkms.conf files and
# Makefiles, damaged state, bad arguments and configuration. Every case asserts the message
# (it names the file, the directive or setting and what is expected) and that the root is
# byte for byte unchanged outside the state dir; a refused `add` leaves no registration and
# no copy in <root>/usr/src. docs/security.md says what each defence is.

load lib/common

setup() {
	require_headers
	make_root
	SRC=$(fixture module-test)
	CONF=$SRC/dkms.conf
	PKGDIR=$ROOT/var/lib/dkm-hook/packages/module-test
	INST=$PKGDIR/0.1/kernels/$KVER/$(uname -m)
	# what the "hangs" cases sleep: unique to this run and test, so that other suites running
	# at the same time never see (or kill) ours, nor we theirs
	# (the dot keeps pid 123 + test 45 apart from pid 1234 + test 5)
	NAP=9$$.${BATS_TEST_NUMBER}
	NAP_RE="^sleep ${NAP//./\\.}\$"
}

teardown() {
	# a hung build of one test must never outlive it
	pkill -KILL -f "$NAP_RE" 2>/dev/null || true
}

# ---- helpers ----

# The fixture's dkms.conf with extra lines (later assignments win).
conf() {
	printf '%s\n' 'PACKAGE_NAME="module-test"' 'PACKAGE_VERSION="0.1"' \
		'MAKE[0]="make KERNDIR=${kernel_source_dir} all"' 'BUILT_MODULE_NAME[0]="dkms_test"' \
		'DEST_MODULE_LOCATION[0]="/updates/dkms"' "$@" > "$CONF"
}

# The one line of output that must be there, exactly.
has_line() {
	grep -qxF -- "$1" <<<"$output" || { printf 'missing line: %s\noutput:\n%s\n' "$1" "$output" >&2; return 1; }
}

nothing_added() {
	[ ! -e "$PKGDIR" ]
	[ -z "$(ls -A "$ROOT/usr/src")" ]
}

# add must fail with <status> and <exact error line>, and change nothing
refuse_add() { # refuse_add <status> <line>
	local before
	before=$(snapshot)
	run "$DKM" add "$SRC"
	echo "$output"
	[ "$status" -eq "$1" ]
	has_line "$2"
	nothing_added
	diff <(echo "$before") <(snapshot)
}

invalid() { # the line for a refused dkms.conf
	echo "dkm-hook: error: invalid dkms.conf: '$CONF': $1"
}

# add (which copies the source into the root), then snapshot: a build must change nothing
# outside the state dir from there on
add_ok() {
	"$DKM" add "$SRC" >/dev/null
	BEFORE=$(snapshot)
}

unchanged() {
	diff <(echo "$BEFORE") <(snapshot)
}

build_fails() { # build_fails <status>: build for KVER, expect failure and an unchanged root
	run "$DKM" build module-test/0.1 -k "$KVER"
	echo "$output"
	[ "$status" -eq "$1" ]
	unchanged
}

state_of() { sed -n 's/^state=//p' "$INST/state"; }

# ---- paths in dkms.conf directives ----

@test "BUILT_MODULE_NAME with ../../etc/passwd is refused" {
	conf 'BUILT_MODULE_NAME[0]="../../etc/passwd"'
	refuse_add 5 "$(invalid "BUILT_MODULE_NAME[0]='../../etc/passwd': must be a name without '/', '..', blanks or control characters, such as 'mymod'")"
}

@test "BUILT_MODULE_LOCATION ../../etc is refused" {
	conf 'BUILT_MODULE_LOCATION[0]="../../etc"'
	refuse_add 5 "$(invalid "BUILT_MODULE_LOCATION[0]='../../etc': must be a relative directory inside the build dir, without '..', e.g. \"src/\"")"
}

@test "BUILT_MODULE_LOCATION /etc/x (absolute) is refused" {
	conf 'BUILT_MODULE_LOCATION[0]="/etc/x"'
	refuse_add 5 "$(invalid "BUILT_MODULE_LOCATION[0]='/etc/x': must be a relative directory inside the build dir, without '..', e.g. \"src/\"")"
}

@test "BUILT_MODULE_LOCATION a/../../b (climbs out after a step in) is refused" {
	conf 'BUILT_MODULE_LOCATION[0]="a/../../b"'
	refuse_add 5 "$(invalid "BUILT_MODULE_LOCATION[0]='a/../../b': must be a relative directory inside the build dir, without '..', e.g. \"src/\"")"
}

@test "DEST_MODULE_NAME with a path is refused" {
	conf 'DEST_MODULE_NAME[0]="../../../boot/vmlinuz"'
	refuse_add 5 "$(invalid "DEST_MODULE_NAME[0]='../../../boot/vmlinuz': must be a name without '/', '..', blanks or control characters, such as 'dkms_test'")"
}

@test "DEST_MODULE_LOCATION /updates/../../../etc is refused" {
	conf 'DEST_MODULE_LOCATION[0]="/updates/../../../etc"'
	refuse_add 5 "$(invalid "DEST_MODULE_LOCATION[0]='/updates/../../../etc': must start with /kernel, /updates or /extra and not contain '..'")"
}

@test "DEST_MODULE_LOCATION /etc/x (outside the module dirs) is refused" {
	conf 'DEST_MODULE_LOCATION[0]="/etc/x"'
	refuse_add 5 "$(invalid "DEST_MODULE_LOCATION[0]='/etc/x': must start with /kernel, /updates or /extra and not contain '..'")"
}

@test "PATCH ../../etc/passwd is refused" {
	conf 'PATCH[0]="../../etc/passwd"'
	refuse_add 5 "$(invalid "PATCH[0]='../../etc/passwd': must be a path below the package's patches/ directory without '..' components, blanks or control characters, such as 'subdir/fix-build.patch'")"
}

@test "PATCH /etc/x.patch (absolute) is refused" {
	conf 'PATCH[0]="/etc/x.patch"'
	refuse_add 5 "$(invalid "PATCH[0]='/etc/x.patch': must be a path relative to the package's patches/ directory, not an absolute one, such as 'fix-build.patch' or 'subdir/fix-build.patch'")"
}

script_msg() { # script_msg <directive> <value>
	invalid "$1[0]='$2': must name a script inside the package, relative and without '..', e.g. \"./configure\""
}

@test "PRE_BUILD ../../x.sh is refused" {
	conf 'PRE_BUILD="../../x.sh"'
	refuse_add 5 "$(script_msg PRE_BUILD ../../x.sh)"
}

@test "POST_BUILD '/bin/sh -c id' (absolute) is refused" {
	conf 'POST_BUILD="/bin/sh -c id"'
	refuse_add 5 "$(script_msg POST_BUILD '/bin/sh -c id')"
}

@test "POST_ADD a/../../b.sh is refused" {
	conf 'POST_ADD="a/../../b.sh"'
	refuse_add 5 "$(script_msg POST_ADD a/../../b.sh)"
}

@test "PRE_INSTALL /tmp/x (absolute) is refused" {
	conf 'PRE_INSTALL="/tmp/x"'
	refuse_add 5 "$(script_msg PRE_INSTALL /tmp/x)"
}

@test "POST_INSTALL ../x is refused" {
	conf 'POST_INSTALL="../x"'
	refuse_add 5 "$(script_msg POST_INSTALL ../x)"
}

@test "POST_REMOVE /x (absolute) is refused" {
	conf 'POST_REMOVE="/x"'
	refuse_add 5 "$(script_msg POST_REMOVE /x)"
}

# ---- PACKAGE_NAME and PACKAGE_VERSION ----

name_msg() { # name_msg <directive> <shown value> <example>
	invalid "$1[0]='$2': must be a name without '/', '..', blanks or control characters, such as '$3'"
}

@test "PACKAGE_NAME with '/' is refused" {
	conf 'PACKAGE_NAME="evil/../../etc"'
	refuse_add 5 "$(name_msg PACKAGE_NAME 'evil/../../etc' mydriver)"
}

@test "PACKAGE_NAME '..' is refused" {
	conf 'PACKAGE_NAME=".."'
	refuse_add 5 "$(name_msg PACKAGE_NAME .. mydriver)"
}

@test "PACKAGE_NAME with a space is refused" {
	conf 'PACKAGE_NAME="my driver"'
	refuse_add 5 "$(name_msg PACKAGE_NAME 'my driver' mydriver)"
}

@test "PACKAGE_NAME with a newline is refused, shown escaped on one line" {
	conf 'PACKAGE_NAME="a' 'b"'
	refuse_add 5 "$(name_msg PACKAGE_NAME 'a\nb' mydriver)"
}

@test "PACKAGE_NAME with a control character is refused, shown escaped" {
	conf "PACKAGE_NAME=\"a$(printf '\033')[31mb\""
	refuse_add 5 "$(name_msg PACKAGE_NAME 'a\x1b[31mb' mydriver)"
}

@test "an empty PACKAGE_NAME is refused" {
	conf 'PACKAGE_NAME=""'
	refuse_add 5 "$(invalid 'PACKAGE_NAME is not set: it must name the package, e.g. PACKAGE_NAME="mydriver"')"
}

@test "PACKAGE_VERSION ../1 is refused" {
	conf 'PACKAGE_VERSION="../1"'
	refuse_add 5 "$(name_msg PACKAGE_VERSION ../1 1.0)"
}

@test "an empty PACKAGE_VERSION is refused" {
	conf 'PACKAGE_VERSION=""'
	refuse_add 5 "$(invalid 'PACKAGE_VERSION is not set: it must give the version, e.g. PACKAGE_VERSION="1.0"')"
}

@test "a PACKAGE_NAME computed by the shell is validated like a literal one" {
	conf 'PACKAGE_NAME=$(echo x/../../y)'
	refuse_add 5 "$(name_msg PACKAGE_NAME 'x/../../y' mydriver)"
}

# ---- symlinks in the source ----

left_out_msg() { # left_out_msg <entry -> target> [" and others"]
	echo "dkm-hook: warning: adding '$SRC': left out '$1'${2:-}: a symlink that points outside the source (put a copy of what it points to in the source if the build needs it)"
}

# add succeeds with the copy in <root>/usr/src, the link left out and named in one warning:
# no copy ever has a way out of itself (a real package ships a doc link into /usr/share/doc)
add_leaves_out() { # add_leaves_out <entry in the copy> <warning line>
	run "$DKM" add "$SRC"
	echo "$output"
	[ "$status" -eq 0 ]
	has_line "$2"
	[ -f "$ROOT/usr/src/module-test-0.1/dkms.conf" ]
	[ ! -e "$ROOT/usr/src/module-test-0.1/$1" ] && [ ! -L "$ROOT/usr/src/module-test-0.1/$1" ]
	# nothing of it anywhere in the copy
	if find "$ROOT/usr/src/module-test-0.1" -type l -lname '/*' | grep -q .; then false; fi
}

@test "a symlink to an absolute path outside the source is left out of the copy, with a warning" {
	ln -s /etc/passwd "$SRC/passwd.h"
	add_leaves_out passwd.h "$(left_out_msg 'passwd.h -> /etc/passwd')"
}

@test "a relative ../.. symlink leaving the source is left out of the copy, with a warning" {
	mkdir "$SRC/include"
	ln -s ../../../../etc "$SRC/include/etc"
	ln -s ../../x "$SRC/include/x"
	add_leaves_out include/etc "$(left_out_msg 'include/etc -> ../../../../etc' ' and others')"
	[ ! -L "$ROOT/usr/src/module-test-0.1/include/x" ]
	[ -d "$ROOT/usr/src/module-test-0.1/include" ]
}

@test "a symlink that only leaves the source once resolved (d -> ., d/d/../..) is left out of the copy" {
	ln -s . "$SRC/d"
	ln -s d/d/d/d/d/d/d/d/d/d/../../../../../../../../../../etc "$SRC/patches"
	[ -e "$SRC/patches/passwd" ] # it does reach /etc
	add_leaves_out patches "$(left_out_msg 'patches -> d/d/d/d/d/d/d/d/d/d/../../../../../../../../../../etc')"
	[ "$(readlink "$ROOT/usr/src/module-test-0.1/d")" = . ]
}

@test "symlinks that stay inside (also dangling ones to generated files) are kept" {
	ln -s . "$SRC/d"
	ln -s d/d/Makefile "$SRC/Makefile.link"
	mkdir "$SRC/include"
	ln -s ../generated.h "$SRC/include/generated.h"
	run "$DKM" add "$SRC"
	[ "$status" -eq 0 ]
	[ "$(readlink "$ROOT/usr/src/module-test-0.1/include/generated.h")" = ../generated.h ]
	[ "$(readlink "$ROOT/usr/src/module-test-0.1/Makefile.link")" = d/d/Makefile ]
}

@test "a dkms.conf that is a symlink to a file outside the source is not even read" {
	cp "$CONF" "$BATS_TEST_TMPDIR/outside.conf"
	ln -sf "$BATS_TEST_TMPDIR/outside.conf" "$CONF"
	refuse_add 5 "$(invalid "is a symlink to '$BATS_TEST_TMPDIR/outside.conf', outside its directory: must be a regular file inside the package")"
}

@test "a symlink out of a source registered in place is left out of the build's copy; the build goes on" {
	cp -a "$SRC" "$ROOT/usr/src/module-test-0.1"
	"$DKM" add module-test/0.1 >/dev/null
	ln -s /etc "$ROOT/usr/src/module-test-0.1/patches"
	# what the build would see through it, were it copied
	echo 'test -e patches/passwd && echo "LEAKED" >&2; true' >"$ROOT/usr/src/module-test-0.1/pre.sh"
	echo 'PRE_BUILD="pre.sh"' >>"$ROOT/usr/src/module-test-0.1/dkms.conf"
	run "$DKM" build module-test/0.1 -k "$KVER"
	echo "$output"
	[ "$status" -eq 0 ]
	has_line "dkm-hook: warning: module-test/0.1: left out of the build's copy of the source: '$ROOT/usr/src/module-test-0.1/patches -> /etc': a symlink that points outside the source (put a copy of what it points to in the source if the build needs it)"
	grep -qx "# left out, symlinks outside the source: 1, the first: patches -> /etc" "$INST/build.log"
	if grep -q LEAKED "$INST/build.log"; then false; fi
	[ "$(state_of)" = built ]
}

# ---- Makefiles that misbehave (writes to /etc, /tmp, the module tree: tests/privilege.bats) ----

@test "a MAKE that writes into its own source tree (/usr/src/<pkg>-<ver>) fails; the source is unchanged" {
	conf 'MAKE[0]="echo pwned > $source_tree/module-test-0.1/dkms_test.c && make KERNDIR=${kernel_source_dir} all"'
	add_ok
	build_fails 4
	[[ "$output" == *"build of module-test/0.1 for $KVER failed: MAKE exited with status 1"* ]]
	grep -q "/usr/src/module-test-0.1/dkms_test.c: Read-only file system" "$INST/build.log"
	grep -q MODULE_LICENSE "$ROOT/usr/src/module-test-0.1/dkms_test.c"
	[ "$(state_of)" = failed ]
}

@test "a MAKE that writes into the state dir (its registration, the key dir) fails; the state is unchanged" {
	conf "MAKE[0]=\"echo source=/ >> $PKGDIR/0.1/package; touch $ROOT/var/lib/dkm-hook/planted; make KERNDIR=\${kernel_source_dir} all\""
	add_ok
	cp "$PKGDIR/0.1/package" "$BATS_TEST_TMPDIR/package.before"
	run "$DKM" build module-test/0.1 -k "$KVER"
	echo "$output"
	# the writes failed, the build itself went on and succeeded
	[ "$status" -eq 0 ]
	grep -q "$PKGDIR/0.1/package: \(Read-only file system\|Permission denied\)" "$INST/build.log"
	grep -q "planted.*\(Read-only file system\|Permission denied\)" "$INST/build.log"
	[ ! -e "$ROOT/var/lib/dkm-hook/planted" ]
	cmp "$PKGDIR/0.1/package" "$BATS_TEST_TMPDIR/package.before"
	unchanged
}

@test "a MAKE that leaves a file in /dev/shm (world-writable on the host) leaves nothing behind" {
	conf 'MAKE[0]="echo planted > /dev/shm/dkm-hook-planted-$$ && ls /dev/shm/dkm-hook-planted-* && make KERNDIR=${kernel_source_dir} all"'
	add_ok
	run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	# the write worked inside (a private tmpfs), and did not reach the host
	grep -q "^/dev/shm/dkm-hook-planted-" "$INST/build.log"
	[ -z "$(ls /dev/shm/dkm-hook-planted-* 2>/dev/null)" ]
	unchanged
}

@test "a MAKE that escapes its process group (setsid) does not outlive the build" {
	conf "MAKE[0]=\"setsid sleep $NAP </dev/null >/dev/null 2>&1 & echo build pid \$\$; make KERNDIR=\${kernel_source_dir} all\""
	add_ok
	run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	# its own PID namespace: the build is pid 1 there, and everything in it dies with it
	grep -qx "build pid 1" "$INST/build.log"
	sleep 1
	run pgrep -f "$NAP_RE"
	[ "$status" -eq 1 ] # none (not 127: pgrep missing)
	unchanged
}

@test "a MAKE that hangs is killed after build_timeout, with its whole process group" {
	mkdir -p "$ROOT/etc/dkm-hook"
	echo "build_timeout=2" > "$ROOT/etc/dkm-hook/dkm-hook.conf"
	# a background child in the same group, and a foreground one
	conf "MAKE[0]=\"sleep $NAP & sleep $NAP; true\""
	add_ok
	SECONDS=0
	build_fails 4
	[ "$SECONDS" -lt 30 ]
	has_line "dkm-hook: error: build of module-test/0.1 for $KVER failed: MAKE timed out after 2 s (build_timeout); log: '$INST/build.log'"
	grep -qx "# MAKE: timed out after 2 s (build_timeout)" "$INST/build.log"
	[ "$(state_of)" = failed ]
	run pgrep -f "$NAP_RE"
	[ "$status" -eq 1 ] # none (not 127: pgrep missing)
}

@test "a source without a Makefile fails to build and says so" {
	rm "$SRC/Makefile"
	add_ok
	build_fails 4
	has_line "dkm-hook: error: build of module-test/0.1 for $KVER failed: MAKE exited with status 2; log: '$INST/build.log'"
	grep -q "No rule to make target 'all'" "$INST/build.log"
	[ "$(state_of)" = failed ]
}

@test "a build that produces no .ko names the module it expected" {
	conf 'MAKE[0]="true"'
	add_ok
	build_fails 4
	has_line "dkm-hook: error: build of module-test/0.1 for $KVER failed: make succeeded but '$ROOT/var/lib/dkm-hook/build/$KVER/$(uname -m)/module-test/0.1/build/dkms_test.ko' (BUILT_MODULE_NAME[0]='dkms_test', BUILT_MODULE_LOCATION[0]='') was not produced; log: '$INST/build.log'"
	[ "$(state_of)" = failed ]
}

ko_path() { # ko_path [prefix or file name]: a path in the build dir, dkms_test.ko by default
	local b
	b=$ROOT/var/lib/dkm-hook/build/$KVER/$(uname -m)/module-test/0.1/build
	case ${1:-} in *.ko) echo "$b/$1" ;; *) echo "$b/${1:-}dkms_test.ko" ;; esac
}

@test "a .ko that is a text file is not a kernel module" {
	conf 'MAKE[0]="echo not a module > dkms_test.ko"'
	add_ok
	build_fails 4
	has_line "dkm-hook: error: '$(ko_path)' is not a kernel module: no ELF magic"
	[ "$(state_of)" = failed ]
	[ -z "$(find "$ROOT/lib/modules/$KVER" -name 'dkms_test.ko*')" ]
}

@test "a .ko that is a userspace program is not a kernel module" {
	conf 'MAKE[0]="cp /bin/true dkms_test.ko"'
	add_ok
	build_fails 4
	has_line "dkm-hook: error: '$(ko_path)' is not a kernel module: a shared object, not a relocatable object"
	[ "$(state_of)" = failed ]
}

@test "a .ko that is an object file, not a linked module, is refused" {
	conf 'MAKE[0]="make KERNDIR=${kernel_source_dir} all && cp dkms_test.o dkms_test.ko"'
	add_ok
	build_fails 4
	has_line "dkm-hook: error: '$(ko_path)' is not a kernel module: no .gnu.linkonce.this_module section (an object file, not a linked module?)"
	[ "$(state_of)" = failed ]
}

@test "a module whose vermagic names another kernel is refused" {
	# same length, so the ELF stays intact: 6.1.0-… becomes 9.1.0-…
	conf "MAKE[0]=\"make KERNDIR=\${kernel_source_dir} all && perl -pi -e 's/vermagic=\\\\d/vermagic=9/' dkms_test.ko\""
	add_ok
	build_fails 4
	[[ "$output" == *"dkm-hook: error: '$(ko_path)' was built for another kernel: vermagic '9${KVER:1} "*"' does not start with '$KVER': its Makefile must build against \$kernel_source_dir ("* ]]
	[ "$(state_of)" = failed ]
	[ -z "$(find "$ROOT/lib/modules/$KVER" -name 'dkms_test.ko*')" ]
}

@test "a .ko left as a FIFO by the build does not hang the privileged parent" {
	conf 'MAKE[0]="mkfifo dkms_test.ko"'
	add_ok
	SECONDS=0
	build_fails 4
	[ "$SECONDS" -lt 60 ]
	has_line "dkm-hook: error: build of module-test/0.1 for $KVER failed: '$(ko_path)' (BUILT_MODULE_NAME[0]='dkms_test') is not a regular file: it must be a regular file the build wrote inside its build dir; log: '$INST/build.log'"
}

@test "a .ko left as a symlink (to a file root could read) is refused" {
	conf 'MAKE[0]="ln -s /etc/shadow dkms_test.ko"'
	add_ok
	build_fails 4
	has_line "dkm-hook: error: build of module-test/0.1 for $KVER failed: '$(ko_path)' (BUILT_MODULE_NAME[0]='dkms_test') is a symlink: it must be a regular file the build wrote inside its build dir; log: '$INST/build.log'"
}

@test "a BUILT_MODULE_LOCATION the build turned into a symlink out of the build dir is refused" {
	mkdir "$BATS_TEST_TMPDIR/elsewhere"
	cp /bin/true "$BATS_TEST_TMPDIR/elsewhere/dkms_test.ko"
	conf "MAKE[0]=\"ln -s $BATS_TEST_TMPDIR/elsewhere out\"" 'BUILT_MODULE_LOCATION[0]="out"'
	add_ok
	build_fails 4
	has_line "dkm-hook: error: build of module-test/0.1 for $KVER failed: '$(ko_path out/)' (BUILT_MODULE_NAME[0]='dkms_test') resolves to a place outside the build dir: it must be a regular file the build wrote inside its build dir; log: '$INST/build.log'"
}

@test "strip reads the untrusted module as the build user, in the sandbox, never as root" {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\necho "strip stub: uid $(id -u)" >&2\nexec /usr/bin/strip "$@"\n' > "$BATS_TEST_TMPDIR/bin/strip"
	chmod 755 "$BATS_TEST_TMPDIR/bin/strip"
	add_ok
	PATH=$BATS_TEST_TMPDIR/bin:$PATH run "$DKM" build module-test/0.1 -k "$KVER"
	echo "$output"
	[ "$status" -eq 0 ]
	# build_user unset: a uid of its own from the reserved range
	uid=$(sed -n 's/^strip stub: uid //p' <<<"$output")
	[ "$uid" -ge $((0x7C000000)) ] && [ "$uid" -le $((0x7C00FFFF)) ]
	unchanged
}

@test "what strip leaves behind is checked again (a symlink is refused)" {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\nfor a; do f=$a; done\nrm -f "$f" && ln -s /etc/shadow "$f"\n' > "$BATS_TEST_TMPDIR/bin/strip"
	chmod 755 "$BATS_TEST_TMPDIR/bin/strip"
	add_ok
	PATH=$BATS_TEST_TMPDIR/bin:$PATH run "$DKM" build module-test/0.1 -k "$KVER"
	echo "$output"
	[ "$status" -eq 4 ]
	has_line "dkm-hook: error: '$INST/strip.tmp/0.ko' is a symlink after strip: refusing it"
	[ "$(state_of)" = failed ]
	unchanged
}

# ---- dkms.conf evaluated by the sandboxed shell ----

@test "a dkms.conf that waits forever is stopped after 10 s" {
	conf "X=\$(sleep $NAP)"
	SECONDS=0
	refuse_add 5 "$(invalid 'evaluating it took longer than 10 s: must not wait for anything')"
	[ "$SECONDS" -lt 30 ]
	run pgrep -f "$NAP_RE"
	[ "$status" -eq 1 ] # none (not 127: pgrep missing)
}

@test "a dkms.conf whose shell code writes files cannot: the sandbox is read-only" {
	conf "X=\$(echo pwned > $ROOT/usr/src/pwned; echo pwned > $ROOT/etc/pwned; echo pwned > /etc/dkm-hook-pwned-\$\$)"
	BEFORE=$(snapshot)
	DKM_HOOK_DEBUG=1 run "$DKM" add "$SRC"
	echo "$output"
	# the writes failed (the first one is reported in the debug output), nothing else did
	[[ "$output" == *"printed on stderr: "*"$ROOT/usr/src/pwned: Read-only file system"* ]]
	[ ! -e "$ROOT/usr/src/pwned" ]
	[ ! -e "$ROOT/etc/pwned" ]
	[ -z "$(ls /etc/dkm-hook-pwned-* 2>/dev/null)" ]
	[ "$status" -eq 0 ]
	diff <(echo "$BEFORE") <(snapshot | grep -v '^./usr/src/module-test-0.1')
}

# ---- the file itself ----

@test "a dkms.conf over 1 MiB is refused before anything reads it as shell" {
	conf
	head -c 1100000 /dev/zero | tr '\0' '#' >> "$CONF"
	refuse_add 5 "$(invalid 'file is larger than 1024 KiB: a dkms.conf is a short text')"
}

@test "a binary dkms.conf (NUL bytes) is refused with the line" {
	conf
	printf 'X="a\0b"\n' >> "$CONF"
	refuse_add 5 "$(invalid 'line 6: contains a NUL byte: must be a text file')"
}

@test "a value that is not UTF-8 is refused with the line" {
	conf
	printf 'X="\xff\xfe"\n' >> "$CONF"
	refuse_add 5 "$(invalid 'line 6: not valid UTF-8: must be a UTF-8 text file')"
}

@test "a variable name that is not UTF-8 is refused with the line" {
	conf 'A=1'
	printf '\xe9T=1\n' >> "$CONF"
	refuse_add 5 "$(invalid 'line 7: not valid UTF-8: must be a UTF-8 text file')"
}

@test "the same module listed twice is refused" {
	conf 'BUILT_MODULE_NAME[1]="dkms_test"' 'DEST_MODULE_LOCATION[1]="/extra"'
	refuse_add 5 "$(invalid "BUILT_MODULE_NAME[1]='dkms_test': same module as BUILT_MODULE_NAME[0]: each module must be listed once")"
}

@test "two modules installed under one name are refused" {
	conf 'BUILT_MODULE_NAME[1]="other"' 'DEST_MODULE_NAME[1]="dkms_test"' 'DEST_MODULE_LOCATION[1]="/extra"'
	refuse_add 5 "$(invalid "DEST_MODULE_NAME[1]='dkms_test': same installed name as module 0: installed names must be unique")"
}

@test "AUTOINSTALL that is neither yes nor no is refused" {
	conf 'AUTOINSTALL="maybe"'
	refuse_add 5 "$(invalid "AUTOINSTALL[0]='maybe': must be yes or no")"
}

@test "an invalid regex in MAKE_MATCH is refused" {
	conf 'MAKE_MATCH[1]="(("' 'MAKE[1]="make"'
	refuse_add 5 "$(invalid "MAKE_MATCH[1]='((': invalid extended regular expression (Unmatched ( or \\(): must be a POSIX ERE such as '^6\\.'")"
}

@test "an invalid regex in BUILD_EXCLUSIVE_KERNEL is refused" {
	conf 'BUILD_EXCLUSIVE_KERNEL="^6\.[0-"'
	refuse_add 5 "$(invalid "BUILD_EXCLUSIVE_KERNEL[0]='^6\\.[0-': invalid extended regular expression (Unmatched [, [^, [:, [., or [=): must be a POSIX ERE such as '^6\\.'")"
}

@test "a regex that would make regcomp explode (stacked repetition) is refused at once" {
	conf 'MAKE_MATCH[0]="^6\.[0-9]++++++++++++++++++++++++++++++"'
	SECONDS=0
	refuse_add 5 "$(invalid "MAKE_MATCH[0]='^6\.[0-9]++++++++++++++++++++++++++++++': the regular expression repeats too much (stacked or nested repetition): must be a short POSIX ERE such as '^6\.'")"
	[ "$SECONDS" -lt 10 ]
}

@test "a regex with nested bounds (x{0,255} three deep) is refused at once" {
	conf 'BUILD_EXCLUSIVE_KERNEL="((x{0,255}){0,255}){0,255}"'
	refuse_add 5 "$(invalid "BUILD_EXCLUSIVE_KERNEL[0]='((x{0,255}){0,255}){0,255}': the regular expression repeats too much (stacked or nested repetition): must be a short POSIX ERE such as '^6\.'")"
}

@test "a dkms.conf that is a directory is refused" {
	rm "$CONF"
	mkdir "$CONF"
	refuse_add 5 "$(invalid 'is a directory, not a dkms.conf file')"
}

@test "a dkms.conf that is a FIFO is refused without waiting for a writer" {
	rm "$CONF"
	mkfifo "$CONF"
	SECONDS=0
	refuse_add 5 "$(invalid 'is not a regular file (a FIFO, socket or device): must be a text file')"
	[ "$SECONDS" -lt 10 ]
}

@test "a dkms.conf that cannot be read (dangling symlink) says why" {
	rm "$CONF"
	ln -s missing.conf "$CONF"
	refuse_add 3 "dkm-hook: error: cannot read dkms.conf: '$CONF': No such file or directory"
}

@test "a source dir without a dkms.conf is not a package" {
	rm "$CONF"
	refuse_add 3 "dkm-hook: error: no dkms.conf in '$SRC': expected a module source directory or <package>/<version> under '/usr/src'"
}

@test "add of a path that does not exist" {
	SRC=$BATS_TEST_TMPDIR/no/such/dir
	refuse_add 3 "dkm-hook: error: no dkms.conf in '$SRC': expected a module source directory or <package>/<version> under '/usr/src'"
}

# ---- arguments ----

kver_msg() { # kver_msg <shown value> <problem>
	echo "dkm-hook: error: invalid kernel version '$1': $2: expected the name of a kernel's directory under '/lib/modules' (letters, digits and '._+-~', not starting with '-' or '.'), e.g. '$KVER'"
}

@test "-k ../.. is refused" {
	add_ok
	run "$DKM" build module-test/0.1 -k ../..
	[ "$status" -eq 5 ]
	has_line "$(kver_msg ../.. "it starts with '.'")"
	unchanged
	[ ! -e "$PKGDIR/0.1/kernels" ]
}

@test "an empty -k is refused" {
	add_ok
	run "$DKM" install module-test/0.1 -k ''
	[ "$status" -eq 5 ]
	has_line "$(kver_msg '' 'it is empty')"
	unchanged
}

@test "a -k with a newline is refused and shown on one line" {
	add_ok
	run "$DKM" build module-test/0.1 -k "$(printf '6.1\n../..')"
	[ "$status" -eq 5 ]
	has_line "$(kver_msg '6.1\n../..' "it contains the control character '\n'")"
	unchanged
}

@test "a package argument ../x/1 is refused" {
	add_ok
	run "$DKM" build ../x/1 -k "$KVER"
	[ "$status" -eq 5 ]
	has_line "dkm-hook: error: invalid package '../x/1': expected <package>/<version>"
	unchanged
}

@test "a package argument with an escape sequence and a newline is refused, shown escaped on one line" {
	add_ok
	run "$DKM" build "$(printf 'x\033[2J\nfake/1')" -k "$KVER"
	[ "$status" -eq 5 ]
	[ "${#lines[@]}" -eq 1 ]
	has_line 'dkm-hook: error: invalid package '"'"'x\x1b[2J\nfake/1'"'"': expected <package>/<version>'
	unchanged
}

@test "a package argument a/b/c is refused" {
	add_ok
	run "$DKM" remove a/b/c --all
	[ "$status" -eq 5 ]
	has_line "dkm-hook: error: invalid package 'a/b/c': expected <package>/<version>"
	unchanged
}

# ---- damaged state ----

installed() {
	"$DKM" add "$SRC" >/dev/null
	"$DKM" install module-test/0.1 -k "$KVER" >/dev/null
	[ "$(state_of)" = installed ]
	BEFORE=$(snapshot)
}

@test "a truncated state file: status names it as damaged and does not crash" {
	installed
	head -c 20 "$INST/state" > "$INST/state.tmp" && mv "$INST/state.tmp" "$INST/state"
	run "$DKM" status
	echo "$output"
	[ "$status" -eq 0 ]
	has_line "module-test/0.1, $KVER, $(uname -m): damaged (state file '$INST/state' has no valid state= line)"
	has_line "dkm-hook: warning: state of module-test/0.1 for $KVER is damaged: '$INST/state': rebuild it with 'dkm-hook build module-test/0.1 -k $KVER --force'"
	unchanged
}

@test "a state file of random bytes: status and status --json report it as damaged" {
	installed
	head -c 4096 /dev/urandom | tr -d '\n' > "$INST/state"
	run "$DKM" status
	[ "$status" -eq 0 ]
	has_line "module-test/0.1, $KVER, $(uname -m): damaged (state file '$INST/state' has no valid state= line)"
	"$DKM" status --json 2>/dev/null > "$BATS_TEST_TMPDIR/s.json"
	python3 - "$BATS_TEST_TMPDIR/s.json" "$INST/state" <<-'EOF'
	import json, sys
	k = json.load(open(sys.argv[1]))["packages"][0]["kernels"][0]
	assert k["state"] == "damaged" and k["damaged_file"] == sys.argv[2], k
	EOF
	unchanged
}

@test "an unknown state value is damaged, not shown as a state" {
	installed
	sed -i 's/^state=.*/state=pwned/' "$INST/state"
	run "$DKM" status module-test
	has_line "module-test/0.1, $KVER, $(uname -m): damaged (state file '$INST/state' has no valid state= line)"
	[[ "$output" != *pwned* ]]
}

@test "a truncated manifest: uninstall removes nothing, says which file and how to repair it" {
	installed
	head -c 60 "$INST/manifest" > "$INST/manifest.tmp" && mv "$INST/manifest.tmp" "$INST/manifest"
	run "$DKM" uninstall module-test/0.1 -k "$KVER"
	echo "$output"
	[ "$status" -eq 5 ]
	has_line "dkm-hook: error: manifest '$INST/manifest' is damaged: module dkms_test has no valid path under '/lib/modules/$KVER/' or no sha256: nothing was removed; delete the module file it installed and the manifest, then run 'dkm-hook install module-test/0.1 -k $KVER --force'"
	# the module is still there, and still known to be
	[ -f "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko" ]
	[ "$(state_of)" = installed ]
	unchanged
	# what the message says to do works: nothing of ours is taken for an original
	rm "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko" "$INST/manifest"
	"$DKM" install module-test/0.1 -k "$KVER" --force >/dev/null
	run "$DKM" uninstall module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" != *"original module restored"* ]]
	[ ! -e "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko" ]
}

@test "a manifest edited to point at another file never makes uninstall delete it" {
	installed
	echo precious > "$ROOT/etc/precious"
	sha=$(sha256sum < "$ROOT/etc/precious" | cut -c1-64)
	sed -i "s|^module.dkms_test.path=.*|module.dkms_test.path=/etc/precious|; s|^module.dkms_test.sha256=.*|module.dkms_test.sha256=$sha|" "$INST/manifest"
	BEFORE=$(snapshot)
	run "$DKM" uninstall module-test/0.1 -k "$KVER"
	[ "$status" -eq 5 ]
	has_line "dkm-hook: error: manifest '$INST/manifest' is damaged: module dkms_test has no valid path under '/lib/modules/$KVER/' or no sha256: nothing was removed; delete the module file it installed and the manifest, then run 'dkm-hook install module-test/0.1 -k $KVER --force'"
	[ "$(cat "$ROOT/etc/precious")" = precious ]
	unchanged
}

@test "a truncated registration is named and skipped, not trusted" {
	installed
	: > "$PKGDIR/0.1/package"
	run "$DKM" status
	echo "$output"
	[ "$status" -eq 0 ]
	has_line "dkm-hook: warning: registration of module-test/0.1 is damaged: '$PKGDIR/0.1/package' lacks its name=, version= or source= line: skipped; remove '$PKGDIR/0.1' and add the package again"
	run "$DKM" uninstall module-test/0.1 -k "$KVER"
	[ "$status" -ne 0 ]
	[[ "$output" == *"registration of module-test/0.1 is damaged"* ]]
	unchanged
}

@test "a registration that claims to own another directory never makes remove delete it" {
	"$DKM" add "$SRC" >/dev/null
	mkdir -p "$ROOT/srv/precious"
	echo keep > "$ROOT/srv/precious/data"
	sed -i "s|^source=.*|source=/srv/precious|" "$PKGDIR/0.1/package"
	BEFORE=$(snapshot)
	run "$DKM" remove module-test/0.1 --all
	echo "$output"
	has_line "dkm-hook: warning: registration of module-test/0.1 is damaged: '$PKGDIR/0.1/package' says copied_source=yes for '/srv/precious', not '/usr/src/module-test-0.1': that source will not be deleted"
	[ "$(cat "$ROOT/srv/precious/data")" = keep ]
	# only our own copy in /usr/src may go; /srv is untouched
	diff <(echo "$BEFORE" | grep -v '^./usr/src/module-test-0.1') <(snapshot | grep -v '^./usr/src/module-test-0.1')
}

# ---- dkm-hook.conf ----

config() { # config <line>: the file has a comment on line 1, the setting on line 2
	mkdir -p "$ROOT/etc/dkm-hook"
	printf '# dkm-hook.conf\n%s\n' "$1" > "$ROOT/etc/dkm-hook/dkm-hook.conf"
	BEFORE=$(snapshot)
}

config_msg() {
	echo "dkm-hook: error: invalid configuration: '$ROOT/etc/dkm-hook/dkm-hook.conf':2: $1"
}

@test "an unknown key in dkm-hook.conf names the file, the line and the key" {
	config 'sign_keyfile=/x'
	run "$DKM" status
	[ "$status" -eq 5 ]
	has_line "$(config_msg "unknown key 'sign_keyfile'")"
	unchanged
}

@test "a bad value in dkm-hook.conf names the key and what it may be" {
	config 'compress=lzma'
	run "$DKM" add "$SRC"
	[ "$status" -eq 5 ]
	has_line "$(config_msg "compress='lzma': expected one of auto, none, xz, zstd, gzip")"
	nothing_added
	unchanged
}

@test "a relative sign_key in dkm-hook.conf is refused" {
	config 'sign_key=keys/mok.key'
	run "$DKM" status
	[ "$status" -eq 5 ]
	has_line "$(config_msg "sign_key='keys/mok.key': expected an absolute path")"
	unchanged
}

@test "a build_timeout that is not a number is refused" {
	config 'build_timeout=2m'
	run "$DKM" status
	[ "$status" -eq 5 ]
	has_line "$(config_msg "build_timeout='2m': expected a whole number of seconds from 0 (no limit) to 604800 (a week)")"
	unchanged
}

@test "a line without '=' in dkm-hook.conf is refused" {
	config 'sign yes'
	run "$DKM" status
	[ "$status" -eq 5 ]
	has_line "$(config_msg "'sign yes': expected key=value")"
	unchanged
}

# ---- names that become path components: -k, -a, dkms -k K/ARCH, --templatekernel ----

name_rule="letters, digits and '._+-~', not starting with '-' or '.'"

arch_msg() { # arch_msg <shown value> <problem>
	echo "dkm-hook: error: invalid architecture '$1': $2: expected a name of $name_rule, e.g. '$(uname -m)'"
}

# a directory outside the root that an escaping argument would reach, with a file in it
victim() {
	VICTIM=$BATS_TEST_TMPDIR/victim
	mkdir -p "$VICTIM/module-test/0.1"
	echo precious > "$VICTIM/module-test/0.1/data"
	VICTIM_BEFORE=$(cd "$VICTIM" && find . -printf '%p %y %u %m %s\n' | sort)
}

victim_unchanged() {
	diff <(echo "$VICTIM_BEFORE") <(cd "$VICTIM" && find . -printf '%p %y %u %m %s\n' | sort)
	[ "$(cat "$VICTIM/module-test/0.1/data")" = precious ]
}

@test "-a with ../ that climbs out of the state is refused: nothing outside is chowned, deleted or written" {
	add_ok
	victim
	# <state>/packages/module-test/0.1/kernels/<kver>/<arch>: six levels up is the root's parent
	for cmd in build install unbuild; do
		run "$DKM" "$cmd" module-test/0.1 -k "$KVER" -a "../../../../../../../../../..$VICTIM/module-test/0.1"
		echo "$output"
		[ "$status" -eq 5 ]
		has_line "$(arch_msg "../../../../../../../../../..$VICTIM/module-test/0.1" "it starts with '.'")"
	done
	victim_unchanged
	unchanged
	[ ! -e "$PKGDIR/0.1/kernels" ]
}

@test "-a: '/', '.', '..', empty, a leading '-', control characters and shell words are refused with what is wrong" {
	add_ok
	local a
	while IFS='|' read -r a problem; do
		run "$DKM" build module-test/0.1 -k "$KVER" -a "$a"
		[ "$status" -eq 5 ] || { echo "-a '$a': exit $status: $output"; return 1; }
		has_line "$(arch_msg "$a" "$problem")"
	done <<-'EOF'
		x86_64/../..|it contains '/'
		/etc|it contains '/'
		.|it starts with '.'
		..|it starts with '.'
		|it is empty
		-rf|it starts with '-'
		x86 64|it contains a blank
		$(id)|it contains '$'
		x86*|it contains '*'
	EOF
	run "$DKM" build module-test/0.1 -k "$KVER" -a "$(printf 'x86\n64')"
	[ "$status" -eq 5 ]
	[ "${#lines[@]}" -eq 1 ]
	has_line "$(arch_msg 'x86\n64' "it contains the control character '\n'")"
	unchanged
	[ ! -e "$PKGDIR/0.1/kernels" ]
}

@test "-k: a leading '-', '.', shell words are refused like '/' and '..'" {
	add_ok
	local k
	while IFS='|' read -r k problem; do
		run "$DKM" install module-test/0.1 -k "$k"
		[ "$status" -eq 5 ] || { echo "-k '$k': exit $status: $output"; return 1; }
		has_line "$(kver_msg "$k" "$problem")"
	done <<-'EOF'
		-rf|it starts with '-'
		.|it starts with '.'
		6.1;id|it contains ';'
		6.1 x|it contains a blank
	EOF
	for verb in rebuild kernel-add kernel-remove initrd-modules; do
		run "$DKM" "$verb" ../../x
		[ "$status" -ne 0 ]
		[[ "$output" == *"invalid kernel version '../../x': it starts with '.'"* ]] || { echo "$verb: $output"; return 1; }
	done
	unchanged
	[ ! -e "$PKGDIR/0.1/kernels" ]
}

# the same binary started as `dkms`, as Debian's kernel hooks and *-dkms packages call it
dkms() {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	ln -sfn "$DKM" "$BATS_TEST_TMPDIR/bin/dkms"
	"$BATS_TEST_TMPDIR/bin/dkms" "$@"
}

dkms_arch_msg() { echo "Error! invalid architecture '$1': $2: expected a name of $name_rule, e.g. '$(uname -m)'"; }
dkms_kver_msg() {
	echo "Error! invalid kernel version '$1': $2: expected the name of a kernel's directory under '/lib/modules' ($name_rule), e.g. '$KVER'"
}

@test "dkms front end: -k K/ARCH, -a and --templatekernel that climb out are refused; nothing outside changes" {
	add_ok
	victim
	local esc="../../../../../../../../../..$VICTIM/module-test/0.1"
	run dkms build -m module-test -v 0.1 -k "$KVER/$esc"
	echo "$output"
	[ "$status" -eq 2 ]
	has_line "$(dkms_arch_msg "$esc" "it starts with '.'")"
	run dkms install module-test/0.1 -k "$KVER" -a "$esc"
	[ "$status" -eq 2 ]
	has_line "$(dkms_arch_msg "$esc" "it starts with '.'")"
	run dkms install module-test/0.1 -k "$KVER" --arch=/etc
	[ "$status" -eq 2 ]
	has_line "$(dkms_arch_msg /etc "it contains '/'")"
	run dkms match --templatekernel="../../x" -k "$KVER"
	[ "$status" -eq 2 ]
	has_line "$(dkms_kver_msg ../../x "it starts with '.'")"
	run dkms build module-test/0.1 -k "-x"
	[ "$status" -eq 2 ]
	has_line "$(dkms_kver_msg -x "it starts with '-'")"
	run dkms status -k "$(printf '6.1\n\033[2Jx')"
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 1 ]
	has_line "$(dkms_kver_msg '6.1\n\x1b[2Jx' "it contains the control character '\n'")"
	run dkms unbuild module-test/0.1 -k "$KVER/"
	[ "$status" -eq 2 ]
	has_line "$(dkms_arch_msg '' 'it is empty')"
	victim_unchanged
	unchanged
	[ ! -e "$PKGDIR/0.1/kernels" ]
}

# ---- names that reach a shell or a command line: the same rule in dkms.conf ----

@test "PACKAGE_NAME with shell code (\$(...)) is refused at add: it would run in the shell of whoever completes it" {
	conf "PACKAGE_NAME='x\$(touch\${IFS}PWNED)'"
	refuse_add 5 "$(invalid "PACKAGE_NAME[0]='x\$(touch\${IFS}PWNED)': it contains '\$': must be a name of $name_rule, such as 'mydriver'")"
	[ -z "$(find "$BATS_TEST_TMPDIR" -name 'PWNED*')" ]
}

@test "module names and versions that would be options or globs are refused at add" {
	conf 'BUILT_MODULE_NAME[0]="-dkms_test"'
	refuse_add 5 "$(invalid "BUILT_MODULE_NAME[0]='-dkms_test': it starts with '-': must be a name of $name_rule, such as 'mymod'")"
	conf 'DEST_MODULE_NAME[0]="--version"'
	refuse_add 5 "$(invalid "DEST_MODULE_NAME[0]='--version': it starts with '-': must be a name of $name_rule, such as 'dkms_test'")"
	conf 'PACKAGE_VERSION="0.1*"'
	refuse_add 5 "$(invalid "PACKAGE_VERSION[0]='0.1*': it contains '*': must be a name of $name_rule, such as '1.0'")"
}

# ---- the initramfs scripts: a name is never an option (defence in depth behind add) ----

# a dkm-hook whose initrd-modules lists names a registration older than the name rule could
# hold, beside a good one
initrd_stub() {
	STUB=$BATS_TEST_TMPDIR/stub-dkm-hook
	cat >"$STUB" <<-'EOS'
		#!/bin/sh
		[ "$1" = initrd-modules ] || exit 0
		printf '%s\tevil\tinstalled\tREMAKE_INITRD\n' "$EVIL_NAME"
		printf 'dkms_test\tmodule-test\tinstalled\tREMAKE_INITRD\n'
	EOS
	chmod +x "$STUB"
}

@test "dracut module: a module name that starts with '-' never reaches instmods" {
	initrd_stub
	for EVIL_NAME in '-c' '--help' '-o/etc/shadow' 'a;b'; do
		export EVIL_NAME
		run env -i PATH="$PATH" EVIL_NAME="$EVIL_NAME" STUB="$STUB" ROOT="$ROOT" KVER="$KVER" LOG="$BATS_TEST_TMPDIR/instmods" \
			bash -c '
			derror() { echo "E: $*" >&2; }
			dinfo() { :; }
			instmods() { printf "[%s]" "$@" >>"$LOG"; echo >>"$LOG"; }
			. "$0"
			kernel=$KVER srcmods=$ROOT/lib/modules/$KVER DKM_HOOK_ROOT=$ROOT DKM_HOOK_BIN=$STUB \
				DKM_HOOK_SKIP_REBUILD=1 installkernel' "$TOP/dracut-module/50dkm-hook/module-setup.sh"
		echo "$output"
		[ "$status" -eq 1 ]
		has_line "E: dkm-hook: '$EVIL_NAME' (for $KVER) is not a module name (letters, digits and '._+-~', not starting with '-' or '.'): not passing it to instmods; check 'dkm-hook status'"
		# it never reached instmods (nor anything after it)
		[ ! -e "$BATS_TEST_TMPDIR/instmods" ]
	done
}

@test "initramfs-tools hook: a module name that starts with '-' never reaches modprobe or modinfo" {
	[ -r /usr/share/initramfs-tools/hook-functions ] || skip "initramfs-tools-core is not installed (its hook-functions are sourced)"
	initrd_stub
	# the hook sources /usr/share/initramfs-tools/hook-functions: a private copy whose
	# manual_add_modules records its arguments, bound over it in a private mount namespace
	mkdir -p "$BATS_TEST_TMPDIR/share" "$BATS_TEST_TMPDIR/dest"
	cp /usr/share/initramfs-tools/hook-functions "$BATS_TEST_TMPDIR/share/"
	echo 'manual_add_modules() { printf "[%s]" "$@" >>"$LOG"; echo >>"$LOG"; }' >>"$BATS_TEST_TMPDIR/share/hook-functions"
	for EVIL_NAME in '-C/etc/shadow' '--help' 'a b'; do
		export EVIL_NAME
		run env LOG="$BATS_TEST_TMPDIR/mam" version="$KVER" MODULESDIR="$ROOT/lib/modules/$KVER" \
			DESTDIR="$BATS_TEST_TMPDIR/dest" DKM_HOOK_ROOT="$ROOT" DKM_HOOK_BIN="$STUB" DKM_HOOK_SKIP_REBUILD=1 \
			unshare --mount --propagation private -- sh -c 'mount --bind "$1" /usr/share/initramfs-tools && exec sh "$2"' \
			sh "$BATS_TEST_TMPDIR/share" "$TOP/hooks/initramfs-tools/dkm-hook"
		echo "$output"
		[ "$status" -eq 1 ]
		has_line "E: dkm-hook: '$EVIL_NAME' (for $KVER) is not a module name (letters, digits and '._+-~', not starting with '-' or '.'): not passing it to modprobe; check 'dkm-hook status'"
		# it never reached manual_add_modules (nor anything after it)
		[ ! -e "$BATS_TEST_TMPDIR/mam" ]
	done
}

# ---- configuration and keys that others can write, or that point elsewhere ----

CONF_FILE() { echo "$ROOT/etc/dkm-hook/dkm-hook.conf"; }

@test "a dkm-hook.conf that is a symlink is refused, and no line of what it points at is shown" {
	mkdir -p "$ROOT/etc/dkm-hook"
	# what /etc/shadow looks like: no '=', so a parser would quote the line back
	printf 'root:$y$j9T$SECRETHASH:19700:0:99999:7:::\n' > "$BATS_TEST_TMPDIR/shadow"
	chmod 0600 "$BATS_TEST_TMPDIR/shadow"
	rm -f "$(CONF_FILE)"
	ln -s "$BATS_TEST_TMPDIR/shadow" "$(CONF_FILE)"
	BEFORE=$(snapshot)
	for cmd in status "install module-test/0.1 -k $KVER"; do
		# shellcheck disable=SC2086
		run "$DKM" $cmd
		echo "$output"
		[ "$status" -eq 5 ]
		has_line "dkm-hook: error: refusing configuration: '$(CONF_FILE)': it is a symbolic link (not followed): put the file itself there"
		[[ "$output" != *SECRETHASH* ]]
	done
	# the kernel-install plugin too
	run "$(dirname "$DKM")/40-dkm-hook.install" add "$KVER" /boot/x /boot/vmlinuz
	[ "$status" -eq 1 ]
	[[ "$output" != *SECRETHASH* ]]
	unchanged
}

@test "as root, a dkm-hook.conf that others can write, or that root does not own, is refused with what to run" {
	config 'compress=xz'
	chmod 0666 "$(CONF_FILE)"
	run "$DKM" status
	[ "$status" -eq 5 ]
	has_line "dkm-hook: error: refusing configuration: '$(CONF_FILE)': group and others can write it (mode 0666), and it chooses what root builds and signs: run 'chmod go-w $(CONF_FILE)'"
	chmod 0620 "$(CONF_FILE)"
	run "$DKM" status
	[ "$status" -eq 5 ]
	has_line "dkm-hook: error: refusing configuration: '$(CONF_FILE)': group can write it (mode 0620), and it chooses what root builds and signs: run 'chmod go-w $(CONF_FILE)'"
	chmod 0644 "$(CONF_FILE)"
	chown nobody "$(CONF_FILE)"
	run "$DKM" status
	[ "$status" -eq 5 ]
	has_line "dkm-hook: error: refusing configuration: '$(CONF_FILE)': it belongs to uid $(id -u nobody), not root, and it chooses what root builds and signs: run 'chown root: $(CONF_FILE)'"
	chown root "$(CONF_FILE)"
	chmod 0777 "$ROOT/etc/dkm-hook"
	run "$DKM" status
	[ "$status" -eq 5 ]
	has_line "dkm-hook: error: refusing configuration: '$(CONF_FILE)': its directory '$ROOT/etc/dkm-hook' can be written by others, so others can replace it: run 'chown root: $ROOT/etc/dkm-hook && chmod go-w $ROOT/etc/dkm-hook'"
	chmod 0755 "$ROOT/etc/dkm-hook"
	run "$DKM" status
	[ "$status" -eq 0 ]
	# a FIFO is not waited on
	rm "$(CONF_FILE)" && mkfifo -m 0644 "$(CONF_FILE)"
	run timeout 20 "$DKM" status
	[ "$status" -eq 5 ]
	has_line "dkm-hook: error: refusing configuration: '$(CONF_FILE)': it is not a regular file: put a text file there"
}

@test "a state dir that others can write is warned about on every command" {
	"$DKM" add "$SRC" >/dev/null
	chmod 0777 "$ROOT/var/lib/dkm-hook"
	run "$DKM" status
	[ "$status" -eq 0 ]
	has_line "dkm-hook: warning: state dir '$ROOT/var/lib/dkm-hook' can be written by group and others (mode 0777): they can change what root builds, signs and installs, and hold its locks; run 'chmod go-w $ROOT/var/lib/dkm-hook'"
	chmod 0755 "$ROOT/var/lib/dkm-hook"
	run "$DKM" status
	[[ "$output" != *"state dir"* ]]
}

@test "numbers in dkm-hook.conf are bounded: jobs, build_timeout, lock_timeout" {
	local line msg
	while IFS='|' read -r line msg; do
		config "$line"
		run "$DKM" status
		[ "$status" -eq 5 ] || { echo "accepted: $line"; return 1; }
		has_line "$(config_msg "$line: expected $msg")"
	done <<-'EOF'
		jobs='100000'|a whole number from 1 to 4096
		jobs='0'|a whole number from 1 to 4096
		jobs='-1'|a whole number from 1 to 4096
		build_timeout='604801'|a whole number of seconds from 0 (no limit) to 604800 (a week)
		build_timeout='99999999999999999999'|a whole number of seconds from 0 (no limit) to 604800 (a week)
		lock_timeout='1e9'|a whole number of seconds from 0 (no limit) to 604800 (a week)
		lock_timeout=' 5'|a whole number of seconds from 0 (no limit) to 604800 (a week)
	EOF
	for line in jobs=4096 build_timeout=604800 lock_timeout=0; do
		config "$line"
		run "$DKM" status
		[ "$status" -eq 0 ] || { echo "refused: $line: $output"; return 1; }
	done
}

@test "a signing key that others can read, or that root does not own, is not used" {
	grep -qx 'CONFIG_MODULE_SIG=y' "$ROOT/lib/modules/$KVER/build/.config" || skip "the installed headers' kernel does not sign modules"
	add_ok
	key=$ROOT/var/lib/dkm-hook/mok.key
	chmod 0644 "$key"
	run "$DKM" install module-test/0.1 -k "$KVER"
	echo "$output"
	[ "$status" -ne 0 ]
	has_line "dkm-hook: error: refusing signing key '$key': others may read or write it (mode 0644): run 'chmod 600 $key', and make a new key with 'dkm-hook keygen --force' if someone may have copied it"
	[ -z "$(find "$ROOT/lib/modules/$KVER" -name 'dkms_test.ko*')" ]
	chmod 0600 "$key"
	chown nobody "$key"
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -ne 0 ]
	has_line "dkm-hook: error: refusing signing key '$key': it belongs to uid $(id -u nobody), not root, who could replace it: run 'chown root: $key' if it is yours, else make a new one with 'dkm-hook keygen --force'"
	[ -z "$(find "$ROOT/lib/modules/$KVER" -name 'dkms_test.ko*')" ]
	chown root "$key"
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[ -n "$(find "$ROOT/lib/modules/$KVER" -name 'dkms_test.ko*')" ]
}
