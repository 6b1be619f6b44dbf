/*
 * cmd_incidents.c - `kintsugi incidents` (list) and `kintsugi incident
 * show|ack|status|note|assign`. Reading commands read the stored rows;
 * actions go through the engine (restored from its checkpoint) so that the
 * incident, its timers and the stored rows stay one state.
 */
#include "../shell/shell.h"
#include "cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ---- kintsugi incidents ------------------------------------------------------ */

static struct ks_opt list_opts[] = {
    {"db", 1, "SQLite file or postgresql:// URI (default: ./kintsugi.db)", 0, NULL},
    {"config", 1, "configuration file (default: $KINTSUGI_CONFIG or ./kintsugi.yaml)", 0, NULL},
    {"status", 1, "only this status: open, investigating, contained, resolving, resolved", 0,
     NULL},
    {"severity", 1, "only this severity: P1, P2 or P3", 0, NULL},
    {"type", 1, "only this type (e.g. data_corruption)", 0, NULL},
    {"channel", 1, "only incidents whose scope has this channel", 0, NULL},
    {"json", 0, "a JSON array of incidents on stdout", 0, NULL},
};
static const struct ks_cmd_spec list_spec = {
    "kintsugi incidents [--db F] [--config F] [--status S] [--severity P] [--type T] [--channel C] [--json]",
    "List incidents, oldest first: id, severity, status, type, detection time and title.",
    "examples:\n"
    "  kintsugi incidents --status open\n"
    "  kintsugi incidents --status open --severity P1 --channel amazon\n"
    "  kintsugi incidents --json | jq '.[] | select(.severity == \"P1\")'\n"
    "then: kintsugi incident show ID",
    list_opts, sizeof(list_opts) / sizeof(list_opts[0])};

struct list_ctx {
    int json;
    int n;
};

static int list_row(void *ctx, const struct ks_incident_row *row)
{
    struct list_ctx *c = ctx;
    if (c->json) {
        printf("%s%s", c->n ? ",\n " : "", row->summary_json);
    } else {
        char at[32];
        ks_time_fmt(row->detected_at, at);
        printf("%-5lld %-3s %-13s %-19s %s  %s\n", (long long)row->id, row->severity, row->status,
               row->type, at, row->title ? ks_cli_safe(row->title) : "");
    }
    c->n++;
    return 0;
}

int ks_cmd_incidents(int argc, char **argv)
{
    char **args = ks_malloc(((size_t)argc + 1) * sizeof(char *));
    int nargs, rc = ks_cli_parse(&list_spec, argc, argv, args, &nargs);
    ks_free(args);
    if (rc != 0) {
        return rc < 0 ? KS_EXIT_OK : rc;
    }
    if (nargs) {
        ks_cli_error("incidents takes no arguments (did you mean 'kintsugi incident show ID'?)");
        return KS_EXIT_USAGE;
    }
    const char *status = ks_cli_opt(&list_spec, "status")->value;
    static const char *ok[] = {"open", "investigating", "contained", "resolving", "resolved"};
    int valid = !status;
    for (size_t i = 0; i < 5 && !valid; i++) {
        valid = strcmp(status, ok[i]) == 0;
    }
    if (!valid) {
        ks_cli_error("unknown --status '%s' (use open, investigating, contained, resolving or "
                     "resolved)",
                     status);
        return KS_EXIT_USAGE;
    }
    struct ks_incident_filter f = {.status = status,
                                   .severity = ks_cli_opt(&list_spec, "severity")->value,
                                   .type = ks_cli_opt(&list_spec, "type")->value,
                                   .channel = ks_cli_opt(&list_spec, "channel")->value};
    if (f.severity && strcmp(f.severity, "P1") && strcmp(f.severity, "P2") &&
        strcmp(f.severity, "P3")) {
        ks_cli_error("unknown --severity '%s' (use P1, P2 or P3)", f.severity);
        return KS_EXIT_USAGE;
    }
    if (f.type && !ks_engine_type_known(f.type)) {
        ks_cli_error("unknown --type '%s' (use %s)", f.type, KS_INCIDENT_TYPES);
        return KS_EXIT_USAGE;
    }
    struct ks_shell a;
    if ((rc = ks_shell_open(&a, ks_cli_opt(&list_spec, "config")->value,
                            ks_shell_db(ks_cli_opt(&list_spec, "db")->value), 0)) != 0) {
        return rc;
    }
    struct list_ctx ctx = {ks_cli_opt(&list_spec, "json")->set, 0};
    struct ks_err err = {0};
    if (ctx.json) {
        printf("[");
    } else {
        printf("%-5s %-3s %-13s %-19s %-24s  %s\n", "ID", "SEV", "STATUS", "TYPE", "DETECTED",
               "TITLE");
    }
    if (a.store->ops->list_incidents(a.store, &f, list_row, &ctx, &err) != KS_OK) {
        ks_cli_error("%s", err.msg);
        rc = KS_EXIT_FAIL;
    }
    if (ctx.json) {
        printf("]\n");
    } else if (ctx.n == 0) {
        /* "(no incidents with status open, severity P1)": the filters given */
        const char *name[] = {"status", "severity", "type", "channel"};
        const char *val[] = {f.status, f.severity, f.type, f.channel};
        printf("(no incidents");
        for (size_t i = 0, n = 0; i < 4; i++) {
            if (val[i]) {
                printf("%s%s %s", n++ ? ", " : " with ", name[i], val[i]);
            }
        }
        printf(")\n");
    }
    ks_shell_close(&a);
    return rc;
}

