/*
 * ingest.c - reading an input into the engine: where each input stands (its
 * position, saved with every checkpoint, so that the same ingest resumes),
 * the intake that splits and decodes lines ahead of the engine, and the
 * rhythm of writes (effects every chunk, the state every 30 s and at the
 * end, and on a stop signal).
 */
#include "shell.h"

#include "../intake/intake.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Effects are written every CHUNK_BYTES of input (or CHUNK_LINES lines);
 * the engine state, which may be hundreds of MB, every CHECKPOINT_EVERY of
 * wall time and at the end: an interrupted run resumes from the last one. */
#define CHUNK_BYTES (16u << 20)
#define CHUNK_LINES (128u << 10)
#define CHECKPOINT_EVERY (30 * KS_SEC)
/* A file is known again by the hash of its first bytes (up to this many). */
#define PREFIX_BYTES (64u << 10)

/* ---- inputs and their positions ------------------------------------------------ */

volatile int ks_shell_stop_signal;

static void on_stop(int sig)
{
    ks_shell_stop_signal = sig;
}

void ks_shell_stop_on_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocking read or lock wait returns EINTR and the loop
     * sees the flag. */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* The hash of fd's first n bytes (read with pread: the position stays). */
static int prefix_hash(int fd, int64_t n, uint64_t *out)
{
    char *buf = ks_malloc(n > 0 ? (size_t)n : 1);
    ssize_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, buf + got, (size_t)(n - got), got);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            break;
        }
        got += k;
    }
    *out = got == n ? ks_hash(buf, (size_t)n) : 0;
    ks_free(buf);
    return got == n ? 0 : -1;
}

int ks_shell_input_open(struct ks_shell *sh, struct ks_input *in, int fd, const char *name,
                        int from_start)
{
    memset(in, 0, sizeof(*in));
    in->name = name;
    struct stat sb;
    char real[PATH_MAX];
    /* Standard input and pipes have no position to come back to. */
    if (strcmp(name, "-") == 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        !realpath(name, real)) {
        return KS_SHELL_OK;
    }
    in->path = ks_strdup(real);
    in->row.path = in->path;
    in->row.size = sb.st_size;
    struct ks_input_row old;
    int found = 0;
    struct ks_err err = {0};
    if (sh->store->ops->find_input(sh->store, in->path, &old, &found, &err) != KS_OK) {
        ks_shell_error("%s", err.msg);
        return KS_SHELL_FAIL;
    }
    uint64_t h;
    if (!from_start && found && old.offset <= sb.st_size && old.prefix_len <= sb.st_size &&
        prefix_hash(fd, old.prefix_len, &h) == 0 && h == old.prefix_hash) {
        in->row = old;
        in->row.path = in->path;
        in->row.size = sb.st_size;
        in->resumed = 1;
        if (lseek(fd, (off_t)old.offset, SEEK_SET) != (off_t)old.offset) {
            ks_shell_error("%s: cannot seek to byte %lld: %s", name, (long long)old.offset,
                           strerror(errno));
            return KS_SHELL_FAIL;
        }
        if (old.offset == sb.st_size) {
            fprintf(stderr,
                    "kintsugi: %s: already taken up to its end (line %lld); nothing new "
                    "(--from-start takes it again as a new input)\n",
                    name, (long long)old.line);
        } else if (old.offset > 0) {
            fprintf(stderr,
                    "kintsugi: %s: this database took it up to line %lld (byte %lld of "
                    "%lld); continuing after it (--from-start takes it again)\n",
                    name, (long long)old.line, (long long)old.offset, (long long)sb.st_size);
        }
        return KS_SHELL_OK;
    }
    /* A new input: known by its first bytes from now on. */
    in->row.prefix_len = sb.st_size < PREFIX_BYTES ? sb.st_size : PREFIX_BYTES;
    if (prefix_hash(fd, in->row.prefix_len, &in->row.prefix_hash) != 0) {
        ks_shell_error("%s: read failed: %s", name, strerror(errno));
        return KS_SHELL_FAIL;
    }
    return KS_SHELL_OK;
}

void ks_shell_input_fini(struct ks_input *in)
{
    ks_free(in->path);
    in->path = NULL;
}

struct positions {
    struct ks_input *ins;
    size_t n;
};

static enum ks_rc put_positions(struct ks_shell *sh, void *ctx, struct ks_err *err)
{
    struct positions *p = ctx;
    for (size_t i = 0; i < p->n; i++) {
        struct ks_input *in = &p->ins[i];
        if (in->path && sh->store->ops->put_input(sh->store, &in->row, err) != KS_OK) {
            return err->rc;
        }
    }
    return KS_OK;
}

int ks_shell_checkpoint(struct ks_shell *sh, struct ks_input *ins, size_t nins)
{
    struct positions p = {ins, nins};
    return ks_shell_flush_with(sh, 1, put_positions, &p);
}

/* ---- reading an input ------------------------------------------------------------ */

/* One ingest's position, for the line callback. */
struct ingest {
    struct ks_shell *sh;
    uint32_t input;
    struct ks_input *in;
    struct ks_input *ins;
    size_t nins;
    struct ks_progress *pg;
    size_t lines_in_chunk, bytes_in_chunk;
};

