/*
 * engine.h - the pure, deterministic heart of kintsugi (SPEC sections 2-4).
 *
 * (state, event | time) -> (state', effects). The engine does no I/O and
 * never reads the wall clock: time is the largest event `ts` seen (replay) or
 * what the shell hands it (live). Effects - changed incidents and dead
 * letters - are collected for the shell, which stores them in one
 * transaction per input chunk and then calls ks_engine_effects_clear().
 * The whole state can be saved to and restored from a checkpoint blob, so
 * that a second ingest continues exactly where the first stopped.
 */
#ifndef KS_ENGINE_H
#define KS_ENGINE_H

#include "../config/config.h"
#include "../config/keys.h"
#include "../core/core.h"
#include "../event/event.h"

struct ks_engine;

/* The engine's keys of kintsugi.yaml (keys.c): detectors, contain, channels,
 * systems, metrics, sla, assessment, dedup_retention, ts_horizon, roles,
 * people. */
extern const struct ks_key ks_engine_keys[];

/* cfg must outlive the engine. */
struct ks_engine *ks_engine_new(const struct ks_config *cfg);
void ks_engine_free(struct ks_engine *e);

/* Registers an input ("events.ndjson", "-", "http") and returns its handle;
 * its lines without a `source` count for feed_rejects as "file:NAME". */
uint32_t ks_engine_input(struct ks_engine *e, const char *name);

/*
 * The engine's entry points for events. Every event, from any door (a file,
 * an HTTP request, an alert intake, later a bus), enters through one of
 * these two, and both always do the same for each line: blank lines are
 * skipped; anything else is decoded and validated (a rejected line becomes a
 * dead-letter effect), an event whose `id` was taken within dedup_retention
 * is a duplicate and changes nothing, and every other line, accepted or
 * rejected, counts for its source's feed_rejects window (the `source`
 * field, else the input's own name). ks_engine_event takes one line;
 * ks_engine_lines a batch of a file's lines, some of them decoded ahead
 * (struct ks_line, event.h), which it takes without unpacking them.
 */
enum ks_line_result {
    KS_LINE_ACCEPTED,  /* applied */
    KS_LINE_REJECTED,  /* a dead letter; err->msg says why */
    KS_LINE_DUPLICATE, /* its id was taken before: ignored, counted in stats.duplicates */
    KS_LINE_BLANK      /* empty or white space only: skipped, counted in stats.blank */
};

/*
 * Feeds one raw event line (without its newline) of input, numbered lineno
 * (for the dead letter; any number the door likes, e.g. the line of a
 * request body). A rejected line is kept as a dead-letter effect; err->msg
 * then holds "TYPE: field \"x\" reason" (the door prints it after
 * "NAME:LINE: " or returns it). err is untouched otherwise.
 */
enum ks_line_result ks_engine_event(struct ks_engine *e, uint32_t input, int64_t lineno,
                                    const char *line, size_t len, struct ks_err *err);
/* Told of every line ks_engine_lines rejects: its number and why (err->msg
 * as for ks_engine_event). */
typedef void (*ks_reject_fn)(void *arg, int64_t lineno, const struct ks_err *err);
/*
 * Feeds lines[0, n), numbered lineno + 1 on, each exactly as
 * ks_engine_event would: a line packed with its event (the intake decodes
 * ahead, possibly on another thread) is taken as decoded, any other line is
 * decoded here. reject (may be NULL) is told of each rejected line. A
 * line's same_prev note is trusted only when it starts right after the last
 * line taken packed, so the lines of a buffer must come in order.
 */
void ks_engine_lines(struct ks_engine *e, uint32_t input, int64_t lineno,
                     const struct ks_line *lines, size_t n, ks_reject_fn reject, void *arg);
/* A line longer than KS_LINE_MAX that the reader skipped as it streamed:
 * rejected like an over-long line, its dead letter keeping head[0, head_len)
 * (at most KS_DEAD_KEEP bytes) and naming the true length total. err gets
 * the reason. */
