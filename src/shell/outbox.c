/*
 * outbox.c - what delivering an outbox is, for the hook calls (deliver.c)
 * and the messages (messages.c) alike, from the CLI and from the deliverer
 * of `kintsugi serve` (src/serve/live_more.c): the rows still waiting are
 * listed and copied, each that is due gets its attempt, the caller records
 * it, and the earliest time a row is due again says when to look next.
 */
#include "shell.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char process_owner[160];
static pthread_once_t owner_once = PTHREAD_ONCE_INIT;

static void owner_init(void)
{
    char host[64] = "?", at[32];
    (void)gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = 0;
    ks_time_fmt(ks_time_now(), at);
    snprintf(process_owner, sizeof(process_owner), "%s pid %ld since %s", host, (long)getpid(), at);
}

const char *ks_outbox_owner(void)
{
    pthread_once(&owner_once, owner_init);
    return process_owner;
}

struct rows {
    struct ks_hook_row *h; /* the hook calls, or */
    struct ks_message_row *m; /* the messages */
    size_t n, cap;
};

/* The store lends a row only for the call: each is copied. */
static int keep_hook(void *ctx, const struct ks_hook_row *r)
{
    struct rows *w = ctx;
    KS_GROW(w->h, w->cap, w->n + 1);
    struct ks_hook_row *h = &w->h[w->n++];
    *h = *r;
    h->key = ks_strdup(r->key);
    h->action = ks_strdup(r->action);
    h->body = ks_strdup(r->body);
    h->status = ks_strdup(r->status);
    h->detail = ks_strdup(r->detail);
    h->lease_owner = NULL; /* not kept: the claim made it this deliverer */
    return 0;
}

