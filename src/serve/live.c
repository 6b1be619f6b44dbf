/* live.c - the server's writer: one thread owns the engine and the store,
 * applies queued jobs in arrival order, journals them and commits their
 * effects together (group commit), then answers. See serve.h. */
#include "../comms/comms.h"
#include "../remedy/remedy.h"
#include "serve.h"
#include "serve_int.h"

#include <errno.h>
#include <stddef.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum job_kind { JOB_EVENTS, JOB_COMMAND, JOB_READ };

struct job {
    enum job_kind kind;
    const char *body;
    size_t len;
    const char *actor;
    struct ks_live_events *res;
    struct ks_buf *out;
    ks_live_read_fn fn;
    void *ctx;
    struct ks_err err;
    int failed; /* -1: refused before any change; 1: the store failed */
    int end;    /* events: close open updates after them */
    int done;
    ks_time at;   /* the time it was applied at */
    int64_t seq;  /* its journal entry */
    size_t dead0, dead1; /* its dead letters among the engine's */
    int reapplied;       /* from the journal, after a restart */
    char *owned;         /* the body as journaled, when the op rewrote it (live_more.c) */
    int deferred;        /* an op of live_tx.c: applied inside the batch's transaction */
    const char *mark_key; /* events from a bus: its position, stored in the same transaction */
    int64_t mark;
    struct job *next;
};

/* ---- applying: the same code live and when the journal is re-applied ---------- */

/* Moves the engine to the wall clock (not with event time). */
static void move_clock(struct ks_live *l, ks_time at)
{
    if (!l->o.clock_event && at > 0) {
        ks_engine_advance(l->a.eng, at);
    }
}

struct reject_ctx {
    struct ks_live_events *res;
    struct ks_json j;
};

static void apply_events(struct ks_live *l, struct job *jb)
{
    struct ks_live_events *res = jb->res;
    move_clock(l, jb->at);
    if (!l->o.clock_event && jb->at > 0) {
        /* --max-skew is measured from the wall clock of the request, not from
         * the engine clock that the previous events may have moved on. */
        ks_engine_horizon_base(l->a.eng, jb->at, "--max-skew");
        /* and an event ahead of it (within --max-skew) happens at it: the
         * clock is the wall clock (SPEC 2), never a client's fast one */
        ks_engine_ts_cap(l->a.eng, jb->at);
    }
    struct ks_json j;
    ks_json_init(&j, &res->rejected_json, 0);
    ks_json_arr_begin(&j);
    const struct ks_dead_effect *dl;
    jb->dead0 = ks_engine_dead(l->a.eng, &dl);
    const char *p = jb->body, *end = jb->body + jb->len;
    int64_t lineno = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        lineno++;
        size_t n = (size_t)(e - p);
        if (n && p[n - 1] == '\r') {
            n--;
        }
        struct ks_err err = {0};
        int t = ks_metrics_type(p, n);
        switch (ks_engine_event(l->a.eng, l->input, lineno, p, n, &err)) {
        case KS_LINE_BLANK:
            break; /* without effect, not counted */
        case KS_LINE_ACCEPTED:
            res->accepted++;
            __atomic_add_fetch(&l->by_type[t][0], 1, __ATOMIC_RELAXED);
            break;
        case KS_LINE_DUPLICATE:
            res->duplicates++;
            __atomic_add_fetch(&l->by_type[t][1], 1, __ATOMIC_RELAXED);
            break;
        case KS_LINE_REJECTED:
            res->rejected++;
            __atomic_add_fetch(&l->by_type[t][2], 1, __ATOMIC_RELAXED);
            if (res->rejected > KS_LIVE_REJECTED_LISTED) {
                break; /* counted and kept as a dead letter, not listed */
            }
            ks_json_obj_begin(&j);
            ks_json_key(&j, "line");
            ks_json_int(&j, lineno);
            ks_json_key(&j, "reason");
            ks_json_str(&j, err.msg);
            ks_json_obj_end(&j);
            break;
        }
        p = nl ? nl + 1 : end;
    }
    ks_json_arr_end(&j);
    ks_engine_horizon_base(l->a.eng, KS_TIME_NONE, NULL);
    ks_engine_ts_cap(l->a.eng, KS_TIME_NONE);
    jb->dead1 = ks_engine_dead(l->a.eng, &dl);
    if (res->accepted) {
        l->open_updates = 1;
        l->last_events = ks_time_now();
    }
    if (jb->end) {
        ks_engine_end_input(l->a.eng);
        l->open_updates = 0;
    }
    KS_LIVE_COUNT(l, events_accepted, res->accepted);
    KS_LIVE_COUNT(l, events_duplicate, res->duplicates);
    KS_LIVE_COUNT(l, events_rejected, res->rejected);
}

/* The command that closes the open updates after a quiet spell. */
static const char END_INPUT[] = "{\"op\":\"end_input\"}";

static void apply_command(struct ks_live *l, struct job *jb)
{
    move_clock(l, jb->at);
    if (jb->len == sizeof(END_INPUT) - 1 && memcmp(jb->body, END_INPUT, jb->len) == 0) {
        l->open_updates = 0;
    }
    if (ks_live_tx_op(jb->body, jb->len)) {
        jb->deferred = 1; /* rows of the store too: in write_batch */
        l->remedy_known = 0; /* a remedy's review may be due sooner now */
        KS_LIVE_COUNT(l, commands, 1);
        return;
    }
    ks_time at = l->o.clock_event ? KS_TIME_NONE : jb->at;
    enum ks_rc rc;
    char *journal = NULL;
    if (!ks_live_more_cmd(l, jb->body, jb->len, !jb->reapplied, &journal, jb->actor, jb->out,
                          &jb->err, &rc)) {
        rc = ks_live_cmd_apply(l->a.eng, jb->body, jb->len, jb->actor, at, jb->out, &jb->err);
    }
    if (journal) {
        /* journaled as the op rewrote it (what it read from the store included) */
        jb->owned = journal;
        jb->body = journal;
        jb->len = strlen(journal);
    }
    if (rc != KS_OK) {
        jb->failed = -1;
    }
    KS_LIVE_COUNT(l, commands, 1);
}

