/*
 * remedy.c - the service-recovery policy: rights from the roles' limits,
 * grants, approvals, specialist reviews and their deadline, the JSON of
 * remedies and offers, and the text the customer notices use. See remedy.h
 * and docs/REMEDIES.md; the promise is in promise.c.
 */
#include "remedy.h"
#include "remedy_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- rights ------------------------------------------------------------------------ */

enum ks_remedy_right ks_remedy_role_right(const struct ks_role *r, const char *kind,
                                          double *limit)
{
    const struct ks_remedy_limit *hit = NULL;
    for (size_t i = 0; r && i < r->nremedies; i++) {
        if (!strcmp(r->remedies[i].name, kind)) {
            hit = &r->remedies[i];
            break;
        }
        if (!strcmp(r->remedies[i].name, "*")) {
            hit = &r->remedies[i]; /* unless the remedy is named too */
        }
    }
    *limit = 0;
    if (!hit || !strcmp(hit->value, "false")) {
        return KS_REMEDY_NONE;
    }
    if (!strcmp(hit->value, "true")) {
        return KS_REMEDY_ANY;
    }
    *limit = strtod(hit->value, NULL);
    return KS_REMEDY_UPTO;
}

static const struct ks_role *role_of(const struct ks_config *cfg, const char *by,
                                     const char **role)
{
    *role = NULL;
    for (size_t i = 0; by && i < cfg->npeople; i++) {
        if (!strcmp(cfg->people[i].name, by)) {
            *role = cfg->people[i].role;
            break;
        }
    }
    for (size_t i = 0; *role && i < cfg->nroles; i++) {
        if (!strcmp(cfg->roles[i].name, *role)) {
            return &cfg->roles[i];
        }
    }
    return NULL;
}

enum ks_remedy_right ks_remedy_right_of(const struct ks_config *cfg, const char *by,
                                        const char *kind, double *limit, const char **role)
{
    const struct ks_role *r = role_of(cfg, by, role);
    *limit = 0;
    return r ? ks_remedy_role_right(r, kind, limit) : KS_REMEDY_NONE;
}

/* Whether a right covers an amount (has_amount 0: the order's value, which
 * only "any amount" covers). */
static int covers(enum ks_remedy_right r, double limit, int has_amount, double amount)
{
    return r == KS_REMEDY_ANY || (r == KS_REMEDY_UPTO && has_amount && amount <= limit + 1e-9);
}

/* ---- amounts and order ids ----------------------------------------------------------- */

int ks_remedy_amount_ok(double amount)
{
    if (!(amount > 0 && amount <= KS_REMEDY_AMOUNT_MAX)) {
        return 0;
    }
    return ks_amount_cents(amount); /* 49.99, not 49.999 */
}

int ks_remedy_amount_parse(const char *s, double *out)
{
    double v;
    if (ks_amount_parse(s, &v) != 0 || !ks_remedy_amount_ok(v)) {
        return -1;
    }
    *out = v;
    return 0;
}

const char *ks_remedy_order_invalid(const char *order, char *why, size_t cap)
{
    size_t n = order ? strlen(order) : 0;
    if (n == 0) {
        snprintf(why, cap, "is required (the order's order_id)");
        return why;
    }
    return ks_line_invalid(order, n, KS_REMEDY_ORDER_MAX, "has", why, cap);
}

void ks_remedy_money(struct ks_buf *b, int has_amount, double amount, const char *currency)
{
    if (has_amount) {
        ks_buf_printf(b, "%.2f %s", amount, currency);
    } else {
        ks_buf_puts(b, "the order's value");
    }
}

/* "(agent, up to 50.00 USD)" */
static void right_text(struct ks_buf *b, const char *role, enum ks_remedy_right r, double limit,
                       const char *currency)
{
    ks_buf_printf(b, "(%s, ", role ? role : "no role");
    if (r == KS_REMEDY_ANY) {
        ks_buf_puts(b, "any amount)");
    } else if (r == KS_REMEDY_UPTO) {
        ks_buf_printf(b, "up to %.2f %s)", limit, currency);
    } else {
        ks_buf_puts(b, "not allowed)");
    }
}

/* ---- rows --------------------------------------------------------------------------- */

/* A remedy row with owned strings. */
struct rem {
    struct ks_remedy_row r;
    char *s[12];
};

static void rem_fini(struct rem *m)
{
    for (size_t i = 0; i < 12; i++) {
        ks_free(m->s[i]);
    }
    memset(m, 0, sizeof(*m));
}

static void rem_copy(struct rem *m, const struct ks_remedy_row *r)
{
    rem_fini(m);
    m->r = *r;
    const char **f[12] = {&m->r.order_id,      &m->r.kind,        &m->r.currency,
                          &m->r.status,        &m->r.by,          &m->r.approved_by,
                          &m->r.note,          &m->r.complex,     &m->r.review_status,
                          &m->r.reviewed_by,   &m->r.declined_by, &m->r.declined_why};
    for (size_t i = 0; i < 12; i++) {
        m->s[i] = *f[i] ? ks_strdup(*f[i]) : NULL;
        *f[i] = m->s[i];
    }
}

static int take_one(void *ctx, const struct ks_remedy_row *r)
{
    rem_copy(ctx, r);
    return 1;
}

/* Remedy id into m; KS_ENOTFOUND when there is none. */
static enum ks_rc load(struct ks_store *s, int64_t id, struct rem *m, struct ks_err *err)
{
    memset(m, 0, sizeof(*m));
    if (s->ops->list_remedies(s, 0, id, take_one, m, err) != KS_OK) {
        return err->rc;
    }
    if (!m->r.id) {
        return ks_err_set(err, KS_ENOTFOUND, "no remedy %lld", (long long)id);
    }
    return KS_OK;
}

/* A remedy that waited for approval and never will be given: superseded by
 * the order's cancellation with a full refund, or declined. */
static int never_given(const struct ks_remedy_row *r)
{
    return !strcmp(r->status, "superseded") || !strcmp(r->status, "declined");
}

/* An amount of money as a JSON number with two decimals (49.90), or null
 * when there is none. */
static void json_money(struct ks_json *j, int has, double amount)
{
    if (!has) {
        ks_json_null(j);
        return;
    }
    char money[40];
    snprintf(money, sizeof(money), "%.2f", amount);
    ks_json_raw(j, money, strlen(money));
}

