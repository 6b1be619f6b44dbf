/*
 * engine_int.h - the engine's private state, shared by its files only.
 *
 * Invariants worth knowing before changing anything here:
 *  - All times are int64 ms (ks_time). The clock only moves forward.
 *  - Strings are interned: `skus` for SKUs (many), `strs` for everything
 *    else (channels, batches, sources, systems, locations, customers, ...).
 *  - Per (channel, SKU) state is a struct ks_pair in a dense array of the
 *    channel indexed by SKU id: no per-pair heap objects, no strings.
 *  - Timers live in one binary heap ordered by (deadline, seq); an entry is
 *    valid only while its owner still holds the same deadline (lazy
 *    cancellation), so re-arming never searches the heap.
 */
#ifndef KS_ENGINE_INT_H
#define KS_ENGINE_INT_H

#include "../alerts/alerts.h"
#include "engine.h"

#define KS_NONE UINT32_MAX

enum ks_itype {
    KS_IT_SYNC_FAILURE,
    KS_IT_VOLUME_DROP,
    KS_IT_DATA_CORRUPTION,
    KS_IT_ORDER_REJECTIONS,
    KS_IT_SYSTEM_OUTAGE,
    KS_IT_SUPPLIER_SHORTFALL,
    KS_IT_FULFILLMENT_ERROR,
    KS_IT_FEED_SCHEMA_CHANGE,
    KS_IT_METRIC_ANOMALY,
    KS_IT_EXTERNAL, /* opened by an alert from another tool (alert.c) */
    KS_IT__COUNT
};

enum ks_detector {
    KS_DET_SYNC_FRESHNESS,
    KS_DET_VOLUME_DROP,
    KS_DET_DISTRIBUTION_SHIFT,
    KS_DET_ZERO_SPIKE,
    KS_DET_ORDER_REJECTIONS,
    KS_DET_SYSTEM_DOWN,
    KS_DET_SUPPLIER_SHORTFALL,
    KS_DET_COMPLAINT_SPIKE,
    KS_DET_FEED_REJECTS,
    KS_DET_METRIC,
    KS_DET_PAGERDUTY,    /* a PagerDuty Events API v2 trigger (alert.c) */
    KS_DET_ALERTMANAGER, /* an alert of an Alertmanager webhook body (alert.c) */
    KS_DET__COUNT
};

enum ks_status { KS_ST_INVESTIGATING, KS_ST_CONTAINED, KS_ST_RESOLVING, KS_ST_RESOLVED };

enum ks_tl_kind {
    KS_TL_SIGNAL,
    KS_TL_ESCALATION,
    KS_TL_STATUS,
    KS_TL_ACTION,
    KS_TL_NOTIFICATION,
    KS_TL_NOTE,
    KS_TL_SLA
};

const char *ks_itype_name(enum ks_itype t);
const char *ks_detector_name(enum ks_detector d);
const char *ks_status_name(enum ks_status s);
int ks_status_parse(const char *s);
const char *ks_tl_kind_name(enum ks_tl_kind k);

/* ---- per (channel, SKU) ----------------------------------------------- */

#define KS_PAIR_CUR 1     /* a quantity has been pushed (cur is valid) */
#define KS_PAIR_KNOWN 2   /* good is valid: the SKU counts as known */
#define KS_PAIR_SUSPECT 4 /* cur came from an update judged corrupt */
#define KS_PAIR_GUARDED 8 /* guarded is valid: a quantity reached the channel */
#define KS_PAIR_RISEN 16  /* zeroed as phantom stock, until the rollback or a clean value */
/* Per-SKU holding (guard.c): while a data_corruption incident of the channel
 * is open, a SKU its corrupt update changed is WATCHed; a later value that
 * still differs from `good` the same way (zero where it was positive, or
 * beyond shift_change_pct in the direction of WATCH_UP) is HELD: it stays in
 * cur and the channel keeps `good`, whatever the update as a whole looks like. */
#define KS_PAIR_WATCH 32    /* affected by an open corruption incident */
#define KS_PAIR_WATCH_UP 64 /* its corrupt value rose (else it fell) */
#define KS_PAIR_HELD 128    /* cur is held per SKU at `good` */
/* The bits above the flags name the incident that watches the SKU (its id,
 * when below 2^24; 0: not named, as in states saved before, and then every
 * open corruption incident of the channel counts as watching it). Accept,
 * rollback and resolve act on their own incident's SKUs only. */
#define KS_PAIR_OWNER_SHIFT 8
#define KS_PAIR_OWNER_MAX 0xFFFFFFu
#define KS_PAIR_OWNER (KS_PAIR_OWNER_MAX << KS_PAIR_OWNER_SHIFT)
#define KS_PAIR_WATCHED (KS_PAIR_WATCH | KS_PAIR_WATCH_UP | KS_PAIR_HELD | KS_PAIR_OWNER)

/* 24 bytes. `good` is the last known good quantity: the reference updates
 * are judged against. `guarded` is what kintsugi let through to the channel
 * (the guarded feed). `stamp` is the sequence number of the update that
 * last touched the pair (dedupes a SKU seen twice in one update). `next` is
 * a hint, the id + 1 of the SKU that followed this one in the channel's
 * stream last time (0: none): full-catalog pushes repeat their order, so the
 * next SKU is checked against one adjacent string before any hashing. */
struct ks_pair {
    uint32_t cur;
    uint32_t good;
    uint32_t guarded;
    uint32_t stamp;
    uint32_t flags;
    uint32_t next;
};
_Static_assert(sizeof(struct ks_pair) == 24, "a pair stays 24 bytes (SPEC: <= 48)");

/* One update value held while its channel is paused. */
struct ks_held {
    uint32_t sku;
    uint32_t qty;
};
/* The held values, in arrival order, come in runs of one incident each:
 * run i is held[start, the next run's start or nheld). incident 0: values
 * of clean updates; else the values of a corrupt update of that incident
 * (suspect). Most runs are long (every clean update while paused joins
 * one), so a held value costs 8 bytes. */
struct ks_held_run {
    int64_t incident;
    uint64_t start;
};

/* ---- channels ------------------------------------------------------------ */

#define KS_VOL_RING 10240 /* minutes kept: 7 days + margin */

