/*
 * schema.c - the store's schema and every statement it runs, written once in
 * SQLite's dialect. The PostgreSQL driver translates both (ks_sql_to_pg in
 * postgres.c) and overrides the few statements listed there. What may be
 * written here so that the translation holds is in docs/STORAGE.md ("Adding
 * a migration or an operation").
 */
#include "sql.h"

/* Migration i brings the schema from version i to i + 1. Append only: a
 * released migration is never edited, a change is a new entry. */
const char *const ks_sql_migrations[] = {
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
    /* 9: an incident's lifecycle instants, impact and scope as columns beside
     * its JSON, for readers that filter and count without parsing it. The
     * rows already there are filled from their JSON by the migration itself
     * (backfill_9 in sqlops.c, in the same transaction). */
    "ALTER TABLE incidents ADD COLUMN title TEXT;"
    "ALTER TABLE incidents ADD COLUMN owner TEXT;"
    "ALTER TABLE incidents ADD COLUMN started_at TEXT;"
    "ALTER TABLE incidents ADD COLUMN acknowledged_at TEXT;"
    "ALTER TABLE incidents ADD COLUMN contained_at TEXT;"
    "ALTER TABLE incidents ADD COLUMN resolved_at TEXT;"
    "ALTER TABLE incidents ADD COLUMN review_due TEXT;"
    "ALTER TABLE incidents ADD COLUMN repeat_of INTEGER;"
    "ALTER TABLE incidents ADD COLUMN orders INTEGER;"
    "ALTER TABLE incidents ADD COLUMN customers INTEGER;"
    "ALTER TABLE incidents ADD COLUMN units INTEGER;"
    "ALTER TABLE incidents ADD COLUMN revenue REAL;"
    "CREATE INDEX incidents_severity ON incidents(severity);"
    "CREATE INDEX incidents_type ON incidents(type);"
    "CREATE INDEX incidents_detected ON incidents(detected_at);"
    "CREATE TABLE incident_scope("
    "  incident INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  pos INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  PRIMARY KEY(incident, kind, pos));"
    "CREATE INDEX incident_scope_name ON incident_scope(kind, name);",
    /* 10: delivery leases (docs/STORAGE.md): a deliverer claims the due rows
     * of an outbox for a while before it attempts them, so that one
     * deliverer attempts each; a recorded attempt ends the lease. */
    "ALTER TABLE hooks ADD COLUMN lease_owner TEXT;"
    "ALTER TABLE hooks ADD COLUMN lease_until TEXT;"
    "ALTER TABLE messages ADD COLUMN lease_owner TEXT;"
    "ALTER TABLE messages ADD COLUMN lease_until TEXT;"
    /* claims walk (status, audience) in id order (KS_SQL_CLAIM_MESSAGES);
     * it serves what (status) served */
    "CREATE INDEX messages_due ON messages(status, audience);"
    "DROP INDEX messages_status;",
    /* 11: the database's own id (docs/STORAGE.md), which every message's
     * and hook call's idempotency key carries, so that no two databases
     * give one key to two messages. Written by the migration's step in C
     * (id_11 in sqlops.c, in the same transaction, from random bytes): blob
     * 'db_id', 32 hex digits, and 'hook_keys_from', the first hook call
     * (id) sent with it; the calls already there keep the key they were
     * sent with. */
    "DELETE FROM blobs WHERE key IN ('db_id', 'hook_keys_from');",
    /* 12: a remedy that waited for approval and was declined (or withdrawn
     * by the person who proposed it): who, when and why (docs/REMEDIES.md). */
    "ALTER TABLE remedies ADD COLUMN declined_by TEXT;"
    "ALTER TABLE remedies ADD COLUMN declined_at TEXT;"
    "ALTER TABLE remedies ADD COLUMN declined_why TEXT;",
};

const int ks_sql_schema_version = (int)(sizeof(ks_sql_migrations) / sizeof(ks_sql_migrations[0]));

#define INCIDENT_COLS                                                                              \
    "SELECT id, type, severity, status, fingerprint, detected_at, summary_json, detail_json, "     \
    "title, owner, started_at, acknowledged_at, contained_at, resolved_at, review_due, "          \
    "repeat_of, orders, customers, units, revenue FROM incidents "
/* The filters of struct ks_incident_filter, ?1 .. ?5 (NULL: any). */
#define INCIDENT_FILTER                                                                            \
    "(severity = ?1 OR ?1 IS NULL) AND (type = ?2 OR ?2 IS NULL) AND "                             \
    "(detected_at >= ?3 OR ?3 IS NULL) AND (detected_at < ?4 OR ?4 IS NULL) AND "                 \
    "(id IN (SELECT incident FROM incident_scope WHERE kind = 'channel' AND name = ?5) OR "      \
    "?5 IS NULL) "