#define KS_DEAD_KEEP (64u << 10)
void ks_engine_line_skipped(struct ks_engine *e, uint32_t input, int64_t lineno,
                            const char *head, size_t head_len, uint64_t total,
                            struct ks_err *err);
/* The end of an input batch: closes every open update at the final clock.
 * The clock does not move and no timer fires. Returns how many it closed (0:
 * the state did not change). */
size_t ks_engine_end_input(struct ks_engine *e);
/* The wall clock's door (kintsugi serve): moves the clock to t if later,
 * firing every timer due before t, each at its own deadline. */
void ks_engine_advance(struct ks_engine *e, ks_time t);
/* What ts_horizon is measured from: `base` (the server's wall clock when a
 * request arrived, so that events cannot walk the clock ahead of it step by
 * step), or the engine clock again with KS_TIME_NONE (the default). `limit`
 * names the horizon in the reason of a line rejected against `base` ("ahead
 * of the wall clock C (LIMIT H)": "--max-skew", the option that set it; a
 * static string). Not part of the saved state: set it around the lines it
 * is for. */
void ks_engine_horizon_base(struct ks_engine *e, ks_time base, const char *limit);
/* The latest instant an event is taken at (kintsugi serve on the wall
 * clock: the request's wall time): an accepted event whose ts lies ahead of
 * it (within --max-skew) happens at `cap`, so that a client's fast clock
 * cannot move the engine's clock ahead of the wall and fire timers before
 * their deadline. KS_TIME_NONE: none (the default). Not part of the saved
 * state: set it around the lines it is for. */
void ks_engine_ts_cap(struct ks_engine *e, ks_time cap);
ks_time ks_engine_clock(const struct ks_engine *e);
/* The earliest deadline among the timers (KS_TIME_NONE: none); moving the
 * clock past it fires it. A timer made moot meanwhile (a channel that
 * synced again) may still be there and fire nothing. */
ks_time ks_engine_next_due(const struct ks_engine *e);

/* ---- people's actions on incidents (SPEC section 4) ---------------------- */

/* Each is stamped `at` (the shell passes --at, else the engine clock; a
 * later `at` moves the clock first). Errors: KS_ENOTFOUND, KS_ESTATE
 * (e.g. a status that goes backwards), KS_EUSAGE (unknown status name). */
enum ks_rc ks_engine_ack(struct ks_engine *e, int64_t id, const char *by, ks_time at,
                         struct ks_err *err);
enum ks_rc ks_engine_set_status(struct ks_engine *e, int64_t id, const char *status,
                                const char *by, ks_time at, struct ks_err *err);
/* Whether name is an incident type (sync_failure, ..., external). */
int ks_engine_type_known(const char *name);
#define KS_INCIDENT_TYPES                                                                          \
    "sync_failure, volume_drop, data_corruption, order_rejections, system_outage, "               \
    "supplier_shortfall, fulfillment_error, feed_schema_change, metric_anomaly or external"
#define KS_NOTE_MAX 8192 /* bytes of a note (ks_engine_note refuses more) */
/* A note: some text that is not only white space (ASCII or Unicode spaces,
 * ks_utf8_blank), at most KS_NOTE_MAX bytes of UTF-8, kept whole; else
 * KS_EUSAGE. */
#define KS_OWNER_MAX KS_PERSON_MAX /* bytes of an owner's name (ks_engine_assign refuses more) */
enum ks_rc ks_engine_note(struct ks_engine *e, int64_t id, const char *text, const char *by,
                          ks_time at, struct ks_err *err);
/* An owner: a person's name (ks_person_invalid: 1 to KS_OWNER_MAX bytes of
 * UTF-8 without control characters, C0, DEL, C1) once the white space around
 * it is trimmed (ASCII and Unicode spaces: " dave " is stored as "dave"),
 * else KS_EUSAGE; the owner
 * it has already: KS_ESTATE, and nothing is recorded (as for a status set
 * again). */
enum ks_rc ks_engine_assign(struct ks_engine *e, int64_t id, const char *owner, const char *by,
                            ks_time at, struct ks_err *err);

