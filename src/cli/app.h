/*
 * app.h - what every command that touches state shares (private to cli/):
 * the configuration, the store, and the engine restored from its checkpoint,
 * and the one place that writes an engine's effects back in a transaction.
 */
#ifndef KS_APP_H
#define KS_APP_H

#include "../config/config.h"
#include "../engine/engine.h"
#include "../store/store.h"
#include "cli.h"

struct ks_app {
    struct ks_config cfg;
    struct ks_store *store;
    struct ks_engine *eng; /* NULL unless opened with the engine */
    const char *db;
    uint64_t dead_written;
    uint64_t hooks_queued; /* hook calls written to the outbox by this process */
    size_t checkpoint_bytes; /* size of the last checkpoint written */
};

/* The database a command works on: --db, else ./kintsugi.db. */
const char *ks_app_db(const char *opt);
/* Resolves the configuration file: --config, else $KINTSUGI_CONFIG, else
 * ./kintsugi.yaml when it exists, else none (defaults). */
const char *ks_app_config_path(const char *opt);
#define KS_APP_ENGINE 1 /* restore the engine from the store's checkpoint */
#define KS_APP_CREATE 2 /* the database may be created (ingest, demo) */
/* Opens config (may be NULL), store and, with KS_APP_ENGINE, the engine.
 * Without KS_APP_CREATE a database file that does not exist is an error (a
 * mistyped --db must not read as an empty shop). Prints the problem and
 * returns an exit code != 0 on failure (2 for configuration errors, 1 for
 * runtime ones). */
int ks_app_open(struct ks_app *a, const char *config, const char *db, int flags);
/* Writes the engine's effects (dead letters, changed incidents) and, if
 * checkpoint, the engine state, in one transaction; clears the effects.
 * Returns 0 or prints the problem and returns 1. */
int ks_app_flush(struct ks_app *a, int checkpoint);
/* The same, with extra writes of the caller's inside the transaction. */
int ks_app_flush_with(struct ks_app *a, int checkpoint,
                      enum ks_rc (*extra)(struct ks_app *a, void *ctx, struct ks_err *err),
                      void *ctx);
void ks_app_close(struct ks_app *a);
/* Parses --at (RFC 3339) or returns KS_TIME_NONE; -1 on a bad value (printed). */
int ks_app_at(const char *opt, ks_time *out);

/* Delivers the due hook calls of the outbox, waiting for retries up to
 * max_wait (ms) of wall time; what is still pending then stays in the outbox
 * for `kintsugi hooks deliver`. Results go to the timelines (flushed).
 * Returns 0 or an exit code. */
struct ks_delivery {
    unsigned done, retrying, failed, unconfigured;
    int left; /* calls still pending after max_wait */
};
int ks_app_deliver(struct ks_app *a, ks_time max_wait, struct ks_delivery *st);

/* Progress of a long ingest: a line on stderr when it is a terminal. */
struct ks_progress {
    int tty;
    uint64_t total_bytes, done_bytes;
    ks_time last;
};
void ks_app_progress(struct ks_progress *p, const struct ks_engine *e, int final);
/* Reads one input (fd) line by line into the engine, printing each rejection
 * as NAME:LINE: reason on stderr and writing effects per chunk. Does not
 * close fd or end the input. Returns 0 or an exit code. */
int ks_app_ingest_fd(struct ks_app *a, int fd, const char *name, struct ks_progress *pg);

#endif
