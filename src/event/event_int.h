/*
 * event_int.h - state shared by the two event decoders (decode.c, fast.c);
 * private to src/event.
 */
#ifndef KS_EVENT_INT_H
#define KS_EVENT_INT_H

#include "event.h"

#include <jansson.h>
#include <string.h>

/* Upper bound of inventory/stock qty (SPEC: a 32-bit unsigned quantity). */
#define KS_QTY_MAX 4294967295LL
/* Upper bound of an integer ts: 9999-12-31T23:59:59.999Z, the last instant
 * an RFC 3339 string can name, so that both forms cover the same range and
 * timer arithmetic on ts cannot overflow. */
#define KS_TS_INT_MAX 253402300799999LL

/*
 * The decoder. It owns everything a decoded event borrows: the jansson tree
 * of the last general decode (root), the arrays behind ev->lines and
 * ev->labels, and the text of a numeric feedback.incident. The fast path
 * borrows from the input line instead and touches none of these except its
 * date cache and hit counter, so it never allocates.
 */
struct ks_decoder {
    json_t *root; /* the last general decode's tree, or NULL */
    struct ks_order_line *lines;
    size_t lines_cap;
    struct ks_label *labels;
    size_t labels_cap;
    char incident_text[24]; /* feedback.incident given as an integer */

    uint64_t fast_hits;
    /* Fast path: the date part "YYYY-MM-DD" of the last fixed-shape
     * timestamp and its midnight in ms; date_ms is KS_TIME_NONE when the
     * cache is empty. Lines of one replay share a handful of dates. */
    char date_key[10];
    ks_time date_ms;
    /* Fast path, canonical lines: the minute part "YYYY-MM-DDTHH:MM:" (17
     * bytes, kept as the three words at offsets 0, 8 and 9) of the last
     * fixed-shape timestamp and that minute in ms; valid only when
     * minute_ok. A replay's lines share a minute by the hundred thousand. */
    uint64_t minute_key[3];
    ks_time minute_ms;
    int minute_ok;
    /* ks_event_decode_fast_next: the channel of the last canonical line it
     * decoded, and where the line after it starts (NULL after any other
     * line or a new buffer), for same_prev. */
    const char *prev_channel, *prev_next;
};

/* Length of line without one trailing '\r' (the contract ignores it). */
static inline size_t ks_line_trim(const char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    return len;
}

#endif