/* For the service-recovery policy (src/remedy/): whether order (an
 * `order_id`) touched incident id (counted in its impact); 0 for an unknown
 * incident or order. */
int ks_engine_incident_has_order(const struct ks_engine *e, int64_t id, const char *order);
/* The value of order (an `order_id`) as its order events gave it (the last
 * `value` given), which the remedies are checked against: 1 and *value set,
 * or 0 when no event of the order gave one (or there is no such order). */
int ks_engine_order_value(const struct ks_engine *e, const char *order, double *value);
/* The type ("data_corruption", ...) and severity (1..3) of incident id;
 * KS_ENOTFOUND for an unknown one. */
enum ks_rc ks_engine_incident_kind(const struct ks_engine *e, int64_t id, const char **type,
                                   int *severity);
/* A missed deadline kintsugi records: an `sla` entry (actor kintsugi) at
 * `at`, which may be earlier than the clock (the deadline itself); the
 * clock does not move. KS_ENOTFOUND for an unknown incident. */
enum ks_rc ks_engine_sla_entry(struct ks_engine *e, int64_t id, ks_time at, const char *text,
                               struct ks_err *err);

/* ---- alerts from other tools (SPEC section 8, docs/ALERTS.md) ------------- */

struct ks_pd_event;   /* src/alerts/alerts.h: a parsed PagerDuty Events API v2 event */
struct ks_am_webhook; /* src/alerts/alerts.h: a parsed Alertmanager webhook body */

/*
 * Applies one PagerDuty event (parsed and validated by
 * ks_alert_parse_pagerduty; a generated dedup_key already drawn and
 * recorded by the caller: the engine draws nothing). Incidents are matched
 * by dedup_key alone, so that Alertmanager's PagerDuty receiver (dedup_key
 * = SHA-256 of the groupKey) and its webhook meet on one incident.
 *  - trigger: opens an incident (type `external` unless custom_details.type
 *    names one of kintsugi's, severity from payload.severity, title the
 *    summary, details the custom_details) or, when one is open for the key,
 *    updates it: a new title, details or severity, or a wider scope, is a
 *    signal in the timeline; a worse severity escalates it, a milder one
 *    never lowers it; a trigger that changes nothing records nothing.
 *  - acknowledge: acknowledges the open incident as `kintsugi incident ack`
 *    by `by` does (nothing when it was acknowledged already).
 *  - resolve: sets the open incident's status to resolved, by `by`.
 * An acknowledge or resolve whose key has no open incident changes nothing,
 * not even the clock, and is KS_OK with *incident 0. Otherwise *incident
 * gets the incident's id.
 * `by` is the sender as the caller authenticated it (NULL: "pagerduty");
 * `at` the time the caller stamps the event with (a later `at` moves the
 * clock first, firing the timers due before it; an earlier one counts as
 * the clock). Deterministic: the same calls give the same incidents.
 * Errors: KS_EUSAGE for an event no parser would give, or no time at all
 * (at KS_TIME_NONE before any event).
 */
enum ks_rc ks_engine_pd_event(struct ks_engine *e, const struct ks_pd_event *ev, const char *by,
                              ks_time at, int64_t *incident, struct ks_err *err);
/*
 * Applies one Alertmanager webhook body (parsed by
 * ks_alert_parse_alertmanager) to its group, keyed by group_key_hash (the
 * dedup_key the PagerDuty receiver sends for the group): the group rule
 * (ks_am_group_apply, docs/ALERTS.md) against the alerts the group's open
 * incident knows. The group fires with no open incident: one is opened
 * (type from the `type` label, else `external`; severity the worst firing
 * alert's; scope from the labels). Still open: each alert that fires is a
 * signal, each that resolves a note, a worse severity escalates, the scope
 * widens. No known alert fires and the body is complete: the incident is
 * resolved, by `by`. The same body again changes nothing; a body that
 * finds no open incident and opens none changes nothing, not even the
 * clock. *incident gets the group's incident (open, or just resolved),
 * else 0. by, at and errors as for ks_engine_pd_event (by NULL:
 * "alertmanager").
 */
