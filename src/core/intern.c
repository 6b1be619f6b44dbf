/* intern.c - string interning: dense ids for channels, SKUs, sources, ... */
#include "core.h"

#include <string.h>

void ks_intern_init(struct ks_intern *t)
{
    memset(t, 0, sizeof(*t));
    t->nslots = 64;
    t->slots = ks_calloc(t->nslots, sizeof(uint32_t));
}

void ks_intern_fini(struct ks_intern *t)
{
    ks_free(t->slots);
    ks_free(t->off);
    ks_free(t->len);
    ks_free(t->pool);
    memset(t, 0, sizeof(*t));
}

static uint32_t probe(const struct ks_intern *t, const char *s, size_t n, uint64_t h)
{
    uint32_t mask = t->nslots - 1;
    uint32_t i = (uint32_t)h & mask;
    for (;;) {
        uint32_t v = t->slots[i];
        if (v == 0) {
            return i;
        }
        uint32_t id = v - 1;
        if (t->len[id] == n && ks_mem_eq(t->pool + t->off[id], s, n)) {
            return i;
        }
        i = (i + 1) & mask;
    }
}

uint32_t ks_intern_find(const struct ks_intern *t, const char *s, size_t n)
{
    if (!t->slots) {
        return UINT32_MAX;
    }
    uint32_t v = t->slots[probe(t, s, n, ks_hash(s, n))];
    return v ? v - 1 : UINT32_MAX;
}

/* Rebuilds the table with ns slots. The strings are distinct: each goes to
 * the first empty slot from its hash, without comparing strings. */
static void rehash_to(struct ks_intern *t, uint32_t ns)
{
    ks_free(t->slots);
    t->slots = ks_calloc(ns, sizeof(uint32_t));
    t->nslots = ns;
    uint32_t mask = ns - 1;
    for (uint32_t id = 0; id < t->n; id++) {
        uint32_t i = (uint32_t)ks_hash(t->pool + t->off[id], t->len[id]) & mask;
        while (t->slots[i]) {
            i = (i + 1) & mask;
        }
        t->slots[i] = id + 1;
    }
}

static void rehash(struct ks_intern *t)
{
    rehash_to(t, t->nslots * 2);
}

void ks_intern_reserve(struct ks_intern *t, uint32_t n, size_t bytes)
{
    if (!t->slots) {
        ks_intern_init(t);
    }
    if (n > t->cap) {
        t->off = ks_realloc(t->off, n * sizeof(uint32_t));
        t->len = ks_realloc(t->len, n * sizeof(uint32_t));
        t->cap = n;
    }
    if (bytes + n > t->pool_cap) {
        t->pool_cap = bytes + n;
        t->pool = ks_realloc(t->pool, t->pool_cap);
    }
    uint32_t ns = t->nslots;
    while ((uint64_t)n * 2 > ns) {
        ns *= 2;
    }
    if (ns != t->nslots) {
        rehash_to(t, ns);
    }
}

static uint32_t add_hashed(struct ks_intern *t, const char *s, size_t n, uint64_t h)
{
    uint32_t i = probe(t, s, n, h);
    if (t->slots[i]) {
        return t->slots[i] - 1;
    }
    KS_ASSERT(t->n < UINT32_MAX - 1);
    uint32_t id = t->n++;
    if (t->n > t->cap) {
        uint32_t nc = t->cap ? t->cap * 2 : 64;
        t->off = ks_realloc(t->off, nc * sizeof(uint32_t));
        t->len = ks_realloc(t->len, nc * sizeof(uint32_t));
        t->cap = nc;
    }
    if (t->pool_len + n + 1 > t->pool_cap) {
        size_t nc = t->pool_cap ? t->pool_cap * 2 : 4096;
        while (nc < t->pool_len + n + 1) {
            nc *= 2;
        }
        t->pool = ks_realloc(t->pool, nc);
        t->pool_cap = nc;
    }
    KS_ASSERT(t->pool_len + n < UINT32_MAX);
    memcpy(t->pool + t->pool_len, s, n);
    t->pool[t->pool_len + n] = 0;
    t->off[id] = (uint32_t)t->pool_len;
    t->len[id] = (uint32_t)n;
    t->pool_len += n + 1;
    t->slots[i] = id + 1;
    if ((uint64_t)t->n * 2 > t->nslots) {
        rehash(t);
    }
    return id;
}

uint32_t ks_intern_add(struct ks_intern *t, const char *s, size_t n)
{
    if (!t->slots) {
        ks_intern_init(t);
    }
    return add_hashed(t, s, n, ks_hash(s, n));
}

size_t ks_intern_add_new(struct ks_intern *t, const char *const *s, const size_t *n,
                         size_t count)
{
    /* A table of millions of slots is far larger than the caches: each
     * string's slot is asked for AHEAD strings before it is needed, so the
     * memory fetches overlap instead of following one another. */
    enum { AHEAD = 16 };
    uint64_t h[AHEAD];
    if (!t->slots) {
        ks_intern_init(t);
    }
    for (size_t i = 0; i < count && i < AHEAD; i++) {
        h[i] = ks_hash(s[i], n[i]);
        __builtin_prefetch(&t->slots[(uint32_t)h[i] & (t->nslots - 1)]);
    }
    for (size_t i = 0; i < count; i++) {
        uint64_t hi = h[i % AHEAD];
        if (i + AHEAD < count) {
            uint64_t ha = ks_hash(s[i + AHEAD], n[i + AHEAD]);
            h[(i + AHEAD) % AHEAD] = ha;
            __builtin_prefetch(&t->slots[(uint32_t)ha & (t->nslots - 1)]);
        }
        uint32_t want = t->n;
        if (add_hashed(t, s[i], n[i], hi) != want) {
            return i;
        }
    }
    return count;
}

size_t ks_intern_bytes(const struct ks_intern *t)
{
    return t->nslots * sizeof(uint32_t) + t->cap * 2 * sizeof(uint32_t) + t->pool_cap;
}
