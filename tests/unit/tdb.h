/*
 * tdb.h - the database a store test runs on. RUN_BOTH(test) runs the test
 * once on SQLite (a file in a fresh mkdtemp directory) and once on
 * PostgreSQL (a fresh schema on the server whose URI is in KS_TEST_PG_URI,
 * started for the run by scripts/run-tests.sh through scripts/pg-test.sh).
 * A test calls tdb_setup() for a new empty database, named by tdb_uri, and
 * tdb_teardown() at its end; tdb_int() and tdb_exec() look behind the store
 * with the backend's own client.
 *
 * Without KS_TEST_PG_URI the PostgreSQL half is skipped, saying so once
 * (scripts/run-tests.sh always sets it and fails when no server starts).
 */
#ifndef KS_TDB_H
#define KS_TDB_H

#include "../../src/store/store.h"
#include "t.h"

#include <dirent.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

static int tdb_pg;          /* the backend of the running test: 1 PostgreSQL */
static char tdb_dir[256];   /* SQLite: the test's directory */
static char tdb_uri[1024];  /* the fresh database */
static char tdb_schema[64]; /* PostgreSQL: the test's schema */
static int tdb_count;

static inline const char *tdb_pg_base(void)
{
    const char *u = getenv("KS_TEST_PG_URI");
    return u && *u ? u : NULL;
}

static inline void tdb_quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* A connection to the test server with search_path on the test's schema. */
static inline PGconn *tdb_pg_connect(void)
{
    PGconn *c = PQconnectdb(tdb_pg_base());
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "tdb: cannot connect to %s: %s", tdb_pg_base(), PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, tdb_quiet, NULL);
    return c;
}

static inline int tdb_pg_run(const char *sql, long long *out)
{
    PGconn *c = tdb_pg_connect();
    if (!c) {
        return -1;
    }
    char set[128];
    snprintf(set, sizeof(set), "SET search_path TO %s", tdb_schema);
    PQclear(PQexec(c, set));
    PGresult *r = PQexec(c, sql);
    int st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) {
        fprintf(stderr, "tdb: %s: %s", sql, PQerrorMessage(c));
    }
    if (out) {
        *out = ok && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? atoll(PQgetvalue(r, 0, 0)) : -1;
    }
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

/* A new empty database for one test: tdb_uri names it. */
static inline void tdb_setup(void)
{
    tdb_count++;
    if (tdb_pg) {
        snprintf(tdb_schema, sizeof(tdb_schema), "t_%ld_%d", (long)getpid(), tdb_count);
        PGconn *c = tdb_pg_connect();
        if (!c) {
            exit(2);
        }
        char sql[128];
        snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", tdb_schema);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "tdb: %s: %s", sql, PQerrorMessage(c));
            exit(2);
        }
        PQclear(r);
        PQfinish(c);
        const char *base = tdb_pg_base();
        snprintf(tdb_uri, sizeof(tdb_uri), "%s%coptions=-csearch_path%%3D%s", base,
                 strchr(base, '?') ? '&' : '?', tdb_schema);
        return;
    }
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(tdb_dir, sizeof(tdb_dir), "%s/ks-tdb-", tmp && *tmp ? tmp : "/tmp");
    if (n < 0 || (size_t)n + 7 > sizeof(tdb_dir)) {
        fprintf(stderr, "TMPDIR too long\n");
        exit(2);
    }
    memset(tdb_dir + n, 'X', 6);
    tdb_dir[n + 6] = 0;
    if (!mkdtemp(tdb_dir)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(tdb_uri, sizeof(tdb_uri), "%s/kintsugi.db", tdb_dir);
}

static inline void tdb_teardown(void)
{
    if (tdb_pg) {
        char sql[128];
        snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", tdb_schema);
        tdb_pg_run(sql, NULL);
        return;
    }
    DIR *d = opendir(tdb_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                char p[512];
                snprintf(p, sizeof(p), "%s/%s", tdb_dir, e->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(tdb_dir);
}

/* One number from a query straight through the backend (-1: none or error). */
static inline long long tdb_int(const char *sql)
{
    long long v = -1;
    if (tdb_pg) {
        tdb_pg_run(sql, &v);
        return v;
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open(tdb_uri, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Runs statements straight through the backend: 0 when they all ran. */
static inline int tdb_exec(const char *sql)
{
    if (tdb_pg) {
        return tdb_pg_run(sql, NULL);
    }
    sqlite3 *db = NULL;
    int rc = sqlite3_open(tdb_uri, &db);
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

static inline void tdb_run(void (*fn)(void), const char *name, int pg)
{
    static int said;
    char label[160];
    if (pg && !tdb_pg_base()) {
        if (!said) {
            printf("SKIP the PostgreSQL half: KS_TEST_PG_URI is not set "
                   "(scripts/run-tests.sh starts a server and sets it)\n");
            said = 1;
        }
        return;
    }
    tdb_pg = pg;
    snprintf(label, sizeof(label), "%s [%s]", name, pg ? "postgres" : "sqlite");
    int before = t_failed_checks;
    t_current = label;
    fn();
    if (t_failed_checks == before) {
        t_passed++;
    } else {
        t_failed++;
    }
    t_current = NULL;
    tdb_pg = 0;
}

/* Opens the store at uri; a failure is a failed check, saying why. */
static inline struct ks_store *tdb_open(const char *uri)
{
    struct ks_store *s = NULL;
    struct ks_err err = {0};
    if (ks_store_open(&s, uri, &err) != KS_OK) {
        fprintf(stderr, "FAIL %s: open %s: %s\n", t_current, uri, err.msg);
        t_failed_checks++;
    }
    return s;
}

/* An RFC 3339 instant (KS_TIME_NONE when it is not one). */
static inline ks_time tdb_time(const char *s)
{
    ks_time t = KS_TIME_NONE;
    ks_time_parse(s, strlen(s), &t, NULL);
    return t;
}

/* Runs a test on SQLite, then on PostgreSQL. */
#define RUN_BOTH(fn)                                                                               \
    do {                                                                                           \
        tdb_run(fn, #fn, 0);                                                                       \
        tdb_run(fn, #fn, 1);                                                                       \
    } while (0)
/* Runs a test on PostgreSQL only (what only a server can do). */
#define RUN_PG(fn) tdb_run(fn, #fn, 1)

#endif
