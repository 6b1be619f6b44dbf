/*
 * contain.c - the automated steps of the playbooks (SPEC section 5) that are
 * not the guard's own: stale-channel containment and diagnosis, warehouse
 * outage actions, supplier branches; hook calls as effects; approvals, manual
 * steps, reconciliation and verification.
 */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

size_t ks_engine_hooks(const struct ks_engine *e, const struct ks_hook_effect **out)
{
    *out = e->hooks;
    return e->nhooks;
}

void ks_eng_hook(struct ks_engine *e, struct ks_incident *inc, const char *action,
                 const char *detail_json)
{
    struct ks_buf body = {0}, key = {0};
    char at[32];
    ks_time_fmt(e->clock, at);
    ks_buf_printf(&body, "{\"action\":\"%s\",\"incident\":%lld,\"type\":\"%s\",\"severity\":\"%s\","
                         "\"at\":\"%s\",\"detail\":%s}",
                  action, (long long)inc->id, ks_itype_name((enum ks_itype)inc->type),
                  ks_severity_name(inc->severity), at, detail_json ? detail_json : "{}");
    ks_buf_printf(&key, "kintsugi-%lld-%s-%llu", (long long)inc->id, action,
                  (unsigned long long)++e->hook_seq);
    KS_GROW(e->hooks, e->caphooks, e->nhooks + 1);
    e->hooks[e->nhooks++] = (struct ks_hook_effect){inc->id, ks_strdup(action), body.p, key.p};
    ks_inc_tl(e, inc, e->clock, KS_TL_ACTION, "kintsugi", "Hook %s requested (idempotency key %s)",
              action, key.p);
}

ks_time ks_engine_hook_requested(const char *body)
{
    /* ks_eng_hook writes "at" right after the action, incident, type and
     * severity, none of which can hold it: the first one is the call's */
    const char *p = body ? strstr(body, ",\"at\":\"") : NULL;
    const char *end = p ? strchr(p + 7, '"') : NULL;
    ks_time t;
    if (!end || ks_time_parse(p + 7, (size_t)(end - p - 7), &t, NULL) != 0) {
        return KS_TIME_NONE;
    }
    return t;
}

/* The step that asked for a call for action at requested, among the steps
 * with that action kintsugi took care of: an automated step done by it, an
 * approval step carried out at its approval (done at that very instant), or
 * either left to a person (a step a person ticked is theirs). The one taken
 * at that very instant, else the one taken last before it (taken at the
 * instant of a late event, behind the clock); the first one when requested
 * is unknown (a result journaled without it). -1 when there is none. */
static int hook_step(const struct ks_incident *inc, const char *action, ks_time requested)
{
    size_t n;
    const struct ks_step_def *d = ks_pb_steps((enum ks_itype)inc->type, &n);
    int found = -1;
    for (size_t i = 0; i < n && i < inc->nsteps; i++) {
        const struct ks_step *st = &inc->steps[i];
        int kintsugis;
        if (d[i].kind == KS_STEP_AUTO) {
            kintsugis = st->status == KS_SS_LEFT ||
                        (st->status == KS_SS_DONE && st->by && !strcmp(st->by, "kintsugi"));
        } else {
            kintsugis = d[i].kind == KS_STEP_APPROVAL &&
                        (st->status == KS_SS_LEFT || (st->status == KS_SS_DONE &&
                                                      requested != KS_TIME_NONE &&
                                                      st->at == requested));
        }
        if (!kintsugis || !d[i].action || strcmp(d[i].action, action) != 0) {
            continue;
        }
        if (requested == KS_TIME_NONE || st->at == requested) {
            return (int)i;
        }
        if (st->at < requested && (found < 0 || st->at > inc->steps[found].at)) {
            found = (int)i;
        }
    }
    return found;
}

/* The step of the call is left to a person, or (ok) kintsugi's again after
 * a call made again went through, unless a person ticked it meanwhile. Its
 * instant stays the one kintsugi took it at: the same whenever the outcome
 * came. */
static void hook_step_outcome(struct ks_engine *e, struct ks_incident *inc, const char *action,
                              ks_time requested, int ok)
{
    int i = hook_step(inc, action, requested);
    if (i < 0) {
        return;
    }
    size_t n;
    const struct ks_step_def *d = ks_pb_steps((enum ks_itype)inc->type, &n);
    struct ks_step *st = &inc->steps[i];
    if (!ok && st->status == KS_SS_DONE) {
        ks_pb_mark(e, inc, d[i].key, KS_SS_LEFT, NULL, st->at, NULL);
    } else if (ok && st->status == KS_SS_LEFT) {
        /* an approved action carried out after all: the approval's record
         * (who, role) stays on the timeline */
        ks_pb_mark(e, inc, d[i].key, KS_SS_DONE, "kintsugi", st->at, NULL);
    }
}