/* ---- kintsugi incident ... ---------------------------------------------------- */

static struct ks_opt inc_opts[] = {
    {"db", 1, "SQLite file or postgresql:// URI (default: ./kintsugi.db)", 0, NULL},
    {"config", 1, "configuration file (default: $KINTSUGI_CONFIG or ./kintsugi.yaml)", 0, NULL},
    {"json", 0, "show: the incident with its timeline as JSON", 0, NULL},
    {"by", 1, "who does it (required for every action)", 0, NULL},
    {"at", 1, "when it was done (RFC 3339; default: the engine clock, the last event time)", 0,
     NULL},
    {"note", 1, "step: a note kept with the step", 0, NULL},
};
static const struct ks_cmd_spec inc_spec = {
    "kintsugi incident show ID [--json] | verify ID [--json] | ack ID | status ID STATUS |\n"
    "       note ID TEXT | assign ID OWNER | step ID STEP done|skip [--note TEXT]\n"
    "       (actions take --by NAME [--at TS]) [--db F]",
    "Read one incident, or act on it: acknowledge, move its status forward\n"
    "(investigating -> contained -> resolving -> resolved), add a note, assign an owner.",
    "Every action is a timeline entry with its actor. Resolving a data_corruption incident\n"
    "makes the flagged quantities that were not rolled back the new last known good\n"
    "reference, and says that its source is fixed: the SKUs held one by one since the\n"
    "rollback keep their last known good quantity and are no longer held.\n\n"
    "examples:\n"
    "  kintsugi incident show 3\n"
    "  kintsugi incident ack 3 --by alice\n"
    "  kintsugi incident status 3 contained --by alice\n"
    "  kintsugi incident note 3 'erp import re-run with the fixed file' --by bob\n"
    "  kintsugi incident note 3 --by bob -- '-5 units were missing'\n"
    "  kintsugi incident step 3 spot_check done --by bob --note '20 of 20 match'\n"
    "  kintsugi incident verify 3        (spot check of 20 SKUs, oversold orders)\n\n"
    "exit status: 0 done, 1 not found or refused (e.g. a status that goes backwards),\n"
    "2 usage error.",
    inc_opts, sizeof(inc_opts) / sizeof(inc_opts[0])};

