/*
 * seen.c - the event ids taken, for duplicate detection (SPEC section 1: a
 * second event with an id already seen is ignored and counted).
 *
 * An id is kept as its 64-bit hash (ks_event_id_hash) with the instant it
 * was taken: the clock that taking its event set, max(clock, ts), rounded
 * up to the second. An event is a duplicate when its id was taken at most
 * dedup_retention before the clock it would set (so an id is remembered for
 * the retention at least, and less than a second more); an older entry is
 * forgotten, and the event is taken and remembered anew. Whether a line is
 * a duplicate therefore depends on the events alone, never on when the
 * table was last rebuilt.
 *
 * The table is an array of 64-byte buckets, one cache line each, of five
 * hashes and their instants (32-bit seconds, taken modulo 2^32: ages up to
 * 136 years read right, and a jump of the clock by more than 68 years, far
 * beyond any retention, empties the table). An id's home bucket is the top
 * bits of its hash; a full bucket overflows into the next. Slots are never
 * emptied one by one, so a bucket fills from its first slot on, and a
 * lookup ends at the first bucket with an empty slot: nearly always the
 * home bucket, one cache line, which the engine prefetches a few lines
 * ahead (the intake hashes the id where it decodes the line). A new id may
 * take the slot of an expired one on its way, so a steady stream reuses
 * the table in place. When it is four fifths full, a rebuild keeps only
 * the ids within the retention and sizes the table to at most half full;
 * ids are in hash order (but for overflow), so the rebuild reads the old
 * table and writes the new one front to back. Memory follows the ids of the
 * last dedup_retention - about 13 to 26 bytes each - not all the ids ever
 * seen.
 */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MIN_BUCKETS 64
#define HUGE_PAGE (2u << 20)

_Static_assert(sizeof(struct ks_seen_bucket) == 64, "a bucket is one cache line");

/* The instant t (ms) as the seconds the table keeps: rounded up, so that
 * the retention is never cut short. */
static inline int64_t sec_up(ks_time t)
{
    return t / KS_SEC + (t % KS_SEC > 0);
}

/*
 * A zeroed table of nb buckets, mapped on its own (page aligned, so each
 * bucket is one cache line). One of several MiB asks for 2 MiB pages:
 * every check touches a random bucket, which with 4 KiB pages also misses
 * the TLB (measured: a replay of 2 M ids took 1.7 times as long without).
 * Its pages come zeroed from the kernel, and unmapping it leaves malloc's
 * heuristics alone (a large block freed through free() raises glibc's
 * threshold for mapping blocks on their own, and the engine's other growing
 * arrays then moved by copying on every realloc).
 */
static struct ks_seen_bucket *table_new(size_t nb)
{
    size_t bytes = nb * sizeof(struct ks_seen_bucket);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "kintsugi: out of memory allocating %zu bytes\n", bytes);
        abort();
    }
#ifdef MADV_HUGEPAGE
    if (bytes >= 2 * HUGE_PAGE) {
        madvise(p, bytes, MADV_HUGEPAGE); /* a hint: without it, 4 KiB pages */
    }
#endif
    return p;
}

static void table_free(struct ks_seen_bucket *b, size_t nb)
{
    if (b) {
        munmap(b, nb * sizeof(struct ks_seen_bucket));
    }
}

static int log2_of(size_t n)
{
    return 63 - __builtin_clzll((unsigned long long)n);
}

/* The oldest age, in whole seconds, that is not expired at now (ms): an id
 * taken at second t (its instant rounded up) is forgotten when now - t s is
 * more than retention, that is when its age nowc - t, nowc being now
 * rounded up, is more than this. */
static inline uint32_t max_age(ks_time now, ks_time retention)
{
    int64_t nowc = sec_up(now);
    return (uint32_t)((retention + (nowc * KS_SEC - now)) / KS_SEC);
}

/* Whether the id taken at second t is forgotten at second nowc. */
static inline int expired(uint32_t t, int64_t nowc, uint32_t max)
{
    return (uint32_t)((uint32_t)nowc - t) > max;
}

/* Puts h into a table with room (no growth, no counting); -1, putting
 * nothing, when h is there already. */
static int place(struct ks_seen_bucket *tab, size_t nb, unsigned shift, uint64_t h, uint32_t t)
{
    for (size_t i = (size_t)(h >> shift);; i = (i + 1) & (nb - 1)) {
        struct ks_seen_bucket *b = &tab[i];
        for (int k = 0; k < KS_SEEN_SLOTS; k++) {
            if (b->h[k] == h) {
                return -1;
            }
            if (b->h[k] == 0) {
                b->h[k] = h;
                b->t[k] = t;
                return 0;
            }
        }
    }
}

