/*
 * det_volume.c - `volume_drop`: at every whole UTC minute m, a channel's
 * inventory events in (m - 60 min, m] are fewer than 50 % of its average
 * hourly count over (m - 7 d, m] (the hours of history capped at 168), once
 * it has 24 h of history.
 *
 * Events are counted in per-minute buckets of a ring (bucket k holds events
 * with ts in ((k-1) min, k min]); the hour and week sums are kept running as
 * the evaluated minute advances, so each minute costs O(1) however long the
 * windows are.
 *
 * A channel whose windows are both empty after a minute's evaluation stops
 * its minute timer (vol_dormant): until its next inventory event every
 * minute would find the same empty windows, and the condition (fewer than
 * pct % of nothing) false. That event evaluates the minutes skipped in one
 * step and arms the timer again, so a jump of the clock costs at most one
 * baseline of minutes per channel, not one evaluation per minute skipped.
 */
#include "engine_int.h"

#include <string.h>

static int64_t minute_ceil(ks_time ts)
{
    int64_t q = ts / KS_MIN;
    if (ts % KS_MIN != 0 && ts > 0) {
        q++;
    }
    return q;
}

static int64_t ring_size(const struct ks_channel *c)
{
    return c->cfg->volume_baseline / KS_MIN + 64;
}

static uint64_t bucket(const struct ks_channel *c, int64_t k)
{
    int64_t r = ring_size(c);
    int64_t s = ((k % r) + r) % r;
    return c->vol_minute[s] == k ? c->vol_count[s] : 0;
}

/* The first inventory event of a dormant channel. The minutes after the
 * last evaluated one whose timers would have fired (those before the
 * clock's, which has moved to this event's ts if it is the later) would
 * each have found both windows empty: the condition false, which sets
 * vol_firing to 0 at the first of them with min_history - since history only
 * grows, the last of them decides. Then the timer runs again from the
 * clock's minute, with the sums (0) of the last minute evaluated. The timer
 * is armed anew: at a minute where several channels' timers are due, it
 * fires after those that never stopped (ties go by arming order). */
static void volume_wake(struct ks_engine *e, struct ks_channel *c)
{
    int64_t last = minute_ceil(e->clock) - 1;
    if (last > c->vol_last_eval) {
        c->vol_last_eval = last;
        if (last * KS_MIN - c->first_inv >= c->cfg->volume_min_history) {
            c->vol_firing = 0;
        }
    }
    c->vol_dormant = 0;
    ks_eng_timer(e, (c->vol_last_eval + 1) * KS_MIN, KS_TM_VOLUME, (uint32_t)(c - e->ch), 0);
}

/* The rest of ks_det_volume_count (engine_int.h): the first event of a
 * channel, a new minute, or a late event. */
void ks_det_volume_bucket(struct ks_engine *e, struct ks_channel *c, ks_time ts)
{
    int64_t r = ring_size(c);
    int64_t k = minute_ceil(ts);
    int64_t wmin = c->cfg->volume_window / KS_MIN, bmin = c->cfg->volume_baseline / KS_MIN;
    if (!c->vol_count) {
        c->vol_count = ks_calloc((size_t)r, sizeof(uint32_t));
        c->vol_minute = ks_malloc((size_t)r * sizeof(int64_t));
        for (int64_t i = 0; i < r; i++) {
            c->vol_minute[i] = INT64_MIN;
        }
        c->first_inv = ts;
        c->vol_last_eval = k - 1;
        c->vol_dormant = 0;
        ks_eng_timer(e, k * KS_MIN, KS_TM_VOLUME, (uint32_t)(c - e->ch), 0);
    } else if (c->vol_dormant) {
        volume_wake(e, c);
    }
    if (ts < c->first_inv) {
        c->first_inv = ts;
    }
    if (k <= c->vol_last_eval - bmin) {
        return; /* older than any window still to be evaluated */
    }
    int64_t s = ((k % r) + r) % r;
    if (c->vol_minute[s] != k) {
        c->vol_minute[s] = k;
        c->vol_count[s] = 0;
    }
    c->vol_count[s]++;
    c->vol_min = k;
    c->vol_slot = s;
    c->vol_lo = (k - 1) * KS_MIN;
    c->vol_hi = k * KS_MIN;
    if (k <= c->vol_last_eval) {
        /* A late event inside windows already summed. */
        c->vol_hour += k > c->vol_last_eval - wmin;
        c->vol_week += k > c->vol_last_eval - bmin;
    }
}

