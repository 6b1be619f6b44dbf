/*
 * deliver.c - the hook outbox's delivery loop. Hook calls are written to the
 * outbox with the effects that caused them; this loop performs the due ones
 * (webhook or command, src/contain/hook.h), records every attempt in the
 * incident's timeline and the outbox, and retries with backoff. A call that
 * gives up, or an action without a configured hook, is shown in the
 * timeline as a job for a person: never forgotten.
 */
#include "../contain/hook.h"
#include "shell.h"

#include <string.h>
#include <time.h>

struct due {
    char *key, *action, *body;
    int64_t incident, attempts;
    ks_time next_at;
};

struct pending {
    struct due *v;
    size_t n, cap;
};

static int collect(void *ctx, const struct ks_hook_row *r)
{
    struct pending *p = ctx;
    KS_GROW(p->v, p->cap, p->n + 1);
    p->v[p->n++] = (struct due){ks_strdup(r->key), ks_strdup(r->action), ks_strdup(r->body),
                                r->incident,       r->attempts,          r->next_at};
    return 0;
}

static void pending_fini(struct pending *p)
{
    for (size_t i = 0; i < p->n; i++) {
        ks_free(p->v[i].key);
        ks_free(p->v[i].action);
        ks_free(p->v[i].body);
    }
    ks_free(p->v);
    memset(p, 0, sizeof(*p));
}

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

/* One pass over the due calls. Returns the earliest next_at still pending
 * (KS_TIME_NONE when none is left), or -1 on a store failure. */
static int pass(struct ks_shell *sh, ks_time *next, struct ks_delivery *st)
{
    struct pending p = {0};
    struct ks_err err = {0};
    *next = KS_TIME_NONE;
    if (sh->store->ops->list_hooks(sh->store, "pending", collect, &p, &err) != KS_OK) {
        ks_shell_error("%s", err.msg);
        return -1;
    }
    int rc = 0;
    size_t tried = 0;
    for (size_t i = 0; i < p.n && rc == 0; i++) {
        struct due *d = &p.v[i];
        ks_time now = ks_time_now();
        if (d->next_at != KS_TIME_NONE && d->next_at > now) {
            if (*next == KS_TIME_NONE || d->next_at < *next) {
                *next = d->next_at;
            }
            continue;
        }
        tried++;
        struct ks_hook_row row = {d->key,     d->incident, d->action, d->body, "pending",
                                  d->attempts, d->next_at,  NULL};
        struct ks_hook_try t;
        ks_shell_hook_try(&sh->cfg, &row, &t);
        const char *status = t.status;
        const char *detail = t.detail;
        int attempts = t.attempts;
        ks_time next_at = t.next_at;
        if (strcmp(status, "unconfigured") == 0) {
            st->unconfigured++;
        } else if (strcmp(status, "done") == 0) {
            st->done++;
        } else if (strcmp(status, "pending") == 0) {
            st->retrying++;
            if (*next == KS_TIME_NONE || next_at < *next) {
                *next = next_at;
            }
        } else {
            st->failed++;
        }
        ks_engine_hook_result(sh->eng, d->incident, d->action, t.attempt, t.ok, t.final, detail);
        tried++;
        if (sh->store->ops->update_hook(sh->store, d->key, status, attempts, next_at, detail,
                                        &err) != KS_OK) {
            ks_shell_error("%s", err.msg);
            rc = -1;
        }
    }
    pending_fini(&p);
    /* The results go into the state, saved with them; a pass that tried no
     * call changed nothing (restart to ready does not save the state again). */
    if (rc == 0 && (tried || !ks_shell_unchanged(sh)) && ks_shell_flush(sh, 1) != 0) {
        rc = -1;
    }
    return rc;
}

int ks_shell_deliver(struct ks_shell *sh, ks_time max_wait, struct ks_delivery *st)
{
    memset(st, 0, sizeof(*st));
    ks_time until = ks_time_now() + max_wait;
    for (;;) {
        ks_time next;
        if (pass(sh, &next, st) != 0) {
            return KS_SHELL_FAIL;
        }
        if (next == KS_TIME_NONE || next > until) {
            st->left = next != KS_TIME_NONE;
            return KS_SHELL_OK;
        }
        ks_time wait = next - ks_time_now();
        if (wait > 0) {
            struct timespec ts = {wait / 1000, (long)(wait % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}
