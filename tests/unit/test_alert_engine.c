/*
 * test_alert_engine.c - incidents from other alerting tools in the engine
 * (src/engine/alert.c, docs/ALERTS.md "In the engine"). The bodies captured
 * from a real Alertmanager and from PagerDuty's own client
 * (tests/unit/alerts/) are parsed by src/alerts and fed to the engine:
 * PagerDuty trigger, update, acknowledge, resolve and a new trigger with
 * exact ids, statuses, severities and timeline entries; acknowledge and
 * resolve of unknown or closed keys that change nothing, down to the
 * checkpoint's bytes; an Alertmanager group through fire, partial resolve
 * and resolve, each body twice; truncated bodies; both receivers of one
 * group on one incident; SLA timers and escalation; checkpoints taken at
 * every step of a sequence.
 */
#include "../../src/alerts/alerts.h"
#include "../../src/engine/engine.h"
#include "slurp.h"
#include "t.h"

#define DIR "tests/unit/alerts/"
#define AM_HASH_SYNC "862d0e9d59d5cbba56cd2f5ae2412bebde52283ac018615c7ad11fe11fb6d4ff"
#define AM_HASH_WMS "f40a9185b7686044c369ce08d155333ebc66eb1f5a33d9f15d648138d24db083"
#define PDJS_KEY "kintsugi-pdjs-1795385079844"
#define BERLIN "WarehouseHealthDown{instance=\\\"wms-berlin:9100\\\", location=\\\"berlin\\\"}"
#define PARIS "WarehouseHealthDown{instance=\\\"wms-paris:9100\\\", location=\\\"paris\\\"}"

static struct ks_config cfg;

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

/* Parses a PagerDuty body (a fixture's name, or JSON text starting with
 * '{') and applies it at `at`; returns the incident id the engine gives,
 * -1 when the engine refused it. */
static int64_t pd_at(struct ks_engine *e, const char *body, const char *by, ks_time at)
{
    size_t n = strlen(body);
    char *s = body[0] == '{' ? ks_strdup(body) : fixture(body, &n);
    struct ks_pd_event ev = {0};
    struct ks_err err = {0};
    int64_t id = -1;
    if (s && ks_alert_parse_pagerduty(s, n, &ev, &err) == KS_OK) {
        if (ks_engine_pd_event(e, &ev, by, at, &id, &err) != KS_OK) {
            id = -1;
        }
    } else {
        fprintf(stderr, "FAIL %s: %s: %s\n", t_current, body, err.msg);
        t_failed_checks++;
    }
    ks_pd_event_fini(&ev);
    ks_free(s);
    return id;
}

static int64_t pd(struct ks_engine *e, const char *body, const char *at)
{
    return pd_at(e, body, "alice", T(at));
}

/* An Alertmanager body, parsed; mutate(w) (may be NULL) may change it
 * before the engine sees it. */
static int64_t am_with(struct ks_engine *e, const char *name, const char *at,
                       void (*mutate)(struct ks_am_webhook *w))
{
    size_t n = 0;
    char *s = name[0] == '{' ? ks_strdup(name) : fixture(name, &n);
    if (name[0] == '{') {
        n = strlen(name);
    }
    struct ks_am_webhook w = {0};
    struct ks_err err = {0};
    int64_t id = -1;
    if (s && ks_alert_parse_alertmanager(s, n, &w, &err) == KS_OK) {
        if (mutate) {
            mutate(&w);
        }
        if (ks_engine_am_webhook(e, &w, "am", T(at), &id, &err) != KS_OK) {
            id = -1;
        }
    } else {
        fprintf(stderr, "FAIL %s: %s: %s\n", t_current, name, err.msg);
        t_failed_checks++;
    }
    ks_am_webhook_fini(&w);
    ks_free(s);
    return id;
}

static int64_t am(struct ks_engine *e, const char *name, const char *at)
{
    return am_with(e, name, at, NULL);
}

/* Incident id's JSON, detail 1 (with the timeline), in a buffer the caller
 * frees. */
static char *json(const struct ks_engine *e, int64_t id)
{
    struct ks_buf b = {0};
    if (ks_engine_incident_json(e, id, 1, &b) != KS_OK) {
        ks_buf_puts(&b, "(no such incident)");
    }
    return b.p;
}

/* Whether incident id's JSON holds each of the NULL-terminated pieces. */
#define HAS(e, id, ...) has_(e, id, __FILE__, __LINE__, (const char *[]){__VA_ARGS__, NULL})
static void has_(const struct ks_engine *e, int64_t id, const char *file, int line,
                 const char *const *pieces)
{
    char *j = json(e, id);
    for (size_t i = 0; pieces[i]; i++) {
        if (!strstr(j, pieces[i])) {
            fprintf(stderr, "FAIL %s: %s:%d: incident %lld lacks %s\n    in %s\n", t_current,
                    file, line, (long long)id, pieces[i], j);
            t_failed_checks++;
        }
    }
    ks_free(j);
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    return n;
}

static int64_t incidents(const struct ks_engine *e)
{
    struct ks_engine_stats st;
    ks_engine_stats(e, &st);
    return st.incidents;
}

static void save(const struct ks_engine *e, struct ks_buf *out)
{
    ks_buf_reset(out);
    ks_engine_save(e, out);
}

/* e saved, freed and loaded into a new engine, whose save must give the
 * same bytes. */
static struct ks_engine *through_checkpoint(struct ks_engine *e)
{
    struct ks_buf a = {0}, b = {0};
    struct ks_err err;
    ks_engine_save(e, &a);
    ks_engine_free(e);
    struct ks_engine *f = ks_engine_new(&cfg);
    CHECK_INT(ks_engine_load(f, a.p, a.len, &err), KS_OK);
    ks_engine_save(f, &b);
    CHECK(a.len == b.len && memcmp(a.p, b.p, a.len) == 0);
    ks_buf_fini(&a);
    ks_buf_fini(&b);
    return f;
}

/* ---- PagerDuty ------------------------------------------------------------------ */

static const char *const update_trigger =
    "{\"routing_key\":\"kintsugi-realclient-routing-key\",\"event_action\":\"trigger\","
    "\"dedup_key\":\"" PDJS_KEY "\",\"payload\":{\"summary\":\"pdjs: warehouse berlin WMS still "
    "down\",\"source\":\"wms-berlin.example\",\"severity\":\"warning\",\"custom_details\":"
    "{\"down_for_s\":300}}}";

