/*
 * trigger.c - who is told, when (SPEC section 6, docs/MESSAGES.md): the
 * triggers, run by the shell inside the transaction that writes the
 * incident change that caused them, and the rendering of a message from the
 * incident's facts. Each trigger fires once per (incident, name, seq),
 * recorded in the store beside the messages it queues and in the incident's
 * timeline; per-order triggers remember how many affected orders they have
 * covered, so a customer whose order is affected later is told too, once.
 */
#include "comms.h"

#include "../remedy/remedy.h"

#include <openssl/sha.h>
#include <string.h>

/* The defaults, when there is no store to read the policy's remedies from
 * (or the policy offers nothing for the incident's type). */
static const char DEFAULT_REMEDY[] =
    "a refund, store credit, a replacement or expedited shipping: reply to choose";
static const char DEFAULT_COMPENSATION[] =
    "our customer care team will offer you a remedy for the trouble (reply to this message "
    "to choose one)";

void ks_comms_remedy_text(const struct ks_config *cfg, struct ks_store *st,
                          const struct ks_incident_facts *f, const char *order, int compensation,
                          struct ks_buf *out)
{
    size_t before = out->len;
    struct ks_err err = {0};
    if (st && order && *order &&
        ks_remedy_describe(st, cfg, f->id, f->type, order, out, &err) == KS_OK &&
        out->len > before) {
        return;
    }
    out->len = before; /* a failed read leaves no half paragraph */
    ks_buf_puts(out, compensation ? DEFAULT_COMPENSATION : DEFAULT_REMEDY);
}

void ks_comms_key(const char *db_id, int64_t incident, const char *audience, const char *recipient,
                  const char *kind, int64_t seq, char out[40])
{
    struct ks_buf b = {0};
    /* NUL-separated: no field can run into the next */
    ks_buf_put(&b, db_id, strlen(db_id) + 1);
    ks_buf_printf(&b, "%lld", (long long)incident);
    ks_buf_put(&b, "", 1);
    ks_buf_put(&b, audience, strlen(audience) + 1);
    ks_buf_put(&b, recipient, strlen(recipient) + 1);
    ks_buf_put(&b, kind, strlen(kind) + 1);
    ks_buf_printf(&b, "%lld", (long long)seq);
    unsigned char h[32];
    SHA256((const unsigned char *)b.p, b.len, h);
    ks_buf_fini(&b);
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "ks-", 3);
    for (int i = 0; i < 16; i++) {
        out[3 + 2 * i] = hex[h[i] >> 4];
        out[4 + 2 * i] = hex[h[i] & 15];
    }
    out[35] = 0;
}

/* ---- rendering ------------------------------------------------------------------------ */

struct values {
    const struct ks_config *cfg;
    struct ks_store *st; /* the policy's remedies; NULL: the default texts */
    struct ks_buf remedy[2]; /* {{remedy}}, {{compensation}}: read when first used */
    int have_remedy[2];
    const struct ks_incident_facts *f;
    const char *order, *email, *recipient, *audience;
    char id[24], started[32], detected[32], next[48], due[48], impact[160], orders[24], customers[24],
        revenue[32], units[24], cust_impact[96], actions[320], doing[200], timeline[160],
        steps[200], resolution[120], ship[16];
};

static const char *customer_what(const char *type)
{
    if (!strcmp(type, "system_outage")) {
        return "a problem at our warehouse systems is delaying orders";
    }
    if (!strcmp(type, "sync_failure") || !strcmp(type, "data_corruption") ||
        !strcmp(type, "volume_drop")) {
        return "a problem with our inventory data affected orders placed on our sales channels";
    }
    if (!strcmp(type, "order_rejections")) {
        return "a problem with our order system rejected or delayed some orders";
    }
    if (!strcmp(type, "supplier_shortfall")) {
        return "a delivery from one of our suppliers fell short, so some items are not in stock";
    }
    return "a problem in our systems affected some orders";
}

