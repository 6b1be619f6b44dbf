/*
 * test_config.c - kintsugi.yaml: defaults, loading, every error kind with its
 * line and key, the example file and the generated reference.
 *
 * Run from the repository root: the fixtures are the YAML files under
 * tests/unit/config/.
 */
#include "../../src/cli/cli.h"
#include "../../src/comms/comms.h"
#include "../../src/config/config.h"
#include "../../src/config/config_int.h"
#include "../../src/contain/hook.h"
#include "slurp.h"
#include "t.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX(name) "tests/unit/config/" name

/* ---- helpers ------------------------------------------------------------ */

struct found {
    int line;
    char key[128];
    char msg[400];
};

struct issues {
    struct found v[64];
    int n;
};

static void collect(void *ctx, int line, const char *key, const char *msg)
{
    struct issues *is = ctx;
    if (is->n < 64) {
        struct found *f = &is->v[is->n];
        f->line = line;
        snprintf(f->key, sizeof(f->key), "%s", key ? key : "");
        snprintf(f->msg, sizeof(f->msg), "%s", msg);
    }
    is->n++;
}

static int check_file(const char *path, struct issues *is)
{
    memset(is, 0, sizeof(*is));
    return ks_config_check_each(path, collect, is);
}

/* Loads a fixture that must be valid. */
static int load_ok(struct ks_config *cfg, const char *path)
{
    struct ks_err err = {0};
    enum ks_rc rc = ks_config_load(cfg, path, &err);
    if (rc != KS_OK) {
        fprintf(stderr, "unexpected load error: %s\n", err.msg);
    }
    return rc == KS_OK;
}

/* Runs a command with stdout and stderr captured into out and err. */
static int run_cmd(int (*cmd)(int, char **), int argc, char **argv, struct ks_buf *out,
                   struct ks_buf *err)
{
    char po[] = "/tmp/ks_test_config_outXXXXXX", pe[] = "/tmp/ks_test_config_errXXXXXX";
    int fo = mkstemp(po), fe = mkstemp(pe);
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    dup2(fo, 1);
    dup2(fe, 2);
    int rc = cmd(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    close(fo);
    close(fe);
    size_t n;
    char *s = t_slurp(po, &n);
    ks_buf_put(out, s, n);
    ks_free(s);
    s = t_slurp(pe, &n);
    ks_buf_put(err, s, n);
    ks_free(s);
    unlink(po);
    unlink(pe);
    return rc;
}

static long live_before;
#define LEAK_START() (live_before = ks_alloc_live())
#define LEAK_END() CHECK_INT(ks_alloc_live(), live_before)

/* ---- defaults ------------------------------------------------------------ */

static void check_spec_channel(const struct ks_channel_cfg *c)
{
    CHECK_INT(c->sync_interval, 15 * KS_MIN);
    CHECK(c->sync_multiplier == 2.0);
    CHECK_INT(c->sync_escalate, KS_HOUR);
    CHECK(c->shift_skus_pct == 20.0);
    CHECK(c->shift_change_pct == 50.0);
    CHECK_INT(c->shift_min_known, 20);
    CHECK(c->zero_skus_pct == 10.0);
    CHECK_INT(c->zero_min_active, 20);
    CHECK(c->volume_drop_pct == 50.0);
    CHECK_INT(c->volume_window, 60 * KS_MIN);
    CHECK_INT(c->volume_baseline, 7 * KS_DAY);
    CHECK_INT(c->volume_min_history, 24 * KS_HOUR);
    CHECK_INT(c->low_stock, 5);
}

static void check_spec_defaults(const struct ks_config *cfg)
{
    CHECK(cfg->path == NULL);
    CHECK_STR(cfg->currency, "USD");
    CHECK(cfg->channel_defaults.name == NULL);
    check_spec_channel(&cfg->channel_defaults);
    CHECK_INT(cfg->nchannels, 0);
    CHECK(cfg->system_defaults.name == NULL);
    CHECK_INT(cfg->system_defaults.down_after, 5 * KS_MIN);
    CHECK_INT(cfg->system_defaults.escalate, 15 * KS_MIN);
    CHECK_INT(cfg->system_defaults.group_within, 5 * KS_MIN);
    CHECK_INT(cfg->nsystems, 0);
    CHECK_INT(cfg->rej_window, 60 * KS_MIN);
    CHECK(cfg->rej_pct == 5.0);
    CHECK_INT(cfg->rej_min_orders, 20);
    CHECK(cfg->supplier_p2_pct == 20.0);
    CHECK(cfg->supplier_damaged_pct == 50.0);
    CHECK_INT(cfg->complaint_window, 24 * KS_HOUR);
    CHECK_INT(cfg->complaint_count, 10);
    CHECK_INT(cfg->feed_window, 10 * KS_MIN);
    CHECK_INT(cfg->feed_min_lines, 100);
    CHECK(cfg->feed_pct == 5.0);
    CHECK_INT(cfg->nmetrics, 0);
    CHECK(cfg->metrics == NULL);
    CHECK_INT(cfg->sla_ack[KS_P1], 15 * KS_MIN);
    CHECK_INT(cfg->sla_ack[KS_P2], KS_HOUR);
    CHECK_INT(cfg->sla_ack[KS_P3], 4 * KS_HOUR);
    CHECK_INT(cfg->sla_resolve_p3, 24 * KS_HOUR);
    CHECK_INT(cfg->review_due, 48 * KS_HOUR);
    CHECK_INT(cfg->repeat_window, 30 * KS_DAY);
    CHECK_INT(cfg->assess_inventory_customers, 100);
    CHECK(cfg->assess_inventory_revenue == 5000.0);
    CHECK_INT(cfg->assess_fulfillment_customers, 50);
    CHECK(cfg->assess_fulfillment_revenue == 2000.0);
    CHECK_INT(cfg->assess_system_duration, 2 * KS_HOUR);
    CHECK(cfg->assess_system_revenue == 10000.0);
    CHECK_INT(cfg->assess_supplier_delay, 7 * KS_DAY);
    CHECK(cfg->assess_supplier_value == 20000.0);
    CHECK_INT(cfg->dedup_retention, 48 * KS_HOUR);
    CHECK_INT(cfg->ts_horizon, 7 * KS_DAY);
    CHECK_INT(cfg->npeople, 0);
    CHECK_INT(cfg->nroles, 0);
    CHECK_INT(cfg->nhooks, 0);
    CHECK(cfg->hooks == NULL);
    CHECK(ks_config_hook(cfg, "stop_order_import") == NULL);
}

static void defaults_equal_spec_values(void)
{
    LEAK_START();
    struct ks_config cfg;
    ks_config_defaults(&cfg);
    check_spec_defaults(&cfg);
    ks_config_fini(&cfg);
    LEAK_END();
}

static void defaults_own_no_memory(void)
{
    long before = ks_alloc_live();
    struct ks_config cfg;
    ks_config_defaults(&cfg);
    CHECK_INT(ks_alloc_live(), before);
    ks_config_fini(&cfg);
    ks_config_fini(&cfg); /* fini on a finished (zeroed) config is a no-op */
    CHECK_INT(ks_alloc_live(), before);
}

static void empty_file_is_valid_and_all_defaults(void)
{
    LEAK_START();
    static const char *files[] = {FIX("empty.yaml"), FIX("comments_only.yaml"),
                                  FIX("empty_sections.yaml")};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct ks_config cfg;
        CHECK(load_ok(&cfg, files[i]));
        CHECK_STR(cfg.path, files[i]);
        ks_free(cfg.path); /* compare everything else with the defaults */
        cfg.path = NULL;
        check_spec_defaults(&cfg);
        ks_config_fini(&cfg);
        CHECK_INT(ks_config_check(files[i], stderr), 0);
    }
    LEAK_END();
}

