/*
 * alerts.h - alerts sent to kintsugi by other tools (SPEC section 8, issue
 * 10 item 6, docs/ALERTS.md): the PagerDuty Events API v2 body
 * (POST /v2/enqueue) and the Prometheus Alertmanager webhook body, version 4
 * (POST /v1/alertmanager).
 *
 * The module parses and validates those bodies into plain structs, maps
 * them onto an incident's scope and severity, renders PagerDuty's answers,
 * and computes the state of an Alertmanager group from one body to the
 * next. It does no I/O, keeps no state between calls and knows nothing of
 * the engine: the HTTP layer calls the parsers and the renderers, the engine
 * keeps a struct ks_am_group per group and calls ks_am_group_apply.
 *
 * Every struct filled here owns its strings (allocated with ks_malloc) and is
 * released by its _fini function, which takes a struct that was zeroed or
 * filled, successfully or not, and leaves it zeroed.
 */
#ifndef KS_ALERTS_H
#define KS_ALERTS_H

#include "../core/core.h"

#include <stddef.h>
#include <stdint.h>

/* ---- severity and scope ------------------------------------------------ */

/* kintsugi's severities as integers: 1 = P1 (worst) .. 3 = P3. */
#define KS_ALERT_P1 1
#define KS_ALERT_P2 2
#define KS_ALERT_P3 3
/* "P1", "P2", "P3"; NULL for anything else. */
const char *ks_alert_severity_name(int severity);
/* The severity a word names, without regard to case: critical and P1 -> 1;
 * error and P2 -> 2; warning, info and P3 -> 3. 0 for any other word (the
 * caller decides the default). n is the word's length. */
int ks_alert_severity_parse(const char *s, size_t n);

/* A list of distinct strings, in the order first seen. */
struct ks_alert_strs {
    char **v;
    size_t n, cap;
};

/*
 * What an alert says about the incident it opens or updates. Filled by
 * ks_alert_scope_pagerduty and ks_alert_scope_alertmanager (the rules are in
 * docs/ALERTS.md); release with ks_alert_scope_fini.
 */
struct ks_alert_scope {
    /* "external", or one of kintsugi's incident types named by the alert's
     * `type` label or custom_details field (sync_failure, data_corruption, ...). */
    char type[32];
    int severity;       /* KS_ALERT_P1..KS_ALERT_P3, P3 when nothing named one */
    int severity_named; /* 1 when a label or field named it, 0 when P3 is the default */
    struct ks_alert_strs channels, locations;
    struct ks_alert_strs systems; /* from `component` or `system` */
    char *title;                  /* never NULL once filled */
};
void ks_alert_scope_fini(struct ks_alert_scope *s);

/* ---- PagerDuty Events API v2 ------------------------------------------- */

/* The limits PagerDuty documents (docs/ALERTS.md). Characters are Unicode
 * code points; the body limit is in bytes. */
#define KS_PD_BODY_MAX (512 * 1024)
#define KS_PD_SUMMARY_MAX 1024
#define KS_PD_DEDUP_KEY_MAX 255

enum ks_pd_action { KS_PD_TRIGGER = 1, KS_PD_ACKNOWLEDGE, KS_PD_RESOLVE };
/* "trigger", "acknowledge", "resolve"; NULL for anything else. */
const char *ks_pd_action_name(enum ks_pd_action a);

struct ks_pd_link {
    char *href, *text; /* text may be NULL */
};
struct ks_pd_image {
    char *src, *href, *alt; /* href, alt may be NULL */
};

/*
 * One event, validated and normalized. For acknowledge and resolve only
 * routing_key and dedup_key are read: the payload and the other fields are
 * ignored, as PagerDuty does, and stay NULL. An absent optional string is
 * NULL, never "".
 */
struct ks_pd_event {
    enum ks_pd_action action;
    char *routing_key;
    /* Never NULL on success. A trigger without one (or with a blank one)
     * gets a random UUID, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", and
     * dedup_key_generated is 1: the caller returns it in the 202 and must
     * record it with the event (a replay cannot draw the same one again). */
    char *dedup_key;
    int dedup_key_generated;
    /* trigger only */
    char *summary, *source;
    char *pd_severity; /* critical | error | warning | info, lower case */
    int severity;      /* KS_ALERT_P1..P3 from pd_severity; 0 for ack/resolve */
    char *component, *group, *class_name;
    /* payload.timestamp when it reads as a time (RFC 3339, +hhmm offsets
     * too, or a number of epoch seconds or milliseconds), else KS_TIME_NONE;
     * timestamp_unreadable is 1 when one was sent but could not be read
     * (such a timestamp is ignored, never a reason to refuse an alert). */
    ks_time timestamp;
    int timestamp_unreadable;
    /* payload.custom_details as compact JSON text (any JSON value, objects
     * in the order sent), NULL when absent or null. */
    char *custom_details;
    char *client, *client_url;
    /* links and images: well-formed entries are kept, others dropped */
    struct ks_pd_link *links;
    size_t nlinks;
    struct ks_pd_image *images;
    size_t nimages;

