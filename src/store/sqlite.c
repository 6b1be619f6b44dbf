/*
 * sqlite.c - the SQLite driver of the store (sql.h): one file, WAL, no set-up.
 *
 * The connection runs in WAL mode with synchronous=NORMAL (a commit survives a
 * crash of the process; a power cut may lose the last commits, never corrupt
 * the file), a 5 s busy timeout and foreign keys on. A new database gets
 * 64 KiB pages. Migrations run in a BEGIN IMMEDIATE transaction.
 *
 * Every statement is prepared on its first use and kept (reset, bindings
 * cleared, after each use), because ingest writes many rows per transaction.
 * A database this process may not write (only_readable) is opened
 * read-only, for the reading commands; its writes fail with a clear message.
 *
 * A store is used by one thread at a time (the connection is opened without
 * its own mutex); another thread or process opens its own store, and WAL
 * lets its readers run beside one writer.
 *
 * Every failure is KS_EIO with what was being done and SQLite's message:
 * "store: insert dead letter: database is locked".
 */
#include "sql.h"

#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

struct sq {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT]; /* prepared on first use, idle between uses */
    int readonly;               /* opened for reading only (only_readable) */
};

/* The message of every write to a database opened for reading only. */
#define READONLY_MSG                                                                               \
    "the database is read-only to this user (file or folder not writable): kintsugi reads it "   \
    "but cannot change it"

/*
 * Whether path is an existing database that this process may read but not
 * write: the file, or the folder that must hold its write-ahead log, is not
 * writable (another user's database, a read-only mount, a copy kept for an
 * investigation). Such a database is opened read-only: every reading
 * command works, SQLite reading the log beside it when there is one, and a
 * write fails with READONLY_MSG.
 */
static int only_readable(const char *path)
{
    if (!strcmp(path, ":memory:") || !strncmp(path, "file:", 5) || access(path, F_OK) != 0) {
        return 0;
    }
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n >= sizeof(dir)) {
        return 0;
    }
    memcpy(dir, path, n);
    dir[n] = 0;
    return access(path, W_OK) != 0 || access(slash ? (n ? dir : "/") : ".", W_OK) != 0;
}

/* Fills err with KS_EIO, "store: <what>: <sqlite message>". rc is the
 * failing SQLite code, used when the connection has no message of its own. */
static enum ks_rc fail(sqlite3 *db, int rc, struct ks_err *err, const char *what)
{
    const char *msg = db && sqlite3_errcode(db) != SQLITE_OK ? sqlite3_errmsg(db)
                                                             : sqlite3_errstr(rc);
    ks_err_set(err, KS_EIO, "store: %s: %s", what, msg);
    return KS_EIO;
}

static enum ks_rc exec(sqlite3 *db, const char *sql, struct ks_err *err, const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        ks_err_set(err, KS_EIO, "store: %s: %s", what, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return KS_EIO;
    }
    return KS_OK;
}

static void sq_disconnect(void *conn)
{
    struct sq *q = conn;
    if (!q) {
        return;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(q->st[i]);
    }
    sqlite3_close_v2(q->db);
    ks_free(q);
}

/*
 * A read-only database in WAL mode with no log beside it: SQLite could only
 * read it by creating the log and its index, which it may not. Nothing is
 * then waiting in a log, and no writer is at work (a writer keeps its log
 * open), so the file is read as it stands, through SQLite's immutable mode.
 * Writes uri (file:PATH?immutable=1, PATH percent-encoded) and returns 1 in
 * that case; 0 when a log is there (SQLite reads it, with a read-only index).
 */
static int readonly_uri(const char *path, char *uri, size_t cap)
{
    char wal[4100];
    if ((size_t)snprintf(wal, sizeof(wal), "%s-wal", path) >= sizeof(wal) ||
        access(wal, F_OK) == 0) {
        return 0;
    }
    size_t n = (size_t)snprintf(uri, cap, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (n + 4 >= cap) {
            return 0;
        }
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/-._~", *p)) {
            uri[n++] = (char)*p;
        } else {
            n += (size_t)snprintf(uri + n, cap - n, "%%%02X", *p);
        }
    }
    return (size_t)snprintf(uri + n, cap - n, "?immutable=1") < cap - n;
}

