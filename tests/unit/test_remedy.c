/*
 * test_remedy.c - the service-recovery policy on a real store and engine:
 * a grant within the limit (and at it), one above it that waits and is then
 * approved by someone whose limit covers it, a role without the right
 * refused with nothing written, a complex case's specialist review and the
 * sla entry of a missed one (once), a grant re-applied from the journal
 * writing the same row, the text the customer notices use, and the recovery
 * promise of the example policy, exactly. The tests that write remedies run
 * on both backends (tdb.h).
 */
#include "../../src/remedy/remedy.h"
#include "tdb.h"

#include <stdlib.h>

static struct ks_config cfg;
static struct ks_store *s;
static struct ks_engine *e;

static ks_time T(const char *str)
{
    ks_time t;
    const char *why;
    return ks_time_parse(str, strlen(str), &t, &why) == 0 ? t : KS_TIME_NONE;
}

/* A WMS outage (incident 1) with one order (o1, of value 1000; kintsugi
 * knows no other order), on the example configuration. */
static void setup(void)
{
    struct ks_err err = {0};
    tdb_setup();
    CHECK_INT(ks_store_open(&s, tdb_uri, &err), KS_OK);
    e = ks_engine_new(&cfg);
    static const char *lines[] = {
        "{\"type\":\"health\",\"ts\":\"2026-11-22T10:00:00Z\",\"system\":\"wms\",\"status\":\"up\"}",
        "{\"type\":\"order\",\"ts\":\"2026-11-22T10:02:00Z\",\"order_id\":\"o1\",\"channel\":"
        "\"amazon\",\"status\":\"accepted\",\"customer\":\"c1\",\"value\":1000}",
        "{\"type\":\"health\",\"ts\":\"2026-11-22T10:05:00Z\",\"system\":\"wms\",\"status\":\"down\"}",
        "{\"type\":\"tick\",\"ts\":\"2026-11-22T10:20:00Z\"}",
    };
    uint32_t in = ks_engine_input(e, "test");
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        CHECK_INT(ks_engine_event(e, in, (int64_t)i + 1, lines[i], strlen(lines[i]), &err),
                  KS_LINE_ACCEPTED);
    }
    /* the incident row the offers read */
    struct ks_buf b = {0};
    CHECK_INT(ks_engine_incident_json(e, 1, 0, &b), KS_OK);
    struct ks_incident_row r = {.id = 1, .type = "system_outage", .severity = "P2",
                                .status = "investigating", .fingerprint = "f",
                                .summary_json = b.p, .detail_json = b.p};
    CHECK_INT(s->ops->put_incident(s, &r, &err), KS_OK);
    ks_buf_fini(&b);
}

static void teardown(void)
{
    ks_engine_free(e);
    ks_store_close(s);
    tdb_teardown();
}

static enum ks_rc grant(const char *order, const char *kind, double amount, const char *by,
                        int64_t *id, struct ks_err *err)
{
    struct ks_remedy_req rq = {1, order, kind, amount >= 0, amount, by, NULL, 0};
    return ks_remedy_grant(s, e, &cfg, &rq, KS_TIME_NONE, 0, id, NULL, err);
}

/* Remedy id's JSON. */
static void json_of(int64_t id, struct ks_buf *out)
{
    struct ks_buf all = {0};
    struct ks_err err = {0};
    CHECK_INT(ks_remedy_list_json(s, 0, &all, &err), KS_OK);
    char key[32];
    snprintf(key, sizeof(key), "{\"id\":%lld,", (long long)id);
    const char *p = strstr(all.p, key);
    CHECK(p != NULL);
    if (p) {
        int depth = 0;
        const char *q = p;
        do {
            depth += *q == '{' ? 1 : *q == '}' ? -1 : 0;
            q++;
        } while (depth > 0);
        ks_buf_put(out, p, (size_t)(q - p));
        ks_buf_putc(out, 0);
        out->len--;
    }
    ks_buf_fini(&all);
}

/* Whether the incident's timeline has an entry of kind by actor with text. */
static int on_timeline(const char *kind, const char *actor, const char *text)
{
    struct ks_buf b = {0}, want = {0};
    CHECK_INT(ks_engine_incident_json(e, 1, 1, &b), KS_OK);
    ks_buf_printf(&want, "\"kind\":\"%s\",\"actor\":\"%s\",\"text\":", kind, actor);
    ks_json_escape(&want, text, strlen(text));
    ks_buf_putc(&want, 0);
    int n = 0;
    for (const char *p = b.p; (p = strstr(p, want.p)) != NULL; p++) {
        n++;
    }
    ks_buf_fini(&b);
    ks_buf_fini(&want);
    return n;
}

static int count(void)
{
    struct ks_buf b = {0};
    struct ks_err err = {0};
    ks_remedy_list_json(s, 0, &b, &err);
    int n = 0;
    for (const char *p = b.p; (p = strstr(p, "{\"id\":")) != NULL; p++) {
        n++;
    }
    ks_buf_fini(&b);
    return n;
}

static void rights_come_from_the_roles(void)
{
    double limit;
    const char *role;
    CHECK_INT(ks_remedy_right_of(&cfg, "carol", "refund", &limit, &role), KS_REMEDY_UPTO);
    CHECK(limit == 50.0);
    CHECK_STR(role, "agent");
    CHECK_INT(ks_remedy_right_of(&cfg, "carol", "discount_code", &limit, &role), KS_REMEDY_ANY);
    CHECK_INT(ks_remedy_right_of(&cfg, "carol", "cancel_with_refund", &limit, &role),
              KS_REMEDY_NONE);
    CHECK_INT(ks_remedy_right_of(&cfg, "carol", "store_credit", &limit, &role), KS_REMEDY_NONE);
    CHECK_INT(ks_remedy_right_of(&cfg, "bob", "replacement", &limit, &role), KS_REMEDY_ANY);
    CHECK_INT(ks_remedy_right_of(&cfg, "mallory", "refund", &limit, &role), KS_REMEDY_NONE);
    CHECK(role == NULL);
}

