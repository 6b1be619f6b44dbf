/*
 * intake.h - the lines of an input, found and decoded ahead of the engine.
 *
 * The engine is sequential: every line must reach it in order, on one
 * thread. Finding the lines and decoding them is not: with two threads, a
 * worker splits the buffer and runs the specialised inventory decoder
 * (ks_event_decode_fast_next) up to 64 Ki lines ahead, and the caller's
 * thread only feeds the engine; with one, the caller's thread decodes a
 * batch of 512 lines the same way before it feeds them. What reaches the
 * engine is the same either way: a
 * line the fast decoder took comes with its event, any other line (other
 * types, blank lines, lines with escapes, bad lines) comes without one and
 * the engine decodes it itself, exactly as ks_engine_event always does. The
 * worker only reads the buffer and writes its own ring of decoded batches;
 * it allocates nothing and never touches the engine. Lines are handed over
 * a batch at a time (struct ks_line, event.h), which the caller passes to
 * ks_engine_lines whole: no per-line call between the ring and the engine.
 *
 * Used by `kintsugi ingest` and by the replay benchmark. The differential
 * test (tests/unit/test_intake.c) feeds every scenario through one and two
 * threads and compares the engines' output byte for byte.
 */
#ifndef KS_INTAKE_H
#define KS_INTAKE_H

#include "../core/core.h"
#include "../event/event.h"

struct ks_intake;

/* threads: 1 (everything on the caller's thread) or 2 (a worker decodes
 * ahead). Buffers shorter than min_parallel bytes are handled on the
 * caller's thread whatever threads says: starting the worker costs more
 * than it saves on a few lines. KS_INTAKE_MIN_PARALLEL is the default. */
#define KS_INTAKE_MIN_PARALLEL (256u << 10)
struct ks_intake *ks_intake_new(int threads, size_t min_parallel);
void ks_intake_free(struct ks_intake *in);
/* The number of threads for intake: $KINTSUGI_INTAKE_THREADS when it is 1
 * or 2, else 2 where there are at least two online processors, else 1. */
int ks_intake_threads_default(void);

/*
 * Called for every batch of lines, lines[0, n) with n >= 1, in order, on the
 * caller's thread. A line comes packed with the fast decoder's event, or
 * unpacked for the engine to decode (other types, bad lines, and the rare
 * fast lines with a source or a location, or over 64 KiB). The array is
 * valid during the call only.
 * same_prev is meant for ks_engine_lines, which relies on being handed
 * every line of the buffer in order. Returns 0 having taken every line;
 * a nonzero value stops the intake after *taken lines (1 to n; the others
 * were not taken), and ks_intake_lines returns it.
 */
typedef int (*ks_intake_fn)(void *arg, const struct ks_line *lines, size_t n, size_t *taken);

/*
 * Hands every line of buf[0, len) that ends with '\n' to fn, in order; with
 * last set, the bytes after the final '\n' (if any) are one more line.
 * *used gets the bytes consumed (through the last newline handed over, or
 * len with last set). Returns 0, or the first nonzero value fn returned (no
 * line after the last it took is handed over, and *used ends after that one).
 */
int ks_intake_lines(struct ks_intake *in, const char *buf, size_t len, int last, ks_intake_fn fn,
                    void *arg, size_t *used);

/*
 * Reads fd to its end and hands every line to fn in order, as
 * ks_intake_lines does for a buffer; the reading happens on the worker
 * thread too (with two threads), into NCHUNK fixed buffers of 4 MiB taken in
 * turn, so memory stays bounded whatever the input and the caller's thread
 * only feeds the engine. Lines of one batch lie one after the other in one
 * buffer. A UTF-8 byte-order mark at the start is skipped (*bom = 1). A line
 * longer than KS_LINE_MAX is not handed to fn: long_fn gets its first
 * KS_INTAKE_LONG_KEEP bytes, its true length and whether a newline ended it,
 * in its place in the order. Returns 0 at the end of the input, the first
 * nonzero value fn or long_fn returned, or -1 with errno set when a read
 * failed (EINTR is retried unless *stop_flag is set).
 */
#define KS_INTAKE_LONG_KEEP (64u << 10)
typedef int (*ks_intake_long_fn)(void *arg, const char *head, size_t head_len, uint64_t total,
                                 int newline);
int ks_intake_fd(struct ks_intake *in, int fd, ks_intake_fn fn, ks_intake_long_fn long_fn,
                 void *arg, const volatile int *stop_flag, int *bom);

#endif
