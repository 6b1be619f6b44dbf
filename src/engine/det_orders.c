/*
 * det_orders.c - `order_rejections` (more than 5 % of the accepted +
 * rejected orders in (t - 60 min, t] rejected, with at least 20 of them),
 * system-of-record `stock`, and the impact of orders on open incidents
 * (SPEC section 3, "Impact").
 */
#include "engine_int.h"

#include <string.h>

static void stock_event(struct ks_engine *e, const struct ks_event *ev)
{
    uint32_t sku = ks_intern_add(&e->skus, ev->sku.p, ev->sku.len);
    uint32_t loc = ks_eng_str(e, ev->location);
    uint64_t key = (((uint64_t)sku << 32) | loc) + 1;
    int added;
    uint64_t *v = ks_map64_put(&e->stock, key, &added);
    uint64_t old = added ? 0 : *v;
    *v = (uint64_t)ev->qty;
    uint64_t *sum = ks_map64_put(&e->stock_sum, (uint64_t)sku + 1, NULL);
    *sum = *sum - old + (uint64_t)ev->qty;
}

/* An accepted order oversells when a line asks for more than the stock of
 * record (all locations) of its SKU, where that stock is known. */
static int oversold(const struct ks_engine *e, const struct ks_event *ev)
{
    for (size_t i = 0; i < ev->nlines; i++) {
        uint32_t sku = ks_intern_find(&e->skus, ev->lines[i].sku.p, ev->lines[i].sku.len);
        if (sku == UINT32_MAX) {
            continue;
        }
        const uint64_t *have = ks_map64_get(&e->stock_sum, (uint64_t)sku + 1);
        if (have && (uint64_t)ev->lines[i].qty > *have) {
            return 1;
        }
    }
    return 0;
}

/* Whether the order touches a SKU of channel c whose quantity came from an
 * update judged corrupt (and differs from the last known good one). */
static int touches_suspect(const struct ks_engine *e, const struct ks_channel *c,
                           const struct ks_recent_order *o)
{
    if (o->flags & KS_RO_NOLINES) {
        return 1; /* without lines the order cannot be cleared */
    }
    const uint32_t *sku = ks_recent_skus(&e->recent, o);
    for (uint32_t i = 0; i < o->nsku; i++) {
        uint32_t s = sku[i];
        if (s < c->cap && (c->pairs[s].flags & KS_PAIR_SUSPECT) &&
            c->pairs[s].cur != c->pairs[s].good) {
            return 1;
        }
    }
    return 0;
}

/* Keeps an order that oversold during the incident, for cancellation and remediation. */
static void note_oversold(struct ks_incident *inc, uint32_t ord, uint32_t cust, uint32_t channel,
                          ks_time at, double value)
{
    KS_GROW(inc->oversold, inc->capoversold, inc->noversold + 1);
    struct ks_oversold *o = &inc->oversold[inc->noversold++];
    memset(o, 0, sizeof(*o)); /* the padding too: the checkpoint writes these raw */
    o->order = ord;
    o->customer = cust;
    o->channel = channel;
    o->at = at;
    o->value = value;
}

/* Whether the open incident inc counts the order in its impact (SPEC 3,
 * "Impact"): on its channels, rejected, cancelled or oversold (and touching
 * a suspect SKU, for a corruption); at its down locations, accepted. The
 * same test for an order as it comes and for one kept from before. */
static int counts(const struct ks_engine *e, const struct ks_incident *inc,
                  const struct ks_recent_order *o)
{
    int channel = o->channel != KS_NONE && (o->flags & (KS_RO_BAD | KS_RO_OVER)) &&
                  ks_u32set_has(&inc->channels, o->channel);
    switch ((enum ks_itype)inc->type) {
    case KS_IT_SYNC_FAILURE:
    case KS_IT_VOLUME_DROP:
        return channel;
    case KS_IT_DATA_CORRUPTION:
        return channel && touches_suspect(e, &e->ch[o->channel], o);
    case KS_IT_SYSTEM_OUTAGE:
        if (o->location == KS_NONE || !(o->flags & KS_RO_ACCEPTED)) {
            return 0;
        }
        for (size_t k = 0; k < inc->locs.n; k++) {
            const struct ks_loc *l = &e->locs[inc->locs.v[k]];
            if (l->location == o->location && l->down && l->incident == inc->id) {
                return 1;
            }
        }
        return 0;
    default:
        return 0;
    }
}

