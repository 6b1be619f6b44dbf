/*
 * sqlite.c - the SQLite storage backend: one file, WAL, no set-up.
 *
 * The connection runs in WAL mode with synchronous=NORMAL (a commit survives a
 * crash of the process; a power cut may lose the last commits, never corrupt
 * the file), a 5 s busy timeout and foreign keys on. A new database gets
 * 64 KiB pages. The schema is the ordered
 * list of migrations below; open applies the missing ones in one transaction
 * and refuses a database written by a newer kintsugi.
 *
 * Every statement is prepared once on open and reset (bindings cleared) after
 * each use, because ingest writes many rows per transaction. A store is used
 * by one thread at a time (the connection is opened without its own mutex);
 * another thread or process opens its own store, and WAL lets its readers run
 * beside one writer.
 *
 * Every failure is KS_EIO with what was being done and SQLite's message:
 * "store: insert dead letter: database is locked".
 */
#include "store.h"

#include <sqlite3.h>
#include <string.h>

/* ---- schema ------------------------------------------------------------ */

/* Migration i brings the schema from version i to i + 1. Append only: a
 * released migration is never edited, a change is a new entry. */
static const char *const migrations[] = {
    /* 1: incidents, dead letters, named blobs (the engine checkpoint). */
    "CREATE TABLE incidents("
    "  id INTEGER PRIMARY KEY,"
    "  type TEXT,"
    "  severity TEXT,"
    "  status TEXT,"
    "  fingerprint TEXT,"
    "  detected_at TEXT,"
    "  summary_json TEXT,"
    "  detail_json TEXT);"
    "CREATE INDEX incidents_status ON incidents(status);"
    "CREATE INDEX incidents_fingerprint ON incidents(fingerprint);"
    "CREATE TABLE deadletters("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  source TEXT,"
    "  line INTEGER,"
    "  reason TEXT,"
    "  raw BLOB,"
    "  status TEXT,"
    "  received_at TEXT);"
    "CREATE TABLE blobs("
    "  key TEXT PRIMARY KEY,"
    "  value BLOB);",
    /* 2: the guarded feed's change log and the hook outbox (containment). */
    "CREATE TABLE feed("
    "  channel TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  sku TEXT NOT NULL,"
    "  qty INTEGER NOT NULL,"
    "  at TEXT,"
    "  why TEXT,"
    "  incident INTEGER,"
    "  PRIMARY KEY(channel, seq)) WITHOUT ROWID;"
    "CREATE TABLE hooks("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  key TEXT NOT NULL UNIQUE,"
    "  incident INTEGER,"
    "  action TEXT,"
    "  body TEXT,"
    "  status TEXT,"
    "  attempts INTEGER,"
    "  next_at TEXT,"
    "  detail TEXT);",
    /* 3: the store of a fast ingest. The feed in compact blocks over a SKU
     * dictionary, the checkpoint in parts, the inputs' positions. The
     * row-per-change feed of version 2 is kept aside (a checkpoint of that
     * version cannot be continued; re-ingest into a new database). */
    "ALTER TABLE feed RENAME TO feed_rows_v2;"
    "DELETE FROM blobs WHERE key = 'engine';"
    "CREATE TABLE feed_blocks("
    "  id INTEGER PRIMARY KEY,"
    "  channel TEXT NOT NULL,"
    "  first_seq INTEGER NOT NULL,"
    "  last_seq INTEGER NOT NULL,"
    "  data BLOB NOT NULL);"
    "CREATE UNIQUE INDEX feed_blocks_seq ON feed_blocks(channel, first_seq);"
    "CREATE TABLE skus("
    "  first_id INTEGER PRIMARY KEY,"
    "  n INTEGER NOT NULL,"
    "  data BLOB NOT NULL);"
    "CREATE TABLE checkpoint("
    "  part INTEGER PRIMARY KEY,"
    "  data BLOB NOT NULL);"
    "CREATE TABLE inputs("
    "  id INTEGER PRIMARY KEY,"
    "  path TEXT NOT NULL,"
    "  prefix_len INTEGER NOT NULL,"
    "  prefix_hash INTEGER NOT NULL,"
    "  offset INTEGER NOT NULL,"
    "  line INTEGER NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  updated_at TEXT);"
    "CREATE INDEX inputs_path ON inputs(path);",
    /* 4: post-incident reviews as people wrote them, their action items, and
     * the parts of an incident's cost a person entered (docs/REVIEWS.md). */
    "CREATE TABLE reviews("
    "  incident INTEGER PRIMARY KEY,"
    "  doc TEXT NOT NULL,"
    "  updated_by TEXT,"
    "  updated_at TEXT,"
    "  first_at TEXT,"
    "  root_cause_at TEXT);"
    "CREATE TABLE review_items("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  incident INTEGER NOT NULL,"
    "  pos INTEGER NOT NULL,"
    "  text TEXT NOT NULL,"
    "  owner TEXT,"
    "  due TEXT,"
    "  kind TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  closed_by TEXT,"
    "  closed_at TEXT,"
    "  note TEXT);"
    "CREATE INDEX review_items_incident ON review_items(incident, pos);"
    "CREATE TABLE costs("
    "  incident INTEGER NOT NULL,"
    "  part TEXT NOT NULL,"
    "  amount REAL NOT NULL,"
    "  set_by TEXT,"
    "  set_at TEXT,"
    "  PRIMARY KEY(incident, part));",
    /* 5: API tokens (docs/API.md): the SHA-256 of a token's text, never the
     * text; names unique for ever, revoked tokens included. */
    "CREATE TABLE tokens("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL,"
    "  hash BLOB NOT NULL UNIQUE,"
    "  created_at TEXT NOT NULL,"
    "  revoked_at TEXT);",
    /* 6: the server's journal: what changed the engine after its last saved
     * state (request bodies, clock moves, people's commands), committed
     * before the client hears back, re-applied after a restart. Its seqs are
     * never reused (AUTOINCREMENT): the saved state names the last it took. */
    "CREATE TABLE journal("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind TEXT NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  source TEXT,"
    "  data BLOB NOT NULL);",
    /* 7: the outbox of messages and the triggers that fired (docs/MESSAGES.md):
     * written in the transaction of the incident change that caused them. */
    "CREATE TABLE messages("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  key TEXT NOT NULL,"
    "  incident INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  audience TEXT NOT NULL,"
    "  recipient TEXT NOT NULL,"
    "  receiver TEXT NOT NULL,"
    "  order_id TEXT,"
    "  subject TEXT NOT NULL,"
    "  body TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL,"
    "  created_at TEXT,"
    "  sent_at TEXT,"
    "  next_at TEXT,"
    "  detail TEXT,"
    "  UNIQUE(key, receiver));"
    "CREATE INDEX messages_incident ON messages(incident);"
    "CREATE INDEX messages_status ON messages(status);"
    "CREATE TABLE message_triggers("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  incident INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  at TEXT,"
    "  done INTEGER NOT NULL,"
    "  UNIQUE(incident, name, seq));",
    /* 8: remedies of the service-recovery policy,
     * granted or pending, with their specialist reviews (docs/REMEDIES.md). */
    "CREATE TABLE IF NOT EXISTS remedies("
    "  id INTEGER PRIMARY KEY,"
    "  incident INTEGER NOT NULL,"
    "  order_id TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  amount REAL,"
    "  currency TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  by_person TEXT NOT NULL,"
    "  approved_by TEXT,"
    "  requested_at TEXT,"
    "  granted_at TEXT,"
    "  note TEXT,"
    "  affected INTEGER NOT NULL,"
    "  complex TEXT,"
    "  review_due TEXT,"
    "  review_status TEXT,"
    "  review_missed INTEGER NOT NULL,"
    "  reviewed_by TEXT,"
    "  reviewed_at TEXT);"
    "CREATE INDEX IF NOT EXISTS remedies_incident ON remedies(incident, order_id);",
};

#define SCHEMA_VERSION ((int64_t)(sizeof(migrations) / sizeof(migrations[0])))

/* ---- prepared statements ------------------------------------------------ */

enum st_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_PUT_INCIDENT,
    ST_GET_SUMMARY,
    ST_GET_DETAIL,
    ST_LIST_ALL,
    ST_LIST_OPEN,
    ST_LIST_STATUS,
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
    ST_CK_READ,
    ST_MAX_IDS,
    ST_TRIM_DL,
    ST_TRIM_HOOKS,
    ST_TRIM_SKUS,
    ST_TRIM_INCIDENTS,
    ST_TRIM_SEQ,
    ST_FIND_INPUT,
    ST_PUT_INPUT,
    ST_ADD_HOOK,
    ST_LIST_HOOKS_ALL,
    ST_LIST_HOOKS_STATUS,
    ST_UPDATE_HOOK,
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
    ST_GET_TRIGGER,
    ST_PUT_TRIGGER,
    ST_MAX_MESSAGE_IDS,
    ST_TRIM_MESSAGES,
    ST_TRIM_TRIGGERS,
    ST_PUT_REMEDY,
    ST_LIST_REMEDIES_ALL,
    ST_LIST_REMEDIES_INCIDENT,
    ST_LIST_REMEDIES_ID,
    ST_COUNT
};

