/*
 * test_review.c - post-incident reviews: parse errors with their line, each
 * shallow-review flag raised by exactly the input that should raise it, every
 * recovery metric on a constructed set of incidents (missing timestamps
 * included), the playbook's worked cost example, and a report that is the
 * same bytes every time.
 */
#include "../../src/review/review.h"
#include "tdb.h"

#include <math.h>
#include <stdlib.h>

static struct ks_config cfg;

static ks_time T(const char *s)
{
    ks_time t;
    const char *why;
    return ks_time_parse(s, strlen(s), &t, &why) == 0 ? t : KS_TIME_NONE;
}

/* An incident row as the engine renders it, with only what reviews read. */
static void put(struct ks_store *s, int64_t id, const char *sev, const char *fields)
{
    char detail[4096];
    snprintf(detail, sizeof(detail),
             "{\"id\":%lld,\"type\":\"data_corruption\",\"severity\":\"%s\",\"status\":\"resolved\","
             "\"title\":\"t%lld\",\"fingerprint\":\"f\",\"scope\":{\"channels\":[\"amazon\"]}%s%s}",
             (long long)id, sev, (long long)id, *fields ? "," : "", fields);
    /* detected_at is a column the writer gives, as the shell does (the
     * others the store derives from the JSON) */
    const char *at = strstr(detail, "\"detected_at\":\"");
    ks_time det = KS_TIME_NONE;
    if (at) {
        at += strlen("\"detected_at\":\"");
        ks_time_parse(at, (size_t)(strchr(at, '"') - at), &det, NULL);
    }
    struct ks_incident_row r = {.id = id, .type = "data_corruption", .severity = sev,
                                .status = "resolved", .fingerprint = "f", .detected_at = det,
                                .summary_json = detail, .detail_json = detail};
    struct ks_err err = {0};
    CHECK_INT(s->ops->put_incident(s, &r, &err), KS_OK);
}

/* A new empty store on the test's backend (tdb.h); done() closes it and
 * drops the database. */
static struct ks_store *mem(void)
{
    struct ks_store *s = NULL;
    struct ks_err err = {0};
    tdb_setup();
    CHECK_INT(ks_store_open(&s, tdb_uri, &err), KS_OK);
    return s;
}

static void done(struct ks_store *s)
{
    ks_store_close(s);
    tdb_teardown();
}

static int set_review(struct ks_store *s, int64_t id, const char *text)
{
    struct ks_review_doc d;
    struct ks_err err = {0};
    if (ks_review_parse("r.md", text, strlen(text), &d, &err) != KS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    struct ks_review_item *items = NULL;
    size_t n = 0;
    enum ks_rc rc = ks_review_save(s, id, &d, "carol", T("2026-11-22T12:00:00Z"), &items, &n, &err);
    ks_free(items);
    ks_review_doc_fini(&d);
    return rc == KS_OK ? 0 : -1;
}

/* The flags of incident id, "a|b|c". */
static void flags_of(struct ks_store *s, int64_t id, ks_time now, char *out, size_t cap)
{
    struct ks_review_set *l = NULL;
    struct ks_err err = {0};
    struct ks_buf b = {0};
    CHECK_INT(ks_review_load(s, &cfg, now, &l, &err), KS_OK);
    CHECK_INT(ks_review_show_json(l, id, &b, &err), KS_OK);
    out[0] = 0;
    const char *p = strstr(b.p ? b.p : "", "\"flags\":[");
    size_t o = 0;
    while (p && (p = strstr(p, "{\"flag\":\"")) != NULL) {
        p += 9;
        const char *e = strchr(p, '"');
        o += (size_t)snprintf(out + o, cap - o, "%s%.*s", o ? "|" : "", (int)(e - p), p);
    }
    ks_buf_fini(&b);
    ks_review_free(l);
}

static const char *good =
    "---\n"
    "root_cause: {category: process, text: the import accepted a file without its header check, "
    "known_risk: false}\n"
    "whys: [the feed zeroed 400 SKUs, the file had no quantities, the export changed its columns]\n"
    "action_items:\n"
    "  - {text: check columns before import, owner: dave, due: 2026-11-30, kind: prevention}\n"
    "---\n";

static void a_complete_review_raises_no_flag(void)
{
    struct ks_store *s = mem();
    put(s, 1, "P2", "\"timeline\":[]");
    CHECK_INT(set_review(s, 1, good), 0);
    char f[512];
    flags_of(s, 1, T("2026-11-23T00:00:00Z"), f, sizeof(f));
    CHECK_STR(f, "");
    done(s);
}

/* Each variant changes one thing of `good` and must raise exactly one flag. */
static void each_shallow_flag_is_raised_by_exactly_its_input(void)
{
    static const struct {
        const char *from, *to, *flag;
    } cases[] = {
        {"text: the import accepted a file without its header check, ", "", "no root cause"},
        {", the export changed its columns]", "]", "fewer than three whys"},
        {"category: process", "category: environmental", "only external causes"},
        {"the file had no quantities", "Erin forgot the quantities", "cause names a person"},
        {"kind: prevention", "kind: systematic", "no preventive action item"},
        {"owner: dave, ", "", "action item without owner or due date"},
        {"due: 2026-11-30, ", "", "action item without owner or due date"},
    };
    cfg.people = (struct ks_person[]){{"erin", "agent", NULL, NULL}};
    cfg.npeople = 1;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ks_store *s = mem();
        put(s, 1, "P2", "\"timeline\":[]");
        char text[1024];
        const char *at = strstr(good, cases[i].from);
        KS_ASSERT(at);
        snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - good), good, cases[i].to,
                 at + strlen(cases[i].from));
        CHECK_INT(set_review(s, 1, text), 0);
        char f[512];
        flags_of(s, 1, T("2026-11-23T00:00:00Z"), f, sizeof(f));
        if (strcmp(f, cases[i].flag) != 0) {
            fprintf(stderr, "  case %zu: flags \"%s\", expected \"%s\"\n", i, f, cases[i].flag);
        }
        CHECK_STR(f, cases[i].flag);
        done(s);
    }
    cfg.people = NULL;
    cfg.npeople = 0;
}

