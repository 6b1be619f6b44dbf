/*
 * decode.c - the general event decoder (SPEC section 1) on jansson, the
 * decoder object, the name tables, and ks_event_decode, which offers every
 * line to the specialised inventory decoder (fast.c) first.
 *
 * Validation runs in a fixed order so that a line with several faults always
 * reports the same one: line length, UTF-8, JSON syntax, object, type, ts,
 * id, source, then the type's own fields in the order SPEC section 1 lists
 * them. The first fault wins and nothing of the line is applied.
 *
 * Choices the spec leaves open (docs/EVENTS.md lists them for users):
 * JSON null counts as absent; an empty optional string counts as absent; a
 * required string must be non-empty; strings must not contain NUL; unknown
 * fields are ignored for forward compatibility; duplicate keys are a JSON
 * error (which value would win is ambiguous); an integer ts lies in
 * 0..253402300799999; an order's email is one plain address.
 */
#include "event_int.h"

#include <stdlib.h>

static const char *const type_names[KS_EV__COUNT] = {
    "inventory", "sync",      "order",    "health", "stock",
    "receipt",   "complaint", "feedback", "metric", "tick",
};
#define TYPE_LIST                                                                                  \
    "inventory, sync, order, health, stock, receipt, complaint, feedback, metric, tick"

static const char *const sync_status_names[] = {"ok", "error"};
static const char *const sync_error_names[] = {"none", "auth",    "rate_limit",
                                               "api",  "timeout", "other"};
static const char *const order_status_names[] = {"accepted", "rejected", "cancelled", "shipped",
                                                 "delivered"};
static const char *const health_status_names[] = {"up", "down"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *ks_event_type_name(enum ks_event_type t)
{
    if ((unsigned)t >= KS_EV__COUNT) {
        return NULL;
    }
    return type_names[t];
}

const char *ks_sync_error_name(enum ks_sync_error e)
{
    if ((unsigned)e >= NELEM(sync_error_names)) {
        return NULL;
    }
    return sync_error_names[e];
}

const char *ks_order_status_name(enum ks_order_status s)
{
    if ((unsigned)s >= NELEM(order_status_names)) {
        return NULL;
    }
    return order_status_names[s];
}

struct ks_decoder *ks_decoder_new(void)
{
    struct ks_decoder *d = ks_calloc(1, sizeof(*d));
    d->date_ms = KS_TIME_NONE;
    return d;
}

void ks_decoder_free(struct ks_decoder *d)
{
    if (!d) {
        return;
    }
    json_decref(d->root);
    ks_free(d->lines);
    ks_free(d->labels);
    ks_free(d);
}

uint64_t ks_decoder_fast_hits(const struct ks_decoder *d)
{
    return d->fast_hits;
}

/* ---- rejection messages ------------------------------------------------ */

/* Offending values are shown as compact JSON cut to SHOW_MAX bytes. */
#define SHOW_MAX 40
#define SHOW_BUF (SHOW_MAX + 4)

/* One decode: where the event goes and what prefixes a rejection. */
struct ctx {
    struct ks_decoder *d;
    struct ks_event *ev;
    struct ks_err *err;
    const char *what; /* the type's name once known, else "event" */
};

/* Copies s[0..n) into out, cut to SHOW_MAX bytes on a UTF-8 boundary with
 * "..." appended when cut. */
static void show_cut(const char *s, size_t n, char out[SHOW_BUF])
{
    if (n > SHOW_MAX) {
        n = SHOW_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
            n--;
        }
        memcpy(out, s, n);
        memcpy(out + n, "...", 4);
    } else {
        memcpy(out, s, n);
        out[n] = '\0';
    }
}

/* Collects the first bytes of a dump and stops the dump once it has
 * enough, so that showing a huge value costs neither time nor memory. */
struct show_sink {
    char p[SHOW_MAX + 1];
    size_t len;
};

static int show_collect(const char *buf, size_t size, void *data)
{
    struct show_sink *s = data;
    size_t n = sizeof(s->p) - s->len;
    if (n > size) {
        n = size;
    }
    memcpy(s->p + s->len, buf, n);
    s->len += n;
    return s->len == sizeof(s->p) ? -1 : 0;
}

