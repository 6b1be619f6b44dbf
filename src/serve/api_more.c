/* api_more.c - routes of `kintsugi serve` for the guarded feed, dead letters
 * and the hook outbox: the documents of `kintsugi feed --json`, `kintsugi
 * deadletters --json` and `kintsugi hooks --json`, rendered by the same
 * functions (src/shell/docs.c). Replaying dead letters changes the engine:
 * it is a journaled command of the writer (live_more.c). docs/API.md. */
#include "serve_int.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static struct ks_live *live_of(void *ctx)
{
    return ((struct ks_api *)ctx)->live;
}

/* Query parameter name as a whole number >= 0 (absent: 0). 0 when it is
 * one, else -1 (answered 400). */
static int query_count(const struct ks_http_req *req, struct ks_http_resp *resp, const char *name,
                       int64_t *out)
{
    const char *s = ks_http_query(req, name);
    *out = 0;
    if (!s) {
        return 0;
    }
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < 0 || v == LLONG_MAX) {
        ks_http_error(resp, 400, "invalid", "query \"%s\": '%s' is not a whole number >= 0", name,
                      s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Query parameter name as a flag; -1 (answered 400) when it is not one. */
static int query_flag(const struct ks_http_req *req, struct ks_http_resp *resp, const char *name)
{
    const char *s = ks_http_query(req, name);
    if (!s || strcmp(s, "0") == 0 || strcmp(s, "false") == 0) {
        return 0;
    }
    if (!*s || strcmp(s, "1") == 0 || strcmp(s, "true") == 0) {
        return 1;
    }
    ks_http_error(resp, 400, "invalid", "query \"%s\": '%s' is not true or false", name, s);
    return -1;
}

/* Query parameter "status" among ok[0, n) (absent: def). 0, or -1 answered 400. */
static int query_status(const struct ks_http_req *req, struct ks_http_resp *resp,
                        const char *const *ok, size_t n, const char *def, const char **out)
{
    const char *s = ks_http_query(req, "status");
    *out = def;
    if (!s) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, ok[i]) == 0) {
            *out = s;
            return 0;
        }
    }
    struct ks_buf list = {0};
    for (size_t i = 0; i < n; i++) {
        ks_buf_printf(&list, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", ok[i]);
    }
    ks_http_error(resp, 400, "invalid", "query \"status\": unknown status '%s' (use %s)", s,
                  list.p);
    ks_buf_fini(&list);
    return -1;
}

/* ---- GET /v1/feed/{channel} ------------------------------------------------------- */

static enum ks_rc read_feed_state(const struct ks_engine *e, void *ctx, struct ks_buf *out,
                                  struct ks_err *err)
{
    return ks_engine_feed_state_json(e, ctx, out, err);
}

static enum ks_rc read_channel_known(const struct ks_engine *e, void *ctx, struct ks_buf *out,
                                     struct ks_err *err)
{
    (void)out;
    return ks_engine_channel_known(e, ctx, err);
}

void ks_api_get_feed(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    const char *channel = ks_http_param(req, "channel");
    int64_t since, limit;
    int state = query_flag(req, resp, "state");
    if (state < 0 || query_count(req, resp, "since", &since) != 0 ||
        query_count(req, resp, "limit", &limit) != 0) {
        return;
    }
    struct ks_err err = {0};
    if (state) {
        if (ks_http_query(req, "since") || ks_http_query(req, "limit")) {
            ks_http_error(resp, 400, "invalid",
                          "query \"state\": the current state takes no since or limit");
            return;
        }
        if (ks_live_read(live_of(ctx), read_feed_state, (void *)channel, &resp->body, &err) !=
            KS_OK) {
            ks_api_fail(resp, &err);
        }
        return;
    }
    /* A channel the engine does not know is 404 here as with ?state=1 (a
     * known channel without changes yet has an empty feed): never a 409
     * about a cursor, nor an empty feed that an adapter would take for one. */
    struct ks_buf none = {0};
    enum ks_rc known = ks_live_read(live_of(ctx), read_channel_known, (void *)channel, &none, &err);
    ks_buf_fini(&none);
    if (known != KS_OK) {
        ks_api_fail(resp, &err);
        return;
    }
    struct ks_live *l = live_of(ctx);
    struct ks_store *s = ks_live_reader(l, &err);
    if (!s || ks_shell_feed_json(s, l->a.db, channel, since, limit, &resp->body, &err) != KS_OK) {
        if (s && err.rc == KS_ESTATE) {
            ks_api_fail(resp, &err); /* 409: a cursor past the end of the feed */
            return;
        }
        ks_buf_fini(&resp->body);
        ks_http_error(resp, 503, "unavailable", "%s", err.msg);
    }
}

