/*
 * sql.h - inside the store: what a SQL backend gives the store's operations.
 *
 * The operations of struct ks_store_ops are written once (sqlops.c) over
 * this small driver table; SQLite (sqlite.c) and PostgreSQL (postgres.c) are
 * two drivers. The schema's migrations and every statement are written once
 * (schema.c), in SQLite's dialect restricted to what docs/STORAGE.md lists;
 * the PostgreSQL driver translates them (ks_sql_to_pg) and overrides the few
 * statements that cannot be said the same way in both.
 *
 * A statement's parameters are an array of values (struct ks_sqlv) built in
 * place with the SQLV() macro, so an operation reads as one call:
 *
 *     q_exec(s, ST_ADD_TOKEN, SQLV(V_TEXT(r->name), V_TEXT(r->role),
 *                                  V_BYTES(r->hash, 32), V_TIME(r->created_at)),
 *            &cur, err, "save token");
 *
 * Not a public header: only src/store and the store's tests include it.
 */
#ifndef KS_STORE_SQL_H
#define KS_STORE_SQL_H

#include "store.h"

/* ---- parameter values --------------------------------------------------- */

enum ks_sqlt { KS_SQL_NULL, KS_SQL_INT, KS_SQL_REAL, KS_SQL_TEXT, KS_SQL_BYTES };

struct ks_sqlv {
    enum ks_sqlt t;
    int64_t i;
    double d;
    const void *p; /* text (NUL-terminated) or bytes */
    size_t n;      /* bytes only */
};

static inline struct ks_sqlv ks_sqlv_int(int64_t i)
{
    return (struct ks_sqlv){KS_SQL_INT, i, 0, NULL, 0};
}
static inline struct ks_sqlv ks_sqlv_real(double d)
{
    return (struct ks_sqlv){KS_SQL_REAL, 0, d, NULL, 0};
}
/* NULL text binds SQL NULL. */
static inline struct ks_sqlv ks_sqlv_text(const char *s)
{
    return (struct ks_sqlv){s ? KS_SQL_TEXT : KS_SQL_NULL, 0, 0, s, 0};
}
/* Bytes exactly as given; NULL or empty is an empty blob, never NULL, so
 * that "no bytes" reads back as "no bytes". */
static inline struct ks_sqlv ks_sqlv_bytes(const void *p, size_t n)
{
    return (struct ks_sqlv){KS_SQL_BYTES, 0, 0, p && n ? p : "", p ? n : 0};
}
/* Timestamps are RFC 3339 text in both backends (they sort as they compare);
 * KS_TIME_NONE is NULL. buf must live until the statement has run. */
static inline struct ks_sqlv ks_sqlv_time(ks_time t, char *buf)
{
    if (t == KS_TIME_NONE) {
        return (struct ks_sqlv){KS_SQL_NULL, 0, 0, NULL, 0};
    }
    ks_time_fmt(t, buf);
    return ks_sqlv_text(buf);
}

#define V_NULL ((struct ks_sqlv){KS_SQL_NULL, 0, 0, NULL, 0})
#define V_INT(x) ks_sqlv_int((int64_t)(x))
#define V_REAL(x) ks_sqlv_real(x)
#define V_TEXT(x) ks_sqlv_text(x)
#define V_BYTES(p, n) ks_sqlv_bytes((p), (n))
/* The 32-byte buffer is a compound literal of the enclosing block: it lives
 * as long as the SQLV() array beside it. */
#define V_TIME(t) ks_sqlv_time((t), (char[32]){0})
/* The values and their count, as the two arguments q_exec takes. */
#define SQLV(...)                                                                                  \
    (const struct ks_sqlv[]){__VA_ARGS__},                                                         \
        (int)(sizeof((const struct ks_sqlv[]){__VA_ARGS__}) / sizeof(struct ks_sqlv))
#define SQLV_NONE NULL, 0

/* ---- statements ----------------------------------------------------------- */