/* Renders v as compact JSON for a message. */
static void show_value(json_t *v, char out[SHOW_BUF])
{
    struct show_sink s;
    s.len = 0;
    json_dump_callback(v, show_collect, &s, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s.len == 0) {
        strcpy(out, "?");
        return;
    }
    show_cut(s.p, s.len, out);
}

static enum ks_rc fail(struct ctx *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Rejects with "TYPE: field "FIELD" REASON" (SPEC 1: `inventory: field "qty" must be
 * an integer >= 0, got "12"`); REASON says what the field is or must be. */
static enum ks_rc fail(struct ctx *c, const char *field, const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return ks_err_set(c->err, KS_EINPUT, "%s: field \"%s\" %s", c->what, field, why);
}

/* Rejects with "TYPE: field "FIELD" WHY, got VALUE". */
static enum ks_rc fail_got(struct ctx *c, const char *field, json_t *v, const char *why)
{
    char shown[SHOW_BUF];
    show_value(v, shown);
    return fail(c, field, "%s, got %s", why, shown);
}

/* Makes jansson's error text fit on one line of valid UTF-8: control
 * characters become '?', and a sequence cut by its fixed-size buffer is
 * dropped. */
static void sanitize(char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20) {
            s[i] = '?';
        }
    }
    size_t bad = ks_utf8_invalid_at(s, n);
    if (bad != (size_t)-1) {
        s[bad] = '\0';
    }
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        enum ks_rc try_rc_ = (x);                                                                  \
        if (try_rc_ != KS_OK) {                                                                    \
            return try_rc_;                                                                        \
        }                                                                                          \
    } while (0)

/* ---- field readers: each takes the member (NULL when absent or null) ---- */

/* The member key of obj, or NULL when it is absent or JSON null. */
static json_t *member(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

/* A string without NUL; a required one must be non-empty, an empty optional
 * one stays absent. */
static enum ks_rc str_value(struct ctx *c, const char *field, json_t *v, int required,
                            struct ks_str *out)
{
    if (!v) {
        return required ? fail(c, field, "is required") : KS_OK;
    }
    if (!json_is_string(v) || (required && json_string_length(v) == 0)) {
        return fail_got(c, field, v, required ? "must be a non-empty string" : "must be a string");
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (memchr(s, '\0', n)) {
        return fail_got(c, field, v, "must not contain NUL");
    }
    if (n > 0) {
        out->p = s;
        out->len = n;
    }
    return KS_OK;
}

/* An optional string that becomes an e-mail recipient: one plain address
 * (ks_email_invalid), since it is written into SMTP commands and headers as
 * it is - a line break in it would add a command of its own. */
static enum ks_rc email_value(struct ctx *c, const char *field, json_t *v, struct ks_str *out)
{
    TRY(str_value(c, field, v, 0, out));
    if (!out->p) {
        return KS_OK;
    }
    char buf[48], why[128];
    const char *bad = ks_email_invalid(out->p, out->len, buf, sizeof(buf));
    if (!bad) {
        return KS_OK;
    }
    snprintf(why, sizeof(why), "must be an e-mail address (name@domain): %s", bad);
    return fail_got(c, field, v, why);
}

/* An integer in lo..hi. */
static enum ks_rc int_value(struct ctx *c, const char *field, json_t *v, int required, int64_t lo,
                            int64_t hi, int64_t *out)
{
    if (!v) {
        return required ? fail(c, field, "is required") : KS_OK;
    }
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x >= lo && x <= hi) {
            *out = x;
            return KS_OK;
        }
    }
    char why[96];
    if (hi != INT64_MAX && hi - lo < 100) {
        snprintf(why, sizeof(why), "must be an integer between %lld and %lld", (long long)lo,
                 (long long)hi);
    } else if (json_is_integer(v) && json_integer_value(v) > hi) {
        snprintf(why, sizeof(why), "must be an integer <= %lld", (long long)hi);
    } else {
        snprintf(why, sizeof(why), "must be an integer >= %lld", (long long)lo);
    }
    return fail_got(c, field, v, why);
}