static void volume_fire(struct ks_engine *e, struct ks_channel *c, ks_time due)
{
    const struct ks_channel_cfg *cfg = c->cfg;
    int64_t m = due / KS_MIN;
    if (!c->vol_count || m != c->vol_last_eval + 1) {
        return;
    }
    int64_t wmin = cfg->volume_window / KS_MIN, bmin = cfg->volume_baseline / KS_MIN;
    c->vol_hour += bucket(c, m) - bucket(c, m - wmin);
    c->vol_week += bucket(c, m) - bucket(c, m - bmin);
    c->vol_last_eval = m;
    if (c->vol_hour == 0 && c->vol_week == 0) {
        /* Both windows empty, and no event after m yet (the clock has not
         * passed m): nothing changes until the next one (volume_wake). */
        c->vol_dormant = 1;
    } else {
        ks_eng_timer(e, due + KS_MIN, KS_TM_VOLUME, (uint32_t)(c - e->ch), 0);
    }

    ks_time hist = due - c->first_inv;
    if (hist < cfg->volume_min_history) {
        return;
    }
    if (hist > cfg->volume_baseline) {
        hist = cfg->volume_baseline;
    }
    /* hour < pct % of (week / hours) * window, in exact arithmetic */
    long double lhs = (long double)c->vol_hour * 100.0L * (long double)hist;
    long double rhs = (long double)cfg->volume_drop_pct * (long double)c->vol_week *
                      (long double)cfg->volume_window;
    int cond = lhs < rhs;
    if (!cond || c->vol_firing) {
        c->vol_firing = cond;
        return;
    }
    c->vol_firing = 1;
    double avg = (double)c->vol_week * (double)cfg->volume_window / (double)hist;
    struct ks_incident *inc = ks_inc_open_get(e, c->vol_incident);
    int fresh = !inc;
    const char *chname = ks_intern_str(&e->strs, c->name);
    if (fresh) {
        inc = ks_inc_open(e, KS_IT_VOLUME_DROP, KS_P3, due - cfg->volume_window, due);
        inc->key_a = c->name;
        c->vol_incident = inc->id;
        ks_u32set_add(&inc->channels, (uint32_t)(c - e->ch));
    }
    char a[32], w[32];
    ks_duration_fmt(cfg->volume_window, w);
    ks_inc_signal(e, inc, KS_DET_VOLUME_DROP, due, avg > 0 ? (double)c->vol_hour / avg : 0,
                  cfg->volume_drop_pct / 100.0,
                  "%s sent %s inventory events in the last %s against an average of %.1f "
                  "(less than %g %%)",
                  chname, ks_fmt_count(c->vol_hour, a), w, avg, cfg->volume_drop_pct);
    if (fresh) {
        /* Whole above 10, else one decimal: "average 0" read as a false alarm. */
        ks_inc_set_title(inc, "Inventory volume drop on %s (%s events in the last %s, average %.*f)",
                         chname, ks_fmt_count(c->vol_hour, a), w, avg >= 10 ? 0 : avg >= 1 ? 1 : 2,
                         avg);
        char fam[300];
        snprintf(fam, sizeof(fam), "volume_drop:%s", chname);
        ks_inc_set_fingerprint(e, inc, fam, NULL);
        /* The orders on the channel in the window the drop was measured
         * over are part of the impact. */
        ks_det_recent_impact(e, inc, inc->started_at, (uint32_t)(c - e->ch), due);
    }
}

static void volume_timer(struct ks_engine *e, const struct ks_timer *t)
{
    if (t->ref < e->nch) {
        volume_fire(e, &e->ch[t->ref], t->due);
    }
}

/* Counted from inventory events (ks_det_volume_count); per-channel state
 * only (written with the channel). */
const struct ks_part ks_part_volume = {
    .name = "volume_drop",
    .timers = KS_TMBIT(KS_TM_VOLUME),
    .timer = volume_timer,
};
