/* nats.c - connecting to NATS with JetStream and making sure of the stream
 * (bus_int.h), for both ends of the bus. */
#include "bus_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int ks_bus_fail(struct ks_err *err, natsStatus st, const char *what)
{
    const char *last = nats_GetLastError(NULL);
    ks_err_set(err, KS_EIO, "%s: %s%s%s%s", what, natsStatus_GetText(st),
               last && *last ? " (" : "", last && *last ? last : "", last && *last ? ")" : "");
    return -1;
}

static void on_closed(natsConnection *nc, void *ctx)
{
    (void)nc;
    struct ks_bus_conn *bc = ctx;
    pthread_mutex_lock(&bc->mu);
    bc->closed = 1;
    pthread_cond_broadcast(&bc->cv);
    pthread_mutex_unlock(&bc->mu);
}

/* One server, or several separated by commas (each nats://HOST:PORT, or
 * HOST:PORT after the first): the client is given the list, which it tries
 * in turn and reconnects through (a comma list as one URL is not taken). */
static natsStatus set_servers(natsOptions *opts, const char *url)
{
    if (!strchr(url, ',')) {
        return natsOptions_SetURL(opts, url);
    }
    char *copy = ks_strdup(url), *save = NULL;
    const char *servers[64];
    char *owned[64];
    int n = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && n < 64; tok = strtok_r(NULL, ",", &save)) {
        struct ks_buf b = {0};
        ks_buf_printf(&b, "%s%s", strncmp(tok, "nats://", 7) == 0 ? "" : "nats://", tok);
        owned[n] = b.p;
        servers[n] = owned[n];
        n++;
    }
    natsStatus st = natsOptions_SetServers(opts, servers, n);
    for (int i = 0; i < n; i++) {
        ks_free(owned[i]);
    }
    ks_free(copy);
    return st;
}

int ks_bus_options(struct ks_bus_conn *bc, const struct ks_bus_conf *c, int max_reconnect,
                   natsConnectionHandler disconnected, natsConnectionHandler reconnected,
                   void *ctx, struct ks_err *err)
{
    memset(bc, 0, sizeof(*bc));
    pthread_mutex_init(&bc->mu, NULL);
    pthread_cond_init(&bc->cv, NULL);
    bc->inited = 1;
    natsStatus st = natsOptions_Create(&bc->opts);
    if (st == NATS_OK) {
        st = set_servers(bc->opts, c->url);
    }
    if (st == NATS_OK) {
        st = natsOptions_SetMaxReconnect(bc->opts, max_reconnect);
    }
    if (st == NATS_OK) {
        st = natsOptions_SetReconnectWait(bc->opts, 500);
    }
    if (st == NATS_OK) {
        st = natsOptions_SetReconnectJitter(bc->opts, 250, 1000);
    }
    if (st == NATS_OK) {
        st = natsOptions_SetTimeout(bc->opts, 2000);
    }
    if (st == NATS_OK) {
        /* what is published while reconnecting waits here (32 MiB) */
        st = natsOptions_SetReconnectBufSize(bc->opts, 32 << 20);
    }
    if (st == NATS_OK) {
        st = natsOptions_SetClosedCB(bc->opts, on_closed, bc);
    }
    if (st == NATS_OK && disconnected) {
        st = natsOptions_SetDisconnectedCB(bc->opts, disconnected, ctx);
    }
    if (st == NATS_OK && reconnected) {
        st = natsOptions_SetReconnectedCB(bc->opts, reconnected, ctx);
    }
    if (st != NATS_OK) {
        ks_bus_conn_close(bc);
        return ks_bus_fail(err, st, c->url);
    }
    return 0;
}

int ks_bus_connect(struct ks_bus_conn *bc, jsOptions *jo, struct ks_err *err)
{
    natsStatus st = natsConnection_Connect(&bc->nc, bc->opts);
    if (st != NATS_OK) {
        return ks_bus_fail(err, st, "cannot connect to the bus");
    }
    st = natsConnection_JetStream(&bc->js, bc->nc, jo);
    if (st != NATS_OK) {
        return ks_bus_fail(err, st, "JetStream");
    }
    return 0;
}

int ks_bus_stream(struct ks_bus_conn *bc, const struct ks_bus_conf *c, struct ks_err *err)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus st = js_GetStreamInfo(&si, bc->js, c->stream, NULL, &jerr);
    if (st == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return 0;
    }
    if (st != NATS_NOT_FOUND) {
        return ks_bus_fail(err, st, "the stream's information");
    }
    char subject[160];
    snprintf(subject, sizeof(subject), "%s.*", c->prefix);
    const char *subjects[] = {subject};
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = c->stream;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Retention = js_LimitsPolicy;
    cfg.Duplicates = (int64_t)10 * 60 * 1000000000; /* ns: publish again within 10 min, dropped */
    st = js_AddStream(&si, bc->js, &cfg, NULL, &jerr);
    if (st != NATS_OK && jerr != JSStreamNameExistErr) {
        char what[200];
        snprintf(what, sizeof(what), "cannot create the stream %s (subjects %s)", c->stream,
                 subject);
        return ks_bus_fail(err, st, what);
    }
    jsStreamInfo_Destroy(si);
    return 0;
}

void ks_bus_conn_close(struct ks_bus_conn *bc)
{
    jsCtx_Destroy(bc->js);
    if (bc->nc) {
        natsConnection_Close(bc->nc);
        /* The disconnected callback of this close may still be on its way
         * to ctx: wait for the closed one, which comes after it. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 5;
        pthread_mutex_lock(&bc->mu);
        int timed_out = 0;
        while (!bc->closed && !timed_out) {
            timed_out = pthread_cond_timedwait(&bc->cv, &bc->mu, &until) != 0;
        }
        pthread_mutex_unlock(&bc->mu);
        natsConnection_Destroy(bc->nc);
    }
    natsOptions_Destroy(bc->opts);
    if (bc->inited) {
        pthread_mutex_destroy(&bc->mu);
        pthread_cond_destroy(&bc->cv);
    }
    memset(bc, 0, sizeof(*bc));
}