/* `incident verify` for a person: the spot check, then the oversold orders. */
static void print_verify(const char *json)
{
    json_t *j = json_loads(json, 0, NULL);
    json_t *spot = json_object_get(j, "spot_check"), *over = json_object_get(j, "oversold_orders");
    printf("incident %lld: spot check of %zu affected SKUs against stock: %lld ok\n",
           (long long)json_integer_value(json_object_get(j, "incident")), json_array_size(spot),
           (long long)json_integer_value(json_object_get(j, "spot_check_ok")));
    if (json_array_size(spot)) {
        printf("  %-12s %-24s %8s %9s %8s  %s\n", "CHANNEL", "SKU", "GUARDED", "LAST_GOOD",
               "STOCK", "OK");
    }
    size_t i;
    json_t *x;
    json_array_foreach(spot, i, x)
    {
        json_t *st = json_object_get(x, "stock");
        char stock[32] = "-";
        if (json_is_integer(st)) {
            snprintf(stock, sizeof(stock), "%lld", (long long)json_integer_value(st));
        }
        printf("  %-12s %-24s %8lld %9lld %8s  %s\n",
               ks_cli_safe(json_string_value(json_object_get(x, "channel"))),
               ks_cli_safe(json_string_value(json_object_get(x, "sku"))),
               (long long)json_integer_value(json_object_get(x, "guarded")),
               (long long)json_integer_value(json_object_get(x, "last_good")), stock,
               json_is_true(json_object_get(x, "ok")) ? "ok" : "MORE THAN STOCK");
    }
    printf("oversold orders in the window: %zu, %.2f in value", json_array_size(over),
           json_number_value(json_object_get(j, "oversold_value")));
    if (json_array_size(over)) {
        printf(" (to cancel them once proposed: kintsugi action approve %lld cancel_orders --by "
               "NAME)",
               (long long)json_integer_value(json_object_get(j, "incident")));
    }
    printf("\n");
    json_array_foreach(over, i, x)
    {
        printf("  %s  %-12s order %s  customer %s  %.2f\n",
               json_string_value(json_object_get(x, "at")),
               ks_cli_safe(json_string_value(json_object_get(x, "channel"))),
               ks_cli_safe(json_string_value(json_object_get(x, "order_id"))),
               ks_cli_safe(json_string_value(json_object_get(x, "customer"))),
               json_number_value(json_object_get(x, "value")));
    }
    json_decref(j);
}

/* One list of the scope, its first names and how many more. */
static void print_names(const char *label, json_t *list, size_t total, int *first)
{
    size_t n = json_array_size(list), shown = n < 8 ? n : 8;
    if (!total && !n) {
        return;
    }
    printf("  %-16s %s: ", *first ? "scope" : "", label);
    *first = 0;
    if (total) {
        printf("%zu", total);
        if (n) {
            printf(" (");
        }
    }
    for (size_t i = 0; i < shown; i++) {
        printf("%s%s", i ? ", " : "", ks_cli_safe(json_string_value(json_array_get(list, i))));
    }
    size_t more = (total > n ? total : n) - shown;
    if (more && shown) {
        printf(", and %zu more", more);
    }
    printf("%s\n", total && n ? ")" : "");
}

/* The scope a line per kind of thing, the empty ones left out (--json: all
 * of it, with up to 100 SKUs). */
static void print_scope(json_t *scope)
{
    int first = 1;
    static const char *const lists[][2] = {{"locations", "locations"},
                                           {"systems", "systems"},
                                           {"purchase_orders", "purchase orders"},
                                           {"sources", "sources"}};
    print_names("channels", json_object_get(scope, "channels"), 0, &first);
    json_int_t skus = json_integer_value(json_object_get(scope, "skus"));
    print_names("SKUs", json_object_get(scope, "sku_list"), skus > 0 ? (size_t)skus : 0, &first);
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        print_names(lists[i][1], json_object_get(scope, lists[i][0]), 0, &first);
    }
    const char *key;
    json_t *v;
    json_object_foreach(scope, key, v)
    {
        if (json_is_string(v)) { /* a complaint's reason, a metric rule's name */
            printf("  %-16s %s: %s\n", first ? "scope" : "", key,
                   ks_cli_safe(json_string_value(v)));
            first = 0;
        }
    }
    if (first) {
        printf("  %-16s -\n", "scope");
    }
}

