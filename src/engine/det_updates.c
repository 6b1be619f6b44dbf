/*
 * det_updates.c - inventory updates and the two corruption detectors,
 * `distribution_shift` and `zero_spike` (SPEC section 3, "Known, active,
 * updates").
 *
 * An update is a channel's inventory events with one batch. It closes when a
 * sync of the channel names a batch, when an event of the channel with
 * another batch (or none) arrives, or at the end of the input. Pushed values
 * land in pair.cur at once; pair.good, the last known good quantity, moves
 * only when an update closes clean (or a person accepts a corrupt one), so
 * every update is judged against the reference and a source that recovers
 * raises nothing.
 */
#include "engine_int.h"

#include <string.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older kernels refuse it (a hint only) */
#endif

/* Pairs whose pages are made at once, ahead of the SKU ids that reach them. */
#define PAIRS_AHEAD ((uint32_t)1 << 16)

/* Room in c's pairs for SKU id sku, and the pages for the ids up to the next
 * multiple of PAIRS_AHEAD made in one call (out of line: rare). New pairs are
 * zero pages until written; the inventory path reads a pair before writing
 * it, so each page would fault twice, the second time a copy that the other
 * core's TLB must hear of. Made ahead, a channel's 250,000 new pairs cost one
 * system call per 64 Ki instead of 3,000 page faults. The pages hold zeros
 * either way: nothing depends on this but the time. */
static void __attribute__((noinline)) pairs_room(struct ks_channel *c, uint32_t sku)
{
    if (sku >= c->cap) {
        uint32_t nc = c->cap ? c->cap : 1024;
        while (nc <= sku) {
            nc = nc < UINT32_MAX / 2 ? nc * 2 : UINT32_MAX;
        }
        c->pairs = ks_grow_zeroed(c->pairs, (size_t)c->cap * sizeof(struct ks_pair),
                                  (size_t)nc * sizeof(struct ks_pair));
        c->cap = nc;
    }
    uint32_t upto = sku / PAIRS_AHEAD < (c->cap - 1) / PAIRS_AHEAD
                        ? (sku / PAIRS_AHEAD + 1) * PAIRS_AHEAD
                        : c->cap;
    const uintptr_t pg = 4096;
    uintptr_t lo = (uintptr_t)(c->pairs + c->ready) & ~(pg - 1);
    uintptr_t hi = ((uintptr_t)(c->pairs + upto) + pg - 1) & ~(pg - 1);
    uintptr_t end = ((uintptr_t)(c->pairs + c->cap)) & ~(pg - 1);
    if (hi > end) {
        hi = end; /* the array's last page may be shared with other memory */
    }
    if (hi > lo) {
        madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
    }
    c->ready = upto;
}

static inline struct ks_pair *pair_at(struct ks_channel *c, uint32_t sku)
{
    if (__builtin_expect(sku >= c->ready, 0)) {
        pairs_room(c, sku);
    }
    return &c->pairs[sku];
}

static struct ks_channel *channel_of(struct ks_engine *e, struct ks_str s)
{
    /* Most lines name the channel of the line before. */
    if (e->last_ch_str != KS_NONE && ks_intern_len(&e->strs, e->last_ch_str) == s.len &&
        ks_mem_eq(ks_intern_str(&e->strs, e->last_ch_str), s.p, s.len)) {
        return &e->ch[e->last_ch];
    }
    e->last_ch_str = ks_intern_add(&e->strs, s.p, s.len);
    struct ks_channel *c = ks_eng_channel(e, e->last_ch_str);
    e->last_ch = (size_t)(c - e->ch);
    return c;
}

static uint32_t batch_str(struct ks_engine *e, struct ks_str s)
{
    if (!s.p) {
        return KS_NONE;
    }
    if (e->last_batch != KS_NONE && ks_intern_len(&e->strs, e->last_batch) == s.len &&
        ks_mem_eq(ks_intern_str(&e->strs, e->last_batch), s.p, s.len)) {
        return e->last_batch;
    }
    e->last_batch = ks_intern_add(&e->strs, s.p, s.len);
    return e->last_batch;
}