static void a_grant_within_the_limit_is_granted_at_once(void)
{
    setup();
    struct ks_err err = {0};
    int64_t id = 0;
    CHECK_INT(grant("o1", "refund", 30, "carol", &id, &err), KS_OK);
    CHECK_INT(id, 1);
    CHECK_INT(grant("o2", "refund", 50, "carol", &id, &err), KS_OK); /* at the limit */
    struct ks_buf b = {0};
    json_of(1, &b);
    CHECK_STR(b.p, "{\"id\":1,\"incident\":1,\"order\":\"o1\",\"kind\":\"refund\",\"amount\":30.00,"
                   "\"currency\":\"USD\",\"status\":\"granted\",\"accountable\":\"carol\","
                   "\"requested_by\":\"carol\",\"approved_by\":null,"
                   "\"requested_at\":\"2026-11-22T10:20:00.000Z\","
                   "\"granted_at\":\"2026-11-22T10:20:00.000Z\",\"declined\":null,\"note\":null,"
                   "\"affected\":false,\"complex\":null,\"review\":null}");
    ks_buf_reset(&b);
    json_of(2, &b);
    CHECK(strstr(b.p, "\"status\":\"granted\"") != NULL);
    ks_buf_fini(&b);
    CHECK_INT(on_timeline("note", "carol",
                          "Remedy 1 granted: refund of 30.00 USD for order o1, by carol (agent, up "
                          "to 50.00 USD); accountable: carol"),
              1);
    teardown();
}

static void above_the_limit_waits_until_someone_whose_limit_covers_it_approves(void)
{
    setup();
    struct ks_err err = {0};
    int64_t id = 0;
    CHECK_INT(grant("o1", "refund", 50.01, "carol", &id, &err), KS_OK);
    struct ks_buf b = {0};
    json_of(id, &b);
    CHECK(strstr(b.p, "\"status\":\"pending\",\"accountable\":null,\"requested_by\":\"carol\"") !=
          NULL);
    CHECK(strstr(b.p, "\"complex\":\"above the limit of carol\",\"review\":{\"due\":"
                      "\"2026-11-23T10:20:00.000Z\",\"status\":\"due\"") != NULL);
    /* the agent cannot approve it, nor someone unknown; a lead (200) can */
    CHECK_INT(ks_remedy_approve(s, e, &cfg, id, "carol", KS_TIME_NONE, 0, NULL, &err), KS_ESTATE);
    CHECK_STR(err.msg, "carol (agent, up to 50.00 USD) may not approve remedy 1: refund of 50.01 "
                       "USD");
    CHECK_INT(ks_remedy_approve(s, e, &cfg, id, "mallory", KS_TIME_NONE, 0, NULL, &err),
              KS_ESTATE);
    CHECK_INT(ks_remedy_approve(s, e, &cfg, 99, "bob", KS_TIME_NONE, 0, NULL, &err),
              KS_ENOTFOUND);
    CHECK_INT(ks_remedy_approve(s, e, &cfg, id, "alice", T("2026-11-22T11:00:00Z"), 0, NULL, &err),
              KS_OK);
    ks_buf_reset(&b);
    json_of(id, &b);
    CHECK(strstr(b.p, "\"status\":\"granted\",\"accountable\":\"alice\",\"requested_by\":\"carol\","
                      "\"approved_by\":\"alice\",\"requested_at\":\"2026-11-22T10:20:00.000Z\","
                      "\"granted_at\":\"2026-11-22T11:00:00.000Z\"") != NULL);
    CHECK_INT(on_timeline("note", "alice",
                          "Remedy 1 approved by alice (lead, up to 200.00 USD): refund of 50.01 USD "
                          "for order o1, proposed by carol; accountable: alice"),
              1);
    /* approved once */
    CHECK_INT(ks_remedy_approve(s, e, &cfg, id, "bob", KS_TIME_NONE, 0, NULL, &err), KS_ESTATE);
    /* the journal re-applied: the same approval again is no error, the row the same */
    CHECK_INT(ks_remedy_approve(s, e, &cfg, id, "alice", T("2026-11-22T11:00:00Z"), 1, NULL, &err),
              KS_OK);
    struct ks_buf again = {0};
    json_of(id, &again);
    CHECK_STR(again.p, b.p);
    ks_buf_fini(&again);
    ks_buf_fini(&b);
    teardown();
}

static void a_role_without_the_right_is_refused_and_nothing_is_written(void)
{
    setup();
    struct ks_err err = {0};
    int64_t id = 0;
    CHECK_INT(grant("o1", "cancel_with_refund", -1, "carol", &id, &err), KS_ESTATE);
    CHECK_STR(err.msg, "carol (role agent) may not grant 'cancel_with_refund': the role's remedies "
                       "do not allow it");
    CHECK_INT(grant("o1", "store_credit", 5, "carol", &id, &err), KS_ESTATE); /* absent */
    CHECK_INT(grant("o1", "refund", 5, "mallory", &id, &err), KS_ESTATE);
    CHECK_INT(grant("o1", "hug", 5, "bob", &id, &err), KS_EUSAGE);
    CHECK_INT(grant("o1", "refund", -1, "bob", &id, &err), KS_OK); /* no amount: any */
    CHECK_INT(count(), 1);
    CHECK_INT(grant("o1", "cancel_with_refund", -1, "alice", &id, &err), KS_OK);
    CHECK_INT(grant("o1", "cancel_with_refund", -1, "bob", &id, &err), KS_ESTATE); /* once */
    CHECK_INT(count(), 2);
    struct ks_remedy_req rq = {7, "o1", "refund", 1, 5, "bob", NULL, 0};
    CHECK_INT(ks_remedy_grant(s, e, &cfg, &rq, KS_TIME_NONE, 0, &id, NULL, &err), KS_ENOTFOUND);
    teardown();
}

