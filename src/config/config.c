/*
 * config.c - kintsugi.yaml: everything derived from the key tables the
 * modules declare (src/config/keys.h): the defaults, the loader, the
 * checker's messages, freeing, and the Markdown reference.
 *
 * The top-level keys are gathered from the modules' tables in the order
 * ks_config_root lists them (src/shell/keys.c). The file is read with
 * libyaml's document API, so the
 * whole tree is known before anything is applied: keys are applied in table
 * order, not file order, which is what makes `detectors:` reach the
 * per-channel entries wherever `channels:` stands in the file.
 *
 * Errors are collected, never fatal to the walk: ks_config_check reports all
 * of them, ks_config_load the first (in line order) and keeps the defaults.
 */
#include "config.h"
#include "config_int.h"
#include "keys.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

/* ---- the configuration's own keys ------------------------------------------ */

/* The one string default; ks_config_defaults borrows it instead of copying,
 * so that the defaults own no memory. */
static const char default_currency[] = "USD";

const struct ks_key ks_config_keys[] = {
    {.name = "currency",
     .type = KS_KEY_STRING,
     .base = NULL,
     .off = offsetof(struct ks_config, currency),
     .def = default_currency,
     .flags = KS_KEY_CURRENCY,
     .help = "ISO 4217 code of money amounts without their own currency (orders, thresholds)."},
    {.name = NULL} /* end */
};

/* The actions of SPEC section 5 that other systems carry out. */
const struct ks_action_name ks_action_names[] = {
    {"stop_order_import", "Stop importing new orders from the channels into the OMS."},
    {"resume_order_import", "Resume importing orders (and catch up on those held back)."},
    {"reroute_orders", "Route open orders away from a location to the ones still up."},
    {"extend_handling_time", "Lengthen the handling time the channels promise to buyers."},
    {"hold_orders", "Hold open orders in the OMS: do not release them to fulfillment."},
    {"reduce_channel_inventory", "Lower the quantities offered on the channels (a buffer)."},
    {"pause_listings", "Pause listings on a channel so that they take no orders."},
    {"zero_channel", "Set every quantity on a channel to zero."},
    {"cancel_orders", "Cancel the listed orders (oversold ones) and notify the buyers."},
    {"push_quantities", "Push the given quantities to a channel (restore, release)."},
    {"notify_supplier", "Tell a supplier about a shipment discrepancy or a reorder."},
    {NULL, NULL} /* end */
};

const struct ks_action_name ks_remedy_names[] = {
    {"refund", "Money back for part of an order (an amount)."},
    {"store_credit", "Credit with the shop for a later order (an amount)."},
    {"replacement", "The item sent again, or a substitute (its value)."},
    {"expedited_shipping", "The order shipped faster, at the shop's cost."},
    {"discount_code", "A code for a later order (its value)."},
    {"cancel_with_refund", "The order cancelled and its whole value refunded."},
    {NULL, NULL} /* end */
};

int ks_remedy_known(const char *name)
{
    for (const struct ks_action_name *a = ks_remedy_names; a->name; a++) {
        if (!strcmp(a->name, name)) {
            return 1;
        }
    }
    return 0;
}

int ks_action_known(const char *name)
{
    for (const struct ks_action_name *a = ks_action_names; a->name; a++) {
        if (!strcmp(a->name, name)) {
            return 1;
        }
    }
    return 0;
}

void ks_action_hint(const char *s, size_t n, char *out, size_t cap)
{
    const char *names[32] = {0};
    size_t count = 0;
    struct ks_buf all = {0};
    for (const struct ks_action_name *a = ks_action_names; a->name && count < 32; a++) {
        names[count++] = a->name;
        ks_buf_printf(&all, "%s%s", all.len ? ", " : "", a->name);
    }
    const char *near = ks_key_closest(s, n, names, count);
    if (near) {
        snprintf(out, cap, "did you mean \"%s\"?", near);
    } else {
        snprintf(out, cap, "actions are: %s", all.p);
    }
    ks_buf_fini(&all);
}

/* ---- the root: every module's top-level keys ------------------------------------ */

#define MAX_ROOT 32
static struct ks_key root_keys[MAX_ROOT + 1];
static pthread_once_t root_once = PTHREAD_ONCE_INIT;

/* Gathers the rows ks_config_root names, in its order. A row that is not
 * listed, or listed twice, is a bug in the lists. */
static void root_build(void)
{
    size_t n = 0;
    for (const struct ks_key_root *r = ks_config_root; r->table; r++) {
        const struct ks_key *k = r->table;
        while (k->name && strcmp(k->name, r->name) != 0) {
            k++;
        }
        KS_ASSERT(k->name && n < MAX_ROOT);
        for (size_t i = 0; i < n; i++) {
            KS_ASSERT(strcmp(root_keys[i].name, k->name) != 0);
        }
        root_keys[n++] = *k;
    }
    for (const struct ks_key_root *r = ks_config_root; r->table; r++) {
        for (const struct ks_key *k = r->table; k->name; k++) {
            size_t i = 0;
            while (i < n && strcmp(root_keys[i].name, k->name) != 0) {
                i++;
            }
            KS_ASSERT(i < n); /* every row of a listed table is listed */
        }
    }
    root_keys[n].name = NULL;
}

static const struct ks_key *root_table(void)
{
    pthread_once(&root_once, root_build);
    return root_keys;
}

/* ---- the walk's state ---------------------------------------------------- */

struct issue {
    int line;
    char *key;
    char *msg;
    size_t seq;
};

/* The loader's state (an entry's done function sees it as struct
 * ks_key_check). */
struct ks_key_check {
    struct ks_config *cfg;
    /* The entries being applied: the struct each entry type refers to now.
     * A struct with defaults that is not here refers to its defaults. */
    struct {
        const struct ks_key_struct *s;
        void *p;
    } cur[8];
    size_t ncur;
    /* The entry being checked (done): its name (NULL in a list), its value,
     * its table, its line. */
    const yaml_node_t *entry_name;
    yaml_node_t *entry_value;
    const struct ks_key *entry_tab;
    int entry_line;
    yaml_document_t *doc;
    struct ks_buf path;    /* "channels.amazon.zero_spike" */
    struct ks_buf pattern; /* "channels.NAME.zero_spike" */
    struct issue *issues;
    size_t nissues, capissues;
    int key_line;          /* line of the key whose value is being applied */
    ks_config_key_fn seen; /* NULL, or told each leaf key set */
    void *seen_ctx;
    char *dir; /* the directory of the file, for relative paths; NULL: the working one */
    const char *text; /* the text to read, when given (else the file is read) */
    size_t text_len;
    char *source;     /* the text read, until taken by the config loaded */
    size_t source_len;
};

/* A position in the key path, to return to. */
struct mark {
    size_t path, pattern;
};

static void buf_truncate(struct ks_buf *b, size_t len)
{
    b->len = len;
    if (b->p) {
        b->p[len] = 0;
    }
}

/* Appends a key to the path (".name") and to the pattern (".pat", or the
 * name itself when pat is NULL). Index segments ("[3]") take no dot. */
static struct mark push(struct ks_key_check *c, const char *name, size_t n, const char *pat)
{
    struct mark m = {c->path.len, c->pattern.len};
    if (c->path.len && name[0] != '[') {
        ks_buf_putc(&c->path, '.');
    }
    ks_buf_put(&c->path, name, n);
    const char *p = pat ? pat : name;
    size_t pn = pat ? strlen(pat) : n;
    if (c->pattern.len && p[0] != '[') {
        ks_buf_putc(&c->pattern, '.');
    }
    ks_buf_put(&c->pattern, p, pn);
    return m;
}

