/*
 * incident.c - the incident model of SPEC section 4: opening, signals,
 * severity (the highest of signals and escalations), escalation and SLA
 * timers, the assessment matrix, impact, and the JSON form.
 */
#include "engine_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *itype_names[] = {"sync_failure",       "volume_drop",       "data_corruption",
                                    "order_rejections",   "system_outage",     "supplier_shortfall",
                                    "fulfillment_error",  "feed_schema_change", "metric_anomaly",
                                    "external"};
static const char *det_names[] = {"sync_freshness",   "volume_drop", "distribution_shift",
                                  "zero_spike",       "order_rejections", "system_down",
                                  "supplier_shortfall", "complaint_spike", "feed_rejects",
                                  "metric_rule",      "pagerduty",   "alertmanager"};
static const char *status_names[] = {"investigating", "contained", "resolving", "resolved"};
static const char *tl_names[] = {"signal", "escalation", "status", "action",
                                 "notification", "note", "sla"};

int ks_engine_type_known(const char *name)
{
    for (size_t i = 0; name && i < KS_IT__COUNT; i++) {
        if (!strcmp(itype_names[i], name)) {
            return 1;
        }
    }
    return 0;
}

const char *ks_itype_name(enum ks_itype t)
{
    return t < KS_IT__COUNT ? itype_names[t] : "?";
}

const char *ks_detector_name(enum ks_detector d)
{
    return d < KS_DET__COUNT ? det_names[d] : "?";
}

const char *ks_status_name(enum ks_status s)
{
    return (unsigned)s < 4 ? status_names[s] : "?";
}

int ks_status_parse(const char *s)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, status_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

const char *ks_tl_kind_name(enum ks_tl_kind k)
{
    return (unsigned)k < 7 ? tl_names[k] : "?";
}

/* The whole text, however long (a person's note is bounded where it comes
 * in, ks_engine_note): never cut, so never cut inside a UTF-8 sequence. */
static char *vfmt(const char *fmt, va_list ap)
{
    char tmp[1024];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    if (n < 0) {
        va_end(again);
        return ks_strdup("");
    }
    if ((size_t)n < sizeof(tmp)) {
        va_end(again);
        return ks_strndup(tmp, (size_t)n);
    }
    char *p = ks_malloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, again);
    va_end(again);
    return p;
}

struct ks_incident *ks_inc_get(const struct ks_engine *e, int64_t id)
{
    if (id < 1 || (size_t)id > e->ninc) {
        return NULL;
    }
    return e->inc[id - 1];
}

struct ks_incident *ks_inc_open_get(const struct ks_engine *e, int64_t id)
{
    struct ks_incident *inc = ks_inc_get(e, id);
    return inc && inc->status != KS_ST_RESOLVED ? inc : NULL;
}

static void arm(struct ks_engine *e, struct ks_incident *inc, ks_time *slot, ks_time due,
                enum ks_timer_kind kind)
{
    *slot = due;
    ks_eng_timer(e, due, kind, 0, inc->id);
}

struct ks_incident *ks_inc_open(struct ks_engine *e, enum ks_itype type, enum ks_severity sev,
                                ks_time started, ks_time at)
{
    struct ks_incident *inc = ks_calloc(1, sizeof(*inc));
    KS_GROW(e->inc, e->capinc, e->ninc + 1);
    e->inc[e->ninc++] = inc;
    inc->id = (int64_t)e->ninc;
    inc->type = (uint8_t)type;
    inc->severity = (uint8_t)sev;
    inc->status = KS_ST_INVESTIGATING;
    inc->started_at = started;
    inc->detected_at = at;
    inc->acknowledged_at = inc->contained_at = inc->resolved_at = KS_TIME_NONE;
    inc->esc_due = inc->ack_due = inc->resolve_due = inc->assess_due = KS_TIME_NONE;
    inc->repeat_of = 0;
    inc->key_a = inc->key_b = KS_NONE;
    inc->propose_due = inc->step4_due = inc->step24_due = KS_TIME_NONE;
    inc->review_due = KS_TIME_NONE;
    ks_pb_attach(inc);
    arm(e, inc, &inc->ack_due, at + e->cfg->sla_ack[sev], KS_TM_ACK);
    if (sev == KS_P3) {
        arm(e, inc, &inc->resolve_due, at + e->cfg->sla_resolve_p3, KS_TM_RESOLVE);
    }
    e->st.incidents_opened++;
    ks_inc_dirty(e, inc);
    return inc;
}

