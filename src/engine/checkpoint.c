/*
 * checkpoint.c - the whole engine state as one binary blob, so that a second
 * ingest into the same database continues exactly where the first stopped.
 *
 * Format: "KSCK", a version, then the clock, counters and figures, the
 * strings, the channels (with all per-channel state of every detector and
 * the guard), the state of each part of the part table that has one, in the
 * table's order (parts.c: each part writes its own with the ks_wr_ and
 * ks_rd_ functions below), the ids seen, the incidents, the timers and the
 * magic again. Numbers are host-endian (a checkpoint is read back by the
 * same build on the same kind of machine; a mismatch is refused by the
 * magic/version/endianness check).
 * Configuration is not saved: thresholds come from the configuration of the
 * run that loads the state, looked up again by channel and system name.
 */
#include "engine_int.h"

#include <string.h>

#define CK_MAGIC 0x4B43534BU /* "KSCK" */
/* Sections after the end mark (see the end of ks_engine_save_parts). */
#define CK_EXT_ORDERS 0x4F524431U /* "ORD1": what orders' earlier events said */
#define CK_EXT_RECENT 0x52435431U /* "RCT1": the recent orders (recent.c) */
#define CK_EXT_EMAIL 0x4C4D4531U  /* "EML1": the e-mail each order gave, and who was told */

/* The writer: bytes gather in a buffer that is handed to the caller's put
 * function every KS_CK_PART bytes, so that saving a large state never holds
 * a second copy of it. Once put fails, the rest is skipped. */
struct ks_wr {
    struct ks_buf buf;
    ks_ck_put_fn put;
    void *ctx;
    struct ks_err *err;
    enum ks_rc rc;
    uint64_t total;
};

/* A bounds-checked reader over a sequence of parts: once bad, every read
 * yields zeros and load fails. `left` is what remains of the whole stream
 * after the current part, so that counts can be checked against the bytes
 * that could hold them before anything is allocated. */
struct ks_rd {
    const unsigned char *p;
    size_t n, at;
    uint64_t left;
    int bad;
    ks_ck_get_fn get;
    void *ctx;
    struct ks_err *err; /* the get function's failure, when it failed */
    int io;
    unsigned char *scratch; /* a value that straddles two parts */
    size_t scap;
    uint32_t version; /* of the state being read, once its header is */
};
/* 9: incidents opened by alerts from other tools (struct ks_alert_inc).
 * 11: the same as 10 and the sections after the end mark, which a state of
 * version 11 must hold (a state cut at its first end mark is damaged, not
 * one of version 10); 10 still loads, without them.
 * 12: the same bytes as 11; a step's status may be KS_SS_LEFT (an automated
 * step left to a person), which a state of version 10 or 11 never holds (so
 * there it is damaged, and a build that reads up to 11 refuses a state of 12
 * by its version instead of misreading it). 10 and 11 still load.
 * 13: the same as 12 and the section RCT1 (the recent orders), which a
 * state of version 13 must hold; 10 to 12 still load, with no recent order.
 * 14: the same as 13 and the section EML1 (the e-mail each order gave and,
 * per incident, when its first affected order with an e-mail was counted
 * and how many customers were affected when its customer notices fell due:
 * mail_at, customers_then), which a state of version 14 must hold; 10 to 13
 * still load, with no e-mail remembered and, for an incident with affected
 * orders that carried an e-mail, mail_at its detection (their customers
 * were told, as before), customers_then its customers at the load. */
#define CK_VERSION 14U
#define CK_VERSION_OLDEST 10U

static void w_flush(struct ks_wr *w)
{
    if (w->rc == KS_OK && w->buf.len) {
        w->rc = w->put(w->ctx, w->buf.p, w->buf.len, w->err);
    }
    w->buf.len = 0;
}
void ks_wr_bytes(struct ks_wr *w, const void *p, size_t n)
{
    const char *c = p;
    w->total += n;
    while (n && w->rc == KS_OK) {
        size_t room = KS_CK_PART - w->buf.len, k = n < room ? n : room;
        ks_buf_put(&w->buf, c, k);
        c += k;
        n -= k;
        if (w->buf.len == KS_CK_PART) {
            w_flush(w);
        }
    }
}
void ks_wr_u32(struct ks_wr *b, uint32_t v)
{
    ks_wr_bytes(b, &v, 4);
}
void ks_wr_u64(struct ks_wr *b, uint64_t v)
{
    ks_wr_bytes(b, &v, 8);
}
void ks_wr_i64(struct ks_wr *b, int64_t v)
{
    ks_wr_bytes(b, &v, 8);
}
void ks_wr_f64(struct ks_wr *b, double v)
{
    ks_wr_bytes(b, &v, 8);
}
void ks_wr_str(struct ks_wr *b, const char *s)
{
    if (!s) {
        ks_wr_u32(b, UINT32_MAX);
        return;
    }
    size_t n = strlen(s);
    ks_wr_u32(b, (uint32_t)n);
    ks_wr_bytes(b, s, n);
}

/* Bytes left in the whole stream. */
static uint64_t r_left(const struct ks_rd *r)
{
    return (uint64_t)(r->n - r->at) + r->left;
}
/* Moves to the next part; -1 at the end or when get failed. */
static int r_next(struct ks_rd *r)
{
    const void *p = NULL;
    size_t n = 0;
    while (n == 0) {
        if (!r->get || r->left == 0) {
            return -1;
        }
        if (r->get(r->ctx, &p, &n, r->err) != KS_OK) {
            r->io = 1;
            return -1;
        }
        if (n == 0 || n > r->left) {
            return -1; /* fewer or more bytes than announced */
        }
    }
    r->left -= n;
    r->p = p;
    r->n = n;
    r->at = 0;
    return 0;
}
int ks_rd_bytes(struct ks_rd *r, void *p, size_t n)
{
    if (n == 0) {
        return 0;
    }
    if (r->bad || n > r_left(r)) {
        r->bad = 1;
        memset(p, 0, n);
        return -1;
    }
    unsigned char *d = p;
    while (n) {
        if (r->at == r->n && r_next(r) != 0) {
            r->bad = 1;
            memset(d, 0, n);
            return -1;
        }
        size_t k = r->n - r->at < n ? r->n - r->at : n;
        memcpy(d, r->p + r->at, k);
        r->at += k;
        d += k;
        n -= k;
    }
    return 0;
}
/* n contiguous bytes of the stream: in place when they lie in one part,
 * else gathered into the reader's scratch buffer. NULL when bad. */
