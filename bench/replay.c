/*
 * replay.c - the replay benchmark of SPEC section 9: feeds an NDJSON file to
 * one engine with the default configuration (every detector on) and prints
 * what it cost.
 *
 * The file is read in large chunks (or mapped) and its lines go through the
 * intake to ks_engine_lines exactly as `kintsugi ingest` hands them over; the end of
 * the file is ks_engine_end_input. Effects (changed incidents, dead letters)
 * are drained after every chunk, as the shell does, but not stored: the
 * benchmark measures the engine, not SQLite. The time is CLOCK_MONOTONIC
 * around the replay alone (open, read, decode, detect, end of input), never
 * around generating the file or setting up the engine.
 *
 * Modes, to take the cost apart:
 *   (default)      the whole engine;
 *   --decode-only  ks_event_decode on every line, no engine;
 *   --scan-only    only finding the lines (the I/O and memchr floor).
 * I/O: --io read (default: read(2) in chunks, as `kintsugi ingest` reads)
 * or --io mmap (the file mapped, and unmapped once the clock has stopped, as
 * the engine is freed after it; for comparison: on this machine a mapped
 * file's pages reach the decoder far slower than a copy does, 1.7-1.8 s
 * against 1.06-1.08 s on one core, 1.0 s against 0.35 s for --scan-only).
 * Memory is the peak anonymous resident set, sampled every 16 MiB of input
 * and at the end: a mapped file's pages are the page cache's, not the
 * engine's. --repeat N replays N times, each with a fresh engine, and
 * reports the fastest run (all run times are printed too).
 *
 * Output: "key value" lines (bench/run.sh reads them), one "incident" line
 * per incident the engine opened (of the fastest run), then the command
 * line that produced it. Exit status 0, or 1 on an I/O error, 2 on bad usage.
 */
#include "../src/config/config.h"
#include "../src/core/core.h"
#include "../src/engine/engine.h"
#include "../src/event/event.h"
#include "../src/intake/intake.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (16u << 20)   /* read(2) buffer, and the step of draining and sampling memory */
#define MAX_BUF (64u << 20) /* a line longer than this is cut: the engine rejects > 1 MiB */

enum mode { MODE_ENGINE, MODE_DECODE, MODE_SCAN };

/* What one replay did. */
struct run {
    uint64_t bytes, lines, rejected, fast_hits;
    double secs, cpu_secs;
    double thread_cpu_secs; /* the calling thread's (the engine's) share of cpu_secs */
    long rss_end_kib;          /* anonymous resident set after the replay, engine still alive */
    long peak_anon_kib;        /* the largest anonymous resident set sampled during the replay */
    struct ks_engine_stats st; /* MODE_ENGINE only */
    int64_t *ids;              /* incidents changed during the run, unique */
    size_t nids, capids;
    struct ks_buf incidents; /* one "incident ..." line each */
    char first_reject[600];
};

/* The line consumer of one replay. */
struct sink {
    enum mode mode;
    struct ks_engine *e;
    uint32_t input;
    struct ks_decoder *dec;
    struct ks_intake *intake;
    struct run *r;
    void *map; /* the mapped input, unmapped after the clock stops */
    size_t map_size;
};

static double now_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_secs(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* The current anonymous resident set (resident less file-backed and shared
 * pages, from /proc/self/statm); -1 where there is none. */
static long anon_now_kib(void)
{
    long total, resident = -1, shared = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld %ld", &total, &resident, &shared) != 3) {
            resident = -1;
        }
        fclose(f);
    }
    return resident < 0 ? -1 : (resident - shared) * (sysconf(_SC_PAGESIZE) / 1024);
}

static void note_reject(struct run *r, int64_t lineno, const char *msg)
{
    if (r->rejected++ == 0) {
        snprintf(r->first_reject, sizeof(r->first_reject), "line %lld: %s", (long long)lineno,
                 msg);
    }
}

static void engine_reject(void *arg, int64_t lineno, const struct ks_err *err)
{
    note_reject(arg, lineno, err->msg);
}

