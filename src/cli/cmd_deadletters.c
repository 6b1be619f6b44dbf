/*
 * cmd_deadletters.c - `kintsugi deadletters`: list rejected lines, fix one,
 * and replay them through the engine. A replayed line that passes is marked
 * "replayed"; one that still fails keeps its place with the new reason.
 */
#include "../shell/shell.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static struct ks_opt opts[] = {
    {"db", 1, "SQLite file or postgresql:// URI (default: ./kintsugi.db)", 0, NULL},
    {"config", 1, "configuration file (default: $KINTSUGI_CONFIG or ./kintsugi.yaml)", 0, NULL},
    {"json", 0, "a JSON array on stdout", 0, NULL},
    {"all", 0, "list replayed ones too (default: pending only)", 0, NULL},
    {"id", 1, "replay: only this dead letter", 0, NULL},
};
static const struct ks_cmd_spec spec = {
    "kintsugi deadletters [--json] [--all] | fix ID LINE | replay [--id N]   [--db F]",
    "Rejected input lines, kept with their reason, source file and line number.",
    "  deadletters          list the pending ones (line, source, reason, raw)\n"
    "  deadletters fix ID LINE\n"
    "                       replace the raw text of dead letter ID with a corrected line\n"
    "  deadletters replay   re-ingest pending dead letters (all, or --id N); those that\n"
    "                       now pass are applied at the current clock and marked replayed\n\n"
    "examples:\n"
    "  kintsugi deadletters --json | jq -r '.[].reason'\n"
    "  kintsugi deadletters fix 4 '{\"type\":\"inventory\",\"ts\":...,\"qty\":12}'\n"
    "  kintsugi deadletters replay --id 4\n\n"
    "A dead letter replayed already cannot be fixed: its event is applied, and a fix\n"
    "would apply it a second time; send a corrected event as new input instead.\n\n"
    "exit status: 0 done (replay: every line replayed passed), 1 it failed (no such dead\n"
    "letter, one replayed already, a line replayed still rejected - it stays pending with\n"
    "the new reason - the database; the message says which), 2 usage error (an empty LINE).",
    opts, sizeof(opts) / sizeof(opts[0])};

struct ctx {
    int json, n;
    int64_t only;
    struct ks_deadletter *rows;
    size_t nrows, cap;
};

static int list_row(void *vctx, const struct ks_deadletter *d)
{
    struct ctx *c = vctx;
    printf("%-5lld %s:%lld: %s  [%s]\n      %.*s%s\n", (long long)d->id, d->source,
           (long long)d->line, d->reason, d->status, (int)(d->raw_len > 200 ? 200 : d->raw_len),
           d->raw, d->raw_len > 200 ? "..." : "");
    c->n++;
    return 0;
}

static int collect(void *vctx, const struct ks_deadletter *d)
{
    struct ctx *c = vctx;
    if (c->only && d->id != c->only) {
        return 0;
    }
    KS_GROW(c->rows, c->cap, c->nrows + 1);
    struct ks_deadletter *r = &c->rows[c->nrows++];
    *r = *d;
    r->raw = ks_strndup(d->raw, d->raw_len);
    r->source = ks_strdup(d->source);
    r->reason = NULL;
    r->status = NULL;
    return 0;
}

struct outcome {
    int64_t id;
    char *reason; /* NULL: passed */
};

struct outcomes {
    struct outcome *v;
    size_t n;
};

/* Runs inside the flush transaction: the dead letters' new states. */
static enum ks_rc mark(struct ks_shell *a, void *vctx, struct ks_err *err)
{
    struct outcomes *o = vctx;
    for (size_t i = 0; i < o->n; i++) {
        enum ks_rc rc = a->store->ops->update_deadletter(
            a->store, o->v[i].id, o->v[i].reason ? "pending" : "replayed", o->v[i].reason, NULL, 0,
            err);
        if (rc != KS_OK) {
            return rc;
        }
    }
    return KS_OK;
}

