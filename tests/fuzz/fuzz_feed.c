/*
 * fuzz_feed.c - libFuzzer target for the compact forms the store keeps: a
 * block of the guarded feed and a block of the SKU dictionary
 * (src/store/feedcodec.c), read back by `kintsugi feed` and GET /v1/feed.
 *
 * Each input is read both ways. As a feed block: the decoder ends (0) or
 * reports damage (-1) without reading past the block, seqs follow on from
 * the first, and the changes it yields, encoded again, decode to the very
 * same changes. As a dictionary block: every string lies inside the block
 * and, written again, reads back the same. Every allocation is released per
 * input.
 *
 *   make build/fuzz/fuzz_feed
 *   make fuzz FUZZ=feed
 */
#include "../../src/store/store.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
    fprintf(stderr, "fuzz_feed: %s\n", what);
    abort();
}

static void feed_block(const unsigned char *p, size_t n)
{
    struct ks_feed_dec d;
    struct ks_feed_change c, *all = NULL;
    size_t count = 0, cap = 0;
    int r;
    ks_feed_dec_init(&d, 7, p, n);
    while ((r = ks_feed_dec_next(&d, &c)) == 1) {
        if (c.seq != 7 + (int64_t)count || d.p > p + n) {
            die("a change out of sequence or read past the block");
        }
        KS_GROW(all, cap, count + 1);
        all[count++] = c;
    }
    if (r != 0 && r != -1) {
        die("the decoder returned neither 0 nor -1");
    }
    struct ks_feed_enc e;
    memset(&e, 0, sizeof(e));
    for (size_t i = 0; i < count; i++) {
        ks_feed_enc_add(&e, &all[i]);
    }
    ks_feed_dec_init(&d, 7, e.buf.p, e.buf.len);
    for (size_t i = 0; i < count; i++) {
        if (ks_feed_dec_next(&d, &c) != 1 || memcmp(&c, &all[i], sizeof(c)) != 0) {
            die("a change encoded again reads back otherwise");
        }
    }
    if (ks_feed_dec_next(&d, &c) != 0) {
        die("a block encoded again holds more than its changes");
    }
    ks_feed_enc_fini(&e);
    ks_free(all);
}

static void sku_block(const unsigned char *p, size_t n)
{
    const unsigned char *at = p, *end = p + n;
    const char *s;
    size_t len;
    struct ks_buf again = {0};
    size_t count = 0;
    int r;
    while ((r = ks_sku_block_next(&at, end, &s, &len)) == 1) {
        if ((const unsigned char *)s < p || (const unsigned char *)s + len > end || at > end) {
            die("a SKU outside the block");
        }
        ks_sku_block_add(&again, s, len);
        count++;
    }
    if (r != 0 && r != -1) {
        die("the dictionary reader returned neither 0 nor -1");
    }
    const unsigned char *q = (const unsigned char *)again.p, *qend = again.len ? q + again.len : q;
    at = p;
    for (size_t i = 0; i < count; i++) {
        const char *s2;
        size_t len2;
        if (ks_sku_block_next(&at, end, &s, &len) != 1 ||
            ks_sku_block_next(&q, qend, &s2, &len2) != 1 || len != len2 ||
            (len && memcmp(s, s2, len) != 0)) {
            die("a SKU written again reads back otherwise");
        }
    }
    if (q != qend) {
        die("a dictionary written again holds more than its SKUs");
    }
    ks_buf_fini(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so ASan flags any read past the block. */
    unsigned char *p = malloc(size ? size : 1);
    memcpy(p, data, size);
    feed_block(p, size);
    sku_block(p, size);
    free(p);
    if (ks_alloc_live() != 0) {
        die("allocations left");
    }
    return 0;
}