static void pop(struct ks_key_check *c, struct mark m)
{
    buf_truncate(&c->path, m.path);
    buf_truncate(&c->pattern, m.pattern);
}

static int line_of(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 0;
}

/* s with its control characters written as escapes (\n, \t, \xNN): a
 * problem is one line, whatever the file's keys hold (a plain YAML key may
 * span lines). */
static char *one_line(const char *s)
{
    struct ks_buf b = {0};
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '\n') {
            ks_buf_puts(&b, "\\n");
        } else if (ch == '\t') {
            ks_buf_puts(&b, "\\t");
        } else if (ch < 0x20 || ch == 0x7f) {
            ks_buf_printf(&b, "\\x%02x", ch);
        } else {
            ks_buf_putc(&b, (char)ch);
        }
    }
    if (!b.p) {
        return ks_strdup("");
    }
    return b.p; /* the buffer's memory is ks_malloc'd: ks_free it */
}

static void add_issue(struct ks_key_check *c, int line, const char *key, const char *msg)
{
    KS_GROW(c->issues, c->capissues, c->nissues + 1);
    struct issue *is = &c->issues[c->nissues];
    is->line = line;
    is->key = key && *key ? one_line(key) : NULL;
    is->msg = one_line(msg);
    is->seq = c->nissues++;
}

/* Records a problem at node n (its line) for the current key path. */
static void issue(struct ks_key_check *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void issue(struct ks_key_check *c, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    add_issue(c, line_of(n), c->path.len ? c->path.p : NULL, msg);
}

static void tell_seen(struct ks_key_check *c)
{
    if (c->seen) {
        c->seen(c->seen_ctx, c->pattern.p);
    }
}

/* ---- YAML nodes ------------------------------------------------------------ */

static yaml_node_t *node_at(struct ks_key_check *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* An empty value: "key:" with nothing after it, "~" or "null". */
static int is_null(const yaml_node_t *n)
{
    if (!n || n->type == YAML_NO_NODE) {
        return 1;
    }
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return 0;
    }
    const char *s = scalar(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int scalar_is(const yaml_node_t *n, const char *s, size_t len)
{
    return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == len &&
           memcmp(n->data.scalar.value, s, len) == 0;
}

/* Writes s quoted for a message, escaped, cut after 60 bytes (or when out is
 * nearly full) with "...". cap must be at least 16. */
void ks_key_quote(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0, i = 0;
    out[o++] = '"';
    for (; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        /* a UTF-8 character whole or not at all: a cut one is not UTF-8 */
        size_t len = ch < 0xc0 ? 1 : ch < 0xe0 ? 2 : ch < 0xf0 ? 3 : 4;
        len = len < n - i ? len : n - i;
        if (i + len > 60 || o + len + 7 >= cap) {
            break;
        }
        if (len > 1) {
            memcpy(out + o, s + i, len);
            o += len;
            i += len - 1;
        } else if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    if (i < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = 0;
}

/* Describes what a node is, for "got ..." in messages. */
static void what(const yaml_node_t *n, char *out, size_t cap)
{
    if (!n || is_null(n)) {
        snprintf(out, cap, "nothing");
    } else if (n->type == YAML_MAPPING_NODE) {
        snprintf(out, cap, "a mapping");
    } else if (n->type == YAML_SEQUENCE_NODE) {
        snprintf(out, cap, "a list");
    } else {
        ks_key_quote(scalar(n), n->data.scalar.length, out, cap);
    }
}

/* Records that node v is of the wrong kind. A block mapping or list starts
 * on the line after its key; the key's line is where the reader looks. */
static void wrong_kind(struct ks_key_check *c, const yaml_node_t *v, const char *want)
{
    char w[96];
    what(v, w, sizeof(w));
    int line = line_of(v);
    if (v && (v->type == YAML_MAPPING_NODE || v->type == YAML_SEQUENCE_NODE) && c->key_line) {
        line = c->key_line;
    }
    char msg[400];
    snprintf(msg, sizeof(msg), "%s, got %s", want, w);
    add_issue(c, line, c->path.len ? c->path.p : NULL, msg);
}

/* ---- values ------------------------------------------------------------- */

static const char *dur_examples = "(like 30s, 15m, 2h, 7d)";
#define MAX_DURATION (3650.0 * KS_DAY)

/* "7d", "24h", "90m" for a whole number of days, hours or minutes. */
static void short_duration(double ms, char *out, size_t cap)
{
    long long v = (long long)ms;
    if (v % KS_DAY == 0 && v >= 2 * KS_DAY) {
        snprintf(out, cap, "%lldd", v / KS_DAY);
    } else if (v % KS_HOUR == 0) {
        snprintf(out, cap, "%lldh", v / KS_HOUR);
    } else if (v % KS_MIN == 0) {
        snprintf(out, cap, "%lldm", v / KS_MIN);
    } else {
        snprintf(out, cap, "%lldms", v);
    }
}

/* What a key's value must be, as the start of an error message. */
static void expectation(const struct ks_key *k, char *out, size_t cap)
{
    char d[32];
    switch (k->type) {
    case KS_KEY_DURATION:
        if (k->min > 0) {
            short_duration(k->min, d, sizeof(d));
            snprintf(out, cap, "must be a duration of at least %s %s", d, dur_examples);
        } else if (k->flags & KS_KEY_POSITIVE) {
            snprintf(out, cap, "must be a duration greater than 0 %s", dur_examples);
        } else {
            snprintf(out, cap, "must be a duration >= 0 %s", dur_examples);
        }
        break;
    case KS_KEY_PERCENT:
        snprintf(out, cap, "must be a number between 0 and 100");
        break;
    case KS_KEY_INT:
        if (k->max != 0) {
            snprintf(out, cap, "must be an integer from %d to %d", (int)k->min, (int)k->max);
        } else {
            snprintf(out, cap, "must be an integer >= %d", (int)k->min);
        }
        break;
    case KS_KEY_NUMBER:
        if (k->flags & KS_KEY_SIGNED) {
            snprintf(out, cap, "must be a number");
        } else {
            snprintf(out, cap, "must be a number %s %g",
                     (k->flags & KS_KEY_POSITIVE) ? ">" : ">=", k->min);
        }
        break;
    case KS_KEY_STRING:
        if (k->flags & KS_KEY_CURRENCY) {
            snprintf(out, cap, "must be a 3-letter currency code in capitals (like USD, EUR)");
        } else {
            snprintf(out, cap, "must be a non-empty string");
        }
        break;
    case KS_KEY_SEVERITY:
        snprintf(out, cap, "must be P1, P2 or P3");
        break;
    case KS_KEY_BOOL:
        snprintf(out, cap, "must be true or false");
        break;
    case KS_KEY_SECTION:
    case KS_KEY_MAP:
    case KS_KEY_STRMAP:
        snprintf(out, cap, "must be a mapping (key: value)");
        break;
    case KS_KEY_LIST:
    case KS_KEY_STRLIST:
        snprintf(out, cap, "must be a list");
        break;
    }
}

/* A plain decimal number: [+-]digits[.digits][e[+-]digits]. strtod alone
 * would also take hex, "inf" and "nan". */
static int is_decimal(const char *s, size_t n)
{
    size_t i = 0, d = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        i++;
    }
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++, d++;
    }
    if (!d) {
        return 0;
    }
    if (i < n && s[i] == '.') {
        i++;
        d = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++, d++;
        }
        if (!d) {
            return 0;
        }
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        d = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++, d++;
        }
        if (!d) {
            return 0;
        }
    }
    return i == n;
}

static int parse_number(const char *s, size_t n, double *out)
{
    char tmp[64];
    if (n == 0 || n >= sizeof(tmp) || !is_decimal(s, n)) {
        return -1;
    }
    memcpy(tmp, s, n);
    tmp[n] = 0;
    double v = strtod(tmp, NULL);
    if (!isfinite(v)) {
        return -1;
    }
    *out = v;
    return 0;
}

/* Returns 0, -1 (not a duration) or -2 (longer than max). The
 * syntax is checked here so that ks_duration_parse (strtod underneath) sees
 * only plain decimals with a unit. */
static int parse_duration(const char *s, size_t n, double max, ks_time *out)
{
    static const struct {
        const char *suffix;
        double ms;
    } units[] = {{"ms", 1},      {"s", KS_SEC}, {"min", KS_MIN},   {"m", KS_MIN},
                 {"h", KS_HOUR}, {"d", KS_DAY}, {"w", 7 * KS_DAY}, {"", KS_SEC}};
    char tmp[64];
    size_t i = 0;
    while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) {
        i++;
    }
    if (i == 0 || n >= sizeof(tmp) || !is_decimal(s, i)) {
        return -1;
    }
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        if (n - i == strlen(units[u].suffix) && memcmp(s + i, units[u].suffix, n - i) == 0) {
            memcpy(tmp, s, n);
            tmp[n] = 0;
            if (strtod(tmp, NULL) * units[u].ms > max) {
                return -2;
            }
            return ks_duration_parse(tmp, out) == 0 ? 0 : -1;
        }
    }
    return -1;
}

