/*
 * docs.c - the JSON documents that more than one door gives for the same
 * question: the CLI's --json and the HTTP API's routes call these, so the
 * two cannot drift (the guarded feed, dead letters, the hook outbox).
 */
#include "shell.h"

#include <stdlib.h>
#include <string.h>

/* ---- the guarded feed ------------------------------------------------------------ */

/* The SKU dictionary, read whole: the feed names SKUs by id. */
struct dict {
    struct ks_buf pool;
    size_t *off;
    size_t n, cap;
    int bad;
};

static int dict_block(void *ctx, int64_t first, int64_t count, const void *data, size_t n)
{
    struct dict *d = ctx;
    const unsigned char *p = data, *end = p + n;
    const char *str;
    size_t len;
    int r;
    if ((size_t)first != d->n) {
        d->bad = 1;
        return 1;
    }
    while ((r = ks_sku_block_next(&p, end, &str, &len)) == 1) {
        KS_GROW(d->off, d->cap, d->n + 1);
        d->off[d->n++] = d->pool.len;
        ks_buf_put(&d->pool, str, len);
        ks_buf_putc(&d->pool, 0);
    }
    d->bad |= r < 0 || d->n != (size_t)(first + count);
    return d->bad;
}

/* The last seq of the blocks listed (their data is not read). */
static int last_seq(void *ctx, int64_t first, int64_t last, const void *data, size_t n)
{
    (void)first, (void)data, (void)n;
    int64_t *end = ctx;
    if (last > *end) {
        *end = last;
    }
    return 0;
}

/* Decodes the blocks and hands each change after `since` to fn. */
struct blocks {
    ks_shell_feed_fn fn;
    void *ctx;
    const struct dict *d;
    int64_t since, limit, shown, last;
    int bad;
};

static int block(void *ctx, int64_t first, int64_t last, const void *data, size_t n)
{
    struct blocks *b = ctx;
    struct ks_feed_dec dec;
    struct ks_feed_change ch;
    int r;
    ks_feed_dec_init(&dec, first, data, n);
    while ((r = ks_feed_dec_next(&dec, &ch)) == 1) {
        if (ch.seq <= b->since) {
            continue;
        }
        if (b->limit > 0 && b->shown >= b->limit) {
            return 1;
        }
        if (ch.sku >= b->d->n || ch.seq > last) {
            b->bad = 1;
            return 1;
        }
        struct ks_feed_row fr = {NULL, ch.seq, b->d->pool.p + b->d->off[ch.sku], ch.qty, ch.at,
                                 ks_feed_why_name((enum ks_feed_why)ch.why), ch.incident};
        b->last = ch.seq;
        b->fn(b->ctx, &fr);
        b->shown++;
    }
    b->bad |= r < 0;
    return b->bad;
}

enum ks_rc ks_shell_feed_rows(struct ks_store *s, const char *db, const char *channel,
                              int64_t since, int64_t limit, ks_shell_feed_fn fn, void *ctx,
                              int64_t *cursor, struct ks_err *err)
{
    struct dict d = {0};
    struct blocks b = {fn, ctx, &d, since, limit, 0, since, 0};
    enum ks_rc rc = s->ops->list_skus(s, INT64_MAX, dict_block, &d, err);
    if (rc == KS_OK) {
        rc = s->ops->list_feed_blocks(s, channel, since, block, &b, err);
    }
    if (rc == KS_OK && (d.bad || b.bad)) {
        rc = ks_err_set(err, KS_EIO, "%s: the stored feed of %s is damaged", db, channel);
    }
    int64_t end = since;
    if (rc == KS_OK && b.shown == 0 && since > 0) {
        /* Nothing after the cursor: is the cursor within the feed at all? A
         * cursor past its end (a database made again, restored from an older
         * backup, or another channel's cursor) must not be handed back as if
         * all were well: the adapter would skip every change up to it. */
        end = 0;
        rc = s->ops->list_feed_blocks(s, channel, since - 1, last_seq, &end, err);
        if (rc == KS_OK && end < since) {
            end = 0;
            rc = s->ops->list_feed_blocks(s, channel, 0, last_seq, &end, err);
            if (rc == KS_OK) {
                rc = ks_err_set(err, KS_ESTATE,
                                "cursor %lld is past the end of %s's feed (its last change is "
                                "%lld): the database was made again or restored, or the cursor "
                                "is another channel's; read the whole state (kintsugi feed %s "
                                "--state) and go on from its cursor",
                                (long long)since, channel, (long long)end, channel);
            }
        }
    }
    ks_buf_fini(&d.pool);
    ks_free(d.off);
    *cursor = b.last;
    return rc;
}

static void feed_row_json(void *ctx, const struct ks_feed_row *r)
{
    struct ks_json *j = ctx;
    ks_json_obj_begin(j);
    ks_json_key(j, "seq");
    ks_json_int(j, r->seq);
    ks_json_key(j, "sku");
    ks_json_str(j, r->sku);
    ks_json_key(j, "qty");
    ks_json_int(j, r->qty);
    ks_json_key(j, "at");
    ks_json_time(j, r->at);
    ks_json_key(j, "why");
    ks_json_str(j, r->why);
    if (r->incident) {
        ks_json_key(j, "incident");
        ks_json_int(j, r->incident);
    }
    ks_json_obj_end(j);
}

