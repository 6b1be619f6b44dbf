/*
 * cmd_remedy.c - `kintsugi remedy offer|grant|approve|decline|review|list` and
 * `kintsugi promise`: the service-recovery policy (docs/REMEDIES.md).
 * Reading commands read the store; writing ones change the store and the
 * incident's timeline in one transaction (src/remedy/).
 */
#include "../remedy/remedy.h"
#include "../shell/shell.h"
#include "cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static struct ks_opt opts[] = {
    {"db", 1, "SQLite file or postgresql:// URI (default: ./kintsugi.db)", 0, NULL},
    {"config", 1, "configuration file (roles, people; default: $KINTSUGI_CONFIG or ./kintsugi.yaml)",
     0, NULL},
    {"json", 0, "JSON on stdout", 0, NULL},
    {"order", 1, "offer, grant: the order (its order_id)", 0, NULL},
    {"kind", 1, "grant: the remedy (refund, store_credit, replacement, expedited_shipping,\n"
                "          discount_code, cancel_with_refund)", 0, NULL},
    {"amount", 1, "grant: its amount in the configuration's currency, > 0, two decimals at most\n"
                  "          (none: the order's value)", 0, NULL},
    {"by", 1, "grant, approve, decline, review: the person accountable (a person of the\n"
              "          configuration)", 0, NULL},
    {"note", 1, "grant, review: a note kept with it; decline: why (required)", 0, NULL},
    {"escalate", 0, "grant: a complex case, for a specialist review within 24 h", 0, NULL},
    {"incident", 1, "list: only this incident's remedies", 0, NULL},
    {"at", 1, "when it was done (RFC 3339; default: the engine clock, the last event time)", 0,
     NULL},
};
static const struct ks_cmd_spec spec = {
    "kintsugi remedy offer INCIDENT --order ID [--json] |\n"
    "       grant INCIDENT --order ID --kind K [--amount X] --by NAME [--note T] [--escalate] |\n"
    "       approve REMEDY --by NAME | decline REMEDY --by NAME --note WHY |\n"
    "       review REMEDY --by NAME [--note T] |\n"
    "       list [--incident N] [--json]   [--db F] [--config F]",
    "Make it right: what a customer whose order an incident touched may be given, granted\n"
    "by a named person within the limits of their role.",
    "The policy is roles.NAME.remedies in kintsugi.yaml: per remedy an amount (granted at\n"
    "once up to it), true (any amount) or false (not allowed); \"*\" for the rest. `grant`\n"
    "within the person's limit grants at once; above it the remedy is pending until\n"
    "`approve` by someone whose limit covers it, or `decline` (never given, with why) by\n"
    "such a person or by the one who proposed it (withdrawn); a role without the right is\n"
    "refused.\n"
    "`offer` lists the choices the customer may be given, their own choices first. A\n"
    "complex case (--escalate, above the limit, or a second remedy for the order) gets a\n"
    "specialist review due within 24 h (`review`); a missed one is an sla entry on the\n"
    "incident's timeline. Every grant and approval is on the timeline, with the person.\n"
    "A granted cancel_with_refund supersedes the order's remedies that wait for approval\n"
    "(status superseded: never given); none is approved after it.\n"
    "A refund, replacement or cancellation with an amount above the order's value (as its\n"
    "order events gave it; refunds add up) is refused, and so is its approval; where\n"
    "kintsugi knows no value for the order, the amount is not checked, and it says so.\n\n"
    "examples:\n"
    "  kintsugi remedy offer 3 --order o-1017\n"
    "  kintsugi remedy grant 3 --order o-1017 --kind refund --amount 30 --by carol\n"
    "  kintsugi remedy grant 3 --order o-1017 --kind cancel_with_refund --by carol\n"
    "  kintsugi remedy approve 2 --by bob\n"
    "  kintsugi remedy decline 4 --by bob --note 'replacement shipped already'\n"
    "  kintsugi remedy review 2 --by dana --note 'right call'\n"
    "  kintsugi remedy list --incident 3 --json\n"
    "  kintsugi promise --markdown > promise.md\n\n"
    "exit status: 0 done (a pending grant included), 1 not found or refused, 2 usage error.",
    opts, sizeof(opts) / sizeof(opts[0])};

struct write_ctx {
    int verb; /* 1 grant, 2 approve, 3 review, 5 decline */
    struct ks_remedy_req rq;
    int64_t id;
    ks_time at;
    struct ks_buf out;
};

