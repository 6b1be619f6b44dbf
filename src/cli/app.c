/* app.c - configuration, store and engine for the commands; see app.h. */
#include "app.h"

#include "../intake/intake.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECKPOINT_KEY "engine"
#define CHUNK_BYTES (4u << 20)
#define CHUNK_LINES 65536

const char *ks_app_db(const char *opt)
{
    return opt ? opt : "kintsugi.db";
}

const char *ks_app_config_path(const char *opt)
{
    if (opt) {
        return opt;
    }
    const char *env = getenv("KINTSUGI_CONFIG");
    if (env && *env) {
        return env;
    }
    if (access("kintsugi.yaml", R_OK) == 0) {
        return "kintsugi.yaml";
    }
    return NULL;
}

int ks_app_open(struct ks_app *a, const char *config, const char *db, int flags)
{
    struct ks_err err = {0};
    int with_engine = flags & KS_APP_ENGINE;
    memset(a, 0, sizeof(*a));
    if (!(flags & KS_APP_CREATE) && strcmp(db, ":memory:") != 0 && strncmp(db, "postgres", 8) != 0 &&
        access(db, F_OK) != 0) {
        ks_cli_error("%s: no such database (kintsugi ingest creates it; --db names another)", db);
        return KS_EXIT_FAIL;
    }
    a->db = db;
    ks_config_defaults(&a->cfg);
    config = ks_app_config_path(config);
    if (config && ks_config_load(&a->cfg, config, &err) != KS_OK) {
        ks_cli_error("%s", err.msg);
        ks_config_fini(&a->cfg);
        return KS_EXIT_USAGE;
    }
    if (ks_store_open(&a->store, db, &err) != KS_OK) {
        ks_cli_error("%s", err.msg);
        ks_config_fini(&a->cfg);
        return err.rc == KS_EUSAGE ? KS_EXIT_USAGE : KS_EXIT_FAIL;
    }
    if (!with_engine) {
        return KS_EXIT_OK;
    }
    a->eng = ks_engine_new(&a->cfg);
    struct ks_buf blob = {0};
    int found = 0;
    if (a->store->ops->get_blob(a->store, CHECKPOINT_KEY, &blob, &found, &err) != KS_OK ||
        (found && ks_engine_load(a->eng, blob.p, blob.len, &err) != KS_OK)) {
        ks_cli_error("%s: %s", db, err.msg);
        ks_buf_fini(&blob);
        ks_app_close(a);
        return KS_EXIT_FAIL;
    }
    ks_buf_fini(&blob);
    return KS_EXIT_OK;
}

static enum ks_rc write_effects(struct ks_app *a, int checkpoint, struct ks_err *err)
{
    const struct ks_dead_effect *dl;
    size_t nd = ks_engine_dead(a->eng, &dl);
    for (size_t i = 0; i < nd; i++) {
        struct ks_deadletter d = {0};
        d.source = ks_engine_input_name(a->eng, dl[i].input);
        d.line = dl[i].line;
        d.reason = dl[i].reason;
        d.raw = dl[i].raw;
        d.raw_len = dl[i].raw_len;
        d.status = "pending";
        d.received_at = ks_time_now();
        if (a->store->ops->add_deadletter(a->store, &d, err) != KS_OK) {
            return err->rc;
        }
        a->dead_written++;
    }
    const struct ks_feed_effect *fe;
    size_t nf = ks_engine_feed(a->eng, &fe);
    for (size_t i = 0; i < nf; i++) {
        struct ks_feed_row r = {ks_engine_name(a->eng, fe[i].channel), (int64_t)fe[i].seq,
                                ks_engine_sku(a->eng, fe[i].sku), fe[i].qty, fe[i].at,
                                ks_feed_why_name((enum ks_feed_why)fe[i].why), fe[i].incident};
        if (a->store->ops->add_feed(a->store, &r, err) != KS_OK) {
            return err->rc;
        }
    }
    const struct ks_hook_effect *he;
    size_t nh = ks_engine_hooks(a->eng, &he);
    for (size_t i = 0; i < nh; i++) {
        struct ks_hook_row r = {he[i].key, he[i].incident, he[i].action, he[i].body, "pending",
                                0, ks_time_now(), NULL};
        if (a->store->ops->add_hook(a->store, &r, err) != KS_OK) {
            return err->rc;
        }
        a->hooks_queued++;
    }
    const int64_t *ids;
    size_t ni = ks_engine_dirty(a->eng, &ids);
    struct ks_buf sum = {0}, det = {0};
    enum ks_rc rc = KS_OK;
    for (size_t i = 0; i < ni && rc == KS_OK; i++) {
        struct ks_incident_meta m;
        ks_buf_reset(&sum);
        ks_buf_reset(&det);
        ks_engine_incident_meta(a->eng, ids[i], &m);
        ks_engine_incident_json(a->eng, ids[i], 0, &sum);
        ks_engine_incident_json(a->eng, ids[i], 1, &det);
        struct ks_incident_row row = {m.id,          m.type, m.severity, m.status, m.fingerprint,
                                      m.detected_at, sum.p,  det.p};
        rc = a->store->ops->put_incident(a->store, &row, err);
    }
    ks_buf_fini(&sum);
    ks_buf_fini(&det);
    if (rc == KS_OK && checkpoint) {
        struct ks_buf blob = {0};
        ks_engine_save(a->eng, &blob);
        a->checkpoint_bytes = blob.len;
        rc = a->store->ops->put_blob(a->store, CHECKPOINT_KEY, blob.p, blob.len, err);
        ks_buf_fini(&blob);
    }
    return rc;
}

