/* consume.c - the stream into `kintsugi serve` (bus.h, docs/BUS.md).
 *
 * One thread fetches up to conf.batch messages from the durable pull
 * consumer, hands their lines to the server's writer as one job whose
 * transaction also stores the stream sequence reached (ks_live_events_mark),
 * and acknowledges the messages only once that returned. A message whose
 * stream sequence is at or below the committed one was applied already (a
 * crash between commit and acknowledgement): it is acknowledged, not applied.
 * A delivery missing in the consumer's own sequence (lost in transit on a
 * broken connection) would let later messages be committed over it, so the
 * batch is dropped unacknowledged and the consumer made again from the
 * committed sequence + 1: JetStream replays from there. */
#include "bus_int.h"

#include "../serve/serve.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ks_bus_sub {
    struct ks_live *l;
    struct ks_bus_conf c;
    char url[512], stream[72], prefix[72], consumer[72], mark_key[200], filter[80];
    struct ks_bus_conn bc;
    natsSubscription *sub;
    pthread_t th;
    int started, stop;
    int64_t committed; /* the stream sequence of the last committed message */
    int resumed;       /* the consumer was made from committed + 1 in this process */
    int drop_acks;     /* fault injection (KINTSUGI_BUS_DROP_ACKS): batches left unacknowledged */
    uint64_t last_cseq; /* the consumer's delivery sequence last seen (0: none yet) */
    /* for /healthz, under mu */
    pthread_mutex_t mu;
    const char *state; /* "connecting", "consuming", "disconnected", "store failed" */
    char error[300];
    ks_time since;
    uint64_t applied, skipped, batches, resets, rejected;
};

static void set_state(struct ks_bus_sub *s, const char *state, const char *error)
{
    pthread_mutex_lock(&s->mu);
    int changed = s->state != state || strcmp(s->error, error ? error : "") != 0;
    if (changed) {
        s->state = state;
        snprintf(s->error, sizeof(s->error), "%s", error ? error : "");
        s->since = ks_time_now();
    }
    pthread_mutex_unlock(&s->mu);
    if (changed) {
        if (error) {
            ks_log(KS_LOG_WARN, "bus", "%s %s: %s", s->url, state, error);
        } else {
            ks_log(KS_LOG_INFO, "bus", "%s %s (stream %s, consumer %s, committed sequence %lld)",
                   s->url, state, s->stream, s->consumer, (long long)s->committed);
        }
    }
}

static void on_disconnected(natsConnection *nc, void *ctx)
{
    (void)nc;
    struct ks_bus_sub *s = ctx;
    if (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) { /* not our own closing */
        set_state(s, "disconnected", "the connection to the bus is lost; reconnecting");
    }
}

static void on_reconnected(natsConnection *nc, void *ctx)
{
    (void)nc;
    set_state(ctx, "consuming", NULL);
}

/* A fetch answered (messages, or none before its timeout): the bus is
 * consumed, also after failed fetches that kept the subscription. Not while
 * the connection is down (a fetch may time out while reconnecting). */
static void consuming(struct ks_bus_sub *s)
{
    pthread_mutex_lock(&s->mu);
    int was = strcmp(s->state, "consuming") == 0;
    pthread_mutex_unlock(&s->mu);
    if (!was && natsConnection_Status(s->bc.nc) == NATS_CONN_STATUS_CONNECTED) {
        set_state(s, "consuming", NULL);
    }
}

/* Sleeps ms, or less when stopping. */
static void pause_ms(struct ks_bus_sub *s, int ms)
{
    for (int t = 0; t < ms && !__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE); t += 50) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void drop_sub(struct ks_bus_sub *s)
{
    if (s->sub) {
        natsSubscription_Destroy(s->sub); /* bound to a durable: the consumer stays */
        s->sub = NULL;
    }
}

/* The durable consumer, made from committed + 1 when absent (or when
 * remake), and a subscription bound to it. */
