/*
 * postgres.c - the PostgreSQL driver of the store (sql.h), through libpq:
 * `--db postgresql://USER@HOST/DB` (any libpq URI or its parameters).
 *
 * The schema and statements are schema.c's, translated from SQLite's dialect
 * by ks_sql_to_pg (below): the same tables, with BIGINT for integers, BYTEA
 * for blobs, identity columns for ids (never reused: the journal's seq),
 * TEXT COLLATE "C" so that text sorts byte-wise as in SQLite. The few
 * statements that differ are in pg_override.
 *
 * Statements are prepared on the connection on first use; values go as text
 * (numbers, text) or binary (bytes), rows come back binary (no hex for
 * BYTEA). Each result is read whole, so a list callback may run another
 * statement; the large listings are paged (sqlops.c).
 *
 * Transactions: BEGIN is READ COMMITTED. A failed statement inside a
 * transaction fails the transaction: COMMIT then reports it instead of
 * PostgreSQL's silent ROLLBACK. Migrations run under a transaction-level
 * advisory lock; the writer lock of ingest and serve is a session advisory
 * lock (released by the server when the connection ends, as flock is by the
 * kernel when the process ends).
 *
 * A lost connection: the statement that met it fails ("store: WHAT: the
 * connection to PostgreSQL was lost: ..."); outside a transaction the next
 * statement reconnects first (and fails clearly if the server is still
 * away); inside one, everything until the rollback fails, since the server
 * has rolled it back already. Two cases are sent again at once on a new
 * connection, since nothing of them can have been done: a BEGIN, and a
 * read outside a transaction, that met a connection gone while idle (the
 * server restarted meanwhile); a write never is. A connection that held the writer lock takes
 * it again as it reconnects, before any statement of its caller: the lock
 * went with the old session, and another process may have taken it since
 * (another `kintsugi serve` took over). Then the connection is fenced: every
 * statement fails (KS_ESTATE, "...another process holds the writer lock
 * now..."), so that a process that lost its lock cannot write again.
 */
#include "sql.h"

#include <endian.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

/* Type oids of the columns this driver reads (pg_type.dat). */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
};

#define MAX_PARAMS 24

/* What PostgreSQL says differently from SQLite. */
static const char *const pg_override[ST_COUNT] = {
    [ST_HAS_MIGRATIONS] = "SELECT count(*) FROM pg_catalog.pg_tables "
                          "WHERE schemaname = current_schema() AND tablename = 'schema_migrations'",
    /* The identity sequences continue after the marks (setval's third
     * argument false: the next value is the one given). */
    [ST_TRIM_SEQ] = "SELECT setval(pg_get_serial_sequence('deadletters', 'id'), "
                    "greatest($1::bigint, 1), $1::bigint > 0), "
                    "setval(pg_get_serial_sequence('hooks', 'id'), "
                    "greatest($2::bigint, 1), $2::bigint > 0)",
    /* Two deliverers claiming at once take different rows: each skips the
     * rows the other's claim has locked instead of waiting for them. */
    [ST_CLAIM_HOOKS] = KS_SQL_CLAIM_HOOKS(" FOR UPDATE SKIP LOCKED"),
    [ST_CLAIM_PEOPLE] = KS_SQL_CLAIM_MESSAGES(KS_SQL_PEOPLE, " FOR UPDATE SKIP LOCKED"),
    [ST_CLAIM_CUSTOMERS] = KS_SQL_CLAIM_MESSAGES(KS_SQL_CUSTOMERS, " FOR UPDATE SKIP LOCKED"),
};

struct pg {
    PGconn *c;
    int in_tx;                  /* between our BEGIN and COMMIT/ROLLBACK */
    int writer;                 /* this connection took the writer lock */
    int fenced;                 /* ... and lost it to another process: no more statements */
    char prepared[ST_COUNT];    /* on this connection */
};

/* ---- the dialect ------------------------------------------------------------ */

static int is_word_start(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
}

static int is_word_char(char ch)
{
    return is_word_start(ch) || (ch >= '0' && ch <= '9');
}

static int word_is(const char *p, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(p, w, n) == 0;
}

/* The word at p after blanks: its start and length (0: none). */
static const char *next_word(const char *p, size_t *n)
{
    while (*p == ' ' || *p == '\n' || *p == '\t') {
        p++;
    }
    size_t k = 0;
    if (is_word_start(*p)) {
        while (is_word_char(p[k])) {
            k++;
        }
    }
    *n = k;
    return p;
}

