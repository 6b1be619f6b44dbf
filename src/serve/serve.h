/*
 * serve.h - `kintsugi serve`: the engine kept live behind HTTP.
 *
 * One writer thread owns the engine and the store (struct ks_live). Every
 * request that changes state becomes a job on its queue; the writer takes
 * all jobs waiting, applies them in arrival order, appends each to the
 * journal and writes their effects in one transaction (group commit), and
 * only then answers them. A restart loads the last saved state and
 * re-applies the journal after it, so nothing a client was told is
 * committed is lost, and nothing is applied twice.
 *
 * The clock is the wall clock (the writer wakes just past a timer's
 * deadline and fires it, recorded at the deadline) or, with clock_event, event time as in
 * `kintsugi ingest`. See docs/API.md and docs/STORAGE.md ("The server's
 * journal").
 */
#ifndef KS_SERVE_H
#define KS_SERVE_H

#include "../core/core.h"
#include "../http/http.h"

#include <pthread.h>

struct ks_store;
struct ks_engine;
struct ks_live;

struct ks_live_opts {
    const char *db;
    const char *config;
    int clock_event;          /* event time instead of the wall clock */
    ks_time max_skew;         /* wall clock: an event's ts at most this ahead (5 min) */
    ks_time checkpoint_every; /* saved state every (30 s) */
    ks_time checkpoint_idle;  /* and after this long without a change (1 s; < 0: never) */
    ks_time lock_check;       /* a quiet server on a shared store checks that it holds
                               * the writer lock this often (2 s; < 0: never) */
    size_t checkpoint_bytes;  /* or once this much, and more than the saved state's size,
                               * is journaled since (16 MiB): bounds what a restart or a
                               * standby's takeover re-applies */
    ks_time tick; /* wall clock: the idle engine is moved on this often (250 ms), and a due
                   * timer at once */
    ks_time update_idle;      /* open inventory updates close after this long without events (5 s) */
    const char *url;          /* http://HOST:PORT, for the writer lock's description */
};

/* Opens the database as its one writer, loads the saved state and re-applies
 * the journal after it, then saves. Prints the problem and returns an exit
 * code != 0 on failure. On a shared database (PostgreSQL) that another server
 * owns, waits as its standby and takes over when it stops; KS_LIVE_STOPPED if
 * SIGINT or SIGTERM came first. */
#define KS_LIVE_STOPPED 99
int ks_live_open(struct ks_live **out, const struct ks_live_opts *o);

/* A standby's HTTP server (standby.c): while ks_live_open waits for a shared
 * database another server owns, it answers /healthz (200, "standby", who is
 * active) and /readyz (503) on the server's address; stop it (ks_http_stop)
 * once ks_live_open returns, before the full server starts there. */
struct ks_http *ks_standby_http_start(const char *host, int port, struct ks_err *err);
/* Records the server's URL as the database's writer (before ks_live_start). */
int ks_live_set_url(struct ks_live *l, const char *url);
/* Starts the writer thread. */
void ks_live_start(struct ks_live *l);
/* 1 once the state is loaded and the writer runs (for /readyz). */
int ks_live_ready(const struct ks_live *l);
/* The same, with why it is not ready in out ("the store is unavailable
 * since 2.3 s (store: ...: the connection to PostgreSQL was lost ...);
 * reconnecting"), or "ready". */
int ks_live_unready_why(struct ks_live *l, char *out, size_t cap);
/* Stops taking jobs, finishes those queued, saves the state, joins the
 * writer thread, closes the store and frees l. Returns 0 or an exit code. */
int ks_live_close(struct ks_live *l);

/* The rejected lines a batch's result lists at most: a small body of many
 * bad lines (an array of a million 0s) must not make a reply of tens of
 * megabytes. Every one is counted, and kept as a dead letter all the same. */
#define KS_LIVE_REJECTED_LISTED 1000

/* The result of a batch of events. */
struct ks_live_events {
    uint64_t accepted, duplicates, rejected; /* rejected: every rejected line */
    int64_t request; /* the journal seq naming the request (dead letters) */
    /* [{"line": N, "reason": "..."}, ...]: the first KS_LIVE_REJECTED_LISTED
     * rejected lines (all of them when rejected is no more) */
    struct ks_buf rejected_json;
};
/*
 * Applies NDJSON lines (body[0, len)) from actor, durably: returns only once
 * they and their effects are committed. end: then close every open
 * inventory update, as the end of a file does in `kintsugi ingest`. Returns
 * only once
 * they and their effects are committed. Returns 0, or -1 with err set (the
 * store failed: nothing of it is acknowledged). res->rejected_json is the
 * caller's to free.
 */
