/* live_tx.c - the writer's ops that change rows of the store besides the
 * engine: remedies (grant, approve, decline, specialist review), a review, an
 * action item's closure and a cost part people enter, and a failed message
 * queued again by hand.
 *
 * Such an op is not applied with the other jobs of a batch but inside the
 * batch's transaction (write_batch in live.c), in arrival order among its
 * kind, so that its rows, the timeline entries it adds to the engine and
 * its journal entry are committed together, and each sees the rows of the
 * ones before it. A refused op changes nothing and is not journaled. When a
 * restart re-applies the journal, the op runs again on the engine of the
 * saved state while the store may already hold its rows (committed with the
 * journal entry after that state): every op is written so that running it
 * again gives the same rows - a new remedy is journaled with the id it was
 * given, a row is written whole, and an approval, review or closure that is
 * already in place is taken as done by the same person. */
#include "../remedy/remedy.h"
#include "../review/review.h"
#include "serve_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct tx_args {
    struct ks_shell *a;
    json_t *j;
    const char *actor;
    ks_time at; /* KS_TIME_NONE: the engine clock */
    int reapply;
    struct ks_buf *extra; /* members added to the result object */
    char **journal;       /* the command as it must be journaled, when rewritten */
};

static int64_t int_field(const struct tx_args *t, const char *k)
{
    json_t *v = json_object_get(t->j, k);
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

static const char *str_field(const struct tx_args *t, const char *k)
{
    return json_string_value(json_object_get(t->j, k));
}

static enum ks_rc need_id(const struct tx_args *t, const char *k, int64_t *out, const char *what,
                          struct ks_err *err)
{
    *out = int_field(t, k);
    if (*out <= 0) {
        return ks_err_set(err, KS_EUSAGE, "field \"%s\" must be %s (a positive integer)", k,
                          what);
    }
    return KS_OK;
}

/* The result's "remedy" member. */
static void remedy_member(const struct tx_args *t, const struct ks_buf *doc)
{
    ks_buf_puts(t->extra, "\"remedy\":");
    ks_buf_put(t->extra, doc->p, doc->len);
}

/* ---- remedies ---------------------------------------------------------------------- */

static enum ks_rc op_remedy_grant(const struct tx_args *t, struct ks_err *err)
{
    struct ks_remedy_req rq = {0};
    enum ks_rc rc = need_id(t, "id", &rq.incident, "an incident id", err);
    if (rc) {
        return rc;
    }
    json_t *amount = json_object_get(t->j, "amount");
    rq.order = str_field(t, "order");
    rq.kind = str_field(t, "kind");
    rq.has_amount = amount && !json_is_null(amount);
    if (rq.has_amount && !json_is_number(amount)) {
        return ks_err_set(err, KS_EUSAGE,
                          "field \"amount\" must be a number > 0 with at most two decimals");
    }
    rq.amount = rq.has_amount ? json_number_value(amount) : 0;
    rq.by = t->actor;
    rq.note = str_field(t, "note");
    rq.escalate = json_is_true(json_object_get(t->j, "escalate"));
    int64_t given = t->reapply ? int_field(t, "remedy") : 0, id = 0;
    struct ks_buf doc = {0};
    rc = ks_remedy_grant(t->a->store, t->a->eng, &t->a->cfg, &rq, t->at, given, &id, &doc, err);
    if (rc == KS_OK) {
        remedy_member(t, &doc);
        if (!t->reapply) {
            /* journaled with its id: re-applied, it writes the same row */
            json_object_set_new(t->j, "remedy", json_integer(id));
            char *text = json_dumps(t->j, JSON_COMPACT);
            *t->journal = ks_strdup(text ? text : "{}");
            free(text);
        }
    }
    ks_buf_fini(&doc);
    return rc;
}

static enum ks_rc op_remedy_approve(const struct tx_args *t, struct ks_err *err)
{
    int64_t id;
    enum ks_rc rc = need_id(t, "remedy", &id, "a remedy id", err);
    struct ks_buf doc = {0};
    if (rc == KS_OK) {
        rc = ks_remedy_approve(t->a->store, t->a->eng, &t->a->cfg, id, t->actor, t->at,
                               t->reapply, &doc, err);
    }
    if (rc == KS_OK) {
        remedy_member(t, &doc);
    }
    ks_buf_fini(&doc);
    return rc;
}

static enum ks_rc op_remedy_decline(const struct tx_args *t, struct ks_err *err)
{
    int64_t id;
    enum ks_rc rc = need_id(t, "remedy", &id, "a remedy id", err);
    struct ks_buf doc = {0};
    if (rc == KS_OK) {
        rc = ks_remedy_decline(t->a->store, t->a->eng, &t->a->cfg, id, t->actor,
                               str_field(t, "note"), t->at, t->reapply, &doc, err);
    }
    if (rc == KS_OK) {
        remedy_member(t, &doc);
    }
    ks_buf_fini(&doc);
    return rc;
}

static enum ks_rc op_remedy_review(const struct tx_args *t, struct ks_err *err)
{
    int64_t id;
    enum ks_rc rc = need_id(t, "remedy", &id, "a remedy id", err);
    struct ks_buf doc = {0};
    if (rc == KS_OK) {
        rc = ks_remedy_review(t->a->store, t->a->eng, &t->a->cfg, id, t->actor,
                              str_field(t, "note"), t->at, t->reapply, &doc, err);
    }
    if (rc == KS_OK) {
        remedy_member(t, &doc);
    }
    ks_buf_fini(&doc);
    return rc;
}

/* ---- reviews, action items, costs ------------------------------------------------------ */

/* The review's text as posted (Markdown with YAML front matter, or YAML),
 * parsed again here: a restart re-applies the very text. */
static enum ks_rc op_review_set(const struct tx_args *t, struct ks_err *err)
{
    int64_t id;
    enum ks_rc rc = need_id(t, "id", &id, "an incident id", err);
    json_t *text = json_object_get(t->j, "text");
    if (rc == KS_OK && !json_is_string(text)) {
        rc = ks_err_set(err, KS_EUSAGE, "field \"text\" must be the review's text");
    }
    if (rc) {
        return rc;
    }
    struct ks_review_doc doc;
    rc = ks_review_parse("body", json_string_value(text), json_string_length(text), &doc, err);
    if (rc == KS_OK) {
        struct ks_review_cleared cl = {{0}, 0, NULL, 0, 0};
        rc = ks_review_apply_set(t->a->store, t->a->eng, id, &doc, t->actor, t->at, &cl, err);
        if (rc == KS_OK) {
            /* set whole: what it emptied is said, a client sending part of
             * a review learns what it lost */
            ks_buf_printf(t->extra, "\"action_items\":%zu,", doc.nitems);
            ks_review_cleared_json(&cl, t->extra);
        }
        ks_review_cleared_fini(&cl);
        ks_review_doc_fini(&doc);
    }
    return rc;
}

static enum ks_rc op_review_item(const struct tx_args *t, struct ks_err *err)
{
    int64_t item, incident = 0;
    enum ks_rc rc = need_id(t, "item", &item, "an action item id", err);
    const char *verb = str_field(t, "verb");
    if (rc == KS_OK && (!verb || (strcmp(verb, "done") != 0 && strcmp(verb, "drop") != 0))) {
        rc = ks_err_set(err, KS_EUSAGE, "field \"verb\" must be done or drop");
    }
    if (rc == KS_OK) {
        rc = ks_review_apply_item(t->a->store, t->a->eng, item, verb, t->actor,
                                  str_field(t, "note"), t->at, t->reapply, &incident, err);
    }
    if (rc == KS_OK) {
        ks_buf_printf(t->extra, "\"item\":%lld,\"incident\":%lld,\"status\":\"%s\"",
                      (long long)item, (long long)incident,
                      !strcmp(verb, "done") ? "done" : "dropped");
    }
    return rc;
}

static enum ks_rc op_cost_set(const struct tx_args *t, struct ks_err *err)
{
    int64_t id;
    enum ks_rc rc = need_id(t, "id", &id, "an incident id", err);
    const char *part = str_field(t, "part");
    json_t *amount = json_object_get(t->j, "amount");
    if (rc == KS_OK && !part) {
        rc = ks_err_set(err, KS_EUSAGE, "field \"part\" is required (direct, response, churn, "
                                        "repeats or brand)");
    }
    if (rc == KS_OK && !json_is_number(amount)) {
        rc = ks_err_set(err, KS_EUSAGE, "field \"amount\" must be a number >= 0");
    }
    if (rc == KS_OK) {
        rc = ks_review_apply_cost(t->a->store, t->a->eng, t->a->cfg.currency, id, part,
                                  json_number_value(amount), t->actor, t->at, err);
    }
    if (rc == KS_OK) {
        ks_buf_puts(t->extra, "\"part\":");
        ks_json_escape(t->extra, part, strlen(part));
        ks_buf_printf(t->extra, ",\"amount\":%.2f", json_number_value(amount));
    }
    return rc;
}

/* ---- messages ------------------------------------------------------------------------- */

/* A failed message queued again by hand: the row and the note of its
 * incident's timeline together; the deliverer takes it within a second. */
static enum ks_rc op_message_retry(const struct tx_args *t, struct ks_err *err)
{
    int64_t id, incident = 0;
    enum ks_rc rc = need_id(t, "message", &id, "a message id", err);
    if (rc == KS_OK) {
        rc = ks_shell_message_requeue(t->a->store, t->a->eng, id, t->actor, t->at, t->reapply,
                                      &incident, err);
    }
    if (rc == KS_OK) {
        ks_buf_printf(t->extra, "\"message\":%lld,\"incident\":%lld,\"status\":\"queued\"",
                      (long long)id, (long long)incident);
    }
    return rc;
}

/* Every failed message of a receiver (or an incident, an audience) queued
 * again: journaled with the messages chosen (id and incident), so that
 * re-applied it writes the same notes and leaves alone what was sent since. */
static enum ks_rc op_messages_retry(const struct tx_args *t, struct ks_err *err)
{
    struct ks_message_filter f = {0};
    f.receiver = str_field(t, "receiver");
    f.audience = str_field(t, "audience");
    f.incident = int_field(t, "incident");
    json_t *given = json_object_get(t->j, "messages");
    struct ks_msg_pick *g = NULL, *picked = NULL;
    size_t ng = 0, n = 0;
    if (t->reapply && json_is_array(given)) {
        g = ks_malloc((json_array_size(given) + 1) * sizeof(*g));
        size_t i;
        json_t *e;
        json_array_foreach(given, i, e)
        {
            g[ng++] = (struct ks_msg_pick){json_integer_value(json_array_get(e, 0)),
                                           json_integer_value(json_array_get(e, 1))};
        }
    }
    int replay = g != NULL;
    enum ks_rc rc = ks_shell_messages_requeue_failed(t->a->store, t->a->eng, &f, g, ng, t->actor,
                                                     t->at, &picked, &n, err);
    ks_free(g);
    if (rc != KS_OK || replay) {
        ks_free(picked);
        return rc;
    }
    json_t *list = json_array();
    ks_buf_printf(t->extra, "\"count\":%zu,\"incidents\":[", n);
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(list, json_pack("[I,I]", (json_int_t)picked[i].id,
                                              (json_int_t)picked[i].incident));
        if (i == 0 || picked[i].incident != picked[i - 1].incident) {
            ks_buf_printf(t->extra, "%s%lld", i ? "," : "", (long long)picked[i].incident);
        }
    }
    ks_buf_putc(t->extra, ']');
    json_object_set_new(t->j, "messages", list);
    char *text = json_dumps(t->j, JSON_COMPACT);
    *t->journal = ks_strdup(text ? text : "{}");
    free(text);
    ks_free(picked);
    return KS_OK;
}