/* ---- a full file ---------------------------------------------------------- */

static void full_file_overrides_every_key(void)
{
    LEAK_START();
    struct ks_config cfg;
    CHECK(load_ok(&cfg, FIX("full.yaml")));
    CHECK_STR(cfg.currency, "EUR");
    const struct ks_channel_cfg *d = &cfg.channel_defaults;
    CHECK_INT(d->sync_interval, 20 * KS_MIN);
    CHECK(d->sync_multiplier == 3.0);
    CHECK_INT(d->sync_escalate, 2 * KS_HOUR);
    CHECK(d->volume_drop_pct == 40.0);
    CHECK_INT(d->volume_window, 30 * KS_MIN);
    CHECK_INT(d->volume_baseline, 14 * KS_DAY);
    CHECK_INT(d->volume_min_history, 48 * KS_HOUR);
    CHECK(d->shift_skus_pct == 25.0);
    CHECK(d->shift_change_pct == 60.0);
    CHECK_INT(d->shift_min_known, 30);
    CHECK(d->zero_skus_pct == 15.0); /* written "15%" */
    CHECK_INT(d->zero_min_active, 40);
    CHECK_INT(d->low_stock, 7);
    CHECK_INT(cfg.rej_window, 30 * KS_MIN);
    CHECK(cfg.rej_pct == 7.5);
    CHECK_INT(cfg.rej_min_orders, 50);
    CHECK_INT(cfg.system_defaults.down_after, 3 * KS_MIN);
    CHECK_INT(cfg.system_defaults.escalate, 10 * KS_MIN);
    CHECK_INT(cfg.system_defaults.group_within, 2 * KS_MIN);
    CHECK(cfg.supplier_p2_pct == 25.0);
    CHECK(cfg.supplier_damaged_pct == 40.0);
    CHECK_INT(cfg.complaint_window, 12 * KS_HOUR);
    CHECK_INT(cfg.complaint_count, 5);
    CHECK_INT(cfg.feed_window, 5 * KS_MIN);
    CHECK_INT(cfg.feed_min_lines, 200);
    CHECK(cfg.feed_pct == 2.0);
    CHECK_INT(cfg.sla_ack[KS_P1], 10 * KS_MIN);
    CHECK_INT(cfg.sla_ack[KS_P2], 30 * KS_MIN);
    CHECK_INT(cfg.sla_ack[KS_P3], 2 * KS_HOUR);
    CHECK_INT(cfg.sla_resolve_p3, 12 * KS_HOUR);
    CHECK_INT(cfg.review_due, 72 * KS_HOUR);
    CHECK_INT(cfg.repeat_window, 14 * KS_DAY);
    CHECK_INT(cfg.assess_inventory_customers, 200);
    CHECK(cfg.assess_inventory_revenue == 7500.5);
    CHECK_INT(cfg.assess_fulfillment_customers, 60);
    CHECK(cfg.assess_fulfillment_revenue == 2500.0);
    CHECK_INT(cfg.assess_system_duration, 3 * KS_HOUR);
    CHECK(cfg.assess_system_revenue == 15000.0);
    CHECK_INT(cfg.assess_supplier_delay, 10 * KS_DAY);
    CHECK(cfg.assess_supplier_value == 30000.0);
    CHECK_INT(cfg.dedup_retention, 72 * KS_HOUR);
    CHECK_INT(cfg.ts_horizon, 7305 * KS_DAY);

    /* Channels: each a copy of the defaults above with its own changes. */
    CHECK_INT(cfg.nchannels, 3);
    const struct ks_channel_cfg *a = ks_config_channel(&cfg, "amazon");
    CHECK_STR(a->name, "amazon");
    CHECK_INT(a->sync_interval, 10 * KS_MIN);
    CHECK_INT(a->low_stock, 3);
    CHECK(a->zero_skus_pct == 5.0);
    CHECK_INT(a->zero_min_active, 40);
    CHECK(a->sync_multiplier == 3.0);
    CHECK_INT(a->volume_baseline, 14 * KS_DAY);
    const struct ks_channel_cfg *e = ks_config_channel(&cfg, "ebay");
    CHECK_STR(e->name, "ebay");
    CHECK(e->sync_multiplier == 4.0);
    CHECK_INT(e->sync_interval, 20 * KS_MIN);
    CHECK(e->volume_drop_pct == 30.0);
    CHECK_INT(e->volume_window, 2 * KS_HOUR);
    CHECK_INT(e->volume_baseline, 3 * KS_DAY);
    CHECK_INT(e->volume_min_history, 12 * KS_HOUR);
    CHECK(e->shift_skus_pct == 30.0);
    CHECK(e->shift_change_pct == 70.0);
    CHECK_INT(e->shift_min_known, 10);
    CHECK(e->zero_skus_pct == 15.0);
    CHECK_INT(e->zero_min_active, 50);
    CHECK_INT(e->low_stock, 7);
    const struct ks_channel_cfg *s = ks_config_channel(&cfg, "shopify");
    CHECK_INT(s->sync_interval, 5 * KS_MIN);
    CHECK_INT(s->sync_escalate, 30 * KS_MIN);
    CHECK(ks_config_channel(&cfg, "walmart") == &cfg.channel_defaults);
    CHECK(ks_config_channel(&cfg, NULL) == &cfg.channel_defaults);

    CHECK_INT(cfg.nsystems, 2);
    const struct ks_system_cfg *w = ks_config_system(&cfg, "wms");
    CHECK_STR(w->name, "wms");
    CHECK_INT(w->down_after, 10 * KS_MIN);
    CHECK_INT(w->escalate, 30 * KS_MIN);
    CHECK_INT(w->group_within, KS_MIN);
    const struct ks_system_cfg *o = ks_config_system(&cfg, "oms");
    CHECK_INT(o->down_after, 3 * KS_MIN);
    CHECK_INT(o->escalate, 5 * KS_MIN);
    CHECK_INT(o->group_within, 2 * KS_MIN);
    CHECK(ks_config_system(&cfg, "erp") == &cfg.system_defaults);
    ks_config_fini(&cfg);
    LEAK_END();
}

