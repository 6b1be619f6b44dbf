/*
 * cmd_hooks.c - `kintsugi hooks`: the outbox of hook calls (what kintsugi
 * asked systems it does not own to do), and delivering what is still due.
 */
#include "../shell/shell.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct ks_opt opts[] = {
    {"db", 1, "SQLite file or postgresql:// URI (default: ./kintsugi.db)", 0, NULL},
    {"config", 1, "configuration file with the hooks: section (default: ./kintsugi.yaml)", 0,
     NULL},
    {"json", 0, "list: JSON on stdout", 0, NULL},
    {"status", 1, "list: only pending, done, failed or unconfigured", 0, NULL},
    {"incident", 1, "list: only this incident's calls", 0, NULL},
    {"wait", 1, "deliver, retry: wait up to this long for retries (default 30s)", 0, NULL},
    {"by", 1, "retry: who makes the call again, for the timeline's note (default: $USER)", 0,
     NULL},
};
static const struct ks_cmd_spec spec = {
    "kintsugi hooks [list] [--status S] [--incident N] [--json] | deliver [--wait 30s] | retry KEY [--by NAME]"
    "   [--db F]",
    "Hook calls: stop order import, reroute, hold orders, pause listings, zero a channel...\n"
    "Each is written to the outbox with the event that caused it and delivered at least\n"
    "once with an idempotency key; every attempt is recorded in the incident's timeline.",
    "  list       every call with its status (pending, done, failed, unconfigured),\n"
    "             attempts and last result\n"
    "  deliver    perform the due calls now, retrying with backoff for up to --wait\n"
    "  retry KEY  make a call that gave up (failed, or unconfigured and now configured)\n"
    "             again: its attempts start over, a note goes to the incident's timeline,\n"
    "             and it is delivered at once (KEY: the idempotency key the list shows)\n\n"
    "kintsugi delivers by itself after ingest and after an approval (waiting up to 10s\n"
    "for retries); what is still pending then waits for 'kintsugi hooks deliver'.\n"
    "Hooks are configured per action under hooks: in kintsugi.yaml (docs/HOOKS.md).",
    opts, sizeof(opts) / sizeof(opts[0])};

struct ctx {
    int n;
    int64_t incident; /* 0: every incident's */
};

static int row(void *vctx, const struct ks_hook_row *r)
{
    struct ctx *c = vctx;
    if (c->incident && r->incident != c->incident) {
        return 0;
    }
    c->n++;
    printf("%-8lld %-26s %-13s %-8lld %-40s %s\n", (long long)r->incident, r->action, r->status,
           (long long)r->attempts, r->key, r->detail ? r->detail : "");
    return 0;
}

static int deliver(struct ks_shell *a, ks_time wait)
{
    struct ks_delivery d;
    ks_cli_delivery_progress(a, isatty(2));
    int rc = ks_shell_deliver(a, wait, &d);
    ks_cli_delivery_end();
    if (rc == 0) {
        printf("hooks: %u delivered, %u failed for good, %u not configured%s\n", d.done, d.failed,
               d.unconfigured, d.left ? "; some still wait for a retry" : "");
    }
    return rc;
}

static int list(struct ks_shell *a, int64_t incident)
{
    struct ks_err err = {0};
    const char *status = ks_cli_opt(&spec, "status")->value;
    if (ks_cli_opt(&spec, "json")->set) {
        struct ks_buf out = {0};
        int rc = KS_EXIT_OK;
        if (ks_shell_hooks_json_of(a->store, status, incident, &out, &err) != KS_OK) {
            ks_cli_error("%s", err.msg);
            rc = KS_EXIT_FAIL;
        } else {
            printf("%s\n", out.p);
        }
        ks_buf_fini(&out);
        return rc;
    }
    struct ctx c = {0, incident};
    printf("%-8s %-26s %-13s %-8s %-40s %s\n", "INCIDENT", "ACTION", "STATUS", "ATTEMPTS", "KEY",
           "LAST RESULT");
    if (a->store->ops->list_hooks(a->store, status, row, &c, &err) != KS_OK) {
        ks_cli_error("%s", err.msg);
        return KS_EXIT_FAIL;
    }
    if (c.n == 0) {
        printf("(no hook calls)\n");
    }
    return KS_EXIT_OK;
}