static void a_complex_case_gets_a_specialist_review_and_an_sla_entry_when_missed(void)
{
    setup();
    struct ks_err err = {0};
    int64_t a = 0, b = 0;
    struct ks_remedy_req rq = {1, "o1", "discount_code", 1, 10, "carol", NULL, 1};
    CHECK_INT(ks_remedy_grant(s, e, &cfg, &rq, KS_TIME_NONE, 0, &a, NULL, &err), KS_OK);
    CHECK_INT(grant("o1", "refund", 20, "carol", &b, &err), KS_OK); /* a second remedy */
    struct ks_buf j = {0};
    json_of(b, &j);
    CHECK(strstr(j.p, "\"complex\":\"order o1 has 1 remedy already\"") != NULL);
    ks_buf_fini(&j);
    int64_t c = 0;
    CHECK_INT(grant("o1", "discount_code", 5, "carol", &c, &err), KS_OK); /* a third */
    json_of(c, &j);
    CHECK(strstr(j.p, "\"complex\":\"order o1 has 2 remedies already\"") != NULL);
    ks_buf_fini(&j);
    /* b is reviewed in time, by a second person whose limit covers it */
    CHECK_INT(ks_remedy_review(s, e, &cfg, b, "carol", NULL, KS_TIME_NONE, 0, NULL, &err),
              KS_ESTATE);
    CHECK_INT(ks_remedy_review(s, e, &cfg, b, "alice", "fine", T("2026-11-22T12:00:00Z"), 0, NULL,
                               &err),
              KS_OK);
    CHECK_INT(ks_remedy_review(s, e, &cfg, b, "bob", NULL, KS_TIME_NONE, 0, NULL, &err), KS_ESTATE);
    /* the first deadline a server waits for (b's review is done) */
    ks_time next = 0;
    CHECK_INT(ks_remedy_next_review(s, ks_engine_clock(e), &next, &err), KS_OK);
    CHECK_INT(next, T("2026-11-23T10:20:00Z"));
    /* nothing is missed before the deadline, nor at it (SPEC section 2: a
     * timer fires when the clock moves past its deadline) */
    ks_engine_advance(e, T("2026-11-23T10:19:59Z"));
    CHECK_INT(ks_remedy_sla(s, e, &err), KS_OK);
    const char *missed = "Specialist review of remedy 1 (discount_code for order o1; complex: "
                         "escalated by carol) missed its deadline, 24 h after the grant";
    CHECK_INT(on_timeline("sla", "kintsugi", missed), 0);
    ks_engine_advance(e, T("2026-11-23T10:20:00Z"));
    CHECK_INT(ks_remedy_sla(s, e, &err), KS_OK);
    CHECK_INT(on_timeline("sla", "kintsugi", missed), 0);
    json_of(a, &j);
    CHECK(strstr(j.p, "\"missed\":false") != NULL);
    ks_buf_fini(&j);
    CHECK_INT(ks_remedy_next_review(s, ks_engine_clock(e), &next, &err), KS_OK);
    CHECK_INT(next, T("2026-11-23T10:20:00Z")); /* at the deadline: still to come */
    ks_engine_advance(e, T("2026-11-23T10:20:00.001Z"));
    CHECK_INT(ks_remedy_sla(s, e, &err), KS_OK);
    CHECK_INT(ks_remedy_sla(s, e, &err), KS_OK);
    CHECK_INT(on_timeline("sla", "kintsugi", missed), 1);
    CHECK_INT(ks_remedy_next_review(s, ks_engine_clock(e), &next, &err), KS_OK);
    CHECK(next == KS_TIME_NONE); /* a and c missed, b done: nothing more to wait for */
    struct ks_buf b2 = {0};
    CHECK_INT(ks_engine_incident_json(e, 1, 1, &b2), KS_OK);
    CHECK(strstr(b2.p, "{\"at\":\"2026-11-23T10:20:00.000Z\",\"kind\":\"sla\"") != NULL);
    ks_buf_fini(&b2);
    json_of(a, &j);
    CHECK(strstr(j.p, "\"review\":{\"due\":\"2026-11-23T10:20:00.000Z\",\"status\":\"due\","
                      "\"missed\":true") != NULL);
    ks_buf_fini(&j);
    teardown();
}

static void the_reviewer_does_not_decide(void)
{
    setup();
    struct ks_err err = {0};
    int64_t id = 0;
    /* a lead's store credit above the lead's limit: pending, complex */
    CHECK_INT(grant("o1", "store_credit", 250, "alice", &id, &err), KS_OK);
    struct ks_buf j = {0};
    json_of(id, &j);
    /* not reviewed yet: nobody, at no time (not 1970-01-01) */
    CHECK(strstr(j.p, "\"review\":{\"due\":\"2026-11-23T10:20:00.000Z\",\"status\":\"due\","
                      "\"missed\":false,\"by\":null,\"at\":null}") != NULL);
    CHECK_INT(ks_remedy_review(s, e, &cfg, id, "bob", NULL, T("2026-11-22T11:00:00Z"), 0, NULL,
                               &err),
              KS_OK);
    /* bob reviewed it: he is the second pair of eyes, not the one who decides */
    CHECK_INT(ks_remedy_approve(s, e, &cfg, id, "bob", KS_TIME_NONE, 0, NULL, &err), KS_ESTATE);
    CHECK_STR(err.msg, "bob may not approve remedy 1: they did its specialist review (the reviewer "
                       "is a second pair of eyes, not the person who decides)");
    ks_buf_reset(&j);
    json_of(id, &j);
    CHECK(strstr(j.p, "\"status\":\"pending\",\"accountable\":null") != NULL);
    CHECK(strstr(j.p, "\"review\":{\"due\":\"2026-11-23T10:20:00.000Z\",\"status\":\"done\","
                      "\"missed\":false,\"by\":\"bob\",\"at\":\"2026-11-22T11:00:00.000Z\"}") !=
          NULL);
    ks_buf_fini(&j);
    CHECK_INT(on_timeline("note", "bob",
                          "Remedy 1 approved by bob (manager, any amount): store_credit of 250.00 "
                          "USD for order o1, proposed by alice; accountable: bob"),
              0);
    /* another manager (dana) decides */
    CHECK_INT(ks_remedy_approve(s, e, &cfg, id, "dana", KS_TIME_NONE, 0, NULL, &err), KS_OK);
    /* the other way round, the one who decided may not review, nor the proposer */
    int64_t other = 0;
    struct ks_remedy_req rq = {1, "o2", "discount_code", 1, 10, "carol", NULL, 1};
    CHECK_INT(ks_remedy_grant(s, e, &cfg, &rq, KS_TIME_NONE, 0, &other, NULL, &err), KS_OK);
    CHECK_INT(ks_remedy_review(s, e, &cfg, other, "carol", NULL, KS_TIME_NONE, 0, NULL, &err),
              KS_ESTATE);
    CHECK_STR(err.msg, "carol may not review remedy 2: they decided or proposed it (a specialist "
                       "review is a second person's)");
    CHECK_INT(grant("o2", "refund", 120, "carol", &other, &err), KS_OK);
    CHECK_INT(ks_remedy_approve(s, e, &cfg, other, "alice", KS_TIME_NONE, 0, NULL, &err), KS_OK);
    CHECK_INT(ks_remedy_review(s, e, &cfg, other, "alice", NULL, KS_TIME_NONE, 0, NULL, &err),
              KS_ESTATE);
    CHECK_STR(err.msg, "alice may not review remedy 3: they decided or proposed it (a specialist "
                       "review is a second person's)");
    CHECK_INT(ks_remedy_review(s, e, &cfg, other, "bob", NULL, KS_TIME_NONE, 0, NULL, &err), KS_OK);
    teardown();
}