static void metric_rules_are_parsed_with_defaults(void)
{
    LEAK_START();
    struct ks_config cfg;
    CHECK(load_ok(&cfg, FIX("full.yaml")));
    CHECK_INT(cfg.nmetrics, 4);
    if (cfg.nmetrics == 4) {
        const struct ks_metric_rule *r = &cfg.metrics[0];
        CHECK_STR(r->name, "conversion-drop");
        CHECK_STR(r->metric, "conversion_rate");
        CHECK_INT(r->nlabels, 2);
        if (r->nlabels == 2) {
            CHECK_STR(r->labels[0].key, "site");
            CHECK_STR(r->labels[0].val, "eu");
            CHECK_STR(r->labels[1].key, "device");
            CHECK_STR(r->labels[1].val, "mobile");
        }
        CHECK_INT(r->kind, KS_METRIC_DROP_PCT);
        CHECK(r->threshold == 30.0);
        CHECK_INT(r->baseline, 3 * KS_DAY);
        CHECK_INT(r->min_samples, 5);
        CHECK_INT(r->severity, KS_P2);

        r = &cfg.metrics[1];
        CHECK_STR(r->name, "checkout-errors");
        CHECK_INT(r->kind, KS_METRIC_ABOVE);
        CHECK(r->threshold == 25.0);
        CHECK_INT(r->nlabels, 0);
        CHECK_INT(r->baseline, 7 * KS_DAY); /* rule defaults */
        CHECK_INT(r->min_samples, 3);
        CHECK_INT(r->severity, KS_P3);

        r = &cfg.metrics[2];
        CHECK_INT(r->kind, KS_METRIC_BELOW);
        CHECK(r->threshold == -0.5);
        CHECK_INT(r->severity, KS_P1); /* written "p1" */

        r = &cfg.metrics[3];
        CHECK_INT(r->kind, KS_METRIC_RISE_PCT);
        CHECK(r->threshold == 250.0);
    }
    ks_config_fini(&cfg);
    LEAK_END();
}

static void roles_and_people_are_parsed(void)
{
    LEAK_START();
    struct ks_config cfg;
    CHECK(load_ok(&cfg, FIX("full.yaml")));
    CHECK_INT(cfg.nroles, 3);
    if (cfg.nroles == 3) {
        CHECK_STR(cfg.roles[0].name, "agent");
        CHECK_INT(cfg.roles[0].nmay, 0);
        CHECK_STR(cfg.roles[1].name, "lead");
        CHECK_INT(cfg.roles[1].nmay, 2);
        if (cfg.roles[1].nmay == 2) {
            CHECK_STR(cfg.roles[1].may_approve[0], "zero_channel");
            CHECK_STR(cfg.roles[1].may_approve[1], "pause_listings");
        }
        CHECK_STR(cfg.roles[2].name, "manager");
        CHECK_INT(cfg.roles[2].nmay, 1);
        if (cfg.roles[2].nmay == 1) {
            CHECK_STR(cfg.roles[2].may_approve[0], "*");
        }
    }
    CHECK_INT(cfg.npeople, 3);
    if (cfg.npeople == 3) {
        CHECK_STR(cfg.people[0].name, "alice");
        CHECK_STR(cfg.people[0].role, "lead");
        CHECK_STR(cfg.people[1].name, "bob");
        CHECK_STR(cfg.people[1].role, "manager");
        CHECK_STR(cfg.people[2].name, "carol");
        CHECK_STR(cfg.people[2].role, "agent");
    }
    ks_config_fini(&cfg);
    LEAK_END();
}

static void hooks_are_parsed_with_defaults(void)
{
    LEAK_START();
    struct ks_config cfg;
    CHECK(load_ok(&cfg, FIX("full.yaml")));
    CHECK_INT(cfg.nhooks, 3);
    const struct ks_hook_cfg *h = ks_config_hook(&cfg, "stop_order_import");
    CHECK(h != NULL);
    if (h) {
        CHECK_STR(h->action, "stop_order_import");
        CHECK_STR(h->url, "http://oms.internal/hooks/stop");
        CHECK(h->command == NULL);
        CHECK_INT(h->retries, 3);
        CHECK_INT(h->backoff, 2 * KS_SEC);
        CHECK_INT(h->timeout, 5 * KS_SEC);
        CHECK_INT(h->nheaders, 3);
        if (h->nheaders == 3) {
            CHECK_STR(h->headers[0].name, "Authorization");
            CHECK_STR(h->headers[0].value, "Bearer xyz");
            CHECK_STR(h->headers[1].name, "X-Tenant");
            CHECK_STR(h->headers[1].value, "acme");
            CHECK_STR(h->headers[2].name, "X-Empty");
            CHECK_STR(h->headers[2].value, "");
        }
    }
    h = ks_config_hook(&cfg, "pause_listings");
    CHECK(h != NULL);
    if (h) {
        CHECK(h->url == NULL);
        CHECK_STR(h->command, "/usr/local/bin/pause-listings");
        CHECK_INT(h->retries, 0);
        CHECK_INT(h->backoff, 500);
        CHECK_INT(h->timeout, KS_MIN);
        CHECK_INT(h->nheaders, 0);
    }
    /* The defaults: retries 5, backoff 1s, timeout 10s. */
    h = ks_config_hook(&cfg, "notify_supplier");
    CHECK(h != NULL);
    if (h) {
        CHECK_STR(h->url, "HTTPS://supplier.example/notify");
        CHECK_INT(h->retries, 5);
        CHECK_INT(h->backoff, KS_SEC);
        CHECK_INT(h->timeout, 10 * KS_SEC);
        CHECK(h->headers == NULL);
    }
    CHECK(ks_config_hook(&cfg, "zero_channel") == NULL);
    CHECK(ks_config_hook(&cfg, NULL) == NULL);
    ks_config_fini(&cfg);
    LEAK_END();
}

/* A webhook receiver's url, headers, backoff and timeout are read and
 * checked as a hook's are (hook.h: KS_HOOK_KEY_URL, ...); its retries are its
 * own (8). */
static void webhook_receivers_are_parsed_like_hooks(void)
{
    LEAK_START();
    struct ks_config cfg;
    CHECK(load_ok(&cfg, FIX("receivers_webhook.yaml")));
    CHECK_INT(cfg.nreceivers, 2);
    const struct ks_receiver_cfg *r = ks_config_receiver(&cfg, "chat");
    CHECK(r != NULL);
    if (r) {
        CHECK_STR(r->webhook, "https://chat.example/hooks/ops");
        CHECK_INT(r->retries, 8);
        CHECK_INT(r->backoff, KS_SEC);
        CHECK_INT(r->timeout, 10 * KS_SEC);
        CHECK_INT(r->nheaders, 2);
        if (r->nheaders == 2) {
            CHECK_STR(r->headers[0].name, "Authorization");
            CHECK_STR(r->headers[0].value, "Bearer xyz");
            CHECK_STR(r->headers[1].name, "X-Empty");
            CHECK_STR(r->headers[1].value, "");
        }
    }
    r = ks_config_receiver(&cfg, "slow");
    CHECK(r != NULL);
    if (r) {
        CHECK_INT(r->backoff, 2 * KS_SEC);
        CHECK_INT(r->timeout, 5 * KS_SEC);
        CHECK(r->headers == NULL);
    }
    ks_config_fini(&cfg);
    LEAK_END();
}