/* Parses the text of a scalar key into dst (of the key's type). Returns 0, or
 * -1 after writing what the value must be into why. Not for KS_KEY_STRING. */
static int parse_value(const struct ks_key *k, const char *s, size_t n, void *dst, char *why,
                       size_t cap)
{
    if (strlen(s) != n) {
        n = 0; /* an embedded NUL: no valid value of any type has one */
    }
    switch (k->type) {
    case KS_KEY_DURATION: {
        ks_time t;
        double max = k->max != 0 ? k->max : MAX_DURATION;
        int rc = parse_duration(s, n, max, &t);
        if (rc == 0 && (double)t >= k->min && (!(k->flags & KS_KEY_POSITIVE) || t > 0)) {
            *(ks_time *)dst = t;
            return 0;
        }
        if (rc == -2) {
            char d[32];
            short_duration(max, d, sizeof(d));
            snprintf(why, cap, "must be a duration of at most %s", d);
            return -1;
        }
        break;
    }
    case KS_KEY_PERCENT: {
        double v;
        size_t m = (n && s[n - 1] == '%') ? n - 1 : n;
        if (parse_number(s, m, &v) == 0 && v >= 0 && v <= 100) {
            *(double *)dst = v;
            return 0;
        }
        break;
    }
    case KS_KEY_INT: {
        double v;
        if (parse_number(s, n, &v) == 0 && v == floor(v) && v >= k->min && v <= INT_MAX &&
            (k->max == 0 || v <= k->max) && !memchr(s, '.', n) && !memchr(s, 'e', n) &&
            !memchr(s, 'E', n)) {
            *(int *)dst = (int)v;
            return 0;
        }
        break;
    }
    case KS_KEY_NUMBER: {
        double v;
        if (parse_number(s, n, &v) == 0 &&
            ((k->flags & KS_KEY_SIGNED) || ((k->flags & KS_KEY_POSITIVE) ? v > k->min : v >= k->min))) {
            *(double *)dst = v;
            return 0;
        }
        break;
    }
    case KS_KEY_BOOL:
        if ((n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5))) {
            *(int *)dst = n == 4;
            return 0;
        }
        break;
    case KS_KEY_SEVERITY:
        if (n == 2 && (s[0] == 'P' || s[0] == 'p') && s[1] >= '1' && s[1] <= '3') {
            *(enum ks_severity *)dst = (enum ks_severity)(s[1] - '0');
            return 0;
        }
        break;
    default:
        KS_ASSERT(!"parse_value: not a scalar type");
    }
    expectation(k, why, cap);
    return -1;
}

/* The struct the keys of base refer to now. */
static void *base_of(const struct ks_key_check *c, const struct ks_key_struct *b)
{
    if (!b) {
        return c->cfg;
    }
    for (size_t i = c->ncur; i-- > 0;) {
        if (c->cur[i].s == b) {
            return c->cur[i].p;
        }
    }
    KS_ASSERT(b->defaults != KS_KEY_NONE); /* an entry's key outside its entry */
    return (char *)c->cfg + b->defaults;
}

static void cur_push(struct ks_key_check *c, const struct ks_key_struct *b, void *p)
{
    KS_ASSERT(c->ncur < sizeof(c->cur) / sizeof(c->cur[0]));
    c->cur[c->ncur].s = b;
    c->cur[c->ncur++].p = p;
}

static void cur_pop(struct ks_key_check *c)
{
    KS_ASSERT(c->ncur > 0);
    c->ncur--;
}

static void *field(const struct ks_key_check *c, const struct ks_key *k)
{
    return (char *)base_of(c, k->base) + k->off;
}

static void *count_field(const struct ks_key_check *c, const struct ks_key *k)
{
    return (char *)base_of(c, k->base) + k->off2;
}

/* Sets every key with a default in tab (and in its sections) on the structs
 * c->cur points to. Named maps and lists are left alone: their entries get
 * their defaults when they are created. */
static void apply_defaults(struct ks_key_check *c, const struct ks_key *tab)
{
    for (const struct ks_key *k = tab; k->name; k++) {
        if (k->type == KS_KEY_SECTION) {
            apply_defaults(c, k->sub);
        } else if (k->def && k->type == KS_KEY_STRING) {
            *(char **)field(c, k) = (char *)k->def; /* borrowed: freeing skips it */
        } else if (k->def) {
            char why[160];
            int rc = parse_value(k, k->def, strlen(k->def), field(c, k), why, sizeof(why));
            KS_ASSERT(rc == 0); /* a default that does not parse is a bug in the table */
        }
    }
}

/* ---- suggestions ---------------------------------------------------------- */

static size_t edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t row[65];
    if (na > 64 || nb > 64) {
        return SIZE_MAX;
    }
    for (size_t j = 0; j <= nb; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            if (up + 1 < best) {
                best = up + 1;
            }
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

/* The closest of names to s, if close enough to be a likely typo. */
const char *ks_key_closest(const char *s, size_t n, const char *const *names, size_t count)
{
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(names[i]);
        size_t d = edit_distance(s, n, names[i], len);
        size_t limit = len < 4 ? 1 : len < 8 ? 2 : 3;
        if (d <= limit && d < bestd) {
            best = names[i];
            bestd = d;
        }
    }
    return best;
}

static void unknown_key(struct ks_key_check *c, const yaml_node_t *kn, const struct ks_key *tab)
{
    const char *names[32] = {0};
    size_t count = 0;
    struct ks_buf all = {0};
    for (const struct ks_key *k = tab; k->name && count < 32; k++) {
        names[count++] = k->name;
        ks_buf_printf(&all, "%s%s", all.len ? ", " : "", k->name);
    }
    const char *s = scalar(kn);
    const char *near = ks_key_closest(s, kn->data.scalar.length, names, count);
    if (near) {
        issue(c, kn, "unknown key (did you mean \"%s\"?)", near);
    } else {
        issue(c, kn, "unknown key (expected one of: %s)", all.p);
    }
    ks_buf_fini(&all);
}

