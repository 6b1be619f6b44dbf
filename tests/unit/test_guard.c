/* test_guard.c - the guard's per-SKU holding, seen from inside the engine: the
 * clean path stays as it was while no corruption incident is open, and what a
 * corrupt way is. The scenarios (tests/scenarios/contain_corruption_*) pin the
 * guarded quantities; this checks the state behind them. */
#include "../../src/engine/engine_int.h"
#include "t.h"

static struct ks_config cfg;

#define NSKU 40

struct run {
    struct ks_engine *e;
    uint32_t in;
    int64_t line;
};

static void line(struct run *r, const char *text)
{
    struct ks_err err;
    CHECK_INT(ks_engine_event(r->e, r->in, ++r->line, text, strlen(text), &err), KS_LINE_ACCEPTED);
}

/* One update of amazon's NSKU SKUs at minute m (qty[k] for SKU k) from source
 * src, closed by a sync. */
static void update_from(struct run *r, int m, const unsigned *qty, const char *src)
{
    char buf[256];
    for (int k = 0; k < NSKU; k++) {
        snprintf(buf, sizeof(buf),
                 "{\"type\":\"inventory\",\"ts\":\"2026-11-22T10:%02d:%02d.000Z\",\"channel\":"
                 "\"amazon\",\"sku\":\"S%02d\",\"qty\":%u,\"batch\":\"b%d\",\"source\":\"%s\"}",
                 m, k, k, qty[k], m, src);
        line(r, buf);
    }
    snprintf(buf, sizeof(buf),
             "{\"type\":\"sync\",\"ts\":\"2026-11-22T10:%02d:50.000Z\",\"channel\":\"amazon\","
             "\"status\":\"ok\",\"batch\":\"b%d\"}",
             m, m);
    line(r, buf);
}

static void update(struct run *r, int m, const unsigned *qty)
{
    update_from(r, m, qty, "erp");
}

/* An update of one SKU (k at qty) from source src at minute m. */
static void one(struct run *r, int m, const char *src, int k, unsigned qty)
{
    char buf[256];
    snprintf(buf, sizeof(buf),
             "{\"type\":\"inventory\",\"ts\":\"2026-11-22T10:%02d:00.000Z\",\"channel\":"
             "\"amazon\",\"sku\":\"S%02d\",\"qty\":%u,\"batch\":\"b%d\",\"source\":\"%s\"}",
             m, k, qty, m, src);
    line(r, buf);
    snprintf(buf, sizeof(buf),
             "{\"type\":\"sync\",\"ts\":\"2026-11-22T10:%02d:50.000Z\",\"channel\":\"amazon\","
             "\"status\":\"ok\",\"batch\":\"b%d\"}",
             m, m);
    line(r, buf);
}

static void fill(unsigned *qty, unsigned v)
{
    for (int k = 0; k < NSKU; k++) {
        qty[k] = v;
    }
}

static struct ks_channel *amazon(struct run *r)
{
    CHECK_INT(r->e->nch, 1);
    return &r->e->ch[0];
}

/* No pair of the channel carries a per-SKU holding flag, and the counts say so. */
static int unwatched(const struct ks_channel *c)
{
    for (uint32_t s = 0; s < c->cap; s++) {
        if (c->pairs[s].flags & KS_PAIR_WATCHED) {
            return 0;
        }
    }
    return c->n_watch == 0 && c->n_hold == 0;
}

/* The feed changes since the last clear as "SKU=qty/why " in order. */
static void changes(struct run *r, char *out, size_t cap)
{
    const struct ks_feed_effect *f;
    size_t n = ks_engine_feed(r->e, &f), at = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && at + 40 < cap; i++) {
        at += (size_t)snprintf(out + at, cap - at, "%s=%u/%s ", ks_engine_sku(r->e, f[i].sku),
                               f[i].qty, ks_feed_why_name((enum ks_feed_why)f[i].why));
    }
    ks_engine_effects_clear(r->e);
}

static void start(struct run *r)
{
    r->e = ks_engine_new(&cfg);
    r->in = ks_engine_input(r->e, "t.ndjson");
    r->line = 0;
}

static void the_clean_path_is_untouched_while_no_corruption_incident_is_open(void)
{
    struct run r;
    start(&r);
    unsigned q[NSKU];
    fill(q, 10);
    update(&r, 0, q);
    /* 4 of 40 to zero (exactly 10 %) and one SKU x10: no incident, every value goes through */
    q[0] = q[1] = q[2] = q[3] = 0;
    q[4] = 100;
    char got[2048];
    ks_engine_effects_clear(r.e);
    update(&r, 1, q);
    changes(&r, got, sizeof(got));
    CHECK_STR(got, "S00=0/update S01=0/update S02=0/update S03=0/update S04=100/update ");
    struct ks_engine_stats st;
    ks_engine_stats(r.e, &st);
    CHECK_INT(st.incidents, 0);
    CHECK(unwatched(amazon(&r)));
    ks_engine_free(r.e);
}