enum ks_rc ks_engine_am_webhook(struct ks_engine *e, const struct ks_am_webhook *w, const char *by,
                                ks_time at, int64_t *incident, struct ks_err *err);
/* The open incident matched by dedup_key (a PagerDuty dedup_key, a webhook
 * group's group_key_hash), or 0: what the two calls above would find. */
int64_t ks_engine_alert_open(const struct ks_engine *e, const char *dedup_key);

/* ---- effects -------------------------------------------------------------- */

struct ks_dead_effect {
    uint32_t input;
    int64_t line;
    char *reason; /* "TYPE: field ...: reason" */
    char *raw;
    size_t raw_len;
};

/* Incidents changed since the last clear (ids, ascending, unique). */
size_t ks_engine_dirty(const struct ks_engine *e, const int64_t **ids);
/* Dead letters produced since the last clear. */
size_t ks_engine_dead(const struct ks_engine *e, const struct ks_dead_effect **dl);
void ks_engine_effects_clear(struct ks_engine *e);
/* Drops the dead-letter effects only (a replayed dead letter that fails
 * again updates its own row instead of adding one). */
void ks_engine_dead_drop(struct ks_engine *e);
const char *ks_engine_input_name(const struct ks_engine *e, uint32_t input);

/* Renders incident id as JSON: detail = 0 the summary, 1 with timeline. */
enum ks_rc ks_engine_incident_json(const struct ks_engine *e, int64_t id, int detail,
                                   struct ks_buf *out);
/* The columns a store indexes; strings borrowed from the engine. */
struct ks_incident_meta {
    int64_t id;
    const char *type, *severity, *status, *fingerprint;
    ks_time detected_at;
};
enum ks_rc ks_engine_incident_meta(const struct ks_engine *e, int64_t id,
                                   struct ks_incident_meta *out);

/* ---- the guard and the playbooks (SPEC section 5) ------------------------------- */

/* Why a quantity changed on the guarded feed. */
enum ks_feed_why {
    KS_WHY_UPDATE,     /* a clean update let through */
    KS_WHY_RELEASE,    /* held while paused, released in order */
    KS_WHY_PHANTOM,    /* rose in a corrupt update: zeroed (phantom stock) */
    KS_WHY_LOW_STOCK,  /* low stock zeroed while the channel's sync is stale */
    KS_WHY_ROLLBACK,   /* restored to the last known good quantity */
    KS_WHY_ACCEPT,     /* a flagged update accepted by a person */
    KS_WHY_ZERO_CHANNEL /* the whole channel zeroed (approved) */
};
const char *ks_feed_why_name(enum ks_feed_why w);

/* One change let through to a channel. channel and sku are interned ids:
 * ks_engine_name() and ks_engine_sku() give their text. */
struct ks_feed_effect {
    uint32_t channel;
    uint32_t sku;
    uint32_t qty;
    ks_time at;
    uint64_t seq; /* per channel, increasing: the feed cursor */
    uint8_t why;
    int64_t incident;
};
/* One hook call to perform (the shell delivers it and reports back). */
struct ks_hook_effect {
    int64_t incident;
    char *action;
    char *body; /* JSON */
    char *key;  /* idempotency key, unique per call */
};
size_t ks_engine_feed(const struct ks_engine *e, const struct ks_feed_effect **out);
/* Instead of collecting the feed's changes for ks_engine_feed, hands each to
 * fn as it is let through (fn NULL: collect again). The shell encodes them at
 * once: the first update of a full catalogue is millions of changes. */
typedef void (*ks_feed_sink_fn)(void *ctx, const struct ks_feed_effect *fe);
void ks_engine_feed_sink(struct ks_engine *e, ks_feed_sink_fn fn, void *ctx);
/* The last seq let through on a channel (0: none, or no such channel). */
uint64_t ks_engine_feed_seq(const struct ks_engine *e, const char *channel);
/* KS_OK when the engine knows the channel (from inventory or sync events),
 * with or without changes in its feed; else KS_ENOTFOUND "no channel 'X'". */