static enum ks_rc sq_connect(void **conn, const char *path, struct ks_err *err)
{
    struct sq *q = ks_calloc(1, sizeof(*q));
    char what[300];
    snprintf(what, sizeof(what), "open %s", path);
    q->readonly = only_readable(path);
    char uri[4200];
    int rc = q->readonly && readonly_uri(path, uri, sizeof(uri))
                 ? sqlite3_open_v2(uri, &q->db,
                                   SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL)
                 : sqlite3_open_v2(path, &q->db,
                                   (q->readonly ? SQLITE_OPEN_READONLY
                                                : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                                       SQLITE_OPEN_NOMUTEX,
                                   NULL);
    if (rc != SQLITE_OK) {
        fail(q->db, rc, err, what);
        sq_disconnect(q);
        return KS_EIO;
    }
    /* The busy timeout comes first: switching to WAL needs a lock that
     * another connection may briefly hold. */
    sqlite3_busy_timeout(q->db, 5000);
    if (q->readonly) {
        *conn = q; /* its format and log mode are those it was written with */
        return KS_OK;
    }
    /* 64 KiB pages for a new database (an existing one keeps its own): the
     * checkpoint's parts and the feed's blocks are large values, written in
     * a sixteenth of the pages, and so of the log frames, of 4 KiB pages. */
    enum ks_rc krc = exec(q->db, "PRAGMA page_size=65536", err, what);
    sqlite3_stmt *st = NULL;
    if (krc == KS_OK) {
        rc = sqlite3_prepare_v2(q->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(st);
        }
        if (rc == SQLITE_ROW) {
            const char *mode = (const char *)sqlite3_column_text(st, 0);
            /* An in-memory database reports "memory"; anything else but
             * "wal" means the file system cannot do WAL (no shared memory). */
            if (mode && strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0) {
                ks_log(KS_LOG_WARN, "store",
                       "%s: journal mode is %s, not WAL: readers will wait for writers", path,
                       mode);
            }
        } else {
            krc = fail(q->db, rc, err, what);
        }
        sqlite3_finalize(st);
    }
    if (krc == KS_OK) {
        /* The log shrinks back to 64 MiB after a large transaction (a
         * checkpoint of a big state) instead of keeping its peak size. */
        krc = exec(q->db,
                   "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                   "PRAGMA journal_size_limit=67108864",
                   err, what);
    }
    if (krc != KS_OK) {
        sq_disconnect(q);
        return krc;
    }
    *conn = q;
    return KS_OK;
}

/* The log is copied into the database every 4 MiB of commits (not SQLite's
 * 1000 pages, 64 MiB at 64 KiB pages): what a failed write on a full disk
 * leaves to copy is then small, and the log can be released (sq_release).
 * Off (on = 0), commits never copy it: a server's thread does (copy_log). */
static enum ks_rc sq_log_autocopy(void *conn, int on, struct ks_err *err)
{
    struct sq *q = conn;
    if (!on) {
        sqlite3_wal_autocheckpoint(q->db, 0);
        return KS_OK;
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db, "PRAGMA page_size", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return fail(q->db, rc, err, "read page size");
    }
    int64_t page = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_wal_autocheckpoint(q->db, page > 0 ? (int)((4 << 20) / page) : 1000);
    return KS_OK;
}

/* A passive copy: what no reader still needs, without waiting for anyone.
 * Busy (another connection copying) is not an error: it is being done. */
static enum ks_rc sq_copy_log(void *conn, struct ks_err *err)
{
    struct sq *q = conn;
    int rc = sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        return fail(q->db, rc, err, "copy the write-ahead log");
    }
    return KS_OK;
}

