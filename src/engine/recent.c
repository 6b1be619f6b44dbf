/*
 * recent.c - the recent orders: what impact needs of the order events of
 * the last `horizon`, so that an incident detected after it began counts
 * the orders between its started_at and its detection (engine_int.h,
 * struct ks_recent; det_orders.c counts them). Not on the inventory path:
 * only order events come here.
 */
#include "engine_int.h"

#include <string.h>

/* a + b, at most KS_RECENT_HORIZON_MAX (durations of the configuration are
 * not negative, and a multiplier has no upper bound: computed in double). */
static ks_time span_of(double a, double b)
{
    double s = a + b;
    return s < (double)KS_RECENT_HORIZON_MAX ? (ks_time)(s + 0.5) : KS_RECENT_HORIZON_MAX;
}

static ks_time channel_span(const struct ks_channel_cfg *c)
{
    /* A stale channel's incident starts one interval after its last ok sync
     * and is detected multiplier x interval after it; a channel that joins
     * an incident detected up to one interval before its own deadline
     * counts from that incident's started_at. */
    ks_time span = span_of((double)c->sync_interval * c->sync_multiplier, (double)c->sync_interval);
    return span > c->volume_window ? span : c->volume_window;
}

static ks_time system_span(const struct ks_system_cfg *s)
{
    return span_of((double)s->down_after, (double)s->group_within);
}

ks_time ks_recent_horizon(const struct ks_config *cfg)
{
    ks_time h = channel_span(&cfg->channel_defaults);
    ks_time s = system_span(&cfg->system_defaults);
    h = s > h ? s : h;
    for (size_t i = 0; i < cfg->nchannels; i++) {
        s = channel_span(&cfg->channels[i]);
        h = s > h ? s : h;
    }
    for (size_t i = 0; i < cfg->nsystems; i++) {
        s = system_span(&cfg->systems[i]);
        h = s > h ? s : h;
    }
    if (h < 0) {
        h = 0;
    }
    return h > KS_RECENT_HORIZON_MAX ? KS_RECENT_HORIZON_MAX : h;
}

/* Drops the front order. */
static void drop_front(struct ks_recent *r)
{
    r->head++;
    if (r->head == r->n) {
        r->head = r->n = 0;
        r->sku_base += r->nsku;
        r->nsku = 0;
    }
}

/* Makes room for one more order and `room` more SKU ids. A full array is
 * first compacted (what it keeps moved to its start) when at least half of
 * it was dropped, else grown (doubled), each array on its own: moving
 * costs at most one copy per element appended, and an array never holds
 * more than twice the maximum it keeps (both maxima are powers of two). */
static void make_room(struct ks_recent *r, size_t room)
{
    if (r->n == r->cap && r->head && r->head * 2 >= r->n) {
        memmove(r->v, r->v + r->head, (r->n - r->head) * sizeof(*r->v));
        r->n -= r->head;
        r->head = 0;
    }
    KS_GROW(r->v, r->cap, r->n + 1);
    if (r->nsku + room > r->capsku) {
        uint64_t first = r->head < r->n ? r->v[r->head].sku_at : r->sku_base + r->nsku;
        size_t gone = (size_t)(first - r->sku_base);
        if (gone && gone * 2 >= r->nsku) {
            memmove(r->sku, r->sku + gone, (r->nsku - gone) * sizeof(*r->sku));
            r->nsku -= gone;
            r->sku_base = first;
        }
        KS_GROW(r->sku, r->capsku, r->nsku + room);
    }
}

/* Appends o with room for `room` SKU ids. */
static struct ks_recent_order *append(struct ks_recent *r, const struct ks_recent_order *o,
                                      size_t room)
{
    make_room(r, room);
    struct ks_recent_order *k = &r->v[r->n++];
    *k = *o;
    k->sku_at = r->sku_base + r->nsku;
    k->nsku = 0;
    k->pad = 0;
    return k;
}

