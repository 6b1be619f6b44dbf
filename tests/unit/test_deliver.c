/*
 * test_deliver.c - from an incident to a hook call on a real HTTP server and
 * back into the timeline: the outbox, retries with backoff, an endpoint that
 * fails before it succeeds, one that never does, and an unconfigured action.
 */
#include "../../src/shell/shell.h"
#include "../../src/contain/hook.h"
#include "httpd.h"
#include "t.h"

static char dir[64];

/* Feeds a single-location wms outage (paris down at 10:05, lyon up) through
 * the app with a config whose stop_order_import hook points at port. */
static int outage(struct ks_shell *a, const char *name, int port, int retries)
{
    static char cfg[128], db[128]; /* the shell keeps the names */
    snprintf(cfg, sizeof(cfg), "%s/%s.yaml", dir, name);
    snprintf(db, sizeof(db), "%s/%s.db", dir, name);
    FILE *f = fopen(cfg, "w");
    if (port) { /* 0: no hook configured */
        fprintf(f,
                "hooks:\n  stop_order_import: {url: \"http://127.0.0.1:%d/stop\", retries: %d, "
                "backoff: 50ms, timeout: 2s}\n",
                port, retries);
    }
    fclose(f);
    if (ks_shell_open(a, cfg, db, KS_SHELL_ENGINE | KS_SHELL_CREATE) != 0) {
        return -1;
    }
    uint32_t in = ks_engine_input(a->eng, "outage.ndjson");
    struct ks_err err;
    char line[256];
    for (int m = 0; m <= 7; m++) {
        for (int k = 0; k < 2; k++) {
            if (k == 0 && m > 0) {
                continue; /* paris: up at 10:00 only */
            }
            snprintf(line, sizeof(line),
                     "{\"type\":\"health\",\"ts\":\"2026-11-22T10:%02d:00Z\",\"system\":\"wms\","
                     "\"location\":\"%s\",\"status\":\"up\"}",
                     m, k ? "lyon" : "paris");
            ks_engine_event(a->eng, in, m * 2 + k + 1, line, strlen(line), &err);
        }
    }
    return ks_shell_flush(a, 1);
}

struct seen {
    const char *action[8], *status[8];
    int64_t attempts[8];
    int n;
    char keep[8][2][64];
};

static int seen_row(void *ctx, const struct ks_hook_row *r)
{
    struct seen *s = ctx;
    if (s->n < 8) {
        snprintf(s->keep[s->n][0], 64, "%s", r->action);
        snprintf(s->keep[s->n][1], 64, "%s", r->status);
        s->action[s->n] = s->keep[s->n][0];
        s->status[s->n] = s->keep[s->n][1];
        s->attempts[s->n] = r->attempts;
        s->n++;
    }
    return 0;
}

static void webhook_that_fails_twice_is_retried_until_it_succeeds(void)
{
    static const struct reply script[] = {{500, "Internal Server Error", NULL, 0},
                                          {500, "Internal Server Error", NULL, 0},
                                          {200, "OK", NULL, 0}};
    struct server srv;
    CHECK(server_start(&srv, script, 3) == 0);
    struct ks_shell a;
    CHECK(outage(&a, "retry", srv.port, 5) == 0);
    struct ks_delivery d;
    CHECK_INT(ks_shell_deliver(&a, 5 * KS_SEC, &d), 0);
    CHECK_INT(d.done, 1);
    CHECK_INT(d.unconfigured, 1); /* reduce_channel_inventory has no hook */
    CHECK_INT(d.failed, 0);
    CHECK_INT(server_count(&srv), 3);
    char k0[128] = "", k2[128] = "";
    header(&srv.req[0], "Idempotency-Key", k0, sizeof(k0));
    header(&srv.req[2], "Idempotency-Key", k2, sizeof(k2));
    CHECK(k0[0] != 0);
    CHECK_STR(k0, k2);
    CHECK(strncmp(srv.req[0].line, "POST /stop ", 11) == 0);
    CHECK(strstr(srv.req[0].body, "\"action\":\"stop_order_import\",\"incident\":1") != NULL);
    struct ks_buf b = {0};
    ks_engine_incident_json(a.eng, 1, 1, &b);
    CHECK(strstr(b.p, "Hook stop_order_import attempt 1 failed (HTTP 500") != NULL);
    CHECK(strstr(b.p, "Hook stop_order_import attempt 2 failed (HTTP 500") != NULL);
    CHECK(strstr(b.p, "Hook stop_order_import attempt 3: ok (HTTP 200") != NULL);
    CHECK(strstr(b.p, "Hook reduce_channel_inventory is not configured (no hook is configured "
                      "for reduce_channel_inventory") != NULL);
    struct seen s = {0};
    struct ks_err err;
    a.store->ops->list_hooks(a.store, NULL, seen_row, &s, &err);
    CHECK_INT(s.n, 2);
    CHECK_STR(s.action[0], "stop_order_import");
    CHECK_STR(s.status[0], "done");
    CHECK_INT(s.attempts[0], 3);
    CHECK_STR(s.status[1], "unconfigured");
    ks_buf_fini(&b);
    ks_shell_close(&a);
    server_stop(&srv);
}

