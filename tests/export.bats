#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build once, install everywhere: `export` packs a build (tar or .deb), `import-binary` installs
# the tar on a machine without compilers or headers, through the same install path.

load lib/common

setup() {
	require_headers
	make_root
	debian_root
	"$DKM" add "$(fixture module-test)" >/dev/null
	W=$BATS_TEST_TMPDIR/out
	mkdir -p "$W"
}

# A second machine: the kernel's module dir, nothing else (no headers, no compiler needed).
target_root() {
	T=$BATS_TEST_TMPDIR/target
	mkdir -p "$T/lib/modules/$KVER" "$T/etc"
}

@test "export --format tar: metadata, the stored (signed) module and the certificate; GNU tar reads it" {
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	run "$DKM" export module-test/0.1 -k "$KVER" -o "$W/m.tar"
	[ "$status" -eq 0 ]
	[[ "$output" == *"exported module-test/0.1 for $KVER"*"signed"* ]]
	run tar -tf "$W/m.tar"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'dkm-hook-binary\nmodules/dkms_test.ko\nsigning-cert.der')" ]
	tar -xOf "$W/m.tar" dkm-hook-binary > "$W/meta"
	grep -qx 'format=dkm-hook-binary 1' "$W/meta"
	grep -qx "kernel=$KVER" "$W/meta"
	grep -qx 'module.dkms_test.location=/updates/dkms' "$W/meta"
	grep -qx 'signed=yes' "$W/meta"
	# the member is the stored artefact, byte for byte
	state=$ROOT/var/lib/dkm-hook/packages/module-test/0.1/kernels/$KVER/$(uname -m)
	tar -xOf "$W/m.tar" modules/dkms_test.ko | cmp - "$state/modules/dkms_test.ko"
	grep -qx "module.dkms_test.sha256=$(sha256sum < "$state/modules/dkms_test.ko" | cut -c1-64)" "$W/meta"
	tar -xOf "$W/m.tar" signing-cert.der | cmp - "$ROOT/var/lib/dkm-hook/mok.der"
}

@test "import-binary into a fresh root without headers: installed, signed, in status, modinfo sees it; uninstall and remove clean up" {
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	"$DKM" export module-test/0.1 -k "$KVER" -o "$W/m.tar" >/dev/null
	target_root
	export DKM_HOOK_ROOT=$T
	run "$DKM" import-binary "$W/m.tar"
	[ "$status" -eq 0 ]
	[[ "$output" == *"registered module-test/0.1 (binary"* ]]
	[[ "$output" == *"mokutil --import"* ]]
	[ -f "$T/lib/modules/$KVER/updates/dkms/dkms_test.ko" ]
	[ "$(modinfo -b "$T" -k "$KVER" -F filename dkms_test)" = "$T/lib/modules/$KVER/updates/dkms/dkms_test.ko" ]
	[ "$(modinfo -b "$T" -k "$KVER" -F signer dkms_test)" = "dkm-hook test key" ]
	[ "$(modinfo -b "$T" -k "$KVER" -F sig_hashalgo dkms_test)" = sha256 ]
	run "$DKM" status
	[ "$output" = "module-test/0.1, $KVER, $(uname -m): installed (modules: dkms_test; signed)" ]
	run "$DKM" status --json
	printf '%s' "$output" | python3 -c '
import json, sys
(p,) = json.load(sys.stdin)["packages"]
assert p["origin"] == "binary" and p["source"] is None and p["state"] == "added", p
(k,) = p["kernels"]
assert k["state"] == "installed" and k["signed"] is True and k["origin"] == "binary", k'
	# no source here: building it says why instead of "source missing"
	run "$DKM" build module-test/0.1 -k "$KVER" --force
	[ "$status" -eq 3 ]
	[[ "$output" == *"installed from a binary package"* ]]
	# a second import of the same archive changes nothing
	before=$(stat -c %Y.%i "$T/lib/modules/$KVER/modules.dep")
	run "$DKM" import-binary "$W/m.tar"
	[ "$status" -eq 0 ]
	[[ "$output" == *"already installed"* ]]
	[ "$(stat -c %Y.%i "$T/lib/modules/$KVER/modules.dep")" = "$before" ]

	run "$DKM" uninstall module-test/0.1 -k "$KVER"
	[ "$status" -eq 0 ]
	[ ! -e "$T/lib/modules/$KVER/updates" ]
	if grep -q dkms_test "$T/lib/modules/$KVER/modules.dep"; then false; fi
	run "$DKM" remove module-test/0.1 --all
	[ "$status" -eq 0 ]
	[[ "$output" != *"error"* ]]
	run "$DKM" status
	[ -z "$output" ]
	[ ! -e "$T/var/lib/dkm-hook/packages/module-test" ]
}

