/*
 * store.h - durable state behind one narrow table of operations.
 *
 * SQLite (one file, WAL, no set-up) is the default backend; PostgreSQL
 * (postgresql://...) implements the same table with the same schema, for
 * state shared by several instances. Both run the operations of sqlops.c
 * over a small SQL driver (sql.h). The shell writes everything that
 * one input chunk produced (dead letters, changed incidents, the engine
 * checkpoint) inside one transaction, so a crash leaves either all of it or
 * none of it.
 *
 * Incidents are stored as rendered JSON (summary and detail) beside columns
 * (lifecycle instants, severity, type, status, impact, and their scope in a
 * table of its own) that listing filters on and reports read; the engine's
 * checkpoint is the source of truth for open incidents, the rows are what
 * readers read.
 */
#ifndef KS_STORE_H
#define KS_STORE_H

#include "../core/core.h"

/* One incident as stored. Strings are borrowed for the call.
 *
 * put_incident takes id .. detail_json; the columns after them (migration
 * 9) it derives from the JSON itself (the summary, else the detail), so
 * that a column never disagrees with the JSON beside it. list_incidents
 * fills every field. */
struct ks_incident_row {
    int64_t id;
    const char *type;
    const char *severity; /* "P1".."P3": the highest it reached (it never goes down) */
    const char *status;   /* investigating|contained|resolving|resolved */
    const char *fingerprint;
    ks_time detected_at;
    const char *summary_json; /* the incident without its timeline */
    const char *detail_json;  /* the incident with timeline and checklist */
    /* read only (migration 9): NULL / KS_TIME_NONE / 0 where the JSON has none */
    const char *title, *owner;
    ks_time started_at, acknowledged_at, contained_at, resolved_at, review_due;
    int64_t repeat_of; /* 0: none */
    int64_t orders, customers, units; /* the impact */
    double revenue;
};

/* Which incidents list_incidents gives (a NULL filter: all). Strings NULL
 * and times 0 or KS_TIME_NONE: any. */
struct ks_incident_filter {
    const char *status;   /* "open": every status but resolved */
    const char *severity; /* exact: P1, P2, P3 */
    const char *type;     /* exact */
    const char *channel;  /* one of the scope's channels (table incident_scope) */
    ks_time since, until; /* detected_at in [since, until) */
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

/* One change of a channel's guarded feed (as `kintsugi feed` prints it). */
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
    int64_t id;              /* read back only (add_hook gives none) */
    const char *lease_owner; /* read back: the deliverer that claimed it, or NULL */
    ks_time lease_until;     /* read back: the end of that claim */
};

/* One message of the outbox (migration 7, src/comms/comms.h). Unique by
 * (key, receiver): the same message through two receivers is two rows with
 * one idempotency key. Strings are borrowed for the call. */
struct ks_message_row {
    int64_t id; /* set by add_message */
    const char *key;
    int64_t incident;
    const char *kind;      /* incident | update | reminder | customer_notice | follow_up |
                            * order_delay */
    const char *audience;  /* team | leadership | customer */
    const char *recipient; /* an e-mail address, or the audience's label for a webhook/dir */
    const char *receiver;  /* the receiver's name under `receivers:` */
    const char *order_id;  /* customer messages: the order, else NULL */
    const char *subject, *body;
    const char *status;   /* queued | sent | failed */
    int64_t attempts;
    ks_time created_at;   /* engine clock (event time) when queued */
    ks_time sent_at;      /* wall clock of the accepted attempt, KS_TIME_NONE */
    ks_time next_at;      /* wall clock of the next attempt */
    const char *detail;   /* how the last attempt went, or NULL */
    const char *lease_owner; /* read back: the deliverer that claimed it, or NULL */
    ks_time lease_until;     /* read back: the end of that claim */
};

/* Which messages list_messages gives (0 / NULL: any). */
struct ks_message_filter {
    int64_t id, incident;
    const char *audience, *status;
    const char *receiver;
};