static int subscribe(struct ks_bus_sub *s, int remake, struct ks_err *err)
{
    jsErrCode jerr = 0;
    jsConsumerInfo *ci = NULL;
    natsStatus st = js_GetConsumerInfo(&ci, s->bc.js, s->stream, s->consumer, NULL, &jerr);
    if (st == NATS_OK && remake) {
        jsConsumerInfo_Destroy(ci);
        ci = NULL;
        st = js_DeleteConsumer(s->bc.js, s->stream, s->consumer, NULL, &jerr);
        if (st != NATS_OK) {
            return ks_bus_fail(err, st, "cannot delete the consumer to replay");
        }
        st = NATS_NOT_FOUND;
    }
    if (st == NATS_NOT_FOUND) {
        jsConsumerConfig cc;
        jsConsumerConfig_Init(&cc);
        cc.Durable = s->consumer;
        cc.AckPolicy = js_AckExplicit;
        cc.AckWait = (int64_t)s->c.ack_wait * 1000000; /* ns */
        cc.FilterSubject = s->filter;
        cc.MaxAckPending = s->c.batch * 4 > 1024 ? s->c.batch * 4 : 1024;
        if (s->committed > 0) {
            cc.DeliverPolicy = js_DeliverByStartSequence;
            cc.OptStartSeq = (uint64_t)s->committed + 1;
        } else {
            cc.DeliverPolicy = js_DeliverAll;
        }
        st = js_AddConsumer(&ci, s->bc.js, s->stream, &cc, NULL, &jerr);
        if (st != NATS_OK) {
            return ks_bus_fail(err, st, "cannot create the durable consumer");
        }
        ks_log(KS_LOG_INFO, "bus", "consumer %s created on %s from sequence %lld", s->consumer,
               s->stream, (long long)s->committed + 1);
    } else if (st != NATS_OK) {
        return ks_bus_fail(err, st, "the consumer's information");
    }
    jsConsumerInfo_Destroy(ci);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = s->stream;
    so.Consumer = s->consumer;
    so.ManualAck = true;
    st = js_PullSubscribe(&s->sub, s->bc.js, s->filter, s->consumer, NULL, &so, &jerr);
    if (st != NATS_OK) {
        return ks_bus_fail(err, st, "cannot subscribe with the durable consumer");
    }
    s->last_cseq = 0;
    return 0;
}

/* Connected, the stream there, subscribed; 0, or -1 with err. */
static int set_up(struct ks_bus_sub *s, struct ks_err *err)
{
    if (!s->bc.nc) {
        if (ks_bus_options(&s->bc, &s->c, -1, on_disconnected, on_reconnected, s, err) != 0) {
            return -1;
        }
        if (ks_bus_connect(&s->bc, NULL, err) != 0) {
            ks_bus_conn_close(&s->bc);
            return -1;
        }
    }
    if (ks_bus_stream(&s->bc, &s->c, err) != 0) {
        return -1;
    }
    int64_t committed = 0;
    if (ks_live_mark(s->l, s->mark_key, &committed, err) != 0) {
        return -1;
    }
    __atomic_store_n(&s->committed, committed, __ATOMIC_RELAXED);
    /* The first time in this process the consumer is made again from the
     * committed sequence + 1: what a killed predecessor had fetched but not
     * acknowledged comes again at once, not after the ack wait. */
    int remake = !s->resumed;
    if (subscribe(s, remake, err) != 0) {
        return -1;
    }
    s->resumed = 1;
    return 0;
}

/* Applies and acknowledges one fetched batch. Returns 0, 1 when the consumer
 * must be made again (a delivery went missing), -1 when the store failed. */
