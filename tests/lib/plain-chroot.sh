#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs a command in a plain chroot: DIR is an ordinary directory, not a mount point (as a
# debootstrap or live-build chroot is), with the host's /usr and /etc bound read-only, /dev,
# /sys and a /proc. Meant to run under `unshare -m --propagation private|shared`, so that every
# mount made here goes away with the namespace.
# Usage: plain-chroot.sh DIR DKM_BINARY KVER FIXTURE_DIR CMD...
#   inside: /bin-dkm/dkm-hook, a scratch root /scratch with lib/modules/KVER/build -> the
#   real headers, and the fixture at /src
set -euo pipefail
C=$1 BIN=$2 K=$3 FIX=$4
shift 4
mkdir -p "$C"/{usr,etc,proc,dev,sys,tmp,run,bin-dkm} "$C/scratch/lib/modules/$K"
for l in bin lib lib64 sbin; do ln -sfn "usr/$l" "$C/$l"; done
mount --bind /usr "$C/usr" && mount -o remount,bind,ro "$C/usr"
mount --bind /etc "$C/etc" && mount -o remount,bind,ro "$C/etc"
mount --rbind /dev "$C/dev"
mount --rbind /sys "$C/sys"
mount -t proc proc "$C/proc"
cp "$BIN" "$C/bin-dkm/dkm-hook"
ln -sfn "$(readlink -f "/lib/modules/$K/build")" "$C/scratch/lib/modules/$K/build"
cp -a "$FIX" "$C/src"
exec chroot "$C" "$@"
