/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conf-dump [--raw] <file> <kernelver> <arch> [kernel_source_dir]
 *
 * Reads a dkms.conf the way dkm-hook does and prints either the raw variable table (--raw:
 * "NAME[idx]=value" lines, sorted, escaped by dkm_shvars_format) or the resolved struct (one
 * "key=value" per line). Exits 1 and prints the error when the file is refused.
 * The other dkms variables are: dkms_tree=/var/lib/dkms, source_tree=/usr/src,
 * install_tree=/lib/modules, module/module_version unset (--module N --module-version V set
 * them). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ctx.h"
#include "shvars.h"
#include "util.h"

static void print_kv(const char *key, const char *value)
{
	_cleanup_free_ char *line = NULL;

	if (!value)
		return;
	/* reuse the raw escaping, without the "[0]" */
	line = dkm_shvars_format("x", 0, value);
	printf("%s=%s\n", key, line + strlen("x[0]="));
}

static void print_strv(const char *key, char **l)
{
	for (size_t i = 0; l && l[i]; i++) {
		_cleanup_free_ char *k = xasprintf("%s[%zu]", key, i);

		print_kv(k, l[i]);
	}
}

static void print_conf(const struct dkm_conf *c)
{
	print_kv("package_name", c->package_name);
	print_kv("package_version", c->package_version);
	printf("n_modules=%zu\n", c->n_modules);
	for (size_t i = 0; i < c->n_modules; i++) {
		const struct dkm_conf_module *m = &c->modules[i];

		printf("module[%zu].built_name=%s\n", i, m->built_name);
		printf("module[%zu].built_location=%s\n", i, m->built_location);
		printf("module[%zu].dest_name=%s\n", i, m->dest_name);
		printf("module[%zu].dest_location=%s\n", i, m->dest_location);
		printf("module[%zu].strip=%s\n", i, m->strip ? "yes" : "no");
	}
	print_kv("make", c->make);
	print_kv("clean", c->clean);
	print_strv("patch", c->patches);
	printf("autoinstall=%s\n", c->autoinstall ? "yes" : "no");
	print_strv("build_depends", c->build_depends);
	print_kv("build_exclusive_kernel", c->build_exclusive_kernel);
	print_kv("build_exclusive_kernel_min", c->build_exclusive_kernel_min);
	print_kv("build_exclusive_kernel_max", c->build_exclusive_kernel_max);
	print_kv("build_exclusive_arch", c->build_exclusive_arch);
	print_strv("build_exclusive_config", c->build_exclusive_config);
	print_kv("pre_build", c->pre_build);
	print_kv("post_build", c->post_build);
	print_kv("post_add", c->post_add);
	print_kv("pre_install", c->pre_install);
	print_kv("post_install", c->post_install);
	print_kv("post_remove", c->post_remove);
	printf("no_weak_modules=%s\n", c->no_weak_modules ? "yes" : "no");
	printf("remake_initrd=%s\n", c->remake_initrd ? "yes" : "no");
	print_kv("obsolete_by", c->obsolete_by);
	printf("needed_shell=%s\n", c->needed_shell ? "yes" : "no");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: conf-dump [--raw] [--excluded] [--module NAME] [--module-version V]\n"
		   "                 <file> <kernelver> <arch> [kernel_source_dir]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "raw", no_argument, NULL, 'r' },
		{ "excluded", no_argument, NULL, 'x' },
		{ "module", required_argument, NULL, 'm' },
		{ "module-version", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_ctx_ struct dkm_ctx *ctx = NULL;
	_cleanup_free_ char *ksrc = NULL;
	struct dkm_conf_env env = {
		.dkms_tree = "/var/lib/dkms",
		.source_tree = "/usr/src",
		.install_tree = "/lib/modules",
	};
	bool raw = false, excluded = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'r':
			raw = true;
			break;
		case 'x':
			excluded = true;
			break;
		case 'm':
			env.module = optarg;
			break;
		case 'v':
			env.module_version = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind < 3 || argc - optind > 4) {
		usage(stderr);
		return 2;
	}
	env.kernelver = argv[optind + 1];
	env.arch = argv[optind + 2];
	ksrc = argc - optind == 4 ? xstrdup(argv[optind + 3])
				  : xasprintf("/lib/modules/%s/build", env.kernelver);
	env.kernel_source_dir = ksrc;

	r = dkm_ctx_new("/", &ctx);
	if (r < 0) {
		fprintf(stderr, "conf-dump: cannot set up: %s\n", strerror(-r));
		return 1;
	}
	if (getenv("CONF_DUMP_BUILD_USER")) {
		free(ctx->build_user);
		ctx->build_user = xstrdup(getenv("CONF_DUMP_BUILD_USER"));
	}

	if (raw) {
		struct dkm_shvars *vars = NULL;

		r = dkm_conf_read_vars(ctx, argv[optind], &env, &vars, NULL);
		if (r < 0)
			return 1;
		r = dkm_conf_dump_raw(vars, &env, stdout);
		dkm_shvars_free(vars);
		return r < 0 ? 1 : 0;
	}

	_cleanup_conf_ struct dkm_conf *conf = NULL;
	r = dkm_conf_read(ctx, argv[optind], &env, &conf);
	if (r < 0)
		return 1;
	print_conf(conf);
	if (excluded) {
		_cleanup_free_ char *reason = NULL, *kconfig = path_join(ksrc, ".config");

		r = dkm_conf_excluded(conf, env.kernelver, env.arch, kconfig, &reason);
		if (r < 0) {
			fprintf(stderr, "conf-dump: cannot check exclusion: %s\n", strerror(-r));
			return 1;
		}
		printf("excluded=%s\n", r > 0 ? reason : "no");
	}
	return 0;
}