static void webhook_that_never_succeeds_gives_up_and_says_so(void)
{
    static const struct reply script[] = {{503, "Service Unavailable", NULL, 0}};
    struct server srv;
    CHECK(server_start(&srv, script, 1) == 0);
    struct ks_shell a;
    CHECK(outage(&a, "fail", srv.port, 1) == 0);
    struct ks_delivery d;
    CHECK_INT(ks_shell_deliver(&a, 5 * KS_SEC, &d), 0);
    CHECK_INT(d.failed, 1);
    CHECK_INT(server_count(&srv), 2);
    struct ks_buf b = {0};
    ks_engine_incident_json(a.eng, 1, 1, &b);
    CHECK(strstr(b.p, "Hook stop_order_import gave up after 2 attempts (HTTP 503") != NULL);
    ks_buf_fini(&b);
    ks_shell_close(&a);
    server_stop(&srv);
}

static void delivery_results_survive_a_reopen(void)
{
    struct ks_shell a;
    char cfg[128], db[128];
    snprintf(cfg, sizeof(cfg), "%s/retry.yaml", dir);
    snprintf(db, sizeof(db), "%s/retry.db", dir);
    CHECK_INT(ks_shell_open(&a, cfg, db, KS_SHELL_ENGINE), 0);
    /* Loaded as saved: nothing to write back (restart to ready saves nothing). */
    CHECK(ks_shell_unchanged(&a));
    struct ks_buf b = {0};
    ks_engine_incident_json(a.eng, 1, 1, &b);
    CHECK(b.p && strstr(b.p, "attempt 3: ok (HTTP 200") != NULL);
    struct ks_delivery d;
    CHECK_INT(ks_shell_deliver(&a, 0, &d), 0); /* nothing is due again */
    CHECK_INT(d.done + d.failed + d.unconfigured, 0);
    CHECK(ks_shell_unchanged(&a));
    /* A new SKU is not in the saved dictionary yet. */
    struct ks_err err;
    const char *line = "{\"type\":\"inventory\",\"ts\":\"2026-11-22T10:09:00Z\","
                       "\"channel\":\"amazon\",\"sku\":\"NEW-1\",\"qty\":3}";
    ks_engine_event(a.eng, ks_engine_input(a.eng, "more.ndjson"), 1, line, strlen(line), &err);
    CHECK(!ks_shell_unchanged(&a));
    ks_buf_fini(&b);
    ks_shell_close(&a);
}

static enum ks_rc disk_full(struct ks_store *s, struct ks_err *err)
{
    (void)s;
    return ks_err_set(err, KS_EIO, "disk full (injected)");
}

/* Every save of a's state fails from now on (a full disk at the checkpoint's
 * first write); the real operations, to put back. */
static const struct ks_store_ops *saves_fail(struct ks_shell *a, struct ks_store_ops *failing)
{
    const struct ks_store_ops *real = a->store->ops;
    *failing = *real;
    failing->ck_clear = disk_full;
    a->store->ops = failing;
    return real;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    return n;
}

/* A hook's outcome is saved with the state that holds its timeline entry:
 * when that save fails (or the run is killed before it), the call stays
 * waiting and the next run makes it again, and the timeline says so once. */
