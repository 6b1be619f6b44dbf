/*
 * parse.c - a review as people write it: Markdown with a YAML front matter,
 * or plain YAML (docs/REVIEWS.md), read with libyaml's document API so that
 * every error names its line. Also saving it, closing action items and
 * entering costs: the writing half of the review module.
 */
#include "review.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

static const char *const categories[] = {"process", "system", "human", "environmental", NULL};
static const char *const kinds[] = {"immediate", "systematic", "prevention", NULL};
static const char *const statuses[] = {"open", "done", "dropped", NULL};
/* Keys `review show --json` writes that are not people's to set: ignored. */
static const char *const readonly_keys[] = {
    "incident", "title",   "type",   "severity", "status",    "fingerprint",
    "timeline", "impact",  "automated", "people", "signals",  "lineage",
    "review",   "repeat_of", "repeats", "correction_did_not_persist", "reopened_by", "flags",
    NULL};
/* ... and in each of its action items: the row's id, its incident, who closed
 * it when with what note, whether it is overdue. Kept by the store. */
static const char *const item_readonly_keys[] = {"id",   "incident", "closed_by", "closed_at",
                                                 "note", "overdue",  NULL};

static int one_of(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++) {
        if (!strcmp(s, list[i])) {
            return 1;
        }
    }
    return 0;
}

struct pctx {
    yaml_document_t *doc;
    const char *name;
    int base; /* lines before the YAML text (the opening ---) */
    struct ks_err *err;
    int given; /* the review's own keys given (not the read-only ones) */
};

static int line_of(const struct pctx *p, const yaml_node_t *n)
{
    return (int)n->start_mark.line + 1 + p->base;
}

static enum ks_rc bad(struct pctx *p, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum ks_rc bad(struct pctx *p, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[400], line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ks_one_line(msg, line, sizeof(line)); /* a key with a tab or a newline in it */
    return ks_err_set(p->err, KS_EINPUT, "%s:%d: %s", p->name, line_of(p, n), line);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Whether the key of pair pr (of mapping m) came before in m: a key given
 * twice is refused rather than one value silently replacing the other. */
static int given_before(const struct pctx *p, const yaml_node_t *m, const yaml_node_pair_t *pr)
{
    const char *key = scalar(yaml_document_get_node(p->doc, pr->key));
    for (const yaml_node_pair_t *q = m->data.mapping.pairs.start; key && q < pr; q++) {
        const char *k = scalar(yaml_document_get_node(p->doc, q->key));
        if (k && !strcmp(k, key)) {
            return 1;
        }
    }
    return 0;
}

/* A JSON or YAML number as the YAML core schema reads it unquoted: 12,
 * -3.5, 1e308, 0x1F, 0o17, .5, .inf, .nan. */
static int is_number(const char *s)
{
    static const char *const infs[] = {".inf", ".Inf", ".INF", NULL};
    static const char *const nans[] = {".nan", ".NaN", ".NAN", NULL};
    size_t i = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o') && s[2]) {
        const char *digits = s[1] == 'x' ? "0123456789abcdefABCDEF" : "01234567";
        return strspn(s + 2, digits) == strlen(s + 2);
    }
    if (one_of(s, nans)) {
        return 1;
    }
    if (s[0] == '-' || s[0] == '+') {
        i++;
    }
    if (one_of(s + i, infs)) {
        return 1;
    }
    size_t whole = strspn(s + i, "0123456789"), frac = 0;
    i += whole;
    if (s[i] == '.') {
        frac = strspn(s + i + 1, "0123456789");
        i += 1 + frac;
    }
    if (!whole && !frac) {
        return 0;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        i++;
        i += s[i] == '-' || s[i] == '+';
        size_t exp = strspn(s + i, "0123456789");
        if (!exp) {
            return 0;
        }
        i += exp;
    }
    return s[i] == 0;
}

/* What an unquoted scalar is other than text, as the YAML core schema (and
 * JSON) reads it: "null" (empty, ~, null), "a boolean" (true, false) or "a
 * number"; NULL for text. A quoted scalar is always text. */
static const char *plain_type(const yaml_node_t *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const bools[] = {"true", "True", "TRUE", "false", "False", "FALSE", NULL};
    const char *s = scalar(n);
    if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return NULL;
    }
    return one_of(s, nulls)   ? "null"
           : one_of(s, bools) ? "a boolean"
           : is_number(s)     ? "a number"
                              : NULL;
}

/* A YAML null: empty, ~ or null (Null, NULL), unquoted. */
static int is_null(const yaml_node_t *n)
{
    const char *t = plain_type(n);
    return t && !strcmp(t, "null");
}

/* Text of at most max bytes, not only blanks: a string, not a null, a
 * boolean or a number written unquoted (JSON's null, true, 5 included). */
