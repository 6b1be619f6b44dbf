/*
 * event.h - kintsugi's input events (SPEC section 1): the decoded form and
 * the NDJSON decoder that validates every field rule.
 *
 * Decoding never half-applies: a line either yields a complete, validated
 * struct ks_event or a rejection with one precise reason. Two decoders stand
 * behind ks_event_decode: a specialised one for `inventory` lines (the hot
 * path, >= 1 GB/s) and the general one built on jansson for everything else.
 * The specialised decoder hands any line it is not sure about to the general
 * one, and both are cross-checked on every test input (tests/unit/test_decode.c)
 * and fuzzed (tests/fuzz/fuzz_decode.c).
 */
#ifndef KS_EVENT_H
#define KS_EVENT_H

#include "../core/core.h"

/* Longest accepted line, without its newline. */
#define KS_LINE_MAX (1024 * 1024)

enum ks_event_type {
    KS_EV_INVENTORY,
    KS_EV_SYNC,
    KS_EV_ORDER,
    KS_EV_HEALTH,
    KS_EV_STOCK,
    KS_EV_RECEIPT,
    KS_EV_COMPLAINT,
    KS_EV_FEEDBACK,
    KS_EV_METRIC,
    KS_EV_TICK,
    KS_EV__COUNT
};
/* "inventory", "sync", ...; NULL for out-of-range values. */
const char *ks_event_type_name(enum ks_event_type t);

/* sync.status */
enum ks_sync_status { KS_SYNC_OK, KS_SYNC_ERROR };
/* sync.error; KS_SYNCERR_NONE when absent */
enum ks_sync_error {
    KS_SYNCERR_NONE,
    KS_SYNCERR_AUTH,
    KS_SYNCERR_RATE_LIMIT,
    KS_SYNCERR_API,
    KS_SYNCERR_TIMEOUT,
    KS_SYNCERR_OTHER
};
const char *ks_sync_error_name(enum ks_sync_error e);
/* order.status */
enum ks_order_status {
    KS_ORDER_ACCEPTED,
    KS_ORDER_REJECTED,
    KS_ORDER_CANCELLED,
    KS_ORDER_SHIPPED,
    KS_ORDER_DELIVERED
};
const char *ks_order_status_name(enum ks_order_status s);
/* health.status */
enum ks_health_status { KS_HEALTH_UP, KS_HEALTH_DOWN };

struct ks_order_line {
    struct ks_str sku;
    int64_t qty;
};

struct ks_label {
    struct ks_str key, val;
};

/*
 * A decoded event. Every struct ks_str borrows its bytes from the decoder
 * (or the input line) and is valid until the next decode call on the same
 * decoder. An absent optional string has p == NULL and len == 0; an absent
 * optional number has its has_* flag at 0; an absent timestamp is
 * KS_TIME_NONE. Only the fields of the event's own type are meaningful; the
 * others are zero.
 */
struct ks_event {
    enum ks_event_type type;
    /* A note from ks_event_decode_fast_next (0 from every other decoder):
     * KS_SAME_CHANNEL, KS_SAME_BATCH when the line's channel, its batch,
     * has the same bytes as in the line just before it in the buffer, a
     * canonical inventory line too. The engine uses it to skip looking the
     * string up again; it is not part of what the line says. */
    uint32_t same_prev;
    ks_time ts;
    struct ks_str id;     /* idempotency key, optional */
    struct ks_str source; /* lineage, optional */

    struct ks_str channel;  /* inventory, sync, order (req.); complaint (opt.) */
    struct ks_str sku;      /* inventory, stock, receipt (req.); complaint (opt.) */
    struct ks_str batch;    /* inventory, sync (opt.) */
    struct ks_str location; /* inventory, order, health, stock (opt.) */
    int64_t qty;            /* inventory, stock: integer >= 0, <= UINT32_MAX */

    int status; /* enum ks_sync_status / ks_order_status / ks_health_status */
    enum ks_sync_error error; /* sync */
    struct ks_str detail;     /* sync */

    struct ks_str order_id; /* order (req.); complaint, feedback (opt.) */
    struct ks_str reason;   /* order (opt.), complaint (req.) */
    struct ks_str customer; /* order, complaint, feedback (opt.) */
    struct ks_str email;    /* order (opt.) */
    struct ks_str currency; /* order (opt.) */
    int has_value;
    double value; /* order, complaint, metric (metric: req.) */
    struct ks_order_line *lines; /* order (opt.) */
    size_t nlines;
    ks_time promised_ship; /* order (opt.) */

