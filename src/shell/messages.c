/*
 * messages.c - the shell's side of messages (src/comms, docs/MESSAGES.md):
 * the triggers run inside every flush's transaction (so an outbox row exists
 * exactly when the incident change that caused it was kept), and what the
 * delivery loop (outbox.c) of `kintsugi messages deliver` and `kintsugi
 * ingest` records of each attempt.
 */
#include "shell.h"

#include <string.h>

const struct ks_tpl_set *ks_shell_templates(struct ks_shell *sh, struct ks_err *err)
{
    if (!sh->tpl) {
        struct ks_tpl_set *set = ks_calloc(1, sizeof(*set));
        if (ks_tpl_set_load(set, sh->cfg.msg_templates, err) != KS_OK) {
            ks_free(set);
            return NULL;
        }
        sh->tpl = set;
    }
    return sh->tpl;
}

enum ks_rc ks_shell_messages_queue(struct ks_shell *sh, const int64_t *ids, size_t n,
                                   struct ks_err *err)
{
    const struct ks_tpl_set *set = ks_shell_templates(sh, err);
    if (!set) {
        return err->rc;
    }
    struct ks_comms_stats st = {0};
    enum ks_rc rc = ks_comms_triggers(&sh->cfg, set, sh->eng, sh->store, ids, n, &sh->trig_due,
                                      &st, err);
    sh->messages_queued += st.queued;
    return rc;
}

void ks_shell_message_try(const struct ks_config *cfg, const struct ks_message_row *m,
                          struct ks_message_try *t)
{
    memset(t, 0, sizeof(*t));
    t->next_at = KS_TIME_NONE;
    t->sent_at = KS_TIME_NONE;
    t->attempts = (int)m->attempts;
    const struct ks_receiver_cfg *r = ks_config_receiver(cfg, m->receiver);
    if (!r) {
        t->status = "failed";
        t->final_failure = 1;
        snprintf(t->detail, sizeof(t->detail),
                 "no receiver %s is configured any more (receivers: in kintsugi.yaml)",
                 m->receiver);
        return;
    }
    struct ks_send_result res;
    t->attempts++;
    ks_comms_send(r, m, &res);
    snprintf(t->detail, sizeof(t->detail), "attempt %d: %s", t->attempts, res.detail);
    t->unavailable = !res.ok && res.unavailable;
    if (res.ok) {
        t->status = "sent";
        t->sent_at = ks_time_now();
    } else if (res.retryable && t->attempts < 1 + r->retries) {
        ks_time wait = ks_comms_backoff(r, t->attempts);
        if (res.retry_after > 0) {
            wait = res.retry_after; /* the receiver said when */
        }
        t->status = "queued";
        t->next_at = ks_time_now() + wait;
    } else {
        t->status = "failed";
        t->final_failure = 1;
    }
}

void ks_shell_message_gave_up(const struct ks_message_row *m, const struct ks_message_try *t,
                              char *text, size_t cap)
{
    snprintf(text, cap,
             "Message %lld (%s to %s via %s) failed after %d attempts: %s; `kintsugi "
             "messages retry %lld` sends it again",
             (long long)m->id, m->kind, m->recipient, m->receiver, t->attempts, t->detail,
             (long long)m->id);
}

struct msg_pass {
    struct ks_shell *sh;
    struct ks_msg_delivery *st;
};

struct msg_outcome {
    const struct ks_message_row *m;
    const struct ks_message_try *t;
};

static enum ks_rc write_outcome(struct ks_shell *sh, void *ctx, struct ks_err *err)
{
    const struct msg_outcome *o = ctx;
    return sh->store->ops->update_message(sh->store, o->m->id, o->t->status, o->t->attempts,
                                          o->t->next_at, o->t->sent_at, o->t->detail, err);
}

/* Each attempt is written at once (its own transaction; a final failure's
 * with the state that holds its timeline entry), so a kill loses at most
 * the attempt in flight, which the next pass makes again with the same
 * key. */
