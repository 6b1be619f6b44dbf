/*
 * keys.c - the engine's keys of kintsugi.yaml (see src/config/keys.h): the
 * detectors' thresholds, containment, the per-channel and per-system
 * overrides, metric rules, SLAs, the assessment matrix, duplicate detection
 * and the clock's horizon, roles and people; and the checks that span the
 * keys of one entry. The values live in struct ks_config (config.h).
 */
#include "../comms/comms.h"
#include "engine.h"

#include <stdlib.h>
#include <string.h>

/* The entries of the named maps and the list. */
static void channel_done(struct ks_key_check *chk, void *entry);
static void metric_done(struct ks_key_check *chk, void *entry);
static void person_done(struct ks_key_check *chk, void *entry);
static const char *approve_check(const char *s, char *buf, size_t cap);
static const char *remedy_check(const char *name, size_t name_len, const char *value,
                                size_t value_len);

#define ENTRIES(arr, n)                                                                            \
    .array = offsetof(struct ks_config, arr), .count = offsetof(struct ks_config, n)

/* A channel entry starts as a copy of the thresholds under `detectors` and
 * `contain` (channel_defaults), which the channel-scoped keys there set. */
static const struct ks_key_struct channel_entry = {
    .size = sizeof(struct ks_channel_cfg),
    ENTRIES(channels, nchannels),
    .name = offsetof(struct ks_channel_cfg, name),
    .defaults = offsetof(struct ks_config, channel_defaults),
    .done = channel_done,
};
static const struct ks_key_struct system_entry = {
    .size = sizeof(struct ks_system_cfg),
    ENTRIES(systems, nsystems),
    .name = offsetof(struct ks_system_cfg, name),
    .defaults = offsetof(struct ks_config, system_defaults),
};
static const struct ks_key_struct metric_entry = {
    .size = sizeof(struct ks_metric_rule),
    ENTRIES(metrics, nmetrics),
    .name = KS_KEY_NONE,
    .defaults = KS_KEY_NONE,
    .done = metric_done,
};
static const struct ks_key_struct role_entry = {
    .size = sizeof(struct ks_role),
    ENTRIES(roles, nroles),
    .name = offsetof(struct ks_role, name),
    .defaults = KS_KEY_NONE,
};
static const struct ks_key_struct person_entry = {
    .size = sizeof(struct ks_person),
    ENTRIES(people, npeople),
    .name = offsetof(struct ks_person, name),
    .defaults = KS_KEY_NONE,
    .done = person_done,
};

/* Metric labels are KS_KEY_STRMAP pairs. */
/* A role's remedy limits are KS_KEY_STRMAP pairs. */
_Static_assert(sizeof(struct ks_remedy_limit) == sizeof(struct ks_key_pair) &&
                   offsetof(struct ks_remedy_limit, name) == offsetof(struct ks_key_pair, name) &&
                   offsetof(struct ks_remedy_limit, value) == offsetof(struct ks_key_pair, value),
               "a remedy limit is a key pair");
_Static_assert(sizeof(struct ks_metric_label) == sizeof(struct ks_key_pair) &&
                   offsetof(struct ks_metric_label, key) == offsetof(struct ks_key_pair, name) &&
                   offsetof(struct ks_metric_label, val) == offsetof(struct ks_key_pair, value),
               "a metric label is a key pair");

#define AT(b, type, field) .base = (b), .off = offsetof(type, field)
#define CFG(f) AT(NULL, struct ks_config, f)
#define CHAN(f) AT(&channel_entry, struct ks_channel_cfg, f)
#define SYS(f) AT(&system_entry, struct ks_system_cfg, f)
#define RULE(f) AT(&metric_entry, struct ks_metric_rule, f)
#define ROLE(f) AT(&role_entry, struct ks_role, f)
#define PERSON(f) AT(&person_entry, struct ks_person, f)
#define SLA_ACK(sev)                                                                               \
    .base = NULL, .off = offsetof(struct ks_config, sla_ack) + (sev) * sizeof(ks_time)

/* The longest ts_horizon: 10,000 years, longer than the distance between any
 * two timestamps (years 0000 to 9999), so that it can switch the check off. */