struct ks_tl *ks_inc_tl(struct ks_engine *e, struct ks_incident *inc, ks_time at,
                        enum ks_tl_kind kind, const char *actor, const char *fmt, ...)
{
    KS_GROW(inc->tl, inc->captl, inc->ntl + 1);
    struct ks_tl *t = &inc->tl[inc->ntl++];
    memset(t, 0, sizeof(*t));
    t->at = at;
    t->kind = (uint8_t)kind;
    t->status = -1;
    t->actor = ks_strdup(actor);
    va_list ap;
    va_start(ap, fmt);
    t->text = vfmt(fmt, ap);
    va_end(ap);
    /* The timeline reads oldest first (SPEC 4): an entry stamped before the
     * last one (a timer armed by a late event fires at its own, earlier
     * deadline) goes in at its place. And before the trigger entries of the
     * same instant: they were written when the shell looked, which may be
     * before or after this one came (a split input): after every other entry
     * of their instant they read the same either way. */
    size_t i = inc->ntl - 1;
    while (i > 0 && (inc->tl[i - 1].at > at || (inc->tl[i - 1].trig && inc->tl[i - 1].at == at))) {
        struct ks_tl x = inc->tl[i - 1];
        inc->tl[i - 1] = inc->tl[i];
        inc->tl[i] = x;
        i--;
    }
    t = &inc->tl[i];
    ks_inc_dirty(e, inc);
    return t;
}

void ks_inc_signal(struct ks_engine *e, struct ks_incident *inc, enum ks_detector d, ks_time at,
                   double value, double threshold, const char *fmt, ...)
{
    KS_GROW(inc->signals, inc->capsignals, inc->nsignals + 1);
    struct ks_signal *s = &inc->signals[inc->nsignals++];
    s->detector = (uint8_t)d;
    s->at = at;
    s->value = value;
    s->threshold = threshold;
    va_list ap;
    va_start(ap, fmt);
    s->text = vfmt(fmt, ap);
    va_end(ap);
    struct ks_tl *t = ks_inc_tl(e, inc, at, KS_TL_SIGNAL, "kintsugi", "%s: %s", det_names[d],
                                s->text);
    t->severity = inc->severity;
}

/* The engine's entry announcing who is told (SPEC section 6): `told`, as
 * it always read. The messages themselves are the triggers' (src/comms/
 * trigger.c), sent only through the receivers of the audience
 * (notify.AUDIENCE); with none - no `notify:` at all, messages off, or none
 * for that audience - the entry says `untold` and that nothing was sent, in
 * the words of the trigger's own entry, ending "; nothing sent" like it
 * (docs/MESSAGES.md; the reviews' customer_communication reads that end). */
static void announce(struct ks_engine *e, struct ks_incident *inc, ks_time at,
                     const char *audience, const char *told, const char *untold)
{
    size_t n = !strcmp(audience, "team")         ? e->cfg->nnotify_team
               : !strcmp(audience, "leadership") ? e->cfg->nnotify_leadership
                                                 : e->cfg->nnotify_customer;
    if (n) {
        ks_inc_tl(e, inc, at, KS_TL_NOTIFICATION, "kintsugi", "%s", told);
    } else {
        ks_inc_tl(e, inc, at, KS_TL_NOTIFICATION, "kintsugi",
                  "%s: no receiver for the %s audience (notify.%s in kintsugi.yaml); nothing "
                  "sent",
                  untold, audience, audience);
    }
}

