/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pure logic of dkms.conf reading: the no-exec parser (quoting, expansion, arrays, what
 * it hands to the shell), MAKE_MATCH/PATCH_MATCH selection, dkms version order, CRLF, the
 * $BASH_SOURCE rewrite and the validation messages. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf-internal.h"
#include "conf.h"
#include "ctx.h"
#include "log-capture.h"
#include "shvars.h"
#include "tap.h"
#include "util.h"

static struct dkm_ctx *ctx;
static struct log_capture cap;

static const struct dkm_conf_env env = {
	.kernelver = "6.1.0-56-amd64",
	.arch = "x86_64",
	.kernel_source_dir = "/lib/modules/6.1.0-56-amd64/build",
	.dkms_tree = "/var/lib/dkms",
	.source_tree = "/usr/src",
	.install_tree = "/lib/modules",
};

static struct dkm_shvars *vars_with_env(void)
{
	struct dkm_shvars *v = dkm_shvars_new();

	dkm_shvars_set(v, "kernelver", 0, env.kernelver, false);
	dkm_shvars_set(v, "kernel_source_dir", 0, env.kernel_source_dir, false);
	dkm_shvars_set(v, "dkms_tree", 0, env.dkms_tree, false);
	return v;
}

/* Parse text; return the value of name[idx] (static buffer) or "(unset)" / "(error N)". */
static const char *parse_get(const char *text, const char *name, unsigned long idx)
{
	static char out[1024];
	struct dkm_shvars *v = vars_with_env();
	int r = dkm_shvars_parse(v, text, NULL);
	const char *s;

	if (r < 0)
		snprintf(out, sizeof(out), "(error %d)", r);
	else if (!(s = dkm_shvars_get(v, name, idx)))
		snprintf(out, sizeof(out), "(unset)");
	else
		snprintf(out, sizeof(out), "%s", s);
	dkm_shvars_free(v);
	return out;
}

/* What the parser says about a text that it must not evaluate itself. */
static void needs_shell(const char *text, const char *what_fragment, const char *name)
{
	struct dkm_shvars *v = vars_with_env();
	struct dkm_shvars_status st;
	int r = dkm_shvars_parse(v, text, &st);

	tap_ok(r == -EOPNOTSUPP && st.needs_shell && strstr(st.what, what_fragment),
	       "needs a shell: %s (%s, line %u: %s)", name, strerror(-r), st.line, st.what);
	dkm_shvars_free(v);
}

static void test_quoting(void)
{
	tap_is_str(parse_get("A=plain", "A", 0), "plain", "unquoted word");
	tap_is_str(parse_get("A='it''s $x \\n'", "A", 0), "its $x \\n",
		   "single quotes are literal");
	tap_is_str(parse_get("A=\"a \\\"b\\\" \\$c \\\\ \\n\"", "A", 0), "a \"b\" $c \\ \\n",
		   "double quotes: \\\" \\$ \\\\ escape, \\n stays");
	tap_is_str(parse_get("A=a\\ b\\$c", "A", 0), "a b$c", "backslash outside quotes");
	tap_is_str(parse_get("A=\"x\"'y'z", "A", 0), "xyz", "concatenated quoting");
	tap_is_str(parse_get("A=\"line1\nline2\"", "A", 0), "line1\nline2",
		   "newline inside double quotes");
	tap_is_str(parse_get("A=\"one \\\n two\"", "A", 0), "one  two",
		   "line continuation inside double quotes");
	tap_is_str(parse_get("A=one\\\ntwo", "A", 0), "onetwo", "line continuation outside quotes");
	tap_is_str(parse_get("A=x # comment\nB=y#not-a-comment", "A", 0), "x",
		   "comment after value");
	tap_is_str(parse_get("A=x # comment\nB=y#not-a-comment", "B", 0), "y#not-a-comment",
		   "# inside a word is literal");
	tap_is_str(parse_get("A=a*b?[c]{d}", "A", 0), "a*b?[c]{d}", "no globbing in assignments");
	tap_is_str(parse_get("A=", "A", 0), "", "empty assignment");
	tap_is_str(parse_get("A=\"$\"", "A", 0), "$", "a lone $ is literal");
	tap_is_str(parse_get("A=1 B=2; C=3", "C", 0), "3", "several assignments on one line");
	tap_is_str(parse_get("export A=1 B", "A", 0), "1", "export NAME=value");
	tap_is_str(parse_get("A=\"unterminated", "A", 0), "(error -22)",
		   "unterminated double quote is a syntax error");
	tap_is_str(parse_get("A='unterminated", "A", 0), "(error -22)",
		   "unterminated single quote is a syntax error");
}

