/*
 * engine.c - the engine's life cycle, its clock and timers, its entry points
 * for events (decode, dedupe, dead letters, feed accounting), dispatch of
 * events and timers through the part table (parts.c), and people's actions
 * on incidents.
 */
#include "engine_int.h"

#include <string.h>

struct ks_engine *ks_engine_new(const struct ks_config *cfg)
{
    struct ks_engine *e = ks_calloc(1, sizeof(*e));
    e->cfg = cfg;
    e->dec = ks_decoder_new();
    ks_eng_dispatch(e);
    e->clock = KS_TIME_NONE;
    e->horizon_base = KS_TIME_NONE;
    e->ts_cap = KS_TIME_NONE;
    ks_intern_init(&e->skus);
    ks_intern_init(&e->strs);
    e->ms = ks_calloc(cfg->nmetrics ? cfg->nmetrics : 1, sizeof(*e->ms));
    e->last_ch_str = KS_NONE;
    e->cur_email = KS_NONE;
    e->last_batch = KS_NONE;
    e->last_fs_src = KS_NONE;
    e->last_src = KS_NONE;
    e->recent.horizon = ks_recent_horizon(cfg);
    return e;
}

static void channel_fini(struct ks_channel *c)
{
    ks_free(c->held);
    ks_free(c->runs);
    ks_free(c->pause_why);
    ks_free_zeroed(c->pairs, (size_t)c->cap * sizeof(struct ks_pair));
    ks_free(c->upd_skus);
    ks_free(c->vol_count);
    ks_free(c->vol_minute);
}

void ks_engine_dead_drop(struct ks_engine *e)
{
    for (size_t i = 0; i < e->ndead; i++) {
        ks_free(e->dead[i].reason);
        ks_free(e->dead[i].raw);
    }
    e->ndead = 0;
}

void ks_engine_effects_clear(struct ks_engine *e)
{
    ks_engine_dead_drop(e);
    e->ndirty = 0;
    e->nfeed = 0;
    for (size_t i = 0; i < e->nhooks; i++) {
        ks_free(e->hooks[i].action);
        ks_free(e->hooks[i].body);
        ks_free(e->hooks[i].key);
    }
    e->nhooks = 0;
}

void ks_engine_free(struct ks_engine *e)
{
    if (!e) {
        return;
    }
    ks_engine_effects_clear(e);
    ks_free(e->dead);
    ks_free(e->feed);
    ks_free(e->hooks);
    ks_free(e->dirty);
    ks_decoder_free(e->dec);
    for (size_t i = 0; i < e->nch; i++) {
        channel_fini(&e->ch[i]);
    }
    ks_free(e->ch);
    ks_free(e->ch_of_str);
    ks_free(e->locs);
    ks_tswin_fini(&e->orders_all);
    ks_tswin_fini(&e->orders_rej);
    for (size_t i = 0; i < e->nck; i++) {
        ks_tswin_fini(&e->ck[i].win);
    }
    ks_free(e->ck);
    ks_map64_fini(&e->ck_index);
    for (size_t i = 0; i < e->nfs; i++) {
        ks_free(e->fs[i].rec);
    }
    ks_free(e->fs);
    ks_map64_fini(&e->fs_index);
    ks_free(e->po);
    ks_map64_fini(&e->po_index);
    for (size_t i = 0; i < e->cfg->nmetrics; i++) {
        ks_tswin_fini(&e->ms[i].win);
    }
    ks_free(e->ms);
    ks_map64_fini(&e->stock);
    ks_map64_fini(&e->stock_sum);
    ks_map64_fini(&e->order_who);
    ks_map64_fini(&e->order_value);
    ks_map64_fini(&e->order_email);
    ks_recent_fini(&e->recent);
    ks_seen_fini(&e->seen);
    ks_map64_fini(&e->alert_keys);
    for (size_t i = 0; i < e->ninc; i++) {
        ks_inc_free(e->inc[i]);
    }
    ks_free(e->inc);
    ks_free(e->heap);
    ks_free_zeroed(e->succ, e->capsucc * sizeof(uint32_t));
    for (size_t i = 0; i < e->ninputs; i++) {
        ks_free(e->inputs[i]);
    }
    ks_free(e->inputs);
    ks_free(e->input_src);
    ks_intern_fini(&e->skus);
    ks_intern_fini(&e->strs);
    ks_free(e);
}

