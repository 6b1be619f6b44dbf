/*
 * config.h - kintsugi.yaml: every detector threshold, per channel, system and
 * metric rule, SLAs, the assessment matrix. Defaults need no file at all.
 *
 * Keys are declared once, in tables beside the modules that read them
 * (keys.h), from which the loader, `kintsugi check-config` and
 * docs/CONFIG.md are all derived. Unknown keys,
 * wrong types and out-of-range values are errors that name the file and line.
 */
#ifndef KS_CONFIG_H
#define KS_CONFIG_H

#include "../core/core.h"

enum ks_severity { KS_P1 = 1, KS_P2 = 2, KS_P3 = 3 };

/* Thresholds that can differ per channel. Percentages are in percent (20 = 20 %). */
struct ks_channel_cfg {
    char *name;               /* NULL for the defaults */
    ks_time sync_interval;    /* expected interval between ok syncs: 15m */
    double sync_multiplier;   /* stale after multiplier x interval: 2 */
    ks_time sync_escalate;    /* P3 -> P2 after: 1h */
    double shift_skus_pct;    /* distribution_shift: > 20 % of known SKUs ... */
    double shift_change_pct;  /* ... changed by > 50 % */
    int shift_min_known;      /* needs >= 20 known SKUs */
    double zero_skus_pct;     /* zero_spike: > 10 % of active SKUs to zero */
    int zero_min_active;      /* needs >= 20 active SKUs */
    double volume_drop_pct;   /* volume_drop: last hour < 50 % of the average hour */
    ks_time volume_window;    /* 60m */
    ks_time volume_baseline;  /* 7d (the cap on hours of history) */
    ks_time volume_min_history; /* 24h */
    int low_stock;            /* qty <= low_stock is low stock: 5 */
};

/* Thresholds that can differ per system (wms, oms, ...). */
struct ks_system_cfg {
    char *name;            /* NULL for the defaults */
    ks_time down_after;    /* no up check for more than: 5m */
    ks_time escalate;      /* P2 -> P1 after: 15m */
    ks_time group_within;  /* a location joins an outage detected at most: 5m before */
};

enum ks_metric_kind { KS_METRIC_ABOVE, KS_METRIC_BELOW, KS_METRIC_DROP_PCT, KS_METRIC_RISE_PCT };

struct ks_metric_label {
    char *key, *val;
};

/* A user rule over `metric` events. */
struct ks_metric_rule {
    char *name;   /* rule name, used in titles and fingerprints */
    char *metric; /* the metric's name */
    struct ks_metric_label *labels; /* all must match (subset) */
    size_t nlabels;
    enum ks_metric_kind kind;
    double threshold;       /* absolute value, or percent for *_PCT */
    ks_time baseline;       /* trailing window of the baseline: 7d */
    int min_samples;        /* baseline needs at least this many samples: 3 */
    enum ks_severity severity; /* P3 */
};

struct ks_person {
    char *name;
    char *role;
    char *email; /* NULL: none */
    char *team;  /* a team function (src/comms/comms.h), NULL: none */
};

struct ks_receiver_cfg; /* src/comms/comms.h, which also finds them (ks_config_receiver) */

struct ks_hook_cfg; /* src/contain/hook.h, which also finds them (ks_config_hook) */

/* An action kintsugi can ask another system to take while containing an
 * incident: the names hooks are configured under and roles approve. */
struct ks_action_name {
    const char *name; /* "stop_order_import" */
    const char *help; /* one line: what the other system is asked to do */
};
/* Every action, ended by an entry whose name is NULL. */
extern const struct ks_action_name ks_action_names[];
/* Whether name is one of ks_action_names. */
int ks_action_known(const char *name);

/* The remedies of the service-recovery policy (SPEC section 6,
 * docs/REMEDIES.md), in the order offers list them; ended by a NULL name. */
extern const struct ks_action_name ks_remedy_names[];
/* Whether name is one of ks_remedy_names. */
int ks_remedy_known(const char *name);

/* What a role may grant of one remedy: a pair of roles.NAME.remedies, the
 * remedy's name (or "*" for every remedy) and its limit as written: an
 * amount in `currency`, "true" (any amount) or "false" (not allowed). The
 * layout of struct ks_key_pair (src/config/keys.h). */
struct ks_remedy_limit {
    char *name, *value;
};

struct ks_role {
    char *name;
    char **may_approve; /* action names this role may approve; "*" for all */
    size_t nmay;
    double hourly_rate; /* the response cost of an hour of this role; 0: cost.hourly_rate */
    struct ks_remedy_limit *remedies; /* in file order; none: no remedy at all */
    size_t nremedies;
};

struct ks_config {
    char *path; /* the file it came from, or NULL for defaults */
    char *source; /* the text it was read from (NUL-terminated), or NULL for defaults */
    size_t source_len;
    char *currency; /* USD */

    struct ks_channel_cfg channel_defaults;
    struct ks_channel_cfg *channels; /* per-channel overrides (complete copies) */
    size_t nchannels;

    struct ks_system_cfg system_defaults;
    struct ks_system_cfg *systems;
    size_t nsystems;

    /* order_rejections */
    ks_time rej_window;   /* 60m */
    double rej_pct;       /* 5 */
    int rej_min_orders;   /* 20 */
    /* supplier_shortfall */
    double supplier_p2_pct;     /* shortage >= 20 % is P2 */
    double supplier_damaged_pct; /* damaged >= 50 % of received is P2 */
    /* complaint_spike */
    ks_time complaint_window; /* 24h */
    int complaint_count;      /* >= 10 */
    /* feed_rejects */
    ks_time feed_window;   /* 10m */
    int feed_min_lines;    /* 100 */
    double feed_pct;       /* 5 */