/* A number (integer or real), optionally >= 0; *has is set when present. */
static enum ks_rc num_value(struct ctx *c, const char *field, json_t *v, int required, int nonneg,
                            double *out, int *has)
{
    if (!v) {
        return required ? fail(c, field, "is required") : KS_OK;
    }
    if (!json_is_number(v) || (nonneg && json_number_value(v) < 0)) {
        return fail_got(c, field, v, nonneg ? "must be a number >= 0" : "must be a number");
    }
    *out = json_number_value(v);
    if (has) {
        *has = 1;
    }
    return KS_OK;
}

/* An RFC 3339 string or integer epoch milliseconds. */
static enum ks_rc time_value(struct ctx *c, const char *field, json_t *v, int required,
                             ks_time *out)
{
    if (!v) {
        return required ? fail(c, field, "is required") : KS_OK;
    }
    if (json_is_string(v)) {
        const char *why = "is not a timestamp";
        if (ks_time_parse(json_string_value(v), json_string_length(v), out, &why) == 0) {
            return KS_OK;
        }
        return fail_got(c, field, v, why);
    }
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x >= 0 && x <= KS_TS_INT_MAX) {
            *out = x;
            return KS_OK;
        }
        return fail_got(c, field, v, "must be epoch milliseconds between 0 and 253402300799999");
    }
    return fail_got(c, field, v, "must be an RFC 3339 timestamp or integer epoch milliseconds");
}

/* A string out of names[0..n); list is the names joined for the message. */
static enum ks_rc enum_value(struct ctx *c, const char *field, json_t *v, int required,
                             const char *const *names, size_t n, const char *list, int *out)
{
    if (!v) {
        return required ? fail(c, field, "is required") : KS_OK;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        for (size_t i = 0; i < n; i++) {
            if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) {
                *out = (int)i;
                return KS_OK;
            }
        }
    }
    char why[128];
    snprintf(why, sizeof(why), "must be one of %s", list);
    return fail_got(c, field, v, why);
}

/* ---- the types --------------------------------------------------------- */

static enum ks_rc dec_inventory(struct ctx *c, json_t *o)
{
    struct ks_event *ev = c->ev;
    TRY(str_value(c, "channel", member(o, "channel"), 1, &ev->channel));
    TRY(str_value(c, "sku", member(o, "sku"), 1, &ev->sku));
    TRY(int_value(c, "qty", member(o, "qty"), 1, 0, KS_QTY_MAX, &ev->qty));
    TRY(str_value(c, "batch", member(o, "batch"), 0, &ev->batch));
    return str_value(c, "location", member(o, "location"), 0, &ev->location);
}

static enum ks_rc dec_sync(struct ctx *c, json_t *o)
{
    struct ks_event *ev = c->ev;
    int e = -1;
    TRY(str_value(c, "channel", member(o, "channel"), 1, &ev->channel));
    TRY(enum_value(c, "status", member(o, "status"), 1, sync_status_names, NELEM(sync_status_names),
                   "ok, error", &ev->status));
    TRY(str_value(c, "batch", member(o, "batch"), 0, &ev->batch));
    /* sync_error_names[0] is "none", which is not a value one may send. */
    TRY(enum_value(c, "error", member(o, "error"), 0, sync_error_names + 1,
                   NELEM(sync_error_names) - 1, "auth, rate_limit, api, timeout, other", &e));
    ev->error = (enum ks_sync_error)(e + 1);
    return str_value(c, "detail", member(o, "detail"), 0, &ev->detail);
}

