/*
 * cmd_review.c - `kintsugi review show|edit|set|items|item|flags`: the
 * post-incident review of an incident, drafted from the record and written
 * by people (docs/REVIEWS.md). Reading commands read the store; writing ones
 * change the review in the store and tell the engine what it must know
 * (due dates and closures of action items), in one transaction.
 */
#include "learn.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct ks_opt opts[] = {
    {"db", 1, "SQLite file or postgresql:// URI (default: ./kintsugi.db)", 0, NULL},
    {"config", 1, "configuration file (default: $KINTSUGI_CONFIG or ./kintsugi.yaml)", 0, NULL},
    {"json", 0, "show, items, flags: JSON on stdout", 0, NULL},
    {"markdown", 0, "show: the review as Markdown", 0, NULL},
    {"file", 1, "set: the review (Markdown with YAML front matter, or YAML)", 0, NULL},
    {"by", 1, "edit, set, item: who does it (required)", 0, NULL},
    {"at", 1, "when it was done (RFC 3339; default: the engine clock, the last event time)", 0,
     NULL},
    {"note", 1, "item: a note kept with the closed item", 0, NULL},
    {"open", 0, "items: only open items", 0, NULL},
    {"owner", 1, "items: only this owner's items", 0, NULL},
    {"overdue", 0, "items: only open items past their due date", 0, NULL},
    {"now", 1, "judge overdue items and reviews at this time (default: the engine clock)", 0,
     NULL},
};
static const struct ks_cmd_spec spec = {
    "kintsugi review show ID [--json|--markdown] | edit ID --by NAME |\n"
    "       set ID --file F --by NAME | items [--open] [--owner NAME] [--overdue] [--json] |\n"
    "       item ITEM done|drop --by NAME [--note TEXT] | flags [--json]   [--db F]",
    "Post-incident reviews: the draft from the record, what people wrote, action items\n"
    "chased to closure, and the flags of shallow reviews.",
    "A review has: root_cause {category: process|system|human|environmental, text,\n"
    "known_risk}, whys (five), went_well, improve, action_items [{text, owner, due, kind:\n"
    "immediate|systematic|prevention}]. `edit` opens $EDITOR (else vi) on it as Markdown\n"
    "with a YAML front matter; `set` reads the same from a file (or plain YAML, or the JSON\n"
    "of `show --json`). A review is set whole: a key left out of the file is emptied, an\n"
    "action item left out deleted (what was emptied is said on stderr). Bad input is\n"
    "refused with its line and changes nothing; `edit` saves nothing when the text is\n"
    "left unchanged, and refuses a review emptied of everything. A review is due 48 h\n"
    "after resolution for P1 and P2, and for a monthly sample of P3 (docs/REVIEWS.md).\n\n"
    "examples:\n"
    "  kintsugi review show 3 --markdown\n"
    "  kintsugi review edit 3 --by alice\n"
    "  kintsugi review set 3 --file review-3.md --by alice\n"
    "  kintsugi review items --open --owner bob\n"
    "  kintsugi review item 7 done --by bob --note 'alert added'\n"
    "  kintsugi review flags\n\n"
    "exit status: 0 done, 1 not found, refused or bad review, 2 usage error.",
    opts, sizeof(opts) / sizeof(opts[0])};

/* ---- shared by review, report, cost ------------------------------------------------ */

int ks_learn_parse_id(const char *s, int64_t *id)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < 1) {
        ks_cli_error("'%s' is not an id (a positive integer)", s);
        return -1;
    }
    *id = v;
    return 0;
}

ks_time ks_learn_clock(struct ks_shell *a)
{
    return ks_shell_saved_clock(a->store);
}