static void print_human(const char *detail)
{
    json_error_t jerr;
    json_t *j = json_loads(detail, 0, &jerr);
    if (!j) {
        printf("%s\n", detail);
        return;
    }
    const char *s;
    printf("incident %lld  %s  %s  %s\n", (long long)json_integer_value(json_object_get(j, "id")),
           json_string_value(json_object_get(j, "severity")),
           json_string_value(json_object_get(j, "status")),
           json_string_value(json_object_get(j, "type")));
    printf("  %s\n", ks_cli_safe(json_string_value(json_object_get(j, "title"))));
    static const char *times[] = {"started_at", "detected_at", "acknowledged_at", "contained_at",
                                  "resolved_at"};
    for (size_t i = 0; i < 5; i++) {
        s = json_string_value(json_object_get(j, times[i]));
        printf("  %-16s %s\n", times[i], s ? s : "-");
    }
    s = json_string_value(json_object_get(j, "owner"));
    printf("  %-16s %s\n", "owner", s ? ks_cli_safe(s) : "(nobody yet)");
    print_scope(json_object_get(j, "scope"));
    json_t *imp = json_object_get(j, "impact");
    printf("  %-16s %lld orders, %lld customers, %.2f revenue, %lld units\n", "impact",
           (long long)json_integer_value(json_object_get(imp, "orders")),
           (long long)json_integer_value(json_object_get(imp, "customers")),
           json_number_value(json_object_get(imp, "revenue")),
           (long long)json_integer_value(json_object_get(imp, "units")));
    json_t *rep = json_object_get(j, "repeat_of");
    if (json_is_integer(rep)) {
        printf("  %-16s incident %lld\n", "repeat_of", (long long)json_integer_value(rep));
    }
    json_t *cl = json_object_get(j, "checklist");
    if (json_array_size(cl)) {
        printf("\nchecklist (kintsugi incident step %lld STEP done|skip --by NAME):\n",
               (long long)json_integer_value(json_object_get(j, "id")));
        size_t k;
        json_t *st;
        json_array_foreach(cl, k, st)
        {
            const char *status = json_string_value(json_object_get(st, "status"));
            /* an automated step kintsugi could not do waits for a person */
            int left = strcmp(status, "left_to_person") == 0;
            const char *mark = strcmp(status, "done") == 0       ? "[x]"
                               : strcmp(status, "proposed") == 0 ? "[?]"
                               : left                            ? "[!]"
                               : strcmp(status, "pending") == 0  ? "[ ]"
                                                                 : "[-]";
            printf("  %s %-8s %-26s %s%s%s%s\n", mark,
                   json_string_value(json_object_get(st, "phase")),
                   json_string_value(json_object_get(st, "step")),
                   json_string_value(json_object_get(st, "text")),
                   strcmp(status, "done") && strcmp(status, "pending") ? " - " : "",
                   strcmp(status, "done") && strcmp(status, "pending") ? status : "",
                   left ? " (kintsugi could not do it: do it by hand, then tick it)" : "");
        }
    }
    printf("\ntimeline:\n");
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(j, "timeline"), i, t)
    {
        printf("  %s  %-12s %-10s %s\n", json_string_value(json_object_get(t, "at")),
               json_string_value(json_object_get(t, "kind")),
               ks_cli_safe(json_string_value(json_object_get(t, "actor"))),
               ks_cli_safe(json_string_value(json_object_get(t, "text"))));
    }
    json_decref(j);
}

