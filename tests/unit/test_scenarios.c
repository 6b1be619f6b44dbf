/*
 * test_scenarios.c - every directory under tests/scenarios/ is one scenario:
 *
 *   events.ndjson   the input, replayed through the engine in-process
 *   config.yaml     optional configuration over the defaults
 *   expected.json   what the SPEC says must come out:
 *     {"rejected_lines": [3, 7],          exact list of rejected line numbers
 *      "duplicates": 1,                   optional
 *      "actions": [{"after_line": 40, "do": "status", "id": 1, "arg": "resolved",
 *                   "by": "alice", "at": "..."}],   optional people's actions
 *      "restart_at": 120,                 optional: also run with a save/load
 *                                         of the engine after this line
 *      "guard": {"amazon": {"paused": true, "held": 30}},     guard status after the run
 *      "guarded": {"amazon": {"S08": 0, "S00": 10}},          guarded quantities after the run
 *      "feed": {"ebay": [["S00", 7, "release"], ...]},        every change let through, in order
 *      actions also take "rollback", "release" (arg: channel or absent = all), "pause",
 *      "accept", "approve" (arg: action), "step" (arg: step, arg2: done|skip), with
 *      "fails": true when the action must be refused, and "check": {"do": "check",
 *      "label": "after rollback", "guarded": {...}, "guard": {...}} compares the guard at
 *      that point of the run (in the order of the actions) as "guarded"/"guard" do at its end
 *      "incidents": [ {                   exactly these incidents, in id order
 *         "type", "severity" (final), "initial_severity", "status",
 *         "detected_at", "started_at", "channels", "locations", "systems",
 *         "purchase_orders", "sku_list", "skus", "signals" (detector names in order),
 *         "escalations": [{"at", "severity", "from"}]   (always compared; absent = none),
 *         "sla": ["at", ...]                              (optional),
 *         "impact": {"orders", "customers", "revenue", "units"} (optional),
 *         "repeat_of"                                     (optional) } ]}
 *
 * Each scenario is also run twice to check that the JSON is byte-identical
 * (determinism). A scenario passes when every listed field matches exactly.
 */
#include "../../src/config/config.h"
#include "../../src/engine/engine.h"
#include "slurp.h"
#include "t.h"

#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>

struct run {
    struct ks_buf all; /* every incident's detail JSON, one per line */
    struct ks_buf guard, state, feed; /* guard status, guarded state, feed changes */
    json_t *rejected;  /* array of line numbers */
    long long duplicates;
};

static void mismatch(const char *name, int idx, const char *key, json_t *want, json_t *got)
{
    char *w = json_dumps(want, JSON_ENCODE_ANY | JSON_COMPACT);
    char *g = got ? json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    fprintf(stderr, "FAIL %s: incident %d: %s is %s, expected %s\n", name, idx + 1, key,
            g ? g : "(absent)", w ? w : "?");
    free(w);
    free(g);
    t_failed_checks++;
}

/* Compares the guard status JSON (status_json) with want: {"channel": {"key": value}}, the
 * listed keys only. label names the point of the run ("" at its end). */
static void cmp_guard(const char *name, const char *label, json_t *want, const char *status_json)
{
    if (!want) {
        return;
    }
    json_t *g = json_loads(status_json ? status_json : "{}", 0, NULL);
    const char *ch;
    json_t *want1;
    json_object_foreach(want, ch, want1)
    {
        json_t *have = NULL;
        size_t k;
        json_t *c;
        json_array_foreach(json_object_get(g, "channels"), k, c)
        {
            if (strcmp(json_string_value(json_object_get(c, "channel")), ch) == 0) {
                have = c;
            }
        }
        const char *key;
        json_t *val;
        json_object_foreach(want1, key, val)
        {
            if (!have || !json_equal(val, json_object_get(have, key))) {
                char what[256];
                snprintf(what, sizeof(what), "%s%sguard %s.%s", label, *label ? ": " : "", ch,
                         key);
                mismatch(name, -1, what, val, have ? json_object_get(have, key) : NULL);
            }
        }
    }
    json_decref(g);
}

/* Compares guarded quantities: want {"channel": {"sku": qty}} against state_json
 * {"channel": <feed state JSON>}. */