/* amazon's NSKU SKUs at 10 (minute 0), then S00..S04 to zero (minute 1): a
 * zero spike of 5 of 40 from source erp, incident 1. q holds minute 1's. */
static void zero_spike(struct run *r, unsigned *q)
{
    fill(q, 10);
    update(r, 0, q);
    for (int k = 0; k < 5; k++) {
        q[k] = 0;
    }
    update(r, 1, q);
}

/* A zero spike (S00..S04 to zero) rolled back; the source keeps S00..S03 at zero in an
 * update that crosses nothing. Returns the run, the channel released. */
static void zero_spike_kept_sending(struct run *r)
{
    start(r);
    unsigned q[NSKU];
    zero_spike(r, q);
    q[4] = 10;
    update(r, 2, q);
    struct ks_err err;
    struct ks_buf rep = {0};
    CHECK_INT(ks_engine_guard_rollback(r->e, 1, 0, "bob", KS_TIME_NONE, &rep, &err), KS_OK);
    ks_buf_fini(&rep);
    CHECK_INT(ks_engine_guard_release(r->e, NULL, "bob", KS_TIME_NONE, &err), KS_OK);
    ks_engine_effects_clear(r->e);
}

static void resolving_ends_the_holding_and_the_clean_path_is_plain_again(void)
{
    struct run r;
    zero_spike_kept_sending(&r);
    struct ks_channel *c = amazon(&r);
    CHECK_INT(c->n_watch, 5); /* S04 came back in the normal range: watched, not held */
    CHECK_INT(c->n_hold, 4);
    CHECK(!(c->pairs[4].flags & KS_PAIR_HELD) && (c->pairs[4].flags & KS_PAIR_WATCH));
    for (int k = 0; k < 4; k++) {
        CHECK(c->pairs[k].flags & KS_PAIR_HELD);
        CHECK_INT(c->pairs[k].cur, 0);
        CHECK_INT(c->pairs[k].guarded, 10);
        CHECK_INT(c->pairs[k].good, 10);
    }
    struct ks_err err;
    CHECK_INT(ks_engine_set_status(r.e, 1, "resolved", "bob", KS_TIME_NONE, &err), KS_OK);
    CHECK(unwatched(c));
    CHECK_INT(c->pairs[0].cur, 10); /* the held value is dropped: the last known good stays */
    unsigned q[NSKU];
    fill(q, 10);
    q[0] = 0;
    update(&r, 3, q);
    char got[512];
    changes(&r, got, sizeof(got));
    CHECK_STR(got, "S00=0/update ");
    CHECK(unwatched(c));
    ks_engine_free(r.e);
}

static void accept_lets_the_held_values_through_and_ends_the_holding(void)
{
    struct run r;
    zero_spike_kept_sending(&r);
    struct ks_err err;
    /* rolled back: a second rollback has nothing to act on, an accept has */
    struct ks_buf rep = {0};
    CHECK_INT(ks_engine_guard_rollback(r.e, 1, 0, "bob", KS_TIME_NONE, &rep, &err), KS_ESTATE);
    ks_buf_fini(&rep);
    CHECK_INT(ks_engine_guard_accept(r.e, 1, "bob", KS_TIME_NONE, &err), KS_OK);
    char got[512];
    changes(&r, got, sizeof(got));
    CHECK_STR(got, "S00=0/accepted S01=0/accepted S02=0/accepted S03=0/accepted ");
    CHECK(unwatched(amazon(&r)));
    CHECK_INT(amazon(&r)->pairs[0].good, 0);
    CHECK_INT(ks_engine_guard_accept(r.e, 1, "bob", KS_TIME_NONE, &err), KS_ESTATE);
    ks_engine_free(r.e);
}

static void the_holding_survives_a_checkpoint(void)
{
    struct run r;
    zero_spike_kept_sending(&r);
    struct ks_buf a = {0}, b = {0};
    ks_engine_save(r.e, &a);
    struct ks_engine *f = ks_engine_new(&cfg);
    struct ks_err err;
    CHECK_INT(ks_engine_load(f, a.p, a.len, &err), KS_OK);
    ks_engine_save(f, &b);
    CHECK(a.len == b.len && memcmp(a.p, b.p, a.len) == 0);
    CHECK_INT(f->ch[0].n_watch, 5);
    CHECK_INT(f->ch[0].n_hold, 4);
    ks_buf_fini(&a);
    ks_buf_fini(&b);
    ks_engine_free(f);
    ks_engine_free(r.e);
}

