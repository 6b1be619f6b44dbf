/*
 * test_messages.c - message templates (src/comms/template.c): parsing with
 * every error at its line, rendering with every placeholder filled, the
 * built-in set, an override directory; the idempotency key; the outbox
 * rows on both backends (tdb.h): one row per key and receiver, the filters
 * of a listing, triggers, and an interrupted run's messages undone; the
 * SMTP receiver against a real server (smtpd.h): one recipient, never a
 * value with a line break in a command or a header, a UTF-8 subject as
 * RFC 2047 encoded-words.
 */
#include "../../src/comms/comms.h"
#include "../../src/contain/hook.h"
#include "../../src/store/store.h"
#include "slurp.h"
#include "smtpd.h"
#include "tdb.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *upper(void *ctx, const char *name)
{
    (void)ctx;
    static char buf[8][64];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof(buf[i]), "<%s>", name);
    return buf[i];
}

static struct ks_tpl *parse(enum ks_tpl_kind k, const char *text, struct ks_err *err)
{
    struct ks_tpl *t = NULL;
    memset(err, 0, sizeof(*err));
    ks_tpl_parse(k, text, strlen(text), &t, err);
    return t;
}

static void renders_every_placeholder_of_a_customer_template(void)
{
    const char *names[64];
    size_t n;
    ks_tpl_placeholders(KS_TPL_CUSTOMER_NOTICE, names, 64, &n);
    CHECK(n >= 25);
    struct ks_buf text = {0};
    ks_buf_puts(&text, "Subject: {{ order }} for {{shop}}\n\n");
    for (size_t i = 0; i < n; i++) {
        ks_buf_printf(&text, "%s={{%s}}\n", names[i], names[i]);
    }
    struct ks_err err;
    struct ks_tpl *t = parse(KS_TPL_CUSTOMER_NOTICE, text.p, &err);
    CHECK(t != NULL);
    struct ks_buf s = {0}, b = {0};
    if (t) {
        ks_tpl_render(t, upper, NULL, &s, &b);
    }
    CHECK_STR(s.p, "<order> for <shop>");
    for (size_t i = 0; i < n; i++) {
        char want[96];
        snprintf(want, sizeof(want), "%s=<%s>\n", names[i], names[i]);
        CHECK(b.p && strstr(b.p, want) != NULL);
    }
    CHECK(b.p && !strstr(b.p, "{{"));
    ks_tpl_free(t);
    ks_buf_fini(&text);
    ks_buf_fini(&s);
    ks_buf_fini(&b);
}

static void unknown_placeholder_is_refused_with_its_line(void)
{
    struct ks_err err;
    struct ks_tpl *t = parse(KS_TPL_FOLLOW_UP, "Subject: x\n\nline one\nHello {{ordre}}\n", &err);
    CHECK(t == NULL);
    CHECK_INT(err.rc, KS_EINPUT);
    CHECK_STR(err.msg, "4: unknown placeholder {{ordre}} for the follow_up template; did you mean "
                       "{{order}}? (see docs/MESSAGES.md)");
}

static void customer_placeholders_are_unknown_to_internal_templates(void)
{
    struct ks_err err;
    CHECK(parse(KS_TPL_INCIDENT, "Subject: {{order}}\n\nx\n", &err) == NULL);
    CHECK(strncmp(err.msg, "1: unknown placeholder {{order}} for the incident template", 58) == 0);
    CHECK(parse(KS_TPL_CUSTOMER_NOTICE, "Subject: x\n\n{{revenue}}\n", &err) == NULL);
    CHECK(strncmp(err.msg, "3: unknown placeholder {{revenue}}", 34) == 0);
}

