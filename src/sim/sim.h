/*
 * sim.h - a deterministic simulated shop: an NDJSON event stream in the
 * formats of SPEC section 1, with chosen faults injected, and the ground
 * truth of the incidents those faults must cause (SPEC sections 2 and 3,
 * default configuration).
 *
 * The same options (seed included) always give byte-identical output: the
 * simulator has its own PRNG, does integer arithmetic only and never reads
 * the wall clock. docs/SIMULATOR.md describes the shop model, every fault
 * and the truth format.
 *
 * Two parts:
 *   - the simulator (ks_sim_run and its options and fault table);
 *   - the oracle, a re-statement of the SPEC section 3 detectors over the
 *     simulator's typed events (struct ks_sim_ev), which the simulator feeds
 *     with every event it writes and from which the truth is written. It is
 *     public so that tests can drive it with hand-made events.
 */
#ifndef KS_SIM_H
#define KS_SIM_H

#include "../core/core.h"

/* ---- faults ------------------------------------------------------------ */

enum ks_sim_fault {
    KS_SIM_STALL_ONE,
    KS_SIM_STALL_ALL,
    KS_SIM_ZERO_SPIKE,
    KS_SIM_SHIFT,
    KS_SIM_WMS_ONE,
    KS_SIM_WMS_ALL,
    KS_SIM_REJECTIONS,
    KS_SIM_SUPPLIER_SHORT,
    KS_SIM_SUPPLIER_WRONG,
    KS_SIM_SUPPLIER_DAMAGED,
    KS_SIM_COMPLAINT_SPIKE,
    KS_SIM_SCHEMA_CHANGE,
    KS_SIM_VOLUME_DROP,
    KS_SIM_METRIC_DROP,
    KS_SIM_NFAULTS
};
#define KS_SIM_BIT(f) (1u << (f))
#define KS_SIM_ALL_FAULTS ((1u << KS_SIM_NFAULTS) - 1u)

struct ks_sim_fault_info {
    const char *name;    /* "zero-spike": the command-line and truth name */
    const char *type;    /* the incident type it causes: "data_corruption" */
    const char *summary; /* one line for --list-faults */
    ks_time span;        /* time it occupies on the timeline (cause and effects) */
};
/* Indexed by enum ks_sim_fault. */
extern const struct ks_sim_fault_info ks_sim_fault_table[KS_SIM_NFAULTS];

/* Returns the fault named by s[0..n) or -1. */
int ks_sim_fault_find(const char *s, size_t n);
/*
 * Adds the faults of a comma-separated list ("zero-spike,shift", "all") to
 * *bits. "all" also sets *all (see struct ks_sim_opts.fit). Empty items are
 * ignored. An unknown name is KS_EUSAGE with err->msg "unknown fault 'x'";
 * a list that names none ("", " , ") is KS_EUSAGE, "'' names no fault".
 */
enum ks_rc ks_sim_parse_faults(const char *list, unsigned *bits, int *all, struct ks_err *err);

/* ---- the simulator ----------------------------------------------------- */

#define KS_SIM_MAX_CHANNELS 16
#define KS_SIM_MIN_SKUS 200
#define KS_SIM_MAX_SKUS 100000
#define KS_SIM_MIN_DURATION KS_HOUR
#define KS_SIM_MAX_DURATION (31 * KS_DAY)
#define KS_SIM_LAST_YEAR 9000 /* --start at most 9000-01-01T00:00Z */

struct ks_sim_opts {
    uint64_t seed;     /* 1; at most INT64_MAX (it is written as a JSON integer) */
    ks_time start;     /* 2026-11-22T00:00:00Z; a whole UTC minute */
    ks_time duration;  /* 24h; whole minutes, 1h .. 31d */
    int channels;      /* 4; 1 .. 16 (amazon, ebay, shopify, walmart, etsy, ...) */
    int skus;          /* 2000; 200 .. 100000 */
    ks_time cycle;     /* inventory cycle per channel, 15m; whole minutes, 1m .. 15m */
    unsigned faults;   /* KS_SIM_BIT(...) set */
    int fit;           /* non-zero ("all"): leave out volume-drop when the duration cannot
                        * hold it instead of failing */
};

/* Fills o with the defaults above and no faults. */
void ks_sim_defaults(struct ks_sim_opts *o);

