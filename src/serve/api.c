/* api.c - the routes of `kintsugi serve` under /v1/: the same documents as
 * the CLI's --json for the same question. Reads of stored rows use the
 * request thread's own store connection; reads that need the engine and
 * every change go to the writer (live.c). docs/API.md lists them. */
#include "../alerts/alerts.h"
#include "../review/review.h"
#include "../web/web.h"
#include "alerts_api.h"
#include "serve_int.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------- */

/* The {id} of the path as an incident id; 0 (answered 400) when it is not one. */
static int64_t path_id(const struct ks_http_req *req, struct ks_http_resp *resp)
{
    return ks_api_id(ks_http_param(req, "id"), "an incident id", "path", resp);
}

static struct ks_live *live_of(void *ctx)
{
    return ((struct ks_api *)ctx)->live;
}

/* ---- health --------------------------------------------------------------------- */

static void get_healthz(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    (void)req;
    const struct ks_api *api = ctx;
    if (!api->health) {
        ks_buf_puts(&resp->body, "{\"status\":\"ok\"}");
        return;
    }
    struct ks_buf more = {0};
    int degraded = api->health(api->health_ctx, &more);
    ks_buf_printf(&resp->body, "{\"status\":\"%s\"", degraded ? "degraded" : "ok");
    if (more.len) {
        ks_buf_put(&resp->body, more.p, more.len);
    }
    ks_buf_putc(&resp->body, '}');
    ks_buf_fini(&more);
}

static void get_readyz(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    (void)req;
    char why[600];
    if (!ks_live_unready_why(live_of(ctx), why, sizeof(why))) {
        ks_http_error(resp, 503, "not_ready", "%s", why);
        return;
    }
    ks_buf_puts(&resp->body, "{\"status\":\"ready\"}");
}

/* ---- events --------------------------------------------------------------------- */

static void post_events(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    const char *body = req->body;
    size_t len = req->body_len;
    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
        body += 3; /* a byte order mark at the start is skipped, as ingest does */
        len -= 3;
    }
    struct ks_buf lines = {0};
    if (strcmp(req->content_type, "application/json") == 0) {
        char why[300];
        if (ks_event_array_lines(body, len, &lines, why, sizeof(why)) != 0) {
            ks_buf_fini(&lines); /* the elements before the fault */
            ks_http_error(resp, 400, "bad_json", "%s", why);
            return;
        }
        body = lines.p ? lines.p : "";
        len = lines.len;
    }
    const char *endq = ks_http_query(req, "end");
    int end = endq && (strcmp(endq, "") == 0 || strcmp(endq, "1") == 0 || strcmp(endq, "true") == 0);
    if (endq && !end && strcmp(endq, "0") != 0 && strcmp(endq, "false") != 0) {
        ks_buf_fini(&lines);
        ks_http_error(resp, 400, "invalid", "query \"end\": '%s' is not true or false", endq);
        return;
    }
    struct ks_live_events res;
    struct ks_err err = {0};
    if (ks_live_events(live_of(ctx), body, len, req->who.name, end, &res, &err) != 0) {
        ks_buf_fini(&lines);
        ks_http_error(resp, 503, "unavailable", "%s", err.msg);
        return;
    }
    ks_buf_fini(&lines);
    resp->status = 202;
    ks_buf_printf(&resp->body,
                  "{\"accepted\":%llu,\"duplicates\":%llu,\"request\":%lld,\"rejected\":",
                  (unsigned long long)res.accepted, (unsigned long long)res.duplicates,
                  (long long)res.request);
    ks_buf_put(&resp->body, res.rejected_json.p ? res.rejected_json.p : "[]",
               res.rejected_json.p ? res.rejected_json.len : 2);
    /* every rejected line is counted; the list holds the first ones only */
    ks_buf_printf(&resp->body, ",\"rejected_count\":%llu,\"rejected_truncated\":%s}",
                  (unsigned long long)res.rejected,
                  res.rejected > KS_LIVE_REJECTED_LISTED ? "true" : "false");
    ks_buf_fini(&res.rejected_json);
}