static void broken_templates_are_refused_with_their_line(void)
{
    struct ks_err err;
    CHECK(parse(KS_TPL_UPDATE, "Hello\n\nbody\n", &err) == NULL);
    CHECK(strncmp(err.msg, "1: a template starts with a \"Subject: ...\" line", 46) == 0);
    CHECK(parse(KS_TPL_UPDATE, "Subject:   \n\nbody\n", &err) == NULL);
    CHECK_STR(err.msg, "1: the subject is empty");
    CHECK(parse(KS_TPL_UPDATE, "Subject: x\nbody\n", &err) == NULL);
    CHECK_STR(err.msg, "2: an empty line must follow the subject line");
    CHECK(parse(KS_TPL_UPDATE, "Subject: x\n\n", &err) == NULL);
    CHECK_STR(err.msg, "2: the body is empty");
    CHECK(parse(KS_TPL_UPDATE, "Subject: x\n\na\nb {{status\n", &err) == NULL);
    CHECK(strncmp(err.msg, "4: unclosed or malformed placeholder \"{{status\"", 47) == 0);
    CHECK(parse(KS_TPL_UPDATE, "Subject: x\n\n{{}}\n", &err) == NULL);
    CHECK_STR(err.msg, "3: empty placeholder \"{{}}\"");
    CHECK(parse(KS_TPL_UPDATE, "Subject: x\n\nab}}\n", &err) == NULL);
    CHECK_STR(err.msg, "3: \"}}\" without an opening \"{{\"");
    CHECK(parse(KS_TPL_UPDATE, "Subject: x\n\n\xff\n", &err) == NULL);
    CHECK_STR(err.msg, "3: not valid UTF-8");
    CHECK(parse(KS_TPL_UPDATE, "Subject: {{Status}}\n\nx\n", &err) == NULL);
}

static void a_subject_stays_one_line(void)
{
    struct ks_err err;
    struct ks_tpl *t = parse(KS_TPL_UPDATE, "Subject: [{{status}}]\r\n\r\nbody\n", &err);
    CHECK(t != NULL);
    struct ks_buf s = {0}, b = {0};
    if (t) {
        ks_tpl_render(t, upper, NULL, &s, &b);
    }
    CHECK_STR(s.p, "[<status>]");
    CHECK_STR(b.p, "body\n");
    ks_tpl_free(t);
    ks_buf_fini(&s);
    ks_buf_fini(&b);
}

static void builtins_parse_and_a_directory_overrides_one(void)
{
    for (int k = 0; k < KS_TPL__COUNT; k++) {
        struct ks_err err;
        struct ks_tpl *t = parse((enum ks_tpl_kind)k, ks_tpl_builtin((enum ks_tpl_kind)k), &err);
        CHECK(t != NULL);
        ks_tpl_free(t);
        CHECK_INT(ks_tpl_parse_name(ks_tpl_name((enum ks_tpl_kind)k)), k);
    }
    char dir[] = "/tmp/ks-tpl-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof(path), "%s/follow_up.md", dir);
    FILE *f = fopen(path, "w");
    fputs("Subject: **{{order}}**\n\n# {{status}}\n", f);
    fclose(f);
    struct ks_tpl_set set;
    struct ks_err err = {0};
    CHECK_INT(ks_tpl_set_load(&set, dir, &err), KS_OK);
    CHECK_STR(set.from[KS_TPL_FOLLOW_UP], path);
    CHECK_INT(set.markdown[KS_TPL_FOLLOW_UP], 1);
    CHECK(set.from[KS_TPL_INCIDENT] == NULL);
    ks_tpl_set_fini(&set);
    f = fopen(path, "w");
    fputs("Subject: x\n\n{{bogus}}\n", f);
    fclose(f);
    CHECK_INT(ks_tpl_set_load(&set, dir, &err), KS_EINPUT);
    char want[200];
    snprintf(want, sizeof(want), "%s:3: unknown placeholder {{bogus}}", path);
    CHECK(strncmp(err.msg, want, strlen(want)) == 0);
    unlink(path);
    rmdir(dir);
}

static long live_before;
#define LEAK_START() (live_before = ks_alloc_live())
#define LEAK_END() CHECK_INT(ks_alloc_live(), live_before)