/* A trigger that fired for an incident (migration 7): once per (incident,
 * name, seq); done counts the affected orders a per-order trigger has
 * written messages for so far. */
struct ks_trigger_row {
    int64_t incident;
    const char *name;
    int64_t seq;
    ks_time at; /* engine clock when it fired */
    int64_t done;
};

/* The input an ingest reads, as far as the last saved state took it. A file
 * is known again by its path and the hash of its first prefix_len bytes, so
 * that re-running an interrupted ingest resumes after `line` (`offset`
 * bytes), and a file that grew since continues with its new lines. */
struct ks_input_row {
    int64_t id; /* 0: a new input (set by put_input) */
    const char *path; /* absolute */
    int64_t prefix_len;
    uint64_t prefix_hash;
    int64_t offset, line; /* bytes and lines applied */
    int64_t size;         /* the file's size when last seen */
};

/* What stays when the effects written after the last saved engine state are
 * undone (an ingest stopped by a crash between two saves). */
struct ks_store_trim {
    int64_t deadletter; /* keep ids <= */
    int64_t hook;       /* keep ids <= */
    int64_t skus;       /* keep dictionary ids < */
    int64_t incidents;  /* keep ids <= */
    int64_t messages;   /* keep ids <=; -1: keep all (marks written before messages) */
    int64_t triggers;   /* keep ids <=; -1: keep all */
};

/* A post-incident review as people wrote it (docs/REVIEWS.md). doc is JSON
 * with root_cause, whys, went_well, improve and notes; the action items are
 * rows of their own. Times are the engine clock of the saving command. */
struct ks_review_row {
    int64_t incident;
    const char *doc;
    const char *by;         /* who saved it last */
    ks_time at;             /* saved last */
    ks_time first_at;       /* saved first (set by the store) */
    ks_time root_cause_at;  /* first saved with a root cause; KS_TIME_NONE: none */
};

/* One action item of a review. */
struct ks_item_row {
    int64_t id; /* 0: a new item (set by put_item) */
    int64_t incident;
    int64_t pos; /* its place in the review, 1.. */
    const char *text;
    const char *owner; /* NULL: none */
    ks_time due;       /* KS_TIME_NONE: none */
    const char *kind;  /* immediate | systematic | prevention */
    const char *status; /* open | done | dropped */
    const char *closed_by;
    ks_time closed_at;
    const char *note;
};

/* A part of an incident's cost entered or overridden by a person. */
struct ks_cost_row {
    int64_t incident;
    const char *part; /* direct | response | churn | repeats | brand */
    double amount;
    const char *by;
    ks_time at;
};

/* A remedy of the service-recovery policy (migration 8, docs/REMEDIES.md):
 * granted at once within the accountable person's limit, else pending until
 * someone whose limit covers it approves it. Strings are borrowed for the
 * call; times are the engine clock (event time). */
struct ks_remedy_row {
    int64_t id; /* 0: a new remedy (set by put_remedy) */
    int64_t incident;
    const char *order_id;
    const char *kind;     /* refund | store_credit | ... (ks_remedy_names) */
    double amount;        /* in currency; meaningful when has_amount */
    int has_amount;       /* 0: not given (the order's value, unknown to kintsugi) */
    const char *currency;
    const char *status;   /* granted | pending | superseded (pending when its order was
                           * cancelled with a full refund: never given) | declined (pending,
                           * then declined or withdrawn: never given) */
    const char *by;       /* the accountable person: who granted or proposed it */
    const char *approved_by; /* pending, then approved: who; NULL: none */
    ks_time requested_at, granted_at; /* granted_at: KS_TIME_NONE while pending */
    const char *note;     /* NULL: none */
    int affected;         /* the order touched the incident (its impact) */
    const char *complex;  /* why the case is complex (escalated), NULL: it is not */
    ks_time review_due;   /* the specialist review's deadline; KS_TIME_NONE: none */
    const char *review_status; /* NULL | due | done */
    int review_missed;    /* its deadline passed before it was done (sla entry written) */
    const char *reviewed_by;
    ks_time reviewed_at;
    /* declined (migration 12): who, when (KS_TIME_NONE: not declined), why */
    const char *declined_by;
    ks_time declined_at;
    const char *declined_why;
};

