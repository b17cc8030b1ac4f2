#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# dracut module 50dkm-hook: puts dkm-hook's modules that the kernel needs early into the
# initramfs (docs/kernel-integration.md). Sourced by dracut, which sets $kernel, $srcmods
# (its module dir for $kernel: --kmoddir, or <sysroot>/lib/modules/$kernel), $initdir,
# $hostonly and $dracutsysrootdir.
#
# dracut may run before the kernel-install plugin or the postinst.d hook (50-dracut.install
# sorts after 40-dkm-hook.install, but a plain `dracut --kver` does not), so installkernel()
# first makes sure our modules are built and installed for $kernel, then asks dkm-hook which
# ones belong (`dkm-hook initrd-modules`: REMAKE_INITRD, initrd_packages=, the root file
# system's provider) and names each one: hostonly mode and dracut's glob rules would not find
# them in updates/dkms. Signed and compressed files go in as they are. A module that belongs
# but could not be built fails installkernel(), so dracut makes no image that cannot boot
# (unless fail_policy=never).
#
# dkm-hook's root is $DKM_HOOK_ROOT, else dracut's --sysroot, else /; it must be the tree
# dracut reads ($srcmods), or the modules we install are not the ones dracut sees.

# the program; DKM_HOOK_BIN lets tests use a build that is not on dracut's PATH
_dkm_hook() {
    "${DKM_HOOK_BIN:-dkm-hook}" "$@"
}

_dkm_root() {
    if [[ -n ${DKM_HOOK_ROOT-} ]]; then
        printf '%s\n' "$DKM_HOOK_ROOT"
    elif [[ -n ${dracutsysrootdir-} ]]; then
        printf '%s\n' "$dracutsysrootdir"
    else
        printf '/\n'
    fi
}

check() {
    # without dkm-hook (removed, not purged) there is nothing to put in
    command -v "${DKM_HOOK_BIN:-dkm-hook}" >/dev/null || return 1
    return 0
}

depends() {
    return 0
}

# shellcheck disable=SC2154 # $kernel and $srcmods are set by dracut
installkernel() {
    local root list rc=0 mod state n=0
    root=$(_dkm_root)
    root=${root%/}
    if [[ ! $srcmods -ef ${root:-/}/lib/modules/$kernel ]]; then
        derror "dkm-hook: dracut reads the modules of $kernel from '$srcmods', dkm-hook installs them into '${root}/lib/modules/$kernel': set DKM_HOOK_ROOT (or --sysroot) to the root of --kmoddir"
        return 1
    fi
    # the kernel-install plugin or the postinst.d hook may not have run yet; its failures
    # are judged by initrd-modules below. /etc/dkms/no-autoinstall turns automatic builds
    # off, here as in the kernel hooks: what is installed is what goes in.
    if [[ -e ${root}/etc/dkms/no-autoinstall ]]; then
        dinfo "dkm-hook: automatic builds are disabled by '${root}/etc/dkms/no-autoinstall': adding what is installed"
    elif [[ ${DKM_HOOK_SKIP_REBUILD-} == 1 ]]; then
        # dkm-hook itself runs dracut, right after its own rebuild, install or uninstall
        :
    else
        DKM_HOOK_ROOT=${root:-/} _dkm_hook rebuild "$kernel" --no-initrd >&2 || :
    fi
    list=$(DKM_HOOK_ROOT=${root:-/} _dkm_hook initrd-modules "$kernel") || rc=$?
    if ((rc != 0)); then
        derror "dkm-hook: $kernel needs a module that is not there (see above): no initramfs is made"
        return 1
    fi
    while IFS=$'\t' read -r mod _ state _; do
        [[ -n $mod && $state == installed ]] || continue
        # dkm-hook refuses such names at add; a name that is not one must never reach
        # instmods (dracut-install) as an option
        if [[ $mod == [-.]* || $mod == *[!A-Za-z0-9._+~-]* ]]; then
            derror "dkm-hook: '$mod' (for $kernel) is not a module name (letters, digits and '._+-~', not starting with '-' or '.'): not passing it to instmods; check 'dkm-hook status'"
            return 1
        fi
        # -c: fail when the module is missing (plain instmods returns 0); no hostonly: the
        # host need not have it loaded
        if ! hostonly='' instmods -c "$mod"; then
            derror "dkm-hook: module '$mod' for $kernel is installed but dracut cannot add it from '$srcmods'"
            return 1
        fi
        n=$((n + 1))
    done <<<"$list"
    dinfo "dkm-hook: $n module(s) for $kernel added"
    return 0
}
