/* mem.c - the one allocator entry point and growable buffers. */
#include "core.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Live allocations, counted with relaxed atomics: the HTTP server allocates
 * on its connection threads, and leak checks read the count from another. */
static long live;

static void *oom(size_t n)
{
    fprintf(stderr, "kintsugi: out of memory allocating %zu bytes\n", n);
    abort();
}

/* Large blocks (the pairs of a channel, the SKU table, held values) are
 * asked to be backed by 2 MiB pages where the system does that on request
 * (transparent huge pages in "madvise" mode): a first touch of 10 M pairs
 * is then a few hundred page faults instead of a hundred thousand. Only a
 * hint; nothing depends on it. */
#define HUGE_FROM (8u << 20)
#define HUGE_PAGE ((uintptr_t)2 << 20)

static void *hint_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    if (n >= HUGE_FROM) {
        uintptr_t lo = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
        uintptr_t hi = ((uintptr_t)p + n) & ~(HUGE_PAGE - 1);
        if (hi > lo) {
            madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
        }
    }
#else
    (void)n;
#endif
    return p;
}

void *ks_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        return oom(n);
    }
    __atomic_fetch_add(&live, 1, __ATOMIC_RELAXED);
    return hint_huge(p, n);
}

void *ks_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        return oom(n * size);
    }
    __atomic_fetch_add(&live, 1, __ATOMIC_RELAXED);
    return hint_huge(p, n * size);
}

void *ks_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        return oom(n);
    }
    if (!p) {
        __atomic_fetch_add(&live, 1, __ATOMIC_RELAXED);
    }
    return hint_huge(q, n);
}

void ks_free(void *p)
{
    if (p) {
        __atomic_fetch_sub(&live, 1, __ATOMIC_RELAXED);
        free(p);
    }
}

long ks_alloc_live(void)
{
    return __atomic_load_n(&live, __ATOMIC_RELAXED);
}

char *ks_strndup(const char *s, size_t n)
{
    char *d = ks_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *ks_strdup(const char *s)
{
    return s ? ks_strndup(s, strlen(s)) : NULL;
}

int ks_str_eq(struct ks_str a, const char *z)
{
    size_t n = strlen(z);
    return a.len == n && memcmp(a.p, z, n) == 0;
}

/* FNV-1a, 64 bit, folded 8 bytes at a time for speed on short keys. */
uint64_t ks_hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 1099511628211ULL;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    while (n--) {
        h = (h ^ *s++) * 1099511628211ULL;
    }
    h ^= h >> 32;
    return h * 0x9E3779B97F4A7C15ULL;
}

void ks_buf_put(struct ks_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        while (nc < b->len + n + 1) {
            nc *= 2;
        }
        b->p = ks_realloc(b->p, nc);
        b->cap = nc;
    }
    if (n) {
        memcpy(b->p + b->len, p, n);
    }
    b->len += n;
    b->p[b->len] = 0;
}

void ks_buf_puts(struct ks_buf *b, const char *s)
{
    ks_buf_put(b, s, strlen(s));
}

void ks_buf_putc(struct ks_buf *b, char c)
{
    ks_buf_put(b, &c, 1);
}

void ks_buf_printf(struct ks_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n < sizeof(tmp)) {
        ks_buf_put(b, tmp, (size_t)n);
        return;
    }
    char *big = ks_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    ks_buf_put(b, big, (size_t)n);
    ks_free(big);
}

void ks_buf_reset(struct ks_buf *b)
{
    b->len = 0;
    if (b->p) {
        b->p[0] = 0;
    }
}

void ks_buf_fini(struct ks_buf *b)
{
    ks_free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

size_t ks_utf8_control_at(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] == 0x7F || (s[i] == 0xC2 && i + 1 < n && s[i + 1] >= 0x80 &&
                                            s[i + 1] <= 0x9F)) {
            return i;
        }
    }
    return (size_t)-1;
}

const char *ks_line_invalid(const char *s, size_t len, size_t max, const char *has, char *buf,
                            size_t cap)
{
    size_t bad;
    if (len > max) {
        snprintf(buf, cap, "is at most %zu bytes (this one has %zu)", max, len);
        return buf;
    }
    if ((bad = ks_utf8_invalid_at(s, len)) != (size_t)-1) {
        snprintf(buf, cap, "is not valid UTF-8 (byte %zu)", bad + 1);
        return buf;
    }
    if ((bad = ks_utf8_control_at(s, len)) != (size_t)-1) {
        /* C1 too (U+0085 is a line break to some terminals) */
        snprintf(buf, cap, "%s a control character (byte %zu)", has, bad + 1);
        return buf;
    }
    return NULL;
}

const char *ks_person_invalid(const char *s, char *buf, size_t cap)
{
    size_t len = strlen(s);
    if (!len || ks_utf8_blank(s, len)) {
        return len ? "is blank" : "is empty";
    }
    return ks_line_invalid(s, len, KS_PERSON_MAX, "holds", buf, cap);
}

