#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# Reliability: a SIGKILL at any moment, concurrent commands, a full disk — each must leave a
# module tree that is either the complete old state or the complete new one.

load lib/common

CHECK=$TOP/tests/lib/check-tree.py

setup() {
	require_headers
	make_root
	export DKM KVER
}

# module-test, two-modules, dep-base in two versions each, all built; a shipped dkms_test.ko
# in ethercat/ that module-test displaces
three_packages_two_versions() {
	"$DKM" add "$(fixture module-test)" >/dev/null
	"$DKM" add "$(fixture_version module-test 0.1 0.2)" >/dev/null
	"$DKM" add "$(fixture two-modules)" >/dev/null
	"$DKM" add "$(fixture_version two-modules 2.0 2.1)" >/dev/null
	"$DKM" add "$(fixture dep-base)" >/dev/null
	"$DKM" add "$(fixture_version dep-base 1.0 1.1)" >/dev/null
	for p in module-test/0.1 module-test/0.2 two-modules/2.0 two-modules/2.1 dep-base/1.0 dep-base/1.1; do
		"$DKM" build "$p" -k "$KVER" >/dev/null
	done
	ship_dkms_test
}

# a dkms_test.ko in ethercat/ as if the kernel shipped it (module-test displaces it): sets SHIPPED
ship_dkms_test() {
	mkdir -p "$ROOT/lib/modules/$KVER/ethercat"
	cp "$ROOT"/var/lib/dkm-hook/packages/module-test/0.1/kernels/"$KVER"/*/modules/dkms_test.ko \
		"$ROOT/lib/modules/$KVER/ethercat/dkms_test.ko"
	echo shipped >> "$ROOT/lib/modules/$KVER/ethercat/dkms_test.ko"
	SHIPPED="ethercat/dkms_test.ko=$(sha256sum < "$ROOT/lib/modules/$KVER/ethercat/dkms_test.ko" | cut -c1-64)"
	depmod -b "$ROOT" -C "$ROOT/etc/depmod.d" "$KVER"
}

# module-test 0.1 and 0.2 built with DEST_MODULE_LOCATION=/kernel/drivers/misc, and the kernel
# shipping its own dkms_test.ko at exactly that path: the install displaces a module the kernel
# ships at the path it installs to (archive it, then rename ours over it). Sets SHIPPED.
same_path_displacement() {
	local v src
	for v in 0.1 0.2; do
		if [ "$v" = 0.1 ]; then src=$(fixture module-test); else src=$(fixture_version module-test 0.1 0.2); fi
		sed -i 's|^DEST_MODULE_LOCATION\[0\]=.*|DEST_MODULE_LOCATION[0]="/kernel/drivers/misc"|' "$src/dkms.conf"
		"$DKM" add "$src" >/dev/null
		"$DKM" build "module-test/$v" -k "$KVER" >/dev/null
	done
	cp "$ROOT"/var/lib/dkm-hook/packages/module-test/0.1/kernels/"$KVER"/*/modules/dkms_test.ko \
		"$BATS_TEST_TMPDIR/shipped.ko"
	echo shipped >> "$BATS_TEST_TMPDIR/shipped.ko"
	ship_module kernel/drivers/misc/dkms_test.ko "$BATS_TEST_TMPDIR/shipped.ko"
	SHIPPED="kernel/drivers/misc/dkms_test.ko=$(sha256sum < "$BATS_TEST_TMPDIR/shipped.ko" | cut -c1-64)"
}

# the number of the call of `syscall` (counted as `strace -e trace=<syscall>` counts, no -f)
# at which `dkm-hook <args>` would touch a path matching the extended regex `pattern`, run on a
# copy of the root (the root itself is left as it is)
nth_call_on() { # nth_call_on <syscall> <pattern> <dkm-hook args>...
	local call=$1 pat=$2 copy=$BATS_TEST_TMPDIR/nth-call-root trace=$BATS_TEST_TMPDIR/nth-call-trace
	shift 2
	rm -rf "$copy"
	cp -a "$ROOT" "$copy"
	DKM_HOOK_ROOT=$copy strace -qq -o "$trace" -e trace="$call" "$DKM" "$@" >/dev/null 2>&1
	rm -rf "$copy"
	awk -v call="$call" -v pat="$pat" 'index($0, call "(") == 1 { n++; if ($0 ~ pat) { print n; exit } }' "$trace"
}