void ks_engine_hook_result(struct ks_engine *e, int64_t id, const char *action, ks_time requested,
                           int attempt, int ok, int final, const char *detail)
{
    struct ks_incident *inc = ks_inc_get(e, id);
    if (!inc) {
        return;
    }
    ks_time at = e->clock == KS_TIME_NONE ? 0 : e->clock;
    if (attempt == 0) {
        /* Known when the call was asked for: its entry is stamped then, the
         * same however the input was split and whenever the shell looked
         * (a call journaled without that instant: when its step was taken). */
        int i = hook_step(inc, action, requested);
        if (requested != KS_TIME_NONE && requested < at) {
            at = requested;
        } else if (requested == KS_TIME_NONE && i >= 0 && inc->steps[i].at < at) {
            at = inc->steps[i].at;
        }
        ks_inc_tl(e, inc, at, KS_TL_ACTION, "kintsugi",
                  "Hook %s is not configured (%s): do it by hand and tick the step", action,
                  detail);
    } else if (ok) {
        ks_inc_tl(e, inc, at, KS_TL_ACTION, "kintsugi", "Hook %s attempt %d: ok (%s)", action,
                  attempt, detail);
    } else if (!final) {
        ks_inc_tl(e, inc, at, KS_TL_ACTION, "kintsugi", "Hook %s attempt %d failed (%s); it will "
                                                        "be retried",
                  action, attempt, detail);
    } else {
        ks_inc_tl(e, inc, at, KS_TL_ACTION, "kintsugi",
                  "Hook %s gave up after %d attempts (%s): do it by hand and tick the step", action,
                  attempt, detail);
    }
    if (attempt == 0 || ok || final) {
        hook_step_outcome(e, inc, action, requested, ok);
    }
}

/* ---- sync pipeline failure ------------------------------------------------------- */

static const char *hint(enum ks_sync_error k)
{
    switch (k) {
    case KS_SYNCERR_AUTH:
        return "auth errors: refresh the channel's API token or credentials";
    case KS_SYNCERR_RATE_LIMIT:
        return "rate_limit errors: slow the pushes down and queue them";
    case KS_SYNCERR_API:
        return "api errors: the platform has an outage; watch its status page and raise the "
               "stock buffer";
    case KS_SYNCERR_TIMEOUT:
        return "timeouts: the platform or the network is slow; retry with backoff";
    default:
        return "other errors: read the sync details";
    }
}

void ks_contain_stale(struct ks_engine *e, struct ks_channel *c, struct ks_incident *inc,
                      ks_time at, int fresh)
{
    const char *chname = ks_intern_str(&e->strs, c->name);
    char chans[256];
    ks_inc_channel_list(e, inc, chans, sizeof(chans));
    ks_pb_mark(e, inc, "identify_channels", KS_SS_DONE, "kintsugi", at, chans);

    char last_ok[32], last_inv[32];
    ks_time_fmt(c->last_ok, last_ok);
    if (c->last_inventory != KS_TIME_NONE && c->last_inventory > c->last_ok) {
        ks_time_fmt(c->last_inventory, last_inv);
        ks_inc_tl(e, inc, at, KS_TL_NOTE, "kintsugi",
                  "%s: the source is still generating events (last inventory event %s, after "
                  "the last ok sync %s): a pipeline failure",
                  chname, last_inv, last_ok);
    } else {
        ks_inc_tl(e, inc, at, KS_TL_NOTE, "kintsugi",
                  "%s: no inventory events since the last ok sync (%s): the source itself has "
                  "stopped, a source failure",
                  chname, last_ok);
    }
    ks_pb_mark(e, inc, "source_check", KS_SS_DONE, "kintsugi", at, NULL);

    uint64_t zeroed = 0;
    int low = c->cfg->low_stock;
    for (uint32_t s = 0; s < c->cap; s++) {
        struct ks_pair *p = &c->pairs[s];
        if ((p->flags & KS_PAIR_GUARDED) && p->guarded > 0 && p->guarded <= (uint32_t)low) {
            ks_guard_push(e, c, s, 0, at, KS_WHY_LOW_STOCK, inc->id);
            zeroed++;
        }
    }
    char a[32];
    ks_inc_tl(e, inc, at, KS_TL_ACTION, "kintsugi",
              "Zeroed %s low-stock SKUs (qty <= %d) on %s while its sync is stale", ks_fmt_count(zeroed, a),
              low, chname);
    ks_pb_mark(e, inc, "zero_low_stock", KS_SS_DONE, "kintsugi", at, NULL);

    int any = 0;
    for (int k = 1; k < 6; k++) {
        if (c->err_counts[k]) {
            ks_inc_tl(e, inc, at, KS_TL_NOTE, "kintsugi", "Diagnosis for %s: %u %s", chname,
                      c->err_counts[k], hint((enum ks_sync_error)k));
            any = 1;
        }
    }
    if (!any) {
        ks_inc_tl(e, inc, at, KS_TL_NOTE, "kintsugi",
                  "Diagnosis for %s: no sync errors were reported, the pushes stopped silently: "
                  "check that the sync job runs",
                  chname);
    }
    ks_pb_mark(e, inc, "error_hints", KS_SS_DONE, "kintsugi", at, NULL);
    if (fresh) {
        inc->propose_due = inc->started_at + 2 * KS_HOUR;
        ks_eng_timer(e, inc->propose_due, KS_TM_PROPOSE, 0, inc->id);
    }
}