static void pagerduty_trigger_update_acknowledge_resolve_then_a_new_incident(void)
{
    struct ks_engine *e = ks_engine_new(&cfg);
    CHECK_INT(pd(e, "pagerduty-pdjs-trigger-full.json", "2026-11-22T22:05:00Z"), 1);
    HAS(e, 1,
        "{\"id\":1,\"type\":\"external\",\"severity\":\"P1\",\"status\":\"investigating\","
        "\"title\":\"pdjs: warehouse berlin WMS down\",\"fingerprint\":\"external:" PDJS_KEY "\"",
        "\"locations\":[\"berlin\"],\"systems\":[\"wms\"]",
        "\"started_at\":\"2026-11-22T22:04:39.844Z\",\"detected_at\":\"2026-11-22T22:05:00.000Z\","
        "\"acknowledged_at\":null",
        "\"signals\":[{\"detector\":\"pagerduty\",\"at\":\"2026-11-22T22:05:00.000Z\",\"value\":1.0,"
        "\"threshold\":0.0,\"text\":\"trigger from wms-berlin.example (critical): pdjs: warehouse "
        "berlin WMS down\"}]",
        "\"source\":\"pagerduty\",\"dedup_key\":\"" PDJS_KEY "\",\"group_key\":null,"
        "\"routing_key_hash\":\"8b062a29e0dd9314\",\"details\":{\"checks\":[\"ping\",\"api\"],"
        "\"down_for_s\":120,\"location\":\"berlin\",\"nested\":{\"a\":1}},\"alerts\":[]",
        "\"timeline\":[{\"at\":\"2026-11-22T22:05:00.000Z\",\"kind\":\"signal\",\"actor\":"
        "\"kintsugi\",\"text\":\"pagerduty: trigger from wms-berlin.example (critical): pdjs: "
        "warehouse berlin WMS down\",\"severity\":\"P1\"},"
        /* what the trigger says for the responder: its links, images, client,
         * group and class, on the timeline */
        "{\"at\":\"2026-11-22T22:05:00.000Z\",\"kind\":\"note\",\"actor\":\"kintsugi\",\"text\":"
        "\"From the alert: link runbook <https://runbooks.example/wms-down>; image graph "
        "<https://example.invalid/graph.png>; client pdjs-realclient <https://example.invalid/pdjs>; "
        "group warehouse-berlin; class health\"}]");
    char *j = json(e, 1);
    CHECK(strstr(j, "kintsugi-realclient-routing-key") == NULL); /* a credential: not kept */

    /* The same trigger again (a retry): the same incident, nothing new. */
    ks_engine_effects_clear(e);
    CHECK_INT(pd(e, "pagerduty-pdjs-trigger-full.json", "2026-11-22T22:05:30Z"), 1);
    char *j2 = json(e, 1);
    CHECK_STR(j2, j);
    const int64_t *dirty;
    CHECK_INT(ks_engine_dirty(e, &dirty), 0);
    ks_free(j2);
    ks_free(j);

    /* A trigger that says something new updates it; a milder severity does
     * not lower it. */
    CHECK_INT(pd(e, update_trigger, "2026-11-22T22:06:00Z"), 1);
    HAS(e, 1, "\"severity\":\"P1\",\"status\":\"investigating\",\"title\":\"pdjs: warehouse berlin "
              "WMS still down\"",
        "\"details\":{\"down_for_s\":300}",
        "{\"at\":\"2026-11-22T22:06:00.000Z\",\"kind\":\"signal\",\"actor\":\"kintsugi\",\"text\":"
        "\"pagerduty: trigger again from wms-berlin.example (warning): pdjs: warehouse berlin WMS "
        "still down; the title changes; the details change; the incident stays P1 (an alert never "
        "lowers a severity)\",\"severity\":\"P1\"}]");
    CHECK_INT(incidents(e), 1);

    /* Acknowledge, as `kintsugi incident ack` by the sender; twice is once. */
    CHECK_INT(pd_at(e, "pagerduty-acknowledge.json", "alice", T("2026-11-22T22:07:00Z")), 1);
    HAS(e, 1, "\"acknowledged_at\":\"2026-11-22T22:07:00.000Z\"", "\"owner\":\"alice\"",
        "{\"at\":\"2026-11-22T22:07:00.000Z\",\"kind\":\"note\",\"actor\":\"alice\",\"text\":"
        "\"Acknowledged by alice\"}]");
    j = json(e, 1);
    CHECK_INT(pd_at(e, "pagerduty-acknowledge.json", "bob", T("2026-11-22T22:08:00Z")), 1);
    j2 = json(e, 1);
    CHECK_STR(j2, j);
    ks_free(j2);
    ks_free(j);

    /* Resolve. */
    CHECK_INT(pd_at(e, "pagerduty-pdjs-resolve.json", "bob", T("2026-11-22T22:09:00Z")), 1);
    HAS(e, 1, "\"status\":\"resolved\"", "\"resolved_at\":\"2026-11-22T22:09:00.000Z\"",
        "{\"at\":\"2026-11-22T22:09:00.000Z\",\"kind\":\"status\",\"actor\":\"bob\",\"text\":"
        "\"Status resolved, set by bob\",\"status\":\"resolved\"}");
    /* Closed: acknowledge and resolve change nothing. */
    CHECK_INT(pd(e, "pagerduty-pdjs-resolve.json", "2026-11-22T22:10:00Z"), 0);
    CHECK_INT(pd(e, "pagerduty-acknowledge.json", "2026-11-22T22:10:00Z"), 0);

    /* A later trigger opens a new incident, a repeat of the first. */
    CHECK_INT(pd(e, "pagerduty-pdjs-trigger-full.json", "2026-11-22T22:11:00Z"), 2);
    HAS(e, 2, "{\"id\":2,\"type\":\"external\",\"severity\":\"P1\",\"status\":\"investigating\"",
        "\"fingerprint\":\"external:" PDJS_KEY "\"", "\"repeat_of\":1",
        "\"text\":\"Repeat of incident 1 (same fingerprint family external:" PDJS_KEY
        ", resolved within 30 days)\"");
    HAS(e, 1, "\"status\":\"resolved\"");
    CHECK_INT(incidents(e), 2);
    ks_engine_free(e);
}