static int take(struct ks_bus_sub *s, natsMsgList *list, struct ks_buf *body)
{
    body->len = 0;
    int64_t first = 0, last = 0;
    uint64_t napplied = 0, nskipped = 0;
    for (int i = 0; i < list->Count; i++) {
        jsMsgMetaData *md = NULL;
        if (natsMsg_GetMetaData(&md, list->Msgs[i]) != NATS_OK) {
            continue; /* not a stream message */
        }
        uint64_t cseq = md->Sequence.Consumer;
        int64_t sseq = (int64_t)md->Sequence.Stream;
        jsMsgMetaData_Destroy(md);
        if (s->last_cseq && cseq != s->last_cseq + 1 && cseq > s->last_cseq) {
            ks_log(KS_LOG_WARN, "bus", "delivery %llu came after %llu: replaying from sequence "
                                       "%lld",
                   (unsigned long long)cseq, (unsigned long long)s->last_cseq,
                   (long long)s->committed + 1);
            return 1;
        }
        s->last_cseq = cseq;
        /* a message carries one event line or several joined by '\n' */
        const char *data = natsMsg_GetData(list->Msgs[i]);
        size_t len = (size_t)natsMsg_GetDataLength(list->Msgs[i]);
        uint64_t lines = ks_bus_lines(data, len);
        if (sseq <= s->committed || sseq <= last) {
            nskipped += lines;
            continue;
        }
        ks_buf_put(body, data, len);
        ks_buf_putc(body, '\n');
        if (!first) {
            first = sseq;
        }
        last = sseq;
        napplied += lines;
    }
    if (napplied) {
        char actor[200];
        snprintf(actor, sizeof(actor), "%s/%s seq %lld-%lld", s->stream, s->consumer,
                 (long long)first, (long long)last);
        struct ks_live_events res;
        struct ks_err err = {0};
        if (ks_live_events_mark(s->l, body->p, body->len, actor, 0, s->mark_key, last, &res,
                                &err) != 0) {
            set_state(s, "store failed", err.msg);
            return -1;
        }
        ks_buf_fini(&res.rejected_json);
        __atomic_store_n(&s->committed, last, __ATOMIC_RELAXED);
        pthread_mutex_lock(&s->mu);
        s->rejected += res.rejected;
        pthread_mutex_unlock(&s->mu);
    }
    /* committed: now, and only now, acknowledged */
    if (s->drop_acks > 0) {
        s->drop_acks--; /* as if the process died between the commit and the acks */
    } else {
        for (int i = 0; i < list->Count; i++) {
            natsMsg_Ack(list->Msgs[i], NULL);
        }
    }
    pthread_mutex_lock(&s->mu);
    s->applied += napplied;
    s->skipped += nskipped;
    s->batches++;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static void *run(void *arg)
{
    struct ks_bus_sub *s = arg;
    struct ks_buf body = {0};
    int backoff = 250, errors = 0;
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
        struct ks_err err = {0};
        if (!s->sub) {
            if (set_up(s, &err) != 0) {
                set_state(s, "disconnected", err.msg);
                pause_ms(s, backoff);
                backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
                continue;
            }
            backoff = 250;
            set_state(s, "consuming", NULL);
        }
        natsMsgList list = {0};
        jsErrCode jerr = 0;
        natsStatus st = natsSubscription_Fetch(&list, s->sub, s->c.batch, 1000, &jerr);
        if (st == NATS_TIMEOUT) {
            errors = 0;
            backoff = 250;
            consuming(s);
            continue; /* nothing new */
        }
        if (st != NATS_OK) {
            ks_bus_fail(&err, st, "fetch");
            natsMsgList_Destroy(&list);
            if (natsConnection_Status(s->bc.nc) == NATS_CONN_STATUS_CONNECTED) {
                set_state(s, "disconnected", err.msg);
                /* connected yet failing (the consumer gone?): set up again */
                if (++errors >= 3) {
                    drop_sub(s);
                    errors = 0;
                }
            }
            pause_ms(s, backoff);
            backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
            continue;
        }
        errors = 0;
        backoff = 250;
        consuming(s);
        int rc = take(s, &list, &body);
        natsMsgList_Destroy(&list);
        if (rc < 0) {
            /* The server's store failed (it says so on /readyz): nothing of
             * the batch was acknowledged. A store the server takes up again
             * (PostgreSQL) is waited for, then the consumer is made again
             * from the committed sequence + 1, read back from the store;
             * otherwise (SQLite) a restart continues. */
            drop_sub(s);
            s->resumed = 0;
            while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE) && !ks_live_ready(s->l)) {
                pause_ms(s, 200);
            }
            continue;
        }
        if (rc > 0) {
            drop_sub(s);
            if (subscribe(s, 1, &err) != 0) {
                set_state(s, "disconnected", err.msg);
                drop_sub(s);
            } else {
                set_state(s, "consuming", NULL);
            }
            pthread_mutex_lock(&s->mu);
            s->resets++;
            pthread_mutex_unlock(&s->mu);
        }
    }
    ks_buf_fini(&body);
    return NULL;
}