static void a_hook_outcome_is_saved_with_its_timeline_entry(void)
{
    struct ks_shell a;
    CHECK(outage(&a, "atomic", 0, 0) == 0);
    struct ks_store_ops failing;
    const struct ks_store_ops *real = saves_fail(&a, &failing);
    struct ks_delivery d;
    CHECK_INT(ks_shell_deliver(&a, 0, &d), KS_SHELL_FAIL);
    CHECK_INT(d.unconfigured, 2); /* both attempted, neither saved */
    a.store->ops = real;
    ks_shell_close(&a);

    char cfg[128], db[128];
    snprintf(cfg, sizeof(cfg), "%s/atomic.yaml", dir);
    snprintf(db, sizeof(db), "%s/atomic.db", dir);
    CHECK_INT(ks_shell_open(&a, cfg, db, KS_SHELL_ENGINE), 0);
    struct seen s = {0};
    struct ks_err err;
    CHECK_INT(a.store->ops->list_hooks(a.store, NULL, seen_row, &s, &err), KS_OK);
    CHECK_INT(s.n, 2);
    CHECK_STR(s.status[0], "pending");
    CHECK_STR(s.status[1], "pending");
    CHECK_INT(ks_shell_deliver(&a, 0, &d), 0);
    CHECK_INT(d.unconfigured, 2);
    ks_shell_close(&a);

    CHECK_INT(ks_shell_open(&a, cfg, db, KS_SHELL_ENGINE), 0);
    struct ks_buf b = {0};
    ks_engine_incident_json(a.eng, 1, 1, &b);
    CHECK_INT(count_of(b.p, "Hook stop_order_import is not configured"), 1);
    CHECK_INT(count_of(b.p, "Hook reduce_channel_inventory is not configured"), 1);
    memset(&s, 0, sizeof(s));
    CHECK_INT(a.store->ops->list_hooks(a.store, NULL, seen_row, &s, &err), KS_OK);
    CHECK_STR(s.status[0], "unconfigured");
    CHECK_STR(s.status[1], "unconfigured");
    ks_buf_fini(&b);
    ks_shell_close(&a);
}

/* A wms outage at one location (paris up at 10:00 only, lyon up each
 * minute to 10:07), fed to a's engine. */
static void paris_down(struct ks_shell *a)
{
    struct ks_err err = {0};
    uint32_t in = ks_engine_input(a->eng, "outage.ndjson");
    char line[256];
    for (int m = 0; m <= 7; m++) {
        snprintf(line, sizeof(line),
                 "{\"type\":\"health\",\"ts\":\"2026-11-22T10:%02d:00Z\",\"system\":\"wms\","
                 "\"location\":\"%s\",\"status\":\"up\"}",
                 m, m ? "lyon" : "paris");
        ks_engine_event(a->eng, in, m + 1, line, strlen(line), &err);
    }
}

static int message_status(void *ctx, const struct ks_message_row *r)
{
    snprintf(ctx, 16, "%s", r->status);
    return 0;
}

/* The same for a message that gave up: its "failed" row is saved with the
 * timeline entry that says so, or neither is. */
static void a_message_that_gave_up_is_saved_with_its_timeline_entry(void)
{
    char cfg[128], db[128];
    snprintf(cfg, sizeof(cfg), "%s/gaveup.yaml", dir);
    snprintf(db, sizeof(db), "%s/gaveup.db", dir);
    FILE *f = fopen(cfg, "w"); /* port 1: refused at once */
    fprintf(f, "receivers:\n  chat: {webhook: \"http://127.0.0.1:1/team\", retries: 0}\n"
               "notify: {team: [chat]}\n");
    fclose(f);
    struct ks_shell a;
    CHECK_INT(ks_shell_open(&a, cfg, db, KS_SHELL_ENGINE | KS_SHELL_CREATE), 0);
    struct ks_err err = {0};
    paris_down(&a);
    CHECK_INT(ks_shell_flush(&a, 1), 0);
    struct ks_store_ops failing;
    const struct ks_store_ops *real = saves_fail(&a, &failing);
    struct ks_msg_delivery md;
    CHECK_INT(ks_shell_messages_deliver(&a, 0, &md), KS_SHELL_FAIL);
    a.store->ops = real;
    ks_shell_close(&a);

    char status[16] = "";
    CHECK_INT(ks_shell_open(&a, cfg, db, KS_SHELL_ENGINE), 0);
    CHECK_INT(a.store->ops->list_messages(a.store, NULL, message_status, status, &err), KS_OK);
    CHECK_STR(status, "queued");
    CHECK_INT(ks_shell_messages_deliver(&a, 0, &md), 0);
    CHECK_INT(md.failed, 1);
    ks_shell_close(&a);

    CHECK_INT(ks_shell_open(&a, cfg, db, KS_SHELL_ENGINE), 0);
    CHECK_INT(a.store->ops->list_messages(a.store, NULL, message_status, status, &err), KS_OK);
    CHECK_STR(status, "failed");
    struct ks_buf b = {0};
    ks_engine_incident_json(a.eng, 1, 1, &b);
    CHECK_INT(count_of(b.p, "via chat) failed after 1 attempts"), 1);
    ks_buf_fini(&b);
    ks_shell_close(&a);
}