static void apply(struct ks_live *l, struct job *jb)
{
    if (jb->kind == JOB_EVENTS) {
        apply_events(l, jb);
    } else if (jb->kind == JOB_COMMAND) {
        apply_command(l, jb);
    } else {
        if (jb->fn(l->a.eng, jb->ctx, jb->out, &jb->err) != KS_OK) {
            jb->failed = -1;
        }
    }
}

/* ---- writing a batch ----------------------------------------------------------- */

struct batch {
    struct ks_live *l;
    struct job *jobs;
    int journal; /* append the jobs to the journal (live; not when re-applying it) */
    int trim;    /* with a checkpoint: drop the journal it accounts for */
};

static const char *kind_name(const struct job *jb)
{
    return jb->kind != JOB_EVENTS ? "command" : jb->end ? "events+end" : "events";
}

/* Inside the batch's transaction: the journal entries, then the dead letters
 * named after their request (the engine's own are dropped). */
static enum ks_rc write_batch(struct ks_shell *a, void *ctx, struct ks_err *err)
{
    struct batch *b = ctx;
    struct ks_live *l = b->l;
    const struct ks_dead_effect *dl;
    size_t nd = ks_engine_dead(a->eng, &dl);
    for (struct job *jb = b->jobs; jb; jb = jb->next) {
        if (jb->kind == JOB_READ || jb->failed) {
            continue;
        }
        if (jb->deferred) {
            /* live_tx.c: its rows, its timeline entries and its journal
             * entry in this transaction; refused, it is not journaled */
            char *journal = NULL;
            struct ks_err e2 = {0};
            enum ks_rc rc = ks_live_tx_apply(a, jb->body, jb->len, jb->actor,
                                             l->o.clock_event ? KS_TIME_NONE : jb->at,
                                             jb->reapplied, jb->out, &journal, &e2);
            if (rc == KS_EIO || rc == KS_ENOMEM) {
                *err = e2;
                return rc;
            }
            if (rc != KS_OK) {
                jb->failed = -1;
                jb->err = e2;
                continue;
            }
            if (journal) {
                ks_free(jb->owned);
                jb->owned = journal;
                jb->body = journal;
                jb->len = strlen(journal);
            }
        }
        if (b->journal) {
            struct ks_journal_row r = {0, kind_name(jb), jb->at, jb->actor, jb->body,
                                       jb->len};
            if (a->store->ops->add_journal(a->store, &r, err) != KS_OK) {
                return err->rc;
            }
            jb->seq = r.seq;
            KS_LIVE_COUNT(l, journal_rows, 1);
        }
        if (jb->seq > l->journal_seq) {
            l->journal_seq = jb->seq;
        }
        if (jb->res) {
            jb->res->request = jb->seq;
        }
        if (jb->mark_key) {
            /* the bus position this batch reaches, committed with what it produced */
            char v[32];
            int n = snprintf(v, sizeof(v), "%lld", (long long)jb->mark);
            if (a->store->ops->put_blob(a->store, jb->mark_key, v, (size_t)n, err) != KS_OK) {
                return err->rc;
            }
        }
        char source[160];
        snprintf(source, sizeof(source), "%s request %lld (%.100s)",
                 jb->mark_key ? "bus" : "http", (long long)jb->seq, jb->actor ? jb->actor : "?");
        for (size_t i = jb->dead0; i < jb->dead1 && i < nd; i++) {
            if (ks_shell_add_deadletter(a->store, source, &dl[i], err) != KS_OK) {
                return err->rc;
            }
        }
    }
    if (ks_live_more_write(l, err) != KS_OK) {
        return err->rc;
    }
    ks_engine_dead_drop(a->eng);
    if (!b->trim) {
        return KS_OK;
    }
    /* With a saved state: the journal entries it accounts for go, and the
     * "journal" blob says where re-applying starts after a restart. */
    char seq[32];
    int n = snprintf(seq, sizeof(seq), "%lld", (long long)l->journal_seq);
    enum ks_rc rc = a->store->ops->put_blob(a->store, "journal", seq, (size_t)n, err);
    if (rc == KS_OK) {
        rc = a->store->ops->trim_journal(a->store, l->journal_seq, err);
    }
    return rc;
}

/* Whether a batch holds reads only (a dashboard polling): nothing to write. */
static int only_reads(const struct job *jobs)
{
    for (const struct job *jb = jobs; jb; jb = jb->next) {
        if (jb->kind != JOB_READ) {
            return 0;
        }
    }
    return 1;
}

/* Whether a batch of jobs changes more than the clock: a bare clock tick
 * changes the state only through what it fires (ks_shell_has_effects). */
static int changes(const struct job *jobs)
{
    for (const struct job *jb = jobs; jb; jb = jb->next) {
        if (jb->kind != JOB_READ && !(jb->actor && !strcmp(jb->actor, "clock"))) {
            return 1;
        }
    }
    return 0;
}

/* Why a server stops writing when its writer lock went to another one. */
static const char LOCK_LOST[] = "store: another process holds the writer lock now";

/* The engine holds what the store does not: no more changes until the
 * engine is loaded again from the store (recover: PostgreSQL) or a restart
 * re-applies the journal (SQLite). */
static void store_failed(struct ks_live *l, const char *why)
{
    pthread_mutex_lock(&l->mu);
    snprintf(l->why, sizeof(l->why), "%s", why);
    l->down_since = ks_time_now();
    pthread_mutex_unlock(&l->mu);
    __atomic_store_n(&l->broken, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&l->ready, 0, __ATOMIC_RELEASE);
    ks_live_more_drop(l);
}

/* A quiet server on a shared store: its writer's session, and the lock with
 * it, may have ended (the database restarted, the connection cut) while
 * nothing was written, and another server may have taken over. Taking the
 * lock again on the same session is harmless (PostgreSQL counts it) and
 * tells: held, taken again on a new connection, or lost to another server
 * (then /readyz says so at once and recover() exits: fencing). */