/* ---- applying a file ---------------------------------------------------- */

static void apply_value(struct ks_key_check *c, const struct ks_key *k, yaml_node_t *v);

static const struct ks_key *find_key(const struct ks_key *tab, const yaml_node_t *kn)
{
    for (const struct ks_key *k = tab; k->name; k++) {
        if (scalar_is(kn, k->name, strlen(k->name))) {
            return k;
        }
    }
    return NULL;
}

/* The value of key name in mapping m, or NULL (first occurrence). */
static yaml_node_t *lookup(struct ks_key_check *c, const yaml_node_t *m, const char *name,
                           yaml_node_t **key_out)
{
    if (!m || m->type != YAML_MAPPING_NODE) {
        return NULL;
    }
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node_at(c, p->key);
        if (scalar_is(kn, name, strlen(name))) {
            if (key_out) {
                *key_out = kn;
            }
            return node_at(c, p->value);
        }
    }
    return NULL;
}

/* Checks the keys of a mapping: each a non-empty scalar, none twice. Returns
 * 0 for a good key, -1 for one to skip (an issue was recorded). */
static int check_pair_key(struct ks_key_check *c, const yaml_node_t *m, yaml_node_pair_t *p)
{
    yaml_node_t *kn = node_at(c, p->key);
    char w[96];
    if (!kn || kn->type != YAML_SCALAR_NODE || kn->data.scalar.length == 0) {
        what(kn, w, sizeof(w));
        issue(c, kn ? kn : node_at(c, p->value), "a key must be a non-empty name, got %s", w);
        return -1;
    }
    for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++) {
        yaml_node_t *qk = node_at(c, q->key);
        if (scalar_is(qk, scalar(kn), kn->data.scalar.length)) {
            struct mark mk = push(c, scalar(kn), kn->data.scalar.length, NULL);
            issue(c, kn, "duplicate key (first at line %d)", line_of(qk));
            pop(c, mk);
            return -1;
        }
    }
    return 0;
}

static int must_be_mapping(struct ks_key_check *c, const struct ks_key *k, const yaml_node_t *v)
{
    if (v->type == YAML_MAPPING_NODE) {
        return 0;
    }
    char want[160];
    if (k) {
        expectation(k, want, sizeof(want));
    } else {
        snprintf(want, sizeof(want), "must be a mapping (key: value)");
    }
    wrong_kind(c, v, want);
    return -1;
}

/* Applies mapping m (or an empty value) with the keys of tab, in table order. */
static void apply_table(struct ks_key_check *c, const struct ks_key *tab, const struct ks_key *self,
                        yaml_node_t *m)
{
    if (!is_null(m)) {
        if (must_be_mapping(c, self, m)) {
            return;
        }
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
             p++) {
            if (check_pair_key(c, m, p)) {
                continue;
            }
            yaml_node_t *kn = node_at(c, p->key);
            if (!find_key(tab, kn)) {
                struct mark mk = push(c, scalar(kn), kn->data.scalar.length, NULL);
                unknown_key(c, kn, tab);
                pop(c, mk);
            }
        }
    }
    for (const struct ks_key *k = tab; k->name; k++) {
        yaml_node_t *kn = NULL;
        yaml_node_t *v = lookup(c, m, k->name, &kn);
        struct mark mk = push(c, k->name, strlen(k->name), NULL);
        if (v) {
            c->key_line = line_of(kn);
            apply_value(c, k, v);
        } else if (k->flags & KS_KEY_REQUIRED) {
            issue(c, m, "is required");
        }
        pop(c, mk);
    }
}

/* A path as kintsugi reads it (KS_KEY_PATH): a relative one joined to the
 * directory of the configuration file ("./" left out), so that the same
 * file means the same whatever the working directory. */
static char *path_value(const struct ks_key_check *c, const char *s)
{
    if (s[0] == '/' || !c->dir) {
        return ks_strdup(s);
    }
    while (s[0] == '.' && s[1] == '/') {
        s += 2;
        while (*s == '/') {
            s++;
        }
    }
    if (!*s || !strcmp(s, ".")) {
        return ks_strdup(c->dir);
    }
    struct ks_buf b = {0};
    size_t dl = strlen(c->dir);
    ks_buf_printf(&b, "%s%s%s", c->dir, dl && c->dir[dl - 1] == '/' ? "" : "/", s);
    return b.p;
}

static void apply_scalar(struct ks_key_check *c, const struct ks_key *k, yaml_node_t *v)
{
    char want[160], w[96];
    tell_seen(c);
    if (v->type != YAML_SCALAR_NODE || is_null(v)) {
        expectation(k, want, sizeof(want));
        wrong_kind(c, v, want);
        return;
    }
    const char *s = scalar(v);
    size_t n = v->data.scalar.length;
    if (k->type == KS_KEY_STRING) {
        int ok = n > 0 && strlen(s) == n;
        if (ok && (k->flags & KS_KEY_CURRENCY)) {
            ok = n == 3;
            for (size_t i = 0; i < n; i++) {
                ok = ok && s[i] >= 'A' && s[i] <= 'Z';
            }
        }
        if (!ok) {
            expectation(k, want, sizeof(want));
            ks_key_quote(s, n, w, sizeof(w));
            issue(c, v, "%s, got %s", want, w);
            return;
        }
        char *val = (k->flags & KS_KEY_PATH) ? path_value(c, s) : ks_strndup(s, n);
        char msg[512];
        const char *why = k->check ? k->check(val, msg, sizeof(msg)) : NULL;
        if (!why && k->check_cfg) {
            why = k->check_cfg(c->cfg, val, msg, sizeof(msg));
        }
        if (why) {
            issue(c, v, "%s", why);
            ks_free(val);
            return;
        }
        size_t before = c->nissues;
        if (k->check_each) {
            k->check_each(c, line_of(v), val);
        }
        if (c->nissues > before) {
            ks_free(val);
            return;
        }
        char **dst = field(c, k);
        if (*dst != k->def) {
            ks_free(*dst);
        }
        *dst = val;
        return;
    }
    if (parse_value(k, s, n, field(c, k), want, sizeof(want)) != 0) {
        ks_key_quote(s, n, w, sizeof(w));
        issue(c, v, "%s, got %s", want, w);
    }
}

static void apply_strlist(struct ks_key_check *c, const struct ks_key *k, yaml_node_t *v)
{
    tell_seen(c);
    if (is_null(v)) {
        return;
    }
    if (v->type != YAML_SEQUENCE_NODE) {
        wrong_kind(c, v, "must be a list of names (like [a, b])");
        return;
    }
    char ***list = field(c, k);
    size_t *count = count_field(c, k);
    size_t i = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *item = node_at(c, *it);
        char idx[32], msg[512];
        snprintf(idx, sizeof(idx), "[%zu]", i);
        if (item->type != YAML_SCALAR_NODE || is_null(item) || item->data.scalar.length == 0) {
            char w[96];
            what(item, w, sizeof(w));
            struct mark mk = push(c, idx, strlen(idx), "[]");
            issue(c, item, "must be a non-empty name, got %s", w);
            pop(c, mk);
            continue;
        }
        const char *why = k->check ? k->check(scalar(item), msg, sizeof(msg)) : NULL;
        if (!why && k->check_cfg) {
            why = k->check_cfg(c->cfg, scalar(item), msg, sizeof(msg));
        }
        if (why) {
            struct mark mk = push(c, idx, strlen(idx), "[]");
            issue(c, item, "%s", why);
            pop(c, mk);
        }
        *list = ks_realloc(*list, (*count + 1) * sizeof(**list));
        (*list)[(*count)++] = ks_strndup(scalar(item), item->data.scalar.length);
    }
}