static enum ks_rc dec_order_lines(struct ctx *c, json_t *v)
{
    if (!v) {
        return KS_OK;
    }
    if (!json_is_array(v)) {
        return fail_got(c, "lines", v, "must be an array of {\"sku\", \"qty\"} objects");
    }
    size_t n = json_array_size(v);
    KS_GROW(c->d->lines, c->d->lines_cap, n);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        struct ks_order_line *l = &c->d->lines[i];
        char f[48];
        memset(l, 0, sizeof(*l));
        snprintf(f, sizeof(f), "lines[%zu]", i);
        if (!json_is_object(e)) {
            return fail_got(c, f, e, "must be an object");
        }
        snprintf(f, sizeof(f), "lines[%zu].sku", i);
        TRY(str_value(c, f, member(e, "sku"), 1, &l->sku));
        snprintf(f, sizeof(f), "lines[%zu].qty", i);
        TRY(int_value(c, f, member(e, "qty"), 1, 1, INT64_MAX, &l->qty));
    }
    c->ev->lines = n ? c->d->lines : NULL;
    c->ev->nlines = n;
    return KS_OK;
}

static enum ks_rc dec_order(struct ctx *c, json_t *o)
{
    struct ks_event *ev = c->ev;
    TRY(str_value(c, "order_id", member(o, "order_id"), 1, &ev->order_id));
    TRY(str_value(c, "channel", member(o, "channel"), 1, &ev->channel));
    TRY(enum_value(c, "status", member(o, "status"), 1, order_status_names,
                   NELEM(order_status_names), "accepted, rejected, cancelled, shipped, delivered",
                   &ev->status));
    TRY(str_value(c, "reason", member(o, "reason"), 0, &ev->reason));
    TRY(str_value(c, "customer", member(o, "customer"), 0, &ev->customer));
    TRY(email_value(c, "email", member(o, "email"), &ev->email));
    TRY(num_value(c, "value", member(o, "value"), 0, 1, &ev->value, &ev->has_value));
    TRY(str_value(c, "currency", member(o, "currency"), 0, &ev->currency));
    TRY(dec_order_lines(c, member(o, "lines")));
    TRY(str_value(c, "location", member(o, "location"), 0, &ev->location));
    return time_value(c, "promised_ship", member(o, "promised_ship"), 0, &ev->promised_ship);
}

static enum ks_rc dec_health(struct ctx *c, json_t *o)
{
    struct ks_event *ev = c->ev;
    TRY(str_value(c, "system", member(o, "system"), 1, &ev->system));
    TRY(str_value(c, "location", member(o, "location"), 0, &ev->location));
    TRY(enum_value(c, "status", member(o, "status"), 1, health_status_names,
                   NELEM(health_status_names), "up, down", &ev->status));
    return num_value(c, "latency_ms", member(o, "latency_ms"), 0, 1, &ev->latency_ms,
                     &ev->has_latency);
}

static enum ks_rc dec_stock(struct ctx *c, json_t *o)
{
    struct ks_event *ev = c->ev;
    TRY(str_value(c, "sku", member(o, "sku"), 1, &ev->sku));
    TRY(int_value(c, "qty", member(o, "qty"), 1, 0, KS_QTY_MAX, &ev->qty));
    return str_value(c, "location", member(o, "location"), 0, &ev->location);
}

static enum ks_rc dec_receipt(struct ctx *c, json_t *o)
{
    struct ks_event *ev = c->ev;
    TRY(str_value(c, "po", member(o, "po"), 1, &ev->po));
    TRY(str_value(c, "supplier", member(o, "supplier"), 1, &ev->supplier));
    TRY(str_value(c, "sku", member(o, "sku"), 1, &ev->sku));
    TRY(int_value(c, "expected", member(o, "expected"), 1, 0, INT64_MAX, &ev->expected));
    TRY(int_value(c, "received", member(o, "received"), 1, 0, INT64_MAX, &ev->received));
    TRY(int_value(c, "damaged", member(o, "damaged"), 0, 0, INT64_MAX, &ev->damaged));
    TRY(int_value(c, "wrong", member(o, "wrong"), 0, 0, INT64_MAX, &ev->wrong));
    TRY(time_value(c, "due", member(o, "due"), 0, &ev->due));
    return num_value(c, "unit_cost", member(o, "unit_cost"), 0, 1, &ev->unit_cost,
                     &ev->has_unit_cost);
}

