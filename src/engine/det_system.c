/*
 * det_system.c - `system_down`: a system (and location) seen before has had
 * no `up` check for more than 5 minutes, counted from its last `up` (or its
 * first check if it was never up). Locations of one system that go down
 * within 5 minutes of each other share one incident; every known location
 * down (at least two) is P1; P2 escalates to P1 after 15 minutes.
 */
#include "engine_int.h"

#include <string.h>

static struct ks_loc *loc_get(struct ks_engine *e, uint32_t sys, uint32_t loc, ks_time ts,
                              int *created)
{
    *created = 0;
    for (size_t i = 0; i < e->nlocs; i++) {
        if (e->locs[i].system == sys && e->locs[i].location == loc) {
            return &e->locs[i];
        }
    }
    KS_GROW(e->locs, e->caplocs, e->nlocs + 1);
    struct ks_loc *l = &e->locs[e->nlocs++];
    memset(l, 0, sizeof(*l));
    l->system = sys;
    l->location = loc;
    l->cfg = ks_config_system(e->cfg, ks_intern_str(&e->strs, sys));
    l->first_check = ts;
    l->last_up = KS_TIME_NONE;
    l->down_due = KS_TIME_NONE;
    *created = 1;
    return l;
}

static void arm(struct ks_engine *e, struct ks_loc *l, ks_time due)
{
    if (l->down_due != KS_TIME_NONE && due <= l->down_due) {
        return;
    }
    l->down_due = due;
    ks_eng_timer(e, due, KS_TM_DOWN, (uint32_t)(l - e->locs), 0);
}

static const char *loc_name(const struct ks_engine *e, const struct ks_loc *l, char *out,
                            size_t cap)
{
    if (l->location == KS_NONE) {
        snprintf(out, cap, "%s", ks_intern_str(&e->strs, l->system));
    } else {
        snprintf(out, cap, "%s at %s", ks_intern_str(&e->strs, l->system),
                 ks_intern_str(&e->strs, l->location));
    }
    return out;
}

static void health_event(struct ks_engine *e, const struct ks_event *ev)
{
    int created;
    struct ks_loc *l = loc_get(e, ks_eng_str(e, ev->system), ks_eng_str(e, ev->location), ev->ts,
                               &created);
    if (ev->status == KS_HEALTH_UP) {
        if (!l->ever_up || ev->ts > l->last_up) {
            l->last_up = ev->ts;
        }
        l->ever_up = 1;
        if (l->down) {
            l->down = 0;
            struct ks_incident *inc = ks_inc_open_get(e, l->incident);
            if (inc) {
                char n[256];
                ks_inc_tl(e, inc, ev->ts, KS_TL_NOTE, "kintsugi", "%s is up again",
                          loc_name(e, l, n, sizeof(n)));
            }
        }
        arm(e, l, l->last_up + l->cfg->down_after);
    } else if (created) {
        arm(e, l, l->first_check + l->cfg->down_after);
    }
}

int ks_det_loc_condition(const struct ks_engine *e, const struct ks_incident *inc)
{
    for (size_t i = 0; i < inc->locs.n; i++) {
        if (e->locs[inc->locs.v[i]].down) {
            return 1;
        }
    }
    return 0;
}

