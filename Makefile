# SPDX-License-Identifier: GPL-2.0
# chlb: one Makefile for the XDP program, the library, the controller, tests
# and benchmarks. `make help` lists the targets; `make V=1` shows commands.

BUILD      ?= build
PREFIX     ?= /usr/local
VERSION    := 0.1.0

CC         ?= gcc
CLANG      ?= clang
BPFTOOL    ?= bpftool
PKG_CONFIG ?= pkg-config

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

PKGS_LIB := liburcu-memb libxxhash
PKGS_CTL := libbpf libxdp json-c libmnl libmicrohttpd libcurl libsystemd

# Evaluated lazily, so `make deps` can install pkg-config files first.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS_LIB) $(PKGS_CTL) 2>/dev/null)
LIB_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS_LIB) 2>/dev/null) -lpthread
CTL_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS_CTL) 2>/dev/null)

OPT        ?= -O2 -g
WARN       := -Wall -Wextra -Werror
CPPFLAGS   += -Iinclude -Iuser -I$(BUILD) -D_GNU_SOURCE -DCHLB_VERSION='"$(VERSION)"'
CFLAGS_ALL  = $(OPT) $(WARN) -std=gnu11 -MMD -MP $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS)

ARCH_INC   := /usr/include/$(shell $(CC) -dumpmachine)
BPF_CFLAGS := -g -O2 -target bpf -Wall -Werror -I$(ARCH_INC) -Iinclude -Ibpf

# Variants: normal (O2), ASan+UBSan for unit tests, TSan for threaded tests.
SAN_asan   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_tsan   := -fsanitize=thread