int ks_learn_open(struct ks_shell *a, const char *config, const char *db, const char *now_opt,
                  struct ks_review_set **set)
{
    ks_time now = KS_TIME_NONE;
    if (ks_cli_time("now", now_opt, &now) != 0) {
        return KS_EXIT_USAGE;
    }
    int rc = ks_shell_open(a, config, db, 0);
    if (rc != 0) {
        return rc;
    }
    if (now == KS_TIME_NONE) {
        now = ks_learn_clock(a);
    }
    struct ks_err err = {0};
    if (ks_review_load(a->store, &a->cfg, now, set, &err) != KS_OK) {
        ks_cli_error("%s", err.msg);
        ks_shell_close(a);
        return KS_EXIT_FAIL;
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------------------ */

struct write_ctx {
    int64_t id;
    const struct ks_review_doc *doc;
    const char *verb; /* item: done | drop */
    const char *by, *note;
    ks_time at;
    int64_t item;
    struct ks_review_cleared cleared; /* set: what it emptied */
};

static ks_time stamp(struct ks_shell *a, ks_time at)
{
    ks_time c = ks_engine_clock(a->eng);
    return at != KS_TIME_NONE && (c == KS_TIME_NONE || at > c) ? at : c;
}

static enum ks_rc write_review(struct ks_shell *a, void *ctx, struct ks_err *err)
{
    struct write_ctx *c = ctx;
    ks_review_cleared_fini(&c->cleared); /* a flush tried again starts over */
    return ks_review_apply_set(a->store, a->eng, c->id, c->doc, c->by, c->at, &c->cleared, err);
}

static enum ks_rc write_item(struct ks_shell *a, void *ctx, struct ks_err *err)
{
    struct write_ctx *c = ctx;
    return ks_review_apply_item(a->store, a->eng, c->item, c->verb, c->by, c->note, c->at, 0,
                                &c->id, err);
}

static int read_file(const char *path, struct ks_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        ks_cli_error("%s: %s", path, strerror(errno));
        return -1;
    }
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        ks_buf_put(out, buf, n);
    }
    fclose(f);
    return 0;
}

/* A review is set whole: what had content and is gone now (a key left out
 * of the file, an action item no longer in it) is said on stderr. */
static void warn_cleared(const struct ks_review_cleared *c)
{
    if (!c->nfields && !c->nitems) {
        return;
    }
    fprintf(stderr, "kintsugi: the review is set whole:");
    if (c->nfields) {
        fprintf(stderr, " emptied");
        for (size_t i = 0; i < c->nfields; i++) {
            fprintf(stderr, "%s %s", i ? "," : "", c->fields[i]);
        }
        fprintf(stderr, " (left out of the file or given empty)%s", c->nitems ? ";" : "");
    }
    if (c->nitems) {
        fprintf(stderr, " deleted action item%s", c->nitems == 1 ? "" : "s");
        for (size_t i = 0; i < c->nitems; i++) {
            fprintf(stderr, "%s %lld", i ? "," : "", (long long)c->items[i]);
        }
        if (c->closed) {
            if (c->nitems == 1) {
                fprintf(stderr, " (closed: done or dropped)");
            } else {
                fprintf(stderr, " (%zu of them closed: done or dropped)", c->closed);
            }
        }
    }
    fprintf(stderr, "\n");
}

/* Applies a parsed review (set and edit). */
static int apply_review(const char *config, const char *db, int64_t id,
                        const struct ks_review_doc *doc, const char *by, ks_time at)
{
    struct ks_shell a;
    int rc = ks_shell_open(&a, config, db, KS_SHELL_ENGINE);
    if (rc != 0) {
        return rc;
    }
    struct write_ctx c = {.id = id, .doc = doc, .by = by, .at = stamp(&a, at)};
    rc = ks_shell_flush_with(&a, 1, write_review, &c);
    if (rc == 0) {
        printf("review of incident %lld saved by %s (%zu action item%s)\n", (long long)id, by,
               doc->nitems, doc->nitems == 1 ? "" : "s");
        fflush(stdout);
        warn_cleared(&c.cleared);
    }
    ks_review_cleared_fini(&c.cleared);
    ks_shell_close(&a);
    return rc;
}