static const char *value(void *ctx, const char *name)
{
    struct values *v = ctx;
    const struct ks_incident_facts *f = v->f;
    int cust = v->order != NULL;
#define IS(s) (!strcmp(name, s))
    if (IS("incident")) {
        return v->id;
    } else if (IS("title")) {
        return f->title;
    } else if (IS("type")) {
        return f->type;
    } else if (IS("severity")) {
        return f->severity;
    } else if (IS("status")) {
        return f->status;
    } else if (IS("started")) {
        return v->started;
    } else if (IS("detected")) {
        return v->detected;
    } else if (IS("shop")) {
        return v->cfg->msg_shop ? v->cfg->msg_shop : "our shop";
    } else if (IS("what_happened")) {
        return cust ? customer_what(f->type) : f->title;
    } else if (IS("current_actions")) {
        return v->actions;
    } else if (IS("next_update")) {
        return v->next;
    } else if (IS("due")) {
        return v->due;
    } else if (IS("timeline")) {
        return v->timeline;
    } else if (IS("recipient")) {
        return v->recipient;
    } else if (IS("channels")) {
        return f->channels[0] ? f->channels : "none";
    } else if (IS("locations")) {
        return f->locations[0] ? f->locations : "none";
    } else if (IS("impact")) {
        return v->impact;
    } else if (IS("orders")) {
        return v->orders;
    } else if (IS("customers")) {
        return v->customers;
    } else if (IS("revenue")) {
        return v->revenue;
    } else if (IS("units")) {
        return v->units;
    } else if (IS("currency")) {
        return v->cfg->currency ? v->cfg->currency : "USD";
    } else if (IS("customer_impact")) {
        return v->cust_impact;
    } else if (IS("owner")) {
        return f->owner ? f->owner : "unassigned";
    } else if (IS("audience")) {
        return v->audience;
    } else if (IS("order")) {
        return v->order ? v->order : "";
    } else if (IS("email")) {
        return v->email ? v->email : "";
    } else if (IS("what_we_are_doing")) {
        return v->doing;
    } else if (IS("next_steps")) {
        return v->steps;
    } else if (IS("resolution_timeline")) {
        return v->resolution;
    } else if (IS("compensation") || IS("remedy")) {
        int c = IS("compensation");
        if (!v->have_remedy[c]) {
            ks_comms_remedy_text(v->cfg, v->st, f, v->order, c, &v->remedy[c]);
            v->have_remedy[c] = 1;
        }
        return v->remedy[c].p ? v->remedy[c].p : "";
    } else if (IS("prevention")) {
        return "we review every incident and fix its cause so that it does not happen again";
    } else if (IS("new_ship_date")) {
        return v->ship;
    } else if (IS("cancel")) {
        return "You may also cancel the order for a full refund: reply to this message.";
    }
#undef IS
    KS_ASSERT(!"a placeholder without a value"); /* parsing admits only known names */
    return "";
}

