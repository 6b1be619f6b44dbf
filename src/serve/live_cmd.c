/* live_cmd.c - people's actions as journaled commands: a JSON object
 * {"op": "...", ...} applied to the engine by the writer, live and again
 * when a restart re-applies the journal. One row per op in the table. */
#include "serve_int.h"

#include <jansson.h>
#include <string.h>

struct cmd_args {
    json_t *j;
    int64_t id;
    const char *actor;
    ks_time at;
};

static const char *str_field(const struct cmd_args *c, const char *k)
{
    return json_string_value(json_object_get(c->j, k));
}

static enum ks_rc need(const struct cmd_args *c, const char *k, const char **out,
                       struct ks_err *err)
{
    *out = str_field(c, k);
    if (!*out || !**out) {
        return ks_err_set(err, KS_EUSAGE, "field \"%s\": is required (a non-empty string)", k);
    }
    return KS_OK;
}

static enum ks_rc op_clock(struct ks_engine *e, const struct cmd_args *c, struct ks_buf *out,
                           struct ks_err *err)
{
    (void)e, (void)c, (void)out, (void)err;
    return KS_OK; /* the writer moved the clock before */
}

/* The end of an input, as the end of a file in `kintsugi ingest`: every open
 * inventory update closes (the server sends it after a quiet spell, or when
 * a request asks for it). */
static enum ks_rc op_end(struct ks_engine *e, const struct cmd_args *c, struct ks_buf *out,
                         struct ks_err *err)
{
    (void)c, (void)out, (void)err;
    ks_engine_end_input(e);
    return KS_OK;
}

static enum ks_rc op_ack(struct ks_engine *e, const struct cmd_args *c, struct ks_buf *out,
                         struct ks_err *err)
{
    (void)out;
    return ks_engine_ack(e, c->id, c->actor, c->at, err);
}

static enum ks_rc op_status(struct ks_engine *e, const struct cmd_args *c, struct ks_buf *out,
                            struct ks_err *err)
{
    (void)out;
    const char *s;
    enum ks_rc rc = need(c, "status", &s, err);
    return rc ? rc : ks_engine_set_status(e, c->id, s, c->actor, c->at, err);
}

static enum ks_rc op_note(struct ks_engine *e, const struct cmd_args *c, struct ks_buf *out,
                          struct ks_err *err)
{
    (void)out;
    const char *s;
    enum ks_rc rc = need(c, "text", &s, err);
    return rc ? rc : ks_engine_note(e, c->id, s, c->actor, c->at, err);
}

static enum ks_rc op_assign(struct ks_engine *e, const struct cmd_args *c, struct ks_buf *out,
                            struct ks_err *err)
{
    (void)out;
    const char *s;
    enum ks_rc rc = need(c, "owner", &s, err);
    return rc ? rc : ks_engine_assign(e, c->id, s, c->actor, c->at, err);
}

static enum ks_rc op_step(struct ks_engine *e, const struct cmd_args *c, struct ks_buf *out,
                          struct ks_err *err)
{
    (void)out;
    const char *step, *status;
    enum ks_rc rc = need(c, "step", &step, err);
    if (rc == KS_OK) {
        rc = need(c, "status", &status, err);
    }
    return rc ? rc
              : ks_engine_step(e, c->id, step, status, c->actor, str_field(c, "note"), c->at,
                               err);
}

static enum ks_rc op_approve(struct ks_engine *e, const struct cmd_args *c, struct ks_buf *out,
                             struct ks_err *err)
{
    (void)out;
    const char *action;
    enum ks_rc rc = need(c, "action", &action, err);
    return rc ? rc : ks_engine_approve(e, c->id, action, c->actor, c->at, err);
}

static enum ks_rc op_pause(struct ks_engine *e, const struct cmd_args *c, struct ks_buf *out,
                           struct ks_err *err)
{
    (void)out;
    return ks_engine_guard_pause(e, str_field(c, "channel"), c->actor, c->at, err);
}