/* Writes text to dir/name. */
static void put(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

struct problems {
    char v[16][512];
    int n;
};

static void keep(void *ctx, const char *msg)
{
    struct problems *p = ctx;
    if (p->n < 16) {
        snprintf(p->v[p->n], sizeof(p->v[0]), "%s", msg);
    }
    p->n++;
}

/* A templates directory that is not there is an error, never the built-in
 * templates in silence; so is a file where the directory should be. */
static void a_missing_templates_directory_is_an_error(void)
{
    LEAK_START();
    struct ks_tpl_set set;
    struct ks_err err = {0};
    CHECK_INT(ks_tpl_set_load(&set, "/nonexistent/templatez", &err), KS_EINPUT);
    CHECK_STR(err.msg, "/nonexistent/templatez: no such directory");
    CHECK(set.t[KS_TPL_INCIDENT] == NULL);
    ks_tpl_set_fini(&set);
    char dir[] = "/tmp/ks-tpl-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    put(dir, "plain", "x");
    char file[128];
    snprintf(file, sizeof(file), "%s/plain", dir);
    memset(&err, 0, sizeof(err));
    CHECK_INT(ks_tpl_set_load(&set, file, &err), KS_EINPUT);
    char want[200];
    snprintf(want, sizeof(want), "%s: not a directory", file);
    CHECK_STR(err.msg, want);
    ks_tpl_set_fini(&set);
    /* No directory at all (NULL) is the built-in set. */
    CHECK_INT(ks_tpl_set_load(&set, NULL, &err), KS_OK);
    CHECK(set.t[KS_TPL_ORDER_DELAY] != NULL && set.from[KS_TPL_ORDER_DELAY] == NULL);
    ks_tpl_set_fini(&set);
    unlink(file);
    rmdir(dir);
    LEAK_END();
}

/* Every problem of every file, in file name order: three broken templates,
 * a misspelled name, a template kept as both .txt and .md; an editor's
 * backup, a dot file and a file of another extension are not read. */
static void every_problem_of_a_templates_directory_is_reported(void)
{
    LEAK_START();
    char dir[] = "/tmp/ks-tpl-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    put(dir, "incident.txt", "Subject: x\n\nA }} b\n");
    put(dir, "follow_up.txt", "Subject: x\n\nHello {{shop\n");
    put(dir, "order_delay.txt", "Subject: x\n\n{{bogus}}\n");
    put(dir, "customer-notice.txt", "Subject: x\n\nHello {{order}}\n");
    put(dir, "update.md", "Subject: x\n\n{{status}}\n");
    put(dir, "update.txt", "Subject: x\n\n{{status}}\n");
    put(dir, "reminder.txt~", "not a template at all {{");
    put(dir, ".reminder.txt.swp", "{{");
    put(dir, "README", "notes {{");
    struct ks_tpl_set set;
    struct problems p = {0};
    CHECK_INT(ks_tpl_set_load_each(&set, dir, keep, &p), 5);
    CHECK_INT(p.n, 5);
    char want[5][512];
    snprintf(want[0], sizeof(want[0]),
             "%s/customer-notice.txt: not a template: known ones are incident, update, reminder, "
             "customer_notice, follow_up and order_delay, each NAME.txt or NAME.md (did you mean "
             "customer_notice.txt?)",
             dir);
    snprintf(want[1], sizeof(want[1]),
             "%s/follow_up.txt:3: unclosed or malformed placeholder \"{{shop\" (a placeholder is "
             "{{name}}, lowercase letters, digits and _)",
             dir);
    snprintf(want[2], sizeof(want[2]), "%s/incident.txt:3: \"}}\" without an opening \"{{\"", dir);
    snprintf(want[3], sizeof(want[3]),
             "%s/order_delay.txt:3: unknown placeholder {{bogus}} for the order_delay template "
             "(see docs/MESSAGES.md)",
             dir);
    snprintf(want[4], sizeof(want[4]),
             "%s/update.txt: the update template is also %s/update.md: keep one of the two", dir,
             dir);
    for (int i = 0; i < 5 && i < p.n; i++) {
        CHECK_STR(p.v[i], want[i]);
    }
    for (int k = 0; k < KS_TPL__COUNT; k++) {
        CHECK(set.t[k] == NULL && set.from[k] == NULL);
    }
    ks_tpl_set_fini(&set);
    /* ks_tpl_set_load says the first and how many more. */
    struct ks_err err = {0};
    CHECK_INT(ks_tpl_set_load(&set, dir, &err), KS_EINPUT);
    char first[600];
    snprintf(first, sizeof(first), "%s (and 4 more problems of the templates)", want[0]);
    CHECK_STR(err.msg, first);
    ks_tpl_set_fini(&set);
    /* With the problems gone, the ignored files stay ignored. */
    const char *gone[] = {"incident.txt", "follow_up.txt", "order_delay.txt", "customer-notice.txt",
                          "update.md"};
    for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, gone[i]);
        unlink(path);
    }
    memset(&p, 0, sizeof(p));
    CHECK_INT(ks_tpl_set_load_each(&set, dir, keep, &p), 0);
    CHECK(set.from[KS_TPL_UPDATE] != NULL);
    CHECK(set.from[KS_TPL_REMINDER] == NULL && set.t[KS_TPL_REMINDER] != NULL);
    ks_tpl_set_fini(&set);
    const char *rest[] = {"update.txt", "reminder.txt~", ".reminder.txt.swp", "README"};
    for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, rest[i]);
        unlink(path);
    }
    rmdir(dir);
    LEAK_END();
}

/* examples/templates (set by examples/kintsugi.yaml) holds the built-in
 * templates, so the example behaves like no file at all. */
