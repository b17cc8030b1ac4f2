#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# What one build, or the evaluation of one dkms.conf, may use: output kept in build.log
# (build_log_max), disk in its build dir (build_dir_max), processes (build_max_procs) and
# memory (build_max_memory); a dkms.conf's shell has fixed, tighter limits. Each limit that hits
# fails the build (or refuses the file) with one line naming it, leaves no process behind and
# the root unchanged outside the state dir.

load lib/common

setup() {
	require_headers
	[ "$(id -u)" -eq 0 ] || skip "needs root (builds drop to the build user, whose limits these are, only when run as root)"
	make_root
	SRC=$(fixture module-test)
	CONF=$SRC/dkms.conf
	PKGDIR=$ROOT/var/lib/dkm-hook/packages/module-test
	INST=$PKGDIR/0.1/kernels/$KVER/$(uname -m)
	LOG=$INST/build.log
	# what the "hangs" cases sleep: unique to this run and test (see tests/hostile.bats)
	NAP=9$$.${BATS_TEST_NUMBER}
	NAP_RE="^sleep ${NAP//./\\.}\$"
}

teardown() {
	pkill -KILL -f "$NAP_RE" 2>/dev/null || true
}

# The fixture's dkms.conf with extra lines (later assignments win).
conf() {
	printf '%s\n' 'PACKAGE_NAME="module-test"' 'PACKAGE_VERSION="0.1"' \
		'MAKE[0]="make KERNDIR=${kernel_source_dir} all"' 'BUILT_MODULE_NAME[0]="dkms_test"' \
		'DEST_MODULE_LOCATION[0]="/updates/dkms"' "$@" > "$CONF"
}

# MAKE runs bash ./make.sh (the script given, which may use $(...) and $i: a dkms.conf would
# expand those itself), then, if that succeeded, the normal build
make_script() {
	printf '%s\n' "$1" > "$SRC/make.sh"
	conf 'MAKE[0]="bash ./make.sh && make KERNDIR=${kernel_source_dir} all"'
}

config() { # dkm-hook.conf lines
	mkdir -p "$ROOT/etc/dkm-hook"
	printf '%s\n' "$@" > "$ROOT/etc/dkm-hook/dkm-hook.conf"
}

has_line() {
	grep -qxF -- "$1" <<<"$output" || { printf 'missing line: %s\noutput:\n%s\n' "$1" "$output" >&2; return 1; }
}

add_ok() {
	"$DKM" add "$SRC" >/dev/null
	BEFORE=$(snapshot)
}

unchanged() {
	diff <(echo "$BEFORE") <(snapshot)
}

state_of() { sed -n 's/^state=//p' "$INST/state"; }

no_nap_left() {
	run pgrep -f "$NAP_RE"
	[ "$status" -eq 1 ] # none (not 127: pgrep missing)
}

# ---- build.log ----