static int feed(void *arg, const struct ks_line *lines, size_t n, size_t *taken)
{
    struct sink *s = arg;
    struct run *r = s->r;
    switch (s->mode) {
    case MODE_ENGINE:
        ks_engine_lines(s->e, s->input, (int64_t)r->lines, lines, n, engine_reject, r);
        break;
    case MODE_DECODE:
        for (size_t i = 0; i < n; i++) {
            struct ks_event ev;
            struct ks_err err;
            if (lines[i].len &&
                ks_event_decode(s->dec, lines[i].p, lines[i].len, &ev, &err) != KS_OK) {
                note_reject(r, (int64_t)r->lines + (int64_t)i + 1, err.msg);
            }
        }
        break;
    case MODE_SCAN:
        break;
    }
    r->lines += n;
    *taken = n;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Keeps the ids of changed incidents and drops the effects, as the shell
 * does after storing them once per chunk. */
static void drain(struct sink *s)
{
    struct run *r = s->r;
    long anon = anon_now_kib();
    if (anon > r->peak_anon_kib) {
        r->peak_anon_kib = anon;
    }
    if (s->mode != MODE_ENGINE) {
        return;
    }
    const int64_t *ids;
    size_t n = ks_engine_dirty(s->e, &ids);
    for (size_t i = 0; i < n; i++) {
        KS_GROW(r->ids, r->capids, r->nids + 1);
        r->ids[r->nids++] = ids[i];
    }
    ks_engine_effects_clear(s->e);
}

static int replay_read(struct sink *s, int fd)
{
    size_t cap = CHUNK, have = 0;
    char *buf = ks_malloc(cap);
    for (;;) {
        ssize_t got = read(fd, buf + have, cap - have);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            ks_free(buf);
            return -1;
        }
        s->r->bytes += (uint64_t)got;
        have += (size_t)got;
        size_t used;
        /* At the end of the file the last line may have no newline. */
        ks_intake_lines(s->intake, buf, have, got == 0, feed, s, &used);
        if (got == 0) {
            break;
        }
        have -= used;
        if (have == cap) {
            if (cap >= MAX_BUF) {
                /* rejected as too long; the rest follows as lines */
                struct ks_line cut = {.p = buf, .len = have};
                size_t one;
                feed(s, &cut, 1, &one);
                have = 0;
            } else {
                cap *= 2;
                buf = ks_realloc(buf, cap);
            }
        } else if (have) {
            memmove(buf, buf + used, have);
        }
        drain(s);
    }
    drain(s);
    ks_free(buf);
    return 0;
}

/* The mapped file: after every CHUNK bytes of lines the effects are drained
 * (and memory sampled), as after every chunk read. */
struct mapped {
    struct sink *s;
    const char *base;
    const char *next; /* the first line past the next CHUNK boundary */
};

static int feed_mapped(void *arg, const struct ks_line *lines, size_t n, size_t *taken)
{
    struct mapped *m = arg;
    struct sink *s = m->s;
    feed(s, lines, n, taken);
    const char *p = lines[n - 1].p;
    if (p >= m->next) {
        size_t done = (size_t)(p - m->base) & ~(size_t)(CHUNK - 1);
        m->next = m->base + done + CHUNK;
        drain(s);
    }
    return 0;
}

static int replay_mmap(struct sink *s, int fd)
{
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        return replay_read(s, fd); /* a pipe cannot be mapped */
    }
    size_t size = (size_t)sb.st_size;
    if (size == 0) {
        return 0;
    }
    char *base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (base == MAP_FAILED) {
        return -1;
    }
    madvise(base, size, MADV_SEQUENTIAL);
    struct mapped m = {s, base, base + CHUNK};
    size_t used;
    ks_intake_lines(s->intake, base, size, 1, feed_mapped, &m, &used);
    drain(s);
    s->r->bytes = size;
    s->map = base;
    s->map_size = size;
    return 0;
}

/* Renders one line per incident the run touched into r->incidents: type,
 * severity, channels, started_at, detected_at and every signal with its
 * instant, read back from the engine's own JSON. */