struct ks_channel {
    uint32_t name; /* strs id */
    const struct ks_channel_cfg *cfg;
    struct ks_pair *pairs; /* indexed by SKU id, cap entries */
    uint32_t cap;
    uint32_t ready; /* pairs [0, ready) have their pages (det_updates.c, pairs_room) */
    uint32_t n_tracked, n_known, n_active;

    /* The open update (distribution_shift, zero_spike). */
    int upd_open;
    uint32_t upd_batch;  /* strs id or KS_NONE */
    uint32_t upd_source; /* strs id or KS_NONE */
    uint32_t upd_seq;
    ks_time upd_first;
    uint32_t *upd_skus;
    size_t upd_n, upd_cap;
    /* What the close judges, counted as the values arrive: known SKUs changed
     * by more than shift_change_pct % and known SKUs gone to zero. Only the
     * inventory path (det_updates.c) touches the pairs of an open update, so
     * the counts stay exact; upd_counted is 0 when they are not there (an
     * update restored from a checkpoint), and the close counts afresh. */
    uint32_t upd_changed, upd_zeroed;
    int upd_counted;
    int64_t shift_p100; /* cfg->shift_change_pct * 100 when whole, else -1 */

    /* sync_freshness */
    int sync_seen;       /* a sync event has been seen: the timer is armed */
    int ever_ok;
    ks_time last_ok;     /* or the first sync when never ok */
    ks_time fresh_due;   /* KS_TIME_NONE when not armed */
    int stale;
    int64_t stale_incident;
    uint32_t err_counts[6]; /* sync errors by class since the last ok sync */
    ks_time last_inventory; /* is the source still generating events? */

    /* the guard */
    int paused;
    ks_time paused_since;
    int64_t pause_incident; /* 0 when paused by a person */
    char *pause_why;
    struct ks_held *held;
    size_t nheld, capheld;
    struct ks_held_run *runs;
    size_t nruns, capruns;
    uint64_t feed_seq; /* last change let through */
    /* Pairs with KS_PAIR_WATCH and KS_PAIR_HELD (not checkpointed: counted
     * again from the flags on load). n_watch 0 keeps every clean update on
     * the plain path. */
    uint32_t n_watch, n_hold;

    uint32_t last_sku; /* id of the channel's previous inventory SKU, KS_NONE at first */

    /* volume_drop: per-minute counts of inventory events. */
    ks_time first_inv;     /* KS_TIME_NONE until the first inventory event */
    ks_time vol_lo, vol_hi; /* (lo, hi]: the minute of vol_slot, a cache */
    int64_t vol_min;
    int64_t vol_slot;
    uint32_t *vol_count;   /* KS_VOL_RING entries */
    int64_t *vol_minute;   /* which minute each entry holds */
    int64_t vol_last_eval; /* last minute evaluated (sums are for it) */
    uint64_t vol_hour, vol_week;
    int vol_firing;
    int64_t vol_incident;
    /* No minute timer armed: the last evaluation found no event in either
     * window, and nothing can change until the channel's next inventory
     * event, which evaluates the minutes skipped at once (det_volume.c). */
    int vol_dormant;
};

/* ---- systems and locations ----------------------------------------------- */

struct ks_loc {
    uint32_t system, location; /* strs ids; location KS_NONE for none */
    const struct ks_system_cfg *cfg;
    int ever_up;
    ks_time first_check, last_up;
    ks_time down_due;
    int down;
    int64_t incident;
};

/* ---- windows ------------------------------------------------------------- */

/* A sorted sequence of timestamps with a value, pruned from the front. */
struct ks_tswin {
    ks_time *ts;
    double *val;
    uint32_t *ref, *ref2; /* e.g. order and customer strs ids */
    size_t head, n, cap;
};

struct ks_complaint_key {
    uint32_t reason, sku;
    struct ks_tswin win;
    int64_t incident;
};

/* feed_rejects: run-length records of lines per clock instant, in a ring:
 * records head..n-1 (counted from the source's first, never reset) are the
 * window, record i in rec[i & (cap - 1)], cap a power of two (or 0). A ring
 * keeps the window where it is: no moving it down, no array twice its size. */
struct ks_feed_rec {
    ks_time t;
    uint32_t acc, rej;
};
struct ks_feedsrc {
    uint32_t source;
    struct ks_feed_rec *rec;
    size_t head, n, cap;
    uint64_t acc, rej;
    int firing;
    int64_t incident;
};

struct ks_po {
    uint32_t po, supplier;
    int64_t expected, received, damaged, wrong;
    double missing_value;
    ks_time max_delay;
    int level; /* 0 none, 3 = P3, 2 = P2 */
    int64_t incident;
};

struct ks_metric_state {
    struct ks_tswin win;
    int firing;
    int64_t incident;
};

/* ---- the recent orders (recent.c) ---------------------------------------------
 * An incident begins before it is detected (its started_at: a stale
 * channel's first missed sync, an outage's last up check, a corrupt
 * update's first event, a volume drop's window), and the orders in between
 * are part of its impact (SPEC 3, "Impact"). The engine keeps what impact
 * needs of each order event that an incident could count - rejected,
 * cancelled or oversold on a known channel, or accepted at a location -
 * for the last `horizon` of event time, in arrival order, so that a
 * detector can count them when it opens or widens an incident
 * (ks_det_recent_impact). Pruned from the front by time (older than the
 * clock less the horizon) and by count; checkpointed (section RCT1). */
#define KS_RO_BAD 1      /* rejected or cancelled */
#define KS_RO_OVER 2     /* accepted, and a line asked for more than the stock of record */
#define KS_RO_ACCEPTED 4 /* accepted */
#define KS_RO_NOLINES 8  /* without lines: its SKUs cannot clear it */
#define KS_RO__ALL 15
/* One order event, with what its earlier events said (det_orders.c,
 * remember): what ks_inc_impact takes, and what decides which incidents
 * count it. */
struct ks_recent_order {
    ks_time ts;
    double value;
    int64_t units;
    uint32_t order, customer, email; /* strs ids; customer and email KS_NONE for none */
    uint32_t channel;                /* channel index, KS_NONE: not a known channel */
    uint32_t location;               /* strs id, KS_NONE for none */
    uint32_t flags;                  /* KS_RO_* */
    uint64_t sku_at; /* its lines' SKU ids (known SKUs only) are sku[sku_at - sku_base] ... */
    uint32_t nsku;   /* ... nsku of them */
    uint32_t pad;
};
_Static_assert(sizeof(struct ks_recent_order) == 64,
               "a recent order stays 64 bytes (DETECTORS.md)");