void ks_comms_render(const struct ks_config *cfg, struct ks_store *st, const struct ks_tpl_set *set,
                     enum ks_tpl_kind k, const struct ks_incident_facts *f, const char *order,
                     const char *email, const char *recipient, struct ks_buf *subject,
                     struct ks_buf *body)
{
    struct values v;
    memset(&v, 0, sizeof(v));
    v.cfg = cfg;
    v.st = st;
    v.f = f;
    v.order = ks_tpl_customer(k) ? (order ? order : "") : NULL;
    v.email = email;
    v.recipient = recipient ? recipient : "";
    v.audience = ks_tpl_customer(k) ? "customer" : "team";
    const char *cur = cfg->currency ? cfg->currency : "USD";
    snprintf(v.id, sizeof(v.id), "%lld", (long long)f->id);
    ks_time_fmt(f->started_at, v.started);
    ks_time_fmt(f->detected_at, v.detected);
    int sev = f->sev >= 1 && f->sev <= 3 ? f->sev : 3;
    ks_time base = f->last_status_at > f->detected_at ? f->last_status_at : f->detected_at;
    if (f->clock > base) {
        base = f->clock;
    }
    if (f->resolved) {
        snprintf(v.next, sizeof(v.next), "none (resolved)");
    } else {
        ks_time_fmt(base + cfg->msg_update[sev], v.next);
    }
    /* {{due}}: when the overdue update was due (a reminder), else the next one */
    if (f->overdue_at) {
        ks_time_fmt(f->overdue_at, v.due);
    } else {
        snprintf(v.due, sizeof(v.due), "%s", v.next);
    }
    snprintf(v.orders, sizeof(v.orders), "%lld", (long long)f->orders);
    snprintf(v.customers, sizeof(v.customers), "%lld", (long long)f->customers);
    snprintf(v.units, sizeof(v.units), "%lld", (long long)f->units);
    snprintf(v.revenue, sizeof(v.revenue), "%.2f", f->revenue);
    snprintf(v.impact, sizeof(v.impact), "%lld orders, %lld customers, %s %.2f revenue, %lld units",
             (long long)f->orders, (long long)f->customers, cur, f->revenue, (long long)f->units);
    snprintf(v.cust_impact, sizeof(v.cust_impact), "%lld customers with %lld orders affected",
             (long long)f->customers, (long long)f->orders);
    if (f->last_action) {
        snprintf(v.actions, sizeof(v.actions), "%s", f->last_action);
    } else {
        snprintf(v.actions, sizeof(v.actions), "%s (kintsugi's playbook for %s)", f->status,
                 f->type);
    }
    /* What a customer is told is only what is true: "contained" once the
     * incident is (its status says so), and a time to write again only
     * where a message is due then (the follow-up, follow_up after the first
     * notice); the team's update interval is no promise to customers. */
    snprintf(v.doing, sizeof(v.doing), "%s",
             f->resolved ? "we have fixed the problem and are checking every affected order"
             : strcmp(f->status, "investigating")
                 ? "we have contained the problem and are working on every affected order"
                 : "we are working to contain the problem and on every affected order");
    snprintf(v.timeline, sizeof(v.timeline), "the problem began at %s; we found it at %s", v.started,
             v.detected);
    ks_time follow = f->customers_at ? f->customers_at + cfg->msg_follow_up : KS_TIME_NONE;
    if (f->resolved) {
        snprintf(v.steps, sizeof(v.steps), "nothing is needed from you");
        char at[32];
        ks_time_fmt(f->resolved_at, at);
        snprintf(v.resolution, sizeof(v.resolution), "resolved at %s", at);
    } else if (!v.order) {
        snprintf(v.steps, sizeof(v.steps), "the next update is due by %s", v.next);
        snprintf(v.resolution, sizeof(v.resolution), "the next update is due by %s", v.next);
    } else if (follow != KS_TIME_NONE && f->clock < follow && k != KS_TPL_FOLLOW_UP) {
        char at[32];
        ks_time_fmt(follow, at);
        snprintf(v.steps, sizeof(v.steps),
                 "nothing is needed from you; we will write again by %s at the latest", at);
        snprintf(v.resolution, sizeof(v.resolution), "we will write again by %s at the latest",
                 at);
    } else {
        snprintf(v.steps, sizeof(v.steps),
                 "nothing is needed from you; reply to this message at any time for news of your "
                 "order");
        snprintf(v.resolution, sizeof(v.resolution),
                 "we are still working on it; reply to this message at any time for news of your "
                 "order");
    }
    char day[32];
    ks_time_fmt(f->clock + 2 * KS_DAY, day);
    snprintf(v.ship, sizeof(v.ship), "%.10s", day);
    ks_tpl_render(set->t[k], value, &v, subject, body);
    ks_buf_fini(&v.remedy[0]);
    ks_buf_fini(&v.remedy[1]);
}

/* ---- triggers ------------------------------------------------------------------------------- */

enum team_bit {
    T_OPERATIONS = 1,
    T_CUSTOMER_SUCCESS = 2,
    T_IT = 4,
    T_FINANCE = 8,
    T_PR = 16,
    T_LEGAL = 32,
    T_LEADERSHIP = 64,
    T_SUPPLIER = 128,
    T_CORE = 15
};

static unsigned team_bit(const char *t)
{
    static const char *const names[] = {"operations", "customer_success", "it", "finance",
                                        "pr", "legal", "leadership", "supplier_relations"};
    for (unsigned i = 0; t && i < 8; i++) {
        if (!strcmp(names[i], t)) {
            return 1u << i;
        }
    }
    return 0;
}

struct run {
    const struct ks_config *cfg;
    const struct ks_tpl_set *set;
    struct ks_engine *eng;
    struct ks_store *st;
    struct ks_comms_stats *stats;
    struct ks_err *err;
    struct ks_incident_facts f;
    struct ks_buf subject, body;
    unsigned queued; /* by the current trigger */
    ks_time at;      /* the event time the current trigger fires at */
    enum ks_rc rc;
    uint64_t writes; /* trigger rows and messages written */
    ks_time due;     /* the earliest clock at which a time-driven trigger of
                      * the incident can fire while it does not change, or
                      * NEVER (run_incident) */
};

#define NEVER INT64_MAX
/* In struct ks_comms_due: resolved when last seen (no trigger of a resolved
 * incident fires unless it changes). */
#define RESOLVED (INT64_MIN + 1)

/* A time-driven trigger of the incident falls due at `at`. */
static void due_at(struct run *r, ks_time at)
{
    if (at < r->due) {
        r->due = at;
    }
}

static void receivers_of(const struct ks_config *cfg, const char *audience, char ***names,
                         size_t *n)
{
    if (!strcmp(audience, "team")) {
        *names = cfg->notify_team, *n = cfg->nnotify_team;
    } else if (!strcmp(audience, "leadership")) {
        *names = cfg->notify_leadership, *n = cfg->nnotify_leadership;
    } else {
        *names = cfg->notify_customer, *n = cfg->nnotify_customer;
    }
}

