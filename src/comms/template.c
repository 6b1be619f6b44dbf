/*
 * template.c - message templates: a subject line and a body with
 * {{name}} placeholders, built in and overridable by files
 * (docs/MESSAGES.md). Parsing checks every placeholder against the kind's
 * list, so a broken template is an error of `check-config` with its file
 * and line, never a message with a hole in it.
 */
#include "comms.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[KS_TPL__COUNT] = {
    "incident", "update", "reminder", "customer_notice", "follow_up", "order_delay",
};

const char *ks_tpl_name(enum ks_tpl_kind k)
{
    return (unsigned)k < KS_TPL__COUNT ? kind_names[k] : "?";
}

int ks_tpl_parse_name(const char *name)
{
    for (int i = 0; name && i < KS_TPL__COUNT; i++) {
        if (!strcmp(kind_names[i], name)) {
            return i;
        }
    }
    return -1;
}

int ks_tpl_customer(enum ks_tpl_kind k)
{
    return k == KS_TPL_CUSTOMER_NOTICE || k == KS_TPL_FOLLOW_UP || k == KS_TPL_ORDER_DELAY;
}

/* Every placeholder, and which kinds know it: I internal kinds, C customer
 * kinds, A all. */
struct ph {
    const char *name;
    char who;
};
static const struct ph placeholders[] = {
    {"incident", 'A'},       {"title", 'A'},          {"type", 'A'},
    {"severity", 'A'},       {"status", 'A'},         {"started", 'A'},
    {"detected", 'A'},       {"shop", 'A'},           {"what_happened", 'A'},
    {"current_actions", 'A'}, {"next_update", 'A'},   {"timeline", 'A'},
    {"recipient", 'A'},      {"channels", 'A'},       {"locations", 'A'},
    {"impact", 'I'},         {"orders", 'I'},         {"customers", 'I'},
    {"revenue", 'I'},        {"units", 'I'},          {"currency", 'I'},
    {"customer_impact", 'I'}, {"owner", 'I'},         {"audience", 'I'},
    {"order", 'C'},          {"email", 'C'},          {"what_we_are_doing", 'C'},
    {"next_steps", 'C'},     {"resolution_timeline", 'C'}, {"compensation", 'C'},
    {"prevention", 'C'},     {"new_ship_date", 'C'},  {"remedy", 'C'},
    {"cancel", 'C'},
};
#define NPH (sizeof(placeholders) / sizeof(placeholders[0]))

static int known(enum ks_tpl_kind k, const char *name, size_t n)
{
    for (size_t i = 0; i < NPH; i++) {
        const struct ph *p = &placeholders[i];
        if (strlen(p->name) == n && !memcmp(p->name, name, n)) {
            return p->who == 'A' || (p->who == 'C') == (ks_tpl_customer(k) != 0);
        }
    }
    return 0;
}

void ks_tpl_placeholders(enum ks_tpl_kind k, const char **out, size_t cap, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < NPH && *n + 1 < cap; i++) {
        if (known(k, placeholders[i].name, strlen(placeholders[i].name))) {
            out[(*n)++] = placeholders[i].name;
        }
    }
    out[*n] = NULL;
}

/* A part: literal text (name NULL) or a placeholder. */
struct part {
    char *text; /* literal, or the placeholder's name */
    int ph;
};
struct seq {
    struct part *v;
    size_t n, cap;
};
struct ks_tpl {
    struct seq subject, body;
};

static void add(struct seq *s, const char *p, size_t n, int ph)
{
    if (!n && !ph) {
        return;
    }
    KS_GROW(s->v, s->cap, s->n + 1);
    s->v[s->n].text = ks_strndup(p, n);
    s->v[s->n++].ph = ph;
}

static void seq_fini(struct seq *s)
{
    for (size_t i = 0; i < s->n; i++) {
        ks_free(s->v[i].text);
    }
    ks_free(s->v);
}