/* Counts the order in inc's impact (once: ks_inc_impact), with `at` the
 * instant it is counted at, and keeps it as oversold where it oversold. */
static void count(struct ks_engine *e, struct ks_incident *inc, const struct ks_recent_order *o,
                  ks_time at)
{
    if (!ks_inc_impact(e, inc, o->order, o->customer, o->value, o->units, at)) {
        return;
    }
    if ((o->flags & KS_RO_OVER) && inc->type != KS_IT_VOLUME_DROP) {
        note_oversold(inc, o->order, o->customer,
                      o->channel != KS_NONE ? e->ch[o->channel].name : KS_NONE, o->ts, o->value);
    }
}

/* The order event as the recent orders keep it, when an incident could
 * count it (else NULL): its flags, channel, location and known SKUs. */
static struct ks_recent_order *keep(struct ks_engine *e, const struct ks_event *ev, uint32_t ord,
                                    uint32_t cust, double value, int64_t units)
{
    struct ks_channel *c = ks_eng_channel_find(e, ks_intern_find(&e->strs, ev->channel.p,
                                                                 ev->channel.len));
    struct ks_recent_order o;
    memset(&o, 0, sizeof(o));
    o.ts = ev->ts;
    o.value = value;
    o.units = units;
    o.order = ord;
    o.customer = cust;
    o.email = e->cur_email;
    o.channel = c ? (uint32_t)(c - e->ch) : KS_NONE;
    o.location =
        ev->location.p ? ks_intern_find(&e->strs, ev->location.p, ev->location.len) : KS_NONE;
    int accepted = ev->status == KS_ORDER_ACCEPTED;
    o.flags = (uint32_t)(ev->status == KS_ORDER_REJECTED || ev->status == KS_ORDER_CANCELLED) *
                  KS_RO_BAD |
              (uint32_t)(accepted && oversold(e, ev)) * KS_RO_OVER |
              (uint32_t)accepted * KS_RO_ACCEPTED | (uint32_t)(ev->nlines == 0) * KS_RO_NOLINES;
    int by_channel = c && (o.flags & (KS_RO_BAD | KS_RO_OVER));
    int by_location = accepted && o.location != KS_NONE;
    if (!by_channel && !by_location) {
        return NULL;
    }
    ks_time now = e->clock > ev->ts ? e->clock : ev->ts;
    struct ks_recent_order *k = ks_recent_push(&e->recent, now, &o, ev->nlines);
    for (size_t i = 0; i < ev->nlines; i++) {
        uint32_t sku = ks_intern_find(&e->skus, ev->lines[i].sku.p, ev->lines[i].sku.len);
        if (sku != UINT32_MAX) {
            ks_recent_add_sku(&e->recent, k, sku);
        }
    }
    return k;
}

/* The order as it comes: kept for the incidents detected later, and
 * counted by the open ones it falls in. */
static void impact(struct ks_engine *e, const struct ks_event *ev, uint32_t ord, uint32_t cust,
                   double value, int64_t units)
{
    const struct ks_recent_order *o = keep(e, ev, ord, cust, value, units);
    if (!o) {
        return;
    }
    for (size_t i = 0; i < e->ninc; i++) {
        struct ks_incident *inc = e->inc[i];
        if (inc->status != KS_ST_RESOLVED && ev->ts >= inc->started_at && counts(e, inc, o)) {
            count(e, inc, o, ev->ts);
        }
    }
}