/* The columns of migration 9 that put_incident derives from the JSON. */
#define INCIDENT_DERIVED                                                                           \
    "title, owner, started_at, acknowledged_at, contained_at, resolved_at, review_due, "          \
    "repeat_of, orders, customers, units, revenue"
#define DL_COLS "SELECT id, source, line, reason, raw, status, received_at FROM deadletters "
#define HOOK_COLS "SELECT " KS_SQL_HOOK_COLS " FROM hooks "
#define REVIEW_COLS                                                                                \
    "SELECT incident, doc, updated_by, updated_at, first_at, root_cause_at FROM reviews "
#define ITEM_COLS                                                                                  \
    "SELECT id, incident, pos, text, owner, due, kind, status, closed_by, closed_at, note "        \
    "FROM review_items "
#define COST_COLS "SELECT incident, part, amount, set_by, set_at FROM costs "
#define TOKEN_COLS "SELECT name, role, hash, created_at, revoked_at FROM tokens "
#define MESSAGE_COLS "SELECT " KS_SQL_MESSAGE_COLS " FROM messages "
#define REMEDY_COLS                                                                                \
    "SELECT id, incident, order_id, kind, amount, currency, status, by_person, approved_by, "     \
    "requested_at, granted_at, note, affected, complex, review_due, review_status, "              \
    "review_missed, reviewed_by, reviewed_at, declined_by, declined_at, declined_why "          \
    "FROM remedies "

/* Portable on purpose: ON CONFLICT ... DO NOTHING rather than INSERT OR
 * IGNORE, RETURNING rather than last_insert_rowid(), "offset" quoted, every
 * parameter used (PostgreSQL must infer each one's type). */