uint32_t ks_engine_input(struct ks_engine *e, const char *name)
{
    e->inputs = ks_realloc(e->inputs, (e->ninputs + 1) * sizeof(char *));
    e->input_src = ks_realloc(e->input_src, (e->ninputs + 1) * sizeof(uint32_t));
    e->inputs[e->ninputs] = ks_strdup(name);
    char src[1024];
    if (strcmp(name, "http") == 0 || strncmp(name, "nats:", 5) == 0) {
        snprintf(src, sizeof(src), "%s", name);
    } else {
        snprintf(src, sizeof(src), "file:%s", name);
    }
    e->input_src[e->ninputs] = ks_intern_add(&e->strs, src, strlen(src));
    return (uint32_t)e->ninputs++;
}

const char *ks_engine_input_name(const struct ks_engine *e, uint32_t input)
{
    return input < e->ninputs ? e->inputs[input] : "?";
}

ks_time ks_engine_clock(const struct ks_engine *e)
{
    return e->clock;
}

ks_time ks_engine_next_due(const struct ks_engine *e)
{
    return e->nheap ? e->heap[0].due : KS_TIME_NONE;
}

uint32_t ks_eng_str(struct ks_engine *e, struct ks_str s)
{
    if (!s.p) {
        return KS_NONE;
    }
    return ks_intern_add(&e->strs, s.p, s.len);
}

/* ---- channels ---------------------------------------------------------------- */

struct ks_channel *ks_eng_channel_find(struct ks_engine *e, uint32_t name_str)
{
    if (name_str == KS_NONE || name_str >= e->cap_ch_of_str || !e->ch_of_str[name_str]) {
        return NULL;
    }
    return &e->ch[e->ch_of_str[name_str] - 1];
}

struct ks_channel *ks_eng_channel(struct ks_engine *e, uint32_t name_str)
{
    struct ks_channel *c = ks_eng_channel_find(e, name_str);
    if (c) {
        return c;
    }
    if (name_str >= e->cap_ch_of_str) {
        size_t nc = e->cap_ch_of_str ? e->cap_ch_of_str : 64;
        while (nc <= name_str) {
            nc *= 2;
        }
        e->ch_of_str = ks_realloc(e->ch_of_str, nc * sizeof(uint32_t));
        memset(e->ch_of_str + e->cap_ch_of_str, 0, (nc - e->cap_ch_of_str) * sizeof(uint32_t));
        e->cap_ch_of_str = nc;
    }
    KS_GROW(e->ch, e->capch, e->nch + 1);
    c = &e->ch[e->nch];
    memset(c, 0, sizeof(*c));
    c->name = name_str;
    c->cfg = ks_config_channel(e->cfg, ks_intern_str(&e->strs, name_str));
    c->shift_p100 = ks_pct_hundredths(c->cfg->shift_change_pct);
    c->upd_batch = KS_NONE;
    c->upd_source = KS_NONE;
    c->fresh_due = KS_TIME_NONE;
    c->last_ok = KS_TIME_NONE;
    c->last_inventory = KS_TIME_NONE;
    c->first_inv = KS_TIME_NONE;
    c->last_sku = KS_NONE;
    c->vol_lo = c->vol_hi = KS_TIME_NONE;
    e->ch_of_str[name_str] = (uint32_t)++e->nch;
    return c;
}

size_t ks_eng_known_channels(const struct ks_engine *e)
{
    return e->nch;
}

/* ---- timers -------------------------------------------------------------------- */