static enum ks_rc dec_complaint(struct ctx *c, json_t *o)
{
    struct ks_event *ev = c->ev;
    TRY(str_value(c, "reason", member(o, "reason"), 1, &ev->reason));
    TRY(str_value(c, "order_id", member(o, "order_id"), 0, &ev->order_id));
    TRY(str_value(c, "customer", member(o, "customer"), 0, &ev->customer));
    TRY(str_value(c, "sku", member(o, "sku"), 0, &ev->sku));
    TRY(str_value(c, "channel", member(o, "channel"), 0, &ev->channel));
    return num_value(c, "value", member(o, "value"), 0, 0, &ev->value, &ev->has_value);
}

static enum ks_rc dec_feedback(struct ctx *c, json_t *o)
{
    struct ks_event *ev = c->ev;
    TRY(int_value(c, "score", member(o, "score"), 1, 1, 5, &ev->score));
    TRY(str_value(c, "order_id", member(o, "order_id"), 0, &ev->order_id));
    TRY(str_value(c, "customer", member(o, "customer"), 0, &ev->customer));
    json_t *v = member(o, "incident");
    if (json_is_integer(v)) {
        int n = snprintf(c->d->incident_text, sizeof(c->d->incident_text), "%" JSON_INTEGER_FORMAT,
                         json_integer_value(v));
        ev->incident.p = c->d->incident_text;
        ev->incident.len = (size_t)n;
        return KS_OK;
    }
    if (v && !json_is_string(v)) {
        return fail_got(c, "incident", v, "must be a string or an integer");
    }
    return str_value(c, "incident", v, 0, &ev->incident);
}

/* Writes "labels.KEY" into f, the key cut like a shown value and with
 * control characters replaced, so the message stays one readable line. */
static void label_field(const char *key, char f[64])
{
    char cut[SHOW_BUF];
    show_cut(key, strlen(key), cut);
    for (char *p = cut; *p; p++) {
        if ((unsigned char)*p < 0x20) {
            *p = '?';
        }
    }
    snprintf(f, 64, "labels.%s", cut);
}

static enum ks_rc dec_metric(struct ctx *c, json_t *o)
{
    struct ks_event *ev = c->ev;
    TRY(str_value(c, "name", member(o, "name"), 1, &ev->name));
    TRY(num_value(c, "value", member(o, "value"), 1, 0, &ev->value, &ev->has_value));
    json_t *v = member(o, "labels");
    if (!v) {
        return KS_OK;
    }
    if (!json_is_object(v)) {
        return fail_got(c, "labels", v, "must be an object of strings");
    }
    size_t n = json_object_size(v), i = 0;
    KS_GROW(c->d->labels, c->d->labels_cap, n);
    const char *key;
    json_t *val;
    /* jansson keeps insertion order, so labels come out as written. */
    json_object_foreach(v, key, val)
    {
        char f[64];
        struct ks_label *l = &c->d->labels[i++];
        if (!*key) {
            return fail(c, "labels", "must not have an empty key");
        }
        label_field(key, f);
        memset(l, 0, sizeof(*l));
        if (!json_is_string(val)) {
            return fail_got(c, f, val, "must be a string");
        }
        if (memchr(json_string_value(val), '\0', json_string_length(val))) {
            return fail_got(c, f, val, "must not contain NUL");
        }
        l->key.p = key;
        l->key.len = strlen(key);
        l->val.p = json_string_value(val);
        l->val.len = json_string_length(val);
    }
    ev->labels = n ? c->d->labels : NULL;
    ev->nlabels = n;
    return KS_OK;
}

typedef enum ks_rc (*dec_fn)(struct ctx *c, json_t *o);

static enum ks_rc dec_tick(struct ctx *c, json_t *o)
{
    (void)c;
    (void)o;
    return KS_OK;
}

static const dec_fn type_decoders[KS_EV__COUNT] = {
    dec_inventory, dec_sync,      dec_order,    dec_health, dec_stock,
    dec_receipt,   dec_complaint, dec_feedback, dec_metric, dec_tick,
};

/* The event type a JSON string names (its bytes whole: a NUL inside names
 * none), or -1. */
static int type_of(json_t *tv)
{
    for (int i = 0; json_is_string(tv) && i < KS_EV__COUNT; i++) {
        if (strlen(type_names[i]) == json_string_length(tv) &&
            memcmp(type_names[i], json_string_value(tv), json_string_length(tv)) == 0) {
            return i;
        }
    }
    return -1;
}