static enum ks_rc text_of(struct pctx *p, const yaml_node_t *n, const char *key, size_t max,
                          char **out)
{
    const char *s = scalar(n), *t = plain_type(n);
    if (!s) {
        return bad(p, n, "%s: must be text", key);
    }
    if (t && !strcmp(t, "null")) {
        return bad(p, n, "%s: must be text, got null", key);
    }
    if (t) {
        return bad(p, n, "%s: must be text, got %s (%.40s): quote it to keep it as text", key, t,
                   s);
    }
    size_t k = 0;
    while (s[k] == ' ' || s[k] == '\t' || s[k] == '\n') {
        k++;
    }
    if (!s[k]) {
        return bad(p, n, "%s: must not be empty", key);
    }
    if (n->data.scalar.length > max) {
        return bad(p, n, "%s: at most %zu bytes of text (this one has %zu)", key, max,
                   n->data.scalar.length);
    }
    *out = ks_strdup(s);
    return KS_OK;
}

/* Refuses a list of more than KS_REVIEW_MAX_LIST entries, at the first one
 * too many. */
static enum ks_rc list_size(struct pctx *p, const yaml_node_t *n, const char *key)
{
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count > KS_REVIEW_MAX_LIST) {
        return bad(p,
                   yaml_document_get_node(p->doc, n->data.sequence.items.start[KS_REVIEW_MAX_LIST]),
                   "%s: at most %d entries (this list has %zu)", key, KS_REVIEW_MAX_LIST, count);
    }
    return KS_OK;
}

static enum ks_rc list_of(struct pctx *p, const yaml_node_t *n, const char *key, char ***out,
                          size_t *count)
{
    if (is_null(n)) {
        return KS_OK;
    }
    if (n->type != YAML_SEQUENCE_NODE) {
        return bad(p, n, "%s: must be a list of text", key);
    }
    if (list_size(p, n, key) != KS_OK) {
        return p->err->rc;
    }
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        char k[64];
        snprintf(k, sizeof(k), "%s[%zu]", key, *count);
        char *s = NULL;
        if (text_of(p, yaml_document_get_node(p->doc, *it), k, KS_REVIEW_MAX_TEXT, &s) != KS_OK) {
            return p->err->rc;
        }
        *out = ks_realloc(*out, (*count + 1) * sizeof(char *));
        (*out)[(*count)++] = s;
    }
    return KS_OK;
}

/* "2026-12-01" (the end of that day, UTC) or an RFC 3339 timestamp. */
static int parse_due(const char *s, ks_time *out)
{
    const char *why;
    size_t n = strlen(s);
    if (n == 10) {
        char buf[40];
        snprintf(buf, sizeof(buf), "%sT23:59:59.999Z", s);
        return ks_time_parse(buf, strlen(buf), out, &why);
    }
    return ks_time_parse(s, n, out, &why);
}

static enum ks_rc parse_root(struct pctx *p, const yaml_node_t *n, struct ks_review_doc *d)
{
    if (is_null(n)) {
        return KS_OK;
    }
    if (n->type != YAML_MAPPING_NODE) {
        return bad(p, n, "root_cause: must be a mapping of category, text and known_risk");
    }
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(p->doc, pr->value);
        const char *key = scalar(k);
        if (!key) {
            return bad(p, k, "root_cause: keys must be text");
        }
        if (given_before(p, n, pr)) {
            return bad(p, k, "root_cause: key \"%s\" given twice", key);
        }
        if (is_null(v)) {
            continue;
        }
        if (!strcmp(key, "category")) {
            const char *s = scalar(v);
            if (!s || !one_of(s, categories)) {
                return bad(p, v,
                           "root_cause.category: must be process, system, human or "
                           "environmental, got \"%s\"",
                           s ? s : "(not text)");
            }
            d->category = ks_strdup(s);
        } else if (!strcmp(key, "text")) {
            if (text_of(p, v, "root_cause.text", KS_REVIEW_MAX_TEXT, &d->cause) != KS_OK) {
                return p->err->rc;
            }
        } else if (!strcmp(key, "known_risk")) {
            /* a boolean: true or false unquoted; the text "true" is not one */
            const char *s = scalar(v), *t = plain_type(v);
            if (t && !strcmp(t, "a boolean")) {
                d->known_risk = s[0] == 't' || s[0] == 'T';
            } else if (s && !t) {
                return bad(p, v,
                           "root_cause.known_risk: must be true or false (a boolean, unquoted), "
                           "got the text \"%s\"",
                           s);
            } else {
                return bad(p, v, "root_cause.known_risk: must be true or false, got %s",
                           t ? t : "a list or a mapping");
            }
        } else {
            return bad(p, k, "root_cause: unknown key \"%s\" (use category, text, known_risk)",
                       key);
        }
    }
    return KS_OK;
}