void ks_remedy_row_json(struct ks_json *j, const struct ks_remedy_row *r,
                        const struct ks_remedy_value *v)
{
    ks_json_obj_begin(j);
    ks_json_key(j, "id");
    ks_json_int(j, r->id);
    ks_json_key(j, "incident");
    ks_json_int(j, r->incident);
    ks_json_key(j, "order");
    ks_json_str(j, r->order_id);
    ks_json_key(j, "kind");
    ks_json_str(j, r->kind);
    ks_json_key(j, "amount");
    json_money(j, r->has_amount, r->amount);
    ks_json_key(j, "currency");
    ks_json_str(j, r->currency);
    ks_json_key(j, "status");
    ks_json_str(j, r->status);
    int granted = !strcmp(r->status, "granted");
    ks_json_key(j, "accountable");
    ks_json_str(j, !granted ? NULL : r->approved_by ? r->approved_by : r->by);
    ks_json_key(j, "requested_by");
    ks_json_str(j, r->by);
    ks_json_key(j, "approved_by");
    ks_json_str(j, r->approved_by);
    ks_json_key(j, "requested_at");
    ks_json_time(j, r->requested_at);
    ks_json_key(j, "granted_at");
    ks_json_time(j, r->granted_at);
    ks_json_key(j, "declined");
    if (!strcmp(r->status, "declined")) {
        ks_json_obj_begin(j);
        ks_json_key(j, "by");
        ks_json_str(j, r->declined_by);
        ks_json_key(j, "at");
        ks_json_time(j, r->declined_at);
        ks_json_key(j, "why");
        ks_json_str(j, r->declined_why);
        ks_json_obj_end(j);
    } else {
        ks_json_null(j);
    }
    ks_json_key(j, "note");
    ks_json_str(j, r->note);
    ks_json_key(j, "affected");
    ks_json_bool(j, r->affected);
    ks_json_key(j, "complex");
    ks_json_str(j, r->complex);
    ks_json_key(j, "review");
    if (r->review_status) {
        ks_json_obj_begin(j);
        ks_json_key(j, "due");
        ks_json_time(j, r->review_due);
        /* a remedy never given has no review to do: "not_needed" (the
         * row keeps "due", which a decision made on replay may still need) */
        ks_json_key(j, "status");
        ks_json_str(j, !strcmp(r->review_status, "due") && never_given(r) ? "not_needed"
                                                                          : r->review_status);
        ks_json_key(j, "missed");
        ks_json_bool(j, r->review_missed);
        /* who reviewed it and when: null until it is done */
        int done = !strcmp(r->review_status, "done");
        ks_json_key(j, "by");
        ks_json_str(j, done ? r->reviewed_by : NULL);
        ks_json_key(j, "at");
        ks_json_time(j, done ? r->reviewed_at : KS_TIME_NONE);
        ks_json_obj_end(j);
    } else {
        ks_json_null(j);
    }
    if (v) {
        ks_json_key(j, "order_value");
        json_money(j, v->known, v->value);
    }
    ks_json_obj_end(j);
}

/* The answer of a grant or an approval: the row, and the order's value
 * that kintsugi knows (v). */
static void row_out(struct ks_buf *out, const struct ks_remedy_row *r,
                    const struct ks_remedy_value *v)
{
    if (out) {
        struct ks_json j;
        ks_json_init(&j, out, 0);
        ks_remedy_row_json(&j, r, v);
    }
}

/* ---- the order's value ---------------------------------------------------------------- */

/* Store credit, a discount code (for a later order) and expedited shipping
 * (its cost) are not part of the order's value; refunds add up. */
int ks_remedy_bounded(const char *kind)
{
    return !strcmp(kind, "refund") || !strcmp(kind, "cancel_with_refund") ||
           !strcmp(kind, "replacement");
}
static int money_back(const char *kind)
{
    return !strcmp(kind, "refund") || !strcmp(kind, "cancel_with_refund");
}

/* The money already given back, or waiting for approval, for one order
 * (every incident), other than remedy `self`. */
struct back_scan {
    const char *order;
    int64_t self;
    double sum;
    int n;
};

static int scan_back(void *ctx, const struct ks_remedy_row *r)
{
    struct back_scan *b = ctx;
    if (r->id != b->self && r->has_amount && money_back(r->kind) && !never_given(r) &&
        !strcmp(r->order_id, b->order)) {
        b->sum += r->amount;
        b->n++;
    }
    return 0;
}

/* KS_ESTATE when a remedy of `kind` and `amount` for order (remedy `self`
 * when it is written already, else 0) would give more than the order's
 * value that kintsugi knows: its amount above it, or, for money back, with
 * the order's other refunds (granted or waiting for approval, in any
 * incident). The message is `head`, what is wrong, then `tail`. v gets the
 * value (v->known 0: not known, and nothing is checked). */
static enum ks_rc within_value(struct ks_store *s, struct ks_engine *e, const struct ks_config *cfg,
                               const char *order, const char *kind, int has_amount, double amount,
                               int64_t self, const char *head, const char *tail,
                               struct ks_remedy_value *v, struct ks_err *err)
{
    v->known = ks_engine_order_value(e, order, &v->value);
    if (!v->known || !has_amount || !ks_remedy_bounded(kind)) {
        return KS_OK;
    }
    struct back_scan b = {order, self, 0, 0};
    if (money_back(kind) && s->ops->list_remedies(s, 0, 0, scan_back, &b, err) != KS_OK) {
        return err->rc;
    }
    /* amounts and values are money: compared in cents */
    if (amount <= v->value + 0.005 && amount + b.sum <= v->value + 0.005) {
        return KS_OK;
    }
    struct ks_buf t = {0};
    ks_buf_printf(&t, "%s%s of ", head, kind);
    ks_remedy_money(&t, 1, amount, cfg->currency);
    ks_buf_printf(&t, " for order %s ", order);
    if (amount <= v->value + 0.005) {
        ks_buf_puts(&t, "would bring what is given back for it to ");
        ks_remedy_money(&t, 1, amount + b.sum, cfg->currency);
        ks_buf_puts(&t, ", more than the order's value, ");
    } else {
        ks_buf_puts(&t, "is more than the order's value, ");
    }
    ks_remedy_money(&t, 1, v->value, cfg->currency);
    ks_buf_puts(&t, " (as its order events gave it");
    if (b.n) {
        ks_buf_printf(&t, "; %d other refund%s of ", b.n, b.n == 1 ? "" : "s");
        ks_remedy_money(&t, 1, b.sum, cfg->currency);
        ks_buf_puts(&t, " granted or waiting for approval");
    }
    ks_buf_printf(&t, ")%s", tail);
    enum ks_rc rc = ks_err_set(err, KS_ESTATE, "%s", t.p);
    ks_buf_fini(&t);
    return rc;
}