LIB_SRCS   := $(sort $(wildcard user/lib/*.c))
# The controller's rooms: command line, core, data-plane access, network.
CTL_DIRS   := cli core dp net daemon
CTL_SRCS   := $(sort $(filter-out user/cli/main.c,$(foreach d,$(CTL_DIRS),$(wildcard user/$(d)/*.c))))
BPF_SRCS   := $(sort $(wildcard bpf/*.bpf.c))
TBPF_SRCS  := $(sort $(wildcard tests/bpf/*.bpf.c))
TEST_SRCS  := $(sort $(wildcard tests/test_*.c))
TSAN_SRCS  := $(sort $(wildcard tests/tsan_*.c))
BENCH_SRCS := $(sort $(wildcard tests/bench_*.c))
TOOL_SRCS  := $(sort $(wildcard tests/tools/*.c))
TEST_HELPERS := $(sort $(wildcard tests/helpers/*.c))

BPF_OBJS   := $(patsubst %.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS) $(TBPF_SRCS))
SKELS      := $(patsubst %.bpf.o,%.skel.h,$(addprefix $(BUILD)/,$(notdir $(BPF_OBJS))))

objs = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(2))

LIB_A      := $(BUILD)/libchlb.a
CTL_A      := $(BUILD)/libchlbctl.a
CHLB       := $(BUILD)/chlb
TESTS      := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TSANS      := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TSAN_SRCS))
BENCHES    := $(patsubst tests/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))
TOOLS      := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))
PC         := $(BUILD)/chlb.pc

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps test bench demo install uninstall clean help format

all: $(CHLB) $(LIB_A) $(PC) $(BPF_OBJS)

help:
	@echo 'chlb $(VERSION) targets:'
	@echo '  all       build chlb, libchlb.a, the XDP objects (default)'
	@echo '  deps      install missing Debian packages (scripts/install-deps.sh)'
	@echo '  test      deps + build + every test suite (what CI runs)'
	@echo '  bench     deps + build + benchmarks; figures also in $(BUILD)/bench.json'
	@echo '  demo      deps + build + the virtual testbed with real traffic'
	@echo '  install   chlb, libchlb.a, headers, chlb.pc, the systemd unit under PREFIX=$(PREFIX)'
	@echo '  clean     remove $(BUILD)/'
	@echo 'Variables: V=1 (show commands), PREFIX, CC, CLANG, BPFTOOL, BUILD'

deps:
	$(Q)scripts/install-deps.sh

# ---- BPF: .bpf.c -> .bpf.o -> .skel.h ----------------------------------------

$(BUILD)/%.bpf.o: %.bpf.c Makefile
	$(call msg,CLANG,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

define skel_rule
$(BUILD)/$(notdir $(1:.bpf.o=.skel.h)): $(1)
	$$(call msg,SKEL,$$@)
	$$(Q)$$(BPFTOOL) gen skeleton $$< name $(notdir $(1:.bpf.o=)) > $$@
endef
$(foreach o,$(BPF_OBJS),$(eval $(call skel_rule,$(o))))

# ---- C objects, one directory per variant ------------------------------------

$(BUILD)/obj/%.o: %.c Makefile | $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/asan/%.o: %.c Makefile | $(SKELS)
	$(call msg,CC-ASAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_ALL) $(SAN_asan) -c $< -o $@

$(BUILD)/tsan/%.o: %.c Makefile | $(SKELS)
	$(call msg,CC-TSAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_ALL) $(SAN_tsan) -c $< -o $@

$(LIB_A): $(call objs,obj,$(LIB_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(CTL_A): $(call objs,obj,$(CTL_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(CHLB): $(BUILD)/obj/user/cli/main.o $(CTL_A) $(LIB_A)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(OPT) -o $@ $^ $(CTL_LIBS) $(LIB_LIBS) $(LDFLAGS)

# Unit tests link the sanitizer build of every library and controller file.
$(BUILD)/tests/test_%: $(call objs,asan,tests/test_%.c $(TEST_HELPERS) $(LIB_SRCS) $(CTL_SRCS))
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(OPT) $(SAN_asan) -o $@ $^ -lcunit $(CTL_LIBS) $(LIB_LIBS) $(LDFLAGS)

$(BUILD)/tests/tsan_%: $(call objs,tsan,tests/tsan_%.c $(LIB_SRCS))
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(OPT) $(SAN_tsan) -o $@ $^ -lcunit $(LIB_LIBS) $(LDFLAGS)

$(BUILD)/bench/bench_%: $(BUILD)/obj/tests/bench_%.o $(call objs,obj,$(TEST_HELPERS)) $(CTL_A) $(LIB_A)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(OPT) -o $@ $^ $(CTL_LIBS) $(LIB_LIBS) -lm $(LDFLAGS)

# Test tools (tests/tools/): shared.h, libbpf and the test helpers only.
$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(call objs,obj,$(TEST_HELPERS))
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(OPT) -o $@ $^ $(CTL_LIBS) $(LIB_LIBS) $(LDFLAGS)

# libchlb is a static library only, so its dependencies are public, not private.
$(PC): Makefile
	$(Q)mkdir -p $(@D)
	$(Q)printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
		'Name: chlb' 'Description: consistent-hash ring and slot table library' \
		'Version: $(VERSION)' 'Libs: -L$${libdir} -lchlb -lpthread' \
		'Requires: $(PKGS_LIB)' \
		'Cflags: -I$${includedir}' > $@

# ---- top-level targets -------------------------------------------------------

test: deps
	$(Q)$(MAKE) --no-print-directory all $(TESTS) $(TSANS) $(TOOLS)
	$(Q)BUILD=$(BUILD) scripts/run-tests.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all $(BENCHES)
	$(Q)BUILD=$(BUILD) scripts/run-bench.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) scripts/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/chlb
	install -m 0755 $(CHLB) $(DESTDIR)$(PREFIX)/bin/chlb
	install -m 0644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/libchlb.a
	install -m 0644 include/chlb/chlb.h include/chlb/shared.h $(DESTDIR)$(PREFIX)/include/chlb/
	install -m 0644 $(PC) $(DESTDIR)$(PREFIX)/lib/pkgconfig/chlb.pc
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/share/doc/chlb
	# the unit names the installed binary: PREFIX is known only now
	sed -e 's|@BINDIR@|$(PREFIX)/bin|g' -e 's|@DOCDIR@|$(PREFIX)/share/doc/chlb|g' \
		systemd/chlb.service.in > $(DESTDIR)$(PREFIX)/lib/systemd/system/chlb.service
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/chlb/README.md

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/chlb $(DESTDIR)$(PREFIX)/lib/libchlb.a \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig/chlb.pc \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/chlb.service
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/chlb
	rm -rf $(DESTDIR)$(PREFIX)/include/chlb

format:
	clang-format -i $(LIB_SRCS) $(CTL_SRCS) user/cli/main.c $(BPF_SRCS) $(TBPF_SRCS) \
		$(TEST_SRCS) $(TSAN_SRCS) $(BENCH_SRCS) include/chlb/*.h

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