@test "a MAKE that prints 100 MB: build.log keeps the head and the tail (build_log_max, 16 MiB), one line says what was left out" {
	make_script 'echo HEAD-MARKER; yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 100M; echo; echo TAIL-MARKER'
	add_ok
	run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	size=$(stat -c %s "$LOG")
	echo "log: $size bytes"
	[ "$size" -le $((16 * 1024 * 1024 + 64 * 1024)) ]
	[ "$size" -ge $((16 * 1024 * 1024)) ]
	grep -qx HEAD-MARKER "$LOG"
	grep -qx TAIL-MARKER "$LOG"
	# the build's own end is there too
	grep -q "dkms_test.ko" "$LOG"
	grep -qx "# build succeeded" "$LOG"
	# exactly one line between head and tail, with the count and the setting
	[ "$(grep -c 'bytes of output left out here' "$LOG")" -eq 1 ]
	line=$(grep 'bytes of output left out here' "$LOG")
	[[ "$line" =~ ^#\ ([0-9]+)\ bytes\ of\ output\ left\ out\ here:\ build_log_max=16\ MiB\ keeps\ the\ first\ 8\ MiB ]]
	left=${BASH_REMATCH[1]}
	# what was printed = what was kept + what was left out
	# (the head ends inside a line: the line about it starts on a new one)
	kept=$(sed -n '/^HEAD-MARKER$/,/^TAIL-MARKER$/{/^HEAD-MARKER$/d;/^TAIL-MARKER$/d;/left out here/d;p}' "$LOG" | wc -c)
	[ $((kept - 1 + left)) -eq $((100 * 1024 * 1024 + 1)) ]
	# head first, then the line, then the tail
	[ "$(grep -n -m1 -x HEAD-MARKER "$LOG" | cut -d: -f1)" -lt "$(grep -n 'left out here' "$LOG" | cut -d: -f1)" ]
	[ "$(grep -n 'left out here' "$LOG" | cut -d: -f1)" -lt "$(grep -n -x TAIL-MARKER "$LOG" | cut -d: -f1)" ]
	unchanged
}

@test "build_log_max is shared by the steps: a noisy PRE_BUILD leaves room for the end of MAKE" {
	config build_log_max=1M
	printf '#!/bin/sh\nyes pre-build-noise | head -c 5M\necho\necho PRE-BUILD-END\n' > "$SRC/pre.sh"
	chmod +x "$SRC/pre.sh"
	make_script 'yes make-noise | head -c 5M; echo; echo MAKE-END'
	echo 'PRE_BUILD="pre.sh"' >> "$CONF"
	add_ok
	run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	size=$(stat -c %s "$LOG")
	echo "log: $size bytes"
	[ "$size" -le $((1024 * 1024 + 2 * 64 * 1024 + 4096)) ]
	grep -qx PRE-BUILD-END "$LOG"
	grep -qx MAKE-END "$LOG"
	grep -qx "# build succeeded" "$LOG"
	[ "$(grep -c '^# [0-9]* bytes of output left out here: build_log_max=1 MiB' "$LOG")" -eq 2 ]
}

@test "build.log can be read while the build runs" {
	conf "MAKE[0]=\"echo EARLY-LINE; sleep 3; make KERNDIR=\${kernel_source_dir} all\""
	add_ok
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null 2>&1 &
	pid=$!
	seen=
	for _ in $(seq 1 100); do
		grep -qx EARLY-LINE "$LOG" 2>/dev/null && { seen=1; break; }
		sleep 0.05
	done
	kill -0 "$pid" # still building
	wait "$pid"
	[ -n "$seen" ]
}

# ---- build dir ----

@test "a MAKE that writes a 200 MB file with build_dir_max=64M fails naming build_dir_max; the host is unchanged" {
	config build_dir_max=64M
	make_script 'head -c 200M /dev/zero > big; ls -l big'
	add_ok
	run "$DKM" build module-test/0.1 -k "$KVER"
	echo "$output"
	[ "$status" -eq 4 ]
	[[ "$output" == *"dkm-hook: error: build of module-test/0.1 for $KVER failed: MAKE filled its build dir with "*" MiB, more than build_dir_max (64 MiB) allows: raise build_dir_max in dkm-hook.conf if the package needs more; log: '$LOG'"* ]]
	# the file stopped at the limit (RLIMIT_FSIZE): head got SIGXFSZ
	grep -q "File size limit exceeded" "$LOG"
	grep -q "^-.* 67108864 .* big$" "$LOG"
	grep -q "^# MAKE: filled its build dir with .* MiB, more than build_dir_max (64 MiB) allows: stopped, build dir removed$" "$LOG"
	[ "$(state_of)" = failed ]
	# nothing of it stays on the disk
	[ -z "$(find "$ROOT/var/lib/dkm-hook" -name big)" ]
	unchanged
}

@test "a MAKE that writes many files, each below build_dir_max, is stopped while it runs" {
	config build_dir_max=64M build_timeout=120
	make_script "for i in 1 2 3 4 5 6 7 8; do head -c 16M /dev/zero > f\$i; done; sleep $NAP"
	add_ok
	SECONDS=0
	run "$DKM" build module-test/0.1 -k "$KVER"
	echo "$output"
	[ "$status" -eq 4 ]
	[ "$SECONDS" -lt 20 ]
	[[ "$output" == *"failed: MAKE filled its build dir with "*" MiB, more than build_dir_max (64 MiB) allows: raise build_dir_max in dkm-hook.conf if the package needs more; log: '$LOG'"* ]]
	[ "$(state_of)" = failed ]
	no_nap_left
	unchanged
}

@test "a MAKE that leaves its process group (setsid) is still stopped by build_dir_max, with everything it started" {
	config build_dir_max=64M build_timeout=120
	# (the shell MAKE runs in is the init of the build's PID namespace: it leaves itself)
	conf "MAKE[0]=\"head -c 100M /dev/zero > big; exec setsid sleep $NAP\""
	add_ok
	SECONDS=0
	run "$DKM" build module-test/0.1 -k "$KVER"
	echo "$output"
	[ "$status" -eq 4 ]
	[ "$SECONDS" -lt 20 ]
	[[ "$output" == *"failed: MAKE filled its build dir with "*" MiB, more than build_dir_max (64 MiB) allows"* ]]
	sleep 1
	no_nap_left
	unchanged
}

# ---- processes and memory ----

@test "a MAKE that forks 300 processes with build_max_procs=50 fails at once, naming the limit; nothing is left running" {
	config build_max_procs=50 build_timeout=120
	make_script "for i in \$(seq 300); do sleep $NAP & done; wait"
	add_ok
	SECONDS=0
	DKM_HOOK_DEBUG=1 run "$DKM" build module-test/0.1 -k "$KVER"
	echo "$output"
	[ "$status" -eq 4 ]
	[ "$SECONDS" -lt 20 ]
	[[ "$output" == *"'/bin/bash' runs under rlimits (no cgroup): processes: 50 more than the "*" has; address space per process: 4 GiB; file size: 4 GiB"* ]]
	[[ "$output" == *"dkm-hook: error: build of module-test/0.1 for $KVER failed: MAKE was stopped: it reached build_max_procs (50 processes): the log says 'fork: "*"Resource temporarily unavailable': raise build_max_procs in dkm-hook.conf if the package needs more; log: '$LOG'"* ]]
	grep -q "fork: .*Resource temporarily unavailable" "$LOG"
	grep -q "^# MAKE: it reached build_max_procs (50 processes)" "$LOG"
	[ "$(state_of)" = failed ]
	no_nap_left
	unchanged
}

@test "a MAKE that allocates 1 GiB with build_max_memory=256M fails, naming the limit" {
	config build_max_memory=256M
	make_script 'dd if=/dev/zero of=/dev/null bs=1G count=1'
	add_ok
	run "$DKM" build module-test/0.1 -k "$KVER"
	echo "$output"
	[ "$status" -eq 4 ]
	has_line "dkm-hook: error: build of module-test/0.1 for $KVER failed: MAKE exited with status 1: it ran out of memory under build_max_memory (256 MiB per process): the log says 'memory exhausted': raise build_max_memory in dkm-hook.conf if the package needs more; log: '$LOG'"
	grep -q "dd: memory exhausted by input buffer of size 1073741824 bytes" "$LOG"
	[ "$(state_of)" = failed ]
	unchanged
}

@test "with the limits at 0 the same fork and allocation go through" {
	config build_max_procs=0 build_max_memory=0 build_dir_max=0 build_log_max=0
	make_script "for i in \$(seq 100); do sleep $NAP & done; dd if=/dev/zero of=/dev/null bs=1G count=1"
	add_ok
	DKM_HOOK_DEBUG=1 run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" != *"runs under rlimits"* ]]
	no_nap_left
}

@test "a bad size for a limit names the key and what it may be" {
	config build_dir_max=lots
	"$DKM" add "$SRC" >/dev/null || true
	run "$DKM" build module-test/0.1 -k "$KVER"
	[ "$status" -eq 5 ]
	has_line "dkm-hook: error: invalid configuration: '$ROOT/etc/dkm-hook/dkm-hook.conf':1: build_dir_max='lots': expected a size in bytes, with an optional K, M, G or T suffix (powers of 1024), 0 for no limit"
}

# ---- the dkms.conf shell ----

@test "a dkms.conf whose shell starts 200 processes is refused at once, naming the limit" {
	conf "X=\$(for i in \$(seq 200); do sleep $NAP >/dev/null 2>&1 & done; echo started)"
	SECONDS=0
	run "$DKM" add "$SRC"
	echo "$output"
	[ "$status" -eq 5 ]
	[ "$SECONDS" -lt 8 ]
	[[ "$output" == *"dkm-hook: error: invalid dkms.conf: '$CONF': evaluating it needs more than 64 processes (the shell said 'fork: "*"Resource temporarily unavailable'): it must not start commands in the background or in a loop"* ]]
	[ ! -e "$PKGDIR" ]
	no_nap_left
}

@test "a dkms.conf whose shell allocates 1 GiB is refused, naming the limit" {
	conf 'X=$(dd if=/dev/zero of=/dev/null bs=1G count=1)'
	run "$DKM" add "$SRC"
	echo "$output"
	[ "$status" -eq 5 ]
	[[ "$output" == *"dkm-hook: error: invalid dkms.conf: '$CONF': evaluating it needs more than 512 MiB of memory in one process (the shell said 'memory exhausted'): it must not build large values"* ]]
	[ ! -e "$PKGDIR" ]
}