static enum ks_rc parse_items(struct pctx *p, const yaml_node_t *n, struct ks_review_doc *d)
{
    if (is_null(n)) {
        return KS_OK;
    }
    if (n->type != YAML_SEQUENCE_NODE) {
        return bad(p, n, "action_items: must be a list of {text, owner, due, kind}");
    }
    if (list_size(p, n, "action_items") != KS_OK) {
        return p->err->rc;
    }
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *m = yaml_document_get_node(p->doc, *it);
        size_t i = d->nitems;
        char key[64];
        if (m->type != YAML_MAPPING_NODE) {
            return bad(p, m, "action_items[%zu]: must be a mapping of text, owner, due, kind", i);
        }
        d->items = ks_realloc(d->items, (i + 1) * sizeof(*d->items));
        struct ks_review_action *a = &d->items[d->nitems++];
        memset(a, 0, sizeof(*a));
        a->due = KS_TIME_NONE;
        a->line = line_of(p, m);
        for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
             pr++) {
            yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
            yaml_node_t *v = yaml_document_get_node(p->doc, pr->value);
            const char *kn = scalar(k);
            if (!kn) {
                return bad(p, k, "action_items[%zu]: keys must be text", i);
            }
            if (given_before(p, m, pr)) {
                return bad(p, k, "action_items[%zu]: key \"%s\" given twice", i, kn);
            }
            snprintf(key, sizeof(key), "action_items[%zu].%s", i, kn);
            if (is_null(v)) {
                continue;
            }
            const char *s = scalar(v);
            if (!strcmp(kn, "text")) {
                if (text_of(p, v, key, KS_REVIEW_MAX_TEXT, &a->text) != KS_OK) {
                    return p->err->rc;
                }
            } else if (!strcmp(kn, "owner")) {
                if (text_of(p, v, key, KS_REVIEW_MAX_TEXT, &a->owner) != KS_OK) {
                    return p->err->rc;
                }
            } else if (!strcmp(kn, "due")) {
                if (!s || parse_due(s, &a->due) != 0) {
                    return bad(p, v, "%s: must be a date (2026-12-01) or an RFC 3339 time, got "
                               "\"%s\"", key, s ? s : "(not text)");
                }
            } else if (!strcmp(kn, "kind")) {
                if (!s || !one_of(s, kinds)) {
                    return bad(p, v, "%s: must be immediate, systematic or prevention, got \"%s\"",
                               key, s ? s : "(not text)");
                }
                a->kind = ks_strdup(s);
            } else if (!strcmp(kn, "status")) {
                if (!s || !one_of(s, statuses)) {
                    return bad(p, v, "%s: must be open, done or dropped, got \"%s\"", key,
                               s ? s : "(not text)");
                }
                a->status = ks_strdup(s);
            } else if (one_of(kn, item_readonly_keys)) {
                continue; /* written by `review show --json`, kept by the store */
            } else {
                return bad(p, k, "action_items[%zu]: unknown key \"%s\" (use text, owner, due, "
                           "kind, status)", i, kn);
            }
        }
        if (!a->text) {
            return bad(p, m, "action_items[%zu]: needs a text", i);
        }
        if (!a->kind) {
            return bad(p, m, "action_items[%zu]: needs a kind: immediate (48 h), systematic "
                       "(2 weeks) or prevention (1 month)", i);
        }
    }
    return KS_OK;
}

static int blank(const char *s)
{
    return !s || strspn(s, " \t\r\n") == strlen(s);
}

int ks_review_doc_empty(const struct ks_review_doc *d)
{
    return blank(d->category) && blank(d->cause) && d->known_risk < 0 && !d->nwhys && !d->nwell &&
           !d->nimprove && !d->nitems && blank(d->notes);
}

void ks_review_doc_fini(struct ks_review_doc *d)
{
    ks_free(d->category);
    ks_free(d->cause);
    char **lists[] = {d->whys, d->went_well, d->improve};
    size_t ns[] = {d->nwhys, d->nwell, d->nimprove};
    for (size_t l = 0; l < 3; l++) {
        for (size_t i = 0; i < ns[l]; i++) {
            ks_free(lists[l][i]);
        }
        ks_free(lists[l]);
    }
    for (size_t i = 0; i < d->nitems; i++) {
        ks_free(d->items[i].text);
        ks_free(d->items[i].owner);
        ks_free(d->items[i].kind);
        ks_free(d->items[i].status);
    }
    ks_free(d->items);
    ks_free(d->notes);
    memset(d, 0, sizeof(*d));
    d->known_risk = -1;
}

static enum ks_rc parse_root_node(struct pctx *p, yaml_node_t *root, struct ks_review_doc *d)
{
    if (!root || is_null(root)) {
        return KS_OK; /* an empty review */
    }
    if (root->type != YAML_MAPPING_NODE) {
        return bad(p, root, "a review is a mapping of root_cause, whys, went_well, improve, "
                   "action_items");
    }
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(p->doc, pr->value);
        const char *key = scalar(k);
        enum ks_rc rc = KS_OK;
        if (!key) {
            return bad(p, k, "keys must be text");
        } else if (given_before(p, root, pr)) {
            return bad(p, k, "key \"%s\" given twice", key);
        }
        p->given += !one_of(key, readonly_keys);
        if (!strcmp(key, "root_cause")) {
            rc = parse_root(p, v, d);
        } else if (!strcmp(key, "whys")) {
            rc = list_of(p, v, "whys", &d->whys, &d->nwhys);
        } else if (!strcmp(key, "went_well")) {
            rc = list_of(p, v, "went_well", &d->went_well, &d->nwell);
        } else if (!strcmp(key, "improve")) {
            rc = list_of(p, v, "improve", &d->improve, &d->nimprove);
        } else if (!strcmp(key, "action_items")) {
            rc = parse_items(p, v, d);
        } else if (!strcmp(key, "notes")) {
            if (!is_null(v)) {
                ks_free(d->notes);
                rc = text_of(p, v, "notes", KS_REVIEW_MAX_NOTES, &d->notes);
            }
        } else if (!one_of(key, readonly_keys)) {
            return bad(p, k, "unknown key \"%s\" (use root_cause, whys, went_well, improve, "
                       "action_items, notes)", key);
        }
        if (rc != KS_OK) {
            return rc;
        }
    }
    return KS_OK;
}

