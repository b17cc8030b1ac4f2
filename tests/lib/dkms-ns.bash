# SPDX-License-Identifier: LGPL-2.1-or-later
# Running programs that hard-code the system's paths (Debian's dkms, its common.postinst) against
# a scratch root, without touching the host: a private mount namespace in which the root's
# lib/modules, var/lib/dkms, etc/dkms and usr/src/<pkg> entries are bind-mounted over the
# host's paths (new mount points live on throw-away overlays). Nothing is written to the host.
#
#   debian_dkms_fetch            -> DEBIAN_DKMS (extracted dkms .deb, cached per test file run)
#   debian_deb_fetch PKG         -> prints the dir where PKG's .deb is extracted (cached)
#   in_root_ns ROOT CMD [ARGS]   run CMD with ROOT's trees at the system paths

_dkms_cache() {
	local c=${DKM_TEST_DEB_CACHE:-${BATS_FILE_TMPDIR:?needs bats >= 1.4}/debs}
	mkdir -p "$c" && echo "$c"
}

# apt-get download into the cache, then dpkg-deb -x; never installs anything
debian_deb_fetch() {
	local pkg=$1 cache deb
	cache=$(_dkms_cache)
	if [ ! -d "$cache/x/$pkg" ]; then
		deb=$(ls "$cache"/"${pkg}"_*.deb 2>/dev/null | head -1)
		if [ -z "$deb" ]; then
			# a machine that never ran apt-get update has no package lists: get them once
			(cd "$cache" && apt-get download "$pkg" >/dev/null 2>&1) ||
				{ [ "$(id -u)" = 0 ] && apt-get update -q >/dev/null 2>&1 &&
					(cd "$cache" && apt-get download "$pkg" >/dev/null 2>&1); } || {
				echo "cannot download $pkg with apt-get (the Debian mirror is needed)" >&2
				return 1
			}
			deb=$(ls "$cache"/"${pkg}"_*.deb | head -1)
		fi
		mkdir -p "$cache/x/$pkg.tmp" && dpkg-deb -x "$deb" "$cache/x/$pkg.tmp" &&
			mv "$cache/x/$pkg.tmp" "$cache/x/$pkg"
	fi
	echo "$cache/x/$pkg"
}

debian_dkms_fetch() {
	DEBIAN_DKMS=$(debian_deb_fetch dkms) || return 1
	[ -x "$DEBIAN_DKMS/usr/sbin/dkms" ]
}

in_root_ns() {
	local root=$1
	shift
	local ovl=${BATS_TEST_TMPDIR:?}/ns.$$.$RANDOM
	mkdir -p "$ovl" "$root/var/lib/dkms" "$root/etc/dkms" "$root/usr/src" "$root/lib/modules"
	unshare -m --propagation private bash -c '
		set -e
		root=$1 ovl=$2
		shift 2
		for d in /var/lib /etc /usr/src; do
			n=$(echo "$d" | tr / _)
			mkdir -p "$ovl/$n.u" "$ovl/$n.w"
			mount -t overlay overlay -o "lowerdir=$d,upperdir=$ovl/$n.u,workdir=$ovl/$n.w" "$d"
		done
		mkdir -p /var/lib/dkms /etc/dkms
		mount --bind "$root/var/lib/dkms" /var/lib/dkms
		mount --bind "$root/etc/dkms" /etc/dkms
		for s in "$root"/usr/src/*; do
			[ -d "$s" ] || continue
			b=${s##*/}
			case $b in linux-headers-*|linux-kbuild-*) continue ;; esac
			mkdir -p "/usr/src/$b"
			mount --bind "$s" "/usr/src/$b"
		done
		mount --bind "$root/lib/modules" /lib/modules
		exec "$@"
	' in_root_ns "$root" "$ovl" "$@"
}