struct requeue {
    const char *key, *by;
    int64_t incident;
};

/* Inside the transaction that saves the state: the row and the note together. */
static enum ks_rc requeue(struct ks_shell *a, void *ctx, struct ks_err *err)
{
    struct requeue *q = ctx;
    return ks_shell_hook_requeue(a->store, &a->cfg, a->eng, q->key, q->by, KS_TIME_NONE, 0,
                                 &q->incident, err);
}

static int retry(struct ks_shell *a, const char *key, ks_time wait)
{
    struct requeue q = {key, ks_cli_by(ks_cli_opt(&spec, "by")->value), 0};
    struct ks_err err = {0};
    /* Checked first, in a transaction undone at once: a refusal (no such
     * call, not given up, still no hook) is said plainly, before any save. */
    if (ks_store_begin(a->store, &err) != KS_OK ||
        ks_shell_hook_requeue(a->store, &a->cfg, NULL, key, q.by, KS_TIME_NONE, 0, &q.incident,
                              &err) != KS_OK) {
        struct ks_err ignore;
        ks_store_rollback(a->store, &ignore);
        ks_cli_error("%s", err.msg);
        return KS_EXIT_FAIL;
    }
    ks_store_rollback(a->store, &err);
    if (ks_shell_flush_with(a, 1, requeue, &q) != 0) {
        return KS_EXIT_FAIL;
    }
    printf("hook call %s (incident %lld) made due again\n", key, (long long)q.incident);
    return deliver(a, wait);
}

int ks_cmd_hooks(int argc, char **argv)
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
    static const struct ks_cli_verb verbs[] = {
        {"list", 0, NULL}, {"deliver", 0, NULL}, {"retry", 1, NULL}};
    int v = nargs == 0 ? 0 : ks_cli_verb(verbs, 3, args[0]);
    if (v < 0 || (nargs > 0 && nargs - 1 != verbs[v].nargs)) {
        if (v < 0) {
            ks_cli_error("unknown hooks command '%s': use 'hooks list', 'hooks deliver' or "
                         "'hooks retry KEY'",
                         args[0]);
        } else {
            ks_cli_error("'hooks %s' takes %s", verbs[v].name,
                         verbs[v].nargs ? "one argument, the call's key (see 'hooks list')"
                                        : "no argument");
        }
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    char *key = v == 2 ? ks_strdup(args[1]) : NULL;
    ks_free(args);
    ks_time wait;
    int64_t incident = 0;
    const char *only = ks_cli_opt(&spec, "incident")->value;
    const char *status = ks_cli_opt(&spec, "status")->value;
    if (status && strcmp(status, "pending") && strcmp(status, "done") &&
        strcmp(status, "failed") && strcmp(status, "unconfigured")) {
        ks_cli_error("--status '%s': use pending, done, failed or unconfigured", status);
        ks_free(key);
        return KS_EXIT_USAGE;
    }
    if (ks_cli_wait(ks_cli_opt(&spec, "wait")->value, &wait) != 0 ||
        (only && ks_cli_id(only, "an incident id", &incident) != 0)) {
        ks_free(key);
        return KS_EXIT_USAGE;
    }
    const char *db = ks_shell_db(ks_cli_opt(&spec, "db")->value);
    struct ks_shell a;
    if ((rc = ks_shell_open(&a, ks_cli_opt(&spec, "config")->value, db,
                            v ? KS_SHELL_ENGINE : 0)) != 0) {
        ks_free(key);
        return rc;
    }
    rc = v == 0 ? list(&a, incident) : v == 1 ? deliver(&a, wait) : retry(&a, key, wait);
    ks_shell_close(&a);
    ks_free(key);
    return rc;
}
