/*
 * guard.c - the guard of SPEC section 5: per channel, the quantities
 * kintsugi lets through (the guarded feed) and, per (channel, SKU), the last
 * known good quantity.
 *
 * An update reaches the feed only when it closes clean, so the values of a
 * corrupt update never do. A paused channel holds its clean updates in
 * arrival order; release lets them through in that order. Values of a
 * corrupt update are held too, marked with their incident, and leave the
 * queue only by rollback (discarded, recorded) or accept (let through):
 * nothing held is dropped silently.
 *
 * While a corruption incident is open, the SKUs its corrupt updates changed
 * are watched one by one (per-SKU holding): a later value that still differs
 * from the last known good one the corrupt way is held at the last known
 * good quantity, whatever the update as a whole looks like, until a value in
 * the normal range arrives, a person accepts it, or the incident is resolved.
 */
#include "engine_int.h"

#include <string.h>

static const char *why_names[] = {"update",   "release",  "phantom_stock", "low_stock",
                                  "rollback", "accepted", "zero_channel"};

const char *ks_feed_why_name(enum ks_feed_why w)
{
    return (unsigned)w < sizeof(why_names) / sizeof(why_names[0]) ? why_names[w] : "?";
}

size_t ks_engine_feed(const struct ks_engine *e, const struct ks_feed_effect **out)
{
    *out = e->feed;
    return e->nfeed;
}

const char *ks_engine_name(const struct ks_engine *e, uint32_t id)
{
    return id < e->strs.n ? ks_intern_str(&e->strs, id) : "?";
}

const char *ks_engine_sku(const struct ks_engine *e, uint32_t id)
{
    return id < e->skus.n ? ks_intern_str(&e->skus, id) : "?";
}

void ks_guard_push(struct ks_engine *e, struct ks_channel *c, uint32_t sku, uint32_t qty,
                   ks_time at, enum ks_feed_why why, int64_t incident)
{
    struct ks_pair *p = &c->pairs[sku];
    if ((p->flags & KS_PAIR_GUARDED) && p->guarded == qty) {
        return; /* the feed carries changes only */
    }
    p->guarded = qty;
    p->flags |= KS_PAIR_GUARDED;
    struct ks_feed_effect fe = {c->name, sku, qty, at, ++c->feed_seq, (uint8_t)why, incident};
    if (e->feed_sink) {
        e->feed_sink(e->feed_ctx, &fe);
        return;
    }
    KS_GROW(e->feed, e->capfeed, e->nfeed + 1);
    e->feed[e->nfeed++] = fe;
}

void ks_engine_feed_sink(struct ks_engine *e, ks_feed_sink_fn fn, void *ctx)
{
    e->feed_sink = fn;
    e->feed_ctx = ctx;
}

/* Room for n more held values of incident (0: clean), which join the last
 * run when it is of the same incident. */
static void hold_begin(struct ks_channel *c, int64_t incident, size_t n)
{
    KS_GROW(c->held, c->capheld, c->nheld + n);
    if (n && (c->nruns == 0 || c->runs[c->nruns - 1].incident != incident)) {
        KS_GROW(c->runs, c->capruns, c->nruns + 1);
        c->runs[c->nruns++] = (struct ks_held_run){incident, c->nheld};
    }
}

/* One held value, in the room hold_begin made. */
static inline void hold(struct ks_channel *c, uint32_t sku, uint32_t qty)
{
    c->held[c->nheld++] = (struct ks_held){sku, qty};
}

/* Where run r of c's held values ends. */
static size_t run_end(const struct ks_channel *c, size_t r)
{
    return r + 1 < c->nruns ? (size_t)c->runs[r + 1].start : c->nheld;
}

void ks_guard_held_accept(struct ks_channel *c, int64_t incident)
{
    size_t nr = 0;
    for (size_t r = 0; r < c->nruns; r++) {
        int64_t now = c->runs[r].incident == incident ? 0 : c->runs[r].incident;
        if (nr > 0 && c->runs[nr - 1].incident == now) {
            continue; /* joins the run before: its values follow on */
        }
        c->runs[nr++] = (struct ks_held_run){now, c->runs[r].start};
    }
    c->nruns = nr;
}

/* Drops c's held values of incident, keeping the others in order (with
 * apply 0, only counts them). Returns how many. */
static uint64_t held_discard(struct ks_channel *c, int64_t incident, int apply)
{
    uint64_t dropped = 0;
    size_t keep = 0, nr = 0;
    for (size_t r = 0; r < c->nruns; r++) {
        size_t a = (size_t)c->runs[r].start, b = run_end(c, r);
        int64_t inc = c->runs[r].incident;
        if (inc == incident) {
            dropped += b - a;
            continue;
        }
        if (!apply) {
            continue;
        }
        memmove(c->held + keep, c->held + a, (b - a) * sizeof(*c->held));
        if (nr == 0 || c->runs[nr - 1].incident != inc) {
            c->runs[nr++] = (struct ks_held_run){inc, keep};
        }
        keep += b - a;
    }
    if (apply) {
        c->nheld = keep;
        c->nruns = nr;
    }
    return dropped;
}

/* Whether a person approved zeroing the whole of stale channel c (the
 * zero_channel step of its sync incident is done, or left to a person when
 * its hook could not be called: the feed is zeroed either way, whenever the
 * hook's outcome came). */
static int zeroed_whole(const struct ks_engine *e, const struct ks_channel *c)
{
    const struct ks_incident *inc = ks_inc_open_get(e, c->stale_incident);
    int i = inc ? ks_pb_index(inc, "zero_channel") : -1;
    return i >= 0 && (inc->steps[i].status == KS_SS_DONE || inc->steps[i].status == KS_SS_LEFT) &&
           ks_u32set_has(&inc->channels, (uint32_t)(c - e->ch));
}