static int replay(struct ks_shell *a, int64_t only)
{
    struct ctx c = {0};
    c.only = only;
    struct ks_err err = {0};
    if (a->store->ops->list_deadletters(a->store, "pending", collect, &c, &err) != KS_OK) {
        ks_cli_error("%s", err.msg);
        return KS_EXIT_FAIL;
    }
    if (only && c.nrows == 0) {
        ks_cli_error("no pending dead letter %lld", (long long)only);
        ks_free(c.rows);
        return KS_EXIT_FAIL;
    }
    uint32_t input = ks_engine_input(a->eng, "deadletters");
    struct outcomes o = {ks_calloc(c.nrows + 1, sizeof(struct outcome)), c.nrows};
    size_t passed = 0;
    for (size_t i = 0; i < c.nrows; i++) {
        struct ks_deadletter *d = &c.rows[i];
        o.v[i].id = d->id;
        if (ks_engine_event(a->eng, input, d->line, d->raw, d->raw_len, &err) == KS_LINE_REJECTED) {
            printf("still rejected: %lld %s:%lld: %s\n", (long long)d->id, d->source,
                   (long long)d->line, err.msg);
            o.v[i].reason = ks_strdup(err.msg);
        } else {
            passed++;
        }
        ks_free((void *)d->raw);
        ks_free((void *)d->source);
    }
    ks_free(c.rows);
    ks_engine_end_input(a->eng);
    /* A line that fails again is the same dead letter, not a new one. */
    ks_engine_dead_drop(a->eng);
    int rc = ks_shell_flush_with(a, 1, mark, &o);
    for (size_t i = 0; i < o.n; i++) {
        ks_free(o.v[i].reason);
    }
    ks_free(o.v);
    if (rc == 0) {
        printf("replayed %zu dead %s, %zu still rejected\n", passed,
               passed == 1 ? "letter" : "letters", c.nrows - passed);
        if (passed < c.nrows) {
            ks_cli_error("%zu dead %s still rejected: %s pending with the new reason (fix it with "
                         "'kintsugi deadletters fix ID LINE', then replay it again)",
                         c.nrows - passed, c.nrows - passed == 1 ? "letter is" : "letters are",
                         c.nrows - passed == 1 ? "it stays" : "they stay");
            rc = KS_EXIT_FAIL;
        }
    }
    return rc;
}

struct find {
    int64_t id;
    int found, replayed;
};

static int find_row(void *vctx, const struct ks_deadletter *d)
{
    struct find *f = vctx;
    if (d->id == f->id) {
        f->found = 1;
        f->replayed = strcmp(d->status, "replayed") == 0;
    }
    return d->id >= f->id; /* in id order: past it, done */
}

/* `deadletters fix`: the new raw text of a pending dead letter. One that was
 * replayed is refused: its event is applied, and putting it back to pending
 * would apply it a second time at the next replay. Read and written in one
 * transaction, so that a replay cannot come between. */
static int fix(struct ks_shell *a, int64_t id, const char *line)
{
    struct ks_store *s = a->store;
    struct ks_err err = {0};
    struct find f = {id, 0, 0};
    enum ks_rc r = s->ops->begin(s, &err);
    if (r == KS_OK) {
        r = s->ops->list_deadletters(s, NULL, find_row, &f, &err);
    }
    if (r == KS_OK && (!f.found || f.replayed)) {
        s->ops->rollback(s, NULL);
        if (!f.found) {
            ks_cli_error("no dead letter %lld", (long long)id);
        } else {
            ks_cli_error("dead letter %lld was replayed already: its event is applied, and fixing "
                         "it would apply it a second time; send a corrected event as new input "
                         "instead",
                         (long long)id);
        }
        return KS_EXIT_FAIL;
    }
    if (r == KS_OK) {
        r = s->ops->update_deadletter(s, id, "pending", NULL, line, strlen(line), &err);
    }
    if (r == KS_OK) {
        r = s->ops->commit(s, &err);
    }
    if (r != KS_OK) {
        s->ops->rollback(s, NULL);
        ks_cli_error("%s", err.msg);
        return KS_EXIT_FAIL;
    }
    return KS_EXIT_OK;
}