size_t ks_utf8_space_len(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    if (n >= 1 && (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))) {
        return 1; /* space, tab, LF, VT, FF, CR */
    }
    if (n >= 2 && s[0] == 0xC2 && s[1] == 0xA0) {
        return 2; /* U+00A0 */
    }
    if (n < 3) {
        return 0;
    }
    if ((s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) ||    /* U+1680 */
        (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) ||    /* U+3000 */
        (s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) ||    /* U+205F */
        (s[0] == 0xE2 && s[1] == 0x80 &&
         ((s[2] >= 0x80 && s[2] <= 0x8A) ||                 /* U+2000-U+200A */
          s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))) { /* U+2028, U+2029, U+202F */
        return 3;
    }
    return 0;
}

int ks_utf8_blank(const char *s, size_t n)
{
    size_t i = 0, k;
    while (i < n && (k = ks_utf8_space_len(s + i, n - i)) > 0) {
        i += k;
    }
    return i == n;
}

const char *ks_utf8_trim(const char *s, size_t *n)
{
    size_t i = 0, k, end = 0, len = *n;
    while (i < len && (k = ks_utf8_space_len(s + i, len - i)) > 0) {
        i += k;
    }
    size_t from = i;
    /* forwards, so that a space is never read from the middle of a character */
    while (i < len) {
        k = ks_utf8_space_len(s + i, len - i);
        if (k) {
            i += k;
        } else {
            end = ++i;
        }
    }
    *n = end > from ? end - from : 0;
    return s + from;
}

size_t ks_utf8_invalid_at(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned min;
        if ((c & 0xE0) == 0xC0) {
            need = 1;
            min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2;
            min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3;
            min = 0x10000;
        } else {
            return i;
        }
        if (i + need >= n) {
            return i;
        }
        unsigned cp = c & (0x3F >> need);
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                return i;
            }
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return i;
        }
        i += need + 1;
    }
    return (size_t)-1;
}

int ks_amount_parse(const char *s, double *out)
{
    size_t i = 0;
    while (s[i] >= '0' && s[i] <= '9') {
        i++;
    }
    if (i == 0) {
        return -1; /* a sign, a point first, "inf", "nan", or nothing */
    }
    if (s[i] == '.') {
        size_t d = 0;
        while (s[i + 1 + d] >= '0' && s[i + 1 + d] <= '9') {
            d++;
        }
        if (d < 1 || d > 2) {
            return -1;
        }
        i += 1 + d;
    }
    if (s[i]) {
        return -1; /* "0x10", "1e3", "5,00", "30 USD" */
    }
    *out = strtod(s, NULL);
    return 0;
}

int ks_amount_cents(double amount)
{
    char text[48];
    snprintf(text, sizeof(text), "%.2f", amount);
    double back = strtod(text, NULL);
    return !(back < amount || back > amount);
}

const char *ks_fmt_count(uint64_t n, char out[32])
{
    char tmp[32];
    int len = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)n);
    int o = 0;
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0) {
            out[o++] = ',';
        }
        out[o++] = tmp[i];
    }
    out[o] = 0;
    return out;
}

const char *ks_fmt_pct_above(double pct, double limit, char out[32])
{
    for (int d = 1; d <= 4; d++) {
        snprintf(out, 32, "%.*f", d, pct);
        if (!(pct > limit) || strtod(out, NULL) > limit) {
            break;
        }
    }
    return out;
}

/* Arrays from ks_grow_zeroed: small ones on the heap, large ones (from
 * ZMAP bytes) anonymous mappings grown with mremap: no copy, and the new
 * pages are zero and take no memory until touched. */
#define ZMAP ((size_t)1 << 20)

static size_t page_round(size_t n)
{
    size_t pg = 4096;
    return (n + pg - 1) & ~(pg - 1);
}

void *ks_grow_zeroed(void *p, size_t old, size_t new_size)
{
    KS_ASSERT(new_size > old);
    if (new_size < ZMAP) {
        void *q = ks_calloc(1, new_size);
        if (old) {
            memcpy(q, p, old);
        }
        ks_free(p);
        return q;
    }
    void *q;
    if (old >= ZMAP) {
        q = mremap(p, page_round(old), page_round(new_size), MREMAP_MAYMOVE);
    } else {
        q = mmap(NULL, page_round(new_size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
        if (q != MAP_FAILED && old) {
            memcpy(q, p, old);
        }
        if (q != MAP_FAILED) {
            ks_free(p);
        }
    }
    if (q == MAP_FAILED) {
        return oom(new_size);
    }
    return hint_huge(q, new_size);
}

void ks_free_zeroed(void *p, size_t size)
{
    if (!p) {
        return;
    }
    if (size >= ZMAP) {
        munmap(p, page_round(size));
    } else {
        ks_free(p);
    }
}
