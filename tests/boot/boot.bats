#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The boot proof: the example module, installed into a scratch root the way dkm-hook installs
# it (signed, .ko.xz), put into an initramfs by the real dracut, loads in a booted kernel
# under qemu with its parameter from the kernel command line; and the kernel refuses the
# signed-by-an-unknown-key, unsigned and corrupted variants when it should.
#
# Run: tests/boot/run (what `make check-boot` calls). docs/boot-test.md explains the logs.
# Work files and serial logs: $DKM_BOOT_WORK (default build/boot-test), kept after the run.
#
# Images are built once per module file (variant) and reused by every boot that differs only
# in its kernel command line: "signed" (two boots), "unsigned", "corrupt".

load lib.sh
# shellcheck source=tests/boot/lib.sh disable=SC2153 # BOOT_* come from lib.sh

setup_file() {
	# Without qemu the boots are skipped (bats 1.8 cannot skip from setup_file); everything
	# before them still runs.
	export BOOT_SKIP=
	if ! command -v qemu-system-x86_64 >/dev/null; then
		BOOT_SKIP="qemu-system-x86_64 not found: install the package qemu-system-x86"
	fi
	local tool
	for tool in dracut lsinitrd depmod modinfo xz openssl make dpkg-deb apt-get kernel-install; do
		if ! command -v "$tool" >/dev/null; then
			echo "boot: error: '$tool' not found: the boot test needs it" >&2
			return 1
		fi
	done
	export BOOT_WORK=${DKM_BOOT_WORK:-$BOOT_REPO/build/boot-test}
	rm -rf "$BOOT_WORK" && mkdir -p "$BOOT_WORK"
	BOOT_WORK=$(cd "$BOOT_WORK" && pwd)
	export BOOT_KVER
	BOOT_KVER=$(boot_kver)
	# A value no default and no earlier run has: the module must have it from this boot's
	# kernel command line.
	export BOOT_GREETING
	BOOT_GREETING=cmdline-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
	export BOOT_KDIR
	local t0=$SECONDS
	BOOT_KDIR=$("$BOOT_DIR/fetch-kernel" "$BOOT_KVER")
	boot_timing "fetch-kernel $BOOT_KVER" $((SECONDS - t0))
}

setup() {
	if [[ $BOOT_SKIP && $BATS_TEST_DESCRIPTION == boot* ]]; then
		skip "$BOOT_SKIP"
	fi
}

# boot_timing <what> <seconds> — one line in $BOOT_WORK/timings, echoed to TAP as a comment.
boot_timing() {
	printf '%-44s %4s s\n' "$1" "$2" >>"$BOOT_WORK/timings"
	printf '# timing: %s: %s s\n' "$1" "$2" >&3
}

# now_ms — wall clock in milliseconds, for timings with one decimal.
now_ms() {
	local t
	t=$(date +%s%N)
	echo $((t / 1000000))
}
secs() { # <ms> -> "12.3"
	printf '%d.%d' $(($1 / 1000)) $((($1 % 1000) / 100))
}

# variant <name> — build (once per run) the root and the image of one module variant:
#   signed    boot_install_modules signed
#   unsigned  boot_install_modules unsigned
#   corrupt   boot_install_modules signed, then boot_corrupt_signature on the installed file
# Sets V_ROOT, V_IMG, V_FILE (installed module in the root), V_IMGFILE (its path in the image).
variant() {
	local name=$1 dir=$BOOT_WORK/$1 t
	V_ROOT=$dir/root
	V_IMG=$dir/initrd.img
	if [[ ! -f $dir/.ok ]]; then
		rm -rf "$dir" && mkdir -p "$dir"
		t=$(now_ms)
		boot_make_root "$V_ROOT" "$BOOT_KVER" "$BOOT_KDIR"
		case $name in
		signed | unsigned) boot_install_modules "$V_ROOT" "$BOOT_KVER" "$name" ;;
		corrupt)
			boot_install_modules "$V_ROOT" "$BOOT_KVER" signed
			boot_corrupt_signature "$(boot_module_file "$V_ROOT" "$BOOT_KVER")"
			;;
		esac
		boot_timing "module tree '$name' (root, dkm-hook via kernel-install)" "$(secs $(($(now_ms) - t)))"
		t=$(now_ms)
		# Our dracut module puts the module in (DKM_BOOT_DRACUT_MODULES overrides; empty:
		# --force-drivers). Not for "corrupt": 50dkm-hook runs `dkm-hook rebuild`, which
		# (rightly) reinstalls a tampered module; the stand-in fixture takes the file as is.
		local mods=${DKM_BOOT_DRACUT_MODULES-$BOOT_REPO/dracut-module/50dkm-hook}
		[[ $name == corrupt ]] && mods=$BOOT_DIR/fixtures/90dkm-boot-fixture
		# shellcheck disable=SC2086
		boot_make_image "$V_ROOT" "$BOOT_KVER" "$V_IMG" "$dir/dracut.log" $mods
		boot_timing "dracut image '$name'" "$(secs $(($(now_ms) - t)))"
		touch "$dir/.ok"
	fi
	V_FILE=$(boot_module_file "$V_ROOT" "$BOOT_KVER")
	V_IMGFILE=$(boot_check_image "$V_IMG" "$BOOT_KVER")
}

