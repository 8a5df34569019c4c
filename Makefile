# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Build of xlb: BPF objects and skeletons, libxlb, xlbd, xlb, tools and tests; outputs in $(BUILD).

BUILD   ?= build
CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool
PREFIX  ?= /usr/local
DESTDIR ?=
# the release version, read from its one definition (user/lib/version.h)
VERSION := $(shell sed -n 's/^\#define XLB_VERSION "\(.*\)"$$/\1/p' user/lib/version.h)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDARY:

# ---------------------------------------------------------------- flags
ARCH := $(shell uname -m | sed 's/x86_64/x86/; s/aarch64/arm64/')
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Wno-unused-function \
	-Ivmlinux -Ibpf/include -Ibpf/lib -I$(BUILD)
USER_CFLAGS := -g -O2 -std=gnu11 -Wall -Wextra -Werror -Wno-missing-field-initializers \
	-D_GNU_SOURCE -I$(BUILD) -Iuser/lib -Ibpf/include $(EXTRA_CFLAGS)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LIBS := -lxdp -lbpf -lelf -lz -lm
# jansson only where JSON is read or written: xlbd, xlb, and the tools and tests whose own
# sources include <jansson.h> (libxlb's JSON is config_parse*.c, config_field.c, config_json.c,
# config_save.c)
JSON_LIBS := -ljansson
# libmicrohttpd: the metrics server of xlbd only
HTTP_LIBS := -lmicrohttpd
# libmnl: rtnetlink of xlbd's announce.c only
NL_LIBS := -lmnl
# libcurl: xlbd's etcd client only (etcd.c)
CURL_LIBS := -lcurl
json_libs = $(if $(shell grep -l '<jansson.h>' $(filter %.c,$(1)) /dev/null),$(JSON_LIBS))

# ---------------------------------------------------------------- sources
BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BPF_HDRS  := $(wildcard bpf/include/*.h bpf/lib/*.h)

LIB_SRCS  := $(wildcard user/lib/*.c)
LIB_HDRS  := $(wildcard user/lib/*.h) $(BPF_HDRS)
XLBD_SRCS := $(wildcard user/xlbd/*.c)
# Daemon modules that need none of the daemon's state (the probe engine, the health checkers):
# besides xlbd, the unit tests and end-to-end helpers link them, from an archive of their own.
XLBD_MOD_SRCS := $(wildcard user/xlbd/probe*.c) user/xlbd/health.c
XLB_SRCS  := $(wildcard user/xlb/*.c)
USER_HDRS := $(LIB_HDRS) $(wildcard user/xlbd/*.h user/xlb/*.h)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
TBPF_SRCS := $(wildcard tests/bpf/test_*.c)
# what the datapath tests share (tests/bpf/*.c but the test_*.c: harness.c, fixture.c)
TBPF_HELP_SRCS := $(filter-out $(TBPF_SRCS),$(wildcard tests/bpf/*.c))
E2E_SRCS  := $(wildcard tests/e2e/*.c)
E2E_SAN_SRCS := tests/e2e/probe_drv.c	# helpers also built sanitized (no BPF skeleton inside)
BENCH_SRCS := $(wildcard tools/bench/bench_*.c)
TOOL_DIRS := $(filter-out tools/bench,$(sort $(patsubst %/,%,$(dir $(wildcard tools/*/*.c)))))

LIB       := $(BUILD)/libxlb.a
LIB_SAN   := $(BUILD)/san/libxlb.a
TBPF_HELP := $(BUILD)/tests/bpf-help/libtbpf.a
XLBD_MOD  := $(BUILD)/libxlbd-mod.a
XLBD_MOD_SAN := $(BUILD)/san/libxlbd-mod.a
BINS      := $(BUILD)/xlbd $(BUILD)/xlb $(foreach d,$(TOOL_DIRS),$(BUILD)/$(notdir $(d)))
SAN_BINS  := $(BUILD)/san/xlbd $(BUILD)/san/xlb
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS)) \
	     $(patsubst tests/unit/%.c,$(BUILD)/san/tests/unit/%,$(UNIT_SRCS))
TBPF_BINS := $(patsubst tests/bpf/%.c,$(BUILD)/tests/bpf/%,$(TBPF_SRCS))
E2E_BINS  := $(patsubst tests/e2e/%.c,$(BUILD)/tests/e2e/%,$(E2E_SRCS)) \
	     $(patsubst tests/e2e/%.c,$(BUILD)/san/tests/e2e/%,$(E2E_SAN_SRCS))
