/*
 * feedcodec.c - the compact forms of the guarded feed's blocks and of the
 * SKU dictionary (store.h). Both are written by the shell and read by the
 * commands that serve the feed; a damaged block is reported, never read
 * past its end.
 */
#include "store.h"

#include <string.h>

static void put_varint(struct ks_buf *b, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (unsigned char)v;
    ks_buf_put(b, tmp, n);
}

/* -1 when the varint runs past end or over 64 bits. */
static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) {
            return -1;
        }
        unsigned char c = *(*p)++;
        if (shift == 63 && c > 1) {
            return -1;
        }
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static uint64_t zig(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzig(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

void ks_feed_enc_add(struct ks_feed_enc *e, const struct ks_feed_change *c)
{
    KS_ASSERT(e->first == 0 || c->seq == e->last + 1);
    int meta = e->first == 0 || c->at != e->prev_at || c->why != e->prev_why ||
               c->incident != e->prev_incident;
    uint64_t delta = zig((int64_t)c->sku - (int64_t)e->prev_sku);
    put_varint(&e->buf, delta << 1 | (uint64_t)meta);
    if (meta) {
        put_varint(&e->buf, zig(c->at - (e->first == 0 ? 0 : e->prev_at)));
        put_varint(&e->buf, c->why);
        put_varint(&e->buf, zig(c->incident));
        e->prev_at = c->at;
        e->prev_why = c->why;
        e->prev_incident = c->incident;
    }
    put_varint(&e->buf, zig(c->qty));
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
    if (get_varint(&d->p, d->end, &tag) != 0) {
        return -1;
    }
    int64_t sku = (int64_t)d->cur.sku + unzig(tag >> 1);
    if (sku < 0 || sku > UINT32_MAX) {
        return -1;
    }
    if (tag & 1) {
        if (get_varint(&d->p, d->end, &v) != 0) {
            return -1;
        }
        if (__builtin_add_overflow(d->cur.at, unzig(v), &d->cur.at)) {
            return -1; /* no instant a block was written with */
        }
        if (get_varint(&d->p, d->end, &v) != 0 || v > UINT32_MAX) {
            return -1;
        }
        d->cur.why = (uint32_t)v;
        if (get_varint(&d->p, d->end, &v) != 0) {
            return -1;
        }
        d->cur.incident = unzig(v);
    }
    if (get_varint(&d->p, d->end, &v) != 0) {
        return -1;
    }
    d->cur.sku = (uint32_t)sku;
    d->cur.qty = unzig(v);
    d->cur.seq++;
    *out = d->cur;
    return 1;
}

void ks_sku_block_add(struct ks_buf *b, const char *s, size_t n)
{
    put_varint(b, n);
    ks_buf_put(b, s, n);
}

int ks_sku_block_next(const unsigned char **p, const unsigned char *end, const char **s,
                      size_t *n)
{
    if (*p == end) {
        return 0;
    }
    uint64_t len;
    if (get_varint(p, end, &len) != 0 || len > (uint64_t)(end - *p)) {
        return -1;
    }
    *s = (const char *)*p;
    *n = (size_t)len;
    *p += len;
    return 1;
}
