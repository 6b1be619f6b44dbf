/*
 * fast.c - the specialised decoder for plain inventory lines, the hot path
 * of a replay (SPEC section 9: >= 1 GB/s on one core), such as
 *
 *   {"type":"inventory","ts":"2026-11-22T10:00:00.000Z","channel":"amazon",
 *    "sku":"SKU-0012345","qty":17,"batch":"amazon-3"}
 *
 * It accepts one object with the keys type, ts, channel, sku, qty and
 * optionally batch, location, id and source, in any order, with JSON
 * whitespace between tokens. It gives up (KS_EINPUT: "not sure, ask the
 * general decoder") on everything else: another type, an unknown or
 * repeated key, a string with an escape, a control character or a non-ASCII
 * byte, a number with a sign, fraction, exponent or leading zero, or any
 * structure it does not expect. Within what it accepts, the decoded bytes
 * of every string equal its raw bytes, so slices point into the line and
 * nothing is allocated.
 *
 * Its one obligation: whenever it accepts, the general decoder accepts too
 * and yields the same struct ks_event field by field. tests/unit/test_decode.c
 * and tests/fuzz/fuzz_decode.c check exactly that.
 */
#include "event_int.h"

/* The keys the fast path knows, as bits of its "seen" mask. */
enum fkey { K_TYPE, K_TS, K_CHANNEL, K_SKU, K_QTY, K_BATCH, K_LOCATION, K_ID, K_SOURCE };
#define REQUIRED ((1u << K_TYPE) | (1u << K_TS) | (1u << K_CHANNEL) | (1u << K_SKU) | (1u << K_QTY))

static inline int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws((unsigned char)*p)) {
        p++;
    }
    return p;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/*
 * Returns the closing quote of the string whose first byte is p, or NULL
 * when the string is unterminated or holds a byte the fast path does not
 * handle: a backslash (escape), a control character (invalid JSON) or a
 * byte >= 0x80 (UTF-8, left to the general decoder's validation).
 *
 * Eight bytes at a time: the word's high bits flag every byte that is a
 * quote, a backslash, < 0x20 or >= 0x80. The subtractions can only set a
 * false flag in a byte above a true one (a borrow comes from a flagged
 * byte), so the lowest flag is exact and names the byte that ends the scan.
 */
static inline const char *plain_string_end(const char *p, const char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
        uint64_t special = (((w - ONES * 0x20) & ~w) /* a byte < 0x20 */
                            | w                      /* a byte >= 0x80 */
                            | ((q - ONES) & ~q)      /* a quote */
                            | ((b - ONES) & ~b)) &   /* a backslash */
                           HIGHS;
        if (special != 0) {
            p += __builtin_ctzll(special) >> 3;
            return *p == '"' ? p : NULL;
        }
        p += 8;
    }
#endif
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            return p;
        }
        if (c < 0x20 || c >= 0x80 || c == '\\') {
            return NULL;
        }
    }
    return NULL;
}

/* Whether the n bytes at p (n >= 1) spell lit, with the length of lit
 * known at compile time so that memcmp becomes a load and a compare. */
#define HAS(p, n, lit) ((n) >= sizeof(lit) - 1 && memcmp((p), (lit), sizeof(lit) - 1) == 0)

/*
 * Matches the key that starts at p (just after its opening quote) against
 * the known ones, including the closing quote: a key whose bytes are
 * `name"` is exactly that name, so no scan is needed. Returns the key and
 * sets *after to the byte after its closing quote, or returns -1.
 */
static inline int match_key(const char *p, const char *end, const char **after)
{
    size_t n = (size_t)(end - p);
    int key = -1;
    size_t len = 0;
    if (n == 0) {
        return -1;
    }
    switch (*p) {
    case 't':
        if (HAS(p, n, "type\"")) {
            key = K_TYPE, len = 5;
        } else if (HAS(p, n, "ts\"")) {
            key = K_TS, len = 3;
        }
        break;
    case 'c':
        if (HAS(p, n, "channel\"")) {
            key = K_CHANNEL, len = 8;
        }
        break;
    case 's':
        if (HAS(p, n, "sku\"")) {
            key = K_SKU, len = 4;
        } else if (HAS(p, n, "source\"")) {
            key = K_SOURCE, len = 7;
        }
        break;
    case 'q':
        if (HAS(p, n, "qty\"")) {
            key = K_QTY, len = 4;
        }
        break;
    case 'b':
        if (HAS(p, n, "batch\"")) {
            key = K_BATCH, len = 6;
        }
        break;
    case 'l':
        if (HAS(p, n, "location\"")) {
            key = K_LOCATION, len = 9;
        }
        break;
    case 'i':
        if (HAS(p, n, "id\"")) {
            key = K_ID, len = 3;
        }
        break;
    default:
        break;
    }
    *after = p + len;
    return key;
}

