/*
 * alert.c - incidents from the alerting tools teams already run (SPEC
 * section 8, issue 10 item 6; docs/ALERTS.md, "In the engine"): PagerDuty
 * Events API v2 events and Alertmanager webhook bodies, parsed and mapped by
 * src/alerts, open, update, acknowledge and resolve incidents.
 *
 * Such incidents go through the same paths as detected ones, so they get
 * the same lifecycle, timeline, SLA timers and escalation: ks_inc_open
 * (acknowledgement and P3 resolution SLAs), ks_inc_signal (the timeline's
 * signal entries), ks_inc_raise (escalation), and the people's actions
 * ks_engine_ack and ks_engine_set_status for acknowledge and resolve.
 *
 * An incident is found by its dedup_key alone (e->alert_keys: the key's
 * strs id -> the last incident opened for it; the incident is the key's
 * while it is open). Alertmanager's PagerDuty receiver sends SHA-256 of the
 * groupKey as dedup_key and the webhook's group is keyed by the same hash,
 * so the two receivers of one group meet on one incident.
 *
 * Nothing here is random or reads a clock: `at` comes from the caller, a
 * generated dedup_key too. A call that changes nothing (an acknowledge of
 * an unknown key, the same webhook body again) leaves the state as it was,
 * down to the interned strings, so that its checkpoint is the same.
 */
#include "engine_int.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* Entries naming single alerts per webhook body; the others are counted in
 * one entry, so that a group of thousands does not flood the timeline. */
#define TL_ALERTS_MAX 20
/* Bytes of a summary, source or label set quoted in a timeline entry. */
#define QUOTE_MAX 240

static const char *const src_names[] = {NULL, "pagerduty", "alertmanager"};

/* ---- small helpers -------------------------------------------------------------- */

/* s cut to QUOTE_MAX bytes at a code point boundary, "..." marking a cut. */
static void quote(const char *s, char out[QUOTE_MAX + 4])
{
    size_t n = s ? strlen(s) : 0;
    if (n <= QUOTE_MAX) {
        memcpy(out, s ? s : "", n);
        out[n] = '\0';
        return;
    }
    n = QUOTE_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
        n--; /* s[n] continues a code point: cut before it */
    }
    memcpy(out, s, n);
    memcpy(out + n, "...", 4);
}

static int str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The id of key in strs, or KS_NONE when it was never interned. */
static uint32_t key_find(const struct ks_engine *e, const char *key)
{
    uint32_t id = ks_intern_find(&e->strs, key, strlen(key));
    return id == UINT32_MAX ? KS_NONE : id;
}

/* The open incident of a dedup_key (strs id), or NULL. */
static struct ks_incident *open_of(const struct ks_engine *e, uint32_t key)
{
    if (key == KS_NONE) {
        return NULL;
    }
    const uint64_t *id = ks_map64_get(&e->alert_keys, (uint64_t)key + 1);
    return id ? ks_inc_open_get(e, (int64_t)*id) : NULL;
}

/* Moves the clock to at (firing the timers due before it) and gives the
 * time the call is stamped with: at, or the clock when that is later. */
static int clock_to(struct ks_engine *e, ks_time *at, struct ks_err *err)
{
    if (*at == KS_TIME_NONE && e->clock == KS_TIME_NONE) {
        ks_err_set(err, KS_EUSAGE, "alert: no time to stamp it with (pass at)");
        return -1;
    }
    if (*at != KS_TIME_NONE) {
        ks_eng_advance(e, *at);
    }
    *at = e->clock;
    return 0;
}

static enum ks_itype type_of(const char *name)
{
    for (int t = 0; t < KS_IT__COUNT; t++) {
        if (strcmp(ks_itype_name((enum ks_itype)t), name) == 0) {
            return (enum ks_itype)t;
        }
    }
    return KS_IT_EXTERNAL;
}

/* The first 16 hex digits of SHA-256(s): enough to tell integrations apart
 * without keeping the routing key, which authenticates its sender. */
