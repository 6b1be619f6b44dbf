#!/usr/bin/env bash
# The Makefile's own targets, checked without running them (make -n).
# Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"

# libFuzzer writes into its first corpus directory and stops when it is
# missing, as it is in a fresh clone: `make fuzz` must make it first.
check fuzz_makes_its_corpus_directory bash -c "make --no-print-directory -n fuzz FUZZ_SECONDS=1 | grep -n -e 'mkdir -p build/fuzz/corpus' -e 'fuzz_decode -max_total_time' | head -1 | grep -q mkdir"

echo "RESULT passed=$passed failed=$failed"
