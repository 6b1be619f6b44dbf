/* bus_int.h - what publish.c and consume.c share: a connection to NATS with
 * JetStream and the stream made sure of (nats.c). */
#ifndef KS_BUS_INT_H
#define KS_BUS_INT_H

#include "bus.h"

#include <nats/nats.h>

#include <pthread.h>

struct ks_bus_conn {
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    /* The closed callback has run: the library delivers a connection's
     * events in order on a thread of its own, so after it no disconnected
     * or reconnected callback can still reach ctx (ks_bus_conn_close waits
     * for it before the caller frees what ctx points to). */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int closed, inited;
};

/* The connection's options: the URL(s), reconnecting for ever (max_reconnect
 * -1) or that many times, every reconnect_wait with jitter; cb, when not
 * NULL, is told of disconnections and reconnections (closure ctx). */
int ks_bus_options(struct ks_bus_conn *bc, const struct ks_bus_conf *c, int max_reconnect,
                   natsConnectionHandler disconnected, natsConnectionHandler reconnected,
                   void *ctx, struct ks_err *err);
/* Connects with the options and opens JetStream (jo: its options, NULL for
 * the defaults). Returns 0, or -1 with err. */
int ks_bus_connect(struct ks_bus_conn *bc, jsOptions *jo, struct ks_err *err);
/* Creates the stream (subjects PREFIX.*, file storage, a 10 min duplicate
 * window) when it is absent. */
int ks_bus_stream(struct ks_bus_conn *bc, const struct ks_bus_conf *c, struct ks_err *err);
/* Closes what is open (options included), having waited (up to 5 s) for
 * the library's last callback of the connection. */
void ks_bus_conn_close(struct ks_bus_conn *bc);
/* err from a NATS status: "what: STATUS TEXT (last error)". */
int ks_bus_fail(struct ks_err *err, natsStatus st, const char *what);

#endif