enum ks_rc ks_engine_channel_known(const struct ks_engine *e, const char *channel,
                                   struct ks_err *err);
const char *ks_engine_name(const struct ks_engine *e, uint32_t id);
const char *ks_engine_sku(const struct ks_engine *e, uint32_t id);
size_t ks_engine_hooks(const struct ks_engine *e, const struct ks_hook_effect **out);

/* Pause or release one channel (name) or all (channel NULL). Release refuses
 * (KS_ESTATE) a channel that still holds values of a corrupt update that was
 * neither rolled back nor accepted; with all channels it releases those it
 * can and reports the others in err. Held updates are let through in order. */
enum ks_rc ks_engine_guard_pause(struct ks_engine *e, const char *channel, const char *by,
                                 ks_time at, struct ks_err *err);
enum ks_rc ks_engine_guard_release(struct ks_engine *e, const char *channel, const char *by,
                                   ks_time at, struct ks_err *err);
/* Rolls back a data_corruption incident: its held corrupt values are
 * discarded and every affected SKU, phantom stock zeroed at detection
 * included, is set back to its last known good quantity on the guarded feed.
 * Values held per SKU stay held. Refused (KS_ESTATE) for an incident already
 * rolled back or accepted that holds no later corrupt update. dry_run changes
 * nothing. A summary line is written to report. */
enum ks_rc ks_engine_guard_rollback(struct ks_engine *e, int64_t id, int dry_run, const char *by,
                                    ks_time at, struct ks_buf *report, struct ks_err *err);
/* A person declares the flagged values correct - the held corrupt updates and
 * the values held per SKU: they become the reference and are let through
 * (held in order if the channel is paused), and the per-SKU holding on the
 * incident's channels ends. Allowed after a rollback; refused once accepted
 * unless something new is held. */
enum ks_rc ks_engine_guard_accept(struct ks_engine *e, int64_t id, const char *by, ks_time at,
                                  struct ks_err *err);
/* {"channels":[{"channel","paused","held","since","why","incident","feed_cursor",
 * "held_skus","held_values":[{"sku","held","last_good"}]}]} */
void ks_engine_guard_status_json(const struct ks_engine *e, struct ks_buf *out);
/* {"channel","skus":[{"sku","qty","last_good"}]}; KS_ENOTFOUND for an unknown channel. */
enum ks_rc ks_engine_feed_state_json(const struct ks_engine *e, const char *channel,
                                     struct ks_buf *out, struct ks_err *err);
/* Ticks a manual step: status "done" or "skip". */
enum ks_rc ks_engine_step(struct ks_engine *e, int64_t id, const char *step, const char *status,
                          const char *by, const char *note, ks_time at, struct ks_err *err);
/* Approves a proposed action; the person's role (config) must allow it. */
enum ks_rc ks_engine_approve(struct ks_engine *e, int64_t id, const char *action, const char *by,
                             ks_time at, struct ks_err *err);
/* [{"incident","action","step","status","proposed_at","by","at"}] of every step that
 * waits for or had an approval. */
void ks_engine_actions_json(const struct ks_engine *e, struct ks_buf *out);
/* The instant kintsugi asked for the hook call whose JSON body (struct
 * ks_hook_effect's body, the outbox row's) is body: its "at". KS_TIME_NONE
 * when body has none. The shell passes it back with each of the call's
 * results (ks_engine_hook_result). */
ks_time ks_engine_hook_requested(const char *body);
/* Records a hook attempt's outcome in the incident's timeline and checklist.
 * requested is the instant the call was asked for (ks_engine_hook_requested;
 * KS_TIME_NONE if unknown); attempt 0 means that no hook is configured for
 * the action. The automated step that asked for the call is left to a person
 * (status left_to_person, docs/CONTAINMENT.md) when its hook is not
 * configured or gave up (final), and done by kintsugi after all when a call
 * made again goes through (ok) before a person ticked it. */
void ks_engine_hook_result(struct ks_engine *e, int64_t id, const char *action, ks_time requested,
                           int attempt, int ok, int final, const char *detail);
