/* serve_int.h - what the files of src/serve/ share (private). */
#ifndef KS_SERVE_INT_H
#define KS_SERVE_INT_H

#include "../shell/shell.h"
#include "serve.h"

#include <jansson.h>
#include <pthread.h>

struct job;

struct ks_live {
    struct ks_shell a;
    struct ks_live_opts o;
    uint32_t input; /* the engine's input "http" */
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* the writer waits for jobs */
    pthread_cond_t done_cv; /* submitters wait for their job */
    struct job *head, **tail;
    int stopping, started, ready, broken;
    /* A shared store (PostgreSQL) that failed is reconnected in place
     * (live.c, recover); meanwhile why says what is wrong (under mu). */
    int reconnects;
    char why[512];
    ks_time down_since; /* wall clock of the failure (0: none) */
    ks_time lock_checked; /* writer thread: when the lock was last known held */
    pthread_t th;
    int64_t journal_seq; /* the last entry applied */
    const char *replay_how; /* said of a journal re-applied (NULL: nothing more) */
    /* The first specialist review of a remedy the clock will find missed
     * (ks_remedy_next_review), once remedy_known: read again after each
     * saved state and each op that writes rows besides the engine. */
    int remedy_known;
    ks_time remedy_next;
    size_t journal_bytes; /* journaled since the last saved state */
    int open_updates;    /* events came since the last end of input */
    ks_time last_events; /* wall clock of the last events applied */
    ks_time last_checkpoint;
    /* Changes committed since the last saved state (not a bare clock tick),
     * and the wall clock of the last of them: a quiet spell saves them
     * (live.c, chores). */
    int unsaved;
    ks_time last_change;
    ks_time last_chores; /* writer thread: the last pass of its chores (live.c) */
    struct ks_live_stats st; /* counters: atomics */
    uint64_t by_type[KS_METRICS_TYPES][3]; /* accepted, duplicate, rejected: atomics */
    pthread_key_t reader_key;
    /* live_more.c: rows of the batch being applied that its transaction
     * writes (dead letters replayed, hook results), and the hook deliverer. */
    struct ks_live_mark *marks;
    size_t nmarks, capmarks;
    struct ks_live_deliverer *dl; /* the deliverer's threads */
    size_t ndl, capdl;
    pthread_mutex_t dmu;
    pthread_cond_t dcv;
    int dstop;
    uint64_t dgen; /* kicks so far: each thread makes a pass when it moves */
    uint64_t hooks_seen; /* a.hooks_queued at the last kick */
    /* logcopy.c: the log copied into the database from a thread of its own. */
    struct ks_store *cstore;
    pthread_t copier;
    pthread_mutex_t cmu;
    pthread_cond_t ccv;
    int cstarted, cstop;
};

#define KS_LIVE_COUNT(l, field, n) __atomic_add_fetch(&(l)->st.field, (n), __ATOMIC_RELAXED)

/* Applies one command (JSON {"op": ...}) to the engine at `at` (KS_TIME_NONE:
 * the engine clock) by actor; its result document to out. live_cmd.c. */
enum ks_rc ks_live_cmd_apply(struct ks_engine *e, const char *cmd, size_t len, const char *actor,
                             ks_time at, struct ks_buf *out, struct ks_err *err);
void ks_live_reader_free(void *store);

/* ---- live_more.c: ops that need the writer's state, and hook delivery ---------- */

/*
 * If cmd is one of the ops of live_more.c (deadletters_replay, hook_result),
 * applies it and returns 1 with *rc set, else returns 0. live: applied for a
 * request (not re-applied from the journal); an op that reads the store then
 * puts the command as it must be journaled (what it read included, so that
 * re-applying it needs no store) in *journal (the caller frees it).
 */
int ks_live_more_cmd(struct ks_live *l, const char *cmd, size_t len, int live, char **journal,
                     const char *actor, struct ks_buf *out, struct ks_err *err, enum ks_rc *rc);
/* Inside the batch's transaction: the rows those ops changed. */
enum ks_rc ks_live_more_write(struct ks_live *l, struct ks_err *err);
/* The delivery results of messages among the marks, recorded after the
 * flush's effects (the shell's after_effects); then every mark goes. */
enum ks_rc ks_live_more_write_messages(struct ks_shell *sh, void *ctx, struct ks_err *err);
/* Forgets the rows of a batch that was not written. */
void ks_live_more_drop(struct ks_live *l);
/* The deliverer: threads making the due attempts of the outboxes and
 * journaling each result as a hook_result or message_result command, one
 * for the hook calls and one per receiver (those configured, and any that
 * queued messages name), so that a slow or failing receiver holds up its
 * own messages only, and containment never waits behind messages. Each
 * claims its rows with leases in a name of its own ("<process> hooks",
 * "<process> receiver NAME"). */