@test "import-binary first finishes what an interrupted command left on that kernel" {
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	"$DKM" export module-test/0.1 -k "$KVER" -o "$W/m.tar" >/dev/null
	target_root
	export DKM_HOOK_ROOT=$T
	"$DKM" import-binary "$W/m.tar" >/dev/null
	interrupted_uninstall module-test/0.1
	run "$DKM" import-binary "$W/m.tar"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$KVER: finishing an interrupted uninstall of module-test/0.1"* ]]
	[[ "$output" == *"installing module-test/0.1 for $KVER"* ]]
	[ ! -e "$T/var/lib/dkm-hook/kernels/$KVER/journal" ]
	[ ! -e "$T/var/lib/dkm-hook/kernels/$KVER/depmod-pending" ]
	[ "$(modinfo -b "$T" -k "$KVER" -F filename dkms_test)" = "$T/lib/modules/$KVER/updates/dkms/dkms_test.ko" ]
	run "$DKM" fsck
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "import-binary: a displaced kernel module is archived and restored, as for a local build" {
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	"$DKM" export module-test/0.1 -k "$KVER" -o "$W/m.tar" >/dev/null
	target_root
	# the target kernel ships its own dkms_test in an unusual place
	mkdir -p "$T/lib/modules/$KVER/ethercat"
	tar -xOf "$W/m.tar" modules/dkms_test.ko > "$T/lib/modules/$KVER/ethercat/dkms_test.ko"
	printf 'shipped' >> "$T/lib/modules/$KVER/ethercat/dkms_test.ko"
	orig=$(sha256sum < "$T/lib/modules/$KVER/ethercat/dkms_test.ko")
	depmod -b "$T" -C "$T/etc/depmod.d" "$KVER"
	export DKM_HOOK_ROOT=$T
	run "$DKM" import-binary "$W/m.tar"
	[ "$status" -eq 0 ]
	[ ! -e "$T/lib/modules/$KVER/ethercat/dkms_test.ko" ]
	[ "$(modinfo -b "$T" -k "$KVER" -F filename dkms_test)" = "$T/lib/modules/$KVER/updates/dkms/dkms_test.ko" ]
	"$DKM" uninstall module-test/0.1 -k "$KVER"
	[ "$(sha256sum < "$T/lib/modules/$KVER/ethercat/dkms_test.ko")" = "$orig" ]
}

@test "compress=xz: the exported module is the .ko.xz that was built, and imports as one" {
	mkdir -p "$ROOT/etc/dkm-hook"
	echo 'compress=xz' > "$ROOT/etc/dkm-hook/dkm-hook.conf"
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	"$DKM" export module-test/0.1 -k "$KVER" -o "$W/m.tar" >/dev/null
	tar -tf "$W/m.tar" | grep -qx modules/dkms_test.ko.xz
	target_root
	DKM_HOOK_ROOT=$T run "$DKM" import-binary "$W/m.tar"
	[ "$status" -eq 0 ]
	[ "$(modinfo -b "$T" -k "$KVER" -F filename dkms_test)" = "$T/lib/modules/$KVER/updates/dkms/dkms_test.ko.xz" ]
	[ "$(modinfo -b "$T" -k "$KVER" -F signer dkms_test)" = "dkm-hook test key" ]
}

@test "export --format deb: Depends on the kernel image; dpkg --root installs it, its postinst runs depmod, its postrm undoes it" {
	command -v dpkg-deb >/dev/null || skip "dpkg-deb is not installed (optional: needed for --format deb)"
	"$DKM" install module-test/0.1 -k "$KVER" >/dev/null
	run "$DKM" export module-test/0.1 -k "$KVER" --format deb -o "$W/m.deb"
	[ "$status" -eq 0 ]
	deb=$W/m.deb
	name=module-test-modules-$KVER
	[ "$(dpkg-deb -f "$deb" Package)" = "$name" ]
	[ "$(dpkg-deb -f "$deb" Version)" = 0.1 ]
	[ "$(dpkg-deb -f "$deb" Depends)" = "linux-image-$KVER" ]
	[ "$(dpkg-deb -f "$deb" Architecture)" = "$(dpkg --print-architecture)" ]
	run dpkg-deb -c "$deb"
	[[ "$output" == *"root/root"*"./lib/modules/$KVER/updates/dkms/dkms_test.ko"* ]]
	# the certificate of the signing key goes with the modules, and the description says
	# how to enrol it
	cert=/usr/share/dkm-hook/certs/$name.der
	dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ".$cert" | cmp - "$ROOT/var/lib/dkm-hook/mok.der"
	dpkg-deb -f "$deb" Description | grep -qF "mokutil --import $cert"

	# a scratch root with its own dpkg database; the maintainer scripts act on $DPKG_ROOT
	target_root
	mkdir -p "$T/var/lib/dpkg/info" "$T/var/lib/dpkg/updates" "$T/var/lib/dpkg/triggers"
	touch "$T/var/lib/dpkg/status"
	run dpkg --root="$T" --force-script-chrootless --force-depends -i "$deb"
	[ "$status" -eq 0 ]
	[[ "$output" == *"linux-image-$KVER"*"not installed"* ]]
	dpkg-query --admindir="$T/var/lib/dpkg" -W -f='${Status}\n' "$name" | grep -qx 'install ok installed'
	grep -q "^updates/dkms/dkms_test.ko:" "$T/lib/modules/$KVER/modules.dep"
	[ "$(modinfo -b "$T" -k "$KVER" -F signer dkms_test)" = "dkm-hook test key" ]
	[ "$(modinfo -b "$T" -k "$KVER" -F sig_key dkms_test)" = "$(modinfo -F sig_key "$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko")" ]

	run dpkg --root="$T" --force-script-chrootless --purge "$name"
	[ "$status" -eq 0 ]
	[ ! -e "$T/lib/modules/$KVER/updates/dkms/dkms_test.ko" ]
	if grep -q dkms_test "$T/lib/modules/$KVER/modules.dep"; then false; fi
}

@test "export: not built, no kernel named, unknown format: clear errors, nothing written" {
	run "$DKM" export module-test/0.1 -k "$KVER" -o "$W/m.tar"
	[ "$status" -eq 3 ]
	[[ "$output" == *"module-test/0.1 is not built for $KVER"*"dkm-hook build module-test/0.1 -k $KVER"* ]]
	run "$DKM" export module-test/0.1 -o "$W/m.tar"
	[ "$status" -eq 2 ]
	[[ "$output" == *"exactly one kernel"* ]]
	run "$DKM" export module-test/0.1 -k "$KVER" --format zip -o "$W/m.tar"
	[ "$status" -eq 2 ]
	[ -z "$(ls -A "$W")" ]
}

@test "export refuses an artefact that changed after it was built" {
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	state=$ROOT/var/lib/dkm-hook/packages/module-test/0.1/kernels/$KVER/$(uname -m)
	printf 'x' >> "$state/modules/dkms_test.ko"
	run "$DKM" export module-test/0.1 -k "$KVER" -o "$W/m.tar"
	[ "$status" -ne 0 ]
	[[ "$output" == *"changed since it was built"* ]]
	[ ! -e "$W/m.tar" ]
}

# import-binary of a doctored archive: refused, and the target root is exactly as before
refuse_import() { # <archive> <expected message part>
	target_root
	before=$(cd "$T" && find . | sort)
	DKM_HOOK_ROOT=$T run "$DKM" import-binary "$1"
	[ "$status" -ne 0 ] || { echo "$output"; false; }
	[[ "$output" == *"$2"* ]] || { echo "$output"; false; }
	[ "$(cd "$T" && find . | sort)" = "$before" ]
}

@test "import-binary refuses damaged, foreign and hostile archives before writing anything" {
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	"$DKM" export module-test/0.1 -k "$KVER" -o "$W/m.tar" >/dev/null
	mkdir "$W/x" && tar -xf "$W/m.tar" -C "$W/x"

	# a module changed after export
	cp -a "$W/x" "$W/damaged" && printf 'x' >> "$W/damaged/modules/dkms_test.ko"
	tar -cf "$W/damaged.tar" -C "$W/damaged" dkm-hook-binary modules signing-cert.der
	refuse_import "$W/damaged.tar" "is damaged: sha256"

	# metadata claiming another kernel: the module's vermagic says otherwise
	cp -a "$W/x" "$W/other" && sed -i "s/^kernel=.*/kernel=9.9.9-other/" "$W/other/dkm-hook-binary"
	tar -cf "$W/other.tar" -C "$W/other" dkm-hook-binary modules signing-cert.der
	mkdir -p "$BATS_TEST_TMPDIR/target/lib/modules/9.9.9-other"
	refuse_import "$W/other.tar" "built for another kernel"

	# a symlink member
	cp -a "$W/x" "$W/link" && ln -s /etc/passwd "$W/link/modules/evil.ko"
	tar -cf "$W/link.tar" -C "$W/link" dkm-hook-binary modules signing-cert.der
	refuse_import "$W/link.tar" "not a regular file"

	# an extra member not in the metadata
	cp -a "$W/x" "$W/extra" && echo hi > "$W/extra/modules/extra.ko"
	tar -cf "$W/extra.tar" -C "$W/extra" dkm-hook-binary modules signing-cert.der
	refuse_import "$W/extra.tar" "unexpected member 'modules/extra.ko'"

	# not ours at all
	refuse_import /etc/hostname "is not a dkm-hook binary package"
}

@test "import-binary: a .deb is pointed at dpkg; the kernel must be there; a source registration needs --force" {
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	"$DKM" export module-test/0.1 -k "$KVER" -o "$W/m.tar" >/dev/null
	printf '!<arch>\ndebian-binary   ' > "$W/fake.deb"
	run "$DKM" import-binary "$W/fake.deb"
	[ "$status" -eq 5 ]
	[[ "$output" == *"is a Debian package"* ]]

	mkdir -p "$BATS_TEST_TMPDIR/nokernel"
	DKM_HOOK_ROOT=$BATS_TEST_TMPDIR/nokernel run "$DKM" import-binary "$W/m.tar"
	[ "$status" -eq 3 ]
	[[ "$output" == *"kernel $KVER is not installed"*"linux-image-$KVER"* ]]

	# here the package is registered from its source
	run "$DKM" import-binary "$W/m.tar"
	[ "$status" -ne 0 ]
	[[ "$output" == *"registered here from its source"*"--force"* ]]
	run "$DKM" import-binary --force "$W/m.tar"
	[ "$status" -eq 0 ]
	[ "$(modinfo_field dkms_test signer)" = "dkm-hook test key" ]
}

# the exported archive of module-test/0.1, unpacked in $W/x
exported_x() {
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	"$DKM" export module-test/0.1 -k "$KVER" -o "$W/m.tar" >/dev/null
	mkdir "$W/x" && tar -xf "$W/m.tar" -C "$W/x"
}

# a copy of $W/x as $W/<name>, its metadata edited by a sed script, packed as $W/<name>.tar
doctored() { # doctored <name> <sed script>
	rm -rf "${W:?}/$1"
	cp -a "$W/x" "$W/$1"
	sed -i "$2" "$W/$1/dkm-hook-binary"
	tar -cf "$W/$1.tar" -C "$W/$1" dkm-hook-binary modules signing-cert.der
}

@test "import-binary: a location through the kernel's build/ or source/ link is refused; nothing is written outside the module dir" {
	exported_x
	target_root
	# the target's build/ and source/ links to its headers, as a kernel installs them
	H=$BATS_TEST_TMPDIR/headers
	mkdir -p "$H"
	ln -s "$H" "$T/lib/modules/$KVER/build"
	ln -s "$H" "$T/lib/modules/$KVER/source"
	for loc in /build/evil /source/evil /build /updates/../build/evil /; do
		doctored evil "s|^module.dkms_test.location=.*|module.dkms_test.location=$loc|"
		refuse_import "$W/evil.tar" "metadata of module 'dkms_test' is invalid (file 'dkms_test.ko', location '$loc'): a location must start with /kernel, /updates or /extra"
		[ -z "$(ls -A "$H")" ]
	done
	# /updates, /extra and /kernel below a real directory are fine
	doctored fine "s|^module.dkms_test.location=.*|module.dkms_test.location=/extra/vendor|"
	DKM_HOOK_ROOT=$T run "$DKM" import-binary "$W/fine.tar"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ -f "$T/lib/modules/$KVER/extra/vendor/dkms_test.ko" ]
	[ -z "$(ls -A "$H")" ]
}