/* A review nests two levels (action items in a list); libyaml takes time
 * that grows with the square of the depth of flow collections ([[[[...),
 * so a body nested absurdly deep is refused before it is parsed. Returns
 * the line where the depth passes KS_REVIEW_DEPTH, or 0. Quoted text and
 * comments do not count. */
#define KS_REVIEW_DEPTH 64
static int too_deep(const char *s, size_t n)
{
    int depth = 0, line = 1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\n') {
            line++;
        } else if (c == '"' || c == '\'') {
            for (i++; i < n && s[i] != c; i++) {
                if (c == '"' && s[i] == '\\') {
                    i++;
                } else if (s[i] == '\n') {
                    line++;
                }
            }
        } else if (c == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t' || s[i - 1] == '\n')) {
            while (i + 1 < n && s[i + 1] != '\n') {
                i++;
            }
        } else if (c == '[' || c == '{') {
            if (++depth > KS_REVIEW_DEPTH) {
                return line;
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

/* Whether a review is JSON, for what its syntax errors are called: a file
 * named *.json, or a text whose first character (after blanks) is '{'. */
static int is_json(const char *name, const char *text, size_t n)
{
    size_t k = strlen(name), i = 0;
    if (k >= 5 && !strcasecmp(name + k - 5, ".json")) {
        return 1;
    }
    while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) {
        i++;
    }
    return i < n && text[i] == '{';
}

/* The line (1-based) of text[at]. */
static int line_at(const char *text, size_t at)
{
    int line = 1;
    for (const char *c = text; (c = memchr(c, '\n', (size_t)(text + at - c))) != NULL; c++) {
        line++;
    }
    return line;
}

/* A NUL character ("\0" in YAML, "\u0000" in JSON) would cut a text short
 * where C reads it, and would match a category or a key it is not: refused
 * wherever it is, in a key or a value. */
static enum ks_rc no_nul(struct pctx *p)
{
    for (yaml_node_t *n = p->doc->nodes.start; n < p->doc->nodes.top; n++) {
        if (n->type == YAML_SCALAR_NODE &&
            memchr(n->data.scalar.value, 0, n->data.scalar.length) != NULL) {
            return bad(p, n, "a NUL character (\\0 or \\u0000) is not allowed in a review's text");
        }
    }
    return KS_OK;
}

/* The notes of a Markdown review: the body after the front matter, which
 * libyaml does not read (it checks the YAML's UTF-8), trimmed of blank
 * lines; at most KS_REVIEW_MAX_NOTES bytes of UTF-8 without a NUL
 * character, or the whole review is refused at the line of the fault. */
static enum ks_rc body_notes(struct pctx *p, const char *text, const char *body, size_t bl,
                             struct ks_review_doc *d)
{
    size_t k = 0, bad_at;
    while (k < bl && (body[k] == '\n' || body[k] == '\r' || body[k] == ' ')) {
        k++;
    }
    size_t e = bl;
    while (e > k && (body[e - 1] == '\n' || body[e - 1] == '\r' || body[e - 1] == ' ')) {
        e--;
    }
    if (e == k) {
        return KS_OK;
    }
    size_t at = (size_t)(body - text);
    const char *nul = memchr(body + k, 0, e - k);
    if (nul) {
        return ks_err_set(p->err, KS_EINPUT, "%s:%d: a NUL character is not allowed in the notes",
                          p->name, line_at(text, (size_t)(nul - text)));
    }
    if ((bad_at = ks_utf8_invalid_at(body + k, e - k)) != (size_t)-1) {
        size_t byte = at + k + bad_at;
        return ks_err_set(p->err, KS_EINPUT,
                          "%s:%d: the notes are not valid UTF-8 (byte %zu of the file)", p->name,
                          line_at(text, byte), byte + 1);
    }
    if (e - k > KS_REVIEW_MAX_NOTES) {
        return ks_err_set(p->err, KS_EINPUT,
                          "%s:%d: the notes (the text after the front matter) are at most %d "
                          "bytes (these have %zu)",
                          p->name, line_at(text, at + k), KS_REVIEW_MAX_NOTES, e - k);
    }
    ks_free(d->notes);
    d->notes = ks_strndup(body + k, e - k);
    return KS_OK;
}

enum ks_rc ks_review_parse(const char *name, const char *text, size_t n,
                           struct ks_review_doc *d, struct ks_err *err)
{
    memset(d, 0, sizeof(*d));
    d->known_risk = -1;
    struct pctx p = {NULL, name, 0, err, 0};
    if (n > KS_REVIEW_MAX_BYTES) {
        return ks_err_set(err, KS_EINPUT,
                          "%s:1: a review is at most %d bytes (1 MiB); this one has %zu", name,
                          KS_REVIEW_MAX_BYTES, n);
    }
    const char *y = text;
    size_t yn = n;
    const char *body = NULL;
    /* Markdown with front matter: "---" on the first line, YAML up to the next
     * "---" line, the body after it. */
    if (n >= 3 && !strncmp(text, "---", 3) && (n == 3 || text[3] == '\n' || text[3] == '\r')) {
        const char *s = memchr(text, '\n', n);
        s = s ? s + 1 : text + n;
        const char *e = s;
        int found = 0;
        while (e < text + n) {
            const char *nl = memchr(e, '\n', (size_t)(text + n - e));
            size_t len = nl ? (size_t)(nl - e) : (size_t)(text + n - e);
            if ((len == 3 || (len == 4 && e[3] == '\r')) && !strncmp(e, "---", 3)) {
                found = 1;
                body = nl ? nl + 1 : text + n;
                break;
            }
            e = nl ? nl + 1 : text + n;
        }
        if (!found) {
            return ks_err_set(err, KS_EINPUT,
                              "%s:1: the front matter opened by \"---\" is never closed by a "
                              "\"---\" line",
                              name);
        }
        y = s;
        yn = (size_t)(e - s);
        p.base = 1;
    }
    int deep = too_deep(y, yn);
    if (deep) {
        return ks_err_set(err, KS_EINPUT, "%s:%d: nested more than %d levels deep", name,
                          deep + p.base, KS_REVIEW_DEPTH);
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)y, yn);
    if (!yaml_parser_load(&parser, &doc)) {
        /* libyaml places a fault found at the end of the input on the line
         * after the last (it ends the last line before closing the stream):
         * such a fault is reported on the last line that holds anything, so
         * that an unfinished one-line body is line 1. */
        size_t end = yn, last = 1;
        while (end > 0 && (y[end - 1] == '\n' || y[end - 1] == '\r' || y[end - 1] == ' ' ||
                           y[end - 1] == '\t')) {
            end--;
        }
        for (size_t i = 0; i < end; i++) {
            last += y[i] == '\n';
        }
        size_t at = parser.problem_mark.line + 1;
        int line = (int)(at < last ? at : last) + p.base;
        ks_err_set(err, KS_EINPUT, "%s:%d: not valid %s: %s%s%s", name, line,
                   is_json(name, text, n) ? "JSON" : "YAML",
                   parser.problem ? parser.problem : "syntax error", parser.context ? " " : "",
                   parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return KS_EINPUT;
    }
    p.doc = &doc;
    enum ks_rc rc = no_nul(&p);
    if (rc == KS_OK) {
        rc = parse_root_node(&p, yaml_document_get_root_node(&doc), d);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc == KS_OK && body) {
        rc = body_notes(&p, text, body, (size_t)(text + n - body), d);
    }
    if (rc == KS_OK && !p.given && !d->notes) {
        /* Saving it would wipe the review (its action items and their
         * history too): say so instead. */
        rc = ks_err_set(err, KS_EINPUT,
                        "%s:1: the review sets nothing (no root_cause, whys, went_well, "
                        "improve, action_items or notes): saving it would empty the review; "
                        "send the fields it should have",
                        name);
    }
    if (rc != KS_OK) {
        ks_review_doc_fini(d);
    }
    return rc;
}

/* ---- writing ------------------------------------------------------------------ */

struct items_ctx {
    struct ks_item_row *v;
    size_t n;
    int64_t want_id; /* 0: all */
};

static int collect_item(void *ctx, const struct ks_item_row *r)
{
    struct items_ctx *c = ctx;
    if (c->want_id && r->id != c->want_id) {
        return 0;
    }
    c->v = ks_realloc(c->v, (c->n + 1) * sizeof(*c->v));
    struct ks_item_row *o = &c->v[c->n++];
    *o = *r;
    o->text = ks_strdup(r->text);
    o->owner = ks_strdup(r->owner);
    o->kind = ks_strdup(r->kind);
    o->status = ks_strdup(r->status);
    o->closed_by = ks_strdup(r->closed_by);
    o->note = ks_strdup(r->note);
    return 0;
}

static void items_fini(struct items_ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        ks_free((char *)c->v[i].text);
        ks_free((char *)c->v[i].owner);
        ks_free((char *)c->v[i].kind);
        ks_free((char *)c->v[i].status);
        ks_free((char *)c->v[i].closed_by);
        ks_free((char *)c->v[i].note);
    }
    ks_free(c->v);
    memset(c, 0, sizeof(*c));
}

