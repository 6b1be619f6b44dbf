/*
 * feedcodec.c - the compact forms of the guarded feed's blocks and of the
 * SKU dictionary (store.h). Both are written by the shell and read by the
 * commands that serve the feed; a damaged block is reported, never read
 * past its end.
 */
#include "store.h"

#include <string.h>

void ks_feed_enc_add(struct ks_feed_enc *e, const struct ks_feed_change *c)
{
    KS_ASSERT(e->first == 0 || c->seq == e->last + 1);
    int meta = e->first == 0 || c->at != e->prev_at || c->why != e->prev_why ||
               c->incident != e->prev_incident;
    uint64_t delta = ks_zig((int64_t)c->sku - (int64_t)e->prev_sku);
    ks_varint_put(&e->buf, delta << 1 | (uint64_t)meta);
    if (meta) {
        ks_varint_put(&e->buf, ks_zig(c->at - (e->first == 0 ? 0 : e->prev_at)));
        ks_varint_put(&e->buf, c->why);
        ks_varint_put(&e->buf, ks_zig(c->incident));
        e->prev_at = c->at;
        e->prev_why = c->why;
        e->prev_incident = c->incident;
    }
    ks_varint_put(&e->buf, ks_zig(c->qty));
    e->prev_sku = c->sku;
    if (e->first == 0) {
        e->first = c->seq;
    }
    e->last = c->seq;
}

void ks_feed_enc_reset(struct ks_feed_enc *e)
{
    ks_buf_reset(&e->buf);
    e->first = e->last = 0;
    e->prev_sku = 0;
    e->prev_at = 0;
    e->prev_why = 0;
    e->prev_incident = 0;
}

void ks_feed_enc_fini(struct ks_feed_enc *e)
{
    ks_buf_fini(&e->buf);
    memset(e, 0, sizeof(*e));
}

void ks_feed_dec_init(struct ks_feed_dec *d, int64_t first, const void *data, size_t n)
{
    d->p = data;
    d->end = n ? d->p + n : d->p; /* an empty blob may come as NULL */
    memset(&d->cur, 0, sizeof(d->cur));
    d->cur.seq = first - 1;
}

int ks_feed_dec_next(struct ks_feed_dec *d, struct ks_feed_change *out)
{
    if (d->p == d->end) {
        return 0;
    }
    uint64_t tag, v;
    if (ks_varint_get(&d->p, d->end, &tag) != 0) {
        return -1;
    }
    int64_t sku = (int64_t)d->cur.sku + ks_unzig(tag >> 1);
    if (sku < 0 || sku > UINT32_MAX) {
        return -1;
    }
    if (tag & 1) {
        if (ks_varint_get(&d->p, d->end, &v) != 0) {
            return -1;
        }
        if (__builtin_add_overflow(d->cur.at, ks_unzig(v), &d->cur.at)) {
            return -1; /* no instant a block was written with */
        }
        if (ks_varint_get(&d->p, d->end, &v) != 0 || v > UINT32_MAX) {
            return -1;
        }
        d->cur.why = (uint32_t)v;
        if (ks_varint_get(&d->p, d->end, &v) != 0) {
            return -1;
        }
        d->cur.incident = ks_unzig(v);
    }
    if (ks_varint_get(&d->p, d->end, &v) != 0) {
        return -1;
    }
    d->cur.sku = (uint32_t)sku;
    d->cur.qty = ks_unzig(v);
    d->cur.seq++;
    *out = d->cur;
    return 1;
}

void ks_sku_block_add(struct ks_buf *b, const char *s, size_t n)
{
    ks_varint_put(b, n);
    ks_buf_put(b, s, n);
}

int ks_sku_block_next(const unsigned char **p, const unsigned char *end, const char **s,
                      size_t *n)
{
    if (*p == end) {
        return 0;
    }
    uint64_t len;
    if (ks_varint_get(p, end, &len) != 0 || len > (uint64_t)(end - *p)) {
        return -1;
    }
    *s = (const char *)*p;
    *n = (size_t)len;
    *p += len;
    return 1;
}