static const char *r_span(struct ks_rd *r, size_t n)
{
    if (r->bad || n > r_left(r)) {
        r->bad = 1;
        return NULL;
    }
    if (r->at == r->n && n && r_next(r) != 0) {
        r->bad = 1;
        return NULL;
    }
    if (n <= r->n - r->at) {
        const char *s = (const char *)r->p + r->at;
        r->at += n;
        return s;
    }
    if (n > r->scap) {
        ks_free(r->scratch);
        r->scap = n;
        r->scratch = ks_malloc(n);
    }
    return ks_rd_bytes(r, r->scratch, n) == 0 ? (const char *)r->scratch : NULL;
}
uint32_t ks_rd_u32(struct ks_rd *r)
{
    uint32_t v;
    ks_rd_bytes(r, &v, 4);
    return v;
}
uint64_t ks_rd_u64(struct ks_rd *r)
{
    uint64_t v;
    ks_rd_bytes(r, &v, 8);
    return v;
}
int64_t ks_rd_i64(struct ks_rd *r)
{
    int64_t v;
    ks_rd_bytes(r, &v, 8);
    return v;
}
double ks_rd_f64(struct ks_rd *r)
{
    double v;
    ks_rd_bytes(r, &v, 8);
    return v;
}
char *ks_rd_str(struct ks_rd *r)
{
    uint32_t n = ks_rd_u32(r);
    if (n == UINT32_MAX || r->bad) {
        return NULL;
    }
    const char *s = r_span(r, n);
    return s ? ks_strndup(s, n) : NULL;
}
int ks_rd_bad(const struct ks_rd *r)
{
    return r->bad;
}
void ks_rd_fail(struct ks_rd *r)
{
    r->bad = 1;
}
/* A count that must fit in what is left of the stream at `each` bytes per item. */
size_t ks_rd_count(struct ks_rd *r, size_t each)
{
    uint64_t n = ks_rd_u64(r);
    if (r->bad || (each && n > r_left(r) / each)) {
        r->bad = 1;
        return 0;
    }
    return (size_t)n;
}

/* ---- compact arrays: the pairs and the held values ----------------------
 * Written as pieces (u64 length, bytes) of whole records, at most about
 * PIECE bytes each, so that neither side holds an encoded array whole. A
 * pair is a byte saying which fields differ from what the pair before makes
 * likely (cur = 0, good = guarded = cur, the same stamp and flags, the next
 * SKU the one after it), then those fields as varints: 2 to 4 bytes instead
 * of 24 for a pair of a full-catalogue channel. A held value is the SKU's
 * distance from the one before and the quantity. */
#define PIECE (1u << 20)

static inline void put_byte(struct ks_buf *b, unsigned char c)
{
    ks_buf_room(b, 1);
    b->p[b->len++] = (char)c;
    b->p[b->len] = 0;
}

static void w_piece(struct ks_wr *b, struct ks_buf *t)
{
    ks_wr_u64(b, t->len);
    ks_wr_bytes(b, t->p, t->len);
    ks_buf_reset(t);
}

/* What the pair before makes likely. */
struct pair_ctx {
    uint32_t stamp, flags;
};

static void w_pairs(struct ks_wr *b, const struct ks_pair *v, uint32_t n)
{
    struct ks_buf t = {0};
    struct pair_ctx x = {0, 0};
    for (uint32_t k = 0; k < n; k++) {
        const struct ks_pair *p = &v[k];
        uint32_t stamp = p->flags ? x.stamp : 0, next = p->flags ? k + 2 : 0;
        unsigned m = (unsigned)(p->cur != 0) | (unsigned)(p->good != p->cur) << 1 |
                     (unsigned)(p->guarded != p->cur) << 2 | (unsigned)(p->stamp != stamp) << 3 |
                     (unsigned)(p->flags != x.flags) << 4 | (unsigned)(p->next != next) << 5;
        put_byte(&t, (unsigned char)m);
        if (m & 1) {
            ks_varint_put(&t, p->cur);
        }
        if (m & 2) {
            ks_varint_put(&t, ks_zig((int64_t)p->good - p->cur));
        }
        if (m & 4) {
            ks_varint_put(&t, ks_zig((int64_t)p->guarded - p->cur));
        }
        if (m & 8) {
            ks_varint_put(&t, ks_zig((int64_t)p->stamp - stamp));
        }
        if (m & 16) {
            ks_varint_put(&t, p->flags);
        }
        if (m & 32) {
            ks_varint_put(&t, ks_zig((int64_t)p->next - next));
        }
        x.flags = p->flags;
        if (p->flags) {
            x.stamp = p->stamp;
        }
        if (t.len >= PIECE) {
            w_piece(b, &t);
        }
    }
    if (t.len) {
        w_piece(b, &t);
    }
    ks_buf_fini(&t);
}

/* A field of a pair: a varint that must fit in 32 bits. */
static int get_u32(const unsigned char **p, const unsigned char *end, int64_t base, int zz,
                   uint32_t *out)
{
    uint64_t v;
    if (ks_varint_get(p, end, &v) != 0) {
        return -1;
    }
    int64_t x;
    if (zz ? __builtin_add_overflow(base, ks_unzig(v), &x) : v > UINT32_MAX) {
        return -1; /* not a blob kintsugi wrote */
    }
    if (!zz) {
        x = (int64_t)v;
    }
    if (x < 0 || x > UINT32_MAX) {
        return -1;
    }
    *out = (uint32_t)x;
    return 0;
}

static void r_pairs(struct ks_rd *r, struct ks_pair *v, uint32_t n)
{
    struct pair_ctx x = {0, 0};
    uint32_t k = 0;
    while (k < n && !r->bad) {
        uint64_t len = ks_rd_u64(r);
        const unsigned char *p = len <= 2 * PIECE ? (const unsigned char *)r_span(r, len) : NULL;
        if (!p || len == 0) {
            r->bad = 1;
            return;
        }
        const unsigned char *end = p + len;
        while (p < end && k < n) {
            struct ks_pair *q = &v[k];
            unsigned m = *p++;
            uint32_t stamp, next;
            int bad = m > 63;
            q->cur = 0;
            bad = bad || ((m & 1) && get_u32(&p, end, 0, 0, &q->cur));
            q->good = q->guarded = q->cur;
            bad = bad || ((m & 2) && get_u32(&p, end, q->cur, 1, &q->good));
            bad = bad || ((m & 4) && get_u32(&p, end, q->cur, 1, &q->guarded));
            q->flags = x.flags;
            uint64_t sd = 0, nd = 0;
            bad = bad || ((m & 8) && ks_varint_get(&p, end, &sd) != 0);
            bad = bad || ((m & 16) && get_u32(&p, end, 0, 0, &q->flags));
            bad = bad || ((m & 32) && ks_varint_get(&p, end, &nd) != 0);
            stamp = q->flags ? x.stamp : 0;
            next = q->flags ? k + 2 : 0;
            int64_t st = stamp, nx = next;
            bad = bad || ((m & 8) && __builtin_add_overflow((int64_t)stamp, ks_unzig(sd), &st));
            bad = bad || ((m & 32) && __builtin_add_overflow((int64_t)next, ks_unzig(nd), &nx));
            if (bad || st < 0 || st > UINT32_MAX || nx < 0 || nx > UINT32_MAX) {
                r->bad = 1;
                return;
            }
            q->stamp = (uint32_t)st;
            q->next = (uint32_t)nx;
            x.flags = q->flags;
            if (q->flags) {
                x.stamp = q->stamp;
            }
            k++;
        }
        if (p != end) {
            r->bad = 1; /* a piece ends with its last record */
        }
    }
}

