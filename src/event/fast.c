/*
 * fast.c - the specialised decoder for plain inventory lines, the hot path
 * of a replay (SPEC section 9: >= 1 GB/s on one core), such as
 *
 *   {"type":"inventory","ts":"2026-11-22T10:00:00.000Z","channel":"amazon",
 *    "sku":"SKU-0012345","qty":17,"batch":"amazon-3"}
 *
 * It accepts one object with the keys type, ts, channel, sku, qty and
 * optionally batch, location, id and source, in any order, with JSON
 * whitespace between tokens. Lines in exactly the shape above (keys in
 * that order, no whitespace, the 24-byte timestamp; an "id" may stand
 * between ts and channel) take a shorter road,
 * canonical(): a few word compares, one vector scan for the quotes, a
 * cached minute, no key dispatch; any line canonical() is not sure about
 * goes through the key-by-key parse, decode_any_order(), from the start.
 * The decoder gives up (KS_EINPUT: "not sure, ask the general decoder") on
 * everything else: another type, an unknown or repeated key, a string with
 * an escape, a control character or a non-ASCII byte, a number with a
 * sign, fraction, exponent or leading zero, or any structure it does not
 * expect. Within what it accepts, the decoded bytes of every string equal
 * its raw bytes, so slices point into the line and nothing is allocated.
 *
 * Its one obligation: whenever it accepts, the general decoder accepts too
 * and yields the same struct ks_event field by field. tests/unit/test_decode.c
 * and tests/fuzz/fuzz_decode.c check exactly that.
 */
#include "event_int.h"

#include <stddef.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

/* ---- canonical lines ---------------------------------------------------- */

/*
 * Nearly every line of a feed has one shape: the keys type, ts, channel,
 * sku, qty and optionally batch in that order, no whitespace, ts in the
 * 24-byte shape "YYYY-MM-DDTHH:MM:SS.mmmZ", plain strings, a plain qty:
 *
 *   {"type":"inventory","ts":"2026-11-22T10:00:00.000Z","channel":"amazon",
 *    "sku":"SKU-0012345","qty":17,"batch":"amazon-3"}
 *
 * A feed whose events carry an idempotency key writes it with the
 * envelope, right after ts: ..."ts":"...","id":"amazon-3-0012345","channel":...
 * That shape is canonical too (a non-empty plain id), and the strings from
 * the channel on are found as in the other.
 *
 * canonical() checks exactly that shape with word loads and compares, in
 * one pass without a key dispatch, and leaves every other line to
 * decode_any_order(), which decides on it afresh. The word arithmetic reads
 * bytes in little-endian order; elsewhere canonical() declines every line.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CANONICAL 1
#else
#define CANONICAL 0
#endif

/* The 8 bytes at p as a word (an unaligned load). */
static inline uint64_t ld8(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* The n bytes at p (1 <= n <= 8, p + n == end, end - 8 inside the line)
 * as a word, with zero bytes above them: the word that ends at end, shifted
 * down. Reads nothing outside the line. */
static inline uint64_t ld_tail(const char *p, const char *end)
{
    return ld8(end - 8) >> (8 * (8 - (unsigned)(end - p)));
}

/* The word at p, or what of it lies before end followed by zero bytes. */
static inline uint64_t ld_upto(const char *p, const char *end)
{
    return end - p >= 8 ? ld8(p) : ld_tail(p, end);
}

/*
 * plain_string_end() for a line of at least 16 bytes, 16 bytes at a time
 * where SSE2 is there (x86-64 always has it), 8 otherwise. The last
 * partial block is the line's last bytes, shifted, so no byte-by-byte loop
 * is needed; the bytes shifted in (zeros) count as control characters,
 * that is an unterminated string.
 */
#if defined(__SSE2__)
/* The bytes of p[0..16) that are a quote (*quotes), or any byte that ends a
 * plain string (the result): a quote, a backslash, or a byte that is < 0x20
 * as a signed char, which is < 0x20 or >= 0x80. */
static inline unsigned special16(const char *p, unsigned *quotes)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i q = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
    __m128i bad = _mm_or_si128(_mm_cmpgt_epi8(_mm_set1_epi8(0x20), v),
                               _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
    *quotes = (unsigned)_mm_movemask_epi8(q);
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(q, bad));
}