static void action_names_are_one_table_with_help(void)
{
    static const char *const want[] = {
        "stop_order_import", "resume_order_import",      "reroute_orders", "extend_handling_time",
        "hold_orders",       "reduce_channel_inventory", "pause_listings", "zero_channel",
        "cancel_orders",     "push_quantities",          "notify_supplier"};
    size_t n = 0;
    while (ks_action_names[n].name) {
        CHECK(ks_action_names[n].help && strlen(ks_action_names[n].help) > 10);
        CHECK(strchr(ks_action_names[n].help, '\n') == NULL);
        for (size_t j = 0; j < n; j++) {
            CHECK(strcmp(ks_action_names[j].name, ks_action_names[n].name) != 0);
        }
        n++;
    }
    CHECK_INT(n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        CHECK(ks_action_known(want[i]));
    }
    CHECK(!ks_action_known("*"));
    CHECK(!ks_action_known(""));
    CHECK(!ks_action_known("Zero_Channel"));
}

static void channel_override_inherits_detectors_regardless_of_order(void)
{
    LEAK_START();
    struct ks_config cfg;
    CHECK(load_ok(&cfg, FIX("channels_first.yaml")));
    const struct ks_channel_cfg *a = ks_config_channel(&cfg, "amazon");
    CHECK_STR(a->name, "amazon");
    CHECK(a->zero_skus_pct == 5.0);           /* its own */
    CHECK_INT(a->zero_min_active, 30);        /* detectors:, written after channels: */
    CHECK_INT(a->sync_interval, 20 * KS_MIN); /* detectors: */
    CHECK_INT(a->low_stock, 9);               /* contain: */
    CHECK(a->shift_skus_pct == 20.0);         /* built-in default */
    const struct ks_channel_cfg *other = ks_config_channel(&cfg, "ebay");
    CHECK(other->zero_skus_pct == 10.0);
    CHECK_INT(other->zero_min_active, 30);
    const struct ks_system_cfg *w = ks_config_system(&cfg, "wms");
    CHECK_INT(w->down_after, 10 * KS_MIN);
    CHECK_INT(w->escalate, 25 * KS_MIN);
    CHECK_INT(w->group_within, KS_MIN);
    /* people: before roles: in the file still finds the role. */
    CHECK_INT(cfg.npeople, 1);
    ks_config_fini(&cfg);
    LEAK_END();
}

/* ---- errors ----------------------------------------------------------------- */

struct error_case {
    const char *file;
    int line;
    const char *key; /* "" for none */
    const char *msg; /* the whole message */
};

static const struct error_case error_cases[] = {
    {FIX("bad_percent.yaml"), 4, "detectors.zero_spike.skus_pct",
     "must be a number between 0 and 100, got \"abc\""},
    {FIX("percent_range.yaml"), 2, "detectors.distribution_shift.change_pct",
     "must be a number between 0 and 100, got \"101\""},
    {FIX("unknown_key.yaml"), 3, "detectors.zero_spik",
     "unknown key (did you mean \"zero_spike\"?)"},
    {FIX("unknown_top.yaml"), 3, "frobnicate",
     "unknown key (expected one of: currency, detectors, contain, hooks, channels, systems, "
     "metrics, sla, assessment, review, cost, dedup_retention, ts_horizon, roles, people, "
     "receivers, notify, messages)"},
    {FIX("syntax.yaml"), 5, "",
     "YAML syntax error: did not find expected key (while parsing a block mapping at line 3)"},
    {FIX("wrong_kind_section.yaml"), 3, "detectors.zero_spike",
     "must be a mapping (key: value), got \"5\""},
    {FIX("wrong_kind_scalar.yaml"), 2, "sla.resolve_p3",
     "must be a duration greater than 0 (like 30s, 15m, 2h, 7d), got a mapping"},
    {FIX("negative_duration.yaml"), 4, "sla.ack.P2",
     "must be a duration greater than 0 (like 30s, 15m, 2h, 7d), got \"-5m\""},
    {FIX("min_count.yaml"), 4, "channels.amazon.zero_spike.min_active",
     "must be an integer >= 1, got \"0\""},
    {FIX("metric_no_kind.yaml"), 2, "metrics[0]",
     "needs exactly one of above, below, drop_pct, rise_pct"},
    {FIX("metric_two_kinds.yaml"), 5, "metrics[0].drop_pct",
     "conflicts with \"above\": a rule has exactly one of above, below, drop_pct, rise_pct"},
    {FIX("metric_missing_name.yaml"), 5, "metrics[1].name", "is required"},
    {FIX("unknown_role.yaml"), 7, "people.bob.role",
     "unknown role \"lad\" (did you mean \"lead\"?)"},
    {FIX("duplicate_key.yaml"), 3, "detectors.zero_spike", "duplicate key (first at line 2)"},
    {FIX("two_documents.yaml"), 3, "",
     "a second YAML document: the file must hold one (remove the \"---\")"},
    {FIX("not_mapping.yaml"), 1, "",
     "the file must be a mapping of keys (currency:, detectors:, ...), got a list"},
    {FIX("load_fails_late.yaml"), 5, "dedup_retention",
     "must be a duration of at least 24h (like 30s, 15m, 2h, 7d), got \"1h\""},
    {FIX("horizon_too_long.yaml"), 2, "ts_horizon",
     "must be a duration of at most 3652500d, got \"3652501d\""},
    {FIX("duration_too_long.yaml"), 2, "dedup_retention",
     "must be a duration of at most 3650d, got \"3651d\""},
    {FIX("no_such_file.yaml"), 0, "", "cannot open: No such file or directory"},
    {FIX("hook_unknown_action.yaml"), 2, "hooks.stop_order_imprt",
     "unknown action (did you mean \"stop_order_import\"?)"},
    {FIX("hook_no_target.yaml"), 2, "hooks.hold_orders", "needs exactly one of url, command"},
    {FIX("hook_two_targets.yaml"), 4, "hooks.hold_orders.command",
     "conflicts with \"url\": a hook has exactly one of url, command"},
    {FIX("hook_bad_url.yaml"), 2, "hooks.zero_channel.url",
     "must start with http:// or https://, got \"ftp://feeds.internal/zero\""},
    {FIX("hook_retries_range.yaml"), 4, "hooks.reroute_orders.retries",
     "must be an integer from 0 to 20, got \"21\""},
    {FIX("hook_reserved_header.yaml"), 5, "hooks.cancel_orders.headers.Idempotency-Key",
     "this header is set by kintsugi"},
    {FIX("hook_bad_header.yaml"), 4, "hooks.cancel_orders.headers.X Tenant",
     "a header name may hold only letters, digits and !#$%&'*+-.^_`|~"},
    {FIX("hook_command_headers.yaml"), 4, "hooks.pause_listings.headers",
     "only a webhook (url) sends headers; a command gets the body on stdin"},
    {FIX("hook_unknown_key.yaml"), 2, "hooks.zero_channel.timout",
     "unknown key (did you mean \"timeout\"?)"},
    /* a plain key folded over lines: the problem is still one line */
    {FIX("key_over_lines.yaml"), 2, "hooks.zero_channel.ti-_\\n112s",
     "unknown key (expected one of: url, command, retries, backoff, timeout, headers)"},
    {FIX("person_email_list.yaml"), 7, "people.bob.email",
     "must be an e-mail address (name@domain): ';' is not allowed, got \"bob@shop.example;\""},
    {FIX("receiver_from_line_break.yaml"), 4, "receivers.mail.from",
     "must be an e-mail address (name@domain): a line break is not allowed, got "
     "\"ops@shop.example>\\x0d\\nRCPT TO:<evil@attacker.example\""},
    {FIX("receiver_bad_url.yaml"), 3, "receivers.chat.webhook",
     "must start with http:// or https://, got \"ftp://chat.example/hooks\""},
    {FIX("receiver_reserved_header.yaml"), 5, "receivers.chat.headers.User-Agent",
     "this header is set by kintsugi"},
    {FIX("receiver_zero_timeout.yaml"), 4, "receivers.chat.timeout",
     "must be a duration greater than 0 (like 30s, 15m, 2h, 7d), got \"0s\""},
    {FIX("approve_unknown_action.yaml"), 2, "roles.lead.approve[1]",
     "unknown action \"zero_chanel\" (did you mean \"zero_channel\"?)"},
    {FIX("remedy_unknown.yaml"), 3, "roles.agent.remedies.hug",
     "unknown remedy (remedies are: refund, store_credit, replacement, expedited_shipping, "
     "discount_code, cancel_with_refund, or \"*\" for all)"},
    {FIX("remedy_bad_limit.yaml"), 5, "roles.agent.remedies.refund",
     "a remedy's limit must be an amount >= 0 (in currency), true or false"},
};