static char *routing_hash(const char *s)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    KS_ASSERT(EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32);
    char *out = ks_malloc(17);
    for (int i = 0; i < 8; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
    return out;
}

/* Adds what the scope names to the incident's; returns how many were new. */
static size_t scope_add(struct ks_engine *e, struct ks_incident *inc, const struct ks_alert_scope *s)
{
    struct ks_alert_inc *a = inc->alert;
    size_t added = 0;
    for (size_t i = 0; i < s->channels.n; i++) {
        added += (size_t)ks_u32set_add(&a->channels,
                                       ks_eng_str(e, (struct ks_str){s->channels.v[i],
                                                                     strlen(s->channels.v[i])}));
    }
    for (size_t i = 0; i < s->locations.n; i++) {
        added += (size_t)ks_u32set_add(&a->locations,
                                       ks_eng_str(e, (struct ks_str){s->locations.v[i],
                                                                     strlen(s->locations.v[i])}));
    }
    for (size_t i = 0; i < s->systems.n; i++) {
        added += (size_t)ks_u32set_add(&inc->systems,
                                       ks_eng_str(e, (struct ks_str){s->systems.v[i],
                                                                     strlen(s->systems.v[i])}));
    }
    if (added) {
        ks_inc_dirty(e, inc);
    }
    return added;
}

/* Opens the incident of a dedup_key through the detectors' own path:
 * ks_inc_open arms the acknowledgement SLA (and P3's resolution SLA). The
 * caller records the first signal, then calls fingerprint(). */
static struct ks_incident *open_alert(struct ks_engine *e, enum ks_alert_src src, const char *key,
                                      const struct ks_alert_scope *s, ks_time started,
                                      ks_time at)
{
    enum ks_severity sev = s->severity >= KS_P1 && s->severity <= KS_P3 ? (enum ks_severity)s->severity
                                                                        : KS_P3;
    if (started == KS_TIME_NONE || started > at) {
        started = at;
    }
    struct ks_incident *inc = ks_inc_open(e, type_of(s->type), sev, started, at);
    struct ks_alert_inc *a = ks_calloc(1, sizeof(*a));
    inc->alert = a;
    a->source = (uint8_t)src;
    a->dedup_key = ks_eng_str(e, (struct ks_str){key, strlen(key)});
    inc->title = ks_strdup(s->title);
    scope_add(e, inc, s);
    *ks_map64_put(&e->alert_keys, (uint64_t)a->dedup_key + 1, NULL) = (uint64_t)inc->id;
    return inc;
}

/* The fingerprint TYPE:DEDUP_KEY, whose family links a later incident of
 * the same key (a trigger after the resolution) as a repeat. */
static void fingerprint(struct ks_engine *e, struct ks_incident *inc)
{
    struct ks_buf b = {0};
    ks_buf_printf(&b, "%s:%s", ks_itype_name((enum ks_itype)inc->type),
                  ks_intern_str(&e->strs, inc->alert->dedup_key));
    ks_inc_set_fingerprint(e, inc, b.p, NULL);
    ks_buf_fini(&b);
}

/* ---- PagerDuty -------------------------------------------------------------------- */

/* What a trigger says for the responder beyond its summary (links to a
 * runbook or a dashboard, images, the monitoring client, the group and
 * class; the component is the scope's system already) goes on the timeline
 * as one note, so that the person who opens the incident at 3 a.m. finds
 * the runbook where PagerDuty would show it. At most CONTEXT_MAX bytes, cut
 * between entries. */
#define CONTEXT_MAX 4096

static void context_part(struct ks_buf *b, const char *label, const char *text, const char *url)
{
    if ((!text || !*text) && (!url || !*url)) {
        return;
    }
    size_t before = b->len;
    ks_buf_puts(b, b->len ? "; " : "From the alert: ");
    ks_buf_printf(b, "%s ", label);
    if (text && *text) {
        ks_buf_puts(b, text);
    }
    if (url && *url) {
        ks_buf_printf(b, text && *text ? " <%s>" : "<%s>", url);
    }
    if (b->len > CONTEXT_MAX) {
        b->len = before; /* whole entries only */
        b->p[b->len] = 0;
    }
}