/* A x10 shift of S00..S09 (10 of 40: 25 %) from 55, rolled back and released, then one
 * update with S00 at `now` (the rest at 55). Returns what the channel shows for S00. */
static uint32_t after_shift(unsigned now)
{
    struct run r;
    start(&r);
    unsigned q[NSKU];
    fill(q, 55);
    update(&r, 0, q);
    for (int k = 0; k < 10; k++) {
        q[k] = 550;
    }
    update(&r, 1, q);
    struct ks_err err;
    struct ks_buf rep = {0};
    CHECK_INT(ks_engine_guard_rollback(r.e, 1, 0, "bob", KS_TIME_NONE, &rep, &err), KS_OK);
    ks_buf_fini(&rep);
    CHECK_INT(ks_engine_guard_release(r.e, NULL, "bob", KS_TIME_NONE, &err), KS_OK);
    CHECK_INT(amazon(&r)->pairs[0].guarded, 55);
    fill(q, 55);
    q[0] = now;
    update(&r, 2, q);
    uint32_t shown = amazon(&r)->pairs[0].guarded;
    int held = now != 55 && shown == 55;
    /* S01..S09 came back to 55: watched still, while the incident is open */
    CHECK_INT(amazon(&r)->n_watch, 10);
    CHECK_INT(amazon(&r)->n_hold, held ? 1 : 0);
    CHECK_INT((amazon(&r)->pairs[0].flags & KS_PAIR_OWNER) >> KS_PAIR_OWNER_SHIFT, 1);
    ks_engine_free(r.e);
    return shown;
}

static void only_a_value_beyond_the_threshold_the_same_way_is_held(void)
{
    CHECK_INT(after_shift(83), 55);  /* 2 x 28 > 55: still the corrupt way up */
    CHECK_INT(after_shift(82), 82);  /* 2 x 27 <= 55: the normal range */
    CHECK_INT(after_shift(550), 55);
    CHECK_INT(after_shift(30), 30);  /* beyond the threshold, but down: not the same way */
    CHECK_INT(after_shift(0), 0);    /* one zero among 40 crosses nothing */
    CHECK_INT(after_shift(55), 55);
}

/* A source that sends a normal value, then the corrupt one again, while the
 * incident is open: the second is held again (the SKU stays watched). */
static void a_value_in_the_normal_range_does_not_end_the_watch(void)
{
    struct run r;
    zero_spike_kept_sending(&r); /* S00..S03 held at 10, S04 back at 10 */
    unsigned q[NSKU];
    fill(q, 10);
    q[0] = 12; /* back in the normal range */
    update(&r, 3, q);
    char got[512];
    changes(&r, got, sizeof(got));
    CHECK_STR(got, "S00=12/update "); /* S01..S03: the channel has 10 already */
    CHECK_INT(amazon(&r)->n_hold, 0);
    fill(q, 10);
    q[0] = q[4] = 0; /* the corrupt way again: 2 of 40 cross nothing */
    update(&r, 4, q);
    changes(&r, got, sizeof(got));
    CHECK_STR(got, "");
    CHECK_INT(amazon(&r)->n_hold, 2);
    CHECK_INT(amazon(&r)->pairs[0].guarded, 12);
    CHECK_INT(amazon(&r)->pairs[4].guarded, 10);
    ks_engine_free(r.e);
}

/* Two corruption incidents on one channel, from two sources: erp zeroes S00..S04
 * (incident 1), pim sets S20..S28 x10 (incident 2). Each rollback, accept and
 * resolve acts on its own incident's SKUs only. */
static void two_incidents(struct run *r)
{
    start(r);
    unsigned q[NSKU];
    zero_spike(r, q);
    fill(q, 10);
    for (int k = 20; k < 29; k++) {
        q[k] = 100;
    }
    update_from(r, 2, q, "pim");
    struct ks_engine_stats st;
    ks_engine_stats(r->e, &st);
    CHECK_INT(st.incidents, 2);
}

