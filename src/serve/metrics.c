/* metrics.c - GET /metrics: Prometheus text format 0.0.4. Counters of the
 * writer (events by type and outcome), incidents from the stored rows,
 * histograms of request latency and detection gap, the guard, the outbox,
 * build info. Names and labels are listed in docs/API.md. */
#include "serve_int.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- request latency: a histogram per route pattern ----------------------- */

static const double lat_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                    0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define NLAT (sizeof(lat_bounds) / sizeof(lat_bounds[0]))

void ks_metrics_observe(void *ctx, const struct ks_http_done *d)
{
    struct ks_metrics *m = ctx;
    const char *route = d->pattern ? d->pattern : "unmatched";
    pthread_mutex_lock(&m->mu);
    size_t i = 0;
    while (i < m->nroutes && strcmp(m->routes[i].route, route) != 0) {
        i++;
    }
    if (i == m->nroutes && i < KS_METRICS_ROUTES) {
        /* a copy: the server's patterns as shown go with it when it stops */
        snprintf(m->routes[i].route, sizeof(m->routes[i].route), "%s", route);
        m->nroutes++;
    }
    if (i < m->nroutes) {
        struct ks_metrics_route *r = &m->routes[i];
        double s = (double)d->micros / 1e6;
        for (size_t b = 0; b < NLAT; b++) {
            if (s <= lat_bounds[b]) {
                r->buckets[b]++;
            }
        }
        r->count++;
        r->sum_us += d->micros > 0 ? (uint64_t)d->micros : 0;
        int cls = d->status / 100;
        if (cls >= 1 && cls <= 5) {
            r->by_class[cls - 1]++;
        }
    }
    pthread_mutex_unlock(&m->mu);
}

/* ---- events by type: counted by the writer ------------------------------- */

static const char *const types[KS_METRICS_TYPES] = {
    "inventory", "sync",     "order",  "health", "stock", "receipt",
    "complaint", "feedback", "metric", "tick",   "other"};

static size_t skip_ws(const char *p, size_t i, size_t n)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')) {
        i++;
    }
    return i;
}

/* The event type of a line: the first "type" key followed (JSON whitespace
 * allowed around the colon, as serializers such as Python's write it) by
 * one of the type names; "other" when there is none. */
int ks_metrics_type(const char *line, size_t n)
{
    size_t at = 0;
    const char *p;
    while (at < n && (p = memmem(line + at, n - at, "\"type\"", 6)) != NULL) {
        size_t i = skip_ws(line, (size_t)(p - line) + 6, n);
        at = (size_t)(p - line) + 6;
        if (i >= n || line[i] != ':') {
            continue;
        }
        i = skip_ws(line, i + 1, n);
        if (i >= n || line[i] != '"') {
            continue;
        }
        i++;
        for (int t = 0; t < KS_METRICS_TYPES - 1; t++) {
            size_t k = strlen(types[t]);
            if (i + k < n && memcmp(line + i, types[t], k) == 0 && line[i + k] == '"') {
                return t;
            }
        }
        return KS_METRICS_TYPES - 1;
    }
    return KS_METRICS_TYPES - 1;
}

/* ---- rendering ------------------------------------------------------------ */

