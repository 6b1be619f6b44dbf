/*
 * keys.c - the `receivers:`, `notify:` and `messages:` keys of
 * kintsugi.yaml (src/config/keys.h) and their checks; a person's `email`
 * and `team` are checked here too (their keys are the engine's, beside
 * `role`).
 */
#include "comms.h"

#include <string.h>

static const char *const teams[] = {"operations", "customer_success", "it", "finance",
                                    "pr", "legal", "leadership", "supplier_relations"};
#define NTEAMS (sizeof(teams) / sizeof(teams[0]))

int ks_comms_team_known(const char *name)
{
    for (size_t i = 0; name && i < NTEAMS; i++) {
        if (!strcmp(teams[i], name)) {
            return 1;
        }
    }
    return 0;
}

const char *ks_comms_team_check(const char *s, char *buf, size_t cap)
{
    if (ks_comms_team_known(s)) {
        return NULL;
    }
    const char *near = ks_key_closest(s, strlen(s), teams, NTEAMS);
    char w[96];
    ks_key_quote(s, strlen(s), w, sizeof(w));
    if (near) {
        snprintf(buf, cap, "unknown team %s (did you mean \"%s\"?)", w, near);
    } else {
        snprintf(buf, cap,
                 "unknown team %s (one of operations, customer_success, it, finance, pr, "
                 "legal, leadership, supplier_relations)",
                 w);
    }
    return buf;
}

/* One plain address (ks_email_invalid): it goes into SMTP commands and
 * headers as it is, so it must not be able to end early or add another. */
const char *ks_comms_email_check(const char *s, char *buf, size_t cap)
{
    char why[48];
    const char *bad = ks_email_invalid(s, strlen(s), why, sizeof(why));
    if (!bad) {
        return NULL;
    }
    char w[96];
    ks_key_quote(s, strlen(s), w, sizeof(w));
    snprintf(buf, cap, "must be an e-mail address (name@domain): %s, got %s", bad, w);
    return buf;
}

static void receiver_done(struct ks_key_check *chk, void *entry);

static const struct ks_key_struct receiver_entry = {
    .size = sizeof(struct ks_receiver_cfg),
    .array = offsetof(struct ks_config, receivers),
    .count = offsetof(struct ks_config, nreceivers),
    .name = offsetof(struct ks_receiver_cfg, name),
    .defaults = KS_KEY_NONE,
    .done = receiver_done,
};

static const char *smtp_check(const char *s, char *buf, size_t cap)
{
    if (!strncmp(s, "smtp://", 7) || !strncmp(s, "smtps://", 8)) {
        return NULL;
    }
    char w[96];
    ks_key_quote(s, strlen(s), w, sizeof(w));
    snprintf(buf, cap, "must start with smtp:// or smtps://, got %s", w);
    return buf;
}

static const char *tls_check(const char *s, char *buf, size_t cap)
{
    if (!strcmp(s, "none") || !strcmp(s, "try") || !strcmp(s, "required")) {
        return NULL;
    }
    char w[96];
    ks_key_quote(s, strlen(s), w, sizeof(w));
    snprintf(buf, cap, "must be none, try or required, got %s", w);
    return buf;
}

static const char *receiver_name_check(const struct ks_config *cfg, const char *s, char *buf,
                                       size_t cap)
{
    if (ks_config_receiver(cfg, s)) {
        return NULL;
    }
    const char *names[64] = {0};
    size_t n = 0;
    struct ks_buf all = {0};
    for (size_t i = 0; i < cfg->nreceivers; i++) {
        if (n < 64) {
            names[n++] = cfg->receivers[i].name;
        }
        ks_buf_printf(&all, "%s%s", all.len ? ", " : "", cfg->receivers[i].name);
    }
    const char *near = ks_key_closest(s, strlen(s), names, n);
    char w[96];
    ks_key_quote(s, strlen(s), w, sizeof(w));
    if (near) {
        snprintf(buf, cap, "unknown receiver %s (did you mean \"%s\"?)", w, near);
    } else if (n) {
        snprintf(buf, cap, "unknown receiver %s (receivers are: %s)", w, all.p);
    } else {
        snprintf(buf, cap, "unknown receiver %s (none is defined under \"receivers\")", w);
    }
    ks_buf_fini(&all);
    return buf;
}

/* The templates directory: it exists, and every template file in it is a
 * known template that parses; each problem on its own line (the message
 * names the template's file and line). */
struct tpl_check {
    struct ks_key_check *chk;
    int line;
};

static void templates_issue(void *ctx, const char *msg)
{
    struct tpl_check *t = ctx;
    ks_key_issue(t->chk, t->line, NULL, "%s", msg);
}

static void templates_check(struct ks_key_check *chk, int line, const char *s)
{
    struct ks_tpl_set set;
    struct tpl_check t = {chk, line};
    ks_tpl_set_load_each(&set, s, templates_issue, &t);
    ks_tpl_set_fini(&set);
}

#define RCV(f) .base = &receiver_entry, .off = offsetof(struct ks_receiver_cfg, f)
#define CFG(f) .base = NULL, .off = offsetof(struct ks_config, f)

