#!/usr/bin/env bash
# The Makefile's own targets, checked without running them (make -n).
# Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"

dry() { make --no-print-directory -n "$@" 2>/dev/null; }

# libFuzzer writes into its first corpus directory and stops when it is
# missing, as it is in a fresh clone: `make fuzz` must make it first.
makes_corpus_dir() { dry fuzz FUZZ=decode FUZZ_SECONDS=1 | grep -qF 'mkdir -p build/fuzz/corpus-$n'; }
check fuzz_makes_its_corpus_directory makes_corpus_dir
# `make fuzz` runs every target (one per tests/fuzz/fuzz_NAME.c) for
# FUZZ_SECONDS each; FUZZ=NAME one.
every_target() {
    dry fuzz FUZZ_SECONDS=1 |
        grep -qF 'for n in alertmanager array checkpoint command config decode feed pagerduty review template; do'
}
check fuzz_runs_every_target every_target
one_target() {
    dry fuzz FUZZ=review FUZZ_SECONDS=7 >"$T/dry"
    grep -qF 'for n in review; do' "$T/dry" && grep -qF 'max_total_time=7 ' "$T/dry"
}
check fuzz_one_target one_target
# every target has its corpus (replayed by the tests) and every corpus its target
corpus_per_target() {
    diff <(ls tests/fuzz/fuzz_*.c | sed 's#.*/fuzz_##; s#\.c$##') \
        <(ls -d tests/fuzz/corpus-* | sed 's#.*/corpus-##')
}
check fuzz_corpus_per_target corpus_per_target
# `make torture`: the crash test at its full count
torture_full() { dry torture | grep -q 'KS_CRASH_KILLS=100 '; }
check torture_target torture_full

echo "RESULT passed=$passed failed=$failed"
