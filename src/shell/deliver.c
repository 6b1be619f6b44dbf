/*
 * deliver.c - the hook outbox's delivery. Hook calls are written to the
 * outbox with the effects that caused them; the delivery loop (outbox.c,
 * shared with the messages) performs the due ones (webhook or command,
 * src/contain/hook.h), this file records every attempt in the incident's
 * timeline and the outbox, and retries with backoff. A call that
 * gives up, or an action without a configured hook, is shown in the
 * timeline as a job for a person: never forgotten.
 */
#include "../contain/hook.h"
#include "shell.h"

#include <string.h>

void ks_shell_hook_try(const struct ks_config *cfg, const struct ks_store *st,
                       const struct ks_hook_row *row, struct ks_hook_try *t)
{
    memset(t, 0, sizeof(*t));
    t->next_at = KS_TIME_NONE;
    t->attempts = (int)row->attempts;
    const struct ks_hook_cfg *h = ks_config_hook(cfg, row->action);
    if (!h) {
        t->status = "unconfigured";
        t->final = 1;
        snprintf(t->detail, sizeof(t->detail),
                 "no hook is configured for %s (hooks: in "
                 "kintsugi.yaml)",
                 row->action);
        return;
    }
    struct ks_hook_result res;
    t->attempts++;
    t->attempt = t->attempts;
    /* Sent with the database's id in its key; recorded, and matched to its
     * row, by its own key. */
    struct ks_buf key = {0};
    ks_store_hook_key(st, row->id, row->key, &key);
    ks_hook_attempt(h, row->body, key.p, &res);
    ks_buf_fini(&key);
    snprintf(t->detail, sizeof(t->detail), "%s", res.detail);
    t->ok = res.ok;
    if (res.ok) {
        t->status = "done";
    } else if (ks_hook_may_retry(h, t->attempts)) {
        t->status = "pending";
        t->next_at = ks_time_now() + ks_hook_backoff(h, t->attempts);
    } else {
        t->status = "failed";
        t->final = 1;
    }
}

/* An attempt's outcome for its outbox row, kept until it is saved with the
 * timeline entry it made. */
struct hook_outcome {
    char *key, *detail;
    const char *status;
    int64_t attempts;
    ks_time next_at;
};

/* A CLI pass: the counters of its attempts and the outcomes not saved yet. */
struct hook_pass {
    struct ks_shell *sh;
    struct ks_delivery *st;
    struct hook_outcome *out;
    size_t nout, capout;
};

static void outcomes_clear(struct hook_pass *p)
{
    for (size_t i = 0; i < p->nout; i++) {
        ks_free(p->out[i].key);
        ks_free(p->out[i].detail);
    }
    p->nout = 0;
}

/* Inside the state's transaction: the outbox rows of the outcomes. */
static enum ks_rc write_outcomes(struct ks_shell *sh, void *ctx, struct ks_err *err)
{
    struct hook_pass *p = ctx;
    for (size_t i = 0; i < p->nout; i++) {
        const struct hook_outcome *o = &p->out[i];
        if (sh->store->ops->update_hook(sh->store, o->key, o->status, o->attempts, o->next_at,
                                        o->detail, err) != KS_OK) {
            return err->rc;
        }
    }
    return KS_OK;
}

/* The outcomes and the state that holds their timeline entries, in one
 * transaction: a kill before it leaves the calls waiting (the next writer
 * voids this process's leases and they are made again, with the same
 * idempotency key), never a row that says "done" or "unconfigured" beside
 * a timeline that does not. */
static int save(struct hook_pass *p)
{
    int rc = ks_shell_flush_with(p->sh, 1, write_outcomes, p);
    outcomes_clear(p);
    return rc;
}

/* Each attempt goes to the incident's timeline and, saved with it, the
 * outbox row. */
static int record(void *ctx, const void *row, const void *try)
{
    struct hook_pass *p = ctx;
    const struct ks_hook_row *d = row;
    const struct ks_hook_try *t = try;
    if (strcmp(t->status, "unconfigured") == 0) {
        p->st->unconfigured++;
    } else if (strcmp(t->status, "done") == 0) {
        p->st->done++;
    } else if (strcmp(t->status, "pending") == 0) {
        p->st->retrying++;
    } else {
        p->st->failed++;
    }
    if (p->sh->delivered) {
        p->sh->delivered(p->sh->delivered_ctx, "hook calls", p->st->done, p->st->retrying,
                         p->st->failed, p->st->unconfigured);
    }
    ks_engine_hook_result(p->sh->eng, d->incident, d->action, ks_engine_hook_requested(d->body),
                          t->attempt, t->ok, t->final, t->detail);
    KS_GROW(p->out, p->capout, p->nout + 1);
    p->out[p->nout++] = (struct hook_outcome){ks_strdup(d->key), ks_strdup(t->detail), t->status,
                                              t->attempts, t->next_at};
    return 0;
}