/* The maxima kept, powers of two: an array holds at most twice what it
 * keeps (recent.c, make_room), so at most 64 MiB of orders (64 bytes each)
 * and 16 MiB of SKU ids, 80 MiB in all however busy the shop. */
#define KS_RECENT_MAX (1u << 19)      /* order events kept at most */
#define KS_RECENT_SKUS_MAX (1u << 21) /* SKU ids of their lines kept at most */
#define KS_RECENT_HORIZON_MAX KS_DAY  /* however the thresholds are set */
/* Invariants: v[head, n) in arrival order, each order's SKU ids after those
 * of the orders before it; n - head <= KS_RECENT_MAX and the SKU ids from
 * v[head]'s on at most KS_RECENT_SKUS_MAX after each push; head == n only
 * when n == 0. */
struct ks_recent {
    struct ks_recent_order *v; /* the orders kept are v[head, n) */
    size_t head, n, cap;
    uint32_t *sku; /* their SKU ids, sku[0, nsku) */
    size_t nsku, capsku;
    uint64_t sku_base; /* how many SKU ids were dropped from the front of sku */
    ks_time horizon;   /* ks_recent_horizon of the configuration */
};
/* The look-back the detectors need: the longest span between an incident's
 * started_at and a detection that counts orders from it (a stale sync's
 * multiplier x interval and one more interval for a channel that joins,
 * volume_drop's window, an outage's down_after and group_within), of the
 * defaults and of every channel and system configured, at most
 * KS_RECENT_HORIZON_MAX. */
ks_time ks_recent_horizon(const struct ks_config *cfg);
/* Appends o (its sku_at and nsku are set here, to no SKU yet) after dropping
 * from the front the orders older than now - horizon and those beyond the
 * maxima, room SKU ids included; returns the copy kept, valid until the
 * next push. */
struct ks_recent_order *ks_recent_push(struct ks_recent *r, ks_time now,
                                       const struct ks_recent_order *o, size_t room);
/* Adds a SKU id to o, the order pushed last. */
void ks_recent_add_sku(struct ks_recent *r, struct ks_recent_order *o, uint32_t sku);
/* The SKU ids of o, o->nsku of them (NULL when none: before any order
 * with a known SKU the array is not even allocated). */
static inline const uint32_t *ks_recent_skus(const struct ks_recent *r,
                                             const struct ks_recent_order *o)
{
    return o->nsku ? r->sku + (o->sku_at - r->sku_base) : NULL;
}
void ks_recent_fini(struct ks_recent *r);

/* ---- incidents ----------------------------------------------------------- */

struct ks_signal {
    uint8_t detector;
    ks_time at;
    double value, threshold;
    char *text;
};

struct ks_tl {
    ks_time at;
    uint8_t kind;
    uint8_t severity, from; /* escalation, and the detection entry */
    int8_t status;          /* status entries, else -1 */
    uint8_t trig;           /* written by a message trigger (ks_engine_notification): it
                             * stays after the other entries of its instant */
    char *actor;
    char *text;
    char *why;
};

/* A small set of u32, kept sorted. */
struct ks_u32set {
    uint32_t *v;
    size_t n, cap;
};

enum ks_step_kind { KS_STEP_AUTO, KS_STEP_MANUAL, KS_STEP_APPROVAL };
enum ks_step_status {
    KS_SS_PENDING,
    KS_SS_DONE,
    KS_SS_SKIPPED,
    KS_SS_PROPOSED, /* waits for a person's approval */
    KS_SS_APPROVED,
    KS_SS_NA, /* does not apply to this incident (another branch of the procedure) */
    /* An automated step kintsugi asked a hook for, left to a person: the
     * hook is not configured, or gave up after its retries. A person ticks
     * it (done or skip); the playbook treats it as done, so that nothing
     * is asked for again and what follows does not depend on when the
     * hook's outcome came (docs/CONTAINMENT.md). The last value a
     * checkpoint may hold, from its version 12 (checkpoint.c). */
    KS_SS_LEFT
};
/* Whether kintsugi counts a step as taken care of: done, or left to a
 * person. Every path that decides whether to do or ask for a step again
 * asks this, not for KS_SS_DONE alone. */
static inline int ks_ss_taken(unsigned status)
{
    return status == KS_SS_DONE || status == KS_SS_LEFT;
}
enum ks_phase { KS_PH_CONTAIN, KS_PH_DIAGNOSE, KS_PH_RESOLVE, KS_PH_VERIFY };

/* A playbook step as data (playbook.c). */
struct ks_step_def {
    const char *key;
    uint8_t phase, kind;
    const char *action; /* hook/approval action name, or NULL */
    const char *text;
};

struct ks_step {
    uint8_t status;
    ks_time at;
    char *by;
    char *note;
};

/* An order that oversold during an incident (for cancellation/remediation). */
struct ks_oversold {
    uint32_t order, customer, channel;
    ks_time at;
    double value;
};

/* What the engine knows of one action item of an incident's review (the
 * text lives in the store): enough to remind when it is overdue and to
 * tell whether every item was closed when the incident repeats. */
struct ks_item_due {
    int64_t id;
    ks_time due; /* KS_TIME_NONE: none */
    uint8_t closed;
    uint8_t noted; /* its overdue entry is in the timeline */
};

