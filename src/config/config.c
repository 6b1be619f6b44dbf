/*
 * config.c - kintsugi.yaml: the key tables, and everything derived from them:
 * the defaults, the loader, the checker's messages and the Markdown reference.
 *
 * Every key is declared once, in a table of struct key (name, type, where its
 * value lives, default as text, help), like Fluent Bit's config maps. A table
 * is an array ended by an entry without a name; sections, named maps
 * (channels, systems, roles, people, hooks) and lists (metrics) point to the
 * table of what they contain. The file is read with libyaml's document API, so the
 * whole tree is known before anything is applied: keys are applied in table
 * order, not file order, which is what makes `detectors:` reach the
 * per-channel entries wherever `channels:` stands in the file.
 *
 * Errors are collected, never fatal to the walk: ks_config_check reports all
 * of them, ks_config_load the first (in line order) and keeps the defaults.
 */
#include "config.h"
#include "../contain/hook.h"
#include "config_int.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- the key tables ------------------------------------------------------ */

enum ktype {
    K_DURATION, /* ks_time: "30s", "15m", "2h", "7d", bare seconds */
    K_PERCENT,  /* double, 0..100, an optional trailing '%' */
    K_INT,      /* int >= min (and <= max when max is not 0) */
    K_NUMBER,   /* double >= min (or > min with F_POSITIVE; any with F_SIGNED) */
    K_STRING,   /* char *, never empty */
    K_SEVERITY, /* enum ks_severity from "P1".."P3" */
    K_SECTION,  /* a mapping of the keys in sub */
    K_MAP,      /* a mapping of names, each a mapping of the keys in sub */
    K_LIST,     /* a sequence of mappings of the keys in sub */
    K_STRLIST,  /* a sequence of strings: char ** at off, size_t count at off2 */
    K_STRMAP    /* a mapping of strings: struct ks_metric_label * at off, count at off2 */
};

/* The struct a key's offset is relative to. */
enum kbase { B_CONFIG, B_CHANNEL, B_SYSTEM, B_METRIC, B_ROLE, B_PERSON, B_HOOK, B_NBASES };

#define F_REQUIRED 1u /* an entry without it is an error */
#define F_POSITIVE 2u /* strictly greater than min */
#define F_SIGNED 4u   /* K_NUMBER: any finite number */
#define F_CURRENCY 8u /* K_STRING: three capital letters */
#define F_URL 16u     /* K_STRING: an http:// or https:// URL (ks_hook_url_problem) */

struct key {
    const char *name;
    enum ktype type;
    enum kbase base;
    size_t off;       /* offset of the value in the base struct */
    size_t off2;      /* K_STRLIST, K_STRMAP: offset of the size_t count */
    const char *def;  /* the default, as it would be written in the file */
    const char *from; /* under channels/systems: the key whose value is inherited */
    double min;       /* lowest value (durations in ms) */
    double max;       /* K_INT: highest value; K_DURATION: longest (ms, else
                       * MAX_DURATION); when not 0 */
    unsigned flags;
    int tag;               /* metric rules: kind + 1 of a threshold key */
    const struct key *sub; /* K_SECTION, K_MAP, K_LIST */
    enum kbase entry;      /* K_MAP, K_LIST: what one entry is */
    const char *inherit;   /* K_MAP: where the unnamed keys of an entry inherit from */
    const char *help;
};

#define AT(b, type, field) .base = (b), .off = offsetof(type, field)
#define CFG(f) AT(B_CONFIG, struct ks_config, f)
#define CHAN(f) AT(B_CHANNEL, struct ks_channel_cfg, f)
#define SYS(f) AT(B_SYSTEM, struct ks_system_cfg, f)
#define RULE(f) AT(B_METRIC, struct ks_metric_rule, f)
#define HOOK(f) AT(B_HOOK, struct ks_hook_cfg, f)
#define SLA_ACK(sev)                                                                               \
    .base = B_CONFIG, .off = offsetof(struct ks_config, sla_ack) + (sev) * sizeof(ks_time)

/* The longest ts_horizon: 10,000 years, longer than the distance between any
 * two timestamps (years 0000 to 9999), so that it can switch the check off. */
#define MAX_HORIZON (3652500.0 * KS_DAY)

/* The one string default; ks_config_defaults borrows it instead of copying,
 * so that the defaults own no memory. */
static const char default_currency[] = "USD";

static const struct key sync_keys[] = {
    {.name = "interval",
     .type = K_DURATION,
     CHAN(sync_interval),
     .def = "15m",
     .flags = F_POSITIVE,
     .help = "Expected interval between two `ok` syncs of a channel."},
    {.name = "multiplier",
     .type = K_NUMBER,
     CHAN(sync_multiplier),
     .def = "2",
     .min = 1,
     .help = "A channel is stale after no `ok` sync for more than multiplier x interval, "
             "counted from its last `ok` sync."},
    {.name = "escalate_after",
     .type = K_DURATION,
     CHAN(sync_escalate),
     .def = "1h",
     .help = "A stale-channel incident still unresolved and still stale this long after "
             "detection rises from P3 to P2."},
    {.name = NULL} /* end */
};

static const struct key volume_keys[] = {
    {.name = "drop_pct",
     .type = K_PERCENT,
     CHAN(volume_drop_pct),
     .def = "50",
     .help = "Fires when the channel's inventory events in the last window are fewer than this "
             "percentage of its average count per window."},
    {.name = "window",
     .type = K_DURATION,
     CHAN(volume_window),
     .def = "60m",
     .flags = F_POSITIVE,
     .help = "The recent window whose events are counted, ending at a whole UTC minute."},
    {.name = "baseline",
     .type = K_DURATION,
     CHAN(volume_baseline),
     .def = "7d",
     .flags = F_POSITIVE,
     .help = "The history the average is taken over (it also caps the hours of history "
             "divided by)."},
    {.name = "min_history",
     .type = K_DURATION,
     CHAN(volume_min_history),
     .def = "24h",
     .help = "History needed since the channel's first inventory event before it can fire."},
    {.name = NULL} /* end */
};

static const struct key shift_keys[] = {
    {.name = "skus_pct",
     .type = K_PERCENT,
     CHAN(shift_skus_pct),
     .def = "20",
     .help = "Fires when one update changes more than this percentage of the channel's known "
             "SKUs ..."},
    {.name = "change_pct",
     .type = K_PERCENT,
     CHAN(shift_change_pct),
     .def = "50",
     .help = "... each by more than this percentage of its old quantity (old taken as at "
             "least 1)."},
    {.name = "min_known",
     .type = K_INT,
     CHAN(shift_min_known),
     .def = "20",
     .min = 1,
     .help = "Known SKUs the channel needs before the update for the detector to judge it."},
    {.name = NULL} /* end */
};

static const struct key zero_keys[] = {
    {.name = "skus_pct",
     .type = K_PERCENT,
     CHAN(zero_skus_pct),
     .def = "10",
     .help = "Fires when one update takes more than this percentage of the channel's active "
             "SKUs (qty > 0) to zero."},
    {.name = "min_active",
     .type = K_INT,
     CHAN(zero_min_active),
     .def = "20",
     .min = 1,
     .help = "Active SKUs the channel needs before the update for the detector to judge it."},
    {.name = NULL} /* end */
};

static const struct key rej_keys[] = {
    {.name = "window",
     .type = K_DURATION,
     CFG(rej_window),
     .def = "60m",
     .flags = F_POSITIVE,
     .help = "Orders counted: those accepted or rejected in this window up to each order."},
    {.name = "pct",
     .type = K_PERCENT,
     CFG(rej_pct),
     .def = "5",
     .help = "Fires when more than this percentage of them are rejected ..."},
    {.name = "min_orders",
     .type = K_INT,
     CFG(rej_min_orders),
     .def = "20",
     .min = 1,
     .help = "... with at least this many orders in the window."},
    {.name = NULL} /* end */
};

static const struct key sysdown_keys[] = {
    {.name = "after",
     .type = K_DURATION,
     SYS(down_after),
     .def = "5m",
     .flags = F_POSITIVE,
     .help = "Fires when a known system (and location) has had no `up` check for more than "
             "this, counted from its last `up` (or its first check if it was never up)."},
    {.name = "escalate_after",
     .type = K_DURATION,
     SYS(escalate),
     .def = "15m",
     .help = "An outage still unresolved and still down this long after detection rises from "
             "P2 to P1."},
    {.name = "group_within",
     .type = K_DURATION,
     SYS(group_within),
     .def = "5m",
     .help = "A location that goes down joins an open outage of the same system detected at "
             "most this long before."},
    {.name = NULL} /* end */
};

static const struct key supplier_keys[] = {
    {.name = "p2_shortage_pct",
     .type = K_PERCENT,
     CFG(supplier_p2_pct),
     .def = "20",
     .help = "A purchase order short by at least this percentage of its expected sellable "
             "units is P2; a smaller shortage is P3."},
    {.name = "damaged_pct",
     .type = K_PERCENT,
     CFG(supplier_damaged_pct),
     .def = "50",
     .help = "Damaged units at or above this percentage of the received ones make it P2."},
    {.name = NULL} /* end */
};

static const struct key complaint_keys[] = {
    {.name = "window",
     .type = K_DURATION,
     CFG(complaint_window),
     .def = "24h",
     .flags = F_POSITIVE,
     .help = "Complaints counted: those in this window up to each one."},
    {.name = "count",
     .type = K_INT,
     CFG(complaint_count),
     .def = "10",
     .min = 1,
     .help = "Fires at this many complaints with the same `reason` and `sku` in the window."},
    {.name = NULL} /* end */
};

static const struct key feed_keys[] = {
    {.name = "window",
     .type = K_DURATION,
     CFG(feed_window),
     .def = "10m",
     .flags = F_POSITIVE,
     .help = "Lines counted: a source's lines, accepted or rejected, in this window."},
    {.name = "min_lines",
     .type = K_INT,
     CFG(feed_min_lines),
     .def = "100",
     .min = 1,
     .help = "Lines the source needs in the window for the detector to judge it."},
    {.name = "pct",
     .type = K_PERCENT,
     CFG(feed_pct),
     .def = "5",
     .help = "Fires when more than this percentage of them were rejected."},
    {.name = NULL} /* end */
};

