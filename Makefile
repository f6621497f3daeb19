# cdsync top-level Makefile. See README.md for the targets.
#   make                 build both programs (build/)
#   make test            build and run every test; ends "N passed, N failed"
#   make demo            the Duc Hue district demo on loopback
#   make bench           one table of performance figures (docs/PERFORMANCE.md)
#   make SANITIZE=address,undefined test   the same, instrumented (build/san/)
#   make chaos [SEED=n]  the fault-injection suite, larger (docs/RELIABILITY.md)
#   make soak DURATION=s mixed load with faults; fails if RSS or fds grow
#   make install PREFIX=/usr/local DESTDIR=
#   make clean

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS    := libczmq libzmq libprotobuf-c libsodium sqlite3 inih jansson \
           libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -lm

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
# Where the catalog and org units are installed: the programs' defaults.
DATADIR ?= $(PREFIX)/share/cdsync
CPPFLAGS += -D_GNU_SOURCE -Icommon -I$(BUILD)/proto -Iagent -Iaggregator \
            -DCDS_DATADIR='"$(DATADIR)"'
CFLAGS  ?=
CFLAGS  += -std=gnu11 $(OPT) $(WARN) $(SANFLAGS) $(PKG_CFLAGS) -MMD -MP
# --as-needed: each program loads only the libraries it calls (the agent
# does not load czmq, libmicrohttpd and what they pull in: about 1 MiB of
# its idle RSS, docs/PERFORMANCE.md "Agent footprint").
LDFLAGS += $(SANFLAGS) -Wl,--as-needed

PROTO_C := $(BUILD)/proto/cdsync.pb-c.c
PROTO_H := $(BUILD)/proto/cdsync.pb-c.h

COMMON_SRC := $(wildcard common/*.c)
AGENT_SRC  := $(filter-out agent/main.c,$(wildcard agent/*.c))
AGG_SRC    := $(filter-out aggregator/main.c,$(wildcard aggregator/*.c))
UNIT_SRC   := $(wildcard tests/unit/*_test.c)
TOOL_SRC   := $(wildcard tests/tools/*.c)
BENCH_SRC  := $(wildcard tests/bench/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBCDS   := $(BUILD)/libcdsync.a
LIBAGENT := $(BUILD)/libagent.a
LIBAGG   := $(BUILD)/libaggregator.a
AGENT    := $(BUILD)/cdsync-agent
AGG      := $(BUILD)/cdsync-aggregator
UNITS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOLS    := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))
BENCHES  := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all test demo deps install clean check-integration bench format
all: $(AGENT) $(AGG)

$(PROTO_C) $(PROTO_H): proto/cdsync.proto
	@mkdir -p $(BUILD)/proto
	protoc-c --proto_path=proto --c_out=$(BUILD)/proto proto/cdsync.proto

# Every object may include the generated header.
$(BUILD)/obj/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

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

$(AGENT): $(call obj,agent/main.c) $(LIBAGENT) $(LIBCDS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(AGG): $(call obj,aggregator/main.c) $(LIBAGG) $(LIBCDS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBAGENT) $(LIBAGG) $(LIBCDS)
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

.PHONY: all-tests
all-tests: $(AGENT) $(AGG) $(UNITS) $(TOOLS) $(BENCHES)

# One table of figures measured in one run (docs/PERFORMANCE.md).
# BENCH_SCALE=0.1 shrinks every workload, BENCH_REPS=n repeats (medians).
bench: deps
	@$(MAKE) --no-print-directory all $(BENCHES)
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

# libFuzzer harnesses (tests/fuzz, docs/SECURITY.md): built with clang-14,
# ASan and UBSan, each run for FUZZ_SECONDS on seeds from valid messages.
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh

demo: deps
	@$(MAKE) --no-print-directory all $(BUILD)/tools/linkproxy
	@BUILD=$(BUILD) bash deploy/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(DATADIR) $(DESTDIR)$(PREFIX)/share/cdsync/examples \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(AGENT) $(AGG) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 docs/man/cdsync-agent.1 docs/man/cdsync-aggregator.1 \
	    $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 deploy/catalog.csv deploy/orgunits.csv deploy/orgunit_map.csv \
	    $(DESTDIR)$(DATADIR)/
	install -d $(DESTDIR)$(DATADIR)/dashboard
	install -m 0644 deploy/dashboard/index.html $(DESTDIR)$(DATADIR)/dashboard/
	install -m 0644 deploy/agent.ini deploy/aggregator.ini $(DESTDIR)$(PREFIX)/share/cdsync/examples/
	for u in cdsync-agent cdsync-aggregator; do \
	    sed 's#/usr/local/#$(PREFIX)/#g' deploy/$$u.service \
	        > $(DESTDIR)$(PREFIX)/lib/systemd/system/$$u.service; done

format:
	clang-format -i common/*.[ch] agent/*.[ch] aggregator/*.[ch] tests/unit/*.c

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