/* The values of the update go through: they become the reference, then the
 * feed or the queue. While the channel's sync is stale, what containment
 * zeroed stays zero (SPEC 5): a low-stock value goes out as 0, and every
 * value once a person approved zeroing the channel; the ok sync that ends
 * the staleness lets the latest values through (ks_guard_sync_again). */
static inline __attribute__((always_inline)) void update_through(struct ks_engine *e,
                                                                 struct ks_channel *c, ks_time at)
{
    /* One pass over the update: the reference, then the feed or the queue,
     * with room for every value made once. */
    if (c->paused) {
        hold_begin(c, 0, c->upd_n);
    } else {
        KS_GROW(e->feed, e->capfeed, e->nfeed + c->upd_n);
    }
    int stale = c->stale && !c->paused && ks_inc_open_get(e, c->stale_incident);
    int whole = stale && zeroed_whole(e, c);
    uint32_t low = stale && c->cfg->low_stock > 0 ? (uint32_t)c->cfg->low_stock : 0;
    for (size_t i = 0; i < c->upd_n; i++) {
        uint32_t sku = c->upd_skus[i];
        struct ks_pair *p = &c->pairs[sku];
        ks_det_accept_pair(c, p);
        if (c->paused) {
            hold(c, sku, p->cur);
        } else {
            p->flags &= ~(uint32_t)KS_PAIR_RISEN; /* a clean value verifies it */
            uint32_t v = p->cur;
            enum ks_feed_why why = KS_WHY_UPDATE;
            int64_t by = 0;
            if (__builtin_expect(stale, 0) && v > 0 && (whole || v <= low)) {
                why = whole ? KS_WHY_ZERO_CHANNEL : KS_WHY_LOW_STOCK;
                v = 0;
                by = c->stale_incident;
            }
            if (!((p->flags & KS_PAIR_GUARDED) && p->guarded == v)) {
                ks_guard_push(e, c, sku, v, at, why, by);
            }
        }
    }
}

size_t ks_guard_sync_again(struct ks_engine *e, struct ks_channel *c, ks_time at)
{
    size_t n = 0;
    if (c->paused) {
        return 0; /* the pause holds them; its release sends them */
    }
    for (uint32_t s = 0; s < c->cap; s++) {
        struct ks_pair *p = &c->pairs[s];
        uint32_t f = p->flags;
        if ((f & KS_PAIR_GUARDED) && (f & KS_PAIR_CUR) && p->guarded == 0 && p->cur > 0 &&
            !(f & (KS_PAIR_SUSPECT | KS_PAIR_RISEN | KS_PAIR_WATCHED))) {
            ks_guard_push(e, c, s, p->cur, at, KS_WHY_UPDATE, 0);
            n++;
        }
    }
    return n;
}

void ks_guard_update(struct ks_engine *e, struct ks_channel *c, ks_time at)
{
    /* Only a channel with SKUs of an open corruption incident looks at them
     * one by one; every other update goes straight through. */
    if (__builtin_expect(c->n_watch != 0, 0)) {
        ks_guard_hold_skus(e, c, NULL, at, 0);
    }
    update_through(e, c, at);
}

/* ---- per-SKU holding ---------------------------------------------------------------- */

void ks_guard_recount(struct ks_channel *c)
{
    c->n_watch = c->n_hold = 0;
    for (uint32_t s = 0; s < c->cap; s++) {
        c->n_watch += (c->pairs[s].flags / KS_PAIR_WATCH) & 1;
        c->n_hold += (c->pairs[s].flags / KS_PAIR_HELD) & 1;
    }
}

/* p is affected by open corruption incident `incident`: its corrupt value
 * rose (up) or fell. A later incident's corrupt value makes the SKU its. */
static void watch(struct ks_channel *c, struct ks_pair *p, int up, int64_t incident)
{
    if (!(p->flags & KS_PAIR_WATCH)) {
        p->flags |= KS_PAIR_WATCH;
        c->n_watch++;
    }
    uint32_t owner = incident > 0 && incident <= (int64_t)KS_PAIR_OWNER_MAX ? (uint32_t)incident
                                                                            : 0;
    p->flags = (p->flags & ~(uint32_t)(KS_PAIR_WATCH_UP | KS_PAIR_OWNER)) |
               (up ? (uint32_t)KS_PAIR_WATCH_UP : 0u) | owner << KS_PAIR_OWNER_SHIFT;
}

/* The incident that watches p (0: not named). */
static int64_t owner_of(const struct ks_pair *p)
{
    return (int64_t)((p->flags & KS_PAIR_OWNER) >> KS_PAIR_OWNER_SHIFT);
}

static void mark(uint8_t **bits, uint32_t cap, uint32_t s)
{
    if (!*bits) {
        *bits = ks_calloc((cap + 7) / 8, 1);
    }
    (*bits)[s >> 3] |= (uint8_t)(1u << (s & 7));
}

uint8_t *ks_guard_others(const struct ks_channel *c, int64_t id)
{
    uint8_t *bits = NULL;
    for (uint32_t s = 0; s < c->cap && c->n_watch; s++) {
        int64_t o = owner_of(&c->pairs[s]);
        if ((c->pairs[s].flags & KS_PAIR_WATCH) && o && o != id) {
            mark(&bits, c->cap, s);
        }
    }
    return bits;
}

static void unhold(struct ks_channel *c, struct ks_pair *p)
{
    if (p->flags & KS_PAIR_HELD) {
        p->flags &= ~(uint32_t)KS_PAIR_HELD;
        c->n_hold--;
    }
}

