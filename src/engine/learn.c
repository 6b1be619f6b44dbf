/*
 * learn.c - what post-incident reviews need from the engine (SPEC section 7,
 * docs/REVIEWS.md): the review that becomes due at resolution (P1, P2 and a
 * monthly sample of P3), reminders in the timeline when a review or an action
 * item is overdue, the "correction did not persist" flag on repeats, the
 * affected customers who ordered again (retention) and the feedback scores
 * that belong to an incident (satisfaction).
 *
 * Reviews themselves are written by people and live in the store; the shell
 * hands the engine only what it must know to act in event time
 * (ks_engine_review_sync).
 */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

/* The UTC calendar month of t, as year * 12 + month. */
static int64_t month_of(ks_time t)
{
    int64_t day = t >= 0 ? t / KS_DAY : -((-t + KS_DAY - 1) / KS_DAY);
    int64_t y;
    unsigned m, d;
    ks_civil_from_days(day, &y, &m, &d);
    return y * 12 + (int64_t)m;
}

void ks_learn_resolved(struct ks_engine *e, struct ks_incident *inc, ks_time at)
{
    const struct ks_config *c = e->cfg;
    char due[32], when[32];
    if (inc->severity == KS_P3) {
        /* The monthly sample: the first p3_monthly_sample P3 incidents resolved in
         * a calendar month, in the order they were resolved. */
        int64_t m = month_of(at), drawn = 0;
        for (size_t i = 0; i < e->ninc; i++) {
            const struct ks_incident *o = e->inc[i];
            if (o != inc && o->severity == KS_P3 && o->review_due != KS_TIME_NONE &&
                o->resolved_at != KS_TIME_NONE && month_of(o->resolved_at) == m) {
                drawn++;
            }
        }
        if (drawn >= c->review_p3_sample) {
            return;
        }
        inc->review_due = at + c->review_due;
        ks_time_fmt(inc->review_due, due);
        ks_inc_tl(e, inc, at, KS_TL_NOTIFICATION, "kintsugi",
                  "Drawn for a post-incident review (P3 sample %lld of %d this month): due by %s",
                  (long long)drawn + 1, c->review_p3_sample, due);
    } else {
        inc->review_due = at + c->review_due;
        ks_time_fmt(inc->review_due, due);
        ks_duration_fmt(c->review_due, when);
        ks_inc_tl(e, inc, at, KS_TL_NOTIFICATION, "kintsugi",
                  "Post-incident review due by %s (%s incidents: within %s of resolution)", due,
                  ks_severity_name(inc->severity), when);
    }
    if (!inc->review_written) {
        ks_eng_timer(e, inc->review_due, KS_TM_REVIEW, 0, inc->id);
    }
}

void ks_learn_repeat(struct ks_engine *e, struct ks_incident *inc)
{
    struct ks_incident *prev = ks_inc_get(e, inc->repeat_of);
    if (!prev || prev->nitems == 0 || inc->not_persisted) {
        return;
    }
    for (size_t i = 0; i < prev->nitems; i++) {
        if (!prev->items[i].closed) {
            return;
        }
    }
    inc->not_persisted = 1;
    prev->reopened_by = inc->id;
    ks_inc_tl(e, inc, inc->detected_at, KS_TL_NOTE, "kintsugi",
              "Correction did not persist: every action item of incident %lld's review was "
              "closed, and it happened again",
              (long long)prev->id);
    ks_inc_tl(e, prev, inc->detected_at, KS_TL_NOTE, "kintsugi",
              "Correction did not persist: incident %lld repeats this one after every action "
              "item was closed; the prevention question is open again",
              (long long)inc->id);
}

void ks_learn_order(struct ks_engine *e, const struct ks_event *ev, uint32_t order_str,
                    uint32_t customer_str)
{
    if (ev->status != KS_ORDER_ACCEPTED || customer_str == KS_NONE) {
        return;
    }
    ks_time t = ev->ts, win = e->cfg->retention_window;
    for (size_t i = e->ninc; i-- > 0;) {
        struct ks_incident *inc = e->inc[i];
        if (inc->status != KS_ST_RESOLVED || t <= inc->resolved_at ||
            t > inc->resolved_at + win || !ks_u32set_has(&inc->customers, customer_str) ||
            ks_u32set_has(&inc->order_ids, order_str)) {
            continue;
        }
        if (ks_u32set_add(&inc->returned, customer_str)) {
            ks_inc_dirty(e, inc);
        }
    }
}

/* A feedback event belongs to the incident it names, else to the newest
 * incident its order touched, else to the newest that affected its
 * customer. Feedback that belongs to none is not counted. */