static void cmp_guarded(const char *name, const char *label, json_t *want, const char *state_json)
{
    if (!want) {
        return;
    }
    json_t *gs = json_loads(state_json ? state_json : "{}", 0, NULL);
    const char *ch;
    json_t *skus;
    json_object_foreach(want, ch, skus)
    {
        const char *sku;
        json_t *q;
        json_object_foreach(skus, sku, q)
        {
            json_t *have = NULL;
            size_t k;
            json_t *x;
            json_array_foreach(json_object_get(json_object_get(gs, ch), "skus"), k, x)
            {
                if (strcmp(json_string_value(json_object_get(x, "sku")), sku) == 0) {
                    have = json_object_get(x, "qty");
                }
            }
            if (!have || !json_equal(q, have)) {
                char what[256];
                snprintf(what, sizeof(what), "%s%sguarded %s %s", label, *label ? ": " : "", ch,
                         sku);
                mismatch(name, -1, what, q, have);
            }
        }
    }
    json_decref(gs);
}

/* The guarded state of the channels named in want, as {"channel": <feed state JSON>}. */
static void guarded_state(struct ks_engine *e, json_t *want, struct ks_buf *out)
{
    const char *ch;
    json_t *skus;
    struct ks_err err;
    ks_buf_putc(out, '{');
    json_object_foreach(want, ch, skus)
    {
        ks_buf_printf(out, "%s\"%s\":", out->len > 1 ? "," : "", ch);
        if (ks_engine_feed_state_json(e, ch, out, &err) != KS_OK) {
            ks_buf_puts(out, "null");
        }
    }
    ks_buf_putc(out, '}');
}

/* {"do": "check", "label": "...", "guarded": {...}, "guard": {...}}: the guard as it is at
 * this point of the run, in the same form as at its end. */
static void check_now(struct ks_engine *e, json_t *a, const char *name)
{
    const char *label = json_string_value(json_object_get(a, "label"));
    char where[128];
    snprintf(where, sizeof(where), "%s (after line %lld)", label ? label : "check",
             (long long)json_integer_value(json_object_get(a, "after_line")));
    struct ks_buf st = {0}, gs = {0};
    ks_engine_guard_status_json(e, &st);
    cmp_guard(name, where, json_object_get(a, "guard"), st.p);
    json_t *want = json_object_get(a, "guarded");
    if (want) {
        guarded_state(e, want, &gs);
        cmp_guarded(name, where, want, gs.p);
    }
    ks_buf_fini(&st);
    ks_buf_fini(&gs);
}

static void do_action(struct ks_engine *e, json_t *a, const char *name)
{
    const char *what = json_string_value(json_object_get(a, "do"));
    int64_t id = json_integer_value(json_object_get(a, "id"));
    const char *arg = json_string_value(json_object_get(a, "arg"));
    const char *by = json_string_value(json_object_get(a, "by"));
    const char *ats = json_string_value(json_object_get(a, "at"));
    ks_time at = KS_TIME_NONE;
    if (ats) {
        ks_time_parse(ats, strlen(ats), &at, NULL);
    }
    struct ks_err err = {0};
    enum ks_rc rc = KS_EUSAGE;
    if (what && strcmp(what, "check") == 0) {
        check_now(e, a, name);
        return;
    }
    if (!what || !by) {
        fprintf(stderr, "FAIL %s: action without do/by\n", name);
        t_failed_checks++;
        return;
    }
    struct ks_buf rep = {0};
    const char *arg2 = json_string_value(json_object_get(a, "arg2"));
    if (strcmp(what, "rollback") == 0) {
        rc = ks_engine_guard_rollback(e, id, 0, by, at, &rep, &err);
    } else if (strcmp(what, "release") == 0) {
        rc = ks_engine_guard_release(e, arg, by, at, &err);
    } else if (strcmp(what, "pause") == 0) {
        rc = ks_engine_guard_pause(e, arg, by, at, &err);
    } else if (strcmp(what, "accept") == 0) {
        rc = ks_engine_guard_accept(e, id, by, at, &err);
    } else if (strcmp(what, "approve") == 0) {
        rc = ks_engine_approve(e, id, arg, by, at, &err);
    } else if (strcmp(what, "step") == 0) {
        rc = ks_engine_step(e, id, arg, arg2, by, NULL, at, &err);
    } else if (strcmp(what, "ack") == 0) {
        rc = ks_engine_ack(e, id, by, at, &err);
    } else if (strcmp(what, "status") == 0) {
        rc = ks_engine_set_status(e, id, arg, by, at, &err);
    } else if (strcmp(what, "note") == 0) {
        rc = ks_engine_note(e, id, arg, by, at, &err);
    } else if (strcmp(what, "assign") == 0) {
        rc = ks_engine_assign(e, id, arg, by, at, &err);
    }
    ks_buf_fini(&rep);
    int must_fail = json_is_true(json_object_get(a, "fails"));
    if ((rc != KS_OK) != must_fail) {
        fprintf(stderr, "FAIL %s: action %s on %lld %s: %s\n", name, what, (long long)id,
                must_fail ? "was not refused" : "failed", rc != KS_OK ? err.msg : "");
        t_failed_checks++;
    }
}

