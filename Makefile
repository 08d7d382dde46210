# Builds libstepca for C consumers, the C example and the C tests.
#   make            the library (build/lib, with build/pkgconfig/stepca.pc for it) and the
#                   example (build/enroll)
#   make c-tests    the C tests, plain, under ASan+UBSan, and for valgrind
#   make cli        the stepca command (target/release/stepca)
#   make TARGET=aarch64-unknown-linux-gnu [lib example c-tests install ...]
#                   the same, cross-built for a Rust target triple into build/TRIPLE (see
#                   "ARM boards" in README.md); CC defaults to the Debian cross compiler
#   make install    the library, headers, pkg-config and CMake files, the stepca command,
#                   its systemd units, shell completions and man page (PREFIX, LIBDIR,
#                   INCLUDEDIR, BINDIR, SYSTEMDUNITDIR, DATADIR, MANDIR, DESTDIR)
# The Rust build itself is cargo's; this file arranges the C side and the installation.

CARGO    ?= cargo
CC       ?= cc
VERSION  := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# cargo's output directory (CARGO_TARGET_DIR or target/).
CARGO_OUT := $(or $(CARGO_TARGET_DIR),target)
CWARN    := -std=c99 -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes
CFLAGS   ?= -O1 -g

# TARGET: a Rust target triple to cross-build for, given on make's command line; empty
# builds for this machine. A TARGET in the environment is ignored (other tools use the name).
ifneq ($(origin TARGET),command line)
TARGET   :=
endif
ifeq ($(TARGET),)
BUILD    := build
RUSTOUT  := $(CARGO_OUT)/release
CARGO_CROSS :=
RUN_TARGET :=
else
BUILD    := build/$(TARGET)
RUSTOUT  := $(CARGO_OUT)/$(TARGET)/release
# The GNU triplet of Debian's cross toolchain and multiarch directories:
# aarch64-unknown-linux-gnu -> aarch64-linux-gnu, armv7-unknown-linux-gnueabihf -> arm-linux-gnueabihf.
CROSS_PREFIX ?= $(patsubst armv7-%,arm-%,$(patsubst riscv64gc-%,riscv64-%,$(subst -unknown-,-,$(TARGET))))
# The cross compiler unless CC was given (on the command line or in the environment).
ifeq ($(origin CC),default)
CC       := $(CROSS_PREFIX)-gcc
endif
TARGET_U := $(subst -,_,$(TARGET))
TARGET_UC := $(shell echo $(TARGET_U) | tr a-z A-Z)
# cargo and the cc crate (aws-lc-sys) get the compiler through per-target variables only;
# a plain CC or CFLAGS meant for the C side is kept away from them.
CARGO_CROSS := env -u CC -u CFLAGS CC_$(TARGET_U)='$(CC)' AR_$(TARGET_U)=$(CROSS_PREFIX)-ar \
  CARGO_TARGET_$(TARGET_UC)_LINKER='$(CC)'
CARGO_TARGET_FLAG := --target $(TARGET)
# Target libraries the C tests need (OpenSSL's libcrypto) outside the compiler's own
# search path: a directory with usr/include and usr/lib/$(CROSS_PREFIX), such as the one
# scripts/test-arm.sh unpacks Debian's packages into. Not needed with multiarch packages.
CROSS_ROOT ?=
ifneq ($(CROSS_ROOT),)
CROSS_LIBS := $(CROSS_ROOT)/usr/lib/$(CROSS_PREFIX)
CROSS_FLAGS := -I$(CROSS_ROOT)/usr/include -I$(CROSS_ROOT)/usr/include/$(CROSS_PREFIX) \
  -L$(CROSS_LIBS) -Wl,-rpath-link,$(CROSS_LIBS):$(CROSS_ROOT)/lib/$(CROSS_PREFIX)
endif
# How to run a target program here (make install-docs runs the stepca command built):
# qemu-user with the cross toolchain's C library.
QEMU_ARCH := $(patsubst armv7%,arm,$(patsubst arm%,arm,$(firstword $(subst -, ,$(TARGET)))))
RUN_TARGET ?= qemu-$(QEMU_ARCH) -L /usr/$(CROSS_PREFIX)
endif

LIBDIR_BUILD := $(BUILD)/lib
RUSTLIB  := $(RUSTOUT)/libstepca.so
LINK     := -L$(LIBDIR_BUILD) -lstepca -Wl,-rpath,$(abspath $(LIBDIR_BUILD))
# The C tests use OpenSSL too (the external signer test signs with it).
TESTLINK := $(LINK) $(CROSS_FLAGS) -lcrypto
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

C_TESTS  := $(patsubst tests/c/%.c,%,$(filter-out tests/c/harness.c,$(wildcard tests/c/test_*.c)))

.PHONY: all lib example example-static cli c-tests cpp-tests install install-systemd install-docs clean FORCE

