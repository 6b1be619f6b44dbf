/*
 * fuzz_pagerduty.c - libFuzzer target for the PagerDuty Events API v2 parser
 * (src/alerts/pagerduty.c).
 *
 * Each input is one request body. The target checks what holds for every
 * body: the verdict is KS_OK or KS_EINPUT; an accepted event has its action,
 * a non-blank routing_key, a dedup_key within 255 characters (or a UUID it
 * generated), and for a trigger a summary within 1024 characters, a source
 * and a severity P1..P3, and custom_details that read back as JSON; an
 * ignored payload leaves nothing behind on acknowledge and resolve; a
 * rejection has errors, each one line of valid UTF-8, and a message that
 * starts "pagerduty: ". Both answers (202 and 400) read back as JSON with
 * the right members; the scope of an accepted trigger is sane (distinct
 * values, a known type, a title); parsing again gives the same verdict and
 * errors. Every allocation is released per input, so LeakSanitizer sees it.
 *
 *   make build/fuzz/fuzz_pagerduty
 *   make fuzz FUZZ=pagerduty
 */
#include "../../src/alerts/alerts.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
    fprintf(stderr, "fuzz_pagerduty: %s\n", what);
    abort();
}

static size_t chars(const char *s)
{
    size_t c = 0;
    for (; *s; s++) {
        c += ((unsigned char)*s & 0xC0) != 0x80;
    }
    return c;
}

static int blank(const char *s)
{
    for (; *s; s++) {
        if (!strchr(" \t\n\r\f\v", *s)) {
            return 0;
        }
    }
    return 1;
}

static void one_line(const char *s)
{
    size_t n = strlen(s);
    if (n == 0) {
        die("empty message");
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20) {
            die("message holds a control character");
        }
    }
    if (ks_utf8_invalid_at(s, n) != (size_t)-1) {
        die("message is not UTF-8");
    }
}

static void distinct(const struct ks_alert_strs *l)
{
    for (size_t i = 0; i < l->n; i++) {
        if (!l->v[i][0]) {
            die("empty scope value");
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(l->v[i], l->v[j]) == 0) {
                die("scope value twice");
            }
        }
    }
}

static void check_accepted(const struct ks_pd_event *ev)
{
    if (!ks_pd_action_name(ev->action)) {
        die("accepted without an action");
    }
    if (!ev->routing_key || blank(ev->routing_key)) {
        die("accepted without a routing_key");
    }
    if (!ev->dedup_key || blank(ev->dedup_key) || chars(ev->dedup_key) > KS_PD_DEDUP_KEY_MAX) {
        die("bad dedup_key");
    }
    if (ev->dedup_key_generated && (ev->action != KS_PD_TRIGGER || strlen(ev->dedup_key) != 36)) {
        die("generated key where none should be");
    }
    if (ev->nerrors || ev->errors || ev->unrecognized) {
        die("accepted with errors");
    }
    if (ev->action != KS_PD_TRIGGER) {
        if (ev->summary || ev->source || ev->pd_severity || ev->severity || ev->custom_details ||
            ev->component || ev->client || ev->nlinks || ev->nimages ||
            ev->timestamp != KS_TIME_NONE) {
            die("acknowledge or resolve kept payload fields");
        }
        return;
    }
    if (!ev->summary || blank(ev->summary) || chars(ev->summary) > KS_PD_SUMMARY_MAX) {
        die("bad summary");
    }
    if (!ev->source || blank(ev->source) || !ev->pd_severity) {
        die("trigger without source or severity");
    }
    if (ev->severity < KS_ALERT_P1 || ev->severity > KS_ALERT_P3 ||
        ks_alert_severity_parse(ev->pd_severity, strlen(ev->pd_severity)) != ev->severity) {
        die("severity does not match its word");
    }
    if (ev->timestamp_unreadable && ev->timestamp != KS_TIME_NONE) {
        die("unreadable timestamp with a value");
    }
    if (ev->custom_details) {
        json_t *v = json_loads(ev->custom_details, JSON_DECODE_ANY, NULL);
        if (!v) {
            die("custom_details is not JSON");
        }
        json_decref(v);
    }
    for (size_t i = 0; i < ev->nlinks; i++) {
        if (!ev->links[i].href) {
            die("link without href");
        }
    }
    for (size_t i = 0; i < ev->nimages; i++) {
        if (!ev->images[i].src) {
            die("image without src");
        }
    }
}

static void check_scope(const struct ks_pd_event *ev)
{
    struct ks_alert_scope sc = {0};
    ks_alert_scope_pagerduty(ev, &sc);
    if (!sc.title || sc.severity < 1 || sc.severity > 3 || !sc.type[0]) {
        die("bad scope");
    }
    distinct(&sc.channels);
    distinct(&sc.locations);
    distinct(&sc.systems);
    ks_alert_scope_fini(&sc);
}

/* The answer in b reads back as a JSON object with status, message and
 * either the dedup_key or n errors. */
static void check_answer(const struct ks_buf *b, const char *dedup_key, size_t n)
{
    json_t *o = json_loadb(b->p, b->len, 0, NULL);
    if (!json_is_object(o) || !json_is_string(json_object_get(o, "status")) ||
        !json_is_string(json_object_get(o, "message"))) {
        die("answer is not the documented object");
    }
    if (dedup_key) {
        if (!json_is_string(json_object_get(o, "dedup_key")) ||
            strcmp(json_string_value(json_object_get(o, "dedup_key")), dedup_key) != 0) {
            die("202 does not carry the dedup_key");
        }
    } else if (json_array_size(json_object_get(o, "errors")) != n) {
        die("400 does not carry every error");
    }
    json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so ASan flags any read past the body. */
    char *body = malloc(size ? size : 1);
    memcpy(body, data, size);
    struct ks_pd_event ev = {0}, again = {0};
    struct ks_err err = {0}, err2 = {0};
    struct ks_buf out = {0};

    enum ks_rc rc = ks_alert_parse_pagerduty(body, size, &ev, &err);
    if (rc == KS_OK) {
        check_accepted(&ev);
        check_scope(&ev);
        ks_pd_render_success(&out, ev.dedup_key);
        check_answer(&out, ev.dedup_key, 0);
    } else if (rc == KS_EINPUT) {
        if (ev.nerrors == 0 || strncmp(err.msg, "pagerduty: ", 11) != 0) {
            die("rejection without errors");
        }
        one_line(err.msg);
        for (size_t i = 0; i < ev.nerrors; i++) {
            one_line(ev.errors[i]);
        }
        ks_pd_render_invalid(&out, &ev);
        check_answer(&out, NULL, ev.nerrors);
    } else {
        die("unexpected return code");
    }

    if (ks_alert_parse_pagerduty(body, size, &again, &err2) != rc ||
        (rc != KS_OK && strcmp(err.msg, err2.msg) != 0) ||
        (rc == KS_OK && !ev.dedup_key_generated && strcmp(ev.dedup_key, again.dedup_key) != 0)) {
        die("a second parse differs");
    }
    ks_buf_fini(&out);
    ks_pd_event_fini(&ev);
    ks_pd_event_fini(&again);
    free(body);
    if (ks_alloc_live() != 0) {
        die("allocations left after fini");
    }
    return 0;
}
