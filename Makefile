# kintsugi - plain GNU make. `make demo` and `make test` are the two commands
# of the README: each first installs any missing Debian package (scripts/deps.sh).

CC      ?= gcc
PKGS     = sqlite3 libpq yaml-0.1 jansson libcurl libcrypto libmicrohttpd
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# The NATS client (libnats-dev): its pkg-config name is libnats; -lnats without it.
NATS_LIBS  = $(shell pkg-config --libs libnats 2>/dev/null || echo -lnats)
WARN     = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wvla -Werror
CFLAGS  ?= -O2 -g
LDLIBS   = $(PKG_LIBS) $(NATS_LIBS) -lm -lpthread

# The dashboard's files (web/) become build/gen/web_assets.c (scripts/embed.c),
# compiled into the library like any source: nothing is read at run time.
WEB_FILES = web/index.html web/app.css web/app.js
WEB_GEN   = build/gen/web_assets.c
LIB_SRC  = $(filter-out src/cli/main.c,$(wildcard src/*/*.c)) $(WEB_GEN)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
BENCH_SRC = $(wildcard bench/*.c)

# Release build in build/, sanitizer build (ASan + UBSan) in build/san/.
OBJ      = $(LIB_SRC:%.c=build/obj/%.o)
SAN_OBJ  = $(LIB_SRC:%.c=build/san/obj/%.o)
SANFLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
           -DKS_SLOW_CHECKS=1
# ThreadSanitizer build in build/tsan/, for the tests of code that runs on two
# threads (the intake, the HTTP server).
TSAN_OBJ  = $(LIB_SRC:%.c=build/tsan/obj/%.o)
TSANFLAGS = -O1 -g -fsanitize=thread
TSAN_TESTS = build/tsan/tests/test_intake build/tsan/tests/test_http
# libFuzzer targets, one per parser: tests/fuzz/fuzz_NAME.c becomes
# build/fuzz/fuzz_NAME, and the tests replay tests/fuzz/corpus-NAME through it.
FUZZ_NAMES   = $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS = $(FUZZ_NAMES:%=build/fuzz/fuzz_%)
FUZZ_OBJ     = $(LIB_SRC:%.c=build/fuzz/obj/%.o)
FUZZFLAGS    = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

.PHONY: all demo test deps san unit-bins fuzz fuzz-bins torture clean bench bench-serve bench-messages bench-pg bench-bus bench-ids bench-idle

$(WEB_GEN): scripts/embed.c $(WEB_FILES)
	@mkdir -p build/gen build/tools
	$(CC) $(WARN) -O1 -o build/tools/embed scripts/embed.c
	build/tools/embed $@ $(WEB_FILES)

all: build/kintsugi

deps:
	@bash scripts/deps.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@rm -f build/demo.db build/demo.db-wal build/demo.db-shm
	./build/kintsugi demo --db build/demo.db

test: deps
	@$(MAKE) --no-print-directory all san
	@bash scripts/run-tests.sh

build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

build/san/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(SANFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

build/tsan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(TSANFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

build/tsan/libkintsugi.a: $(TSAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/tsan/tests/%: build/tsan/obj/tests/unit/%.o build/tsan/libkintsugi.a
	@mkdir -p $(dir $@)
	$(CC) $(TSANFLAGS) -o $@ $^ $(LDLIBS)

build/libkintsugi.a: $(OBJ)
	@rm -f $@
	ar rcs $@ $^

build/san/libkintsugi.a: $(SAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/kintsugi: build/obj/src/cli/main.o build/libkintsugi.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/san/kintsugi: build/san/obj/src/cli/main.o build/san/libkintsugi.a
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS)

build/san/tests/%: build/san/obj/tests/unit/%.o build/san/libkintsugi.a
	@mkdir -p $(dir $@)
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS)

build/bench/%: build/obj/bench/%.o build/libkintsugi.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

unit-bins: $(UNIT_SRC:tests/unit/%.c=build/san/tests/%)

san: build/san/kintsugi unit-bins fuzz-bins $(TSAN_TESTS)

# The libFuzzer targets (clang): the library once more, instrumented for
# coverage, and one pattern rule for every tests/fuzz/fuzz_NAME.c. (clang's
# -Wformat=2 also flags the v*printf wrappers, which gcc accepts.)
fuzz-bins: $(FUZZ_TARGETS)

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(WARN) -Wno-format-nonliteral $(FUZZFLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -MMD -MP -c $< -o $@

build/fuzz/libkintsugi.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/fuzz/fuzz_%: build/fuzz/obj/tests/fuzz/fuzz_%.o build/fuzz/libkintsugi.a
	clang $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# `make fuzz` explores every target for FUZZ_SECONDS each (30 unless told),
# `make fuzz FUZZ=NAME` one (decode, pagerduty, config, ...). libFuzzer writes
# what it finds into its first corpus directory (build/fuzz/corpus-NAME, made
# here: it must exist); a crash is left as build/fuzz/crash-* and stops make.
FUZZ ?= $(FUZZ_NAMES)
FUZZ_SECONDS ?= 30
fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ:%=build/fuzz/fuzz_%)
	@set -e; for n in $(FUZZ); do \
	  mkdir -p build/fuzz/corpus-$$n; \
	  echo "fuzz $$n: $(FUZZ_SECONDS) s"; \
	  ./build/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=10 \
	    -artifact_prefix=build/fuzz/crash-$$n- -print_final_stats=1 \
	    build/fuzz/corpus-$$n tests/fuzz/corpus-$$n 2>build/fuzz/$$n.log || \
	    { tail -40 build/fuzz/$$n.log; exit 1; }; \
	  grep -E '^stat::(number_of_executed_units|new_units_added)' build/fuzz/$$n.log | tr '\n' ' '; echo; \
	done

# The crash and fault tests at their full counts (docs/DURABILITY.md):
# `make test` runs them small. kill -9 on SQLite (crash.sh) and on PostgreSQL
# (crash_pg.sh, a server of its own), PostgreSQL crashed under load (pg_restart.sh).
TORTURE_KILLS ?= 100
TORTURE_PG_RESTARTS ?= 10
torture: deps
	@$(MAKE) --no-print-directory all san
	KS_CRASH_KILLS=$(TORTURE_KILLS) KINTSUGI=build/san/kintsugi bash tests/integration/crash.sh
	KS_CRASH_KILLS=$(TORTURE_KILLS) KINTSUGI=build/san/kintsugi bash tests/integration/crash_pg.sh
	KS_PG_RESTARTS=$(TORTURE_PG_RESTARTS) KINTSUGI=build/san/kintsugi bash tests/integration/pg_restart.sh
	KINTSUGI=build/san/kintsugi bash tests/integration/diskfull.sh
	./build/san/tests/test_store_vfs

bench-messages: deps build/kintsugi
	@bash bench/messages.sh

bench-ids: deps build/kintsugi
	@bash bench/ids.sh

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_SRC:bench/%.c=build/bench/%)
	@bash bench/run.sh

bench-serve: deps
	@$(MAKE) --no-print-directory all build/bench/post_events build/bench/gen_inventory
	@bash bench/serve.sh

# What an idle `kintsugi serve` writes, left alone and with a dashboard polling.
bench-idle: deps
	@$(MAKE) --no-print-directory all build/bench/gen_inventory
	@bash bench/idle.sh

# SQLite against PostgreSQL: the same replay, and restart to ready with 10 M pairs.
bench-pg: deps
	@$(MAKE) --no-print-directory all build/bench/gen_inventory
	@bash bench/postgres.sh

# Events through NATS JetStream with 1, 2 and 3 instances, and a standby's takeover.
bench-bus: deps
	@$(MAKE) --no-print-directory all build/bench/gen_inventory
	@bash bench/bus.sh

clean:
	rm -rf build

# Keep test objects (they are intermediates) so their dependency files count.
.SECONDARY:

-include $(OBJ:.o=.d) $(SAN_OBJ:.o=.d) $(TSAN_OBJ:.o=.d) $(wildcard build/san/obj/tests/unit/*.d build/tsan/obj/tests/unit/*.d build/obj/bench/*.d build/fuzz/obj/tests/fuzz/*.d) $(FUZZ_OBJ:.o=.d)