int ks_app_flush_with(struct ks_app *a, int checkpoint,
                      enum ks_rc (*extra)(struct ks_app *a, void *ctx, struct ks_err *err),
                      void *ctx)
{
    struct ks_err err = {0};
    if (ks_store_begin(a->store, &err) != KS_OK || (extra && extra(a, ctx, &err) != KS_OK) ||
        write_effects(a, checkpoint, &err) != KS_OK || ks_store_commit(a->store, &err) != KS_OK) {
        struct ks_err ignore;
        ks_store_rollback(a->store, &ignore);
        ks_cli_error("%s: %s", a->db, err.msg);
        return KS_EXIT_FAIL;
    }
    ks_engine_effects_clear(a->eng);
    return KS_EXIT_OK;
}

int ks_app_flush(struct ks_app *a, int checkpoint)
{
    return ks_app_flush_with(a, checkpoint, NULL, NULL);
}

void ks_app_close(struct ks_app *a)
{
    ks_engine_free(a->eng);
    ks_store_close(a->store);
    ks_config_fini(&a->cfg);
    memset(a, 0, sizeof(*a));
}

int ks_app_at(const char *opt, ks_time *out)
{
    *out = KS_TIME_NONE;
    if (!opt) {
        return 0;
    }
    const char *why;
    if (ks_time_parse(opt, strlen(opt), out, &why) != 0) {
        ks_cli_error("--at '%s' %s", opt, why);
        return -1;
    }
    return 0;
}

void ks_app_progress(struct ks_progress *p, const struct ks_engine *e, int final)
{
    if (!p->tty) {
        return;
    }
    ks_time now = ks_time_now();
    if (!final && now - p->last < 250) {
        return;
    }
    p->last = now;
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

/* One ingest's position, for the line callback. */
struct ingest {
    struct ks_app *a;
    uint32_t input;
    const char *name;
    struct ks_progress *pg;
    int64_t lineno;
    size_t lines_in_chunk, bytes_in_chunk;
};

static void ingest_reject(void *arg, int64_t lineno, const struct ks_err *err)
{
    const struct ingest *g = arg;
    fprintf(stderr, "%s%s:%lld: %s\n", g->pg->tty ? "\r" : "", g->name, (long long)lineno,
            err->msg);
}

static int ingest_lines(void *arg, const struct ks_line *lines, size_t n, size_t *taken)
{
    struct ingest *g = arg;
    struct ks_app *a = g->a;
    ks_engine_lines(a->eng, g->input, g->lineno, lines, n, ingest_reject, g);
    g->lineno += (int64_t)n;
    /* The batch's lines lie one after the other in the buffer. */
    g->bytes_in_chunk += (size_t)(lines[n - 1].p + lines[n - 1].len + 1 - lines[0].p);
    g->lines_in_chunk += n;
    *taken = n;
    /* A chunk is at least 64 Ki lines / 4 MiB, and at least four times the
     * checkpoint written with it, so that saving the state stays a bounded
     * share of the work however large the state grows. */
    int big_state = a->checkpoint_bytes * 4 > CHUNK_BYTES;
    if (big_state ? g->bytes_in_chunk >= a->checkpoint_bytes * 4
                  : g->lines_in_chunk >= CHUNK_LINES || g->bytes_in_chunk >= CHUNK_BYTES) {
        /* Effects and the checkpoint commit together: a crash leaves the
         * state of the last whole chunk, never half of one. */
        if (ks_app_flush(a, 1) != 0) {
            return KS_EXIT_FAIL;
        }
        g->lines_in_chunk = g->bytes_in_chunk = 0;
        ks_app_progress(g->pg, a->eng, 0);
    }
    return 0;
}

/* Reads one input and feeds its lines. Returns 0 or an exit code. Where the
 * machine has two cores, the lines are found and decoded on a second thread
 * ahead of the engine (src/intake/); the result is the same either way. */
int ks_app_ingest_fd(struct ks_app *a, int fd, const char *name, struct ks_progress *pg)
{
    struct ingest g = {a, ks_engine_input(a->eng, name), name, pg, 0, 0, 0};
    struct ks_intake *intake = ks_intake_new(ks_intake_threads_default(), KS_INTAKE_MIN_PARALLEL);
    size_t cap = CHUNK_BYTES * 2, len = 0;
    char *buf = ks_malloc(cap);
    int eof = 0, rc = 0;
    while (!eof && rc == 0) {
        if (cap - len < CHUNK_BYTES) {
            cap *= 2;
            buf = ks_realloc(buf, cap);
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            ks_cli_error("%s: read failed: %s", name, strerror(errno));
            rc = KS_EXIT_FAIL;
            break;
        }
        eof = n == 0; /* then the last line may lack its newline */
        len += (size_t)n;
        pg->done_bytes += (uint64_t)n;
        size_t used;
        rc = ks_intake_lines(intake, buf, len, eof, ingest_lines, &g, &used);
        memmove(buf, buf + used, len - used);
        len -= used;
    }
    ks_intake_free(intake);
    ks_free(buf);
    return rc;
}

