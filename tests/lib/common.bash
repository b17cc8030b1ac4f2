# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared set-up for the bats suites: the real built binary, the real installed kernel headers,
# a scratch root per test. Nothing here touches the host's /lib/modules, /usr/src or /var/lib.

TOP=$(cd "${BATS_TEST_DIRNAME}/.." && while [ ! -f Makefile ] && [ "$PWD" != / ]; do cd ..; done; pwd)
DKM=${DKM_HOOK_BIN:-$TOP/build/dkm-hook}
FIXTURES=$TOP/tests/fixtures

# The newest kernel whose headers are installed (never hard-coded).
host_kver() {
	local k best=
	for k in $(ls /lib/modules 2>/dev/null | sort -V); do
		[ -e "/lib/modules/$k/build/Makefile" ] && best=$k
	done
	echo "$best"
}
KVER=${DKM_TEST_KVER:-$(host_kver)}

require_headers() {
	[ -n "$KVER" ] || { echo "no kernel headers installed: apt-get install linux-headers-amd64" >&2; return 1; }
}

# A scratch root: <root>/lib/modules/<kver>/build -> the real headers.
# Usage: make_root [kver...]   sets ROOT
make_root() {
	ROOT=${BATS_TEST_TMPDIR}/root
	local k
	mkdir -p "$ROOT/lib/modules" "$ROOT/etc/dkm-hook" "$ROOT/usr/src"
	# No compiler cache by default: every test starts with an empty state dir, where a cache can
	# only miss and cost time (ccache preprocesses each file once more). tests/cc-cache.bats
	# tests the shipped default (on when ccache is installed); a test that writes its own
	# dkm-hook.conf gets that default.
	[ -e "$ROOT/etc/dkm-hook/dkm-hook.conf" ] || echo "cc_launcher=" > "$ROOT/etc/dkm-hook/dkm-hook.conf"
	for k in "${@:-$KVER}"; do
		mkdir -p "$ROOT/lib/modules/$k"
		ln -sfn "$(readlink -f "/lib/modules/$KVER/build")" "$ROOT/lib/modules/$k/build"
	done
	# one signing key per test file run: RSA generation is slow, tests need not redo it
	if [ -n "${BATS_FILE_TMPDIR:-}" ]; then
		if [ ! -e "$BATS_FILE_TMPDIR/mok.key" ]; then
			openssl req -new -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=dkm-hook test key/" \
				-addext "extendedKeyUsage=codeSigning" -outform DER \
				-keyout "$BATS_FILE_TMPDIR/mok.key" -out "$BATS_FILE_TMPDIR/mok.der" 2>/dev/null
		fi
		mkdir -p "$ROOT/var/lib/dkm-hook"
		install -m 0600 "$BATS_FILE_TMPDIR/mok.key" "$ROOT/var/lib/dkm-hook/mok.key"
		install -m 0644 "$BATS_FILE_TMPDIR/mok.der" "$ROOT/var/lib/dkm-hook/mok.der"
	fi
	export DKM_HOOK_ROOT=$ROOT
	# builds run as an unprivileged user (build_user): it must be able to reach the root
	# through the test's private dirs (bats makes them 0700)
	local d=$ROOT
	while [ -n "${BATS_RUN_TMPDIR:-}" ] && [[ "$d" == "$BATS_RUN_TMPDIR"* ]]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
}

# Debian's rule (install to /updates/dkms) needs an os-release in the root
debian_root() {
	printf 'ID=debian\nVERSION_ID="12"\n' > "$ROOT/etc/os-release"
}

# copy a fixture package into the test's own dir; prints the path
fixture() {
	local name=$1 dst=${BATS_TEST_TMPDIR}/src/$1
	mkdir -p "${BATS_TEST_TMPDIR}/src"
	cp -a "$FIXTURES/$name" "$dst"
	echo "$dst"
}

# A snapshot of everything under the root except the state dir: path, type, size, sha256
snapshot() {
	(cd "$ROOT" && find . -path ./var/lib/dkm-hook -prune -o -print0 | sort -z |
		while IFS= read -r -d '' f; do
			if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"
			elif [ -f "$f" ]; then echo "$f $(sha256sum < "$f" | cut -c1-64)"
			else echo "$f/"; fi
		done)
}

modinfo_field() { # modinfo_field <module> <field>
	modinfo -b "$ROOT" -k "$KVER" -F "$2" "$1"
}

