# SPDX-License-Identifier: LGPL-2.1-or-later
# dkm-hook — plain Makefile. `make`, `make check`, `make demo`, `make install DESTDIR= PREFIX=`.

VERSION := 0.1.0
PREFIX ?= /usr
SBINDIR ?= $(PREFIX)/sbin
LIBDIR_KI ?= $(PREFIX)/lib/kernel/install.d
DRACUTDIR ?= $(PREFIX)/lib/dracut/modules.d
INITRAMFSTOOLSDIR ?= $(PREFIX)/share/initramfs-tools
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR ?=

CC ?= cc
PKG_CONFIG ?= pkg-config
DEPS := libkmod blkid liblzma libzstd zlib libcrypto
# Asked of pkg-config by the first compile or link that needs them (once), not when the
# Makefile is read: on a fresh machine `make demo` and `make check` install the -dev packages
# first (tests/deps) and only then build, in a second make.
DEP_CFLAGS = $(eval DEP_CFLAGS := $$(shell $$(PKG_CONFIG) --cflags $$(DEPS)))$(DEP_CFLAGS)
DEP_LIBS = $(eval DEP_LIBS := $$(shell $$(PKG_CONFIG) --libs $$(DEPS)) -lpthread)$(DEP_LIBS)

WARN := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 -Wvla \
	-Wwrite-strings -Wpointer-arith -fno-common -Wno-unused-parameter
HARDEN := -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS ?= -g
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(WARN) $(HARDEN) $(DEP_CFLAGS) -iquote lib -iquote bin/common -DDKM_VERSION='"$(VERSION)"' \
	-DDKM_LIBEXECDIR='"$(PREFIX)/lib/dkm-hook"' -MMD -MP $(CFLAGS)
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(LDFLAGS)
ifeq ($(WERROR),1)
ALL_CFLAGS += -Werror
endif
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
endif

