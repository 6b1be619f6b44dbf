/*
 * comms.h - telling people (SPEC section 6, docs/MESSAGES.md): templates,
 * the triggers that decide who is told and when, the durable outbox they
 * write to, and the receivers that deliver it (webhook, SMTP, a directory).
 *
 * The triggers run in the shell, inside the transaction that writes the
 * incident change that caused them (ks_comms_triggers), so a message is
 * never queued for a change that was not kept nor lost for one that was.
 * Delivery is at least once: every message carries an idempotency key
 * derived from (database, incident, audience, recipient, kind, sequence),
 * sent as the Idempotency-Key header (webhook), in the body, as the file
 * name (dir) and in the Message-ID (SMTP).
 */
#ifndef KS_COMMS_H
#define KS_COMMS_H

#include "../config/keys.h"
#include "../contain/hook.h"
#include "../core/core.h"
#include "../engine/engine.h"
#include "../store/store.h"

/* ---- configuration (keys.c) ------------------------------------------------------ */

/* A receiver under `receivers:`: exactly one of smtp, webhook and dir. */
struct ks_receiver_cfg {
    char *name;
    char *smtp;     /* "smtp://HOST:PORT" or "smtps://HOST:PORT" */
    char *from;     /* smtp: the sender address (required) */
    char *tls;      /* smtp: "none", "try" (STARTTLS when offered) or "required" */
    int insecure;   /* smtp: do not verify the server's certificate */
    char *username; /* smtp: login (with password) */
    char *password;
    char *webhook;  /* http(s) URL */
    int slack;      /* webhook: a Slack-compatible body ({"text": ...}) */
    struct ks_hook_header *headers; /* webhook */
    size_t nheaders;
    char *dir;      /* a directory: one file per message */
    int retries;    /* further attempts after a failed one: 8 */
    ks_time backoff; /* first retry after: 1s, doubled each time (at most 5m) */
    ks_time timeout; /* one attempt: 10s */
};

/* receivers, notify, messages (src/shell/keys.c lists them). */
extern const struct ks_key ks_comms_keys[];
/* The receiver named, or NULL. */
const struct ks_receiver_cfg *ks_config_receiver(const struct ks_config *cfg, const char *name);
/* Whether name is a team function: operations, customer_success, it,
 * finance (the core team), pr, legal, leadership, supplier_relations. */
int ks_comms_team_known(const char *name);
/* Key checks (struct ks_key.check) of a person's email and team. */
const char *ks_comms_email_check(const char *s, char *buf, size_t cap);
const char *ks_comms_team_check(const char *s, char *buf, size_t cap);

/* ---- templates (template.c) ---------------------------------------------------------- */

/* The template kinds; a template NAME is read from DIR/NAME.txt or
 * DIR/NAME.md (messages.templates), else the built-in one. */
enum ks_tpl_kind {
    KS_TPL_INCIDENT,        /* the internal incident notification */
    KS_TPL_UPDATE,          /* a status update to the team */
    KS_TPL_REMINDER,        /* to the owner: a status update is overdue */
    KS_TPL_CUSTOMER_NOTICE, /* the immediate customer notice */
    KS_TPL_FOLLOW_UP,       /* the customer follow-up */
    KS_TPL_ORDER_DELAY,     /* the order-delay notice */
    KS_TPL__COUNT
};
const char *ks_tpl_name(enum ks_tpl_kind k);
/* -1 for an unknown name. */
int ks_tpl_parse_name(const char *name);
/* Whether the kind goes to a customer (order, email, ... are known). */
int ks_tpl_customer(enum ks_tpl_kind k);

/* A parsed template: a subject line and a body, each a sequence of literal
 * text and placeholders. */
struct ks_tpl;
/* Parses text (n bytes) as template kind k: a first line "Subject: ...",
 * an empty line, the body. Every {{name}} must be a placeholder of the
 * kind. On error returns KS_EINPUT with err->msg "LINE: reason" (LINE
 * 1-based in text) and *out NULL. */
enum ks_rc ks_tpl_parse(enum ks_tpl_kind k, const char *text, size_t n, struct ks_tpl **out,
                        struct ks_err *err);
void ks_tpl_free(struct ks_tpl *t);
/* Gives the value of placeholder name (never NULL). */
typedef const char *(*ks_tpl_value_fn)(void *ctx, const char *name);
/* Renders subject and body (appended). */
void ks_tpl_render(const struct ks_tpl *t, ks_tpl_value_fn fn, void *ctx, struct ks_buf *subject,
                   struct ks_buf *body);
/* The built-in text of a kind. */
const char *ks_tpl_builtin(enum ks_tpl_kind k);
/* The placeholders of a kind, NULL-terminated (for the docs and messages). */
void ks_tpl_placeholders(enum ks_tpl_kind k, const char **out, size_t cap, size_t *n);

/* The templates in force: the built-in ones, each overridden by a file of
 * dir (NULL: none). The directory must exist and be readable; in it every
 * file named NAME.txt or NAME.md (the extension in any case) must be a
 * template of a known kind, at most one per kind, that parses. Files whose
 * names start with "." or end otherwise (NAME.txt~, NAME.txt.bak, a
 * README) are not read (docs/MESSAGES.md). */
struct ks_tpl_set {
    struct ks_tpl *t[KS_TPL__COUNT];
    char *from[KS_TPL__COUNT]; /* the file, or NULL for built-in */
    int markdown[KS_TPL__COUNT];
};
/* Receives one problem of a templates directory, "FILE:LINE: reason",
 * "FILE: reason" or "DIR: reason"; valid only during the call. */
typedef void (*ks_tpl_issue_fn)(void *ctx, const char *msg);
/* Loads the set, handing every problem of dir to fn (NULL: none), in file
 * name order, and returns their number: 0 when set holds the templates,
 * else set is empty (ks_tpl_set_fini is still allowed). */
