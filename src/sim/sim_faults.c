/* sim_faults.c - the simulator's fault table and the parser of fault lists. */
#include "sim.h"

#include <string.h>

/*
 * span: the time a fault holds on the timeline, from its scheduled start to
 * the last effect the truth counts (detection, escalation), with a margin.
 * The simulator lays faults out one after another so that no two spans
 * overlap (docs/SIMULATOR.md).
 */
const struct ks_sim_fault_info ks_sim_fault_table[KS_SIM_NFAULTS] = {
    {"stall-one", "sync_failure",
     "one channel's syncs fail (error rate_limit) for 1h45m: P3 at last ok + 30 min, P2 1 h later",
     135 * KS_MIN},
    {"stall-all", "sync_failure",
     "every channel's syncs stop for 1h45m: one incident, P1 once the last channel is stale",
     135 * KS_MIN},
    {"zero-spike", "data_corruption",
     "a csv import pushed to one channel zeroes 30 % of its active SKUs: P1", 30 * KS_MIN},
    {"shift", "data_corruption",
     "one erp update multiplies a channel's quantities by 10 (cases for units): P2", 30 * KS_MIN},
    {"wms-one", "system_outage",
     "one WMS location reports down for 45 min: P2 at last up + 5 min, P1 15 min later",
     60 * KS_MIN},
    {"wms-all", "system_outage",
     "every WMS location goes silent for 30 min: P1 once the last location is down", 45 * KS_MIN},
    {"rejections", "order_rejections",
     "25 % of orders are rejected (validation_failed) for 45 min: P2", 75 * KS_MIN},
    {"supplier-short", "supplier_shortfall",
     "a purchase order arrives a third short, line by line: P3 at 10 %, then P2", 20 * KS_MIN},
    {"supplier-wrong", "supplier_shortfall", "a purchase order line of wrong products: P2",
     20 * KS_MIN},
    {"supplier-damaged", "supplier_shortfall",
     "a purchase order line with 60 % of the units damaged: P2", 20 * KS_MIN},
    {"complaint-spike", "fulfillment_error",
     "12 wrong_item complaints about one SKU within 2 hours: P3 at the 10th", 195 * KS_MIN},
    {"schema-change", "feed_schema_change",
     "half of erp's inventory lines say \"quantity\" instead of \"qty\" for 20-30 min: P2",
     45 * KS_MIN},
    {"volume-drop", "volume_drop",
     "one channel's inventory events fall to 20 % for 3 h (needs 24 h of history): P3",
     195 * KS_MIN},
    {"metric-drop", "metric_anomaly",
     "conversion_rate falls by 60 % for 1 h (an incident only with a metric rule)", 75 * KS_MIN},
};

int ks_sim_fault_find(const char *s, size_t n)
{
    for (int f = 0; f < KS_SIM_NFAULTS; f++) {
        if (strlen(ks_sim_fault_table[f].name) == n &&
            memcmp(ks_sim_fault_table[f].name, s, n) == 0) {
            return f;
        }
    }
    return -1;
}

enum ks_rc ks_sim_parse_faults(const char *list, unsigned *bits, int *all, struct ks_err *err)
{
    const char *p = list;
    int named = 0;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        /* Tolerate spaces around names ("a, b"). */
        const char *q = p;
        size_t m = n;
        while (m && (*q == ' ' || *q == '\t')) {
            q++, m--;
        }
        while (m && (q[m - 1] == ' ' || q[m - 1] == '\t')) {
            m--;
        }
        named += m > 0;
        if (m == 3 && memcmp(q, "all", 3) == 0) {
            *bits |= KS_SIM_ALL_FAULTS;
            if (all) {
                *all = 1;
            }
        } else if (m) {
            int f = ks_sim_fault_find(q, m);
            if (f < 0) {
                return ks_err_set(err, KS_EUSAGE, "unknown fault '%.*s'", (int)m, q);
            }
            *bits |= KS_SIM_BIT(f);
        }
        p += n;
        if (*p == ',') {
            p++;
        }
    }
    if (!named) {
        /* "--fault ''" asks for a fault: say there is none rather than run
         * without one */
        return ks_err_set(err, KS_EUSAGE, "'%s' names no fault", list);
    }
    return KS_OK;
}