/* ---- incidents ------------------------------------------------------------------ */

struct list_ctx {
    struct ks_buf *out;
    int brief;
    int n;
};

/* ?view=brief: a summary without its lists (the scope's sku_list, the
 * signals, an alert group's alerts, an alert's details: an Alertmanager
 * group may hold thousands), for a list read every few seconds (the
 * dashboard's Now page). */
static void put_brief(struct ks_buf *out, const char *summary)
{
    json_t *j = json_loads(summary, 0, NULL);
    char *s = NULL;
    if (j) {
        json_object_del(json_object_get(j, "scope"), "sku_list");
        json_object_del(j, "signals");
        json_object_del(j, "alerts");
        json_object_del(j, "details");
        s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
        json_decref(j);
    }
    ks_buf_puts(out, s ? s : summary);
    free(s);
}

static int list_row(void *vctx, const struct ks_incident_row *row)
{
    struct list_ctx *c = vctx;
    ks_buf_puts(c->out, c->n ? ",\n " : "");
    if (c->brief) {
        put_brief(c->out, row->summary_json);
    } else {
        ks_buf_puts(c->out, row->summary_json);
    }
    c->n++;
    return 0;
}

static void get_incidents(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    const char *status = ks_http_query(req, "status");
    static const char *ok[] = {"open", "investigating", "contained", "resolving", "resolved"};
    int valid = !status;
    for (size_t i = 0; i < 5 && !valid; i++) {
        valid = strcmp(status, ok[i]) == 0;
    }
    if (!valid) {
        ks_http_error(resp, 400, "invalid",
                      "query \"status\": unknown status '%s' (use open, investigating, contained, "
                      "resolving or resolved)",
                      status);
        return;
    }
    const char *sev = ks_http_query(req, "severity");
    if (sev && strcmp(sev, "P1") != 0 && strcmp(sev, "P2") != 0 && strcmp(sev, "P3") != 0) {
        ks_http_error(resp, 400, "invalid", "query \"severity\": '%s' is not P1, P2 or P3", sev);
        return;
    }
    const char *type = ks_http_query(req, "type");
    if (type && !ks_engine_type_known(type)) {
        ks_http_error(resp, 400, "invalid", "query \"type\": unknown type '%s' (use %s)", type,
                      KS_INCIDENT_TYPES);
        return;
    }
    const char *view = ks_http_query(req, "view");
    if (view && strcmp(view, "brief") != 0 && strcmp(view, "full") != 0) {
        ks_http_error(resp, 400, "invalid", "query \"view\": '%s' is not brief or full", view);
        return;
    }
    struct ks_err err = {0};
    struct ks_store *s = ks_live_reader(live_of(ctx), &err);
    struct list_ctx c = {&resp->body, view && strcmp(view, "brief") == 0, 0};
    /* filtered by the store's columns (severity, type and channel exact) */
    struct ks_incident_filter f = {.status = status, .severity = sev,
                                   .type = type,
                                   .channel = ks_http_query(req, "channel")};
    ks_buf_putc(&resp->body, '[');
    if (!s || s->ops->list_incidents(s, &f, list_row, &c, &err) != KS_OK) {
        ks_http_error(resp, 503, "unavailable", "%s", err.msg);
        return;
    }
    ks_buf_puts(&resp->body, "]");
}

static void get_incident(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    int64_t id = path_id(req, resp);
    if (!id) {
        return;
    }
    struct ks_err err = {0};
    struct ks_store *s = ks_live_reader(live_of(ctx), &err);
    if (!s || s->ops->get_incident(s, id, 1, &resp->body, &err) != KS_OK) {
        ks_api_fail(resp, &err);
    }
}

