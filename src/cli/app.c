/* app.c - configuration, store and engine for the commands; see app.h and
 * docs/STORAGE.md (what is written when, the writer lock, resuming). */
#include "app.h"

#include "../intake/intake.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

/* ---- the writer lock ------------------------------------------------------ */

/* What the writer lock's holder wrote about itself (blob "writer"). */
static void feed_change(void *ctx, const struct ks_feed_effect *fe);

static void holder(struct ks_app *a, char *out, size_t cap)
{
    struct ks_buf b = {0};
    struct ks_err err;
    int found = 0;
    snprintf(out, cap, "another kintsugi process");
    if (a->store->ops->get_blob(a->store, "writer", &b, &found, &err) == KS_OK && found && b.p) {
        snprintf(out, cap, "%s", b.p);
    }
    ks_buf_fini(&b);
}

/* The command line of this process, for the holder's description. */
static void self_command(char *out, size_t cap)
{
    char raw[512];
    size_t n = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY);
    if (fd >= 0) {
        ssize_t k = read(fd, raw, sizeof(raw) - 1);
        n = k > 0 ? (size_t)k : 0;
        close(fd);
    }
    /* The program's name without its directory, then its arguments. */
    const char *cmd = raw;
    for (size_t i = 0; i < n && raw[i]; i++) {
        if (raw[i] == '/') {
            cmd = raw + i + 1;
        }
    }
    for (size_t i = 0; i + 1 < n; i++) {
        raw[i] = raw[i] ? raw[i] : ' ';
    }
    raw[n] = 0;
    snprintf(out, cap, "%.200s", *cmd ? cmd : "kintsugi");
}

static const char *server_url; /* set by kintsugi serve: it owns the database */

void ks_app_writer_role(const char *url)
{
    server_url = url;
}

static int write_holder(struct ks_app *a);

int ks_app_writer_describe(struct ks_app *a, const char *url)
{
    server_url = url;
    return write_holder(a);
}

/* Takes the writer lock: flock on the database file (released by the kernel
 * when the process ends, however it ends). Waits while another process holds
 * it, saying who; a server holds it for good, so while one owns the database
 * the command is refused with its name instead. */