#define MAX_HORIZON (3652500.0 * KS_DAY)

static const struct ks_key sync_keys[] = {
    {.name = "interval",
     .type = KS_KEY_DURATION,
     CHAN(sync_interval),
     .def = "15m",
     .flags = KS_KEY_POSITIVE,
     .help = "Expected interval between two `ok` syncs of a channel."},
    {.name = "multiplier",
     .type = KS_KEY_NUMBER,
     CHAN(sync_multiplier),
     .def = "2",
     .min = 1,
     .help = "A channel is stale after no `ok` sync for more than multiplier x interval, "
             "counted from its last `ok` sync."},
    {.name = "escalate_after",
     .type = KS_KEY_DURATION,
     CHAN(sync_escalate),
     .def = "1h",
     .help = "A stale-channel incident still unresolved and still stale this long after "
             "detection rises from P3 to P2."},
    {.name = NULL} /* end */
};

static const struct ks_key volume_keys[] = {
    {.name = "drop_pct",
     .type = KS_KEY_PERCENT,
     CHAN(volume_drop_pct),
     .def = "50",
     .help = "Fires when the channel's inventory events in the last window are fewer than this "
             "percentage of its average count per window."},
    {.name = "window",
     .type = KS_KEY_DURATION,
     CHAN(volume_window),
     .def = "60m",
     .flags = KS_KEY_POSITIVE,
     .help = "The recent window whose events are counted, ending at a whole UTC minute."},
    {.name = "baseline",
     .type = KS_KEY_DURATION,
     CHAN(volume_baseline),
     .def = "7d",
     .flags = KS_KEY_POSITIVE,
     .help = "The history the average is taken over (it also caps the hours of history "
             "divided by)."},
    {.name = "min_history",
     .type = KS_KEY_DURATION,
     CHAN(volume_min_history),
     .def = "24h",
     .help = "History needed since the channel's first inventory event before it can fire."},
    {.name = NULL} /* end */
};

static const struct ks_key shift_keys[] = {
    {.name = "skus_pct",
     .type = KS_KEY_PERCENT,
     CHAN(shift_skus_pct),
     .def = "20",
     .help = "Fires when one update changes more than this percentage of the channel's known "
             "SKUs ..."},
    {.name = "change_pct",
     .type = KS_KEY_PERCENT,
     CHAN(shift_change_pct),
     .def = "50",
     .help = "... each by more than this percentage of its old quantity (old taken as at "
             "least 1)."},
    {.name = "min_known",
     .type = KS_KEY_INT,
     CHAN(shift_min_known),
     .def = "20",
     .min = 1,
     .help = "Known SKUs the channel needs before the update for the detector to judge it."},
    {.name = NULL} /* end */
};

static const struct ks_key zero_keys[] = {
    {.name = "skus_pct",
     .type = KS_KEY_PERCENT,
     CHAN(zero_skus_pct),
     .def = "10",
     .help = "Fires when one update takes more than this percentage of the channel's active "
             "SKUs (qty > 0) to zero."},
    {.name = "min_active",
     .type = KS_KEY_INT,
     CHAN(zero_min_active),
     .def = "20",
     .min = 1,
     .help = "Active SKUs the channel needs before the update for the detector to judge it."},
    {.name = NULL} /* end */
};

static const struct ks_key rej_keys[] = {
    {.name = "window",
     .type = KS_KEY_DURATION,
     CFG(rej_window),
     .def = "60m",
     .flags = KS_KEY_POSITIVE,
     .help = "Orders counted: those accepted or rejected in this window up to each order."},
    {.name = "pct",
     .type = KS_KEY_PERCENT,
     CFG(rej_pct),
     .def = "5",
     .help = "Fires when more than this percentage of them are rejected ..."},
    {.name = "min_orders",
     .type = KS_KEY_INT,
     CFG(rej_min_orders),
     .def = "20",
     .min = 1,
     .help = "... with at least this many orders in the window."},
    {.name = NULL} /* end */
};

