# cvm-agent — GNU Makefile (conventions.md §6.6: wireguard-tools style, pkg-config, V=1 for verbose)
#
#   make                    build agent + library into $(BUILDDIR)
#   make check              install test dependencies, build, run the whole suite
#   make check SANITIZE=1   the same under ASan+UBSan (separate build directory)
#   make check-vm           the VM end-to-end tests in tests/vm/ (QEMU TCG + OVMF + swtpm; installs
#                           their packages first; guest images cached in $(BUILDDIR)/vm-cache)
#   make fuzz               build the libFuzzer targets; make fuzz-run FUZZ_SECONDS=60 runs them
#   make bench              the side-by-side benchmarks in tests/bench/
#   make demo               end-to-end demonstration on the embedded defaults
#   make install            DESTDIR/PREFIX honoured
#   make clean

PREFIX      ?= /usr
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
DATADIR     ?= $(PREFIX)/share/cvm-agent
SYSCONFDIR  ?= /etc
DESTDIR     ?=

SANITIZE    ?= 0
ifeq ($(SANITIZE),1)
BUILDDIR    ?= build-sanitize
else
BUILDDIR    ?= build
endif
B := $(BUILDDIR)

# The real-data conformance corpus lives beside the checkout, never inside it.
VECTORS     ?= $(abspath $(CURDIR)/../shared/vectors)
FUZZ_SECONDS ?= 60

CC          ?= cc
FUZZ_CC     ?= clang
PKG_CONFIG  ?= pkg-config

PKGS := tss2-esys tss2-mu tss2-tctildr tss2-rc libcryptsetup libsystemd openssl libcurl json-c
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

CFLAGS ?= -O2 -g
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -DCVM_AGENT_VERSION='"$(VERSION)"' \
	-DCVM_AGENT_DATADIR='"$(DATADIR)"' -DCVM_AGENT_SYSCONFDIR='"$(SYSCONFDIR)"' \
	-Wall -Wextra -Wformat=2 -Wshadow -Werror -Werror=implicit-function-declaration \
	-Wno-missing-field-initializers -Wstrict-prototypes -Wmissing-prototypes \
	-fvisibility=hidden -MMD -MP -Iagent/lib -Iagent/cli $(PKG_CFLAGS)

ifeq ($(SANITIZE),1)
HARDEN_CFLAGS  := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
HARDEN_LDFLAGS := -fsanitize=address,undefined
else
HARDEN_CFLAGS  := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection \
	-fcf-protection -fPIE
HARDEN_LDFLAGS := -pie -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack
endif