static int detail_of(void *ctx, const struct ks_message_row *r)
{
    ks_buf_puts(ctx, r->detail ? r->detail : "");
    return 0;
}

static int count_message(void *ctx, const struct ks_message_row *r)
{
    (void)r;
    ++*(int *)ctx;
    return 0;
}

/* A run killed before its first saved state leaves messages and fired
 * triggers behind it; the next writer undoes them with the rest of the tail,
 * so that running it again queues them again and the timeline says so. */
static void a_killed_first_run_leaves_no_message_behind(void)
{
    char cfg[128], db[128], out[160];
    snprintf(cfg, sizeof(cfg), "%s/tail.yaml", dir);
    snprintf(db, sizeof(db), "%s/tail.db", dir);
    snprintf(out, sizeof(out), "%s/outbox", dir);
    FILE *f = fopen(cfg, "w");
    fprintf(f, "receivers:\n  out: {dir: \"%s\"}\nnotify: {team: [out]}\n", out);
    fclose(f);
    for (int run = 0; run < 2; run++) {
        struct ks_shell a;
        CHECK_INT(ks_shell_open(&a, cfg, db, KS_SHELL_ENGINE | KS_SHELL_CREATE), 0);
        struct ks_err err = {0};
        int64_t mid = -1, tid = -1;
        CHECK_INT(a.store->ops->max_message_ids(a.store, &mid, &tid, &err), KS_OK);
        CHECK_INT(mid, 0); /* the first run's tail is gone, its triggers too */
        CHECK_INT(tid, 0);
        paris_down(&a);
        /* written, but no state saved: the run is killed here the first time */
        CHECK_INT(ks_shell_flush(&a, run), 0);
        int n = 0;
        CHECK_INT(a.store->ops->list_messages(a.store, NULL, count_message, &n, &err), KS_OK);
        CHECK_INT(n, 1);
        if (run == 1) {
            struct ks_buf b = {0};
            ks_engine_incident_json(a.eng, 1, 1, &b);
            CHECK(b.p && strstr(b.p, "Team notified of the incident") != NULL);
            ks_buf_fini(&b);
        }
        ks_shell_close(&a);
    }
}

/* One line per message: "ID STATUS ATTEMPTS NEXT DETAIL", NEXT as "+Nms"
 * from base (or "-"), DETAIL up to its first '('. */
struct mrows {
    struct ks_buf b;
    ks_time base;
    ks_time next[16];
};

static int note_row(void *ctx, const struct ks_message_row *r)
{
    struct mrows *l = ctx;
    char next[32] = "-";
    if (r->next_at != KS_TIME_NONE) {
        snprintf(next, sizeof(next), "%s", r->next_at > l->base ? "later" : "due");
    }
    if (r->id < 16) {
        l->next[r->id] = r->next_at;
    }
    const char *d = r->detail ? r->detail : "";
    if (!strncmp(d, "held until ", 11)) {
        d = "held"; /* and a time */
    }
    const char *paren = strchr(d, '(');
    ks_buf_printf(&l->b, "%lld %s %lld %s %.*s|", (long long)r->id, r->status,
                  (long long)r->attempts, next, (int)(paren ? paren - d : (long)strlen(d)), d);
    return 0;
}

static void messages_of(struct ks_shell *a, const char *receiver, struct mrows *l)
{
    struct ks_err err = {0};
    ks_buf_reset(&l->b);
    ks_buf_puts(&l->b, "");
    l->base = ks_time_now();
    struct ks_message_filter f = {.receiver = receiver};
    CHECK_INT(a->store->ops->list_messages(a->store, &f, note_row, l, &err), KS_OK);
}

