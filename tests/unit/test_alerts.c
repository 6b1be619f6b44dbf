/*
 * test_alerts.c - the alert inputs (src/alerts): every body captured from a
 * real Alertmanager and from PagerDuty's own client (tests/unit/alerts/, a
 * copy of shared/fixtures/alert-clients) parsed to exact values; the
 * Alertmanager PagerDuty receiver's dedup_key equal to the SHA-256 of the
 * webhook's groupKey; invalid bodies refused with their exact messages and
 * PagerDuty's exact 400 body; the scope of each; and the group rule through
 * fire, partial resolve, resolve, the same body twice, and truncated bodies.
 */
#include "../../src/alerts/alerts.h"
#include "slurp.h"
#include "t.h"

#include <jansson.h>
#include <stdlib.h>

#define DIR "tests/unit/alerts/"
#define AM_HASH_SYNC "862d0e9d59d5cbba56cd2f5ae2412bebde52283ac018615c7ad11fe11fb6d4ff"
#define AM_HASH_WMS "f40a9185b7686044c369ce08d155333ebc66eb1f5a33d9f15d648138d24db083"
#define FP_BERLIN "a642217df8a8aa87"
#define FP_PARIS "b414f7f65f999c4f"

static ks_time T(const char *s)
{
    ks_time t;
    return ks_time_parse(s, strlen(s), &t, NULL) == 0 ? t : KS_TIME_NONE;
}

static char *fixture(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), DIR "%s", name);
    char *s = t_slurp(path, len);
    if (!s) {
        fprintf(stderr, "FAIL %s: cannot read %s\n", t_current, path);
        t_failed_checks++;
    }
    return s;
}

static enum ks_rc pd_file(const char *name, struct ks_pd_event *ev, struct ks_err *err)
{
    size_t n = 0;
    char *s = fixture(name, &n);
    enum ks_rc rc = s ? ks_alert_parse_pagerduty(s, n, ev, err) : KS_EIO;
    ks_free(s);
    return rc;
}

static enum ks_rc pd_text(const char *body, struct ks_pd_event *ev, struct ks_err *err)
{
    return ks_alert_parse_pagerduty(body, strlen(body), ev, err);
}

static enum ks_rc am_file(const char *name, struct ks_am_webhook *w, struct ks_err *err)
{
    size_t n = 0;
    char *s = fixture(name, &n);
    enum ks_rc rc = s ? ks_alert_parse_alertmanager(s, n, w, err) : KS_EIO;
    ks_free(s);
    return rc;
}

/* A fixture changed by edit (a jansson object) before parsing. */
static enum ks_rc am_edited(const char *name, void (*edit)(json_t *), struct ks_am_webhook *w,
                            struct ks_err *err)
{
    char path[256];
    snprintf(path, sizeof(path), DIR "%s", name);
    json_t *o = json_load_file(path, 0, NULL);
    CHECK(o != NULL);
    if (!o) {
        return KS_EIO;
    }
    edit(o);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    enum ks_rc rc = ks_alert_parse_alertmanager(s, strlen(s), w, err);
    free(s);
    return rc;
}

/* "a|b|c" of a list of strings. */
static const char *joined(const struct ks_alert_strs *l)
{
    static char out[4][512];
    static int k;
    char *o = out[k++ & 3];
    size_t n = 0;
    o[0] = '\0';
    for (size_t i = 0; i < l->n; i++) {
        n += (size_t)snprintf(o + n, 512 - n, "%s%s", i ? "|" : "", l->v[i]);
    }
    return o;
}

static const char *errors_of(const struct ks_pd_event *ev)
{
    static char out[2048];
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ev->nerrors; i++) {
        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s", i ? "|" : "", ev->errors[i]);
    }
    return out;
}

static int is_uuid4(const char *s)
{
    if (!s || strlen(s) != 36) {
        return 0;
    }
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i])) {
            return 0;
        }
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

/* ---- PagerDuty: the captured bodies --------------------------------------- */

static void alertmanager_pagerduty_trigger_reads_exactly(void)
{
    struct ks_pd_event ev = {0};
    struct ks_err err = {0};
    struct ks_alert_scope sc = {0};
    CHECK_INT(pd_file("pagerduty-trigger.json", &ev, &err), KS_OK);
    CHECK_INT(ev.action, KS_PD_TRIGGER);
    CHECK_STR(ks_pd_action_name(ev.action), "trigger");
    CHECK_STR(ev.routing_key, "kintsugi-realclient-routing-key");
    CHECK_STR(ev.dedup_key, AM_HASH_SYNC);
    CHECK_INT(ev.dedup_key_generated, 0);
    CHECK_STR(
        ev.summary,
        "[FIRING:1] ChannelSyncErrors (amazon channel-sync oms-1:9100 shop-exporter critical)");
    CHECK_STR(ev.source, "alertmanager-realclient");
    CHECK_STR(ev.pd_severity, "critical");
    CHECK_INT(ev.severity, KS_ALERT_P1);
    CHECK_STR(ev.component, "channel-sync");
    CHECK_STR(ev.group, "amazon");
    CHECK_STR(ev.class_name, "ChannelSyncErrors");
    CHECK_INT(ev.timestamp, KS_TIME_NONE); /* Alertmanager never sends one */
    CHECK_INT(ev.timestamp_unreadable, 0);
    CHECK_STR(ev.client, "Alertmanager");
    CHECK_STR(ev.client_url, "http://127.0.0.1:58579/#/alerts?receiver=kintsugi-pagerduty");
    CHECK_STR(ev.custom_details,
              "{\"firing\":\"Labels:\\n - alertname = ChannelSyncErrors\\n - channel = amazon\\n"
              " - component = channel-sync\\n - instance = oms-1:9100\\n - job = shop-exporter\\n"
              " - severity = critical\\nAnnotations:\\n - description = 12 of the last 20 "
              "inventory pushes to amazon failed (error=auth)\\n - runbook_url = "
              "https://runbooks.example/channel-sync\\n - summary = Amazon channel sync "
              "failing\\nSource: http://127.0.0.1:9090/graph?g0.expr=ChannelSyncErrors\\n\","
              "\"num_firing\":\"1\",\"num_resolved\":\"0\",\"resolved\":\"\","
              "\"runbook\":\"https://runbooks.example/channel-sync\"}");
    CHECK_INT(ev.nlinks, 0);
    CHECK_INT(ev.nimages, 0);
    CHECK_INT(ev.nerrors, 0);

    ks_alert_scope_pagerduty(&ev, &sc);
    CHECK_STR(sc.type, "external");
    CHECK_INT(sc.severity, KS_ALERT_P1);
    CHECK_INT(sc.severity_named, 1);
    CHECK_STR(joined(&sc.channels), "amazon");
    CHECK_STR(joined(&sc.locations), "");
    CHECK_STR(joined(&sc.systems), "channel-sync");
    CHECK_STR(sc.title, ev.summary);
    ks_alert_scope_fini(&sc);
    ks_pd_event_fini(&ev);
}

static void alertmanager_pagerduty_resolve_ignores_its_payload(void)
{
    struct ks_pd_event ev = {0};
    struct ks_err err = {0};
    struct ks_alert_scope sc = {0};
    CHECK_INT(pd_file("pagerduty-resolve.json", &ev, &err), KS_OK);
    CHECK_INT(ev.action, KS_PD_RESOLVE);
    CHECK_STR(ev.routing_key, "kintsugi-realclient-routing-key");
    CHECK_STR(ev.dedup_key, AM_HASH_SYNC);
    CHECK(ev.summary == NULL && ev.source == NULL && ev.pd_severity == NULL);
    CHECK(ev.custom_details == NULL && ev.client == NULL);
    CHECK_INT(ev.severity, 0);
    ks_alert_scope_pagerduty(&ev, &sc);
    CHECK_STR(sc.title, AM_HASH_SYNC);
    CHECK_INT(sc.severity_named, 0);
    ks_alert_scope_fini(&sc);
    ks_pd_event_fini(&ev);
}