struct ks_live_deliverer {
    struct ks_live *l;
    pthread_t th;
    int started;
    int messages;
    char *receiver; /* messages: this receiver's */
    char owner[300];
    uint64_t seen; /* l->dgen at its last pass */
};
void ks_live_deliver_start(struct ks_live *l);
void ks_live_deliver_kick(struct ks_live *l);
void ks_live_deliver_stop(struct ks_live *l);

/* ---- logcopy.c: the write-ahead log copied off the writer's path ---------------- */
/* Started with the writer (the writer's connection then never copies the log
 * at commit), stopped after it (the connection copies again from then on). */
void ks_live_logcopy_start(struct ks_live *l);
void ks_live_logcopy_stop(struct ks_live *l);
/* ---- live_tx.c: ops that change rows of the store too --------------------------- */

/* Whether cmd names one of the ops of live_tx.c (remedies, reviews, costs):
 * applied inside the batch's transaction, not with the engine's ops. */
int ks_live_tx_op(const char *cmd, size_t len);
/* Applies such an op to the store and the engine of a, as actor at `at`
 * (KS_TIME_NONE: the engine clock); reapply: from the journal after a
 * restart. out gets the result document; *journal (ks_free) the command as
 * it must be journaled when the op rewrote it, else NULL. A refusal
 * (KS_EUSAGE, KS_ENOTFOUND, KS_ESTATE) changed nothing. */
enum ks_rc ks_live_tx_apply(struct ks_shell *a, const char *cmd, size_t len, const char *actor,
                            ks_time at, int reapply, struct ks_buf *out, char **journal,
                            struct ks_err *err);

/* ---- api_more.c: the routes of the feed, dead letters and hooks ------------------ */

void ks_api_get_feed(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);
void ks_api_get_deadletters(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);
void ks_api_post_deadletters_replay(const struct ks_http_req *req, struct ks_http_resp *resp,
                                    void *ctx);
void ks_api_get_hooks(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);
void ks_api_get_messages(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);
void ks_api_get_receivers(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);
void ks_api_post_receiver_test(const struct ks_http_req *req, struct ks_http_resp *resp,
                               void *ctx);
void ks_api_post_receiver_deliver(const struct ks_http_req *req, struct ks_http_resp *resp,
                                  void *ctx);
void ks_api_post_message_retry(const struct ks_http_req *req, struct ks_http_resp *resp,
                               void *ctx);
void ks_api_post_messages_retry(const struct ks_http_req *req, struct ks_http_resp *resp,
                                void *ctx);
void ks_api_post_hook_retry(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);
void ks_live_free(struct ks_live *l);

/* ---- api_remedy.c: the service-recovery policy, and helpers of the routes ------------ */

/* An error answer for err: 400 invalid, 404 not_found, 409 conflict, else 503. */
void ks_api_fail(struct ks_http_resp *resp, const struct ks_err *err);
/* msg with the commands it names as a way out (kintsugi incident note 3 ...)
 * written as the API's routes (POST /v1/incidents/3/note), appended to out
 * (hint.c). */
void ks_api_hint(const char *msg, struct ks_buf *out);
/* s as a positive id, written as one (digits, no sign, no leading zero:
 * "+4" and "04" are refused) and within int64; 0 after answering 400
 * ("WHERE: 'S' is not WHAT (a positive integer)"). */
int64_t ks_api_id(const char *s, const char *what, const char *where, struct ks_http_resp *resp);
/* 0 when the request has no body, or a JSON object whose fields are all
 * among known (comma separated: "status, note"; "": none); else -1 after
 * answering 400 invalid ("body: must be a JSON object, got an array",
 * "field \"bogus\" is not known (status, note)"), so that a misspelt field
 * is never dropped without a word. Every route with a JSON body starts
 * with it. */
int ks_api_body_fields(const struct ks_http_req *req, struct ks_http_resp *resp,
                       const char *known);
/* What a JSON value is, for "must be a string, got 5": the value itself
 * (5, true, null, "x"; shortened past 40 bytes) or "an array", "an object". */
void ks_api_got(const json_t *v, char *buf, size_t cap);
/* Runs cmd (a JSON object, consumed) as the request's token, durably. */
void ks_api_command(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx,
                    json_t *cmd);
void ks_api_get_remedies(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);
void ks_api_get_offer(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);
void ks_api_get_promise(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);
void ks_api_post_grant(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);
void ks_api_post_remedy(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);

/* ---- api_learn.c: reviews, the report, costs ------------------------------------------ */

void ks_api_get_reviews(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);
void ks_api_get_review(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);
void ks_api_post_review(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);
void ks_api_get_review_items(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);
void ks_api_post_item(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);
void ks_api_get_report(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);
void ks_api_get_cost(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);
void ks_api_post_cost(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);

#endif
