/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `export` and `import-binary`: a build made here, installed elsewhere (see export.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "actions.h"
#include "compress.h"
#include "ctx.h"
#include "elf-module.h"
#include "export.h"
#include "initrd.h"
#include "install.h"
#include "kernel.h"
#include "lock.h"
#include "modsig.h"
#include "registry.h"
#include "sign.h"
#include "spawn.h"
#include "tar.h"
#include "util.h"

#define BINARY_FORMAT "dkm-hook-binary 1"
#define META_NAME "dkm-hook-binary"
#define CERT_NAME "signing-cert.der"
#define ARCHIVE_MAX ((size_t)1 << 30)

/* The finished modules of one (package, version, kernel, arch), read from the state tree. */
struct artefact {
	char *module;
	char *file;	/* "dkms_test.ko.xz" */
	char *location; /* "/updates/dkms" */
	char *sha256;
	char *data;
	size_t size;
};

struct bundle {
	struct dkm_pkg *pkg;
	char *kver, *arch;
	struct dkm_kv meta; /* what goes into the metadata file, in order */
	struct artefact *mods;
	size_t n_mods;
	char *cert; /* signing certificate (DER), NULL when unsigned */
	size_t cert_size;
};

static void bundle_done(struct bundle *b)
{
	for (size_t i = 0; i < b->n_mods; i++) {
		free(b->mods[i].module);
		free(b->mods[i].file);
		free(b->mods[i].location);
		free(b->mods[i].sha256);
		free(b->mods[i].data);
	}
	free(b->mods);
	dkm_pkg_free(b->pkg);
	free(b->kver);
	free(b->arch);
	free(b->cert);
	dkm_kv_done(&b->meta);
}

/* "pkg/ver", or "pkg" when one version is registered */
static int bundle_load(struct dkm_ctx *ctx, const char *arg, const char *kver, const char *arch,
		       struct bundle *b)
{
	_cleanup_inst_ struct dkm_inst inst = { 0 };
	_cleanup_free_ char *dir = NULL;
	_cleanup_strv_free_ char **mods = NULL;
	const char *signed_, *v;
	int r;

	r = dkm_resolve_pkg(ctx, arg, &b->pkg);
	if (r < 0)
		return r;
	b->kver = xstrdup(kver);
	b->arch = xstrdup(arch);
	r = dkm_inst_load(ctx, b->pkg->name, b->pkg->version, kver, arch, &inst);
	if (r < 0)
		return dkm_err(ctx, r, "cannot read the state of %s/%s for %s: %s", b->pkg->name,
			       b->pkg->version, kver, strerror(-r));
	if (!dkm_state_has_build(inst.state))
		return dkm_err(
			ctx, -ENOENT,
			"%s/%s is not built for %s (%s, state %s): run 'dkm-hook build %s/%s -k %s' first",
			b->pkg->name, b->pkg->version, kver, arch,
			dkm_inst_state_name(&inst) ?: "none", b->pkg->name, b->pkg->version, kver);
	dir = dkm_inst_dir(ctx, b->pkg->name, b->pkg->version, kver, arch);
	mods = strv_split(strempty(dkm_kv_get(&inst.kv, "modules")), " ");
	if (!mods[0])
		return dkm_err(ctx, -EINVAL, "corrupt state of %s/%s for %s: no modules recorded",
			       b->pkg->name, b->pkg->version, kver);

	dkm_kv_set(&b->meta, "format", BINARY_FORMAT);
	dkm_kv_set(&b->meta, "package", b->pkg->name);
	dkm_kv_set(&b->meta, "version", b->pkg->version);
	dkm_kv_set(&b->meta, "kernel", kver);
	dkm_kv_set(&b->meta, "arch", arch);
	dkm_kv_set(&b->meta, "remake_initrd", b->pkg->remake_initrd ? "yes" : "no");
	dkm_kv_set(&b->meta, "modules", dkm_kv_get(&inst.kv, "modules"));
	b->mods = xcalloc(strv_length(mods), sizeof(*b->mods));
	for (size_t i = 0; mods[i]; i++) {
		struct artefact *a = &b->mods[b->n_mods];
		struct dkm_modrec rec;
		_cleanup_free_ char *path = NULL;
		char sha[65];

		dkm_modrec_get(&inst.kv, mods[i], &rec);
		a->module = xstrdup(mods[i]);
		b->n_mods++;
		a->file = xstrdup(strempty(rec.file));
		a->location = xstrdup(strempty(rec.location));
		a->sha256 = xstrdup(strempty(rec.sha256));
		if (!name_is_valid(a->file) || a->location[0] != '/' || strlen(a->sha256) != 64)
			return dkm_err(ctx, -EINVAL, "corrupt state of %s/%s for %s: module '%s'",
				       b->pkg->name, b->pkg->version, kver, mods[i]);
		path = xasprintf("%s/modules/%s", dir, a->file);
		r = read_full_file(path, ARCHIVE_MAX, &a->data, &a->size);
		if (r < 0)
			return dkm_err(ctx, r, "cannot read the built module '%s': %s", path,
				       strerror(-r));
		sha256_buf(a->data, a->size, sha);
		if (!streq(sha, a->sha256))
			return dkm_err(
				ctx, -EBADMSG,
				"the built module '%s' changed since it was built (sha256 %s, recorded %s): rebuild it with 'dkm-hook build %s/%s -k %s --force'",
				path, sha, a->sha256, b->pkg->name, b->pkg->version, kver);
		dkm_modrec_set(&b->meta, mods[i],
			       &(struct dkm_modrec){ .file = a->file,
						     .location = a->location,
						     .sha256 = a->sha256 });
	}
	v = dkm_kv_get(&inst.kv, "compression");
	dkm_kv_set(&b->meta, "compression", isempty(v) ? "none" : v);
	signed_ = dkm_kv_get(&inst.kv, "signed");
	dkm_kv_set(&b->meta, "signed", signed_ && streq(signed_, "yes") ? "yes" : "no");
	dkm_kv_set(&b->meta, "sig_hash", strempty(dkm_kv_get(&inst.kv, "sig_hash")));
	dkm_kv_set(&b->meta, "created_by", "dkm-hook " DKM_VERSION);
	if (signed_ && streq(signed_, "yes")) {
		_cleanup_free_ char *cert = dkm_ctx_path(ctx, ctx->sign_cert);
		_cleanup_free_ char *signer = NULL, *key_id = NULL;

		if (read_full_file(cert, 1 << 20, &b->cert, &b->cert_size) < 0)
			dkm_warn(ctx, "the signing certificate '%s' is not readable: not included",
				 cert);
		else if (dkm_cert_describe(ctx, cert, &signer, &key_id) >= 0) {
			dkm_kv_set(&b->meta, "signer", signer);
			dkm_kv_set(&b->meta, "sig_key", key_id);
		}
	}
	return 0;
}

static char *meta_text(const struct dkm_kv *kv)
{
	char *s = xstrdup("");

	for (size_t i = 0; i < kv->n; i++) {
		char *n = xasprintf("%s%s=%s\n", s, kv->keys[i], kv->values[i]);

		free(s);
		s = n;
	}
	return s;
}

static uint64_t archive_mtime(void)
{
	const char *e = getenv("SOURCE_DATE_EPOCH");
	char *end;

	if (e && *e) {
		unsigned long long v = strtoull(e, &end, 10);

		if (!*end)
			return v;
	}
	return (uint64_t)time(NULL);
}

static int write_tar(struct dkm_ctx *ctx, const struct bundle *b, const char *out)
{
	_cleanup_free_ char *buf = NULL, *meta = meta_text(&b->meta);
	size_t len = 0;
	uint64_t mtime = archive_mtime();
	int r;

	dkm_tar_add(&buf, &len, META_NAME, meta, strlen(meta), 0644, mtime);
	for (size_t i = 0; i < b->n_mods; i++) {
		_cleanup_free_ char *name = xasprintf("modules/%s", b->mods[i].file);

		dkm_tar_add(&buf, &len, name, b->mods[i].data, b->mods[i].size, 0644, mtime);
	}
	if (b->cert)
		dkm_tar_add(&buf, &len, CERT_NAME, b->cert, b->cert_size, 0644, mtime);
	dkm_tar_finish(&buf, &len);
	r = write_file_atomic(out, buf, len, 0644);
	if (r < 0)
		return dkm_err(ctx, r, "cannot write '%s': %s", out, strerror(-r));
	return 0;
}

/* ---- .deb ---- */

/* Debian's architecture name for a `uname -m` one; NULL if we do not know it. */
static const char *deb_arch(const char *arch)
{
	static const struct {
		const char *uname, *deb;
	} map[] = {
		{ "x86_64", "amd64" },	      { "aarch64", "arm64" },	{ "armv7l", "armhf" },
		{ "i386", "i386" },	      { "i686", "i386" },	{ "ppc64le", "ppc64el" },
		{ "s390x", "s390x" },	      { "riscv64", "riscv64" }, { "mips64", "mips64el" },
		{ "loongarch64", "loong64" },
	};

	for (size_t i = 0; i < ELEMENTSOF(map); i++)
		if (streq(map[i].uname, arch))
			return map[i].deb;
	return NULL;
}

/* A Debian package name from ours: lower case, [a-z0-9+.-], '_' becomes '-'. */
static char *deb_name(const char *pkg, const char *kver)
{
	char *s = xasprintf("%s-modules-%s", pkg, kver);

	for (char *p = s; *p; p++) {
		*p = (char)tolower((unsigned char)*p);
		if (!isalnum((unsigned char)*p) && !strchr("+.-", *p))
			*p = '-';
	}
	return s;
}

/* A Debian version from ours: [A-Za-z0-9.+~] kept, anything else becomes '+' (a '-' would
 * start a Debian revision); "0~" in front unless it starts with a digit. */
static char *deb_version(const char *ver)
{
	char *s = xasprintf("%s%s", isdigit((unsigned char)ver[0]) ? "" : "0~", ver);

	for (char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(".+~", *p))
			*p = '+';
	return s;
}

static int write_text(struct dkm_ctx *ctx, const char *path, const char *text, mode_t mode)
{
	int r = mkdir_parents(path, 0755);

	if (r >= 0)
		r = write_file_atomic(path, text, strlen(text), mode);
	if (r < 0)
		return dkm_err(ctx, r, "cannot write '%s': %s", path, strerror(-r));
	return 0;
}

/* The maintainer scripts: depmod for the kernel, then its initramfs. They honour $DPKG_ROOT
 * (dpkg --root with --force-script-chrootless) for depmod and leave the initramfs of a
 * foreign root alone. Failures of the initramfs step are warnings: the modules are in place. */
static char *deb_script(const char *kver, bool post_remove)
{
	return xasprintf(
		"#!/bin/sh\n"
		"# generated by dkm-hook export: index the modules of %s and refresh its initramfs\n"
		"set -e\n"
		"kver='%s'\n"
		"root=${DPKG_ROOT:-}\n"
		"case \"$1\" in\n"
		"%s) ;;\n"
		"*) exit 0 ;;\n"
		"esac\n"
		"[ -d \"$root/lib/modules/$kver\" ] || exit 0\n"
		"if [ -n \"$root\" ]; then\n"
		"\tdepmod -a -b \"$root\" -C \"$root/etc/depmod.d\" -C \"$root/lib/depmod.d\" \"$kver\"\n"
		"\techo \"%s: initramfs of $kver under '$root' not refreshed (foreign root)\" >&2\n"
		"\texit 0\n"
		"fi\n"
		"depmod -a \"$kver\"\n"
		"[ -e \"/boot/initrd.img-$kver\" ] || exit 0\n"
		"if command -v update-initramfs >/dev/null 2>&1; then\n"
		"\tupdate-initramfs -u -k \"$kver\" ||\n"
		"\t\techo \"warning: update-initramfs -u -k $kver failed: run it again\" >&2\n"
		"elif command -v dracut >/dev/null 2>&1; then\n"
		"\tdracut -f \"/boot/initrd.img-$kver\" \"$kver\" ||\n"
		"\t\techo \"warning: dracut for $kver failed: run it again\" >&2\n"
		"fi\n"
		"exit 0\n",
		kver, kver, post_remove ? "remove|purge|abort-install" : "configure",
		post_remove ? "postrm" : "postinst");
}

static int write_deb(struct dkm_ctx *ctx, const struct bundle *b, const char *out,
		     const char *debname, const char *debver, const char *debarch)
{
	_cleanup_free_ char *outdir = path_dirname(out);
	_cleanup_free_ char *stage = xasprintf("%s/.dkm-hook-export-XXXXXX", outdir);
	_cleanup_free_ char *tree = NULL, *control = NULL, *tmpdeb = NULL;
	_cleanup_free_ char *script = NULL, *p = NULL, *signer_line = NULL, *certpath = NULL;
	_cleanup_strv_free_ char **argv = NULL, **env = xcalloc(1, sizeof(char *));
	struct dkm_spawn s = { .stdin_fd = -1, .stdout_fd = 2, .stderr_fd = 2 };
	const char *signer = dkm_kv_get(&b->meta, "signer");
	size_t kib = 0;
	int status = 0, r;
	char desc[64];

	if (!mkdtemp(stage))
		return dkm_err(ctx, errno, "cannot create a staging directory in '%s': %s", outdir,
			       strerror(errno));
	(void)chmod(stage, 0755);
	tree = path_join(stage, "tree");
	for (size_t i = 0; i < b->n_mods; i++) {
		const struct artefact *a = &b->mods[i];

		free(p);
		p = xasprintf("%s/lib/modules/%s%s/%s", tree, b->kver, a->location, a->file);
		r = mkdir_parents(p, 0755);
		if (r >= 0)
			r = write_file_atomic(p, a->data, a->size, 0644);
		if (r < 0) {
			dkm_err(ctx, r, "cannot write '%s': %s", p, strerror(-r));
			goto out;
		}
		kib += (a->size + 1023) / 1024;
	}
	/* the certificate goes with the modules: the target enrols it for Secure Boot */
	if (b->cert) {
		certpath = xasprintf("/usr/share/dkm-hook/certs/%s.der", debname);
		free(p);
		p = path_join(tree, certpath);
		r = mkdir_parents(p, 0755);
		if (r >= 0)
			r = write_file_atomic(p, b->cert, b->cert_size, 0644);
		if (r < 0) {
			dkm_err(ctx, r, "cannot write '%s': %s", p, strerror(-r));
			goto out;
		}
		kib += (b->cert_size + 1023) / 1024;
	}
	signer_line =
		signer && certpath
			? xasprintf(" Signed by \"%s\" (%s): the kernel accepts them under Secure\n"
				    " Boot once that certificate is enrolled:\n"
				    " mokutil --import %s\n",
				    signer, strempty(dkm_kv_get(&b->meta, "sig_hash")), certpath)
			: xstrdup(" Not signed.\n");
	control = xasprintf("Package: %s\n"
			    "Version: %s\n"
			    "Architecture: %s\n"
			    "Maintainer: dkm-hook export <root@localhost>\n"
			    "Installed-Size: %zu\n"
			    "Depends: linux-image-%s\n"
			    "Section: kernel\n"
			    "Priority: optional\n"
			    "Description: %s %s kernel modules for Linux %s\n"
			    " Modules %s, built from the dkms.conf source %s/%s by\n"
			    " dkm-hook %s and installed into /lib/modules/%s.\n"
			    "%s",
			    debname, debver, debarch, kib, b->kver, b->pkg->name, b->pkg->version,
			    b->kver, dkm_kv_get(&b->meta, "modules"), b->pkg->name, b->pkg->version,
			    DKM_VERSION, b->kver, signer_line);
	free(p);
	p = xasprintf("%s/DEBIAN/control", tree);
	r = write_text(ctx, p, control, 0644);
	if (r < 0)
		goto out;
	/* a package that belongs in the initramfs (REMAKE_INITRD) says so to the generators
	 * there: on a machine without dkm-hook nothing else would add a module in updates/ */
	if (b->pkg->remake_initrd) {
		const char *mods = strempty(dkm_kv_get(&b->meta, "modules"));
		_cleanup_free_ char *hook =
			xasprintf("#!/bin/sh\n"
				  "# generated by dkm-hook export: the modules of %s/%s belong in the initramfs of %s\n"
				  "case \"$1\" in prereqs) echo; exit 0 ;; esac\n"
				  "[ \"$version\" = '%s' ] || exit 0\n"
				  ". /usr/share/initramfs-tools/hook-functions\n"
				  "for m in %s; do manual_add_modules \"$m\"; done\n",
				  b->pkg->name, b->pkg->version, b->kver, b->kver, mods);
		_cleanup_free_ char *dconf =
			xasprintf("# generated by dkm-hook export: the modules of %s/%s belong in the initramfs of %s\n"
				  "add_drivers+=\" %s \"\n",
				  b->pkg->name, b->pkg->version, b->kver, mods);

		free(p);
		p = xasprintf("%s/usr/share/initramfs-tools/hooks/%s", tree, debname);
		r = mkdir_parents(p, 0755);
		if (r >= 0)
			r = write_text(ctx, p, hook, 0755);
		if (r < 0)
			goto out;
		free(p);
		p = xasprintf("%s/usr/lib/dracut/dracut.conf.d/50-%s.conf", tree, debname);
		r = mkdir_parents(p, 0755);
		if (r >= 0)
			r = write_text(ctx, p, dconf, 0644);
		if (r < 0)
			goto out;
	}
	for (int post_remove = 0; post_remove <= 1; post_remove++) {
		free(p);
		free(script);
		p = xasprintf("%s/DEBIAN/%s", tree, post_remove ? "postrm" : "postinst");
		script = deb_script(b->kver, post_remove);
		r = write_text(ctx, p, script, 0755);
		if (r < 0)
			goto out;
	}
	/* every directory 0755 whatever the umask: dpkg-deb takes modes from the tree */
	{
		_cleanup_free_ char *d = path_join(tree, "DEBIAN");

		(void)chmod(d, 0755);
	}
	tmpdeb = path_join(stage, "out.deb");
	argv = xcalloc(1, sizeof(char *));
	strv_extend(&argv, "dpkg-deb");
	strv_extend(&argv, "--root-owner-group");
	strv_extend(&argv, "--build");
	strv_extend(&argv, tree);
	strv_extend(&argv, tmpdeb);
	strv_push(&env, xasprintf("PATH=%s", getenv("PATH") ?: "/usr/sbin:/usr/bin:/sbin:/bin"));
	strv_extend(&env, "LC_ALL=C");
	if (getenv("SOURCE_DATE_EPOCH"))
		strv_push(&env, xasprintf("SOURCE_DATE_EPOCH=%s", getenv("SOURCE_DATE_EPOCH")));
	s.argv = argv;
	s.envp = env;
	r = dkm_spawn_run(ctx, &s, &status);
	if (r != 0) {
		if (r > 0)
			r = dkm_err(ctx, -EIO, "dpkg-deb --build '%s' failed (%s)", tree,
				    dkm_spawn_describe(status, desc, sizeof(desc)));
		else
			dkm_err(ctx, r, "cannot run dpkg-deb: %s (install the dpkg package)",
				strerror(-r));
		goto out;
	}
	if (rename(tmpdeb, out) < 0) {
		r = dkm_err(ctx, errno, "cannot create '%s': %s", out, strerror(errno));
		goto out;
	}
	r = 0;
out:
	(void)rm_rf(stage);
	return r;
}

int dkm_export_args_check(struct dkm_ctx *ctx, const struct dkm_opts *o, const char *format)
{
	const char *arch = o->arch ? o->arch : dkm_host_arch();

	if (!o->kernels || !o->kernels[0] || o->kernels[1])
		return dkm_err(ctx, -EINVAL, "export needs exactly one kernel: -k <kernel>");
	format = format ? format : "tar";
	if (!streq(format, "tar") && !streq(format, "deb"))
		return dkm_err(ctx, -EINVAL, "--format '%s': expected tar or deb", format);
	if (streq(format, "deb") && !deb_arch(arch))
		return dkm_err(ctx, -EINVAL,
			       "no Debian architecture is known for '%s': export it with --format tar",
			       arch);
	return 0;
}

int dkm_cmd_export(struct dkm_ctx *ctx, const char *pkgarg, const struct dkm_opts *o,
		   const char *format, const char *output)
{
	_cleanup_free_ char *out = NULL, *debname = NULL, *debver = NULL;
	struct bundle b = { 0 };
	const char *arch = o->arch ? o->arch : dkm_host_arch(), *debarch = NULL;
	bool deb;
	int r;

	r = dkm_export_args_check(ctx, o, format);
	if (r < 0)
		return r;
	format = format ? format : "tar";
	deb = streq(format, "deb");
	if (deb)
		debarch = deb_arch(arch);
	r = bundle_load(ctx, pkgarg, o->kernels[0], arch, &b);
	if (r < 0)
		goto out;
	if (deb) {
		debname = deb_name(b.pkg->name, b.kver);
		debver = deb_version(b.pkg->version);
	}
	if (output)
		out = xstrdup(output);
	else if (deb)
		out = xasprintf("%s_%s_%s.deb", debname, debver, debarch);
	else
		out = xasprintf("%s-%s_%s_%s.tar", b.pkg->name, b.pkg->version, b.kver, arch);
	r = deb ? write_deb(ctx, &b, out, debname, debver, debarch) : write_tar(ctx, &b, out);
	if (r < 0)
		goto out;
	dkm_notice(ctx, "exported %s/%s for %s (%s; %zu module%s, %s, compression %s) to '%s'",
		   b.pkg->name, b.pkg->version, b.kver, arch, b.n_mods, b.n_mods == 1 ? "" : "s",
		   streq(dkm_kv_get(&b.meta, "signed"), "yes") ? "signed" : "unsigned",
		   dkm_kv_get(&b.meta, "compression"), out);
	if (deb)
		dkm_notice(ctx, "install it with 'apt install ./%s' (it needs linux-image-%s)",
			   path_basename(out), b.kver);
	else
		dkm_notice(ctx, "install it with 'dkm-hook import-binary %s'", path_basename(out));
out:
	bundle_done(&b);
	return r < 0 ? r : 0;
}

/* ---- import-binary ---- */

static const struct dkm_tar_entry *tar_find(const struct dkm_tar_entry *l, size_t n,
					    const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (streq(l[i].name, name))
			return &l[i];
	return NULL;
}

/* "/updates/dkms": what a dkms.conf may say (DEST_MODULE_LOCATION): absolute, below
 * /kernel, /updates or /extra, each component a valid name (no "..", no "."). Anything else
 * (/build/..., /source/...) would lead through the module dir's links into the headers. */
static bool location_is_valid(const char *loc)
{
	_cleanup_strv_free_ char **parts = NULL;

	if (!loc || loc[0] != '/' || strstr(loc, "//"))
		return false;
	parts = strv_split(loc, "/");
	if (!parts[0] ||
	    !(streq(parts[0], "kernel") || streq(parts[0], "updates") || streq(parts[0], "extra")))
		return false;
	for (size_t i = 0; parts[i]; i++)
		if (!name_is_valid(parts[i]) || streq(parts[i], "."))
			return false;
	return true;
}

/* One module from the archive: named as listed, intact, a module for this kernel and arch. */
static int check_module(struct dkm_ctx *ctx, const char *file, const struct dkm_kv *meta,
			const char *module, const struct dkm_tar_entry *e)
{
	_cleanup_free_ void *plain = NULL;
	const char *kver = dkm_kv_get(meta, "kernel"), *arch = dkm_kv_get(meta, "arch");
	const char *mname, *machine;
	struct dkm_modrec rec;
	struct dkm_elf_module m = { 0 };
	enum dkm_compression c;
	size_t plain_len, off, soff, slen;
	char sha[65];
	int r;

	dkm_modrec_get(meta, module, &rec);
	mname = rec.file;
	sha256_buf(e->data, e->size, sha);
	if (!streq(sha, strempty(rec.sha256)))
		return dkm_err(ctx, -EBADMSG,
			       "'%s': member '%s' is damaged: sha256 %s, the metadata says %s",
			       file, e->name, sha, strempty(rec.sha256));
	r = dkm_decompress(ctx, e->data, e->size, &plain, &plain_len, &c);
	if (r < 0)
		return r;
	{
		_cleanup_free_ char *want = xasprintf("%s.ko%s", module, dkm_compression_suffix(c));

		if (!streq(dkm_compression_name(c), strempty(dkm_kv_get(meta, "compression"))) ||
		    !streq(mname, want))
			return dkm_err(ctx, -EBADMSG,
				       "'%s': member '%s' is %s data, the metadata says compression=%s",
				       file, e->name, dkm_compression_name(c),
				       strempty(dkm_kv_get(meta, "compression")));
	}
	r = dkm_elf_module_parse(ctx, e->name, plain, plain_len, &m);
	if (r < 0)
		return r;
	machine = dkm_elf_machine_name(m.machine);
	if (!m.vermagic || !startswith(m.vermagic, kver) ||
	    (m.vermagic[strlen(kver)] != ' ' && m.vermagic[strlen(kver)] != 0))
		r = dkm_err(ctx, -EINVAL,
			    "'%s': module '%s' was built for another kernel: vermagic '%s' does not start with '%s'",
			    file, mname, strempty(m.vermagic), kver);
	else if (machine && !streq(machine, arch))
		r = dkm_err(ctx, -EINVAL, "'%s': module '%s' is for %s, the metadata says %s", file,
			    mname, machine, arch);
	else if (streq(strempty(dkm_kv_get(meta, "signed")), "yes") &&
		 dkm_modsig_parse(plain, plain_len, &off, &soff, &slen) != 1)
		r = dkm_err(ctx, -EBADMSG,
			    "'%s': module '%s' carries no signature, the metadata says it is signed",
			    file, mname);
	dkm_elf_module_done(&m);
	return r;
}

/* The signatures, against what the archive claims: each module's signer and key as the
 * metadata's signer= and sig_key= say, and, when a certificate is shipped (the one the command
 * advises to enrol), each module signed by that certificate's key over exactly its bytes (as
 * `dkm-hook verify --cert`). The certificate is checked from a private temporary copy. */
static int check_signatures(struct dkm_ctx *ctx, const char *file, const struct dkm_tar_entry *l,
			    size_t n, const struct dkm_kv *meta)
{
	const struct dkm_tar_entry *cert = tar_find(l, n, CERT_NAME);
	const char *signer = dkm_kv_get(meta, "signer"), *key = dkm_kv_get(meta, "sig_key");
	_cleanup_strv_free_ char **mods = strv_split(strempty(dkm_kv_get(meta, "modules")), " ");
	_cleanup_free_ char *tmpdir = NULL, *certpath = NULL;
	int r = 0;

	if (cert) {
		const char *t = getenv("TMPDIR");

		tmpdir = xasprintf("%s/dkm-hook-import-XXXXXX", isempty(t) ? "/tmp" : t);
		if (!mkdtemp(tmpdir)) {
			r = -errno;
			free(tmpdir);
			tmpdir = NULL;
			return dkm_err(ctx, r, "cannot create a temporary directory: %s",
				       strerror(-r));
		}
		certpath = path_join(tmpdir, CERT_NAME);
		r = write_file_atomic(certpath, cert->data, cert->size, 0600);
		if (r < 0) {
			dkm_err(ctx, r, "cannot write '%s': %s", certpath, strerror(-r));
			goto out;
		}
	}
	for (size_t i = 0; mods[i] && r >= 0; i++) {
		struct dkm_modrec rec;
		_cleanup_free_ char *member = NULL;
		const struct dkm_tar_entry *e;
		const char *mname;

		dkm_modrec_get(meta, mods[i], &rec);
		member = xasprintf("modules/%s", rec.file);
		e = tar_find(l, n, member);
		mname = rec.file;
		struct dkm_sig_info si = { 0 };

		r = dkm_module_verify(ctx, e->data, e->size, certpath, &si);
		if (r < 0) {
			dkm_err(ctx, r,
				"'%s': member '%s' cannot be checked against the modules' signature (is it a certificate?): the archive is refused; nothing was changed",
				file, CERT_NAME);
			break;
		}
		if (cert && si.verdict != DKM_SIG_VALID)
			r = dkm_err(ctx, -EBADMSG,
				    "'%s': module '%s' is not signed by the certificate in the archive ('%s'): %s%s%s: the archive is refused, and that certificate must not be enrolled; nothing was changed",
				    file, mname, CERT_NAME, dkm_sig_verdict_name(si.verdict),
				    si.reason ? ": " : "", strempty(si.reason));
		else if (!isempty(signer) && !streq(signer, strempty(si.signer)))
			r = dkm_err(ctx, -EBADMSG,
				    "'%s': metadata signer='%s', but module '%s' is %s%s%s: the archive is refused; nothing was changed",
				    file, signer, mname,
				    si.is_signed ? "signed by '" : "not signed",
				    si.is_signed ? strempty(si.signer) : "",
				    si.is_signed ? "'" : "");
		else if (!isempty(key) && !streq(key, strempty(si.key_id)))
			r = dkm_err(ctx, -EBADMSG,
				    "'%s': metadata sig_key='%s', but module '%s' is %s%s%s: the archive is refused; nothing was changed",
				    file, key, mname,
				    si.is_signed ? "signed with key '" : "not signed",
				    si.is_signed ? strempty(si.key_id) : "",
				    si.is_signed ? "'" : "");
		dkm_sig_info_done(&si);
	}
out:
	if (tmpdir)
		(void)rm_rf(tmpdir);
	return r;
}

/* Everything in the archive checked before anything is written: the metadata, one member per
 * listed module, nothing else but the certificate. */
static int check_archive(struct dkm_ctx *ctx, const char *file, const struct dkm_tar_entry *l,
			 size_t n, const struct dkm_kv *meta)
{
	static const char *const required[] = { "package", "version",	  "kernel", "arch",
						"modules", "compression", "signed" };
	_cleanup_strv_free_ char **mods = NULL;
	int r;

	if (!streq(strempty(dkm_kv_get(meta, "format")), BINARY_FORMAT))
		return dkm_err(ctx, -EBADMSG,
			       "'%s': unknown format '%s' (this dkm-hook reads '%s')", file,
			       strempty(dkm_kv_get(meta, "format")), BINARY_FORMAT);
	for (size_t i = 0; i < ELEMENTSOF(required); i++) {
		const char *v = dkm_kv_get(meta, required[i]);

		if (isempty(v) || (i < 4 && !name_is_valid(v)))
			return dkm_err(ctx, -EBADMSG,
				       "'%s': metadata %s='%s' is missing or invalid", file,
				       required[i], strempty(v));
	}
	mods = strv_split(dkm_kv_get(meta, "modules"), " ");
	for (size_t i = 0; mods[i]; i++) {
		struct dkm_modrec rec;
		_cleanup_free_ char *member = NULL;
		const char *f, *loc;
		const struct dkm_tar_entry *e;

		dkm_modrec_get(meta, mods[i], &rec);
		f = rec.file;
		loc = rec.location;

		if (!name_is_valid(mods[i]) || !name_is_valid(strempty(f)) ||
		    !location_is_valid(loc))
			return dkm_err(
				ctx, -EBADMSG,
				"'%s': metadata of module '%s' is invalid (file '%s', location '%s'): a location must start with /kernel, /updates or /extra, each component a plain name (no '..'), as DEST_MODULE_LOCATION; nothing was changed",
				file, mods[i], strempty(f), strempty(loc));
		member = xasprintf("modules/%s", f);
		e = tar_find(l, n, member);
		if (!e)
			return dkm_err(ctx, -EBADMSG, "'%s': member '%s' is missing", file, member);
		r = check_module(ctx, file, meta, mods[i], e);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < n; i++) {
		bool known = streq(l[i].name, META_NAME) || streq(l[i].name, CERT_NAME);

		for (size_t j = 0; mods[j] && !known; j++) {
			struct dkm_modrec rec;
			_cleanup_free_ char *member = NULL;

			dkm_modrec_get(meta, mods[j], &rec);
			member = xasprintf("modules/%s", rec.file);

			known = streq(member, l[i].name);
		}
		if (!known)
			return dkm_err(ctx, -EBADMSG, "'%s': unexpected member '%s'", file,
				       l[i].name);
	}
	return check_signatures(ctx, file, l, n, meta);
}

/* The modules become the build of (pkg, kernel, arch): stored like build.c stores its
 * artefacts (a new directory renamed into place), then the state is BUILT. */
static int store_build(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kv *meta,
		       const struct dkm_tar_entry *l, size_t n)
{
	const char *kver = dkm_kv_get(meta, "kernel"), *arch = dkm_kv_get(meta, "arch");
	_cleanup_free_ char *dir = dkm_inst_dir(ctx, pkg->name, pkg->version, kver, arch);
	_cleanup_free_ char *moddir = path_join(dir, "modules");
	_cleanup_free_ char *newdir = path_join(dir, "modules.new");
	_cleanup_strv_free_ char **mods = strv_split(dkm_kv_get(meta, "modules"), " ");
	_cleanup_inst_ struct dkm_inst inst = { 0 };
	static const char *const copied[] = { "modules", "compression", "signed", "sig_hash" };
	char when[32];
	time_t t = time(NULL);
	int r;

	r = dkm_inst_load(ctx, pkg->name, pkg->version, kver, arch, &inst);
	if (r < 0)
		return dkm_err(ctx, r, "cannot read the state of %s/%s for %s: %s", pkg->name,
			       pkg->version, kver, strerror(-r));
	(void)rm_rf(newdir);
	r = mkdir_p(newdir, 0755);
	if (r < 0)
		return dkm_err(ctx, r, "cannot create '%s': %s", newdir, strerror(-r));
	for (size_t i = 0; mods[i]; i++) {
		struct dkm_modrec rec;
		_cleanup_free_ char *member = NULL, *dest = NULL;
		const struct dkm_tar_entry *e;

		dkm_modrec_get(meta, mods[i], &rec);
		member = xasprintf("modules/%s", rec.file);
		dest = path_join(newdir, rec.file);
		e = tar_find(l, n, member);
		r = write_file_atomic(dest, e->data, e->size, 0644);
		if (r < 0)
			return dkm_err(ctx, r, "cannot write '%s': %s", dest, strerror(-r));
		dkm_modrec_set(&inst.kv, mods[i],
			       &(struct dkm_modrec){ .file = strempty(rec.file),
						     .location = strempty(rec.location),
						     .sha256 = strempty(rec.sha256) });
	}
	r = dir_replace(newdir, moddir);
	if (r < 0)
		return dkm_err(ctx, r, "cannot publish '%s': %s", moddir, strerror(-r));

	for (size_t i = 0; i < ELEMENTSOF(copied); i++)
		dkm_kv_set(&inst.kv, copied[i], strempty(dkm_kv_get(meta, copied[i])));
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	dkm_kv_set(&inst.kv, "changed", when);
	dkm_kv_set(&inst.kv, "origin", "binary");
	/* not built from this machine's inputs: a rebuild must not take it for up to date */
	dkm_kv_set(&inst.kv, "fingerprint", "");
	dkm_kv_set(&inst.kv, "log", "");
	dkm_kv_set(&inst.kv, "reason", "");
	dkm_kv_set(&inst.kv, "last_failure", "");
	if (inst.state != DKM_STATE_INSTALLED)
		inst.state = DKM_STATE_BUILT;
	r = dkm_inst_save(ctx, pkg->name, pkg->version, kver, arch, &inst);
	if (r < 0)
		return dkm_err(ctx, r, "cannot record state of %s/%s for %s: %s", pkg->name,
			       pkg->version, kver, strerror(-r));
	return 0;
}

static int register_binary(struct dkm_ctx *ctx, const struct dkm_kv *meta, bool force,
			   const struct dkm_tar_entry *cert, struct dkm_pkg **ret)
{
	const char *name = dkm_kv_get(meta, "package"), *ver = dkm_kv_get(meta, "version");
	_cleanup_pkg_ struct dkm_pkg *existing = NULL;
	struct dkm_pkg *p;
	int r;

	if (dkm_pkg_load(ctx, name, ver, &existing) == 0) {
		if (!existing->binary && !force)
			return dkm_err(
				ctx, -EEXIST,
				"%s/%s is registered here from its source: install it with 'dkm-hook install %s/%s -k %s', or pass --force to install the imported build instead",
				name, ver, name, ver, dkm_kv_get(meta, "kernel"));
		p = TAKE_PTR(existing);
	} else {
		p = xcalloc(1, sizeof(*p));
		p->name = xstrdup(name);
		p->version = xstrdup(ver);
		p->source = xstrdup("");
		p->modules = strv_split(dkm_kv_get(meta, "modules"), " ");
		p->remake_initrd = streq(strempty(dkm_kv_get(meta, "remake_initrd")), "yes");
		p->binary = true;
		r = dkm_pkg_save(ctx, p);
		if (r < 0) {
			dkm_pkg_free(p);
			return dkm_err(ctx, r, "cannot register %s/%s: %s", name, ver,
				       strerror(-r));
		}
		dkm_notice(ctx, "registered %s/%s (binary: built elsewhere, no source here)", name,
			   ver);
	}
	if (cert) {
		_cleanup_free_ char *dir = dkm_pkg_dir(ctx, name, ver);
		_cleanup_free_ char *path = path_join(dir, CERT_NAME);

		r = write_file_atomic(path, cert->data, cert->size, 0644);
		if (r < 0)
			dkm_warn(ctx, "cannot keep the signing certificate as '%s': %s", path,
				 strerror(-r));
	}
	*ret = p;
	return 0;
}

int dkm_cmd_import_binary(struct dkm_ctx *ctx, const char *file, const struct dkm_opts *o)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_kv_ struct dkm_kv meta = { 0 };
	_cleanup_pkg_ struct dkm_pkg *pkg = NULL;
	_cleanup_kernel_ struct dkm_kernel *k = NULL;
	_cleanup_close_ int lock = -1;
	struct dkm_tar_entry *l = NULL;
	const struct dkm_tar_entry *e;
	const char *why = NULL, *kver, *arch;
	size_t len, n = 0;
	bool changed = false;
	int r;

	r = read_full_file(file, ARCHIVE_MAX, &data, &len);
	if (r < 0) {
		return dkm_err(ctx, r, "cannot read '%s': %s", file, strerror(-r));
	}
	if (len >= 8 && memcmp(data, "!<arch>\n", 8) == 0) {
		dkm_err(ctx, -EINVAL,
			"'%s' is a Debian package: install it with 'apt install ./%s' or 'dpkg -i'; import-binary reads what 'dkm-hook export --format tar' writes",
			file, path_basename(file));
		return -EINVAL;
	}
	r = dkm_tar_parse(data, len, &l, &why);
	if (r < 0) {
		dkm_err(ctx, r, "'%s' is not a dkm-hook binary package: %s", file, why);
		return -EBADMSG;
	}
	n = (size_t)r;
	e = tar_find(l, n, META_NAME);
	if (!e) {
		r = dkm_err(ctx, -EBADMSG,
			    "'%s' is not a dkm-hook binary package: no '%s' member (make one with 'dkm-hook export')",
			    file, META_NAME);
		goto out;
	}
	dkm_kv_parse(e->data, e->size, &meta);
	r = check_archive(ctx, file, l, n, &meta);
	if (r < 0)
		goto out;
	kver = dkm_kv_get(&meta, "kernel");
	arch = dkm_kv_get(&meta, "arch");
	r = dkm_kernel_probe(ctx, kver, arch, NULL, &k);
	if (r < 0)
		goto out;
	if (!is_dir(k->moddir)) {
		r = dkm_err(ctx, -ENOENT,
			    "kernel %s is not installed: '%s' does not exist: install linux-image-%s first",
			    kver, k->moddir, kver);
		goto out;
	}
	/* where the modules go: through real directories of the module dir, before anything
	 * is written */
	{
		_cleanup_strv_free_ char **mods = strv_split(dkm_kv_get(&meta, "modules"), " ");

		for (size_t i = 0; mods[i]; i++) {
			struct dkm_modrec rec;

			dkm_modrec_get(&meta, mods[i], &rec);
			r = dkm_install_check_location(ctx, dkm_kv_get(&meta, "package"),
						       dkm_kv_get(&meta, "version"), k,
						       rec.location);
			if (r < 0)
				goto out;
		}
	}
	lock = dkm_lock_take(ctx);
	if (lock < 0) {
		r = lock;
		goto out;
	}
	/* an interrupted command's transaction on this kernel comes first, as for every verb */
	r = dkm_install_recover(ctx, kver, !o->no_depmod);
	if (r < 0)
		goto out;
	r = register_binary(ctx, &meta, o->force, tar_find(l, n, CERT_NAME), &pkg);
	if (r < 0)
		goto out;
	r = store_build(ctx, pkg, &meta, l, n);
	if (r < 0)
		goto out;
	dkm_notice(ctx, "installing %s/%s for %s", pkg->name, pkg->version, kver);
	r = dkm_install_pkg(ctx, pkg, k, o->force);
	if (r < 0)
		goto out;
	changed = r > 0;
	if (r == 0)
		dkm_notice(ctx, "%s/%s is already installed for %s", pkg->name, pkg->version, kver);
	if (changed && !o->no_depmod) {
		dkm_notice(ctx, "depmod %s", kver);
		r = dkm_depmod(ctx, k);
		if (r < 0)
			goto out;
	}
	/* only a certificate checked above against every module's signature is advised */
	if (tar_find(l, n, CERT_NAME) && !isempty(dkm_kv_get(&meta, "signer"))) {
		_cleanup_free_ char *dir = dkm_pkg_dir(ctx, pkg->name, pkg->version);

		dkm_notice(ctx,
			   "%s/%s: modules signed by '%s': under Secure Boot the kernel loads them once that certificate is enrolled: 'mokutil --import %s/%s'",
			   pkg->name, pkg->version, dkm_kv_get(&meta, "signer"), dir, CERT_NAME);
	}
	r = 0;
out:
	dkm_tar_entries_free(l, n);
	if (lock >= 0)
		close(TAKE_FD(lock));
	/* after the lock is released: dracut's 50dkm-hook module calls us back */
	if (r >= 0 && changed && !o->no_initrd) {
		char *names[] = { pkg->name, NULL };
		int k2 = dkm_initrd_update(ctx, kver, arch, names);

		if (k2 < 0)
			r = k2;
	}
	return r < 0 ? r : 0;
}
