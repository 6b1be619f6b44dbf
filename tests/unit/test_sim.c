/*
 * test_sim.c - the simulator: determinism, the event formats of SPEC
 * section 1 (every line parsed with jansson), a quiet stream that trips no
 * detector, and for every fault a truth entry whose detection instant this
 * file recomputes on its own from the parsed stream (a second statement of
 * the SPEC section 3 rules, written independently of sim_oracle.c). Also the
 * oracle on hand-made events, the fault parser and the `simulate` command.
 */
#include "../../src/cli/cli.h"
#include "../../src/sim/sim.h"
#include "t.h"

#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#define MIN KS_MIN
#define HOUR KS_HOUR

/* ---- running the simulator into memory ---------------------------------- */

struct run {
    char *ev, *tr;
    size_t evn, trn;
    enum ks_rc rc;
    struct ks_err err;
};

static void run_sim(const struct ks_sim_opts *o, struct run *r)
{
    memset(r, 0, sizeof(*r));
    FILE *fe = open_memstream(&r->ev, &r->evn);
    FILE *ft = open_memstream(&r->tr, &r->trn);
    long live = ks_alloc_live();
    r->rc = ks_sim_run(o, fe, ft, &r->err);
    CHECK_INT(ks_alloc_live(), live); /* nothing left allocated */
    fclose(fe);
    fclose(ft);
}

static void run_free(struct run *r)
{
    free(r->ev);
    free(r->tr);
}

/* ---- the parsed stream ----------------------------------------------------- */

enum { T_INV, T_SYNC, T_ORDER, T_HEALTH, T_STOCK, T_RECEIPT, T_COMPLAINT, T_METRIC, T_N };
static const char *const tnames[T_N] = {"inventory", "sync",      "order",    "health",
                                        "stock",     "receipt",   "complaint", "metric"};

struct tl {
    int type;
    ks_time ts;
    int ch;       /* index in the truth's channel list, or -1 */
    int sku;      /* 0-based, or -1 */
    long long qty;
    int has_qty;  /* inventory: "qty" present (else the line must be rejected) */
    long batch;
    int csv;      /* batch "x-csv-N" */
    int src;      /* index in srcs[] */
    int ok;       /* sync ok, health up, order accepted */
    int rejected; /* order rejected */
    int loc;      /* location index or -1 */
    int wms;      /* health of wms (else oms) */
    char po[16], reason[24];
    long long expected, received, damaged, wrong;
    int conv;     /* metric conversion_rate */
    double value;
};

struct stream {
    struct tl *l;
    size_t n, cap;
    char chans[KS_SIM_MAX_CHANNELS][24];
    int nch;
    char locs[4][24];
    int nloc;
    char srcs[16][48];
    int nsrc;
    json_t *truth;
    ks_time start, end;
    int bad_lines;
};

static int lookup(char (*tab)[48], int *n, const char *s)
{
    for (int i = 0; i < *n; i++) {
        if (strcmp(tab[i], s) == 0) {
            return i;
        }
    }
    KS_ASSERT(*n < 16);
    snprintf(tab[*n], 48, "%s", s);
    return (*n)++;
}

static int chan_index(const struct stream *st, const char *s)
{
    for (int i = 0; s && i < st->nch; i++) {
        if (strcmp(st->chans[i], s) == 0) {
            return i;
        }
    }
    return -1;
}

static int loc_index(const struct stream *st, const char *s)
{
    for (int i = 0; s && i < st->nloc; i++) {
        if (strcmp(st->locs[i], s) == 0) {
            return i;
        }
    }
    return -1;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int jint(json_t *o, const char *k, long long *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v)) {
        return 0;
    }
    *out = json_integer_value(v);
    return 1;
}

static int ts_ok(const char *s, ks_time *t)
{
    const char *why;
    /* The simulator always writes "YYYY-MM-DDTHH:MM:SS.mmmZ". */
    return s && strlen(s) == 24 && s[23] == 'Z' && ks_time_parse(s, 24, t, &why) == 0;
}

/* Checks the SPEC section 1 fields of one event; returns a reason or NULL. */
static const char *check_fields(struct stream *st, json_t *o, struct tl *x)
{
    const char *type = jstr(o, "type");
    x->type = -1;
    for (int i = 0; type && i < T_N; i++) {
        if (strcmp(type, tnames[i]) == 0) {
            x->type = i;
        }
    }
    if (x->type < 0) {
        return "unknown type";
    }
    if (!ts_ok(jstr(o, "ts"), &x->ts)) {
        return "bad ts";
    }
    const char *src = jstr(o, "source");
    if (!src) {
        return "no source";
    }
    x->src = lookup(st->srcs, &st->nsrc, src);
    x->ch = x->sku = x->loc = -1;
    const char *ch = jstr(o, "channel"), *sku = jstr(o, "sku"), *loc = jstr(o, "location");
    if (ch && (x->ch = chan_index(st, ch)) < 0) {
        return "unknown channel";
    }
    if (sku) {
        if (strlen(sku) != 11 || strncmp(sku, "SKU-", 4) != 0) {
            return "bad sku";
        }
        x->sku = atoi(sku + 4) - 1;
    }
    if (loc && (x->loc = loc_index(st, loc)) < 0) {
        return "unknown location";
    }
    long long v;
    switch (x->type) {
    case T_INV: {
        if (!ch || !sku) {
            return "inventory without channel or sku";
        }
        x->has_qty = jint(o, "qty", &x->qty);
        if (x->has_qty && x->qty < 0) {
            return "negative qty";
        }
        if (!x->has_qty && !jint(o, "quantity", &x->qty)) {
            return "inventory without qty";
        }
        const char *b = jstr(o, "batch");
        size_t cl = strlen(ch);
        if (!b || strncmp(b, ch, cl) != 0 || b[cl] != '-') {
            return "batch is not CHANNEL-N";
        }
        x->csv = strncmp(b + cl, "-csv-", 5) == 0;
        x->batch = atol(b + cl + (x->csv ? 5 : 1));
        break;
    }
    case T_SYNC: {
        const char *s = jstr(o, "status"), *b = jstr(o, "batch");
        if (!ch || !s || (strcmp(s, "ok") != 0 && strcmp(s, "error") != 0) || !b) {
            return "bad sync";
        }
        x->ok = strcmp(s, "ok") == 0;
        size_t cl = strlen(ch);
        if (strncmp(b, ch, cl) != 0 || b[cl] != '-') {
            return "sync batch is not CHANNEL-N";
        }
        x->csv = strncmp(b + cl, "-csv-", 5) == 0;
        x->batch = atol(b + cl + (x->csv ? 5 : 1));
        const char *e = jstr(o, "error");
        if (!x->ok && (!e || strcmp(e, "rate_limit") != 0)) {
            return "sync error without its class";
        }
        break;
    }
    case T_ORDER: {
        const char *s = jstr(o, "status");
        if (!jstr(o, "order_id") || !ch || !s || !loc) {
            return "order without order_id, channel, status or location";
        }
        x->ok = strcmp(s, "accepted") == 0;
        x->rejected = strcmp(s, "rejected") == 0;
        if (!x->ok && !x->rejected && strcmp(s, "shipped") != 0 && strcmp(s, "cancelled") != 0) {
            return "bad order status";
        }
        if (x->ok || x->rejected) {
            json_t *lines = json_object_get(o, "lines");
            if (!jstr(o, "customer") || !jstr(o, "email") ||
                !json_is_number(json_object_get(o, "value")) || !json_is_array(lines) ||
                json_array_size(lines) < 1 || json_array_size(lines) > 3) {
                return "order without customer, email, value or lines";
            }
            for (size_t i = 0; i < json_array_size(lines); i++) {
                json_t *li = json_array_get(lines, i);
                if (!jstr(li, "sku") || !jint(li, "qty", &v) || v < 1) {
                    return "bad order line";
                }
            }
        }
        if (x->rejected && !jstr(o, "reason")) {
            return "rejected order without reason";
        }
        break;
    }
    case T_HEALTH: {
        const char *sys = jstr(o, "system"), *s = jstr(o, "status");
        if (!sys || !s || (strcmp(s, "up") != 0 && strcmp(s, "down") != 0)) {
            return "bad health";
        }
        x->wms = strcmp(sys, "wms") == 0;
        if (x->wms != (loc != NULL)) {
            return "wms checks name a location, oms ones do not";
        }
        x->ok = strcmp(s, "up") == 0;
        if (x->ok && (!jint(o, "latency_ms", &v) || v < 0)) {
            return "up check without latency";
        }
        break;
    }
    case T_STOCK:
        if (!sku || !jint(o, "qty", &x->qty) || x->qty < 0 || !loc) {
            return "bad stock";
        }
        break;
    case T_RECEIPT: {
        const char *po = jstr(o, "po");
        ks_time due;
        if (!po || !jstr(o, "supplier") || !sku || !jint(o, "expected", &x->expected) ||
            !jint(o, "received", &x->received) || !jint(o, "damaged", &x->damaged) ||
            !jint(o, "wrong", &x->wrong) || x->expected < 0 || x->received < 0 ||
            x->damaged < 0 || x->wrong < 0 || !ts_ok(jstr(o, "due"), &due) ||
            !json_is_number(json_object_get(o, "unit_cost"))) {
            return "bad receipt";
        }
        if (x->ts - due >= 7 * KS_DAY) {
            return "receipt a week late: the assessment matrix would raise it";
        }
        snprintf(x->po, sizeof(x->po), "%s", po);
        break;
    }
    case T_COMPLAINT: {
        const char *r = jstr(o, "reason");
        if (!r || !sku || !ch || !jstr(o, "order_id") || !jstr(o, "customer") ||
            !json_is_number(json_object_get(o, "value"))) {
            return "bad complaint";
        }
        snprintf(x->reason, sizeof(x->reason), "%s", r);
        break;
    }
    case T_METRIC: {
        const char *name = jstr(o, "name");
        json_t *val = json_object_get(o, "value"), *labels = json_object_get(o, "labels");
        if (!name || !json_is_number(val) || !json_is_object(labels) ||
            !jstr(labels, "site")) {
            return "bad metric";
        }
        x->conv = strcmp(name, "conversion_rate") == 0;
        x->value = json_number_value(val);
        break;
    }
    default:
        break;
    }
    return NULL;
}