/* Runs cmd (a JSON object) as the request's token. */
static void command(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx,
                    json_t *cmd)
{
    char *text = json_dumps(cmd, JSON_COMPACT);
    json_decref(cmd);
    struct ks_err err = {0};
    if (ks_live_command(live_of(ctx), text, req->who.name, &resp->body, &err) != 0) {
        ks_api_fail(resp, &err);
    }
    free(text);
}

/* The body's field name as a non-empty string; NULL after answering 400
 * (missing: "is required (WHAT)"; another type: "must be a string (WHAT), got 5"). */
static json_t *string_field(const struct ks_http_req *req, struct ks_http_resp *resp,
                            const char *name, const char *what)
{
    json_t *v = req->json ? json_object_get(req->json, name) : NULL;
    char got[64];
    if (!v) {
        ks_http_error(resp, 400, "invalid", "field \"%s\" is required (%s)", name,
                      what ? what : "a non-empty string");
        return NULL;
    }
    if (!json_is_string(v) || !json_string_length(v)) {
        ks_api_got(v, got, sizeof(got));
        ks_http_error(resp, 400, "invalid", "field \"%s\" must be a %sstring%s%s%s, got %s", name,
                      json_is_string(v) ? "non-empty " : "", what ? " (" : "", what ? what : "",
                      what ? ")" : "", got);
        return NULL;
    }
    return v;
}

/* A command on incident {id}: op with the body's string field named (NULL:
 * none; the body takes no other). */
static void incident_cmd(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx,
                         const char *op, const char *field)
{
    int64_t id = path_id(req, resp);
    if (!id || ks_api_body_fields(req, resp, field ? field : "") != 0) {
        return;
    }
    json_t *v = field ? string_field(req, resp, field, NULL) : NULL;
    if (field && !v) {
        return;
    }
    json_t *cmd = json_pack("{s:s, s:I}", "op", op, "id", (json_int_t)id);
    if (v) {
        json_object_set(cmd, field, v);
    }
    command(req, resp, ctx, cmd);
}

static void post_ack(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    incident_cmd(req, resp, ctx, "ack", NULL);
}

static void post_status(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    incident_cmd(req, resp, ctx, "status", "status");
}

static void post_note(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    incident_cmd(req, resp, ctx, "note", "text");
}

static void post_assign(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    incident_cmd(req, resp, ctx, "assign", "owner");
}

static void post_step(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    int64_t id = path_id(req, resp);
    if (!id || ks_api_body_fields(req, resp, "status, note") != 0) {
        return;
    }
    json_t *st = string_field(req, resp, "status", "done or skip");
    json_t *note = req->json ? json_object_get(req->json, "note") : NULL;
    if (!st) {
        return;
    }
    if (note && !json_is_string(note)) {
        char got[64];
        ks_api_got(note, got, sizeof(got));
        ks_http_error(resp, 400, "invalid", "field \"note\" must be a string, got %s", got);
        return;
    }
    json_t *cmd = json_pack("{s:s, s:I, s:s, s:O}", "op", "step", "id", (json_int_t)id, "step",
                            ks_http_param(req, "step"), "status", st);
    if (note) {
        json_object_set(cmd, "note", note);
    }
    command(req, resp, ctx, cmd);
}

/* ---- actions and the guard ------------------------------------------------------- */

static enum ks_rc read_actions(const struct ks_engine *e, void *ctx, struct ks_buf *out,
                               struct ks_err *err)
{
    (void)ctx, (void)err;
    ks_engine_actions_json(e, out);
    return KS_OK;
}

static enum ks_rc read_guard(const struct ks_engine *e, void *ctx, struct ks_buf *out,
                             struct ks_err *err)
{
    (void)ctx, (void)err;
    ks_engine_guard_status_json(e, out);
    return KS_OK;
}

struct reconcile_q {
    const char *channel;
    size_t limit;
};

