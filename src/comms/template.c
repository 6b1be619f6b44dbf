/*
 * template.c - message templates: a subject line and a body with
 * {{name}} placeholders, built in and overridable by files
 * (docs/MESSAGES.md). Parsing checks every placeholder against the kind's
 * list, so a broken template is an error of `check-config` with its file
 * and line, never a message with a hole in it.
 */
#include "comms.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

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
    {"due", 'I'},
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
                        "was due at {{due}}.\n"
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

/* Reads path whole into b; NULL, or why it cannot (into buf). */
static const char *read_file(const char *path, struct ks_buf *b, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(buf, cap, "%s", strerror(errno));
        return buf;
    }
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b->len + n > (1u << 20)) {
            fclose(f);
            return "a template is at most 1 MiB";
        }
        ks_buf_put(b, chunk, n);
    }
    int bad = ferror(f);
    fclose(f);
    return bad ? "read error" : NULL;
}

/* Hands one problem to fn and counts it. */
static void report(int *count, ks_tpl_issue_fn fn, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(int *count, ks_tpl_issue_fn fn, void *ctx, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    (*count)++;
    if (fn) {
        fn(ctx, msg);
    }
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The kind of file name `name` of a templates directory: 0 to ignore it (a
 * dot file, or not ending in .txt or .md in any case), 1 for a template
 * (*kind, *md set), -1 for one that is not a template (hint: the name it was
 * likely meant to have, or empty). */
static int classify(const char *name, int *kind, int *md, char *hint, size_t cap)
{
    hint[0] = 0;
    const char *dot = strrchr(name, '.');
    if (name[0] == '.' || !dot) {
        return 0;
    }
    int txt = !strcasecmp(dot, ".txt");
    if (!txt && strcasecmp(dot, ".md") != 0) {
        return 0; /* an editor's backup (NAME.txt~, NAME.txt.bak), a README, ... */
    }
    size_t n = (size_t)(dot - name);
    const char *ext = txt ? "txt" : "md";
    for (int k = 0; k < KS_TPL__COUNT; k++) {
        if (strlen(kind_names[k]) == n && !memcmp(kind_names[k], name, n) &&
            !strcmp(dot + 1, ext)) {
            *kind = k;
            *md = !txt;
            return 1;
        }
    }
    const char *near = ks_key_closest(name, n, kind_names, KS_TPL__COUNT);
    if (near) {
        snprintf(hint, cap, " (did you mean %s.%s?)", near, ext);
    }
    return -1;
}

/* Reads every template file of dir into set (those it has), handing each
 * problem to fn; returns their number. */
static int load_dir(struct ks_tpl_set *set, const char *dir, ks_tpl_issue_fn fn, void *ctx)
{
    int problems = 0;
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        if (e == ENOENT) {
            report(&problems, fn, ctx, "%s: no such directory", dir);
        } else if (e == ENOTDIR) {
            report(&problems, fn, ctx, "%s: not a directory", dir);
        } else {
            report(&problems, fn, ctx, "%s: cannot read the directory: %s", dir, strerror(e));
        }
        return problems;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (de->d_name[0] != '.') {
            KS_GROW(names, cap, n + 1);
            names[n++] = ks_strdup(de->d_name);
        }
    }
    closedir(d);
    if (n > 1) {
        qsort(names, n, sizeof(*names), name_cmp);
    }
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') {
        dl--;
    }
    char *seen[KS_TPL__COUNT] = {0}; /* the file read for each kind */
    for (size_t i = 0; i < n; i++) {
        struct ks_buf path = {0};
        ks_buf_printf(&path, "%.*s%s%s", (int)dl, dir, dir[dl - 1] == '/' ? "" : "/", names[i]);
        int k = 0, md = 0;
        char hint[96], why[256];
        int what = classify(names[i], &k, &md, hint, sizeof(hint));
        if (what < 0) {
            report(&problems, fn, ctx,
                   "%s: not a template: known ones are incident, update, reminder, "
                   "customer_notice, follow_up and order_delay, each NAME.txt or NAME.md%s",
                   path.p, hint);
        } else if (what > 0 && seen[k]) {
            report(&problems, fn, ctx, "%s: the %s template is also %s: keep one of the two",
                   path.p, kind_names[k], seen[k]);
        } else if (what > 0) {
            seen[k] = ks_strdup(path.p);
            struct stat sb;
            struct ks_buf text = {0};
            const char *bad = NULL;
            if (stat(path.p, &sb) != 0) {
                bad = strerror(errno);
            } else if (!S_ISREG(sb.st_mode)) {
                bad = "not a regular file";
            } else {
                bad = read_file(path.p, &text, why, sizeof(why));
            }
            struct ks_err e2 = {0};
            if (bad) {
                report(&problems, fn, ctx, "%s: %s", path.p, bad);
            } else if (ks_tpl_parse((enum ks_tpl_kind)k, text.p ? text.p : "", text.len, &set->t[k],
                                    &e2) != KS_OK) {
                report(&problems, fn, ctx, "%s:%s", path.p, e2.msg);
            } else {
                set->from[k] = ks_strdup(path.p);
                set->markdown[k] = md;
            }
            ks_buf_fini(&text);
        }
        ks_buf_fini(&path);
    }
    for (int k = 0; k < KS_TPL__COUNT; k++) {
        ks_free(seen[k]);
    }
    for (size_t i = 0; i < n; i++) {
        ks_free(names[i]);
    }
    ks_free(names);
    return problems;
}

int ks_tpl_set_load_each(struct ks_tpl_set *set, const char *dir, ks_tpl_issue_fn fn, void *ctx)
{
    memset(set, 0, sizeof(*set));
    int problems = dir ? load_dir(set, dir, fn, ctx) : 0;
    if (problems) {
        ks_tpl_set_fini(set);
        return problems;
    }
    for (int k = 0; k < KS_TPL__COUNT; k++) {
        if (!set->t[k]) {
            struct ks_err e2 = {0};
            enum ks_rc rc =
                ks_tpl_parse((enum ks_tpl_kind)k, builtin[k], strlen(builtin[k]), &set->t[k], &e2);
            KS_ASSERT(rc == KS_OK); /* a built-in template that does not parse is a bug */
        }
    }
    return 0;
}

/* Keeps the first problem. */
static void first_issue(void *ctx, const char *msg)
{
    struct ks_err *err = ctx;
    if (!err->msg[0]) {
        snprintf(err->msg, sizeof(err->msg), "%s", msg);
    }
}

enum ks_rc ks_tpl_set_load(struct ks_tpl_set *set, const char *dir, struct ks_err *err)
{
    struct ks_err first = {0};
    int n = ks_tpl_set_load_each(set, dir, first_issue, &first);
    if (!n) {
        return KS_OK;
    }
    if (n > 1) {
        return ks_err_set(err, KS_EINPUT, "%s (and %d more problems of the templates)", first.msg,
                          n - 1);
    }
    return ks_err_set(err, KS_EINPUT, "%s", first.msg);
}

void ks_tpl_set_fini(struct ks_tpl_set *set)
{
    for (int k = 0; k < KS_TPL__COUNT; k++) {
        ks_tpl_free(set->t[k]);
        ks_free(set->from[k]);
    }
    memset(set, 0, sizeof(*set));
}