/* Every statement the operations run, by id; the text is in schema.c. */
enum ks_st {
    ST_HAS_MIGRATIONS,
    ST_SCHEMA_VERSION,
    ST_ADD_MIGRATION,
    ST_PUT_INCIDENT,
    ST_GET_SUMMARY,
    ST_GET_DETAIL,
    ST_LIST_ALL,
    ST_LIST_OPEN,
    ST_LIST_STATUS,
    ST_DEL_SCOPE,
    ST_ADD_SCOPE,
    ST_TRIM_SCOPE,
    ST_MIG9_PAGE,
    ST_MIG9_SET,
    ST_MIG11_NEXT_HOOK,
    ST_MIG11_PUT,
    ST_ADD_DL,
    ST_LIST_DL_ALL,
    ST_LIST_DL_STATUS,
    ST_UPDATE_DL,
    ST_UPDATE_DL_RAW,
    ST_PUT_BLOB,
    ST_GET_BLOB,
    ST_ADD_FEED_BLOCK,
    ST_LIST_FEED_BLOCKS,
    ST_FEED_CHANNELS,
    ST_TRIM_FEED,
    ST_ADD_SKUS,
    ST_LIST_SKUS,
    ST_CK_CLEAR,
    ST_CK_PUT,
    ST_CK_SIZE,
    ST_CK_PART,
    ST_MAX_IDS,
    ST_TRIM_DL,
    ST_TRIM_HOOKS,
    ST_TRIM_SKUS,
    ST_TRIM_INCIDENTS,
    ST_TRIM_SEQ,
    ST_FIND_INPUT,
    ST_ADD_INPUT,
    ST_UPDATE_INPUT,
    ST_ADD_HOOK,
    ST_LIST_HOOKS_ALL,
    ST_LIST_HOOKS_STATUS,
    ST_GET_HOOK,
    ST_UPDATE_HOOK,
    ST_CLAIM_HOOKS,
    ST_DUE_HOOKS,
    ST_VOID_HOOK_LEASES,
    ST_PUT_REVIEW,
    ST_LIST_REVIEWS_ALL,
    ST_LIST_REVIEWS_ONE,
    ST_ADD_ITEM,
    ST_UPDATE_ITEM,
    ST_DEL_ITEM,
    ST_LIST_ITEMS_ALL,
    ST_LIST_ITEMS_ONE,
    ST_PUT_COST,
    ST_LIST_COSTS_ALL,
    ST_LIST_COSTS_ONE,
    ST_ADD_TOKEN,
    ST_LIST_TOKENS_ALL,
    ST_LIST_TOKENS_HASH,
    ST_REVOKE_TOKEN,
    ST_HAS_TOKEN,
    ST_ADD_JOURNAL,
    ST_LIST_JOURNAL,
    ST_TRIM_JOURNAL,
    ST_ADD_MESSAGE,
    ST_LIST_MESSAGES,
    ST_UPDATE_MESSAGE,
    ST_MESSAGE_ID,
    ST_CLAIM_PEOPLE,
    ST_CLAIM_CUSTOMERS,
    ST_DUE_MESSAGES,
    ST_VOID_MESSAGE_LEASES,
    ST_HOLD_MESSAGES,
    ST_DUE_NOW,
    ST_GET_TRIGGER,
    ST_PUT_TRIGGER,
    ST_MAX_MESSAGE_IDS,
    ST_MESSAGE_STATS,
    ST_TRIM_MESSAGES,
    ST_TRIM_TRIGGERS,
    ST_ADD_REMEDY,
    ST_PUT_REMEDY,
    ST_LIST_REMEDIES_ALL,
    ST_LIST_REMEDIES_INCIDENT,
    ST_LIST_REMEDIES_ID,
    ST_COUNT
};

/* The columns of a hook call and of a message as the operations read them
 * (list and claim alike). */
#define KS_SQL_HOOK_COLS                                                                           \
    "key, incident, action, body, status, attempts, next_at, detail, id, lease_owner, "          \
    "lease_until"
#define KS_SQL_MESSAGE_COLS                                                                        \
    "id, key, incident, kind, audience, recipient, receiver, order_id, subject, body, status, "   \
    "attempts, created_at, sent_at, next_at, detail, lease_owner, lease_until"
/* A claim of an outbox's due rows (claim_due): ?1 the deliverer, ?2 the end
 * of its lease, ?3 now, ?4 how many at most, in `order`. A row is due when
 * it waits (status), its next attempt has come and nobody else holds a lease
 * on it that still runs; `where` narrows the choice further. lock: what the
 * backend adds to the row choice so that two deliverers claiming at once
 * take different rows. */
#define KS_SQL_CLAIM(table, status, where, order, cols, lock)                                     \
    "UPDATE " table " SET lease_owner = ?1, lease_until = ?2 WHERE id IN (SELECT id FROM " table \
    " WHERE status = '" status "' AND (next_at IS NULL OR next_at <= ?3) AND "                    \
    "(lease_until IS NULL OR lease_until <= ?3 OR lease_owner = ?1)" where " ORDER BY " order    \
    " LIMIT ?4" lock ") RETURNING " cols
/* What a claim would take now, without taking it: ?1 the deliverer, ?2 now
 * (messages: ?3 the receiver); one row: how many rows are due, the earliest
 * next attempt still to come, the earliest end of another deliverer's lease
 * that still runs. */
#define KS_SQL_DUE(table, status, where)                                                           \
    "SELECT coalesce(sum(CASE WHEN (next_at IS NULL OR next_at <= ?2) AND (lease_until IS NULL " \
    "OR lease_until <= ?2 OR lease_owner = ?1) THEN 1 ELSE 0 END), 0), "                          \
    "min(CASE WHEN next_at > ?2 THEN next_at END), "                                              \
    "min(CASE WHEN lease_until > ?2 AND lease_owner <> ?1 THEN lease_until END) FROM " table      \
    " WHERE status = '" status "'" where