/* ---- warehouse / system outage --------------------------------------------------------- */

static void locations_json(const struct ks_engine *e, const struct ks_incident *inc,
                           struct ks_buf *b)
{
    ks_buf_printf(b, "{\"systems\":[");
    for (size_t i = 0; i < inc->systems.n; i++) {
        ks_buf_printf(b, "%s", i ? "," : "");
        ks_json_escape(b, ks_intern_str(&e->strs, inc->systems.v[i]),
                       ks_intern_len(&e->strs, inc->systems.v[i]));
    }
    ks_buf_printf(b, "],\"locations\":[");
    size_t n = 0;
    for (size_t i = 0; i < inc->locs.n; i++) {
        const struct ks_loc *l = &e->locs[inc->locs.v[i]];
        if (l->location != KS_NONE && l->down) {
            ks_buf_printf(b, "%s", n++ ? "," : "");
            ks_json_escape(b, ks_intern_str(&e->strs, l->location),
                           ks_intern_len(&e->strs, l->location));
        }
    }
    ks_buf_puts(b, "]}");
}

static int complete_outage(const struct ks_engine *e, const struct ks_incident *inc)
{
    if (!inc->locs.n) {
        return 0;
    }
    uint32_t sys = e->locs[inc->locs.v[0]].system;
    for (size_t i = 0; i < e->nlocs; i++) {
        if (e->locs[i].system == sys && !e->locs[i].down) {
            return 0;
        }
    }
    return 1;
}

static void step_hook(struct ks_engine *e, struct ks_incident *inc, const char *step,
                      const char *action, ks_time at)
{
    int i = ks_pb_index(inc, step);
    if (i < 0 || ks_ss_taken(inc->steps[i].status)) {
        return;
    }
    struct ks_buf b = {0};
    locations_json(e, inc, &b);
    ks_eng_hook(e, inc, action, b.p);
    ks_buf_fini(&b);
    ks_pb_mark(e, inc, step, KS_SS_DONE, "kintsugi", at, NULL);
}

static void propose(struct ks_engine *e, struct ks_incident *inc, const char *step,
                    const char *action, ks_time at, const char *what)
{
    int i = ks_pb_index(inc, step);
    if (i < 0 || inc->steps[i].status != KS_SS_PENDING) {
        return;
    }
    ks_pb_mark(e, inc, step, KS_SS_PROPOSED, "kintsugi", at, what);
    ks_inc_tl(e, inc, at, KS_TL_ACTION, "kintsugi",
              "Proposed: %s. It needs the approval of someone whose role allows %s: kintsugi "
              "action approve %lld %s --by NAME",
              what, action, (long long)inc->id, action);
}

void ks_contain_outage(struct ks_engine *e, struct ks_incident *inc, ks_time at, int fresh)
{
    if (fresh) {
        step_hook(e, inc, "stop_order_import", "stop_order_import", at);
    }
    if (complete_outage(e, inc)) {
        int r = ks_pb_index(inc, "reroute_orders");
        if (r >= 0 && inc->steps[r].status == KS_SS_PROPOSED) {
            ks_pb_mark(e, inc, "reroute_orders", KS_SS_NA, "kintsugi", at,
                       "withdrawn: every location is down, there is nowhere to reroute to");
            ks_inc_tl(e, inc, at, KS_TL_ACTION, "kintsugi",
                      "Withdrew the reroute proposal: every location is down");
        }
        step_hook(e, inc, "hold_orders", "hold_orders", at);
        step_hook(e, inc, "extend_handling_time", "extend_handling_time", at);
        if (inc->step4_due == KS_TIME_NONE) {
            inc->step4_due = inc->started_at + 4 * KS_HOUR;
            ks_eng_timer(e, inc->step4_due, KS_TM_STEP4, 0, inc->id);
            inc->step24_due = inc->started_at + 24 * KS_HOUR;
            ks_eng_timer(e, inc->step24_due, KS_TM_STEP24, 0, inc->id);
        }
    } else {
        char what[256];
        struct ks_buf b = {0};
        locations_json(e, inc, &b);
        snprintf(what, sizeof(what), "reroute the orders of the down location(s) %s to the "
                                     "locations still up",
                 b.p);
        propose(e, inc, "reroute_orders", "reroute_orders", at, what);
        ks_buf_fini(&b);
        step_hook(e, inc, "reduce_location_inventory", "reduce_channel_inventory", at);
    }
}

