/*
 * gen_inventory.c - writes the inventory stream of SPEC section 9 for the
 * replay benchmark: NDJSON lines like
 *
 *   {"type":"inventory","ts":"2026-11-22T10:00:00.000Z","channel":"amazon",
 *    "sku":"SKU-0012345","qty":17,"batch":"amazon-3"}
 *
 * (one line each). The stream is CYCLES rounds; in each round every channel
 * pushes one full update (every SKU once, batch "CHANNEL-ROUND") followed by
 * an ok `sync` line naming the batch, which closes the update. Timestamps
 * start at 2026-11-22T10:00:00.000Z and advance by 1 ms every
 * --lines-per-ms (1) lines. A channel syncs once per round, so a round must
 * last less than 30 minutes of event time (1.8 M lines at the default rate)
 * or sync_freshness rightly fires: raise --lines-per-ms for larger streams.
 *
 * Quantities drift the way a shop's stock does between pushes: most SKUs do
 * not move, a quarter sell a few units, a few are restocked, one in a hundred
 * is recounted. Two faults are injected so that the detectors have something
 * to find:
 *
 *   - zero spike: in round --zero-cycle (7) the second channel (ebay) pushes
 *     0 for 15 % of its SKUs; the next round it is back to the true values
 *     (the source recovered);
 *   - distribution shift: from round --shift-cycle (8) on, the third channel
 *     (shopify) pushes 10 x the true quantity for 25 % of its SKUs (a unit of
 *     measure change in the feed: packs became pieces), and keeps doing so.
 *
 * A fault whose round or channel does not exist is not injected; 0 disables
 * it. With --ids every line carries a unique idempotency key right after its
 * timestamp, "id":"CHANNEL-ROUND-SKU" (the sync lines "CHANNEL-ROUND-sync"),
 * to measure what duplicate detection costs against the same stream
 * without ids. The output is a function of the arguments alone (a fixed-seed PRNG),
 * so two runs with the same arguments write the same bytes.
 *
 * Usage: gen_inventory [--channels N] [--skus N] [--cycles N] [--seed N]
 *                      [--zero-cycle N] [--shift-cycle N] [--lines-per-ms N]
 *                      [--ids] [-o FILE]
 */
#include "../src/core/core.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const channel_names[] = {"amazon", "ebay", "shopify", "walmart",
                                            "etsy",   "otto", "zalando", "bol"};
#define MAX_CHANNELS (sizeof(channel_names) / sizeof(channel_names[0]))

/* 2026-11-22T10:00:00.000Z in milliseconds since the epoch. */
#define START_MS 1795341600000LL
#define OUT_CAP (1u << 20)

/* xoshiro-style generators are overkill here; splitmix64 is fast and its
 * output is well mixed, which is all a data generator needs. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* A uniform value in [0, n) (n > 0); the modulo bias is irrelevant here. */
static uint32_t rng_below(uint32_t n)
{
    return (uint32_t)(rng_next() % n);
}

struct out {
    FILE *f;
    char *buf;
    size_t len;
    uint64_t bytes, lines;
};

static void out_flush(struct out *o)
{
    if (o->len && fwrite(o->buf, 1, o->len, o->f) != o->len) {
        fprintf(stderr, "gen_inventory: write failed: %s\n", strerror(errno));
        exit(1);
    }
    o->len = 0;
}

/* Makes room for one line (every line is far below 512 bytes). */
static char *out_reserve(struct out *o)
{
    if (OUT_CAP - o->len < 512) {
        out_flush(o);
    }
    return o->buf + o->len;
}

static void out_commit(struct out *o, char *end)
{
    size_t n = (size_t)(end - (o->buf + o->len));
    o->len += n;
    o->bytes += n;
    o->lines++;
}

static char *put_str(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, lit) put_str((p), (lit), sizeof(lit) - 1)

