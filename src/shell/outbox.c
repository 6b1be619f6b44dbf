/*
 * outbox.c - what delivering an outbox is, for the hook calls (deliver.c)
 * and the messages (messages.c) alike, from the CLI and from the deliverer
 * of `kintsugi serve` (src/serve/live_more.c): the rows still waiting are
 * listed and copied, each that is due gets its attempt, the caller records
 * it, and the earliest time a row is due again says when to look next.
 */
#include "shell.h"

#include <string.h>
#include <time.h>

struct rows {
    struct ks_hook_row *h; /* the hook calls, or */
    struct ks_message_row *m; /* the messages */
    size_t n, cap;
};

static char *dup(const char *s)
{
    return s ? ks_strdup(s) : NULL;
}

/* The store lends a row only for the call: each is copied. */
static int keep_hook(void *ctx, const struct ks_hook_row *r)
{
    struct rows *w = ctx;
    KS_GROW(w->h, w->cap, w->n + 1);
    struct ks_hook_row *h = &w->h[w->n++];
    *h = *r;
    h->key = dup(r->key);
    h->action = dup(r->action);
    h->body = dup(r->body);
    h->status = dup(r->status);
    h->detail = dup(r->detail);
    return 0;
}

static int keep_message(void *ctx, const struct ks_message_row *r)
{
    struct rows *w = ctx;
    KS_GROW(w->m, w->cap, w->n + 1);
    struct ks_message_row *m = &w->m[w->n++];
    *m = *r;
    m->key = dup(r->key);
    m->kind = dup(r->kind);
    m->audience = dup(r->audience);
    m->recipient = dup(r->recipient);
    m->receiver = dup(r->receiver);
    m->order_id = dup(r->order_id);
    m->subject = dup(r->subject);
    m->body = dup(r->body);
    m->status = dup(r->status);
    m->detail = dup(r->detail);
    return 0;
}

static void rows_fini(struct rows *w)
{
    for (size_t i = 0; i < w->n && w->h; i++) {
        const struct ks_hook_row *h = &w->h[i];
        const char *s[] = {h->key, h->action, h->body, h->status, h->detail};
        for (size_t k = 0; k < sizeof(s) / sizeof(s[0]); k++) {
            ks_free((char *)s[k]);
        }
    }
    for (size_t i = 0; i < w->n && w->m; i++) {
        const struct ks_message_row *m = &w->m[i];
        const char *s[] = {m->key,      m->kind,    m->audience, m->recipient, m->receiver,
                           m->order_id, m->subject, m->body,     m->status,    m->detail};
        for (size_t k = 0; k < sizeof(s) / sizeof(s[0]); k++) {
            ks_free((char *)s[k]);
        }
    }
    ks_free(w->h);
    ks_free(w->m);
    memset(w, 0, sizeof(*w));
}

static void earliest(ks_time *next, ks_time at)
{
    if (at != KS_TIME_NONE && (*next == KS_TIME_NONE || at < *next)) {
        *next = at;
    }
}

/* The attempt at row i (due) and its record; the retry it set in *retry. */
static int attempt(const struct ks_outbox *o, struct rows *w, size_t i, ks_time *retry)
{
    if (o->messages) {
        struct ks_message_try t;
        ks_shell_message_try(o->cfg, &w->m[i], &t);
        *retry = t.next_at;
        return o->record(o->ctx, &w->m[i], &t);
    }
    struct ks_hook_try t;
    ks_shell_hook_try(o->cfg, &w->h[i], &t);
    *retry = t.next_at;
    return o->record(o->ctx, &w->h[i], &t);
}

int ks_outbox_pass(const struct ks_outbox *o, ks_time *next, struct ks_err *err)
{
    struct rows w = {0};
    enum ks_rc rc;
    if (o->messages) {
        struct ks_message_filter f = {0, 0, NULL, "queued"};
        rc = o->store->ops->list_messages(o->store, &f, keep_message, &w, err);
    } else {
        rc = o->store->ops->list_hooks(o->store, "pending", keep_hook, &w, err);
    }
    if (rc != KS_OK) {
        rows_fini(&w);
        return -1;
    }
    int ended = 0;
    for (size_t i = 0; i < w.n && !ended; i++) {
        if (o->stop && __atomic_load_n(o->stop, __ATOMIC_ACQUIRE)) {
            ended = 1; /* the rows left stay waiting, for the next start */
            break;
        }
        ks_time at = o->messages ? w.m[i].next_at : w.h[i].next_at;
        if (at != KS_TIME_NONE && at > ks_time_now()) {
            earliest(next, at); /* not due yet */
            continue;
        }
        ks_time retry;
        if (attempt(o, &w, i, &retry) != 0) {
            ended = 1; /* not recorded: it, and the rows after it, stay waiting */
        } else {
            earliest(next, retry);
        }
    }
    rows_fini(&w);
    return ended;
}

int ks_outbox_deliver(ks_outbox_pass_fn pass, void *ctx, ks_time max_wait, ks_time *next)
{
    ks_time until = ks_time_now() + max_wait;
    for (;;) {
        *next = KS_TIME_NONE;
        if (pass(ctx, next) != 0) {
            return -1;
        }
        if (*next == KS_TIME_NONE || *next > until) {
            return 0;
        }
        ks_time wait = *next - ks_time_now();
        if (wait > 0) {
            struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}