/* Moves the feed changes the engine produced into out as [channel, sku, qty, why] lines. */
static void take_feed(struct ks_engine *e, struct ks_buf *out)
{
    const struct ks_feed_effect *f;
    size_t n = ks_engine_feed(e, &f);
    for (size_t i = 0; i < n; i++) {
        ks_buf_printf(out, "%s\t%s\t%u\t%s\n", ks_engine_name(e, f[i].channel),
                      ks_engine_sku(e, f[i].sku), f[i].qty,
                      ks_feed_why_name((enum ks_feed_why)f[i].why));
    }
    ks_engine_effects_clear(e);
}

/* Replays the scenario; with restart_at > 0 the engine is saved and restored
 * into a new one after that line. */
static void replay(const char *dir, const char *name, const struct ks_config *cfg, json_t *exp,
                   long restart_at, struct run *out)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/events.ndjson", dir);
    size_t len;
    char *text = t_slurp(path, &len);
    if (!text) {
        fprintf(stderr, "FAIL %s: cannot read %s\n", name, path);
        t_failed_checks++;
        return;
    }
    struct ks_engine *e = ks_engine_new(cfg);
    uint32_t in = ks_engine_input(e, "events.ndjson");
    json_t *actions = json_object_get(exp, "actions");
    out->rejected = json_array();
    size_t at = 0;
    long line = 0;
    struct ks_err err;
    while (at < len) {
        char *nl = memchr(text + at, '\n', len - at);
        size_t ll = nl ? (size_t)(nl - (text + at)) : len - at;
        line++;
        if (ks_engine_event(e, in, line, text + at, ll, &err) == KS_LINE_REJECTED) {
            json_array_append_new(out->rejected, json_integer(line));
        }
        take_feed(e, &out->feed);
        at += ll + 1;
        size_t i;
        json_t *a;
        json_array_foreach(actions, i, a)
        {
            if (json_integer_value(json_object_get(a, "after_line")) == line) {
                do_action(e, a, name);
                take_feed(e, &out->feed);
            }
        }
        if (line == restart_at) {
            struct ks_buf blob = {0};
            ks_engine_save(e, &blob);
            struct ks_engine_stats st;
            ks_engine_stats(e, &st);
            ks_engine_free(e);
            e = ks_engine_new(cfg);
            in = ks_engine_input(e, "events.ndjson");
            if (ks_engine_load(e, blob.p, blob.len, &err) != KS_OK) {
                fprintf(stderr, "FAIL %s: reload: %s\n", name, err.msg);
                t_failed_checks++;
            }
            ks_buf_fini(&blob);
        }
    }
    ks_engine_end_input(e);
    take_feed(e, &out->feed);
    ks_engine_guard_status_json(e, &out->guard);
    guarded_state(e, json_object_get(exp, "guarded"), &out->state);
    struct ks_engine_stats st;
    ks_engine_stats(e, &st);
    out->duplicates = (long long)st.duplicates;
    for (int64_t id = 1; id <= st.incidents; id++) {
        ks_engine_incident_json(e, id, 1, &out->all);
        ks_buf_putc(&out->all, '\n');
    }
    ks_engine_free(e);
    ks_free(text);
}

static int same_json(json_t *a, json_t *b)
{
    return json_equal(a, b);
}

static json_t *escalations_of(json_t *inc)
{
    json_t *out = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(inc, "timeline"), i, t)
    {
        if (strcmp(json_string_value(json_object_get(t, "kind")), "escalation") == 0) {
            json_array_append_new(out, json_pack("{s:O,s:O,s:O}", "at", json_object_get(t, "at"),
                                                 "severity", json_object_get(t, "severity"),
                                                 "from", json_object_get(t, "from")));
        }
    }
    return out;
}

static json_t *kinds_at(json_t *inc, const char *kind)
{
    json_t *out = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(inc, "timeline"), i, t)
    {
        if (strcmp(json_string_value(json_object_get(t, "kind")), kind) == 0) {
            json_array_append(out, json_object_get(t, "at"));
        }
    }
    return out;
}