static void check_lock(struct ks_live *l)
{
    struct ks_store *s = l->a.store;
    struct ks_err err = {0};
    int got = 0;
    l->lock_checked = ks_time_now();
    enum ks_rc rc = s->ops->lock_writer(s, &got, &err);
    if (rc == KS_OK && !got) {
        ks_err_set(&err, KS_ESTATE, "%s", LOCK_LOST);
    }
    if (rc != KS_OK || !got) {
        store_failed(l, err.msg);
    }
}

/* Applies and commits jobs, saving the state by time, by the journal's size
 * or when save is set; 0, or -1 when the store failed (each job then has
 * failed = 1). */
static int run_batch_save(struct ks_live *l, struct job *jobs, int journal, int save)
{
    ks_time now = ks_time_now();
    /* A job's instant is never behind the engine clock, which a quiet tick
     * may have moved on in memory only (quiet_tick): re-applied at it, the
     * job meets the clock it met live. */
    ks_time clock = ks_engine_clock(l->a.eng);
    ks_time at = clock != KS_TIME_NONE && clock > now ? clock : now;
    for (struct job *jb = jobs; jb; jb = jb->next) {
        if (journal) {
            jb->at = l->o.clock_event ? 0 : at;
        }
        apply(l, jb);
    }
    if (journal) {
        for (struct job *jb = jobs; jb; jb = jb->next) {
            l->journal_bytes += jb->kind == JOB_READ ? 0 : jb->len;
        }
    }
    /* by time, or by what a restart would re-apply: once the journal since
     * the last save outgrows both the threshold and the saved state itself
     * (so saving never writes more than twice what comes in) */
    size_t by_bytes = l->o.checkpoint_bytes > l->a.checkpoint_bytes ? l->o.checkpoint_bytes
                                                                     : l->a.checkpoint_bytes;
    int changed = changes(jobs) || ks_shell_has_effects(&l->a);
    /* by time only when something is not saved yet: a server that is only
     * read (a dashboard polling) or whose ticks change nothing writes no state */
    int ck = save ||
             ((l->unsaved || changed) && now - l->last_checkpoint >= l->o.checkpoint_every) ||
             l->journal_bytes >= by_bytes;
    if (!ck && !changed && only_reads(jobs)) {
        return 0; /* nothing to write: no transaction */
    }
    struct batch b = {l, jobs, journal, ck};
    int rc = ks_shell_flush_with(&l->a, ck, write_batch, &b);
    if (rc != 0) {
        store_failed(l, l->a.failed.msg);
        for (struct job *jb = jobs; jb; jb = jb->next) {
            if (!jb->failed) {
                jb->failed = 1;
                ks_err_set(&jb->err, KS_EIO, "the store failed; nothing of it was kept: %s",
                           l->a.failed.msg);
            }
        }
        return -1;
    }
    l->lock_checked = now; /* a commit went through: the session holds the lock */
    if (ck) {
        l->last_checkpoint = now;
        l->journal_bytes = 0;
        l->unsaved = 0;
        l->remedy_known = 0; /* reviews found missed with it: the next one is another */
    } else if (changed) {
        l->unsaved = 1;
        l->last_change = now;
    }
    KS_LIVE_COUNT(l, commits, 1);
    __atomic_store_n(&l->st.clock, ks_engine_clock(l->a.eng), __ATOMIC_RELAXED);
    if (l->a.hooks_queued + l->a.messages_queued != l->hooks_seen) {
        /* new hook calls or messages in the outbox: the deliverer takes them now */
        l->hooks_seen = l->a.hooks_queued + l->a.messages_queued;
        ks_live_deliver_kick(l);
    }
    return 0;
}

static int run_batch(struct ks_live *l, struct job *jobs, int journal)
{
    return run_batch_save(l, jobs, journal, 0);
}

/* ---- re-applying the journal after a restart ------------------------------------ */

struct replay {
    struct ks_live *l;
    struct job *head, **tail;
    size_t n;
    int failed;
};

static int replay_row(void *ctx, const struct ks_journal_row *r)
{
    struct replay *rp = ctx;
    struct job *jb = ks_calloc(1, sizeof(*jb));
    jb->kind = strncmp(r->kind, "events", 6) == 0 ? JOB_EVENTS : JOB_COMMAND;
    jb->end = strcmp(r->kind, "events+end") == 0;
    char *copy = ks_malloc(r->len + 1);
    if (r->len) { /* an empty body (a request only to end the input) has no data */
        memcpy(copy, r->data, r->len);
    }
    copy[r->len] = 0;
    jb->body = copy;
    jb->len = r->len;
    jb->actor = ks_strdup(r->source ? r->source : "");
    jb->at = r->at;
    jb->seq = r->seq;
    jb->reapplied = 1;
    if (jb->kind == JOB_EVENTS) {
        jb->res = ks_calloc(1, sizeof(*jb->res));
    } else {
        jb->out = ks_calloc(1, sizeof(*jb->out));
    }
    *rp->tail = jb;
    rp->tail = &jb->next;
    rp->n++;
    return 0;
}

static void free_replayed(struct job *jb)
{
    while (jb) {
        struct job *next = jb->next;
        if (jb->owned != jb->body) {
            ks_free(jb->owned);
        }
        ks_free((char *)jb->body);
        ks_free((char *)jb->actor);
        if (jb->res) {
            ks_buf_fini(&jb->res->rejected_json);
            ks_free(jb->res);
        }
        if (jb->out) {
            ks_buf_fini(jb->out);
            ks_free(jb->out);
        }
        ks_free(jb);
        jb = next;
    }
}

/* The last journal entry the saved state accounts for (blob "journal"; 0:
 * none) into *seq. */
static enum ks_rc saved_seq(struct ks_store *s, int64_t *seq, struct ks_err *err)
{
    struct ks_buf b = {0};
    int found = 0;
    enum ks_rc rc = s->ops->get_blob(s, "journal", &b, &found, err);
    *seq = rc == KS_OK && found && b.p ? strtoll(b.p, NULL, 10) : 0;
    ks_buf_fini(&b);
    return rc;
}

