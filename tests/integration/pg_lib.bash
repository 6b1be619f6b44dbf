# pg_lib.bash - the PostgreSQL server of the integration tests (sourced, not
# run; needs nothing else sourced): scripts/pg-test.sh's throwaway servers.
# pg_start DIR          a server of its own in DIR (PG_FSYNC, PG_SYNC_COMMIT as
#                       pg-test.sh reads them); sets PG_URI. When it does not
#                       start: DIR removed, "FAIL no PostgreSQL server" and
#                       "RESULT passed=0 failed=1", exit 1
# pg_server             PG: the run's server (KS_TEST_PG_URI, scripts/run-tests.sh)
#                       or else one of pg_start in OWN_PG (stopped by pg_stop_own;
#                       serve_lib.bash's cleanup does it)
# pg_sql ARGS...        psql on PG, quiet, unaligned, stopping at the first error
# pg_schema NAME        creates the empty schema NAME on PG; prints a URI on it
# pg_stop_own           stops OWN_PG's server, when there is one
OWN_PG=""

pg_start() {
    PG_URI=""
    if ! PG_URI=$(bash scripts/pg-test.sh start "$1"); then
        bash scripts/pg-test.sh stop "$1"
        echo "FAIL no PostgreSQL server"
        echo "RESULT passed=0 failed=1"
        exit 1
    fi
}
pg_server() {
    if [ -n "${KS_TEST_PG_URI:-}" ]; then
        PG=$KS_TEST_PG_URI
        return 0
    fi
    OWN_PG=$(mktemp -d "${TMPDIR:-/tmp}/ks-pg-XXXXXX")
    pg_start "$OWN_PG"
    PG=$PG_URI
}
pg_sql() { psql "$PG" -qAtX -v ON_ERROR_STOP=1 "$@"; }
pg_schema() {
    pg_sql -c "CREATE SCHEMA $1" >/dev/null || return 1
    echo "$PG&options=-csearch_path%3D$1"
}
pg_stop_own() {
    [ -z "$OWN_PG" ] || bash scripts/pg-test.sh stop "$OWN_PG"
}