/* An API token as stored (migration 5, see src/auth/auth.h): the SHA-256 of
 * its text, never the text. Strings are borrowed for the call. */
struct ks_token_row {
    const char *name; /* unique for ever */
    const char *role; /* viewer | responder | admin */
    unsigned char hash[32];
    ks_time created_at;
    ks_time revoked_at; /* KS_TIME_NONE: in force */
};

/* A journal entry of the server (migration 6): what changed the engine
 * after its last saved state, in order. kind is "events" (a request body, as
 * received, from source), or "command" (a person's action, an alert or a
 * clock tick, as JSON). at is the wall clock the server applied it at (ms; 0
 * on event time). data is borrowed in list callbacks. */
struct ks_journal_row {
    int64_t seq; /* set by add_journal */
    const char *kind;
    ks_time at;
    const char *source;
    const void *data;
    size_t len;
};

struct ks_store;

/* Called per block of a channel's feed: the changes first..last (seqs),
 * encoded as struct ks_feed_enc writes them. */
typedef int (*ks_feed_block_fn)(void *ctx, int64_t first, int64_t last, const void *data,
                                size_t n);
/* Called per block of the SKU dictionary: the strings of ids first ..
 * first + count - 1, each a varint length and its bytes. */
typedef int (*ks_sku_block_fn)(void *ctx, int64_t first, int64_t count, const void *data,
                               size_t n);