/* Re-applies the journal after the saved state the engine was loaded from;
 * KS_SHELL_FAIL with err set (and printed) when the store failed. */
static int replay_journal(struct ks_live *l, struct ks_err *errp)
{
    struct ks_err err = {0};
    if (saved_seq(l->a.store, &l->journal_seq, &err) != KS_OK) {
        ks_shell_error("%s: %s", l->a.store->uri, err.msg);
        *errp = err;
        return KS_SHELL_FAIL;
    }
    struct replay rp = {l, NULL, &rp.head, 0, 0};
    if (l->a.store->ops->list_journal(l->a.store, l->journal_seq, replay_row, &rp, &err) !=
        KS_OK) {
        ks_shell_error("%s: %s", l->a.store->uri, err.msg);
        free_replayed(rp.head);
        *errp = err;
        return KS_SHELL_FAIL;
    }
    /* Re-applied in chunks, each committed with a saved state at the end. */
    int rc = 0;
    struct job *jb = rp.head;
    for (struct job *last = NULL; jb; jb = jb->next) {
        apply(l, jb);
        last = jb;
        (void)last;
    }
    if (rp.n) {
        struct batch bt = {l, rp.head, 0, 1};
        if (ks_shell_flush_with(&l->a, 1, write_batch, &bt) != 0) {
            rc = KS_SHELL_FAIL;
            *errp = l->a.failed;
            ks_live_more_drop(l);
        } else {
            fprintf(stderr, "kintsugi: %s: re-applied %zu journal entr%s written after the last "
                            "saved state%s\n",
                    l->a.db, rp.n, rp.n == 1 ? "y" : "ies", l->replay_how ? l->replay_how : "");
        }
    }
    free_replayed(rp.head);
    return rc;
}

/* ---- a shared store taken up again after a failure -------------------------------- */

/* What a request that needs the writer is told while the store is down. */
static void unavailable(struct ks_live *l, struct ks_err *err)
{
    if (l->stopping) {
        ks_err_set(err, KS_EIO, "the server is stopping");
    } else if (l->reconnects) {
        ks_err_set(err, KS_EIO, "the store is unavailable (%s); reconnecting", l->why);
    } else {
        ks_err_set(err, KS_EIO, "the store failed; restart the server to continue from its "
                                "journal");
    }
}

/* Under mu: answers the jobs queued meanwhile (they changed nothing). */
static void fail_queued(struct ks_live *l)
{
    struct job *jobs = l->head;
    l->head = NULL;
    l->tail = &l->head;
    for (struct job *jb = jobs; jb; jb = jb->next) {
        jb->failed = 1;
        unavailable(l, &jb->err);
        jb->done = 1;
    }
    if (jobs) {
        pthread_cond_broadcast(&l->done_cv);
    }
}

/* The engine as the store has it: the last saved state, the journal after it. */
static int reload(struct ks_live *l, struct ks_err *err)
{
    ks_live_more_drop(l);
    if (ks_shell_reload(&l->a, err) != 0) {
        return -1;
    }
    l->input = ks_engine_input(l->a.eng, "http");
    if (replay_journal(l, err) != 0) {
        return -1;
    }
    l->last_checkpoint = ks_time_now();
    __atomic_store_n(&l->st.clock, ks_engine_clock(l->a.eng), __ATOMIC_RELAXED);
    return 0;
}

/* ---- the configuration the journal was accepted under ------------------------------ */

/* Blob "journal_config": "PATH\nTEXT", the configuration file the server
 * runs with (its directory resolves relative paths) and its text without
 * secrets (ks_config_redacted); "\n" for the defaults; empty when it could
 * not be recorded (the journal is then re-applied with the file as it is).
 * Written at a start, before any entry is journaled. */
static void config_record(const struct ks_config *cfg, struct ks_buf *out)
{
    ks_buf_puts(out, cfg->path ? cfg->path : "");
    ks_buf_putc(out, '\n');
    if (cfg->source) {
        struct ks_buf r = {0};
        if (ks_config_redacted(cfg->source, cfg->source_len, &r) != 0) {
            ks_buf_reset(out);
        } else if (r.len) {
            ks_buf_put(out, r.p, r.len);
        }
        ks_buf_fini(&r);
    }
}

/* What the server sets over the file's configuration (ks_live_open). */
static void config_overrides(struct ks_live *l, struct ks_config *cfg)
{
    if (!l->o.clock_event) {
        /* The wall clock: an event further ahead of it than max_skew is a
         * sender's clock gone wrong, rejected with that reason. */
        cfg->ts_horizon = l->o.max_skew;
    }
}

static int stop_at_first(void *ctx, const struct ks_journal_row *r)
{
    (void)r;
    *(int *)ctx = 1;
    return 1;
}

/* The configuration recorded in rec, loaded; 0 when it cannot be (said). */
static int config_recorded(struct ks_live *l, const struct ks_buf *rec, struct ks_config *cfg)
{
    if (!rec->len) {
        return 0; /* not recorded */
    }
    const char *nl = memchr(rec->p, '\n', rec->len);
    size_t plen = nl ? (size_t)(nl - rec->p) : rec->len;
    const char *text = nl ? nl + 1 : "";
    size_t tlen = nl ? rec->len - plen - 1 : 0;
    struct ks_err err = {0};
    if (!plen) {
        ks_config_defaults(cfg); /* the server ran without a configuration file */
    } else {
        char *path = ks_strndup(rec->p, plen);
        enum ks_rc rc = ks_config_load_text(cfg, path, text, tlen, &err);
        ks_free(path);
        if (rc != KS_OK) {
            ks_log(KS_LOG_ERROR, "serve",
                   "%s: the configuration the journal was accepted under does not load any more "
                   "(%s); it is re-applied with the current one, and what was answered before "
                   "may come out differently",
                   l->a.db, err.msg);
            return 0;
        }
    }
    config_overrides(l, cfg);
    return 1;
}