static void test_expansion(void)
{
	tap_is_str(parse_get("A=$kernelver", "A", 0), "6.1.0-56-amd64", "$var");
	tap_is_str(parse_get("A=${kernelver}x", "A", 0), "6.1.0-56-amd64x", "${var}");
	tap_is_str(parse_get("A=\"$dkms_tree/$P/build\"", "A", 0), "/var/lib/dkms//build",
		   "unset variables expand to nothing");
	tap_is_str(parse_get("P=foo\nV=1\nA=$dkms_tree/${P}-$V", "A", 0), "/var/lib/dkms/foo-1",
		   "variables assigned earlier in the file");
	tap_is_str(parse_get("A=1 B=$A", "B", 0), "1", "left to right on one line");
	tap_is_str(parse_get("A=x\nA+=y", "A", 0), "xy", "+= appends");
	tap_is_str(parse_get("A=\"$kernelver-$\"", "A", 0), "6.1.0-56-amd64-$", "trailing $");
	tap_is_str(parse_get("A=\"a  b\"\nB=$A", "B", 0), "a  b",
		   "no word splitting in assignments");
	tap_is_str(parse_get("A='a b'\nB=\"${A}\"'${A}'", "B", 0), "a b${A}",
		   "expansion in double, not single quotes");
}

static void test_arrays(void)
{
	const char *t = "M[0]=a\nM[2]=c\nM=z\ni=1\nM[$i]=b\nN=(x \"y z\" [5]=five six)\n"
			"N+=(seven)\nJ=\"${M[@]}\"\nK=${M[2]}\nL=${M[$i]}";

	tap_is_str(parse_get(t, "M", 0), "z", "a scalar assignment is index 0");
	tap_is_str(parse_get(t, "M", 1), "b", "M[$i]");
	tap_is_str(parse_get(t, "M", 2), "c", "M[2]");
	tap_is_str(parse_get(t, "N", 1), "y z", "array list element");
	tap_is_str(parse_get(t, "N", 5), "five", "[5]= in an array list");
	tap_is_str(parse_get(t, "N", 6), "six", "next index after [5]=");
	tap_is_str(parse_get(t, "N", 7), "seven", "+=( ) appends");
	tap_is_str(parse_get(t, "J", 0), "z b c", "${M[@]} joins with spaces");
	tap_is_str(parse_get(t, "K", 0), "c", "${M[2]}");
	tap_is_str(parse_get(t, "L", 0), "b", "${M[$i]}");
	tap_is_str(parse_get("A[x]=1", "A", 0), "1", "unset name as subscript is 0");

	struct dkm_shvars *v = vars_with_env();
	tap_is_int(dkm_shvars_parse(v, "B[0]=a\nB[3]=d\n", NULL), 0, "sparse array parses");
	tap_is_int(dkm_shvars_length(v, "B"), 4, "length is highest index + 1");
	tap_is_int(dkm_shvars_find(v, "B")->n_elems, 2, "two elements set");
	dkm_shvars_free(v);
}

static void test_needs_shell(void)
{
	needs_shell("A=$(uname -r)", "command substitution", "$(...)");
	needs_shell("A=`uname -r`", "command substitution", "backticks");
	needs_shell("A=\"`uname`\"", "command substitution", "backticks in double quotes");
	needs_shell("i=$((i+1))", "arithmetic", "$((...))");
	needs_shell("A=${X:-d}", "parameter expansion", "${X:-d}");
	needs_shell("A=${#X}", "parameter expansion", "${#X}");
	needs_shell("if [ -f x ]; then A=1; fi", "command 'if'", "if");
	needs_shell("case $k in *) ;; esac", "command 'case'", "case");
	needs_shell(". $kernel_source_dir/.config", "command '.'", "sourcing");
	needs_shell("pushd `dirname $BASH_SOURCE`", "command 'pushd'", "pushd");
	needs_shell("A=1 | cat", "operator '|'", "pipe");
	needs_shell("A=1 && B=2", "operator '&'", "&&");
	needs_shell("A=$1", "special parameter", "$1");
	needs_shell("A=$BASH_SOURCE", "bash variable 'BASH_SOURCE'", "$BASH_SOURCE");
	needs_shell("A=$PWD", "bash variable 'PWD'", "$PWD");
	needs_shell("PATH=/x", "assignment to the bash variable 'PATH'", "PATH=");
	needs_shell("A=~/x", "tilde", "tilde expansion");
	needs_shell("A=$'\\n'", "ANSI-C", "$'...'");
	needs_shell("A=($X)", "unquoted expansion", "word splitting in an array list");
	needs_shell("A=(*.c)", "pattern", "globbing in an array list");
	needs_shell("A[i+1]=x", "arithmetic array subscript", "arithmetic subscript");
	needs_shell("CC=gcc make", "command 'make'", "temporary environment of a command");

	struct dkm_shvars *v = vars_with_env();
	struct dkm_shvars_status st;
	dkm_shvars_parse(v, "A=1\n\n# c\nB=2 \\\n  C=3\nD=$(x)\n", &st);
	tap_is_int(st.line, 6, "the line of the construct is reported");
	dkm_shvars_free(v);
}

