# SPDX-License-Identifier: LGPL-2.1-or-later
# Debian 12 chroots for end-to-end tests through the real package manager (tests/apt-chroot.bats).
#
# Two tarballs are cached between runs in $DKM_TEST_CHROOT_CACHE (default
# /var/cache/dkm-hook-tests), each rebuilt when its recipe changes or after
# $DKM_TEST_CHROOT_MAX_AGE days (default 7):
#   bookworm-minbase.tar.zst  `debootstrap --variant=minbase bookworm`, with this machine's
#                             Debian sources and fresh package lists
#   bookworm-build.tar.zst    the same plus what building a kernel module needs (gcc, make, …)
# and the .debs apt downloads are kept in $DKM_TEST_CHROOT_CACHE/apt-archives, so a warm run
# downloads nothing: each chroot gets hard links to them (a copy across file systems) and its
# new downloads are linked back after each apt-get. No chroot shares apt's lock on them, so two
# runs of the suite at once (two checkouts, prove -j) do not stop each other.
#
# Each test extracts its own copy (chroot_new) and runs commands in it with chroot_run: every
# call is its own private mount namespace (unshare -m --propagation private) where /proc, /sys,
# /dev and /dev/pts are bound into the chroot, so the mounts end with the
# command, whatever happens, and nothing is left mounted when bats removes the test's dir.
# CHROOT_MODE says what the chroot's root is:
#   plain  the chroot dir is not a mount point (debootstrap/mmdebstrap image builders,
#          live-build, the Debian installer's in-target)
#   bind   the dir is bind-mounted onto itself first (a container's root is a mount point)
#   nocap  bind, and the command runs without CAP_SYS_ADMIN (a container without it)

CHROOT_CACHE=${DKM_TEST_CHROOT_CACHE:-/var/cache/dkm-hook-tests}
CHROOT_SUITE=bookworm
# what the build tarball adds to minbase: a compiler and make (dkm-hook's Recommends), the
# dkm-hook itself links (so installing our .deb needs no download)
# libraries dkm-hook itself links (so installing our .deb needs no download), and zstd, which
# initramfs-tools and dracut compress with when it is there (a Recommends of initramfs-tools)
CHROOT_BUILD_PKGS="gcc make libc6-dev binutils patch kmod libkmod2 libblkid1 liblzma5 libzstd1 zlib1g libssl3 zstd"
# the environment of every command in a chroot: nothing of the host's (DKM_HOOK_ROOT,
# DKM_HOOK_BIN, TMPDIR, …) leaks in
CHROOT_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
	LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true)

# The Debian entries of this machine's apt sources whose suite is $CHROOT_SUITE or one of its
# -updates/-security, as one-line "deb URI SUITE COMPONENTS" (deb822 .sources and .list files).
chroot_host_sources() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		case $f in
		*.sources)
			awk -v suite="$CHROOT_SUITE" '
				function flush(   n, i, u, s) {
					if (types ~ /(^| )deb( |$)/ && enabled != "no") {
						n = split(suites, s, " ")
						for (i = 1; i <= n; i++)
							if (s[i] == suite || s[i] ~ "^" suite "-(updates|security)$")
								for (u in uris) print "deb " uris[u] " " s[i] " " comps
					}
					types = suites = comps = enabled = ""; delete uris
				}
				/^[ \t]*#/ { next }
				/^[ \t]*$/ { flush(); next }
				{
					key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
					if (key == "types") types = $0
					else if (key == "uris") { n = split($0, a, " "); for (i = 1; i <= n; i++) uris[i] = a[i] }
					else if (key == "suites") suites = $0
					else if (key == "components") comps = $0
					else if (key == "enabled") enabled = tolower($0)
				}
				END { flush() }' "$f"
			;;
		*)
			awk -v suite="$CHROOT_SUITE" '
				$1 != "deb" { next }
				{
					i = 2
					if ($i ~ /^\[/) while ($i !~ /\]$/) i++
					if ($i ~ /^\[/ || $i ~ /\]$/) i++
					uri = $(i); s = $(i + 1); comps = ""
					for (j = i + 2; j <= NF; j++) comps = comps (comps == "" ? "" : " ") $j
					if (s == suite || s ~ "^" suite "-(updates|security)$") print "deb " uri " " s " " comps
				}' "$f"
			;;
		esac
	done
}

# The mirror debootstrap uses: the URI of the entry for $CHROOT_SUITE itself.
chroot_mirror() {
	chroot_host_sources | awk -v suite="$CHROOT_SUITE" '$3 == suite { print $2; exit }'
}