#define INCIDENT_COLS                                                                              \
    "SELECT id, type, severity, status, fingerprint, detected_at, summary_json, detail_json "      \
    "FROM incidents "
#define DL_COLS "SELECT id, source, line, reason, raw, status, received_at FROM deadletters "
#define HOOK_COLS                                                                                  \
    "SELECT key, incident, action, body, status, attempts, next_at, detail FROM hooks "

#define REVIEW_COLS                                                                                \
    "SELECT incident, doc, updated_by, updated_at, first_at, root_cause_at FROM reviews "
#define ITEM_COLS                                                                                  \
    "SELECT id, incident, pos, text, owner, due, kind, status, closed_by, closed_at, note "        \
    "FROM review_items "
#define COST_COLS "SELECT incident, part, amount, set_by, set_at FROM costs "
#define REMEDY_COLS                                                                                \
    "SELECT id, incident, order_id, kind, amount, currency, status, by_person, approved_by, "     \
    "requested_at, granted_at, note, affected, complex, review_due, review_status, "              \
    "review_missed, reviewed_by, reviewed_at FROM remedies "
#define TOKEN_COLS "SELECT name, role, hash, created_at, revoked_at FROM tokens "

#define MESSAGE_COLS                                                                               \
    "SELECT id, key, incident, kind, audience, recipient, receiver, order_id, subject, body, "     \
    "status, attempts, created_at, sent_at, next_at, detail FROM messages "

static const char *const st_sql[ST_COUNT] = {
    [ST_ADD_MESSAGE] =
        "INSERT OR IGNORE INTO messages(key, incident, kind, audience, recipient, receiver, "
        "order_id, subject, body, status, attempts, created_at, sent_at, next_at, detail) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    [ST_LIST_MESSAGES] = MESSAGE_COLS
        "WHERE (?1 = 0 OR id = ?1) AND (?2 = 0 OR incident = ?2) AND "
        "(?3 IS NULL OR audience = ?3) AND (?4 IS NULL OR status = ?4) ORDER BY id",
    [ST_UPDATE_MESSAGE] = "UPDATE messages SET status = ?2, attempts = ?3, next_at = ?4, "
                          "sent_at = ?5, detail = ?6 WHERE id = ?1",
    [ST_GET_TRIGGER] = "SELECT at, done FROM message_triggers WHERE incident = ?1 AND name = ?2 "
                       "AND seq = ?3",
    [ST_PUT_TRIGGER] = "INSERT INTO message_triggers(incident, name, seq, at, done) "
                       "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(incident, name, seq) "
                       "DO UPDATE SET done = excluded.done",
    [ST_MAX_MESSAGE_IDS] = "SELECT (SELECT coalesce(max(id), 0) FROM messages), "
                           "(SELECT coalesce(max(id), 0) FROM message_triggers)",
    [ST_TRIM_MESSAGES] = "DELETE FROM messages WHERE id > ?1",
    [ST_TRIM_TRIGGERS] = "DELETE FROM message_triggers WHERE id > ?1",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_PUT_INCIDENT] =
        "INSERT INTO incidents(id, type, severity, status, fingerprint, detected_at, "
        "summary_json, detail_json) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
        "ON CONFLICT(id) DO UPDATE SET type = excluded.type, severity = excluded.severity, "
        "status = excluded.status, fingerprint = excluded.fingerprint, "
        "detected_at = excluded.detected_at, summary_json = excluded.summary_json, "
        "detail_json = excluded.detail_json",
    [ST_GET_SUMMARY] = "SELECT summary_json FROM incidents WHERE id = ?1",
    [ST_GET_DETAIL] = "SELECT detail_json FROM incidents WHERE id = ?1",
    [ST_LIST_ALL] = INCIDENT_COLS "ORDER BY id",
    [ST_LIST_OPEN] = INCIDENT_COLS "WHERE status IS NOT 'resolved' ORDER BY id",
    [ST_LIST_STATUS] = INCIDENT_COLS "WHERE status = ?1 ORDER BY id",
    [ST_ADD_DL] = "INSERT INTO deadletters(source, line, reason, raw, status, received_at) "
                  "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_LIST_DL_ALL] = DL_COLS "ORDER BY id",
    [ST_LIST_DL_STATUS] = DL_COLS "WHERE status = ?1 ORDER BY id",
    [ST_UPDATE_DL] = "UPDATE deadletters SET status = coalesce(?2, status), "
                     "reason = coalesce(?3, reason) WHERE id = ?1",
    [ST_UPDATE_DL_RAW] = "UPDATE deadletters SET status = coalesce(?2, status), "
                         "reason = coalesce(?3, reason), raw = ?4 WHERE id = ?1",
    [ST_PUT_BLOB] = "INSERT INTO blobs(key, value) VALUES(?1, ?2) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [ST_GET_BLOB] = "SELECT value FROM blobs WHERE key = ?1",
    [ST_ADD_FEED_BLOCK] = "INSERT INTO feed_blocks(channel, first_seq, last_seq, data) "
                          "VALUES(?1, ?2, ?3, ?4)",
    [ST_LIST_FEED_BLOCKS] = "SELECT first_seq, last_seq, data FROM feed_blocks "
                            "WHERE channel = ?1 AND last_seq > ?2 ORDER BY first_seq",
    [ST_FEED_CHANNELS] = "SELECT DISTINCT channel FROM feed_blocks ORDER BY channel",
    [ST_TRIM_FEED] = "DELETE FROM feed_blocks WHERE channel = ?1 AND first_seq > ?2",
    [ST_ADD_SKUS] = "INSERT INTO skus(first_id, n, data) VALUES(?1, ?2, ?3)",
    [ST_LIST_SKUS] = "SELECT first_id, n, data FROM skus WHERE first_id < ?1 ORDER BY first_id",
    [ST_CK_CLEAR] = "DELETE FROM checkpoint",
    [ST_CK_PUT] = "INSERT INTO checkpoint(part, data) VALUES(?1, ?2)",
    [ST_CK_SIZE] = "SELECT count(*), coalesce(sum(length(data)), 0) FROM checkpoint",
    [ST_CK_READ] = "SELECT data FROM checkpoint ORDER BY part",
    [ST_MAX_IDS] = "SELECT (SELECT coalesce(max(id), 0) FROM deadletters), "
                   "(SELECT coalesce(max(id), 0) FROM hooks)",
    [ST_TRIM_DL] = "DELETE FROM deadletters WHERE id > ?1",
    [ST_TRIM_HOOKS] = "DELETE FROM hooks WHERE id > ?1",
    [ST_TRIM_SKUS] = "DELETE FROM skus WHERE first_id >= ?1",
    [ST_TRIM_INCIDENTS] = "DELETE FROM incidents WHERE id > ?1",
    /* AUTOINCREMENT ids continue after the marks, as if the undone rows had
     * never been written: a resumed ingest gives the ids an uninterrupted
     * one gives. */
    [ST_TRIM_SEQ] = "UPDATE sqlite_sequence SET seq = CASE name WHEN 'deadletters' THEN ?1 "
                    "ELSE ?2 END WHERE name IN ('deadletters', 'hooks')",
    [ST_FIND_INPUT] = "SELECT id, prefix_len, prefix_hash, offset, line, size FROM inputs "
                      "WHERE path = ?1 ORDER BY id DESC LIMIT 1",
    [ST_PUT_INPUT] = "INSERT INTO inputs(id, path, prefix_len, prefix_hash, offset, line, size, "
                     "updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                     "ON CONFLICT(id) DO UPDATE SET prefix_len = excluded.prefix_len, "
                     "prefix_hash = excluded.prefix_hash, offset = excluded.offset, "
                     "line = excluded.line, size = excluded.size, "
                     "updated_at = excluded.updated_at",
    [ST_ADD_HOOK] = "INSERT OR IGNORE INTO hooks(key, incident, action, body, status, attempts, "
                    "next_at, detail) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_LIST_HOOKS_ALL] = HOOK_COLS "ORDER BY id",
    [ST_LIST_HOOKS_STATUS] = HOOK_COLS "WHERE status = ?1 ORDER BY id",
    [ST_UPDATE_HOOK] = "UPDATE hooks SET status = ?2, attempts = ?3, next_at = ?4, detail = ?5 "
                       "WHERE key = ?1",
    [ST_PUT_REVIEW] =
        "INSERT INTO reviews(incident, doc, updated_by, updated_at, first_at, root_cause_at) "
        "VALUES(?1, ?2, ?3, ?4, ?4, ?5) ON CONFLICT(incident) DO UPDATE SET doc = excluded.doc, "
        "updated_by = excluded.updated_by, updated_at = excluded.updated_at, "
        "root_cause_at = CASE WHEN excluded.root_cause_at IS NULL THEN NULL "
        "ELSE coalesce(reviews.root_cause_at, excluded.root_cause_at) END",
    [ST_LIST_REVIEWS_ALL] = REVIEW_COLS "ORDER BY incident",
    [ST_LIST_REVIEWS_ONE] = REVIEW_COLS "WHERE incident = ?1",
    [ST_ADD_ITEM] = "INSERT INTO review_items(incident, pos, text, owner, due, kind, status, "
                    "closed_by, closed_at, note) VALUES(?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_UPDATE_ITEM] = "UPDATE review_items SET incident = ?2, pos = ?3, text = ?4, owner = ?5, "
                       "due = ?6, kind = ?7, status = ?8, closed_by = ?9, closed_at = ?10, "
                       "note = ?11 WHERE id = ?1",
    [ST_DEL_ITEM] = "DELETE FROM review_items WHERE id = ?1",
    [ST_LIST_ITEMS_ALL] = ITEM_COLS "ORDER BY incident, pos, id",
    [ST_LIST_ITEMS_ONE] = ITEM_COLS "WHERE incident = ?1 ORDER BY pos, id",
    [ST_PUT_COST] = "INSERT INTO costs(incident, part, amount, set_by, set_at) "
                    "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(incident, part) DO UPDATE SET "
                    "amount = excluded.amount, set_by = excluded.set_by, set_at = excluded.set_at",
    [ST_LIST_COSTS_ALL] = COST_COLS "ORDER BY incident, part",
    [ST_LIST_COSTS_ONE] = COST_COLS "WHERE incident = ?1 ORDER BY part",
    [ST_ADD_TOKEN] = "INSERT INTO tokens(name, role, hash, created_at) VALUES(?1, ?2, ?3, ?4)",
    [ST_LIST_TOKENS_ALL] = TOKEN_COLS "ORDER BY name",
    [ST_LIST_TOKENS_HASH] = TOKEN_COLS "WHERE hash = ?1",
    [ST_REVOKE_TOKEN] = "UPDATE tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
    [ST_HAS_TOKEN] = "SELECT count(*) FROM tokens WHERE name = ?1",
    [ST_ADD_JOURNAL] = "INSERT INTO journal(kind, at, source, data) VALUES (?1, ?2, ?3, ?4)",
    [ST_LIST_JOURNAL] = "SELECT seq, kind, at, source, data FROM journal WHERE seq > ?1 "
                        "ORDER BY seq",
    [ST_TRIM_JOURNAL] = "DELETE FROM journal WHERE seq <= ?1",
    [ST_PUT_REMEDY] =
        "INSERT OR REPLACE INTO remedies(id, incident, order_id, kind, amount, currency, status, "
        "by_person, approved_by, requested_at, granted_at, note, affected, complex, review_due, "
        "review_status, review_missed, reviewed_by, reviewed_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, "
        "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    [ST_LIST_REMEDIES_ALL] = REMEDY_COLS "ORDER BY id",
    [ST_LIST_REMEDIES_INCIDENT] = REMEDY_COLS "WHERE incident = ?1 ORDER BY id",
    [ST_LIST_REMEDIES_ID] = REMEDY_COLS "WHERE id = ?1",
};

