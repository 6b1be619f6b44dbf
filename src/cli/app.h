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
    uint32_t skus_saved;     /* SKU dictionary entries in the store */
    int tail;                /* effects written after the last checkpoint */
    int lock_fd;             /* the writer lock on the database file, or -1 */
    ks_time last_checkpoint; /* wall clock of the last checkpoint */
    struct ks_feed_enc *enc; /* one feed block encoder per channel id (strs id) */
    size_t nenc;
};

/* The database a command works on: --db, else ./kintsugi.db. */
const char *ks_app_db(const char *opt);
/* Resolves the configuration file: --config, else $KINTSUGI_CONFIG, else
 * ./kintsugi.yaml when it exists, else none (defaults). */
const char *ks_app_config_path(const char *opt);
#define KS_APP_ENGINE 1 /* restore the engine from the store's checkpoint, to change it */
#define KS_APP_CREATE 2 /* the database may be created (ingest, demo) */
#define KS_APP_READ 4   /* with KS_APP_ENGINE: only to read it (no writer lock) */
/*
 * Opens config (may be NULL), store and, with KS_APP_ENGINE, the engine.
 * Without KS_APP_CREATE a database file that does not exist is an error (a
 * mistyped --db must not read as an empty shop). Prints the problem and
 * returns an exit code != 0 on failure (2 for configuration errors, 1 for
 * runtime ones).
 *
 * One writer at a time: KS_APP_ENGINE without KS_APP_READ takes the
 * database's writer lock first, waiting (with a message naming the holder on
 * stderr) while another kintsugi process holds it; the lock goes with the
 * process (ks_app_close, exit or kill -9). A writer that finds effects of an
 * interrupted run written after the last saved state undoes them first (see
 * docs/STORAGE.md), so that state and rows agree again.
 */
int ks_app_open(struct ks_app *a, const char *config, const char *db, int flags);
/* Called by kintsugi serve before ks_app_open: the writer lock then names the
 * server and its URL, and other writers are refused rather than kept waiting. */
void ks_app_writer_role(const char *url);
/* The server's URL once it is known (after binding port 0), written anew. */
int ks_app_writer_describe(struct ks_app *a, const char *url);
/* Writes the engine's effects (dead letters, changed incidents, hook calls,
 * the guarded feed, new SKU strings) and, if checkpoint, the engine state,
 * in one transaction; clears the effects. Returns 0 or prints the problem
 * and returns 1. */
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

/* Where an input stands: set up by ks_app_input_open, advanced by
 * ks_app_ingest_fd, saved with every checkpoint of the ingest. */
struct ks_input {
    const char *name;     /* as given (messages, dead letters) */
    char *path;           /* absolute, NULL for standard input */
    struct ks_input_row row;
    int resumed;          /* the store knew it: reading starts at row.offset */
};
/* Looks the file up among the inputs this database has taken and positions fd
 * after what was applied when it is the same file (same path, same first
 * bytes; it may have grown since). from_start treats it as new. Returns 0 or
 * an exit code (printed). */
int ks_app_input_open(struct ks_app *a, struct ks_input *in, int fd, const char *name,
                      int from_start);
void ks_app_input_fini(struct ks_input *in);
/* Set by a SIGINT or SIGTERM handler (ks_app_stop_on_signals): ingest then
 * stops after the current batch, saves and returns KS_APP_STOPPED. */
extern volatile int ks_app_stop_signal;
void ks_app_stop_on_signals(void);
#define KS_APP_STOPPED 99
/* Reads one input (fd) line by line into the engine, printing each rejection
 * as NAME:LINE: reason on stderr, writing effects per chunk and saving the
 * state (with the position of every input of ins[0, nins)) every 30 s of
 * wall time. A line over 1 MiB is skipped as it streams (its dead letter
 * keeps the first 64 KiB and the true length). Does not close fd or end the
 * input. Returns 0, KS_APP_STOPPED, or an exit code. */
int ks_app_ingest_fd(struct ks_app *a, int fd, struct ks_input *in, struct ks_input *ins,
                     size_t nins, struct ks_progress *pg);
/* Saves the effects, the state and the positions of ins[0, nins). */
int ks_app_checkpoint(struct ks_app *a, struct ks_input *ins, size_t nins);

#endif
