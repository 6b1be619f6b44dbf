/*
 * det_complaint.c - `complaint_spike`: at least 10 complaints with the same
 * reason and SKU in (t - 24 h, t]. Complaints without a SKU do not count.
 */
#include "engine_int.h"

#include <string.h>

static void complaint_event(struct ks_engine *e, const struct ks_event *ev)
{
    const struct ks_config *cfg = e->cfg;
    if (!ev->sku.p) {
        return;
    }
    uint32_t reason = ks_eng_str(e, ev->reason);
    uint32_t sku = ks_intern_add(&e->skus, ev->sku.p, ev->sku.len);
    int added;
    uint64_t *v = ks_map64_put(&e->ck_index, (((uint64_t)reason << 32) | sku) + 1, &added);
    if (added) {
        KS_GROW(e->ck, e->capck, e->nck + 1);
        *v = e->nck;
        struct ks_complaint_key *k = &e->ck[e->nck++];
        memset(k, 0, sizeof(*k));
        k->reason = reason;
        k->sku = sku;
    }
    struct ks_complaint_key *k = &e->ck[*v];
    uint32_t ord = ks_eng_str(e, ev->order_id), cust = ks_eng_str(e, ev->customer);
    double value = ev->has_value ? ev->value : 0;
    ks_tswin_push(&k->win, ev->ts, value, ord, cust);
    ks_tswin_prune(&k->win, e->clock - 2 * cfg->complaint_window);
    ks_time t = ev->ts;
    size_t n = ks_tswin_count(&k->win, t - cfg->complaint_window, t, NULL);
    struct ks_incident *inc = ks_inc_open_get(e, k->incident);
    if (inc) {
        ks_inc_impact(e, inc, ord, cust, value, 0, t);
        return;
    }
    if (n < (size_t)cfg->complaint_count) {
        return;
    }
    const struct ks_tswin *w = &k->win;
    ks_time first = t;
    for (size_t i = w->head; i < w->n; i++) {
        if (w->ts[i] > t - cfg->complaint_window) {
            first = w->ts[i];
            break;
        }
    }
    inc = ks_inc_open(e, KS_IT_FULFILLMENT_ERROR, KS_P3, first, t);
    inc->key_a = reason;
    inc->key_b = sku;
    k->incident = inc->id;
    ks_u32set_add(&inc->sku_ids, sku);
    inc->skus = 1;
    if (ev->channel.p) {
        struct ks_channel *c = ks_eng_channel_find(e, ks_intern_find(&e->strs, ev->channel.p,
                                                                     ev->channel.len));
        if (c) {
            ks_u32set_add(&inc->channels, (uint32_t)(c - e->ch));
        }
    }
    const char *rs = ks_intern_str(&e->strs, reason), *ss = ks_intern_str(&e->skus, sku);
    char win[32];
    ks_duration_fmt(cfg->complaint_window, win);
    ks_inc_signal(e, inc, KS_DET_COMPLAINT_SPIKE, t, (double)n, (double)cfg->complaint_count,
                  "%zu complaints '%s' for %s in the last %s (at least %d)", n, rs, ss, win,
                  cfg->complaint_count);
    ks_inc_set_title(inc, "Complaint spike: %zu '%s' complaints for %s in %s", n, rs, ss, win);
    char fam[600];
    snprintf(fam, sizeof(fam), "fulfillment_error:%s:%s", rs, ss);
    ks_inc_set_fingerprint(e, inc, fam, NULL);
    for (size_t i = w->head; i < w->n; i++) {
        if (w->ts[i] > t - cfg->complaint_window && w->ts[i] <= t) {
            ks_inc_impact(e, inc, w->ref[i], w->ref2[i], w->val[i], 0, t);
        }
    }
}

static void save(const struct ks_engine *e, struct ks_wr *w)
{
    ks_wr_u64(w, e->nck);
    for (size_t i = 0; i < e->nck; i++) {
        ks_wr_u32(w, e->ck[i].reason);
        ks_wr_u32(w, e->ck[i].sku);
        ks_wr_win(w, &e->ck[i].win);
        ks_wr_i64(w, e->ck[i].incident);
    }
}

static void load(struct ks_engine *e, struct ks_rd *r)
{
    size_t nck = ks_rd_count(r, 16);
    for (size_t i = 0; i < nck && !ks_rd_bad(r); i++) {
        KS_GROW(e->ck, e->capck, e->nck + 1);
        struct ks_complaint_key *k = &e->ck[e->nck++];
        memset(k, 0, sizeof(*k));
        k->reason = ks_rd_u32(r);
        k->sku = ks_rd_u32(r);
        ks_rd_win(r, &k->win);
        k->incident = ks_rd_i64(r);
        if (k->sku >= e->skus.n || (k->reason != KS_NONE && k->reason >= e->strs.n)) {
            ks_rd_fail(r); /* ids no state we wrote holds (freed with the engine) */
            break;
        }
        *ks_map64_put(&e->ck_index, (((uint64_t)k->reason << 32) | k->sku) + 1, NULL) = i;
    }
}

const struct ks_part ks_part_complaint = {
    .name = "complaint_spike",
    .events = KS_EVBIT(KS_EV_COMPLAINT),
    .event = complaint_event,
    .save = save,
    .load = load,
};
