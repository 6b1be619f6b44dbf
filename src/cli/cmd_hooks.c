/*
 * cmd_hooks.c - `kintsugi hooks`: the outbox of hook calls (what kintsugi
 * asked systems it does not own to do), and delivering what is still due.
 */
#include "../shell/shell.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static struct ks_opt opts[] = {
    {"db", 1, "SQLite file or postgresql:// URI (default: ./kintsugi.db)", 0, NULL},
    {"config", 1, "configuration file with the hooks: section (default: ./kintsugi.yaml)", 0,
     NULL},
    {"json", 0, "list: JSON on stdout", 0, NULL},
    {"status", 1, "list: only pending, done, failed or unconfigured", 0, NULL},
    {"wait", 1, "deliver: wait up to this long for retries (default 30s)", 0, NULL},
};
static const struct ks_cmd_spec spec = {
    "kintsugi hooks [list] [--status S] [--json] | deliver [--wait 30s]   [--db F]",
    "Hook calls: stop order import, reroute, hold orders, pause listings, zero a channel...\n"
    "Each is written to the outbox with the event that caused it and delivered at least\n"
    "once with an idempotency key; every attempt is recorded in the incident's timeline.",
    "  list       every call with its status (pending, done, failed, unconfigured),\n"
    "             attempts and last result\n"
    "  deliver    perform the due calls now, retrying with backoff for up to --wait\n\n"
    "kintsugi delivers by itself after ingest and after an approval (waiting up to 10s\n"
    "for retries); what is still pending then waits for 'kintsugi hooks deliver'.\n"
    "Hooks are configured per action under hooks: in kintsugi.yaml (docs/HOOKS.md).",
    opts, sizeof(opts) / sizeof(opts[0])};

struct ctx {
    int n;
};

static int row(void *vctx, const struct ks_hook_row *r)
{
    struct ctx *c = vctx;
    c->n++;
    printf("%-8lld %-26s %-13s %-8lld %s\n", (long long)r->incident, r->action, r->status,
           (long long)r->attempts, r->detail ? r->detail : "");
    return 0;
}

int ks_cmd_hooks(int argc, char **argv)
{
    char **args = ks_malloc(((size_t)argc + 1) * sizeof(char *));
    int nargs, rc = ks_cli_parse(&spec, argc, argv, args, &nargs);
    if (rc != 0) {
        ks_free(args);
        return rc < 0 ? KS_EXIT_OK : rc;
    }
    int deliver = nargs == 1 && strcmp(args[0], "deliver") == 0;
    int list = nargs == 0 || (nargs == 1 && strcmp(args[0], "list") == 0);
    if (!deliver && !list) {
        if (strcmp(args[0], "list") != 0 && strcmp(args[0], "deliver") != 0) {
            ks_cli_error("unknown hooks command '%s': use 'hooks list' or 'hooks deliver'",
                         args[0]);
        } else {
            ks_cli_error("'hooks %s' takes no argument: use 'hooks list' or 'hooks deliver'",
                         args[0]);
        }
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    ks_free(args);
    ks_time wait;
    if (ks_cli_wait(ks_cli_opt(&spec, "wait")->value, &wait) != 0) {
        return KS_EXIT_USAGE;
    }
    const char *db = ks_shell_db(ks_cli_opt(&spec, "db")->value);
    struct ks_shell a;
    if ((rc = ks_shell_open(&a, ks_cli_opt(&spec, "config")->value, db, deliver ? KS_SHELL_ENGINE : 0)) != 0) {
        return rc;
    }
    if (deliver) {
        struct ks_delivery d;
        rc = ks_shell_deliver(&a, wait, &d);
        if (rc == 0) {
            printf("hooks: %u delivered, %u failed for good, %u not configured%s\n", d.done,
                   d.failed, d.unconfigured, d.left ? "; some still wait for a retry" : "");
        }
    } else {
        struct ks_err err = {0};
        const char *status = ks_cli_opt(&spec, "status")->value;
        if (ks_cli_opt(&spec, "json")->set) {
            struct ks_buf out = {0};
            if (ks_shell_hooks_json(a.store, status, &out, &err) != KS_OK) {
                ks_cli_error("%s", err.msg);
                rc = KS_EXIT_FAIL;
            } else {
                printf("%s\n", out.p);
            }
            ks_buf_fini(&out);
        } else {
            struct ctx c = {0};
            printf("%-8s %-26s %-13s %-8s %s\n", "INCIDENT", "ACTION", "STATUS", "ATTEMPTS",
                   "LAST RESULT");
            if (a.store->ops->list_hooks(a.store, status, row, &c, &err) != KS_OK) {
                ks_cli_error("%s", err.msg);
                rc = KS_EXIT_FAIL;
            } else if (c.n == 0) {
                printf("(no hook calls)\n");
            }
        }
    }
    ks_shell_close(&a);
    return rc;
}