/* The end of a grant's or approval's timeline entry when the amount could
 * not be checked against the order's value. */
static void unchecked_text(struct ks_buf *t, const struct ks_remedy_value *v, const char *kind,
                           int has_amount)
{
    if (!v->known && has_amount && ks_remedy_bounded(kind)) {
        ks_buf_puts(t, "; the order's value is not known to kintsugi: the amount could not be "
                       "checked against it");
    }
}

/* ---- granting ------------------------------------------------------------------------ */

struct order_rows {
    const char *order;
    struct rem *rows;
    size_t n, cap;
};
static int collect_order(void *ctx, const struct ks_remedy_row *r);

struct order_scan {
    const char *order;
    int64_t below; /* only remedies with a smaller id (0: all) */
    int count, cancelled; /* cancelled: a cancellation with a full refund was granted */
    int64_t waiting;      /* one waiting for approval: its id */
};

static int scan_order(void *ctx, const struct ks_remedy_row *r)
{
    struct order_scan *o = ctx;
    if (strcmp(r->order_id, o->order) != 0 || (o->below && r->id >= o->below)) {
        return 0;
    }
    /* one declined counts: a request after it is a second for the order (a
     * complex case); a cancellation declined or superseded cancels nothing */
    o->count++;
    if (!strcmp(r->kind, "cancel_with_refund") && !never_given(r)) {
        o->cancelled |= strcmp(r->status, "pending") != 0;
        o->waiting = !strcmp(r->status, "pending") ? r->id : o->waiting;
    }
    return 0;
}

/* The granted cancellation with a full refund of an order for an incident,
 * other than remedy `self`: its id, or 0. */
struct cancel_scan {
    const char *order;
    int64_t self, cancel;
};

static int scan_cancel(void *ctx, const struct ks_remedy_row *r)
{
    struct cancel_scan *c = ctx;
    if (!strcmp(r->order_id, c->order) && r->id != c->self &&
        !strcmp(r->kind, "cancel_with_refund") && !strcmp(r->status, "granted")) {
        c->cancel = r->id;
        return 1;
    }
    return 0;
}

/* KS_ESTATE when the order of remedy m was cancelled with a full refund for
 * its incident (by another remedy): what waited for approval is not given
 * on top of the whole order's refund. */
static enum ks_rc not_cancelled(struct ks_store *s, const struct ks_remedy_row *m,
                                struct ks_err *err)
{
    struct cancel_scan c = {m->order_id, m->id, 0};
    if (s->ops->list_remedies(s, m->incident, 0, scan_cancel, &c, err) != KS_OK) {
        return err->rc;
    }
    if (c.cancel || !strcmp(m->status, "superseded")) {
        char which[40] = "";
        if (c.cancel) {
            snprintf(which, sizeof(which), " (remedy %lld)", (long long)c.cancel);
        }
        return ks_err_set(err, KS_ESTATE,
                          "remedy %lld can no longer be approved: order %s was cancelled with a "
                          "full refund for incident %lld already%s",
                          (long long)m->id, m->order_id, (long long)m->incident, which);
    }
    return KS_OK;
}

static void order_rows_fini(struct order_rows *o);

/*
 * Remedy c, a cancellation with a full refund, is granted (by `by` at at):
 * every other remedy of its order for its incident that waits for approval
 * is superseded - it is not given on top of the whole order's refund, and
 * can no longer be approved - each with a timeline entry by `by`. reapply:
 * the server re-applying its journal, whose engine (the saved state's) has
 * not the entries of the rows the store holds superseded already: those
 * are written again with their entries (an order has one granted
 * cancellation per incident, so they are c's).
 */
static enum ks_rc supersede(struct ks_store *s, struct ks_engine *e,
                            const struct ks_remedy_row *c, const char *by, ks_time at,
                            int reapply, struct ks_err *err)
{
    struct order_rows rows = {c->order_id, NULL, 0, 0};
    enum ks_rc rc = s->ops->list_remedies(s, c->incident, 0, collect_order, &rows, err);
    for (size_t i = 0; i < rows.n && rc == KS_OK; i++) {
        struct ks_remedy_row *r = &rows.rows[i].r;
        if (r->id == c->id ||
            !(!strcmp(r->status, "pending") || (reapply && !strcmp(r->status, "superseded")))) {
            continue;
        }
        r->status = "superseded";
        rc = s->ops->put_remedy(s, r, err);
        if (rc == KS_OK) {
            struct ks_buf t = {0};
            ks_buf_printf(&t, "Remedy %lld superseded: %s of ", (long long)r->id, r->kind);
            ks_remedy_money(&t, r->has_amount, r->amount, r->currency);
            ks_buf_printf(&t,
                          " for order %s, proposed by %s, waited for approval; the order is "
                          "cancelled with a full refund (remedy %lld), so it is not given",
                          r->order_id, r->by, (long long)c->id);
            rc = ks_engine_note(e, c->incident, t.p, by, at, err);
            ks_buf_fini(&t);
        }
    }
    order_rows_fini(&rows);
    return rc;
}

static void list_remedy_names(struct ks_buf *b)
{
    for (const struct ks_action_name *a = ks_remedy_names; a->name; a++) {
        ks_buf_printf(b, "%s%s", a == ks_remedy_names ? "" : ", ", a->name);
    }
}