static void queue_one(struct run *r, enum ks_tpl_kind k, const char *audience,
                      const char *recipient, const char *receiver, const char *order,
                      const char *email, int64_t seq)
{
    if (r->rc != KS_OK) {
        return;
    }
    char key[40];
    ks_comms_key(r->st->db_id, r->f.id, audience, recipient, ks_tpl_name(k), seq, key);
    ks_buf_reset(&r->subject);
    ks_buf_reset(&r->body);
    struct ks_incident_facts fc = r->f; /* rendered as at the time it fires */
    fc.clock = r->at;
    ks_comms_render(r->cfg, r->st, r->set, k, &fc, order, email, recipient, &r->subject, &r->body);
    struct ks_message_row m = {0};
    m.key = key;
    m.incident = r->f.id;
    m.kind = ks_tpl_name(k);
    m.audience = audience;
    m.recipient = recipient;
    m.receiver = receiver;
    m.order_id = order;
    m.subject = r->subject.p ? r->subject.p : "";
    m.body = r->body.p ? r->body.p : "";
    m.status = "queued";
    m.created_at = r->at;
    m.sent_at = KS_TIME_NONE;
    m.next_at = KS_TIME_NONE;
    int added = 0;
    r->rc = r->st->ops->add_message(r->st, &m, &added, r->err);
    r->writes += (uint64_t)added;
    if (added) {
        r->queued++;
        r->stats->queued++;
    }
}

/* Queues message kind k for the audience's receivers: one labelled `label`
 * per receiver that is not e-mail (webhook, dir), one per person of `teams`
 * (and the owner, owner_too) with an email for an e-mail receiver. `told`:
 * the same message went out by e-mail at the same instant to these teams
 * (and the owner) already; they are left out, so that nobody gets it twice.
 * A receiver that is not e-mail gets its message all the same: its label is
 * what routes it (a `core_team` message pages whom a `team` one does not). */
static void queue_people(struct run *r, enum ks_tpl_kind k, const char *audience, unsigned teams,
                         int owner_too, const char *label, int64_t seq, unsigned told)
{
    char **names;
    size_t n;
    receivers_of(r->cfg, audience, &names, &n);
    for (size_t i = 0; i < n; i++) {
        const struct ks_receiver_cfg *rc = ks_config_receiver(r->cfg, names[i]);
        if (!rc) {
            continue;
        }
        if (!rc->smtp) {
            queue_one(r, k, audience, label, rc->name, NULL, NULL, seq);
            continue;
        }
        for (size_t p = 0; p < r->cfg->npeople; p++) {
            const struct ks_person *pe = &r->cfg->people[p];
            int owner = r->f.owner && !strcmp(r->f.owner, pe->name);
            int in = (team_bit(pe->team) & teams) || (owner_too && owner);
            int had = told && ((team_bit(pe->team) & told) || owner);
            if (in && !had && pe->email) {
                queue_one(r, k, audience, pe->email, rc->name, NULL, NULL, seq);
            }
        }
    }
}

static void queue_internal(struct run *r, enum ks_tpl_kind k, const char *audience,
                           unsigned teams, int owner_too, const char *label, int64_t seq)
{
    queue_people(r, k, audience, teams, owner_too, label, seq, 0);
}

struct mail_ctx {
    struct run *r;
    enum ks_tpl_kind k;
    size_t from, to, i;
};

static void mail_one(void *ctx, const char *order, const char *email)
{
    struct mail_ctx *m = ctx;
    size_t i = m->i++;
    if (i < m->from || i >= m->to) {
        return;
    }
    char **names;
    size_t n;
    receivers_of(m->r->cfg, "customer", &names, &n);
    for (size_t j = 0; j < n; j++) {
        queue_one(m->r, m->k, "customer", email, names[j], order, email, 0);
    }
}

/* Customer messages of kind k for the affected orders [from, to). */
static void queue_customers(struct run *r, enum ks_tpl_kind k, size_t from, size_t to)
{
    struct mail_ctx m = {r, k, from, to, 0};
    if (from < to) {
        ks_engine_incident_mail(r->eng, r->f.id, mail_one, &m);
    }
}

/* Whether (name, seq) fired before (*row then holds it); else records it
 * as fired at `at` (the event time its condition came true, never later
 * than the clock), which stamps what it queues. */