static const struct ks_key sysdown_keys[] = {
    {.name = "after",
     .type = KS_KEY_DURATION,
     SYS(down_after),
     .def = "5m",
     .flags = KS_KEY_POSITIVE,
     .help = "Fires when a known system (and location) has had no `up` check for more than "
             "this, counted from its last `up` (or its first check if it was never up)."},
    {.name = "escalate_after",
     .type = KS_KEY_DURATION,
     SYS(escalate),
     .def = "15m",
     .help = "An outage still unresolved and still down this long after detection rises from "
             "P2 to P1."},
    {.name = "group_within",
     .type = KS_KEY_DURATION,
     SYS(group_within),
     .def = "5m",
     .help = "A location that goes down joins an open outage of the same system detected at "
             "most this long before."},
    {.name = NULL} /* end */
};

static const struct ks_key supplier_keys[] = {
    {.name = "p2_shortage_pct",
     .type = KS_KEY_PERCENT,
     CFG(supplier_p2_pct),
     .def = "20",
     .help = "A purchase order short by at least this percentage of its expected sellable "
             "units is P2; a smaller shortage is P3."},
    {.name = "damaged_pct",
     .type = KS_KEY_PERCENT,
     CFG(supplier_damaged_pct),
     .def = "50",
     .help = "Damaged units at or above this percentage of the received ones make it P2."},
    {.name = NULL} /* end */
};

static const struct ks_key complaint_keys[] = {
    {.name = "window",
     .type = KS_KEY_DURATION,
     CFG(complaint_window),
     .def = "24h",
     .flags = KS_KEY_POSITIVE,
     .help = "Complaints counted: those in this window up to each one."},
    {.name = "count",
     .type = KS_KEY_INT,
     CFG(complaint_count),
     .def = "10",
     .min = 1,
     .help = "Fires at this many complaints with the same `reason` and `sku` in the window."},
    {.name = NULL} /* end */
};

static const struct ks_key feed_keys[] = {
    {.name = "window",
     .type = KS_KEY_DURATION,
     CFG(feed_window),
     .def = "10m",
     .flags = KS_KEY_POSITIVE,
     .help = "Lines counted: a source's lines, accepted or rejected, in this window."},
    {.name = "min_lines",
     .type = KS_KEY_INT,
     CFG(feed_min_lines),
     .def = "100",
     .min = 1,
     .help = "Lines the source needs in the window for the detector to judge it."},
    {.name = "pct",
     .type = KS_KEY_PERCENT,
     CFG(feed_pct),
     .def = "5",
     .help = "Fires when more than this percentage of them were rejected."},
    {.name = NULL} /* end */
};

static const struct ks_key detector_keys[] = {
    {.name = "sync_freshness",
     .type = KS_KEY_SECTION,
     .sub = sync_keys,
     .help = "A channel without `ok` syncs: P3 `sync_failure`, escalating to P2."},
    {.name = "volume_drop",
     .type = KS_KEY_SECTION,
     .sub = volume_keys,
     .help = "A channel's inventory events fall well below their usual rate: P3 `volume_drop`."},
    {.name = "distribution_shift",
     .type = KS_KEY_SECTION,
     .sub = shift_keys,
     .help = "One update changes many quantities a lot: P2 `data_corruption`."},
    {.name = "zero_spike",
     .type = KS_KEY_SECTION,
     .sub = zero_keys,
     .help = "One update takes many active SKUs to zero: P1 `data_corruption`."},
    {.name = "order_rejections",
     .type = KS_KEY_SECTION,
     .sub = rej_keys,
     .help = "Too many orders rejected: P2 `order_rejections`."},
    {.name = "system_down",
     .type = KS_KEY_SECTION,
     .sub = sysdown_keys,
     .help = "A system (WMS, OMS, ...) without `up` health checks: P2 `system_outage`, "
             "escalating to P1."},
    {.name = "supplier_shortfall",
     .type = KS_KEY_SECTION,
     .sub = supplier_keys,
     .help = "A purchase order received short, wrong or damaged: P3 or P2 "
             "`supplier_shortfall`."},
    {.name = "complaint_spike",
     .type = KS_KEY_SECTION,
     .sub = complaint_keys,
     .help = "Many complaints with the same reason about the same SKU: P3 "
             "`fulfillment_error`."},
    {.name = "feed_rejects",
     .type = KS_KEY_SECTION,
     .sub = feed_keys,
     .help = "A source sends many lines that are rejected: P2 `feed_schema_change`."},
    {.name = NULL} /* end */
};