void ks_inc_raise(struct ks_engine *e, struct ks_incident *inc, enum ks_severity sev, ks_time at,
                  const char *why, ...)
{
    if (sev >= inc->severity || inc->status == KS_ST_RESOLVED) {
        return;
    }
    char whybuf[512];
    va_list ap;
    va_start(ap, why);
    vsnprintf(whybuf, sizeof(whybuf), why, ap);
    va_end(ap);
    uint8_t from = inc->severity;
    inc->severity = (uint8_t)sev;
    struct ks_tl *t = ks_inc_tl(e, inc, at, KS_TL_ESCALATION, "kintsugi", "Escalated %s -> %s: %s",
                                ks_severity_name(from), ks_severity_name(sev), whybuf);
    t->severity = (uint8_t)sev;
    t->from = from;
    t->why = ks_strdup(whybuf);
    e->st.escalations++;
    if (inc->acknowledged_at == KS_TIME_NONE && !inc->ack_missed) {
        ks_time due = at + e->cfg->sla_ack[sev];
        if (inc->ack_due == KS_TIME_NONE || due < inc->ack_due) {
            arm(e, inc, &inc->ack_due, due, KS_TM_ACK);
        }
    }
    if (sev != KS_P3) {
        inc->resolve_due = KS_TIME_NONE;
    }
    if (sev == KS_P1) {
        announce(e, inc, at, "team", "P1: the whole core team is notified",
                 "P1: the whole core team is to be notified");
    }
}

void ks_inc_set_title(struct ks_incident *inc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ks_free(inc->title);
    inc->title = vfmt(fmt, ap);
    va_end(ap);
}

/* The fingerprint is family + suffix; repeats are looked up by family. */
void ks_inc_set_fingerprint(struct ks_engine *e, struct ks_incident *inc, const char *family,
                            const char *suffix)
{
    ks_free(inc->family);
    ks_free(inc->fingerprint);
    inc->family = ks_strdup(family);
    struct ks_buf b = {0};
    ks_buf_puts(&b, family);
    if (suffix && *suffix) {
        ks_buf_printf(&b, ":%s", suffix);
    }
    inc->fingerprint = b.p;
    ks_time since = inc->detected_at - e->cfg->repeat_window;
    for (size_t i = e->ninc; i-- > 0;) {
        const struct ks_incident *o = e->inc[i];
        if (o != inc && o->status == KS_ST_RESOLVED && o->resolved_at >= since &&
            o->family && strcmp(o->family, family) == 0) {
            if (!inc->repeat_of || o->resolved_at > ks_inc_get(e, inc->repeat_of)->resolved_at) {
                inc->repeat_of = o->id;
            }
        }
    }
    if (inc->repeat_of) {
        ks_inc_tl(e, inc, inc->detected_at, KS_TL_NOTE, "kintsugi",
                  "Repeat of incident %lld (same fingerprint family %s, resolved within %lld "
                  "days)",
                  (long long)inc->repeat_of, family,
                  (long long)(e->cfg->repeat_window / KS_DAY));
        ks_learn_repeat(e, inc);
    }
}

/* ---- impact and the assessment matrix ------------------------------------------ */

int ks_inc_impact(struct ks_engine *e, struct ks_incident *inc, uint32_t order_str,
                  uint32_t customer_str, double value, int64_t units, ks_time at)
{
    if (order_str != KS_NONE && !ks_u32set_add(&inc->order_ids, order_str)) {
        return 0; /* the same order touches an incident once */
    }
    /* The order's e-mail: the one of the order event being applied, else
     * the one its earlier events gave (det_orders.c remembers it), so that
     * an order counted from a window or named by a complaint is told too. */
    uint32_t email = e->cur_email;
    if (order_str != KS_NONE && email == KS_NONE) {
        const uint64_t *m = ks_map64_get(&e->order_email, (uint64_t)order_str + 1);
        email = m ? (uint32_t)*m : KS_NONE;
    }
    if (order_str != KS_NONE && email != KS_NONE) {
        KS_GROW(inc->mail, inc->capmail, inc->nmail + 2);
        inc->mail[inc->nmail++] = order_str;
        inc->mail[inc->nmail++] = email;
    }
    inc->orders++;
    inc->revenue = ks_money_add(inc->revenue, value);
    inc->units += units;
    if (customer_str != KS_NONE) {
        ks_u32set_add(&inc->customers, customer_str);
    }
    ks_inc_dirty(e, inc);
    ks_inc_assess(e, inc, at, NULL);
    return 1;
}

