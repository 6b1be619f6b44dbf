/*
 * retry.c - the failed messages of a receiver (or of an incident), queued
 * again by hand in one go: after a receiver's outage thousands of customer
 * notices may have given up, and a person fixes the receiver and sends them
 * all again (`kintsugi messages retry-failed`, POST /v1/messages/retry).
 *
 * The messages chosen are listed once and kept (id and incident): the
 * server journals that list, so that re-applying the journal after a
 * restart writes the same notes and queues again only those of them still
 * failed - one that later attempts sent stays sent.
 */
#include "shell.h"

#include <stdlib.h>
#include <string.h>

struct pick {
    struct ks_msg_pick *v;
    size_t n, cap;
    const int64_t *only; /* a journal's ids, sorted (NULL: every failed one) */
    size_t nonly;
    const struct ks_msg_pick *given; /* the journal's picks, their incidents */
};

static int by_id(const void *a, const void *b)
{
    int64_t x = ((const struct ks_msg_pick *)a)->id, y = ((const struct ks_msg_pick *)b)->id;
    return (x > y) - (x < y);
}

static int by_incident(const void *a, const void *b)
{
    const struct ks_msg_pick *p = a, *q = b;
    if (p->incident != q->incident) {
        return (p->incident > q->incident) - (p->incident < q->incident);
    }
    return by_id(a, b);
}

static int keep(void *ctx, const struct ks_message_row *m)
{
    struct pick *p = ctx;
    KS_GROW(p->v, p->cap, p->n + 1);
    p->v[p->n++] = (struct ks_msg_pick){m->id, m->incident};
    return 0;
}

/* One note per incident, saying how many of its messages and through which
 * receiver (the filter's) were queued again. */
static enum ks_rc notes(struct ks_engine *eng, const struct ks_msg_pick *v, size_t n,
                        const char *receiver, const char *by, ks_time at, struct ks_err *err)
{
    for (size_t i = 0; i < n;) {
        size_t k = i;
        while (k < n && v[k].incident == v[i].incident) {
            k++;
        }
        char text[300];
        snprintf(text, sizeof(text), "%zu failed message%s%s%s queued again by hand by %s", k - i,
                 k - i == 1 ? "" : "s", receiver ? " via " : "", receiver ? receiver : "", by);
        enum ks_rc rc = ks_engine_note(eng, v[i].incident, text, by, at, err);
        if (rc != KS_OK && rc != KS_ENOTFOUND) {
            return rc;
        }
        i = k;
    }
    return KS_OK;
}

enum ks_rc ks_shell_messages_requeue_failed(struct ks_store *s, struct ks_engine *eng,
                                            const struct ks_message_filter *f,
                                            const struct ks_msg_pick *given, size_t ngiven,
                                            const char *by, ks_time at,
                                            struct ks_msg_pick **picked, size_t *npicked,
                                            struct ks_err *err)
{
    *picked = NULL;
    *npicked = 0;
    by = by ? by : "?";
    struct ks_message_filter q = *f;
    q.status = "failed";
    q.id = 0;
    struct pick p = {0};
    enum ks_rc rc = s->ops->list_messages(s, &q, keep, &p, err);
    if (rc != KS_OK) {
        ks_free(p.v);
        return rc;
    }
    struct ks_msg_pick *notes_of = p.v;
    size_t nnotes = p.n;
    if (given) {
        /* A journal re-applied: its list makes the notes; of its messages,
         * those still failed are queued again. */
        struct ks_msg_pick *g = ks_malloc((ngiven + 1) * sizeof(*g));
        if (ngiven) {
            memcpy(g, given, ngiven * sizeof(*g));
            qsort(g, ngiven, sizeof(*g), by_id);
        }
        size_t w = 0;
        for (size_t i = 0; i < p.n && ngiven; i++) {
            if (bsearch(&p.v[i], g, ngiven, sizeof(*g), by_id)) {
                p.v[w++] = p.v[i];
            }
        }
        p.n = w;
        if (ngiven > 1) {
            qsort(g, ngiven, sizeof(*g), by_incident);
        }
        notes_of = g;
        nnotes = ngiven;
    }
    char detail[160];
    snprintf(detail, sizeof(detail), "queued again by hand by %s", by);
    for (size_t i = 0; i < p.n && rc == KS_OK; i++) {
        rc = s->ops->update_message(s, p.v[i].id, "queued", 0, KS_TIME_NONE, KS_TIME_NONE, detail,
                                    err);
    }
    if (rc == KS_OK && eng) {
        if (!given && p.n > 1) {
            qsort(p.v, p.n, sizeof(*p.v), by_incident);
        }
        rc = notes(eng, notes_of, nnotes, f->receiver, by, at, err);
    }
    if (given) {
        ks_free(notes_of);
    }
    if (rc != KS_OK || given) {
        ks_free(p.v);
        return rc;
    }
    *picked = p.v;
    *npicked = p.n;
    return KS_OK;
}
