# rkv build. `make` builds everything into build/; `make check` runs every test.
# Only gcc, make and pthreads are required; valgrind for `make valgrind`,
# clang for `make fuzz` (optional).

CC      ?= gcc
BUILD   ?= build
OPT     ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wcast-qual -Wwrite-strings -Wvla -Wformat=2 \
           -Wundef -Wold-style-definition -Wno-unused-parameter
CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -Isrc -pthread $(EXTRA_CFLAGS)
LDFLAGS += -pthread $(EXTRA_LDFLAGS)

# OpenSSL (Debian's libssl-dev) gives TLS and the cryptographic primitives
# (HMAC-SHA-256 for the cluster secret, SHA-256 for passwords, the random
# generator). Found by default; `make TLS=no` builds without it, and then the
# security flags (--tls-*, --cluster-secret-file, --requirepass, --aclfile)
# are refused at start with a message saying so.
TLS ?= auto
ifeq ($(TLS),auto)
TLS := $(shell printf '\043include <openssl/ssl.h>\nint main(void){return 0;}\n' | \
	$(CC) -x c - -o /dev/null -lssl -lcrypto >/dev/null 2>&1 && echo yes || echo no)
endif
ifeq ($(TLS),yes)
CFLAGS  += -DRKV_HAVE_OPENSSL=1
LDLIBS_SSL := -lssl -lcrypto
else
$(info rkv: building WITHOUT OpenSSL (libssl-dev not found or TLS=no): TLS, passwords and the cluster secret are refused at start)
CFLAGS  += -DRKV_HAVE_OPENSSL=0
LDLIBS_SSL :=
endif
LDFLAGS += $(LDLIBS_SSL)
DEPFLAGS = -MMD -MP

