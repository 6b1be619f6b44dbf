/*
 * review.c - the reading half of the review module: the draft of every
 * post-incident review from the record, the shallow-review flags, the action
 * items across reviews, the cost of a mistake and the recovery report
 * (docs/REVIEWS.md has every definition). Inputs are the store's rows,
 * loaded once (ks_review_load); outputs are JSON and Markdown documents
 * written in a fixed order, so the same store gives the same bytes.
 */
#include "review.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct rv_item {
    int64_t id, incident, pos;
    char *text, *owner, *kind, *status, *closed_by, *note;
    ks_time due, closed_at;
};

struct rv_inc {
    int64_t id;
    char *detail; /* the stored detail JSON: the timeline and what has no column */
    json_t *j;    /* detail parsed, at its first use only (detail_of) */
    char *type, *severity, *status, *title; /* the store's columns (migration 9) */
    ks_time started, detected, acked, contained, resolved, review_due;
    int64_t repeat_of, reopened_by;
    int not_persisted;
    int64_t orders, customers, units, returned, fb_count, fb_good;
    double revenue;
    /* the review people wrote */
    json_t *doc; /* NULL: none saved */
    char *by;
    ks_time rv_at, rv_first, rc_at;
    struct rv_item *items;
    size_t nitems, capitems;
    double cost[5];
    int cost_set[5];
    char *cost_by[5];
};

struct ks_review_set {
    const struct ks_config *cfg;
    ks_time now;
    struct rv_inc *inc;
    size_t n, cap;
};

static const char *const cost_parts[] = {"direct", "response", "churn", "repeats", "brand"};

static ks_time jtime(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    ks_time t;
    const char *why;
    if (!s || ks_time_parse(s, strlen(s), &t, &why) != 0) {
        return KS_TIME_NONE;
    }
    return t;
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static struct rv_inc *find(const struct ks_review_set *l, int64_t id)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (l->inc[m].id == id) {
            return &l->inc[m];
        }
        if (l->inc[m].id < id) {
            lo = m + 1;
        } else {
            hi = m;
        }
    }
    return NULL;
}

/* The incident's detail, parsed at the first call: most incidents of a
 * listing have no review and only need what the summary says. */
static json_t *detail_of(const struct rv_inc *c)
{
    struct rv_inc *x = (struct rv_inc *)c; /* a cache: the set is one caller's */
    if (!x->j) {
        x->j = json_loads(x->detail ? x->detail : "{}", 0, NULL);
        if (!x->j) {
            x->j = json_object();
        }
    }
    return x->j;
}

static int load_inc(void *ctx, const struct ks_incident_row *r)
{
    struct ks_review_set *l = ctx;
    /* the summary (the incident without its timeline) has the fields below */
    const char *sum = r->summary_json ? r->summary_json : r->detail_json;
    json_t *j = json_loads(sum ? sum : "{}", 0, NULL);
    if (!j) {
        return 0;
    }
    KS_GROW(l->inc, l->cap, l->n + 1);
    struct rv_inc *x = &l->inc[l->n++];
    memset(x, 0, sizeof(*x));
    x->id = r->id;
    x->detail = ks_strdup(r->detail_json ? r->detail_json : "{}");
    /* what the store keeps as columns is read from them, not from the JSON */
    x->type = ks_strdup(r->type ? r->type : "");
    x->severity = ks_strdup(r->severity ? r->severity : "");
    x->status = ks_strdup(r->status ? r->status : "");
    x->title = ks_strdup(r->title ? r->title : "");
    x->started = r->started_at;
    x->detected = r->detected_at;
    x->acked = r->acknowledged_at;
    x->contained = r->contained_at;
    x->resolved = r->resolved_at;
    x->review_due = r->review_due;
    x->repeat_of = r->repeat_of;
    x->orders = r->orders;
    x->customers = r->customers;
    x->units = r->units;
    x->revenue = r->revenue;
    x->reopened_by = json_integer_value(json_object_get(j, "reopened_by"));
    x->not_persisted = json_is_true(json_object_get(j, "correction_did_not_persist"));
    x->returned = json_integer_value(json_object_get(j, "returned_customers"));
    json_t *fb = json_object_get(j, "feedback");
    x->fb_count = json_integer_value(json_object_get(fb, "count"));
    x->fb_good = json_integer_value(json_object_get(fb, "satisfied"));
    x->rv_at = x->rv_first = x->rc_at = KS_TIME_NONE;
    json_decref(j);
    return 0;
}

static int load_review(void *ctx, const struct ks_review_row *r)
{
    struct rv_inc *x = find(ctx, r->incident);
    if (x) {
        x->doc = json_loads(r->doc, 0, NULL);
        x->by = r->by ? ks_strdup(r->by) : NULL;
        x->rv_at = r->at;
        x->rv_first = r->first_at;
        x->rc_at = r->root_cause_at;
    }
    return 0;
}

static int load_item(void *ctx, const struct ks_item_row *r)
{
    struct rv_inc *x = find(ctx, r->incident);
    if (x) {
        KS_GROW(x->items, x->capitems, x->nitems + 1);
        struct rv_item *it = &x->items[x->nitems++];
        it->id = r->id;
        it->incident = r->incident;
        it->pos = r->pos;
        it->text = ks_strdup(r->text);
        it->owner = ks_strdup(r->owner);
        it->kind = ks_strdup(r->kind);
        it->status = ks_strdup(r->status);
        it->closed_by = ks_strdup(r->closed_by);
        it->note = ks_strdup(r->note);
        it->due = r->due;
        it->closed_at = r->closed_at;
    }
    return 0;
}

static int load_cost(void *ctx, const struct ks_cost_row *r)
{
    struct rv_inc *x = find(ctx, r->incident);
    for (size_t k = 0; x && k < 5; k++) {
        if (!strcmp(r->part, cost_parts[k])) {
            x->cost[k] = r->amount;
            x->cost_set[k] = 1;
            ks_free(x->cost_by[k]);
            x->cost_by[k] = ks_strdup(r->by);
        }
    }
    return 0;
}

enum ks_rc ks_review_load(struct ks_store *s, const struct ks_config *cfg, ks_time now,
                          struct ks_review_set **out, struct ks_err *err)
{
    struct ks_review_set *l = ks_calloc(1, sizeof(*l));
    l->cfg = cfg;
    l->now = now;
    enum ks_rc rc = s->ops->list_incidents(s, NULL, load_inc, l, err);
    if (rc == KS_OK) {
        rc = s->ops->list_reviews(s, 0, load_review, l, err);
    }
    if (rc == KS_OK) {
        rc = s->ops->list_items(s, 0, load_item, l, err);
    }
    if (rc == KS_OK) {
        rc = s->ops->list_costs(s, 0, load_cost, l, err);
    }
    if (rc != KS_OK) {
        ks_review_free(l);
        l = NULL;
    }
    *out = l;
    return rc;
}