void ks_inc_assess(struct ks_engine *e, struct ks_incident *inc, ks_time at, const char *why)
{
    const struct ks_config *c = e->cfg;
    if (inc->assessed || inc->status == KS_ST_RESOLVED) {
        return;
    }
    char buf[256] = "";
    size_t customers = inc->customers.n;
    switch ((enum ks_itype)inc->type) {
    case KS_IT_DATA_CORRUPTION:
    case KS_IT_SYNC_FAILURE:
    case KS_IT_VOLUME_DROP:
        if ((int64_t)customers > c->assess_inventory_customers) {
            snprintf(buf, sizeof(buf), "%zu customers affected (> %d)", customers,
                     c->assess_inventory_customers);
        } else if (inc->revenue > c->assess_inventory_revenue) {
            snprintf(buf, sizeof(buf), "%.2f %s revenue affected (> %.0f)", inc->revenue,
                     c->currency, c->assess_inventory_revenue);
        }
        break;
    case KS_IT_FULFILLMENT_ERROR:
        if ((int64_t)customers > c->assess_fulfillment_customers) {
            snprintf(buf, sizeof(buf), "%zu customers affected (> %d)", customers,
                     c->assess_fulfillment_customers);
        } else if (inc->revenue > c->assess_fulfillment_revenue) {
            snprintf(buf, sizeof(buf), "%.2f %s revenue affected (> %.0f)", inc->revenue,
                     c->currency, c->assess_fulfillment_revenue);
        }
        break;
    case KS_IT_SYSTEM_OUTAGE:
    case KS_IT_ORDER_REJECTIONS:
        if (inc->revenue > c->assess_system_revenue) {
            snprintf(buf, sizeof(buf), "%.2f %s revenue affected (> %.0f)", inc->revenue,
                     c->currency, c->assess_system_revenue);
        }
        break;
    case KS_IT_SUPPLIER_SHORTFALL:
        if (inc->revenue > c->assess_supplier_value) {
            snprintf(buf, sizeof(buf), "missing sellable units worth %.2f %s (> %.0f)",
                     inc->revenue, c->currency, c->assess_supplier_value);
        }
        break;
    case KS_IT_FEED_SCHEMA_CHANGE:
    case KS_IT_METRIC_ANOMALY:
    case KS_IT_EXTERNAL:
    case KS_IT__COUNT:
        break;
    }
    if (why) {
        snprintf(buf, sizeof(buf), "%s", why);
    }
    if (!buf[0]) {
        return;
    }
    inc->assessed = 1;
    inc->assessed_at = at;
    inc->assess_due = KS_TIME_NONE;
    if (inc->severity > KS_P1) {
        ks_inc_raise(e, inc, (enum ks_severity)(inc->severity - 1), at,
                     "impact crossed the assessment matrix: %s", buf);
    }
    char told[352], untold[352];
    snprintf(told, sizeof(told), "Leadership notified: impact crossed the assessment matrix (%s)",
             buf);
    snprintf(untold, sizeof(untold),
             "Leadership to be notified: impact crossed the assessment matrix (%s)", buf);
    announce(e, inc, at, "leadership", told, untold);
}

/* ---- timers ---------------------------------------------------------------------- */

static int condition_holds(const struct ks_engine *e, const struct ks_incident *inc)
{
    switch ((enum ks_itype)inc->type) {
    case KS_IT_SYNC_FAILURE:
        for (size_t i = 0; i < inc->channels.n; i++) {
            if (e->ch[inc->channels.v[i]].stale) {
                return 1;
            }
        }
        return 0;
    case KS_IT_SYSTEM_OUTAGE:
        return ks_det_loc_condition(e, inc);
    case KS_IT_ORDER_REJECTIONS:
        return e->rej_firing;
    default:
        return 1;
    }
}