static int timer_less(const struct ks_timer *a, const struct ks_timer *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

void ks_eng_timer(struct ks_engine *e, ks_time due, enum ks_timer_kind kind, uint32_t ref,
                  int64_t ref2)
{
    KS_GROW(e->heap, e->capheap, e->nheap + 1);
    struct ks_timer t = {due, e->timer_seq++, kind, ref, ref2};
    size_t i = e->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!timer_less(&t, &e->heap[p])) {
            break;
        }
        e->heap[i] = e->heap[p];
        i = p;
    }
    e->heap[i] = t;
}

static struct ks_timer heap_pop(struct ks_engine *e)
{
    struct ks_timer top = e->heap[0];
    struct ks_timer last = e->heap[--e->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct ks_timer *best = &last;
        if (l < e->nheap && timer_less(&e->heap[l], best)) {
            m = l;
            best = &e->heap[l];
        }
        if (r < e->nheap && timer_less(&e->heap[r], best)) {
            m = r;
        }
        if (m == i) {
            break;
        }
        e->heap[i] = e->heap[m];
        i = m;
    }
    if (e->nheap) {
        e->heap[i] = last;
    }
    return top;
}

/* Fires every timer due strictly before t, in (deadline, seq) order, each at
 * its own deadline; then the clock is t. */
void ks_engine_advance(struct ks_engine *e, ks_time t)
{
    ks_eng_advance(e, t);
}

void ks_eng_advance(struct ks_engine *e, ks_time t)
{
    while (e->nheap && e->heap[0].due < t) {
        struct ks_timer tm = heap_pop(e);
        if (e->clock == KS_TIME_NONE || tm.due > e->clock) {
            e->clock = tm.due;
        }
        if (tm.kind < KS_TM__COUNT && e->on_timer[tm.kind]) {
            e->on_timer[tm.kind](e, &tm);
        }
    }
    if (e->clock == KS_TIME_NONE || t > e->clock) {
        e->clock = t;
    }
}

/* ---- intake ---------------------------------------------------------------------- */

/* Whether an event with an id of hash h at ts is a duplicate (seen.c): its
 * id taken at most dedup_retention before the clock the event would set. */
static inline int seen_before(struct ks_engine *e, uint64_t h, ks_time ts)
{
    ks_time now = e->clock == KS_TIME_NONE || ts > e->clock ? ts : e->clock;
    return ks_seen_check(&e->seen, h, now, e->cfg->dedup_retention);
}

/* An event at ts moves the clock (ks_engine_advance, inline when nothing is due). */
static inline __attribute__((always_inline)) void clock_to(struct ks_engine *e, ks_time ts)
{
    if (e->nheap && e->heap[0].due < ts) {
        ks_eng_advance(e, ts);
    } else if (e->clock == KS_TIME_NONE || ts > e->clock) {
        e->clock = ts;
    }
}

static inline __attribute__((always_inline)) void apply(struct ks_engine *e,
                                                        const struct ks_event *ev)
{
    clock_to(e, ev->ts);
    e->st.events++;
    ks_event_fn fn = e->on_event[ev->type];
    if (fn) {
        fn(e, ev);
    }
}

/* Most lines name the source of the line before. */
static uint32_t source_str(struct ks_engine *e, struct ks_str s)
{
    if (e->last_src != KS_NONE && ks_intern_len(&e->strs, e->last_src) == s.len &&
        ks_mem_eq(ks_intern_str(&e->strs, e->last_src), s.p, s.len)) {
        return e->last_src;
    }
    e->last_src = ks_intern_add(&e->strs, s.p, s.len);
    return e->last_src;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
            return 0;
        }
    }
    return 1;
}

/* Whether an event at ts lies further ahead of the clock than the configured
 * horizon: it is rejected rather than taken, for a far-future ts would fire
 * every timer up to it and move the clock there for good. The first event
 * sets the clock, whatever its ts. */