static const struct key detector_keys[] = {
    {.name = "sync_freshness",
     .type = K_SECTION,
     .sub = sync_keys,
     .help = "A channel without `ok` syncs: P3 `sync_failure`, escalating to P2."},
    {.name = "volume_drop",
     .type = K_SECTION,
     .sub = volume_keys,
     .help = "A channel's inventory events fall well below their usual rate: P3 `volume_drop`."},
    {.name = "distribution_shift",
     .type = K_SECTION,
     .sub = shift_keys,
     .help = "One update changes many quantities a lot: P2 `data_corruption`."},
    {.name = "zero_spike",
     .type = K_SECTION,
     .sub = zero_keys,
     .help = "One update takes many active SKUs to zero: P1 `data_corruption`."},
    {.name = "order_rejections",
     .type = K_SECTION,
     .sub = rej_keys,
     .help = "Too many orders rejected: P2 `order_rejections`."},
    {.name = "system_down",
     .type = K_SECTION,
     .sub = sysdown_keys,
     .help = "A system (WMS, OMS, ...) without `up` health checks: P2 `system_outage`, "
             "escalating to P1."},
    {.name = "supplier_shortfall",
     .type = K_SECTION,
     .sub = supplier_keys,
     .help = "A purchase order received short, wrong or damaged: P3 or P2 "
             "`supplier_shortfall`."},
    {.name = "complaint_spike",
     .type = K_SECTION,
     .sub = complaint_keys,
     .help = "Many complaints with the same reason about the same SKU: P3 "
             "`fulfillment_error`."},
    {.name = "feed_rejects",
     .type = K_SECTION,
     .sub = feed_keys,
     .help = "A source sends many lines that are rejected: P2 `feed_schema_change`."},
    {.name = NULL} /* end */
};

static const struct key contain_keys[] = {
    {.name = "low_stock",
     .type = K_INT,
     CHAN(low_stock),
     .def = "5",
     .min = 0,
     .help = "SKUs with qty at or below this are zeroed on a stale channel (sync pipeline "
             "playbook)."},
    {.name = NULL} /* end */
};

/* One entry of channels: the channel-scoped detector sections, reused. */
static const struct key channel_keys[] = {
    {.name = "sync_interval",
     .type = K_DURATION,
     CHAN(sync_interval),
     .flags = F_POSITIVE,
     .from = "detectors.sync_freshness.interval",
     .help = "Shorthand for `sync_freshness.interval` (set one of the two)."},
    {.name = "low_stock",
     .type = K_INT,
     CHAN(low_stock),
     .min = 0,
     .from = "contain.low_stock",
     .help = "Low-stock level of this channel."},
    {.name = "sync_freshness",
     .type = K_SECTION,
     .sub = sync_keys,
     .help = "Overrides of `detectors.sync_freshness` for this channel."},
    {.name = "volume_drop",
     .type = K_SECTION,
     .sub = volume_keys,
     .help = "Overrides of `detectors.volume_drop` for this channel."},
    {.name = "distribution_shift",
     .type = K_SECTION,
     .sub = shift_keys,
     .help = "Overrides of `detectors.distribution_shift` for this channel."},
    {.name = "zero_spike",
     .type = K_SECTION,
     .sub = zero_keys,
     .help = "Overrides of `detectors.zero_spike` for this channel."},
    {.name = NULL} /* end */
};

static const struct key system_keys[] = {
    {.name = "down_after",
     .type = K_DURATION,
     SYS(down_after),
     .flags = F_POSITIVE,
     .from = "detectors.system_down.after",
     .help = "Down after no `up` check for more than this."},
    {.name = "escalate_after",
     .type = K_DURATION,
     SYS(escalate),
     .from = "detectors.system_down.escalate_after",
     .help = "P2 -> P1 after this."},
    {.name = "group_within",
     .type = K_DURATION,
     SYS(group_within),
     .from = "detectors.system_down.group_within",
     .help = "A location joins an outage of this system detected at most this long before."},
    {.name = NULL} /* end */
};

static const struct key metric_keys[] = {
    {.name = "name",
     .type = K_STRING,
     RULE(name),
     .flags = F_REQUIRED,
     .help = "The rule's name, unique; used in incident titles and fingerprints."},
    {.name = "metric",
     .type = K_STRING,
     RULE(metric),
     .flags = F_REQUIRED,
     .help = "The `name` of the `metric` events the rule watches."},
    {.name = "labels",
     .type = K_STRMAP,
     RULE(labels),
     .off2 = offsetof(struct ks_metric_rule, nlabels),
     .help = "Labels a sample must carry (all of them, with these values; others may be "
             "present)."},
    {.name = "above",
     .type = K_NUMBER,
     RULE(threshold),
     .flags = F_SIGNED,
     .tag = KS_METRIC_ABOVE + 1,
     .help = "Fires when a sample's value is above this."},
    {.name = "below",
     .type = K_NUMBER,
     RULE(threshold),
     .flags = F_SIGNED,
     .tag = KS_METRIC_BELOW + 1,
     .help = "Fires when a sample's value is below this."},
    {.name = "drop_pct",
     .type = K_PERCENT,
     RULE(threshold),
     .tag = KS_METRIC_DROP_PCT + 1,
     .help = "Fires when a sample is more than this percentage below the baseline's mean."},
    {.name = "rise_pct",
     .type = K_NUMBER,
     RULE(threshold),
     .tag = KS_METRIC_RISE_PCT + 1,
     .help = "Fires when a sample is more than this percentage above the baseline's mean "
             "(may exceed 100)."},
    {.name = "baseline",
     .type = K_DURATION,
     RULE(baseline),
     .def = "7d",
     .flags = F_POSITIVE,
     .help = "The trailing window of samples whose mean is the baseline (`drop_pct`, "
             "`rise_pct`)."},
    {.name = "min_samples",
     .type = K_INT,
     RULE(min_samples),
     .def = "3",
     .min = 1,
     .help = "Samples the baseline needs before the rule can fire."},
    {.name = "severity",
     .type = K_SEVERITY,
     RULE(severity),
     .def = "P3",
     .help = "Severity of the `metric_anomaly` incident."},
    {.name = NULL} /* end */
};

static const struct key ack_keys[] = {
    {.name = "P1",
     .type = K_DURATION,
     SLA_ACK(KS_P1),
     .def = "15m",
     .flags = F_POSITIVE,
     .help = "Acknowledge a P1 incident within this."},
    {.name = "P2",
     .type = K_DURATION,
     SLA_ACK(KS_P2),
     .def = "1h",
     .flags = F_POSITIVE,
     .help = "Acknowledge a P2 incident within this."},
    {.name = "P3",
     .type = K_DURATION,
     SLA_ACK(KS_P3),
     .def = "4h",
     .flags = F_POSITIVE,
     .help = "Acknowledge a P3 incident within this."},
    {.name = NULL} /* end */
};

static const struct key sla_keys[] = {
    {.name = "ack",
     .type = K_SECTION,
     .sub = ack_keys,
     .help = "Time to acknowledge, per severity."},
    {.name = "resolve_p3",
     .type = K_DURATION,
     CFG(sla_resolve_p3),
     .def = "24h",
     .flags = F_POSITIVE,
     .help = "Resolve a P3 incident within this."},
    {.name = "review_due",
     .type = K_DURATION,
     CFG(review_due),
     .def = "48h",
     .flags = F_POSITIVE,
     .help = "A post-incident review of a P1 or P2 incident is due this long after resolution."},
    {.name = "repeat_window",
     .type = K_DURATION,
     CFG(repeat_window),
     .def = "30d",
     .help = "An incident repeats one of the same fingerprint family resolved within this."},
    {.name = NULL} /* end */
};

static const struct key assess_inventory_keys[] = {
    {.name = "customers",
     .type = K_INT,
     CFG(assess_inventory_customers),
     .def = "100",
     .min = 0,
     .help = "More affected customers than this."},
    {.name = "revenue",
     .type = K_NUMBER,
     CFG(assess_inventory_revenue),
     .def = "5000",
     .help = "More revenue impact than this (in `currency`)."},
    {.name = NULL} /* end */
};

static const struct key assess_fulfillment_keys[] = {
    {.name = "customers",
     .type = K_INT,
     CFG(assess_fulfillment_customers),
     .def = "50",
     .min = 0,
     .help = "More affected customers than this."},
    {.name = "revenue",
     .type = K_NUMBER,
     CFG(assess_fulfillment_revenue),
     .def = "2000",
     .help = "More revenue impact than this."},
    {.name = NULL} /* end */
};

static const struct key assess_system_keys[] = {
    {.name = "duration",
     .type = K_DURATION,
     CFG(assess_system_duration),
     .def = "2h",
     .help = "Down longer than this."},
    {.name = "revenue",
     .type = K_NUMBER,
     CFG(assess_system_revenue),
     .def = "10000",
     .help = "More revenue impact than this."},
    {.name = NULL} /* end */
};

static const struct key assess_supplier_keys[] = {
    {.name = "delay",
     .type = K_DURATION,
     CFG(assess_supplier_delay),
     .def = "7d",
     .help = "A receipt later than its due time by more than this."},
    {.name = "revenue",
     .type = K_NUMBER,
     CFG(assess_supplier_value),
     .def = "20000",
     .help = "Missing sellable units x `unit_cost` worth more than this."},
    {.name = NULL} /* end */
};

static const struct key assess_keys[] = {
    {.name = "inventory",
     .type = K_SECTION,
     .sub = assess_inventory_keys,
     .help = "Inventory errors: `data_corruption`, `sync_failure`, `volume_drop`."},
    {.name = "fulfillment",
     .type = K_SECTION,
     .sub = assess_fulfillment_keys,
     .help = "Fulfillment errors: `fulfillment_error`."},
    {.name = "system",
     .type = K_SECTION,
     .sub = assess_system_keys,
     .help = "System failures: `system_outage`, `order_rejections`."},
    {.name = "supplier",
     .type = K_SECTION,
     .sub = assess_supplier_keys,
     .help = "Supplier problems: `supplier_shortfall`."},
    {.name = NULL} /* end */
};

/* The actions of SPEC section 5 that other systems carry out. */
const struct ks_action_name ks_action_names[] = {
    {"stop_order_import", "Stop importing new orders from the channels into the OMS."},
    {"resume_order_import", "Resume importing orders (and catch up on those held back)."},
    {"reroute_orders", "Route open orders away from a location to the ones still up."},
    {"extend_handling_time", "Lengthen the handling time the channels promise to buyers."},
    {"hold_orders", "Hold open orders in the OMS: do not release them to fulfillment."},
    {"reduce_channel_inventory", "Lower the quantities offered on the channels (a buffer)."},
    {"pause_listings", "Pause listings on a channel so that they take no orders."},
    {"zero_channel", "Set every quantity on a channel to zero."},
    {"cancel_orders", "Cancel the listed orders (oversold ones) and notify the buyers."},
    {"push_quantities", "Push the given quantities to a channel (restore, release)."},
    {"notify_supplier", "Tell a supplier about a shipment discrepancy or a reorder."},
    {NULL, NULL} /* end */
};