# module-test/0.1 and two-modules/2.0 added and built, the shipped dkms_test.ko; then their
# registered sources build in a moment: MAKE is "true" and the modules they built are already
# where the build leaves them (what a command does with a build's result is the same)
two_packages_quick_builds() {
	local a s=$ROOT/usr/src c
	"$DKM" add "$(fixture module-test)" >/dev/null
	"$DKM" add "$(fixture two-modules)" >/dev/null
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	"$DKM" build two-modules/2.0 -k "$KVER" >/dev/null
	ship_dkms_test
	a=$ROOT/var/lib/dkm-hook/packages
	cp "$a"/module-test/0.1/kernels/"$KVER"/*/modules/dkms_test.ko "$s/module-test-0.1/"
	cp "$a"/two-modules/2.0/kernels/"$KVER"/*/modules/mod_a.ko "$s/two-modules-2.0/"
	cp "$a"/two-modules/2.0/kernels/"$KVER"/*/modules/mod_b_renamed.ko "$s/two-modules-2.0/b/mod_b.ko"
	for c in "$s/module-test-0.1/dkms.conf" "$s/two-modules-2.0/dkms.conf"; do
		sed -i '/^MAKE\[0\]=/d' "$c"
		echo 'MAKE[0]="true"' >> "$c"
	done
}

@test "kill test: SIGKILLs at random moments of install/upgrade until 5 landed in a transaction; every file complete, original in place, index matches" {
	three_packages_two_versions
	python3 "$CHECK" "$ROOT" "$KVER" "$SHIPPED"
	repaired=0
	# how long one uninterrupted round takes here (machines and sanitizer builds differ): the
	# kills are spread over that window, so they land inside the work, not after it
	start=$(date +%s%N)
	for p in module-test/0.2 two-modules/2.1 dep-base/1.1 module-test/0.1 two-modules/2.0 dep-base/1.0; do
		"$DKM" install "$p" -k "$KVER" >/dev/null
	done
	window=$(( ($(date +%s%N) - start) / 2000000 )) # ms, for a round of three installs
	[ "$window" -gt 0 ]
	# reproducible: the seed of the kill moments is printed
	seed=${DKM_TEST_SEED:-$$}
	RANDOM=$seed
	echo "# kill moments: seed $seed (DKM_TEST_SEED=$seed repeats them)" >&3
	# at least 50 rounds, and on until 5 kills landed inside a transaction (about one in six
	# does; the rest fall between commands or before the journal): a count of rounds alone
	# would now and then prove nothing
	i=0
	while [ "$i" -lt 50 ] || { [ "$repaired" -lt 5 ] && [ "$i" -lt 400 ]; }; do
		i=$((i + 1))
		if [ $((i % 2)) -eq 1 ]; then set -- module-test/0.1 two-modules/2.0 dep-base/1.0
		else set -- module-test/0.2 two-modules/2.1 dep-base/1.1; fi
		# every third round also uninstalls, so the original goes back and forth
		[ $((i % 3)) -eq 0 ] && set -- "$@" uninstall:module-test/0.1 uninstall:module-test/0.2
		setsid bash -c '
			for p in "$@"; do
				case $p in
				uninstall:*) "$DKM" uninstall "${p#uninstall:}" -k "$KVER" ;;
				*) "$DKM" install "$p" -k "$KVER" ;;
				esac
			done' bash "$@" >/dev/null 2>&1 &
		pid=$!
		delay=$((RANDOM % window))
		sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
		kill -9 -- "-$pid" 2>/dev/null || true
		{ wait "$pid"; } 2>/dev/null || true # (no "Killed" job report in the output)
		run "$DKM" fsck --repair
		[ "$status" -eq 0 ] || { echo "round $i: fsck: $output"; false; }
		[[ "$output" == *"repaired:"* ]] && repaired=$((repaired + 1))
		run python3 "$CHECK" "$ROOT" "$KVER" "$SHIPPED"
		[ "$status" -eq 0 ] || { echo "round $i: $output"; false; }
	done
	echo "# rounds that needed a repair: $repaired/$i" >&3
	[ "$repaired" -ge 5 ]
	# and the tree is still usable: a clean install afterwards works and shows the module
	"$DKM" install module-test/0.2 -k "$KVER"
	[ "$(modinfo_field dkms_test version)" = "0.2" ]
}

# The system calls by which dkm-hook changes files: a crash can only fall between two of them.
# (mkdir is left out: a crash before one is a crash after the previous call, plus at most an
# empty directory, which the next call's crash point covers.)
FILE_CALLS="rename renameat renameat2 link linkat symlink symlinkat unlink unlinkat rmdir write pwrite64 writev ftruncate fsync fdatasync copy_file_range sendfile fchmod fchmodat fchown"

# Everything of a root that an interrupted command could leave different: outside the state
# tree, each file with its sha256, every directory and link; in the state tree, the names of
# the files, without the temporary files of atomic writes (".#<name>XXXXXX", which a kill
# leaves behind and nothing reads).
root_state() {
	(cd "$ROOT" &&
		find . -path ./var/lib/dkm-hook -prune -o -type f -print0 | sort -z | xargs -0 -r sha256sum &&
		find . -path ./var/lib/dkm-hook -prune -o \( -type d -o -type l \) -printf '%y %p %l\n' | sort &&
		find var/lib/dkm-hook -type f ! -name '.#*' | sort)
}

status_of() { # status_of <package>: its status lines (or that it is not registered)
	"$DKM" status "$1" 2>&1 || true
}

# crash_points <command line> <package>...
# A SIGKILL at each file-changing system call of one dkm-hook command, from the state the root
# is in now. An uninterrupted run says which calls it makes, and each package's status before
# and after. Then, for each call and each occurrence n: the root is put back as it was, the
# command runs again and is killed at its n-th such call (strace makes the call fail and
# kills the process on the spot), and after `dkm-hook fsck --repair`
#  - check-tree.py's invariants hold,
#  - every package is in its old or in its new state (status) — packages one by one: a
#    command on several packages is one transaction per package, not one for all; and a
#    command made of several steps (--step <command line>, each a transaction of its own,
#    in order) may also stop between two of them,
#  - the command, run again unless it is complete, ends in the new state, and the root is
#    then exactly what the uninterrupted run left (no leftover file, tomb or registration).
# Only the command's own process is traced (no -f: builds fork workers and compilers, whose
# calls are not ours). Not tried, because a kill there leaves what a kill at the next call
# leaves (for a SIGKILL, unlike a power cut, the page cache survives): fsync and fdatasync,
# and the calls on a file descriptor (write, pwrite64, writev, ftruncate, fchmod, fchown) when
# it is not a file under the root (stdout, the jobserver pipe), or is a temporary file of an
# atomic write (".#<name>XXXXXX": nothing reads it before its rename, which is tried) or a
# lock (its pid line only feeds a message). With --pipes, the writes to stdout and pipes are
# tried too: for a command that forks build workers, which run on when it is killed there.
# Leaves the root in the new state; sets POINTS.
crash_points() {
	local op p k s m call n now end complete between pipes=no
	local start=$BATS_TEST_TMPDIR/crash-start trace=$BATS_TEST_TMPDIR/trace
	local -A old=() new=()
	local -a kills=() steps=() mids=()
	while [ $# -gt 0 ]; do
		case $1 in
		--pipes) pipes=yes ;;
		--step) steps+=("$2"); shift ;;
		*) break ;;
		esac
		shift
	done
	op=$1
	shift
	rm -rf "$start"
	cp -a "$ROOT" "$start"
	for p in "$@"; do old[$p]=$(status_of "$p"); done
	# the states between the steps ("<package> <status>"): each step run on its own, in turn
	for s in "${steps[@]}"; do
		# shellcheck disable=SC2086
		"$DKM" $s >/dev/null
		for p in "$@"; do mids+=("$p $(status_of "$p")"); done
	done
	rm -rf "$ROOT"
	cp -a "$start" "$ROOT"
	# shellcheck disable=SC2086
	strace -qq -y -o "$trace" -e trace="${FILE_CALLS// /,}" "$DKM" $op >/dev/null 2>&1
	for p in "$@"; do new[$p]=$(status_of "$p"); done
	end=$(root_state)
	mapfile -t kills < <(awk -v root="$ROOT/" -v pipes="$pipes" '
		match($0, /^[a-z0-9_]+\(/) {
			call = substr($0, 1, RLENGTH - 1); n = ++seen[call]
			if (call == "fsync" || call == "fdatasync") next
			if (call ~ /^(write|pwrite64|writev|ftruncate|fchmod|fchown)$/) {
				# -y: "write(4</path/of/the/file>, ..."
				if (!match($0, /^[a-z0-9_]+\([0-9]+<[^>]*>/)) next
				path = substr($0, 1, RLENGTH - 1); sub(/^[^<]*</, "", path)
				if (pipes == "yes" && index(path, root) != 1) { print call, n; next }
				if (index(path, root) != 1 || path ~ /\/\.#[^\/]*$/ || path ~ /\/lock$/) next
			}
			print call, n
		}' "$trace")
	[ "${#kills[@]}" -gt 0 ]
	POINTS=0
	for k in "${kills[@]}"; do
		read -r call n <<<"$k"
		rm -rf "$ROOT"
		cp -a "$start" "$ROOT"
		# (run: strace dies of the same signal, and the shell's "Killed" stays quiet)
		# shellcheck disable=SC2086
		run strace -qq -o /dev/null -e trace="$call" -e inject="$call:error=EIO:signal=KILL:when=$n" "$DKM" $op
		run "$DKM" fsck --repair
		[ "$status" -eq 0 ] || { echo "'$op' killed at $call #$n: fsck: $output"; false; }
		run python3 "$CHECK" "$ROOT" "$KVER" ${SHIPPED:+"$SHIPPED"}
		[ "$status" -eq 0 ] || { echo "'$op' killed at $call #$n: $output"; false; }
		complete=yes
		for p in "$@"; do
			now=$(status_of "$p")
			[ "$now" = "${new[$p]}" ] && continue
			complete=no
			between=no
			for m in "${mids[@]}"; do
				if [ "$m" = "$p $now" ]; then between=yes; fi
			done
			[ "$now" = "${old[$p]}" ] || [ "$between" = yes ] ||
				{ printf "'%s' killed at %s #%s: %s neither in its old nor in its new state (nor between two steps):\n%s\n" "$op" "$call" "$n" "$p" "$now"; false; }
		done
		if [ "$complete" = no ]; then
			# shellcheck disable=SC2086
			run "$DKM" $op
			[ "$status" -eq 0 ] || { echo "'$op' killed at $call #$n, then run again: $output"; false; }
			for p in "$@"; do
				now=$(status_of "$p")
				[ "$now" = "${new[$p]}" ] ||
					{ printf "'%s' killed at %s #%s, then run again: %s is not in its new state:\n%s\n" "$op" "$call" "$n" "$p" "$now"; false; }
			done
		fi
		now=$(root_state)
		[ "$now" = "$end" ] || { echo "'$op' killed at $call #$n: the root differs from an uninterrupted run's:"; diff <(echo "$end") <(echo "$now"); false; }
		POINTS=$((POINTS + 1))
	done
	echo "# '$op': ${#kills[@]} crash points" >&3
}

@test "a SIGKILL at each file-changing system call of install, upgrade and uninstall (strace injection): the old or the new state, complete" {
	command -v strace >/dev/null || skip "strace not installed"
	three_packages_two_versions
	# LeakSanitizer cannot run under ptrace (the sanitizer build of CI)
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	# each starts where the one before ends
	total=0
	for op in "install module-test/0.1" "install module-test/0.2" "uninstall module-test/0.2"; do
		crash_points "$op -k $KVER" module-test
		total=$((total + POINTS))
	done
	echo "# crash points tried: $total" >&3
	[ "$total" -ge 30 ]
}

@test "a SIGKILL at each file-changing system call of install, upgrade and uninstall displacing the kernel's module at the very path ours goes to: the old or the new state, complete" {
	command -v strace >/dev/null || skip "strace not installed"
	same_path_displacement
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	total=0
	for op in "install module-test/0.1" "install module-test/0.2" "uninstall module-test/0.2"; do
		crash_points "$op -k $KVER" module-test
		total=$((total + POINTS))
	done
	echo "# crash points tried: $total" >&3
	[ "$total" -ge 30 ]
}

@test "a SIGKILL at each file-changing system call of build, rebuild, remove, add and unbuild (strace injection): the old or the new state, complete" {
	command -v strace >/dev/null || skip "strace not installed"
	two_packages_quick_builds
	# LeakSanitizer cannot run under ptrace (the sanitizer build of CI)
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	# each starts where the one before ends; both packages are compared each time
	total=0
	# built -> built: the modules and the state are written by the build's worker, which is
	# not traced; the command itself writes only to its pipes. Killed before the worker
	# starts, while it runs (it finishes, and holds the lock until then) and after it ended.
	crash_points --pipes "build module-test/0.1 -k $KVER --force" module-test two-modules
	total=$((total + POINTS))
	# built -> installed, for two packages (module-test displacing the shipped module): one
	# transaction each, so each package is old or new on its own; one job, so that the
	# installs come in the same order in every run
	crash_points "rebuild $KVER --no-initrd -j 1" module-test two-modules
	total=$((total + POINTS))
	# installed -> not registered: uninstall, unbuild and unregister are a transaction each,
	# a kill may stop it between two of them (then a second remove finishes it)
	crash_points --step "uninstall module-test/0.1 -k $KVER" --step "unbuild module-test/0.1 -k $KVER" \
		"remove module-test/0.1 --all" module-test two-modules
	total=$((total + POINTS))
	# not registered (nor any version of it) -> added, its source copied to /usr/src
	crash_points "add $BATS_TEST_TMPDIR/src/module-test" module-test two-modules
	total=$((total + POINTS))
	# built -> added only
	"$DKM" uninstall two-modules/2.0 -k "$KVER" >/dev/null
	crash_points "unbuild two-modules/2.0 -k $KVER" module-test two-modules
	total=$((total + POINTS))
	echo "# crash points tried: $total" >&3
	[ "$total" -ge 40 ]
}

@test "an install killed after archiving the kernel's module and renaming ours over it (same path), before the manifest: recovered, and every command works again" {
	command -v strace >/dev/null || skip "strace not installed"
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	same_path_displacement
	target=$ROOT/lib/modules/$KVER/kernel/drivers/misc/dkms_test.ko
	# the moment: the original archived, ours renamed into its place, the manifest not written
	n=$(nth_call_on rename '/manifest"' install module-test/0.1 -k "$KVER")
	[ -n "$n" ]
	run strace -qq -o /dev/null -e trace=rename -e inject="rename:error=EIO:signal=KILL:when=$n" \
		"$DKM" install module-test/0.1 -k "$KVER"
	[ -f "$ROOT/var/lib/dkm-hook/kernels/$KVER/originals/dkms_test.file" ]
	[ "$(sha256sum < "$target" | cut -c1-64)" != "${SHIPPED#*=}" ]
	run "$DKM" fsck --repair
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"$KVER: finishing an interrupted install of module-test/0.1"* ]]
	run "$DKM" status module-test/0.1
	[ "$output" = "module-test/0.1, $KVER, $(uname -m): installed (modules: dkms_test; signed)" ]
	run python3 "$CHECK" "$ROOT" "$KVER" "$SHIPPED"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	# the archive is the kernel's module, not ours
	[ "$(sha256sum < "$ROOT/var/lib/dkm-hook/kernels/$KVER/originals/dkms_test.file" | cut -c1-64)" = "${SHIPPED#*=}" ]
	# every command on the kernel works: install (nothing to do), upgrade, uninstall, remove
	"$DKM" install module-test/0.1 -k "$KVER"
	"$DKM" install module-test/0.2 -k "$KVER"
	[ "$(modinfo_field dkms_test version)" = "0.2" ]
	"$DKM" uninstall module-test/0.2 -k "$KVER"
	[ "$(sha256sum < "$target" | cut -c1-64)" = "${SHIPPED#*=}" ]
	"$DKM" remove module-test/0.1 --all
	"$DKM" remove module-test/0.2 --all
	[ "$(modinfo_field dkms_test filename)" = "$target" ]
	run "$DKM" fsck
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "the same crash with the next command being install (not fsck): it finishes the interrupted install itself" {
	command -v strace >/dev/null || skip "strace not installed"
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	same_path_displacement
	n=$(nth_call_on rename '/manifest"' install module-test/0.1 -k "$KVER")
	[ -n "$n" ]
	run strace -qq -o /dev/null -e trace=rename -e inject="rename:error=EIO:signal=KILL:when=$n" \
		"$DKM" install module-test/0.1 -k "$KVER"
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"finishing an interrupted install of module-test/0.1"* ]]
	run "$DKM" rebuild "$KVER" --no-initrd
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run python3 "$CHECK" "$ROOT" "$KVER" "$SHIPPED"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "an interrupted install is finished by the next command, not only by fsck" {
	three_packages_two_versions
	"$DKM" install module-test/0.1 -k "$KVER"
	# simulate a crash in the commit phase: a journal that says commit, the staged file there
	j=$ROOT/var/lib/dkm-hook/kernels/$KVER/journal
	setsid bash -c '"$DKM" install module-test/0.2 -k "$KVER"' >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 1 200); do grep -q '^phase=commit' "$j" 2>/dev/null && break; sleep 0.005; done
	kill -9 -- "-$pid" 2>/dev/null || true
	wait "$pid" || true
	interrupted=no
	[ -e "$j" ] && interrupted=yes
	run "$DKM" status module-test # status never recovers or blocks: read-only
	[ "$status" -eq 0 ]
	[ "$interrupted" = no ] || [ -e "$j" ]
	run "$DKM" install dep-base/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	if [ "$interrupted" = yes ]; then
		[[ "$output" == *"$KVER: finishing an interrupted install of module-test/0.2"* ]]
		[[ "$output" == *"depmod $KVER (owed by an interrupted command)"* ]]
	fi
	[ ! -e "$j" ]
	run python3 "$CHECK" "$ROOT" "$KVER" "$SHIPPED"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "an uninstall killed between removing the manifest and writing the state is finished by the next command" {
	three_packages_two_versions
	"$DKM" install module-test/0.1 -k "$KVER" >/dev/null
	interrupted_uninstall module-test/0.1
	run "$DKM" fsck
	[ "$status" -eq 1 ]
	[[ "$output" == *"interrupted transaction"* ]]
	run "$DKM" install dep-base/1.0 -k "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$KVER: finishing an interrupted uninstall of module-test/0.1"* ]]
	[ ! -e "$ROOT/var/lib/dkm-hook/kernels/$KVER/journal" ]
	run "$DKM" status module-test/0.1
	[[ "$output" == *"module-test/0.1, $KVER, $(uname -m): built"* ]]
	run "$DKM" fsck
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run python3 "$CHECK" "$ROOT" "$KVER" "$SHIPPED"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "an uninstall killed after removing a module file, before pruning its directories, leaves none behind" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	"$DKM" install module-test/0.1 -k "$KVER" >/dev/null
	[ -f "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko" ]
	# the moment of the crash: journal and depmod debt written, the file gone, its directories not
	printf 'op=uninstall\npackage=module-test\nversion=0.1\narch=%s\n' "$(uname -m)" \
		> "$ROOT/var/lib/dkm-hook/kernels/$KVER/journal"
	: > "$ROOT/var/lib/dkm-hook/kernels/$KVER/depmod-pending"
	rm "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko"
	run "$DKM" fsck --repair
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ ! -e "$ROOT/lib/modules/$KVER/updates" ]
	run "$DKM" status module-test/0.1
	[[ "$output" == *"module-test/0.1, $KVER, $(uname -m): built"* ]]
	run python3 "$CHECK" "$ROOT" "$KVER"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "an unbuild killed while deleting the build: not listed under another name, cleaned by fsck, built and unbuilt again" {
	command -v strace >/dev/null || skip "strace not installed"
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	"$DKM" add "$(fixture module-test)" >/dev/null
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	# killed at its first unlinkat: the build moved aside, none of its files deleted yet
	run strace -qq -o /dev/null -e trace=unlinkat -e inject=unlinkat:error=EIO:signal=KILL:when=1 \
		"$DKM" unbuild module-test/0.1 -k "$KVER"
	run "$DKM" status module-test
	[ "$output" = "module-test/0.1: added (modules: dkms_test)" ]
	run "$DKM" fsck
	[ "$status" -eq 1 ]
	[[ "$output" == *"problem: interrupted unbuild of module-test/0.1 for $KVER, $(uname -m)"* ]]
	run "$DKM" fsck --repair
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ ! -e "$ROOT/var/lib/dkm-hook/packages/module-test/0.1/kernels" ]
	"$DKM" build module-test/0.1 -k "$KVER"
	"$DKM" unbuild module-test/0.1 -k "$KVER"
	run "$DKM" status module-test
	[ "$output" = "module-test/0.1: added (modules: dkms_test)" ]
}

@test "a remove killed after unregistering, before deleting the source it copied, is finished by the next command" {
	src=$(fixture module-test)
	"$DKM" add "$src" >/dev/null
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	"$DKM" unbuild module-test/0.1 -k "$KVER" >/dev/null
	# the moment of the crash: the registration renamed to its tomb, the copied source still there
	mv "$ROOT/var/lib/dkm-hook/packages/module-test/0.1" "$ROOT/var/lib/dkm-hook/packages/module-test/.removing-0.1"
	run "$DKM" status module-test
	[ "$status" -eq 3 ]
	run "$DKM" fsck
	[ "$status" -eq 1 ]
	[[ "$output" == *"problem: interrupted remove of module-test/0.1"* ]]
	# adding it again finishes the remove first (the copy would be in its way)
	run "$DKM" add "$src"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"finishing an interrupted remove of module-test/0.1"*"added module-test/0.1"* ]]
	[ ! -e "$ROOT/var/lib/dkm-hook/packages/module-test/.removing-0.1" ]
	run "$DKM" remove module-test/0.1 --all
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ ! -e "$ROOT/usr/src/module-test-0.1" ]
	[ ! -e "$ROOT/var/lib/dkm-hook/packages/module-test" ]
	run "$DKM" fsck
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "an add killed after putting the copied source in place, before registering it, is rolled back and redone by the next add" {
	src=$(fixture module-test)
	# the moment of the crash: the copy in place (of the source as it was then), the add's
	# marker, the registration's directory and temporary file, not yet renamed to 'package'
	mkdir -p "$ROOT/usr/src" "$ROOT/var/lib/dkm-hook/packages/module-test/0.1"
	cp -a "$src" "$ROOT/usr/src/module-test-0.1"
	printf 'source=/usr/src/module-test-0.1\n' > "$ROOT/var/lib/dkm-hook/packages/module-test/.adding-0.1"
	printf 'name=module-test\n' > "$ROOT/var/lib/dkm-hook/packages/module-test/0.1/.#packageAbC123"
	echo '/* changed since */' >> "$src/dkms_test.c"
	run "$DKM" status module-test
	[ "$status" -eq 3 ]
	run "$DKM" fsck
	[ "$status" -eq 1 ]
	[[ "$output" == *"problem: interrupted add of module-test/0.1"* ]]
	run "$DKM" add "$src"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"rolling back an interrupted add of module-test/0.1"*"added module-test/0.1"* ]]
	diff -r "$src" "$ROOT/usr/src/module-test-0.1"
	[ ! -e "$ROOT/var/lib/dkm-hook/packages/module-test/.adding-0.1" ]
	run "$DKM" fsck
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run "$DKM" remove module-test/0.1 --all
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/usr/src/module-test-0.1" ]
}

