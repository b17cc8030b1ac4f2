#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# Module compression as the kernel's `make modules_install` does it, checked with the real tools:
# xz (CRC32, 1 MiB dictionary), zstd, gzip -n; readable by modinfo (.xz, .zst) and the CLIs.

load lib/common
load lib/kmod-build

SIGN=$(dirname "${DKM_HOOK_BIN:-$TOP/build/dkm-hook}")/tests/sign-module

setup() {
	require_headers
	make_root
	W=$BATS_TEST_TMPDIR/w
	mkdir -p "$W"
	KEY=$ROOT/var/lib/dkm-hook/mok.key
	CERT=$ROOT/var/lib/dkm-hook/mok.der
	KO=$(kmod_build "$W")
	"$SIGN" --key "$KEY" --cert "$CERT" "$KO" "$W/signed.ko"
}

@test "xz: CRC32 check and a 1 MiB dictionary (xz --robot -lvv), accepted by xz -t" {
	"$SIGN" --compress xz "$W/signed.ko" "$W/m.ko.xz"
	xz -t "$W/m.ko.xz"
	run xz --robot -lvv "$W/m.ko.xz"
	[ "$status" -eq 0 ]
	# file line: column 7 is the check
	[ "$(awk -F'\t' '$1 == "file" { print $7 }' <<< "$output")" = CRC32 ]
	# block lines: the filter chain names the dictionary
	[ "$(awk -F'\t' '$1 == "block" { print $NF }' <<< "$output")" = "--lzma2=dict=1MiB" ]
	# summary: memory needed to decompress, must fit a 1 MiB dictionary (+ ~10% overhead)
	mem=$(awk -F'\t' '$1 == "summary" { print $2 }' <<< "$output")
	[ "$mem" -le $((1024 * 1024 * 11 / 10)) ]
	xz -dc "$W/m.ko.xz" | cmp - "$W/signed.ko"
}

@test "xz and zstd output is byte-identical to kbuild's commands; gzip has gzip -n's header" {
	"$SIGN" --compress xz "$W/signed.ko" "$W/m.ko.xz"
	xz --check=crc32 --lzma2=dict=1MiB -c "$W/signed.ko" | cmp - "$W/m.ko.xz"

	"$SIGN" --compress zstd "$W/signed.ko" "$W/m.ko.zst"
	zstd -T0 -q -c "$W/signed.ko" | cmp - "$W/m.ko.zst"

	# zlib's deflate stream is not GNU gzip's; the container is the same
	"$SIGN" --compress gzip "$W/signed.ko" "$W/m.ko.gz"
	[ "$(head -c 10 "$W/m.ko.gz" | od -An -tx1 | tr -d ' \n')" = "$(gzip -n -c "$W/signed.ko" | head -c 10 | od -An -tx1 | tr -d ' \n')" ]
}

@test "zstd: zstd -t accepts it; frame has a checksum and the content size" {
	"$SIGN" --compress zstd "$W/signed.ko" "$W/m.ko.zst"
	zstd -q -t "$W/m.ko.zst"
	run zstd -lv "$W/m.ko.zst"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Check: XXH64"* ]]
	[[ "$output" == *"Decompressed Size: "*"($(stat -c %s "$W/signed.ko") B)"* ]]
	zstd -q -dc "$W/m.ko.zst" | cmp - "$W/signed.ko"
}

@test "gzip: gzip -t accepts it; no name, mtime 0; zlib and gzip round trips" {
	"$SIGN" --compress gzip "$W/signed.ko" "$W/m.ko.gz"
	gzip -t "$W/m.ko.gz"
	# FLG (byte 3) = 0: no file name stored; MTIME (bytes 4-7) = 0
	[ "$(od -An -tx1 -j3 -N5 "$W/m.ko.gz" | tr -d ' \n')" = 0000000000 ]
	gzip -dc "$W/m.ko.gz" | cmp - "$W/signed.ko"
	"$SIGN" --decompress "$W/m.ko.gz" "$W/back.ko"
	cmp "$W/back.ko" "$W/signed.ko"
	# and what GNU gzip made, zlib reads
	gzip -n -c "$W/signed.ko" > "$W/gnu.ko.gz"
	"$SIGN" --decompress "$W/gnu.ko.gz" "$W/back2.ko"
	cmp "$W/back2.ko" "$W/signed.ko"
}

@test "what the tools compressed, we decompress (xz, zstd, concatenated streams)" {
	xz --check=crc64 -c "$W/signed.ko" > "$W/crc64.ko.xz"
	"$SIGN" --decompress "$W/crc64.ko.xz" "$W/a.ko"
	cmp "$W/a.ko" "$W/signed.ko"
	zstd -19 -q -c "$W/signed.ko" > "$W/l19.ko.zst"
	"$SIGN" --decompress "$W/l19.ko.zst" "$W/b.ko"
	cmp "$W/b.ko" "$W/signed.ko"
	head -c 1000 "$W/signed.ko" > "$W/part1"
	tail -c +1001 "$W/signed.ko" > "$W/part2"
	{ xz -c "$W/part1"; xz -c "$W/part2"; } > "$W/cat.xz"
	"$SIGN" --decompress "$W/cat.xz" "$W/c.ko"
	cmp "$W/c.ko" "$W/signed.ko"
}

@test "modinfo reads our .ko.xz and .ko.zst (this kmod has no zlib: .ko.gz is not checked)" {
	"$SIGN" --compress xz "$W/signed.ko" "$W/m.ko.xz"
	"$SIGN" --compress zstd "$W/signed.ko" "$W/m.ko.zst"
	for f in "$W/m.ko.xz" "$W/m.ko.zst"; do
		run modinfo -F vermagic "$f"
		[ "$status" -eq 0 ]
		[[ "$output" == "$KVER "* ]]
		run modinfo -F parm "$f"
		[[ "$output" == "answer:"* ]]
	done
}

@test "truncated compressed modules are reported as such, and nothing is written" {
	for c in gzip xz zstd; do
		"$SIGN" --compress "$c" "$W/signed.ko" "$W/m.$c"
		size=$(stat -c %s "$W/m.$c")
		head -c $((size / 2)) "$W/m.$c" > "$W/cut.$c"
		run "$SIGN" --decompress "$W/cut.$c" "$W/out"
		[ "$status" -eq 1 ]
		[ "$output" = "dkm-hook: error: $c data is corrupt: unexpected end of data" ]
		[ ! -e "$W/out" ]
	done
}
