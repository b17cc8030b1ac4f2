/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Just enough ELF to recognise a kernel module and read its .modinfo. Every offset read from
 * the file is checked against the buffer before use: modules are input we did not write. */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "ctx.h"
#include "elf-module.h"
#include "log.h"
#include "util.h"

struct elf_view {
	const uint8_t *p;
	size_t len;
	bool is64;
	bool be;
	unsigned type;
	unsigned machine;
	uint64_t shoff;
	uint64_t shentsize;
	uint64_t shnum;
	uint64_t shstrndx;
};

struct elf_section {
	uint32_t name;
	uint32_t type;
	uint64_t offset;
	uint64_t size;
	uint32_t link;
};

static uint64_t rd(const struct elf_view *v, uint64_t off, unsigned width)
{
	uint64_t x = 0;

	for (unsigned i = 0; i < width; i++) {
		unsigned shift = v->be ? 8 * (width - 1 - i) : 8 * i;

		x |= (uint64_t)v->p[off + i] << shift;
	}
	return x;
}

/* Is [off, off + size) inside the buffer? */
static bool in_range(const struct elf_view *v, uint64_t off, uint64_t size)
{
	return off <= v->len && size <= v->len - off;
}

static void section_read(const struct elf_view *v, uint64_t idx, struct elf_section *s)
{
	uint64_t o = v->shoff + idx * v->shentsize;

	if (v->is64) {
		s->name = (uint32_t)rd(v, o + 0, 4);
		s->type = (uint32_t)rd(v, o + 4, 4);
		s->offset = rd(v, o + 24, 8);
		s->size = rd(v, o + 32, 8);
		s->link = (uint32_t)rd(v, o + 40, 4);
	} else {
		s->name = (uint32_t)rd(v, o + 0, 4);
		s->type = (uint32_t)rd(v, o + 4, 4);
		s->offset = rd(v, o + 16, 4);
		s->size = rd(v, o + 20, 4);
		s->link = (uint32_t)rd(v, o + 24, 4);
	}
}

bool dkm_elf_is_elf(const void *data, size_t len)
{
	return len >= SELFMAG && memcmp(data, ELFMAG, SELFMAG) == 0;
}

/* Returns NULL on success, or why the buffer is not a usable ELF relocatable object. */
static const char *elf_open(struct elf_view *v, const void *data, size_t len)
{
	const uint8_t *id = data;
	uint64_t ehsize, min_shentsize;

	*v = (struct elf_view){ .p = data, .len = len };
	if (!dkm_elf_is_elf(data, len))
		return "no ELF magic";
	if (len < EI_NIDENT)
		return "truncated ELF header";
	if (id[EI_CLASS] != ELFCLASS32 && id[EI_CLASS] != ELFCLASS64)
		return "unknown ELF class";
	if (id[EI_DATA] != ELFDATA2LSB && id[EI_DATA] != ELFDATA2MSB)
		return "unknown ELF byte order";
	if (id[EI_VERSION] != EV_CURRENT)
		return "unknown ELF version";
	v->is64 = id[EI_CLASS] == ELFCLASS64;
	v->be = id[EI_DATA] == ELFDATA2MSB;
	ehsize = v->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	min_shentsize = v->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
	if (len < ehsize)
		return "truncated ELF header";

	v->type = (unsigned)rd(v, 16, 2);
	v->machine = (unsigned)rd(v, 18, 2);
	if (v->type != ET_REL)
		return v->type == ET_EXEC  ? "an executable, not a relocatable object"
		       : v->type == ET_DYN ? "a shared object, not a relocatable object"
					   : "not a relocatable object";
	if (v->is64) {
		v->shoff = rd(v, 40, 8);
		v->shentsize = rd(v, 58, 2);
		v->shnum = rd(v, 60, 2);
		v->shstrndx = rd(v, 62, 2);
	} else {
		v->shoff = rd(v, 32, 4);
		v->shentsize = rd(v, 46, 2);
		v->shnum = rd(v, 48, 2);
		v->shstrndx = rd(v, 50, 2);
	}
	if (v->shoff == 0)
		return "no section header table";
	if (v->shentsize < min_shentsize)
		return "section header entries too small";
	if (!in_range(v, v->shoff, v->shentsize))
		return "section header table outside the file";

	/* Extended numbering: the real counts live in section 0. */
	if (v->shnum == 0 || v->shstrndx == SHN_XINDEX) {
		struct elf_section s0;

		section_read(v, 0, &s0);
		if (v->shnum == 0)
			v->shnum = s0.size;
		if (v->shstrndx == SHN_XINDEX)
			v->shstrndx = s0.link;
	}
	if (v->shnum == 0 || v->shnum > (v->len - v->shoff) / v->shentsize)
		return "section header table outside the file";
	if (v->shstrndx == SHN_UNDEF || v->shstrndx >= v->shnum)
		return "no section name table";
	return NULL;
}