int ks_action_known(const char *name)
{
    for (const struct ks_action_name *a = ks_action_names; a->name; a++) {
        if (!strcmp(a->name, name)) {
            return 1;
        }
    }
    return 0;
}

static const struct key hook_keys[] = {
    {.name = "url",
     .type = K_STRING,
     HOOK(url),
     .flags = F_URL,
     .help = "A webhook: the JSON body is POSTed here (`http://` or `https://`). Set exactly "
             "one of `url` and `command`."},
    {.name = "command",
     .type = K_STRING,
     HOOK(command),
     .help = "A command, run with `/bin/sh -c`, the JSON body on its stdin; exit status 0 is "
             "success."},
    {.name = "retries",
     .type = K_INT,
     HOOK(retries),
     .def = "5",
     .min = 0,
     .max = 20,
     .help = "Further attempts after a failed one (5: at most 6 attempts in all)."},
    {.name = "backoff",
     .type = K_DURATION,
     HOOK(backoff),
     .def = "1s",
     .flags = F_POSITIVE,
     .help = "Wait before the first retry; each later retry waits twice the one before, at "
             "most 5m."},
    {.name = "timeout",
     .type = K_DURATION,
     HOOK(timeout),
     .def = "10s",
     .flags = F_POSITIVE,
     .help = "Limit of one attempt (connecting included); a command still running then is "
             "killed."},
    {.name = "headers",
     .type = K_STRMAP,
     HOOK(headers),
     .off2 = offsetof(struct ks_hook_cfg, nheaders),
     .help = "Extra HTTP request headers of a webhook (`Authorization: \"Bearer ...\"`)."},
    {.name = NULL} /* end */
};

static const struct key role_keys[] = {
    {.name = "approve",
     .type = K_STRLIST,
     AT(B_ROLE, struct ks_role, may_approve),
     .off2 = offsetof(struct ks_role, nmay),
     .help = "Names of the proposed actions this role may approve (`zero_channel`, "
             "`pause_listings`, `cancel_orders`, ...: see Actions below); `\"*\"` for all."},
    {.name = "hourly_rate",
     .type = K_NUMBER,
     AT(B_ROLE, struct ks_role, hourly_rate),
     .help = "What an hour of this role's time costs (in `currency`), for the response cost of "
             "an incident; 0 or unset: `cost.hourly_rate`."},
    {.name = NULL} /* end */
};

static const struct key review_keys[] = {
    {.name = "p3_monthly_sample",
     .type = K_INT,
     CFG(review_p3_sample),
     .def = "2",
     .min = 0,
     .help = "P3 incidents drawn for a post-incident review each calendar month (UTC): the "
             "first this many resolved in the month, in order of resolution. Their review is "
             "due `sla.review_due` after resolution, like P1 and P2."},
    {.name = "retention_window",
     .type = K_DURATION,
     CFG(retention_window),
     .def = "30d",
     .flags = F_POSITIVE,
     .help = "An affected customer is retained when they place an accepted order within this "
             "after the incident's resolution (the retention metric and the churn cost)."},
    {.name = NULL} /* end */
};

static const struct key cost_keys[] = {
    {.name = "hourly_rate",
     .type = K_NUMBER,
     CFG(cost_hourly_rate),
     .def = "50",
     .help = "What an hour of a person's time costs when their role has no `hourly_rate`."},
    {.name = "min_person_time",
     .type = K_DURATION,
     CFG(cost_min_person),
     .def = "30m",
     .help = "A person who acted on an incident is counted for at least this long."},
    {.name = "per_order",
     .type = K_NUMBER,
     CFG(cost_per_order),
     .def = "0",
     .help = "Shipping and handling cost of each affected order (direct cost)."},
    {.name = "per_unit",
     .type = K_NUMBER,
     CFG(cost_per_unit),
     .def = "0",
     .help = "Restocking cost of each affected unit (direct cost)."},
    {.name = "lifetime_value",
     .type = K_NUMBER,
     CFG(cost_lifetime_value),
     .def = "250",
     .help = "Lifetime value of a customer: what a customer who does not return costs."},
    {.name = "churn_rate",
     .type = K_PERCENT,
     CFG(cost_churn_pct),
     .def = "15",
     .help = "Share of affected customers expected not to return, used until "
             "`review.retention_window` has passed after resolution."},
    {.name = NULL} /* end */
};

static const struct key person_keys[] = {
    {.name = "role",
     .type = K_STRING,
     AT(B_PERSON, struct ks_person, role),
     .flags = F_REQUIRED,
     .help = "One of the roles defined under `roles`."},
    {.name = NULL} /* end */
};

/* The order of this table is the order sections are applied in: detectors and
 * contain before channels and systems, roles before people. */
static const struct key root_keys[] = {
    {.name = "currency",
     .type = K_STRING,
     CFG(currency),
     .def = default_currency,
     .flags = F_CURRENCY,
     .help = "ISO 4217 code of money amounts without their own currency (orders, thresholds)."},
    {.name = "detectors",
     .type = K_SECTION,
     .sub = detector_keys,
     .help = "Thresholds of the built-in detectors (SPEC section 3). All comparisons are "
             "strict: a value exactly at a threshold does not fire."},
    {.name = "contain",
     .type = K_SECTION,
     .sub = contain_keys,
     .help = "Containment settings (SPEC section 5)."},
    {.name = "hooks",
     .type = K_MAP,
     .sub = hook_keys,
     .entry = B_HOOK,
     .help = "How kintsugi asks other systems to act, by action name (see Actions below): a "
             "webhook or a command each, retried with backoff. None by default; "
             "docs/HOOKS.md describes what is sent."},
    {.name = "channels",
     .type = K_MAP,
     .sub = channel_keys,
     .entry = B_CHANNEL,
     .inherit = "detectors",
     .help = "Per-channel overrides, by channel name. An entry starts as a copy of the "
             "thresholds under `detectors` and `contain` and changes only the keys it names."},
    {.name = "systems",
     .type = K_MAP,
     .sub = system_keys,
     .entry = B_SYSTEM,
     .help = "Per-system overrides of `detectors.system_down`, by system name (`wms`, `oms`, "
             "...)."},
    {.name = "metrics",
     .type = K_LIST,
     .sub = metric_keys,
     .entry = B_METRIC,
     .help = "Rules over `metric` events, each opening a `metric_anomaly` incident. A rule has "
             "exactly one of `above`, `below`, `drop_pct`, `rise_pct`."},
    {.name = "sla", .type = K_SECTION, .sub = sla_keys, .help = "Response SLAs (SPEC section 4)."},
    {.name = "assessment",
     .type = K_SECTION,
     .sub = assess_keys,
     .help = "The assessment matrix: impact above these raises an incident's severity one "
             "level and notifies leadership."},
    {.name = "review",
     .type = K_SECTION,
     .sub = review_keys,
     .help = "Post-incident reviews and the recovery metrics (docs/REVIEWS.md)."},
    {.name = "cost",
     .type = K_SECTION,
     .sub = cost_keys,
     .help = "The cost of a mistake: direct, response, churn (docs/REVIEWS.md)."},
    {.name = "dedup_retention",
     .type = K_DURATION,
     CFG(dedup_retention),
     .def = "48h",
     .min = (double)KS_DAY,
     .help = "How long, in event time, an event `id` is remembered to drop duplicates (at "
             "least 24h): from the clock its event set when taken (docs/EVENTS.md)."},
    {.name = "ts_horizon",
     .type = K_DURATION,
     CFG(ts_horizon),
     .def = "7d",
     .flags = F_POSITIVE,
     .max = MAX_HORIZON,
     .help = "How far ahead of the clock (the largest `ts` taken so far) an event's `ts` may "
             "be. One further ahead is rejected as a dead letter and moves nothing: a far-future "
             "timestamp would otherwise fire every timer up to it and open incidents that never "
             "happened. The first event of an empty database sets the clock. At most 3652500d "
             "(10,000 years, every timestamp there is: no limit)."},
    {.name = "roles",
     .type = K_MAP,
     .sub = role_keys,
     .entry = B_ROLE,
     .help = "Roles, by name, and the proposed actions each may approve. None by default."},
    {.name = "people",
     .type = K_MAP,
     .sub = person_keys,
     .entry = B_PERSON,
     .help = "People, by name, and their role. None by default."},
    {.name = NULL} /* end */
};

/* ---- the walk's state ---------------------------------------------------- */

struct issue {
    int line;
    char *key;
    char *msg;
    size_t seq;
};

struct ctx {
    struct ks_config *cfg;
    void *cur[B_NBASES]; /* the struct each base currently refers to */
    yaml_document_t *doc;
    struct ks_buf path;    /* "channels.amazon.zero_spike" */
    struct ks_buf pattern; /* "channels.NAME.zero_spike" */
    struct issue *issues;
    size_t nissues, capissues;
    int key_line;          /* line of the key whose value is being applied */
    ks_config_key_fn seen; /* NULL, or told each leaf key set */
    void *seen_ctx;
};

/* A position in the key path, to return to. */
struct mark {
    size_t path, pattern;
};

static void buf_truncate(struct ks_buf *b, size_t len)
{
    b->len = len;
    if (b->p) {
        b->p[len] = 0;
    }
}

/* Appends a key to the path (".name") and to the pattern (".pat", or the
 * name itself when pat is NULL). Index segments ("[3]") take no dot. */
static struct mark push(struct ctx *c, const char *name, size_t n, const char *pat)
{
    struct mark m = {c->path.len, c->pattern.len};
    if (c->path.len && name[0] != '[') {
        ks_buf_putc(&c->path, '.');
    }
    ks_buf_put(&c->path, name, n);
    const char *p = pat ? pat : name;
    size_t pn = pat ? strlen(pat) : n;
    if (c->pattern.len && p[0] != '[') {
        ks_buf_putc(&c->pattern, '.');
    }
    ks_buf_put(&c->pattern, p, pn);
    return m;
}

static void pop(struct ctx *c, struct mark m)
{
    buf_truncate(&c->path, m.path);
    buf_truncate(&c->pattern, m.pattern);
}

static int line_of(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 0;
}