/* One receiver's messages of one status (message_stats). */
struct ks_message_stat {
    const char *receiver, *status;
    int64_t count;
    ks_time oldest;          /* the creation of the oldest (engine clock) */
    const char *last_detail; /* failed: the last one's detail; queued: that of the last one
                                attempted (a retry to come), NULL when none was */
    ks_time next_at;         /* queued: the earliest next attempt (wall clock), or
                                KS_TIME_NONE */
};

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
    /* Calls fn for every incident the filter lets through (NULL: all), in
     * id order; the filters are columns (migration 9), not the JSON. fn
     * returns non-zero to stop. */
    enum ks_rc (*list_incidents)(struct ks_store *s, const struct ks_incident_filter *f,
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
    /* The guarded feed is stored a block of changes at a time (one per
     * channel per written chunk), compact (ks_feed_enc), with SKUs as ids of
     * the SKU dictionary: a row per change cost more than the engine's work. */
    enum ks_rc (*add_feed_block)(struct ks_store *s, const char *channel, int64_t first,
                                 int64_t last, const void *data, size_t n, struct ks_err *err);
    /* Calls fn for the blocks of channel that hold changes after since, in order. */
    enum ks_rc (*list_feed_blocks)(struct ks_store *s, const char *channel, int64_t since,
                                   ks_feed_block_fn fn, void *ctx, struct ks_err *err);
    /* The channels that have feed blocks; fn gets each name. */
    enum ks_rc (*list_feed_channels)(struct ks_store *s, int (*fn)(void *ctx, const char *ch),
                                     void *ctx, struct ks_err *err);
    /* Drops the blocks of channel that start after seq. */
    enum ks_rc (*trim_feed)(struct ks_store *s, const char *channel, int64_t seq,
                            struct ks_err *err);
    /* The SKU dictionary: ids first .. first + count - 1. */
    enum ks_rc (*add_skus)(struct ks_store *s, int64_t first, int64_t count, const void *data,
                           size_t n, struct ks_err *err);
    /* Calls fn for the dictionary blocks below id `below`, in id order. */
    enum ks_rc (*list_skus)(struct ks_store *s, int64_t below, ks_sku_block_fn fn, void *ctx,
                            struct ks_err *err);
    /* The engine checkpoint in parts (ks_engine_save_parts): clear, then put
     * parts 0, 1, ... inside one transaction. */
    enum ks_rc (*ck_clear)(struct ks_store *s, struct ks_err *err);
    enum ks_rc (*ck_put)(struct ks_store *s, int64_t part, const void *p, size_t n,
                         struct ks_err *err);
    /* Reading: ck_open gives the total size (*found = 0: none), ck_next each
     * part in order (borrowed until the next call; *n = 0 at the end),
     * ck_close ends the reading (always call it after ck_open). */
    enum ks_rc (*ck_open)(struct ks_store *s, uint64_t *total, int *found, struct ks_err *err);
    enum ks_rc (*ck_next)(struct ks_store *s, const void **p, size_t *n, struct ks_err *err);
    void (*ck_close)(struct ks_store *s);
    /* The highest dead-letter and hook ids (0: none). */
    enum ks_rc (*max_ids)(struct ks_store *s, int64_t *deadletter, int64_t *hook,
                          struct ks_err *err);
    /* Deletes what lies past the marks (see struct ks_store_trim); the ids
     * given out next continue after them. */
    enum ks_rc (*trim)(struct ks_store *s, const struct ks_store_trim *t, struct ks_err *err);
    /* The input last recorded for path (*found = 0: none). */
    enum ks_rc (*find_input)(struct ks_store *s, const char *path, struct ks_input_row *out,
                             int *found, struct ks_err *err);
    /* Inserts (row->id == 0, then set) or updates an input's position. */
    enum ks_rc (*put_input)(struct ks_store *s, struct ks_input_row *row, struct ks_err *err);
    /* After a failed write (a full disk): gives back the space the write-ahead
     * log holds. Fails when even that needs space the disk does not have. */
    enum ks_rc (*release)(struct ks_store *s, struct ks_err *err);
    /* The log's copy into the database (SQLite's WAL checkpoint, with its
     * fsyncs). By default a commit does it when the log has grown; a
     * long-running server turns that off (on = 0) on its writing connection
     * and calls copy_log from a thread of its own, on a connection of its
     * own, so that no acknowledgement waits for a disk flush. Either may be
     * NULL for a backend without such a log. */
    enum ks_rc (*log_autocopy)(struct ks_store *s, int on, struct ks_err *err);
    enum ks_rc (*copy_log)(struct ks_store *s, struct ks_err *err);
    /* Adds a hook call (ignored when its key is already there). */
    enum ks_rc (*add_hook)(struct ks_store *s, const struct ks_hook_row *row, struct ks_err *err);
    /* Calls fn for every hook call with that status (NULL: all), oldest first. */
    enum ks_rc (*list_hooks)(struct ks_store *s, const char *status,
                             int (*fn)(void *ctx, const struct ks_hook_row *row), void *ctx,
                             struct ks_err *err);
    /* Calls fn for the hook call of that key, if there is one (else not at all). */
    enum ks_rc (*get_hook)(struct ks_store *s, const char *key,
                           int (*fn)(void *ctx, const struct ks_hook_row *row), void *ctx,
                           struct ks_err *err);
    enum ks_rc (*update_hook)(struct ks_store *s, const char *key, const char *status,
                              int64_t attempts, ks_time next_at, const char *detail,
                              struct ks_err *err);
    /* Delivery leases (migration 10), for the hook calls (messages = 0) and
     * the messages (1; of one receiver, or of all when receiver is NULL).
     * claim_due: atomically claims for owner, until `until`, at most `limit`
     * of the rows that wait and are due at `now` (next attempt come, no
     * lease of another owner running): hook calls oldest first, messages to
     * the shop's people before those to customers, each oldest first; calls
     * fn (hook) or mfn (message) for each claimed row, in no set order (an
     * UPDATE's RETURNING). Two owners claiming at once get different rows
     * (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: one writer at a time).
     * update_hook and update_message end the lease. void_leases ends the
     * leases on waiting rows of every owner whose name does not begin with
     * `process` (a process that has just become the only deliverer; its own
     * deliverers' names begin with it). */
    enum ks_rc (*claim_due)(struct ks_store *s, int messages, const char *receiver,
                            const char *owner, ks_time now, ks_time until, int64_t limit,
                            int (*fn)(void *ctx, const struct ks_hook_row *row),
                            int (*mfn)(void *ctx, const struct ks_message_row *row), void *ctx,
                            struct ks_err *err);
    enum ks_rc (*void_leases)(struct ks_store *s, const char *process, struct ks_err *err);
    /* A receiver that could not take a message just now (struct
     * ks_send_result's unavailable): its other waiting messages due before
     * `until` - those not leased by another deliverer, owner's own claims
     * included, whose lease it ends - wait until then, with detail as their
     * detail; *held how many. Their attempts are not counted: the outage is
     * paid for once, by the message whose attempt found it. */
    enum ks_rc (*hold_messages)(struct ks_store *s, const char *receiver, const char *owner,
                                ks_time now, ks_time until, const char *detail, int64_t *held,
                                struct ks_err *err);
    /* `kintsugi messages deliver --now`: the waiting messages whose next
     * attempt has not come (a retry, a hold) are due at once, those of
     * receiver (NULL: of every receiver); *n how many. Their attempts and
     * leases stay as they are. */
    enum ks_rc (*due_now)(struct ks_store *s, const char *receiver, int64_t *n,
                          struct ks_err *err);
    /* What claim_due would take for owner at now, without taking it (a
     * read): *due how many rows; *next (KS_TIME_NONE: none) the earliest of
     * the next attempts still to come and of the other owners' leases that
     * still run. */
    enum ks_rc (*due_summary)(struct ks_store *s, int messages, const char *receiver,
                              const char *owner, ks_time now, int64_t *due, ks_time *next,
                              struct ks_err *err);
    /* Reviews (migration 4): put is an upsert by incident; root_cause_at
     * keeps its first value while the review keeps a root cause. list calls
     * fn for one incident's review (incident > 0) or all, in incident order. */
    enum ks_rc (*put_review)(struct ks_store *s, const struct ks_review_row *row,
                             struct ks_err *err);
    enum ks_rc (*list_reviews)(struct ks_store *s, int64_t incident,
                               int (*fn)(void *ctx, const struct ks_review_row *row), void *ctx,
                               struct ks_err *err);
    /* Action items: put inserts (id 0, then set) or updates by id
     * (KS_ENOTFOUND when there is none); list is by incident and position
     * (incident 0: all). */
    enum ks_rc (*put_item)(struct ks_store *s, struct ks_item_row *row, struct ks_err *err);
    enum ks_rc (*del_item)(struct ks_store *s, int64_t id, struct ks_err *err);
    enum ks_rc (*list_items)(struct ks_store *s, int64_t incident,
                             int (*fn)(void *ctx, const struct ks_item_row *row), void *ctx,
                             struct ks_err *err);
    /* Costs a person entered: an upsert by (incident, part); list as above. */
    enum ks_rc (*put_cost)(struct ks_store *s, const struct ks_cost_row *row, struct ks_err *err);
    enum ks_rc (*list_costs)(struct ks_store *s, int64_t incident,
                             int (*fn)(void *ctx, const struct ks_cost_row *row), void *ctx,
                             struct ks_err *err);
    /* API tokens (migration 5). add: KS_ESTATE when the name is taken
     * (revoked tokens included). list: every token in name order, or (hash
     * != NULL) the one with that 32-byte hash. revoke: sets revoked_at;
     * KS_ENOTFOUND for no such name, KS_ESTATE (nothing changed) when it
     * was revoked already. */
    enum ks_rc (*add_token)(struct ks_store *s, const struct ks_token_row *row,
                            struct ks_err *err);
    enum ks_rc (*list_tokens)(struct ks_store *s, const unsigned char *hash,
                              int (*fn)(void *ctx, const struct ks_token_row *row), void *ctx,
                              struct ks_err *err);
    enum ks_rc (*revoke_token)(struct ks_store *s, const char *name, ks_time at,
                               struct ks_err *err);
    /* The server's journal: append (sets row->seq), read in order after a
     * seq, delete up to a seq (what a saved state accounts for). */
    enum ks_rc (*add_journal)(struct ks_store *s, struct ks_journal_row *row, struct ks_err *err);
    enum ks_rc (*list_journal)(struct ks_store *s, int64_t after,
                               int (*fn)(void *ctx, const struct ks_journal_row *row), void *ctx,
                               struct ks_err *err);
    enum ks_rc (*trim_journal)(struct ks_store *s, int64_t upto, struct ks_err *err);
    /* The outbox of messages (migration 7). add: *added = 0 when (key,
     * receiver) was there already (nothing changed). list: oldest first.
     * update: KS_ENOTFOUND for no such id. */
    enum ks_rc (*add_message)(struct ks_store *s, struct ks_message_row *row, int *added,
                              struct ks_err *err);
    enum ks_rc (*list_messages)(struct ks_store *s, const struct ks_message_filter *f,
                                int (*fn)(void *ctx, const struct ks_message_row *row), void *ctx,
                                struct ks_err *err);
    enum ks_rc (*update_message)(struct ks_store *s, int64_t id, const char *status,
                                 int64_t attempts, ks_time next_at, ks_time sent_at,
                                 const char *detail, struct ks_err *err);
    /* The id of the message of this idempotency key for this receiver (the
     * pair is unique): KS_ENOTFOUND for none. A row written again after a
     * restart has a new id and the same pair. */
    enum ks_rc (*message_id)(struct ks_store *s, const char *key, const char *receiver,
                             int64_t *id, struct ks_err *err);
    /* Triggers: get (*found = 0: not fired; name borrowed in out) and put
     * (an upsert by incident, name, seq). */
    enum ks_rc (*get_trigger)(struct ks_store *s, int64_t incident, const char *name, int64_t seq,
                              struct ks_trigger_row *out, int *found, struct ks_err *err);
    enum ks_rc (*put_trigger)(struct ks_store *s, const struct ks_trigger_row *row,
                              struct ks_err *err);
    /* The messages by receiver and status, in that order (struct
     * ks_message_stat, borrowed for the call). */
    enum ks_rc (*message_stats)(struct ks_store *s,
                                int (*fn)(void *ctx, const struct ks_message_stat *st),
                                void *ctx, struct ks_err *err);
    /* The highest message and trigger ids (0: none). */
    enum ks_rc (*max_message_ids)(struct ks_store *s, int64_t *message, int64_t *trigger,
                                  struct ks_err *err);
    /* Remedies (migration 8): put inserts (id 0, then set) or replaces the
     * row of that id whole (so that writing the same row again changes
     * nothing); list calls fn in id order for those of one incident
     * (incident > 0) or all, or for the one of id (id > 0). */
    enum ks_rc (*put_remedy)(struct ks_store *s, struct ks_remedy_row *row, struct ks_err *err);
    enum ks_rc (*list_remedies)(struct ks_store *s, int64_t incident, int64_t id,
                                int (*fn)(void *ctx, const struct ks_remedy_row *row), void *ctx,
                                struct ks_err *err);
    /* The writer lock of a database that is not a file (PostgreSQL: a
     * session advisory lock, released when the connection ends however the
     * process ends). *got = 0 when another session holds it; never waits.
     * NULL for SQLite, whose writer lock is a flock on the file (shell.c). */
    enum ks_rc (*lock_writer)(struct ks_store *s, int *got, struct ks_err *err);
};