/* The engine's view of an incident's items, from the store. */
static enum ks_rc engine_items(struct ks_store *s, int64_t id, struct ks_review_item **items,
                               size_t *n, struct ks_err *err)
{
    struct items_ctx c = {0};
    enum ks_rc rc = s->ops->list_items(s, id, collect_item, &c, err);
    *items = ks_calloc(c.n ? c.n : 1, sizeof(**items));
    *n = c.n;
    for (size_t i = 0; i < c.n; i++) {
        (*items)[i].id = c.v[i].id;
        (*items)[i].due = c.v[i].due;
        (*items)[i].closed = strcmp(c.v[i].status, "open") != 0;
    }
    items_fini(&c);
    return rc;
}

static void json_list(json_t *o, const char *key, char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, json_string(v[i]));
    }
    json_object_set_new(o, key, a);
}

/* Whether the store has incident id (KS_ENOTFOUND, with err set, if not). */
static enum ks_rc probe_incident(struct ks_store *s, int64_t id, struct ks_err *err)
{
    struct ks_buf probe = {0};
    enum ks_rc rc = s->ops->get_incident(s, id, 0, &probe, err);
    ks_buf_fini(&probe);
    return rc;
}

/* The engine, when the caller has it, is the judge of which incidents exist:
 * the server re-applying its journal writes the incidents' rows only after
 * the commands that name them. */
