/*
 * remedy.h - the service-recovery policy (SPEC section 6, docs/REMEDIES.md):
 * what a customer whose order an incident touched may be given, who may
 * grant it, and the plain-language promise written from the same policy.
 *
 * The policy is the configuration's roles: roles.NAME.remedies gives each
 * role a limit per remedy (an amount in `currency`, true for any amount,
 * false or absent for none; "*" for every remedy the role does not name).
 * A grant within the accountable person's limit is granted at once; above
 * it, it waits (pending) for someone whose limit covers it; a person whose
 * role has no right to the remedy at all is refused. Automation proposes, a
 * named person decides: every remedy names the person accountable for it,
 * and each grant, approval and specialist review is an entry of the
 * incident's timeline.
 *
 * A case is complex (escalated) when the person granting escalates it, when
 * the remedy goes above their limit, or when the order already has a remedy
 * of the same incident. A complex case gets a specialist review due 24 h
 * (event time) after the grant; a review that misses it is an `sla` entry
 * of the timeline, written at its deadline by ks_remedy_sla.
 *
 * Remedies live in the store (migration 7); writes change the store and the
 * engine (timeline entries) and must run inside one transaction of the
 * shell (ks_shell_flush_with). Reads need only the store.
 */
#ifndef KS_REMEDY_H
#define KS_REMEDY_H

#include "../config/config.h"
#include "../core/core.h"
#include "../engine/engine.h"
#include "../store/store.h"

/* The specialist review of a complex case is due this long after the grant. */
#define KS_REMEDY_REVIEW_DUE (24 * KS_HOUR)

/* The largest amount of a remedy, in the configuration's currency. */
#define KS_REMEDY_AMOUNT_MAX 1e12
/* The longest order id a remedy is granted for, in bytes. */
#define KS_REMEDY_ORDER_MAX 256

/* Whether amount is the amount of a remedy: money in the configuration's
 * currency, > 0, at most KS_REMEDY_AMOUNT_MAX, a whole number of cents (at
 * most two decimals: 49.99, not 49.999). */
int ks_remedy_amount_ok(double amount);
/* Reads the text of an amount (ks_amount_parse: decimal digits, then
 * optionally '.' and one or two digits; no sign, exponent, hex, inf or nan),
 * > 0 and at most KS_REMEDY_AMOUNT_MAX. 0 and *out set, or -1. */
int ks_remedy_amount_parse(const char *s, double *out);
/* Why order is not the order id of a remedy, or NULL when it is: empty,
 * longer than KS_REMEDY_ORDER_MAX bytes, not valid UTF-8, or with a control
 * character (U+0000-U+001F, U+007F-U+009F). The reason ("is not valid UTF-8
 * (byte 2)") is written into why (cap bytes), which is returned; the caller
 * names the field. */
const char *ks_remedy_order_invalid(const char *order, char *why, size_t cap);

/* Whether a remedy of this kind gives the customer the order's own money or
 * goods, so that its amount may not exceed the order's value where kintsugi
 * knows it (ks_engine_order_value): a refund and a cancellation with a full
 * refund (money back: the order's refunds together), a replacement (the
 * order's items sent again). */
int ks_remedy_bounded(const char *kind);

/* What a person may grant of one remedy. */
enum ks_remedy_right {
    KS_REMEDY_NONE, /* not allowed (false, absent, or not a person of the configuration) */
    KS_REMEDY_UPTO, /* up to an amount */
    KS_REMEDY_ANY   /* any amount (true) */
};
/* The right of person `by` to remedy kind, from their role's limits (the
 * remedy's own pair first, else "*"). *limit gets the amount of UPTO; *role
 * the person's role (NULL: not a person of the configuration). */
enum ks_remedy_right ks_remedy_right_of(const struct ks_config *cfg, const char *by,
                                        const char *kind, double *limit, const char **role);

/* A request to grant a remedy. */
struct ks_remedy_req {
    int64_t incident;
    const char *order;  /* the order's `order_id` */
    const char *kind;   /* one of ks_remedy_names */
    int has_amount;     /* 0: none given (the order's value: above any amount limit) */
    double amount;      /* ks_remedy_amount_ok, in the configuration's currency */
    const char *by;     /* the accountable person: a person of the configuration */
    const char *note;   /* NULL: none */
    int escalate;       /* the person asks for a specialist review */
};

/*
 * Grants (or, above by's limit, records pending) a remedy: a row in the
 * store and a timeline entry by the person. at: the engine clock when
 * KS_TIME_NONE. id: 0 for a new remedy; the id of a remedy re-applied from
 * the server's journal (the row is written again, whole). *out_id gets the
 * remedy's id; out (may be NULL) its JSON (as in ks_remedy_list_json).
 * Errors: KS_EUSAGE (unknown remedy, an amount that is not ks_remedy_amount_ok,
 * an order id ks_remedy_order_invalid refuses; a grant re-applied from the
 * journal only needs an amount >= 0 and an order id), KS_ENOTFOUND (no such
 * incident), KS_ESTATE (refused: not a person of the configuration, a role
 * without the right to this remedy, an order cancelled and refunded already,
 * an amount of a ks_remedy_bounded remedy above the order's known value, or
 * a refund that would bring the order's refunds above it). Where the value
 * is not known the amount is not checked, and the timeline entry says so;
 * out then also has "order_value" (null when not known).
 * A cancel_with_refund granted at once supersedes the order's other remedies
 * of the incident that wait for approval: their status becomes
 * "superseded" (never given, no longer approved, their review no longer
 * due), each with a timeline entry by the person.
 */