static void head(struct ks_buf *o, const char *name, const char *type, const char *help)
{
    ks_buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

struct inc_counts {
    /* opened by type x severity; open now by severity; detection gaps */
    char types[32][40];
    uint64_t opened[32][3];
    size_t ntypes;
    uint64_t open_now[3];
    uint64_t gap_buckets[12], gap_count;
    int64_t gap_sum_ms; /* summed exactly, divided once when written */
    int64_t *open_ids; /* the incidents not resolved (sorted before the hooks are counted) */
    size_t nopen, capopen;
    /* every incident, to count it by the severity it was detected with (a
     * counter's series never goes down when an incident is raised) */
    struct opened_row {
        int64_t id;
        ks_time detected_at;
        uint8_t type, sev; /* sev: the highest it reached, if the engine does not say */
    } *rows;
    size_t nrows, caprows;
};

static const double gap_bounds[] = {0, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 21600, 86400};
#define NGAP (sizeof(gap_bounds) / sizeof(gap_bounds[0]))

static int count_incident(void *ctx, const struct ks_incident_row *row)
{
    struct inc_counts *c = ctx;
    int sev = row->severity && row->severity[0] == 'P' ? row->severity[1] - '1' : 2;
    if (sev < 0 || sev > 2) {
        sev = 2;
    }
    size_t t = 0;
    while (t < c->ntypes && strcmp(c->types[t], row->type) != 0) {
        t++;
    }
    if (t == c->ntypes && t < 32) {
        snprintf(c->types[t], sizeof(c->types[t]), "%s", row->type);
        c->ntypes++;
    }
    if (t < c->ntypes) {
        KS_GROW(c->rows, c->caprows, c->nrows + 1);
        c->rows[c->nrows++] = (struct opened_row){row->id, row->detected_at, (uint8_t)t,
                                                  (uint8_t)sev};
    }
    if (strcmp(row->status, "resolved") != 0) {
        c->open_now[sev]++;
        KS_GROW(c->open_ids, c->capopen, c->nopen + 1);
        c->open_ids[c->nopen++] = row->id;
    }
    json_t *j = json_loads(row->summary_json, 0, NULL);
    const char *st = j ? json_string_value(json_object_get(j, "started_at")) : NULL;
    ks_time started;
    const char *why;
    if (st && ks_time_parse(st, strlen(st), &started, &why) == 0 &&
        row->detected_at != KS_TIME_NONE && row->detected_at >= started) {
        double gap = (double)(row->detected_at - started) / 1e3;
        for (size_t b = 0; b < NGAP; b++) {
            if (gap <= gap_bounds[b]) {
                c->gap_buckets[b]++;
            }
        }
        c->gap_count++;
        c->gap_sum_ms += row->detected_at - started;
    }
    json_decref(j);
    return 0;
}

struct hook_counts {
    uint64_t pending, failed, done, unconfigured;
    uint64_t failed_open; /* failed, of an incident not resolved */
    const struct inc_counts *ic;
};

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int count_hook(void *ctx, const struct ks_hook_row *r)
{
    struct hook_counts *h = ctx;
    if (strcmp(r->status, "pending") == 0) {
        h->pending++;
    } else if (strcmp(r->status, "failed") == 0) {
        h->failed++;
        h->failed_open += h->ic->nopen && bsearch(&r->incident, h->ic->open_ids, h->ic->nopen,
                                                  sizeof(int64_t), cmp_id) != NULL;
    } else if (strcmp(r->status, "done") == 0) {
        h->done++;
    } else {
        h->unconfigured++;
    }
    return 0;
}

/* Each incident counted by the severity it had at its detection (the
 * engine's detection entry); one the engine does not know yet by its row's. */
static enum ks_rc read_opened(const struct ks_engine *e, void *ctx, struct ks_buf *out,
                              struct ks_err *err)
{
    (void)out, (void)err;
    struct inc_counts *c = ctx;
    for (size_t i = 0; i < c->nrows; i++) {
        const struct opened_row *r = &c->rows[i];
        int s = r->detected_at != KS_TIME_NONE ? ks_engine_severity_at(e, r->id, r->detected_at)
                                                : 0;
        c->opened[r->type][s >= 1 && s <= 3 ? s - 1 : r->sev]++;
    }
    return KS_OK;
}

static enum ks_rc read_guard(const struct ks_engine *e, void *ctx, struct ks_buf *out,
                             struct ks_err *err)
{
    (void)ctx, (void)err;
    ks_engine_guard_status_json(e, out);
    return KS_OK;
}

static void label_escape(struct ks_buf *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            ks_buf_putc(o, '\\');
            ks_buf_putc(o, *s);
        } else if (*s == '\n') {
            ks_buf_puts(o, "\\n");
        } else {
            ks_buf_putc(o, *s);
        }
    }
}

/* A sample value or a bucket bound as Prometheus's client libraries write
 * it: the shortest form that reads back as the same double (0.1, 0.0005, 5),
 * never the 17 digits of its binary value ("0.10000000000000001"): a bound
 * is a label, and a query on le="0.1" must find it. */