@test "a build killed between publishing its modules and recording them: install builds again, never installs a module its state does not describe" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	inst=$ROOT/var/lib/dkm-hook/packages/module-test/0.1/kernels/$KVER/$(uname -m)
	cp "$inst/state" "$BATS_TEST_TMPDIR/state.before"
	# the source changes (same version), and the next build is killed after its worker swapped
	# in the new modules, before it wrote the state: the state still records the old ones
	sed -i 's/MODULE_LICENSE("GPL");/MODULE_LICENSE("GPL");\nMODULE_VERSION("0.1-patched");/' \
		"$ROOT/usr/src/module-test-0.1/dkms_test.c"
	"$DKM" build module-test/0.1 -k "$KVER" --force >/dev/null
	cp "$BATS_TEST_TMPDIR/state.before" "$inst/state"
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"module-test/0.1: building for $KVER"* ]]
	run python3 "$CHECK" "$ROOT" "$KVER"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(modinfo_field dkms_test version)" = "0.1-patched" ]
	run "$DKM" fsck
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	"$DKM" uninstall module-test/0.1 -k "$KVER"
	[ ! -e "$ROOT/lib/modules/$KVER/updates" ]
}

@test "fsck reports and repairs a deleted module, a changed module, a staging leftover, an unrestored original" {
	three_packages_two_versions
	"$DKM" install module-test/0.1 -k "$KVER"
	"$DKM" install two-modules/2.0 -k "$KVER"
	run "$DKM" fsck
	[ "$status" -eq 0 ]
	[ "$output" = "fsck: no problems found" ]
	rm "$ROOT/lib/modules/$KVER/extra/mod_a.ko"
	echo tampered >> "$ROOT/lib/modules/$KVER/extra/two/mod_b_renamed.ko"
	touch "$ROOT/lib/modules/$KVER/extra/.mod_a.ko.dkm-hook-new"
	# a state file's write killed before its rename
	tmpstate=$ROOT/var/lib/dkm-hook/packages/two-modules/2.0/.#packageAb12Cd
	touch "$tmpstate"
	# module-test's registration vanishes behind our back: its original is not restored
	rm "$ROOT/var/lib/dkm-hook/packages/module-test/0.1/kernels/$KVER/$(uname -m)/manifest"
	rm "$ROOT"/lib/modules/"$KVER"/updates/dkms/dkms_test.ko
	run "$DKM" fsck
	[ "$status" -eq 1 ]
	[[ "$output" == *"problem: two-modules/2.0, $KVER: installed module is missing: '$ROOT/lib/modules/$KVER/extra/mod_a.ko'"* ]]
	[[ "$output" == *"problem: two-modules/2.0, $KVER: installed module differs from what dkm-hook installed: '$ROOT/lib/modules/$KVER/extra/two/mod_b_renamed.ko'"* ]]
	[[ "$output" == *"problem: orphaned staging file '$ROOT/lib/modules/$KVER/extra/.mod_a.ko.dkm-hook-new'"* ]]
	[[ "$output" == *"problem: orphaned staging file '$tmpstate'"* ]]
	[[ "$output" == *"problem: displaced original of 'dkms_test' not restored to '$ROOT/lib/modules/$KVER/ethercat/dkms_test.ko'"* ]]
	[[ "$output" == *"problem: module-test/0.1, $KVER: state says installed but the manifest"* ]]
	run "$DKM" fsck --repair
	[[ "$output" == *"repaired: two-modules/2.0, $KVER: installed module is missing"* ]]
	[[ "$output" == *"repaired: displaced original of 'dkms_test' not restored"* ]]
	[ -f "$ROOT/lib/modules/$KVER/extra/mod_a.ko" ]
	[ ! -e "$ROOT/lib/modules/$KVER/extra/.mod_a.ko.dkm-hook-new" ]
	[ ! -e "$tmpstate" ]
	[ "$(sha256sum < "$ROOT/lib/modules/$KVER/ethercat/dkms_test.ko" | cut -c1-64)" = "${SHIPPED#*=}" ]
	[ "$(modinfo_field dkms_test filename)" = "$ROOT/lib/modules/$KVER/ethercat/dkms_test.ko" ]
}