static void w_held(struct ks_wr *b, const struct ks_held *v, size_t n)
{
    struct ks_buf t = {0};
    uint32_t prev = 0;
    for (size_t k = 0; k < n; k++) {
        ks_varint_put(&t, ks_zig((int64_t)v[k].sku - prev - 1));
        ks_varint_put(&t, v[k].qty);
        prev = v[k].sku;
        if (t.len >= PIECE) {
            w_piece(b, &t);
        }
    }
    if (t.len) {
        w_piece(b, &t);
    }
    ks_buf_fini(&t);
}

static void r_held(struct ks_rd *r, struct ks_held *v, size_t n)
{
    uint32_t prev = 0;
    size_t k = 0;
    while (k < n && !r->bad) {
        uint64_t len = ks_rd_u64(r);
        const unsigned char *p = len <= 2 * PIECE ? (const unsigned char *)r_span(r, len) : NULL;
        if (!p || len == 0) {
            r->bad = 1;
            return;
        }
        const unsigned char *end = p + len;
        while (p < end && k < n) {
            uint64_t d;
            if (ks_varint_get(&p, end, &d) != 0 || get_u32(&p, end, 0, 0, &v[k].qty) != 0) {
                r->bad = 1;
                return;
            }
            int64_t sku;
            if (__builtin_add_overflow((int64_t)prev + 1, ks_unzig(d), &sku) || sku < 0 ||
                sku > UINT32_MAX) {
                r->bad = 1;
                return;
            }
            v[k].sku = prev = (uint32_t)sku;
            k++;
        }
        if (p != end) {
            r->bad = 1;
        }
    }
}

static void w_intern(struct ks_wr *b, const struct ks_intern *t)
{
    ks_wr_u64(b, t->n);
    for (uint32_t i = 0; i < t->n; i++) {
        ks_wr_u32(b, (uint32_t)ks_intern_len(t, i));
        ks_wr_bytes(b, ks_intern_str(t, i), ks_intern_len(t, i));
    }
}
static void r_intern(struct ks_rd *r, struct ks_intern *t)
{
    size_t n = ks_rd_count(r, 4);
    for (size_t i = 0; i < n && !r->bad; i++) {
        uint32_t len = ks_rd_u32(r);
        const char *s = r_span(r, len);
        if (!s) {
            return;
        }
        if (ks_intern_add(t, s, len) != i) {
            r->bad = 1; /* duplicate strings: not a blob we wrote */
            return;
        }
    }
}

static void w_set(struct ks_wr *b, const struct ks_u32set *s)
{
    ks_wr_u64(b, s->n);
    ks_wr_bytes(b, s->v, s->n * 4);
}
static void r_set(struct ks_rd *r, struct ks_u32set *s)
{
    size_t n = ks_rd_count(r, 4);
    for (size_t i = 0; i < n && !r->bad; i++) {
        ks_u32set_add(s, ks_rd_u32(r));
    }
}

void ks_wr_win(struct ks_wr *b, const struct ks_tswin *w)
{
    ks_wr_u64(b, w->n - w->head);
    for (size_t i = w->head; i < w->n; i++) {
        ks_wr_i64(b, w->ts[i]);
        ks_wr_f64(b, w->val[i]);
        ks_wr_u32(b, w->ref[i]);
        ks_wr_u32(b, w->ref2[i]);
    }
}
void ks_rd_win(struct ks_rd *r, struct ks_tswin *w)
{
    size_t n = ks_rd_count(r, 24);
    for (size_t i = 0; i < n && !r->bad; i++) {
        ks_time t = ks_rd_i64(r);
        double v = ks_rd_f64(r);
        uint32_t a = ks_rd_u32(r);
        ks_tswin_push(w, t, v, a, ks_rd_u32(r));
    }
}

/* A map in the order of its slots, which ks_rd_map puts each key back into. */
void ks_wr_map(struct ks_wr *b, const struct ks_map64 *m)
{
    ks_wr_u64(b, m->n);
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i]) {
            ks_wr_u64(b, m->keys[i]);
            ks_wr_u64(b, m->vals[i]);
        }
    }
}
void ks_rd_map(struct ks_rd *r, struct ks_map64 *m)
{
    size_t n = ks_rd_count(r, 16);
    ks_map64_load_begin(m, n);
    for (size_t i = 0; i < n && !r->bad; i++) {
        uint64_t k = ks_rd_u64(r);
        ks_map64_load_add(m, k, ks_rd_u64(r));
    }
    if (r->bad) {
        ks_map64_fini(m);
        return;
    }
    /* Each key in the slot it had. Put back one by one in the saved order,
     * into a map that grows as they come or where a run wraps from the last
     * slot to the first, they came back in another order, and the state
     * saved again differed. A key twice is not a map we wrote. */
    r->bad |= ks_map64_load_end(m) != 0;
}

/* What an incident opened by an alert keeps (alert.c); a 0 for the others.
 * The dedup_key index (e->alert_keys) is not written: ks_alert_reindex
 * rebuilds it from the incidents. */
