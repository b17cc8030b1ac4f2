/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sandboxed evaluation of a dkms.conf that needs a real shell (if/case, $(...), sourcing the
 * kernel .config...). bash runs through the spawn helper:
 *   - never as root: as build_user, or nobody, when we are root;
 *   - with a scrubbed environment (PATH, LC_ALL) and the dkms variables as plain shell
 *     variables, stdin /dev/null, the file's stdout discarded, its stderr captured for the
 *     error message, in its own process group, killed after DKM_CONF_SHELL_TIMEOUT_SEC, with
 *     at most SHELL_MAX_PROCS processes and SHELL_MAX_MEMORY of address space per process;
 *   - the text comes through a memfd (the unprivileged user need not be able to read the
 *     file, which may sit in a 0700 directory), cwd is the file's directory (entered before
 *     privileges are dropped) and $BASH_SOURCE reads as the file's real path;
 *   - the values come back NUL-separated ("name\0index\0value\0") on a dedicated pipe.
 * See docs/dkms-conf-evaluation.md. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf-internal.h"
#include "conf.h"
#include "ctx.h"
#include "identity.h"
#include "log.h"
#include "sandbox.h"
#include "shvars.h"
#include "spawn.h"
#include "util.h"

#define OUTPUT_MAX (32U * 1024U * 1024U)
/* what the shell and the commands it runs may use: a dkms.conf runs a few commands */
#define SHELL_MAX_PROCS 64U
#define SHELL_MAX_MEMORY (512ULL << 20)
#define STDERR_KEEP 2048U
#define MAGIC_BEGIN "dkm-conf-v1"
#define MAGIC_END "dkm-conf-end"

static const char *const env_names[] = { "kernelver", "arch",	       "kernel_source_dir",
					 "dkms_tree", "source_tree",   "install_tree",
					 "module",    "module_version" };

/* $1 output fd, $2 text fd, $3 the file's path; then name=value pairs for the dkms variables.
 * The file is sourced inside a function, as DKMS does (safe_source), so `return` ends it,
 * `local`/`declare` stay visible to the dump, and extglob is on as in dkms. */
static const char wrapper[] =
	"__dkm_out=$1 __dkm_in=$2\n"
	"__dkm_BASH_SOURCE=(\"$3\")\n"
	"shift 3\n"
	"for __dkm_a; do builtin printf -v \"${__dkm_a%%=*}\" %s \"${__dkm_a#*=}\"; done\n"
	"unset __dkm_a\n"
	"set --\n"
	"shopt -s extglob\n"
	"__dkm_dump() {\n"
	"	local IFS=$' \\t\\n' __dkm_n __dkm_i\n"
	"	local -a __dkm_names\n"
	"	builtin mapfile -t __dkm_names < <(builtin compgen -v)\n"
	"	builtin printf '" MAGIC_BEGIN "\\0' >&\"$__dkm_out\"\n"
	"	for __dkm_n in \"${__dkm_names[@]}\"; do\n"
	"		[[ $__dkm_n == __dkm_* ]] && continue\n"
	"		[[ ${!__dkm_n@a} == *A* ]] && continue\n"
	"		local -n __dkm_r=$__dkm_n\n"
	"		for __dkm_i in \"${!__dkm_r[@]}\"; do\n"
	"			builtin printf '%s\\0%s\\0%s\\0' \"$__dkm_n\" \"$__dkm_i\" \"${__dkm_r[$__dkm_i]}\" >&\"$__dkm_out\"\n"
	"		done\n"
	"		unset -n __dkm_r\n"
	"	done\n"
	"	builtin printf '" MAGIC_END "\\0' >&\"$__dkm_out\"\n"
	"}\n"
	"__dkm_run() {\n"
	"	builtin source \"/dev/fd/$__dkm_in\" >/dev/null\n"
	"	__dkm_dump\n"
	"}\n"
	"__dkm_run\n";

/* bash does not let us set BASH_SOURCE, and sourcing the text from a memfd would make it
 * "/dev/fd/N": rename the parameter references ($BASH_SOURCE, ${BASH_SOURCE[0]}, ${#...},
 * ${!...}) to __dkm_BASH_SOURCE, which holds the real path. Quote-aware, so that a literal
 * '$BASH_SOURCE' in single quotes or a comment is left alone. */
