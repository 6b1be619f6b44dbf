/* live_more.c - the writer's ops that need more than the engine, and the
 * hook deliverer.
 *
 * deadletters_replay: the dead letters are read from the store when the
 * command is applied for a request, and journaled with what was read (id,
 * line number, raw bytes), so that re-applying the journal after a restart
 * replays the very lines that were replayed, whatever the rows say by then.
 * Their new states (replayed, or pending with the new reason) are written
 * by the batch's transaction.
 *
 * hook_result: one attempt at a hook call, made by the deliverer thread
 * (never the writer: an attempt may take the hook's whole timeout), applied
 * to the engine (the incident's timeline and checklist) and the outbox row
 * in one transaction, and journaled, so that a restart records it again. */
#include "serve_int.h"

#include "../comms/comms.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ks_live_mark {
    int hook;       /* 0: a dead letter */
    int64_t id;     /* dead letter */
    char *status;
    char *reason;   /* dead letter: the new reason, NULL: none */
    char *key;      /* hook; message: its idempotency key (NULL in older journals) */
    char *receiver; /* message */
    char *detail;   /* hook */
    struct ks_buf raw; /* dead letter: the line replayed (a fix made meanwhile included) */
    int64_t attempts;
    ks_time next_at;
    ks_time sent_at; /* message */
};

static struct ks_live_mark *add_mark(struct ks_live *l)
{
    KS_GROW(l->marks, l->capmarks, l->nmarks + 1);
    struct ks_live_mark *m = &l->marks[l->nmarks++];
    memset(m, 0, sizeof(*m));
    return m;
}

void ks_live_more_drop(struct ks_live *l)
{
    for (size_t i = 0; i < l->nmarks; i++) {
        ks_free(l->marks[i].status);
        ks_free(l->marks[i].reason);
        ks_free(l->marks[i].key);
        ks_free(l->marks[i].receiver);
        ks_free(l->marks[i].detail);
        ks_buf_fini(&l->marks[i].raw);
    }
    l->nmarks = 0;
}

enum ks_rc ks_live_more_write(struct ks_live *l, struct ks_err *err)
{
    struct ks_store *s = l->a.store;
    const struct ks_hook_effect *he;
    size_t nh = ks_engine_hooks(l->a.eng, &he);
    enum ks_rc rc = KS_OK;
    for (size_t i = 0; i < l->nmarks && rc == KS_OK; i++) {
        struct ks_live_mark *m = &l->marks[i];
        if (m->hook == 2) {
            continue; /* after the effects: ks_live_more_write_messages */
        } else if (!m->hook) {
            /* with the line replayed: after a restart the row (made anew
             * by the journal) shows it as it was when replayed */
            rc = s->ops->update_deadletter(s, m->id, m->status, m->reason, m->raw.p ? m->raw.p : "",
                                           m->raw.len, err);
        } else {
            /* Re-applying the journal: the call was queued by an entry of
             * the same batch, and its row is not written yet. */
            for (size_t k = 0; k < nh; k++) {
                if (strcmp(he[k].key, m->key) == 0) {
                    struct ks_hook_row r = {.key = he[k].key, .incident = he[k].incident,
                                            .action = he[k].action, .body = he[k].body,
                                            .status = "pending", .next_at = ks_time_now()};
                    rc = s->ops->add_hook(s, &r, err);
                    break;
                }
            }
            if (rc == KS_OK) {
                rc = s->ops->update_hook(s, m->key, m->status, m->attempts, m->next_at,
                                         m->detail, err);
            }
        }
        if (rc == KS_ENOTFOUND) {
            rc = KS_OK; /* a row that is no more: nothing to record */
        }
    }
    return rc;
}

enum ks_rc ks_live_more_write_messages(struct ks_shell *sh, void *ctx, struct ks_err *err)
{
    struct ks_live *l = ctx;
    struct ks_store *s = sh->store;
    enum ks_rc rc = KS_OK;
    for (size_t i = 0; i < l->nmarks && rc == KS_OK; i++) {
        struct ks_live_mark *m = &l->marks[i];
        if (m->hook != 2) {
            continue;
        }
        /* By key and receiver: a message written again when the journal is
         * re-applied after a restart has a new id; its result must land on
         * it, or it would be sent again. */
        int64_t id = m->id;
        if (m->key && m->receiver) {
            rc = s->ops->message_id(s, m->key, m->receiver, &id, err);
        }
        if (rc == KS_OK) {
            rc = s->ops->update_message(s, id, m->status, m->attempts, m->next_at, m->sent_at,
                                        m->detail, err);
        }
        if (rc == KS_ENOTFOUND) {
            rc = KS_OK; /* a row that is no more: nothing to record */
        }
    }
    ks_live_more_drop(l);
    return rc;
}

/* ---- deadletters_replay ------------------------------------------------------------ */

/* raw as a member of o: "raw" when it is valid UTF-8 without NUL, else "raw_hex". */
static void set_raw(json_t *o, const char *raw, size_t n)
{
    if (ks_utf8_invalid_at(raw, n) == (size_t)-1 && !memchr(raw, 0, n)) {
        json_object_set_new(o, "raw", json_stringn(raw, n));
        return;
    }
    static const char hex[] = "0123456789abcdef";
    char *h = ks_malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        h[2 * i] = hex[(unsigned char)raw[i] >> 4];
        h[2 * i + 1] = hex[(unsigned char)raw[i] & 15];
    }
    h[2 * n] = 0;
    json_object_set_new(o, "raw_hex", json_string(h));
    ks_free(h);
}

static int unhex(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The raw bytes of a journaled letter into b; -1 when malformed. */
static int get_raw(json_t *o, struct ks_buf *b)
{
    json_t *r = json_object_get(o, "raw");
    if (json_is_string(r)) {
        ks_buf_put(b, json_string_value(r), json_string_length(r));
        return 0;
    }
    const char *h = json_string_value(json_object_get(o, "raw_hex"));
    size_t n = h ? strlen(h) : 1;
    if (n % 2) {
        return -1;
    }
    for (size_t i = 0; i < n; i += 2) {
        int a = unhex(h[i]), c = unhex(h[i + 1]);
        if (a < 0 || c < 0) {
            return -1;
        }
        ks_buf_putc(b, (char)(a << 4 | c));
    }
    return 0;
}

struct pending_dl {
    struct ks_live *l;
    int64_t only;
    json_t *letters;
};

static int collect_dl(void *ctx, const struct ks_deadletter *d)
{
    struct pending_dl *p = ctx;
    if (p->only && d->id != p->only) {
        return 0;
    }
    /* Replayed by an earlier request of this batch (not written yet): gone. */
    for (size_t i = p->l->nmarks; i-- > 0;) {
        const struct ks_live_mark *m = &p->l->marks[i];
        if (!m->hook && m->id == d->id) {
            if (strcmp(m->status, "replayed") == 0) {
                return 0;
            }
            break;
        }
    }
    json_t *o = json_pack("{s:I, s:I}", "id", (json_int_t)d->id, "line", (json_int_t)d->line);
    set_raw(o, d->raw, d->raw_len);
    json_array_append_new(p->letters, o);
    return 0;
}

static enum ks_rc op_replay(struct ks_live *l, json_t *j, int live, char **journal,
                            const char *actor, struct ks_buf *out, struct ks_err *err)
{
    json_t *one = json_object_get(j, "deadletter");
    int64_t only = json_is_integer(one) ? json_integer_value(one) : 0;
    json_t *letters = json_object_get(j, "letters");
    if (live && !letters) {
        struct pending_dl p = {l, only, json_array()};
        if (l->a.store->ops->list_deadletters(l->a.store, "pending", collect_dl, &p, err) !=
            KS_OK) {
            json_decref(p.letters);
            return err->rc ? err->rc : KS_EIO;
        }
        if (only && json_array_size(p.letters) == 0) {
            json_decref(p.letters);
            return ks_err_set(err, KS_ENOTFOUND, "no pending dead letter %lld", (long long)only);
        }
        json_object_set_new(j, "letters", p.letters);
        letters = p.letters;
        char *text = json_dumps(j, JSON_COMPACT); /* jansson's malloc: copied for ks_free */
        *journal = ks_strdup(text ? text : "{}");
        free(text);
    }
    if (!json_is_array(letters)) {
        return ks_err_set(err, KS_EUSAGE, "field \"letters\" must be an array");
    }
    uint32_t input = ks_engine_input(l->a.eng, "deadletters");
    size_t i, passed = 0, accepted = 0;
    json_t *o;
    struct ks_buf still = {0};
    size_t nstill = 0;
    json_array_foreach(letters, i, o)
    {
        struct ks_buf raw = {0};
        int64_t id = json_integer_value(json_object_get(o, "id"));
        int64_t line = json_integer_value(json_object_get(o, "line"));
        if (get_raw(o, &raw) != 0) {
            ks_buf_fini(&raw);
            continue;
        }
        struct ks_err why = {0};
        enum ks_line_result r =
            ks_engine_event(l->a.eng, input, line, raw.p ? raw.p : "", raw.len, &why);
        struct ks_live_mark *m = add_mark(l);
        m->id = id;
        ks_buf_put(&m->raw, raw.p ? raw.p : "", raw.len);
        if (r == KS_LINE_REJECTED) {
            m->status = ks_strdup("pending");
            m->reason = ks_strdup(why.msg);
            ks_buf_printf(&still, "%s{\"id\":%lld,\"line\":%lld,\"reason\":", nstill ? "," : "",
                          (long long)id, (long long)line);
            ks_json_escape(&still, why.msg, strlen(why.msg));
            ks_buf_putc(&still, '}');
            nstill++;
        } else {
            m->status = ks_strdup("replayed");
            passed++;
            accepted += r == KS_LINE_ACCEPTED;
        }
        ks_buf_fini(&raw);
    }
    if (accepted) {
        /* Their inventory updates close as those of events posted do. */
        l->open_updates = 1;
        l->last_events = ks_time_now();
    }
    if (out) {
        ks_buf_puts(out, "{\"op\":\"deadletters_replay\",");
        if (only) {
            ks_buf_printf(out, "\"deadletter\":%lld,", (long long)only);
        }
        ks_buf_puts(out, "\"by\":");
        ks_json_escape(out, actor, strlen(actor));
        ks_buf_printf(out, ",\"replayed\":%zu,\"still_rejected\":[", passed);
        ks_buf_put(out, still.p ? still.p : "", still.len);
        ks_buf_puts(out, "]}");
    }
    ks_buf_fini(&still);
    return KS_OK;
}

/* ---- hook_result ------------------------------------------------------------------- */

static enum ks_rc op_hook_result(struct ks_live *l, json_t *j, const char *actor,
                                 struct ks_buf *out, struct ks_err *err)
{
    const char *key = json_string_value(json_object_get(j, "key"));
    const char *action = json_string_value(json_object_get(j, "action"));
    const char *status = json_string_value(json_object_get(j, "status"));
    const char *detail = json_string_value(json_object_get(j, "detail"));
    json_t *next = json_object_get(j, "next_at");
    if (!key || !action || !status || !detail) {
        return ks_err_set(err, KS_EUSAGE, "hook_result: key, action, status and detail are "
                                          "required");
    }
    int64_t incident = json_integer_value(json_object_get(j, "incident"));
    /* absent from a command journaled before it was carried: unknown */
    json_t *req = json_object_get(j, "requested_at");
    ks_engine_hook_result(l->a.eng, incident, action,
                          json_is_integer(req) ? json_integer_value(req) : KS_TIME_NONE,
                          (int)json_integer_value(json_object_get(j, "attempt")),
                          json_is_true(json_object_get(j, "ok")),
                          json_is_true(json_object_get(j, "final")), detail);
    struct ks_live_mark *m = add_mark(l);
    m->hook = 1;
    m->key = ks_strdup(key);
    m->status = ks_strdup(status);
    m->detail = ks_strdup(detail);
    m->attempts = json_integer_value(json_object_get(j, "attempts"));
    m->next_at = json_is_integer(next) ? json_integer_value(next) : KS_TIME_NONE;
    if (out) {
        ks_buf_puts(out, "{\"op\":\"hook_result\",\"by\":");
        ks_json_escape(out, actor, strlen(actor));
        ks_buf_puts(out, ",\"key\":");
        ks_json_escape(out, key, strlen(key));
        ks_buf_puts(out, ",\"status\":");
        ks_json_escape(out, status, strlen(status));
        ks_buf_putc(out, '}');
    }
    return KS_OK;
}

/* ---- message_result ------------------------------------------------------------------- */

/* One attempt at a message of the outbox, made by the deliverer: the row's
 * new state, and a timeline entry when it gave up. */
static enum ks_rc op_message_result(struct ks_live *l, json_t *j, struct ks_buf *out,
                                    struct ks_err *err)
{
    const char *status = json_string_value(json_object_get(j, "status"));
    const char *detail = json_string_value(json_object_get(j, "detail"));
    json_t *next = json_object_get(j, "next_at"), *sent = json_object_get(j, "sent_at");
    int64_t id = json_integer_value(json_object_get(j, "id"));
    if (!status || !detail || id <= 0) {
        return ks_err_set(err, KS_EUSAGE, "message_result: id, status and detail are required");
    }
    const char *text = json_string_value(json_object_get(j, "text"));
    if (text) {
        ks_engine_notification(l->a.eng, json_integer_value(json_object_get(j, "incident")),
                               ks_engine_clock(l->a.eng), text);
    }
    struct ks_live_mark *m = add_mark(l);
    m->hook = 2;
    m->id = id;
    const char *key = json_string_value(json_object_get(j, "key"));
    const char *receiver = json_string_value(json_object_get(j, "receiver"));
    m->key = key ? ks_strdup(key) : NULL;
    m->receiver = receiver ? ks_strdup(receiver) : NULL;
    m->status = ks_strdup(status);
    m->detail = ks_strdup(detail);
    m->attempts = json_integer_value(json_object_get(j, "attempts"));
    m->next_at = json_is_integer(next) ? json_integer_value(next) : KS_TIME_NONE;
    m->sent_at = json_is_integer(sent) ? json_integer_value(sent) : KS_TIME_NONE;
    if (out) {
        ks_buf_printf(out, "{\"op\":\"message_result\",\"id\":%lld,\"status\":\"%s\"}",
                      (long long)id, m->status);
    }
    return KS_OK;
}

int ks_live_more_cmd(struct ks_live *l, const char *cmd, size_t len, int live, char **journal,
                     const char *actor, struct ks_buf *out, struct ks_err *err, enum ks_rc *rc)
{
    static const char *const ops[] = {"\"op\":\"deadletters_replay\"", "\"op\":\"hook_result\"",
                                      "\"op\":\"message_result\""};
    static const char *const names[] = {"deadletters_replay", "hook_result", "message_result"};
    int which = -1;
    for (int i = 0; i < 3 && which < 0; i++) {
        if (memmem(cmd, len, ops[i], strlen(ops[i]))) {
            which = i;
        }
    }
    if (which < 0) {
        return 0;
    }
    json_t *j = json_loadb(cmd, len, JSON_REJECT_DUPLICATES, NULL);
    const char *op = json_string_value(json_object_get(j, "op"));
    if (!op || strcmp(op, names[which]) != 0) {
        json_decref(j);
        return 0; /* the text was in a string: not one of these */
    }
    *journal = NULL;
    *rc = which == 0   ? op_replay(l, j, live, journal, actor, out, err)
          : which == 1 ? op_hook_result(l, j, actor, out, err)
                       : op_message_result(l, j, out, err);
    json_decref(j);
    return 1;
}

/* ---- the deliverer ------------------------------------------------------------------- */

/* The command recording one attempt. */
static void result_cmd(struct ks_buf *b, const struct ks_hook_row *d, const struct ks_hook_try *t)
{
    ks_buf_puts(b, "{\"op\":\"hook_result\",\"key\":");
    ks_json_escape(b, d->key, strlen(d->key));
    ks_buf_printf(b, ",\"incident\":%lld,\"action\":", (long long)d->incident);
    ks_json_escape(b, d->action, strlen(d->action));
    /* the instant the call was asked for, as the row's body has it: the
     * result is stamped by it whenever it came (ks_engine_hook_result) */
    ks_time req = ks_engine_hook_requested(d->body);
    if (req != KS_TIME_NONE) {
        ks_buf_printf(b, ",\"requested_at\":%lld", (long long)req);
    }
    ks_buf_printf(b, ",\"attempt\":%d,\"ok\":%s,\"final\":%s,\"status\":\"%s\",\"attempts\":%d,"
                     "\"next_at\":",
                  t->attempt, t->ok ? "true" : "false", t->final ? "true" : "false", t->status,
                  t->attempts);
    if (t->next_at == KS_TIME_NONE) {
        ks_buf_puts(b, "null");
    } else {
        ks_buf_printf(b, "%lld", (long long)t->next_at);
    }
    ks_buf_puts(b, ",\"detail\":");
    ks_json_escape(b, t->detail, strlen(t->detail));
    ks_buf_putc(b, '}');
}

/* ---- messages ------------------------------------------------------------------------ */

static void message_cmd(struct ks_buf *b, const struct ks_message_row *m,
                        const struct ks_message_try *t)
{
    ks_buf_printf(b, "{\"op\":\"message_result\",\"id\":%lld,\"key\":", (long long)m->id);
    ks_json_escape(b, m->key, strlen(m->key));
    ks_buf_puts(b, ",\"receiver\":");
    ks_json_escape(b, m->receiver, strlen(m->receiver));
    ks_buf_printf(b, ",\"incident\":%lld,\"status\":\"%s\",\"attempts\":%d,\"next_at\":",
                  (long long)m->incident, t->status, t->attempts);
    if (t->next_at == KS_TIME_NONE) {
        ks_buf_puts(b, "null");
    } else {
        ks_buf_printf(b, "%lld", (long long)t->next_at);
    }
    ks_buf_puts(b, ",\"sent_at\":");
    if (t->sent_at == KS_TIME_NONE) {
        ks_buf_puts(b, "null");
    } else {
        ks_buf_printf(b, "%lld", (long long)t->sent_at);
    }
    ks_buf_puts(b, ",\"detail\":");
    ks_json_escape(b, t->detail, strlen(t->detail));
    if (t->final_failure) {
        char text[600];
        ks_shell_message_gave_up(m, t, text, sizeof(text));
        ks_buf_puts(b, ",\"text\":");
        ks_json_escape(b, text, strlen(text));
    }
    ks_buf_putc(b, '}');
}

/* Each attempt is journaled as a command (hook_result, message_result) of
 * the writer, which records it with its batch. */
struct record_ctx {
    struct ks_live *l;
    int messages;
};

static int record(void *ctx, const void *row, const void *t)
{
    const struct record_ctx *r = ctx;
    struct ks_err err = {0};
    struct ks_buf cmd = {0}, out = {0};
    if (r->messages) {
        message_cmd(&cmd, row, t);
    } else {
        result_cmd(&cmd, row, t);
    }
    /* stopping, or the store failed: it stays waiting */
    int rc = ks_live_command(r->l, cmd.p, r->messages ? "messages" : "hooks", &out, &err);
    ks_buf_fini(&cmd);
    ks_buf_fini(&out);
    return rc != 0 ? -1 : 0;
}

/* One pass of deliverer d over its rows (ks_outbox_pass) from its thread's
 * reader store; returns when its next row is due (KS_TIME_NONE: none known). */
static ks_time deliver_pass(struct ks_live_deliverer *d)
{
    struct ks_live *l = d->l;
    struct ks_err err = {0};
    ks_time next = KS_TIME_NONE;
    struct ks_store *s = ks_live_reader(l, &err);
    if (s) {
        struct record_ctx r = {l, d->messages};
        struct ks_outbox o = {.messages = d->messages, .store = s, .cfg = &l->a.cfg,
                              .record = record, .ctx = &r, .stop = &l->dstop,
                              .receiver = d->receiver, .owner = d->owner};
        (void)ks_outbox_pass(&o, &next, &err); /* what failed is looked at again */
    }
    return next;
}

static void *deliverer(void *arg)
{
    struct ks_live_deliverer *d = arg;
    struct ks_live *l = d->l;
    ks_time wake = ks_time_now();
    pthread_mutex_lock(&l->dmu);
    for (;;) {
        while (!l->dstop && d->seen == l->dgen && ks_time_now() < wake) {
            ks_time at = wake;
            struct timespec ts = {(time_t)(at / 1000), (long)(at % 1000) * 1000000L};
            pthread_cond_timedwait(&l->dcv, &l->dmu, &ts);
        }
        if (l->dstop) {
            break;
        }
        d->seen = l->dgen;
        pthread_mutex_unlock(&l->dmu);
        ks_time next = deliver_pass(d);
        /* Retries when due; new rows when the writer says so; a look every
         * second all the same. */
        ks_time now = ks_time_now();
        wake = next == KS_TIME_NONE || next > now + KS_SEC ? now + KS_SEC : next;
        pthread_mutex_lock(&l->dmu);
    }
    pthread_mutex_unlock(&l->dmu);
    return NULL;
}

static void add_deliverer(struct ks_live *l, int messages, char *receiver)
{
    KS_GROW(l->dl, l->capdl, l->ndl + 1);
    struct ks_live_deliverer *d = &l->dl[l->ndl++];
    memset(d, 0, sizeof(*d));
    d->l = l;
    d->messages = messages;
    d->receiver = receiver;
    snprintf(d->owner, sizeof(d->owner), "%s %s%s", ks_outbox_owner(),
             messages ? "receiver " : "hooks", messages ? receiver : "");
}

void ks_live_deliver_start(struct ks_live *l)
{
    /* A thread per receiver configured or named by a queued message (one
     * configured no more: its thread fails them, saying so), from the
     * grouped count of ks_shell_receivers, on a connection of its own (the
     * writer runs already). */
    struct ks_err err = {0};
    struct ks_store *s = NULL;
    struct ks_receiver_state *rv = NULL;
    size_t nrv = 0;
    if (ks_store_open(&s, l->a.db, &err) != KS_OK ||
        ks_shell_receivers(s, &l->a.cfg, &rv, &nrv, &err) != KS_OK) {
        ks_shell_error("%s", err.msg); /* the configured receivers' deliverers start all the same */
    }
    ks_store_close(s);
    add_deliverer(l, 0, NULL);
    for (size_t i = 0; i < nrv; i++) {
        if (rv[i].kind || rv[i].queued) {
            add_deliverer(l, 1, ks_strdup(rv[i].name));
        }
    }
    for (size_t i = 0; !rv && i < l->a.cfg.nreceivers; i++) {
        add_deliverer(l, 1, ks_strdup(l->a.cfg.receivers[i].name));
    }
    ks_shell_receivers_free(rv, nrv);
    for (size_t i = 0; i < l->ndl; i++) {
        l->dl[i].started = pthread_create(&l->dl[i].th, NULL, deliverer, &l->dl[i]) == 0;
    }
}

void ks_live_deliver_kick(struct ks_live *l)
{
    pthread_mutex_lock(&l->dmu);
    l->dgen++;
    pthread_cond_broadcast(&l->dcv);
    pthread_mutex_unlock(&l->dmu);
}

void ks_live_deliver_stop(struct ks_live *l)
{
    pthread_mutex_lock(&l->dmu);
    __atomic_store_n(&l->dstop, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&l->dcv);
    pthread_mutex_unlock(&l->dmu);
    for (size_t i = 0; i < l->ndl; i++) {
        if (l->dl[i].started) {
            pthread_join(l->dl[i].th, NULL);
        }
        ks_free(l->dl[i].receiver);
    }
    ks_free(l->dl);
    l->dl = NULL;
    l->ndl = l->capdl = 0;
}
