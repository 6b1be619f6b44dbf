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

void ks_shell_hook_try(const struct ks_config *cfg, const struct ks_hook_row *row,
                       struct ks_hook_try *t)
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
    ks_hook_attempt(h, row->body, row->key, &res);
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

/* A CLI pass: the counters of its attempts and how many it made. */
struct hook_pass {
    struct ks_shell *sh;
    struct ks_delivery *st;
    size_t tried;
};

/* Each attempt goes to the incident's timeline and the outbox row. */
static int record(void *ctx, const void *row, const void *try)
{
    struct hook_pass *p = ctx;
    const struct ks_hook_row *d = row;
    const struct ks_hook_try *t = try;
    struct ks_err err = {0};
    p->tried++;
    if (strcmp(t->status, "unconfigured") == 0) {
        p->st->unconfigured++;
    } else if (strcmp(t->status, "done") == 0) {
        p->st->done++;
    } else if (strcmp(t->status, "pending") == 0) {
        p->st->retrying++;
    } else {
        p->st->failed++;
    }
    ks_engine_hook_result(p->sh->eng, d->incident, d->action, t->attempt, t->ok, t->final,
                          t->detail);
    if (p->sh->store->ops->update_hook(p->sh->store, d->key, t->status, t->attempts, t->next_at,
                                       t->detail, &err) != KS_OK) {
        ks_shell_error("%s", err.msg);
        return -1;
    }
    return 0;
}

/* One pass over the due calls (ks_outbox_pass), then the state saved. */
static int pass(void *ctx, ks_time *next)
{
    struct hook_pass *p = ctx;
    struct ks_shell *sh = p->sh;
    struct ks_outbox o = {.store = sh->store, .cfg = &sh->cfg, .record = record, .ctx = p};
    struct ks_err err = {0};
    p->tried = 0;
    int rc = ks_outbox_pass(&o, next, &err);
    if (rc < 0) {
        ks_shell_error("%s", err.msg);
        return -1;
    }
    /* The results go into the state, saved with them; a pass that tried no
     * call changed nothing (restart to ready does not save the state again). */
    if (rc != 0 || ((p->tried || !ks_shell_unchanged(sh)) && ks_shell_flush(sh, 1) != 0)) {
        return -1;
    }
    return 0;
}

int ks_shell_deliver(struct ks_shell *sh, ks_time max_wait, struct ks_delivery *st)
{
    memset(st, 0, sizeof(*st));
    struct hook_pass p = {sh, st, 0};
    ks_time next;
    if (ks_outbox_deliver(pass, &p, max_wait, &next) != 0) {
        return KS_SHELL_FAIL;
    }
    st->left = next != KS_TIME_NONE;
    return KS_SHELL_OK;
}