static void rollback_sets_back_only_its_own_incidents_skus(void)
{
    struct run r;
    two_incidents(&r);
    char got[1024];
    changes(&r, got, sizeof(got));
    struct ks_err err;
    struct ks_buf rep = {0};
    /* incident 1's zeros never reached the channel; incident 2's phantom-stock
     * SKUs stay at zero until incident 2's own rollback */
    CHECK_INT(ks_engine_guard_rollback(r.e, 1, 0, "bob", KS_TIME_NONE, &rep, &err), KS_OK);
    CHECK(strstr(rep.p, "0 SKUs set back to their last known good quantity, 5 already there"));
    changes(&r, got, sizeof(got));
    CHECK_STR(got, "");
    ks_buf_reset(&rep);
    CHECK_INT(ks_engine_guard_rollback(r.e, 2, 0, "bob", KS_TIME_NONE, &rep, &err), KS_OK);
    CHECK(strstr(rep.p, "9 SKUs set back to their last known good quantity (9 of them "
                        "phantom-stock SKUs zeroed at detection), 0 already there"));
    changes(&r, got, sizeof(got));
    CHECK_STR(got, "S20=10/rollback S21=10/rollback S22=10/rollback S23=10/rollback "
                   "S24=10/rollback S25=10/rollback S26=10/rollback S27=10/rollback "
                   "S28=10/rollback ");
    ks_buf_fini(&rep);
    ks_engine_free(r.e);
}

/* A zero spike (S00..S04 to zero); the source then sends S00..S02 back at 10
 * (a clean update, held while the channels are paused) and keeps S03, S04 at
 * zero. The rollback accounts for every affected SKU: 2 still held per SKU,
 * 3 with a clean value since, none to set back (the channel never saw the
 * zeros). A second rollback finds nothing of the first to count again. */
static void rollback_counts_the_skus_a_clean_value_replaced(void)
{
    struct run r;
    start(&r);
    unsigned q[NSKU];
    zero_spike(&r, q);
    q[0] = q[1] = q[2] = 10;
    update(&r, 2, q);
    struct ks_err err;
    struct ks_buf rep = {0};
    CHECK_INT(ks_engine_guard_rollback(r.e, 1, 1, "bob", KS_TIME_NONE, &rep, &err), KS_OK);
    CHECK(strstr(rep.p, "0 SKUs set back to their last known good quantity, 2 already there, "
                        "3 with a clean value from the source since (it stands)"));
    ks_buf_reset(&rep);
    CHECK_INT(ks_engine_guard_rollback(r.e, 1, 0, "bob", KS_TIME_NONE, &rep, &err), KS_OK);
    CHECK(strstr(rep.p, "2 already there, 3 with a clean value from the source since"));
    /* the channel showed 10 for every SKU all along: the release sends nothing */
    char got[1024];
    ks_engine_effects_clear(r.e);
    CHECK_INT(ks_engine_guard_release(r.e, NULL, "bob", KS_TIME_NONE, &err), KS_OK);
    changes(&r, got, sizeof(got));
    CHECK_STR(got, "");
    CHECK_INT(amazon(&r)->n_hold, 2);
    ks_buf_fini(&rep);
    ks_engine_free(r.e);
}

static void accept_and_resolve_leave_the_other_incidents_holding(void)
{
    struct run r;
    two_incidents(&r);
    struct ks_err err;
    struct ks_buf rep = {0};
    CHECK_INT(ks_engine_guard_rollback(r.e, 1, 0, "bob", KS_TIME_NONE, &rep, &err), KS_OK);
    CHECK_INT(ks_engine_guard_rollback(r.e, 2, 0, "bob", KS_TIME_NONE, &rep, &err), KS_OK);
    ks_buf_fini(&rep);
    CHECK_INT(ks_engine_guard_release(r.e, NULL, "bob", KS_TIME_NONE, &err), KS_OK);
    char got[2048];
    changes(&r, got, sizeof(got));
    one(&r, 3, "erp", 0, 0);     /* erp still zeroes S00 */
    one(&r, 4, "pim", 20, 100); /* pim still sends S20 x10 */
    changes(&r, got, sizeof(got));
    CHECK_STR(got, "");
    struct ks_channel *c = amazon(&r);
    CHECK_INT(c->n_hold, 2);
    CHECK_INT(ks_engine_guard_accept(r.e, 1, "bob", KS_TIME_NONE, &err), KS_OK);
    changes(&r, got, sizeof(got));
    CHECK_STR(got, "S00=0/accepted "); /* S20 stays held at 10 for incident 2 */
    CHECK_INT(c->n_hold, 1);
    CHECK(c->pairs[20].flags & KS_PAIR_HELD);
    CHECK_INT(c->pairs[20].good, 10);
    CHECK_INT(ks_engine_set_status(r.e, 1, "resolved", "bob", KS_TIME_NONE, &err), KS_OK);
    CHECK(c->pairs[20].flags & KS_PAIR_HELD);
    one(&r, 5, "pim", 21, 100); /* incident 2 is open: held */
    changes(&r, got, sizeof(got));
    CHECK_STR(got, "");
    CHECK_INT(c->n_hold, 2);
    CHECK_INT(ks_engine_set_status(r.e, 2, "resolved", "bob", KS_TIME_NONE, &err), KS_OK);
    CHECK(unwatched(c));
    ks_engine_free(r.e);
}