static int fired(struct run *r, const char *name, int64_t seq, ks_time at,
                 struct ks_trigger_row *row)
{
    r->at = at && at < r->f.clock ? at : r->f.clock;
    int found = 0;
    if (r->rc == KS_OK) {
        r->rc = r->st->ops->get_trigger(r->st, r->f.id, name, seq, row, &found, r->err);
    }
    if (r->rc != KS_OK || found) {
        return 1;
    }
    *row = (struct ks_trigger_row){r->f.id, name, seq, r->at, 0};
    r->rc = r->st->ops->put_trigger(r->st, row, r->err);
    r->writes++;
    r->stats->fired++;
    r->queued = 0;
    return 0;
}

/* The timeline entry of a trigger that fired. with_count: the number of
 * messages it queued (not for per-order triggers, whose first batch depends
 * on how much of the stream the shell had seen: the timeline stays the same
 * however the input was split). */
static void note(struct run *r, const char *audience, const char *what, int with_count)
{
    char **names;
    size_t n;
    receivers_of(r->cfg, audience, &names, &n);
    char text[512];
    if (!n) {
        snprintf(text, sizeof(text), "%s: no receiver for the %s audience (notify.%s in "
                                     "kintsugi.yaml); nothing sent",
                 what, audience, audience);
    } else if (with_count) {
        snprintf(text, sizeof(text), "%s: %u message%s queued", what, r->queued,
                 r->queued == 1 ? "" : "s");
    } else {
        snprintf(text, sizeof(text), "%s", what);
    }
    ks_engine_notification(r->eng, r->f.id, r->at, text);
}

/* The entry of a trigger that had nobody to send to: `what`, ending
 * "; nothing sent" like the entry for an audience without a receiver (the
 * reviews' customer_communication does not count either). */
static void note_unsent(struct run *r, const char *audience, const char *what)
{
    char **names;
    size_t n;
    receivers_of(r->cfg, audience, &names, &n);
    if (!n) {
        note(r, audience, what, 0);
        return;
    }
    char text[512];
    snprintf(text, sizeof(text), "%s; nothing sent", what);
    ks_engine_notification(r->eng, r->f.id, r->at, text);
}

/* Whether no affected order that carried an e-mail had been counted by
 * `at` (event time): a customer message due then reached nobody. The
 * engine stamps the first such order (mail_at), so this is the same however
 * the input was split and whenever the shell looked. */
static int untold_by(const struct ks_incident_facts *f, ks_time at)
{
    return !f->mail_at || f->mail_at > at;
}

static void set_done(struct run *r, struct ks_trigger_row *row, int64_t done)
{
    if (r->rc == KS_OK && row->done != done) {
        row->done = done;
        r->rc = r->st->ops->put_trigger(r->st, row, r->err);
        r->writes++;
    }
}

/* At most this many reminders for one overdue status update. */
#define MAX_REMINDERS 3

/* Every trigger depends only on the incident's state and the times stamped
 * in it, never on when the shell looked: the same events give the same
 * triggers and timeline entries however the input was split. */