/* ---- what jansson refuses before the fields are read --------------------- */

/* What stands in for the integer while the line is read once more: a string
 * no event holds (NUL is refused in every field). */
static const char big_mark[] = "\0big\0";
#define BIG_MARK_JSON "\"\\u0000big\\u0000\""

/* The path of the marked value ("ts", "lines[2].qty", "labels.k") into
 * path; 1 when found. */
static int find_mark(json_t *v, char *path, size_t cap, size_t at)
{
    if (json_is_string(v)) {
        return json_string_length(v) == sizeof(big_mark) - 1 &&
               memcmp(json_string_value(v), big_mark, sizeof(big_mark) - 1) == 0;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m)
        {
            int n = snprintf(path + at, cap - at, "%s%s", at ? "." : "", k);
            if (n > 0 && (size_t)n < cap - at && find_mark(m, path, cap, at + (size_t)n)) {
                return 1;
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
        {
            int n = snprintf(path + at, cap - at, "[%zu]", i);
            if (n > 0 && (size_t)n < cap - at && find_mark(m, path, cap, at + (size_t)n)) {
                return 1;
            }
        }
    }
    path[at] = '\0';
    return 0;
}

/*
 * jansson refuses an integer beyond 64 bits before any field is read. The
 * line is read once more with a mark in the integer's place (and any later
 * such integer as a real) to find which field holds it, so that the reason
 * names the field as every other does: a timestamp gets the timestamp's
 * range, any other field that it is beyond 64 bits. end is the offset just
 * after the integer. Returns KS_OK when the field cannot be told (the caller
 * reports jansson's text).
 */
static enum ks_rc too_big_integer(struct ctx *c, const char *line, size_t len, size_t end)
{
    if (end > len) {
        return KS_OK;
    }
    size_t start = end;
    while (start > 0 && ((line[start - 1] >= '0' && line[start - 1] <= '9') ||
                         line[start - 1] == '-')) {
        start--;
    }
    if (start == end || end - start > 64) {
        return KS_OK;
    }
    char token[72];
    memcpy(token, line + start, end - start);
    token[end - start] = '\0';
    struct ks_buf b = {0};
    ks_buf_put(&b, line, start);
    ks_buf_puts(&b, BIG_MARK_JSON);
    ks_buf_put(&b, line + end, len - end);
    json_t *root = json_loadb(b.p, b.len,
                              JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL |
                                  JSON_DECODE_INT_AS_REAL,
                              NULL);
    ks_buf_fini(&b);
    char path[256] = "";
    enum ks_rc rc = KS_OK;
    if (json_is_object(root) && find_mark(root, path, sizeof(path), 0)) {
        int t = type_of(member(root, "type"));
        if (t >= 0) {
            c->what = type_names[t];
        }
        int is_time = strcmp(path, "ts") == 0 ||
                      (t == KS_EV_ORDER && strcmp(path, "promised_ship") == 0) ||
                      (t == KS_EV_RECEIPT && strcmp(path, "due") == 0);
        rc = is_time ? fail(c, path, "must be epoch milliseconds between 0 and %lld, got %s",
                            (long long)KS_TS_INT_MAX, token)
                     : fail(c, path, "is an integer beyond 64 bits, got %s", token);
    }
    json_decref(root);
    return rc;
}

/* Turns jansson's refusal of the line into a reason: a field's where one can
 * be told, else "json: invalid JSON at column N: TEXT". */
static enum ks_rc json_fault(struct ctx *c, const char *line, size_t len, json_error_t *je)
{
    static const char nul_key[] = "NUL byte in object key not supported";
    if (strncmp(je->text, "too big ", 8) == 0 && strstr(je->text, "integer")) {
        enum ks_rc rc = too_big_integer(c, line, len, (size_t)je->position);
        if (rc != KS_OK) {
            return rc;
        }
    }
    if (strncmp(je->text, nul_key, sizeof(nul_key) - 1) == 0) {
        /* jansson takes no NUL in a key at all; the key as written follows
         * "near '" (a field name, not a value: no "got") */
        const char *near = strstr(je->text, "near '\"");
        size_t n = near ? strlen(near + 7) : 0;
        if (n >= 2 && near[7 + n - 1] == '\'' && near[7 + n - 2] == '"') {
            sanitize(je->text);
            return ks_err_set(c->err, KS_EINPUT,
                              "%s: field \"%.*s\" must not contain NUL (in its name)", c->what,
                              (int)(n - 2), near + 7);
        }
    }
    sanitize(je->text);
    return ks_err_set(c->err, KS_EINPUT, "json: invalid JSON at column %d: %s", je->position,
                      je->text);
}

/* ---- entry points ------------------------------------------------------ */

/* The empty event both decoders start from: every field zero, every
 * timestamp KS_TIME_NONE. The two decoders must agree field by field, so
 * this is the one place that says what "absent" looks like. */
void ks_event_clear(struct ks_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->ts = KS_TIME_NONE;
    ev->promised_ship = KS_TIME_NONE;
    ev->due = KS_TIME_NONE;
}

enum ks_rc ks_event_decode_general(struct ks_decoder *d, const char *line, size_t len,
                                   struct ks_event *ev, struct ks_err *err)
{
    struct ctx c = {d, ev, err, "event"};
    KS_ASSERT(line || len == 0);
    ks_event_clear(ev);
    json_decref(d->root);
    d->root = NULL;
    if (!line) {
        line = "";
    }
    len = ks_line_trim(line, len);
    if (len > KS_LINE_MAX) {
        return ks_err_set(err, KS_EINPUT, "line: longer than 1 MiB (%zu bytes)", len);
    }
    size_t bad = ks_utf8_invalid_at(line, len);
    if (bad != (size_t)-1) {
        return ks_err_set(err, KS_EINPUT, "line: invalid UTF-8 at byte %zu", bad + 1);
    }

    /* JSON_DECODE_ANY so that a scalar reads "not a JSON object" rather
     * than a syntax error; JSON_ALLOW_NUL so that "\u0000" in a string is
     * reported against its field. */
    json_error_t je;
    d->root = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!d->root) {
        return json_fault(&c, line, len, &je);
    }
    json_t *o = d->root;
    if (!json_is_object(o)) {
        return ks_err_set(err, KS_EINPUT, "event: not a JSON object");
    }

    /* The source first: even a rejected line is counted against it. */
    json_t *src = member(o, "source");
    if (json_is_string(src) && json_string_length(src) > 0 &&
        !memchr(json_string_value(src), '\0', json_string_length(src))) {
        ev->source.p = json_string_value(src);
        ev->source.len = json_string_length(src);
    }

    json_t *tv = member(o, "type");
    if (!tv) {
        return fail(&c, "type", "is required");
    }
    if (!json_is_string(tv)) {
        return fail_got(&c, "type", tv, "must be a string naming the event type");
    }
    int t = type_of(tv);
    if (t < 0) {
        char shown[SHOW_BUF];
        show_value(tv, shown);
        return fail(&c, "type", "is an unknown type %s (expected one of " TYPE_LIST ")", shown);
    }
    ev->type = (enum ks_event_type)t;
    c.what = type_names[t];

    TRY(time_value(&c, "ts", member(o, "ts"), 1, &ev->ts));
    TRY(str_value(&c, "id", member(o, "id"), 0, &ev->id));
    ev->source = (struct ks_str){0};
    TRY(str_value(&c, "source", src, 0, &ev->source));
    return type_decoders[t](&c, o);
}

enum ks_rc ks_event_decode(struct ks_decoder *d, const char *line, size_t len, struct ks_event *ev,
                           struct ks_err *err)
{
    /* The fast path gives up within a few bytes on anything that is not a
     * plain inventory line (its first key or the type's value tells), so
     * offering it every line costs the other types almost nothing. */
    if (ks_event_decode_fast(d, line, len, ev) == KS_OK) {
        return KS_OK;
    }
    return ks_event_decode_general(d, line, len, ev, err);
}