static int edit_loop(const char *config, const char *db, int64_t id, const char *by, ks_time at,
                     const char *path, const struct ks_buf *text);

/* `review edit`: the review as Markdown in $EDITOR, applied when saved. */
static int edit_review(const char *config, const char *db, int64_t id, const char *by,
                       ks_time at)
{
    struct ks_shell a;
    struct ks_review_set *set = NULL;
    int rc = ks_learn_open(&a, config, db, NULL, &set);
    if (rc != 0) {
        return rc;
    }
    struct ks_buf text = {0};
    struct ks_err err = {0};
    if (ks_review_template(set, id, &text, &err) != KS_OK) {
        ks_cli_error("%s", err.msg);
        rc = KS_EXIT_FAIL;
    }
    ks_review_free(set);
    ks_shell_close(&a);
    if (rc != 0) {
        ks_buf_fini(&text);
        return rc;
    }
    char path[] = "/tmp/kintsugi-review-XXXXXX.md";
    int fd = mkstemps(path, 3);
    if (fd < 0 || write(fd, text.p, text.len) != (ssize_t)text.len) {
        ks_cli_error("cannot write a temporary file: %s", strerror(errno));
        ks_buf_fini(&text);
        return KS_EXIT_FAIL;
    }
    close(fd);
    rc = edit_loop(config, db, id, by, at, path, &text);
    ks_buf_fini(&text);
    return rc;
}

/* Runs the editor on path (written with text) until what it saved is
 * unchanged (nothing saved), a review to apply, or given up. */
static int edit_loop(const char *config, const char *db, int64_t id, const char *by, ks_time at,
                     const char *path, const struct ks_buf *text)
{
    struct ks_err err = {0};
    int rc;
    const char *editor = getenv("VISUAL");
    if (!editor || !*editor) {
        editor = getenv("EDITOR");
    }
    if (!editor || !*editor) {
        editor = "vi";
    }
    for (;;) {
        struct ks_buf cmd = {0};
        ks_buf_printf(&cmd, "%s '%s'", editor, path);
        int st = system(cmd.p);
        ks_buf_fini(&cmd);
        if (st != 0) {
            ks_cli_error("the editor (%s) failed; the review is unchanged (kept in %s)", editor,
                         path);
            return KS_EXIT_FAIL;
        }
        struct ks_buf in = {0};
        if (read_file(path, &in) != 0) {
            return KS_EXIT_FAIL;
        }
        if (in.len == text->len && (!in.len || memcmp(in.p, text->p, in.len) == 0)) {
            /* The editor left the text as it was: saving it would record an
             * edit nobody made (and an empty review as a written one). */
            ks_buf_fini(&in);
            unlink(path);
            printf("review unchanged, nothing saved\n");
            return KS_EXIT_OK;
        }
        struct ks_review_doc doc;
        enum ks_rc prc = ks_review_parse(path, in.p ? in.p : "", in.len, &doc, &err);
        if (prc == KS_OK && ks_review_doc_empty(&doc)) {
            /* as `review set` refuses a document that sets nothing */
            ks_review_doc_fini(&doc);
            ks_err_set(&err, KS_EINPUT,
                       "%s:1: the review holds nothing (no root_cause, whys, went_well, improve, "
                       "action_items or notes): saving it would empty the review; write what it "
                       "should hold",
                       path);
            prc = KS_EINPUT;
        }
        if (prc != KS_OK) {
            ks_buf_fini(&in);
            fprintf(stderr, "%s\n", err.msg);
            if (!isatty(0)) {
                ks_cli_error("the review is unchanged; fix %s and run 'kintsugi review set %lld "
                             "--file %s --by %s'",
                             path, (long long)id, path, by);
                return KS_EXIT_FAIL;
            }
            fprintf(stderr, "press Enter to edit again (Ctrl-C to give up; the text stays in %s) ",
                    path);
            int ch;
            while ((ch = getchar()) != '\n' && ch != EOF) {
            }
            if (ch == EOF) {
                return KS_EXIT_FAIL;
            }
            continue;
        }
        ks_buf_fini(&in);
        rc = apply_review(config, db, id, &doc, by, at);
        ks_review_doc_fini(&doc);
        if (rc == 0) {
            unlink(path);
        }
        return rc;
    }
}