# chroot_run CMD... — CMD in the chroot $CHROOT, as CHROOT_MODE says (above); the exit status
# is CMD's.
chroot_run() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	unshare -m --propagation private -- bash -euc '
		R=$1 mode=$2
		shift 2
		case $mode in bind|nocap) mount --bind "$R" "$R" ;; esac
		mount -t proc proc "$R/proc"
		mount --rbind /sys "$R/sys"
		mount --bind /dev "$R/dev"
		mount --bind /dev/pts "$R/dev/pts"
		if [ "$mode" = nocap ]; then
			exec setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin -- chroot "$R" "$@"
		fi
		exec chroot "$R" "$@"' chroot-run "$CHROOT" "${CHROOT_MODE:-bind}" "${CHROOT_ENV[@]}" "$@"
}

# chroot_debs in|out — the shared apt cache into the chroot's, or what apt downloaded there
# back into the shared one (links where both are on one file system)
chroot_debs() {
	local shared=$CHROOT_CACHE/apt-archives own=$CHROOT/var/cache/apt/archives from to
	mkdir -p "$shared" "$own/partial"
	case $1 in
	in) from=$shared to=$own ;;
	out) from=$own to=$shared ;;
	esac
	# shellcheck disable=SC2016 # expanded by the inner sh
	find "$from" -maxdepth 1 -name '*.deb' -type f -print0 |
		xargs -0 -r sh -c 'cp -al -n "$@" "$0" 2>/dev/null || cp -a -n "$@" "$0"' "$to" || true
}

# chroot_cleanup — the test's chroot trees go (about 1 GiB each; bats removes its temporary dirs
# only at the end of the run), unless DKM_TEST_KEEP_CHROOT=1. Their mounts lived in the private
# namespaces of chroot_run and ended with it; should any mount below the test's dir be
# visible here all the same, it is detached first, so rm never reaches through one.
chroot_cleanup() {
	local m
	findmnt -rn -o TARGET | grep -F "$BATS_TEST_TMPDIR/" | sort -r | while read -r m; do
		umount -l "$m" || true
	done
	[ "${DKM_TEST_KEEP_CHROOT:-0}" = 1 ] && return 0
	if findmnt -rn -o TARGET | grep -qF "$BATS_TEST_TMPDIR/"; then
		echo "still mounted below $BATS_TEST_TMPDIR: not removing the chroots" >&2
		return 1
	fi
	# the trees only: their logs stay for a failure's report (bats keeps them with
	# --no-tempdir-cleanup)
	find "$BATS_TEST_TMPDIR" -mindepth 1 -maxdepth 1 -type d -name 'chroot-*' -exec rm -rf {} +
}

# chroot_log CMD... — chroot_run with the output appended to $CHROOT_LOG (the test's log); on
# failure its last lines go to stderr, which bats shows
chroot_log() {
	local rc=0 log=${CHROOT_LOG:-$BATS_TEST_TMPDIR/chroot.log} start=$SECONDS
	echo "# chroot[$CHROOT_MODE]: $*" >>"$log"
	chroot_run "$@" >>"$log" 2>&1 || rc=$?
	echo "# exit $rc after $((SECONDS - start)) s" >>"$log"
	if [ "$rc" -ne 0 ]; then
		echo "chroot[$CHROOT_MODE] '$*' exited $rc; last lines of $log:" >&2
		tail -n 40 "$log" >&2
	fi
	return "$rc"
}

# apt-get in the chroot, quietly, answering yes
chroot_apt() {
	local rc=0
	chroot_log apt-get -y -q -o Dpkg::Use-Pty=0 "$@" || rc=$?
	chroot_debs out
	return "$rc"
}

# a tarball is fresh when its recipe is the one given and it is younger than the maximum age
chroot_tarball_fresh() { # chroot_tarball_fresh NAME RECIPE
	local t=$CHROOT_CACHE/$1.tar.zst
	[ -f "$t" ] && [ -f "$CHROOT_CACHE/$1.recipe" ] || return 1
	[ "$(cat "$CHROOT_CACHE/$1.recipe")" = "$2" ] || return 1
	[ -z "$(find "$t" -mtime +"${DKM_TEST_CHROOT_MAX_AGE:-7}")" ]
}

chroot_pack() { # chroot_pack DIR NAME RECIPE — the tree as the cached tarball NAME
	# the downloaded .debs are in the shared cache already
	find "$1/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -delete
	tar -C "$1" --numeric-owner --xattrs --acls -cf - . | zstd -q -T0 -3 -o "$CHROOT_CACHE/$2.tar.zst.new"
	mv -f "$CHROOT_CACHE/$2.tar.zst.new" "$CHROOT_CACHE/$2.tar.zst"
	printf '%s\n' "$3" >"$CHROOT_CACHE/$2.recipe"
}

