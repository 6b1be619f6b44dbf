/*
 * parts.c - the part table: every detector and every other part of the
 * engine that takes events, owns timers or writes state of its own into the
 * checkpoint, one row each (the rows are struct ks_part, each in the file of
 * its part; see engine_int.h). Adding a detector is one file with its
 * ks_part and one row here.
 */
#include "engine_int.h"

/* The order is the order of the parts' state in the checkpoint: append new
 * parts with state at the end, and raise CK_VERSION (checkpoint.c) when the
 * format changes. Rows without state may stand anywhere. */
const struct ks_part *const ks_eng_parts[] = {
    &ks_part_updates,   /* inventory: distribution_shift, zero_spike, the guard */
    &ks_part_sync,      /* sync_freshness */
    &ks_part_volume,    /* volume_drop */
    &ks_part_system,    /* system_down: systems and locations */
    &ks_part_orders,    /* order_rejections: the order windows */
    &ks_part_complaint, /* complaint_spike: per (reason, SKU) */
    &ks_part_feed,      /* feed_rejects: per source */
    &ks_part_supplier,  /* supplier_shortfall: per purchase order */
    &ks_part_metric,    /* metric rules */
    &ks_part_stock,     /* stock per (SKU, location): reconciliation, oversells */
    &ks_part_incidents, /* escalation, SLA and assessment timers */
    &ks_part_contain,   /* the timed steps of the playbooks */
    &ks_part_learn,     /* reviews: feedback, due reviews and action items */
    NULL,
};

void ks_eng_dispatch(struct ks_engine *e)
{
    for (const struct ks_part *const *pp = ks_eng_parts; *pp; pp++) {
        const struct ks_part *p = *pp;
        KS_ASSERT(!p->events == !p->event && !p->timers == !p->timer && !p->save == !p->load);
        for (unsigned t = 0; t < KS_EV__COUNT; t++) {
            if (p->events & KS_EVBIT(t)) {
                KS_ASSERT(!e->on_event[t]); /* one part per event type */
                e->on_event[t] = p->event;
            }
        }
        for (unsigned k = 0; k < KS_TM__COUNT; k++) {
            if (p->timers & KS_TMBIT(k)) {
                KS_ASSERT(!e->on_timer[k]); /* one part per timer kind */
                e->on_timer[k] = p->timer;
            }
        }
        KS_ASSERT(!(p->events >> KS_EV__COUNT) && !(p->timers >> KS_TM__COUNT));
    }
}
