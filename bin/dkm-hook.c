/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dkm-hook: the command line. Parses arguments, sets up logging, calls lib/, maps results to
 * exit codes. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions.h"
#include "conf.h"
#include "ctx.h"
#include "dkms-compat.h"
#include "export.h"
#include "hook.h"
#include "initrd.h"
#include "kernel.h"
#include "registry.h"
#include "sign.h"
#include "util.h"

static const char *prog = "dkm-hook";

static const struct dkm_log_sink log_sink = { "dkm-hook: error: ", "dkm-hook: warning: ", "" };

struct verb {
	const char *name;
	const char *args;
	const char *help;
};

static const struct verb verbs[] = {
	{ "add", "<source-dir | pkg/ver>",
	  "register a module source (copied to <root>/usr/src/<pkg>-<ver> if elsewhere)" },
	{ "build", "<pkg/ver> (-k <kver>... | --all-kernels) [--force]",
	  "build for the kernel(s) (private build dir)" },
	{ "install", "<pkg/ver> (-k <kver>... | --all-kernels) [--force] [--no-initrd]",
	  "install into the kernel's module dir (builds first if needed), depmod once" },
	{ "uninstall", "<pkg/ver> -k <kver>...", "remove installed modules, restore displaced originals" },
	{ "unbuild", "<pkg/ver> -k <kver>...", "uninstall and forget the build for the kernel(s)" },
	{ "remove", "<pkg/ver> (-k <kver>... | --all)", "unbuild, and unregister when no kernel is left" },
	{ "status", "[pkg[/ver]] [-k <kver>] [--json]", "show packages and their state per kernel" },
	{ "rebuild", "(<kver>... | --all-kernels) [--force] [--no-initrd]",
	  "build and install every AUTOINSTALL package for the kernel(s), all under one job budget, then depmod and the initramfs of each" },
	{ "kernel-add", "<kver> [--no-initrd]",
	  "a kernel arrived: rebuild, then fail only as fail_policy= says (the kernel hooks)" },
	{ "kernel-remove", "<kver>", "the kernel is going away: uninstall everything for it" },
	{ "fsck", "[--repair]", "check state, manifests and module trees; repair what can be" },
	{ "import", "[--dkmstree DIR]", "adopt DKMS's state (/var/lib/dkms): no rebuild of what is installed" },
	{ "initrd-modules", "<kver> [--json]",
	  "the modules that belong in the kernel's initramfs, and why" },
	{ "keygen", "[--force]", "create the module signing key and certificate" },
	{ "verify", "<module-file> [--cert FILE] [--json]", "check a module's signature" },
	{ "export", "<pkg/ver> -k <kver> [--format tar|deb] [-o FILE]",
	  "pack the built, signed modules for one kernel as a tar or a .deb" },
	{ "import-binary", "<file> [--force]",
	  "install an exported tar (no compilers needed): registry, manifest, depmod" },
};

/* `--list WHAT`, for the shell completion and the documentation tests (tests/docs.bats), one
 * item per line; not in --help. verbs: "<name>\t<arguments>"; config-keys: every key of
 * dkm-hook.conf; dkms-conf-directives: every dkms.conf directive read; packages: "<pkg>/<ver>"
 * from the state tree (cheap and quiet). */