# damaged_manifest <content>: module-test/0.1 installed over the kernel's ethercat/dkms_test.ko,
# then its manifest replaced by <content> (printf format); sets INST and MOD
damaged_manifest() {
	three_packages_two_versions
	"$DKM" install module-test/0.1 -k "$KVER" >/dev/null
	INST=$ROOT/var/lib/dkm-hook/packages/module-test/0.1/kernels/$KVER/$(uname -m)
	MOD=$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko
	# shellcheck disable=SC2059
	printf "$1" > "$INST/manifest"
}

@test "an empty manifest: status and fsck name it; install never archives our own module as the kernel's, and puts the manifest right" {
	damaged_manifest ''
	ours=$(sha256sum < "$MOD" | cut -c1-64)
	run "$DKM" status module-test/0.1
	[[ "$output" == *"module-test/0.1, $KVER, $(uname -m): damaged (manifest '$INST/manifest': it has no modules= line)"* ]]
	[[ "$output" != *": installed ("* ]]
	"$DKM" status --json > "$BATS_TEST_TMPDIR/s.json" 2>/dev/null
	python3 - "$BATS_TEST_TMPDIR/s.json" "$INST/manifest" <<-'EOF'
	import json, sys
	p = [p for p in json.load(open(sys.argv[1]))["packages"] if p["version"] == "0.1" and p["name"] == "module-test"][0]
	assert p["kernels"][0]["state"] == "damaged" and p["kernels"][0]["damaged_file"] == sys.argv[2], p
	EOF
	run "$DKM" fsck
	[ "$status" -eq 1 ]
	[[ "$output" == *"problem: module-test/0.1, $KVER: manifest '$INST/manifest' is damaged: it has no modules= line"* ]]
	# install again (what fsck says to do): our module at its place is ours (its sha256), not
	# an original to archive
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"dkms_test: '/lib/modules/$KVER/updates/dkms/dkms_test.ko' is a module of module-test (its sha256) that no manifest records: replaced, not archived"* ]]
	[[ "$output" != *"original module '/lib/modules/$KVER/updates/dkms/dkms_test.ko' archived"* ]]
	[ "$(grep -c . "$ROOT/var/lib/dkm-hook/kernels/$KVER/originals/dkms_test.record")" -gt 0 ]
	grep -qx "path=/lib/modules/$KVER/ethercat/dkms_test.ko" "$ROOT/var/lib/dkm-hook/kernels/$KVER/originals/dkms_test.record"
	[ "$(sha256sum < "$ROOT/var/lib/dkm-hook/kernels/$KVER/originals/dkms_test.file" | cut -c1-64)" = "${SHIPPED#*=}" ]
	run python3 "$CHECK" "$ROOT" "$KVER" "$SHIPPED"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	# and everything goes on: uninstall and remove put the kernel's module back, none of ours stays
	"$DKM" remove module-test/0.1 --all
	[ ! -e "$MOD" ]
	[ "$(sha256sum < "$ROOT/lib/modules/$KVER/ethercat/dkms_test.ko" | cut -c1-64)" = "${SHIPPED#*=}" ]
	[ -z "$(grep -rl "$ours" "$ROOT/var/lib/dkm-hook/kernels" 2>/dev/null)" ]
	run "$DKM" fsck
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "a garbage manifest: fsck --repair writes it again from the build when the installed file is the build's" {
	damaged_manifest 'garbage\001\002 not a manifest\nmodules\n'
	run "$DKM" fsck
	[ "$status" -eq 1 ]
	[[ "$output" == *"problem: module-test/0.1, $KVER: manifest '$INST/manifest' is damaged"* ]]
	run "$DKM" fsck --repair
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"repaired: module-test/0.1, $KVER: manifest '$INST/manifest' is damaged: it has no modules= line: written again from the build"* ]]
	run "$DKM" status module-test/0.1
	[ "$output" = "module-test/0.1, $KVER, $(uname -m): installed (modules: dkms_test; signed)" ]
	run python3 "$CHECK" "$ROOT" "$KVER" "$SHIPPED"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	"$DKM" uninstall module-test/0.1 -k "$KVER"
	[ ! -e "$MOD" ]
	[ "$(sha256sum < "$ROOT/lib/modules/$KVER/ethercat/dkms_test.ko" | cut -c1-64)" = "${SHIPPED#*=}" ]
}