/*
 * Checks o as ks_sim_run would (ranges, and that the faults fit in the
 * duration) without simulating: KS_OK or KS_EUSAGE with the reason.
 */
enum ks_rc ks_sim_check(const struct ks_sim_opts *o, struct ks_err *err);

/*
 * Simulates the shop for o->duration and writes the events, one JSON object
 * per line in non-decreasing `ts`, to events, and (if truth is not NULL) the
 * ground-truth JSON document to truth. Neither stream is closed.
 * Errors: KS_EUSAGE for options out of range or faults that do not fit in
 * the duration (the message says which and what duration would do);
 * KS_EIO when a write fails. Nothing is allocated after return.
 */
enum ks_rc ks_sim_run(const struct ks_sim_opts *o, FILE *events, FILE *truth,
                      struct ks_err *err);

/* ---- the oracle: SPEC section 3 over typed events ------------------------ */

enum ks_sim_type {
    KS_SIM_EV_INVENTORY,
    KS_SIM_EV_SYNC,
    KS_SIM_EV_ORDER,
    KS_SIM_EV_HEALTH,
    KS_SIM_EV_STOCK,
    KS_SIM_EV_RECEIPT,
    KS_SIM_EV_COMPLAINT,
    KS_SIM_EV_METRIC
};

/* Every event names its producer (SPEC `source`). */
enum ks_sim_source {
    KS_SIM_SRC_ERP,       /* "erp": the regular inventory cycles */
    KS_SIM_SRC_CSV,       /* "csv:stock-import-DATE": a manual import */
    KS_SIM_SRC_PIPELINE,  /* "pipeline": sync outcomes */
    KS_SIM_SRC_OMS,       /* "oms": orders */
    KS_SIM_SRC_MONITOR,   /* "monitor": health checks */
    KS_SIM_SRC_WMS,       /* "wms": stock snapshots and receipts */
    KS_SIM_SRC_HELPDESK,  /* "helpdesk": complaints */
    KS_SIM_SRC_ANALYTICS, /* "analytics": metrics */
    KS_SIM_NSRC
};

enum { KS_SIM_SYNC_OK, KS_SIM_SYNC_ERROR };
enum { KS_SIM_ORDER_ACCEPTED, KS_SIM_ORDER_REJECTED, KS_SIM_ORDER_CANCELLED, KS_SIM_ORDER_SHIPPED };
enum { KS_SIM_HEALTH_UP, KS_SIM_HEALTH_DOWN };
enum { KS_SIM_METRIC_CONVERSION, KS_SIM_METRIC_SESSIONS };

/* ev.flags */
#define KS_SIM_EVF_REJECTED 1u /* written so that it must be rejected ("quantity" for "qty") */
#define KS_SIM_EVF_CSV 2u      /* inventory/sync of a csv import batch ("amazon-csv-7") */

/*
 * One simulated event. Which fields mean what depends on type:
 *   inventory: ch, sku, qty, id = batch number (flags CSV: import batch)
 *   sync:      ch, status, aux = error class index (1 auth .. 5 other), id = batch
 *   order:     ch, status, id = order number, loc = location + 1, aux = reason,
 *              sku = first line, u.order
 *   health:    loc = 0 for oms, 1.. for wms at location loc-1; status; qty = latency
 *   stock:     sku, qty, loc = location + 1
 *   receipt:   id = PO number, aux = supplier, sku, qty = expected, u.receipt
 *   complaint: aux = reason, sku, ch, u.complaint
 *   metric:    aux = metric, qty = value (conversion rate in 1/10000, sessions)
 */
struct ks_sim_ev {
    ks_time ts;
    uint32_t seq;    /* generation order; ties in ts keep it */
    uint8_t type;    /* enum ks_sim_type */
    uint8_t status;
    uint8_t flags;
    uint8_t src;     /* enum ks_sim_source */
    uint8_t ch;
    uint8_t loc;
    uint8_t aux;
    uint8_t nlines;  /* order lines (1..3) */
    uint32_t sku;    /* 0-based: SKU index i is written "SKU-%07u" of i + 1 */
    int32_t qty;
    uint32_t id;
    union {
        struct {
            uint32_t cust, cents, sku2, sku3;
            uint8_t q[3];
        } order;
        struct {
            int32_t received, damaged, wrong;
            uint32_t cost_cents;
            ks_time due;
        } receipt;
        struct {
            uint32_t cust, cents, order;
        } complaint;
    } u;
};

