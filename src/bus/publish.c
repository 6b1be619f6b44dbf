/* publish.c - events onto the stream, acknowledgements awaited with a window
 * (bus.h). The client library keeps at most conf.window messages in flight;
 * acknowledgements come back on its thread into the counters here. */
#include "bus_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct ks_bus_pub {
    struct ks_bus_conn bc;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t sent, acked, failed; /* events (lines) */
    uint64_t messages;            /* messages sent */
    uint64_t handled; /* acknowledgement handlers that have finished, message freed */
    char first_error[300];
};

/* The events a message carries: its lines. */
static uint64_t msg_lines(natsMsg *msg)
{
    return msg ? ks_bus_lines(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg)) : 1;
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    struct ks_bus_pub *p = closure;
    uint64_t lines = msg_lines(msg);
    pthread_mutex_lock(&p->mu);
    if (pa && !pae) {
        p->acked += lines;
    } else {
        p->failed += lines;
        if (!p->first_error[0]) {
            const char *id = NULL;
            if (msg) {
                natsMsgHeader_Get(msg, "Nats-Msg-Id", &id);
            }
            snprintf(p->first_error, sizeof(p->first_error), "event %s: %s", id ? id : "?",
                     pae && pae->ErrText ? pae->ErrText
                                         : natsStatus_GetText(pae ? pae->Err : NATS_ERR));
        }
    }
    pthread_mutex_unlock(&p->mu);
    natsMsg_Destroy(msg);
    pthread_mutex_lock(&p->mu);
    p->handled++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int ks_bus_pub_open(struct ks_bus_pub **out, const struct ks_bus_conf *c, struct ks_err *err)
{
    struct ks_bus_pub *p = ks_calloc(1, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    *out = p;
    /* a bus restarting under a publish: reconnect for up to a minute */
    if (ks_bus_options(&p->bc, c, 120, NULL, NULL, NULL, err) != 0) {
        return -1;
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = c->window > 0 ? c->window : 4096;
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = p;
    jo.PublishAsync.StallWait = 60000; /* ms: a full window waits for room, up to a minute */
    if (ks_bus_connect(&p->bc, &jo, err) != 0 || ks_bus_stream(&p->bc, c, err) != 0) {
        return -1;
    }
    return 0;
}

int ks_bus_pub_send(struct ks_bus_pub *p, const char *subject, const char *line, size_t n,
                    const char *msg_id, struct ks_err *err)
{
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = msg_id;
    natsStatus st = js_PublishAsync(p->bc.js, subject, line, (int)n, &po);
    if (st != NATS_OK) {
        return ks_bus_fail(err, st, "publish");
    }
    uint64_t lines = ks_bus_lines(line, n);
    pthread_mutex_lock(&p->mu);
    p->sent += lines;
    p->messages++;
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void ks_bus_pub_counts(struct ks_bus_pub *p, uint64_t *acked, uint64_t *failed)
{
    pthread_mutex_lock(&p->mu);
    *acked = p->acked;
    *failed = p->failed;
    pthread_mutex_unlock(&p->mu);
}

int ks_bus_pub_finish(struct ks_bus_pub *p, ks_time timeout, struct ks_err *err)
{
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = timeout;
    natsStatus st = js_PublishAsyncComplete(p->bc.js, &po);
    if (st == NATS_OK) {
        /* the library counts a message done before its handler has run:
         * wait for the handlers, which free the messages, before closing
         * (every ack is in: they run at once, but a loaded machine may hold
         * their thread off for seconds - 5 s was seen to leave one) */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 60;
        pthread_mutex_lock(&p->mu);
        while (p->handled < p->messages &&
               pthread_cond_timedwait(&p->cv, &p->mu, &until) == 0) {
        }
        pthread_mutex_unlock(&p->mu);
    } else {
        /* what is still awaited is given back: not acknowledged, failed */
        natsMsgList pending = {0};
        if (js_PublishAsyncGetPendingList(&pending, p->bc.js) == NATS_OK) {
            pthread_mutex_lock(&p->mu);
            for (int i = 0; i < pending.Count; i++) {
                p->failed += msg_lines(pending.Msgs[i]);
            }
            pthread_mutex_unlock(&p->mu);
            natsMsgList_Destroy(&pending);
        }
    }
    pthread_mutex_lock(&p->mu);
    int ok = p->failed == 0 && p->acked == p->sent;
    if (!ok) {
        ks_err_set(err, KS_EIO, "%llu of %llu events not acknowledged by the bus%s%s",
                   (unsigned long long)(p->sent - p->acked), (unsigned long long)p->sent,
                   p->first_error[0] ? "; first: " : "", p->first_error);
    }
    pthread_mutex_unlock(&p->mu);
    return ok ? 0 : -1;
}

void ks_bus_pub_close(struct ks_bus_pub *p)
{
    if (!p) {
        return;
    }
    ks_bus_conn_close(&p->bc);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    ks_free(p);
    nats_Close();
}