/* The limit of role `role` for remedy kind, set to value for a test (the
 * old value returned, to put back). */
static char *set_limit(const char *role, const char *kind, char *value)
{
    for (size_t i = 0; i < cfg.nroles; i++) {
        for (size_t k = 0; !strcmp(cfg.roles[i].name, role) && k < cfg.roles[i].nremedies; k++) {
            if (!strcmp(cfg.roles[i].remedies[k].name, kind)) {
                char *old = cfg.roles[i].remedies[k].value;
                cfg.roles[i].remedies[k].value = value;
                return old;
            }
        }
    }
    CHECK(0);
    return NULL;
}

static void a_cancellation_with_a_full_refund_ends_what_waited_for_approval(void)
{
    setup();
    struct ks_err err = {0};
    int64_t pending = 0, cancel = 0, id = 0;
    CHECK_INT(grant("o1", "refund", 120, "carol", &pending, &err), KS_OK); /* pending */
    CHECK_INT(grant("o1", "cancel_with_refund", -1, "alice", &cancel, &err), KS_OK);
    struct ks_buf b = {0}, again = {0};
    json_of(pending, &b);
    CHECK(strstr(b.p, "\"status\":\"superseded\",\"accountable\":null,\"requested_by\":\"carol\","
                      "\"approved_by\":null") != NULL);
    CHECK_INT(on_timeline("note", "alice",
                          "Remedy 1 superseded: refund of 120.00 USD for order o1, proposed by "
                          "carol, waited for approval; the order is cancelled with a full refund "
                          "(remedy 2), so it is not given"),
              1);
    /* it is not approved: the order was refunded whole */
    CHECK_INT(ks_remedy_approve(s, e, &cfg, pending, "alice", KS_TIME_NONE, 0, NULL, &err),
              KS_ESTATE);
    CHECK_STR(err.msg, "remedy 1 can no longer be approved: order o1 was cancelled with a full "
                       "refund for incident 1 already (remedy 2)");
    CHECK_INT(ks_remedy_approve(s, e, &cfg, pending, "bob", KS_TIME_NONE, 0, NULL, &err),
              KS_ESTATE);
    json_of(pending, &again);
    CHECK_STR(again.p, b.p);
    ks_buf_reset(&again);
    CHECK_INT(on_timeline("note", "alice",
                          "Remedy 1 approved by alice (lead, up to 200.00 USD): refund of 120.00 "
                          "USD for order o1, proposed by carol; accountable: alice"),
              0);
    /* nor reviewed, and its review is not missed: it was never given */
    CHECK_INT(ks_remedy_review(s, e, &cfg, pending, "bob", NULL, KS_TIME_NONE, 0, NULL, &err),
              KS_ESTATE);
    ks_engine_advance(e, T("2026-11-24T00:00:00Z"));
    CHECK_INT(ks_remedy_sla(s, e, &err), KS_OK);
    json_of(pending, &again);
    CHECK(strstr(again.p, "\"missed\":false") != NULL);
    ks_buf_reset(&again);
    /* the customer is told of the cancellation, not of a refund that waits */
    CHECK_INT(ks_remedy_describe(s, &cfg, 1, NULL, "o1", &again, &err), KS_OK);
    CHECK_STR(again.p, "Granted: cancelling your order, with a full refund, decided by alice, who "
                       "is accountable for it.");
    ks_buf_reset(&again);

    /* a pending remedy beside a granted cancellation (written before
     * cancellations superseded them) is refused all the same */
    CHECK_INT(grant("o2", "cancel_with_refund", -1, "alice", &cancel, &err), KS_OK);
    struct ks_remedy_row old = {.incident = 1, .order_id = "o2", .kind = "refund",
                                .has_amount = 1, .amount = 120, .currency = "USD",
                                .status = "pending", .by = "carol",
                                .requested_at = T("2026-11-22T10:20:00Z"),
                                .granted_at = KS_TIME_NONE, .review_due = KS_TIME_NONE,
                                .reviewed_at = KS_TIME_NONE, .declined_at = KS_TIME_NONE};
    CHECK_INT(s->ops->put_remedy(s, &old, &err), KS_OK);
    CHECK_INT(ks_remedy_approve(s, e, &cfg, old.id, "bob", KS_TIME_NONE, 0, NULL, &err),
              KS_ESTATE);
    CHECK_STR(err.msg, "remedy 4 can no longer be approved: order o2 was cancelled with a full "
                       "refund for incident 1 already (remedy 3)");
    json_of(old.id, &again);
    CHECK(strstr(again.p, "\"status\":\"pending\"") != NULL);
    ks_buf_reset(&again);

    /* a cancellation that waited for approval supersedes when it is approved */
    static char hundred[] = "100";
    char *was = set_limit("lead", "cancel_with_refund", hundred);
    int64_t refund = 0, discount = 0;
    CHECK_INT(grant("o3", "refund", 120, "carol", &refund, &err), KS_OK);        /* 5, pending */
    CHECK_INT(grant("o3", "cancel_with_refund", 150, "alice", &cancel, &err), KS_OK); /* 6 */
    json_of(cancel, &again);
    CHECK(strstr(again.p, "\"status\":\"pending\"") != NULL);
    ks_buf_reset(&again);
    CHECK_INT(grant("o4", "discount_code", 10, "carol", &discount, &err), KS_OK);
    CHECK_INT(ks_remedy_approve(s, e, &cfg, cancel, "bob", KS_TIME_NONE, 0, NULL, &err), KS_OK);
    json_of(refund, &again);
    CHECK(strstr(again.p, "\"status\":\"superseded\"") != NULL);
    ks_buf_reset(&again);
    json_of(discount, &again); /* another order's: untouched */
    CHECK(strstr(again.p, "\"status\":\"granted\"") != NULL);
    ks_buf_reset(&again);
    CHECK_INT(on_timeline("note", "bob",
                          "Remedy 5 superseded: refund of 120.00 USD for order o3, proposed by "
                          "carol, waited for approval; the order is cancelled with a full refund "
                          "(remedy 6), so it is not given"),
              1);
    CHECK_INT(ks_remedy_approve(s, e, &cfg, refund, "bob", KS_TIME_NONE, 0, NULL, &err),
              KS_ESTATE);
    set_limit("lead", "cancel_with_refund", was);

    /* the journal re-applied: the cancellation's grant supersedes again,
     * with the same row */
    struct ks_remedy_req rq1 = {1, "o1", "refund", 1, 120, "carol", NULL, 0};
    CHECK_INT(ks_remedy_grant(s, e, &cfg, &rq1, KS_TIME_NONE, 1, &id, NULL, &err), KS_OK);
    ks_buf_reset(&b);
    json_of(pending, &b);
    CHECK(strstr(b.p, "\"status\":\"pending\"") != NULL); /* written whole, as it was */
    struct ks_remedy_req rq = {1, "o1", "cancel_with_refund", 0, 0, "alice", NULL, 0};
    CHECK_INT(ks_remedy_grant(s, e, &cfg, &rq, KS_TIME_NONE, 2, &id, NULL, &err), KS_OK);
    ks_buf_reset(&b);
    json_of(pending, &b);
    CHECK(strstr(b.p, "\"status\":\"superseded\"") != NULL);
    CHECK_INT(count(), 7);
    ks_buf_fini(&b);
    ks_buf_fini(&again);
    teardown();
}

