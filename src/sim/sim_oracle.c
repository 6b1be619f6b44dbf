/*
 * sim_oracle.c - the SPEC section 3 detectors re-stated over the simulator's
 * typed events, under the default configuration. The simulator feeds it every
 * event it writes; the incidents it opens, with their detection instants and
 * severity rises, are the ground truth.
 *
 * It is written for clarity against the SPEC text, not for speed or
 * generality: one stream in non-decreasing ts order (the simulator's), no
 * person ever acknowledges or resolves anything (a replay), every source
 * named. Time follows SPEC section 2: a timer fires when an accepted event
 * with a later ts arrives and records the deadline's own instant; a rejected
 * line neither moves the clock nor fires timers.
 */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

/* The defaults of SPEC section 3. */
#define SYNC_INTERVAL (15 * KS_MIN)
#define SYNC_STALE (2 * SYNC_INTERVAL)
#define SYNC_ESCALATE KS_HOUR
#define DOWN_AFTER (5 * KS_MIN)
#define DOWN_ESCALATE (15 * KS_MIN)
#define DOWN_GROUP (5 * KS_MIN)
#define VOLUME_MIN_HISTORY KS_DAY
#define VOLUME_CAP (168 * KS_HOUR)
#define VOLUME_WEEK_MINUTES (7 * 24 * 60)
#define REJ_WINDOW KS_HOUR
#define REJ_MIN 20
#define COMPLAINT_WINDOW KS_DAY
#define COMPLAINT_COUNT 10
#define FEED_WINDOW (10 * KS_MIN)
#define FEED_MIN 100
#define METRIC_BELOW 200 /* conversion_rate < 0.0200, in 1/10000 */

static const char *const itype_names[KS_SIM_NITYPES] = {
    "sync_failure",       "system_outage", "data_corruption", "volume_drop",
    "order_rejections",   "supplier_shortfall", "fulfillment_error", "feed_schema_change",
    "metric_anomaly",
};

static const char *const detector_names[KS_SIM_NDETECTORS] = {
    "sync_freshness",   "volume_drop",        "distribution_shift", "zero_spike",
    "order_rejections", "system_down",        "supplier_shortfall", "complaint_spike",
    "feed_rejects",     "metric_rule",
};

const char *ks_sim_itype_name(enum ks_sim_itype t)
{
    return (unsigned)t < KS_SIM_NITYPES ? itype_names[t] : NULL;
}

const char *ks_sim_detector_name(enum ks_sim_detector d)
{
    return (unsigned)d < KS_SIM_NDETECTORS ? detector_names[d] : NULL;
}

/* A window of (ts, flag) in arrival order: a ring that grows. */
struct window {
    ks_time *ts;
    uint8_t *flag;
    size_t cap, head, n, nflag;
};

static void win_push(struct window *w, ks_time t, int flag)
{
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 64;
        ks_time *ts = ks_malloc(nc * sizeof(*ts));
        uint8_t *fl = ks_malloc(nc);
        for (size_t i = 0; i < w->n; i++) {
            ts[i] = w->ts[(w->head + i) % w->cap];
            fl[i] = w->flag[(w->head + i) % w->cap];
        }
        ks_free(w->ts);
        ks_free(w->flag);
        w->ts = ts;
        w->flag = fl;
        w->cap = nc;
        w->head = 0;
    }
    size_t at = (w->head + w->n) % w->cap;
    w->ts[at] = t;
    w->flag[at] = (uint8_t)(flag != 0);
    w->n++;
    w->nflag += flag != 0;
}

/* Drops every entry with ts <= upto (the window is (upto, now]). */
static void win_evict(struct window *w, ks_time upto)
{
    while (w->n && w->ts[w->head] <= upto) {
        w->nflag -= w->flag[w->head];
        w->head = (w->head + 1) % w->cap;
        w->n--;
    }
}

static void win_fini(struct window *w)
{
    ks_free(w->ts);
    ks_free(w->flag);
}