static void w_alert(struct ks_wr *b, const struct ks_alert_inc *a)
{
    ks_wr_u32(b, a ? 1 : 0);
    if (!a) {
        return;
    }
    ks_wr_u32(b, a->source | (uint32_t)a->pd_severity << 8);
    ks_wr_u32(b, a->dedup_key);
    ks_wr_str(b, a->routing_key_hash);
    ks_wr_str(b, a->group_key);
    ks_wr_str(b, a->details);
    w_set(b, &a->channels);
    w_set(b, &a->locations);
    ks_wr_u64(b, a->group.n);
    for (size_t i = 0; i < a->group.n; i++) {
        ks_wr_str(b, a->group.members[i].fingerprint);
        ks_wr_u32(b, a->group.members[i].status);
        ks_wr_str(b, a->names[i]);
    }
}
static struct ks_alert_inc *r_alert(struct ks_rd *r)
{
    uint32_t present = ks_rd_u32(r);
    if (present != 1) {
        r->bad |= present != 0;
        return NULL;
    }
    struct ks_alert_inc *a = ks_calloc(1, sizeof(*a));
    uint32_t x = ks_rd_u32(r);
    a->source = x & 0xff;
    a->pd_severity = (x >> 8) & 0xff;
    r->bad |= a->source < KS_ALERT_SRC_PAGERDUTY || a->source > KS_ALERT_SRC_ALERTMANAGER ||
              a->pd_severity > KS_P3 || (x >> 16) != 0;
    a->dedup_key = ks_rd_u32(r);
    a->routing_key_hash = ks_rd_str(r);
    a->group_key = ks_rd_str(r);
    a->details = ks_rd_str(r);
    r_set(r, &a->channels);
    r_set(r, &a->locations);
    size_t n = ks_rd_count(r, 12);
    a->names = ks_calloc(n ? n : 1, sizeof(*a->names));
    for (size_t i = 0; i < n && !r->bad; i++) {
        char *fp = ks_rd_str(r);
        uint32_t st = ks_rd_u32(r);
        char *name = ks_rd_str(r);
        if (!fp || !name || strlen(fp) == 0 || strlen(fp) > KS_AM_FINGERPRINT_MAX ||
            (st != KS_AM_FIRING && st != KS_AM_RESOLVED)) {
            r->bad = 1;
            ks_free(fp);
            ks_free(name);
            break;
        }
        KS_GROW(a->group.members, a->group.cap, a->group.n + 1);
        struct ks_am_member *m = &a->group.members[a->group.n];
        memset(m, 0, sizeof(*m));
        strcpy(m->fingerprint, fp);
        m->status = (enum ks_am_status)st;
        a->names[a->group.n++] = name;
        ks_free(fp);
    }
    return a;
}

static void w_incident(struct ks_wr *b, const struct ks_incident *inc)
{
    ks_wr_i64(b, inc->id);
    ks_wr_u32(b, inc->type | (uint32_t)inc->severity << 8 | (uint32_t)inc->status << 16);
    ks_wr_str(b, inc->title);
    ks_wr_str(b, inc->fingerprint);
    ks_wr_str(b, inc->family);
    w_set(b, &inc->channels);
    w_set(b, &inc->locs);
    w_set(b, &inc->systems);
    w_set(b, &inc->pos);
    w_set(b, &inc->sources);
    w_set(b, &inc->sku_ids);
    ks_wr_u64(b, inc->skus);
    ks_wr_u32(b, inc->key_a);
    ks_wr_u32(b, inc->key_b);
    ks_wr_i64(b, inc->started_at);
    ks_wr_i64(b, inc->detected_at);
    ks_wr_i64(b, inc->acknowledged_at);
    ks_wr_i64(b, inc->contained_at);
    ks_wr_i64(b, inc->resolved_at);
    ks_wr_str(b, inc->owner);
    ks_wr_i64(b, inc->orders);
    ks_wr_i64(b, inc->units);
    ks_wr_f64(b, inc->revenue);
    w_set(b, &inc->customers);
    w_set(b, &inc->order_ids);
    ks_wr_u64(b, inc->nmail);
    for (size_t i = 0; i < inc->nmail; i++) {
        ks_wr_u32(b, inc->mail[i]);
    }
    ks_wr_i64(b, inc->p1_at);
    ks_wr_i64(b, inc->customers_at);
    ks_wr_i64(b, inc->revenue_at);
    ks_wr_i64(b, inc->assessed_at);
    ks_wr_u64(b, inc->nsignals);
    for (size_t i = 0; i < inc->nsignals; i++) {
        const struct ks_signal *s = &inc->signals[i];
        ks_wr_u32(b, s->detector);
        ks_wr_i64(b, s->at);
        ks_wr_f64(b, s->value);
        ks_wr_f64(b, s->threshold);
        ks_wr_str(b, s->text);
    }
    ks_wr_u64(b, inc->ntl);
    for (size_t i = 0; i < inc->ntl; i++) {
        const struct ks_tl *t = &inc->tl[i];
        ks_wr_i64(b, t->at);
        ks_wr_u32(b, t->kind | (uint32_t)t->trig << 7 | (uint32_t)t->severity << 8 |
                         (uint32_t)t->from << 16 |
                     (uint32_t)(uint8_t)t->status << 24);
        ks_wr_str(b, t->actor);
        ks_wr_str(b, t->text);
        ks_wr_str(b, t->why);
    }
    ks_wr_i64(b, inc->repeat_of);
    ks_wr_i64(b, inc->esc_due);
    ks_wr_i64(b, inc->ack_due);
    ks_wr_i64(b, inc->resolve_due);
    ks_wr_i64(b, inc->assess_due);
    ks_wr_u32(b, inc->esc_to | (uint32_t)inc->ack_missed << 8 | (uint32_t)inc->resolve_missed << 16 |
                 (uint32_t)inc->assessed << 24);
    ks_wr_u64(b, inc->nsteps);
    for (size_t i = 0; i < inc->nsteps; i++) {
        ks_wr_u32(b, inc->steps[i].status);
        ks_wr_i64(b, inc->steps[i].at);
        ks_wr_str(b, inc->steps[i].by);
        ks_wr_str(b, inc->steps[i].note);
    }
    ks_wr_i64(b, inc->propose_due);
    ks_wr_i64(b, inc->step4_due);
    ks_wr_i64(b, inc->step24_due);
    ks_wr_u32(b, inc->rolled_back | (uint32_t)inc->accepted << 8);
    ks_wr_u64(b, inc->noversold);
    ks_wr_bytes(b, inc->oversold, inc->noversold * sizeof(*inc->oversold));
    ks_wr_i64(b, inc->review_due);
    ks_wr_u32(b, inc->review_written | (uint32_t)inc->review_late << 8 |
                 (uint32_t)inc->not_persisted << 16);
    ks_wr_i64(b, inc->reopened_by);
    ks_wr_u64(b, inc->nitems);
    for (size_t i = 0; i < inc->nitems; i++) {
        ks_wr_i64(b, inc->items[i].id);
        ks_wr_i64(b, inc->items[i].due);
        ks_wr_u32(b, inc->items[i].closed | (uint32_t)inc->items[i].noted << 8);
    }
    w_set(b, &inc->returned);
    ks_wr_i64(b, inc->fb_count);
    ks_wr_i64(b, inc->fb_good);
    w_alert(b, inc->alert);
}

