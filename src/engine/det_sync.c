/*
 * det_sync.c - `sync_freshness`: a known channel has had no ok sync for more
 * than multiplier x its expected interval (2 x 15 min), counted from its last
 * ok sync. The timer is armed by the channel's first sync event (ok or
 * error): a channel that only ever fails is stale too; a channel that sends
 * no sync events at all is not watched for freshness.
 *
 * Also: a sync that names a batch closes the channel's open update.
 */
#include "engine_int.h"

#include <string.h>

static ks_time stale_after(const struct ks_channel *c)
{
    return (ks_time)((double)c->cfg->sync_interval * c->cfg->sync_multiplier + 0.5);
}

static void arm(struct ks_engine *e, struct ks_channel *c, ks_time due)
{
    if (c->fresh_due != KS_TIME_NONE && due <= c->fresh_due) {
        return;
    }
    c->fresh_due = due;
    ks_eng_timer(e, due, KS_TM_FRESH, (uint32_t)(c - e->ch), 0);
}

static void sync_event(struct ks_engine *e, const struct ks_event *ev)
{
    struct ks_channel *c = ks_eng_channel(e, ks_eng_str(e, ev->channel));
    if (ev->batch.p && c->upd_open) {
        ks_det_update_close(e, c, ev->ts);
    }
    if (ev->status == KS_SYNC_OK) {
        if (!c->ever_ok || ev->ts > c->last_ok) {
            c->last_ok = ev->ts;
        }
        c->ever_ok = 1;
        c->sync_seen = 1;
        memset(c->err_counts, 0, sizeof(c->err_counts));
        if (c->stale) {
            c->stale = 0;
            struct ks_incident *inc = ks_inc_open_get(e, c->stale_incident);
            if (inc) {
                ks_inc_tl(e, inc, ev->ts, KS_TL_NOTE, "kintsugi", "%s: ok sync again",
                          ks_intern_str(&e->strs, c->name));
                size_t back = ks_guard_sync_again(e, c, ev->ts);
                if (back) {
                    char a[32];
                    ks_inc_tl(e, inc, ev->ts, KS_TL_ACTION, "kintsugi",
                              "%s SKUs zeroed while %s was stale have their latest quantity "
                              "again",
                              ks_fmt_count(back, a), ks_intern_str(&e->strs, c->name));
                }
            }
        }
        arm(e, c, c->last_ok + stale_after(c)); /* last_ok only grows: never earlier */
        return;
    }
    c->err_counts[ev->error]++;
    if (!c->sync_seen) {
        c->sync_seen = 1;
        c->last_ok = ev->ts; /* never ok: counted from the first sync */
        arm(e, c, ev->ts + stale_after(c));
    }
}

static void error_summary(const struct ks_channel *c, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (int k = 1; k < 6; k++) {
        if (c->err_counts[k] && o + 1 < cap) {
            o += (size_t)snprintf(out + o, cap - o, "%s%s x%u", o ? ", " : "; errors since: ",
                                  ks_sync_error_name((enum ks_sync_error)k), c->err_counts[k]);
        }
    }
}

static void fresh_fire(struct ks_engine *e, struct ks_channel *c, ks_time due)
{
    ks_time interval = c->cfg->sync_interval;
    c->fresh_due = KS_TIME_NONE;
    c->stale = 1;
    ks_time started = c->last_ok + interval;
    struct ks_incident *inc = NULL;
    for (size_t i = e->ninc; i-- > 0;) {
        struct ks_incident *o = e->inc[i];
        /* detected at most one expected interval before this deadline, and
         * not after it (a late event's deadline can be behind an incident
         * detected since) */
        if (o->type == KS_IT_SYNC_FAILURE && o->status != KS_ST_RESOLVED &&
            o->detected_at >= due - interval && o->detected_at <= due) {
            inc = o;
            break;
        }
    }
    int fresh = !inc;
    if (fresh) {
        inc = ks_inc_open(e, KS_IT_SYNC_FAILURE, KS_P3, started, due);
        inc->esc_due = due + c->cfg->sync_escalate;
        inc->esc_to = KS_P2;
        ks_eng_timer(e, inc->esc_due, KS_TM_ESC, 0, inc->id);
    } else if (started < inc->started_at) {
        inc->started_at = started;
    }
    ks_u32set_add(&inc->channels, (uint32_t)(c - e->ch));
    c->stale_incident = inc->id;
    const char *chname = ks_intern_str(&e->strs, c->name);
    char lim[32], last[32], errs[160];
    ks_duration_fmt(stale_after(c), lim);
    ks_time_fmt(c->last_ok, last);
    error_summary(c, errs, sizeof(errs));
    ks_inc_signal(e, inc, KS_DET_SYNC_FRESHNESS, due, (double)(due - c->last_ok) / KS_MIN,
                  (double)stale_after(c) / KS_MIN, "%s: no ok sync for more than %s (%s %s%s)",
                  chname, lim, c->ever_ok ? "last ok" : "never ok; first sync", last, errs);
    size_t nknown = ks_eng_known_channels(e);
    char chans[256];
    ks_inc_channel_list(e, inc, chans, sizeof(chans));
    if (nknown >= 2 && inc->channels.n == nknown) {
        ks_inc_raise(e, inc, KS_P1, due, "complete sync failure across all %zu channels", nknown);
        ks_inc_set_title(inc, "Complete sync failure across all %zu channels (%s)", nknown, chans);
    } else if (inc->channels.n > 1) {
        ks_inc_set_title(inc, "Sync stalled on %zu channels (%s)", inc->channels.n, chans);
    } else {
        ks_inc_set_title(inc, "Sync stalled on %s (no ok sync for more than %s)", chname, lim);
    }
    if (fresh) {
        char fam[300];
        snprintf(fam, sizeof(fam), "sync_failure:%s", chname);
        ks_inc_set_fingerprint(e, inc, fam, NULL);
    }
    ks_contain_stale(e, c, inc, due, fresh);
    /* The orders on the channel since its first missed sync, before this
     * detection, are part of the impact. */
    ks_det_recent_impact(e, inc, started, (uint32_t)(c - e->ch), due);
}

static void fresh_timer(struct ks_engine *e, const struct ks_timer *t)
{
    if (t->ref < e->nch && e->ch[t->ref].fresh_due == t->due) {
        fresh_fire(e, &e->ch[t->ref], t->due);
    }
}

/* Per-channel state only (written with the channel). */
const struct ks_part ks_part_sync = {
    .name = "sync_freshness",
    .events = KS_EVBIT(KS_EV_SYNC),
    .event = sync_event,
    .timers = KS_TMBIT(KS_TM_FRESH),
    .timer = fresh_timer,
};