@test "a damaged manifest whose module file is not the build's: fsck --repair claims nothing and says what to do" {
	damaged_manifest 'modules=dkms_test\n'
	echo changed >> "$MOD"
	run "$DKM" fsck --repair
	[ "$status" -eq 1 ]
	[[ "$output" == *"problem: module-test/0.1, $KVER: manifest '$INST/manifest' is damaged: module dkms_test has no valid path under '/lib/modules/$KVER/' or no sha256: not repaired: '$MOD' is not the module this build installs"* ]]
	[[ "$output" == *"to repair it: 'dkm-hook install module-test/0.1 -k $KVER' (it installs the build again"* ]]
	[ "$(cat "$INST/manifest")" = "modules=dkms_test" ]
}

@test "a damaged package record: fsck and fsck --repair name it, status shows it with its path" {
	three_packages_two_versions
	"$DKM" install module-test/0.1 -k "$KVER" >/dev/null
	reg=$ROOT/var/lib/dkm-hook/packages/module-test/0.1/package
	printf 'garbage\n' > "$reg"
	run "$DKM" fsck
	[ "$status" -eq 1 ]
	[[ "$output" == *"problem: module-test/0.1: registration '$reg' is damaged (no valid name=, version= or source= line)"* ]]
	[[ "$output" == *"to repair it: 'dkm-hook add module-test/0.1' registers it again from '$ROOT/usr/src/module-test-0.1'"* ]]
	run "$DKM" fsck --repair
	[ "$status" -eq 1 ]
	[[ "$output" != *"no problems found"* ]]
	[[ "$output" == *"problem: module-test/0.1: registration '$reg' is damaged"* ]]
	run "$DKM" status
	[[ "$output" == *"module-test/0.1: damaged (registration '$reg' is damaged (no valid name=, version= or source= line): run 'dkm-hook fsck')"* ]]
	# what fsck says to do works
	"$DKM" add module-test/0.1
	run "$DKM" fsck
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run "$DKM" status module-test/0.1
	[ "$output" = "module-test/0.1, $KVER, $(uname -m): installed (modules: dkms_test; signed)" ]
}