static void ingest_reject(void *arg, int64_t lineno, const struct ks_err *err)
{
    const struct ingest *g = arg;
    if (g->pg->reject) {
        g->pg->reject(g->pg, g->in->name, lineno, err->msg);
    } else {
        fprintf(stderr, "%s:%lld: %s\n", g->in->name, (long long)lineno, err->msg);
    }
}

/* CHECKPOINT_EVERY, or $KINTSUGI_CHECKPOINT_EVERY seconds (0: with every
 * chunk; the tests use it to stop runs between saves). */
static ks_time checkpoint_every(void)
{
    static ks_time every = -1;
    if (every < 0) {
        const char *env = getenv("KINTSUGI_CHECKPOINT_EVERY");
        char *end;
        double v = env && *env ? strtod(env, &end) : -1;
        every =
            env && *env && !*end && v >= 0 && v < 1e6 ? (ks_time)(v * KS_SEC) : CHECKPOINT_EVERY;
    }
    return every;
}

/* After every batch: effects every chunk, the state every CHECKPOINT_EVERY,
 * and on a stop signal. */
static int after_batch(struct ingest *g)
{
    struct ks_shell *sh = g->sh;
    if (ks_shell_stop_signal) {
        return ks_shell_checkpoint(sh, g->ins, g->nins) ? KS_SHELL_FAIL : KS_SHELL_STOPPED;
    }
    if (g->lines_in_chunk >= CHUNK_LINES || g->bytes_in_chunk >= CHUNK_BYTES) {
        int ck = ks_time_now() - sh->last_checkpoint >= checkpoint_every();
        if ((ck ? ks_shell_checkpoint(sh, g->ins, g->nins) : ks_shell_flush(sh, 0)) != 0) {
            return KS_SHELL_FAIL;
        }
        g->lines_in_chunk = g->bytes_in_chunk = 0;
        if (g->pg->show) {
            g->pg->show(g->pg, sh->eng, 0);
        }
    }
    return 0;
}

static int ingest_lines(void *arg, const struct ks_line *lines, size_t n, size_t *taken)
{
    struct ingest *g = arg;
    struct ks_input_row *pos = &g->in->row;
    ks_engine_lines(g->sh->eng, g->input, pos->line, lines, n, ingest_reject, g);
    pos->line += (int64_t)n;
    /* The batch's lines lie one after the other in the buffer; the last
     * line of an input may lack its newline. */
    size_t bytes = (size_t)(lines[n - 1].p + lines[n - 1].len + 1 - lines[0].p);
    pos->offset += (int64_t)bytes;
    if (pos->size && pos->offset > pos->size) {
        pos->offset = pos->size;
    }
    g->bytes_in_chunk += bytes;
    g->pg->done_bytes += bytes;
    g->lines_in_chunk += n;
    *taken = n;
    return after_batch(g);
}

/* A line longer than KS_LINE_MAX, skipped by the intake as it streamed. */
static int long_line(void *arg, const char *head, size_t head_len, uint64_t total, int newline)
{
    struct ingest *g = arg;
    struct ks_input_row *pos = &g->in->row;
    struct ks_err err;
    pos->line++;
    ks_engine_line_skipped(g->sh->eng, g->input, pos->line, head, head_len, total, &err);
    ingest_reject(g, pos->line, &err);
    pos->offset += (int64_t)total + newline;
    g->bytes_in_chunk += total;
    g->pg->done_bytes += total + (uint64_t)newline;
    g->lines_in_chunk++;
    return after_batch(g);
}

/* Reads one input and feeds its lines. Where the
 * machine has two cores, the input is read, split and decoded on a second
 * thread ahead of the engine (src/intake/); the result is the same either
 * way. The intake's buffers have a fixed size: a line that does not fit
 * (over 1 MiB) is skipped as it streams, so memory stays bounded whatever
 * the input. */
int ks_shell_ingest_fd(struct ks_shell *sh, int fd, struct ks_input *in, struct ks_input *ins,
                       size_t nins, struct ks_progress *pg)
{
    struct ingest g = {sh, ks_engine_input(sh->eng, in->name), in, ins, nins, pg, 0, 0};
    if (in->path && in->row.offset == 0) {
        /* A UTF-8 byte-order mark is not part of the first line; skipped here
         * for a file, so that positions count it. */
        char bom[3];
        if (pread(fd, bom, 3, 0) == 3 && memcmp(bom, "\xEF\xBB\xBF", 3) == 0 &&
            lseek(fd, 3, SEEK_SET) == 3) {
            in->row.offset = 3;
        }
    }
    pg->done_bytes += (uint64_t)in->row.offset;
    struct ks_intake *intake = ks_intake_new(ks_intake_threads_default(), KS_INTAKE_MIN_PARALLEL);
    int bom = 0;
    int rc = ks_intake_fd(intake, fd, ingest_lines, long_line, &g, &ks_shell_stop_signal, &bom);
    ks_intake_free(intake);
    if (rc == -1) {
        if (errno == EINTR && ks_shell_stop_signal) {
            return ks_shell_checkpoint(sh, ins, nins) ? KS_SHELL_FAIL : KS_SHELL_STOPPED;
        }
        ks_shell_error("%s: read failed: %s", in->name, strerror(errno));
        return KS_SHELL_FAIL;
    }
    return rc;
}