/* If the words of seq (space-separated) follow p, returns the end of the
 * last one; else NULL. */
static const char *follows(const char *p, const char *seq)
{
    while (*seq) {
        const char *sp = strchr(seq, ' ');
        size_t len = sp ? (size_t)(sp - seq) : strlen(seq);
        size_t n;
        const char *w = next_word(p, &n);
        if (n != len || strncasecmp(w, seq, len) != 0) {
            return NULL;
        }
        p = w + n;
        seq += len + (sp ? 1 : 0);
    }
    return p;
}

void ks_sql_to_pg(const char *sql, int ddl, struct ks_buf *out)
{
    const char *p = sql;
    int prev_word = 0; /* the last token was a word (a column's name, in DDL) */
    ks_buf_puts(out, "");
    while (*p) {
        if (*p == '\'' || *p == '"') {
            /* Quoted text, doubled quotes included, copied as it is. */
            char q = *p;
            const char *e = p + 1;
            while (*e && !(*e == q && e[1] != q)) {
                e += *e == q ? 2 : 1;
            }
            e += *e ? 1 : 0;
            ks_buf_put(out, p, (size_t)(e - p));
            p = e;
            prev_word = 0;
            continue;
        }
        if (*p == '?' && p[1] >= '0' && p[1] <= '9') {
            ks_buf_puts(out, "$");
            p++;
            while (*p >= '0' && *p <= '9') {
                ks_buf_put(out, p++, 1);
            }
            prev_word = 0;
            continue;
        }
        if (!is_word_start(*p)) {
            if (*p != ' ' && *p != '\n' && *p != '\t') {
                prev_word = 0;
            }
            ks_buf_put(out, p++, 1);
            continue;
        }
        size_t n = 0;
        while (is_word_char(p[n])) {
            n++;
        }
        const char *end = p + n, *e;
        if (ddl && prev_word && word_is(p, n, "INTEGER")) {
            if ((e = follows(end, "PRIMARY KEY AUTOINCREMENT")) ||
                (e = follows(end, "PRIMARY KEY"))) {
                ks_buf_puts(out, "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
                end = e;
            } else {
                ks_buf_puts(out, "BIGINT");
            }
        } else if (ddl && prev_word && word_is(p, n, "REAL")) {
            ks_buf_puts(out, "DOUBLE PRECISION");
        } else if (ddl && prev_word && word_is(p, n, "BLOB")) {
            ks_buf_puts(out, "BYTEA");
        } else if (ddl && prev_word && word_is(p, n, "TEXT")) {
            ks_buf_puts(out, "TEXT COLLATE \"C\"");
        } else if (ddl && word_is(p, n, "WITHOUT") && (e = follows(end, "ROWID"))) {
            end = e;
        } else if (ddl && word_is(p, n, "offset")) {
            ks_buf_puts(out, "\"offset\"");
        } else {
            ks_buf_put(out, p, n);
        }
        p = end;
        prev_word = 1;
    }
}

/* ---- errors and the connection ------------------------------------------------ */

/* libpq's messages end with a newline; the store's do not. */
static void set_err(struct ks_err *err, const char *what, const char *prefix, const char *msg)
{
    size_t n = msg ? strlen(msg) : 0;
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) {
        n--;
    }
    ks_err_set(err, KS_EIO, "store: %s: %s%.*s", what, prefix, (int)n, msg ? msg : "");
}

/* The error of a failed result (or of the connection when res is NULL). */
static enum ks_rc result_err(struct pg *g, PGresult *res, struct ks_err *err, const char *what)
{
    if (PQstatus(g->c) != CONNECTION_OK) {
        set_err(err, what, "the connection to PostgreSQL was lost: ", PQerrorMessage(g->c));
        return KS_EIO;
    }
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    set_err(err, what, "", primary ? primary : PQerrorMessage(g->c));
    return KS_EIO;
}

/* Runs sql without parameters; rows come back as text. */
static PGresult *run(struct pg *g, const char *sql, struct ks_err *err, const char *what)
{
    PGresult *res = PQexec(g->c, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        result_err(g, res, err, what);
        PQclear(res);
        return NULL;
    }
    return res;
}

static enum ks_rc run_ok(struct pg *g, const char *sql, struct ks_err *err, const char *what)
{
    PGresult *res = run(g, sql, err, what);
    PQclear(res);
    return res ? KS_OK : KS_EIO;
}

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* NOTICEs ("relation already exists, skipping") are not for users */
}