static void list_incidents(const struct ks_engine *e, struct run *r)
{
    struct ks_buf *o = &r->incidents;
    for (size_t i = 0; i < r->nids; i++) {
        struct ks_buf b = {0};
        if (ks_engine_incident_json(e, r->ids[i], 0, &b) != KS_OK) {
            ks_buf_fini(&b);
            continue;
        }
        json_error_t jerr;
        json_t *inc = json_loadb(b.p, b.len, 0, &jerr);
        ks_buf_fini(&b);
        if (!inc) {
            continue;
        }
        const char *type = json_string_value(json_object_get(inc, "type"));
        const char *sev = json_string_value(json_object_get(inc, "severity"));
        const char *sa = json_string_value(json_object_get(inc, "started_at"));
        const char *da = json_string_value(json_object_get(inc, "detected_at"));
        json_t *chs = json_object_get(json_object_get(inc, "scope"), "channels");
        json_t *sigs = json_object_get(inc, "signals");
        ks_buf_printf(o, "incident %lld %s %s channels=", (long long)r->ids[i], type ? type : "?",
                      sev ? sev : "?");
        size_t k;
        json_t *v;
        json_array_foreach(chs, k, v)
        {
            const char *ch = json_string_value(v);
            ks_buf_printf(o, "%s%s", k ? "," : "", ch ? ch : "?");
        }
        ks_buf_printf(o, " started_at=%s detected_at=%s signals=", sa ? sa : "null",
                      da ? da : "null");
        json_array_foreach(sigs, k, v)
        {
            const char *det = json_string_value(json_object_get(v, "detector"));
            const char *at = json_string_value(json_object_get(v, "at"));
            ks_buf_printf(o, "%s%s@%s", k ? "," : "", det ? det : "?", at ? at : "?");
        }
        ks_buf_putc(o, '\n');
        json_decref(inc);
    }
}

/* One replay of path. Returns 0, or -1 with errno set on an I/O error. */
static int replay(const char *path, enum mode mode, int use_mmap, int threads, struct run *r)
{
    struct ks_config cfg;
    ks_config_defaults(&cfg);
    struct sink s = {.mode = mode, .r = r};
    if (mode == MODE_ENGINE) {
        s.e = ks_engine_new(&cfg);
        s.input = ks_engine_input(s.e, path);
    } else if (mode == MODE_DECODE) {
        s.dec = ks_decoder_new();
    }
    /* Decoding ahead on a second thread is the engine's business only. */
    s.intake = ks_intake_new(mode == MODE_ENGINE ? threads : 1, 0);

    double c0 = cpu_secs(), tc0 = thread_cpu_secs(), t0 = now_secs();
    int rc = -1;
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        rc = use_mmap ? replay_mmap(&s, fd) : replay_read(&s, fd);
        close(fd);
    }
    if (mode == MODE_ENGINE) {
        ks_engine_end_input(s.e);
        drain(&s);
    }
    r->secs = now_secs() - t0;
    r->cpu_secs = cpu_secs() - c0;
    r->thread_cpu_secs = thread_cpu_secs() - tc0;
    if (s.map) {
        munmap(s.map, s.map_size);
    }
    r->rss_end_kib = anon_now_kib();
    int saved = errno;

    if (mode == MODE_ENGINE) {
        ks_engine_stats(s.e, &r->st);
        qsort(r->ids, r->nids, sizeof(*r->ids), cmp_i64);
        size_t n = 0;
        for (size_t i = 0; i < r->nids; i++) {
            if (n == 0 || r->ids[n - 1] != r->ids[i]) {
                r->ids[n++] = r->ids[i];
            }
        }
        r->nids = n;
    }
    if (mode == MODE_DECODE) {
        r->fast_hits = ks_decoder_fast_hits(s.dec);
    }
    if (rc == 0 && mode == MODE_ENGINE) {
        list_incidents(s.e, r); /* now: the engine is freed before the next run */
    }
    ks_engine_free(s.e);
    ks_decoder_free(s.dec);
    ks_intake_free(s.intake);
    ks_config_fini(&cfg);
    errno = saved;
    return rc;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: replay [--decode-only | --scan-only] [--io read|mmap] [--threads 1|2]\n"
            "              [--repeat N] FILE\n");
    exit(2);
}