struct ks_incident {
    int64_t id;
    uint8_t type, severity, status;
    char *title, *fingerprint, *family;
    /* scope */
    struct ks_u32set channels;  /* channel indexes */
    struct ks_u32set locs;      /* loc indexes */
    struct ks_u32set systems;   /* strs ids */
    struct ks_u32set pos;       /* strs ids */
    struct ks_u32set sources;   /* strs ids */
    struct ks_u32set sku_ids;   /* SKU ids, the first KS_SCOPE_SKUS only */
    uint64_t skus;              /* count of affected SKUs */
    uint32_t key_a, key_b;      /* detector-specific group key */
    ks_time started_at, detected_at, acknowledged_at, contained_at, resolved_at;
    char *owner;
    /* impact */
    int64_t orders, units;
    double revenue;
    struct ks_u32set customers, order_ids;
    /* the affected orders that carried an `email`, in the order they came:
     * pairs of strs ids (order, email), for the customer notices */
    uint32_t *mail;
    size_t nmail, capmail;
    /* When (engine clock) it first was a P1, had more customers than
     * messages.customers, more revenue impact than messages.revenue; 0:
     * not yet. The message triggers stamp what they send with these, so a
     * notice is on time in event time however late the shell looks. */
    ks_time p1_at, customers_at, revenue_at;
    ks_time assessed_at; /* when the assessment matrix raised it (0: not) */
    /* When (engine clock) the first affected order that carried an `email`
     * was counted (0: none yet), and how many customers were affected at
     * customers_at: whether the customer notices could reach anyone when
     * they fell due, in event time (src/comms/trigger.c). */
    ks_time mail_at;
    int64_t customers_then;
    /* record */
    struct ks_signal *signals;
    size_t nsignals, capsignals;
    struct ks_tl *tl;
    size_t ntl, captl;
    int64_t repeat_of;
    /* timers: the deadline each is armed for, or KS_TIME_NONE */
    ks_time esc_due, ack_due, resolve_due, assess_due;
    uint8_t esc_to; /* the severity the escalation timer raises to */
    uint8_t ack_missed, resolve_missed, assessed;
    /* playbook */
    struct ks_step *steps; /* one per step of the type's playbook */
    size_t nsteps;
    ks_time propose_due, step4_due, step24_due; /* timed containment steps */
    uint8_t rolled_back, accepted;
    struct ks_oversold *oversold;
    size_t noversold, capoversold;
    /* learning (learn.c, docs/REVIEWS.md) */
    ks_time review_due;   /* KS_TIME_NONE: no review due (a P3 not drawn, or open) */
    uint8_t review_written, review_late, not_persisted;
    int64_t reopened_by;  /* the repeat that found its correction did not hold, or 0 */
    struct ks_item_due *items;
    size_t nitems;
    struct ks_u32set returned; /* affected customers who ordered again in the window */
    int64_t fb_count, fb_good; /* feedback events, and those scoring 4 or 5 */
    /* opened by an alert from another tool (alert.c), else NULL */
    struct ks_alert_inc *alert;
};
#define KS_SCOPE_SKUS 100

/* ---- timers ---------------------------------------------------------------- */

enum ks_timer_kind {
    KS_TM_FRESH,   /* ref = channel */
    KS_TM_VOLUME,  /* ref = channel */
    KS_TM_DOWN,    /* ref = loc */
    KS_TM_ESC,     /* ref2 = incident id */
    KS_TM_ACK,
    KS_TM_RESOLVE,
    KS_TM_ASSESS,
    KS_TM_PROPOSE, /* sync: propose zeroing the channel after 2 h */
    KS_TM_STEP4,   /* outage: reduce channel inventory after 4 h */
    KS_TM_STEP24,  /* outage: propose pausing listings after 24 h */
    KS_TM_REVIEW,  /* ref2 = incident id: its review is due */
    KS_TM_ITEM,    /* ref2 = incident id, ref = item index: an action item is due */
    KS_TM__COUNT
};

struct ks_timer {
    ks_time due;
    uint64_t seq;
    uint32_t kind, ref;
    int64_t ref2;
};

/* ---- ids seen (seen.c) ------------------------------------------------------- */

/* One cache line: ids' hashes (never 0; 0 marks a free slot, and a
 * bucket's slots fill from the first) and the second, modulo 2^32, at which
 * each was taken (rounded up). */
#define KS_SEEN_SLOTS 5
struct ks_seen_bucket {
    uint64_t h[KS_SEEN_SLOTS];
    uint32_t t[KS_SEEN_SLOTS];
    uint32_t pad;
};
struct ks_seen {
    struct ks_seen_bucket *b;
    size_t nb, n;   /* nb: buckets, a power of two, or 0; n: slots in use */
    unsigned shift; /* an id's home bucket: h >> shift */
    int64_t last;   /* the latest second taken */
};
/* Whether the id of hash h was taken at most retention before now (the
 * clock its event would set): a duplicate. Else it is taken now. */
int ks_seen_check(struct ks_seen *s, uint64_t h, ks_time now, ks_time retention);
/* Loading the ids of a checkpoint, saved in the order of ks_seen_each, so
 * that each comes back to the slot it had (putting them in that order
 * would not do it where a run of full buckets wraps from the last bucket to
 * the first, and the state saved again would list them in another order).
 * ks_seen_load_begin sizes an empty table for n ids, the size putting them
 * one by one ends at (put into a small table that keeps doubling, ids in
 * hash order pile up into one long run of full buckets: a load of 320,000
 * ids took 2.9 s, of 640,000 16 s); ks_seen_load_add takes them in their
 * saved order, n at most, with their instants; ks_seen_load_end puts each
 * in its slot, or, when they are not in the order of a table of this size
 * (one rebuilt larger), puts them one by one. It returns 0, or -1 with the
 * table emptied when an id is 0 or comes twice: not a state we wrote. */
void ks_seen_load_begin(struct ks_seen *s, size_t n);
void ks_seen_load_add(struct ks_seen *s, uint64_t h, ks_time t);
int ks_seen_load_end(struct ks_seen *s);
/* Calls fn with each id kept and its instant (ms, a whole second); returns
 * how many (s->n). */
size_t ks_seen_each(const struct ks_seen *s, void (*fn)(void *arg, uint64_t h, ks_time t),
                    void *arg);
void ks_seen_fini(struct ks_seen *s);
/* Brings h's home bucket towards the cache: the engine calls it a few lines
 * before it checks h. */
static inline void ks_seen_prefetch(const struct ks_seen *s, uint64_t h)
{
    if (s->nb) {
        __builtin_prefetch(&s->b[h >> s->shift]);
    }
}

/* ---- the checkpoint's reader and writer (checkpoint.c) ------------------------
 * For the parts of the state a module writes itself (struct ks_part). Once a
 * write fails the rest is skipped; once a read goes wrong (too few bytes, a
 * count larger than what is left) every later read yields zeros and the load
 * fails, so a part can read on and check ks_rd_bad where it matters (before
 * it trusts a count or an id). Numbers are host-endian. */