struct ochan {
    int known;
    ks_time first_seen;
    ks_time last_ok;
    int fired; /* the staleness deadline since the last ok sync has fired */
    int stale;
    /* the open update */
    int open;
    uint32_t key;
    unsigned bflags;
    uint32_t batch;
    int usrc;
    uint32_t *ulist;
    size_t un, ucap;
    int32_t *uq;  /* SKU -> quantity in the open update, -1 absent */
    int32_t *ref; /* SKU -> last known good quantity, -1 unknown */
    int known_n, active_n;
    /* volume */
    ks_time first_inv;
    uint32_t *cnt; /* per minute bucket (b-1 min, b min] after base */
    uint32_t *cum;
};

struct osys {
    int known;
    ks_time first_seen, last_up;
    int fired, down;
};

struct opo {
    uint32_t po;
    int64_t exp, rec, dam, wrong;
    int inc; /* incident index or -1 */
};

struct ocomplaint {
    ks_time ts;
    int reason;
    uint32_t sku;
    int ch;
};

struct ks_sim_oracle {
    int nch, nsku, nloc;
    ks_time base;
    size_t nb; /* volume buckets */
    size_t next_tick;
    int ticking;
    int have_clock;
    ks_time clock;
    struct ochan ch[KS_SIM_MAX_CHANNELS];
    struct osys sys[1 + 8];
    struct ks_sim_incident *inc;
    size_t ninc, capinc;
    struct window orders;
    struct window feed[KS_SIM_NSRC];
    struct opo *po;
    size_t npo, cappo;
    struct ocomplaint *cmp;
    size_t ncmp, capcmp;
};

struct ks_sim_oracle *ks_sim_oracle_new(int channels, int skus, int locations, ks_time start,
                                        ks_time duration)
{
    KS_ASSERT(channels >= 1 && channels <= KS_SIM_MAX_CHANNELS);
    KS_ASSERT(locations >= 0 && locations <= 8);
    KS_ASSERT(skus >= 1);
    struct ks_sim_oracle *o = ks_calloc(1, sizeof(*o));
    o->nch = channels;
    o->nsku = skus;
    o->nloc = locations;
    o->base = start;
    o->nb = (size_t)(duration / KS_MIN) + 2;
    for (int c = 0; c < channels; c++) {
        struct ochan *h = &o->ch[c];
        h->first_seen = h->last_ok = h->first_inv = KS_TIME_NONE;
        h->uq = ks_malloc((size_t)skus * sizeof(int32_t));
        h->ref = ks_malloc((size_t)skus * sizeof(int32_t));
        memset(h->uq, 0xff, (size_t)skus * sizeof(int32_t));
        memset(h->ref, 0xff, (size_t)skus * sizeof(int32_t));
        h->cnt = ks_calloc(o->nb, sizeof(uint32_t));
        h->cum = ks_calloc(o->nb, sizeof(uint32_t));
    }
    for (int k = 0; k <= locations; k++) {
        o->sys[k].first_seen = o->sys[k].last_up = KS_TIME_NONE;
    }
    return o;
}

void ks_sim_oracle_free(struct ks_sim_oracle *o)
{
    if (!o) {
        return;
    }
    for (int c = 0; c < o->nch; c++) {
        ks_free(o->ch[c].ulist);
        ks_free(o->ch[c].uq);
        ks_free(o->ch[c].ref);
        ks_free(o->ch[c].cnt);
        ks_free(o->ch[c].cum);
    }
    ks_free(o->inc);
    win_fini(&o->orders);
    for (int s = 0; s < KS_SIM_NSRC; s++) {
        win_fini(&o->feed[s]);
    }
    ks_free(o->po);
    ks_free(o->cmp);
    ks_free(o);
}

size_t ks_sim_oracle_incidents(const struct ks_sim_oracle *o, const struct ks_sim_incident **out)
{
    *out = o->inc;
    return o->ninc;
}

const int32_t *ks_sim_oracle_ref(const struct ks_sim_oracle *o, int ch)
{
    KS_ASSERT(ch >= 0 && ch < o->nch);
    return o->ch[ch].ref;
}

/* ---- incidents ------------------------------------------------------------ */

static int open_incident(struct ks_sim_oracle *o, int type, int sev, ks_time at, int detector)
{
    KS_GROW(o->inc, o->capinc, o->ninc + 1);
    struct ks_sim_incident *i = &o->inc[o->ninc];
    memset(i, 0, sizeof(*i));
    i->type = type;
    i->severity = i->final_severity = sev;
    i->detected_at = at;
    i->detectors = 1u << detector;
    i->system = -1;
    i->source = -1;
    i->sku = -1;
    i->reason = -1;
    i->esc_at = KS_TIME_NONE;
    return (int)o->ninc++;
}