static void apply_strmap(struct ks_key_check *c, const struct ks_key *k, yaml_node_t *v)
{
    tell_seen(c);
    if (is_null(v) || must_be_mapping(c, k, v)) {
        return;
    }
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        if (check_pair_key(c, v, p)) {
            continue;
        }
        yaml_node_t *kn = node_at(c, p->key), *val = node_at(c, p->value);
        struct mark mk = push(c, scalar(kn), kn->data.scalar.length, "NAME");
        const char *why = NULL;
        if (val->type != YAML_SCALAR_NODE || is_null(val)) {
            c->key_line = line_of(kn);
            wrong_kind(c, val, k->bad_value ? k->bad_value : "a value must be a string");
        } else if (k->check_pair &&
                   (why = k->check_pair(scalar(kn), kn->data.scalar.length, scalar(val),
                                        val->data.scalar.length)) != NULL) {
            issue(c, kn, "%s", why);
        } else {
            struct ks_key_pair **pairs = field(c, k);
            size_t *count = count_field(c, k);
            *pairs = ks_realloc(*pairs, (*count + 1) * sizeof(**pairs));
            (*pairs)[*count].name = ks_strndup(scalar(kn), kn->data.scalar.length);
            (*pairs)[(*count)++].value = ks_strndup(scalar(val), val->data.scalar.length);
        }
        pop(c, mk);
    }
}

/* Creates an entry of a named map or list (name NULL in a list): a copy of
 * its defaults, or zeros and the defaults of its table. */
static void *entry_new(struct ks_key_check *c, const struct ks_key *k, const char *name, size_t n)
{
    const struct ks_key_struct *d = k->entry;
    void **arr = (void **)((char *)c->cfg + d->array);
    size_t *count = (size_t *)((char *)c->cfg + d->count);
    *arr = ks_realloc(*arr, (*count + 1) * d->size);
    void *e = (char *)*arr + *count * d->size;
    (*count)++;
    if (d->defaults != KS_KEY_NONE) {
        memcpy(e, (char *)c->cfg + d->defaults, d->size);
    } else {
        memset(e, 0, d->size);
        cur_push(c, d, e);
        apply_defaults(c, k->sub);
        cur_pop(c);
    }
    if (d->name != KS_KEY_NONE) {
        *(char **)((char *)e + d->name) = ks_strndup(name, n);
    }
    return e;
}

/* Applies one entry's keys, then its done check. */
static void apply_entry(struct ks_key_check *c, const struct ks_key *k, const yaml_node_t *kn,
                        yaml_node_t *ev, int line)
{
    void *e = entry_new(c, k, kn ? scalar(kn) : NULL, kn ? kn->data.scalar.length : 0);
    cur_push(c, k->entry, e);
    c->key_line = line;
    apply_table(c, k->sub, NULL, ev);
    if (k->entry->done) {
        c->entry_name = kn;
        c->entry_value = ev;
        c->entry_tab = k->sub;
        c->entry_line = line;
        k->entry->done(c, e);
        c->entry_name = NULL;
        c->entry_value = NULL;
        c->entry_tab = NULL;
    }
    cur_pop(c);
}

/* A named map (channels, systems, roles, people, hooks): each entry is
 * created from the defaults, then its own keys are applied. */
static void apply_map(struct ks_key_check *c, const struct ks_key *k, yaml_node_t *v)
{
    if (is_null(v) || must_be_mapping(c, k, v)) {
        return;
    }
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        if (check_pair_key(c, v, p)) {
            continue;
        }
        yaml_node_t *kn = node_at(c, p->key), *ev = node_at(c, p->value);
        struct mark mk = push(c, scalar(kn), kn->data.scalar.length, "NAME");
        apply_entry(c, k, kn, ev, line_of(kn));
        pop(c, mk);
    }
}

static void apply_list(struct ks_key_check *c, const struct ks_key *k, yaml_node_t *v)
{
    if (is_null(v)) {
        return;
    }
    if (v->type != YAML_SEQUENCE_NODE) {
        char want[160];
        expectation(k, want, sizeof(want));
        wrong_kind(c, v, want);
        return;
    }
    size_t i = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *ev = node_at(c, *it);
        char idx[32];
        snprintf(idx, sizeof(idx), "[%zu]", i);
        struct mark mk = push(c, idx, strlen(idx), "[]");
        apply_entry(c, k, NULL, ev, line_of(ev));
        pop(c, mk);
    }
}

/* ---- what an entry's done function sees (keys.h) ---------------------------------- */

const struct ks_config *ks_key_config(const struct ks_key_check *chk)
{
    return chk->cfg;
}

int ks_key_entry_line(const struct ks_key_check *chk)
{
    return chk->entry_line;
}

int ks_key_entry_kind(const struct ks_key_check *chk)
{
    if (is_null(chk->entry_value)) {
        return 0;
    }
    return chk->entry_value->type == YAML_MAPPING_NODE ? 1 : -1;
}

int ks_key_line(const struct ks_key_check *chk, const char *path, int of_value)
{
    yaml_node_t *m = chk->entry_value, *kn = NULL;
    struct ks_key_check *c = (struct ks_key_check *)chk; /* lookup only reads */
    while (m && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        char name[64];
        if (n >= sizeof(name)) {
            return 0;
        }
        memcpy(name, path, n);
        name[n] = 0;
        m = lookup(c, m, name, &kn);
        path += n + (dot != NULL);
    }
    if (!m) {
        return 0;
    }
    return line_of(of_value ? m : kn);
}

void ks_key_each_set(const struct ks_key_check *chk,
                     void (*fn)(struct ks_key_check *chk, void *arg, const struct ks_key *row,
                                int line),
                     void *arg)
{
    struct ks_key_check *c = (struct ks_key_check *)chk;
    yaml_node_t *m = c->entry_value;
    if (!m || m->type != YAML_MAPPING_NODE) {
        return;
    }
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node_at(c, p->key);
        fn(c, arg, find_key(c->entry_tab, kn), line_of(kn));
    }
}

void ks_key_issue(struct ks_key_check *chk, int line, const char *key, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct mark mk = {chk->path.len, chk->pattern.len};
    if (key) {
        mk = push(chk, key, strlen(key), NULL);
    }
    add_issue(chk, line, chk->path.len ? chk->path.p : NULL, msg);
    pop(chk, mk);
}

static void apply_value(struct ks_key_check *c, const struct ks_key *k, yaml_node_t *v)
{
    switch (k->type) {
    case KS_KEY_SECTION:
        apply_table(c, k->sub, k, v);
        break;
    case KS_KEY_MAP:
        apply_map(c, k, v);
        break;
    case KS_KEY_LIST:
        apply_list(c, k, v);
        break;
    case KS_KEY_STRLIST:
        apply_strlist(c, k, v);
        break;
    case KS_KEY_STRMAP:
        apply_strmap(c, k, v);
        break;
    default:
        apply_scalar(c, k, v);
        break;
    }
}

/* ---- files -------------------------------------------------------------- */

#define MAX_FILE (4u << 20)