void ks_review_free(struct ks_review_set *l)
{
    if (!l) {
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        struct rv_inc *x = &l->inc[i];
        json_decref(x->j);
        ks_free(x->detail);
        ks_free(x->type);
        ks_free(x->severity);
        ks_free(x->status);
        ks_free(x->title);
        json_decref(x->doc);
        ks_free(x->by);
        for (size_t k = 0; k < x->nitems; k++) {
            struct rv_item *it = &x->items[k];
            ks_free(it->text);
            ks_free(it->owner);
            ks_free(it->kind);
            ks_free(it->status);
            ks_free(it->closed_by);
            ks_free(it->note);
        }
        ks_free(x->items);
        for (size_t k = 0; k < 5; k++) {
            ks_free(x->cost_by[k]);
        }
    }
    ks_free(l->inc);
    ks_free(l);
}

/* ---- small writers -------------------------------------------------------------- */

/* Numbers people read: rounded to 1/10000, shortest exact form. */
static void num(struct ks_json *j, double v)
{
    if (!isfinite(v)) {
        ks_json_null(j);
        return;
    }
    double r = round(v * 10000.0) / 10000.0;
    r = r == 0 ? 0.0 : r;
    char tmp[64];
    if (r == trunc(r) && fabs(r) < 1e17) {
        snprintf(tmp, sizeof(tmp), "%.0f", r); /* 1000000000000025, not 1.00000000000002e+15 */
    } else {
        for (int prec = 15; prec <= 17; prec++) { /* the shortest that reads back the same */
            snprintf(tmp, sizeof(tmp), "%.*g", prec, r);
            if (strtod(tmp, NULL) == r) {
                break;
            }
        }
    }
    ks_json_raw(j, tmp, strlen(tmp));
}

static void dur(struct ks_json *j, ks_time a, ks_time b)
{
    if (a == KS_TIME_NONE || b == KS_TIME_NONE) {
        ks_json_null(j);
    } else {
        num(j, (double)(b - a) / 1000.0);
    }
}

static void money(struct ks_buf *b, double v)
{
    /* 41750 -> "41,750.00" */
    char tmp[64], out[96];
    snprintf(tmp, sizeof(tmp), "%.2f", v);
    char *dot = strchr(tmp, '.');
    size_t ilen = (size_t)(dot - tmp), o = 0, start = tmp[0] == '-' ? 1 : 0;
    for (size_t i = 0; i < ilen; i++) {
        if (i > start && (ilen - i) % 3 == 0) {
            out[o++] = ',';
        }
        out[o++] = tmp[i];
    }
    out[o] = 0;
    ks_buf_printf(b, "%s%s", out, dot);
}

static void fmt_dur(ks_time d, char out[32])
{
    if (d == KS_TIME_NONE) {
        snprintf(out, 32, "-");
        return;
    }
    if (d < 0) {
        snprintf(out, 32, "-%llds", (long long)(-d / 1000));
        return;
    }
    long long s = (long long)(d / 1000);
    if (s >= 86400) {
        snprintf(out, 32, "%lldd %lldh %lldm", s / 86400, s % 86400 / 3600, s % 3600 / 60);
    } else if (s >= 3600) {
        snprintf(out, 32, "%lldh %lldm", s / 3600, s % 3600 / 60);
    } else if (s >= 60) {
        snprintf(out, 32, "%lldm %llds", s / 60, s % 60);
    } else {
        snprintf(out, 32, "%llds", s);
    }
}

static ks_time diff(ks_time a, ks_time b)
{
    return a == KS_TIME_NONE || b == KS_TIME_NONE ? KS_TIME_NONE : b - a;
}

static int item_open(const struct rv_item *it)
{
    return !strcmp(it->status, "open");
}

static int item_overdue(const struct ks_review_set *l, const struct rv_item *it)
{
    return item_open(it) && it->due != KS_TIME_NONE && l->now != KS_TIME_NONE && l->now > it->due;
}

static int review_overdue(const struct ks_review_set *l, const struct rv_inc *x)
{
    return !x->doc && x->review_due != KS_TIME_NONE && l->now != KS_TIME_NONE &&
           l->now > x->review_due;
}

static json_t *doc_get(const struct rv_inc *x, const char *key)
{
    return x->doc ? json_object_get(x->doc, key) : NULL;
}

static const char *root_field(const struct rv_inc *x, const char *key)
{
    return json_string_value(json_object_get(doc_get(x, "root_cause"), key));
}

/* ---- flags ------------------------------------------------------------------------- */

struct flag {
    const char *flag;
    char reason[400];
};

/* Whether text names `name` as a whole word, case-insensitively. */
static int names(const char *text, const char *name)
{
    size_t n = strlen(name);
    if (!text || n < 2) {
        return 0;
    }
    for (const char *p = text; *p; p++) {
        if (strncasecmp(p, name, n) == 0 && (p == text || !isalnum((unsigned char)p[-1])) &&
            !isalnum((unsigned char)p[n])) {
            return 1;
        }
    }
    return 0;
}

/* The people a cause could name: the configuration's people, the owners of
 * action items, everyone in the incident's timeline and the review's authors. */
static const char *person_named(const struct ks_review_set *l, const struct rv_inc *x,
                                const char *text)
{
    for (size_t i = 0; i < l->cfg->npeople; i++) {
        if (names(text, l->cfg->people[i].name)) {
            return l->cfg->people[i].name;
        }
    }
    for (size_t i = 0; i < x->nitems; i++) {
        if (x->items[i].owner && names(text, x->items[i].owner)) {
            return x->items[i].owner;
        }
    }
    size_t k;
    json_t *t;
    json_array_foreach(json_object_get(detail_of(x), "timeline"), k, t)
    {
        const char *a = jstr(t, "actor");
        if (strcmp(a, "kintsugi") != 0 && names(text, a)) {
            return a;
        }
    }
    if (x->by && names(text, x->by)) {
        return x->by;
    }
    return NULL;
}

static size_t flags_of(const struct ks_review_set *l, const struct rv_inc *x, struct flag *f)
{
    size_t n = 0;
    char due[32];
    if (x->not_persisted) {
        f[n].flag = "correction did not persist";
        snprintf(f[n++].reason, sizeof(f->reason),
                 "repeats incident %lld after every action item of its review was closed",
                 (long long)x->repeat_of);
    }
    if (x->reopened_by) {
        f[n].flag = "correction did not persist";
        snprintf(f[n++].reason, sizeof(f->reason),
                 "incident %lld repeated this one after every action item was closed: the "
                 "prevention question is open again",
                 (long long)x->reopened_by);
    }
    if (!x->doc) {
        if (review_overdue(l, x)) {
            ks_time_fmt(x->review_due, due);
            f[n].flag = "review overdue";
            snprintf(f[n++].reason, sizeof(f->reason),
                     "the review was due by %s and none is written", due);
        }
        return n;
    }
    const char *cause = root_field(x, "text");
    const char *cat = root_field(x, "category");
    if (!cause) {
        f[n].flag = "no root cause";
        snprintf(f[n++].reason, sizeof(f->reason), "root_cause.text is empty");
    }
    json_t *whys = doc_get(x, "whys");
    if (json_array_size(whys) < 3) {
        f[n].flag = "fewer than three whys";
        snprintf(f[n++].reason, sizeof(f->reason),
                 "%zu why%s: ask why until the cause is one the team can change (five whys)",
                 json_array_size(whys), json_array_size(whys) == 1 ? "" : "s");
    }
    if (cat && !strcmp(cat, "environmental")) {
        f[n].flag = "only external causes";
        snprintf(f[n++].reason, sizeof(f->reason),
                 "the root cause is environmental: nothing the team controls is named as a cause");
    }
    const char *who = person_named(l, x, cause);
    size_t k;
    json_t *w;
    json_array_foreach(whys, k, w)
    {
        if (!who) {
            who = person_named(l, x, json_string_value(w));
        }
    }
    if (who) {
        f[n].flag = "cause names a person";
        snprintf(f[n++].reason, sizeof(f->reason),
                 "\"%s\" is named in the cause or a why: name the system or step that let it "
                 "happen (blameless)",
                 who);
    }
    int prevention = 0;
    char missing[200] = "";
    size_t mo = 0;
    for (size_t i = 0; i < x->nitems; i++) {
        const struct rv_item *it = &x->items[i];
        if (!strcmp(it->status, "dropped")) {
            continue;
        }
        prevention |= !strcmp(it->kind, "prevention");
        if ((!it->owner || it->due == KS_TIME_NONE) && mo + 24 < sizeof(missing)) {
            mo += (size_t)snprintf(missing + mo, sizeof(missing) - mo, "%s%lld (%s)",
                                   mo ? ", " : "", (long long)it->id,
                                   !it->owner && it->due == KS_TIME_NONE ? "owner, due"
                                   : !it->owner                          ? "owner"
                                                                         : "due");
        }
    }
    if (!prevention) {
        f[n].flag = "no preventive action item";
        snprintf(f[n++].reason, sizeof(f->reason),
                 "no action item of kind prevention (open or done) stops it coming back");
    }
    if (mo) {
        f[n].flag = "action item without owner or due date";
        snprintf(f[n++].reason, sizeof(f->reason), "item %s", missing);
    }
    return n;
}

