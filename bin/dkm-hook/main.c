/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dkm-hook: the command line. Parses the options, sets up logging, and dispatches through the
 * verb table (one table drives --help, --list verbs, the argument count and the dispatch); the
 * verbs (verb-*.c) call lib/ and choose the exit code. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "ctx.h"
#include "log-stdio.h"
#include "dkm-hook.h"
#include "../dkms/dkms.h"
#include "kernel.h"
#include "registry.h"
#include "util.h"

const char *prog = "dkm-hook";

static const struct dkm_log_sink log_sink = { "dkm-hook: error: ", "dkm-hook: warning: ", "" };

/* The verbs, in --help's order: name, synopsis of the arguments, how many positional arguments,
 * flags, the function, the one-line help. */
static const struct verb verbs[] = {
	{ "add", "<source-dir | pkg/ver>", 1, 1, 0, verb_add,
	  "register a module source (copied to <root>/usr/src/<pkg>-<ver> if elsewhere)" },
	{ "build", "<pkg/ver> (-k <kver>... | --all-kernels) [--force]", 1, 1, VERB_ALL_KERNELS,
	  verb_build, "build for the kernel(s) (private build dir)" },
	{ "install", "<pkg/ver> (-k <kver>... | --all-kernels) [--force] [--no-initrd]", 1, 1,
	  VERB_ALL_KERNELS, verb_install,
	  "install into the kernel's module dir (builds first if needed), depmod once" },
	{ "uninstall", "<pkg/ver> -k <kver>...", 1, 1, 0, verb_uninstall,
	  "remove installed modules, restore displaced originals" },
	{ "unbuild", "<pkg/ver> -k <kver>...", 1, 1, 0, verb_unbuild,
	  "uninstall and forget the build for the kernel(s)" },
	{ "remove", "<pkg/ver> (-k <kver>... | --all)", 1, 1, 0, verb_remove,
	  "unbuild, and unregister when no kernel is left" },
	{ "status", "[pkg[/ver]] [-k <kver>] [--json]", 0, 1, 0, verb_status,
	  "show packages and their state per kernel" },
	{ "rebuild", "(<kver>... | --all-kernels) [--force] [--no-initrd]", 1, 64,
	  VERB_ALL_KERNELS | VERB_KERNEL_ARGS, verb_rebuild,
	  "build and install every AUTOINSTALL package for the kernel(s), all under one job budget, then depmod and the initramfs of each" },
	{ "kernel-add", "<kver> [--no-initrd]", 1, 1, 0, verb_kernel_add,
	  "a kernel arrived: rebuild, then fail only as fail_policy= says (the kernel hooks)" },
	{ "kernel-remove", "<kver>", 1, 1, 0, verb_kernel_remove,
	  "the kernel is going away: uninstall everything for it" },
	{ "fsck", "[--repair]", 0, 0, 0, verb_fsck,
	  "check state, manifests and module trees; repair what can be" },
	{ "import", "[--dkmstree DIR]", 0, 0, 0, verb_import,
	  "adopt DKMS's state (/var/lib/dkms): no rebuild of what is installed" },
	{ "initrd-modules", "<kver> [--json]", 1, 1, 0, verb_initrd_modules,
	  "the modules that belong in the kernel's initramfs, and why" },
	{ "keygen", "[--force]", 0, 0, 0, verb_keygen,
	  "create the module signing key and certificate" },
	{ "verify", "<module-file> [--cert FILE] [--json]", 1, 1, 0, verb_verify,
	  "check a module's signature" },
	{ "export", "<pkg/ver> -k <kver> [--format tar|deb] [-o FILE]", 1, 1, 0, verb_export,
	  "pack the built, signed modules for one kernel as a tar or a .deb" },
	{ "import-binary", "<file> [--force]", 1, 1, 0, verb_import_binary,
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

			if (!dkm_name_problem(l[i]->name, buf) &&
			    !dkm_name_problem(l[i]->version, buf))
				printf("%s/%s\n", l[i]->name, l[i]->version);
		}
		dkm_pkg_list_free(l, n);
	} else {
		fprintf(stderr,
			"%s: error: --list '%s': expected verbs, config-keys, dkms-conf-directives or packages\n",
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

void verb_usage(FILE *f, const struct verb *v)
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
	struct invocation inv = { .dkmstree = "/var/lib/dkms" };
	struct dkm_opts *o = &inv.o;
	const char *root = NULL, *list_what = NULL, *verb_name;
	const struct verb *verb = NULL;
	unsigned jobs = 0, verbose = 0;
	bool help = false;
	int c, r, nargs;
	/* what we create has the modes we give it (the build uid must read the build dir, depmod
	 * and dracut the modules), whatever umask apt or the admin left (027, 077) */
	umask(022);

	/* the same binary under the name `dkms` speaks DKMS's command line (bin/dkms/) */
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
			o->arch = optarg;
			break;
		case 'j': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v < 1 || v > 4096) {
				fprintf(stderr,
					"%s: error: -j '%s': expected a number from 1 to 4096\n",
					prog, optarg);
				return DKM_EXIT_USAGE;
			}
			jobs = (unsigned)v;
			break;
		}
		case OPT_KSRC:
			o->kernel_source_dir = optarg;
			break;
		case OPT_FORCE:
			o->force = true;
			break;
		case OPT_ALL:
			o->all = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_NO_DEPMOD:
			o->no_depmod = true;
			break;
		case OPT_NO_INITRD:
			o->no_initrd = true;
			break;
		case OPT_CERT:
			inv.cert = optarg;
			break;
		case OPT_FORMAT:
			inv.format = optarg;
			break;
		case 'o':
			inv.output = optarg;
			break;
		case OPT_LIST:
			list_what = optarg;
			break;
		case OPT_REPAIR:
			inv.repair = true;
			break;
		case OPT_ALL_KERNELS:
			inv.all_kernels = true;
			break;
		case OPT_DKMSTREE:
			inv.dkmstree = optarg;
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
	o->kernels = kernels;

	r = dkm_ctx_new(root, &ctx);
	if (r < 0) {
		fprintf(stderr, "%s: error: cannot set up: %s\n", prog, strerror(-r));
		return DKM_EXIT_FAILURE;
	}
	ctx->log_fn = dkm_log_to_stdio;
	ctx->output_fn = dkm_output_to_stdio;
	ctx->log_userdata = (void *)&log_sink;
	if (verbose)
		ctx->log_level = verbose > 1 ? DKM_LOG_DEBUG : DKM_LOG_INFO;
	r = dkm_ctx_load_config(ctx);
	if (r < 0)
		return DKM_EXIT_INVALID;
	/* -k and -a become directory names under the root and the state: the one name rule */
	if (o->arch && dkm_arg_check(ctx, "architecture", o->arch, dkm_host_arch()) < 0)
		return DKM_EXIT_INVALID;
	for (size_t i = 0; kernels && kernels[i]; i++)
		if (dkm_kver_check(ctx, kernels[i]) < 0)
			return DKM_EXIT_INVALID;
	if (inv.all_kernels) {
		if (!(verb->flags & VERB_ALL_KERNELS)) {
			fprintf(stderr,
				"%s: error: --all-kernels is for build, install and rebuild\n",
				prog);
			return DKM_EXIT_USAGE;
		}
		if (kernels || ((verb->flags & VERB_KERNEL_ARGS) && nargs > 0)) {
			fprintf(stderr, "%s: error: name kernels or give --all-kernels, not both\n",
				prog);
			return DKM_EXIT_USAGE;
		}
		kernels = dkm_kernel_list_with_headers(ctx);
		if (!kernels[0]) {
			fprintf(stderr,
				"%s: error: --all-kernels: no kernel with headers under '%s%s'\n",
				prog, ctx->root, ctx->module_dir);
			return DKM_EXIT_FAILURE;
		}
		o->kernels = kernels;
	}
	if (jobs)
		ctx->jobs = jobs;
	ctx->force = o->force;

	/* --all-kernels stands for a verb's kernel arguments */
	if (!(inv.all_kernels && (verb->flags & VERB_KERNEL_ARGS)) &&
	    (nargs < verb->min_args || nargs > verb->max_args)) {
		verb_usage(stderr, verb);
		return DKM_EXIT_USAGE;
	}
	inv.ctx = ctx;
	inv.args = argv + optind + 1;
	inv.nargs = nargs;
	return verb->run(verb, &inv);
}
