/*
 * scope.c - what an alert says about its incident: severity words, scope
 * (channels, locations, systems), type and title, from a PagerDuty event or
 * an Alertmanager body. docs/ALERTS.md states the rules for users; this file
 * is the one place that applies them.
 */
#include "alerts_int.h"

#include <stdlib.h>
#include <strings.h>

/* ---- small shared helpers ---------------------------------------------- */

void ks_alerts_strs_add(struct ks_alert_strs *l, const char *s, size_t n)
{
    if (n == 0) {
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (strlen(l->v[i]) == n && memcmp(l->v[i], s, n) == 0) {
            return;
        }
    }
    KS_GROW(l->v, l->cap, l->n + 1);
    l->v[l->n++] = ks_strndup(s, n);
}

void ks_alerts_strs_fini(struct ks_alert_strs *l)
{
    for (size_t i = 0; i < l->n; i++) {
        ks_free(l->v[i]);
    }
    ks_free(l->v);
    memset(l, 0, sizeof(*l));
}

static int dump_to_buf(const char *p, size_t n, void *data)
{
    ks_buf_put(data, p, n);
    return 0;
}

char *ks_alerts_dump(json_t *v)
{
    struct ks_buf b = {0};
    json_dump_callback(v, dump_to_buf, &b, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!b.p) {
        ks_buf_put(&b, "null", 4);
    }
    return b.p;
}

size_t ks_alerts_utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    return c;
}

/* kintsugi's incident types (SPEC section 3), which an alert may name. */
static const char *const known_types[] = {
    "sync_failure",      "volume_drop",        "data_corruption",
    "order_rejections",  "system_outage",      "supplier_shortfall",
    "fulfillment_error", "feed_schema_change", "metric_anomaly",
};

int ks_alerts_known_type(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof(known_types) / sizeof(known_types[0]); i++) {
        if (strlen(known_types[i]) == n && memcmp(known_types[i], s, n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- severity ---------------------------------------------------------- */

const char *ks_alert_severity_name(int severity)
{
    static const char *const names[] = {NULL, "P1", "P2", "P3"};
    return severity >= 1 && severity <= 3 ? names[severity] : NULL;
}

int ks_alert_severity_parse(const char *s, size_t n)
{
    static const struct {
        const char *word;
        int sev;
    } words[] = {
        {"critical", KS_ALERT_P1}, {"p1", KS_ALERT_P1},      {"error", KS_ALERT_P2},
        {"p2", KS_ALERT_P2},       {"warning", KS_ALERT_P3}, {"info", KS_ALERT_P3},
        {"p3", KS_ALERT_P3},
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strlen(words[i].word) == n && strncasecmp(words[i].word, s, n) == 0) {
            return words[i].sev;
        }
    }
    return 0;
}

/* ---- scope ------------------------------------------------------------- */

void ks_alert_scope_fini(struct ks_alert_scope *s)
{
    if (!s) {
        return;
    }
    ks_alerts_strs_fini(&s->channels);
    ks_alerts_strs_fini(&s->locations);
    ks_alerts_strs_fini(&s->systems);
    ks_free(s->title);
    memset(s, 0, sizeof(*s));
}

static void scope_start(struct ks_alert_scope *s)
{
    memset(s, 0, sizeof(*s));
    strcpy(s->type, "external");
}

/* Takes one label or field into the scope: channel, location, component,
 * system and type; severity words are the caller's business. */
static void scope_take(struct ks_alert_scope *s, const char *key, size_t klen, const char *val,
                       size_t vlen)
{
#define IS(k) (klen == sizeof(k) - 1 && memcmp(key, k, klen) == 0)
    if (IS("channel")) {
        ks_alerts_strs_add(&s->channels, val, vlen);
    } else if (IS("location")) {
        ks_alerts_strs_add(&s->locations, val, vlen);
    } else if (IS("component") || IS("system")) {
        ks_alerts_strs_add(&s->systems, val, vlen);
    } else if (IS("type") && strcmp(s->type, "external") == 0 && ks_alerts_known_type(val, vlen)) {
        memcpy(s->type, val, vlen);
        s->type[vlen] = '\0';
    }
#undef IS
}

/*
 * The label lines of the text Alertmanager's PagerDuty receiver puts in
 * custom_details.firing and .resolved (its default template), one block per
 * alert:
 *
 *   Labels:
 *    - channel = amazon
 *    - severity = critical
 *   Annotations:
 *    - summary = ...
 *   Source: http://...
 */
static void scope_take_rendered(struct ks_alert_scope *s, const char *text)
{
    int in_labels = 0;
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 7 && memcmp(p, "Labels:", 7) == 0) {
            in_labels = 1;
        } else if (n >= 3 && memcmp(p, " - ", 3) == 0) {
            /* Label names hold no blanks, so the first " = " ends the name. */
            const char *eq = in_labels ? memmem(p + 3, n - 3, " = ", 3) : NULL;
            if (eq) {
                const char *v = eq + 3;
                scope_take(s, p + 3, (size_t)(eq - p - 3), v, (size_t)(p + n - v));
            }
        } else {
            in_labels = 0;
        }
        p += n + (e != NULL);
    }
}