static inline const char *str_end(const char *p, const char *end)
{
    unsigned s, quotes;
    while (end - p >= 16) {
        s = special16(p, &quotes);
        if (s != 0) {
            unsigned i = (unsigned)__builtin_ctz(s);
            return quotes >> i & 1 ? p + i : NULL;
        }
        p += 16;
    }
    if (p >= end) {
        return NULL;
    }
    unsigned shift = 16 - (unsigned)(end - p);
    s = special16(end - 16, &quotes) >> shift;
    if (s == 0) {
        return NULL;
    }
    unsigned i = (unsigned)__builtin_ctz(s);
    return quotes >> shift >> i & 1 ? p + i : NULL;
}

/* Flags the quotes of the 64 bytes at p (bit i is p[i]), and sets *bad
 * when one of them may not stand in a plain string. */
static inline uint64_t quotes64(const char *p, int *bad)
{
    const __m128i quote = _mm_set1_epi8('"'), space = _mm_set1_epi8(0x20),
                  backslash = _mm_set1_epi8('\\');
    __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
    __m128i v2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
    __m128i v3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
    __m128i b = _mm_or_si128(_mm_or_si128(_mm_cmpgt_epi8(space, v0), _mm_cmpgt_epi8(space, v1)),
                             _mm_or_si128(_mm_cmpgt_epi8(space, v2), _mm_cmpgt_epi8(space, v3)));
    b = _mm_or_si128(
        b,
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v0, backslash), _mm_cmpeq_epi8(v1, backslash)),
                     _mm_or_si128(_mm_cmpeq_epi8(v2, backslash), _mm_cmpeq_epi8(v3, backslash))));
    *bad = _mm_movemask_epi8(b);
    return (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v0, quote)) |
           (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v1, quote)) << 16 |
           (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v2, quote)) << 32 |
           (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v3, quote)) << 48;
}

/* Flags the quotes of the 64 bytes at p (bit i is p[i]) and sets *stop to
 * the mask of those that end a plain string or a line: a backslash, or a
 * byte < 0x20 (a newline among them) or >= 0x80. */
static inline uint64_t quotes_stops64(const char *p, uint64_t *stop)
{
    const __m128i quote = _mm_set1_epi8('"'), space = _mm_set1_epi8(0x20),
                  backslash = _mm_set1_epi8('\\');
    uint64_t q = 0, s = 0;
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
        __m128i b = _mm_or_si128(_mm_cmpgt_epi8(space, v), _mm_cmpeq_epi8(v, backslash));
        q |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) << (16 * i);
        s |= (uint64_t)(unsigned)_mm_movemask_epi8(b) << (16 * i);
    }
    *stop = s;
    return q;
}
#else
/* Flags the bytes of w that are a quote, a backslash, < 0x20 or >= 0x80;
 * as in plain_string_end, only the lowest flag is exact. */
static inline uint64_t special_bytes(uint64_t w)
{
    uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
    return (((w - ONES * 0x20) & ~w) | w | ((q - ONES) & ~q) | ((b - ONES) & ~b)) & HIGHS;
}

static inline const char *str_end(const char *p, const char *end)
{
    for (;;) {
        if (p >= end) {
            return NULL;
        }
        uint64_t s = special_bytes(ld_upto(p, end));
        if (s != 0) {
            p += (unsigned)__builtin_ctzll(s) >> 3;
            return p < end && *p == '"' ? p : NULL;
        }
        p += 8;
    }
}
#endif