static void pg_disconnect(void *conn)
{
    struct pg *g = conn;
    if (g) {
        PQfinish(g->c);
        ks_free(g);
    }
}

/* The server the connection went to, for messages (never the password). */
static void where(PGconn *c, char *out, size_t cap)
{
    const char *host = PQhost(c), *port = PQport(c), *dbn = PQdb(c);
    snprintf(out, cap, "database %s on %s%s%s", dbn && *dbn ? dbn : "?",
             host && *host ? host : "localhost", port && *port ? " port " : "",
             port && *port ? port : "");
}

/* The large values (checkpoint parts, SKU dictionary and feed blocks)
 * compressed with LZ4 instead of the default pglz: saving a 34 MB checkpoint
 * takes about half the server's time (docs/PERFORMANCE.md), reading it back
 * the same. A server built without LZ4 (or older than 14) refuses the
 * setting and keeps pglz: nothing else changes, values of either kind read
 * the same. */
static void prefer_lz4(struct pg *g)
{
    if (PQserverVersion(g->c) >= 140000) {
        PQclear(PQexec(g->c, "SET default_toast_compression = 'lz4'"));
    }
}

/* A URI libpq cannot take as written (an unknown parameter, a port that is
 * not a TCP port) is the user's to correct: KS_EUSAGE, before any
 * connection is tried. */
static enum ks_rc check_uri(const char *uri, struct ks_err *err)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(uri, &msg);
    if (!opts) {
        size_t n = msg ? strlen(msg) : 0;
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) {
            n--;
        }
        /* libpq quotes the token it could not take: never one of the user
         * and password part (user:PASSWORD@) or a password= parameter,
         * which is not shown */
        const char *at = strstr(uri, "://");
        const char *q = msg ? memchr(msg, '"', n) : NULL;
        if (at && q) {
            at += 3;
            const char *slash = strchr(at, '/');
            const char *amp = memchr(at, '@', slash ? (size_t)(slash - at) : strlen(at));
            size_t tok = (size_t)(msg + n - q);
            const char *pw = strstr(uri, "password=");
            if (tok > 2 && ((amp && memmem(at, (size_t)(amp - at), q + 1, tok - 2)) ||
                            (pw && !strncmp(pw + 9, q + 1, tok - 2)))) {
                n = (size_t)(q - msg);
                ks_err_set(err, KS_EUSAGE, "--db: not a PostgreSQL URI libpq takes: %.*s(in the "
                           "user or password, not shown)", (int)n, msg);
                PQfreemem(msg);
                return KS_EUSAGE;
            }
        }
        ks_err_set(err, KS_EUSAGE, "--db: not a PostgreSQL URI libpq takes: %.*s", (int)n,
                   msg ? msg : "out of memory");
        PQfreemem(msg);
        return KS_EUSAGE;
    }
    enum ks_rc rc = KS_OK;
    for (PQconninfoOption *o = opts; o->keyword && rc == KS_OK; o++) {
        if (strcmp(o->keyword, "port") != 0 || !o->val) {
            continue;
        }
        /* one port, or one per host: "5432,5433" */
        for (const char *p = o->val; *p && rc == KS_OK;) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p || (*end && *end != ',') || v < 1 || v > 65535) {
                rc = ks_err_set(err, KS_EUSAGE, "--db: port '%s' is not a TCP port (1 to 65535)",
                                o->val);
            }
            p = *end == ',' ? end + 1 : end;
        }
    }
    PQconninfoFree(opts);
    return rc;
}