static int lock_writer(struct ks_app *a)
{
    a->lock_fd = open(a->db, O_RDONLY | O_CLOEXEC);
    if (a->lock_fd < 0) {
        ks_cli_error("%s: %s", a->db, strerror(errno));
        return KS_EXIT_FAIL;
    }
    if (flock(a->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        char who[300];
        holder(a, who, sizeof(who));
        if (strstr(who, "kintsugi serve")) {
            ks_cli_error("%s is owned by %s: make this change through its HTTP API "
                         "(docs/API.md), or stop the server first; reading commands work "
                         "meanwhile",
                         a->db, who);
            return KS_EXIT_FAIL;
        }
        fprintf(stderr, "kintsugi: %s is being written by %s; waiting for it to finish "
                        "(one writer at a time; Ctrl-C to give up)\n",
                a->db, who);
        while (flock(a->lock_fd, LOCK_EX) != 0) {
            if (errno != EINTR || ks_app_stop_signal) {
                ks_cli_error("%s: gave up waiting for the writer lock", a->db);
                return KS_EXIT_FAIL;
            }
        }
    }
    return write_holder(a);
}

/* Writes who holds the writer lock (blob "writer"). */
static int write_holder(struct ks_app *a)
{
    char cmd[256], at[32], desc[400];
    self_command(cmd, sizeof(cmd));
    ks_time_fmt(ks_time_now(), at);
    if (server_url) {
        snprintf(desc, sizeof(desc), "pid %ld (kintsugi serve at %.200s, since %s)",
                 (long)getpid(), server_url, at);
    } else {
        snprintf(desc, sizeof(desc), "pid %ld (%s, since %s)", (long)getpid(), cmd, at);
    }
    struct ks_err err = {0};
    if (ks_store_begin(a->store, &err) != KS_OK ||
        a->store->ops->put_blob(a->store, "writer", desc, strlen(desc), &err) != KS_OK ||
        ks_store_commit(a->store, &err) != KS_OK) {
        struct ks_err ignore;
        ks_store_rollback(a->store, &ignore);
        ks_cli_error("%s: %s", a->db, err.msg);
        return KS_EXIT_FAIL;
    }
    return KS_EXIT_OK;
}

/* ---- loading the engine ------------------------------------------------------ */

/* The marks saved with a checkpoint: how many SKUs its dictionary holds and
 * the last dead-letter and hook ids written with it. */
struct marks {
    int64_t skus, deadletter, hook;
};

static int read_marks(struct ks_app *a, struct marks *m, int *found, struct ks_err *err)
{
    struct ks_buf b = {0};
    memset(m, 0, sizeof(*m));
    if (a->store->ops->get_blob(a->store, "marks", &b, found, err) != KS_OK) {
        ks_buf_fini(&b);
        return -1;
    }
    int ok = !*found || (b.p && sscanf(b.p, "skus %" SCNd64 " deadletter %" SCNd64
                                            " hook %" SCNd64,
                                       &m->skus, &m->deadletter, &m->hook) == 3 &&
                         m->skus >= 0 && m->skus <= UINT32_MAX);
    ks_buf_fini(&b);
    if (!ok) {
        ks_err_set(err, KS_EIO, "checkpoint: its marks are damaged");
        return -1;
    }
    return 0;
}

struct sku_load {
    struct ks_engine *e;
    int64_t total; /* SKUs in the dictionary */
    int64_t next;
    struct ks_err *err;
    int bad;
};

static int sku_block(void *ctx, int64_t first, int64_t count, const void *data, size_t n)
{
    struct sku_load *l = ctx;
    const unsigned char *p = data, *end = p + n;
    const char *s;
    size_t len;
    int64_t got = 0;
    if (first != l->next) {
        l->bad = 1;
        return 1;
    }
    if (first == 0 && l->total > 0) {
        /* The whole dictionary's size is known: no table grows while it loads. */
        ks_engine_sku_reserve(l->e, (uint32_t)l->total, (size_t)l->total * 16);
    }
    int r;
    while ((r = ks_sku_block_next(&p, end, &s, &len)) == 1) {
        if (ks_engine_sku_load(l->e, s, len, l->err) != KS_OK) {
            l->bad = 2;
            return 1;
        }
        got++;
    }
    if (r < 0 || got != count) {
        l->bad = 1;
        return 1;
    }
    l->next += count;
    return 0;
}

static enum ks_rc ck_get(void *ctx, const void **p, size_t *n, struct ks_err *err)
{
    struct ks_store *s = ctx;
    return s->ops->ck_next(s, p, n, err);
}

/* Restores the engine: SKU dictionary, then the checkpoint's parts. */
static int load_engine(struct ks_app *a, struct ks_err *err)
{
    struct marks m;
    int found;
    if (read_marks(a, &m, &found, err) != 0) {
        return -1;
    }
    struct sku_load l = {a->eng, m.skus, 0, err, 0};
    if (found && m.skus > 0) {
        if (a->store->ops->list_skus(a->store, m.skus, sku_block, &l, err) != KS_OK) {
            return -1;
        }
        if (l.bad || l.next != m.skus) {
            if (l.bad != 2) {
                ks_err_set(err, KS_EIO, "checkpoint: the SKU dictionary is damaged (%lld of %lld)",
                           (long long)l.next, (long long)m.skus);
            }
            return -1;
        }
    }
    a->skus_saved = (uint32_t)m.skus;
    uint64_t total = 0;
    int have = 0;
    if (a->store->ops->ck_open(a->store, &total, &have, err) != KS_OK) {
        return -1;
    }
    enum ks_rc rc = KS_OK;
    if (have) {
        if (!found) {
            rc = ks_err_set(err, KS_EIO, "checkpoint: saved without its marks");
        } else {
            rc = ks_engine_load_parts(a->eng, total, ck_get, a->store, err);
        }
    }
    a->store->ops->ck_close(a->store);
    if (rc == KS_OK) {
        /* "tail" is "1" while rows follow that the checkpoint does not account for. */
        int tail = 0;
        struct ks_buf b = {0};
        rc = a->store->ops->get_blob(a->store, "tail", &b, &tail, err);
        a->tail = tail && b.len == 1 && b.p[0] == '1';
        ks_buf_fini(&b);
    }
    return rc == KS_OK ? 0 : -1;
}

static int trim_channel(void *ctx, const char *ch)
{
    struct ks_app *a = ctx;
    struct ks_err err;
    return a->store->ops->trim_feed(a->store, ch, (int64_t)ks_engine_feed_seq(a->eng, ch), &err) !=
           KS_OK;
}

static enum ks_rc put_incidents(struct ks_app *a, const int64_t *ids, size_t n, int64_t upto,
                                struct ks_err *err);

/* Undoes what an interrupted run wrote after the last checkpoint: the rows
 * the state does not know of go, the incidents it knows are written as it
 * knows them. The run's input position is the checkpoint's, so running the
 * same ingest again writes them again, the same. */
static int rewind_tail(struct ks_app *a, struct ks_err *err)
{
    struct marks m;
    int found;
    if (read_marks(a, &m, &found, err) != 0) {
        return -1;
    }
    struct ks_engine_stats st;
    ks_engine_stats(a->eng, &st);
    struct ks_store_trim t = {m.deadletter, m.hook, m.skus, st.incidents};
    enum ks_rc rc = ks_store_begin(a->store, err);
    if (rc == KS_OK) {
        rc = a->store->ops->trim(a->store, &t, err);
    }
    if (rc == KS_OK) {
        rc = a->store->ops->list_feed_channels(a->store, trim_channel, a, err);
    }
    if (rc == KS_OK) {
        rc = put_incidents(a, NULL, 0, st.incidents, err);
    }
    if (rc == KS_OK) {
        rc = a->store->ops->put_blob(a->store, "tail", "0", 1, err);
    }
    if (rc == KS_OK) {
        rc = ks_store_commit(a->store, err);
    }
    if (rc != KS_OK) {
        struct ks_err ignore;
        ks_store_rollback(a->store, &ignore);
        return -1;
    }
    a->tail = 0;
    fprintf(stderr,
            "kintsugi: %s: a run was interrupted after its last saved state; what it wrote "
            "after that was undone (%s)\n",
            a->db, server_url ? "the server re-applies its journal" : "run the same ingest again to resume");
    return 0;
}

int ks_app_open(struct ks_app *a, const char *config, const char *db, int flags)
{
    struct ks_err err = {0};
    int with_engine = flags & KS_APP_ENGINE;
    int writer = with_engine && !(flags & KS_APP_READ);
    memset(a, 0, sizeof(*a));
    a->lock_fd = -1;
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
    int rc;
    if (writer && strcmp(db, ":memory:") != 0 && (rc = lock_writer(a)) != 0) {
        ks_app_close(a);
        return rc;
    }
    a->eng = ks_engine_new(&a->cfg);
    ks_engine_feed_sink(a->eng, feed_change, a);
    a->last_checkpoint = ks_time_now();
    if (load_engine(a, &err) != 0 || (writer && a->tail && rewind_tail(a, &err) != 0)) {
        ks_cli_error("%s: %s", db, err.msg);
        ks_app_close(a);
        return KS_EXIT_FAIL;
    }
    return KS_EXIT_OK;
}

/* ---- writing effects ---------------------------------------------------------- */

/* Writes incidents: ids[0, n), or with ids NULL every incident 1..upto. */
static enum ks_rc put_incidents(struct ks_app *a, const int64_t *ids, size_t n, int64_t upto,
                                struct ks_err *err)
{
    struct ks_buf sum = {0}, det = {0};
    enum ks_rc rc = KS_OK;
    size_t count = ids ? n : (size_t)upto;
    for (size_t i = 0; i < count && rc == KS_OK; i++) {
        int64_t id = ids ? ids[i] : (int64_t)i + 1;
        struct ks_incident_meta m;
        ks_buf_reset(&sum);
        ks_buf_reset(&det);
        ks_engine_incident_meta(a->eng, id, &m);
        ks_engine_incident_json(a->eng, id, 0, &sum);
        ks_engine_incident_json(a->eng, id, 1, &det);
        struct ks_incident_row row = {m.id,          m.type, m.severity, m.status, m.fingerprint,
                                      m.detected_at, sum.p,  det.p};
        rc = a->store->ops->put_incident(a->store, &row, err);
    }
    ks_buf_fini(&sum);
    ks_buf_fini(&det);
    return rc;
}

/* The SKU strings interned since the last write, as one dictionary block. */
static enum ks_rc put_skus(struct ks_app *a, uint32_t *saved, struct ks_err *err)
{
    uint32_t n = ks_engine_sku_count(a->eng);
    *saved = a->skus_saved;
    if (n == a->skus_saved) {
        return KS_OK;
    }
    struct ks_buf b = {0};
    for (uint32_t id = a->skus_saved; id < n; id++) {
        const char *s = ks_engine_sku(a->eng, id);
        ks_sku_block_add(&b, s, strlen(s));
    }
    enum ks_rc rc = a->store->ops->add_skus(a->store, a->skus_saved, n - a->skus_saved, b.p,
                                            b.len, err);
    ks_buf_fini(&b);
    *saved = n;
    return rc;
}

/* The guarded feed's changes, encoded as the engine lets them through (one
 * encoder per channel) and written as one block per channel per chunk. */
static void feed_change(void *ctx, const struct ks_feed_effect *fe)
{
    struct ks_app *a = ctx;
    uint32_t ch = fe->channel;
    if (ch >= a->nenc) {
        size_t nc = a->nenc ? a->nenc : 8;
        while (nc <= ch) {
            nc *= 2;
        }
        a->enc = ks_realloc(a->enc, nc * sizeof(*a->enc));
        memset(a->enc + a->nenc, 0, (nc - a->nenc) * sizeof(*a->enc));
        a->nenc = nc;
    }
    struct ks_feed_change c = {(int64_t)fe->seq, fe->sku, fe->qty, fe->at, fe->why, fe->incident};
    ks_feed_enc_add(&a->enc[ch], &c);
}

static enum ks_rc put_feed(struct ks_app *a, struct ks_err *err)
{
    enum ks_rc rc = KS_OK;
    for (size_t ch = 0; ch < a->nenc; ch++) {
        struct ks_feed_enc *e = &a->enc[ch];
        if (e->first && rc == KS_OK) {
            rc = a->store->ops->add_feed_block(a->store, ks_engine_name(a->eng, (uint32_t)ch),
                                               e->first, e->last, e->buf.p, e->buf.len, err);
        }
        ks_feed_enc_reset(e);
    }
    return rc;
}

static enum ks_rc put_checkpoint_part(void *ctx, const void *p, size_t n, struct ks_err *err)
{
    struct ks_app *a = ctx;
    int64_t part = (int64_t)(a->checkpoint_bytes / KS_CK_PART);
    a->checkpoint_bytes += n;
    return a->store->ops->ck_put(a->store, part, p, n, err);
}

/* The checkpoint: the state in parts, and the marks that say what the rows
 * written with it are. */
static enum ks_rc put_checkpoint(struct ks_app *a, uint32_t skus, struct ks_err *err)
{
    enum ks_rc rc = a->store->ops->ck_clear(a->store, err);
    a->checkpoint_bytes = 0;
    if (rc == KS_OK) {
        rc = ks_engine_save_parts(a->eng, 1, put_checkpoint_part, a, err);
    }
    int64_t dl = 0, hook = 0;
    if (rc == KS_OK) {
        rc = a->store->ops->max_ids(a->store, &dl, &hook, err);
    }
    if (rc == KS_OK) {
        char m[128];
        int n = snprintf(m, sizeof(m), "skus %u deadletter %lld hook %lld", skus, (long long)dl,
                         (long long)hook);
        rc = a->store->ops->put_blob(a->store, "marks", m, (size_t)n, err);
    }
    if (rc == KS_OK && a->tail) {
        rc = a->store->ops->put_blob(a->store, "tail", "0", 1, err);
    }
    return rc;
}

static enum ks_rc write_effects(struct ks_app *a, int checkpoint, uint32_t *skus,
                                struct ks_err *err)
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
    enum ks_rc rc = put_incidents(a, ids, ni, 0, err);
    if (rc == KS_OK) {
        rc = put_skus(a, skus, err);
    }
    if (rc == KS_OK) {
        rc = put_feed(a, err);
    }
    if (rc == KS_OK && checkpoint) {
        rc = put_checkpoint(a, *skus, err);
    } else if (rc == KS_OK && !a->tail) {
        /* From here on rows follow that the saved state does not account for. */
        rc = a->store->ops->put_blob(a->store, "tail", "1", 1, err);
    }
    return rc;
}