static void run_incident(struct run *r)
{
    const struct ks_config *cfg = r->cfg;
    struct ks_incident_facts *f = &r->f;
    struct ks_trigger_row det, row, cn;
    char what[256], next[32];
    unsigned extended = !strcmp(f->type, "supplier_shortfall") ? T_SUPPLIER : 0;
    r->due = NEVER;

    /* detection: the incident's team */
    if (!fired(r, "detected", 0, f->detected_at, &det)) {
        queue_internal(r, KS_TPL_INCIDENT, "team", T_OPERATIONS | extended, 1, "team", 0);
        int sev = ks_engine_severity_at(r->eng, f->id, r->at);
        ks_time_fmt(r->at + cfg->msg_update[sev >= 1 && sev <= 3 ? sev : 3], next);
        snprintf(what, sizeof(what), "Team notified of the incident (next update by %s)", next);
        note(r, "team", what, 1);
    }
    /* P1: the whole core team */
    if (f->p1_at && !fired(r, "p1_core_team", 0, f->p1_at, &row)) {
        /* a P1 from its detection: the team's message of that instant was
         * the same one, and went by e-mail to operations and the owner
         * already; a webhook or dir receiver gets the core team's message
         * too (labelled core_team, which routes it) */
        queue_people(r, KS_TPL_INCIDENT, "team", T_CORE | extended, 1, "core_team", 1,
                     f->p1_at == f->detected_at ? T_OPERATIONS | extended : 0);
        note(r, "team", "P1: the core team notified (operations, customer success, IT, finance)",
             1);
    }
    /* not acknowledged in time: the escalation the timeline announces goes
     * out - to the core team, or on a P1 (whose core team knows already)
     * to leadership */
    if (f->ack_missed_at && !fired(r, "ack_escalation", 0, f->ack_missed_at, &row)) {
        if (ks_engine_severity_at(r->eng, f->id, r->at) == 1) {
            queue_internal(r, KS_TPL_INCIDENT, "leadership", T_LEADERSHIP, 0, "escalation", 1);
            note(r, "leadership", "Not acknowledged in time: leadership notified", 1);
        } else {
            queue_internal(r, KS_TPL_INCIDENT, "team", T_CORE | extended, 1, "escalation", 2);
            note(r, "team",
                 "Not acknowledged in time: the core team notified (operations, customer "
                 "success, IT, finance)",
                 1);
        }
    }
    /* each status change: an update */
    for (int n = 1; n <= f->status_changes && r->rc == KS_OK; n++) {
        const char *status = "";
        ks_time at = 0;
        if (!ks_engine_status_entry(r->eng, f->id, n, &at, &status) ||
            fired(r, "status", n, at, &row)) {
            continue;
        }
        int p1 = ks_engine_severity_at(r->eng, f->id, at) == 1;
        queue_internal(r, KS_TPL_UPDATE, "team", (p1 ? T_CORE : T_OPERATIONS) | extended, 1,
                       "team", n);
        snprintf(what, sizeof(what), "Status update (%s) sent to the team", status);
        note(r, "team", what, 1);
    }
    /* a status update overdue: reminders to the owner, each interval, at most 3 per
     * update. Period n runs from the detection (n = 0) or the n-th status change to
     * the next one, the resolution or the clock: reminders are due in it however
     * late the shell looked. */
    ks_time end_all = f->resolved ? f->resolved_at : f->clock;
    for (int n = 0; n <= f->status_changes && r->rc == KS_OK; n++) {
        ks_time start = det.at, end = end_all, at;
        const char *status;
        if (n > 0 && ks_engine_status_entry(r->eng, f->id, n, &at, &status)) {
            start = at;
        }
        if (n < f->status_changes && ks_engine_status_entry(r->eng, f->id, n + 1, &at, &status)) {
            end = at;
        }
        int sev = ks_engine_severity_at(r->eng, f->id, start);
        ks_time every = cfg->msg_update[sev >= 1 && sev <= 3 ? sev : 3];
        int64_t due = end > start ? (end - start - 1) / every : 0;
        if (n == f->status_changes && !f->resolved && due < MAX_REMINDERS) {
            /* the clock ends this period: reminder due + 1 is due once
             * end - start - 1 reaches (due + 1) every */
            due_at(r, start + 1 + (due + 1) * every);
        }
        char name[64];
        snprintf(name, sizeof(name), "reminder@%lld", (long long)(start / 1000));
        for (int64_t k = 1; k <= due && k <= MAX_REMINDERS && r->rc == KS_OK; k++) {
            if (fired(r, name, k, start + k * every, &row)) {
                continue;
            }
            r->f.overdue_at = start + every;
            queue_internal(r, KS_TPL_REMINDER, "team", f->owner ? 0 : T_OPERATIONS, 1,
                           f->owner ? f->owner : "team", k);
            r->f.overdue_at = 0;
            ks_time_fmt(start + every, next);
            snprintf(what, sizeof(what), "Reminder: the status update due at %s is overdue",
                     next);
            note(r, "team", what, 1);
        }
    }
    /* leadership: revenue impact, or an assessment-matrix threshold, whichever came first */
    ks_time lead_at = f->revenue_at;
    if (f->assessed_at && (!lead_at || f->assessed_at < lead_at)) {
        lead_at = f->assessed_at;
    }
    if (lead_at && !fired(r, "leadership", 0, lead_at, &row)) {
        queue_internal(r, KS_TPL_INCIDENT, "leadership", T_LEADERSHIP, 0, "leadership", 0);
        if (lead_at == f->revenue_at) {
            snprintf(what, sizeof(what), "Leadership notified: revenue impact over %s %.2f",
                     cfg->currency ? cfg->currency : "USD", cfg->msg_revenue);
        } else {
            snprintf(what, sizeof(what),
                     "Leadership notified: an escalation threshold of the assessment matrix "
                     "passed");
        }
        note(r, "leadership", what, 1);
    }
    /* customers: a notice per affected order, once more than the threshold are affected */
    size_t nmail = ks_engine_incident_mail(r->eng, f->id, NULL, NULL);
    int have_cn = 0;
    if (f->customers_at && r->rc == KS_OK) {
        int before = fired(r, "customer_notice", 0, f->customers_at, &cn);
        have_cn = 1;
        if (!untold_by(f, f->customers_at)) {
            if (before) {
                r->at = f->clock; /* orders affected since: told now */
            }
            queue_customers(r, KS_TPL_CUSTOMER_NOTICE, (size_t)cn.done, nmail);
        }
        if (!before) {
            /* the extended team by rule: PR when customers are told (or
             * could not be), legal too on a P1 */
            int p1 = ks_engine_severity_at(r->eng, f->id, r->at) == 1;
            queue_internal(r, KS_TPL_INCIDENT, "team", T_PR | (p1 ? T_LEGAL : 0), 0, "pr", 2);
            char gap[32];
            ks_duration_fmt(r->at - f->detected_at, gap);
            if (untold_by(f, f->customers_at)) {
                int one = f->customers_then == 1;
                snprintf(what, sizeof(what),
                         "Customer notices: %lld affected customer%s could not be told because "
                         "%s carried no e-mail",
                         (long long)f->customers_then, one ? "" : "s",
                         one ? "their order" : "their orders");
                note_unsent(r, "customer", what);
            } else {
                snprintf(what, sizeof(what),
                         "Customer notices: more than %d customers affected; one per affected "
                         "order with an e-mail, the first %s after detection",
                         cfg->msg_customers, gap);
                note(r, "customer", what, 0);
            }
        }
        if (untold_by(f, f->customers_at) && f->mail_at) {
            /* An order with an e-mail affected later: the first notice
             * that reaches a customer goes at the instant it was counted. */
            before = fired(r, "customer_notice_first", 0, f->mail_at, &row);
            if (before) {
                r->at = f->clock;
            }
            queue_customers(r, KS_TPL_CUSTOMER_NOTICE, (size_t)cn.done, nmail);
            if (!before) {
                char gap[32];
                ks_duration_fmt(r->at - f->detected_at, gap);
                snprintf(what, sizeof(what),
                         "Customer notices: one per affected order with an e-mail, the first %s "
                         "after detection (the first affected order that carried one)",
                         gap);
                note(r, "customer", what, 0);
            }
        }
        set_done(r, &cn, (int64_t)nmail);
    }
    /* the follow-up: at resolution or follow_up after the first notice */
    if (have_cn && !f->resolved && f->clock < cn.at + cfg->msg_follow_up) {
        due_at(r, cn.at + cfg->msg_follow_up);
    }
    if (have_cn && r->rc == KS_OK && (f->resolved || f->clock >= cn.at + cfg->msg_follow_up)) {
        ks_time due = cn.at + cfg->msg_follow_up;
        ks_time at = f->resolved && f->resolved_at < due ? f->resolved_at : due;
        int before = fired(r, "follow_up", 0, at, &row);
        if (before) {
            r->at = f->clock;
        }
        queue_customers(r, KS_TPL_FOLLOW_UP, (size_t)row.done, (size_t)cn.done);
        if (!before) {
            snprintf(what, sizeof(what), "Customer follow-up%s",
                     f->resolved && f->resolved_at < due ? " with the resolution" : "");
            if (untold_by(f, at)) {
                snprintf(what + strlen(what), sizeof(what) - strlen(what),
                         ": nobody to follow up, no affected order carried an e-mail");
                note_unsent(r, "customer", what);
            } else {
                note(r, "customer", what, 0);
            }
        }
        set_done(r, &row, cn.done);
    }
    /* a system outage past the delay: the order-delay notice for each affected order */
    if (!strcmp(f->type, "system_outage") && !f->resolved &&
        end_all - f->started_at <= cfg->msg_delay) {
        due_at(r, f->started_at + cfg->msg_delay + 1);
    }
    if (!strcmp(f->type, "system_outage") && r->rc == KS_OK &&
        end_all - f->started_at > cfg->msg_delay) {
        int before = fired(r, "order_delay", 0, f->started_at + cfg->msg_delay + 1, &row);
        if (before) {
            r->at = f->clock;
        }
        queue_customers(r, KS_TPL_ORDER_DELAY, (size_t)row.done, nmail);
        if (!before) {
            char d[32];
            ks_duration_fmt(cfg->msg_delay, d);
            snprintf(what, sizeof(what), "Order-delay notices: the outage has lasted more than %s",
                     d);
            if (untold_by(f, f->started_at + cfg->msg_delay + 1)) {
                snprintf(what + strlen(what), sizeof(what) - strlen(what),
                         ", and no affected order carried an e-mail");
                note_unsent(r, "customer", what);
            } else {
                note(r, "customer", what, 0);
            }
        }
        set_done(r, &row, (int64_t)nmail);
    }
}

