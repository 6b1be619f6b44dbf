/*
 * pagerduty.c - the PagerDuty Events API v2 body (POST /v2/enqueue): parsing,
 * validation in PagerDuty's own words, the generated dedup_key, and the 202
 * and 400 answers.
 *
 * PagerDuty reports every fault of an event at once, so validation here
 * collects errors instead of stopping at the first; the order is fixed
 * (routing_key, event_action, dedup_key, then payload.summary, .source,
 * .severity, the other payload fields, client, client_url) so that an event
 * always gets the same list. Where PagerDuty's wording is known it is used
 * ("'payload.source' is missing or blank", "'payload.severity' is invalid
 * (must be one of the following: 'critical', 'warning', 'error' or
 * 'info')"); docs/ALERTS.md lists every message.
 */
#include "alerts_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

static const char *const action_names[] = {NULL, "trigger", "acknowledge", "resolve"};
static const char *const pd_severities[] = {"critical", "error", "warning", "info"};

const char *ks_pd_action_name(enum ks_pd_action a)
{
    if ((unsigned)a < 1 || (unsigned)a > 3) {
        return NULL;
    }
    return action_names[a];
}

void ks_pd_event_fini(struct ks_pd_event *ev)
{
    if (!ev) {
        return;
    }
    char **strs[] = {&ev->routing_key,    &ev->dedup_key, &ev->summary,   &ev->source,
                     &ev->pd_severity,    &ev->component, &ev->group,     &ev->class_name,
                     &ev->custom_details, &ev->client,    &ev->client_url};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        ks_free(*strs[i]);
    }
    for (size_t i = 0; i < ev->nlinks; i++) {
        ks_free(ev->links[i].href);
        ks_free(ev->links[i].text);
    }
    ks_free(ev->links);
    for (size_t i = 0; i < ev->nimages; i++) {
        ks_free(ev->images[i].src);
        ks_free(ev->images[i].href);
        ks_free(ev->images[i].alt);
    }
    ks_free(ev->images);
    for (size_t i = 0; i < ev->nerrors; i++) {
        ks_free(ev->errors[i]);
    }
    ks_free(ev->errors);
    memset(ev, 0, sizeof(*ev));
    ev->timestamp = KS_TIME_NONE;
}

/* ---- the generated dedup_key --------------------------------------------- */

/* Fills p with n random bytes from the kernel: getrandom, or /dev/urandom
 * where that call is missing. No random source at all is a broken system,
 * not bad input. */
static void random_bytes(unsigned char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r > 0) {
            got += (size_t)r;
        } else if (r < 0 && errno != EINTR) {
            break;
        }
    }
    if (got == n) {
        return;
    }
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    KS_ASSERT(fd >= 0);
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r > 0) {
            got += (size_t)r;
        } else {
            KS_ASSERT(r < 0 && errno == EINTR);
        }
    }
    close(fd);
}

void ks_alert_uuid(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    random_bytes(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[o++] = '-';
        }
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

/* ---- validation -------------------------------------------------------- */

static void add_error(struct ks_pd_event *ev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_error(struct ks_pd_event *ev, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ev->errors = ks_realloc(ev->errors, (ev->nerrors + 1) * sizeof(*ev->errors));
    ev->errors[ev->nerrors++] = ks_strdup(msg);
}

/* Empty or only white space: PagerDuty's "blank". */
static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '\f' &&
            s[i] != '\v') {
            return 0;
        }
    }
    return 1;
}

enum { OPTIONAL = 0, REQUIRED = 1 };

/*
 * Reads the string member key of obj named `name` in messages. A required
 * one that is absent or blank, or of another type, is an error; an optional
 * one that is absent or blank stays NULL, of another type is an error.
 * Returns the copy or NULL.
 */
static char *str_field(struct ks_pd_event *ev, json_t *obj, const char *key, const char *name,
                       int required)
{
    json_t *v = obj ? ks_alerts_member(obj, key) : NULL;
    if (v && !json_is_string(v)) {
        add_error(ev, "'%s' must be a string", name);
        return NULL;
    }
    if (!v || blank(json_string_value(v), json_string_length(v))) {
        if (required) {
            add_error(ev, "'%s' is missing or blank", name);
        }
        return NULL;
    }
    return ks_strndup(json_string_value(v), json_string_length(v));
}

/* Rewrites a +hhmm or -hhmm zone at the end of s (PagerDuty's own example
 * is "2015-07-17T08:42:58.315+0000") as +hh:mm into out; 0 when s has no
 * such zone. */
