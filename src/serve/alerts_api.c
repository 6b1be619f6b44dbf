/* alerts_api.c - alerts sent by other tools (SPEC section 8, issue 10 item
 * 6): POST /v2/enqueue takes a PagerDuty Events API v2 event and answers
 * PagerDuty's own 202 and 400 bodies; POST /v1/alertmanager takes an
 * Alertmanager webhook body. Both are validated here (src/alerts), then
 * applied by the writer as a journaled command ("pd_event", "am_webhook",
 * live_cmd.c) that carries the body, so that a restart re-applies the very
 * same thing: a trigger's generated dedup_key is set in the body before it
 * is journaled, and the routing_key (a token, when it authenticated the
 * request) is replaced by its SHA-256, so that no token is ever stored. */
#include "alerts_api.h"

#include "../alerts/alerts.h"
#include "serve_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static struct ks_live *live_of(void *ctx)
{
    return ((struct ks_api *)ctx)->live;
}

/* Runs {"op": op, "body": body} (body's reference taken) as the request's
 * token; the command's result into out. 0, or -1 with the answer set. */
static int run(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx,
               const char *op, json_t *body, struct ks_buf *out)
{
    json_t *cmd = json_pack("{s:s, s:o}", "op", op, "body", body);
    char *text = cmd ? json_dumps(cmd, JSON_COMPACT) : NULL;
    json_decref(cmd);
    if (!text) {
        ks_http_error(resp, 400, "invalid", "body: cannot be journaled as JSON");
        return -1;
    }
    struct ks_err err = {0};
    int rc = ks_live_command(live_of(ctx), text, req->who.name, out, &err);
    free(text);
    if (rc != 0) {
        ks_api_fail(resp, &err);
        return -1;
    }
    return 0;
}

/* The body again as a jansson object (the parsers read it the same way:
 * duplicate keys take their last value). */
static json_t *body_object(const struct ks_http_req *req)
{
    json_t *j = json_loadb(req->body, req->body_len, 0, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* ---- POST /v2/enqueue ------------------------------------------------------------ */

void ks_alerts_post_enqueue(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    struct ks_pd_event ev = {0};
    struct ks_err err = {0};
    if (ks_alert_parse_pagerduty(req->body, req->body_len, &ev, &err) != KS_OK) {
        /* PagerDuty's shape, not kintsugi's: senders read it */
        resp->status = 400;
        ks_pd_render_invalid(&resp->body, &ev);
        ks_pd_event_fini(&ev);
        return;
    }
    json_t *body = body_object(req);
    if (!body) {
        ks_pd_event_fini(&ev);
        ks_http_error(resp, 400, "invalid", "body: not a JSON object");
        return;
    }
    /* The final key, drawn by the parser when the sender gave none. */
    json_object_set_new(body, "dedup_key", json_string(ev.dedup_key));
    /* The routing key may be a token: only its hash is kept. */
    unsigned char h[32];
    char hex[7 + 64 + 1] = "sha256:";
    ks_sha256(ev.routing_key, strlen(ev.routing_key), h);
    for (int i = 0; i < 32; i++) {
        snprintf(hex + 7 + 2 * i, 3, "%02x", h[i]);
    }
    json_object_set_new(body, "routing_key", json_string(hex));
    struct ks_buf out = {0};
    if (run(req, resp, ctx, "pd_event", body, &out) == 0) {
        resp->status = 202;
        ks_pd_render_success(&resp->body, ev.dedup_key);
    }
    ks_buf_fini(&out);
    ks_pd_event_fini(&ev);
}

/* ---- POST /v1/alertmanager ------------------------------------------------------- */

void ks_alerts_post_alertmanager(const struct ks_http_req *req, struct ks_http_resp *resp,
                                 void *ctx)
{
    struct ks_am_webhook w = {0};
    struct ks_err err = {0};
    enum ks_rc rc = ks_alert_parse_alertmanager(req->body, req->body_len, &w, &err);
    ks_am_webhook_fini(&w);
    if (rc != KS_OK) {
        /* A body that is not JSON at all is bad_json, as on every route that
         * takes JSON (docs/API.md); one that is JSON but not a webhook body
         * is invalid. Alertmanager itself reads only the status. */
        int syntax = strncmp(err.msg, KS_AM_JSON_ERROR, strlen(KS_AM_JSON_ERROR)) == 0;
        ks_http_error(resp, 400, syntax ? "bad_json" : "invalid", "%s", err.msg);
        return;
    }
    json_t *body = body_object(req);
    if (!body) {
        ks_http_error(resp, 400, "invalid", "alertmanager: body: not a JSON object");
        return;
    }
    /* {"op":"am_webhook","by":NAME,"incident":N|null,"change":...,"dedup_key":...} */
    run(req, resp, ctx, "am_webhook", body, &resp->body);
}

/* ---- authentication by routing_key ------------------------------------------------ */

enum ks_rc ks_alerts_auth_body(struct ks_store *s, const struct ks_http_req *req,
                               struct ks_auth_who *who, struct ks_err *err)
{
    json_t *j = body_object(req);
    const char *key = json_string_value(json_object_get(j, "routing_key"));
    enum ks_rc rc;
    if (!key || !*key) {
        rc = ks_err_set(err, KS_EINPUT,
                        "no token: send Authorization: Bearer ks_..., or a token as the body's "
                        "routing_key (kintsugi token create makes one)");
    } else {
        rc = ks_auth_verify(s, key, who, err);
        if (rc == KS_EINPUT || rc == KS_ENOTFOUND || rc == KS_ESTATE) {
            char msg[sizeof(err->msg)];
            snprintf(msg, sizeof(msg), "%s", err->msg);
            ks_err_set(err, rc, "routing_key: %s", msg);
        }
    }
    json_decref(j);
    return rc;
}