static struct dkm_conf *conf_from(const char *text, const char *kver)
{
	struct dkm_shvars *v = dkm_shvars_new();
	struct dkm_conf_env e = env;
	struct dkm_conf *c = NULL;
	int r;

	e.kernelver = kver;
	dkm_shvars_set(v, "kernelver", 0, kver, false);
	log_capture_reset(&cap);
	r = dkm_shvars_parse(v, text, NULL);
	if (r >= 0)
		r = dkm_conf_from_vars(ctx, "/src/dkms.conf", v, &e, &c);
	dkm_shvars_free(v);
	return r < 0 ? NULL : c;
}

#define HEAD "PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\nDEST_MODULE_LOCATION[0]=/updates/dkms\n"

static void test_make_match(void)
{
	const char *t = HEAD "MAKE[0]=\"make old\"\nMAKE[1]=\"make six\"\nMAKE_MATCH[1]=\"^6\\.\"\n"
			     "MAKE[2]=\"make six-one\"\nMAKE_MATCH[2]=\"^6\\.1\\.\"\n"
			     "MAKE[5]=\"make never\"\nMAKE_MATCH[5]=\"^2\\.\"\n";
	struct dkm_conf *c;

	c = conf_from(t, "6.1.0-56-amd64");
	tap_is_str(c ? c->make : "(refused)", "make six-one", "last matching MAKE_MATCH wins");
	dkm_conf_free(c);
	c = conf_from(t, "6.5.0-1-amd64");
	tap_is_str(c ? c->make : "(refused)", "make six", "earlier match when the later fails");
	dkm_conf_free(c);
	c = conf_from(t, "5.10.0-1-amd64");
	tap_is_str(c ? c->make : "(refused)", "make old", "MAKE[0] when nothing matches");
	dkm_conf_free(c);
	c = conf_from(HEAD "MAKE[0]=\"make a\"\nMAKE_MATCH[0]=\"^5\\.\"\n", "6.1.0-56-amd64");
	tap_ok(c && c->make == NULL, "MAKE_MATCH[0] not matching: default make");
	dkm_conf_free(c);
	c = conf_from(HEAD, "6.1.0-56-amd64");
	tap_ok(c && c->make == NULL, "no MAKE: default make (NULL)");
	dkm_conf_free(c);

	c = conf_from(HEAD "PATCH[0]=all.patch\nPATCH[1]=old.patch\nPATCH_MATCH[1]=\"^5\"\n"
			   "PATCH[2]=six.patch\nPATCH_MATCH[2]=\"^6\"\n",
		      "6.1.0-56-amd64");
	tap_ok(c && strv_length(c->patches) == 2 && streq(c->patches[0], "all.patch") &&
		       streq(c->patches[1], "six.patch"),
	       "PATCH_MATCH selects patches for the kernel");
	dkm_conf_free(c);
}