static enum ks_rc decline(int64_t id, const char *by, const char *why, struct ks_err *err)
{
    return ks_remedy_decline(s, e, &cfg, id, by, why, KS_TIME_NONE, 0, NULL, err);
}

/* A pending remedy declined, with why, by someone who could approve it, or
 * withdrawn by the person who proposed it: never given, not approved or
 * reviewed after it, its review not missed; a declined cancellation with a
 * full refund cancels nothing. */
static void a_pending_remedy_is_declined_or_withdrawn_and_never_given(void)
{
    setup();
    struct ks_err err = {0};
    int64_t pending = 0, other = 0, cancel = 0, id = 0;
    CHECK_INT(grant("o1", "refund", 120, "carol", &pending, &err), KS_OK); /* 1, pending */
    CHECK_INT(grant("o2", "refund", 250, "carol", &other, &err), KS_OK);   /* 2, pending */
    struct ks_buf b = {0}, before = {0};
    json_of(pending, &before);
    /* a decline says why; a person of the configuration whose limit covers it */
    CHECK_INT(decline(pending, "bob", NULL, &err), KS_EUSAGE);
    CHECK_INT(decline(pending, "bob", "", &err), KS_EUSAGE);
    CHECK_INT(decline(pending, "nobody", "no", &err), KS_ESTATE);
    CHECK_INT(decline(other, "alice", "too much", &err), KS_ESTATE);
    CHECK_STR(err.msg, "alice (lead, up to 200.00 USD) may not decline remedy 2: refund of 250.00 "
                       "USD (who may approve it may decline it; carol, who proposed it, may "
                       "withdraw it)");
    json_of(pending, &b);
    CHECK_STR(b.p, before.p); /* refused: nothing written */
    ks_buf_reset(&b);
    CHECK_INT(decline(pending, "alice", "replacement shipped already", &err), KS_OK);
    json_of(pending, &b);
    CHECK(strstr(b.p, "\"status\":\"declined\",\"accountable\":null,\"requested_by\":\"carol\","
                      "\"approved_by\":null") != NULL);
    CHECK(strstr(b.p, "\"granted_at\":null,\"declined\":{\"by\":\"alice\",\"at\":"
                      "\"2026-11-22T10:20:00.000Z\",\"why\":\"replacement shipped already\"}") !=
          NULL);
    CHECK_INT(on_timeline("note", "alice",
                          "Remedy 1 declined by alice (lead, up to 200.00 USD): refund of 120.00 "
                          "USD for order o1, proposed by carol, is not given: replacement shipped "
                          "already"),
              1);
    /* not approved, declined again or reviewed after it */
    CHECK_INT(ks_remedy_approve(s, e, &cfg, pending, "bob", KS_TIME_NONE, 0, NULL, &err),
              KS_ESTATE);
    CHECK_STR(err.msg, "remedy 1 was declined by alice: replacement shipped already");
    CHECK_INT(decline(pending, "bob", "again", &err), KS_ESTATE);
    CHECK_INT(ks_remedy_review(s, e, &cfg, pending, "bob", NULL, KS_TIME_NONE, 0, NULL, &err),
              KS_ESTATE);
    ks_buf_reset(&before);
    json_of(pending, &before);
    CHECK_STR(before.p, b.p);
    ks_buf_reset(&b);
    /* the customer is offered the choices, not told of a refund that waits */
    CHECK_INT(ks_remedy_describe(s, &cfg, 1, NULL, "o1", &b, &err), KS_OK);
    CHECK(strstr(b.p, "You may choose: ") == b.p);
    ks_buf_reset(&b);
    /* withdrawn by the person who proposed it, whatever their limit */
    CHECK_INT(decline(other, "carol", "asked for the wrong order", &err), KS_OK);
    CHECK_INT(on_timeline("note", "carol",
                          "Remedy 2 withdrawn by carol (agent, up to 50.00 USD): refund of 250.00 "
                          "USD for order o2, proposed by carol, is not given: asked for the wrong "
                          "order"),
              1);
    /* the journal re-applied: the same decline again, the same row */
    ks_buf_reset(&before);
    json_of(other, &before);
    CHECK_INT(ks_remedy_decline(s, e, &cfg, other, "carol", "asked for the wrong order",
                                KS_TIME_NONE, 1, NULL, &err),
              KS_OK);
    json_of(other, &b);
    CHECK_STR(b.p, before.p);
    ks_buf_reset(&b);
    /* their reviews are never missed: they were never given */
    ks_engine_advance(e, T("2026-11-24T00:00:00Z"));
    CHECK_INT(ks_remedy_sla(s, e, &err), KS_OK);
    json_of(pending, &b);
    CHECK(strstr(b.p, "\"missed\":false") != NULL);
    ks_buf_reset(&b);
    /* a cancellation that waited for approval, declined, cancels nothing */
    static char hundred[] = "100";
    char *was = set_limit("lead", "cancel_with_refund", hundred);
    CHECK_INT(grant("o3", "cancel_with_refund", 150, "alice", &cancel, &err), KS_OK); /* 3 */
    CHECK_INT(grant("o3", "refund", 10, "carol", &id, &err), KS_ESTATE); /* it waits */
    CHECK_STR(err.msg, "order o3 has a cancellation with a full refund waiting for approval for "
                       "incident 1 (remedy 3): it is approved or declined first");
    CHECK_INT(decline(cancel, "bob", "the customer keeps the order", &err), KS_OK);
    CHECK_INT(grant("o3", "refund", 10, "carol", &id, &err), KS_OK);
    json_of(id, &b);
    CHECK(strstr(b.p, "\"status\":\"granted\"") != NULL);
    set_limit("lead", "cancel_with_refund", was);
    ks_buf_fini(&b);
    ks_buf_fini(&before);
    teardown();
}