static inline unsigned dig(const char *s, size_t i)
{
    return (unsigned)((unsigned char)s[i] - '0');
}

/* Two decimal digits at s[i], or a value >= 100 when either is not one. */
static inline unsigned two(const char *s, size_t i)
{
    unsigned a = dig(s, i), b = dig(s, i + 1);
    return (a > 9 || b > 9) ? 100 : a * 10 + b;
}

/*
 * Midnight (ms) of the date "YYYY-MM-DD" at s, through the one-entry cache,
 * or KS_TIME_NONE when it is not a valid date. Validity follows
 * ks_time_parse exactly: month 1..12, day within the month, 29 February
 * only in leap years, any year 0000..9999.
 */
static ks_time date_ms(struct ks_decoder *d, const char *s)
{
    static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (d->date_ms != KS_TIME_NONE && memcmp(s, d->date_key, 10) == 0) {
        return d->date_ms;
    }
    unsigned yh = two(s, 0), yl = two(s, 2), m = two(s, 5), day = two(s, 8);
    if (yh > 99 || yl > 99 || s[4] != '-' || s[7] != '-' || m < 1 || m > 12 || day < 1 ||
        day > mdays[m - 1]) {
        return KS_TIME_NONE;
    }
    unsigned y = yh * 100 + yl;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && day == 29 && !leap) {
        return KS_TIME_NONE;
    }
    memcpy(d->date_key, s, 10);
    d->date_ms = ks_days_from_civil(y, m, day) * KS_DAY;
    return d->date_ms;
}

/*
 * Parses the timestamp string s[0..n) as ks_time_parse would. The shapes a
 * feed writes, "YYYY-MM-DDTHH:MM:SS.mmmZ" and "YYYY-MM-DDTHH:MM:SSZ", are
 * parsed here with the date cache; any other shape goes to ks_time_parse
 * itself. Returns 0, or -1 when the string is not a valid timestamp.
 */
static inline int fast_time(struct ks_decoder *d, const char *s, size_t n, ks_time *out)
{
    unsigned ms = 0;
    if (n == 24 && s[19] == '.' && s[23] == 'Z') {
        unsigned a = dig(s, 20), b = dig(s, 21), c = dig(s, 22);
        if (a > 9 || b > 9 || c > 9) {
            return -1;
        }
        ms = a * 100 + b * 10 + c;
    } else if (!(n == 20 && s[19] == 'Z')) {
        return ks_time_parse(s, n, out, NULL);
    }
    if (s[10] != 'T' || s[13] != ':' || s[16] != ':') {
        return ks_time_parse(s, n, out, NULL);
    }
    unsigned h = two(s, 11), mi = two(s, 14), se = two(s, 17);
    if (h > 23 || mi > 59 || se > 60) {
        return -1;
    }
    if (se == 60) {
        se = 59; /* as ks_time_parse: a leap second stays inside its minute */
    }
    ks_time day = date_ms(d, s);
    if (day == KS_TIME_NONE) {
        return -1;
    }
    *out = day + (ks_time)((h * 60 + mi) * 60 + se) * KS_SEC + ms;
    return 0;
}

/*
 * Zeroes *ev through the C library's memset. With the size known, the
 * compiler would inline "rep stos", which costs several times more on
 * these 440 bytes than the library's vector loop (measured: ~46 ns against
 * ~8 ns), a third of the whole line's budget. Reading the function from a
 * volatile pointer keeps the call a call.
 */
static void *(*volatile clear_fn)(void *, int, size_t) = memset;

static inline void clear_event(struct ks_event *ev)
{
    clear_fn(ev, 0, sizeof(*ev));
    ev->promised_ship = KS_TIME_NONE;
    ev->due = KS_TIME_NONE;
}

