# SPDX-License-Identifier: LGPL-2.1-or-later
# Side by side with Debian's dkms: scratch roots for both tools, the same command run by each
# (shared by tests/dkms-*.bats). `load lib/dkms-both` is the whole header of such a file: it
# loads lib/common, lib/kmod-build and lib/dkms-ns and defines setup_file and setup (a file that
# needs more redefines them and calls dkms_both_setup_file / dkms_both_setup).

load lib/common
load lib/kmod-build
load lib/dkms-ns

ARCH=$(uname -m)
K2=6.1.0-999-amd64 # a second kernel: a copy of the real headers under another release name

# the .debs (Debian's dkms, real *-dkms packages) are downloaded once per file run
dkms_both_setup_file() {
	export DKM_TEST_DEB_CACHE=${DKM_TEST_DEB_CACHE:-$BATS_FILE_TMPDIR/debs}
}

# headers needed; Debian's dkms extracted (DEBIAN_DKMS); ours reachable as `dkms` in $OURBIN
dkms_both_setup() {
	require_headers
	debian_dkms_fetch
	OURBIN=$BATS_FILE_TMPDIR/bin
	mkdir -p "$OURBIN"
	ln -sfn "$DKM" "$OURBIN/dkms"
}

setup_file() { dkms_both_setup_file; }
setup() { dkms_both_setup; }

# builds run as an unprivileged user (build_user): it must reach the root and the headers
# through the test's private dirs (bats makes them 0700)
reachable() {
	local d=$1
	while [ -n "${BATS_RUN_TMPDIR:-}" ] && [[ "$d" == "$BATS_RUN_TMPDIR"* ]]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
}

# new_root DIR [kver...]: a scratch system for one tool (Debian os-release, headers linked)
new_root() {
	local r=$1 k
	shift
	mkdir -p "$r/usr/src" "$r/etc/dkms" "$r/var/lib/dkms" "$r/lib/modules"
	reachable "$r"
	printf 'ID=debian\nVERSION_ID="12"\n' > "$r/etc/os-release"
	for k in "${@:-$KVER}"; do
		mkdir -p "$r/lib/modules/$k"
		if [ "$k" = "$KVER" ]; then
			ln -sfn "$(readlink -f "/lib/modules/$KVER/build")" "$r/lib/modules/$k/build"
		elif [ "$k" = "$K2" ]; then
			ln -sfn "$(fake_headers "$K2")" "$r/lib/modules/$k/build"
		fi
	done
}

# headers for another release: the real ones copied, UTS_RELEASE changed (vermagic follows)
fake_headers() {
	local k=$1 h=$BATS_FILE_TMPDIR/headers-$1 real l
	real=$(readlink -f "/lib/modules/$KVER/build")
	if [ ! -d "$h" ]; then
		cp -a "$real" "$h.tmp"
		for l in scripts tools; do
			[ -L "$real/$l" ] && ln -sfn "$(readlink -f "$real/$l")" "$h.tmp/$l"
		done
		sed -i "s/\"$KVER\"/\"$k\"/" "$h.tmp/include/generated/utsrelease.h"
		mv "$h.tmp" "$h"
	fi
	reachable "$h"
	echo "$h"
}

# a package source from a real *-dkms .deb into a root: src_from_deb ROOT DEB-PACKAGE
src_from_deb() {
	local x
	x=$(debian_deb_fetch "$2")
	cp -a "$x"/usr/src/* "$1/usr/src/"
}

ours() { # ours ROOT dkms-args...
	local r=$1
	shift
	DKM_HOOK_ROOT=$r "$OURBIN/dkms" "$@"
}
theirs() { # theirs ROOT dkms-args...
	local r=$1
	shift
	in_root_ns "$r" "$DEBIAN_DKMS/usr/sbin/dkms" "$@"
}

# run the same command with both; compare exit codes; leave both outputs
both() {
	run theirs "$T" "$@"
	t_status=$status t_output=$output
	run ours "$O" "$@"
	o_status=$status o_output=$output
	if [ "$t_status" != "$o_status" ]; then
		echo "dkms $*: Debian's dkms exited $t_status, ours $o_status" >&2
		echo "--- theirs:" >&2; echo "$t_output" >&2
		echo "--- ours:" >&2; echo "$o_output" >&2
		return 1
	fi
}

# `dkms status ARGS` of both, line by line
# THEIRS_STATUS_SED: a sed script for Debian's status lines, where a test names a fault of
# DKMS 3.0.10 that upstream fixed (empty: none)
same_status() {
	local t o
	t=$(theirs "$T" status "$@" 2>/dev/null | sed -e "${THEIRS_STATUS_SED:-}")
	o=$(ours "$O" status "$@" 2>/dev/null)
	if [ "$t" != "$o" ]; then
		diff <(echo "$t") <(echo "$o") >&2 || true
		return 1
	fi
	echo "$o"
}

both_roots() {
	T=$BATS_TEST_TMPDIR/theirs O=$BATS_TEST_TMPDIR/ours
	new_root "$T" "$@"
	new_root "$O" "$@"
	# our root signs with a key made once per file run (as common.bash does)
	mkdir -p "$O/var/lib/dkm-hook"
	if [ ! -e "$BATS_FILE_TMPDIR/mok.key" ]; then
		openssl req -new -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=dkm-hook test key/" \
			-addext "extendedKeyUsage=codeSigning" -outform DER \
			-keyout "$BATS_FILE_TMPDIR/mok.key" -out "$BATS_FILE_TMPDIR/mok.der" 2>/dev/null
	fi
	install -m 0600 "$BATS_FILE_TMPDIR/mok.key" "$O/var/lib/dkm-hook/mok.key"
	install -m 0644 "$BATS_FILE_TMPDIR/mok.der" "$O/var/lib/dkm-hook/mok.der"
}

kos() { # the installed modules of a root for a kernel
	(cd "$1/lib/modules/${2:-$KVER}" && find . -path ./build -prune -o \( -name '*.ko' -o -name '*.ko.*' \) -print | sed 's|^\./||' | sort)
}
