#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# Signing and compression through the real pipeline (build -> strip -> sign -> compress ->
# install), chosen per kernel from its headers' config, as the target kernel and kmod expect.

load lib/common

setup() {
	require_headers
	make_root
	"$DKM" add "$(fixture module-test)" >/dev/null
}

# A private copy of the headers whose .config we may change: a symlink farm with a real .config.
headers_with_config() { # headers_with_config <sed expression>
	local copy=$BATS_TEST_TMPDIR/headers
	cp -as "$(readlink -f "/lib/modules/$KVER/build")" "$copy"
	rm "$copy/.config"
	sed -e "$1" "$(readlink -f "/lib/modules/$KVER/build")/.config" > "$copy/.config"
	ln -sfn "$copy" "$ROOT/lib/modules/$KVER/build"
}

conf() { mkdir -p "$ROOT/etc/dkm-hook"; printf '%s\n' "$@" > "$ROOT/etc/dkm-hook/dkm-hook.conf"; }

installed() { find "$ROOT/lib/modules/$KVER" -name 'dkms_test.ko*' -printf '%P\n'; }

@test "Debian's config (sha256, no compression): signed .ko; modinfo shows our certificate" {
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[ "$(installed)" = "updates/dkms/dkms_test.ko" ]
	want_key=$(openssl x509 -inform DER -in "$ROOT/var/lib/dkm-hook/mok.der" -noout -serial | cut -d= -f2 | sed 's/../&:/g; s/:$//')
	[ "$(modinfo_field dkms_test sig_key)" = "$want_key" ]
	[ "$(modinfo_field dkms_test signer)" = "dkm-hook test key" ]
	[ "$(modinfo_field dkms_test sig_hashalgo)" = "sha256" ]
	run "$DKM" verify "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko"
	[ "$status" -eq 0 ]
	[[ "$output" == *"signature:     valid"* ]]
	run "$DKM" status module-test
	[[ "$output" == *"signed)"* ]]
}

@test "compress=xz: one .ko.xz (CRC32, 1 MiB dictionary), signed inside, no uncompressed twin" {
	"$DKM" install module-test/0.1 -k "$KVER"
	conf compress=xz
	run "$DKM" install module-test/0.1 -k "$KVER" --force
	[ "$status" -eq 0 ]
	[ "$(installed)" = "updates/dkms/dkms_test.ko.xz" ]
	f=$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko.xz
	xz --robot -lvv "$f" | grep -q '^stream.*CRC32'
	xz --robot -lvv "$f" | grep -q 'dict=1MiB'
	[ "$(modinfo_field dkms_test sig_hashalgo)" = "sha256" ]
	[ "$(modinfo_field dkms_test filename)" = "$f" ]
	# decompress, split the signature off, and let openssl check it
	xz -dc "$f" > "$BATS_TEST_TMPDIR/m.ko"
	python3 - "$BATS_TEST_TMPDIR/m.ko" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
magic = b"~Module signature appended~\n"
assert d.endswith(magic)
siglen = struct.unpack(">I", d[-len(magic)-4:-len(magic)])[0]
end = len(d) - len(magic) - 12
open(sys.argv[1] + ".sig", "wb").write(d[end - siglen:end])
open(sys.argv[1] + ".elf", "wb").write(d[:end - siglen])
PY
	openssl cms -verify -binary -inform DER -in "$BATS_TEST_TMPDIR/m.ko.sig" \
		-content "$BATS_TEST_TMPDIR/m.ko.elf" -certfile <(openssl x509 -inform DER -in "$ROOT/var/lib/dkm-hook/mok.der") \
		-nointern -noverify -purpose any > /dev/null
	run "$DKM" status module-test
	[[ "$output" == *"; xz; signed)"* ]]
}

@test "compress=zstd and compress=gzip: accepted by zstd -t / gzip -t, verify says valid" {
	conf compress=zstd
	"$DKM" install module-test/0.1 -k "$KVER"
	f=$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko.zst
	[ "$(installed)" = "updates/dkms/dkms_test.ko.zst" ]
	zstd -q -t "$f"
	[ "$(modinfo_field dkms_test sig_hashalgo)" = "sha256" ]
	conf compress=gzip
	run "$DKM" install module-test/0.1 -k "$KVER" --force
	f=$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko.gz
	if ! kmod --version | grep -q '+ZLIB'; then
		# Debian 12's kmod has no zlib: depmod skips .ko.gz silently; we do not
		[ "$status" -ne 0 ]
		[[ "$output" == *"depmod did not index '$f'"*"this kmod cannot read .ko.gz"*"set compress=xz or compress=zstd"* ]]
	else
		[ "$status" -eq 0 ]
	fi
	[ "$(installed)" = "updates/dkms/dkms_test.ko.gz" ]
	gzip -t "$f"
	run "$DKM" verify "$f"
	[ "$status" -eq 0 ]
	[[ "$output" == *"signature:     valid"* ]]
}