void ks_tpl_free(struct ks_tpl *t)
{
    if (t) {
        seq_fini(&t->subject);
        seq_fini(&t->body);
        ks_free(t);
    }
}

static int is_name(char c)
{
    return (c >= 'a' && c <= 'z') || c == '_' || (c >= '0' && c <= '9');
}

/* Parses p[0, n) (starting at line `line`) into s. */
static enum ks_rc parse_seq(enum ks_tpl_kind k, const char *p, size_t n, int line, struct seq *s,
                            struct ks_err *err)
{
    size_t lit = 0;
    for (size_t i = 0; i < n;) {
        if (p[i] == '\n') {
            line++;
            i++;
            continue;
        }
        if (p[i] == '}' && i + 1 < n && p[i + 1] == '}') {
            return ks_err_set(err, KS_EINPUT, "%d: \"}}\" without an opening \"{{\"", line);
        }
        if (p[i] != '{' || i + 1 >= n || p[i + 1] != '{') {
            i++;
            continue;
        }
        add(s, p + lit, i - lit, 0);
        size_t j = i + 2;
        while (j < n && (p[j] == ' ' || p[j] == '\t')) {
            j++;
        }
        size_t a = j;
        while (j < n && is_name(p[j])) {
            j++;
        }
        size_t b = j;
        while (j < n && (p[j] == ' ' || p[j] == '\t')) {
            j++;
        }
        if (j + 1 >= n || p[j] != '}' || p[j + 1] != '}') {
            size_t e = j;
            while (e < n && p[e] != '\n' && e - i < 40) {
                e++;
            }
            return ks_err_set(err, KS_EINPUT,
                              "%d: unclosed or malformed placeholder \"%.*s\" (a placeholder is "
                              "{{name}}, lowercase letters, digits and _)",
                              line, (int)(e - i), p + i);
        }
        if (a == b) {
            return ks_err_set(err, KS_EINPUT, "%d: empty placeholder \"{{}}\"", line);
        }
        if (!known(k, p + a, b - a)) {
            const char *names[64];
            size_t cnt;
            ks_tpl_placeholders(k, names, 64, &cnt);
            const char *near = ks_key_closest(p + a, b - a, names, cnt);
            char hint[96] = "";
            if (near) {
                snprintf(hint, sizeof(hint), "; did you mean {{%s}}?", near);
            }
            return ks_err_set(err, KS_EINPUT,
                              "%d: unknown placeholder {{%.*s}} for the %s template%s (see "
                              "docs/MESSAGES.md)",
                              line, (int)(b - a), p + a, ks_tpl_name(k), hint);
        }
        add(s, p + a, b - a, 1);
        i = j + 2;
        lit = i;
    }
    add(s, p + lit, n - lit, 0);
    return KS_OK;
}