static int record(void *ctx, const void *row, const void *try)
{
    struct msg_pass *p = ctx;
    struct ks_shell *sh = p->sh;
    const struct ks_message_row *m = row;
    const struct ks_message_try *t = try;
    struct ks_err err = {0};
    if (!strcmp(t->status, "sent")) {
        p->st->sent++;
    } else if (!strcmp(t->status, "queued")) {
        p->st->retrying++;
    } else {
        p->st->failed++;
    }
    if (sh->delivered) {
        sh->delivered(sh->delivered_ctx, "messages", p->st->sent, p->st->retrying, p->st->failed,
                      0);
    }
    struct msg_outcome o = {m, t};
    if (t->final_failure && sh->eng) {
        char text[512];
        ks_shell_message_gave_up(m, t, text, sizeof(text));
        ks_engine_notification(sh->eng, m->incident, ks_engine_clock(sh->eng), text);
        return ks_shell_flush_with(sh, 1, write_outcome, &o) != 0 ? -1 : 0;
    }
    if (write_outcome(sh, &o, &err) != KS_OK) {
        ks_shell_error("%s", err.msg);
        return -1;
    }
    return 0;
}

/* One pass over the due messages (ks_outbox_pass). */
static int pass(void *ctx, ks_time *next)
{
    struct msg_pass *p = ctx;
    struct ks_outbox o = {.messages = 1, .store = p->sh->store, .cfg = &p->sh->cfg,
                         .record = record, .ctx = p};
    struct ks_err err = {0};
    int rc = ks_outbox_pass(&o, next, &err);
    if (rc < 0) {
        ks_shell_error("%s", err.msg);
    }
    return rc ? -1 : 0;
}

static int count(void *ctx, const struct ks_message_row *m)
{
    (void)m;
    (*(int *)ctx)++;
    return 0;
}

int ks_shell_messages_deliver(struct ks_shell *sh, ks_time max_wait, struct ks_msg_delivery *st)
{
    memset(st, 0, sizeof(*st));
    struct msg_pass p = {sh, st};
    ks_time next;
    if (ks_outbox_deliver(pass, &p, max_wait, &next) != 0) {
        return KS_SHELL_FAIL;
    }
    if (next != KS_TIME_NONE) {
        int n = 0; /* what is still queued, due before long or not */
        struct ks_err err = {0};
        struct ks_message_filter f = {.status = "queued"};
        if (sh->store->ops->list_messages(sh->store, &f, count, &n, &err) == KS_OK) {
            st->left = n;
        }
    }
    return KS_SHELL_OK;
}

void ks_shell_message_json(const struct ks_message_row *m, struct ks_buf *b)
{
    char at[32];
    ks_buf_printf(b, "{\"id\":%lld,\"incident\":%lld,\"kind\":", (long long)m->id,
                  (long long)m->incident);
    ks_json_escape(b, m->kind, strlen(m->kind));
    const char *names[] = {"audience", "recipient", "receiver", "order", "subject",
                           "idempotency_key", "status"};
    const char *vals[] = {m->audience, m->recipient, m->receiver, m->order_id,
                          m->subject,  m->key,       m->status};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ks_buf_printf(b, ",\"%s\":", names[i]);
        if (vals[i]) {
            ks_json_escape(b, vals[i], strlen(vals[i]));
        } else {
            ks_buf_puts(b, "null");
        }
    }
    ks_buf_printf(b, ",\"attempts\":%lld,\"created_at\":", (long long)m->attempts);
    ks_time_fmt(m->created_at, at);
    ks_buf_printf(b, "\"%s\",\"sent_at\":", at);
    if (m->sent_at == KS_TIME_NONE) {
        ks_buf_puts(b, "null");
    } else {
        ks_time_fmt(m->sent_at, at);
        ks_buf_printf(b, "\"%s\"", at);
    }
    ks_buf_puts(b, ",\"next_at\":");
    if (m->next_at == KS_TIME_NONE || strcmp(m->status, "queued") != 0) {
        ks_buf_puts(b, "null");
    } else {
        ks_time_fmt(m->next_at, at);
        ks_buf_printf(b, "\"%s\"", at);
    }
    ks_buf_puts(b, ",\"detail\":");
    if (m->detail) {
        ks_json_escape(b, m->detail, strlen(m->detail));
    } else {
        ks_buf_puts(b, "null");
    }
    ks_buf_puts(b, ",\"body\":");
    if (m->body) {
        ks_json_escape(b, m->body, strlen(m->body));
    } else {
        ks_buf_puts(b, "null"); /* a brief view */
    }
    ks_buf_putc(b, '}');
}

