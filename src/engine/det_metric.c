/*
 * det_metric.c - user metric rules over `metric` events: a value above or
 * below a threshold, or more than X % below/above its trailing baseline (the
 * mean of the rule's samples in (t - window, t), needing min_samples).
 */
#include "engine_int.h"

#include <string.h>

static int matches(const struct ks_metric_rule *r, const struct ks_event *ev)
{
    if (!ks_str_eq(ev->name, r->metric)) {
        return 0;
    }
    for (size_t i = 0; i < r->nlabels; i++) {
        int found = 0;
        for (size_t k = 0; k < ev->nlabels && !found; k++) {
            found = ks_str_eq(ev->labels[k].key, r->labels[i].key) &&
                    ks_str_eq(ev->labels[k].val, r->labels[i].val);
        }
        if (!found) {
            return 0;
        }
    }
    return 1;
}

static void metric_event(struct ks_engine *e, const struct ks_event *ev)
{
    for (size_t i = 0; i < e->cfg->nmetrics; i++) {
        const struct ks_metric_rule *r = &e->cfg->metrics[i];
        if (!matches(r, ev)) {
            continue;
        }
        struct ks_metric_state *st = &e->ms[i];
        ks_time t = ev->ts;
        double sum = 0;
        size_t n = ks_tswin_count(&st->win, t - r->baseline, t - 1, &sum);
        double base = n ? sum / (double)n : 0;
        int cond = 0;
        char what[200] = "";
        switch (r->kind) {
        case KS_METRIC_ABOVE:
            cond = ev->value > r->threshold;
            snprintf(what, sizeof(what), "%s is %g, above %g", r->metric, ev->value, r->threshold);
            break;
        case KS_METRIC_BELOW:
            cond = ev->value < r->threshold;
            snprintf(what, sizeof(what), "%s is %g, below %g", r->metric, ev->value, r->threshold);
            break;
        case KS_METRIC_DROP_PCT:
            cond = n >= (size_t)r->min_samples && base > 0 &&
                   (base - ev->value) * 100.0 > r->threshold * base;
            snprintf(what, sizeof(what), "%s is %g, %.1f %% below its baseline %g", r->metric,
                     ev->value, base > 0 ? (base - ev->value) * 100.0 / base : 0, base);
            break;
        case KS_METRIC_RISE_PCT:
            cond = n >= (size_t)r->min_samples && base > 0 &&
                   (ev->value - base) * 100.0 > r->threshold * base;
            snprintf(what, sizeof(what), "%s is %g, %.1f %% above its baseline %g", r->metric,
                     ev->value, base > 0 ? (ev->value - base) * 100.0 / base : 0, base);
            break;
        }
        ks_tswin_push(&st->win, t, ev->value, 0, 0);
        ks_tswin_prune(&st->win, e->clock - 2 * r->baseline);
        if (cond && !st->firing) {
            struct ks_incident *inc = ks_inc_open_get(e, st->incident);
            int fresh = !inc;
            if (fresh) {
                inc = ks_inc_open(e, KS_IT_METRIC_ANOMALY, r->severity, t, t);
                inc->key_a = (uint32_t)i;
                st->incident = inc->id;
            }
            ks_inc_signal(e, inc, KS_DET_METRIC, t, ev->value, r->threshold, "%s: %s", r->name,
                          what);
            if (fresh) {
                ks_inc_set_title(inc, "Metric anomaly %s: %s", r->name, what);
                char fam[300];
                snprintf(fam, sizeof(fam), "metric_anomaly:%s", r->name);
                ks_inc_set_fingerprint(e, inc, fam, NULL);
            }
        }
        st->firing = cond;
    }
}

static void save(const struct ks_engine *e, struct ks_wr *w)
{
    ks_wr_u64(w, e->cfg->nmetrics);
    for (size_t i = 0; i < e->cfg->nmetrics; i++) {
        ks_wr_str(w, e->cfg->metrics[i].name);
        ks_wr_win(w, &e->ms[i].win);
        ks_wr_u32(w, (uint32_t)e->ms[i].firing);
        ks_wr_i64(w, e->ms[i].incident);
    }
}

static void load(struct ks_engine *e, struct ks_rd *r)
{
    size_t nms = ks_rd_count(r, 4);
    for (size_t i = 0; i < nms && !ks_rd_bad(r); i++) {
        char *name = ks_rd_str(r);
        struct ks_metric_state tmp = {0};
        ks_rd_win(r, &tmp.win);
        tmp.firing = (int)ks_rd_u32(r);
        tmp.incident = ks_rd_i64(r);
        /* Rules are matched by name: a rule removed from the config is dropped. */
        size_t k = 0;
        while (k < e->cfg->nmetrics && (!name || strcmp(e->cfg->metrics[k].name, name) != 0)) {
            k++;
        }
        if (k < e->cfg->nmetrics) {
            ks_tswin_fini(&e->ms[k].win);
            e->ms[k] = tmp;
        } else {
            ks_tswin_fini(&tmp.win);
        }
        ks_free(name);
    }
}

const struct ks_part ks_part_metric = {
    .name = "metric rules",
    .events = KS_EVBIT(KS_EV_METRIC),
    .event = metric_event,
    .save = save,
    .load = load,
};