static void example_templates_are_the_builtin_ones(void)
{
    struct ks_tpl_set set;
    struct problems p = {0};
    CHECK_INT(ks_tpl_set_load_each(&set, "examples/templates", keep, &p), 0);
    for (int k = 0; k < KS_TPL__COUNT; k++) {
        char path[128];
        snprintf(path, sizeof(path), "examples/templates/%s.txt", ks_tpl_name((enum ks_tpl_kind)k));
        CHECK_STR(set.from[k], path);
        size_t n = 0;
        char *text = t_slurp(path, &n);
        CHECK(text != NULL);
        if (text) {
            CHECK_STR(text, ks_tpl_builtin((enum ks_tpl_kind)k));
        }
        ks_free(text);
    }
    ks_tpl_set_fini(&set);
}

static void key_depends_on_every_part(void)
{
    static const char db1[] = "0123456789abcdef0123456789abcdef";
    static const char db2[] = "fedcba9876543210fedcba9876543210";
    char a[40], b[40];
    ks_comms_key(db1, 7, "customer", "c1@x", "customer_notice", 0, a);
    CHECK_INT(strlen(a), 35);
    CHECK(strncmp(a, "ks-", 3) == 0);
    ks_comms_key(db1, 7, "customer", "c1@x", "customer_notice", 0, b);
    CHECK_STR(a, b);
    ks_comms_key(db1, 8, "customer", "c1@x", "customer_notice", 0, b);
    CHECK(strcmp(a, b) != 0);
    ks_comms_key(db1, 7, "customer", "c1@x", "customer_notice", 1, b);
    CHECK(strcmp(a, b) != 0);
    ks_comms_key(db1, 7, "customer", "c1@xcustomer_notice", "", 0, b);
    CHECK(strcmp(a, b) != 0);
    /* another database, the same message: another key */
    ks_comms_key(db2, 7, "customer", "c1@x", "customer_notice", 0, b);
    CHECK(strcmp(a, b) != 0);
    CHECK_INT(strlen(b), 35);
    /* the id is a field of its own: it cannot run into the incident */
    ks_comms_key("0123456789abcdef0123456789abcdef7", 0, "customer", "c1@x", "customer_notice",
                 0, b);
    CHECK(strcmp(a, b) != 0);
}

struct mlist {
    int n;
    char text[512];
};

static int mrow(void *ctx, const struct ks_message_row *m)
{
    struct mlist *l = ctx;
    size_t len = strlen(l->text);
    char t[32] = "-";
    if (m->sent_at != KS_TIME_NONE) {
        ks_time_fmt(m->sent_at, t);
    }
    snprintf(l->text + len, sizeof(l->text) - len, "%lld %s %s %s %s %lld %s %s|",
             (long long)m->id, m->key, m->receiver, m->audience, m->status,
             (long long)m->attempts, t, m->detail ? m->detail : "-");
    l->n++;
    return 0;
}

static int stat_row(void *ctx, const struct ks_message_stat *st)
{
    char at[32], next[32];
    ks_time_fmt(st->oldest, at);
    ks_time_fmt(st->next_at, next);
    ks_buf_printf(ctx, "%s %s %lld %s %s next %s|", st->receiver, st->status,
                  (long long)st->count, at, st->last_detail ? st->last_detail : "-", next);
    return 0;
}