static void flags_json(struct ks_json *j, const struct flag *f, size_t n)
{
    ks_json_arr_begin(j);
    for (size_t i = 0; i < n; i++) {
        ks_json_obj_begin(j);
        ks_json_key(j, "flag");
        ks_json_str(j, f[i].flag);
        ks_json_key(j, "reason");
        ks_json_str(j, f[i].reason);
        ks_json_obj_end(j);
    }
    ks_json_arr_end(j);
}

/* ---- the review document ------------------------------------------------------------ */

static void item_json(const struct ks_review_set *l, struct ks_json *j, const struct rv_item *it)
{
    ks_json_obj_begin(j);
    ks_json_key(j, "id");
    ks_json_int(j, it->id);
    ks_json_key(j, "incident");
    ks_json_int(j, it->incident);
    ks_json_key(j, "text");
    ks_json_str(j, it->text);
    ks_json_key(j, "owner");
    ks_json_str(j, it->owner);
    ks_json_key(j, "due");
    ks_json_time(j, it->due);
    ks_json_key(j, "kind");
    ks_json_str(j, it->kind);
    ks_json_key(j, "status");
    ks_json_str(j, it->status);
    ks_json_key(j, "closed_by");
    ks_json_str(j, it->closed_by);
    ks_json_key(j, "closed_at");
    ks_json_time(j, it->closed_at);
    ks_json_key(j, "note");
    ks_json_str(j, it->note);
    ks_json_key(j, "overdue");
    ks_json_bool(j, item_overdue(l, it));
    ks_json_obj_end(j);
}

static void raw_json(struct ks_json *j, json_t *v)
{
    if (!v) {
        ks_json_null(j);
        return;
    }
    /* 15 significant digits, as ks_json_num writes them: a revenue of 671.7
     * stays 671.7 (jansson's default 17 wrote 671.70000000000005) */
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY |
                                JSON_REAL_PRECISION(15));
    ks_json_raw(j, s, strlen(s));
    free(s);
}

static void str_array(struct ks_json *j, json_t *a)
{
    if (json_is_array(a)) {
        raw_json(j, a);
    } else {
        ks_json_arr_begin(j);
        ks_json_arr_end(j);
    }
}

enum ks_rc ks_review_show_json(const struct ks_review_set *l, int64_t id, struct ks_buf *out,
                               struct ks_err *err)
{
    const struct rv_inc *x = find(l, id);
    if (!x) {
        return ks_err_set(err, KS_ENOTFOUND, "no incident %lld", (long long)id);
    }
    struct ks_json j;
    ks_json_init(&j, out, 0);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "incident");
    ks_json_int(&j, x->id);
    static const char *const copy[] = {"title", "type", "severity", "status", "fingerprint"};
    for (size_t i = 0; i < 5; i++) {
        ks_json_key(&j, copy[i]);
        raw_json(&j, json_object_get(detail_of(x), copy[i]));
    }
    ks_json_key(&j, "timeline");
    ks_json_obj_begin(&j);
    static const char *const times[] = {"started_at", "detected_at", "acknowledged_at",
                                        "contained_at", "resolved_at"};
    for (size_t i = 0; i < 5; i++) {
        ks_json_key(&j, times[i]);
        raw_json(&j, json_object_get(detail_of(x), times[i]));
    }
    ks_json_key(&j, "detection_gap");
    dur(&j, x->started, x->detected);
    ks_json_key(&j, "time_to_acknowledge");
    dur(&j, x->detected, x->acked);
    ks_json_key(&j, "time_to_contain");
    dur(&j, x->detected, x->contained);
    ks_json_key(&j, "time_to_resolve");
    dur(&j, x->detected, x->resolved);
    ks_json_key(&j, "entries");
    str_array(&j, json_object_get(detail_of(x), "timeline"));
    ks_json_obj_end(&j);

    json_t *imp = json_object_get(detail_of(x), "impact"), *scope = json_object_get(detail_of(x), "scope");
    ks_json_key(&j, "impact");
    ks_json_obj_begin(&j);
    ks_json_key(&j, "orders");
    ks_json_int(&j, x->orders);
    ks_json_key(&j, "revenue");
    raw_json(&j, json_object_get(imp, "revenue"));
    ks_json_key(&j, "customers");
    ks_json_int(&j, x->customers);
    ks_json_key(&j, "units");
    ks_json_int(&j, x->units);
    ks_json_key(&j, "channels");
    str_array(&j, json_object_get(scope, "channels"));
    ks_json_key(&j, "duration");
    dur(&j, x->started, x->resolved);
    ks_json_obj_end(&j);

    for (int people = 0; people < 2; people++) {
        ks_json_key(&j, people ? "people" : "automated");
        ks_json_arr_begin(&j);
        size_t k;
        json_t *t;
        json_array_foreach(json_object_get(detail_of(x), "timeline"), k, t)
        {
            const char *actor = jstr(t, "actor"), *kind = jstr(t, "kind");
            int mine = people ? strcmp(actor, "kintsugi") != 0
                              : !strcmp(actor, "kintsugi") && !strcmp(kind, "action");
            if (mine) {
                ks_json_obj_begin(&j);
                ks_json_key(&j, "at");
                ks_json_str(&j, jstr(t, "at"));
                ks_json_key(&j, "actor");
                ks_json_str(&j, actor);
                ks_json_key(&j, "text");
                ks_json_str(&j, jstr(t, "text"));
                ks_json_obj_end(&j);
            }
        }
        ks_json_arr_end(&j);
    }
    ks_json_key(&j, "signals");
    str_array(&j, json_object_get(detail_of(x), "signals"));
    ks_json_key(&j, "lineage");
    ks_json_obj_begin(&j);
    static const char *const lin[] = {"sources", "channels", "systems", "locations",
                                      "purchase_orders"};
    for (size_t i = 0; i < 5; i++) {
        ks_json_key(&j, lin[i]);
        str_array(&j, json_object_get(scope, lin[i]));
    }
    ks_json_obj_end(&j);

    ks_json_key(&j, "root_cause");
    ks_json_obj_begin(&j);
    ks_json_key(&j, "category");
    ks_json_str(&j, root_field(x, "category"));
    ks_json_key(&j, "text");
    ks_json_str(&j, root_field(x, "text"));
    ks_json_key(&j, "known_risk");
    json_t *kr = json_object_get(doc_get(x, "root_cause"), "known_risk");
    if (json_is_boolean(kr)) {
        ks_json_bool(&j, json_is_true(kr));
    } else {
        ks_json_null(&j);
    }
    ks_json_obj_end(&j);
    static const char *const lists[] = {"whys", "went_well", "improve"};
    for (size_t i = 0; i < 3; i++) {
        ks_json_key(&j, lists[i]);
        str_array(&j, doc_get(x, lists[i]));
    }
    ks_json_key(&j, "notes");
    ks_json_str(&j, json_string_value(doc_get(x, "notes")));
    ks_json_key(&j, "action_items");
    ks_json_arr_begin(&j);
    for (size_t i = 0; i < x->nitems; i++) {
        item_json(l, &j, &x->items[i]);
    }
    ks_json_arr_end(&j);
    ks_json_key(&j, "review");
    ks_json_obj_begin(&j);
    ks_json_key(&j, "written");
    ks_json_bool(&j, x->doc != NULL);
    ks_json_key(&j, "by");
    ks_json_str(&j, x->by);
    ks_json_key(&j, "first_at");
    ks_json_time(&j, x->rv_first);
    ks_json_key(&j, "updated_at");
    ks_json_time(&j, x->rv_at);
    ks_json_key(&j, "root_cause_at");
    ks_json_time(&j, x->rc_at);
    ks_json_key(&j, "due");
    ks_json_time(&j, x->review_due);
    ks_json_key(&j, "overdue");
    ks_json_bool(&j, review_overdue(l, x));
    ks_json_obj_end(&j);
    ks_json_key(&j, "repeat_of");
    if (x->repeat_of) {
        ks_json_int(&j, x->repeat_of);
    } else {
        ks_json_null(&j);
    }
    ks_json_key(&j, "repeats");
    ks_json_arr_begin(&j);
    for (size_t i = 0; i < l->n; i++) {
        if (l->inc[i].repeat_of == x->id) {
            ks_json_int(&j, l->inc[i].id);
        }
    }
    ks_json_arr_end(&j);
    ks_json_key(&j, "correction_did_not_persist");
    ks_json_bool(&j, x->not_persisted || x->reopened_by);
    ks_json_key(&j, "reopened_by");
    if (x->reopened_by) {
        ks_json_int(&j, x->reopened_by);
    } else {
        ks_json_null(&j);
    }
    struct flag f[10];
    size_t nf = flags_of(l, x, f);
    ks_json_key(&j, "flags");
    flags_json(&j, f, nf);
    ks_json_obj_end(&j);
    return KS_OK;
}