static enum ks_rc engine_has(const struct ks_engine *e, int64_t id, struct ks_err *err)
{
    const char *type;
    int sev;
    if (ks_engine_incident_kind(e, id, &type, &sev) != KS_OK) {
        return ks_err_set(err, KS_ENOTFOUND, "no incident %lld", (long long)id);
    }
    return KS_OK;
}

static enum ks_rc save_review(struct ks_store *s, int64_t id, const struct ks_review_doc *d,
                              const char *by, ks_time at, struct ks_review_item **items, size_t *n,
                              struct ks_review_cleared *cl, struct ks_err *err);

enum ks_rc ks_review_save(struct ks_store *s, int64_t id, const struct ks_review_doc *d,
                          const char *by, ks_time at, struct ks_review_item **items, size_t *n,
                          struct ks_err *err)
{
    enum ks_rc rc = probe_incident(s, id, err);
    return rc ? rc : save_review(s, id, d, by, at, items, n, NULL, err);
}

void ks_review_cleared_fini(struct ks_review_cleared *c)
{
    ks_free(c->items);
    memset(c, 0, sizeof(*c));
}

void ks_review_cleared_json(const struct ks_review_cleared *c, struct ks_buf *out)
{
    ks_buf_puts(out, "\"cleared\":[");
    for (size_t i = 0; i < c->nfields; i++) {
        ks_buf_printf(out, "%s\"%s\"", i ? "," : "", c->fields[i]);
    }
    ks_buf_puts(out, "],\"deleted_items\":[");
    for (size_t i = 0; i < c->nitems; i++) {
        ks_buf_printf(out, "%s%lld", i ? "," : "", (long long)c->items[i]);
    }
    ks_buf_putc(out, ']');
}

static int old_doc(void *ctx, const struct ks_review_row *r)
{
    json_t **o = ctx;
    json_decref(*o);
    *o = json_loads(r->doc ? r->doc : "{}", 0, NULL);
    return 0;
}

/* The fields of the stored review (old, its JSON) that held something and
 * that d empties, into cl. */
static void cleared_fields(json_t *old, const struct ks_review_doc *d, size_t nold_items,
                           struct ks_review_cleared *cl)
{
    json_t *rc = json_object_get(old, "root_cause");
    int had_root = !json_is_null(json_object_get(rc, "category")) ||
                   !json_is_null(json_object_get(rc, "text")) ||
                   !json_is_null(json_object_get(rc, "known_risk"));
    if (json_is_object(rc) && had_root && !d->category && !d->cause && d->known_risk < 0) {
        cl->fields[cl->nfields++] = "root_cause";
    }
    static const char *const lists[] = {"whys", "went_well", "improve"};
    size_t now[] = {d->nwhys, d->nwell, d->nimprove};
    for (size_t i = 0; i < 3; i++) {
        if (json_array_size(json_object_get(old, lists[i])) && !now[i]) {
            cl->fields[cl->nfields++] = lists[i];
        }
    }
    if (json_is_string(json_object_get(old, "notes")) && !d->notes) {
        cl->fields[cl->nfields++] = "notes";
    }
    if (nold_items && !d->nitems) {
        cl->fields[cl->nfields++] = "action_items";
    }
}