enum ks_rc ks_remedy_grant(struct ks_store *s, struct ks_engine *e, const struct ks_config *cfg,
                           const struct ks_remedy_req *rq, ks_time at, int64_t id,
                           int64_t *out_id, struct ks_buf *out, struct ks_err *err)
{
    if (!rq->kind || !ks_remedy_known(rq->kind)) {
        struct ks_buf names = {0};
        list_remedy_names(&names);
        ks_err_set(err, KS_EUSAGE, "unknown remedy '%s' (remedies are: %s)",
                   rq->kind ? rq->kind : "", names.p);
        ks_buf_fini(&names);
        return KS_EUSAGE;
    }
    /* A new grant is checked whole; one re-applied from the server's journal
     * (id > 0) was checked when it was new, and is written again as it was. */
    int fresh = id == 0;
    if (rq->has_amount &&
        !(fresh ? ks_remedy_amount_ok(rq->amount)
                : rq->amount >= 0 && rq->amount <= KS_REMEDY_AMOUNT_MAX)) {
        return ks_err_set(err, KS_EUSAGE,
                          "amount: must be a number > 0 with at most two decimals (in %s)",
                          cfg->currency);
    }
    char order_why[96];
    if (!rq->order || !*rq->order) {
        return ks_err_set(err, KS_EUSAGE, "order: is required (the order's order_id)");
    }
    if (fresh && ks_remedy_order_invalid(rq->order, order_why, sizeof(order_why))) {
        return ks_err_set(err, KS_EUSAGE, "order: %s", order_why);
    }
    const char *type;
    int sev;
    if (ks_engine_incident_kind(e, rq->incident, &type, &sev) != KS_OK) {
        return ks_err_set(err, KS_ENOTFOUND, "no incident %lld", (long long)rq->incident);
    }
    double limit;
    const char *role;
    enum ks_remedy_right right = ks_remedy_right_of(cfg, rq->by, rq->kind, &limit, &role);
    if (!role) {
        return ks_err_set(err, KS_ESTATE,
                          "%s is not a person of the configuration: a remedy needs a named "
                          "person accountable for it, whose role allows it (people: and "
                          "roles: in kintsugi.yaml)",
                          rq->by ? rq->by : "");
    }
    if (right == KS_REMEDY_NONE) {
        return ks_err_set(err, KS_ESTATE,
                          "%s (role %s) may not grant '%s': the role's remedies do not allow it",
                          rq->by, role, rq->kind);
    }
    struct order_scan scan = {rq->order, id, 0, 0, 0};
    if (s->ops->list_remedies(s, rq->incident, 0, scan_order, &scan, err) != KS_OK) {
        return err->rc;
    }
    if (!scan.cancelled && scan.waiting) {
        return ks_err_set(err, KS_ESTATE,
                          "order %s has a cancellation with a full refund waiting for approval "
                          "for incident %lld (remedy %lld): it is approved or declined first",
                          rq->order, (long long)rq->incident, (long long)scan.waiting);
    }
    if (scan.cancelled) {
        return ks_err_set(err, KS_ESTATE,
                          "order %s was cancelled with a full refund for incident %lld already",
                          rq->order, (long long)rq->incident);
    }
    /* not more than the order's value (checked when new: a journal
     * re-applied finds the store's rows as they are now) */
    struct ks_remedy_value value = {0, 0};
    if (!fresh) {
        value.known = ks_engine_order_value(e, rq->order, &value.value);
    } else if (within_value(s, e, cfg, rq->order, rq->kind, rq->has_amount, rq->amount, 0, "",
                            ": nothing is granted", &value, err) != KS_OK) {
        return err->rc;
    }
    if (at == KS_TIME_NONE) {
        at = ks_engine_clock(e);
    }
    int now = covers(right, limit, rq->has_amount, rq->amount);
    struct ks_buf why = {0};
    if (rq->escalate) {
        ks_buf_printf(&why, "escalated by %s", rq->by);
    }
    if (!now) {
        ks_buf_printf(&why, "%sabove the limit of %s", why.len ? "; " : "", rq->by);
    }
    if (scan.count) {
        ks_buf_printf(&why, "%sorder %s has %d %s already", why.len ? "; " : "", rq->order,
                      scan.count, scan.count == 1 ? "remedy" : "remedies");
    }
    struct ks_remedy_row r = {0};
    r.id = id;
    r.incident = rq->incident;
    r.order_id = rq->order;
    r.kind = rq->kind;
    r.has_amount = rq->has_amount;
    r.amount = rq->has_amount ? rq->amount : 0;
    r.currency = cfg->currency;
    r.status = now ? "granted" : "pending";
    r.by = rq->by;
    r.requested_at = at;
    r.granted_at = now ? at : KS_TIME_NONE;
    r.note = rq->note;
    r.affected = ks_engine_incident_has_order(e, rq->incident, rq->order);
    r.complex = why.len ? why.p : NULL;
    r.review_due = why.len ? at + KS_REMEDY_REVIEW_DUE : KS_TIME_NONE;
    r.review_status = why.len ? "due" : NULL;
    r.reviewed_at = KS_TIME_NONE; /* not reviewed yet */
    r.declined_at = KS_TIME_NONE;
    enum ks_rc rc = s->ops->put_remedy(s, &r, err);
    if (rc == KS_OK) {
        struct ks_buf t = {0};
        ks_buf_printf(&t, "Remedy %lld %s: %s of ", (long long)r.id, now ? "granted" : "proposed",
                      rq->kind);
        ks_remedy_money(&t, rq->has_amount, rq->amount, cfg->currency);
        ks_buf_printf(&t, " for order %s, by %s ", rq->order, rq->by);
        right_text(&t, role, right, limit, cfg->currency);
        if (now) {
            ks_buf_printf(&t, "; accountable: %s", rq->by);
        } else {
            ks_buf_puts(&t, "; waits for approval by someone whose limit covers it");
        }
        if (why.len) {
            char due[32];
            ks_time_fmt(r.review_due, due);
            ks_buf_printf(&t, "; complex (%s): specialist review due %s", why.p, due);
        }
        unchecked_text(&t, &value, rq->kind, rq->has_amount);
        if (rq->note) {
            ks_buf_printf(&t, ": %s", rq->note);
        }
        rc = ks_engine_note(e, rq->incident, t.p, rq->by, at, err);
        ks_buf_fini(&t);
    }
    if (rc == KS_OK && now && !strcmp(rq->kind, "cancel_with_refund")) {
        rc = supersede(s, e, &r, rq->by, at, !fresh, err);
    }
    if (rc == KS_OK) {
        *out_id = r.id;
        row_out(out, &r, &value);
    }
    ks_buf_fini(&why);
    return rc;
}