# boot <name> <variant> [kernel args...] — boot a variant's image; sets LOG (serial log),
# RESULT (the DKM-BOOT-RESULT fields) and SERIAL (the log without carriage returns).
boot() {
	local name=$1 v=$2 t rc=0
	shift 2
	variant "$v"
	mkdir -p "$BOOT_WORK/boot-$name"
	LOG=$BOOT_WORK/boot-$name/serial.log
	t=$(now_ms)
	boot_qemu "$BOOT_KDIR/boot/vmlinuz-$BOOT_KVER" "$V_IMG" "$LOG" "$@" || rc=$?
	boot_timing "boot '$name'" "$(secs $(($(now_ms) - t)))"
	if ((rc != 0)); then
		fail_with_log "qemu exited $rc (124: no power-off within ${DKM_BOOT_TIMEOUT:-120} s)"
	fi
	SERIAL=$(tr -d '\r' <"$LOG")
	RESULT=$(boot_result "$LOG") || fail_with_log "no DKM-BOOT-RESULT line"
	echo "result: $RESULT"
}

# fail_with_log <message> — fail the test, pointing at the serial log and showing its end.
fail_with_log() {
	{
		echo "boot: error: $1"
		echo "serial log: $LOG"
		echo "--- last 40 lines of the serial log ---"
		tr -d '\r' <"$LOG" 2>/dev/null | tail -n 40
		[[ -s $LOG.qemu ]] && { echo "--- qemu ---"; cat "$LOG.qemu"; }
	} >&2
	return 1
}

# expect <key> <value> — a field of RESULT has that value.
expect() {
	local got
	got=$(boot_field "$RESULT" "$1") || fail_with_log "result has no field '$1': $RESULT"
	[[ $got == "$2" ]] || fail_with_log "result $1='$got', expected '$2': $RESULT"
}

# log_has / log_lacks <fixed string> — the serial log does / does not contain it.
log_has() {
	grep -qF -- "$1" <<<"$SERIAL" || fail_with_log "serial log lacks '$1'"
}
log_lacks() {
	! grep -qF -- "$1" <<<"$SERIAL" || fail_with_log "serial log has '$1', it must not"
}

# The installed file, as the tests expect dkm-hook to leave it: .ko.xz with the kernel's
# parameters (CRC32 check, 1 MiB dictionary), signed with the kernel's hash, right vermagic.
check_installed() { # <file> <signed|unsigned>
	local f=$1 info hash
	[[ $f == *.ko.xz ]] || { echo "installed '$f' is not a .ko.xz" >&2; return 1; }
	xz -t "$f"
	info=$(xz --robot --list -vv "$f")
	grep -q $'^block\t.*\tCRC32\t' <<<"$info" || { echo "'$f' has no CRC32 check: $info" >&2; return 1; }
	grep -qE -- '--lzma2=dict=(1MiB|[0-9]+KiB)$' <<<"$info" ||
		{ echo "'$f' dictionary is not <= 1 MiB: $info" >&2; return 1; }
	[[ $(modinfo -F vermagic "$f") == "$BOOT_KVER "* ]] || { echo "'$f' vermagic is not $BOOT_KVER" >&2; return 1; }
	[[ $(modinfo -F parm "$f") == greeting:* ]] || { echo "'$f' has no greeting parameter" >&2; return 1; }
	if [[ $2 == signed ]]; then
		hash=$(sed -n 's/^CONFIG_MODULE_SIG_HASH="\(.*\)"$/\1/p' "/lib/modules/$BOOT_KVER/build/.config")
		[[ $(modinfo -F sig_id "$f") == "PKCS#7" ]] || { echo "'$f' is not PKCS#7-signed" >&2; return 1; }
		[[ $(modinfo -F sig_hashalgo "$f") == "$hash" ]] || { echo "'$f' is not signed with $hash" >&2; return 1; }
		[[ $(modinfo -F signer "$f") ]] || { echo "'$f' has no signer" >&2; return 1; }
	else
		[[ -z $(modinfo -F sig_id "$f") ]] || { echo "'$f' is signed, expected unsigned" >&2; return 1; }
	fi
}

@test "fetch-kernel unpacked the kernel image package of exactly the installed headers" {
	[[ -f $BOOT_KDIR/boot/vmlinuz-$BOOT_KVER ]]
	local hv
	hv=$(dpkg-query -W -f '${Version}' "linux-headers-$BOOT_KVER")
	[[ $BOOT_KDIR == */linux-image-${BOOT_KVER}_$hv || $BOOT_KDIR == */linux-image-$BOOT_KVER-unsigned_$hv ]]
	# The image is the build the headers describe: same release, same UTS_VERSION
	# ("#1 SMP PREEMPT_DYNAMIC Debian <version> (<date>)").
	local v uts
	v=$(boot_vmlinuz_version "$BOOT_KDIR/boot/vmlinuz-$BOOT_KVER")
	uts=$(sed -n 's/^#define UTS_VERSION "\(.*\)"$/\1/p' "/lib/modules/$BOOT_KVER/build/include/generated/utsversion.h")
	echo "vmlinuz: $v"
	echo "headers: $BOOT_KVER ... $uts"
	[[ $uts && $v == "$BOOT_KVER "* && $v == *" $uts" ]]
}

