/* window.c - time windows and small sorted sets used by the detectors. */
#include "engine_int.h"

#include <string.h>

/* Entries are kept sorted by ts; almost all arrive in order, so insertion
 * walks back a step or two at most. */
void ks_tswin_push(struct ks_tswin *w, ks_time t, double v, uint32_t ref, uint32_t ref2)
{
    if (w->head > 0 && w->head * 2 >= w->n) {
        size_t live = w->n - w->head;
        memmove(w->ts, w->ts + w->head, live * sizeof(*w->ts));
        memmove(w->val, w->val + w->head, live * sizeof(*w->val));
        memmove(w->ref, w->ref + w->head, live * sizeof(*w->ref));
        memmove(w->ref2, w->ref2 + w->head, live * sizeof(*w->ref2));
        w->n = live;
        w->head = 0;
    }
    if (w->n + 1 > w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 16;
        w->ts = ks_realloc(w->ts, nc * sizeof(*w->ts));
        w->val = ks_realloc(w->val, nc * sizeof(*w->val));
        w->ref = ks_realloc(w->ref, nc * sizeof(*w->ref));
        w->ref2 = ks_realloc(w->ref2, nc * sizeof(*w->ref2));
        w->cap = nc;
    }
    size_t i = w->n;
    while (i > w->head && w->ts[i - 1] > t) {
        w->ts[i] = w->ts[i - 1];
        w->val[i] = w->val[i - 1];
        w->ref[i] = w->ref[i - 1];
        w->ref2[i] = w->ref2[i - 1];
        i--;
    }
    w->ts[i] = t;
    w->val[i] = v;
    w->ref[i] = ref;
    w->ref2[i] = ref2;
    w->n++;
}

void ks_tswin_prune(struct ks_tswin *w, ks_time t)
{
    while (w->head < w->n && w->ts[w->head] <= t) {
        w->head++;
    }
    if (w->head == w->n) {
        w->head = w->n = 0;
    }
}

/* First index in [head, n) with ts > t. */
static size_t upper(const struct ks_tswin *w, ks_time t)
{
    size_t lo = w->head, hi = w->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->ts[mid] <= t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

size_t ks_tswin_count(const struct ks_tswin *w, ks_time lo, ks_time hi, double *sum)
{
    size_t a = upper(w, lo), b = upper(w, hi);
    if (sum) {
        double s = 0;
        for (size_t i = a; i < b; i++) {
            s += w->val[i];
        }
        *sum = s;
    }
    return b > a ? b - a : 0;
}

void ks_tswin_fini(struct ks_tswin *w)
{
    ks_free(w->ts);
    ks_free(w->val);
    ks_free(w->ref);
    ks_free(w->ref2);
    memset(w, 0, sizeof(*w));
}

int ks_u32set_has(const struct ks_u32set *s, uint32_t v)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->v[mid] == v) {
            return 1;
        }
        if (s->v[mid] < v) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return 0;
}

/* Returns 1 if v was added, 0 if it was there. */
int ks_u32set_add(struct ks_u32set *s, uint32_t v)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->v[mid] == v) {
            return 0;
        }
        if (s->v[mid] < v) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    KS_GROW(s->v, s->cap, s->n + 1);
    memmove(s->v + lo + 1, s->v + lo, (s->n - lo) * sizeof(uint32_t));
    s->v[lo] = v;
    s->n++;
    return 1;
}

void ks_u32set_fini(struct ks_u32set *s)
{
    ks_free(s->v);
    memset(s, 0, sizeof(*s));
}
