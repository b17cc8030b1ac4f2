/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

struct dkm_ctx;

/* The state tree (docs/reliability.md), under <root><state_dir>:
 *
 *   packages/<pkg>/<ver>/package                      the registration (key=value)
 *   packages/<pkg>/<ver>/kernels/<kver>/<arch>/state  built|installed|failed|excluded (key=value)
 *   packages/<pkg>/<ver>/kernels/<kver>/<arch>/modules/<name>.ko[.xz|.zst|.gz]  artefacts
 *   packages/<pkg>/<ver>/kernels/<kver>/<arch>/manifest   what install placed (name path sha256)
 *   packages/<pkg>/<ver>/kernels/<kver>/<arch>/build.log  the last build's log
 *   kernels/<kver>/originals/<module>.record + .file  displaced modules of the kernel
 *
 * and, while a command changes the registry, for recovery from a crash (dkm_pkg_recover):
 *   packages/<pkg>/.adding-<ver>                      add: its copy of the source is ours
 *   packages/<pkg>/.removing-<ver>                    remove: the registration, being deleted
 *   packages/<pkg>/<ver>/kernels/<kver>/.removing-<arch>  unbuild: the build, being deleted
 *
 * Every file is replaced atomically (write, fsync, rename), so readers never see a torn
 * state and `status` needs no lock. */

/* A small key=value document. */
struct dkm_kv {
	char **keys;
	char **values;
	size_t n;
};
/* Adds the key=value lines of text (len bytes, or up to a NUL) to kv; lines starting with '#'
 * and lines without '=' are skipped. */
void dkm_kv_parse(const char *text, size_t len, struct dkm_kv *kv);
int dkm_kv_read(const char *path, struct dkm_kv *ret);
int dkm_kv_write(const char *path, const struct dkm_kv *kv);
const char *dkm_kv_get(const struct dkm_kv *kv, const char *key);
void dkm_kv_set(struct dkm_kv *kv, const char *key, const char *value);
void dkm_kv_done(struct dkm_kv *kv);

struct dkm_pkg {
	char *name;
	char *version;
	char *source;	/* logical path of the source dir */
	char **modules; /* module names, as of registration */
	bool autoinstall;
	bool remake_initrd;
	bool copied_source; /* add copied it into the source tree: remove deletes it */
	bool binary;	    /* registered by import-binary: built elsewhere, no source here */
};

int dkm_pkg_load(struct dkm_ctx *ctx, const char *name, const char *version, struct dkm_pkg **ret);
int dkm_pkg_save(struct dkm_ctx *ctx, const struct dkm_pkg *pkg);
int dkm_pkg_unregister(struct dkm_ctx *ctx, const struct dkm_pkg *pkg);
/* packages/<pkg>/.adding-<ver>: an add is putting its copy of the source in place */
char *dkm_pkg_marker(struct dkm_ctx *ctx, const char *name, const char *version);
/* Add, remove and unbuild interrupted (power cut, SIGKILL) after their commit, or add before
 * it: finished or rolled back (repair), or only listed. Returns how many, ret_found says what
 * (for fsck). */
int dkm_pkg_recover(struct dkm_ctx *ctx, bool repair, char ***ret_found);
struct dkm_pkg *dkm_pkg_free(struct dkm_pkg *pkg);
/* Every registered package version (sorted by name, then version). */
int dkm_pkg_list(struct dkm_ctx *ctx, struct dkm_pkg ***ret, size_t *ret_n);
void dkm_pkg_list_free(struct dkm_pkg **l, size_t n);
/* A package version dkm_pkg_list() skips because its registration is damaged, unreadable or
 * missing (while builds are there); an interrupted add is not one (recovery's). */
struct dkm_damaged {
	char *name;
	char *version;
	char *dir;	 /* the registration's directory (holding the file 'package') */
	const char *why; /* "missing", "unreadable", "damaged (...)" */
};
/* Every one of them, sorted, ended by an entry whose name is NULL; free with
 * dkm_damaged_free(). */
struct dkm_damaged *dkm_pkg_damaged(struct dkm_ctx *ctx);
void dkm_damaged_free(struct dkm_damaged *l);
static inline void dkm_damaged_freep(struct dkm_damaged **p)
{
	dkm_damaged_free(*p);
}
#define _cleanup_damaged_ _cleanup_(dkm_damaged_freep)
/* Versions registered for a package name (sorted). */
char **dkm_pkg_versions(struct dkm_ctx *ctx, const char *name);
/* Which registered packages build a module with this name? "pkg/ver" strings. */
char **dkm_pkg_owners_of_module(struct dkm_ctx *ctx, const char *module);