/*
 * A start re-applies the journal with the configuration its entries were
 * accepted under, which the file may no longer be: edited since, or another
 * instance's taking over. The engine is loaded with that one, the journal
 * re-applied and saved, and then the current configuration rules from the
 * saved state on, as after a clean stop: what was answered stays as it was
 * answered (an incident opened, a remedy granted by a person the file no
 * longer names). Secrets are not recorded and not needed: nothing is
 * delivered while re-applying.
 */
static int replay_as_accepted(struct ks_live *l, struct ks_err *errp)
{
    struct ks_store *s = l->a.store;
    struct ks_buf then = {0}, now = {0};
    struct ks_err err = {0};
    int found = 0, pending = 0, rc = 0;
    int64_t seq = 0;
    config_record(&l->a.cfg, &now);
    if (s->ops->get_blob(s, "journal_config", &then, &found, &err) != KS_OK) {
        rc = -1;
    }
    int same = found && then.len == now.len && !memcmp(then.p, now.p, now.len);
    if (rc == 0 && found && !same &&
        (saved_seq(s, &seq, &err) != KS_OK ||
         s->ops->list_journal(s, seq, stop_at_first, &pending, &err) != KS_OK)) {
        rc = -1;
    }
    struct ks_config old;
    if (rc == 0 && pending && config_recorded(l, &then, &old)) {
        char how[600];
        snprintf(how, sizeof(how),
                 ", with the configuration they were accepted under; it has changed since, and "
                 "%.400s applies from here on",
                 l->a.cfg.path ? l->a.cfg.path : "the default configuration");
        struct ks_config cur = l->a.cfg;
        l->a.cfg = old;
        l->replay_how = how;
        rc = reload(l, errp);
        l->replay_how = NULL;
        old = l->a.cfg;
        l->a.cfg = cur;
        ks_config_fini(&old);
        if (rc == 0) {
            rc = reload(l, errp); /* the saved state, nothing left to re-apply */
        }
    } else if (rc == 0) {
        rc = replay_journal(l, errp);
    } else {
        ks_shell_error("%s: %s", s->uri, err.msg);
        *errp = err;
    }
    if (rc == 0 && !same) {
        if (ks_store_begin(s, &err) != KS_OK ||
            s->ops->put_blob(s, "journal_config", now.p, now.len, &err) != KS_OK ||
            ks_store_commit(s, &err) != KS_OK) {
            struct ks_err ignore;
            ks_store_rollback(s, &ignore);
            ks_shell_error("%s: %s", s->uri, err.msg);
            *errp = err;
            rc = -1;
        }
    }
    ks_buf_fini(&then);
    ks_buf_fini(&now);
    return rc ? KS_SHELL_FAIL : 0;
}

/*
 * The writer after a failed transaction on a shared store (PostgreSQL: the
 * connection lost, the server restarted): the transaction was rolled back,
 * so what was acknowledged is in the store and nothing else is. Requests
 * that need the writer fail meanwhile (503, with why; /readyz says it too).
 * Tries again after 100 ms, doubling to 5 s, each wait drawn between half
 * and all of it (jitter: many servers do not come back in step): reconnects,
 * takes the writer lock again (it went with the session), loads the engine
 * again from the store and re-applies the journal, and goes on. Returns 0
 * once the writer can go on, -1 when the server is stopping. Another process
 * holding the writer lock now (another `kintsugi serve` took over): this
 * one must not write anything more, and exits 1 at once (fencing: a
 * supervisor starts it again, as a standby).
 */
static int recover(struct ks_live *l)
{
    struct ks_store *s = l->a.store;
    unsigned seed = (unsigned)ks_time_now() ^ (unsigned)getpid();
    ks_time backoff = 100;
    ks_log(KS_LOG_ERROR, "serve", "%s: the store failed (%s); nothing more is taken until it is "
                                  "back: reconnecting",
           s->uri, l->why);
    for (int attempt = 1;; attempt++) {
        ks_time wait = backoff / 2 + (ks_time)(rand_r(&seed) % (unsigned)(backoff / 2 + 1));
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        ts.tv_sec += (time_t)(wait / 1000) + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_mutex_lock(&l->mu);
        fail_queued(l);
        while (!l->stopping && pthread_cond_timedwait(&l->cv, &l->mu, &ts) != ETIMEDOUT) {
            fail_queued(l);
        }
        fail_queued(l);
        int stopping = l->stopping;
        pthread_mutex_unlock(&l->mu);
        if (stopping) {
            return -1;
        }
        struct ks_err err = {0};
        int got = 0;
        enum ks_rc rc = s->ops->lock_writer(s, &got, &err);
        if (rc == KS_ESTATE || (rc == KS_OK && !got)) {
            if (rc == KS_OK) {
                ks_err_set(&err, KS_ESTATE, "%s", LOCK_LOST);
            }
            ks_shell_error("%s: %s; exiting without writing anything more (the active server "
                           "is the one holding the lock; a supervisor may start this one again "
                           "as a standby)",
                           s->uri, err.msg);
            fflush(stderr);
            _exit(KS_SHELL_FAIL);
        }
        if (rc == KS_OK && reload(l, &err) == 0) {
            ks_shell_writer_describe(&l->a, l->o.url);
            pthread_mutex_lock(&l->mu);
            ks_time down = ks_time_now() - l->down_since;
            l->why[0] = 0;
            l->down_since = 0;
            __atomic_store_n(&l->broken, 0, __ATOMIC_RELEASE);
            __atomic_store_n(&l->ready, 1, __ATOMIC_RELEASE);
            pthread_mutex_unlock(&l->mu);
            KS_LIVE_COUNT(l, reconnects, 1);
            ks_log(KS_LOG_WARN, "serve",
                   "%s: the store is back after %lld ms (attempt %d): writer lock held, state "
                   "loaded again from the store, taking requests",
                   s->uri, (long long)down, attempt);
            return 0;
        }
        pthread_mutex_lock(&l->mu);
        int changed = strcmp(l->why, err.msg) != 0;
        snprintf(l->why, sizeof(l->why), "%s", err.msg);
        pthread_mutex_unlock(&l->mu);
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
        if (changed || attempt % 20 == 0) {
            ks_log(KS_LOG_WARN, "serve",
                   "%s: still unavailable (attempt %d, next within %lld ms): %s", s->uri, attempt,
                   (long long)backoff, err.msg);
        }
    }
}