static enum ks_rc save_review(struct ks_store *s, int64_t id, const struct ks_review_doc *d,
                              const char *by, ks_time at, struct ks_review_item **items, size_t *n,
                              struct ks_review_cleared *cl, struct ks_err *err)
{
    enum ks_rc rc;
    json_t *before = NULL;
    if (cl) {
        memset(cl, 0, sizeof(*cl));
        rc = s->ops->list_reviews(s, id, old_doc, &before, err);
        if (rc != KS_OK) {
            return rc;
        }
    }
    json_t *o = json_object();
    json_t *root = json_object();
    json_object_set_new(root, "category", d->category ? json_string(d->category) : json_null());
    json_object_set_new(root, "text", d->cause ? json_string(d->cause) : json_null());
    json_object_set_new(root, "known_risk",
                        d->known_risk < 0 ? json_null() : json_boolean(d->known_risk));
    json_object_set_new(o, "root_cause", root);
    json_list(o, "whys", d->whys, d->nwhys);
    json_list(o, "went_well", d->went_well, d->nwell);
    json_list(o, "improve", d->improve, d->nimprove);
    json_object_set_new(o, "notes", d->notes ? json_string(d->notes) : json_null());
    char *doc = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    struct ks_review_row row = {id, doc, by, at, KS_TIME_NONE, d->cause ? at : KS_TIME_NONE};
    rc = s->ops->put_review(s, &row, err);
    free(doc);
    struct items_ctx old = {0};
    if (rc == KS_OK) {
        rc = s->ops->list_items(s, id, collect_item, &old, err);
    }
    int *kept = ks_calloc(old.n + 1, sizeof(int));
    for (size_t i = 0; i < d->nitems && rc == KS_OK; i++) {
        const struct ks_review_action *a = &d->items[i];
        struct ks_item_row r = {0, id, (int64_t)i + 1, a->text, a->owner, a->due, a->kind,
                                "open", NULL, KS_TIME_NONE, NULL};
        for (size_t k = 0; k < old.n; k++) {
            if (!kept[k] && !strcmp(old.v[k].text, a->text)) {
                kept[k] = 1;
                r.id = old.v[k].id;
                r.status = old.v[k].status;
                r.closed_by = old.v[k].closed_by;
                r.closed_at = old.v[k].closed_at;
                r.note = old.v[k].note;
                break;
            }
        }
        if (a->status && strcmp(a->status, r.status) != 0) {
            r.status = a->status;
            int open = !strcmp(a->status, "open");
            r.closed_by = open ? NULL : by;
            r.closed_at = open ? KS_TIME_NONE : at;
        }
        rc = s->ops->put_item(s, &r, err);
    }
    for (size_t k = 0; k < old.n && rc == KS_OK; k++) {
        if (!kept[k]) {
            rc = s->ops->del_item(s, old.v[k].id, err);
            if (cl) {
                cl->items = ks_realloc(cl->items, (cl->nitems + 1) * sizeof(int64_t));
                cl->items[cl->nitems++] = old.v[k].id;
                cl->closed += strcmp(old.v[k].status, "open") != 0;
            }
        }
    }
    if (cl && before) {
        cleared_fields(before, d, old.n, cl);
    }
    json_decref(before);
    ks_free(kept);
    items_fini(&old);
    if (rc == KS_OK) {
        rc = engine_items(s, id, items, n, err);
    }
    return rc;
}

enum ks_rc ks_review_item_close(struct ks_store *s, int64_t item_id, const char *verb,
                                const char *by, const char *note, ks_time at, int64_t *incident,
                                struct ks_review_item **items, size_t *n, struct ks_err *err)
{
    const char *status = !strcmp(verb, "done") ? "done" : !strcmp(verb, "drop") ? "dropped" : NULL;
    if (!status) {
        return ks_err_set(err, KS_EUSAGE, "unknown '%s': an item is closed with done or drop",
                          verb);
    }
    struct items_ctx c = {NULL, 0, item_id};
    enum ks_rc rc = s->ops->list_items(s, 0, collect_item, &c, err);
    if (rc == KS_OK && c.n == 0) {
        rc = ks_err_set(err, KS_ENOTFOUND, "no action item %lld", (long long)item_id);
    }
    if (rc == KS_OK && strcmp(c.v[0].status, "open") != 0) {
        rc = ks_err_set(err, KS_ESTATE, "action item %lld is already %s", (long long)item_id,
                        c.v[0].status);
    }
    if (rc == KS_OK) {
        struct ks_item_row r = c.v[0];
        r.status = status;
        r.closed_by = by;
        r.closed_at = at;
        r.note = note;
        *incident = r.incident;
        rc = s->ops->put_item(s, &r, err);
    }
    if (rc == KS_OK) {
        rc = engine_items(s, *incident, items, n, err);
    }
    items_fini(&c);
    return rc;
}

static enum ks_rc set_cost(struct ks_store *s, const struct ks_engine *e, int64_t id,
                           const char *part, double amount, const char *by, ks_time at,
                           struct ks_err *err);

