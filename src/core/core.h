/*
 * core.h - the foundation every other kintsugi module builds on.
 *
 * One allocator entry point, the error type that carries a message beside the
 * return code, borrowed string slices, RFC 3339 time in int64 milliseconds,
 * string interning, a growable byte buffer with a JSON writer on top, and the
 * logfmt logger. Nothing here does I/O except the logger (stderr).
 */
#ifndef KS_CORE_H
#define KS_CORE_H

/* The version kintsugi reports (--version, /metrics build info). */
#define KS_VERSION "0.1.0"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- return codes and errors ------------------------------------------- */

enum ks_rc {
    KS_OK = 0,
    KS_EINPUT = 1,  /* bad input: the message says where and why */
    KS_ENOMEM = 2,  /* allocation failed */
    KS_EIO = 3,     /* storage or file failure */
    KS_EUSAGE = 4,  /* bad command line or configuration */
    KS_ENOTFOUND = 5,
    KS_ESTATE = 6   /* refused: the object is not in a state that allows it */
};

/* The layer that knows the reason fills msg; callers add only their context. */
struct ks_err {
    enum ks_rc rc;
    char msg[512];
};

/* Sets err (which may be NULL) and returns rc. */
enum ks_rc ks_err_set(struct ks_err *err, enum ks_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Copies in to out (cap bytes) on one line: control characters become
 * \xNN, and a character cut by the end of out is dropped. For messages that
 * quote what people wrote (a key with a tab, a name with a newline). */
void ks_one_line(const char *in, char *out, size_t cap);
/* The same over err->msg, in place. */
void ks_err_one_line(struct ks_err *err);
/* Prepends context ("file:17: ") to an already set message. */
void ks_err_prefix(struct ks_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Assertions that stay on in release builds: a failed one is a bug. */
#define KS_ASSERT(c)                                                                               \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            ks_assert_fail(__FILE__, __LINE__, #c);                                                \
        }                                                                                          \
    } while (0)
void ks_assert_fail(const char *file, int line, const char *expr) __attribute__((noreturn));
/* 1 in the sanitizer build (see the Makefile): fast paths are checked
 * against the plain computation they replace. */
#ifndef KS_SLOW_CHECKS
#define KS_SLOW_CHECKS 0
#endif

/* ---- memory ------------------------------------------------------------ */

/* The one allocator. ks_malloc/ks_realloc abort on exhaustion with a clear
 * message: kintsugi cannot make progress without memory, and a half-applied
 * event is worse than a stop. ks_free takes NULL. */
void *ks_malloc(size_t n);
void *ks_calloc(size_t n, size_t size);
void *ks_realloc(void *p, size_t n);
void ks_free(void *p);
char *ks_strdup(const char *s); /* NULL for NULL */
char *ks_strndup(const char *s, size_t n);
/* Number of live allocations made through ks_malloc (for leak tests). */
long ks_alloc_live(void);

/* Grow an array (p, cap) so that it holds at least need elements. */
#define KS_GROW(p, cap, need)                                                                      \
    do {                                                                                           \
        if ((size_t)(need) > (size_t)(cap)) {                                                      \
            size_t ks_nc_ = (cap) ? (size_t)(cap) * 2 : 8;                                         \
            while (ks_nc_ < (size_t)(need)) {                                                      \
                ks_nc_ *= 2;                                                                       \
            }                                                                                      \
            (p) = ks_realloc((p), ks_nc_ * sizeof(*(p)));                                          \
            (cap) = ks_nc_;                                                                        \
        }                                                                                          \
    } while (0)

/* Grows p from old to new bytes (new > old; p NULL when old is 0), the added
 * bytes zero. Unlike realloc + memset, the zero tail is not written and a
 * large block is not copied: from 1 MiB the array is an anonymous mapping
 * grown in place, whose fresh pages cost no memory until they are used (10 M
 * pairs grow without a second copy at the peak). Free with ks_free_zeroed
 * and the array's size. */
void *ks_grow_zeroed(void *p, size_t old, size_t new_size);
void ks_free_zeroed(void *p, size_t size);

/* ---- strings ----------------------------------------------------------- */

/* A borrowed slice; never owns its bytes. */
struct ks_str {
    const char *p;
    size_t len;
};
#define KS_STR(lit) ((struct ks_str){(lit), sizeof(lit) - 1})
int ks_str_eq(struct ks_str a, const char *z);
/* Whether a[0..n) == b[0..n): for the short keys of the hot path (SKUs,
 * channels, batches), 8 bytes at a time, inline, no library call. */