static void add_issue(struct ctx *c, int line, const char *key, const char *msg)
{
    KS_GROW(c->issues, c->capissues, c->nissues + 1);
    struct issue *is = &c->issues[c->nissues];
    is->line = line;
    is->key = key && *key ? ks_strdup(key) : NULL;
    is->msg = ks_strdup(msg);
    is->seq = c->nissues++;
}

/* Records a problem at node n (its line) for the current key path. */
static void issue(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void issue(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    add_issue(c, line_of(n), c->path.len ? c->path.p : NULL, msg);
}

static void tell_seen(struct ctx *c)
{
    if (c->seen) {
        c->seen(c->seen_ctx, c->pattern.p);
    }
}

/* ---- YAML nodes ------------------------------------------------------------ */

static yaml_node_t *node_at(struct ctx *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* An empty value: "key:" with nothing after it, "~" or "null". */
static int is_null(const yaml_node_t *n)
{
    if (!n || n->type == YAML_NO_NODE) {
        return 1;
    }
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return 0;
    }
    const char *s = scalar(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int scalar_is(const yaml_node_t *n, const char *s, size_t len)
{
    return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == len &&
           memcmp(n->data.scalar.value, s, len) == 0;
}

/* Writes s quoted for a message, escaped, cut after 60 bytes (or when out is
 * nearly full) with "...". cap must be at least 16. */
static void quote(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0, i = 0;
    out[o++] = '"';
    for (; i < n && i < 60 && o + 8 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    if (i < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = 0;
}

/* Describes what a node is, for "got ..." in messages. */
static void what(const yaml_node_t *n, char *out, size_t cap)
{
    if (!n || is_null(n)) {
        snprintf(out, cap, "nothing");
    } else if (n->type == YAML_MAPPING_NODE) {
        snprintf(out, cap, "a mapping");
    } else if (n->type == YAML_SEQUENCE_NODE) {
        snprintf(out, cap, "a list");
    } else {
        quote(scalar(n), n->data.scalar.length, out, cap);
    }
}

/* Records that node v is of the wrong kind. A block mapping or list starts
 * on the line after its key; the key's line is where the reader looks. */
static void wrong_kind(struct ctx *c, const yaml_node_t *v, const char *want)
{
    char w[96];
    what(v, w, sizeof(w));
    int line = line_of(v);
    if (v && (v->type == YAML_MAPPING_NODE || v->type == YAML_SEQUENCE_NODE) && c->key_line) {
        line = c->key_line;
    }
    char msg[400];
    snprintf(msg, sizeof(msg), "%s, got %s", want, w);
    add_issue(c, line, c->path.len ? c->path.p : NULL, msg);
}

/* ---- values ------------------------------------------------------------- */

static const char *dur_examples = "(like 30s, 15m, 2h, 7d)";
#define MAX_DURATION (3650.0 * KS_DAY)

/* "7d", "24h", "90m" for a whole number of days, hours or minutes. */
static void short_duration(double ms, char *out, size_t cap)
{
    long long v = (long long)ms;
    if (v % KS_DAY == 0 && v >= 2 * KS_DAY) {
        snprintf(out, cap, "%lldd", v / KS_DAY);
    } else if (v % KS_HOUR == 0) {
        snprintf(out, cap, "%lldh", v / KS_HOUR);
    } else if (v % KS_MIN == 0) {
        snprintf(out, cap, "%lldm", v / KS_MIN);
    } else {
        snprintf(out, cap, "%lldms", v);
    }
}

/* What a key's value must be, as the start of an error message. */
static void expectation(const struct key *k, char *out, size_t cap)
{
    char d[32];
    switch (k->type) {
    case K_DURATION:
        if (k->min > 0) {
            short_duration(k->min, d, sizeof(d));
            snprintf(out, cap, "must be a duration of at least %s %s", d, dur_examples);
        } else if (k->flags & F_POSITIVE) {
            snprintf(out, cap, "must be a duration greater than 0 %s", dur_examples);
        } else {
            snprintf(out, cap, "must be a duration >= 0 %s", dur_examples);
        }
        break;
    case K_PERCENT:
        snprintf(out, cap, "must be a number between 0 and 100");
        break;
    case K_INT:
        if (k->max != 0) {
            snprintf(out, cap, "must be an integer from %d to %d", (int)k->min, (int)k->max);
        } else {
            snprintf(out, cap, "must be an integer >= %d", (int)k->min);
        }
        break;
    case K_NUMBER:
        if (k->flags & F_SIGNED) {
            snprintf(out, cap, "must be a number");
        } else {
            snprintf(out, cap, "must be a number %s %g",
                     (k->flags & F_POSITIVE) ? ">" : ">=", k->min);
        }
        break;
    case K_STRING:
        if (k->flags & F_CURRENCY) {
            snprintf(out, cap, "must be a 3-letter currency code in capitals (like USD, EUR)");
        } else {
            snprintf(out, cap, "must be a non-empty string");
        }
        break;
    case K_SEVERITY:
        snprintf(out, cap, "must be P1, P2 or P3");
        break;
    case K_SECTION:
    case K_MAP:
    case K_STRMAP:
        snprintf(out, cap, "must be a mapping (key: value)");
        break;
    case K_LIST:
    case K_STRLIST:
        snprintf(out, cap, "must be a list");
        break;
    }
}

/* A plain decimal number: [+-]digits[.digits][e[+-]digits]. strtod alone
 * would also take hex, "inf" and "nan". */
static int is_decimal(const char *s, size_t n)
{
    size_t i = 0, d = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        i++;
    }
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++, d++;
    }
    if (!d) {
        return 0;
    }
    if (i < n && s[i] == '.') {
        i++;
        d = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++, d++;
        }
        if (!d) {
            return 0;
        }
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        d = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++, d++;
        }
        if (!d) {
            return 0;
        }
    }
    return i == n;
}

static int parse_number(const char *s, size_t n, double *out)
{
    char tmp[64];
    if (n == 0 || n >= sizeof(tmp) || !is_decimal(s, n)) {
        return -1;
    }
    memcpy(tmp, s, n);
    tmp[n] = 0;
    double v = strtod(tmp, NULL);
    if (!isfinite(v)) {
        return -1;
    }
    *out = v;
    return 0;
}

/* Returns 0, -1 (not a duration) or -2 (longer than max). The
 * syntax is checked here so that ks_duration_parse (strtod underneath) sees
 * only plain decimals with a unit. */
static int parse_duration(const char *s, size_t n, double max, ks_time *out)
{
    static const struct {
        const char *suffix;
        double ms;
    } units[] = {{"ms", 1},      {"s", KS_SEC}, {"min", KS_MIN},   {"m", KS_MIN},
                 {"h", KS_HOUR}, {"d", KS_DAY}, {"w", 7 * KS_DAY}, {"", KS_SEC}};
    char tmp[64];
    size_t i = 0;
    while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) {
        i++;
    }
    if (i == 0 || n >= sizeof(tmp) || !is_decimal(s, i)) {
        return -1;
    }
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        if (n - i == strlen(units[u].suffix) && memcmp(s + i, units[u].suffix, n - i) == 0) {
            memcpy(tmp, s, n);
            tmp[n] = 0;
            if (strtod(tmp, NULL) * units[u].ms > max) {
                return -2;
            }
            return ks_duration_parse(tmp, out) == 0 ? 0 : -1;
        }
    }
    return -1;
}

/* Parses the text of a scalar key into dst (of the key's type). Returns 0, or
 * -1 after writing what the value must be into why. Not for K_STRING. */
static int parse_value(const struct key *k, const char *s, size_t n, void *dst, char *why,
                       size_t cap)
{
    if (strlen(s) != n) {
        n = 0; /* an embedded NUL: no valid value of any type has one */
    }
    switch (k->type) {
    case K_DURATION: {
        ks_time t;
        double max = k->max != 0 ? k->max : MAX_DURATION;
        int rc = parse_duration(s, n, max, &t);
        if (rc == 0 && (double)t >= k->min && (!(k->flags & F_POSITIVE) || t > 0)) {
            *(ks_time *)dst = t;
            return 0;
        }
        if (rc == -2) {
            char d[32];
            short_duration(max, d, sizeof(d));
            snprintf(why, cap, "must be a duration of at most %s", d);
            return -1;
        }
        break;
    }
    case K_PERCENT: {
        double v;
        size_t m = (n && s[n - 1] == '%') ? n - 1 : n;
        if (parse_number(s, m, &v) == 0 && v >= 0 && v <= 100) {
            *(double *)dst = v;
            return 0;
        }
        break;
    }
    case K_INT: {
        double v;
        if (parse_number(s, n, &v) == 0 && v == floor(v) && v >= k->min && v <= INT_MAX &&
            (k->max == 0 || v <= k->max) && !memchr(s, '.', n) && !memchr(s, 'e', n) &&
            !memchr(s, 'E', n)) {
            *(int *)dst = (int)v;
            return 0;
        }
        break;
    }
    case K_NUMBER: {
        double v;
        if (parse_number(s, n, &v) == 0 &&
            ((k->flags & F_SIGNED) || ((k->flags & F_POSITIVE) ? v > k->min : v >= k->min))) {
            *(double *)dst = v;
            return 0;
        }
        break;
    }
    case K_SEVERITY:
        if (n == 2 && (s[0] == 'P' || s[0] == 'p') && s[1] >= '1' && s[1] <= '3') {
            *(enum ks_severity *)dst = (enum ks_severity)(s[1] - '0');
            return 0;
        }
        break;
    default:
        KS_ASSERT(!"parse_value: not a scalar type");
    }
    expectation(k, why, cap);
    return -1;
}

static void *field(struct ctx *c, const struct key *k)
{
    KS_ASSERT(c->cur[k->base]);
    return (char *)c->cur[k->base] + k->off;
}

/* Sets every key with a default in tab (and in its sections) on the structs
 * c->cur points to. Named maps and lists are left alone: their entries get
 * their defaults when they are created. */
static void apply_defaults(struct ctx *c, const struct key *tab)
{
    for (const struct key *k = tab; k->name; k++) {
        if (k->type == K_SECTION) {
            apply_defaults(c, k->sub);
        } else if (k->def && k->type == K_STRING) {
            *(char **)field(c, k) = (char *)k->def; /* borrowed: see default_currency */
        } else if (k->def) {
            char why[160];
            int rc = parse_value(k, k->def, strlen(k->def), field(c, k), why, sizeof(why));
            KS_ASSERT(rc == 0); /* a default that does not parse is a bug in the table */
        }
    }
}