static void outbox_keeps_one_row_per_key_and_receiver(void)
{
    struct ks_store *s;
    struct ks_err err = {0};
    tdb_setup();
    CHECK_INT(ks_store_open(&s, tdb_uri, &err), KS_OK);
    struct ks_message_row m = {0};
    m.key = "ks-1";
    m.incident = 3;
    m.kind = "customer_notice";
    m.audience = "customer";
    m.recipient = "c@x";
    m.receiver = "mail";
    m.order_id = "o1";
    m.subject = "s";
    m.body = "b";
    m.created_at = 1000;
    m.sent_at = m.next_at = KS_TIME_NONE;
    int added = 0;
    CHECK_INT(s->ops->add_message(s, &m, &added, &err), KS_OK);
    CHECK_INT(added, 1);
    CHECK_INT(m.id, 1);
    m.id = 0;
    CHECK_INT(s->ops->add_message(s, &m, &added, &err), KS_OK);
    CHECK_INT(added, 0);
    CHECK_INT(m.id, 0); /* nothing added, no id */
    m.receiver = "files";
    CHECK_INT(s->ops->add_message(s, &m, &added, &err), KS_OK);
    CHECK_INT(added, 1);
    int64_t second = m.id;
    CHECK_INT(second, 3); /* the ignored row used an id up, on both backends */
    CHECK_INT(s->ops->update_message(s, 1, "sent", 2, KS_TIME_NONE, 5000, "ok", &err), KS_OK);
    CHECK_INT(s->ops->update_message(s, 9, "sent", 2, KS_TIME_NONE, 5000, "ok", &err),
              KS_ENOTFOUND);
    CHECK_STR(err.msg, "no message 9");
    /* the pair (key, receiver) finds its row */
    int64_t id = 0;
    CHECK_INT(s->ops->message_id(s, "ks-1", "files", &id, &err), KS_OK);
    CHECK_INT(id, 3);
    CHECK_INT(s->ops->message_id(s, "ks-1", "mail", &id, &err), KS_OK);
    CHECK_INT(id, 1);
    CHECK_INT(s->ops->message_id(s, "ks-2", "mail", &id, &err), KS_ENOTFOUND);
    struct mlist l = {0};
    CHECK_INT(s->ops->list_messages(s, NULL, mrow, &l, &err), KS_OK);
    CHECK_STR(l.text, "1 ks-1 mail customer sent 2 1970-01-01T00:00:05.000Z ok|"
                      "3 ks-1 files customer queued 0 - -|");
    struct ks_message_filter f = {.incident = 3, .audience = "customer", .status = "queued"};
    l = (struct mlist){0};
    CHECK_INT(s->ops->list_messages(s, &f, mrow, &l, &err), KS_OK);
    CHECK_STR(l.text, "3 ks-1 files customer queued 0 - -|");
    f = (struct ks_message_filter){.id = 1};
    l = (struct mlist){0};
    CHECK_INT(s->ops->list_messages(s, &f, mrow, &l, &err), KS_OK);
    CHECK_INT(l.n, 1);
    f = (struct ks_message_filter){.incident = 4};
    l = (struct mlist){0};
    CHECK_INT(s->ops->list_messages(s, &f, mrow, &l, &err), KS_OK);
    CHECK_INT(l.n, 0);
    f = (struct ks_message_filter){.audience = "team"};
    CHECK_INT(s->ops->list_messages(s, &f, mrow, &l, &err), KS_OK);
    CHECK_INT(l.n, 0);
    f = (struct ks_message_filter){.receiver = "files"};
    CHECK_INT(s->ops->list_messages(s, &f, mrow, &l, &err), KS_OK);
    CHECK_STR(l.text, "3 ks-1 files customer queued 0 - -|");
    l = (struct mlist){0};
    struct ks_trigger_row tr = {3, "customer_notice", 0, 1000, 0}, got;
    int found = 1;
    CHECK_INT(s->ops->get_trigger(s, 3, "customer_notice", 0, &got, &found, &err), KS_OK);
    CHECK_INT(found, 0);
    CHECK_INT(s->ops->put_trigger(s, &tr, &err), KS_OK);
    tr.done = 51;
    CHECK_INT(s->ops->put_trigger(s, &tr, &err), KS_OK);
    CHECK_INT(s->ops->get_trigger(s, 3, "customer_notice", 0, &got, &found, &err), KS_OK);
    CHECK_INT(found, 1);
    CHECK_INT(got.done, 51);
    CHECK_INT(got.at, 1000);
    CHECK_INT(got.seq, 0);
    int64_t mid, tid;
    CHECK_INT(s->ops->max_message_ids(s, &mid, &tid, &err), KS_OK);
    CHECK_INT(mid, second);
    CHECK_INT(tid, 1);
    /* by receiver and status: how many, the oldest, the last one's detail */
    CHECK_INT(s->ops->update_message(s, second, "failed", 3, KS_TIME_NONE, KS_TIME_NONE,
                                     "attempt 3: HTTP 500", &err),
              KS_OK);
    m.key = "ks-2";
    m.created_at = 700;
    CHECK_INT(s->ops->add_message(s, &m, &added, &err), KS_OK);
    m.key = "ks-3";
    m.created_at = 900;
    CHECK_INT(s->ops->add_message(s, &m, &added, &err), KS_OK);
    struct ks_buf st = {0};
    CHECK_INT(s->ops->message_stats(s, stat_row, &st, &err), KS_OK);
    CHECK_STR(st.p, "files failed 1 1970-01-01T00:00:01.000Z attempt 3: HTTP 500 next -|"
                    "files queued 2 1970-01-01T00:00:00.700Z - next -|"
                    "mail sent 1 1970-01-01T00:00:01.000Z - next -|");
    /* a waiting one attempted: its detail and its retry */
    CHECK_INT(s->ops->update_message(s, m.id, "queued", 2, 4000, KS_TIME_NONE,
                                     "attempt 2: HTTP 503", &err),
              KS_OK);
    ks_buf_reset(&st);
    CHECK_INT(s->ops->message_stats(s, stat_row, &st, &err), KS_OK);
    CHECK_STR(st.p, "files failed 1 1970-01-01T00:00:01.000Z attempt 3: HTTP 500 next -|"
                    "files queued 2 1970-01-01T00:00:00.700Z attempt 2: HTTP 503 next "
                    "1970-01-01T00:00:04.000Z|"
                    "mail sent 1 1970-01-01T00:00:01.000Z - next -|");
    ks_buf_fini(&st);
    /* an interrupted run's tail: messages after 1 and triggers after 0 go;
     * -1 keeps a table whole (marks written before messages existed) */
    struct ks_store_trim t = {0, 0, 0, 100, -1, -1};
    CHECK_INT(s->ops->trim(s, &t, &err), KS_OK);
    CHECK_INT(s->ops->max_message_ids(s, &mid, &tid, &err), KS_OK);
    CHECK_INT(mid, 5);
    CHECK_INT(tid, 1);
    t.messages = 1;
    t.triggers = 0;
    CHECK_INT(s->ops->trim(s, &t, &err), KS_OK);
    CHECK_INT(s->ops->max_message_ids(s, &mid, &tid, &err), KS_OK);
    CHECK_INT(mid, 1);
    CHECK_INT(tid, 0);
    ks_store_close(s);
    tdb_teardown();
}