/* The backend's state behind struct ks_store.impl. */
struct sq {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT]; /* all prepared on open, all idle between calls */
};

static struct sq *sq_of(struct ks_store *s)
{
    KS_ASSERT(s && s->impl);
    return s->impl;
}

/* Hands out a cached statement. A statement still running means a list
 * callback re-entered the same listing: a bug in the caller. */
static sqlite3_stmt *stmt(struct sq *q, enum st_id id)
{
    sqlite3_stmt *st = q->st[id];
    KS_ASSERT(!sqlite3_stmt_busy(st));
    return st;
}

static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Fills err with KS_EIO, "store: <what>: <sqlite message>", and resets st
 * (which may be NULL). rc is the failing SQLite code, used when the
 * connection has no message of its own. */
static enum ks_rc fail(struct sq *q, sqlite3_stmt *st, int rc, struct ks_err *err, const char *fmt,
                       ...) __attribute__((format(printf, 5, 6)));

static enum ks_rc fail(struct sq *q, sqlite3_stmt *st, int rc, struct ks_err *err, const char *fmt,
                       ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    const char *msg =
        sqlite3_errcode(q->db) != SQLITE_OK ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc);
    ks_err_set(err, KS_EIO, "store: %s: %s", what, msg);
    if (st) {
        done(st);
    }
    return KS_EIO;
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* Timestamps are RFC 3339 text (they sort as they compare); KS_TIME_NONE is
 * NULL. fmt must live until the statement has run. */
static int bind_time(sqlite3_stmt *st, int i, ks_time t, char fmt[32])
{
    if (t == KS_TIME_NONE) {
        return sqlite3_bind_null(st, i);
    }
    ks_time_fmt(t, fmt);
    return bind_text(st, i, fmt);
}

/* Binds n bytes exactly as given; a NULL or empty buffer is an empty blob,
 * never NULL, so that "no bytes" reads back as "no bytes". */
static int bind_bytes(sqlite3_stmt *st, int i, const void *p, size_t n)
{
    if (!p || n == 0) {
        return sqlite3_bind_zeroblob(st, i, 0);
    }
    return sqlite3_bind_blob64(st, i, p, (sqlite3_uint64)n, SQLITE_STATIC);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* Reads a timestamp column back; 0 or -1 when the text is not RFC 3339. */
static int col_time(sqlite3_stmt *st, int i, ks_time *out)
{
    const char *s = col_text(st, i);
    if (!s) {
        *out = KS_TIME_NONE;
        return 0;
    }
    return ks_time_parse(s, (size_t)sqlite3_column_bytes(st, i), out, NULL);
}

/* ---- open, migrations, close ------------------------------------------- */

static enum ks_rc exec(struct sq *q, const char *sql, struct ks_err *err, const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(q->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        ks_err_set(err, KS_EIO, "store: %s: %s", what, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return KS_EIO;
    }
    return KS_OK;
}

/* Runs a one-row, one-column query; *out = 0 for no row or NULL. */
static enum ks_rc query_int(struct sq *q, const char *sql, int64_t *out, struct ks_err *err,
                            const char *what)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return fail(q, NULL, rc, err, "%s", what);
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        fail(q, NULL, rc, err, "%s", what);
        sqlite3_finalize(st);
        return KS_EIO;
    }
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return KS_OK;
}

/* The schema version of the open database: 0 when it has no
 * schema_migrations table (a new file). */
static enum ks_rc schema_version(struct sq *q, int64_t *v, struct ks_err *err)
{
    int64_t has = 0;
    enum ks_rc rc = query_int(q,
                              "SELECT count(*) FROM sqlite_master "
                              "WHERE type = 'table' AND name = 'schema_migrations'",
                              &has, err, "read schema version");
    if (rc != KS_OK || !has) {
        *v = 0;
        return rc;
    }
    return query_int(q, "SELECT max(version) FROM schema_migrations", v, err,
                     "read schema version");
}

static enum ks_rc refuse_newer(const char *path, int64_t v, struct ks_err *err)
{
    return ks_err_set(err, KS_ESTATE,
                      "store: %s: database schema version %lld is newer than this kintsugi "
                      "supports (%lld); use a newer kintsugi",
                      path, (long long)v, (long long)SCHEMA_VERSION);
}

/* Applies the missing migrations in one IMMEDIATE transaction. The version is
 * read first without a lock so that opening an up-to-date database never
 * waits for another connection's write transaction, then read again under
 * the lock in case another process migrated in between. */