/*
 * Fills the minute cache from the timestamp at v, whose 24 bytes lie in the
 * line: "YYYY-MM-DDTHH:MM:" must be a valid date (the date cache), 'T', an
 * hour 00..23, ':', a minute 00..59, ':', as fast_time checks them.
 * Returns 0, or -1 (cache untouched) when the minute part is not that.
 */
__attribute__((noinline)) static int minute_fill(struct ks_decoder *d, const char *v)
{
    if (v[10] != 'T' || v[13] != ':' || v[16] != ':') {
        return -1;
    }
    unsigned h = two(v, 11), mi = two(v, 14);
    if (h > 23 || mi > 59) {
        return -1;
    }
    ks_time day = date_ms(d, v);
    if (day == KS_TIME_NONE) {
        return -1;
    }
    d->minute_key[0] = ld8(v);
    d->minute_key[1] = ld8(v + 8);
    d->minute_key[2] = ld8(v + 9);
    d->minute_ms = day + (ks_time)(h * 60 + mi) * KS_MIN;
    d->minute_ok = 1;
    return 0;
}

/* B(x) repeats the byte x in every byte of a word. */
#define B(x) (ONES * (x))

/*
 * Flags the bytes of x that are >= 10, where x is a word XORed with
 * B('0'), so that the digits '0'..'9' became 0..9 and every other byte is
 * >= 10. Only the lowest flag is exact: a byte >= 0x8a carries into the
 * byte above, but it is flagged itself.
 */
static inline uint64_t over9(uint64_t x)
{
    return ((x + B(0x76)) | x) & HIGHS;
}

/* Bytes 17..24 of a canonical timestamp with its closing quote,
 * "SS.mmmZ\"", XORed with TS_TAIL: the punctuation bytes (2, 6, 7) must
 * be 0, the digit bytes (0, 1, 3, 4, 5) 0..9 and are the digits' values. */
#define TS_TAIL ld8("00.000Z\"")
#define TS_DIGITS 0x0000ffffff00ffffULL
#define TS_PUNCT 0xffff000000ff0000ULL

/* The keys of a canonical line with the bytes around them. */
static const char LIT_HEAD[] = "{\"type\":\"inventory\",\"ts\":\""; /* 26 */
static const char LIT_CHANNEL[] = "\",\"channel\":\"";              /* 13 */
static const char LIT_ID[] = "\",\"id\":\"";                         /* 8 */
static const char LIT_SKU[] = "\",\"sku\":\"";                      /* 9 */
static const char LIT_QTY[] = "\",\"qty\":";                        /* 8 */
static const char LIT_BATCH[] = ",\"batch\":\"";                    /* 10 */

/* The shortest canonical line: head, 24-byte ts, channel and sku of one
 * byte, a one-digit qty, '}'. */
#define CANON_MIN (26 + 24 + 13 + 1 + 9 + 1 + 8 + 1 + 1)

/*
 * The event a canonical line yields, written in full: the fields before
 * status one by one, everything from status on zeroed with 16-byte stores
 * and the two absent timestamps set. The assertions keep the list of
 * fields before status complete: each starts where the one before ends.
 */
#define AFTER(a, b)                                                                                \
    (offsetof(struct ks_event, b) ==                                                               \
     offsetof(struct ks_event, a) + sizeof(((struct ks_event *)0)->a))
_Static_assert(offsetof(struct ks_event, type) == 0 && AFTER(type, same_prev) &&
                   offsetof(struct ks_event, ts) == 8 &&
                   AFTER(ts, id) && AFTER(id, source) && AFTER(source, channel) &&
                   AFTER(channel, sku) && AFTER(sku, batch) && AFTER(batch, location) &&
                   AFTER(location, qty) && AFTER(qty, status) &&
                   (sizeof(struct ks_event) - offsetof(struct ks_event, status)) % 16 == 0,
               "canonical_event() no longer writes every field of struct ks_event");

#if defined(__SSE2__)
/* The bytes of the 16 at a and at b that differ (bit i: a[i] != b[i]). */
static __attribute__((always_inline)) inline unsigned differ16(const char *a, const char *b)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)a);
    __m128i y = _mm_loadu_si128((const __m128i *)(const void *)b);
    return ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, y)) & 0xffffu;
}
#endif