/* The human forms of `review items` (v 3) and `review flags`. */
static void json_print_table(int v, const char *text)
{
    json_t *a = json_loads(text ? text : "[]", 0, NULL);
    size_t i;
    json_t *x;
    if (!json_array_size(a)) {
        printf(v == 3 ? "(no action items)\n" : "(no flags)\n");
    } else if (v == 3) {
        printf("%-5s %-5s %-10s %-8s %-12s %-24s %s\n", "ITEM", "INC", "KIND", "STATUS", "OWNER",
               "DUE", "TEXT");
    }
    json_array_foreach(a, i, x)
    {
        if (v == 3) {
            const char *owner = json_string_value(json_object_get(x, "owner"));
            const char *due = json_string_value(json_object_get(x, "due"));
            printf("%-5lld %-5lld %-10s %-8s %-12s %-24s %s%s\n",
                   (long long)json_integer_value(json_object_get(x, "id")),
                   (long long)json_integer_value(json_object_get(x, "incident")),
                   json_string_value(json_object_get(x, "kind")),
                   json_string_value(json_object_get(x, "status")), owner ? owner : "-",
                   due ? due : "-", json_string_value(json_object_get(x, "text")),
                   json_is_true(json_object_get(x, "overdue")) ? "  (overdue)" : "");
            continue;
        }
        printf("incident %lld  %s\n", (long long)json_integer_value(json_object_get(x, "incident")),
               json_string_value(json_object_get(x, "title")));
        size_t k;
        json_t *f;
        json_array_foreach(json_object_get(x, "flags"), k, f)
        {
            printf("  - %s: %s\n", json_string_value(json_object_get(f, "flag")),
                   json_string_value(json_object_get(f, "reason")));
        }
    }
    json_decref(a);
}