    struct ks_str system; /* health (req.) */
    int has_latency;
    double latency_ms; /* health (opt.) */

    struct ks_str po, supplier; /* receipt (req.) */
    int64_t expected, received, damaged, wrong; /* receipt; damaged, wrong default 0 */
    ks_time due;                                /* receipt (opt.) */
    int has_unit_cost;
    double unit_cost; /* receipt (opt.) */

    int64_t score;          /* feedback: 1..5 */
    struct ks_str incident; /* feedback (opt.): incident id as text */

    struct ks_str name;      /* metric (req.) */
    struct ks_label *labels; /* metric (opt.) */
    size_t nlabels;
};

/* The head of struct ks_event: every field before `status`. The fast
 * decoder writes nothing else, and leaves the rest of its events as
 * ks_event_clear does, so a fast-decoded event travels whole as its head
 * (src/intake/). */
#define KS_EVENT_HEAD offsetof(struct ks_event, status)
/* The empty event both decoders start from: every field zero, every
 * timestamp KS_TIME_NONE. */
void ks_event_clear(struct ks_event *ev);

/* The hash by which the engine remembers an event's id to drop duplicates
 * (never 0). A line's is taken where the line is decoded (ks_line_pack), on
 * the intake's worker thread when there is one. */
static inline uint64_t ks_event_id_hash(struct ks_str id)
{
    return ks_hash(id.p, id.len) | 1;
}

/*
 * A line on its way to the engine, in one cache line: where it is and, when
 * `packed` is set, its inventory event as ks_event_decode_fast_next decoded
 * it, the strings as offsets into the line. Only an event whose strings are
 * channel, sku, batch and id (no source or location) of a line under 64 KiB
 * packs; any other line goes with packed 0 and the engine decodes it. The
 * intake (src/intake/) hands lines over in arrays of these, and the engine
 * takes them so (ks_engine_lines) without unpacking them into an event.
 */
struct ks_line {
    const char *p; /* the line, without its newline */
    size_t len;
    ks_time ts;
    int64_t qty;
    uint32_t same_prev; /* as in struct ks_event */
    uint16_t channel_off, channel_len, sku_off, sku_len, batch_off, batch_len; /* batch_len 0: none */
    uint8_t packed;
    uint8_t pad;
    uint16_t id_off, id_len; /* id_len 0: none */
    uint16_t pad2;
    uint64_t id_hash; /* ks_event_id_hash of the id, when there is one */
};
_Static_assert(sizeof(struct ks_line) == 64, "a line is one cache line");

/* Packs ev, an event decoded from l's line (l->p, l->len set), into l;
 * returns l->packed, 0 when the event does not fit. */
static inline int ks_line_pack(struct ks_line *l, const struct ks_event *ev)
{
    l->packed = 0;
    if (ev->type != KS_EV_INVENTORY || l->len > UINT16_MAX || ev->source.p || ev->location.p) {
        return 0;
    }
    l->ts = ev->ts;
    l->qty = ev->qty;
    l->same_prev = ev->same_prev;
    l->channel_off = (uint16_t)(ev->channel.p - l->p);
    l->channel_len = (uint16_t)ev->channel.len;
    l->sku_off = (uint16_t)(ev->sku.p - l->p);
    l->sku_len = (uint16_t)ev->sku.len;
    l->batch_off = ev->batch.p ? (uint16_t)(ev->batch.p - l->p) : 0;
    l->batch_len = (uint16_t)ev->batch.len;
    l->id_off = ev->id.p ? (uint16_t)(ev->id.p - l->p) : 0;
    l->id_len = (uint16_t)ev->id.len;
    l->id_hash = ev->id.p ? ks_event_id_hash(ev->id) : 0;
    l->packed = 1;
    return 1;
}

/* The event of a packed line, written over the head of ev, whose other
 * fields stay as they are (ks_event_clear's, for the very event packed). */
static inline void ks_line_unpack(const struct ks_line *l, struct ks_event *ev)
{
    ev->type = KS_EV_INVENTORY;
    ev->same_prev = l->same_prev;
    ev->ts = l->ts;
    ev->qty = l->qty;
    ev->channel = (struct ks_str){l->p + l->channel_off, l->channel_len};
    ev->sku = (struct ks_str){l->p + l->sku_off, l->sku_len};
    ev->batch = (struct ks_str){l->batch_len ? l->p + l->batch_off : NULL, l->batch_len};
    ev->id = (struct ks_str){l->id_len ? l->p + l->id_off : NULL, l->id_len};
}