/* The string field of ev that key fills. */
static inline struct ks_str *slot(struct ks_event *ev, int key)
{
    switch (key) {
    case K_CHANNEL:
        return &ev->channel;
    case K_SKU:
        return &ev->sku;
    case K_BATCH:
        return &ev->batch;
    case K_LOCATION:
        return &ev->location;
    case K_ID:
        return &ev->id;
    default:
        return &ev->source;
    }
}

enum ks_rc ks_event_decode_fast(struct ks_decoder *d, const char *line, size_t len,
                                struct ks_event *ev)
{
    if (!line) {
        return KS_EINPUT;
    }
    len = ks_line_trim(line, len);
    if (len > KS_LINE_MAX) {
        return KS_EINPUT;
    }
    const char *p = line, *end = line + len;
    unsigned seen = 0;

    /* Fields are written straight into ev; on KS_EINPUT its content is
     * unspecified, and the general decoder starts from scratch. */
    clear_event(ev);
    p = skip_ws(p, end);
    if (p == end || *p != '{') {
        return KS_EINPUT;
    }
    p = skip_ws(p + 1, end);
    for (;;) {
        /* "key" */
        if (p == end || *p != '"') {
            return KS_EINPUT;
        }
        int key = match_key(p + 1, end, &p);
        if (key < 0 || (seen & (1u << key))) {
            return KS_EINPUT;
        }
        seen |= 1u << key;
        p = skip_ws(p, end);
        if (p == end || *p != ':') {
            return KS_EINPUT;
        }
        p = skip_ws(p + 1, end);
        if (p == end) {
            return KS_EINPUT;
        }

        /* value */
        if (*p == '"') {
            const char *v = p + 1;
            size_t room = (size_t)(end - v);
            if (key == K_TYPE) {
                if (!HAS(v, room, "inventory\"")) {
                    return KS_EINPUT;
                }
                p = v + 10;
            } else if (key == K_TS && room > 24 && v[24] == '"' &&
                       fast_time(d, v, 24, &ev->ts) == 0) {
                /* The usual 24-byte timestamp, parsed without a scan: a
                 * valid one is digits and punctuation only, so v[24] is
                 * its closing quote. */
                p = v + 25;
            } else {
                const char *q = plain_string_end(v, end);
                if (!q) {
                    return KS_EINPUT;
                }
                size_t n = (size_t)(q - v);
                p = q + 1;
                if (key == K_TS) {
                    if (fast_time(d, v, n, &ev->ts) != 0) {
                        return KS_EINPUT;
                    }
                } else if (key == K_QTY) {
                    return KS_EINPUT;
                } else if (n > 0) {
                    *slot(ev, key) = (struct ks_str){v, n};
                } else if (key == K_CHANNEL || key == K_SKU) {
                    return KS_EINPUT; /* required strings are non-empty */
                }
                /* An empty optional string stays absent, as in decode.c. */
            }
        } else if ((unsigned)(*p - '0') <= 9) {
            /* A plain non-negative integer of at most 15 digits: qty, or ts
             * as epoch milliseconds. */
            const char *v = p;
            uint64_t x = 0;
            while (p < end && (unsigned)(*p - '0') <= 9) {
                x = x * 10 + (unsigned)(*p - '0');
                p++;
                if (p - v > 15) {
                    return KS_EINPUT;
                }
            }
            if (*v == '0' && p - v > 1) {
                return KS_EINPUT; /* leading zero: invalid JSON */
            }
            if (key == K_QTY && x <= (uint64_t)KS_QTY_MAX) {
                ev->qty = (int64_t)x;
            } else if (key == K_TS && x <= (uint64_t)KS_TS_INT_MAX) {
                ev->ts = (ks_time)x;
            } else {
                return KS_EINPUT;
            }
        } else if (*p == 'n' && HAS(p, (size_t)(end - p), "null")) {
            /* null is absent: fine for an optional key, not a required one. */
            if (REQUIRED & (1u << key)) {
                return KS_EINPUT;
            }
            p += 4;
        } else {
            return KS_EINPUT;
        }

        p = skip_ws(p, end);
        if (p == end) {
            return KS_EINPUT;
        }
        if (*p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (*p == '}') {
            p++;
            break;
        }
        return KS_EINPUT;
    }
    if (skip_ws(p, end) != end || (seen & REQUIRED) != REQUIRED) {
        return KS_EINPUT;
    }
    ev->type = KS_EV_INVENTORY;
    d->fast_hits++;
    return KS_OK;
}