const char *const ks_sql_statements[ST_COUNT] = {
    [ST_HAS_MIGRATIONS] = "SELECT count(*) FROM sqlite_master "
                          "WHERE type = 'table' AND name = 'schema_migrations'",
    [ST_SCHEMA_VERSION] = "SELECT coalesce(max(version), 0) FROM schema_migrations",
    [ST_ADD_MIGRATION] = "INSERT INTO schema_migrations(version, applied_at) VALUES(?1, ?2)",
    [ST_PUT_INCIDENT] =
        "INSERT INTO incidents(id, type, severity, status, fingerprint, detected_at, "
        "summary_json, detail_json, " INCIDENT_DERIVED ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, "
        "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20) "
        "ON CONFLICT(id) DO UPDATE SET type = excluded.type, severity = excluded.severity, "
        "status = excluded.status, fingerprint = excluded.fingerprint, "
        "detected_at = excluded.detected_at, summary_json = excluded.summary_json, "
        "detail_json = excluded.detail_json, title = excluded.title, owner = excluded.owner, "
        "started_at = excluded.started_at, acknowledged_at = excluded.acknowledged_at, "
        "contained_at = excluded.contained_at, resolved_at = excluded.resolved_at, "
        "review_due = excluded.review_due, repeat_of = excluded.repeat_of, "
        "orders = excluded.orders, customers = excluded.customers, units = excluded.units, "
        "revenue = excluded.revenue",
    [ST_GET_SUMMARY] = "SELECT summary_json FROM incidents WHERE id = ?1",
    [ST_GET_DETAIL] = "SELECT detail_json FROM incidents WHERE id = ?1",
    [ST_LIST_ALL] = INCIDENT_COLS "WHERE " INCIDENT_FILTER "ORDER BY id",
    [ST_LIST_OPEN] = INCIDENT_COLS "WHERE (status IS NULL OR status <> 'resolved') AND "
                                   INCIDENT_FILTER "ORDER BY id",
    [ST_LIST_STATUS] = INCIDENT_COLS "WHERE status = ?6 AND " INCIDENT_FILTER "ORDER BY id",
    /* An incident's scope (migration 9): rewritten whole with the incident. */
    [ST_DEL_SCOPE] = "DELETE FROM incident_scope WHERE incident = ?1",
    [ST_ADD_SCOPE] = "INSERT INTO incident_scope(incident, kind, pos, name) "
                     "VALUES(?1, ?2, ?3, ?4)",
    [ST_TRIM_SCOPE] = "DELETE FROM incident_scope WHERE incident > ?1",
    /* Migration 9's own (its backfill runs against the schema of version 9:
     * never change these two, a later migration brings its own). */
    [ST_MIG9_PAGE] = "SELECT id, coalesce(summary_json, detail_json) FROM incidents "
                     "WHERE id > ?1 ORDER BY id LIMIT 64",
    [ST_MIG9_SET] = "UPDATE incidents SET title = ?2, owner = ?3, started_at = ?4, "
                    "acknowledged_at = ?5, contained_at = ?6, resolved_at = ?7, "
                    "review_due = ?8, repeat_of = ?9, orders = ?10, customers = ?11, "
                    "units = ?12, revenue = ?13 WHERE id = ?1",
    /* Migration 11's own (never changed afterwards, as migration 9's). */
    [ST_MIG11_NEXT_HOOK] = "SELECT coalesce(max(id), 0) + 1 FROM hooks",
    [ST_MIG11_PUT] = "INSERT INTO blobs(key, value) VALUES(?1, ?2)",
    [ST_ADD_DL] = "INSERT INTO deadletters(source, line, reason, raw, status, received_at) "
                  "VALUES(?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
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
    /* Read a page at a time (after the block that starts at ?3). */
    [ST_LIST_FEED_BLOCKS] = "SELECT first_seq, last_seq, data FROM feed_blocks "
                            "WHERE channel = ?1 AND last_seq > ?2 AND first_seq > ?3 "
                            "ORDER BY first_seq LIMIT 64",
    [ST_FEED_CHANNELS] = "SELECT DISTINCT channel FROM feed_blocks ORDER BY channel",
    [ST_TRIM_FEED] = "DELETE FROM feed_blocks WHERE channel = ?1 AND first_seq > ?2",
    [ST_ADD_SKUS] = "INSERT INTO skus(first_id, n, data) VALUES(?1, ?2, ?3)",
    [ST_LIST_SKUS] = "SELECT first_id, n, data FROM skus WHERE first_id < ?1 AND first_id > ?2 "
                     "ORDER BY first_id LIMIT 64",
    [ST_CK_CLEAR] = "DELETE FROM checkpoint",
    [ST_CK_PUT] = "INSERT INTO checkpoint(part, data) VALUES(?1, ?2)",
    [ST_CK_SIZE] = "SELECT count(*), coalesce(sum(length(data)), 0) FROM checkpoint",
    [ST_CK_PART] = "SELECT data FROM checkpoint WHERE part = ?1",
    [ST_MAX_IDS] = "SELECT (SELECT coalesce(max(id), 0) FROM deadletters), "
                   "(SELECT coalesce(max(id), 0) FROM hooks)",
    [ST_TRIM_DL] = "DELETE FROM deadletters WHERE id > ?1",
    [ST_TRIM_HOOKS] = "DELETE FROM hooks WHERE id > ?1",
    [ST_TRIM_SKUS] = "DELETE FROM skus WHERE first_id >= ?1",
    [ST_TRIM_INCIDENTS] = "DELETE FROM incidents WHERE id > ?1",
    /* AUTOINCREMENT ids continue after the marks, as if the undone rows had
     * never been written: a resumed ingest gives the ids an uninterrupted
     * one gives. (PostgreSQL: setval of the identity sequences.) */
    [ST_TRIM_SEQ] = "UPDATE sqlite_sequence SET seq = CASE name WHEN 'deadletters' THEN ?1 "
                    "ELSE ?2 END WHERE name IN ('deadletters', 'hooks')",
    [ST_FIND_INPUT] = "SELECT id, prefix_len, prefix_hash, \"offset\", line, size FROM inputs "
                      "WHERE path = ?1 ORDER BY id DESC LIMIT 1",
    [ST_ADD_INPUT] = "INSERT INTO inputs(path, prefix_len, prefix_hash, \"offset\", line, size, "
                     "updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
    [ST_UPDATE_INPUT] = "UPDATE inputs SET path = ?2, prefix_len = ?3, prefix_hash = ?4, "
                        "\"offset\" = ?5, line = ?6, size = ?7, updated_at = ?8 WHERE id = ?1",
    [ST_ADD_HOOK] = "INSERT INTO hooks(key, incident, action, body, status, attempts, next_at, "
                    "detail) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(key) DO NOTHING",
    [ST_LIST_HOOKS_ALL] = HOOK_COLS "ORDER BY id",
    [ST_LIST_HOOKS_STATUS] = HOOK_COLS "WHERE status = ?1 ORDER BY id",
    [ST_GET_HOOK] = HOOK_COLS "WHERE key = ?1",
    /* A recorded attempt ends the lease of its deliverer. */
    [ST_UPDATE_HOOK] = "UPDATE hooks SET status = ?2, attempts = ?3, next_at = ?4, detail = ?5, "
                       "lease_owner = NULL, lease_until = NULL WHERE key = ?1",
    [ST_CLAIM_HOOKS] = KS_SQL_CLAIM_HOOKS(""),
    [ST_DUE_HOOKS] = KS_SQL_DUE("hooks", "pending", ""),
    /* ?1 a process: its deliverers' names begin with it (ks_outbox_owner). */
    [ST_VOID_HOOK_LEASES] = "UPDATE hooks SET lease_owner = NULL, lease_until = NULL "
                            "WHERE status = 'pending' AND "
                            "substr(lease_owner, 1, length(CAST(?1 AS TEXT))) <> ?1",
    [ST_PUT_REVIEW] =
        "INSERT INTO reviews(incident, doc, updated_by, updated_at, first_at, root_cause_at) "
        "VALUES(?1, ?2, ?3, ?4, ?4, ?5) ON CONFLICT(incident) DO UPDATE SET doc = excluded.doc, "
        "updated_by = excluded.updated_by, updated_at = excluded.updated_at, "
        "root_cause_at = CASE WHEN excluded.root_cause_at IS NULL THEN NULL "
        "ELSE coalesce(reviews.root_cause_at, excluded.root_cause_at) END",
    [ST_LIST_REVIEWS_ALL] = REVIEW_COLS "ORDER BY incident",
    [ST_LIST_REVIEWS_ONE] = REVIEW_COLS "WHERE incident = ?1",
    [ST_ADD_ITEM] = "INSERT INTO review_items(incident, pos, text, owner, due, kind, status, "
                    "closed_by, closed_at, note) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
                    "RETURNING id",
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
    /* No row changed: the name is taken (the hash is 32 random bytes hashed). */
    [ST_ADD_TOKEN] = "INSERT INTO tokens(name, role, hash, created_at) VALUES(?1, ?2, ?3, ?4) "
                     "ON CONFLICT DO NOTHING",
    [ST_LIST_TOKENS_ALL] = TOKEN_COLS "ORDER BY name",
    [ST_LIST_TOKENS_HASH] = TOKEN_COLS "WHERE hash = ?1",
    [ST_REVOKE_TOKEN] = "UPDATE tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
    [ST_HAS_TOKEN] = "SELECT count(*) FROM tokens WHERE name = ?1",
    [ST_ADD_JOURNAL] = "INSERT INTO journal(kind, at, source, data) VALUES(?1, ?2, ?3, ?4) "
                       "RETURNING seq",
    [ST_LIST_JOURNAL] = "SELECT seq, kind, at, source, data FROM journal WHERE seq > ?1 "
                        "ORDER BY seq",
    [ST_TRIM_JOURNAL] = "DELETE FROM journal WHERE seq <= ?1",
    /* No row (and no id) when (key, receiver) is queued already. */
    [ST_ADD_MESSAGE] =
        "INSERT INTO messages(key, incident, kind, audience, recipient, receiver, order_id, "
        "subject, body, status, attempts, created_at, sent_at, next_at, detail) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
        "ON CONFLICT(key, receiver) DO NOTHING RETURNING id",
    /* 0 or NULL: any. Each parameter's first use gives PostgreSQL its type. */
    [ST_LIST_MESSAGES] = MESSAGE_COLS
        "WHERE (id = ?1 OR ?1 = 0) AND (incident = ?2 OR ?2 = 0) AND "
        "(audience = ?3 OR ?3 IS NULL) AND (status = ?4 OR ?4 IS NULL) AND "
        "(receiver = ?5 OR ?5 IS NULL) ORDER BY id",
    [ST_UPDATE_MESSAGE] = "UPDATE messages SET status = ?2, attempts = ?3, next_at = ?4, "
                          "sent_at = ?5, detail = ?6, lease_owner = NULL, lease_until = NULL "
                          "WHERE id = ?1",
    [ST_MESSAGE_ID] = "SELECT id FROM messages WHERE key = ?1 AND receiver = ?2",
    [ST_CLAIM_PEOPLE] = KS_SQL_CLAIM_MESSAGES(KS_SQL_PEOPLE, ""),
    [ST_CLAIM_CUSTOMERS] = KS_SQL_CLAIM_MESSAGES(KS_SQL_CUSTOMERS, ""),
    [ST_DUE_MESSAGES] = KS_SQL_DUE("messages", "queued", " AND (receiver = ?3 OR ?3 IS NULL)"),
    [ST_VOID_MESSAGE_LEASES] = "UPDATE messages SET lease_owner = NULL, lease_until = NULL "
                               "WHERE status = 'queued' AND "
                               "substr(lease_owner, 1, length(CAST(?1 AS TEXT))) <> ?1",
    /* The due and the later-but-sooner waiting messages of one receiver
     * (not leased by another deliverer) wait until ?4. */
    [ST_HOLD_MESSAGES] = "UPDATE messages SET next_at = ?4, detail = ?5, lease_owner = NULL, "
                         "lease_until = NULL WHERE status = 'queued' AND receiver = ?1 AND "
                         "(next_at IS NULL OR next_at < ?4) AND (lease_until IS NULL OR "
                         "lease_until <= ?3 OR lease_owner = ?2)",
    /* The waiting messages (of receiver ?1, NULL: of every one) due now. */
    [ST_DUE_NOW] = "UPDATE messages SET next_at = NULL WHERE status = 'queued' AND "
                   "next_at IS NOT NULL AND (receiver = ?1 OR ?1 IS NULL)",
    [ST_GET_TRIGGER] = "SELECT at, done FROM message_triggers WHERE incident = ?1 AND name = ?2 "
                       "AND seq = ?3",
    [ST_PUT_TRIGGER] = "INSERT INTO message_triggers(incident, name, seq, at, done) "
                       "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(incident, name, seq) "
                       "DO UPDATE SET done = excluded.done",
    /* Per receiver and status: how many, the oldest creation, and for the
     * failed ones how the last failure went (looked up for them only: the
     * sent may be many). */
    [ST_MESSAGE_STATS] = "SELECT receiver, status, count(*), min(created_at), "
                         "CASE WHEN status = 'failed' THEN (SELECT f.detail FROM messages f "
                         "WHERE f.receiver = m.receiver AND f.status = 'failed' "
                         "ORDER BY f.id DESC LIMIT 1) "
                         "WHEN status = 'queued' THEN (SELECT f.detail FROM messages f "
                         "WHERE f.receiver = m.receiver AND f.status = 'queued' AND "
                         "f.attempts > 0 ORDER BY f.id DESC LIMIT 1) END, "
                         "CASE WHEN status = 'queued' THEN min(next_at) END "
                         "FROM messages m GROUP BY receiver, status ORDER BY receiver, status",
    [ST_MAX_MESSAGE_IDS] = "SELECT (SELECT coalesce(max(id), 0) FROM messages), "
                           "(SELECT coalesce(max(id), 0) FROM message_triggers)",
    [ST_TRIM_MESSAGES] = "DELETE FROM messages WHERE id > ?1",
    [ST_TRIM_TRIGGERS] = "DELETE FROM message_triggers WHERE id > ?1",
    /* A new remedy gets its id from the table; a known one is replaced whole. */
    [ST_ADD_REMEDY] =
        "INSERT INTO remedies(incident, order_id, kind, amount, currency, status, by_person, "
        "approved_by, requested_at, granted_at, note, affected, complex, review_due, "
        "review_status, review_missed, reviewed_by, reviewed_at, declined_by, declined_at, "
        "declined_why) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
        "?16, ?17, ?18, ?19, ?20, ?21) RETURNING id",
    [ST_PUT_REMEDY] =
        "INSERT INTO remedies(incident, order_id, kind, amount, currency, status, by_person, "
        "approved_by, requested_at, granted_at, note, affected, complex, review_due, "
        "review_status, review_missed, reviewed_by, reviewed_at, declined_by, declined_at, "
        "declined_why, id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
        "?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22) "
        "ON CONFLICT(id) DO UPDATE SET incident = excluded.incident, "
        "order_id = excluded.order_id, kind = excluded.kind, amount = excluded.amount, "
        "currency = excluded.currency, status = excluded.status, "
        "by_person = excluded.by_person, approved_by = excluded.approved_by, "
        "requested_at = excluded.requested_at, granted_at = excluded.granted_at, "
        "note = excluded.note, affected = excluded.affected, complex = excluded.complex, "
        "review_due = excluded.review_due, review_status = excluded.review_status, "
        "review_missed = excluded.review_missed, reviewed_by = excluded.reviewed_by, "
        "reviewed_at = excluded.reviewed_at, declined_by = excluded.declined_by, "
        "declined_at = excluded.declined_at, declined_why = excluded.declined_why",
    [ST_LIST_REMEDIES_ALL] = REMEDY_COLS "ORDER BY id",
    [ST_LIST_REMEDIES_INCIDENT] = REMEDY_COLS "WHERE incident = ?1 ORDER BY id",
    [ST_LIST_REMEDIES_ID] = REMEDY_COLS "WHERE id = ?1",
};
