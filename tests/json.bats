#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The --json outputs against their documented schemas (docs/json.md, docs/schema/), for every
# state each can describe. tests/lib/json-validate.py validates (and cross-checks with Debian's
# python3-jsonschema when that is installed).

load lib/common

VALIDATE="python3 $BATS_TEST_DIRNAME/lib/json-validate.py"
SCHEMA=$BATS_TEST_DIRNAME/../docs/schema

setup() {
	require_headers
	make_root
	debian_root
}

# validate <schema name> <file>
validate() {
	run $VALIDATE "$SCHEMA/$1.schema.json" "$2"
	if [ "$status" -ne 0 ]; then
		echo "$output" >&2
		return 1
	fi
}

@test "the validator refuses what the schema forbids: a string 'signed', a missing member, an unknown one, a bad enum" {
	j=$BATS_TEST_TMPDIR/doc.json
	good='{"version":1,"packages":[{"name":"p","version":"1","origin":"source","source":"/usr/src/p-1","state":"added","autoinstall":true,"remake_initrd":false,"modules":["m"],"kernels":[{"kernel":"6.1.0-1-amd64","arch":"x86_64","state":"installed","modules":["m"],"signed":true,"compression":"xz","changed":"2025-01-31T12:00:00Z"}]}]}'
	echo "$good" > "$j"
	validate status "$j"
	for bad in 's/"signed":true/"signed":"yes"/' 's/"origin":"source",//' 's/"arch"/"extra":1,"arch"/' \
		's/"state":"installed"/"state":"done"/' 's/"version":1/"version":2/' 's/"changed":"[^"]*"/"changed":"yesterday"/'; do
		sed "$bad" <<<"$good" > "$j"
		run $VALIDATE "$SCHEMA/status.schema.json" "$j"
		[ "$status" -eq 1 ] || { echo "not refused: $bad" >&2; return 1; }
	done
}

@test "status --json: every package and build state validates against status.schema.json" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	"$DKM" install module-test/0.1 -k "$KVER" >/dev/null
	# built, not installed
	"$DKM" add "$(fixture variant)" >/dev/null
	"$DKM" build variant/1.0 -k "$KVER" >/dev/null
	# excluded
	src=$(fixture two-modules)
	echo 'BUILD_EXCLUSIVE_KERNEL="^2\.6\."' >> "$src/dkms.conf"
	"$DKM" add "$src" >/dev/null
	run "$DKM" build two-modules/2.0 -k "$KVER"
	[ "$status" -eq 6 ]
	# failed
	src=$(fixture dep-base)
	echo '#error broken on purpose' >> "$src/dep_base.c"
	"$DKM" add "$src" >/dev/null
	run "$DKM" build dep-base/1.0 -k "$KVER"
	[ "$status" -eq 4 ]
	# broken: the source went away
	"$DKM" add "$(fixture dep-user)" >/dev/null
	rm -rf "$ROOT/usr/src/dep-user-1.0"

	"$DKM" status --json > "$BATS_TEST_TMPDIR/all.json"
	validate status "$BATS_TEST_TMPDIR/all.json"
	python3 - "$BATS_TEST_TMPDIR/all.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
pk = {p["name"]: p for p in doc["packages"]}
states = {p["name"]: [k["state"] for k in p["kernels"]] for p in doc["packages"]}
assert states == {"dep-base": ["failed"], "dep-user": [], "module-test": ["installed"],
                  "two-modules": ["excluded"], "variant": ["built"]}, states
assert pk["dep-user"]["state"] == "broken" and pk["module-test"]["state"] == "added"
inst = pk["module-test"]["kernels"][0]
assert inst["signed"] is True and inst["sig_hash"] == "sha256", inst
failed = pk["dep-base"]["kernels"][0]
assert failed["log"].endswith("/build.log") and "reason" in failed, failed
assert "BUILD_EXCLUSIVE_KERNEL" in pk["two-modules"]["kernels"][0]["reason"]
PY
	# filtered by kernel, by package, and an unknown package (exit 3, still valid JSON)
	"$DKM" status -k "$KVER" --json > "$BATS_TEST_TMPDIR/k.json"
	validate status "$BATS_TEST_TMPDIR/k.json"
	"$DKM" status module-test --json > "$BATS_TEST_TMPDIR/p.json"
	validate status "$BATS_TEST_TMPDIR/p.json"
	run "$DKM" status nosuch --json
	[ "$status" -eq 3 ]
	"$DKM" status nosuch --json > "$BATS_TEST_TMPDIR/none.json" 2>/dev/null || true
	validate status "$BATS_TEST_TMPDIR/none.json"
	# an empty state tree
	DKM_HOOK_ROOT=$BATS_TEST_TMPDIR/empty "$DKM" status --json > "$BATS_TEST_TMPDIR/empty.json"
	validate status "$BATS_TEST_TMPDIR/empty.json"
}