static void amounts_are_money_with_at_most_two_decimals(void)
{
    double v = 0;
    CHECK_INT(ks_remedy_amount_parse("30", &v), 0);
    CHECK(v == 30.0);
    CHECK_INT(ks_remedy_amount_parse("49.99", &v), 0);
    CHECK(v == 49.99);
    CHECK_INT(ks_remedy_amount_parse("0.01", &v), 0);
    CHECK_INT(ks_remedy_amount_parse("50.1", &v), 0);
    CHECK_INT(ks_remedy_amount_parse("999999999999.99", &v), 0);
    CHECK_INT(ks_remedy_amount_parse("1000000000000", &v), 0);
    static const char *const bad[] = {"50.001", "0.001", "0x10", "1e2", "1E2", "inf", "nan",
                                      "-5",     "+5",    "0",    "0.00", ".5", "5.", "",
                                      " 5",     "5 ",    "5,00", "1000000000000.01"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = -1;
        if (ks_remedy_amount_parse(bad[i], &v) != -1) {
            fprintf(stderr, "  amount '%s' was taken\n", bad[i]);
            CHECK(0);
        }
        CHECK(v == -1);
    }
    CHECK(ks_remedy_amount_ok(49.99));
    CHECK(ks_remedy_amount_ok(120));
    CHECK(!ks_remedy_amount_ok(50.001));
    CHECK(!ks_remedy_amount_ok(0.001));
    CHECK(!ks_remedy_amount_ok(0));
    CHECK(!ks_remedy_amount_ok(-1));
    CHECK(!ks_remedy_amount_ok(1e13));

    setup();
    struct ks_err err = {0};
    int64_t id = 0;
    CHECK_INT(grant("o1", "refund", 50.001, "carol", &id, &err), KS_EUSAGE);
    CHECK_STR(err.msg, "amount: must be a number > 0 with at most two decimals (in USD)");
    CHECK_INT(grant("o1", "refund", 0.001, "carol", &id, &err), KS_EUSAGE);
    CHECK_INT(grant("o1", "refund", 0, "carol", &id, &err), KS_EUSAGE);
    CHECK_INT(count(), 0);
    CHECK_INT(grant("o1", "refund", 49.99, "carol", &id, &err), KS_OK);
    teardown();
}

static void an_order_id_is_checked_on_its_own(void)
{
    char why[96];
    CHECK(ks_remedy_order_invalid("o-1017", why, sizeof(why)) == NULL);
    CHECK(ks_remedy_order_invalid("commande-\xC3\xA9t\xC3\xA9", why, sizeof(why)) == NULL);
    CHECK_STR(ks_remedy_order_invalid("", why, sizeof(why)), "is required (the order's order_id)");
    CHECK_STR(ks_remedy_order_invalid(NULL, why, sizeof(why)),
              "is required (the order's order_id)");
    CHECK_STR(ks_remedy_order_invalid("o\377", why, sizeof(why)), "is not valid UTF-8 (byte 2)");
    CHECK_STR(ks_remedy_order_invalid("o\001\002", why, sizeof(why)),
              "has a control character (byte 2)");
    CHECK_STR(ks_remedy_order_invalid("o1\x1b[2J", why, sizeof(why)),
              "has a control character (byte 3)");
    CHECK_STR(ks_remedy_order_invalid("o1\x7f", why, sizeof(why)), "has a control character (byte 3)");
    CHECK_STR(ks_remedy_order_invalid("o\xC2\x9B", why, sizeof(why)),
              "has a control character (byte 2)"); /* U+009B, a C1 control */
    char longest[KS_REMEDY_ORDER_MAX + 2];
    memset(longest, 'o', sizeof(longest));
    longest[KS_REMEDY_ORDER_MAX] = 0;
    CHECK(ks_remedy_order_invalid(longest, why, sizeof(why)) == NULL);
    longest[KS_REMEDY_ORDER_MAX] = 'o';
    longest[KS_REMEDY_ORDER_MAX + 1] = 0;
    CHECK_STR(ks_remedy_order_invalid(longest, why, sizeof(why)),
              "is at most 256 bytes (this one has 257)");

    setup();
    struct ks_err err = {0};
    int64_t id = 0;
    CHECK_INT(grant("o\377", "discount_code", -1, "carol", &id, &err), KS_EUSAGE);
    CHECK_STR(err.msg, "order: is not valid UTF-8 (byte 2)");
    CHECK_INT(grant("o\001\002", "discount_code", -1, "carol", &id, &err), KS_EUSAGE);
    CHECK_STR(err.msg, "order: has a control character (byte 2)");
    CHECK_INT(grant(longest, "discount_code", -1, "carol", &id, &err), KS_EUSAGE);
    CHECK_STR(err.msg, "order: is at most 256 bytes (this one has 257)");
    CHECK_INT(count(), 0);
    teardown();
}