/* ---- suggestions ---------------------------------------------------------- */

static size_t edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t row[65];
    if (na > 64 || nb > 64) {
        return SIZE_MAX;
    }
    for (size_t j = 0; j <= nb; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            if (up + 1 < best) {
                best = up + 1;
            }
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

/* The closest of names to s, if close enough to be a likely typo. */
static const char *closest(const char *s, size_t n, const char *const *names, size_t count)
{
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(names[i]);
        size_t d = edit_distance(s, n, names[i], len);
        size_t limit = len < 4 ? 1 : len < 8 ? 2 : 3;
        if (d <= limit && d < bestd) {
            best = names[i];
            bestd = d;
        }
    }
    return best;
}

static void unknown_key(struct ctx *c, const yaml_node_t *kn, const struct key *tab)
{
    const char *names[32] = {0};
    size_t count = 0;
    struct ks_buf all = {0};
    for (const struct key *k = tab; k->name && count < 32; k++) {
        names[count++] = k->name;
        ks_buf_printf(&all, "%s%s", all.len ? ", " : "", k->name);
    }
    const char *s = scalar(kn);
    const char *near = closest(s, kn->data.scalar.length, names, count);
    if (near) {
        issue(c, kn, "unknown key (did you mean \"%s\"?)", near);
    } else {
        issue(c, kn, "unknown key (expected one of: %s)", all.p);
    }
    ks_buf_fini(&all);
}

/* ---- applying a file ---------------------------------------------------- */

static void apply_value(struct ctx *c, const struct key *k, yaml_node_t *v);

static const struct key *find_key(const struct key *tab, const yaml_node_t *kn)
{
    for (const struct key *k = tab; k->name; k++) {
        if (scalar_is(kn, k->name, strlen(k->name))) {
            return k;
        }
    }
    return NULL;
}

/* The value of key name in mapping m, or NULL (first occurrence). */
static yaml_node_t *lookup(struct ctx *c, const yaml_node_t *m, const char *name,
                           yaml_node_t **key_out)
{
    if (!m || m->type != YAML_MAPPING_NODE) {
        return NULL;
    }
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node_at(c, p->key);
        if (scalar_is(kn, name, strlen(name))) {
            if (key_out) {
                *key_out = kn;
            }
            return node_at(c, p->value);
        }
    }
    return NULL;
}

/* Checks the keys of a mapping: each a non-empty scalar, none twice. Returns
 * 0 for a good key, -1 for one to skip (an issue was recorded). */
static int check_pair_key(struct ctx *c, const yaml_node_t *m, yaml_node_pair_t *p)
{
    yaml_node_t *kn = node_at(c, p->key);
    char w[96];
    if (!kn || kn->type != YAML_SCALAR_NODE || kn->data.scalar.length == 0) {
        what(kn, w, sizeof(w));
        issue(c, kn ? kn : node_at(c, p->value), "a key must be a non-empty name, got %s", w);
        return -1;
    }
    for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++) {
        yaml_node_t *qk = node_at(c, q->key);
        if (scalar_is(qk, scalar(kn), kn->data.scalar.length)) {
            struct mark mk = push(c, scalar(kn), kn->data.scalar.length, NULL);
            issue(c, kn, "duplicate key (first at line %d)", line_of(qk));
            pop(c, mk);
            return -1;
        }
    }
    return 0;
}

static int must_be_mapping(struct ctx *c, const struct key *k, const yaml_node_t *v)
{
    if (v->type == YAML_MAPPING_NODE) {
        return 0;
    }
    char want[160];
    if (k) {
        expectation(k, want, sizeof(want));
    } else {
        snprintf(want, sizeof(want), "must be a mapping (key: value)");
    }
    wrong_kind(c, v, want);
    return -1;
}

/* Applies mapping m (or an empty value) with the keys of tab, in table order. */
static void apply_table(struct ctx *c, const struct key *tab, const struct key *self,
                        yaml_node_t *m)
{
    if (!is_null(m)) {
        if (must_be_mapping(c, self, m)) {
            return;
        }
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
             p++) {
            if (check_pair_key(c, m, p)) {
                continue;
            }
            yaml_node_t *kn = node_at(c, p->key);
            if (!find_key(tab, kn)) {
                struct mark mk = push(c, scalar(kn), kn->data.scalar.length, NULL);
                unknown_key(c, kn, tab);
                pop(c, mk);
            }
        }
    }
    for (const struct key *k = tab; k->name; k++) {
        yaml_node_t *kn = NULL;
        yaml_node_t *v = lookup(c, m, k->name, &kn);
        struct mark mk = push(c, k->name, strlen(k->name), NULL);
        if (v) {
            c->key_line = line_of(kn);
            apply_value(c, k, v);
        } else if (k->flags & F_REQUIRED) {
            issue(c, m, "is required");
        }
        pop(c, mk);
    }
}

static void apply_scalar(struct ctx *c, const struct key *k, yaml_node_t *v)
{
    char want[160], w[96];
    tell_seen(c);
    if (v->type != YAML_SCALAR_NODE || is_null(v)) {
        expectation(k, want, sizeof(want));
        wrong_kind(c, v, want);
        return;
    }
    const char *s = scalar(v);
    size_t n = v->data.scalar.length;
    if (k->type == K_STRING) {
        int ok = n > 0 && strlen(s) == n;
        if (ok && (k->flags & F_CURRENCY)) {
            ok = n == 3;
            for (size_t i = 0; i < n; i++) {
                ok = ok && s[i] >= 'A' && s[i] <= 'Z';
            }
        }
        if (!ok) {
            expectation(k, want, sizeof(want));
            quote(s, n, w, sizeof(w));
            issue(c, v, "%s, got %s", want, w);
            return;
        }
        const char *why = (k->flags & F_URL) ? ks_hook_url_problem(s) : NULL;
        if (why) {
            quote(s, n, w, sizeof(w));
            issue(c, v, "%s, got %s", why, w);
            return;
        }
        char **dst = field(c, k);
        if (*dst != k->def) {
            ks_free(*dst);
        }
        *dst = ks_strndup(s, n);
        return;
    }
    if (parse_value(k, s, n, field(c, k), want, sizeof(want)) != 0) {
        quote(s, n, w, sizeof(w));
        issue(c, v, "%s, got %s", want, w);
    }
}

static void apply_strlist(struct ctx *c, const struct key *k, yaml_node_t *v)
{
    tell_seen(c);
    if (is_null(v)) {
        return;
    }
    if (v->type != YAML_SEQUENCE_NODE) {
        wrong_kind(c, v, "must be a list of names (like [a, b])");
        return;
    }
    char ***list = field(c, k);
    size_t *count = (size_t *)((char *)c->cur[k->base] + k->off2);
    size_t i = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *item = node_at(c, *it);
        if (item->type != YAML_SCALAR_NODE || is_null(item) || item->data.scalar.length == 0) {
            char w[96], idx[32];
            what(item, w, sizeof(w));
            snprintf(idx, sizeof(idx), "[%zu]", i);
            struct mark mk = push(c, idx, strlen(idx), "[]");
            issue(c, item, "must be a non-empty name, got %s", w);
            pop(c, mk);
            continue;
        }
        *list = ks_realloc(*list, (*count + 1) * sizeof(**list));
        (*list)[(*count)++] = ks_strndup(scalar(item), item->data.scalar.length);
    }
}

/* Appends a pair to the array of a K_STRMAP key: metric labels or hook
 * headers, by the struct the key belongs to. */
static void strmap_add(struct ctx *c, const struct key *k, const yaml_node_t *kn,
                       const yaml_node_t *val)
{
    size_t *count = (size_t *)((char *)c->cur[k->base] + k->off2);
    char *name = ks_strndup(scalar(kn), kn->data.scalar.length);
    char *value = ks_strndup(scalar(val), val->data.scalar.length);
    if (k->base == B_HOOK) {
        struct ks_hook_header **hdrs = field(c, k);
        *hdrs = ks_realloc(*hdrs, (*count + 1) * sizeof(**hdrs));
        (*hdrs)[*count].name = name;
        (*hdrs)[(*count)++].value = value;
    } else {
        KS_ASSERT(k->base == B_METRIC);
        struct ks_metric_label **labels = field(c, k);
        *labels = ks_realloc(*labels, (*count + 1) * sizeof(**labels));
        (*labels)[*count].key = name;
        (*labels)[(*count)++].val = value;
    }
}

static void apply_strmap(struct ctx *c, const struct key *k, yaml_node_t *v)
{
    tell_seen(c);
    if (is_null(v) || must_be_mapping(c, k, v)) {
        return;
    }
    int headers = k->base == B_HOOK;
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        if (check_pair_key(c, v, p)) {
            continue;
        }
        yaml_node_t *kn = node_at(c, p->key), *val = node_at(c, p->value);
        struct mark mk = push(c, scalar(kn), kn->data.scalar.length, "NAME");
        const char *why = NULL;
        if (val->type != YAML_SCALAR_NODE || is_null(val)) {
            c->key_line = line_of(kn);
            wrong_kind(c, val,
                       headers ? "a header value must be a string (quote an empty one)"
                               : "a label value must be a string");
        } else if (headers && (strlen(scalar(kn)) != kn->data.scalar.length ||
                               strlen(scalar(val)) != val->data.scalar.length)) {
            issue(c, kn, "a header must not contain a NUL character");
        } else if (headers && (why = ks_hook_header_problem(scalar(kn), scalar(val))) != NULL) {
            issue(c, kn, "%s", why);
        } else {
            strmap_add(c, k, kn, val);
        }
        pop(c, mk);
    }
}