static enum ks_rc read_reconcile(const struct ks_engine *e, void *ctx, struct ks_buf *out,
                                 struct ks_err *err)
{
    const struct reconcile_q *q = ctx;
    return ks_engine_reconcile_json(e, q->channel, q->limit, out, err);
}

/* The SLA clocks, with the clock they run on ("wall" or "event"): a page
 * counting them down moves the engine clock on by its own only on the
 * wall clock. */
static enum ks_rc read_sla(const struct ks_engine *e, void *ctx, struct ks_buf *out,
                           struct ks_err *err)
{
    (void)err;
    const struct ks_live *l = ctx;
    struct ks_buf b = {0};
    ks_engine_sla_json(e, &b);
    /* {"clock_mode":"...", then the engine's members */
    ks_buf_printf(out, "{\"clock_mode\":\"%s\",", l->o.clock_event ? "event" : "wall");
    ks_buf_put(out, b.p + 1, b.len - 1);
    ks_buf_fini(&b);
    return KS_OK;
}

static void engine_read(struct ks_http_resp *resp, void *ctx, ks_live_read_fn fn, void *arg)
{
    struct ks_err err = {0};
    if (ks_live_read(live_of(ctx), fn, arg, &resp->body, &err) != KS_OK) {
        ks_api_fail(resp, &err);
    }
}

static void get_actions(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    (void)req;
    engine_read(resp, ctx, read_actions, NULL);
}

static void get_guard(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    (void)req;
    engine_read(resp, ctx, read_guard, NULL);
}

static void get_reconcile(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    struct reconcile_q q = {ks_http_query(req, "channel"), 0};
    const char *lim = ks_http_query(req, "limit");
    if (lim) {
        char *end;
        long long v = strtoll(lim, &end, 10);
        if (!*lim || *end || v < 0 || v > INT_MAX) {
            ks_http_error(resp, 400, "invalid", "query \"limit\": '%s' is not a whole number >= 0",
                          lim);
            return;
        }
        q.limit = (size_t)v;
    }
    engine_read(resp, ctx, read_reconcile, &q);
}

static void get_sla(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    (void)req;
    engine_read(resp, ctx, read_sla, live_of(ctx));
}

/* Who the token is: {"name": "...", "role": "viewer|responder|admin"}, so that
 * a client (the dashboard) offers only what the role allows. */
static void get_whoami(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    (void)ctx;
    ks_buf_puts(&resp->body, "{\"name\":");
    ks_json_escape(&resp->body, req->who.name, strlen(req->who.name));
    ks_buf_printf(&resp->body, ",\"role\":\"%s\"}", ks_role_name(req->who.role));
}

static void post_approve(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    incident_cmd(req, resp, ctx, "approve", "action");
}

/* POST /v1/guard/{verb}: pause and release take an optional "channel" (all
 * when absent), rollback and accept an "incident". */