static void review_overdue_is_raised_only_after_its_due_time_without_a_review(void)
{
    struct ks_store *s = mem();
    put(s, 1, "P1", "\"review_due\":\"2026-11-24T12:00:00.000Z\",\"timeline\":[]");
    char f[512];
    flags_of(s, 1, T("2026-11-24T12:00:00Z"), f, sizeof(f));
    CHECK_STR(f, "");
    flags_of(s, 1, T("2026-11-24T12:00:00.001Z"), f, sizeof(f));
    CHECK_STR(f, "review overdue");
    CHECK_INT(set_review(s, 1, good), 0);
    flags_of(s, 1, T("2026-11-25T00:00:00Z"), f, sizeof(f));
    CHECK_STR(f, "");
    done(s);
}

static void parse_errors_name_their_line(void)
{
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"---\nwhys: [a, b]\naction_items:\n  - text: x\n    kind: later\n---\n",
         "r.md:5: action_items[0].kind: must be immediate, systematic or prevention, got \"later\""},
        {"root_cause:\n  category: people\n",
         "r.md:2: root_cause.category: must be process, system, human or environmental, got "
         "\"people\""},
        {"whys: [a]\nwho: me\n", "r.md:2: unknown key \"who\" (use root_cause, whys, went_well, "
                                 "improve, action_items, notes)"},
        {"---\nwhys: [a\n", "r.md:1: the front matter opened by \"---\" is never closed by a \"---\" line"},
        {"action_items:\n  - {text: x, due: soon, kind: immediate}\n",
         "r.md:2: action_items[0].due: must be a date (2026-12-01) or an RFC 3339 time, got \"soon\""},
        {"action_items:\n  - owner: bob\n    kind: immediate\n", "r.md:2: action_items[0]: needs a text"},
        {"", "r.md:1: the review sets nothing (no root_cause, whys, went_well, improve, "
             "action_items or notes): saving it would empty the review; send the fields it "
             "should have"},
        {"{}", "r.md:1: the review sets nothing (no root_cause, whys, went_well, improve, "
               "action_items or notes): saving it would empty the review; send the fields it "
               "should have"},
        {"{\"flags\": []}", "r.md:1: the review sets nothing (no root_cause, whys, went_well, "
                          "improve, action_items or notes): saving it would empty the review; "
                          "send the fields it should have"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ks_review_doc d;
        struct ks_err err = {0};
        CHECK_INT(ks_review_parse("r.md", cases[i].text, strlen(cases[i].text), &d, &err),
                  KS_EINPUT);
        CHECK_STR(err.msg, cases[i].msg);
    }
    struct ks_review_doc d;
    struct ks_err err = {0};
    const char *bad = "---\nwhys:\n  - a\n  - [b\n---\n";
    CHECK_INT(ks_review_parse("r.md", bad, strlen(bad), &d, &err), KS_EINPUT);
    CHECK(strncmp(err.msg, "r.md:5: not valid YAML", 22) == 0 ||
          strncmp(err.msg, "r.md:4: not valid YAML", 22) == 0);
    /* nesting is refused before libyaml spends time on it */
    struct ks_buf deep = {0};
    ks_buf_puts(&deep, "whys: ");
    for (int i = 0; i < 100000; i++) {
        ks_buf_putc(&deep, '[');
    }
    CHECK_INT(ks_review_parse("r.md", deep.p, deep.len, &d, &err), KS_EINPUT);
    CHECK_STR(err.msg, "r.md:1: nested more than 64 levels deep");
    ks_buf_fini(&deep);
    const char *quoted = "whys: ['[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                         "[[[[[[[[[[']\n";
    CHECK_INT(ks_review_parse("r.md", quoted, strlen(quoted), &d, &err), KS_OK);
    ks_review_doc_fini(&d);
    /* a field given, even empty, is a review's word */
    const char *cleared = "whys: []\n";
    CHECK_INT(ks_review_parse("r.md", cleared, strlen(cleared), &d, &err), KS_OK);
    ks_review_doc_fini(&d);
}

static void expect_refused(const char *name, const char *text, size_t n, const char *msg)
{
    struct ks_review_doc d;
    struct ks_err err = {0};
    CHECK_INT(ks_review_parse(name, text, n, &d, &err), KS_EINPUT);
    if (strcmp(err.msg, msg) != 0) {
        fprintf(stderr, "  input %.60s\n", text);
    }
    CHECK_STR(err.msg, msg);
    CHECK(d.nwhys == 0 && d.notes == NULL && d.nitems == 0 && d.cause == NULL);
}

/* A list of text holds text: a null (YAML ~, JSON null), a boolean or a
 * number unquoted is refused with its line, not kept as "null" or "~"; a
 * NUL character is refused, not cut at; known_risk is a boolean, not the
 * text "true". */
static void texts_are_strings_and_booleans_are_booleans(void)
{
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"root_cause: {category: system, text: x}\nwhys: [~, ~, ~]\n",
         "r.md:2: whys[0]: must be text, got null"},
        {"{\"whys\": [null, null, null]}", "r.md:1: whys[0]: must be text, got null"},
        {"whys:\n  - a\n  -\n  - c\n", "r.md:3: whys[1]: must be text, got null"},
        {"went_well: [fast, 5]\n",
         "r.md:1: went_well[1]: must be text, got a number (5): quote it to keep it as text"},
        {"{\"improve\": [true]}",
         "r.md:1: improve[0]: must be text, got a boolean (true): quote it to keep it as text"},
        {"whys: [a, b, 1e3]\n",
         "r.md:1: whys[2]: must be text, got a number (1e3): quote it to keep it as text"},
        {"action_items:\n  - {text: 12, kind: immediate}\n",
         "r.md:2: action_items[0].text: must be text, got a number (12): quote it to keep it as "
         "text"},
        {"{\"whys\": [\"a\", \"b\", \"first part\\u0000second part\"]}",
         "r.md:1: a NUL character (\\0 or \\u0000) is not allowed in a review's text"},
        {"whys: [a, b]\nroot_cause: {category: system, text: \"cut\\0here\"}\n",
         "r.md:2: a NUL character (\\0 or \\u0000) is not allowed in a review's text"},
        {"{\"root_cause\": {\"category\": \"system\", \"text\": \"x\", \"known_risk\": \"true\"}}",
         "r.md:1: root_cause.known_risk: must be true or false (a boolean, unquoted), got the "
         "text \"true\""},
        {"root_cause:\n  known_risk: 'false'\n",
         "r.md:2: root_cause.known_risk: must be true or false (a boolean, unquoted), got the "
         "text \"false\""},
        {"root_cause: {known_risk: 1}\n",
         "r.md:1: root_cause.known_risk: must be true or false, got a number"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_refused("r.md", cases[i].text, strlen(cases[i].text), cases[i].msg);
    }
    /* quoted, the same words are text; unquoted true and false are booleans */
    const char *ok = "root_cause: {text: x, known_risk: false}\nwhys: [\"~\", \"null\", '5', "
                     "\"true\", five whys]\n";
    struct ks_review_doc d;
    struct ks_err err = {0};
    CHECK_INT(ks_review_parse("r.md", ok, strlen(ok), &d, &err), KS_OK);
    CHECK_INT((int)d.nwhys, 5);
    CHECK_STR(d.whys[0], "~");
    CHECK_STR(d.whys[3], "true");
    CHECK_INT(d.known_risk, 0);
    ks_review_doc_fini(&d);
    const char *yes = "{\"root_cause\": {\"text\": \"x\", \"known_risk\": true}}";
    CHECK_INT(ks_review_parse("r.md", yes, strlen(yes), &d, &err), KS_OK);
    CHECK_INT(d.known_risk, 1);
    ks_review_doc_fini(&d);
}

/* The notes of a Markdown review (its body) are UTF-8 without NUL: a bad
 * byte refuses the whole document, at its line, instead of saving the rest
 * without the notes. */
static void markdown_notes_must_be_utf8(void)
{
    const char bad[] = "---\nwhys: [a, b, c]\n---\n# Notes\nsome \xff text\n";
    expect_refused("r.md", bad, sizeof(bad) - 1,
                   "r.md:5: the notes are not valid UTF-8 (byte 38 of the file)");
    const char nul[] = "---\nwhys: [a, b, c]\n---\n# Notes\n\nsome \0 text\n";
    expect_refused("r.md", nul, sizeof(nul) - 1,
                   "r.md:6: a NUL character is not allowed in the notes");
    const char ok[] = "---\nwhys: [a, b, c]\n---\n# Notes\nsome \xc3\xa9 text\n";
    struct ks_review_doc d;
    struct ks_err err = {0};
    CHECK_INT(ks_review_parse("r.md", ok, sizeof(ok) - 1, &d, &err), KS_OK);
    CHECK_STR(d.notes, "# Notes\nsome \xc3\xa9 text");
    ks_review_doc_fini(&d);
}

/* A JSON review that does not parse is called JSON: a file named *.json, or
 * a text that starts with '{'. */
static void json_syntax_errors_say_json(void)
{
    const char *j = "{\"whys\": [\"a\", \"b\" \"c\"]}\n";
    struct ks_review_doc d;
    struct ks_err err = {0};
    CHECK_INT(ks_review_parse("t.json", j, strlen(j), &d, &err), KS_EINPUT);
    CHECK(strncmp(err.msg, "t.json:1: not valid JSON: ", 26) == 0);
    const char *j2 = "\n  {\"whys\": [\"a\",\n \"b\" \"c\"]}\n";
    CHECK_INT(ks_review_parse("body", j2, strlen(j2), &d, &err), KS_EINPUT);
    CHECK(strncmp(err.msg, "body:3: not valid JSON: ", 24) == 0);
    /* A fault found at the end of the input is on the last line that holds
     * anything, with or without a line break after it (libyaml's mark is on
     * the line after) */
    const char *y = "whys: [a, b\n";
    CHECK_INT(ks_review_parse("r.yaml", y, strlen(y), &d, &err), KS_EINPUT);
    CHECK(strncmp(err.msg, "r.yaml:1: not valid YAML: ", 26) == 0);
    const char *one = "{\"root_cause\":";
    CHECK_INT(ks_review_parse("body", one, strlen(one), &d, &err), KS_EINPUT);
    CHECK(strncmp(err.msg, "body:1: not valid JSON: ", 24) == 0);
    const char *two = "{\"whys\": [\"a\",\n \"b\"\n\n";
    CHECK_INT(ks_review_parse("body", two, strlen(two), &d, &err), KS_EINPUT);
    CHECK(strncmp(err.msg, "body:2: not valid JSON: ", 24) == 0);
}

/* At most 1 MiB a document, 100 entries a list, 8 KiB a text, 64 KiB of
 * notes: each refused at its line. */
static void a_review_has_limits(void)
{
    struct ks_buf b = {0};
    ks_buf_puts(&b, "whys: [");
    for (int i = 0; i < 101; i++) {
        ks_buf_printf(&b, "%sw%d", i ? ", " : "", i);
    }
    ks_buf_puts(&b, "]\n");
    expect_refused("r.md", b.p, b.len, "r.md:1: whys: at most 100 entries (this list has 101)");
    ks_buf_reset(&b);
    ks_buf_puts(&b, "action_items:\n");
    for (int i = 0; i < 101; i++) {
        ks_buf_printf(&b, "  - {text: t%d, kind: immediate}\n", i);
    }
    expect_refused("r.md", b.p, b.len,
                   "r.md:102: action_items: at most 100 entries (this list has 101)");
    ks_buf_reset(&b);
    ks_buf_puts(&b, "whys:\n  - a\n  - ");
    for (int i = 0; i < 8193; i++) {
        ks_buf_putc(&b, 'x');
    }
    ks_buf_puts(&b, "\n");
    expect_refused("r.md", b.p, b.len,
                   "r.md:3: whys[1]: at most 8192 bytes of text (this one has 8193)");
    ks_buf_reset(&b);
    ks_buf_puts(&b, "---\nwhys: [a]\n---\n\n");
    for (int i = 0; i < 65537; i++) {
        ks_buf_putc(&b, 'n');
    }
    expect_refused("r.md", b.p, b.len,
                   "r.md:5: the notes (the text after the front matter) are at most 65536 bytes "
                   "(these have 65537)");
    ks_buf_reset(&b);
    ks_buf_puts(&b, "whys: [a]\n#");
    while (b.len <= 1048576) {
        ks_buf_putc(&b, 'c');
    }
    expect_refused("r.md", b.p, b.len,
                   "r.md:1: a review is at most 1048576 bytes (1 MiB); this one has 1048577");
    /* at the limits: taken */
    ks_buf_reset(&b);
    ks_buf_puts(&b, "whys: [");
    for (int i = 0; i < 100; i++) {
        ks_buf_printf(&b, "%sw%d", i ? ", " : "", i);
    }
    ks_buf_puts(&b, "]\nroot_cause: {text: ");
    for (int i = 0; i < 8192; i++) {
        ks_buf_putc(&b, 'x');
    }
    ks_buf_puts(&b, "}\n");
    struct ks_review_doc d;
    struct ks_err err = {0};
    CHECK_INT(ks_review_parse("r.md", b.p, b.len, &d, &err), KS_OK);
    CHECK_INT((int)d.nwhys, 100);
    CHECK_INT((int)strlen(d.cause), 8192);
    ks_review_doc_fini(&d);
    ks_buf_fini(&b);
}

/* The JSON `review show --json` writes of a review with every key in use
 * (action items open, done and dropped, with owners, due dates and notes)
 * sets the same review again: every read-only key, at the top and in each
 * action item, is ignored, and nothing changes. */
static void show_json_sets_the_same_review_again(void)
{
    struct ks_store *s = mem();
    put(s, 1, "P1",
        "\"detected_at\":\"2026-11-22T10:00:00.000Z\",\"resolved_at\":\"2026-11-22T11:00:00.000Z\","
        "\"review_due\":\"2026-11-24T11:00:00.000Z\",\"repeat_of\":null,"
        "\"impact\":{\"orders\":3,\"customers\":2,\"revenue\":10.5,\"units\":4},"
        "\"signals\":[{\"kind\":\"health\",\"system\":\"wms\"}],"
        "\"timeline\":[{\"at\":\"2026-11-22T10:00:00.000Z\",\"kind\":\"note\",\"actor\":\"bob\","
        "\"text\":\"seen\"},{\"at\":\"2026-11-22T10:01:00.000Z\",\"kind\":\"action\","
        "\"actor\":\"kintsugi\",\"text\":\"held\"}]");
    const char *rich =
        "---\n"
        "root_cause: {category: system, known_risk: true,\n"
        "  text: \"the certificate expired: \\\"nobody\\\" owned it\"}\n"
        "whys: [the WMS refused TLS, its certificate expired, renewal was manual, \"42\"]\n"
        "went_well: [fast detection]\n"
        "improve: [alert on expiry, \"t\\u00e9l\\u00e9phone\"]\n"
        "action_items:\n"
        "  - {text: automate renewal, owner: bob, due: 2026-11-30, kind: prevention}\n"
        "  - {text: alert early, owner: carol, due: 2026-11-23T12:00:00Z, kind: systematic}\n"
        "  - {text: renew by hand, owner: dave, kind: immediate}\n"
        "  - {text: audit every certificate, kind: systematic}\n"
        "---\n"
        "# Notes\n\nThe \"renewal\" job\tfailed.\n";
    CHECK_INT(set_review(s, 1, rich), 0);
    struct ks_err err = {0};
    struct ks_review_item *it = NULL;
    size_t n = 0;
    int64_t inc = 0;
    CHECK_INT(ks_review_item_close(s, 3, "done", "dave", "renewed", T("2026-11-22T12:30:00Z"), &inc,
                                   &it, &n, &err),
              KS_OK);
    ks_free(it);
    CHECK_INT(ks_review_item_close(s, 4, "drop", "carol", NULL, T("2026-11-22T12:40:00Z"), &inc,
                                   &it, &n, &err),
              KS_OK);
    ks_free(it);
    struct ks_review_set *l = NULL;
    struct ks_buf before = {0}, after = {0};
    CHECK_INT(ks_review_load(s, &cfg, T("2026-12-01T00:00:00Z"), &l, &err), KS_OK);
    CHECK_INT(ks_review_show_json(l, 1, &before, &err), KS_OK);
    ks_review_free(l);
    /* every key of the JSON is there: the items' incident and overdue too */
    CHECK(strstr(before.p, "\"incident\":1,\"text\":\"renew by hand\"") != NULL);
    CHECK(strstr(before.p, "\"overdue\":true") != NULL);
    CHECK(strstr(before.p, "\"closed_by\":\"dave\"") != NULL);
    struct ks_review_doc d;
    if (ks_review_parse("show.json", before.p, before.len, &d, &err) != KS_OK) {
        fprintf(stderr, "  %s\n", err.msg);
    }
    CHECK_INT(err.rc, KS_OK);
    CHECK_INT((int)d.nitems, 4);
    ks_review_doc_fini(&d);
    CHECK_INT(set_review(s, 1, before.p), 0);
    CHECK_INT(ks_review_load(s, &cfg, T("2026-12-01T00:00:00Z"), &l, &err), KS_OK);
    CHECK_INT(ks_review_show_json(l, 1, &after, &err), KS_OK);
    ks_review_free(l);
    CHECK_STR(after.p, before.p);
    ks_buf_fini(&before);
    ks_buf_fini(&after);
    done(s);
}

/* `cost set` and POST .../cost check a part and an amount before anything
 * else: an unknown part and an amount past the documented maximum are
 * usage errors that say which. */
static void cost_parts_and_amounts_are_checked(void)
{
    struct ks_err err = {0};
    CHECK_INT(ks_review_cost_check("brand", 0, &err), KS_OK);
    CHECK_INT(ks_review_cost_check("brand", 1e15, &err), KS_OK);
    CHECK_INT(ks_review_cost_check("bogus", 5, &err), KS_EUSAGE);
    CHECK_STR(err.msg, "unknown cost part 'bogus' (use direct, response, churn, repeats or brand)");
    CHECK_INT(ks_review_cost_check("brand", 1e308, &err), KS_EUSAGE);
    CHECK_STR(err.msg, "an amount is at most 1000000000000000 (10^15), the largest a cost part "
                       "takes");
    CHECK_INT(ks_review_cost_check("brand", -1, &err), KS_EUSAGE);
    CHECK_INT(ks_review_cost_check("brand", NAN, &err), KS_EUSAGE);
}

/* The playbook's worked example (SPEC 7): $2,500 direct grew to $41,750 in
 * total, 16.7 x - $3,000 of response (24 h of a $125 role), 15 % of 500
 * customers at $250 = $18,750 of churn, three repeats at $2,500, $10,000 of
 * brand damage. */
static void the_worked_cost_example_adds_up(void)
{
    struct ks_store *s = mem();
    struct ks_role role = {.name = "lead", .hourly_rate = 125};
    cfg.roles = &role;
    cfg.nroles = 1;
    cfg.people = (struct ks_person[]){{"alice", "lead", NULL, NULL}};
    cfg.npeople = 1;
    put(s, 1, "P1",
        "\"detected_at\":\"2026-11-22T10:00:00.000Z\",\"resolved_at\":\"2026-11-23T10:00:00.000Z\","
        "\"impact\":{\"orders\":0,\"customers\":500,\"revenue\":2500.0,\"units\":0},"
        "\"timeline\":[{\"at\":\"2026-11-22T10:00:00.000Z\",\"kind\":\"note\",\"actor\":\"alice\","
        "\"text\":\"a\"},{\"at\":\"2026-11-23T10:00:00.000Z\",\"kind\":\"note\",\"actor\":\"alice\","
        "\"text\":\"b\"}]");
    for (int64_t i = 2; i <= 4; i++) {
        put(s, i, "P3", "\"repeat_of\":1,\"impact\":{\"orders\":0,\"customers\":0,\"revenue\":2500.0}");
    }
    struct ks_err err = {0};
    CHECK_INT(ks_review_cost_set(s, 1, "brand", 10000, "alice", 0, &err), KS_OK);
    struct ks_review_set *l = NULL;
    CHECK_INT(ks_review_load(s, &cfg, T("2026-11-25T00:00:00Z"), &l, &err), KS_OK);
    struct ks_buf b = {0};
    CHECK_INT(ks_review_cost_json(l, 1, &b, &err), KS_OK);
    CHECK(strstr(b.p, "\"direct\":2500,\"response\":3000,\"churn\":18750,\"repeats\":7500,"
                      "\"brand\":10000,\"total\":41750,\"multiplier\":16.7,") != NULL);
    ks_buf_fini(&b);
    ks_review_free(l);
    CHECK_INT(ks_review_cost_set(s, 1, "goodwill", 1, "alice", 0, &err), KS_EUSAGE);
    CHECK_INT(ks_review_cost_set(s, 1, "brand", 5.001, "alice", 0, &err), KS_EUSAGE);
    CHECK(strstr(err.msg, "at most two decimals") != NULL);
    cfg.roles = NULL;
    cfg.nroles = 0;
    cfg.people = NULL;
    cfg.npeople = 0;
    done(s);
}

static const char *metric(const char *report, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":{", key);
    const char *p = strstr(report, pat);
    const char *e = p ? strchr(p, '}') : NULL;
    snprintf(out, cap, "%.*s", p ? (int)(e - p + 1) : 0, p ? p : "");
    return out;
}

/* Three incidents: 1 has every timestamp, 2 lacks acknowledgement and
 * containment (and told no customer: its notice had no receiver), 3 is a
 * repeat and lacks resolution. */
static void every_metric_on_a_constructed_set(void)
{
    struct ks_store *s = mem();
    put(s, 1, "P1",
        "\"started_at\":\"2026-11-22T09:50:00.000Z\",\"detected_at\":\"2026-11-22T10:00:00.000Z\","
        "\"acknowledged_at\":\"2026-11-22T10:10:00.000Z\",\"contained_at\":\"2026-11-22T10:30:00.000Z\","
        "\"resolved_at\":\"2026-11-22T14:00:00.000Z\",\"returned_customers\":9,"
        "\"feedback\":{\"count\":4,\"satisfied\":3},"
        "\"impact\":{\"orders\":10,\"customers\":10,\"revenue\":1000.0,\"units\":10},"
        "\"timeline\":[{\"at\":\"2026-11-22T11:00:00.000Z\",\"kind\":\"note\",\"actor\":\"bob\","
        "\"text\":\"Customers notified by e-mail\"}]");
    put(s, 2, "P2",
        "\"started_at\":\"2026-11-22T11:00:00.000Z\",\"detected_at\":\"2026-11-22T11:30:00.000Z\","
        "\"resolved_at\":\"2026-11-22T12:30:00.000Z\","
        "\"impact\":{\"orders\":0,\"customers\":0,\"revenue\":0.0,\"units\":0},"
        "\"timeline\":[{\"at\":\"2026-11-22T11:30:00.000Z\",\"kind\":\"sla\",\"actor\":\"kintsugi\","
        "\"text\":\"Acknowledgement SLA missed: ...\"},"
        /* the trigger fired with no customer receiver: nobody was told */
        "{\"at\":\"2026-11-22T11:40:00.000Z\",\"kind\":\"notification\",\"actor\":\"kintsugi\","
        "\"text\":\"Customer notices: more than 50 customers affected; one per affected order "
        "with an e-mail, the first 10m after detection: no receiver for the customer audience "
        "(notify.customer in kintsugi.yaml); nothing sent\"}]");
    put(s, 3, "P2",
        "\"started_at\":\"2026-11-29T10:00:00.000Z\",\"detected_at\":\"2026-11-29T10:05:00.000Z\","
        "\"acknowledged_at\":\"2026-11-29T10:35:00.000Z\",\"contained_at\":\"2026-11-29T10:15:00.000Z\","
        "\"repeat_of\":1,\"impact\":{\"orders\":0,\"customers\":0,\"revenue\":500.0,\"units\":0},"
        "\"timeline\":[]");
    CHECK_INT(set_review(s, 1, good), 0); /* root cause at 12:00, one item */
    struct ks_err err = {0};
    struct ks_review_item *it = NULL;
    size_t n = 0;
    int64_t inc = 0;
    CHECK_INT(ks_review_item_close(s, 1, "done", "dave", NULL, T("2026-11-23T10:00:00Z"), &inc,
                                   &it, &n, &err),
              KS_OK);
    ks_free(it);
    CHECK_INT(inc, 1);
    struct ks_review_set *l = NULL;
    CHECK_INT(ks_review_load(s, &cfg, T("2026-12-23T14:00:00.001Z"), &l, &err), KS_OK);
    struct ks_report_opts o = {KS_TIME_NONE, KS_TIME_NONE, NULL};
    struct ks_buf a = {0}, b = {0};
    CHECK_INT(ks_review_report_json(l, &o, &a, &err), KS_OK);
    CHECK_INT(ks_review_report_json(l, &o, &b, &err), KS_OK);
    CHECK_STR(a.p, b.p);
    char m[512];
    CHECK_STR(metric(a.p, "initial_response", m, sizeof(m)),
              "\"initial_response\":{\"value\":1200,\"unit\":\"seconds\",\"target\":7200,"
              "\"met\":true,\"count\":2,\"missing\":[2]}");
    CHECK_STR(metric(a.p, "customer_communication", m, sizeof(m)),
              "\"customer_communication\":{\"value\":3600,\"unit\":\"seconds\",\"target\":14400,"
              "\"met\":true,\"count\":1,\"missing\":[2,3]}");
    CHECK_STR(metric(a.p, "root_cause", m, sizeof(m)),
              "\"root_cause\":{\"value\":7200,\"unit\":\"seconds\",\"target\":86400,\"met\":true,"
              "\"count\":1,\"missing\":[2,3]}");
    CHECK_STR(metric(a.p, "process_fix", m, sizeof(m)),
              "\"process_fix\":{\"value\":86400,\"unit\":\"seconds\",\"target\":172800,"
              "\"met\":true,\"count\":1,\"missing\":[2,3]}");
    CHECK_STR(metric(a.p, "detection_gap", m, sizeof(m)),
              "\"detection_gap\":{\"value\":600,\"unit\":\"seconds\",\"target\":null,\"met\":null,"
              "\"count\":3,\"missing\":[]}");
    CHECK_STR(metric(a.p, "contain", m, sizeof(m)),
              "\"contain\":{\"value\":1200,\"unit\":\"seconds\",\"target\":null,\"met\":null,"
              "\"count\":2,\"missing\":[2]}");
    CHECK_STR(metric(a.p, "resolve", m, sizeof(m)),
              "\"resolve\":{\"value\":9000,\"unit\":\"seconds\",\"target\":null,\"met\":null,"
              "\"count\":2,\"missing\":[3]}");
    CHECK_STR(metric(a.p, "sla_attainment", m, sizeof(m)),
              "\"sla_attainment\":{\"value\":0.6667,\"unit\":\"ratio\",\"target\":1,\"met\":false,"
              "\"count\":3,\"missing\":[]}");
    CHECK_STR(metric(a.p, "repeat_rate", m, sizeof(m)),
              "\"repeat_rate\":{\"value\":0.3333,\"unit\":\"ratio\",\"target\":0.05,\"met\":false,"
              "\"count\":3,\"missing\":[]}");
    CHECK_STR(metric(a.p, "action_item_completion", m, sizeof(m)),
              "\"action_item_completion\":{\"value\":1,\"unit\":\"ratio\",\"target\":1,"
              "\"met\":true,\"count\":1,\"missing\":[]}");
    CHECK_STR(metric(a.p, "satisfaction", m, sizeof(m)),
              "\"satisfaction\":{\"value\":0.75,\"unit\":\"ratio\",\"target\":0.8,\"met\":false,"
              "\"count\":4,\"missing\":[]}");
    CHECK_STR(metric(a.p, "retention", m, sizeof(m)),
              "\"retention\":{\"value\":0.9,\"unit\":\"ratio\",\"target\":0.9,\"met\":false,"
              "\"count\":10,\"missing\":[]}");
    /* resolve: the median of 4 h (1) and 1 h (2) is 9000 s. cost_multiplier: 1 costs
     * 1000 direct + 25 response (bob, at least 30 min at 50) + 250 churn (1 of 10
     * customers lost, x 250) + 500 (the direct cost of its repeat 3) = 1775; 3 costs
     * 500 direct; 2 has no direct cost. (1775 + 500) / (1000 + 500) = 1.5167. */
    CHECK_STR(metric(a.p, "cost_multiplier", m, sizeof(m)),
              "\"cost_multiplier\":{\"value\":1.5167,\"unit\":\"times\",\"target\":1.5,"
              "\"met\":false,\"count\":2,\"missing\":[2]}");
    o.since = T("2026-11-29T00:00:00Z");
    o.by = "week";
    ks_buf_reset(&b);
    CHECK_INT(ks_review_report_json(l, &o, &b, &err), KS_OK);
    CHECK(strstr(b.p, "\"incidents\":1,") != NULL);
    CHECK(strstr(b.p, "\"groups\":[{\"key\":\"2026-W48\",\"incidents\":1,") != NULL);
    ks_buf_fini(&a);
    ks_buf_fini(&b);
    ks_review_free(l);
    done(s);
}

int main(void)
{
    ks_config_defaults(&cfg);
    RUN_BOTH(a_complete_review_raises_no_flag);
    RUN_BOTH(each_shallow_flag_is_raised_by_exactly_its_input);
    RUN_BOTH(review_overdue_is_raised_only_after_its_due_time_without_a_review);
    RUN(parse_errors_name_their_line);
    RUN(texts_are_strings_and_booleans_are_booleans);
    RUN(markdown_notes_must_be_utf8);
    RUN(json_syntax_errors_say_json);
    RUN(a_review_has_limits);
    RUN_BOTH(show_json_sets_the_same_review_again);
    RUN(cost_parts_and_amounts_are_checked);
    RUN_BOTH(the_worked_cost_example_adds_up);
    RUN_BOTH(every_metric_on_a_constructed_set);
    return t_done();
}