/* Reads the whole file (configs are small); NULL after recording why. */
static char *read_file(struct ks_key_check *c, const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        char msg[256];
        snprintf(msg, sizeof(msg), "cannot open: %s", strerror(errno));
        add_issue(c, 0, NULL, msg);
        return NULL;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        add_issue(c, 0, NULL, "is a directory (a configuration is a YAML file)");
        return NULL;
    }
    char *buf = ks_malloc(MAX_FILE + 1);
    size_t n = fread(buf, 1, MAX_FILE + 1, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || n > MAX_FILE) {
        add_issue(c, 0, NULL, failed ? "cannot read the file" : "file larger than 4 MiB");
        ks_free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static void yaml_problem(struct ks_key_check *c, const yaml_parser_t *p, const char *buf, size_t len)
{
    char msg[400];
    int line = (int)p->problem_mark.line + 1;
    if (p->error == YAML_MEMORY_ERROR) {
        add_issue(c, 0, NULL, "out of memory reading the YAML");
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        line = 1;
        for (size_t i = 0; i < p->problem_offset && i < len; i++) {
            line += buf[i] == '\n';
        }
        snprintf(msg, sizeof(msg), "cannot read the file as YAML: %s",
                 p->problem ? p->problem : "bad bytes");
    } else if (p->context) {
        snprintf(msg, sizeof(msg), "YAML syntax error: %s (%s at line %d)",
                 p->problem ? p->problem : "unknown problem", p->context,
                 (int)p->context_mark.line + 1);
    } else {
        snprintf(msg, sizeof(msg), "YAML syntax error: %s",
                 p->problem ? p->problem : "unknown problem");
    }
    add_issue(c, line, NULL, msg);
}

/* Reads path over the defaults into c->cfg, collecting every problem. */
static void load_into(struct ks_key_check *c, const char *path)
{
    const char *slash = strrchr(path, '/');
    ks_free(c->dir);
    c->dir = slash ? ks_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : NULL;
    size_t len = 0;
    char *buf;
    if (c->text) {
        len = c->text_len;
        buf = ks_malloc(len + 1);
        memcpy(buf, c->text, len);
        buf[len] = 0;
    } else if (!(buf = read_file(c, path, &len))) {
        return;
    }
    ks_free(c->source);
    c->source = buf; /* freed by ctx_fini unless the config takes it */
    c->source_len = len;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        add_issue(c, 0, NULL, "out of memory reading the YAML");
        return;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_problem(c, &parser, buf, len);
        yaml_parser_delete(&parser);
        return;
    }
    c->doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root && !is_null(root)) {
        if (root->type != YAML_MAPPING_NODE) {
            char w[96];
            what(root, w, sizeof(w));
            issue(c, root,
                  "the file must be a mapping of keys (currency:, detectors:, ...), "
                  "got %s",
                  w);
        } else {
            apply_table(c, root_table(), NULL, root);
        }
    }
    /* A second document would be silently ignored: say so instead. */
    yaml_document_t next;
    if (!yaml_parser_load(&parser, &next)) {
        yaml_problem(c, &parser, buf, len);
    } else {
        yaml_node_t *r2 = yaml_document_get_root_node(&next);
        if (r2) {
            add_issue(c, line_of(r2), NULL,
                      "a second YAML document: the file must hold one (remove the \"---\")");
        }
        yaml_document_delete(&next);
    }
    c->doc = NULL;
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
}

static int issue_cmp(const void *a, const void *b)
{
    const struct issue *x = a, *y = b;
    if (x->line != y->line) {
        return x->line < y->line ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void ctx_init(struct ks_key_check *c, struct ks_config *cfg)
{
    memset(c, 0, sizeof(*c));
    c->cfg = cfg;
    ks_config_defaults(cfg);
}

static void ctx_fini(struct ks_key_check *c)
{
    for (size_t i = 0; i < c->nissues; i++) {
        ks_free(c->issues[i].key);
        ks_free(c->issues[i].msg);
    }
    ks_free(c->issues);
    ks_free(c->dir);
    ks_free(c->source);
    ks_buf_fini(&c->path);
    ks_buf_fini(&c->pattern);
}

/* Loads path (or text, when not NULL, as if it were path's) into a scratch
 * config, collecting issues sorted by line. */
static void run(struct ks_key_check *c, struct ks_config *scratch, const char *path,
                const char *text, size_t len)
{
    KS_ASSERT(path);
    ctx_init(c, scratch);
    c->text = text;
    c->text_len = len;
    load_into(c, path);
    if (c->nissues > 1) {
        qsort(c->issues, c->nissues, sizeof(*c->issues), issue_cmp);
    }
}

/* ---- the public functions ------------------------------------------------ */

void ks_config_defaults(struct ks_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    struct ks_key_check c;
    memset(&c, 0, sizeof(c));
    c.cfg = cfg;
    apply_defaults(&c, root_table());
}

/* Frees what the keys of tab own in the structs c refers to: strings that
 * are not their borrowed default, lists and maps of strings, and every entry
 * of the named maps and lists with its name. */
static void free_keys(struct ks_key_check *c, const struct ks_key *tab)
{
    for (const struct ks_key *k = tab; k->name; k++) {
        switch (k->type) {
        case KS_KEY_SECTION:
            free_keys(c, k->sub);
            break;
        case KS_KEY_STRING: {
            char **p = field(c, k);
            if (*p != k->def) {
                ks_free(*p);
            }
            break;
        }
        case KS_KEY_STRLIST: {
            char **v = *(char ***)field(c, k);
            size_t n = *(size_t *)count_field(c, k);
            for (size_t i = 0; i < n; i++) {
                ks_free(v[i]);
            }
            ks_free(v);
            break;
        }
        case KS_KEY_STRMAP: {
            struct ks_key_pair *v = *(struct ks_key_pair **)field(c, k);
            size_t n = *(size_t *)count_field(c, k);
            for (size_t i = 0; i < n; i++) {
                ks_free(v[i].name);
                ks_free(v[i].value);
            }
            ks_free(v);
            break;
        }
        case KS_KEY_MAP:
        case KS_KEY_LIST: {
            const struct ks_key_struct *d = k->entry;
            char *arr = *(char **)((char *)c->cfg + d->array);
            size_t n = *(size_t *)((char *)c->cfg + d->count);
            for (size_t i = 0; i < n; i++) {
                void *e = arr + i * d->size;
                cur_push(c, d, e);
                free_keys(c, k->sub);
                cur_pop(c);
                if (d->name != KS_KEY_NONE) {
                    ks_free(*(char **)((char *)e + d->name));
                }
            }
            ks_free(arr);
            break;
        }
        default:
            break;
        }
    }
}

void ks_config_fini(struct ks_config *cfg)
{
    if (!cfg) {
        return;
    }
    struct ks_key_check c;
    memset(&c, 0, sizeof(c));
    c.cfg = cfg;
    ks_free(cfg->path);
    ks_free(cfg->source);
    free_keys(&c, root_table());
    memset(cfg, 0, sizeof(*cfg));
}

static void format_issue(char *out, size_t cap, const char *path, const struct issue *is)
{
    char where[64] = "";
    if (is->line > 0) {
        snprintf(where, sizeof(where), ":%d", is->line);
    }
    if (is->key) {
        snprintf(out, cap, "%s%s: key \"%s\": %s", path, where, is->key, is->msg);
    } else {
        snprintf(out, cap, "%s%s: %s", path, where, is->msg);
    }
}

static enum ks_rc load(struct ks_config *cfg, const char *path, const char *text, size_t len,
                       struct ks_err *err)
{
    struct ks_key_check c;
    struct ks_config scratch;
    run(&c, &scratch, path, text, len);
    if (c.nissues) {
        char msg[sizeof(err->msg)];
        format_issue(msg, sizeof(msg), path, &c.issues[0]);
        ks_config_fini(&scratch);
        ctx_fini(&c);
        ks_config_defaults(cfg);
        return ks_err_set(err, KS_EUSAGE, "%s", msg);
    }
    scratch.source = c.source;
    scratch.source_len = c.source_len;
    c.source = NULL;
    ctx_fini(&c);
    *cfg = scratch;
    cfg->path = ks_strdup(path);
    return KS_OK;
}

enum ks_rc ks_config_load(struct ks_config *cfg, const char *path, struct ks_err *err)
{
    return load(cfg, path, NULL, 0, err);
}

enum ks_rc ks_config_load_text(struct ks_config *cfg, const char *path, const char *text,
                               size_t len, struct ks_err *err)
{
    return load(cfg, path, text ? text : "", text ? len : 0, err);
}

int ks_config_check_each(const char *path, ks_config_issue_fn fn, void *ctx)
{
    struct ks_key_check c;
    struct ks_config scratch;
    run(&c, &scratch, path, NULL, 0);
    int n = (int)c.nissues;
    for (size_t i = 0; fn && i < c.nissues; i++) {
        fn(ctx, c.issues[i].line, c.issues[i].key, c.issues[i].msg);
    }
    ks_config_fini(&scratch);
    ctx_fini(&c);
    return n;
}

int ks_config_check(const char *path, FILE *out)
{
    struct ks_key_check c;
    struct ks_config scratch;
    run(&c, &scratch, path, NULL, 0);
    for (size_t i = 0; out && i < c.nissues; i++) {
        char line[1024];
        format_issue(line, sizeof(line), path, &c.issues[i]);
        fprintf(out, "%s\n", line);
    }
    int n = (int)c.nissues;
    ks_config_fini(&scratch);
    ctx_fini(&c);
    return n;
}

int ks_config_each_set(const char *path, ks_config_key_fn fn, void *ctx)
{
    struct ks_key_check c;
    struct ks_config scratch;
    ctx_init(&c, &scratch);
    c.seen = fn;
    c.seen_ctx = ctx;
    load_into(&c, path);
    int n = (int)c.nissues;
    ks_config_fini(&scratch);
    ctx_fini(&c);
    return n;
}

const struct ks_channel_cfg *ks_config_channel(const struct ks_config *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->nchannels; i++) {
        if (!strcmp(cfg->channels[i].name, name)) {
            return &cfg->channels[i];
        }
    }
    return &cfg->channel_defaults;
}

const struct ks_system_cfg *ks_config_system(const struct ks_config *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->nsystems; i++) {
        if (!strcmp(cfg->systems[i].name, name)) {
            return &cfg->systems[i];
        }
    }
    return &cfg->system_defaults;
}