/* ---- the writer thread --------------------------------------------------------- */

/* The least time between a saved state and one saved on a quiet spell: a
 * second for each 4 MiB the state takes (the state is written whole), so
 * that a trickle of events with quiet seconds between them writes at most
 * some 4 MiB a second; a large state (120 MiB: 30 s) is saved by time as
 * under load. */
static ks_time idle_gap(const struct ks_live *l)
{
    ks_time by_size = (ks_time)(l->a.checkpoint_bytes / ((size_t)4 << 20)) * KS_SEC;
    return by_size > l->o.checkpoint_idle ? by_size : l->o.checkpoint_idle;
}

/* The wall clock moves the engine on, firing what is due (journaled as a
 * clock entry, so a restart fires it the same), with a saved state when
 * save is set. */
static void clock_tick(struct ks_live *l, int save)
{
    struct job t = {.kind = JOB_COMMAND, .body = "{\"op\":\"clock\"}", .len = 14,
                    .actor = "clock"};
    struct ks_buf out = {0};
    t.out = &out;
    run_batch_save(l, &t, 1, save);
    ks_buf_fini(&out);
}

/* When a timer of the engine is due on the wall clock: just past its
 * deadline (a timer fires when the clock moves past it), KS_TIME_NONE when
 * the clock is event time or nothing waits. Read by the writer's thread,
 * which owns the engine. */
static ks_time timer_wake(const struct ks_live *l)
{
    ks_time due = l->o.clock_event || !l->a.eng ? KS_TIME_NONE : ks_engine_next_due(l->a.eng);
    return due == KS_TIME_NONE ? KS_TIME_NONE : due + 1;
}

/* Whether a timer is due at now (the writer's pass fires it at once). */
static int timer_due(const struct ks_live *l, ks_time now)
{
    ks_time wake = timer_wake(l);
    return wake != KS_TIME_NONE && now >= wake;
}

/* Whether a time-driven message trigger is due at now (by what the
 * trigger passes remember: ks_comms_next_due). */
static int trigger_due(const struct ks_live *l, ks_time now)
{
    struct ks_engine_stats es;
    ks_engine_stats(l->a.eng, &es);
    ks_time at = ks_comms_next_due(&l->a.cfg, &l->a.trig_due, es.incidents,
                                   ks_engine_clock(l->a.eng));
    return at != KS_TIME_NONE && now >= at;
}

/*
 * The wall clock's tick on a quiet server. When nothing comes due by it - a
 * timer of the engine (chores fires those first), a time-driven message
 * trigger, the deadline of a remedy's specialist review - it moves the
 * engine clock in memory only: nothing is journaled or written, and an idle
 * server writes nothing at all (each tick was a transaction, and every 30 s
 * one carried the whole state). That changes nothing a restart re-applies:
 * every journaled job carries an instant no earlier than the engine clock
 * (run_batch_save), and moves the clock there itself. A review's deadline
 * passed is a tick with a saved state, which writes its sla entry.
 */
static void quiet_tick(struct ks_live *l, ks_time now)
{
    struct ks_engine *e = l->a.eng;
    struct ks_err err = {0};
    if (!l->remedy_known &&
        ks_remedy_next_review(l->a.store, ks_engine_clock(e), &l->remedy_next, &err) == KS_OK) {
        l->remedy_known = 1;
    }
    if (l->remedy_known && l->remedy_next != KS_TIME_NONE && now > l->remedy_next) {
        clock_tick(l, 1);
    } else if (!l->remedy_known || trigger_due(l, now) || ks_shell_has_effects(&l->a)) {
        /* (an engine timer due was fired by chores before it came here) */
        clock_tick(l, 0);
    } else {
        ks_engine_advance(e, now);
        __atomic_store_n(&l->st.clock, ks_engine_clock(e), __ATOMIC_RELAXED);
    }
}

/* The writer's chores, each when it is due, one per pass: open updates
 * closed after a quiet spell of events, the state saved after a quiet spell
 * of changes, the lock checked, the wall clock's tick (first of all when a
 * timer is due). Reads are jobs too, so a pass runs at least every tick even
 * while requests keep coming (a dashboard polling faster than the tick would
 * otherwise hold all of them off), and at once when a timer is due. */
static void chores(struct ks_live *l, ks_time tick)
{
    ks_time now = ks_time_now();
    l->last_chores = now;
    if (timer_due(l, now) && now > ks_engine_clock(l->a.eng)) {
        /* A timer is due: it fires now rather than at the next tick, and
         * before the other chores (SPEC 9: within a second of its deadline). */
        clock_tick(l, 0);
    } else if (l->open_updates && now - l->last_events >= l->o.update_idle) {
        /* A quiet spell after events: their open updates close, as at the
         * end of a file (journaled, so a restart closes them the same). */
        struct job end = {.kind = JOB_COMMAND, .body = END_INPUT,
                          .len = sizeof(END_INPUT) - 1, .actor = "kintsugi"};
        struct ks_buf out = {0};
        end.out = &out;
        run_batch(l, &end, 1);
        ks_buf_fini(&out);
    } else if (l->unsaved &&
               ((l->o.checkpoint_idle > 0 && now - l->last_change >= l->o.checkpoint_idle &&
                 now - l->last_checkpoint >= idle_gap(l)) ||
                now - l->last_checkpoint >= l->o.checkpoint_every)) {
        /* A quiet spell after changes, or changes older than the periodic
         * save (no batch comes to take it): the state is saved, nothing
         * else is written (no journal entry). */
        run_batch_save(l, NULL, 0, 1);
    } else if (l->reconnects && l->o.lock_check > 0 &&
               now - l->lock_checked >= l->o.lock_check) {
        check_lock(l);
    } else if (!l->o.clock_event && now > ks_engine_clock(l->a.eng) &&
               now - l->last_events >= tick) {
        /* A tick: the wall clock moves the engine on. Events move it
         * themselves while they keep coming. */
        quiet_tick(l, now);
    }
}

