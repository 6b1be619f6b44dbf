#!/usr/bin/env bash
# crash.sh on PostgreSQL: the same kill -9s of `kintsugi serve` under load
# (KS_CRASH_KILLS: 5 here, 100 under `make torture`), the store a fresh
# schema of the server scripts/run-tests.sh started (KS_TEST_PG_URI), or of
# one this script starts and stops itself (scripts/pg-test.sh). crash.sh
# checks it all (every acknowledged event accounted for, the store as
# `kintsugi ingest` into SQLite makes it, no row doubled, every delivery made)
# and prints "RESULT passed=N failed=M".
set -u
OWN_PG=
if [ -z "${KS_TEST_PG_URI:-}" ]; then
    OWN_PG=$(mktemp -d "${TMPDIR:-/tmp}/ks-pg-XXXXXX")
    if ! KS_TEST_PG_URI=$(bash scripts/pg-test.sh start "$OWN_PG"); then
        bash scripts/pg-test.sh stop "$OWN_PG"
        echo "FAIL no PostgreSQL server"
        echo "RESULT passed=0 failed=1"
        exit 1
    fi
fi
SCHEMA=crash_$$
trap 'psql "$KS_TEST_PG_URI" -qAtX -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1
      [ -n "$OWN_PG" ] && bash scripts/pg-test.sh stop "$OWN_PG"' EXIT
if ! psql "$KS_TEST_PG_URI" -qAtX -v ON_ERROR_STOP=1 -c "CREATE SCHEMA $SCHEMA" >/dev/null; then
    echo "FAIL cannot create schema $SCHEMA"
    echo "RESULT passed=0 failed=1"
    exit 1
fi
KS_TEST_DB="$KS_TEST_PG_URI&options=-csearch_path%3D$SCHEMA" bash "$(dirname "$0")/crash.sh"