/* Raises incident j to sev at `at` if that is higher than it is. */
static void raise_to(struct ks_sim_oracle *o, int j, int sev, ks_time at)
{
    struct ks_sim_incident *i = &o->inc[j];
    if (sev >= i->final_severity) {
        return;
    }
    i->final_severity = sev;
    KS_ASSERT(i->nesc < KS_SIM_MAX_ESC);
    i->esc[i->nesc].at = at;
    i->esc[i->nesc].severity = sev;
    i->nesc++;
}

/* The newest incident of a type detected at or after `since` that matches. */
static int find_incident(struct ks_sim_oracle *o, int type, ks_time since, int system, int source)
{
    for (size_t k = o->ninc; k-- > 0;) {
        struct ks_sim_incident *i = &o->inc[k];
        if (i->type != type || i->detected_at < since) {
            continue;
        }
        if (system >= 0 && i->system != system) {
            continue;
        }
        if (source >= 0 && i->source != source) {
            continue;
        }
        return (int)k;
    }
    return -1;
}

static uint32_t known_channels(const struct ks_sim_oracle *o)
{
    uint32_t m = 0;
    for (int c = 0; c < o->nch; c++) {
        if (o->ch[c].known) {
            m |= 1u << c;
        }
    }
    return m;
}

static int popcount32(uint32_t v)
{
    int n = 0;
    for (; v; v &= v - 1) {
        n++;
    }
    return n;
}

/* Scope raises severity: every known channel, when at least two are known. */
static void scope_channels(struct ks_sim_oracle *o, int j, ks_time at)
{
    uint32_t known = known_channels(o);
    if (popcount32(known) >= 2 && (o->inc[j].channels & known) == known) {
        raise_to(o, j, 1, at);
    }
}

/* ---- timers ------------------------------------------------------------- */

static ks_time chan_deadline(const struct ochan *h)
{
    if (!h->known || h->fired) {
        return KS_TIME_NONE;
    }
    return (h->last_ok != KS_TIME_NONE ? h->last_ok : h->first_seen) + SYNC_STALE;
}

static ks_time sys_deadline(const struct osys *s)
{
    if (!s->known || s->fired) {
        return KS_TIME_NONE;
    }
    return (s->last_up != KS_TIME_NONE ? s->last_up : s->first_seen) + DOWN_AFTER;
}

static void fire_stale(struct ks_sim_oracle *o, int c, ks_time d)
{
    struct ochan *h = &o->ch[c];
    h->fired = 1;
    h->stale = 1;
    int j = find_incident(o, KS_SIM_I_SYNC_FAILURE, d - SYNC_INTERVAL, -1, -1);
    if (j < 0) {
        j = open_incident(o, KS_SIM_I_SYNC_FAILURE, 3, d, KS_SIM_D_SYNC_FRESHNESS);
        o->inc[j].esc_at = d + SYNC_ESCALATE;
        o->inc[j].esc_to = 2;
        o->inc[j].num = h->last_ok;
    }
    o->inc[j].channels |= 1u << c;
    scope_channels(o, j, d);
}

static void fire_down(struct ks_sim_oracle *o, int k, ks_time d)
{
    struct osys *s = &o->sys[k];
    s->fired = 1;
    s->down = 1;
    int system = k == 0 ? 0 : 1;
    int j = find_incident(o, KS_SIM_I_SYSTEM_OUTAGE, d - DOWN_GROUP, system, -1);
    if (j < 0) {
        j = open_incident(o, KS_SIM_I_SYSTEM_OUTAGE, 2, d, KS_SIM_D_SYSTEM_DOWN);
        o->inc[j].system = system;
        o->inc[j].esc_at = d + DOWN_ESCALATE;
        o->inc[j].esc_to = 1;
        o->inc[j].num = s->last_up != KS_TIME_NONE ? s->last_up : s->first_seen;
    }
    if (system == 1) {
        o->inc[j].locations |= 1u << (k - 1);
        /* Every known location of the system, when at least two are known. */
        uint32_t known = 0;
        for (int l = 0; l < o->nloc; l++) {
            if (o->sys[1 + l].known) {
                known |= 1u << l;
            }
        }
        if (popcount32(known) >= 2 && (o->inc[j].locations & known) == known) {
            raise_to(o, j, 1, d);
        }
    }
}