static void test_resolve(void)
{
	struct dkm_conf *c;

	c = conf_from("PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\nDEST_MODULE_LOCATION=/extra/\n",
		      "6.1.0-1-amd64");
	tap_ok(c && c->n_modules == 1 && streq(c->modules[0].built_name, "foo") &&
		       streq(c->modules[0].dest_name, "foo") &&
		       streq(c->modules[0].dest_location, "/extra") &&
		       streq(c->modules[0].built_location, "") && c->modules[0].strip,
	       "one module without BUILT_MODULE_NAME is PACKAGE_NAME, defaults applied");
	dkm_conf_free(c);

	c = conf_from(HEAD
		      "BUILT_MODULE_NAME[0]=a\nBUILT_MODULE_LOCATION[0]=src//x/\nSTRIP[0]=No\n"
		      "BUILT_MODULE_NAME[1]=b\nDEST_MODULE_NAME[1]=bb\n"
		      "DEST_MODULE_LOCATION[1]=/kernel//drivers/\nAUTOINSTALL=YES\n"
		      "BUILD_DEPENDS=(\"x y\" z)\nBUILD_EXCLUSIVE_CONFIG=\"CONFIG_A !CONFIG_B\"\n",
		      "6.1.0-1-amd64");
	tap_ok(c != NULL, "two modules accepted");
	if (c) {
		tap_is_str(c->modules[0].built_location, "src/x",
			   "BUILT_MODULE_LOCATION normalised");
		tap_ok(!c->modules[0].strip && !c->modules[1].strip,
		       "STRIP[0]=No, and an empty STRIP[1] follows STRIP[0] (dkms)");
		tap_is_str(c->modules[1].dest_name, "bb", "DEST_MODULE_NAME");
		tap_is_str(c->modules[1].dest_location, "/kernel/drivers",
			   "DEST_MODULE_LOCATION normalised");
		tap_ok(c->autoinstall, "AUTOINSTALL=YES is case-insensitive");
		tap_is_int(strv_length(c->build_depends), 3, "BUILD_DEPENDS split on blanks");
		tap_is_int(strv_length(c->build_exclusive_config), 2,
			   "BUILD_EXCLUSIVE_CONFIG items");
	}
	dkm_conf_free(c);

	c = conf_from(HEAD "AUTOINSTALL=maybe\n", "6.1.0-1-amd64");
	tap_ok(!c && cap.n_err == 1 &&
		       streq(cap.last_err,
			     "invalid dkms.conf: '/src/dkms.conf': AUTOINSTALL[0]='maybe': must be yes or no"),
	       "one error naming file, directive, index and valid values: %s", cap.last_err);
	c = conf_from("PACKAGE_NAME=foo\nPACKAGE_VERSION=1\nDEST_MODULE_LOCATION[0]='/opt/x'\n",
		      "6.1.0-1-amd64");
	tap_ok(!c && strstr(cap.last_err,
			    "DEST_MODULE_LOCATION[0]='/opt/x': must start with /kernel, /updates or /extra"),
	       "DEST_MODULE_LOCATION outside: %s", cap.last_err);
	c = conf_from(HEAD "BUILT_MODULE_NAME[0]=\"a\nb\"\n", "6.1.0-1-amd64");
	tap_ok(!c && strstr(cap.last_err, "'a\\nb'") && !strchr(cap.last_err, '\n'),
	       "control characters are escaped in the message: %s", cap.last_err);
}

static void test_version_compare(void)
{
	tap_is_int(dkm_conf_ver_compare("6.1.0-56-amd64", "6.1.0-56-amd64"), 0, "equal");
	tap_is_int(dkm_conf_ver_compare("6.1.0-56-amd64", "3.9"), 1, "6.1 > 3.9");
	tap_is_int(dkm_conf_ver_compare("2.6.39", "3.0"), -1, "2.6.39 < 3.0");
	tap_is_int(dkm_conf_ver_compare("5.10.0", "5.9.0"), 1, "5.10 > 5.9 (numbers padded)");
	tap_is_int(dkm_conf_ver_compare("6.1", "6.1.0-56-amd64"), -1,
		   "a prefix sorts first: MAX=6.1 excludes 6.1.0-56 as in dkms");
	tap_is_int(dkm_conf_ver_compare("1000", "999"), -1,
		   "more than three digits compare as strings, as in dkms VER()");

	struct dkm_conf *c = conf_from(HEAD "BUILD_EXCLUSIVE_KERNEL_MIN=6.2\n", "6.1.0-56-amd64");
	char *reason = NULL;
	int r = c ? dkm_conf_excluded(c, "6.1.0-56-amd64", "x86_64", NULL, &reason) : -1;

	tap_ok(r == 1 && reason && streq(reason, "BUILD_EXCLUSIVE_KERNEL_MIN=6.2 > 6.1.0-56-amd64"),
	       "BUILD_EXCLUSIVE_KERNEL_MIN excludes: %s", strempty(reason));
	free(reason);
	reason = NULL;
	dkm_conf_free(c);
	c = conf_from(HEAD "BUILD_EXCLUSIVE_KERNEL_MAX=6.1.99\nBUILD_EXCLUSIVE_ARCH='x86_64|i.86'\n"
			   "BUILD_EXCLUSIVE_KERNEL='^6\\.'\n",
		      "6.1.0-56-amd64");
	r = c ? dkm_conf_excluded(c, "6.1.0-56-amd64", "x86_64", NULL, &reason) : -1;
	tap_is_int(r, 0, "within MAX, ARCH and KERNEL: not excluded");
	r = c ? dkm_conf_excluded(c, "6.1.0-56-amd64", "aarch64", NULL, &reason) : -1;
	tap_ok(r == 1 && strstr(strempty(reason), "BUILD_EXCLUSIVE_ARCH"), "other arch excluded");
	free(reason);
	dkm_conf_free(c);
}

