# cdsync top-level Makefile. See README.md for the targets.
#   make                 build both programs (build/)
#   make test            build and run every test; ends "N passed, N failed"
#                        (integration + fault sets on SQLite, then again on
#                        PostgreSQL as "...@pg": docs/POSTGRESQL.md)
#   make test-pg         only the PostgreSQL runs (TESTS=@pg)
#   make demo            the Duc Hue district demo on loopback
#   make bench           one table of performance figures (docs/PERFORMANCE.md)
#   make SANITIZE=address,undefined test   the same, instrumented (build/san/)
#   make chaos [SEED=n]  the fault-injection suite, larger (docs/RELIABILITY.md)
#   make soak DURATION=s mixed load with faults; fails if RSS or fds grow
#   make install PREFIX=/usr/local DESTDIR=   (uninstall: the same, reversed)
#   make deb             Debian packages into build/deb/ (deploy/debian)
#   make arm64 / arm64-test   the agent for ARM64 (build/arm64), its tests
#                        under qemu-user (docs/AGENT.md "ARM64 boxes")
#   make windows         the Windows x64 agent, build/win/cdsync-agent.exe;
#                        make windows-test: its tests under wine64
#                        (deploy/windows/windows.mk, docs/WINDOWS.md)
#   make clean

PREFIX  ?= /usr/local
DESTDIR ?=
# Installed paths (docs/OPERATIONS.md "Installing"). SYSCONFDIR stays /etc
# whatever PREFIX: the units, the docs and an admin look in /etc/cdsync;
# SYSCONFDIR=$(PREFIX)/etc gives a self-contained tree instead.
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
SYSCONFDIR  ?= /etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
CC      ?= cc
PKGS    := libczmq libzmq libprotobuf-c libsodium sqlite3 inih jansson \
           libmicrohttpd libpq xlsxwriter libxml-2.0 libcurl
PKG_CONFIG ?= pkg-config
# ARM64=1 (set by `make arm64`, below): the agent's side only, built with
# Debian's aarch64 cross compiler against the :arm64 multiarch libraries
# (deploy/arm64/deps.sh). Neither libpq (common/cds_pg.c and cds_sql.c,
# the aggregator's stores), czmq nor libxlsxwriter is the agent's.
ifdef ARM64
CC         := aarch64-linux-gnu-gcc
AR         := aarch64-linux-gnu-ar
PKGS       := libzmq libprotobuf-c libsodium sqlite3 inih jansson libmicrohttpd \
              libxml-2.0
PKG_CONFIG := PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig pkg-config
ifneq ($(shell command -v $(CC) >/dev/null && $(PKG_CONFIG) --exists $(PKGS) && echo ok),ok)
$(error arm64: $(CC) or the :arm64 libraries ($(PKGS)) missing; run sh deploy/arm64/deps.sh)
endif
endif
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lcsv -lm

# FAILPOINTS=1: crash points of common/cds_failpoint.h compiled in (test
# builds only: `make fault-build` puts them under $(BUILD)/fp).
ifdef FAILPOINTS
CPPFLAGS += -DCDS_FAILPOINTS
endif
ifdef SANITIZE
BUILD   ?= build/san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
OPT     ?= -O1 -g
else
BUILD   ?= build
SANFLAGS :=
OPT     ?= -O2 -g
endif

WARN    := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter
ifdef WERROR
WARN    += -Werror
endif
# Where the catalog and org units are installed, and where the config
# lives: the programs' compiled-in defaults (see PATHS_STAMP below).
DATADIR ?= $(PREFIX)/share/cdsync
CPPFLAGS += -D_GNU_SOURCE -Icommon -I$(BUILD)/proto \
            -DCDS_DATADIR='"$(DATADIR)"' -DCDS_SYSCONFDIR='"$(SYSCONFDIR)"'