static void compare(const char *name, json_t *exp, struct run *r)
{
    json_t *want_rej = json_object_get(exp, "rejected_lines");
    if (!want_rej) {
        want_rej = json_array();
    } else {
        json_incref(want_rej);
    }
    if (!same_json(want_rej, r->rejected)) {
        mismatch(name, -1, "rejected_lines", want_rej, r->rejected);
    }
    json_decref(want_rej);
    json_t *dups = json_object_get(exp, "duplicates");
    if (dups && json_integer_value(dups) != r->duplicates) {
        json_t *g = json_integer(r->duplicates);
        mismatch(name, -1, "duplicates", dups, g);
        json_decref(g);
    }
    cmp_guard(name, "", json_object_get(exp, "guard"), r->guard.p);
    cmp_guarded(name, "", json_object_get(exp, "guarded"), r->state.p);
    /* feed changes per channel, in order */
    json_t *wf = json_object_get(exp, "feed");
    if (wf) {
        const char *ch;
        json_t *list;
        json_object_foreach(wf, ch, list)
        {
            json_t *have = json_array();
            char *save = NULL, *copy = ks_strdup(r->feed.p ? r->feed.p : "");
            for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char c[128], s[128], why[64];
                unsigned q;
                if (sscanf(l, "%127[^\t]\t%127[^\t]\t%u\t%63s", c, s, &q, why) == 4 &&
                    strcmp(c, ch) == 0) {
                    json_array_append_new(have, json_pack("[s,i,s]", s, (int)q, why));
                }
            }
            ks_free(copy);
            if (!json_equal(list, have)) {
                char what[128];
                snprintf(what, sizeof(what), "feed %s", ch);
                mismatch(name, -1, what, list, have);
            }
            json_decref(have);
        }
    }
    /* parse the incidents */
    json_t *got = json_array();
    char *p = r->all.p;
    while (p && *p) {
        char *nl = strchr(p, '\n');
        *nl = 0;
        json_array_append_new(got, json_loads(p, 0, NULL));
        *nl = '\n';
        p = nl + 1;
    }
    json_t *want = json_object_get(exp, "incidents");
    if (json_array_size(want) != json_array_size(got)) {
        fprintf(stderr, "FAIL %s: %zu incidents, expected %zu\n", name, json_array_size(got),
                json_array_size(want));
        size_t i;
        json_t *g;
        json_array_foreach(got, i, g)
        {
            fprintf(stderr, "    got %s %s %s at %s\n",
                    json_string_value(json_object_get(g, "type")),
                    json_string_value(json_object_get(g, "severity")),
                    json_string_value(json_object_get(g, "title")),
                    json_string_value(json_object_get(g, "detected_at")));
        }
        t_failed_checks++;
        json_decref(got);
        return;
    }
    size_t i;
    json_t *w;
    json_array_foreach(want, i, w)
    {
        json_t *g = json_array_get(got, i);
        json_t *scope = json_object_get(g, "scope");
        const char *key;
        json_t *val;
        json_object_foreach(w, key, val)
        {
            json_t *have = NULL, *made = NULL;
            if (strcmp(key, "note") == 0) {
                continue;
            } else if (strcmp(key, "checklist") == 0) {
                /* {"step": "status"}: the listed steps only */
                made = json_object();
                size_t k;
                json_t *s;
                json_array_foreach(json_object_get(g, "checklist"), k, s)
                {
                    const char *sk = json_string_value(json_object_get(s, "step"));
                    if (json_object_get(val, sk)) {
                        json_object_set(made, sk, json_object_get(s, "status"));
                    }
                }
                have = made;
            } else if (strcmp(key, "timeline_contains") == 0) {
                /* every listed text is part of some entry, in this order */
                made = json_array();
                size_t k, from = 0;
                json_t *want_text;
                json_array_foreach(val, k, want_text)
                {
                    const char *needle = json_string_value(want_text);
                    size_t t;
                    json_t *entry;
                    int found = 0;
                    json_array_foreach(json_object_get(g, "timeline"), t, entry)
                    {
                        if (t >= from && !found &&
                            strstr(json_string_value(json_object_get(entry, "text")), needle)) {
                            found = 1;
                            from = t;
                        }
                    }
                    if (found) {
                        json_array_append(made, want_text);
                    }
                }
                have = made;
            } else if (strcmp(key, "escalations") == 0) {
                have = made = escalations_of(g);
            } else if (strcmp(key, "sla") == 0) {
                have = made = kinds_at(g, "sla");
            } else if (strcmp(key, "initial_severity") == 0) {
                json_t *first = json_array_get(json_object_get(g, "timeline"), 0);
                have = json_object_get(first, "severity");
            } else if (strcmp(key, "signals") == 0) {
                made = json_array();
                size_t k;
                json_t *s;
                json_array_foreach(json_object_get(g, "signals"), k, s)
                {
                    json_array_append(made, json_object_get(s, "detector"));
                }
                have = made;
            } else if (strcmp(key, "impact") == 0) {
                have = json_object_get(g, "impact");
            } else if (json_object_get(scope, key)) {
                have = json_object_get(scope, key);
            } else {
                have = json_object_get(g, key);
            }
            int eq = have && json_equal(val, have);
            if (!eq && have && json_is_number(val) && json_is_number(have)) {
                eq = json_number_value(val) == json_number_value(have);
            }
            if (!eq && strcmp(key, "impact") == 0 && have) {
                /* impact: compare the keys given, numbers by value */
                eq = 1;
                const char *ik;
                json_t *iv;
                json_object_foreach(val, ik, iv)
                {
                    eq &= json_number_value(iv) == json_number_value(json_object_get(have, ik));
                }
            }
            if (!eq) {
                mismatch(name, (int)i, key, val, have);
            }
            json_decref(made);
        }
        if (!json_object_get(w, "escalations")) {
            json_t *esc = escalations_of(g);
            if (json_array_size(esc)) {
                json_t *none = json_array();
                mismatch(name, (int)i, "escalations", none, esc);
                json_decref(none);
            }
            json_decref(esc);
        }
    }
    json_decref(got);
}