static enum ks_rc pg_connect(void **conn, const char *uri, struct ks_err *err)
{
    enum ks_rc urc = check_uri(uri, err);
    if (urc != KS_OK) {
        return urc;
    }
    /* The URI comes last, so what it says wins over these defaults. */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"10", "kintsugi", uri, NULL};
    struct pg *g = ks_calloc(1, sizeof(*g));
    g->c = PQconnectdbParams(keys, vals, 1);
    if (!g->c) {
        ks_free(g);
        return ks_err_set(err, KS_ENOMEM, "store: PostgreSQL: out of memory");
    }
    if (PQstatus(g->c) != CONNECTION_OK) {
        char w[300];
        where(g->c, w, sizeof(w));
        char what[400];
        snprintf(what, sizeof(what), "connect to PostgreSQL (%s)", w);
        set_err(err, what, "", PQerrorMessage(g->c));
        pg_disconnect(g);
        return KS_EIO;
    }
    PQsetNoticeProcessor(g->c, quiet, NULL);
    if (PQserverVersion(g->c) < 100000) {
        ks_err_set(err, KS_EIO, "store: PostgreSQL %d.%d is too old (10 or newer is needed)",
                   PQserverVersion(g->c) / 10000, PQserverVersion(g->c) / 100 % 100);
        pg_disconnect(g);
        return KS_EIO;
    }
    /* Text as UTF-8 and times as kintsugi writes them (RFC 3339 text): the
     * session's settings cannot change what is stored. */
    enum ks_rc rc = run_ok(g, "SET client_encoding = 'UTF8'", err, "set up the session");
    if (rc != KS_OK) {
        pg_disconnect(g);
        return rc;
    }
    prefer_lz4(g);
    *conn = g;
    return KS_OK;
}

static enum ks_rc try_writer_lock(struct pg *g, int *got, int *lost, struct ks_err *err,
                                  const char *what);

static enum ks_rc reconnect(struct pg *g, struct ks_err *err, const char *what);

/* Whether a failed statement met a lost connection (the server restarted or
 * ended the session) rather than an error of its own: the connection is
 * down, or the error is libpq's (no SQLSTATE), a connection exception (08)
 * or the server going away (57P: shutdown, terminated). */
static int conn_lost(struct pg *g, PGresult *res)
{
    if (PQstatus(g->c) != CONNECTION_OK) {
        return 1;
    }
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return !st || strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0;
}

static enum ks_rc fenced_err(struct ks_err *err, const char *what)
{
    return ks_err_set(err, KS_ESTATE,
                      "store: %s: the writer lock went with the lost connection to PostgreSQL "
                      "and another process holds it now (another kintsugi took over as the "
                      "writer): this process writes no more",
                      what);
}

/* Before a statement: a connection found broken outside a transaction is
 * opened again (statements are prepared again as they are used), and the
 * writer lock it held taken again first. */
static enum ks_rc alive(struct pg *g, struct ks_err *err, const char *what)
{
    if (g->fenced) {
        return fenced_err(err, what);
    }
    if (PQstatus(g->c) == CONNECTION_OK) {
        return KS_OK;
    }
    if (g->in_tx) {
        ks_err_set(err, KS_EIO,
                   "store: %s: the connection to PostgreSQL was lost during a transaction "
                   "(the server rolled it back)",
                   what);
        return KS_EIO;
    }
    return reconnect(g, err, what);
}

/* Opens the connection again (outside a transaction), and takes the writer
 * lock again first when it held it. */
static enum ks_rc reconnect(struct pg *g, struct ks_err *err, const char *what)
{
    PQreset(g->c);
    memset(g->prepared, 0, sizeof(g->prepared));
    if (PQstatus(g->c) != CONNECTION_OK) {
        char w[300];
        where(g->c, w, sizeof(w));
        char m[400];
        snprintf(m, sizeof(m), "cannot reach PostgreSQL (%s): ", w);
        set_err(err, what, m, PQerrorMessage(g->c));
        return KS_EIO;
    }
    PQsetNoticeProcessor(g->c, quiet, NULL);
    enum ks_rc rc = run_ok(g, "SET client_encoding = 'UTF8'", err, what);
    if (rc == KS_OK) {
        prefer_lz4(g);
    }
    if (rc != KS_OK || !g->writer) {
        if (rc == KS_OK) {
            ks_log(KS_LOG_WARN, "store", "reconnected to PostgreSQL");
        }
        return rc;
    }
    int got = 0;
    if ((rc = try_writer_lock(g, &got, NULL, err, what)) != KS_OK) {
        return rc;
    }
    if (!got) {
        g->fenced = 1;
        ks_log(KS_LOG_ERROR, "store",
               "reconnected to PostgreSQL, but another process holds the writer lock now");
        return fenced_err(err, what);
    }
    ks_log(KS_LOG_WARN, "store", "reconnected to PostgreSQL and took the writer lock again");
    return KS_OK;
}

static enum ks_rc pg_script(void *conn, const char *sql, struct ks_err *err, const char *what)
{
    struct pg *g = conn;
    struct ks_buf b = {0};
    ks_sql_to_pg(sql, 1, &b);
    enum ks_rc rc = alive(g, err, what);
    if (rc == KS_OK) {
        rc = run_ok(g, b.p, err, what);
    }
    ks_buf_fini(&b);
    return rc;
}