static void a_grant_reapplied_from_the_journal_writes_the_same_row(void)
{
    setup();
    struct ks_err err = {0};
    int64_t id = 0, again = 0;
    CHECK_INT(grant("o1", "refund", 80, "carol", &id, &err), KS_OK); /* pending, complex */
    struct ks_buf before = {0}, after = {0};
    json_of(id, &before);
    struct ks_remedy_req rq = {1, "o1", "refund", 1, 80, "carol", NULL, 0};
    CHECK_INT(ks_remedy_grant(s, e, &cfg, &rq, KS_TIME_NONE, id, &again, NULL, &err), KS_OK);
    CHECK_INT(again, id);
    CHECK_INT(count(), 1);
    json_of(id, &after);
    CHECK_STR(after.p, before.p); /* not "has 1 remedy already": itself does not count */
    ks_buf_fini(&before);
    ks_buf_fini(&after);
    teardown();
}

static void the_notices_describe_what_was_granted_or_offered(void)
{
    setup();
    struct ks_err err = {0};
    struct ks_buf b = {0};
    CHECK_INT(ks_remedy_describe(s, &cfg, 1, NULL, "o1", &b, &err), KS_OK);
    CHECK_STR(b.p, "You may choose: cancelling your order, with a full refund; faster shipping, at "
                   "our cost. We may also add: a discount code for a later order; store credit for "
                   "a later order; a refund of part of what you paid.");
    int64_t id;
    CHECK_INT(grant("o1", "expedited_shipping", -1, "alice", &id, &err), KS_OK);
    CHECK_INT(grant("o1", "refund", 500, "carol", &id, &err), KS_OK);
    ks_buf_reset(&b);
    CHECK_INT(ks_remedy_describe(s, &cfg, 1, NULL, "o1", &b, &err), KS_OK);
    CHECK_STR(b.p, "Granted: faster shipping, at our cost, decided by alice, who is accountable for "
                   "it. Waiting for approval: a refund of part of what you paid (500.00 USD); we "
                   "will tell you as soon as it is decided.");
    ks_buf_reset(&b);
    CHECK_INT(ks_remedy_describe(s, &cfg, 9, NULL, "o1", &b, &err), KS_ENOTFOUND);
    ks_buf_fini(&b);
    teardown();
}

static void the_promise_of_the_example_policy(void)
{
    struct ks_buf b = {0};
    ks_remedy_promise(&cfg, KS_PROMISE_TEXT, &b);
    CHECK_STR(b.p,
    "Our recovery promise\n"
    "====================\n"
    "\n"
    "When we make a mistake that affects your order, we tell you ourselves: what happened, what we are doing about it, and when you will hear from us next. We do not wait for you to find out.\n"
    "\n"
    "What you can choose\n"
    "-------------------\n"
    "\n"
    "If your order is affected, you choose how we put it right:\n"
    "\n"
    "  - cancelling your order, with a full refund\n"
    "  - a replacement, or a substitute of equal value\n"
    "  - a refund of part of what you paid\n"
    "\n"
    "We may also add, without you asking:\n"
    "\n"
    "  - store credit for a later order\n"
    "  - faster shipping, at our cost\n"
    "  - a discount code for a later order\n"
    "\n"
    "Who decides\n"
    "-----------\n"
    "\n"
    "A person on our team decides every remedy and is accountable for it. Our systems may propose one; they never decide on their own.\n"
    "\n"
    "Who may grant what at once:\n"
    "\n"
    "  - an agent: a refund of part of what you paid (up to 50.00 USD); a discount code for a later order\n"
    "  - a lead: a refund of part of what you paid (up to 200.00 USD); store credit for a later order (up to 200.00 USD); a replacement, or a substitute of equal value; faster shipping, at our cost; a discount code for a later order; cancelling your order, with a full refund\n"
    "  - a manager: any remedy, of any amount\n"
    "\n"
    "Anything more is approved by a colleague whose authority covers it, and we tell you when it is.\n"
    "\n"
    "Complex cases\n"
    "-------------\n"
    "\n"
    "If your case is complex - the person helping you escalates it, it goes beyond what they may grant, or your order needs a second remedy - a specialist (a manager) reviews it within 24 hours.\n"
    "\n"
    "Your data\n"
    "---------\n"
    "\n"
    "We use your order details and your contact address only to put this right and to keep you informed about it. We keep a record of what we offered, what you chose and who decided it, so that every decision can be checked. We do not use it for marketing.\n");
    ks_buf_reset(&b);
    ks_remedy_promise(&cfg, KS_PROMISE_MARKDOWN, &b);
    CHECK(strncmp(b.p, "# Our recovery promise\n\nWhen we make", 36) == 0);
    CHECK(strstr(b.p, "\n## Complex cases\n\nIf your case is complex") != NULL);
    CHECK(strstr(b.p, "\n- a manager: any remedy, of any amount\n") != NULL);
    ks_buf_reset(&b);
    ks_remedy_promise(&cfg, KS_PROMISE_HTML, &b);
    CHECK(strstr(b.p, "<ul>\n<li>cancelling your order, with a full refund</li>\n") != NULL);
    CHECK(strstr(b.p, "</ul>\n<p>We may also add, without you asking:</p>\n<ul>\n") != NULL);
    ks_buf_fini(&b);
    /* without roles nothing can be granted: the promise says so */
    struct ks_config none;
    ks_config_defaults(&none);
    ks_remedy_promise(&none, KS_PROMISE_TEXT, &b);
    CHECK(strstr(b.p, "We will talk with you about how to put it right.") != NULL);
    CHECK(strstr(b.p, "a specialist (a senior colleague) reviews it within 24 hours") != NULL);
    ks_buf_fini(&b);
}

