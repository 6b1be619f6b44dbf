/*
 * alertmanager.c - the Prometheus Alertmanager webhook body, version 4
 * (POST /v1/alertmanager): parsing, validation, and the SHA-256 of the
 * groupKey that ties a webhook group to the dedup_key Alertmanager's
 * PagerDuty receiver sends for it.
 *
 * Validation stops at the first fault, like the event decoder, and names
 * it in the house style: `alertmanager: field "alerts[2].startsAt" must be
 * an RFC 3339 timestamp ..., got "yesterday"`. Fields are checked in a fixed
 * order: version, groupKey, status, receiver, truncatedAlerts, groupLabels,
 * commonLabels, commonAnnotations, externalURL, then each alert's status,
 * fingerprint, labels, annotations, startsAt, endsAt, generatorURL. Unknown
 * fields are ignored (Alertmanager adds some now and then); JSON null counts
 * as absent.
 */
#include "alerts_int.h"

#include <openssl/evp.h>
#include <stdlib.h>

const char *ks_am_status_name(enum ks_am_status s)
{
    switch (s) {
    case KS_AM_FIRING:
        return "firing";
    case KS_AM_RESOLVED:
        return "resolved";
    }
    return NULL;
}

const char *ks_am_label(const struct ks_am_labels *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->kv[i].key, key) == 0) {
            return l->kv[i].value;
        }
    }
    return NULL;
}

static void labels_fini(struct ks_am_labels *l)
{
    for (size_t i = 0; i < l->n; i++) {
        ks_free(l->kv[i].key);
        ks_free(l->kv[i].value);
    }
    ks_free(l->kv);
    memset(l, 0, sizeof(*l));
}

void ks_am_webhook_fini(struct ks_am_webhook *w)
{
    if (!w) {
        return;
    }
    ks_free(w->version);
    ks_free(w->group_key);
    ks_free(w->receiver);
    ks_free(w->external_url);
    labels_fini(&w->group_labels);
    labels_fini(&w->common_labels);
    labels_fini(&w->common_annotations);
    for (size_t i = 0; i < w->nalerts; i++) {
        labels_fini(&w->alerts[i].labels);
        labels_fini(&w->alerts[i].annotations);
        ks_free(w->alerts[i].generator_url);
    }
    ks_free(w->alerts);
    memset(w, 0, sizeof(*w));
}

/* ---- rejection messages ------------------------------------------------ */

/* Offending values are shown as compact JSON cut to SHOW_MAX bytes, as the
 * event decoder shows them. */
#define SHOW_MAX 40

/* s cut to SHOW_MAX bytes on a UTF-8 boundary, "..." added when cut, and
 * control characters as '?', so that a message stays one readable line. */
static void show_text(const char *s, size_t n, char out[SHOW_MAX + 4])
{
    int cut = n > SHOW_MAX;
    if (cut) {
        n = SHOW_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
            n--;
        }
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    }
    strcpy(out + n, cut ? "..." : "");
}

static void show_value(json_t *v, char out[SHOW_MAX + 4])
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    show_text(s ? s : "?", s ? strlen(s) : 1, out);
    free(s);
}

