/*
 * main.c - the `kintsugi` command: a table of commands, each in its own file.
 */
#include "cli.h"

#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"ingest", ks_cmd_ingest, "replay NDJSON events (files or -) into the database"},
    {"serve", ks_cmd_serve, "run live: HTTP API, event and alert intake, timers on the wall clock"},
    {"publish", ks_cmd_publish, "publish NDJSON events to NATS JetStream (for serve --bus)"},
    {"incidents", ks_cmd_incidents, "list incidents (--status, --json)"},
    {"incident", ks_cmd_incident, "show one incident, or ack / status / note / assign it"},
    {"deadletters", ks_cmd_deadletters, "rejected lines: list, fix, replay"},
    {"guard", ks_cmd_guard, "paused channels and held updates: status, pause, release, rollback, accept"},
    {"feed", ks_cmd_feed, "a channel's guarded feed: changes since a cursor, or --state"},
    {"action", ks_cmd_action, "actions waiting for approval: list, approve"},
    {"reconcile", ks_cmd_reconcile, "guarded quantities against stock, oversell risks first"},
    {"hooks", ks_cmd_hooks, "hook calls to other systems: list the outbox, deliver what is due"},
    {"messages", ks_cmd_messages, "notifications and customer notices: list, deliver, retry, preview"},
    {"review", ks_cmd_review, "post-incident reviews: show, edit, set, action items, flags"},
    {"report", ks_cmd_report, "recovery metrics against the playbook's targets"},
    {"cost", ks_cmd_cost, "the cost of a mistake: its parts, total and multiplier"},
    {"remedy", ks_cmd_remedy, "make it right: offer, grant, approve, review and list remedies"},
    {"promise", ks_cmd_promise, "the recovery promise, in plain language, from the policy"},
    {"token", ks_cmd_token, "API tokens for the HTTP API: create (shown once), list, revoke"},
    {"check-config", ks_cmd_check_config, "validate a kintsugi.yaml, every error with its line"},
    {"simulate", ks_cmd_simulate, "write a simulated shop's event stream with chosen faults"},
    {"demo", ks_cmd_demo, "simulate a day with faults, replay it and explain what happened"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    fprintf(out, "kintsugi - detect, contain and learn from operational errors in multi-channel "
                 "e-commerce\n\nusage: kintsugi COMMAND [options] [arguments]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(out, "\nEvery command has --help (kintsugi help COMMAND says the same). Reading\n"
                 "commands take --json. The database is ./kintsugi.db unless --db names\n"
                 "another. Options come after the command, before or after its arguments;\n"
                 "-- ends them (text that starts with '-' goes after it).\n\n"
                 "start here:\n"
                 "  kintsugi demo                       a simulated day with faults, explained\n"
                 "  kintsugi ingest events.ndjson       replay your own events\n"
                 "  kintsugi incidents                  what was detected\n\n"
                 "exit status: 0 ok, 1 runtime failure, 2 usage or configuration error.\n");
}

/* The index of the command named word, or -1. */
static int find(const char *word)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(word, commands[i].name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* `kintsugi --db x.db incidents`: options come after the command; says so
 * with the command line as it would be, when a command is among the words. */
static void options_first(int argc, char **argv)
{
    int k = 2;
    while (k < argc && find(argv[k]) < 0) {
        k++;
    }
    if (k == argc) {
        ks_cli_error("'%s' is an option, and options come after the command: kintsugi COMMAND "
                     "[options] (see kintsugi --help)",
                     argv[1]);
        return;
    }
    fprintf(stderr, "kintsugi: '%s' is an option, and options come after the command: kintsugi %s",
            argv[1], argv[k]);
    for (int j = 1; j < argc; j++) {
        if (j != k) {
            fprintf(stderr, " %s", argv[j]);
        }
    }
    fputc('\n', stderr);
}

int main(int argc, char **argv)
{
    ks_cli_guard_stdout();
    if (argc < 2) {
        usage(stderr);
        return KS_EXIT_USAGE;
    }
    if (strcmp(argv[1], "help") == 0 && argc == 3) {
        /* `kintsugi help incidents` is `kintsugi incidents --help` */
        int i = find(argv[2]);
        if (i < 0) {
            ks_cli_error("unknown command '%s'", argv[2]);
            usage(stderr);
            return KS_EXIT_USAGE;
        }
        char *help[] = {"--help", NULL};
        return commands[i].fn(1, help);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return KS_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("kintsugi " KS_VERSION "\n");
        return KS_EXIT_OK;
    }
    int i = find(argv[1]);
    if (i >= 0) {
        return commands[i].fn(argc - 2, argv + 2);
    }
    if (argv[1][0] == '-') {
        options_first(argc, argv);
        return KS_EXIT_USAGE;
    }
    ks_cli_error("unknown command '%s'", argv[1]);
    usage(stderr);
    return KS_EXIT_USAGE;
}