struct ks_wr;
struct ks_rd;
void ks_wr_bytes(struct ks_wr *w, const void *p, size_t n);
void ks_wr_u32(struct ks_wr *w, uint32_t v);
void ks_wr_u64(struct ks_wr *w, uint64_t v);
void ks_wr_i64(struct ks_wr *w, int64_t v);
void ks_wr_f64(struct ks_wr *w, double v);
void ks_wr_str(struct ks_wr *w, const char *s); /* NULL is kept as NULL */
void ks_wr_win(struct ks_wr *w, const struct ks_tswin *win);
void ks_wr_map(struct ks_wr *w, const struct ks_map64 *m);
int ks_rd_bytes(struct ks_rd *r, void *p, size_t n);
uint32_t ks_rd_u32(struct ks_rd *r);
uint64_t ks_rd_u64(struct ks_rd *r);
int64_t ks_rd_i64(struct ks_rd *r);
double ks_rd_f64(struct ks_rd *r);
char *ks_rd_str(struct ks_rd *r); /* owned by the caller */
/* A count of items of at least `each` bytes: larger than what is left of the
 * state makes the reader bad (and returns 0). */
size_t ks_rd_count(struct ks_rd *r, size_t each);
void ks_rd_win(struct ks_rd *r, struct ks_tswin *win);
/* Into an empty map, each key back in the slot it had (ks_map64_load_end). */
void ks_rd_map(struct ks_rd *r, struct ks_map64 *m);
int ks_rd_bad(const struct ks_rd *r);
void ks_rd_fail(struct ks_rd *r); /* what was read is not a state we wrote */

/* ---- the part table (parts.c) --------------------------------------------------
 * Every detector, and every other part of the engine that takes events, owns
 * timers or keeps state of its own in the checkpoint, is described by one
 * struct ks_part in its own file and listed once in ks_eng_parts[]. The
 * engine dispatches events by type and timers by kind through the table
 * (each type and kind has at most one owner, checked when an engine is
 * made), and the checkpoint writes and reads the parts' state in the order
 * of the table, between the channels and the ids seen (checkpoint.c). State
 * kept per channel (struct ks_channel) or per incident is written with the
 * channel or the incident, not by a part. */
typedef void (*ks_event_fn)(struct ks_engine *e, const struct ks_event *ev);
/* Called for a timer of the part's kinds when it is due; the timer may be
 * stale (its owner re-armed or disarmed it since: lazy cancellation), so the
 * part checks that its owner still holds t->due. */
typedef void (*ks_timer_fn)(struct ks_engine *e, const struct ks_timer *t);
typedef void (*ks_save_fn)(const struct ks_engine *e, struct ks_wr *w);
/* Reads what save wrote into a fresh engine whose strings and channels are
 * loaded; fails the reader (ks_rd_fail) on anything out of range. */
typedef void (*ks_load_fn)(struct ks_engine *e, struct ks_rd *r);
#define KS_EVBIT(t) (1u << (t))
#define KS_TMBIT(k) (1u << (k))
struct ks_part {
    const char *name;     /* the detector's name, or what the part is */
    uint32_t events;      /* KS_EVBIT of every event type it takes */
    ks_event_fn event;    /* NULL when events is 0 */
    uint32_t timers;      /* KS_TMBIT of every timer kind it owns */
    ks_timer_fn timer;    /* NULL when timers is 0 */
    ks_save_fn save;      /* its state in the checkpoint, or NULL (none of its own) */
    ks_load_fn load;
};
/* In checkpoint order; ended by NULL. Changing the order, or a save
 * function, changes the checkpoint's format (CK_VERSION in checkpoint.c). */
extern const struct ks_part *const ks_eng_parts[];
/* Fills e->on_event and e->on_timer from the table. */
void ks_eng_dispatch(struct ks_engine *e);
extern const struct ks_part ks_part_updates, ks_part_sync, ks_part_volume, ks_part_system,
    ks_part_orders, ks_part_complaint, ks_part_feed, ks_part_supplier, ks_part_metric,
    ks_part_stock, ks_part_incidents, ks_part_contain, ks_part_learn;

/* ---- the engine -------------------------------------------------------------- */

struct ks_engine {
    const struct ks_config *cfg;
    struct ks_decoder *dec;
    /* Dispatch, from ks_eng_parts[]: the part taking each event type and
     * owning each timer kind (NULL: none; a tick only moves the clock). */
    ks_event_fn on_event[KS_EV__COUNT];
    ks_timer_fn on_timer[KS_TM__COUNT];
    ks_time clock; /* KS_TIME_NONE before the first event */
    ks_time horizon_base; /* ks_engine_horizon_base; KS_TIME_NONE: the clock */
    const char *horizon_limit; /* what names the horizon there ("--max-skew"), or NULL */
    ks_time ts_cap;       /* ks_engine_ts_cap; KS_TIME_NONE: none */

    struct ks_intern skus, strs;
    struct ks_channel *ch;
    size_t nch, capch;
    uint32_t *ch_of_str; /* strs id -> channel index + 1 (0: none) */
    size_t cap_ch_of_str;
    uint32_t upd_seq;

    struct ks_loc *locs;
    size_t nlocs, caplocs;

    /* order_rejections: accepted+rejected, and rejected alone */
    struct ks_tswin orders_all, orders_rej;
    int rej_firing;
    int64_t rej_incident;

    struct ks_complaint_key *ck;
    size_t nck, capck;
    struct ks_map64 ck_index; /* (reason << 32 | sku) + 1 -> index */

    struct ks_feedsrc *fs;
    size_t nfs, capfs;
    struct ks_map64 fs_index; /* source strs id + 1 -> index */

    struct ks_po *po;
    size_t npo, cappo;
    struct ks_map64 po_index; /* po strs id + 1 -> index */

    struct ks_metric_state *ms; /* one per configured rule */

    struct ks_map64 stock;     /* (sku << 32 | location) + 1 -> qty */
    struct ks_map64 stock_sum; /* sku + 1 -> sum over locations */
    /* What an order's earlier events said, for a later one that does not
     * repeat it (a cancellation with only order_id and status): order str
     * id + 1 -> customer str id (KS_NONE: none) << 32 | units, -> the
     * value's bits, and -> the `email` str id (only orders that gave one).
     * Saved after the state's end mark (checkpoint.c). */
    struct ks_map64 order_who, order_value, order_email;
    /* The orders an incident detected later could count (recent.c): saved
     * after the state's end mark (checkpoint.c). */
    struct ks_recent recent;

