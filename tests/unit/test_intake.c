/*
 * test_intake.c - the intake (src/intake/) hands the engine the same lines,
 * in the same order, with the same events, on one thread and on two; and an
 * engine fed through two threads ends in the same state, byte for byte, as
 * one fed line by line with ks_engine_event.
 */
#include "../../src/config/config.h"
#include "../../src/engine/engine.h"
#include "../../src/intake/intake.h"
#include "slurp.h"
#include "t.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a stream with every kind of line ---------------------------------- */

/* n lines: canonical inventory lines (most), inventory lines the canonical
 * path does not take (spaces, other key order, escapes, a source, an id),
 * other event types, blank lines, CRLF, broken JSON, invalid UTF-8, and
 * one line longer than 1 MiB. No newline after the last line when
 * open_end is set. */
static char *mixed_stream(size_t n, int open_end, size_t *len)
{
    struct ks_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        long ms = (long)i;
        char ts[40];
        snprintf(ts, sizeof(ts), "2026-11-22T10:%02ld:%02ld.%03ldZ", (ms / 60000) % 60,
                 (ms / 1000) % 60, ms % 1000);
        const char *ch = i % 3 == 0 ? "amazon" : i % 3 == 1 ? "ebay" : "shopify";
        switch (i % 97) {
        case 10:
            ks_buf_printf(&b, "{ \"type\" : \"inventory\", \"ts\":\"%s\", \"channel\":\"%s\", "
                              "\"sku\":\"SKU-%zu\", \"qty\": %zu }",
                          ts, ch, i % 500, i % 40);
            break;
        case 20:
            ks_buf_printf(&b,
                          "{\"qty\":%zu,\"sku\":\"SKU-%zu\",\"channel\":\"%s\",\"ts\":\"%s\","
                          "\"type\":\"inventory\",\"source\":\"erp\",\"id\":\"ev-%zu\"}",
                          i % 30, i % 500, ch, ts, i);
            break;
        case 25: /* canonical with an id, taken in one pass and packed */
        case 26: /* its duplicate: the same id */
            ks_buf_printf(&b, "{\"type\":\"inventory\",\"ts\":\"%s\",\"id\":\"id-%zu\","
                              "\"channel\":\"%s\",\"sku\":\"SKU-%05zu\",\"qty\":%zu}",
                          ts, i / 97, ch, i % 500, (i * 7) % 50);
            break;
        case 30:
            ks_buf_printf(&b, "{\"type\":\"inventory\",\"ts\":\"%s\",\"channel\":\"%s\",\"sku\":"
                              "\"SKU-\\u00e9%zu\",\"qty\":3}",
                          ts, ch, i % 7);
            break;
        case 40:
            ks_buf_printf(&b, "{\"type\":\"sync\",\"ts\":\"%s\",\"channel\":\"%s\",\"status\":"
                              "\"ok\",\"batch\":\"%s-%zu\"}",
                          ts, ch, ch, i / 500);
            break;
        case 50:
            ks_buf_printf(&b, "   ");
            break;
        case 60:
            ks_buf_printf(&b, "{\"type\":\"inventory\",\"ts\":\"%s\",\"channel\":\"%s\",\"sku\":"
                              "\"SKU-%zu\",\"qty\":-1}",
                          ts, ch, i % 500);
            break;
        case 70:
            ks_buf_printf(&b, "{\"type\":\"inventory\",\"ts\":\"%s\" \"channel\"", ts);
            break;
        case 80:
            ks_buf_printf(&b, "{\"type\":\"inventory\",\"ts\":\"%s\",\"channel\":\"%s\",\"sku\":"
                              "\"SKU-\xff\",\"qty\":1}",
                          ts, ch);
            break;
        case 90:
            ks_buf_printf(&b, "{\"type\":\"health\",\"ts\":\"%s\",\"system\":\"wms\",\"status\":"
                              "\"up\"}\r",
                          ts);
            break;
        default:
            ks_buf_printf(&b, "{\"type\":\"inventory\",\"ts\":\"%s\",\"channel\":\"%s\",\"sku\":"
                              "\"SKU-%05zu\",\"qty\":%zu,\"batch\":\"%s-%zu\"}",
                          ts, ch, i % 500, (i * 7) % 50, ch, i / 500);
        }
        if (i == n / 2) {
            ks_buf_putc(&b, '\n');
            for (size_t k = 0; k < (1u << 20) + 10; k++) {
                ks_buf_putc(&b, 'x');
            }
        }
        if (i + 1 < n || !open_end) {
            ks_buf_putc(&b, '\n');
        }
    }
    *len = b.len;
    return b.p;
}