# Layers (docs/DESIGN.md "Layers"): common < core < report < front. Each
# folder sees its own headers and the layers below, never one above: a
# core file that includes a report header does not compile. The agent
# sees common only; the tests, tools and benches see everything.
INC_core   := -Iaggregator/core
INC_report := $(INC_core) -Iaggregator/report
INC_front  := $(INC_report) -Iaggregator/front
$(BUILD)/obj/agent/%.o: LAYER_INC := -Iagent
$(BUILD)/obj/aggregator/core/%.o: LAYER_INC := $(INC_core)
$(BUILD)/obj/aggregator/report/%.o: LAYER_INC := $(INC_report)
$(BUILD)/obj/aggregator/front/%.o: LAYER_INC := $(INC_front)
$(BUILD)/obj/tests/%.o: LAYER_INC := -Iagent $(INC_front)
# A source straight in aggregator/ belongs to no layer and would not be
# built: say so rather than fail at link time.
LOOSE := $(wildcard aggregator/*.c aggregator/*.h)
ifneq ($(LOOSE),)
$(error $(LOOSE): not in a layer folder; git mv to aggregator/core, report or front (docs/DESIGN.md "Layers"))
endif
CFLAGS  ?=
CFLAGS  += -std=gnu11 $(OPT) $(WARN) $(SANFLAGS) $(PKG_CFLAGS) -MMD -MP
# --as-needed: each program loads only the libraries it calls (the agent
# does not load czmq, libmicrohttpd and what they pull in: about 1 MiB of
# its idle RSS, docs/PERFORMANCE.md "Agent footprint"; nor libpq, which
# only common/cds_pg.c calls).
LDFLAGS += $(SANFLAGS) -Wl,--as-needed

PROTO_C := $(BUILD)/proto/cdsync.pb-c.c
PROTO_H := $(BUILD)/proto/cdsync.pb-c.h

COMMON_SRC := $(wildcard common/*.c)
AGENT_SRC  := $(filter-out agent/main.c,$(wildcard agent/*.c))
AGG_SRC    := $(filter-out aggregator/front/main.c,$(wildcard aggregator/*/*.c))
UNIT_SRC   := $(wildcard tests/unit/*_test.c)
TOOL_SRC   := $(wildcard tests/tools/*.c)
BENCH_SRC  := $(wildcard tests/bench/*.c)
ifdef ARM64
COMMON_SRC := $(filter-out common/cds_pg.c common/cds_sql.c,$(COMMON_SRC))
# The agent's unit tests: those that include no header of the aggregator's
# (nor the test helpers built on its store, nor cds_sql.h / cds_pg.h).
AGG_ONLY_H := $(notdir $(wildcard aggregator/*/*.h)) cds_sql.h cds_pg.h \
              testpg.h teststore.h admin_fixture.h
UNIT_SRC   := $(shell grep -L -F $(foreach h,$(AGG_ONLY_H),-e '"$(h)"') $(UNIT_SRC))
endif

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBCDS   := $(BUILD)/libcdsync.a
LIBAGENT := $(BUILD)/libagent.a
LIBAGG   := $(BUILD)/libaggregator.a
AGENT    := $(BUILD)/cdsync-agent
AGG      := $(BUILD)/cdsync-aggregator
UNITS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOLS    := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))
BENCHES  := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
UNIT_LIBS := $(LIBAGENT) $(if $(ARM64),,$(LIBAGG)) $(LIBCDS)
ifdef ARM64
# Kept: as intermediates make would delete them, and build them again on
# the next run once their .d files name them.
.SECONDARY: $(call obj,$(UNIT_SRC))
endif

.PHONY: all test demo deps install clean check-integration bench format
all: $(AGENT) $(AGG)

$(PROTO_C) $(PROTO_H): proto/cdsync.proto
	@mkdir -p $(BUILD)/proto
	protoc-c --proto_path=proto --c_out=$(BUILD)/proto proto/cdsync.proto