/* "2026-11-22T10:00:00.000Z"; the date part is cached per day. */
static char *put_ts(char *p, int64_t ms)
{
    static int64_t cached_day = INT64_MIN;
    static char date[11];
    int64_t day = ms / 86400000;
    int64_t in_day = ms % 86400000;
    if (day != cached_day) {
        int64_t y;
        unsigned m, d;
        ks_civil_from_days(day, &y, &m, &d);
        ks_put_digits(date, (uint64_t)y, 4);
        date[4] = '-';
        ks_put_digits(date + 5, m, 2);
        date[7] = '-';
        ks_put_digits(date + 8, d, 2);
        date[10] = 'T';
        cached_day = day;
    }
    p = put_str(p, date, 11);
    p = ks_put_digits(p, (uint64_t)(in_day / 3600000), 2);
    *p++ = ':';
    p = ks_put_digits(p, (uint64_t)(in_day / 60000 % 60), 2);
    *p++ = ':';
    p = ks_put_digits(p, (uint64_t)(in_day / 1000 % 60), 2);
    *p++ = '.';
    p = ks_put_digits(p, (uint64_t)(in_day % 1000), 3);
    *p++ = 'Z';
    return p;
}

/* One round's move of a SKU's true quantity. */
static uint32_t drift(uint32_t q)
{
    uint32_t r = rng_below(1000);
    if (r < 700) {
        return q; /* nothing sold, nothing received */
    }
    if (r < 950) {
        uint32_t sold = 1 + rng_below(q / 8 ? q / 8 : 1);
        return sold >= q ? 0 : q - sold;
    }
    if (r < 990) {
        return q + 5 + rng_below(40); /* a delivery came in */
    }
    return rng_below(251); /* a stock count corrected the figure */
}

static uint32_t initial_qty(void)
{
    if (rng_below(100) < 4) {
        return 0; /* sold out */
    }
    return 8 + rng_below(240);
}

static void usage(void)
{
    fprintf(
        stderr,
        "usage: gen_inventory [--channels N (1-%zu, 4)] [--skus N (250000)]\n"
        "                     [--cycles N (10)] [--seed N (1)] [--zero-cycle N (7)]\n"
        "                     [--shift-cycle N (8)] [--lines-per-ms N (1)] [--ids]\n"
        "                     [-o FILE (stdout)]\n",
        MAX_CHANNELS);
    exit(2);
}

static uint64_t arg_num(const char *opt, const char *v, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long n = v ? strtoull(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || n > max) {
        fprintf(stderr, "gen_inventory: %s needs a number <= %llu\n", opt, (unsigned long long)max);
        usage();
    }
    return (uint64_t)n;
}