void ks_comms_due_fini(struct ks_comms_due *d)
{
    ks_free(d->at);
    memset(d, 0, sizeof(*d));
}

/* What the passes remember of incident id: KS_TIME_NONE, RESOLVED or the
 * clock of its next time-driven trigger. */
static ks_time due_of(const struct ks_comms_due *d, int64_t id)
{
    return d && (size_t)id <= d->n ? d->at[id - 1] : KS_TIME_NONE;
}

/* Whether incident id, unchanged since its last run, can be left out at
 * this clock: nothing of it is due yet. */
static int not_due(const struct ks_comms_due *d, int64_t id, ks_time clock)
{
    ks_time at = due_of(d, id);
    return at != KS_TIME_NONE && at != RESOLVED && clock < at;
}

static void remember_due(struct ks_comms_due *d, int64_t id, ks_time at)
{
    if (!d) {
        return;
    }
    if ((size_t)id > d->n) {
        size_t nn = d->n ? d->n : 64;
        while (nn < (size_t)id) {
            nn *= 2;
        }
        d->at = ks_realloc(d->at, nn * sizeof(*d->at));
        for (size_t i = d->n; i < nn; i++) {
            d->at[i] = KS_TIME_NONE;
        }
        d->n = nn;
    }
    d->at[id - 1] = at;
}