enum ks_rc ks_tpl_parse(enum ks_tpl_kind k, const char *text, size_t n, struct ks_tpl **out,
                        struct ks_err *err)
{
    *out = NULL;
    if (memchr(text, 0, n)) {
        return ks_err_set(err, KS_EINPUT, "1: a template must not contain a NUL byte");
    }
    size_t bad = ks_utf8_invalid_at(text, n);
    if (bad != (size_t)-1) {
        int line = 1;
        for (size_t i = 0; i < bad; i++) {
            line += text[i] == '\n';
        }
        return ks_err_set(err, KS_EINPUT, "%d: not valid UTF-8", line);
    }
    static const char pre[] = "Subject:";
    if (n < sizeof(pre) - 1 || memcmp(text, pre, sizeof(pre) - 1) != 0) {
        return ks_err_set(err, KS_EINPUT,
                          "1: a template starts with a \"Subject: ...\" line, then an empty "
                          "line and the body");
    }
    const char *nl = memchr(text, '\n', n);
    size_t subj_end = nl ? (size_t)(nl - text) : n;
    size_t a = sizeof(pre) - 1;
    while (a < subj_end && text[a] == ' ') {
        a++;
    }
    size_t b = subj_end;
    if (b > a && text[b - 1] == '\r') {
        b--;
    }
    if (a == b) {
        return ks_err_set(err, KS_EINPUT, "1: the subject is empty");
    }
    size_t body = subj_end < n ? subj_end + 1 : n;
    if (body < n && text[body] != '\n' && !(text[body] == '\r' && body + 1 < n &&
                                            text[body + 1] == '\n')) {
        return ks_err_set(err, KS_EINPUT, "2: an empty line must follow the subject line");
    }
    if (body < n) {
        body += text[body] == '\r' ? 2 : 1;
    }
    if (body >= n) {
        return ks_err_set(err, KS_EINPUT, "%d: the body is empty", body < n ? 3 : 2);
    }
    struct ks_tpl *t = ks_calloc(1, sizeof(*t));
    enum ks_rc rc = parse_seq(k, text + a, b - a, 1, &t->subject, err);
    if (rc == KS_OK) {
        rc = parse_seq(k, text + body, n - body, 3, &t->body, err);
    }
    if (rc != KS_OK) {
        ks_tpl_free(t);
        return rc;
    }
    *out = t;
    return KS_OK;
}

static void render_seq(const struct seq *s, ks_tpl_value_fn fn, void *ctx, struct ks_buf *out,
                       int one_line)
{
    for (size_t i = 0; i < s->n; i++) {
        const char *v = s->v[i].ph ? fn(ctx, s->v[i].text) : s->v[i].text;
        if (!one_line) {
            ks_buf_puts(out, v);
            continue;
        }
        for (; *v; v++) { /* a subject is one line whatever a value holds */
            ks_buf_putc(out, *v == '\n' || *v == '\r' ? ' ' : *v);
        }
    }
}

void ks_tpl_render(const struct ks_tpl *t, ks_tpl_value_fn fn, void *ctx, struct ks_buf *subject,
                   struct ks_buf *body)
{
    render_seq(&t->subject, fn, ctx, subject, 1);
    render_seq(&t->body, fn, ctx, body, 0);
}

/* ---- the built-in set ------------------------------------------------------------ */

static const char *const builtin[KS_TPL__COUNT] = {
    [KS_TPL_INCIDENT] =
        "Subject: [{{severity}}] Incident #{{incident}}: {{title}}\n"
        "\n"
        "Severity: {{severity}}\n"
        "Started: {{started}}\n"
        "Detected: {{detected}}\n"
        "Impact: {{impact}}\n"
        "Status: {{status}}\n"
        "\n"
        "What happened: {{what_happened}}\n"
        "Current actions: {{current_actions}}\n"
        "Customer impact: {{customer_impact}}\n"
        "Next update: {{next_update}}\n"
        "Owner: {{owner}}\n",
    [KS_TPL_UPDATE] = "Subject: [{{severity}}] Update on incident #{{incident}}: {{status}}\n"
                      "\n"
                      "Incident #{{incident}} ({{title}}) is now {{status}}.\n"
                      "\n"
                      "Impact: {{impact}}\n"
                      "Current actions: {{current_actions}}\n"
                      "Customer impact: {{customer_impact}}\n"
                      "Next update: {{next_update}}\n"
                      "Owner: {{owner}}\n",
    [KS_TPL_REMINDER] = "Subject: [{{severity}}] Status update overdue: incident #{{incident}}\n"
                        "\n"
                        "{{recipient}}: the status update of incident #{{incident}} ({{title}}) "
                        "was due at {{next_update}}.\n"
                        "Status: {{status}}. Impact: {{impact}}\n",
    [KS_TPL_CUSTOMER_NOTICE] =
        "Subject: About your order {{order}} with {{shop}}\n"
        "\n"
        "Hello,\n"
        "\n"
        "What happened: {{what_happened}}\n"
        "What we are doing: {{what_we_are_doing}}\n"
        "Timeline: {{timeline}}\n"
        "Next steps: {{next_steps}}\n"
        "\n"
        "We are sorry for the trouble.\n"
        "{{shop}}\n",
    [KS_TPL_FOLLOW_UP] = "Subject: Update on your order {{order}} with {{shop}}\n"
                         "\n"
                         "Hello,\n"
                         "\n"
                         "Status: {{status}}\n"
                         "Resolution timeline: {{resolution_timeline}}\n"
                         "Compensation: {{compensation}}\n"
                         "Prevention: {{prevention}}\n"
                         "\n"
                         "{{shop}}\n",
    [KS_TPL_ORDER_DELAY] = "Subject: Your order {{order}} with {{shop}} is delayed\n"
                           "\n"
                           "Hello,\n"
                           "\n"
                           "Your order {{order}} is delayed: {{what_happened}}\n"
                           "New ship date: {{new_ship_date}}\n"
                           "What we offer: {{remedy}}\n"
                           "{{cancel}}\n"
                           "\n"
                           "{{shop}}\n",
};