static void feedback_event(struct ks_engine *e, const struct ks_event *ev)
{
    struct ks_incident *inc = NULL;
    if (ev->incident.p && ev->incident.len && ev->incident.len < 20) {
        char buf[24];
        memcpy(buf, ev->incident.p, ev->incident.len);
        buf[ev->incident.len] = 0;
        char *end;
        long long id = strtoll(buf, &end, 10);
        if (!*end) {
            inc = ks_inc_get(e, id);
        }
    }
    if (!inc && ev->order_id.p) {
        uint32_t o = ks_intern_find(&e->strs, ev->order_id.p, ev->order_id.len);
        for (size_t i = e->ninc; o != KS_NONE && i-- > 0 && !inc;) {
            if (ks_u32set_has(&e->inc[i]->order_ids, o)) {
                inc = e->inc[i];
            }
        }
    }
    if (!inc && ev->customer.p) {
        uint32_t c = ks_intern_find(&e->strs, ev->customer.p, ev->customer.len);
        for (size_t i = e->ninc; c != KS_NONE && i-- > 0 && !inc;) {
            if (ks_u32set_has(&e->inc[i]->customers, c)) {
                inc = e->inc[i];
            }
        }
    }
    if (!inc) {
        return;
    }
    inc->fb_count++;
    inc->fb_good += ev->score >= 4;
    ks_inc_dirty(e, inc);
}

/* Action item it of inc is overdue: the entry is written once, at `at`
 * (its deadline when a timer passes it; the instant it was saved for an
 * item saved already late, which did not exist at its deadline). */
static void item_overdue(struct ks_engine *e, struct ks_incident *inc, struct ks_item_due *it,
                         ks_time at)
{
    char due[32];
    it->noted = 1;
    ks_time_fmt(it->due, due);
    ks_inc_tl(e, inc, at, KS_TL_SLA, "kintsugi",
              "Action item %lld overdue: it was due by %s and is still open", (long long)it->id,
              due);
}

static void learn_timer(struct ks_engine *e, const struct ks_timer *t)
{
    struct ks_incident *inc = ks_inc_get(e, t->ref2);
    char due[32];
    if (!inc) {
        return;
    }
    if (t->kind == KS_TM_REVIEW) {
        if (inc->review_due != t->due || inc->review_written || inc->review_late) {
            return;
        }
        inc->review_late = 1;
        ks_time_fmt(t->due, due);
        ks_inc_tl(e, inc, t->due, KS_TL_SLA, "kintsugi",
                  "Post-incident review overdue: it was due by %s and none is written", due);
        return;
    }
    if (t->ref >= inc->nitems) {
        return;
    }
    struct ks_item_due *it = &inc->items[t->ref];
    if (it->due != t->due || it->closed || it->noted) {
        return;
    }
    item_overdue(e, inc, it, t->due);
}

enum ks_rc ks_engine_review_sync(struct ks_engine *e, int64_t id, int written,
                                 const struct ks_review_item *items, size_t n, struct ks_err *err)
{
    struct ks_incident *inc = ks_inc_get(e, id);
    if (!inc) {
        return ks_err_set(err, KS_ENOTFOUND, "no incident %lld", (long long)id);
    }
    struct ks_item_due *old = inc->items;
    size_t nold = inc->nitems;
    inc->items = ks_calloc(n ? n : 1, sizeof(*inc->items));
    inc->nitems = n;
    for (size_t i = 0; i < n; i++) {
        struct ks_item_due *it = &inc->items[i];
        it->id = items[i].id;
        it->due = items[i].due;
        it->closed = (uint8_t)!!items[i].closed;
        for (size_t k = 0; k < nold; k++) {
            if (old[k].id == it->id && old[k].due == it->due) {
                it->noted = old[k].noted; /* an overdue item is reminded once */
            }
        }
        if (!it->closed && !it->noted && it->due != KS_TIME_NONE) {
            if (e->clock != KS_TIME_NONE && it->due < e->clock) {
                item_overdue(e, inc, it, e->clock);
            } else {
                ks_eng_timer(e, it->due, KS_TM_ITEM, (uint32_t)i, id);
            }
        }
    }
    ks_free(old);
    if (written) {
        inc->review_written = 1;
    }
    ks_inc_dirty(e, inc);
    return KS_OK;
}

ks_time ks_engine_saved_clock(const void *p, size_t n)
{
    uint32_t magic, version;
    int64_t clock;
    if (n < 16) {
        return KS_TIME_NONE;
    }
    memcpy(&magic, p, 4);
    memcpy(&version, (const char *)p + 4, 4);
    memcpy(&clock, (const char *)p + 8, 8);
    return magic == 0x4B43534BU ? clock : KS_TIME_NONE;
}

void ks_learn_render(const struct ks_incident *inc, struct ks_json *j)
{
    ks_json_key(j, "review_due");
    ks_json_time(j, inc->review_due);
    ks_json_key(j, "correction_did_not_persist");
    ks_json_bool(j, inc->not_persisted);
    ks_json_key(j, "reopened_by");
    if (inc->reopened_by) {
        ks_json_int(j, inc->reopened_by);
    } else {
        ks_json_null(j);
    }
    ks_json_key(j, "returned_customers");
    ks_json_int(j, (int64_t)inc->returned.n);
    ks_json_key(j, "feedback");
    ks_json_obj_begin(j);
    ks_json_key(j, "count");
    ks_json_int(j, inc->fb_count);
    ks_json_key(j, "satisfied");
    ks_json_int(j, inc->fb_good);
    ks_json_obj_end(j);
}

/* Per-incident state only (written with the incident). */
const struct ks_part ks_part_learn = {
    .name = "reviews",
    .events = KS_EVBIT(KS_EV_FEEDBACK),
    .event = feedback_event,
    .timers = KS_TMBIT(KS_TM_REVIEW) | KS_TMBIT(KS_TM_ITEM),
    .timer = learn_timer,
};