typedef uint64_t zero16 __attribute__((vector_size(16)));

static inline void canonical_event(struct ks_event *ev, ks_time ts, struct ks_str id,
                                   struct ks_str channel, struct ks_str sku, uint64_t qty,
                                   struct ks_str batch, uint32_t same_prev, int head_only)
{
    const zero16 z = {0, 0};
    if (!head_only) {
        char *tail = (char *)ev + offsetof(struct ks_event, status);
#pragma GCC unroll 32
        for (size_t i = 0; i < sizeof(*ev) - offsetof(struct ks_event, status); i += 16) {
            memcpy(tail + i, &z, 16);
        }
        ev->promised_ship = KS_TIME_NONE;
        ev->due = KS_TIME_NONE;
    }
    memcpy(ev, &z, 8); /* type and same_prev */
    ev->type = KS_EV_INVENTORY;
    ev->same_prev = same_prev;
    ev->ts = ts;
    ev->id = id;
    ev->source = (struct ks_str){0};
    ev->channel = channel;
    ev->sku = sku;
    ev->batch = batch;
    ev->location = (struct ks_str){0};
    ev->qty = (int64_t)qty;
}

/*
 * How canonical_shape() finds the quote that closes a string starting at
 * p: with window set, in the quote mask of the line's last 64 bytes (bit i
 * is base[i], base = end - 64), made once for the whole line, which must
 * then be at most CANON_WINDOW_MAX bytes long, and whose bytes from
 * CANON_STRINGS on hold no byte a plain string may not; otherwise by
 * scanning from p.
 */
#define CANON_STRINGS (26 + 24 + 13) /* where the channel starts */
#define CANON_WINDOW_MAX (CANON_STRINGS + 64)

static inline const char *close_quote(int window, const char *base, uint64_t quotes, const char *p,
                                      const char *end)
{
#if defined(__SSE2__)
    if (window) {
        /* p - base < 64 but at the line's end (a string opened by its last
         * byte): no quote can close it there */
        if (p >= end) {
            return NULL;
        }
        uint64_t m = quotes >> (p - base);
        return m != 0 ? p + __builtin_ctzll(m) : NULL;
    }
#endif
    (void)window, (void)base, (void)quotes;
    return str_end(p, end);
}

/*
 * ","id":"ID","channel":" at p, right after a canonical timestamp, with a
 * non-empty plain ID, all before limit (the line is at least 16 bytes
 * long before p). Returns 0 with *id and *channel (its first byte) set, or
 * -1.
 */
static inline int canonical_id(const char *p, const char *limit, struct ks_str *id,
                               const char **channel)
{
    if (limit - p < 8 + 1 + 13 || ld8(p) != ld8(LIT_ID)) {
        return -1;
    }
    const char *s = p + 8, *q = str_end(s, limit);
    if (!q || q == s || limit - q < 13 ||
        ((ld8(q) ^ ld8(LIT_CHANNEL)) | (ld8(q + 5) ^ ld8(LIT_CHANNEL + 5))) != 0) {
        return -1;
    }
    *id = (struct ks_str){s, (size_t)(q - s)};
    *channel = q + 13;
    return 0;
}

/*
 * The part of a canonical line before the channel: the head, the timestamp
 * (its minute through the cache), an id if there is one (canonical_id) and
 * ","channel":". line has at least CANON_STRINGS bytes, and limit is where
 * the readable bytes end. Returns 0 with *ts, *id (absent: NULL) and
 * *channel (line + CANON_STRINGS without an id) set, or -1. A line that
 * passes holds no newline in these bytes: each is a literal, a digit,
 * timestamp punctuation or a byte of a plain string.
 */