/* ---- retrying by hand ------------------------------------------------------------------ */

struct found_msg {
    int found;
    int64_t incident;
    char status[16], what[400];
};

static int found_one(void *ctx, const struct ks_message_row *m)
{
    struct found_msg *f = ctx;
    f->found = 1;
    f->incident = m->incident;
    snprintf(f->status, sizeof(f->status), "%s", m->status);
    snprintf(f->what, sizeof(f->what), "%s to %s via %s", m->kind, m->recipient, m->receiver);
    return 1;
}

enum ks_rc ks_shell_message_requeue(struct ks_store *s, struct ks_engine *eng, int64_t id,
                                    const char *by, ks_time at, int again, int64_t *incident,
                                    struct ks_err *err)
{
    struct found_msg f = {0};
    struct ks_message_filter q = {.id = id};
    enum ks_rc rc = s->ops->list_messages(s, &q, found_one, &f, err);
    if (rc != KS_OK) {
        return rc;
    }
    if (!f.found) {
        return ks_err_set(err, KS_ENOTFOUND, "no message %lld (kintsugi messages lists them)",
                          (long long)id);
    }
    *incident = f.incident;
    int failed = !strcmp(f.status, "failed");
    if (!failed && !again) {
        return ks_err_set(err, KS_ESTATE,
                          "message %lld is %s, not failed: only a failed message is retried "
                          "by hand",
                          (long long)id, f.status);
    }
    if (failed) {
        /* re-applied after later attempts were kept (not failed), the row
         * stays as they left it; the note, not in the saved state, comes back */
        char detail[160];
        snprintf(detail, sizeof(detail), "queued again by hand%s%s", by ? " by " : "",
                 by ? by : "");
        rc = s->ops->update_message(s, id, "queued", 0, KS_TIME_NONE, KS_TIME_NONE, detail, err);
    }
    if (rc == KS_OK && eng) {
        char text[600];
        snprintf(text, sizeof(text), "Message %lld (%s) queued again by hand by %s",
                 (long long)id, f.what, by ? by : "?");
        rc = ks_engine_note(eng, f.incident, text, by ? by : "?", at, err);
    }
    return rc;
}

struct json_ctx {
    struct ks_buf *out;
    int64_t n, total, limit;
    int brief;
};

static int json_one(void *ctx, const struct ks_message_row *m)
{
    struct json_ctx *j = ctx;
    j->total++;
    if (j->limit > 0 && j->n >= j->limit) {
        return 0; /* counted, not written */
    }
    if (j->n++) {
        ks_buf_putc(j->out, ',');
    }
    struct ks_message_row c = *m;
    if (j->brief) {
        c.body = NULL;
    }
    ks_shell_message_json(&c, j->out);
    return 0;
}

enum ks_rc ks_shell_messages_page(struct ks_store *s, const struct ks_message_filter *f, int brief,
                                  int64_t limit, struct ks_buf *out, int64_t *total,
                                  struct ks_err *err)
{
    struct json_ctx j = {out, 0, 0, limit, brief};
    ks_buf_putc(out, '[');
    enum ks_rc rc = s->ops->list_messages(s, f, json_one, &j, err);
    ks_buf_putc(out, ']');
    if (total) {
        *total = j.total;
    }
    return rc;
}

enum ks_rc ks_shell_messages_json(struct ks_store *s, const struct ks_message_filter *f,
                                  struct ks_buf *out, struct ks_err *err)
{
    return ks_shell_messages_page(s, f, 0, 0, out, NULL, err);
}