/* A person's decision on remedy r (approve, decline, review), its fields
 * already set: the row written whole, then the timeline entry `text` by
 * `by` at `at`, in the caller's transaction. */
static enum ks_rc record(struct ks_store *s, struct ks_engine *e, struct ks_remedy_row *r,
                         const char *by, ks_time at, struct ks_buf *text, struct ks_err *err)
{
    enum ks_rc rc = s->ops->put_remedy(s, r, err);
    if (rc == KS_OK) {
        rc = ks_engine_note(e, r->incident, text->p, by, at, err);
    }
    ks_buf_fini(text);
    return rc;
}

/* KS_ESTATE: "carol (agent, up to 50.00 USD) may not VERB remedy 3: refund of
 * 120.00 USD" and tail. */
static enum ks_rc beyond_limit(struct ks_err *err, const char *verb, const char *by,
                               const char *role, enum ks_remedy_right right, double limit,
                               const struct ks_remedy_row *r, const char *tail)
{
    struct ks_buf t = {0};
    ks_buf_printf(&t, "%s ", by);
    right_text(&t, role, right, limit, r->currency);
    ks_buf_printf(&t, " may not %s remedy %lld: %s of ", verb, (long long)r->id, r->kind);
    ks_remedy_money(&t, r->has_amount, r->amount, r->currency);
    ks_buf_puts(&t, tail);
    enum ks_rc rc = ks_err_set(err, KS_ESTATE, "%s", t.p);
    ks_buf_fini(&t);
    return rc;
}

/* The start of a decision's timeline entry: "Remedy 3 approved by bob
 * (manager, any amount): refund of 120.00 USD for order o2, proposed by carol". */
static void decided_text(struct ks_buf *t, const char *what, const char *by, const char *role,
                         enum ks_remedy_right right, double limit, const struct ks_remedy_row *r)
{
    ks_buf_printf(t, "Remedy %lld %s by %s ", (long long)r->id, what, by);
    right_text(t, role, right, limit, r->currency);
    ks_buf_printf(t, ": %s of ", r->kind);
    ks_remedy_money(t, r->has_amount, r->amount, r->currency);
    ks_buf_printf(t, " for order %s, proposed by %s", r->order_id, r->by);
}

enum ks_rc ks_remedy_approve(struct ks_store *s, struct ks_engine *e,
                             const struct ks_config *cfg, int64_t id, const char *by,
                             ks_time at, int reapply, struct ks_buf *out, struct ks_err *err)
{
    struct rem m;
    enum ks_rc rc = load(s, id, &m, err);
    if (rc != KS_OK) {
        rem_fini(&m);
        return rc;
    }
    int again = reapply && m.r.approved_by && !strcmp(m.r.approved_by, by);
    double limit;
    const char *role;
    enum ks_remedy_right right = ks_remedy_right_of(cfg, by, m.r.kind, &limit, &role);
    if (!strcmp(m.r.status, "superseded") || (!reapply && !strcmp(m.r.status, "pending"))) {
        /* not on top of a cancellation with a full refund (checked when new:
         * a journal re-applied finds the store's rows as they are now) */
        rc = not_cancelled(s, &m.r, err);
    }
    if (rc != KS_OK) {
        /* refused: the order was cancelled with a full refund */
    } else if (!strcmp(m.r.status, "declined")) {
        rc = ks_err_set(err, KS_ESTATE, "remedy %lld was declined by %s: %s", (long long)id,
                        m.r.declined_by ? m.r.declined_by : "?",
                        m.r.declined_why ? m.r.declined_why : "");
    } else if (strcmp(m.r.status, "pending") != 0 && !again) {
        rc = ks_err_set(err, KS_ESTATE, "remedy %lld is %s already (accountable: %s)",
                        (long long)id, m.r.status, m.r.approved_by ? m.r.approved_by : m.r.by);
    } else if (!role) {
        rc = ks_err_set(err, KS_ESTATE,
                        "%s is not a person of the configuration: approvals need a named person "
                        "whose role's limit covers the remedy (people: and roles: in "
                        "kintsugi.yaml)",
                        by);
    } else if (!again && m.r.reviewed_by && !strcmp(m.r.reviewed_by, by)) {
        rc = ks_err_set(err, KS_ESTATE,
                        "%s may not approve remedy %lld: they did its specialist review (the "
                        "reviewer is a second pair of eyes, not the person who decides)",
                        by, (long long)id);
    } else if (!covers(right, limit, m.r.has_amount, m.r.amount)) {
        rc = beyond_limit(err, "approve", by, role, right, limit, &m.r, "");
    }
    /* not more than the order's value, which may have become known since
     * the request (checked when new, as above) */
    struct ks_remedy_value value = {0, 0};
    if (rc == KS_OK && reapply) {
        value.known = ks_engine_order_value(e, m.r.order_id, &value.value);
    } else if (rc == KS_OK) {
        char head[64];
        snprintf(head, sizeof(head), "remedy %lld cannot be approved: ", (long long)id);
        rc = within_value(s, e, cfg, m.r.order_id, m.r.kind, m.r.has_amount, m.r.amount, id, head,
                          "", &value, err);
    }
    if (rc == KS_OK) {
        at = at == KS_TIME_NONE ? ks_engine_clock(e) : at;
        m.r.status = "granted";
        m.r.approved_by = by;
        m.r.granted_at = at;
        struct ks_buf t = {0};
        decided_text(&t, "approved", by, role, right, limit, &m.r);
        ks_buf_printf(&t, "; accountable: %s", by);
        unchecked_text(&t, &value, m.r.kind, m.r.has_amount);
        rc = record(s, e, &m.r, by, at, &t, err);
    }
    if (rc == KS_OK && !strcmp(m.r.kind, "cancel_with_refund")) {
        rc = supersede(s, e, &m.r, by, at, reapply, err);
    }
    if (rc == KS_OK) {
        row_out(out, &m.r, &value);
    }
    rem_fini(&m);
    return rc;
}