static void unwatch(struct ks_channel *c, struct ks_pair *p)
{
    unhold(c, p);
    if (p->flags & KS_PAIR_WATCH) {
        c->n_watch--;
    }
    p->flags &= ~(uint32_t)KS_PAIR_WATCHED;
}

/* Whether now still differs from p's last known good quantity the way its
 * corrupt value did: zero where it was positive, or beyond the channel's
 * change threshold in the same direction. */
static int same_way(const struct ks_channel *c, const struct ks_pair *p, uint32_t now)
{
    if (p->flags & KS_PAIR_WATCH_UP) {
        return now > p->good && ks_det_changed(c, p->good, now);
    }
    return now < p->good && (now == 0 || ks_det_changed(c, p->good, now));
}

/* Whether a known SKU's value in a corrupt update is one the update
 * corrupted: zero where it was positive, or beyond the change threshold. */
static int corrupt_way(const struct ks_channel *c, const struct ks_pair *p)
{
    return (p->flags & KS_PAIR_KNOWN) && p->cur != p->good &&
           (p->cur == 0 || ks_det_changed(c, p->good, p->cur));
}

/* The open corruption incident that covers channel c (the newest), or NULL. */
static struct ks_incident *watch_incident(const struct ks_engine *e, const struct ks_channel *c)
{
    uint32_t idx = (uint32_t)(c - e->ch);
    for (size_t i = e->ninc; i-- > 0;) {
        struct ks_incident *inc = e->inc[i];
        if (inc->type == KS_IT_DATA_CORRUPTION && inc->status != KS_ST_RESOLVED &&
            ks_u32set_has(&inc->channels, idx)) {
            return inc;
        }
    }
    return NULL;
}

/* Whether pair p of c is in c's update that is still open (its value is not
 * judged yet). */
static int in_open_update(const struct ks_channel *c, const struct ks_pair *p)
{
    return c->upd_open && p->stamp == c->upd_seq;
}

/* p's value (cur) goes to the channel: at once, or behind the held values
 * while the channel is paused. */
static void let_through(struct ks_engine *e, struct ks_channel *c, uint32_t sku, ks_time at,
                        enum ks_feed_why why, int64_t incident)
{
    struct ks_pair *p = &c->pairs[sku];
    if (c->paused) {
        hold_begin(c, 0, 1);
        hold(c, sku, p->cur);
    } else {
        p->flags &= ~(uint32_t)KS_PAIR_RISEN;
        ks_guard_push(e, c, sku, p->cur, at, why, incident);
    }
}

/* Ends the per-SKU holding on c without a person's word on the values (no
 * open corruption incident covers c any more): values held per SKU are
 * dropped, the channel keeps the last known good quantity. */
static uint64_t unwatch_channel(struct ks_channel *c)
{
    uint64_t dropped = 0;
    for (uint32_t s = 0; s < c->cap && (c->n_watch || c->n_hold); s++) {
        struct ks_pair *p = &c->pairs[s];
        if (!(p->flags & KS_PAIR_WATCHED)) {
            continue;
        }
        if ((p->flags & KS_PAIR_HELD) && !in_open_update(c, p)) {
            p->cur = p->good;
            dropped++;
        }
        unwatch(c, p);
    }
    return dropped;
}

/* The timeline entries of one update's close, per incident whose SKUs it
 * held or let back (an update can touch the SKUs of two incidents). */
#define KS_HOLDERS 4
struct holder {
    struct ks_incident *inc;
    uint64_t nheld, nback;
    struct ks_buf held, back;
};

static struct holder *holder_of(const struct ks_engine *e, struct holder *h, size_t *n,
                                struct ks_incident *fallback, const struct ks_pair *p)
{
    struct ks_incident *inc = NULL;
    int64_t o = owner_of(p);
    if (o) {
        inc = ks_inc_open_get(e, o);
    }
    if (!inc) {
        inc = fallback;
    }
    for (size_t i = 0; i < *n; i++) {
        if (h[i].inc == inc) {
            return &h[i];
        }
    }
    if (*n == KS_HOLDERS) {
        return &h[0];
    }
    h[*n] = (struct holder){.inc = inc};
    return &h[(*n)++];
}

#define KS_HOLD_LIST 10 /* values named in a timeline entry */

