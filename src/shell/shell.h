/*
 * shell.h - the house around the engine, with one front door per way in:
 * the CLI today, the HTTP server and the bus later. The shell opens the
 * configuration, the store and the engine restored from its checkpoint
 * (taking the one writer lock), feeds events through the engine's entry
 * points (ks_engine_event for one event from any door, ks_engine_lines for
 * the lines of a file), writes the engine's effects back in one transaction
 * per chunk, and runs the deliveries of the hook outbox.
 *
 * The doors keep only their own concerns: parsing arguments or requests and
 * presenting results. Failures are printed on stderr as "kintsugi: ..." by
 * the layer that knows the reason and returned as the exit codes of SPEC
 * section 8 (KS_SHELL_OK, KS_SHELL_FAIL, KS_SHELL_USAGE).
 * See docs/STORAGE.md for what is written when, the writer lock and resuming.
 */
#ifndef KS_SHELL_H
#define KS_SHELL_H

#include "../comms/comms.h"
#include "../config/config.h"
#include "../engine/engine.h"
#include "../store/store.h"

/* Results: the exit codes of SPEC section 8. */
#define KS_SHELL_OK 0
#define KS_SHELL_FAIL 1  /* a runtime failure: the store, a file */
#define KS_SHELL_USAGE 2 /* a usage or configuration error */
/* An ingest stopped by a signal after saving (ks_shell_ingest_fd). */
#define KS_SHELL_STOPPED 99

struct ks_shell {
    struct ks_config cfg;
    struct ks_store *store;
    struct ks_engine *eng; /* NULL unless opened with the engine */
    const char *db;
    uint64_t dead_written;
    uint64_t hooks_queued;   /* hook calls written to the outbox by this process */
    size_t checkpoint_bytes; /* size of the last checkpoint written */
    uint32_t skus_saved;     /* SKU dictionary entries in the store */
    int tail;                /* effects written after the last checkpoint */
    int lock_fd;             /* the writer lock on the database file, or -1 */
    ks_time last_checkpoint; /* wall clock of the last checkpoint */
    struct ks_feed_enc *enc; /* one feed block encoder per channel id (strs id) */
    size_t nenc;
    /* The channel ids whose encoder holds changes, in first-change order:
     * channel ids are name ids, so nenc grows with every name interned
     * (a server that saw 20,000 alert sources), and a flush looks only at
     * these. */
    uint32_t *enc_used;
    size_t nused, capused;
    struct ks_tpl_set *tpl;  /* the message templates, loaded at the first use */
    struct ks_comms_due trig_due; /* what the trigger passes may leave out */
    uint64_t messages_queued; /* messages written to the outbox by this process */
    struct ks_err failed;     /* why the last ks_shell_flush failed */
    /* NULL, or told of each attempt a delivery records (the CLI's progress
     * on a terminal): what ("hook calls", "messages") and the counts so far
     * of this delivery: accepted (done, sent), retrying, failed, and hook
     * calls of an action that no hook is configured for. */
    void (*delivered)(void *ctx, const char *what, unsigned ok, unsigned retrying,
                      unsigned failed, unsigned unconfigured);
    void *delivered_ctx;
    /* NULL, or called in every flush's transaction after the effects (the
     * messages of the triggers among them) are written: the server records
     * delivery results there, so that a result re-applied from the journal
     * finds the message its batch writes again. */
    enum ks_rc (*after_effects)(struct ks_shell *s, void *ctx, struct ks_err *err);
    void *after_ctx;
};

/* Prints "kintsugi: " + message on stderr (the shell's failures). */
void ks_shell_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The database a door works on: the one named (--db), else ./kintsugi.db. */
const char *ks_shell_db(const char *opt);
/* Whether db can name a database: KS_SHELL_OK, or KS_SHELL_USAGE after
 * saying why not ("" - "--db needs a file name or a postgresql:// URI" -
 * or a directory). ks_shell_open checks it first; a command that does other
 * checks before opening (ingest's files) calls it before them. */
int ks_shell_db_check(const char *db);
/* Resolves the configuration file: the one named (--config), else
 * $KINTSUGI_CONFIG, else ./kintsugi.yaml when it exists, else none
 * (defaults). */
const char *ks_shell_config_path(const char *opt);