/* No `notify:`: messages are off (docs/MESSAGES.md), no trigger runs. */
static int messages_off(const struct ks_config *cfg)
{
    return !cfg->nnotify_team && !cfg->nnotify_leadership && !cfg->nnotify_customer;
}

ks_time ks_comms_next_due(const struct ks_config *cfg, const struct ks_comms_due *d,
                          int64_t incidents, ks_time clock)
{
    if (messages_off(cfg)) {
        return KS_TIME_NONE; /* messages are off: no trigger runs */
    }
    ks_time next = KS_TIME_NONE;
    for (int64_t id = 1; id <= incidents; id++) {
        ks_time at = due_of(d, id);
        if (at == KS_TIME_NONE) {
            return clock; /* not run yet: it may fire now */
        }
        if (at != RESOLVED && at != NEVER && (next == KS_TIME_NONE || at < next)) {
            next = at;
        }
    }
    return next;
}

enum ks_rc ks_comms_triggers(const struct ks_config *cfg, const struct ks_tpl_set *set,
                             struct ks_engine *eng, struct ks_store *st, const int64_t *ids,
                             size_t n, struct ks_comms_due *due, struct ks_comms_stats *stats,
                             struct ks_err *err)
{
    struct run r;
    memset(&r, 0, sizeof(r));
    r.cfg = cfg;
    r.set = set;
    r.eng = eng;
    r.st = st;
    r.stats = stats;
    r.err = err;
    r.rc = KS_OK;
    if (messages_off(cfg)) {
        return KS_OK; /* no `notify:`: messages are off (docs/MESSAGES.md) */
    }
    struct ks_engine_stats es;
    ks_engine_stats(eng, &es);
    /* The changed incidents and every open one (time-driven triggers). ids
     * may change as timeline entries are added: copy them. */
    int64_t *changed = n ? ks_malloc(n * sizeof(*changed)) : NULL;
    if (n) {
        memcpy(changed, ids, n * sizeof(*changed));
    }
    size_t k = 0;
    for (int64_t id = 1; id <= es.incidents && r.rc == KS_OK; id++) {
        while (k < n && changed[k] < id) {
            k++;
        }
        int dirty = k < n && changed[k] == id;
        if (!dirty && due_of(due, id) == RESOLVED) {
            continue; /* a long history is mostly these: not even looked up */
        }
        struct ks_incident_meta m;
        if (ks_engine_incident_meta(eng, id, &m) != KS_OK) {
            continue;
        }
        if (!dirty && !strcmp(m.status, "resolved")) {
            remember_due(due, id, RESOLVED);
            continue;
        }
        int skip = !dirty && not_due(due, id, ks_engine_clock(eng));
#if !defined(__SANITIZE_ADDRESS__)
        if (skip) {
            continue; /* the sanitizer build runs it, and checks that nothing fires */
        }
#endif
        if (ks_engine_incident_facts(eng, id, &r.f) != KS_OK) {
            continue;
        }
        uint64_t writes = r.writes;
        run_incident(&r);
        KS_ASSERT(!skip || r.rc != KS_OK || r.writes == writes);
        remember_due(due, id, r.rc == KS_OK ? r.due : KS_TIME_NONE);
    }
    ks_free(changed);
    ks_buf_fini(&r.subject);
    ks_buf_fini(&r.body);
    return r.rc;
}