static void md_list(struct ks_buf *b, json_t *a, int numbered)
{
    size_t k;
    json_t *v;
    if (!json_array_size(a)) {
        ks_buf_puts(b, "_(not written yet)_\n");
        return;
    }
    json_array_foreach(a, k, v)
    {
        if (numbered) {
            ks_buf_printf(b, "%zu. %s\n", k + 1, json_string_value(v));
        } else {
            ks_buf_printf(b, "- %s\n", json_string_value(v));
        }
    }
}

enum ks_rc ks_review_show_markdown(const struct ks_review_set *l, int64_t id, struct ks_buf *b,
                                   struct ks_err *err)
{
    const struct rv_inc *x = find(l, id);
    if (!x) {
        return ks_err_set(err, KS_ENOTFOUND, "no incident %lld", (long long)id);
    }
    char d1[32];
    ks_buf_printf(b, "# Post-incident review: incident %lld\n\n**%s** (%s, %s, %s)\n\n",
                  (long long)x->id, x->title, x->type, x->severity, x->status);
    ks_buf_puts(b, "## Timeline\n\n| | |\n|---|---|\n");
    static const char *const times[] = {"started_at", "detected_at", "acknowledged_at",
                                        "contained_at", "resolved_at"};
    for (size_t i = 0; i < 5; i++) {
        const char *s = json_string_value(json_object_get(detail_of(x), times[i]));
        ks_buf_printf(b, "| %s | %s |\n", times[i], s ? s : "-");
    }
    fmt_dur(diff(x->started, x->detected), d1);
    ks_buf_printf(b, "| detection gap | %s |\n", d1);
    fmt_dur(diff(x->detected, x->contained), d1);
    ks_buf_printf(b, "| time to contain | %s |\n", d1);
    fmt_dur(diff(x->detected, x->resolved), d1);
    ks_buf_printf(b, "| time to resolve | %s |\n\n", d1);
    size_t k;
    json_t *t;
    json_array_foreach(json_object_get(detail_of(x), "timeline"), k, t)
    {
        ks_buf_printf(b, "- %s %s (%s): %s\n", jstr(t, "at"), jstr(t, "kind"), jstr(t, "actor"),
                      jstr(t, "text"));
    }
    fmt_dur(diff(x->started, x->resolved), d1);
    ks_buf_printf(b, "\n## Impact\n\n%lld orders, %lld customers, %lld units, revenue ",
                  (long long)x->orders, (long long)x->customers, (long long)x->units);
    money(b, x->revenue);
    ks_buf_printf(b, " %s; duration %s; channels:", l->cfg->currency, d1);
    json_t *ch;
    json_array_foreach(json_object_get(json_object_get(detail_of(x), "scope"), "channels"), k, ch)
    {
        ks_buf_printf(b, " %s", json_string_value(ch));
    }
    ks_buf_puts(b, "\n\n## Signals\n\n");
    json_array_foreach(json_object_get(detail_of(x), "signals"), k, t)
    {
        ks_buf_printf(b, "- %s %s: %s\n", jstr(t, "at"), jstr(t, "detector"), jstr(t, "text"));
    }
    const char *cause = root_field(x, "text"), *cat = root_field(x, "category");
    ks_buf_printf(b, "\n## Root cause\n\n%s%s%s%s\n\n### Five whys\n\n", cat ? "**" : "",
                  cat ? cat : "", cat ? "**: " : "", cause ? cause : "_(not written yet)_");
    md_list(b, doc_get(x, "whys"), 1);
    ks_buf_puts(b, "\n## What went well\n\n");
    md_list(b, doc_get(x, "went_well"), 0);
    ks_buf_puts(b, "\n## What could improve\n\n");
    md_list(b, doc_get(x, "improve"), 0);
    ks_buf_puts(b, "\n## Action items\n\n");
    if (!x->nitems) {
        ks_buf_puts(b, "_(none yet)_\n");
    } else {
        ks_buf_puts(b, "| id | kind | text | owner | due | status |\n|---|---|---|---|---|---|\n");
    }
    for (size_t i = 0; i < x->nitems; i++) {
        const struct rv_item *it = &x->items[i];
        ks_time_fmt(it->due, d1);
        ks_buf_printf(b, "| %lld | %s | %s | %s | %s | %s%s |\n", (long long)it->id, it->kind,
                      it->text, it->owner ? it->owner : "-", it->due == KS_TIME_NONE ? "-" : d1,
                      it->status, item_overdue(l, it) ? " (overdue)" : "");
    }
    struct flag f[10];
    size_t nf = flags_of(l, x, f);
    ks_buf_puts(b, "\n## Flags\n\n");
    if (!nf) {
        ks_buf_puts(b, "none\n");
    }
    for (size_t i = 0; i < nf; i++) {
        ks_buf_printf(b, "- **%s**: %s\n", f[i].flag, f[i].reason);
    }
    const char *notes = json_string_value(doc_get(x, "notes"));
    if (notes) {
        ks_buf_printf(b, "\n## Notes\n\n%s\n", notes);
    }
    return KS_OK;
}