static void post_guard(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    const char *verb = ks_http_param(req, "verb");
    static const char *verbs[] = {"pause", "release", "rollback", "accept"};
    size_t v = 0;
    while (v < 4 && strcmp(verbs[v], verb) != 0) {
        v++;
    }
    if (v == 4) {
        ks_http_error(resp, 404, "not_found",
                      "no guard action '%s' (use pause, release, rollback or accept)", verb);
        return;
    }
    /* a misspelt field is refused: {"channels": "amazon"} is not {} (every
     * channel), {"dryrun": true} not a real rollback */
    const char *fields = v < 2 ? "channel" : v == 2 ? "incident, dry_run" : "incident";
    if (ks_api_body_fields(req, resp, fields) != 0) {
        return;
    }
    char op[32], got[64];
    snprintf(op, sizeof(op), "guard_%s", verb);
    json_t *cmd = json_pack("{s:s}", "op", op);
    json_t *j = req->json;
    if (v < 2) {
        json_t *ch = j ? json_object_get(j, "channel") : NULL;
        if (ch && !json_is_string(ch)) {
            json_decref(cmd);
            ks_api_got(ch, got, sizeof(got));
            ks_http_error(resp, 400, "invalid",
                          "field \"channel\" must be a channel name (a string), got %s", got);
            return;
        }
        if (ch) {
            json_object_set(cmd, "channel", ch);
        }
    } else {
        json_t *id = j ? json_object_get(j, "incident") : NULL;
        if (!json_is_integer(id) || json_integer_value(id) <= 0) {
            json_decref(cmd);
            if (!id) {
                ks_http_error(resp, 400, "invalid",
                              "field \"incident\" is required (the id of a data_corruption "
                              "incident)");
                return;
            }
            ks_api_got(id, got, sizeof(got));
            ks_http_error(resp, 400, "invalid",
                          "field \"incident\" must be an incident id (a positive integer), got %s",
                          got);
            return;
        }
        json_object_set(cmd, "id", id);
        json_t *dry = json_object_get(j, "dry_run");
        if (dry && !json_is_boolean(dry)) {
            /* Never taken as false: a rollback cannot be undone. */
            json_decref(cmd);
            ks_api_got(dry, got, sizeof(got));
            ks_http_error(resp, 400, "invalid", "field \"dry_run\" must be true or false, got %s",
                          got);
            return;
        }
        if (dry) {
            json_object_set(cmd, "dry_run", dry);
        }
    }
    command(req, resp, ctx, cmd);
}

/* ---- /metrics -------------------------------------------------------------------- */

static void get_metrics(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    (void)req;
    struct ks_api *api = ctx;
    struct ks_err err = {0};
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    if (ks_metrics_render(api->live, api->metrics, &resp->body, &err) != KS_OK) {
        resp->content_type = "application/json";
        ks_api_fail(resp, &err);
    }
}

/* ---- the table ------------------------------------------------------------------- */

#define JSON_IN "application/json"
#define EVENTS_IN "application/x-ndjson, application/json"
/* a review as `kintsugi review set` reads it: Markdown with YAML front matter, or YAML */
#define REVIEW_IN                                                                                  \
    "text/markdown, text/yaml, application/yaml, application/x-yaml, text/plain, application/json"

