/*
 * intake.c - lines found and decoded on a worker thread, handed to the
 * caller in order (see intake.h).
 *
 * One producer, one consumer, a ring of SLOTS batches of up to BATCH lines.
 * The worker fills batch k (each line, and for a line the fast decoder
 * took, its event packed into the line's 64-byte struct ks_line), then
 * publishes k + 1 in `produced`; the caller hands batches up to `produced`
 * to fn as they are, and publishes how far it got in `consumed`, which
 * frees them for the worker. The counters are
 * sequentially consistent atomics (a store per batch of 512 lines), which
 * orders the batch contents with them.
 *
 * The ring holds 64 Ki lines (4 MiB): when an update closes, the engine
 * spends a few milliseconds on the update's SKUs without taking a line,
 * and the worker goes on decoding into the ring meanwhile instead of
 * waiting (measured in bench/: 16 batches of whole events, 8 Ki lines,
 * left the worker idle through every close).
 *
 * A side with nothing to do spins briefly (the other side is usually a few
 * microseconds from a batch), then sleeps on a condition variable. The
 * sleeper raises its flag and checks its condition again; the other side
 * publishes its counter and then reads the flag. Both are sequentially
 * consistent, so at least one of them sees the other's store and no wakeup
 * is lost. A slow consumer (ingest committing a chunk to SQLite) therefore
 * costs the worker no CPU.
 */
#include "intake.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH 512
#define SLOTS 128
#define SPINS 4096
/* ks_intake_fd reads into NCHUNK buffers of CHUNK bytes in turn, each with
 * room for the unfinished line carried over from the one before. */
#define CHUNK (4u << 20)
#define NCHUNK 4
#define CHUNK_CAP (CHUNK + KS_LINE_MAX + 1)

/* A line over 64 KiB, or one with a source or location, goes without its
 * event (ks_line_pack) and the engine decodes it: such lines are rare, and
 * canonical ones have neither. */
enum batch_kind { BK_LINES, BK_LONG, BK_ERROR };
struct batch {
    struct ks_line s[BATCH]; /* first: the ring is 64-byte aligned, so is each line */
    uint32_t n;
    int end;  /* no line after this batch */
    int kind; /* enum batch_kind */
    int err;  /* BK_ERROR: the read's errno */
    const char *long_head; /* BK_LONG: the skipped line's start, long_len bytes of it */
    size_t long_len;
    uint64_t long_total; /* its length */
    int long_newline;    /* it ended with a newline (else the input ended) */
    char pad[20];
};
_Static_assert(sizeof(struct batch) % 64 == 0, "batches keep the lines aligned");

struct ks_intake {
    int threads;
    size_t min_parallel;
    struct ks_decoder *dec; /* the decoding side's own (the worker's, or the caller's) */
    struct batch *ring;     /* 64-byte aligned inside ring_mem */
    void *ring_mem;
    struct ks_line *one; /* BATCH lines for the caller's thread alone */
    struct ks_event wev; /* the decoding side's event: cleared once, heads decoded into it */