static void alertmanager_pagerduty_group_sends_one_key_and_partial_resolve_as_trigger(void)
{
    static const struct {
        const char *file;
        enum ks_pd_action action;
        const char *summary, *locations;
    } want[] = {
        {"pagerduty-group-trigger.json", KS_PD_TRIGGER,
         "[FIRING:2] WarehouseHealthDown (wms shop-exporter warning)", "berlin|paris"},
        {"pagerduty-group-partial.json", KS_PD_TRIGGER,
         "[FIRING:1] WarehouseHealthDown (wms shop-exporter warning)", "paris"},
        {"pagerduty-group-resolve.json", KS_PD_RESOLVE, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        struct ks_pd_event ev = {0};
        struct ks_err err = {0};
        CHECK_INT(pd_file(want[i].file, &ev, &err), KS_OK);
        CHECK_INT(ev.action, want[i].action);
        CHECK_STR(ev.dedup_key, AM_HASH_WMS);
        if (want[i].summary) {
            struct ks_alert_scope sc = {0};
            CHECK_STR(ev.summary, want[i].summary);
            CHECK_STR(ev.pd_severity, "warning");
            CHECK_INT(ev.severity, KS_ALERT_P3);
            CHECK_STR(ev.component, "wms");
            CHECK(ev.group == NULL);
            ks_alert_scope_pagerduty(&ev, &sc);
            CHECK_STR(joined(&sc.locations), want[i].locations);
            CHECK_STR(joined(&sc.systems), "wms");
            CHECK_STR(joined(&sc.channels), "");
            CHECK_INT(sc.severity, KS_ALERT_P3);
            ks_alert_scope_fini(&sc);
        }
        ks_pd_event_fini(&ev);
    }
}

static void pdjs_trigger_without_dedup_key_gets_a_fresh_uuid(void)
{
    struct ks_pd_event a = {0}, b = {0};
    struct ks_err err = {0};
    struct ks_alert_scope sc = {0};
    CHECK_INT(pd_file("pagerduty-pdjs-trigger-minimal.json", &a, &err), KS_OK);
    CHECK_INT(pd_file("pagerduty-pdjs-trigger-minimal.json", &b, &err), KS_OK);
    CHECK_INT(a.action, KS_PD_TRIGGER);
    CHECK_INT(a.dedup_key_generated, 1);
    CHECK(is_uuid4(a.dedup_key));
    CHECK(is_uuid4(b.dedup_key));
    CHECK(strcmp(a.dedup_key, b.dedup_key) != 0); /* two triggers, two alerts */
    CHECK_STR(a.summary, "pdjs: order rejections spiking on zalando");
    CHECK_STR(a.source, "pdjs-realclient");
    CHECK_STR(a.pd_severity, "error");
    CHECK_INT(a.severity, KS_ALERT_P2);
    CHECK(a.component == NULL && a.group == NULL && a.class_name == NULL);
    CHECK(a.custom_details == NULL && a.client == NULL);
    ks_alert_scope_pagerduty(&a, &sc);
    CHECK_INT(sc.severity, KS_ALERT_P2);
    CHECK_STR(sc.title, "pdjs: order rejections spiking on zalando");
    CHECK_STR(joined(&sc.channels), "");
    ks_alert_scope_fini(&sc);

    struct ks_buf out = {0};
    ks_pd_render_success(&out, a.dedup_key);
    char want[128];
    snprintf(want, sizeof(want),
             "{\"status\":\"success\",\"message\":\"Event processed\",\"dedup_key\":\"%s\"}",
             a.dedup_key);
    CHECK_STR(out.p, want);
    ks_buf_fini(&out);
    ks_pd_event_fini(&a);
    ks_pd_event_fini(&b);
}

static void pdjs_trigger_with_every_field_reads_exactly(void)
{
    struct ks_pd_event ev = {0};
    struct ks_err err = {0};
    struct ks_alert_scope sc = {0};
    CHECK_INT(pd_file("pagerduty-pdjs-trigger-full.json", &ev, &err), KS_OK);
    CHECK_INT(ev.action, KS_PD_TRIGGER);
    CHECK_STR(ev.dedup_key, "kintsugi-pdjs-1795385079844");
    CHECK_INT(ev.dedup_key_generated, 0);
    CHECK_STR(ev.summary, "pdjs: warehouse berlin WMS down");
    CHECK_STR(ev.source, "wms-berlin.example");
    CHECK_INT(ev.severity, KS_ALERT_P1);
    CHECK_STR(ev.component, "wms");
    CHECK_STR(ev.group, "warehouse-berlin");
    CHECK_STR(ev.class_name, "health");
    CHECK_INT(ev.timestamp, T("2026-11-22T22:04:39.844Z"));
    CHECK_STR(ev.custom_details,
              "{\"checks\":[\"ping\",\"api\"],\"down_for_s\":120,\"location\":\"berlin\","
              "\"nested\":{\"a\":1}}");
    CHECK_STR(ev.client, "pdjs-realclient");
    CHECK_STR(ev.client_url, "https://example.invalid/pdjs");
    CHECK_INT(ev.nlinks, 1);
    CHECK_STR(ev.links[0].href, "https://runbooks.example/wms-down");
    CHECK_STR(ev.links[0].text, "runbook");
    CHECK_INT(ev.nimages, 1);
    CHECK_STR(ev.images[0].src, "https://example.invalid/graph.png");
    CHECK_STR(ev.images[0].href, "https://example.invalid/");
    CHECK_STR(ev.images[0].alt, "graph");
    ks_alert_scope_pagerduty(&ev, &sc);
    CHECK_STR(joined(&sc.locations), "berlin");
    CHECK_STR(joined(&sc.systems), "wms");
    CHECK_INT(sc.severity, KS_ALERT_P1);
    CHECK_STR(sc.type, "external");
    ks_alert_scope_fini(&sc);
    ks_pd_event_fini(&ev);
}

static void pdjs_acknowledge_and_resolve_name_their_key(void)
{
    struct ks_pd_event ev = {0};
    struct ks_err err = {0};
    CHECK_INT(pd_file("pagerduty-acknowledge.json", &ev, &err), KS_OK);
    CHECK_INT(ev.action, KS_PD_ACKNOWLEDGE);
    CHECK_STR(ks_pd_action_name(ev.action), "acknowledge");
    CHECK_STR(ev.dedup_key, "kintsugi-pdjs-1795385079844");
    CHECK_STR(ev.routing_key, "kintsugi-realclient-routing-key");
    ks_pd_event_fini(&ev);
    CHECK_INT(pd_file("pagerduty-pdjs-resolve.json", &ev, &err), KS_OK);
    CHECK_INT(ev.action, KS_PD_RESOLVE);
    CHECK_STR(ev.dedup_key, "kintsugi-pdjs-1795385079844");
    ks_pd_event_fini(&ev);
}

static void alertmanager_pagerduty_key_is_sha256_of_the_webhook_group_key(void)
{
    static const char *const pairs[][2] = {
        {"webhook-firing.json", "pagerduty-trigger.json"},
        {"webhook-resolved.json", "pagerduty-resolve.json"},
        {"webhook-group-firing.json", "pagerduty-group-trigger.json"},
        {"webhook-group-partial.json", "pagerduty-group-partial.json"},
        {"webhook-group-resolved.json", "pagerduty-group-resolve.json"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        struct ks_am_webhook w = {0};
        struct ks_pd_event ev = {0};
        struct ks_err err = {0};
        CHECK_INT(am_file(pairs[i][0], &w, &err), KS_OK);
        CHECK_INT(pd_file(pairs[i][1], &ev, &err), KS_OK);
        CHECK_STR(w.group_key_hash, ev.dedup_key);
        ks_am_webhook_fini(&w);
        ks_pd_event_fini(&ev);
    }
}

/* ---- PagerDuty: invalid events ---------------------------------------------- */

static void invalid_events_list_every_fault_in_pagerduty_words(void)
{
    static const struct {
        const char *body, *errors;
    } cases[] = {
        {"{}", "'routing_key' is missing or blank|'event_action' is missing or blank"},
        {"{\"routing_key\":\"  \",\"event_action\":\"\"}",
         "'routing_key' is missing or blank|'event_action' is missing or blank"},
        {"{\"routing_key\":5,\"event_action\":\"resolve\",\"dedup_key\":\"k\"}",
         "'routing_key' must be a string"},
        {"{\"routing_key\":\"k\",\"event_action\":\"trigger\"}",
         "'payload.summary' is missing or blank|'payload.source' is missing or blank|"
         "'payload.severity' is missing or blank"},
        {"{\"routing_key\":\"k\",\"event_action\":\"trigger\",\"payload\":\"x\"}",
         "'payload' must be an object"},
        {"{\"routing_key\":\"k\",\"event_action\":\"trigger\",\"payload\":{\"summary\":\"s\","
         "\"source\":\"h\",\"severity\":\"crit\"}}",
         "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', "
         "'error' or 'info')"},
        {"{\"routing_key\":\"k\",\"event_action\":\"trigger\",\"payload\":{\"summary\":\"s\","
         "\"source\":\"h\",\"severity\":3}}",
         "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', "
         "'error' or 'info')"},
        {"{\"routing_key\":\"k\",\"event_action\":\"page\",\"dedup_key\":\"d\"}",
         "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or "
         "'resolve')"},
        {"{\"routing_key\":\"k\",\"event_action\":\"acknowledge\"}",
         "'dedup_key' is missing or blank"},
        {"{\"routing_key\":\"k\",\"event_action\":\"resolve\",\"dedup_key\":\" \"}",
         "'dedup_key' is missing or blank"},
        {"{\"routing_key\":\"k\",\"event_action\":\"trigger\",\"dedup_key\":7,\"payload\":{"
         "\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\",\"component\":[1]}}",
         "'dedup_key' must be a string|'payload.component' must be a string"},
        {"{\"routing_key\":\"k\",\"event_action\":\"trigger\",\"payload\":{\"summary\":\"s\","
         "\"source\":\"h\",\"severity\":\"info\"},\"client\":{}}",
         "'client' must be a string"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ks_pd_event ev = {0};
        struct ks_err err = {0};
        CHECK_INT(pd_text(cases[i].body, &ev, &err), KS_EINPUT);
        CHECK_INT(err.rc, KS_EINPUT);
        CHECK_STR(errors_of(&ev), cases[i].errors);
        CHECK_INT(ev.unrecognized, 0);
        ks_pd_event_fini(&ev);
    }
}

static void invalid_event_message_and_400_body_are_exact(void)
{
    struct ks_pd_event ev = {0};
    struct ks_err err = {0};
    struct ks_buf out = {0};
    CHECK_INT(pd_text("{\"payload\":{}}", &ev, &err), KS_EINPUT);
    CHECK_STR(err.msg,
              "pagerduty: 'routing_key' is missing or blank; 'event_action' is missing or blank");
    ks_pd_render_invalid(&out, &ev);
    CHECK_STR(out.p, "{\"status\":\"invalid event\",\"message\":\"Event object is invalid\","
                     "\"errors\":[\"'routing_key' is missing or blank\","
                     "\"'event_action' is missing or blank\"]}");
    ks_buf_fini(&out);
    ks_pd_event_fini(&ev);
}

static void a_body_that_is_not_a_json_object_is_unrecognized(void)
{
    static const char *const bodies[] = {
        "not json", "", "[]", "\"trigger\"", "{\"routing_key\":\"k\"", "{\"a\":\"\\u0000\"}"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct ks_pd_event ev = {0};
        struct ks_err err = {0};
        struct ks_buf out = {0};
        CHECK_INT(pd_text(bodies[i], &ev, &err), KS_EINPUT);
        CHECK_INT(ev.unrecognized, 1);
        CHECK_STR(err.msg, "pagerduty: JSON parse error");
        ks_pd_render_invalid(&out, &ev);
        CHECK_STR(out.p, "{\"status\":\"Unrecognized object\",\"message\":\"Event object format "
                         "is unrecognized\",\"errors\":[\"JSON parse error\"]}");
        ks_buf_fini(&out);
        ks_pd_event_fini(&ev);
    }
}

static void pagerduty_limits_count_characters_and_bytes(void)
{
    struct ks_pd_event ev = {0};
    struct ks_err err = {0};
    struct ks_buf b = {0};
    /* 1024 two-byte characters: 2048 bytes, within the limit */
    ks_buf_puts(&b, "{\"routing_key\":\"k\",\"event_action\":\"trigger\",\"payload\":{\"source\":"
                    "\"h\",\"severity\":\"info\",\"summary\":\"");
    for (int i = 0; i < 1024; i++) {
        ks_buf_puts(&b, "\xc3\xa9");
    }
    ks_buf_puts(&b, "\"}}");
    CHECK_INT(ks_alert_parse_pagerduty(b.p, b.len, &ev, &err), KS_OK);
    CHECK_INT(strlen(ev.summary), 2048);
    ks_pd_event_fini(&ev);
    ks_buf_reset(&b);

    ks_buf_puts(&b, "{\"routing_key\":\"k\",\"event_action\":\"trigger\",\"payload\":{\"source\":"
                    "\"h\",\"severity\":\"info\",\"summary\":\"");
    for (int i = 0; i < 1025; i++) {
        ks_buf_putc(&b, 's');
    }
    ks_buf_puts(&b, "\"},\"dedup_key\":\"");
    for (int i = 0; i < 256; i++) {
        ks_buf_putc(&b, 'd');
    }
    ks_buf_puts(&b, "\"}");
    CHECK_INT(ks_alert_parse_pagerduty(b.p, b.len, &ev, &err), KS_EINPUT);
    CHECK_STR(errors_of(&ev), "'dedup_key' is too long (maximum is 255 characters)|"
                              "'payload.summary' is too long (maximum is 1024 characters)");
    ks_pd_event_fini(&ev);
    ks_buf_fini(&b);

    /* 512 KB is the largest body; one byte more is refused unread. */
    char *big = ks_malloc(KS_PD_BODY_MAX + 1);
    static const char head[] = "{\"routing_key\":\"k\",\"event_action\":\"resolve\","
                               "\"dedup_key\":\"d\",\"pad\":\"";
    memcpy(big, head, sizeof(head) - 1);
    memset(big + sizeof(head) - 1, 'x', KS_PD_BODY_MAX - (sizeof(head) - 1) - 2);
    memcpy(big + KS_PD_BODY_MAX - 2, "\"}", 2);
    CHECK_INT(ks_alert_parse_pagerduty(big, KS_PD_BODY_MAX, &ev, &err), KS_OK);
    ks_pd_event_fini(&ev);
    CHECK_INT(ks_alert_parse_pagerduty(big, KS_PD_BODY_MAX + 1, &ev, &err), KS_EINPUT);
    CHECK_STR(errors_of(&ev), "Event object is too large (maximum is 524288 bytes)");
    CHECK_INT(ev.unrecognized, 0);
    ks_pd_event_fini(&ev);
    ks_free(big);
}

static void pagerduty_timestamps_read_leniently_and_never_refuse(void)
{
    static const struct {
        const char *ts;
        const char *want; /* NULL: unreadable */
    } cases[] = {
        {"\"2015-07-17T08:42:58.315+0000\"", "2015-07-17T08:42:58.315Z"},
        {"\"2026-11-22T23:04:39.844+01:00\"", "2026-11-22T22:04:39.844Z"},
        {"1795385079", "2026-11-22T22:04:39Z"},
        {"1795385079844", "2026-11-22T22:04:39.844Z"},
        {"\"yesterday\"", NULL},
        {"true", NULL},
        {"-5", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[256];
        struct ks_pd_event ev = {0};
        struct ks_err err = {0};
        snprintf(body, sizeof(body),
                 "{\"routing_key\":\"k\",\"event_action\":\"trigger\",\"payload\":{\"summary\":"
                 "\"s\",\"source\":\"h\",\"severity\":\"Warning\",\"timestamp\":%s}}",
                 cases[i].ts);
        CHECK_INT(pd_text(body, &ev, &err), KS_OK);
        CHECK_STR(ev.pd_severity, "warning");
        CHECK_INT(ev.timestamp, cases[i].want ? T(cases[i].want) : KS_TIME_NONE);
        CHECK_INT(ev.timestamp_unreadable, cases[i].want == NULL);
        ks_pd_event_fini(&ev);
    }
}

static void a_blank_dedup_key_on_trigger_is_generated(void)
{
    struct ks_pd_event ev = {0};
    struct ks_err err = {0};
    CHECK_INT(pd_text("{\"routing_key\":\"k\",\"event_action\":\"trigger\",\"dedup_key\":\"\","
                      "\"payload\":{\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\","
                      "\"custom_details\":\"just text\"},\"links\":[{\"text\":\"no href\"},7],"
                      "\"images\":[{\"href\":\"no src\"}]}",
                      &ev, &err),
              KS_OK);
    CHECK_INT(ev.dedup_key_generated, 1);
    CHECK(is_uuid4(ev.dedup_key));
    CHECK_STR(ev.custom_details, "\"just text\""); /* any JSON is kept */
    CHECK_INT(ev.nlinks, 0);
    CHECK_INT(ev.nimages, 0);
    ks_pd_event_fini(&ev);
}

static void custom_details_name_channel_location_system_and_type(void)
{
    struct ks_pd_event ev = {0};
    struct ks_err err = {0};
    struct ks_alert_scope sc = {0};
    CHECK_INT(pd_text("{\"routing_key\":\"k\",\"event_action\":\"trigger\",\"payload\":{"
                      "\"summary\":\"Zalando feed\",\"source\":\"h\",\"severity\":\"error\","
                      "\"component\":\"oms\",\"custom_details\":{\"channel\":[\"zalando\","
                      "\"otto\",3],\"location\":\"hamburg\",\"system\":\"erp\",\"type\":"
                      "\"sync_failure\"}}}",
                      &ev, &err),
              KS_OK);
    ks_alert_scope_pagerduty(&ev, &sc);
    CHECK_STR(sc.type, "sync_failure");
    CHECK_STR(joined(&sc.channels), "zalando|otto");
    CHECK_STR(joined(&sc.locations), "hamburg");
    CHECK_STR(joined(&sc.systems), "oms|erp");
    CHECK_INT(sc.severity, KS_ALERT_P2);
    ks_alert_scope_fini(&sc);
    ks_pd_event_fini(&ev);

    /* Newer Alertmanagers render custom_details.firing as JSON alerts, as
     * text or as an array. */
    CHECK_INT(pd_text("{\"routing_key\":\"k\",\"event_action\":\"trigger\",\"payload\":{"
                      "\"summary\":\"s\",\"source\":\"h\",\"severity\":\"critical\","
                      "\"custom_details\":{\"firing\":\"[{\\\"labels\\\":{\\\"channel\\\":"
                      "\\\"amazon\\\",\\\"location\\\":\\\"berlin\\\"}}]\",\"resolved\":\"[]\"}}}",
                      &ev, &err),
              KS_OK);
    ks_alert_scope_pagerduty(&ev, &sc);
    CHECK_STR(joined(&sc.channels), "amazon");
    CHECK_STR(joined(&sc.locations), "berlin");
    ks_alert_scope_fini(&sc);
    ks_pd_event_fini(&ev);
    CHECK_INT(pd_text("{\"routing_key\":\"k\",\"event_action\":\"trigger\",\"payload\":{"
                      "\"summary\":\"s\",\"source\":\"h\",\"severity\":\"critical\","
                      "\"custom_details\":{\"firing\":[],\"resolved\":[{\"labels\":{"
                      "\"system\":\"wms\",\"location\":\"paris\"}},7]}}}",
                      &ev, &err),
              KS_OK);
    ks_alert_scope_pagerduty(&ev, &sc);
    CHECK_STR(joined(&sc.systems), "wms");
    CHECK_STR(joined(&sc.locations), "paris");
    ks_alert_scope_fini(&sc);
    ks_pd_event_fini(&ev);

    /* a type that is not one of kintsugi's stays external */
    CHECK_INT(pd_text("{\"routing_key\":\"k\",\"event_action\":\"trigger\",\"payload\":{"
                      "\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\","
                      "\"custom_details\":{\"type\":\"cpu\"}}}",
                      &ev, &err),
              KS_OK);
    ks_alert_scope_pagerduty(&ev, &sc);
    CHECK_STR(sc.type, "external");
    CHECK_INT(sc.severity, KS_ALERT_P3);
    ks_alert_scope_fini(&sc);
    ks_pd_event_fini(&ev);
}

static void severity_words_map_to_p1_p2_p3(void)
{
    static const struct {
        const char *w;
        int sev;
    } cases[] = {{"critical", 1}, {"CRITICAL", 1}, {"P1", 1},   {"p1", 1},   {"error", 2},
                 {"P2", 2},       {"warning", 3},  {"info", 3}, {"Info", 3}, {"P3", 3},
                 {"none", 0},     {"", 0},         {"P4", 0},   {"crit", 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_INT(ks_alert_severity_parse(cases[i].w, strlen(cases[i].w)), cases[i].sev);
    }
    CHECK_STR(ks_alert_severity_name(1), "P1");
    CHECK_STR(ks_alert_severity_name(3), "P3");
    CHECK(ks_alert_severity_name(0) == NULL && ks_alert_severity_name(4) == NULL);
}

/* ---- Alertmanager: the captured bodies ------------------------------------- */

static void webhook_firing_reads_exactly(void)
{
    struct ks_am_webhook w = {0};
    struct ks_err err = {0};
    struct ks_alert_scope sc = {0};
    CHECK_INT(am_file("webhook-firing.json", &w, &err), KS_OK);
    CHECK_STR(w.version, "4");
    CHECK_STR(w.group_key, "{}/{}:{alertname=\"ChannelSyncErrors\"}");
    CHECK_STR(w.group_key_hash, AM_HASH_SYNC);
    CHECK_INT(w.status, KS_AM_FIRING);
    CHECK_STR(w.receiver, "kintsugi-webhook");
    CHECK_INT(w.truncated_alerts, 0);
    CHECK_INT(w.group_labels.n, 1);
    CHECK_STR(ks_am_label(&w.group_labels, "alertname"), "ChannelSyncErrors");
    CHECK_INT(w.common_labels.n, 6);
    CHECK_STR(w.common_labels.kv[0].key, "alertname");
    CHECK_STR(w.common_labels.kv[5].key, "severity");
    CHECK_STR(ks_am_label(&w.common_labels, "channel"), "amazon");
    CHECK_INT(w.common_annotations.n, 3);
    CHECK_STR(ks_am_label(&w.common_annotations, "summary"), "Amazon channel sync failing");
    CHECK_STR(w.external_url, "http://127.0.0.1:58579");
    CHECK_INT(w.nalerts, 1);
    const struct ks_am_alert *a = &w.alerts[0];
    CHECK_INT(a->status, KS_AM_FIRING);
    CHECK_STR(a->fingerprint, "fe8ee79a439ed8b1");
    CHECK_INT(a->labels.n, 6);
    CHECK_STR(ks_am_label(&a->labels, "severity"), "critical");
    CHECK_STR(ks_am_label(&a->annotations, "description"),
              "12 of the last 20 inventory pushes to amazon failed (error=auth)");
    CHECK(ks_am_label(&a->labels, "location") == NULL);
    CHECK_INT(a->starts_at, T("2026-11-22T22:04:32.200Z"));
    CHECK_INT(a->ends_at, KS_TIME_NONE); /* 0001-01-01T00:00:00Z: no end */
    CHECK_STR(a->generator_url, "http://127.0.0.1:9090/graph?g0.expr=ChannelSyncErrors");

    ks_alert_scope_alertmanager(&w, &sc);
    CHECK_STR(sc.type, "external");
    CHECK_INT(sc.severity, KS_ALERT_P1);
    CHECK_INT(sc.severity_named, 1);
    CHECK_STR(joined(&sc.channels), "amazon");
    CHECK_STR(joined(&sc.locations), "");
    CHECK_STR(joined(&sc.systems), "channel-sync");
    CHECK_STR(sc.title, "Amazon channel sync failing");
    ks_alert_scope_fini(&sc);
    ks_am_webhook_fini(&w);
}

static void webhook_resolved_carries_its_end(void)
{
    struct ks_am_webhook w = {0};
    struct ks_err err = {0};
    CHECK_INT(am_file("webhook-resolved.json", &w, &err), KS_OK);
    CHECK_INT(w.status, KS_AM_RESOLVED);
    CHECK_STR(ks_am_status_name(w.status), "resolved");
    CHECK_STR(w.group_key_hash, AM_HASH_SYNC);
    CHECK_INT(w.nalerts, 1);
    CHECK_INT(w.alerts[0].status, KS_AM_RESOLVED);
    CHECK_STR(w.alerts[0].fingerprint, "fe8ee79a439ed8b1");
    CHECK_INT(w.alerts[0].starts_at, T("2026-11-22T22:04:32.2Z"));
    CHECK_INT(w.alerts[0].ends_at, T("2026-11-22T22:04:33.738Z"));
    ks_am_webhook_fini(&w);
}

static void webhook_group_bodies_read_exactly(void)
{
    struct ks_am_webhook w = {0};
    struct ks_err err = {0};
    struct ks_alert_scope sc = {0};

    CHECK_INT(am_file("webhook-group-firing.json", &w, &err), KS_OK);
    CHECK_STR(w.group_key, "{}/{}:{alertname=\"WarehouseHealthDown\"}");
    CHECK_STR(w.group_key_hash, AM_HASH_WMS);
    CHECK_INT(w.nalerts, 2);
    CHECK_STR(w.alerts[0].fingerprint, FP_BERLIN);
    CHECK_STR(w.alerts[1].fingerprint, FP_PARIS);
    CHECK_STR(ks_am_label(&w.alerts[0].labels, "location"), "berlin");
    CHECK_STR(ks_am_label(&w.alerts[1].labels, "location"), "paris");
    CHECK_INT(w.alerts[0].starts_at, T("2026-11-22T22:04:34.673Z"));
    CHECK_INT(w.alerts[1].ends_at, KS_TIME_NONE);
    ks_alert_scope_alertmanager(&w, &sc);
    CHECK_INT(sc.severity, KS_ALERT_P3);
    CHECK_INT(sc.severity_named, 1);
    CHECK_STR(joined(&sc.locations), "berlin|paris");
    CHECK_STR(joined(&sc.systems), "wms");
    CHECK_STR(joined(&sc.channels), "");
    CHECK_STR(sc.title, "Warehouse health check failing");
    ks_alert_scope_fini(&sc);
    ks_am_webhook_fini(&w);

    /* A firing body carries the alert that resolved since. */
    CHECK_INT(am_file("webhook-group-partial.json", &w, &err), KS_OK);
    CHECK_INT(w.status, KS_AM_FIRING);
    CHECK_INT(w.nalerts, 2);
    CHECK_INT(w.alerts[0].status, KS_AM_RESOLVED);
    CHECK_INT(w.alerts[0].ends_at, T("2026-11-22T22:04:36.304Z"));
    CHECK_INT(w.alerts[1].status, KS_AM_FIRING);
    ks_alert_scope_alertmanager(&w, &sc);
    CHECK_STR(joined(&sc.locations), "paris"); /* the firing alerts only */
    ks_alert_scope_fini(&sc);
    ks_am_webhook_fini(&w);

    /* The last body holds only the alert not yet reported resolved. */
    CHECK_INT(am_file("webhook-group-resolved.json", &w, &err), KS_OK);
    CHECK_INT(w.status, KS_AM_RESOLVED);
    CHECK_INT(w.nalerts, 1);
    CHECK_STR(w.alerts[0].fingerprint, FP_PARIS);
    CHECK_INT(w.alerts[0].ends_at, T("2026-11-22T22:04:37.230Z"));
    ks_alert_scope_alertmanager(&w, &sc);
    CHECK_STR(joined(&sc.locations), "paris"); /* none fires: all of them */
    CHECK_STR(sc.title, "Warehouse health check failing");
    ks_alert_scope_fini(&sc);
    ks_am_webhook_fini(&w);
}

static void webhook_labels_map_type_and_unknown_severity(void)
{
    static const char body[] =
        "{\"version\":\"4\",\"groupKey\":\"abc\",\"status\":\"firing\",\"alerts\":["
        "{\"status\":\"firing\",\"fingerprint\":\"1\",\"labels\":{\"alertname\":\"A\","
        "\"severity\":\"none\",\"type\":\"system_outage\",\"system\":\"wms\"},"
        "\"startsAt\":\"2026-11-22T10:00:00Z\"},"
        "{\"status\":\"firing\",\"fingerprint\":\"2\",\"labels\":{\"alertname\":\"A\","
        "\"severity\":\"P2\",\"component\":\"oms\"},\"startsAt\":\"2026-11-22T10:00:00Z\"},"
        "{\"status\":\"resolved\",\"fingerprint\":\"3\",\"labels\":{\"severity\":\"critical\","
        "\"channel\":\"ebay\"},\"startsAt\":\"2026-11-22T10:00:00Z\"}]}";
    struct ks_am_webhook w = {0};
    struct ks_err err = {0};
    struct ks_alert_scope sc = {0};
    CHECK_INT(ks_alert_parse_alertmanager(body, strlen(body), &w, &err), KS_OK);
    /* SHA-256 test vector: "abc" */
    CHECK_STR(w.group_key_hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(w.receiver == NULL && w.external_url == NULL);
    CHECK_INT(w.truncated_alerts, 0);
    CHECK_INT(w.alerts[0].annotations.n, 0);
    CHECK_INT(w.alerts[0].ends_at, KS_TIME_NONE);
    ks_alert_scope_alertmanager(&w, &sc);
    CHECK_STR(sc.type, "system_outage");
    CHECK_INT(sc.severity, KS_ALERT_P2); /* the resolved critical one does not count */
    CHECK_STR(joined(&sc.systems), "wms|oms");
    CHECK_STR(joined(&sc.channels), "");
    CHECK_STR(sc.title, "A");
    ks_alert_scope_fini(&sc);
    ks_am_webhook_fini(&w);

    static const char quiet[] =
        "{\"version\":\"4\",\"groupKey\":\"g\",\"status\":\"firing\",\"alerts\":["
        "{\"status\":\"firing\",\"fingerprint\":\"1\",\"labels\":{\"severity\":\"page\"},"
        "\"startsAt\":\"2026-11-22T10:00:00Z\"}]}";
    CHECK_INT(ks_alert_parse_alertmanager(quiet, strlen(quiet), &w, &err), KS_OK);
    ks_alert_scope_alertmanager(&w, &sc);
    CHECK_INT(sc.severity, KS_ALERT_P3);
    CHECK_INT(sc.severity_named, 0);
    CHECK_STR(sc.title, "Alertmanager group g");
    ks_alert_scope_fini(&sc);
    ks_am_webhook_fini(&w);
}

/* ---- Alertmanager: invalid bodies ------------------------------------------ */

static const char *edit_key, *edit_alert_key;
static json_t *edit_value;
static int edit_alert;

/* Sets (or with a NULL value, deletes) edit_key, or alerts[edit_alert].edit_alert_key. */
static void edit(json_t *o)
{
    json_t *target =
        edit_alert_key ? json_array_get(json_object_get(o, "alerts"), (size_t)edit_alert) : o;
    const char *key = edit_alert_key ? edit_alert_key : edit_key;
    if (edit_value) {
        json_object_set(target, key, edit_value);
    } else {
        json_object_del(target, key);
    }
}

static void check_edit(const char *top, int alert, const char *akey, json_t *value,
                       const char *want)
{
    struct ks_am_webhook w = {0};
    struct ks_err err = {0};
    edit_key = top;
    edit_alert = alert;
    edit_alert_key = akey;
    edit_value = value;
    CHECK_INT(am_edited("webhook-group-firing.json", edit, &w, &err), KS_EINPUT);
    CHECK_STR(err.msg, want);
    ks_am_webhook_fini(&w);
    json_decref(value);
}

static void invalid_webhooks_name_the_place_and_the_reason(void)
{
    check_edit(
        "version", 0, NULL, json_string("3"),
        "alertmanager: field \"version\" must be \"4\" (the webhook format kintsugi reads), "
        "got \"3\"");
    check_edit("version", 0, NULL, NULL, "alertmanager: field \"version\" is required");
    check_edit("groupKey", 0, NULL, NULL, "alertmanager: field \"groupKey\" is required");
    check_edit("groupKey", 0, NULL, json_string(""),
               "alertmanager: field \"groupKey\" must be a non-empty string, got \"\"");
    check_edit("status", 0, NULL, json_string("pending"),
               "alertmanager: field \"status\" must be one of firing, resolved, got \"pending\"");
    check_edit("receiver", 0, NULL, json_integer(1),
               "alertmanager: field \"receiver\" must be a string, got 1");
    check_edit("truncatedAlerts", 0, NULL, json_integer(-1),
               "alertmanager: field \"truncatedAlerts\" must be an integer >= 0, got -1");
    check_edit("truncatedAlerts", 0, NULL, json_string("2"),
               "alertmanager: field \"truncatedAlerts\" must be an integer >= 0, got \"2\"");
    check_edit("commonLabels", 0, NULL, json_pack("{s:i}", "severity", 3),
               "alertmanager: field \"commonLabels.severity\" must be a string, got 3");
    check_edit("groupLabels", 0, NULL, json_string("x"),
               "alertmanager: field \"groupLabels\" must be an object of strings, got \"x\"");
    check_edit("alerts", 0, NULL, NULL, "alertmanager: field \"alerts\" is required");
    check_edit("alerts", 0, NULL, json_object(),
               "alertmanager: field \"alerts\" must be an array of alerts, got {}");
    check_edit(NULL, 1, "fingerprint", NULL,
               "alertmanager: field \"alerts[1].fingerprint\" is required");
    check_edit(NULL, 1, "fingerprint", json_string(FP_BERLIN),
               "alertmanager: field \"alerts[1].fingerprint\" repeats the fingerprint of "
               "alerts[0]");
    check_edit(NULL, 0, "fingerprint",
               json_string("0123456789012345678901234567890123456789012345678901234567890123x"),
               "alertmanager: field \"alerts[0].fingerprint\" must be a non-empty string of at "
               "most 64 bytes, got \"012345678901234567890123456789012345678...");
    check_edit(NULL, 0, "status", NULL, "alertmanager: field \"alerts[0].status\" is required");
    check_edit(NULL, 1, "status", json_string("active"),
               "alertmanager: field \"alerts[1].status\" must be one of firing, resolved, got "
               "\"active\"");
    check_edit(NULL, 0, "labels", NULL, "alertmanager: field \"alerts[0].labels\" is required");
    check_edit(NULL, 0, "labels", json_pack("{s:s,s:b}", "alertname", "A", "page", 1),
               "alertmanager: field \"alerts[0].labels.page\" must be a string, got true");
    check_edit(NULL, 1, "annotations", json_pack("[]"),
               "alertmanager: field \"alerts[1].annotations\" must be an object of strings, got "
               "[]");
    check_edit(NULL, 0, "startsAt", NULL,
               "alertmanager: field \"alerts[0].startsAt\" is required");
    check_edit(NULL, 0, "startsAt", json_string("yesterday"),
               "alertmanager: field \"alerts[0].startsAt\" must be an RFC 3339 timestamp "
               "(YYYY-MM-DDTHH:MM:SSZ), got \"yesterday\"");
    check_edit(NULL, 1, "endsAt", json_string("2026-11-22T22:04:37"),
               "alertmanager: field \"alerts[1].endsAt\" needs a zone (Z or +hh:mm), got "
               "\"2026-11-22T22:04:37\"");
    check_edit(NULL, 1, "endsAt", json_integer(0),
               "alertmanager: field \"alerts[1].endsAt\" must be an RFC 3339 timestamp, got 0");
    check_edit(NULL, 0, "generatorURL", json_false(),
               "alertmanager: field \"alerts[0].generatorURL\" must be a string, got false");

    struct ks_am_webhook w = {0};
    struct ks_err err = {0};
    CHECK_INT(ks_alert_parse_alertmanager("[1]", 3, &w, &err), KS_EINPUT);
    CHECK_STR(err.msg, "alertmanager: body: not a JSON object");
    ks_am_webhook_fini(&w);
    CHECK_INT(ks_alert_parse_alertmanager("{\n\"version\": \"4\",\n}", 19, &w, &err), KS_EINPUT);
    CHECK_STR(err.msg, "alertmanager: json: invalid JSON at line 3, column 1: string or '}' "
                       "expected near '}'");
    ks_am_webhook_fini(&w);
    CHECK_INT(ks_alert_parse_alertmanager("{\"alerts\":[{}]}", 15, &w, &err), KS_EINPUT);
    CHECK_STR(err.msg, "alertmanager: field \"version\" is required");
    ks_am_webhook_fini(&w);
    CHECK_INT(ks_alert_parse_alertmanager("x", KS_AM_BODY_MAX + 1, &w, &err), KS_EINPUT);
    CHECK_STR(err.msg, "alertmanager: body: longer than 4 MiB (4194305 bytes)");
    ks_am_webhook_fini(&w);
}

/* ---- Alertmanager: the group rule ------------------------------------------ */

/* Applies body (a fixture, or the fixture edited) to *g, replacing *g with
 * the next state; the outcome is left in *o. */
static void apply_w(struct ks_am_group *g, const struct ks_am_webhook *w, struct ks_am_outcome *o)
{
    struct ks_am_group next;
    ks_am_outcome_fini(o);
    ks_am_group_apply(g, w, &next, o);
    ks_am_group_fini(g);
    *g = next;
}

static void apply_file(struct ks_am_group *g, const char *file, struct ks_am_outcome *o)
{
    struct ks_am_webhook w = {0};
    struct ks_err err = {0};
    CHECK_INT(am_file(file, &w, &err), KS_OK);
    apply_w(g, &w, o);
    ks_am_webhook_fini(&w);
}

static void apply_truncated(struct ks_am_group *g, const char *file, struct ks_am_outcome *o)
{
    struct ks_am_webhook w = {0};
    struct ks_err err = {0};
    CHECK_INT(am_file(file, &w, &err), KS_OK);
    w.truncated_alerts = 1;
    apply_w(g, &w, o);
    ks_am_webhook_fini(&w);
}

/* "fp:status,fp:status" of a group, open or closed. */
static const char *group_str(const struct ks_am_group *g)
{
    static char out[512];
    size_t n = (size_t)snprintf(out, sizeof(out), "%s", g->open ? "open" : "closed");
    for (size_t i = 0; i < g->n; i++) {
        n += (size_t)snprintf(out + n, sizeof(out) - n, " %s:%s", g->members[i].fingerprint,
                              ks_am_status_name(g->members[i].status));
    }
    return out;
}

/* "fp from>to@alert" of the transitions. */
static const char *trans_str(const struct ks_am_outcome *o)
{
    static char out[512];
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < o->ntransitions; i++) {
        const struct ks_am_transition *t = &o->transitions[i];
        char at[24];
        if (t->alert == SIZE_MAX) {
            strcpy(at, "-");
        } else {
            snprintf(at, sizeof(at), "%zu", t->alert);
        }
        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s %s>%s@%s", i ? ", " : "",
                              t->fingerprint, t->from ? ks_am_status_name(t->from) : "new",
                              ks_am_status_name(t->to), at);
    }
    return out;
}

static void group_fires_partly_resolves_and_resolves(void)
{
    struct ks_am_group g = {0};
    struct ks_am_outcome o = {0};

    apply_file(&g, "webhook-group-firing.json", &o);
    CHECK_STR(ks_am_change_name(o.change), "opened");
    CHECK_STR(trans_str(&o), FP_BERLIN " new>firing@0, " FP_PARIS " new>firing@1");
    CHECK_INT(o.nfiring, 2);
    CHECK_STR(group_str(&g), "open " FP_BERLIN ":firing " FP_PARIS ":firing");

    /* Alertmanager repeats an unchanged group every repeat_interval. */
    apply_file(&g, "webhook-group-firing.json", &o);
    CHECK_INT(o.change, KS_AM_GROUP_UNCHANGED);
    CHECK_INT(o.ntransitions, 0);

    apply_file(&g, "webhook-group-partial.json", &o);
    CHECK_STR(ks_am_change_name(o.change), "updated");
    CHECK_STR(trans_str(&o), FP_BERLIN " firing>resolved@0");
    CHECK_INT(o.nfiring, 1);
    CHECK_STR(group_str(&g), "open " FP_BERLIN ":resolved " FP_PARIS ":firing");

    apply_file(&g, "webhook-group-partial.json", &o);
    CHECK_INT(o.change, KS_AM_GROUP_UNCHANGED);
    CHECK_STR(group_str(&g), "open " FP_BERLIN ":resolved " FP_PARIS ":firing");

    /* The last body leaves berlin out: it was resolved already, and goes. */
    apply_file(&g, "webhook-group-resolved.json", &o);
    CHECK_STR(ks_am_change_name(o.change), "resolved");
    CHECK_STR(trans_str(&o), FP_PARIS " firing>resolved@0");
    CHECK_INT(o.nfiring, 0);
    CHECK_STR(group_str(&g), "closed " FP_PARIS ":resolved");

    apply_file(&g, "webhook-group-resolved.json", &o);
    CHECK_INT(o.change, KS_AM_GROUP_UNCHANGED);
    CHECK_STR(group_str(&g), "closed " FP_PARIS ":resolved");

    /* Firing again later is a new incident. */
    apply_file(&g, "webhook-group-firing.json", &o);
    CHECK_INT(o.change, KS_AM_GROUP_OPENED);
    CHECK_STR(trans_str(&o), FP_BERLIN " new>firing@0, " FP_PARIS " resolved>firing@1");
    CHECK_STR(group_str(&g), "open " FP_BERLIN ":firing " FP_PARIS ":firing");

    ks_am_outcome_fini(&o);
    ks_am_group_fini(&g);
}

static void single_alert_fires_and_resolves(void)
{
    struct ks_am_group g = {0};
    struct ks_am_outcome o = {0};
    apply_file(&g, "webhook-firing.json", &o);
    CHECK_INT(o.change, KS_AM_GROUP_OPENED);
    apply_file(&g, "webhook-resolved.json", &o);
    CHECK_INT(o.change, KS_AM_GROUP_RESOLVED);
    CHECK_STR(trans_str(&o), "fe8ee79a439ed8b1 firing>resolved@0");
    CHECK_STR(group_str(&g), "closed fe8ee79a439ed8b1:resolved");
    ks_am_outcome_fini(&o);
    ks_am_group_fini(&g);
}

static void resolved_news_of_an_unknown_group_changes_nothing(void)
{
    struct ks_am_group g = {0};
    struct ks_am_outcome o = {0};
    apply_file(&g, "webhook-resolved.json", &o);
    CHECK_INT(o.change, KS_AM_GROUP_UNCHANGED);
    CHECK_INT(o.ntransitions, 0);
    CHECK_STR(group_str(&g), "closed fe8ee79a439ed8b1:resolved");
    ks_am_outcome_fini(&o);
    ks_am_group_fini(&g);
}

static void a_first_body_with_a_resolved_alert_opens_for_the_firing_one(void)
{
    struct ks_am_group g = {0};
    struct ks_am_outcome o = {0};
    apply_file(&g, "webhook-group-partial.json", &o);
    CHECK_INT(o.change, KS_AM_GROUP_OPENED);
    CHECK_STR(trans_str(&o), FP_PARIS " new>firing@1");
    CHECK_STR(group_str(&g), "open " FP_BERLIN ":resolved " FP_PARIS ":firing");
    ks_am_outcome_fini(&o);
    ks_am_group_fini(&g);
}

static void a_complete_body_that_leaves_a_firing_alert_out_resolves_it(void)
{
    struct ks_am_group g = {0};
    struct ks_am_outcome o = {0};
    apply_file(&g, "webhook-group-firing.json", &o);
    /* webhook-group-resolved.json names only paris; make it say firing */
    struct ks_am_webhook w = {0};
    struct ks_err err = {0};
    CHECK_INT(am_file("webhook-group-resolved.json", &w, &err), KS_OK);
    w.alerts[0].status = KS_AM_FIRING;
    apply_w(&g, &w, &o);
    CHECK_INT(o.change, KS_AM_GROUP_UPDATED);
    CHECK_STR(trans_str(&o), FP_BERLIN " firing>resolved@-");
    CHECK_STR(group_str(&g), "open " FP_PARIS ":firing");
    apply_w(&g, &w, &o);
    CHECK_INT(o.change, KS_AM_GROUP_UNCHANGED);
    ks_am_webhook_fini(&w);
    ks_am_outcome_fini(&o);
    ks_am_group_fini(&g);
}

static void a_truncated_body_resolves_nothing_it_leaves_out(void)
{
    struct ks_am_group g = {0};
    struct ks_am_outcome o = {0};
    apply_file(&g, "webhook-group-firing.json", &o);

    /* paris resolved, berlin left out by truncation: berlin still fires */
    apply_truncated(&g, "webhook-group-resolved.json", &o);
    CHECK_INT(o.change, KS_AM_GROUP_UPDATED);
    CHECK_STR(trans_str(&o), FP_PARIS " firing>resolved@0");
    CHECK_INT(o.nfiring, 1);
    CHECK_STR(group_str(&g), "open " FP_PARIS ":resolved " FP_BERLIN ":firing");
    apply_truncated(&g, "webhook-group-resolved.json", &o);
    CHECK_INT(o.change, KS_AM_GROUP_UNCHANGED);
    CHECK_STR(group_str(&g), "open " FP_PARIS ":resolved " FP_BERLIN ":firing");
    ks_am_outcome_fini(&o);
    ks_am_group_fini(&g);

    /* Every known alert resolved, but the body is truncated: it stays open
     * until a complete body says so. */
    apply_file(&g, "webhook-group-partial.json", &o);
    CHECK_INT(o.change, KS_AM_GROUP_OPENED);
    apply_truncated(&g, "webhook-group-resolved.json", &o);
    CHECK_INT(o.change, KS_AM_GROUP_UPDATED);
    CHECK_INT(o.nfiring, 0);
    CHECK_STR(group_str(&g), "open " FP_PARIS ":resolved " FP_BERLIN ":resolved");
    apply_truncated(&g, "webhook-group-resolved.json", &o);
    CHECK_INT(o.change, KS_AM_GROUP_UNCHANGED);
    CHECK_INT(g.open, 1);
    apply_file(&g, "webhook-group-resolved.json", &o);
    CHECK_INT(o.change, KS_AM_GROUP_RESOLVED);
    CHECK_INT(o.ntransitions, 0);
    CHECK_STR(group_str(&g), "closed " FP_PARIS ":resolved");

    /* A truncated firing body opens a closed group all the same. */
    apply_truncated(&g, "webhook-group-firing.json", &o);
    CHECK_INT(o.change, KS_AM_GROUP_OPENED);
    ks_am_outcome_fini(&o);
    ks_am_group_fini(&g);
}

/* For random states and bodies: the same body twice changes nothing the
 * second time, the known state is left as it was, and members stay unique. */
static void the_same_body_twice_changes_nothing(void)
{
    unsigned seed = 12345;
#define RND() (seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff)
    for (int round = 0; round < 2000; round++) {
        struct ks_am_group known = {0}, before = {0}, n1, n2;
        struct ks_am_outcome o1, o2;
        struct ks_am_webhook w = {0};
        known.open = RND() & 1;
        size_t nk = RND() % 6;
        for (size_t i = 0; i < nk; i++) {
            KS_GROW(known.members, known.cap, known.n + 1);
            struct ks_am_member *m = &known.members[known.n++];
            memset(m, 0, sizeof(*m));
            snprintf(m->fingerprint, sizeof(m->fingerprint), "f%zu", i * 2);
            m->status = (RND() & 1) ? KS_AM_FIRING : KS_AM_RESOLVED;
        }
        w.truncated_alerts = RND() % 3 == 0;
        w.nalerts = RND() % 6;
        w.alerts = ks_calloc(w.nalerts ? w.nalerts : 1, sizeof(*w.alerts));
        for (size_t i = 0; i < w.nalerts; i++) {
            snprintf(w.alerts[i].fingerprint, sizeof(w.alerts[i].fingerprint), "f%zu", i * 3 % 7);
            w.alerts[i].status = (RND() & 1) ? KS_AM_FIRING : KS_AM_RESOLVED;
        }
        /* unique fingerprints, as the parser guarantees */
        for (size_t i = 0; i < w.nalerts; i++) {
            for (size_t j = 0; j < i; j++) {
                if (strcmp(w.alerts[i].fingerprint, w.alerts[j].fingerprint) == 0) {
                    w.nalerts = i;
                }
            }
        }
        before = known;
        before.members = ks_malloc((known.n ? known.n : 1) * sizeof(*known.members));
        if (known.n) {
            memcpy(before.members, known.members, known.n * sizeof(*known.members));
        }

        ks_am_group_apply(&known, &w, &n1, &o1);
        ks_am_group_apply(&n1, &w, &n2, &o2);
        CHECK_INT(o2.change, KS_AM_GROUP_UNCHANGED);
        CHECK_INT(o2.ntransitions, 0);
        CHECK_INT(n2.open, n1.open);
        CHECK_INT(n2.n, n1.n);
        CHECK(n1.n == 0 || memcmp(n1.members, n2.members, n1.n * sizeof(*n1.members)) == 0);
        CHECK(known.n == before.n &&
              (known.n == 0 ||
               memcmp(known.members, before.members, known.n * sizeof(*known.members)) == 0));
        CHECK_INT(n1.open, o1.nfiring > 0 || (known.open && w.truncated_alerts > 0));
        CHECK_INT(o1.change == KS_AM_GROUP_UNCHANGED,
                  !((o1.ntransitions > 0 && n1.open) || known.open != n1.open));
        for (size_t i = 0; i < n1.n; i++) {
            for (size_t j = 0; j < i; j++) {
                CHECK(strcmp(n1.members[i].fingerprint, n1.members[j].fingerprint) != 0);
            }
        }
        ks_free(before.members);
        ks_am_group_fini(&known);
        ks_am_group_fini(&n1);
        ks_am_group_fini(&n2);
        ks_am_outcome_fini(&o1);
        ks_am_outcome_fini(&o2);
        ks_free(w.alerts);
    }
#undef RND
}

static void nothing_is_left_allocated(void)
{
    CHECK_INT(ks_alloc_live(), 0);
}

int main(void)
{
    RUN(alertmanager_pagerduty_trigger_reads_exactly);
    RUN(alertmanager_pagerduty_resolve_ignores_its_payload);
    RUN(alertmanager_pagerduty_group_sends_one_key_and_partial_resolve_as_trigger);
    RUN(pdjs_trigger_without_dedup_key_gets_a_fresh_uuid);
    RUN(pdjs_trigger_with_every_field_reads_exactly);
    RUN(pdjs_acknowledge_and_resolve_name_their_key);
    RUN(alertmanager_pagerduty_key_is_sha256_of_the_webhook_group_key);
    RUN(invalid_events_list_every_fault_in_pagerduty_words);
    RUN(invalid_event_message_and_400_body_are_exact);
    RUN(a_body_that_is_not_a_json_object_is_unrecognized);
    RUN(pagerduty_limits_count_characters_and_bytes);
    RUN(pagerduty_timestamps_read_leniently_and_never_refuse);
    RUN(a_blank_dedup_key_on_trigger_is_generated);
    RUN(custom_details_name_channel_location_system_and_type);
    RUN(severity_words_map_to_p1_p2_p3);
    RUN(webhook_firing_reads_exactly);
    RUN(webhook_resolved_carries_its_end);
    RUN(webhook_group_bodies_read_exactly);
    RUN(webhook_labels_map_type_and_unknown_severity);
    RUN(invalid_webhooks_name_the_place_and_the_reason);
    RUN(group_fires_partly_resolves_and_resolves);
    RUN(single_alert_fires_and_resolves);
    RUN(resolved_news_of_an_unknown_group_changes_nothing);
    RUN(a_first_body_with_a_resolved_alert_opens_for_the_firing_one);
    RUN(a_complete_body_that_leaves_a_firing_alert_out_resolves_it);
    RUN(a_truncated_body_resolves_nothing_it_leaves_out);
    RUN(the_same_body_twice_changes_nothing);
    RUN(nothing_is_left_allocated);
    return t_done();
}
