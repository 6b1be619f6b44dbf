/*
 * cmd_report.c - `kintsugi report` (the recovery metrics against the
 * playbook's targets) and `kintsugi cost` (the cost of a mistake, and a
 * person's entry of a part). Definitions: docs/REVIEWS.md.
 */
#include "learn.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static struct ks_opt report_opts[] = {
    {"db", 1, "SQLite file or postgresql:// URI (default: ./kintsugi.db)", 0, NULL},
    {"config", 1, "configuration file (default: $KINTSUGI_CONFIG or ./kintsugi.yaml)", 0, NULL},
    {"since", 1, "incidents detected at or after this time (RFC 3339 or epoch ms)", 0, NULL},
    {"until", 1, "incidents detected before this time (RFC 3339 or epoch ms)", 0, NULL},
    {"by", 1, "also per group: type, severity, channel or week", 0, NULL},
    {"json", 0, "the report as JSON", 0, NULL},
    {"markdown", 0, "the report as Markdown (the default)", 0, NULL},
    {"now", 1, "judge retention windows at this time (default: the engine clock)", 0, NULL},
};
static const struct ks_cmd_spec report_spec = {
    "kintsugi report [--since T] [--until T] [--by type|severity|channel|week] [--json|--markdown]",
    "Recovery metrics against the playbook's targets: time to initial response, customer\n"
    "communication, root cause and process fix; detection gap; time to contain and resolve;\n"
    "SLA attainment; repeat rate; action-item completion; satisfaction; retention; cost\n"
    "multiplier.",
    "Each metric is {value, unit, target, met, count, missing}: durations in seconds\n"
    "(medians), ratios from 0 to 1; `missing` lists the incidents without the data it needs.\n"
    "docs/REVIEWS.md says exactly which timestamps each one subtracts.\n\n"
    "examples:\n"
    "  kintsugi report --since 2026-11-01T00:00:00Z --by week\n"
    "  kintsugi report --by type --json | jq .metrics.resolve",
    report_opts, sizeof(report_opts) / sizeof(report_opts[0])};

int ks_cmd_report(int argc, char **argv)
{
    char **args = ks_malloc(((size_t)argc + 1) * sizeof(char *));
    int nargs, rc = ks_cli_parse(&report_spec, argc, argv, args, &nargs);
    ks_free(args);
    if (rc != 0) {
        return rc < 0 ? KS_EXIT_OK : rc;
    }
    if (nargs) {
        ks_cli_error("report takes no arguments");
        return KS_EXIT_USAGE;
    }
    struct ks_report_opts o = {KS_TIME_NONE, KS_TIME_NONE, ks_cli_opt(&report_spec, "by")->value};
    if (ks_cli_time("since", ks_cli_opt(&report_spec, "since")->value, &o.since) != 0 ||
        ks_cli_time("until", ks_cli_opt(&report_spec, "until")->value, &o.until) != 0) {
        return KS_EXIT_USAGE;
    }
    if (o.by && strcmp(o.by, "type") && strcmp(o.by, "severity") && strcmp(o.by, "channel") &&
        strcmp(o.by, "week")) {
        ks_cli_error("unknown --by '%s' (use type, severity, channel or week)", o.by);
        return KS_EXIT_USAGE;
    }
    if (o.since != KS_TIME_NONE && o.until != KS_TIME_NONE && o.since >= o.until) {
        ks_cli_error("--since %s is not before --until %s: no instant is in that window",
                     ks_cli_opt(&report_spec, "since")->value,
                     ks_cli_opt(&report_spec, "until")->value);
        return KS_EXIT_USAGE;
    }
    if (ks_cli_opt(&report_spec, "json")->set && ks_cli_opt(&report_spec, "markdown")->set) {
        ks_cli_error("--json and --markdown: choose one (Markdown is the default)");
        return KS_EXIT_USAGE;
    }
    struct ks_shell a;
    struct ks_review_set *set = NULL;
    if ((rc = ks_learn_open(&a, ks_cli_opt(&report_spec, "config")->value,
                            ks_shell_db(ks_cli_opt(&report_spec, "db")->value),
                            ks_cli_opt(&report_spec, "now")->value, &set)) != 0) {
        return rc;
    }
    struct ks_buf out = {0};
    struct ks_err err = {0};
    enum ks_rc r = ks_cli_opt(&report_spec, "json")->set
                       ? ks_review_report_json(set, &o, &out, &err)
                       : ks_review_report_markdown(set, &o, &out, &err);
    if (r != KS_OK) {
        ks_cli_error("%s", err.msg);
        rc = KS_EXIT_FAIL;
    } else {
        printf("%s%s", out.p, ks_cli_opt(&report_spec, "json")->set ? "\n" : "");
    }
    ks_buf_fini(&out);
    ks_review_free(set);
    ks_shell_close(&a);
    return rc;
}

/* ---- kintsugi cost -------------------------------------------------------------------- */

static struct ks_opt cost_opts[] = {
    {"db", 1, "SQLite file or postgresql:// URI (default: ./kintsugi.db)", 0, NULL},
    {"config", 1, "configuration file (default: $KINTSUGI_CONFIG or ./kintsugi.yaml)", 0, NULL},
    {"json", 0, "the parts as JSON", 0, NULL},
    {"by", 1, "set: who enters it (required)", 0, NULL},
    {"at", 1, "set: when (RFC 3339; default: the engine clock)", 0, NULL},
    {"now", 1, "judge the retention window at this time (default: the engine clock)", 0, NULL},
};
static const struct ks_cmd_spec cost_spec = {
    "kintsugi cost ID [--json] | cost set ID PART AMOUNT --by NAME   [--db F]",
    "The cost of a mistake: direct, response, churn, repeats and brand damage, their total\n"
    "and the multiplier (total / direct), each with how it was reached.",
    "PART is direct, response, churn, repeats or brand; AMOUNT a decimal number from 0 to\n"
    "10^15 with at most two decimals (10000, 49.99; no sign, exponent or hex).\n"
    "A part a person sets replaces the computed one and is recorded in the incident's\n"
    "timeline.\n\n"
    "examples:\n"
    "  kintsugi cost 3\n"
    "  kintsugi cost set 3 brand 10000 --by alice\n\n"
    "exit status: 0 done, 1 not found, 2 usage error (an unknown part, an amount that is\n"
    "not a decimal number from 0 to 10^15).",
    cost_opts, sizeof(cost_opts) / sizeof(cost_opts[0])};