/* ---- dead letters ------------------------------------------------------------------ */

void ks_api_get_deadletters(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    static const char *const ok[] = {"pending", "replayed", "all"};
    const char *status;
    if (query_status(req, resp, ok, 3, "pending", &status) != 0) {
        return;
    }
    int64_t after, limit, total = 0;
    if (query_count(req, resp, "after", &after) != 0 ||
        query_count(req, resp, "limit", &limit) != 0) {
        return;
    }
    struct ks_err err = {0};
    struct ks_store *s = ks_live_reader(live_of(ctx), &err);
    if (!s || ks_shell_deadletters_page(s, strcmp(status, "all") == 0 ? NULL : status, after,
                                        limit, &resp->body, &total, &err) != KS_OK) {
        ks_buf_fini(&resp->body);
        ks_http_error(resp, 503, "unavailable", "%s", err.msg);
        return;
    }
    /* how many letters of that status there are, the page's or not */
    char n[32];
    snprintf(n, sizeof(n), "%lld", (long long)total);
    ks_http_add_header(resp, "X-Total-Count", n);
}

void ks_api_post_deadletters_replay(const struct ks_http_req *req, struct ks_http_resp *resp,
                                    void *ctx)
{
    /* {"id": N} or {} - which replays every pending letter: a misspelt
     * field must not be taken for it */
    if (ks_api_body_fields(req, resp, "id") != 0) {
        return;
    }
    json_t *id = req->json ? json_object_get(req->json, "id") : NULL;
    if (id && (!json_is_integer(id) || json_integer_value(id) <= 0)) {
        char got[64];
        ks_api_got(id, got, sizeof(got));
        ks_http_error(resp, 400, "invalid",
                      "field \"id\" must be a dead letter id (a positive integer), got %s", got);
        return;
    }
    char cmd[96];
    if (id) {
        snprintf(cmd, sizeof(cmd), "{\"op\":\"deadletters_replay\",\"deadletter\":%lld}",
                 (long long)json_integer_value(id));
    } else {
        snprintf(cmd, sizeof(cmd), "{\"op\":\"deadletters_replay\"}");
    }
    struct ks_err err = {0};
    if (ks_live_command(live_of(ctx), cmd, req->who.name, &resp->body, &err) != 0) {
        ks_api_fail(resp, &err);
    }
}

/* ---- GET /v1/hooks ------------------------------------------------------------------ */

void ks_api_get_hooks(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    static const char *const ok[] = {"pending", "done", "failed", "unconfigured"};
    const char *status;
    int64_t incident;
    if (query_status(req, resp, ok, 4, NULL, &status) != 0 ||
        query_count(req, resp, "incident", &incident) != 0) {
        return;
    }
    struct ks_err err = {0};
    struct ks_store *s = ks_live_reader(live_of(ctx), &err);
    if (!s || ks_shell_hooks_json_of(s, status, incident, &resp->body, &err) != KS_OK) {
        ks_buf_fini(&resp->body);
        ks_http_error(resp, 503, "unavailable", "%s", err.msg);
    }
}

/* ---- GET /v1/messages ---------------------------------------------------------------- */

/* `kintsugi messages --json` with ?incident=N&audience=A&status=S&receiver=R; a page
 * with limit=N (the first N, X-Total-Count counting them all) and
 * view=brief (no bodies): an incident may have a notice per affected order. */
