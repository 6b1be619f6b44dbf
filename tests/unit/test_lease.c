/*
 * test_lease.c - delivery leases (migration 10) on both backends: a claim
 * gives each due row of an outbox to one deliverer until its lease ends or
 * its attempt is recorded; another deliverer's claim skips it; the writer
 * that takes over voids the leases of others. On PostgreSQL, a claim does
 * not wait for the rows another claim has locked (FOR UPDATE SKIP LOCKED).
 */
#include "../../src/store/store.h"
#include "tdb.h"

#include <pthread.h>
#include <unistd.h>

/* What a claim or a listing gave: "key@owner/until " per row, in the order
 * given (claims: sorted by the caller, keys here sort as ids do). */
static int note_hook(void *ctx, const struct ks_hook_row *r)
{
    char at[32];
    ks_time_fmt(r->lease_until, at);
    ks_buf_printf(ctx, "%s@%s/%s ", r->key, r->lease_owner ? r->lease_owner : "-", at);
    return 0;
}

static int note_message(void *ctx, const struct ks_message_row *r)
{
    ks_buf_printf(ctx, "m%lld@%s ", (long long)r->id, r->lease_owner ? r->lease_owner : "-");
    return 0;
}

/* The hook keys a claim gave, sorted (RETURNING gives no set order). */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sorted(struct ks_buf *b)
{
    char *words[16];
    int n = 0;
    for (char *p = strtok(b->p, " "); p && n < 16; p = strtok(NULL, " ")) {
        words[n++] = ks_strdup(p);
    }
    qsort(words, (size_t)n, sizeof(*words), cmp_str);
    ks_buf_reset(b);
    ks_buf_puts(b, "");
    for (int i = 0; i < n; i++) {
        ks_buf_printf(b, "%s ", words[i]);
        ks_free(words[i]);
    }
}

/* What owner claims at now (messages: of receiver, NULL: any), sorted. */
static void claim_of(struct ks_store *s, int messages, const char *receiver, const char *owner,
                     const char *now, int64_t limit, struct ks_buf *out)
{
    struct ks_err err = {0};
    ks_buf_reset(out);
    ks_buf_puts(out, "");
    ks_time t = tdb_time(now);
    enum ks_rc rc = s->ops->claim_due(s, messages, receiver, owner, t, t + 5 * KS_MIN, limit,
                                      note_hook, note_message, out, &err);
    if (rc != KS_OK) {
        fprintf(stderr, "claim: %s\n", err.msg);
    }
    CHECK_INT(rc, KS_OK);
    sorted(out);
}

static void claim(struct ks_store *s, const char *owner, const char *now, int64_t limit,
                  struct ks_buf *out)
{
    claim_of(s, 0, NULL, owner, now, limit, out);
}

/* What a claim by owner at now would take: "DUE next" (next "-": none). */
static void due(struct ks_store *s, const char *owner, const char *now, struct ks_buf *out)
{
    struct ks_err err = {0};
    int64_t n = -1;
    ks_time next = 0;
    CHECK_INT(s->ops->due_summary(s, 0, NULL, owner, tdb_time(now), &n, &next, &err), KS_OK);
    char at[32];
    ks_time_fmt(next, at);
    ks_buf_reset(out);
    ks_buf_printf(out, "%lld %s", (long long)n, at);
}

static void add_hook(struct ks_store *s, const char *key, const char *status, ks_time next_at)
{
    struct ks_err err = {0};
    struct ks_hook_row h = {.key = key,
                            .incident = 1,
                            .action = "pause_channel",
                            .body = "{}",
                            .status = status,
                            .next_at = next_at};
    CHECK_INT(s->ops->add_hook(s, &h, &err), KS_OK);
}

/* Message "msg-I" of incident 7; its id. */
static int64_t add_message(struct ks_store *s, int i, const char *audience, const char *receiver,
                           const char *status)
{
    char key[16];
    snprintf(key, sizeof(key), "msg-%d", i);
    struct ks_message_row m = {.key = key,
                               .incident = 7,
                               .kind = "incident",
                               .audience = audience,
                               .recipient = "x",
                               .receiver = receiver,
                               .subject = "s",
                               .body = "b",
                               .status = status,
                               .created_at = KS_TIME_NONE,
                               .sent_at = KS_TIME_NONE,
                               .next_at = KS_TIME_NONE};
    struct ks_err err = {0};
    int added = 0;
    CHECK_INT(s->ops->add_message(s, &m, &added, &err), KS_OK);
    CHECK_INT(added, 1);
    return m.id;
}