static const struct ks_key receiver_keys[] = {
    {.name = "smtp",
     .type = KS_KEY_STRING,
     RCV(smtp),
     .check = smtp_check,
     .type_name = "smtp(s) URL",
     .help = "E-mail over SMTP: `smtp://HOST:PORT` (`smtps://` for TLS from the start). Set "
             "exactly one of `smtp`, `webhook` and `dir`."},
    {.name = "from",
     .type = KS_KEY_STRING,
     RCV(from),
     .check = ks_comms_email_check,
     .type_name = "e-mail address",
     .help = "SMTP: the sender address (required with `smtp`), one plain address as for "
             "`people.NAME.email`."},
    {.name = "tls",
     .type = KS_KEY_STRING,
     RCV(tls),
     .def = "try",
     .check = tls_check,
     .type_name = "none, try or required",
     .help = "SMTP: STARTTLS - `try` when the server offers it, `required` or fail, `none`."},
    {.name = "insecure",
     .type = KS_KEY_BOOL,
     RCV(insecure),
     .def = "false",
     .help = "SMTP: accept a server certificate that does not verify (a test server)."},
    {.name = "username",
     .type = KS_KEY_STRING,
     RCV(username),
     .help = "SMTP: the login name (with `password`)."},
    {.name = "password",
     .type = KS_KEY_STRING,
     RCV(password),
     .help = "SMTP: the login password."},
    {.name = "webhook",
     KS_HOOK_KEY_URL,
     RCV(webhook),
     .help = "A webhook: each message is POSTed here as JSON, with an `Idempotency-Key` header."},
    {.name = "slack",
     .type = KS_KEY_BOOL,
     RCV(slack),
     .def = "false",
     .help = "Webhook: a Slack-compatible body (`{\"text\": ...}` with the key beside it)."},
    {.name = "headers",
     KS_HOOK_KEY_HEADERS,
     RCV(headers),
     .off2 = offsetof(struct ks_receiver_cfg, nheaders),
     .help = "Webhook: extra HTTP request headers (`Authorization: \"Bearer ...\"`)."},
    {.name = "dir",
     .type = KS_KEY_STRING,
     RCV(dir),
     .flags = KS_KEY_PATH,
     .type_name = "directory",
     .help = "A file outbox: one JSON file per message, named by its idempotency key, written "
             "atomically (for a mail system or a ticketing tool to pick up). A relative path is "
             "read from the configuration file's directory."},
    {.name = "retries",
     .type = KS_KEY_INT,
     RCV(retries),
     .def = "8",
     .min = 0,
     .max = 30,
     .help = "Further attempts after a failed one; then the message is `failed` (retry it by "
             "hand with `kintsugi messages retry ID`)."},
    {.name = "backoff",
     KS_HOOK_KEY_BACKOFF,
     RCV(backoff),
     .help = "Wait before the first retry, doubled each time (at most 5m); a 429's "
             "`Retry-After` is honoured instead when it says more."},
    {.name = "timeout",
     KS_HOOK_KEY_TIMEOUT,
     RCV(timeout),
     .help = "Limit of one attempt, connecting included."},
    {.name = NULL} /* end */
};

static const struct ks_key notify_keys[] = {
    {.name = "team",
     .type = KS_KEY_STRLIST,
     CFG(notify_team),
     .off2 = offsetof(struct ks_config, nnotify_team),
     .check_cfg = receiver_name_check,
     .help = "Receivers of the internal notifications (detection, updates, reminders, the core "
             "team on a P1)."},
    {.name = "leadership",
     .type = KS_KEY_STRLIST,
     CFG(notify_leadership),
     .off2 = offsetof(struct ks_config, nnotify_leadership),
     .check_cfg = receiver_name_check,
     .help = "Receivers of what leadership hears (revenue impact over `messages.revenue`, an "
             "assessment-matrix threshold)."},
    {.name = "customer",
     .type = KS_KEY_STRLIST,
     CFG(notify_customer),
     .off2 = offsetof(struct ks_config, nnotify_customer),
     .check_cfg = receiver_name_check,
     .help = "Receivers of customer notices, follow-ups and order-delay notices (one message "
             "per affected order with an `email`)."},
    {.name = NULL} /* end */
};