static void acknowledge_or_resolve_of_an_unknown_or_closed_key_changes_nothing(void)
{
    struct ks_engine *e = ks_engine_new(&cfg);
    /* No incident and no clock yet. */
    CHECK_INT(pd(e, "pagerduty-acknowledge.json", "2026-11-22T22:05:00Z"), 0);
    CHECK_INT(pd(e, "pagerduty-resolve.json", "2026-11-22T22:05:00Z"), 0);
    CHECK_INT(ks_engine_clock(e), KS_TIME_NONE);
    CHECK_INT(incidents(e), 0);

    CHECK_INT(pd(e, "pagerduty-pdjs-trigger-full.json", "2026-11-22T22:05:00Z"), 1);
    CHECK_INT(pd(e, "pagerduty-pdjs-resolve.json", "2026-11-22T22:06:00Z"), 1);
    ks_engine_effects_clear(e);
    struct ks_buf a = {0}, b = {0};
    save(e, &a);
    const char *unknown =
        "{\"routing_key\":\"r\",\"event_action\":\"acknowledge\",\"dedup_key\":\"nobody-knows\"}";
    const char *unknown_resolve =
        "{\"routing_key\":\"r\",\"event_action\":\"resolve\",\"dedup_key\":\"nobody-knows\"}";
    CHECK_INT(pd(e, unknown, "2026-11-22T23:00:00Z"), 0);
    CHECK_INT(pd(e, unknown_resolve, "2026-11-22T23:00:00Z"), 0);
    CHECK_INT(pd(e, "pagerduty-acknowledge.json", "2026-11-22T23:00:00Z"), 0); /* closed */
    CHECK_INT(pd(e, "pagerduty-pdjs-resolve.json", "2026-11-22T23:00:00Z"), 0);
    /* Alertmanager's resolved body of a group with no open incident. */
    CHECK_INT(am(e, "webhook-resolved.json", "2026-11-22T23:00:00Z"), 0);
    save(e, &b);
    CHECK(a.len == b.len && memcmp(a.p, b.p, a.len) == 0); /* not even the clock moved */
    const int64_t *dirty;
    CHECK_INT(ks_engine_dirty(e, &dirty), 0);
    CHECK_INT(incidents(e), 1);
    ks_buf_fini(&a);
    ks_buf_fini(&b);
    ks_engine_free(e);
}

static void pagerduty_severities_map_to_p1_p2_p3_p3(void)
{
    struct ks_engine *e = ks_engine_new(&cfg);
    static const char *const words[] = {"critical", "error", "warning", "info"};
    static const char *const want[] = {"P1", "P2", "P3", "P3"};
    for (int i = 0; i < 4; i++) {
        char body[512], piece[64];
        snprintf(body, sizeof(body),
                 "{\"routing_key\":\"r\",\"event_action\":\"trigger\",\"dedup_key\":\"k-%s\","
                 "\"payload\":{\"summary\":\"s\",\"source\":\"x\",\"severity\":\"%s\"}}",
                 words[i], words[i]);
        CHECK_INT(pd(e, body, "2026-11-22T22:05:00Z"), i + 1);
        snprintf(piece, sizeof(piece), "\"severity\":\"%s\"", want[i]);
        HAS(e, i + 1, piece);
    }
    ks_engine_free(e);
}

static void a_trigger_may_name_the_type_and_a_channel_kintsugi_never_saw(void)
{
    struct ks_engine *e = ks_engine_new(&cfg);
    const char *body =
        "{\"routing_key\":\"r\",\"event_action\":\"trigger\",\"dedup_key\":\"wms-down\","
        "\"payload\":{\"summary\":\"WMS down\",\"source\":\"nagios\",\"severity\":\"error\","
        "\"component\":\"wms\",\"custom_details\":{\"type\":\"system_outage\",\"channel\":"
        "[\"amazon\",\"ebay\"],\"location\":\"berlin\"}}}";
    CHECK_INT(pd(e, body, "2026-11-22T22:05:00Z"), 1);
    HAS(e, 1, "\"type\":\"system_outage\",\"severity\":\"P2\"",
        "\"fingerprint\":\"system_outage:wms-down\"",
        "\"channels\":[\"amazon\",\"ebay\"],\"skus\":0", "\"locations\":[\"berlin\"]",
        "\"systems\":[\"wms\"]", "\"step\":\"stop_order_import\"");
    /* The channels are names on the incident, not channels the engine
     * tracks: nothing about the guard or the detectors changes. */
    struct ks_buf b = {0};
    ks_engine_guard_status_json(e, &b);
    CHECK_STR(b.p, "{\"channels\":[]}");
    ks_buf_fini(&b);
    CHECK_INT(ks_engine_feed_seq(e, "amazon"), 0);
    ks_engine_free(e);
}

/* Names on an incident are listed in byte order, whatever order the alerts
 * gave them in: the same incident whichever receiver or trigger came first. */
static void scope_names_are_sorted(void)
{
    struct ks_engine *e = ks_engine_new(&cfg);
    const char *body =
        "{\"routing_key\":\"r\",\"event_action\":\"trigger\",\"dedup_key\":\"order\","
        "\"payload\":{\"summary\":\"s\",\"source\":\"x\",\"severity\":\"error\","
        "\"component\":\"wms\",\"custom_details\":{\"channel\":[\"zalando\",\"ebay\",\"amazon\"],"
        "\"location\":[\"paris\",\"berlin\"],\"system\":\"erp\"}}}";
    CHECK_INT(pd(e, body, "2026-11-22T22:05:00Z"), 1);
    HAS(e, 1, "\"channels\":[\"amazon\",\"ebay\",\"zalando\"]",
        "\"locations\":[\"berlin\",\"paris\"],\"systems\":[\"erp\",\"wms\"]");
    /* a later trigger adds names in their place */
    const char *more =
        "{\"routing_key\":\"r\",\"event_action\":\"trigger\",\"dedup_key\":\"order\","
        "\"payload\":{\"summary\":\"s\",\"source\":\"x\",\"severity\":\"error\","
        "\"component\":\"crm\",\"custom_details\":{\"channel\":\"cdiscount\","
        "\"location\":\"lyon\"}}}";
    CHECK_INT(pd(e, more, "2026-11-22T22:06:00Z"), 1);
    HAS(e, 1, "\"channels\":[\"amazon\",\"cdiscount\",\"ebay\",\"zalando\"]",
        "\"locations\":[\"berlin\",\"lyon\",\"paris\"],\"systems\":[\"crm\",\"erp\",\"wms\"]");
    ks_engine_free(e);
}