static void run_scenario(const char *dir, const char *name)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/expected.json", dir);
    json_error_t jerr;
    json_t *exp = json_load_file(path, 0, &jerr);
    if (!exp) {
        fprintf(stderr, "FAIL %s: %s:%d: %s\n", name, path, jerr.line, jerr.text);
        t_failed_checks++;
        return;
    }
    struct ks_config cfg;
    ks_config_defaults(&cfg);
    snprintf(path, sizeof(path), "%s/config.yaml", dir);
    struct stat sb;
    struct ks_err err = {0};
    if (stat(path, &sb) == 0 && ks_config_load(&cfg, path, &err) != KS_OK) {
        fprintf(stderr, "FAIL %s: %s\n", name, err.msg);
        t_failed_checks++;
    }
    struct run r1 = {0}, r2 = {0};
    replay(dir, name, &cfg, exp, 0, &r1);
    compare(name, exp, &r1);
    replay(dir, name, &cfg, exp, 0, &r2);
    if (!r1.all.p || !r2.all.p ? r1.all.p != r2.all.p : strcmp(r1.all.p, r2.all.p) != 0) {
        fprintf(stderr, "FAIL %s: two runs of the same input differ\n", name);
        t_failed_checks++;
    }
    json_t *restart = json_object_get(exp, "restart_at");
    if (restart) {
        struct run r3 = {0};
        replay(dir, name, &cfg, exp, (long)json_integer_value(restart), &r3);
        if (!r1.all.p || !r3.all.p || strcmp(r1.all.p, r3.all.p) != 0) {
            fprintf(stderr, "FAIL %s: a restart after line %lld changes the incidents\n", name,
                    (long long)json_integer_value(restart));
            t_failed_checks++;
        }
        ks_buf_fini(&r3.all);
        ks_buf_fini(&r3.guard);
        ks_buf_fini(&r3.state);
        ks_buf_fini(&r3.feed);
        json_decref(r3.rejected);
    }
    for (struct run *r = &r1; r; r = r == &r1 ? &r2 : NULL) {
        ks_buf_fini(&r->guard);
        ks_buf_fini(&r->state);
        ks_buf_fini(&r->feed);
    }
    ks_buf_fini(&r1.all);
    ks_buf_fini(&r2.all);
    json_decref(r1.rejected);
    json_decref(r2.rejected);
    json_decref(exp);
    ks_config_fini(&cfg);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    const char *root = "tests/scenarios";
    DIR *d = opendir(root);
    if (!d) {
        fprintf(stderr, "FAIL: cannot open %s (run from the repository root)\n", root);
        return 1;
    }
    char *names[1024];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 1024) {
        if (de->d_name[0] != '.') {
            names[n++] = strdup(de->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(char *), cmp_names);
    for (size_t i = 0; i < n; i++) {
        char dir[1024];
        snprintf(dir, sizeof(dir), "%s/%.900s", root, names[i]);
        struct stat sb;
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            free(names[i]);
            continue;
        }
        int before = t_failed_checks;
        t_current = names[i];
        run_scenario(dir, names[i]);
        if (t_failed_checks == before) {
            t_passed++;
            printf("ok %s\n", names[i]);
        } else {
            t_failed++;
        }
        free(names[i]);
    }
    return t_done();
}