void ks_det_recent_impact(struct ks_engine *e, struct ks_incident *inc, ks_time from,
                          uint32_t where, ks_time at)
{
    const struct ks_recent *r = &e->recent;
    int by_location = inc->type == KS_IT_SYSTEM_OUTAGE;
    if (from < inc->started_at) {
        from = inc->started_at;
    }
    uint32_t email = e->cur_email;
    for (size_t i = r->head; i < r->n && inc->status != KS_ST_RESOLVED; i++) {
        const struct ks_recent_order *o = &r->v[i];
        if (o->ts < from || (by_location ? o->location : o->channel) != where ||
            !counts(e, inc, o)) {
            continue;
        }
        e->cur_email = o->email; /* ks_inc_impact keeps it beside the order */
        count(e, inc, o, at);
    }
    e->cur_email = email;
}

/* An order's customer, value, units and e-mail as its events gave them: a
 * later event without them (a cancellation that names only the order)
 * counts with those of the earlier ones, so that an incident's impact keeps
 * the customers and revenue it touched, and its customer notices the
 * address the order gave. What an event gives replaces what was
 * remembered. */
static void remember(struct ks_engine *e, uint32_t ord, uint32_t *cust, int has_value,
                     double *value, int has_units, int64_t *units, uint32_t *email)
{
    uint64_t key = (uint64_t)ord + 1;
    const uint64_t *who = ks_map64_get(&e->order_who, key);
    const uint64_t *val = ks_map64_get(&e->order_value, key);
    uint32_t c0 = who ? (uint32_t)(*who >> 32) : KS_NONE;
    uint32_t u0 = who ? (uint32_t)*who : 0;
    if (*cust == KS_NONE) {
        *cust = c0;
    }
    if (!has_units) {
        *units = u0;
    }
    if (!has_value && val) {
        memcpy(value, val, sizeof(*value));
    }
    uint64_t packed = (uint64_t)*cust << 32 | (uint32_t)(*units > UINT32_MAX ? UINT32_MAX : *units);
    if (!who || *who != packed) {
        *ks_map64_put(&e->order_who, key, NULL) = packed;
    }
    if (has_value) {
        uint64_t bits;
        memcpy(&bits, value, sizeof(bits));
        *ks_map64_put(&e->order_value, key, NULL) = bits;
    }
    /* Only orders that gave an e-mail take room here. */
    if (*email == KS_NONE) {
        const uint64_t *m = ks_map64_get(&e->order_email, key);
        *email = m ? (uint32_t)*m : KS_NONE;
    } else {
        *ks_map64_put(&e->order_email, key, NULL) = *email;
    }
}