static void an_event_needs_a_time_from_the_caller_or_the_clock(void)
{
    struct ks_engine *e = ks_engine_new(&cfg);
    CHECK_INT(pd_at(e, "pagerduty-trigger.json", "alice", KS_TIME_NONE), -1);
    CHECK_INT(incidents(e), 0);
    CHECK_INT(pd(e, "pagerduty-trigger.json", "2026-11-22T22:05:00Z"), 1);
    /* Later without a time: stamped with the clock. An earlier time counts
     * as the clock too: the timeline stays in order. */
    CHECK_INT(pd_at(e, "pagerduty-resolve.json", "alice", T("2026-11-22T22:00:00Z")), 1);
    HAS(e, 1, "\"resolved_at\":\"2026-11-22T22:05:00.000Z\"");
    ks_engine_free(e);
}

/* ---- Alertmanager ------------------------------------------------------------ */

static void alertmanager_group_fires_resolves_in_part_then_in_whole(void)
{
    struct ks_engine *e = ks_engine_new(&cfg);
    CHECK_INT(am(e, "webhook-group-firing.json", "2026-11-22T22:05:00Z"), 1);
    HAS(e, 1,
        "{\"id\":1,\"type\":\"external\",\"severity\":\"P3\",\"status\":\"investigating\","
        "\"title\":\"Warehouse health check failing\",\"fingerprint\":\"external:" AM_HASH_WMS "\"",
        "\"channels\":[],", "\"locations\":[\"berlin\",\"paris\"],\"systems\":[\"wms\"]",
        "\"started_at\":\"2026-11-22T22:04:34.673Z\",\"detected_at\":\"2026-11-22T22:05:00.000Z\"",
        "\"source\":\"alertmanager\",\"dedup_key\":\"" AM_HASH_WMS "\",\"group_key\":\"{}/{}:"
        "{alertname=\\\"WarehouseHealthDown\\\"}\",\"routing_key_hash\":null,\"details\":null",
        "\"alerts\":[{\"fingerprint\":\"a642217df8a8aa87\",\"status\":\"firing\",\"name\":\"" BERLIN
        "\"},{\"fingerprint\":\"b414f7f65f999c4f\",\"status\":\"firing\",\"name\":\"" PARIS "\"}]",
        "\"timeline\":[{\"at\":\"2026-11-22T22:05:00.000Z\",\"kind\":\"signal\",\"actor\":"
        "\"kintsugi\",\"text\":\"alertmanager: " BERLIN " fires (fingerprint a642217df8a8aa87)\","
        "\"severity\":\"P3\"},{\"at\":\"2026-11-22T22:05:00.000Z\",\"kind\":\"signal\",\"actor\":"
        "\"kintsugi\",\"text\":\"alertmanager: " PARIS " fires (fingerprint b414f7f65f999c4f)\","
        "\"severity\":\"P3\"}]");
    HAS(e, 1, "{\"detector\":\"alertmanager\",\"at\":\"2026-11-22T22:05:00.000Z\",\"value\":2.0,"
              "\"threshold\":0.0,\"text\":\"" BERLIN " fires (fingerprint a642217df8a8aa87)\"}");

    /* The same body again (Alertmanager's repeat_interval): unchanged. */
    char *j = json(e, 1);
    ks_engine_effects_clear(e);
    CHECK_INT(am(e, "webhook-group-firing.json", "2026-11-22T22:06:00Z"), 1);
    char *j2 = json(e, 1);
    CHECK_STR(j2, j);
    const int64_t *dirty;
    CHECK_INT(ks_engine_dirty(e, &dirty), 0);
    ks_free(j);
    ks_free(j2);

    /* A firing body that carries a resolved alert: berlin resolves. */
    CHECK_INT(am(e, "webhook-group-partial.json", "2026-11-22T22:07:00Z"), 1);
    HAS(e, 1, "\"status\":\"investigating\"",
        "\"alerts\":[{\"fingerprint\":\"a642217df8a8aa87\",\"status\":\"resolved\",\"name\":\"" BERLIN
        "\"},{\"fingerprint\":\"b414f7f65f999c4f\",\"status\":\"firing\",\"name\":\"" PARIS "\"}]",
        "{\"at\":\"2026-11-22T22:07:00.000Z\",\"kind\":\"note\",\"actor\":\"kintsugi\",\"text\":"
        "\"alertmanager: " BERLIN " resolved (fingerprint a642217df8a8aa87)\"}]");
    j = json(e, 1);
    CHECK_INT(am(e, "webhook-group-partial.json", "2026-11-22T22:08:00Z"), 1);
    j2 = json(e, 1);
    CHECK_STR(j2, j);
    ks_free(j);
    ks_free(j2);

    /* The last body names only paris, resolved: the group resolves (its
     * name is kept from the first body, not redrawn from this one). */
    CHECK_INT(am(e, "webhook-group-resolved.json", "2026-11-22T22:09:00Z"), 1);
    HAS(e, 1, "\"status\":\"resolved\"", "\"resolved_at\":\"2026-11-22T22:09:00.000Z\"",
        "\"alerts\":[{\"fingerprint\":\"b414f7f65f999c4f\",\"status\":\"resolved\",\"name\":\"" PARIS
        "\"}]",
        "{\"at\":\"2026-11-22T22:09:00.000Z\",\"kind\":\"note\",\"actor\":\"kintsugi\",\"text\":"
        "\"alertmanager: " PARIS " resolved (fingerprint b414f7f65f999c4f)\"},{\"at\":"
        "\"2026-11-22T22:09:00.000Z\",\"kind\":\"status\",\"actor\":\"am\",\"text\":\"Status "
        "resolved, set by am\",\"status\":\"resolved\"}");
    struct ks_buf a = {0}, b = {0};
    save(e, &a);
    CHECK_INT(am(e, "webhook-group-resolved.json", "2026-11-22T22:10:00Z"), 0);
    CHECK_INT(am(e, "webhook-group-partial.json", "2026-11-22T22:10:00Z"), 2); /* paris fires */
    save(e, &b);
    CHECK(!(a.len == b.len && memcmp(a.p, b.p, a.len) == 0));
    CHECK_INT(incidents(e), 2);
    HAS(e, 2, "\"repeat_of\":1", "\"detected_at\":\"2026-11-22T22:10:00.000Z\"",
        "\"alerts\":[{\"fingerprint\":\"a642217df8a8aa87\",\"status\":\"resolved\",\"name\":\"" BERLIN
        "\"},{\"fingerprint\":\"b414f7f65f999c4f\",\"status\":\"firing\",\"name\":\"" PARIS "\"}]");
    ks_buf_fini(&a);
    ks_buf_fini(&b);
    ks_engine_free(e);
}