/* ---- the SMTP receiver ------------------------------------------------------------ */

/* A receiver "mail" to the test server on port, plain SMTP. */
static struct ks_receiver_cfg mail_receiver(int port)
{
    static char url[64];
    snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", port);
    struct ks_receiver_cfg r = {0};
    r.name = "mail";
    r.smtp = url;
    r.from = "ops@shop.example";
    r.tls = "none";
    r.timeout = 5 * KS_SEC;
    return r;
}

/* Sends one customer notice to recipient with subject through the test
 * server s (started here, stopped before returning: s->log is what came). */
static void send_mail(struct smtpd *s, const char *recipient, const char *subject,
                      struct ks_send_result *res)
{
    CHECK_INT(smtpd_start(s), 0);
    struct ks_receiver_cfg r = mail_receiver(s->port);
    struct ks_message_row m = {.key = "ks-0123456789abcdef0123456789abcdef",
                               .incident = 1,
                               .kind = "customer_notice",
                               .audience = "customer",
                               .recipient = recipient,
                               .receiver = "mail",
                               .subject = subject,
                               .body = "Hello,\nyour order is late.\n",
                               .status = "queued",
                               .created_at = 0,
                               .sent_at = KS_TIME_NONE,
                               .next_at = KS_TIME_NONE};
    ks_comms_send(&r, &m, res);
    smtpd_stop(s);
}

static void smtp_recipient_with_a_line_break_is_never_sent(void)
{
    struct smtpd s;
    struct ks_send_result res;
    send_mail(&s, "c1@x.example>\r\nRCPT TO:<evil@attacker.example", "About your order o1", &res);
    CHECK_INT(res.ok, 0);
    CHECK_INT(res.retryable, 0); /* failed for good: the same text fails again */
    CHECK_INT(res.unavailable, 0);
    CHECK_STR(res.detail, "not sent: the recipient \"c1@x.example>\\x0d\\x0aRCPT "
                          "TO:<evil@attacker.example\" cannot go into a mail (a line break is "
                          "not allowed)");
    /* nothing went out: not a connection, let alone a second RCPT TO */
    CHECK_INT(s.connections, 0);
    CHECK(!strstr(s.log, "evil@attacker.example"));
    smtpd_free(&s);
    /* any other text that is not one address is refused the same way */
    send_mail(&s, "c1@x.example,evil@attacker.example", "About your order o1", &res);
    CHECK_INT(res.ok || res.retryable, 0);
    CHECK_STR(res.detail, "not sent: the recipient \"c1@x.example,evil@attacker.example\" cannot "
                          "go into a mail (',' is not allowed)");
    CHECK_INT(s.connections, 0);
    smtpd_free(&s);
}