static enum ks_rc op_release(struct ks_engine *e, const struct cmd_args *c, struct ks_buf *out,
                             struct ks_err *err)
{
    (void)out;
    return ks_engine_guard_release(e, str_field(c, "channel"), c->actor, c->at, err);
}

static enum ks_rc op_rollback(struct ks_engine *e, const struct cmd_args *c, struct ks_buf *out,
                              struct ks_err *err)
{
    struct ks_buf report = {0};
    int dry = json_is_true(json_object_get(c->j, "dry_run"));
    enum ks_rc rc = ks_engine_guard_rollback(e, c->id, dry, c->actor, c->at, &report, err);
    if (rc == KS_OK) {
        /* extra members of the result object */
        ks_buf_puts(out, "\"report\":");
        ks_json_escape(out, report.p ? report.p : "", report.len);
    }
    ks_buf_fini(&report);
    return rc;
}

static enum ks_rc op_accept(struct ks_engine *e, const struct cmd_args *c, struct ks_buf *out,
                            struct ks_err *err)
{
    (void)out;
    return ks_engine_guard_accept(e, c->id, c->actor, c->at, err);
}

static const struct {
    const char *op;
    int needs_id; /* an incident id in "id" */
    enum ks_rc (*fn)(struct ks_engine *e, const struct cmd_args *c, struct ks_buf *out,
                     struct ks_err *err);
} ops[] = {
    {"clock", 0, op_clock},        {"end_input", 0, op_end},
    {"ack", 1, op_ack},
    {"status", 1, op_status},      {"note", 1, op_note},
    {"assign", 1, op_assign},      {"step", 1, op_step},
    {"approve", 1, op_approve},    {"guard_pause", 0, op_pause},
    {"guard_release", 0, op_release}, {"guard_rollback", 1, op_rollback},
    {"guard_accept", 1, op_accept},
};

enum ks_rc ks_live_cmd_apply(struct ks_engine *e, const char *cmd, size_t len, const char *actor,
                             ks_time at, struct ks_buf *out, struct ks_err *err)
{
    json_error_t je;
    json_t *j = json_loadb(cmd, len, JSON_REJECT_DUPLICATES, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return ks_err_set(err, KS_EUSAGE, "command: not a JSON object");
    }
    const char *op = json_string_value(json_object_get(j, "op"));
    size_t i = 0, n = sizeof(ops) / sizeof(ops[0]);
    while (op && i < n && strcmp(ops[i].op, op) != 0) {
        i++;
    }
    enum ks_rc rc;
    if (!op || i == n) {
        rc = ks_err_set(err, KS_EUSAGE, "command: unknown op \"%s\"", op ? op : "");
    } else {
        struct cmd_args c = {j, 0, actor, at};
        json_t *id = json_object_get(j, "id");
        if (ops[i].needs_id && (!json_is_integer(id) || json_integer_value(id) <= 0)) {
            rc = ks_err_set(err, KS_EUSAGE, "field \"id\": must be an incident id (a positive "
                                            "integer)");
        } else {
            c.id = ops[i].needs_id ? json_integer_value(id) : 0;
            struct ks_buf extra = {0};
            rc = ops[i].fn(e, &c, &extra, err);
            if (rc == KS_OK && out) {
                struct ks_json w;
                ks_json_init(&w, out, 0);
                ks_json_obj_begin(&w);
                ks_json_key(&w, "op");
                ks_json_str(&w, op);
                if (c.id) {
                    ks_json_key(&w, "incident");
                    ks_json_int(&w, c.id);
                }
                ks_json_key(&w, "by");
                ks_json_str(&w, actor);
                ks_json_obj_end(&w);
                if (extra.len) {
                    /* before the closing brace */
                    out->len--;
                    ks_buf_putc(out, ',');
                    ks_buf_put(out, extra.p, extra.len);
                    ks_buf_putc(out, '}');
                }
            }
            ks_buf_fini(&extra);
        }
    }
    json_decref(j);
    return rc;
}