/* The labels objects of an array of alerts, as newer Alertmanagers render
 * custom_details.firing ({{ .Alerts.Firing | toJson }}), as an array or as
 * the text of one. */
static void scope_take_json_alerts(struct ks_alert_scope *s, json_t *a)
{
    json_t *e;
    size_t i;
    json_array_foreach(a, i, e)
    {
        json_t *labels = json_object_get(e, "labels"), *v;
        const char *key;
        json_object_foreach(labels, key, v)
        {
            if (json_is_string(v)) {
                scope_take(s, key, strlen(key), json_string_value(v), json_string_length(v));
            }
        }
    }
}

/* Whether custom_details.firing (or .resolved) names any alert. */
static int has_alerts(json_t *v)
{
    return (json_is_string(v) && json_string_length(v) > 0 &&
            strcmp(json_string_value(v), "[]") != 0 && strcmp(json_string_value(v), "null") != 0) ||
           json_array_size(v) > 0;
}

/* Alertmanager's custom_details.firing or .resolved, in whichever form. */
static void scope_take_alerts(struct ks_alert_scope *s, json_t *v)
{
    if (json_is_array(v)) {
        scope_take_json_alerts(s, v);
    } else if (json_is_string(v) && json_string_value(v)[0] == '[') {
        json_t *a = json_loads(json_string_value(v), 0, NULL);
        scope_take_json_alerts(s, a);
        json_decref(a);
    } else if (json_is_string(v)) {
        scope_take_rendered(s, json_string_value(v));
    }
}

void ks_alert_scope_pagerduty(const struct ks_pd_event *ev, struct ks_alert_scope *out)
{
    scope_start(out);
    out->severity = ev->severity ? ev->severity : KS_ALERT_P3;
    out->severity_named = ev->severity != 0;
    out->title = ks_strdup(ev->summary ? ev->summary : ev->dedup_key ? ev->dedup_key : "");
    if (ev->component) {
        ks_alerts_strs_add(&out->systems, ev->component, strlen(ev->component));
    }
    json_t *cd = ev->custom_details ? json_loads(ev->custom_details, JSON_DECODE_ANY, NULL) : NULL;
    if (json_is_object(cd)) {
        static const char *const keys[] = {"type", "channel", "location", "system", "component"};
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            json_t *v = json_object_get(cd, keys[k]), *e;
            size_t i;
            if (json_is_string(v)) {
                scope_take(out, keys[k], strlen(keys[k]), json_string_value(v),
                           json_string_length(v));
            }
            json_array_foreach(v, i, e)
            {
                if (json_is_string(e)) {
                    scope_take(out, keys[k], strlen(keys[k]), json_string_value(e),
                               json_string_length(e));
                }
            }
        }
        /* Alertmanager's receiver: the firing alerts' labels, or the
         * resolved ones' when none fires (as for its webhook, below). */
        json_t *firing = json_object_get(cd, "firing");
        scope_take_alerts(out, has_alerts(firing) ? firing : json_object_get(cd, "resolved"));
    }
    json_decref(cd);
}

static void scope_take_labels(struct ks_alert_scope *s, const struct ks_am_labels *l)
{
    for (size_t i = 0; i < l->n; i++) {
        scope_take(s, l->kv[i].key, strlen(l->kv[i].key), l->kv[i].value, strlen(l->kv[i].value));
    }
}

/* The severity a set of labels names, 0 for none. */
static int label_severity(const struct ks_am_labels *l)
{
    const char *v = ks_am_label(l, "severity");
    return v ? ks_alert_severity_parse(v, strlen(v)) : 0;
}

void ks_alert_scope_alertmanager(const struct ks_am_webhook *w, struct ks_alert_scope *out)
{
    scope_start(out);
    size_t nfiring = 0;
    for (size_t i = 0; i < w->nalerts; i++) {
        nfiring += w->alerts[i].status == KS_AM_FIRING;
    }
    int sev = 0;
    for (size_t i = 0; i < w->nalerts; i++) {
        const struct ks_am_alert *a = &w->alerts[i];
        if (nfiring && a->status != KS_AM_FIRING) {
            continue;
        }
        scope_take_labels(out, &a->labels);
        int s = label_severity(&a->labels);
        if (s && (!sev || s < sev)) {
            sev = s;
        }
    }
    scope_take_labels(out, &w->common_labels);
    if (!sev) {
        sev = label_severity(&w->common_labels);
    }
    out->severity = sev ? sev : KS_ALERT_P3;
    out->severity_named = sev != 0;

    const char *title = ks_am_label(&w->common_annotations, "summary");
    if (!title) {
        title = ks_am_label(&w->common_labels, "alertname");
    }
    if (!title) {
        title = ks_am_label(&w->group_labels, "alertname");
    }
    for (size_t i = 0; !title && i < w->nalerts; i++) {
        title = ks_am_label(&w->alerts[i].annotations, "summary");
        if (!title) {
            title = ks_am_label(&w->alerts[i].labels, "alertname");
        }
    }
    if (title) {
        out->title = ks_strdup(title);
    } else {
        struct ks_buf b = {0};
        ks_buf_printf(&b, "Alertmanager group %s", w->group_key ? w->group_key : "");
        out->title = b.p;
    }
}