#define KS_SHELL_ENGINE 1 /* restore the engine from the store's checkpoint, to change it */
#define KS_SHELL_CREATE 2 /* the database may be created (ingest, demo) */
#define KS_SHELL_READ 4   /* with KS_SHELL_ENGINE: only to read it (no writer lock) */
/*
 * Opens config (may be NULL: see ks_shell_config_path), store and, with
 * KS_SHELL_ENGINE, the engine. Without KS_SHELL_CREATE a database file that
 * does not exist is an error (a mistyped --db must not read as an empty
 * shop). Prints the problem and returns KS_SHELL_USAGE for configuration
 * errors, KS_SHELL_FAIL for runtime ones; on failure s is closed.
 *
 * One writer at a time: KS_SHELL_ENGINE without KS_SHELL_READ takes the
 * database's writer lock first, waiting (with a message naming the holder on
 * stderr) while another kintsugi process holds it; the lock goes with the
 * process (ks_shell_close, exit or kill -9). A writer that finds effects of
 * an interrupted run written after the last saved state undoes them first
 * (see docs/STORAGE.md), so that state and rows agree again.
 */
int ks_shell_open(struct ks_shell *s, const char *config, const char *db, int flags);
/* Called by kintsugi serve before ks_shell_open: the writer lock then names
 * the server and its URL, and other writers are refused rather than kept
 * waiting. ks_shell_writer_describe writes the URL anew once it is known. */
void ks_shell_writer_role(const char *url);
/* While a server waits as a standby (the database owned by another server):
 * 1 and who owns it in out; else 0 and "". Safe from any thread. */
int ks_shell_standby_of(char *out, size_t cap);
/* 1 once a server that waited as a standby has taken the writer lock over
 * (it loads the state next), else 0: a server that found the lock free, or
 * held by a command, is starting, not taking over. Safe from any thread. */
int ks_shell_took_over(void);
int ks_shell_writer_describe(struct ks_shell *s, const char *url);
/* One dead letter of the engine's (e) from source, written as received now
 * and pending (inside a flush's transaction, or a server's batch). */
enum ks_rc ks_shell_add_deadletter(struct ks_store *s, const char *source,
                                   const struct ks_dead_effect *e, struct ks_err *err);
/* Writes the engine's effects (dead letters, changed incidents, hook calls,
 * the guarded feed, new SKU strings) and, if checkpoint, the engine state,
 * in one transaction; clears the effects. Returns KS_SHELL_OK or prints the
 * problem and returns KS_SHELL_FAIL (nothing of the transaction is kept). */
int ks_shell_flush(struct ks_shell *s, int checkpoint);
/* The same, with extra writes of the caller's inside the transaction (extra
 * returns KS_OK or the failure, with err set). The problem printed names the
 * database when the store failed (KS_EIO, KS_ENOMEM); a refusal by extra
 * (no such incident, not allowed: KS_ENOTFOUND, KS_ESTATE, ...) is printed
 * as it is, like the commands that write without a transaction print it. */
typedef enum ks_rc (*ks_shell_extra_fn)(struct ks_shell *s, void *ctx, struct ks_err *err);
int ks_shell_flush_with(struct ks_shell *s, int checkpoint, ks_shell_extra_fn extra, void *ctx);
/* After a failed transaction of a writer (the store's connection lost: the
 * engine holds changes the store rolled back): the engine loaded again from
 * the store as ks_shell_open loads it (the last saved state; rows written
 * after it undone), keeping the writer lock, the configuration and the
 * store. The caller re-applies what it journaled after that state. Returns
 * 0, or -1 with err set (the engine is then empty: call it again). */
int ks_shell_reload(struct ks_shell *s, struct ks_err *err);
/* Frees everything and releases the writer lock; takes a zeroed or closed shell. */
void ks_shell_close(struct ks_shell *s);

/* ---- deliveries (deliver.c) ----------------------------------------------------- */

struct ks_delivery {
    unsigned done, retrying, failed, unconfigured;
    int left; /* calls still pending after max_wait */
};
/* Delivers the due hook calls of the outbox, waiting for retries up to
 * max_wait (ms) of wall time; what is still pending then stays in the outbox
 * for `kintsugi hooks deliver`. Results go to the timelines (flushed with a
 * checkpoint). Returns KS_SHELL_OK or KS_SHELL_FAIL (printed). */
