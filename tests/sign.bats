#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# Module signatures: byte-identical to the kernel's sign-file, readable by modinfo and by
# `openssl cms`, checked by `dkm-hook verify`; signing keys: generation, refusal to replace,
# half-present pairs, unreadable keys and passphrases. Real modules built against the installed
# headers (tests/lib/kmod-build.bash); keys made at test time.

bats_require_minimum_version 1.5.0

load lib/common
load lib/kmod-build

SIGN=$(dirname "${DKM_HOOK_BIN:-$TOP/build/dkm-hook}")/tests/sign-module

setup() {
	require_headers
	make_root # also installs the file-wide test key at $ROOT/var/lib/dkm-hook/mok.{key,der}
	W=$BATS_TEST_TMPDIR/w
	mkdir -p "$W"
	KEY=$ROOT/var/lib/dkm-hook/mok.key
	CERT=$ROOT/var/lib/dkm-hook/mok.der
	KO=$(kmod_build "$W")
}

# a second, unrelated key pair in $W/other.{key,der}
other_key() {
	openssl req -new -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=someone else/" \
		-outform DER -keyout "$W/other.key" -out "$W/other.der" 2>/dev/null
}

@test "signature is byte-identical to the kernel's sign-file (sha256 and sha512)" {
	sf=$(kernel_sign_file)
	for hash in sha256 sha512; do
		cp "$KO" "$W/ref-$hash.ko"
		"$sf" "$hash" "$KEY" "$CERT" "$W/ref-$hash.ko"
		run "$SIGN" --key "$KEY" --cert "$CERT" --hash "$hash" "$KO" "$W/ours-$hash.ko"
		[ "$status" -eq 0 ]
		cmp "$W/ref-$hash.ko" "$W/ours-$hash.ko"
	done
	# and the two hashes really gave different signatures
	run cmp -s "$W/ours-sha256.ko" "$W/ours-sha512.ko"
	[ "$status" -eq 1 ]
}

@test "signing a signed module replaces its signature (sign-file would stack a second one)" {
	"$SIGN" --key "$KEY" --cert "$CERT" "$KO" "$W/once.ko"
	"$SIGN" --key "$KEY" --cert "$CERT" "$W/once.ko" "$W/twice.ko"
	cmp "$W/once.ko" "$W/twice.ko"
	cp "$W/once.ko" "$W/stacked.ko"
	"$(kernel_sign_file)" sha256 "$KEY" "$CERT" "$W/stacked.ko"
	[ "$(stat -c %s "$W/stacked.ko")" -gt "$(stat -c %s "$W/once.ko")" ]
	# a doubly signed module is re-signed from its original ELF
	"$SIGN" --key "$KEY" --cert "$CERT" "$W/stacked.ko" "$W/resigned.ko"
	cmp "$W/once.ko" "$W/resigned.ko"
}

@test "modinfo shows signer, sig_key and sig_hashalgo of .ko, .ko.xz and .ko.zst" {
	signer=$(cert_signer "$CERT")
	sig_key=$(cert_sig_key "$CERT")
	[ -n "$signer" ] && [ -n "$sig_key" ]
	for c in none xz zstd; do
		suffix=$(case $c in none) ;; xz) echo .xz ;; zstd) echo .zst ;; esac)
		for hash in sha256 sha512; do
			out=$W/m-$hash.ko$suffix
			"$SIGN" --key "$KEY" --cert "$CERT" --hash "$hash" --compress "$c" "$KO" "$out"
			run modinfo -F signer "$out"
			[ "$output" = "$signer" ]
			run modinfo -F sig_key "$out"
			[ "$output" = "$sig_key" ]
			run modinfo -F sig_hashalgo "$out"
			[ "$output" = "$hash" ]
			run modinfo -F name "$out"
			[ "$output" = dkm_sigtest ]
		done
	done
}

