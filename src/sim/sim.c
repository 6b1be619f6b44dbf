/*
 * sim.c - the simulated shop (docs/SIMULATOR.md): channels that receive an
 * inventory cycle every few minutes, a warehouse stock that orders drain and
 * restocks refill, health checks, metrics, supplier receipts and complaints;
 * faults injected at scheduled instants; every event written as NDJSON and
 * fed to the oracle (sim_oracle.c), whose incidents become the truth.
 *
 * Time advances one minute at a time: each minute's events are generated
 * into one array, sorted by (ts, generation order), written and fed to the
 * oracle. Nothing is allocated per event; arrays grow and are reused.
 *
 * The generator keeps the quiet stream quiet by construction, not by luck
 * (each guarantee is noted where it is kept): no update takes more than 5 %
 * of a channel's SKUs through a large change or to zero, no two natural order
 * rejections fall within one hour, no (reason, SKU) pair gets more than three
 * ordinary complaints, sync and health intervals are fixed.
 */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

#define WARMUP KS_HOUR
#define TAIL (30 * KS_MIN)
#define STALL_FOR (105 * KS_MIN)
#define WMS_ONE_FOR (45 * KS_MIN)
#define WMS_ALL_FOR (30 * KS_MIN)
#define REJ_FOR (45 * KS_MIN)
#define REJ_QUIET KS_HOUR /* no natural rejection this long around the fault */
#define VOLUME_FOR (3 * KS_HOUR)
#define VOLUME_HISTORY (25 * KS_HOUR)
#define METRIC_FOR KS_HOUR
#define NCUST 20000u
#define NSPIKE 12
#define NRECENT 256

/* ---- names ------------------------------------------------------------- */

static const char *const channel_names[KS_SIM_MAX_CHANNELS] = {
    "amazon", "ebay",    "shopify", "walmart", "etsy", "target",    "wayfair", "bestbuy",
    "newegg", "zalando", "otto",    "rakuten", "bol",  "cdiscount", "allegro", "mercadolibre",
};
static const unsigned channel_weight[KS_SIM_MAX_CHANNELS] = {40, 22, 18, 12, 10, 8, 8, 8,
                                                             6,  6,  6,  5,  5,  5, 4, 4};
static const char *const location_names[3] = {"dc-east", "dc-west", "dc-central"};
static const char *const sync_errors[6] = {"", "auth", "rate_limit", "api", "timeout", "other"};
enum { REASON_NONE, REASON_UNFULFILLABLE, REASON_VALIDATION, REASON_CUSTOMER };
static const char *const order_reasons[4] = {"", "unfulfillable", "validation_failed",
                                             "customer_request"};
static const char *const complaint_reasons[5] = {"wrong_item", "wrong_size", "damaged", "late",
                                                 "missing"};
static const char *const suppliers[6] = {"acme-textiles",   "nordic-goods", "pacific-apparel",
                                         "sunrise-imports", "delta-supply", "keystone-trading"};
static const char *const first_names[16] = {"ana",  "ben",   "chloe", "david", "elena", "farid",
                                            "grace", "hugo", "ines",  "jonas", "kira",  "liam",
                                            "maya",  "noah", "olga",  "priya"};
static const char *const last_names[16] = {"lopez", "smith", "muller", "rossi",  "novak", "khan",
                                           "silva", "berg",  "tanaka", "dubois", "kowal", "nagy",
                                           "okafor", "park", "ivanova", "weber"};
static const char *const source_names[KS_SIM_NSRC] = {
    "erp", NULL /* csv: per run */, "pipeline", "oms", "monitor", "wms", "helpdesk", "analytics"};

/* Orders per hour by UTC hour, in percent of 60 per hour (never below 36). */
static const unsigned diurnal[24] = {70,  62,  60,  60,  62,  70,  80,  92,  104, 112, 118, 122,
                                     124, 124, 122, 120, 118, 118, 120, 124, 126, 118, 100, 84};

/* ---- PRNG: xoshiro256** seeded through splitmix64 ------------------------ */

