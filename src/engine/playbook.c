/*
 * playbook.c - the inventory playbook's four procedures (SPEC section 5), and
 * a short generic one for the other incident types, as data: each step has
 * a phase (contain -> diagnose -> resolve -> verify) and a kind - automated
 * (kintsugi does it and records it), manual (a person ticks it with `kintsugi
 * incident step`), or approval (kintsugi proposes, a person whose role allows
 * it approves with `kintsugi action approve`). Steps of a branch that does
 * not apply to an incident are marked n/a when the branch is known. An
 * automated step whose hook is not configured or gave up is left to a person
 * (left_to_person, contain.c), who ticks it as a manual one.
 */
#include "engine_int.h"

#include <string.h>

#define A KS_STEP_AUTO
#define M KS_STEP_MANUAL
#define P KS_STEP_APPROVAL
#define C KS_PH_CONTAIN
#define D KS_PH_DIAGNOSE
#define R KS_PH_RESOLVE
#define V KS_PH_VERIFY

static const struct ks_step_def sync_failure[] = {
    {"identify_channels", C, A, NULL, "Identify the stale channels"},
    {"source_check", C, A, NULL, "Is the source still generating events? (pipeline vs. source failure)"},
    {"zero_low_stock", C, A, NULL, "Zero low-stock SKUs (qty <= low_stock) on the stale channels"},
    {"zero_channel", C, P, "zero_channel", "Zero all inventory of the channel (proposed when the outage passes 2 h)"},
    {"error_hints", D, A, NULL, "Read the sync error classes (auth, rate_limit, api, timeout)"},
    {"fix_pipeline", R, M, NULL, "Fix the pipeline or the source (token, rate, platform)"},
    {"push_quantities", R, M, "push_quantities", "Push current quantities to the channel"},
    {"syncs_flowing", V, M, NULL, "Syncs are flowing again"},
    {"full_reconcile", V, M, NULL, "Full reconciliation against stock (kintsugi reconcile)"},
    {"oversold_orders", V, M, NULL, "Review the orders oversold during the outage"},
    {"stable_2h", V, M, NULL, "Two hours of stability"},
};

static const struct ks_step_def data_corruption[] = {
    {"pause_all", C, A, NULL, "Pause outbound sync to all channels (held updates are kept)"},
    {"zero_risen", C, A, NULL, "Zero SKUs whose quantity rose (phantom stock, oversell risk)"},
    {"hold_fallen", C, A, NULL, "Hold SKUs whose quantity fell at their last known good value"},
    {"lineage", D, A, NULL, "Scope: SKUs, channels and the source that produced the bad update"},
    {"rollback", R, M, NULL, "Restore every affected SKU to its last known good quantity (kintsugi guard rollback)"},
    {"release", R, M, NULL, "Release sync (kintsugi guard release --all)"},
    {"reconcile_all", R, M, NULL, "Reconcile all channels (kintsugi reconcile)"},
    {"spot_check", V, M, NULL, "Spot-check 20 affected SKUs against stock"},
    {"oversold_orders", V, M, NULL, "List the orders placed in the corruption window that oversold"},
    {"cancel_orders", V, P, "cancel_orders", "Cancel oversold orders and remediate the customers"},
};

static const struct ks_step_def system_outage[] = {
    {"stop_order_import", C, A, "stop_order_import", "Stop order import"},
    {"reroute_orders", C, P, "reroute_orders", "Single location down, others up: reroute its orders"},
    {"reduce_location_inventory", C, A, "reduce_channel_inventory", "Single location down: reduce that location's channel inventory"},
    {"hold_orders", C, A, "hold_orders", "Complete outage (< 4 h): hold orders"},
    {"extend_handling_time", C, A, "extend_handling_time", "Complete outage (< 4 h): extend handling time"},
    {"reduce_channel_inventory", C, A, "reduce_channel_inventory", "Complete outage past 4 h: reduce channel inventory"},
    {"pause_listings", C, P, "pause_listings", "Complete outage past 24 h: pause listings on the highest-volume channels"},
    {"customer_notice", C, M, NULL, "Delay past 24 h: proactive notice to affected customers"},
    {"diagnose_system", D, M, NULL, "Find why the system is down"},
    {"restore_system", R, M, NULL, "Restore the system"},
    {"resume_order_import", R, M, "resume_order_import", "Resume order import"},
    {"backlog_processed", V, M, NULL, "The order backlog is processed and shipping dates hold"},
};