/* Reconciliation: guarded quantities against the latest `stock` (all
 * locations), differences with oversell risks (guarded > available) first.
 * channel NULL = all channels; limit > 0 writes only the first limit items (the
 * counts stay those of every difference). */
enum ks_rc ks_engine_reconcile_json(const struct ks_engine *e, const char *channel,
                                    size_t limit, struct ks_buf *out, struct ks_err *err);
/* The response-SLA clocks of every incident not resolved: {"clock": T, "incidents":
 * [{"id", "ack": {"due", "missed"} | null, "resolve": {"due", "missed"} | null}]}.
 * ack is null once acknowledged, resolve unless a P3 resolution clock runs;
 * a missed clock's due is the instant it was missed. */
void ks_engine_sla_json(const struct ks_engine *e, struct ks_buf *out);
/* Verification of an incident: spot check of up to 20 affected SKUs against
 * stock, and the orders that oversold during it. */
enum ks_rc ks_engine_verify_json(const struct ks_engine *e, int64_t id, struct ks_buf *out,
                                 struct ks_err *err);

/* ---- messages (src/comms, docs/MESSAGES.md) --------------------------------------- */

/* What the triggers and templates read of an incident. Strings are borrowed
 * from the engine until it next changes; channels and locations are
 * ", "-separated names (cut at the buffer's size). */
struct ks_incident_facts {
    int64_t id;
    const char *type, *severity, *status, *title;
    const char *owner;       /* NULL: none */
    int sev;                 /* 1..3 */
    int resolved;            /* status is resolved */
    int assessed;            /* an escalation threshold of the assessment matrix passed */
    ks_time started_at, detected_at, resolved_at;
    ks_time clock;           /* the engine clock (event time) */
    int64_t orders, units, customers;
    double revenue;
    ks_time p1_at, customers_at, revenue_at; /* first a P1, over messages.customers,
                                              * over messages.revenue; 0: not yet */
    ks_time assessed_at;     /* the assessment matrix raised it; 0: not */
    ks_time mail_at;         /* the first affected order with an `email` was counted; 0: none */
    int64_t customers_then;  /* the customers affected at customers_at */
    ks_time ack_missed_at;   /* the first acknowledgement SLA it missed; 0: none */
    int status_changes;      /* status entries of the timeline */
    ks_time last_status_at;  /* the latest of them, or 0 */
    const char *last_action; /* the text of the latest action entry, or NULL */
    ks_time overdue_at;      /* a reminder's overdue status update: when it was due (set
                              * by src/comms, never by the engine); 0: none */
    char channels[256], locations[256];
};
/* KS_ENOTFOUND for an unknown id (out zeroed). */
enum ks_rc ks_engine_incident_facts(const struct ks_engine *e, int64_t id,
                                    struct ks_incident_facts *out);
/* Calls fn with each affected order of incident id that carried an `email`,
 * in the order they were affected, and returns how many there are (fn may
 * be NULL to count). */
typedef void (*ks_mail_fn)(void *ctx, const char *order, const char *email);
size_t ks_engine_incident_mail(const struct ks_engine *e, int64_t id, ks_mail_fn fn, void *ctx);
/* The incident's severity (1..3) at time at, from its detection entry and
 * the escalations not later than at; 0 for an unknown id. */
int ks_engine_severity_at(const struct ks_engine *e, int64_t id, ks_time at);
/* The n-th (1-based) status entry of the timeline: its time and status.
 * Returns 0 when there is none. */
int ks_engine_status_entry(const struct ks_engine *e, int64_t id, int n, ks_time *at,
                           const char **status);
/* Adds a `notification` entry (actor kintsugi) at `at`, after the entries
 * not later than it (the timeline stays in time order). */
void ks_engine_notification(struct ks_engine *e, int64_t id, ks_time at, const char *text);

/* ---- reviews and learning (docs/REVIEWS.md) -------------------------------------- */

