# The Windows x64 agent, cross-built with mingw-w64 (issue 18; included by
# the top-level Makefile). Its libraries come from Debian's source packages,
# built static by deploy/windows/deps.sh into $(WIN)/deps; the agent is one
# static cdsync-agent.exe. Not part of `make test`: CI (.ci/run) builds
# and tests it after the suite; see docs/WINDOWS.md.
#   make windows         $(WIN)/cdsync-agent.exe (runs deps.sh first)
#   make windows-test    the agent's unit tests as .exe, run under wine64,
#                        then tests/windows/windows_agent.sh (the .exe
#                        against the Linux aggregator on 127.0.0.1),
#                        tests/windows/page.sh (the officer's page) and
#                        tests/windows/installer.sh (the installer, silent)
#   make windows-installer  $(WIN)/cdsync-agent-setup.exe (NSIS)
WIN       := $(BUILD)/win
WIN_CC    := x86_64-w64-mingw32-gcc
WIN_AR    := x86_64-w64-mingw32-ar
WIN_DEPS  := $(WIN)/deps
WIN_EXE   := $(WIN)/cdsync-agent.exe
# Not built for Windows: cds_pg.c and cds_sql.c are the aggregator's
# PostgreSQL store. service.c (Linux: "use systemd") is
# agent/win32/service_win32.c there. cds_signal.c and cds_harden.c have
# Windows variants in common/win32/, as do the POSIX calls the rest makes
# (common/win32/cds_compat.h).
WIN_SKIP  := common/cds_pg.c common/cds_sql.c common/cds_signal.c \
    common/cds_harden.c agent/service.c