@test "openssl cms verifies the extracted signature of every compression, and not of changed contents" {
	openssl x509 -inform DER -in "$CERT" -out "$W/cert.pem"
	for c in none gzip xz zstd; do
		"$SIGN" --key "$KEY" --cert "$CERT" --compress "$c" "$KO" "$W/m.$c"
		"$SIGN" --split "$W/m.$c" "$W/elf.$c" "$W/sig.$c"
		cmp "$KO" "$W/elf.$c"
		run openssl cms -verify -binary -inform DER -in "$W/sig.$c" -content "$W/elf.$c" \
			-certfile "$W/cert.pem" -nointern -noverify -out /dev/null
		[ "$status" -eq 0 ]
		[[ "$output" == *"Verification successful"* ]]
		# the DER is what the design says: no certificates, no signed attributes
		run openssl cms -cmsout -print -inform DER -in "$W/sig.$c"
		[[ "$output" == *"certificates:"*"<ABSENT>"* ]]
		[[ "$output" == *"signedAttrs:"*"<ABSENT>"* ]]
	done
	printf 'X' | dd of="$W/elf.xz" bs=1 seek=4000 conv=notrunc 2>/dev/null
	run openssl cms -verify -binary -inform DER -in "$W/sig.xz" -content "$W/elf.xz" \
		-certfile "$W/cert.pem" -nointern -noverify -out /dev/null
	[ "$status" -ne 0 ]
}

@test "verify: valid, changed after signing, unsigned, other key, JSON" {
	"$SIGN" --key "$KEY" --cert "$CERT" --compress xz "$KO" "$W/m.ko.xz"

	run "$DKM" verify "$W/m.ko.xz"
	[ "$status" -eq 0 ]
	[[ "$output" == *"signature:     valid"* ]]
	[[ "$output" == *"sig_key:       $(cert_sig_key "$CERT")"* ]]
	[[ "$output" == *"compression:   xz"* ]]

	# changed after signing: one byte inside the ELF
	"$SIGN" --key "$KEY" --cert "$CERT" "$KO" "$W/m.ko"
	printf 'X' | dd of="$W/m.ko" bs=1 seek=3000 conv=notrunc 2>/dev/null
	run "$DKM" verify "$W/m.ko"
	[ "$status" -eq 1 ]
	[[ "$output" == *"dkm-hook: error: '$W/m.ko': invalid signature: the signature does not match the module's contents"* ]]

	run "$DKM" verify "$KO"
	[ "$status" -eq 3 ]
	[[ "$output" == *"dkm-hook: error: '$KO' is not signed"* ]]
	[[ "$output" == *"signature:     unsigned"* ]]

	other_key
	run "$DKM" verify --cert "$W/other.der" "$W/m.ko.xz"
	[ "$status" -eq 4 ]
	[[ "$output" == *"not by the key of '$W/other.der'"* ]]

	run --separate-stderr "$DKM" verify --json "$W/m.ko.xz"
	[ "$status" -eq 0 ]
	[ "$(jq -r .verdict <<< "$output")" = valid ]
	[ "$(jq -r .name <<< "$output")" = dkm_sigtest ]
	[ "$(jq -r .sig_hashalgo <<< "$output")" = sha256 ]
	[ "$(jq -r .signer <<< "$output")" = "$(cert_signer "$CERT")" ]
	[ "$(jq -r .signed <<< "$output")" = true ]
}

@test "verify: .ko.gz checked by our verify and round-tripped through zlib and gzip" {
	"$SIGN" --key "$KEY" --cert "$CERT" "$KO" "$W/m.ko"
	"$SIGN" --compress gzip "$W/m.ko" "$W/m.ko.gz"
	gzip -t "$W/m.ko.gz"
	gzip -dc "$W/m.ko.gz" | cmp - "$W/m.ko"
	"$SIGN" --decompress "$W/m.ko.gz" "$W/back.ko"
	cmp "$W/back.ko" "$W/m.ko"
	run "$DKM" verify "$W/m.ko.gz"
	[ "$status" -eq 0 ]
	[[ "$output" == *"compression:   gzip"* ]]
	[[ "$output" == *"signature:     valid"* ]]
}