@test "import-binary: a location whose directory is a link out of the module dir is refused before anything is written" {
	exported_x
	target_root
	O=$BATS_TEST_TMPDIR/outside
	mkdir -p "$O"
	ln -s "$O" "$T/lib/modules/$KVER/updates"
	refuse_import "$W/m.tar" "'$T/lib/modules/$KVER/updates' is a symbolic link: a module is installed only below '$T/lib/modules/$KVER' through real directories (location '/updates/dkms'); nothing was changed"
	[ -z "$(ls -A "$O")" ]
}

@test "import-binary: a forged signer or sig_key in the metadata is refused, and no certificate is advised" {
	exported_x
	doctored signer 's|^signer=.*|signer=Trusted Vendor Inc.|'
	refuse_import "$W/signer.tar" "metadata signer='Trusted Vendor Inc.', but module 'dkms_test.ko' is signed by 'dkm-hook test key'"
	[[ "$output" != *mokutil* ]]
	doctored key 's|^sig_key=.*|sig_key=00:11:22:33|'
	refuse_import "$W/key.tar" "metadata sig_key='00:11:22:33', but module 'dkms_test.ko' is signed with key"
	[[ "$output" != *mokutil* ]]
}

@test "import-binary: a certificate that did not sign the modules is refused (never advised for mokutil), the system left as it was" {
	exported_x
	# another key's certificate with the very name and serial of the signer's: the metadata
	# (signer=, sig_key=) and the module's signature info all match it; only the signature
	# itself can tell
	serial=$(openssl x509 -inform DER -in "$W/x/signing-cert.der" -noout -serial | cut -d= -f2)
	openssl req -new -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=dkm-hook test key/" \
		-set_serial "0x$serial" -outform DER -keyout "$W/other.key" -out "$W/other.der" 2>/dev/null
	rm -rf "$W/forged" && cp -a "$W/x" "$W/forged"
	cp "$W/other.der" "$W/forged/signing-cert.der"
	tar -cf "$W/forged.tar" -C "$W/forged" dkm-hook-binary modules signing-cert.der
	refuse_import "$W/forged.tar" "module 'dkms_test.ko' is not signed by the certificate in the archive ('signing-cert.der'): invalid"
	[[ "$output" != *mokutil* ]]
	# a certificate of another name altogether
	openssl req -new -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=Trusted Vendor Inc./" \
		-outform DER -keyout "$W/vendor.key" -out "$W/vendor.der" 2>/dev/null
	cp "$W/vendor.der" "$W/forged/signing-cert.der"
	sed -i "s|^signer=.*|signer=Trusted Vendor Inc.|" "$W/forged/dkm-hook-binary"
	tar -cf "$W/forged.tar" -C "$W/forged" dkm-hook-binary modules signing-cert.der
	refuse_import "$W/forged.tar" "module 'dkms_test.ko' is not signed by the certificate in the archive ('signing-cert.der'): other-key"
	[[ "$output" != *mokutil* ]]
	# and the genuine archive goes through, advising its genuine certificate
	DKM_HOOK_ROOT=$T run "$DKM" import-binary "$W/m.tar"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"modules signed by 'dkm-hook test key'"*"mokutil --import $T/var/lib/dkm-hook/packages/module-test/0.1/signing-cert.der"* ]]
	cmp "$T/var/lib/dkm-hook/packages/module-test/0.1/signing-cert.der" "$ROOT/var/lib/dkm-hook/mok.der"
}