void ks_api_get_messages(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    static const char *const ok[] = {"queued", "sent", "failed"};
    struct ks_message_filter f = {0};
    int64_t limit, total = 0;
    if (query_status(req, resp, ok, 3, NULL, &f.status) != 0 ||
        query_count(req, resp, "incident", &f.incident) != 0 ||
        query_count(req, resp, "limit", &limit) != 0) {
        return;
    }
    const char *view = ks_http_query(req, "view");
    if (view && strcmp(view, "brief") != 0 && strcmp(view, "full") != 0) {
        ks_http_error(resp, 400, "invalid", "query \"view\": '%s' is not brief or full", view);
        return;
    }
    f.receiver = ks_http_query(req, "receiver");
    f.audience = ks_http_query(req, "audience");
    if (f.audience && strcmp(f.audience, "team") && strcmp(f.audience, "leadership") &&
        strcmp(f.audience, "customer")) {
        ks_http_error(resp, 400, "invalid",
                      "query \"audience\": unknown audience '%s' (use team, leadership or "
                      "customer)",
                      f.audience);
        return;
    }
    struct ks_err err = {0};
    struct ks_store *s = ks_live_reader(live_of(ctx), &err);
    if (!s || ks_shell_messages_page(s, &f, view && !strcmp(view, "brief"), limit, &resp->body,
                                     &total, &err) != KS_OK) {
        ks_buf_fini(&resp->body);
        ks_http_error(resp, 503, "unavailable", "%s", err.msg);
        return;
    }
    char n[32];
    snprintf(n, sizeof(n), "%lld", (long long)total);
    ks_http_add_header(resp, "X-Total-Count", n);
}

/* GET /v1/receivers: `kintsugi messages receivers --json`. */
void ks_api_get_receivers(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    (void)req;
    struct ks_live *l = live_of(ctx);
    struct ks_err err = {0};
    struct ks_store *s = ks_live_reader(l, &err);
    if (!s || ks_shell_receivers_json(s, &l->a.cfg, &resp->body, &err) != KS_OK) {
        ks_buf_fini(&resp->body);
        ks_http_error(resp, 503, "unavailable", "%s", err.msg);
    }
}

/* POST /v1/receivers/{name}/test: `kintsugi messages test NAME` from the
 * server, by the token's name; {"to"?}. 200 with the result when the
 * receiver took it, 502 (receiver_failed) when not, 404 for no such
 * receiver, 400 for a `to` that is not one e-mail address (an smtp
 * receiver). Nothing is written: the attempt is made on this request's
 * thread, waiting up to the receiver's timeout. */
void ks_api_post_receiver_test(const struct ks_http_req *req, struct ks_http_resp *resp,
                               void *ctx)
{
    if (ks_api_body_fields(req, resp, "to") != 0) {
        return;
    }
    json_t *v = req->json ? json_object_get(req->json, "to") : NULL;
    if (v && (!json_is_string(v) || !json_string_length(v))) {
        char got[64];
        ks_api_got(v, got, sizeof(got));
        ks_http_error(resp, 400, "invalid", "field \"to\" must be a recipient (a string), got %s",
                      got);
        return;
    }
    const char *to = v ? json_string_value(v) : NULL;
    struct ks_live *l = live_of(ctx);
    struct ks_receiver_test t;
    struct ks_err err = {0};
    if (ks_shell_receiver_test(&l->a.cfg, ks_http_param(req, "name"), to, req->who.name, &t,
                               &err) != KS_OK) {
        if (err.rc == KS_EINPUT) {
            ks_http_error(resp, 400, "invalid", "%s", err.msg);
        } else {
            ks_http_error(resp, 404, "not_found", "%s", err.msg);
        }
        return;
    }
    if (!t.sent) {
        ks_http_error(resp, 502, "receiver_failed",
                      "%s (%s) did not take the test message to %s: %s", t.receiver, t.kind,
                      t.recipient, t.detail);
        return;
    }
    ks_shell_receiver_test_json(&t, &resp->body);
}

/* POST /v1/receivers/{name}/deliver: `kintsugi messages deliver --now
 * --receiver NAME` - what waits for a retry of that receiver is due now,
 * and the deliverers are woken; {"receiver","count"}. Like a claim or a
 * hold, a change of when to try, not of what happened: not journaled. */