static int list(const char *what, const char *root)
{
	_cleanup_ctx_ struct dkm_ctx *ctx = NULL;
	_cleanup_strv_free_ char **keys = NULL;
	struct dkm_pkg **l = NULL;
	size_t n = 0;

	if (streq(what, "verbs")) {
		for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
			printf("%s\t%s\n", verbs[i].name, verbs[i].args);
	} else if (streq(what, "config-keys")) {
		keys = dkm_ctx_config_keys();
		for (size_t i = 0; keys[i]; i++)
			printf("%s\n", keys[i]);
	} else if (streq(what, "dkms-conf-directives")) {
		for (size_t i = 0; dkm_conf_directives[i]; i++)
			printf("%s\n", dkm_conf_directives[i]);
	} else if (streq(what, "packages")) {
		if (dkm_ctx_new(root, &ctx) < 0)
			return DKM_EXIT_FAILURE;
		ctx->log_level = -1;
		if (dkm_ctx_load_config(ctx) < 0)
			return DKM_EXIT_INVALID;
		dkm_pkg_list(ctx, &l, &n);
		/* a registration older than the name rule may have any name: only names that
		 * follow it are offered to a shell */
		for (size_t i = 0; i < n; i++) {
			char buf[64];

			if (!dkm_name_problem(l[i]->name, buf) && !dkm_name_problem(l[i]->version, buf))
				printf("%s/%s\n", l[i]->name, l[i]->version);
		}
		dkm_pkg_list_free(l, n);
	} else {
		fprintf(stderr, "%s: error: --list '%s': expected verbs, config-keys, dkms-conf-directives or packages\n",
			prog, what);
		return DKM_EXIT_USAGE;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [--root DIR] [-v] <command> [arguments]\n"
		"\n"
		"Keeps out-of-tree kernel modules (dkms.conf sources) built, signed, compressed and\n"
		"installed for every kernel.\n\nCommands:\n",
		prog);
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		fprintf(f, "  %-14s %-38s %s\n", verbs[i].name, verbs[i].args, verbs[i].help);
	fprintf(f,
		"\nOptions:\n"
		"  --root DIR               operate on the system under DIR (also DKM_HOOK_ROOT)\n"
		"  -k, --kernel KVER        target kernel (repeatable; default: running or newest)\n"
		"  -a, --arch ARCH          target architecture (default: uname -m)\n"
		"  -j, --jobs N             job budget for all builds (default: online CPUs)\n"
		"      --kernel-source-dir DIR  kernel headers (default <root>/lib/modules/<kver>/build)\n"
		"      --force              rebuild even if built / regenerate keys\n"
		"      --all                with remove: every kernel\n"
		"      --all-kernels        with build, install, rebuild: every kernel with headers\n"
		"      --json               machine-readable output (status, verify, initrd-modules)\n"
		"      --no-depmod          do not run depmod\n"
		"      --no-initrd          with install, rebuild, kernel-add: do not regenerate the initramfs\n"
		"      --cert FILE          with verify: certificate to check against\n"
		"      --format tar|deb     with export: what to write (default tar)\n"
		"  -o, --output FILE        with export: where to write it\n"
		"      --repair             with fsck: fix what can be fixed\n"
		"  -v, --verbose            more output (DKM_HOOK_DEBUG=1 for everything)\n"
		"  -h, --help               this help (also '<command> --help')\n"
		"      --version            print the version\n"
		"\nExit status:\n"
		"  0 success; 1 failure; 2 bad usage; 3 unknown package, missing source or headers;\n"
		"  4 a build failed (state 'failed', log kept); 5 invalid dkms.conf or configuration;\n"
		"  6 excluded by BUILD_EXCLUSIVE_*.\n"
		"  verify: 0 valid, 1 invalid, 2 could not check, 3 unsigned, 4 signed by another key.\n");
}

static void verb_usage(FILE *f, const struct verb *v)
{
	fprintf(f, "Usage: %s [--root DIR] [-v] %s %s\n\n%s.\n\nSee '%s --help' for the options.\n",
		prog, v->name, v->args, v->help, prog);
}