static enum ks_rc write_remedy(struct ks_shell *a, void *ctx, struct ks_err *err)
{
    struct write_ctx *c = ctx;
    ks_buf_reset(&c->out);
    if (c->verb == 1) {
        return ks_remedy_grant(a->store, a->eng, &a->cfg, &c->rq, c->at, 0, &c->id, &c->out,
                               err);
    }
    if (c->verb == 2) {
        return ks_remedy_approve(a->store, a->eng, &a->cfg, c->id, c->rq.by, c->at, 0, &c->out,
                                 err);
    }
    if (c->verb == 5) {
        return ks_remedy_decline(a->store, a->eng, &a->cfg, c->id, c->rq.by, c->rq.note, c->at,
                                 0, &c->out, err);
    }
    return ks_remedy_review(a->store, a->eng, &a->cfg, c->id, c->rq.by, c->rq.note, c->at, 0,
                            &c->out, err);
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static void amount_text(json_t *o, char *buf, size_t cap)
{
    json_t *a = json_object_get(o, "amount");
    if (json_is_number(a)) {
        snprintf(buf, cap, "%.2f %s", json_number_value(a), str(o, "currency"));
    } else {
        snprintf(buf, cap, "order's value");
    }
}

/* The human line of one remedy. */
static void print_remedy(json_t *o)
{
    char amount[64];
    amount_text(o, amount, sizeof(amount));
    const char *status = str(o, "status");
    json_t *declined = json_object_get(o, "declined");
    /* a remedy never given (superseded, declined) has no review to do */
    json_t *rv = strcmp(status, "superseded") && !json_is_object(declined)
                     ? json_object_get(o, "review")
                     : NULL;
    printf("%-4lld %-4lld %-12s %-19s %-18s %-8s %-10s %s%s%s\n",
           (long long)json_integer_value(json_object_get(o, "id")),
           (long long)json_integer_value(json_object_get(o, "incident")), str(o, "order"),
           str(o, "kind"), amount, status,
           json_is_string(json_object_get(o, "accountable")) ? str(o, "accountable")
           : json_is_object(declined)                        ? str(declined, "by")
                                                             : str(o, "requested_by"),
           json_is_object(rv) ? "review " : "", json_is_object(rv) ? str(rv, "status") : "",
           json_is_true(json_object_get(rv, "missed")) ? " (missed)" : "");
}

static void print_list(const char *text)
{
    json_t *a = json_loads(text ? text : "[]", 0, NULL);
    if (!json_array_size(a)) {
        printf("(no remedies)\n");
    } else {
        printf("%-4s %-4s %-12s %-19s %-18s %-8s %-10s %s\n", "ID", "INC", "ORDER", "KIND",
               "AMOUNT", "STATUS", "BY", "REVIEW");
    }
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x)
    {
        print_remedy(x);
    }
    json_decref(a);
}

static void print_offer(const char *text)
{
    json_t *o = json_loads(text, 0, NULL);
    printf("incident %lld (%s), order %s: the customer may be given\n",
           (long long)json_integer_value(json_object_get(o, "incident")), str(o, "type"),
           str(o, "order"));
    size_t i;
    json_t *c;
    const char *last = NULL;
    json_array_foreach(json_object_get(o, "choices"), i, c)
    {
        const char *choice = str(c, "choice");
        if (!last || strcmp(last, choice) != 0) {
            printf("%s\n", !strcmp(choice, "customer") ? "  their choice of:" : "  and, from us:");
            last = choice;
        }
        printf("    %-19s %s; at once by", str(c, "kind"), str(c, "text"));
        const char *role;
        json_t *lim;
        int n = 0;
        json_object_foreach(json_object_get(c, "roles"), role, lim)
        {
            if (json_is_true(lim)) {
                printf("%s %s (any amount)", n++ ? "," : "", role);
            } else {
                printf("%s %s (up to %.2f %s)", n++ ? "," : "", role, json_number_value(lim),
                       str(o, "currency"));
            }
        }
        size_t g = json_array_size(json_object_get(c, "given"));
        printf("%s\n", g ? " - given already" : "");
    }
    if (!json_array_size(json_object_get(o, "choices"))) {
        printf("  nothing: no role of the configuration may grant a remedy (roles.NAME.remedies)\n");
    }
    json_decref(o);
}

