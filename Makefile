# cdsync top-level Makefile. See README.md for the targets.
#   make                 build both programs (build/)
#   make test            build and run every test; ends "N passed, N failed"
#   make demo            the Duc Hue district demo on loopback
#   make SANITIZE=address,undefined test   the same, instrumented (build/san/)
#   make install PREFIX=/usr/local DESTDIR=
#   make clean

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS    := libczmq libzmq libprotobuf-c libsodium sqlite3 inih jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -lm

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
LDFLAGS += $(SANFLAGS)

PROTO_C := $(BUILD)/proto/cdsync.pb-c.c
PROTO_H := $(BUILD)/proto/cdsync.pb-c.h

COMMON_SRC := $(wildcard common/*.c)
AGENT_SRC  := $(filter-out agent/main.c,$(wildcard agent/*.c))
AGG_SRC    := $(filter-out aggregator/main.c,$(wildcard aggregator/*.c))
UNIT_SRC   := $(wildcard tests/unit/*_test.c)
TOOL_SRC   := $(wildcard tests/tools/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBCDS   := $(BUILD)/libcdsync.a
LIBAGENT := $(BUILD)/libagent.a
LIBAGG   := $(BUILD)/libaggregator.a
AGENT    := $(BUILD)/cdsync-agent
AGG      := $(BUILD)/cdsync-aggregator
UNITS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOLS    := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))

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

# Installs the Debian packages the build and tests need, when missing.
deps:
	@sh deploy/deps.sh

test: deps
	@$(MAKE) --no-print-directory all-tests
	@BUILD=$(BUILD) sh tests/run.sh

.PHONY: all-tests
all-tests: $(AGENT) $(AGG) $(UNITS) $(TOOLS)

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
	install -m 0644 deploy/catalog.csv deploy/orgunits.csv $(DESTDIR)$(DATADIR)/
	install -m 0644 deploy/agent.ini deploy/aggregator.ini $(DESTDIR)$(PREFIX)/share/cdsync/examples/
	for u in cdsync-agent cdsync-aggregator; do \
	    sed 's#/usr/local/#$(PREFIX)/#g' deploy/$$u.service \
	        > $(DESTDIR)$(PREFIX)/lib/systemd/system/$$u.service; done

format:
	clang-format -i common/*.[ch] agent/*.[ch] aggregator/*.[ch] tests/unit/*.c

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