static void truncate_body(struct ks_am_webhook *w)
{
    w->truncated_alerts = 3;
}

static void truncate_and_resolve_all(struct ks_am_webhook *w)
{
    w->truncated_alerts = 3;
    for (size_t i = 0; i < w->nalerts; i++) {
        w->alerts[i].status = KS_AM_RESOLVED;
    }
}

static void resolve_all(struct ks_am_webhook *w)
{
    for (size_t i = 0; i < w->nalerts; i++) {
        w->alerts[i].status = KS_AM_RESOLVED;
    }
}

static void a_truncated_body_never_resolves_the_alerts_it_leaves_out(void)
{
    struct ks_engine *e = ks_engine_new(&cfg);
    CHECK_INT(am(e, "webhook-group-firing.json", "2026-11-22T22:05:00Z"), 1);
    /* Names paris resolved, leaves berlin out: berlin keeps firing. */
    CHECK_INT(am_with(e, "webhook-group-resolved.json", "2026-11-22T22:06:00Z", truncate_body), 1);
    HAS(e, 1, "\"status\":\"investigating\"",
        "\"alerts\":[{\"fingerprint\":\"b414f7f65f999c4f\",\"status\":\"resolved\"",
        "{\"fingerprint\":\"a642217df8a8aa87\",\"status\":\"firing\"");
    /* Every alert it names resolved, but truncated: still open. */
    CHECK_INT(am_with(e, "webhook-group-partial.json", "2026-11-22T22:07:00Z",
                      truncate_and_resolve_all),
              1);
    HAS(e, 1, "\"status\":\"investigating\"",
        "{\"fingerprint\":\"a642217df8a8aa87\",\"status\":\"resolved\"");
    /* The same, complete: resolved. */
    CHECK_INT(am_with(e, "webhook-group-partial.json", "2026-11-22T22:08:00Z", resolve_all), 1);
    HAS(e, 1, "\"status\":\"resolved\"", "\"resolved_at\":\"2026-11-22T22:08:00.000Z\"");
    ks_engine_free(e);
}

/* A body of n alerts of one group, without severity labels, all `status`. */
static char *big_body(int n, const char *status)
{
    struct ks_buf b = {0};
    ks_buf_puts(&b, "{\"version\":\"4\",\"groupKey\":\"{}:{alertname=\\\"Many\\\"}\",\"status\":"
                    "\"firing\",\"commonLabels\":{\"alertname\":\"Many\"},\"alerts\":[");
    for (int i = 0; i < n; i++) {
        ks_buf_printf(&b,
                      "%s{\"status\":\"%s\",\"fingerprint\":\"f%02d\",\"labels\":{\"alertname\":"
                      "\"Many\",\"channel\":\"c%02d\"},\"startsAt\":\"2026-11-22T22:0%d:00Z\"}",
                      i ? "," : "", status, i, i, 4 - i % 2);
    }
    ks_buf_puts(&b, "]}");
    return b.p;
}

static void a_large_group_names_twenty_alerts_and_counts_the_rest(void)
{
    struct ks_engine *e = ks_engine_new(&cfg);
    char *fire = big_body(25, "firing"), *resolve = big_body(25, "resolved");
    CHECK_INT(am(e, fire, "2026-11-22T22:05:00Z"), 1);
    char *j = json(e, 1);
    CHECK_INT(count_of(j, "\"kind\":\"signal\""), 21);
    CHECK_INT(count_of(j, "{\"detector\":\"alertmanager\""), 21);
    CHECK(strstr(j, "\"text\":\"alertmanager: Many{channel=\\\"c19\\\"} fires (fingerprint f19)\"") !=
          NULL);
    CHECK(strstr(j, "\"text\":\"alertmanager: 5 more alerts of the group fire\"") != NULL);
    CHECK(strstr(j, "\"started_at\":\"2026-11-22T22:03:00.000Z\"") != NULL); /* the earliest */
    CHECK(strstr(j, "\"text\":\"alertmanager: no firing alert names a severity (label severity): "
                    "P3\"") != NULL);
    ks_free(j);
    CHECK_INT(am(e, resolve, "2026-11-22T22:06:00Z"), 1);
    j = json(e, 1);
    CHECK_INT(count_of(j, "\"kind\":\"note\",\"actor\":\"kintsugi\",\"text\":\"alertmanager: Many{"),
              20);
    CHECK(strstr(j, "\"text\":\"alertmanager: 5 more alerts of the group resolved\"") != NULL);
    CHECK(strstr(j, "\"status\":\"resolved\",\"title\"") != NULL);
    ks_free(j);
    ks_free(fire);
    ks_free(resolve);
    ks_engine_free(e);
}