/* ---- what the intake handed over --------------------------------------- */

struct seen {
    struct ks_buf log; /* one record per line: its length and bytes */
    size_t lines, events, stop_at;
    int bad_event; /* an event that is not ks_event_decode_fast's for its line */
    int missed;    /* no event for a line the fast decoder takes */
    struct ks_decoder *dec;
};

static int collect(void *arg, const struct ks_line *lines, size_t n, size_t *taken)
{
    struct seen *s = arg;
    for (size_t i = 0; i < n; i++) {
        const struct ks_line *l = &lines[i];
        s->lines++;
        ks_buf_printf(&s->log, "%zu:", l->len);
        ks_buf_put(&s->log, l->p, l->len);
        /* The very event the fast decoder gives for the line, every byte of it. */
        struct ks_event want, got;
        int fast = ks_event_decode_fast(s->dec, l->p, l->len, &want) == KS_OK;
        /* Lines with a source or a location, and lines over 64 KiB, go
         * without their event (the intake packs the others). */
        int packs = fast && !want.source.p && !want.location.p && l->len <= UINT16_MAX;
        if (l->packed) {
            s->events++;
            ks_event_clear(&got);
            ks_line_unpack(l, &got);
            want.same_prev = got.same_prev; /* a note about the line before, checked in test_decode */
            s->bad_event += !packs || memcmp(&want, &got, sizeof(want)) != 0;
        } else {
            s->missed += packs;
        }
        if (s->stop_at && s->lines == s->stop_at) {
            *taken = i + 1;
            return 7;
        }
    }
    return 0;
}

static int run_intake(int threads, const char *buf, size_t len, int last, size_t stop_at,
                      struct seen *s, size_t *used)
{
    memset(s, 0, sizeof(*s));
    s->dec = ks_decoder_new();
    s->stop_at = stop_at;
    struct ks_intake *in = ks_intake_new(threads, 0);
    int rc = ks_intake_lines(in, buf, len, last, collect, s, used);
    ks_intake_free(in);
    ks_decoder_free(s->dec);
    return rc;
}

static void lines_and_events_are_the_same_on_one_and_two_threads(void)
{
    for (int open_end = 0; open_end <= 1; open_end++) {
        size_t len;
        char *buf = mixed_stream(30000, open_end, &len);
        for (int last = 0; last <= 1; last++) {
            struct seen one, two;
            size_t used1, used2;
            CHECK_INT(run_intake(1, buf, len, last, 0, &one, &used1), 0);
            CHECK_INT(run_intake(2, buf, len, last, 0, &two, &used2), 0);
            /* 30000 lines and the long one; without `last` an open end waits. */
            CHECK_INT(two.lines, 30001 - (open_end && !last));
            CHECK_INT(one.lines, two.lines);
            CHECK_INT(used1, used2);
            size_t after_nl = (size_t)(strrchr(buf, '\n') - buf) + 1;
            CHECK_INT(used2, open_end && !last ? after_nl : len);
            CHECK(one.log.len > 0 && one.log.len == two.log.len);
            CHECK(one.log.p && two.log.p && memcmp(one.log.p, two.log.p, one.log.len) == 0);
            /* One thread decodes a batch ahead as the worker does. */
            CHECK(two.events > 25000);
            CHECK_INT(one.events, two.events);
            CHECK_INT(one.missed, 0);
            CHECK_INT(two.missed, 0);
            CHECK_INT(one.bad_event, 0);
            CHECK_INT(two.bad_event, 0);
            ks_buf_fini(&one.log);
            ks_buf_fini(&two.log);
        }
        ks_free(buf);
    }
}

