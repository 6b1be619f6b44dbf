/*
 * array.c - a JSON array of events (POST /v1/events as application/json)
 * split into NDJSON lines, one per element, each of the element's own bytes,
 * without parsing the elements: each is then decoded as any line is.
 * tests/fuzz/fuzz_array.c checks it against jansson.
 */
#include "event.h"

#include <stdio.h>

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Where a scan of JSON text stands: inside a string, after a backslash. */
struct scan {
    int in_str, esc;
};

/* Takes the next byte c: 1 when it belongs to a string (its quotes
 * included), 0 when it is structure or white space. */
static int in_string(struct scan *s, char c)
{
    if (!s->in_str) {
        s->in_str = c == '"';
        return s->in_str;
    }
    if (s->esc) {
        s->esc = 0;
    } else if (c == '\\') {
        s->esc = 1;
    } else if (c == '"') {
        s->in_str = 0;
    }
    return 1;
}

/* Appends one element's text as one NDJSON line: JSON whitespace line
 * breaks become spaces; a raw line break inside a string (invalid JSON)
 * becomes a control character, so that the line is still rejected. */
static void put_element(struct ks_buf *out, const char *p, size_t n)
{
    while (n && is_ws(*p)) {
        p++, n--;
    }
    while (n && is_ws(p[n - 1])) {
        n--;
    }
    struct scan sc = {0, 0};
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\n' || c == '\r') {
            c = in_string(&sc, c) ? '\x01' : ' ';
        } else {
            in_string(&sc, c);
        }
        ks_buf_putc(out, c);
    }
    ks_buf_putc(out, '\n');
}

/* Whether body[i..len) is JSON white space only; else *at is the first other byte. */
static int only_ws_after(const char *body, size_t i, size_t len, size_t *at)
{
    for (; i < len; i++) {
        if (!is_ws(body[i])) {
            *at = i;
            return 0;
        }
    }
    return 1;
}

/* A body of one event object, from its '{' at body[i]: its line, or -1 when
 * it is not closed or text follows it. NDJSON sent as application/json
 * would otherwise be one line of every event, rejected whole as one dead
 * letter (of megabytes, for a large body) with nothing applied. */
static int one_object(const char *body, size_t i, size_t len, struct ks_buf *out, char *why,
                      size_t cap)
{
    size_t from = i, at;
    int depth = 0;
    struct scan sc = {0, 0};
    for (; i < len; i++) {
        char c = body[i];
        if (in_string(&sc, c)) {
            continue;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && --depth == 0) {
            break;
        }
    }
    if (i >= len) {
        snprintf(why, cap, "body: invalid JSON at byte %zu: the object is not closed", len);
        return -1;
    }
    if (!only_ws_after(body, i + 1, len, &at)) {
        snprintf(why, cap,
                 "body: invalid JSON at byte %zu: text after the object (several events are a "
                 "JSON array of them, or NDJSON sent as application/x-ndjson)",
                 at + 1);
        return -1;
    }
    put_element(out, body + from, i + 1 - from);
    return 0;
}

int ks_event_array_lines(const char *body, size_t len, struct ks_buf *out, char *why,
                         size_t cap)
{
    size_t i = 0;
    while (i < len && is_ws(body[i])) {
        i++;
    }
    if (i < len && body[i] == '{') {
        return one_object(body, i, len, out, why, cap);
    }
    if (i >= len || body[i] != '[') {
        snprintf(why, cap, "body: must be a JSON array of events (or one event object)");
        return -1;
    }
    size_t start = ++i;
    int depth = 0, elements = 0;
    struct scan sc = {0, 0};
    for (; i < len; i++) {
        char c = body[i];
        if (in_string(&sc, c)) {
            continue;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        } else if (depth == 0 && (c == ',' || c == ']')) {
            size_t k = start;
            while (k < i && is_ws(body[k])) {
                k++;
            }
            if (k == i && (c == ',' || elements > 0)) {
                snprintf(why, cap, "body: invalid JSON at byte %zu: an array element is missing",
                         i + 1);
                return -1;
            }
            if (k < i) {
                put_element(out, body + start, i - start);
                elements++;
            }
            start = i + 1;
            if (c == ']') {
                break;
            }
        }
    }
    if (i >= len) {
        snprintf(why, cap, "body: invalid JSON at byte %zu: the array is not closed", len);
        return -1;
    }
    size_t at;
    if (!only_ws_after(body, i + 1, len, &at)) {
        snprintf(why, cap, "body: invalid JSON at byte %zu: text after the array", at + 1);
        return -1;
    }
    return 0;
}