# Library sources: every .c under src/ except the programs' own folders.
LIB_DIRS := src/common src/kv src/wal src/net src/repl src/server
LIB_SRC  := $(filter-out src/server/main.c,$(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)

SERVER_SRC := src/server/main.c
CLI_SRC    := $(wildcard src/cli/*.c)
BENCH_SRC  := $(wildcard src/bench/*.c)

# Unit and in-process tests: tests/<layer>/*_test.c, one binary each.
# tests/repl_full_test.c (the brief's six categories in one process) builds to
# $(BUILD)/repl_full_test, the path the brief names; tests/repl_valgrind_test.sh
# and tests/test_harness.sh run it.
REPL_FULL := $(BUILD)/repl_full_test
TEST_SRC  := $(filter-out tests/repl_full_test.c,$(wildcard tests/*/*_test.c) $(wildcard tests/*_test.c))
TEST_BIN  := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TEST_LIB_SRC := $(filter-out %_test.c,$(wildcard tests/common/*.c))
TEST_LIB_OBJ := $(TEST_LIB_SRC:%.c=$(BUILD)/obj/%.o)

# Tools used by tests (fault proxy and friends).
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))

PROGS := $(BUILD)/rkv-server $(BUILD)/rkv-cli $(BUILD)/rkv-bench

.PHONY: all check unit proc asan tsan valgrind lint format clean run run-clean run-tls fuzz bench bench-quick bench-smoke
# Objects built through pattern rules (test and tool objects) are kept: make
# would otherwise delete them as intermediates after the build (printing an
# `rm` line after the test totals) and recompile them all next time.
.SECONDARY:
all: $(PROGS) $(TEST_BIN) $(REPL_FULL) $(TOOL_BIN)

# `make V=1` shows the full commands.
V ?= 0
ifeq ($(V),0)
Q := @
else
Q :=
endif

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC    $<")
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/librkv.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/rkv-server: $(BUILD)/obj/src/server/main.o $(BUILD)/librkv.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS)

$(BUILD)/rkv-cli: $(CLI_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/librkv.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS)

$(BUILD)/rkv-bench: $(BENCH_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/librkv.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_LIB_OBJ) $(BUILD)/librkv.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS)

$(REPL_FULL): $(BUILD)/obj/tests/repl_full_test.o $(TEST_LIB_OBJ) $(BUILD)/librkv.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS)

$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(TEST_LIB_OBJ) $(BUILD)/librkv.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS)

# `make check`: every test binary, then every process-level script; totals last.
check: all
	@BUILD=$(BUILD) ./tests/run_all.sh

# Unit tests only (fast), used by valgrind.
unit: all
	@BUILD=$(BUILD) ONLY=unit ./tests/run_all.sh

valgrind: all
	@BUILD=$(BUILD) ONLY=unit WRAP="valgrind -q --leak-check=full --errors-for-leak-kinds=all --error-exitcode=1" ./tests/run_all.sh

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined" check

tsan:
	$(MAKE) BUILD=build-tsan OPT="-O1 -g -fsanitize=thread" EXTRA_LDFLAGS="-fsanitize=thread" all
	@BUILD=build-tsan ONLY=threaded ./tests/run_all.sh

# FRESH=1 starts from empty data dirs; `make run-clean` removes them.
run: $(PROGS)
	@FRESH=$(FRESH) ./tests/tools/run_cluster.sh

run-clean:
	rm -rf ./data/node1 ./data/node2 ./data/node3

# `make run-tls`: the same cluster with TLS on client and replication ports
# (certificates generated into the data folder when absent).
run-tls: $(PROGS)
	@RKV_TLS=1 ./tests/tools/run_cluster.sh

# clang-tidy runs once per file: given several files in one run, clang-tidy 14's
# analyzer reports every vsnprintf(..., ap) after the first file as called with
# an "uninitialized va_list" (LLVM bug 41311, llvm/llvm-project#40656). Every
# file is still checked, and any finding makes the target fail.
lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem -Isrc src tests
	@rc=0; for f in $(LIB_SRC) $(SERVER_SRC) $(CLI_SRC) $(BENCH_SRC); do \
		clang-tidy --quiet $$f -- -std=c11 -D_GNU_SOURCE -DRKV_HAVE_OPENSSL=1 -Isrc || rc=1; \
	done; exit $$rc

format:
	clang-format -i $$(find src tests -name '*.[ch]')

clean:
	rm -rf build build-asan build-tsan build-fuzz

# ---- Fuzzing (tests/fuzz/) ----
# Every target tests/fuzz/fuzz_<t>.c is linked twice: with libFuzzer by clang
# (`make fuzz` -> build-fuzz/fuzz_<t>; `make fuzz-run FUZZ_SECONDS=N` runs each
# for N seconds on a scratch copy of its corpus), and with replay_main.c by
# $(CC) into $(BUILD)/tests/fuzz/replay_<t>, which `make check` runs with no
# arguments to replay tests/fuzz/corpus/<t>/ (no clang needed in CI).
# `make fuzz-corpus` regenerates the seed-* files with the real encoders.
FUZZ_TARGETS := resp wal_record wal_segment repl_frame checkpoint config
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 1
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
REPLAY_BIN   := $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz/replay_%)

.PHONY: fuzz-bins fuzz-run fuzz-corpus
all: $(REPLAY_BIN)

$(REPLAY_BIN): $(BUILD)/tests/fuzz/replay_%: $(BUILD)/obj/tests/fuzz/replay_main.o \
		$(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/librkv.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS)

fuzz:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) \
		OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
		EXTRA_LDFLAGS="$(FUZZ_SAN)" fuzz-bins

fuzz-bins: $(FUZZ_TARGETS:%=$(BUILD)/fuzz_%)

$(BUILD)/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/librkv.a
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDFLAGS)

fuzz-run: fuzz
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_JOBS=$(FUZZ_JOBS) ./tests/fuzz/fuzz_run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-corpus: $(BUILD)/fuzz/gen_corpus
	$(BUILD)/fuzz/gen_corpus tests/fuzz/corpus

$(BUILD)/fuzz/gen_corpus: $(BUILD)/obj/tests/fuzz/gen_corpus.o $(BUILD)/librkv.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- Installing (docs/OPERATIONS.md, "Installing") ----
# `make install PREFIX=/usr/local DESTDIR=`: the three programs, their man
# pages (generated from each program's --help by contrib/gen-man.sh), the
# sample config (contrib/rkv.conf, itself `rkv-server --dump-config-sample`),
# the systemd unit (ExecStart rewritten to $(PREFIX)/bin) and the logrotate
# file. Nothing is written under /etc: copy the config and the logrotate
# file there (docs/OPERATIONS.md). Installs what $(BUILD) holds and rebuilds
# only what is out of date.
PREFIX  ?= /usr/local
DESTDIR ?=
INSTALL ?= install
BINDIR  := $(PREFIX)/bin
MAN1DIR := $(PREFIX)/share/man/man1
RKVDATADIR := $(PREFIX)/share/rkv
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANPAGES := $(BUILD)/man/rkv-server.1 $(BUILD)/man/rkv-cli.1 $(BUILD)/man/rkv-bench.1
MAN_SUMMARY_rkv-server := replicated key-value server speaking the Redis protocol
MAN_SUMMARY_rkv-cli := command-line client for rkv and Redis
MAN_SUMMARY_rkv-bench := load generator for rkv, Redis and the storage engine

.PHONY: install uninstall man config-sample
man: $(MANPAGES)

$(BUILD)/man/%.1: $(BUILD)/% contrib/gen-man.sh
	@mkdir -p $(dir $@)
	./contrib/gen-man.sh $< '$* \- $(MAN_SUMMARY_$*)' > $@.tmp
	@mv $@.tmp $@

# Regenerates the checked-in sample from the option table.
config-sample: $(BUILD)/rkv-server
	$(BUILD)/rkv-server --dump-config-sample > contrib/rkv.conf

install: $(PROGS) $(MANPAGES)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MAN1DIR) $(DESTDIR)$(RKVDATADIR) \
		$(DESTDIR)$(UNITDIR)
	$(INSTALL) -m 0755 $(PROGS) $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 0644 $(MANPAGES) $(DESTDIR)$(MAN1DIR)/
	$(INSTALL) -m 0644 contrib/rkv.conf $(DESTDIR)$(RKVDATADIR)/rkv.conf
	$(INSTALL) -m 0644 contrib/logrotate/rkv $(DESTDIR)$(RKVDATADIR)/logrotate.rkv
	sed 's|/usr/local/bin/|$(BINDIR)/|g' contrib/systemd/rkv@.service > $(DESTDIR)$(UNITDIR)/rkv@.service
	@chmod 0644 $(DESTDIR)$(UNITDIR)/rkv@.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/rkv-server $(DESTDIR)$(BINDIR)/rkv-cli $(DESTDIR)$(BINDIR)/rkv-bench
	rm -f $(DESTDIR)$(MAN1DIR)/rkv-server.1 $(DESTDIR)$(MAN1DIR)/rkv-cli.1 $(DESTDIR)$(MAN1DIR)/rkv-bench.1
	rm -f $(DESTDIR)$(RKVDATADIR)/rkv.conf $(DESTDIR)$(RKVDATADIR)/logrotate.rkv
	rm -f $(DESTDIR)$(UNITDIR)/rkv@.service
	-rmdir $(DESTDIR)$(RKVDATADIR) 2>/dev/null

# Benchmarks are not tests (docs/PERFORMANCE.md): `make bench` is the full
# side-by-side comparison with Redis and etcd, `make bench-quick` its
# two-minute version, `make bench-smoke` every script in bench/ once at a
# tiny size so none of them rots (not part of `make check`).
bench: $(PROGS)
	BUILD=$(BUILD) bench/compare.sh
bench-quick: $(PROGS)
	BUILD=$(BUILD) bench/compare.sh --quick
bench-smoke: $(PROGS)
	BUILD=$(BUILD) bench/smoke.sh