/* ---- statements ------------------------------------------------------------------- */

/* A statement that only reads (SELECT): safe to send again. */
static int is_read(enum ks_st id)
{
    const char *p = pg_override[id] ? pg_override[id] : ks_sql_statements[id];
    while (*p == ' ' || *p == '\n' || *p == '\t') {
        p++;
    }
    return strncasecmp(p, "SELECT", 6) == 0 && id != ST_TRIM_SEQ;
}

/* *lost (when given): it failed on a lost connection. */
static enum ks_rc prepare(struct pg *g, enum ks_st id, int *lost, struct ks_err *err,
                          const char *what)
{
    char name[16];
    snprintf(name, sizeof(name), "ks%d", (int)id);
    struct ks_buf b = {0};
    /* An override may be written with ?N too (KS_SQL_CLAIM). */
    ks_sql_to_pg(pg_override[id] ? pg_override[id] : ks_sql_statements[id], 0, &b);
    PGresult *res = PQprepare(g->c, name, b.p, 0, NULL);
    ks_buf_fini(&b);
    enum ks_rc rc = KS_OK;
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        if (lost) {
            *lost = conn_lost(g, res);
        }
        rc = result_err(g, res, err, what);
    } else {
        g->prepared[id] = 1;
    }
    PQclear(res);
    return rc;
}

static enum ks_rc pg_query(void *conn, enum ks_st id, const struct ks_sqlv *v, int n,
                           struct ks_sqlcur *c, struct ks_err *err, const char *what)
{
    struct pg *g = conn;
    *c = (struct ks_sqlcur){&ks_sqldrv_pg, g, NULL, -1, 0, 0};
    KS_ASSERT(n <= MAX_PARAMS);
    enum ks_rc rc = alive(g, err, what);
    int lost = 0;
    if (rc == KS_OK && !g->prepared[id]) {
        rc = prepare(g, id, &lost, err, what);
        if (rc != KS_OK && lost && !g->in_tx) {
            /* gone while idle: preparing did nothing, so on a new connection */
            if ((rc = reconnect(g, err, what)) == KS_OK) {
                rc = prepare(g, id, NULL, err, what);
            }
        }
    }
    if (rc != KS_OK) {
        return rc;
    }
    const char *vals[MAX_PARAMS];
    int lens[MAX_PARAMS], fmts[MAX_PARAMS];
    char num[MAX_PARAMS][32];
    for (int i = 0; i < n; i++) {
        lens[i] = 0;
        fmts[i] = 0;
        switch (v[i].t) {
        case KS_SQL_INT:
            snprintf(num[i], sizeof(num[i]), "%lld", (long long)v[i].i);
            vals[i] = num[i];
            break;
        case KS_SQL_REAL:
            snprintf(num[i], sizeof(num[i]), "%.17g", v[i].d);
            vals[i] = num[i];
            break;
        case KS_SQL_TEXT:
            vals[i] = v[i].p;
            break;
        case KS_SQL_BYTES:
            if (v[i].n > INT32_MAX) {
                return ks_err_set(err, KS_EIO, "store: %s: %zu bytes are more than one value "
                                               "can hold in PostgreSQL (1 GB)",
                                  what, v[i].n);
            }
            vals[i] = v[i].p;
            lens[i] = (int)v[i].n;
            fmts[i] = 1;
            break;
        case KS_SQL_NULL:
            vals[i] = NULL;
            break;
        }
    }
    char name[16];
    snprintf(name, sizeof(name), "ks%d", (int)id);
    PGresult *res = PQexecPrepared(g->c, name, n, vals, lens, fmts, 1);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !g->in_tx && is_read(id) &&
        conn_lost(g, res)) {
        /* A read on a connection that went while idle: once more on a new
         * one (a write is not sent twice: it may have been done). */
        PQclear(res);
        res = NULL;
        if ((rc = reconnect(g, err, what)) != KS_OK ||
            (rc = prepare(g, id, NULL, err, what)) != KS_OK) {
            return rc;
        }
        res = PQexecPrepared(g->c, name, n, vals, lens, fmts, 1);
        st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    }
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        rc = result_err(g, res, err, what);
        PQclear(res);
        return rc;
    }
    c->h = res;
    c->nrows = PQntuples(res);
    const char *tuples = PQcmdTuples(res);
    c->changes = tuples && *tuples ? strtoll(tuples, NULL, 10) : 0;
    return KS_OK;
}