static void yaml_str(struct ks_buf *b, const char *s)
{
    if (!s) {
        ks_buf_puts(b, "null");
    } else {
        ks_json_escape(b, s, strlen(s));
    }
}

enum ks_rc ks_review_template(const struct ks_review_set *l, int64_t id, struct ks_buf *b,
                              struct ks_err *err)
{
    const struct rv_inc *x = find(l, id);
    if (!x) {
        return ks_err_set(err, KS_ENOTFOUND, "no incident %lld", (long long)id);
    }
    char d1[32];
    ks_buf_printf(b, "---\n# Post-incident review of incident %lld: %s\n", (long long)x->id,
                  x->title);
    ks_buf_puts(b, "# Blameless: name systems and steps, not people. category: process, system,\n"
                   "# human or environmental. Ask why five times. Action items: kind immediate\n"
                   "# (48 h), systematic (2 weeks) or prevention (1 month), each with an owner\n"
                   "# and a due date (2026-12-01). The text after the closing --- is kept as notes.\n");
    ks_buf_puts(b, "root_cause:\n  category: ");
    yaml_str(b, root_field(x, "category"));
    ks_buf_puts(b, "\n  text: ");
    yaml_str(b, root_field(x, "text"));
    json_t *kr = json_object_get(doc_get(x, "root_cause"), "known_risk");
    ks_buf_printf(b, "\n  known_risk: %s\n",
                  json_is_boolean(kr) ? (json_is_true(kr) ? "true" : "false") : "null");
    static const char *const lists[] = {"whys", "went_well", "improve"};
    for (size_t i = 0; i < 3; i++) {
        json_t *a = doc_get(x, lists[i]);
        ks_buf_printf(b, "%s:%s\n", lists[i], json_array_size(a) ? "" : " []");
        size_t k;
        json_t *v;
        json_array_foreach(a, k, v)
        {
            ks_buf_puts(b, "  - ");
            yaml_str(b, json_string_value(v));
            ks_buf_putc(b, '\n');
        }
    }
    ks_buf_printf(b, "action_items:%s\n", x->nitems ? "" : " []");
    for (size_t i = 0; i < x->nitems; i++) {
        const struct rv_item *it = &x->items[i];
        ks_buf_puts(b, "  - text: ");
        yaml_str(b, it->text);
        ks_buf_puts(b, "\n    owner: ");
        yaml_str(b, it->owner);
        ks_time_fmt(it->due, d1);
        ks_buf_printf(b, "\n    due: %s\n    kind: %s\n    status: %s\n",
                      it->due == KS_TIME_NONE ? "null" : d1, it->kind, it->status);
    }
    ks_buf_puts(b, "---\n");
    const char *notes = json_string_value(doc_get(x, "notes"));
    if (notes) {
        ks_buf_printf(b, "%s\n", notes);
    }
    return KS_OK;
}

void ks_review_flags_json(const struct ks_review_set *l, struct ks_buf *out)
{
    struct ks_json j;
    ks_json_init(&j, out, 0);
    ks_json_arr_begin(&j);
    for (size_t i = 0; i < l->n; i++) {
        struct flag f[10];
        size_t nf = flags_of(l, &l->inc[i], f);
        if (!nf) {
            continue;
        }
        ks_json_obj_begin(&j);
        ks_json_key(&j, "incident");
        ks_json_int(&j, l->inc[i].id);
        ks_json_key(&j, "title");
        ks_json_str(&j, l->inc[i].title);
        ks_json_key(&j, "flags");
        flags_json(&j, f, nf);
        ks_json_obj_end(&j);
    }
    ks_json_arr_end(&j);
}

void ks_review_items_json(const struct ks_review_set *l, int only_open, const char *owner,
                          int only_overdue, struct ks_buf *out)
{
    struct ks_json j;
    ks_json_init(&j, out, 0);
    ks_json_arr_begin(&j);
    for (size_t i = 0; i < l->n; i++) {
        for (size_t k = 0; k < l->inc[i].nitems; k++) {
            const struct rv_item *it = &l->inc[i].items[k];
            if ((only_open && !item_open(it)) || (only_overdue && !item_overdue(l, it)) ||
                (owner && (!it->owner || strcmp(owner, it->owner) != 0))) {
                continue;
            }
            item_json(l, &j, it);
        }
    }
    ks_json_arr_end(&j);
}

/* ---- the cost of a mistake ---------------------------------------------------------- */

struct cost {
    double part[5];
    int entered[5];
    char how[5][200];
    double total, multiplier; /* multiplier NAN without a direct cost */
};

static double direct_of(const struct ks_review_set *l, const struct rv_inc *x, char *how,
                        size_t cap)
{
    if (x->cost_set[0]) {
        if (how) {
            snprintf(how, cap, "entered by %s", x->cost_by[0] ? x->cost_by[0] : "?");
        }
        return x->cost[0];
    }
    const struct ks_config *c = l->cfg;
    double v = x->revenue + (double)x->orders * c->cost_per_order +
               (double)x->units * c->cost_per_unit;
    if (how) {
        snprintf(how, cap,
                 "revenue %.2f + %lld orders x %.2f (cost.per_order) + %lld units x %.2f "
                 "(cost.per_unit)",
                 x->revenue, (long long)x->orders, c->cost_per_order, (long long)x->units,
                 c->cost_per_unit);
    }
    return v;
}

static double rate_of(const struct ks_config *c, const char *person)
{
    for (size_t i = 0; i < c->npeople; i++) {
        if (!strcmp(c->people[i].name, person)) {
            for (size_t r = 0; r < c->nroles; r++) {
                if (c->people[i].role && !strcmp(c->roles[r].name, c->people[i].role) &&
                    c->roles[r].hourly_rate > 0) {
                    return c->roles[r].hourly_rate;
                }
            }
        }
    }
    return c->cost_hourly_rate;
}

