/* api_remedy.c - routes of `kintsugi serve` for the service-recovery policy:
 * the documents of `kintsugi remedy list --json` and `remedy offer --json`
 * (the same functions, src/remedy/), the recovery promise, and grants,
 * approvals and specialist reviews as journaled commands applied inside the
 * batch's transaction (live_tx.c). The person accountable is the token's
 * name, which must be a person of the configuration. docs/API.md. */
#include "../remedy/remedy.h"
#include "serve_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static struct ks_live *live_of(void *ctx)
{
    return ((struct ks_api *)ctx)->live;
}

static int status_of(enum ks_rc rc)
{
    return rc == KS_EINPUT || rc == KS_EUSAGE ? 400
           : rc == KS_ENOTFOUND               ? 404
           : rc == KS_ESTATE                  ? 409
                                              : 503;
}

void ks_api_fail(struct ks_http_resp *resp, const struct ks_err *err)
{
    int st = status_of(err->rc);
    ks_buf_fini(&resp->body);
    struct ks_buf msg = {0};
    ks_api_hint(err->msg, &msg);
    ks_http_error(resp, st,
                  st == 400   ? "invalid"
                  : st == 404 ? "not_found"
                  : st == 409 ? "conflict"
                              : "unavailable",
                  "%s", msg.p ? msg.p : "");
    ks_buf_fini(&msg);
}

void ks_api_got(const json_t *v, char *buf, size_t cap)
{
    if (json_is_array(v) || json_is_object(v)) {
        snprintf(buf, cap, "%s", json_is_array(v) ? "an array" : "an object");
        return;
    }
    char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    if (s && strlen(s) > 40) {
        snprintf(buf, cap, "%.37s...", s);
    } else {
        snprintf(buf, cap, "%s", s ? s : "nothing");
    }
    free(s);
}

/* Whether name is one of list's comma separated names. */
static int listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        p += strspn(p, ", ");
        size_t k = strcspn(p, ", ");
        if (k && k == n && memcmp(p, name, n) == 0) {
            return 1;
        }
        p += k;
    }
    return 0;
}