static inline int beyond_horizon(const struct ks_engine *e, ks_time ts)
{
    ks_time base = e->horizon_base != KS_TIME_NONE ? e->horizon_base : e->clock;
    return base != KS_TIME_NONE && ts - base > e->cfg->ts_horizon;
}

void ks_engine_horizon_base(struct ks_engine *e, ks_time base, const char *limit)
{
    e->horizon_base = base;
    e->horizon_limit = base != KS_TIME_NONE ? limit : NULL;
}

void ks_engine_ts_cap(struct ks_engine *e, ks_time cap)
{
    e->ts_cap = cap;
}

enum ks_rc ks_eng_at(struct ks_engine *e, ks_time at, struct ks_err *err)
{
    if (at == KS_TIME_NONE) {
        return KS_OK;
    }
    if (beyond_horizon(e, at)) {
        char t[32], c[32], h[32];
        ks_time_fmt(at, t);
        ks_time_fmt(e->clock, c);
        ks_duration_fmt(e->cfg->ts_horizon, h);
        return ks_err_set(err, KS_EUSAGE,
                          "--at %s is more than %s ahead of the clock %s (ts_horizon); a time "
                          "that far ahead would fire every timer up to it",
                          t, h, c);
    }
    ks_eng_advance(e, at);
    return KS_OK;
}

/* A rejected line: a dead letter with err's reason, counted for its source
 * (src; the input's own name for a line too broken to name one). */
static void reject_line(struct ks_engine *e, uint32_t input, int64_t lineno, const char *line,
                        size_t len, uint32_t src, const struct ks_err *err)
{
    e->st.rejected++;
    KS_GROW(e->dead, e->capdead, e->ndead + 1);
    struct ks_dead_effect *d = &e->dead[e->ndead++];
    d->input = input;
    d->line = lineno;
    d->reason = ks_strdup(err->msg);
    /* Of an over-long line only the start is kept (the reason says how long
     * it was). */
    size_t keep = len > KS_LINE_MAX ? KS_DEAD_KEEP : len;
    d->raw = ks_strndup(line, keep);
    d->raw_len = keep;
    if (e->clock != KS_TIME_NONE) {
        ks_det_feed_line(e, src, 1, e->clock);
    }
}

/* A decoded line: a duplicate, or applied and counted for its source. */
static inline __attribute__((always_inline)) enum ks_line_result
take(struct ks_engine *e, uint32_t input, const struct ks_event *ev)
{
    if (ev->id.p && seen_before(e, ks_event_id_hash(ev->id), ev->ts)) {
        e->st.duplicates++;
        return KS_LINE_DUPLICATE;
    }
    apply(e, ev);
    uint32_t src = ev->source.p ? source_str(e, ev->source) : e->input_src[input];
    ks_det_feed_accepted(e, src);
    return KS_LINE_ACCEPTED;
}

enum ks_line_result ks_engine_event(struct ks_engine *e, uint32_t input, int64_t lineno,
                                    const char *line, size_t len, struct ks_err *err)
{
    struct ks_event ev;
    e->st.lines++;
    e->line_next = NULL;
    if (blank(line, len)) {
        e->st.blank++;
        return KS_LINE_BLANK;
    }
    KS_ASSERT(input < e->ninputs);
    if (ks_event_decode(e->dec, line, len, &ev, err) != KS_OK) {
        uint32_t src = ev.source.p ? source_str(e, ev.source) : e->input_src[input];
        reject_line(e, input, lineno, line, len, src, err);
        return KS_LINE_REJECTED;
    }
    if (beyond_horizon(e, ev.ts)) {
        char ts[32], clock[32], h[32];
        ks_time_fmt(ev.ts, ts);
        ks_duration_fmt(e->cfg->ts_horizon, h);
        if (e->horizon_base != KS_TIME_NONE) { /* the wall clock, and the limit named with it */
            ks_time_fmt(e->horizon_base, clock);
            ks_err_set(err, KS_EINPUT,
                       "%s: field \"ts\" must be at most %s ahead of the wall clock %s (%s %s), "
                       "got %s",
                       ks_event_type_name(ev.type), h, clock,
                       e->horizon_limit ? e->horizon_limit : "ts_horizon", h, ts);
        } else {
            ks_time_fmt(e->clock, clock);
            ks_err_set(err, KS_EINPUT,
                       "%s: field \"ts\" must be at most %s ahead of the clock %s (ts_horizon), got %s",
                       ks_event_type_name(ev.type), h, clock, ts);
        }
        uint32_t src = ev.source.p ? source_str(e, ev.source) : e->input_src[input];
        reject_line(e, input, lineno, line, len, src, err);
        return KS_LINE_REJECTED;
    }
    if (e->ts_cap != KS_TIME_NONE && ev.ts > e->ts_cap) {
        ev.ts = e->ts_cap; /* ahead of the wall clock: it happens now */
    }
    return take(e, input, &ev);
}

