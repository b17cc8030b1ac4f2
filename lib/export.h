/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

struct dkm_ctx;
struct dkm_opts;

/* Build once, install everywhere (docs/export.md).
 *
 * `dkm-hook export <pkg/ver> -k <kver> [--format tar|deb] [-o FILE]` packs the finished
 * modules of one build (signed and compressed as stored in the state tree, checked against
 * their recorded sha256) into
 *   tar: a ustar archive: "dkm-hook-binary" (key=value metadata: package, version, kernel,
 *        arch, per module its file, install location and sha256, compression, signature),
 *        "modules/<file>" per module, and "signing-cert.der" when the modules are signed;
 *   deb: a Debian binary package "<pkg>-modules-<kver>" that Depends on linux-image-<kver>,
 *        ships the files under /lib/modules/<kver>/<location>/ and whose maintainer scripts
 *        run depmod and refresh the kernel's initramfs (honouring $DPKG_ROOT), built with
 *        dpkg-deb.
 * Default format tar; default FILE "<pkg>-<ver>_<kver>_<arch>.tar" or dpkg's
 * "<name>_<version>_<arch>.deb" in the current directory. Returns 0 or -errno (-ENOENT: no
 * such build; -EINVAL/-EBADMSG: what is stored or asked for is not valid). */
int dkm_cmd_export(struct dkm_ctx *ctx, const char *pkgarg, const struct dkm_opts *o,
		   const char *format, const char *output);
/* export's arguments, checked before anything is read: exactly one kernel in o, a format of
 * tar or deb (NULL: tar) and, for deb, an architecture Debian has a name for. Returns 0, or
 * -EINVAL (logged, saying what to give instead). */
int dkm_export_args_check(struct dkm_ctx *ctx, const struct dkm_opts *o, const char *format);

/* `dkm-hook import-binary <file>`: install an exported tar on a machine without compilers,
 * through the same path as a local build: the package is registered (marked binary: no
 * source), the modules stored as the build for that kernel, installed atomically with the
 * displaced-module archive, manifest and depmod; the initramfs is refreshed when a module
 * belongs in it. `status`, `uninstall`, `remove` and `kernel-remove` then work as for a
 * package built here. Every member is checked (names, sha256, vermagic of each module against
 * the kernel) before anything is written. Returns 0 or -errno (-ENOENT: no such file, package or
 * kernel; -EINVAL/-EBADMSG: not a valid binary package). */
int dkm_cmd_import_binary(struct dkm_ctx *ctx, const char *file, const struct dkm_opts *o);