BENCH_BINS := $(patsubst tools/bench/%.c,$(BUILD)/tools/%,$(BENCH_SRCS))
MAN_SRCS  := $(wildcard user/*/*.8)
MANS      := $(patsubst user/%.8,$(BUILD)/man/%.8.gz,$(MAN_SRCS))

# ---------------------------------------------------------------- targets
.PHONY: all test fuzz demo demo-cluster bench bench-cluster bench-compare deps vmlinux install clean format help tests-build

all: $(BPF_OBJS) $(BPF_SKELS) $(LIB) $(BINS) $(MANS)

help:
	@echo 'xlb $(VERSION)'
	@echo 'make            build everything into $(BUILD)/'
	@echo 'make deps       install missing Debian packages (apt-get)'
	@echo 'make test       unit, datapath and end-to-end tests (root); ends with "N passed, N failed"'
	@echo 'make demo       namespace test bed: balance real traffic, fail a backend over, show stats'
	@echo 'make demo-cluster   three LB hosts behind ECMP (BIRD, BFD, etcd): the spread, the digests,'
	@echo '                one LB host killed while connections go on'
	@echo 'make fuzz       10^6 mutated frames through the datapath, invariants checked (root),'
	@echo '                then the config, API and CLI parsers under libFuzzer, FUZZ_SECONDS each'
	@echo 'make bench      per-packet costs, Maglev times, end-to-end Mpps, health, control plane; $(BUILD)/bench.json'
	@echo 'make bench KATRAN=DIR   the same, with Katran (a checkout in DIR) beside xlb per path'
	@echo 'make bench-cluster   the scale-out bed: LB host failover, a change until applied on all hosts,'
	@echo '                aggregate rate with 1, 2, 3 LB hosts; $(BUILD)/bench-cluster.json'
	@echo 'make bench-compare OLD=FILE   an older bench.json beside $(BUILD)/bench.json'
	@echo 'make vmlinux    regenerate vmlinux/vmlinux.h from /sys/kernel/btf/vmlinux'
	@echo 'make install    install binaries (BPF objects inside), man pages, completion, systemd unit'
	@echo 'make clean      remove $(BUILD)/'
	@echo 'V=1             show full commands'

# BPF objects and skeletons
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(BUILD)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# libxlb (normal and sanitized)
$(BUILD)/lib/%.o: user/lib/%.c $(USER_HDRS) $(BPF_SKELS) | $(BUILD)/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -c $< -o $@
$(BUILD)/san/lib/%.o: user/lib/%.c $(USER_HDRS) $(BPF_SKELS) | $(BUILD)/san/lib
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(SAN_FLAGS) -c $< -o $@
$(LIB): $(patsubst user/lib/%.c,$(BUILD)/lib/%.o,$(LIB_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^
$(LIB_SAN): $(patsubst user/lib/%.c,$(BUILD)/san/lib/%.o,$(LIB_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# the daemon modules for tests (normal and sanitized)
$(BUILD)/xlbd-mod/%.o: user/xlbd/%.c $(USER_HDRS) | $(BUILD)/xlbd-mod
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -Iuser/xlbd -c $< -o $@
$(BUILD)/san/xlbd-mod/%.o: user/xlbd/%.c $(USER_HDRS) | $(BUILD)/san/xlbd-mod
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(SAN_FLAGS) -Iuser/xlbd -c $< -o $@
$(XLBD_MOD): $(patsubst user/xlbd/%.c,$(BUILD)/xlbd-mod/%.o,$(XLBD_MOD_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^
$(XLBD_MOD_SAN): $(patsubst user/xlbd/%.c,$(BUILD)/san/xlbd-mod/%.o,$(XLBD_MOD_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# daemon and CLI
$(BUILD)/xlbd: $(XLBD_SRCS) $(USER_HDRS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(USER_CFLAGS) -Iuser/xlbd $(XLBD_SRCS) $(LIB) $(LIBS) $(JSON_LIBS) $(HTTP_LIBS) $(NL_LIBS) $(CURL_LIBS) -o $@
$(BUILD)/xlb: $(XLB_SRCS) $(USER_HDRS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(USER_CFLAGS) -Iuser/xlb $(XLB_SRCS) $(LIB) $(LIBS) $(JSON_LIBS) -o $@
$(BUILD)/san/xlbd: $(XLBD_SRCS) $(USER_HDRS) $(LIB_SAN)
	$(call msg,LINK-SAN,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(SAN_FLAGS) -Iuser/xlbd $(XLBD_SRCS) $(LIB_SAN) $(LIBS) $(JSON_LIBS) \
		$(HTTP_LIBS) $(NL_LIBS) $(CURL_LIBS) -o $@
$(BUILD)/san/xlb: $(XLB_SRCS) $(USER_HDRS) $(LIB_SAN)
	$(call msg,LINK-SAN,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(SAN_FLAGS) -Iuser/xlb $(XLB_SRCS) $(LIB_SAN) $(LIBS) $(JSON_LIBS) -o $@

# tools: one folder per binary (tools/NAME/*.c -> $(BUILD)/NAME); benchmarks one file each
define tool_rule
$(BUILD)/$(notdir $(1)): $(wildcard $(1)/*.c) $(wildcard $(1)/*.h) $(USER_HDRS) $(LIB)
	$$(call msg,LINK,$$@)
	$$(Q)$$(CC) $$(USER_CFLAGS) -I$(1) $(wildcard $(1)/*.c) $$(LIB) $$(LIBS) \
		$$(call json_libs,$(wildcard $(1)/*.c)) -o $$@
endef
$(foreach d,$(TOOL_DIRS),$(eval $(call tool_rule,$(d))))

$(BUILD)/tools/%: tools/bench/%.c $(wildcard tools/bench/*.h) $(USER_HDRS) $(LIB) | $(BUILD)/tools
	$(call msg,LINK,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(filter %.c,$^) $(LIB) $(LIBS) $(call json_libs,$<) -o $@
# bench_datapath's side-by-side run with Katran (make bench KATRAN=DIR) links with it
$(BUILD)/tools/bench_datapath: $(wildcard tools/bench/katran/*.c tools/bench/katran/*.h)

# make bench KATRAN=DIR: Katran's balancer from the user's checkout DIR, built by Katran's own
# katran/lib/Makefile-bpf (its rule and flags; EXTRA_CFLAGS names the tree, as its build script
# does with a copy), once per variant of its new-connection rate limit (tools/bench/katran/)
KATRAN ?=
LLC ?= llc
KATRAN_SRC = $(if $(wildcard $(KATRAN)/katran/lib/Makefile-bpf),$(firstword $(wildcard \
	$(KATRAN)/katran/lib/bpf/balancer.bpf.c $(KATRAN)/katran/lib/bpf/balancer_kern.c)))
KATRAN_DEFS_default :=
KATRAN_DEFS_norate := -DMAX_CONN_RATE=0xffffffff
KATRAN_DEFS_noinsert := -DMAX_CONN_RATE=0
KATRAN_OBJS = $(foreach v,default norate noinsert,$(BUILD)/katran/$(v)/bpf/$(basename \
	$(notdir $(KATRAN_SRC))).o)
KATRAN_INC = -I$(abspath $(KATRAN)) -I$(abspath $(KATRAN))/katran/lib/linux_includes
kat_variant = $(firstword $(subst /, ,$(patsubst $(BUILD)/katran/%,%,$@)))
$(KATRAN_OBJS): $(KATRAN_SRC) $(wildcard $(KATRAN)/katran/lib/bpf/*.h $(KATRAN)/katran/lib/Makefile-bpf \
		$(KATRAN)/katran/lib/linux_includes/*.h)
	$(call msg,KATRAN,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(MAKE) --no-print-directory $(if $(Q),-s) -f $(KATRAN)/katran/lib/Makefile-bpf \
		src=$(abspath $(KATRAN)) obj=$(abspath $(BUILD)/katran/$(kat_variant)) \
		CLANG=$(CLANG) LLC=$(LLC) EXTRA_CFLAGS='$(KATRAN_INC) $(KATRAN_DEFS_$(kat_variant))' \
		$(abspath $@)

# tests
$(BUILD)/tests/unit/%: tests/unit/%.c $(USER_HDRS) $(XLBD_MOD) $(LIB) | $(BUILD)/tests/unit
	$(call msg,LINK,$@)
	$(Q)$(CC) $(USER_CFLAGS) -Itests/unit -Iuser/xlbd $< $(XLBD_MOD) $(LIB) $(LIBS) \
		$(call json_libs,$<) -lcmocka -o $@
$(BUILD)/san/tests/unit/%: tests/unit/%.c $(USER_HDRS) $(XLBD_MOD_SAN) $(LIB_SAN) \
		| $(BUILD)/san/tests/unit
	$(call msg,LINK-SAN,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(SAN_FLAGS) -Itests/unit -Iuser/xlbd $< $(XLBD_MOD_SAN) $(LIB_SAN) \
		$(LIBS) $(call json_libs,$<) -lcmocka -o $@
$(BUILD)/tests/bpf-help/%.o: tests/bpf/%.c $(wildcard tests/bpf/*.h) $(USER_HDRS) $(BPF_SKELS) \
		| $(BUILD)/tests/bpf-help
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -Itests/bpf -c $< -o $@
$(TBPF_HELP): $(patsubst tests/bpf/%.c,$(BUILD)/tests/bpf-help/%.o,$(TBPF_HELP_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^
$(BUILD)/tests/bpf/%: tests/bpf/%.c $(wildcard tests/bpf/*.h) $(USER_HDRS) $(TBPF_HELP) $(LIB) \
		| $(BUILD)/tests/bpf
	$(call msg,LINK,$@)
	$(Q)$(CC) $(USER_CFLAGS) -Itests/bpf $< $(TBPF_HELP) $(LIB) $(LIBS) $(call json_libs,$<) -o $@
# helper programs of the end-to-end tests (tests/e2e/NAME.c -> $(BUILD)/tests/e2e/NAME)
$(BUILD)/tests/e2e/%: tests/e2e/%.c $(USER_HDRS) $(XLBD_MOD) $(LIB) | $(BUILD)/tests/e2e
	$(call msg,LINK,$@)
	$(Q)$(CC) $(USER_CFLAGS) -Iuser/xlbd $< $(XLBD_MOD) $(LIB) $(LIBS) $(call json_libs,$<) -o $@
$(BUILD)/san/tests/e2e/%: tests/e2e/%.c $(USER_HDRS) $(XLBD_MOD_SAN) $(LIB_SAN) \
		| $(BUILD)/san/tests/e2e
	$(call msg,LINK-SAN,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(SAN_FLAGS) -Iuser/xlbd $< $(XLBD_MOD_SAN) $(LIB_SAN) $(LIBS) \
		$(call json_libs,$<) -o $@

# parser fuzzers (libFuzzer, clang): libxlb, xlbd and xlb built again with the fuzzer's
# coverage and ASan/UBSan; xlbd without its main(), xlb's main() renamed xlb_main and its
# socket client left out (tests/fuzz/fuzz_cli.c wraps cli_request() and fopen() instead)
FUZZ_CC   ?= $(CLANG)
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_LIB  := $(BUILD)/fuzz/libxlb.a
FUZZ_XLBD := $(patsubst user/xlbd/%.c,$(BUILD)/fuzz/xlbd/%.o,$(filter-out %/main.c,$(XLBD_SRCS)))
FUZZ_XLB  := $(patsubst user/xlb/%.c,$(BUILD)/fuzz/xlb/%.o,$(filter-out %/client.c,$(XLB_SRCS)))
$(BUILD)/fuzz/xlb/main.o: FUZZ_DEFS := -Dmain=xlb_main
$(BUILD)/fuzz/lib/%.o: user/lib/%.c $(USER_HDRS) $(BPF_SKELS)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D) && $(FUZZ_CC) $(USER_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@
$(BUILD)/fuzz/xlbd/%.o: user/xlbd/%.c $(USER_HDRS)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D) && $(FUZZ_CC) $(USER_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
		-Iuser/xlbd -c $< -o $@
$(BUILD)/fuzz/xlb/%.o: user/xlb/%.c $(USER_HDRS)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D) && $(FUZZ_CC) $(USER_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
		-Iuser/xlb $(FUZZ_DEFS) -c $< -o $@
$(FUZZ_LIB): $(patsubst user/lib/%.c,$(BUILD)/fuzz/lib/%.o,$(LIB_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^
$(BUILD)/fuzz/fuzz_config: FUZZ_OBJS :=
$(BUILD)/fuzz/fuzz_api: FUZZ_OBJS := $(FUZZ_XLBD) $(HTTP_LIBS) $(NL_LIBS) $(CURL_LIBS)
$(BUILD)/fuzz/fuzz_cli: FUZZ_OBJS := $(FUZZ_XLB) -Wl,--wrap=cli_request,--wrap=fopen \
	-Wl,--wrap=json_object_set_new
$(BUILD)/fuzz/fuzz_api: $(FUZZ_XLBD)
$(BUILD)/fuzz/fuzz_cli: $(FUZZ_XLB)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(USER_HDRS) $(FUZZ_LIB)
	$(call msg,LINK-FUZZ,$@)
	$(Q)$(FUZZ_CC) $(USER_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -Iuser/xlbd -Iuser/xlb $< \
		$(FUZZ_OBJS) $(FUZZ_LIB) $(LIBS) $(JSON_LIBS) -o $@

# man pages
$(BUILD)/man/%.8.gz: user/%.8
	$(call msg,MAN,$@)
	$(Q)mkdir -p $(dir $@) && gzip -9nc $< > $@

$(BUILD)/bpf $(BUILD)/lib $(BUILD)/san/lib $(BUILD)/tools $(BUILD)/tests/unit \
$(BUILD)/san/tests/unit $(BUILD)/tests/bpf $(BUILD)/tests/bpf-help $(BUILD)/tests/e2e \
$(BUILD)/san/tests/e2e $(BUILD)/xlbd-mod $(BUILD)/san/xlbd-mod:
	$(Q)mkdir -p $@

tests-build: all $(SAN_BINS) $(LIB_SAN) $(UNIT_BINS) $(TBPF_BINS) $(E2E_BINS) $(FUZZ_BINS)

test: deps
	$(Q)$(MAKE) --no-print-directory tests-build
	$(Q)BUILD=$(BUILD) bash tests/run.sh

# the datapath fuzzer at full length (make test runs it with 100,000 frames), then each parser
# fuzzer for FUZZ_SECONDS from its seeds (make test replays the seeds and regressions once)
FUZZ_FRAMES ?= 1000000
FUZZ_SEEDS ?= 1,2,3,4,5
FUZZ_SECONDS ?= 180
fuzz: deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/tests/bpf/test_fuzz $(FUZZ_BINS)
	$(Q)$(BUILD)/tests/bpf/test_fuzz -n $(FUZZ_FRAMES) -s $(FUZZ_SEEDS)
	$(Q)BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh

bench: deps
	$(if $(KATRAN),$(if $(KATRAN_SRC),,$(error KATRAN=$(KATRAN): no katran/lib/Makefile-bpf and \
		katran/lib/bpf/balancer.bpf.c there; give the top of a Katran checkout)))
	$(Q)$(MAKE) --no-print-directory all $(BENCH_BINS) $(if $(KATRAN),$(KATRAN_OBJS))
	$(if $(KATRAN),$(Q)if git -C $(KATRAN) rev-parse -q --verify HEAD >/dev/null 2>&1; then \
		git -C $(KATRAN) log -1 --format='%H (%cs)'; git -C $(KATRAN) diff --quiet HEAD || \
		echo 'with local changes'; else echo 'unknown (not a git checkout)'; fi | paste -sd' ' \
		>$(BUILD)/katran/commit)
	$(Q)BUILD=$(BUILD) BENCH_KATRAN=$(if $(KATRAN),$(BUILD)/katran) bash tools/bench/run.sh

bench-cluster: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) bash tools/bench/cluster.sh

bench-compare:
	$(if $(OLD),,$(error give the older results: make bench-compare OLD=file))
	$(Q)python3 tools/bench/bench_compare.py $(OLD) $(BUILD)/bench.json

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) bash tools/demo.sh

demo-cluster: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) bash tools/demo-cluster.sh

deps:
	$(Q)bash tools/deps.sh

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)/lib/systemd/system $(DESTDIR)/etc/xlb
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 user/xlbd/xlbd.example.json $(DESTDIR)/etc/xlb/xlbd.json.example
	install -d $(DESTDIR)$(PREFIX)/share/xlb/bird
	install -m 0644 tools/bird/bird.conf tools/bird/xlb-gshut.conf $(DESTDIR)$(PREFIX)/share/xlb/bird/
	install -m 0755 tools/bird/xlb-gshut $(DESTDIR)$(PREFIX)/share/xlb/bird/
	$(if $(MANS),install -m 0644 $(MANS) $(DESTDIR)$(PREFIX)/share/man/man8/)
	$(if $(wildcard user/xlb/xlb.bash-completion),install -m 0644 user/xlb/xlb.bash-completion \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/xlb)
	$(if $(wildcard user/xlbd/xlbd.service),sed 's|@SBINDIR@|$(PREFIX)/sbin|g' user/xlbd/xlbd.service \
		> $(DESTDIR)/lib/systemd/system/xlbd.service)

format:
	clang-format -i $(wildcard bpf/*.c bpf/*/*.h user/*/*.c user/*/*.h tests/*/*.c tools/*/*.c)

clean:
	rm -rf $(BUILD)
