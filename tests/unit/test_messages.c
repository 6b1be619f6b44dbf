/*
 * test_messages.c - message templates (src/comms/template.c): parsing with
 * every error at its line, rendering with every placeholder filled, the
 * built-in set, an override directory; the idempotency key; the outbox
 * rows on both backends (tdb.h): one row per key and receiver, the filters
 * of a listing, triggers, and an interrupted run's messages undone.
 */
#include "../../src/comms/comms.h"
#include "../../src/store/store.h"
#include "slurp.h"
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
    char a[40], b[40];
    ks_comms_key(7, "customer", "c1@x", "customer_notice", 0, a);
    CHECK_INT(strlen(a), 35);
    CHECK(strncmp(a, "ks-", 3) == 0);
    ks_comms_key(7, "customer", "c1@x", "customer_notice", 0, b);
    CHECK_STR(a, b);
    ks_comms_key(8, "customer", "c1@x", "customer_notice", 0, b);
    CHECK(strcmp(a, b) != 0);
    ks_comms_key(7, "customer", "c1@x", "customer_notice", 1, b);
    CHECK(strcmp(a, b) != 0);
    ks_comms_key(7, "customer", "c1@xcustomer_notice", "", 0, b);
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
    return t_done();
}