/* A time escalation: only if the condition still holds. */
static void fire_escalation(struct ks_sim_oracle *o, int j, ks_time d)
{
    struct ks_sim_incident *i = &o->inc[j];
    i->esc_at = KS_TIME_NONE;
    int holds = 0;
    if (i->type == KS_SIM_I_SYNC_FAILURE) {
        for (int c = 0; c < o->nch; c++) {
            if ((i->channels >> c & 1u) && o->ch[c].stale) {
                holds = 1;
            }
        }
    } else if (i->type == KS_SIM_I_SYSTEM_OUTAGE) {
        if (i->system == 0) {
            holds = o->sys[0].down;
        }
        for (int l = 0; i->system == 1 && l < o->nloc; l++) {
            if ((i->locations >> l & 1u) && o->sys[1 + l].down) {
                holds = 1;
            }
        }
    }
    if (holds) {
        raise_to(o, j, i->esc_to, d);
    }
}

static void volume_tick(struct ks_sim_oracle *o, size_t b)
{
    ks_time m = o->base + (ks_time)b * KS_MIN;
    for (int c = 0; c < o->nch; c++) {
        struct ochan *h = &o->ch[c];
        h->cum[b] = (b ? h->cum[b - 1] : 0) + h->cnt[b];
        if (h->first_inv == KS_TIME_NONE || m - h->first_inv < VOLUME_MIN_HISTORY) {
            continue;
        }
        int64_t hour = h->cum[b] - (b >= 60 ? h->cum[b - 60] : 0);
        int64_t week = h->cum[b] - (b >= VOLUME_WEEK_MINUTES ? h->cum[b - VOLUME_WEEK_MINUTES] : 0);
        int64_t hist = m - h->first_inv;
        if (hist > VOLUME_CAP) {
            hist = VOLUME_CAP;
        }
        /* hour < 50 % of week / (hist hours) */
        if (2 * hour * hist >= week * KS_HOUR) {
            continue;
        }
        int j = -1;
        for (size_t k = o->ninc; k-- > 0;) {
            if (o->inc[k].type == KS_SIM_I_VOLUME_DROP && o->inc[k].channels == (1u << c)) {
                j = (int)k;
                break;
            }
        }
        if (j < 0) {
            j = open_incident(o, KS_SIM_I_VOLUME_DROP, 3, m, KS_SIM_D_VOLUME_DROP);
            o->inc[j].channels = 1u << c;
            o->inc[j].num = hour;
            o->inc[j].den = week * 100 * KS_HOUR / hist; /* the average hour x 100 */
        }
    }
}

/* Fires, in deadline order, every timer due before t. */
static void run_timers(struct ks_sim_oracle *o, ks_time t)
{
    for (;;) {
        ks_time best = KS_TIME_NONE;
        int kind = -1, idx = -1;
        for (int c = 0; c < o->nch; c++) {
            ks_time d = chan_deadline(&o->ch[c]);
            if (d != KS_TIME_NONE && (best == KS_TIME_NONE || d < best)) {
                best = d, kind = 0, idx = c;
            }
        }
        for (int k = 0; k <= o->nloc; k++) {
            ks_time d = sys_deadline(&o->sys[k]);
            if (d != KS_TIME_NONE && (best == KS_TIME_NONE || d < best)) {
                best = d, kind = 1, idx = k;
            }
        }
        for (size_t j = 0; j < o->ninc; j++) {
            ks_time d = o->inc[j].esc_at;
            if (d != KS_TIME_NONE && (best == KS_TIME_NONE || d < best)) {
                best = d, kind = 2, idx = (int)j;
            }
        }
        if (o->ticking && o->next_tick < o->nb) {
            ks_time d = o->base + (ks_time)o->next_tick * KS_MIN;
            if (best == KS_TIME_NONE || d < best) {
                best = d, kind = 3, idx = 0;
            }
        }
        if (best == KS_TIME_NONE || best >= t) {
            return;
        }
        switch (kind) {
        case 0:
            fire_stale(o, idx, best);
            break;
        case 1:
            fire_down(o, idx, best);
            break;
        case 2:
            fire_escalation(o, idx, best);
            break;
        default:
            volume_tick(o, o->next_tick++);
            break;
        }
    }
}