# a module tree entry that looks like one the kernel ships
ship_module() { # ship_module <relative path under lib/modules/KVER> <module fixture dir>
	local rel=$1
	mkdir -p "$(dirname "$ROOT/lib/modules/$KVER/$rel")"
	cp "$2" "$ROOT/lib/modules/$KVER/$rel"
	depmod -b "$ROOT" -C "$ROOT/etc/depmod.d" "$KVER"
}

# A second kernel for tests that need two: a symlink copy of the real headers whose release
# string is <name> (so modules built against it carry that vermagic), and its module dir.
second_kernel() { # second_kernel <name>
	local name=$1 h=$BATS_TEST_TMPDIR/headers-$1 real
	real=$(readlink -f "/lib/modules/$KVER/build")
	cp -as "$real" "$h"
	rm -f "$h/include/generated/utsrelease.h" "$h/include/config/kernel.release"
	echo "#define UTS_RELEASE \"$name\"" > "$h/include/generated/utsrelease.h"
	echo "$name" > "$h/include/config/kernel.release"
	mkdir -p "$ROOT/lib/modules/$name"
	ln -sfn "$h" "$ROOT/lib/modules/$name/build"
	local d=$BATS_TEST_TMPDIR
	chmod o+rx "$h"
}

# a copy of a fixture package with another version (and a description saying so)
fixture_version() { # fixture_version <fixture> <old version> <new version>
	local dst=${BATS_TEST_TMPDIR}/src/$1-$3
	mkdir -p "${BATS_TEST_TMPDIR}/src"
	cp -a "$FIXTURES/$1" "$dst"
	sed -i "s/^PACKAGE_VERSION=.*/PACKAGE_VERSION=\"$3\"/" "$dst/dkms.conf"
	find "$dst" -name '*.c' -exec sed -i "s/MODULE_LICENSE(\"GPL\");/MODULE_LICENSE(\"GPL\");\nMODULE_VERSION(\"$3\");/" {} +
	echo "$dst"
}

# interrupted_uninstall PKG/VER — the root as a SIGKILL leaves an uninstall of the installed
# PKG/VER between removing its manifest and writing its state: modules gone, a displaced
# original back, the manifest gone, the state still "installed", the journal and the depmod
# debt still there (the window the kill test once hit in CI)
interrupted_uninstall() {
	local pkg=${1%/*} ver=${1#*/} inst saved=$BATS_TEST_TMPDIR/interrupted-uninstall.state
	local kdir=$DKM_HOOK_ROOT/var/lib/dkm-hook/kernels/$KVER
	inst=$DKM_HOOK_ROOT/var/lib/dkm-hook/packages/$pkg/$ver/kernels/$KVER/$(uname -m)
	cp "$inst/state" "$saved"
	"$DKM" uninstall "$1" -k "$KVER" >/dev/null
	cp "$saved" "$inst/state"
	printf 'op=uninstall\npackage=%s\nversion=%s\narch=%s\n' "$pkg" "$ver" "$(uname -m)" >"$kdir/journal"
	: >"$kdir/depmod-pending"
	[ ! -e "$inst/manifest" ]
}

# hold_lock FILE — another process holds FILE's flock until release_lock (returns once it does)
hold_lock() {
	local ready=$BATS_TEST_TMPDIR/.lock-held
	rm -f "$ready"
	(exec 9>>"$1" && flock 9 && : >"$ready" && exec sleep 300) &
	LOCK_HOLDER=$!
	for _ in $(seq 1 600); do
		[ -e "$ready" ] && return 0
		sleep 0.05
	done
	echo "hold_lock: could not take '$1'" >&2
	return 1
}

release_lock() {
	kill "$LOCK_HOLDER" 2>/dev/null || true
	{ wait "$LOCK_HOLDER"; } 2>/dev/null || true
}

# run_waiting_for_lock FILE CMD... — like `run CMD...`, while another process holds FILE: the
# lock is released once CMD says it is waiting (or after 30 s), not after a guessed delay
run_waiting_for_lock() {
	local out=$BATS_TEST_TMPDIR/.lock-wait-output pid
	hold_lock "$1" || return 1
	shift
	"$@" >"$out" 2>&1 &
	pid=$!
	for _ in $(seq 1 600); do
		grep -q 'waiting for another dkm-hook' "$out" && break
		sleep 0.05
	done
	release_lock
	status=0
	wait "$pid" || status=$?
	output=$(cat "$out")
}