enum ks_rc ks_shell_feed_json(struct ks_store *s, const char *db, const char *channel,
                              int64_t since, int64_t limit, struct ks_buf *out,
                              struct ks_err *err)
{
    struct ks_json j;
    ks_json_init(&j, out, 0);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "channel");
    ks_json_str(&j, channel);
    ks_json_key(&j, "changes");
    ks_json_arr_begin(&j);
    int64_t cursor;
    enum ks_rc rc =
        ks_shell_feed_rows(s, db, channel, since, limit, feed_row_json, &j, &cursor, err);
    if (rc != KS_OK) {
        return rc;
    }
    ks_json_arr_end(&j);
    ks_json_key(&j, "cursor");
    ks_json_int(&j, cursor);
    ks_json_obj_end(&j);
    return KS_OK;
}

/* ---- dead letters ------------------------------------------------------------------ */

struct dl_list {
    struct ks_buf *out;
    int64_t after, limit, total;
    int n;
};

static int dl_row(void *vctx, const struct ks_deadletter *d)
{
    struct dl_list *c = vctx;
    struct ks_buf *b = c->out;
    c->total++;
    if (d->id <= c->after || (c->limit && c->n >= c->limit)) {
        return 0;
    }
    char at[32];
    ks_time_fmt(d->received_at, at);
    ks_buf_printf(b, "%s{\"id\":%lld,\"line\":%lld,\"source\":", c->n ? ",\n " : "",
                  (long long)d->id, (long long)d->line);
    ks_json_escape(b, d->source, strlen(d->source));
    ks_buf_puts(b, ",\"reason\":");
    ks_json_escape(b, d->reason, strlen(d->reason));
    ks_buf_puts(b, ",\"raw\":");
    ks_json_escape(b, d->raw, d->raw_len);
    ks_buf_printf(b, ",\"status\":\"%s\",\"received_at\":\"%s\"}", d->status, at);
    c->n++;
    return 0;
}

enum ks_rc ks_shell_deadletters_page(struct ks_store *s, const char *status, int64_t after,
                                     int64_t limit, struct ks_buf *out, int64_t *total,
                                     struct ks_err *err)
{
    struct dl_list c = {out, after, limit, 0, 0};
    ks_buf_putc(out, '[');
    enum ks_rc rc = s->ops->list_deadletters(s, status, dl_row, &c, err);
    ks_buf_putc(out, ']');
    if (total) {
        *total = c.total;
    }
    return rc;
}

enum ks_rc ks_shell_deadletters_json(struct ks_store *s, const char *status, struct ks_buf *out,
                                     struct ks_err *err)
{
    return ks_shell_deadletters_page(s, status, 0, 0, out, NULL, err);
}

/* ---- the hook outbox --------------------------------------------------------------- */

struct hook_list {
    struct ks_json j;
    int64_t incident; /* 0: every incident's */
    const struct ks_store *st;
    struct ks_buf sent; /* the key a call is sent with */
};

static int hook_row(void *ctx, const struct ks_hook_row *r)
{
    struct hook_list *c = ctx;
    struct ks_json *j = &c->j;
    if (c->incident && r->incident != c->incident) {
        return 0;
    }
    ks_json_obj_begin(j);
    ks_json_key(j, "key");
    ks_json_str(j, r->key);
    ks_json_key(j, "idempotency_key");
    ks_buf_reset(&c->sent);
    ks_store_hook_key(c->st, r->id, r->key, &c->sent);
    ks_json_str(j, c->sent.p);
    ks_json_key(j, "incident");
    ks_json_int(j, r->incident);
    ks_json_key(j, "action");
    ks_json_str(j, r->action);
    ks_json_key(j, "status");
    ks_json_str(j, r->status);
    ks_json_key(j, "attempts");
    ks_json_int(j, r->attempts);
    ks_json_key(j, "next_at");
    ks_json_time(j, r->next_at);
    ks_json_key(j, "detail");
    ks_json_str(j, r->detail);
    ks_json_key(j, "body");
    ks_json_raw(j, r->body, strlen(r->body));
    ks_json_obj_end(j);
    return 0;
}

enum ks_rc ks_shell_hooks_json_of(struct ks_store *s, const char *status, int64_t incident,
                                  struct ks_buf *out, struct ks_err *err)
{
    struct hook_list c = {.incident = incident, .st = s};
    ks_json_init(&c.j, out, 0);
    ks_json_arr_begin(&c.j);
    enum ks_rc rc = s->ops->list_hooks(s, status, hook_row, &c, err);
    if (rc == KS_OK) {
        ks_json_arr_end(&c.j);
    }
    ks_buf_fini(&c.sent);
    return rc;
}

enum ks_rc ks_shell_hooks_json(struct ks_store *s, const char *status, struct ks_buf *out,
                               struct ks_err *err)
{
    return ks_shell_hooks_json_of(s, status, 0, out, err);
}

ks_time ks_shell_saved_clock(struct ks_store *s)
{
    struct ks_err err = {0};
    uint64_t total = 0;
    int found = 0;
    ks_time t = KS_TIME_NONE;
    if (s->ops->ck_open(s, &total, &found, &err) != KS_OK) {
        return KS_TIME_NONE;
    }
    const void *p;
    size_t n = 0;
    if (found && s->ops->ck_next(s, &p, &n, &err) == KS_OK) {
        t = ks_engine_saved_clock(p, n);
    }
    s->ops->ck_close(s);
    return t;
}