int ks_shell_deliver(struct ks_shell *s, ks_time max_wait, struct ks_delivery *st);
/* `kintsugi hooks retry KEY` and POST /v1/hooks/{key}/retry: makes a hook
 * call that gave up (failed), or that found no hook configured
 * (unconfigured; cfg must now configure one), due again with its attempts
 * starting over (*incident: its incident). KS_ENOTFOUND for no such call;
 * KS_ESTATE when it is pending or done, or its action still has no hook,
 * unless again (a journal re-applied: later attempts stand). With eng, a
 * note of the incident's timeline by `by` at `at` says so. */
enum ks_rc ks_shell_hook_requeue(struct ks_store *s, const struct ks_config *cfg,
                                 struct ks_engine *eng, const char *key, const char *by,
                                 ks_time at, int again, int64_t *incident, struct ks_err *err);

/* One attempt at a due hook call of the outbox (row, of store st), as the
 * delivery loop makes it: the call itself (or "unconfigured" when no hook
 * is configured for its action), sent with the key ks_store_hook_key gives,
 * and what follows for the outbox and the timeline. Blocks for the attempt
 * (up to the hook's timeout). */
struct ks_hook_try {
    const char *status; /* the row's next status: done, pending (a retry), failed, unconfigured */
    int attempts;       /* the row's attempts after this one */
    int attempt;        /* for ks_engine_hook_result: the attempt's number, 0 when unconfigured */
    int ok, final;      /* for ks_engine_hook_result */
    ks_time next_at;    /* wall clock of the retry, KS_TIME_NONE: none */
    char detail[300];
};
void ks_shell_hook_try(const struct ks_config *cfg, const struct ks_store *st,
                       const struct ks_hook_row *row, struct ks_hook_try *t);

/* ---- one pass over an outbox (outbox.c), hook calls and messages alike ------------ */

/* What a pass does with a due row after its attempt: records it. row is a
 * struct ks_hook_row with t a struct ks_hook_try, or a struct ks_message_row
 * with t a struct ks_message_try, by the outbox. Returns 0, or -1: not
 * recorded, the pass ends there (the row and those after it stay waiting). */
typedef int (*ks_outbox_record_fn)(void *ctx, const void *row, const void *t);
struct ks_outbox {
    int messages;                /* 0: the hook calls (pending); 1: the messages (queued) */
    struct ks_store *store;      /* the rows are listed from it */
    const struct ks_config *cfg; /* the hooks and receivers of the attempts */
    ks_outbox_record_fn record;
    /* NULL, or called after each claimed batch's attempts, before the next
     * claim: the records it holds are written now (a claim sees a row's
     * lease of this deliverer as its own, so a row not written yet would be
     * claimed again). Returns 0, or -1: the pass ends. */
    int (*batch)(void *ctx);
    size_t batch_size; /* rows a claim takes at most (0: KS_OUTBOX_BATCH) */
    void *ctx;
    const int *stop; /* NULL, or set (read atomically): the pass ends before the next row */
    const char *receiver; /* messages: only this receiver's (NULL: every receiver's) */
    const char *owner;    /* the deliverer's name for its leases (NULL: ks_outbox_owner()) */
};
/* One pass: asks the store what is due (due_summary, a read: no next_at or
 * reached, and no lease of another deliverer running) and, when some rows
 * are, claims them with a lease (claim_due, batch_size at a time, for
 * KS_OUTBOX_LEASE) and makes the attempt of each claimed row in the claim's
 * order (hook calls oldest first; messages to the shop's people first)
 * (ks_shell_hook_try, ks_shell_message_try), handing it to record, which
 * ends its lease (or, with batch, keeps it for batch to write). A message
 * whose receiver was unavailable, with a retry to come, holds that
 * receiver's other waiting messages until that retry (hold_messages), and
 * the pass makes no more attempts through it: an outage costs one attempt
 * (one time-out) per retry, not one per message. *next comes
 * in as the earliest wall time known to be due (KS_TIME_NONE: none) and is
 * lowered by the rows not due yet, the leases of others and the retries
 * recorded. Returns 0; 1 when record or stop ended
 * the pass (the rows it claimed and did not attempt stay leased to this
 * deliverer until the lease ends or the next writer of the database takes
 * over); -1 with err set when the store could not be read, the rows
 * claimed or a receiver's messages held. */
