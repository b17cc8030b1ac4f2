/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct dkm_ctx;

/* What we need to know about a built kernel module (.ko) before signing or installing it. */
struct dkm_elf_module {
	unsigned elf_class; /* 32 or 64 */
	bool big_endian;
	unsigned machine; /* e_machine (EM_X86_64 = 62, EM_AARCH64 = 183, ...) */
	char *name;	  /* .modinfo "name=", NULL if the module has none */
	char *vermagic;	  /* .modinfo "vermagic=" */
};

/* Only the ELF magic: is this an ELF file at all (and not, say, a compressed one)? */
bool dkm_elf_is_elf(const void *data, size_t len);

/* Check that data is a linked kernel module: an ELF relocatable object of either class and
 * byte order with a .gnu.linkonce.this_module section and a .modinfo section holding
 * "vermagic=". Reads name and vermagic. On failure logs "'<what>' is not a kernel module:
 * <reason>" (what may be NULL) and returns -ENOEXEC. The buffer may carry an appended signature (it is ignored:
 * the ELF is self-describing). */
int dkm_elf_module_parse(struct dkm_ctx *ctx, const char *what, const void *data, size_t len,
			 struct dkm_elf_module *ret);
void dkm_elf_module_done(struct dkm_elf_module *m);

/* The value of the first "<key>=" entry in .modinfo: 1 and a malloc'ed copy in *ret if found,
 * 0 if not, -ENOEXEC if data is not an ELF relocatable object with a .modinfo section. */
int dkm_elf_modinfo_get(const void *data, size_t len, const char *key, char **ret);
/* Every "<key>=" entry of .modinfo (a module has one "alias=" per MODULE_ALIAS), in file order:
 * a NULL-terminated, malloc'ed list in *ret and its length, -ENOEXEC as above. */
int dkm_elf_modinfo_get_all(const void *data, size_t len, const char *key, char ***ret);

/* "x86_64", "aarch64", ... as `uname -m` spells it; NULL for machines we do not name. */
const char *dkm_elf_machine_name(unsigned machine);