# Installation layout (GNU conventions); DESTDIR stages it.
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
MAJOR      := $(word 1,$(subst ., ,$(VERSION)))
MINOR      := $(word 2,$(subst ., ,$(VERSION)))
# The SONAME's version (README, "Releases and ABI"; build.rs sets the same -soname): before
# 1.0 major.minor, as a 0.x minor release may break the ABI; from 1.0 on the major alone.
SOVERSION  := $(if $(filter 0,$(MAJOR)),$(MAJOR).$(MINOR),$(MAJOR))
SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
  -e 's|@BINDIR@|$(BINDIR)|g' \
  -e 's|@VERSION@|$(VERSION)|g' -e 's|@SOVERSION@|$(SOVERSION)|g' -e 's|@MAJOR@|$(MAJOR)|g' -e 's|@MINOR@|$(MINOR)|g' \
  -e 's|@LIB_REL@|$(patsubst $(PREFIX)/%,%,$(LIBDIR))|g' -e 's|@INCLUDE_REL@|$(patsubst $(PREFIX)/%,%,$(INCLUDEDIR))|g' \
  -e 's|@CMAKE_REL_PREFIX@|$(shell echo $(patsubst $(PREFIX)/%,%,$(LIBDIR))/cmake/stepca | sed 's|[^/][^/]*|..|g')|g'

all: lib example

# Always ask cargo: it knows whether the Rust sources changed. The library and the command
# are built by one invocation: built apart, cargo unifies the dependencies' features
# differently, and the two variants of libstepca.so (a cdylib: one file name) evict each
# other, so every `make lib` after a `make cli` rebuilt both (minutes per make install).
# LIB_PACKAGES=-p stepca builds the library alone, for a target directory that never
# builds the command (scripts/test-arm.sh: a cross build for the C suites).
LIB_PACKAGES ?= -p stepca -p stepca-cli
$(RUSTLIB): FORCE
	$(CARGO_CROSS) $(CARGO) build --release $(CARGO_TARGET_FLAG) $(LIB_PACKAGES)

lib: $(LIBDIR_BUILD)/libstepca.so.$(VERSION) $(BUILD)/pkgconfig/stepca.pc

# stepca.pc for this checkout's build/lib (not installed): PKG_CONFIG_PATH=$$PWD/build/pkgconfig
# lets pkg-config consumers, the Go binding among them, build against the checkout.
$(BUILD)/pkgconfig/stepca.pc: packaging/stepca-uninstalled.pc.in Cargo.toml
	mkdir -p $(BUILD)/pkgconfig
	sed -e 's|@ROOT@|$(CURDIR)|g' -e 's|@LIBDIR_BUILD@|$(abspath $(LIBDIR_BUILD))|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@.$$$$.tmp && mv -f $@.$$$$.tmp $@

$(LIBDIR_BUILD)/libstepca.so.$(VERSION): $(RUSTLIB)
	mkdir -p $(LIBDIR_BUILD)
	# Copy, then rename: overwriting the file in place would crash processes that have it
	# mapped (SIGBUS), such as tests still running against the previous build.
	# The temporary name is per process: two makes at once must not share it.
	cp $(RUSTLIB) $@.$$$$.tmp && mv -f $@.$$$$.tmp $@
	ln -sf libstepca.so.$(VERSION) $(LIBDIR_BUILD)/libstepca.so.$(SOVERSION)
	ln -sf libstepca.so.$(SOVERSION) $(LIBDIR_BUILD)/libstepca.so
	cp $(RUSTOUT)/libstepca.a $(LIBDIR_BUILD)/libstepca.a

example: $(BUILD)/enroll

$(BUILD)/enroll: examples/enroll.c include/stepca.h lib
	$(CC) $(CWARN) $(CFLAGS) -Iinclude $< $(LINK) -o $@

# The factory-identity example (scripts/demo.sh --factory): X5C enrollment, key in PKCS#11.
example: $(BUILD)/factory_enroll

$(BUILD)/factory_enroll: examples/factory_enroll.c include/stepca.h lib
	$(CC) $(CWARN) $(CFLAGS) -Iinclude $< $(LINK) -o $@

# The example linked statically (libstepca.a and glibc's libc.a), with bench/memstats.c
# (memory at exit, printed when STEPCA_MEMSTATS=1): scripts/footprint.sh measures it.
# glibc warns that dlopen (PKCS#11 modules) and name lookups (getaddrinfo) in a static
# program need its shared libraries at run time; a CA given by IP address needs neither.
example-static: $(BUILD)/enroll-static

$(BUILD)/enroll-static: examples/enroll.c bench/memstats.c include/stepca.h lib
	$(CC) $(CWARN) $(CFLAGS) -Iinclude $< bench/memstats.c $(LIBDIR_BUILD)/libstepca.a -static \
	  -Wl,--gc-sections -lpthread -ldl -lm -o $@

# The stepca command (cli/), built by cargo like the library.
STEPCA_BIN := $(RUSTOUT)/stepca

cli: FORCE
	$(CARGO_CROSS) $(CARGO) build --release $(CARGO_TARGET_FLAG) -p stepca -p stepca-cli