/* Creates an entry of a named map or list and returns it; name may be NULL. */
static void *entry_new(struct ctx *c, enum kbase b, const char *name, size_t n,
                       const struct key *sub)
{
    struct ks_config *cfg = c->cfg;
    switch (b) {
    case B_CHANNEL: {
        cfg->channels = ks_realloc(cfg->channels, (cfg->nchannels + 1) * sizeof(*cfg->channels));
        struct ks_channel_cfg *e = &cfg->channels[cfg->nchannels++];
        *e = cfg->channel_defaults;
        e->name = ks_strndup(name, n);
        return e;
    }
    case B_SYSTEM: {
        cfg->systems = ks_realloc(cfg->systems, (cfg->nsystems + 1) * sizeof(*cfg->systems));
        struct ks_system_cfg *e = &cfg->systems[cfg->nsystems++];
        *e = cfg->system_defaults;
        e->name = ks_strndup(name, n);
        return e;
    }
    case B_METRIC: {
        cfg->metrics = ks_realloc(cfg->metrics, (cfg->nmetrics + 1) * sizeof(*cfg->metrics));
        struct ks_metric_rule *e = &cfg->metrics[cfg->nmetrics++];
        memset(e, 0, sizeof(*e));
        void *saved = c->cur[B_METRIC];
        c->cur[B_METRIC] = e;
        apply_defaults(c, sub);
        c->cur[B_METRIC] = saved;
        return e;
    }
    case B_ROLE: {
        cfg->roles = ks_realloc(cfg->roles, (cfg->nroles + 1) * sizeof(*cfg->roles));
        struct ks_role *e = &cfg->roles[cfg->nroles++];
        memset(e, 0, sizeof(*e));
        e->name = ks_strndup(name, n);
        return e;
    }
    case B_HOOK: {
        cfg->hooks = ks_realloc(cfg->hooks, (cfg->nhooks + 1) * sizeof(*cfg->hooks));
        struct ks_hook_cfg *e = &cfg->hooks[cfg->nhooks++];
        memset(e, 0, sizeof(*e));
        e->action = ks_strndup(name, n);
        void *saved = c->cur[B_HOOK];
        c->cur[B_HOOK] = e;
        apply_defaults(c, sub);
        c->cur[B_HOOK] = saved;
        return e;
    }
    case B_PERSON: {
        cfg->people = ks_realloc(cfg->people, (cfg->npeople + 1) * sizeof(*cfg->people));
        struct ks_person *e = &cfg->people[cfg->npeople++];
        memset(e, 0, sizeof(*e));
        e->name = ks_strndup(name, n);
        return e;
    }
    default:
        KS_ASSERT(!"entry_new: not an entry base");
        return NULL;
    }
}

/* The names of the rule keys that set its kind, "above, below, ...". */
static void kind_names(char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (const struct key *k = metric_keys; k->name; k++) {
        if (k->tag && o < cap) {
            o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? ", " : "", k->name);
        }
    }
}

static void metric_done(struct ctx *c, struct ks_metric_rule *r, yaml_node_t *m)
{
    const struct key *first = NULL;
    char kinds[96];
    kind_names(kinds, sizeof(kinds));
    if (m->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
             p++) {
            yaml_node_t *kn = node_at(c, p->key);
            const struct key *k = find_key(metric_keys, kn);
            if (!k || !k->tag) {
                continue;
            }
            if (!first) {
                first = k;
                r->kind = (enum ks_metric_kind)(k->tag - 1);
            } else if (k != first) {
                struct mark mk = push(c, k->name, strlen(k->name), NULL);
                issue(c, kn, "conflicts with \"%s\": a rule has exactly one of %s", first->name,
                      kinds);
                pop(c, mk);
            }
        }
    }
    if (!first) {
        issue(c, m, "needs exactly one of %s", kinds);
    }
    for (size_t i = 0; r->name && i + 1 < c->cfg->nmetrics; i++) {
        if (c->cfg->metrics[i].name && !strcmp(c->cfg->metrics[i].name, r->name)) {
            yaml_node_t *v = lookup(c, m, "name", NULL);
            struct mark mk = push(c, "name", 4, NULL);
            issue(c, v, "duplicate rule name \"%s\" (also metrics[%zu])", r->name, i);
            pop(c, mk);
            break;
        }
    }
}

static void person_done(struct ctx *c, struct ks_person *p, yaml_node_t *m)
{
    if (!p->role) {
        return; /* missing: already reported as required */
    }
    const char *names[32] = {0};
    size_t count = 0;
    struct ks_buf all = {0};
    for (size_t i = 0; i < c->cfg->nroles; i++) {
        if (!strcmp(c->cfg->roles[i].name, p->role)) {
            ks_buf_fini(&all);
            return;
        }
        if (count < 32) {
            names[count++] = c->cfg->roles[i].name;
        }
        ks_buf_printf(&all, "%s%s", all.len ? ", " : "", c->cfg->roles[i].name);
    }
    yaml_node_t *v = lookup(c, m, "role", NULL);
    struct mark mk = push(c, "role", 4, NULL);
    const char *near = closest(p->role, strlen(p->role), names, count);
    if (near) {
        issue(c, v, "unknown role \"%s\" (did you mean \"%s\"?)", p->role, near);
    } else if (count) {
        issue(c, v, "unknown role \"%s\" (roles are: %s)", p->role, all.p);
    } else {
        issue(c, v, "unknown role \"%s\" (no roles are defined under \"roles\")", p->role);
    }
    pop(c, mk);
    ks_buf_fini(&all);
}

static void channel_done(struct ctx *c, yaml_node_t *m)
{
    yaml_node_t *kn = NULL;
    if (lookup(c, m, "sync_interval", &kn) &&
        lookup(c, lookup(c, m, "sync_freshness", NULL), "interval", NULL)) {
        struct mark mk = push(c, "sync_interval", 13, NULL);
        issue(c, kn, "sets the same value as \"sync_freshness.interval\"; keep one of them");
        pop(c, mk);
    }
}

/* Suggests the action name closest to s, or lists them all. */
static void action_hint(const char *s, size_t n, char *out, size_t cap)
{
    const char *names[32] = {0};
    size_t count = 0;
    struct ks_buf all = {0};
    for (const struct ks_action_name *a = ks_action_names; a->name && count < 32; a++) {
        names[count++] = a->name;
        ks_buf_printf(&all, "%s%s", all.len ? ", " : "", a->name);
    }
    const char *near = closest(s, n, names, count);
    if (near) {
        snprintf(out, cap, "did you mean \"%s\"?", near);
    } else {
        snprintf(out, cap, "actions are: %s", all.p);
    }
    ks_buf_fini(&all);
}

/* A hook: its name is an action, and it has exactly one of url and command
 * (headers only with a url). line is the line of its name. */
static void hook_done(struct ctx *c, const struct ks_hook_cfg *h, const yaml_node_t *kn,
                      yaml_node_t *m, int line)
{
    char hint[400];
    if (!ks_action_known(h->action)) {
        action_hint(scalar(kn), kn->data.scalar.length, hint, sizeof(hint));
        issue(c, kn, "unknown action (%s)", hint);
    }
    if (!is_null(m) && m->type != YAML_MAPPING_NODE) {
        return; /* already reported as not a mapping */
    }
    yaml_node_t *uk = NULL, *ck = NULL, *hk = NULL;
    lookup(c, m, "url", &uk);
    lookup(c, m, "command", &ck);
    lookup(c, m, "headers", &hk);
    if (uk && ck) {
        const yaml_node_t *second = line_of(ck) >= line_of(uk) ? ck : uk;
        const char *name = second == ck ? "command" : "url";
        struct mark mk = push(c, name, strlen(name), NULL);
        issue(c, second, "conflicts with \"%s\": a hook has exactly one of url, command",
              second == ck ? "url" : "command");
        pop(c, mk);
    } else if (!uk && !ck) {
        add_issue(c, line, c->path.p, "needs exactly one of url, command");
    } else if (ck && hk) {
        struct mark mk = push(c, "headers", 7, NULL);
        issue(c, hk, "only a webhook (url) sends headers; a command gets the body on stdin");
        pop(c, mk);
    }
}

/* A role approves only known actions, or "*". */
static void role_done(struct ctx *c, yaml_node_t *m)
{
    yaml_node_t *v = lookup(c, m, "approve", NULL);
    if (!v || v->type != YAML_SEQUENCE_NODE) {
        return;
    }
    size_t i = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *item = node_at(c, *it);
        if (item->type != YAML_SCALAR_NODE || is_null(item) || item->data.scalar.length == 0 ||
            scalar_is(item, "*", 1) || ks_action_known(scalar(item))) {
            continue; /* a bad item was reported by apply_strlist */
        }
        char idx[32], hint[400], w[96];
        snprintf(idx, sizeof(idx), "[%zu]", i);
        struct mark mk = push(c, "approve", 7, NULL);
        struct mark mi = push(c, idx, strlen(idx), "[]");
        action_hint(scalar(item), item->data.scalar.length, hint, sizeof(hint));
        quote(scalar(item), item->data.scalar.length, w, sizeof(w));
        issue(c, item, "unknown action %s (%s)", w, hint);
        pop(c, mi);
        pop(c, mk);
    }
}

/* A named map (channels, systems, roles, people, hooks): each entry is
 * created from the defaults, then its own keys are applied. */
static void apply_map(struct ctx *c, const struct key *k, yaml_node_t *v)
{
    if (is_null(v) || must_be_mapping(c, k, v)) {
        return;
    }
    void *saved = c->cur[k->entry];
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        if (check_pair_key(c, v, p)) {
            continue;
        }
        yaml_node_t *kn = node_at(c, p->key), *ev = node_at(c, p->value);
        struct mark mk = push(c, scalar(kn), kn->data.scalar.length, "NAME");
        c->cur[k->entry] = entry_new(c, k->entry, scalar(kn), kn->data.scalar.length, k->sub);
        int line = c->key_line = line_of(kn);
        apply_table(c, k->sub, NULL, ev);
        if (k->entry == B_PERSON) {
            person_done(c, c->cur[B_PERSON], ev);
        } else if (k->entry == B_CHANNEL) {
            channel_done(c, ev);
        } else if (k->entry == B_HOOK) {
            hook_done(c, c->cur[B_HOOK], kn, ev, line);
        } else if (k->entry == B_ROLE) {
            role_done(c, ev);
        }
        pop(c, mk);
    }
    c->cur[k->entry] = saved;
}

static void apply_list(struct ctx *c, const struct key *k, yaml_node_t *v)
{
    if (is_null(v)) {
        return;
    }
    if (v->type != YAML_SEQUENCE_NODE) {
        char want[160];
        expectation(k, want, sizeof(want));
        wrong_kind(c, v, want);
        return;
    }
    void *saved = c->cur[k->entry];
    size_t i = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *ev = node_at(c, *it);
        char idx[32];
        snprintf(idx, sizeof(idx), "[%zu]", i);
        struct mark mk = push(c, idx, strlen(idx), "[]");
        struct ks_metric_rule *r = entry_new(c, k->entry, NULL, 0, k->sub);
        c->cur[k->entry] = r;
        c->key_line = line_of(ev);
        apply_table(c, k->sub, NULL, ev);
        if (!is_null(ev) && ev->type == YAML_MAPPING_NODE) {
            metric_done(c, r, ev);
        }
        pop(c, mk);
    }
    c->cur[k->entry] = saved;
}

