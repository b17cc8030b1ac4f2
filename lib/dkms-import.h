/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

struct dkm_ctx;

/* `dkm-hook import`: adopt a DKMS tree (logical path, default /var/lib/dkms): every added
 * package is registered, every built module stored as our artefact, every installed one
 * recorded in a manifest (after checking that the installed file is the built one), without
 * building anything. Returns the number of packages that could not be imported (0: all were),
 * or -errno (-ENOENT: no DKMS tree there). */
int dkm_dkms_import(struct dkm_ctx *ctx, const char *dkms_tree);