/* Incident types the oracle knows. */
enum ks_sim_itype {
    KS_SIM_I_SYNC_FAILURE,
    KS_SIM_I_SYSTEM_OUTAGE,
    KS_SIM_I_DATA_CORRUPTION,
    KS_SIM_I_VOLUME_DROP,
    KS_SIM_I_ORDER_REJECTIONS,
    KS_SIM_I_SUPPLIER_SHORTFALL,
    KS_SIM_I_FULFILLMENT_ERROR,
    KS_SIM_I_FEED_SCHEMA_CHANGE,
    KS_SIM_I_METRIC_ANOMALY,
    KS_SIM_NITYPES
};
/* "sync_failure", ... (SPEC section 3 incident types). */
const char *ks_sim_itype_name(enum ks_sim_itype t);

/* Detectors, as bits of struct ks_sim_incident.detectors. */
enum ks_sim_detector {
    KS_SIM_D_SYNC_FRESHNESS,
    KS_SIM_D_VOLUME_DROP,
    KS_SIM_D_DISTRIBUTION_SHIFT,
    KS_SIM_D_ZERO_SPIKE,
    KS_SIM_D_ORDER_REJECTIONS,
    KS_SIM_D_SYSTEM_DOWN,
    KS_SIM_D_SUPPLIER_SHORTFALL,
    KS_SIM_D_COMPLAINT_SPIKE,
    KS_SIM_D_FEED_REJECTS,
    KS_SIM_D_METRIC_RULE,
    KS_SIM_NDETECTORS
};
const char *ks_sim_detector_name(enum ks_sim_detector d);

#define KS_SIM_MAX_ESC 6

/* An incident as the oracle saw it open and evolve. Severities are 1..3 (P1..P3). */
struct ks_sim_incident {
    int type;             /* enum ks_sim_itype */
    int severity;         /* at detection */
    int final_severity;   /* after every rise */
    ks_time detected_at;
    int nesc;
    struct {
        ks_time at;
        int severity;
    } esc[KS_SIM_MAX_ESC]; /* every rise: time escalation, scope, a later signal */
    unsigned detectors;   /* bit set of enum ks_sim_detector */
    uint32_t channels;    /* bit set of channel indexes */
    uint32_t locations;   /* bit set of location indexes (system_outage of wms) */
    int system;           /* -1, 0 oms, 1 wms */
    int source;           /* enum ks_sim_source or -1 */
    uint32_t po;          /* PO number or 0 */
    int64_t sku;          /* SKU index or -1 */
    int reason;           /* complaint reason index or -1 */
    /* The first signal's measure, for notes: num of den (SKUs zeroed of active,
     * rejected of orders, lines rejected of lines, events of the average hour x
     * 1000 ...), and the update's batch for corruption. */
    int64_t num, den;
    uint32_t batch;
    unsigned batch_flags;
    /* Oracle bookkeeping. */
    ks_time esc_at;       /* pending time escalation, KS_TIME_NONE if none */
    int esc_to;
};

struct ks_sim_oracle;

/*
 * Creates an oracle for a stream of `channels` channels, `skus` SKUs and
 * `locations` wms locations whose events lie in [start, start + duration).
 * The configuration is SPEC section 3's defaults. The one metric rule it
 * knows is the one the truth documents for metric-drop: conversion_rate
 * below 0.0200.
 */
struct ks_sim_oracle *ks_sim_oracle_new(int channels, int skus, int locations, ks_time start,
                                        ks_time duration);
void ks_sim_oracle_free(struct ks_sim_oracle *o);
/* Applies one event in arrival order (timers due before its ts fire first;
 * an event flagged KS_SIM_EVF_REJECTED only counts for feed_rejects). */
void ks_sim_oracle_feed(struct ks_sim_oracle *o, const struct ks_sim_ev *ev);
/* The end of the input: closes open updates at the final clock. */
void ks_sim_oracle_end(struct ks_sim_oracle *o);
/* The incidents so far, in the order they were opened. */
size_t ks_sim_oracle_incidents(const struct ks_sim_oracle *o, const struct ks_sim_incident **out);
/* The channel's last known good quantities (SKU index -> qty, -1 unknown). */
const int32_t *ks_sim_oracle_ref(const struct ks_sim_oracle *o, int ch);

#endif