__attribute__((always_inline)) static inline int canonical_prefix(struct ks_decoder *d,
                                                                  const char *line,
                                                                  const char *limit, ks_time *ts,
                                                                  struct ks_str *id,
                                                                  const char **channel)
{
    /* {"type":"inventory","ts":" */
    if (((ld8(line) ^ ld8(LIT_HEAD)) | (ld8(line + 8) ^ ld8(LIT_HEAD + 8)) |
         (ld8(line + 16) ^ ld8(LIT_HEAD + 16)) | (ld8(line + 18) ^ ld8(LIT_HEAD + 18))) != 0) {
        return -1;
    }

    /* the timestamp: its minute through the cache, then SS.mmmZ" */
    const char *v = line + 26;
    if (!(d->minute_ok && ((ld8(v) ^ d->minute_key[0]) | (ld8(v + 8) ^ d->minute_key[1]) |
                           (ld8(v + 9) ^ d->minute_key[2])) == 0) &&
        minute_fill(d, v) != 0) {
        return -1;
    }
    uint64_t t = ld8(v + 17) ^ TS_TAIL;
    if ((t & TS_PUNCT) != 0 || (over9(t) & TS_DIGITS) != 0) {
        return -1;
    }
    unsigned se = (unsigned)(t & 0xf) * 10 + (unsigned)(t >> 8 & 0xf);
    unsigned ms = (unsigned)(t >> 24 & 0xf) * 100 + (unsigned)(t >> 32 & 0xf) * 10 +
                  (unsigned)(t >> 40 & 0xf);
    if (se > 60) {
        return -1;
    }
    if (se == 60) {
        se = 59; /* as ks_time_parse: a leap second stays inside its minute */
    }
    *ts = d->minute_ms + (ks_time)se * KS_SEC + ms;

    /* ","channel":" (its first quote closes the timestamp), or an id first */
    const char *p = v + 24;
    if (((ld8(p) ^ ld8(LIT_CHANNEL)) | (ld8(p + 5) ^ ld8(LIT_CHANNEL + 5))) != 0) {
        return canonical_id(p, limit, id, channel);
    }
    *id = (struct ks_str){0};
    *channel = line + CANON_STRINGS;
    return 0;
}

/*
 * The rest of a canonical line, from its channel to end, whose prefix
 * canonical_prefix() accepted with ts and id. With window set,
 * quotes flags the quotes of the 64 bytes at base, which hold every quote
 * from the channel to end, and no byte from the channel to end is one a
 * plain string may not hold (the callers check both). Returns 1 with *ev
 * written (its head only with head_only), or 0.
 */
__attribute__((always_inline)) static inline int canonical_rest(const char *line,
                                                                const char *channel,
                                                                const char *end, ks_time ts,
                                                                struct ks_str id,
                                                                struct ks_event *ev,
                                                                const int window,
                                                                const char *base,
                                                                uint64_t quotes,
                                                                const int head_only,
                                                                struct ks_decoder *next,
                                                                struct ks_line *lo)
{
    const char *q = close_quote(window, base, quotes, channel, end);
    /* non-empty, with room for ","sku":"X","qty":0} after it */
    if (!q || q == channel || end - q < 9 + 1 + 8 + 1 + 1) {
        return 0;
    }
    struct ks_str channel_s = {channel, (size_t)(q - channel)};

    /* ","sku":" and the sku */
    if (ld8(q) != ld8(LIT_SKU) || q[8] != '"') {
        return 0;
    }
    const char *sku = q + 9;
    q = close_quote(window, base, quotes, sku, end);
    /* non-empty, followed by ","qty": and room for 0} */
    if (!q || q == sku || end - q < 8 + 1 + 1 || ld8(q) != ld8(LIT_QTY)) {
        return 0;
    }
    struct ks_str sku_s = {sku, (size_t)(q - sku)};