    /* On rejection (KS_EINPUT): every fault found, in PagerDuty's words
     * ("'payload.summary' is missing or blank"), in the order the fields
     * are checked; unrecognized is 1 when the body was not a JSON object at
     * all (PagerDuty answers that with another 400 body, see
     * ks_pd_render_invalid). */
    char **errors;
    size_t nerrors;
    int unrecognized;
};

/*
 * Parses and validates one Events API v2 body of len bytes (NUL not
 * needed). Returns KS_OK with *out filled, or KS_EINPUT with out->errors
 * (and err->msg: "pagerduty: " and the errors joined by "; "). *out is
 * overwritten (zero it or fini it first); release it with ks_pd_event_fini
 * in both cases. Bodies over KS_PD_BODY_MAX bytes are refused unread.
 */
enum ks_rc ks_alert_parse_pagerduty(const char *body, size_t len, struct ks_pd_event *out,
                                    struct ks_err *err);
/* The same for an event recorded after it was received (the server's
 * journal): no size limit, since the recorded text is the body rewritten
 * (its routing_key hashed, its dedup_key set, compact JSON), which may be a
 * little longer than the body that was within KS_PD_BODY_MAX. */
enum ks_rc ks_alert_parse_pagerduty_recorded(const char *body, size_t len,
                                             struct ks_pd_event *out, struct ks_err *err);
void ks_pd_event_fini(struct ks_pd_event *ev);

/* Appends PagerDuty's 202 body to out:
 * {"status":"success","message":"Event processed","dedup_key":"KEY"}. */
void ks_pd_render_success(struct ks_buf *out, const char *dedup_key);
/* Appends PagerDuty's 400 body for a rejected event to out:
 * {"status":"invalid event","message":"Event object is invalid","errors":[...]},
 * or, when ev->unrecognized, {"status":"Unrecognized object","message":
 * "Event object format is unrecognized","errors":["JSON parse error"]}. */
void ks_pd_render_invalid(struct ks_buf *out, const struct ks_pd_event *ev);

/* A random UUID (version 4) into out[37], from the kernel's random source. */
void ks_alert_uuid(char out[37]);

/* The scope of a trigger (docs/ALERTS.md): severity from payload.severity,
 * title from the summary, systems from payload.component, and channel,
 * location, system, component and type from custom_details (its top-level
 * string fields, and the labels of the alerts Alertmanager's PagerDuty
 * receiver renders into custom_details.firing and .resolved, as text or as
 * JSON). */
void ks_alert_scope_pagerduty(const struct ks_pd_event *ev, struct ks_alert_scope *out);

/* ---- Alertmanager webhook, version 4 ------------------------------------ */

/* Webhook bodies carry every alert of the group (Alertmanager's max_alerts
 * truncates them), so their limit is larger than PagerDuty's. */
#define KS_AM_BODY_MAX (4 * 1024 * 1024)
/* Alertmanager's fingerprints are 16 hex digits; anything up to 64 bytes is
 * taken, so that a struct ks_am_member needs no allocation. */
#define KS_AM_FINGERPRINT_MAX 64

enum ks_am_status { KS_AM_FIRING = 1, KS_AM_RESOLVED = 2 };
/* "firing", "resolved"; NULL for anything else. */
const char *ks_am_status_name(enum ks_am_status s);

struct ks_am_kv {
    char *key, *value;
};
/* Labels or annotations, in the order of the body. */
struct ks_am_labels {
    struct ks_am_kv *kv;
    size_t n;
};
/* The value of key, or NULL. */
const char *ks_am_label(const struct ks_am_labels *l, const char *key);

struct ks_am_alert {
    enum ks_am_status status;
    char fingerprint[KS_AM_FINGERPRINT_MAX + 1];
    struct ks_am_labels labels, annotations;
    ks_time starts_at;
    ks_time ends_at;     /* KS_TIME_NONE for Go's zero time 0001-01-01T00:00:00Z: no end */
    char *generator_url; /* NULL when absent or empty */
};

struct ks_am_webhook {
    char *version; /* always "4" */
    char *group_key;
    /* lower-case hex SHA-256 of group_key: the dedup_key that Alertmanager's
     * PagerDuty receiver sends for the same group */
    char group_key_hash[65];
    enum ks_am_status status;
    char *receiver;           /* NULL when absent */
    int64_t truncated_alerts; /* alerts of the group left out of this body */
    struct ks_am_labels group_labels, common_labels, common_annotations;
    char *external_url; /* NULL when absent or empty */
    struct ks_am_alert *alerts;
    size_t nalerts;
};

