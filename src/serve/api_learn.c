/* api_learn.c - routes of `kintsugi serve` for post-incident reviews, the
 * recovery report and the cost of a mistake: the documents of `kintsugi
 * review show|items|flags --json`, `kintsugi report --json` and `kintsugi
 * cost --json`, rendered by the same functions (src/review/) from the same
 * rows, judged at the same `now` (the saved state's clock, or ?now=).
 * Saving a review, closing an action item and entering a cost are journaled
 * commands applied inside the batch's transaction (live_tx.c), by the
 * token's name. docs/API.md. */
#include "../review/review.h"
#include "serve_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static struct ks_live *live_of(void *ctx)
{
    return ((struct ks_api *)ctx)->live;
}

/* Query parameter name as an RFC 3339 time (absent: KS_TIME_NONE); -1
 * after answering 400. */
static int query_time(const struct ks_http_req *req, struct ks_http_resp *resp, const char *name,
                      ks_time *out)
{
    const char *s = ks_http_query(req, name);
    const char *why = NULL;
    *out = KS_TIME_NONE;
    if (s && ks_time_parse(s, strlen(s), out, &why) != 0) {
        ks_http_error(resp, 400, "invalid", "query \"%s\": '%s' is not an RFC 3339 time (%s)",
                      name, s, why ? why : "bad time");
        return -1;
    }
    return 0;
}

/* Query parameter name as a flag (absent, 0, false: 0; present, 1, true:
 * 1); -1 after answering 400. */
static int query_flag(const struct ks_http_req *req, struct ks_http_resp *resp, const char *name)
{
    const char *s = ks_http_query(req, name);
    if (!s || !strcmp(s, "0") || !strcmp(s, "false")) {
        return 0;
    }
    if (!*s || !strcmp(s, "1") || !strcmp(s, "true")) {
        return 1;
    }
    ks_http_error(resp, 400, "invalid", "query \"%s\": '%s' is not true or false", name, s);
    return -1;
}

/* ?format=json (the default) or markdown: 1 for Markdown, -1 after answering 400. */
static int query_markdown(const struct ks_http_req *req, struct ks_http_resp *resp)
{
    const char *f = ks_http_query(req, "format");
    if (!f || !strcmp(f, "json")) {
        return 0;
    }
    if (!strcmp(f, "markdown")) {
        resp->content_type = "text/markdown; charset=utf-8";
        return 1;
    }
    ks_http_error(resp, 400, "invalid", "query \"format\": '%s' is not json or markdown", f);
    return -1;
}

/* Every review loaded from the request thread's store, judged at ?now= or
 * the saved state's clock, as the CLI's --now or engine clock. NULL after
 * answering. */
static struct ks_review_set *load(const struct ks_http_req *req, struct ks_http_resp *resp,
                                  void *ctx)
{
    ks_time now;
    if (query_time(req, resp, "now", &now) != 0) {
        return NULL;
    }
    struct ks_live *l = live_of(ctx);
    struct ks_err err = {0};
    struct ks_store *s = ks_live_reader(l, &err);
    struct ks_review_set *set = NULL;
    if (s && now == KS_TIME_NONE) {
        now = ks_shell_saved_clock(s);
    }
    if (!s || ks_review_load(s, &l->a.cfg, now, &set, &err) != KS_OK) {
        ks_api_fail(resp, &err);
        return NULL;
    }
    return set;
}

/* ---- reading -------------------------------------------------------------------------- */

void ks_api_get_reviews(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    struct ks_review_set *set = load(req, resp, ctx);
    if (set) {
        ks_review_flags_json(set, &resp->body);
        ks_review_free(set);
    }
}

void ks_api_get_review(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    int64_t id = ks_api_id(ks_http_param(req, "id"), "an incident id", "path", resp);
    int md = id ? query_markdown(req, resp) : -1;
    struct ks_review_set *set = md >= 0 ? load(req, resp, ctx) : NULL;
    if (!set) {
        return;
    }
    struct ks_err err = {0};
    enum ks_rc rc = md ? ks_review_show_markdown(set, id, &resp->body, &err)
                       : ks_review_show_json(set, id, &resp->body, &err);
    if (rc != KS_OK) {
        ks_api_fail(resp, &err);
    }
    ks_review_free(set);
}

void ks_api_get_review_items(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    int open = query_flag(req, resp, "open");
    int overdue = open < 0 ? -1 : query_flag(req, resp, "overdue");
    const char *owner = ks_http_query(req, "owner");
    if (overdue < 0) {
        return;
    }
    if (owner && !*owner) {
        ks_http_error(resp, 400, "invalid", "query \"owner\": must be a name");
        return;
    }
    struct ks_review_set *set = load(req, resp, ctx);
    if (set) {
        ks_review_items_json(set, open, owner, overdue, &resp->body);
        ks_review_free(set);
    }
}

