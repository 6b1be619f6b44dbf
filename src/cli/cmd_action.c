/*
 * cmd_action.c - `kintsugi action`: the steps with a large blast radius that
 * kintsugi proposes and a person approves (zero a channel, pause listings,
 * reroute or cancel orders), and the hook calls made for them.
 */
#include "../shell/shell.h"
#include "cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static struct ks_opt opts[] = {
    {"db", 1, "SQLite file or postgresql:// URI (default: ./kintsugi.db)", 0, NULL},
    {"config", 1, "configuration file (people and roles; default: ./kintsugi.yaml)", 0, NULL},
    {"json", 0, "list: JSON on stdout", 0, NULL},
    {"by", 1, "approve: who approves (must be a person of the configuration)", 0, NULL},
    {"at", 1, "approve: when (RFC 3339; default: the engine clock)", 0, NULL},
};
static const struct ks_cmd_spec spec = {
    "kintsugi action list [--json] | approve INCIDENT ACTION --by NAME   [--db F]",
    "Actions that wait for a person: kintsugi proposes them, someone whose role allows\n"
    "the action (roles: and people: in kintsugi.yaml) approves, and kintsugi performs it.",
    "Not to be done? Who may approve it declines it by skipping its step with the reason,\n"
    "which goes on the timeline: kintsugi incident step INCIDENT STEP skip --note WHY\n"
    "--by NAME (the step's name is in 'action list').\n\n"
    "examples:\n"
    "  kintsugi action list\n"
    "  kintsugi action approve 4 zero_channel --by alice\n"
    "  kintsugi incident step 4 zero_channel skip --note 'the sync is back' --by alice\n\n"
    "exit status: 0 done, 1 nothing to approve or the person's role does not allow it,\n"
    "2 usage error.",
    opts, sizeof(opts) / sizeof(opts[0])};

/* What became of an approved action: carried out (its hook called, or
 * kintsugi's own part done), still being tried, or left to a person (no hook
 * configured for it, or the hook gave up: the step says left_to_person). */
static void approved_says(const struct ks_engine *eng, long long id, const char *action,
                          const char *by, const struct ks_delivery *dl)
{
    struct ks_buf out = {0};
    ks_engine_actions_json(eng, &out);
    json_t *j = json_loads(out.p ? out.p : "[]", 0, NULL);
    const char *status = NULL;
    size_t i;
    json_t *x;
    json_array_foreach(j, i, x)
    {
        const char *act = json_string_value(json_object_get(x, "action"));
        if (json_integer_value(json_object_get(x, "incident")) == id && act &&
            !strcmp(act, action)) {
            status = json_string_value(json_object_get(x, "status"));
        }
    }
    if (status && !strcmp(status, "left_to_person")) {
        printf("incident %lld: %s approved by %s, but kintsugi could not carry it out (%s; the "
               "timeline says why): do it by hand, then tick it: kintsugi incident step %lld %s "
               "done --by NAME\n",
               id, action, by, dl->unconfigured ? "no hook is configured for it" : "its hook gave up",
               id, action);
    } else if (dl->left || dl->retrying) {
        printf("incident %lld: %s approved by %s; its hook call is still being tried "
               "(kintsugi hooks; kintsugi hooks deliver goes on)\n",
               id, action, by);
    } else {
        printf("incident %lld: %s approved by %s and carried out\n", id, action, by);
    }
    json_decref(j);
    ks_buf_fini(&out);
}

int ks_cmd_action(int argc, char **argv)
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
    int list = nargs == 1 && strcmp(args[0], "list") == 0;
    int approve = nargs == 3 && strcmp(args[0], "approve") == 0;
    const char *by = ks_cli_opt(&spec, "by")->value;
    ks_time at;
    int64_t id = 0;
    if (!list && !approve) {
        if (nargs && strcmp(args[0], "list") != 0 && strcmp(args[0], "approve") != 0) {
            ks_cli_error("unknown action command '%s': use 'action list' or 'action approve "
                         "INCIDENT ACTION --by NAME'",
                         args[0]);
        } else {
            ks_cli_error("use 'action list' or 'action approve INCIDENT ACTION --by NAME'");
        }
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    if (approve && ks_cli_id(args[1], "an incident id", &id) != 0) {
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    if (approve && (!by || !*by)) {
        ks_cli_error("'action approve' needs --by NAME");
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    if (ks_cli_at(ks_cli_opt(&spec, "at")->value, &at) != 0) {
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    const char *db = ks_shell_db(ks_cli_opt(&spec, "db")->value);
    struct ks_shell a;
    if ((rc = ks_shell_open(&a, ks_cli_opt(&spec, "config")->value, db,
                          KS_SHELL_ENGINE | (list ? KS_SHELL_READ : 0))) != 0) {
        ks_free(args);
        return rc;
    }
    ks_cli_at_before_clock(a.eng, at);
    struct ks_cli_clock mark;
    ks_cli_clock_mark(a.eng, &mark);
    struct ks_err err = {0};
    if (list) {
        struct ks_buf out = {0};
        ks_engine_actions_json(a.eng, &out);
        if (ks_cli_opt(&spec, "json")->set) {
            printf("%s\n", out.p);
        } else {
            json_t *j = json_loads(out.p, 0, NULL);
            size_t i;
            json_t *x;
            printf("%-8s %-20s %-14s %-10s %s\n", "INCIDENT", "ACTION", "STATUS", "BY", "WHAT");
            json_array_foreach(j, i, x)
            {
                const char *b = json_string_value(json_object_get(x, "by"));
                printf("%-8lld %-20s %-14s %-10s %s\n",
                       (long long)json_integer_value(json_object_get(x, "incident")),
                       json_string_value(json_object_get(x, "action")),
                       json_string_value(json_object_get(x, "status")), b ? b : "-",
                       json_string_value(json_object_get(x, "what")));
            }
            if (json_array_size(j) == 0) {
                printf("(nothing proposed)\n");
            }
            json_decref(j);
        }
        ks_buf_fini(&out);
    } else if (ks_engine_approve(a.eng, id, args[2], by, at, &err) != KS_OK) {
        ks_cli_error("%s", err.msg);
        rc = KS_EXIT_FAIL;
    } else if ((rc = ks_shell_flush(&a, 1)) == 0) {
        struct ks_delivery dl = {0};
        rc = ks_shell_deliver(&a, 10 * KS_SEC, &dl);
        if (rc == 0) {
            ks_cli_clock_moved(a.eng, &mark);
            approved_says(a.eng, id, args[2], by, &dl);
        }
    }
    ks_shell_close(&a);
    ks_free(args);
    return rc;
}
