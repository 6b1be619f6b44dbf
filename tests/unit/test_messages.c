/*
 * test_messages.c - message templates (src/comms/template.c): parsing with
 * every error at its line, rendering with every placeholder filled, the
 * built-in set, an override directory; the idempotency key; the outbox
 * rows on both backends (tdb.h): one row per key and receiver, the filters
 * of a listing, triggers, and an interrupted run's messages undone.
 */
#include "../../src/comms/comms.h"
#include "../../src/store/store.h"
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
    RUN(key_depends_on_every_part);
    RUN_BOTH(outbox_keeps_one_row_per_key_and_receiver);
    return t_done();
}
