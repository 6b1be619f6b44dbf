/*
 * fuzz_decode.c - libFuzzer target for the event decoders (src/event).
 *
 * Each input is one line. The target runs the specialised inventory decoder,
 * the general decoder and ks_event_decode on it and aborts when they
 * disagree, with the same checks as the differential test in
 * tests/unit/test_decode.c: whenever the fast decoder accepts, the general
 * one accepts with an identical event; ks_event_decode agrees with the
 * general decoder on the verdict, the event and the message. It also checks
 * what holds for every decode: an accepted event has its required fields,
 * no string holds NUL and every slice lies in the line or the decoder; a
 * rejection is one line of valid UTF-8 that starts with a known prefix.
 * The head-only fast decoder must give the fast decoder's verdict and, over
 * a cleared event, the very same bytes. Then the input is read as a buffer of
 * lines through ks_event_decode_fast_next, which must find the same lines
 * and events, and claim a repeated channel or batch only where there is one.
 * Decoders are created and freed per input so LeakSanitizer sees every
 * allocation.
 *
 *   make build/fuzz/fuzz_decode
 *   make fuzz FUZZ=decode
 */
#include "../../src/event/event.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void next_lines(const uint8_t *data, size_t size);

static void die(const char *what)
{
    fprintf(stderr, "fuzz_decode: %s\n", what);
    abort();
}

static int str_same(struct ks_str a, struct ks_str b)
{
    if ((a.p == NULL) != (b.p == NULL) || a.len != b.len) {
        return 0;
    }
    return a.len == 0 || memcmp(a.p, b.p, a.len) == 0;
}

/* Field-by-field equality, as events_equal in test_decode.c. */
static int events_equal(const struct ks_event *a, const struct ks_event *b)
{
#define S(f) str_same(a->f, b->f)
#define I(f) (a->f == b->f)
    if (!(I(type) && I(ts) && S(id) && S(source) && S(channel) && S(sku) && S(batch) &&
          S(location) && I(qty) && I(status) && I(error) && S(detail) && S(order_id) && S(reason) &&
          S(customer) && S(email) && S(currency) && I(has_value) && I(value) && I(nlines) &&
          I(promised_ship) && S(system) && I(has_latency) && I(latency_ms) && S(po) &&
          S(supplier) && I(expected) && I(received) && I(damaged) && I(wrong) && I(due) &&
          I(has_unit_cost) && I(unit_cost) && I(score) && S(incident) && S(name) && I(nlabels))) {
        return 0;
    }
    if ((a->lines == NULL) != (b->lines == NULL) || (a->labels == NULL) != (b->labels == NULL)) {
        return 0;
    }
    for (size_t i = 0; i < a->nlines; i++) {
        if (!str_same(a->lines[i].sku, b->lines[i].sku) || a->lines[i].qty != b->lines[i].qty) {
            return 0;
        }
    }
    for (size_t i = 0; i < a->nlabels; i++) {
        if (!str_same(a->labels[i].key, b->labels[i].key) ||
            !str_same(a->labels[i].val, b->labels[i].val)) {
            return 0;
        }
    }
    return 1;
#undef S
#undef I
}

/* A present string must be non-empty... except label values; none may hold
 * NUL. Touching every byte also lets ASan catch a slice that points at freed
 * or foreign memory. */
static void check_str(struct ks_str s, int may_be_empty)
{
    if (!s.p) {
        if (s.len != 0) {
            die("absent string with a length");
        }
        return;
    }
    if (s.len == 0 && !may_be_empty) {
        die("present string is empty");
    }
    if (memchr(s.p, '\0', s.len)) {
        die("string holds NUL");
    }
}

