/*
 * cmd_guard.c - `kintsugi guard`: the guard's state and people's commands on
 * it: pause, release, rollback, accept (SPEC section 5).
 */
#include "../shell/shell.h"
#include "cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static struct ks_opt opts[] = {
    {"db", 1, "SQLite file or postgresql:// URI (default: ./kintsugi.db)", 0, NULL},
    {"config", 1, "configuration file (default: $KINTSUGI_CONFIG or ./kintsugi.yaml)", 0, NULL},
    {"json", 0, "status: JSON on stdout", 0, NULL},
    {"by", 1, "who does it (required for every change)", 0, NULL},
    {"at", 1, "when (RFC 3339; default: the engine clock)", 0, NULL},
    {"all", 0, "pause/release: every channel", 0, NULL},
    {"dry-run", 0, "rollback: say what it would do, change nothing", 0, NULL},
};
static const struct ks_cmd_spec spec = {
    "kintsugi guard status [--json] | pause CHANNEL|--all | release CHANNEL|--all |\n"
    "       rollback INCIDENT [--dry-run] | accept INCIDENT   (changes take --by NAME) [--db F]",
    "The guard sits between your inventory pipeline and the sales channels: it lets\n"
    "quantities through (the guarded feed, see 'kintsugi feed'), holds them while a channel\n"
    "is paused, and keeps every SKU's last known good quantity.",
    "  status     which channels are paused, since when, why, how many updates are held,\n"
    "             and the SKUs held one by one at their last known good quantity\n"
    "  pause      hold a channel's updates (in order) until it is released\n"
    "  release    let the held updates through in order and resume the channel; a channel\n"
    "             that holds values of a corrupt update is released only after they are\n"
    "             rolled back or accepted\n"
    "  rollback   discard a data_corruption incident's held bad values; every affected SKU,\n"
    "             phantom stock included, is set back to its last known good quantity\n"
    "  accept     declare the flagged values correct (the held update, and the values held\n"
    "             per SKU): they become the reference and are let through\n\n"
    "On corruption kintsugi pauses every channel by itself, zeroes SKUs whose quantity rose\n"
    "and holds the rest. While the incident is open, a later value of an affected SKU that\n"
    "is still wrong the same way (zero, or the same shift) is held at the SKU's last known\n"
    "good quantity, whatever its update looks like as a whole, until a value in the normal\n"
    "range arrives, someone accepts it, or the incident is resolved (resolving says the\n"
    "source is fixed: values still held are dropped). The usual way out:\n"
    "  kintsugi guard rollback 3 --dry-run\n"
    "  kintsugi guard rollback 3 --by alice\n"
    "  kintsugi guard release --all --by alice\n"
    "  kintsugi reconcile",
    opts, sizeof(opts) / sizeof(opts[0])};

/* The channels a release --all let go: paused in `before` (the status JSON
 * of the engine before it) and not now. */
static void released(const struct ks_engine *e, const char *before)
{
    struct ks_buf now = {0}, names = {0};
    ks_engine_guard_status_json(e, &now);
    json_t *b = json_loads(before, 0, NULL), *n = json_loads(now.p, 0, NULL);
    size_t i, k = 0;
    json_t *c;
    json_array_foreach(json_object_get(b, "channels"), i, c)
    {
        json_t *later = json_array_get(json_object_get(n, "channels"), i);
        if (json_is_true(json_object_get(c, "paused")) &&
            !json_is_true(json_object_get(later, "paused"))) {
            ks_buf_printf(&names, "%s%s", k++ ? ", " : "",
                          json_string_value(json_object_get(c, "channel")));
        }
    }
    printf("released: %s\n", k ? names.p : "(none)");
    json_decref(b);
    json_decref(n);
    ks_buf_fini(&now);
    ks_buf_fini(&names);
}

/* One channel's entry in the status JSON st (NULL when there is none): the
 * caller frees the returned document *doc. */
static json_t *channel_status(const char *st, const char *name, json_t **doc)
{
    *doc = json_loads(st, 0, NULL);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(*doc, "channels"), i, c)
    {
        const char *n = json_string_value(json_object_get(c, "channel"));
        if (n && strcmp(n, name) == 0) {
            return c;
        }
    }
    return NULL;
}

/* What a pause of a paused channel, or a release of one not paused, did:
 * nothing (said, not hidden behind "done"). Returns 1 when it said so. */
static int said_unchanged(const char *verb, const char *name, const char *before)
{
    json_t *doc, *c = channel_status(before, name, &doc);
    int paused = c && json_is_true(json_object_get(c, "paused")), said = 0;
    if (c && !strcmp(verb, "pause") && paused) {
        printf("guard pause %s: already paused since %s (%s); nothing changed\n", name,
               json_string_value(json_object_get(c, "since")),
               json_string_value(json_object_get(c, "why")));
        said = 1;
    } else if (c && !strcmp(verb, "release") && !paused) {
        printf("guard release %s: not paused; nothing changed\n", name);
        said = 1;
    }
    json_decref(doc);
    return said;
}