static const struct ks_key contain_keys[] = {
    {.name = "low_stock",
     .type = KS_KEY_INT,
     CHAN(low_stock),
     .def = "5",
     .min = 0,
     .help = "SKUs with qty at or below this are zeroed on a stale channel (sync pipeline "
             "playbook)."},
    {.name = NULL} /* end */
};

static const struct ks_key channel_keys[] = {
    {.name = "sync_interval",
     .type = KS_KEY_DURATION,
     CHAN(sync_interval),
     .flags = KS_KEY_POSITIVE,
     .from = "detectors.sync_freshness.interval",
     .help = "Shorthand for `sync_freshness.interval` (set one of the two)."},
    {.name = "low_stock",
     .type = KS_KEY_INT,
     CHAN(low_stock),
     .min = 0,
     .from = "contain.low_stock",
     .help = "Low-stock level of this channel."},
    {.name = "sync_freshness",
     .type = KS_KEY_SECTION,
     .sub = sync_keys,
     .help = "Overrides of `detectors.sync_freshness` for this channel."},
    {.name = "volume_drop",
     .type = KS_KEY_SECTION,
     .sub = volume_keys,
     .help = "Overrides of `detectors.volume_drop` for this channel."},
    {.name = "distribution_shift",
     .type = KS_KEY_SECTION,
     .sub = shift_keys,
     .help = "Overrides of `detectors.distribution_shift` for this channel."},
    {.name = "zero_spike",
     .type = KS_KEY_SECTION,
     .sub = zero_keys,
     .help = "Overrides of `detectors.zero_spike` for this channel."},
    {.name = NULL} /* end */
};

static const struct ks_key system_keys[] = {
    {.name = "down_after",
     .type = KS_KEY_DURATION,
     SYS(down_after),
     .flags = KS_KEY_POSITIVE,
     .from = "detectors.system_down.after",
     .help = "Down after no `up` check for more than this."},
    {.name = "escalate_after",
     .type = KS_KEY_DURATION,
     SYS(escalate),
     .from = "detectors.system_down.escalate_after",
     .help = "P2 -> P1 after this."},
    {.name = "group_within",
     .type = KS_KEY_DURATION,
     SYS(group_within),
     .from = "detectors.system_down.group_within",
     .help = "A location joins an outage of this system detected at most this long before."},
    {.name = NULL} /* end */
};

static const struct ks_key metric_keys[] = {
    {.name = "name",
     .type = KS_KEY_STRING,
     RULE(name),
     .flags = KS_KEY_REQUIRED,
     .help = "The rule's name, unique; used in incident titles and fingerprints."},
    {.name = "metric",
     .type = KS_KEY_STRING,
     RULE(metric),
     .flags = KS_KEY_REQUIRED,
     .help = "The `name` of the `metric` events the rule watches."},
    {.name = "labels",
     .type = KS_KEY_STRMAP,
     RULE(labels),
     .off2 = offsetof(struct ks_metric_rule, nlabels),
     .bad_value = "a label value must be a string",
     .help = "Labels a sample must carry (all of them, with these values; others may be "
             "present)."},
    {.name = "above",
     .type = KS_KEY_NUMBER,
     RULE(threshold),
     .flags = KS_KEY_SIGNED,
     .tag = KS_METRIC_ABOVE + 1,
     .help = "Fires when a sample's value is above this."},
    {.name = "below",
     .type = KS_KEY_NUMBER,
     RULE(threshold),
     .flags = KS_KEY_SIGNED,
     .tag = KS_METRIC_BELOW + 1,
     .help = "Fires when a sample's value is below this."},
    {.name = "drop_pct",
     .type = KS_KEY_PERCENT,
     RULE(threshold),
     .tag = KS_METRIC_DROP_PCT + 1,
     .help = "Fires when a sample is more than this percentage below the baseline's mean."},
    {.name = "rise_pct",
     .type = KS_KEY_NUMBER,
     RULE(threshold),
     .tag = KS_METRIC_RISE_PCT + 1,
     .help = "Fires when a sample is more than this percentage above the baseline's mean "
             "(may exceed 100)."},
    {.name = "baseline",
     .type = KS_KEY_DURATION,
     RULE(baseline),
     .def = "7d",
     .flags = KS_KEY_POSITIVE,
     .help = "The trailing window of samples whose mean is the baseline (`drop_pct`, "
             "`rise_pct`)."},
    {.name = "min_samples",
     .type = KS_KEY_INT,
     RULE(min_samples),
     .def = "3",
     .min = 1,
     .help = "Samples the baseline needs before the rule can fire."},
    {.name = "severity",
     .type = KS_KEY_SEVERITY,
     RULE(severity),
     .def = "P3",
     .help = "Severity of the `metric_anomaly` incident."},
    {.name = NULL} /* end */
};