#define KS_OUTBOX_BATCH 8
#define KS_OUTBOX_LEASE (5 * KS_MIN)
int ks_outbox_pass(const struct ks_outbox *o, ks_time *next, struct ks_err *err);
/* This process as the owner of its delivery leases ("HOST pid N since T"),
 * and the beginning of the name of each of its deliverers: the writer voids
 * the leases of every other process when it takes the writer lock, since
 * only the lock's holder delivers. */
const char *ks_outbox_owner(void);
/* A door's pass (0, or -1: failed) setting *next (it comes in KS_TIME_NONE). */
typedef int (*ks_outbox_pass_fn)(void *ctx, ks_time *next);
/* Runs pass again, sleeping until the earliest retry, while that retry is
 * due within max_wait (ms) of wall time from the start. Returns 0 with *next
 * the earliest retry left (KS_TIME_NONE: none), or -1 when a pass failed. */
int ks_outbox_deliver(ks_outbox_pass_fn pass, void *ctx, ks_time max_wait, ks_time *next);

/* ---- messages (messages.c, docs/MESSAGES.md) -------------------------------------------- */

/* Runs the message triggers (src/comms) for the open incidents and ids[0, n)
 * inside the flush's transaction: the outbox rows and the timeline entries
 * of what fires. */
enum ks_rc ks_shell_messages_queue(struct ks_shell *s, const int64_t *ids, size_t n,
                                   struct ks_err *err);
/* The templates in force (loaded once); NULL with err set when a template
 * file is broken. */
const struct ks_tpl_set *ks_shell_templates(struct ks_shell *s, struct ks_err *err);

/* One attempt at a queued message, as the delivery loop makes it. */
struct ks_message_try {
    const char *status; /* the row's next status: sent, queued (a retry), failed */
    int attempts;       /* after this one */
    ks_time next_at;    /* wall clock of the retry, KS_TIME_NONE: none */
    ks_time sent_at;    /* wall clock when accepted, KS_TIME_NONE */
    int final_failure;  /* gave up: the incident's timeline says so */
    int unavailable;    /* the receiver could not take messages (struct ks_send_result) */
    char detail[300];
};
void ks_shell_message_try(const struct ks_config *cfg, const struct ks_message_row *m,
                          struct ks_message_try *t);
/* The timeline's entry of a message that gave up (t->final_failure), in
 * text[0, cap). */
void ks_shell_message_gave_up(const struct ks_message_row *m, const struct ks_message_try *t,
                              char *text, size_t cap);
struct ks_msg_delivery {
    unsigned sent, retrying, failed;
    int left; /* still queued after max_wait */
};
/* Delivers the due messages of the outbox, waiting for retries up to
 * max_wait (ms) of wall time (hooks as ks_shell_deliver). A message that
 * gives up is a timeline entry of its incident. */
int ks_shell_messages_deliver(struct ks_shell *s, ks_time max_wait, struct ks_msg_delivery *st);
/* `kintsugi messages retry ID` and POST /v1/messages/{id}/retry: queues a
 * failed message again, its attempts starting over (*incident: its
 * incident). KS_ENOTFOUND for no such message; KS_ESTATE when it is not
 * failed, unless again (a journal re-applied: later attempts stand). With
 * eng, a note of the incident's timeline by `by` at `at` says so. */
enum ks_rc ks_shell_message_requeue(struct ks_store *s, struct ks_engine *eng, int64_t id,
                                    const char *by, ks_time at, int again, int64_t *incident,
                                    struct ks_err *err);
/* A message chosen to be queued again, with its incident. */
struct ks_msg_pick {
    int64_t id, incident;
};
/* `kintsugi messages retry-failed` and POST /v1/messages/retry (retry.c):
 * every failed message that f selects (its receiver, incident, audience;
 * its status and id are ignored) queued again, attempts starting over, and
 * with eng one note per incident by `by` at `at` ("3 failed messages via
 * box queued again by hand by rob"). *picked (ks_free) gets what was
 * queued, ordered by incident then id: a server journals it. With given (a
 * journal re-applied) the notes are those of given, and only the messages
 * of given still failed are queued again; nothing is returned. No failed
 * message is not an error (*npicked 0, no note). */
enum ks_rc ks_shell_messages_requeue_failed(struct ks_store *s, struct ks_engine *eng,
                                            const struct ks_message_filter *f,
                                            const struct ks_msg_pick *given, size_t ngiven,
                                            const char *by, ks_time at,
                                            struct ks_msg_pick **picked, size_t *npicked,
                                            struct ks_err *err);