/* A hook call that gave up made due again by hand: the row and the note of
 * its incident's timeline together; the hooks' deliverer is woken for it. */
static enum ks_rc op_hook_retry(const struct tx_args *t, struct ks_err *err)
{
    const char *key = str_field(t, "key");
    int64_t incident = 0;
    if (!key || !*key) {
        return ks_err_set(err, KS_EUSAGE,
                          "field \"key\" is required (the hook call's idempotency key)");
    }
    enum ks_rc rc = ks_shell_hook_requeue(t->a->store, &t->a->cfg, t->a->eng, key, t->actor,
                                          t->at, t->reapply, &incident, err);
    if (rc == KS_OK) {
        t->a->hooks_queued++; /* the commit wakes the deliverer */
        ks_buf_puts(t->extra, "\"key\":");
        ks_json_escape(t->extra, key, strlen(key));
        ks_buf_printf(t->extra, ",\"incident\":%lld,\"status\":\"pending\"", (long long)incident);
    }
    return rc;
}

/* ---- the table ---------------------------------------------------------------------- */

static const struct {
    const char *op;
    enum ks_rc (*fn)(const struct tx_args *t, struct ks_err *err);
} ops[] = {
    {"remedy_grant", op_remedy_grant},
    {"remedy_approve", op_remedy_approve},
    {"remedy_review", op_remedy_review},
    {"remedy_decline", op_remedy_decline},
    {"review_set", op_review_set},
    {"review_item", op_review_item},
    {"cost_set", op_cost_set},
    {"message_retry", op_message_retry},
    {"hook_retry", op_hook_retry},
    {"messages_retry", op_messages_retry},
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

int ks_live_tx_op(const char *cmd, size_t len)
{
    for (size_t i = 0; i < NOPS; i++) {
        char pat[64];
        snprintf(pat, sizeof(pat), "\"op\":\"%s\"", ops[i].op);
        if (memmem(cmd, len, pat, strlen(pat))) {
            return 1; /* checked again, parsed, by ks_live_tx_apply */
        }
    }
    return 0;
}

enum ks_rc ks_live_tx_apply(struct ks_shell *a, const char *cmd, size_t len, const char *actor,
                            ks_time at, int reapply, struct ks_buf *out, char **journal,
                            struct ks_err *err)
{
    *journal = NULL;
    json_t *j = json_loadb(cmd, len, JSON_REJECT_DUPLICATES, NULL);
    const char *op = json_string_value(json_object_get(j, "op"));
    size_t i = 0;
    while (op && i < NOPS && strcmp(ops[i].op, op) != 0) {
        i++;
    }
    if (!json_is_object(j) || !op || i == NOPS) {
        json_decref(j);
        return ks_err_set(err, KS_EUSAGE, "command: unknown op \"%s\"", op ? op : "");
    }
    struct ks_buf extra = {0};
    struct tx_args t = {a, j, actor, at, reapply, &extra, journal};
    enum ks_rc rc = ops[i].fn(&t, err);
    if (rc == KS_OK && out) {
        struct ks_json w;
        ks_json_init(&w, out, 0);
        ks_json_obj_begin(&w);
        ks_json_key(&w, "op");
        ks_json_str(&w, op);
        json_t *id = json_object_get(j, "id");
        if (json_is_integer(id)) {
            ks_json_key(&w, "incident");
            ks_json_int(&w, json_integer_value(id));
        }
        ks_json_key(&w, "by");
        ks_json_str(&w, actor);
        ks_json_obj_end(&w);
        if (extra.len) {
            out->len--; /* before the closing brace */
            ks_buf_putc(out, ',');
            ks_buf_put(out, extra.p, extra.len);
            ks_buf_putc(out, '}');
        }
    }
    if (rc != KS_OK) {
        ks_free(*journal);
        *journal = NULL;
    }
    ks_buf_fini(&extra);
    json_decref(j);
    return rc;
}