/* A claimed batch at a time: a kill costs at most a batch of attempts made
 * again (with their keys). Each save writes the state, which takes long
 * with millions of pairs: the CLI claims up to SAVE_BATCH calls at once. */
#define SAVE_BATCH 256
static int batch(void *ctx)
{
    return save(ctx);
}

/* One pass over the due calls (ks_outbox_pass), then the state saved. */
static int pass(void *ctx, ks_time *next)
{
    struct hook_pass *p = ctx;
    struct ks_shell *sh = p->sh;
    struct ks_outbox o = {
        .store = sh->store, .cfg = &sh->cfg, .record = record, .batch = batch,
        .batch_size = SAVE_BATCH, .ctx = p};
    struct ks_err err = {0};
    int rc = ks_outbox_pass(&o, next, &err);
    if (rc != 0) {
        /* the store failed, or a save did (and said so): what is not saved
         * stays waiting, leased to this process until the next writer */
        if (rc < 0) {
            ks_shell_error("%s", err.msg);
        }
        outcomes_clear(p);
        return -1;
    }
    /* A pass that tried no call changed nothing (restart to ready does not
     * save the state again). */
    if (!ks_shell_unchanged(sh) && save(p) != 0) {
        return -1;
    }
    return 0;
}

int ks_shell_deliver(struct ks_shell *sh, ks_time max_wait, struct ks_delivery *st)
{
    memset(st, 0, sizeof(*st));
    struct hook_pass p = {sh, st, NULL, 0, 0};
    ks_time next;
    int rc = ks_outbox_deliver(pass, &p, max_wait, &next);
    outcomes_clear(&p);
    ks_free(p.out);
    if (rc != 0) {
        return KS_SHELL_FAIL;
    }
    st->left = next != KS_TIME_NONE;
    return KS_SHELL_OK;
}

/* ---- a call that gave up, made again by hand ------------------------------------- */

struct found_hook {
    int found;
    int64_t incident;
    char status[16], action[64];
};

static int found_one(void *ctx, const struct ks_hook_row *r)
{
    struct found_hook *f = ctx;
    f->found = 1;
    f->incident = r->incident;
    snprintf(f->status, sizeof(f->status), "%s", r->status);
    snprintf(f->action, sizeof(f->action), "%s", r->action);
    return 1;
}

enum ks_rc ks_shell_hook_requeue(struct ks_store *s, const struct ks_config *cfg,
                                 struct ks_engine *eng, const char *key, const char *by,
                                 ks_time at, int again, int64_t *incident, struct ks_err *err)
{
    struct found_hook f = {0};
    enum ks_rc rc = s->ops->get_hook(s, key, found_one, &f, err);
    if (rc != KS_OK) {
        return rc;
    }
    if (!f.found) {
        return ks_err_set(err, KS_ENOTFOUND,
                          "no hook call with key '%s' (kintsugi hooks lists them with their keys)",
                          key);
    }
    *incident = f.incident;
    int gave_up = !strcmp(f.status, "failed") || !strcmp(f.status, "unconfigured");
    if (!gave_up && !again) {
        return ks_err_set(err, KS_ESTATE,
                          "hook call %s is %s, not failed: only a call that gave up (failed or "
                          "unconfigured) is made again by hand",
                          key, f.status);
    }
    if (gave_up && !ks_config_hook(cfg, f.action) && !again) {
        return ks_err_set(err, KS_ESTATE,
                          "no hook is configured for %s: add one under hooks: in kintsugi.yaml "
                          "(a server reads it when it starts), then retry",
                          f.action);
    }
    if (gave_up) {
        /* re-applied after later attempts were kept (not failed), the row
         * stays as they left it; the note, not in the saved state, comes back */
        char detail[160];
        snprintf(detail, sizeof(detail), "made due again by hand%s%s", by ? " by " : "",
                 by ? by : "");
        rc = s->ops->update_hook(s, key, "pending", 0, KS_TIME_NONE, detail, err);
    }
    if (rc == KS_OK && eng) {
        char text[300];
        snprintf(text, sizeof(text), "Hook %s (key %s) made again by hand by %s", f.action, key,
                 by ? by : "?");
        rc = ks_engine_note(eng, f.incident, text, by ? by : "?", at, err);
    }
    return rc;
}