static void check_event(const struct ks_event *e)
{
    const struct ks_str all[] = {e->id,       e->source,   e->channel,  e->sku,    e->batch,
                                 e->location, e->detail,   e->order_id, e->reason, e->customer,
                                 e->email,    e->currency, e->system,   e->po,     e->supplier,
                                 e->incident, e->name};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        check_str(all[i], 0);
    }
    if ((unsigned)e->type >= KS_EV__COUNT || e->ts == KS_TIME_NONE) {
        die("accepted event without a type or ts");
    }
    switch (e->type) {
    case KS_EV_INVENTORY:
        if (!e->channel.p || !e->sku.p || e->qty < 0 || e->qty > 4294967295LL) {
            die("inventory without its fields");
        }
        break;
    case KS_EV_STOCK:
        if (!e->sku.p || e->qty < 0 || e->qty > 4294967295LL) {
            die("stock without its fields");
        }
        break;
    case KS_EV_ORDER:
        if (!e->order_id.p || !e->channel.p || e->status < 0 || e->status > 4) {
            die("order without its fields");
        }
        for (size_t i = 0; i < e->nlines; i++) {
            check_str(e->lines[i].sku, 0);
            if (!e->lines[i].sku.p || e->lines[i].qty < 1) {
                die("bad order line");
            }
        }
        break;
    case KS_EV_FEEDBACK:
        if (e->score < 1 || e->score > 5) {
            die("feedback score out of range");
        }
        break;
    case KS_EV_METRIC:
        if (!e->name.p || !e->has_value) {
            die("metric without its fields");
        }
        for (size_t i = 0; i < e->nlabels; i++) {
            check_str(e->labels[i].key, 0);
            check_str(e->labels[i].val, 1);
            if (!e->labels[i].key.p || !e->labels[i].val.p) {
                die("bad label");
            }
        }
        break;
    default:
        break;
    }
}

static void check_message(const struct ks_err *err)
{
    static const char *const prefixes[] = {"json: ", "line: ", "event: "};
    size_t n = strlen(err->msg);
    int known = 0;
    if (err->rc != KS_EINPUT || n == 0) {
        die("rejection without a message");
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)err->msg[i] < 0x20) {
            die("message holds a control character");
        }
    }
    if (ks_utf8_invalid_at(err->msg, n) != (size_t)-1) {
        die("message is not UTF-8");
    }
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        known |= strncmp(err->msg, prefixes[i], strlen(prefixes[i])) == 0;
    }
    for (int t = 0; t < KS_EV__COUNT; t++) {
        const char *name = ks_event_type_name((enum ks_event_type)t);
        size_t l = strlen(name);
        known |= strncmp(err->msg, name, l) == 0 && strncmp(err->msg + l, ": field \"", 9) == 0;
    }
    if (!known) {
        die("message without a known prefix");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so ASan flags any read past the line. */
    char *line = malloc(size ? size : 1);
    memcpy(line, data, size);
    struct ks_decoder *df = ks_decoder_new(), *dg = ks_decoder_new(), *dd = ks_decoder_new();
    struct ks_event ef, eg, ed;
    struct ks_err errg = {0}, errd = {0};

    enum ks_rc rf = ks_event_decode_fast(df, line, size, &ef);
    enum ks_rc rg = ks_event_decode_general(dg, line, size, &eg, &errg);
    enum ks_rc rd = ks_event_decode(dd, line, size, &ed, &errd);

    if (rf != KS_OK && rf != KS_EINPUT) {
        die("fast decoder returned an unexpected code");
    }
    if (rf == KS_OK) {
        check_event(&ef);
        if (rg != KS_OK) {
            die("fast decoder accepts a line the general decoder rejects");
        }
        if (!events_equal(&ef, &eg)) {
            die("fast and general decoders differ");
        }
        if (ks_decoder_fast_hits(df) != 1 || ks_decoder_fast_hits(dd) != 1) {
            die("fast hit not counted");
        }
    } else if (ks_decoder_fast_hits(dd) != 0) {
        die("ks_event_decode took the fast path where it declines");
    }
    /* The head-only variant (src/intake/), over an event cleared once: the
     * same verdict, and on success the same bytes, tail included. */
    struct ks_decoder *dh = ks_decoder_new();
    struct ks_event eh;
    ks_event_clear(&eh);
    if (ks_event_decode_fast_head(dh, line, size, &eh) != rf) {
        die("the head-only fast decoder disagrees on the verdict");
    }
    if (rf == KS_OK && memcmp(&eh, &ef, sizeof(eh)) != 0) {
        die("the head-only fast decoder yields another event");
    }
    ks_decoder_free(dh);
    if (rd != rg) {
        die("ks_event_decode and the general decoder disagree on the verdict");
    }
    if (rg == KS_OK) {
        check_event(&eg);
        if (!events_equal(&ed, &eg)) {
            die("ks_event_decode and the general decoder differ");
        }
    } else {
        check_message(&errg);
        if (strcmp(errg.msg, errd.msg) != 0) {
            die("ks_event_decode and the general decoder give different messages");
        }
        if (!str_same(eg.source, ed.source)) {
            die("source on rejection differs");
        }
        check_str(eg.source, 0);
    }

    /* A decoder is reused line after line: decoding again must give the
     * same answer (the fast path's date cache is warm the second time). */
    struct ks_event e2;
    struct ks_err err2 = {0};
    if (ks_event_decode(dd, line, size, &e2, &err2) != rd ||
        (rd == KS_OK && !events_equal(&e2, &eg)) || (rd != KS_OK && strcmp(err2.msg, errg.msg))) {
        die("a second decode on the same decoder differs");
    }

    ks_decoder_free(df);
    ks_decoder_free(dg);
    ks_decoder_free(dd);
    free(line);
    next_lines(data, size);
    return 0;
}