void ks_engine_line_skipped(struct ks_engine *e, uint32_t input, int64_t lineno,
                            const char *head, size_t head_len, uint64_t total,
                            struct ks_err *err)
{
    KS_ASSERT(input < e->ninputs);
    e->st.lines++;
    e->st.rejected++;
    e->line_next = NULL;
    ks_err_set(err, KS_EINPUT, "line: longer than 1 MiB (%llu bytes)", (unsigned long long)total);
    KS_GROW(e->dead, e->capdead, e->ndead + 1);
    struct ks_dead_effect *d = &e->dead[e->ndead++];
    size_t keep = head_len < KS_DEAD_KEEP ? head_len : KS_DEAD_KEEP;
    d->input = input;
    d->line = lineno;
    d->reason = ks_strdup(err->msg);
    d->raw = ks_strndup(head, keep);
    d->raw_len = keep;
    if (e->clock != KS_TIME_NONE) {
        ks_det_feed_line(e, e->input_src[input], 1, e->clock);
    }
}

uint64_t ks_engine_feed_seq(const struct ks_engine *e, const char *channel)
{
    for (size_t i = 0; i < e->nch; i++) {
        if (strcmp(ks_intern_str(&e->strs, e->ch[i].name), channel) == 0) {
            return e->ch[i].feed_seq;
        }
    }
    return 0;
}

enum ks_rc ks_engine_channel_known(const struct ks_engine *e, const char *channel,
                                   struct ks_err *err)
{
    uint32_t id = ks_intern_find(&e->strs, channel, strlen(channel));
    if (id == UINT32_MAX || !ks_eng_channel_find((struct ks_engine *)e, id)) {
        return ks_err_set(err, KS_ENOTFOUND, "no channel '%s'", channel);
    }
    return KS_OK;
}

/* How many lines ahead ks_engine_lines prefetches an id's slot. */
#define ID_AHEAD 8

void ks_engine_lines(struct ks_engine *e, uint32_t input, int64_t lineno,
                     const struct ks_line *lines, size_t n, ks_reject_fn reject, void *arg)
{
    KS_ASSERT(input < e->ninputs);
    const uint32_t src = e->input_src[input];
    for (size_t i = 0; i < n; i++) {
        const struct ks_line *l = &lines[i];
        /* An id's slot is a cache miss: start it a few lines ahead. */
        if (i + ID_AHEAD < n && lines[i + ID_AHEAD].packed && lines[i + ID_AHEAD].id_len) {
            ks_seen_prefetch(&e->seen, lines[i + ID_AHEAD].id_hash);
        }
        if (!l->packed || beyond_horizon(e, l->ts)) {
            struct ks_err err;
            if (ks_engine_event(e, input, lineno + (int64_t)i + 1, l->p, l->len, &err) ==
                    KS_LINE_REJECTED &&
                reject) {
                reject(arg, lineno + (int64_t)i + 1, &err);
            }
            continue;
        }
        /* take() for an inventory event without source, inline. */
        e->st.lines++;
        if (l->id_len && seen_before(e, l->id_hash, l->ts)) {
            e->st.duplicates++;
            continue;
        }
        clock_to(e, l->ts);
        e->st.events++;
        ks_det_inventory_line(e, l);
        ks_det_feed_accepted(e, src);
    }
}