int main(int argc, char **argv)
{
    uint64_t nch = 4, nsku = 250000, ncyc = 10, seed = 1, zero_cycle = 7, shift_cycle = 8;
    uint64_t per_ms = 1;
    int ids = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--channels")) {
            nch = arg_num(a, v, MAX_CHANNELS);
        } else if (!strcmp(a, "--skus")) {
            nsku = arg_num(a, v, 9999999);
        } else if (!strcmp(a, "--cycles")) {
            ncyc = arg_num(a, v, 1000000);
        } else if (!strcmp(a, "--seed")) {
            seed = arg_num(a, v, UINT64_MAX);
        } else if (!strcmp(a, "--zero-cycle")) {
            zero_cycle = arg_num(a, v, UINT32_MAX);
        } else if (!strcmp(a, "--shift-cycle")) {
            shift_cycle = arg_num(a, v, UINT32_MAX);
        } else if (!strcmp(a, "--lines-per-ms")) {
            per_ms = arg_num(a, v, 1000000);
        } else if (!strcmp(a, "--ids")) {
            ids = 1;
            continue;
        } else if (!strcmp(a, "-o")) {
            if (!v) {
                usage();
            }
            path = v;
        } else {
            usage();
        }
        i++;
    }
    if (nch == 0 || nsku == 0 || per_ms == 0) {
        usage();
    }
    rng_state = seed;

    struct out o = {0};
    o.f = path ? fopen(path, "wb") : stdout;
    if (!o.f) {
        fprintf(stderr, "gen_inventory: %s: %s\n", path, strerror(errno));
        return 1;
    }
    o.buf = malloc(OUT_CAP);
    uint32_t *qty = malloc(nch * nsku * sizeof(*qty));
    uint8_t *shifted = calloc(nsku, 1); /* the shift channel's 10x SKUs */
    if (!o.buf || !qty || !shifted) {
        fprintf(stderr, "gen_inventory: out of memory\n");
        return 1;
    }
    for (uint64_t i = 0; i < nch * nsku; i++) {
        qty[i] = initial_qty();
    }

    uint64_t line = 0; /* the line's timestamp is START_MS + line / per_ms */
    for (uint64_t cyc = 1; cyc <= ncyc; cyc++) {
        for (uint64_t c = 0; c < nch; c++) {
            const char *ch = channel_names[c];
            size_t chlen = strlen(ch);
            int zero_now = c == 1 && cyc == zero_cycle;
            int shift_start = c == 2 && cyc == shift_cycle;
            int shift_on = c == 2 && shift_cycle && cyc >= shift_cycle;
            char batch[64];
            int blen = snprintf(batch, sizeof(batch), "%s-%llu", ch, (unsigned long long)cyc);
            uint32_t *q = qty + c * nsku;
            for (uint64_t s = 0; s < nsku; s++) {
                if (cyc > 1) {
                    q[s] = drift(q[s]);
                }
                uint64_t shown = q[s];
                if (shift_start) {
                    shifted[s] = rng_below(100) < 25;
                }
                if (shift_on && shifted[s]) {
                    shown *= 10;
                }
                if (zero_now && rng_below(100) < 15) {
                    shown = 0;
                }
                char *p = out_reserve(&o);
                p = PUT_LIT(p, "{\"type\":\"inventory\",\"ts\":\"");
                p = put_ts(p, START_MS + (int64_t)(line++ / per_ms));
                if (ids) {
                    p = PUT_LIT(p, "\",\"id\":\"");
                    p = put_str(p, batch, (size_t)blen);
                    *p++ = '-';
                    p = ks_put_digits(p, s, 7);
                }
                p = PUT_LIT(p, "\",\"channel\":\"");
                p = put_str(p, ch, chlen);
                p = PUT_LIT(p, "\",\"sku\":\"SKU-");
                p = ks_put_digits(p, s, 7);
                p = PUT_LIT(p, "\",\"qty\":");
                p = ks_put_u64(p, shown);
                p = PUT_LIT(p, ",\"batch\":\"");
                p = put_str(p, batch, (size_t)blen);
                p = PUT_LIT(p, "\"}\n");
                out_commit(&o, p);
            }
            char *p = out_reserve(&o);
            p = PUT_LIT(p, "{\"type\":\"sync\",\"ts\":\"");
            p = put_ts(p, START_MS + (int64_t)(line++ / per_ms));
            if (ids) {
                p = PUT_LIT(p, "\",\"id\":\"");
                p = put_str(p, batch, (size_t)blen);
                p = PUT_LIT(p, "-sync");
            }
            p = PUT_LIT(p, "\",\"channel\":\"");
            p = put_str(p, ch, chlen);
            p = PUT_LIT(p, "\",\"status\":\"ok\",\"batch\":\"");
            p = put_str(p, batch, (size_t)blen);
            p = PUT_LIT(p, "\"}\n");
            out_commit(&o, p);
        }
    }
    out_flush(&o);
    if (fflush(o.f) || (path && fclose(o.f))) {
        fprintf(stderr, "gen_inventory: %s: %s\n", path ? path : "stdout", strerror(errno));
        return 1;
    }
    fprintf(stderr,
            "gen_inventory: %llu lines, %llu bytes (%llu channels x %llu SKUs x %llu cycles)\n",
            (unsigned long long)o.lines, (unsigned long long)o.bytes, (unsigned long long)nch,
            (unsigned long long)nsku, (unsigned long long)ncyc);
    free(o.buf);
    free(qty);
    free(shifted);
    return 0;
}