static int pg_next(struct ks_sqlcur *c, struct ks_err *err, const char *what)
{
    (void)err;
    (void)what;
    if (c->row + 1 >= c->nrows) {
        c->row = c->nrows;
        return 0;
    }
    c->row++;
    return 1;
}

static void pg_done(struct ks_sqlcur *c)
{
    PQclear(c->h);
    c->h = NULL;
}

static int pg_is_null(struct ks_sqlcur *c, int col)
{
    return PQgetisnull(c->h, c->row, col);
}

static int64_t pg_col_int(struct ks_sqlcur *c, int col)
{
    if (PQgetisnull(c->h, c->row, col)) {
        return 0;
    }
    const char *p = PQgetvalue(c->h, c->row, col);
    int len = PQgetlength(c->h, c->row, col);
    switch (PQftype(c->h, col)) {
    case OID_INT8:
        if (len == 8) {
            uint64_t u;
            memcpy(&u, p, 8);
            return (int64_t)be64toh(u);
        }
        break;
    case OID_INT4:
        if (len == 4) {
            uint32_t u;
            memcpy(&u, p, 4);
            return (int32_t)be32toh(u);
        }
        break;
    case OID_INT2:
        if (len == 2) {
            uint16_t u;
            memcpy(&u, p, 2);
            return (int16_t)be16toh(u);
        }
        break;
    case OID_BOOL:
        return len == 1 && p[0];
    default:
        return strtoll(p, NULL, 10);
    }
    return 0;
}

static double pg_col_real(struct ks_sqlcur *c, int col)
{
    if (PQgetisnull(c->h, c->row, col)) {
        return 0;
    }
    const char *p = PQgetvalue(c->h, c->row, col);
    int len = PQgetlength(c->h, c->row, col);
    if (PQftype(c->h, col) == OID_FLOAT8 && len == 8) {
        uint64_t u;
        double d;
        memcpy(&u, p, 8);
        u = be64toh(u);
        memcpy(&d, &u, 8);
        return d;
    }
    if (PQftype(c->h, col) == OID_FLOAT4 && len == 4) {
        uint32_t u;
        float f;
        memcpy(&u, p, 4);
        u = be32toh(u);
        memcpy(&f, &u, 4);
        return f;
    }
    return (double)pg_col_int(c, col);
}

/* Binary text is the text's bytes; libpq ends every value with a NUL. */
static const char *pg_col_text(struct ks_sqlcur *c, int col, size_t *n)
{
    if (PQgetisnull(c->h, c->row, col)) {
        *n = 0;
        return NULL;
    }
    *n = (size_t)PQgetlength(c->h, c->row, col);
    return PQgetvalue(c->h, c->row, col);
}

static const void *pg_col_bytes(struct ks_sqlcur *c, int col, size_t *n)
{
    const char *p = pg_col_text(c, col, n);
    return p ? p : "";
}

/* ---- transactions and locks -------------------------------------------------------- */

/* SQLite's words for the same mistakes, so that callers and tests see one
 * behaviour (PostgreSQL itself only warns). */
static enum ks_rc pg_begin(void *conn, struct ks_err *err)
{
    struct pg *g = conn;
    const char *what = "begin transaction";
    if (g->in_tx) {
        return ks_err_set(err, KS_EIO,
                          "store: %s: cannot start a transaction within a transaction", what);
    }
    enum ks_rc rc = alive(g, err, what);
    if (rc == KS_OK) {
        PGresult *res = PQexec(g->c, "BEGIN");
        if (PQresultStatus(res) != PGRES_COMMAND_OK && conn_lost(g, res)) {
            /* A connection that went while idle (the server restarted):
             * nothing ran on it yet, so the transaction starts on a new one
             * (the writer lock taken again first: reconnect). */
            PQclear(res);
            rc = reconnect(g, err, what);
            res = rc == KS_OK ? PQexec(g->c, "BEGIN") : NULL;
        }
        if (rc == KS_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
            rc = result_err(g, res, err, what);
        }
        PQclear(res);
    }
    g->in_tx = rc == KS_OK;
    return rc;
}