/* The order o1 is of value 1000 (setup). A refund, a replacement or a
 * cancellation with an amount above it is refused, whoever grants it, with
 * nothing written; refunds add up; store credit, a discount code and
 * expedited shipping are not the order's value. Of an order kintsugi knows
 * no value of, the amount is not checked, and the timeline and the answer
 * say so; an approval checks again, with the value known by then. */
static void an_amount_above_the_orders_value_is_refused(void)
{
    setup();
    struct ks_err err = {0};
    int64_t id = 0;
    CHECK_INT(grant("o1", "refund", 1000.01, "bob", &id, &err), KS_ESTATE);
    CHECK_STR(err.msg, "refund of 1000.01 USD for order o1 is more than the order's value, "
                       "1000.00 USD (as its order events gave it): nothing is granted");
    CHECK_INT(grant("o1", "replacement", 1200, "bob", &id, &err), KS_ESTATE);
    CHECK_INT(grant("o1", "cancel_with_refund", 1500, "bob", &id, &err), KS_ESTATE);
    CHECK_INT(count(), 0);
    CHECK_INT(grant("o1", "store_credit", 1500, "bob", &id, &err), KS_OK);
    CHECK_INT(grant("o1", "expedited_shipping", 1500, "bob", &id, &err), KS_OK);
    CHECK_INT(grant("o1", "replacement", 1000, "bob", &id, &err), KS_OK); /* at the value */
    /* refunds add up: 600 granted, 300 waiting for approval, 100.01 more is too much */
    CHECK_INT(grant("o1", "refund", 600, "bob", &id, &err), KS_OK);
    int64_t pending = 0;
    CHECK_INT(grant("o1", "refund", 300, "carol", &pending, &err), KS_OK);
    CHECK_INT(grant("o1", "refund", 100.01, "bob", &id, &err), KS_ESTATE);
    CHECK_STR(err.msg, "refund of 100.01 USD for order o1 would bring what is given back for it "
                       "to 1000.01 USD, more than the order's value, 1000.00 USD (as its order "
                       "events gave it; 2 other refunds of 900.00 USD granted or waiting for "
                       "approval): nothing is granted");
    CHECK_INT(count(), 5);
    CHECK_INT(grant("o1", "refund", 100, "bob", &id, &err), KS_OK); /* to the cent */
    /* the pending one is approved: counted already, it is within the value */
    struct ks_buf out = {0};
    CHECK_INT(ks_remedy_approve(s, e, &cfg, pending, "bob", KS_TIME_NONE, 0, &out, &err), KS_OK);
    CHECK(strstr(out.p, ",\"order_value\":1000.00}") != NULL);
    ks_buf_reset(&out);
    /* an order kintsugi knows no value of: not checked, and said */
    struct ks_remedy_req rq = {1, "o2", "refund", 1, 120, "carol", NULL, 0};
    CHECK_INT(ks_remedy_grant(s, e, &cfg, &rq, KS_TIME_NONE, 0, &id, &out, &err), KS_OK);
    CHECK(strstr(out.p, "\"status\":\"pending\"") != NULL);
    CHECK(strstr(out.p, ",\"order_value\":null}") != NULL);
    CHECK_INT(on_timeline("note", "carol",
                          "Remedy 7 proposed: refund of 120.00 USD for order o2, by carol (agent, "
                          "up to 50.00 USD); waits for approval by someone whose limit covers it; "
                          "complex (above the limit of carol): specialist review due "
                          "2026-11-23T10:20:00.000Z; the order's value is not known to kintsugi: "
                          "the amount could not be checked against it"),
              1);
    /* its value comes later: the approval is checked against it */
    static const char *late =
        "{\"type\":\"order\",\"ts\":\"2026-11-22T10:30:00Z\",\"order_id\":\"o2\",\"channel\":"
        "\"amazon\",\"status\":\"accepted\",\"customer\":\"c2\",\"value\":28.99}";
    CHECK_INT(ks_engine_event(e, ks_engine_input(e, "late"), 1, late, strlen(late), &err),
              KS_LINE_ACCEPTED);
    CHECK_INT(ks_remedy_approve(s, e, &cfg, id, "bob", KS_TIME_NONE, 0, NULL, &err), KS_ESTATE);
    CHECK_STR(err.msg, "remedy 7 cannot be approved: refund of 120.00 USD for order o2 is more "
                       "than the order's value, 28.99 USD (as its order events gave it)");
    struct ks_buf b = {0};
    json_of(id, &b);
    CHECK(strstr(b.p, "\"status\":\"pending\"") != NULL);
    ks_buf_fini(&b);
    /* re-applied from the journal, an approval is not checked again */
    CHECK_INT(ks_remedy_approve(s, e, &cfg, id, "bob", KS_TIME_NONE, 1, NULL, &err), KS_OK);
    ks_buf_fini(&out);
    teardown();
}

int main(void)
{
    struct ks_err err = {0};
    if (ks_config_load(&cfg, "examples/kintsugi.yaml", &err) != KS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    RUN(rights_come_from_the_roles);
    RUN_BOTH(a_grant_within_the_limit_is_granted_at_once);
    RUN_BOTH(above_the_limit_waits_until_someone_whose_limit_covers_it_approves);
    RUN_BOTH(a_role_without_the_right_is_refused_and_nothing_is_written);
    RUN_BOTH(a_complex_case_gets_a_specialist_review_and_an_sla_entry_when_missed);
    RUN_BOTH(the_reviewer_does_not_decide);
    RUN_BOTH(a_cancellation_with_a_full_refund_ends_what_waited_for_approval);
    RUN_BOTH(a_pending_remedy_is_declined_or_withdrawn_and_never_given);
    RUN_BOTH(amounts_are_money_with_at_most_two_decimals);
    RUN_BOTH(an_amount_above_the_orders_value_is_refused);
    RUN_BOTH(an_order_id_is_checked_on_its_own);
    RUN_BOTH(a_grant_reapplied_from_the_journal_writes_the_same_row);
    RUN_BOTH(the_notices_describe_what_was_granted_or_offered);
    RUN(the_promise_of_the_example_policy);
    ks_config_fini(&cfg);
    return t_done();
}