static enum ks_rc sq_ready(void *conn, struct ks_err *err)
{
    if (((struct sq *)conn)->readonly) {
        return KS_OK;
    }
    enum ks_rc rc = sq_log_autocopy(conn, 1, err);
    if (rc == KS_OK) {
        sq_copy_log(conn, NULL);
    }
    return rc;
}

static enum ks_rc sq_script(void *conn, const char *sql, struct ks_err *err, const char *what)
{
    return exec(((struct sq *)conn)->db, sql, err, what);
}

static int bind(sqlite3_stmt *st, int i, const struct ks_sqlv *v)
{
    switch (v->t) {
    case KS_SQL_INT:
        return sqlite3_bind_int64(st, i, v->i);
    case KS_SQL_REAL:
        return sqlite3_bind_double(st, i, v->d);
    case KS_SQL_TEXT:
        return sqlite3_bind_text(st, i, v->p, -1, SQLITE_STATIC);
    case KS_SQL_BYTES:
        /* Bound with its 64-bit length and without a copy. */
        if (v->n == 0) {
            return sqlite3_bind_zeroblob(st, i, 0);
        }
        return sqlite3_bind_blob64(st, i, v->p, (sqlite3_uint64)v->n, SQLITE_STATIC);
    case KS_SQL_NULL:
        break;
    }
    return sqlite3_bind_null(st, i);
}

static void sq_done(struct ks_sqlcur *c)
{
    sqlite3_stmt *st = c->h;
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        c->h = NULL;
    }
}