static void inc_timer(struct ks_engine *e, const struct ks_timer *t)
{
    struct ks_incident *inc = ks_inc_open_get(e, t->ref2);
    if (!inc) {
        return;
    }
    char d[32], esc[96];
    switch ((enum ks_timer_kind)t->kind) {
    case KS_TM_ESC:
        if (inc->esc_due != t->due) {
            return;
        }
        inc->esc_due = KS_TIME_NONE;
        if (condition_holds(e, inc)) {
            ks_duration_fmt(t->due - inc->detected_at, d);
            ks_inc_raise(e, inc, (enum ks_severity)inc->esc_to, t->due,
                         "not resolved %s after detection and the condition still holds", d);
        }
        break;
    case KS_TM_ACK:
        if (inc->ack_due != t->due || inc->acknowledged_at != KS_TIME_NONE) {
            return;
        }
        inc->ack_due = KS_TIME_NONE;
        inc->ack_missed = 1;
        ks_duration_fmt(e->cfg->sla_ack[inc->severity], d);
        ks_inc_tl(e, inc, t->due, KS_TL_SLA, "kintsugi",
                  "Acknowledgement SLA missed: %s incidents must be acknowledged within %s",
                  ks_severity_name(inc->severity), d);
        /* to the core team, or on a P1 to leadership (the ack_escalation
         * trigger, src/comms/trigger.c) */
        snprintf(esc, sizeof(esc), "Escalation notification: incident %lld is not acknowledged",
                 (long long)inc->id);
        announce(e, inc, t->due, inc->severity == KS_P1 ? "leadership" : "team", esc, esc);
        break;
    case KS_TM_RESOLVE:
        if (inc->resolve_due != t->due || inc->severity != KS_P3) {
            return;
        }
        inc->resolve_due = KS_TIME_NONE;
        inc->resolve_missed = 1;
        ks_duration_fmt(e->cfg->sla_resolve_p3, d);
        ks_inc_tl(e, inc, t->due, KS_TL_SLA, "kintsugi",
                  "Resolution SLA missed: P3 incidents must be resolved within %s", d);
        snprintf(esc, sizeof(esc), "Escalation notification: incident %lld is not resolved",
                 (long long)inc->id);
        announce(e, inc, t->due, "team", esc, esc);
        break;
    case KS_TM_ASSESS:
        if (inc->assess_due != t->due) {
            return;
        }
        inc->assess_due = KS_TIME_NONE;
        if (condition_holds(e, inc)) {
            ks_duration_fmt(e->cfg->assess_system_duration, d);
            char why[96];
            snprintf(why, sizeof(why), "down for more than %s", d);
            ks_inc_assess(e, inc, t->due, why);
        }
        break;
    default:
        break;
    }
}

void ks_inc_free(struct ks_incident *inc)
{
    if (!inc) {
        return;
    }
    ks_free(inc->title);
    ks_free(inc->fingerprint);
    ks_free(inc->family);
    ks_free(inc->owner);
    ks_u32set_fini(&inc->channels);
    ks_u32set_fini(&inc->locs);
    ks_u32set_fini(&inc->systems);
    ks_u32set_fini(&inc->pos);
    ks_u32set_fini(&inc->sources);
    ks_u32set_fini(&inc->sku_ids);
    ks_u32set_fini(&inc->customers);
    ks_u32set_fini(&inc->order_ids);
    ks_free(inc->mail);
    for (size_t i = 0; i < inc->nsignals; i++) {
        ks_free(inc->signals[i].text);
    }
    ks_free(inc->signals);
    for (size_t i = 0; i < inc->ntl; i++) {
        ks_free(inc->tl[i].actor);
        ks_free(inc->tl[i].text);
        ks_free(inc->tl[i].why);
    }
    ks_free(inc->tl);
    for (size_t i = 0; i < inc->nsteps; i++) {
        ks_free(inc->steps[i].by);
        ks_free(inc->steps[i].note);
    }
    ks_free(inc->steps);
    ks_free(inc->oversold);
    ks_free(inc->items);
    ks_u32set_fini(&inc->returned);
    ks_alert_inc_free(inc->alert);
    ks_free(inc);
}

/* ---- JSON ---------------------------------------------------------------------------- */

static void str_list(struct ks_json *j, const struct ks_intern *t, const struct ks_u32set *s)
{
    ks_json_arr_begin(j);
    for (size_t i = 0; i < s->n; i++) {
        ks_json_strn(j, ks_intern_str(t, s->v[i]), ks_intern_len(t, s->v[i]));
    }
    ks_json_arr_end(j);
}

struct named {
    const char *s;
    size_t n;
};