@test "status --json of a package installed with import-binary validates (origin binary, source null)" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	"$DKM" build module-test/0.1 -k "$KVER" >/dev/null
	"$DKM" export module-test/0.1 -k "$KVER" -o "$BATS_TEST_TMPDIR/m.tar" >/dev/null
	t=$BATS_TEST_TMPDIR/target
	mkdir -p "$t/lib/modules/$KVER"
	DKM_HOOK_ROOT=$t "$DKM" import-binary "$BATS_TEST_TMPDIR/m.tar" >/dev/null
	DKM_HOOK_ROOT=$t "$DKM" status --json > "$BATS_TEST_TMPDIR/bin.json"
	validate status "$BATS_TEST_TMPDIR/bin.json"
	grep -q '"origin":"binary","source":null' "$BATS_TEST_TMPDIR/bin.json"
}

@test "verify --json: valid, unsigned, invalid and other-key verdicts validate against verify.schema.json" {
	"$DKM" add "$(fixture module-test)" >/dev/null
	"$DKM" install module-test/0.1 -k "$KVER" >/dev/null
	ko=$ROOT/lib/modules/$KVER/updates/dkms/dkms_test.ko
	w=$BATS_TEST_TMPDIR
	# unsigned: the module without its appended signature
	python3 - "$ko" "$w/unsigned.ko" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
magic = b"~Module signature appended~\n"
assert d.endswith(magic)
sig_len = struct.unpack(">I", d[-len(magic) - 4:-len(magic)])[0]
open(sys.argv[2], "wb").write(d[:-len(magic) - 12 - sig_len])
PY
	# invalid: the signed bytes changed
	cp "$ko" "$w/invalid.ko"
	printf 'X' | dd of="$w/invalid.ko" bs=1 seek=100 conv=notrunc 2>/dev/null
	# other-key: checked against another certificate
	openssl req -new -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=other/" -outform DER \
		-keyout "$w/other.key" -out "$w/other.der" 2>/dev/null

	for c in "valid 0 $ko" "unsigned 3 $w/unsigned.ko" "invalid 1 $w/invalid.ko" "other-key 4 $ko --cert $w/other.der"; do
		set -- $c
		verdict=$1 want=$2
		shift 2
		run "$DKM" verify "$@" --json
		[ "$status" -eq "$want" ] || { echo "$verdict: exit $status" >&2; return 1; }
		"$DKM" verify "$@" --json > "$w/$verdict.json" 2>/dev/null || true
		validate verify "$w/$verdict.json"
		grep -q "\"verdict\":\"$verdict\"" "$w/$verdict.json"
	done
	grep -q '"signed":false' "$w/unsigned.json"
	grep -q '"signer":null' "$w/unsigned.json"
	grep -q '"reason":null' "$w/valid.json"
	# a file name that is not UTF-8 (Latin-1 'é') and holds a quote: still valid JSON
	odd=$w/$(printf 'mod\351"x.ko')
	cp "$ko" "$odd"
	"$DKM" verify "$odd" --json > "$w/odd.json"
	validate verify "$w/odd.json"
	python3 -c 'import json, sys; f = json.load(open(sys.argv[1], encoding="utf-8"))["file"]; assert f.endswith("/mod\ufffd\"x.ko"), f' "$w/odd.json"
}

@test "initrd-modules --json: installed, failed and not-built modules validate against initrd-modules.schema.json" {
	src=$(fixture module-test)
	echo 'REMAKE_INITRD="yes"' >> "$src/dkms.conf"
	"$DKM" add "$src" >/dev/null
	"$DKM" install module-test/0.1 -k "$KVER" >/dev/null
	# named in initrd_packages=, and its build fails
	src=$(fixture dep-base)
	echo '#error broken on purpose' >> "$src/dep_base.c"
	"$DKM" add "$src" >/dev/null
	"$DKM" build dep-base/1.0 -k "$KVER" >/dev/null 2>&1 || true
	# named, never built
	"$DKM" add "$(fixture two-modules)" >/dev/null
	mkdir -p "$ROOT/etc/dkm-hook"
	echo 'initrd_packages=dep-base two-modules' > "$ROOT/etc/dkm-hook/dkm-hook.conf"

	"$DKM" initrd-modules "$KVER" --json > "$BATS_TEST_TMPDIR/i.json" 2>/dev/null || true
	validate initrd-modules "$BATS_TEST_TMPDIR/i.json"
	python3 - "$BATS_TEST_TMPDIR/i.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
st = {m["module"]: m["state"] for m in doc["modules"]}
assert st.get("dkms_test") == "installed" and st.get("dep_base") == "failed", st
assert st.get("mod_a") in ("none", "built") and st.get("mod_b_renamed") in ("none", "built"), st
m = [m for m in doc["modules"] if m["module"] == "dkms_test"][0]
assert m["file"].endswith("/dkms_test.ko") and m["log"] is None, m
assert any("REMAKE_INITRD" in r for r in m["reasons"]), m
PY
}