static void pd_context(struct ks_engine *e, struct ks_incident *inc, const struct ks_pd_event *ev,
                       ks_time at)
{
    struct ks_buf b = {0};
    for (size_t i = 0; i < ev->nlinks; i++) {
        context_part(&b, "link", ev->links[i].text, ev->links[i].href);
    }
    for (size_t i = 0; i < ev->nimages; i++) {
        context_part(&b, "image", ev->images[i].alt, ev->images[i].src);
    }
    context_part(&b, "client", ev->client, ev->client_url);
    context_part(&b, "group", ev->group, NULL);
    context_part(&b, "class", ev->class_name, NULL);
    if (b.len) {
        ks_inc_tl(e, inc, at, KS_TL_NOTE, "kintsugi", "%s", b.p);
    }
    ks_buf_fini(&b);
}

static void pd_trigger(struct ks_engine *e, const struct ks_pd_event *ev, ks_time at,
                       int64_t *incident)
{
    struct ks_alert_scope s;
    ks_alert_scope_pagerduty(ev, &s);
    char sum[QUOTE_MAX + 4], src[QUOTE_MAX + 4];
    quote(ev->summary, sum);
    quote(ev->source, src);
    struct ks_incident *inc = open_of(e, key_find(e, ev->dedup_key));
    if (!inc) {
        inc = open_alert(e, KS_ALERT_SRC_PAGERDUTY, ev->dedup_key, &s, ev->timestamp, at);
        struct ks_alert_inc *a = inc->alert;
        a->pd_severity = (uint8_t)ev->severity;
        a->details = ev->custom_details ? ks_strdup(ev->custom_details) : NULL;
        a->routing_key_hash = routing_hash(ev->routing_key);
        ks_inc_signal(e, inc, KS_DET_PAGERDUTY, at, 1, 0, "trigger from %s (%s): %s", src,
                      ev->pd_severity, sum);
        pd_context(e, inc, ev, at);
        fingerprint(e, inc);
        *incident = inc->id;
        ks_alert_scope_fini(&s);
        return;
    }
    *incident = inc->id;
    struct ks_alert_inc *a = inc->alert;
    int new_title = !str_eq(inc->title, s.title);
    /* A trigger without custom_details says nothing of them: they stay. */
    int new_details = ev->custom_details && !str_eq(a->details, ev->custom_details);
    int new_sev = a->pd_severity != ev->severity;
    size_t wider = scope_add(e, inc, &s);
    if (!new_title && !new_details && !new_sev && !wider) {
        ks_alert_scope_fini(&s); /* a retry, or the same alert sent again: nothing new */
        return;
    }
    if (new_title) {
        ks_free(inc->title);
        inc->title = ks_strdup(s.title);
    }
    if (new_details) {
        ks_free(a->details);
        a->details = ks_strdup(ev->custom_details);
    }
    if (!a->routing_key_hash) {
        a->routing_key_hash = routing_hash(ev->routing_key); /* opened by a webhook body */
    }
    a->pd_severity = (uint8_t)ev->severity;
    struct ks_buf t = {0};
    ks_buf_printf(&t, "trigger again from %s (%s): %s", src, ev->pd_severity, sum);
    if (new_title) {
        ks_buf_puts(&t, "; the title changes");
    }
    if (new_details) {
        ks_buf_puts(&t, "; the details change");
    }
    if (wider) {
        ks_buf_puts(&t, "; the scope widens");
    }
    if (ev->severity > inc->severity) {
        ks_buf_printf(&t, "; the incident stays %s (an alert never lowers a severity)",
                      ks_severity_name((enum ks_severity)inc->severity));
    }
    ks_inc_signal(e, inc, KS_DET_PAGERDUTY, at, 1, 0, "%s", t.p);
    ks_buf_fini(&t);
    pd_context(e, inc, ev, at);
    if (ev->severity < inc->severity) {
        ks_inc_raise(e, inc, (enum ks_severity)ev->severity, at, "a PagerDuty trigger says %s",
                     ev->pd_severity);
    }
    ks_inc_dirty(e, inc);
    ks_alert_scope_fini(&s);
}