chroot_unpack() { # chroot_unpack NAME DIR
	mkdir -p "$2"
	zstd -q -dc "$CHROOT_CACHE/$1.tar.zst" | tar -C "$2" --numeric-owner --xattrs --acls -xpf -
}

# The recipe of each tarball: when it changes (the host's sources, the packages, what
# chroot_configure does: bump CHROOT_RECIPE then), the tarball is made again.
CHROOT_RECIPE=2
chroot_recipe() { # chroot_recipe minbase|build
	local base
	base="recipe=$CHROOT_RECIPE suite=$CHROOT_SUITE
sources=$(chroot_host_sources | sort -u | tr '\n' ';')"
	case $1 in
	minbase) echo "$base" ;;
	build) printf '%s\npackages=%s\n' "$base" "$CHROOT_BUILD_PKGS" ;;
	esac
}

# chroot_tarballs — makes the cached tarballs that are missing or stale (under a lock: test
# files run in parallel share them). Prints what it did to fd 3 when it did something.
chroot_tarballs() {
	mkdir -p "$CHROOT_CACHE"
	(
		flock 9
		local mirror tmp
		mirror=$(chroot_mirror)
		[ -n "$mirror" ] || {
			echo "no Debian $CHROOT_SUITE entry in /etc/apt/sources.list{,.d/*}: cannot debootstrap" >&2
			exit 1
		}
		if ! chroot_tarball_fresh bookworm-minbase "$(chroot_recipe minbase)"; then
			tmp=$(mktemp -d "$CHROOT_CACHE/minbase.XXXXXX")
			echo "# making the $CHROOT_SUITE minbase tarball (debootstrap, once)" >&3
			debootstrap --variant=minbase "$CHROOT_SUITE" "$tmp/root" "$mirror" \
				>"$tmp/debootstrap.log" 2>&1 || {
				tail -n 30 "$tmp/debootstrap.log" >&2
				[ -f "$tmp/root/debootstrap/debootstrap.log" ] && tail -n 30 "$tmp/root/debootstrap/debootstrap.log" >&2
				rm -rf "$tmp"
				exit 1
			}
			chroot_configure "$tmp/root"
			CHROOT=$tmp/root CHROOT_MODE=bind CHROOT_LOG=$tmp/apt.log chroot_apt update || { rm -rf "$tmp"; exit 1; }
			chroot_pack "$tmp/root" bookworm-minbase "$(chroot_recipe minbase)"
			rm -rf "$tmp"
		fi
		if ! chroot_tarball_fresh bookworm-build "$(chroot_recipe build)"; then
			tmp=$(mktemp -d "$CHROOT_CACHE/build.XXXXXX")
			echo "# making the build tarball (compilers, once)" >&3
			chroot_unpack bookworm-minbase "$tmp/root"
			CHROOT=$tmp/root chroot_debs in
			# shellcheck disable=SC2086
			CHROOT=$tmp/root CHROOT_MODE=bind CHROOT_LOG=$tmp/apt.log \
				chroot_apt install $CHROOT_BUILD_PKGS || { rm -rf "$tmp"; exit 1; }
			chroot_pack "$tmp/root" bookworm-build "$(chroot_recipe build)"
			rm -rf "$tmp"
		fi
	) 9>"$CHROOT_CACHE/.lock"
}

# What an image builder does after debootstrap: the sources (this machine's Debian entries),
# no daemons started by maintainer scripts, no recommends (what the tests install is exactly
# what they name and its dependencies), unsafe io (the tree is thrown away). And initramfs
# generators set up for speed, as builders of small images do: initramfs-tools with
# MODULES=list, dracut without its generic driver sets and its shutdown module (which wants an
# init system minbase lacks). Neither changes what dkm-hook's hook and module put in: the
# modules that belong, whatever MODULES= says. MODULES=most takes minutes per image here.
chroot_configure() { # chroot_configure DIR
	local R=$1
	chroot_host_sources | sort -u >"$R/etc/apt/sources.list"
	printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
	chmod 0755 "$R/usr/sbin/policy-rc.d"
	cat >"$R/etc/apt/apt.conf.d/90dkm-hook-tests" <<-'EOF'
		APT::Install-Recommends "false";
		Acquire::Retries "3";
		APT::Keep-Downloaded-Packages "true";
		Binary::apt::APT::Keep-Downloaded-Packages "true";
	EOF
	echo force-unsafe-io >"$R/etc/dpkg/dpkg.cfg.d/90dkm-hook-tests"
	mkdir -p "$R/etc/initramfs-tools/conf.d" "$R/etc/dracut.conf.d"
	echo MODULES=list >"$R/etc/initramfs-tools/conf.d/90-dkm-hook-tests"
	echo 'omit_dracutmodules+=" kernel-modules kernel-modules-extra kernel-network-modules shutdown "' \
		>"$R/etc/dracut.conf.d/90-dkm-hook-tests.conf"
	# debootstrap leaves the host's name resolution out of the tree
	cp -L /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
}