enum {
	OPT_ROOT = 0x100,
	OPT_VERSION,
	OPT_KSRC,
	OPT_FORCE,
	OPT_ALL,
	OPT_JSON,
	OPT_NO_DEPMOD,
	OPT_NO_INITRD,
	OPT_CERT,
	OPT_FORMAT,
	OPT_LIST,
	OPT_DKMSTREE,
	OPT_REPAIR,
	OPT_ALL_KERNELS,
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "kernel", required_argument, NULL, 'k' },
		{ "arch", required_argument, NULL, 'a' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "kernel-source-dir", required_argument, NULL, OPT_KSRC },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "all-kernels", no_argument, NULL, OPT_ALL_KERNELS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "no-depmod", no_argument, NULL, OPT_NO_DEPMOD },
		{ "no-initrd", no_argument, NULL, OPT_NO_INITRD },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "output", required_argument, NULL, 'o' },
		{ "list", required_argument, NULL, OPT_LIST },
		{ "repair", no_argument, NULL, OPT_REPAIR },
		{ "dkmstree", required_argument, NULL, OPT_DKMSTREE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{}
	};
	_cleanup_ctx_ struct dkm_ctx *ctx = NULL;
	_cleanup_strv_free_ char **kernels = NULL;
	struct dkm_opts o = { 0 };
	const char *root = NULL, *cert = NULL, *dkmstree = "/var/lib/dkms", *verb_name;
	const char *format = NULL, *output = NULL, *list_what = NULL;
	const struct verb *verb = NULL;
	unsigned jobs = 0, verbose = 0;
	bool help = false, repair = false, all_kernels = false;
	int c, r, nargs;
	/* what we create has the modes we give it (the build uid must read the build dir, depmod
	 * and dracut the modules), whatever umask apt or the admin left (027, 077) */
	umask(022);

	/* the same binary under the name `dkms` speaks DKMS's command line (lib/dkms-compat.c) */
	if (argc > 0 && streq(path_basename(argv[0]), "dkms"))
		return dkm_dkms_main(argc, argv);

	while ((c = getopt_long(argc, argv, "k:a:j:o:vh", longopts, NULL)) >= 0) {
		switch (c) {
		case OPT_ROOT:
			root = optarg;
			break;
		case 'k':
			strv_extend(&kernels, optarg);
			break;
		case 'a':
			o.arch = optarg;
			break;
		case 'j': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v < 1 || v > 4096) {
				fprintf(stderr, "%s: error: -j '%s': expected a number from 1 to 4096\n",
					prog, optarg);
				return DKM_EXIT_USAGE;
			}
			jobs = (unsigned)v;
			break;
		}
		case OPT_KSRC:
			o.kernel_source_dir = optarg;
			break;
		case OPT_FORCE:
			o.force = true;
			break;
		case OPT_ALL:
			o.all = true;
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case OPT_NO_DEPMOD:
			o.no_depmod = true;
			break;
		case OPT_NO_INITRD:
			o.no_initrd = true;
			break;
		case OPT_CERT:
			cert = optarg;
			break;
		case OPT_FORMAT:
			format = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case OPT_LIST:
			list_what = optarg;
			break;
		case OPT_REPAIR:
			repair = true;
			break;
		case OPT_ALL_KERNELS:
			all_kernels = true;
			break;
		case OPT_DKMSTREE:
			dkmstree = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			help = true;
			break;
		case OPT_VERSION:
			printf("dkm-hook %s\n", DKM_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return DKM_EXIT_USAGE;
		}
	}
	if (list_what)
		return list(list_what, root);
	if (optind >= argc) {
		usage(help ? stdout : stderr);
		return help ? 0 : DKM_EXIT_USAGE;
	}
	verb_name = argv[optind];
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (streq(verbs[i].name, verb_name))
			verb = &verbs[i];
	if (!verb) {
		fprintf(stderr, "%s: error: unknown command '%s'. Try '%s --help'.\n", prog,
			verb_name, prog);
		return DKM_EXIT_USAGE;
	}
	if (help) {
		verb_usage(stdout, verb);
		return 0;
	}
	nargs = argc - optind - 1;
	o.kernels = kernels;

	r = dkm_ctx_new(root, &ctx);
	if (r < 0) {
		fprintf(stderr, "%s: error: cannot set up: %s\n", prog, strerror(-r));
		return DKM_EXIT_FAILURE;
	}
	ctx->log_fn = dkm_log_to_stdio;
	ctx->log_userdata = (void *)&log_sink;
	if (verbose)
		ctx->log_level = verbose > 1 ? DKM_LOG_DEBUG : DKM_LOG_INFO;
	r = dkm_ctx_load_config(ctx);
	if (r < 0)
		return DKM_EXIT_INVALID;
	/* -k and -a become directory names under the root and the state: the one name rule */
	if (o.arch && dkm_arg_check(ctx, "architecture", o.arch, dkm_host_arch()) < 0)
		return DKM_EXIT_INVALID;
	for (size_t i = 0; kernels && kernels[i]; i++)
		if (dkm_kver_check(ctx, kernels[i]) < 0)
			return DKM_EXIT_INVALID;
	if (all_kernels) {
		if (!streq(verb_name, "build") && !streq(verb_name, "install") &&
		    !streq(verb_name, "rebuild")) {
			fprintf(stderr, "%s: error: --all-kernels is for build, install and rebuild\n",
				prog);
			return DKM_EXIT_USAGE;
		}
		if (kernels || (streq(verb_name, "rebuild") && nargs > 0)) {
			fprintf(stderr, "%s: error: name kernels or give --all-kernels, not both\n",
				prog);
			return DKM_EXIT_USAGE;
		}
		kernels = dkm_kernel_list_with_headers(ctx);
		if (!kernels[0]) {
			fprintf(stderr, "%s: error: --all-kernels: no kernel with headers under '%s%s'\n",
				prog, ctx->root, ctx->module_dir);
			return DKM_EXIT_FAILURE;
		}
		o.kernels = kernels;
	}
	if (jobs)
		ctx->jobs = jobs;
	ctx->force = o.force;
	ctx->json = o.json;