/* ---- updates (distribution_shift, zero_spike) --------------------------- */

static void close_update(struct ks_sim_oracle *o, int c, ks_time t)
{
    struct ochan *h = &o->ch[c];
    if (!h->open) {
        return;
    }
    int64_t zeros = 0, changed = 0;
    for (size_t k = 0; k < h->un; k++) {
        uint32_t s = h->ulist[k];
        int32_t q = h->uq[s], r = h->ref[s];
        if (r < 0) {
            continue; /* new in the update: neither changed nor counted */
        }
        if (r > 0 && q == 0) {
            zeros++;
        }
        int64_t d = q > r ? (int64_t)q - r : (int64_t)r - q;
        if (2 * d > (r > 1 ? r : 1)) {
            changed++;
        }
    }
    int zero = h->active_n >= 20 && 10 * zeros > h->active_n;
    int shift = h->known_n >= 20 && 5 * changed > h->known_n;
    if (zero || shift) {
        int sev = zero ? 1 : 2;
        int j = find_incident(o, KS_SIM_I_DATA_CORRUPTION, INT64_MIN, -1, h->usrc);
        unsigned det = (zero ? 1u << KS_SIM_D_ZERO_SPIKE : 0) |
                       (shift ? 1u << KS_SIM_D_DISTRIBUTION_SHIFT : 0);
        if (j < 0) {
            j = open_incident(o, KS_SIM_I_DATA_CORRUPTION, sev, t,
                              zero ? KS_SIM_D_ZERO_SPIKE : KS_SIM_D_DISTRIBUTION_SHIFT);
            struct ks_sim_incident *i = &o->inc[j];
            i->source = h->usrc;
            i->num = zero ? zeros : changed;
            i->den = zero ? h->active_n : h->known_n;
            i->batch = h->batch;
            i->batch_flags = h->bflags;
        }
        o->inc[j].detectors |= det;
        o->inc[j].channels |= 1u << c;
        raise_to(o, j, sev, t);
        scope_channels(o, j, t);
        /* Judged corrupt: its quantities do not become the reference. */
    } else {
        for (size_t k = 0; k < h->un; k++) {
            uint32_t s = h->ulist[k];
            int32_t q = h->uq[s], r = h->ref[s];
            if (r < 0) {
                h->known_n++;
            }
            if (r > 0) {
                h->active_n--;
            }
            if (q > 0) {
                h->active_n++;
            }
            h->ref[s] = q;
        }
    }
    for (size_t k = 0; k < h->un; k++) {
        h->uq[h->ulist[k]] = -1;
    }
    h->un = 0;
    h->open = 0;
}

static void see_channel(struct ks_sim_oracle *o, int c, ks_time t)
{
    struct ochan *h = &o->ch[c];
    if (!h->known) {
        h->known = 1;
        h->first_seen = t;
    }
}

static void apply_inventory(struct ks_sim_oracle *o, const struct ks_sim_ev *ev)
{
    int c = ev->ch;
    struct ochan *h = &o->ch[c];
    see_channel(o, c, ev->ts);
    if (h->first_inv == KS_TIME_NONE) {
        h->first_inv = ev->ts;
    }
    if (ev->ts >= o->base) {
        size_t b = (size_t)((ev->ts - o->base + KS_MIN - 1) / KS_MIN);
        if (b < o->nb) {
            h->cnt[b]++;
        }
    }
    uint32_t key = ev->id | ((ev->flags & KS_SIM_EVF_CSV) ? 0x80000000u : 0);
    if (h->open && h->key != key) {
        close_update(o, c, ev->ts);
    }
    if (!h->open) {
        h->open = 1;
        h->key = key;
        h->batch = ev->id;
        h->bflags = ev->flags & KS_SIM_EVF_CSV;
        h->usrc = ev->src;
        h->un = 0;
    }
    KS_ASSERT(ev->sku < (uint32_t)o->nsku);
    if (h->uq[ev->sku] < 0) {
        KS_GROW(h->ulist, h->ucap, h->un + 1);
        h->ulist[h->un++] = ev->sku;
    }
    h->uq[ev->sku] = ev->qty;
}