ALL_CFLAGS  := $(CFLAGS) $(BASE_CFLAGS) $(HARDEN_CFLAGS)
ALL_LDFLAGS := $(LDFLAGS) $(HARDEN_LDFLAGS) -Wl,--as-needed
LIBS := $(PKG_LIBS)

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRC   := $(sort $(wildcard agent/lib/*.c))
ADAPTER_SRC := $(sort $(wildcard agent/adapters/*.c))
BACKEND_SRC := $(sort $(wildcard agent/backends/*.c))
VTPM_SRC  := $(sort $(wildcard tests/vtpm/*.c))
CLI_SRC   := $(sort $(wildcard agent/cli/*.c))
TEST_SRC  := $(sort $(wildcard tests/unit/test-*.c))
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz-*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(B)/%.o)
ADAPTER_OBJ := $(ADAPTER_SRC:%.c=$(B)/%.o)
BACKEND_OBJ := $(BACKEND_SRC:%.c=$(B)/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(B)/%.o)
TEST_BIN  := $(TEST_SRC:tests/unit/%.c=$(B)/tests/%)
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%)
LIBCVM    := $(B)/libcvm.a
LIBADAPTERS := $(B)/libcvm-adapters.a
LIBBACKENDS := $(B)/libcvm-backends.a
VTPM_BIN  := $(VTPM_SRC:tests/vtpm/%.c=$(B)/tests/vtpm/%)
AGENT     := $(B)/cvm-agent

.SECONDARY:

.PHONY: all check check-build check-vm deps fuzz fuzz-run bench demo install install-token clean format format-check

all: $(AGENT)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBCVM): $(LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# Adapters wrap one external library each (libcurl, tss2-esys, ...); they see their own headers.
$(B)/agent/adapters/%.o: agent/adapters/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -Iagent/adapters -c -o $@ $<

# Commands wire adapters (tpm.h, ...) to the library.
$(CLI_OBJ): ALL_CFLAGS += -Iagent/adapters -Iagent/backends

# Backends (attest -> token -> key release) sit on top of the adapters and the library.
$(B)/agent/backends/%.o: agent/backends/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -Iagent/adapters -Iagent/backends -c -o $@ $<

$(LIBBACKENDS): $(BACKEND_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBADAPTERS): $(ADAPTER_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(AGENT): $(CLI_OBJ) $(LIBBACKENDS) $(LIBADAPTERS) $(LIBCVM)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(CLI_OBJ) $(LIBBACKENDS) $(LIBADAPTERS) $(LIBCVM) $(LIBS)

# Unit tests: one cmocka binary per tests/unit/test-*.c, linked against the library.
$(B)/tests/%: tests/unit/%.c $(LIBBACKENDS) $(LIBADAPTERS) $(LIBCVM) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST-CC $<")
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-unused-parameter -Itests/unit -Iagent/adapters -Iagent/backends $(ALL_LDFLAGS) -o $@ $< $(LIBBACKENDS) $(LIBADAPTERS) $(LIBCVM) $(LIBS) -lcmocka

# Test tools (the simulated Azure vTPM provisioner, the TPM benchmark): one program per tests/vtpm/*.c.
$(B)/tests/vtpm/%: tests/vtpm/%.c $(LIBADAPTERS) $(LIBCVM) $(wildcard tests/vtpm/*.h)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TOOL-CC $<")
	$(Q)$(CC) $(ALL_CFLAGS) -Iagent/adapters -Itests/vtpm $(ALL_LDFLAGS) -o $@ $< $(LIBADAPTERS) $(LIBCVM) $(LIBS)

# The LUKS2 token plugin (conventions.md §1.1-1.2): its own position-independent objects, never
# sanitizer-instrumented (cryptsetup and systemd-cryptsetup load it), CRYPTSETUP_TOKEN_1.0 symbols.
TOKEN_SRC    := $(sort $(wildcard agent/token/*.c))
# The plugin shares the whole unlock path with the CLI: library, adapters (libcryptsetup, tss2,
# libcurl) and backends; unused sections are dropped at link time.
TOKEN_DEPS   := $(LIB_SRC) $(ADAPTER_SRC) $(BACKEND_SRC)
TOKEN_OBJ    := $(TOKEN_SRC:%.c=$(B)/pic/%.o) $(TOKEN_DEPS:%.c=$(B)/pic/%.o)
TOKEN_PLUGIN := $(B)/libcryptsetup-token-cvm-agent.so
TOKENDIR     ?= $(shell $(PKG_CONFIG) --variable=libdir libcryptsetup 2>/dev/null)/cryptsetup
PIC_CFLAGS   := $(CFLAGS) $(BASE_CFLAGS) -Iagent/adapters -Iagent/backends -fPIC -D_FORTIFY_SOURCE=2 \
	-fstack-protector-strong -fstack-clash-protection -fcf-protection -ffunction-sections -fdata-sections

$(B)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC-PIC  $<")
	$(Q)$(CC) $(PIC_CFLAGS) -c -o $@ $<

$(TOKEN_PLUGIN): $(TOKEN_OBJ) agent/token/cryptsetup-token.sym
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared $(LDFLAGS) -Wl,--version-script=agent/token/cryptsetup-token.sym -Wl,-z,relro -Wl,-z,now \
		-Wl,-z,noexecstack -Wl,-z,defs -Wl,--as-needed -Wl,--gc-sections -o $@ $(TOKEN_OBJ) $(LIBS)

all: $(TOKEN_PLUGIN)
check-build: $(TOKEN_PLUGIN)
install: install-token

install-token: $(TOKEN_PLUGIN)
	install -d $(DESTDIR)$(TOKENDIR)
	install -m 0644 $(TOKEN_PLUGIN) $(DESTDIR)$(TOKENDIR)/

deps:
	$(Q)./packaging/install-deps.sh

check-build: $(AGENT) $(TEST_BIN) $(VTPM_BIN)

check: deps
	$(Q)$(MAKE) --no-print-directory check-build
	$(Q)CVM_VECTORS="$(VECTORS)" CVM_AGENT="$(abspath $(AGENT))" CVM_BUILDDIR="$(abspath $(B))" \
		tests/run-suite.sh $(TEST_BIN) $(sort $(wildcard tests/cli/test-*.sh))

# VM end-to-end tests: each tests/vm/test-*.sh boots guests under QEMU (TCG only) and skips (77)
# with a reason when a tool is missing. Bounded: every QEMU run is under `timeout`.
check-vm:
	$(Q)./packaging/install-deps.sh --vm
	$(Q)$(MAKE) --no-print-directory $(AGENT)
	$(Q)CVM_VECTORS="$(VECTORS)" CVM_AGENT="$(abspath $(AGENT))" CVM_BUILDDIR="$(abspath $(B))" \
		tests/run-suite.sh $(sort $(wildcard tests/vm/test-*.sh))

# libFuzzer targets: the whole library is rebuilt with clang and the fuzzer + sanitizers.
FUZZ_CFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -DCVM_AGENT_VERSION='"$(VERSION)"' \
	-DCVM_AGENT_DATADIR='"$(DATADIR)"' -DCVM_AGENT_SYSCONFDIR='"$(SYSCONFDIR)"' -DFUZZING \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
	-Iagent/lib $(PKG_CFLAGS)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(B)/fuzzobj/%.o)

$(B)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJ) $(LIBS)

fuzz: $(FUZZ_BIN)

fuzz-run: fuzz
	$(Q)CVM_VECTORS="$(VECTORS)" tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

bench: $(AGENT) $(VTPM_BIN)
	$(Q)CVM_VECTORS="$(VECTORS)" CVM_AGENT="$(abspath $(AGENT))" tests/bench/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory $(AGENT) $(VTPM_BIN)
	$(Q)CVM_VECTORS="$(VECTORS)" CVM_AGENT="$(abspath $(AGENT))" CVM_BUILDDIR="$(abspath $(B))" tests/demo.sh

install: $(AGENT)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(AGENT) $(DESTDIR)$(BINDIR)/cvm-agent
	install -m 0644 agent/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -d $(DESTDIR)$(MANDIR)/man5 && install -m 0644 agent/man/*.5 $(DESTDIR)$(MANDIR)/man5/

format:
	clang-format -i $(LIB_SRC) $(ADAPTER_SRC) $(CLI_SRC) $(wildcard agent/lib/*.h agent/adapters/*.h agent/cli/*.h)

format-check:
	clang-format --dry-run --Werror $(LIB_SRC) $(ADAPTER_SRC) $(CLI_SRC) $(wildcard agent/lib/*.h agent/adapters/*.h agent/cli/*.h)

clean:
	rm -rf build build-sanitize $(BUILDDIR) dist

-include $(LIB_OBJ:.o=.d) $(ADAPTER_OBJ:.o=.d) $(BACKEND_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(FUZZ_LIB_OBJ:.o=.d) $(TOKEN_OBJ:.o=.d)
