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
    {"db", 1, "database file (default: ./kintsugi.db)", 0, NULL},
    {"since", 1, "cursor: only changes after this sequence number (default 0)", 0, NULL},
    {"limit", 1, "at most this many changes (default: all)", 0, NULL},
    {"state", 0, "the current guarded quantity and last known good of every SKU", 0, NULL},
    {"json", 0, "JSON on stdout", 0, NULL},
};
static const struct ks_cmd_spec spec = {
    "kintsugi feed CHANNEL [--since CURSOR] [--limit N] [--state] [--json] [--db F]",
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

struct ctx {
    struct ks_json *j;
    int json;
    int64_t last;
};

static int row(void *vctx, const struct ks_feed_row *r)
{
    struct ctx *c = vctx;
    char at[32];
    ks_time_fmt(r->at, at);
    c->last = r->seq;
    if (!c->json) {
        printf("%-8lld %-24s %8lld  %s  %s\n", (long long)r->seq, r->sku, (long long)r->qty, at,
               r->why);
        return 0;
    }
    struct ks_json *j = c->j;
    ks_json_obj_begin(j);
    ks_json_key(j, "seq");
    ks_json_int(j, r->seq);
    ks_json_key(j, "sku");
    ks_json_str(j, r->sku);
    ks_json_key(j, "qty");
    ks_json_int(j, r->qty);
    ks_json_key(j, "at");
    ks_json_time(j, r->at);
    ks_json_key(j, "why");
    ks_json_str(j, r->why);
    if (r->incident) {
        ks_json_key(j, "incident");
        ks_json_int(j, r->incident);
    }
    ks_json_obj_end(j);
    return 0;
}

/* The SKU dictionary, read whole: the feed names SKUs by id. */
struct dict {
    struct ks_buf pool;
    size_t *off;
    size_t n, cap;
    int bad;
};

static int dict_block(void *ctx, int64_t first, int64_t count, const void *data, size_t n)
{
    struct dict *d = ctx;
    const unsigned char *p = data, *end = p + n;
    const char *str;
    size_t len;
    int r;
    if ((size_t)first != d->n) {
        d->bad = 1;
        return 1;
    }
    while ((r = ks_sku_block_next(&p, end, &str, &len)) == 1) {
        KS_GROW(d->off, d->cap, d->n + 1);
        d->off[d->n++] = d->pool.len;
        ks_buf_put(&d->pool, str, len);
        ks_buf_putc(&d->pool, 0);
    }
    d->bad |= r < 0 || d->n != (size_t)(first + count);
    return d->bad;
}

/* Decodes the blocks and hands each change after `since` to row(). */
struct blocks {
    struct ctx *c;
    const struct dict *d;
    int64_t since, limit, shown;
    int bad;
};

static int block(void *ctx, int64_t first, int64_t last, const void *data, size_t n)
{
    struct blocks *b = ctx;
    struct ks_feed_dec dec;
    struct ks_feed_change ch;
    int r;
    ks_feed_dec_init(&dec, first, data, n);
    while ((r = ks_feed_dec_next(&dec, &ch)) == 1) {
        if (ch.seq <= b->since) {
            continue;
        }
        if (b->limit > 0 && b->shown >= b->limit) {
            return 1;
        }
        if (ch.sku >= b->d->n || ch.seq > last) {
            b->bad = 1;
            return 1;
        }
        struct ks_feed_row fr = {NULL, ch.seq, b->d->pool.p + b->d->off[ch.sku], ch.qty, ch.at,
                                 ks_feed_why_name((enum ks_feed_why)ch.why), ch.incident};
        row(b->c, &fr);
        b->shown++;
    }
    b->bad |= r < 0;
    return b->bad;
}

static int parse_int(const char *s, const char *what, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < 0) {
        ks_cli_error("--%s '%s' is not a whole number >= 0", what, s);
        return -1;
    }
    *out = v;
    return 0;
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
    if ((ks_cli_opt(&spec, "since")->value &&
         parse_int(ks_cli_opt(&spec, "since")->value, "since", &since) != 0) ||
        (ks_cli_opt(&spec, "limit")->value &&
         parse_int(ks_cli_opt(&spec, "limit")->value, "limit", &limit) != 0)) {
        return KS_EXIT_USAGE;
    }
    int json = ks_cli_opt(&spec, "json")->set;
    const char *db = ks_shell_db(ks_cli_opt(&spec, "db")->value);
    struct ks_shell a;
    int state = ks_cli_opt(&spec, "state")->set;
    if ((rc = ks_shell_open(&a, NULL, db, state ? KS_SHELL_ENGINE | KS_SHELL_READ : 0)) != 0) {
        return rc;
    }
    struct ks_err err = {0};
    struct ks_buf out = {0};
    if (state) {
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
    } else {
        struct ks_json j;
        ks_json_init(&j, &out, 0);
        struct ctx c = {&j, json, since};
        if (json) {
            ks_json_obj_begin(&j);
            ks_json_key(&j, "channel");
            ks_json_str(&j, channel);
            ks_json_key(&j, "changes");
            ks_json_arr_begin(&j);
        } else {
            printf("%-8s %-24s %8s  %-24s  %s\n", "SEQ", "SKU", "QTY", "AT", "WHY");
        }
        struct dict d = {0};
        struct blocks b = {&c, &d, since, limit, 0, 0};
        if (a.store->ops->list_skus(a.store, INT64_MAX, dict_block, &d, &err) != KS_OK ||
            a.store->ops->list_feed_blocks(a.store, channel, since, block, &b, &err) != KS_OK) {
            ks_cli_error("%s", err.msg);
            rc = KS_EXIT_FAIL;
        } else if (d.bad || b.bad) {
            ks_cli_error("%s: the stored feed of %s is damaged", db, channel);
            rc = KS_EXIT_FAIL;
        }
        ks_buf_fini(&d.pool);
        ks_free(d.off);
        if (json && rc == 0) {
            ks_json_arr_end(&j);
            ks_json_key(&j, "cursor");
            ks_json_int(&j, c.last);
            ks_json_obj_end(&j);
            printf("%s\n", out.p);
        } else if (rc == 0) {
            printf("cursor: %lld (next: kintsugi feed %s --since %lld)\n", (long long)c.last,
                   channel, (long long)c.last);
        }
    }
    ks_buf_fini(&out);
    ks_shell_close(&a);
    return rc;
}
