#!/usr/bin/env bash
# Runs every test of kintsugi under AddressSanitizer + UndefinedBehaviorSanitizer
# and ends with the line CI reads: "N passed, N failed".
#   unit + scenario tests: build/san/tests/test_*   (each prints RESULT passed=N failed=M)
#   two-thread tests:      build/tsan/tests/test_*  (the same, under ThreadSanitizer)
#   CLI integration tests: tests/integration/*.sh   (each prints RESULT passed=N failed=M)
#   (the store's tests and tests/integration/postgres.sh also run on a
#   PostgreSQL server started for the run: KS_TEST_PG_URI)
#   fuzz corpus replay:    build/fuzz/fuzz_NAME over tests/fuzz/corpus-NAME, for
#                          every parser (decode, config, review, checkpoint, ...)
set -uo pipefail
cd "$(dirname "$0")/.."
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export KINTSUGI="$PWD/build/san/kintsugi"
passed=0
failed=0
log=build/test.log
: >"$log"

# One PostgreSQL server for the run (scripts/pg-test.sh: Debian's server in a
# temporary directory, a free port, stopped by its PID at the end): the store
# tests run on it beside SQLite (tests/unit/tdb.h), the integration tests
# that need it take their own schemas or databases on it.
PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ks-pg-XXXXXX")
trap 'bash scripts/pg-test.sh stop "$PG_DIR"' EXIT
if KS_TEST_PG_URI=$(bash scripts/pg-test.sh start "$PG_DIR" 2>"$PG_DIR.err"); then
    export KS_TEST_PG_URI
    echo "ok   PostgreSQL test server ($KS_TEST_PG_URI)"
else
    echo "FAIL PostgreSQL test server did not start:"; sed 's/^/    /' "$PG_DIR.err" | tail -20
    failed=$((failed + 1))
    unset KS_TEST_PG_URI
fi
rm -f "$PG_DIR.err"

count() { # name, output file, exit code
    local name=$1 out=$2 rc=$3 line p f
    line=$(grep -E '^RESULT passed=[0-9]+ failed=[0-9]+' "$out" | tail -1)
    if [ -z "$line" ]; then
        echo "FAIL $name: no RESULT line (exit $rc)"; sed 's/^/    /' "$out" | tail -30
        failed=$((failed + 1)); return
    fi
    p=$(sed -E 's/.*passed=([0-9]+).*/\1/' <<<"$line")
    f=$(sed -E 's/.*failed=([0-9]+).*/\1/' <<<"$line")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -gt 0 ]; then
        echo "FAIL $name ($p passed, $f failed)"; grep -E 'FAIL|ERROR|runtime error|Sanitizer' "$out" | head -40 | sed 's/^/    /'
    else
        echo "ok   $name ($p passed)"
    fi
}

for t in build/san/tests/test_*; do
    [ -x "$t" ] || continue
    out=$(mktemp)
    "$t" >"$out" 2>&1; rc=$?
    cat "$out" >>"$log"
    count "$(basename "$t")" "$out" "$rc"
    rm -f "$out"
done

# The tests of code that runs on two threads, again under ThreadSanitizer.
for t in build/tsan/tests/test_*; do
    [ -x "$t" ] || continue
    out=$(mktemp)
    TSAN_OPTIONS="halt_on_error=1" "$t" >"$out" 2>&1; rc=$?
    cat "$out" >>"$log"
    count "$(basename "$t") (ThreadSanitizer)" "$out" "$rc"
    rm -f "$out"
done

for t in tests/integration/*.sh; do
    [ -f "$t" ] || continue
    out=$(mktemp)
    bash "$t" >"$out" 2>&1; rc=$?
    cat "$out" >>"$log"
    count "$(basename "$t" .sh)" "$out" "$rc"
    rm -f "$out"
done

# Every parser's libFuzzer target over its own corpus (tests/fuzz/corpus-NAME):
# each file is one input, and each corpus must have its target.
for d in tests/fuzz/corpus-*; do
    [ -d "$d" ] || continue
    name=${d#tests/fuzz/corpus-}
    t=build/fuzz/fuzz_$name
    if [ ! -x "$t" ]; then
        echo "FAIL fuzz $name corpus replay: $t is not built"; failed=$((failed + 1)); continue
    fi
    n=$(find "$d" -type f | wc -l)
    out=$(mktemp)
    if find "$d" -type f -print0 | xargs -0 "$t" >"$out" 2>&1; then
        echo "ok   fuzz $name corpus replay ($n inputs)"; passed=$((passed + 1))
    else
        echo "FAIL fuzz $name corpus replay"; tail -30 "$out" | sed 's/^/    /'; failed=$((failed + 1))
    fi
    rm -f "$out"
done

echo "full output: $log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