void ks_guard_hold_skus(struct ks_engine *e, struct ks_channel *c, struct ks_incident *inc,
                        ks_time at, int corrupt_update)
{
    struct ks_incident *newest = inc ? inc : watch_incident(e, c);
    if (!newest) {
        unwatch_channel(c); /* nothing open watches them any more */
        return;
    }
    size_t keep = 0, nh = 0;
    uint64_t nheld = 0;
    struct holder hs[KS_HOLDERS];
    for (size_t i = 0; i < c->upd_n; i++) {
        uint32_t sku = c->upd_skus[i];
        struct ks_pair *p = &c->pairs[sku];
        int bad = corrupt_update ? corrupt_way(c, p)
                                 : (p->flags & KS_PAIR_WATCH) && same_way(c, p, p->cur);
        if (bad) {
            if (corrupt_update) {
                /* After the rollback these values are known bad, not flagged for a
                 * person's decision: resolving drops them. */
                watch(c, p, p->cur > p->good, inc->id);
                p->flags &= ~(uint32_t)KS_PAIR_SUSPECT;
            }
            c->n_hold += !(p->flags & KS_PAIR_HELD) ? 1u : 0u;
            p->flags |= KS_PAIR_HELD;
            nheld++;
            struct holder *h = corrupt_update ? holder_of(e, hs, &nh, inc, &(struct ks_pair){0})
                                              : holder_of(e, hs, &nh, newest, p);
            if (h->nheld++ < KS_HOLD_LIST) {
                ks_buf_printf(&h->held, "%s%s %u (kept at %u)", h->nheld > 1 ? ", " : "",
                              ks_intern_str(&e->skus, sku), p->cur, p->good);
            }
            continue; /* out of the update: the channel keeps p->good */
        }
        if (p->flags & KS_PAIR_HELD) {
            /* A value in the normal range: it goes through as usual. The SKU
             * stays watched while its incident is open: a source that sends
             * the corrupt value again is held again. */
            struct holder *h = holder_of(e, hs, &nh, newest, p);
            if (h->nback++ < KS_HOLD_LIST) {
                ks_buf_printf(&h->back, "%s%s %u", h->nback > 1 ? ", " : "",
                              ks_intern_str(&e->skus, sku), p->cur);
            }
            unhold(c, p);
        }
        c->upd_skus[keep++] = sku;
    }
    c->upd_n = keep;
    const char *chname = ks_intern_str(&e->strs, c->name);
    const char *batch =
        c->upd_batch != KS_NONE ? ks_intern_str(&e->strs, c->upd_batch) : "(no batch)";
    const char *src =
        c->upd_source != KS_NONE ? ks_intern_str(&e->strs, c->upd_source) : "(not named)";
    if (corrupt_update) {
        char a[32], b[32], more[48] = "";
        if (nheld > KS_HOLD_LIST) {
            snprintf(more, sizeof(more), " and %s more", ks_fmt_count(nheld - KS_HOLD_LIST, a));
        }
        const char *list = "";
        for (size_t k = 0; k < nh; k++) {
            if (hs[k].inc == inc && hs[k].held.p) {
                list = hs[k].held.p; /* every value held here is inc's */
            }
        }
        ks_inc_tl(e, inc, at, KS_TL_ACTION, "kintsugi",
                  "Update %s of %s from source %s is corrupt again after the rollback: %s %s "
                  "held at their last known good quantity (%s%s), the other %s go through as a "
                  "clean update's would; the channel is not paused again",
                  batch, chname, src, ks_fmt_count(nheld, a), nheld == 1 ? "value" : "values",
                  list, more, ks_fmt_count(keep, b));
    }
    for (size_t k = 0; k < nh; k++) {
        struct holder *h = &hs[k];
        char a[32], more[48] = "";
        if (h->nheld > KS_HOLD_LIST) {
            snprintf(more, sizeof(more), " and %s more",
                     ks_fmt_count(h->nheld - KS_HOLD_LIST, a));
        }
        if (h->nheld && !corrupt_update) {
            ks_inc_tl(e, h->inc, at, KS_TL_ACTION, "kintsugi",
                      "%s %s of update %s of %s held at their last known good quantity: source "
                      "%s still sends them the corrupt way (%s%s)",
                      ks_fmt_count(h->nheld, a), h->nheld == 1 ? "value" : "values", batch,
                      chname, src, h->held.p, more);
        }
        if (h->nback) {
            ks_inc_tl(e, h->inc, at, KS_TL_ACTION, "kintsugi",
                      "%s %s of %s held per SKU %s back in the normal range in update %s (%s%s): "
                      "%s through; %s still watched while the incident is open",
                      ks_fmt_count(h->nback, a), h->nback == 1 ? "SKU" : "SKUs", chname,
                      h->nback == 1 ? "is" : "are", batch, h->back.p,
                      h->nback > KS_HOLD_LIST ? ", ..." : "",
                      h->nback == 1 ? "its value goes" : "their values go",
                      h->nback == 1 ? "it is" : "they are");
        }
        ks_buf_fini(&h->held);
        ks_buf_fini(&h->back);
    }
}

void ks_guard_unwatch_resolved(struct ks_engine *e, struct ks_incident *inc, ks_time at)
{
    for (size_t k = 0; k < inc->channels.n; k++) {
        struct ks_channel *c = &e->ch[inc->channels.v[k]];
        if (!c->n_watch && !c->n_hold) {
            continue;
        }
        uint64_t watched = 0, dropped = 0, let = 0;
        uint8_t *others = ks_guard_others(c, inc->id); /* another open incident's */
        for (uint32_t s = 0; s < c->cap; s++) {
            struct ks_pair *p = &c->pairs[s];
            if (!(p->flags & KS_PAIR_WATCHED) || !ks_guard_mine(others, s)) {
                continue;
            }
            if ((p->flags & KS_PAIR_HELD) && !in_open_update(c, p)) {
                if (p->flags & KS_PAIR_SUSPECT) {
                    /* A flagged value never rolled back: resolving makes it the
                     * reference (ks_det_accept_updates), so it goes out too. */
                    let_through(e, c, s, at, KS_WHY_ACCEPT, inc->id);
                    let++;
                } else {
                    p->cur = p->good;
                    dropped++;
                }
            }
            watched++;
            unwatch(c, p);
        }
        ks_free(others);
        char a[32], b[32];
        ks_inc_tl(e, inc, at, KS_TL_ACTION, "kintsugi",
                  "Resolved, so the source is taken as fixed: the per-SKU holding on %s ends (%s "
                  "SKUs no longer watched); %s values held per SKU since the rollback are dropped "
                  "and the channel keeps their last known good quantity%s",
                  ks_intern_str(&e->strs, c->name), ks_fmt_count(watched, a),
                  ks_fmt_count(dropped, b), let ? "; flagged values never rolled back become the "
                                                  "reference" : "");
    }
}

void ks_guard_pause(struct ks_engine *e, struct ks_channel *c, ks_time at, int64_t incident,
                    const char *why)
{
    (void)e;
    if (c->paused) {
        return;
    }
    c->paused = 1;
    c->paused_since = at;
    c->pause_incident = incident;
    ks_free(c->pause_why);
    c->pause_why = ks_strdup(why);
}