enum ks_rc ks_remedy_decline(struct ks_store *s, struct ks_engine *e,
                             const struct ks_config *cfg, int64_t id, const char *by,
                             const char *why, ks_time at, int reapply, struct ks_buf *out,
                             struct ks_err *err)
{
    if (!why || !*why) {
        return ks_err_set(err, KS_EUSAGE,
                          "note: a decline says why (the customer team tells the customer)");
    }
    struct rem m;
    enum ks_rc rc = load(s, id, &m, err);
    if (rc != KS_OK) {
        rem_fini(&m);
        return rc;
    }
    int again = reapply && !strcmp(m.r.status, "declined") && m.r.declined_by &&
                !strcmp(m.r.declined_by, by);
    int own = !strcmp(by, m.r.by); /* the person who proposed it withdraws it */
    double limit;
    const char *role;
    enum ks_remedy_right right = ks_remedy_right_of(cfg, by, m.r.kind, &limit, &role);
    if (!strcmp(m.r.status, "declined") && !again) {
        rc = ks_err_set(err, KS_ESTATE, "remedy %lld was declined already by %s: %s",
                        (long long)id, m.r.declined_by ? m.r.declined_by : "?",
                        m.r.declined_why ? m.r.declined_why : "");
    } else if (!strcmp(m.r.status, "superseded")) {
        rc = ks_err_set(err, KS_ESTATE,
                        "remedy %lld was superseded (order %s was cancelled with a full refund): "
                        "it will not be given anyway",
                        (long long)id, m.r.order_id);
    } else if (strcmp(m.r.status, "pending") != 0 && !again) {
        rc = ks_err_set(err, KS_ESTATE,
                        "remedy %lld is %s already (accountable: %s): only a remedy that waits "
                        "for approval can be declined",
                        (long long)id, m.r.status, m.r.approved_by ? m.r.approved_by : m.r.by);
    } else if (!role) {
        rc = ks_err_set(err, KS_ESTATE,
                        "%s is not a person of the configuration: a decline needs a named person "
                        "whose role's limit covers the remedy, or the one who proposed it "
                        "(people: and roles: in kintsugi.yaml)",
                        by);
    } else if (!own && !covers(right, limit, m.r.has_amount, m.r.amount)) {
        char tail[320];
        snprintf(tail, sizeof(tail),
                 " (who may approve it may decline it; %s, who proposed it, may withdraw it)",
                 m.r.by);
        rc = beyond_limit(err, "decline", by, role, right, limit, &m.r, tail);
    }
    if (rc == KS_OK) {
        at = at == KS_TIME_NONE ? ks_engine_clock(e) : at;
        m.r.status = "declined";
        m.r.declined_by = by;
        m.r.declined_at = at;
        m.r.declined_why = why;
        struct ks_buf t = {0};
        decided_text(&t, own ? "withdrawn" : "declined", by, role, right, limit, &m.r);
        ks_buf_printf(&t, ", is not given: %s", why);
        rc = record(s, e, &m.r, by, at, &t, err);
    }
    if (rc == KS_OK) {
        row_out(out, &m.r, NULL);
    }
    rem_fini(&m);
    return rc;
}

enum ks_rc ks_remedy_review(struct ks_store *s, struct ks_engine *e, const struct ks_config *cfg,
                            int64_t id, const char *by, const char *note, ks_time at,
                            int reapply, struct ks_buf *out, struct ks_err *err)
{
    struct rem m;
    enum ks_rc rc = load(s, id, &m, err);
    if (rc != KS_OK) {
        rem_fini(&m);
        return rc;
    }
    int again = reapply && m.r.reviewed_by && !strcmp(m.r.reviewed_by, by);
    const char *accountable = m.r.approved_by ? m.r.approved_by : m.r.by;
    double limit;
    const char *role;
    enum ks_remedy_right right = ks_remedy_right_of(cfg, by, m.r.kind, &limit, &role);
    if (!m.r.review_status) {
        rc = ks_err_set(err, KS_ESTATE,
                        "remedy %lld is not a complex case: it has no specialist review",
                        (long long)id);
    } else if (!strcmp(m.r.status, "superseded") && !again) {
        rc = ks_err_set(err, KS_ESTATE,
                        "remedy %lld was superseded (order %s was cancelled with a full refund): "
                        "it was not given, so there is no specialist review to do",
                        (long long)id, m.r.order_id);
    } else if (!strcmp(m.r.status, "declined") && !again) {
        rc = ks_err_set(err, KS_ESTATE,
                        "remedy %lld was declined by %s: it was not given, so there is no "
                        "specialist review to do",
                        (long long)id, m.r.declined_by ? m.r.declined_by : "?");
    } else if (strcmp(m.r.review_status, "due") != 0 && !again) {
        rc = ks_err_set(err, KS_ESTATE, "remedy %lld was reviewed already by %s", (long long)id,
                        m.r.reviewed_by ? m.r.reviewed_by : "?");
    } else if (!role || !covers(right, limit, m.r.has_amount, m.r.amount)) {
        rc = ks_err_set(err, KS_ESTATE,
                        "%s may not review remedy %lld: a specialist review needs a person of "
                        "the configuration whose role's limit covers the remedy",
                        by, (long long)id);
    } else if (!strcmp(by, accountable) || !strcmp(by, m.r.by)) {
        rc = ks_err_set(err, KS_ESTATE,
                        "%s may not review remedy %lld: they decided or proposed it (a "
                        "specialist review is a second person's)",
                        by, (long long)id);
    }
    if (rc == KS_OK) {
        at = at == KS_TIME_NONE ? ks_engine_clock(e) : at;
        m.r.review_status = "done";
        m.r.reviewed_by = by;
        m.r.reviewed_at = at;
        struct ks_buf t = {0};
        ks_buf_printf(&t, "Specialist review of remedy %lld (%s for order %s) by %s%s%s%s",
                      (long long)id, m.r.kind, m.r.order_id, by,
                      m.r.review_missed ? ", after its deadline" : "", note ? ": " : "",
                      note ? note : "");
        rc = record(s, e, &m.r, by, at, &t, err);
    }
    if (rc == KS_OK) {
        row_out(out, &m.r, NULL);
    }
    rem_fini(&m);
    return rc;
}

/* A review that ks_remedy_sla looks at: due, not missed yet, of a remedy
 * that was given. */
static int review_open(const struct ks_remedy_row *r)
{
    return r->review_status && !strcmp(r->review_status, "due") && !r->review_missed &&
           !never_given(r) && r->review_due != KS_TIME_NONE;
}

struct next_scan {
    ks_time clock, next;
};

