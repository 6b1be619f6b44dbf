/*
 * messages.c - the shell's side of messages (src/comms, docs/MESSAGES.md):
 * the triggers run inside every flush's transaction (so an outbox row exists
 * exactly when the incident change that caused it was kept), and the
 * delivery loop of `kintsugi messages deliver` and `kintsugi ingest`.
 */
#include "shell.h"

#include <string.h>
#include <time.h>

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
    enum ks_rc rc = ks_comms_triggers(&sh->cfg, set, sh->eng, sh->store, ids, n, &st, err);
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

struct due {
    struct ks_message_row *v;
    size_t n, cap;
};

static char *dup(const char *s)
{
    return s ? ks_strdup(s) : NULL;
}

static int collect(void *ctx, const struct ks_message_row *r)
{
    struct due *d = ctx;
    KS_GROW(d->v, d->cap, d->n + 1);
    struct ks_message_row *m = &d->v[d->n++];
    *m = *r;
    m->key = dup(r->key);
    m->kind = dup(r->kind);
    m->audience = dup(r->audience);
    m->recipient = dup(r->recipient);
    m->receiver = dup(r->receiver);
    m->order_id = dup(r->order_id);
    m->subject = dup(r->subject);
    m->body = dup(r->body);
    m->status = dup(r->status);
    m->detail = dup(r->detail);
    return 0;
}

static void due_fini(struct due *d)
{
    for (size_t i = 0; i < d->n; i++) {
        struct ks_message_row *m = &d->v[i];
        const char *s[] = {m->key,      m->kind,    m->audience, m->recipient, m->receiver,
                           m->order_id, m->subject, m->body,     m->status,    m->detail};
        for (size_t k = 0; k < sizeof(s) / sizeof(s[0]); k++) {
            ks_free((char *)s[k]);
        }
    }
    ks_free(d->v);
    memset(d, 0, sizeof(*d));
}


/* One pass over the due messages: each attempt is written at once (its own
 * transaction, with a failure's timeline entry), so a kill loses at most the
 * attempt in flight, which the next pass makes again with the same key. */
static int pass(struct ks_shell *sh, ks_time *next, struct ks_msg_delivery *st)
{
    struct due d = {0};
    struct ks_err err = {0};
    struct ks_message_filter f = {0, 0, NULL, "queued"};
    *next = KS_TIME_NONE;
    if (sh->store->ops->list_messages(sh->store, &f, collect, &d, &err) != KS_OK) {
        ks_shell_error("%s", err.msg);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < d.n && rc == 0; i++) {
        struct ks_message_row *m = &d.v[i];
        ks_time now = ks_time_now();
        if (m->next_at != KS_TIME_NONE && m->next_at > now) {
            if (*next == KS_TIME_NONE || m->next_at < *next) {
                *next = m->next_at;
            }
            continue;
        }
        struct ks_message_try t;
        ks_shell_message_try(&sh->cfg, m, &t);
        if (!strcmp(t.status, "sent")) {
            st->sent++;
        } else if (!strcmp(t.status, "queued")) {
            st->retrying++;
            if (*next == KS_TIME_NONE || t.next_at < *next) {
                *next = t.next_at;
            }
        } else {
            st->failed++;
        }
        if (t.final_failure && sh->eng) {
            char text[512];
            snprintf(text, sizeof(text),
                     "Message %lld (%s to %s via %s) failed after %d attempts: %s; `kintsugi "
                     "messages retry %lld` sends it again",
                     (long long)m->id, m->kind, m->recipient, m->receiver, t.attempts, t.detail,
                     (long long)m->id);
            ks_engine_notification(sh->eng, m->incident, ks_engine_clock(sh->eng), text);
        }
        if (sh->store->ops->update_message(sh->store, m->id, t.status, t.attempts, t.next_at,
                                           t.sent_at, t.detail, &err) != KS_OK) {
            ks_shell_error("%s", err.msg);
            rc = -1;
        } else if (t.final_failure && sh->eng && ks_shell_flush(sh, 1) != 0) {
            rc = -1;
        }
    }
    due_fini(&d);
    return rc;
}

int ks_shell_messages_deliver(struct ks_shell *sh, ks_time max_wait, struct ks_msg_delivery *st)
{
    memset(st, 0, sizeof(*st));
    ks_time until = ks_time_now() + max_wait;
    for (;;) {
        ks_time next;
        if (pass(sh, &next, st) != 0) {
            return KS_SHELL_FAIL;
        }
        if (next == KS_TIME_NONE) {
            st->left = 0;
            return KS_SHELL_OK;
        }
        if (next > until) {
            struct due d = {0};
            struct ks_err err = {0};
            struct ks_message_filter f = {0, 0, NULL, "queued"};
            if (sh->store->ops->list_messages(sh->store, &f, collect, &d, &err) == KS_OK) {
                st->left = (int)d.n;
            }
            due_fini(&d);
            return KS_SHELL_OK;
        }
        ks_time wait = next - ks_time_now();
        if (wait > 0) {
            struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}

void ks_shell_message_json(const struct ks_message_row *m, struct ks_buf *b)
{
    char at[32];
    ks_buf_printf(b, "{\"id\":%lld,\"incident\":%lld,\"kind\":", (long long)m->id,
                  (long long)m->incident);
    ks_shell_json_bytes(b, m->kind, strlen(m->kind));
    const char *names[] = {"audience", "recipient", "receiver", "order", "subject",
                           "idempotency_key", "status"};
    const char *vals[] = {m->audience, m->recipient, m->receiver, m->order_id,
                          m->subject,  m->key,       m->status};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ks_buf_printf(b, ",\"%s\":", names[i]);
        if (vals[i]) {
            ks_shell_json_bytes(b, vals[i], strlen(vals[i]));
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
        ks_shell_json_bytes(b, m->detail, strlen(m->detail));
    } else {
        ks_buf_puts(b, "null");
    }
    ks_buf_puts(b, ",\"body\":");
    ks_shell_json_bytes(b, m->body, strlen(m->body));
    ks_buf_putc(b, '}');
}

struct json_ctx {
    struct ks_buf *out;
    int n;
};

static int json_one(void *ctx, const struct ks_message_row *m)
{
    struct json_ctx *j = ctx;
    if (j->n++) {
        ks_buf_putc(j->out, ',');
    }
    ks_shell_message_json(m, j->out);
    return 0;
}

enum ks_rc ks_shell_messages_json(struct ks_store *s, const struct ks_message_filter *f,
                                  struct ks_buf *out, struct ks_err *err)
{
    struct json_ctx j = {out, 0};
    ks_buf_putc(out, '[');
    enum ks_rc rc = s->ops->list_messages(s, f, json_one, &j, err);
    ks_buf_putc(out, ']');
    return rc;
}