static enum ks_rc sq_query(void *conn, enum ks_st id, const struct ks_sqlv *v, int n,
                           struct ks_sqlcur *c, struct ks_err *err, const char *what)
{
    struct sq *q = conn;
    *c = (struct ks_sqlcur){&ks_sqldrv_sqlite, q, NULL, 0, 0, 0};
    if (!q->st[id]) {
        int rc = sqlite3_prepare_v3(q->db, ks_sql_statements[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &q->st[id], NULL);
        if (rc != SQLITE_OK) {
            return fail(q->db, rc, err, what);
        }
    }
    /* A statement still running means a list callback re-entered the same
     * listing: a bug in the caller. */
    KS_ASSERT(!sqlite3_stmt_busy(q->st[id]));
    c->h = q->st[id];
    for (int i = 0; i < n; i++) {
        int rc = bind(c->h, i + 1, &v[i]);
        if (rc != SQLITE_OK) {
            fail(q->db, rc, err, what);
            sq_done(c);
            return KS_EIO;
        }
    }
    return KS_OK;
}

static int sq_next(struct ks_sqlcur *c, struct ks_err *err, const char *what)
{
    struct sq *q = c->conn;
    int rc = sqlite3_step(c->h);
    if (rc == SQLITE_ROW) {
        c->row++;
        return 1;
    }
    if (rc == SQLITE_DONE) {
        c->changes = sqlite3_changes(q->db);
        return 0;
    }
    fail(q->db, rc, err, what);
    return -1;
}

static int sq_is_null(struct ks_sqlcur *c, int col)
{
    return sqlite3_column_type(c->h, col) == SQLITE_NULL;
}

static int64_t sq_col_int(struct ks_sqlcur *c, int col)
{
    return sqlite3_column_int64(c->h, col);
}

static double sq_col_real(struct ks_sqlcur *c, int col)
{
    return sqlite3_column_double(c->h, col);
}

static const char *sq_col_text(struct ks_sqlcur *c, int col, size_t *n)
{
    const char *s = (const char *)sqlite3_column_text(c->h, col);
    *n = s ? (size_t)sqlite3_column_bytes(c->h, col) : 0;
    return s;
}

/* column_blob before column_bytes: the documented safe order. An empty blob
 * comes back as NULL and is handed on as "". */
static const void *sq_col_bytes(struct ks_sqlcur *c, int col, size_t *n)
{
    const void *p = sqlite3_column_blob(c->h, col);
    *n = p ? (size_t)sqlite3_column_bytes(c->h, col) : 0;
    return p ? p : "";
}

static enum ks_rc sq_begin(void *conn, struct ks_err *err)
{
    if (((struct sq *)conn)->readonly) {
        return ks_err_set(err, KS_EIO, "store: begin transaction: " READONLY_MSG);
    }
    return exec(((struct sq *)conn)->db, "BEGIN IMMEDIATE", err, "begin transaction");
}

static enum ks_rc sq_commit(void *conn, struct ks_err *err)
{
    return exec(((struct sq *)conn)->db, "COMMIT", err, "commit");
}

/* SQLite rolls a transaction back by itself on some errors (disk full, I/O
 * error, out of memory); rolling back then has nothing left to do. */
static enum ks_rc sq_rollback(void *conn, struct ks_err *err)
{
    struct sq *q = conn;
    if (sqlite3_get_autocommit(q->db)) {
        return KS_OK;
    }
    return exec(q->db, "ROLLBACK", err, "rollback");
}

static enum ks_rc sq_begin_migration(void *conn, struct ks_err *err)
{
    if (((struct sq *)conn)->readonly) {
        return ks_err_set(err, KS_EIO,
                          "store: its schema is older than this kintsugi's and " READONLY_MSG
                          "; run a kintsugi command once as a user who may write it (any "
                          "command upgrades it), or use the kintsugi that wrote it");
    }
    return exec(((struct sq *)conn)->db, "BEGIN IMMEDIATE", err, "begin migration");
}

/* Moves what the write-ahead log holds into the database and truncates it,
 * so that a failed write on a full disk does not keep the disk full. */
static enum ks_rc sq_release(void *conn, struct ks_err *err)
{
    struct sq *q = conn;
    int rc = sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    if (rc != SQLITE_OK) {
        return fail(q->db, rc, err, "release the write-ahead log");
    }
    return KS_OK;
}

/* ks_store_sqlite_peek (store.h): a connection of its own, for reading
 * only, on which nothing else is done - no log mode, no migration - so
 * that a file that is not kintsugi's is left exactly as it was. */
enum ks_rc ks_store_sqlite_peek(const char *path, const char *key, struct ks_buf *out, int *found,
                                struct ks_err *err)
{
    /* The table is asked for first: a database without it is not an error. */
    static const char *const sql[] = {
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'blobs'",
        "SELECT value FROM blobs WHERE key = ?1",
    };
    char what[300], uri[4200];
    snprintf(what, sizeof(what), "read %s", path);
    *found = 0;
    sqlite3 *db = NULL;
    int rc = readonly_uri(path, uri, sizeof(uri))
                 ? sqlite3_open_v2(
                       uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL)
                 : sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    for (int i = 0; i < 2 && rc == SQLITE_OK; i++) {
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(db, sql[i], -1, &st, NULL);
        if (rc == SQLITE_OK && i == 1) {
            rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(st);
        }
        if (rc == SQLITE_ROW && i == 1) {
            const void *p = sqlite3_column_blob(st, 0);
            ks_buf_reset(out);
            ks_buf_put(out, p ? p : "", (size_t)sqlite3_column_bytes(st, 0));
            *found = 1;
        }
        sqlite3_finalize(st);
        if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
            break; /* no table, or no such blob */
        }
        rc = rc == SQLITE_ROW ? SQLITE_OK : rc;
    }
    enum ks_rc krc = rc == SQLITE_OK ? KS_OK : fail(db, rc, err, what);
    sqlite3_close_v2(db);
    return krc;
}

const struct ks_sqldrv ks_sqldrv_sqlite = {
    .name = "sqlite",
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .script = sq_script,
    .query = sq_query,
    .next = sq_next,
    .is_null = sq_is_null,
    .col_int = sq_col_int,
    .col_real = sq_col_real,
    .col_text = sq_col_text,
    .col_bytes = sq_col_bytes,
    .done = sq_done,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .begin_migration = sq_begin_migration,
    .ready = sq_ready,
    .release = sq_release,
    .lock_writer = NULL,
    .log_autocopy = sq_log_autocopy,
    .copy_log = sq_copy_log,
};