/* Whether SKU id g is the string s. */
static inline int sku_is(const struct ks_intern *t, uint32_t g, struct ks_str s)
{
    KS_ASSERT(g < t->n);
    return t->len[g] == s.len && ks_mem_eq(t->pool + t->off[g], s.p, s.len);
}

/* The SKU id of s when the channel's own successor hint missed: the shared
 * hint, else the hash table (which then records both hints). */
static uint32_t __attribute__((noinline)) sku_lookup(struct ks_engine *e, struct ks_channel *c,
                                                     struct ks_str s)
{
    uint32_t last = c->last_sku, sku;
    if (last < e->capsucc && e->succ[last] && sku_is(&e->skus, e->succ[last] - 1, s)) {
        sku = e->succ[last] - 1;
    } else {
        sku = ks_intern_add(&e->skus, s.p, s.len);
        if (last != KS_NONE) {
            if (last >= e->capsucc) {
                size_t nc = e->capsucc ? e->capsucc : 1024;
                while (nc <= last) {
                    nc *= 2;
                }
                e->succ = ks_grow_zeroed(e->succ, e->capsucc * sizeof(uint32_t),
                                         nc * sizeof(uint32_t));
                e->capsucc = nc;
            }
            e->succ[last] = sku + 1;
        }
    }
    if (last < c->cap) {
        c->pairs[last].next = sku + 1;
    }
    return sku;
}

/* The SKU id of s on channel c. A feed pushes its catalogue in much the same
 * order every time, so the SKU that followed the channel's previous one last
 * time is tried first, by one comparison, before any hashing. */
static inline uint32_t sku_of(struct ks_engine *e, struct ks_channel *c, struct ks_str s)
{
    uint32_t last = c->last_sku;
    if (last < c->cap) {
        uint32_t h = c->pairs[last].next;
        if (h && sku_is(&e->skus, h - 1, s)) {
            return h - 1;
        }
    }
    return sku_lookup(e, c, s);
}

static int changed(uint32_t old, uint32_t now, double pct)
{
    double diff = old > now ? (double)(old - now) : (double)(now - old);
    return diff * 100.0 > pct * (old > 1 ? (double)old : 1.0);
}

/* changed() in integers: 10000 |now - old| > p100 max(old, 1). Exact, and so
 * equal to the double test, which is exact too for such p100. */
static inline uint32_t changed_h(uint32_t old, uint32_t now, uint64_t p100)
{
    uint64_t diff = old > now ? old - now : now - old;
    return diff * 10000u > p100 * (old > 1 ? old : 1u);
}

/* Whether a known SKU's value moved from its reference old to now by more
 * than the channel's shift_change_pct. */
static inline uint32_t shift_changed(const struct ks_channel *c, uint32_t old, uint32_t now)
{
    return c->shift_p100 >= 0 ? changed_h(old, now, (uint64_t)c->shift_p100)
                            : (uint32_t)changed(old, now, c->cfg->shift_change_pct);
}

int ks_det_changed(const struct ks_channel *c, uint32_t old, uint32_t now)
{
    return (int)shift_changed(c, old, now);
}

/* One inventory event. same: KS_SAME_CHANNEL, KS_SAME_BATCH when the
 * line's channel, batch, is the one of the line taken just before it. */
