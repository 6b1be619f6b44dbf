/*
 * det_supplier.c - `supplier_shortfall`, per purchase order, cumulative over
 * its lines and judged after each: sellable = received - damaged - wrong;
 * shortage = 1 - sellable / expected. 0 < shortage < 20 % is P3; shortage
 * >= 20 %, any wrong product, or damaged >= 50 % of received is P2 (a later
 * line can raise P3 to P2). Over-delivery is nothing.
 */
#include "engine_int.h"

#include <string.h>

static struct ks_po *po_get(struct ks_engine *e, uint32_t po, uint32_t supplier)
{
    int added;
    uint64_t *v = ks_map64_put(&e->po_index, (uint64_t)po + 1, &added);
    if (!added) {
        return &e->po[*v];
    }
    KS_GROW(e->po, e->cappo, e->npo + 1);
    *v = e->npo;
    struct ks_po *p = &e->po[e->npo++];
    memset(p, 0, sizeof(*p));
    p->po = po;
    p->supplier = supplier;
    p->max_delay = KS_TIME_NONE;
    return p;
}

static void receipt_event(struct ks_engine *e, const struct ks_event *ev)
{
    const struct ks_config *cfg = e->cfg;
    struct ks_po *p = po_get(e, ks_eng_str(e, ev->po), ks_eng_str(e, ev->supplier));
    p->expected += ev->expected;
    p->received += ev->received;
    p->damaged += ev->damaged;
    p->wrong += ev->wrong;
    int64_t line_missing = ev->expected - (ev->received - ev->damaged - ev->wrong);
    if (line_missing > 0 && ev->has_unit_cost) {
        p->missing_value = ks_money_add(p->missing_value, (double)line_missing * ev->unit_cost);
    }
    if (ev->due != KS_TIME_NONE && (p->max_delay == KS_TIME_NONE || ev->ts - ev->due > p->max_delay)) {
        p->max_delay = ev->ts - ev->due;
    }
    int64_t exp = p->expected, sell = p->received - p->damaged - p->wrong;
    /* more sellable units than expected is no shortage (0), not a negative one */
    double shortage = exp > 0 && sell < exp ? 1.0 - (double)sell / (double)exp : 0;
    int damaged = p->received > 0 && (double)p->damaged * 100.0 >=
                                         cfg->supplier_damaged_pct * (double)p->received;
    int p2 = (exp > 0 && (double)(exp - sell) * 100.0 >= cfg->supplier_p2_pct * (double)exp) ||
             p->wrong > 0 || damaged;
    int p3 = exp > 0 && sell < exp;
    int level = p2 ? 2 : p3 ? 3 : 0;
    struct ks_incident *inc = ks_inc_open_get(e, p->incident);
    const char *po = ks_intern_str(&e->strs, p->po), *sup = ks_intern_str(&e->strs, p->supplier);
    if (level && (!p->level || level < p->level)) {
        enum ks_severity sev = level == 2 ? KS_P2 : KS_P3;
        int fresh = !inc;
        if (fresh) {
            inc = ks_inc_open(e, KS_IT_SUPPLIER_SHORTFALL, sev, ev->due != KS_TIME_NONE ? ev->due
                                                                                      : ev->ts,
                              ev->ts);
            inc->key_a = p->po;
            p->incident = inc->id;
            ks_u32set_add(&inc->pos, p->po);
        }
        /* what besides a shortage made it P2: "; 1 wrong product; 100 of 200
         * received damaged" */
        char why[160] = "";
        if (p->wrong > 0) {
            snprintf(why, sizeof(why), "; %lld wrong product%s", (long long)p->wrong,
                     p->wrong == 1 ? "" : "s");
        }
        if (damaged) {
            size_t o = strlen(why);
            snprintf(why + o, sizeof(why) - o, "; %lld of %lld received damaged",
                     (long long)p->damaged, (long long)p->received);
        }
        ks_inc_signal(e, inc, KS_DET_SUPPLIER_SHORTFALL, ev->ts, shortage,
                      level == 2 ? cfg->supplier_p2_pct / 100.0 : 0.0,
                      "%s from %s: %lld of %lld expected units sellable (%.1f %% short)%s", po, sup,
                      (long long)sell, (long long)exp, shortage * 100.0, why);
        if (!fresh) {
            ks_inc_raise(e, inc, sev, ev->ts, "%s now %.1f %% short%s", po, shortage * 100.0, why);
        }
        if (sell < exp) {
            ks_inc_set_title(inc, "%s from %s: %.1f %% short (%lld of %lld units sellable)%s", po,
                             sup, shortage * 100.0, (long long)sell, (long long)exp,
                             p->wrong > 0 ? ", wrong products" : "");
        } else { /* no shortage: wrong products or damage made it */
            char what[160];
            snprintf(what, sizeof(what), "%s", why[0] ? why + 2 : "");
            for (char *semi; (semi = strstr(what, "; ")) != NULL;) {
                *semi = ','; /* "1 wrong product, 100 of 200 received damaged" */
            }
            ks_inc_set_title(inc, "%s from %s: %s (%lld of %lld units sellable)", po, sup, what,
                             (long long)sell, (long long)exp);
        }
        if (fresh) {
            char fam[300];
            snprintf(fam, sizeof(fam), "supplier_shortfall:%s", sup);
            ks_inc_set_fingerprint(e, inc, fam, po);
        }
        p->level = level;
        ks_contain_supplier(e, inc, p, ev->ts);
    } else if (inc && p->damaged > 0) {
        ks_contain_supplier(e, inc, p, ev->ts); /* damaged units on a later line */
    }
    if (inc) {
        inc->units = exp > sell ? exp - sell : 0;
        inc->revenue = p->missing_value;
        ks_inc_dirty(e, inc);
        if (p->max_delay != KS_TIME_NONE && p->max_delay > cfg->assess_supplier_delay) {
            char d[32], why[96];
            ks_duration_fmt(p->max_delay, d);
            snprintf(why, sizeof(why), "delivered %s late", d);
            ks_inc_assess(e, inc, ev->ts, why);
        } else {
            ks_inc_assess(e, inc, ev->ts, NULL);
        }
    }
}

static void save(const struct ks_engine *e, struct ks_wr *w)
{
    ks_wr_u64(w, e->npo);
    ks_wr_bytes(w, e->po, e->npo * sizeof(*e->po));
}

static void load(struct ks_engine *e, struct ks_rd *r)
{
    size_t npo = ks_rd_count(r, sizeof(*e->po));
    KS_GROW(e->po, e->cappo, npo + 1);
    ks_rd_bytes(r, e->po, npo * sizeof(*e->po));
    e->npo = ks_rd_bad(r) ? 0 : npo;
    for (size_t i = 0; i < e->npo; i++) {
        *ks_map64_put(&e->po_index, (uint64_t)e->po[i].po + 1, NULL) = i;
    }
}

const struct ks_part ks_part_supplier = {
    .name = "supplier_shortfall",
    .events = KS_EVBIT(KS_EV_RECEIPT),
    .event = receipt_event,
    .save = save,
    .load = load,
};
