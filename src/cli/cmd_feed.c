/*
 * cmd_feed.c - `kintsugi feed CHANNEL`: what channel adapters read. The
 * ordered changes let through after a cursor, or the current guarded state.
 */
#include "../shell/shell.h"
#include "cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static struct ks_opt opts[] = {
    {"db", 1, "SQLite file or postgresql:// URI (default: ./kintsugi.db)", 0, NULL},
    {"config", 1, "configuration file (default: $KINTSUGI_CONFIG or ./kintsugi.yaml)", 0, NULL},
    {"since", 1, "cursor: only changes after this sequence number (default 0)", 0, NULL},
    {"limit", 1, "at most this many changes (default, and 0: all)", 0, NULL},
    {"state", 0, "the current guarded quantity and last known good of every SKU", 0, NULL},
    {"json", 0, "JSON on stdout", 0, NULL},
};
static const struct ks_cmd_spec spec = {
    "kintsugi feed CHANNEL [--since CURSOR] [--limit N] [--state] [--json] [--db F] [--config F]",
    "The guarded feed of one channel: the quantities kintsugi let through, in order.",
    "An adapter keeps the last cursor it applied and asks for what came after:\n"
    "  kintsugi feed amazon --since 1200 --json\n"
    "  {\"channel\":\"amazon\",\"cursor\":1250,\"changes\":[{\"seq\":1201,\"sku\":...,\"qty\":...,"
    "\"at\":...,\"why\":\"update\"}, ...]}\n"
    "why is update, release (held while paused), phantom_stock (zeroed: it rose in a corrupt\n"
    "update), low_stock (zeroed while the channel's sync is stale), rollback, accepted or\n"
    "zero_channel. --state gives the full picture instead:\n"
    "  kintsugi feed amazon --state --json",
    opts, sizeof(opts) / sizeof(opts[0])};

static void header(void)
{
    printf("%-8s %-24s %8s  %-24s  %s\n", "SEQ", "SKU", "QTY", "AT", "WHY");
}

/* One change as a line of the table (the JSON comes from ks_shell_feed_json);
 * the header comes with the first, so that a cursor refused (past the end
 * of the feed) prints nothing on stdout. ctx: int, whether it was printed. */
static void row(void *ctx, const struct ks_feed_row *r)
{
    int *headed = ctx;
    if (!*headed) {
        header();
        *headed = 1;
    }
    char at[32];
    ks_time_fmt(r->at, at);
    printf("%-8lld %-24s %8lld  %s  %s\n", (long long)r->seq, r->sku, (long long)r->qty, at,
           r->why);
}

static void no_row(void *ctx, const struct ks_feed_row *r)
{
    (void)ctx, (void)r;
}

/* Whether the store holds changes of the channel: the saved engine state a
 * reader loads may be older than the rows of a server still running. */
static int stored_feed(struct ks_shell *a, const char *db, const char *channel)
{
    struct ks_err err = {0};
    int64_t cursor = 0;
    return ks_shell_feed_rows(a->store, db, channel, 0, 1, no_row, NULL, &cursor, &err) ==
               KS_OK &&
           cursor > 0;
}

int ks_cmd_feed(int argc, char **argv)
{
    char **args = ks_malloc(((size_t)argc + 1) * sizeof(char *));
    int nargs, rc = ks_cli_parse(&spec, argc, argv, args, &nargs);
    if (rc != 0 || nargs != 1) {
        if (rc == 0) {
            ks_cli_error("feed needs one CHANNEL; see 'kintsugi feed --help'");
        }
        ks_free(args);
        return rc < 0 ? KS_EXIT_OK : rc ? rc : KS_EXIT_USAGE;
    }
    const char *channel = args[0];
    ks_free(args);
    int64_t since = 0, limit = 0;
    if (ks_cli_count(ks_cli_opt(&spec, "since")->value, "since", &since) != 0 ||
        ks_cli_count(ks_cli_opt(&spec, "limit")->value, "limit", &limit) != 0) {
        return KS_EXIT_USAGE;
    }
    int json = ks_cli_opt(&spec, "json")->set;
    const char *db = ks_shell_db(ks_cli_opt(&spec, "db")->value);
    struct ks_shell a;
    int state = ks_cli_opt(&spec, "state")->set;
    /* The engine, read only, says which channels there are: an unknown one
     * is an error with or without --state (as for reconcile), while a known
     * channel without changes yet has an empty feed. */
    if ((rc = ks_shell_open(&a, ks_cli_opt(&spec, "config")->value, db,
                            KS_SHELL_ENGINE | KS_SHELL_READ)) != 0) {
        return rc;
    }
    struct ks_err err = {0};
    struct ks_buf out = {0};
    if (ks_engine_channel_known(a.eng, channel, &err) != KS_OK && !stored_feed(&a, db, channel)) {
        ks_cli_error("%s", err.msg);
        rc = KS_EXIT_FAIL;
    } else if (state) {
        if (ks_engine_feed_state_json(a.eng, channel, &out, &err) != KS_OK) {
            ks_cli_error("%s", err.msg);
            rc = KS_EXIT_FAIL;
        } else if (json) {
            printf("%s\n", out.p);
        } else {
            json_t *j = json_loads(out.p, 0, NULL);
            size_t i;
            json_t *x;
            printf("%-24s %8s %10s\n", "SKU", "QTY", "LAST_GOOD");
            json_array_foreach(json_object_get(j, "skus"), i, x)
            {
                json_t *q = json_object_get(x, "qty"), *g = json_object_get(x, "last_good");
                char qs[24] = "-", gs[24] = "-";
                if (json_is_integer(q)) {
                    snprintf(qs, sizeof(qs), "%lld", (long long)json_integer_value(q));
                }
                if (json_is_integer(g)) {
                    snprintf(gs, sizeof(gs), "%lld", (long long)json_integer_value(g));
                }
                printf("%-24s %8s %10s\n", json_string_value(json_object_get(x, "sku")), qs, gs);
            }
            json_decref(j);
        }
    } else if (json) {
        if (ks_shell_feed_json(a.store, db, channel, since, limit, &out, &err) != KS_OK) {
            ks_cli_error("%s", err.msg);
            rc = KS_EXIT_FAIL;
        } else {
            printf("%s\n", out.p);
        }
    } else {
        int64_t cursor;
        int headed = 0;
        if (ks_shell_feed_rows(a.store, db, channel, since, limit, row, &headed, &cursor, &err) !=
            KS_OK) {
            ks_cli_error("%s", err.msg);
            rc = KS_EXIT_FAIL;
        } else {
            if (!headed) {
                header(); /* no change since the cursor: the table is empty */
            }
            printf("cursor: %lld (next: kintsugi feed %s --since %lld)\n", (long long)cursor,
                   channel, (long long)cursor);
        }
    }
    ks_buf_fini(&out);
    ks_shell_close(&a);
    return rc;
}