const char *ks_severity_name(enum ks_severity s)
{
    switch (s) {
    case KS_P1:
        return "P1";
    case KS_P2:
        return "P2";
    case KS_P3:
        return "P3";
    }
    return "P?";
}

/* ---- the reference ------------------------------------------------------- */

static void each_key(const struct ks_key *tab, struct ks_buf *pat, ks_config_key_fn fn, void *ctx)
{
    for (const struct ks_key *k = tab; k->name; k++) {
        size_t mark = pat->len;
        ks_buf_printf(pat, "%s%s", pat->len ? "." : "", k->name);
        if (k->type == KS_KEY_SECTION) {
            each_key(k->sub, pat, fn, ctx);
        } else if (k->type == KS_KEY_MAP) {
            ks_buf_puts(pat, ".NAME");
            each_key(k->sub, pat, fn, ctx);
        } else if (k->type == KS_KEY_LIST) {
            ks_buf_puts(pat, "[]");
            each_key(k->sub, pat, fn, ctx);
        } else {
            fn(ctx, pat->p);
        }
        buf_truncate(pat, mark);
    }
}

void ks_config_each_key(ks_config_key_fn fn, void *ctx)
{
    struct ks_buf pat = {0};
    each_key(root_table(), &pat, fn, ctx);
    ks_buf_fini(&pat);
}

static void type_name(const struct ks_key *k, char *out, size_t cap)
{
    switch (k->type) {
    case KS_KEY_DURATION:
        if (k->min > 0) {
            char d[32];
            short_duration(k->min, d, sizeof(d));
            snprintf(out, cap, "duration >= %s", d);
        } else {
            snprintf(out, cap, "duration %s 0", (k->flags & KS_KEY_POSITIVE) ? ">" : ">=");
        }
        break;
    case KS_KEY_PERCENT:
        snprintf(out, cap, "percent 0-100");
        break;
    case KS_KEY_INT:
        if (k->max != 0) {
            snprintf(out, cap, "integer %d-%d", (int)k->min, (int)k->max);
        } else {
            snprintf(out, cap, "integer >= %d", (int)k->min);
        }
        break;
    case KS_KEY_NUMBER:
        if (k->flags & KS_KEY_SIGNED) {
            snprintf(out, cap, "number");
        } else {
            snprintf(out, cap, "number %s %g", (k->flags & KS_KEY_POSITIVE) ? ">" : ">=", k->min);
        }
        break;
    case KS_KEY_STRING:
        snprintf(out, cap, "%s", (k->flags & KS_KEY_CURRENCY) ? "currency code" : "string");
        break;
    case KS_KEY_SEVERITY:
        snprintf(out, cap, "P1, P2 or P3");
        break;
    case KS_KEY_BOOL:
        snprintf(out, cap, "true or false");
        break;
    case KS_KEY_SECTION:
        snprintf(out, cap, "section");
        break;
    case KS_KEY_MAP:
        snprintf(out, cap, "map of names");
        break;
    case KS_KEY_LIST:
        snprintf(out, cap, "list");
        break;
    case KS_KEY_STRLIST:
        snprintf(out, cap, "list of strings");
        break;
    case KS_KEY_STRMAP:
        snprintf(out, cap, "map of strings");
        break;
    }
}

/* Writes text for a Markdown table cell ('|' escaped). */
static void md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') {
            fputc('\\', out);
        }
        fputc(*s, out);
    }
}

/* One table row per key of tab, then the rows of what it contains. rel is
 * the path inside an entry that inherits from `inherit`. */
static void ref_rows(FILE *out, const struct ks_key *tab, struct ks_buf *pat, struct ks_buf *rel,
                     const char *inherit)
{
    for (const struct ks_key *k = tab; k->name; k++) {
        size_t pmark = pat->len, rmark = rel->len;
        ks_buf_printf(pat, "%s%s", pat->len ? "." : "", k->name);
        ks_buf_printf(rel, "%s%s", rel->len ? "." : "", k->name);
        char type[64];
        if (k->type_name) {
            snprintf(type, sizeof(type), "%s", k->type_name);
        } else {
            type_name(k, type, sizeof(type));
        }
        fprintf(out, "| `%s` | %s | ", pat->p, type);
        if (k->from) {
            fprintf(out, "from `%s`", k->from);
        } else if (inherit && k->def) {
            fprintf(out, "from `%s.%s`", inherit, rel->p);
        } else if (k->def) {
            fprintf(out, "`%s`", k->def);
        } else if (k->flags & KS_KEY_REQUIRED) {
            fprintf(out, "required");
        } else if (k->type == KS_KEY_STRLIST || k->type == KS_KEY_STRMAP) {
            fprintf(out, "empty");
        } else if (k->type == KS_KEY_DURATION || k->type == KS_KEY_NUMBER || k->type == KS_KEY_PERCENT ||
                   k->type == KS_KEY_STRING) {
            fprintf(out, "-");
        }
        fputs(" | ", out);
        md_cell(out, k->help);
        fputs(" |\n", out);
        if (k->type == KS_KEY_SECTION) {
            ref_rows(out, k->sub, pat, rel, inherit);
        } else if (k->type == KS_KEY_MAP || k->type == KS_KEY_LIST) {
            struct ks_buf inner = {0};
            ks_buf_puts(pat, k->type == KS_KEY_MAP ? ".NAME" : "[]");
            ks_buf_puts(&inner, "");
            ref_rows(out, k->sub, pat, &inner, k->inherit);
            ks_buf_fini(&inner);
        }
        buf_truncate(pat, pmark);
        buf_truncate(rel, rmark);
    }
}