/* ---- receivers (receivers.c) --------------------------------------------------- */

/* One receiver of messages: configured, or named by a message still in the
 * outbox. */
struct ks_receiver_state {
    char *name;
    const char *kind; /* smtp | webhook | dir; NULL: configured no more */
    int64_t queued, sent, failed;
    ks_time oldest_queued; /* engine clock; KS_TIME_NONE: nothing waits */
    char *last_failure;    /* the last failed message's detail, or NULL */
    char *retrying;        /* the detail of the last waiting message attempted, or NULL */
    ks_time next_attempt;  /* wall clock of the earliest retry of a waiting one, or NONE */
};
/* Every receiver, by name; free with ks_shell_receivers_free. */
enum ks_rc ks_shell_receivers(struct ks_store *s, const struct ks_config *cfg,
                              struct ks_receiver_state **out, size_t *n, struct ks_err *err);
void ks_shell_receivers_free(struct ks_receiver_state *v, size_t n);
/* `kintsugi messages test NAME`, POST /v1/receivers/{name}/test: one
 * message through the receiver `name`, now, with a key of its own and no
 * retry, not written to the outbox (it belongs to no incident): to `to` (an
 * smtp receiver's default: its `from`; others: "test"), saying it was sent
 * by `by`. The result in *t (its strings are cfg's, to and by: they live as
 * long); KS_ENOTFOUND (err says which receivers there are): no such
 * receiver; KS_EINPUT: `to` is not one e-mail address and the receiver is
 * an smtp one (nothing is sent). The JSON of a result: receiver, kind,
 * recipient, key, sent, unavailable, detail, by. */
struct ks_receiver_test {
    const char *receiver, *kind, *recipient, *by;
    char key[32];
    int sent;        /* the receiver took it */
    int unavailable; /* it could not be reached (struct ks_send_result) */
    char detail[256];
};
enum ks_rc ks_shell_receiver_test(const struct ks_config *cfg, const char *name, const char *to,
                                  const char *by, struct ks_receiver_test *t, struct ks_err *err);
void ks_shell_receiver_test_json(const struct ks_receiver_test *t, struct ks_buf *out);
/* `kintsugi messages receivers --json`, GET /v1/receivers. */
enum ks_rc ks_shell_receivers_json(struct ks_store *s, const struct ks_config *cfg,
                                   struct ks_buf *out, struct ks_err *err);

/* `kintsugi messages --json`: the messages of f, oldest first. */
enum ks_rc ks_shell_messages_json(struct ks_store *s, const struct ks_message_filter *f,
                                  struct ks_buf *out, struct ks_err *err);
/* The same, a page: brief leaves out each body ("body": null), limit > 0
 * writes only the first limit messages; *total (may be NULL) counts every
 * message of f. */
enum ks_rc ks_shell_messages_page(struct ks_store *s, const struct ks_message_filter *f, int brief,
                                  int64_t limit, struct ks_buf *out, int64_t *total,
                                  struct ks_err *err);
void ks_shell_message_json(const struct ks_message_row *m, struct ks_buf *out);

/* ---- documents shared by the doors (docs.c) ---------------------------------------- */

/* The engine clock of the last saved state (KS_TIME_NONE: none), read from
 * the head of the checkpoint without restoring the engine: the `now` the
 * documents of reviews, reports and costs are judged at, by every door. */
ks_time ks_shell_saved_clock(struct ks_store *s);
/* The changes of channel's guarded feed after since (at most limit, 0: all),
 * in order, each to fn; *cursor is the last seq handed over (since when
 * none). db names the database in the message of a damaged feed. */
typedef void (*ks_shell_feed_fn)(void *ctx, const struct ks_feed_row *r);
enum ks_rc ks_shell_feed_rows(struct ks_store *s, const char *db, const char *channel,
                              int64_t since, int64_t limit, ks_shell_feed_fn fn, void *ctx,
                              int64_t *cursor, struct ks_err *err);
/* `kintsugi feed CHANNEL --since N --json`: {"channel","changes":[{"seq","sku","qty","at",
 * "why","incident"?}],"cursor"}. */
enum ks_rc ks_shell_feed_json(struct ks_store *s, const char *db, const char *channel,
                              int64_t since, int64_t limit, struct ks_buf *out,
                              struct ks_err *err);