static int parse_amount(const char *s, double *out)
{
    if (ks_remedy_amount_parse(s, out) != 0) {
        ks_cli_error("--amount '%s' is not an amount: a decimal number > 0 with at most two "
                     "decimals (30, 49.99)",
                     ks_cli_safe(s));
        return -1;
    }
    return 0;
}

/* --order: the order id of a remedy (offer, grant). */
static int check_order(const char *verb, const char *order)
{
    char why[96];
    if (!order || !*order) {
        ks_cli_error("'remedy %s' needs --order ID (the order's order_id)", verb);
        return KS_EXIT_USAGE;
    }
    if (ks_remedy_order_invalid(order, why, sizeof(why))) {
        ks_cli_error("--order: the order id %s", why);
        return KS_EXIT_USAGE;
    }
    return 0;
}

/* The checks of a writing verb's options before the database is opened. */
static int check_write(int verb, const char *by, struct write_ctx *c)
{
    if (!by || !*by) {
        ks_cli_error("'remedy %s' needs --by NAME: a person is accountable for every remedy",
                     verb == 1   ? "grant"
                     : verb == 2 ? "approve"
                     : verb == 5 ? "decline"
                                 : "review");
        return KS_EXIT_USAGE;
    }
    if (verb == 5 && (!c->rq.note || !*c->rq.note)) {
        ks_cli_error("'remedy decline' needs --note WHY: a decline says why (the customer team "
                     "tells the customer)");
        return KS_EXIT_USAGE;
    }
    if (ks_cli_at(ks_cli_opt(&spec, "at")->value, &c->at) != 0) {
        return KS_EXIT_USAGE;
    }
    if (verb != 1) {
        return 0;
    }
    const char *kind = ks_cli_opt(&spec, "kind")->value;
    const char *amount = ks_cli_opt(&spec, "amount")->value;
    if (check_order("grant", c->rq.order) != 0) {
        return KS_EXIT_USAGE;
    }
    if (!kind || !ks_remedy_known(kind)) {
        ks_cli_error("'remedy grant' needs --kind: one of refund, store_credit, replacement, "
                     "expedited_shipping, discount_code, cancel_with_refund%s%s%s",
                     kind ? " (not '" : "", kind ? kind : "", kind ? "')" : "");
        return KS_EXIT_USAGE;
    }
    c->rq.kind = kind;
    if (amount) {
        if (parse_amount(amount, &c->rq.amount) != 0) {
            return KS_EXIT_USAGE;
        }
        c->rq.has_amount = 1;
    }
    return 0;
}

/* After a granted cancellation with a full refund (o): the remedies of its
 * order for the incident it superseded (they waited for approval). */
static void print_superseded(struct ks_shell *a, json_t *o)
{
    struct ks_buf out = {0};
    struct ks_err err = {0};
    if (ks_remedy_list_json(a->store, json_integer_value(json_object_get(o, "incident")), &out,
                            &err) == KS_OK) {
        json_t *all = json_loads(out.p ? out.p : "[]", 0, NULL);
        size_t i;
        json_t *x;
        json_array_foreach(all, i, x)
        {
            if (!strcmp(str(x, "status"), "superseded") &&
                !strcmp(str(x, "order"), str(o, "order"))) {
                char amount[64];
                amount_text(x, amount, sizeof(amount));
                printf("remedy %lld: %s of %s superseded: it waited for approval and is not given "
                       "(the order is cancelled with a full refund)\n",
                       (long long)json_integer_value(json_object_get(x, "id")), str(x, "kind"),
                       amount);
            }
        }
        json_decref(all);
    }
    ks_buf_fini(&out);
}

