/*
 * cmd_messages.c - `kintsugi messages`: the outbox of notifications and
 * customer notices (docs/MESSAGES.md): list it, deliver what is due, retry a
 * failed message, preview a template rendered for an incident, say how each
 * receiver is doing.
 */
#include "../shell/shell.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct ks_opt opts[] = {
    {"db", 1, "SQLite file or postgresql:// URI (default: ./kintsugi.db)", 0, NULL},
    {"config", 1, "configuration file with receivers:, notify: and messages: (default: "
                  "./kintsugi.yaml)",
     0, NULL},
    {"json", 0, "list, receivers, test: JSON on stdout (an array of messages, of receivers; "
                "the test's result)",
     0, NULL},
    {"incident", 1, "list: only this incident's messages", 0, NULL},
    {"audience", 1, "list: only team, leadership or customer", 0, NULL},
    {"status", 1, "list: only queued, sent or failed", 0, NULL},
    {"receiver", 1, "list, retry-failed, deliver --now: only the messages of this receiver "
                    "(see messages receivers)",
     0, NULL},
    {"now", 0, "deliver: the waiting messages whose retry has not come are due now (once a "
               "receiver is fixed)",
     0, NULL},
    {"template", 1, "preview: incident, update, reminder, customer_notice, follow_up or "
                    "order_delay",
     0, NULL},
    {"wait", 1, "deliver, retry, retry-failed: wait up to this long for retries (default 30s)",
     0, NULL},
    {"by", 1, "retry-failed: who queues them again, for the timelines' notes; test: who sends "
              "it (default: $USER)",
     0, NULL},
    {"to", 1, "test: the recipient (an smtp receiver's default: its from address)", 0, NULL},
};
static const struct ks_cmd_spec spec = {
    "kintsugi messages [list] [--incident N] [--audience A] [--status S] [--receiver R] [--json]\n"
    "       kintsugi messages deliver [--wait 30s] [--now [--receiver R]]\n"
    "       kintsugi messages retry ID | preview INCIDENT --template T\n"
    "       kintsugi messages receivers [--json]\n"
    "       kintsugi messages retry-failed [--receiver R] [--incident N] [--audience A]\n"
    "                                      [--by NAME]\n"
    "       kintsugi messages test RECEIVER [--to ADDRESS] [--json]",
    "Who was told what: internal notifications, customer notices, follow-ups, delay notices.",
    "  list       every message with its audience, recipient, receiver, status and attempts\n"
    "  deliver    send what is due now, retrying with backoff for up to --wait; with\n"
    "             --now also what waits for a retry (a receiver fixed: no need to wait)\n"
    "  retry ID   queue a failed message again (its attempts start over) and deliver\n"
    "  preview N  render a template for incident N (a customer template for its first\n"
    "             affected order with an e-mail)\n"
    "  receivers  each receiver: messages waiting and since when (and how the retry of\n"
    "             one went), failed (with the last failure), sent\n"
    "  retry-failed  every failed message (of --receiver, --incident, --audience) queued\n"
    "             again once the receiver is fixed, a note per incident, and deliver\n"
    "  test R     send one test message through receiver R now (no database needed,\n"
    "             nothing written): exit 0 when it took it, 1 when not, saying why\n\n"
    "Messages are queued by the triggers in the same transaction as the incident change\n"
    "that caused them, each with an idempotency key, and delivered at least once;\n"
    "kintsugi ingest delivers after replaying, kintsugi serve all the time. A receiver\n"
    "that is down (no answer, 503) is tried with one message; the others wait for its\n"
    "retry (\"held until\") instead of each paying for the outage. deliver, retry and\n"
    "retry-failed exit 1 when a message failed for good (its receiver refused it or\n"
    "its retries ran out), 0 when every attempt went out or still waits for a retry.\n"
    "examples:\n"
    "  kintsugi messages --incident 3 --audience customer --json\n"
    "  kintsugi messages preview 3 --template customer_notice\n"
    "  kintsugi messages retry-failed --receiver mail --by rob\n"
    "  kintsugi messages test mail --to oncall@shop.example",
    opts, sizeof(opts) / sizeof(opts[0])};