@test "import-binary: a certificate that is not one, or a certificate with unsigned modules, is refused" {
	exported_x
	rm -rf "$W/junk" && cp -a "$W/x" "$W/junk"
	echo 'not a certificate' > "$W/junk/signing-cert.der"
	tar -cf "$W/junk.tar" -C "$W/junk" dkm-hook-binary modules signing-cert.der
	refuse_import "$W/junk.tar" "signing-cert.der"
	[[ "$output" != *mokutil* ]]
	# the modules stripped of their signature, the metadata saying unsigned, a certificate
	# still shipped: nothing it could be enrolled for
	rm -rf "$W/unsigned" && cp -a "$W/x" "$W/unsigned"
	ko=$W/unsigned/modules/dkms_test.ko
	len=$(python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
magic = b"~Module signature appended~\n"
assert d.endswith(magic)
sig_len = int.from_bytes(d[-len(magic) - 4:-len(magic)], "big")
print(len(d) - len(magic) - 12 - sig_len)' "$ko")
	head -c "$len" "$ko" > "$ko.new" && mv "$ko.new" "$ko"
	sha=$(sha256sum < "$ko" | cut -c1-64)
	sed -i "s|^module.dkms_test.sha256=.*|module.dkms_test.sha256=$sha|; s|^signed=.*|signed=no|" "$W/unsigned/dkm-hook-binary"
	tar -cf "$W/unsigned.tar" -C "$W/unsigned" dkm-hook-binary modules signing-cert.der
	refuse_import "$W/unsigned.tar" "module 'dkms_test.ko' is not signed by the certificate in the archive"
	[[ "$output" != *mokutil* ]]
}