struct ks_decoder;
/*
 * A JSON array of events (or one event object) as NDJSON lines appended to
 * out, one per element, each of the element's own bytes (JSON whitespace line
 * breaks made spaces; a raw line break inside a string, invalid JSON, made a
 * control character so that the line is still rejected): an element that is
 * no valid event (a duplicate key, a number out of range, invalid UTF-8) is
 * then rejected and kept like a bad NDJSON line while the others are applied
 * (SPEC 1). Only a broken array or object (not closed, an element missing,
 * text after it: NDJSON sent as JSON) or a body that is neither an array nor
 * an object is refused: -1 with the reason ("body: ...") in why. Returns 0
 * otherwise.
 */
int ks_event_array_lines(const char *body, size_t len, struct ks_buf *out, char *why,
                         size_t cap);

struct ks_decoder *ks_decoder_new(void);
void ks_decoder_free(struct ks_decoder *d);

/*
 * Decodes and validates one line (without its newline; a trailing '\r' is
 * ignored). On success returns KS_OK and fills *ev. On rejection returns
 * KS_EINPUT and sets err->msg to "TYPE: field \"x\" reason" (TYPE is the
 * event's type if it could be read, else "event"; lines that are not JSON
 * read "json: ..." with the column; invalid UTF-8 reads "line: invalid UTF-8
 * at byte N"; an over-long line "line: longer than 1 MiB"). Even on
 * rejection ev->source is set when the line was JSON with a string "source",
 * so that feed_rejects can count the line for its source; every other field
 * of *ev is unspecified after a rejection.
 */
enum ks_rc ks_event_decode(struct ks_decoder *d, const char *line, size_t len,
                           struct ks_event *ev, struct ks_err *err);
/* The general (jansson) decoder alone, for differential tests. Same contract. */
enum ks_rc ks_event_decode_general(struct ks_decoder *d, const char *line, size_t len,
                                   struct ks_event *ev, struct ks_err *err);
/* The specialised inventory decoder alone. Returns KS_OK on success,
 * KS_EINPUT when the line is not an inventory line it can decode with
 * certainty (the caller then uses the general decoder). Never rejects on its
 * own authority. */
enum ks_rc ks_event_decode_fast(struct ks_decoder *d, const char *line, size_t len,
                                struct ks_event *ev);
/* The same, writing the head of *ev only (KS_EVENT_HEAD bytes): its tail
 * must already be as ks_event_clear leaves it, and stays so. For decoding
 * into events that are reused (src/intake/); on KS_EINPUT the head is
 * unspecified. */
enum ks_rc ks_event_decode_fast_head(struct ks_decoder *d, const char *line, size_t len,
                                     struct ks_event *ev);
/* The line that starts at p: its end is the first '\n' before end, set in
 * *nl (NULL when there is none: the line runs to end). Its head is decoded
 * as ks_event_decode_fast_head does, with the same result, and same_prev
 * set; a canonical line is decoded and delimited in one pass, without a
 * separate newline scan. */
enum ks_rc ks_event_decode_fast_next(struct ks_decoder *d, const char *p, const char *end,
                                     struct ks_event *ev, const char **nl);
#define KS_SAME_CHANNEL 1u
#define KS_SAME_BATCH 2u
/* The same line into l (struct ks_line below): l->p and l->len set, and
 * the event packed into l when the decoder takes the line and it packs
 * (ks_line_pack), else l->packed 0. A canonical line is decoded straight
 * into l; other lines go through scratch, an event ks_event_clear'ed once
 * and kept for these calls. Returns the decoder's verdict, as
 * ks_event_decode_fast_next. */
struct ks_line;
enum ks_rc ks_line_decode_next(struct ks_decoder *d, const char *p, const char *end,
                               struct ks_line *l, struct ks_event *scratch, const char **nl);
/* The next line handed to ks_event_decode_fast_next starts a new buffer:
 * it is compared with no line before it. */
void ks_decoder_new_buffer(struct ks_decoder *d);
/* How many lines the fast path took (for the benchmark and tests). */
uint64_t ks_decoder_fast_hits(const struct ks_decoder *d);

#endif