int ks_cmd_review(int argc, char **argv)
{
    char **args = ks_malloc(((size_t)argc + 1) * sizeof(char *));
    int nargs, rc = ks_cli_parse(&spec, argc, argv, args, &nargs);
    if (rc != 0) {
        ks_free(args);
        return rc < 0 ? KS_EXIT_OK : rc;
    }
    if (ks_cli_person("by", ks_cli_opt(&spec, "by")->value) != 0) {
        ks_free(args);
        return KS_EXIT_USAGE; /* who did it goes on one line of the timeline */
    }
    static const struct ks_cli_verb verbs[] = {{"show", 1, NULL}, {"edit", 1, NULL},
                                               {"set", 1, NULL},  {"items", 0, NULL},
                                               {"item", 2, NULL}, {"flags", 0, NULL}};
    int v = ks_cli_verb(verbs, 6, nargs > 0 ? args[0] : NULL);
    if (v < 0 || nargs - 1 != verbs[v].nargs) {
        ks_cli_error(v < 0 ? "review needs a verb: show, edit, set, items, item or flags%s"
                           : "wrong number of arguments for 'review %s'",
                     v < 0 ? "" : verbs[v].name);
        ks_cli_help(&spec, stderr);
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    int64_t id = 0;
    if (verbs[v].nargs >= 1 && ks_learn_parse_id(args[1], &id) != 0) {
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    const char *db = ks_shell_db(ks_cli_opt(&spec, "db")->value);
    const char *config = ks_cli_opt(&spec, "config")->value;
    const char *by = ks_cli_opt(&spec, "by")->value;
    int json = ks_cli_opt(&spec, "json")->set;
    struct ks_err err = {0};
    struct ks_shell a;
    struct ks_review_set *set = NULL;
    ks_time at = KS_TIME_NONE;
    if (v == 1 || v == 2 || v == 4) {
        if (!by || !*by) {
            ks_cli_error("'review %s' needs --by NAME: every change has a person accountable",
                         verbs[v].name);
            ks_free(args);
            return KS_EXIT_USAGE;
        }
        if (ks_cli_at(ks_cli_opt(&spec, "at")->value, &at) != 0) {
            ks_free(args);
            return KS_EXIT_USAGE;
        }
    }
    if (v == 1) {
        rc = edit_review(config, db, id, by, at);
    } else if (v == 2) {
        const char *file = ks_cli_opt(&spec, "file")->value;
        struct ks_buf in = {0};
        struct ks_review_doc doc;
        if (!file) {
            ks_cli_error("'review set' needs --file F (Markdown with YAML front matter, or YAML)");
            rc = KS_EXIT_USAGE;
        } else if (read_file(file, &in) != 0) {
            rc = KS_EXIT_FAIL;
        } else if (ks_review_parse(file, in.p ? in.p : "", in.len, &doc, &err) != KS_OK) {
            fprintf(stderr, "%s\n", err.msg);
            rc = KS_EXIT_FAIL;
        } else {
            rc = apply_review(config, db, id, &doc, by, at);
            ks_review_doc_fini(&doc);
        }
        ks_buf_fini(&in);
    } else if (v == 4) {
        int64_t item;
        if (ks_learn_parse_id(args[1], &item) != 0) {
            rc = KS_EXIT_USAGE;
        } else if (strcmp(args[2], "done") != 0 && strcmp(args[2], "drop") != 0) {
            ks_cli_error("an action item is closed with 'done' or 'drop', not '%s'", args[2]);
            rc = KS_EXIT_USAGE;
        } else if ((rc = ks_shell_open(&a, config, db, KS_SHELL_ENGINE)) == 0) {
            struct write_ctx c = {.verb = args[2],
                                  .by = by,
                                  .note = ks_cli_opt(&spec, "note")->value,
                                  .at = stamp(&a, at),
                                  .item = item};
            rc = ks_shell_flush_with(&a, 1, write_item, &c);
            if (rc == 0) {
                printf("action item %lld of incident %lld: %s by %s\n", (long long)item,
                       (long long)c.id, !strcmp(args[2], "done") ? "done" : "dropped", by);
            }
            ks_shell_close(&a);
        }
    } else if ((rc = ks_learn_open(&a, config, db, ks_cli_opt(&spec, "now")->value, &set)) == 0) {
        struct ks_buf out = {0};
        enum ks_rc r = KS_OK;
        if (v == 0 && ks_cli_opt(&spec, "markdown")->set) {
            r = ks_review_show_markdown(set, id, &out, &err);
        } else if (v == 0) {
            r = ks_review_show_json(set, id, &out, &err);
            if (r == KS_OK && !json) {
                /* the human form is the Markdown one: it is made for reading */
                ks_buf_reset(&out);
                r = ks_review_show_markdown(set, id, &out, &err);
            }
        } else if (v == 3) {
            ks_review_items_json(set, ks_cli_opt(&spec, "open")->set,
                                 ks_cli_opt(&spec, "owner")->value,
                                 ks_cli_opt(&spec, "overdue")->set, &out);
        } else {
            ks_review_flags_json(set, &out);
        }
        if (r != KS_OK) {
            ks_cli_error("%s", err.msg);
            rc = KS_EXIT_FAIL;
        } else if (json || v == 0) {
            printf("%s%s", out.p ? out.p : "", json ? "\n" : "");
        } else {
            json_print_table(v, out.p);
        }
        ks_buf_fini(&out);
        ks_review_free(set);
        ks_shell_close(&a);
    }
    ks_free(args);
    return rc;
}
