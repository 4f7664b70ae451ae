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
DEPFLAGS = -MMD -MP

# Library sources: every .c under src/ except the programs' own folders.
LIB_DIRS := src/common src/kv src/wal src/net src/repl src/server
LIB_SRC  := $(filter-out src/server/main.c,$(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)

SERVER_SRC := src/server/main.c
CLI_SRC    := $(wildcard src/cli/*.c)
BENCH_SRC  := $(wildcard src/bench/*.c)

# Unit and in-process tests: tests/<layer>/*_test.c, one binary each.
TEST_SRC  := $(wildcard tests/*/*_test.c) $(wildcard tests/*_test.c)
TEST_BIN  := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TEST_LIB_SRC := $(filter-out %_test.c,$(wildcard tests/common/*.c))
TEST_LIB_OBJ := $(TEST_LIB_SRC:%.c=$(BUILD)/obj/%.o)

# Tools used by tests (fault proxy and friends).
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))

PROGS := $(BUILD)/rkv-server $(BUILD)/rkv-cli $(BUILD)/rkv-bench

.PHONY: all check unit proc asan tsan valgrind lint format clean run fuzz bench
all: $(PROGS) $(TEST_BIN) $(TOOL_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

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

$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(BUILD)/librkv.a
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

run: all
	@./tests/tools/run_cluster.sh

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem -Isrc src tests
	clang-tidy --quiet $(LIB_SRC) $(SERVER_SRC) $(CLI_SRC) $(BENCH_SRC) -- -std=c11 -D_GNU_SOURCE -Isrc

format:
	clang-format -i $$(find src tests -name '*.[ch]')

clean:
	rm -rf build build-asan build-tsan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