static int row(void *ctx, const struct ks_message_row *m)
{
    int *n = ctx;
    (*n)++;
    printf("%-6lld %-8lld %-16s %-10s %-28s %-10s %-7s %-3lld %s\n", (long long)m->id,
           (long long)m->incident, m->kind, m->audience, m->recipient, m->receiver, m->status,
           (long long)m->attempts, m->detail ? m->detail : "");
    return 0;
}

/* --json: out on stdout, or the error (out is freed either way). */
static int json_out(enum ks_rc rc, struct ks_buf *out, const struct ks_err *err)
{
    if (rc == KS_OK) {
        printf("%s\n", out->p);
    } else {
        ks_cli_error("%s", err->msg);
    }
    ks_buf_fini(out);
    return rc == KS_OK ? KS_EXIT_OK : KS_EXIT_FAIL;
}

/* --incident, --audience, --status and --receiver as a filter; 0, or
 * KS_EXIT_USAGE (said). */
static int filter_of(struct ks_message_filter *f)
{
    memset(f, 0, sizeof(*f));
    const char *inc = ks_cli_opt(&spec, "incident")->value;
    if (inc && ks_cli_id(inc, "an incident id", &f->incident) != 0) {
        return KS_EXIT_USAGE;
    }
    f->audience = ks_cli_opt(&spec, "audience")->value;
    f->status = ks_cli_opt(&spec, "status")->value;
    f->receiver = ks_cli_opt(&spec, "receiver")->value;
    if (f->audience && strcmp(f->audience, "team") && strcmp(f->audience, "leadership") &&
        strcmp(f->audience, "customer")) {
        ks_cli_error("--audience '%s': use team, leadership or customer", f->audience);
        return KS_EXIT_USAGE;
    }
    if (f->status && strcmp(f->status, "queued") && strcmp(f->status, "sent") &&
        strcmp(f->status, "failed")) {
        ks_cli_error("--status '%s': use queued, sent or failed", f->status);
        return KS_EXIT_USAGE;
    }
    return 0;
}

static int list(const struct ks_shell *a)
{
    struct ks_message_filter f;
    if (filter_of(&f) != 0) {
        return KS_EXIT_USAGE;
    }
    struct ks_err err = {0};
    if (ks_cli_opt(&spec, "json")->set) {
        struct ks_buf out = {0};
        return json_out(ks_shell_messages_json(a->store, &f, &out, &err), &out, &err);
    }
    int n = 0;
    printf("%-6s %-8s %-16s %-10s %-28s %-10s %-7s %-3s %s\n", "ID", "INCIDENT", "KIND",
           "AUDIENCE", "RECIPIENT", "RECEIVER", "STATUS", "TRY", "LAST RESULT");
    if (a->store->ops->list_messages(a->store, &f, row, &n, &err) != KS_OK) {
        ks_cli_error("%s", err.msg);
        return KS_EXIT_FAIL;
    }
    if (!n) {
        printf("(no messages)\n");
    }
    return KS_EXIT_OK;
}

static int receivers(const struct ks_shell *a)
{
    struct ks_err err = {0};
    if (ks_cli_opt(&spec, "json")->set) {
        struct ks_buf out = {0};
        return json_out(ks_shell_receivers_json(a->store, &a->cfg, &out, &err), &out, &err);
    }
    struct ks_receiver_state *v;
    size_t n;
    if (ks_shell_receivers(a->store, &a->cfg, &v, &n, &err) != KS_OK) {
        ks_cli_error("%s", err.msg);
        return KS_EXIT_FAIL;
    }
    printf("%-16s %-13s %-7s %-25s %-7s %-7s %s\n", "RECEIVER", "KIND", "QUEUED",
           "OLDEST WAITING SINCE", "FAILED", "SENT", "LAST FAILURE");
    for (size_t i = 0; i < n; i++) {
        char at[32] = "-";
        if (v[i].oldest_queued != KS_TIME_NONE) {
            ks_time_fmt(v[i].oldest_queued, at);
        }
        printf("%-16s %-13s %-7lld %-25s %-7lld %-7lld %s\n", v[i].name,
               v[i].kind ? v[i].kind : "unconfigured", (long long)v[i].queued, at,
               (long long)v[i].failed, (long long)v[i].sent,
               v[i].last_failure ? v[i].last_failure : "-");
    }
    if (!n) {
        printf("(no receivers: none is configured under receivers: and no message names one)\n");
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].queued && v[i].retrying) {
            char at[32] = "-";
            ks_time_fmt(v[i].next_attempt, at);
            printf("%s: %lld waiting, retrying (%s); next attempt %s\n", v[i].name,
                   (long long)v[i].queued, v[i].retrying, at);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].failed && v[i].kind) {
            printf("once %s is fixed: kintsugi messages retry-failed --receiver %s\n", v[i].name,
                   v[i].name);
        }
    }
    ks_shell_receivers_free(v, n);
    return KS_EXIT_OK;
}

