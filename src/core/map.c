/* map.c - a u64 -> u64 open-addressing hash map. */
#include "core.h"

#include <string.h>

static size_t slot(uint64_t key, size_t cap)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

uint64_t *ks_map64_get(const struct ks_map64 *m, uint64_t key)
{
    KS_ASSERT(key != 0);
    if (!m->cap) {
        return NULL;
    }
    for (size_t i = slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key) {
            return &m->vals[i];
        }
        if (m->keys[i] == 0) {
            return NULL;
        }
    }
}

static void grow(struct ks_map64 *m)
{
    size_t nc = m->cap ? m->cap * 2 : 64;
    uint64_t *nk = ks_calloc(nc, sizeof(uint64_t));
    uint64_t *nv = ks_calloc(nc, sizeof(uint64_t));
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i]) {
            size_t j = slot(m->keys[i], nc);
            while (nk[j]) {
                j = (j + 1) & (nc - 1);
            }
            nk[j] = m->keys[i];
            nv[j] = m->vals[i];
        }
    }
    ks_free(m->keys);
    ks_free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = nc;
}

/* The slot of key, or the empty slot where it would go. */
static size_t find(const struct ks_map64 *m, uint64_t key)
{
    size_t i = slot(key, m->cap);
    while (m->keys[i] && m->keys[i] != key) {
        i = (i + 1) & (m->cap - 1);
    }
    return i;
}

uint64_t *ks_map64_put(struct ks_map64 *m, uint64_t key, int *added)
{
    KS_ASSERT(key != 0);
    size_t i = m->cap ? find(m, key) : 0;
    if (added) {
        *added = !m->cap || m->keys[i] == 0;
    }
    if (m->cap && m->keys[i] == key) {
        return &m->vals[i];
    }
    /* Grows only to add a key, so that the capacity follows from the
     * number of keys alone (ks_map64_load_begin sizes a map so). */
    if ((m->n + 1) * 2 > m->cap) {
        grow(m);
        i = find(m, key);
    }
    m->keys[i] = key;
    m->vals[i] = 0;
    m->n++;
    return &m->vals[i];
}

void ks_map64_fini(struct ks_map64 *m)
{
    ks_free(m->keys);
    ks_free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* The capacity that n puts into an empty map reach (see ks_map64_put). */
static size_t cap_for(size_t n)
{
    size_t c = 64;
    while (c / 2 < n) {
        c *= 2;
    }
    return c;
}

void ks_map64_load_begin(struct ks_map64 *m, size_t n)
{
    KS_ASSERT(m->cap == 0 && m->n == 0);
    if (n == 0) {
        return;
    }
    m->cap = cap_for(n);
    m->keys = ks_calloc(m->cap, sizeof(uint64_t));
    m->vals = ks_calloc(m->cap, sizeof(uint64_t));
}

/* Until ks_map64_load_end, the keys lie in keys[0..n) in their saved order. */
void ks_map64_load_add(struct ks_map64 *m, uint64_t key, uint64_t val)
{
    KS_ASSERT(m->n < m->cap / 2); /* no more than begun for */
    m->keys[m->n] = key;
    m->vals[m->n++] = val;
}

int ks_map64_load_end(struct ks_map64 *m)
{
    size_t n = m->n, mask = m->cap - 1;
    if (n == 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (m->keys[i] == 0) {
            ks_map64_fini(m);
            return -1;
        }
    }
    /* Which slots the keys fill does not depend on the order they were put
     * in (linear probing without removal): the i-th key saved had the i-th
     * of these slots. */
    unsigned char *used = ks_calloc(m->cap, 1);
    for (size_t i = 0; i < n; i++) {
        size_t j = slot(m->keys[i], m->cap);
        while (used[j]) {
            j = (j + 1) & mask;
        }
        used[j] = 1;
    }
    /* Moved from the last: the i-th used slot is i or after, so a key is
     * moved before its place in the list is overwritten. */
    size_t i = n;
    for (size_t j = m->cap; j-- > 0;) {
        if (used[j]) {
            i--;
            m->keys[j] = m->keys[i];
            m->vals[j] = m->vals[i];
        } else {
            m->keys[j] = 0;
            m->vals[j] = 0;
        }
    }
    ks_free(used);
    /* Every key is found where it lies: none twice, none past an empty slot
     * from its home. */
    int found = 1;
    for (size_t j = 0; j < m->cap && found; j++) {
        found = !m->keys[j] || ks_map64_get(m, m->keys[j]) == &m->vals[j];
    }
    if (found) {
        return 0;
    }
    /* Not the order of a map of this capacity: one that grew a step more
     * (a build before this one grew a map also to put a key it held), or a
     * key twice. The keys are put one by one in their saved order; the map
     * saved again then lists them in the order of this map, which loads as
     * it is. */
    uint64_t *keys = m->keys, *vals = m->vals;
    m->keys = ks_calloc(m->cap, sizeof(uint64_t));
    m->vals = ks_calloc(m->cap, sizeof(uint64_t));
    m->n = 0;
    int twice = 0;
    for (size_t j = 0; j < m->cap; j++) {
        if (keys[j]) {
            int added;
            *ks_map64_put(m, keys[j], &added) = vals[j]; /* no growth: n fit */
            twice |= !added;
        }
    }
    ks_free(keys);
    ks_free(vals);
    if (twice) {
        ks_map64_fini(m);
        return -1;
    }
    return 0;
}
