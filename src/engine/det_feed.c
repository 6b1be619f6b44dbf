/*
 * det_feed.c - `feed_rejects`: at each line of a source, of that source's
 * lines in (t - 10 min, t], accepted or rejected, at least 100, and more
 * than 5 % rejected. t is the engine clock after the line (rejected lines
 * do not move it), so each source's records arrive in time order and the
 * window is a run-length queue pruned from the front.
 */
#include "engine_int.h"

#include <string.h>

static struct ks_feedsrc *src_get(struct ks_engine *e, uint32_t source)
{
    if (source == e->last_fs_src) {
        return &e->fs[e->last_fs];
    }
    int added;
    uint64_t *v = ks_map64_put(&e->fs_index, (uint64_t)source + 1, &added);
    e->last_fs_src = source;
    if (!added) {
        e->last_fs = (size_t)*v;
        return &e->fs[*v];
    }
    KS_GROW(e->fs, e->capfs, e->nfs + 1);
    *v = e->nfs;
    e->last_fs = e->nfs;
    struct ks_feedsrc *f = &e->fs[e->nfs++];
    memset(f, 0, sizeof(*f));
    f->source = source;
    return f;
}

/* The condition became true: open or join the source's incident. Kept out of
 * line so that the per-line path stays small. */
static void __attribute__((noinline)) fire(struct ks_engine *e, struct ks_feedsrc *f,
                                           uint32_t source, ks_time t, uint64_t total)
{
    const struct ks_config *cfg = e->cfg;
    struct ks_incident *inc = ks_inc_open_get(e, f->incident);
    int fresh = !inc;
    const char *name = ks_intern_str(&e->strs, source);
    char w[32];
    ks_duration_fmt(cfg->feed_window, w);
    if (fresh) {
        ks_time first = t;
        for (size_t i = f->head; i < f->n; i++) {
            if (ks_feed_at(f, i)->rej) {
                first = ks_feed_at(f, i)->t;
                break;
            }
        }
        inc = ks_inc_open(e, KS_IT_FEED_SCHEMA_CHANGE, KS_P2, first, t);
        inc->key_a = source;
        f->incident = inc->id;
        ks_u32set_add(&inc->sources, source);
    }
    ks_inc_signal(e, inc, KS_DET_FEED_REJECTS, t, (double)f->rej / (double)total,
                  cfg->feed_pct / 100.0, "%llu of %llu lines from %s rejected in the last %s",
                  (unsigned long long)f->rej, (unsigned long long)total, name, w);
    if (fresh) {
        char pct[32];
        ks_fmt_pct_above(100.0 * (double)f->rej / (double)total, cfg->feed_pct, pct);
        ks_inc_set_title(inc, "Feed rejects from %s at %s %% (%llu of %llu lines in %s)", name,
                         pct, (unsigned long long)f->rej, (unsigned long long)total, w);
        char fam[300];
        snprintf(fam, sizeof(fam), "feed_schema_change:%s", name);
        ks_inc_set_fingerprint(e, inc, fam, NULL);
    }
}

/* A full ring twice the size, each record at its place in the new one. */
static void __attribute__((noinline)) ring_grow(struct ks_feedsrc *f)
{
    size_t nc = f->cap ? f->cap * 2 : 8;
    struct ks_feed_rec *v = ks_malloc(nc * sizeof(*v));
    for (size_t i = f->head; i < f->n; i++) {
        v[i & (nc - 1)] = *ks_feed_at(f, i);
    }
    ks_free(f->rec);
    f->rec = v;
    f->cap = nc;
}

void ks_det_feed_line(struct ks_engine *e, uint32_t source, int rejected, ks_time t)
{
    const struct ks_config *cfg = e->cfg;
    struct ks_feedsrc *f = src_get(e, source);
    if (f->n > f->head && ks_feed_at(f, f->n - 1)->t == t) {
        ks_feed_at(f, f->n - 1)->acc += (uint32_t)!rejected;
        ks_feed_at(f, f->n - 1)->rej += (uint32_t)rejected;
    } else {
        if (f->n - f->head == f->cap) {
            ring_grow(f);
        }
        *ks_feed_at(f, f->n) = (struct ks_feed_rec){t, (uint32_t)!rejected, (uint32_t)rejected};
        f->n++;
    }
    f->acc += (uint64_t)!rejected;
    f->rej += (uint64_t)rejected;
    ks_feed_prune(f, t - cfg->feed_window);
    if (f->rej == 0) {
        f->firing = 0;
        return;
    }
    uint64_t total = f->acc + f->rej;
    int cond = total >= (uint64_t)cfg->feed_min_lines && (double)f->rej * 100.0 > cfg->feed_pct * total;
    if (cond && !f->firing) {
        fire(e, f, source, t, total);
    }
    f->firing = cond;
}

/* The window as an eager prune would leave it (ks_feed_live). */
static void save(const struct ks_engine *e, struct ks_wr *w)
{
    ks_wr_u64(w, e->nfs);
    for (size_t i = 0; i < e->nfs; i++) {
        const struct ks_feedsrc *f = &e->fs[i];
        size_t live = ks_feed_live(f, e->cfg->feed_window);
        ks_wr_u32(w, f->source);
        ks_wr_u64(w, f->n - live);
        /* In order: the ring's records from live up to its end, then those
         * that wrapped around to its start. */
        size_t a = f->cap ? live & (f->cap - 1) : 0, left = f->n - live;
        size_t first = left < f->cap - a ? left : f->cap - a;
        if (left) {
            ks_wr_bytes(w, f->rec + a, first * sizeof(*f->rec));
            ks_wr_bytes(w, f->rec, (left - first) * sizeof(*f->rec));
        }
        ks_wr_u32(w, (uint32_t)f->firing);
        ks_wr_i64(w, f->incident);
    }
}

static void load(struct ks_engine *e, struct ks_rd *r)
{
    size_t nfs = ks_rd_count(r, 16);
    for (size_t i = 0; i < nfs && !ks_rd_bad(r); i++) {
        KS_GROW(e->fs, e->capfs, e->nfs + 1);
        struct ks_feedsrc *f = &e->fs[e->nfs++];
        memset(f, 0, sizeof(*f));
        f->source = ks_rd_u32(r);
        size_t nrec = ks_rd_count(r, sizeof(*f->rec));
        KS_GROW(f->rec, f->cap, nrec + 1); /* a power of two, as the ring needs */
        ks_rd_bytes(r, f->rec, nrec * sizeof(*f->rec));
        f->n = nrec;
        for (size_t k = 0; k < nrec; k++) {
            /* Times an event can carry (years 0000-9999), in order: the
             * window's arithmetic relies on it. */
            ks_time t = f->rec[k].t;
            if (t < -62167219200000LL || t > 253402300799999LL || (k && t < f->rec[k - 1].t)) {
                ks_rd_fail(r);
                break;
            }
            f->acc += f->rec[k].acc;
            f->rej += f->rec[k].rej;
        }
        f->firing = (int)ks_rd_u32(r);
        f->incident = ks_rd_i64(r);
        *ks_map64_put(&e->fs_index, (uint64_t)f->source + 1, NULL) = i;
    }
}

/* Fed by the engine's entry points (every line, accepted or rejected), not
 * by events of a type. */
const struct ks_part ks_part_feed = {
    .name = "feed_rejects",
    .save = save,
    .load = load,
};