size_t ks_engine_end_input(struct ks_engine *e)
{
    size_t closed = 0;
    for (size_t i = 0; i < e->nch; i++) {
        if (e->ch[i].upd_open) {
            ks_det_update_close(e, &e->ch[i], e->clock);
            closed++;
        }
    }
    return closed;
}

/* ---- effects ------------------------------------------------------------------------ */

void ks_inc_dirty(struct ks_engine *e, struct ks_incident *inc)
{
    ks_time now = e->clock > inc->detected_at ? e->clock : inc->detected_at;
    if (!inc->p1_at && inc->severity == KS_P1) {
        inc->p1_at = now;
    }
    if (!inc->customers_at && (int64_t)inc->customers.n > e->cfg->msg_customers) {
        inc->customers_at = now;
        inc->customers_then = (int64_t)inc->customers.n;
    }
    if (!inc->mail_at && inc->nmail) {
        inc->mail_at = now; /* ks_inc_impact adds to mail, then comes here */
    }
    if (!inc->revenue_at && inc->revenue > e->cfg->msg_revenue) {
        inc->revenue_at = now;
    }
    /* Kept sorted and unique: incidents change in bursts, mostly the newest. */
    size_t i = e->ndirty;
    while (i > 0 && e->dirty[i - 1] > inc->id) {
        i--;
    }
    if (i > 0 && e->dirty[i - 1] == inc->id) {
        return;
    }
    KS_GROW(e->dirty, e->capdirty, e->ndirty + 1);
    memmove(e->dirty + i + 1, e->dirty + i, (e->ndirty - i) * sizeof(int64_t));
    e->dirty[i] = inc->id;
    e->ndirty++;
}

size_t ks_engine_dirty(const struct ks_engine *e, const int64_t **ids)
{
    *ids = e->dirty;
    return e->ndirty;
}

size_t ks_engine_dead(const struct ks_engine *e, const struct ks_dead_effect **dl)
{
    *dl = e->dead;
    return e->ndead;
}

/* ---- people's actions ------------------------------------------------------------------ */

static struct ks_incident *action_target(struct ks_engine *e, int64_t id, ks_time at,
                                         struct ks_err *err)
{
    struct ks_incident *inc = ks_inc_get(e, id);
    if (!inc) {
        ks_err_set(err, KS_ENOTFOUND, "no incident %lld", (long long)id);
        return NULL;
    }
    if (ks_eng_at(e, at, err) != KS_OK) {
        return NULL;
    }
    return inc;
}

static ks_time stamp(const struct ks_engine *e, ks_time at)
{
    return at != KS_TIME_NONE && (e->clock == KS_TIME_NONE || at > e->clock) ? at : e->clock;
}

enum ks_rc ks_engine_ack(struct ks_engine *e, int64_t id, const char *by, ks_time at,
                         struct ks_err *err)
{
    struct ks_incident *inc = action_target(e, id, at, err);
    if (!inc) {
        return err->rc;
    }
    at = stamp(e, at);
    if (inc->acknowledged_at != KS_TIME_NONE) {
        return ks_err_set(err, KS_ESTATE, "incident %lld was already acknowledged", (long long)id);
    }
    inc->acknowledged_at = at;
    inc->ack_due = KS_TIME_NONE;
    if (!inc->owner) {
        inc->owner = ks_strdup(by);
    }
    ks_inc_tl(e, inc, at, KS_TL_NOTE, by, "Acknowledged by %s", by);
    ks_inc_dirty(e, inc);
    return KS_OK;
}