static inline __attribute__((always_inline)) void
inventory(struct ks_engine *e, ks_time ts, int64_t qty, struct ks_str channel, struct ks_str skus,
          struct ks_str batchs, struct ks_str source, uint32_t same)
{
    struct ks_channel *c = (same & KS_SAME_CHANNEL) ? &e->ch[e->last_ch] : channel_of(e, channel);
    uint32_t sku = sku_of(e, c, skus);
    c->last_sku = sku;
    uint32_t batch = (same & KS_SAME_BATCH) ? e->last_batch : batch_str(e, batchs);
    if (c->upd_open && (batch == KS_NONE || c->upd_batch != batch)) {
        ks_det_update_close(e, c, ts);
    }
    if (!c->upd_open) {
        c->upd_open = 1;
        c->upd_batch = batch;
        c->upd_source = ks_eng_str(e, source);
        c->upd_seq = ++e->upd_seq;
        c->upd_first = ts;
        c->upd_n = 0;
        c->upd_changed = c->upd_zeroed = 0;
        c->upd_counted = 1;
    }
    struct ks_pair *p = pair_at(c, sku);
    uint32_t seq = c->upd_seq, now = (uint32_t)qty;
    uint32_t known = (p->flags / KS_PAIR_KNOWN) & 1;
    if (p->stamp != seq) {
        /* The SKU's first value in this update. */
        if (!(p->flags & KS_PAIR_CUR)) {
            p->flags |= KS_PAIR_CUR;
            c->n_tracked++;
        }
        p->stamp = seq;
        KS_GROW(c->upd_skus, c->upd_cap, c->upd_n + 1);
        c->upd_skus[c->upd_n++] = sku;
    } else if (known) {
        /* Another value in the same update: the last one counts. */
        c->upd_changed -= shift_changed(c, p->good, p->cur);
        c->upd_zeroed -= (uint32_t)(p->good > 0) & (uint32_t)(p->cur == 0);
    }
    p->cur = now;
    if (known) {
        c->upd_changed += shift_changed(c, p->good, now);
        c->upd_zeroed += (uint32_t)(p->good > 0) & (uint32_t)(now == 0);
    }
    if (c->last_inventory == KS_TIME_NONE || ts > c->last_inventory) {
        c->last_inventory = ts;
    }
    ks_det_volume_count(e, c, ts);
    if (batch == KS_NONE) {
        ks_det_update_close(e, c, ts); /* an event without batch is an update of its own */
    }
}

static void inventory_event(struct ks_engine *e, const struct ks_event *ev)
{
    e->line_next = NULL; /* the next packed line cannot trust its note */
    inventory(e, ev->ts, ev->qty, ev->channel, ev->sku, ev->batch, ev->source, 0);
}

void ks_det_inventory_line(struct ks_engine *e, const struct ks_line *l)
{
    /* The decoder saw the line before (in the same buffer) name the same
     * channel or batch, and that line came through here last. */
    uint32_t same = l->p == e->line_next ? l->same_prev : 0;
    e->line_next = l->p + l->len + 1;
    inventory(e, l->ts, l->qty, (struct ks_str){l->p + l->channel_off, l->channel_len},
              (struct ks_str){l->p + l->sku_off, l->sku_len},
              (struct ks_str){l->batch_len ? l->p + l->batch_off : NULL, l->batch_len},
              (struct ks_str){NULL, 0}, same);
}

/* Counts the update's known SKUs that changed by more than pct % and those
 * that went to zero (exact: the integer test with p100, else doubles). A
 * SKU new in this update is neither changed nor counted. */
static inline __attribute__((always_inline)) void judge(const struct ks_channel *c,
                                                        const int exact, uint64_t p100,
                                                        double pct, uint32_t *nchanged,
                                                        uint32_t *nzeroed)
{
    uint32_t nc = 0, nz = 0;
    for (size_t i = 0; i < c->upd_n; i++) {
        const struct ks_pair *p = &c->pairs[c->upd_skus[i]];
        uint32_t k = (p->flags / KS_PAIR_KNOWN) & 1;
        uint32_t ch = exact ? changed_h(p->good, p->cur, p100)
                            : (uint32_t)changed(p->good, p->cur, pct);
        nc += k & ch;
        nz += k & (uint32_t)(p->good > 0) & (uint32_t)(p->cur == 0);
    }
    *nchanged = nc;
    *nzeroed = nz;
}