static void *writer(void *arg)
{
    struct ks_live *l = arg;
    ks_time tick = l->o.tick > 0 ? l->o.tick : 250;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        /* waits a tick, or until the engine's next timer is due if sooner
         * (a broken store fires nothing: a tick then) */
        ks_time wake = timer_wake(l), wait = tick;
        if (wake != KS_TIME_NONE && !__atomic_load_n(&l->broken, __ATOMIC_ACQUIRE)) {
            ks_time until = wake - ks_time_now();
            wait = until < 1 ? 1 : until < tick ? until : tick;
        }
        while (!l->head && !l->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)(wait % 1000) * 1000000L;
            ts.tv_sec += (time_t)(wait / 1000) + ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) == ETIMEDOUT) {
                break;
            }
        }
        struct job *jobs = l->head;
        l->head = NULL;
        l->tail = &l->head;
        int stopping = l->stopping;
        pthread_mutex_unlock(&l->mu);
        int broken = __atomic_load_n(&l->broken, __ATOMIC_ACQUIRE);
        if (broken) {
            for (struct job *jb = jobs; jb; jb = jb->next) {
                jb->failed = 1;
                pthread_mutex_lock(&l->mu);
                unavailable(l, &jb->err);
                pthread_mutex_unlock(&l->mu);
            }
        } else if (jobs) {
            run_batch(l, jobs, 1);
        }
        pthread_mutex_lock(&l->mu);
        for (struct job *jb = jobs; jb; jb = jb->next) {
            jb->done = 1;
        }
        if (jobs) {
            pthread_cond_broadcast(&l->done_cv);
        }
        if (stopping && !l->head) {
            break;
        }
        ks_time now = ks_time_now();
        if (!broken && !stopping &&
            (!jobs || now - l->last_chores >= tick || timer_due(l, now))) {
            pthread_mutex_unlock(&l->mu);
            chores(l, tick);
            pthread_mutex_lock(&l->mu);
        }
        if (l->reconnects && !l->stopping && __atomic_load_n(&l->broken, __ATOMIC_ACQUIRE)) {
            pthread_mutex_unlock(&l->mu);
            recover(l);
            pthread_mutex_lock(&l->mu);
        }
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Queues jb and waits until the writer has committed (or failed) it. */
static void submit(struct ks_live *l, struct job *jb)
{
    pthread_mutex_lock(&l->mu);
    if (l->stopping || __atomic_load_n(&l->broken, __ATOMIC_ACQUIRE)) {
        jb->failed = 1;
        unavailable(l, &jb->err);
        pthread_mutex_unlock(&l->mu);
        return;
    }
    *l->tail = jb;
    l->tail = &jb->next;
    KS_LIVE_COUNT(l, requests, 1);
    pthread_cond_signal(&l->cv);
    while (!jb->done) {
        pthread_cond_wait(&l->done_cv, &l->mu);
    }
    pthread_mutex_unlock(&l->mu);
}

/* ---- the public face ----------------------------------------------------------- */