enum ks_rc ks_remedy_grant(struct ks_store *s, struct ks_engine *e, const struct ks_config *cfg,
                           const struct ks_remedy_req *rq, ks_time at, int64_t id,
                           int64_t *out_id, struct ks_buf *out, struct ks_err *err);
/*
 * Approves pending remedy id as person by, whose limit must cover it: it is
 * granted, by is accountable; an approved cancel_with_refund supersedes as
 * ks_remedy_grant's does. reapply: the server re-applying its journal (a
 * remedy approved by by already is approved again, without error).
 * Errors: KS_ENOTFOUND, KS_ESTATE (not pending, superseded or its order
 * cancelled with a full refund for the incident already, by's limit does
 * not cover it, by did its specialist review: the reviewer is a second
 * person, not the one who decides; or its amount above the order's value
 * kintsugi knows now, as for ks_remedy_grant). out has "order_value" too.
 */
enum ks_rc ks_remedy_approve(struct ks_store *s, struct ks_engine *e,
                             const struct ks_config *cfg, int64_t id, const char *by,
                             ks_time at, int reapply, struct ks_buf *out, struct ks_err *err);
/*
 * Declines pending remedy id as person by, saying why (required): it is
 * never given (status "declined", with by, at and why), its specialist
 * review is no longer due, and a timeline entry says so. by is someone
 * who could approve it (a person whose limit covers it) or the person who
 * proposed it (then it is "withdrawn"). A declined cancel_with_refund
 * cancels nothing: the order may be given other remedies. reapply as for
 * ks_remedy_approve. Errors: KS_EUSAGE (no why), KS_ENOTFOUND, KS_ESTATE
 * (not pending: granted, superseded or declined already; by may not).
 */
enum ks_rc ks_remedy_decline(struct ks_store *s, struct ks_engine *e,
                             const struct ks_config *cfg, int64_t id, const char *by,
                             const char *why, ks_time at, int reapply, struct ks_buf *out,
                             struct ks_err *err);
/*
 * Records the specialist review of complex remedy id by person by: a person
 * of the configuration whose limit covers the remedy, other than the person
 * who proposed it and the one who decided it (accountable for it). Errors:
 * KS_ENOTFOUND, KS_ESTATE (no review due, the remedy superseded, or by may
 * not review it). reapply as above.
 */
enum ks_rc ks_remedy_review(struct ks_store *s, struct ks_engine *e, const struct ks_config *cfg,
                            int64_t id, const char *by, const char *note, ks_time at,
                            int reapply, struct ks_buf *out, struct ks_err *err);
/* Every specialist review due before the engine clock (the clock moved past
 * its deadline: SPEC section 2, a review at the deadline is in time) and not
 * done, of a remedy not superseded: an `sla` entry at its deadline, and the
 * remedy marked missed. The shell calls it with each saved state, in the
 * same transaction. */
enum ks_rc ks_remedy_sla(struct ks_store *s, struct ks_engine *e, struct ks_err *err);
/* The deadline of the first specialist review that ks_remedy_sla will find
 * missed once the clock moves past it (not done, not missed yet, of a
 * remedy not superseded, at clock or later), KS_TIME_NONE for none. Reads
 * only. */
enum ks_rc ks_remedy_next_review(struct ks_store *s, ks_time clock, ks_time *next,
                                 struct ks_err *err);

/* ---- reading ---------------------------------------------------------------------- */

/* `kintsugi remedy list --json`: [{"id","incident","order","kind","amount","currency",
 * "status","accountable","requested_by","approved_by","requested_at","granted_at",
 * "note","affected","complex","review":{"due","status","missed","by","at"}|null}]
 * (review "by" and "at" null until the review is done)
 * in id order, of one incident (incident > 0) or all. The array is closed
 * even on failure. */
enum ks_rc ks_remedy_list_json(struct ks_store *s, int64_t incident, struct ks_buf *out,
                               struct ks_err *err);
/* `kintsugi remedy offer INCIDENT --order ID --json`: the choices the customer
 * may be given under the policy, the customer's own choices first, then what
 * the shop may add; each with the roles that may grant it at once and the
 * remedies of this kind the order has already. Read from the store (the
 * incident's stored row). KS_ENOTFOUND for an unknown incident. */
enum ks_rc ks_remedy_offer_json(struct ks_store *s, const struct ks_config *cfg, int64_t incident,
                                const char *order, struct ks_buf *out, struct ks_err *err);

/* For the customer notices (the follow-up, the order-delay notice): one
 * plain-language paragraph (no trailing newline) on the remedies of order
 * for incident: what was granted and who decided it, what waits for
 * approval, else the choices the policy offers for the incident's type
 * (type NULL: read from the incident's stored row, which a trigger running
 * before the incident is written cannot do). Empty when the policy offers
 * nothing. */
enum ks_rc ks_remedy_describe(struct ks_store *s, const struct ks_config *cfg, int64_t incident,
                              const char *type, const char *order, struct ks_buf *out,
                              struct ks_err *err);

/* The recovery promise, written from the policy: what we do when we make a
 * mistake, what the customer can choose, who decides and reviews complex
 * cases and when, that a person is accountable, how their data is used. */
enum ks_remedy_format { KS_PROMISE_TEXT, KS_PROMISE_MARKDOWN, KS_PROMISE_HTML };
void ks_remedy_promise(const struct ks_config *cfg, enum ks_remedy_format f, struct ks_buf *out);

#endif