enum ks_rc ks_engine_set_status(struct ks_engine *e, int64_t id, const char *status,
                                const char *by, ks_time at, struct ks_err *err)
{
    int st = ks_status_parse(status);
    if (st < 0) {
        return ks_err_set(err, KS_EUSAGE,
                          "unknown status '%s' (use investigating, contained, resolving or "
                          "resolved)",
                          status);
    }
    struct ks_incident *inc = action_target(e, id, at, err);
    if (!inc) {
        return err->rc;
    }
    at = stamp(e, at);
    if (st <= inc->status) {
        return ks_err_set(err, KS_ESTATE,
                          "incident %lld is already %s; status only moves forward "
                          "(investigating -> contained -> resolving -> resolved)",
                          (long long)id, ks_status_name(inc->status));
    }
    inc->status = (uint8_t)st;
    if (st >= KS_ST_CONTAINED && inc->contained_at == KS_TIME_NONE) {
        inc->contained_at = at;
    }
    if (inc->acknowledged_at == KS_TIME_NONE) {
        /* Changing the status is handling it: it counts as the acknowledgement. */
        inc->acknowledged_at = at;
        inc->ack_due = KS_TIME_NONE;
    }
    struct ks_tl *t = ks_inc_tl(e, inc, at, KS_TL_STATUS, by, "Status %s, set by %s",
                                ks_status_name(st), by);
    t->status = (int8_t)st;
    if (st == KS_ST_RESOLVED) {
        inc->resolved_at = at;
        inc->esc_due = inc->resolve_due = inc->assess_due = KS_TIME_NONE;
        if (inc->type == KS_IT_DATA_CORRUPTION) {
            ks_guard_unwatch_resolved(e, inc, at); /* before: it sees what is still flagged */
            ks_det_accept_updates(e, inc);
        }
        ks_learn_resolved(e, inc, at);
    }
    ks_inc_dirty(e, inc);
    return KS_OK;
}

enum ks_rc ks_engine_note(struct ks_engine *e, int64_t id, const char *text, const char *by,
                          ks_time at, struct ks_err *err)
{
    /* A note is text a person reads on the timeline: some, not too much,
     * and UTF-8 (it goes into JSON as it is). */
    size_t len = strlen(text), bad;
    if (ks_utf8_blank(text, len)) {
        /* Unicode spaces too (U+00A0, U+2003, ...): they show as nothing */
        return ks_err_set(err, KS_EUSAGE, "a note needs some text");
    }
    if (len > KS_NOTE_MAX) {
        return ks_err_set(err, KS_EUSAGE, "a note is at most %d bytes (this one has %zu)",
                          KS_NOTE_MAX, len);
    }
    if ((bad = ks_utf8_invalid_at(text, len)) != (size_t)-1) {
        return ks_err_set(err, KS_EUSAGE, "the note is not valid UTF-8 (byte %zu)", bad + 1);
    }
    struct ks_incident *inc = action_target(e, id, at, err);
    if (!inc) {
        return err->rc;
    }
    ks_inc_tl(e, inc, stamp(e, at), KS_TL_NOTE, by, "%s", text);
    ks_inc_dirty(e, inc);
    return KS_OK;
}