static int deliver(struct ks_shell *a, ks_time wait)
{
    struct ks_msg_delivery d;
    ks_cli_delivery_progress(a, isatty(2));
    int rc = ks_shell_messages_deliver(a, wait, &d);
    ks_cli_delivery_end();
    if (rc == 0) {
        printf("messages: %u sent, %u failed for good%s\n", d.sent, d.failed,
               d.left ? "; some still wait for a retry" : "");
        if (d.failed) {
            rc = KS_EXIT_FAIL; /* a script learns that somebody was not told */
        }
    }
    return rc;
}

/* deliver --now: what waits for a retry (of --receiver) is due first. */
static int deliver_now(struct ks_shell *a)
{
    if (!ks_cli_opt(&spec, "now")->set) {
        return 0;
    }
    const char *receiver = ks_cli_opt(&spec, "receiver")->value;
    struct ks_err err = {0};
    int64_t n = 0;
    if (a->store->ops->due_now(a->store, receiver, &n, &err) != KS_OK) {
        ks_cli_error("%s", err.msg);
        return -1;
    }
    printf("%lld waiting message%s%s%s made due now\n", (long long)n, n == 1 ? "" : "s",
           receiver ? " of " : "", receiver ? receiver : "");
    return 0;
}

struct first {
    char *order, *email;
};

static void first_mail(void *ctx, const char *order, const char *email)
{
    struct first *f = ctx;
    if (!f->order) {
        f->order = ks_strdup(order);
        f->email = ks_strdup(email);
    }
}

static int preview(struct ks_shell *a, int64_t id, const char *tname)
{
    int k = ks_tpl_parse_name(tname);
    if (k < 0) {
        ks_cli_error("--template '%s': use incident, update, reminder, customer_notice, "
                     "follow_up or order_delay",
                     tname ? tname : "");
        return KS_EXIT_USAGE;
    }
    struct ks_err err = {0};
    const struct ks_tpl_set *set = ks_shell_templates(a, &err);
    if (!set) {
        ks_cli_error("%s", err.msg);
        return KS_EXIT_USAGE;
    }
    struct ks_incident_facts f;
    if (ks_engine_incident_facts(a->eng, id, &f) != KS_OK) {
        ks_cli_error("no incident %lld", (long long)id);
        return KS_EXIT_FAIL;
    }
    struct first fm = {0};
    ks_engine_incident_mail(a->eng, id, first_mail, &fm);
    struct ks_buf subject = {0}, body = {0};
    int cust = ks_tpl_customer((enum ks_tpl_kind)k);
    const char *email = fm.email ? fm.email : "customer@example.com";
    ks_comms_render(&a->cfg, a->store, set, (enum ks_tpl_kind)k, &f,
                    fm.order ? fm.order : "ORDER-ID", email, cust ? email : "team", &subject,
                    &body);
    if (ks_cli_opt(&spec, "json")->set) {
        struct ks_buf j = {0};
        ks_buf_puts(&j, "{\"template\":");
        ks_json_escape(&j, tname, strlen(tname));
        ks_buf_puts(&j, ",\"subject\":");
        ks_json_escape(&j, subject.p, subject.len);
        ks_buf_puts(&j, ",\"body\":");
        ks_json_escape(&j, body.p, body.len);
        ks_buf_puts(&j, ",\"from\":");
        if (set->from[k]) {
            ks_json_escape(&j, set->from[k], strlen(set->from[k]));
        } else {
            ks_buf_puts(&j, "\"built-in\"");
        }
        printf("%s}\n", j.p);
        ks_buf_fini(&j);
    } else {
        printf("Subject: %s\n\n%s", subject.p, body.p);
    }
    ks_buf_fini(&subject);
    ks_buf_fini(&body);
    ks_free(fm.order);
    ks_free(fm.email);
    return KS_EXIT_OK;
}