size_t ks_api_routes(struct ks_api *api, struct ks_http_route *out, size_t cap)
{
    const struct ks_http_route r[] = {
        /* method, pattern, handler, ctx, least role, body limit, types, flags, query names */
        {"GET", "/healthz", get_healthz, api, KS_ROLE_NONE, 0, NULL, KS_HTTP_ANY_QUERY, NULL},
        {"GET", "/readyz", get_readyz, api, KS_ROLE_NONE, 0, NULL, KS_HTTP_ANY_QUERY, NULL},
        {"POST", "/v1/events", post_events, api, KS_ROLE_RESPONDER, api->max_events_body,
         EVENTS_IN, 0, "end"},
        {"GET", "/v1/incidents", get_incidents, api, KS_ROLE_VIEWER, 0, NULL, 0,
         "status, severity, type, channel, view"},
        {"GET", "/v1/incidents/{id}", get_incident, api, KS_ROLE_VIEWER, 0, NULL, 0, NULL},
        {"POST", "/v1/incidents/{id}/ack", post_ack, api, KS_ROLE_RESPONDER, 0, JSON_IN,
         KS_HTTP_JSON, NULL},
        {"POST", "/v1/incidents/{id}/status", post_status, api, KS_ROLE_RESPONDER, 0, JSON_IN,
         KS_HTTP_JSON, NULL},
        {"POST", "/v1/incidents/{id}/note", post_note, api, KS_ROLE_RESPONDER, 0, JSON_IN,
         KS_HTTP_JSON, NULL},
        {"POST", "/v1/incidents/{id}/assign", post_assign, api, KS_ROLE_RESPONDER, 0, JSON_IN,
         KS_HTTP_JSON, NULL},
        {"POST", "/v1/incidents/{id}/steps/{step}", post_step, api, KS_ROLE_RESPONDER, 0,
         JSON_IN, KS_HTTP_JSON, NULL},
        {"GET", "/v1/actions", get_actions, api, KS_ROLE_VIEWER, 0, NULL, 0, NULL},
        {"POST", "/v1/actions/{id}/approve", post_approve, api, KS_ROLE_ADMIN, 0, JSON_IN,
         KS_HTTP_JSON, NULL},
        {"GET", "/v1/guard", get_guard, api, KS_ROLE_VIEWER, 0, NULL, 0, NULL},
        {"POST", "/v1/guard/{verb:pause|release|rollback|accept}", post_guard, api, KS_ROLE_ADMIN, 0, JSON_IN, KS_HTTP_JSON,
         NULL},
        {"GET", "/v1/reconcile", get_reconcile, api, KS_ROLE_VIEWER, 0, NULL, 0,
         "channel, limit"},
        {"GET", "/v1/whoami", get_whoami, api, KS_ROLE_VIEWER, 0, NULL, 0, NULL},
        {"GET", "/v1/sla", get_sla, api, KS_ROLE_VIEWER, 0, NULL, 0, NULL},
        {"GET", "/v1/feed/{channel}", ks_api_get_feed, api, KS_ROLE_VIEWER, 0, NULL, 0,
         "since, limit, state"},
        {"GET", "/v1/deadletters", ks_api_get_deadletters, api, KS_ROLE_VIEWER, 0, NULL, 0,
         "status, after, limit"},
        {"POST", "/v1/deadletters/replay", ks_api_post_deadletters_replay, api,
         KS_ROLE_RESPONDER, 0, JSON_IN, KS_HTTP_JSON, NULL},
        {"GET", "/v1/hooks", ks_api_get_hooks, api, KS_ROLE_VIEWER, 0, NULL, 0,
         "status, incident"},
        {"POST", "/v1/hooks/{key}/retry", ks_api_post_hook_retry, api, KS_ROLE_RESPONDER, 0,
         JSON_IN, KS_HTTP_JSON, NULL},
        {"GET", "/v1/messages", ks_api_get_messages, api, KS_ROLE_VIEWER, 0, NULL, 0,
         "incident, audience, status, receiver, limit, view"},
        {"GET", "/v1/receivers", ks_api_get_receivers, api, KS_ROLE_VIEWER, 0, NULL, 0, NULL},
        {"POST", "/v1/receivers/{name}/test", ks_api_post_receiver_test, api, KS_ROLE_RESPONDER,
         0, JSON_IN, KS_HTTP_JSON, NULL},
        {"POST", "/v1/receivers/{name}/deliver", ks_api_post_receiver_deliver, api,
         KS_ROLE_RESPONDER, 0, JSON_IN, KS_HTTP_JSON, NULL},
        {"POST", "/v1/messages/{id}/retry", ks_api_post_message_retry, api, KS_ROLE_RESPONDER,
         0, JSON_IN, KS_HTTP_JSON, NULL},
        {"POST", "/v1/messages/retry", ks_api_post_messages_retry, api, KS_ROLE_RESPONDER, 0,
         JSON_IN, KS_HTTP_JSON, NULL},
        /* the service-recovery policy (api_remedy.c) */
        {"GET", "/v1/remedies", ks_api_get_remedies, api, KS_ROLE_VIEWER, 0, NULL, 0,
         "incident"},
        {"GET", "/v1/incidents/{id}/remedies/offer", ks_api_get_offer, api, KS_ROLE_VIEWER, 0,
         NULL, 0, "order"},
        {"POST", "/v1/incidents/{id}/remedies", ks_api_post_grant, api, KS_ROLE_RESPONDER, 0,
         JSON_IN, KS_HTTP_JSON, NULL},
        {"POST", "/v1/remedies/{id}/{verb:approve|decline|review}", ks_api_post_remedy, api, KS_ROLE_RESPONDER, 0,
         JSON_IN, KS_HTTP_JSON, NULL},
        {"GET", "/v1/promise", ks_api_get_promise, api, KS_ROLE_VIEWER, 0, NULL, 0, "format"},
        /* reviews, the report, costs (api_learn.c): judged at ?now= or the saved clock */
        {"GET", "/v1/reviews", ks_api_get_reviews, api, KS_ROLE_VIEWER, 0, NULL, 0, "now"},
        {"GET", "/v1/reviews/{id}", ks_api_get_review, api, KS_ROLE_VIEWER, 0, NULL, 0,
         "format, now"},
        {"POST", "/v1/reviews/{id}", ks_api_post_review, api, KS_ROLE_RESPONDER,
         KS_REVIEW_MAX_BYTES, REVIEW_IN, 0, NULL},
        {"GET", "/v1/review-items", ks_api_get_review_items, api, KS_ROLE_VIEWER, 0, NULL, 0,
         "open, owner, overdue, now"},
        {"POST", "/v1/review-items/{id}/{verb:done|drop}", ks_api_post_item, api, KS_ROLE_RESPONDER, 0,
         JSON_IN, KS_HTTP_JSON, NULL},
        {"GET", "/v1/report", ks_api_get_report, api, KS_ROLE_VIEWER, 0, NULL, 0,
         "since, until, by, format, now"},
        {"GET", "/v1/incidents/{id}/cost", ks_api_get_cost, api, KS_ROLE_VIEWER, 0, NULL, 0,
         "now"},
        {"POST", "/v1/incidents/{id}/cost", ks_api_post_cost, api, KS_ROLE_RESPONDER, 0, JSON_IN,
         KS_HTTP_JSON, NULL},
        {"GET", "/metrics", get_metrics, api, api->metrics_open ? KS_ROLE_NONE : KS_ROLE_VIEWER,
         0, NULL, 0, NULL},
        /* alerts (alerts_api.c); PagerDuty's senders may authenticate by routing_key. Their
         * bodies and URLs follow foreign formats: any query is let through */
        {"POST", "/v2/enqueue", ks_alerts_post_enqueue, api, KS_ROLE_RESPONDER, KS_PD_BODY_MAX,
         JSON_IN, KS_HTTP_AUTH_BODY | KS_HTTP_ANY_QUERY, NULL},
        {"POST", "/v1/alertmanager", ks_alerts_post_alertmanager, api, KS_ROLE_RESPONDER,
         KS_AM_BODY_MAX, JSON_IN, KS_HTTP_ANY_QUERY, NULL},
    };
    size_t n = sizeof(r) / sizeof(r[0]);
    /* a route left out would answer 404 without a word: the table must hold them all */
    KS_ASSERT(n + ks_web_nassets <= cap);
    for (size_t i = 0; i < n; i++) {
        out[i] = r[i];
    }
    /* the dashboard (src/web), open to all: the page holds no data */
    return ks_web_routes(out, n, cap);
}

enum ks_rc ks_api_auth(void *ctx, const struct ks_http_req *req, const char *bearer,
                       struct ks_auth_who *who, struct ks_err *err)
{
    struct ks_api *api = ctx;
    int by_body = !bearer && req->route && (req->route->flags & KS_HTTP_AUTH_BODY);
    if (!bearer && !by_body) {
        return ks_err_set(err, KS_EINPUT,
                          "no token: send Authorization: Bearer ks_... (kintsugi token create "
                          "makes one)");
    }
    struct ks_store *s = ks_live_reader(api->live, err);
    if (!s) {
        return KS_EIO;
    }
    /* a PagerDuty sender's routing_key (alerts_api.c) */
    return by_body ? ks_alerts_auth_body(s, req, who, err) : ks_auth_verify(s, bearer, who, err);
}