struct rng {
    uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Independent streams per concern, so that one concern's draws do not shift
 * another's. */
static void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);
    for (int i = 0; i < 4; i++) {
        r->s[i] = splitmix64(&x);
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform in [0, n), n > 0 (multiply-shift; the bias is below 2^-32). */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static int32_t rng_range(struct rng *r, int32_t lo, int32_t hi)
{
    return lo + (int32_t)rng_below(r, (uint32_t)(hi - lo + 1));
}

/* A deterministic hash of (seed, a, b), for properties that must not depend
 * on draw order (which channel lists which SKU). */
static uint64_t mix3(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t x = seed ^ (a << 40) ^ b;
    splitmix64(&x);
    return splitmix64(&x);
}

/* ---- a binary heap of fixed-size elements keyed by a leading ks_time ------ */

struct heap {
    unsigned char *p;
    size_t n, cap, esz;
};

static ks_time heap_key(const struct heap *h, size_t i)
{
    ks_time t;
    memcpy(&t, h->p + i * h->esz, sizeof(t));
    return t;
}

static void heap_swap(struct heap *h, size_t i, size_t j)
{
    unsigned char tmp[64];
    KS_ASSERT(h->esz <= sizeof(tmp));
    memcpy(tmp, h->p + i * h->esz, h->esz);
    memcpy(h->p + i * h->esz, h->p + j * h->esz, h->esz);
    memcpy(h->p + j * h->esz, tmp, h->esz);
}

static void heap_push(struct heap *h, const void *e)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 256;
        h->p = ks_realloc(h->p, h->cap * h->esz);
    }
    memcpy(h->p + h->n * h->esz, e, h->esz);
    size_t i = h->n++;
    while (i > 0 && heap_key(h, (i - 1) / 2) > heap_key(h, i)) {
        heap_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

/* Pops the smallest element into out if its key is < before. */
static int heap_pop_before(struct heap *h, ks_time before, void *out)
{
    if (h->n == 0 || heap_key(h, 0) >= before) {
        return 0;
    }
    memcpy(out, h->p, h->esz);
    h->n--;
    if (h->n) {
        memcpy(h->p, h->p + h->n * h->esz, h->esz);
        size_t i = 0;
        for (;;) {
            size_t l = 2 * i + 1, r = l + 1, m = i;
            if (l < h->n && heap_key(h, l) < heap_key(h, m)) {
                m = l;
            }
            if (r < h->n && heap_key(h, r) < heap_key(h, m)) {
                m = r;
            }
            if (m == i) {
                break;
            }
            heap_swap(h, i, m);
            i = m;
        }
    }
    return 1;
}

/* ---- output ------------------------------------------------------------ */

#define OUT_CAP (1u << 20)
#define OUT_SLACK 4096 /* no rendered event is longer */

struct out {
    char *p;
    size_t len;
    FILE *f;
    int err;
    int64_t minute_key;
    char minute[20]; /* "2026-11-22T10:00:" */
};

static void out_flush(struct out *o)
{
    if (o->len && !o->err && fwrite(o->p, 1, o->len, o->f) != o->len) {
        o->err = 1;
    }
    o->len = 0;
}

static void put(struct out *o, const char *s, size_t n)
{
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

#define PUTL(o, lit) put((o), (lit), sizeof(lit) - 1)

static void putc_(struct out *o, char c)
{
    o->p[o->len++] = c;
}

static void put_u(struct out *o, uint64_t v)
{
    o->len = (size_t)(ks_put_u64(o->p + o->len, v) - o->p);
}

/* n digits, zero-padded. */
static void put_u_pad(struct out *o, uint64_t v, int n)
{
    o->len = (size_t)(ks_put_digits(o->p + o->len, v, n) - o->p);
}

static void put_str(struct out *o, const char *s)
{
    putc_(o, '"');
    put(o, s, strlen(s));
    putc_(o, '"');
}

/* "2026-11-22T10:00:07.250Z" with quotes; ts >= 0. */
static void put_ts(struct out *o, ks_time t)
{
    int64_t key = t / KS_MIN;
    if (key != o->minute_key) {
        char tmp[32];
        ks_time_fmt(key * KS_MIN, tmp);
        memcpy(o->minute, tmp, 17);
        o->minute_key = key;
    }
    int64_t ms = t - key * KS_MIN;
    putc_(o, '"');
    put(o, o->minute, 17);
    put_u_pad(o, (uint64_t)(ms / 1000), 2);
    putc_(o, '.');
    put_u_pad(o, (uint64_t)(ms % 1000), 3);
    PUTL(o, "Z\"");
}

static void put_cents(struct out *o, uint32_t c)
{
    put_u(o, c / 100);
    putc_(o, '.');
    put_u_pad(o, c % 100, 2);
}

static void put_sku(struct out *o, uint32_t s)
{
    PUTL(o, "\"SKU-");
    put_u_pad(o, (uint64_t)s + 1, 7);
    putc_(o, '"');
}

/* ---- the simulation state ---------------------------------------------- */

struct ship {
    ks_time ts;
    uint32_t order, cust, cents, sku;
    uint8_t ch, loc, kind; /* kind: 0 ship, 1 cancel */
};

struct restock {
    ks_time ts;
    uint32_t sku;
    int32_t qty;
};

struct recent {
    ks_time ts;
    uint32_t order, cust, cents, sku;
    uint8_t ch;
};

/* A fault as scheduled. */
struct fplan {
    int on;
    ks_time at;    /* scheduled start (a whole minute) */
    ks_time until; /* when the cause stops */
    int target;    /* channel, location or SKU index; -1 none */
    int k;         /* the channel's cycle number it acts on (stall-one: the last ok one) */
    ks_time kmin;  /* that cycle's minute */
};

struct sim {
    const struct ks_sim_opts *opt;
    int nch, nsku, nloc, cyc;
    ks_time start, end;
    struct rng r_push, r_orders, r_health, r_misc, r_fault;
    int off[KS_SIM_MAX_CHANNELS]; /* minutes after each round's start */
    uint32_t *list[KS_SIM_MAX_CHANNELS];
    size_t nlist[KS_SIM_MAX_CHANNELS];
    /* Per channel, per SKU: the last quantity the channel took as good, the
     * same as the oracle's reference while the stream is quiet. */
    int32_t *last[KS_SIM_MAX_CHANNELS];
    int known_n[KS_SIM_MAX_CHANNELS], active_n[KS_SIM_MAX_CHANNELS];
    int32_t *stock;
    uint32_t *price;
    uint8_t *home;
    uint8_t *pend; /* a restock is on its way */
    uint32_t *perm;
    uint64_t *popcum;
    uint8_t *ccount; /* ordinary complaints per (SKU, reason) */
    struct heap ships, restocks;
    struct recent recent[NRECENT];
    size_t nrecent;
    struct ks_sim_ev *receipts; /* receipt lines waiting for their minute */
    size_t nreceipts, capreceipts;
    ks_time next_po_at;
    struct fplan f[KS_SIM_NFAULTS];
    uint32_t spike_sku;
    int spike_channel; /* every spike order and complaint is on it: an unambiguous scope */
    ks_time spike_order_at[NSPIKE], spike_complaint_at[NSPIKE];
    uint32_t spike_order[NSPIKE], spike_cust[NSPIKE], spike_cents[NSPIKE];
    uint8_t spike_ch[NSPIKE];
    int r0; /* stall-all: the round of the last ok syncs */
    uint32_t next_order, next_po, seq;
    ks_time last_nat_rej;
    int bad_n, fault_rej_n;
    int64_t bad_cents, fault_rej_cents;
    struct ks_sim_ev *rec;
    size_t nrec, caprec;
    ks_time win_lo[KS_SIM_MAX_CHANNELS], win_hi[KS_SIM_MAX_CHANNELS];
    struct out out;
    struct ks_sim_oracle *oracle;
    char csv_source[48];
};

static struct ks_sim_ev *new_rec(struct sim *w, int type, ks_time ts, int src)
{
    KS_GROW(w->rec, w->caprec, w->nrec + 1);
    struct ks_sim_ev *e = &w->rec[w->nrec++];
    memset(e, 0, sizeof(*e));
    e->type = (uint8_t)type;
    e->ts = ts;
    e->src = (uint8_t)src;
    e->seq = w->seq++;
    return e;
}

static int fault_on(const struct sim *w, int f)
{
    return w->f[f].on;
}

static int in_window(const struct sim *w, int f, ks_time t)
{
    return w->f[f].on && t >= w->f[f].at && t < w->f[f].until;
}

/* Whether a wms location is down (or silent) at t, and until when. */
static int loc_down(const struct sim *w, int loc, ks_time t, ks_time *until)
{
    if (in_window(w, KS_SIM_WMS_ALL, t)) {
        *until = w->f[KS_SIM_WMS_ALL].until;
        return 1;
    }
    if (in_window(w, KS_SIM_WMS_ONE, t) && w->f[KS_SIM_WMS_ONE].target == loc) {
        *until = w->f[KS_SIM_WMS_ONE].until;
        return 1;
    }
    return 0;
}

/* Events naming a channel stay out of that channel's push (from its first
 * inventory event to its sync), so that no reading of "an event of that
 * channel with another batch" can split an update. */
static ks_time dodge(struct sim *w, int c, ks_time ts)
{
    if (w->win_lo[c] && ts >= w->win_lo[c] && ts <= w->win_hi[c]) {
        return w->win_hi[c] + 1 + (ks_time)rng_below(&w->r_misc, 500);
    }
    return ts;
}

static uint32_t pick_sku_popular(struct sim *w)
{
    uint64_t total = w->popcum[w->nsku - 1];
    uint64_t x = rng_next(&w->r_orders) % total;
    size_t lo = 0, hi = (size_t)w->nsku - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (w->popcum[mid] > x) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return w->perm[lo];
}

static int pick_channel(struct sim *w, struct rng *r)
{
    unsigned total = 0;
    for (int c = 0; c < w->nch; c++) {
        total += channel_weight[c];
    }
    unsigned x = rng_below(r, total);
    for (int c = 0; c < w->nch; c++) {
        if (x < channel_weight[c]) {
            return c;
        }
        x -= channel_weight[c];
    }
    return 0;
}

/* ---- set-up ------------------------------------------------------------ */

static void setup_shop(struct sim *w)
{
    int n = w->nsku;
    w->stock = ks_malloc((size_t)n * sizeof(int32_t));
    w->price = ks_malloc((size_t)n * sizeof(uint32_t));
    w->home = ks_malloc((size_t)n);
    w->pend = ks_calloc((size_t)n, 1);
    w->perm = ks_malloc((size_t)n * sizeof(uint32_t));
    w->popcum = ks_malloc((size_t)n * sizeof(uint64_t));
    w->ccount = ks_calloc((size_t)n * 5, 1);
    w->ships.esz = sizeof(struct ship);
    w->restocks.esz = sizeof(struct restock);
    struct rng *r = &w->r_misc;
    for (int i = 0; i < n; i++) {
        w->perm[i] = (uint32_t)i;
    }
    for (int i = n - 1; i > 0; i--) {
        uint32_t j = rng_below(r, (uint32_t)i + 1);
        uint32_t t = w->perm[i];
        w->perm[i] = w->perm[j];
        w->perm[j] = t;
    }
    uint64_t acc = 0;
    for (int rank = 0; rank < n; rank++) {
        acc += 1000000u / (uint64_t)(rank + 20); /* Zipf-like popularity */
        w->popcum[rank] = acc;
    }
    for (int i = 0; i < n; i++) {
        w->price[i] = 499 + 100 * rng_below(r, 36); /* $4.99 .. $39.99 */
        w->home[i] = (uint8_t)rng_below(r, (uint32_t)w->nloc);
    }
    for (int rank = 0; rank < n; rank++) {
        uint32_t s = w->perm[rank];
        uint32_t x = rng_below(r, 100);
        int32_t q;
        if (x < 3) {
            q = 0; /* sold out */
            if (rng_below(r, 2)) {
                struct restock rs = {w->start + (ks_time)rng_below(r, 48 * 60) * KS_MIN, s,
                                     12 * rng_range(r, 2, 20)};
                heap_push(&w->restocks, &rs);
                w->pend[s] = 1;
            }
        } else if (x < 8) {
            q = rng_range(r, 1, 5); /* low stock */
        } else {
            q = rng_range(r, 6, 160);
            if (rank < n / 20) {
                q *= 3;
            }
        }
        w->stock[s] = q;
    }
    for (int c = 0; c < w->nch; c++) {
        w->list[c] = ks_malloc((size_t)n * sizeof(uint32_t));
        w->last[c] = ks_malloc((size_t)n * sizeof(int32_t));
        memset(w->last[c], 0xff, (size_t)n * sizeof(int32_t));
        size_t k = 0;
        for (int s = 0; s < n; s++) {
            if (c == 0 || mix3(w->opt->seed, (uint64_t)c + 1, (uint64_t)s) % 100 < 85) {
                w->list[c][k++] = (uint32_t)s;
            }
        }
        w->nlist[c] = k;
        w->off[c] = c * w->cyc / w->nch;
    }
}

/* The first cycle of channel c whose minute is at or after t. */
static int cycle_at_or_after(const struct sim *w, int c, ks_time t, ks_time *minute)
{
    int64_t d = (t - w->start) / KS_MIN - w->off[c];
    int k = d <= 0 ? 1 : (int)((d + w->cyc - 1) / w->cyc) + 1;
    *minute = w->start + ((ks_time)w->off[c] + (ks_time)(k - 1) * w->cyc) * KS_MIN;
    return k;
}

/* Lays the faults out one after another: each gets its span plus an equal
 * share of the spare time, and starts at a seed-chosen whole minute within
 * that share. volume-drop comes last and not before 25 h. */
static enum ks_rc schedule(struct sim *w, unsigned faults, struct ks_err *err)
{
    int order[KS_SIM_NFAULTS], n = 0;
    ks_time total = 0;
    for (int f = 0; f < KS_SIM_NFAULTS; f++) {
        if (f != KS_SIM_VOLUME_DROP && (faults & KS_SIM_BIT(f))) {
            order[n++] = f;
            total += ks_sim_fault_table[f].span;
        }
    }
    if (faults & KS_SIM_BIT(KS_SIM_VOLUME_DROP)) {
        order[n++] = KS_SIM_VOLUME_DROP;
        total += ks_sim_fault_table[KS_SIM_VOLUME_DROP].span;
    }
    if (!n) {
        return KS_OK;
    }
    ks_time avail = w->end - w->start - WARMUP - TAIL;
    if (total > avail) {
        return ks_err_set(err, KS_EUSAGE,
                          "the chosen faults need a --duration of at least %lldh (1 h warm-up, "
                          "their spans, 30 min at the end)",
                          (long long)((total + WARMUP + TAIL + KS_HOUR - 1) / KS_HOUR));
    }
    ks_time share = (avail - total) / n / KS_MIN * KS_MIN;
    ks_time t = w->start + WARMUP;
    for (int i = 0; i < n; i++) {
        int f = order[i];
        ks_time at = t + (ks_time)rng_below(&w->r_fault, (uint32_t)(share / KS_MIN) + 1) * KS_MIN;
        if (f == KS_SIM_VOLUME_DROP && at < w->start + VOLUME_HISTORY) {
            at = w->start + VOLUME_HISTORY;
        }
        if (at + ks_sim_fault_table[f].span > w->end - TAIL) {
            ks_time need = at + ks_sim_fault_table[f].span + TAIL - w->start;
            return ks_err_set(err, KS_EUSAGE,
                              "%s needs 24 h of history before it: use a --duration of at "
                              "least %lldh",
                              ks_sim_fault_table[f].name,
                              (long long)((need + KS_HOUR - 1) / KS_HOUR));
        }
        w->f[f].on = 1;
        w->f[f].at = at;
        w->f[f].target = -1;
        ks_time next = t + ks_sim_fault_table[f].span + share;
        t = next > at + ks_sim_fault_table[f].span ? next : at + ks_sim_fault_table[f].span;
    }

    struct rng *r = &w->r_fault;
    struct fplan *p;
    p = &w->f[KS_SIM_STALL_ONE];
    if (p->on) {
        p->target = (int)rng_below(r, (uint32_t)w->nch);
        p->k = cycle_at_or_after(w, p->target, p->at, &p->kmin);
        p->until = p->kmin + STALL_FOR;
    }
    p = &w->f[KS_SIM_STALL_ALL];
    if (p->on) {
        int64_t d = (p->at - w->start) / KS_MIN;
        w->r0 = (int)((d + w->cyc - 1) / w->cyc);
        p->kmin = w->start + (ks_time)w->r0 * w->cyc * KS_MIN;
        p->until = p->kmin + STALL_FOR;
    }
    for (int f = KS_SIM_ZERO_SPIKE; f <= KS_SIM_SHIFT; f++) {
        p = &w->f[f];
        if (p->on) {
            p->target = (int)rng_below(r, (uint32_t)w->nch);
            p->k = cycle_at_or_after(w, p->target, p->at, &p->kmin);
            p->until = p->kmin + KS_MIN;
        }
    }
    p = &w->f[KS_SIM_WMS_ONE];
    if (p->on) {
        p->target = (int)rng_below(r, (uint32_t)w->nloc);
        p->until = p->at + WMS_ONE_FOR;
    }
    p = &w->f[KS_SIM_WMS_ALL];
    if (p->on) {
        p->until = p->at + WMS_ALL_FOR;
    }
    p = &w->f[KS_SIM_REJECTIONS];
    if (p->on) {
        p->until = p->at + REJ_FOR;
    }
    for (int f = KS_SIM_SUPPLIER_SHORT; f <= KS_SIM_SUPPLIER_DAMAGED; f++) {
        if (w->f[f].on) {
            w->f[f].until = w->f[f].at + 10 * KS_MIN;
        }
    }
    p = &w->f[KS_SIM_COMPLAINT_SPIKE];
    if (p->on) {
        /* A popular SKU, so that a dozen orders of it are plausible. */
        uint32_t top = w->nsku < 50 ? (uint32_t)w->nsku : 50;
        w->spike_sku = w->perm[rng_below(r, top)];
        w->spike_channel = (int)rng_below(r, (uint32_t)w->nch);
        p->target = (int)w->spike_sku;
        for (int i = 0; i < NSPIKE; i++) {
            w->spike_order_at[i] = p->at + (ks_time)i * 10 * KS_MIN +
                                   (ks_time)rng_below(r, 5 * 60 * 1000);
            w->spike_complaint_at[i] = p->at + KS_HOUR + (ks_time)i * 10 * KS_MIN +
                                       (ks_time)rng_below(r, 5 * 60 * 1000);
        }
        p->until = w->spike_complaint_at[NSPIKE - 1] + 1;
    }
    p = &w->f[KS_SIM_SCHEMA_CHANGE];
    if (p->on) {
        ks_time two = 2 * (ks_time)w->cyc * KS_MIN;
        p->until = p->at + (two > 20 * KS_MIN ? two : 20 * KS_MIN);
    }
    p = &w->f[KS_SIM_VOLUME_DROP];
    if (p->on) {
        p->target = (int)rng_below(r, (uint32_t)w->nch);
        p->until = p->at + VOLUME_FOR;
    }
    p = &w->f[KS_SIM_METRIC_DROP];
    if (p->on) {
        p->until = p->at + METRIC_FOR;
    }
    return KS_OK;
}

/* ---- receipts -------------------------------------------------------------- */

static void add_receipt(struct sim *w, ks_time ts, uint32_t po, int supplier, uint32_t sku,
                        int32_t expected, int32_t received, int32_t damaged, int32_t wrong,
                        ks_time due)
{
    KS_GROW(w->receipts, w->capreceipts, w->nreceipts + 1);
    struct ks_sim_ev *e = &w->receipts[w->nreceipts++];
    memset(e, 0, sizeof(*e));
    e->type = KS_SIM_EV_RECEIPT;
    e->src = KS_SIM_SRC_WMS;
    e->ts = ts;
    e->id = po;
    e->aux = (uint8_t)supplier;
    e->sku = sku;
    e->qty = expected;
    e->u.receipt.received = received;
    e->u.receipt.damaged = damaged;
    e->u.receipt.wrong = wrong;
    e->u.receipt.cost_cents = w->price[sku] * (40 + rng_below(&w->r_misc, 21)) / 100;
    e->u.receipt.due = due;
}

static uint32_t receipt_sku(struct sim *w)
{
    uint32_t s;
    do {
        s = rng_below(&w->r_misc, (uint32_t)w->nsku);
    } while (fault_on(w, KS_SIM_COMPLAINT_SPIKE) && s == w->spike_sku);
    return s;
}

/* Plans one purchase order's lines from t0: kind 0 complete, else the fault. */
static void plan_po(struct sim *w, ks_time t0, int kind)
{
    struct rng *r = &w->r_misc;
    uint32_t po = w->next_po++;
    int supplier = kind ? 3 + (kind - KS_SIM_SUPPLIER_SHORT) : (int)rng_below(r, 3);
    int nl = kind == KS_SIM_SUPPLIER_SHORT ? 4 : kind ? 3 : rng_range(r, 3, 5);
    /* Promised at a whole hour up to 36 h before arrival: well under a week late. */
    ks_time due = (t0 - (ks_time)rng_below(r, 36) * KS_HOUR) / KS_HOUR * KS_HOUR;
    ks_time t = t0;
    for (int i = 0; i < nl; i++) {
        int32_t e = 12 * rng_range(r, 2, 20);
        int32_t rec = e, dam = 0, wrong = 0;
        if (kind == KS_SIM_SUPPLIER_SHORT) {
            /* 10 % short on the first line (P3); 33 % short from the second line
             * on (P2), and 33 % overall: fixed sizes keep that story true. */
            static const int size[4] = {60, 120, 120, 96}, pct[4] = {90, 55, 65, 70};
            e = size[i];
            rec = e * pct[i] / 100;
        } else if (kind == KS_SIM_SUPPLIER_WRONG && i == 1) {
            wrong = e; /* the right count of the wrong product */
        } else if (kind == KS_SIM_SUPPLIER_DAMAGED && i == 0) {
            dam = e * 60 / 100;
        }
        add_receipt(w, t, po, supplier, receipt_sku(w), e, rec, dam, wrong, due);
        t += (ks_time)rng_range(r, 60, 180) * KS_SEC;
    }
}

static void minute_receipts(struct sim *w, ks_time m)
{
    if (w->next_po_at <= m) {
        plan_po(w, m + (ks_time)rng_below(&w->r_misc, 60000), 0);
        w->next_po_at = m + 6 * KS_HOUR + (ks_time)rng_below(&w->r_misc, 4 * 60) * KS_MIN;
    }
    for (int f = KS_SIM_SUPPLIER_SHORT; f <= KS_SIM_SUPPLIER_DAMAGED; f++) {
        if (fault_on(w, f) && w->f[f].at == m) {
            plan_po(w, m + (ks_time)rng_below(&w->r_misc, 30000), f);
        }
    }
    size_t keep = 0;
    for (size_t i = 0; i < w->nreceipts; i++) {
        struct ks_sim_ev *e = &w->receipts[i];
        if (e->ts < m + KS_MIN) {
            struct ks_sim_ev *out = new_rec(w, KS_SIM_EV_RECEIPT, e->ts, KS_SIM_SRC_WMS);
            uint32_t seq = out->seq;
            *out = *e;
            out->seq = seq;
            int32_t sellable = e->u.receipt.received - e->u.receipt.damaged - e->u.receipt.wrong;
            if (sellable > 0) {
                /* Sellable after put-away, a few minutes later. */
                struct restock rs = {e->ts + 5 * KS_MIN, e->sku, sellable};
                heap_push(&w->restocks, &rs);
            }
        } else {
            w->receipts[keep++] = *e;
        }
    }
    w->nreceipts = keep;
}

/* ---- inventory cycles ------------------------------------------------------ */

enum push_mode { PUSH_NORMAL, PUSH_IMPORT, PUSH_SHIFT };

static void push(struct sim *w, int c, int k, ks_time m)
{
    struct rng *r = &w->r_push;
    enum push_mode mode = PUSH_NORMAL;
    if (fault_on(w, KS_SIM_ZERO_SPIKE) && w->f[KS_SIM_ZERO_SPIKE].target == c &&
        w->f[KS_SIM_ZERO_SPIKE].k == k) {
        mode = PUSH_IMPORT;
    }
    if (fault_on(w, KS_SIM_SHIFT) && w->f[KS_SIM_SHIFT].target == c && w->f[KS_SIM_SHIFT].k == k) {
        mode = PUSH_SHIFT;
    }
    int partial = in_window(w, KS_SIM_VOLUME_DROP, m) && w->f[KS_SIM_VOLUME_DROP].target == c;
    int schema = in_window(w, KS_SIM_SCHEMA_CHANGE, m);
    int sync = 1, sync_err = 0;
    const struct fplan *s1 = &w->f[KS_SIM_STALL_ONE];
    if (s1->on && s1->target == c && k > s1->k && m < s1->kmin + STALL_FOR) {
        sync_err = 1;
    }
    const struct fplan *sa = &w->f[KS_SIM_STALL_ALL];
    ks_time round = w->start + (ks_time)(k - 1) * w->cyc * KS_MIN;
    if (sa->on && k - 1 > w->r0 && round < sa->kmin + STALL_FOR) {
        sync = 0;
    }

    size_t n = partial ? (w->nlist[c] + 4) / 5 : w->nlist[c];
    size_t step = partial ? 5 : 1;
    ks_time t0 = m + 1000 + (ks_time)rng_below(r, 1000);
    ks_time span = (ks_time)n * 20 < 40000 ? (ks_time)n * 20 : 40000;
    ks_time half = n ? (ks_time)((n + 1) / 2) : 1;
    /* The guard: at most 5 % of known SKUs through a large change and 5 % of
     * active ones to zero per update (the detectors need more than 20 % and
     * 10 %); a change beyond that waits for the next cycle. */
    int big_budget = w->known_n[c] >= 20 ? w->known_n[c] / 20 : w->nsku;
    int zero_budget = w->active_n[c] >= 20 ? w->active_n[c] / 20 : w->nsku;
    int nbig = 0, nzero = 0;
    int src = mode == PUSH_IMPORT ? KS_SIM_SRC_CSV : KS_SIM_SRC_ERP;
    int32_t *last = w->last[c];
    for (size_t j = 0; j < n; j++) {
        uint32_t s = w->list[c][j * step];
        int32_t old = last[s];
        int32_t q = w->stock[s];
        int rejected = schema && (j & 1);
        if (mode == PUSH_IMPORT) {
            if (old > 0 && rng_below(r, 100) < 30) {
                q = 0;
            }
        } else if (mode == PUSH_SHIFT) {
            q = q * 10;
        } else if (old >= 0) {
            int64_t d = q > old ? (int64_t)q - old : (int64_t)old - q;
            int big = 2 * d > (old > 1 ? old : 1);
            int zero = old > 0 && q == 0;
            if ((big && nbig >= big_budget) || (zero && nzero >= zero_budget)) {
                q = old;
            } else {
                nbig += big;
                nzero += zero;
            }
        }
        if (mode == PUSH_NORMAL && !rejected) {
            if (old < 0) {
                w->known_n[c]++;
            }
            if (old > 0) {
                w->active_n[c]--;
            }
            if (q > 0) {
                w->active_n[c]++;
            }
            last[s] = q;
        }
        struct ks_sim_ev *e =
            new_rec(w, KS_SIM_EV_INVENTORY, t0 + ((ks_time)(j >> 1) * span) / half, src);
        e->ch = (uint8_t)c;
        e->sku = s;
        e->qty = q;
        e->id = (uint32_t)k;
        e->flags = (uint8_t)((rejected ? KS_SIM_EVF_REJECTED : 0) |
                             (mode == PUSH_IMPORT ? KS_SIM_EVF_CSV : 0));
    }
    ks_time ts = t0 + span + 200 + (ks_time)rng_below(r, 300);
    w->win_lo[c] = t0;
    w->win_hi[c] = ts;
    if (sync) {
        struct ks_sim_ev *e = new_rec(w, KS_SIM_EV_SYNC, ts, KS_SIM_SRC_PIPELINE);
        e->ch = (uint8_t)c;
        e->id = (uint32_t)k;
        e->flags = mode == PUSH_IMPORT ? KS_SIM_EVF_CSV : 0;
        e->status = sync_err ? KS_SIM_SYNC_ERROR : KS_SIM_SYNC_OK;
        e->aux = sync_err ? 2 : 0; /* rate_limit */
    }
}

static void minute_pushes(struct sim *w, ks_time m)
{
    int64_t mi = (m - w->start) / KS_MIN;
    for (int c = 0; c < w->nch; c++) {
        w->win_lo[c] = w->win_hi[c] = 0;
        if (mi >= w->off[c] && (mi - w->off[c]) % w->cyc == 0) {
            push(w, c, (int)((mi - w->off[c]) / w->cyc) + 1, m);
        }
    }
}

/* ---- health, metrics, stock ------------------------------------------------ */

static void minute_health(struct sim *w, ks_time m)
{
    struct rng *r = &w->r_health;
    for (int k = 0; k <= w->nloc; k++) {
        ks_time ts = m + (5 + 13 * (ks_time)k) * KS_SEC + (ks_time)rng_below(r, 1000);
        int32_t latency = rng_range(r, 12, 80);
        int down = 0;
        if (k > 0) {
            if (in_window(w, KS_SIM_WMS_ALL, m)) {
                continue; /* silent */
            }
            down = in_window(w, KS_SIM_WMS_ONE, m) && w->f[KS_SIM_WMS_ONE].target == k - 1;
        }
        struct ks_sim_ev *e = new_rec(w, KS_SIM_EV_HEALTH, ts, KS_SIM_SRC_MONITOR);
        e->loc = (uint8_t)k;
        e->status = down ? KS_SIM_HEALTH_DOWN : KS_SIM_HEALTH_UP;
        e->qty = down ? 0 : latency;
    }
}

static void minute_metrics(struct sim *w, ks_time m)
{
    if ((m / KS_MIN) % 5) {
        return;
    }
    struct rng *r = &w->r_health;
    unsigned hour = (unsigned)((m / KS_HOUR) % 24);
    int32_t conv = rng_range(r, 280, 320); /* 0.0280 .. 0.0320 */
    if (in_window(w, KS_SIM_METRIC_DROP, m)) {
        conv = conv * 40 / 100;
    }
    struct ks_sim_ev *e = new_rec(w, KS_SIM_EV_METRIC, m + 250, KS_SIM_SRC_ANALYTICS);
    e->aux = KS_SIM_METRIC_CONVERSION;
    e->qty = conv;
    e = new_rec(w, KS_SIM_EV_METRIC, m + 250, KS_SIM_SRC_ANALYTICS);
    e->aux = KS_SIM_METRIC_SESSIONS;
    e->qty = (int32_t)(1500 * diurnal[hour] / 100 * (uint32_t)rng_range(r, 90, 110) / 100);
}

/* The stock of record rises only with an event: the WMS reports every
 * increase at once (at the minute's start, before any order of the minute),
 * and every 6 hours the whole catalogue. So the last reported quantity is
 * never below the real one, and no order ever asks for more than the stock
 * of record (no order oversells). */
static void stock_up(struct sim *w, uint32_t s, int32_t qty, ks_time m)
{
    w->stock[s] += qty;
    struct ks_sim_ev *e = new_rec(w, KS_SIM_EV_STOCK, m, KS_SIM_SRC_WMS);
    e->sku = s;
    e->qty = w->stock[s];
    e->loc = (uint8_t)(w->home[s] + 1);
}

static void minute_stock(struct sim *w, ks_time m)
{
    /* Stock adjustments (cycle counts, returns): small and rare. */
    struct rng *r = &w->r_misc;
    if (rng_below(r, 4) == 0) {
        uint32_t s = rng_below(r, (uint32_t)w->nsku);
        int32_t d = rng_range(r, -2, 2);
        if (d > 0) {
            stock_up(w, s, d, m);
        } else {
            w->stock[s] = w->stock[s] + d < 0 ? 0 : w->stock[s] + d;
        }
    }
    /* Replenishments and put-away receipts that are due. */
    struct restock rs;
    while (heap_pop_before(&w->restocks, m + 1, &rs)) {
        stock_up(w, rs.sku, rs.qty, m);
        w->pend[rs.sku] = 0;
    }
    /* The complaint spike's SKU must have stock for its orders. */
    if (fault_on(w, KS_SIM_COMPLAINT_SPIKE) && w->stock[w->spike_sku] < 5) {
        for (int i = 0; i < NSPIKE; i++) {
            if (w->spike_order_at[i] >= m && w->spike_order_at[i] < m + KS_MIN) {
                stock_up(w, w->spike_sku, 48, m);
                break;
            }
        }
    }
    /* A system-of-record snapshot every 6 hours, at hh:45. */
    if ((m / KS_MIN) % 60 == 45 && (m / KS_HOUR) % 6 == 0) {
        for (int s = 0; s < w->nsku; s++) {
            ks_time ts = m + 2000 + (ks_time)s * 50000 / w->nsku;
            struct ks_sim_ev *e = new_rec(w, KS_SIM_EV_STOCK, ts, KS_SIM_SRC_WMS);
            e->sku = (uint32_t)s;
            e->qty = w->stock[s];
            e->loc = (uint8_t)(w->home[s] + 1);
        }
    }
}

/* ---- orders ---------------------------------------------------------------- */

static int pick_location(const struct sim *w, uint32_t sku, ks_time t)
{
    ks_time until;
    int loc = w->home[sku];
    if (!loc_down(w, loc, t, &until)) {
        return loc;
    }
    for (int l = 0; l < w->nloc; l++) {
        if (!loc_down(w, l, t, &until)) {
            return l; /* rerouted */
        }
    }
    return loc;
}

static void schedule_ship(struct sim *w, const struct ks_sim_ev *o, ks_time lo, ks_time hi,
                          int may_cancel)
{
    struct rng *r = &w->r_orders;
    struct ship s = {0};
    s.order = o->id;
    s.cust = o->u.order.cust;
    s.cents = o->u.order.cents;
    s.sku = o->sku;
    s.ch = o->ch;
    s.loc = (uint8_t)(o->loc - 1);
    /* Cancellations are rare and count against the budget of bad orders. */
    if (may_cancel && rng_below(r, 1000) < 4 && w->bad_n < 40 &&
        w->bad_cents + o->u.order.cents <= 250000) {
        w->bad_n++;
        w->bad_cents += o->u.order.cents;
        s.kind = 1;
        s.ts = o->ts + (ks_time)rng_range(r, 5, 60) * KS_MIN;
    } else {
        s.ts = o->ts + lo + (ks_time)rng_below(r, (uint32_t)((hi - lo) / KS_SEC)) * KS_SEC;
    }
    heap_push(&w->ships, &s);
}

static void take_stock(struct sim *w, uint32_t s, int q, ks_time t)
{
    w->stock[s] -= q;
    if (w->stock[s] < 0) {
        w->stock[s] = 0;
    }
    if (w->stock[s] <= 2 && !w->pend[s]) {
        struct restock rs = {t + (ks_time)rng_range(&w->r_misc, 8 * 60, 48 * 60) * KS_MIN, s,
                             12 * rng_range(&w->r_misc, 2, 20)};
        heap_push(&w->restocks, &rs);
        w->pend[s] = 1;
    }
}

/* Whether a natural rejection at t keeps every one-hour window at <= 1 of
 * them (1 of >= 20 is 5 %, not more), away from the rejections fault. */
static int natural_rejection_ok(const struct sim *w, ks_time t, uint32_t cents)
{
    const struct fplan *p = &w->f[KS_SIM_REJECTIONS];
    if (p->on && t >= p->at - REJ_QUIET && t < p->until + REJ_QUIET) {
        return 0;
    }
    if (w->last_nat_rej != KS_TIME_NONE && t - w->last_nat_rej < KS_HOUR) {
        return 0;
    }
    return w->bad_n < 40 && w->bad_cents + cents <= 250000;
}

static void make_order(struct sim *w, ks_time ts, int c)
{
    struct rng *r = &w->r_orders;
    uint32_t x = rng_below(r, 100);
    int want = x < 70 ? 1 : x < 92 ? 2 : 3;
    uint32_t skus[3];
    uint8_t qs[3];
    int nl = 0;
    uint32_t cents = 0;
    for (int i = 0; i < want; i++) {
        for (int tries = 0; tries < 4; tries++) {
            uint32_t s = pick_sku_popular(w);
            int dup = 0;
            for (int j = 0; j < nl; j++) {
                dup |= skus[j] == s;
            }
            if (dup || w->stock[s] <= 0) {
                continue;
            }
            int q = rng_below(r, 100) < 85 || w->stock[s] < 2 ? 1 : 2;
            skus[nl] = s;
            qs[nl] = (uint8_t)q;
            cents += w->price[s] * (uint32_t)q;
            nl++;
            break;
        }
    }
    if (!nl) {
        return; /* nothing in stock caught the customer's eye */
    }
    struct ks_sim_ev *e = new_rec(w, KS_SIM_EV_ORDER, ts, KS_SIM_SRC_OMS);
    e->ch = (uint8_t)c;
    e->id = w->next_order++;
    e->sku = skus[0];
    e->nlines = (uint8_t)nl;
    e->u.order.cust = rng_below(r, NCUST);
    e->u.order.cents = cents;
    e->u.order.sku2 = nl > 1 ? skus[1] : 0;
    e->u.order.sku3 = nl > 2 ? skus[2] : 0;
    for (int i = 0; i < nl; i++) {
        e->u.order.q[i] = qs[i];
    }
    e->loc = (uint8_t)(pick_location(w, skus[0], ts) + 1);
    e->status = KS_SIM_ORDER_ACCEPTED;
    uint32_t chance = rng_below(r, 1000);
    if (in_window(w, KS_SIM_REJECTIONS, ts)) {
        if (chance < 250 && w->fault_rej_n < 40 && w->fault_rej_cents + cents <= 200000) {
            e->status = KS_SIM_ORDER_REJECTED;
            e->aux = REASON_VALIDATION;
            w->fault_rej_n++;
            w->fault_rej_cents += cents;
        }
    } else if (chance < 12 && natural_rejection_ok(w, ts, cents)) {
        e->status = KS_SIM_ORDER_REJECTED;
        e->aux = REASON_UNFULFILLABLE;
        w->last_nat_rej = ts;
        w->bad_n++;
        w->bad_cents += cents;
    }
    if (e->status == KS_SIM_ORDER_ACCEPTED) {
        for (int i = 0; i < nl; i++) {
            take_stock(w, skus[i], qs[i], ts);
        }
        schedule_ship(w, e, 20 * KS_MIN, 120 * KS_MIN, 1);
    }
}

static int cmp_time(const void *a, const void *b)
{
    ks_time x = *(const ks_time *)a, y = *(const ks_time *)b;
    return x < y ? -1 : x > y;
}

static void minute_orders(struct sim *w, ks_time m)
{
    struct rng *r = &w->r_orders;
    unsigned hour = (unsigned)((m / KS_HOUR) % 24);
    uint32_t milli = 1000 * diurnal[hour] / 100; /* expected orders this minute x 1000 */
    if (in_window(w, KS_SIM_METRIC_DROP, m)) {
        milli = milli * 40 / 100; /* conversion fell: so did orders */
    }
    /* Binomial(16, milli / 16000): a Poisson-like count without floating point. */
    int n = 0;
    for (int i = 0; i < 16; i++) {
        n += rng_below(r, 16000) < milli;
    }
    ks_time at[16];
    for (int i = 0; i < n; i++) {
        int c = pick_channel(w, r);
        at[i] = dodge(w, c, m + (ks_time)rng_below(r, 60000)) * KS_SIM_MAX_CHANNELS + c;
    }
    qsort(at, (size_t)n, sizeof(at[0]), cmp_time);
    for (int i = 0; i < n; i++) {
        make_order(w, at[i] / KS_SIM_MAX_CHANNELS, (int)(at[i] % KS_SIM_MAX_CHANNELS));
    }
    /* The complaint spike's orders: one SKU, shipped within half an hour. */
    if (fault_on(w, KS_SIM_COMPLAINT_SPIKE)) {
        for (int i = 0; i < NSPIKE; i++) {
            ks_time t = w->spike_order_at[i];
            if (t < m || t >= m + KS_MIN) {
                continue;
            }
            int c = w->spike_channel;
            uint32_t s = w->spike_sku;
            struct ks_sim_ev *e = new_rec(w, KS_SIM_EV_ORDER, dodge(w, c, t), KS_SIM_SRC_OMS);
            e->ch = (uint8_t)c;
            e->id = w->next_order++;
            e->sku = s;
            e->nlines = 1;
            e->u.order.cust = rng_below(r, NCUST);
            e->u.order.cents = w->price[s];
            e->u.order.q[0] = 1;
            e->loc = (uint8_t)(pick_location(w, s, e->ts) + 1);
            e->status = KS_SIM_ORDER_ACCEPTED;
            take_stock(w, s, 1, e->ts);
            schedule_ship(w, e, 10 * KS_MIN, 30 * KS_MIN, 0);
            w->spike_order[i] = e->id;
            w->spike_cust[i] = e->u.order.cust;
            w->spike_cents[i] = e->u.order.cents;
            w->spike_ch[i] = (uint8_t)c;
        }
    }
}

static void minute_shipments(struct sim *w, ks_time m)
{
    struct ship s;
    while (heap_pop_before(&w->ships, m + KS_MIN, &s)) {
        ks_time until;
        if (s.kind == 0 && loc_down(w, s.loc, s.ts, &until)) {
            /* The warehouse cannot ship while its WMS is down. */
            s.ts = until + (ks_time)rng_range(&w->r_orders, 60, 1200) * KS_SEC;
            heap_push(&w->ships, &s);
            continue;
        }
        struct ks_sim_ev *e = new_rec(w, KS_SIM_EV_ORDER, dodge(w, s.ch, s.ts), KS_SIM_SRC_OMS);
        e->ch = s.ch;
        e->id = s.order;
        e->loc = (uint8_t)(s.loc + 1);
        e->sku = s.sku;
        e->u.order.cust = s.cust;
        e->u.order.cents = s.cents;
        if (s.kind == 1) {
            e->status = KS_SIM_ORDER_CANCELLED;
            e->aux = REASON_CUSTOMER;
            continue;
        }
        e->status = KS_SIM_ORDER_SHIPPED;
        struct recent *rc = &w->recent[w->nrecent++ % NRECENT];
        rc->ts = e->ts;
        rc->order = s.order;
        rc->cust = s.cust;
        rc->cents = s.cents;
        rc->sku = s.sku;
        rc->ch = s.ch;
    }
}

static void minute_complaints(struct sim *w, ks_time m)
{
    struct rng *r = &w->r_misc;
    /* About one every two hours, about an order shipped before this minute;
     * at most three per (SKU, reason) in the whole run, never the spike's SKU. */
    if (rng_below(r, 120) == 0 && w->nrecent) {
        size_t have = w->nrecent < NRECENT ? w->nrecent : NRECENT;
        const struct recent *rc = &w->recent[rng_below(r, (uint32_t)have)];
        uint32_t reason = rng_below(r, 5);
        uint8_t *cnt = &w->ccount[(size_t)rc->sku * 5 + reason];
        int spike = fault_on(w, KS_SIM_COMPLAINT_SPIKE) && rc->sku == w->spike_sku;
        if (rc->ts < m && *cnt < 3 && !spike) {
            (*cnt)++;
            ks_time ts = dodge(w, rc->ch, m + (ks_time)rng_below(r, 60000));
            struct ks_sim_ev *e = new_rec(w, KS_SIM_EV_COMPLAINT, ts, KS_SIM_SRC_HELPDESK);
            e->aux = (uint8_t)reason;
            e->sku = rc->sku;
            e->ch = rc->ch;
            e->u.complaint.order = rc->order;
            e->u.complaint.cust = rc->cust;
            e->u.complaint.cents = rc->cents;
        }
    }
    if (fault_on(w, KS_SIM_COMPLAINT_SPIKE)) {
        for (int i = 0; i < NSPIKE; i++) {
            ks_time t = w->spike_complaint_at[i];
            if (t < m || t >= m + KS_MIN) {
                continue;
            }
            struct ks_sim_ev *e = new_rec(w, KS_SIM_EV_COMPLAINT, dodge(w, w->spike_ch[i], t),
                                          KS_SIM_SRC_HELPDESK);
            e->aux = 0; /* wrong_item */
            e->sku = w->spike_sku;
            e->ch = w->spike_ch[i];
            e->u.complaint.order = w->spike_order[i];
            e->u.complaint.cust = w->spike_cust[i];
            e->u.complaint.cents = w->spike_cents[i];
        }
    }
}

/* ---- rendering ------------------------------------------------------------- */

static void put_source(struct sim *w, int src)
{
    PUTL(&w->out, ",\"source\":");
    put_str(&w->out, src == KS_SIM_SRC_CSV ? w->csv_source : source_names[src]);
    PUTL(&w->out, "}\n");
}

static void put_order_id(struct out *o, uint32_t id)
{
    PUTL(o, "\"ORD-");
    put_u_pad(o, id, 7);
    putc_(o, '"');
}

static void put_customer(struct out *o, uint32_t cust)
{
    PUTL(o, ",\"customer\":\"C-");
    put_u_pad(o, cust, 6);
    putc_(o, '"');
}

static void put_batch(struct sim *w, const struct ks_sim_ev *e)
{
    struct out *o = &w->out;
    PUTL(o, ",\"batch\":\"");
    put(o, channel_names[e->ch], strlen(channel_names[e->ch]));
    if (e->flags & KS_SIM_EVF_CSV) {
        PUTL(o, "-csv");
    }
    putc_(o, '-');
    put_u(o, e->id);
    putc_(o, '"');
}

static void render(struct sim *w, const struct ks_sim_ev *e)
{
    struct out *o = &w->out;
    if (o->len + OUT_SLACK > OUT_CAP) {
        out_flush(o);
    }
    switch (e->type) {
    case KS_SIM_EV_INVENTORY:
        PUTL(o, "{\"type\":\"inventory\",\"ts\":");
        put_ts(o, e->ts);
        PUTL(o, ",\"channel\":");
        put_str(o, channel_names[e->ch]);
        PUTL(o, ",\"sku\":");
        put_sku(o, e->sku);
        if (e->flags & KS_SIM_EVF_REJECTED) {
            PUTL(o, ",\"quantity\":");
        } else {
            PUTL(o, ",\"qty\":");
        }
        put_u(o, (uint64_t)e->qty);
        put_batch(w, e);
        break;
    case KS_SIM_EV_SYNC:
        PUTL(o, "{\"type\":\"sync\",\"ts\":");
        put_ts(o, e->ts);
        PUTL(o, ",\"channel\":");
        put_str(o, channel_names[e->ch]);
        if (e->status == KS_SIM_SYNC_OK) {
            PUTL(o, ",\"status\":\"ok\"");
            put_batch(w, e);
        } else {
            PUTL(o, ",\"status\":\"error\"");
            put_batch(w, e);
            PUTL(o, ",\"error\":");
            put_str(o, sync_errors[e->aux]);
            PUTL(o, ",\"detail\":\"HTTP 429 Too Many Requests from the ");
            put(o, channel_names[e->ch], strlen(channel_names[e->ch]));
            PUTL(o, " API\"");
        }
        break;
    case KS_SIM_EV_ORDER: {
        static const char *const st[4] = {"accepted", "rejected", "cancelled", "shipped"};
        PUTL(o, "{\"type\":\"order\",\"ts\":");
        put_ts(o, e->ts);
        PUTL(o, ",\"order_id\":");
        put_order_id(o, e->id);
        PUTL(o, ",\"channel\":");
        put_str(o, channel_names[e->ch]);
        PUTL(o, ",\"status\":");
        put_str(o, st[e->status]);
        if (e->aux) {
            PUTL(o, ",\"reason\":");
            put_str(o, order_reasons[e->aux]);
        }
        if (e->status <= KS_SIM_ORDER_REJECTED) {
            uint32_t cust = e->u.order.cust;
            put_customer(o, cust);
            PUTL(o, ",\"email\":\"");
            put(o, first_names[cust % 16], strlen(first_names[cust % 16]));
            putc_(o, '.');
            put(o, last_names[cust / 16 % 16], strlen(last_names[cust / 16 % 16]));
            put_u(o, cust);
            PUTL(o, "@example.com\",\"value\":");
            put_cents(o, e->u.order.cents);
            PUTL(o, ",\"currency\":\"USD\",\"lines\":[");
            uint32_t sk[3] = {e->sku, e->u.order.sku2, e->u.order.sku3};
            for (int i = 0; i < e->nlines; i++) {
                if (i) {
                    putc_(o, ',');
                }
                PUTL(o, "{\"sku\":");
                put_sku(o, sk[i]);
                PUTL(o, ",\"qty\":");
                put_u(o, e->u.order.q[i]);
                putc_(o, '}');
            }
            putc_(o, ']');
        }
        PUTL(o, ",\"location\":");
        put_str(o, location_names[e->loc - 1]);
        break;
    }
    case KS_SIM_EV_HEALTH:
        PUTL(o, "{\"type\":\"health\",\"ts\":");
        put_ts(o, e->ts);
        if (e->loc == 0) {
            PUTL(o, ",\"system\":\"oms\"");
        } else {
            PUTL(o, ",\"system\":\"wms\",\"location\":");
            put_str(o, location_names[e->loc - 1]);
        }
        if (e->status == KS_SIM_HEALTH_UP) {
            PUTL(o, ",\"status\":\"up\",\"latency_ms\":");
            put_u(o, (uint64_t)e->qty);
        } else {
            PUTL(o, ",\"status\":\"down\"");
        }
        break;
    case KS_SIM_EV_STOCK:
        PUTL(o, "{\"type\":\"stock\",\"ts\":");
        put_ts(o, e->ts);
        PUTL(o, ",\"sku\":");
        put_sku(o, e->sku);
        PUTL(o, ",\"qty\":");
        put_u(o, (uint64_t)e->qty);
        PUTL(o, ",\"location\":");
        put_str(o, location_names[e->loc - 1]);
        break;
    case KS_SIM_EV_RECEIPT:
        PUTL(o, "{\"type\":\"receipt\",\"ts\":");
        put_ts(o, e->ts);
        PUTL(o, ",\"po\":\"PO-");
        put_u_pad(o, e->id, 6);
        PUTL(o, "\",\"supplier\":");
        put_str(o, suppliers[e->aux]);
        PUTL(o, ",\"sku\":");
        put_sku(o, e->sku);
        PUTL(o, ",\"expected\":");
        put_u(o, (uint64_t)e->qty);
        PUTL(o, ",\"received\":");
        put_u(o, (uint64_t)e->u.receipt.received);
        PUTL(o, ",\"damaged\":");
        put_u(o, (uint64_t)e->u.receipt.damaged);
        PUTL(o, ",\"wrong\":");
        put_u(o, (uint64_t)e->u.receipt.wrong);
        PUTL(o, ",\"due\":");
        put_ts(o, e->u.receipt.due);
        PUTL(o, ",\"unit_cost\":");
        put_cents(o, e->u.receipt.cost_cents);
        break;
    case KS_SIM_EV_COMPLAINT:
        PUTL(o, "{\"type\":\"complaint\",\"ts\":");
        put_ts(o, e->ts);
        PUTL(o, ",\"reason\":");
        put_str(o, complaint_reasons[e->aux]);
        PUTL(o, ",\"order_id\":");
        put_order_id(o, e->u.complaint.order);
        put_customer(o, e->u.complaint.cust);
        PUTL(o, ",\"sku\":");
        put_sku(o, e->sku);
        PUTL(o, ",\"channel\":");
        put_str(o, channel_names[e->ch]);
        PUTL(o, ",\"value\":");
        put_cents(o, e->u.complaint.cents);
        break;
    case KS_SIM_EV_METRIC:
        PUTL(o, "{\"type\":\"metric\",\"ts\":");
        put_ts(o, e->ts);
        if (e->aux == KS_SIM_METRIC_CONVERSION) {
            PUTL(o, ",\"name\":\"conversion_rate\",\"value\":0.");
            put_u_pad(o, (uint64_t)e->qty, 4);
        } else {
            PUTL(o, ",\"name\":\"sessions\",\"value\":");
            put_u(o, (uint64_t)e->qty);
        }
        PUTL(o, ",\"labels\":{\"site\":\"storefront\"}");
        break;
    default:
        KS_ASSERT(!"unknown simulated event type");
    }
    put_source(w, e->src);
}

static int cmp_rec(const void *a, const void *b)
{
    const struct ks_sim_ev *x = a, *y = b;
    if (x->ts != y->ts) {
        return x->ts < y->ts ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void run_minute(struct sim *w, ks_time m)
{
    w->nrec = 0;
    minute_stock(w, m);
    minute_pushes(w, m);
    minute_health(w, m);
    minute_metrics(w, m);
    minute_receipts(w, m);
    minute_orders(w, m);
    minute_shipments(w, m);
    minute_complaints(w, m);
    qsort(w->rec, w->nrec, sizeof(w->rec[0]), cmp_rec);
    for (size_t i = 0; i < w->nrec; i++) {
        KS_ASSERT(w->rec[i].ts >= m && w->rec[i].ts < m + KS_MIN);
        render(w, &w->rec[i]);
        ks_sim_oracle_feed(w->oracle, &w->rec[i]);
    }
}

/* ---- the truth ------------------------------------------------------------- */

static const char *sev_name(int s)
{
    return s == 1 ? "P1" : s == 2 ? "P2" : "P3";
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Writes the names of the set bits, sorted. */
static void json_names(struct ks_json *j, uint32_t bits, const char *const *names)
{
    const char *v[32];
    int n = 0;
    for (int i = 0; i < 32; i++) {
        if (bits >> i & 1u) {
            v[n++] = names[i];
        }
    }
    qsort(v, (size_t)n, sizeof(v[0]), cmp_name);
    ks_json_arr_begin(j);
    for (int i = 0; i < n; i++) {
        ks_json_str(j, v[i]);
    }
    ks_json_arr_end(j);
}

static const char *src_name(const struct sim *w, int src)
{
    return src == KS_SIM_SRC_CSV ? w->csv_source : source_names[src];
}

/* The fault whose span holds the detection and whose incident type matches. */
static int attribute(const struct sim *w, const struct ks_sim_incident *in)
{
    const char *type = ks_sim_itype_name((enum ks_sim_itype)in->type);
    for (int f = 0; f < KS_SIM_NFAULTS; f++) {
        const struct fplan *p = &w->f[f];
        if (p->on && strcmp(ks_sim_fault_table[f].type, type) == 0 && in->detected_at >= p->at &&
            in->detected_at <= p->at + ks_sim_fault_table[f].span) {
            return f;
        }
    }
    return -1;
}

static void note(const struct sim *w, const struct ks_sim_incident *in, struct ks_buf *b)
{
    char t1[32];
    switch (in->type) {
    case KS_SIM_I_SYNC_FAILURE:
        ks_time_fmt(in->num, t1);
        ks_buf_printf(b,
                      "no ok sync for more than 30 min (2 x the 15 min default interval); the "
                      "first stale channel's last ok sync was at %s",
                      t1);
        if (in->nesc) {
            ks_buf_puts(b, in->esc[0].severity == 1
                               ? "; P1 once every known channel is stale"
                               : "; P2 one hour after detection, still stale");
        }
        break;
    case KS_SIM_I_SYSTEM_OUTAGE:
        ks_time_fmt(in->num, t1);
        ks_buf_printf(b, "%s: no up check for more than 5 min; the first location's last up was at %s",
                      in->system == 0 ? "oms" : "wms", t1);
        if (in->nesc) {
            ks_buf_puts(b, (in->locations & (in->locations - 1))
                               ? "; P1 once every known location is down"
                               : "; P1 15 min after detection, still down");
        }
        break;
    case KS_SIM_I_DATA_CORRUPTION: {
        int c = 0;
        while (c < w->nch && !(in->channels >> c & 1u)) {
            c++;
        }
        ks_buf_printf(b, "update %s%s-%u from %s ", channel_names[c],
                      (in->batch_flags & KS_SIM_EVF_CSV) ? "-csv" : "", in->batch,
                      src_name(w, in->source));
        if (in->detectors & (1u << KS_SIM_D_ZERO_SPIKE)) {
            ks_buf_printf(b, "took %lld of %lld active SKUs to zero (> 10 %%)", (long long)in->num,
                          (long long)in->den);
            if (in->detectors & (1u << KS_SIM_D_DISTRIBUTION_SHIFT)) {
                ks_buf_puts(b, "; the same update also changes > 20 % of known SKUs by > 50 % "
                               "(distribution_shift): one incident");
            }
        } else {
            ks_buf_printf(b, "changed %lld of %lld known SKUs by more than 50 %% (> 20 %%)",
                          (long long)in->num, (long long)in->den);
        }
        ks_buf_puts(b, "; detected at the sync that closes the update");
        break;
    }
    case KS_SIM_I_VOLUME_DROP:
        ks_buf_printf(b,
                      "%lld inventory events in the hour to this minute against an average hour "
                      "of %lld.%02lld (< 50 %%)",
                      (long long)in->num, (long long)(in->den / 100), (long long)(in->den % 100));
        break;
    case KS_SIM_I_ORDER_REJECTIONS:
        ks_buf_printf(b, "%lld of the %lld accepted + rejected orders in the last hour were "
                         "rejected (> 5 %%, >= 20 orders)",
                      (long long)in->num, (long long)in->den);
        break;
    case KS_SIM_I_SUPPLIER_SHORTFALL:
        ks_buf_printf(b, "PO-%06u judged after each receipt line", in->po);
        if (in->nesc) {
            ks_buf_puts(b, ": the first short line is under 20 % short (P3); a later line takes "
                           "the purchase order past 20 % (P2)");
        } else {
            ks_buf_puts(b, ": wrong products, damaged >= 50 % of received, or >= 20 % short (P2)");
        }
        break;
    case KS_SIM_I_FULFILLMENT_ERROR:
        ks_buf_printf(b, "the 10th %s complaint about SKU-%07u within 24 h",
                      complaint_reasons[in->reason], (unsigned)(in->sku + 1));
        break;
    case KS_SIM_I_FEED_SCHEMA_CHANGE:
        ks_buf_printf(b,
                      "%lld of %lld lines from %s in the last 10 min rejected (> 5 %%, >= 100): "
                      "field \"qty\" missing, sent as \"quantity\"",
                      (long long)in->num, (long long)in->den, src_name(w, in->source));
        break;
    case KS_SIM_I_METRIC_ANOMALY:
        ks_buf_printf(b,
                      "conversion_rate 0.%04lld is below 0.0200; an incident only with a user "
                      "metric rule (the default configuration has none), e.g. kind below, "
                      "threshold 0.02; a rule 'more than 40 %% below its trailing baseline' "
                      "fires on the same sample",
                      (long long)in->num);
        break;
    default:
        break;
    }
}

static enum ks_rc write_truth(struct sim *w, FILE *fp, struct ks_err *err)
{
    struct ks_buf b = {0};
    struct ks_json j;
    ks_json_init(&j, &b, 1);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "seed");
    ks_json_int(&j, (int64_t)w->opt->seed);
    ks_json_key(&j, "start");
    ks_json_time(&j, w->start);
    ks_json_key(&j, "end");
    ks_json_time(&j, w->end);
    ks_json_key(&j, "config");
    ks_json_str(&j, "defaults");
    ks_json_key(&j, "channels");
    ks_json_arr_begin(&j);
    for (int c = 0; c < w->nch; c++) {
        ks_json_str(&j, channel_names[c]);
    }
    ks_json_arr_end(&j);
    ks_json_key(&j, "locations");
    ks_json_arr_begin(&j);
    for (int l = 0; l < w->nloc; l++) {
        ks_json_str(&j, location_names[l]);
    }
    ks_json_arr_end(&j);
    ks_json_key(&j, "skus");
    ks_json_int(&j, w->nsku);
    ks_json_key(&j, "cycle_minutes");
    ks_json_int(&j, w->cyc);

    ks_json_key(&j, "faults");
    ks_json_arr_begin(&j);
    for (int f = 0; f < KS_SIM_NFAULTS; f++) {
        const struct fplan *p = &w->f[f];
        if (!p->on) {
            continue;
        }
        ks_json_obj_begin(&j);
        ks_json_key(&j, "name");
        ks_json_str(&j, ks_sim_fault_table[f].name);
        ks_json_key(&j, "start");
        ks_json_time(&j, p->at);
        ks_json_key(&j, "end");
        ks_json_time(&j, p->until);
        ks_json_key(&j, "target");
        if (f == KS_SIM_WMS_ONE) {
            ks_json_str(&j, location_names[p->target]);
        } else if (f == KS_SIM_COMPLAINT_SPIKE) {
            char sku[16];
            snprintf(sku, sizeof(sku), "SKU-%07u", (unsigned)p->target + 1);
            ks_json_str(&j, sku);
        } else if (p->target >= 0) {
            ks_json_str(&j, channel_names[p->target]);
        } else {
            ks_json_null(&j);
        }
        ks_json_key(&j, "summary");
        ks_json_str(&j, ks_sim_fault_table[f].summary);
        ks_json_obj_end(&j);
    }
    ks_json_arr_end(&j);

    const struct ks_sim_incident *inc;
    size_t n = ks_sim_oracle_incidents(w->oracle, &inc);
    struct ks_buf nb = {0};
    ks_json_key(&j, "incidents");
    ks_json_arr_begin(&j);
    for (size_t i = 0; i < n; i++) {
        const struct ks_sim_incident *in = &inc[i];
        int f = attribute(w, in);
        ks_json_obj_begin(&j);
        ks_json_key(&j, "fault");
        ks_json_str(&j, f >= 0 ? ks_sim_fault_table[f].name : NULL);
        ks_json_key(&j, "type");
        ks_json_str(&j, ks_sim_itype_name((enum ks_sim_itype)in->type));
        ks_json_key(&j, "severity");
        ks_json_str(&j, sev_name(in->severity));
        ks_json_key(&j, "final_severity");
        ks_json_str(&j, sev_name(in->final_severity));
        ks_json_key(&j, "escalations");
        ks_json_arr_begin(&j);
        for (int e = 0; e < in->nesc; e++) {
            ks_json_obj_begin(&j);
            ks_json_key(&j, "at");
            ks_json_time(&j, in->esc[e].at);
            ks_json_key(&j, "severity");
            ks_json_str(&j, sev_name(in->esc[e].severity));
            ks_json_obj_end(&j);
        }
        ks_json_arr_end(&j);
        ks_json_key(&j, "detectors");
        ks_json_arr_begin(&j);
        for (int d = 0; d < KS_SIM_NDETECTORS; d++) {
            if (in->detectors >> d & 1u) {
                ks_json_str(&j, ks_sim_detector_name((enum ks_sim_detector)d));
            }
        }
        ks_json_arr_end(&j);
        ks_json_key(&j, "channels");
        json_names(&j, in->channels, channel_names);
        ks_json_key(&j, "systems");
        ks_json_arr_begin(&j);
        if (in->system >= 0) {
            ks_json_str(&j, in->system == 0 ? "oms" : "wms");
        }
        ks_json_arr_end(&j);
        ks_json_key(&j, "locations");
        json_names(&j, in->locations, location_names);
        ks_json_key(&j, "purchase_orders");
        ks_json_arr_begin(&j);
        if (in->po) {
            char po[16];
            snprintf(po, sizeof(po), "PO-%06u", in->po);
            ks_json_str(&j, po);
        }
        ks_json_arr_end(&j);
        ks_json_key(&j, "sku");
        if (in->sku >= 0) {
            char sku[16];
            snprintf(sku, sizeof(sku), "SKU-%07u", (unsigned)in->sku + 1);
            ks_json_str(&j, sku);
        } else {
            ks_json_null(&j);
        }
        ks_json_key(&j, "reason");
        ks_json_str(&j, in->reason >= 0 ? complaint_reasons[in->reason] : NULL);
        ks_json_key(&j, "source");
        ks_json_str(&j, in->source >= 0 ? src_name(w, in->source) : NULL);
        ks_json_key(&j, "detected_at");
        ks_json_time(&j, in->detected_at);
        if (in->type == KS_SIM_I_METRIC_ANOMALY) {
            ks_json_key(&j, "requires_rule");
            ks_json_obj_begin(&j);
            ks_json_key(&j, "metric");
            ks_json_str(&j, "conversion_rate");
            ks_json_key(&j, "kind");
            ks_json_str(&j, "below");
            ks_json_key(&j, "threshold");
            ks_json_num(&j, 0.02);
            ks_json_obj_end(&j);
        }
        ks_json_key(&j, "note");
        ks_buf_reset(&nb);
        note(w, in, &nb);
        ks_json_str(&j, nb.p ? nb.p : "");
        ks_json_obj_end(&j);
    }
    ks_json_arr_end(&j);
    ks_json_obj_end(&j);
    ks_buf_putc(&b, '\n');
    enum ks_rc rc = KS_OK;
    if (fwrite(b.p, 1, b.len, fp) != b.len || fflush(fp) != 0) {
        rc = ks_err_set(err, KS_EIO, "cannot write the truth file");
    }
    ks_buf_fini(&nb);
    ks_buf_fini(&b);
    return rc;
}

/* ---- the run --------------------------------------------------------------- */

void ks_sim_defaults(struct ks_sim_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = 1;
    o->start = ks_days_from_civil(2026, 11, 22) * KS_DAY;
    o->duration = KS_DAY;
    o->channels = 4;
    o->skus = 2000;
    o->cycle = 15 * KS_MIN;
}

static enum ks_rc check_opts(const struct ks_sim_opts *o, struct ks_err *err)
{
    if (o->seed > (uint64_t)INT64_MAX) {
        return ks_err_set(err, KS_EUSAGE, "seed must be at most %lld", (long long)INT64_MAX);
    }
    ks_time last = ks_days_from_civil(KS_SIM_LAST_YEAR, 1, 1) * KS_DAY;
    if (o->start < 0 || o->start > last) {
        char at[32], to[32];
        ks_time_fmt(o->start, at);
        ks_time_fmt(last, to);
        return ks_err_set(err, KS_EUSAGE,
                          "start %s is out of range: it must be from 1970-01-01T00:00:00.000Z to "
                          "%s",
                          o->start < 0 ? "before 1970" : at, to);
    }
    if (o->start % KS_MIN) {
        return ks_err_set(err, KS_EUSAGE, "start must be a whole UTC minute");
    }
    if (o->duration % KS_MIN || o->duration < KS_SIM_MIN_DURATION ||
        o->duration > KS_SIM_MAX_DURATION) {
        return ks_err_set(err, KS_EUSAGE, "duration must be whole minutes from 1h to 31d");
    }
    if (o->channels < 1 || o->channels > KS_SIM_MAX_CHANNELS) {
        return ks_err_set(err, KS_EUSAGE, "channels must be 1 to %d", KS_SIM_MAX_CHANNELS);
    }
    if (o->skus < KS_SIM_MIN_SKUS || o->skus > KS_SIM_MAX_SKUS) {
        return ks_err_set(err, KS_EUSAGE, "skus must be %d to %d", KS_SIM_MIN_SKUS,
                          KS_SIM_MAX_SKUS);
    }
    if (o->cycle % KS_MIN || o->cycle < KS_MIN || o->cycle > 15 * KS_MIN) {
        return ks_err_set(err, KS_EUSAGE,
                          "cycle must be whole minutes from 1m to 15m (the truth is for the "
                          "default 15 min sync interval)");
    }
    if (o->faults & ~KS_SIM_ALL_FAULTS) {
        return ks_err_set(err, KS_EUSAGE, "unknown fault bits 0x%x", o->faults);
    }
    return KS_OK;
}

static void sim_fini(struct sim *w)
{
    for (int c = 0; c < w->nch; c++) {
        ks_free(w->list[c]);
        ks_free(w->last[c]);
    }
    ks_free(w->stock);
    ks_free(w->price);
    ks_free(w->home);
    ks_free(w->pend);
    ks_free(w->perm);
    ks_free(w->popcum);
    ks_free(w->ccount);
    ks_free(w->ships.p);
    ks_free(w->restocks.p);
    ks_free(w->receipts);
    ks_free(w->rec);
    ks_free(w->out.p);
    ks_sim_oracle_free(w->oracle);
}

/* Checks the options, builds the shop and lays out the faults. On error the
 * caller still calls sim_fini. */
static enum ks_rc sim_init(struct sim *w, const struct ks_sim_opts *o, struct ks_err *err)
{
    enum ks_rc rc = check_opts(o, err);
    if (rc) {
        return rc;
    }
    w->opt = o;
    w->nch = o->channels;
    w->nsku = o->skus;
    w->cyc = (int)(o->cycle / KS_MIN);
    w->start = o->start;
    w->end = o->start + o->duration;
    rng_seed(&w->r_push, o->seed, 1);
    rng_seed(&w->r_orders, o->seed, 2);
    rng_seed(&w->r_health, o->seed, 3);
    rng_seed(&w->r_misc, o->seed, 4);
    rng_seed(&w->r_fault, o->seed, 5);
    w->nloc = 2 + (int)rng_below(&w->r_misc, 2);
    w->last_nat_rej = KS_TIME_NONE;
    w->next_order = 100001;
    w->next_po = 100001;
    w->next_po_at = w->start + 3 * KS_HOUR + (ks_time)rng_below(&w->r_misc, 120) * KS_MIN;
    w->out.minute_key = -1;
    setup_shop(w);

    unsigned faults = o->faults;
    if (o->fit && (faults & KS_SIM_BIT(KS_SIM_VOLUME_DROP))) {
        /* "all": keep volume-drop only if the run is long enough for it. */
        struct sim probe = *w;
        memset(probe.f, 0, sizeof(probe.f));
        struct ks_err ignore;
        if (schedule(&probe, faults, &ignore) != KS_OK) {
            faults &= ~KS_SIM_BIT(KS_SIM_VOLUME_DROP);
        }
    }
    return schedule(w, faults, err);
}

enum ks_rc ks_sim_check(const struct ks_sim_opts *o, struct ks_err *err)
{
    struct sim *w = ks_calloc(1, sizeof(*w));
    enum ks_rc rc = sim_init(w, o, err);
    sim_fini(w);
    ks_free(w);
    return rc;
}

enum ks_rc ks_sim_run(const struct ks_sim_opts *o, FILE *events, FILE *truth, struct ks_err *err)
{
    struct sim *w = ks_calloc(1, sizeof(*w));
    enum ks_rc rc = sim_init(w, o, err);
    if (rc == KS_OK) {
        char day[32];
        ks_time_fmt(fault_on(w, KS_SIM_ZERO_SPIKE) ? w->f[KS_SIM_ZERO_SPIKE].at : w->start, day);
        snprintf(w->csv_source, sizeof(w->csv_source), "csv:stock-import-%.10s", day);
        w->out.f = events;
        w->out.p = ks_malloc(OUT_CAP);
        w->oracle = ks_sim_oracle_new(w->nch, w->nsku, w->nloc, w->start, o->duration);
        for (ks_time m = w->start; m < w->end && !w->out.err; m += KS_MIN) {
            run_minute(w, m);
        }
        ks_sim_oracle_end(w->oracle);
        out_flush(&w->out);
        if (w->out.err || fflush(events) != 0) {
            rc = ks_err_set(err, KS_EIO, "cannot write the event stream");
        } else if (truth) {
            rc = write_truth(w, truth, err);
        }
    }
    sim_fini(w);
    ks_free(w);
    return rc;
}