int ks_cmd_deadletters(int argc, char **argv)
{
    char **args = ks_malloc(((size_t)argc + 1) * sizeof(char *));
    int nargs, rc = ks_cli_parse(&spec, argc, argv, args, &nargs);
    if (rc != 0) {
        ks_free(args);
        return rc < 0 ? KS_EXIT_OK : rc;
    }
    const char *db = ks_shell_db(ks_cli_opt(&spec, "db")->value);
    struct ks_shell a;
    struct ks_err err = {0};
    if (nargs == 0 && ks_cli_opt(&spec, "id")->value) {
        ks_cli_error("--id picks the dead letter to replay ('kintsugi deadletters replay --id "
                     "N'); the list shows every pending one (--all: the replayed ones too)");
        rc = KS_EXIT_USAGE;
    } else if (nargs == 0) {
        if ((rc = ks_shell_open(&a, ks_cli_opt(&spec, "config")->value, db, 0)) == 0) {
            struct ctx c = {ks_cli_opt(&spec, "json")->set, 0, 0, NULL, 0, 0};
            const char *status = ks_cli_opt(&spec, "all")->set ? NULL : "pending";
            enum ks_rc lrc;
            if (c.json) {
                struct ks_buf out = {0};
                lrc = ks_shell_deadletters_json(a.store, status, &out, &err);
                printf("%s\n", out.p);
                ks_buf_fini(&out);
            } else {
                lrc = a.store->ops->list_deadletters(a.store, status, list_row, &c, &err);
            }
            if (lrc != KS_OK) {
                ks_cli_error("%s", err.msg);
                rc = KS_EXIT_FAIL;
            }
            if (!c.json && c.n == 0) {
                printf("(no dead letters)\n");
            }
            ks_shell_close(&a);
        }
    } else if (strcmp(args[0], "fix") == 0 && nargs == 3) {
        int64_t id;
        if (ks_cli_id(args[1], "a dead letter id", &id) != 0) {
            rc = KS_EXIT_USAGE;
        } else if (strspn(args[2], " \t\r\n") == strlen(args[2])) {
            ks_cli_error("the corrected line is empty: 'deadletters fix ID LINE' takes the whole "
                         "event that replaces the rejected line, quoted as one argument");
            rc = KS_EXIT_USAGE;
        } else if ((rc = ks_shell_open(&a, ks_cli_opt(&spec, "config")->value, db, 0)) == 0) {
            if ((rc = fix(&a, id, args[2])) == 0) {
                printf("dead letter %lld fixed; replay it with: kintsugi deadletters replay --id "
                       "%lld --db %s\n",
                       (long long)id, (long long)id, db);
            }
            ks_shell_close(&a);
        }
    } else if (strcmp(args[0], "replay") == 0 && nargs == 1) {
        int64_t only = 0;
        const char *idv = ks_cli_opt(&spec, "id")->value;
        if (idv && ks_cli_id(idv, "a dead letter id", &only) != 0) {
            ks_free(args);
            return KS_EXIT_USAGE;
        }
        if ((rc = ks_shell_open(&a, ks_cli_opt(&spec, "config")->value, db, KS_SHELL_ENGINE)) == 0) {
            rc = replay(&a, only);
            ks_shell_close(&a);
        }
    } else {
        /* A known subcommand with the wrong arguments, or an unknown one:
         * either way, say what there is. */
        if (strcmp(args[0], "fix") == 0) {
            ks_cli_error("'deadletters fix' takes ID LINE: the dead letter's id and the corrected "
                         "line, quoted as one argument");
        } else if (strcmp(args[0], "replay") == 0) {
            ks_cli_error("'deadletters replay' takes no argument (--id N replays one)");
        } else {
            ks_cli_error("unknown deadletters command '%s'", args[0]);
        }
        ks_cli_error("use 'deadletters' (list), 'deadletters fix ID LINE' or 'deadletters replay "
                     "[--id N]'; see 'kintsugi deadletters --help'");
        rc = KS_EXIT_USAGE;
    }
    ks_free(args);
    return rc;
}
