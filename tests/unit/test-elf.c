/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "elf-fixture.h"
#include "elf-module.h"
#include "log-capture.h"
#include "tap.h"
#include "util.h"

static struct dkm_ctx *ctx;
static struct log_capture cap;

static void test_good_variants(void)
{
	static const struct {
		bool is64, be;
		unsigned machine;
		const char *arch;
	} v[] = {
		{ true, false, 62, "x86_64" }, { true, false, 183, "aarch64" },
		{ false, false, 3, "i386" },   { true, true, 22, "s390x" },
		{ false, true, 20, "ppc" },
	};

	for (size_t i = 0; i < ELEMENTSOF(v); i++) {
		struct elf_fixture f = {
			.is64 = v[i].is64,
			.big_endian = v[i].be,
			.type = 1,
			.machine = v[i].machine,
			.modinfo = FIXTURE_MODINFO,
			.modinfo_len = sizeof(FIXTURE_MODINFO),
			.this_module = true,
		};
		struct dkm_elf_module m = {};
		size_t len;
		_cleanup_free_ uint8_t *img = elf_fixture_build(&f, &len);
		int r = dkm_elf_module_parse(ctx, "fixture.ko", img, len, &m);

		tap_is_int(r, 0, "parse a module");
		tap_is_int(m.elf_class, v[i].is64 ? 64 : 32, "ELF class");
		tap_ok(m.big_endian == v[i].be, "byte order of %s", v[i].arch);
		tap_is_str(dkm_elf_machine_name(m.machine), v[i].arch, "machine name");
		tap_is_str(m.name, "dkm_fixture", "modinfo name");
		tap_is_str(m.vermagic, "6.1.0-test SMP mod_unload ", "modinfo vermagic");
		dkm_elf_module_done(&m);
	}
}

static void test_modinfo_get(void)
{
	size_t len;
	_cleanup_free_ uint8_t *img = elf_fixture_module(&len);
	_cleanup_free_ char *lic = NULL, *none = NULL;

	tap_is_int(dkm_elf_modinfo_get(img, len, "license", &lic), 1, "modinfo_get finds license");
	tap_is_str(lic, "GPL", "license value");
	tap_is_int(dkm_elf_modinfo_get(img, len, "lic", &none), 0, "a key prefix is not a key");
	tap_ok(none == NULL, "ret untouched when not found");
	tap_is_int(dkm_elf_modinfo_get("junk", 4, "name", &none), -ENOEXEC, "not ELF");
	tap_ok(dkm_elf_is_elf(img, len), "ELF magic recognised");
	tap_ok(!dkm_elf_is_elf("\x28\xb5\x2f\xfd", 4), "zstd is not ELF");
}

/* Parse img and expect -ENOEXEC with exactly this message. */
static void expect_bad(const uint8_t *img, size_t len, const char *msg, const char *name)
{
	struct dkm_elf_module m = { .name = NULL };
	int r;

	log_capture_reset(&cap);
	r = dkm_elf_module_parse(ctx, "x.ko", img, len, &m);
	tap_is_int(r, -ENOEXEC, name);
	tap_is_str(cap.last_err, msg, name);
	tap_ok(m.name == NULL && m.vermagic == NULL, "ret untouched: %s", name);
}

static void test_bad(void)
{
	size_t len;
	_cleanup_free_ uint8_t *img = elf_fixture_module(&len);
	_cleanup_free_ uint8_t *copy = malloc(len);
	struct elf_fixture f = {
		.is64 = true,
		.type = 1,
		.machine = 62,
		.modinfo = FIXTURE_MODINFO,
		.modinfo_len = sizeof(FIXTURE_MODINFO),
	};
	size_t flen;
	uint8_t *fimg;

	expect_bad((const uint8_t *)"\xfd"
				    "7zXZ",
		   6, "'x.ko' is not a kernel module: no ELF magic", "compressed data");
	expect_bad(img, 30, "'x.ko' is not a kernel module: truncated ELF header", "truncated");

	memcpy(copy, img, len);
	copy[16] = 2; /* ET_EXEC */
	expect_bad(copy, len,
		   "'x.ko' is not a kernel module: an executable, not a relocatable object",
		   "executable");

	memcpy(copy, img, len);
	copy[4] = 7;
	expect_bad(copy, len, "'x.ko' is not a kernel module: unknown ELF class", "class");

	expect_bad(img, len - 1,
		   "'x.ko' is not a kernel module: section header table outside the file",
		   "section headers cut off");

	memcpy(copy, img, len);
	fixture_put(copy, 40, (uint64_t)len * 4, 8, false); /* e_shoff */
	expect_bad(copy, len,
		   "'x.ko' is not a kernel module: section header table outside the file",
		   "e_shoff past the end");

	memcpy(copy, img, len);
	fixture_put(copy, 62, 9, 2, false); /* e_shstrndx */
	expect_bad(copy, len, "'x.ko' is not a kernel module: no section name table",
		   "e_shstrndx out of range");

	/* the .modinfo header (section 1) points past the end */
	memcpy(copy, img, len);
	fixture_put(copy, len - 4 * 64 + 64 + 32, 1 << 20, 8, false);
	expect_bad(copy, len, "'x.ko' is not a kernel module: section outside the file",
		   "section size past the end");

	fimg = elf_fixture_build(&f, &flen);
	expect_bad(fimg, flen,
		   "'x.ko' is not a kernel module: no .gnu.linkonce.this_module section (an object file, not a linked module?)",
		   "object file");
	free(fimg);

	f.this_module = true;
	f.modinfo = NULL;
	fimg = elf_fixture_build(&f, &flen);
	expect_bad(fimg, flen, "'x.ko' is not a kernel module: no .modinfo section", "no .modinfo");
	free(fimg);

	f.modinfo = "license=GPL\0name=x";
	f.modinfo_len = 18; /* not NUL-terminated at the end: must not read past it */
	fimg = elf_fixture_build(&f, &flen);
	expect_bad(fimg, flen, "'x.ko' is not a kernel module: no vermagic in .modinfo",
		   "no vermagic");
	free(fimg);

	log_capture_reset(&cap);
	tap_is_int(dkm_elf_module_parse(ctx, NULL, "abc", 3, &(struct dkm_elf_module){}), -ENOEXEC,
		   "no name");
	tap_is_str(cap.last_err, "not a kernel module: no ELF magic", "message without a name");
}

static void test_trailing_bytes(void)
{
	size_t len;
	_cleanup_free_ uint8_t *img = elf_fixture_module(&len);
	_cleanup_free_ uint8_t *big = calloc(1, len + 600);
	struct dkm_elf_module m = {};

	/* a signature appended after the ELF does not disturb parsing */
	memcpy(big, img, len);
	memcpy(big + len + 600 - 28, "~Module signature appended~\n", 28);
	tap_is_int(dkm_elf_module_parse(ctx, "signed.ko", big, len + 600, &m), 0,
		   "trailing signature ignored");
	tap_is_str(m.name, "dkm_fixture", "name with trailing data");
	dkm_elf_module_done(&m);
	dkm_elf_module_done(NULL);
}

int main(void)
{
	if (dkm_ctx_new("/nonexistent-root", &ctx) < 0)
		return 1;
	log_capture_attach(ctx, &cap);

	test_good_variants();
	test_modinfo_get();
	test_bad();
	test_trailing_bytes();

	dkm_ctx_free(ctx);
	return tap_done();
}