static void cost_of(const struct ks_review_set *l, const struct rv_inc *x, struct cost *o)
{
    const struct ks_config *c = l->cfg;
    memset(o, 0, sizeof(*o));
    o->part[0] = direct_of(l, x, o->how[0], sizeof(o->how[0]));
    /* response: each person's first to last timeline entry, at least
     * cost.min_person_time, at their role's rate */
    {
        const char *who[64];
        ks_time first[64], last[64];
        size_t np = 0, k;
        json_t *t;
        json_array_foreach(json_object_get(detail_of(x), "timeline"), k, t)
        {
            const char *a = jstr(t, "actor");
            ks_time at = jtime(t, "at");
            if (!strcmp(a, "kintsugi") || at == KS_TIME_NONE) {
                continue;
            }
            size_t p = 0;
            while (p < np && strcmp(who[p], a) != 0) {
                p++;
            }
            if (p == np && np < 64) {
                who[np] = a;
                first[np] = last[np] = at;
                np++;
            } else if (p < np) {
                first[p] = at < first[p] ? at : first[p];
                last[p] = at > last[p] ? at : last[p];
            }
        }
        double sum = 0, hours = 0;
        for (size_t p = 0; p < np; p++) {
            ks_time span = last[p] - first[p];
            if (span < c->cost_min_person) {
                span = c->cost_min_person;
            }
            double h = (double)span / (double)KS_HOUR;
            hours += h;
            sum += h * rate_of(c, who[p]);
        }
        o->part[1] = sum;
        snprintf(o->how[1], sizeof(o->how[1]),
                 "%zu people, %.2f hours (first to last timeline entry each, at least "
                 "cost.min_person_time) at their role's hourly_rate",
                 np, hours);
    }
    {
        ks_time end = x->resolved == KS_TIME_NONE ? KS_TIME_NONE : x->resolved + c->retention_window;
        if (end != KS_TIME_NONE && l->now != KS_TIME_NONE && l->now > end) {
            o->part[2] = (double)(x->customers - x->returned) * c->cost_lifetime_value;
            snprintf(o->how[2], sizeof(o->how[2]),
                     "measured: %lld of %lld affected customers did not order again within "
                     "review.retention_window, x %.2f (cost.lifetime_value)",
                     (long long)(x->customers - x->returned), (long long)x->customers,
                     c->cost_lifetime_value);
        } else {
            o->part[2] = (double)x->customers * c->cost_churn_pct / 100.0 * c->cost_lifetime_value;
            snprintf(o->how[2], sizeof(o->how[2]),
                     "estimated until the retention window has passed: %lld affected customers "
                     "x %g %% (cost.churn_rate) x %.2f (cost.lifetime_value)",
                     (long long)x->customers, c->cost_churn_pct, c->cost_lifetime_value);
        }
    }
    {
        double sum = 0;
        size_t nrep = 0;
        for (size_t i = 0; i < l->n; i++) {
            if (l->inc[i].repeat_of == x->id) {
                sum += direct_of(l, &l->inc[i], NULL, 0);
                nrep++;
            }
        }
        o->part[3] = sum;
        snprintf(o->how[3], sizeof(o->how[3]), "the direct cost of %zu linked repeat%s", nrep,
                 nrep == 1 ? "" : "s");
    }
    o->part[4] = 0;
    snprintf(o->how[4], sizeof(o->how[4]), "none entered (kintsugi cost set ID brand AMOUNT)");
    for (size_t k = 1; k < 5; k++) {
        if (x->cost_set[k]) {
            o->part[k] = x->cost[k];
            snprintf(o->how[k], sizeof(o->how[k]), "entered by %s",
                     x->cost_by[k] ? x->cost_by[k] : "?");
        }
    }
    for (size_t k = 0; k < 5; k++) {
        o->entered[k] = x->cost_set[k];
        o->total += o->part[k];
    }
    o->multiplier = o->part[0] > 0 ? o->total / o->part[0] : NAN;
}

enum ks_rc ks_review_cost_json(const struct ks_review_set *l, int64_t id, struct ks_buf *out,
                               struct ks_err *err)
{
    const struct rv_inc *x = find(l, id);
    if (!x) {
        return ks_err_set(err, KS_ENOTFOUND, "no incident %lld", (long long)id);
    }
    struct cost c;
    cost_of(l, x, &c);
    struct ks_json j;
    ks_json_init(&j, out, 0);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "incident");
    ks_json_int(&j, id);
    ks_json_key(&j, "currency");
    ks_json_str(&j, l->cfg->currency);
    for (size_t k = 0; k < 5; k++) {
        ks_json_key(&j, cost_parts[k]);
        num(&j, c.part[k]);
    }
    ks_json_key(&j, "total");
    num(&j, c.total);
    ks_json_key(&j, "multiplier");
    num(&j, c.multiplier);
    ks_json_key(&j, "how");
    ks_json_obj_begin(&j);
    for (size_t k = 0; k < 5; k++) {
        ks_json_key(&j, cost_parts[k]);
        ks_json_str(&j, c.how[k]);
    }
    ks_json_key(&j, "total");
    ks_json_str(&j, "direct + response + churn + repeats + brand");
    ks_json_key(&j, "multiplier");
    ks_json_str(&j, "total / direct (null without a direct cost)");
    ks_json_obj_end(&j);
    ks_json_obj_end(&j);
    return KS_OK;
}

/* ---- the recovery report ---------------------------------------------------------------- */

enum { M_INITIAL, M_COMMS, M_ROOT, M_FIX, M_GAP, M_CONTAIN, M_RESOLVE, M_SLA, M_REPEAT,
       M_ITEMS, M_SAT, M_RET, M_COST, M__COUNT };

static const struct {
    const char *key, *unit;
    double target; /* NAN: none */
    int op;        /* '<', '>', 'g' (>=) */
} metric_defs[M__COUNT] = {
    {"initial_response", "seconds", 7200, '<'},
    {"customer_communication", "seconds", 14400, '<'},
    {"root_cause", "seconds", 86400, '<'},
    {"process_fix", "seconds", 172800, '<'},
    {"detection_gap", "seconds", NAN, 0},
    {"contain", "seconds", NAN, 0},
    {"resolve", "seconds", NAN, 0},
    {"sla_attainment", "ratio", 1.0, 'g'},
    {"repeat_rate", "ratio", 0.05, '<'},
    {"action_item_completion", "ratio", 1.0, 'g'},
    {"satisfaction", "ratio", 0.8, '>'},
    {"retention", "ratio", 0.9, '>'},
    {"cost_multiplier", "times", 1.5, '<'},
};

struct metric {
    double *v; /* durations, for the median */
    size_t nv, capv;
    double num, den; /* ratios */
    int64_t count;
    int64_t *missing;
    size_t nmissing, capmissing;
};

static void m_val(struct metric *m, double v)
{
    KS_GROW(m->v, m->capv, m->nv + 1);
    m->v[m->nv++] = v;
    m->count++;
}

static void m_miss(struct metric *m, int64_t id)
{
    KS_GROW(m->missing, m->capmissing, m->nmissing + 1);
    m->missing[m->nmissing++] = id;
}