static int cmp_named(const void *a, const void *b)
{
    const struct named *x = a, *y = b;
    int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

void ks_json_strs_sorted(struct ks_json *j, const struct ks_intern *t, const struct ks_u32set *s)
{
    if (s->n == 0) {
        return;
    }
    struct named *v = ks_malloc(s->n * sizeof(*v));
    for (size_t i = 0; i < s->n; i++) {
        v[i] = (struct named){ks_intern_str(t, s->v[i]), ks_intern_len(t, s->v[i])};
    }
    qsort(v, s->n, sizeof(*v), cmp_named);
    for (size_t i = 0; i < s->n; i++) {
        ks_json_strn(j, v[i].s, v[i].n);
    }
    ks_free(v);
}

void ks_inc_render(const struct ks_engine *e, const struct ks_incident *inc, int detail,
                   struct ks_buf *out)
{
    struct ks_json j;
    ks_json_init(&j, out, 0);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "id");
    ks_json_int(&j, inc->id);
    ks_json_key(&j, "type");
    ks_json_str(&j, itype_names[inc->type]);
    ks_json_key(&j, "severity");
    ks_json_str(&j, ks_severity_name(inc->severity));
    ks_json_key(&j, "status");
    ks_json_str(&j, status_names[inc->status]);
    ks_json_key(&j, "title");
    ks_json_str(&j, inc->title ? inc->title : "");
    ks_json_key(&j, "fingerprint");
    ks_json_str(&j, inc->fingerprint ? inc->fingerprint : "");

    ks_json_key(&j, "scope");
    ks_json_obj_begin(&j);
    ks_json_key(&j, "channels");
    ks_json_arr_begin(&j);
    for (size_t i = 0; i < inc->channels.n; i++) {
        ks_json_str(&j, ks_intern_str(&e->strs, e->ch[inc->channels.v[i]].name));
    }
    ks_alert_render_scope(e, inc, 0, &j); /* the channels an alert named */
    ks_json_arr_end(&j);
    ks_json_key(&j, "skus");
    ks_json_int(&j, (int64_t)inc->skus);
    ks_json_key(&j, "sku_list");
    str_list(&j, &e->skus, &inc->sku_ids);
    ks_json_key(&j, "locations");
    ks_json_arr_begin(&j);
    for (size_t i = 0; i < inc->locs.n; i++) {
        const struct ks_loc *l = &e->locs[inc->locs.v[i]];
        if (l->location != KS_NONE) {
            ks_json_str(&j, ks_intern_str(&e->strs, l->location));
        }
    }
    ks_alert_render_scope(e, inc, 1, &j); /* the locations an alert named */
    ks_json_arr_end(&j);
    ks_json_key(&j, "systems");
    ks_json_arr_begin(&j);
    ks_json_strs_sorted(&j, &e->strs, &inc->systems);
    ks_json_arr_end(&j);
    ks_json_key(&j, "purchase_orders");
    str_list(&j, &e->strs, &inc->pos);
    ks_json_key(&j, "sources");
    str_list(&j, &e->strs, &inc->sources);
    if (inc->type == KS_IT_FULFILLMENT_ERROR && inc->key_a != KS_NONE) {
        ks_json_key(&j, "reason");
        ks_json_str(&j, ks_intern_str(&e->strs, inc->key_a));
    }
    /* A rule removed from the configuration since leaves its incidents without a name. */
    if (inc->type == KS_IT_METRIC_ANOMALY && inc->key_a < e->cfg->nmetrics) {
        ks_json_key(&j, "rule");
        ks_json_str(&j, e->cfg->metrics[inc->key_a].name);
        ks_json_key(&j, "metric");
        ks_json_str(&j, e->cfg->metrics[inc->key_a].metric);
    }
    ks_json_obj_end(&j);

    ks_json_key(&j, "started_at");
    ks_json_time(&j, inc->started_at);
    ks_json_key(&j, "detected_at");
    ks_json_time(&j, inc->detected_at);
    ks_json_key(&j, "acknowledged_at");
    ks_json_time(&j, inc->acknowledged_at);
    ks_json_key(&j, "contained_at");
    ks_json_time(&j, inc->contained_at);
    ks_json_key(&j, "resolved_at");
    ks_json_time(&j, inc->resolved_at);
    ks_json_key(&j, "owner");
    ks_json_str(&j, inc->owner);

    ks_json_key(&j, "signals");
    ks_json_arr_begin(&j);
    for (size_t i = 0; i < inc->nsignals; i++) {
        const struct ks_signal *s = &inc->signals[i];
        ks_json_obj_begin(&j);
        ks_json_key(&j, "detector");
        ks_json_str(&j, det_names[s->detector]);
        ks_json_key(&j, "at");
        ks_json_time(&j, s->at);
        ks_json_key(&j, "value");
        ks_json_num(&j, s->value);
        ks_json_key(&j, "threshold");
        ks_json_num(&j, s->threshold);
        ks_json_key(&j, "text");
        ks_json_str(&j, s->text);
        ks_json_obj_end(&j);
    }
    ks_json_arr_end(&j);

    ks_json_key(&j, "impact");
    ks_json_obj_begin(&j);
    ks_json_key(&j, "orders");
    ks_json_int(&j, inc->orders);
    ks_json_key(&j, "customers");
    ks_json_int(&j, (int64_t)inc->customers.n);
    ks_json_key(&j, "revenue");
    ks_json_num(&j, inc->revenue);
    ks_json_key(&j, "units");
    ks_json_int(&j, inc->units);
    ks_json_obj_end(&j);

    ks_json_key(&j, "repeat_of");
    if (inc->repeat_of) {
        ks_json_int(&j, inc->repeat_of);
    } else {
        ks_json_null(&j);
    }

    ks_learn_render(inc, &j);
    ks_alert_render(e, inc, &j); /* source, dedup_key, ...: incidents opened by alerts */

    if (detail) {
        ks_json_key(&j, "checklist");
        ks_pb_render(inc, &j);
        ks_json_key(&j, "timeline");
        ks_json_arr_begin(&j);
        for (size_t i = 0; i < inc->ntl; i++) {
            const struct ks_tl *t = &inc->tl[i];
            ks_json_obj_begin(&j);
            ks_json_key(&j, "at");
            ks_json_time(&j, t->at);
            ks_json_key(&j, "kind");
            ks_json_str(&j, tl_names[t->kind]);
            ks_json_key(&j, "actor");
            ks_json_str(&j, t->actor);
            ks_json_key(&j, "text");
            ks_json_str(&j, t->text);
            if (t->kind == KS_TL_SIGNAL || t->kind == KS_TL_ESCALATION) {
                ks_json_key(&j, "severity");
                ks_json_str(&j, ks_severity_name(t->severity));
            }
            if (t->kind == KS_TL_ESCALATION) {
                ks_json_key(&j, "from");
                ks_json_str(&j, ks_severity_name(t->from));
                ks_json_key(&j, "why");
                ks_json_str(&j, t->why);
            }
            if (t->kind == KS_TL_STATUS) {
                ks_json_key(&j, "status");
                ks_json_str(&j, status_names[t->status]);
            }
            ks_json_obj_end(&j);
        }
        ks_json_arr_end(&j);
    }
    ks_json_obj_end(&j);
}