/* Moves the ids into a table of nb buckets (a power of two), dropping
 * those expired at now (none when keep_all). */
static void rebuild(struct ks_seen *s, size_t nb, int keep_all, ks_time now, ks_time retention)
{
    struct ks_seen_bucket *tab = table_new(nb);
    unsigned shift = (unsigned)(64 - log2_of(nb));
    int64_t nowc = sec_up(now);
    uint32_t max = max_age(now, retention);
    size_t n = 0;
    for (size_t i = 0; i < s->nb; i++) {
        const struct ks_seen_bucket *b = &s->b[i];
        for (int k = 0; k < KS_SEEN_SLOTS && b->h[k]; k++) {
            if (keep_all || !expired(b->t[k], nowc, max)) {
                place(tab, nb, shift, b->h[k], b->t[k]);
                n++;
            }
        }
    }
    table_free(s->b, s->nb);
    s->b = tab;
    s->nb = nb;
    s->shift = shift;
    s->n = n;
}

/* Four fifths full: drop what has expired, and size the table to what is
 * left - at most half full after, so that rebuilds are three tenths of the
 * table apart at least, each a linear pass. */
static void make_room(struct ks_seen *s, ks_time now, ks_time retention)
{
    int64_t nowc = sec_up(now);
    uint32_t max = max_age(now, retention);
    size_t live = 0;
    for (size_t i = 0; i < s->nb; i++) {
        const struct ks_seen_bucket *b = &s->b[i];
        for (int k = 0; k < KS_SEEN_SLOTS && b->h[k]; k++) {
            live += !expired(b->t[k], nowc, max);
        }
    }
    size_t nb = MIN_BUCKETS;
    while (nb * KS_SEEN_SLOTS < (live + 1) * 2) {
        nb *= 2;
    }
    rebuild(s, nb, 0, now, retention);
}

/* The clock jumped by more than 2^31 seconds (68 years, more than any
 * retention): every id has expired, and their ages would wrap. */
static void forget_all(struct ks_seen *s)
{
    table_free(s->b, s->nb);
    s->b = NULL;
    s->nb = s->n = 0;
}

int ks_seen_check(struct ks_seen *s, uint64_t h, ks_time now, ks_time retention)
{
    KS_ASSERT(h != 0);
    int64_t nowc = sec_up(now);
    if (s->nb && nowc - s->last > INT32_MAX) {
        forget_all(s);
    }
    if (!s->nb || nowc > s->last) {
        s->last = nowc;
    }
    if ((s->n + 1) * 5 > s->nb * KS_SEEN_SLOTS * 4) {
        make_room(s, now, retention);
    }
    uint32_t t = (uint32_t)nowc, max = max_age(now, retention);
    struct ks_seen_bucket *rb = NULL; /* the first expired slot on the way */
    int rk = 0;
    size_t mask = s->nb - 1;
    for (size_t i = (size_t)(h >> s->shift);; i = (i + 1) & mask) {
        struct ks_seen_bucket *b = &s->b[i];
        for (int k = 0; k < KS_SEEN_SLOTS; k++) {
            if (b->h[k] == h) {
                if (!expired(b->t[k], nowc, max)) {
                    return 1;
                }
                b->t[k] = t; /* forgotten: taken anew */
                return 0;
            }
            if (b->h[k] == 0) {
                /* No id past here can be h: it is new. It takes an expired
                 * slot met on the way (buckets before an id's own stay full),
                 * else this empty one. */
                if (rb) {
                    rb->h[rk] = h;
                    rb->t[rk] = t;
                } else {
                    b->h[k] = h;
                    b->t[k] = t;
                    s->n++;
                }
                return 0;
            }
            if (!rb && expired(b->t[k], nowc, max)) {
                rb = b;
                rk = k;
            }
        }
    }
}

void ks_seen_load_begin(struct ks_seen *s, size_t n)
{
    KS_ASSERT(s->nb == 0 && s->n == 0);
    if (n == 0) {
        return;
    }
    /* the size that putting them one by one ends at (no rebuild until four
     * fifths full) */
    size_t nb = MIN_BUCKETS;
    while (n * 5 > nb * KS_SEEN_SLOTS * 4) {
        nb *= 2;
    }
    s->b = table_new(nb);
    s->nb = nb;
    s->shift = (unsigned)(64 - log2_of(nb));
}

/* Until ks_seen_load_end, the ids fill the slots from the first in their
 * saved order. */