static void m_dur(struct metric *m, const struct rv_inc *x, ks_time a, ks_time b)
{
    if (a == KS_TIME_NONE || b == KS_TIME_NONE) {
        m_miss(m, x->id);
    } else {
        m_val(m, (double)(b - a) / 1000.0);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The first timeline entry that records a message to customers: a
 * notification or note whose text starts with "customer" (any case), but
 * not the trigger's entry saying that no receiver was there to send it
 * ("...; nothing sent", src/comms/trigger.c). */
static ks_time first_customer_message(const struct rv_inc *x)
{
    static const char unsent[] = "; nothing sent";
    size_t k;
    json_t *t;
    json_array_foreach(json_object_get(detail_of(x), "timeline"), k, t)
    {
        const char *kind = jstr(t, "kind"), *text = jstr(t, "text");
        size_t len = strlen(text);
        int nothing_sent = len >= sizeof(unsent) - 1 &&
                           !strcmp(text + len - (sizeof(unsent) - 1), unsent);
        if ((!strcmp(kind, "notification") || !strcmp(kind, "note")) &&
            !strncasecmp(text, "customer", 8) && !nothing_sent) {
            return jtime(t, "at");
        }
    }
    return KS_TIME_NONE;
}

static int sla_met(const struct rv_inc *x)
{
    size_t k;
    json_t *t;
    json_array_foreach(json_object_get(detail_of(x), "timeline"), k, t)
    {
        const char *text = jstr(t, "text");
        if (!strcmp(jstr(t, "kind"), "sla") && (!strncmp(text, "Acknowledgement SLA", 19) ||
                                                !strncmp(text, "Resolution SLA", 14))) {
            return 0;
        }
    }
    return 1;
}

static void measure(const struct ks_review_set *l, const struct rv_inc *x, struct metric *m)
{
    m_dur(&m[M_INITIAL], x, x->detected, x->acked);
    m_dur(&m[M_COMMS], x, x->detected, first_customer_message(x));
    m_dur(&m[M_ROOT], x, x->detected, x->rc_at);
    ks_time fix = KS_TIME_NONE;
    for (size_t i = 0; i < x->nitems; i++) {
        const struct rv_item *it = &x->items[i];
        if (!strcmp(it->status, "done") && it->closed_at != KS_TIME_NONE &&
            (fix == KS_TIME_NONE || it->closed_at < fix)) {
            fix = it->closed_at;
        }
    }
    m_dur(&m[M_FIX], x, x->detected, fix);
    m_dur(&m[M_GAP], x, x->started, x->detected);
    m_dur(&m[M_CONTAIN], x, x->detected, x->contained);
    m_dur(&m[M_RESOLVE], x, x->detected, x->resolved);
    m[M_SLA].count++;
    m[M_SLA].den++;
    m[M_SLA].num += sla_met(x);
    m[M_REPEAT].count++;
    m[M_REPEAT].den++;
    m[M_REPEAT].num += x->repeat_of != 0;
    for (size_t i = 0; i < x->nitems; i++) {
        if (strcmp(x->items[i].status, "dropped") != 0) {
            m[M_ITEMS].count++;
            m[M_ITEMS].den++;
            m[M_ITEMS].num += !strcmp(x->items[i].status, "done");
        }
    }
    if (x->fb_count) {
        m[M_SAT].count += x->fb_count;
        m[M_SAT].den += (double)x->fb_count;
        m[M_SAT].num += (double)x->fb_good;
    } else if (x->customers) {
        m_miss(&m[M_SAT], x->id);
    }
    if (x->customers) {
        ks_time end =
            x->resolved == KS_TIME_NONE ? KS_TIME_NONE : x->resolved + l->cfg->retention_window;
        if (end != KS_TIME_NONE && l->now != KS_TIME_NONE && l->now > end) {
            m[M_RET].count += x->customers;
            m[M_RET].den += (double)x->customers;
            m[M_RET].num += (double)x->returned;
        } else {
            m_miss(&m[M_RET], x->id);
        }
    }
    struct cost c;
    cost_of(l, x, &c);
    if (c.part[0] > 0) {
        m[M_COST].count++;
        m[M_COST].den += c.part[0];
        m[M_COST].num += c.total;
    } else {
        m_miss(&m[M_COST], x->id);
    }
}

static double m_value(struct metric *m, size_t k)
{
    if (k <= M_RESOLVE) {
        if (!m->nv) {
            return NAN;
        }
        qsort(m->v, m->nv, sizeof(double), cmp_double);
        return m->nv % 2 ? m->v[m->nv / 2] : (m->v[m->nv / 2 - 1] + m->v[m->nv / 2]) / 2.0;
    }
    return m->den > 0 ? m->num / m->den : NAN;
}

static void metric_json(struct ks_json *j, struct metric *m, size_t k)
{
    double v = m_value(m, k);
    ks_json_obj_begin(j);
    ks_json_key(j, "value");
    num(j, v);
    ks_json_key(j, "unit");
    ks_json_str(j, metric_defs[k].unit);
    ks_json_key(j, "target");
    num(j, metric_defs[k].target);
    ks_json_key(j, "met");
    if (isnan(v) || isnan(metric_defs[k].target)) {
        ks_json_null(j);
    } else {
        double t = metric_defs[k].target;
        int op = metric_defs[k].op;
        ks_json_bool(j, op == '<' ? v < t : op == '>' ? v > t : v >= t);
    }
    ks_json_key(j, "count");
    ks_json_int(j, m->count);
    ks_json_key(j, "missing");
    ks_json_arr_begin(j);
    for (size_t i = 0; i < m->nmissing; i++) {
        ks_json_int(j, m->missing[i]);
    }
    ks_json_arr_end(j);
    ks_json_obj_end(j);
}

static void metrics_fini(struct metric *m)
{
    for (size_t k = 0; k < M__COUNT; k++) {
        ks_free(m[k].v);
        ks_free(m[k].missing);
    }
    memset(m, 0, sizeof(struct metric) * M__COUNT);
}

static int in_period(const struct rv_inc *x, const struct ks_report_opts *o)
{
    return x->detected != KS_TIME_NONE &&
           (o->since == KS_TIME_NONE || x->detected >= o->since) &&
           (o->until == KS_TIME_NONE || x->detected < o->until);
}

/* "2026-W47": the ISO week of t. */
static void iso_week(ks_time t, char out[64])
{
    int64_t day = t >= 0 ? t / KS_DAY : -((-t + KS_DAY - 1) / KS_DAY);
    int64_t wd = ((day + 3) % 7 + 7) % 7; /* Monday 0; 1970-01-01 was a Thursday */
    int64_t thu = day - wd + 3, y;
    unsigned m, d;
    ks_civil_from_days(thu, &y, &m, &d);
    int64_t jan1 = ks_days_from_civil(y, 1, 1);
    snprintf(out, 64, "%04lld-W%02lld", (long long)y, (long long)((thu - jan1) / 7 + 1));
}

/* The group keys of x under `by` (a multi-channel incident is in each channel's). */
static size_t keys_of(const struct rv_inc *x, const char *by, char keys[][64], size_t cap)
{
    if (!strcmp(by, "type")) {
        snprintf(keys[0], 64, "%s", x->type);
        return 1;
    }
    if (!strcmp(by, "severity")) {
        snprintf(keys[0], 64, "%s", x->severity);
        return 1;
    }
    if (!strcmp(by, "week")) {
        iso_week(x->detected, keys[0]);
        return 1;
    }
    size_t n = 0, k;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(detail_of(x), "scope"), "channels"), k, c)
    {
        if (n < cap) {
            snprintf(keys[n++], 64, "%s", json_string_value(c));
        }
    }
    if (!n) {
        snprintf(keys[n++], 64, "(no channel)");
    }
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void metrics_obj(struct ks_json *j, const struct ks_review_set *l,
                        const struct ks_report_opts *o, const char *by, const char *key,
                        int64_t *nincidents)
{
    struct metric m[M__COUNT];
    memset(m, 0, sizeof(m));
    int64_t n = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct rv_inc *x = &l->inc[i];
        if (!in_period(x, o)) {
            continue;
        }
        if (by) {
            char keys[16][64];
            size_t nk = keys_of(x, by, keys, 16), hit = 0;
            for (size_t k = 0; k < nk; k++) {
                hit |= !strcmp(keys[k], key);
            }
            if (!hit) {
                continue;
            }
        }
        n++;
        measure(l, x, m);
    }
    *nincidents = n;
    ks_json_obj_begin(j);
    for (size_t k = 0; k < M__COUNT; k++) {
        ks_json_key(j, metric_defs[k].key);
        metric_json(j, &m[k], k);
    }
    ks_json_obj_end(j);
    metrics_fini(m);
}