int ks_tpl_set_load_each(struct ks_tpl_set *set, const char *dir, ks_tpl_issue_fn fn, void *ctx);
/* The same, the first problem in err->msg (with how many more there are)
 * and KS_EINPUT when there is any. */
enum ks_rc ks_tpl_set_load(struct ks_tpl_set *set, const char *dir, struct ks_err *err);
void ks_tpl_set_fini(struct ks_tpl_set *set);

/* ---- remedies: the placeholder values the service-recovery policy fills ---------------- */

/* {{remedy}} (compensation 0) or {{compensation}} (1) of a customer notice
 * for incident f and order, appended to out: the service-recovery policy's
 * paragraph for the order (ks_remedy_describe: what was granted and who
 * decided it, what waits for approval, else the choices). Without a store,
 * or when the policy offers nothing, the documented default text
 * (docs/MESSAGES.md). Never empty. */
void ks_comms_remedy_text(const struct ks_config *cfg, struct ks_store *st,
                          const struct ks_incident_facts *f, const char *order, int compensation,
                          struct ks_buf *out);

/* ---- rendering and triggers (trigger.c) ---------------------------------------------------- */

/* Renders template kind k for incident f (order and email for the customer
 * kinds, else NULL) into subject and body; st (NULL: none) is read for the
 * remedies of the order. */
void ks_comms_render(const struct ks_config *cfg, struct ks_store *st, const struct ks_tpl_set *set,
                     enum ks_tpl_kind k, const struct ks_incident_facts *f, const char *order,
                     const char *email, const char *recipient, struct ks_buf *subject,
                     struct ks_buf *body);

/* The idempotency key of (database, incident, audience, recipient, kind,
 * seq): "ks-" and 32 hex digits of their SHA-256. db_id is the store's
 * (struct ks_store), so that two databases never give one key to two
 * messages, while one database gives the same message the same key however
 * often it is written again (a journal re-applied, an ingest resumed). out
 * must hold 40 bytes. */
void ks_comms_key(const char *db_id, int64_t incident, const char *audience, const char *recipient,
                  const char *kind, int64_t seq, char out[40]);

struct ks_comms_stats {
    uint64_t queued; /* messages written to the outbox */
    uint64_t fired;  /* triggers fired */
};
/* What trigger passes remember of each incident (by id): the engine clock
 * before which none of its time-driven triggers (reminders, the customer
 * follow-up, order-delay notices) can fire while the incident does not
 * change. A pass then runs the incidents that changed and those due, not
 * every open one. Zeroed to start; cleared (fini) whenever the passes'
 * writes were rolled back or the engine reloaded. */
struct ks_comms_due {
    ks_time *at; /* KS_TIME_NONE: not known, run it */
    size_t n;
};
void ks_comms_due_fini(struct ks_comms_due *d);
/* The earliest engine clock at which a trigger of incidents 1..incidents
 * can fire while none of them changes, by what the last passes remembered
 * in d: clock itself when one of them has not been run yet, KS_TIME_NONE
 * when none can (or messages are off). */
ks_time ks_comms_next_due(const struct ks_config *cfg, const struct ks_comms_due *d,
                          int64_t incidents, ks_time clock);

/* Runs every trigger for the open incidents and incident ids[0, n) (changed
 * since the last write) against the engine's state, at the engine clock:
 * the messages each writes go to the store's outbox and its timeline entry
 * to the engine (call it inside the transaction, before the incidents are
 * written). set: the templates in force. due (NULL: none) leaves out the
 * open incidents that did not change and have nothing due; the sanitizer
 * build runs them all the same and aborts if one fires. */
enum ks_rc ks_comms_triggers(const struct ks_config *cfg, const struct ks_tpl_set *set,
                             struct ks_engine *eng, struct ks_store *st, const int64_t *ids,
                             size_t n, struct ks_comms_due *due, struct ks_comms_stats *stats,
                             struct ks_err *err);

/* ---- receivers (receiver.c) ------------------------------------------------------------------ */

struct ks_send_result {
    int ok;
    int retryable;       /* 0: retrying is pointless (a bad configuration) */
    /* The receiver itself could not take messages just now (no answer, a
     * time-out, a refused connection or TLS, HTTP 429/502/503/504, SMTP 421
     * or no reply, a directory it cannot write): its other messages wait
     * with this one instead of each paying for the outage (outbox.c). A
     * reply about this message alone (HTTP 500, SMTP 450) is not. */
    int unavailable;
    ks_time retry_after; /* a 429's Retry-After (ms), 0: none */
    char detail[256];
};
/* One attempt to deliver message m through receiver r. Blocks up to r->timeout. */
void ks_comms_send(const struct ks_receiver_cfg *r, const struct ks_message_row *m,
                   struct ks_send_result *out);
/* Appends the header line "NAME: VALUE" of a mail, without its CRLF: VALUE
 * as it is when it is printable ASCII, else (a UTF-8 subject) as RFC 2047
 * encoded-words "=?UTF-8?B?...?=", each of whole characters and at most 75
 * long, on lines of at most 76 folded with CRLF and a space. A line break
 * in VALUE is encoded like any control character, never written as it is
 * (and the SMTP sender refuses such a subject before). */
void ks_comms_mail_header(struct ks_buf *out, const char *name, const char *value);
/* The message as JSON (the webhook's and the dir's body; Slack: {"text"}). */
void ks_comms_message_json(const struct ks_message_row *m, int slack, struct ks_buf *out);
/* The delay before retry n (n >= 1). */
ks_time ks_comms_backoff(const struct ks_receiver_cfg *r, int n);

#endif