@test "the kernel's CONFIG_MODULE_COMPRESS_ZSTD decides when compress=auto" {
	headers_with_config 's/^CONFIG_MODULE_COMPRESS_NONE=y/# CONFIG_MODULE_COMPRESS_NONE is not set/; $a CONFIG_MODULE_COMPRESS_ZSTD=y'
	"$DKM" install module-test/0.1 -k "$KVER"
	[ "$(installed)" = "updates/dkms/dkms_test.ko.zst" ]
}

@test "no compression option in the config: the suffix its modules.dep already uses decides" {
	headers_with_config '/^CONFIG_MODULE_COMPRESS/d'
	mkdir -p "$ROOT/lib/modules/$KVER/kernel/drivers"
	for m in a b c; do
		printf 'x' | xz --check=crc32 > "$ROOT/lib/modules/$KVER/kernel/drivers/shipped_$m.ko.xz"
		echo "kernel/drivers/shipped_$m.ko.xz:" >> "$ROOT/lib/modules/$KVER/modules.dep"
	done
	"$DKM" install module-test/0.1 -k "$KVER" --no-depmod
	[ "$(installed)" = "updates/dkms/dkms_test.ko.xz" ]
}

@test "CONFIG_MODULE_SIG_HASH=sha512 in the target kernel: sha512 signature" {
	headers_with_config 's/^CONFIG_MODULE_SIG_HASH=.*/CONFIG_MODULE_SIG_HASH="sha512"/'
	"$DKM" install module-test/0.1 -k "$KVER"
	[ "$(modinfo_field dkms_test sig_hashalgo)" = "sha512" ]
	run "$DKM" verify "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko"
	[[ "$output" == *"sig_hashalgo:  sha512"* ]]
	[[ "$output" == *"signature:     valid"* ]]
}

@test "a kernel without CONFIG_MODULE_SIG gets unsigned modules and status says so" {
	headers_with_config 's/^CONFIG_MODULE_SIG=y/# CONFIG_MODULE_SIG is not set/'
	"$DKM" install module-test/0.1 -k "$KVER"
	[ -z "$(modinfo_field dkms_test signer)" ]
	run "$DKM" verify "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko"
	[ "$status" -eq 3 ]
	run "$DKM" status module-test
	[[ "$output" == *"; unsigned)"* ]]
}

@test "sign=no in dkm-hook.conf overrides the kernel; sign=yes needs no key on disk: it is generated once" {
	conf sign=no
	"$DKM" install module-test/0.1 -k "$KVER"
	[ -z "$(modinfo_field dkms_test signer)" ]
	rm -f "$ROOT/var/lib/dkm-hook/mok.key" "$ROOT/var/lib/dkm-hook/mok.der"
	conf sign=yes
	run "$DKM" install module-test/0.1 -k "$KVER" --force
	[ "$status" -eq 0 ]
	[[ "$output" == *"mokutil --import"* ]]
	[ "$(stat -c %a "$ROOT/var/lib/dkm-hook/mok.key")" = "600" ]
	[ -n "$(modinfo_field dkms_test signer)" ]
}

@test "a key without its certificate is an error that says what to do; nothing is installed" {
	rm "$ROOT/var/lib/dkm-hook/mok.der"
	run "$DKM" install module-test/0.1 -k "$KVER"
	[ "$status" -ne 0 ]
	[[ "$output" == *"mok.der"* ]]
	[ -z "$(installed)" ]
	[ -f "$ROOT/var/lib/dkm-hook/mok.key" ]
}

@test "STRIP: debug info is stripped by default and kept with STRIP[0]=no" {
	"$DKM" install module-test/0.1 -k "$KVER"
	f=$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko
	if readelf -S "$f" | grep -q '\.debug_info'; then false; fi
	"$DKM" remove module-test/0.1 --all
	src=$(fixture module-test)
	echo 'STRIP[0]="no"' >> "$src/dkms.conf"
	printf 'ccflags-y += -g\n' >> "$src/Makefile"
	"$DKM" add "$src"
	"$DKM" install module-test/0.1 -k "$KVER"
	readelf -S "$f" | grep -q '\.debug_info'
}