static void apply_value(struct ctx *c, const struct key *k, yaml_node_t *v)
{
    switch (k->type) {
    case K_SECTION:
        apply_table(c, k->sub, k, v);
        break;
    case K_MAP:
        apply_map(c, k, v);
        break;
    case K_LIST:
        apply_list(c, k, v);
        break;
    case K_STRLIST:
        apply_strlist(c, k, v);
        break;
    case K_STRMAP:
        apply_strmap(c, k, v);
        break;
    default:
        apply_scalar(c, k, v);
        break;
    }
}

/* ---- files -------------------------------------------------------------- */

#define MAX_FILE (4u << 20)

/* Reads the whole file (configs are small); NULL after recording why. */
static char *read_file(struct ctx *c, const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        char msg[256];
        snprintf(msg, sizeof(msg), "cannot open: %s", strerror(errno));
        add_issue(c, 0, NULL, msg);
        return NULL;
    }
    char *buf = ks_malloc(MAX_FILE + 1);
    size_t n = fread(buf, 1, MAX_FILE + 1, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || n > MAX_FILE) {
        add_issue(c, 0, NULL, failed ? "cannot read the file" : "file larger than 4 MiB");
        ks_free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static void yaml_problem(struct ctx *c, const yaml_parser_t *p, const char *buf, size_t len)
{
    char msg[400];
    int line = (int)p->problem_mark.line + 1;
    if (p->error == YAML_MEMORY_ERROR) {
        add_issue(c, 0, NULL, "out of memory reading the YAML");
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        line = 1;
        for (size_t i = 0; i < p->problem_offset && i < len; i++) {
            line += buf[i] == '\n';
        }
        snprintf(msg, sizeof(msg), "cannot read the file as YAML: %s",
                 p->problem ? p->problem : "bad bytes");
    } else if (p->context) {
        snprintf(msg, sizeof(msg), "YAML syntax error: %s (%s at line %d)",
                 p->problem ? p->problem : "unknown problem", p->context,
                 (int)p->context_mark.line + 1);
    } else {
        snprintf(msg, sizeof(msg), "YAML syntax error: %s",
                 p->problem ? p->problem : "unknown problem");
    }
    add_issue(c, line, NULL, msg);
}

/* Reads path over the defaults into c->cfg, collecting every problem. */
static void load_into(struct ctx *c, const char *path)
{
    size_t len = 0;
    char *buf = read_file(c, path, &len);
    if (!buf) {
        return;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        add_issue(c, 0, NULL, "out of memory reading the YAML");
        ks_free(buf);
        return;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_problem(c, &parser, buf, len);
        yaml_parser_delete(&parser);
        ks_free(buf);
        return;
    }
    c->doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root && !is_null(root)) {
        if (root->type != YAML_MAPPING_NODE) {
            char w[96];
            what(root, w, sizeof(w));
            issue(c, root,
                  "the file must be a mapping of keys (currency:, detectors:, ...), "
                  "got %s",
                  w);
        } else {
            apply_table(c, root_keys, NULL, root);
        }
    }
    /* A second document would be silently ignored: say so instead. */
    yaml_document_t next;
    if (!yaml_parser_load(&parser, &next)) {
        yaml_problem(c, &parser, buf, len);
    } else {
        yaml_node_t *r2 = yaml_document_get_root_node(&next);
        if (r2) {
            add_issue(c, line_of(r2), NULL,
                      "a second YAML document: the file must hold one (remove the \"---\")");
        }
        yaml_document_delete(&next);
    }
    c->doc = NULL;
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    ks_free(buf);
}

static int issue_cmp(const void *a, const void *b)
{
    const struct issue *x = a, *y = b;
    if (x->line != y->line) {
        return x->line < y->line ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void ctx_init(struct ctx *c, struct ks_config *cfg)
{
    memset(c, 0, sizeof(*c));
    c->cfg = cfg;
    ks_config_defaults(cfg);
    c->cur[B_CONFIG] = cfg;
    c->cur[B_CHANNEL] = &cfg->channel_defaults;
    c->cur[B_SYSTEM] = &cfg->system_defaults;
}

static void ctx_fini(struct ctx *c)
{
    for (size_t i = 0; i < c->nissues; i++) {
        ks_free(c->issues[i].key);
        ks_free(c->issues[i].msg);
    }
    ks_free(c->issues);
    ks_buf_fini(&c->path);
    ks_buf_fini(&c->pattern);
}

/* Loads path into a scratch config, collecting issues sorted by line. */
static void run(struct ctx *c, struct ks_config *scratch, const char *path)
{
    KS_ASSERT(path);
    ctx_init(c, scratch);
    load_into(c, path);
    if (c->nissues > 1) {
        qsort(c->issues, c->nissues, sizeof(*c->issues), issue_cmp);
    }
}

/* ---- the public functions ------------------------------------------------ */

void ks_config_defaults(struct ks_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    struct ctx c;
    memset(&c, 0, sizeof(c));
    c.cfg = cfg;
    c.cur[B_CONFIG] = cfg;
    c.cur[B_CHANNEL] = &cfg->channel_defaults;
    c.cur[B_SYSTEM] = &cfg->system_defaults;
    apply_defaults(&c, root_keys);
}

void ks_config_fini(struct ks_config *cfg)
{
    if (!cfg) {
        return;
    }
    ks_free(cfg->path);
    if (cfg->currency != default_currency) {
        ks_free(cfg->currency);
    }
    for (size_t i = 0; i < cfg->nchannels; i++) {
        ks_free(cfg->channels[i].name);
    }
    ks_free(cfg->channels);
    for (size_t i = 0; i < cfg->nsystems; i++) {
        ks_free(cfg->systems[i].name);
    }
    ks_free(cfg->systems);
    for (size_t i = 0; i < cfg->nmetrics; i++) {
        struct ks_metric_rule *r = &cfg->metrics[i];
        ks_free(r->name);
        ks_free(r->metric);
        for (size_t j = 0; j < r->nlabels; j++) {
            ks_free(r->labels[j].key);
            ks_free(r->labels[j].val);
        }
        ks_free(r->labels);
    }
    ks_free(cfg->metrics);
    for (size_t i = 0; i < cfg->npeople; i++) {
        ks_free(cfg->people[i].name);
        ks_free(cfg->people[i].role);
    }
    ks_free(cfg->people);
    for (size_t i = 0; i < cfg->nroles; i++) {
        ks_free(cfg->roles[i].name);
        for (size_t j = 0; j < cfg->roles[i].nmay; j++) {
            ks_free(cfg->roles[i].may_approve[j]);
        }
        ks_free(cfg->roles[i].may_approve);
    }
    ks_free(cfg->roles);
    for (size_t i = 0; i < cfg->nhooks; i++) {
        ks_hook_cfg_fini(&cfg->hooks[i]);
    }
    ks_free(cfg->hooks);
    memset(cfg, 0, sizeof(*cfg));
}

static void format_issue(char *out, size_t cap, const char *path, const struct issue *is)
{
    char where[64] = "";
    if (is->line > 0) {
        snprintf(where, sizeof(where), ":%d", is->line);
    }
    if (is->key) {
        snprintf(out, cap, "%s%s: key \"%s\": %s", path, where, is->key, is->msg);
    } else {
        snprintf(out, cap, "%s%s: %s", path, where, is->msg);
    }
}

enum ks_rc ks_config_load(struct ks_config *cfg, const char *path, struct ks_err *err)
{
    struct ctx c;
    struct ks_config scratch;
    run(&c, &scratch, path);
    if (c.nissues) {
        char msg[sizeof(err->msg)];
        format_issue(msg, sizeof(msg), path, &c.issues[0]);
        ks_config_fini(&scratch);
        ctx_fini(&c);
        ks_config_defaults(cfg);
        return ks_err_set(err, KS_EUSAGE, "%s", msg);
    }
    ctx_fini(&c);
    *cfg = scratch;
    cfg->path = ks_strdup(path);
    return KS_OK;
}

int ks_config_check_each(const char *path, ks_config_issue_fn fn, void *ctx)
{
    struct ctx c;
    struct ks_config scratch;
    run(&c, &scratch, path);
    int n = (int)c.nissues;
    for (size_t i = 0; fn && i < c.nissues; i++) {
        fn(ctx, c.issues[i].line, c.issues[i].key, c.issues[i].msg);
    }
    ks_config_fini(&scratch);
    ctx_fini(&c);
    return n;
}

int ks_config_check(const char *path, FILE *out)
{
    struct ctx c;
    struct ks_config scratch;
    run(&c, &scratch, path);
    for (size_t i = 0; out && i < c.nissues; i++) {
        char line[1024];
        format_issue(line, sizeof(line), path, &c.issues[i]);
        fprintf(out, "%s\n", line);
    }
    int n = (int)c.nissues;
    ks_config_fini(&scratch);
    ctx_fini(&c);
    return n;
}

int ks_config_each_set(const char *path, ks_config_key_fn fn, void *ctx)
{
    struct ctx c;
    struct ks_config scratch;
    ctx_init(&c, &scratch);
    c.seen = fn;
    c.seen_ctx = ctx;
    load_into(&c, path);
    int n = (int)c.nissues;
    ks_config_fini(&scratch);
    ctx_fini(&c);
    return n;
}

const struct ks_channel_cfg *ks_config_channel(const struct ks_config *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->nchannels; i++) {
        if (!strcmp(cfg->channels[i].name, name)) {
            return &cfg->channels[i];
        }
    }
    return &cfg->channel_defaults;
}

const struct ks_system_cfg *ks_config_system(const struct ks_config *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->nsystems; i++) {
        if (!strcmp(cfg->systems[i].name, name)) {
            return &cfg->systems[i];
        }
    }
    return &cfg->system_defaults;
}

const struct ks_hook_cfg *ks_config_hook(const struct ks_config *cfg, const char *action)
{
    for (size_t i = 0; action && i < cfg->nhooks; i++) {
        if (!strcmp(cfg->hooks[i].action, action)) {
            return &cfg->hooks[i];
        }
    }
    return NULL;
}

const char *ks_severity_name(enum ks_severity s)
{
    switch (s) {
    case KS_P1:
        return "P1";
    case KS_P2:
        return "P2";
    case KS_P3:
        return "P3";
    }
    return "P?";
}

/* ---- the reference ------------------------------------------------------- */