#define NEED_ARGS(lo, hi)                                                                          \
	do {                                                                                       \
		if (nargs < (lo) || nargs > (hi)) {                                                \
			verb_usage(stderr, verb);                                                  \
			return DKM_EXIT_USAGE;                                                     \
		}                                                                                  \
	} while (0)

	const char *arg = nargs > 0 ? argv[optind + 1] : NULL;

	if (streq(verb_name, "add")) {
		NEED_ARGS(1, 1);
		return dkm_action_add(ctx, arg, &o);
	}
	if (streq(verb_name, "build")) {
		NEED_ARGS(1, 1);
		return dkm_action_build(ctx, arg, &o);
	}
	if (streq(verb_name, "install")) {
		NEED_ARGS(1, 1);
		return dkm_action_install(ctx, arg, &o);
	}
	if (streq(verb_name, "uninstall")) {
		NEED_ARGS(1, 1);
		return dkm_action_uninstall(ctx, arg, &o);
	}
	if (streq(verb_name, "unbuild")) {
		NEED_ARGS(1, 1);
		return dkm_action_unbuild(ctx, arg, &o);
	}
	if (streq(verb_name, "remove")) {
		NEED_ARGS(1, 1);
		if (!o.all && !kernels) {
			fprintf(stderr, "%s: error: remove needs -k <kernel> or --all\n", prog);
			return DKM_EXIT_USAGE;
		}
		return dkm_action_remove(ctx, arg, &o);
	}
	if (streq(verb_name, "status")) {
		NEED_ARGS(0, 1);
		return dkm_action_status(ctx, arg, &o);
	}
	if (streq(verb_name, "rebuild")) {
		if (all_kernels)
			return dkm_action_rebuild_kernels(ctx, kernels, &o);
		NEED_ARGS(1, 64);
		for (int i = 0; i < nargs; i++)
			if (dkm_kver_check(ctx, argv[optind + 1 + i]) < 0)
				return DKM_EXIT_INVALID;
		return dkm_action_rebuild_kernels(ctx, argv + optind + 1, &o);
	}
	if (streq(verb_name, "kernel-add")) {
		NEED_ARGS(1, 1);
		return dkm_action_kernel_add(ctx, arg, &o);
	}
	if (streq(verb_name, "initrd-modules")) {
		NEED_ARGS(1, 1);
		return dkm_cmd_initrd_modules(ctx, arg, o.arch, o.json);
	}
	if (streq(verb_name, "fsck")) {
		NEED_ARGS(0, 0);
		return dkm_action_fsck(ctx, &o, repair);
	}
	if (streq(verb_name, "kernel-remove")) {
		NEED_ARGS(1, 1);
		/* the prerm.d hook: a lock wait ends after lock_timeout= (kernel-add: lib/hook.c) */
		ctx->unattended = true;
		return dkm_action_kernel_remove(ctx, arg, &o);
	}
	if (streq(verb_name, "import")) {
		NEED_ARGS(0, 0);
		return dkm_dkms_import(ctx, dkmstree);
	}
	if (streq(verb_name, "keygen")) {
		NEED_ARGS(0, 0);
		return dkm_cmd_keygen(ctx, o.force);
	}
	if (streq(verb_name, "verify")) {
		NEED_ARGS(1, 1);
		return dkm_cmd_verify(ctx, arg, cert, o.json);
	}
	if (streq(verb_name, "export")) {
		NEED_ARGS(1, 1);
		return dkm_cmd_export(ctx, arg, &o, format, output);
	}
	if (streq(verb_name, "import-binary")) {
		NEED_ARGS(1, 1);
		return dkm_cmd_import_binary(ctx, arg, &o);
	}
	return DKM_EXIT_USAGE;
}