static struct ks_incident *r_incident(struct ks_rd *r)
{
    struct ks_incident *inc = ks_calloc(1, sizeof(*inc));
    inc->id = ks_rd_i64(r);
    uint32_t x = ks_rd_u32(r);
    inc->type = x & 0xff;
    inc->severity = (x >> 8) & 0xff;
    inc->status = (x >> 16) & 0xff;
    if (inc->type >= KS_IT__COUNT || inc->severity < 1 || inc->severity > 3 || inc->status > 3) {
        r->bad = 1;
    }
    inc->title = ks_rd_str(r);
    inc->fingerprint = ks_rd_str(r);
    inc->family = ks_rd_str(r);
    r_set(r, &inc->channels);
    r_set(r, &inc->locs);
    r_set(r, &inc->systems);
    r_set(r, &inc->pos);
    r_set(r, &inc->sources);
    r_set(r, &inc->sku_ids);
    inc->skus = ks_rd_u64(r);
    inc->key_a = ks_rd_u32(r);
    inc->key_b = ks_rd_u32(r);
    inc->started_at = ks_rd_i64(r);
    inc->detected_at = ks_rd_i64(r);
    inc->acknowledged_at = ks_rd_i64(r);
    inc->contained_at = ks_rd_i64(r);
    inc->resolved_at = ks_rd_i64(r);
    inc->owner = ks_rd_str(r);
    inc->orders = ks_rd_i64(r);
    inc->units = ks_rd_i64(r);
    inc->revenue = ks_rd_f64(r);
    r_set(r, &inc->customers);
    r_set(r, &inc->order_ids);
    size_t nm = ks_rd_count(r, 4);
    if (nm % 2) {
        ks_rd_fail(r);
        nm = 0;
    }
    for (size_t i = 0; i < nm && !r->bad; i++) {
        KS_GROW(inc->mail, inc->capmail, inc->nmail + 1);
        inc->mail[inc->nmail++] = ks_rd_u32(r);
    }
    inc->p1_at = ks_rd_i64(r);
    inc->customers_at = ks_rd_i64(r);
    inc->revenue_at = ks_rd_i64(r);
    inc->assessed_at = ks_rd_i64(r);
    size_t ns = ks_rd_count(r, 36);
    for (size_t i = 0; i < ns && !r->bad; i++) {
        KS_GROW(inc->signals, inc->capsignals, inc->nsignals + 1);
        struct ks_signal *s = &inc->signals[inc->nsignals++];
        s->detector = (uint8_t)ks_rd_u32(r);
        s->at = ks_rd_i64(r);
        s->value = ks_rd_f64(r);
        s->threshold = ks_rd_f64(r);
        s->text = ks_rd_str(r);
        if (s->detector >= KS_DET__COUNT || !s->text) {
            r->bad = 1;
        }
    }
    size_t nt = ks_rd_count(r, 24);
    for (size_t i = 0; i < nt && !r->bad; i++) {
        KS_GROW(inc->tl, inc->captl, inc->ntl + 1);
        struct ks_tl *t = &inc->tl[inc->ntl++];
        t->at = ks_rd_i64(r);
        uint32_t y = ks_rd_u32(r);
        t->kind = y & 0x7f;
        t->trig = (y >> 7) & 1;
        t->severity = (y >> 8) & 0xff;
        t->from = (y >> 16) & 0xff;
        t->status = (int8_t)(y >> 24);
        t->actor = ks_rd_str(r);
        t->text = ks_rd_str(r);
        t->why = ks_rd_str(r);
        if (t->kind > KS_TL_SLA || t->status > 3 || !t->actor || !t->text ||
            (t->kind == KS_TL_STATUS && t->status < 0) ||
            ((t->kind == KS_TL_SIGNAL || t->kind == KS_TL_ESCALATION) &&
             (t->severity < 1 || t->severity > 3)) ||
            (t->kind == KS_TL_ESCALATION && (t->from < 1 || t->from > 3 || !t->why))) {
            r->bad = 1;
        }
    }
    inc->repeat_of = ks_rd_i64(r);
    inc->esc_due = ks_rd_i64(r);
    inc->ack_due = ks_rd_i64(r);
    inc->resolve_due = ks_rd_i64(r);
    inc->assess_due = ks_rd_i64(r);
    uint32_t z = ks_rd_u32(r);
    inc->esc_to = z & 0xff;
    inc->ack_missed = (z >> 8) & 0xff;
    inc->resolve_missed = (z >> 16) & 0xff;
    inc->assessed = (z >> 24) & 0xff;
    size_t want;
    ks_pb_steps((enum ks_itype)(inc->type < KS_IT__COUNT ? inc->type : 0), &want);
    size_t nsteps = ks_rd_count(r, 24);
    if (nsteps != want) {
        r->bad = 1;
    }
    inc->steps = ks_calloc(nsteps ? nsteps : 1, sizeof(*inc->steps));
    inc->nsteps = r->bad ? 0 : nsteps;
    for (size_t i = 0; i < inc->nsteps && !r->bad; i++) {
        inc->steps[i].status = (uint8_t)ks_rd_u32(r);
        inc->steps[i].at = ks_rd_i64(r);
        inc->steps[i].by = ks_rd_str(r);
        inc->steps[i].note = ks_rd_str(r);
        if (inc->steps[i].status > (r->version >= 12 ? KS_SS_LEFT : KS_SS_NA)) {
            r->bad = 1;
        }
    }
    inc->propose_due = ks_rd_i64(r);
    inc->step4_due = ks_rd_i64(r);
    inc->step24_due = ks_rd_i64(r);
    uint32_t f = ks_rd_u32(r);
    inc->rolled_back = f & 1;
    inc->accepted = (f >> 8) & 1;
    size_t nov = ks_rd_count(r, sizeof(*inc->oversold));
    inc->oversold = ks_malloc((nov ? nov : 1) * sizeof(*inc->oversold));
    ks_rd_bytes(r, inc->oversold, nov * sizeof(*inc->oversold));
    inc->noversold = inc->capoversold = r->bad ? 0 : nov;
    inc->review_due = ks_rd_i64(r);
    uint32_t g = ks_rd_u32(r);
    inc->review_written = g & 1;
    inc->review_late = (g >> 8) & 1;
    inc->not_persisted = (g >> 16) & 1;
    inc->reopened_by = ks_rd_i64(r);
    size_t nit = ks_rd_count(r, 20);
    inc->items = ks_calloc(nit ? nit : 1, sizeof(*inc->items));
    inc->nitems = r->bad ? 0 : nit;
    for (size_t i = 0; i < inc->nitems && !r->bad; i++) {
        inc->items[i].id = ks_rd_i64(r);
        inc->items[i].due = ks_rd_i64(r);
        uint32_t h = ks_rd_u32(r);
        inc->items[i].closed = h & 1;
        inc->items[i].noted = (h >> 8) & 1;
    }
    r_set(r, &inc->returned);
    inc->fb_count = ks_rd_i64(r);
    inc->fb_good = ks_rd_i64(r);
    inc->alert = r_alert(r);
    return inc;
}

static void w_seen(void *arg, uint64_t h, ks_time t)
{
    struct ks_wr *b = arg;
    ks_wr_u64(b, h);
    ks_wr_i64(b, t);
}