static void a_nonzero_return_stops_after_that_line(void)
{
    size_t len;
    char *buf = mixed_stream(20000, 0, &len);
    for (int threads = 1; threads <= 2; threads++) {
        struct seen s;
        size_t used;
        CHECK_INT(run_intake(threads, buf, len, 1, 12345, &s, &used), 7);
        CHECK_INT(s.lines, 12345);
        /* used ends just after line 12345's newline */
        size_t want = 0;
        for (size_t k = 0; k < 12345; k++) {
            want = (size_t)((char *)memchr(buf + want, '\n', len - want) - buf) + 1;
        }
        CHECK_INT(used, want);
        ks_buf_fini(&s.log);
    }
    ks_free(buf);
}

static void short_buffers_and_empty_ones_are_handled_in_place(void)
{
    struct seen s;
    size_t used = 99;
    CHECK_INT(run_intake(2, "", 0, 1, 0, &s, &used), 0);
    CHECK_INT(s.lines, 0);
    CHECK_INT(used, 0);
    ks_buf_fini(&s.log);
    const char *two = "{\"a\":1}\n{\"b\":2}";
    CHECK_INT(run_intake(2, two, strlen(two), 0, 0, &s, &used), 0);
    CHECK_INT(s.lines, 1);
    CHECK_INT(used, 8);
    ks_buf_fini(&s.log);
    CHECK_INT(run_intake(2, two, strlen(two), 1, 0, &s, &used), 0);
    CHECK_INT(s.lines, 2);
    CHECK_INT(used, strlen(two));
    ks_buf_fini(&s.log);
}

/* ---- the engine, fed both ways ------------------------------------------- */

struct feed {
    struct ks_engine *e;
    uint32_t input;
    int64_t lineno;
};

static int to_engine(void *arg, const struct ks_line *lines, size_t n, size_t *taken)
{
    struct feed *f = arg;
    ks_engine_lines(f->e, f->input, f->lineno, lines, n, NULL, NULL);
    f->lineno += (int64_t)n;
    *taken = n;
    return 0;
}

/* The engine's whole state, dead letters and guarded feed after the input,
 * as one string of bytes. */
static void engine_outcome(struct ks_engine *e, struct ks_buf *out)
{
    ks_engine_end_input(e);
    ks_engine_save(e, out);
    const struct ks_dead_effect *dl;
    size_t n = ks_engine_dead(e, &dl);
    for (size_t i = 0; i < n; i++) {
        ks_buf_printf(out, "\ndead %lld %s", (long long)dl[i].line, dl[i].reason);
    }
    const struct ks_feed_effect *fe;
    n = ks_engine_feed(e, &fe);
    for (size_t i = 0; i < n; i++) {
        ks_buf_printf(out, "\nfeed %u %u %u %lld", fe[i].channel, fe[i].sku, fe[i].qty,
                      (long long)fe[i].at);
    }
}

/* Feeds text line by line, and through a two-thread and a one-thread intake,
 * into three engines with cfg, and checks that they end alike. Returns the
 * number of lines. */