static const struct ks_key ack_keys[] = {
    {.name = "P1",
     .type = KS_KEY_DURATION,
     SLA_ACK(KS_P1),
     .def = "15m",
     .flags = KS_KEY_POSITIVE,
     .help = "Acknowledge a P1 incident within this."},
    {.name = "P2",
     .type = KS_KEY_DURATION,
     SLA_ACK(KS_P2),
     .def = "1h",
     .flags = KS_KEY_POSITIVE,
     .help = "Acknowledge a P2 incident within this."},
    {.name = "P3",
     .type = KS_KEY_DURATION,
     SLA_ACK(KS_P3),
     .def = "4h",
     .flags = KS_KEY_POSITIVE,
     .help = "Acknowledge a P3 incident within this."},
    {.name = NULL} /* end */
};

static const struct ks_key sla_keys[] = {
    {.name = "ack",
     .type = KS_KEY_SECTION,
     .sub = ack_keys,
     .help = "Time to acknowledge, per severity."},
    {.name = "resolve_p3",
     .type = KS_KEY_DURATION,
     CFG(sla_resolve_p3),
     .def = "24h",
     .flags = KS_KEY_POSITIVE,
     .help = "Resolve a P3 incident within this."},
    {.name = "review_due",
     .type = KS_KEY_DURATION,
     CFG(review_due),
     .def = "48h",
     .flags = KS_KEY_POSITIVE,
     .help = "A post-incident review of a P1 or P2 incident is due this long after resolution."},
    {.name = "repeat_window",
     .type = KS_KEY_DURATION,
     CFG(repeat_window),
     .def = "30d",
     .help = "An incident repeats one of the same fingerprint family resolved within this."},
    {.name = NULL} /* end */
};

static const struct ks_key assess_inventory_keys[] = {
    {.name = "customers",
     .type = KS_KEY_INT,
     CFG(assess_inventory_customers),
     .def = "100",
     .min = 0,
     .help = "More affected customers than this."},
    {.name = "revenue",
     .type = KS_KEY_NUMBER,
     CFG(assess_inventory_revenue),
     .def = "5000",
     .help = "More revenue impact than this (in `currency`)."},
    {.name = NULL} /* end */
};

static const struct ks_key assess_fulfillment_keys[] = {
    {.name = "customers",
     .type = KS_KEY_INT,
     CFG(assess_fulfillment_customers),
     .def = "50",
     .min = 0,
     .help = "More affected customers than this."},
    {.name = "revenue",
     .type = KS_KEY_NUMBER,
     CFG(assess_fulfillment_revenue),
     .def = "2000",
     .help = "More revenue impact than this."},
    {.name = NULL} /* end */
};

static const struct ks_key assess_system_keys[] = {
    {.name = "duration",
     .type = KS_KEY_DURATION,
     CFG(assess_system_duration),
     .def = "2h",
     .help = "Down longer than this."},
    {.name = "revenue",
     .type = KS_KEY_NUMBER,
     CFG(assess_system_revenue),
     .def = "10000",
     .help = "More revenue impact than this."},
    {.name = NULL} /* end */
};