enum ks_rc ks_engine_pd_event(struct ks_engine *e, const struct ks_pd_event *ev, const char *by,
                              ks_time at, int64_t *incident, struct ks_err *err)
{
    *incident = 0;
    if (!ev->dedup_key || !*ev->dedup_key || !ev->routing_key ||
        (ev->action == KS_PD_TRIGGER && (!ev->summary || !ev->source || !ev->pd_severity ||
                                         ev->severity < KS_P1 || ev->severity > KS_P3))) {
        return ks_err_set(err, KS_EUSAGE, "pagerduty: not a parsed event");
    }
    by = by ? by : "pagerduty";
    if (ev->action == KS_PD_TRIGGER) {
        if (clock_to(e, &at, err) != 0) {
            return err->rc;
        }
        pd_trigger(e, ev, at, incident);
        return KS_OK;
    }
    if (ev->action != KS_PD_ACKNOWLEDGE && ev->action != KS_PD_RESOLVE) {
        return ks_err_set(err, KS_EUSAGE, "pagerduty: unknown event action %d", (int)ev->action);
    }
    /* Acknowledge or resolve: found without interning the key, and before
     * the clock moves, so that one of an unknown or closed key changes
     * nothing at all. */
    struct ks_incident *inc = open_of(e, key_find(e, ev->dedup_key));
    if (!inc) {
        return KS_OK;
    }
    *incident = inc->id;
    if (clock_to(e, &at, err) != 0) {
        return err->rc;
    }
    if (ev->action == KS_PD_ACKNOWLEDGE) {
        if (inc->acknowledged_at != KS_TIME_NONE) {
            return KS_OK;
        }
        return ks_engine_ack(e, inc->id, by, at, err);
    }
    return ks_engine_set_status(e, inc->id, "resolved", by, at, err);
}

/* ---- Alertmanager -------------------------------------------------------------------- */

/* What tells an alert of the body apart: its alertname and the labels that
 * are not common to the whole body, `Name{k="v", ...}`, cut to QUOTE_MAX. */
static char *alert_name(const struct ks_am_webhook *w, const struct ks_am_alert *al)
{
    struct ks_buf b = {0};
    const char *name = ks_am_label(&al->labels, "alertname");
    ks_buf_puts(&b, name ? name : "");
    size_t shown = 0;
    for (size_t i = 0; i < al->labels.n; i++) {
        const struct ks_am_kv *kv = &al->labels.kv[i];
        const char *common = ks_am_label(&w->common_labels, kv->key);
        if (strcmp(kv->key, "alertname") == 0 || (common && strcmp(common, kv->value) == 0)) {
            continue;
        }
        ks_buf_printf(&b, "%s%s=\"%s\"", shown++ ? ", " : "{", kv->key, kv->value);
    }
    if (shown) {
        ks_buf_putc(&b, '}');
    }
    if (b.len == 0) {
        ks_buf_puts(&b, "alert");
    }
    char q[QUOTE_MAX + 4];
    quote(b.p, q);
    ks_buf_fini(&b);
    return ks_strdup(q);
}

static int cmp_fp(const void *x, const void *y, void *arg)
{
    const struct ks_am_group *g = arg;
    return strcmp(g->members[*(const size_t *)x].fingerprint,
                  g->members[*(const size_t *)y].fingerprint);
}

/* The indexes of g's members sorted by fingerprint, for member(). */
static size_t *fp_index(const struct ks_am_group *g)
{
    size_t *ix = ks_malloc((g->n ? g->n : 1) * sizeof(*ix));
    for (size_t i = 0; i < g->n; i++) {
        ix[i] = i;
    }
    qsort_r(ix, g->n, sizeof(*ix), cmp_fp, (void *)g);
    return ix;
}

