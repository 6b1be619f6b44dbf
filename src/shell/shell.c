/*
 * shell.c - the house around the engine: configuration, store and engine
 * opened together under the one writer lock, the engine restored from its
 * checkpoint, and its effects written back in one transaction; see shell.h
 * and docs/STORAGE.md (what is written when, the writer lock, resuming).
 */
#include "shell.h"
#include "../remedy/remedy.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void ks_shell_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kintsugi: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

const char *ks_shell_db(const char *opt)
{
    return opt ? opt : "kintsugi.db";
}

int ks_shell_db_check(const char *db)
{
    struct stat sb;
    if (!*db) {
        ks_shell_error("--db needs a file name or a postgresql:// URI");
        return KS_SHELL_USAGE;
    }
    if (!ks_store_is_shared(db) && stat(db, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        ks_shell_error("%s: is a directory (--db needs a file name or a postgresql:// URI)", db);
        return KS_SHELL_USAGE;
    }
    return KS_SHELL_OK;
}

const char *ks_shell_config_path(const char *opt)
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

static void holder(struct ks_shell *sh, char *out, size_t cap)
{
    struct ks_buf b = {0};
    struct ks_err err;
    int found = 0;
    snprintf(out, cap, "another kintsugi process");
    if (sh->store->ops->get_blob(sh->store, "writer", &b, &found, &err) == KS_OK && found && b.p) {
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

void ks_shell_writer_role(const char *url)
{
    server_url = url;
}

static int write_holder(struct ks_shell *sh);

int ks_shell_writer_describe(struct ks_shell *sh, const char *url)
{
    server_url = url;
    return write_holder(sh);
}

/* Takes the writer lock: flock on the database file (released by the kernel
 * when the process ends, however it ends). Waits while another process holds
 * it, saying who; a server holds it for good, so while one owns the database
 * the command is refused with its name instead. */
static int lock_writer_shared(struct ks_shell *sh);
static int standby_wait(void);

static int lock_writer(struct ks_shell *sh)
{
    if (sh->store->ops->lock_writer) {
        return lock_writer_shared(sh);
    }
    sh->lock_fd = open(sh->db, O_RDONLY | O_CLOEXEC);
    if (sh->lock_fd < 0) {
        ks_shell_error("%s: %s", sh->db, strerror(errno));
        return KS_SHELL_FAIL;
    }
    if (flock(sh->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        char who[300];
        holder(sh, who, sizeof(who));
        if (strstr(who, "kintsugi serve")) {
            ks_shell_error("%s is owned by %s: make this change through its HTTP API "
                           "(docs/API.md), or stop the server first; reading commands work "
                           "meanwhile",
                           sh->db, who);
            return KS_SHELL_FAIL;
        }
        fprintf(stderr,
                "kintsugi: %s is being written by %s; waiting for it to finish "
                "(one writer at a time; Ctrl-C to give up)\n",
                sh->db, who);
        /* A server's SIGINT and SIGTERM are blocked (it takes them with
         * sigwait): it waits for them between tries, so that a stop is not
         * held up by a command that writes. */
        while (server_url && flock(sh->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            if (errno != EWOULDBLOCK && errno != EINTR) {
                ks_shell_error("%s: %s", sh->db, strerror(errno));
                return KS_SHELL_FAIL;
            }
            if (standby_wait()) {
                fprintf(stderr, "kintsugi: stopped while waiting for the writer lock\n");
                return KS_SHELL_STOPPED;
            }
        }
        while (!server_url && flock(sh->lock_fd, LOCK_EX) != 0) {
            if (errno != EINTR || ks_shell_stop_signal) {
                ks_shell_error("%s: gave up waiting for the writer lock", sh->db);
                return KS_SHELL_FAIL;
            }
        }
    }
    return write_holder(sh);
}

/* The same for a database that is not a file (PostgreSQL): the lock is the
 * database's (an advisory lock of this connection), tried every 200 ms while
 * another process holds it, so that Ctrl-C still gives up.
 *
 * A server (kintsugi serve) that finds another server holding it is a
 * standby: it waits, and takes over the moment the holder's connection ends
 * (a kill -9, a crash, a stop), loading the state the holder committed. Its
 * SIGINT and SIGTERM are blocked (the server takes them with sigwait), so it
 * waits for them with sigtimedwait instead of sleeping. */
static int standby_wait(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    struct timespec pause = {0, 200 * 1000 * 1000};
    int sig = sigtimedwait(&set, NULL, &pause);
    if (sig > 0) {
        ks_shell_stop_signal = sig;
        return 1;
    }
    return 0;
}

/* Whom a standby waits for, for its /healthz and /readyz (another thread),
 * and whether it took over. */
static pthread_mutex_t standby_mu = PTHREAD_MUTEX_INITIALIZER;
static char standby_of[300];
static int took_over;

static void set_standby_of(const char *who)
{
    pthread_mutex_lock(&standby_mu);
    snprintf(standby_of, sizeof(standby_of), "%s", who);
    pthread_mutex_unlock(&standby_mu);
}

int ks_shell_standby_of(char *out, size_t cap)
{
    pthread_mutex_lock(&standby_mu);
    snprintf(out, cap, "%s", standby_of);
    pthread_mutex_unlock(&standby_mu);
    return out[0] != 0;
}

int ks_shell_took_over(void)
{
    pthread_mutex_lock(&standby_mu);
    int v = took_over;
    pthread_mutex_unlock(&standby_mu);
    return v;
}

/* How often a standby reads again who holds the lock (another standby may
 * have taken over since it started waiting): every 25 tries, 5 s. */
#define STANDBY_REREAD 25

static int lock_writer_shared(struct ks_shell *sh)
{
    struct ks_err err = {0};
    int got = 0, said = 0, standby = 0, away = 0;
    char who[300] = "";
    for (unsigned tries = 0;; tries++) {
        enum ks_rc rc = sh->store->ops->lock_writer(sh->store, &got, &err);
        if (rc == KS_OK && got) {
            break;
        }
        if (rc != KS_OK) {
            if (!standby) {
                ks_shell_error("%s: %s", sh->store->uri, err.msg);
                return KS_SHELL_FAIL;
            }
            /* A standby waits through a database that is away (restarted,
             * unreachable): the active one is gone with it too, and one of
             * the servers must take over when it is back. */
            if (!away) {
                fprintf(stderr, "kintsugi: standby: %s: %s; trying again every 200 ms\n",
                        sh->store->uri, err.msg);
                fflush(stderr);
                away = 1;
            }
        } else if (!said) {
            holder(sh, who, sizeof(who));
            standby = server_url && strstr(who, "kintsugi serve");
            if (standby) {
                set_standby_of(who);
                fprintf(stderr,
                        "kintsugi: standby: %s is owned by %s; this server (%s) answers "
                        "/healthz and /readyz only, and takes over when that one stops "
                        "(docs/DEPLOY.md)\n",
                        sh->store->uri, who, server_url);
            } else if (strstr(who, "kintsugi serve")) {
                ks_shell_error("%s is owned by %s: make this change through its HTTP API "
                               "(docs/API.md), or stop the server first; reading commands work "
                               "meanwhile",
                               sh->store->uri, who);
                return KS_SHELL_FAIL;
            } else {
                fprintf(stderr,
                        "kintsugi: %s is being written by %s; waiting for it to finish "
                        "(one writer at a time; Ctrl-C to give up)\n",
                        sh->store->uri, who);
            }
            fflush(stderr);
            said = 1;
        } else if (standby && (away || tries % STANDBY_REREAD == 0)) {
            /* back, or a while later: the holder may be another server now */
            char now[300];
            holder(sh, now, sizeof(now));
            if (away) {
                fprintf(stderr, "kintsugi: standby: %s is back\n", sh->store->uri);
            }
            if (strcmp(now, who) != 0) {
                snprintf(who, sizeof(who), "%s", now);
                set_standby_of(who);
                fprintf(stderr, "kintsugi: standby: %s is owned by %s now\n", sh->store->uri,
                        who);
            }
            fflush(stderr);
            away = 0;
        }
        /* a server takes its signals with sigtimedwait (they are blocked) */
        if (server_url ? standby_wait() : ks_shell_stop_signal != 0) {
            if (server_url) {
                fprintf(stderr, standby ? "kintsugi: standby stopped before taking over\n"
                                        : "kintsugi: stopped while waiting for the writer lock\n");
                return KS_SHELL_STOPPED;
            }
            ks_shell_error("%s: gave up waiting for the writer lock", sh->store->uri);
            return KS_SHELL_FAIL;
        }
        if (!server_url) {
            struct timespec pause = {0, 200 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
    }
    if (standby) {
        set_standby_of("");
        pthread_mutex_lock(&standby_mu);
        took_over = 1;
        pthread_mutex_unlock(&standby_mu);
        fprintf(stderr, "kintsugi: taking over %s\n", sh->store->uri);
        fflush(stderr);
    }
    return write_holder(sh);
}

/* Writes who holds the writer lock (blob "writer"). */
static int write_holder(struct ks_shell *sh)
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
    if (ks_store_begin(sh->store, &err) != KS_OK ||
        sh->store->ops->put_blob(sh->store, "writer", desc, strlen(desc), &err) != KS_OK ||
        sh->store->ops->void_leases(sh->store, ks_outbox_owner(), &err) != KS_OK ||
        ks_store_commit(sh->store, &err) != KS_OK) {
        struct ks_err ignore;
        ks_store_rollback(sh->store, &ignore);
        ks_shell_error("%s: %s", sh->db, err.msg);
        return KS_SHELL_FAIL;
    }
    return KS_SHELL_OK;
}

/* ---- loading the engine ------------------------------------------------------ */

/* The marks saved with a checkpoint: how many SKUs its dictionary holds and
 * the last dead-letter and hook ids written with it. */
struct marks {
    int64_t skus, deadletter, hook;
    int64_t message, trigger; /* -1: marks written before the outbox of messages; 0: no marks */
};

static int read_marks(struct ks_shell *sh, struct marks *m, int *found, struct ks_err *err)
{
    struct ks_buf b = {0};
    memset(m, 0, sizeof(*m));
    if (sh->store->ops->get_blob(sh->store, "marks", &b, found, err) != KS_OK) {
        ks_buf_fini(&b);
        return -1;
    }
    /* No saved state: every message and trigger row is an interrupted run's
     * tail, as every dead letter and hook call is (all marks 0). */
    m->message = m->trigger = 0;
    int got = 0;
    int ok = !*found ||
             (b.p &&
              (got = sscanf(b.p,
                            "skus %" SCNd64 " deadletter %" SCNd64 " hook %" SCNd64
                            " message %" SCNd64 " trigger %" SCNd64,
                            &m->skus, &m->deadletter, &m->hook, &m->message, &m->trigger)) >= 3 &&
              got != 4 && m->skus >= 0 && m->skus <= UINT32_MAX);
    if (got == 3) {
        m->message = m->trigger = -1;
    }
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
    /* Handed over to the engine in batches, interned together. */
    enum { BATCH = 256 };
    const char *sv[BATCH];
    size_t nv[BATCH], k = 0;
    int r;
    while ((r = ks_sku_block_next(&p, end, &s, &len)) == 1 || k > 0) {
        if (r == 1) {
            sv[k] = s;
            nv[k++] = len;
            got++;
        }
        if (k == BATCH || (r != 1 && k > 0)) {
            if (ks_engine_sku_load_many(l->e, sv, nv, k, l->err) != KS_OK) {
                l->bad = 2;
                return 1;
            }
            k = 0;
        }
        if (r != 1) {
            break;
        }
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
static int load_engine(struct ks_shell *sh, struct ks_err *err)
{
    struct marks m;
    int found;
    if (read_marks(sh, &m, &found, err) != 0) {
        return -1;
    }
    struct sku_load l = {sh->eng, m.skus, 0, err, 0};
    if (found && m.skus > 0) {
        if (sh->store->ops->list_skus(sh->store, m.skus, sku_block, &l, err) != KS_OK) {
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
    sh->skus_saved = (uint32_t)m.skus;
    uint64_t total = 0;
    int have = 0;
    if (sh->store->ops->ck_open(sh->store, &total, &have, err) != KS_OK) {
        return -1;
    }
    enum ks_rc rc = KS_OK;
    if (have) {
        if (!found) {
            rc = ks_err_set(err, KS_EIO, "checkpoint: saved without its marks");
        } else {
            rc = ks_engine_load_parts(sh->eng, total, ck_get, sh->store, err);
        }
    }
    sh->store->ops->ck_close(sh->store);
    if (rc == KS_OK) {
        /* "tail" is "1" while rows follow that the checkpoint does not account for. */
        int tail = 0;
        struct ks_buf b = {0};
        rc = sh->store->ops->get_blob(sh->store, "tail", &b, &tail, err);
        sh->tail = tail && b.len == 1 && b.p[0] == '1';
        ks_buf_fini(&b);
    }
    return rc == KS_OK ? 0 : -1;
}

static int trim_channel(void *ctx, const char *ch)
{
    struct ks_shell *sh = ctx;
    struct ks_err err;
    return sh->store->ops->trim_feed(sh->store, ch, (int64_t)ks_engine_feed_seq(sh->eng, ch),
                                     &err) != KS_OK;
}

static enum ks_rc put_incidents(struct ks_shell *sh, const int64_t *ids, size_t n, int64_t upto,
                                struct ks_err *err);

/* Undoes what an interrupted run wrote after the last checkpoint: the rows
 * the state does not know of go, the incidents it knows are written as it
 * knows them. The run's input position is the checkpoint's, so running the
 * same ingest again writes them again, the same. */
static int rewind_tail(struct ks_shell *sh, struct ks_err *err)
{
    struct marks m;
    int found;
    if (read_marks(sh, &m, &found, err) != 0) {
        return -1;
    }
    struct ks_engine_stats st;
    ks_engine_stats(sh->eng, &st);
    struct ks_store_trim t = {m.deadletter, m.hook, m.skus, st.incidents, m.message, m.trigger};
    enum ks_rc rc = ks_store_begin(sh->store, err);
    if (rc == KS_OK) {
        rc = sh->store->ops->trim(sh->store, &t, err);
    }
    if (rc == KS_OK) {
        rc = sh->store->ops->list_feed_channels(sh->store, trim_channel, sh, err);
    }
    if (rc == KS_OK) {
        rc = put_incidents(sh, NULL, 0, st.incidents, err);
    }
    if (rc == KS_OK) {
        rc = sh->store->ops->put_blob(sh->store, "tail", "0", 1, err);
    }
    if (rc == KS_OK) {
        rc = ks_store_commit(sh->store, err);
    }
    if (rc != KS_OK) {
        struct ks_err ignore;
        ks_store_rollback(sh->store, &ignore);
        return -1;
    }
    sh->tail = 0;
    fprintf(stderr,
            "kintsugi: %s: a run was interrupted after its last saved state; what it wrote "
            "after that was undone (%s)\n",
            sh->db,
            server_url ? "the server re-applies its journal" : "run the same ingest again to resume");
    return 0;
}

int ks_shell_open(struct ks_shell *sh, const char *config, const char *db, int flags)
{
    struct ks_err err = {0};
    int with_engine = flags & KS_SHELL_ENGINE;
    int writer = with_engine && !(flags & KS_SHELL_READ);
    memset(sh, 0, sizeof(*sh));
    sh->lock_fd = -1;
    int rc = ks_shell_db_check(db);
    if (rc != KS_SHELL_OK) {
        return rc;
    }
    if (!(flags & KS_SHELL_CREATE) && strcmp(db, ":memory:") != 0 &&
        strncmp(db, "postgres", 8) != 0 && access(db, F_OK) != 0) {
        ks_shell_error("%s: no such database (kintsugi ingest creates it; --db names another)", db);
        return KS_SHELL_FAIL;
    }
    sh->db = db;
    ks_config_defaults(&sh->cfg);
    config = ks_shell_config_path(config);
    if (config && ks_config_load(&sh->cfg, config, &err) != KS_OK) {
        ks_shell_error("%s", err.msg);
        ks_config_fini(&sh->cfg);
        return KS_SHELL_USAGE;
    }
    if (ks_store_open(&sh->store, db, &err) != KS_OK) {
        /* the database named once: "store: open PATH: ..." names it already,
         * a failed migration (a full disk) does not; a PostgreSQL URI is
         * never repeated (its password), the driver names database and host */
        if (strstr(err.msg, db) || ks_store_is_shared(db)) {
            ks_shell_error("%s", err.msg);
        } else {
            ks_shell_error("%s: %s", db, err.msg);
        }
        ks_config_fini(&sh->cfg);
        return err.rc == KS_EUSAGE ? KS_SHELL_USAGE : KS_SHELL_FAIL;
    }
    if (!with_engine) {
        return KS_SHELL_OK;
    }
    if (writer && strcmp(db, ":memory:") != 0 && (rc = lock_writer(sh)) != 0) {
        ks_shell_close(sh);
        return rc;
    }
    sh->eng = ks_engine_new(&sh->cfg);
    ks_engine_feed_sink(sh->eng, feed_change, sh);
    sh->last_checkpoint = ks_time_now();
    if (load_engine(sh, &err) != 0 || (writer && sh->tail && rewind_tail(sh, &err) != 0)) {
        ks_shell_error("%s: %s", db, err.msg);
        ks_shell_close(sh);
        return KS_SHELL_FAIL;
    }
    return KS_SHELL_OK;
}

int ks_shell_reload(struct ks_shell *sh, struct ks_err *err)
{
    ks_engine_free(sh->eng);
    ks_comms_due_fini(&sh->trig_due);
    sh->eng = ks_engine_new(&sh->cfg);
    ks_engine_feed_sink(sh->eng, feed_change, sh);
    for (size_t i = 0; i < sh->nused; i++) {
        ks_feed_enc_reset(&sh->enc[sh->enc_used[i]]); /* changes of the rolled-back transaction */
    }
    sh->nused = 0;
    if (load_engine(sh, err) != 0 || (sh->tail && rewind_tail(sh, err) != 0)) {
        ks_engine_free(sh->eng);
        sh->eng = ks_engine_new(&sh->cfg);
        ks_engine_feed_sink(sh->eng, feed_change, sh);
        return -1;
    }
    return 0;
}

/* ---- writing effects ---------------------------------------------------------- */

/* Writes incidents: ids[0, n), or with ids NULL every incident 1..upto. */
static enum ks_rc put_incidents(struct ks_shell *sh, const int64_t *ids, size_t n, int64_t upto,
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
        ks_engine_incident_meta(sh->eng, id, &m);
        ks_engine_incident_json(sh->eng, id, 0, &sum);
        ks_engine_incident_json(sh->eng, id, 1, &det);
        /* the store derives the other columns from the summary (migration 9) */
        struct ks_incident_row row = {.id = m.id,
                                      .type = m.type,
                                      .severity = m.severity,
                                      .status = m.status,
                                      .fingerprint = m.fingerprint,
                                      .detected_at = m.detected_at,
                                      .summary_json = sum.p,
                                      .detail_json = det.p};
        rc = sh->store->ops->put_incident(sh->store, &row, err);
    }
    ks_buf_fini(&sum);
    ks_buf_fini(&det);
    return rc;
}

/* The SKU strings interned since the last write, as one dictionary block. */
static enum ks_rc put_skus(struct ks_shell *sh, uint32_t *saved, struct ks_err *err)
{
    uint32_t n = ks_engine_sku_count(sh->eng);
    *saved = sh->skus_saved;
    if (n == sh->skus_saved) {
        return KS_OK;
    }
    struct ks_buf b = {0};
    for (uint32_t id = sh->skus_saved; id < n; id++) {
        const char *s = ks_engine_sku(sh->eng, id);
        ks_sku_block_add(&b, s, strlen(s));
    }
    enum ks_rc rc =
        sh->store->ops->add_skus(sh->store, sh->skus_saved, n - sh->skus_saved, b.p, b.len, err);
    ks_buf_fini(&b);
    *saved = n;
    return rc;
}

/* The guarded feed's changes, encoded as the engine lets them through (one
 * encoder per channel) and written as one block per channel per chunk. */
static void feed_change(void *ctx, const struct ks_feed_effect *fe)
{
    struct ks_shell *sh = ctx;
    uint32_t ch = fe->channel;
    if (ch >= sh->nenc) {
        size_t nc = sh->nenc ? sh->nenc : 8;
        while (nc <= ch) {
            nc *= 2;
        }
        sh->enc = ks_realloc(sh->enc, nc * sizeof(*sh->enc));
        memset(sh->enc + sh->nenc, 0, (nc - sh->nenc) * sizeof(*sh->enc));
        sh->nenc = nc;
    }
    struct ks_feed_change c = {(int64_t)fe->seq, fe->sku, fe->qty, fe->at, fe->why, fe->incident};
    if (!sh->enc[ch].first) {
        KS_GROW(sh->enc_used, sh->capused, sh->nused + 1);
        sh->enc_used[sh->nused++] = ch;
    }
    ks_feed_enc_add(&sh->enc[ch], &c);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* One block per channel with changes, in channel id order. */
static enum ks_rc put_feed(struct ks_shell *sh, struct ks_err *err)
{
    enum ks_rc rc = KS_OK;
    if (sh->nused > 1) {
        qsort(sh->enc_used, sh->nused, sizeof(*sh->enc_used), cmp_u32);
    }
    for (size_t i = 0; i < sh->nused; i++) {
        struct ks_feed_enc *e = &sh->enc[sh->enc_used[i]];
        if (rc == KS_OK) {
            rc = sh->store->ops->add_feed_block(sh->store, ks_engine_name(sh->eng, sh->enc_used[i]),
                                                e->first, e->last, e->buf.p, e->buf.len, err);
        }
        ks_feed_enc_reset(e);
    }
    sh->nused = 0;
    return rc;
}

static enum ks_rc put_checkpoint_part(void *ctx, const void *p, size_t n, struct ks_err *err)
{
    struct ks_shell *sh = ctx;
    int64_t part = (int64_t)(sh->checkpoint_bytes / KS_CK_PART);
    sh->checkpoint_bytes += n;
    return sh->store->ops->ck_put(sh->store, part, p, n, err);
}

/* The checkpoint: the state in parts, and the marks that say what the rows
 * written with it are. */
static enum ks_rc put_checkpoint(struct ks_shell *sh, uint32_t skus, struct ks_err *err)
{
    enum ks_rc rc = sh->store->ops->ck_clear(sh->store, err);
    sh->checkpoint_bytes = 0;
    if (rc == KS_OK) {
        rc = ks_engine_save_parts(sh->eng, 1, put_checkpoint_part, sh, err);
    }
    int64_t dl = 0, hook = 0, msg = 0, trig = 0;
    if (rc == KS_OK) {
        rc = sh->store->ops->max_ids(sh->store, &dl, &hook, err);
    }
    if (rc == KS_OK) {
        rc = sh->store->ops->max_message_ids(sh->store, &msg, &trig, err);
    }
    if (rc == KS_OK) {
        char m[192];
        int n = snprintf(m, sizeof(m), "skus %u deadletter %lld hook %lld message %lld trigger %lld",
                         skus, (long long)dl, (long long)hook, (long long)msg, (long long)trig);
        rc = sh->store->ops->put_blob(sh->store, "marks", m, (size_t)n, err);
    }
    if (rc == KS_OK && sh->tail) {
        rc = sh->store->ops->put_blob(sh->store, "tail", "0", 1, err);
    }
    return rc;
}

enum ks_rc ks_shell_add_deadletter(struct ks_store *s, const char *source,
                                   const struct ks_dead_effect *e, struct ks_err *err)
{
    struct ks_deadletter d = {0};
    d.source = source;
    d.line = e->line;
    d.reason = e->reason;
    d.raw = e->raw;
    d.raw_len = e->raw_len;
    d.status = "pending";
    d.received_at = ks_time_now();
    return s->ops->add_deadletter(s, &d, err);
}

static enum ks_rc write_effects(struct ks_shell *sh, int checkpoint, uint32_t *skus,
                                struct ks_err *err)
{
    const struct ks_dead_effect *dl;
    size_t nd = ks_engine_dead(sh->eng, &dl);
    for (size_t i = 0; i < nd; i++) {
        if (ks_shell_add_deadletter(sh->store, ks_engine_input_name(sh->eng, dl[i].input),
                                    &dl[i], err) != KS_OK) {
            return err->rc;
        }
        sh->dead_written++;
    }
    const struct ks_hook_effect *he;
    size_t nh = ks_engine_hooks(sh->eng, &he);
    for (size_t i = 0; i < nh; i++) {
        struct ks_hook_row r = {.key = he[i].key, .incident = he[i].incident,
                                .action = he[i].action, .body = he[i].body,
                                .status = "pending", .next_at = ks_time_now()};
        if (sh->store->ops->add_hook(sh->store, &r, err) != KS_OK) {
            return err->rc;
        }
        sh->hooks_queued++;
    }
    const int64_t *ids;
    size_t ni = ks_engine_dirty(sh->eng, &ids);
    /* The triggers see the incidents as this transaction writes them; the
     * notification entries they add are written with them. */
    enum ks_rc rc = ks_shell_messages_queue(sh, ids, ni, err);
    if (rc != KS_OK) {
        return rc;
    }
    ni = ks_engine_dirty(sh->eng, &ids);
    rc = put_incidents(sh, ids, ni, 0, err);
    if (rc == KS_OK) {
        rc = put_skus(sh, skus, err);
    }
    if (rc == KS_OK) {
        rc = put_feed(sh, err);
    }
    if (rc == KS_OK && checkpoint) {
        rc = put_checkpoint(sh, *skus, err);
    } else if (rc == KS_OK && !sh->tail) {
        /* From here on rows follow that the saved state does not account for. */
        rc = sh->store->ops->put_blob(sh->store, "tail", "1", 1, err);
    }
    return rc;
}

int ks_shell_flush_with(struct ks_shell *sh, int checkpoint, ks_shell_extra_fn extra, void *ctx)
{
    struct ks_err err = {0};
    uint32_t skus = sh->skus_saved;
    int refused = 0; /* the caller's writes refused what was asked */
    /* With a saved state: the specialist reviews of remedies that missed
     * their deadline by the engine clock get their sla entries, in the same
     * transaction as the state that records them (docs/REMEDIES.md). */
    if (ks_store_begin(sh->store, &err) != KS_OK ||
        (extra && (refused = extra(sh, ctx, &err) != KS_OK)) ||
        (checkpoint && sh->eng && ks_remedy_sla(sh->store, sh->eng, &err) != KS_OK) ||
        write_effects(sh, checkpoint, &skus, &err) != KS_OK ||
        (sh->after_effects && sh->after_effects(sh, sh->after_ctx, &err) != KS_OK) ||
        ks_store_commit(sh->store, &err) != KS_OK) {
        struct ks_err ignore;
        ks_store_rollback(sh->store, &ignore);
        ks_comms_due_fini(&sh->trig_due); /* the trigger rows it wrote are gone */
        /* The database names the store that failed; a refusal of what was
         * asked (no such incident, not allowed) is said as the commands
         * that write no transaction say it, without it. */
        refused = refused && err.rc != KS_EIO && err.rc != KS_ENOMEM;
        if (refused) {
            ks_shell_error("%s", err.msg);
        } else {
            ks_shell_error("%s: %s", sh->db, err.msg);
        }
        sh->failed = err;
        if (sh->store->ops->release(sh->store, &ignore) != KS_OK) {
            ks_shell_error("%s: %s; it is released by the next kintsugi command once there is "
                           "room",
                           sh->db, ignore.msg);
        }
        return KS_SHELL_FAIL;
    }
    sh->skus_saved = skus;
    sh->tail = !checkpoint;
    if (checkpoint) {
        sh->last_checkpoint = ks_time_now();
    }
    ks_engine_effects_clear(sh->eng);
    return KS_SHELL_OK;
}

int ks_shell_has_effects(const struct ks_shell *sh)
{
    const int64_t *ids;
    const struct ks_dead_effect *dl;
    const struct ks_hook_effect *he;
    return sh->eng && (ks_engine_dirty(sh->eng, &ids) || ks_engine_dead(sh->eng, &dl) ||
                       ks_engine_hooks(sh->eng, &he) ||
                       ks_engine_sku_count(sh->eng) != sh->skus_saved || sh->nused != 0);
}

int ks_shell_unchanged(const struct ks_shell *sh)
{
    return sh->eng && !sh->tail && !ks_shell_has_effects(sh);
}

int ks_shell_flush(struct ks_shell *sh, int checkpoint)
{
    return ks_shell_flush_with(sh, checkpoint, NULL, NULL);
}

void ks_shell_close(struct ks_shell *sh)
{
    if (sh->tpl) {
        ks_tpl_set_fini(sh->tpl);
        ks_free(sh->tpl);
    }
    ks_engine_free(sh->eng);
    ks_store_close(sh->store);
    ks_config_fini(&sh->cfg);
    for (size_t i = 0; i < sh->nenc; i++) {
        ks_feed_enc_fini(&sh->enc[i]);
    }
    ks_free(sh->enc);
    ks_free(sh->enc_used);
    ks_comms_due_fini(&sh->trig_due);
    /* After the store: closing a descriptor of the database file would drop
     * SQLite's own locks on it while the connection is open. */
    if (sh->lock_fd >= 0) {
        close(sh->lock_fd);
    }
    memset(sh, 0, sizeof(*sh));
    sh->lock_fd = -1;
}