/* Parses the truth and every event line; counts lines that fail a check. */
static void parse(const struct run *r, struct stream *st)
{
    memset(st, 0, sizeof(*st));
    json_error_t je;
    st->truth = json_loadb(r->tr, r->trn, 0, &je);
    CHECK(st->truth != NULL);
    if (!st->truth) {
        return;
    }
    json_t *a = json_object_get(st->truth, "channels");
    for (size_t i = 0; i < json_array_size(a); i++) {
        snprintf(st->chans[st->nch++], 24, "%s", json_string_value(json_array_get(a, i)));
    }
    a = json_object_get(st->truth, "locations");
    for (size_t i = 0; i < json_array_size(a); i++) {
        snprintf(st->locs[st->nloc++], 24, "%s", json_string_value(json_array_get(a, i)));
    }
    CHECK(ts_ok(jstr(st->truth, "start"), &st->start));
    CHECK(ts_ok(jstr(st->truth, "end"), &st->end));
    const char *p = r->ev, *end = r->ev + r->evn;
    ks_time prev = INT64_MIN;
    size_t lineno = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        CHECK(nl != NULL); /* every line ends with a newline */
        if (!nl) {
            break;
        }
        lineno++;
        KS_GROW(st->l, st->cap, st->n + 1);
        struct tl *x = &st->l[st->n];
        memset(x, 0, sizeof(*x));
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, &je);
        const char *why = o ? check_fields(st, o, x) : "invalid JSON";
        if (why) {
            if (st->bad_lines++ < 5) {
                fprintf(stderr, "FAIL %s: line %zu: %s: %.*s\n", t_current, lineno, why,
                        (int)(nl - p), p);
            }
        } else {
            if (x->ts < prev || x->ts < st->start || x->ts >= st->end) {
                if (st->bad_lines++ < 5) {
                    fprintf(stderr, "FAIL %s: line %zu: ts out of order or range\n", t_current,
                            lineno);
                }
            }
            prev = x->ts;
            st->n++;
        }
        json_decref(o);
        p = nl + 1;
    }
}

static void stream_free(struct stream *st)
{
    ks_free(st->l);
    json_decref(st->truth);
}