void ks_guard_corrupt(struct ks_engine *e, struct ks_channel *c, struct ks_incident *inc,
                      ks_time at, int fresh)
{
    if (inc->rolled_back) {
        /* A person already rolled this incident back: its source's corrupt
         * values are known bad. The changed SKUs are held one by one at their
         * last known good quantity, the rest goes through, nothing waits. */
        ks_guard_hold_skus(e, c, inc, at, 1);
        update_through(e, c, at);
        return;
    }
    const char *chname = ks_intern_str(&e->strs, c->name);
    char why[256];
    snprintf(why, sizeof(why), "incident %lld: data corruption on %s", (long long)inc->id, chname);
    /* SPEC 5: a corruption pauses every channel, at detection and again when
     * a later corrupt update joins the incident (after an accept or a
     * release, say). */
    size_t n = 0;
    struct ks_buf names = {0};
    for (size_t i = 0; i < e->nch; i++) {
        if (!e->ch[i].paused) {
            ks_guard_pause(e, &e->ch[i], at, inc->id, why);
            ks_buf_printf(&names, "%s%s", n++ ? ", " : "", ks_intern_str(&e->strs, e->ch[i].name));
        }
    }
    if (n == e->nch) {
        ks_inc_tl(e, inc, at, KS_TL_ACTION, "kintsugi",
                  "Paused outbound sync on all %zu %s (%s)%s; their updates are held, never "
                  "dropped",
                  n, n == 1 ? "channel" : "channels", names.p, fresh ? "" : " again");
    } else if (n) {
        ks_inc_tl(e, inc, at, KS_TL_ACTION, "kintsugi",
                  "Paused outbound sync on %s%s (the other %zu of the %zu channels were paused "
                  "already); their updates are held, never dropped",
                  names.p, fresh ? "" : " again", e->nch - n, e->nch);
    } else if (fresh) {
        ks_inc_tl(e, inc, at, KS_TL_ACTION, "kintsugi",
                  "Outbound sync was paused already on all %zu %s; their updates stay held, "
                  "never dropped",
                  e->nch, e->nch == 1 ? "channel" : "channels");
    }
    ks_buf_fini(&names);
    if (fresh) {
        ks_pb_mark(e, inc, "pause_all", KS_SS_DONE, "kintsugi", at, NULL);
    }
    uint32_t up = 0, down = 0, fresh_skus = 0, zeroed = 0;
    hold_begin(c, inc->id, c->upd_n);
    for (size_t i = 0; i < c->upd_n; i++) {
        uint32_t sku = c->upd_skus[i];
        struct ks_pair *p = &c->pairs[sku];
        hold(c, sku, p->cur);
        unhold(c, p); /* its value waits in the held update now */
        if (corrupt_way(c, p)) {
            watch(c, p, p->cur > p->good, inc->id); /* later values are judged one by one */
        }
        if (!(p->flags & KS_PAIR_KNOWN)) {
            fresh_skus++;
        } else if (p->cur > p->good) {
            up++;
            p->flags |= KS_PAIR_RISEN;
            if ((p->flags & KS_PAIR_GUARDED) && p->guarded != 0) {
                zeroed++;
            }
            ks_guard_push(e, c, sku, 0, at, KS_WHY_PHANTOM, inc->id);
        } else if (p->cur < p->good) {
            down++;
        }
    }
    char a[32], b[32];
    ks_inc_tl(e, inc, at, KS_TL_ACTION, "kintsugi",
              "Zeroed %s SKUs on %s whose quantity rose (phantom stock, oversell risk); holding "
              "%s SKUs whose quantity fell at their last known good value; none of the update's "
              "values reached the channel",
              ks_fmt_count(up, a), chname, ks_fmt_count(down, b));
    ks_pb_mark(e, inc, "zero_risen", KS_SS_DONE, "kintsugi", at, NULL);
    ks_pb_mark(e, inc, "hold_fallen", KS_SS_DONE, "kintsugi", at, NULL);
    char first[32], last[32];
    ks_time_fmt(c->upd_first, first);
    ks_time_fmt(at, last);
    ks_inc_tl(e, inc, at, KS_TL_NOTE, "kintsugi",
              "Lineage: update %s of %s from source %s, first event %s, closed %s: %u SKUs "
              "up, %u down, %u new",
              c->upd_batch != KS_NONE ? ks_intern_str(&e->strs, c->upd_batch) : "(no batch)",
              chname, c->upd_source != KS_NONE ? ks_intern_str(&e->strs, c->upd_source)
                                               : "(not named)",
              first, last, up, down, fresh_skus);
    ks_pb_mark(e, inc, "lineage", KS_SS_DONE, "kintsugi", at, NULL);
    if (inc->status == KS_ST_INVESTIGATING) {
        inc->status = KS_ST_CONTAINED;
        inc->contained_at = at;
        struct ks_tl *t = ks_inc_tl(e, inc, at, KS_TL_STATUS, "kintsugi",
                                    "Status contained: the bad values are held and cannot "
                                    "reach any channel");
        t->status = KS_ST_CONTAINED;
    }
}

/* ---- people's guard commands ---------------------------------------------------- */

static struct ks_channel *channel_named(struct ks_engine *e, const char *name, struct ks_err *err)
{
    uint32_t id = ks_intern_find(&e->strs, name, strlen(name));
    struct ks_channel *c = id == UINT32_MAX ? NULL : ks_eng_channel_find(e, id);
    if (!c) {
        ks_err_set(err, KS_ENOTFOUND, "no channel '%s' (channels are known from inventory and "
                                      "sync events)",
                   name);
    }
    return c;
}

/* A person's command at `at`: the clock moves there first (refused beyond
 * the horizon); *at becomes the time to record. */