    struct ks_metric_rule *metrics;
    size_t nmetrics;

    /* Response SLAs: acknowledge within (index by severity 1..3). */
    ks_time sla_ack[4];    /* P1 15m, P2 1h, P3 4h */
    ks_time sla_resolve_p3; /* 24h */
    ks_time review_due;     /* 48h after resolution for P1/P2 */
    ks_time repeat_window;  /* 30d */

    /* Assessment matrix. */
    int assess_inventory_customers;  /* > 100 */
    double assess_inventory_revenue; /* > 5000 */
    int assess_fulfillment_customers;  /* > 50 */
    double assess_fulfillment_revenue; /* > 2000 */
    ks_time assess_system_duration;  /* > 2h down */
    double assess_system_revenue;    /* > 10000 */
    ks_time assess_supplier_delay;   /* > 7d */
    double assess_supplier_value;    /* > 20000 */

    ks_time dedup_retention; /* ids remembered at least: 48h */
    ks_time ts_horizon;      /* an event's ts at most this ahead of the clock: 7d */

    struct ks_person *people;
    size_t npeople;
    struct ks_role *roles;
    size_t nroles;

    /* Hooks by action name, in file order; none by default. */
    struct ks_hook_cfg *hooks;
    size_t nhooks;

    /* Messages (src/comms, docs/MESSAGES.md): receivers by name, the
     * receivers of each audience, templates and trigger thresholds. */
    struct ks_receiver_cfg *receivers;
    size_t nreceivers;
    char **notify_team, **notify_leadership, **notify_customer;
    size_t nnotify_team, nnotify_leadership, nnotify_customer;
    char *msg_templates;     /* a directory of templates overriding the built-in ones */
    char *msg_shop;          /* the shop's name in customer messages */
    int msg_customers;       /* customer notices when more than: 50 customers */
    double msg_revenue;      /* leadership when revenue impact is more than: 10000 */
    ks_time msg_delay;       /* order-delay notices when an outage lasts more than: 24h */
    ks_time msg_follow_up;   /* the follow-up after the first customer notice: 20h */
    ks_time msg_update[4];   /* next status update by severity: P1 30m, P2 2h, P3 24h */

    /* Reviews, recovery metrics and the cost of a mistake (docs/REVIEWS.md). */
    int review_p3_sample;      /* P3 incidents drawn for review per month: 2 */
    ks_time retention_window;  /* an affected customer returned: ordered within 30d */
    double cost_hourly_rate;   /* an hour of a person without a role rate: 50 */
    ks_time cost_min_person;   /* a person's time on an incident counts at least: 30m */
    double cost_per_order;     /* shipping and handling per affected order: 0 */
    double cost_per_unit;      /* restocking per affected unit: 0 */
    double cost_lifetime_value; /* lifetime value of a customer: 250 */
    double cost_churn_pct;     /* estimated churn until the window has passed: 15 % */
};

/* Fills cfg with the defaults of SPEC section 3. The defaults own no memory:
 * ks_config_fini on them is a no-op, and so is forgetting to call it. */
void ks_config_defaults(struct ks_config *cfg);
/* Loads a YAML file over the defaults. cfg is an output only: what it held
 * before is neither read nor freed (call ks_config_fini first when reusing a
 * loaded config). On error returns KS_EUSAGE with err->msg
 * "FILE:LINE: key \"a.b\": reason" (the first error in line order); cfg is
 * then left as defaults. */
enum ks_rc ks_config_load(struct ks_config *cfg, const char *path, struct ks_err *err);
/* Like ks_config_load, but from text already read: path names it in error
 * messages and its directory resolves relative paths, as if the text were
 * that file's (which need not exist, nor hold this text any more). */
enum ks_rc ks_config_load_text(struct ks_config *cfg, const char *path, const char *text,
                               size_t len, struct ks_err *err);
/* The text of a configuration (one ks_config_load accepted) with its secrets
 * replaced, for keeping in a store: a receiver's password and header values,
 * a hook's header values and command become "redacted", and the URLs of
 * receivers and hooks keep only their scheme, host and port. Written again
 * by a YAML emitter (comments go); what is left loads to the same behaviour
 * but for where messages and hook calls go. Returns 0, or -1 with out empty
 * when the text is not YAML or memory ran out. (redact.c) */
int ks_config_redacted(const char *text, size_t len, struct ks_buf *out);
/* Checks a file and writes every error found, one per line, to out.
 * Returns the number of errors (0 = valid). */
int ks_config_check(const char *path, FILE *out);
/* Receives one problem of a configuration file. line is 0 when the problem
 * concerns the whole file (cannot open it); key is the dotted key path
 * ("detectors.zero_spike.skus_pct", "metrics[0].name") or NULL when no single
 * key is at fault (YAML syntax). msg is the reason alone, without file, line
 * or key. The strings are valid only during the call. */
typedef void (*ks_config_issue_fn)(void *ctx, int line, const char *key, const char *msg);
/* Like ks_config_check, but hands every problem to fn, in line order (for
 * `check-config --json`). Returns the number of problems. */
int ks_config_check_each(const char *path, ks_config_issue_fn fn, void *ctx);
/* Frees everything cfg owns and zeroes it. Takes defaults and zeroed structs. */
void ks_config_fini(struct ks_config *cfg);
/* The thresholds for a channel or system name (override or defaults). */
const struct ks_channel_cfg *ks_config_channel(const struct ks_config *cfg, const char *name);
const struct ks_system_cfg *ks_config_system(const struct ks_config *cfg, const char *name);
/* Writes the Markdown reference of every key (docs/CONFIG.md is generated from it). */
void ks_config_reference(FILE *out);
const char *ks_severity_name(enum ks_severity s);

#endif