static struct ks_incident *corrupt(struct ks_engine *e, struct ks_channel *c, ks_time at,
                                   int *fresh_out, int zero, int shift,
                    uint32_t known, uint32_t active, uint32_t nchanged, uint32_t nzeroed)
{
    const struct ks_channel_cfg *cfg = c->cfg;
    const char *chname = ks_intern_str(&e->strs, c->name);
    uint32_t key_a = c->upd_source, key_b = c->upd_source == KS_NONE ? c->name : KS_NONE;
    struct ks_incident *inc = ks_inc_find_open(e, KS_IT_DATA_CORRUPTION, key_a, key_b);
    int fresh = !inc;
    *fresh_out = fresh;
    enum ks_severity sev = zero ? KS_P1 : KS_P2;
    if (fresh) {
        inc = ks_inc_open(e, KS_IT_DATA_CORRUPTION, sev, c->upd_first, at);
        inc->key_a = key_a;
        inc->key_b = key_b;
    }
    ks_u32set_add(&inc->channels, (uint32_t)(c - e->ch));
    if (c->upd_source != KS_NONE) {
        ks_u32set_add(&inc->sources, c->upd_source);
    }
    char a[32], b[32];
    const char *batch = c->upd_batch != KS_NONE ? ks_intern_str(&e->strs, c->upd_batch) : "-";
    if (zero) {
        ks_inc_signal(e, inc, KS_DET_ZERO_SPIKE, at, active ? (double)nzeroed / active : 0,
                      cfg->zero_skus_pct / 100.0,
                      "update %s of %s took %s of %s active SKUs to zero (more than %g %%)",
                      batch, chname, ks_fmt_count(nzeroed, a), ks_fmt_count(active, b),
                      cfg->zero_skus_pct);
    }
    if (shift) {
        ks_inc_signal(e, inc, KS_DET_DISTRIBUTION_SHIFT, at, known ? (double)nchanged / known : 0,
                      cfg->shift_skus_pct / 100.0,
                      "update %s of %s changed %s of %s known SKUs by more than %g %% (more "
                      "than %g %% of them)",
                      batch, chname, ks_fmt_count(nchanged, a), ks_fmt_count(known, b),
                      cfg->shift_change_pct, cfg->shift_skus_pct);
    }
    if (!fresh) {
        ks_inc_raise(e, inc, sev, at, "%s on %s", zero ? "zero-inventory spike" : "distribution "
                                                                              "shift",
                     chname);
    }
    /* The update's values are not the reference until a person accepts them. */
    uint64_t affected = 0;
    for (size_t i = 0; i < c->upd_n; i++) {
        struct ks_pair *p = &c->pairs[c->upd_skus[i]];
        p->flags |= KS_PAIR_SUSPECT;
        if ((p->flags & KS_PAIR_KNOWN) && changed(p->good, p->cur, cfg->shift_change_pct)) {
            affected++;
            if (inc->sku_ids.n < KS_SCOPE_SKUS) {
                ks_u32set_add(&inc->sku_ids, c->upd_skus[i]);
            }
        }
    }
    inc->skus += affected;
    size_t nknown = ks_eng_known_channels(e);
    if (nknown >= 2 && inc->channels.n == nknown) {
        ks_inc_raise(e, inc, KS_P1, at, "corruption pushed to all %zu channels", nknown);
    }
    char chans[256];
    ks_inc_channel_list(e, inc, chans, sizeof(chans));
    if (zero) {
        ks_inc_set_title(inc, "Zero-inventory spike on %s (%s of %s active SKUs)", chans,
                         ks_fmt_count(nzeroed, a), ks_fmt_count(active, b));
    } else if (fresh) {
        ks_inc_set_title(inc, "Distribution shift on %s (%s of %s known SKUs changed by more "
                              "than %g %%)",
                         chans, ks_fmt_count(nchanged, a), ks_fmt_count(known, b),
                         cfg->shift_change_pct);
    }
    if (fresh) {
        char fam[512];
        snprintf(fam, sizeof(fam), "data_corruption:%s",
                 key_a != KS_NONE ? ks_intern_str(&e->strs, key_a) : chname);
        ks_inc_set_fingerprint(e, inc, fam, batch);
    }
    ks_inc_dirty(e, inc);
    return inc;
}