/* Channels by accepted order volume, highest first (the listings to pause). */
static void busiest_channels(const struct ks_engine *e, struct ks_buf *b)
{
    size_t n = e->nch < 3 ? e->nch : 3;
    char *used = ks_calloc(e->nch + 1, 1);
    for (size_t k = 0; k < n; k++) {
        size_t best = e->nch;
        for (size_t i = 0; i < e->nch; i++) {
            if (!used[i] && (best == e->nch || e->ch[i].n_tracked > e->ch[best].n_tracked)) {
                best = i;
            }
        }
        used[best] = 1;
        ks_buf_printf(b, "%s%s", k ? ", " : "", ks_intern_str(&e->strs, e->ch[best].name));
    }
    ks_free(used);
}

static void contain_timer(struct ks_engine *e, const struct ks_timer *t)
{
    struct ks_incident *inc = ks_inc_open_get(e, t->ref2);
    if (!inc) {
        return;
    }
    if (t->kind == KS_TM_PROPOSE && inc->propose_due == t->due) {
        struct ks_buf chans = {0};
        for (size_t i = 0; i < inc->channels.n; i++) {
            const struct ks_channel *c = &e->ch[inc->channels.v[i]];
            if (c->stale) {
                ks_buf_printf(&chans, "%s%s", chans.len ? ", " : "", ks_intern_str(&e->strs, c->name));
            }
        }
        if (chans.len) {
            char what[400];
            snprintf(what, sizeof(what), "zero all inventory on %s (sync stale for more than 2h)",
                     chans.p);
            propose(e, inc, "zero_channel", "zero_channel", t->due, what);
        }
        ks_buf_fini(&chans);
    } else if (t->kind == KS_TM_STEP4 && inc->step4_due == t->due && complete_outage(e, inc)) {
        step_hook(e, inc, "reduce_channel_inventory", "reduce_channel_inventory", t->due);
    } else if (t->kind == KS_TM_STEP24 && inc->step24_due == t->due && complete_outage(e, inc)) {
        struct ks_buf b = {0};
        busiest_channels(e, &b);
        char what[400];
        snprintf(what, sizeof(what), "pause listings on the highest-volume channels (%s): "
                                     "the outage passed 24h",
                 b.p ? b.p : "");
        propose(e, inc, "pause_listings", "pause_listings", t->due, what);
        ks_inc_tl(e, inc, t->due, KS_TL_NOTE, "kintsugi",
                  "The delay passed 24h: send affected customers a proactive notice");
        ks_buf_fini(&b);
    }
}

/* ---- supplier shipment failure ------------------------------------------------------------ */

void ks_contain_supplier(struct ks_engine *e, struct ks_incident *inc, const struct ks_po *p,
                         ks_time at)
{
    int64_t sell = p->received - p->damaged - p->wrong;
    char note[256];
    snprintf(note, sizeof(note), "%s from %s: expected %lld, received %lld, damaged %lld, wrong "
                                 "%lld, sellable %lld",
             ks_intern_str(&e->strs, p->po), ks_intern_str(&e->strs, p->supplier),
             (long long)p->expected, (long long)p->received, (long long)p->damaged,
             (long long)p->wrong, (long long)sell);
    ks_pb_mark(e, inc, "record_discrepancy", KS_SS_DONE, "kintsugi", at, note);
    if (p->damaged > 0) {
        if (ks_pb_index(inc, "quarantine_damaged") >= 0 &&
            inc->steps[ks_pb_index(inc, "quarantine_damaged")].status != KS_SS_DONE) {
            ks_inc_tl(e, inc, at, KS_TL_ACTION, "kintsugi",
                      "Quarantined %lld damaged units of %s: never sellable stock",
                      (long long)p->damaged, ks_intern_str(&e->strs, p->po));
        }
        ks_pb_mark(e, inc, "quarantine_damaged", KS_SS_DONE, "kintsugi", at, NULL);
    } else {
        ks_pb_mark(e, inc, "quarantine_damaged", KS_SS_NA, NULL, at, NULL);
    }
    static const char *minor[] = {"accept_partial", "adjust_sellable", "file_claim"};
    static const char *major[] = {"contact_supplier", "alternate_source", "reorder_earlier"};
    int is_major = p->level == 2;
    for (int i = 0; i < 3; i++) {
        int idx = ks_pb_index(inc, is_major ? minor[i] : major[i]);
        if (idx >= 0 && inc->steps[idx].status == KS_SS_PENDING) {
            ks_pb_mark(e, inc, is_major ? minor[i] : major[i], KS_SS_NA, NULL, at, NULL);
        }
    }
    if (is_major) {
        int idx = ks_pb_index(inc, "contact_supplier");
        if (idx >= 0 && !ks_ss_taken(inc->steps[idx].status)) {
            char detail[256];
            snprintf(detail, sizeof(detail), "{\"po\":\"%s\",\"supplier\":\"%s\",\"sellable\":%lld,"
                                             "\"expected\":%lld}",
                     ks_intern_str(&e->strs, p->po), ks_intern_str(&e->strs, p->supplier),
                     (long long)sell, (long long)p->expected);
            ks_eng_hook(e, inc, "notify_supplier", detail);
            ks_pb_mark(e, inc, "contact_supplier", KS_SS_DONE, "kintsugi", at, NULL);
        }
    } else {
        int idx = ks_pb_index(inc, "adjust_sellable");
        if (idx >= 0 && inc->steps[idx].status != KS_SS_DONE) {
            ks_inc_tl(e, inc, at, KS_TL_ACTION, "kintsugi",
                      "Adjusted inventory of %s to the sellable quantity (%lld units)",
                      ks_intern_str(&e->strs, p->po), (long long)sell);
            ks_pb_mark(e, inc, "adjust_sellable", KS_SS_DONE, "kintsugi", at, NULL);
        }
    }
}

