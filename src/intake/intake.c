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

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH 512
#define SLOTS 128
#define SPINS 4096

/* A line over 64 KiB, or one with a source or location, goes without its
 * event (ks_line_pack) and the engine decodes it: such lines are rare, and
 * canonical ones have neither. */
struct batch {
    struct ks_line s[BATCH]; /* first: the ring is 64-byte aligned, so is each line */
    uint32_t n;
    int end; /* no line after this batch */
    char pad[56];
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