int ks_cmd_incident(int argc, char **argv)
{
    char **args = ks_malloc(((size_t)argc + 1) * sizeof(char *));
    int nargs, rc = ks_cli_parse(&inc_spec, argc, argv, args, &nargs);
    if (rc != 0) {
        ks_free(args);
        return rc < 0 ? KS_EXIT_OK : rc;
    }
    if (ks_cli_person("by", ks_cli_opt(&inc_spec, "by")->value) != 0) {
        ks_free(args);
        return KS_EXIT_USAGE; /* who did it goes on one line of the timeline */
    }
    static const struct ks_cli_verb verbs[] = {
        {"show", 1, "ID"},      {"ack", 1, "ID"},          {"status", 2, "ID STATUS"},
        {"note", 2, "ID TEXT"}, {"assign", 2, "ID OWNER"}, {"step", 3, "ID STEP done|skip"},
        {"verify", 1, "ID"}};
    int v = ks_cli_verb(verbs, 7, nargs > 0 ? args[0] : NULL);
    int64_t id = 0;
    if (v < 0 || nargs - 1 != verbs[v].nargs || ks_cli_id(args[1], "an incident id", &id) != 0) {
        if (v < 0 && nargs > 0) {
            ks_cli_error("unknown incident command '%s': use show, verify, ack, status, note, "
                         "assign or step",
                         args[0]);
            ks_cli_help(&inc_spec, stderr);
        } else if (v < 0) {
            ks_cli_error("incident needs a verb: show, verify, ack, status, note, assign or step");
            ks_cli_help(&inc_spec, stderr);
        } else if (nargs - 1 != verbs[v].nargs) {
            ks_cli_error("wrong number of arguments for 'incident %s': it takes %s", verbs[v].name,
                         verbs[v].takes);
            ks_cli_help(&inc_spec, stderr);
        }
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    const char *db = ks_shell_db(ks_cli_opt(&inc_spec, "db")->value);
    struct ks_shell a;
    struct ks_err err = {0};
    if (v == 0) {
        if ((rc = ks_shell_open(&a, ks_cli_opt(&inc_spec, "config")->value, db, 0)) == 0) {
            struct ks_buf out = {0};
            if (a.store->ops->get_incident(a.store, id, 1, &out, &err) != KS_OK) {
                ks_cli_error("%s", err.msg);
                rc = KS_EXIT_FAIL;
            } else if (ks_cli_opt(&inc_spec, "json")->set) {
                printf("%s\n", out.p);
            } else {
                print_human(out.p);
            }
            ks_buf_fini(&out);
            ks_shell_close(&a);
        }
        ks_free(args);
        return rc;
    }
    if (v == 6) {
        if ((rc = ks_shell_open(&a, ks_cli_opt(&inc_spec, "config")->value, db,
                                KS_SHELL_ENGINE | KS_SHELL_READ)) == 0) {
            struct ks_buf out = {0};
            if (ks_engine_verify_json(a.eng, id, &out, &err) != KS_OK) {
                ks_cli_error("%s", err.msg);
                rc = KS_EXIT_FAIL;
            } else if (ks_cli_opt(&inc_spec, "json")->set) {
                printf("%s\n", out.p);
            } else {
                print_verify(out.p);
            }
            ks_buf_fini(&out);
            ks_shell_close(&a);
        }
        ks_free(args);
        return rc;
    }
    const char *by = ks_cli_opt(&inc_spec, "by")->value;
    ks_time at;
    if (!by || !*by) {
        ks_cli_error("'incident %s' needs --by NAME: every action has a person accountable",
                     verbs[v].name);
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    if (ks_cli_at(ks_cli_opt(&inc_spec, "at")->value, &at) != 0) {
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    if ((rc = ks_shell_open(&a, ks_cli_opt(&inc_spec, "config")->value, db, KS_SHELL_ENGINE)) != 0) {
        ks_free(args);
        return rc;
    }
    ks_cli_at_before_clock(a.eng, at);
    struct ks_cli_clock mark;
    ks_cli_clock_mark(a.eng, &mark);
    enum ks_rc r = KS_OK;
    switch (v) {
    case 1:
        r = ks_engine_ack(a.eng, id, by, at, &err);
        break;
    case 2:
        r = ks_engine_set_status(a.eng, id, args[2], by, at, &err);
        break;
    case 3:
        r = ks_engine_note(a.eng, id, args[2], by, at, &err);
        break;
    case 4:
        r = ks_engine_assign(a.eng, id, args[2], by, at, &err);
        break;
    default:
        r = ks_engine_step(a.eng, id, args[2], args[3], by, ks_cli_opt(&inc_spec, "note")->value,
                           at, &err);
        break;
    }
    if (r != KS_OK) {
        ks_cli_error("%s", err.msg);
        rc = r == KS_EUSAGE ? KS_EXIT_USAGE : KS_EXIT_FAIL;
    } else {
        rc = ks_shell_flush(&a, 1);
        if (rc == 0) {
            ks_cli_clock_moved(a.eng, &mark);
            if (v == 1) {
                printf("incident %lld: acknowledged by %s\n", (long long)id, by);
            } else if (v == 2) {
                printf("incident %lld: status %s, set by %s\n", (long long)id, args[2], by);
            } else if (v == 3) {
                printf("incident %lld: note added by %s\n", (long long)id, by);
            } else if (v == 4) {
                printf("incident %lld: assigned to %s by %s\n", (long long)id, args[2], by);
            } else {
                printf("incident %lld: step %s %s by %s\n", (long long)id, args[2],
                       strcmp(args[3], "skip") == 0 ? "skipped" : "done", by);
            }
        }
    }
    ks_shell_close(&a);
    ks_free(args);
    return rc;
}