static void a_firing_alert_with_a_worse_severity_escalates_the_group(void)
{
    struct ks_engine *e = ks_engine_new(&cfg);
    char *body = big_body(1, "firing");
    CHECK_INT(am(e, body, "2026-11-22T22:05:00Z"), 1);
    ks_free(body);
    const char *worse =
        "{\"version\":\"4\",\"groupKey\":\"{}:{alertname=\\\"Many\\\"}\",\"status\":\"firing\","
        "\"alerts\":[{\"status\":\"firing\",\"fingerprint\":\"f00\",\"labels\":{\"alertname\":"
        "\"Many\",\"channel\":\"c00\"},\"startsAt\":\"2026-11-22T22:04:00Z\"},{\"status\":"
        "\"firing\",\"fingerprint\":\"f01\",\"labels\":{\"alertname\":\"Many\",\"channel\":\"c01\","
        "\"severity\":\"critical\"},\"startsAt\":\"2026-11-22T22:05:00Z\"}]}";
    CHECK_INT(am(e, worse, "2026-11-22T22:06:00Z"), 1);
    HAS(e, 1, "\"severity\":\"P1\"", "\"channels\":[\"c00\",\"c01\"]",
        "{\"at\":\"2026-11-22T22:06:00.000Z\",\"kind\":\"escalation\",\"actor\":\"kintsugi\","
        "\"text\":\"Escalated P3 -> P1: a firing Alertmanager alert says P1\",\"severity\":\"P1\","
        "\"from\":\"P3\",\"why\":\"a firing Alertmanager alert says P1\"}",
        "\"text\":\"P1: the whole core team is to be notified: no receiver for the team "
        "audience (notify.team in kintsugi.yaml); nothing sent\"");
    /* f01 resolves: the severity stays. */
    CHECK_INT(am_with(e, worse, "2026-11-22T22:07:00Z", resolve_all), 1);
    HAS(e, 1, "\"severity\":\"P1\",\"status\":\"resolved\"");
    ks_engine_free(e);
}

/* ---- both receivers --------------------------------------------------------------- */

static void both_receivers_of_a_group_meet_on_one_incident(void)
{
    /* The PagerDuty receiver first, then the webhook. */
    struct ks_engine *e = ks_engine_new(&cfg);
    CHECK_INT(pd(e, "pagerduty-group-trigger.json", "2026-11-22T22:05:00Z"), 1);
    HAS(e, 1, "\"type\":\"external\",\"severity\":\"P3\",\"status\":\"investigating\",\"title\":"
              "\"[FIRING:2] WarehouseHealthDown (wms shop-exporter warning)\"",
        "\"locations\":[\"berlin\",\"paris\"],\"systems\":[\"wms\"]",
        "\"source\":\"pagerduty\",\"dedup_key\":\"" AM_HASH_WMS "\",\"group_key\":null");
    CHECK_INT(am(e, "webhook-group-firing.json", "2026-11-22T22:05:01Z"), 1);
    HAS(e, 1, "\"group_key\":\"{}/{}:{alertname=\\\"WarehouseHealthDown\\\"}\"",
        "\"text\":\"alertmanager: " BERLIN " fires (fingerprint a642217df8a8aa87)\"",
        "\"title\":\"[FIRING:2] WarehouseHealthDown (wms shop-exporter warning)\"");
    CHECK_INT(am(e, "webhook-group-partial.json", "2026-11-22T22:06:00Z"), 1);
    CHECK_INT(pd(e, "pagerduty-group-partial.json", "2026-11-22T22:06:01Z"), 1);
    HAS(e, 1, "\"title\":\"[FIRING:1] WarehouseHealthDown (wms shop-exporter warning)\"",
        "\"text\":\"pagerduty: trigger again from alertmanager-realclient (warning): [FIRING:1] "
        "WarehouseHealthDown (wms shop-exporter warning); the title changes; the details "
        "change\"");
    CHECK_INT(am(e, "webhook-group-resolved.json", "2026-11-22T22:07:00Z"), 1);
    HAS(e, 1, "\"status\":\"resolved\"", "\"resolved_at\":\"2026-11-22T22:07:00.000Z\"");
    CHECK_INT(pd(e, "pagerduty-group-resolve.json", "2026-11-22T22:07:01Z"), 0); /* already */
    CHECK_INT(incidents(e), 1);
    ks_engine_free(e);

    /* The webhook first, then the PagerDuty receiver; the other group. */
    e = ks_engine_new(&cfg);
    CHECK_INT(am(e, "webhook-firing.json", "2026-11-22T22:05:00Z"), 1);
    CHECK_INT(pd(e, "pagerduty-trigger.json", "2026-11-22T22:05:01Z"), 1);
    HAS(e, 1, "\"type\":\"external\",\"severity\":\"P1\"", "\"channels\":[\"amazon\"]",
        "\"systems\":[\"channel-sync\"]", "\"source\":\"alertmanager\",\"dedup_key\":\"" AM_HASH_SYNC
        "\"",
        "\"routing_key_hash\":\"8b062a29e0dd9314\"",
        "\"title\":\"[FIRING:1] ChannelSyncErrors (amazon channel-sync oms-1:9100 shop-exporter "
        "critical)\"");
    CHECK_INT(pd(e, "pagerduty-resolve.json", "2026-11-22T22:06:00Z"), 1);
    HAS(e, 1, "\"status\":\"resolved\"");
    CHECK_INT(am(e, "webhook-resolved.json", "2026-11-22T22:06:01Z"), 0); /* already */
    CHECK_INT(incidents(e), 1);
    ks_engine_free(e);
}

/* ---- SLA timers ---------------------------------------------------------------------- */

