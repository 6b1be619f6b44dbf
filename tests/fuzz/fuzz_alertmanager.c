/*
 * fuzz_alertmanager.c - libFuzzer target for the Alertmanager webhook parser
 * and the group rule (src/alerts/alertmanager.c, group.c, scope.c).
 *
 * Each input is one request body. The target checks what holds for every
 * body: the verdict is KS_OK or KS_EINPUT; a rejection is one line of valid
 * UTF-8 starting "alertmanager: "; an accepted body has version "4", a
 * non-empty groupKey whose SHA-256 is group_key_hash, valid statuses,
 * distinct fingerprints of 1..64 bytes, truncatedAlerts >= 0, and a sane
 * scope. Then the group rule: the body applied to an empty group, to a
 * group that knows every alert of the body firing, and to one that knows
 * alerts the body does not name, must each give a state with distinct
 * members whose open flag follows the rule, and applying the same body
 * again must change nothing. Parsing again gives the same verdict and
 * message. Every allocation is released per input.
 *
 *   make build/fuzz/fuzz_alertmanager
 *   make fuzz FUZZ=alertmanager
 */
#include "../../src/alerts/alerts.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
    fprintf(stderr, "fuzz_alertmanager: %s\n", what);
    abort();
}

static void one_line(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20) {
            die("message holds a control character");
        }
    }
    if (n == 0 || ks_utf8_invalid_at(s, n) != (size_t)-1) {
        die("message is empty or not UTF-8");
    }
}

static void check_hash(const struct ks_am_webhook *w)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char hex[65];
    EVP_Digest(w->group_key, strlen(w->group_key), md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    if (n != 32 || strcmp(hex, w->group_key_hash) != 0) {
        die("group_key_hash is not the SHA-256 of groupKey");
    }
}

static void check_labels(const struct ks_am_labels *l)
{
    for (size_t i = 0; i < l->n; i++) {
        if (!l->kv[i].key || !l->kv[i].value) {
            die("label without key or value");
        }
    }
}

static void check_accepted(const struct ks_am_webhook *w)
{
    if (!w->version || strcmp(w->version, "4") != 0 || !w->group_key || !w->group_key[0]) {
        die("accepted without version or groupKey");
    }
    check_hash(w);
    if (!ks_am_status_name(w->status) || w->truncated_alerts < 0) {
        die("bad status or truncatedAlerts");
    }
    check_labels(&w->group_labels);
    check_labels(&w->common_labels);
    check_labels(&w->common_annotations);
    for (size_t i = 0; i < w->nalerts; i++) {
        const struct ks_am_alert *a = &w->alerts[i];
        size_t n = strlen(a->fingerprint);
        if (n == 0 || n > KS_AM_FINGERPRINT_MAX || !ks_am_status_name(a->status)) {
            die("bad alert");
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(a->fingerprint, w->alerts[j].fingerprint) == 0) {
                die("fingerprint twice");
            }
        }
        check_labels(&a->labels);
        check_labels(&a->annotations);
    }
    struct ks_alert_scope sc = {0};
    ks_alert_scope_alertmanager(w, &sc);
    if (!sc.title || sc.severity < 1 || sc.severity > 3 || !sc.type[0]) {
        die("bad scope");
    }
    ks_alert_scope_fini(&sc);
}

static void check_group(const struct ks_am_group *g)
{
    size_t firing = 0;
    for (size_t i = 0; i < g->n; i++) {
        firing += g->members[i].status == KS_AM_FIRING;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(g->members[i].fingerprint, g->members[j].fingerprint) == 0) {
                die("member twice");
            }
        }
    }
    if (firing && !g->open) {
        die("a group with a firing alert is closed");
    }
}

/* known -> next, then next again: nothing more may change. */
static void check_apply(const struct ks_am_group *known, const struct ks_am_webhook *w)
{
    struct ks_am_group n1, n2;
    struct ks_am_outcome o1, o2;
    ks_am_group_apply(known, w, &n1, &o1);
    check_group(&n1);
    if (o1.change == KS_AM_GROUP_OPENED && known->open) {
        die("opened an open group");
    }
    if (o1.change == KS_AM_GROUP_RESOLVED && (!known->open || w->truncated_alerts > 0)) {
        die("resolved a closed group or from a truncated body");
    }
    if (!w->truncated_alerts && n1.n != w->nalerts) {
        die("a complete body is not the whole state");
    }
    for (size_t i = 0; i < o1.ntransitions; i++) {
        const struct ks_am_transition *t = &o1.transitions[i];
        if (t->from == (int)t->to || (t->alert != SIZE_MAX && t->alert >= w->nalerts)) {
            die("bad transition");
        }
    }
    ks_am_group_apply(&n1, w, &n2, &o2);
    if (o2.change != KS_AM_GROUP_UNCHANGED || o2.ntransitions || n2.open != n1.open ||
        n2.n != n1.n || (n1.n && memcmp(n1.members, n2.members, n1.n * sizeof(*n1.members)))) {
        die("the same body twice changed something");
    }
    ks_am_group_fini(&n1);
    ks_am_group_fini(&n2);
    ks_am_outcome_fini(&o1);
    ks_am_outcome_fini(&o2);
}

static void groups(const struct ks_am_webhook *w)
{
    struct ks_am_group g = {0};
    check_apply(&g, w);
    /* every alert of the body known and firing, the group open */
    g.open = 1;
    for (size_t i = 0; i < w->nalerts; i++) {
        KS_GROW(g.members, g.cap, g.n + 1);
        memset(&g.members[g.n], 0, sizeof(g.members[g.n]));
        strcpy(g.members[g.n].fingerprint, w->alerts[i].fingerprint);
        g.members[g.n++].status = KS_AM_FIRING;
    }
    check_apply(&g, w);
    /* plus alerts the body does not name, one of each status */
    static const char *const extra[] = {"\x01 not in the body", "\x02 not in the body"};
    for (int i = 0; i < 2; i++) {
        KS_GROW(g.members, g.cap, g.n + 1);
        memset(&g.members[g.n], 0, sizeof(g.members[g.n]));
        strcpy(g.members[g.n].fingerprint, extra[i]);
        g.members[g.n++].status = i ? KS_AM_RESOLVED : KS_AM_FIRING;
    }
    check_apply(&g, w);
    ks_am_group_fini(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = malloc(size ? size : 1);
    memcpy(body, data, size);
    struct ks_am_webhook w = {0}, again = {0};
    struct ks_err err = {0}, err2 = {0};

    enum ks_rc rc = ks_alert_parse_alertmanager(body, size, &w, &err);
    if (rc == KS_OK) {
        check_accepted(&w);
        groups(&w);
    } else if (rc == KS_EINPUT) {
        if (strncmp(err.msg, "alertmanager: ", 14) != 0) {
            die("rejection without its prefix");
        }
        one_line(err.msg);
    } else {
        die("unexpected return code");
    }
    if (ks_alert_parse_alertmanager(body, size, &again, &err2) != rc ||
        (rc != KS_OK && strcmp(err.msg, err2.msg) != 0)) {
        die("a second parse differs");
    }
    ks_am_webhook_fini(&w);
    ks_am_webhook_fini(&again);
    free(body);
    if (ks_alloc_live() != 0) {
        die("allocations left after fini");
    }
    return 0;
}