/* ---- people: steps and approvals ------------------------------------------------------------ */

static int may_approve(const struct ks_config *cfg, const char *by, const char *action,
                       const char **role);

enum ks_rc ks_engine_step(struct ks_engine *e, int64_t id, const char *step, const char *status,
                          const char *by, const char *note, ks_time at, struct ks_err *err)
{
    struct ks_incident *inc = ks_inc_get(e, id);
    if (!inc) {
        return ks_err_set(err, KS_ENOTFOUND, "no incident %lld", (long long)id);
    }
    int done = strcmp(status, "done") == 0, skip = strcmp(status, "skip") == 0;
    if (!done && !skip) {
        return ks_err_set(err, KS_EUSAGE, "step status '%s': use done or skip", status);
    }
    int i = ks_pb_index(inc, step);
    if (i < 0) {
        size_t n;
        const struct ks_step_def *d = ks_pb_steps((enum ks_itype)inc->type, &n);
        struct ks_buf b = {0};
        for (size_t k = 0; k < n; k++) {
            ks_buf_printf(&b, "%s%s", k ? ", " : "", d[k].key);
        }
        ks_err_set(err, KS_ENOTFOUND, "incident %lld has no step '%s' (its steps: %s)",
                   (long long)id, step, b.p);
        ks_buf_fini(&b);
        return err->rc;
    }
    size_t n;
    const struct ks_step_def *d = ks_pb_steps((enum ks_itype)inc->type, &n);
    if (d[i].kind == KS_STEP_AUTO && inc->steps[i].status == KS_SS_DONE && inc->steps[i].by &&
        strcmp(inc->steps[i].by, "kintsugi") == 0) {
        /* What kintsugi did is a record, not a checkbox: a person adds a note
         * instead (an automated step kintsugi could not do stays theirs). */
        char t[32];
        ks_time_fmt(inc->steps[i].at, t);
        return ks_err_set(err, KS_ESTATE,
                          "step %s is automated and kintsugi did it at %s; its record stays "
                          "(add a note: kintsugi incident note %lld TEXT --by NAME)",
                          step, t, (long long)id);
    }
    if (d[i].kind == KS_STEP_APPROVAL && done && inc->steps[i].status != KS_SS_LEFT) {
        /* Done only by an approval of someone whose role allows it (which
         * carries the action out): never by ticking it, unless the approved
         * action's hook could not be called and a person did it by hand. */
        if (inc->steps[i].status == KS_SS_PROPOSED) {
            return ks_err_set(err, KS_ESTATE,
                              "step %s waits for an approval: kintsugi action approve %lld %s "
                              "--by NAME",
                              step, (long long)id, d[i].action);
        }
        return ks_err_set(err, KS_ESTATE,
                          "step %s needs an approval, not a tick: kintsugi proposes it when it "
                          "applies, and someone whose role allows '%s' approves it (kintsugi "
                          "action approve %lld %s --by NAME)",
                          step, d[i].action, (long long)id, d[i].action);
    }
    const char *role;
    if (d[i].kind == KS_STEP_APPROVAL && !done && (!note || !*note)) {
        return ks_err_set(err, KS_EUSAGE,
                          "step %s: skipping it declines '%s', which says why (a note)", step,
                          d[i].action);
    }
    if (d[i].kind == KS_STEP_APPROVAL && !done && !may_approve(e->cfg, by, d[i].action, &role)) {
        /* Not carrying out a containment action is a decision of the same
         * weight as carrying it out: who may approve it may decline it. */
        if (!role) {
            return ks_err_set(err, KS_ESTATE,
                              "%s is not a person of the configuration: declining '%s' needs a "
                              "named person whose role allows it (people: and roles: in "
                              "kintsugi.yaml)",
                              by, d[i].action);
        }
        return ks_err_set(err, KS_ESTATE,
                          "%s (role %s) may not decline '%s': who may approve it may decline it",
                          by, role, d[i].action);
    }
    enum ks_step_status want = done ? KS_SS_DONE : KS_SS_SKIPPED;
    if (inc->steps[i].status == want) {
        /* as a status set again: nothing to record (a retried request, a
         * second click), and the person learns who ticked it */
        char t[32];
        ks_time_fmt(inc->steps[i].at, t);
        return ks_err_set(err, KS_ESTATE,
                          "step %s is already %s (by %s at %s); nothing recorded (add a note: "
                          "kintsugi incident note %lld TEXT --by NAME)",
                          step, done ? "done" : "skipped",
                          inc->steps[i].by ? inc->steps[i].by : "kintsugi", t, (long long)id);
    }
    if (ks_eng_at(e, at, err) != KS_OK) {
        return err->rc;
    }
    at = e->clock;
    ks_pb_mark(e, inc, step, want, by, at, note);
    ks_inc_tl(e, inc, at, KS_TL_NOTE, by, "Step %s %s by %s%s%s", step, done ? "done" : "skipped",
              by, note ? ": " : "", note ? note : "");
    return KS_OK;
}