struct cost_ctx {
    int64_t id;
    const char *part, *by;
    double amount;
    ks_time at;
};

static enum ks_rc write_cost(struct ks_shell *a, void *ctx, struct ks_err *err)
{
    struct cost_ctx *c = ctx;
    return ks_review_apply_cost(a->store, a->eng, a->cfg.currency, c->id, c->part, c->amount,
                                c->by, c->at, err);
}

static void print_cost(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    static const char *const parts[] = {"direct", "response", "churn", "repeats", "brand"};
    printf("cost of incident %lld (%s)\n", (long long)json_integer_value(json_object_get(j, "incident")),
           json_string_value(json_object_get(j, "currency")));
    json_t *how = json_object_get(j, "how");
    for (size_t k = 0; k < 5; k++) {
        printf("  %-10s %14.2f  %s\n", parts[k],
               json_number_value(json_object_get(j, parts[k])),
               json_string_value(json_object_get(how, parts[k])));
    }
    printf("  %-10s %14.2f\n", "total", json_number_value(json_object_get(j, "total")));
    json_t *m = json_object_get(j, "multiplier");
    if (json_is_number(m)) {
        printf("  %-10s %14.1f x\n", "multiplier", json_number_value(m));
    } else {
        printf("  %-10s %14s\n", "multiplier", "- (no direct cost)");
    }
    json_decref(j);
}

int ks_cmd_cost(int argc, char **argv)
{
    char **args = ks_malloc(((size_t)argc + 1) * sizeof(char *));
    int nargs, rc = ks_cli_parse(&cost_spec, argc, argv, args, &nargs);
    if (rc != 0) {
        ks_free(args);
        return rc < 0 ? KS_EXIT_OK : rc;
    }
    if (ks_cli_person("by", ks_cli_opt(&cost_spec, "by")->value) != 0) {
        ks_free(args);
        return KS_EXIT_USAGE; /* who did it goes on one line of the timeline */
    }
    int set = nargs > 0 && !strcmp(args[0], "set");
    int64_t id = 0;
    if ((set && nargs != 4) || (!set && nargs != 1) ||
        ks_learn_parse_id(args[set ? 1 : 0], &id) != 0) {
        if ((set && nargs != 4) || (!set && nargs != 1)) {
            ks_cli_error("usage: kintsugi cost ID | cost set ID PART AMOUNT --by NAME");
        }
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    const char *db = ks_shell_db(ks_cli_opt(&cost_spec, "db")->value);
    const char *config = ks_cli_opt(&cost_spec, "config")->value;
    struct ks_shell a;
    struct ks_err err = {0};
    if (set) {
        const char *by = ks_cli_opt(&cost_spec, "by")->value;
        double amount = 0;
        ks_time at;
        if (!by || !*by) {
            ks_cli_error("'cost set' needs --by NAME: every entry has a person accountable");
            rc = KS_EXIT_USAGE;
        } else if (ks_amount_parse(args[3], &amount) != 0) {
            /* the parser of remedy --amount: no hex, exponent or sign */
            ks_cli_error("'%s' is not an amount: a decimal number from 0 to 10^15 with at most "
                         "two decimals (10000, 49.99)",
                         ks_cli_safe(args[3]));
            rc = KS_EXIT_USAGE;
        } else if (ks_review_cost_check(args[2], amount, &err) != KS_OK) {
            ks_cli_error("%s", err.msg); /* an unknown part, an amount too large */
            rc = KS_EXIT_USAGE;
        } else if (ks_cli_at(ks_cli_opt(&cost_spec, "at")->value, &at) != 0) {
            rc = KS_EXIT_USAGE;
        } else if ((rc = ks_shell_open(&a, config, db, KS_SHELL_ENGINE)) == 0) {
            ks_time c = ks_engine_clock(a.eng);
            struct cost_ctx cx = {id, args[2], by, amount,
                                  at != KS_TIME_NONE && (c == KS_TIME_NONE || at > c) ? at : c};
            rc = ks_shell_flush_with(&a, 1, write_cost, &cx);
            if (rc == 0) {
                printf("incident %lld: cost %s set to %.2f by %s\n", (long long)id, args[2],
                       amount, by);
            }
            ks_shell_close(&a);
        }
        ks_free(args);
        return rc;
    }
    struct ks_review_set *rs = NULL;
    if ((rc = ks_learn_open(&a, config, db, ks_cli_opt(&cost_spec, "now")->value, &rs)) == 0) {
        struct ks_buf out = {0};
        if (ks_review_cost_json(rs, id, &out, &err) != KS_OK) {
            ks_cli_error("%s", err.msg);
            rc = KS_EXIT_FAIL;
        } else if (ks_cli_opt(&cost_spec, "json")->set) {
            printf("%s\n", out.p);
        } else {
            print_cost(out.p);
        }
        ks_buf_fini(&out);
        ks_review_free(rs);
        ks_shell_close(&a);
    }
    ks_free(args);
    return rc;
}