struct ks_store {
    const struct ks_store_ops *ops;
    void *impl; /* the backend's own state */
    char *uri;
    /* The database's id (migration 11, docs/STORAGE.md): 32 hex digits,
     * random, written once under the migration lock and read at open, so
     * that every process and instance on one database has the same one and
     * no two databases do. Every idempotency key carries it (messages:
     * ks_comms_key; hook calls: ks_store_hook_key). */
    char db_id[33];
    /* The first hook call (id) sent with the id in its key: the calls of a
     * database older than migration 11 keep the key they were sent with. */
    int64_t hook_keys_from;
};

/* The idempotency key hook call (id, key) is sent with (docs/HOOKS.md):
 * "<db_id>-" and its key (the engine's, which the outbox, the timeline and
 * `kintsugi hooks retry` name it by), or its key alone for a call older
 * than the database's id. Appended to out. */
void ks_store_hook_key(const struct ks_store *s, int64_t id, const char *key, struct ks_buf *out);

/* Opens a store: "postgres://..." or "postgresql://..." selects PostgreSQL
 * (a libpq URI; the schema is created in the connection's current schema),
 * anything else is a SQLite file path (created with its schema if absent).
 * Migrations are applied on open. s->uri is the URI without its password. */
enum ks_rc ks_store_open(struct ks_store **out, const char *uri, struct ks_err *err);
/* Reads blob key of the SQLite database file at path as it stands: opened
 * for reading only, with no migration and no change to its log mode, so a
 * file that is not kintsugi's is left as it was. KS_OK with *found 1 and the
 * value in out, or *found 0 when the database has no such blob (or no table
 * of blobs: not kintsugi's); KS_EIO when path cannot be read as an SQLite
 * database ("store: read PATH: file is not a database"). */