static enum ks_rc migrate(struct sq *q, const char *path, struct ks_err *err)
{
    int64_t v;
    enum ks_rc rc = schema_version(q, &v, err);
    if (rc != KS_OK) {
        return rc;
    }
    if (v > SCHEMA_VERSION) {
        return refuse_newer(path, v, err);
    }
    if (v == SCHEMA_VERSION) {
        return KS_OK;
    }
    if ((rc = exec(q, "BEGIN IMMEDIATE", err, "begin migration")) != KS_OK) {
        return rc;
    }
    rc = exec(q,
              "CREATE TABLE IF NOT EXISTS schema_migrations("
              "version INTEGER PRIMARY KEY, applied_at TEXT)",
              err, "create schema_migrations");
    if (rc == KS_OK) {
        rc = schema_version(q, &v, err);
    }
    if (rc == KS_OK && v > SCHEMA_VERSION) {
        rc = refuse_newer(path, v, err);
    }
    char now[32];
    ks_time_fmt(ks_time_now(), now);
    for (; rc == KS_OK && v < SCHEMA_VERSION; v++) {
        char what[64];
        snprintf(what, sizeof(what), "migration %lld", (long long)v + 1);
        rc = exec(q, migrations[v], err, what);
        if (rc == KS_OK) {
            char sql[128];
            snprintf(sql, sizeof(sql),
                     "INSERT INTO schema_migrations(version, applied_at) VALUES(%lld, '%s')",
                     (long long)v + 1, now);
            rc = exec(q, sql, err, what);
        }
    }
    if (rc == KS_OK) {
        rc = exec(q, "COMMIT", err, "commit migration");
    }
    if (rc != KS_OK && !sqlite3_get_autocommit(q->db)) {
        exec(q, "ROLLBACK", NULL, "roll back migration");
    }
    return rc;
}

static void sq_free(struct sq *q)
{
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(q->st[i]);
    }
    sqlite3_close_v2(q->db);
    ks_free(q);
}

/* The log is copied every 4 MiB of commits (see sq_open), or never by this
 * connection. */
static void sq_autocopy(struct sq *q, int on)
{
    int64_t page = 0;
    if (!on) {
        sqlite3_wal_autocheckpoint(q->db, 0);
    } else if (query_int(q, "PRAGMA page_size", &page, NULL, "page size") == KS_OK) {
        sqlite3_wal_autocheckpoint(q->db, page > 0 ? (int)((4 << 20) / page) : 1000);
    }
}

static enum ks_rc sq_open(struct ks_store *s, const char *path, struct ks_err *err)
{
    struct sq *q = ks_calloc(1, sizeof(*q));
    int rc = sqlite3_open_v2(
        path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        if (q->db) {
            ks_err_set(err, KS_EIO, "store: open %s: %s", path, sqlite3_errmsg(q->db));
        } else {
            ks_err_set(err, KS_EIO, "store: open %s: %s", path, sqlite3_errstr(rc));
        }
        sq_free(q);
        return KS_EIO;
    }
    /* The busy timeout comes first: switching to WAL needs a lock that
     * another connection may briefly hold. */
    sqlite3_busy_timeout(q->db, 5000);
    char what[300];
    snprintf(what, sizeof(what), "open %s", path);
    enum ks_rc krc = KS_OK;
    sqlite3_stmt *st = NULL;
    /* 64 KiB pages for a new database (an existing one keeps its own): the
     * checkpoint's parts and the feed's blocks are large values, written in
     * a sixteenth of the pages, and so of the log frames, of 4 KiB pages. */
    if (exec(q, "PRAGMA page_size=65536", err, what) != KS_OK) {
        sq_free(q);
        return KS_EIO;
    }
    rc = sqlite3_prepare_v2(q->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_ROW) {
        const char *mode = col_text(st, 0);
        /* An in-memory database reports "memory"; anything else but "wal"
         * means the file system cannot do WAL (no shared memory). */
        if (mode && strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0) {
            ks_log(KS_LOG_WARN, "store",
                   "%s: journal mode is %s, not WAL: readers will wait "
                   "for writers",
                   path, mode);
        }
    } else {
        krc = fail(q, NULL, rc, err, "%s", what);
    }
    sqlite3_finalize(st);
    if (krc == KS_OK) {
        /* The log shrinks back to 64 MiB after a large transaction (a
         * checkpoint of a big state) instead of keeping its peak size. */
        krc = exec(q,
                   "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                   "PRAGMA journal_size_limit=67108864",
                   err, what);
    }
    if (krc == KS_OK) {
        krc = migrate(q, path, err);
    }
    if (krc == KS_OK) {
        /* The log is copied into the database every 4 MiB of commits (not
         * SQLite's 1000 pages, 64 MiB at 64 KiB pages): what a failed write
         * on a full disk leaves to copy is then small, and the log can be
         * released (sq_release). */
        sq_autocopy(q, 1);
        sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    for (int i = 0; krc == KS_OK && i < ST_COUNT; i++) {
        rc = sqlite3_prepare_v3(q->db, st_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i], NULL);
        if (rc != SQLITE_OK) {
            krc = fail(q, NULL, rc, err, "prepare \"%.60s\"", st_sql[i]);
        }
    }
    if (krc != KS_OK) {
        sq_free(q);
        return krc;
    }
    s->impl = q;
    return KS_OK;
}

/* Closes the connection; an open transaction is rolled back by SQLite. */
static void sq_close(struct ks_store *s)
{
    if (s && s->impl) {
        sq_free(s->impl);
        s->impl = NULL;
    }
}

/* ---- transactions ------------------------------------------------------- */

static enum ks_rc run(struct sq *q, enum st_id id, struct ks_err *err, const char *what)
{
    sqlite3_stmt *st = stmt(q, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "%s", what);
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_begin(struct ks_store *s, struct ks_err *err)
{
    return run(sq_of(s), ST_BEGIN, err, "begin transaction");
}

static enum ks_rc sq_commit(struct ks_store *s, struct ks_err *err)
{
    return run(sq_of(s), ST_COMMIT, err, "commit");
}

/* SQLite rolls a transaction back by itself on some errors (disk full, I/O
 * error, out of memory); rolling back then has nothing left to do, which is
 * success, not an error to report on top of the first one. */
static enum ks_rc sq_rollback(struct ks_store *s, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    if (sqlite3_get_autocommit(q->db)) {
        return KS_OK;
    }
    return run(q, ST_ROLLBACK, err, "rollback");
}

/* ---- incidents ---------------------------------------------------------- */

static enum ks_rc sq_put_incident(struct ks_store *s, const struct ks_incident_row *row,
                                  struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_PUT_INCIDENT);
    char at[32];
    int rc = sqlite3_bind_int64(st, 1, row->id);
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 2, row->type);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 3, row->severity);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 4, row->status);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 5, row->fingerprint);
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(st, 6, row->detected_at, at);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 7, row->summary_json);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 8, row->detail_json);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "save incident %lld", (long long)row->id);
    }
    done(st);
    return KS_OK;
}

/* A row without the requested JSON appends "null", so that out always holds
 * one JSON value. */
static enum ks_rc sq_get_incident(struct ks_store *s, int64_t id, int detail, struct ks_buf *out,
                                  struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, detail ? ST_GET_DETAIL : ST_GET_SUMMARY);
    int rc = sqlite3_bind_int64(st, 1, id);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_DONE) {
        done(st);
        return ks_err_set(err, KS_ENOTFOUND, "no incident %lld", (long long)id);
    }
    if (rc != SQLITE_ROW) {
        return fail(q, st, rc, err, "read incident %lld", (long long)id);
    }
    const char *json = col_text(st, 0);
    if (json) {
        ks_buf_put(out, json, (size_t)sqlite3_column_bytes(st, 0));
    } else if (sqlite3_errcode(q->db) == SQLITE_NOMEM) {
        return fail(q, st, SQLITE_NOMEM, err, "read incident %lld", (long long)id);
    } else {
        ks_buf_puts(out, "null");
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_list_incidents(struct ks_store *s, const char *status,
                                    int (*fn)(void *ctx, const struct ks_incident_row *row),
                                    void *ctx, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st;
    int rc = SQLITE_OK;
    if (!status) {
        st = stmt(q, ST_LIST_ALL);
    } else if (strcmp(status, "open") == 0) {
        st = stmt(q, ST_LIST_OPEN);
    } else {
        st = stmt(q, ST_LIST_STATUS);
        rc = bind_text(st, 1, status);
    }
    if (rc != SQLITE_OK) {
        return fail(q, st, rc, err, "list incidents");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct ks_incident_row row = {
            .id = sqlite3_column_int64(st, 0),
            .type = col_text(st, 1),
            .severity = col_text(st, 2),
            .status = col_text(st, 3),
            .fingerprint = col_text(st, 4),
            .summary_json = col_text(st, 6),
            .detail_json = col_text(st, 7),
        };
        if (col_time(st, 5, &row.detected_at) != 0) {
            ks_err_set(err, KS_EIO,
                       "store: list incidents: incident %lld has a malformed "
                       "detected_at \"%.40s\"",
                       (long long)row.id, col_text(st, 5));
            done(st);
            return KS_EIO;
        }
        if (fn(ctx, &row)) {
            done(st);
            return KS_OK;
        }
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "list incidents");
    }
    done(st);
    return KS_OK;
}