static size_t same_either_way(const char *name, const struct ks_config *cfg, const char *text,
                              size_t len)
{
    struct ks_engine *a = ks_engine_new(cfg);
    uint32_t in = ks_engine_input(a, "events.ndjson");
    struct ks_err err;
    int64_t line = 0;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t ll = nl ? (size_t)(nl - (text + at)) : len - at;
        ks_engine_event(a, in, ++line, text + at, ll, &err);
        at += ll + 1;
    }
    struct ks_buf oa = {0};
    engine_outcome(a, &oa);
    for (int threads = 2; threads >= 1; threads--) {
        struct feed f = {ks_engine_new(cfg), 0, 0};
        f.input = ks_engine_input(f.e, "events.ndjson");
        struct ks_intake *intake = ks_intake_new(threads, 0);
        size_t used;
        CHECK_INT(ks_intake_lines(intake, text, len, 1, to_engine, &f, &used), 0);
        CHECK_INT(used, len);
        ks_intake_free(intake);
        struct ks_buf ob = {0};
        engine_outcome(f.e, &ob);
        if (f.lineno != line || oa.len != ob.len || memcmp(oa.p, ob.p, oa.len) != 0) {
            fprintf(stderr, "FAIL %s: %s: the engine fed through %d thread(s) differs\n",
                    t_current, name, threads);
            t_failed_checks++;
        }
        ks_buf_fini(&ob);
        ks_engine_free(f.e);
    }
    ks_buf_fini(&oa);
    ks_engine_free(a);
    return (size_t)line;
}

static void every_scenario_ends_the_same_through_two_threads(void)
{
    const char *root = "tests/scenarios";
    DIR *d = opendir(root);
    CHECK(d != NULL);
    if (!d) {
        return;
    }
    size_t scenarios = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char path[1200];
        size_t len;
        snprintf(path, sizeof(path), "%s/%.200s/events.ndjson", root, de->d_name);
        char *text = de->d_name[0] == '.' ? NULL : t_slurp(path, &len);
        if (!text) {
            continue;
        }
        struct ks_config cfg;
        ks_config_defaults(&cfg);
        struct ks_err err;
        struct stat sb;
        snprintf(path, sizeof(path), "%s/%.200s/config.yaml", root, de->d_name);
        if (stat(path, &sb) == 0 && ks_config_load(&cfg, path, &err) != KS_OK) {
            CHECK(!"scenario config loads");
        }
        same_either_way(de->d_name, &cfg, text, len);
        scenarios++;
        ks_config_fini(&cfg);
        ks_free(text);
    }
    closedir(d);
    CHECK(scenarios >= 30);
}

static void a_long_mixed_stream_ends_the_same_through_two_threads(void)
{
    struct ks_config cfg;
    ks_config_defaults(&cfg);
    size_t len;
    char *buf = mixed_stream(60000, 1, &len);
    CHECK_INT(same_either_way("mixed", &cfg, buf, len), 60001);
    ks_free(buf);
    ks_config_fini(&cfg);
}

/*
 * The engine trusts an event's same_prev only for the line that starts
 * right after the last one it took with its event. Here every event
 * claims the channel and batch of the line before, wrongly (the channels
 * alternate): fed from separate buffers, or after a line taken without
 * its event, the engine must look every string up and end as one fed
 * line by line.
 */
static void a_same_prev_note_counts_only_right_after_the_line_before(void)
{
    struct ks_buf t = {0};
    for (int i = 0; i < 400; i++) {
        const char *ch = i % 2 ? "ebay" : "amazon";
        ks_buf_printf(&t,
                      "{\"type\":\"inventory\",\"ts\":\"2026-11-22T10:00:%02d.%03dZ\",\"channel\":"
                      "\"%s\",\"sku\":\"SKU-%d\",\"qty\":%d,\"batch\":\"%s-%d\"}\n",
                      i / 100, i % 1000, ch, i / 2 % 50, i / 100 == 2 ? 0 : 5 + i % 3, ch,
                      i / 100);
    }
    struct ks_config cfg;
    ks_config_defaults(&cfg);
    for (int how = 0; how < 2; how++) {
        struct ks_engine *a = ks_engine_new(&cfg), *b = ks_engine_new(&cfg);
        uint32_t ia = ks_engine_input(a, "x"), ib = ks_engine_input(b, "x");
        struct ks_decoder *d = ks_decoder_new();
        struct ks_err err;
        int64_t lineno = 0;
        for (size_t at = 0; at < t.len;) {
            const char *line = t.p + at;
            size_t len = (size_t)((const char *)memchr(line, '\n', t.len - at) - line);
            at += len + 1;
            lineno++;
            ks_engine_event(a, ia, lineno, line, len, &err);
            char *own = how == 0 ? ks_strndup(line, len) : NULL; /* a buffer of its own */
            struct ks_line l = {.p = own ? own : line, .len = len};
            struct ks_event ev;
            ks_event_clear(&ev);
            CHECK_INT(ks_event_decode_fast_head(d, l.p, len, &ev), KS_OK);
            ev.same_prev = KS_SAME_CHANNEL | KS_SAME_BATCH;
            if (how == 0 || lineno % 2 == 0) { /* else taken without its event */
                CHECK_INT(ks_line_pack(&l, &ev), 1);
            }
            ks_engine_lines(b, ib, lineno - 1, &l, 1, NULL, NULL);
            ks_free(own);
        }
        struct ks_buf oa = {0}, ob = {0};
        engine_outcome(a, &oa);
        engine_outcome(b, &ob);
        CHECK(oa.len > 0 && oa.len == ob.len && memcmp(oa.p, ob.p, oa.len) == 0);
        struct ks_engine_stats st;
        ks_engine_stats(a, &st);
        CHECK_INT(st.incidents_opened, 2); /* the zeroed round, on each channel */
        ks_buf_fini(&oa);
        ks_buf_fini(&ob);
        ks_decoder_free(d);
        ks_engine_free(a);
        ks_engine_free(b);
    }
    ks_config_fini(&cfg);
    ks_buf_fini(&t);
}