static enum ks_rc pg_commit(void *conn, struct ks_err *err)
{
    struct pg *g = conn;
    if (!g->in_tx) {
        return ks_err_set(err, KS_EIO, "store: commit: cannot commit - no transaction is active");
    }
    PGTransactionStatusType ts = PQtransactionStatus(g->c);
    if (ts == PQTRANS_INERROR || ts == PQTRANS_UNKNOWN) {
        /* A statement failed in this transaction: PostgreSQL would answer
         * COMMIT with a silent ROLLBACK. Say so instead. */
        if (ts == PQTRANS_INERROR) {
            run_ok(g, "ROLLBACK", NULL, "rollback");
        }
        g->in_tx = 0;
        return ks_err_set(err, KS_EIO,
                          ts == PQTRANS_UNKNOWN
                              ? "store: commit: the connection to PostgreSQL was lost; the "
                                "transaction was not committed"
                              : "store: commit: a statement of this transaction failed; it was "
                                "rolled back");
    }
    enum ks_rc rc = run_ok(g, "COMMIT", err, "commit");
    g->in_tx = 0;
    return rc;
}

static enum ks_rc pg_rollback(void *conn, struct ks_err *err)
{
    struct pg *g = conn;
    if (!g->in_tx) {
        return KS_OK;
    }
    g->in_tx = 0;
    if (PQstatus(g->c) != CONNECTION_OK) {
        return KS_OK; /* the server rolled it back when the connection went */
    }
    return run_ok(g, "ROLLBACK", err, "rollback");
}

/* Two processes opening a new database at once: the second waits for the
 * first's migrations, then finds nothing left to do. */
static enum ks_rc pg_begin_migration(void *conn, struct ks_err *err)
{
    struct pg *g = conn;
    enum ks_rc rc = pg_begin(g, err);
    if (rc == KS_OK) {
        rc = run_ok(g, "SELECT pg_advisory_xact_lock(hashtext('kintsugi schema'))", err,
                    "lock the schema for migration");
        if (rc != KS_OK) {
            pg_rollback(g, NULL);
        }
    }
    return rc;
}

static enum ks_rc pg_ready(void *conn, struct ks_err *err)
{
    (void)conn;
    (void)err;
    return KS_OK;
}

/* One writer per schema: a session-level advisory lock, keyed by the schema
 * the tables are in, so that two kintsugi set-ups in one database do not
 * exclude each other. */
/* *lost (when given): it failed on a lost connection. */
static enum ks_rc try_writer_lock(struct pg *g, int *got, int *lost, struct ks_err *err,
                                  const char *what)
{
    *got = 0;
    PGresult *res = PQexec(g->c, "SELECT pg_try_advisory_lock(hashtext('kintsugi writer ' || "
                                 "coalesce(current_schema(), '')))");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (lost) {
            *lost = conn_lost(g, res);
        }
        enum ks_rc rc = result_err(g, res, err, what);
        PQclear(res);
        return rc;
    }
    *got = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return KS_OK;
}

/* Taken again by a connection that holds it already, it is held once more
 * (PostgreSQL counts): harmless, the session's end releases them all; so a
 * server checks with it that its session still holds the lock. A connection
 * that reconnects takes it again itself (alive): KS_ESTATE when another
 * process holds it now. */
static enum ks_rc pg_lock_writer(void *conn, int *got, struct ks_err *err)
{
    struct pg *g = conn;
    const char *what = "take the writer lock";
    *got = 0;
    enum ks_rc rc = alive(g, err, what);
    int lost = 0;
    if (rc == KS_OK) {
        rc = try_writer_lock(g, got, &lost, err, what);
    }
    if (rc != KS_OK && lost && !g->in_tx) {
        /* a connection gone while idle: the lock went with it; on a new one
         * (which takes it again itself if it held it: reconnect) */
        if ((rc = reconnect(g, err, what)) == KS_OK) {
            rc = try_writer_lock(g, got, NULL, err, what);
        }
    }
    if (rc == KS_OK && *got) {
        g->writer = 1;
    }
    return rc;
}

const struct ks_sqldrv ks_sqldrv_pg = {
    .name = "postgres",
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .script = pg_script,
    .query = pg_query,
    .next = pg_next,
    .is_null = pg_is_null,
    .col_int = pg_col_int,
    .col_real = pg_col_real,
    .col_text = pg_col_text,
    .col_bytes = pg_col_bytes,
    .done = pg_done,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .begin_migration = pg_begin_migration,
    .ready = pg_ready,
    .release = NULL,
    .lock_writer = pg_lock_writer,
};