void ks_seen_load_add(struct ks_seen *s, uint64_t h, ks_time t)
{
    KS_ASSERT(s->n < s->nb * KS_SEEN_SLOTS * 4 / 5); /* no more than begun for */
    int64_t tc = sec_up(t);
    if (tc > s->last) {
        s->last = tc;
    }
    struct ks_seen_bucket *b = &s->b[s->n / KS_SEEN_SLOTS];
    b->h[s->n % KS_SEEN_SLOTS] = h;
    b->t[s->n % KS_SEEN_SLOTS] = (uint32_t)tc;
    s->n++;
}

/* The slot of h, or NULL: a lookup as ks_seen_check makes it. */
static const uint64_t *find(const struct ks_seen *s, uint64_t h)
{
    for (size_t i = (size_t)(h >> s->shift);; i = (i + 1) & (s->nb - 1)) {
        const struct ks_seen_bucket *b = &s->b[i];
        for (int k = 0; k < KS_SEEN_SLOTS; k++) {
            if (b->h[k] == h) {
                return &b->h[k];
            }
            if (b->h[k] == 0) {
                return NULL;
            }
        }
    }
}

int ks_seen_load_end(struct ks_seen *s)
{
    size_t n = s->n, nb = s->nb;
    for (size_t i = 0; i < n; i++) {
        if (s->b[i / KS_SEEN_SLOTS].h[i % KS_SEEN_SLOTS] == 0) {
            ks_seen_fini(s);
            return -1;
        }
    }
    if (n == 0) {
        return 0;
    }
    /* How many slots of each bucket the ids fill does not depend on the
     * order they are put in (a bucket overflows into the next only when
     * full, and nothing is removed): the i-th id saved had the i-th of
     * these slots, in the order of ks_seen_each. */
    unsigned char *fill = ks_calloc(nb, 1);
    for (size_t i = 0; i < n; i++) {
        size_t j = (size_t)(s->b[i / KS_SEEN_SLOTS].h[i % KS_SEEN_SLOTS] >> s->shift);
        while (fill[j] == KS_SEEN_SLOTS) {
            j = (j + 1) & (nb - 1);
        }
        fill[j]++;
    }
    /* Moved from the last: the i-th slot filled is slot i or after, so an
     * id is moved before its place in the list is overwritten. */
    size_t i = n;
    for (size_t p = nb * KS_SEEN_SLOTS; p-- > 0;) {
        struct ks_seen_bucket *b = &s->b[p / KS_SEEN_SLOTS];
        size_t k = p % KS_SEEN_SLOTS;
        if (k < fill[p / KS_SEEN_SLOTS]) {
            i--;
            b->h[k] = s->b[i / KS_SEEN_SLOTS].h[i % KS_SEEN_SLOTS];
            b->t[k] = s->b[i / KS_SEEN_SLOTS].t[i % KS_SEEN_SLOTS];
        } else {
            b->h[k] = 0;
            b->t[k] = 0;
        }
    }
    ks_free(fill);
    int found = 1;
    for (size_t j = 0; j < nb && found; j++) {
        const struct ks_seen_bucket *b = &s->b[j];
        for (int k = 0; k < KS_SEEN_SLOTS && b->h[k] && found; k++) {
            found = find(s, b->h[k]) == &b->h[k];
        }
    }
    if (found) {
        return 0;
    }
    /* Not the order of a table of this size: one that was rebuilt larger
     * (make_room leaves it half full, not four fifths), or an id twice. The
     * ids are put one by one in their saved order; the state saved again
     * then lists them in the order of this table, which loads as it is. */
    struct ks_seen_bucket *tab = table_new(nb);
    int twice = 0;
    for (size_t j = 0; j < nb; j++) {
        const struct ks_seen_bucket *b = &s->b[j];
        for (int k = 0; k < KS_SEEN_SLOTS && b->h[k]; k++) {
            twice |= place(tab, nb, s->shift, b->h[k], b->t[k]) != 0;
        }
    }
    table_free(s->b, nb);
    s->b = tab;
    if (twice) {
        ks_seen_fini(s); /* an id saved twice: not a state we wrote */
        return -1;
    }
    return 0;
}

size_t ks_seen_each(const struct ks_seen *s, void (*fn)(void *arg, uint64_t h, ks_time t),
                    void *arg)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nb; i++) {
        const struct ks_seen_bucket *b = &s->b[i];
        for (int k = 0; k < KS_SEEN_SLOTS && b->h[k]; k++) {
            /* The second it stands for: the latest one congruent to t. */
            int64_t sec = s->last - (int64_t)(uint32_t)((uint32_t)s->last - b->t[k]);
            fn(arg, b->h[k], sec * KS_SEC);
            n++;
        }
    }
    return n;
}

void ks_seen_fini(struct ks_seen *s)
{
    table_free(s->b, s->nb);
    memset(s, 0, sizeof(*s));
}