static int run_write(int verb, const char *config, const char *db, struct write_ctx *c, int json)
{
    struct ks_shell a;
    int rc = ks_shell_open(&a, config, db, KS_SHELL_ENGINE);
    if (rc != 0) {
        return rc;
    }
    if (c->at != KS_TIME_NONE) {
        ks_time clock = ks_engine_clock(a.eng);
        c->at = clock == KS_TIME_NONE || c->at > clock ? c->at : clock;
    }
    rc = ks_shell_flush_with(&a, 1, write_remedy, c);
    if (rc == 0) {
        if (json) {
            printf("%s\n", c->out.p);
        } else {
            json_t *o = json_loads(c->out.p, 0, NULL);
            char amount[64];
            amount_text(o, amount, sizeof(amount));
            const char *status = str(o, "status");
            json_t *rv = json_object_get(o, "review");
            if (verb == 3) {
                printf("remedy %lld: specialist review done by %s\n", (long long)c->id, c->rq.by);
            } else if (verb == 5) {
                printf("remedy %lld: %s of %s for order %s %s by %s: not given\n",
                       (long long)c->id, str(o, "kind"), amount, str(o, "order"),
                       strcmp(str(o, "requested_by"), c->rq.by) ? "declined" : "withdrawn",
                       c->rq.by);
            } else if (!strcmp(status, "granted")) {
                printf("remedy %lld: %s of %s for order %s granted; accountable: %s\n",
                       (long long)json_integer_value(json_object_get(o, "id")), str(o, "kind"),
                       amount, str(o, "order"), str(o, "accountable"));
            } else {
                long long rid = (long long)json_integer_value(json_object_get(o, "id"));
                printf("remedy %lld: %s of %s for order %s is pending: above the limit of %s; "
                       "someone whose limit covers it approves it (kintsugi remedy approve %lld "
                       "--by NAME) or declines it (kintsugi remedy decline %lld --by NAME --note "
                       "WHY)\n",
                       rid, str(o, "kind"), amount, str(o, "order"), str(o, "requested_by"), rid,
                       rid);
            }
            if (verb != 3 && verb != 5 && json_is_object(rv)) {
                printf("complex case (%s): specialist review due %s\n", str(o, "complex"),
                       str(rv, "due"));
            }
            if ((verb == 1 || verb == 2) && json_is_null(json_object_get(o, "order_value")) &&
                json_is_number(json_object_get(o, "amount")) && ks_remedy_bounded(str(o, "kind"))) {
                printf("the value of order %s is not known to kintsugi: the amount could not be "
                       "checked against it\n",
                       str(o, "order"));
            }
            if (verb != 3 && verb != 5 && !strcmp(status, "granted") &&
                !strcmp(str(o, "kind"), "cancel_with_refund")) {
                print_superseded(&a, o);
            }
            json_decref(o);
        }
    }
    ks_shell_close(&a);
    return rc;
}

