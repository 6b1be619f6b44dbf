/*
 * cmd_reconcile.c - `kintsugi reconcile [CHANNEL]`: guarded quantities
 * against the system of record (`stock` events), oversell risks first.
 */
#include "../shell/shell.h"
#include "cli.h"

#include <jansson.h>
#include <string.h>

static struct ks_opt opts[] = {
    {"db", 1, "SQLite file or postgresql:// URI (default: ./kintsugi.db)", 0, NULL},
    {"config", 1, "configuration file (default: $KINTSUGI_CONFIG or ./kintsugi.yaml)", 0, NULL},
    {"json", 0, "JSON on stdout", 0, NULL},
    {"limit", 1, "show at most this many differences (default 50; 0: the counts only; JSON has them all)", 0, NULL},
};
static const struct ks_cmd_spec spec = {
    "kintsugi reconcile [CHANNEL] [--json] [--limit N] [--db F] [--config F]",
    "Compare what each channel was let through (the guarded feed) with the latest stock\n"
    "of record, and list the differences: oversell risks (channel > available) first.",
    "examples:\n"
    "  kintsugi reconcile\n"
    "  kintsugi reconcile amazon --json",
    opts, sizeof(opts) / sizeof(opts[0])};

int ks_cmd_reconcile(int argc, char **argv)
{
    char **args = ks_malloc(((size_t)argc + 1) * sizeof(char *));
    int nargs, rc = ks_cli_parse(&spec, argc, argv, args, &nargs);
    if (rc != 0 || nargs > 1) {
        if (nargs > 1) {
            ks_cli_error("reconcile takes at most one CHANNEL");
        }
        ks_free(args);
        return rc < 0 ? KS_EXIT_OK : rc ? rc : KS_EXIT_USAGE;
    }
    const char *channel = nargs ? args[0] : NULL;
    const char *db = ks_shell_db(ks_cli_opt(&spec, "db")->value);
    int64_t limit = 50;
    if (ks_cli_count(ks_cli_opt(&spec, "limit")->value, "limit", &limit) != 0) {
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    struct ks_shell a;
    if ((rc = ks_shell_open(&a, ks_cli_opt(&spec, "config")->value, db,
                            KS_SHELL_ENGINE | KS_SHELL_READ)) != 0) {
        ks_free(args);
        return rc;
    }
    struct ks_err err = {0};
    struct ks_buf out = {0};
    if (ks_engine_reconcile_json(a.eng, channel, 0, &out, &err) != KS_OK) {
        ks_cli_error("%s", err.msg);
        rc = KS_EXIT_FAIL;
    } else if (ks_cli_opt(&spec, "json")->set) {
        printf("%s\n", out.p);
    } else {
        json_t *j = json_loads(out.p, 0, NULL);
        printf("compared %lld SKUs: %lld differences, %lld oversell risks (channel > stock); "
               "%lld SKUs have no stock of record\n",
               (long long)json_integer_value(json_object_get(j, "compared")),
               (long long)json_integer_value(json_object_get(j, "differences")),
               (long long)json_integer_value(json_object_get(j, "oversell_risks")),
               (long long)json_integer_value(json_object_get(j, "without_stock")));
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(j, "items"), i, x)
        {
            if ((int64_t)i >= limit) {
                printf("... (%zu more; --json has them all)\n",
                       json_array_size(json_object_get(j, "items")) - i);
                break;
            }
            if (i == 0) {
                printf("%-14s %-24s %8s %8s %8s\n", "CHANNEL", "SKU", "CHANNEL", "STOCK", "DIFF");
            }
            printf("%-14s %-24s %8lld %8lld %+8lld%s\n",
                   json_string_value(json_object_get(x, "channel")),
                   json_string_value(json_object_get(x, "sku")),
                   (long long)json_integer_value(json_object_get(x, "guarded")),
                   (long long)json_integer_value(json_object_get(x, "stock")),
                   (long long)json_integer_value(json_object_get(x, "diff")),
                   json_is_true(json_object_get(x, "oversell_risk")) ? "  OVERSELL RISK" : "");
        }
        json_decref(j);
    }
    ks_buf_fini(&out);
    ks_shell_close(&a);
    ks_free(args);
    return rc;
}