int ks_app_flush_with(struct ks_app *a, int checkpoint,
                      enum ks_rc (*extra)(struct ks_app *a, void *ctx, struct ks_err *err),
                      void *ctx)
{
    struct ks_err err = {0};
    uint32_t skus = a->skus_saved;
    if (ks_store_begin(a->store, &err) != KS_OK || (extra && extra(a, ctx, &err) != KS_OK) ||
        write_effects(a, checkpoint, &skus, &err) != KS_OK ||
        ks_store_commit(a->store, &err) != KS_OK) {
        struct ks_err ignore;
        ks_store_rollback(a->store, &ignore);
        ks_cli_error("%s: %s", a->db, err.msg);
        if (a->store->ops->release(a->store, &ignore) != KS_OK) {
            ks_cli_error("%s: %s; it is released by the next kintsugi command once there is "
                         "room", a->db, ignore.msg);
        }
        return KS_EXIT_FAIL;
    }
    a->skus_saved = skus;
    a->tail = !checkpoint;
    if (checkpoint) {
        a->last_checkpoint = ks_time_now();
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
    for (size_t i = 0; i < a->nenc; i++) {
        ks_feed_enc_fini(&a->enc[i]);
    }
    ks_free(a->enc);
    /* After the store: closing a descriptor of the database file would drop
     * SQLite's own locks on it while the connection is open. */
    if (a->lock_fd >= 0) {
        close(a->lock_fd);
    }
    memset(a, 0, sizeof(*a));
    a->lock_fd = -1;
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

/* ---- inputs and their positions ------------------------------------------------ */

volatile int ks_app_stop_signal;

static void on_stop(int sig)
{
    ks_app_stop_signal = sig;
}

void ks_app_stop_on_signals(void)
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

int ks_app_input_open(struct ks_app *a, struct ks_input *in, int fd, const char *name,
                      int from_start)
{
    memset(in, 0, sizeof(*in));
    in->name = name;
    struct stat sb;
    char real[PATH_MAX];
    /* Standard input and pipes have no position to come back to. */
    if (strcmp(name, "-") == 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        !realpath(name, real)) {
        return KS_EXIT_OK;
    }
    in->path = ks_strdup(real);
    in->row.path = in->path;
    in->row.size = sb.st_size;
    struct ks_input_row old;
    int found = 0;
    struct ks_err err = {0};
    if (a->store->ops->find_input(a->store, in->path, &old, &found, &err) != KS_OK) {
        ks_cli_error("%s", err.msg);
        return KS_EXIT_FAIL;
    }
    uint64_t h;
    if (!from_start && found && old.offset <= sb.st_size && old.prefix_len <= sb.st_size &&
        prefix_hash(fd, old.prefix_len, &h) == 0 && h == old.prefix_hash) {
        in->row = old;
        in->row.path = in->path;
        in->row.size = sb.st_size;
        in->resumed = 1;
        if (lseek(fd, (off_t)old.offset, SEEK_SET) != (off_t)old.offset) {
            ks_cli_error("%s: cannot seek to byte %lld: %s", name, (long long)old.offset,
                         strerror(errno));
            return KS_EXIT_FAIL;
        }
        if (old.offset == sb.st_size) {
            fprintf(stderr, "kintsugi: %s: already taken up to its end (line %lld); nothing new "
                            "(--from-start takes it again as a new input)\n",
                    name, (long long)old.line);
        } else if (old.offset > 0) {
            fprintf(stderr, "kintsugi: %s: this database took it up to line %lld (byte %lld of "
                            "%lld); continuing after it (--from-start takes it again)\n",
                    name, (long long)old.line, (long long)old.offset, (long long)sb.st_size);
        }
        return KS_EXIT_OK;
    }
    /* A new input: known by its first bytes from now on. */
    in->row.prefix_len = sb.st_size < PREFIX_BYTES ? sb.st_size : PREFIX_BYTES;
    if (prefix_hash(fd, in->row.prefix_len, &in->row.prefix_hash) != 0) {
        ks_cli_error("%s: read failed: %s", name, strerror(errno));
        return KS_EXIT_FAIL;
    }
    return KS_EXIT_OK;
}

void ks_app_input_fini(struct ks_input *in)
{
    ks_free(in->path);
    in->path = NULL;
}

struct positions {
    struct ks_input *ins;
    size_t n;
};

static enum ks_rc put_positions(struct ks_app *a, void *ctx, struct ks_err *err)
{
    struct positions *p = ctx;
    for (size_t i = 0; i < p->n; i++) {
        struct ks_input *in = &p->ins[i];
        if (in->path && a->store->ops->put_input(a->store, &in->row, err) != KS_OK) {
            return err->rc;
        }
    }
    return KS_OK;
}

int ks_app_checkpoint(struct ks_app *a, struct ks_input *ins, size_t nins)
{
    struct positions p = {ins, nins};
    return ks_app_flush_with(a, 1, put_positions, &p);
}

/* ---- reading an input ------------------------------------------------------------ */

/* One ingest's position, for the line callback. */
struct ingest {
    struct ks_app *a;
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
    fprintf(stderr, "%s%s:%lld: %s\n", g->pg->tty ? "\r" : "", g->in->name, (long long)lineno,
            err->msg);
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
        every = env && *env && !*end && v >= 0 && v < 1e6 ? (ks_time)(v * KS_SEC) : CHECKPOINT_EVERY;
    }
    return every;
}

/* After every batch: effects every chunk, the state every CHECKPOINT_EVERY,
 * and on a stop signal. */
static int after_batch(struct ingest *g)
{
    struct ks_app *a = g->a;
    if (ks_app_stop_signal) {
        return ks_app_checkpoint(a, g->ins, g->nins) ? KS_EXIT_FAIL : KS_APP_STOPPED;
    }
    if (g->lines_in_chunk >= CHUNK_LINES || g->bytes_in_chunk >= CHUNK_BYTES) {
        int ck = ks_time_now() - a->last_checkpoint >= checkpoint_every();
        if ((ck ? ks_app_checkpoint(a, g->ins, g->nins) : ks_app_flush(a, 0)) != 0) {
            return KS_EXIT_FAIL;
        }
        g->lines_in_chunk = g->bytes_in_chunk = 0;
        ks_app_progress(g->pg, a->eng, 0);
    }
    return 0;
}

static int ingest_lines(void *arg, const struct ks_line *lines, size_t n, size_t *taken)
{
    struct ingest *g = arg;
    struct ks_input_row *pos = &g->in->row;
    ks_engine_lines(g->a->eng, g->input, pos->line, lines, n, ingest_reject, g);
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
    ks_engine_line_skipped(g->a->eng, g->input, pos->line, head, head_len, total, &err);
    ingest_reject(g, pos->line, &err);
    pos->offset += (int64_t)total + newline;
    g->bytes_in_chunk += total;
    g->pg->done_bytes += total + (uint64_t)newline;
    g->lines_in_chunk++;
    return after_batch(g);
}

/* Reads one input and feeds its lines. Returns 0 or an exit code. Where the
 * machine has two cores, the input is read, split and decoded on a second
 * thread ahead of the engine (src/intake/); the result is the same either
 * way. The intake's buffers have a fixed size: a line that does not fit
 * (over 1 MiB) is skipped as it streams, so memory stays bounded whatever
 * the input. */
int ks_app_ingest_fd(struct ks_app *a, int fd, struct ks_input *in, struct ks_input *ins,
                     size_t nins, struct ks_progress *pg)
{
    struct ingest g = {a, ks_engine_input(a->eng, in->name), in, ins, nins, pg, 0, 0};
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
    int rc = ks_intake_fd(intake, fd, ingest_lines, long_line, &g, &ks_app_stop_signal, &bom);
    ks_intake_free(intake);
    if (rc == -1) {
        if (errno == EINTR && ks_app_stop_signal) {
            return ks_app_checkpoint(a, ins, nins) ? KS_EXIT_FAIL : KS_APP_STOPPED;
        }
        ks_cli_error("%s: read failed: %s", in->name, strerror(errno));
        return KS_EXIT_FAIL;
    }
    return rc;
}