static int keep_message(void *ctx, const struct ks_message_row *r)
{
    struct rows *w = ctx;
    KS_GROW(w->m, w->cap, w->n + 1);
    struct ks_message_row *m = &w->m[w->n++];
    *m = *r;
    m->key = ks_strdup(r->key);
    m->kind = ks_strdup(r->kind);
    m->audience = ks_strdup(r->audience);
    m->recipient = ks_strdup(r->recipient);
    m->receiver = ks_strdup(r->receiver);
    m->order_id = ks_strdup(r->order_id);
    m->subject = ks_strdup(r->subject);
    m->body = ks_strdup(r->body);
    m->status = ks_strdup(r->status);
    m->detail = ks_strdup(r->detail);
    m->lease_owner = NULL; /* not kept: the claim made it this deliverer */
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

/* The receivers a pass found unavailable (their names copied: a batch's
 * rows do not outlive it). As many as the configuration has. */
struct held {
    char **name;
    size_t n, cap;
};

static int is_held(const struct held *h, const char *receiver)
{
    for (size_t i = 0; i < h->n; i++) {
        if (!strcmp(h->name[i], receiver)) {
            return 1;
        }
    }
    return 0;
}

/* Message m found its receiver unavailable (attempt t, recorded, with a
 * retry to come): the receiver's other waiting messages wait for m's next
 * attempt, and the rest of the pass leaves them alone. */
static int hold(const struct ks_outbox *o, const struct ks_message_row *m,
                const struct ks_message_try *t, struct held *h, ks_time *next,
                struct ks_err *err)
{
    ks_time now = ks_time_now(), until = t->next_at;
    char detail[512], at[32];
    ks_time_fmt(until, at);
    snprintf(detail, sizeof(detail),
             "held until %s: %s did not take message %lld just now (%s); its messages wait for "
             "its next attempt",
             at, m->receiver, (long long)m->id, t->detail);
    const char *owner = o->owner ? o->owner : ks_outbox_owner();
    int64_t held = 0;
    if (o->store->ops->hold_messages(o->store, m->receiver, owner, now, until, detail, &held,
                                     err) != KS_OK) {
        return -1;
    }
    earliest(next, until);
    KS_GROW(h->name, h->cap, h->n + 1);
    h->name[h->n++] = ks_strdup(m->receiver);
    return 0;
}

/* The attempt at row i (due) and its record; the retry it set in *retry.
 * 1: a message's receiver was unavailable and the message will be tried
 * again (*mt: the message's try). A message that gave up holds nothing: the
 * receiver's next message makes its own attempt (with `retries: 0`, each
 * message gets its one attempt, as configured). */
static int attempt(const struct ks_outbox *o, struct rows *w, size_t i, ks_time *retry,
                   struct ks_message_try *mt)
{
    if (o->messages) {
        struct ks_message_try t;
        ks_shell_message_try(o->cfg, &w->m[i], &t);
        *retry = t.next_at;
        if (o->record(o->ctx, &w->m[i], &t) != 0) {
            return -1;
        }
        *mt = t;
        return t.unavailable && t.next_at != KS_TIME_NONE;
    }
    struct ks_hook_try t;
    ks_shell_hook_try(o->cfg, o->store, &w->h[i], &t);
    *retry = t.next_at;
    return o->record(o->ctx, &w->h[i], &t);
}

static int by_hook_id(const void *a, const void *b)
{
    int64_t x = ((const struct ks_hook_row *)a)->id, y = ((const struct ks_hook_row *)b)->id;
    return (x > y) - (x < y);
}

/* The claim's order: the shop's people before customers, then oldest first. */
static int by_message_id(const void *a, const void *b)
{
    const struct ks_message_row *p = a, *q = b;
    int pc = strcmp(p->audience, "customer") == 0, qc = strcmp(q->audience, "customer") == 0;
    if (pc != qc) {
        return pc - qc;
    }
    return (p->id > q->id) - (p->id < q->id);
}

int ks_outbox_pass(const struct ks_outbox *o, ks_time *next, struct ks_err *err)
{
    /* A read first: a pass with nothing due writes nothing (no claim). */
    const char *owner = o->owner ? o->owner : ks_outbox_owner();
    int64_t due = 0;
    ks_time later = KS_TIME_NONE;
    if (o->store->ops->due_summary(o->store, o->messages, o->receiver, owner, ks_time_now(), &due,
                                   &later, err) != KS_OK) {
        return -1;
    }
    earliest(next, later); /* retries to come, other deliverers' leases */
    int ended = 0, failed = 0;
    size_t lim = o->batch_size ? o->batch_size : KS_OUTBOX_BATCH;
    struct held h = {0};
    while (due && !ended) {
        /* The due rows, claimed a batch at a time: attempted by this
         * deliverer only, each recorded attempt ending its lease. */
        struct rows w = {0};
        ks_time now = ks_time_now();
        if (o->store->ops->claim_due(o->store, o->messages, o->receiver, owner, now,
                                     now + KS_OUTBOX_LEASE, (int64_t)lim, keep_hook,
                                     keep_message, &w, err) != KS_OK) {
            rows_fini(&w);
            return -1;
        }
        if (w.n > 1) {
            qsort(o->messages ? (void *)w.m : (void *)w.h, w.n,
                  o->messages ? sizeof(*w.m) : sizeof(*w.h),
                  o->messages ? by_message_id : by_hook_id);
        }
        for (size_t i = 0; i < w.n && !ended; i++) {
            if (o->stop && __atomic_load_n(o->stop, __ATOMIC_ACQUIRE)) {
                ended = 1; /* the rows left stay waiting, for the next start */
                break;
            }
            if (o->messages && is_held(&h, w.m[i].receiver)) {
                continue; /* held (hold_messages ended its lease) */
            }
            ks_time retry;
            struct ks_message_try t;
            int rc = attempt(o, &w, i, &retry, &t);
            if (rc < 0) {
                ended = 1; /* not recorded: it, and the rows after it, stay waiting */
                break;
            }
            earliest(next, retry);
            if (rc == 1 && hold(o, &w.m[i], &t, &h, next, err) != 0) {
                ended = failed = 1;
            }
        }
        if (!ended && w.n && o->batch && o->batch(o->ctx) != 0) {
            ended = 1;
        }
        due = w.n == lim; /* a full batch: there may be more */
        rows_fini(&w);
    }
    for (size_t i = 0; i < h.n; i++) {
        ks_free(h.name[i]);
    }
    ks_free(h.name);
    return failed ? -1 : ended;
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
