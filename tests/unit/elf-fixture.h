/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Build small synthetic ELF relocatable objects shaped like kernel modules, for unit tests:
 * [Ehdr][.modinfo][.gnu.linkonce.this_module][.shstrtab][section headers]. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct elf_fixture {
	bool is64;
	bool big_endian;
	unsigned type;	     /* ET_REL = 1 */
	unsigned machine;    /* EM_X86_64 = 62 */
	const char *modinfo; /* NUL-separated entries; NULL = no .modinfo section */
	size_t modinfo_len;
	bool this_module; /* add .gnu.linkonce.this_module */
};

static inline void fixture_put(uint8_t *p, size_t off, uint64_t v, unsigned width, bool be)
{
	for (unsigned i = 0; i < width; i++)
		p[off + i] = (uint8_t)(v >> (be ? 8 * (width - 1 - i) : 8 * i));
}

static inline void fixture_shdr(const struct elf_fixture *f, uint8_t *p, size_t off, uint32_t name,
				uint32_t type, uint64_t offset, uint64_t size)
{
	bool be = f->big_endian;

	fixture_put(p, off + 0, name, 4, be);
	fixture_put(p, off + 4, type, 4, be);
	if (f->is64) {
		fixture_put(p, off + 24, offset, 8, be);
		fixture_put(p, off + 32, size, 8, be);
		fixture_put(p, off + 48, 1, 8, be); /* addralign */
	} else {
		fixture_put(p, off + 16, offset, 4, be);
		fixture_put(p, off + 20, size, 4, be);
		fixture_put(p, off + 32, 1, 4, be);
	}
}

/* Returns a malloc'ed image and its length. */
static inline uint8_t *elf_fixture_build(const struct elf_fixture *f, size_t *ret_len)
{
	static const char shstrtab[] = "\0.modinfo\0.gnu.linkonce.this_module\0.shstrtab\0";
	const uint32_t n_modinfo = 1, n_this = 10, n_shstrtab = 36;
	size_t ehsize = f->is64 ? 64 : 52, shentsize = f->is64 ? 64 : 40;
	size_t this_len = 64, nsec = 4;
	size_t o_modinfo = ehsize;
	size_t o_this = o_modinfo + (f->modinfo ? f->modinfo_len : 0);
	size_t o_str = o_this + (f->this_module ? this_len : 0);
	size_t o_sh = (o_str + sizeof(shstrtab) + 7) & ~(size_t)7;
	size_t len = o_sh + nsec * shentsize, sec = 1;
	bool be = f->big_endian;
	uint8_t *p = calloc(1, len);

	memcpy(p, "\177ELF", 4);
	p[4] = f->is64 ? 2 : 1;
	p[5] = be ? 2 : 1;
	p[6] = 1;
	fixture_put(p, 16, f->type, 2, be);
	fixture_put(p, 18, f->machine, 2, be);
	fixture_put(p, 20, 1, 4, be);
	if (f->is64) {
		fixture_put(p, 40, o_sh, 8, be);
		fixture_put(p, 52, ehsize, 2, be);
		fixture_put(p, 58, shentsize, 2, be);
	} else {
		fixture_put(p, 32, o_sh, 4, be);
		fixture_put(p, 40, ehsize, 2, be);
		fixture_put(p, 46, shentsize, 2, be);
	}

	if (f->modinfo) {
		memcpy(p + o_modinfo, f->modinfo, f->modinfo_len);
		fixture_shdr(f, p, o_sh + sec++ * shentsize, n_modinfo, 1 /* PROGBITS */, o_modinfo,
			     f->modinfo_len);
	}
	if (f->this_module) {
		memset(p + o_this, 0xaa, this_len);
		fixture_shdr(f, p, o_sh + sec++ * shentsize, n_this, 1, o_this, this_len);
	}
	memcpy(p + o_str, shstrtab, sizeof(shstrtab));
	fixture_shdr(f, p, o_sh + sec * shentsize, n_shstrtab, 3 /* STRTAB */, o_str,
		     sizeof(shstrtab));
	/* e_shnum, e_shstrndx */
	fixture_put(p, f->is64 ? 60 : 48, sec + 1, 2, be);
	fixture_put(p, f->is64 ? 62 : 50, sec, 2, be);
	*ret_len = o_sh + (sec + 1) * shentsize;
	return p;
}

#define FIXTURE_MODINFO "license=GPL\0name=dkm_fixture\0vermagic=6.1.0-test SMP mod_unload \0"

/* A well-formed x86_64 module image. */
static inline uint8_t *elf_fixture_module(size_t *ret_len)
{
	struct elf_fixture f = {
		.is64 = true,
		.type = 1,
		.machine = 62,
		.modinfo = FIXTURE_MODINFO,
		.modinfo_len = sizeof(FIXTURE_MODINFO),
		.this_module = true,
	};

	return elf_fixture_build(&f, ret_len);
}