static const struct ks_key assess_supplier_keys[] = {
    {.name = "delay",
     .type = KS_KEY_DURATION,
     CFG(assess_supplier_delay),
     .def = "7d",
     .help = "A receipt later than its due time by more than this."},
    {.name = "revenue",
     .type = KS_KEY_NUMBER,
     CFG(assess_supplier_value),
     .def = "20000",
     .help = "Missing sellable units x `unit_cost` worth more than this."},
    {.name = NULL} /* end */
};

static const struct ks_key assess_keys[] = {
    {.name = "inventory",
     .type = KS_KEY_SECTION,
     .sub = assess_inventory_keys,
     .help = "Inventory errors: `data_corruption`, `sync_failure`, `volume_drop`."},
    {.name = "fulfillment",
     .type = KS_KEY_SECTION,
     .sub = assess_fulfillment_keys,
     .help = "Fulfillment errors: `fulfillment_error`."},
    {.name = "system",
     .type = KS_KEY_SECTION,
     .sub = assess_system_keys,
     .help = "System failures: `system_outage`, `order_rejections`."},
    {.name = "supplier",
     .type = KS_KEY_SECTION,
     .sub = assess_supplier_keys,
     .help = "Supplier problems: `supplier_shortfall`."},
    {.name = NULL} /* end */
};

static const struct ks_key role_keys[] = {
    {.name = "approve",
     .type = KS_KEY_STRLIST,
     ROLE(may_approve),
     .off2 = offsetof(struct ks_role, nmay),
     .check = approve_check,
     .help = "Names of the proposed actions this role may approve (`zero_channel`, "
             "`pause_listings`, `cancel_orders`, ...: see Actions below); `\"*\"` for all."},
    {.name = "hourly_rate",
     .type = KS_KEY_NUMBER,
     ROLE(hourly_rate),
     .help = "What an hour of this role's time costs (in `currency`), for the response cost of "
             "an incident; 0 or unset: `cost.hourly_rate`."},
    {.name = "remedies",
     .type = KS_KEY_STRMAP,
     ROLE(remedies),
     .off2 = offsetof(struct ks_role, nremedies),
     .check_pair = remedy_check,
     .bad_value = "a remedy's limit must be an amount, true or false",
     .type_name = "mapping: remedy to an amount, true or false",
     .help = "What this role may grant of each remedy of the service-recovery policy "
             "(`refund`, `store_credit`, `replacement`, `expedited_shipping`, `discount_code`, "
             "`cancel_with_refund`; `\"*\"` for every one not named): an amount in `currency` "
             "(granted at once up to it, above it a grant waits for someone whose limit covers "
             "it), `true` for any amount, `false` or absent for not allowed "
             "(docs/REMEDIES.md)."},
    {.name = NULL} /* end */
};

static const struct ks_key person_keys[] = {
    {.name = "role",
     .type = KS_KEY_STRING,
     PERSON(role),
     .flags = KS_KEY_REQUIRED,
     .help = "One of the roles defined under `roles`."},
    {.name = "email",
     .type = KS_KEY_STRING,
     PERSON(email),
     .check = ks_comms_email_check,
     .type_name = "e-mail address",
     .help = "Where e-mail receivers (`receivers:` with `smtp`) reach this person: one plain "
             "address `name@domain` (no display name, white space, control character or any of "
             "`< > , ; : \" ( ) [ ] \\`; at most 254 bytes)."},
    {.name = "team",
     .type = KS_KEY_STRING,
     PERSON(team),
     .check = ks_comms_team_check,
     .type_name = "team function",
     .help = "The person's function in incidents: `operations` (the incident commander), "
             "`customer_success`, `it`, `finance` (the core team, told of every P1), `pr`, "
             "`legal`, `leadership`, `supplier_relations` (the extended team, told by rule: "
             "docs/MESSAGES.md)."},
    {.name = NULL} /* end */
};

/* The engine's top-level keys; src/shell/keys.c places them among the
 * others. Detectors and contain are applied before the channels and systems
 * that start as copies of them, roles before the people who have them. */