# chroot_new minbase|build [MODE] — a fresh chroot for this test from the cached tarball, in
# CHROOT (under $BATS_TEST_TMPDIR), its log in CHROOT_LOG; MODE plain|bind|nocap (default
# bind) in CHROOT_MODE. Its package lists are the ones chroot_fresh_lists fetched.
chroot_new() {
	local name=$1
	CHROOT_MODE=${2:-bind}
	CHROOT=$BATS_TEST_TMPDIR/chroot-$name-$RANDOM
	CHROOT_LOG=$CHROOT.log
	chroot_unpack "bookworm-$name" "$CHROOT"
	chroot_debs in
	cp -L /etc/resolv.conf "$CHROOT/etc/resolv.conf" 2>/dev/null || true
	if [ -d "$BATS_FILE_TMPDIR/apt-lists" ]; then
		rm -rf "$CHROOT/var/lib/apt/lists"
		cp -a "$BATS_FILE_TMPDIR/apt-lists" "$CHROOT/var/lib/apt/lists"
	fi
}

# The mirror moves on (a new kernel ABI, the old one's .debs gone) while a tarball's package
# lists stay as they were: `apt-get update` once per test file run, in a minbase chroot, and
# every chroot_new starts from those lists. Also drops .debs nothing asked for in 30 days
# from the shared apt cache.
chroot_fresh_lists() {
	local CHROOT CHROOT_MODE CHROOT_LOG
	find "$CHROOT_CACHE/apt-archives" -maxdepth 1 -name '*.deb' -ctime +30 -delete 2>/dev/null || true
	rm -rf "$BATS_FILE_TMPDIR/apt-lists"
	CHROOT_MODE=bind
	CHROOT=$BATS_FILE_TMPDIR/lists-root
	CHROOT_LOG=$BATS_FILE_TMPDIR/lists.log
	chroot_unpack bookworm-minbase "$CHROOT"
	cp -L /etc/resolv.conf "$CHROOT/etc/resolv.conf" 2>/dev/null || true
	chroot_apt update
	mv "$CHROOT/var/lib/apt/lists" "$BATS_FILE_TMPDIR/apt-lists"
	rm -rf "$CHROOT"
}

# The newest kernel in the chroot's /lib/modules (the one linux-image-amd64 or
# linux-headers-amd64 brought)
chroot_kver() {
	find "$CHROOT/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n 1
}

# dkm-hook's own .deb, built once per test file run from the working tree as it is
# (BATS_FILE_TMPDIR/pkg), without its unit tests (the C suite runs them)
chroot_build_deb() {
	local pkg=$BATS_FILE_TMPDIR/pkg src
	src=$pkg/dkm-hook-src
	[ -n "$(ls "$pkg"/dkm-hook_*.deb 2>/dev/null)" ] && return 0
	"$TOP/tests/deps" package >&2
	mkdir -p "$src"
	(cd "$TOP" && git ls-files -z -co --exclude-standard | xargs -0 cp --parents -a -t "$src")
	(cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) \
		>"$pkg/build.log" 2>&1 || {
		tail -n 30 "$pkg/build.log" >&2
		return 1
	}
}

chroot_deb() {
	ls "$BATS_FILE_TMPDIR"/pkg/dkm-hook_*_"$(dpkg --print-architecture)".deb
}

# dkm-hook from its .deb, with apt (which brings its dependencies)
chroot_install_dkm_hook() {
	local deb
	deb=$(chroot_deb)
	cp "$deb" "$CHROOT/tmp/"
	chroot_apt install "/tmp/$(basename "$deb")"
}

# The module-test fixture as an administrator or a *-dkms package registers a source: in
# /usr/src/<pkg>-<ver>, marked as needed in the initramfs, then `dkm-hook add`.
chroot_register_fixture() {
	local src=$CHROOT/usr/src/module-test-0.1
	cp -a "$FIXTURES/module-test" "$src"
	echo 'REMAKE_INITRD="yes"' >>"$src/dkms.conf"
	chroot_log dkm-hook add /usr/src/module-test-0.1
}

# The defaults of a test file that loads this (redefine them after the load to change them):
# once per file the cached tarballs, fresh package lists and our .debs built from this tree;
# after each test its chroots go.
setup_file() {
	[ "$(id -u)" -eq 0 ] || { echo "needs root (chroot, mounts)" >&2; return 1; }
	command -v debootstrap >/dev/null || { echo "debootstrap is missing: tests/deps check installs it" >&2; return 1; }
	chroot_tarballs
	chroot_fresh_lists
	chroot_build_deb
}

teardown() {
	chroot_cleanup
}
