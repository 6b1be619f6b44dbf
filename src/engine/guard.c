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
    KS_GROW(e->feed, e->capfeed, e->nfeed + 1);
    e->feed[e->nfeed++] = (struct ks_feed_effect){c->name, sku, qty, at, ++c->feed_seq,
                                                  (uint8_t)why, incident};
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

void ks_guard_update(struct ks_engine *e, struct ks_channel *c, ks_time at)
{
    /* One pass over the update: the reference, then the feed or the queue,
     * with room for every value made once. */
    if (c->paused) {
        hold_begin(c, 0, c->upd_n);
    } else {
        KS_GROW(e->feed, e->capfeed, e->nfeed + c->upd_n);
    }
    for (size_t i = 0; i < c->upd_n; i++) {
        uint32_t sku = c->upd_skus[i];
        struct ks_pair *p = &c->pairs[sku];
        ks_det_accept_pair(c, p);
        if (c->paused) {
            hold(c, sku, p->cur);
        } else {
            p->flags &= ~(uint32_t)KS_PAIR_RISEN; /* a clean value verifies it */
            if (!((p->flags & KS_PAIR_GUARDED) && p->guarded == p->cur)) {
                ks_guard_push(e, c, sku, p->cur, at, KS_WHY_UPDATE, 0);
            }
        }
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
    const char *chname = ks_intern_str(&e->strs, c->name);
    char why[256];
    snprintf(why, sizeof(why), "incident %lld: data corruption on %s", (long long)inc->id, chname);
    if (fresh) {
        size_t n = 0;
        struct ks_buf names = {0};
        for (size_t i = 0; i < e->nch; i++) {
            if (!e->ch[i].paused) {
                ks_guard_pause(e, &e->ch[i], at, inc->id, why);
                ks_buf_printf(&names, "%s%s", n++ ? ", " : "",
                              ks_intern_str(&e->strs, e->ch[i].name));
            }
        }
        ks_inc_tl(e, inc, at, KS_TL_ACTION, "kintsugi",
                  "Paused outbound sync on all %zu channels (%s); their updates are held, "
                  "never dropped",
                  e->nch, names.p ? names.p : "");
        ks_buf_fini(&names);
        ks_pb_mark(e, inc, "pause_all", KS_SS_DONE, "kintsugi", at, NULL);
    } else if (!c->paused) {
        ks_guard_pause(e, c, at, inc->id, why);
        ks_inc_tl(e, inc, at, KS_TL_ACTION, "kintsugi", "Paused outbound sync on %s again",
                  chname);
    }
    uint32_t up = 0, down = 0, fresh_skus = 0, zeroed = 0;
    hold_begin(c, inc->id, c->upd_n);
    for (size_t i = 0; i < c->upd_n; i++) {
        uint32_t sku = c->upd_skus[i];
        struct ks_pair *p = &c->pairs[sku];
        hold(c, sku, p->cur);
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

static ks_time stamp(struct ks_engine *e, ks_time at)
{
    if (at != KS_TIME_NONE) {
        ks_engine_advance(e, at);
    }
    return e->clock == KS_TIME_NONE ? 0 : e->clock;
}

enum ks_rc ks_engine_guard_pause(struct ks_engine *e, const char *channel, const char *by,
                                 ks_time at, struct ks_err *err)
{
    at = stamp(e, at);
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
    at = stamp(e, at);
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

static struct ks_incident *corruption(struct ks_engine *e, int64_t id, struct ks_err *err)
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
    if (inc->rolled_back || inc->accepted) {
        ks_err_set(err, KS_ESTATE, "incident %lld was already %s", (long long)id,
                   inc->rolled_back ? "rolled back" : "accepted");
        return NULL;
    }
    return inc;
}

enum ks_rc ks_engine_guard_rollback(struct ks_engine *e, int64_t id, int dry_run, const char *by,
                                    ks_time at, struct ks_buf *report, struct ks_err *err)
{
    struct ks_incident *inc = corruption(e, id, err);
    if (!inc) {
        return err->rc;
    }
    if (!dry_run) {
        at = stamp(e, at);
    }
    uint64_t discarded = 0, restored = 0, phantom = 0, unchanged = 0;
    for (size_t k = 0; k < inc->channels.n; k++) {
        struct ks_channel *c = &e->ch[inc->channels.v[k]];
        discarded += held_discard(c, id, !dry_run);
        for (uint32_t s = 0; s < c->cap; s++) {
            struct ks_pair *p = &c->pairs[s];
            if (!(p->flags & KS_PAIR_SUSPECT) || (c->upd_open && p->stamp == c->upd_seq)) {
                continue;
            }
            if (p->flags & KS_PAIR_RISEN) {
                phantom++;
            } else if ((p->flags & KS_PAIR_KNOWN) &&
                       (!(p->flags & KS_PAIR_GUARDED) || p->guarded != p->good)) {
                restored++;
                if (!dry_run) {
                    ks_guard_push(e, c, s, p->good, at, KS_WHY_ROLLBACK, id);
                }
            } else {
                unchanged++;
            }
            if (!dry_run) {
                if (p->flags & KS_PAIR_KNOWN) {
                    p->cur = p->good;
                }
                p->flags &= ~(uint32_t)KS_PAIR_SUSPECT;
            }
        }
    }
    char a[32], b[32], c3[32];
    ks_buf_printf(report,
                  "incident %lld: %s%s held corrupt values discarded; %s SKUs set back to their "
                  "last known good quantity, %llu already there; %s phantom-stock SKUs stay at "
                  "zero until a clean update or a person verifies them",
                  (long long)id, dry_run ? "(dry run) " : "", ks_fmt_count(discarded, a),
                  ks_fmt_count(restored, b), (unsigned long long)unchanged,
                  ks_fmt_count(phantom, c3));
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
    struct ks_incident *inc = corruption(e, id, err);
    if (!inc) {
        return err->rc;
    }
    at = stamp(e, at);
    uint64_t n = 0;
    for (size_t k = 0; k < inc->channels.n; k++) {
        struct ks_channel *c = &e->ch[inc->channels.v[k]];
        ks_guard_held_accept(c, id); /* good values now, released in order */
        for (uint32_t s = 0; s < c->cap; s++) {
            struct ks_pair *p = &c->pairs[s];
            if ((p->flags & KS_PAIR_SUSPECT) && !(c->upd_open && p->stamp == c->upd_seq)) {
                ks_det_accept_pair(c, p);
                p->flags &= ~(uint32_t)KS_PAIR_RISEN;
                n++;
                if (!c->paused) {
                    ks_guard_push(e, c, s, p->cur, at, KS_WHY_ACCEPT, id);
                }
            }
        }
    }
    inc->accepted = 1;
    char a[32];
    ks_inc_tl(e, inc, at, KS_TL_ACTION, by,
              "Accepted by %s: the flagged update is correct; %s SKUs take its values as their "
              "last known good reference and are let through%s",
              by, ks_fmt_count(n, a), " (in order, when their channel is released)");
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