const char *ks_tpl_builtin(enum ks_tpl_kind k)
{
    return builtin[k];
}

/* Reads path whole; 1 when it does not exist, -1 on another failure (err). */
static int read_file(const char *path, struct ks_buf *b, struct ks_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) {
            return 1;
        }
        ks_err_set(err, KS_EINPUT, "%s: %s", path, strerror(errno));
        return -1;
    }
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b->len + n > (1u << 20)) {
            fclose(f);
            ks_err_set(err, KS_EINPUT, "%s: a template is at most 1 MiB", path);
            return -1;
        }
        ks_buf_put(b, chunk, n);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        ks_err_set(err, KS_EINPUT, "%s: read error", path);
        return -1;
    }
    return 0;
}

enum ks_rc ks_tpl_set_load(struct ks_tpl_set *set, const char *dir, struct ks_err *err)
{
    memset(set, 0, sizeof(*set));
    for (int k = 0; k < KS_TPL__COUNT; k++) {
        struct ks_buf b = {0};
        int found = 0;
        for (int md = 0; dir && md < 2 && !found; md++) {
            char pb[4096];
            snprintf(pb, sizeof(pb), "%s/%s.%s", dir, kind_names[k], md ? "md" : "txt");
            char *path = ks_strdup(pb);
            ks_buf_reset(&b);
            int r = read_file(path, &b, err);
            if (r < 0) {
                ks_free(path);
                ks_buf_fini(&b);
                ks_tpl_set_fini(set);
                return KS_EINPUT;
            }
            if (r == 0) {
                found = 1;
                struct ks_err e2 = {0};
                if (ks_tpl_parse((enum ks_tpl_kind)k, b.p ? b.p : "", b.len, &set->t[k], &e2) !=
                    KS_OK) {
                    ks_err_set(err, KS_EINPUT, "%s:%s", path, e2.msg);
                    ks_free(path);
                    ks_buf_fini(&b);
                    ks_tpl_set_fini(set);
                    return KS_EINPUT;
                }
                set->from[k] = path;
                set->markdown[k] = md;
            } else {
                ks_free(path);
            }
        }
        ks_buf_fini(&b);
        if (!found) {
            struct ks_err e2 = {0};
            enum ks_rc rc = ks_tpl_parse((enum ks_tpl_kind)k, builtin[k], strlen(builtin[k]),
                                         &set->t[k], &e2);
            KS_ASSERT(rc == KS_OK); /* a built-in template that does not parse is a bug */
        }
    }
    return KS_OK;
}

void ks_tpl_set_fini(struct ks_tpl_set *set)
{
    for (int k = 0; k < KS_TPL__COUNT; k++) {
        ks_tpl_free(set->t[k]);
        ks_free(set->from[k]);
    }
    memset(set, 0, sizeof(*set));
}