enum ks_rc ks_engine_incident_json(const struct ks_engine *e, int64_t id, int detail,
                                   struct ks_buf *out)
{
    const struct ks_incident *inc = ks_inc_get(e, id);
    if (!inc) {
        return KS_ENOTFOUND;
    }
    ks_inc_render(e, inc, detail, out);
    return KS_OK;
}

enum ks_rc ks_engine_incident_meta(const struct ks_engine *e, int64_t id,
                                   struct ks_incident_meta *out)
{
    const struct ks_incident *inc = ks_inc_get(e, id);
    if (!inc) {
        return KS_ENOTFOUND;
    }
    out->id = inc->id;
    out->type = itype_names[inc->type];
    out->severity = ks_severity_name(inc->severity);
    out->status = status_names[inc->status];
    out->fingerprint = inc->fingerprint ? inc->fingerprint : "";
    out->detected_at = inc->detected_at;
    return KS_OK;
}

void ks_inc_channel_list(const struct ks_engine *e, const struct ks_incident *inc, char *out,
                         size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < inc->channels.n && o + 1 < cap; i++) {
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? ", " : "",
                              ks_intern_str(&e->strs, e->ch[inc->channels.v[i]].name));
    }
}

struct ks_incident *ks_inc_find_open(const struct ks_engine *e, enum ks_itype type, uint32_t key_a,
                                     uint32_t key_b)
{
    for (size_t i = e->ninc; i-- > 0;) {
        struct ks_incident *inc = e->inc[i];
        if (inc->type == type && inc->status != KS_ST_RESOLVED && inc->key_a == key_a &&
            inc->key_b == key_b) {
            return inc;
        }
    }
    return NULL;
}

/* Incidents are written by the checkpoint itself (with their timers). */
const struct ks_part ks_part_incidents = {
    .name = "incidents",
    .timers = KS_TMBIT(KS_TM_ESC) | KS_TMBIT(KS_TM_ACK) | KS_TMBIT(KS_TM_RESOLVE) |
              KS_TMBIT(KS_TM_ASSESS),
    .timer = inc_timer,
};