/* The index in g of fingerprint fp, or SIZE_MAX. */
static size_t member(const struct ks_am_group *g, const size_t *ix, const char *fp)
{
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->members[ix[mid]].fingerprint, fp);
        if (c == 0) {
            return ix[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return SIZE_MAX;
}

/* The name of an alert: as the incident first knew it (the labels common to
 * a body change with the alerts it carries: a name is kept, not redrawn),
 * else from body alert i (SIZE_MAX: none), else "alert". */
static char *name_of(const struct ks_alert_inc *a, const size_t *ix, const char *fp,
                     const struct ks_am_webhook *w, size_t i)
{
    size_t k = member(&a->group, ix, fp);
    if (k != SIZE_MAX) {
        return ks_strdup(a->names[k]);
    }
    return i < w->nalerts ? alert_name(w, &w->alerts[i]) : ks_strdup("alert");
}

/* Replaces a's group with next (taken over), naming each member. Returns
 * whether the members or their statuses changed. */
static int group_take(struct ks_alert_inc *a, const struct ks_am_webhook *w,
                      struct ks_am_group *next, const size_t *old_ix)
{
    char **names = ks_calloc(next->n ? next->n : 1, sizeof(*names));
    for (size_t i = 0; i < next->n; i++) {
        /* ks_am_group_apply lists the body's alerts first, in order */
        KS_ASSERT(i >= w->nalerts ||
                  strcmp(next->members[i].fingerprint, w->alerts[i].fingerprint) == 0);
        names[i] = name_of(a, old_ix, next->members[i].fingerprint, w, i);
    }
    int changed = next->n != a->group.n;
    for (size_t i = 0; i < next->n && !changed; i++) {
        changed = strcmp(next->members[i].fingerprint, a->group.members[i].fingerprint) != 0 ||
                  next->members[i].status != a->group.members[i].status ||
                  strcmp(names[i], a->names[i]) != 0;
    }
    for (size_t i = 0; i < a->group.n; i++) {
        ks_free(a->names ? a->names[i] : NULL);
    }
    ks_free(a->names);
    ks_am_group_fini(&a->group);
    a->group = *next;
    a->group.open = 0;
    a->names = names;
    memset(next, 0, sizeof(*next));
    return changed;
}

/* The timeline entries of the alerts whose status changed: a signal for
 * each that fires, a note for each that resolves, the first TL_ALERTS_MAX
 * by name and the rest counted. Call before group_take: an alert the body
 * left out is named as the incident knew it. */
static void transitions(struct ks_engine *e, struct ks_incident *inc, const struct ks_am_webhook *w,
                        const struct ks_am_outcome *o, ks_time at)
{
    const struct ks_alert_inc *a = inc->alert;
    size_t *ix = fp_index(&a->group);
    size_t more_fire = 0, more_resolve = 0;
    for (size_t i = 0; i < o->ntransitions; i++) {
        const struct ks_am_transition *t = &o->transitions[i];
        if (i >= TL_ALERTS_MAX) {
            more_fire += t->to == KS_AM_FIRING;
            more_resolve += t->to == KS_AM_RESOLVED;
            continue;
        }
        char *name = name_of(a, ix, t->fingerprint, w, t->alert);
        if (t->to == KS_AM_FIRING) {
            ks_inc_signal(e, inc, KS_DET_ALERTMANAGER, at, (double)o->nfiring, 0,
                          "%s %s (fingerprint %s)", name,
                          t->from == KS_AM_RESOLVED ? "fires again" : "fires", t->fingerprint);
        } else {
            ks_inc_tl(e, inc, at, KS_TL_NOTE, "kintsugi",
                      "alertmanager: %s resolved (fingerprint %s%s)", name, t->fingerprint,
                      t->alert < w->nalerts ? "" : "; a complete body left it out");
        }
        ks_free(name);
    }
    if (more_fire) {
        ks_inc_signal(e, inc, KS_DET_ALERTMANAGER, at, (double)o->nfiring, 0,
                      "%zu more alerts of the group fire", more_fire);
    }
    if (more_resolve) {
        ks_inc_tl(e, inc, at, KS_TL_NOTE, "kintsugi",
                  "alertmanager: %zu more alerts of the group resolved", more_resolve);
    }
    ks_free(ix);
}

enum ks_rc ks_engine_am_webhook(struct ks_engine *e, const struct ks_am_webhook *w, const char *by,
                                ks_time at, int64_t *incident, struct ks_err *err)
{
    *incident = 0;
    if (!w->group_key || strlen(w->group_key_hash) != 64) {
        return ks_err_set(err, KS_EUSAGE, "alertmanager: not a parsed webhook body");
    }
    by = by ? by : "alertmanager";
    struct ks_incident *inc = open_of(e, key_find(e, w->group_key_hash));
    /* The alerts the open incident knows; an incident opened by a PagerDuty
     * trigger knows none, but is open all the same. */
    struct ks_am_group known = {0};
    if (inc) {
        known = inc->alert->group;
        known.open = 1;
    }
    struct ks_am_group next = {0};
    struct ks_am_outcome o = {0};
    ks_am_group_apply(&known, w, &next, &o);
    if (!inc && o.change != KS_AM_GROUP_OPENED) {
        /* Nothing fires and nothing is open: nothing to remember either,
         * and the clock stays where it was (the rule reads no time). */
        ks_am_group_fini(&next);
        ks_am_outcome_fini(&o);
        return KS_OK;
    }
    if (clock_to(e, &at, err) != 0) {
        ks_am_group_fini(&next);
        ks_am_outcome_fini(&o);
        return err->rc;
    }
    struct ks_alert_scope s;
    ks_alert_scope_alertmanager(w, &s);
    if (!inc) {
        ks_time started = KS_TIME_NONE;
        for (size_t i = 0; i < w->nalerts; i++) {
            const struct ks_am_alert *al = &w->alerts[i];
            if (al->status == KS_AM_FIRING &&
                (started == KS_TIME_NONE || al->starts_at < started)) {
                started = al->starts_at;
            }
        }
        inc = open_alert(e, KS_ALERT_SRC_ALERTMANAGER, w->group_key_hash, &s, started, at);
    } else if (o.change != KS_AM_GROUP_UNCHANGED) {
        scope_add(e, inc, &s);
    }
    struct ks_alert_inc *a = inc->alert;
    *incident = inc->id;
    if (!a->group_key) {
        a->group_key = ks_strdup(w->group_key);
        ks_inc_dirty(e, inc);
    }
    if (o.change != KS_AM_GROUP_UNCHANGED) {
        transitions(e, inc, w, &o, at);
    }
    size_t *old_ix = fp_index(&a->group);
    int changed = group_take(a, w, &next, old_ix);
    ks_free(old_ix);
    switch (o.change) {
    case KS_AM_GROUP_UNCHANGED:
        /* Idempotent: the incident shows the same. Only members the body
         * dropped (resolved ones it no longer lists) leave its list. */
        if (changed) {
            ks_inc_dirty(e, inc);
        }
        break;
    case KS_AM_GROUP_OPENED:
        if (!s.severity_named) {
            ks_inc_tl(e, inc, at, KS_TL_NOTE, "kintsugi",
                      "alertmanager: no firing alert names a severity (label severity): P3");
        }
        fingerprint(e, inc);
        break;
    case KS_AM_GROUP_UPDATED: {
        int fires = 0;
        for (size_t i = 0; i < w->nalerts; i++) {
            fires |= w->alerts[i].status == KS_AM_FIRING;
        }
        /* Only firing alerts may raise the severity; it is never lowered. */
        if (fires && s.severity_named && s.severity < inc->severity) {
            ks_inc_raise(e, inc, (enum ks_severity)s.severity, at,
                         "a firing Alertmanager alert says %s",
                         ks_severity_name((enum ks_severity)s.severity));
        }
        ks_inc_dirty(e, inc);
        break;
    }
    case KS_AM_GROUP_RESOLVED: {
        enum ks_rc rc = ks_engine_set_status(e, inc->id, "resolved", by, at, err);
        KS_ASSERT(rc == KS_OK); /* it was open: resolving it cannot be refused */
        break;
    }
    }
    ks_alert_scope_fini(&s);
    ks_am_outcome_fini(&o);
    return KS_OK;
}

int64_t ks_engine_alert_open(const struct ks_engine *e, const char *dedup_key)
{
    const struct ks_incident *inc = dedup_key ? open_of(e, key_find(e, dedup_key)) : NULL;
    return inc ? inc->id : 0;
}

/* ---- what incident.c and checkpoint.c call ---------------------------------------- */

void ks_alert_inc_free(struct ks_alert_inc *a)
{
    if (!a) {
        return;
    }
    ks_free(a->routing_key_hash);
    ks_free(a->group_key);
    ks_free(a->details);
    ks_u32set_fini(&a->channels);
    ks_u32set_fini(&a->locations);
    for (size_t i = 0; a->names && i < a->group.n; i++) {
        ks_free(a->names[i]);
    }
    ks_free(a->names);
    ks_am_group_fini(&a->group);
    ks_free(a);
}

void ks_alert_render_scope(const struct ks_engine *e, const struct ks_incident *inc, int what,
                           struct ks_json *j)
{
    if (!inc->alert) {
        return;
    }
    ks_json_strs_sorted(j, &e->strs, what ? &inc->alert->locations : &inc->alert->channels);
}

void ks_alert_render(const struct ks_engine *e, const struct ks_incident *inc, struct ks_json *j)
{
    const struct ks_alert_inc *a = inc->alert;
    if (!a) {
        return;
    }
    ks_json_key(j, "source");
    ks_json_str(j, src_names[a->source]);
    ks_json_key(j, "dedup_key");
    ks_json_strn(j, ks_intern_str(&e->strs, a->dedup_key), ks_intern_len(&e->strs, a->dedup_key));
    ks_json_key(j, "group_key");
    ks_json_str(j, a->group_key);
    ks_json_key(j, "routing_key_hash");
    ks_json_str(j, a->routing_key_hash);
    ks_json_key(j, "details");
    if (a->details) {
        ks_json_raw(j, a->details, strlen(a->details));
    } else {
        ks_json_null(j);
    }
    ks_json_key(j, "alerts");
    ks_json_arr_begin(j);
    for (size_t i = 0; i < a->group.n; i++) {
        ks_json_obj_begin(j);
        ks_json_key(j, "fingerprint");
        ks_json_str(j, a->group.members[i].fingerprint);
        ks_json_key(j, "status");
        ks_json_str(j, ks_am_status_name(a->group.members[i].status));
        ks_json_key(j, "name");
        ks_json_str(j, a->names[i]);
        ks_json_obj_end(j);
    }
    ks_json_arr_end(j);
}

int ks_alert_reindex(struct ks_engine *e)
{
    for (size_t i = 0; i < e->ninc; i++) {
        const struct ks_incident *inc = e->inc[i];
        const struct ks_alert_inc *a = inc->alert;
        if (!a) {
            continue;
        }
        if (a->dedup_key >= e->strs.n) {
            return -1;
        }
        for (size_t k = 0; k < a->channels.n; k++) {
            if (a->channels.v[k] >= e->strs.n) {
                return -1;
            }
        }
        for (size_t k = 0; k < a->locations.n; k++) {
            if (a->locations.v[k] >= e->strs.n) {
                return -1;
            }
        }
        /* Members are unique by fingerprint (ks_am_group_apply relies on it). */
        size_t *ix = fp_index(&a->group);
        int dup = 0;
        for (size_t k = 1; k < a->group.n; k++) {
            dup |= strcmp(a->group.members[ix[k - 1]].fingerprint,
                          a->group.members[ix[k]].fingerprint) == 0;
        }
        ks_free(ix);
        if (dup) {
            return -1;
        }
        uint64_t *slot = ks_map64_put(&e->alert_keys, (uint64_t)a->dedup_key + 1, NULL);
        if (*slot && ks_inc_open_get(e, (int64_t)*slot)) {
            return -1; /* only the last incident of a key may be open */
        }
        *slot = (uint64_t)inc->id;
    }
    return 0;
}