static enum ks_rc stamp(struct ks_engine *e, ks_time *at, struct ks_err *err)
{
    if (ks_eng_at(e, *at, err) != KS_OK) {
        return err->rc;
    }
    *at = e->clock == KS_TIME_NONE ? 0 : e->clock;
    return KS_OK;
}

enum ks_rc ks_engine_guard_pause(struct ks_engine *e, const char *channel, const char *by,
                                 ks_time at, struct ks_err *err)
{
    if (stamp(e, &at, err) != KS_OK) {
        return err->rc;
    }
    char why[160];
    snprintf(why, sizeof(why), "paused by %s", by);
    for (size_t i = 0; i < e->nch; i++) {
        struct ks_channel *c = &e->ch[i];
        if (!channel || strcmp(ks_intern_str(&e->strs, c->name), channel) == 0) {
            ks_guard_pause(e, c, at, 0, why);
        }
    }
    if (channel && !channel_named(e, channel, err)) {
        return err->rc;
    }
    return KS_OK;
}

/* The open incident whose corrupt values a channel still holds, or NULL. */
static struct ks_incident *unresolved_hold(const struct ks_engine *e, const struct ks_channel *c)
{
    for (size_t r = 0; r < c->nruns; r++) {
        if (c->runs[r].incident) {
            return ks_inc_get(e, c->runs[r].incident);
        }
    }
    return NULL;
}

static void release(struct ks_engine *e, struct ks_channel *c, const char *by, ks_time at)
{
    size_t n = c->nheld;
    for (size_t i = 0; i < c->nheld; i++) {
        struct ks_pair *p = &c->pairs[c->held[i].sku];
        p->flags &= ~(uint32_t)KS_PAIR_RISEN;
        ks_guard_push(e, c, c->held[i].sku, c->held[i].qty, at, KS_WHY_RELEASE, 0);
    }
    c->nheld = 0;
    c->nruns = 0;
    c->paused = 0;
    struct ks_incident *inc = ks_inc_open_get(e, c->pause_incident);
    if (inc) {
        char a[32];
        ks_inc_tl(e, inc, at, KS_TL_ACTION, by, "Released %s: %s held values let through in order",
                  ks_intern_str(&e->strs, c->name), ks_fmt_count(n, a));
        int all = 1;
        for (size_t k = 0; k < e->nch; k++) {
            all &= !(e->ch[k].paused && e->ch[k].pause_incident == inc->id);
        }
        if (all) {
            ks_pb_mark(e, inc, "release", KS_SS_DONE, by, at, NULL);
        }
    }
    c->pause_incident = 0;
    ks_free(c->pause_why);
    c->pause_why = NULL;
}

enum ks_rc ks_engine_guard_release(struct ks_engine *e, const char *channel, const char *by,
                                   ks_time at, struct ks_err *err)
{
    struct ks_channel *only = NULL;
    if (channel && !(only = channel_named(e, channel, err))) {
        return err->rc;
    }
    if (stamp(e, &at, err) != KS_OK) {
        return err->rc;
    }
    struct ks_buf refused = {0};
    for (size_t i = 0; i < e->nch; i++) {
        struct ks_channel *c = &e->ch[i];
        if ((only && c != only) || !c->paused) {
            continue;
        }
        struct ks_incident *inc = unresolved_hold(e, c);
        if (inc) {
            ks_buf_printf(&refused,
                          "%s%s holds values of the corrupt update of incident %lld: roll it back "
                          "(kintsugi guard rollback %lld) or accept it (kintsugi guard accept "
                          "%lld) first",
                          refused.len ? "; " : "", ks_intern_str(&e->strs, c->name),
                          (long long)inc->id, (long long)inc->id, (long long)inc->id);
            continue;
        }
        release(e, c, by, at);
    }
    enum ks_rc rc = KS_OK;
    if (refused.len) {
        rc = ks_err_set(err, KS_ESTATE, "%s", refused.p);
    }
    ks_buf_fini(&refused);
    return rc;
}

/* Whether a channel of inc still holds values of one of its corrupt updates. */
static int holds_run(const struct ks_engine *e, const struct ks_incident *inc)
{
    for (size_t k = 0; k < inc->channels.n; k++) {
        const struct ks_channel *c = &e->ch[inc->channels.v[k]];
        for (size_t r = 0; r < c->nruns; r++) {
            if (c->runs[r].incident == inc->id) {
                return 1;
            }
        }
    }
    return 0;
}

/* Values held per SKU on inc's channels for inc. */
static uint64_t held_skus(const struct ks_engine *e, const struct ks_incident *inc)
{
    uint64_t n = 0;
    for (size_t k = 0; k < inc->channels.n; k++) {
        const struct ks_channel *c = &e->ch[inc->channels.v[k]];
        if (!c->n_hold) {
            continue;
        }
        uint8_t *others = ks_guard_others(c, inc->id);
        for (uint32_t s = 0; s < c->cap; s++) {
            n += (c->pairs[s].flags & KS_PAIR_HELD) && ks_guard_mine(others, s);
        }
        ks_free(others);
    }
    return n;
}

/* The data_corruption incident id, if a rollback (accepting 0) or an accept
 * (1) has something to act on: a rolled-back or accepted incident only when
 * a later corrupt update of it is held again; an accept also after a
 * rollback (values held per SKU, or the statement that the source's values
 * are right). */