/* A corrupt update that joins an incident after an accept pauses every
 * channel again, as the first one did (SPEC 5), not only its own. */
static void a_joining_corrupt_update_pauses_every_channel_again(void)
{
    struct run r;
    start(&r);
    line(&r, "{\"type\":\"inventory\",\"ts\":\"2026-11-22T09:59:00.000Z\",\"channel\":\"ebay\","
             "\"sku\":\"S00\",\"qty\":10}");
    unsigned q[NSKU];
    zero_spike(&r, q);
    CHECK_INT(r.e->nch, 2);
    CHECK(r.e->ch[0].paused && r.e->ch[1].paused);
    struct ks_err err;
    CHECK_INT(ks_engine_guard_accept(r.e, 1, "bob", KS_TIME_NONE, &err), KS_OK);
    CHECK_INT(ks_engine_guard_release(r.e, NULL, "bob", KS_TIME_NONE, &err), KS_OK);
    CHECK(!r.e->ch[0].paused && !r.e->ch[1].paused);
    fill(q, 10);
    update(&r, 2, q);
    for (int k = 10; k < 15; k++) {
        q[k] = 0;
    }
    update(&r, 3, q);
    struct ks_engine_stats st;
    ks_engine_stats(r.e, &st);
    CHECK_INT(st.incidents, 1); /* it joined incident 1 */
    CHECK(r.e->ch[0].paused && r.e->ch[1].paused);
    struct ks_buf b = {0};
    ks_engine_incident_json(r.e, 1, 1, &b);
    CHECK(strstr(b.p, "Paused outbound sync on all 2 channels (") != NULL);
    CHECK(strstr(b.p, ") again; their updates are held, never dropped") != NULL);
    ks_buf_fini(&b);
    ks_engine_free(r.e);
}

/* The rollback's report writes every count with its thousands separator: a
 * zero spike over 1,200 of a channel's 2,000 SKUs, whose zeros never reached
 * the channel, has the update's 2,000 held values discarded and 1,200 SKUs
 * already at their last known good quantity. */
static void rollback_report_counts_have_thousands_separators(void)
{
    struct run r;
    start(&r);
    char buf[256];
    for (int m = 0; m < 2; m++) {
        for (int k = 0; k < 2000; k++) {
            snprintf(buf, sizeof(buf),
                     "{\"type\":\"inventory\",\"ts\":\"2026-11-22T11:%02d:00.000Z\","
                     "\"channel\":\"amazon\",\"sku\":\"T%04d\",\"qty\":%u,\"batch\":\"c%d\"}",
                     m, k, m == 1 && k < 1200 ? 0u : 10u, m);
            line(&r, buf);
        }
        snprintf(buf, sizeof(buf),
                 "{\"type\":\"sync\",\"ts\":\"2026-11-22T11:%02d:50.000Z\",\"channel\":"
                 "\"amazon\",\"status\":\"ok\",\"batch\":\"c%d\"}",
                 m, m);
        line(&r, buf);
    }
    struct ks_err err;
    struct ks_buf rep = {0};
    CHECK_INT(ks_engine_guard_rollback(r.e, 1, 0, "bob", KS_TIME_NONE, &rep, &err), KS_OK);
    CHECK(strstr(rep.p, "incident 1: 2,000 held corrupt values discarded; 0 SKUs set back to "
                        "their last known good quantity, 1,200 already there"));
    ks_buf_fini(&rep);
    ks_engine_free(r.e);
}

int main(void)
{
    ks_config_defaults(&cfg);
    RUN(the_clean_path_is_untouched_while_no_corruption_incident_is_open);
    RUN(resolving_ends_the_holding_and_the_clean_path_is_plain_again);
    RUN(a_value_in_the_normal_range_does_not_end_the_watch);
    RUN(rollback_sets_back_only_its_own_incidents_skus);
    RUN(rollback_counts_the_skus_a_clean_value_replaced);
    RUN(accept_and_resolve_leave_the_other_incidents_holding);
    RUN(a_joining_corrupt_update_pauses_every_channel_again);
    RUN(accept_lets_the_held_values_through_and_ends_the_holding);
    RUN(the_holding_survives_a_checkpoint);
    RUN(only_a_value_beyond_the_threshold_the_same_way_is_held);
    RUN(rollback_report_counts_have_thousands_separators);
    ks_config_fini(&cfg);
    return t_done();
}
