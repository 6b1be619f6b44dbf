/* live_cmd.c - people's actions as journaled commands: a JSON object
 * {"op": "...", ...} applied to the engine by the writer, live and again
 * when a restart re-applies the journal. One row per op in the table. */
#include "../alerts/alerts.h"
#include "serve_int.h"

#include <jansson.h>
#include <stdlib.h>
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
        return ks_err_set(err, KS_EUSAGE, "field \"%s\" is required (a non-empty string)", k);
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

/* ---- alerts (alerts_api.c): the body as journaled, parsed again here, so
 * that a restart re-applies exactly what was answered ----------------------- */

/* The command's "body" (a JSON object) as compact text, for the parsers; the
 * caller frees it (free). */
static enum ks_rc body_text(const struct cmd_args *c, char **out, size_t *len,
                            struct ks_err *err)
{
    json_t *b = json_object_get(c->j, "body");
    *out = json_is_object(b) ? json_dumps(b, JSON_COMPACT) : NULL;
    if (!*out) {
        return ks_err_set(err, KS_EUSAGE, "field \"body\" must be a JSON object");
    }
    *len = strlen(*out);
    return KS_OK;
}

static void incident_member(struct ks_buf *out, int64_t id)
{
    if (id) {
        ks_buf_printf(out, "\"incident\":%lld", (long long)id);
    } else {
        ks_buf_puts(out, "\"incident\":null");
    }
}

/* A PagerDuty Events API v2 event whose dedup_key was set (drawn when the
 * sender gave none) before it was journaled. */
static enum ks_rc op_pd_event(struct ks_engine *e, const struct cmd_args *c, struct ks_buf *out,
                              struct ks_err *err)
{
    char *text;
    size_t len;
    enum ks_rc rc = body_text(c, &text, &len, err);
    if (rc) {
        return rc;
    }
    struct ks_pd_event ev = {0};
    rc = ks_alert_parse_pagerduty_recorded(text, len, &ev, err);
    free(text);
    if (rc == KS_OK && ev.dedup_key_generated) {
        /* a replay must not draw another key */
        rc = ks_err_set(err, KS_EUSAGE, "pd_event: the journaled event has no dedup_key");
    }
    int64_t id = 0;
    if (rc == KS_OK) {
        rc = ks_engine_pd_event(e, &ev, c->actor, c->at, &id, err);
    }
    if (rc == KS_OK) {
        incident_member(out, id);
        ks_buf_puts(out, ",\"event_action\":");
        ks_json_escape(out, ks_pd_action_name(ev.action), strlen(ks_pd_action_name(ev.action)));
        ks_buf_puts(out, ",\"dedup_key\":");
        ks_json_escape(out, ev.dedup_key, strlen(ev.dedup_key));
    }
    ks_pd_event_fini(&ev);
    return rc;
}

/* The alerts that the open incident of the group knows, from its JSON. */
static void known_group(struct ks_engine *e, int64_t id, struct ks_am_group *g)
{
    struct ks_buf b = {0};
    g->open = 1;
    if (ks_engine_incident_json(e, id, 0, &b) == KS_OK && b.p) {
        json_t *j = json_loadb(b.p, b.len, 0, NULL);
        json_t *alerts = json_object_get(j, "alerts");
        size_t n = json_array_size(alerts), i;
        json_t *a;
        if (n) {
            g->members = ks_calloc(n, sizeof(*g->members));
            g->cap = n;
        }
        json_array_foreach(alerts, i, a)
        {
            const char *fp = json_string_value(json_object_get(a, "fingerprint"));
            const char *st = json_string_value(json_object_get(a, "status"));
            if (!fp || !st || strlen(fp) > KS_AM_FINGERPRINT_MAX) {
                continue;
            }
            struct ks_am_member *m = &g->members[g->n++];
            strcpy(m->fingerprint, fp);
            m->status = strcmp(st, "firing") == 0 ? KS_AM_FIRING : KS_AM_RESOLVED;
        }
        json_decref(j);
    }
    ks_buf_fini(&b);
}

/* An Alertmanager webhook body (version 4). The result says what it did to
 * the group's incident: the group rule applied to what the incident knew. */
static enum ks_rc op_am_webhook(struct ks_engine *e, const struct cmd_args *c, struct ks_buf *out,
                                struct ks_err *err)
{
    char *text;
    size_t len;
    enum ks_rc rc = body_text(c, &text, &len, err);
    if (rc) {
        return rc;
    }
    struct ks_am_webhook w = {0};
    rc = ks_alert_parse_alertmanager_recorded(text, len, &w, err);
    free(text);
    if (rc) {
        ks_am_webhook_fini(&w);
        return rc;
    }
    int64_t before = ks_engine_alert_open(e, w.group_key_hash), id = 0;
    enum ks_am_change change = KS_AM_GROUP_UNCHANGED;
    if (before) {
        struct ks_am_group known = {0}, next = {0};
        struct ks_am_outcome o = {0};
        known_group(e, before, &known);
        ks_am_group_apply(&known, &w, &next, &o);
        change = o.change;
        ks_am_outcome_fini(&o);
        ks_am_group_fini(&next);
        ks_am_group_fini(&known);
    }
    rc = ks_engine_am_webhook(e, &w, c->actor, c->at, &id, err);
    if (rc == KS_OK) {
        if (!before) {
            change = id ? KS_AM_GROUP_OPENED : KS_AM_GROUP_UNCHANGED;
        }
        incident_member(out, id);
        ks_buf_puts(out, ",\"change\":");
        const char *ch = ks_am_change_name(change);
        ks_json_escape(out, ch, strlen(ch));
        ks_buf_puts(out, ",\"dedup_key\":");
        ks_json_escape(out, w.group_key_hash, strlen(w.group_key_hash));
    }
    ks_am_webhook_fini(&w);
    return rc;
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
    {"pd_event", 0, op_pd_event},  {"am_webhook", 0, op_am_webhook},
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
            rc = ks_err_set(err, KS_EUSAGE, "field \"id\" must be an incident id (a positive "
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
    if (rc != KS_OK) {
        /* a refusal may quote a field as sent ("zero_ch\nnel"): one line */
        ks_err_one_line(err);
    }
    return rc;
}