/* Find a section by name. Returns NULL if found (and fills *ret), else why not. */
static const char *section_find(const struct elf_view *v, const char *name, struct elf_section *ret,
				bool *ret_found)
{
	struct elf_section strtab;
	size_t nlen = strlen(name);

	*ret_found = false;
	section_read(v, v->shstrndx, &strtab);
	if (strtab.type == SHT_NOBITS || !in_range(v, strtab.offset, strtab.size))
		return "section name table outside the file";

	for (uint64_t i = 1; i < v->shnum; i++) {
		struct elf_section s;

		section_read(v, i, &s);
		if (s.name >= strtab.size || strtab.size - s.name < nlen + 1)
			continue;
		if (memcmp(v->p + strtab.offset + s.name, name, nlen + 1) != 0)
			continue;
		if (s.type != SHT_NOBITS && !in_range(v, s.offset, s.size))
			return "section outside the file";
		*ret = s;
		*ret_found = true;
		return NULL;
	}
	return NULL;
}

/* Look up key in a .modinfo blob: NUL-separated "key=value" strings, possibly padded. */
static char *modinfo_lookup(const char *blob, size_t size, const char *key)
{
	size_t klen = strlen(key);
	size_t i = 0;

	while (i < size) {
		const char *s = blob + i;
		const char *end = memchr(s, 0, size - i);
		size_t slen = end ? (size_t)(end - s) : size - i;

		if (slen > klen && s[klen] == '=' && memcmp(s, key, klen) == 0)
			return xstrndup(s + klen + 1, slen - klen - 1);
		i += slen + 1;
	}
	return NULL;
}

static const char *modinfo_section(const struct elf_view *v, struct elf_section *ret)
{
	const char *why;
	bool found;

	why = section_find(v, ".modinfo", ret, &found);
	if (why)
		return why;
	if (!found || ret->type == SHT_NOBITS)
		return "no .modinfo section";
	return NULL;
}

int dkm_elf_modinfo_get(const void *data, size_t len, const char *key, char **ret)
{
	struct elf_view v;
	struct elf_section mi;
	char *value;

	if (elf_open(&v, data, len) || modinfo_section(&v, &mi))
		return -ENOEXEC;
	value = modinfo_lookup((const char *)v.p + mi.offset, mi.size, key);
	if (!value)
		return 0;
	*ret = value;
	return 1;
}

int dkm_elf_modinfo_get_all(const void *data, size_t len, const char *key, char ***ret)
{
	struct elf_view v;
	struct elf_section mi;
	char **l = xcalloc(1, sizeof(char *));
	const char *blob;
	size_t klen = strlen(key), i = 0;

	if (elf_open(&v, data, len) || modinfo_section(&v, &mi)) {
		strv_free(l);
		return -ENOEXEC;
	}
	blob = (const char *)v.p + mi.offset;
	while (i < mi.size) {
		const char *s = blob + i;
		const char *end = memchr(s, 0, mi.size - i);
		size_t slen = end ? (size_t)(end - s) : mi.size - i;

		if (slen > klen && s[klen] == '=' && memcmp(s, key, klen) == 0)
			strv_push(&l, xstrndup(s + klen + 1, slen - klen - 1));
		i += slen + 1;
	}
	*ret = l;
	return (int)strv_length(l);
}

int dkm_elf_module_parse(struct dkm_ctx *ctx, const char *what, const void *data, size_t len,
			 struct dkm_elf_module *ret)
{
	struct elf_view v;
	struct elf_section mi, this_module;
	_cleanup_free_ char *name = NULL, *vermagic = NULL;
	const char *why;
	bool found;

	why = elf_open(&v, data, len);
	if (!why)
		why = section_find(&v, ".gnu.linkonce.this_module", &this_module, &found);
	if (!why && !found)
		why = "no .gnu.linkonce.this_module section (an object file, not a linked module?)";
	if (!why)
		why = modinfo_section(&v, &mi);
	if (!why) {
		name = modinfo_lookup((const char *)v.p + mi.offset, mi.size, "name");
		vermagic = modinfo_lookup((const char *)v.p + mi.offset, mi.size, "vermagic");
		if (!vermagic)
			why = "no vermagic in .modinfo";
	}
	if (why && what)
		return dkm_err(ctx, ENOEXEC, "'%s' is not a kernel module: %s", what, why);
	if (why)
		return dkm_err(ctx, ENOEXEC, "not a kernel module: %s", why);

	*ret = (struct dkm_elf_module){
		.elf_class = v.is64 ? 64 : 32,
		.big_endian = v.be,
		.machine = v.machine,
		.name = TAKE_PTR(name),
		.vermagic = TAKE_PTR(vermagic),
	};
	return 0;
}

void dkm_elf_module_done(struct dkm_elf_module *m)
{
	if (!m)
		return;
	free(m->name);
	free(m->vermagic);
	m->name = m->vermagic = NULL;
}

const char *dkm_elf_machine_name(unsigned machine)
{
	switch (machine) {
	case EM_386:
		return "i386";
	case EM_X86_64:
		return "x86_64";
	case EM_ARM:
		return "arm";
	case EM_AARCH64:
		return "aarch64";
	case EM_PPC:
		return "ppc";
	case EM_PPC64:
		return "ppc64";
	case EM_S390:
		return "s390x";
	case EM_MIPS:
		return "mips";
	case EM_RISCV:
		return "riscv64";
	case EM_LOONGARCH:
		return "loongarch64";
	case EM_SPARCV9:
		return "sparc64";
	default:
		return NULL;
	}
}