/* ---- dead letters ------------------------------------------------------- */

/* A dead letter without a status is stored as "pending". */
static enum ks_rc sq_add_deadletter(struct ks_store *s, struct ks_deadletter *dl,
                                    struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_ADD_DL);
    char at[32];
    int rc = bind_text(st, 1, dl->source);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, dl->line);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 3, dl->reason);
    }
    if (rc == SQLITE_OK) {
        rc = bind_bytes(st, 4, dl->raw, dl->raw_len);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 5, dl->status ? dl->status : "pending");
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(st, 6, dl->received_at, at);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "insert dead letter");
    }
    dl->id = sqlite3_last_insert_rowid(q->db);
    done(st);
    return KS_OK;
}

static enum ks_rc sq_list_deadletters(struct ks_store *s, const char *status,
                                      int (*fn)(void *ctx, const struct ks_deadletter *dl),
                                      void *ctx, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st;
    int rc = SQLITE_OK;
    if (!status) {
        st = stmt(q, ST_LIST_DL_ALL);
    } else {
        st = stmt(q, ST_LIST_DL_STATUS);
        rc = bind_text(st, 1, status);
    }
    if (rc != SQLITE_OK) {
        return fail(q, st, rc, err, "list dead letters");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct ks_deadletter dl = {
            .id = sqlite3_column_int64(st, 0),
            .source = col_text(st, 1),
            .line = sqlite3_column_int64(st, 2),
            .reason = col_text(st, 3),
            .status = col_text(st, 5),
        };
        /* column_blob before column_bytes: the documented safe order. An
         * empty blob comes back as NULL and is handed on as "". */
        dl.raw = sqlite3_column_blob(st, 4);
        dl.raw_len = (size_t)sqlite3_column_bytes(st, 4);
        if (!dl.raw) {
            if (sqlite3_errcode(q->db) == SQLITE_NOMEM) {
                return fail(q, st, SQLITE_NOMEM, err, "list dead letters");
            }
            dl.raw = "";
            dl.raw_len = 0;
        }
        if (col_time(st, 6, &dl.received_at) != 0) {
            ks_err_set(err, KS_EIO,
                       "store: list dead letters: dead letter %lld has a malformed "
                       "received_at \"%.40s\"",
                       (long long)dl.id, col_text(st, 6));
            done(st);
            return KS_EIO;
        }
        if (fn(ctx, &dl)) {
            done(st);
            return KS_OK;
        }
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "list dead letters");
    }
    done(st);
    return KS_OK;
}

/* status or reason NULL keeps the stored value; raw NULL keeps the stored
 * bytes. KS_ENOTFOUND when no dead letter has that id. */
static enum ks_rc sq_update_deadletter(struct ks_store *s, int64_t id, const char *status,
                                       const char *reason, const char *raw, size_t raw_len,
                                       struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, raw ? ST_UPDATE_DL_RAW : ST_UPDATE_DL);
    int rc = sqlite3_bind_int64(st, 1, id);
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 2, status);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 3, reason);
    }
    if (rc == SQLITE_OK && raw) {
        rc = bind_bytes(st, 4, raw, raw_len);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "update dead letter %lld", (long long)id);
    }
    int changed = sqlite3_changes(q->db);
    done(st);
    if (changed == 0) {
        return ks_err_set(err, KS_ENOTFOUND, "no dead letter %lld", (long long)id);
    }
    return KS_OK;
}

/* ---- blobs -------------------------------------------------------------- */

/* Bound with its 64-bit length and without a copy: a checkpoint may be
 * hundreds of megabytes (SQLite's limit is 1 GB per value). */
static enum ks_rc sq_put_blob(struct ks_store *s, const char *key, const void *p, size_t n,
                              struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_PUT_BLOB);
    int rc = bind_text(st, 1, key);
    if (rc == SQLITE_OK) {
        rc = bind_bytes(st, 2, p, n);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "save blob %s (%zu bytes)", key, n);
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_get_blob(struct ks_store *s, const char *key, struct ks_buf *out, int *found,
                              struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_GET_BLOB);
    *found = 0;
    int rc = bind_text(st, 1, key);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_DONE) {
        done(st);
        return KS_OK;
    }
    if (rc != SQLITE_ROW) {
        return fail(q, st, rc, err, "read blob %s", key);
    }
    const void *p = sqlite3_column_blob(st, 0);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    if (p) {
        ks_buf_put(out, p, n);
    } else if (sqlite3_errcode(q->db) == SQLITE_NOMEM) {
        return fail(q, st, SQLITE_NOMEM, err, "read blob %s", key);
    }
    *found = 1;
    done(st);
    return KS_OK;
}

/* ---- the guarded feed and the hook outbox ------------------------------------ */

/* Runs a statement whose parameters are all integers (n of them) to its end. */
static enum ks_rc run_ints(struct sq *q, enum st_id id, const int64_t *v, int n,
                           struct ks_err *err, const char *what)
{
    sqlite3_stmt *st = stmt(q, id);
    int rc = SQLITE_OK;
    for (int i = 0; i < n && rc == SQLITE_OK; i++) {
        rc = sqlite3_bind_int64(st, i + 1, v[i]);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "%s", what);
    }
    done(st);
    return KS_OK;
}

/* Inserts (text key, ints, blob) rows: feed blocks and dictionary blocks. */
static enum ks_rc put_block(struct ks_store *s, enum st_id id, const char *key, int64_t a,
                            int64_t b, const void *data, size_t n, struct ks_err *err,
                            const char *what)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, id);
    int i = 1, rc = SQLITE_OK;
    if (key) {
        rc = bind_text(st, i++, key);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, i++, a);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, i++, b);
    }
    if (rc == SQLITE_OK) {
        rc = bind_bytes(st, i, data, n);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "%s", what);
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_add_feed_block(struct ks_store *s, const char *channel, int64_t first,
                                    int64_t last, const void *data, size_t n, struct ks_err *err)
{
    return put_block(s, ST_ADD_FEED_BLOCK, channel, first, last, data, n, err,
                     "insert feed block");
}

/* Steps st (bound) and calls fn(ctx, int0, int1, blob2) per row. */
static enum ks_rc each_block(struct sq *q, sqlite3_stmt *st,
                             int (*fn)(void *ctx, int64_t a, int64_t b, const void *p, size_t n),
                             void *ctx, struct ks_err *err, const char *what)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(st, 2);
        size_t n = (size_t)sqlite3_column_bytes(st, 2);
        if (!p && sqlite3_errcode(q->db) == SQLITE_NOMEM) {
            return fail(q, st, SQLITE_NOMEM, err, "%s", what);
        }
        if (fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), p ? p : "", n)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "%s", what);
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_list_feed_blocks(struct ks_store *s, const char *channel, int64_t since,
                                      ks_feed_block_fn fn, void *ctx, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_LIST_FEED_BLOCKS);
    int rc = bind_text(st, 1, channel);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, since);
    }
    if (rc != SQLITE_OK) {
        return fail(q, st, rc, err, "list feed");
    }
    return each_block(q, st, fn, ctx, err, "list feed");
}

static enum ks_rc sq_list_feed_channels(struct ks_store *s, int (*fn)(void *ctx, const char *ch),
                                        void *ctx, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_FEED_CHANNELS);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (fn(ctx, col_text(st, 0))) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "list feed channels");
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_trim_feed(struct ks_store *s, const char *channel, int64_t seq,
                               struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_TRIM_FEED);
    int rc = bind_text(st, 1, channel);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, seq);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "trim feed of %s", channel);
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_add_skus(struct ks_store *s, int64_t first, int64_t count, const void *data,
                              size_t n, struct ks_err *err)
{
    return put_block(s, ST_ADD_SKUS, NULL, first, count, data, n, err,
                     "insert SKU dictionary block");
}

static enum ks_rc sq_list_skus(struct ks_store *s, int64_t below, ks_sku_block_fn fn, void *ctx,
                               struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_LIST_SKUS);
    int rc = sqlite3_bind_int64(st, 1, below);
    if (rc != SQLITE_OK) {
        return fail(q, st, rc, err, "read SKU dictionary");
    }
    return each_block(q, st, fn, ctx, err, "read SKU dictionary");
}

static enum ks_rc sq_ck_clear(struct ks_store *s, struct ks_err *err)
{
    return run(sq_of(s), ST_CK_CLEAR, err, "clear checkpoint");
}

static enum ks_rc sq_ck_put(struct ks_store *s, int64_t part, const void *p, size_t n,
                            struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_CK_PUT);
    int rc = sqlite3_bind_int64(st, 1, part);
    if (rc == SQLITE_OK) {
        rc = bind_bytes(st, 2, p, n);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "save checkpoint part %lld (%zu bytes)", (long long)part, n);
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_ck_open(struct ks_store *s, uint64_t *total, int *found, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_CK_SIZE);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        return fail(q, st, rc, err, "read checkpoint");
    }
    *found = sqlite3_column_int64(st, 0) > 0;
    *total = (uint64_t)sqlite3_column_int64(st, 1);
    done(st);
    return KS_OK;
}