@test "verify: errors that prevent checking exit 2" {
	run "$DKM" verify "$W/none.ko"
	[ "$status" -eq 2 ]
	[[ "$output" == *"dkm-hook: error: cannot read module '$W/none.ko': No such file or directory"* ]]

	head -c 5000 "$KO" > "$W/cut.ko"
	run "$DKM" verify "$W/cut.ko"
	[ "$status" -eq 2 ]
	[[ "$output" == *"dkm-hook: error: '$W/cut.ko' is not a kernel module: section header table outside the file"* ]]

	"$SIGN" --compress xz "$KO" "$W/m.ko.xz"
	head -c 2000 "$W/m.ko.xz" > "$W/cut.ko.xz"
	run "$DKM" verify "$W/cut.ko.xz"
	[ "$status" -eq 2 ]
	[[ "$output" == *"dkm-hook: error: xz data is corrupt: unexpected end of data"* ]]

	rm "$CERT"
	run "$DKM" verify "$W/m.ko.xz"
	[ "$status" -eq 2 ]
	[[ "$output" == *"dkm-hook: error: no certificate to check against: '$CERT' does not exist; pass --cert FILE, or run 'dkm-hook keygen'"* ]]
}

@test "keygen: RSA-4096, codeSigning + module-signing-only, key 0600, DER cert, enrolment hint" {
	rm -f "$KEY" "$CERT"
	run "$DKM" keygen
	[ "$status" -eq 0 ]
	[[ "$output" == *"generated signing key '$KEY' and certificate '$CERT'"* ]]
	[[ "$output" == *"mokutil --import '$CERT'"* ]]
	[ "$(stat -c %a "$KEY")" = 600 ]
	[ "$(stat -c %a "$CERT")" = 644 ]
	run openssl x509 -inform DER -in "$CERT" -noout -text
	[ "$status" -eq 0 ]
	[[ "$output" == *"Public-Key: (4096 bit)"* ]]
	[[ "$output" == *"Code Signing, 1.3.6.1.4.1.2312.16.1.2"* ]]
	[[ "$output" == *"CA:FALSE"* ]]
	[[ "$output" == *"Subject: CN = dkm-hook module signing key ($(hostname | cut -c1-31))"* ]]
	openssl pkey -in "$KEY" -noout

	# and it signs modules that modinfo attributes to it
	"$SIGN" --key "$KEY" --cert "$CERT" --compress zstd "$KO" "$W/m.ko.zst"
	run modinfo -F signer "$W/m.ko.zst"
	[ "$output" = "dkm-hook module signing key ($(hostname | cut -c1-31))" ]
	run "$DKM" verify "$W/m.ko.zst"
	[ "$status" -eq 0 ]
}

@test "keygen: refuses to replace an existing pair; --force replaces it and says so" {
	before=$(cat "$KEY" "$CERT" | sha256sum)
	run "$DKM" keygen
	[ "$status" -eq 1 ]
	[ "$output" = "dkm-hook: error: signing key '$KEY' and certificate '$CERT' already exist; run 'dkm-hook keygen --force' to replace them" ]
	[ "$(cat "$KEY" "$CERT" | sha256sum)" = "$before" ]

	run "$DKM" keygen --force
	[ "$status" -eq 0 ]
	[[ "$output" == *"dkm-hook: warning: replaced signing key '$KEY' and certificate '$CERT'; modules signed before keep the old signer until rebuilt"* ]]
	[ "$(cat "$KEY" "$CERT" | sha256sum)" != "$before" ]
	[ "$(stat -c %a "$KEY")" = 600 ]
}

@test "keygen: a key without its certificate, and a certificate without its key" {
	mv "$CERT" "$W/saved.der"
	run "$DKM" keygen
	[ "$status" -eq 1 ]
	[ "$output" = "dkm-hook: error: signing key '$KEY' exists but its certificate '$CERT' is missing; restore the certificate, or run 'dkm-hook keygen --force' to replace both" ]
	[ ! -e "$CERT" ]

	mv "$W/saved.der" "$CERT"
	mv "$KEY" "$W/saved.key"
	run "$DKM" keygen
	[ "$status" -eq 1 ]
	[ "$output" = "dkm-hook: error: certificate '$CERT' exists but its signing key '$KEY' is missing; restore the key, or run 'dkm-hook keygen --force' to replace both" ]
	[ ! -e "$KEY" ]
}