static void each_error_kind_reports_its_line_and_key(void)
{
    LEAK_START();
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const struct error_case *ec = &error_cases[i];
        struct issues is;
        int n = check_file(ec->file, &is);
        if (n != 1) {
            fprintf(stderr, "  %s: %d problems\n", ec->file, n);
        }
        CHECK_INT(n, 1);
        CHECK_INT(is.v[0].line, ec->line);
        CHECK_STR(is.v[0].key, ec->key);
        CHECK_STR(is.v[0].msg, ec->msg);
    }
    LEAK_END();
}

static void load_message_names_file_line_and_key(void)
{
    LEAK_START();
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const struct error_case *ec = &error_cases[i];
        char want[1024], where[32] = "";
        if (ec->line) {
            snprintf(where, sizeof(where), ":%d", ec->line);
        }
        if (*ec->key) {
            snprintf(want, sizeof(want), "%s%s: key \"%s\": %s", ec->file, where, ec->key, ec->msg);
        } else {
            snprintf(want, sizeof(want), "%s%s: %s", ec->file, where, ec->msg);
        }
        struct ks_config cfg;
        struct ks_err err = {0};
        CHECK_INT(ks_config_load(&cfg, ec->file, &err), KS_EUSAGE);
        CHECK_INT(err.rc, KS_EUSAGE);
        CHECK_STR(err.msg, want);
        ks_config_fini(&cfg);
    }
    /* The brief's example, spelled out once. */
    struct ks_config cfg;
    struct ks_err err = {0};
    ks_config_load(&cfg, FIX("bad_percent.yaml"), &err);
    CHECK_STR(err.msg, "tests/unit/config/bad_percent.yaml:4: key "
                       "\"detectors.zero_spike.skus_pct\": must be a number between 0 and 100, "
                       "got \"abc\"");
    ks_config_fini(&cfg);
    LEAK_END();
}

static void failed_load_leaves_defaults(void)
{
    LEAK_START();
    struct ks_config cfg;
    struct ks_err err = {0};
    /* The file sets currency and zero_spike validly before its bad key. */
    CHECK_INT(ks_config_load(&cfg, FIX("load_fails_late.yaml"), &err), KS_EUSAGE);
    check_spec_defaults(&cfg);
    ks_config_fini(&cfg);
    CHECK_INT(ks_config_load(&cfg, FIX("many_errors.yaml"), &err), KS_EUSAGE);
    check_spec_defaults(&cfg);
    /* The first error in line order. */
    CHECK(strstr(err.msg, "many_errors.yaml:2: key \"currency\"") != NULL);
    ks_config_fini(&cfg);
    LEAK_END();
}

static void check_collects_every_error_in_line_order(void)
{
    LEAK_START();
    static const struct {
        int line;
        const char *key;
        const char *msg_start;
    } want[] = {
        {2, "currency", "must be a 3-letter currency code"},
        {4, "detectors.zero_spike.skus_pct", "must be a number between 0 and 100"},
        {4, "detectors.zero_spike.min_active", "must be an integer >= 1"},
        {6, "detectors.volume_drop.window", "must be a duration greater than 0"},
        {7, "detectors.sync_freshnes", "unknown key (did you mean \"sync_freshness\"?)"},
        {9, "channels.amazon.order_rejections", "unknown key (expected one of: sync_interval"},
        {9, "channels.amazon.sync_interval", "must be a duration greater than 0"},
        {9, "channels.amazon.low_stock", "must be an integer >= 0, got \"-1\""},
        {11, "metrics[0]", "needs exactly one of"},
        {13, "metrics[0].severity", "must be P1, P2 or P3, got \"P4\""},
        {15, "people.alice.role", "unknown role \"admin\" (no roles are defined"},
        {16, "sla.ack.P1", "must be a duration greater than 0"},
    };
    size_t nwant = sizeof(want) / sizeof(want[0]);
    struct issues is;
    CHECK_INT(check_file(FIX("many_errors.yaml"), &is), (int)nwant);
    for (size_t i = 0; i < nwant && i < (size_t)is.n; i++) {
        CHECK_INT(is.v[i].line, want[i].line);
        CHECK_STR(is.v[i].key, want[i].key);
        CHECK(strncmp(is.v[i].msg, want[i].msg_start, strlen(want[i].msg_start)) == 0);
    }

    /* ks_config_check writes the same, one line each. */
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    CHECK_INT(ks_config_check(FIX("many_errors.yaml"), out), (int)nwant);
    fclose(out);
    int lines = 0;
    for (size_t i = 0; i < len; i++) {
        lines += text[i] == '\n';
    }
    CHECK_INT(lines, (int)nwant);
    CHECK(strncmp(text, "tests/unit/config/many_errors.yaml:2: key \"currency\": ", 54) == 0);
    free(text); /* open_memstream's buffer comes from malloc */
    LEAK_END();
}

static void unknown_keys_are_errors_at_every_level(void)
{
    LEAK_START();
    struct issues is;
    check_file(FIX("unknown_top.yaml"), &is);
    CHECK_STR(is.v[0].key, "frobnicate");
    check_file(FIX("unknown_key.yaml"), &is);
    CHECK_STR(is.v[0].key, "detectors.zero_spik");
    /* Inside a channel entry, a detector that is not per channel. */
    check_file(FIX("many_errors.yaml"), &is);
    int found = 0;
    for (int i = 0; i < is.n && i < 64; i++) {
        found += !strcmp(is.v[i].key, "channels.amazon.order_rejections");
    }
    CHECK_INT(found, 1);
    LEAK_END();
}