@test "concurrency: 4 commands at once on overlapping packages and two kernels, 20 rounds; same end state as sequential" {
	second_kernel "$KVER+second"
	K2="$KVER+second"
	"$DKM" add "$(fixture module-test)" >/dev/null
	"$DKM" add "$(fixture two-modules)" >/dev/null
	"$DKM" add "$(fixture dep-base)" >/dev/null
	for p in module-test/0.1 two-modules/2.0 dep-base/1.0; do
		"$DKM" build "$p" -k "$KVER" -k "$K2" >/dev/null
	done
	for round in $(seq 1 20); do
		if [ $((round % 2)) -eq 1 ]; then
			cmds=("install module-test/0.1 -k $KVER -k $K2" "rebuild $K2" "install two-modules/2.0 -k $KVER" "install dep-base/1.0 -k $KVER")
		else
			cmds=("uninstall module-test/0.1 -k $KVER -k $K2" "uninstall two-modules/2.0 -k $KVER -k $K2" "uninstall dep-base/1.0 -k $K2" "uninstall dep-base/1.0 -k $KVER")
		fi
		pids=()
		for c in "${cmds[@]}"; do
			# shellcheck disable=SC2086
			"$DKM" $c > "$BATS_TEST_TMPDIR/out.$round.${#pids[@]}" 2>&1 &
			pids+=($!)
		done
		for i in "${!pids[@]}"; do
			wait "${pids[$i]}" || { echo "round $round: '${cmds[$i]}' failed:"; cat "$BATS_TEST_TMPDIR/out.$round.$i"; false; }
			if grep -v 'waiting for another dkm-hook' "$BATS_TEST_TMPDIR/out.$round.$i" | grep -q 'error'; then false; fi
		done
		run "$DKM" status
		if [ $((round % 2)) -eq 1 ]; then
			want=installed
		else
			want=built
		fi
		[ "$(grep -c ": $want " <<<"$output")" -eq 6 ] || { echo "round $round: $output"; false; }
		for k in "$KVER" "$K2"; do
			run python3 "$CHECK" "$ROOT" "$k"
			[ "$status" -eq 0 ] || { echo "round $round, $k: $output"; false; }
		done
	done
}