int ks_api_body_fields(const struct ks_http_req *req, struct ks_http_resp *resp,
                       const char *known)
{
    if (!req->json) {
        return 0;
    }
    if (!json_is_object(req->json)) {
        char got[64];
        ks_api_got(req->json, got, sizeof(got));
        ks_http_error(resp, 400, "invalid", "body: must be a JSON object, got %s", got);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(req->json, key, v)
    {
        if (!listed(known, key)) {
            ks_http_error(resp, 400, "invalid", "field \"%s\" is not known (%s)", key,
                          *known ? known : "none: the body is {} or empty");
            return -1;
        }
    }
    return 0;
}

int64_t ks_api_id(const char *s, const char *what, const char *where, struct ks_http_resp *resp)
{
    /* Written as the id is written, digits without a sign, a leading zero
     * or white space ("+4", "04" and " 4" are not 4: one resource, one
     * URL), and within int64 (9223372036854775807 is an id, of nothing). */
    char *end = NULL;
    long long v = 0;
    if (s && s[0] >= '1' && s[0] <= '9' && strspn(s, "0123456789") == strlen(s)) {
        errno = 0;
        v = strtoll(s, &end, 10);
        v = errno == ERANGE ? 0 : v;
    }
    if (v <= 0) {
        ks_http_error(resp, 400, "invalid", "%s: '%s' is not %s (a positive integer)", where,
                      s ? s : "", what);
        return 0;
    }
    return v;
}

void ks_api_command(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx,
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

/* ---- reading -------------------------------------------------------------------------- */

void ks_api_get_remedies(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    const char *q = ks_http_query(req, "incident");
    int64_t incident = 0;
    if (q && !(incident = ks_api_id(q, "an incident id", "query \"incident\"", resp))) {
        return;
    }
    struct ks_err err = {0};
    struct ks_store *s = ks_live_reader(live_of(ctx), &err);
    if (!s || ks_remedy_list_json(s, incident, &resp->body, &err) != KS_OK) {
        ks_api_fail(resp, &err);
    }
}

void ks_api_get_offer(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    int64_t id = ks_api_id(ks_http_param(req, "id"), "an incident id", "path", resp);
    if (!id) {
        return;
    }
    const char *order = ks_http_query(req, "order");
    char why[96];
    if (ks_remedy_order_invalid(order, why, sizeof(why))) {
        ks_http_error(resp, 400, "invalid", "query \"order\": %s", why);
        return;
    }
    struct ks_live *l = live_of(ctx);
    struct ks_err err = {0};
    struct ks_store *s = ks_live_reader(l, &err);
    if (!s || ks_remedy_offer_json(s, &l->a.cfg, id, order, &resp->body, &err) != KS_OK) {
        ks_api_fail(resp, &err);
    }
}

void ks_api_get_promise(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    const char *f = ks_http_query(req, "format");
    enum ks_remedy_format fmt;
    if (!f || !strcmp(f, "text")) {
        fmt = KS_PROMISE_TEXT;
        resp->content_type = "text/plain; charset=utf-8";
    } else if (!strcmp(f, "markdown")) {
        fmt = KS_PROMISE_MARKDOWN;
        resp->content_type = "text/markdown; charset=utf-8";
    } else if (!strcmp(f, "html")) {
        fmt = KS_PROMISE_HTML;
        resp->content_type = "text/html; charset=utf-8";
    } else {
        ks_http_error(resp, 400, "invalid", "query \"format\": '%s' is not text, markdown or html",
                      f);
        return;
    }
    ks_remedy_promise(&live_of(ctx)->a.cfg, fmt, &resp->body);
}

/* ---- changing: journaled commands -------------------------------------------------------- */

void ks_api_post_grant(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    int64_t id = ks_api_id(ks_http_param(req, "id"), "an incident id", "path", resp);
    if (!id) {
        return;
    }
    /* a misspelt field is refused: a refund whose "amout" was dropped would be
     * one of the order's whole value */
    if (ks_api_body_fields(req, resp, "order, kind, amount, note, escalate") != 0) {
        return;
    }
    json_t *j = req->json;
    json_t *order = json_object_get(j, "order"), *kind = json_object_get(j, "kind");
    json_t *amount = json_object_get(j, "amount"), *note = json_object_get(j, "note");
    json_t *esc = json_object_get(j, "escalate");
    char order_why[160], got[64];
    ks_api_got(order, got, sizeof(got));
    if (order && !json_is_string(order)) {
        snprintf(order_why, sizeof(order_why), "must be a string (the order's order_id), got %s",
                 got);
    }
    const char *order_bad = !order ? "is required (the order's order_id)"
                            : !json_is_string(order)
                                ? order_why
                                : ks_remedy_order_invalid(json_string_value(order), order_why,
                                                          sizeof(order_why));
    const char *bad = order_bad ? "order"
                      : !json_is_string(kind) || !ks_remedy_known(json_string_value(kind))
                          ? "kind"
                      : amount && !json_is_null(amount) &&
                              !(json_is_number(amount) &&
                                ks_remedy_amount_ok(json_number_value(amount)))
                          ? "amount"
                      : note && !json_is_string(note) ? "note"
                      : esc && !json_is_boolean(esc)  ? "escalate"
                                                      : NULL;
    if (bad) {
        static const struct {
            const char *field, *want;
        } why[] = {
            {"order", NULL}, /* order_bad */
            {"kind", "must be one of refund, store_credit, replacement, expedited_shipping, "
                     "discount_code, cancel_with_refund"},
            {"amount", "must be a number > 0 with at most two decimals (in the "
                       "configuration's currency)"},
            {"note", "must be a string"},
            {"escalate", "must be true or false"},
        };
        for (size_t i = 0; i < sizeof(why) / sizeof(why[0]); i++) {
            if (!strcmp(why[i].field, bad)) {
                ks_http_error(resp, 400, "invalid", "field \"%s\" %s", bad,
                              why[i].want ? why[i].want : order_bad);
            }
        }
        return;
    }
    json_t *cmd = json_pack("{s:s, s:I, s:O, s:O}", "op", "remedy_grant", "id", (json_int_t)id,
                            "order", order, "kind", kind);
    if (amount && !json_is_null(amount)) {
        json_object_set(cmd, "amount", amount);
    }
    if (note) {
        json_object_set(cmd, "note", note);
    }
    if (json_is_true(esc)) {
        json_object_set_new(cmd, "escalate", json_true());
    }
    ks_api_command(req, resp, ctx, cmd);
}

/* POST /v1/remedies/{id}/{verb}: approve, decline ({"note"}: why, required),
 * review ({"note"} optional). */
void ks_api_post_remedy(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    static const char *const verbs[][2] = {
        {"approve", "remedy_approve"}, {"decline", "remedy_decline"}, {"review", "remedy_review"}};
    const char *verb = ks_http_param(req, "verb"), *op = NULL;
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        op = strcmp(verb, verbs[i][0]) == 0 ? verbs[i][1] : op;
    }
    if (!op) {
        ks_http_error(resp, 404, "not_found",
                      "no remedy action '%s' (use approve, decline or review)", verb);
        return;
    }
    int64_t id = ks_api_id(ks_http_param(req, "id"), "a remedy id", "path", resp);
    if (!id) {
        return;
    }
    /* an approval takes no note (it would be dropped), a review may, a decline must */
    int approve = !strcmp(verb, "approve"), decline = !strcmp(verb, "decline");
    if (ks_api_body_fields(req, resp, approve ? "" : "note") != 0) {
        return;
    }
    json_t *note = req->json ? json_object_get(req->json, "note") : NULL;
    if (note && !json_is_string(note)) {
        char got[64];
        ks_api_got(note, got, sizeof(got));
        ks_http_error(resp, 400, "invalid", "field \"note\" must be a string, got %s", got);
        return;
    }
    if (decline && (!note || !*json_string_value(note))) {
        ks_http_error(resp, 400, "invalid",
                      "field \"note\" is required: a decline says why (the customer team "
                      "tells the customer)");
        return;
    }
    json_t *cmd = json_pack("{s:s, s:I}", "op", op, "remedy", (json_int_t)id);
    if (note && !approve) {
        json_object_set(cmd, "note", note);
    }
    ks_api_command(req, resp, ctx, cmd);
}