static void external_incidents_get_the_sla_timers_of_detected_ones(void)
{
    struct ks_engine *e = ks_engine_new(&cfg);
    struct ks_err err = {0};
    /* P2 (error): acknowledge within 1 h. */
    const char *p2 = "{\"routing_key\":\"r\",\"event_action\":\"trigger\",\"dedup_key\":\"p2\","
                     "\"payload\":{\"summary\":\"s\",\"source\":\"x\",\"severity\":\"error\"}}";
    CHECK_INT(pd(e, p2, "2026-11-22T22:00:00Z"), 1);
    /* P3 (warning) acknowledged in time: no acknowledgement SLA, but the
     * resolution SLA of 24 h. */
    const char *p3 = "{\"routing_key\":\"r\",\"event_action\":\"trigger\",\"dedup_key\":\"p3\","
                     "\"payload\":{\"summary\":\"s\",\"source\":\"x\",\"severity\":\"warning\"}}";
    CHECK_INT(pd(e, p3, "2026-11-22T22:00:00Z"), 2);
    const char *ack3 = "{\"routing_key\":\"r\",\"event_action\":\"acknowledge\",\"dedup_key\":"
                       "\"p3\"}";
    CHECK_INT(pd(e, ack3, "2026-11-22T22:30:00Z"), 2);
    /* The clock moves on (a note, a person's action at that time). */
    CHECK_INT(ks_engine_note(e, 1, "looking", "bob", T("2026-11-23T23:00:00Z"), &err), KS_OK);
    HAS(e, 1,
        "{\"at\":\"2026-11-22T23:00:00.000Z\",\"kind\":\"sla\",\"actor\":\"kintsugi\",\"text\":"
        "\"Acknowledgement SLA missed: P2 incidents must be acknowledged within 1h\"},{\"at\":"
        "\"2026-11-22T23:00:00.000Z\",\"kind\":\"notification\",\"actor\":\"kintsugi\",\"text\":"
        "\"Escalation notification: incident 1 is not acknowledged: no receiver for the team "
        "audience (notify.team in kintsugi.yaml); nothing sent\"}");
    char *j = json(e, 2);
    CHECK(strstr(j, "Acknowledgement SLA missed") == NULL);
    CHECK(strstr(j, "{\"at\":\"2026-11-23T22:00:00.000Z\",\"kind\":\"sla\",\"actor\":\"kintsugi\","
                    "\"text\":\"Resolution SLA missed: P3 incidents must be resolved within "
                    "1d\"}") != NULL);
    ks_free(j);

    /* An escalation by a later trigger brings the acknowledgement SLA
     * forward: P3 at 22:00 (due 02:00), P1 at 22:10 (due 22:25). */
    const char *p3b = "{\"routing_key\":\"r\",\"event_action\":\"trigger\",\"dedup_key\":\"p3b\","
                      "\"payload\":{\"summary\":\"s\",\"source\":\"x\",\"severity\":\"info\"}}";
    const char *p1b = "{\"routing_key\":\"r\",\"event_action\":\"trigger\",\"dedup_key\":\"p3b\","
                      "\"payload\":{\"summary\":\"s\",\"source\":\"x\",\"severity\":\"critical\"}}";
    CHECK_INT(pd(e, p3b, "2026-11-24T22:00:00Z"), 3);
    CHECK_INT(pd(e, p1b, "2026-11-24T22:10:00Z"), 3);
    CHECK_INT(ks_engine_note(e, 3, "looking", "bob", T("2026-11-24T22:26:00Z"), &err), KS_OK);
    HAS(e, 3,
        "\"kind\":\"escalation\",\"actor\":\"kintsugi\",\"text\":\"Escalated P3 -> P1: a PagerDuty "
        "trigger says critical\",\"severity\":\"P1\",\"from\":\"P3\"",
        "{\"at\":\"2026-11-24T22:25:00.000Z\",\"kind\":\"sla\",\"actor\":\"kintsugi\",\"text\":"
        "\"Acknowledgement SLA missed: P1 incidents must be acknowledged within 15m\"}");
    ks_engine_free(e);
}

/* The engine's entries announcing who is told say so only where a receiver
 * of that audience is configured (notify.AUDIENCE): without one they say
 * that nothing was sent and why (docs/MESSAGES.md). The ack escalation of a
 * P1 goes to leadership, of a P2 to the core team (the team audience). */
static void notification_entries_say_nothing_sent_without_a_receiver(void)
{
    static const char nothing_team[] =
        ": no receiver for the team audience (notify.team in kintsugi.yaml); nothing sent";
    static const char nothing_lead[] = ": no receiver for the leadership audience "
                                       "(notify.leadership in kintsugi.yaml); nothing sent";
    const char *p2 = "{\"routing_key\":\"r\",\"event_action\":\"trigger\",\"dedup_key\":\"p2\","
                     "\"payload\":{\"summary\":\"s\",\"source\":\"x\",\"severity\":\"error\"}}";
    const char *p1 = "{\"routing_key\":\"r\",\"event_action\":\"trigger\",\"dedup_key\":\"p2\","
                     "\"payload\":{\"summary\":\"s\",\"source\":\"x\",\"severity\":\"critical\"}}";
    const char *other = "{\"routing_key\":\"r\",\"event_action\":\"trigger\",\"dedup_key\":"
                        "\"q\",\"payload\":{\"summary\":\"s\",\"source\":\"x\",\"severity\":"
                        "\"error\"}}";
    char *team = ks_strdup("box"), *lead = ks_strdup("box");
    for (int with = 0; with < 4; with++) {
        /* 0: no notify at all, 1: team only, 2: leadership only, 3: both */
        struct ks_config c = cfg;
        c.notify_team = with & 1 ? &team : NULL;
        c.nnotify_team = with & 1 ? 1 : 0;
        c.notify_leadership = with & 2 ? &lead : NULL;
        c.nnotify_leadership = with & 2 ? 1 : 0;
        struct ks_engine *e = ks_engine_new(&c);
        struct ks_err err = {0};
        /* incident 1: P2 at 22:00, P1 at 22:10 (ack due 22:25: leadership);
         * incident 2: P2 at 22:00, never acknowledged (due 23:00: the team) */
        CHECK_INT(pd(e, p2, "2026-11-22T22:00:00Z"), 1);
        CHECK_INT(pd(e, other, "2026-11-22T22:00:00Z"), 2);
        CHECK_INT(pd(e, p1, "2026-11-22T22:10:00Z"), 1);
        CHECK_INT(ks_engine_note(e, 1, "looking", "bob", T("2026-11-22T23:30:00Z"), &err), KS_OK);
        char p1_text[160], ack1[200], ack2[200];
        snprintf(p1_text, sizeof(p1_text), "\"text\":\"P1: the whole core team %s%s\"",
                 with & 1 ? "is notified" : "is to be notified", with & 1 ? "" : nothing_team);
        snprintf(ack1, sizeof(ack1),
                 "\"text\":\"Escalation notification: incident 1 is not acknowledged%s\"",
                 with & 2 ? "" : nothing_lead);
        snprintf(ack2, sizeof(ack2),
                 "\"text\":\"Escalation notification: incident 2 is not acknowledged%s\"",
                 with & 1 ? "" : nothing_team);
        HAS(e, 1, p1_text, ack1);
        HAS(e, 2, ack2);
        ks_engine_free(e);
    }
    ks_free(team);
    ks_free(lead);
}

/* ---- checkpoints --------------------------------------------------------------------- */

struct step {
    char kind; /* 'p' PagerDuty, 'a' Alertmanager, 'n' a note on incident 1 (time passes) */
    const char *body;
    const char *at;
};