/* What is recorded for one module of a (package, version, kernel, arch), in the key=value
 * documents of the registry as "module.<name>.<field>=" lines:
 *   state file:      file, location, sha256        (the artefact under modules/)
 *   manifest:        path, sha256                  (what install placed)
 *   install journal: src, path, sha256, stage, old, oldsha, displace, ours
 * dkm_modrec_get/_set are the only readers and writers of those keys. */
struct dkm_modrec {
	const char *file;     /* artefact file name under modules/ ("m.ko.xz") */
	const char *location; /* DEST_MODULE_LOCATION after the distribution's rule */
	const char *src;      /* journal: the artefact install copies */
	const char *path;     /* logical path of the installed file */
	const char *sha256;   /* of the artefact, = of the installed file */
	const char *stage;    /* journal: the staged copy next to path */
	const char *old;      /* journal: the previous install's path */
	const char *oldsha;   /* journal: its sha256 */
	const char *displace; /* journal: the kernel's files it displaces (space-separated) */
	const char *ours;     /* journal: stray files of this package ("<sha256>:<rel>" list) */
};
/* The fields recorded for module in kv (pointers into kv, valid until kv changes; NULL where
 * there is no line). */
void dkm_modrec_get(const struct dkm_kv *kv, const char *module, struct dkm_modrec *ret);
/* Records the non-NULL fields of rec for module in kv, in the order of the struct. */
void dkm_modrec_set(struct dkm_kv *kv, const char *module, const struct dkm_modrec *rec);

/* The state of one (package, version, kernel, arch), the state= line of its state file. The
 * names in the file are the table's (dkm_state_to_string), as every version wrote them. */
enum dkm_state {
	DKM_STATE_NONE,	     /* no state file, or one without a state= line */
	DKM_STATE_BUILT,     /* "built": artefacts under modules/, not installed */
	DKM_STATE_INSTALLED, /* "installed": artefacts placed, the manifest says where */
	DKM_STATE_FAILED,    /* "failed": the build failed, its log is kept */
	DKM_STATE_EXCLUDED,  /* "excluded": BUILD_EXCLUSIVE_* rules this kernel out */
	_DKM_STATE_MAX,
	DKM_STATE_INVALID = -EINVAL, /* a state= line naming none of these: damaged */
};

/* "built", "installed", "failed", "excluded"; NULL for NONE and INVALID */
const char *dkm_state_to_string(enum dkm_state s);
/* The inverse; DKM_STATE_INVALID for anything else (NULL included). */
enum dkm_state dkm_state_from_string(const char *s);
static inline bool dkm_state_has_build(enum dkm_state s)
{
	return s == DKM_STATE_BUILT || s == DKM_STATE_INSTALLED;
}

/* One (package, version, kernel, arch) */
struct dkm_inst {
	enum dkm_state state;
	struct dkm_kv kv; /* everything else: reason, log, modules, compression, signer... */
};
/* The state= line as recorded: the state's name, the damaged line's text for INVALID, NULL
 * for NONE (for messages that show what is there). */
const char *dkm_inst_state_name(const struct dkm_inst *inst);

char *dkm_pkg_dir(struct dkm_ctx *ctx, const char *name, const char *version);
char *dkm_inst_dir(struct dkm_ctx *ctx, const char *name, const char *version, const char *kver,
		   const char *arch);
/* where unbuild renames an instance dir before deleting it (its commit) */
char *dkm_inst_tomb(struct dkm_ctx *ctx, const char *name, const char *version, const char *kver,
		    const char *arch);
int dkm_inst_load(struct dkm_ctx *ctx, const char *name, const char *version, const char *kver,
		  const char *arch, struct dkm_inst *ret); /* ret->state NONE if none */
int dkm_inst_save(struct dkm_ctx *ctx, const char *name, const char *version, const char *kver,
		  const char *arch, struct dkm_inst *inst);
void dkm_inst_done(struct dkm_inst *inst);
/* (kver, arch) pairs with state for a package version: NULL-terminated "kver\tarch" strings */
char **dkm_inst_list(struct dkm_ctx *ctx, const char *name, const char *version);

static inline void dkm_pkg_freep(struct dkm_pkg **p)
{
	dkm_pkg_free(*p);
}
#define _cleanup_pkg_ _cleanup_(dkm_pkg_freep)
static inline void dkm_kv_donep(struct dkm_kv *kv)
{
	dkm_kv_done(kv);
}
#define _cleanup_kv_ _cleanup_(dkm_kv_donep)
static inline void dkm_inst_donep(struct dkm_inst *i)
{
	dkm_inst_done(i);
}
#define _cleanup_inst_ _cleanup_(dkm_inst_donep)