static enum ks_rc fail(struct ks_err *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Rejects with `alertmanager: field "FIELD" REASON`. */
static enum ks_rc fail(struct ks_err *err, const char *field, const char *fmt, ...)
{
    char why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return ks_err_set(err, KS_EINPUT, "alertmanager: field \"%s\" %s", field, why);
}

/* Rejects with `alertmanager: field "FIELD" WHY, got VALUE`. */
static enum ks_rc fail_got(struct ks_err *err, const char *field, json_t *v, const char *why)
{
    char shown[SHOW_MAX + 4];
    show_value(v, shown);
    return fail(err, field, "%s, got %s", why, shown);
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        enum ks_rc try_rc_ = (x);                                                                  \
        if (try_rc_ != KS_OK) {                                                                    \
            return try_rc_;                                                                        \
        }                                                                                          \
    } while (0)

/* ---- field readers ----------------------------------------------------- */

/* A string; a required one must be non-empty, an empty optional one stays
 * NULL. */
static enum ks_rc str_value(struct ks_err *err, const char *field, json_t *v, int required,
                            char **out)
{
    if (!v) {
        return required ? fail(err, field, "is required") : KS_OK;
    }
    if (!json_is_string(v) || (required && json_string_length(v) == 0)) {
        return fail_got(err, field, v,
                        required ? "must be a non-empty string" : "must be a string");
    }
    if (json_string_length(v) > 0) {
        *out = ks_strndup(json_string_value(v), json_string_length(v));
    }
    return KS_OK;
}

static enum ks_rc status_value(struct ks_err *err, const char *field, json_t *v,
                               enum ks_am_status *out)
{
    if (!v) {
        return fail(err, field, "is required");
    }
    if (json_is_string(v) && strcmp(json_string_value(v), "firing") == 0) {
        *out = KS_AM_FIRING;
        return KS_OK;
    }
    if (json_is_string(v) && strcmp(json_string_value(v), "resolved") == 0) {
        *out = KS_AM_RESOLVED;
        return KS_OK;
    }
    return fail_got(err, field, v, "must be one of firing, resolved");
}

/* Go's zero time.Time, which Alertmanager sends as endsAt while an alert
 * fires: 0001-01-01T00:00:00Z. */
static ks_time zero_time(void)
{
    return ks_days_from_civil(1, 1, 1) * KS_DAY;
}

/* An RFC 3339 timestamp; Go's zero time reads as KS_TIME_NONE. */
static enum ks_rc time_value(struct ks_err *err, const char *field, json_t *v, int required,
                             ks_time *out)
{
    *out = KS_TIME_NONE;
    if (!v) {
        return required ? fail(err, field, "is required") : KS_OK;
    }
    if (!json_is_string(v)) {
        return fail_got(err, field, v, "must be an RFC 3339 timestamp");
    }
    const char *why = "is not a timestamp";
    ks_time t;
    if (ks_time_parse(json_string_value(v), json_string_length(v), &t, &why) != 0) {
        /* The core's first reason offers epoch milliseconds, which the
         * webhook never carries. */
        return fail_got(
            err, field, v,
            strstr(why, "epoch") ? "must be an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SSZ)" : why);
    }
    *out = t == zero_time() ? KS_TIME_NONE : t;
    return KS_OK;
}

/* An object of strings (labels or annotations), absent = empty. */
static enum ks_rc labels_value(struct ks_err *err, const char *field, json_t *v,
                               struct ks_am_labels *out)
{
    if (!v) {
        return KS_OK;
    }
    if (!json_is_object(v)) {
        return fail_got(err, field, v, "must be an object of strings");
    }
    size_t n = json_object_size(v);
    const char *key;
    json_t *val;
    out->kv = ks_calloc(n ? n : 1, sizeof(*out->kv));
    /* jansson keeps insertion order, so labels come out as sent. */
    json_object_foreach(v, key, val)
    {
        if (!json_is_string(val)) {
            char f[160], shown[SHOW_MAX + 4];
            show_text(key, strlen(key), shown);
            snprintf(f, sizeof(f), "%s.%s", field, shown);
            return fail_got(err, f, val, "must be a string");
        }
        struct ks_am_kv *kv = &out->kv[out->n++];
        kv->key = ks_strdup(key);
        kv->value = ks_strndup(json_string_value(val), json_string_length(val));
    }
    return KS_OK;
}

/* ---- the body ---------------------------------------------------------- */

static void sha256_hex(const char *s, size_t n, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    KS_ASSERT(EVP_Digest(s, n, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32);
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

static int cmp_fp(const void *a, const void *b)
{
    const struct ks_am_alert *x = *(const struct ks_am_alert *const *)a;
    const struct ks_am_alert *y = *(const struct ks_am_alert *const *)b;
    int c = strcmp(x->fingerprint, y->fingerprint);
    /* equal fingerprints: the earlier alert first, so a duplicate names it */
    return c ? c : (x < y ? -1 : x > y);
}

/* Two alerts with one fingerprint would make the group state ambiguous;
 * Alertmanager never sends them. */
static enum ks_rc unique_fingerprints(struct ks_am_webhook *w, struct ks_err *err)
{
    if (w->nalerts < 2) {
        return KS_OK;
    }
    const struct ks_am_alert **by = ks_malloc(w->nalerts * sizeof(*by));
    for (size_t i = 0; i < w->nalerts; i++) {
        by[i] = &w->alerts[i];
    }
    qsort(by, w->nalerts, sizeof(*by), cmp_fp);
    enum ks_rc rc = KS_OK;
    for (size_t i = 1; i < w->nalerts && rc == KS_OK; i++) {
        if (strcmp(by[i - 1]->fingerprint, by[i]->fingerprint) == 0) {
            char f[48];
            snprintf(f, sizeof(f), "alerts[%zu].fingerprint", (size_t)(by[i] - w->alerts));
            rc = fail(err, f, "repeats the fingerprint of alerts[%zu]",
                      (size_t)(by[i - 1] - w->alerts));
        }
    }
    ks_free(by);
    return rc;
}

static enum ks_rc alert_value(struct ks_err *err, size_t i, json_t *a, struct ks_am_alert *out)
{
    char f[64];
#define FIELD(name) (snprintf(f, sizeof(f), "alerts[%zu]%s", i, name), f)
    if (!json_is_object(a)) {
        return fail_got(err, FIELD(""), a, "must be an object");
    }
    TRY(status_value(err, FIELD(".status"), ks_alerts_member(a, "status"), &out->status));
    json_t *fp = ks_alerts_member(a, "fingerprint");
    if (!fp) {
        return fail(err, FIELD(".fingerprint"), "is required");
    }
    if (!json_is_string(fp) || json_string_length(fp) == 0 ||
        json_string_length(fp) > KS_AM_FINGERPRINT_MAX) {
        return fail_got(err, FIELD(".fingerprint"), fp,
                        "must be a non-empty string of at most 64 bytes");
    }
    memcpy(out->fingerprint, json_string_value(fp), json_string_length(fp) + 1);
    json_t *lv = ks_alerts_member(a, "labels");
    if (!lv) {
        return fail(err, FIELD(".labels"), "is required");
    }
    TRY(labels_value(err, FIELD(".labels"), lv, &out->labels));
    TRY(labels_value(err, FIELD(".annotations"), ks_alerts_member(a, "annotations"),
                     &out->annotations));
    TRY(time_value(err, FIELD(".startsAt"), ks_alerts_member(a, "startsAt"), 1, &out->starts_at));
    TRY(time_value(err, FIELD(".endsAt"), ks_alerts_member(a, "endsAt"), 0, &out->ends_at));
    return str_value(err, FIELD(".generatorURL"), ks_alerts_member(a, "generatorURL"), 0,
                     &out->generator_url);
#undef FIELD
}

static enum ks_rc parse(json_t *o, struct ks_am_webhook *w, struct ks_err *err)
{
    json_t *v = ks_alerts_member(o, "version");
    if (!v) {
        return fail(err, "version", "is required");
    }
    if (!json_is_string(v) || strcmp(json_string_value(v), "4") != 0) {
        return fail_got(err, "version", v, "must be \"4\" (the webhook format kintsugi reads)");
    }
    w->version = ks_strdup("4");
    TRY(str_value(err, "groupKey", ks_alerts_member(o, "groupKey"), 1, &w->group_key));
    sha256_hex(w->group_key, strlen(w->group_key), w->group_key_hash);
    TRY(status_value(err, "status", ks_alerts_member(o, "status"), &w->status));
    TRY(str_value(err, "receiver", ks_alerts_member(o, "receiver"), 0, &w->receiver));
    v = ks_alerts_member(o, "truncatedAlerts");
    if (v && (!json_is_integer(v) || json_integer_value(v) < 0)) {
        return fail_got(err, "truncatedAlerts", v, "must be an integer >= 0");
    }
    w->truncated_alerts = v ? json_integer_value(v) : 0;
    TRY(labels_value(err, "groupLabels", ks_alerts_member(o, "groupLabels"), &w->group_labels));
    TRY(labels_value(err, "commonLabels", ks_alerts_member(o, "commonLabels"), &w->common_labels));
    TRY(labels_value(err, "commonAnnotations", ks_alerts_member(o, "commonAnnotations"),
                     &w->common_annotations));
    TRY(str_value(err, "externalURL", ks_alerts_member(o, "externalURL"), 0, &w->external_url));

    json_t *alerts = ks_alerts_member(o, "alerts");
    if (!alerts) {
        return fail(err, "alerts", "is required");
    }
    if (!json_is_array(alerts)) {
        return fail_got(err, "alerts", alerts, "must be an array of alerts");
    }
    size_t n = json_array_size(alerts);
    w->alerts = ks_calloc(n ? n : 1, sizeof(*w->alerts));
    for (size_t i = 0; i < n; i++) {
        w->nalerts = i + 1; /* so that fini releases what a failing alert holds */
        w->alerts[i].starts_at = w->alerts[i].ends_at = KS_TIME_NONE;
        TRY(alert_value(err, i, json_array_get(alerts, i), &w->alerts[i]));
    }
    return unique_fingerprints(w, err);
}

/* max: the most bytes taken; SIZE_MAX for a recorded body, whose size was
 * checked when it was received. */
static enum ks_rc parse_body(const char *body, size_t len, size_t max, struct ks_am_webhook *out,
                             struct ks_err *err)
{
    memset(out, 0, sizeof(*out));
    KS_ASSERT(body || len == 0);
    if (len > max) {
        return ks_err_set(err, KS_EINPUT, "alertmanager: body: longer than 4 MiB (%zu bytes)", len);
    }
    json_error_t je;
    json_t *root = json_loadb(body ? body : "", len, KS_ALERTS_JSON_FLAGS, &je);
    if (!root) {
        /* One line of valid UTF-8: control characters become '?', and a
         * sequence cut by jansson's fixed-size buffer is dropped. */
        for (char *p = je.text; *p; p++) {
            *p = (unsigned char)*p < 0x20 ? '?' : *p;
        }
        size_t bad = ks_utf8_invalid_at(je.text, strlen(je.text));
        if (bad != (size_t)-1) {
            je.text[bad] = '\0';
        }
        return ks_err_set(err, KS_EINPUT,
                          KS_AM_JSON_ERROR "invalid JSON at line %d, column %d: %s", je.line,
                          je.column, je.text);
    }
    enum ks_rc rc = json_is_object(root)
                        ? parse(root, out, err)
                        : ks_err_set(err, KS_EINPUT, "alertmanager: body: not a JSON object");
    json_decref(root);
    return rc;
}

enum ks_rc ks_alert_parse_alertmanager(const char *body, size_t len, struct ks_am_webhook *out,
                                       struct ks_err *err)
{
    return parse_body(body, len, KS_AM_BODY_MAX, out, err);
}

enum ks_rc ks_alert_parse_alertmanager_recorded(const char *body, size_t len,
                                                struct ks_am_webhook *out, struct ks_err *err)
{
    return parse_body(body, len, SIZE_MAX, out, err);
}