@test "installed module tree: signed .ko.xz (CRC32, 1 MiB dictionary) that depmod knows" {
	variant signed
	check_installed "$V_FILE" signed
}

@test "installed module tree: the unsigned build is an unsigned .ko.xz" {
	variant unsigned
	check_installed "$V_FILE" unsigned
}

@test "dracut put the very installed .ko.xz into the image, and nothing else by that name" {
	variant signed
	[[ $V_IMGFILE == */lib/modules/$BOOT_KVER/*.ko.xz ]]
	[[ $(boot_image_file_sha256 "$V_IMG" "$V_IMGFILE") == $(sha256sum <"$V_FILE" | cut -d' ' -f1) ]]
}

@test "dracut: dracut-module/50dkm-hook put the module in, without --force-drivers" {
	variant signed
	grep -q 'Including module: dkm-hook' "$BOOT_WORK/signed/dracut.log"
	if grep -q -- '--force-drivers' "$BOOT_WORK/signed/dracut.log"; then false; fi
	grep -q 'dkm-hook: 1 module(s) for '"$BOOT_KVER"' added' "$BOOT_WORK/signed/dracut.log"
}

@test "dracut: the stand-in module (the corrupt variant's path) can put the module in" {
	variant signed
	local out=$BOOT_WORK/extra-module
	mkdir -p "$out"
	run boot_make_image "$V_ROOT" "$BOOT_KVER" "$out/initrd.img" "$out/dracut.log" \
		"$BOOT_DIR/fixtures/90dkm-boot-fixture"
	[[ $status -eq 0 ]] || { echo "$output"; false; }
	grep -q 'Including module: dkm-boot-fixture' "$out/dracut.log"
	# Without --force-drivers nothing but the fixture module names it.
	if grep -q -- '--force-drivers' "$out/dracut.log"; then
		echo "dracut was given --force-drivers: '$out/dracut.log'"
		false
	fi
	boot_check_image "$out/initrd.img" "$BOOT_KVER"
}

@test "boot: the signed .ko.xz loads from the initramfs with its parameter from the command line" {
	boot loads signed "$BOOT_MODULE.$BOOT_PARAM=$BOOT_GREETING"
	expect loaded yes
	expect param "$BOOT_GREETING"
	expect signed yes
	# The file modprobe resolved inside the image is the one dracut copied from the root.
	expect file "${V_IMGFILE#/usr}"
	expect signer "$(modinfo -F signer "$V_FILE" | tr ' ' _)"
	# What the kernel runs was built from what the file holds.
	local sv
	sv=$(boot_field "$RESULT" srcversion)
	[[ $sv != - ]] || fail_with_log "no srcversion in sysfs"
	expect file_srcversion "$sv"
	log_has "dkm_boot_test: loaded param=$BOOT_GREETING"
	# The stock kernel does not enforce signatures: an unknown key only taints.
	log_has "dkm_boot_test: module verification failed"
}

@test "boot, module.sig_enforce=1: the self-signed module is refused for its unavailable key" {
	boot enforce-signed signed module.sig_enforce=1 "$BOOT_MODULE.$BOOT_PARAM=$BOOT_GREETING"
	expect loaded no
	expect signed yes
	log_has "Loading of module with unavailable key is rejected"
	log_lacks "Loading of unsigned module is rejected"
	log_lacks "dkm_boot_test: loaded"
}

@test "boot, module.sig_enforce=1: the unsigned module is refused as unsigned" {
	boot enforce-unsigned unsigned module.sig_enforce=1 "$BOOT_MODULE.$BOOT_PARAM=$BOOT_GREETING"
	expect loaded no
	expect signed no
	log_has "Loading of unsigned module is rejected"
	log_lacks "Loading of module with unavailable key is rejected"
	log_lacks "dkm_boot_test: loaded"
}

@test "boot: a module with corrupted signature bytes is refused even without sig_enforce" {
	variant corrupt
	# Still carries the signature marker: the kernel sees a signature and must parse it.
	[[ $(xz -dc "$V_FILE" | tail -c 28) == "~Module signature appended~" ]]
	boot corrupt corrupt "$BOOT_MODULE.$BOOT_PARAM=$BOOT_GREETING"
	expect loaded no
	# EBADMSG from the PKCS#7 parser: fatal whether or not signatures are enforced.
	log_has "could not insert 'dkm_boot_test': Bad message"
	log_lacks "Loading of unsigned module is rejected"
	log_lacks "Loading of module with unavailable key is rejected"
	log_lacks "module verification failed"
	log_lacks "dkm_boot_test: loaded"
}