static void smtp_subject_with_a_line_break_is_never_sent(void)
{
    struct smtpd s;
    struct ks_send_result res;
    send_mail(&s, "c1@x.example", "About your order\r\nBcc: evil@attacker.example", &res);
    CHECK_INT(res.ok, 0);
    CHECK_INT(res.retryable, 0);
    CHECK_STR(res.detail, "not sent: the subject \"About your order\\x0d\\x0aBcc: "
                          "evil@attacker.example\" cannot go into a mail (a line break is not "
                          "allowed in a header)");
    CHECK_INT(s.connections, 0);
    smtpd_free(&s);
    send_mail(&s, "c1@x.example", "About your order\nBcc: evil@attacker.example", &res);
    CHECK_INT(res.ok || res.retryable, 0);
    CHECK_INT(s.connections, 0);
    smtpd_free(&s);
}

static void smtp_sends_one_recipient_and_an_ascii_subject_as_it_is(void)
{
    struct smtpd s;
    struct ks_send_result res;
    send_mail(&s, "c1@x.example", "About your order o1 with Example Shop", &res);
    CHECK_INT(res.ok, 1);
    CHECK_STR(res.detail, "SMTP 250 accepted");
    CHECK_INT(s.connections, 1);
    CHECK_INT(smtpd_lines(&s, "MAIL FROM:"), 1);
    CHECK_INT(smtpd_lines(&s, "MAIL FROM:<ops@shop.example>\r\n"), 1);
    CHECK_INT(smtpd_lines(&s, "RCPT TO:"), 1);
    CHECK_INT(smtpd_lines(&s, "RCPT TO:<c1@x.example>\r\n"), 1);
    CHECK_INT(smtpd_lines(&s, "To: c1@x.example\r\n"), 1);
    CHECK_INT(smtpd_lines(&s, "Subject: About your order o1 with Example Shop\r\n"), 1);
    smtpd_free(&s);
}

/* The bytes base64 text b[0..n) stands for, appended to out; -1 when it
 * is not base64. */
static int unbase64(const char *b, size_t n, struct ks_buf *out)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (n % 4) {
        return -1;
    }
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            const char *d = b[i + j] == '=' ? NULL : strchr(digits, b[i + j]);
            if (b[i + j] == '=') {
                pad++;
            } else if (!d || !b[i + j] || pad) {
                return -1;
            }
            v = v << 6 | (d ? (uint32_t)(d - digits) : 0);
        }
        ks_buf_putc(out, (char)(v >> 16));
        if (pad < 2) {
            ks_buf_putc(out, (char)(v >> 8 & 0xff));
        }
        if (pad < 1) {
            ks_buf_putc(out, (char)(v & 0xff));
        }
    }
    return 0;
}

/* Reads header text h (the line "NAME: ..." and its folded lines, CRLF
 * ends) as a reader of RFC 2047 would: appends the decoded value to out.
 * Checks on the way that every line is printable ASCII of at most 76
 * characters, every encoded-word at most 75 and of whole UTF-8 characters. */
static void read_encoded_header(const char *h, struct ks_buf *out)
{
    const char *end = h;
    /* the header's lines: up to the first CRLF not followed by a space */
    while ((end = strstr(end, "\r\n")) && end[2] == ' ') {
        end += 2;
    }
    CHECK(end != NULL);
    size_t line = 0;
    for (const char *p = h; p < end; p++) {
        CHECK((unsigned char)*p < 0x7f && ((unsigned char)*p >= 0x20 || *p == '\r' || *p == '\n'));
        line = *p == '\n' ? 0 : line + 1;
        CHECK(line <= 77); /* 76 and its CR */
    }
    const char *p = strchr(h, ':') + 1;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\r' || *p == '\n')) {
            p++;
        }
        if (p >= end) {
            break;
        }
        CHECK(!strncmp(p, "=?UTF-8?B?", 10));
        const char *q = strstr(p + 10, "?=");
        CHECK(q && q < end);
        if (!q || strncmp(p, "=?UTF-8?B?", 10) != 0) {
            return;
        }
        CHECK(q + 2 - p <= 75);
        struct ks_buf word = {0};
        CHECK_INT(unbase64(p + 10, (size_t)(q - p - 10), &word), 0);
        CHECK(ks_utf8_invalid_at(word.p, word.len) == (size_t)-1);
        ks_buf_put(out, word.p, word.len);
        ks_buf_fini(&word);
        p = q + 2;
    }
}