int ks_cmd_remedy(int argc, char **argv)
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
    static const char *const verbs[] = {"offer", "grant", "approve", "review", "list", "decline"};
    int v = -1;
    for (int i = 0; i < 6 && nargs > 0; i++) {
        if (!strcmp(args[0], verbs[i])) {
            v = i;
        }
    }
    if (v < 0 || nargs != (v == 4 ? 1 : 2)) {
        if (v < 0) {
            ks_cli_error("remedy needs a verb: offer, grant, approve, decline, review or list%s%s%s",
                         nargs ? " (not '" : "", nargs ? args[0] : "", nargs ? "')" : "");
        } else {
            ks_cli_error("wrong number of arguments for 'remedy %s'", verbs[v]);
        }
        ks_cli_help(&spec, stderr);
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    int64_t id = 0;
    if (v != 4 && ks_cli_id(args[1], v <= 1 ? "an incident id" : "a remedy id", &id) != 0) {
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    const char *db = ks_shell_db(ks_cli_opt(&spec, "db")->value);
    const char *config = ks_cli_opt(&spec, "config")->value;
    int json = ks_cli_opt(&spec, "json")->set;
    const char *order = ks_cli_opt(&spec, "order")->value;
    struct ks_err err = {0};
    if ((v >= 1 && v <= 3) || v == 5) {
        struct write_ctx c = {v, {0}, 0, KS_TIME_NONE, {0}};
        c.rq.incident = id;
        c.rq.order = order;
        c.rq.by = ks_cli_opt(&spec, "by")->value;
        c.rq.note = ks_cli_opt(&spec, "note")->value;
        c.rq.escalate = ks_cli_opt(&spec, "escalate")->set;
        c.id = v == 1 ? 0 : id;
        rc = check_write(v, c.rq.by, &c);
        if (rc == 0) {
            rc = run_write(v, config, db, &c, json);
        }
        ks_buf_fini(&c.out);
        ks_free(args);
        return rc;
    }
    int64_t incident = 0;
    const char *inc_opt = ks_cli_opt(&spec, "incident")->value;
    if (v == 0 && check_order("offer", order) != 0) {
        rc = KS_EXIT_USAGE;
    } else if (v == 4 && inc_opt && ks_cli_id(inc_opt, "an incident id", &incident) != 0) {
        rc = KS_EXIT_USAGE;
    }
    struct ks_shell a;
    if (rc == 0 && (rc = ks_shell_open(&a, config, db, 0)) == 0) {
        struct ks_buf out = {0};
        enum ks_rc r = v == 0 ? ks_remedy_offer_json(a.store, &a.cfg, id, order, &out, &err)
                              : ks_remedy_list_json(a.store, incident, &out, &err);
        if (r != KS_OK) {
            ks_cli_error("%s", err.msg);
            rc = KS_EXIT_FAIL;
        } else if (json) {
            printf("%s\n", out.p);
        } else if (v == 0) {
            print_offer(out.p);
        } else {
            print_list(out.p);
        }
        ks_buf_fini(&out);
        ks_shell_close(&a);
    }
    ks_free(args);
    return rc;
}

/* ---- kintsugi promise ------------------------------------------------------------------ */

static struct ks_opt promise_opts[] = {
    {"config", 1, "configuration file (roles; default: $KINTSUGI_CONFIG or ./kintsugi.yaml)", 0,
     NULL},
    {"markdown", 0, "Markdown", 0, NULL},
    {"html", 0, "an HTML page", 0, NULL},
    {"json", 0, "one JSON object with the three forms: {\"text\",\"markdown\",\"html\"}", 0,
     NULL},
};
static const struct ks_cmd_spec promise_spec = {
    "kintsugi promise [--markdown|--html|--json] [--config F]",
    "The recovery promise: the service-recovery policy (roles.NAME.remedies) in plain\n"
    "language, for the shop's customers.",
    "It says what the shop does when it makes a mistake, what the customer can choose,\n"
    "who decides (a named person, accountable), who reviews complex cases and when, and\n"
    "how the customer's data is used. Plain text by default.\n\n"
    "examples:\n"
    "  kintsugi promise\n"
    "  kintsugi promise --html > promise.html\n\n"
    "exit status: 0 done, 2 usage or configuration error.",
    promise_opts, sizeof(promise_opts) / sizeof(promise_opts[0])};

int ks_cmd_promise(int argc, char **argv)
{
    char **args = ks_malloc(((size_t)argc + 1) * sizeof(char *));
    int nargs, rc = ks_cli_parse(&promise_spec, argc, argv, args, &nargs);
    ks_free(args);
    if (rc != 0) {
        return rc < 0 ? KS_EXIT_OK : rc;
    }
    int md = ks_cli_opt(&promise_spec, "markdown")->set;
    int html = ks_cli_opt(&promise_spec, "html")->set;
    int json = ks_cli_opt(&promise_spec, "json")->set;
    if (nargs || (md != 0) + (html != 0) + (json != 0) > 1) {
        ks_cli_error(nargs ? "promise takes no arguments"
                           : "choose one of --markdown, --html and --json");
        return KS_EXIT_USAGE;
    }
    struct ks_config cfg;
    const char *path = ks_shell_config_path(ks_cli_opt(&promise_spec, "config")->value);
    struct ks_err err = {0};
    if (path ? ks_config_load(&cfg, path, &err) != KS_OK : (ks_config_defaults(&cfg), 0)) {
        ks_cli_error("%s", err.msg);
        return KS_EXIT_USAGE;
    }
    struct ks_buf out = {0};
    if (json) {
        static const struct {
            const char *key;
            enum ks_remedy_format f;
        } forms[] = {{"text", KS_PROMISE_TEXT},
                     {"markdown", KS_PROMISE_MARKDOWN},
                     {"html", KS_PROMISE_HTML}};
        struct ks_json j;
        ks_json_init(&j, &out, 0);
        ks_json_obj_begin(&j);
        for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
            struct ks_buf one = {0};
            ks_remedy_promise(&cfg, forms[i].f, &one);
            ks_json_key(&j, forms[i].key);
            ks_json_strn(&j, one.p ? one.p : "", one.len);
            ks_buf_fini(&one);
        }
        ks_json_obj_end(&j);
        ks_buf_putc(&out, '\n');
    } else {
        ks_remedy_promise(&cfg, md ? KS_PROMISE_MARKDOWN : html ? KS_PROMISE_HTML : KS_PROMISE_TEXT,
                          &out);
    }
    fwrite(out.p, 1, out.len, stdout);
    ks_buf_fini(&out);
    ks_config_fini(&cfg);
    return KS_EXIT_OK;
}
