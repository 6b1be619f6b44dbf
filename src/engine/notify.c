/*
 * notify.c - what the messages module (src/comms, docs/MESSAGES.md) reads
 * of an incident to decide who is told and to fill its templates, and the
 * timeline entry it writes when a trigger fires. The engine decides
 * nothing here: the triggers run in the shell, inside the transaction that
 * writes the incident change (docs/MESSAGES.md, "Where triggers run").
 */
#include "engine_int.h"

#include <string.h>

static void names(const struct ks_engine *e, const struct ks_u32set *set, int locs, char *out,
                  size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < set->n && o + 1 < cap; i++) {
        uint32_t s = locs ? e->locs[set->v[i]].location : set->v[i];
        if (locs && s == KS_NONE) {
            s = e->locs[set->v[i]].system;
        }
        o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? ", " : "", ks_intern_str(&e->strs, s));
    }
}

enum ks_rc ks_engine_incident_facts(const struct ks_engine *e, int64_t id,
                                    struct ks_incident_facts *out)
{
    const struct ks_incident *inc = ks_inc_get(e, id);
    memset(out, 0, sizeof(*out));
    if (!inc) {
        return KS_ENOTFOUND;
    }
    out->id = inc->id;
    out->type = ks_itype_name((enum ks_itype)inc->type);
    out->severity = ks_severity_name((enum ks_severity)inc->severity);
    out->sev = inc->severity;
    out->status = ks_status_name((enum ks_status)inc->status);
    out->resolved = inc->status == KS_ST_RESOLVED;
    out->title = inc->title ? inc->title : "";
    out->owner = inc->owner;
    out->started_at = inc->started_at;
    out->detected_at = inc->detected_at;
    out->resolved_at = inc->resolved_at;
    out->orders = inc->orders;
    out->units = inc->units;
    out->customers = (int64_t)inc->customers.n;
    out->revenue = inc->revenue;
    out->assessed = inc->assessed;
    out->clock = e->clock;
    out->p1_at = inc->p1_at;
    out->customers_at = inc->customers_at;
    out->revenue_at = inc->revenue_at;
    out->assessed_at = inc->assessed_at;
    out->mail_at = inc->mail_at;
    out->customers_then = inc->customers_then;
    for (size_t i = 0; i < inc->ntl; i++) {
        const struct ks_tl *t = &inc->tl[i];
        if (t->kind == KS_TL_STATUS) {
            out->status_changes++;
            out->last_status_at = t->at;
        } else if (t->kind == KS_TL_ACTION) {
            out->last_action = t->text;
        } else if (t->kind == KS_TL_SLA && !out->ack_missed_at && t->text &&
                   !strncmp(t->text, "Acknowledgement SLA missed", 26)) {
            out->ack_missed_at = t->at;
        }
    }
    ks_inc_channel_list(e, inc, out->channels, sizeof(out->channels));
    names(e, &inc->locs, 1, out->locations, sizeof(out->locations));
    if (!out->locations[0]) {
        names(e, &inc->systems, 0, out->locations, sizeof(out->locations));
    }
    return KS_OK;
}

size_t ks_engine_incident_mail(const struct ks_engine *e, int64_t id, ks_mail_fn fn, void *ctx)
{
    const struct ks_incident *inc = ks_inc_get(e, id);
    if (!inc) {
        return 0;
    }
    for (size_t i = 0; fn && i + 1 < inc->nmail; i += 2) {
        fn(ctx, ks_intern_str(&e->strs, inc->mail[i]), ks_intern_str(&e->strs, inc->mail[i + 1]));
    }
    return inc->nmail / 2;
}

void ks_engine_notification(struct ks_engine *e, int64_t id, ks_time at, const char *text)
{
    struct ks_incident *inc = ks_inc_get(e, id);
    if (!inc) {
        return;
    }
    KS_GROW(inc->tl, inc->captl, inc->ntl + 1);
    struct ks_tl *n = &inc->tl[inc->ntl++];
    memset(n, 0, sizeof(*n));
    n->at = at;
    n->kind = KS_TL_NOTIFICATION;
    n->status = -1;
    n->trig = 1;
    n->actor = ks_strdup("kintsugi");
    n->text = ks_strdup(text);
    ks_inc_dirty(e, inc);
    size_t i = inc->ntl - 1;
    while (i > 0 && inc->tl[i - 1].at > at) {
        struct ks_tl t = inc->tl[i - 1];
        inc->tl[i - 1] = inc->tl[i];
        inc->tl[i] = t;
        i--;
    }
}

int ks_engine_severity_at(const struct ks_engine *e, int64_t id, ks_time at)
{
    const struct ks_incident *inc = ks_inc_get(e, id);
    if (!inc) {
        return 0;
    }
    int sev = 0;
    for (size_t i = 0; i < inc->ntl && inc->tl[i].at <= at; i++) {
        const struct ks_tl *t = &inc->tl[i];
        if ((i == 0 || t->kind == KS_TL_ESCALATION) && t->severity >= 1 && t->severity <= 3) {
            sev = t->severity;
        }
    }
    if (!sev) { /* before its detection entry: as detected */
        sev = inc->ntl && inc->tl[0].severity >= 1 && inc->tl[0].severity <= 3
                  ? inc->tl[0].severity
                  : inc->severity;
    }
    return sev;
}

int ks_engine_status_entry(const struct ks_engine *e, int64_t id, int n, ks_time *at,
                           const char **status)
{
    const struct ks_incident *inc = ks_inc_get(e, id);
    for (size_t i = 0; inc && i < inc->ntl; i++) {
        const struct ks_tl *t = &inc->tl[i];
        if (t->kind == KS_TL_STATUS && --n == 0) {
            *at = t->at;
            *status = t->status >= 0 ? ks_status_name((enum ks_status)t->status) : "";
            return 1;
        }
    }
    return 0;
}