enum ks_rc ks_engine_save_parts(const struct ks_engine *e, int skus_apart, ks_ck_put_fn put,
                                void *ctx, struct ks_err *err)
{
    struct ks_wr w = {{0}, put, ctx, err, KS_OK, 0}, *b = &w;
    ks_wr_u32(b, CK_MAGIC);
    ks_wr_u32(b, CK_VERSION);
    ks_wr_i64(b, e->clock);
    ks_wr_u32(b, e->upd_seq);
    ks_wr_u64(b, e->timer_seq);
    ks_wr_u64(b, e->hook_seq);
    ks_wr_bytes(b, &e->st, sizeof(e->st));
    ks_wr_u32(b, (uint32_t)!!skus_apart);
    if (skus_apart) {
        ks_wr_u64(b, e->skus.n);
    } else {
        w_intern(b, &e->skus);
    }
    w_intern(b, &e->strs);

    ks_wr_u64(b, e->nch);
    for (size_t i = 0; i < e->nch; i++) {
        const struct ks_channel *c = &e->ch[i];
        /* Pairs past the last SKU id are zero: they are not written. */
        uint32_t np = c->cap < e->skus.n ? c->cap : e->skus.n;
        ks_wr_u32(b, c->name);
        ks_wr_u32(b, np);
        w_pairs(b, c->pairs, np);
        ks_wr_u32(b, c->n_tracked);
        ks_wr_u32(b, c->n_known);
        ks_wr_u32(b, c->n_active);
        ks_wr_u32(b, (uint32_t)c->upd_open);
        ks_wr_u32(b, c->upd_batch);
        ks_wr_u32(b, c->upd_source);
        ks_wr_u32(b, c->upd_seq);
        ks_wr_i64(b, c->upd_first);
        ks_wr_u64(b, c->upd_n);
        ks_wr_bytes(b, c->upd_skus, c->upd_n * 4);
        ks_wr_u32(b, (uint32_t)c->sync_seen | (uint32_t)c->ever_ok << 1 | (uint32_t)c->stale << 2 |
                     (uint32_t)c->vol_firing << 3 | (uint32_t)c->vol_dormant << 4);
        ks_wr_i64(b, c->last_ok);
        ks_wr_i64(b, c->fresh_due);
        ks_wr_i64(b, c->stale_incident);
        ks_wr_bytes(b, c->err_counts, sizeof(c->err_counts));
        ks_wr_i64(b, c->last_inventory);
        ks_wr_i64(b, c->first_inv);
        uint64_t ring = c->vol_count ? (uint64_t)(c->cfg->volume_baseline / KS_MIN + 64) : 0;
        ks_wr_u64(b, ring);
        ks_wr_bytes(b, c->vol_count, ring * 4);
        ks_wr_bytes(b, c->vol_minute, ring * 8);
        ks_wr_i64(b, c->vol_last_eval);
        ks_wr_u64(b, c->vol_hour);
        ks_wr_u64(b, c->vol_week);
        ks_wr_i64(b, c->vol_incident);
        ks_wr_u32(b, (uint32_t)c->paused);
        ks_wr_i64(b, c->paused_since);
        ks_wr_i64(b, c->pause_incident);
        ks_wr_str(b, c->pause_why);
        ks_wr_u64(b, c->feed_seq);
        ks_wr_u64(b, c->nruns);
        for (size_t k = 0; k < c->nruns; k++) {
            ks_wr_i64(b, c->runs[k].incident);
            ks_wr_u64(b, c->runs[k].start);
        }
        ks_wr_u64(b, c->nheld);
        w_held(b, c->held, c->nheld);
    }
    /* The parts' own state, in the order of the table. */
    for (const struct ks_part *const *p = ks_eng_parts; *p; p++) {
        if ((*p)->save) {
            (*p)->save(e, b);
        }
    }
    /* The ids taken (seen.c), as (hash, instant) pairs: a map's format. */
    ks_wr_u64(b, e->seen.n);
    ks_seen_each(&e->seen, w_seen, b);
    ks_wr_u64(b, e->ninc);
    for (size_t i = 0; i < e->ninc; i++) {
        w_incident(b, e->inc[i]);
    }
    ks_wr_u64(b, e->nheap);
    ks_wr_bytes(b, e->heap, e->nheap * sizeof(struct ks_timer));
    ks_wr_u32(b, CK_MAGIC);
    /* Sections added since the version: after the end mark, each a tag, its
     * data and the mark again. A state saved before them ends at the first
     * mark and loads as it did (an older build refuses one that has them). */
    ks_wr_u32(b, CK_EXT_ORDERS);
    ks_wr_map(b, &e->order_who);
    ks_wr_map(b, &e->order_value);
    ks_wr_u32(b, CK_MAGIC);
    ks_wr_u32(b, CK_EXT_RECENT);
    ks_recent_save(e, b);
    ks_wr_u32(b, CK_MAGIC);
    ks_wr_u32(b, CK_EXT_EMAIL);
    ks_wr_map(b, &e->order_email);
    ks_wr_u64(b, e->ninc);
    for (size_t i = 0; i < e->ninc; i++) {
        ks_wr_i64(b, e->inc[i]->mail_at);
        ks_wr_i64(b, e->inc[i]->customers_then);
    }
    ks_wr_u32(b, CK_MAGIC);
    w_flush(b);
    ks_buf_fini(&w.buf);
    return w.rc;
}

static enum ks_rc put_buf(void *ctx, const void *p, size_t n, struct ks_err *err)
{
    (void)err;
    ks_buf_put(ctx, p, n);
    return KS_OK;
}

void ks_engine_save(const struct ks_engine *e, struct ks_buf *out)
{
    ks_engine_save_parts(e, 0, put_buf, out, NULL);
}

/* One buffer handed over as the only part. */
struct one_part {
    const void *p;
    size_t n;
    int given;
};
static enum ks_rc get_one(void *ctx, const void **p, size_t *n, struct ks_err *err)
{
    struct one_part *o = ctx;
    (void)err;
    *p = o->given ? NULL : o->p;
    *n = o->given ? 0 : o->n;
    o->given = 1;
    return KS_OK;
}

enum ks_rc ks_engine_load(struct ks_engine *e, const void *p, size_t n, struct ks_err *err)
{
    struct one_part o = {p, n, 0};
    return ks_engine_load_parts(e, n, get_one, &o, err);
}

void ks_engine_sku_reserve(struct ks_engine *e, uint32_t n, size_t bytes)
{
    ks_intern_reserve(&e->skus, e->skus.n + n, e->skus.pool_len + bytes);
}

uint32_t ks_engine_sku_count(const struct ks_engine *e)
{
    return e->skus.n;
}

enum ks_rc ks_engine_sku_load(struct ks_engine *e, const char *s, size_t n, struct ks_err *err)
{
    uint32_t want = e->skus.n;
    if (e->nch || e->ninc || e->clock != KS_TIME_NONE) {
        return ks_err_set(err, KS_ESTATE, "checkpoint: the engine is not fresh");
    }
    if (n > UINT32_MAX / 2 || ks_intern_add(&e->skus, s, n) != want) {
        return ks_err_set(err, KS_EIO, "checkpoint: SKU %u of the dictionary is a duplicate",
                          want);
    }
    return KS_OK;
}