/*
 * The input as a buffer of lines, through ks_event_decode_fast_next: every
 * line it finds is the one a newline scan finds, with the head-only
 * decoder's verdict and bytes, and a same_prev bit only where the line
 * before has the same channel or batch. ks_line_decode_next (the intake's
 * decoder) finds the same lines with the same verdicts, and packs exactly
 * the events that pack, as ks_line_pack would.
 */
static void next_lines(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    const char *p = buf, *end = buf + size;
    struct ks_decoder *dn = ks_decoder_new(), *dh = ks_decoder_new(), *dl = ks_decoder_new();
    struct ks_event en, eh, prev, scratch;
    int have_prev = 0;
    ks_event_clear(&en);
    ks_event_clear(&eh);
    ks_event_clear(&scratch);
    ks_decoder_new_buffer(dn);
    ks_decoder_new_buffer(dl);
    while (p < end) {
        const char *nl, *nll, *want = memchr(p, '\n', (size_t)(end - p));
        enum ks_rc rn = ks_event_decode_fast_next(dn, p, end, &en, &nl);
        if (nl != want) {
            die("fast_next ends the line elsewhere than the newline");
        }
        struct ks_line l;
        memset(&l, 0x5a, sizeof(l));
        if (ks_line_decode_next(dl, p, end, &l, &scratch, &nll) != rn || nll != nl ||
            l.p != p || l.len != (size_t)((nl ? nl : end) - p)) {
            die("line_decode_next finds another line or verdict than fast_next");
        }
        struct ks_line want_l = {.p = p, .len = l.len};
        if ((rn == KS_OK && ks_line_pack(&want_l, &en)) != l.packed) {
            die("line_decode_next packs where ks_line_pack would not, or the reverse");
        }
        if (l.packed) {
            struct ks_event got;
            ks_event_clear(&got);
            ks_line_unpack(&l, &got);
            if (memcmp(&got, &en, sizeof(en)) != 0) {
                die("line_decode_next packs another event than fast_next yields");
            }
        }
        size_t len = (size_t)((nl ? nl : end) - p);
        if (ks_event_decode_fast_head(dh, p, len, &eh) != rn) {
            die("fast_next and the head-only decoder disagree on the verdict");
        }
        if (rn == KS_OK) {
            uint32_t same = en.same_prev;
            en.same_prev = 0;
            if (memcmp(&en, &eh, sizeof(en)) != 0) {
                die("fast_next yields another event than the head-only decoder");
            }
            if (same & ~(KS_SAME_CHANNEL | KS_SAME_BATCH)) {
                die("same_prev has an unknown bit");
            }
            if ((same & KS_SAME_CHANNEL) && !(have_prev && str_same(prev.channel, en.channel))) {
                die("same_prev says same channel where it is not");
            }
            if ((same & KS_SAME_BATCH) &&
                !(have_prev && en.batch.p && str_same(prev.batch, en.batch))) {
                die("same_prev says same batch where it is not");
            }
            prev = en;
        }
        have_prev = rn == KS_OK;
        p = nl ? nl + 1 : end;
    }
    ks_decoder_free(dn);
    ks_decoder_free(dh);
    ks_decoder_free(dl);
    free(buf);
}