/* `kintsugi deadletters --json` (status "pending", or NULL with --all): [{"id","line",
 * "source","reason","raw","status","received_at"}]; the array is closed even on failure. */
enum ks_rc ks_shell_deadletters_json(struct ks_store *s, const char *status, struct ks_buf *out,
                                     struct ks_err *err);
/* The same array, a page of it: the letters with id > after (0: from the first),
 * at most limit of them (0: all); *total (may be NULL) counts every letter of
 * that status, the page's or not (GET /v1/deadletters?after=&limit=). */
enum ks_rc ks_shell_deadletters_page(struct ks_store *s, const char *status, int64_t after,
                                     int64_t limit, struct ks_buf *out, int64_t *total,
                                     struct ks_err *err);
/* `kintsugi hooks --json [--status S]`: [{"key","incident","action","status","attempts",
 * "next_at","detail","body"}]. */
enum ks_rc ks_shell_hooks_json(struct ks_store *s, const char *status, struct ks_buf *out,
                               struct ks_err *err);
/* The same, of one incident only (incident > 0; 0: all). */
enum ks_rc ks_shell_hooks_json_of(struct ks_store *s, const char *status, int64_t incident,
                                  struct ks_buf *out, struct ks_err *err);

/* ---- reading inputs (ingest.c) -------------------------------------------------- */

/* What an ingest tells its door as it goes. Both functions may be NULL. */
struct ks_progress {
    uint64_t total_bytes, done_bytes;
    /* After every chunk written, and once more (final 1) when the door says so. */
    void (*show)(struct ks_progress *p, const struct ks_engine *e, int final);
    /* Each rejected line, by input name and line number, with the reason
     * ("TYPE: field \"x\" reason"). NULL: printed on stderr as
     * NAME:LINE: reason. */
    void (*reject)(struct ks_progress *p, const char *input, int64_t lineno, const char *reason);
    void *ctx; /* the door's */
};

/* Where an input stands: set up by ks_shell_input_open, advanced by
 * ks_shell_ingest_fd, saved with every checkpoint of the ingest. */
struct ks_input {
    const char *name; /* as given (messages, dead letters) */
    char *path;       /* absolute, NULL for standard input */
    struct ks_input_row row;
    int resumed; /* the store knew it: reading starts at row.offset */
};
/* Looks the file up among the inputs this database has taken and positions fd
 * after what was applied when it is the same file (same path, same first
 * bytes; it may have grown since). from_start treats it as new. Returns
 * KS_SHELL_OK or KS_SHELL_FAIL (printed). */
int ks_shell_input_open(struct ks_shell *s, struct ks_input *in, int fd, const char *name,
                        int from_start);
void ks_shell_input_fini(struct ks_input *in);
/* Set by a SIGINT or SIGTERM handler (ks_shell_stop_on_signals): ingest then
 * stops after the current batch, saves and returns KS_SHELL_STOPPED. */
extern volatile int ks_shell_stop_signal;
void ks_shell_stop_on_signals(void);
/* Reads one input (fd) line by line into the engine (ks_engine_lines),
 * telling pg of each rejection, writing effects per chunk and saving the
 * state (with the position of every input of ins[0, nins)) every 30 s of
 * wall time. A line over 1 MiB is skipped as it streams (its dead letter
 * keeps the first 64 KiB and the true length). Does not close fd or end the
 * input. Returns KS_SHELL_OK, KS_SHELL_STOPPED or KS_SHELL_FAIL (printed). */
int ks_shell_ingest_fd(struct ks_shell *s, int fd, struct ks_input *in, struct ks_input *ins,
                       size_t nins, struct ks_progress *pg);
/* Saves the effects, the state and the positions of ins[0, nins). */
int ks_shell_checkpoint(struct ks_shell *s, struct ks_input *ins, size_t nins);
/* 1 when nothing the engine holds is missing from the store: no effect
 * waiting to be written, no SKU outside the saved dictionary, no rows after
 * the saved state. With no event applied since it was loaded, the saved
 * state is then the engine's own and saving it again would only copy it. */
int ks_shell_unchanged(const struct ks_shell *s);
/* 1 when the engine holds effects not yet written (changed incidents, dead
 * letters, hook calls, guarded feed changes, new SKUs): what a flush is about
 * to write changed the state. */
int ks_shell_has_effects(const struct ks_shell *s);

#endif