static struct ks_incident *corruption(struct ks_engine *e, int64_t id, int accepting,
                                      struct ks_err *err)
{
    struct ks_incident *inc = ks_inc_get(e, id);
    if (!inc) {
        ks_err_set(err, KS_ENOTFOUND, "no incident %lld", (long long)id);
        return NULL;
    }
    if (inc->type != KS_IT_DATA_CORRUPTION) {
        ks_err_set(err, KS_ESTATE, "incident %lld is a %s incident; only data_corruption "
                                   "incidents hold updates to roll back or accept",
                   (long long)id, ks_itype_name((enum ks_itype)inc->type));
        return NULL;
    }
    int decided = accepting ? inc->accepted : inc->rolled_back || inc->accepted;
    if (decided && !holds_run(e, inc) && !(accepting && held_skus(e, inc))) {
        ks_err_set(err, KS_ESTATE, "incident %lld was already %s", (long long)id,
                   inc->accepted ? "accepted" : "rolled back");
        return NULL;
    }
    return inc;
}

enum ks_rc ks_engine_guard_rollback(struct ks_engine *e, int64_t id, int dry_run, const char *by,
                                    ks_time at, struct ks_buf *report, struct ks_err *err)
{
    struct ks_incident *inc = corruption(e, id, 0, err);
    if (!inc) {
        return err->rc;
    }
    if (!dry_run && stamp(e, &at, err) != KS_OK) {
        return err->rc;
    }
    uint64_t discarded = 0, restored = 0, phantom = 0, unchanged = 0, replaced = 0;
    for (size_t k = 0; k < inc->channels.n; k++) {
        struct ks_channel *c = &e->ch[inc->channels.v[k]];
        /* Another corruption incident's SKUs are left to its own rollback. */
        uint8_t *others = ks_guard_others(c, id);
        discarded += held_discard(c, id, !dry_run);
        for (uint32_t s = 0; s < c->cap; s++) {
            struct ks_pair *p = &c->pairs[s];
            /* The incident's flagged SKUs, and the phantom-stock ones zeroed for
             * it even if a clean value (held) has replaced the flagged one since:
             * zeroing was containment until the rollback. */
            if (in_open_update(c, p) || !ks_guard_mine(others, s)) {
                continue;
            }
            if (!(p->flags & (KS_PAIR_SUSPECT | KS_PAIR_RISEN))) {
                /* An affected SKU whose source sent a clean value since: that
                 * value stands (a first rollback; a later one finds the SKUs of
                 * the first set back). */
                replaced += !inc->rolled_back &&
                            (p->flags & (KS_PAIR_WATCH | KS_PAIR_HELD)) == KS_PAIR_WATCH;
                continue;
            }
            if ((p->flags & KS_PAIR_KNOWN) &&
                (!(p->flags & KS_PAIR_GUARDED) || p->guarded != p->good)) {
                restored++;
                phantom += (p->flags & KS_PAIR_RISEN) != 0;
                if (!dry_run) {
                    ks_guard_push(e, c, s, p->good, at, KS_WHY_ROLLBACK, id);
                }
            } else if (p->flags & (KS_PAIR_WATCH | KS_PAIR_RISEN)) {
                unchanged++; /* an affected SKU the channel shows right already */
            }
            if (!dry_run) {
                /* The pipeline's value is reset too, unless a later value of the
                 * SKU is held per SKU (it stays held). */
                if ((p->flags & KS_PAIR_SUSPECT) && (p->flags & KS_PAIR_KNOWN) &&
                    !(p->flags & KS_PAIR_HELD)) {
                    p->cur = p->good;
                }
                p->flags &= ~(uint32_t)(KS_PAIR_SUSPECT | KS_PAIR_RISEN);
            }
        }
        ks_free(others);
    }
    char a[32], b[32], c3[32], d[32], u[32], ph[96] = "";
    if (phantom) {
        snprintf(ph, sizeof(ph), " (%s of them phantom-stock SKUs zeroed at detection)",
                 ks_fmt_count(phantom, c3));
    }
    ks_buf_printf(report,
                  "incident %lld: %s%s held corrupt %s discarded; %s %s set back to %s last "
                  "known good quantity%s, %s already there",
                  (long long)id, dry_run ? "(dry run) " : "", ks_fmt_count(discarded, a),
                  discarded == 1 ? "value" : "values", ks_fmt_count(restored, b),
                  restored == 1 ? "SKU" : "SKUs", restored == 1 ? "its" : "their", ph,
                  ks_fmt_count(unchanged, u));
    if (replaced) {
        ks_buf_printf(report, ", %s with a clean value from the source since (it stands)",
                      ks_fmt_count(replaced, u));
    }

    uint64_t nheld = held_skus(e, inc);
    if (nheld) {
        ks_buf_printf(report,
                      "; %s %s held per SKU %s at %s last known good quantity until a value in "
                      "the normal range arrives, a person accepts %s or the incident is resolved",
                      ks_fmt_count(nheld, d), nheld == 1 ? "value" : "values",
                      nheld == 1 ? "stays" : "stay", nheld == 1 ? "its" : "their",
                      nheld == 1 ? "it" : "them");
    }
    if (!dry_run) {
        inc->rolled_back = 1;
        ks_inc_tl(e, inc, at, KS_TL_ACTION, by, "Rolled back by %s: %s", by, report->p);
        ks_pb_mark(e, inc, "rollback", KS_SS_DONE, by, at, NULL);
    }
    return KS_OK;
}

