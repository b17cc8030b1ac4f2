#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# Replays every input kept under tests/fuzz/regressions/<target>/ through the code the libFuzzer
# harness runs for that target (tests/fuzz/targets.h, via build/tests/fuzz-replay: no clang
# needed). A finding, once fixed, stays fixed; the hand-made edge cases stay handled. Under
# `make SANITIZE=address,undefined` a memory error fails the test too. The fuzzing itself is
# tests/fuzz/run (not part of make check).

TOP="$(cd "${BATS_TEST_DIRNAME}/.." && pwd)"
REPLAY="$(dirname "${DKM_HOOK_BIN:-${TOP}/build/dkm-hook}")/tests/fuzz-replay"
REGRESSIONS="${TOP}/tests/fuzz/regressions"

setup() {
	[ -x "$REPLAY" ] || { echo "$REPLAY is not built: run make" >&2; return 1; }
}

# replay <target>: every file of the target goes through, each one reported "ok"
replay() {
	local files=("$REGRESSIONS/$1"/*) n
	[ -e "${files[0]}" ] || { echo "no inputs in $REGRESSIONS/$1" >&2; return 1; }
	run "$REPLAY" "$1" "${files[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	n=$(grep -c '^ok ' <<<"$output")
	[ "$n" -eq "${#files[@]}" ]
}

@test "dkms.conf reader (shvars parser + validation): every regression input" {
	replay conf
}

@test "ELF module parser: every regression input" {
	replay elf
}

@test "signature trailer and PKCS#7 parser: every regression input" {
	replay modsig
}

@test "decompressors: every regression input" {
	replay decompress
}

@test "every regression directory belongs to a target the harness knows" {
	run "$REPLAY"
	[ "$status" -eq 2 ]
	for d in "$REGRESSIONS"/*/; do
		d=${d%/}
		[[ "$output" == *" ${d##*/}"* ]] || { echo "unknown target ${d##*/}"; return 1; }
	done
}

@test "the replay tool fails on an unreadable input and on an unknown target" {
	run "$REPLAY" elf "$BATS_TEST_TMPDIR/does-not-exist"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot read '$BATS_TEST_TMPDIR/does-not-exist'"* ]]
	run "$REPLAY" no-such-target /dev/null
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown target 'no-such-target'"* ]]
}