static void smtp_utf8_subject_is_sent_as_encoded_words(void)
{
    /* a shop name in UTF-8 (2-byte letters, a 3-byte euro sign, a 4-byte
     * emoji), long enough to take several words */
    const char *subject = "About your order o1 with Caf\xc3\xa9 \xc3\x9cn\xc3\xafkode "
                          "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac \xf0\x9f\x8e\x81 "
                          "S\xc3\xb8rensen & S\xc3\xb6hne, Z\xc3\xbcrich";
    struct smtpd s;
    struct ks_send_result res;
    send_mail(&s, "c1@x.example", subject, &res);
    CHECK_INT(res.ok, 1);
    const char *h = strstr(s.log, "\r\nSubject: ");
    CHECK(h != NULL);
    if (h) {
        CHECK(!strncmp(h + 2, "Subject: =?UTF-8?B?", 19));
        struct ks_buf got = {0};
        read_encoded_header(h + 2, &got);
        CHECK_STR(got.p, subject);
        ks_buf_fini(&got);
    }
    /* no 8-bit byte anywhere in the header block */
    const char *body = strstr(s.log, "\r\n\r\n");
    CHECK(body != NULL);
    for (const char *p = s.log; body && p < body; p++) {
        CHECK((unsigned char)*p < 0x80);
    }
    smtpd_free(&s);
}

static void mail_header_encodes_only_what_needs_it(void)
{
    struct ks_buf b = {0};
    ks_comms_mail_header(&b, "Subject", "[P1] Incident #3: amazon feed sync stale");
    CHECK_STR(b.p, "Subject: [P1] Incident #3: amazon feed sync stale");
    ks_buf_reset(&b);
    ks_comms_mail_header(&b, "Subject", "caf\xc3\xa9");
    CHECK_STR(b.p, "Subject: =?UTF-8?B?Y2Fmw6k=?=");
    ks_buf_reset(&b);
    /* "=?" in plain text would read as the start of an encoded-word */
    ks_comms_mail_header(&b, "Subject", "a =?b?= c");
    CHECK_STR(b.p, "Subject: =?UTF-8?B?YSA9P2I/PSBj?=");
    ks_buf_reset(&b);
    /* a control character is no more sent raw than an 8-bit byte */
    ks_comms_mail_header(&b, "Subject", "bell\x07");
    CHECK_STR(b.p, "Subject: =?UTF-8?B?YmVsbAc=?=");
    ks_buf_reset(&b);
    /* nor a line break (the sender refuses such a subject before) */
    ks_comms_mail_header(&b, "Subject", "a\r\nBcc: x");
    CHECK_STR(b.p, "Subject: =?UTF-8?B?YQ0KQmNjOiB4?=");
    /* long runs of 2-, 3- and 4-byte characters: every word holds whole
     * characters and the words together are the value again */
    static const char *const chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x8e\x81"};
    for (size_t c = 0; c < 3; c++) {
        for (int count = 1; count <= 70; count++) {
            struct ks_buf v = {0}, got = {0};
            ks_buf_puts(&v, "x"); /* shifts the characters against the word ends */
            for (int i = 0; i < count; i++) {
                ks_buf_puts(&v, chars[c]);
            }
            ks_buf_reset(&b);
            ks_comms_mail_header(&b, "Subject", v.p);
            ks_buf_puts(&b, "\r\n");
            read_encoded_header(b.p, &got);
            CHECK_STR(got.p, v.p);
            ks_buf_fini(&v);
            ks_buf_fini(&got);
        }
    }
    ks_buf_fini(&b);
}

int main(void)
{
    RUN(renders_every_placeholder_of_a_customer_template);
    RUN(unknown_placeholder_is_refused_with_its_line);
    RUN(customer_placeholders_are_unknown_to_internal_templates);
    RUN(broken_templates_are_refused_with_their_line);
    RUN(a_subject_stays_one_line);
    RUN(builtins_parse_and_a_directory_overrides_one);
    RUN(a_missing_templates_directory_is_an_error);
    RUN(every_problem_of_a_templates_directory_is_reported);
    RUN(example_templates_are_the_builtin_ones);
    RUN(key_depends_on_every_part);
    RUN_BOTH(outbox_keeps_one_row_per_key_and_receiver);
    RUN(smtp_recipient_with_a_line_break_is_never_sent);
    RUN(smtp_subject_with_a_line_break_is_never_sent);
    RUN(smtp_sends_one_recipient_and_an_ascii_subject_as_it_is);
    RUN(smtp_utf8_subject_is_sent_as_encoded_words);
    RUN(mail_header_encodes_only_what_needs_it);
    ks_hook_global_cleanup();
    return t_done();
}