enum ks_rc ks_store_sqlite_peek(const char *path, const char *key, struct ks_buf *out, int *found,
                                struct ks_err *err);
/* 1 when uri names a PostgreSQL database (no file to lock or check). */
int ks_store_is_shared(const char *uri);
void ks_store_close(struct ks_store *s);

extern const struct ks_store_ops ks_store_sqlite_ops;
extern const struct ks_store_ops ks_store_pg_ops;

/* ---- the feed block codec (feedcodec.c) ------------------------------------
 * A block holds consecutive changes of one channel. Each change is a varint
 * of (zigzag SKU-id delta << 1 | meta), then, when meta is set, the zigzag
 * delta of `at`, `why` and the incident (each a varint), then the quantity.
 * Changes of one update share their meta, so a change costs 2-4 bytes. */
struct ks_feed_enc {
    struct ks_buf buf;
    int64_t first, last; /* seqs; first = 0 while empty */
    uint32_t prev_sku;
    ks_time prev_at;
    uint32_t prev_why;
    int64_t prev_incident;
};
struct ks_feed_change {
    int64_t seq;
    uint32_t sku; /* dictionary id */
    int64_t qty;
    ks_time at;
    uint32_t why;
    int64_t incident;
};
void ks_feed_enc_add(struct ks_feed_enc *e, const struct ks_feed_change *c);
/* Empties the block for the next one (keeps the buffer). */
void ks_feed_enc_reset(struct ks_feed_enc *e);
void ks_feed_enc_fini(struct ks_feed_enc *e);
/* Reads the changes of a block one by one: start with ks_feed_dec_init, then
 * ks_feed_dec_next until it returns 0 (end) or -1 (a damaged block). */
struct ks_feed_dec {
    const unsigned char *p, *end;
    struct ks_feed_change cur;
};
void ks_feed_dec_init(struct ks_feed_dec *d, int64_t first, const void *data, size_t n);
int ks_feed_dec_next(struct ks_feed_dec *d, struct ks_feed_change *out);

/* A SKU dictionary block: appends one string / reads the next (-1 damaged, 0 end). */
void ks_sku_block_add(struct ks_buf *b, const char *s, size_t n);
int ks_sku_block_next(const unsigned char **p, const unsigned char *end, const char **s,
                      size_t *n);

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