static void each_key(const struct key *tab, struct ks_buf *pat, ks_config_key_fn fn, void *ctx)
{
    for (const struct key *k = tab; k->name; k++) {
        size_t mark = pat->len;
        ks_buf_printf(pat, "%s%s", pat->len ? "." : "", k->name);
        if (k->type == K_SECTION) {
            each_key(k->sub, pat, fn, ctx);
        } else if (k->type == K_MAP) {
            ks_buf_puts(pat, ".NAME");
            each_key(k->sub, pat, fn, ctx);
        } else if (k->type == K_LIST) {
            ks_buf_puts(pat, "[]");
            each_key(k->sub, pat, fn, ctx);
        } else {
            fn(ctx, pat->p);
        }
        buf_truncate(pat, mark);
    }
}

void ks_config_each_key(ks_config_key_fn fn, void *ctx)
{
    struct ks_buf pat = {0};
    each_key(root_keys, &pat, fn, ctx);
    ks_buf_fini(&pat);
}

static void type_name(const struct key *k, char *out, size_t cap)
{
    switch (k->type) {
    case K_DURATION:
        if (k->min > 0) {
            char d[32];
            short_duration(k->min, d, sizeof(d));
            snprintf(out, cap, "duration >= %s", d);
        } else {
            snprintf(out, cap, "duration %s 0", (k->flags & F_POSITIVE) ? ">" : ">=");
        }
        break;
    case K_PERCENT:
        snprintf(out, cap, "percent 0-100");
        break;
    case K_INT:
        if (k->max != 0) {
            snprintf(out, cap, "integer %d-%d", (int)k->min, (int)k->max);
        } else {
            snprintf(out, cap, "integer >= %d", (int)k->min);
        }
        break;
    case K_NUMBER:
        if (k->flags & F_SIGNED) {
            snprintf(out, cap, "number");
        } else {
            snprintf(out, cap, "number %s %g", (k->flags & F_POSITIVE) ? ">" : ">=", k->min);
        }
        break;
    case K_STRING:
        snprintf(out, cap, "%s",
                 (k->flags & F_CURRENCY) ? "currency code"
                 : (k->flags & F_URL)    ? "http(s) URL"
                                         : "string");
        break;
    case K_SEVERITY:
        snprintf(out, cap, "P1, P2 or P3");
        break;
    case K_SECTION:
        snprintf(out, cap, "section");
        break;
    case K_MAP:
        snprintf(out, cap, "map of names");
        break;
    case K_LIST:
        snprintf(out, cap, "list");
        break;
    case K_STRLIST:
        snprintf(out, cap, "list of strings");
        break;
    case K_STRMAP:
        snprintf(out, cap, "map of strings");
        break;
    }
}

/* Writes text for a Markdown table cell ('|' escaped). */
static void md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') {
            fputc('\\', out);
        }
        fputc(*s, out);
    }
}

/* One table row per key of tab, then the rows of what it contains. rel is
 * the path inside an entry that inherits from `inherit`. */
static void ref_rows(FILE *out, const struct key *tab, struct ks_buf *pat, struct ks_buf *rel,
                     const char *inherit)
{
    for (const struct key *k = tab; k->name; k++) {
        size_t pmark = pat->len, rmark = rel->len;
        ks_buf_printf(pat, "%s%s", pat->len ? "." : "", k->name);
        ks_buf_printf(rel, "%s%s", rel->len ? "." : "", k->name);
        char type[64];
        type_name(k, type, sizeof(type));
        fprintf(out, "| `%s` | %s | ", pat->p, type);
        if (k->from) {
            fprintf(out, "from `%s`", k->from);
        } else if (inherit && k->def) {
            fprintf(out, "from `%s.%s`", inherit, rel->p);
        } else if (k->def) {
            fprintf(out, "`%s`", k->def);
        } else if (k->flags & F_REQUIRED) {
            fprintf(out, "required");
        } else if (k->type == K_STRLIST || k->type == K_STRMAP) {
            fprintf(out, "empty");
        } else if (k->type == K_DURATION || k->type == K_NUMBER || k->type == K_PERCENT ||
                   k->type == K_STRING) {
            fprintf(out, "-");
        }
        fputs(" | ", out);
        md_cell(out, k->help);
        fputs(" |\n", out);
        if (k->type == K_SECTION) {
            ref_rows(out, k->sub, pat, rel, inherit);
        } else if (k->type == K_MAP || k->type == K_LIST) {
            struct ks_buf inner = {0};
            ks_buf_puts(pat, k->type == K_MAP ? ".NAME" : "[]");
            ks_buf_puts(&inner, "");
            ref_rows(out, k->sub, pat, &inner, k->inherit);
            ks_buf_fini(&inner);
        }
        buf_truncate(pat, pmark);
        buf_truncate(rel, rmark);
    }
}

static const char ref_intro[] =
    "# kintsugi configuration reference\n"
    "\n"
    "kintsugi runs with no configuration file at all: every threshold has the\n"
    "default of the specification (SPEC sections 3 to 5). A YAML file given with\n"
    "`--config FILE` changes only the keys it names. `examples/kintsugi.yaml` sets\n"
    "every key, with comments.\n"
    "\n"
    "This file is generated from the key tables in `src/config/config.c`:\n"
    "`kintsugi check-config --reference > docs/CONFIG.md`. A unit test fails when\n"
    "they differ.\n"
    "\n"
    "## Checking a file\n"
    "\n"
    "```\n"
    "$ kintsugi check-config kintsugi.yaml\n"
    "kintsugi.yaml: ok\n"
    "$ kintsugi check-config bad.yaml\n"
    "bad.yaml:4: key \"detectors.zero_spike.skus_pct\": must be a number between 0 and 100, "
    "got \"abc\"\n"
    "bad.yaml:9: key \"detectors.zero_spik\": unknown key (did you mean \"zero_spike\"?)\n"
    "$ kintsugi check-config bad.yaml --json\n"
    "{\"file\":\"bad.yaml\",\"valid\":false,\"errors\":[{\"line\":4,"
    "\"key\":\"detectors.zero_spike.skus_pct\",\"message\":\"must be ...\"}, ...]}\n"
    "```\n"
    "\n"
    "`check-config` reports every problem, one per line in line order, and exits\n"
    "with 2 if there is any (0 otherwise). Every command that loads a\n"
    "configuration stops at the first problem with the same message and exit\n"
    "code 2. In `--json` output, `line` is `null` for a problem with the whole\n"
    "file (it cannot be opened) and `key` is `null` when no single key is at\n"
    "fault (YAML syntax).\n"
    "\n"
    "Problems reported: YAML syntax (with its line), unknown keys (with a\n"
    "suggestion when one is close), duplicate keys, a mapping or list where a\n"
    "value is expected and the reverse, values of the wrong type or out of\n"
    "range (negative durations, percentages outside 0..100, minimum counts\n"
    "below 1), metric rules without a kind or with two, duplicate rule names,\n"
    "people with a role not defined under `roles`, hooks and approvals that name\n"
    "an unknown action, hooks without exactly one of `url` and `command`, URLs\n"
    "that are not `http://` or `https://`, bad or reserved header names, and a\n"
    "second YAML document.\n"
    "An empty file, and an empty section (`detectors:` with nothing under it),\n"
    "are valid.\n"
    "\n"
    "## Precedence\n"
    "\n"
    "1. The built-in defaults (the column *default* below).\n"
    "2. The file's global sections: `detectors`, `contain`, `sla`, `assessment`, ...\n"
    "3. Per-channel entries under `channels` and per-system entries under\n"
    "   `systems`. Each entry starts as a complete copy of the thresholds of\n"
    "   step 2 (`detectors.sync_freshness`, `volume_drop`, `distribution_shift`,\n"
    "   `zero_spike`, `contain.low_stock`; `detectors.system_down`) and changes\n"
    "   only the keys it names. Sections are applied in this order whatever\n"
    "   their order in the file, so `channels:` may come before `detectors:`.\n"
    "   A channel or system without an entry uses the values of step 2.\n"
    "\n"
    "## Values\n"
    "\n"
    "- *duration*: a number with a unit: `500ms`, `30s`, `15m` (or `15min`), `2h`,\n"
    "  `7d`, `1w`; a bare number is seconds. Fractions are allowed (`1.5h`); at\n"
    "  most `3650d` (`ts_horizon`: `3652500d`).\n"
    "- *percent*: a number from 0 to 100 (`20` is 20 %), optionally written `20%`.\n"
    "- *integer*, *number*: plain decimals (`20`, `5000`, `2.5`).\n"
    "- *P1, P2 or P3*: a severity, P1 the most severe.\n"
    "- *NAME* in a key stands for a channel, system, role or person name, an\n"
    "  action name (under `hooks`) or a header name (under `headers`); `[]` for\n"
    "  each element of a list.\n"
    "\n"
    "## Keys\n";

void ks_config_reference(FILE *out)
{
    fputs(ref_intro, out);
    for (const struct key *k = root_keys; k->name; k++) {
        struct ks_buf pat = {0}, rel = {0};
        ks_buf_puts(&pat, "");
        ks_buf_puts(&rel, "");
        int scalar_key = k->type != K_SECTION && k->type != K_MAP && k->type != K_LIST;
        fprintf(out, "\n### `%s`\n\n", k->name);
        if (!scalar_key) {
            /* The paragraph is the help of the section; the table lists what
             * it contains, with full paths. */
            fprintf(out, "%s\n\n", k->help);
        }
        fputs("| key | type | default | meaning |\n", out);
        fputs("|---|---|---|---|\n", out);
        if (scalar_key) {
            const struct key one[] = {*k, {.name = NULL}};
            ref_rows(out, one, &pat, &rel, NULL);
        } else {
            ks_buf_puts(&pat, k->name);
            if (k->type != K_SECTION) {
                ks_buf_puts(&pat, k->type == K_MAP ? ".NAME" : "[]");
            }
            ref_rows(out, k->sub, &pat, &rel, k->type == K_MAP ? k->inherit : NULL);
        }
        ks_buf_fini(&pat);
        ks_buf_fini(&rel);
    }
    fputs("\n## Actions\n"
          "\n"
          "What kintsugi can ask other systems to do while containing an incident: the\n"
          "names of `hooks` entries and of `roles.NAME.approve` items. kintsugi sends an\n"
          "action to another system only through its hook (docs/HOOKS.md).\n"
          "\n"
          "| action | what the other system is asked to do |\n"
          "|---|---|\n",
          out);
    for (const struct ks_action_name *a = ks_action_names; a->name; a++) {
        fprintf(out, "| `%s` | ", a->name);
        md_cell(out, a->help);
        fputs(" |\n", out);
    }
}