    struct ks_seen seen; /* the ids taken (seen.c) */

    /* Alerts from other tools (alert.c): dedup_key (strs id) + 1 -> the id of
     * the last incident opened for it, open or not. Not checkpointed: rebuilt
     * from the incidents (ks_alert_reindex). */
    struct ks_map64 alert_keys;

    struct ks_incident **inc; /* by id - 1 */
    size_t ninc, capinc;

    struct ks_timer *heap;
    size_t nheap, capheap;
    uint64_t timer_seq;

    /* inputs of this process (not checkpointed) */
    char **inputs;
    uint32_t *input_src; /* strs id of "file:NAME" */
    size_t ninputs;

    /* effects since the last clear */
    struct ks_feed_effect *feed;
    size_t nfeed, capfeed;
    ks_feed_sink_fn feed_sink; /* when set, feed changes go there instead */
    void *feed_ctx;
    struct ks_hook_effect *hooks;
    size_t nhooks, caphooks;
    uint64_t hook_seq;
    int64_t *dirty;
    size_t ndirty, capdirty;
    struct ks_dead_effect *dead;
    size_t ndead, capdead;

    struct ks_engine_stats st;
    /* hot-path caches */
    uint32_t last_ch_str, last_batch;
    uint32_t last_src;    /* the `source` of the line before */
    uint32_t *succ;       /* per SKU id: id + 1 of the SKU that followed it when it was
                           * looked up by hash (any channel): a channel's first pass
                           * reuses the order another channel showed */
    size_t capsucc;
    uint32_t last_fs_src; /* the feed source looked up last, and its index */
    size_t last_fs;
    size_t last_ch; /* the channel of last_ch_str, when that is not KS_NONE */
    /* For a packed line's same_prev: where the line after the last one taken
     * packed starts, else NULL (any other line clears it). A line that starts
     * there follows that one in the same buffer, and the caches above hold
     * its channel and batch. */
    const char *line_next;
    /* The `email` of the order being applied (strs id: the event's, else
     * the one the order's earlier events gave), KS_NONE outside an order
     * event or without one: ks_inc_impact keeps it beside a newly affected
     * order. Not checkpointed (set and cleared within an event). */
    uint32_t cur_email;
};

/* engine.c */
/* Moves the clock to t (if later), firing every timer due before t. */
void ks_eng_advance(struct ks_engine *e, ks_time t);
/* A person's command at `at` (KS_TIME_NONE: now, the engine clock): moves the
 * clock there first, like an event; refused (KS_EUSAGE) beyond the clock's
 * ts_horizon, as an event's ts would be, so that a mistyped year cannot fire
 * every timer up to it. */
enum ks_rc ks_eng_at(struct ks_engine *e, ks_time at, struct ks_err *err);
struct ks_channel *ks_eng_channel(struct ks_engine *e, uint32_t name_str);
struct ks_channel *ks_eng_channel_find(struct ks_engine *e, uint32_t name_str);
void ks_eng_timer(struct ks_engine *e, ks_time due, enum ks_timer_kind kind, uint32_t ref,
                  int64_t ref2);
uint32_t ks_eng_str(struct ks_engine *e, struct ks_str s);
size_t ks_eng_known_channels(const struct ks_engine *e);

/* "amazon, ebay" for the channels of an incident. */
void ks_inc_channel_list(const struct ks_engine *e, const struct ks_incident *inc, char *out,
                         size_t cap);
/* Finds the newest open incident of a type whose key_a (and key_b unless
 * KS_NONE is passed as any) match. */
struct ks_incident *ks_inc_find_open(const struct ks_engine *e, enum ks_itype type, uint32_t key_a,
                                     uint32_t key_b);

/* window helpers (window.c) */
void ks_tswin_push(struct ks_tswin *w, ks_time t, double v, uint32_t ref, uint32_t ref2);
/* Drops entries with ts <= t. */
void ks_tswin_prune(struct ks_tswin *w, ks_time t);
/* Number of entries with lo < ts <= hi (and the sum of their values). */
size_t ks_tswin_count(const struct ks_tswin *w, ks_time lo, ks_time hi, double *sum);
void ks_tswin_fini(struct ks_tswin *w);
int ks_u32set_add(struct ks_u32set *s, uint32_t v);
/* The set's strings (ids of t) as JSON strings in byte order: the order of
 * names on an incident (its systems, the channels and locations an alert
 * named) must not depend on which event or receiver named them first. */
void ks_json_strs_sorted(struct ks_json *j, const struct ks_intern *t, const struct ks_u32set *s);
int ks_u32set_has(const struct ks_u32set *s, uint32_t v);
void ks_u32set_fini(struct ks_u32set *s);

/* incident.c */
/* Opens an incident with its first signal; records the detection entry. */
struct ks_incident *ks_inc_open(struct ks_engine *e, enum ks_itype type, enum ks_severity sev,
                                ks_time started, ks_time at);