struct ks_recent_order *ks_recent_push(struct ks_recent *r, ks_time now,
                                       const struct ks_recent_order *o, size_t room)
{
    KS_ASSERT(room <= KS_RECENT_SKUS_MAX); /* a line of KS_LINE_MAX holds far fewer */
    /* now is an event's ts or the clock, within the range the decoder
     * accepts, unless a state loaded says otherwise: no overflow either way */
    ks_time cut = now < INT64_MIN + r->horizon ? INT64_MIN : now - r->horizon;
    while (r->head < r->n) {
        const struct ks_recent_order *f = &r->v[r->head];
        size_t live_skus = r->nsku - (size_t)(f->sku_at - r->sku_base);
        if (f->ts >= cut && r->n - r->head < KS_RECENT_MAX &&
            live_skus + room <= KS_RECENT_SKUS_MAX) {
            break;
        }
        drop_front(r);
    }
    return append(r, o, room);
}

void ks_recent_add_sku(struct ks_recent *r, struct ks_recent_order *o, uint32_t sku)
{
    KS_ASSERT(o == &r->v[r->n - 1]);
    KS_GROW(r->sku, r->capsku, r->nsku + 1);
    r->sku[r->nsku++] = sku;
    o->nsku++;
}

void ks_recent_fini(struct ks_recent *r)
{
    ks_free(r->v);
    ks_free(r->sku);
    memset(r, 0, sizeof(*r));
}

/* ---- the checkpoint's section RCT1 ------------------------------------------------ */

void ks_recent_save(const struct ks_engine *e, struct ks_wr *w)
{
    const struct ks_recent *r = &e->recent;
    ks_wr_u64(w, r->n - r->head);
    for (size_t i = r->head; i < r->n; i++) {
        const struct ks_recent_order *o = &r->v[i];
        ks_wr_i64(w, o->ts);
        ks_wr_f64(w, o->value);
        ks_wr_i64(w, o->units);
        ks_wr_u32(w, o->order);
        ks_wr_u32(w, o->customer);
        ks_wr_u32(w, o->email);
        ks_wr_u32(w, o->channel);
        ks_wr_u32(w, o->location);
        ks_wr_u32(w, o->flags);
        ks_wr_u64(w, o->nsku);
        ks_wr_bytes(w, ks_recent_skus(r, o), (size_t)o->nsku * sizeof(uint32_t));
    }
}

/* A strs id, or KS_NONE where none is allowed. */
static int str_ok(const struct ks_engine *e, uint32_t id, int none_ok)
{
    return id < e->strs.n || (none_ok && id == KS_NONE);
}

void ks_recent_load(struct ks_engine *e, struct ks_rd *rd)
{
    struct ks_recent *r = &e->recent;
    size_t n = ks_rd_count(rd, 56);
    if (n > KS_RECENT_MAX) {
        ks_rd_fail(rd);
        return;
    }
    size_t skus = 0; /* a state saved holds at most the maxima */
    for (size_t i = 0; i < n && !ks_rd_bad(rd); i++) {
        struct ks_recent_order o;
        memset(&o, 0, sizeof(o));
        o.ts = ks_rd_i64(rd);
        o.value = ks_rd_f64(rd);
        o.units = ks_rd_i64(rd);
        o.order = ks_rd_u32(rd);
        o.customer = ks_rd_u32(rd);
        o.email = ks_rd_u32(rd);
        o.channel = ks_rd_u32(rd);
        o.location = ks_rd_u32(rd);
        o.flags = ks_rd_u32(rd);
        size_t nsku = ks_rd_count(rd, 4);
        if (ks_rd_bad(rd) || !str_ok(e, o.order, 0) || !str_ok(e, o.customer, 1) ||
            !str_ok(e, o.email, 1) || !str_ok(e, o.location, 1) ||
            (o.channel != KS_NONE && o.channel >= e->nch) || (o.flags & ~(uint32_t)KS_RO__ALL) ||
            nsku > KS_RECENT_SKUS_MAX - skus) {
            ks_rd_fail(rd);
            break;
        }
        skus += nsku;
        /* Kept as they were: pruning waits for the next order event. */
        struct ks_recent_order *k = append(r, &o, nsku);
        for (size_t s = 0; s < nsku && !ks_rd_bad(rd); s++) {
            uint32_t sku = ks_rd_u32(rd);
            if (sku >= e->skus.n) {
                ks_rd_fail(rd);
                break;
            }
            ks_recent_add_sku(r, k, sku);
        }
    }
}
