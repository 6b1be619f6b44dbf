#!/usr/bin/env bash
# crash.sh on PostgreSQL: the same kill -9s of `kintsugi serve` under load
# (KS_CRASH_KILLS: 5 here, 100 under `make torture`), the store a fresh
# schema of the server scripts/run-tests.sh started (KS_TEST_PG_URI), or of
# one this script starts and stops itself (scripts/pg-test.sh). crash.sh
# checks it all (every acknowledged event accounted for, the store as
# `kintsugi ingest` into SQLite makes it, no row doubled, every delivery made)
# and prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/pg_lib.bash"
pg_server
SCHEMA=crash_$$
trap 'pg_sql -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1; pg_stop_own' EXIT
if ! URI=$(pg_schema "$SCHEMA"); then
    echo "FAIL cannot create schema $SCHEMA"
    echo "RESULT passed=0 failed=1"
    exit 1
fi
KS_TEST_DB=$URI bash "$(dirname "$0")/crash.sh"
