/*
 * keys.c - the reviews' keys of kintsugi.yaml (see src/config/keys.h): the
 * monthly sample of P3 reviews, the retention window, and the cost model.
 * The values live in struct ks_config (config.h).
 */
#include "review.h"

#define CFG(f) .base = NULL, .off = offsetof(struct ks_config, f)

static const struct ks_key review_keys[] = {
    {.name = "p3_monthly_sample",
     .type = KS_KEY_INT,
     CFG(review_p3_sample),
     .def = "2",
     .min = 0,
     .help = "P3 incidents drawn for a post-incident review each calendar month (UTC): the "
             "first this many resolved in the month, in order of resolution. Their review is "
             "due `sla.review_due` after resolution, like P1 and P2."},
    {.name = "retention_window",
     .type = KS_KEY_DURATION,
     CFG(retention_window),
     .def = "30d",
     .flags = KS_KEY_POSITIVE,
     .help = "An affected customer is retained when they place an accepted order within this "
             "after the incident's resolution (the retention metric and the churn cost)."},
    {.name = NULL} /* end */
};

static const struct ks_key cost_keys[] = {
    {.name = "hourly_rate",
     .type = KS_KEY_NUMBER,
     CFG(cost_hourly_rate),
     .def = "50",
     .help = "What an hour of a person's time costs when their role has no `hourly_rate`."},
    {.name = "min_person_time",
     .type = KS_KEY_DURATION,
     CFG(cost_min_person),
     .def = "30m",
     .help = "A person who acted on an incident is counted for at least this long."},
    {.name = "per_order",
     .type = KS_KEY_NUMBER,
     CFG(cost_per_order),
     .def = "0",
     .help = "Shipping and handling cost of each affected order (direct cost)."},
    {.name = "per_unit",
     .type = KS_KEY_NUMBER,
     CFG(cost_per_unit),
     .def = "0",
     .help = "Restocking cost of each affected unit (direct cost)."},
    {.name = "lifetime_value",
     .type = KS_KEY_NUMBER,
     CFG(cost_lifetime_value),
     .def = "250",
     .help = "Lifetime value of a customer: what a customer who does not return costs."},
    {.name = "churn_rate",
     .type = KS_KEY_PERCENT,
     CFG(cost_churn_pct),
     .def = "15",
     .help = "Share of affected customers expected not to return, used until "
             "`review.retention_window` has passed after resolution."},
    {.name = NULL} /* end */
};

const struct ks_key ks_review_keys[] = {
    {.name = "review",
     .type = KS_KEY_SECTION,
     .sub = review_keys,
     .help = "Post-incident reviews and the recovery metrics (docs/REVIEWS.md)."},
    {.name = "cost",
     .type = KS_KEY_SECTION,
     .sub = cost_keys,
     .help = "The cost of a mistake: direct, response, churn (docs/REVIEWS.md)."},
    {.name = NULL} /* end */
};
