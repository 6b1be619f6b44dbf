/*
 * logcopy.c - the write-ahead log copied into the database away from the
 * writer.
 *
 * SQLite copies its log into the database file (a checkpoint, two fsyncs)
 * from whichever commit finds the log grown past its limit. In a server that
 * commit is a request waiting for its 202, and on a busy disk the flushes take
 * tens of milliseconds. So the writer's connection never copies; this thread
 * does, on a connection of its own, every LOGCOPY_EVERY: a passive copy, which
 * neither waits for nor blocks the writer (WAL lets one writer append while
 * the log is copied). At close the writer's own connection copies what is left.
 */
#include "serve_int.h"

#include <time.h>

#define LOGCOPY_EVERY (KS_SEC / 10)

static void *copier(void *arg)
{
    struct ks_live *l = arg;
    int warned = 0;
    pthread_mutex_lock(&l->cmu);
    while (!l->cstop) {
        ks_time at = ks_time_now() + LOGCOPY_EVERY;
        struct timespec ts = {(time_t)(at / 1000), (long)(at % 1000) * 1000000L};
        pthread_cond_timedwait(&l->ccv, &l->cmu, &ts);
        if (l->cstop) {
            break;
        }
        pthread_mutex_unlock(&l->cmu);
        struct ks_err err = {0};
        if (l->cstore->ops->copy_log(l->cstore, &err) != KS_OK && !warned) {
            /* The writer's connection copies at close; a commit never waits. */
            ks_log(KS_LOG_WARN, "serve", "%s", err.msg);
            warned = 1;
        }
        pthread_mutex_lock(&l->cmu);
    }
    pthread_mutex_unlock(&l->cmu);
    return NULL;
}

void ks_live_logcopy_start(struct ks_live *l)
{
    struct ks_store *w = l->a.store;
    struct ks_err err = {0};
    if (!w->ops->log_autocopy || !w->ops->copy_log) {
        return;
    }
    if (ks_store_open(&l->cstore, l->a.db, &err) != KS_OK) {
        ks_log(KS_LOG_WARN, "serve", "%s: commits copy the log themselves", err.msg);
        return;
    }
    pthread_mutex_init(&l->cmu, NULL);
    pthread_cond_init(&l->ccv, NULL);
    l->cstop = 0;
    if (pthread_create(&l->copier, NULL, copier, l) != 0) {
        ks_store_close(l->cstore);
        l->cstore = NULL;
        return;
    }
    w->ops->log_autocopy(w, 0, &err);
    l->cstarted = 1;
}

void ks_live_logcopy_stop(struct ks_live *l)
{
    if (!l->cstarted) {
        return;
    }
    pthread_mutex_lock(&l->cmu);
    l->cstop = 1;
    pthread_cond_signal(&l->ccv);
    pthread_mutex_unlock(&l->cmu);
    pthread_join(l->copier, NULL);
    ks_store_close(l->cstore);
    l->cstore = NULL;
    pthread_mutex_destroy(&l->cmu);
    pthread_cond_destroy(&l->ccv);
    l->cstarted = 0;
    struct ks_err err = {0};
    l->a.store->ops->log_autocopy(l->a.store, 1, &err);
}