char *dkm_conf_shell_rewrite(const char *text, unsigned *ret_count)
{
	static const char word[] = "BASH_SOURCE";
	static const char repl[] = "__dkm_BASH_SOURCE";
	size_t n = strlen(text), cap = n + 1, o = 0;
	char *out;
	bool squote = false, dquote = false;
	unsigned count = 0;

	for (const char *p = text; (p = strstr(p, word)); p++)
		cap += sizeof(repl) - sizeof(word);
	out = xmalloc(cap);
	for (const char *p = text; *p; p++) {
		char c = *p;

		if (squote) {
			if (c == '\'')
				squote = false;
		} else if (c == '\\' && p[1]) {
			out[o++] = *p++;
			c = *p;
		} else if (c == '\'' && !dquote) {
			squote = true;
		} else if (c == '"') {
			dquote = !dquote;
		} else if (c == '#' && !dquote && (p == text || strchr(" \t\n;&|(", p[-1]))) {
			size_t k = strcspn(p, "\n");

			memcpy(out + o, p, k);
			o += k;
			p += k - 1;
			continue;
		} else if (c == '$') {
			const char *q = p + 1;

			if (*q == '{') {
				q++;
				if (*q == '#' || *q == '!')
					q++;
			}
			if (strneq(q, word, sizeof(word) - 1) &&
			    !(q[sizeof(word) - 1] == '_' ||
			      (q[sizeof(word) - 1] >= 'A' && q[sizeof(word) - 1] <= 'Z') ||
			      (q[sizeof(word) - 1] >= 'a' && q[sizeof(word) - 1] <= 'z') ||
			      (q[sizeof(word) - 1] >= '0' && q[sizeof(word) - 1] <= '9'))) {
				memcpy(out + o, p, (size_t)(q - p));
				o += (size_t)(q - p);
				memcpy(out + o, repl, sizeof(repl) - 1);
				o += sizeof(repl) - 1;
				p = q + sizeof(word) - 2;
				count++;
				continue;
			}
		}
		out[o++] = c;
	}
	out[o] = '\0';
	if (ret_count)
		*ret_count = count;
	return out;
}

static int make_text_fd(const char *text)
{
	_cleanup_close_ int fd = memfd_create("dkms.conf", MFD_CLOEXEC);
	size_t n = strlen(text), off = 0;

	if (fd < 0)
		return -errno;
	while (off < n) {
		ssize_t k = write(fd, text + off, n - off);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)k;
	}
	/* the unprivileged child reopens it through /dev/fd/N */
	if (fchmod(fd, 0444) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	return TAKE_FD(fd);
}

struct collected {
	char *out;
	size_t out_len, out_cap;
	char err[STDERR_KEEP + 1];
	size_t err_len;
	struct dkm_spawn_scan scan; /* of everything on stderr: the limits it ran into */
	bool too_much, timed_out;
};

/* Read what is there on one pipe; -1 in *fd at EOF. */
static int drain(int *fd, struct collected *c, bool is_out)
{
	char scratch[4096];

	for (;;) {
		ssize_t n;

		if (is_out) {
			if (c->out_len + sizeof(scratch) + 1 > c->out_cap) {
				c->out_cap = c->out_cap ? c->out_cap * 2 : 65536;
				c->out = xrealloc(c->out, c->out_cap);
			}
			n = read(*fd, c->out + c->out_len, sizeof(scratch));
		} else {
			n = read(*fd, scratch, sizeof(scratch));
		}
		if (n < 0)
			return errno == EINTR ? 0 : errno == EAGAIN ? 0 : -errno;
		if (n == 0) {
			*fd = -1;
			return 0;
		}
		if (is_out) {
			c->out_len += (size_t)n;
			if (c->out_len > OUTPUT_MAX) {
				c->too_much = true;
				return 0;
			}
			continue;
		}
		dkm_spawn_scan_output(&c->scan, scratch, (size_t)n);
		if (c->err_len < STDERR_KEEP) {
			size_t take = (size_t)n < STDERR_KEEP - c->err_len
					      ? (size_t)n
					      : STDERR_KEEP - c->err_len;

			memcpy(c->err + c->err_len, scratch, take);
			c->err_len += take;
		}
	}
}

/* Read both pipes until the shell exited (then take what is left: something it started in
 * the background may hold the pipes open), the size cap, the deadline or a fork that failed
 * for want of processes (bash would back off and retry for 15 s). */
