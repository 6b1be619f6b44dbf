/*
 * group.c - the state of an Alertmanager group from one webhook body to the
 * next (the rule is stated at ks_am_group_apply and in docs/ALERTS.md).
 *
 * Pure and engine-free: plain structs in, plain structs out. Lookups go
 * through a sorted index of the known members, so a body of n alerts
 * against m known ones costs O((n + m) log m).
 */
#include "alerts_int.h"

#include <stdlib.h>

const char *ks_am_change_name(enum ks_am_change c)
{
    static const char *const names[] = {"unchanged", "opened", "updated", "resolved"};
    return (unsigned)c < 4 ? names[c] : NULL;
}

void ks_am_group_fini(struct ks_am_group *g)
{
    if (!g) {
        return;
    }
    ks_free(g->members);
    memset(g, 0, sizeof(*g));
}

void ks_am_outcome_fini(struct ks_am_outcome *o)
{
    if (!o) {
        return;
    }
    ks_free(o->transitions);
    memset(o, 0, sizeof(*o));
}

static int cmp_member(const void *a, const void *b)
{
    return strcmp((*(const struct ks_am_member *const *)a)->fingerprint,
                  (*(const struct ks_am_member *const *)b)->fingerprint);
}

/* The index in known of fingerprint fp, or SIZE_MAX; by holds known's
 * members sorted by fingerprint. */
static size_t find(const struct ks_am_group *known, const struct ks_am_member *const *by,
                   const char *fp)
{
    size_t lo = 0, hi = known->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(by[mid]->fingerprint, fp);
        if (c == 0) {
            return (size_t)(by[mid] - known->members);
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return SIZE_MAX;
}

static void add_member(struct ks_am_group *g, const char *fp, enum ks_am_status st)
{
    KS_GROW(g->members, g->cap, g->n + 1);
    struct ks_am_member *m = &g->members[g->n++];
    memset(m, 0, sizeof(*m));
    strcpy(m->fingerprint, fp);
    m->status = st;
}

static void add_transition(struct ks_am_outcome *o, size_t *cap, const char *fp, int from,
                           enum ks_am_status to, size_t alert)
{
    KS_GROW(o->transitions, *cap, o->ntransitions + 1);
    struct ks_am_transition *t = &o->transitions[o->ntransitions++];
    memset(t, 0, sizeof(*t));
    strcpy(t->fingerprint, fp);
    t->from = from;
    t->to = to;
    t->alert = alert;
}

void ks_am_group_apply(const struct ks_am_group *known, const struct ks_am_webhook *body,
                       struct ks_am_group *next, struct ks_am_outcome *out)
{
    memset(next, 0, sizeof(*next));
    memset(out, 0, sizeof(*out));
    size_t tcap = 0;
    const struct ks_am_member **by = ks_malloc((known->n ? known->n : 1) * sizeof(*by));
    unsigned char *seen = ks_calloc(known->n ? known->n : 1, 1);
    for (size_t i = 0; i < known->n; i++) {
        by[i] = &known->members[i];
    }
    qsort(by, known->n, sizeof(*by), cmp_member);
#if KS_SLOW_CHECKS
    for (size_t i = 1; i < known->n; i++) {
        KS_ASSERT(strcmp(by[i - 1]->fingerprint, by[i]->fingerprint) < 0);
    }
#endif

    /* Every alert of the body takes the body's status. */
    for (size_t i = 0; i < body->nalerts; i++) {
        const struct ks_am_alert *a = &body->alerts[i];
        size_t k = find(known, by, a->fingerprint);
        int from = 0;
        if (k != SIZE_MAX) {
            /* the parser refuses bodies that repeat a fingerprint */
            KS_ASSERT(!seen[k]);
            seen[k] = 1;
            from = (int)known->members[k].status;
        }
        add_member(next, a->fingerprint, a->status);
        /* An alert first seen resolved has nothing to resolve. */
        if (from != (int)a->status && !(from == 0 && a->status == KS_AM_RESOLVED)) {
            add_transition(out, &tcap, a->fingerprint, from, a->status, i);
        }
    }

    /* The known alerts the body leaves out: a truncated body says nothing
     * of them; a complete one says they are gone. */
    int truncated = body->truncated_alerts > 0;
    for (size_t k = 0; k < known->n; k++) {
        const struct ks_am_member *m = &known->members[k];
        if (seen[k]) {
            continue;
        }
        if (truncated) {
            add_member(next, m->fingerprint, m->status);
        } else if (m->status == KS_AM_FIRING) {
            add_transition(out, &tcap, m->fingerprint, KS_AM_FIRING, KS_AM_RESOLVED, SIZE_MAX);
        }
    }
    ks_free(by);
    ks_free(seen);

    for (size_t i = 0; i < next->n; i++) {
        out->nfiring += next->members[i].status == KS_AM_FIRING;
    }
    int changed = out->ntransitions > 0;
    if (out->nfiring > 0) {
        next->open = 1;
        out->change = !known->open ? KS_AM_GROUP_OPENED
                      : changed    ? KS_AM_GROUP_UPDATED
                                   : KS_AM_GROUP_UNCHANGED;
    } else if (known->open && truncated) {
        /* Nothing known fires, but the alerts left out may: stay open. */
        next->open = 1;
        out->change = changed ? KS_AM_GROUP_UPDATED : KS_AM_GROUP_UNCHANGED;
    } else {
        next->open = 0;
        out->change = known->open ? KS_AM_GROUP_RESOLVED : KS_AM_GROUP_UNCHANGED;
    }
}