/* ---- reading a file descriptor ------------------------------------------ */

struct fd_seen {
    struct seen s;
    struct ks_buf longs; /* "total:newline:first bytes" per skipped line */
    size_t stop_after;   /* stop at the first batch that reaches this many lines (0: never) */
};

static int fd_collect(void *arg, const struct ks_line *lines, size_t n, size_t *taken)
{
    struct fd_seen *f = arg;
    /* A batch's lines lie one after the other in one buffer. */
    for (size_t i = 1; i < n; i++) {
        if (lines[i].p != lines[i - 1].p + lines[i - 1].len + 1) {
            f->s.bad_event++;
        }
    }
    collect(&f->s, lines, n, taken);
    return f->stop_after && f->s.lines >= f->stop_after ? 5 : 0;
}

static int fd_long(void *arg, const char *head, size_t head_len, uint64_t total, int newline)
{
    struct fd_seen *f = arg;
    ks_buf_printf(&f->longs, "%llu:%d:%zu:", (unsigned long long)total, newline, head_len);
    ks_buf_put(&f->longs, head, 16);
    ks_buf_putc(&f->longs, ';');
    f->s.lines++;
    ks_buf_printf(&f->s.log, "long:");
    return 0;
}

/* Writes text to a new temporary file and returns its descriptor. */
static int temp_file(const char *text, size_t len)
{
    char name[] = "/tmp/ks-intake-XXXXXX";
    int fd = mkstemp(name);
    if (fd < 0) {
        return -1;
    }
    unlink(name);
    for (size_t at = 0; at < len;) {
        ssize_t k = write(fd, text + at, len - at);
        if (k <= 0) {
            close(fd);
            return -1;
        }
        at += (size_t)k;
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static int run_fd(int threads, const char *text, size_t len, size_t stop_after, struct fd_seen *f,
                  int *bom)
{
    memset(f, 0, sizeof(*f));
    f->s.dec = ks_decoder_new();
    f->stop_after = stop_after;
    int fd = temp_file(text, len);
    struct ks_intake *in = ks_intake_new(threads, 0);
    int rc = fd < 0 ? -2 : ks_intake_fd(in, fd, fd_collect, fd_long, f, NULL, bom);
    ks_intake_free(in);
    ks_decoder_free(f->s.dec);
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

/* A stream larger than the intake's buffers (8 MiB each), with a BOM, lines
 * that straddle two buffers, a line of exactly 1 MiB, two over-long lines
 * (one of 3 MiB, one of 20 MiB that spans whole buffers) and no newline at
 * the end. */
static char *fd_stream(size_t *len)
{
    size_t n;
    char *mixed = mixed_stream(120000, 1, &n);
    struct ks_buf b = {0};
    ks_buf_put(&b, "\xEF\xBB\xBF", 3);
    ks_buf_put(&b, mixed, n / 2);
    ks_buf_putc(&b, '\n');
    for (size_t k = 0; k < (1u << 20); k++) {
        ks_buf_putc(&b, 'a');
    }
    ks_buf_putc(&b, '\n');
    ks_buf_puts(&b, "LONG3");
    for (size_t k = 0; k < (3u << 20); k++) {
        ks_buf_putc(&b, 'b');
    }
    ks_buf_putc(&b, '\n');
    ks_buf_puts(&b, "LONG20");
    for (size_t k = 0; k < (20u << 20); k++) {
        ks_buf_putc(&b, 'c');
    }
    ks_buf_putc(&b, '\n');
    ks_buf_put(&b, mixed + n / 2, n - n / 2);
    free(mixed);
    *len = b.len;
    return b.p;
}

static void a_file_read_through_the_intake_gives_every_line_once_in_order(void)
{
    size_t len;
    char *text = fd_stream(&len);
    struct fd_seen one, two;
    int bom1 = 0, bom2 = 0;
    CHECK_INT(run_fd(1, text, len, 0, &one, &bom1), 0);
    CHECK_INT(run_fd(2, text, len, 0, &two, &bom2), 0);
    CHECK_INT(bom1, 1);
    CHECK_INT(bom2, 1);
    /* The lines of the buffer, split by hand: the same count, one long each. */
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) {
        lines += text[i] == '\n';
    }
    CHECK_INT(one.s.lines, lines);
    CHECK_INT(two.s.lines, lines);
    CHECK(one.s.log.len == two.s.log.len && memcmp(one.s.log.p, two.s.log.p, one.s.log.len) == 0);
    CHECK_STR(one.longs.p, two.longs.p);
    char want[256];
    snprintf(want, sizeof(want), "%u:1:%u:LONG3bbbbbbbbbbb;%u:1:%u:LONG20cccccccccc;",
             (3u << 20) + 5, KS_INTAKE_LONG_KEEP, (20u << 20) + 6, KS_INTAKE_LONG_KEEP);
    CHECK_STR(one.longs.p, want);
    CHECK_INT(two.s.bad_event, 0);
    CHECK_INT(two.s.missed, 0);
    CHECK(two.s.events > 100000);
    /* The last line, without its newline, is the mixed stream's last. */
    const char *last = memrchr(text, '\n', len) + 1;
    size_t last_len = (size_t)(text + len - last);
    CHECK(one.s.log.len > last_len &&
          memcmp(one.s.log.p + one.s.log.len - last_len, last, last_len) == 0);
    for (int i = 0; i < 2; i++) {
        struct fd_seen *f = i ? &two : &one;
        ks_buf_fini(&f->s.log);
        ks_buf_fini(&f->longs);
    }
    free(text);
}

static void a_file_read_through_the_intake_stops_when_told(void)
{
    size_t len;
    char *text = fd_stream(&len);
    for (int threads = 1; threads <= 2; threads++) {
        struct fd_seen f;
        int bom;
        CHECK_INT(run_fd(threads, text, len, 70000, &f, &bom), 5);
        CHECK(f.s.lines >= 70000 && f.s.lines < 70000 + 512);
        ks_buf_fini(&f.s.log);
        ks_buf_fini(&f.longs);
    }
    free(text);
}

int main(void)
{
    RUN(lines_and_events_are_the_same_on_one_and_two_threads);
    RUN(a_nonzero_return_stops_after_that_line);
    RUN(short_buffers_and_empty_ones_are_handled_in_place);
    RUN(every_scenario_ends_the_same_through_two_threads);
    RUN(a_long_mixed_stream_ends_the_same_through_two_threads);
    RUN(a_same_prev_note_counts_only_right_after_the_line_before);
    RUN(a_file_read_through_the_intake_gives_every_line_once_in_order);
    RUN(a_file_read_through_the_intake_stops_when_told);
    return t_done();
}