enum ks_rc ks_review_report_json(const struct ks_review_set *l, const struct ks_report_opts *o,
                                 struct ks_buf *out, struct ks_err *err)
{
    if (o->by && strcmp(o->by, "type") && strcmp(o->by, "severity") && strcmp(o->by, "channel") &&
        strcmp(o->by, "week")) {
        return ks_err_set(err, KS_EUSAGE, "unknown --by '%s' (use type, severity, channel or week)",
                          o->by);
    }
    struct ks_json j;
    ks_json_init(&j, out, 0);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "since");
    ks_json_time(&j, o->since);
    ks_json_key(&j, "until");
    ks_json_time(&j, o->until);
    ks_json_key(&j, "now");
    ks_json_time(&j, l->now);
    ks_json_key(&j, "by");
    ks_json_str(&j, o->by);
    /* the number of incidents is only known after the metrics: write them to a side buffer */
    struct ks_buf mb = {0};
    struct ks_json mj;
    ks_json_init(&mj, &mb, 0);
    int64_t n = 0;
    metrics_obj(&mj, l, o, NULL, NULL, &n);
    ks_json_key(&j, "incidents");
    ks_json_int(&j, n);
    ks_json_key(&j, "metrics");
    ks_json_raw(&j, mb.p, mb.len);
    ks_json_key(&j, "sla_by_severity");
    ks_json_obj_begin(&j);
    static const char *const sev[] = {"P1", "P2", "P3"};
    for (size_t s = 0; s < 3; s++) {
        struct metric m[M__COUNT];
        memset(m, 0, sizeof(m));
        for (size_t i = 0; i < l->n; i++) {
            if (in_period(&l->inc[i], o) && !strcmp(l->inc[i].severity, sev[s])) {
                m[M_SLA].count++;
                m[M_SLA].den++;
                m[M_SLA].num += sla_met(&l->inc[i]);
            }
        }
        ks_json_key(&j, sev[s]);
        metric_json(&j, &m[M_SLA], M_SLA);
        metrics_fini(m);
    }
    ks_json_obj_end(&j);
    ks_json_key(&j, "groups");
    ks_json_arr_begin(&j);
    if (o->by) {
        char **keys = NULL;
        size_t nkeys = 0, capkeys = 0;
        for (size_t i = 0; i < l->n; i++) {
            if (!in_period(&l->inc[i], o)) {
                continue;
            }
            char ks[16][64];
            size_t nk = keys_of(&l->inc[i], o->by, ks, 16);
            for (size_t k = 0; k < nk; k++) {
                size_t q = 0;
                while (q < nkeys && strcmp(keys[q], ks[k]) != 0) {
                    q++;
                }
                if (q == nkeys) {
                    KS_GROW(keys, capkeys, nkeys + 1);
                    keys[nkeys++] = ks_strdup(ks[k]);
                }
            }
        }
        if (nkeys) {
            qsort(keys, nkeys, sizeof(char *), cmp_str);
        }
        for (size_t q = 0; q < nkeys; q++) {
            struct ks_buf gb = {0};
            struct ks_json gj;
            ks_json_init(&gj, &gb, 0);
            int64_t gn = 0;
            metrics_obj(&gj, l, o, o->by, keys[q], &gn);
            ks_json_obj_begin(&j);
            ks_json_key(&j, "key");
            ks_json_str(&j, keys[q]);
            ks_json_key(&j, "incidents");
            ks_json_int(&j, gn);
            ks_json_key(&j, "metrics");
            ks_json_raw(&j, gb.p, gb.len);
            ks_json_obj_end(&j);
            ks_buf_fini(&gb);
            ks_free(keys[q]);
        }
        ks_free(keys);
    }
    ks_json_arr_end(&j);
    ks_json_obj_end(&j);
    ks_buf_fini(&mb);
    return KS_OK;
}

static void md_metrics(struct ks_buf *b, json_t *metrics)
{
    ks_buf_puts(b, "| metric | value | unit | target | met | incidents/items | missing |\n"
                   "|---|---|---|---|---|---|---|\n");
    const char *key;
    json_t *m;
    json_object_foreach(metrics, key, m)
    {
        char *v = json_dumps(json_object_get(m, "value"), JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
        char *t = json_dumps(json_object_get(m, "target"), JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
        char *mi = json_dumps(json_object_get(m, "missing"), JSON_COMPACT);
        json_t *met = json_object_get(m, "met");
        ks_buf_printf(b, "| %s | %s | %s | %s | %s | %lld | %s |\n", key, v, jstr(m, "unit"), t,
                      json_is_null(met) ? "-" : json_is_true(met) ? "yes" : "no",
                      (long long)json_integer_value(json_object_get(m, "count")), mi);
        free(v);
        free(t);
        free(mi);
    }
}

enum ks_rc ks_review_report_markdown(const struct ks_review_set *l,
                                     const struct ks_report_opts *o, struct ks_buf *out,
                                     struct ks_err *err)
{
    struct ks_buf jb = {0};
    enum ks_rc rc = ks_review_report_json(l, o, &jb, err);
    if (rc != KS_OK) {
        ks_buf_fini(&jb);
        return rc;
    }
    json_t *r = json_loads(jb.p, JSON_DECODE_ANY, NULL);
    ks_buf_fini(&jb);
    const char *since = json_string_value(json_object_get(r, "since"));
    const char *until = json_string_value(json_object_get(r, "until"));
    ks_buf_printf(out, "# Recovery report\n\n%lld incidents detected from %s until %s (clock %s).\n"
                       "Durations in seconds (medians); see docs/REVIEWS.md for every "
                       "definition.\n\n",
                  (long long)json_integer_value(json_object_get(r, "incidents")),
                  since ? since : "the start", until ? until : "now", jstr(r, "now"));
    md_metrics(out, json_object_get(r, "metrics"));
    ks_buf_puts(out, "\n## SLA attainment by severity\n\n");
    md_metrics(out, json_object_get(r, "sla_by_severity"));
    size_t k;
    json_t *g;
    json_array_foreach(json_object_get(r, "groups"), k, g)
    {
        ks_buf_printf(out, "\n## %s %s (%lld incidents)\n\n", jstr(r, "by"), jstr(g, "key"),
                      (long long)json_integer_value(json_object_get(g, "incidents")));
        md_metrics(out, json_object_get(g, "metrics"));
    }
    json_decref(r);
    return KS_OK;
}