static inline int ks_mem_eq(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    uint64_t u, v;
    uint32_t p, q;
    if (n >= 8) {
        /* whole words, then the last 8 bytes (overlapping the words before) */
        for (size_t i = 0; i + 8 < n; i += 8) {
            __builtin_memcpy(&u, x + i, 8);
            __builtin_memcpy(&v, y + i, 8);
            if (u != v) {
                return 0;
            }
        }
        __builtin_memcpy(&u, x + n - 8, 8);
        __builtin_memcpy(&v, y + n - 8, 8);
        return u == v;
    }
    if (n >= 4) {
        __builtin_memcpy(&p, x, 4);
        __builtin_memcpy(&q, y, 4);
        if (p != q) {
            return 0;
        }
        __builtin_memcpy(&p, x + n - 4, 4);
        __builtin_memcpy(&q, y + n - 4, 4);
        return p == q;
    }
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i]) {
            return 0;
        }
    }
    return 1;
}
uint64_t ks_hash(const void *p, size_t n);

/* Growable byte buffer; always NUL-terminated. */
struct ks_buf {
    char *p;
    size_t len, cap;
};
void ks_buf_put(struct ks_buf *b, const void *p, size_t n);
void ks_buf_puts(struct ks_buf *b, const char *s);
void ks_buf_putc(struct ks_buf *b, char c);
void ks_buf_printf(struct ks_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ks_buf_reset(struct ks_buf *b);
/* Reads an amount of money as a person writes it: decimal digits, then
 * optionally '.' and one or two digits ("30", "49.9", "49.99"); no sign,
 * exponent, hex, inf, nan, space or thousands separator. 0 with *out set
 * (as large as the digits say: the caller checks its range), or -1 and
 * *out untouched. The one parser of amounts typed on the command line
 * (remedy --amount, cost set). */
int ks_amount_parse(const char *s, double *out);
/* Whether amount is a whole number of cents: written with two decimals it
 * reads back as the very same double (49.99 is, 49.999 and 0.001 are not).
 * What an API's JSON number must be to mean what ks_amount_parse reads. */
int ks_amount_cents(double amount);
/* Formats n with thousands separators ("3,020") into out; returns out. */
const char *ks_fmt_count(uint64_t n, char out[32]);
/* A percentage that is above limit, as "5.6": one decimal, or as many more
 * (up to four) as it takes not to read as limit or below it (19 of 377
 * rejected over a 5 % limit is "5.04", not "5.0"); returns out. */
const char *ks_fmt_pct_above(double pct, double limit, char out[32]);
/* Writes v in decimal at p (no NUL) and returns the end: for writers of
 * large outputs (the simulator, the benchmark's generator). */
static inline char *ks_put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) {
        *p++ = tmp[--n];
    }
    return p;
}
/* The low `width` decimal digits of v, zero-padded, at p; returns the end. */
static inline char *ks_put_digits(char *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}
void ks_buf_fini(struct ks_buf *b);
/* Room for n more bytes and the NUL after them (inline: the encoders of the
 * checkpoint and of the feed's blocks write a few bytes at a time). */
static inline void ks_buf_room(struct ks_buf *b, size_t n)
{
    if (__builtin_expect(b->len + n + 1 > b->cap, 0)) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        while (nc < b->len + n + 1) {
            nc *= 2;
        }
        b->p = ks_realloc(b->p, nc);
        b->cap = nc;
    }
}

/* ---- varints: unsigned LEB128, zigzag for signed values ------------------ */