static enum ks_rc sq_ck_next(struct ks_store *s, const void **p, size_t *n, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = q->st[ST_CK_READ]; /* running between calls */
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        *p = NULL;
        *n = 0;
        return KS_OK;
    }
    if (rc != SQLITE_ROW) {
        return fail(q, st, rc, err, "read checkpoint");
    }
    *p = sqlite3_column_blob(st, 0);
    *n = (size_t)sqlite3_column_bytes(st, 0);
    if (!*p && sqlite3_errcode(q->db) == SQLITE_NOMEM) {
        return fail(q, st, SQLITE_NOMEM, err, "read checkpoint");
    }
    return KS_OK;
}

static void sq_ck_close(struct ks_store *s)
{
    done(sq_of(s)->st[ST_CK_READ]);
}

static enum ks_rc sq_max_ids(struct ks_store *s, int64_t *dl, int64_t *hook, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_MAX_IDS);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        return fail(q, st, rc, err, "read last ids");
    }
    *dl = sqlite3_column_int64(st, 0);
    *hook = sqlite3_column_int64(st, 1);
    done(st);
    return KS_OK;
}

static enum ks_rc sq_trim(struct ks_store *s, const struct ks_store_trim *t, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    int64_t seqs[2] = {t->deadletter, t->hook};
    enum ks_rc rc = run_ints(q, ST_TRIM_DL, &t->deadletter, 1, err, "undo dead letters");
    if (rc == KS_OK) {
        rc = run_ints(q, ST_TRIM_HOOKS, &t->hook, 1, err, "undo hook calls");
    }
    if (rc == KS_OK) {
        rc = run_ints(q, ST_TRIM_SKUS, &t->skus, 1, err, "undo SKU dictionary");
    }
    if (rc == KS_OK) {
        rc = run_ints(q, ST_TRIM_INCIDENTS, &t->incidents, 1, err, "undo incidents");
    }
    if (rc == KS_OK) {
        rc = run_ints(q, ST_TRIM_SEQ, seqs, 2, err, "reset ids");
    }
    if (rc == KS_OK && t->messages >= 0) {
        rc = run_ints(q, ST_TRIM_MESSAGES, &t->messages, 1, err, "undo messages");
    }
    if (rc == KS_OK && t->triggers >= 0) {
        rc = run_ints(q, ST_TRIM_TRIGGERS, &t->triggers, 1, err, "undo triggers");
    }
    return rc;
}

/* ---- the outbox of messages (migration 7) ------------------------------------ */

static enum ks_rc sq_add_message(struct ks_store *s, struct ks_message_row *r, int *added,
                                 struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_ADD_MESSAGE);
    char t1[32], t2[32], t3[32];
    const char *texts[] = {r->key, NULL, r->kind, r->audience, r->recipient, r->receiver,
                           r->order_id, r->subject, r->body, r->status ? r->status : "queued"};
    int rc = SQLITE_OK;
    for (int i = 0; i < 10 && rc == SQLITE_OK; i++) {
        rc = i == 1 ? sqlite3_bind_int64(st, 2, r->incident) : bind_text(st, i + 1, texts[i]);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 11, r->attempts);
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(st, 12, r->created_at, t1);
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(st, 13, r->sent_at, t2);
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(st, 14, r->next_at, t3);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 15, r->detail);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "queue message");
    }
    *added = sqlite3_changes(q->db) > 0;
    if (*added) {
        r->id = sqlite3_last_insert_rowid(q->db);
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_list_messages(struct ks_store *s, const struct ks_message_filter *f,
                                   int (*fn)(void *ctx, const struct ks_message_row *row),
                                   void *ctx, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_LIST_MESSAGES);
    int rc = sqlite3_bind_int64(st, 1, f ? f->id : 0);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, f ? f->incident : 0);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 3, f ? f->audience : NULL);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 4, f ? f->status : NULL);
    }
    if (rc != SQLITE_OK) {
        return fail(q, st, rc, err, "list messages");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct ks_message_row m = {0};
        m.id = sqlite3_column_int64(st, 0);
        m.key = col_text(st, 1);
        m.incident = sqlite3_column_int64(st, 2);
        m.kind = col_text(st, 3);
        m.audience = col_text(st, 4);
        m.recipient = col_text(st, 5);
        m.receiver = col_text(st, 6);
        m.order_id = col_text(st, 7);
        m.subject = col_text(st, 8);
        m.body = col_text(st, 9);
        m.status = col_text(st, 10);
        m.attempts = sqlite3_column_int64(st, 11);
        col_time(st, 12, &m.created_at);
        col_time(st, 13, &m.sent_at);
        col_time(st, 14, &m.next_at);
        m.detail = col_text(st, 15);
        if (fn(ctx, &m)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "list messages");
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_update_message(struct ks_store *s, int64_t id, const char *status,
                                    int64_t attempts, ks_time next_at, ks_time sent_at,
                                    const char *detail, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_UPDATE_MESSAGE);
    char t1[32], t2[32];
    int rc = sqlite3_bind_int64(st, 1, id);
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 2, status);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 3, attempts);
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(st, 4, next_at, t1);
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(st, 5, sent_at, t2);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 6, detail);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "update message %lld", (long long)id);
    }
    int changed = sqlite3_changes(q->db);
    done(st);
    if (!changed) {
        return ks_err_set(err, KS_ENOTFOUND, "no message %lld", (long long)id);
    }
    return KS_OK;
}

static enum ks_rc sq_get_trigger(struct ks_store *s, int64_t incident, const char *name,
                                 int64_t seq, struct ks_trigger_row *out, int *found,
                                 struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_GET_TRIGGER);
    *found = 0;
    int rc = sqlite3_bind_int64(st, 1, incident);
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 2, name);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 3, seq);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_ROW) {
        *found = 1;
        out->incident = incident;
        out->name = name;
        out->seq = seq;
        col_time(st, 0, &out->at);
        out->done = sqlite3_column_int64(st, 1);
        rc = SQLITE_DONE;
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "read trigger");
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_put_trigger(struct ks_store *s, const struct ks_trigger_row *r,
                                 struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_PUT_TRIGGER);
    char t[32];
    int rc = sqlite3_bind_int64(st, 1, r->incident);
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 2, r->name);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 3, r->seq);
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(st, 4, r->at, t);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 5, r->done);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "record trigger");
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_max_message_ids(struct ks_store *s, int64_t *message, int64_t *trigger,
                                     struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_MAX_MESSAGE_IDS);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        return fail(q, st, rc, err, "read last message ids");
    }
    *message = sqlite3_column_int64(st, 0);
    *trigger = sqlite3_column_int64(st, 1);
    done(st);
    return KS_OK;
}

static enum ks_rc sq_find_input(struct ks_store *s, const char *path, struct ks_input_row *out,
                                int *found, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_FIND_INPUT);
    *found = 0;
    int rc = bind_text(st, 1, path);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_DONE) {
        done(st);
        return KS_OK;
    }
    if (rc != SQLITE_ROW) {
        return fail(q, st, rc, err, "find input %s", path);
    }
    out->id = sqlite3_column_int64(st, 0);
    out->path = path;
    out->prefix_len = sqlite3_column_int64(st, 1);
    out->prefix_hash = (uint64_t)sqlite3_column_int64(st, 2);
    out->offset = sqlite3_column_int64(st, 3);
    out->line = sqlite3_column_int64(st, 4);
    out->size = sqlite3_column_int64(st, 5);
    *found = 1;
    done(st);
    return KS_OK;
}

static enum ks_rc sq_put_input(struct ks_store *s, struct ks_input_row *r, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_PUT_INPUT);
    char at[32];
    int rc = r->id ? sqlite3_bind_int64(st, 1, r->id) : sqlite3_bind_null(st, 1);
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 2, r->path);
    }
    int64_t v[5] = {r->prefix_len, (int64_t)r->prefix_hash, r->offset, r->line, r->size};
    for (int i = 0; i < 5 && rc == SQLITE_OK; i++) {
        rc = sqlite3_bind_int64(st, 3 + i, v[i]);
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(st, 8, ks_time_now(), at);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "save position in %s", r->path);
    }
    if (!r->id) {
        r->id = sqlite3_last_insert_rowid(q->db);
    }
    done(st);
    return KS_OK;
}

/* Moves what the write-ahead log holds into the database and truncates it,
 * so that a failed write on a full disk does not keep the disk full. */
