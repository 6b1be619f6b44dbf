/* progress.c - an ingest's progress on a terminal (cmd_ingest, cmd_demo),
 * and a delivery's (ingest, `messages deliver`, `hooks deliver`). */
#include "../shell/shell.h"
#include "cli.h"

#include <string.h>

/* The last time the line was drawn (one ingest at a time per process). */
static ks_time last_drawn;

static void show(struct ks_progress *p, const struct ks_engine *e, int final)
{
    ks_time now = ks_time_now();
    if (!final && now - last_drawn < 250) {
        return;
    }
    last_drawn = now;
    struct ks_engine_stats st;
    ks_engine_stats(e, &st);
    char ev[32], inc[32];
    if (p->total_bytes) {
        fprintf(stderr, "\r  ingest: %5.1f %% of %.1f MB, %s events, %llu rejected, %s incidents ",
                100.0 * (double)p->done_bytes / (double)p->total_bytes,
                (double)p->total_bytes / 1e6, ks_fmt_count(st.events, ev),
                (unsigned long long)st.rejected, ks_fmt_count((uint64_t)st.incidents, inc));
    } else {
        fprintf(stderr, "\r  ingest: %.1f MB, %s events, %llu rejected, %s incidents ",
                (double)p->done_bytes / 1e6, ks_fmt_count(st.events, ev),
                (unsigned long long)st.rejected, ks_fmt_count((uint64_t)st.incidents, inc));
    }
    if (final) {
        fputc('\n', stderr);
    }
}

/* On a terminal, the first rejections are printed and the rest counted: a
 * file with thousands of bad lines would push everything else off the
 * screen. Redirected (no terminal), every one is printed. */
#define REJECTS_SHOWN 20
static uint64_t rejects_seen;

/* A rejection starts at the beginning of the progress line it overwrites. */
static void reject(struct ks_progress *p, const char *input, int64_t lineno, const char *reason)
{
    (void)p;
    if (++rejects_seen <= REJECTS_SHOWN) {
        fprintf(stderr, "\r%s:%lld: %s\n", input, (long long)lineno, reason);
    } else if (rejects_seen == REJECTS_SHOWN + 1) {
        fprintf(stderr, "\r%s:%lld and further rejected lines are counted, not printed here: "
                        "every one is a dead letter ('kintsugi deadletters'); with stderr "
                        "redirected each is printed\n",
                input, (long long)lineno);
    }
}

void ks_cli_progress(struct ks_progress *pg, int tty)
{
    pg->show = tty ? show : NULL;
    pg->reject = tty ? reject : NULL;
    pg->ctx = NULL;
    last_drawn = 0;
    rejects_seen = 0;
}

void ks_cli_progress_end(struct ks_progress *pg, const struct ks_engine *e)
{
    if (pg->show) {
        pg->show(pg, e, 1);
    }
}

/* ---- a delivery: one line per outbox, redrawn as attempts are recorded ---- */

static struct {
    const char *what; /* the outbox of the line drawn, NULL: none yet */
    unsigned ok, retrying, failed, unconfigured;
} dl;

static void draw_delivery(int final)
{
    char a[32], b[32], c[32];
    fprintf(stderr, "\r  %s: %s delivered, %s to retry, %s failed", dl.what,
            ks_fmt_count(dl.ok, a), ks_fmt_count(dl.retrying, b), ks_fmt_count(dl.failed, c));
    if (dl.unconfigured) {
        fprintf(stderr, ", %s not configured", ks_fmt_count(dl.unconfigured, a));
    }
    fputc(' ', stderr);
    if (final) {
        fputc('\n', stderr);
    }
}

static void delivered(void *ctx, const char *what, unsigned ok, unsigned retrying,
                      unsigned failed, unsigned unconfigured)
{
    (void)ctx;
    if (dl.what && strcmp(dl.what, what) != 0) {
        draw_delivery(1); /* the hook calls' line ends, the messages' begins */
    }
    int first = !dl.what || strcmp(dl.what, what) != 0;
    dl.what = what;
    dl.ok = ok;
    dl.retrying = retrying;
    dl.failed = failed;
    dl.unconfigured = unconfigured;
    ks_time now = ks_time_now();
    if (first || now - last_drawn >= 250) {
        last_drawn = now;
        draw_delivery(0);
    }
}

void ks_cli_delivery_progress(struct ks_shell *a, int tty)
{
    memset(&dl, 0, sizeof(dl));
    a->delivered = tty ? delivered : NULL;
    a->delivered_ctx = NULL;
}

void ks_cli_delivery_end(void)
{
    if (dl.what) {
        draw_delivery(1);
        dl.what = NULL;
    }
}

/* The shell returns the exit codes the commands return. */
_Static_assert(KS_SHELL_OK == KS_EXIT_OK && KS_SHELL_FAIL == KS_EXIT_FAIL &&
                   KS_SHELL_USAGE == KS_EXIT_USAGE,
               "the shell's results are the exit codes of SPEC section 8");