void ks_api_get_report(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    struct ks_report_opts o = {KS_TIME_NONE, KS_TIME_NONE, ks_http_query(req, "by")};
    if (query_time(req, resp, "since", &o.since) != 0 ||
        query_time(req, resp, "until", &o.until) != 0) {
        return;
    }
    if (o.by && strcmp(o.by, "type") && strcmp(o.by, "severity") && strcmp(o.by, "channel") &&
        strcmp(o.by, "week")) {
        ks_http_error(resp, 400, "invalid",
                      "query \"by\": unknown '%s' (use type, severity, channel or week)", o.by);
        return;
    }
    if (o.since != KS_TIME_NONE && o.until != KS_TIME_NONE && o.since >= o.until) {
        ks_http_error(resp, 400, "invalid",
                      "query \"since\": '%s' is not before \"until\" '%s': no instant is in that "
                      "window",
                      ks_http_query(req, "since"), ks_http_query(req, "until"));
        return;
    }
    int md = query_markdown(req, resp);
    struct ks_review_set *set = md >= 0 ? load(req, resp, ctx) : NULL;
    if (!set) {
        return;
    }
    struct ks_err err = {0};
    enum ks_rc rc = md ? ks_review_report_markdown(set, &o, &resp->body, &err)
                       : ks_review_report_json(set, &o, &resp->body, &err);
    if (rc != KS_OK) {
        ks_api_fail(resp, &err);
    }
    ks_review_free(set);
}

void ks_api_get_cost(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    int64_t id = ks_api_id(ks_http_param(req, "id"), "an incident id", "path", resp);
    struct ks_review_set *set = id ? load(req, resp, ctx) : NULL;
    if (!set) {
        return;
    }
    struct ks_err err = {0};
    if (ks_review_cost_json(set, id, &resp->body, &err) != KS_OK) {
        ks_api_fail(resp, &err);
    }
    ks_review_free(set);
}

/* ---- changing: journaled commands --------------------------------------------------------- */

/* POST /v1/reviews/{id}: the review as Markdown with a YAML front matter, or
 * YAML (JSON too), as `kintsugi review set` reads it; parsed here first, so
 * that bad input is 400 with its line and nothing is queued. */
void ks_api_post_review(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    int64_t id = ks_api_id(ks_http_param(req, "id"), "an incident id", "path", resp);
    if (!id) {
        return;
    }
    const char *text = req->body ? req->body : "";
    struct ks_review_doc doc;
    struct ks_err err = {0};
    if (ks_review_parse("body", text, req->body_len, &doc, &err) != KS_OK) {
        ks_http_error(resp, 400, "invalid", "%s", err.msg);
        return;
    }
    ks_review_doc_fini(&doc);
    json_t *cmd = json_pack("{s:s, s:I, s:s%}", "op", "review_set", "id", (json_int_t)id, "text",
                            text, req->body_len);
    if (!cmd) {
        ks_http_error(resp, 400, "invalid", "body: the review must be UTF-8 text");
        return;
    }
    ks_api_command(req, resp, ctx, cmd);
}

/* POST /v1/review-items/{id}/{verb}: done or drop, {"note"} optional. */
void ks_api_post_item(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    const char *verb = ks_http_param(req, "verb");
    if (strcmp(verb, "done") != 0 && strcmp(verb, "drop") != 0) {
        ks_http_error(resp, 404, "not_found",
                      "no action item verb '%s': an item is closed with done or drop", verb);
        return;
    }
    int64_t item = ks_api_id(ks_http_param(req, "id"), "an action item id", "path", resp);
    if (!item) {
        return;
    }
    if (ks_api_body_fields(req, resp, "note") != 0) {
        return;
    }
    json_t *note = req->json ? json_object_get(req->json, "note") : NULL;
    if (note && !json_is_string(note)) {
        char got[64];
        ks_api_got(note, got, sizeof(got));
        ks_http_error(resp, 400, "invalid", "field \"note\" must be a string, got %s", got);
        return;
    }
    json_t *cmd = json_pack("{s:s, s:I, s:s}", "op", "review_item", "item", (json_int_t)item,
                            "verb", verb);
    if (note) {
        json_object_set(cmd, "note", note);
    }
    ks_api_command(req, resp, ctx, cmd);
}

/* POST /v1/incidents/{id}/cost: {"part", "amount"}, as `kintsugi cost set`. */
void ks_api_post_cost(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    int64_t id = ks_api_id(ks_http_param(req, "id"), "an incident id", "path", resp);
    if (!id) {
        return;
    }
    if (ks_api_body_fields(req, resp, "part, amount") != 0) {
        return;
    }
    json_t *part = json_object_get(req->json, "part");
    json_t *amount = json_object_get(req->json, "amount");
    struct ks_err err = {0};
    char got[64];
    ks_api_got(part, got, sizeof(got));
    if (!json_is_string(part)) {
        ks_http_error(resp, 400, "invalid",
                      part ? "field \"part\" must be a string (direct, response, churn, repeats or "
                             "brand), got %s"
                           : "field \"part\" is required (direct, response, churn, repeats or "
                             "brand)%s",
                      part ? got : "");
        return;
    }
    ks_api_got(amount, got, sizeof(got));
    if (!json_is_number(amount)) {
        ks_http_error(resp, 400, "invalid",
                      amount ? "field \"amount\" must be a number >= 0, got %s"
                             : "field \"amount\" is required (a number >= 0)%s",
                      amount ? got : "");
        return;
    }
    if (ks_review_cost_check(json_string_value(part), 0, &err) != KS_OK) {
        ks_http_error(resp, 400, "invalid", "field \"part\": %s", err.msg);
        return;
    }
    if (ks_review_cost_check(json_string_value(part), json_number_value(amount), &err) != KS_OK) {
        ks_http_error(resp, 400, "invalid", "field \"amount\": %s", err.msg);
        return;
    }
    json_t *cmd = json_pack("{s:s, s:I, s:O, s:O}", "op", "cost_set", "id", (json_int_t)id, "part",
                            part, "amount", amount);
    ks_api_command(req, resp, ctx, cmd);
}