static enum ks_rc sq_release(struct ks_store *s, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    int rc = sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    if (rc != SQLITE_OK) {
        return fail(q, NULL, rc, err, "release the write-ahead log");
    }
    return KS_OK;
}

static enum ks_rc sq_log_autocopy(struct ks_store *s, int on, struct ks_err *err)
{
    (void)err;
    sq_autocopy(sq_of(s), on);
    return KS_OK;
}

/* A passive copy: what no reader still needs, without waiting for anyone.
 * Busy (another connection copying) is not an error: it is being done. */
static enum ks_rc sq_copy_log(struct ks_store *s, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    int rc = sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        return fail(q, NULL, rc, err, "copy the write-ahead log");
    }
    return KS_OK;
}

static enum ks_rc sq_add_hook(struct ks_store *s, const struct ks_hook_row *r, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_ADD_HOOK);
    char at[32];
    int rc = bind_text(st, 1, r->key);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, r->incident);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 3, r->action);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 4, r->body);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 5, r->status ? r->status : "pending");
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 6, r->attempts);
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(st, 7, r->next_at, at);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 8, r->detail);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "insert hook call");
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_list_hooks(struct ks_store *s, const char *status,
                                int (*fn)(void *ctx, const struct ks_hook_row *row), void *ctx,
                                struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st;
    int rc = SQLITE_OK;
    if (!status) {
        st = stmt(q, ST_LIST_HOOKS_ALL);
    } else {
        st = stmt(q, ST_LIST_HOOKS_STATUS);
        rc = bind_text(st, 1, status);
    }
    if (rc != SQLITE_OK) {
        return fail(q, st, rc, err, "list hook calls");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct ks_hook_row row = {col_text(st, 0),  sqlite3_column_int64(st, 1), col_text(st, 2),
                                  col_text(st, 3),  col_text(st, 4), sqlite3_column_int64(st, 5),
                                  KS_TIME_NONE, col_text(st, 7)};
        col_time(st, 6, &row.next_at);
        if (fn(ctx, &row)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "list hook calls");
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_update_hook(struct ks_store *s, const char *key, const char *status,
                                 int64_t attempts, ks_time next_at, const char *detail,
                                 struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_UPDATE_HOOK);
    char at[32];
    int rc = bind_text(st, 1, key);
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 2, status);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 3, attempts);
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(st, 4, next_at, at);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 5, detail);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "update hook call");
    }
    done(st);
    if (sqlite3_changes(q->db) == 0) {
        return ks_err_set(err, KS_ENOTFOUND, "store: no hook call with key %s", key);
    }
    return KS_OK;
}

/* ---- reviews, action items and entered costs (migration 4) ------------------- */

static enum ks_rc sq_put_review(struct ks_store *s, const struct ks_review_row *r,
                                struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_PUT_REVIEW);
    char at[32], rc_at[32];
    int rc = sqlite3_bind_int64(st, 1, r->incident);
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 2, r->doc);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 3, r->by);
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(st, 4, r->at, at);
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(st, 5, r->root_cause_at, rc_at);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "save review of incident %lld", (long long)r->incident);
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_list_reviews(struct ks_store *s, int64_t incident,
                                  int (*fn)(void *ctx, const struct ks_review_row *row),
                                  void *ctx, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, incident ? ST_LIST_REVIEWS_ONE : ST_LIST_REVIEWS_ALL);
    int rc = incident ? sqlite3_bind_int64(st, 1, incident) : SQLITE_OK;
    if (rc != SQLITE_OK) {
        return fail(q, st, rc, err, "list reviews");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct ks_review_row row = {sqlite3_column_int64(st, 0), col_text(st, 1), col_text(st, 2),
                                    KS_TIME_NONE, KS_TIME_NONE, KS_TIME_NONE};
        col_time(st, 3, &row.at);
        col_time(st, 4, &row.first_at);
        col_time(st, 5, &row.root_cause_at);
        if (fn(ctx, &row)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "list reviews");
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_put_item(struct ks_store *s, struct ks_item_row *r, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, r->id ? ST_UPDATE_ITEM : ST_ADD_ITEM);
    char due[32], closed[32];
    int rc = r->id ? sqlite3_bind_int64(st, 1, r->id) : SQLITE_OK;
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, r->incident);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 3, r->pos);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 4, r->text);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 5, r->owner);
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(st, 6, r->due, due);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 7, r->kind);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 8, r->status);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 9, r->closed_by);
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(st, 10, r->closed_at, closed);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 11, r->note);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "save action item of incident %lld", (long long)r->incident);
    }
    done(st);
    if (!r->id) {
        r->id = sqlite3_last_insert_rowid(q->db);
    } else if (sqlite3_changes(q->db) == 0) {
        return ks_err_set(err, KS_ENOTFOUND, "no action item %lld", (long long)r->id);
    }
    return KS_OK;
}

static enum ks_rc sq_del_item(struct ks_store *s, int64_t id, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_DEL_ITEM);
    int rc = sqlite3_bind_int64(st, 1, id);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "delete action item %lld", (long long)id);
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_list_items(struct ks_store *s, int64_t incident,
                                int (*fn)(void *ctx, const struct ks_item_row *row), void *ctx,
                                struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, incident ? ST_LIST_ITEMS_ONE : ST_LIST_ITEMS_ALL);
    int rc = incident ? sqlite3_bind_int64(st, 1, incident) : SQLITE_OK;
    if (rc != SQLITE_OK) {
        return fail(q, st, rc, err, "list action items");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct ks_item_row row = {sqlite3_column_int64(st, 0),
                                  sqlite3_column_int64(st, 1),
                                  sqlite3_column_int64(st, 2),
                                  col_text(st, 3),
                                  col_text(st, 4),
                                  KS_TIME_NONE,
                                  col_text(st, 6),
                                  col_text(st, 7),
                                  col_text(st, 8),
                                  KS_TIME_NONE,
                                  col_text(st, 10)};
        col_time(st, 5, &row.due);
        col_time(st, 9, &row.closed_at);
        if (fn(ctx, &row)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "list action items");
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_put_cost(struct ks_store *s, const struct ks_cost_row *r, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_PUT_COST);
    char at[32];
    int rc = sqlite3_bind_int64(st, 1, r->incident);
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 2, r->part);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_double(st, 3, r->amount);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 4, r->by);
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(st, 5, r->at, at);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "save cost of incident %lld", (long long)r->incident);
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_list_costs(struct ks_store *s, int64_t incident,
                                int (*fn)(void *ctx, const struct ks_cost_row *row), void *ctx,
                                struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, incident ? ST_LIST_COSTS_ONE : ST_LIST_COSTS_ALL);
    int rc = incident ? sqlite3_bind_int64(st, 1, incident) : SQLITE_OK;
    if (rc != SQLITE_OK) {
        return fail(q, st, rc, err, "list costs");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct ks_cost_row row = {sqlite3_column_int64(st, 0), col_text(st, 1),
                                  sqlite3_column_double(st, 2), col_text(st, 3), KS_TIME_NONE};
        col_time(st, 4, &row.at);
        if (fn(ctx, &row)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "list costs");
    }
    done(st);
    return KS_OK;
}

/* ---- remedies (migration 8) ------------------------------------------------- */

static int bind_opt_text(sqlite3_stmt *st, int i, const char *v)
{
    return v ? bind_text(st, i, v) : sqlite3_bind_null(st, i);
}