const struct ks_key ks_engine_keys[] = {
    {.name = "detectors",
     .type = KS_KEY_SECTION,
     .sub = detector_keys,
     .help = "Thresholds of the built-in detectors (SPEC section 3). All comparisons are "
             "strict: a value exactly at a threshold does not fire."},
    {.name = "contain",
     .type = KS_KEY_SECTION,
     .sub = contain_keys,
     .help = "Containment settings (SPEC section 5)."},
    {.name = "channels",
     .type = KS_KEY_MAP,
     .sub = channel_keys,
     .entry = &channel_entry,
     .inherit = "detectors",
     .help = "Per-channel overrides, by channel name. An entry starts as a copy of the "
             "thresholds under `detectors` and `contain` and changes only the keys it names."},
    {.name = "systems",
     .type = KS_KEY_MAP,
     .sub = system_keys,
     .entry = &system_entry,
     .help = "Per-system overrides of `detectors.system_down`, by system name (`wms`, `oms`, "
             "...)."},
    {.name = "metrics",
     .type = KS_KEY_LIST,
     .sub = metric_keys,
     .entry = &metric_entry,
     .help = "Rules over `metric` events, each opening a `metric_anomaly` incident. A rule has "
             "exactly one of `above`, `below`, `drop_pct`, `rise_pct`."},
    {.name = "sla",
     .type = KS_KEY_SECTION,
     .sub = sla_keys,
     .help = "Response SLAs (SPEC section 4)."},
    {.name = "assessment",
     .type = KS_KEY_SECTION,
     .sub = assess_keys,
     .help = "The assessment matrix: impact above these raises an incident's severity one "
             "level and notifies leadership."},
    {.name = "dedup_retention",
     .type = KS_KEY_DURATION,
     CFG(dedup_retention),
     .def = "48h",
     .min = (double)KS_DAY,
     .help = "How long, in event time, an event `id` is remembered to drop duplicates (at "
             "least 24h): from the clock its event set when taken (docs/EVENTS.md)."},
    {.name = "ts_horizon",
     .type = KS_KEY_DURATION,
     CFG(ts_horizon),
     .def = "7d",
     .flags = KS_KEY_POSITIVE,
     .max = MAX_HORIZON,
     .help = "How far ahead of the clock (the largest `ts` taken so far) an event's `ts` may "
             "be. One further ahead is rejected as a dead letter and moves nothing: a far-future "
             "timestamp would otherwise fire every timer up to it and open incidents that never "
             "happened. The first event of an empty database sets the clock. At most 3652500d "
             "(10,000 years, every timestamp there is: no limit). `kintsugi serve` on the wall "
             "clock does not use it: there an event may be at most `--max-skew` (5m) ahead of "
             "the wall clock, and the dead letter names that limit."},
    {.name = "roles",
     .type = KS_KEY_MAP,
     .sub = role_keys,
     .entry = &role_entry,
     .help = "Roles, by name, and the proposed actions each may approve. None by default."},
    {.name = "people",
     .type = KS_KEY_MAP,
     .sub = person_keys,
     .entry = &person_entry,
     .help = "People, by name, and their role. None by default."},
    {.name = NULL} /* end */
};

/* ---- checks across the keys of one entry ------------------------------------------ */

/* A channel sets its sync interval once: sync_interval or sync_freshness.interval. */
static void channel_done(struct ks_key_check *chk, void *entry)
{
    (void)entry;
    int line = ks_key_line(chk, "sync_interval", 0);
    if (line && ks_key_line(chk, "sync_freshness.interval", 0)) {
        ks_key_issue(chk, line, "sync_interval",
                     "sets the same value as \"sync_freshness.interval\"; keep one of them");
    }
}

/* The names of the rule keys that set its kind, "above, below, ...". */
static void kind_names(char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (const struct ks_key *k = metric_keys; k->name; k++) {
        if (k->tag && o < cap) {
            o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? ", " : "", k->name);
        }
    }
}

struct kinds {
    struct ks_metric_rule *rule;
    const struct ks_key *first; /* the first kind key set, in file order */
    char names[96];
};