# The officer's page (agent/page.c, `open`) with libmicrohttpd linked in
# static (deps.sh builds it); in a deps directory without it, page_off.c,
# and `open` says the page is not in this build.
WIN_NO_PAGE := $(if $(wildcard $(WIN_DEPS)/include/microhttpd.h),,agent/page.c)
# Without libinih (deps.sh: its source is missing from the mirror here)
# inih's ini_parse comes from common/win32/inih/, over Windows' own INI
# reader in kernel32 (its ini.h says what differs). INIH_SRC=dir
# sh deploy/windows/deps.sh puts Debian's inih in $(WIN_DEPS) instead.
WIN_NO_INI := $(if $(wildcard $(WIN_DEPS)/include/ini.h),,common/win32/inih/ini_win32.c)
WIN_COMMON_SRC := $(filter-out $(WIN_SKIP),$(COMMON_SRC)) $(wildcard common/win32/*.c) $(WIN_NO_INI)
WIN_AGENT_SRC  := $(filter-out $(WIN_SKIP) $(WIN_NO_PAGE),$(AGENT_SRC)) \
    $(filter-out $(if $(WIN_NO_PAGE),,agent/win32/page_off.c),$(wildcard agent/win32/*.c))
WIN_CPPFLAGS := -D_WIN32_WINNT=0x0601 -D__USE_MINGW_ANSI_STDIO=1 \
    -DZMQ_STATIC -DSODIUM_STATIC -DCMOCKA_STATIC -DLIBXML_STATIC \
    -Icommon/win32 -include cds_compat.h $(if $(WIN_NO_INI),-Icommon/win32/inih) \
    -Icommon -I$(BUILD)/proto -I$(WIN_DEPS)/include -I$(WIN_DEPS)/include/libxml2 \
    -DCDS_DATADIR='"C:/ProgramData/cdsync"' -DCDS_SYSCONFDIR='"C:/ProgramData"' \
    -DCDS_AGENT_STATEDIR='"C:/ProgramData/cdsync/state"'
# -Wno-format: with __USE_MINGW_ANSI_STDIO the printf family is C99 (%zu,
# %lld), but GCC checks format(printf) as Microsoft's and flags them.
WIN_CFLAGS := -std=gnu11 -O2 $(WARN) -Wno-format -MMD -MP
WIN_LIBS  := -L$(WIN_DEPS)/lib -lzmq -lprotobuf-c -lsodium -lsqlite3 $(if $(WIN_NO_INI),,-linih) \
    -ljansson -lcsv -lxml2 $(if $(WIN_NO_PAGE),,-lmicrohttpd) -lstdc++ -lpthread \
    -lws2_32 -liphlpapi -ladvapi32 -lshell32 -lm
# Files open in binary mode: common/win32/cds_compat.c (_set_fmode).
WIN_LDFLAGS := -static
wobj = $(patsubst %.c,$(WIN)/obj/%.o,$(1))
WIN_LIBCDS   := $(WIN)/libcdsync.a
WIN_LIBAGENT := $(WIN)/libagent.a
WIN_STAMP    := $(WIN_DEPS)/stamps/libmicrohttpd

.PHONY: windows windows-deps windows-test
windows: $(WIN_EXE)
windows-deps:
	@sh deploy/windows/deps.sh $(BUILD)
$(WIN_STAMP):
	@sh deploy/windows/deps.sh $(BUILD)

$(WIN)/obj/%.o: %.c $(PROTO_H) | $(WIN_STAMP)
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_CPPFLAGS) $(LAYER_INC) $(WIN_CFLAGS) -c $< -o $@
$(WIN)/obj/agent/%.o: LAYER_INC := -Iagent
$(WIN)/obj/agent/page.o: $(BUILD)/gen/page_html.h
$(WIN)/obj/agent/page.o: LAYER_INC := -Iagent -I$(BUILD)/gen
# asprintf: mingw-w64's stdio.h declares it with _GNU_SOURCE only.
$(WIN)/obj/agent/page.o: WIN_CPPFLAGS += -D_GNU_SOURCE
$(WIN)/obj/tests/%.o: LAYER_INC := -Iagent
$(WIN)/obj/proto/cdsync.pb-c.o: $(PROTO_C) $(PROTO_H) | $(WIN_STAMP)
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_CPPFLAGS) $(filter-out -Wmissing-prototypes,$(WIN_CFLAGS)) -c $< -o $@
$(WIN_LIBCDS): $(call wobj,$(WIN_COMMON_SRC)) $(WIN)/obj/proto/cdsync.pb-c.o
	$(WIN_AR) rcs $@ $^
$(WIN_LIBAGENT): $(call wobj,$(WIN_AGENT_SRC))
	$(WIN_AR) rcs $@ $^
# The manifest: UTF-8 code page (paths, argv), and no UAC virtualisation.
$(WIN)/obj/manifest.o: deploy/windows/cdsync-agent.rc deploy/windows/cdsync-agent.manifest
	@mkdir -p $(dir $@)
	x86_64-w64-mingw32-windres -I deploy/windows $< -o $@
$(WIN_EXE): $(call wobj,agent/main.c) $(WIN)/obj/manifest.o $(WIN_LIBAGENT) $(WIN_LIBCDS)
	$(WIN_CC) $(WIN_LDFLAGS) -o $@ $^ $(WIN_LIBS)
	@ls -l $@ | awk '{print "windows: " $$5 " bytes: " $$9}'



# The unit tests of common/ and agent/ (none of the aggregator's), built as
# Windows programs and run under wine64 by deploy/windows/wine_test.sh.
# WIN_TESTS=name... runs some.
WIN_UNIT_NAMES := cds_adx_test cds_carry_test cds_catalog_test cds_ckpt_test cds_cli_test \
    cds_codec_test cds_config_test cds_csv_test cds_dataset_test cds_db_test \
    cds_err_test cds_harden_test cds_hlc_test cds_id_test cds_log_test \
    cds_orgunit_test cds_period_test cds_rule_test cds_service_test \
    cds_sign_test cds_signal_test cds_target_test cds_update_test \
    cds_util_test daemon_lock_test diagnosis_test import_test livestate_test \
    metafetch_test outbox_test receipt_verify_test sender_test \
    session_model_test session_test
WIN_TESTS ?= $(WIN_UNIT_NAMES)
# With the agent's manifest: the UTF-8 code page, which kernel32's INI
# reader (common/win32/inih) uses for a file without a byte-order mark.
$(WIN)/tests/%.exe: $(WIN)/obj/tests/unit/%.o $(WIN)/obj/manifest.o $(WIN_LIBAGENT) $(WIN_LIBCDS)
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_LDFLAGS) -o $@ $^ -lcmocka $(WIN_LIBS)
.SECONDARY: $(patsubst %,$(WIN)/obj/tests/unit/%.o,$(WIN_UNIT_NAMES))
windows-test:
	@$(MAKE) --no-print-directory -k $(patsubst %,$(WIN)/tests/%.exe,$(WIN_TESTS)) || true
	@rc=0; sh deploy/windows/wine_test.sh $(WIN) $(WIN_TESTS) || rc=1; \
	BUILD=$(BUILD) bash tests/windows/windows_agent.sh | tee $(WIN)/windows_agent.tap; \
	grep -q '^not ok' $(WIN)/windows_agent.tap && rc=1; \
	BUILD=$(BUILD) bash tests/windows/page.sh | tee $(WIN)/page.tap; \
	grep -q '^not ok' $(WIN)/page.tap && rc=1; \
	if command -v makensis > /dev/null; then $(MAKE) --no-print-directory windows-installer || rc=1; fi; \
	BUILD=$(BUILD) bash tests/windows/installer.sh | tee $(WIN)/installer.tap; \
	grep -q '^not ok' $(WIN)/installer.tap && rc=1; exit $$rc
-include $(wildcard $(WIN)/obj/*/*.d $(WIN)/obj/*/*/*.d)

# The installer (issue 18 item 2): cdsync-agent-setup.exe with Debian's
# NSIS (makensis; deploy/windows/deps.sh installs it), from
# deploy/windows/cdsync-agent.nsi. It ships the stripped .exe.
# tests/windows/installer.sh runs it silently under Wine.
WIN_SETUP := $(WIN)/cdsync-agent-setup.exe
WIN_NSIS  := deploy/windows/cdsync-agent.nsi deploy/windows/cdsync-agent-lang.nsh \
    deploy/windows/LICENCE.txt deploy/catalog.csv deploy/rules.csv \
    deploy/orgunits.csv deploy/datasets.csv common/cds_version.h
.PHONY: windows-installer
windows-installer: $(WIN_SETUP)
$(WIN)/setup/cdsync-agent.exe: $(WIN_EXE)
	@mkdir -p $(dir $@)
	x86_64-w64-mingw32-strip -o $@ $<
$(WIN_SETUP): $(WIN)/setup/cdsync-agent.exe $(WIN_NSIS)
	makensis -V2 -INPUTCHARSET UTF8 \
	    -DVERSION=$$(sed -n 's/^#define CDS_VERSION "\(.*\)"/\1/p' common/cds_version.h) \
	    -DEXE=$(abspath $<) -DTOP=$(CURDIR) -DOUTFILE=$(abspath $@) \
	    deploy/windows/cdsync-agent.nsi
	@ls -l $@ | awk '{print "windows-installer: " $$5 " bytes: " $$9}'