static void print_status(const char *json)
{
    json_t *j = json_loads(json, 0, NULL);
    size_t i;
    json_t *c;
    printf("%-16s %-7s %-8s %-9s %-25s %s\n", "CHANNEL", "PAUSED", "HELD", "SKU-HELD", "SINCE",
           "WHY");
    long long per_sku = 0;
    json_array_foreach(json_object_get(j, "channels"), i, c)
    {
        const char *since = json_string_value(json_object_get(c, "since"));
        const char *why = json_string_value(json_object_get(c, "why"));
        long long nsku = (long long)json_integer_value(json_object_get(c, "held_skus"));
        per_sku += nsku;
        printf("%-16s %-7s %-8lld %-9lld %-25s %s\n",
               json_string_value(json_object_get(c, "channel")),
               json_is_true(json_object_get(c, "paused")) ? "yes" : "no",
               (long long)json_integer_value(json_object_get(c, "held")), nsku,
               since ? since : "-", why ? why : "");
    }
    if (json_array_size(json_object_get(j, "channels")) == 0) {
        printf("(no channels known yet)\n");
    }
    if (per_sku) {
        printf("\nheld per SKU (the source still sends the corrupt value; the channel keeps the "
               "last known good quantity):\n");
        printf("  %-16s %-24s %-10s %s\n", "CHANNEL", "SKU", "SENT", "KEPT");
        json_array_foreach(json_object_get(j, "channels"), i, c)
        {
            size_t k;
            json_t *v;
            json_array_foreach(json_object_get(c, "held_values"), k, v)
            {
                printf("  %-16s %-24s %-10lld %lld\n",
                       json_string_value(json_object_get(c, "channel")),
                       json_string_value(json_object_get(v, "sku")),
                       (long long)json_integer_value(json_object_get(v, "held")),
                       (long long)json_integer_value(json_object_get(v, "last_good")));
            }
        }
    }
    json_decref(j);
}

int ks_cmd_guard(int argc, char **argv)
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
    const char *verb = nargs ? args[0] : "";
    const char *db = ks_shell_db(ks_cli_opt(&spec, "db")->value);
    int all = ks_cli_opt(&spec, "all")->set;
    const char *by = ks_cli_opt(&spec, "by")->value;
    ks_time at;
    int is_status = strcmp(verb, "status") == 0;
    int chan_verb = strcmp(verb, "pause") == 0 || strcmp(verb, "release") == 0;
    int inc_verb = strcmp(verb, "rollback") == 0 || strcmp(verb, "accept") == 0;
    int dry = ks_cli_opt(&spec, "dry-run")->set;
    if (!is_status && !chan_verb && !inc_verb) {
        if (nargs) {
            ks_cli_error("unknown guard command '%s': use status, pause, release, rollback or "
                         "accept (see 'kintsugi guard --help')",
                         verb);
        } else {
            ks_cli_error("guard needs a verb: status, pause, release, rollback or accept (see "
                         "'kintsugi guard --help')");
        }
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    if ((is_status && nargs != 1) || (chan_verb && nargs != (all ? 1 : 2)) ||
        (inc_verb && nargs != 2)) {
        ks_cli_error("wrong arguments for 'guard %s': %s", verb,
                     is_status   ? "it takes none"
                     : chan_verb ? "name one CHANNEL or use --all"
                                 : "it takes one INCIDENT id");
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    if (!is_status && !dry && (!by || !*by)) {
        ks_cli_error("'guard %s' needs --by NAME: every change has a person accountable", verb);
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    if (ks_cli_at(ks_cli_opt(&spec, "at")->value, &at) != 0) {
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    int64_t id = 0;
    if (inc_verb && ks_cli_id(args[1], "an incident id", &id) != 0) {
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    struct ks_shell a;
    int read_only = is_status || (dry && strcmp(verb, "rollback") == 0);
    if ((rc = ks_shell_open(&a, ks_cli_opt(&spec, "config")->value, db,
                          KS_SHELL_ENGINE | (read_only ? KS_SHELL_READ : 0))) != 0) {
        ks_free(args);
        return rc;
    }
    ks_cli_at_before_clock(a.eng, at);
    struct ks_cli_clock mark;
    ks_cli_clock_mark(a.eng, &mark);
    struct ks_err err = {0};
    struct ks_buf out = {0};
    enum ks_rc r = KS_OK;
    if (is_status) {
        ks_engine_guard_status_json(a.eng, &out);
        if (ks_cli_opt(&spec, "json")->set) {
            printf("%s\n", out.p);
        } else {
            print_status(out.p);
        }
    } else if (strcmp(verb, "pause") == 0) {
        ks_engine_guard_status_json(a.eng, &out);
        r = ks_engine_guard_pause(a.eng, all ? NULL : args[1], by, at, &err);
    } else if (strcmp(verb, "release") == 0) {
        ks_engine_guard_status_json(a.eng, &out);
        r = ks_engine_guard_release(a.eng, all ? NULL : args[1], by, at, &err);
        if (all && (r == KS_OK || r == KS_ESTATE)) {
            released(a.eng, out.p); /* which went, when some were refused */
        }
    } else if (strcmp(verb, "rollback") == 0) {
        r = ks_engine_guard_rollback(a.eng, id, dry, by ? by : "-", at, &out, &err);
        if (r == KS_OK) {
            printf("%s\n", out.p);
        }
    } else {
        r = ks_engine_guard_accept(a.eng, id, by, at, &err);
    }
    if (r != KS_OK) {
        ks_cli_error("%s", err.msg);
        rc = r == KS_EUSAGE ? KS_EXIT_USAGE : KS_EXIT_FAIL;
    }
    /* A release that refused some channels still let the others go: keep that. */
    if (!is_status && !dry && (r == KS_OK || r == KS_ESTATE)) {
        int frc = ks_shell_flush(&a, 1);
        if (frc == 0) {
            ks_cli_clock_moved(a.eng, &mark);
        }
        if (frc != 0) {
            rc = frc;
        } else if (r == KS_OK && !inc_verb && (all || !said_unchanged(verb, args[1], out.p))) {
            printf("guard %s %s: done by %s\n", verb, all ? "--all" : args[1], by);
        } else if (r == KS_OK && strcmp(verb, "accept") == 0) {
            printf("incident %lld accepted by %s\n", (long long)id, by);
        }
    }
    ks_buf_fini(&out);
    ks_shell_close(&a);
    ks_free(args);
    return rc;
}