void ks_api_post_receiver_deliver(const struct ks_http_req *req, struct ks_http_resp *resp,
                                  void *ctx)
{
    if (ks_api_body_fields(req, resp, "") != 0) {
        return;
    }
    struct ks_live *l = live_of(ctx);
    const char *name = ks_http_param(req, "name");
    if (!ks_config_receiver(&l->a.cfg, name)) {
        ks_http_error(resp, 404, "not_found", "no receiver %s is configured", name);
        return;
    }
    struct ks_err err = {0};
    int64_t n = 0;
    struct ks_store *s = ks_live_reader(l, &err);
    if (!s || s->ops->due_now(s, name, &n, &err) != KS_OK) {
        ks_http_error(resp, 503, "unavailable", "%s", err.msg);
        return;
    }
    ks_live_deliver_kick(l);
    ks_buf_puts(&resp->body, "{\"receiver\":");
    ks_json_escape(&resp->body, name, strlen(name));
    ks_buf_printf(&resp->body, ",\"count\":%lld}", (long long)n);
}

/* POST /v1/messages/{id}/retry: `kintsugi messages retry ID` as a journaled
 * command (live_tx.c); 409 when the message is not failed. */
void ks_api_post_message_retry(const struct ks_http_req *req, struct ks_http_resp *resp,
                               void *ctx)
{
    int64_t id = ks_api_id(ks_http_param(req, "id"), "a message id", "path", resp);
    if (!id) {
        return;
    }
    if (ks_api_body_fields(req, resp, "") != 0) {
        return;
    }
    ks_api_command(req, resp, ctx,
                   json_pack("{s:s, s:I}", "op", "message_retry", "message", (json_int_t)id));
}

/* POST /v1/messages/retry {"receiver", "incident", "audience"} (each
 * optional): `kintsugi messages retry-failed` as a journaled command
 * (live_tx.c): every failed message they select queued again; none is not
 * an error (count 0), a receiver the configuration does not have is (400). */
void ks_api_post_messages_retry(const struct ks_http_req *req, struct ks_http_resp *resp,
                                void *ctx)
{
    if (ks_api_body_fields(req, resp, "receiver, incident, audience") != 0) {
        return;
    }
    json_t *b = req->json;
    json_t *cmd = json_pack("{s:s}", "op", "messages_retry");
    const char *key;
    json_t *v;
    json_object_foreach(b, key, v)
    {
        const char *bad = NULL;
        if (!strcmp(key, "receiver")) {
            /* as the CLI: a receiver the configuration does not have cannot deliver */
            bad = !json_is_string(v) || !json_string_length(v) ? "must be a receiver's name"
                  : !ks_config_receiver(&live_of(ctx)->a.cfg, json_string_value(v))
                      ? "names no receiver of the configuration (GET /v1/receivers)"
                      : NULL;
        } else if (!strcmp(key, "incident")) {
            bad = json_is_integer(v) && json_integer_value(v) > 0 ? NULL
                                                                   : "must be an incident id";
        } else {
            const char *a = json_string_value(v);
            bad = a && (!strcmp(a, "team") || !strcmp(a, "leadership") || !strcmp(a, "customer"))
                      ? NULL
                      : "must be team, leadership or customer";
        }
        if (bad) {
            char got[64];
            json_decref(cmd);
            ks_api_got(v, got, sizeof(got));
            /* "must be ...": what it is instead; "names no receiver ...": it says */
            int say_got = strncmp(bad, "must", 4) == 0;
            ks_http_error(resp, 400, "invalid", "field \"%s\" %s%s%s", key, bad,
                          say_got ? ", got " : "", say_got ? got : "");
            return;
        }
        json_object_set(cmd, key, v);
    }
    ks_api_command(req, resp, ctx, cmd);
}

/* POST /v1/hooks/{key}/retry: `kintsugi hooks retry KEY` as a journaled
 * command (live_tx.c); 404 for no such call, 409 when it did not give up or
 * its action still has no hook. */
void ks_api_post_hook_retry(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    const char *key = ks_http_param(req, "key");
    if (!key || !*key) {
        ks_http_error(resp, 400, "invalid", "path: a hook call's key is required");
        return;
    }
    if (ks_api_body_fields(req, resp, "") != 0) {
        return;
    }
    ks_api_command(req, resp, ctx, json_pack("{s:s, s:s}", "op", "hook_retry", "key", key));
}
