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

/* One update of amazon's NSKU SKUs at minute m (qty[k] for SKU k), closed by a sync. */
static void update(struct run *r, int m, const unsigned *qty)
{
    char buf[256];
    for (int k = 0; k < NSKU; k++) {
        snprintf(buf, sizeof(buf),
                 "{\"type\":\"inventory\",\"ts\":\"2026-11-22T10:%02d:%02d.000Z\",\"channel\":"
                 "\"amazon\",\"sku\":\"S%02d\",\"qty\":%u,\"batch\":\"b%d\",\"source\":\"erp\"}",
                 m, k, k, qty[k], m);
        line(r, buf);
    }
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

/* A zero spike (S00..S04 to zero) rolled back; the source keeps S00..S03 at zero in an
 * update that crosses nothing. Returns the run, the channel released. */
static void zero_spike_kept_sending(struct run *r)
{
    start(r);
    unsigned q[NSKU];
    fill(q, 10);
    update(r, 0, q);
    for (int k = 0; k < 5; k++) {
        q[k] = 0;
    }
    update(r, 1, q);
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
    CHECK_INT(c->n_watch, 4); /* S04 came back in the normal range */
    CHECK_INT(c->n_hold, 4);
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
    CHECK_INT(f->ch[0].n_watch, 4);
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
    CHECK_INT(amazon(&r)->n_watch, held); /* S01..S09 came back to 55: unwatched */
    CHECK_INT(amazon(&r)->n_hold, held ? 1 : 0);
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

int main(void)
{
    ks_config_defaults(&cfg);
    RUN(the_clean_path_is_untouched_while_no_corruption_incident_is_open);
    RUN(resolving_ends_the_holding_and_the_clean_path_is_plain_again);
    RUN(accept_lets_the_held_values_through_and_ends_the_holding);
    RUN(the_holding_survives_a_checkpoint);
    RUN(only_a_value_beyond_the_threshold_the_same_way_is_held);
    ks_config_fini(&cfg);
    return t_done();
}