static int collect(pid_t pid, int out_fd, int err_fd, struct collected *c)
{
	uint64_t deadline = now_usec() + (uint64_t)DKM_CONF_SHELL_TIMEOUT_SEC * 1000000U;
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	bool exited = false;
	int r = 0;

	if (fcntl(out_fd, F_SETFL, O_NONBLOCK) < 0 || fcntl(err_fd, F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	while ((out_fd >= 0 || err_fd >= 0) && !c->too_much && !c->scan.fork_failed) {
		struct pollfd p[3] = { { .fd = out_fd, .events = POLLIN },
				       { .fd = err_fd, .events = POLLIN },
				       { .fd = exited ? -1 : pidfd, .events = POLLIN } };
		uint64_t now = now_usec();
		int k;

		if (now >= deadline) {
			c->timed_out = true;
			break;
		}
		k = poll(p, 3, (int)((deadline - now) / 1000) + 1);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[0].revents && (r = drain(&out_fd, c, true)) < 0)
			break;
		if (p[1].revents && (r = drain(&err_fd, c, false)) < 0)
			break;
		if (p[2].revents) {
			/* the shell is gone: everything it wrote is in the pipes now */
			exited = true;
			if (out_fd >= 0 && (r = drain(&out_fd, c, true)) < 0)
				break;
			if (err_fd >= 0 && (r = drain(&err_fd, c, false)) < 0)
				break;
			break;
		}
	}
	c->err[c->err_len] = '\0';
	if (c->timed_out || c->too_much || c->scan.fork_failed)
		kill(-pid, SIGKILL);
	return r;
}

/* The first line of what the file printed on stderr, for the error message. */
static const char *first_err_line(struct collected *c)
{
	char *nl = strchr(c->err, '\n');

	if (nl)
		*nl = '\0';
	return c->err_len ? c->err : "no message";
}

static int parse_output(struct dkm_ctx *ctx, const char *path, const struct collected *c,
			struct dkm_shvars **ret)
{
	struct dkm_shvars *v;
	const char *p = c->out, *end = c->out + c->out_len;

	if (c->out_len < sizeof(MAGIC_BEGIN) || memcmp(p, MAGIC_BEGIN, sizeof(MAGIC_BEGIN)) != 0)
		return -EBADMSG;
	p += sizeof(MAGIC_BEGIN);
	v = dkm_shvars_new();
	for (;;) {
		const char *name = p, *idx, *value;
		char *e;
		unsigned long index;

		idx = memchr(name, '\0', (size_t)(end - name));
		if (!idx)
			goto bad;
		if (streq(name, MAGIC_END) && idx + 1 == end)
			break;
		idx++;
		value = memchr(idx, '\0', (size_t)(end - idx));
		if (!value)
			goto bad;
		value++;
		p = memchr(value, '\0', (size_t)(end - value));
		if (!p)
			goto bad;
		p++;
		if (!dkm_shvars_name_is_valid(name) || dkm_shvars_name_is_reserved(name))
			continue;
		errno = 0;
		index = strtoul(idx, &e, 10);
		if (errno || *e || e == idx || index > DKM_SHVARS_MAX_INDEX) {
			dkm_shvars_free(v);
			return dkm_err(
				ctx, -EINVAL,
				"invalid dkms.conf: '%s': %s[%s]: array index out of range: must be 0..%lu",
				path, name, idx, DKM_SHVARS_MAX_INDEX);
		}
		dkm_shvars_set(v, name, index, value, true);
	}
	*ret = v;
	return 0;
bad:
	dkm_shvars_free(v);
	return -EBADMSG;
}

static int shell_out_of_memory(struct dkm_ctx *ctx, const char *path, const struct collected *c)
{
	char max[32];

	return dkm_err(
		ctx, -EINVAL,
		"invalid dkms.conf: '%s': evaluating it needs more than %s of memory in one process (the shell said '%s'): it must not build large values",
		path, dkm_format_size(SHELL_MAX_MEMORY, max, sizeof(max)), c->scan.said[1]);
}

int dkm_conf_shell_eval(struct dkm_ctx *ctx, const char *path, const char *text,
			const struct dkm_conf_env *env, struct dkm_shvars **ret_vars)
{
	static char *const envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
				      (char *)"LC_ALL=C", NULL };
	_cleanup_free_ char *rewritten = NULL, *abspath = NULL, *dir = NULL;
	_cleanup_free_ char *out_arg = NULL, *in_arg = NULL;
	_cleanup_close_ int text_fd = -1, out_r = -1, out_w = -1, err_r = -1, err_w = -1;
	_cleanup_strv_free_ char **argv = NULL;
	struct collected c = {};
	struct dkm_spawn s = {
		.stdin_fd = -1,
		.stdout_fd = -1,
		.limits = { .max_procs = SHELL_MAX_PROCS,
			    .max_memory = SHELL_MAX_MEMORY,
			    .no_core = true },
	};
	_cleanup_identity_ struct dkm_identity id = DKM_IDENTITY_NULL;
	struct dkm_sandbox sb = { 0 };
	char desc[64];
	int pipe_out[2], pipe_err[2], keep[3], status = 0, r;
	pid_t pid;

	if (path[0] == '/') {
		abspath = xstrdup(path);
	} else {
		_cleanup_free_ char *cwd = getcwd(NULL, 0);

		if (!cwd)
			return dkm_err(ctx, -errno, "cannot evaluate dkms.conf: '%s': getcwd: %s",
				       path, strerror(errno));
		abspath = path_join(cwd, path);
	}
	dir = path_dirname(abspath);
	rewritten = dkm_conf_shell_rewrite(text, NULL);

	/* never as root: a uid of its own (or build_user), when we are root */
	r = dkm_identity_acquire(ctx, false, &id);
	if (r < 0)
		return r;
	s.uid = id.uid, s.gid = id.gid, s.run_as = id.run_as;
	/* read-only file system, no network, no signing key: evaluating a dkms.conf can look,
	 * not touch. $BASH_SOURCE and the cwd are the file's real ones, as bash gives them (the
	 * cwd entered before the drop, so a directory the uid cannot enter works as before). */
	r = ctx ? dkm_sandbox_wanted(ctx) : 0;
	if (r < 0)
		return r;
	if (r > 0) {
		dkm_sandbox_init(&sb, ctx);
		s.sandbox = &sb;
	}
	s.cwd_before_drop = true;
	text_fd = make_text_fd(rewritten);
	if (text_fd < 0)
		return dkm_err(ctx, text_fd, "cannot evaluate dkms.conf: '%s': memfd: %s", path,
			       strerror(-text_fd));
	if (pipe2(pipe_out, O_CLOEXEC) < 0)
		return dkm_err(ctx, -errno, "cannot evaluate dkms.conf: '%s': pipe: %s", path,
			       strerror(errno));
	out_r = pipe_out[0], out_w = pipe_out[1];
	if (pipe2(pipe_err, O_CLOEXEC) < 0)
		return dkm_err(ctx, -errno, "cannot evaluate dkms.conf: '%s': pipe: %s", path,
			       strerror(errno));
	err_r = pipe_err[0], err_w = pipe_err[1];

	out_arg = xasprintf("%d", out_w);
	in_arg = xasprintf("%d", text_fd);
	strv_extend(&argv, "/bin/bash");
	strv_extend(&argv, "--norc");
	strv_extend(&argv, "--noprofile");
	strv_extend(&argv, "-c");
	strv_extend(&argv, wrapper);
	strv_extend(&argv, "dkms"); /* $0, as in dkms itself */
	strv_extend(&argv, out_arg);
	strv_extend(&argv, in_arg);
	strv_extend(&argv, abspath); /* $BASH_SOURCE, absolute as in dkms */
	for (size_t i = 0; i < ELEMENTSOF(env_names); i++) {
		const char *val = dkm_conf_env_value(env, env_names[i]);

		if (val)
			strv_push(&argv, xasprintf("%s=%s", env_names[i], val));
	}

	keep[0] = out_w;
	keep[1] = text_fd;
	keep[2] = -1;
	s.argv = argv;
	s.envp = envp;
	s.cwd = dir;
	s.stderr_fd = err_w;
	s.keep_fds = keep;
	r = dkm_spawn_start(ctx, &s, &pid);
	dkm_sandbox_done(&sb);
	if (r < 0)
		return r;
	closep(&out_w);
	out_w = -1;
	closep(&err_w);
	err_w = -1;
	closep(&text_fd);
	text_fd = -1;

	r = collect(pid, out_r, err_r, &c);
	(void)dkm_spawn_wait(pid, &status);
	kill(-pid, SIGKILL); /* whatever the file left running in the background */
	if (r < 0) {
		free(c.out);
		return dkm_err(ctx, r, "cannot evaluate dkms.conf: '%s': %s", path, strerror(-r));
	}
	if (c.scan.hits & DKM_SPAWN_HIT_PROCS) {
		free(c.out);
		return dkm_err(
			ctx, -EINVAL,
			"invalid dkms.conf: '%s': evaluating it needs more than %u processes (the shell said '%s'): it must not start commands in the background or in a loop",
			path, SHELL_MAX_PROCS, c.scan.said[0]);
	}
	/* even if the shell went on: what the failed command should have computed is missing */
	if (c.scan.hits & DKM_SPAWN_HIT_MEMORY) {
		free(c.out);
		return shell_out_of_memory(ctx, path, &c);
	}
	if (c.timed_out) {
		free(c.out);
		return dkm_err(
			ctx, -EINVAL,
			"invalid dkms.conf: '%s': evaluating it took longer than %u s: must not wait for anything",
			path, DKM_CONF_SHELL_TIMEOUT_SEC);
	}
	if (c.too_much) {
		free(c.out);
		return dkm_err(ctx, -EINVAL,
			       "invalid dkms.conf: '%s': it defines more than %u MiB of variables",
			       path, OUTPUT_MAX / 1024 / 1024);
	}
	r = parse_output(ctx, path, &c, ret_vars);
	free(c.out);
	if (r == -EBADMSG)
		return dkm_err(
			ctx, -EINVAL,
			"invalid dkms.conf: '%s': the shell stopped before its variables could be read (%s: %s): must not exit or exec",
			path, dkm_spawn_describe(status, desc, sizeof(desc)), first_err_line(&c));
	if (r < 0)
		return r;
	if (c.err_len)
		dkm_debug(ctx, "'%s' printed on stderr: %s", path, first_err_line(&c));
	return 0;
}