static enum ks_rc sq_put_remedy(struct ks_store *s, struct ks_remedy_row *r, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_PUT_REMEDY);
    char t1[32], t2[32], t3[32], t4[32];
    int rc = r->id ? sqlite3_bind_int64(st, 1, r->id) : sqlite3_bind_null(st, 1);
    rc = rc ? rc : sqlite3_bind_int64(st, 2, r->incident);
    rc = rc ? rc : bind_text(st, 3, r->order_id);
    rc = rc ? rc : bind_text(st, 4, r->kind);
    rc = rc ? rc : r->has_amount ? sqlite3_bind_double(st, 5, r->amount) : sqlite3_bind_null(st, 5);
    rc = rc ? rc : bind_text(st, 6, r->currency);
    rc = rc ? rc : bind_text(st, 7, r->status);
    rc = rc ? rc : bind_text(st, 8, r->by);
    rc = rc ? rc : bind_opt_text(st, 9, r->approved_by);
    rc = rc ? rc : bind_time(st, 10, r->requested_at, t1);
    rc = rc ? rc : bind_time(st, 11, r->granted_at, t2);
    rc = rc ? rc : bind_opt_text(st, 12, r->note);
    rc = rc ? rc : sqlite3_bind_int(st, 13, r->affected);
    rc = rc ? rc : bind_opt_text(st, 14, r->complex);
    rc = rc ? rc : bind_time(st, 15, r->review_due, t3);
    rc = rc ? rc : bind_opt_text(st, 16, r->review_status);
    rc = rc ? rc : sqlite3_bind_int(st, 17, r->review_missed);
    rc = rc ? rc : bind_opt_text(st, 18, r->reviewed_by);
    rc = rc ? rc : bind_time(st, 19, r->reviewed_at, t4);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "save remedy of incident %lld", (long long)r->incident);
    }
    if (!r->id) {
        r->id = sqlite3_last_insert_rowid(q->db);
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_list_remedies(struct ks_store *s, int64_t incident, int64_t id,
                                   int (*fn)(void *ctx, const struct ks_remedy_row *row),
                                   void *ctx, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, id         ? ST_LIST_REMEDIES_ID
                               : incident ? ST_LIST_REMEDIES_INCIDENT
                                          : ST_LIST_REMEDIES_ALL);
    int rc = id ? sqlite3_bind_int64(st, 1, id)
             : incident ? sqlite3_bind_int64(st, 1, incident)
                        : SQLITE_OK;
    if (rc != SQLITE_OK) {
        return fail(q, st, rc, err, "list remedies");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct ks_remedy_row r = {0};
        r.id = sqlite3_column_int64(st, 0);
        r.incident = sqlite3_column_int64(st, 1);
        r.order_id = col_text(st, 2);
        r.kind = col_text(st, 3);
        r.has_amount = sqlite3_column_type(st, 4) != SQLITE_NULL;
        r.amount = sqlite3_column_double(st, 4);
        r.currency = col_text(st, 5);
        r.status = col_text(st, 6);
        r.by = col_text(st, 7);
        r.approved_by = col_text(st, 8);
        col_time(st, 9, &r.requested_at);
        col_time(st, 10, &r.granted_at);
        r.note = col_text(st, 11);
        r.affected = sqlite3_column_int(st, 12);
        r.complex = col_text(st, 13);
        col_time(st, 14, &r.review_due);
        r.review_status = col_text(st, 15);
        r.review_missed = sqlite3_column_int(st, 16);
        r.reviewed_by = col_text(st, 17);
        col_time(st, 18, &r.reviewed_at);
        if (fn(ctx, &r)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "list remedies");
    }
    done(st);
    return KS_OK;
}

/* ---- API tokens (migration 5) --------------------------------------------- */

static enum ks_rc sq_add_token(struct ks_store *s, const struct ks_token_row *r,
                               struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_ADD_TOKEN);
    char at[32];
    int rc = bind_text(st, 1, r->name);
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 2, r->role);
    }
    if (rc == SQLITE_OK) {
        rc = bind_bytes(st, 3, r->hash, sizeof(r->hash));
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(st, 4, r->created_at, at);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        /* The hash is 32 random bytes hashed: a clash is the name's. */
        done(st);
        return ks_err_set(err, KS_ESTATE,
                          "a token named '%s' already exists (names are never reused, revoked "
                          "tokens included: pick another name)",
                          r->name);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "save token '%s'", r->name);
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_list_tokens(struct ks_store *s, const unsigned char *hash,
                                 int (*fn)(void *ctx, const struct ks_token_row *row), void *ctx,
                                 struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, hash ? ST_LIST_TOKENS_HASH : ST_LIST_TOKENS_ALL);
    int rc = hash ? bind_bytes(st, 1, hash, 32) : SQLITE_OK;
    if (rc != SQLITE_OK) {
        return fail(q, st, rc, err, "list tokens");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct ks_token_row row = {col_text(st, 0), col_text(st, 1), {0}, KS_TIME_NONE,
                                   KS_TIME_NONE};
        if (!row.name || !row.role || sqlite3_column_bytes(st, 2) != (int)sizeof(row.hash)) {
            done(st);
            return ks_err_set(err, KS_EIO, "store: a token row is damaged (name, role or hash)");
        }
        memcpy(row.hash, sqlite3_column_blob(st, 2), sizeof(row.hash));
        col_time(st, 3, &row.created_at);
        col_time(st, 4, &row.revoked_at);
        if (fn(ctx, &row)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "list tokens");
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_revoke_token(struct ks_store *s, const char *name, ks_time at,
                                  struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_REVOKE_TOKEN);
    char when[32];
    int rc = bind_text(st, 1, name);
    if (rc == SQLITE_OK) {
        rc = bind_time(st, 2, at, when);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "revoke token '%s'", name);
    }
    done(st);
    if (sqlite3_changes(q->db) > 0) {
        return KS_OK;
    }
    st = stmt(q, ST_HAS_TOKEN);
    rc = bind_text(st, 1, name);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_ROW) {
        return fail(q, st, rc, err, "revoke token '%s'", name);
    }
    int64_t n = sqlite3_column_int64(st, 0);
    done(st);
    if (n == 0) {
        return ks_err_set(err, KS_ENOTFOUND, "no token named '%s'", name);
    }
    return ks_err_set(err, KS_ESTATE, "token '%s' was already revoked", name);
}

/* ---- the server's journal (migration 6) --------------------------------------- */

static enum ks_rc sq_add_journal(struct ks_store *s, struct ks_journal_row *r, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_ADD_JOURNAL);
    int rc = bind_text(st, 1, r->kind);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, r->at);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text(st, 3, r->source);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_blob64(st, 4, r->len ? r->data : "", r->len, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "append to the journal");
    }
    r->seq = sqlite3_last_insert_rowid(q->db);
    done(st);
    return KS_OK;
}

static enum ks_rc sq_list_journal(struct ks_store *s, int64_t after,
                                  int (*fn)(void *ctx, const struct ks_journal_row *row),
                                  void *ctx, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_LIST_JOURNAL);
    int rc = sqlite3_bind_int64(st, 1, after);
    if (rc != SQLITE_OK) {
        return fail(q, st, rc, err, "read the journal");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct ks_journal_row row = {sqlite3_column_int64(st, 0), col_text(st, 1),
                                     sqlite3_column_int64(st, 2), col_text(st, 3),
                                     sqlite3_column_blob(st, 4),
                                     (size_t)sqlite3_column_bytes(st, 4)};
        if (fn(ctx, &row)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "read the journal");
    }
    done(st);
    return KS_OK;
}

static enum ks_rc sq_trim_journal(struct ks_store *s, int64_t upto, struct ks_err *err)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = stmt(q, ST_TRIM_JOURNAL);
    int rc = sqlite3_bind_int64(st, 1, upto);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        return fail(q, st, rc, err, "trim the journal");
    }
    done(st);
    return KS_OK;
}

const struct ks_store_ops ks_store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .put_incident = sq_put_incident,
    .get_incident = sq_get_incident,
    .list_incidents = sq_list_incidents,
    .add_deadletter = sq_add_deadletter,
    .list_deadletters = sq_list_deadletters,
    .update_deadletter = sq_update_deadletter,
    .put_blob = sq_put_blob,
    .get_blob = sq_get_blob,
    .add_feed_block = sq_add_feed_block,
    .list_feed_blocks = sq_list_feed_blocks,
    .list_feed_channels = sq_list_feed_channels,
    .trim_feed = sq_trim_feed,
    .add_skus = sq_add_skus,
    .list_skus = sq_list_skus,
    .ck_clear = sq_ck_clear,
    .ck_put = sq_ck_put,
    .ck_open = sq_ck_open,
    .ck_next = sq_ck_next,
    .ck_close = sq_ck_close,
    .max_ids = sq_max_ids,
    .trim = sq_trim,
    .find_input = sq_find_input,
    .put_input = sq_put_input,
    .release = sq_release,
    .log_autocopy = sq_log_autocopy,
    .copy_log = sq_copy_log,
    .add_hook = sq_add_hook,
    .list_hooks = sq_list_hooks,
    .update_hook = sq_update_hook,
    .put_review = sq_put_review,
    .list_reviews = sq_list_reviews,
    .put_item = sq_put_item,
    .del_item = sq_del_item,
    .list_items = sq_list_items,
    .put_cost = sq_put_cost,
    .list_costs = sq_list_costs,
    .add_journal = sq_add_journal,
    .list_journal = sq_list_journal,
    .trim_journal = sq_trim_journal,
    .add_message = sq_add_message,
    .list_messages = sq_list_messages,
    .update_message = sq_update_message,
    .get_trigger = sq_get_trigger,
    .put_trigger = sq_put_trigger,
    .max_message_ids = sq_max_message_ids,
    .add_token = sq_add_token,
    .list_tokens = sq_list_tokens,
    .revoke_token = sq_revoke_token,
    .put_remedy = sq_put_remedy,
    .list_remedies = sq_list_remedies,
};