struct ks_incident *ks_inc_get(const struct ks_engine *e, int64_t id);
/* The open (unresolved) incident a detector keyed, or NULL. */
struct ks_incident *ks_inc_open_get(const struct ks_engine *e, int64_t id);
void ks_inc_signal(struct ks_engine *e, struct ks_incident *inc, enum ks_detector d, ks_time at,
                   double value, double threshold, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* Raises severity to sev if that is higher, recording an escalation. */
void ks_inc_raise(struct ks_engine *e, struct ks_incident *inc, enum ks_severity sev, ks_time at,
                  const char *why, ...) __attribute__((format(printf, 5, 6)));
struct ks_tl *ks_inc_tl(struct ks_engine *e, struct ks_incident *inc, ks_time at,
                        enum ks_tl_kind kind, const char *actor, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void ks_inc_set_title(struct ks_incident *inc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ks_inc_set_fingerprint(struct ks_engine *e, struct ks_incident *inc, const char *family,
                            const char *suffix);
void ks_inc_dirty(struct ks_engine *e, struct ks_incident *inc);
/* Impact: one order (or complaint) touched the incident. Returns 1 when it
 * counted, 0 when the order had touched it already (an order counts once).
 * The order is kept for the customer notices with e->cur_email, else the
 * e-mail its events gave (e->order_email), where there is one. */
int ks_inc_impact(struct ks_engine *e, struct ks_incident *inc, uint32_t order_str,
                   uint32_t customer_str, double value, int64_t units, ks_time at);
/* Checks the assessment matrix after impact or duration changed. */
void ks_inc_assess(struct ks_engine *e, struct ks_incident *inc, ks_time at, const char *why);
void ks_inc_free(struct ks_incident *inc);
void ks_inc_render(const struct ks_engine *e, const struct ks_incident *inc, int detail,
                   struct ks_buf *out);

/* detectors */
/* An inventory event of a packed line (ks_engine_lines, the fast path; the
 * part table's ks_part_updates takes the others). */
void ks_det_inventory_line(struct ks_engine *e, const struct ks_line *l);
void ks_det_update_close(struct ks_engine *e, struct ks_channel *c, ks_time at);
void ks_det_volume_bucket(struct ks_engine *e, struct ks_channel *c, ks_time ts);
/* Counts an inventory event for volume_drop, with the common case inline
 * (det_volume.c owns the rest): the minute of the line before, not yet
 * evaluated - one more in its bucket. */
static inline void ks_det_volume_count(struct ks_engine *e, struct ks_channel *c, ks_time ts)
{
    if (ts > c->vol_lo && ts <= c->vol_hi && c->vol_minute[c->vol_slot] == c->vol_min &&
        c->vol_min > c->vol_last_eval) {
        c->vol_count[c->vol_slot]++; /* no division */
        if (ts < c->first_inv) {
            c->first_inv = ts;
        }
        return;
    }
    ks_det_volume_bucket(e, c, ts);
}
int ks_det_loc_condition(const struct ks_engine *e, const struct ks_incident *inc);
/* Counts in inc's impact the recent orders (e->recent) from `from` (not
 * before inc's started_at) that it would have counted had it been open when
 * they came: those of channel index `where` for sync_failure, volume_drop
 * and data_corruption, of location `where` (strs id) for system_outage.
 * `at` is the instant of the detection that opened or widened inc. An
 * order inc counts already is not counted again. */
void ks_det_recent_impact(struct ks_engine *e, struct ks_incident *inc, ks_time from,
                          uint32_t where, ks_time at);
/* The recent orders in the checkpoint (section RCT1, checkpoint.c). */
void ks_recent_save(const struct ks_engine *e, struct ks_wr *w);
void ks_recent_load(struct ks_engine *e, struct ks_rd *r);
void ks_det_feed_line(struct ks_engine *e, uint32_t source, int rejected, ks_time t);
/* pct * 100 when that is a whole number the integer change test can use
 * (50, 12.5: every usual setting), else -1. */
static inline int64_t ks_pct_hundredths(double pct)
{
    double h = pct * 100.0;
    return h >= 0 && h <= 1e8 && h == (double)(int64_t)h ? (int64_t)h : -1;
}
/* The first of a feed source's records still in its window after its last
 * line, that is after (last - window, last]. */
static inline struct ks_feed_rec *ks_feed_at(const struct ks_feedsrc *f, size_t i)
{
    return &f->rec[i & (f->cap - 1)];
}
static inline size_t ks_feed_live(const struct ks_feedsrc *f, ks_time window)
{
    size_t k = f->head;
    if (f->n > k) {
        ks_time cut = ks_feed_at(f, f->n - 1)->t - window;
        while (k < f->n && ks_feed_at(f, k)->t <= cut) {
            k++;
        }
    }
    return k;
}
/* Drops a feed source's records at or before cut from its window. */
static inline void ks_feed_prune(struct ks_feedsrc *f, ks_time cut)
{
    while (f->head < f->n && ks_feed_at(f, f->head)->t <= cut) {
        const struct ks_feed_rec *r = ks_feed_at(f, f->head);
        f->acc -= r->acc;
        f->rej -= r->rej;
        f->head++;
    }
}
/* An accepted line at the clock, with the common case inline (det_feed.c owns
 * the rest): the source of the line before and no rejection in its window -
 * one more accepted line at the clock, and nothing can fire. The records
 * that left the window are dropped every 64 records only: with no
 * rejection in the window the accepted count is not read, and the next
 * rejected line (det_feed.c) prunes before it counts. The checkpoint writes
 * the window as an eager prune would leave it (ks_feed_live). */
static inline void ks_det_feed_accepted(struct ks_engine *e, uint32_t source)
{
    if (source == e->last_fs_src && e->fs[e->last_fs].rej == 0) {
        struct ks_feedsrc *f = &e->fs[e->last_fs];
        size_t n = f->n;
        ks_time t = e->clock;
        if (n > f->head) {
            struct ks_feed_rec *last = ks_feed_at(f, n - 1);
            if (last->t == t) {
                last->acc++;
                f->acc++;
                return;
            }
            if (n - f->head < f->cap && last->t < t) {
                *ks_feed_at(f, n) = (struct ks_feed_rec){t, 1, 0};
                f->n++;
                f->acc++;
                if ((n & 63) == 0) {
                    ks_feed_prune(f, t - e->cfg->feed_window);
                }
                return;
            }
        }
    }
    ks_det_feed_line(e, source, 0, e->clock);
}
/* The pair becomes part of the reference (inline: every pair of every
 * clean update passes here). */
static inline void ks_det_accept_pair(struct ks_channel *c, struct ks_pair *p)
{
    uint32_t was_active = (p->flags & KS_PAIR_KNOWN) && p->good > 0;
    if (!(p->flags & KS_PAIR_KNOWN)) {
        p->flags |= KS_PAIR_KNOWN;
        c->n_known++;
    }
    p->good = p->cur;
    p->flags &= ~(uint32_t)KS_PAIR_SUSPECT;
    c->n_active = c->n_active + (uint32_t)(p->good > 0) - was_active;
}
/* Whether a known SKU's value moved from old to now by more than the
 * channel's shift_change_pct (the distribution_shift test). */
int ks_det_changed(const struct ks_channel *c, uint32_t old, uint32_t now);
/* The corruption incident is resolved or accepted: its updates become the reference. */
void ks_det_accept_updates(struct ks_engine *e, struct ks_incident *inc);

/* playbook.c */
/* The steps of a type's playbook; *n gets their number. */
const struct ks_step_def *ks_pb_steps(enum ks_itype type, size_t *n);
void ks_pb_attach(struct ks_incident *inc);
/* Marks step `key` (no-op when the playbook has no such step). */
void ks_pb_mark(struct ks_engine *e, struct ks_incident *inc, const char *key,
                enum ks_step_status st, const char *by, ks_time at, const char *note);
int ks_pb_index(const struct ks_incident *inc, const char *key);
void ks_pb_render(const struct ks_incident *inc, struct ks_json *j);
const char *ks_step_status_name(enum ks_step_status s);

/* guard.c */
/* An update closed clean: its values become the last known good ones and go
 * through, or are held if the channel is paused. */
void ks_guard_update(struct ks_engine *e, struct ks_channel *c, ks_time at);
/* An update closed corrupt: hold it as suspect, zero risen SKUs, pause. */
void ks_guard_corrupt(struct ks_engine *e, struct ks_channel *c, struct ks_incident *inc,
                      ks_time at, int fresh);
void ks_guard_pause(struct ks_engine *e, struct ks_channel *c, ks_time at, int64_t incident,
                    const char *why);
/* The held values of incident's corrupt update are good values now: they
 * stay in their place and are released in order with the others. */
void ks_guard_held_accept(struct ks_channel *c, int64_t incident);
/* Per-SKU holding: the close of an update of a channel with watched SKUs
 * (n_watch > 0), or of a corrupt update joining a rolled-back incident
 * (every changed SKU is held): holds the values that still differ the
 * corrupt way at their last known good quantity, takes them out of the
 * update and records them in the incident's timeline. The rest of the update
 * goes on as usual. */
void ks_guard_hold_skus(struct ks_engine *e, struct ks_channel *c, struct ks_incident *inc,
                        ks_time at, int corrupt_update);
/* SKUs of c that belong to another incident than id: those another
 * incident's corrupt update changed the corrupt way, watched for it (a
 * bitmap of c->cap bits, ks_free it; NULL when there are none). */
uint8_t *ks_guard_others(const struct ks_channel *c, int64_t id);
/* Whether SKU s of c is incident id's to act on (others from ks_guard_others). */
static inline int ks_guard_mine(const uint8_t *others, uint32_t s)
{
    return !others || !(others[s >> 3] & (1u << (s & 7)));
}
/* Counts n_watch and n_hold again from the pairs' flags (checkpoint load). */
void ks_guard_recount(struct ks_channel *c);
/* The incident is resolved: the per-SKU holding on its channels ends (values
 * held since a rollback are dropped: the channel keeps the last known good
 * quantity). Channels another open corruption incident covers keep it. */
void ks_guard_unwatch_resolved(struct ks_engine *e, struct ks_incident *inc, ks_time at);
/* Emits one change of the guarded feed. */
void ks_guard_push(struct ks_engine *e, struct ks_channel *c, uint32_t sku, uint32_t qty,
                   ks_time at, enum ks_feed_why why, int64_t incident);
/* Channel c syncs again after being stale: the SKUs containment zeroed on
 * it get their latest clean value back on the feed (not the ones a
 * corruption incident holds, nor while the channel is paused). Returns how
 * many. */
size_t ks_guard_sync_again(struct ks_engine *e, struct ks_channel *c, ks_time at);

/* contain.c: the automatic steps of the playbooks */
void ks_contain_stale(struct ks_engine *e, struct ks_channel *c, struct ks_incident *inc,
                      ks_time at, int fresh);
void ks_contain_outage(struct ks_engine *e, struct ks_incident *inc, ks_time at, int fresh);
void ks_contain_supplier(struct ks_engine *e, struct ks_incident *inc, const struct ks_po *p,
                         ks_time at);
/* learn.c: what reviews need the engine for (docs/REVIEWS.md) */
/* The incident was resolved at `at`: a review becomes due (P1, P2, a drawn P3). */
void ks_learn_resolved(struct ks_engine *e, struct ks_incident *inc, ks_time at);
/* inc was just linked to repeat_of: flags a correction that did not persist. */
void ks_learn_repeat(struct ks_engine *e, struct ks_incident *inc);
/* An order of a customer: retention of the incidents it follows. */
void ks_learn_order(struct ks_engine *e, const struct ks_event *ev, uint32_t order_str,
                    uint32_t customer_str);
void ks_learn_render(const struct ks_incident *inc, struct ks_json *j);

/* alert.c: incidents opened by alerts from other tools (docs/ALERTS.md) */
/* What an incident opened by a PagerDuty event or an Alertmanager webhook
 * keeps beside the common fields. Its channels and locations are names
 * (strs ids), not the engine's channel and location state: an alert that
 * names a channel kintsugi never saw must not make it a known channel. */
enum ks_alert_src { KS_ALERT_SRC_PAGERDUTY = 1, KS_ALERT_SRC_ALERTMANAGER = 2 };
struct ks_alert_inc {
    uint8_t source;         /* enum ks_alert_src: what opened it */
    uint8_t pd_severity;    /* what the last PagerDuty trigger said (1..3), 0 before any */
    uint32_t dedup_key;     /* strs id */
    char *routing_key_hash; /* first 16 hex digits of SHA-256(routing_key), or NULL */
    char *group_key;        /* the Alertmanager groupKey, or NULL */
    char *details;          /* the last trigger's custom_details (compact JSON), or NULL */
    struct ks_u32set channels, locations; /* strs ids */
    /* The Alertmanager group's known alerts (group.open unused: the incident's
     * status says it) and, per member, the labels that tell it apart. */
    struct ks_am_group group;
    char **names;
};
void ks_alert_inc_free(struct ks_alert_inc *a);
/* The extra fields of an incident opened by an alert, appended to its JSON. */
void ks_alert_render(const struct ks_engine *e, const struct ks_incident *inc, struct ks_json *j);
/* Appends the alert's channels (what = 0) or locations (1) to an open array. */
void ks_alert_render_scope(const struct ks_engine *e, const struct ks_incident *inc, int what,
                           struct ks_json *j);
/* Rebuilds alert_keys from the incidents (checkpoint load); -1 when two open
 * incidents hold one dedup_key or a string id is out of range. */
int ks_alert_reindex(struct ks_engine *e);

/* Queues a hook call effect and records it in the timeline. */
void ks_eng_hook(struct ks_engine *e, struct ks_incident *inc, const char *action,
                 const char *detail_json);


#endif
