/*
 * store.h - durable state behind one narrow table of operations.
 *
 * SQLite (one file, WAL, no set-up) is the default backend; a PostgreSQL
 * backend implements the same table later. The shell writes everything that
 * one input chunk produced (dead letters, changed incidents, the engine
 * checkpoint) inside one transaction, so a crash leaves either all of it or
 * none of it.
 *
 * Incidents are stored as rendered JSON (summary and detail) beside the
 * columns that listing filters on; the engine's checkpoint is the source of
 * truth for open incidents, the rows are what readers read.
 */
#ifndef KS_STORE_H
#define KS_STORE_H

#include "../core/core.h"

/* One incident as stored. Strings are borrowed for the call. */
struct ks_incident_row {
    int64_t id;
    const char *type;
    const char *severity; /* "P1".."P3" */
    const char *status;   /* investigating|contained|resolving|resolved */
    const char *fingerprint;
    ks_time detected_at;
    const char *summary_json; /* the incident without its timeline */
    const char *detail_json;  /* the incident with timeline and checklist */
};

/* One rejected input line. raw may hold any bytes (invalid UTF-8 included). */
struct ks_deadletter {
    int64_t id;          /* set by the store */
    const char *source;  /* input name: file path, "-" for stdin, "http", ... */
    int64_t line;        /* 1-based line number within that input */
    const char *reason;  /* the full rejection line without "FILE:LINE: " */
    const char *raw;
    size_t raw_len;
    const char *status;  /* "pending" | "replayed" */
    ks_time received_at; /* wall clock when rejected */
};

/* One change of a channel's guarded feed. */
struct ks_feed_row {
    const char *channel;
    int64_t seq; /* per channel, increasing: the cursor */
    const char *sku;
    int64_t qty;
    ks_time at;
    const char *why;
    int64_t incident; /* 0: none */
};

/* One hook call in the outbox: delivered at least once, every attempt recorded. */
struct ks_hook_row {
    const char *key; /* idempotency key, unique */
    int64_t incident;
    const char *action;
    const char *body;
    const char *status; /* pending | done | failed | unconfigured */
    int64_t attempts;
    ks_time next_at; /* wall clock of the next attempt */
    const char *detail;
};

struct ks_store;

struct ks_store_ops {
    const char *name;
    enum ks_rc (*open)(struct ks_store *s, const char *uri, struct ks_err *err);
    void (*close)(struct ks_store *s);
    enum ks_rc (*begin)(struct ks_store *s, struct ks_err *err);
    enum ks_rc (*commit)(struct ks_store *s, struct ks_err *err);
    enum ks_rc (*rollback)(struct ks_store *s, struct ks_err *err);
    enum ks_rc (*put_incident)(struct ks_store *s, const struct ks_incident_row *row,
                               struct ks_err *err);
    /* Appends the summary (detail = 0) or detail JSON of one incident to out;
     * KS_ENOTFOUND if there is none with that id. */
    enum ks_rc (*get_incident)(struct ks_store *s, int64_t id, int detail, struct ks_buf *out,
                               struct ks_err *err);
    /* Calls fn for every incident in id order whose status equals status
     * (NULL: all; "open": all but resolved). fn returns non-zero to stop. */
    enum ks_rc (*list_incidents)(struct ks_store *s, const char *status,
                                 int (*fn)(void *ctx, const struct ks_incident_row *row),
                                 void *ctx, struct ks_err *err);
    enum ks_rc (*add_deadletter)(struct ks_store *s, struct ks_deadletter *dl, struct ks_err *err);
    /* Calls fn for every dead letter in id order (status NULL: all). */
    enum ks_rc (*list_deadletters)(struct ks_store *s, const char *status,
                                   int (*fn)(void *ctx, const struct ks_deadletter *dl),
                                   void *ctx, struct ks_err *err);
    /* Updates status and reason (and raw when raw != NULL) of one dead letter. */
    enum ks_rc (*update_deadletter)(struct ks_store *s, int64_t id, const char *status,
                                    const char *reason, const char *raw, size_t raw_len,
                                    struct ks_err *err);
    /* A named blob (the engine checkpoint). get: *found = 0 when absent. */
    enum ks_rc (*put_blob)(struct ks_store *s, const char *key, const void *p, size_t n,
                           struct ks_err *err);
    enum ks_rc (*get_blob)(struct ks_store *s, const char *key, struct ks_buf *out, int *found,
                           struct ks_err *err);
    enum ks_rc (*add_feed)(struct ks_store *s, const struct ks_feed_row *row, struct ks_err *err);
    /* Calls fn for the changes of channel with seq > since, in seq order, at most limit
     * (0: no limit). */
    enum ks_rc (*list_feed)(struct ks_store *s, const char *channel, int64_t since, int64_t limit,
                            int (*fn)(void *ctx, const struct ks_feed_row *row), void *ctx,
                            struct ks_err *err);
    /* Adds a hook call (ignored when its key is already there). */
    enum ks_rc (*add_hook)(struct ks_store *s, const struct ks_hook_row *row, struct ks_err *err);
    /* Calls fn for every hook call with that status (NULL: all), oldest first. */
    enum ks_rc (*list_hooks)(struct ks_store *s, const char *status,
                             int (*fn)(void *ctx, const struct ks_hook_row *row), void *ctx,
                             struct ks_err *err);
    enum ks_rc (*update_hook)(struct ks_store *s, const char *key, const char *status,
                              int64_t attempts, ks_time next_at, const char *detail,
                              struct ks_err *err);
};

struct ks_store {
    const struct ks_store_ops *ops;
    void *impl; /* the backend's own state */
    char *uri;
};

/* Opens a store: "postgres://..." or "postgresql://..." selects PostgreSQL,
 * anything else is a SQLite file path (created with its schema if absent;
 * migrations are applied on open). */
enum ks_rc ks_store_open(struct ks_store **out, const char *uri, struct ks_err *err);
void ks_store_close(struct ks_store *s);

extern const struct ks_store_ops ks_store_sqlite_ops;

/* Thin wrappers so callers read naturally: ks_store_begin(s, &err). */
static inline enum ks_rc ks_store_begin(struct ks_store *s, struct ks_err *e)
{
    return s->ops->begin(s, e);
}
static inline enum ks_rc ks_store_commit(struct ks_store *s, struct ks_err *e)
{
    return s->ops->commit(s, e);
}
static inline enum ks_rc ks_store_rollback(struct ks_store *s, struct ks_err *e)
{
    return s->ops->rollback(s, e);
}

#endif