static int scan_next(void *ctx, const struct ks_remedy_row *r)
{
    struct next_scan *d = ctx;
    if (review_open(r) && r->review_due >= d->clock &&
        (d->next == KS_TIME_NONE || r->review_due < d->next)) {
        d->next = r->review_due;
    }
    return 0;
}

enum ks_rc ks_remedy_next_review(struct ks_store *s, ks_time clock, ks_time *next,
                                 struct ks_err *err)
{
    struct next_scan d = {clock, KS_TIME_NONE};
    enum ks_rc rc = s->ops->list_remedies(s, 0, 0, scan_next, &d, err);
    *next = d.next;
    return rc;
}

struct due_scan {
    ks_time clock;
    struct rem *due;
    size_t n, cap;
};

/* A review is missed once the clock has moved past its deadline, as the
 * engine's timers fire (SPEC section 2: every threshold is strict); one
 * done at the deadline itself is in time. A superseded remedy was never
 * given: its review is not due any more. */
static int scan_due(void *ctx, const struct ks_remedy_row *r)
{
    struct due_scan *d = ctx;
    if (review_open(r) && r->review_due < d->clock) {
        KS_GROW(d->due, d->cap, d->n + 1);
        memset(&d->due[d->n], 0, sizeof(d->due[d->n]));
        rem_copy(&d->due[d->n++], r);
    }
    return 0;
}

enum ks_rc ks_remedy_sla(struct ks_store *s, struct ks_engine *e, struct ks_err *err)
{
    struct due_scan d = {ks_engine_clock(e), NULL, 0, 0};
    if (d.clock == KS_TIME_NONE) {
        return KS_OK;
    }
    enum ks_rc rc = s->ops->list_remedies(s, 0, 0, scan_due, &d, err);
    for (size_t i = 0; i < d.n && rc == KS_OK; i++) {
        struct ks_remedy_row *r = &d.due[i].r;
        r->review_missed = 1;
        rc = s->ops->put_remedy(s, r, err);
        if (rc == KS_OK) {
            struct ks_buf t = {0};
            ks_buf_printf(&t,
                          "Specialist review of remedy %lld (%s for order %s; complex: %s) "
                          "missed its deadline, 24 h after the grant",
                          (long long)r->id, r->kind, r->order_id, r->complex ? r->complex : "");
            rc = ks_engine_sla_entry(e, r->incident, r->review_due, t.p, err);
            ks_buf_fini(&t);
            if (rc == KS_ENOTFOUND) {
                rc = KS_OK; /* an incident the engine no longer has */
            }
        }
    }
    for (size_t i = 0; i < d.n; i++) {
        rem_fini(&d.due[i]);
    }
    ks_free(d.due);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------- */

struct list_ctx {
    struct ks_json j;
};

static int list_one(void *ctx, const struct ks_remedy_row *r)
{
    ks_remedy_row_json(&((struct list_ctx *)ctx)->j, r, NULL);
    return 0;
}

enum ks_rc ks_remedy_list_json(struct ks_store *s, int64_t incident, struct ks_buf *out,
                               struct ks_err *err)
{
    struct list_ctx c;
    ks_json_init(&c.j, out, 0);
    ks_json_arr_begin(&c.j);
    enum ks_rc rc = s->ops->list_remedies(s, incident, 0, list_one, &c, err);
    ks_json_arr_end(&c.j);
    return rc;
}

/* What the policy offers per incident type: the customer's own choices
 * (one of them makes it right), then what the shop may add. */
static const struct offer_row {
    const char *types; /* " "-separated, NULL: every other type */
    const char *choice[4], *add[4];
} offers[] = {
    /* the order is late: keep it (shipped faster once it can ship) or cancel it */
    {"system_outage supplier_shortfall sync_failure order_rejections",
     {"cancel_with_refund", "expedited_shipping", NULL},
     {"discount_code", "store_credit", "refund", NULL}},
    /* the stock shown was wrong: the order may not be fillable as placed */
    {"data_corruption volume_drop feed_schema_change",
     {"cancel_with_refund", "replacement", NULL},
     {"store_credit", "discount_code", "expedited_shipping", "refund"}},
    /* the wrong or a damaged item */
    {"fulfillment_error",
     {"replacement", "refund", "cancel_with_refund", NULL},
     {"expedited_shipping", "discount_code", "store_credit", NULL}},
    {NULL,
     {"cancel_with_refund", "replacement", "refund", NULL},
     {"store_credit", "expedited_shipping", "discount_code", NULL}},
};

static const struct offer_row *offer_for(const char *type)
{
    size_t n = sizeof(offers) / sizeof(offers[0]);
    for (size_t i = 0; type && i + 1 < n; i++) {
        const char *p = strstr(offers[i].types, type);
        size_t len = strlen(type);
        while (p) {
            if ((p == offers[i].types || p[-1] == ' ') && (p[len] == ' ' || !p[len])) {
                return &offers[i];
            }
            p = strstr(p + 1, type);
        }
    }
    return &offers[n - 1];
}

int ks_remedy_offerable(const struct ks_config *cfg, const char *kind)
{
    double limit;
    for (size_t i = 0; i < cfg->nroles; i++) {
        if (ks_remedy_role_right(&cfg->roles[i], kind, &limit) != KS_REMEDY_NONE) {
            return 1;
        }
    }
    return 0;
}

const char *ks_remedy_choices(const char *type, int add, size_t i)
{
    const struct offer_row *o = offer_for(type);
    return i < 4 ? (add ? o->add[i] : o->choice[i]) : NULL;
}

/* The type of incident id from its stored row, into type. */
static enum ks_rc incident_type(struct ks_store *s, int64_t id, char *type, size_t cap,
                                struct ks_err *err)
{
    struct ks_buf b = {0};
    enum ks_rc rc = s->ops->get_incident(s, id, 0, &b, err);
    if (rc == KS_ENOTFOUND) {
        ks_buf_fini(&b);
        return ks_err_set(err, KS_ENOTFOUND, "no incident %lld", (long long)id);
    }
    if (rc == KS_OK) {
        json_t *j = json_loadb(b.p ? b.p : "", b.len, 0, NULL);
        const char *t = json_string_value(json_object_get(j, "type"));
        snprintf(type, cap, "%s", t ? t : "");
        json_decref(j);
    }
    ks_buf_fini(&b);
    return rc;
}

static int collect_order(void *ctx, const struct ks_remedy_row *r)
{
    struct order_rows *o = ctx;
    if (!strcmp(r->order_id, o->order)) {
        KS_GROW(o->rows, o->cap, o->n + 1);
        memset(&o->rows[o->n], 0, sizeof(o->rows[o->n]));
        rem_copy(&o->rows[o->n++], r);
    }
    return 0;
}

static void order_rows_fini(struct order_rows *o)
{
    for (size_t i = 0; i < o->n; i++) {
        rem_fini(&o->rows[i]);
    }
    ks_free(o->rows);
}

static void offer_entries(struct ks_json *j, const struct ks_config *cfg, const char *type,
                          int add, const struct order_rows *given)
{
    for (size_t i = 0; i < 4; i++) {
        const char *kind = ks_remedy_choices(type, add, i);
        if (!kind || !ks_remedy_offerable(cfg, kind)) {
            continue;
        }
        ks_json_obj_begin(j);
        ks_json_key(j, "kind");
        ks_json_str(j, kind);
        ks_json_key(j, "choice");
        ks_json_str(j, add ? "shop" : "customer");
        ks_json_key(j, "text");
        ks_json_str(j, ks_remedy_phrase(kind));
        ks_json_key(j, "roles");
        ks_json_obj_begin(j);
        for (size_t k = 0; k < cfg->nroles; k++) {
            double limit;
            enum ks_remedy_right r = ks_remedy_role_right(&cfg->roles[k], kind, &limit);
            if (r == KS_REMEDY_NONE) {
                continue;
            }
            ks_json_key(j, cfg->roles[k].name);
            if (r == KS_REMEDY_ANY) {
                ks_json_bool(j, 1);
            } else {
                char money[40];
                snprintf(money, sizeof(money), "%.2f", limit);
                ks_json_raw(j, money, strlen(money));
            }
        }
        ks_json_obj_end(j);
        ks_json_key(j, "given");
        ks_json_arr_begin(j);
        for (size_t k = 0; k < given->n; k++) {
            if (!strcmp(given->rows[k].r.kind, kind) && !never_given(&given->rows[k].r)) {
                ks_json_int(j, given->rows[k].r.id);
            }
        }
        ks_json_arr_end(j);
        ks_json_obj_end(j);
    }
}

enum ks_rc ks_remedy_offer_json(struct ks_store *s, const struct ks_config *cfg, int64_t incident,
                                const char *order, struct ks_buf *out, struct ks_err *err)
{
    char type[64];
    enum ks_rc rc = incident_type(s, incident, type, sizeof(type), err);
    struct order_rows given = {order, NULL, 0, 0};
    if (rc == KS_OK) {
        rc = s->ops->list_remedies(s, incident, 0, collect_order, &given, err);
    }
    if (rc != KS_OK) {
        order_rows_fini(&given);
        return rc;
    }
    struct ks_json j;
    ks_json_init(&j, out, 0);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "incident");
    ks_json_int(&j, incident);
    ks_json_key(&j, "order");
    ks_json_str(&j, order);
    ks_json_key(&j, "type");
    ks_json_str(&j, type);
    ks_json_key(&j, "currency");
    ks_json_str(&j, cfg->currency);
    ks_json_key(&j, "choices");
    ks_json_arr_begin(&j);
    offer_entries(&j, cfg, type, 0, &given);
    offer_entries(&j, cfg, type, 1, &given);
    ks_json_arr_end(&j);
    ks_json_key(&j, "remedies");
    ks_json_arr_begin(&j);
    for (size_t k = 0; k < given.n; k++) {
        ks_remedy_row_json(&j, &given.rows[k].r, NULL);
    }
    ks_json_arr_end(&j);
    ks_json_obj_end(&j);
    order_rows_fini(&given);
    return KS_OK;
}