int ks_live_events(struct ks_live *l, const char *body, size_t len, const char *actor, int end,
                   struct ks_live_events *res, struct ks_err *err);
/*
 * The same for events taken from a message bus (src/bus/): mark, the bus
 * position these lines reach, is stored under mark_key (a blob) in the very
 * transaction that commits them and their effects, so that after a crash the
 * position read back (ks_live_mark) is exactly that of the state. Their dead
 * letters name a "bus request".
 */
int ks_live_events_mark(struct ks_live *l, const char *body, size_t len, const char *actor,
                        int end, const char *mark_key, int64_t mark, struct ks_live_events *res,
                        struct ks_err *err);
/* The committed position under mark_key (0 when none), read on the calling
 * thread's reader connection. Returns 0, or -1 with err set. */
int ks_live_mark(struct ks_live *l, const char *mark_key, int64_t *mark, struct ks_err *err);

/*
 * Runs a command on the engine as the writer, durably: cmd is a JSON object
 * {"op": "...", ...} (see live_cmd.c for the ops); it is journaled with the
 * actor and the time it was applied at, and its effects committed before
 * this returns. out gets the command's JSON result. Returns 0, or -1 with err
 * set (err->rc KS_EUSAGE / KS_ENOTFOUND / KS_ESTATE: the command was refused
 * and changed nothing; KS_EIO: the store failed).
 */
int ks_live_command(struct ks_live *l, const char *cmd, const char *actor, struct ks_buf *out,
                    struct ks_err *err);

/* Runs fn on the writer thread with the engine, for a read that needs it
 * (guard status, actions, reconciliation); returns what fn returns. */
typedef enum ks_rc (*ks_live_read_fn)(const struct ks_engine *e, void *ctx, struct ks_buf *out,
                                      struct ks_err *err);
enum ks_rc ks_live_read(struct ks_live *l, ks_live_read_fn fn, void *ctx, struct ks_buf *out,
                        struct ks_err *err);

/* A store connection of the calling thread's own on the same database, for
 * reads of committed rows (opened on first use, closed with the thread). */
struct ks_store *ks_live_reader(struct ks_live *l, struct ks_err *err);

/* Counters for /metrics. */
struct ks_live_stats {
    uint64_t requests, events_accepted, events_duplicate, events_rejected, commands;
    uint64_t commits, journal_rows;
    uint64_t reconnects; /* a shared store taken up again after a failure */
    ks_time clock;
};
void ks_live_stats(struct ks_live *l, struct ks_live_stats *out);

/* ---- the routes (api.c) ------------------------------------------------------- */

struct ks_metrics;
struct ks_api {
    struct ks_live *live;
    struct ks_metrics *metrics;
    int metrics_open; /* /metrics without a token */
    size_t max_events_body; /* POST /v1/events: bytes (64 MiB) */
    /* /healthz: more of its object (",\"bus\":{...}"), 1 when degraded
     * (the status then reads "degraded"); NULL: nothing more. */
    int (*health)(void *ctx, struct ks_buf *out);
    void *health_ctx;
};
/* The routes of the API into out[0, cap); returns how many. */
size_t ks_api_routes(struct ks_api *api, struct ks_http_route *out, size_t cap);
/* The auth callback (ctx: the struct ks_api): bearer tokens of the store. */
enum ks_rc ks_api_auth(void *ctx, const struct ks_http_req *req, const char *bearer,
                       struct ks_auth_who *who, struct ks_err *err);

/* ---- /metrics (metrics.c) ------------------------------------------------------ */

#define KS_METRICS_ROUTES 64
#define KS_METRICS_TYPES 11 /* the ten event types and "other" */
struct ks_metrics_route {
    char route[128]; /* the route's pattern as shown ("/v1/guard/{verb}"), or "unmatched" */
    uint64_t buckets[14], count, by_class[5];
    /* in microseconds: the sum rendered is then the one division of an exact
     * count (0.009057), not the rounding errors of many additions */
    uint64_t sum_us;
};
struct ks_metrics {
    pthread_mutex_t mu;
    struct ks_metrics_route routes[KS_METRICS_ROUTES];
    size_t nroutes;
};
/* The http server's observe hook (ctx: a struct ks_metrics). */
void ks_metrics_observe(void *ctx, const struct ks_http_done *d);
/* The whole exposition, text format 0.0.4. */
enum ks_rc ks_metrics_render(struct ks_live *l, struct ks_metrics *m, struct ks_buf *out,
                             struct ks_err *err);
/* The type index of an event line (KS_METRICS_TYPES - 1: not a known type). */
int ks_metrics_type(const char *line, size_t n);

#endif