static void order_event(struct ks_engine *e, const struct ks_event *ev)
{
    const struct ks_config *cfg = e->cfg;
    uint32_t ord = ks_eng_str(e, ev->order_id);
    uint32_t cust = ev->customer.p ? ks_eng_str(e, ev->customer) : ks_eng_str(e, ev->email);
    double value = ev->has_value ? ev->value : 0;
    int64_t units = 0;
    for (size_t i = 0; i < ev->nlines; i++) {
        units += ev->lines[i].qty;
    }
    uint32_t email = ev->email.p ? ks_eng_str(e, ev->email) : KS_NONE;
    remember(e, ord, &cust, ev->has_value, &value, ev->nlines > 0, &units, &email);
    e->cur_email = email;
    impact(e, ev, ord, cust, value, units);
    ks_learn_order(e, ev, ord, cust);
    if (ev->status != KS_ORDER_ACCEPTED && ev->status != KS_ORDER_REJECTED) {
        e->cur_email = KS_NONE;
        return;
    }
    int rejected = ev->status == KS_ORDER_REJECTED;
    ks_tswin_push(&e->orders_all, ev->ts, value, ord, cust);
    if (rejected) {
        ks_tswin_push(&e->orders_rej, ev->ts, value, ord, cust);
    }
    ks_tswin_prune(&e->orders_all, e->clock - 2 * cfg->rej_window);
    ks_tswin_prune(&e->orders_rej, e->clock - 2 * cfg->rej_window);
    ks_time t = ev->ts;
    size_t total = ks_tswin_count(&e->orders_all, t - cfg->rej_window, t, NULL);
    size_t rej = ks_tswin_count(&e->orders_rej, t - cfg->rej_window, t, NULL);
    int cond = total >= (size_t)cfg->rej_min_orders && (double)rej * 100.0 > cfg->rej_pct * total;
    struct ks_incident *inc = ks_inc_open_get(e, e->rej_incident);
    if (cond && !e->rej_firing) {
        int fresh = !inc;
        char w[32];
        ks_duration_fmt(cfg->rej_window, w);
        if (fresh) {
            /* started: the first rejection inside the window */
            const struct ks_tswin *r = &e->orders_rej;
            ks_time first = t;
            for (size_t i = r->head; i < r->n; i++) {
                if (r->ts[i] > t - cfg->rej_window) {
                    first = r->ts[i];
                    break;
                }
            }
            inc = ks_inc_open(e, KS_IT_ORDER_REJECTIONS, KS_P2, first, t);
            e->rej_incident = inc->id;
            inc->assess_due = first + cfg->assess_system_duration;
            ks_eng_timer(e, inc->assess_due, KS_TM_ASSESS, 0, inc->id);
        }
        char pct[32];
        ks_fmt_pct_above(100.0 * (double)rej / (double)total, cfg->rej_pct, pct);
        ks_inc_signal(e, inc, KS_DET_ORDER_REJECTIONS, t, (double)rej / (double)total,
                      cfg->rej_pct / 100.0, "%zu of %zu orders rejected in the last %s (%s %%)",
                      rej, total, w, pct);
        if (fresh) {
            ks_inc_set_title(inc, "Order rejections at %s %% (%zu of %zu orders in the last %s)",
                             pct, rej, total, w);
            ks_inc_set_fingerprint(e, inc, "order_rejections", NULL);
            const struct ks_tswin *r = &e->orders_rej;
            /* Each order of the window with its own e-mail (the one its
             * events gave, ks_inc_impact), not this event's. */
            e->cur_email = KS_NONE;
            for (size_t i = r->head; i < r->n; i++) {
                if (r->ts[i] > t - cfg->rej_window && r->ts[i] <= t) {
                    ks_inc_impact(e, inc, r->ref[i], r->ref2[i], r->val[i], 0, t);
                }
            }
            e->cur_email = email;
        }
    } else if (rejected && inc) {
        ks_inc_impact(e, inc, ord, cust, value, units, t);
    }
    if (rejected && inc && inc->status != KS_ST_RESOLVED) {
        /* the scope's channels: those of the rejected orders it counts (a
         * channel kintsugi knows from its inventory or syncs) */
        struct ks_channel *c = ks_eng_channel_find(e, ks_intern_find(&e->strs, ev->channel.p,
                                                                     ev->channel.len));
        if (c && ks_u32set_add(&inc->channels, (uint32_t)(c - e->ch))) {
            ks_inc_dirty(e, inc);
        }
    }
    e->rej_firing = cond;
    e->cur_email = KS_NONE;
}

static void save_orders(const struct ks_engine *e, struct ks_wr *w)
{
    ks_wr_win(w, &e->orders_all);
    ks_wr_win(w, &e->orders_rej);
    ks_wr_u32(w, (uint32_t)e->rej_firing);
    ks_wr_i64(w, e->rej_incident);
}

static void load_orders(struct ks_engine *e, struct ks_rd *r)
{
    ks_rd_win(r, &e->orders_all);
    ks_rd_win(r, &e->orders_rej);
    e->rej_firing = (int)ks_rd_u32(r);
    e->rej_incident = ks_rd_i64(r);
}

const struct ks_part ks_part_orders = {
    .name = "order_rejections",
    .events = KS_EVBIT(KS_EV_ORDER),
    .event = order_event,
    .save = save_orders,
    .load = load_orders,
};

static void save_stock(const struct ks_engine *e, struct ks_wr *w)
{
    ks_wr_map(w, &e->stock);
    ks_wr_map(w, &e->stock_sum);
}

static void load_stock(struct ks_engine *e, struct ks_rd *r)
{
    ks_rd_map(r, &e->stock);
    ks_rd_map(r, &e->stock_sum);
}

/* The system of record's stock, per (SKU, location) and per SKU. */
const struct ks_part ks_part_stock = {
    .name = "stock",
    .events = KS_EVBIT(KS_EV_STOCK),
    .event = stock_event,
    .save = save_stock,
    .load = load_stock,
};