static const char ref_intro[] =
    "# kintsugi configuration reference\n"
    "\n"
    "kintsugi runs with no configuration file at all: every threshold has the\n"
    "default of the specification (SPEC sections 3 to 5). A YAML file given with\n"
    "`--config FILE` changes only the keys it names. `examples/kintsugi.yaml` sets\n"
    "every key, with comments.\n"
    "\n"
    "This file is generated from the key tables each module declares beside its\n"
    "code (`src/engine/keys.c`, `src/contain/hook_keys.c`, `src/review/keys.c`,\n"
    "`src/config/config.c`; `src/shell/keys.c` orders the sections):\n"
    "`kintsugi check-config --reference > docs/CONFIG.md`. A unit test fails when\n"
    "they differ.\n"
    "\n"
    "## Checking a file\n"
    "\n"
    "```\n"
    "$ kintsugi check-config kintsugi.yaml\n"
    "kintsugi.yaml: ok\n"
    "$ kintsugi check-config bad.yaml\n"
    "bad.yaml:4: key \"detectors.zero_spike.skus_pct\": must be a number between 0 and 100, "
    "got \"abc\"\n"
    "bad.yaml:9: key \"detectors.zero_spik\": unknown key (did you mean \"zero_spike\"?)\n"
    "$ kintsugi check-config bad.yaml --json\n"
    "{\"file\":\"bad.yaml\",\"valid\":false,\"errors\":[{\"line\":4,"
    "\"key\":\"detectors.zero_spike.skus_pct\",\"message\":\"must be ...\"}, ...]}\n"
    "```\n"
    "\n"
    "`check-config` reports every problem, one per line in line order, and exits\n"
    "with 2 if there is any (0 otherwise). Every command that loads a\n"
    "configuration stops at the first problem with the same message and exit\n"
    "code 2. In `--json` output, `line` is `null` for a problem with the whole\n"
    "file (it cannot be opened) and `key` is `null` when no single key is at\n"
    "fault (YAML syntax).\n"
    "\n"
    "Problems reported: YAML syntax (with its line), unknown keys (with a\n"
    "suggestion when one is close), duplicate keys, a mapping or list where a\n"
    "value is expected and the reverse, values of the wrong type or out of\n"
    "range (negative durations, percentages outside 0..100, minimum counts\n"
    "below 1), metric rules without a kind or with two, duplicate rule names,\n"
    "people with a role not defined under `roles`, hooks and approvals that name\n"
    "an unknown action, hooks without exactly one of `url` and `command`, URLs\n"
    "that are not `http://` or `https://`, bad or reserved header names, a\n"
    "`messages.templates` directory that does not exist or cannot be read, each\n"
    "file in it that is not a template and each problem of each template (one\n"
    "line each, docs/MESSAGES.md), and a second YAML document.\n"
    "An empty file, and an empty section (`detectors:` with nothing under it),\n"
    "are valid.\n"
    "\n"
    "## Precedence\n"
    "\n"
    "1. The built-in defaults (the column *default* below).\n"
    "2. The file's global sections: `detectors`, `contain`, `sla`, `assessment`, ...\n"
    "3. Per-channel entries under `channels` and per-system entries under\n"
    "   `systems`. Each entry starts as a complete copy of the thresholds of\n"
    "   step 2 (`detectors.sync_freshness`, `volume_drop`, `distribution_shift`,\n"
    "   `zero_spike`, `contain.low_stock`; `detectors.system_down`) and changes\n"
    "   only the keys it names. Sections are applied in this order whatever\n"
    "   their order in the file, so `channels:` may come before `detectors:`.\n"
    "   A channel or system without an entry uses the values of step 2.\n"
    "\n"
    "## Values\n"
    "\n"
    "- *duration*: a number with a unit: `500ms`, `30s`, `15m` (or `15min`), `2h`,\n"
    "  `7d`, `1w`; a bare number is seconds. Fractions are allowed (`1.5h`); at\n"
    "  most `3650d` (`ts_horizon`: `3652500d`).\n"
    "- *percent*: a number from 0 to 100 (`20` is 20 %), optionally written `20%`.\n"
    "- *integer*, *number*: plain decimals (`20`, `5000`, `2.5`).\n"
    "- *P1, P2 or P3*: a severity, P1 the most severe.\n"
    "- *directory* (`messages.templates`, `receivers.NAME.dir`): a path; a relative\n"
    "  one is read from the directory of the configuration file, not the working\n"
    "  directory (`templates: tpl` in `/etc/kintsugi/kintsugi.yaml` is\n"
    "  `/etc/kintsugi/tpl`), so a file means the same wherever kintsugi starts.\n"
    "  A hook's `command` is a shell command line, not a path, and is not\n"
    "  rewritten: it runs in kintsugi's working directory, so name a script by\n"
    "  its absolute path.\n"
    "- *NAME* in a key stands for a channel, system, role or person name, an\n"
    "  action name (under `hooks`) or a header name (under `headers`); `[]` for\n"
    "  each element of a list.\n"
    "\n"
    "## Keys\n";

void ks_config_reference(FILE *out)
{
    fputs(ref_intro, out);
    for (const struct ks_key *k = root_table(); k->name; k++) {
        struct ks_buf pat = {0}, rel = {0};
        ks_buf_puts(&pat, "");
        ks_buf_puts(&rel, "");
        int scalar_key = k->type != KS_KEY_SECTION && k->type != KS_KEY_MAP && k->type != KS_KEY_LIST;
        fprintf(out, "\n### `%s`\n\n", k->name);
        if (!scalar_key) {
            /* The paragraph is the help of the section; the table lists what
             * it contains, with full paths. */
            fprintf(out, "%s\n\n", k->help);
        }
        fputs("| key | type | default | meaning |\n", out);
        fputs("|---|---|---|---|\n", out);
        if (scalar_key) {
            const struct ks_key one[] = {*k, {.name = NULL}};
            ref_rows(out, one, &pat, &rel, NULL);
        } else {
            ks_buf_puts(&pat, k->name);
            if (k->type != KS_KEY_SECTION) {
                ks_buf_puts(&pat, k->type == KS_KEY_MAP ? ".NAME" : "[]");
            }
            ref_rows(out, k->sub, &pat, &rel, k->type == KS_KEY_MAP ? k->inherit : NULL);
        }
        ks_buf_fini(&pat);
        ks_buf_fini(&rel);
    }
    fputs("\n## Actions\n"
          "\n"
          "What kintsugi can ask other systems to do while containing an incident: the\n"
          "names of `hooks` entries and of `roles.NAME.approve` items. kintsugi sends an\n"
          "action to another system only through its hook (docs/HOOKS.md).\n"
          "\n"
          "| action | what the other system is asked to do |\n"
          "|---|---|\n",
          out);
    for (const struct ks_action_name *a = ks_action_names; a->name; a++) {
        fprintf(out, "| `%s` | ", a->name);
        md_cell(out, a->help);
        fputs(" |\n", out);
    }
}