enum ks_rc ks_engine_sku_load_many(struct ks_engine *e, const char *const *s, const size_t *n,
                                   size_t count, struct ks_err *err)
{
    uint32_t first = e->skus.n;
    if (e->nch || e->ninc || e->clock != KS_TIME_NONE) {
        return ks_err_set(err, KS_ESTATE, "checkpoint: the engine is not fresh");
    }
    for (size_t i = 0; i < count; i++) {
        if (n[i] > UINT32_MAX / 2) {
            return ks_err_set(err, KS_EIO, "checkpoint: SKU %zu of the dictionary is too long",
                              first + i);
        }
    }
    size_t added = ks_intern_add_new(&e->skus, s, n, count);
    if (added != count) {
        return ks_err_set(err, KS_EIO, "checkpoint: SKU %zu of the dictionary is a duplicate",
                          first + added);
    }
    return KS_OK;
}

static enum ks_rc load(struct ks_engine *e, struct ks_rd *r, struct ks_err *err);

/* The section EML1, after the incidents were read. */
static void r_email(struct ks_engine *e, struct ks_rd *r)
{
    ks_rd_map(r, &e->order_email);
    /* the e-mails go into the incidents' mail lists: strs ids */
    for (size_t i = 0; i < e->order_email.cap; i++) {
        r->bad |= e->order_email.keys[i] && e->order_email.vals[i] >= e->strs.n;
    }
    if (ks_rd_count(r, 16) != e->ninc) {
        r->bad = 1;
        return;
    }
    for (size_t i = 0; i < e->ninc && !r->bad; i++) {
        e->inc[i]->mail_at = ks_rd_i64(r);
        e->inc[i]->customers_then = ks_rd_i64(r);
    }
}

enum ks_rc ks_engine_load_parts(struct ks_engine *e, uint64_t total, ks_ck_get_fn get, void *ctx,
                                struct ks_err *err)
{
    struct ks_rd rd = {NULL, 0, 0, total, 0, get, ctx, err, 0, NULL, 0, 0};
    enum ks_rc rc = load(e, &rd, err);
    ks_free(rd.scratch);
    return rc;
}

static enum ks_rc load(struct ks_engine *e, struct ks_rd *r, struct ks_err *err)
{
    if (e->nch || e->ninc || e->clock != KS_TIME_NONE) {
        return ks_err_set(err, KS_ESTATE, "checkpoint: the engine is not fresh");
    }
    if (ks_rd_u32(r) != CK_MAGIC) {
        return ks_err_set(err, KS_EIO, "checkpoint: not a kintsugi engine state");
    }
    uint32_t version = ks_rd_u32(r);
    if (version < CK_VERSION_OLDEST || version > CK_VERSION) {
        return ks_err_set(err, KS_EIO,
                          "checkpoint: engine state of version %u, this build reads versions %u "
                          "to %u (ingest the input again into a new database)",
                          version, CK_VERSION_OLDEST, CK_VERSION);
    }
    r->version = version;
    e->clock = ks_rd_i64(r);
    e->upd_seq = ks_rd_u32(r);
    e->timer_seq = ks_rd_u64(r);
    e->hook_seq = ks_rd_u64(r);
    ks_rd_bytes(r, &e->st, sizeof(e->st));
    uint32_t skus_apart = ks_rd_u32(r);
    if (skus_apart == 1) {
        /* The shell keeps the SKU strings apart and loaded them first. */
        if (ks_rd_u64(r) != e->skus.n) {
            r->bad = 1;
        }
    } else if (skus_apart == 0 && e->skus.n == 0) {
        r_intern(r, &e->skus);
    } else {
        r->bad = 1;
    }
    r_intern(r, &e->strs);