/* ---- for the customer notices --------------------------------------------------------- */

enum ks_rc ks_remedy_describe(struct ks_store *s, const struct ks_config *cfg, int64_t incident,
                              const char *itype, const char *order, struct ks_buf *out,
                              struct ks_err *err)
{
    char type[64];
    enum ks_rc rc = KS_OK;
    if (itype) {
        snprintf(type, sizeof(type), "%s", itype);
    } else {
        rc = incident_type(s, incident, type, sizeof(type), err);
    }
    struct order_rows given = {order, NULL, 0, 0};
    if (rc == KS_OK) {
        rc = s->ops->list_remedies(s, incident, 0, collect_order, &given, err);
    }
    if (rc != KS_OK) {
        order_rows_fini(&given);
        return rc;
    }
    size_t before = out->len;
    for (size_t k = 0; k < given.n; k++) {
        const struct ks_remedy_row *r = &given.rows[k].r;
        int granted = !strcmp(r->status, "granted");
        if (never_given(r)) {
            continue; /* the order was cancelled with a full refund, or it was declined */
        }
        ks_buf_puts(out, out->len > before ? " " : "");
        ks_buf_printf(out, "%s: %s", granted ? "Granted" : "Waiting for approval",
                      ks_remedy_phrase(r->kind));
        if (r->has_amount) {
            ks_buf_printf(out, " (%.2f %s)", r->amount, r->currency);
        }
        if (granted) {
            ks_buf_printf(out, ", decided by %s, who is accountable for it.",
                          r->approved_by ? r->approved_by : r->by);
        } else {
            ks_buf_puts(out, "; we will tell you as soon as it is decided.");
        }
    }
    if (out->len == before) {
        /* nothing given yet: the choices */
        for (int add = 0; add < 2; add++) {
            size_t n = 0;
            for (size_t i = 0; i < 4; i++) {
                const char *kind = ks_remedy_choices(type, add, i);
                if (kind && ks_remedy_offerable(cfg, kind)) {
                    if (n == 0) {
                        ks_buf_puts(out, out->len > before ? " " : "");
                        ks_buf_puts(out, add ? "We may also add: " : "You may choose: ");
                    } else {
                        ks_buf_puts(out, "; ");
                    }
                    ks_buf_puts(out, ks_remedy_phrase(kind));
                    n++;
                }
            }
            if (n) {
                ks_buf_putc(out, '.');
            }
        }
    }
    order_rows_fini(&given);
    return KS_OK;
}