static void num(struct ks_buf *o, double v)
{
    if (isnan(v)) {
        ks_buf_puts(o, "NaN");
        return;
    }
    if (isinf(v)) {
        ks_buf_puts(o, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char tmp[40];
    ks_buf_puts(o, ks_fmt_shortest(v, tmp));
}

/* "NAME{receiver="R"} ", the value to follow. */
static void receiver_series(struct ks_buf *o, const char *name, const char *receiver)
{
    ks_buf_puts(o, name);
    ks_buf_puts(o, "{receiver=\"");
    label_escape(o, receiver);
    ks_buf_puts(o, "\"} ");
}

/* The gauges by receiver (ks_shell_receivers), a value per receiver each. */
enum rv_gauge { RV_FAILED, RV_QUEUED, RV_RETRYING, RV_BEHIND, RV_GAUGES };
static const struct {
    const char *name, *help;
} rv_gauges[RV_GAUGES] = {
    {"kintsugi_messages_failed",
     "Messages that gave up, by receiver (kintsugi messages retry-failed queues them again)."},
    {"kintsugi_messages_queued",
     "Messages waiting for their receiver (the server delivers each receiver's on a thread of "
     "its own)."},
    {"kintsugi_messages_retrying",
     "1 while a message waiting for the receiver failed its last attempt and waits for a retry "
     "(the receiver is failing now; the others wait behind it), else 0."},
    {"kintsugi_messages_oldest_queued_seconds",
     "Engine clock minus the creation of the oldest message waiting for the receiver (0: none "
     "waits): how far behind the receiver is."},
};

static double rv_value(const struct ks_receiver_state *r, enum rv_gauge g, ks_time clock)
{
    switch (g) {
    case RV_FAILED:
        return (double)r->failed;
    case RV_QUEUED:
        return (double)r->queued;
    case RV_RETRYING:
        return r->queued && r->retrying ? 1.0 : 0.0;
    default: /* RV_BEHIND */
        return r->oldest_queued == KS_TIME_NONE || clock <= r->oldest_queued
                   ? 0.0
                   : (double)(clock - r->oldest_queued) / 1e3;
    }
}

enum ks_rc ks_metrics_render(struct ks_live *l, struct ks_metrics *m, struct ks_buf *o,
                             struct ks_err *err)
{
    struct ks_store *s = ks_live_reader(l, err);
    if (!s) {
        return err->rc;
    }
    struct inc_counts ic;
    memset(&ic, 0, sizeof(ic));
    if (s->ops->list_incidents(s, NULL, count_incident, &ic, err) != KS_OK) {
        ks_free(ic.open_ids);
        ks_free(ic.rows);
        return err->rc;
    }
    struct ks_buf none = {0};
    if (ks_live_read(l, read_opened, &ic, &none, err) != KS_OK) {
        for (size_t i = 0; i < ic.nrows; i++) {
            ic.opened[ic.rows[i].type][ic.rows[i].sev]++; /* the rows alone */
        }
    }
    ks_buf_fini(&none);
    ks_free(ic.rows);
    if (ic.nopen > 1) {
        qsort(ic.open_ids, ic.nopen, sizeof(int64_t), cmp_id);
    }
    struct hook_counts hc = {.ic = &ic};
    enum ks_rc hrc = s->ops->list_hooks(s, NULL, count_hook, &hc, err);
    ks_free(ic.open_ids);
    if (hrc != KS_OK) {
        return err->rc;
    }
    /* by receiver, one grouped query (a configured receiver is always a series) */
    struct ks_receiver_state *rv;
    size_t nrv;
    if (ks_shell_receivers(s, &l->a.cfg, &rv, &nrv, err) != KS_OK) {
        return err->rc;
    }
    int64_t queued = 0, sent = 0, failed = 0;
    for (size_t i = 0; i < nrv; i++) {
        queued += rv[i].queued;
        sent += rv[i].sent;
        failed += rv[i].failed;
    }
    struct ks_buf g = {0};
    uint64_t paused = 0, held = 0, held_values = 0;
    if (ks_live_read(l, read_guard, NULL, &g, err) == KS_OK) {
        json_t *j = json_loadb(g.p ? g.p : "{}", g.len ? g.len : 2, 0, NULL);
        size_t i;
        json_t *ch;
        json_array_foreach(json_object_get(j, "channels"), i, ch)
        {
            paused += json_is_true(json_object_get(ch, "paused"));
            held += (uint64_t)json_integer_value(json_object_get(ch, "held"));
            held_values += json_array_size(json_object_get(ch, "held_values"));
        }
        json_decref(j);
    }
    ks_buf_fini(&g);
    struct ks_live_stats st;
    ks_live_stats(l, &st);

    head(o, "kintsugi_build_info", "gauge", "The kintsugi build serving.");
    ks_buf_puts(o, "kintsugi_build_info{version=\"" KS_VERSION "\"} 1\n");
    head(o, "kintsugi_ready", "gauge", "1 when the state is loaded and the writer runs.");
    ks_buf_printf(o, "kintsugi_ready %d\n", ks_live_ready(l));

    head(o, "kintsugi_events_total", "counter",
         "Event lines received over HTTP, by type and outcome (accepted, duplicate, rejected).");
    static const char *const outcome[3] = {"accepted", "duplicate", "rejected"};
    for (int t = 0; t < KS_METRICS_TYPES; t++) {
        for (int k = 0; k < 3; k++) {
            uint64_t v = __atomic_load_n(&l->by_type[t][k], __ATOMIC_RELAXED);
            ks_buf_printf(o, "kintsugi_events_total{type=\"%s\",outcome=\"%s\"} %llu\n", types[t],
                          outcome[k], (unsigned long long)v);
        }
    }
    head(o, "kintsugi_commits_total", "counter",
         "Store transactions of the writer (each may carry several requests).");
    ks_buf_printf(o, "kintsugi_commits_total %llu\n", (unsigned long long)st.commits);
    head(o, "kintsugi_store_reconnects_total", "counter",
         "Times the writer took a shared store (PostgreSQL) up again after it failed.");
    ks_buf_printf(o, "kintsugi_store_reconnects_total %llu\n", (unsigned long long)st.reconnects);
    head(o, "kintsugi_commands_total", "counter", "People's actions and clock ticks applied.");
    ks_buf_printf(o, "kintsugi_commands_total %llu\n", (unsigned long long)st.commands);
    head(o, "kintsugi_engine_clock_seconds", "gauge", "The engine clock (Unix time).");
    ks_buf_puts(o, "kintsugi_engine_clock_seconds ");
    num(o, st.clock > 0 ? (double)st.clock / 1e3 : 0.0);
    ks_buf_putc(o, '\n');

    static const char *const sev[3] = {"P1", "P2", "P3"};
    head(o, "kintsugi_incidents_opened_total", "counter",
         "Incidents opened, by type and the severity they were detected with.");
    for (size_t t = 0; t < ic.ntypes; t++) {
        for (int k = 0; k < 3; k++) {
            ks_buf_puts(o, "kintsugi_incidents_opened_total{type=\"");
            label_escape(o, ic.types[t]);
            ks_buf_printf(o, "\",severity=\"%s\"} %llu\n", sev[k],
                          (unsigned long long)ic.opened[t][k]);
        }
    }
    head(o, "kintsugi_incidents_open", "gauge", "Incidents not resolved, by severity.");
    for (int k = 0; k < 3; k++) {
        ks_buf_printf(o, "kintsugi_incidents_open{severity=\"%s\"} %llu\n", sev[k],
                      (unsigned long long)ic.open_now[k]);
    }
    head(o, "kintsugi_detection_gap_seconds", "histogram",
         "From a problem's start to its detection, per incident (event time).");
    for (size_t b = 0; b < NGAP; b++) {
        ks_buf_puts(o, "kintsugi_detection_gap_seconds_bucket{le=\"");
        num(o, gap_bounds[b]);
        ks_buf_printf(o, "\"} %llu\n", (unsigned long long)ic.gap_buckets[b]);
    }
    ks_buf_printf(o, "kintsugi_detection_gap_seconds_bucket{le=\"+Inf\"} %llu\n",
                  (unsigned long long)ic.gap_count);
    ks_buf_puts(o, "kintsugi_detection_gap_seconds_sum ");
    num(o, (double)ic.gap_sum_ms / 1e3);
    ks_buf_printf(o, "\nkintsugi_detection_gap_seconds_count %llu\n",
                  (unsigned long long)ic.gap_count);

    head(o, "kintsugi_guard_paused_channels", "gauge", "Channels the guard holds paused.");
    ks_buf_printf(o, "kintsugi_guard_paused_channels %llu\n", (unsigned long long)paused);
    head(o, "kintsugi_guard_held_updates", "gauge", "Updates held back from channels.");
    ks_buf_printf(o, "kintsugi_guard_held_updates %llu\n", (unsigned long long)held);
    head(o, "kintsugi_guard_held_values", "gauge", "SKU values held one by one.");
    ks_buf_printf(o, "kintsugi_guard_held_values %llu\n", (unsigned long long)held_values);

    head(o, "kintsugi_outbox", "gauge", "Hook calls and messages in the outbox, by status.");
    ks_buf_printf(o,
                  "kintsugi_outbox{kind=\"hook\",status=\"pending\"} %llu\n"
                  "kintsugi_outbox{kind=\"hook\",status=\"failed\"} %llu\n"
                  "kintsugi_outbox{kind=\"hook\",status=\"done\"} %llu\n"
                  "kintsugi_outbox{kind=\"hook\",status=\"unconfigured\"} %llu\n",
                  (unsigned long long)hc.pending, (unsigned long long)hc.failed,
                  (unsigned long long)hc.done, (unsigned long long)hc.unconfigured);
    ks_buf_printf(o,
                  "kintsugi_outbox{kind=\"message\",status=\"queued\"} %llu\n"
                  "kintsugi_outbox{kind=\"message\",status=\"sent\"} %llu\n"
                  "kintsugi_outbox{kind=\"message\",status=\"failed\"} %llu\n",
                  (unsigned long long)queued, (unsigned long long)sent,
                  (unsigned long long)failed);
    head(o, "kintsugi_hooks_gave_up_open", "gauge",
         "Hook calls that gave up (failed) for incidents not resolved: containment a person "
         "must do by hand, or retry.");
    ks_buf_printf(o, "kintsugi_hooks_gave_up_open %llu\n", (unsigned long long)hc.failed_open);
    for (int k = 0; k < RV_GAUGES; k++) {
        head(o, rv_gauges[k].name, "gauge", rv_gauges[k].help);
        for (size_t i = 0; i < nrv; i++) {
            receiver_series(o, rv_gauges[k].name, rv[i].name);
            num(o, rv_value(&rv[i], (enum rv_gauge)k, st.clock));
            ks_buf_putc(o, '\n');
        }
    }
    ks_shell_receivers_free(rv, nrv);

    head(o, "kintsugi_http_request_duration_seconds", "histogram",
         "HTTP requests from headers received to answer sent, by route.");
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->nroutes; i++) {
        const struct ks_metrics_route *r = &m->routes[i];
        for (size_t b = 0; b < NLAT; b++) {
            ks_buf_puts(o, "kintsugi_http_request_duration_seconds_bucket{route=\"");
            label_escape(o, r->route);
            ks_buf_puts(o, "\",le=\"");
            num(o, lat_bounds[b]);
            ks_buf_printf(o, "\"} %llu\n", (unsigned long long)r->buckets[b]);
        }
        ks_buf_puts(o, "kintsugi_http_request_duration_seconds_bucket{route=\"");
        label_escape(o, r->route);
        ks_buf_printf(o, "\",le=\"+Inf\"} %llu\n", (unsigned long long)r->count);
        ks_buf_puts(o, "kintsugi_http_request_duration_seconds_sum{route=\"");
        label_escape(o, r->route);
        ks_buf_puts(o, "\"} ");
        num(o, (double)r->sum_us / 1e6);
        ks_buf_puts(o, "\nkintsugi_http_request_duration_seconds_count{route=\"");
        label_escape(o, r->route);
        ks_buf_printf(o, "\"} %llu\n", (unsigned long long)r->count);
    }
    head(o, "kintsugi_http_requests_total", "counter", "HTTP requests answered, by route and class.");
    static const char *const cls[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    for (size_t i = 0; i < m->nroutes; i++) {
        for (int k = 0; k < 5; k++) {
            if (!m->routes[i].by_class[k]) {
                continue;
            }
            ks_buf_puts(o, "kintsugi_http_requests_total{route=\"");
            label_escape(o, m->routes[i].route);
            ks_buf_printf(o, "\",code=\"%s\"} %llu\n", cls[k],
                          (unsigned long long)m->routes[i].by_class[k]);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return KS_OK;
}
