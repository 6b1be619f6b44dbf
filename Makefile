# kintsugi - plain GNU make. `make demo` and `make test` are the two commands
# of the README: each first installs any missing Debian package (scripts/deps.sh).

CC      ?= gcc
PKGS     = sqlite3 yaml-0.1 jansson libcurl libcrypto libmicrohttpd
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
# libFuzzer targets of the alert parsers; tests replay tests/fuzz/corpus-NAME
# through build/fuzz/fuzz_NAME.
ALERT_FUZZ = build/fuzz/fuzz_pagerduty build/fuzz/fuzz_alertmanager

.PHONY: all demo test deps san unit-bins fuzz clean bench bench-serve bench-messages

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

san: build/san/kintsugi unit-bins build/fuzz/fuzz_decode $(ALERT_FUZZ) build/fuzz/fuzz_template \
  $(TSAN_TESTS)

# The libFuzzer target (clang); tests replay its corpus, `make fuzz` explores.
FUZZ_SRC = $(filter-out src/cli/main.c,$(wildcard src/core/*.c src/event/*.c))
build/fuzz/fuzz_decode: tests/fuzz/fuzz_decode.c $(FUZZ_SRC)
	@mkdir -p $(dir $@)
	clang $(WARN) -Wno-unused-command-line-argument -O1 -g -fsanitize=fuzzer,address,undefined \
	  $(PKG_CFLAGS) -o $@ $^ $(LDLIBS)

# The alert parsers (src/alerts), one target each (ALERT_FUZZ, above).
ALERT_FUZZ_SRC = $(wildcard src/core/*.c src/alerts/*.c)
$(ALERT_FUZZ): build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(ALERT_FUZZ_SRC)
	@mkdir -p $(dir $@)
	clang $(WARN) -Wno-unused-command-line-argument -O1 -g -fsanitize=fuzzer,address,undefined \
	  $(PKG_CFLAGS) -o $@ $^ $(LDLIBS)

# The message template parser (src/comms/template.c).
build/fuzz/fuzz_template: tests/fuzz/fuzz_template.c $(wildcard src/core/*.c) src/comms/template.c
	@mkdir -p $(dir $@)
	clang $(WARN) -Wno-unused-command-line-argument -O1 -g -fsanitize=fuzzer,address,undefined \
	  $(PKG_CFLAGS) -o $@ $^ $(LDLIBS)

# libFuzzer writes what it finds into the first corpus directory, which must exist.
# `make fuzz` explores the event decoder; `make fuzz FUZZ=pagerduty` (or
# alertmanager) an alert parser.
FUZZ ?= decode
FUZZ_CORPUS = $(if $(filter decode,$(FUZZ)),corpus,corpus-$(FUZZ))
FUZZ_MAX_LEN = $(if $(filter decode,$(FUZZ)),4096,16384)
fuzz: deps build/fuzz/fuzz_$(FUZZ)
	@mkdir -p build/fuzz/$(FUZZ_CORPUS)
	./build/fuzz/fuzz_$(FUZZ) -max_total_time=$${FUZZ_SECONDS:-60} -max_len=$(FUZZ_MAX_LEN) \
	  build/fuzz/$(FUZZ_CORPUS) tests/fuzz/$(FUZZ_CORPUS)

bench-messages: deps build/kintsugi
	@bash bench/messages.sh

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_SRC:bench/%.c=build/bench/%)
	@bash bench/run.sh

bench-serve: deps
	@$(MAKE) --no-print-directory all build/bench/post_events build/bench/gen_inventory
	@bash bench/serve.sh

clean:
	rm -rf build

# Keep test objects (they are intermediates) so their dependency files count.
.SECONDARY:

-include $(OBJ:.o=.d) $(SAN_OBJ:.o=.d) $(TSAN_OBJ:.o=.d) $(wildcard build/san/obj/tests/unit/*.d build/tsan/obj/tests/unit/*.d build/obj/bench/*.d)