B ?= build
LIB_SRC := $(sort $(wildcard lib/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
# the dkm-hook command: main.c (options, the verb table) and one file per verb family; under the
# name `dkms`, the same binary runs bin/dkms/ (DKMS's command line)
BIN_SRC := $(sort $(wildcard bin/dkm-hook/*.c bin/dkms/*.c))
BIN_OBJ := $(BIN_SRC:%.c=$(B)/%.o)
# what every front end shares (the stdio log sink, the JSON string writer): lib never prints
COMMON_SRC := $(sort $(wildcard bin/common/*.c))
COMMON_OBJ := $(COMMON_SRC:%.c=$(B)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test-*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(B)/tests/%)

PLUGIN := $(B)/40-dkm-hook.install

# man pages: docs/man/<page>.<section>.md is the one source (docs/man/md2man.py, python3's
# standard library only); tests/docs.bats holds them to --help and the code's tables
PYTHON3 ?= python3
MAN_SRC := $(sort $(wildcard docs/man/*.md))
MAN := $(MAN_SRC:docs/man/%.md=$(B)/man/%)
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/vendor-completions
DOCDIR ?= $(PREFIX)/share/doc/dkm-hook

all: $(B)/dkm-hook $(PLUGIN) $(UNIT_BIN) $(TOOL_BIN) $(MAN)

$(B)/man/%: docs/man/%.md docs/man/md2man.py
	@mkdir -p $(dir $@)
	$(PYTHON3) docs/man/md2man.py --version $(VERSION) $< $@

man: $(MAN)

# Without a -dev package or the compiler, one line says what to install (tests/deps -n) instead
# of a compiler error about a missing header: every compile waits for deps-found.
CC_PROG = $(firstword $(CC))
deps-found:
	@command -v $(CC_PROG) >/dev/null && $(PKG_CONFIG) --exists $(DEPS) 2>/dev/null && exit 0; \
	tests/deps -n build || exit 1; \
	command -v $(CC_PROG) >/dev/null || { \
		echo "dkm-hook: error: no C compiler '$(CC_PROG)' on PATH: set CC=" >&2; exit 1; }; \
	m=; for d in $(DEPS); do $(PKG_CONFIG) --exists $$d 2>/dev/null || m="$$m $$d"; done; \
	echo "dkm-hook: error: '$(PKG_CONFIG)' does not find:$$m, although the packages of 'tests/deps build' are installed: check PKG_CONFIG and PKG_CONFIG_PATH" >&2; \
	exit 1

$(B)/%.o: %.c | deps-found
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libdkm.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/libdkm-front.a: $(COMMON_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/dkm-hook: $(BIN_OBJ) $(B)/libdkm-front.a $(B)/libdkm.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(DEP_LIBS)

# the kernel-install plugin: its own small main() over the same library
$(PLUGIN): $(B)/hooks/kernel-install.o $(B)/libdkm-front.a $(B)/libdkm.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(DEP_LIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/tests/unit/tap.o $(B)/libdkm-front.a $(B)/libdkm.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(DEP_LIBS)

# the front end's exit codes and JSON writer, tested on their own
$(B)/tests/test-exit-code: $(B)/tests/unit/test-exit-code.o $(B)/tests/unit/tap.o \
		$(B)/bin/dkm-hook/exit-code.o $(B)/bin/dkm-hook/json-writer.o $(B)/libdkm-front.a $(B)/libdkm.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(DEP_LIBS)

# sign-module drives the verify verb's report too
$(B)/tests/sign-module: $(B)/tests/tools/sign-module.o $(B)/bin/dkm-hook/verb-sign.o $(B)/libdkm-front.a $(B)/libdkm.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(DEP_LIBS)

$(B)/tests/%: $(B)/tests/tools/%.o $(B)/libdkm-front.a $(B)/libdkm.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(DEP_LIBS)

# The README's two commands, the first ones on a fresh machine: the packages first (tests/deps
# installs them as root, or prints the apt-get line and stops), then the build in a second make,
# which is when the flags are asked of pkg-config. Every test goes through prove: the C unit
# tests print TAP, bats prints TAP.
check:
	@tests/deps check
	@$(MAKE) --no-print-directory all
	B=$(B) tests/run-tests

check-boot:
	@tests/deps check
	@$(MAKE) --no-print-directory all
	B=$(B) tests/boot/run

check-unit: all
	prove -v $(UNIT_BIN)

demo:
	@tests/deps demo
	@$(MAKE) --no-print-directory all
	B=$(B) tests/demo

# The habits the tests hold the tree to (tests/style.bats): Debian 12's clang-format over every
# C file, shellcheck over every shell script we install.
C_FILES = $(sort $(wildcard lib/*.[ch] bin/*.[ch] bin/*/*.[ch] hooks/*.[ch] tests/unit/*.[ch] tests/fuzz/*.[ch] tests/tools/*.[ch]))
INSTALLED_SCRIPTS = hooks/debian/postinst.d/dkm-hook hooks/debian/prerm.d/dkm-hook \
	hooks/debian/header_postinst.d/dkm-hook dracut-module/50dkm-hook/module-setup.sh \
	hooks/initramfs-tools/dkm-hook hooks/dkms/common.postinst completion/dkm-hook.bash \
	$(wildcard debian/*.postinst debian/*.postrm debian/*.prerm debian/*.preinst)
lint: lint-c lint-sh
lint-c:
	clang-format --dry-run -Werror $(C_FILES)
lint-sh:
	shellcheck $(INSTALLED_SCRIPTS)
list-installed-scripts:
	@printf '%s\n' $(INSTALLED_SCRIPTS)

# not part of check: measures against Debian's dkms (installs it with apt), prints a report
bench: all
	DKM_HOOK_BIN=$(abspath $(B))/dkm-hook bench/run

KERNELHOOKDIR ?= $(SYSCONFDIR)/kernel
DKMSCOMPATDIR ?= $(PREFIX)/lib/dkm-hook

install: all
	install -Dm0755 $(B)/dkm-hook $(DESTDIR)$(SBINDIR)/dkm-hook
	install -Dm0755 $(PLUGIN) $(DESTDIR)$(LIBDIR_KI)/40-dkm-hook.install
	install -Dm0755 hooks/debian/postinst.d/dkm-hook $(DESTDIR)$(KERNELHOOKDIR)/postinst.d/dkm-hook
	install -Dm0755 hooks/debian/prerm.d/dkm-hook $(DESTDIR)$(KERNELHOOKDIR)/prerm.d/dkm-hook
	install -Dm0755 hooks/debian/header_postinst.d/dkm-hook \
		$(DESTDIR)$(KERNELHOOKDIR)/header_postinst.d/dkm-hook
	install -Dm0755 dracut-module/50dkm-hook/module-setup.sh \
		$(DESTDIR)$(DRACUTDIR)/50dkm-hook/module-setup.sh
	install -Dm0755 hooks/initramfs-tools/dkm-hook $(DESTDIR)$(INITRAMFSTOOLSDIR)/hooks/dkm-hook
	@# the DKMS-compatible command, opt-in and never over a real dkms (docs/dkms-compat.md)
	install -d $(DESTDIR)$(DKMSCOMPATDIR)
	ln -sfn $(SBINDIR)/dkm-hook $(DESTDIR)$(DKMSCOMPATDIR)/dkms
	@# man pages (section from the name), shell completion, the JSON schemas
	for m in $(MAN); do \
		install -Dm0644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/} || exit 1; \
	done
	install -Dm0644 completion/dkm-hook.bash $(DESTDIR)$(BASHCOMPDIR)/dkm-hook
	install -Dm0644 completion/_dkm-hook $(DESTDIR)$(ZSHCOMPDIR)/_dkm-hook
	install -Dm0644 docs/json.md $(DESTDIR)$(DOCDIR)/json.md
	install -Dm0644 -t $(DESTDIR)$(DOCDIR)/schema docs/schema/*.schema.json

clean:
	rm -rf $(B)

.SECONDARY:
.PHONY: all man check check-boot check-unit demo bench install clean deps-found lint lint-c lint-sh list-installed-scripts
-include $(LIB_OBJ:.o=.d) $(BIN_OBJ:.o=.d) $(COMMON_OBJ:.o=.d) $(B)/hooks/kernel-install.d
# the test programs too: tests/tools/fuzz-replay is all in a header (tests/fuzz/targets.h)
-include $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%.d) $(TOOL_SRC:tests/tools/%.c=$(B)/tests/tools/%.d)