    /* qty: 1 to 7 digits, no leading zero (more digits: decode_any_order,
     * so 9999999 < KS_QTY_MAX needs no range check). Where a quote follows
     * (that of "batch"), the digits end at the byte before it, so their
     * count comes from the quote mask and not from the digits themselves;
     * otherwise at the first byte that is not a digit. */
    const char *p = q + 8;
    uint64_t x = ld_upto(p, end) ^ B('0');
    unsigned n;
    if (window && (quotes >> (p - base)) != 0) {
        n = (unsigned)__builtin_ctzll(quotes >> (p - base)) - 1;
        if (n - 1 > 6 || (over9(x) & ((1ULL << 8 * n) - 1)) != 0) {
            return 0; /* none, more than 7 or not all digits */
        }
    } else {
        uint64_t nd = over9(x);
        if (nd == 0 || (nd & 0x80) != 0) {
            return 0; /* 8 digits or more, or none */
        }
        n = (unsigned)__builtin_ctzll(nd) >> 3;
    }
    if ((x & 0xff) == 0 && n > 1) {
        return 0; /* a leading zero: invalid JSON */
    }
    /* the digits to the top of the word, zero bytes below them, summed
     * pairwise */
    x <<= 64 - 8 * n;
    x = x * 10 + (x >> 8);
    x = ((x & 0x000000ff000000ffULL) * (100 + (1000000ULL << 32)) +
         (x >> 16 & 0x000000ff000000ffULL) * (1 + (10000ULL << 32))) >>
        32;
    p += n;

    /* } or ,"batch":"..."} */
    struct ks_str batch_s = {0};
    if (p < end && *p == '}') {
        p++;
    } else if (end - p >= 10 + 1 + 1 && ld8(p) == ld8(LIT_BATCH) && p[8] == ':' && p[9] == '"') {
        const char *b = p + 10;
        q = close_quote(window, base, quotes, b, end);
        if (!q || end - q < 2 || q[1] != '}') {
            return 0;
        }
        if (q > b) {
            batch_s = (struct ks_str){b, (size_t)(q - b)}; /* empty stays absent */
        }
        p = q + 2;
    } else {
        return 0;
    }
    if (p != end && skip_ws(p, end) != end) {
        return 0;
    }
    uint32_t same = 0;
#if defined(__SSE2__)
    if (next) {
        /*
         * ks_event_decode_fast_next: compared with the line before, also
         * canonical. Its channel is the same when the 16 bytes at the
         * channel of both lines agree up to this channel's closing quote
         * (the other's holds no quote before its own), its batch when this
         * line ends with '"}' right after the batch and the two lines' last
         * bytes agree from the quote that opens it (likewise). Both
         * regions lie inside each line.
         */
        if (line == next->prev_next) {
            unsigned d = differ16(channel_s.p, next->prev_channel);
            same = (channel_s.len < 16 && (d & ((2u << channel_s.len) - 1)) == 0);
            if (batch_s.p && batch_s.len <= 13 && batch_s.p + batch_s.len + 2 == end) {
                d = differ16(end - 16, next->prev_next - 1 - 16);
                same |= (d >> (16 - (batch_s.len + 3)) == 0) << 1;
            }
            _Static_assert(KS_SAME_CHANNEL == 1 && KS_SAME_BATCH == 2, "same_prev bits");
        }
        next->prev_channel = channel;
        next->prev_next = end + 1;
    }
#else
    (void)next; /* without SSE2, canonical_next declines every line */
#endif
    if (lo) {
        /* Straight into the line (ks_line_decode_next): the same fields
         * ks_line_pack would take from the event. The line ends within 64
         * bytes of its channel, which canonical_next() keeps below
         * UINT16_MAX - 64, so every offset fits. */
        lo->ts = ts;
        lo->qty = (int64_t)x;
        lo->same_prev = same;
        lo->channel_off = (uint16_t)(channel_s.p - line);
        lo->channel_len = (uint16_t)channel_s.len;
        lo->sku_off = (uint16_t)(sku_s.p - line);
        lo->sku_len = (uint16_t)sku_s.len;
        lo->batch_off = batch_s.p ? (uint16_t)(batch_s.p - line) : 0;
        lo->batch_len = (uint16_t)batch_s.len;
        lo->id_off = id.p ? (uint16_t)(id.p - line) : 0;
        lo->id_len = (uint16_t)id.len;
        lo->id_hash = id.p ? ks_event_id_hash(id) : 0;
        lo->packed = 1;
    } else {
        canonical_event(ev, ts, id, channel_s, sku_s, x, batch_s, same, head_only);
    }
    return 1;
}

