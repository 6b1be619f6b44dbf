/* json.c - a small streaming JSON writer (output only; input uses jansson). */
#include "core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ks_json_init(struct ks_json *j, struct ks_buf *out, int pretty)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
    j->pretty = pretty;
    j->first[0] = 1;
}

static void indent(struct ks_json *j)
{
    if (j->pretty) {
        ks_buf_putc(j->out, '\n');
        for (int i = 0; i < j->depth; i++) {
            ks_buf_puts(j->out, "  ");
        }
    }
}

/* Called before every value or key: writes the separator. */
static void sep(struct ks_json *j)
{
    if (!j->first[j->depth]) {
        ks_buf_putc(j->out, ',');
    }
    j->first[j->depth] = 0;
    if (j->depth > 0) {
        indent(j);
    }
}

static void before_value(struct ks_json *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    sep(j);
}

void ks_json_obj_begin(struct ks_json *j)
{
    before_value(j);
    ks_buf_putc(j->out, '{');
    KS_ASSERT(j->depth < 63);
    j->first[++j->depth] = 1;
}

void ks_json_obj_end(struct ks_json *j)
{
    int empty = j->first[j->depth];
    j->depth--;
    if (!empty) {
        indent(j);
    }
    ks_buf_putc(j->out, '}');
}

void ks_json_arr_begin(struct ks_json *j)
{
    before_value(j);
    ks_buf_putc(j->out, '[');
    KS_ASSERT(j->depth < 63);
    j->first[++j->depth] = 1;
}

void ks_json_arr_end(struct ks_json *j)
{
    int empty = j->first[j->depth];
    j->depth--;
    if (!empty) {
        indent(j);
    }
    ks_buf_putc(j->out, ']');
}

void ks_json_key(struct ks_json *j, const char *k)
{
    sep(j);
    ks_json_escape(j->out, k, strlen(k));
    ks_buf_puts(j->out, j->pretty ? ": " : ":");
    j->after_key = 1; /* the value that follows takes no separator */
}

static void escape_valid(struct ks_buf *b, const char *s, size_t n);

/* JSON text is UTF-8: a byte that is not part of a valid sequence (a
 * percent-decoded path, an argument, a cut string) is written as U+FFFD, so
 * that every document kintsugi writes stays valid JSON. */
void ks_json_escape(struct ks_buf *b, const char *s, size_t n)
{
    size_t bad = ks_utf8_invalid_at(s, n);
    if (bad == (size_t)-1) {
        escape_valid(b, s, n);
        return;
    }
    struct ks_buf clean = {0};
    size_t at = 0;
    while (bad != (size_t)-1) {
        ks_buf_put(&clean, s + at, bad);
        ks_buf_puts(&clean, "\xEF\xBF\xBD");
        at += bad + 1;
        bad = at < n ? ks_utf8_invalid_at(s + at, n - at) : (size_t)-1;
    }
    ks_buf_put(&clean, s + at, n - at);
    escape_valid(b, clean.p ? clean.p : "", clean.len);
    ks_buf_fini(&clean);
}

static void escape_valid(struct ks_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    ks_buf_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] <= 0x9F) {
            /* a C1 control (U+0080-U+009F) escaped as C0 is: the document
             * keeps it, and a terminal it is printed on never sees it */
            unsigned char d = (unsigned char)s[i + 1];
            char u[7] = {'\\', 'u', '0', '0', hex[d >> 4], hex[d & 15], 0};
            ks_buf_put(b, s + run, i - run);
            ks_buf_puts(b, u);
            run = i + 2;
            i++;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
            continue;
        }
        ks_buf_put(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            ks_buf_puts(b, "\\\"");
            break;
        case '\\':
            ks_buf_puts(b, "\\\\");
            break;
        case '\n':
            ks_buf_puts(b, "\\n");
            break;
        case '\t':
            ks_buf_puts(b, "\\t");
            break;
        case '\r':
            ks_buf_puts(b, "\\r");
            break;
        default: {
            char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
            ks_buf_puts(b, u);
        }
        }
    }
    ks_buf_put(b, s + run, n - run);
    ks_buf_putc(b, '"');
}

void ks_json_strn(struct ks_json *j, const char *s, size_t n)
{
    before_value(j);
    ks_json_escape(j->out, s, n);
}

void ks_json_str(struct ks_json *j, const char *s)
{
    if (!s) {
        ks_json_null(j);
        return;
    }
    ks_json_strn(j, s, strlen(s));
}

void ks_json_int(struct ks_json *j, int64_t v)
{
    before_value(j);
    ks_buf_printf(j->out, "%lld", (long long)v);
}

const char *ks_fmt_shortest(double v, char out[40])
{
    /* a double whose shortest form has at most 15 digits reads back from
     * its 15-digit rounding, which %g writes without trailing zeros */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, 40, "%.*g", prec, v);
        if (strtod(out, NULL) == v) {
            break;
        }
    }
    return out;
}

void ks_json_num(struct ks_json *j, double v)
{
    before_value(j);
    if (!isfinite(v)) {
        ks_buf_puts(j->out, "null");
        return;
    }
    char tmp[44];
    /* The shortest form that reads back as the same number: a revenue of
     * 1234567.89 stays 1234567.89 (six digits wrote 1.23457e+06), a ratio
     * of 0.1 stays 0.1. */
    ks_fmt_shortest(v, tmp);
    if (!strpbrk(tmp, ".eE")) {
        strcat(tmp, ".0");
    }
    ks_buf_puts(j->out, tmp);
}

void ks_json_bool(struct ks_json *j, int v)
{
    before_value(j);
    ks_buf_puts(j->out, v ? "true" : "false");
}

void ks_json_null(struct ks_json *j)
{
    before_value(j);
    ks_buf_puts(j->out, "null");
}

void ks_json_time(struct ks_json *j, ks_time t)
{
    if (t == KS_TIME_NONE) {
        ks_json_null(j);
        return;
    }
    char tmp[32];
    ks_time_fmt(t, tmp);
    ks_json_str(j, tmp);
}

void ks_json_raw(struct ks_json *j, const char *s, size_t n)
{
    before_value(j);
    ks_buf_put(j->out, s, n);
}

double ks_money_add(double sum, double value)
{
    double r = sum + value;
    /* Sums of money are kept to a millionth of a unit, so that nine orders of
     * 1000.10 and one of 999.10 make exactly 10000 and not 10000.000000000002,
     * which a strict "> 10000" threshold would take for more. Past 2^53
     * millionths (9e9) the sum is left as it is. */
    double m = r * 1e6;
    return fabs(m) < 9e15 ? round(m) / 1e6 : r;
}
