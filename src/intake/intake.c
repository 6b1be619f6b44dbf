/*
 * intake.c - lines found and decoded on a worker thread, handed to the
 * caller in order (see intake.h).
 *
 * One producer, one consumer, a ring of SLOTS batches of up to BATCH lines.
 * The worker fills batch k (the lines, and for each line the fast decoder
 * took, the head of its event), then publishes k + 1 in `produced`; the
 * caller reads batches up to `produced` and publishes how far it got in
 * `consumed`, which frees the slots for the worker. The counters are
 * sequentially consistent atomics (a store per batch of 512 lines), which
 * orders the batch contents with them.
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
#define SLOTS 16
#define SPINS 4096

struct batch {
    uint32_t n;
    int end; /* no line after this batch */
    const char *line[BATCH];
    size_t len[BATCH];
    uint8_t fast[BATCH];
    /* Cleared once; the worker writes the heads only (ks_event_decode_fast_head),
     * so each is a whole event the caller can hand over as it is. */
    struct ks_event ev[BATCH];
};

struct ks_intake {
    int threads;
    size_t min_parallel;
    struct ks_decoder *dec; /* the worker's own */
    struct batch *ring;

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
            int fast = ks_event_decode_fast_next(in->dec, p, end, &b->ev[n], &nl) == KS_OK;
            if (!nl && !in->last) {
                done = 1; /* an unfinished line: left to the next call */
                break;
            }
            const char *le = nl ? nl : end;
            b->line[n] = p;
            b->len[n] = (size_t)(le - p);
            b->fast[n] = (uint8_t)fast;
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

/* Every line on the caller's thread, none decoded ahead. */
static int serial(const char *buf, size_t len, int last, ks_intake_fn fn, void *arg, size_t *used)
{
    const char *p = buf, *end = buf + len;
    *used = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl && !last) {
            break;
        }
        const char *le = nl ? nl : end;
        int rc = fn(arg, p, (size_t)(le - p), NULL);
        p = nl ? nl + 1 : end;
        *used = (size_t)(p - buf);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

struct ks_intake *ks_intake_new(int threads, size_t min_parallel)
{
    struct ks_intake *in = ks_calloc(1, sizeof(*in));
    in->threads = threads >= 2 ? 2 : 1;
    in->min_parallel = min_parallel;
    if (in->threads == 2) {
        in->dec = ks_decoder_new();
        in->ring = ks_malloc(SLOTS * sizeof(struct batch));
        for (size_t k = 0; k < SLOTS; k++) {
            for (size_t i = 0; i < BATCH; i++) {
                ks_event_clear(&in->ring[k].ev[i]);
            }
        }
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
        ks_free(in->ring);
        ks_decoder_free(in->dec);
    }
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
        return serial(buf, len, last, fn, arg, used);
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
        return serial(buf, len, last, fn, arg, used); /* no thread: the same lines, slower */
    }
    int rc = 0, end = 0;
    *used = 0;
    for (uint64_t k = 0; !end && !rc; k++) {
        wait_for(in, batch_ready, k, &in->caller_sleeps);
        const struct batch *b = &in->ring[k % SLOTS];
        uint32_t i = 0;
        while (i < b->n && !rc) {
            rc = fn(arg, b->line[i], b->len[i], b->fast[i] ? &b->ev[i] : NULL);
            i++;
        }
        if (i > 0) { /* through the newline of the last line handed over */
            size_t at = (size_t)(b->line[i - 1] - buf) + b->len[i - 1];
            *used = at < len ? at + 1 : len;
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
