/* serve_int.h - what the files of src/serve/ share (private). */
#ifndef KS_SERVE_INT_H
#define KS_SERVE_INT_H

#include "../shell/shell.h"
#include "serve.h"

#include <pthread.h>

struct job;

struct ks_live {
    struct ks_shell a;
    struct ks_live_opts o;
    uint32_t input; /* the engine's input "http" */
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* the writer waits for jobs */
    pthread_cond_t done_cv; /* submitters wait for their job */
    struct job *head, **tail;
    int stopping, started, ready, broken;
    pthread_t th;
    int64_t journal_seq; /* the last entry applied */
    int open_updates;    /* events came since the last end of input */
    ks_time last_events; /* wall clock of the last events applied */
    ks_time last_checkpoint;
    struct ks_live_stats st; /* counters: atomics */
    uint64_t by_type[KS_METRICS_TYPES][3]; /* accepted, duplicate, rejected: atomics */
    pthread_key_t reader_key;
};

#define KS_LIVE_COUNT(l, field, n) __atomic_add_fetch(&(l)->st.field, (n), __ATOMIC_RELAXED)

/* Applies one command (JSON {"op": ...}) to the engine at `at` (KS_TIME_NONE:
 * the engine clock) by actor; its result document to out. live_cmd.c. */
enum ks_rc ks_live_cmd_apply(struct ks_engine *e, const char *cmd, size_t len, const char *actor,
                             ks_time at, struct ks_buf *out, struct ks_err *err);
void ks_live_reader_free(void *store);
void ks_live_free(struct ks_live *l);

#endif