static int src_of(const struct stream *st, const char *name)
{
    for (int i = 0; i < st->nsrc; i++) {
        if (strcmp(st->srcs[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

/* ---- independent statements of the detectors -------------------------------- */

static int fmt_eq(ks_time t, const char *s)
{
    char b[32];
    ks_time_fmt(t, b);
    return s && strcmp(b, s) == 0;
}

#define CHECK_TS(t, s)                                                                             \
    do {                                                                                           \
        char ts_b_[32];                                                                            \
        ks_time_fmt((t), ts_b_);                                                                   \
        CHECK_STR((s), ts_b_);                                                                     \
    } while (0)

/* Corrupt updates found by replaying the updates (zero spike and shift). */
struct corrupt {
    int ch;
    ks_time closed;
    int zero, shift;
    int csv;
};

static size_t replay_updates(const struct stream *st, int nsku, struct corrupt *out, size_t max)
{
    size_t nc = 0;
    for (int c = 0; c < st->nch; c++) {
        int32_t *ref = ks_malloc((size_t)nsku * sizeof(int32_t));
        int32_t *uq = ks_malloc((size_t)nsku * sizeof(int32_t));
        int *list = ks_malloc((size_t)nsku * sizeof(int));
        memset(ref, 0xff, (size_t)nsku * sizeof(int32_t));
        memset(uq, 0xff, (size_t)nsku * sizeof(int32_t));
        int nl = 0, open = 0, csv = 0, known = 0, active = 0;
        long batch = 0;
        for (size_t i = 0; i <= st->n; i++) {
            const struct tl *x = i < st->n ? &st->l[i] : NULL;
            int closes = 0;
            if (!x) {
                closes = open;
            } else if (x->ch == c && x->type == T_SYNC) {
                closes = open;
            } else if (x->ch == c && x->type == T_INV && x->has_qty) {
                closes = open && (x->batch != batch || x->csv != csv);
            }
            if (closes) {
                int zeros = 0, changed = 0;
                for (int k = 0; k < nl; k++) {
                    int s = list[k];
                    if (ref[s] < 0) {
                        continue;
                    }
                    zeros += ref[s] > 0 && uq[s] == 0;
                    long d = labs((long)uq[s] - ref[s]);
                    changed += 2 * d > (ref[s] > 1 ? ref[s] : 1);
                }
                int z = active >= 20 && zeros * 10 > active;
                int sh = known >= 20 && changed * 5 > known;
                if (z || sh) {
                    if (nc < max) {
                        out[nc].ch = c;
                        out[nc].closed = x ? x->ts : st->l[st->n - 1].ts;
                        out[nc].zero = z;
                        out[nc].shift = sh;
                        out[nc].csv = csv;
                    }
                    nc++;
                } else {
                    for (int k = 0; k < nl; k++) {
                        int s = list[k];
                        known += ref[s] < 0;
                        active += (uq[s] > 0) - (ref[s] > 0);
                        ref[s] = uq[s];
                    }
                }
                for (int k = 0; k < nl; k++) {
                    uq[list[k]] = -1;
                }
                nl = 0;
                open = 0;
            }
            if (x && x->ch == c && x->type == T_INV && x->has_qty) {
                if (!open) {
                    open = 1;
                    batch = x->batch;
                    csv = x->csv;
                }
                if (uq[x->sku] < 0) {
                    list[nl++] = x->sku;
                }
                uq[x->sku] = (int32_t)x->qty;
            }
        }
        ks_free(ref);
        ks_free(uq);
        ks_free(list);
    }
    return nc;
}

/* The first gap longer than `limit` in a series of ok syncs (type T_SYNC,
 * channel ch) or up checks (T_HEALTH, wms location loc or oms) whose last
 * instant is at or after `after`: returns the number of such gaps and the
 * first in *g (next = KS_TIME_NONE when the series never resumes). */
struct gap {
    ks_time last, next;
};

static int gaps_after(const struct stream *st, int type, int ch, int loc, int wms, ks_time limit,
                      ks_time after, struct gap *g)
{
    int n = 0;
    ks_time prev = KS_TIME_NONE;
    for (size_t i = 0; i < st->n; i++) {
        const struct tl *x = &st->l[i];
        if (x->type != type || !x->ok) {
            continue;
        }
        if (type == T_SYNC && x->ch != ch) {
            continue;
        }
        if (type == T_HEALTH && (x->wms != wms || x->loc != loc)) {
            continue;
        }
        if (prev != KS_TIME_NONE && prev >= after && x->ts - prev > limit) {
            if (n++ == 0) {
                g->last = prev;
                g->next = x->ts;
            }
        }
        prev = x->ts;
    }
    if (prev != KS_TIME_NONE && prev >= after && st->n && st->l[st->n - 1].ts - prev > limit) {
        if (n++ == 0) {
            g->last = prev;
            g->next = KS_TIME_NONE;
        }
    }
    return n;
}

static int gaps(const struct stream *st, int type, int ch, int loc, int wms, ks_time limit,
                struct gap *g)
{
    return gaps_after(st, type, ch, loc, wms, limit, INT64_MIN, g);
}

/* The scheduled window of a fault, from the truth. */
static ks_time fault_start(const struct stream *st, const char *name)
{
    json_t *a = json_object_get(st->truth, "faults");
    ks_time t = KS_TIME_NONE;
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *f = json_array_get(a, i);
        if (strcmp(jstr(f, "name"), name) == 0) {
            CHECK(ts_ok(jstr(f, "start"), &t));
        }
    }
    CHECK(t != KS_TIME_NONE);
    return t;
}

/* The first accepted/rejected order at which more than 5 % of the last
 * hour's (>= 20) are rejected; KS_TIME_NONE if none. */
static ks_time first_rejection_alarm(const struct stream *st, long long *rej, long long *tot)
{
    size_t lo = 0;
    for (size_t i = 0; i < st->n; i++) {
        const struct tl *x = &st->l[i];
        if (x->type != T_ORDER || (!x->ok && !x->rejected)) {
            continue;
        }
        while (st->l[lo].ts <= x->ts - HOUR) {
            lo++;
        }
        long long n = 0, r = 0;
        for (size_t k = lo; k <= i; k++) {
            const struct tl *y = &st->l[k];
            if (y->type == T_ORDER && (y->ok || y->rejected)) {
                n++;
                r += y->rejected;
            }
        }
        if (n >= 20 && 20 * r > n) {
            *rej = r;
            *tot = n;
            return x->ts;
        }
    }
    return KS_TIME_NONE;
}

/* The first line of source src at which more than 5 % of its last 10
 * minutes' lines (>= 100) lack "qty". */
static ks_time first_feed_alarm(const struct stream *st, int src)
{
    size_t lo = 0;
    long long n = 0, r = 0;
    for (size_t i = 0; src >= 0 && i < st->n; i++) {
        const struct tl *x = &st->l[i];
        if (x->src != src) {
            continue;
        }
        n++;
        r += x->type == T_INV && !x->has_qty;
        for (; st->l[lo].ts <= x->ts - 10 * MIN; lo++) {
            const struct tl *y = &st->l[lo];
            if (y->src == src) {
                n--;
                r -= y->type == T_INV && !y->has_qty;
            }
        }
        if (n >= 100 && 20 * r > n) {
            return x->ts;
        }
    }
    return KS_TIME_NONE;
}

/* The first whole minute at which a channel's last hour of inventory events
 * is below half its average hour (after 24 h of history); per channel in out. */
static void volume_alarms(const struct stream *st, ks_time *out)
{
    ks_time last_ts = st->n ? st->l[st->n - 1].ts : 0;
    for (int c = 0; c < st->nch; c++) {
        out[c] = KS_TIME_NONE;
        ks_time *ts = NULL;
        size_t n = 0, cap = 0;
        for (size_t i = 0; i < st->n; i++) {
            if (st->l[i].type == T_INV && st->l[i].ch == c && st->l[i].has_qty) {
                KS_GROW(ts, cap, n + 1);
                ts[n++] = st->l[i].ts;
            }
        }
        if (!n) {
            continue;
        }
        size_t hi = 0, lo_h = 0, lo_w = 0;
        for (ks_time m = (ts[0] / MIN + 1) * MIN; m < last_ts; m += MIN) {
            while (hi < n && ts[hi] <= m) {
                hi++;
            }
            while (lo_h < hi && ts[lo_h] <= m - HOUR) {
                lo_h++;
            }
            while (lo_w < hi && ts[lo_w] <= m - 7 * KS_DAY) {
                lo_w++;
            }
            ks_time hist = m - ts[0];
            if (hist < KS_DAY) {
                continue;
            }
            if (hist > 168 * HOUR) {
                hist = 168 * HOUR;
            }
            long long hour = (long long)(hi - lo_h), week = (long long)(hi - lo_w);
            if (2 * hour * hist < week * HOUR) { /* hour < 50 % of week / hours */
                out[c] = m;
                break;
            }
        }
        ks_free(ts);
    }
}

static json_t *incident_of(const struct stream *st, const char *fault, int *count)
{
    json_t *a = json_object_get(st->truth, "incidents"), *found = NULL;
    *count = 0;
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *in = json_array_get(a, i);
        const char *f = jstr(in, "fault");
        if (f && strcmp(f, fault) == 0) {
            (*count)++;
            found = found ? found : in;
        }
    }
    return found;
}

static int chan_of_incident(const struct stream *st, json_t *in)
{
    json_t *a = json_object_get(in, "channels");
    return json_array_size(a) == 1 ? chan_index(st, json_string_value(json_array_get(a, 0))) : -1;
}

static json_t *esc(json_t *in, size_t i)
{
    return json_array_get(json_object_get(in, "escalations"), i);
}

/* ---- tests: determinism and format ------------------------------------------ */

static void small_opts(struct ks_sim_opts *o)
{
    ks_sim_defaults(o);
    o->channels = 2;
    o->skus = 200;
    o->duration = 20 * HOUR;
    o->faults = KS_SIM_ALL_FAULTS & ~KS_SIM_BIT(KS_SIM_VOLUME_DROP);
}

static void same_seed_gives_identical_bytes(void)
{
    struct ks_sim_opts o;
    small_opts(&o);
    o.seed = 42;
    struct run a, b;
    run_sim(&o, &a);
    run_sim(&o, &b);
    CHECK_INT(a.rc, KS_OK);
    CHECK_INT(b.rc, KS_OK);
    CHECK(a.evn > 100000);
    CHECK(a.evn == b.evn && memcmp(a.ev, b.ev, a.evn) == 0);
    CHECK(a.trn == b.trn && memcmp(a.tr, b.tr, a.trn) == 0);
    run_free(&a);
    run_free(&b);
}

static void different_seed_gives_a_different_stream(void)
{
    struct ks_sim_opts o;
    small_opts(&o);
    struct run a, b;
    o.seed = 1;
    run_sim(&o, &a);
    o.seed = 2;
    run_sim(&o, &b);
    CHECK(a.evn != b.evn || memcmp(a.ev, b.ev, a.evn) != 0);
    CHECK(a.trn != b.trn || memcmp(a.tr, b.tr, a.trn) != 0);
    run_free(&a);
    run_free(&b);
}

static void default_start_is_2026_11_22_and_no_wall_clock(void)
{
    struct ks_sim_opts o;
    ks_sim_defaults(&o);
    CHECK(fmt_eq(o.start, "2026-11-22T00:00:00.000Z"));
    CHECK_INT(o.duration, KS_DAY);
    CHECK_INT(o.cycle, 15 * MIN);
    o.duration = 2 * HOUR;
    o.skus = 200;
    struct run r;
    run_sim(&o, &r);
    CHECK(r.evn > 30 && memcmp(r.ev, "{\"type\":\"metric\",\"ts\":\"2026-11-22T00:00:00.250Z\"",
                               48) == 0);
    run_free(&r);
}

/* One run with every fault, parsed once and shared by the fault tests. */
static struct run all_run;
static struct stream all;
static struct ks_sim_opts all_opts;

static void every_line_is_valid_json_with_the_fields_of_its_type(void)
{
    ks_sim_defaults(&all_opts);
    all_opts.seed = 11;
    all_opts.channels = 3;
    all_opts.skus = 300;
    all_opts.duration = 30 * HOUR;
    all_opts.faults = KS_SIM_ALL_FAULTS;
    run_sim(&all_opts, &all_run);
    CHECK_INT(all_run.rc, KS_OK);
    parse(&all_run, &all);
    CHECK_INT(all.bad_lines, 0);
    CHECK(all.n > 50000);
    int seen[T_N] = {0};
    for (size_t i = 0; i < all.n; i++) {
        seen[all.l[i].type]++;
    }
    for (int t = 0; t < T_N; t++) {
        CHECK(seen[t] > 0); /* every event type occurs */
    }
    /* The lines without "qty" are the schema-change's, erp's, in its window. */
    json_t *faults = json_object_get(all.truth, "faults");
    ks_time s0 = 0, s1 = 0;
    for (size_t i = 0; i < json_array_size(faults); i++) {
        json_t *f = json_array_get(faults, i);
        if (strcmp(jstr(f, "name"), "schema-change") == 0) {
            CHECK(ts_ok(jstr(f, "start"), &s0) && ts_ok(jstr(f, "end"), &s1));
        }
    }
    size_t noqty = 0;
    for (size_t i = 0; i < all.n; i++) {
        const struct tl *x = &all.l[i];
        if (x->type == T_INV && !x->has_qty) {
            noqty++;
            CHECK(x->ts >= s0 && x->ts < s1 + 2 * MIN && x->src == src_of(&all, "erp"));
        }
    }
    CHECK(noqty > 100);
}

/* ---- tests: the quiet stream ------------------------------------------------- */

static void quiet_stream_trips_no_detector(void)
{
    struct ks_sim_opts o;
    ks_sim_defaults(&o);
    o.seed = 5;
    o.channels = 3;
    o.skus = 300;
    o.duration = 30 * HOUR;
    struct run r;
    run_sim(&o, &r);
    struct stream st;
    parse(&r, &st);
    CHECK_INT(st.bad_lines, 0);
    CHECK_INT(json_array_size(json_object_get(st.truth, "incidents")), 0);
    CHECK_INT(json_array_size(json_object_get(st.truth, "faults")), 0);
    struct corrupt c[4];
    CHECK_INT(replay_updates(&st, o.skus, c, 4), 0); /* no zero spike, no shift */
    struct gap g;
    for (int ch = 0; ch < st.nch; ch++) {
        CHECK_INT(gaps(&st, T_SYNC, ch, -1, 0, 30 * MIN, &g), 0);
    }
    CHECK_INT(gaps(&st, T_HEALTH, -1, -1, 0, 5 * MIN, &g), 0);
    for (int l = 0; l < st.nloc; l++) {
        CHECK_INT(gaps(&st, T_HEALTH, -1, l, 1, 5 * MIN, &g), 0);
    }
    long long rej, tot;
    CHECK(first_rejection_alarm(&st, &rej, &tot) == KS_TIME_NONE);
    for (int s = 0; s < st.nsrc; s++) {
        CHECK(first_feed_alarm(&st, s) == KS_TIME_NONE);
    }
    ks_time vol[KS_SIM_MAX_CHANNELS];
    volume_alarms(&st, vol);
    for (int ch = 0; ch < st.nch; ch++) {
        CHECK(vol[ch] == KS_TIME_NONE);
    }
    /* Complaints: never 10 of one (reason, SKU) within 24 h. */
    for (size_t i = 0; i < st.n; i++) {
        if (st.l[i].type != T_COMPLAINT) {
            continue;
        }
        int n = 0;
        for (size_t k = 0; k <= i; k++) {
            const struct tl *y = &st.l[k];
            n += y->type == T_COMPLAINT && y->ts > st.l[i].ts - KS_DAY && y->sku == st.l[i].sku &&
                 strcmp(y->reason, st.l[i].reason) == 0;
        }
        CHECK(n < 10);
    }
    /* Orders: some rejected, well under 5 %, and shipped later. */
    long long acc = 0, rj = 0, shipped = 0;
    for (size_t i = 0; i < st.n; i++) {
        const struct tl *x = &st.l[i];
        if (x->type == T_ORDER) {
            acc += x->ok;
            rj += x->rejected;
        }
        shipped += x->type == T_ORDER && !x->ok && !x->rejected;
    }
    CHECK(acc > 1000);
    CHECK(rj > 0 && rj * 100 < acc * 2);
    CHECK(shipped > acc / 2);
    stream_free(&st);
    run_free(&r);
}

/* ---- tests: the faults ---------------------------------------------------------- */

static void every_fault_has_its_truth_entry_and_nothing_else(void)
{
    json_t *inc = json_object_get(all.truth, "incidents");
    CHECK_INT(json_array_size(inc), KS_SIM_NFAULTS);
    for (size_t i = 0; i < json_array_size(inc); i++) {
        const char *f = jstr(json_array_get(inc, i), "fault");
        CHECK(f != NULL);
    }
    for (int f = 0; f < KS_SIM_NFAULTS; f++) {
        int n;
        json_t *in = incident_of(&all, ks_sim_fault_table[f].name, &n);
        CHECK_INT(n, 1);
        if (in) {
            CHECK_STR(jstr(in, "type"), ks_sim_fault_table[f].type);
            ks_time t;
            CHECK(ts_ok(jstr(in, "detected_at"), &t));
            CHECK(jstr(in, "note") && strlen(jstr(in, "note")) > 20);
        } else {
            fprintf(stderr, "  missing %s\n", ks_sim_fault_table[f].name);
        }
    }
}

static void stall_one_detected_at_last_ok_sync_plus_30_min_and_p2_an_hour_later(void)
{
    int n;
    json_t *in = incident_of(&all, "stall-one", &n);
    if (!in) {
        CHECK(!"no stall-one entry");
        return;
    }
    int c = chan_of_incident(&all, in);
    CHECK(c >= 0);
    struct gap g;
    /* stall-all comes later and stalls this channel again. */
    CHECK_INT(gaps_after(&all, T_SYNC, c, -1, 0, 30 * MIN, fault_start(&all, "stall-one"), &g), 2);
    CHECK_TS(g.last + 30 * MIN, jstr(in, "detected_at"));
    CHECK_STR(jstr(in, "severity"), "P3");
    CHECK(g.next > g.last + 90 * MIN); /* still stale an hour after detection */
    CHECK_STR(jstr(in, "final_severity"), "P2");
    CHECK_TS(g.last + 90 * MIN, jstr(esc(in, 0), "at"));
    CHECK_STR(jstr(esc(in, 0), "severity"), "P2");
    /* Its syncs failed with a rate limit rather than stopping. */
    int errors = 0;
    for (size_t i = 0; i < all.n; i++) {
        const struct tl *x = &all.l[i];
        errors += x->type == T_SYNC && x->ch == c && !x->ok && x->ts > g.last && x->ts < g.next;
    }
    CHECK(errors >= 5);
}

static void stall_all_is_one_incident_p1_when_the_last_channel_goes_stale(void)
{
    int n;
    json_t *in = incident_of(&all, "stall-all", &n);
    if (!in) {
        CHECK(!"no stall-all entry");
        return;
    }
    CHECK_INT(json_array_size(json_object_get(in, "channels")), all.nch);
    ks_time lo = INT64_MAX, hi = INT64_MIN, from = fault_start(&all, "stall-all");
    for (int c = 0; c < all.nch; c++) {
        struct gap g;
        CHECK_INT(gaps_after(&all, T_SYNC, c, -1, 0, 30 * MIN, from, &g), 1);
        lo = g.last < lo ? g.last : lo;
        hi = g.last > hi ? g.last : hi;
        /* No sync at all, ok or not, during the stall. */
        for (size_t i = 0; i < all.n; i++) {
            const struct tl *x = &all.l[i];
            CHECK(!(x->type == T_SYNC && x->ch == c && x->ts > g.last && x->ts < g.next));
        }
    }
    CHECK_TS(lo + 30 * MIN, jstr(in, "detected_at"));
    CHECK_STR(jstr(in, "severity"), "P3");
    CHECK_STR(jstr(in, "final_severity"), "P1");
    CHECK_TS(hi + 30 * MIN, jstr(esc(in, 0), "at"));
    CHECK(hi - lo < 15 * MIN); /* every channel joins the first one's incident */
}

static void corrupt_updates_are_exactly_the_zero_spike_and_the_shift(void)
{
    struct corrupt c[8];
    size_t n = replay_updates(&all, all_opts.skus, c, 8);
    CHECK_INT(n, 2);
    int k;
    json_t *z = incident_of(&all, "zero-spike", &k), *s = incident_of(&all, "shift", &k);
    for (size_t i = 0; i < n && i < 8 && z && s; i++) {
        json_t *in = c[i].zero ? z : s;
        CHECK_TS(c[i].closed, jstr(in, "detected_at"));
        CHECK_INT(chan_of_incident(&all, in), c[i].ch);
        CHECK_STR(jstr(in, "severity"), c[i].zero ? "P1" : "P2");
        CHECK_STR(jstr(in, "final_severity"), c[i].zero ? "P1" : "P2");
        CHECK_INT(c[i].csv, c[i].zero); /* the zeroes came from a csv import */
        json_t *d = json_object_get(in, "detectors");
        CHECK_INT(json_array_size(d), 1 + (c[i].zero && c[i].shift));
    }
    if (z && s) {
        CHECK(strncmp(jstr(z, "source"), "csv:", 4) == 0);
        CHECK_STR(jstr(s, "source"), "erp");
    }
}

static void wms_one_detected_at_last_up_plus_5_min_and_p1_15_min_later(void)
{
    int n;
    json_t *in = incident_of(&all, "wms-one", &n);
    if (!in) {
        CHECK(!"no wms-one entry");
        return;
    }
    json_t *locs = json_object_get(in, "locations");
    CHECK_INT(json_array_size(locs), 1);
    int l = loc_index(&all, json_string_value(json_array_get(locs, 0)));
    CHECK(l >= 0);
    struct gap g;
    CHECK_INT(gaps_after(&all, T_HEALTH, -1, l, 1, 5 * MIN, fault_start(&all, "wms-one") - 5 * MIN,
                         &g),
              2); /* wms-one, then wms-all */
    CHECK_TS(g.last + 5 * MIN, jstr(in, "detected_at"));
    CHECK_STR(jstr(in, "severity"), "P2");
    CHECK(g.next > g.last + 20 * MIN);
    CHECK_STR(jstr(in, "final_severity"), "P1");
    CHECK_TS(g.last + 20 * MIN, jstr(esc(in, 0), "at"));
    CHECK_STR(json_string_value(json_array_get(json_object_get(in, "systems"), 0)), "wms");
}

static void wms_all_is_p1_when_the_last_location_goes_down(void)
{
    int n;
    json_t *in = incident_of(&all, "wms-all", &n);
    if (!in) {
        CHECK(!"no wms entries");
        return;
    }
    CHECK_INT(json_array_size(json_object_get(in, "locations")), all.nloc);
    ks_time lo = INT64_MAX, hi = INT64_MIN, from = fault_start(&all, "wms-all") - 5 * MIN;
    for (int l = 0; l < all.nloc; l++) {
        struct gap g;
        CHECK_INT(gaps_after(&all, T_HEALTH, -1, l, 1, 5 * MIN, from, &g), 1);
        lo = g.last < lo ? g.last : lo;
        hi = g.last > hi ? g.last : hi;
    }
    CHECK_TS(lo + 5 * MIN, jstr(in, "detected_at"));
    CHECK_STR(jstr(in, "severity"), "P2");
    CHECK_STR(jstr(in, "final_severity"), "P1");
    CHECK_TS(hi + 5 * MIN, jstr(esc(in, 0), "at"));
}

static void rejections_detected_at_the_first_order_over_5_percent(void)
{
    int n;
    json_t *in = incident_of(&all, "rejections", &n);
    long long r, t;
    ks_time at = first_rejection_alarm(&all, &r, &t);
    CHECK(at != KS_TIME_NONE);
    if (in) {
        CHECK_TS(at, jstr(in, "detected_at"));
        CHECK_STR(jstr(in, "final_severity"), "P2");
    }
    CHECK(t >= 20 && 20 * r > t);
}

static void supplier_faults_are_judged_line_by_line(void)
{
    static const char *const names[3] = {"supplier-short", "supplier-wrong", "supplier-damaged"};
    for (int f = 0; f < 3; f++) {
        int n;
        json_t *in = incident_of(&all, names[f], &n);
        if (!in) {
            CHECK(!"no supplier entry");
            continue;
        }
        const char *po = json_string_value(json_array_get(json_object_get(in, "purchase_orders"), 0));
        CHECK(po != NULL);
        long long e = 0, rc = 0, d = 0, w = 0;
        int first = 0, level = 0, nesc = 0;
        for (size_t i = 0; po && i < all.n; i++) {
            const struct tl *x = &all.l[i];
            if (x->type != T_RECEIPT || strcmp(x->po, po) != 0) {
                continue;
            }
            e += x->expected, rc += x->received, d += x->damaged, w += x->wrong;
            long long sell = rc - d - w;
            int lv = 0;
            if (sell < e) {
                lv = 5 * (e - sell) >= e ? 2 : 3;
            }
            if (w > 0 || (d > 0 && 2 * d >= rc)) {
                lv = 2;
            }
            if (lv && !first) {
                first = 1;
                level = lv;
                CHECK_TS(x->ts, jstr(in, "detected_at"));
                CHECK_STR(jstr(in, "severity"), lv == 2 ? "P2" : "P3");
            } else if (lv && lv < level) {
                CHECK_TS(x->ts, jstr(esc(in, (size_t)nesc), "at"));
                nesc++;
                level = lv;
            }
        }
        CHECK(first);
        CHECK_INT(json_array_size(json_object_get(in, "escalations")), nesc);
        CHECK_STR(jstr(in, "final_severity"), "P2");
        CHECK_INT(nesc, f == 0); /* only the short one starts at P3 */
    }
}

static void complaint_spike_detected_at_the_tenth_complaint(void)
{
    int n;
    json_t *in = incident_of(&all, "complaint-spike", &n);
    if (!in) {
        CHECK(!"no complaint-spike entry");
        return;
    }
    const char *sku = jstr(in, "sku"), *reason = jstr(in, "reason");
    CHECK(sku && reason);
    int s = sku ? atoi(sku + 4) - 1 : -1, k = 0, total = 0;
    for (size_t i = 0; reason && i < all.n; i++) {
        const struct tl *x = &all.l[i];
        if (x->type == T_COMPLAINT && x->sku == s && strcmp(x->reason, reason) == 0) {
            if (++k == 10) {
                CHECK_TS(x->ts, jstr(in, "detected_at"));
            }
            total++;
        }
    }
    CHECK_INT(total, 12);
    CHECK_STR(jstr(in, "severity"), "P3");
    CHECK_INT(json_array_size(json_object_get(in, "channels")), 1);
}

static void schema_change_detected_when_over_5_percent_of_erp_lines_are_rejected(void)
{
    int n;
    json_t *in = incident_of(&all, "schema-change", &n);
    ks_time at = first_feed_alarm(&all, src_of(&all, "erp"));
    CHECK(at != KS_TIME_NONE);
    if (in) {
        CHECK_TS(at, jstr(in, "detected_at"));
        CHECK_STR(jstr(in, "source"), "erp");
        CHECK_STR(jstr(in, "severity"), "P2");
    }
    for (int s = 0; s < all.nsrc; s++) {
        if (s != src_of(&all, "erp")) {
            CHECK(first_feed_alarm(&all, s) == KS_TIME_NONE);
        }
    }
}

static void volume_drop_detected_at_the_first_minute_under_half_the_average_hour(void)
{
    int n;
    json_t *in = incident_of(&all, "volume-drop", &n);
    if (!in) {
        CHECK(!"no volume-drop entry");
        return;
    }
    ks_time vol[KS_SIM_MAX_CHANNELS];
    volume_alarms(&all, vol);
    int c = chan_of_incident(&all, in);
    CHECK(c >= 0);
    for (int k = 0; k < all.nch; k++) {
        if (k == c) {
            CHECK_TS(vol[k], jstr(in, "detected_at"));
        } else {
            CHECK(vol[k] == KS_TIME_NONE);
        }
    }
    CHECK_STR(jstr(in, "severity"), "P3");
}

static void metric_drop_names_the_rule_it_needs(void)
{
    int n;
    json_t *in = incident_of(&all, "metric-drop", &n);
    if (!in) {
        CHECK(!"no metric-drop entry");
        return;
    }
    json_t *rule = json_object_get(in, "requires_rule");
    CHECK_STR(jstr(rule, "metric"), "conversion_rate");
    CHECK_STR(jstr(rule, "kind"), "below");
    double th = json_number_value(json_object_get(rule, "threshold"));
    CHECK(th > 0.0199 && th < 0.0201);
    ks_time first = KS_TIME_NONE;
    double normal_min = 1;
    for (size_t i = 0; i < all.n; i++) {
        const struct tl *x = &all.l[i];
        if (x->type == T_METRIC && x->conv) {
            if (x->value < th && first == KS_TIME_NONE) {
                first = x->ts;
            }
            if (x->value >= th && x->value < normal_min) {
                normal_min = x->value;
            }
        }
    }
    CHECK_TS(first, jstr(in, "detected_at"));
    CHECK(normal_min >= 0.028); /* a 60 % drop is far below every normal sample */
}

static void all_drops_volume_drop_when_the_run_is_too_short(void)
{
    struct ks_sim_opts o;
    small_opts(&o);
    o.faults = KS_SIM_ALL_FAULTS;
    o.fit = 1;
    struct run r;
    run_sim(&o, &r);
    CHECK_INT(r.rc, KS_OK);
    CHECK(r.trn && strstr(r.tr, "\"volume-drop\"") == NULL);
    CHECK(r.trn && strstr(r.tr, "\"metric-drop\"") != NULL);
    run_free(&r);
    o.fit = 0;
    run_sim(&o, &r);
    CHECK_INT(r.rc, KS_EUSAGE);
    CHECK(strstr(r.err.msg, "volume-drop") != NULL);
    run_free(&r);
}

static void bad_options_are_usage_errors(void)
{
    struct ks_sim_opts o;
    struct ks_err err;
    ks_sim_defaults(&o);
    o.channels = 17;
    CHECK_INT(ks_sim_run(&o, stdout, NULL, &err), KS_EUSAGE);
    ks_sim_defaults(&o);
    o.skus = 10;
    CHECK_INT(ks_sim_run(&o, stdout, NULL, &err), KS_EUSAGE);
    ks_sim_defaults(&o);
    o.cycle = 20 * MIN;
    CHECK_INT(ks_sim_run(&o, stdout, NULL, &err), KS_EUSAGE);
    ks_sim_defaults(&o);
    o.start += 1000;
    CHECK_INT(ks_sim_run(&o, stdout, NULL, &err), KS_EUSAGE);
    CHECK_STR(err.msg, "start must be a whole UTC minute");
    /* a start out of range says so, with the range */
    ks_sim_defaults(&o);
    o.start = ks_days_from_civil(9999, 12, 31) * KS_DAY;
    CHECK_INT(ks_sim_run(&o, stdout, NULL, &err), KS_EUSAGE);
    CHECK_STR(err.msg, "start 9999-12-31T00:00:00.000Z is out of range: it must be from "
                       "1970-01-01T00:00:00.000Z to 9000-01-01T00:00:00.000Z");
    ks_sim_defaults(&o);
    o.duration = 2 * HOUR;
    o.faults = KS_SIM_BIT(KS_SIM_STALL_ONE) | KS_SIM_BIT(KS_SIM_COMPLAINT_SPIKE);
    CHECK_INT(ks_sim_run(&o, stdout, NULL, &err), KS_EUSAGE);
    CHECK(strstr(err.msg, "--duration") != NULL);
}

static void fault_lists_parse_names_commas_and_all(void)
{
    unsigned bits = 0;
    int all_flag = 0;
    struct ks_err err;
    CHECK_INT(ks_sim_parse_faults("zero-spike, shift", &bits, &all_flag, &err), KS_OK);
    CHECK_INT(bits, KS_SIM_BIT(KS_SIM_ZERO_SPIKE) | KS_SIM_BIT(KS_SIM_SHIFT));
    CHECK_INT(all_flag, 0);
    CHECK_INT(ks_sim_parse_faults("all", &bits, &all_flag, &err), KS_OK);
    CHECK_INT(bits, KS_SIM_ALL_FAULTS);
    CHECK_INT(all_flag, 1);
    CHECK_INT(ks_sim_parse_faults("stall-one,nope", &bits, NULL, &err), KS_EUSAGE);
    CHECK(strstr(err.msg, "'nope'") != NULL);
    /* a list that names no fault asks for one: refused, not run without it */
    bits = 0;
    CHECK_INT(ks_sim_parse_faults("", &bits, NULL, &err), KS_EUSAGE);
    CHECK_STR(err.msg, "'' names no fault");
    CHECK_INT(ks_sim_parse_faults(" , ", &bits, NULL, &err), KS_EUSAGE);
    CHECK_INT(bits, 0);
    CHECK_INT(ks_sim_fault_find("metric-drop", 11), KS_SIM_METRIC_DROP);
    for (int f = 0; f < KS_SIM_NFAULTS; f++) {
        CHECK(ks_sim_fault_table[f].name && ks_sim_fault_table[f].type &&
              ks_sim_fault_table[f].summary && ks_sim_fault_table[f].span > 0);
    }
}

/* ---- tests: the oracle on hand-made events ------------------------------------ */

static struct ks_sim_ev mk(int type, ks_time ts)
{
    struct ks_sim_ev e;
    memset(&e, 0, sizeof(e));
    e.type = (uint8_t)type;
    e.ts = ts;
    e.src = KS_SIM_SRC_PIPELINE;
    return e;
}

static void oracle_sync_ok_exactly_at_the_deadline_fires_nothing(void)
{
    ks_time t0 = 1795305600000LL;
    struct ks_sim_oracle *o = ks_sim_oracle_new(2, 200, 2, t0, KS_DAY);
    struct ks_sim_ev e = mk(KS_SIM_EV_SYNC, t0 + 1000);
    ks_sim_oracle_feed(o, &e);
    e.ts = t0 + 1000 + 30 * MIN; /* exactly 30 min: not more */
    ks_sim_oracle_feed(o, &e);
    struct ks_sim_ev h = mk(KS_SIM_EV_HEALTH, t0 + 1000 + 60 * MIN - 1);
    ks_sim_oracle_feed(o, &h);
    const struct ks_sim_incident *in;
    CHECK_INT(ks_sim_oracle_incidents(o, &in), 0);
    h.ts = t0 + 1000 + 60 * MIN + 1; /* now one past: fires at the deadline */
    ks_sim_oracle_feed(o, &h);
    CHECK_INT(ks_sim_oracle_incidents(o, &in), 1);
    if (ks_sim_oracle_incidents(o, &in) == 1) {
        CHECK_INT(in[0].detected_at, t0 + 1000 + 60 * MIN);
        CHECK_INT(in[0].severity, 3);
    }
    ks_sim_oracle_free(o);
}

static void oracle_zero_spike_needs_more_than_10_percent_of_20_active_skus(void)
{
    ks_time t0 = 1795305600000LL;
    for (int nsku = 19; nsku <= 20; nsku++) {
        struct ks_sim_oracle *o = ks_sim_oracle_new(1, 200, 1, t0, KS_DAY);
        for (uint32_t b = 1; b <= 2; b++) {
            for (int s = 0; s < nsku; s++) {
                struct ks_sim_ev e = mk(KS_SIM_EV_INVENTORY, t0 + b * MIN + s);
                e.src = KS_SIM_SRC_ERP;
                e.sku = (uint32_t)s;
                e.id = b;
                e.qty = b == 2 && s < 3 ? 0 : 10; /* 3 of 19 or 20: > 10 % */
                ks_sim_oracle_feed(o, &e);
            }
            struct ks_sim_ev y = mk(KS_SIM_EV_SYNC, t0 + b * MIN + 500);
            y.id = b;
            ks_sim_oracle_feed(o, &y);
        }
        const struct ks_sim_incident *in;
        size_t n = ks_sim_oracle_incidents(o, &in);
        CHECK_INT(n, nsku == 20);
        if (n) {
            CHECK_INT(in[0].detected_at, t0 + 2 * MIN + 500);
            CHECK_INT(in[0].severity, 1);
        }
        ks_sim_oracle_free(o);
    }
}

static void oracle_supplier_later_line_raises_p3_to_p2(void)
{
    ks_time t0 = 1795305600000LL;
    struct ks_sim_oracle *o = ks_sim_oracle_new(1, 200, 1, t0, KS_DAY);
    struct ks_sim_ev e = mk(KS_SIM_EV_RECEIPT, t0 + MIN);
    e.src = KS_SIM_SRC_WMS;
    e.id = 7;
    e.qty = 100;
    e.u.receipt.received = 90; /* 10 % short: P3 */
    ks_sim_oracle_feed(o, &e);
    e.ts += MIN;
    e.u.receipt.received = 70; /* 20 % short over both lines: P2 */
    ks_sim_oracle_feed(o, &e);
    const struct ks_sim_incident *in;
    CHECK_INT(ks_sim_oracle_incidents(o, &in), 1);
    if (ks_sim_oracle_incidents(o, &in) == 1) {
        CHECK_INT(in[0].severity, 3);
        CHECK_INT(in[0].final_severity, 2);
        CHECK_INT(in[0].nesc, 1);
        CHECK_INT(in[0].esc[0].at, t0 + 2 * MIN);
    }
    ks_sim_oracle_free(o);
}

static void oracle_order_rejections_need_20_orders_in_the_hour(void)
{
    ks_time t0 = 1795305600000LL;
    struct ks_sim_oracle *o = ks_sim_oracle_new(1, 200, 1, t0, KS_DAY);
    const struct ks_sim_incident *in = NULL;
    for (int i = 0; i < 20; i++) {
        struct ks_sim_ev e = mk(KS_SIM_EV_ORDER, t0 + i * MIN);
        e.src = KS_SIM_SRC_OMS;
        e.status = i < 2 ? KS_SIM_ORDER_REJECTED : KS_SIM_ORDER_ACCEPTED;
        ks_sim_oracle_feed(o, &e);
        /* 2 of 19 is over 5 % but only 19 orders: nothing until the 20th. */
        CHECK_INT(ks_sim_oracle_incidents(o, &in), i == 19);
    }
    if (ks_sim_oracle_incidents(o, &in) == 1) {
        CHECK_INT(in[0].detected_at, t0 + 19 * MIN);
    }
    ks_sim_oracle_free(o);
}

/* ---- tests: the command ---------------------------------------------------------- */

static int cmd(const char *a0, const char *a1, const char *a2, const char *a3, const char *a4,
               const char *a5, const char *a6, const char *a7)
{
    const char *v[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
    char *argv[9];
    int argc = 0;
    for (int i = 0; i < 8 && v[i]; i++) {
        argv[argc++] = (char *)v[i];
    }
    argv[argc] = NULL;
    fflush(stdout);
    return ks_cmd_simulate(argc, argv);
}

static void simulate_command_writes_events_and_truth_with_repeated_faults(void)
{
    char ev[] = "/tmp/ks-sim-ev-XXXXXX", tr[] = "/tmp/ks-sim-tr-XXXXXX";
    int fe = mkstemp(ev), ft = mkstemp(tr);
    CHECK(fe >= 0 && ft >= 0);
    close(fe);
    close(ft);
    int rc = cmd("--duration", "6h", "--fault", "stall-one", "--fault=wms-one,shift",
                 "--out", ev, NULL);
    CHECK_INT(rc, 0);
    rc = cmd("--duration=6h", "--fault", "stall-one", "--fault=wms-one,shift", "--out", ev,
             "--truth", tr);
    CHECK_INT(rc, 0);
    json_error_t je;
    json_t *t = json_load_file(tr, 0, &je);
    CHECK(t != NULL);
    json_t *faults = json_object_get(t, "faults");
    CHECK_INT(json_array_size(faults), 3);
    CHECK_INT(json_array_size(json_object_get(t, "incidents")), 3);
    json_decref(t);
    FILE *f = fopen(ev, "r");
    CHECK(f != NULL);
    if (f) {
        char line[512];
        CHECK(fgets(line, sizeof(line), f) != NULL);
        CHECK(strncmp(line, "{\"type\":", 8) == 0);
        fclose(f);
    }
    unlink(ev);
    unlink(tr);
}

static void simulate_command_rejects_unknown_faults_and_bad_values_with_2(void)
{
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    int a = cmd("--fault", "zero-spike,bogus", NULL, NULL, NULL, NULL, NULL, NULL);
    int b = cmd("--channels", "0", NULL, NULL, NULL, NULL, NULL, NULL);
    int c = cmd("--cycle", "forever", NULL, NULL, NULL, NULL, NULL, NULL);
    int d = cmd("--truth", "-", NULL, NULL, NULL, NULL, NULL, NULL);
    int e = cmd("extra", NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    int g = cmd("--fault", "volume-drop", "--duration", "24h", NULL, NULL, NULL, NULL);
    fclose(stderr);
    stderr = saved;
    CHECK_INT(a, 2);
    CHECK_INT(b, 2);
    CHECK_INT(c, 2);
    CHECK_INT(d, 2);
    CHECK_INT(e, 2);
    CHECK_INT(g, 2);
}

static void simulate_list_faults_exits_0(void)
{
    FILE *saved = stdout;
    stdout = fopen("/dev/null", "w");
    int rc = cmd("--list-faults", NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    int h = cmd("--help", NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    fclose(stdout);
    stdout = saved;
    CHECK_INT(rc, 0);
    CHECK_INT(h, 0);
}

int main(void)
{
    long live = ks_alloc_live();
    RUN(fault_lists_parse_names_commas_and_all);
    RUN(bad_options_are_usage_errors);
    RUN(default_start_is_2026_11_22_and_no_wall_clock);
    RUN(same_seed_gives_identical_bytes);
    RUN(different_seed_gives_a_different_stream);
    RUN(quiet_stream_trips_no_detector);
    RUN(every_line_is_valid_json_with_the_fields_of_its_type);
    RUN(every_fault_has_its_truth_entry_and_nothing_else);
    RUN(stall_one_detected_at_last_ok_sync_plus_30_min_and_p2_an_hour_later);
    RUN(stall_all_is_one_incident_p1_when_the_last_channel_goes_stale);
    RUN(corrupt_updates_are_exactly_the_zero_spike_and_the_shift);
    RUN(wms_one_detected_at_last_up_plus_5_min_and_p1_15_min_later);
    RUN(wms_all_is_p1_when_the_last_location_goes_down);
    RUN(rejections_detected_at_the_first_order_over_5_percent);
    RUN(supplier_faults_are_judged_line_by_line);
    RUN(complaint_spike_detected_at_the_tenth_complaint);
    RUN(schema_change_detected_when_over_5_percent_of_erp_lines_are_rejected);
    RUN(volume_drop_detected_at_the_first_minute_under_half_the_average_hour);
    RUN(metric_drop_names_the_rule_it_needs);
    RUN(all_drops_volume_drop_when_the_run_is_too_short);
    RUN(oracle_sync_ok_exactly_at_the_deadline_fires_nothing);
    RUN(oracle_zero_spike_needs_more_than_10_percent_of_20_active_skus);
    RUN(oracle_supplier_later_line_raises_p3_to_p2);
    RUN(oracle_order_rejections_need_20_orders_in_the_hour);
    RUN(simulate_command_writes_events_and_truth_with_repeated_faults);
    RUN(simulate_command_rejects_unknown_faults_and_bad_values_with_2);
    RUN(simulate_list_faults_exits_0);
    stream_free(&all);
    run_free(&all_run);
    t_current = "no_leaks";
    CHECK_INT(ks_alloc_live(), live);
    return t_done();
}