struct ks_bus_sub *ks_bus_sub_new(struct ks_live *l, const struct ks_bus_conf *c)
{
    struct ks_bus_sub *s = ks_calloc(1, sizeof(*s));
    s->l = l;
    snprintf(s->url, sizeof(s->url), "%s", c->url);
    snprintf(s->stream, sizeof(s->stream), "%s", c->stream);
    snprintf(s->prefix, sizeof(s->prefix), "%s", c->prefix);
    snprintf(s->consumer, sizeof(s->consumer), "%s", c->consumer);
    snprintf(s->filter, sizeof(s->filter), "%s.*", c->prefix);
    snprintf(s->mark_key, sizeof(s->mark_key), "bus:%s:%s", c->stream, c->consumer);
    s->c = *c;
    s->c.url = s->url;
    s->c.stream = s->stream;
    s->c.prefix = s->prefix;
    s->c.consumer = s->consumer;
    if (s->c.batch <= 0) {
        s->c.batch = 512;
    }
    if (s->c.ack_wait <= 0) {
        s->c.ack_wait = 30 * KS_SEC;
    }
    const char *drop = getenv("KINTSUGI_BUS_DROP_ACKS");
    s->drop_acks = drop && *drop ? atoi(drop) : 0;
    s->state = "connecting";
    s->since = ks_time_now();
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void ks_bus_sub_start(struct ks_bus_sub *s)
{
    pthread_create(&s->th, NULL, run, s);
    s->started = 1;
}

int ks_bus_health(void *ctx, struct ks_buf *out)
{
    struct ks_bus_sub *s = ctx;
    pthread_mutex_lock(&s->mu);
    char since[32];
    ks_time_fmt(s->since, since);
    struct ks_json j;
    ks_buf_puts(out, ",\"bus\":");
    ks_json_init(&j, out, 0);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "url");
    ks_json_str(&j, s->url);
    ks_json_key(&j, "stream");
    ks_json_str(&j, s->stream);
    ks_json_key(&j, "consumer");
    ks_json_str(&j, s->consumer);
    ks_json_key(&j, "state");
    ks_json_str(&j, s->state);
    ks_json_key(&j, "since");
    ks_json_str(&j, since);
    if (s->error[0]) {
        ks_json_key(&j, "error");
        ks_json_str(&j, s->error);
    }
    ks_json_key(&j, "committed_seq");
    ks_json_int(&j, __atomic_load_n(&s->committed, __ATOMIC_RELAXED));
    ks_json_key(&j, "applied");
    ks_json_int(&j, (int64_t)s->applied);
    ks_json_key(&j, "rejected");
    ks_json_int(&j, (int64_t)s->rejected);
    ks_json_key(&j, "redelivered_skipped");
    ks_json_int(&j, (int64_t)s->skipped);
    ks_json_key(&j, "batches");
    ks_json_int(&j, (int64_t)s->batches);
    ks_json_key(&j, "replays");
    ks_json_int(&j, (int64_t)s->resets);
    ks_json_obj_end(&j);
    int degraded = strcmp(s->state, "consuming") != 0;
    pthread_mutex_unlock(&s->mu);
    return degraded;
}

void ks_bus_sub_stop(struct ks_bus_sub *s)
{
    if (!s) {
        return;
    }
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
    if (s->started) {
        pthread_join(s->th, NULL);
    }
    drop_sub(s);
    ks_bus_conn_close(&s->bc);
    pthread_mutex_destroy(&s->mu);
    ks_free(s);
    nats_Close();
}