@test "a full disk while writing a module: clear error, the previous module still installed and intact" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to mount a small tmpfs"
	debian_root
	"$DKM" add "$(fixture module-test)" >/dev/null
	"$DKM" add "$(fixture_version module-test 0.1 0.2)" >/dev/null
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	"$DKM" build module-test/0.2 -k "$KVER" >/dev/null
	# an upgrade must not remove the old version before the new one is in place: room for the
	# old module, one page short of room for both
	d=$ROOT/lib/modules/$KVER/updates/dkms
	mkdir -p "$d"
	pages=0
	for v in 0.1 0.2; do
		size=$(stat -c %s "$ROOT"/var/lib/dkm-hook/packages/module-test/$v/kernels/"$KVER"/*/modules/dkms_test.ko)
		pages=$(( pages + (size + 4095) / 4096 ))
	done
	mount -t tmpfs -o size=$(( (pages - 1) * 4096 )) dkm-hook-test "$d"
	TMPFS=$d
	"$DKM" install module-test/0.1 -k "$KVER"
	good=$(sha256sum < "$d/dkms_test.ko")
	run "$DKM" install module-test/0.2 -k "$KVER"
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot install module-test/0.2 for $KVER: writing '$d/.dkms_test.ko.dkm-hook-new' failed: No space left on device; nothing was changed"* ]]
	[ ! -e "$ROOT/var/lib/dkm-hook/kernels/$KVER/journal" ]
	[ "$(sha256sum < "$d/dkms_test.ko")" = "$good" ]
	[ "$(ls -A "$d")" = "dkms_test.ko" ]
	umount "$d"; TMPFS=
	run "$DKM" status module-test
	[[ "$output" == *"module-test/0.1, $KVER, $(uname -m): installed"* ]]
	[[ "$output" == *"module-test/0.2, $KVER, $(uname -m): built"* ]]
}

teardown() {
	if [ -n "${TMPFS:-}" ]; then umount "$TMPFS" || true; fi
}

@test "locking is per kernel: rebuilds of two kernels run at the same time, of one kernel in turn" {
	second_kernel "$KVER+second"
	K2="$KVER+second"
	src=$(fixture module-test)
	# each build waits (up to 30 s) until the other kernel's build of it has started: both
	# succeed only if the two commands really run in parallel. In its sandbox a build sees the
	# state dir read-only through the root's view, and of another build only that its private
	# (0700) dir exists
	cat > "$src/wait-for-other.sh" <<-'EOF2'
	#!/bin/sh
	tree=/run/dkm-hook/root/var/lib/dkm-hook/build
	for other in "$tree"/*/; do
		[ "$(basename "$other")" = "$kernelver" ] && continue
		i=0
		while [ ! -d "$other$arch/module-test/0.1" ] && [ $i -lt 300 ]; do
			sleep 0.1; i=$((i + 1))
		done
		[ -d "$other$arch/module-test/0.1" ] || { echo "no concurrent build of the other kernel" >&2; exit 1; }
	done
	EOF2
	chmod +x "$src/wait-for-other.sh"
	sed -i 's|^MAKE\[0\]=.*|MAKE[0]="./wait-for-other.sh \&\& make KERNDIR=${kernel_source_dir} all"|' "$src/dkms.conf"
	"$DKM" add "$src" >/dev/null
	"$DKM" rebuild "$KVER" > "$BATS_TEST_TMPDIR/a" 2>&1 &
	a=$!
	"$DKM" rebuild "$K2" > "$BATS_TEST_TMPDIR/b" 2>&1 &
	b=$!
	wait "$a" || { cat "$BATS_TEST_TMPDIR/a"; false; }
	wait "$b" || { cat "$BATS_TEST_TMPDIR/b"; false; }
	run "$DKM" status
	[ "$(grep -c ': installed ' <<<"$output")" -eq 2 ]
	# the same kernel: the second command waits for the first
	run_waiting_for_lock "$ROOT/var/lib/dkm-hook/kernels/$KVER/lock" "$DKM" rebuild "$KVER"
	[ "$status" -eq 0 ]
	[[ "$output" == *"waiting for another dkm-hook command"*"kernels/$KVER/lock'"* ]]
	# while another kernel is not blocked by it
	hold_lock "$ROOT/var/lib/dkm-hook/kernels/$KVER/lock"
	run timeout 60 "$DKM" rebuild "$K2"
	release_lock
	[ "$status" -eq 0 ]
	[[ "$output" != *"waiting"* ]]
}