static const struct step steps[] = {
    {'p', "pagerduty-pdjs-trigger-full.json", "2026-11-22T22:05:00Z"},
    {'a', "webhook-group-firing.json", "2026-11-22T22:05:10Z"},
    {'p', "pagerduty-group-trigger.json", "2026-11-22T22:05:11Z"},
    {'a', "webhook-firing.json", "2026-11-22T22:05:20Z"},
    {'a', "webhook-group-firing.json", "2026-11-22T22:06:00Z"},
    {'p', "pagerduty-acknowledge.json", "2026-11-22T22:06:30Z"},
    {'a', "webhook-group-partial.json", "2026-11-22T22:07:00Z"},
    {'p', "pagerduty-group-partial.json", "2026-11-22T22:07:01Z"},
    {'n', NULL, "2026-11-23T03:00:00Z"},
    {'p', "pagerduty-pdjs-resolve.json", "2026-11-23T04:00:00Z"},
    {'a', "webhook-group-resolved.json", "2026-11-23T04:10:00Z"},
    {'p', "pagerduty-group-resolve.json", "2026-11-23T04:10:01Z"},
    {'p', "pagerduty-resolve.json", "2026-11-23T04:20:00Z"},
    {'a', "webhook-resolved.json", "2026-11-23T04:20:01Z"},
    {'a', "webhook-group-firing.json", "2026-11-23T05:00:00Z"},
    {'p', "pagerduty-pdjs-trigger-full.json", "2026-11-23T05:00:01Z"},
};
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

static void run_step(struct ks_engine *e, const struct step *s)
{
    struct ks_err err = {0};
    switch (s->kind) {
    case 'p':
        CHECK(pd(e, s->body, s->at) >= 0);
        break;
    case 'a':
        CHECK(am(e, s->body, s->at) >= 0);
        break;
    default:
        CHECK_INT(ks_engine_note(e, 1, "time passes", "bob", T(s->at), &err), KS_OK);
        break;
    }
}

static void a_checkpoint_at_any_step_gives_the_same_incidents(void)
{
    struct ks_engine *whole = ks_engine_new(&cfg);
    for (size_t i = 0; i < NSTEPS; i++) {
        run_step(whole, &steps[i]);
    }
    CHECK_INT(incidents(whole), 5);
    HAS(whole, 1, "\"status\":\"resolved\"", "\"acknowledged_at\":\"2026-11-22T22:06:30.000Z\"");
    HAS(whole, 2, "\"status\":\"resolved\"", "\"group_key\":\"{}/{}:",
        "Acknowledgement SLA missed: P3");
    HAS(whole, 3, "\"status\":\"resolved\"", "\"channels\":[\"amazon\"]",
        "Acknowledgement SLA missed: P1");
    HAS(whole, 4, "\"status\":\"investigating\"", "\"repeat_of\":2");
    HAS(whole, 5, "\"status\":\"investigating\"", "\"repeat_of\":1");
    struct ks_buf want = {0}, got = {0};
    save(whole, &want);
    for (size_t cut = 0; cut <= NSTEPS; cut++) {
        struct ks_engine *e = ks_engine_new(&cfg);
        for (size_t i = 0; i < cut; i++) {
            run_step(e, &steps[i]);
        }
        e = through_checkpoint(e);
        for (size_t i = cut; i < NSTEPS; i++) {
            run_step(e, &steps[i]);
        }
        for (int64_t id = 1; id <= 5; id++) {
            char *a = json(whole, id), *b = json(e, id);
            CHECK_STR(b, a);
            ks_free(a);
            ks_free(b);
        }
        save(e, &got);
        CHECK(want.len == got.len && memcmp(want.p, got.p, want.len) == 0);
        ks_engine_free(e);
    }
    ks_buf_fini(&want);
    ks_buf_fini(&got);
    ks_engine_free(whole);
}

static void damaged_checkpoints_with_alert_state_are_refused(void)
{
    struct ks_engine *e = ks_engine_new(&cfg);
    for (size_t i = 0; i < 8; i++) {
        run_step(e, &steps[i]);
    }
    struct ks_buf a = {0};
    ks_engine_save(e, &a);
    ks_engine_free(e);
    int refused = 0, tries = 0;
    for (size_t cut = 0; cut < a.len; cut += 7) {
        struct ks_engine *f = ks_engine_new(&cfg);
        struct ks_err err;
        tries++;
        refused += ks_engine_load(f, a.p, cut, &err) != KS_OK;
        ks_engine_free(f);
    }
    CHECK_INT(refused, tries);
    for (size_t at = 0; at < a.len; at += 5) {
        char *copy = ks_malloc(a.len);
        memcpy(copy, a.p, a.len);
        copy[at] ^= 0x5a; /* must not crash, whatever it decides */
        struct ks_engine *f = ks_engine_new(&cfg);
        struct ks_err err;
        ks_engine_load(f, copy, a.len, &err);
        ks_engine_free(f);
        ks_free(copy);
    }
    ks_buf_fini(&a);
}

int main(void)
{
    ks_config_defaults(&cfg);
    RUN(pagerduty_trigger_update_acknowledge_resolve_then_a_new_incident);
    RUN(acknowledge_or_resolve_of_an_unknown_or_closed_key_changes_nothing);
    RUN(pagerduty_severities_map_to_p1_p2_p3_p3);
    RUN(a_trigger_may_name_the_type_and_a_channel_kintsugi_never_saw);
    RUN(scope_names_are_sorted);
    RUN(an_event_needs_a_time_from_the_caller_or_the_clock);
    RUN(alertmanager_group_fires_resolves_in_part_then_in_whole);
    RUN(a_truncated_body_never_resolves_the_alerts_it_leaves_out);
    RUN(a_large_group_names_twenty_alerts_and_counts_the_rest);
    RUN(a_firing_alert_with_a_worse_severity_escalates_the_group);
    RUN(both_receivers_of_a_group_meet_on_one_incident);
    RUN(external_incidents_get_the_sla_timers_of_detected_ones);
    RUN(notification_entries_say_nothing_sent_without_a_receiver);
    RUN(a_checkpoint_at_any_step_gives_the_same_incidents);
    RUN(damaged_checkpoints_with_alert_state_are_refused);
    ks_config_fini(&cfg);
    return t_done();
}
