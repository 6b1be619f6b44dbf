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

uint64_t *ks_map64_put(struct ks_map64 *m, uint64_t key, int *added)
{
    KS_ASSERT(key != 0);
    if ((m->n + 1) * 2 > m->cap) {
        grow(m);
    }
    size_t i = slot(key, m->cap);
    while (m->keys[i] && m->keys[i] != key) {
        i = (i + 1) & (m->cap - 1);
    }
    if (added) {
        *added = m->keys[i] == 0;
    }
    if (m->keys[i] == 0) {
        m->keys[i] = key;
        m->vals[i] = 0;
        m->n++;
    }
    return &m->vals[i];
}

void ks_map64_fini(struct ks_map64 *m)
{
    ks_free(m->keys);
    ks_free(m->vals);
    memset(m, 0, sizeof(*m));
}
