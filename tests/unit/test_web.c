/* test_web.c - what the dashboard reads beside the stored rows: the SLA
 * clocks of the engine (GET /v1/sla), and the embedded files (src/web). */
#include "../../src/engine/engine.h"
#include "../../src/web/web.h"
#include "t.h"

static struct ks_config cfg;

static void feed(struct ks_engine *e, const char *line)
{
    struct ks_err err;
    static int64_t n;
    ks_engine_event(e, ks_engine_input(e, "t.ndjson"), ++n, line, strlen(line), &err);
}

static const char *sla(struct ks_engine *e, struct ks_buf *b)
{
    b->len = 0;
    ks_engine_sla_json(e, b);
    return b->p;
}

static void sla_clocks_count_down_then_say_missed_then_stop_at_the_ack(void)
{
    struct ks_engine *e = ks_engine_new(&cfg);
    struct ks_buf b = {0};
    struct ks_err err;
    CHECK_STR(sla(e, &b), "{\"clock\":null,\"incidents\":[]}");
    feed(e, "{\"type\":\"sync\",\"ts\":\"2026-11-22T10:00:00Z\",\"channel\":\"amazon\",\"status\":"
            "\"ok\"}");
    feed(e, "{\"type\":\"sync\",\"ts\":\"2026-11-22T10:20:00Z\",\"channel\":\"ebay\",\"status\":"
            "\"ok\"}");
    feed(e, "{\"type\":\"sync\",\"ts\":\"2026-11-22T10:25:00Z\",\"channel\":\"ebay\",\"status\":"
            "\"ok\"}");
    feed(e, "{\"type\":\"tick\",\"ts\":\"2026-11-22T10:30:00.001Z\"}");
    /* amazon stale: a P3, acknowledge within 4 h, resolve within 24 h */
    CHECK_STR(sla(e, &b), "{\"clock\":\"2026-11-22T10:30:00.001Z\",\"incidents\":[{\"id\":1,"
                          "\"ack\":{\"due\":\"2026-11-22T14:30:00.000Z\",\"missed\":false},"
                          "\"resolve\":{\"due\":\"2026-11-23T10:30:00.000Z\",\"missed\":false}}]}");
    /* still stale an hour later: escalated to P2 at 11:30, acknowledge within 1 h of
     * that, no resolution clock */
    static const char *const later[] = {"10:40", "11:00", "11:20", "11:40"};
    char line[160];
    for (size_t i = 0; i < 4; i++) {
        snprintf(line, sizeof(line),
                 "{\"type\":\"sync\",\"ts\":\"2026-11-22T%s:00Z\",\"channel\":\"ebay\","
                 "\"status\":\"ok\"}",
                 later[i]);
        feed(e, line);
    }
    CHECK_STR(sla(e, &b), "{\"clock\":\"2026-11-22T11:40:00.000Z\",\"incidents\":[{\"id\":1,"
                          "\"ack\":{\"due\":\"2026-11-22T12:30:00.000Z\",\"missed\":false},"
                          "\"resolve\":null}]}");
    /* past it: missed, and due says when it was */
    feed(e, "{\"type\":\"sync\",\"ts\":\"2026-11-22T12:00:00Z\",\"channel\":\"ebay\",\"status\":"
            "\"ok\"}");
    feed(e, "{\"type\":\"sync\",\"ts\":\"2026-11-22T12:20:00Z\",\"channel\":\"ebay\",\"status\":"
            "\"ok\"}");
    feed(e, "{\"type\":\"sync\",\"ts\":\"2026-11-22T12:40:00Z\",\"channel\":\"ebay\",\"status\":"
            "\"ok\"}");
    CHECK_STR(sla(e, &b), "{\"clock\":\"2026-11-22T12:40:00.000Z\",\"incidents\":[{\"id\":1,"
                          "\"ack\":{\"due\":\"2026-11-22T12:30:00.000Z\",\"missed\":true},"
                          "\"resolve\":null}]}");
    /* acknowledged: no clock runs; resolved: not listed */
    CHECK_INT(ks_engine_ack(e, 1, "bob", KS_TIME_NONE, &err), KS_OK);
    CHECK_STR(sla(e, &b), "{\"clock\":\"2026-11-22T12:40:00.000Z\",\"incidents\":[{\"id\":1,"
                          "\"ack\":null,\"resolve\":null}]}");
    CHECK_INT(ks_engine_set_status(e, 1, "resolved", "bob", KS_TIME_NONE, &err), KS_OK);
    CHECK_STR(sla(e, &b), "{\"clock\":\"2026-11-22T12:40:00.000Z\",\"incidents\":[]}");
    ks_buf_fini(&b);
    ks_engine_free(e);
}

/* Every file of web/ is embedded, index.html at "/", with its type and a
 * quoted ETag; the page loads only the other two, from this origin. */
static void the_dashboard_files_are_embedded_with_type_and_etag(void)
{
    static const char *const want[][2] = {{"/", "text/html; charset=utf-8"},
                                          {"/app.css", "text/css; charset=utf-8"},
                                          {"/app.js", "text/javascript; charset=utf-8"}};
    CHECK_INT(ks_web_nassets, 3);
    for (size_t i = 0; i < 3 && i < ks_web_nassets; i++) {
        const struct ks_web_asset *a = &ks_web_assets[i];
        CHECK_STR(a->path, want[i][0]);
        CHECK_STR(a->type, want[i][1]);
        CHECK(a->len > 1000 && a->data[a->len] == 0);
        CHECK_INT(strlen(a->etag), 18);
        CHECK(a->etag[0] == '"' && a->etag[17] == '"');
    }
    const char *html = (const char *)ks_web_assets[0].data;
    CHECK(strstr(html, "<script src=\"/app.js\" defer></script>") != NULL);
    CHECK(strstr(html, "<link rel=\"stylesheet\" href=\"/app.css\">") != NULL);
    CHECK(strstr(html, "<script>") == NULL && strstr(html, " style=") == NULL &&
          strstr(html, " onclick=") == NULL); /* nothing inline: the CSP forbids it */
    struct ks_http_route r[8];
    CHECK_INT(ks_web_routes(r, 0, 8), 3);
    CHECK_INT(ks_web_routes(r, 7, 8), 8); /* never past cap */
    CHECK_STR(r[0].method, "GET");
    CHECK_INT(r[0].role, KS_ROLE_NONE);
}

int main(void)
{
    ks_config_defaults(&cfg);
    RUN(sla_clocks_count_down_then_say_missed_then_stop_at_the_ack);
    RUN(the_dashboard_files_are_embedded_with_type_and_etag);
    ks_config_fini(&cfg);
    return t_done();
}