/* One action item of an incident's review, as the engine needs it. */
struct ks_review_item {
    int64_t id;  /* the store's item id */
    ks_time due; /* KS_TIME_NONE: none */
    int closed;  /* done or dropped */
};
/*
 * Tells the engine the state of incident id's review after a person saved it
 * or closed an item: that a review is written, and its action items (they
 * replace what it knew). An open item's due date arms a timer: when the
 * clock passes it, an `sla` entry records the overdue item. The engine also
 * uses the items when a later incident repeats this one: a repeat that comes
 * when every item is closed is flagged "correction did not persist" on both.
 * KS_ENOTFOUND for an unknown incident.
 */
enum ks_rc ks_engine_review_sync(struct ks_engine *e, int64_t id, int written,
                                 const struct ks_review_item *items, size_t n, struct ks_err *err);
/* Reads the engine clock from the first bytes of a saved state (n >= 16), so
 * that readers need not restore the whole engine; KS_TIME_NONE when the
 * bytes are not a state of this version. */
ks_time ks_engine_saved_clock(const void *p, size_t n);

/* ---- checkpoint ------------------------------------------------------------- */

/*
 * The state is written as a stream of parts of at most KS_CK_PART bytes, so
 * that a large state (10 M pairs: hundreds of MB) is never held twice in
 * memory. put is called for each part in order; its failure stops the save
 * and is returned. With skus_apart the SKU strings are left out (only their
 * count is written): the shell keeps them in its own dictionary, written
 * once as they appear, and hands them back with ks_engine_sku_load before
 * loading.
 */
#define KS_CK_PART (4u << 20)
typedef enum ks_rc (*ks_ck_put_fn)(void *ctx, const void *p, size_t n, struct ks_err *err);
enum ks_rc ks_engine_save_parts(const struct ks_engine *e, int skus_apart, ks_ck_put_fn put,
                                void *ctx, struct ks_err *err);
/* Hands out the next part (borrowed until the next call); *n = 0 at the end. */
typedef enum ks_rc (*ks_ck_get_fn)(void *ctx, const void **p, size_t *n, struct ks_err *err);
/* Restores a state of total bytes from its parts into a fresh engine (after
 * ks_engine_sku_load of every SKU when it was saved with skus_apart). A
 * damaged or truncated state, or one of another version, is KS_EIO with the
 * reason; a failing get returns its own error. */
enum ks_rc ks_engine_load_parts(struct ks_engine *e, uint64_t total, ks_ck_get_fn get, void *ctx,
                                struct ks_err *err);
/* The same with the whole state in one buffer (SKUs included). */
void ks_engine_save(const struct ks_engine *e, struct ks_buf *out);
enum ks_rc ks_engine_load(struct ks_engine *e, const void *p, size_t n, struct ks_err *err);
/* SKU ids are dense, 0 .. count - 1, in order of first appearance. */
uint32_t ks_engine_sku_count(const struct ks_engine *e);
/* Appends the next SKU string of a saved dictionary to a fresh engine; a
 * duplicate is KS_EIO. */
enum ks_rc ks_engine_sku_load(struct ks_engine *e, const char *s, size_t n, struct ks_err *err);
/* ks_engine_sku_load of s[0, count) (lengths n), in order: the same result,
 * faster for a whole dictionary (the table's slots are fetched ahead). */
enum ks_rc ks_engine_sku_load_many(struct ks_engine *e, const char *const *s, const size_t *n,
                                   size_t count, struct ks_err *err);
/* Room for n more SKUs of bytes bytes in all, before loading them. */
void ks_engine_sku_reserve(struct ks_engine *e, uint32_t n, size_t bytes);

/* ---- figures ------------------------------------------------------------------ */

struct ks_engine_stats {
    uint64_t lines, events, rejected, duplicates, blank;
    uint64_t incidents_opened, escalations;
    uint64_t pairs;       /* tracked (channel, SKU) pairs */
    uint64_t pair_bytes;  /* bytes of per-pair state (excluding SKU strings) */
    uint64_t state_bytes; /* all engine memory, approximately */
    int64_t incidents;    /* incidents in total */
};
void ks_engine_stats(const struct ks_engine *e, struct ks_engine_stats *out);

#endif