static void down_fire(struct ks_engine *e, struct ks_loc *l, ks_time due)
{
    const struct ks_system_cfg *cfg = l->cfg;
    l->down_due = KS_TIME_NONE;
    l->down = 1;
    ks_time ref = l->ever_up ? l->last_up : l->first_check;
    struct ks_incident *inc = NULL;
    for (size_t i = e->ninc; i-- > 0;) {
        struct ks_incident *o = e->inc[i];
        if (o->type == KS_IT_SYSTEM_OUTAGE && o->status != KS_ST_RESOLVED &&
            o->key_a == l->system && o->detected_at >= due - cfg->group_within) {
            inc = o;
            break;
        }
    }
    int fresh = !inc;
    if (fresh) {
        inc = ks_inc_open(e, KS_IT_SYSTEM_OUTAGE, KS_P2, ref, due);
        inc->key_a = l->system;
        inc->esc_due = due + cfg->escalate;
        inc->esc_to = KS_P1;
        ks_eng_timer(e, inc->esc_due, KS_TM_ESC, 0, inc->id);
        inc->assess_due = ref + e->cfg->assess_system_duration;
        ks_eng_timer(e, inc->assess_due, KS_TM_ASSESS, 0, inc->id);
    } else if (ref < inc->started_at) {
        inc->started_at = ref;
    }
    ks_u32set_add(&inc->locs, (uint32_t)(l - e->locs));
    ks_u32set_add(&inc->systems, l->system);
    l->incident = inc->id;
    char n[256], lim[32], last[32];
    ks_duration_fmt(cfg->down_after, lim);
    ks_time_fmt(ref, last);
    ks_inc_signal(e, inc, KS_DET_SYSTEM_DOWN, due, (double)(due - ref) / KS_MIN,
                  (double)cfg->down_after / KS_MIN, "%s: no up check for more than %s (%s %s)",
                  loc_name(e, l, n, sizeof(n)), lim, l->ever_up ? "last up" : "never up; first check",
                  last);
    size_t known = 0, covered = 0;
    for (size_t i = 0; i < e->nlocs; i++) {
        if (e->locs[i].system == l->system) {
            known++;
            covered += (size_t)ks_u32set_has(&inc->locs, (uint32_t)i);
        }
    }
    const char *sys = ks_intern_str(&e->strs, l->system);
    if (known >= 2 && covered == known) {
        ks_inc_raise(e, inc, KS_P1, due, "%s completely down (all %zu locations)", sys, known);
        ks_inc_set_title(inc, "%s completely down (all %zu locations)", sys, known);
    } else if (inc->locs.n > 1) {
        ks_inc_set_title(inc, "%s down at %zu of %zu locations", sys, inc->locs.n, known);
    } else {
        ks_inc_set_title(inc, "%s down (no up check for more than %s)",
                         loc_name(e, l, n, sizeof(n)), lim);
    }
    if (fresh) {
        char fam[300];
        snprintf(fam, sizeof(fam), "system_outage:%s", sys);
        ks_inc_set_fingerprint(e, inc, fam, NULL);
    }
    ks_contain_outage(e, inc, due, fresh);
    /* The orders accepted at the location since its last up check, before
     * this detection, are part of the impact. */
    if (l->location != KS_NONE) {
        ks_det_recent_impact(e, inc, ref, l->location, due);
    }
}

static void down_timer(struct ks_engine *e, const struct ks_timer *t)
{
    if (t->ref < e->nlocs && e->locs[t->ref].down_due == t->due) {
        down_fire(e, &e->locs[t->ref], t->due);
    }
}

static void save(const struct ks_engine *e, struct ks_wr *w)
{
    ks_wr_u64(w, e->nlocs);
    for (size_t i = 0; i < e->nlocs; i++) {
        const struct ks_loc *l = &e->locs[i];
        ks_wr_u32(w, l->system);
        ks_wr_u32(w, l->location);
        ks_wr_u32(w, (uint32_t)l->ever_up | (uint32_t)l->down << 1);
        ks_wr_i64(w, l->first_check);
        ks_wr_i64(w, l->last_up);
        ks_wr_i64(w, l->down_due);
        ks_wr_i64(w, l->incident);
    }
}

static void load(struct ks_engine *e, struct ks_rd *r)
{
    size_t nlocs = ks_rd_count(r, 44);
    for (size_t i = 0; i < nlocs && !ks_rd_bad(r); i++) {
        KS_GROW(e->locs, e->caplocs, e->nlocs + 1);
        struct ks_loc *l = &e->locs[e->nlocs++];
        memset(l, 0, sizeof(*l));
        l->system = ks_rd_u32(r);
        l->location = ks_rd_u32(r);
        if (l->system >= e->strs.n || (l->location != KS_NONE && l->location >= e->strs.n)) {
            ks_rd_fail(r);
            break;
        }
        l->cfg = ks_config_system(e->cfg, ks_intern_str(&e->strs, l->system));
        uint32_t fl = ks_rd_u32(r);
        l->ever_up = fl & 1;
        l->down = (fl >> 1) & 1;
        l->first_check = ks_rd_i64(r);
        l->last_up = ks_rd_i64(r);
        l->down_due = ks_rd_i64(r);
        l->incident = ks_rd_i64(r);
    }
}

const struct ks_part ks_part_system = {
    .name = "system_down",
    .events = KS_EVBIT(KS_EV_HEALTH),
    .event = health_event,
    .timers = KS_TMBIT(KS_TM_DOWN),
    .timer = down_timer,
    .save = save,
    .load = load,
};