static void test_crlf_and_file(void)
{
	char dir[] = "/tmp/test-conf-XXXXXX";
	_cleanup_free_ char *path = NULL;
	struct dkm_shvars *v = NULL;
	bool shell = true;
	int r;

	if (!mkdtemp(dir)) {
		tap_ok(false, "mkdtemp: %s", strerror(errno));
		return;
	}
	path = path_join(dir, "dkms.conf");
	r = write_file_atomic(path,
			      "PACKAGE_NAME=\"foo\"\r\nPACKAGE_VERSION=1.0\r\nMAKE=\"make \\\r\n"
			      "  KVER=$kernelver\"\r\nDEST_MODULE_LOCATION[0]=/extra\r\n",
			      strlen("PACKAGE_NAME=\"foo\"\r\nPACKAGE_VERSION=1.0\r\nMAKE=\"make \\\r\n"
				     "  KVER=$kernelver\"\r\nDEST_MODULE_LOCATION[0]=/extra\r\n"),
			      0644);
	tap_is_int(r, 0, "write CRLF file");
	r = dkm_conf_read_vars(ctx, path, &env, &v, &shell);
	tap_is_int(r, 0, "CRLF file is read");
	if (r == 0) {
		tap_is_str(dkm_shvars_get(v, "PACKAGE_NAME", 0), "foo", "no CR in values");
		tap_is_str(dkm_shvars_get(v, "MAKE", 0), "make   KVER=6.1.0-56-amd64",
			   "CRLF line continuation");
		tap_ok(!shell, "plain assignments never need the shell");
	}
	dkm_shvars_free(v);
	unlink(path);
	rmdir(dir);
}

static void test_rewrite(void)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
	unsigned n = 0;

	a = dkm_conf_shell_rewrite(
		"d=$(dirname $BASH_SOURCE) e=\"${BASH_SOURCE[0]%/*}\" n=${#BASH_SOURCE[@]}", &n);
	tap_is_str(a,
		   "d=$(dirname $__dkm_BASH_SOURCE) e=\"${__dkm_BASH_SOURCE[0]%/*}\" n=${#__dkm_BASH_SOURCE[@]}",
		   "BASH_SOURCE references are renamed");
	tap_is_int(n, 3, "three references");
	b = dkm_conf_shell_rewrite(
		"x='$BASH_SOURCE' # don't $BASH_SOURCE\ny=\\$BASH_SOURCE z=$BASH_SOURCE_X", &n);
	tap_is_str(b, "x='$BASH_SOURCE' # don't $BASH_SOURCE\ny=\\$BASH_SOURCE z=$BASH_SOURCE_X",
		   "single quotes, comments, escapes and longer names are left alone");
	tap_is_int(n, 0, "no reference");
	c = dkm_conf_shell_rewrite("# it's\nq=\"$BASH_SOURCE\"", &n);
	tap_is_int(n, 1, "a quote in a comment does not hide the next line");
}

static void test_format(void)
{
	_cleanup_free_ char *s = dkm_shvars_format("A", 3, "x\\y\nz\r\tw");

	tap_is_str(s, "A[3]=x\\\\y\\nz\\r\\x09w", "raw dump escaping");
	tap_ok(dkm_utf8_invalid_at("h\xc3\xa9", 3) == (size_t)-1, "valid UTF-8");
	tap_is_int(dkm_utf8_invalid_at("ab\xc3", 3), 2, "truncated sequence");
	tap_is_int(dkm_utf8_invalid_at("a\xc0\xaf", 3), 1, "overlong encoding");
	tap_is_int(dkm_utf8_invalid_at("\xed\xa0\x80", 3), 0, "surrogate");
}

int main(void)
{
	if (dkm_ctx_new("/", &ctx) < 0)
		return 1;
	log_capture_attach(ctx, &cap);
	test_quoting();
	test_expansion();
	test_arrays();
	test_needs_shell();
	test_make_match();
	test_resolve();
	test_version_compare();
	test_crlf_and_file();
	test_rewrite();
	test_format();
	dkm_ctx_free(ctx);
	return tap_done();
}