static inline void ks_varint_put(struct ks_buf *b, uint64_t v)
{
    ks_buf_room(b, 10);
    unsigned char *o = (unsigned char *)b->p + b->len;
    while (v >= 0x80) {
        *o++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *o++ = (unsigned char)v;
    *o = 0;
    b->len = (size_t)((char *)o - b->p);
}
/* Reads one varint at *p, moving *p past it. -1 when it runs past end or
 * over 64 bits (a tenth byte above 1). */
static inline int ks_varint_get(const unsigned char **p, const unsigned char *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) {
            return -1;
        }
        unsigned char c = *(*p)++;
        if (shift == 63 && c > 1) {
            return -1;
        }
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}
static inline uint64_t ks_zig(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t ks_unzig(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* ---- interning --------------------------------------------------------- */

/* Maps strings to dense ids 0..n-1 and back. Strings are copied once. */
struct ks_intern {
    uint32_t *slots; /* id+1, 0 = empty */
    uint32_t nslots; /* power of two */
    uint32_t n, cap;
    uint32_t *off;   /* offset of string id in pool */
    uint32_t *len;
    char *pool;
    size_t pool_len, pool_cap;
};
void ks_intern_init(struct ks_intern *t);
void ks_intern_fini(struct ks_intern *t);
/* Returns the id of s, adding it if absent. */
uint32_t ks_intern_add(struct ks_intern *t, const char *s, size_t n);
/* Adds count strings s[i] of n[i] bytes, in order, each expected to be new
 * (a dictionary loaded whole): returns how many were added, stopping before
 * the first that was already there. ks_intern_add one by one, faster. */
size_t ks_intern_add_new(struct ks_intern *t, const char *const *s, const size_t *n,
                         size_t count);
/* Returns the id of s or UINT32_MAX. */
uint32_t ks_intern_find(const struct ks_intern *t, const char *s, size_t n);
/* Makes room for n strings of bytes bytes in all (without their NULs), so
 * that adding them grows nothing: for loading a saved table. */
void ks_intern_reserve(struct ks_intern *t, uint32_t n, size_t bytes);
static inline const char *ks_intern_str(const struct ks_intern *t, uint32_t id)
{
    KS_ASSERT(id < t->n);
    return t->pool + t->off[id];
}
static inline size_t ks_intern_len(const struct ks_intern *t, uint32_t id)
{
    KS_ASSERT(id < t->n);
    return t->len[id];
}
/* Bytes of memory held, for the state-size figures. */
size_t ks_intern_bytes(const struct ks_intern *t);

/* ---- u64 -> u64 hash map ------------------------------------------------- */

/* Open addressing with linear probing; key 0 is reserved (callers add 1 or
 * hash into 1..UINT64_MAX). Grows at 50 % load, so cap is the least power
 * of two from 64 that holds n at 50 %. */
struct ks_map64 {
    uint64_t *keys;
    uint64_t *vals;
    size_t cap, n; /* cap is a power of two or 0 */
};
/* Returns a pointer to the value of key, or NULL. */
uint64_t *ks_map64_get(const struct ks_map64 *m, uint64_t key);
/* Returns a pointer to the value of key, inserting it with value 0 (and
 * setting *added) if absent. The pointer is valid until the next insert. */
uint64_t *ks_map64_put(struct ks_map64 *m, uint64_t key, int *added);
void ks_map64_fini(struct ks_map64 *m);
/* Loading a map saved in the order of its slots (keys[0], keys[1], ... as
 * they are, the zeros left out), so that each key comes back to the slot it
 * had: putting them in that order would not do it (into a map that grows
 * as they come, or where a run of keys wraps from the last slot to the
 * first), and the map saved again would list them in another order.
 * ks_map64_load_begin sizes an empty map for n keys (the capacity that
 * putting n keys reaches); ks_map64_load_add takes the keys and values in
 * their saved order, n at most; ks_map64_load_end puts each in its slot,
 * or, when they are not in the order of a map of this capacity (one that
 * grew a step more), puts them one by one. It returns 0, or -1 with the map
 * emptied when a key is 0 or comes twice: not a map that was saved so. */
void ks_map64_load_begin(struct ks_map64 *m, size_t n);
void ks_map64_load_add(struct ks_map64 *m, uint64_t key, uint64_t val);
int ks_map64_load_end(struct ks_map64 *m);

/* ---- time -------------------------------------------------------------- */

/* Milliseconds since the Unix epoch, UTC. */
typedef int64_t ks_time;
#define KS_TIME_NONE INT64_MIN
#define KS_SEC 1000LL
#define KS_MIN (60LL * KS_SEC)
#define KS_HOUR (60LL * KS_MIN)
#define KS_DAY (24LL * KS_HOUR)

/* Parses an RFC 3339 timestamp (date, 'T' or ' ', time, optional fraction of
 * up to 9 digits truncated to milliseconds, 'Z' or +hh:mm). Returns 0 on
 * success, -1 with a reason in *why on failure. */
int ks_time_parse(const char *s, size_t n, ks_time *out, const char **why);
/* Writes "2026-11-22T10:00:00.000Z" (24 chars + NUL) into out[32]. */
void ks_time_fmt(ks_time t, char out[32]);
/* Parses a duration like "30m", "2h", "15s", "7d", "500ms" or a bare number
 * of seconds. Returns 0 or -1. */
int ks_duration_parse(const char *s, ks_time *out);
void ks_duration_fmt(ks_time d, char out[32]);
/* The wall clock, for live serving and for stamping people's actions. */
ks_time ks_time_now(void);
int64_t ks_days_from_civil(int64_t y, unsigned m, unsigned d);
/* The inverse: the calendar date of a day number (days since 1970-01-01). */
void ks_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* ---- JSON writer ------------------------------------------------------- */

/* A streaming writer: commas and nesting are handled for the caller. */
struct ks_json {
    struct ks_buf *out;
    int depth;
    unsigned char first[64]; /* per depth: no element written yet */
    int pretty;
    int after_key;
};
void ks_json_init(struct ks_json *j, struct ks_buf *out, int pretty);
void ks_json_obj_begin(struct ks_json *j);
void ks_json_obj_end(struct ks_json *j);
void ks_json_arr_begin(struct ks_json *j);
void ks_json_arr_end(struct ks_json *j);
void ks_json_key(struct ks_json *j, const char *k);
void ks_json_str(struct ks_json *j, const char *s);
void ks_json_strn(struct ks_json *j, const char *s, size_t n);
void ks_json_int(struct ks_json *j, int64_t v);
void ks_json_num(struct ks_json *j, double v);
/* A finite double in the shortest form that reads back as the same double
 * (%g with 15 to 17 digits: 0.1, 0.0005, 1234567.89, 5), written into out. */
const char *ks_fmt_shortest(double v, char out[40]);
/* sum + value, rounded to a millionth: money adds up without binary
 * fractions' drift (a strict threshold is crossed by the sum people see). */
double ks_money_add(double sum, double value);
void ks_json_bool(struct ks_json *j, int v);
void ks_json_null(struct ks_json *j);
void ks_json_time(struct ks_json *j, ks_time t); /* null for KS_TIME_NONE */
/* Writes pre-rendered JSON text as one value. */
void ks_json_raw(struct ks_json *j, const char *s, size_t n);
/* Escapes s as a JSON string (with quotes) into b: every control character
 * as \uXXXX (or \n, \t, \r), DEL and the C1 controls (U+0080-U+009F)
 * included, so that a document printed on a terminal never drives it;
 * invalid UTF-8 becomes U+FFFD. */
void ks_json_escape(struct ks_buf *b, const char *s, size_t n);

/* ---- UTF-8 ------------------------------------------------------------- */

/* Returns the offset of the first invalid byte, or (size_t)-1 if s is valid. */
size_t ks_utf8_invalid_at(const char *s, size_t n);
/* The offset of the first control character of s[0..n) - C0 (U+0000-U+001F),
 * DEL (U+007F) or C1 (U+0080-U+009F, C2 80..C2 9F in UTF-8) - or (size_t)-1
 * when it has none. For text shown on one line (a name, an order id). */
size_t ks_utf8_control_at(const char *s, size_t n);
/* A person's name as kintsugi records it (who did something, an owner): at
 * most KS_PERSON_MAX bytes of valid UTF-8, not blank, without a control
 * character (C0, DEL, C1), so that it shows on one line of every list and
 * page. NULL when s is one; else why not, after "a person's name ": "is
 * blank", "is at most 200 bytes (this one has 201)", "is not valid UTF-8
 * (byte 2)", "holds a control character (byte 2)" - a static text or one
 * written into buf (cap bytes; 64 are enough). */
#define KS_PERSON_MAX 200
/* The checks shared by one-line texts (a person's name, an order id): at
 * most max bytes, valid UTF-8, no control character (C0, DEL, C1). NULL, or
 * why not: "is at most 200 bytes (this one has 201)", "is not valid UTF-8
 * (byte 2)", or "HAS a control character (byte 2)" with the verb has
 * ("has", "holds") - written into buf (cap bytes; 64 are enough). */
const char *ks_line_invalid(const char *s, size_t len, size_t max, const char *has, char *buf,
                            size_t cap);
const char *ks_person_invalid(const char *s, char *buf, size_t cap);
/* The bytes of the white space that s[0..n) starts with: an ASCII blank
 * (space, tab, CR, LF, VT, FF) or a Unicode space or separator (U+00A0
 * no-break space, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F,
 * U+3000); 0 when it starts with none. */
size_t ks_utf8_space_len(const char *s, size_t n);
/* Whether s[0..n) is empty or white space only (ks_utf8_space_len): text a
 * person would see as blank. */
int ks_utf8_blank(const char *s, size_t n);
/* s[0..*n) without the white space at either end: the new start, its
 * length in *n. */
const char *ks_utf8_trim(const char *s, size_t *n);

/* ---- e-mail addresses (email.c) ------------------------------------------ */

/* Why s[0..n) is not one plain e-mail address that can go into an SMTP
 * command and a header as it is, or NULL when it is one: local@domain with
 * exactly one '@' and both parts non-empty, at most 254 bytes of valid
 * UTF-8, and no control character (a line break above all), white space or
 * any of < > , ; : " ( ) [ ] \ (which would end the address early, add
 * another, or quote or comment one). The reason ("a line break is not
 * allowed", "it has no '@'") is a static text or is written into buf (cap
 * bytes, 32 are enough); it reads after "must be an e-mail address
 * (name@domain): ". */
const char *ks_email_invalid(const char *s, size_t n, char *buf, size_t cap);

/* ---- logging ----------------------------------------------------------- */

enum ks_log_level { KS_LOG_DEBUG, KS_LOG_INFO, KS_LOG_WARN, KS_LOG_ERROR };
extern enum ks_log_level ks_log_min;
/* One logfmt line on stderr: level=warn mod=store msg="...". */
void ks_log(enum ks_log_level lvl, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