static const struct ks_key message_keys[] = {
    {.name = "templates",
     .type = KS_KEY_STRING,
     CFG(msg_templates),
     .flags = KS_KEY_PATH,
     .check_each = templates_check,
     .type_name = "directory",
     .help = "A directory of templates (`incident`, `update`, `reminder`, `customer_notice`, "
             "`follow_up`, `order_delay`, each `NAME.txt` or `NAME.md`) replacing the built-in "
             "ones. A relative path is read from the configuration file's directory. The "
             "directory must exist; every `.txt` and `.md` file in it must be one of these "
             "templates and parse (each problem is reported); other files are not read "
             "(docs/MESSAGES.md)."},
    {.name = "shop",
     .type = KS_KEY_STRING,
     CFG(msg_shop),
     .def = "our shop",
     .help = "The shop's name in customer messages."},
    {.name = "customers",
     .type = KS_KEY_INT,
     CFG(msg_customers),
     .def = "50",
     .min = 0,
     .help = "Customer notices go out when more customers than this are affected."},
    {.name = "revenue",
     .type = KS_KEY_NUMBER,
     CFG(msg_revenue),
     .def = "10000",
     .min = 0,
     .help = "Leadership is told when the revenue impact is more than this (in `currency`)."},
    {.name = "delay",
     .type = KS_KEY_DURATION,
     CFG(msg_delay),
     .def = "24h",
     .flags = KS_KEY_POSITIVE,
     .help = "A system outage older than this sends the order-delay notice for each affected "
             "order."},
    {.name = "follow_up",
     .type = KS_KEY_DURATION,
     CFG(msg_follow_up),
     .def = "20h",
     .flags = KS_KEY_POSITIVE,
     .max = 24.0 * 3600 * 1000,
     .help = "The follow-up goes to every notified customer this long after the first notice "
             "(at most 24h), or at resolution if that comes first."},
    {.name = "update_p1",
     .type = KS_KEY_DURATION,
     CFG(msg_update[1]),
     .def = "30m",
     .flags = KS_KEY_POSITIVE,
     .help = "Next status update of a P1 is due this long after the last one."},
    {.name = "update_p2",
     .type = KS_KEY_DURATION,
     CFG(msg_update[2]),
     .def = "2h",
     .flags = KS_KEY_POSITIVE,
     .help = "The same for a P2."},
    {.name = "update_p3",
     .type = KS_KEY_DURATION,
     CFG(msg_update[3]),
     .def = "24h",
     .flags = KS_KEY_POSITIVE,
     .help = "The same for a P3 (its resolution SLA)."},
    {.name = NULL} /* end */
};

const struct ks_key ks_comms_keys[] = {
    {.name = "receivers",
     .type = KS_KEY_MAP,
     .sub = receiver_keys,
     .entry = &receiver_entry,
     .help = "Where messages go, by name: each one of `smtp`, `webhook` or `dir`. None by "
             "default (messages are still queued and listed)."},
    {.name = "notify",
     .type = KS_KEY_SECTION,
     .sub = notify_keys,
     .help = "The receivers of each audience: `team`, `leadership`, `customer`."},
    {.name = "messages",
     .type = KS_KEY_SECTION,
     .sub = message_keys,
     .help = "Templates and the thresholds of the triggers (docs/MESSAGES.md)."},
    {.name = NULL} /* end */
};

/* Exactly one of smtp, webhook, dir; smtp needs from; the others' keys
 * only with their kind. */
static void receiver_done(struct ks_key_check *chk, void *entry)
{
    const struct ks_receiver_cfg *r = entry;
    (void)r;
    if (ks_key_entry_kind(chk) < 0) {
        return;
    }
    int line = ks_key_entry_line(chk);
    const char *kinds[] = {"smtp", "webhook", "dir"};
    int set = 0, last = 0;
    for (int i = 0; i < 3; i++) {
        int l = ks_key_line(chk, kinds[i], 0);
        if (l) {
            set++;
            if (set > 1) {
                ks_key_issue(chk, l, kinds[i],
                             "conflicts with \"%s\": a receiver has exactly one of smtp, webhook, "
                             "dir",
                             kinds[last]);
            }
            last = i;
        }
    }
    if (!set) {
        ks_key_issue(chk, line, NULL, "needs exactly one of smtp, webhook, dir");
        return;
    }
    int smtp = ks_key_line(chk, "smtp", 0), webhook = ks_key_line(chk, "webhook", 0);
    if (smtp && !ks_key_line(chk, "from", 0)) {
        ks_key_issue(chk, line, "from", "an smtp receiver needs a from address");
    }
    const char *smtp_only[] = {"from", "tls", "insecure", "username", "password"};
    for (int i = 0; i < 5 && !smtp; i++) {
        int l = ks_key_line(chk, smtp_only[i], 0);
        if (l) {
            ks_key_issue(chk, l, smtp_only[i], "only an smtp receiver has %s", smtp_only[i]);
        }
    }
    const char *webhook_only[] = {"slack", "headers"};
    for (int i = 0; i < 2 && !webhook; i++) {
        int l = ks_key_line(chk, webhook_only[i], 0);
        if (l) {
            ks_key_issue(chk, l, webhook_only[i], "only a webhook receiver has %s",
                         webhook_only[i]);
        }
    }
    int u = ks_key_line(chk, "username", 0), p = ks_key_line(chk, "password", 0);
    if ((u != 0) != (p != 0)) {
        ks_key_issue(chk, u ? u : p, u ? "username" : "password",
                     "username and password go together");
    }
}

const struct ks_receiver_cfg *ks_config_receiver(const struct ks_config *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->nreceivers; i++) {
        if (!strcmp(cfg->receivers[i].name, name)) {
            return &cfg->receivers[i];
        }
    }
    return NULL;
}