@test "signing key that cannot be read: missing, a directory, not a key, no permission" {
	run "$SIGN" --key "$W/nokey.pem" --cert "$CERT" "$KO" "$W/out.ko"
	[ "$status" -eq 1 ]
	[ "$output" = "dkm-hook: error: cannot read signing key '$W/nokey.pem': No such file or directory" ]

	mkdir "$W/dir.pem"
	run "$SIGN" --key "$W/dir.pem" --cert "$CERT" "$KO" "$W/out.ko"
	[ "$output" = "dkm-hook: error: cannot read signing key '$W/dir.pem': Is a directory" ]

	run "$SIGN" --key "$CERT" --cert "$CERT" "$KO" "$W/out.ko"
	[ "$status" -eq 1 ]
	[[ "$output" == "dkm-hook: error: cannot load signing key '$CERT': not a PEM private key ("* ]]
	[ ! -e "$W/out.ko" ]

	# root reads anything: drop to nobody to meet a key it may not read
	command -v setpriv > /dev/null || skip "setpriv (util-linux) not installed"
	pub=$(mktemp -d /tmp/dkm-sign-perm.XXXXXX)
	chmod 0755 "$pub"
	install -m 0600 "$KEY" "$pub/mok.key"
	install -m 0644 "$CERT" "$pub/mok.der"
	install -m 0644 "$KO" "$pub/m.ko"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$SIGN" --key "$pub/mok.key" --cert "$pub/mok.der" "$pub/m.ko" "$pub/out.ko"
	rm -rf "$pub"
	[ "$status" -eq 1 ]
	[ "$output" = "dkm-hook: error: cannot read signing key '$pub/mok.key': Permission denied" ]
}

@test "encrypted key: passphrase only from KBUILD_SIGN_PIN; missing and wrong passphrases" {
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -aes256 \
		-pass pass:correct-horse -out "$W/enc.key" 2>/dev/null
	openssl req -new -x509 -key "$W/enc.key" -passin pass:correct-horse -days 30 \
		-subj "/CN=encrypted test key/" -outform DER -out "$W/enc.der"

	run env -u KBUILD_SIGN_PIN "$SIGN" --key "$W/enc.key" --cert "$W/enc.der" "$KO" "$W/out.ko"
	[ "$status" -eq 1 ]
	[ "$output" = "dkm-hook: error: signing key '$W/enc.key' is encrypted; set KBUILD_SIGN_PIN to its passphrase" ]

	KBUILD_SIGN_PIN=battery-staple run "$SIGN" --key "$W/enc.key" --cert "$W/enc.der" "$KO" "$W/out.ko"
	[ "$status" -eq 1 ]
	[ "$output" = "dkm-hook: error: cannot decrypt signing key '$W/enc.key': wrong passphrase in KBUILD_SIGN_PIN" ]
	[ ! -e "$W/out.ko" ]

	KBUILD_SIGN_PIN=correct-horse run "$SIGN" --key "$W/enc.key" --cert "$W/enc.der" "$KO" "$W/out.ko"
	[ "$status" -eq 0 ]
	# same bytes as sign-file given the same PIN
	cp "$KO" "$W/ref.ko"
	KBUILD_SIGN_PIN=correct-horse "$(kernel_sign_file)" sha256 "$W/enc.key" "$W/enc.der" "$W/ref.ko"
	cmp "$W/ref.ko" "$W/out.ko"
}

@test "key and certificate that do not belong together" {
	other_key
	run "$SIGN" --key "$KEY" --cert "$W/other.der" "$KO" "$W/out.ko"
	[ "$status" -eq 1 ]
	[ "$output" = "dkm-hook: error: signing key '$KEY' does not match certificate '$W/other.der'" ]
}

@test "refuses to sign what is not an uncompressed module" {
	"$SIGN" --compress xz "$KO" "$W/m.ko.xz"
	run "$SIGN" --key "$KEY" --cert "$CERT" "$W/m.ko.xz" "$W/out.ko"
	[ "$status" -eq 1 ]
	[ "$output" = "dkm-hook: error: cannot sign module: it is xz-compressed; sign the uncompressed .ko, then compress it" ]

	run "$SIGN" --key "$KEY" --cert "$CERT" "$BATS_FILE_TMPDIR/kmod-dkm_sigtest/dkm_sigtest.o" "$W/out.ko"
	[ "$status" -eq 1 ]
	[ "$output" = "dkm-hook: error: not a kernel module: no .gnu.linkonce.this_module section (an object file, not a linked module?)" ]

	run "$SIGN" --key "$KEY" --cert "$CERT" --hash sha3-1024 "$KO" "$W/out.ko"
	[ "$status" -eq 1 ]
	[ "$output" = "dkm-hook: error: cannot sign module: unknown hash algorithm 'sha3-1024'" ]
}