enum ks_rc ks_engine_guard_accept(struct ks_engine *e, int64_t id, const char *by, ks_time at,
                                  struct ks_err *err)
{
    struct ks_incident *inc = corruption(e, id, 1, err);
    if (!inc) {
        return err->rc;
    }
    if (stamp(e, &at, err) != KS_OK) {
        return err->rc;
    }
    uint64_t n = 0, nheld = 0;
    for (size_t k = 0; k < inc->channels.n; k++) {
        struct ks_channel *c = &e->ch[inc->channels.v[k]];
        /* Another corruption incident's held and watched SKUs stay as they are. */
        uint8_t *others = ks_guard_others(c, id);
        ks_guard_held_accept(c, id); /* good values now, released in order */
        for (uint32_t s = 0; s < c->cap; s++) {
            struct ks_pair *p = &c->pairs[s];
            if (!ks_guard_mine(others, s)) {
                continue;
            }
            if (in_open_update(c, p)) {
                if (p->flags & KS_PAIR_WATCHED) {
                    unwatch(c, p); /* its value is judged as usual when the update closes */
                }
                continue;
            }
            uint32_t held = (p->flags & KS_PAIR_HELD) != 0;
            if ((p->flags & KS_PAIR_SUSPECT) || held) {
                ks_det_accept_pair(c, p);
                p->flags &= ~(uint32_t)KS_PAIR_RISEN;
                n++;
                nheld += held;
                if (!c->paused || held) {
                    /* A value held per SKU is in no queue: it goes behind them. */
                    let_through(e, c, s, at, KS_WHY_ACCEPT, id);
                }
            }
            if (p->flags & KS_PAIR_WATCHED) {
                unwatch(c, p); /* the person says the values are right: no more holding */
            }
        }
        ks_free(others);
    }
    inc->accepted = 1;
    char a[32], b[32];
    ks_inc_tl(e, inc, at, KS_TL_ACTION, by,
              "Accepted by %s: the flagged values are correct; %s SKUs take them as their last "
              "known good reference and are let through%s (%s of them held per SKU); the per-SKU "
              "holding ends",
              by, ks_fmt_count(n, a), " (in order, when their channel is released)",
              ks_fmt_count(nheld, b));
    return KS_OK;
}

/* ---- reading ----------------------------------------------------------------------- */

void ks_engine_guard_status_json(const struct ks_engine *e, struct ks_buf *out)
{
    struct ks_json j;
    ks_json_init(&j, out, 0);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "channels");
    ks_json_arr_begin(&j);
    for (size_t i = 0; i < e->nch; i++) {
        const struct ks_channel *c = &e->ch[i];
        ks_json_obj_begin(&j);
        ks_json_key(&j, "channel");
        ks_json_str(&j, ks_intern_str(&e->strs, c->name));
        ks_json_key(&j, "paused");
        ks_json_bool(&j, c->paused);
        ks_json_key(&j, "held");
        ks_json_int(&j, (int64_t)c->nheld);
        ks_json_key(&j, "since");
        ks_json_time(&j, c->paused ? c->paused_since : KS_TIME_NONE);
        ks_json_key(&j, "why");
        ks_json_str(&j, c->paused ? c->pause_why : NULL);
        ks_json_key(&j, "incident");
        if (c->paused && c->pause_incident) {
            ks_json_int(&j, c->pause_incident);
        } else {
            ks_json_null(&j);
        }
        ks_json_key(&j, "feed_cursor");
        ks_json_int(&j, (int64_t)c->feed_seq);
        /* Values held per SKU: what the source still sends, and the last
         * known good quantity the channel keeps instead. */
        ks_json_key(&j, "held_skus");
        ks_json_int(&j, c->n_hold);
        ks_json_key(&j, "held_values");
        ks_json_arr_begin(&j);
        for (uint32_t s = 0; s < c->cap && c->n_hold; s++) {
            const struct ks_pair *p = &c->pairs[s];
            if (!(p->flags & KS_PAIR_HELD)) {
                continue;
            }
            ks_json_obj_begin(&j);
            ks_json_key(&j, "sku");
            ks_json_str(&j, ks_intern_str(&e->skus, s));
            ks_json_key(&j, "held");
            ks_json_int(&j, p->cur);
            ks_json_key(&j, "last_good");
            ks_json_int(&j, p->good);
            ks_json_obj_end(&j);
        }
        ks_json_arr_end(&j);
        ks_json_obj_end(&j);
    }
    ks_json_arr_end(&j);
    ks_json_obj_end(&j);
}

enum ks_rc ks_engine_feed_state_json(const struct ks_engine *e, const char *channel,
                                     struct ks_buf *out, struct ks_err *err)
{
    uint32_t id = ks_intern_find(&e->strs, channel, strlen(channel));
    const struct ks_channel *c =
        id == UINT32_MAX ? NULL : ks_eng_channel_find((struct ks_engine *)e, id);
    if (!c) {
        return ks_err_set(err, KS_ENOTFOUND, "no channel '%s'", channel);
    }
    struct ks_json j;
    ks_json_init(&j, out, 0);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "channel");
    ks_json_str(&j, channel);
    ks_json_key(&j, "cursor");
    ks_json_int(&j, (int64_t)c->feed_seq);
    ks_json_key(&j, "skus");
    ks_json_arr_begin(&j);
    for (uint32_t s = 0; s < c->cap; s++) {
        const struct ks_pair *p = &c->pairs[s];
        if (!(p->flags & (KS_PAIR_GUARDED | KS_PAIR_KNOWN))) {
            continue;
        }
        ks_json_obj_begin(&j);
        ks_json_key(&j, "sku");
        ks_json_str(&j, ks_intern_str(&e->skus, s));
        ks_json_key(&j, "qty");
        if (p->flags & KS_PAIR_GUARDED) {
            ks_json_int(&j, p->guarded);
        } else {
            ks_json_null(&j);
        }
        ks_json_key(&j, "last_good");
        if (p->flags & KS_PAIR_KNOWN) {
            ks_json_int(&j, p->good);
        } else {
            ks_json_null(&j);
        }
        ks_json_obj_end(&j);
    }
    ks_json_arr_end(&j);
    ks_json_obj_end(&j);
    return KS_OK;
}