# Every object may include the generated header.
$(BUILD)/obj/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(LAYER_INC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/proto/cdsync.pb-c.o: $(PROTO_C) $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(filter-out -Wmissing-prototypes,$(CFLAGS)) -c $< -o $@

$(LIBCDS): $(call obj,$(COMMON_SRC)) $(BUILD)/obj/proto/cdsync.pb-c.o
	$(AR) rcs $@ $^
$(LIBAGENT): $(call obj,$(AGENT_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^
$(LIBAGG): $(call obj,$(AGG_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# The compiled-in paths: rewritten only when DATADIR or SYSCONFDIR change,
# so `make && make install PREFIX=/usr` rebuilds the two mains (and only
# them) rather than installing binaries that look in /usr/local.
PATHS_STAMP := $(BUILD)/paths.stamp
PATHS_LINE  := DATADIR=$(DATADIR) SYSCONFDIR=$(SYSCONFDIR)
.PHONY: FORCE
$(PATHS_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(PATHS_LINE)' | cmp -s - $@ 2>/dev/null || echo '$(PATHS_LINE)' > $@
$(call obj,agent/main.c aggregator/front/main.c): $(PATHS_STAMP)

# The officer's page (agent/page.c) serves agent/page.html compiled in.
$(BUILD)/gen/page_html.h: agent/page.html
	@mkdir -p $(dir $@)
	(cd agent && xxd -i page.html) | sed 's/^unsigned/static const unsigned/' > $@
$(call obj,agent/page.c): $(BUILD)/gen/page_html.h
$(call obj,agent/page.c): LAYER_INC += -I$(BUILD)/gen

$(AGENT): $(call obj,agent/main.c) $(LIBAGENT) $(LIBCDS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(AGG): $(call obj,aggregator/front/main.c) $(LIBAGG) $(LIBCDS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(UNIT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka
$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(LIBAGENT) $(LIBAGG) $(LIBCDS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
# Benchmark tools (tests/bench, docs/PERFORMANCE.md); mqtt_* use libmosquitto.
$(BUILD)/bench/mqtt_%: $(BUILD)/obj/tests/bench/mqtt_%.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lmosquitto
$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(LIBAGENT) $(LIBAGG) $(LIBCDS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

# Installs the Debian packages the build and tests need, when missing.
deps:
	@sh deploy/deps.sh
# Chromium, node and playwright-core for the browser tests (tests/browser).
.PHONY: browser-deps
browser-deps:
	@sh tests/browser/setup.sh

test: deps browser-deps
	@$(MAKE) --no-print-directory all-tests
	@$(MAKE) --no-print-directory fault-build
	@BUILD=$(BUILD) sh tests/run.sh

.PHONY: test-pg
test-pg: deps
	@$(MAKE) --no-print-directory all-tests
	@$(MAKE) --no-print-directory fault-build
	@BUILD=$(BUILD) TESTS=@pg sh tests/run.sh

.PHONY: all-tests
all-tests: $(AGENT) $(AGG) $(UNITS) $(TOOLS) $(BENCHES)

# One table of figures measured in one run (docs/PERFORMANCE.md).
# BENCH_SCALE=0.1 shrinks every workload, BENCH_REPS=n repeats (medians).
bench: deps
	@$(MAKE) --no-print-directory all $(BENCHES) $(BUILD)/tools/swarm
	@! command -v aarch64-linux-gnu-gcc >/dev/null || $(MAKE) --no-print-directory ARM64=1 \
	    BUILD=$(ARM64_BUILD) SANITIZE= FAILPOINTS= $(ARM64_BUILD)/cdsync-agent \
	    || echo "bench: no ARM64 agent (sh deploy/arm64/deps.sh): row 5-bin-arm64 n/a"
	@[ ! -f $(WIN_STAMP) ] || $(MAKE) --no-print-directory windows \
	    || echo "bench: no Windows agent (make windows): row 5-wine-pss-idle n/a"
	@[ ! -f $(WIN_STAMP) ] || ! command -v makensis >/dev/null \
	    || $(MAKE) --no-print-directory windows-installer \
	    || echo "bench: no installer (make windows-installer): row 5-bin-win-setup n/a"
	@BUILD=$(BUILD) bash tests/bench/bench.sh

# The fault-injection suite (tests/fault, docs/RELIABILITY.md): the
# failpoint build of both programs; `make chaos` (SEED=n re-runs one seed,
# CHAOS_SCALE=n sizes it); `make soak DURATION=seconds`.
.PHONY: fault-build chaos soak
fault-build:
	@$(MAKE) --no-print-directory FAILPOINTS=1 BUILD=$(BUILD)/fp all
chaos: deps all-tests fault-build
	@BUILD=$(BUILD) SEED=$(SEED) FAULT_SCALE=$(or $(CHAOS_SCALE),4) bash tests/fault/chaos.sh
soak: deps all-tests fault-build
	@BUILD=$(BUILD) SEED=$(SEED) DURATION=$(or $(DURATION),600) bash tests/fault/soak.sh

# The ARM64 agent (docs/AGENT.md "ARM64 boxes"): this Makefile again with
# ARM64=1 into build/arm64: the agent and its unit tests, cross-built.
# `make arm64-test` runs those tests under qemu-user (session_model_test
# with 100 random schedules instead of 2000: qemu is ~10x slower), then
# one sync of the arm64 agent with the native aggregator
# (tests/integration/arm64_agent.sh). Neither is part of `make test`.
ARM64_BUILD := build/arm64
ARM64_LOGS  := $(or $(TEST_LOGDIR),$(ARM64_BUILD)/test-logs)
.PHONY: arm64 arm64-build arm64-deps arm64-test
arm64-deps:
	@sh deploy/arm64/deps.sh
arm64: arm64-deps
	@$(MAKE) --no-print-directory ARM64=1 BUILD=$(ARM64_BUILD) SANITIZE= FAILPOINTS= arm64-build
arm64-build: $(AGENT) $(UNITS)
arm64-test: arm64
	@$(MAKE) --no-print-directory all
	@BUILD=$(ARM64_BUILD) TESTS=unit/ TEST_RUNNER="qemu-aarch64 -L /" \
	    SESSION_SCHEDULES=$(or $(SESSION_SCHEDULES),100) \
	    TEST_LOGDIR=$(ARM64_LOGS)/unit sh tests/run.sh
	@BUILD=$(BUILD) TESTS=integration/arm64_agent ARM64_AGENT=$(ARM64_BUILD)/cdsync-agent \
	    TEST_LOGDIR=$(ARM64_LOGS)/sync sh tests/run.sh

# libFuzzer harnesses (tests/fuzz, docs/SECURITY.md): built with clang-14,
# ASan and UBSan, each run for FUZZ_SECONDS on seeds from valid messages.
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh

demo: deps
	@$(MAKE) --no-print-directory all $(BUILD)/tools/linkproxy
	@BUILD=$(BUILD) bash deploy/demo.sh

# What `make install` puts where; `make uninstall` removes the same list.
# Example INIs, units and man pages are rewritten to name the installed
# paths (the man pages come from --help of a /usr/local build).
INST_SUBST = sed -e 's|/usr/local/bin/|$(BINDIR)/|g' \
    -e 's|/usr/local/share/cdsync|$(DATADIR)|g' \
    -e 's|/etc/cdsync/|$(SYSCONFDIR)/cdsync/|g'
INST_DATA  := catalog.csv orgunits.csv orgunit_map.csv targets.csv rules.csv \
              datasets.csv dashboard/index.html dashboard/login.html \
              dashboard/session.js \
              prometheus/cdsync-alerts.yml prometheus/cdsync-alerts.test.yml \
              grafana/cdsync-dashboard.json
INST_FILES  = $(BINDIR)/cdsync-agent $(BINDIR)/cdsync-aggregator \
    $(MANDIR)/man1/cdsync-agent.1 $(MANDIR)/man1/cdsync-aggregator.1 \
    $(addprefix $(DATADIR)/,$(INST_DATA) examples/agent.ini examples/aggregator.ini) \
    $(UNITDIR)/cdsync-agent.service $(UNITDIR)/cdsync-aggregator.service \
    $(SYSUSERSDIR)/cdsync.conf $(TMPFILESDIR)/cdsync-agent.conf \
    $(TMPFILESDIR)/cdsync-aggregator.conf
# Deepest first: uninstall removes them when empty.
INST_DIRS   = $(addprefix $(DATADIR)/,dashboard prometheus grafana examples) $(DATADIR)
CONF_DIR    = $(SYSCONFDIR)/cdsync

.PHONY: uninstall deb
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(CONF_DIR) \
	    $(addprefix $(DESTDIR),$(INST_DIRS))
	install -m 0755 $(AGENT) $(AGG) $(DESTDIR)$(BINDIR)/
	for p in agent aggregator; do \
	    $(INST_SUBST) docs/man/cdsync-$$p.1 > $(DESTDIR)$(MANDIR)/man1/cdsync-$$p.1 && \
	    chmod 0644 $(DESTDIR)$(MANDIR)/man1/cdsync-$$p.1 || exit 1; done
	for f in $(INST_DATA); do \
	    install -m 0644 deploy/$$f $(DESTDIR)$(DATADIR)/$$f || exit 1; done
	for p in agent aggregator; do \
	    $(INST_SUBST) deploy/$$p.ini > $(DESTDIR)$(DATADIR)/examples/$$p.ini && \
	    $(INST_SUBST) deploy/cdsync-$$p.service \
	        > $(DESTDIR)$(UNITDIR)/cdsync-$$p.service && \
	    chmod 0644 $(DESTDIR)$(DATADIR)/examples/$$p.ini \
	        $(DESTDIR)$(UNITDIR)/cdsync-$$p.service && \
	    install -m 0644 deploy/tmpfiles.d/cdsync-$$p.conf $(DESTDIR)$(TMPFILESDIR)/ \
	    || exit 1; done
	install -m 0644 deploy/sysusers.d/cdsync.conf $(DESTDIR)$(SYSUSERSDIR)/
	@# Configs only when absent: never over an admin's edits.
	for p in agent aggregator; do c=$(DESTDIR)$(CONF_DIR)/$$p.ini; \
	    if [ -e $$c ]; then echo "install: keeping $$c"; else \
	    install -m 0644 $(DESTDIR)$(DATADIR)/examples/$$p.ini $$c || exit 1; fi; done
	@# A live install (no DESTDIR): the service user and state directories.
	if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null; then \
	    systemd-sysusers $(SYSUSERSDIR)/cdsync.conf && systemd-tmpfiles --create \
	    $(TMPFILESDIR)/cdsync-agent.conf $(TMPFILESDIR)/cdsync-aggregator.conf; fi

# Leaves the configs an admin edited, the state directories and the user.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INST_FILES))
	for p in agent aggregator; do c=$(DESTDIR)$(CONF_DIR)/$$p.ini; \
	    [ -e $$c ] || continue; \
	    if $(INST_SUBST) deploy/$$p.ini | cmp -s - $$c; then rm -f $$c; \
	    else echo "uninstall: keeping $$c (edited)"; fi; done
	for d in $(addprefix $(DESTDIR),$(INST_DIRS) $(CONF_DIR)); do \
	    rmdir $$d 2>/dev/null || true; done

# Debian packages (deploy/debian; docs/OPERATIONS.md "Installing"): the
# sources and deploy/debian/ as debian/ are copied to $(DEB_DIR)/src and
# built there; the .deb files land in $(DEB_DIR), then lintian checks them.
DEB_DIR ?= build/deb
deb:
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src
	cp -r Makefile README.md agent aggregator common proto docs deploy $(DEB_DIR)/src/
	cp -r deploy/debian $(DEB_DIR)/src/debian
	cd $(DEB_DIR)/src && dpkg-buildpackage -b -us -uc -J
	lintian --fail-on error --info $(DEB_DIR)/*.changes

format:
	clang-format -i common/*.[ch] agent/*.[ch] aggregator/*/*.[ch] tests/unit/*.c

clean:
	rm -rf build

include deploy/windows/windows.mk
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