/* A receiver that cannot take messages (no answer, 503) costs one attempt
 * a pass, not one per message: its other messages wait with the first,
 * their attempts not counted, until its retry; a 500 (about one message)
 * holds nothing, nor does a message that gave up (retries: 0), and another
 * receiver's messages go on. When the receiver is back, the first retry
 * succeeds and the rest follow in the same pass. */
static void an_unavailable_receiver_holds_its_messages_behind_one_attempt(void)
{
    static const struct reply busy_then_ok[] = {{503, "Service Unavailable", NULL, 0},
                                                {200, "OK", NULL, 0}};
    static const struct reply always_500[] = {{500, "Internal Server Error", NULL, 0}};
    struct server busy, picky;
    CHECK_INT(server_start(&busy, busy_then_ok, 2), 0);
    CHECK_INT(server_start(&picky, always_500, 1), 0);
    char cfg[128], db[128], out[160];
    snprintf(cfg, sizeof(cfg), "%s/held.yaml", dir);
    snprintf(db, sizeof(db), "%s/held.db", dir);
    snprintf(out, sizeof(out), "%s/held-out", dir);
    mkdir(out, 0755);
    FILE *f = fopen(cfg, "w"); /* port 1: refused at once */
    fprintf(f,
            "receivers:\n"
            "  down: {webhook: \"http://127.0.0.1:1/x\", backoff: 300ms}\n"
            "  busy: {webhook: \"http://127.0.0.1:%d/x\", backoff: 300ms}\n"
            "  picky: {webhook: \"http://127.0.0.1:%d/x\", backoff: 300ms}\n"
            "  out: {dir: \"%s\"}\n"
            "  gone: {webhook: \"http://127.0.0.1:1/x\", retries: 0}\n",
            busy.port, picky.port, out);
    fclose(f);
    struct ks_shell a;
    CHECK_INT(ks_shell_open(&a, cfg, db, KS_SHELL_ENGINE | KS_SHELL_CREATE), 0);
    const char *receivers[] = {"down", "busy", "picky", "out", "gone"};
    struct ks_err err = {0};
    for (int i = 0; i < 14; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        struct ks_message_row m = {.key = key, .incident = 1, .kind = "incident",
                                   .audience = "team", .recipient = "ops",
                                   .receiver = receivers[i / 3], .subject = "s", .body = "b",
                                   .status = "queued", .created_at = ks_time_now(),
                                   .sent_at = KS_TIME_NONE, .next_at = KS_TIME_NONE};
        int added = 0;
        CHECK_INT(a.store->ops->add_message(a.store, &m, &added, &err), KS_OK);
        CHECK_INT(m.id, i + 1);
    }
    struct ks_msg_delivery md;
    CHECK_INT(ks_shell_messages_deliver(&a, 0, &md), 0);
    CHECK_INT(md.sent, 3);
    CHECK_INT(md.retrying, 5); /* down's first, busy's first, picky's three */
    CHECK_INT(md.failed, 2); /* gone's, each its one attempt: no retry to wait for */
    CHECK_INT(server_count(&busy), 1);
    CHECK_INT(server_count(&picky), 3);
    struct mrows l = {0};
    messages_of(&a, "down", &l);
    CHECK_STR(l.b.p, "1 queued 1 later attempt 1: connection refused|"
                     "2 queued 0 later held|"
                     "3 queued 0 later held|");
    CHECK(l.next[2] == l.next[1] && l.next[3] == l.next[1]); /* with the first's retry */
    messages_of(&a, "busy", &l);
    CHECK_STR(l.b.p, "4 queued 1 later attempt 1: HTTP 503 Service Unavailable|"
                     "5 queued 0 later held|"
                     "6 queued 0 later held|");
    struct ks_message_filter one = {.id = 5};
    struct ks_buf d = {0};
    CHECK_INT(a.store->ops->list_messages(a.store, &one, detail_of, &d, &err), KS_OK);
    CHECK(d.p &&
          strstr(d.p, ": busy did not take message 4 just now (attempt 1: HTTP 503") != NULL);
    ks_buf_fini(&d);
    messages_of(&a, "gone", &l);
    CHECK_STR(l.b.p, "13 failed 1 - attempt 1: connection refused|"
                     "14 failed 1 - attempt 1: connection refused|");
    messages_of(&a, "picky", &l);
    CHECK_STR(l.b.p, "7 queued 1 later attempt 1: HTTP 500 Internal Server Error|"
                     "8 queued 1 later attempt 1: HTTP 500 Internal Server Error|"
                     "9 queued 1 later attempt 1: HTTP 500 Internal Server Error|");

    /* the retries: down is still down, busy is back */
    struct timespec ts = {0, 400 * 1000000L};
    nanosleep(&ts, NULL);
    CHECK_INT(ks_shell_messages_deliver(&a, 0, &md), 0);
    CHECK_INT(md.sent, 3);
    CHECK_INT(md.retrying, 4);
    CHECK_INT(server_count(&busy), 4);
    CHECK_INT(server_count(&picky), 6);
    messages_of(&a, "down", &l);
    CHECK_STR(l.b.p, "1 queued 2 later attempt 2: connection refused|"
                     "2 queued 0 later held|"
                     "3 queued 0 later held|");
    messages_of(&a, "busy", &l);
    CHECK_STR(l.b.p, "4 sent 2 - attempt 2: HTTP 200 OK|"
                     "5 sent 1 - attempt 1: HTTP 200 OK|"
                     "6 sent 1 - attempt 1: HTTP 200 OK|");
    ks_buf_fini(&l.b);
    ks_shell_close(&a);
    server_stop(&busy);
    server_stop(&picky);
}