/*
 * Returns 1 with *ev complete when line[0..len) is a canonical line that
 * decode_any_order would accept, with the event it would yield; returns 0,
 * *ev untouched, for every other line. The date and minute caches make the
 * timestamp a compare of three words in the common case. window (a
 * constant at each call) chooses how strings are scanned: see close_quote,
 * here with the quote mask of the line's last 64 bytes. head_only (also a
 * constant) leaves the tail of *ev alone, for ks_event_decode_fast_head.
 */
__attribute__((always_inline)) static inline int canonical_shape(struct ks_decoder *d,
                                                                 const char *line, size_t len,
                                                                 struct ks_event *ev,
                                                                 const int window,
                                                                 const int head_only)
{
    if (!CANONICAL || len < CANON_MIN) {
        return 0;
    }
    ks_time ts;
    struct ks_str id;
    const char *channel, *end = line + len, *base = end - 64;
    if (canonical_prefix(d, line, end, &ts, &id, &channel) != 0) {
        return 0;
    }
    uint64_t quotes = 0;
#if defined(__SSE2__)
    if (window) {
        /* The bytes before the channel are checked, and past it a
         * canonical line holds only the strings, their keys and
         * punctuation, and the qty's digits: a byte that no plain string
         * may hold is in none of them. */
        int bad;
        quotes = quotes64(base, &bad);
        if (bad) {
            return 0;
        }
    }
#endif
    return canonical_rest(line, channel, end, ts, id, ev, window, base, quotes, head_only, NULL,
                          NULL);
}