void ks_det_update_close(struct ks_engine *e, struct ks_channel *c, ks_time at)
{
    const struct ks_channel_cfg *cfg = c->cfg;
    const double pct = cfg->shift_change_pct;
    const int64_t p100 = c->shift_p100;
    uint32_t known = c->n_known, active = c->n_active, nchanged = 0, nzeroed = 0;
    if (!c->upd_counted || KS_SLOW_CHECKS) {
        if (p100 >= 0) {
            judge(c, 1, (uint64_t)p100, pct, &nchanged, &nzeroed);
        } else {
            judge(c, 0, 0, pct, &nchanged, &nzeroed);
        }
        /* The checking build counts both ways: they must agree. */
        KS_ASSERT(!c->upd_counted || (nchanged == c->upd_changed && nzeroed == c->upd_zeroed));
    } else {
        nchanged = c->upd_changed;
        nzeroed = c->upd_zeroed;
    }
    int shift = known > 0 && known >= (uint32_t)cfg->shift_min_known &&
                (double)nchanged * 100.0 > cfg->shift_skus_pct * known;
    int zero = active > 0 && active >= (uint32_t)cfg->zero_min_active &&
               (double)nzeroed * 100.0 > cfg->zero_skus_pct * active;
    if (shift || zero) {
        int fresh;
        struct ks_incident *inc =
            corrupt(e, c, at, &fresh, zero, shift, known, active, nchanged, nzeroed);
        ks_guard_corrupt(e, c, inc, at, fresh);
        /* The orders on the channel since the update's first event, placed
         * while it was arriving, are part of the impact. */
        ks_det_recent_impact(e, inc, c->upd_first, (uint32_t)(c - e->ch), at);
    } else {
        ks_guard_update(e, c, at);
    }
    c->upd_open = 0;
    c->upd_n = 0;
    c->upd_counted = 0;
    c->upd_batch = KS_NONE;
    if (c->upd_cap > (1u << 16)) {
        /* A full-catalogue update's list (MBs) is not kept between updates:
         * with many channels it would be most of the memory after the pairs. */
        ks_free(c->upd_skus);
        c->upd_skus = NULL;
        c->upd_cap = 0;
    }
}

void ks_det_accept_updates(struct ks_engine *e, struct ks_incident *inc)
{
    uint64_t n = 0;
    for (size_t k = 0; k < inc->channels.n; k++) {
        struct ks_channel *c = &e->ch[inc->channels.v[k]];
        /* Another open corruption incident's flagged values stay flagged. */
        uint8_t *others = ks_guard_others(c, inc->id);
        ks_guard_held_accept(c, inc->id); /* resolved without a rollback: the values stand */
        for (uint32_t s = 0; s < c->cap; s++) {
            struct ks_pair *p = &c->pairs[s];
            if ((p->flags & KS_PAIR_SUSPECT) && !(c->upd_open && p->stamp == c->upd_seq) &&
                ks_guard_mine(others, s)) {
                ks_det_accept_pair(c, p);
                n++;
            }
        }
        ks_free(others);
    }
    char a[32];
    ks_inc_tl(e, inc, inc->resolved_at != KS_TIME_NONE ? inc->resolved_at : e->clock, KS_TL_ACTION,
              "kintsugi", "The flagged quantities of %s SKUs are now the last known good reference",
              ks_fmt_count(n, a));
}

/* Inventory events; their updates close here too. Per-channel state only:
 * the pairs and the open update are written with the channel. */
const struct ks_part ks_part_updates = {
    .name = "distribution_shift, zero_spike",
    .events = KS_EVBIT(KS_EV_INVENTORY),
    .event = inventory_event,
};