static int retry(struct ks_shell *a, int64_t id, ks_time wait)
{
    struct ks_err err = {0};
    int64_t incident = 0;
    if (ks_shell_message_requeue(a->store, NULL, id, NULL, KS_TIME_NONE, 0, &incident, &err) !=
        KS_OK) {
        ks_cli_error("%s", err.msg);
        return KS_EXIT_FAIL;
    }
    printf("message %lld queued again\n", (long long)id);
    return deliver(a, wait);
}

struct bulk {
    struct ks_message_filter f;
    const char *by;
    struct ks_msg_pick *picked;
    size_t n;
};

/* Inside the transaction that saves the state: the rows and the notes. */
static enum ks_rc requeue_failed(struct ks_shell *a, void *ctx, struct ks_err *err)
{
    struct bulk *b = ctx;
    return ks_shell_messages_requeue_failed(a->store, a->eng, &b->f, NULL, 0, b->by, KS_TIME_NONE,
                                            &b->picked, &b->n, err);
}

/* retry-failed's filter, checked before the database is opened. */
static int bulk_of(struct bulk *b)
{
    memset(b, 0, sizeof(*b));
    if (filter_of(&b->f) != 0) {
        return KS_EXIT_USAGE;
    }
    if (b->f.status && strcmp(b->f.status, "failed") != 0) {
        ks_cli_error("retry-failed takes the failed messages: leave --status out");
        return KS_EXIT_USAGE;
    }
    return 0;
}

static int retry_failed(struct ks_shell *a, struct bulk b, ks_time wait)
{
    b.by = ks_cli_by(ks_cli_opt(&spec, "by")->value);
    if (ks_shell_flush_with(a, 1, requeue_failed, &b) != 0) {
        ks_free(b.picked);
        return KS_EXIT_FAIL;
    }
    size_t incidents = 0;
    for (size_t i = 0; i < b.n; i++) {
        incidents += i == 0 || b.picked[i].incident != b.picked[i - 1].incident;
    }
    ks_free(b.picked);
    if (!b.n) {
        printf("no failed message to retry\n");
        return KS_EXIT_OK;
    }
    printf("%zu failed message%s of %zu incident%s queued again\n", b.n, b.n == 1 ? "" : "s",
           incidents, incidents == 1 ? "" : "s");
    return deliver(a, wait);
}

/* `messages test NAME`: the configuration alone, no database. */
static int test(const char *name)
{
    struct ks_config cfg;
    struct ks_err err = {0};
    ks_config_defaults(&cfg);
    const char *path = ks_shell_config_path(ks_cli_opt(&spec, "config")->value);
    if (path && ks_config_load(&cfg, path, &err) != KS_OK) {
        ks_cli_error("%s", err.msg);
        return KS_EXIT_USAGE;
    }
    const char *by = ks_cli_by(ks_cli_opt(&spec, "by")->value);
    struct ks_receiver_test t;
    int rc = KS_EXIT_OK;
    if (ks_shell_receiver_test(&cfg, name, ks_cli_opt(&spec, "to")->value, by, &t, &err) !=
        KS_OK) {
        ks_cli_error("%s", err.msg);
        rc = KS_EXIT_USAGE;
    } else if (ks_cli_opt(&spec, "json")->set) {
        struct ks_buf out = {0};
        ks_shell_receiver_test_json(&t, &out);
        printf("%s\n", out.p);
        ks_buf_fini(&out);
        rc = t.sent ? KS_EXIT_OK : KS_EXIT_FAIL;
    } else if (t.sent) {
        printf("test message sent through %s (%s) to %s: %s (key %s)\n", t.receiver, t.kind,
               t.recipient, t.detail, t.key);
    } else {
        ks_cli_error("%s (%s) did not take the test message to %s: %s", t.receiver, t.kind,
                     t.recipient, t.detail);
        if (t.unavailable) {
            fprintf(stderr, "kintsugi: it could not be reached: check its address in "
                            "kintsugi.yaml, the network, and its timeout\n");
        }
        rc = KS_EXIT_FAIL;
    }
    ks_config_fini(&cfg);
    return rc;
}