    /* one ks_intake_lines call */
    const char *buf;
    size_t len;
    int last;
    /* one ks_intake_fd call */
    int fd;
    int threaded;
    const volatile int *stop_flag;
    char *chunks[NCHUNK];
    uint64_t chunk_end[NCHUNK]; /* batches that use the chunk: those before this one */
    uint64_t k;                  /* the producer's next batch */
    struct batch *serial_batch;
    ks_intake_fn fn;
    ks_intake_long_fn long_fn;
    void *arg;
    int rc;
    int bom;
    _Atomic uint64_t produced, consumed;
    atomic_int stop;
    atomic_int worker_sleeps, caller_sleeps;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Waits until ready(in, k) holds; *flag is this side's sleeping flag. */
static void wait_for(struct ks_intake *in, int (*ready)(struct ks_intake *, uint64_t), uint64_t k,
                     atomic_int *flag)
{
    for (int i = 0; i < SPINS; i++) {
        if (ready(in, k)) {
            return;
        }
        cpu_relax();
    }
    pthread_mutex_lock(&in->mu);
    atomic_store(flag, 1);
    while (!ready(in, k)) {
        pthread_cond_wait(&in->cv, &in->mu);
    }
    atomic_store(flag, 0);
    pthread_mutex_unlock(&in->mu);
}

/* After publishing: wakes the other side if it sleeps. */
static void wake(struct ks_intake *in, atomic_int *flag)
{
    if (atomic_load(flag)) {
        pthread_mutex_lock(&in->mu);
        pthread_cond_broadcast(&in->cv);
        pthread_mutex_unlock(&in->mu);
    }
}

static int slot_free(struct ks_intake *in, uint64_t k)
{
    return k - atomic_load(&in->consumed) < SLOTS || atomic_load(&in->stop);
}

static int batch_ready(struct ks_intake *in, uint64_t k)
{
    return atomic_load(&in->produced) > k;
}

/* Chunk c may be filled again: every batch that pointed into it is consumed. */
static int chunk_free(struct ks_intake *in, uint64_t c)
{
    return atomic_load(&in->consumed) >= in->chunk_end[c] || atomic_load(&in->stop);
}

static void *worker(void *arg)
{
    struct ks_intake *in = arg;
    const char *p = in->buf, *end = in->buf + in->len;
    int done = 0;
    ks_decoder_new_buffer(in->dec);
    for (uint64_t k = 0; !done; k++) {
        wait_for(in, slot_free, k, &in->worker_sleeps);
        if (atomic_load_explicit(&in->stop, memory_order_relaxed)) {
            break;
        }
        struct batch *b = &in->ring[k % SLOTS];
        uint32_t n = 0;
        while (n < BATCH) {
            if (p >= end) {
                done = 1;
                break;
            }
            const char *nl;
            ks_line_decode_next(in->dec, p, end, &b->s[n], &in->wev, &nl);
            if (!nl && !in->last) {
                done = 1; /* an unfinished line: left to the next call */
                break;
            }
            n++;
            p = nl ? nl + 1 : end;
        }
        b->n = n;
        b->end = done;
        atomic_store(&in->produced, k + 1);
        wake(in, &in->caller_sleeps);
    }
    return NULL;
}

/* Where the bytes handed over end: after line l's newline, or at len. */
static size_t used_through(const char *buf, size_t len, const struct ks_line *l)
{
    size_t at = (size_t)(l->p - buf) + l->len;
    return at < len ? at + 1 : len;
}

/* Hands lines[0, n) to fn; *used and the return as ks_intake_lines. */
static int hand_over(const char *buf, size_t len, const struct ks_line *lines, size_t n,
                     ks_intake_fn fn, void *arg, size_t *used)
{
    size_t taken = n;
    int rc = fn(arg, lines, n, &taken);
    if (!rc) {
        taken = n;
    }
    KS_ASSERT(taken >= 1 && taken <= n);
    *used = used_through(buf, len, &lines[taken - 1]);
    return rc;
}

/* Every line on the caller's thread: a batch found and decoded (the worker's
 * ks_line_decode_next), then handed over, so that the engine takes packed
 * lines on one thread as on two, and can look ahead in the batch (an id's
 * slot in the table of ids seen is prefetched a few lines early). */
static int serial(struct ks_intake *in, const char *buf, size_t len, int last, ks_intake_fn fn,
                  void *arg, size_t *used)
{
    const char *p = buf, *end = buf + len;
    *used = 0;
    size_t n = 0;
    ks_decoder_new_buffer(in->dec);
    while (p < end) {
        const char *nl;
        ks_line_decode_next(in->dec, p, end, &in->one[n], &in->wev, &nl);
        if (!nl && !last) {
            break;
        }
        p = nl ? nl + 1 : end;
        if (++n == BATCH) {
            int rc = hand_over(buf, len, in->one, n, fn, arg, used);
            if (rc) {
                return rc;
            }
            n = 0;
        }
    }
    return n ? hand_over(buf, len, in->one, n, fn, arg, used) : 0;
}

struct ks_intake *ks_intake_new(int threads, size_t min_parallel)
{
    struct ks_intake *in = ks_calloc(1, sizeof(*in));
    in->threads = threads >= 2 ? 2 : 1;
    in->min_parallel = min_parallel;
    in->one = ks_malloc(BATCH * sizeof(struct ks_line));
    in->dec = ks_decoder_new();
    ks_event_clear(&in->wev);
    if (in->threads == 2) {
        in->ring_mem = ks_malloc(SLOTS * sizeof(struct batch) + 64);
        in->ring = (struct batch *)(((uintptr_t)in->ring_mem + 63) & ~(uintptr_t)63);
        pthread_mutex_init(&in->mu, NULL);
        pthread_cond_init(&in->cv, NULL);
    }
    return in;
}

void ks_intake_free(struct ks_intake *in)
{
    if (!in) {
        return;
    }
    if (in->threads == 2) {
        pthread_mutex_destroy(&in->mu);
        pthread_cond_destroy(&in->cv);
        ks_free(in->ring_mem);
    }
    for (int c = 0; c < NCHUNK; c++) {
        ks_free(in->chunks[c]);
    }
    ks_free(in->serial_batch);
    ks_decoder_free(in->dec);
    ks_free(in->one);
    ks_free(in);
}

int ks_intake_threads_default(void)
{
    const char *env = getenv("KINTSUGI_INTAKE_THREADS");
    if (env && (!strcmp(env, "1") || !strcmp(env, "2"))) {
        return env[0] - '0';
    }
    return sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? 2 : 1;
}

int ks_intake_lines(struct ks_intake *in, const char *buf, size_t len, int last, ks_intake_fn fn,
                    void *arg, size_t *used)
{
    pthread_t th;
    if (in->threads < 2 || len < in->min_parallel) {
        return serial(in, buf, len, last, fn, arg, used);
    }
    in->buf = buf;
    in->len = len;
    in->last = last;
    atomic_store(&in->produced, 0);
    atomic_store(&in->consumed, 0);
    atomic_store(&in->stop, 0);
    atomic_store(&in->worker_sleeps, 0);
    atomic_store(&in->caller_sleeps, 0);
    if (pthread_create(&th, NULL, worker, in) != 0) {
        return serial(in, buf, len, last, fn, arg, used); /* no thread: the same lines, slower */
    }
    int rc = 0, end = 0;
    *used = 0;
    for (uint64_t k = 0; !end && !rc; k++) {
        wait_for(in, batch_ready, k, &in->caller_sleeps);
        const struct batch *b = &in->ring[k % SLOTS];
        if (b->n > 0) {
            rc = hand_over(buf, len, b->s, b->n, fn, arg, used);
        }
        end = b->end;
        atomic_store(&in->consumed, k + 1);
        wake(in, &in->worker_sleeps);
    }
    if (rc) {
        atomic_store(&in->stop, 1);
        wake(in, &in->worker_sleeps);
    }
    pthread_join(th, NULL);
    return rc;
}

/* ---- reading a file descriptor ---------------------------------------------- */

/* The producer's next batch to fill: a ring slot (threaded, waiting for it
 * to be free) or the caller's own. NULL when told to stop. */
static struct batch *slot(struct ks_intake *in)
{
    if (!in->threaded) {
        return in->rc ? NULL : in->serial_batch;
    }
    wait_for(in, slot_free, in->k, &in->worker_sleeps);
    if (atomic_load(&in->stop)) {
        return NULL;
    }
    return &in->ring[in->k % SLOTS];
}

/* Hands a filled batch to the consumer. */
static void consume(struct ks_intake *in, const struct batch *b);

/* Publishes the batch slot() gave. Returns nonzero when the producer should
 * stop. */
static int publish(struct ks_intake *in, struct batch *b)
{
    in->k++;
    if (!in->threaded) {
        consume(in, b);
        return in->rc != 0;
    }
    atomic_store(&in->produced, in->k);
    wake(in, &in->caller_sleeps);
    return atomic_load(&in->stop) != 0;
}

/* Publishes a batch of no lines: the end, or a read error. */
static void finish(struct ks_intake *in, int err)
{
    struct batch *b = slot(in);
    if (b) {
        b->n = 0;
        b->end = 1;
        b->kind = err ? BK_ERROR : BK_LINES;
        b->err = err;
        publish(in, b);
    }
}

/* Reads into buf[*len, cap) until at least want bytes are there or the input
 * ends (*eof). Returns 0 or an errno. */
static int fill(struct ks_intake *in, char *buf, size_t *len, size_t want, size_t cap, int *eof)
{
    while (!*eof && *len < want) {
        ssize_t n = read(in->fd, buf + *len, cap - *len);
        if (n < 0) {
            if (errno == EINTR && !(in->stop_flag && *in->stop_flag)) {
                continue;
            }
            return errno;
        }
        *eof = n == 0;
        *len += (size_t)n;
    }
    return 0;
}

/* The lines of buf[0, len), complete ones (or all with eof), in batches,
 * each found and decoded in one scan (ks_line_decode_next) on one thread as
 * on two: with one, finding the lines with memchr and leaving the engine to
 * decode them was measured 1.16 x slower (docs/PERFORMANCE.md).
 * Returns where the unfinished line starts, or NULL when told to stop. */
static const char *lines_of(struct ks_intake *in, const char *p, const char *end, int eof)
{
    struct batch *b = NULL;
    uint32_t n = 0;
    ks_decoder_new_buffer(in->dec);
    while (p < end) {
        if (!b && !(b = slot(in))) {
            return NULL;
        }
        const char *nl;
        ks_line_decode_next(in->dec, p, end, &b->s[n], &in->wev, &nl);
        if (!nl && !eof) {
            break;
        }
        if (b->s[n].len > KS_LINE_MAX) {
            /* Over-long, yet whole in the buffer: handed on like one that is
             * not, after the lines before it. */
            size_t long_len = b->s[n].len;
            if (n) {
                b->n = n;
                b->end = 0;
                b->kind = BK_LINES;
                if (publish(in, b) || !(b = slot(in))) {
                    return NULL;
                }
                n = 0;
            }
            b->n = 0;
            b->end = 0;
            b->kind = BK_LONG;
            b->long_head = p;
            b->long_len = KS_INTAKE_LONG_KEEP;
            b->long_total = long_len;
            b->long_newline = nl != NULL;
            if (publish(in, b)) {
                return NULL;
            }
            b = NULL;
            p = nl ? nl + 1 : end;
            continue;
        }
        n++;
        p = nl ? nl + 1 : end;
        if (n == BATCH) {
            b->n = n;
            b->end = 0;
            b->kind = BK_LINES;
            if (publish(in, b)) {
                return NULL;
            }
            b = NULL;
            n = 0;
        }
    }
    if (n) {
        b->n = n;
        b->end = 0;
        b->kind = BK_LINES;
        if (publish(in, b)) {
            return NULL;
        }
    }
    return p;
}

/* The producer: chunk after chunk, each starting with the unfinished line
 * of the one before. A line that would not fit (over KS_LINE_MAX) is read
 * through into the next chunk and only its start and length handed on. */
static void produce(struct ks_intake *in)
{
    const char *carry = NULL;
    size_t carry_n = 0, have = 0;
    int eof = 0, first = 1, in_place = 0;
    for (uint64_t j = 0;; j++) {
        uint64_t c = j % NCHUNK;
        char *buf = in->chunks[c];
        if (!in_place) {
            if (in->threaded) {
                wait_for(in, chunk_free, c, &in->worker_sleeps);
            }
            if (atomic_load(&in->stop) || (!in->threaded && in->rc)) {
                return;
            }
            if (carry_n) {
                memmove(buf, carry, carry_n);
            }
            have = carry_n;
        }
        in_place = 0;
        int err = fill(in, buf, &have, CHUNK, CHUNK_CAP, &eof);
        if (err) {
            finish(in, err);
            return;
        }
        const char *p = buf, *end = buf + have;
        if (first) {
            first = 0;
            if (have >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
                p += 3; /* a UTF-8 byte-order mark is not part of the first line */
                in->bom = 1;
            }
        }
        p = lines_of(in, p, end, eof);
        if (!p) {
            return;
        }
        size_t rest = (size_t)(end - p);
        if (eof || (rest == 0 && have == 0)) {
            in->chunk_end[c] = in->k;
            finish(in, 0);
            return;
        }
        if (rest <= KS_LINE_MAX) {
            in->chunk_end[c] = in->k;
            carry = p;
            carry_n = rest;
            continue;
        }
        /* An over-long line: its start stays here, the rest is read through
         * the next chunk, which then goes on after the line's newline. */
        uint64_t c2 = (j + 1) % NCHUNK;
        char *next = in->chunks[c2];
        if (in->threaded) {
            wait_for(in, chunk_free, c2, &in->worker_sleeps);
        }
        uint64_t total = rest;
        size_t after = 0;
        int newline = 0;
        while (!newline && !eof) {
            size_t got = 0;
            if ((err = fill(in, next, &got, 1, CHUNK, &eof)) != 0) {
                finish(in, err);
                return;
            }
            char *nl = got ? memchr(next, '\n', got) : NULL;
            if (nl) {
                newline = 1;
                total += (uint64_t)(nl - next);
                after = got - (size_t)(nl + 1 - next);
                memmove(next, nl + 1, after);
            } else {
                total += got;
            }
        }
        struct batch *b = slot(in);
        if (!b) {
            return;
        }
        b->n = 0;
        b->end = 0;
        b->kind = BK_LONG;
        b->long_head = p;
        b->long_len = KS_INTAKE_LONG_KEEP;
        b->long_total = total;
        b->long_newline = newline;
        if (publish(in, b)) {
            return;
        }
        in->chunk_end[c] = in->k;
        if (!newline) {
            finish(in, 0);
            return;
        }
        have = after;
        in_place = 1;
    }
}

static void consume(struct ks_intake *in, const struct batch *b)
{
    if (in->rc) {
        return;
    }
    if (b->kind == BK_LINES && b->n > 0) {
        size_t taken = b->n;
        in->rc = in->fn(in->arg, b->s, b->n, &taken);
    } else if (b->kind == BK_LONG) {
        in->rc = in->long_fn(in->arg, b->long_head, b->long_len, b->long_total, b->long_newline);
    } else if (b->kind == BK_ERROR) {
        errno = b->err;
        in->rc = -1;
    }
}

static void *fd_worker(void *arg)
{
    struct ks_intake *in = arg;
    /* Signals go to the caller's thread, which decides what they mean. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    produce(in);
    return NULL;
}

int ks_intake_fd(struct ks_intake *in, int fd, ks_intake_fn fn, ks_intake_long_fn long_fn,
                 void *arg, const volatile int *stop_flag, int *bom)
{
    in->fd = fd;
    in->fn = fn;
    in->long_fn = long_fn;
    in->arg = arg;
    in->stop_flag = stop_flag;
    in->rc = 0;
    in->bom = 0;
    in->k = 0;
    for (int c = 0; c < NCHUNK; c++) {
        if (!in->chunks[c]) {
            in->chunks[c] = ks_malloc(CHUNK_CAP);
        }
        in->chunk_end[c] = 0;
    }
    atomic_store(&in->produced, 0);
    atomic_store(&in->consumed, 0);
    atomic_store(&in->stop, 0);
    atomic_store(&in->worker_sleeps, 0);
    atomic_store(&in->caller_sleeps, 0);
    pthread_t th;
    in->threaded = in->threads == 2; /* read by the worker: set before it starts */
    if (in->threaded && pthread_create(&th, NULL, fd_worker, in) != 0) {
        in->threaded = 0; /* no thread: the same lines, slower */
    }
    if (!in->threaded) {
        if (!in->serial_batch) {
            in->serial_batch = ks_malloc(sizeof(struct batch));
        }
        produce(in);
    } else {
        int end = 0;
        for (uint64_t k = 0; !end && !in->rc; k++) {
            wait_for(in, batch_ready, k, &in->caller_sleeps);
            const struct batch *b = &in->ring[k % SLOTS];
            consume(in, b);
            end = b->end;
            atomic_store(&in->consumed, k + 1);
            wake(in, &in->worker_sleeps);
        }
        if (in->rc) {
            atomic_store(&in->stop, 1);
            wake(in, &in->worker_sleeps);
        }
        pthread_join(th, NULL);
    }
    *bom = in->bom;
    return in->rc;
}