    size_t nch = ks_rd_count(r, 64);
    for (size_t i = 0; i < nch && !r->bad; i++) {
        uint32_t name = ks_rd_u32(r);
        if (name >= e->strs.n) {
            r->bad = 1;
            break;
        }
        struct ks_channel *c = ks_eng_channel(e, name);
        if ((size_t)(c - e->ch) != i) {
            r->bad = 1;
            break;
        }
        uint32_t cap = ks_rd_u32(r);
        if (cap > r_left(r)) { /* a pair takes one byte at least */
            r->bad = 1;
            break;
        }
        if (cap > e->skus.n) {
            r->bad = 1;
            break;
        }
        c->cap = cap;
        c->pairs = cap ? ks_grow_zeroed(NULL, 0, (size_t)cap * sizeof(struct ks_pair)) : NULL;
        r_pairs(r, c->pairs, cap);
        for (uint32_t k = 0; k < cap; k++) {
            r->bad |= c->pairs[k].next > e->skus.n; /* a hint, but read as an id */
        }
        ks_guard_recount(c); /* n_watch, n_hold: counted from the pairs' flags */
        c->n_tracked = ks_rd_u32(r);
        c->n_known = ks_rd_u32(r);
        c->n_active = ks_rd_u32(r);
        c->upd_open = (int)ks_rd_u32(r);
        c->upd_batch = ks_rd_u32(r);
        c->upd_source = ks_rd_u32(r);
        c->upd_seq = ks_rd_u32(r);
        c->upd_first = ks_rd_i64(r);
        c->upd_n = ks_rd_count(r, 4);
        c->upd_cap = c->upd_n;
        c->upd_skus = ks_malloc((c->upd_n ? c->upd_n : 1) * 4);
        ks_rd_bytes(r, c->upd_skus, c->upd_n * 4);
        for (size_t k = 0; k < c->upd_n; k++) {
            if (c->upd_skus[k] >= c->cap) {
                r->bad = 1;
            }
        }
        uint32_t fl = ks_rd_u32(r);
        c->sync_seen = fl & 1;
        c->ever_ok = (fl >> 1) & 1;
        c->stale = (fl >> 2) & 1;
        c->vol_firing = (fl >> 3) & 1;
        c->vol_dormant = (fl >> 4) & 1;
        c->last_ok = ks_rd_i64(r);
        c->fresh_due = ks_rd_i64(r);
        c->stale_incident = ks_rd_i64(r);
        ks_rd_bytes(r, c->err_counts, sizeof(c->err_counts));
        c->last_inventory = ks_rd_i64(r);
        c->first_inv = ks_rd_i64(r);
        uint64_t ring = ks_rd_u64(r);
        uint64_t want = (uint64_t)(c->cfg->volume_baseline / KS_MIN + 64);
        if (ring > r_left(r) / 12) {
            r->bad = 1;
            break;
        }
        int restart_volume = ring && ring != want;
        if (restart_volume) {
            /* The configured baseline differs from the one the counts were kept
             * for: they cannot be reused, so volume_drop starts counting again
             * (it needs min_history before it judges). Not a damaged state. */
            ks_log(KS_LOG_WARN, "engine",
                   "volume_drop baseline changed for channel %s: its volume counts restart",
                   ks_intern_str(&e->strs, c->name));
            for (uint64_t k = 0; k < ring * 12 && !r->bad; k += 4) {
                ks_rd_u32(r);
            }
            ring = 0;
        }
        if (ring) {
            c->vol_count = ks_malloc(ring * 4);
            c->vol_minute = ks_malloc(ring * 8);
            ks_rd_bytes(r, c->vol_count, ring * 4);
            ks_rd_bytes(r, c->vol_minute, ring * 8);
        }
        c->vol_last_eval = ks_rd_i64(r);
        c->vol_hour = ks_rd_u64(r);
        c->vol_week = ks_rd_u64(r);
        c->vol_incident = ks_rd_i64(r);
        if (restart_volume) {
            c->first_inv = KS_TIME_NONE;
            c->vol_hour = c->vol_week = 0;
        }
        c->paused = (int)ks_rd_u32(r);
        c->paused_since = ks_rd_i64(r);
        c->pause_incident = ks_rd_i64(r);
        c->pause_why = ks_rd_str(r);
        c->feed_seq = ks_rd_u64(r);
        size_t nruns = ks_rd_count(r, 16);
        KS_GROW(c->runs, c->capruns, nruns + 1);
        for (size_t k = 0; k < nruns && !r->bad; k++) {
            c->runs[k].incident = ks_rd_i64(r);
            c->runs[k].start = ks_rd_u64(r);
        }
        size_t nheld = ks_rd_count(r, 2);
        KS_GROW(c->held, c->capheld, nheld + 1);
        r_held(r, c->held, nheld);
        c->nruns = r->bad ? 0 : nruns;
        c->nheld = r->bad ? 0 : nheld;
        /* Runs start at 0, each after the one before and before the end. */
        for (size_t k = 0; k < c->nruns; k++) {
            uint64_t start = c->runs[k].start;
            r->bad |= (k ? start <= c->runs[k - 1].start : start != 0) || start >= c->nheld ||
                      c->runs[k].incident < 0;
        }
        r->bad |= c->nheld > 0 && c->nruns == 0;
        for (size_t k = 0; k < c->nheld; k++) {
            r->bad |= c->held[k].sku >= c->cap;
        }
    }
    for (const struct ks_part *const *p = ks_eng_parts; *p; p++) {
        if ((*p)->load) {
            (*p)->load(e, r);
        }
    }
    size_t nseen = ks_rd_count(r, 16);
    ks_seen_load_begin(&e->seen, nseen);
    for (size_t i = 0; i < nseen && !r->bad; i++) {
        uint64_t h = ks_rd_u64(r);
        ks_seen_load_add(&e->seen, h, ks_rd_i64(r));
    }
    if (r->bad) {
        ks_seen_fini(&e->seen);
    } else {
        r->bad |= ks_seen_load_end(&e->seen) != 0; /* each id in the slot it had */
    }
    size_t ninc = ks_rd_count(r, 64);
    for (size_t i = 0; i < ninc && !r->bad; i++) {
        struct ks_incident *inc = r_incident(r);
        KS_GROW(e->inc, e->capinc, e->ninc + 1);
        e->inc[e->ninc++] = inc;
        if (inc->id != (int64_t)e->ninc) {
            r->bad = 1;
        }
        for (size_t k = 0; k < inc->channels.n; k++) {
            r->bad |= inc->channels.v[k] >= e->nch;
        }
        for (size_t k = 0; k < inc->locs.n; k++) {
            r->bad |= inc->locs.v[k] >= e->nlocs;
        }
        /* The string ids the incident's JSON renders. */
        const struct ks_u32set *strs_sets[] = {&inc->systems, &inc->pos, &inc->sources};
        for (size_t m = 0; m < 3; m++) {
            for (size_t k = 0; k < strs_sets[m]->n; k++) {
                r->bad |= strs_sets[m]->v[k] >= e->strs.n;
            }
        }
        for (size_t k = 0; k < inc->sku_ids.n; k++) {
            r->bad |= inc->sku_ids.v[k] >= e->skus.n;
        }
        r->bad |= inc->type == KS_IT_FULFILLMENT_ERROR && inc->key_a != KS_NONE &&
                  inc->key_a >= e->strs.n;
        for (size_t k = 0; k < inc->nmail; k++) {
            r->bad |= inc->mail[k] >= e->strs.n; /* (order, email) pairs of strs ids */
        }
    }
    if (!r->bad && ks_alert_reindex(e) != 0) {
        r->bad = 1;
    }
    size_t nheap = ks_rd_count(r, sizeof(struct ks_timer));
    KS_GROW(e->heap, e->capheap, nheap + 1);
    ks_rd_bytes(r, e->heap, nheap * sizeof(struct ks_timer));
    for (size_t i = 0; i < nheap; i++) {
        r->bad |= e->heap[i].kind >= KS_TM__COUNT;
    }
    e->nheap = r->bad ? 0 : nheap;
    r->bad |= ks_rd_u32(r) != CK_MAGIC;
    int orders = 0, recent = 0, email = 0;
    while (!r->bad && r_left(r) != 0) {
        uint32_t tag = ks_rd_u32(r);
        if (tag == CK_EXT_ORDERS && !orders) {
            ks_rd_map(r, &e->order_who);
            ks_rd_map(r, &e->order_value);
            orders = 1;
        } else if (tag == CK_EXT_RECENT && !recent) {
            ks_recent_load(e, r);
            recent = 1;
        } else if (tag == CK_EXT_EMAIL && !email) {
            r_email(e, r);
            email = 1;
        } else {
            r->bad = 1; /* a section of a later build, or one twice */
        }
        r->bad |= ks_rd_u32(r) != CK_MAGIC;
    }
    r->bad |= version >= 11 && !orders; /* cut at its first end mark */
    r->bad |= version >= 13 && !recent; /* cut before its recent orders */
    r->bad |= version >= 14 && !email;  /* cut before its e-mails */
    for (size_t i = 0; i < e->ninc && !email; i++) {
        /* a state saved before EML1: its customers were told as before */
        struct ks_incident *inc = e->inc[i];
        inc->mail_at = inc->nmail ? inc->detected_at : 0;
        inc->customers_then = inc->customers_at ? (int64_t)inc->customers.n : 0;
    }
    if (r->bad || r_left(r) != 0 || r_next(r) == 0) {
        if (r->io) {
            return err->rc; /* the store said why */
        }
        return ks_err_set(err, KS_EIO,
                          "checkpoint: the saved state is damaged (%llu bytes before its end)",
                          (unsigned long long)r_left(r));
    }
    return KS_OK;
}