int ks_cmd_messages(int argc, char **argv)
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
    static const struct ks_cli_verb verbs[] = {{"list", 0, NULL},
                                               {"deliver", 0, NULL},
                                               {"retry", 1, NULL},
                                               {"preview", 1, NULL},
                                               {"receivers", 0, NULL},
                                               {"retry-failed", 0, NULL},
                                               {"test", 1, NULL}};
    int v = nargs == 0 ? 0 : ks_cli_verb(verbs, 7, args[0]);
    if (v < 0 || (nargs > 0 && nargs - 1 != verbs[v].nargs)) {
        if (v < 0) {
            ks_cli_error("unknown messages command '%s': use list, deliver, retry ID, "
                         "retry-failed, preview INCIDENT --template T, receivers or test "
                         "RECEIVER",
                         args[0]);
        } else {
            ks_cli_error("'messages %s' takes %s", verbs[v].name,
                         verbs[v].nargs ? "one argument" : "no argument");
        }
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    if (v == 6) {
        rc = test(args[1]);
        ks_free(args);
        return rc;
    }
    int64_t id = 0;
    if (verbs[v].nargs &&
        ks_cli_id(args[1], v == 2 ? "a message id" : "an incident id", &id) != 0) {
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    ks_free(args);
    struct bulk b = {0};
    if (v == 5 && bulk_of(&b) != 0) {
        return KS_EXIT_USAGE;
    }
    ks_time wait;
    if (ks_cli_wait(ks_cli_opt(&spec, "wait")->value, &wait) != 0) {
        return KS_EXIT_USAGE;
    }
    if (v == 3 && !ks_cli_opt(&spec, "template")->value) {
        ks_cli_error("preview needs --template (incident, update, reminder, customer_notice, "
                     "follow_up, order_delay)");
        return KS_EXIT_USAGE;
    }
    const char *db = ks_shell_db(ks_cli_opt(&spec, "db")->value);
    int flags = v == 0 || v == 4 ? 0 : v == 3 ? KS_SHELL_ENGINE | KS_SHELL_READ : KS_SHELL_ENGINE;
    struct ks_shell a;
    if ((rc = ks_shell_open(&a, ks_cli_opt(&spec, "config")->value, db, flags)) != 0) {
        return rc;
    }
    const char *only = ks_cli_opt(&spec, "receiver")->value;
    if (only && (v == 1 || v == 5) && !ks_config_receiver(&a.cfg, only)) {
        /* listing may name a receiver the configuration dropped; delivering
         * through one it does not have cannot work */
        ks_cli_error("--receiver '%s': no such receiver in the configuration (see kintsugi "
                     "messages receivers)",
                     only);
        ks_shell_close(&a);
        return KS_EXIT_USAGE;
    }
    switch (v) {
    case 0:
        rc = list(&a);
        break;
    case 1:
        rc = deliver_now(&a) != 0 ? KS_EXIT_FAIL : deliver(&a, wait);
        break;
    case 2:
        rc = retry(&a, id, wait);
        break;
    case 3:
        rc = preview(&a, id, ks_cli_opt(&spec, "template")->value);
        break;
    case 4:
        rc = receivers(&a);
        break;
    default:
        rc = retry_failed(&a, b, wait);
        break;
    }
    ks_shell_close(&a);
    return rc;
}