static int colon_zone(const char *s, size_t n, char *out, size_t cap)
{
    if (n < 5 || n + 2 > cap || (s[n - 5] != '+' && s[n - 5] != '-')) {
        return 0;
    }
    for (size_t i = n - 4; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    memcpy(out, s, n - 2);
    out[n - 2] = ':';
    memcpy(out + n - 1, s + n - 2, 2);
    out[n + 1] = '\0';
    return 1;
}

/* The last instant RFC 3339 can name, as in src/event. */
#define TS_MAX 253402300799999LL

/* payload.timestamp: an RFC 3339 string (a +hhmm zone too), or epoch
 * seconds (below 10^11) or milliseconds. Anything else is noted and
 * ignored. */
static void timestamp_field(struct ks_pd_event *ev, json_t *payload)
{
    json_t *v = ks_alerts_member(payload, "timestamp");
    ks_time t;
    if (!v) {
        return;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        char fixed[64];
        if (ks_time_parse(s, n, &t, NULL) == 0 || (colon_zone(s, n, fixed, sizeof(fixed)) &&
                                                   ks_time_parse(fixed, n + 1, &t, NULL) == 0)) {
            ev->timestamp = t;
            return;
        }
    } else if (json_is_number(v)) {
        double x = json_number_value(v);
        if (x >= 0 && x < 1e11) {
            x *= 1000;
        }
        if (x >= 0 && x <= (double)TS_MAX) {
            ev->timestamp = (ks_time)x;
            return;
        }
    }
    ev->timestamp_unreadable = 1;
}

static void links_field(struct ks_pd_event *ev, json_t *body)
{
    json_t *a = ks_alerts_member(body, "links"), *e;
    size_t i;
    if (!json_is_array(a)) {
        return;
    }
    json_array_foreach(a, i, e)
    {
        json_t *href = json_object_get(e, "href"), *text = json_object_get(e, "text");
        if (!json_is_string(href) || blank(json_string_value(href), json_string_length(href))) {
            continue;
        }
        ev->links = ks_realloc(ev->links, (ev->nlinks + 1) * sizeof(*ev->links));
        struct ks_pd_link *l = &ev->links[ev->nlinks++];
        l->href = ks_strdup(json_string_value(href));
        l->text = json_is_string(text) ? ks_strdup(json_string_value(text)) : NULL;
    }
}

static void images_field(struct ks_pd_event *ev, json_t *body)
{
    json_t *a = ks_alerts_member(body, "images"), *e;
    size_t i;
    if (!json_is_array(a)) {
        return;
    }
    json_array_foreach(a, i, e)
    {
        json_t *src = json_object_get(e, "src"), *href = json_object_get(e, "href"),
               *alt = json_object_get(e, "alt");
        if (!json_is_string(src) || blank(json_string_value(src), json_string_length(src))) {
            continue;
        }
        ev->images = ks_realloc(ev->images, (ev->nimages + 1) * sizeof(*ev->images));
        struct ks_pd_image *im = &ev->images[ev->nimages++];
        im->src = ks_strdup(json_string_value(src));
        im->href = json_is_string(href) ? ks_strdup(json_string_value(href)) : NULL;
        im->alt = json_is_string(alt) ? ks_strdup(json_string_value(alt)) : NULL;
    }
}

/* The payload of a trigger. */
static void payload_fields(struct ks_pd_event *ev, json_t *body)
{
    json_t *p = ks_alerts_member(body, "payload");
    if (p && !json_is_object(p)) {
        add_error(ev, "'payload' must be an object");
        return;
    }
    ev->summary = str_field(ev, p, "summary", "payload.summary", REQUIRED);
    if (ev->summary && ks_alerts_utf8_chars(ev->summary, strlen(ev->summary)) > KS_PD_SUMMARY_MAX) {
        add_error(ev, "'payload.summary' is too long (maximum is %d characters)",
                  KS_PD_SUMMARY_MAX);
    }
    ev->source = str_field(ev, p, "source", "payload.source", REQUIRED);

    json_t *sv = p ? ks_alerts_member(p, "severity") : NULL;
    if (!sv || (json_is_string(sv) && blank(json_string_value(sv), json_string_length(sv)))) {
        add_error(ev, "'payload.severity' is missing or blank");
    } else {
        /* PagerDuty wants lower case; other case is taken, as the same word. */
        for (size_t i = 0; json_is_string(sv) && i < 4; i++) {
            if (json_string_length(sv) == strlen(pd_severities[i]) &&
                strcasecmp(json_string_value(sv), pd_severities[i]) == 0) {
                ev->pd_severity = ks_strdup(pd_severities[i]);
                ev->severity = ks_alert_severity_parse(pd_severities[i], strlen(pd_severities[i]));
            }
        }
        if (!ev->pd_severity) {
            add_error(ev, "'payload.severity' is invalid (must be one of the following: "
                          "'critical', 'warning', 'error' or 'info')");
        }
    }
    if (!p) {
        return;
    }
    timestamp_field(ev, p);
    ev->component = str_field(ev, p, "component", "payload.component", OPTIONAL);
    ev->group = str_field(ev, p, "group", "payload.group", OPTIONAL);
    ev->class_name = str_field(ev, p, "class", "payload.class", OPTIONAL);
    json_t *cd = ks_alerts_member(p, "custom_details");
    if (cd) {
        ev->custom_details = ks_alerts_dump(cd);
    }
}

/* max: the most bytes taken; SIZE_MAX for a recorded event, whose size was
 * checked when it was received. */
static enum ks_rc parse_event(const char *body, size_t len, size_t max, struct ks_pd_event *out,
                              struct ks_err *err)
{
    memset(out, 0, sizeof(*out));
    out->timestamp = KS_TIME_NONE;
    KS_ASSERT(body || len == 0);
    json_t *root = NULL;
    if (len > max) {
        add_error(out, "Event object is too large (maximum is %d bytes)", KS_PD_BODY_MAX);
        goto done;
    }
    json_error_t je;
    root = json_loadb(body ? body : "", len, KS_ALERTS_JSON_FLAGS, &je);
    if (!json_is_object(root)) {
        out->unrecognized = 1;
        add_error(out, "JSON parse error");
        goto done;
    }

    out->routing_key = str_field(out, root, "routing_key", "routing_key", REQUIRED);

    json_t *act = ks_alerts_member(root, "event_action");
    if (!act || (json_is_string(act) && blank(json_string_value(act), json_string_length(act)))) {
        add_error(out, "'event_action' is missing or blank");
    } else {
        for (int a = KS_PD_TRIGGER; json_is_string(act) && a <= KS_PD_RESOLVE; a++) {
            if (strcmp(json_string_value(act), action_names[a]) == 0) {
                out->action = (enum ks_pd_action)a;
            }
        }
        if (!out->action) {
            add_error(out, "'event_action' is invalid (must be one of the following: "
                           "'trigger', 'acknowledge' or 'resolve')");
        }
    }

    /* A trigger may leave the key out; acknowledge and resolve name one. */
    out->dedup_key = str_field(
        out, root, "dedup_key", "dedup_key",
        out->action == KS_PD_ACKNOWLEDGE || out->action == KS_PD_RESOLVE ? REQUIRED : OPTIONAL);
    if (out->dedup_key &&
        ks_alerts_utf8_chars(out->dedup_key, strlen(out->dedup_key)) > KS_PD_DEDUP_KEY_MAX) {
        add_error(out, "'dedup_key' is too long (maximum is %d characters)", KS_PD_DEDUP_KEY_MAX);
    }

    if (out->action == KS_PD_TRIGGER) {
        payload_fields(out, root);
        out->client = str_field(out, root, "client", "client", OPTIONAL);
        out->client_url = str_field(out, root, "client_url", "client_url", OPTIONAL);
        links_field(out, root);
        images_field(out, root);
    }

done:
    json_decref(root);
    if (out->nerrors) {
        struct ks_buf b = {0};
        for (size_t i = 0; i < out->nerrors; i++) {
            ks_buf_printf(&b, "%s%s", i ? "; " : "", out->errors[i]);
        }
        ks_err_set(err, KS_EINPUT, "pagerduty: %s", b.p);
        ks_buf_fini(&b);
        return KS_EINPUT;
    }
    if (!out->dedup_key) {
        char key[37];
        ks_alert_uuid(key);
        out->dedup_key = ks_strdup(key);
        out->dedup_key_generated = 1;
    }
    return KS_OK;
}

enum ks_rc ks_alert_parse_pagerduty(const char *body, size_t len, struct ks_pd_event *out,
                                    struct ks_err *err)
{
    return parse_event(body, len, KS_PD_BODY_MAX, out, err);
}

enum ks_rc ks_alert_parse_pagerduty_recorded(const char *body, size_t len,
                                             struct ks_pd_event *out, struct ks_err *err)
{
    return parse_event(body, len, SIZE_MAX, out, err);
}

/* ---- answers ----------------------------------------------------------- */

void ks_pd_render_success(struct ks_buf *out, const char *dedup_key)
{
    struct ks_json j;
    ks_json_init(&j, out, 0);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "status");
    ks_json_str(&j, "success");
    ks_json_key(&j, "message");
    ks_json_str(&j, "Event processed");
    ks_json_key(&j, "dedup_key");
    ks_json_str(&j, dedup_key ? dedup_key : "");
    ks_json_obj_end(&j);
}

void ks_pd_render_invalid(struct ks_buf *out, const struct ks_pd_event *ev)
{
    struct ks_json j;
    ks_json_init(&j, out, 0);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "status");
    ks_json_str(&j, ev->unrecognized ? "Unrecognized object" : "invalid event");
    ks_json_key(&j, "message");
    ks_json_str(&j, ev->unrecognized ? "Event object format is unrecognized"
                                     : "Event object is invalid");
    ks_json_key(&j, "errors");
    ks_json_arr_begin(&j);
    for (size_t i = 0; i < ev->nerrors; i++) {
        ks_json_str(&j, ev->errors[i]);
    }
    ks_json_arr_end(&j);
    ks_json_obj_end(&j);
}