enum ks_rc ks_engine_assign(struct ks_engine *e, int64_t id, const char *owner, const char *by,
                            ks_time at, struct ks_err *err)
{
    /* An owner is a person's name (or handle) shown on one line of every
     * list and page: the rule of every person's name (the CLI's --by too).
     * White space around it (Unicode spaces too) is not part of it: " dave "
     * is dave, so that it matches dave in every filter and comparison. */
    size_t len = strlen(owner);
    owner = ks_utf8_trim(owner, &len);
    if (!len) {
        return ks_err_set(err, KS_EUSAGE, "an owner needs a name");
    }
    char why[64];
    const char *bad = ks_line_invalid(owner, len, KS_OWNER_MAX, "holds", why, sizeof(why));
    if (bad) {
        return ks_err_set(err, KS_EUSAGE, "the owner's name %s", bad);
    }
    struct ks_incident *inc = action_target(e, id, at, err);
    if (!inc) {
        return err->rc;
    }
    if (inc->owner && strlen(inc->owner) == len && memcmp(inc->owner, owner, len) == 0) {
        /* as a status set again: nothing to record */
        return ks_err_set(err, KS_ESTATE,
                          "incident %lld is already assigned to %.*s; nothing recorded",
                          (long long)id, (int)len, owner);
    }
    ks_free(inc->owner);
    inc->owner = ks_strndup(owner, len);
    ks_inc_tl(e, inc, stamp(e, at), KS_TL_NOTE, by, "Assigned to %s by %s", inc->owner, by);
    ks_inc_dirty(e, inc);
    return KS_OK;
}

int ks_engine_incident_has_order(const struct ks_engine *e, int64_t id, const char *order)
{
    const struct ks_incident *inc = ks_inc_get(e, id);
    if (!inc || !order) {
        return 0;
    }
    uint32_t o = ks_intern_find(&e->strs, order, strlen(order));
    return o != KS_NONE && ks_u32set_has(&inc->order_ids, o);
}

int ks_engine_order_value(const struct ks_engine *e, const char *order, double *value)
{
    uint32_t o = order ? ks_intern_find(&e->strs, order, strlen(order)) : KS_NONE;
    const uint64_t *v = o != KS_NONE ? ks_map64_get(&e->order_value, (uint64_t)o + 1) : NULL;
    if (!v) {
        return 0;
    }
    memcpy(value, v, sizeof(*value)); /* the bits of the double (det_orders.c, remember) */
    return 1;
}

enum ks_rc ks_engine_incident_kind(const struct ks_engine *e, int64_t id, const char **type,
                                   int *severity)
{
    const struct ks_incident *inc = ks_inc_get(e, id);
    if (!inc) {
        return KS_ENOTFOUND;
    }
    *type = ks_itype_name((enum ks_itype)inc->type);
    *severity = inc->severity;
    return KS_OK;
}

enum ks_rc ks_engine_sla_entry(struct ks_engine *e, int64_t id, ks_time at, const char *text,
                               struct ks_err *err)
{
    struct ks_incident *inc = ks_inc_get(e, id);
    if (!inc) {
        return ks_err_set(err, KS_ENOTFOUND, "no incident %lld", (long long)id);
    }
    ks_inc_tl(e, inc, at, KS_TL_SLA, "kintsugi", "%s", text);
    ks_inc_dirty(e, inc);
    return KS_OK;
}

/* ---- figures ---------------------------------------------------------------------------- */

void ks_engine_stats(const struct ks_engine *e, struct ks_engine_stats *out)
{
    *out = e->st;
    uint64_t pairs = 0, pair_bytes = 0, bytes = 0;
    for (size_t i = 0; i < e->nch; i++) {
        pairs += e->ch[i].n_tracked;
        pair_bytes += (uint64_t)e->ch[i].cap * sizeof(struct ks_pair);
        bytes += e->ch[i].upd_cap * sizeof(uint32_t);
        bytes += e->ch[i].capheld * sizeof(struct ks_held); /* updates held while paused */
        bytes += e->ch[i].capruns * sizeof(struct ks_held_run);
        if (e->ch[i].vol_count) {
            bytes += KS_VOL_RING * (sizeof(uint32_t) + sizeof(int64_t));
        }
    }
    out->pairs = pairs;
    out->pair_bytes = pair_bytes;
    out->state_bytes = pair_bytes + bytes + ks_intern_bytes(&e->skus) + ks_intern_bytes(&e->strs) +
                       e->seen.nb * sizeof(struct ks_seen_bucket) +
                       e->capheap * sizeof(struct ks_timer);
    out->incidents = (int64_t)e->ninc;
}