static inline int canonical(struct ks_decoder *d, const char *line, size_t len, struct ks_event *ev,
                            int head_only)
{
#if defined(__SSE2__)
    if (len <= CANON_WINDOW_MAX) {
        return canonical_shape(d, line, len, ev, 1, head_only);
    }
#endif
    return canonical_shape(d, line, len, ev, 0, head_only);
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

/*
 * The order-independent parse: any key order, whitespace between tokens,
 * null for an optional key, id, source and location. len is already
 * trimmed and within KS_LINE_MAX.
 */
static enum ks_rc decode_any_order(struct ks_decoder *d, const char *line, size_t len,
                                   struct ks_event *ev)
{
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
    return KS_OK;
}

/* Whether line can be a fast one at all; trims its '\r' off *len. */
static inline int decodable(const char *line, size_t *len)
{
    if (!line) {
        return 0;
    }
    *len = ks_line_trim(line, *len);
    return *len <= KS_LINE_MAX;
}

enum ks_rc ks_event_decode_fast(struct ks_decoder *d, const char *line, size_t len,
                                struct ks_event *ev)
{
    if (!decodable(line, &len)) {
        return KS_EINPUT;
    }
    if (canonical(d, line, len, ev, 0) || decode_any_order(d, line, len, ev) == KS_OK) {
        d->fast_hits++;
        return KS_OK;
    }
    return KS_EINPUT;
}

/* The rare shapes for ks_event_decode_fast_head: in full aside, then the
 * head. Out of line, so that the common path keeps a small frame. */
static __attribute__((noinline)) enum ks_rc head_any_order(struct ks_decoder *d, const char *line,
                                                           size_t len, struct ks_event *ev)
{
    struct ks_event full;
    if (decode_any_order(d, line, len, &full) == KS_OK) {
        memcpy(ev, &full, KS_EVENT_HEAD);
        d->fast_hits++;
        return KS_OK;
    }
    return KS_EINPUT;
}

/*
 * A canonical line at line, its end found on the way: the line is within
 * 64 bytes of its channel, and the buffer's bytes up to bufend, at least
 * CANON_WINDOW_MAX of them, are all readable. The prefix holds no newline
 * when canonical_prefix() accepts it, so the line ends at the first newline
 * in the 64 bytes from the channel, and that must be the first byte there
 * that no plain string may hold. Returns 1 with the head of *ev written and
 * *nl at the newline, or 0 (the caller then finds the line's end itself and
 * tries again).
 */
static __attribute__((always_inline)) inline int canonical_next(struct ks_decoder *d,
                                                                const char *line,
                                                                const char *bufend,
                                                                struct ks_event *ev,
                                                                struct ks_line *lo,
                                                                const char **nl)
{
#if CANONICAL && defined(__SSE2__)
    ks_time ts;
    struct ks_str id;
    const char *base;
    if (canonical_prefix(d, line, bufend, &ts, &id, &base) != 0) {
        return 0;
    }
    /* Past an id, the 64 bytes from the channel must still be readable, and
     * the offsets of the line's strings fit a ks_line. */
    if (id.p && (bufend - base < 64 || base - line > UINT16_MAX - 64)) {
        return 0;
    }
    uint64_t stop, quotes = quotes_stops64(base, &stop);
    if (stop == 0) {
        return 0; /* the line ends more than 64 bytes after its channel */
    }
    const char *end = base + __builtin_ctzll(stop);
    if (*end != '\n' || end - line < (ptrdiff_t)CANON_MIN) {
        return 0;
    }
    quotes &= (stop & -stop) - 1; /* the quotes of this line only */
    _Static_assert(CANON_WINDOW_MAX <= UINT16_MAX, "a one-pass line's offsets fit a ks_line");
    if (!canonical_rest(line, base, end, ts, id, ev, 1, base, quotes, 1, d, lo)) {
        return 0;
    }
    *nl = end;
    return 1;
#else
    (void)d, (void)line, (void)bufend, (void)ev, (void)lo, (void)nl;
    return 0;
#endif
}

enum ks_rc ks_event_decode_fast_next(struct ks_decoder *d, const char *p, const char *end,
                                     struct ks_event *ev, const char **nl)
{
    if (end - p >= (ptrdiff_t)CANON_WINDOW_MAX && canonical_next(d, p, end, ev, NULL, nl)) {
        d->fast_hits++;
        return KS_OK;
    }
    d->prev_next = NULL;
    *nl = memchr(p, '\n', (size_t)(end - p));
    return ks_event_decode_fast_head(d, p, (size_t)((*nl ? *nl : end) - p), ev);
}

enum ks_rc ks_line_decode_next(struct ks_decoder *d, const char *p, const char *end,
                               struct ks_line *l, struct ks_event *scratch, const char **nl)
{
    l->p = p;
    if (end - p >= (ptrdiff_t)CANON_WINDOW_MAX && canonical_next(d, p, end, NULL, l, nl)) {
        d->fast_hits++;
        l->len = (size_t)(*nl - p);
        return KS_OK;
    }
    d->prev_next = NULL;
    *nl = memchr(p, '\n', (size_t)(end - p));
    l->len = (size_t)((*nl ? *nl : end) - p);
    enum ks_rc rc = ks_event_decode_fast_head(d, p, l->len, scratch);
    if (rc == KS_OK) {
        ks_line_pack(l, scratch); /* packed 0 when it does not fit */
    } else {
        l->packed = 0;
    }
    return rc;
}

void ks_decoder_new_buffer(struct ks_decoder *d)
{
    d->prev_next = NULL;
}

enum ks_rc ks_event_decode_fast_head(struct ks_decoder *d, const char *line, size_t len,
                                     struct ks_event *ev)
{
    if (!decodable(line, &len)) {
        return KS_EINPUT;
    }
    if (canonical(d, line, len, ev, 1)) {
        d->fast_hits++;
        return KS_OK;
    }
    return head_any_order(d, line, len, ev);
}