static void hooks_are_claimed_by_one_deliverer_until_recorded_or_expired(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *a = tdb_open(tdb_uri), *b = tdb_open(tdb_uri);
    struct ks_err err = {0};
    struct ks_buf got = {0};
    add_hook(a, "k1", "pending", KS_TIME_NONE);
    add_hook(a, "k2", "pending", tdb_time("2026-12-06T11:00:00.000Z")); /* a retry to come */
    add_hook(a, "k3", "pending", tdb_time("2026-12-06T10:00:00.000Z")); /* due at 10:00 */
    add_hook(a, "k4", "done", KS_TIME_NONE);

    /* what is due at 10:00 (k1, k3), read without a claim; k2 at 11:00 */
    due(b, "b", "2026-12-06T10:00:00.000Z", &got);
    CHECK_STR(got.p, "2 2026-12-06T11:00:00.000Z");
    /* a takes what is due at 10:00, oldest first within the limit */
    claim(a, "a", "2026-12-06T10:00:00.000Z", 1, &got);
    CHECK_STR(got.p, "k1@a/2026-12-06T10:05:00.000Z ");
    claim(a, "a", "2026-12-06T10:00:00.000Z", 8, &got);
    CHECK_STR(got.p, "k1@a/2026-12-06T10:05:00.000Z k3@a/2026-12-06T10:05:00.000Z ");
    /* b finds nothing while a's leases run: the first ends at 10:05; a's own
     * rows stay due to a */
    due(b, "b", "2026-12-06T10:00:00.000Z", &got);
    CHECK_STR(got.p, "0 2026-12-06T10:05:00.000Z");
    due(a, "a", "2026-12-06T10:00:00.000Z", &got);
    CHECK_STR(got.p, "2 2026-12-06T11:00:00.000Z");
    /* b finds nothing while a's leases run */
    claim(b, "b", "2026-12-06T10:04:59.999Z", 8, &got);
    CHECK_STR(got.p, "");
    /* a records k1's attempt: the lease ends with it */
    CHECK_INT(a->ops->update_hook(a, "k1", "pending", 1, KS_TIME_NONE, "HTTP 503", &err), KS_OK);
    claim(b, "b", "2026-12-06T10:01:00.000Z", 8, &got);
    CHECK_STR(got.p, "k1@b/2026-12-06T10:06:00.000Z ");
    /* a's lease on k3 ran out at 10:05 (a died mid-attempt): b takes it
     * then, and k2 once its retry has come */
    claim(b, "b", "2026-12-06T10:05:00.000Z", 8, &got);
    CHECK_STR(got.p, "k1@b/2026-12-06T10:10:00.000Z k3@b/2026-12-06T10:10:00.000Z ");
    /* while b's leases run and k2's retry has not come, a gets nothing */
    claim(a, "a", "2026-12-06T10:09:59.999Z", 8, &got);
    CHECK_STR(got.p, "");
    /* a row that is done is never claimed; the listing shows the leases */
    ks_buf_reset(&got);
    CHECK_INT(a->ops->list_hooks(a, NULL, note_hook, &got, &err), KS_OK);
    CHECK_STR(got.p, "k1@b/2026-12-06T10:10:00.000Z k2@-/- k3@b/2026-12-06T10:10:00.000Z "
                     "k4@-/- ");
    /* one call by its key, with its lease; no call, nothing */
    ks_buf_reset(&got);
    CHECK_INT(b->ops->get_hook(b, "k3", note_hook, &got, &err), KS_OK);
    CHECK_INT(b->ops->get_hook(b, "k9", note_hook, &got, &err), KS_OK);
    CHECK_STR(got.p, "k3@b/2026-12-06T10:10:00.000Z ");

    /* a takes the writer lock, so it is the only deliverer: b's leases end */
    CHECK_INT(a->ops->void_leases(a, "a", &err), KS_OK);
    ks_buf_reset(&got);
    CHECK_INT(b->ops->list_hooks(b, "pending", note_hook, &got, &err), KS_OK);
    CHECK_STR(got.p, "k1@-/- k2@-/- k3@-/- ");
    claim(a, "a", "2026-12-06T11:00:00.000Z", 8, &got);
    CHECK_STR(got.p, "k1@a/2026-12-06T11:05:00.000Z k2@a/2026-12-06T11:05:00.000Z "
                     "k3@a/2026-12-06T11:05:00.000Z ");
    /* its own leases are voided by nobody but their end */
    CHECK_INT(a->ops->void_leases(a, "a", &err), KS_OK);
    claim(b, "b", "2026-12-06T11:04:59.999Z", 8, &got);
    CHECK_STR(got.p, "");

    ks_buf_fini(&got);
    ks_store_close(b);
    ks_store_close(a);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void messages_are_claimed_and_their_recorded_attempt_ends_the_lease(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *a = tdb_open(tdb_uri), *b = tdb_open(tdb_uri);
    struct ks_err err = {0};
    struct ks_buf got = {0};
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        ids[i] = add_message(a, i, "team", "slack", i == 2 ? "sent" : "queued");
    }
    const char *now = "2026-12-06T10:00:00.000Z";
    char want[64];
    claim_of(a, 1, NULL, "a", now, 8, &got);
    snprintf(want, sizeof(want), "m%lld@a m%lld@a ", (long long)ids[0], (long long)ids[1]);
    CHECK_STR(got.p, want);
    claim_of(b, 1, NULL, "b", now, 8, &got);
    CHECK_STR(got.p, "");
    CHECK_INT(
        a->ops->update_message(a, ids[0], "queued", 1, KS_TIME_NONE, KS_TIME_NONE, "busy", &err),
        KS_OK);
    claim_of(b, 1, NULL, "b", now, 8, &got);
    snprintf(want, sizeof(want), "m%lld@b ", (long long)ids[0]);
    CHECK_STR(got.p, want);
    ks_buf_fini(&got);
    ks_store_close(b);
    ks_store_close(a);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

/* One receiver's messages at a time (a deliverer per receiver), the shop's
 * people before customers; a process voids the leases of other processes
 * only, whatever its deliverers are called. */
static void messages_are_claimed_by_receiver_people_first(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    struct ks_err err = {0};
    struct ks_buf got = {0};
    const char *rows[][2] = {{"customer", "slow"},
                             {"customer", "slow"},
                             {"team", "slow"},
                             {"leadership", "fast"},
                             {"customer", "fast"}};
    for (int i = 0; i < 5; i++) {
        CHECK_INT(add_message(s, i, rows[i][0], rows[i][1], "queued"), i + 1);
    }
    const char *now = "2026-12-06T10:00:00.000Z";
    /* the team's message (3) first, then the oldest customer's (1) */
    claim_of(s, 1, "slow", "p1:slow", now, 2, &got);
    CHECK_STR(got.p, "m1@p1:slow m3@p1:slow ");
    claim_of(s, 1, "fast", "p2:fast", now, 1, &got);
    CHECK_STR(got.p, "m4@p2:fast ");
    /* p1 takes the writer lock: p2's lease ends, p1's deliverers keep theirs */
    CHECK_INT(s->ops->void_leases(s, "p1", &err), KS_OK);
    ks_buf_reset(&got);
    CHECK_INT(s->ops->list_messages(s, NULL, note_message, &got, &err), KS_OK);
    CHECK_STR(got.p, "m1@p1:slow m2@- m3@p1:slow m4@- m5@- ");
    ks_buf_fini(&got);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

/* "mID@OWNER NEXT DETAIL" per message, NEXT as a time or "-". */
static int note_held(void *ctx, const struct ks_message_row *r)
{
    char at[32] = "-";
    if (r->next_at != KS_TIME_NONE) {
        ks_time_fmt(r->next_at, at);
    }
    ks_buf_printf(ctx, "m%lld@%s %s %s %s|", (long long)r->id,
                  r->lease_owner ? r->lease_owner : "-", r->status, at,
                  r->detail ? r->detail : "");
    return 0;
}

/* A receiver found unavailable: its waiting messages due before the end of
 * the hold wait until then (the holder's own claims released), those of
 * another deliverer's running lease, those due later, those done and
 * another receiver's are left alone. */
static void an_unavailable_receiver_holds_its_waiting_messages(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    struct ks_err err = {0};
    struct ks_buf got = {0};
    const char *now = "2026-12-06T10:00:00.000Z";
    for (int i = 0; i < 7; i++) {
        CHECK_INT(add_message(s, i, "team", i == 6 ? "chat" : "mail", i == 4 ? "failed" : "queued"),
                  i + 1);
    }
    CHECK_INT(s->ops->update_message(s, 4, "queued", 1, tdb_time("2026-12-06T12:00:00.000Z"),
                                     KS_TIME_NONE, "attempt 1: later", &err),
              KS_OK);
    CHECK_INT(s->ops->update_message(s, 6, "queued", 1, tdb_time("2026-12-06T10:30:00.000Z"),
                                     KS_TIME_NONE, "attempt 1: sooner", &err),
              KS_OK);
    claim_of(s, 1, "mail", "b", now, 1, &got);
    CHECK_STR(got.p, "m1@b ");
    claim_of(s, 1, "mail", "a", now, 1, &got);
    CHECK_STR(got.p, "m2@a ");
    int64_t held = -1;
    CHECK_INT(s->ops->hold_messages(s, "mail", "a", tdb_time(now),
                                    tdb_time("2026-12-06T11:00:00.000Z"), "held", &held, &err),
              KS_OK);
    CHECK_INT(held, 3); /* m2 (a's own claim), m3 (due), m6 (due before 11:00) */
    ks_buf_reset(&got);
    CHECK_INT(s->ops->list_messages(s, NULL, note_held, &got, &err), KS_OK);
    CHECK_STR(got.p, "m1@b queued - |"
                     "m2@- queued 2026-12-06T11:00:00.000Z held|"
                     "m3@- queued 2026-12-06T11:00:00.000Z held|"
                     "m4@- queued 2026-12-06T12:00:00.000Z attempt 1: later|"
                     "m5@- failed - |"
                     "m6@- queued 2026-12-06T11:00:00.000Z held|"
                     "m7@- queued - |");
    /* at 10:04, b still holds m1 and the rest of mail waits for 11:00 */
    claim_of(s, 1, "mail", "a", "2026-12-06T10:04:00.000Z", 8, &got);
    CHECK_STR(got.p, "");
    ks_buf_fini(&got);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

/* b's claim, on a thread of its own: it must not wait for a's open one. */
struct other {
    struct ks_store *s;
    struct ks_buf got;
    enum ks_rc rc;
    int done;
};

static void *claim_as_b(void *arg)
{
    struct other *o = arg;
    struct ks_err err = {0};
    ks_time now = tdb_time("2026-12-06T10:00:00.000Z");
    ks_buf_puts(&o->got, "");
    o->rc = o->s->ops->claim_due(o->s, 0, NULL, "b", now, now + KS_MIN, 8, note_hook, NULL, &o->got,
                                 &err);
    __atomic_store_n(&o->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void a_claim_skips_the_rows_another_open_claim_has_locked(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *a = tdb_open(tdb_uri);
    struct other o = {tdb_open(tdb_uri), {0}, KS_EIO, 0};
    struct ks_err err = {0};
    struct ks_buf got = {0};
    add_hook(a, "k1", "pending", KS_TIME_NONE);
    add_hook(a, "k2", "pending", KS_TIME_NONE);

    /* a claims k1 in a transaction it keeps open: the row stays locked */
    CHECK_INT(ks_store_begin(a, &err), KS_OK);
    claim(a, "a", "2026-12-06T10:00:00.000Z", 1, &got);
    CHECK_STR(got.p, "k1@a/2026-12-06T10:05:00.000Z ");
    pthread_t th;
    CHECK_INT(pthread_create(&th, NULL, claim_as_b, &o), 0);
    int waited = 0;
    while (!__atomic_load_n(&o.done, __ATOMIC_ACQUIRE) && waited < 5000) {
        usleep(10 * 1000);
        waited += 10;
    }
    /* b got k2 at once instead of waiting for a's lock on k1 */
    CHECK(__atomic_load_n(&o.done, __ATOMIC_ACQUIRE) == 1);
    CHECK_INT(ks_store_commit(a, &err), KS_OK); /* (frees b were it waiting) */
    pthread_join(th, NULL);
    CHECK_INT(o.rc, KS_OK);
    CHECK_STR(o.got.p, "k2@b/2026-12-06T10:01:00.000Z ");
    ks_buf_reset(&got);
    CHECK_INT(a->ops->list_hooks(a, NULL, note_hook, &got, &err), KS_OK);
    CHECK_STR(got.p, "k1@a/2026-12-06T10:05:00.000Z k2@b/2026-12-06T10:01:00.000Z ");
    ks_buf_fini(&got);
    ks_buf_fini(&o.got);
    ks_store_close(o.s);
    ks_store_close(a);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

int main(void)
{
    RUN_BOTH(hooks_are_claimed_by_one_deliverer_until_recorded_or_expired);
    RUN_BOTH(messages_are_claimed_and_their_recorded_attempt_ends_the_lease);
    RUN_BOTH(messages_are_claimed_by_receiver_people_first);
    RUN_BOTH(an_unavailable_receiver_holds_its_waiting_messages);
    RUN_PG(a_claim_skips_the_rows_another_open_claim_has_locked);
    return t_done();
}