# Each test is built two ways: plain (for valgrind) and with ASan+UBSan; cross-built, plain
# only (they run under qemu-user, where ASan's shadow memory does not work).
ifeq ($(TARGET),)
c-tests: $(addprefix $(BUILD)/tests/,$(C_TESTS)) $(addprefix $(BUILD)/tests/asan-,$(C_TESTS))
else
c-tests: $(addprefix $(BUILD)/tests/,$(C_TESTS))
endif

$(BUILD)/tests/%: tests/c/%.c tests/c/harness.c tests/c/harness.h include/stepca.h lib
	mkdir -p $(BUILD)/tests
	$(CC) $(CWARN) $(CFLAGS) -D_POSIX_C_SOURCE=200809L -Iinclude -Itests/c $< tests/c/harness.c $(TESTLINK) -lpthread -o $@

$(BUILD)/tests/asan-%: tests/c/%.c tests/c/harness.c tests/c/harness.h include/stepca.h lib
	mkdir -p $(BUILD)/tests
	$(CC) $(CWARN) $(CFLAGS) $(SANITIZE) -D_POSIX_C_SOURCE=200809L -Iinclude -Itests/c $< tests/c/harness.c $(TESTLINK) -lpthread -o $@

# The C++ wrapper's GoogleTest tests, plain and with ASan+UBSan.
cpp-tests: $(BUILD)/tests/test_cpp $(BUILD)/tests/asan-test_cpp

CXXWARN := -std=c++17 -Wall -Wextra -Wpedantic -Werror

$(BUILD)/tests/test_cpp: tests/cpp/test_cpp.cpp bindings/cpp/stepca.hpp include/stepca.h lib
	mkdir -p $(BUILD)/tests
	$(CXX) $(CXXWARN) $(CFLAGS) -Iinclude -Ibindings/cpp $< -lgtest -lgtest_main $(TESTLINK) -lpthread -o $@

$(BUILD)/tests/asan-test_cpp: tests/cpp/test_cpp.cpp bindings/cpp/stepca.hpp include/stepca.h lib
	mkdir -p $(BUILD)/tests
	$(CXX) $(CXXWARN) $(CFLAGS) $(SANITIZE) -Iinclude -Ibindings/cpp $< -lgtest -lgtest_main $(TESTLINK) -lpthread -o $@

# The versioned shared library with its SONAME symlinks, the static library, the C and
# C++ headers, stepca.pc, a CMake package (find_package(stepca)), the stepca command, its
# systemd units, and its completions and man page.
install: lib cli install-systemd install-docs
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(LIBDIR)/cmake/stepca $(DESTDIR)$(INCLUDEDIR)
	install -m 755 $(LIBDIR_BUILD)/libstepca.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libstepca.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libstepca.so.$(SOVERSION)
	ln -sf libstepca.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libstepca.so
	install -m 644 $(LIBDIR_BUILD)/libstepca.a $(DESTDIR)$(LIBDIR)/
	install -m 644 include/stepca.h bindings/cpp/stepca.hpp $(DESTDIR)$(INCLUDEDIR)/
	$(SUBST) packaging/stepca.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/stepca.pc
	$(SUBST) packaging/stepcaConfig.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/stepca/stepcaConfig.cmake
	$(SUBST) packaging/stepcaConfigVersion.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/stepca/stepcaConfigVersion.cmake
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(STEPCA_BIN) $(DESTDIR)$(BINDIR)/stepca

# The daemon (stepca-renew@.service) and the timer style (stepca-renew-oneshot@.service and
# .timer), naming $(BINDIR)/stepca; scripts/check-systemd-units.sh verifies them.
SYSTEMD_UNITS := $(notdir $(wildcard packaging/systemd/*.service packaging/systemd/*.timer))

install-systemd:
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	for u in $(SYSTEMD_UNITS); do \
	  $(SUBST) packaging/systemd/$$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$$u && \
	  chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u || exit 1; \
	done

# Completions for bash, zsh and fish and the man page stepca.1, generated by the stepca
# just built from its clap definitions (stepca completion SHELL, stepca man), each where
# that shell looks for them; scripts/check-install-docs.sh checks them.
DOCS := $(BUILD)/docs

install-docs: cli
	mkdir -p $(DOCS)
	$(RUN_TARGET) $(STEPCA_BIN) completion bash > $(DOCS)/stepca.bash
	$(RUN_TARGET) $(STEPCA_BIN) completion zsh > $(DOCS)/_stepca
	$(RUN_TARGET) $(STEPCA_BIN) completion fish > $(DOCS)/stepca.fish
	$(RUN_TARGET) $(STEPCA_BIN) man > $(DOCS)/stepca.1
	install -d $(DESTDIR)$(DATADIR)/bash-completion/completions $(DESTDIR)$(DATADIR)/zsh/site-functions \
	  $(DESTDIR)$(DATADIR)/fish/vendor_completions.d $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(DOCS)/stepca.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/stepca
	install -m 644 $(DOCS)/_stepca $(DESTDIR)$(DATADIR)/zsh/site-functions/_stepca
	install -m 644 $(DOCS)/stepca.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/stepca.fish
	install -m 644 $(DOCS)/stepca.1 $(DESTDIR)$(MANDIR)/man1/stepca.1

clean:
	rm -rf $(BUILD)

FORCE:
