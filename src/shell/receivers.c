/*
 * receivers.c - how each receiver of messages is doing (docs/MESSAGES.md,
 * "How each receiver is doing"): what waits for it and since when, what
 * failed and how the last failure went, what it sent; "configured" as the
 * configuration given says. `kintsugi messages receivers`, GET
 * /v1/receivers and the dashboard's notification banner read it. And a
 * test message through one of them (`kintsugi messages test`).
 */
#include "../comms/comms.h"
#include "shell.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

struct collect {
    struct ks_receiver_state *v;
    size_t n, cap;
};

/* The receiver of that name, added when it is not there yet. */
static struct ks_receiver_state *add(struct collect *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->v[i].name, name) == 0) {
            return &c->v[i];
        }
    }
    KS_GROW(c->v, c->cap, c->n + 1);
    struct ks_receiver_state *r = &c->v[c->n++];
    memset(r, 0, sizeof(*r));
    r->name = ks_strdup(name);
    r->oldest_queued = KS_TIME_NONE;
    r->next_attempt = KS_TIME_NONE;
    return r;
}

static int stat_row(void *ctx, const struct ks_message_stat *st)
{
    struct ks_receiver_state *r = add(ctx, st->receiver);
    if (strcmp(st->status, "queued") == 0) {
        r->queued = st->count;
        r->oldest_queued = st->oldest;
        r->next_attempt = st->next_at;
        ks_free(r->retrying);
        r->retrying = ks_strdup(st->last_detail);
    } else if (strcmp(st->status, "sent") == 0) {
        r->sent = st->count;
    } else if (strcmp(st->status, "failed") == 0) {
        r->failed = st->count;
        ks_free(r->last_failure);
        r->last_failure = ks_strdup(st->last_detail);
    }
    return 0;
}

static const char *kind_of(const struct ks_receiver_cfg *r)
{
    return r->smtp ? "smtp" : r->webhook ? "webhook" : "dir";
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct ks_receiver_state *)a)->name,
                  ((const struct ks_receiver_state *)b)->name);
}

enum ks_rc ks_shell_receivers(struct ks_store *s, const struct ks_config *cfg,
                              struct ks_receiver_state **out, size_t *n, struct ks_err *err)
{
    struct collect c = {0};
    for (size_t i = 0; cfg && i < cfg->nreceivers; i++) {
        add(&c, cfg->receivers[i].name);
    }
    enum ks_rc rc = s->ops->message_stats(s, stat_row, &c, err);
    for (size_t i = 0; i < c.n; i++) {
        const struct ks_receiver_cfg *r = cfg ? ks_config_receiver(cfg, c.v[i].name) : NULL;
        c.v[i].kind = r ? kind_of(r) : NULL;
    }
    if (c.n > 1) {
        qsort(c.v, c.n, sizeof(*c.v), by_name);
    }
    if (rc != KS_OK) {
        ks_shell_receivers_free(c.v, c.n);
        c.v = NULL;
        c.n = 0;
    }
    *out = c.v;
    *n = c.n;
    return rc;
}

void ks_shell_receivers_free(struct ks_receiver_state *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ks_free(v[i].name);
        ks_free(v[i].last_failure);
        ks_free(v[i].retrying);
    }
    ks_free(v);
}

static void json_str_or_null(struct ks_buf *out, const char *s)
{
    if (s) {
        ks_json_escape(out, s, strlen(s));
    } else {
        ks_buf_puts(out, "null");
    }
}

static void json_time_or_null(struct ks_buf *out, ks_time t)
{
    if (t == KS_TIME_NONE) {
        ks_buf_puts(out, "null");
    } else {
        char at[32];
        ks_time_fmt(t, at);
        ks_buf_printf(out, "\"%s\"", at);
    }
}

enum ks_rc ks_shell_receivers_json(struct ks_store *s, const struct ks_config *cfg,
                                   struct ks_buf *out, struct ks_err *err)
{
    struct ks_receiver_state *v;
    size_t n;
    enum ks_rc rc = ks_shell_receivers(s, cfg, &v, &n, err);
    if (rc != KS_OK) {
        return rc;
    }
    ks_buf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
        const struct ks_receiver_state *r = &v[i];
        ks_buf_puts(out, i ? ",{\"receiver\":" : "{\"receiver\":");
        ks_json_escape(out, r->name, strlen(r->name));
        ks_buf_puts(out, ",\"kind\":");
        if (r->kind) {
            ks_buf_printf(out, "\"%s\"", r->kind);
        } else {
            ks_buf_puts(out, "null");
        }
        ks_buf_printf(out, ",\"configured\":%s,\"queued\":%lld,\"oldest_queued_at\":",
                      r->kind ? "true" : "false", (long long)r->queued);
        json_time_or_null(out, r->oldest_queued);
        ks_buf_printf(out, ",\"sent\":%lld,\"failed\":%lld,\"last_failure\":", (long long)r->sent,
                      (long long)r->failed);
        json_str_or_null(out, r->last_failure);
        ks_buf_puts(out, ",\"retrying\":");
        json_str_or_null(out, r->retrying);
        ks_buf_puts(out, ",\"next_attempt_at\":");
        json_time_or_null(out, r->next_attempt);
        ks_buf_putc(out, '}');
    }
    ks_buf_putc(out, ']');
    ks_shell_receivers_free(v, n);
    return KS_OK;
}

/* ---- a test message ---------------------------------------------------------------- */

/* "ks-test-" and 16 hex digits: a key of its own for every test. */
static void test_key(char key[32])
{
    unsigned char b[8];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        uint64_t v = (uint64_t)ks_time_now() * 1000003u ^ (uint64_t)getpid();
        memcpy(b, &v, sizeof(b));
    }
    int n = snprintf(key, 32, "ks-test-");
    for (size_t i = 0; i < sizeof(b); i++) {
        n += snprintf(key + n, 32 - (size_t)n, "%02x", b[i]);
    }
}

enum ks_rc ks_shell_receiver_test(const struct ks_config *cfg, const char *name, const char *to,
                                  const char *by, struct ks_receiver_test *t, struct ks_err *err)
{
    memset(t, 0, sizeof(*t));
    const struct ks_receiver_cfg *r = ks_config_receiver(cfg, name);
    if (!r) {
        struct ks_buf names = {0};
        for (size_t i = 0; i < cfg->nreceivers; i++) {
            ks_buf_printf(&names, "%s%s", i ? ", " : "", cfg->receivers[i].name);
        }
        ks_err_set(err, KS_ENOTFOUND, "no receiver %s is configured (%s%s)", name,
                   names.p ? "receivers: " : "none is, under receivers: in kintsugi.yaml",
                   names.p ? names.p : "");
        ks_buf_fini(&names);
        return err->rc;
    }
    /* Through an smtp receiver `to` is an envelope recipient: one plain
     * address, as an order's email must be (ks_comms_email_check). */
    char why[256];
    if (r->smtp && to && *to && ks_comms_email_check(to, why, sizeof(why))) {
        return ks_err_set(err, KS_EINPUT, "the recipient (to) %s", why);
    }
    test_key(t->key);
    t->receiver = r->name;
    t->kind = kind_of(r);
    t->recipient = to && *to ? to : r->smtp ? r->from : "test";
    t->by = by && *by ? by : NULL;
    char host[64] = "?", at[32];
    (void)gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = 0;
    ks_time now = ks_time_now();
    ks_time_fmt(now, at);
    struct ks_buf subject = {0}, body = {0};
    ks_buf_printf(&subject, "kintsugi test message through %s", r->name);
    ks_buf_printf(&body,
                  "This is a test message from kintsugi on %s, through the receiver %s (%s), "
                  "sent by %s at %s.\n\nIf it reached you, the receiver works: when an "
                  "incident needs it, its messages come this way. Nothing needs to be done "
                  "with this one.\n",
                  host, r->name, t->kind, t->by ? t->by : "?", at);
    struct ks_message_row m = {.key = t->key,
                               .incident = 0,
                               .kind = "test",
                               .audience = "team",
                               .recipient = t->recipient,
                               .receiver = r->name,
                               .subject = subject.p,
                               .body = body.p,
                               .status = "queued",
                               .created_at = now,
                               .sent_at = KS_TIME_NONE,
                               .next_at = KS_TIME_NONE};
    struct ks_send_result res;
    ks_comms_send(r, &m, &res);
    t->sent = res.ok;
    t->unavailable = res.unavailable;
    snprintf(t->detail, sizeof(t->detail), "%s", res.detail);
    ks_buf_fini(&subject);
    ks_buf_fini(&body);
    return KS_OK;
}

void ks_shell_receiver_test_json(const struct ks_receiver_test *t, struct ks_buf *out)
{
    ks_buf_puts(out, "{\"receiver\":");
    json_str_or_null(out, t->receiver);
    ks_buf_printf(out, ",\"kind\":\"%s\",\"recipient\":", t->kind);
    json_str_or_null(out, t->recipient);
    ks_buf_printf(out, ",\"key\":\"%s\",\"sent\":%s,\"unavailable\":%s,\"detail\":", t->key,
                  t->sent ? "true" : "false", t->unavailable ? "true" : "false");
    json_str_or_null(out, t->detail);
    ks_buf_puts(out, ",\"by\":");
    json_str_or_null(out, t->by);
    ks_buf_putc(out, '}');
}