int main(int argc, char **argv)
{
    enum mode mode = MODE_ENGINE;
    int use_mmap = 0, repeat = 1, threads = 1;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--decode-only")) {
            mode = MODE_DECODE;
        } else if (!strcmp(a, "--scan-only")) {
            mode = MODE_SCAN;
        } else if (!strcmp(a, "--io") && i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(v, "read")) {
                use_mmap = 0;
            } else if (strcmp(v, "mmap")) {
                usage();
            }
        } else if (!strcmp(a, "--threads") && i + 1 < argc) {
            threads = atoi(argv[++i]);
            if (threads < 1 || threads > 2) {
                usage();
            }
        } else if (!strcmp(a, "--repeat") && i + 1 < argc) {
            repeat = atoi(argv[++i]);
            if (repeat < 1) {
                usage();
            }
        } else if (a[0] == '-' || path) {
            usage();
        } else {
            path = a;
        }
    }
    if (!path) {
        usage();
    }

    long rss_before = peak_rss_kib();
    struct run best = {0};
    double all[64];
    int nall = 0;
    for (int i = 0; i < repeat; i++) {
        struct run r = {0};
        int rc = replay(path, mode, use_mmap, threads, &r);
        if (rc < 0) {
            fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
            return 1;
        }
        if (nall < 64) {
            all[nall++] = r.secs;
        }
        if (i == 0 || r.secs < best.secs) {
            ks_free(best.ids);
            ks_buf_fini(&best.incidents);
            best = r;
        } else {
            ks_free(r.ids);
            ks_buf_fini(&r.incidents);
        }
    }

    static const char *mode_names[] = {"engine", "decode-only", "scan-only"};
    const struct run *r = &best;
    printf("kintsugi replay\n");
    printf("mode         %s\n", mode_names[mode]);
    printf("io           %s\n", use_mmap ? "mmap" : "read");
    printf("threads      %d\n", mode == MODE_ENGINE ? threads : 1);
    printf("file         %s\n", path);
    printf("bytes        %llu\n", (unsigned long long)r->bytes);
    printf("lines        %llu\n", (unsigned long long)r->lines);
    printf("rejected     %llu\n", (unsigned long long)r->rejected);
    if (r->rejected) {
        printf("first_reject %s\n", r->first_reject);
    }
    printf("runs_s      ");
    for (int i = 0; i < nall; i++) {
        printf(" %.3f", all[i]);
    }
    printf("\n");
    printf("seconds      %.3f\n", r->secs);
    printf("cpu_s        %.3f\n", r->cpu_secs);
    printf("engine_cpu_s %.3f\n", r->thread_cpu_secs);
    printf("mb_s         %.1f\n", (double)r->bytes / 1e6 / r->secs);
    printf("lines_s      %.0f\n", (double)r->lines / r->secs);
    if (mode == MODE_DECODE) {
        printf("fast_hits    %llu\n", (unsigned long long)r->fast_hits);
    }
    if (mode == MODE_ENGINE) {
        const struct ks_engine_stats *st = &r->st;
        printf("events       %llu\n", (unsigned long long)st->events);
        printf("events_s     %.0f\n", (double)st->events / r->secs);
        printf("pairs        %llu\n", (unsigned long long)st->pairs);
        printf("pair_bytes   %llu\n", (unsigned long long)st->pair_bytes);
        printf("state_bytes  %llu\n", (unsigned long long)st->state_bytes);
        if (st->pairs) {
            printf("b_per_pair   %.1f\n", (double)st->pair_bytes / (double)st->pairs);
            printf("state_per_pair %.1f\n", (double)st->state_bytes / (double)st->pairs);
        }
        printf("incidents_opened %llu\n", (unsigned long long)st->incidents_opened);
        printf("escalations  %llu\n", (unsigned long long)st->escalations);
    }
    printf("rss_start_kib %ld\n", rss_before);
    printf("peak_rss_kib %ld\n", peak_rss_kib());
    printf("peak_anon_kib %ld\n", r->peak_anon_kib);
    printf("rss_end_kib  %ld\n", r->rss_end_kib);
    if (r->incidents.len) {
        fputs(r->incidents.p, stdout);
    }
    printf("command     ");
    for (int i = 0; i < argc; i++) {
        printf(" %s", argv[i]);
    }
    printf("\n");
    ks_free(best.ids);
    ks_buf_fini(&best.incidents);
    return 0;
}