static void kind_key(struct ks_key_check *chk, void *arg, const struct ks_key *k, int line)
{
    struct kinds *x = arg;
    if (!k || !k->tag) {
        return;
    }
    if (!x->first) {
        x->first = k;
        x->rule->kind = (enum ks_metric_kind)(k->tag - 1);
    } else if (k != x->first) {
        ks_key_issue(chk, line, k->name, "conflicts with \"%s\": a rule has exactly one of %s",
                     x->first->name, x->names);
    }
}

/* A rule has exactly one kind key and a name of its own. */
static void metric_done(struct ks_key_check *chk, void *entry)
{
    struct ks_metric_rule *r = entry;
    if (ks_key_entry_kind(chk) != 1) {
        return;
    }
    struct kinds x = {r, NULL, ""};
    kind_names(x.names, sizeof(x.names));
    ks_key_each_set(chk, kind_key, &x);
    if (!x.first) {
        ks_key_issue(chk, ks_key_entry_line(chk), NULL, "needs exactly one of %s", x.names);
    }
    const struct ks_config *cfg = ks_key_config(chk);
    for (size_t i = 0; r->name && i + 1 < cfg->nmetrics; i++) {
        if (cfg->metrics[i].name && !strcmp(cfg->metrics[i].name, r->name)) {
            ks_key_issue(chk, ks_key_line(chk, "name", 1), "name",
                         "duplicate rule name \"%s\" (also metrics[%zu])", r->name, i);
            break;
        }
    }
}

/* A person's role is one defined under `roles` (applied before people). */
static void person_done(struct ks_key_check *chk, void *entry)
{
    const struct ks_person *p = entry;
    if (!p->role) {
        return; /* missing: already reported as required */
    }
    const struct ks_config *cfg = ks_key_config(chk);
    const char *names[32] = {0};
    size_t count = 0;
    struct ks_buf all = {0};
    for (size_t i = 0; i < cfg->nroles; i++) {
        if (!strcmp(cfg->roles[i].name, p->role)) {
            ks_buf_fini(&all);
            return;
        }
        if (count < 32) {
            names[count++] = cfg->roles[i].name;
        }
        ks_buf_printf(&all, "%s%s", all.len ? ", " : "", cfg->roles[i].name);
    }
    int line = ks_key_line(chk, "role", 1);
    const char *near = ks_key_closest(p->role, strlen(p->role), names, count);
    if (near) {
        ks_key_issue(chk, line, "role", "unknown role \"%s\" (did you mean \"%s\"?)", p->role,
                     near);
    } else if (count) {
        ks_key_issue(chk, line, "role", "unknown role \"%s\" (roles are: %s)", p->role, all.p);
    } else {
        ks_key_issue(chk, line, "role",
                     "unknown role \"%s\" (no roles are defined under \"roles\")", p->role);
    }
    ks_buf_fini(&all);
}

/* A role approves only known actions, or "*". */
static const char *approve_check(const char *s, char *buf, size_t cap)
{
    if (!strcmp(s, "*") || ks_action_known(s)) {
        return NULL;
    }
    char hint[400], w[96];
    ks_action_hint(s, strlen(s), hint, sizeof(hint));
    ks_key_quote(s, strlen(s), w, sizeof(w));
    snprintf(buf, cap, "unknown action %s (%s)", w, hint);
    return buf;
}

/* A remedy limit: a known remedy (or "*") and an amount >= 0, true or false.
 * The messages are constant: the loader names the key (the remedy) itself. */
static const char *remedy_check(const char *name, size_t name_len, const char *value,
                                size_t value_len)
{
    if (strlen(name) != name_len || (strcmp(name, "*") != 0 && !ks_remedy_known(name))) {
        return "unknown remedy (remedies are: refund, store_credit, replacement, "
               "expedited_shipping, discount_code, cancel_with_refund, or \"*\" for all)";
    }
    if (strlen(value) == value_len && (!strcmp(value, "true") || !strcmp(value, "false"))) {
        return NULL;
    }
    char *end = NULL;
    double v = strlen(value) == value_len && value_len ? strtod(value, &end) : -1;
    if (!end || *end || !(v >= 0) || v > 1e12) {
        return "a remedy's limit must be an amount >= 0 (in currency), true or false";
    }
    return NULL;
}