static void severity_names(void)
{
    CHECK_STR(ks_severity_name(KS_P1), "P1");
    CHECK_STR(ks_severity_name(KS_P2), "P2");
    CHECK_STR(ks_severity_name(KS_P3), "P3");
}

/* ---- the example and the reference ----------------------------------------- */

struct patterns {
    char v[256][96];
    int n;
};

static void add_pattern(void *ctx, const char *pattern)
{
    struct patterns *p = ctx;
    for (int i = 0; i < p->n; i++) {
        if (!strcmp(p->v[i], pattern)) {
            return;
        }
    }
    if (p->n < 256) {
        snprintf(p->v[p->n++], sizeof(p->v[0]), "%s", pattern);
    }
}

static void example_file_is_valid_and_sets_every_key(void)
{
    LEAK_START();
    struct issues is;
    CHECK_INT(check_file("examples/kintsugi.yaml", &is), 0);
    for (int i = 0; i < is.n && i < 64; i++) {
        fprintf(stderr, "  example: %d: %s: %s\n", is.v[i].line, is.v[i].key, is.v[i].msg);
    }
    static struct patterns all, set;
    memset(&all, 0, sizeof(all));
    memset(&set, 0, sizeof(set));
    ks_config_each_key(add_pattern, &all);
    CHECK(all.n > 60);
    CHECK_INT(ks_config_each_set("examples/kintsugi.yaml", add_pattern, &set), 0);
    for (int i = 0; i < all.n; i++) {
        int hit = 0;
        for (int j = 0; j < set.n && !hit; j++) {
            hit = !strcmp(all.v[i], set.v[j]);
        }
        if (!hit) {
            fprintf(stderr, "  examples/kintsugi.yaml does not set %s\n", all.v[i]);
        }
        CHECK(hit);
    }
    LEAK_END();
}

static void docs_config_md_is_the_generated_reference(void)
{
    LEAK_START();
    char *gen = NULL;
    size_t glen = 0;
    FILE *out = open_memstream(&gen, &glen);
    ks_config_reference(out);
    fclose(out);
    size_t flen = 0;
    char *file = t_slurp("docs/CONFIG.md", &flen);
    CHECK(file != NULL);
    if (file) {
        if (flen != glen || memcmp(file, gen, glen) != 0) {
            fprintf(stderr, "  docs/CONFIG.md is stale: run "
                            "`kintsugi check-config --reference > docs/CONFIG.md`\n");
            CHECK(!"docs/CONFIG.md differs from ks_config_reference");
        }
    }
    /* Every key appears in it with its full path. */
    static struct patterns all;
    memset(&all, 0, sizeof(all));
    ks_config_each_key(add_pattern, &all);
    for (int i = 0; i < all.n; i++) {
        char needle[128];
        snprintf(needle, sizeof(needle), "| `%s` |", all.v[i]);
        CHECK(strstr(gen, needle) != NULL);
    }
    ks_free(file);
    free(gen);
    LEAK_END();
}

/* ---- the command ---------------------------------------------------------- */

static void check_config_command_exit_codes_and_output(void)
{
    LEAK_START();
    struct ks_buf out = {0}, err = {0};
    char *ok_args[] = {"examples/kintsugi.yaml"};
    CHECK_INT(run_cmd(ks_cmd_check_config, 1, ok_args, &out, &err), 0);
    CHECK_STR(out.p, "examples/kintsugi.yaml: ok\n");
    ks_buf_reset(&out);
    ks_buf_reset(&err);

    char *bad_args[] = {FIX("many_errors.yaml")};
    CHECK_INT(run_cmd(ks_cmd_check_config, 1, bad_args, &out, &err), 2);
    CHECK(out.len == 0);
    CHECK(err.p && strstr(err.p, "many_errors.yaml:16: key \"sla.ack.P1\"") != NULL);
    ks_buf_reset(&out);
    ks_buf_reset(&err);

    char *json_args[] = {FIX("bad_percent.yaml"), "--json"};
    CHECK_INT(run_cmd(ks_cmd_check_config, 2, json_args, &out, &err), 2);
    CHECK_STR(out.p, "{\"file\":\"tests/unit/config/bad_percent.yaml\",\"valid\":false,"
                     "\"errors\":[{\"line\":4,\"key\":\"detectors.zero_spike.skus_pct\","
                     "\"message\":\"must be a number between 0 and 100, got \\\"abc\\\"\"}]}\n");
    ks_buf_reset(&out);
    ks_buf_reset(&err);

    char *json_ok[] = {"--json", FIX("empty.yaml")};
    CHECK_INT(run_cmd(ks_cmd_check_config, 2, json_ok, &out, &err), 0);
    CHECK_STR(out.p, "{\"file\":\"tests/unit/config/empty.yaml\",\"valid\":true,\"errors\":[]}\n");
    ks_buf_reset(&out);
    ks_buf_reset(&err);

    char *json_syntax[] = {"--json", FIX("syntax.yaml")};
    CHECK_INT(run_cmd(ks_cmd_check_config, 2, json_syntax, &out, &err), 2);
    CHECK(strstr(out.p, "{\"line\":5,\"key\":null,\"message\":\"YAML syntax error") != NULL);
    ks_buf_reset(&out);
    ks_buf_reset(&err);

    char *ref_args[] = {"--reference"};
    CHECK_INT(run_cmd(ks_cmd_check_config, 1, ref_args, &out, &err), 0);
    CHECK(out.p && strncmp(out.p, "# kintsugi configuration reference", 34) == 0);
    ks_buf_reset(&out);
    ks_buf_reset(&err);

    char *none[] = {NULL};
    CHECK_INT(run_cmd(ks_cmd_check_config, 0, none, &out, &err), 2);
    CHECK(err.p && strstr(err.p, "needs exactly one FILE") != NULL);
    ks_buf_reset(&out);
    ks_buf_reset(&err);

    char *two[] = {"a.yaml", "b.yaml"};
    CHECK_INT(run_cmd(ks_cmd_check_config, 2, two, &out, &err), 2);
    ks_buf_reset(&out);
    ks_buf_reset(&err);

    char *help[] = {"--help"};
    CHECK_INT(run_cmd(ks_cmd_check_config, 1, help, &out, &err), 0);
    CHECK(out.p && strstr(out.p, "usage: kintsugi check-config FILE") != NULL);
    ks_buf_fini(&out);
    ks_buf_fini(&err);
    LEAK_END();
}

/* ---- paths and the templates directory ----------------------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* A scratch tree: D, D/conf, D/conf/tpl; conf gets D/conf. */
static void scratch_tree(char *d, char *conf, size_t cap)
{
    CHECK(mkdtemp(d) != NULL);
    snprintf(conf, cap, "%s/conf", d);
    CHECK_INT(mkdir(conf, 0700), 0);
    char tpl[256];
    snprintf(tpl, sizeof(tpl), "%s/tpl", conf);
    CHECK_INT(mkdir(tpl, 0700), 0);
}

/* A relative messages.templates or receiver dir is read from the
 * configuration file's directory: the same file means the same directories
 * from any working directory. */