static void apply_sync(struct ks_sim_oracle *o, const struct ks_sim_ev *ev)
{
    int c = ev->ch;
    struct ochan *h = &o->ch[c];
    see_channel(o, c, ev->ts);
    /* Naming the batch closes it; naming another closes it too. */
    close_update(o, c, ev->ts);
    if (ev->status == KS_SIM_SYNC_OK) {
        h->last_ok = ev->ts;
        h->fired = 0;
        h->stale = 0;
    }
}

static void apply_health(struct ks_sim_oracle *o, const struct ks_sim_ev *ev)
{
    KS_ASSERT(ev->loc <= o->nloc);
    struct osys *s = &o->sys[ev->loc];
    if (!s->known) {
        s->known = 1;
        s->first_seen = ev->ts;
    }
    if (ev->status == KS_SIM_HEALTH_UP) {
        s->last_up = ev->ts;
        s->fired = 0;
        s->down = 0;
    }
}

static void apply_order(struct ks_sim_oracle *o, const struct ks_sim_ev *ev)
{
    if (ev->status != KS_SIM_ORDER_ACCEPTED && ev->status != KS_SIM_ORDER_REJECTED) {
        return;
    }
    win_push(&o->orders, ev->ts, ev->status == KS_SIM_ORDER_REJECTED);
    win_evict(&o->orders, ev->ts - REJ_WINDOW);
    int64_t n = (int64_t)o->orders.n, r = (int64_t)o->orders.nflag;
    if (n >= REJ_MIN && 20 * r > n) {
        /* One at a time, globally: a replay never resolves it. */
        if (find_incident(o, KS_SIM_I_ORDER_REJECTIONS, INT64_MIN, -1, -1) < 0) {
            int j = open_incident(o, KS_SIM_I_ORDER_REJECTIONS, 2, ev->ts,
                                  KS_SIM_D_ORDER_REJECTIONS);
            o->inc[j].num = r;
            o->inc[j].den = n;
        }
    }
}

static void apply_receipt(struct ks_sim_oracle *o, const struct ks_sim_ev *ev)
{
    struct opo *p = NULL;
    for (size_t k = 0; k < o->npo; k++) {
        if (o->po[k].po == ev->id) {
            p = &o->po[k];
        }
    }
    if (!p) {
        KS_GROW(o->po, o->cappo, o->npo + 1);
        p = &o->po[o->npo++];
        memset(p, 0, sizeof(*p));
        p->po = ev->id;
        p->inc = -1;
    }
    p->exp += ev->qty;
    p->rec += ev->u.receipt.received;
    p->dam += ev->u.receipt.damaged;
    p->wrong += ev->u.receipt.wrong;
    int64_t sellable = p->rec - p->dam - p->wrong;
    int64_t short_ = p->exp - sellable;
    int sev = 0;
    if (short_ > 0 && p->exp > 0) {
        sev = 5 * short_ >= p->exp ? 2 : 3; /* shortage >= 20 % is P2 */
    }
    if (p->wrong > 0 || (p->dam > 0 && 2 * p->dam >= p->rec)) {
        sev = 2;
    }
    if (!sev) {
        return;
    }
    if (p->inc < 0) {
        p->inc = open_incident(o, KS_SIM_I_SUPPLIER_SHORTFALL, sev, ev->ts,
                               KS_SIM_D_SUPPLIER_SHORTFALL);
        o->inc[p->inc].po = p->po;
        o->inc[p->inc].num = short_ > 0 ? short_ : 0;
        o->inc[p->inc].den = p->exp;
    } else {
        raise_to(o, p->inc, sev, ev->ts);
    }
}