static int may_approve(const struct ks_config *cfg, const char *by, const char *action,
                       const char **role)
{
    *role = NULL;
    for (size_t i = 0; i < cfg->npeople; i++) {
        if (strcmp(cfg->people[i].name, by) == 0) {
            *role = cfg->people[i].role;
        }
    }
    if (!*role) {
        return 0;
    }
    for (size_t i = 0; i < cfg->nroles; i++) {
        if (strcmp(cfg->roles[i].name, *role) != 0) {
            continue;
        }
        for (size_t k = 0; k < cfg->roles[i].nmay; k++) {
            if (strcmp(cfg->roles[i].may_approve[k], "*") == 0 ||
                strcmp(cfg->roles[i].may_approve[k], action) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

static void execute(struct ks_engine *e, struct ks_incident *inc, const char *action, ks_time at)
{
    if (strcmp(action, "zero_channel") == 0) {
        struct ks_buf chans = {0};
        for (size_t i = 0; i < inc->channels.n; i++) {
            struct ks_channel *c = &e->ch[inc->channels.v[i]];
            uint64_t n = 0;
            for (uint32_t s = 0; s < c->cap; s++) {
                if ((c->pairs[s].flags & KS_PAIR_GUARDED) && c->pairs[s].guarded > 0) {
                    ks_guard_push(e, c, s, 0, at, KS_WHY_ZERO_CHANNEL, inc->id);
                    n++;
                }
            }
            char a[32];
            ks_inc_tl(e, inc, at, KS_TL_ACTION, "kintsugi", "Zeroed all %s SKUs on %s",
                      ks_fmt_count(n, a), ks_intern_str(&e->strs, c->name));
            ks_buf_printf(&chans, "%s\"%s\"", chans.len ? "," : "", ks_intern_str(&e->strs, c->name));
        }
        struct ks_buf d = {0};
        ks_buf_printf(&d, "{\"channels\":[%s]}", chans.p ? chans.p : "");
        ks_eng_hook(e, inc, action, d.p);
        ks_buf_fini(&d);
        ks_buf_fini(&chans);
    } else if (strcmp(action, "cancel_orders") == 0) {
        struct ks_buf d = {0};
        ks_buf_puts(&d, "{\"orders\":[");
        for (size_t i = 0; i < inc->noversold; i++) {
            ks_buf_printf(&d, "%s", i ? "," : "");
            ks_json_escape(&d, ks_intern_str(&e->strs, inc->oversold[i].order),
                           ks_intern_len(&e->strs, inc->oversold[i].order));
        }
        ks_buf_puts(&d, "]}");
        ks_eng_hook(e, inc, action, d.p);
        ks_buf_fini(&d);
    } else {
        struct ks_buf b = {0};
        locations_json(e, inc, &b);
        ks_eng_hook(e, inc, action, b.p);
        ks_buf_fini(&b);
    }
}

enum ks_rc ks_engine_approve(struct ks_engine *e, int64_t id, const char *action, const char *by,
                             ks_time at, struct ks_err *err)
{
    struct ks_incident *inc = ks_inc_get(e, id);
    if (!inc) {
        return ks_err_set(err, KS_ENOTFOUND, "no incident %lld", (long long)id);
    }
    size_t n;
    const struct ks_step_def *d = ks_pb_steps((enum ks_itype)inc->type, &n);
    int idx = -1;
    for (size_t i = 0; i < n; i++) {
        if (d[i].kind == KS_STEP_APPROVAL && strcmp(d[i].action, action) == 0) {
            idx = (int)i;
        }
    }
    if (idx < 0 || inc->steps[idx].status != KS_SS_PROPOSED) {
        return ks_err_set(err, KS_ESTATE, "incident %lld has no proposed '%s' waiting for approval "
                                          "(see kintsugi action list)",
                          (long long)id, action);
    }
    const char *role;
    if (!may_approve(e->cfg, by, action, &role)) {
        if (!role) {
            return ks_err_set(err, KS_ESTATE,
                              "%s is not a person of the configuration: approvals need a named "
                              "person whose role allows '%s' (people: and roles: in "
                              "kintsugi.yaml)",
                              by, action);
        }
        return ks_err_set(err, KS_ESTATE, "%s (role %s) may not approve '%s'", by, role, action);
    }
    if (ks_eng_at(e, at, err) != KS_OK) {
        return err->rc;
    }
    at = e->clock;
    ks_pb_mark(e, inc, d[idx].key, KS_SS_APPROVED, by, at, NULL);
    ks_inc_tl(e, inc, at, KS_TL_ACTION, by, "Approved %s (%s, role %s)", action, by, role);
    execute(e, inc, action, at);
    ks_pb_mark(e, inc, d[idx].key, KS_SS_DONE, by, at, NULL);
    return KS_OK;
}

void ks_engine_actions_json(const struct ks_engine *e, struct ks_buf *out)
{
    struct ks_json j;
    ks_json_init(&j, out, 0);
    ks_json_arr_begin(&j);
    for (size_t k = 0; k < e->ninc; k++) {
        const struct ks_incident *inc = e->inc[k];
        size_t n;
        const struct ks_step_def *d = ks_pb_steps((enum ks_itype)inc->type, &n);
        for (size_t i = 0; i < n && i < inc->nsteps; i++) {
            const struct ks_step *s = &inc->steps[i];
            if (d[i].kind != KS_STEP_APPROVAL || s->status == KS_SS_PENDING ||
                s->status == KS_SS_NA) {
                continue;
            }
            ks_json_obj_begin(&j);
            ks_json_key(&j, "incident");
            ks_json_int(&j, inc->id);
            ks_json_key(&j, "action");
            ks_json_str(&j, d[i].action);
            ks_json_key(&j, "step");
            ks_json_str(&j, d[i].key);
            ks_json_key(&j, "status");
            ks_json_str(&j, ks_step_status_name((enum ks_step_status)s->status));
            ks_json_key(&j, "what");
            ks_json_str(&j, s->note ? s->note : d[i].text);
            ks_json_key(&j, "by");
            ks_json_str(&j, s->by);
            ks_json_key(&j, "at");
            ks_json_time(&j, s->at);
            ks_json_obj_end(&j);
        }
    }
    ks_json_arr_end(&j);
}

/* ---- reconciliation and verification -------------------------------------------------------- */

struct diff {
    uint32_t ch, sku;
    uint32_t guarded;
    uint64_t stock;
};

static int diff_order(const void *va, const void *vb)
{
    const struct diff *a = va, *b = vb;
    int ra = a->guarded > a->stock, rb = b->guarded > b->stock;
    if (ra != rb) {
        return rb - ra; /* oversell risks first */
    }
    int64_t da = (int64_t)a->guarded - (int64_t)a->stock, db = (int64_t)b->guarded - (int64_t)b->stock;
    da = da < 0 ? -da : da;
    db = db < 0 ? -db : db;
    if (da != db) {
        return da < db ? 1 : -1;
    }
    return a->ch != b->ch ? (a->ch < b->ch ? -1 : 1) : (a->sku < b->sku ? -1 : a->sku > b->sku);
}

enum ks_rc ks_engine_reconcile_json(const struct ks_engine *e, const char *channel,
                                    size_t limit, struct ks_buf *out, struct ks_err *err)
{
    const struct ks_channel *only = NULL;
    if (channel) {
        uint32_t id = ks_intern_find(&e->strs, channel, strlen(channel));
        only = id == UINT32_MAX ? NULL : ks_eng_channel_find((struct ks_engine *)e, id);
        if (!only) {
            return ks_err_set(err, KS_ENOTFOUND, "no channel '%s'", channel);
        }
    }
    struct diff *v = NULL;
    size_t n = 0, cap = 0;
    uint64_t compared = 0, no_stock = 0, risks = 0;
    for (size_t i = 0; i < e->nch; i++) {
        const struct ks_channel *c = &e->ch[i];
        if (only && c != only) {
            continue;
        }
        for (uint32_t s = 0; s < c->cap; s++) {
            const struct ks_pair *p = &c->pairs[s];
            if (!(p->flags & KS_PAIR_GUARDED)) {
                continue;
            }
            const uint64_t *have = ks_map64_get(&e->stock_sum, (uint64_t)s + 1);
            if (!have) {
                no_stock++;
                continue;
            }
            compared++;
            if (p->guarded != *have) {
                KS_GROW(v, cap, n + 1);
                v[n++] = (struct diff){(uint32_t)i, s, p->guarded, *have};
                risks += p->guarded > *have;
            }
        }
    }
    if (n) {
        qsort(v, n, sizeof(*v), diff_order);
    }
    struct ks_json j;
    ks_json_init(&j, out, 0);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "compared");
    ks_json_int(&j, (int64_t)compared);
    ks_json_key(&j, "differences");
    ks_json_int(&j, (int64_t)n);
    ks_json_key(&j, "oversell_risks");
    ks_json_int(&j, (int64_t)risks);
    ks_json_key(&j, "without_stock");
    ks_json_int(&j, (int64_t)no_stock);
    ks_json_key(&j, "items");
    ks_json_arr_begin(&j);
    for (size_t i = 0; i < n && (!limit || i < limit); i++) {
        ks_json_obj_begin(&j);
        ks_json_key(&j, "channel");
        ks_json_str(&j, ks_intern_str(&e->strs, e->ch[v[i].ch].name));
        ks_json_key(&j, "sku");
        ks_json_str(&j, ks_intern_str(&e->skus, v[i].sku));
        ks_json_key(&j, "guarded");
        ks_json_int(&j, v[i].guarded);
        ks_json_key(&j, "stock");
        ks_json_int(&j, (int64_t)v[i].stock);
        ks_json_key(&j, "diff");
        ks_json_int(&j, (int64_t)v[i].guarded - (int64_t)v[i].stock);
        ks_json_key(&j, "oversell_risk");
        ks_json_bool(&j, v[i].guarded > v[i].stock);
        ks_json_obj_end(&j);
    }
    ks_json_arr_end(&j);
    ks_json_obj_end(&j);
    ks_free(v);
    return KS_OK;
}

enum ks_rc ks_engine_verify_json(const struct ks_engine *e, int64_t id, struct ks_buf *out,
                                 struct ks_err *err)
{
    const struct ks_incident *inc = ks_inc_get(e, id);
    if (!inc) {
        return ks_err_set(err, KS_ENOTFOUND, "no incident %lld", (long long)id);
    }
    struct ks_json j;
    ks_json_init(&j, out, 0);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "incident");
    ks_json_int(&j, id);
    ks_json_key(&j, "spot_check");
    ks_json_arr_begin(&j);
    size_t shown = 0, matched = 0;
    for (size_t k = 0; k < inc->channels.n; k++) {
        const struct ks_channel *c = &e->ch[inc->channels.v[k]];
        for (size_t i = 0; i < inc->sku_ids.n && shown < 20; i++) {
            uint32_t s = inc->sku_ids.v[i];
            if (s >= c->cap || !(c->pairs[s].flags & (KS_PAIR_GUARDED | KS_PAIR_KNOWN))) {
                continue;
            }
            const struct ks_pair *p = &c->pairs[s];
            const uint64_t *have = ks_map64_get(&e->stock_sum, (uint64_t)s + 1);
            int match = have && (p->flags & KS_PAIR_GUARDED) && p->guarded <= *have;
            matched += (size_t)match;
            shown++;
            ks_json_obj_begin(&j);
            ks_json_key(&j, "channel");
            ks_json_str(&j, ks_intern_str(&e->strs, c->name));
            ks_json_key(&j, "sku");
            ks_json_str(&j, ks_intern_str(&e->skus, s));
            ks_json_key(&j, "guarded");
            if (p->flags & KS_PAIR_GUARDED) {
                ks_json_int(&j, p->guarded);
            } else {
                ks_json_null(&j);
            }
            ks_json_key(&j, "last_good");
            ks_json_int(&j, p->good);
            ks_json_key(&j, "stock");
            if (have) {
                ks_json_int(&j, (int64_t)*have);
            } else {
                ks_json_null(&j);
            }
            ks_json_key(&j, "ok");
            ks_json_bool(&j, match);
            ks_json_obj_end(&j);
        }
    }
    ks_json_arr_end(&j);
    ks_json_key(&j, "spot_check_ok");
    ks_json_int(&j, (int64_t)matched);
    ks_json_key(&j, "oversold_orders");
    ks_json_arr_begin(&j);
    double total = 0;
    for (size_t i = 0; i < inc->noversold; i++) {
        const struct ks_oversold *o = &inc->oversold[i];
        total = ks_money_add(total, o->value);
        ks_json_obj_begin(&j);
        ks_json_key(&j, "order_id");
        ks_json_str(&j, ks_intern_str(&e->strs, o->order));
        ks_json_key(&j, "customer");
        ks_json_str(&j, o->customer != KS_NONE ? ks_intern_str(&e->strs, o->customer) : NULL);
        ks_json_key(&j, "channel");
        ks_json_str(&j, o->channel != KS_NONE ? ks_intern_str(&e->strs, o->channel) : NULL);
        ks_json_key(&j, "at");
        ks_json_time(&j, o->at);
        ks_json_key(&j, "value");
        ks_json_num(&j, o->value);
        ks_json_obj_end(&j);
    }
    ks_json_arr_end(&j);
    ks_json_key(&j, "oversold_value");
    ks_json_num(&j, total);
    ks_json_obj_end(&j);
    return KS_OK;
}

/* Per-incident state only (written with the incident). */
const struct ks_part ks_part_contain = {
    .name = "playbooks",
    .timers = KS_TMBIT(KS_TM_PROPOSE) | KS_TMBIT(KS_TM_STEP4) | KS_TMBIT(KS_TM_STEP24),
    .timer = contain_timer,
};