enum ks_rc ks_review_cost_check(const char *part, double amount, struct ks_err *err)
{
    static const char *const parts[] = {"direct", "response", "churn", "repeats", "brand", NULL};
    if (!one_of(part, parts)) {
        return ks_err_set(err, KS_EUSAGE,
                          "unknown cost part '%s' (use direct, response, churn, repeats or brand)",
                          part);
    }
    if (!(amount >= 0)) {
        return ks_err_set(err, KS_EUSAGE, "an amount must be a number >= 0");
    }
    if (amount > KS_COST_MAX) {
        return ks_err_set(err, KS_EUSAGE,
                          "an amount is at most 1000000000000000 (10^15), the largest a cost "
                          "part takes");
    }
    if (!ks_amount_cents(amount)) {
        /* as `kintsugi cost set` reads it (ks_amount_parse) */
        return ks_err_set(err, KS_EUSAGE,
                          "an amount has at most two decimals (a whole number of cents)");
    }
    return KS_OK;
}

enum ks_rc ks_review_cost_set(struct ks_store *s, int64_t id, const char *part, double amount,
                              const char *by, ks_time at, struct ks_err *err)
{
    return set_cost(s, NULL, id, part, amount, by, at, err);
}

/* With e, the engine says whether the incident exists, else the store. */
static enum ks_rc set_cost(struct ks_store *s, const struct ks_engine *e, int64_t id,
                           const char *part, double amount, const char *by, ks_time at,
                           struct ks_err *err)
{
    enum ks_rc rc = ks_review_cost_check(part, amount, err);
    if (rc != KS_OK) {
        return rc;
    }
    rc = e ? engine_has(e, id, err) : probe_incident(s, id, err);
    if (rc != KS_OK) {
        return rc;
    }
    struct ks_cost_row r = {id, part, amount, by, at};
    return s->ops->put_cost(s, &r, err);
}

/* ---- the writes with the engine ---------------------------------------------------- */

static ks_time stamp_at(const struct ks_engine *e, ks_time at)
{
    ks_time c = ks_engine_clock(e);
    return at != KS_TIME_NONE && (c == KS_TIME_NONE || at > c) ? at : c;
}

enum ks_rc ks_review_apply_set(struct ks_store *s, struct ks_engine *e, int64_t id,
                               const struct ks_review_doc *doc, const char *by, ks_time at,
                               struct ks_review_cleared *cleared, struct ks_err *err)
{
    struct ks_review_item *items = NULL;
    size_t n = 0;
    struct ks_review_cleared mine;
    at = stamp_at(e, at);
    enum ks_rc rc = engine_has(e, id, err);
    if (rc == KS_OK) {
        rc = save_review(s, id, doc, by, at, &items, &n, cleared ? cleared : &mine, err);
        if (!cleared) {
            ks_review_cleared_fini(&mine);
        }
    }
    if (rc == KS_OK) {
        rc = ks_engine_review_sync(e, id, 1, items, n, err);
    }
    if (rc == KS_OK) {
        char text[256];
        snprintf(text, sizeof(text), "Post-incident review saved by %s (%zu action item%s)", by,
                 n, n == 1 ? "" : "s");
        rc = ks_engine_note(e, id, text, by, at, err);
    }
    ks_free(items);
    return rc;
}

enum ks_rc ks_review_apply_item(struct ks_store *s, struct ks_engine *e, int64_t item_id,
                                const char *verb, const char *by, const char *note, ks_time at,
                                int reapply, int64_t *incident, struct ks_err *err)
{
    struct ks_review_item *items = NULL;
    size_t n = 0;
    at = stamp_at(e, at);
    enum ks_rc rc = ks_review_item_close(s, item_id, verb, by, note, at, incident, &items, &n, err);
    if (rc == KS_ESTATE && reapply) {
        /* closed by this very command before a restart: the same again */
        struct items_ctx c = {NULL, 0, item_id};
        const char *status = !strcmp(verb, "done") ? "done" : "dropped";
        if (s->ops->list_items(s, 0, collect_item, &c, err) == KS_OK && c.n == 1 &&
            !strcmp(c.v[0].status, status) && c.v[0].closed_by && !strcmp(c.v[0].closed_by, by)) {
            *incident = c.v[0].incident;
            ks_free(items);
            items = NULL;
            rc = engine_items(s, *incident, &items, &n, err);
        }
        items_fini(&c);
    }
    if (rc == KS_OK) {
        rc = ks_engine_review_sync(e, *incident, 0, items, n, err);
    }
    if (rc == KS_OK) {
        char text[600];
        snprintf(text, sizeof(text), "Action item %lld %s by %s%s%s", (long long)item_id,
                 !strcmp(verb, "done") ? "done" : "dropped", by, note ? ": " : "",
                 note ? note : "");
        rc = ks_engine_note(e, *incident, text, by, at, err);
    }
    ks_free(items);
    return rc;
}

enum ks_rc ks_review_apply_cost(struct ks_store *s, struct ks_engine *e, const char *currency,
                                int64_t id, const char *part, double amount, const char *by,
                                ks_time at, struct ks_err *err)
{
    at = stamp_at(e, at);
    enum ks_rc rc = set_cost(s, e, id, part, amount, by, at, err);
    if (rc == KS_OK) {
        char text[256];
        snprintf(text, sizeof(text), "Cost part %s set to %.2f %s by %s", part, amount, currency,
                 by);
        rc = ks_engine_note(e, id, text, by, at, err);
    }
    return rc;
}