/* The hook calls oldest first; the messages of one receiver (?5, NULL: of
 * every receiver) to the shop's people, then those to customers, each
 * oldest first: a team's page never waits behind 10,000 notices. Two
 * statements, so that each walks the index on (status, audience) in id
 * order and stops at the limit, instead of sorting the whole queue. */
#define KS_SQL_CLAIM_HOOKS(lock) KS_SQL_CLAIM("hooks", "pending", "", "id", KS_SQL_HOOK_COLS, lock)
#define KS_SQL_CLAIM_MESSAGES(audience, lock)                                                      \
    KS_SQL_CLAIM("messages", "queued",                                                             \
                 " AND audience " audience " AND (receiver = ?5 OR ?5 IS NULL)", "id",             \
                 KS_SQL_MESSAGE_COLS, lock)
#define KS_SQL_PEOPLE "IN ('team', 'leadership')"
#define KS_SQL_CUSTOMERS "= 'customer'"

/* The statements in SQLite's dialect (parameters ?1, ?2, ...). */
extern const char *const ks_sql_statements[ST_COUNT];

/* The schema: migration i brings version i to i + 1 (SQLite's dialect).
 * Append only: a released migration is never edited, a change is a new one. */
extern const char *const ks_sql_migrations[];
extern const int ks_sql_schema_version;

/* Translates SQLite-dialect text to PostgreSQL's: ?N -> $N, and with ddl
 * set the column types (INTEGER PRIMARY KEY [AUTOINCREMENT] -> BIGINT
 * identity, INTEGER -> BIGINT, REAL -> DOUBLE PRECISION, BLOB -> BYTEA,
 * TEXT -> TEXT COLLATE "C"), WITHOUT ROWID dropped and the reserved word
 * offset quoted. Quoted text is copied as it is. Appends to out. */
void ks_sql_to_pg(const char *sql, int ddl, struct ks_buf *out);

/* ---- the driver ----------------------------------------------------------- */

/* The rows of one statement run: read them with q_next and the column
 * functions, then end with q_done (always, also after an error). */
struct ks_sqlcur {
    const struct ks_sqldrv *drv;
    void *conn;
    void *h;        /* the driver's: a statement or a result */
    int row, nrows; /* the driver's */
    int64_t changes; /* rows changed, once the statement has run to its end */
};

struct ks_sqldrv {
    const char *name;
    /* Connects (without applying migrations). */
    enum ks_rc (*connect)(void **conn, const char *uri, struct ks_err *err);
    void (*disconnect)(void *conn);
    /* Runs a script without parameters (a migration), SQLite's dialect. */
    enum ks_rc (*script)(void *conn, const char *sql, struct ks_err *err, const char *what);
    /* Runs statement id with its values; the cursor then gives the rows.
     * Fails with KS_EIO, "store: <what>: <the database's message>". */
    enum ks_rc (*query)(void *conn, enum ks_st id, const struct ks_sqlv *v, int n,
                        struct ks_sqlcur *c, struct ks_err *err, const char *what);
    /* 1: a row is there; 0: the end; -1: an error (err filled with what). */
    int (*next)(struct ks_sqlcur *c, struct ks_err *err, const char *what);
    int (*is_null)(struct ks_sqlcur *c, int col);
    int64_t (*col_int)(struct ks_sqlcur *c, int col);
    double (*col_real)(struct ks_sqlcur *c, int col);
    /* Text or bytes of a column, borrowed until the next q_next or q_done;
     * text is NUL-terminated, NULL for SQL NULL; bytes are never NULL. */
    const char *(*col_text)(struct ks_sqlcur *c, int col, size_t *n);
    const void *(*col_bytes)(struct ks_sqlcur *c, int col, size_t *n);
    void (*done)(struct ks_sqlcur *c);
    enum ks_rc (*begin)(void *conn, struct ks_err *err);
    enum ks_rc (*commit)(void *conn, struct ks_err *err);
    enum ks_rc (*rollback)(void *conn, struct ks_err *err);
    /* Begins the transaction that applies migrations, holding the lock that
     * keeps two processes from migrating at once. */
    enum ks_rc (*begin_migration)(void *conn, struct ks_err *err);
    /* Called once migrations are applied (SQLite tunes its log then). */
    enum ks_rc (*ready)(void *conn, struct ks_err *err);
    /* See struct ks_store_ops: release and the writer lock (may be NULL). */
    enum ks_rc (*release)(void *conn, struct ks_err *err);
    enum ks_rc (*lock_writer)(void *conn, int *got, struct ks_err *err);
    /* SQLite's write-ahead log copied by commits (on) or only by copy_log
     * (struct ks_store_ops); NULL for a server that manages its own log. */
    enum ks_rc (*log_autocopy)(void *conn, int on, struct ks_err *err);
    enum ks_rc (*copy_log)(void *conn, struct ks_err *err);
};

extern const struct ks_sqldrv ks_sqldrv_sqlite;
extern const struct ks_sqldrv ks_sqldrv_pg;

#endif
