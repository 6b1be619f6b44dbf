/*
 * contain.c - the cost of containment in the replay (SPEC 5, issue "Contain
 * first"): for every input line whose processing changed an incident, the
 * wall time of that one ks_engine_event call (detection + pause of every
 * channel + zeroing of risen SKUs + holding), the feed changes it emitted,
 * and the event-time delay between the line's own ts and the incident's
 * detected_at, which must be zero: containment happens at the closing event
 * of the bad update, not later.
 *
 *   build/bench/contain FILE
 *
 * Prints the replay's total time, the median line time, and one row per
 * incident-changing line, then the command line.
 */
#include "../src/config/config.h"
#include "../src/engine/engine.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The "ts" of a line (it is an RFC 3339 string in the benchmark's lines). */
static ks_time line_ts(const char *p, size_t n)
{
    const char *k = memmem(p, n, "\"ts\":\"", 6);
    ks_time t = KS_TIME_NONE;
    if (k) {
        const char *s = k + 6, *q = memchr(s, '"', (size_t)(p + n - s));
        if (q) {
            ks_time_parse(s, (size_t)(q - s), &t, NULL);
        }
    }
    return t;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: contain FILE\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        perror(argv[1]);
        return 1;
    }
    size_t size = (size_t)sb.st_size;
    const char *base = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : "";
    if (base == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    struct ks_config cfg;
    ks_config_defaults(&cfg);
    struct ks_engine *e = ks_engine_new(&cfg);
    uint32_t in = ks_engine_input(e, argv[1]);
    size_t nsample = 0, capsample = 1u << 20;
    double *sample = malloc(capsample * sizeof(double));
    struct ks_err err;
    struct ks_buf rows = {0};
    double t0 = now_us();
    int64_t lineno = 0;
    for (size_t at = 0; at < size;) {
        const char *nl = memchr(base + at, '\n', size - at);
        size_t len = nl ? (size_t)(nl - (base + at)) : size - at;
        lineno++;
        double a = now_us();
        ks_engine_event(e, in, lineno, base + at, len, &err);
        double us = now_us() - a;
        if (nsample < capsample && lineno % 8 == 0) {
            sample[nsample++] = us;
        }
        const int64_t *ids;
        size_t nd = ks_engine_dirty(e, &ids);
        if (nd) {
            const struct ks_feed_effect *f;
            size_t nf = ks_engine_feed(e, &f);
            ks_time ts = line_ts(base + at, len);
            for (size_t i = 0; i < nd; i++) {
                struct ks_buf j = {0};
                ks_engine_incident_json(e, ids[i], 0, &j);
                const char *d = strstr(j.p, "\"detected_at\":\"");
                ks_time det = KS_TIME_NONE;
                if (d) {
                    ks_time_parse(d + 15, 24, &det, NULL);
                }
                char tss[32];
                ks_time_fmt(ts, tss);
                ks_buf_printf(&rows, "line %-9lld ts %s  incident %lld  %8.1f us  feed changes %zu  "
                                     "event-time delay %lld ms%s\n",
                              (long long)lineno, tss, (long long)ids[i], us, nf,
                              det != KS_TIME_NONE && det == ts ? 0LL
                                                               : (long long)(ts - det),
                              det == ts ? "" : " (a later line changed an incident detected earlier)");
                ks_buf_fini(&j);
            }
        }
        ks_engine_effects_clear(e);
        at += len + 1;
    }
    ks_engine_end_input(e);
    double total = now_us() - t0;
    qsort(sample, nsample, sizeof(double), cmp_double);
    struct ks_buf g = {0};
    ks_engine_guard_status_json(e, &g);
    printf("lines %lld, replay %.3f s (timing every line adds the clock's own cost)\n",
           (long long)lineno, total / 1e6);
    printf("line time: median %.2f us, p99 %.2f us, max of sample %.2f us\n",
           nsample ? sample[nsample / 2] : 0, nsample ? sample[nsample * 99 / 100] : 0,
           nsample ? sample[nsample - 1] : 0);
    printf("lines that changed an incident:\n%s", rows.p ? rows.p : "(none)\n");
    printf("guard after the replay: %s\n", g.p);
    printf("command: build/bench/contain %s\n", argv[1]);
    ks_buf_fini(&rows);
    ks_buf_fini(&g);
    free(sample);
    ks_engine_free(e);
    ks_config_fini(&cfg);
    return 0;
}