static void apply_complaint(struct ks_sim_oracle *o, const struct ks_sim_ev *ev)
{
    KS_GROW(o->cmp, o->capcmp, o->ncmp + 1);
    o->cmp[o->ncmp].ts = ev->ts;
    o->cmp[o->ncmp].reason = ev->aux;
    o->cmp[o->ncmp].sku = ev->sku;
    o->cmp[o->ncmp].ch = ev->ch;
    o->ncmp++;
    int n = 0;
    uint32_t channels = 0;
    for (size_t k = o->ncmp; k-- > 0 && o->cmp[k].ts > ev->ts - COMPLAINT_WINDOW;) {
        if (o->cmp[k].reason == ev->aux && o->cmp[k].sku == ev->sku) {
            n++;
            channels |= 1u << o->cmp[k].ch;
        }
    }
    if (n < COMPLAINT_COUNT) {
        return;
    }
    for (size_t k = 0; k < o->ninc; k++) {
        if (o->inc[k].type == KS_SIM_I_FULFILLMENT_ERROR && o->inc[k].reason == ev->aux &&
            o->inc[k].sku == (int64_t)ev->sku) {
            return;
        }
    }
    int j = open_incident(o, KS_SIM_I_FULFILLMENT_ERROR, 3, ev->ts, KS_SIM_D_COMPLAINT_SPIKE);
    o->inc[j].reason = ev->aux;
    o->inc[j].sku = ev->sku;
    o->inc[j].channels = channels; /* the complaints' channels (one, in the simulator) */
    o->inc[j].num = n;
}

static void feed_line(struct ks_sim_oracle *o, const struct ks_sim_ev *ev, int rejected)
{
    struct window *w = &o->feed[ev->src];
    win_push(w, ev->ts, rejected);
    win_evict(w, ev->ts - FEED_WINDOW);
    int64_t n = (int64_t)w->n, r = (int64_t)w->nflag;
    if (n >= FEED_MIN && 20 * r > n &&
        find_incident(o, KS_SIM_I_FEED_SCHEMA_CHANGE, INT64_MIN, -1, ev->src) < 0) {
        int j = open_incident(o, KS_SIM_I_FEED_SCHEMA_CHANGE, 2, ev->ts, KS_SIM_D_FEED_REJECTS);
        o->inc[j].source = ev->src;
        o->inc[j].num = r;
        o->inc[j].den = n;
    }
}

void ks_sim_oracle_feed(struct ks_sim_oracle *o, const struct ks_sim_ev *ev)
{
    KS_ASSERT(ev->src < KS_SIM_NSRC);
    if (ev->flags & KS_SIM_EVF_REJECTED) {
        feed_line(o, ev, 1);
        return;
    }
    if (o->have_clock) {
        run_timers(o, ev->ts);
    }
    if (!o->have_clock || ev->ts > o->clock) {
        o->clock = ev->ts;
    }
    if (!o->have_clock) {
        o->have_clock = 1;
        if (ev->ts >= o->base) {
            o->ticking = 1;
            o->next_tick = (size_t)((ev->ts - o->base + KS_MIN - 1) / KS_MIN);
        }
    }
    feed_line(o, ev, 0);
    switch (ev->type) {
    case KS_SIM_EV_INVENTORY:
        apply_inventory(o, ev);
        break;
    case KS_SIM_EV_SYNC:
        apply_sync(o, ev);
        break;
    case KS_SIM_EV_ORDER:
        apply_order(o, ev);
        break;
    case KS_SIM_EV_HEALTH:
        apply_health(o, ev);
        break;
    case KS_SIM_EV_RECEIPT:
        apply_receipt(o, ev);
        break;
    case KS_SIM_EV_COMPLAINT:
        apply_complaint(o, ev);
        break;
    case KS_SIM_EV_METRIC:
        if (ev->aux == KS_SIM_METRIC_CONVERSION && ev->qty < METRIC_BELOW &&
            find_incident(o, KS_SIM_I_METRIC_ANOMALY, INT64_MIN, -1, -1) < 0) {
            int j = open_incident(o, KS_SIM_I_METRIC_ANOMALY, 3, ev->ts, KS_SIM_D_METRIC_RULE);
            o->inc[j].num = ev->qty;
            o->inc[j].den = METRIC_BELOW;
        }
        break;
    default:
        break;
    }
}

void ks_sim_oracle_end(struct ks_sim_oracle *o)
{
    for (int c = 0; c < o->nch; c++) {
        close_update(o, c, o->clock);
    }
}