/*
 * Parses and validates one webhook body of len bytes. Returns KS_OK with
 * *out filled, or KS_EINPUT with err->msg naming the place and the reason in
 * the house style, `alertmanager: field "alerts[2].fingerprint" is
 * required`. *out is overwritten; release it with ks_am_webhook_fini in both
 * cases. Bodies over KS_AM_BODY_MAX bytes are refused unread.
 */
enum ks_rc ks_alert_parse_alertmanager(const char *body, size_t len, struct ks_am_webhook *out,
                                       struct ks_err *err);
/* How err->msg starts when the body is not JSON at all (not when it is JSON
 * but not a webhook body): "alertmanager: json: invalid JSON at line ...". */
#define KS_AM_JSON_ERROR "alertmanager: json: "
/* The same for a body recorded after it was received (the server's journal,
 * compact JSON that may be longer than what was sent): no size limit. */
enum ks_rc ks_alert_parse_alertmanager_recorded(const char *body, size_t len,
                                                struct ks_am_webhook *out, struct ks_err *err);
void ks_am_webhook_fini(struct ks_am_webhook *w);

/* The scope of a group from one body (docs/ALERTS.md): channel, location,
 * component/system and type labels of its firing alerts (of all its alerts
 * when none fires), then of commonLabels; severity the worst of the firing
 * alerts' severity labels; title the common summary annotation, else the
 * alertname. */
void ks_alert_scope_alertmanager(const struct ks_am_webhook *w, struct ks_alert_scope *out);

/* ---- Alertmanager group state ---------------------------------------------- */

/* What kintsugi remembers of one alert of a group. */
struct ks_am_member {
    char fingerprint[KS_AM_FINGERPRINT_MAX + 1];
    enum ks_am_status status;
};

/*
 * The state of one group (one groupKey): whether its incident is open and
 * the alerts it knows. Zeroed is a group never seen. Members are unique by
 * fingerprint. Owned by the caller (the engine); release with
 * ks_am_group_fini.
 */
struct ks_am_group {
    int open;
    struct ks_am_member *members;
    size_t n, cap;
};
void ks_am_group_fini(struct ks_am_group *g);

enum ks_am_change {
    KS_AM_GROUP_UNCHANGED = 0, /* nothing the incident shows changed */
    KS_AM_GROUP_OPENED,        /* the group fires and had no open incident: open one */
    KS_AM_GROUP_UPDATED,       /* still open; alerts joined, resolved or fired again */
    KS_AM_GROUP_RESOLVED       /* no known alert fires: resolve the incident */
};
/* "unchanged", "opened", "updated", "resolved". */
const char *ks_am_change_name(enum ks_am_change c);

/* One alert whose status changed. from is 0 for an alert not known before.
 * alert is its index in the body, or SIZE_MAX when the body left it out
 * and it counts as resolved for that (complete bodies only). */
struct ks_am_transition {
    char fingerprint[KS_AM_FINGERPRINT_MAX + 1];
    int from; /* 0, KS_AM_FIRING or KS_AM_RESOLVED */
    enum ks_am_status to;
    size_t alert;
};

struct ks_am_outcome {
    enum ks_am_change change;
    struct ks_am_transition *transitions; /* in body order, then the left-out ones */
    size_t ntransitions;
    size_t nfiring; /* members of the new state that fire */
};
void ks_am_outcome_fini(struct ks_am_outcome *o);

/*
 * The group rule (docs/ALERTS.md). Given the state known before and a new
 * body of the same group, writes the state after into *next (overwritten:
 * zero it or fini it first; it may not be known) and what changed into
 * *out (overwritten likewise). Pure: known is not touched, and applying the
 * same body to *next again gives *next and KS_AM_GROUP_UNCHANGED.
 *
 *  - An alert in the body takes the body's status. An alert first seen
 *    resolved is remembered but changes nothing.
 *  - A complete body (truncatedAlerts 0) lists every alert of the group that
 *    Alertmanager still holds: a known alert it leaves out counts as
 *    resolved and is forgotten, as are resolved alerts it leaves out. A
 *    truncated body says nothing of the alerts it leaves out: they keep
 *    their status.
 *  - The group fires while any known alert fires. It resolves when no known
 *    alert fires and the body is complete; a truncated body never resolves
 *    it.
 */
void ks_am_group_apply(const struct ks_am_group *known, const struct ks_am_webhook *body,
                       struct ks_am_group *next, struct ks_am_outcome *out);

#endif