int ks_live_open(struct ks_live **out, const struct ks_live_opts *o)
{
    struct ks_live *l = ks_calloc(1, sizeof(*l));
    l->o = *o;
    if (!l->o.checkpoint_every) {
        l->o.checkpoint_every = 30 * KS_SEC;
    }
    if (!l->o.checkpoint_bytes) {
        l->o.checkpoint_bytes = (size_t)16 << 20;
    }
    /* After a quiet spell this long, changes committed since the last saved
     * state are saved: the reading commands beside a server (guard status,
     * reconcile, feed, ...) read its saved state, which is then at most this
     * far behind once the server is quiet, and checkpoint_every or
     * checkpoint_bytes behind under a steady load. */
    if (!l->o.checkpoint_idle) {
        l->o.checkpoint_idle = KS_SEC;
    }
    if (!l->o.lock_check) {
        l->o.lock_check = 2 * KS_SEC;
    }
    if (!l->o.update_idle) {
        l->o.update_idle = 5 * KS_SEC;
    }
    if (!l->o.max_skew) {
        l->o.max_skew = 5 * KS_MIN;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    pthread_cond_init(&l->done_cv, NULL);
    pthread_mutex_init(&l->dmu, NULL);
    pthread_cond_init(&l->dcv, NULL);
    pthread_key_create(&l->reader_key, ks_live_reader_free);
    l->tail = &l->head;
    ks_shell_writer_role(o->url);
    int rc = ks_shell_open(&l->a, o->config, o->db, KS_SHELL_ENGINE | KS_SHELL_CREATE);
    if (rc != 0) {
        ks_live_free(l);
        return rc;
    }
    l->a.after_effects = ks_live_more_write_messages;
    l->a.after_ctx = l;
    config_overrides(l, &l->a.cfg);
    l->input = ks_engine_input(l->a.eng, "http");
    /* PostgreSQL: a lost connection is taken up again in place (recover) */
    l->reconnects = l->a.store->ops->lock_writer != NULL;
    struct ks_err err = {0};
    if ((rc = replay_as_accepted(l, &err)) != 0) {
        ks_shell_close(&l->a);
        ks_live_free(l);
        return rc;
    }
    l->last_checkpoint = ks_time_now();
    *out = l;
    return 0;
}

int ks_live_set_url(struct ks_live *l, const char *url)
{
    return ks_shell_writer_describe(&l->a, url);
}

void ks_live_start(struct ks_live *l)
{
    ks_live_logcopy_start(l);
    pthread_create(&l->th, NULL, writer, l);
    l->started = 1;
    __atomic_store_n(&l->ready, 1, __ATOMIC_RELEASE);
    ks_live_deliver_start(l);
}

int ks_live_ready(const struct ks_live *l)
{
    return __atomic_load_n(&l->ready, __ATOMIC_ACQUIRE);
}

int ks_live_unready_why(struct ks_live *l, char *out, size_t cap)
{
    if (l->reconnects && ks_live_ready(l)) {
        /* A database server: ready when it answers now, on this thread's
         * connection (a connection that went stale with a restart of the
         * database is opened again by the second try). The writer finds a
         * lost connection itself at its next transaction. */
        struct ks_err err = {0};
        struct ks_buf b = {0};
        int found = 0, ok = 0;
        for (int i = 0; i < 2 && !ok; i++) {
            struct ks_store *s = ks_live_reader(l, &err);
            ok = s && s->ops->get_blob(s, "journal", &b, &found, &err) == KS_OK;
        }
        ks_buf_fini(&b);
        if (!ok) {
            snprintf(out, cap, "the store is unavailable (%s)", err.msg);
            return 0;
        }
    }
    pthread_mutex_lock(&l->mu);
    int ready = ks_live_ready(l);
    if (ready) {
        snprintf(out, cap, "ready");
    } else if (l->stopping) {
        snprintf(out, cap, "the server is stopping");
    } else if (!l->started) {
        snprintf(out, cap, "the state is not loaded yet");
    } else if (l->reconnects) {
        snprintf(out, cap, "the store is unavailable since %.1f s (%s); reconnecting",
                 (double)(ks_time_now() - l->down_since) / 1000.0, l->why);
    } else {
        snprintf(out, cap, "the store failed (%s); restart the server to continue from its "
                           "journal",
                 l->why);
    }
    pthread_mutex_unlock(&l->mu);
    return ready;
}

int ks_live_close(struct ks_live *l)
{
    ks_live_deliver_stop(l); /* before the writer: a result in hand is still journaled */
    pthread_mutex_lock(&l->mu);
    l->stopping = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (l->started) {
        pthread_join(l->th, NULL);
    }
    ks_live_logcopy_stop(l);
    __atomic_store_n(&l->ready, 0, __ATOMIC_RELEASE);
    int rc;
    if (__atomic_load_n(&l->broken, __ATOMIC_ACQUIRE)) {
        /* The engine holds changes the store refused (their requests were
         * answered 503): saving it now would keep what was never
         * acknowledged. The next start loads the last saved state and
         * re-applies the journal instead. */
        ks_shell_error("%s: not saved: the store failed earlier; the next start continues from "
                       "the last saved state and the journal",
                       l->a.db);
        rc = KS_SHELL_FAIL;
    } else {
        struct batch b = {l, NULL, 0, 1};
        rc = ks_shell_flush_with(&l->a, 1, write_batch, &b);
    }
    ks_shell_close(&l->a);
    ks_live_free(l);
    return rc;
}

int ks_live_events(struct ks_live *l, const char *body, size_t len, const char *actor, int end,
                   struct ks_live_events *res, struct ks_err *err)
{
    return ks_live_events_mark(l, body, len, actor, end, NULL, 0, res, err);
}

int ks_live_events_mark(struct ks_live *l, const char *body, size_t len, const char *actor,
                        int end, const char *mark_key, int64_t mark, struct ks_live_events *res,
                        struct ks_err *err)
{
    memset(res, 0, sizeof(*res));
    struct job jb = {.kind = JOB_EVENTS, .body = body, .len = len, .actor = actor, .res = res,
                     .end = end, .mark_key = mark_key, .mark = mark};
    submit(l, &jb);
    if (jb.failed) {
        *err = jb.err;
        ks_buf_fini(&res->rejected_json);
        return -1;
    }
    return 0;
}

int ks_live_command(struct ks_live *l, const char *cmd, const char *actor, struct ks_buf *out,
                    struct ks_err *err)
{
    struct job jb = {.kind = JOB_COMMAND, .body = cmd, .len = strlen(cmd), .actor = actor,
                     .out = out};
    submit(l, &jb);
    ks_free(jb.owned);
    if (jb.failed) {
        *err = jb.err;
        return -1;
    }
    return 0;
}

enum ks_rc ks_live_read(struct ks_live *l, ks_live_read_fn fn, void *ctx, struct ks_buf *out,
                        struct ks_err *err)
{
    struct job jb = {.kind = JOB_READ, .fn = fn, .ctx = ctx, .out = out};
    submit(l, &jb);
    if (jb.failed) {
        *err = jb.err;
        return err->rc ? err->rc : KS_EIO;
    }
    return KS_OK;
}

void ks_live_stats(struct ks_live *l, struct ks_live_stats *out)
{
    uint64_t *dst = (uint64_t *)out;
    const uint64_t *src = (const uint64_t *)&l->st;
    for (size_t i = 0; i < offsetof(struct ks_live_stats, clock) / sizeof(uint64_t); i++) {
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
    }
    out->clock = __atomic_load_n(&l->st.clock, __ATOMIC_RELAXED);
}

int ks_live_mark(struct ks_live *l, const char *mark_key, int64_t *mark, struct ks_err *err)
{
    struct ks_store *s = ks_live_reader(l, err);
    if (!s) {
        return -1;
    }
    struct ks_buf b = {0};
    int found = 0;
    if (s->ops->get_blob(s, mark_key, &b, &found, err) != KS_OK) {
        ks_buf_fini(&b);
        return -1;
    }
    *mark = found && b.p ? strtoll(b.p, NULL, 10) : 0;
    ks_buf_fini(&b);
    return 0;
}

/* ---- readers ------------------------------------------------------------------ */

void ks_live_reader_free(void *store)
{
    ks_store_close(store);
}

struct ks_store *ks_live_reader(struct ks_live *l, struct ks_err *err)
{
    struct ks_store *s = pthread_getspecific(l->reader_key);
    if (!s) {
        if (ks_store_open(&s, l->a.db, err) != KS_OK) {
            return NULL;
        }
        pthread_setspecific(l->reader_key, s);
    }
    return s;
}

void ks_live_free(struct ks_live *l)
{
    struct ks_store *s = pthread_getspecific(l->reader_key);
    if (s) {
        ks_store_close(s);
        pthread_setspecific(l->reader_key, NULL);
    }
    pthread_key_delete(l->reader_key);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    pthread_cond_destroy(&l->done_cv);
    pthread_mutex_destroy(&l->dmu);
    pthread_cond_destroy(&l->dcv);
    ks_live_more_drop(l);
    ks_free(l->marks);
    ks_free(l);
}