static void relative_paths_are_read_from_the_files_directory(void)
{
    LEAK_START();
    char d[] = "/tmp/ks-cfg-XXXXXX", conf[200], path[300], want[300];
    scratch_tree(d, conf, sizeof(conf));
    snprintf(path, sizeof(path), "%s/tpl/follow_up.txt", conf);
    write_file(path, "Subject: x\n\nHello {{order}}\n");
    char yaml[300];
    snprintf(yaml, sizeof(yaml), "%s/kintsugi.yaml", conf);
    write_file(yaml, "receivers:\n"
                     "  box: {dir: out}\n"
                     "  spool: {dir: ./spool/x}\n"
                     "  abs: {dir: /var/spool/kintsugi}\n"
                     "notify: {team: [box]}\n"
                     "messages:\n"
                     "  templates: ./tpl\n");
    struct ks_config cfg;
    CHECK(load_ok(&cfg, yaml));
    snprintf(want, sizeof(want), "%s/tpl", conf);
    CHECK_STR(cfg.msg_templates, want);
    const struct ks_receiver_cfg *r = ks_config_receiver(&cfg, "box");
    snprintf(want, sizeof(want), "%s/out", conf);
    CHECK(r && !strcmp(r->dir, want));
    r = ks_config_receiver(&cfg, "spool");
    snprintf(want, sizeof(want), "%s/spool/x", conf);
    CHECK(r && !strcmp(r->dir, want));
    r = ks_config_receiver(&cfg, "abs");
    CHECK(r && !strcmp(r->dir, "/var/spool/kintsugi"));
    ks_config_fini(&cfg);

    /* From the file's own directory, named without one: as written. */
    char old[4096];
    CHECK(getcwd(old, sizeof(old)) != NULL);
    CHECK_INT(chdir(conf), 0);
    CHECK(load_ok(&cfg, "kintsugi.yaml"));
    CHECK_STR(cfg.msg_templates, "./tpl");
    ks_config_fini(&cfg);
    CHECK_INT(chdir(old), 0);

    /* A broken template is found from anywhere, named by the path read. */
    write_file(path, "Subject: x\n\nHello {{name}}\n");
    struct issues is;
    CHECK_INT(check_file(yaml, &is), 1);
    snprintf(want, sizeof(want), "%s/tpl/follow_up.txt:3: unknown placeholder {{name}}", conf);
    CHECK(strncmp(is.v[0].msg, want, strlen(want)) == 0);
    CHECK_INT(chdir(d), 0);
    CHECK_INT(check_file("conf/kintsugi.yaml", &is), 1);
    CHECK_INT(is.v[0].line, 7);
    CHECK(strncmp(is.v[0].msg, "conf/tpl/follow_up.txt:3: unknown placeholder {{name}}", 54) == 0);
    CHECK_INT(chdir(old), 0);
    CHECK_INT(nftw(d, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
    LEAK_END();
}

/* A templates directory that is not there is a problem of the key, and
 * every problem of the directory is one issue: each broken template, a file
 * that is not a template. */
static void every_template_problem_is_reported(void)
{
    LEAK_START();
    char d[] = "/tmp/ks-cfg-XXXXXX", conf[200], path[300], want[1024];
    scratch_tree(d, conf, sizeof(conf));
    char yaml[300];
    snprintf(yaml, sizeof(yaml), "%s/kintsugi.yaml", conf);
    write_file(yaml, "currency: USD\nmessages:\n  shop: Shop\n  templates: nowhere\n");
    struct issues is;
    CHECK_INT(check_file(yaml, &is), 1);
    CHECK_INT(is.v[0].line, 4);
    CHECK_STR(is.v[0].key, "messages.templates");
    snprintf(want, sizeof(want), "%s/nowhere: no such directory", conf);
    CHECK_STR(is.v[0].msg, want);
    struct ks_config cfg;
    struct ks_err err = {0};
    CHECK_INT(ks_config_load(&cfg, yaml, &err), KS_EUSAGE);
    snprintf(want, sizeof(want), "%s:4: key \"messages.templates\": %s/nowhere: no such directory",
             yaml, conf);
    CHECK_STR(err.msg, want);
    ks_config_fini(&cfg);

    write_file(yaml, "currency: USD\nmessages:\n  shop: Shop\n  templates: tpl\n");
    static const char *const files[][2] = {
        {"incident.txt", "Subject: x\n\nA }} b\n"},
        {"follow_up.txt", "Subject: x\n\nHello {{shop\n"},
        {"order_delay.txt", "Subject: x\n\n{{bogus}}\n"},
        {"customer-notice.txt", "Subject: x\n\nHello {{order}}\n"},
        {"update.txt~", "an editor's backup {{"},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/tpl/%s", conf, files[i][0]);
        write_file(path, files[i][1]);
    }
    static const char *const msgs[] = {
        "customer-notice.txt: not a template: known ones are incident, update, reminder, "
        "customer_notice, follow_up and order_delay, each NAME.txt or NAME.md (did you mean "
        "customer_notice.txt?)",
        "follow_up.txt:3: unclosed or malformed placeholder \"{{shop\"",
        "incident.txt:3: \"}}\" without an opening \"{{\"",
        "order_delay.txt:3: unknown placeholder {{bogus}} for the order_delay template",
    };
    CHECK_INT(check_file(yaml, &is), 4);
    for (int i = 0; i < 4 && i < is.n; i++) {
        CHECK_INT(is.v[i].line, 4);
        CHECK_STR(is.v[i].key, "messages.templates");
        snprintf(want, sizeof(want), "%s/tpl/%s", conf, msgs[i]);
        CHECK(strncmp(is.v[i].msg, want, strlen(want)) == 0);
    }

    /* check-config: one line each, one element each with --json. */
    struct ks_buf out = {0}, errb = {0};
    char *args[] = {yaml};
    CHECK_INT(run_cmd(ks_cmd_check_config, 1, args, &out, &errb), 2);
    int lines = 0;
    for (size_t i = 0; i < errb.len; i++) {
        lines += errb.p[i] == '\n';
    }
    CHECK_INT(lines, 4);
    for (int i = 0; i < 4; i++) {
        snprintf(want, sizeof(want), "%s:4: key \"messages.templates\": %s/tpl/%s", yaml, conf,
                 msgs[i]);
        CHECK(errb.p && strstr(errb.p, want) != NULL);
    }
    ks_buf_reset(&out);
    ks_buf_reset(&errb);
    char *jargs[] = {"--json", yaml};
    CHECK_INT(run_cmd(ks_cmd_check_config, 2, jargs, &out, &errb), 2);
    int elems = 0;
    for (const char *p = out.p; p && (p = strstr(p, "{\"line\":4,\"key\":\"messages.templates\""));
         p++) {
        elems++;
    }
    CHECK_INT(elems, 4);
    ks_buf_fini(&out);
    ks_buf_fini(&errb);
    CHECK_INT(nftw(d, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
    LEAK_END();
}

/* A value quoted in a message is cut at 60 bytes, never inside a UTF-8
 * character (libyaml hands over UTF-16 files as UTF-8). */
static void quoted_value_is_cut_between_characters(void)
{
    char in[80], out[96];
    memset(in, 'a', 59);
    memcpy(in + 59, "\xc3\xa9z", 4); /* e-acute over the 60th byte */
    ks_key_quote(in, 62, out, sizeof(out));
    CHECK_INT((int)strlen(out), 1 + 59 + 3 + 1);
    CHECK(!strcmp(out + 60, "...\""));
    ks_key_quote(in, 61, out, sizeof(out)); /* 61 bytes: "a"x59 and the whole e-acute */
    CHECK(!strcmp(out + 60, "...\""));
    ks_key_quote(in + 50, 11, out, sizeof(out));
    CHECK_STR(out, "\"aaaaaaaaa\xc3\xa9\"");
    ks_key_quote("\xe2\x82", 2, out, sizeof(out)); /* a character cut in the input itself */
    CHECK_INT((int)strlen(out), 4);
}

/* What a store may keep of a configuration (ks_config_redacted): the text
 * without its secrets loads again, as if it were the file, to the same rules;
 * only where messages and hook calls go is cut down to scheme, host and port. */
static void redacted_text_loads_without_its_secrets(void)
{
    LEAK_START();
    struct ks_config a, b, c;
    struct ks_err err = {0};
    CHECK(load_ok(&a, "examples/kintsugi.yaml"));
    size_t flen = 0;
    char *file = t_slurp("examples/kintsugi.yaml", &flen);
    CHECK(a.source != NULL && a.source_len == flen && !memcmp(a.source, file, flen));
    ks_free(file);
    struct ks_buf r = {0}, r2 = {0};
    ks_config_redacted(a.source, a.source_len, &r);
    CHECK(r.len > 0);
    CHECK(r.p && !strstr(r.p, "change-me") && !strstr(r.p, "Bearer"));
    CHECK_INT(ks_config_load_text(&b, "examples/kintsugi.yaml", r.p, r.len, &err), KS_OK);
    CHECK_STR(err.msg, "");
    CHECK_INT(b.nroles, a.nroles);
    CHECK_INT(b.npeople, a.npeople);
    CHECK_INT(b.nhooks, a.nhooks);
    CHECK_INT(b.nreceivers, a.nreceivers);
    CHECK_INT(b.nchannels, a.nchannels);
    CHECK_INT(b.nsystems, a.nsystems);
    CHECK_STR(b.msg_shop, a.msg_shop);
    CHECK_INT(b.systems[0].down_after, a.systems[0].down_after);
    const struct ks_hook_cfg *h = ks_config_hook(&b, "stop_order_import");
    CHECK(h && !strcmp(h->url, "https://oms.internal") && h->nheaders == 1 &&
          !strcmp(h->headers[0].value, "redacted") && h->retries == 5);
    const struct ks_receiver_cfg *m = ks_config_receiver(&b, "mail");
    CHECK(m && !strcmp(m->smtp, "smtp://127.0.0.1:2525"));
    /* the same again: nothing more to take */
    ks_config_redacted(b.source, b.source_len, &r2);
    CHECK_INT(r2.len, r.len);
    CHECK(r2.p && r.p && !memcmp(r2.p, r.p, r.len));
    ks_config_fini(&b);
    ks_config_fini(&a);

    /* credentials in URLs, headers, passwords and commands; UTF-8 kept */
    const char *text = "receivers:\n"
                       "  m: {smtp: \"smtps://ops:hunter2@mail.example:465/x\", from: "
                       "\"ops@shop.example\", username: ops, password: hunter2}\n"
                       "  n: {smtp: \"smtp://u@?q\", from: \"ops@shop.example\", "
                       "username: ops, password: &three 3}\n"
                       "  w:\n"
                       "    webhook: https://hooks.example/services/T0/B0/SECRET1?x=1\n"
                       "    headers: {Authorization: \"Bearer SECRET2\"}\n"
                       "hooks:\n"
                       "  stop_order_import: {command: \"curl -H 'X-Token: SECRET3' x\"}\n"
                       "  resume_order_import: {url: \"http://u:SECRET4@oms.example:8080\", "
                       "retries: *three}\n"
                       "messages: {shop: \"Caf\xc3\xa9 \xc3\x9c" "ber\"}\n";
    CHECK_INT(ks_config_load_text(&a, "/nowhere/kintsugi.yaml", text, strlen(text), &err), KS_OK);
    CHECK_STR(err.msg, "");
    ks_config_redacted(a.source, a.source_len, &r);
    CHECK(r.p && !strstr(r.p, "hunter2") && !strstr(r.p, "SECRET"));
    CHECK_INT(ks_config_load_text(&c, "/nowhere/kintsugi.yaml", r.p, r.len, &err), KS_OK);
    CHECK_STR(err.msg, "");
    m = ks_config_receiver(&c, "m");
    CHECK(m && !strcmp(m->smtp, "smtps://mail.example:465") && !strcmp(m->password, "redacted") &&
          !strcmp(m->username, "ops"));
    m = ks_config_receiver(&c, "w");
    CHECK(m && !strcmp(m->webhook, "https://hooks.example") && m->nheaders == 1 &&
          !strcmp(m->headers[0].value, "redacted"));
    h = ks_config_hook(&c, "stop_order_import");
    CHECK(h && !strcmp(h->command, "redacted"));
    m = ks_config_receiver(&c, "n"); /* still a URL; the alias keeps its value */
    CHECK(m && !strcmp(m->smtp, "smtp://redacted") && !strcmp(m->password, "redacted"));
    h = ks_config_hook(&c, "resume_order_import");
    CHECK(h && !strcmp(h->url, "http://oms.example:8080") && h->retries == 3);
    CHECK_STR(c.msg_shop, "Caf\xc3\xa9 \xc3\x9c" "ber");
    /* not YAML: nothing */
    ks_config_redacted("a: [", 4, &r);
    CHECK_INT(r.len, 0);
    ks_config_fini(&c);
    ks_config_fini(&a);
    ks_buf_fini(&r);
    ks_buf_fini(&r2);
    LEAK_END();
}

int main(void)
{
    RUN(defaults_equal_spec_values);
    RUN(defaults_own_no_memory);
    RUN(empty_file_is_valid_and_all_defaults);
    RUN(full_file_overrides_every_key);
    RUN(metric_rules_are_parsed_with_defaults);
    RUN(roles_and_people_are_parsed);
    RUN(hooks_are_parsed_with_defaults);
    RUN(webhook_receivers_are_parsed_like_hooks);
    RUN(action_names_are_one_table_with_help);
    RUN(channel_override_inherits_detectors_regardless_of_order);
    RUN(each_error_kind_reports_its_line_and_key);
    RUN(load_message_names_file_line_and_key);
    RUN(failed_load_leaves_defaults);
    RUN(check_collects_every_error_in_line_order);
    RUN(unknown_keys_are_errors_at_every_level);
    RUN(severity_names);
    RUN(example_file_is_valid_and_sets_every_key);
    RUN(docs_config_md_is_the_generated_reference);
    RUN(check_config_command_exit_codes_and_output);
    RUN(relative_paths_are_read_from_the_files_directory);
    RUN(every_template_problem_is_reported);
    RUN(quoted_value_is_cut_between_characters);
    RUN(redacted_text_loads_without_its_secrets);
    return t_done();
}
