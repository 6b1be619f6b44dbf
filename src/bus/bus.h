/*
 * bus.h - NATS JetStream as kintsugi's event bus (docs/BUS.md).
 *
 * Events travel one per message on subjects PREFIX.P (kintsugi.events.0 ..
 * kintsugi.events.7 by default), P a stable hash of a key that keeps an
 * update together: the channel for inventory, sync and orders, system/location
 * for health, the PO for receipts (ks_bus_key). `kintsugi publish` feeds the
 * stream (ks_bus_pub); `kintsugi serve --bus` consumes it with a durable pull
 * consumer (ks_bus_sub), commits each batch's effects together with the
 * stream sequence it reaches, and only then acknowledges the messages.
 */
#ifndef KS_BUS_H
#define KS_BUS_H

#include "../core/core.h"

struct ks_event;
struct ks_live;

#define KS_BUS_STREAM "KINTSUGI"
#define KS_BUS_PREFIX "kintsugi.events"
#define KS_BUS_CONSUMER "kintsugi"
#define KS_BUS_PARTITIONS 8
#define KS_BUS_MAX_PARTITIONS 1024
/* the subject (PREFIX.rejected) of lines the decoder rejects: published for the
 * server to dead-letter, as a POST of them would be */
#define KS_BUS_REJECTED "rejected"

/* ---- partitioning (partition.c: no NATS in it) ------------------------------- */

/* The partition key of a decoded event: the channel (inventory, sync, order;
 * a complaint's channel when it has one), "system/location" or "system"
 * (health), the PO (receipt), the SKU (stock), the order id (complaint,
 * feedback without a channel), the name (metric), else the type's name
 * ("tick"). Borrows ev's strings or writes into buf[0, cap). */
struct ks_str ks_bus_key(const struct ks_event *ev, char *buf, size_t cap);
/* FNV-1a, 32 bits: stable across versions and machines (a partition must not
 * move when kintsugi is upgraded). */
uint32_t ks_bus_hash(const char *p, size_t n);
/* The key's partition among n (1..KS_BUS_MAX_PARTITIONS): hash mod n. */
uint32_t ks_bus_partition(struct ks_str key, uint32_t n);
/* "PREFIX.P" into out. */
void ks_bus_subject(const char *prefix, uint32_t part, char *out, size_t cap);
/* The events a message carries: its lines (one, or several joined by '\n'). */
uint64_t ks_bus_lines(const char *data, size_t len);
/* Checks a bus URL: nats://HOST:PORT, several separated by commas. Returns
 * 0, or -1 with the reason in err. */
int ks_bus_url_check(const char *url, struct ks_err *err);
/* Checks a stream, consumer or subject-prefix name (letters, digits, '-',
 * '_', and '.' in a prefix only). */
int ks_bus_name_check(const char *what, const char *name, int dots, struct ks_err *err);

/* ---- what both ends share ----------------------------------------------------- */

struct ks_bus_conf {
    const char *url;      /* nats://HOST:PORT */
    const char *stream;   /* KS_BUS_STREAM */
    const char *prefix;   /* KS_BUS_PREFIX */
    const char *consumer; /* KS_BUS_CONSUMER (serve) */
    uint32_t partitions;  /* KS_BUS_PARTITIONS (publish) */
    int window;           /* publish: acknowledgements awaited at most (4096) */
    int batch;            /* serve: messages fetched and committed together (512) */
    ks_time ack_wait;     /* serve: a message not acknowledged by then comes again (30 s) */
};

/* ---- publishing (publish.c) ---------------------------------------------------- */

struct ks_bus_pub;
/* Connects and creates the stream if it is absent. Returns 0, or -1 with err. */
int ks_bus_pub_open(struct ks_bus_pub **out, const struct ks_bus_conf *c, struct ks_err *err);
/* Publishes one message to subject: one event line, or several joined by
 * '\n' (no newline at the end), without waiting for its acknowledgement (at
 * most conf.window wait at a time). msg_id: the stream drops a second message
 * with the same id in its duplicate window. The counts are in events (lines). */
int ks_bus_pub_send(struct ks_bus_pub *p, const char *subject, const char *line, size_t n,
                    const char *msg_id, struct ks_err *err);
/* Events (lines) acknowledged and failed so far. */
void ks_bus_pub_counts(struct ks_bus_pub *p, uint64_t *acked, uint64_t *failed);
/* Waits (at most timeout) for every acknowledgement; those still missing
 * count as failed. Returns 0 when every message was acknowledged, else -1
 * with the first failure in err. */
int ks_bus_pub_finish(struct ks_bus_pub *p, ks_time timeout, struct ks_err *err);
void ks_bus_pub_close(struct ks_bus_pub *p);

/* ---- consuming (consume.c) ---------------------------------------------------- */

struct ks_bus_sub;
/* A consumer of the stream into l (ks_live_events_mark) with the durable
 * consumer conf.consumer, not started yet (its health can be asked). */
struct ks_bus_sub *ks_bus_sub_new(struct ks_live *l, const struct ks_bus_conf *c);
/* Starts its thread, after the server's writer: fetch up to conf.batch,
 * apply, commit with the stream sequence reached, then acknowledge. It
 * connects (and reconnects) by itself with backoff; the bus being down is a
 * state, not an error here. */
void ks_bus_sub_start(struct ks_bus_sub *s);
/* The /healthz part (struct ks_api's health hook, ctx a struct ks_bus_sub):
 * ",\"bus\":{...}"; returns 1 when the bus is not being consumed. */
int ks_bus_health(void *ctx, struct ks_buf *out);
/* Stops the thread (a batch in progress is committed and acknowledged first)
 * and closes the connection. */
void ks_bus_sub_stop(struct ks_bus_sub *s);

#endif