/* However many receivers are down at once, each costs one attempt a pass:
 * 16 refused receivers with one message, then 4 with two messages each,
 * each pair claimed in one batch after 16 holds: one pass, 20 attempts. */
static void many_unavailable_receivers_each_hold_behind_one_attempt(void)
{
    char cfg[128], db[128];
    snprintf(cfg, sizeof(cfg), "%s/many.yaml", dir);
    snprintf(db, sizeof(db), "%s/many.db", dir);
    FILE *f = fopen(cfg, "w"); /* port 1: refused at once */
    fprintf(f, "receivers:\n");
    for (int r = 0; r < 20; r++) {
        fprintf(f, "  down%d: {webhook: \"http://127.0.0.1:1/x\", backoff: 10s}\n", r);
    }
    fclose(f);
    struct ks_shell a;
    CHECK_INT(ks_shell_open(&a, cfg, db, KS_SHELL_ENGINE | KS_SHELL_CREATE), 0);
    struct ks_err err = {0};
    for (int i = 0; i < 24; i++) {
        char key[16], receiver[16];
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(receiver, sizeof(receiver), "down%d", i < 16 ? i : 16 + (i - 16) / 2);
        struct ks_message_row m = {.key = key, .incident = 1, .kind = "incident",
                                   .audience = "team", .recipient = "ops",
                                   .receiver = receiver, .subject = "s", .body = "b",
                                   .status = "queued", .created_at = ks_time_now(),
                                   .sent_at = KS_TIME_NONE, .next_at = KS_TIME_NONE};
        int added = 0;
        CHECK_INT(a.store->ops->add_message(a.store, &m, &added, &err), KS_OK);
    }
    struct ks_msg_delivery md;
    CHECK_INT(ks_shell_messages_deliver(&a, 0, &md), 0);
    CHECK_INT(md.sent, 0);
    CHECK_INT(md.retrying, 20); /* each receiver's first message */
    CHECK_INT(md.failed, 0);
    struct mrows l = {0};
    messages_of(&a, "down19", &l);
    CHECK_STR(l.b.p, "23 queued 1 later attempt 1: connection refused|"
                     "24 queued 0 later held|");
    ks_buf_fini(&l.b);
    ks_shell_close(&a);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/ks-deliver-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    RUN(webhook_that_fails_twice_is_retried_until_it_succeeds);
    RUN(webhook_that_never_succeeds_gives_up_and_says_so);
    RUN(delivery_results_survive_a_reopen);
    RUN(a_killed_first_run_leaves_no_message_behind);
    RUN(a_hook_outcome_is_saved_with_its_timeline_entry);
    RUN(a_message_that_gave_up_is_saved_with_its_timeline_entry);
    RUN(an_unavailable_receiver_holds_its_messages_behind_one_attempt);
    RUN(many_unavailable_receivers_each_hold_behind_one_attempt);
    ks_hook_global_cleanup();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", dir);
    }
    return t_done();
}
