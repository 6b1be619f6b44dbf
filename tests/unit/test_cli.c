/*
 * test_cli.c - the helpers commands share (src/cli/args.c): --wait, finding
 * a verb; and the usage errors of the commands that use them, which stop
 * before any database is opened.
 */
#include "../../src/cli/cli.h"
#include "slurp.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long live_before;
#define LEAK_START() (live_before = ks_alloc_live())
#define LEAK_END() CHECK_INT(ks_alloc_live(), live_before)

/* Runs cmd(argc, argv) with stderr in a file; returns its exit code and
 * puts what it wrote to stderr in err. */
static int run_cmd(int (*cmd)(int, char **), int argc, char **argv, struct ks_buf *err)
{
    char pe[] = "/tmp/ks_test_cli_errXXXXXX";
    int fe = mkstemp(pe);
    fflush(stderr);
    int se = dup(2);
    dup2(fe, 2);
    int rc = cmd(argc, argv);
    fflush(stderr);
    dup2(se, 2);
    close(se);
    close(fe);
    size_t n;
    char *s = t_slurp(pe, &n);
    ks_buf_reset(err);
    ks_buf_put(err, s, n);
    ks_free(s);
    unlink(pe);
    return rc;
}

/* The first line of what a command wrote to stderr. */
static const char *first_line(struct ks_buf *err, char *out, size_t cap)
{
    size_t n = 0;
    while (err->p && n < err->len && err->p[n] != '\n' && n + 1 < cap) {
        out[n] = err->p[n];
        n++;
    }
    out[n] = '\0';
    return out;
}

static void wait_is_30s_unless_given_as_a_duration(void)
{
    ks_time w = 0;
    CHECK_INT(ks_cli_wait(NULL, &w), 0);
    CHECK_INT(w, 30 * KS_SEC);
    CHECK_INT(ks_cli_wait("2m", &w), 0);
    CHECK_INT(w, 2 * KS_MIN);
    CHECK_INT(ks_cli_wait("20s", &w), 0);
    CHECK_INT(w, 20 * KS_SEC);
}

static void a_verb_is_found_by_its_whole_name(void)
{
    static const struct ks_cli_verb verbs[] = {
        {"show", 1, "ID"}, {"status", 2, "ID STATUS"}, {"list", 0, NULL}};
    CHECK_INT(ks_cli_verb(verbs, 3, "show"), 0);
    CHECK_INT(ks_cli_verb(verbs, 3, "status"), 1);
    CHECK_INT(ks_cli_verb(verbs, 3, "list"), 2);
    CHECK_INT(ks_cli_verb(verbs, 3, "sho"), -1);
    CHECK_INT(ks_cli_verb(verbs, 3, "shows"), -1);
    CHECK_INT(ks_cli_verb(verbs, 3, "SHOW"), -1);
    CHECK_INT(ks_cli_verb(verbs, 3, ""), -1);
    CHECK_INT(ks_cli_verb(verbs, 3, NULL), -1);
    CHECK_INT(ks_cli_verb(verbs, 2, "list"), -1);
}

/* "--" ends the options: what follows is an argument however it starts
 * ("-5 units were missing", "--by"); options before it still count. */
static void double_dash_ends_the_options(void)
{
    struct ks_opt opts[] = {{"by", 1, "who", 0, NULL}, {"json", 0, "json", 0, NULL}};
    const struct ks_cmd_spec spec = {"kintsugi t", "t", NULL, opts, 2};
    char *argv[] = {"note", "--by", "bob", "1", "--", "-5 units were missing", "--json", "-", "--"};
    char *args[9];
    int nargs = -1;
    CHECK_INT(ks_cli_parse(&spec, 9, argv, args, &nargs), KS_EXIT_OK);
    CHECK_INT(nargs, 6);
    CHECK_STR(args[0], "note");
    CHECK_STR(args[1], "1");
    CHECK_STR(args[2], "-5 units were missing");
    CHECK_STR(args[3], "--json");
    CHECK_STR(args[4], "-");
    CHECK_STR(args[5], "--");
    CHECK_STR(opts[0].value, "bob");
    CHECK_INT(opts[1].set, 0);
}

/* What the terminal filter makes of in, written in one call or split in
 * two at every byte (a UTF-8 sequence cut by a write waits for the next). */
static void check_term(const char *in, const char *want)
{
    size_t n = strlen(in);
    for (size_t cut = 0; cut <= n; cut++) {
        struct ks_cli_term t = {0};
        char out[2 * 64 + 8];
        CHECK(n <= 64);
        size_t m = ks_cli_term_put(&t, in, cut, out);
        m += ks_cli_term_put(&t, in + cut, n - cut, out + m);
        out[m] = 0;
        if (strcmp(out, want) != 0) {
            fprintf(stderr, "  cut at %zu\n", cut);
            CHECK_STR(out, want);
            return;
        }
    }
}

/* Standard output is filtered so that no text from an event or a person
 * can drive a terminal: C0 controls (ESC) but newline and tab, DEL, C1
 * controls (C2 9B is CSI) and bytes that are not UTF-8 (a lone 9B is CSI to
 * a Latin-1 terminal) become '?'; UTF-8 text passes unchanged. */