static const struct ks_step_def supplier_shortfall[] = {
    {"record_discrepancy", C, A, NULL, "Record the discrepancy per purchase order"},
    {"quarantine_damaged", C, A, NULL, "Quarantine damaged units (never sellable stock)"},
    {"accept_partial", R, M, NULL, "Shortage < 20 %: accept the partial receipt"},
    {"adjust_sellable", R, A, NULL, "Shortage < 20 %: adjust inventory to the sellable quantity"},
    {"file_claim", R, M, NULL, "Shortage < 20 %: file a claim with the supplier"},
    {"contact_supplier", R, A, "notify_supplier", "Shortage >= 20 % or wrong products: contact the supplier"},
    {"alternate_source", R, M, NULL, "Shortage >= 20 % or wrong products: alternate source or reduced availability"},
    {"reorder_earlier", R, M, NULL, "Shortage >= 20 % or wrong products: reorder earlier"},
    {"stock_verified", V, M, NULL, "Stock of record matches the sellable quantity"},
};

static const struct ks_step_def generic[] = {
    {"assess_scope", D, M, NULL, "Assess scope and customer impact"},
    {"find_cause", D, M, NULL, "Find the cause"},
    {"fix", R, M, NULL, "Fix it"},
    {"verify", V, M, NULL, "Verify the fix holds"},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

const struct ks_step_def *ks_pb_steps(enum ks_itype type, size_t *n)
{
    switch (type) {
    case KS_IT_SYNC_FAILURE:
        *n = N(sync_failure);
        return sync_failure;
    case KS_IT_DATA_CORRUPTION:
        *n = N(data_corruption);
        return data_corruption;
    case KS_IT_SYSTEM_OUTAGE:
        *n = N(system_outage);
        return system_outage;
    case KS_IT_SUPPLIER_SHORTFALL:
        *n = N(supplier_shortfall);
        return supplier_shortfall;
    default:
        *n = N(generic);
        return generic;
    }
}

static const char *status_names[] = {"pending",  "done", "skipped",       "proposed",
                                     "approved", "n/a",  "left_to_person"};
static const char *phase_names[] = {"contain", "diagnose", "resolve", "verify"};
static const char *kind_names[] = {"automated", "manual", "approval"};

const char *ks_step_status_name(enum ks_step_status s)
{
    return (unsigned)s < N(status_names) ? status_names[s] : "?";
}

void ks_pb_attach(struct ks_incident *inc)
{
    size_t n;
    ks_pb_steps((enum ks_itype)inc->type, &n);
    inc->steps = ks_calloc(n, sizeof(*inc->steps));
    inc->nsteps = n;
    for (size_t i = 0; i < n; i++) {
        inc->steps[i].at = KS_TIME_NONE;
    }
}

int ks_pb_index(const struct ks_incident *inc, const char *key)
{
    size_t n;
    const struct ks_step_def *d = ks_pb_steps((enum ks_itype)inc->type, &n);
    for (size_t i = 0; i < n && i < inc->nsteps; i++) {
        if (strcmp(d[i].key, key) == 0) {
            return (int)i;
        }
    }
    return -1;
}

void ks_pb_mark(struct ks_engine *e, struct ks_incident *inc, const char *key,
                enum ks_step_status st, const char *by, ks_time at, const char *note)
{
    int i = ks_pb_index(inc, key);
    if (i < 0) {
        return;
    }
    struct ks_step *s = &inc->steps[i];
    s->status = (uint8_t)st;
    s->at = at;
    ks_free(s->by);
    s->by = by ? ks_strdup(by) : NULL;
    if (note) {
        ks_free(s->note);
        s->note = ks_strdup(note);
    }
    ks_inc_dirty(e, inc);
}

void ks_pb_render(const struct ks_incident *inc, struct ks_json *j)
{
    size_t n;
    const struct ks_step_def *d = ks_pb_steps((enum ks_itype)inc->type, &n);
    ks_json_arr_begin(j);
    for (size_t i = 0; i < n && i < inc->nsteps; i++) {
        const struct ks_step *s = &inc->steps[i];
        ks_json_obj_begin(j);
        ks_json_key(j, "step");
        ks_json_str(j, d[i].key);
        ks_json_key(j, "phase");
        ks_json_str(j, phase_names[d[i].phase]);
        ks_json_key(j, "kind");
        ks_json_str(j, kind_names[d[i].kind]);
        ks_json_key(j, "status");
        ks_json_str(j, status_names[s->status]);
        ks_json_key(j, "by");
        ks_json_str(j, s->by);
        ks_json_key(j, "at");
        ks_json_time(j, s->at);
        ks_json_key(j, "text");
        ks_json_str(j, d[i].text);
        if (d[i].action) {
            ks_json_key(j, "action");
            ks_json_str(j, d[i].action);
        }
        if (s->note) {
            ks_json_key(j, "note");
            ks_json_str(j, s->note);
        }
        ks_json_obj_end(j);
    }
    ks_json_arr_end(j);
}
