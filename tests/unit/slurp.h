/* slurp.h - reading a whole file in tests (header-only, test code). */
#ifndef KS_TEST_SLURP_H
#define KS_TEST_SLURP_H

#include "../../src/core/core.h"

/* The file's bytes, NUL-terminated, in a ks_malloc'd buffer of exactly
 * *len + 1 bytes (so that ASan flags a read past the NUL; ks_free it); *len
 * gets their number. NULL when the file cannot be opened. */
static inline char *t_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    struct ks_buf b = {0};
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
        ks_buf_put(&b, tmp, n);
    }
    fclose(f);
    if (!b.p) {
        ks_buf_put(&b, "", 0);
    }
    *len = b.len;
    return ks_realloc(b.p, b.len + 1);
}

#endif