static void terminal_output_has_no_control_characters(void)
{
    check_term("plain text\n\ttab", "plain text\n\ttab");
    check_term("esc: \x1b[31mRED\r", "esc: ?[31mRED?");
    check_term("c1: \xc2\x9b"
               "31mRED",
               "c1: ?31mRED");
    check_term("c1: \xc2\x80\xc2\x85\xc2\x9f", "c1: ???");
    check_term("raw: \x9b"
               "31m",
               "raw: ?31m");
    check_term("del: \x7f", "del: ?");
    check_term("Zo\xc3\xab \xc2\xa0 \xe2\x82\xac \xf0\x9f\x98\x80",
               "Zo\xc3\xab \xc2\xa0 \xe2\x82\xac \xf0\x9f\x98\x80");
    check_term("overlong \xc0\xaf, surrogate \xed\xa0\x80, cut \xe2\x82x",
               "overlong ??, surrogate ???, cut ?x");
    check_term("\xff\xfe", "??");
    /* the one-line form: the same, and tab, CR and LF are spaces */
    CHECK_STR(ks_cli_safe("a\tb\nc\xc2\x9b"
                          "d\x9b"
                          "e\x1b"),
              "a b c?d?e?");
    CHECK_STR(ks_cli_safe("Zo\xc3\xab"), "Zo\xc3\xab");
    CHECK_STR(ks_cli_safe("cut \xe2\x82"), "cut ?");
}

/* A command line that stops with a usage error before any database is
 * opened, and the first line it writes to stderr. */
struct usage_case {
    int (*cmd)(int, char **);
    char *argv[4]; /* ended by NULL */
    const char *first_line;
};

static const struct usage_case usage_cases[] = {
    /* --wait */
    {ks_cmd_hooks,
     {"deliver", "--wait", "5q"},
     "kintsugi: --wait '5q' is not a duration (e.g. 30s, 2m)"},
    {ks_cmd_messages,
     {"deliver", "--wait", "xx"},
     "kintsugi: --wait 'xx' is not a duration (e.g. 30s, 2m)"},
    /* the number of words after each verb, as the commands' messages say */
    {ks_cmd_messages, {"list", "x"}, "kintsugi: 'messages list' takes no argument"},
    {ks_cmd_messages, {"retry"}, "kintsugi: 'messages retry' takes one argument"},
    {ks_cmd_messages,
     {"frob"},
     "kintsugi: unknown messages command 'frob': use list, deliver, retry ID, retry-failed, "
     "preview INCIDENT --template T, receivers or test RECEIVER"},
    {ks_cmd_messages, {"receivers", "x"}, "kintsugi: 'messages receivers' takes no argument"},
    {ks_cmd_messages, {"test"}, "kintsugi: 'messages test' takes one argument"},
    {ks_cmd_messages, {"retry-failed", "x"}, "kintsugi: 'messages retry-failed' takes no argument"},
    {ks_cmd_messages,
     {"retry-failed", "--status", "sent"},
     "kintsugi: retry-failed takes the failed messages: leave --status out"},
    {ks_cmd_review, {"show"}, "kintsugi: wrong number of arguments for 'review show'"},
    {ks_cmd_review, {"items", "1"}, "kintsugi: wrong number of arguments for 'review items'"},
    {ks_cmd_review,
     {"frob"},
     "kintsugi: review needs a verb: show, edit, set, items, item or flags"},
    {ks_cmd_review, {"show", "abc"}, "kintsugi: 'abc' is not an id (a positive integer)"},
    {ks_cmd_incident,
     {"status", "1"},
     "kintsugi: wrong number of arguments for 'incident status': it takes ID STATUS"},
    {ks_cmd_incident,
     {"step", "1", "2"},
     "kintsugi: wrong number of arguments for 'incident step': it takes ID STEP done|skip"},
    {ks_cmd_incident,
     {"show", "abc"},
     "kintsugi: 'abc' is not an incident id (a whole number from 1 to 9223372036854775807)"},
    /* text that starts with '-' is taken for an option unless "--" comes first */
    {ks_cmd_incident,
     {"note", "1", "-5 units were missing"},
     "kintsugi: unknown option '-5 units were missing' (options are spelled --name; an argument "
     "that starts with '-' goes after '--', which ends the options; see --help)"},
    {ks_cmd_incident,
     {NULL},
     "kintsugi: incident needs a verb: show, verify, ack, status, note, assign or step"},
};

static void usage_errors_name_the_verb_and_what_it_takes(void)
{
    LEAK_START();
    struct ks_buf err = {0};
    char line[256];
    for (size_t i = 0; i < sizeof(usage_cases) / sizeof(usage_cases[0]); i++) {
        const struct usage_case *uc = &usage_cases[i];
        char *argv[4];
        int argc = 0;
        while (argc < 4 && uc->argv[argc]) {
            argv[argc] = uc->argv[argc];
            argc++;
        }
        CHECK_INT(run_cmd(uc->cmd, argc, argv, &err), KS_EXIT_USAGE);
        CHECK_STR(first_line(&err, line, sizeof(line)), uc->first_line);
    }
    ks_buf_fini(&err);
    LEAK_END();
}

int main(void)
{
    RUN(wait_is_30s_unless_given_as_a_duration);
    RUN(a_verb_is_found_by_its_whole_name);
    RUN(double_dash_ends_the_options);
    RUN(terminal_output_has_no_control_characters);
    RUN(usage_errors_name_the_verb_and_what_it_takes);
    return t_done();
}
