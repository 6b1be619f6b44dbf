/*
 * test_decode.c - the event decoders (src/event): every type's valid form,
 * every rejection with its exact message, and the differential check that
 * holds the specialised inventory decoder to the general one.
 *
 * Every line a test decodes also goes through check_line(), which runs the
 * three entry points on fresh decoders and fails the current test when they
 * disagree: whenever ks_event_decode_fast accepts, ks_event_decode_general
 * must accept with an identical event, and ks_event_decode must agree with
 * ks_event_decode_general on the verdict, the event and the message. The
 * differential tests at the end feed the same check generated inventory
 * lines, the fuzz corpus and every scenario's NDJSON.
 *
 * Run from the repository root (as scripts/run-tests.sh does): the corpus is
 * read from tests/fuzz/corpus-decode.
 */
#include "../../src/event/event.h"
#include "slurp.h"
#include "t.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

/* ---- comparing events --------------------------------------------------- */

static int str_same(struct ks_str a, struct ks_str b)
{
    if ((a.p == NULL) != (b.p == NULL) || a.len != b.len) {
        return 0;
    }
    return a.len == 0 || memcmp(a.p, b.p, a.len) == 0;
}

/* Doubles compare by value, and NaN (never produced) equals nothing. */
static int num_same(double a, double b)
{
    return a == b;
}

/*
 * Returns 1 when a and b are the same event field by field (strings by
 * content and presence, lines and labels element by element); otherwise 0,
 * with the name of the first differing field in *which.
 */
static int events_equal(const struct ks_event *a, const struct ks_event *b, const char **which)
{
#define SAME(cond, name)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            *which = name;                                                                         \
            return 0;                                                                              \
        }                                                                                          \
    } while (0)
#define SAME_STR(f) SAME(str_same(a->f, b->f), #f)
#define SAME_INT(f) SAME(a->f == b->f, #f)
    SAME_INT(type);
    SAME_INT(ts);
    SAME_STR(id);
    SAME_STR(source);
    SAME_STR(channel);
    SAME_STR(sku);
    SAME_STR(batch);
    SAME_STR(location);
    SAME_INT(qty);
    SAME_INT(status);
    SAME_INT(error);
    SAME_STR(detail);
    SAME_STR(order_id);
    SAME_STR(reason);
    SAME_STR(customer);
    SAME_STR(email);
    SAME_STR(currency);
    SAME_INT(has_value);
    SAME(num_same(a->value, b->value), "value");
    SAME_INT(nlines);
    SAME((a->lines == NULL) == (b->lines == NULL), "lines");
    for (size_t i = 0; i < a->nlines; i++) {
        SAME(str_same(a->lines[i].sku, b->lines[i].sku), "lines[].sku");
        SAME(a->lines[i].qty == b->lines[i].qty, "lines[].qty");
    }
    SAME_INT(promised_ship);
    SAME_STR(system);
    SAME_INT(has_latency);
    SAME(num_same(a->latency_ms, b->latency_ms), "latency_ms");
    SAME_STR(po);
    SAME_STR(supplier);
    SAME_INT(expected);
    SAME_INT(received);
    SAME_INT(damaged);
    SAME_INT(wrong);
    SAME_INT(due);
    SAME_INT(has_unit_cost);
    SAME(num_same(a->unit_cost, b->unit_cost), "unit_cost");
    SAME_INT(score);
    SAME_STR(incident);
    SAME_STR(name);
    SAME_INT(nlabels);
    SAME((a->labels == NULL) == (b->labels == NULL), "labels");
    for (size_t i = 0; i < a->nlabels; i++) {
        SAME(str_same(a->labels[i].key, b->labels[i].key), "labels[].key");
        SAME(str_same(a->labels[i].val, b->labels[i].val), "labels[].val");
    }
    return 1;
#undef SAME
#undef SAME_STR
#undef SAME_INT
}

/* ---- the differential check -------------------------------------------- */

static struct ks_decoder *dfast, *dgen, *dboth;
static long diff_lines, diff_fast_ok, diff_gen_ok;

/* Prints a line for a failure report, escaped and cut. */
static void show_line(const char *line, size_t len)
{
    fputs("    line: ", stderr);
    for (size_t i = 0; i < len && i < 300; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c >= 0x20 && c < 0x7F) {
            fputc(c, stderr);
        } else {
            fprintf(stderr, "\\x%02x", c);
        }
    }
    fputc('\n', stderr);
}

/*
 * Runs the three decoders on line[0..len) and fails the current test where
 * they disagree. Returns 1 when they agree.
 */
static int check_line(const char *line, size_t len)
{
    struct ks_event ef, eg, ed;
    struct ks_err errg = {0}, errd = {0};
    const char *which = "";
    int ok = 1;
    uint64_t hits = ks_decoder_fast_hits(dboth);
    enum ks_rc rf = ks_event_decode_fast(dfast, line, len, &ef);
    enum ks_rc rg = ks_event_decode_general(dgen, line, len, &eg, &errg);
    enum ks_rc rd = ks_event_decode(dboth, line, len, &ed, &errd);
    diff_lines++;
    diff_fast_ok += rf == KS_OK;
    diff_gen_ok += rg == KS_OK;
    if (rf != KS_OK && rf != KS_EINPUT) {
        fprintf(stderr, "FAIL %s: fast decoder returned %d\n", t_current, rf);
        ok = 0;
    } else if (rg != KS_OK && rg != KS_EINPUT) {
        fprintf(stderr, "FAIL %s: general decoder returned %d\n", t_current, rg);
        ok = 0;
    } else if (rf == KS_OK && rg != KS_OK) {
        fprintf(stderr, "FAIL %s: fast accepts what general rejects: %s\n", t_current, errg.msg);
        ok = 0;
    } else if (rf == KS_OK && !events_equal(&ef, &eg, &which)) {
        fprintf(stderr, "FAIL %s: fast and general differ in %s\n", t_current, which);
        ok = 0;
    } else if (rd != rg) {
        fprintf(stderr, "FAIL %s: decode says %d, general says %d (%s)\n", t_current, rd, rg,
                rg ? errg.msg : errd.msg);
        ok = 0;
    } else if (rd == KS_OK && !events_equal(&ed, &eg, &which)) {
        fprintf(stderr, "FAIL %s: decode and general differ in %s\n", t_current, which);
        ok = 0;
    } else if (rd != KS_OK && strcmp(errd.msg, errg.msg) != 0) {
        fprintf(stderr, "FAIL %s: messages differ: \"%s\" vs \"%s\"\n", t_current, errd.msg,
                errg.msg);
        ok = 0;
    } else if (rd != KS_OK && !str_same(ed.source, eg.source)) {
        fprintf(stderr, "FAIL %s: source on rejection differs\n", t_current);
        ok = 0;
    } else if ((ks_decoder_fast_hits(dboth) > hits) != (rf == KS_OK)) {
        fprintf(stderr,
                "FAIL %s: ks_event_decode did not take the fast path exactly when it "
                "could\n",
                t_current);
        ok = 0;
    }
    if (!ok) {
        show_line(line, len);
        t_failed_checks++;
    }
    return ok;
}

/* ---- decoding test vectors ---------------------------------------------- */

static struct ks_decoder *dec;
static struct ks_event ev;
static struct ks_err err;

/* Decodes line[0..len) with ks_event_decode into ev/err after checking that
 * the decoders agree on it. */
static enum ks_rc decode_n(const char *line, size_t len)
{
    check_line(line, len);
    memset(&err, 0, sizeof(err));
    return ks_event_decode(dec, line, len, &ev, &err);
}

static enum ks_rc decode(const char *line)
{
    return decode_n(line, strlen(line));
}

/* The rejection message for line, or "accepted". */
static const char *reject(const char *line)
{
    if (decode(line) == KS_OK) {
        return "accepted";
    }
    CHECK_INT(err.rc, KS_EINPUT);
    return err.msg;
}

/* A slice as a C string for CHECK_STR ("(absent)" when absent). */
static const char *s(struct ks_str x)
{
    static char buf[4][256];
    static int k;
    if (!x.p) {
        return "(absent)";
    }
    char *b = buf[k++ % 4];
    size_t n = x.len < 255 ? x.len : 255;
    memcpy(b, x.p, n);
    b[n] = '\0';
    return b;
}

#define INV "{\"type\":\"inventory\",\"ts\":\"2026-11-22T10:00:00.000Z\","
#define T_10 1795341600000LL /* 2026-11-22T10:00:00Z */

/* ---- valid forms of every type ----------------------------------------- */

static void inventory_line_decodes_every_field(void)
{
    CHECK_INT(decode(INV "\"channel\":\"amazon\",\"sku\":\"SKU-0012345\",\"qty\":17,"
                         "\"batch\":\"amazon-3\"}"),
              KS_OK);
    CHECK_INT(ev.type, KS_EV_INVENTORY);
    CHECK_INT(ev.ts, T_10);
    CHECK_STR(s(ev.channel), "amazon");
    CHECK_STR(s(ev.sku), "SKU-0012345");
    CHECK_INT(ev.qty, 17);
    CHECK_STR(s(ev.batch), "amazon-3");
    CHECK_STR(s(ev.location), "(absent)");
    CHECK_STR(s(ev.id), "(absent)");
    CHECK_STR(s(ev.source), "(absent)");
    CHECK_INT(ev.promised_ship, KS_TIME_NONE);
    CHECK_INT(ev.due, KS_TIME_NONE);
}

static void inventory_with_location_id_and_source_decodes(void)
{
    CHECK_INT(decode("{\"qty\":0,\"location\":\"berlin\",\"id\":\"e-1\",\"source\":\"erp\","
                     "\"sku\":\"A\",\"channel\":\"ebay\",\"ts\":1795341600000,"
                     "\"type\":\"inventory\"}"),
              KS_OK);
    CHECK_STR(s(ev.location), "berlin");
    CHECK_STR(s(ev.id), "e-1");
    CHECK_STR(s(ev.source), "erp");
    CHECK_INT(ev.qty, 0);
    CHECK_INT(ev.ts, T_10);
}

static void inventory_qty_of_4294967295_is_accepted(void)
{
    CHECK_INT(decode(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":4294967295}"), KS_OK);
    CHECK_INT(ev.qty, 4294967295LL);
}

static void sync_ok_decodes(void)
{
    CHECK_INT(decode("{\"type\":\"sync\",\"ts\":\"2026-11-22T10:00:00Z\",\"channel\":\"amazon\","
                     "\"status\":\"ok\",\"batch\":\"amazon-3\"}"),
              KS_OK);
    CHECK_INT(ev.type, KS_EV_SYNC);
    CHECK_INT(ev.status, KS_SYNC_OK);
    CHECK_INT(ev.error, KS_SYNCERR_NONE);
    CHECK_STR(s(ev.batch), "amazon-3");
    CHECK_STR(s(ev.detail), "(absent)");
}

static void sync_error_decodes_its_kind_and_detail(void)
{
    static const char *kinds[] = {"auth", "rate_limit", "api", "timeout", "other"};
    for (int i = 0; i < 5; i++) {
        char line[256];
        snprintf(line, sizeof(line),
                 "{\"type\":\"sync\",\"ts\":1,\"channel\":\"c\",\"status\":\"error\","
                 "\"error\":\"%s\",\"detail\":\"HTTP 429\"}",
                 kinds[i]);
        CHECK_INT(decode(line), KS_OK);
        CHECK_INT(ev.status, KS_SYNC_ERROR);
        CHECK_INT(ev.error, KS_SYNCERR_AUTH + i);
        CHECK_STR(ks_sync_error_name(ev.error), kinds[i]);
        CHECK_STR(s(ev.detail), "HTTP 429");
    }
}

static void order_decodes_every_field(void)
{
    CHECK_INT(decode("{\"type\":\"order\",\"ts\":\"2026-11-22T10:00:00Z\",\"order_id\":\"o-1\","
                     "\"channel\":\"shop\",\"status\":\"rejected\",\"reason\":\"unfulfillable\","
                     "\"customer\":\"c-9\",\"email\":\"a@b.c\",\"value\":59.9,\"currency\":\"EUR\","
                     "\"lines\":[{\"sku\":\"A\",\"qty\":2},{\"sku\":\"B\",\"qty\":1,\"x\":0}],"
                     "\"location\":\"berlin\",\"promised_ship\":\"2026-11-23T10:00:00Z\"}"),
              KS_OK);
    CHECK_INT(ev.type, KS_EV_ORDER);
    CHECK_STR(s(ev.order_id), "o-1");
    CHECK_STR(s(ev.channel), "shop");
    CHECK_INT(ev.status, KS_ORDER_REJECTED);
    CHECK_STR(s(ev.reason), "unfulfillable");
    CHECK_STR(s(ev.customer), "c-9");
    CHECK_STR(s(ev.email), "a@b.c");
    CHECK_INT(ev.has_value, 1);
    CHECK(ev.value == 59.9);
    CHECK_STR(s(ev.currency), "EUR");
    CHECK_INT(ev.nlines, 2);
    if (ev.nlines == 2) {
        CHECK_STR(s(ev.lines[0].sku), "A");
        CHECK_INT(ev.lines[0].qty, 2);
        CHECK_STR(s(ev.lines[1].sku), "B");
        CHECK_INT(ev.lines[1].qty, 1);
    }
    CHECK_STR(s(ev.location), "berlin");
    CHECK_INT(ev.promised_ship, T_10 + KS_DAY);
}

static void order_every_status_decodes(void)
{
    static const char *st[] = {"accepted", "rejected", "cancelled", "shipped", "delivered"};
    for (int i = 0; i < 5; i++) {
        char line[256];
        snprintf(line, sizeof(line),
                 "{\"type\":\"order\",\"ts\":1,\"order_id\":\"o\",\"channel\":\"c\","
                 "\"status\":\"%s\"}",
                 st[i]);
        CHECK_INT(decode(line), KS_OK);
        CHECK_INT(ev.status, i);
        CHECK_STR(ks_order_status_name((enum ks_order_status)ev.status), st[i]);
        CHECK_INT(ev.has_value, 0);
        CHECK_INT(ev.nlines, 0);
        CHECK(ev.lines == NULL);
        CHECK_INT(ev.promised_ship, KS_TIME_NONE);
    }
}

static void order_integer_value_and_empty_lines_decode(void)
{
    CHECK_INT(decode("{\"type\":\"order\",\"ts\":1,\"order_id\":\"o\",\"channel\":\"c\","
                     "\"status\":\"accepted\",\"value\":120,\"lines\":[]}"),
              KS_OK);
    CHECK_INT(ev.has_value, 1);
    CHECK(ev.value == 120.0);
    CHECK_INT(ev.nlines, 0);
}

static void health_decodes(void)
{
    CHECK_INT(decode("{\"type\":\"health\",\"ts\":1,\"system\":\"wms\",\"location\":\"berlin\","
                     "\"status\":\"down\",\"latency_ms\":12.5}"),
              KS_OK);
    CHECK_INT(ev.type, KS_EV_HEALTH);
    CHECK_STR(s(ev.system), "wms");
    CHECK_STR(s(ev.location), "berlin");
    CHECK_INT(ev.status, KS_HEALTH_DOWN);
    CHECK_INT(ev.has_latency, 1);
    CHECK(ev.latency_ms == 12.5);
    CHECK_INT(decode("{\"type\":\"health\",\"ts\":1,\"system\":\"oms\",\"status\":\"up\"}"), KS_OK);
    CHECK_INT(ev.status, KS_HEALTH_UP);
    CHECK_INT(ev.has_latency, 0);
}

static void stock_decodes(void)
{
    CHECK_INT(decode("{\"type\":\"stock\",\"ts\":1,\"sku\":\"A\",\"qty\":5,\"location\":\"b\"}"),
              KS_OK);
    CHECK_INT(ev.type, KS_EV_STOCK);
    CHECK_STR(s(ev.sku), "A");
    CHECK_INT(ev.qty, 5);
    CHECK_STR(s(ev.location), "b");
}

static void receipt_decodes_every_field(void)
{
    CHECK_INT(decode("{\"type\":\"receipt\",\"ts\":\"2026-11-22T10:00:00Z\",\"po\":\"PO-1\","
                     "\"supplier\":\"acme\",\"sku\":\"A\",\"expected\":100,\"received\":90,"
                     "\"damaged\":3,\"wrong\":2,\"due\":\"2026-11-20T10:00:00Z\","
                     "\"unit_cost\":4.25}"),
              KS_OK);
    CHECK_INT(ev.type, KS_EV_RECEIPT);
    CHECK_STR(s(ev.po), "PO-1");
    CHECK_STR(s(ev.supplier), "acme");
    CHECK_STR(s(ev.sku), "A");
    CHECK_INT(ev.expected, 100);
    CHECK_INT(ev.received, 90);
    CHECK_INT(ev.damaged, 3);
    CHECK_INT(ev.wrong, 2);
    CHECK_INT(ev.due, T_10 - 2 * KS_DAY);
    CHECK_INT(ev.has_unit_cost, 1);
    CHECK(ev.unit_cost == 4.25);
}

static void receipt_damaged_and_wrong_default_to_zero(void)
{
    CHECK_INT(decode("{\"type\":\"receipt\",\"ts\":1,\"po\":\"P\",\"supplier\":\"s\",\"sku\":\"A\","
                     "\"expected\":0,\"received\":0}"),
              KS_OK);
    CHECK_INT(ev.damaged, 0);
    CHECK_INT(ev.wrong, 0);
    CHECK_INT(ev.due, KS_TIME_NONE);
    CHECK_INT(ev.has_unit_cost, 0);
}

static void complaint_decodes(void)
{
    CHECK_INT(
        decode("{\"type\":\"complaint\",\"ts\":1,\"reason\":\"wrong_item\",\"order_id\":\"o\","
               "\"customer\":\"c\",\"sku\":\"A\",\"channel\":\"shop\",\"value\":-3}"),
        KS_OK);
    CHECK_INT(ev.type, KS_EV_COMPLAINT);
    CHECK_STR(s(ev.reason), "wrong_item");
    CHECK_STR(s(ev.order_id), "o");
    CHECK_STR(s(ev.customer), "c");
    CHECK_STR(s(ev.sku), "A");
    CHECK_STR(s(ev.channel), "shop");
    CHECK_INT(ev.has_value, 1);
    CHECK(ev.value == -3.0);
}

static void feedback_decodes_with_a_string_incident(void)
{
    CHECK_INT(decode("{\"type\":\"feedback\",\"ts\":1,\"score\":4,\"order_id\":\"o\","
                     "\"customer\":\"c\",\"incident\":\"INC-7\"}"),
              KS_OK);
    CHECK_INT(ev.type, KS_EV_FEEDBACK);
    CHECK_INT(ev.score, 4);
    CHECK_STR(s(ev.order_id), "o");
    CHECK_STR(s(ev.customer), "c");
    CHECK_STR(s(ev.incident), "INC-7");
}

static void feedback_integer_incident_is_kept_as_text(void)
{
    CHECK_INT(decode("{\"type\":\"feedback\",\"ts\":1,\"score\":1,\"incident\":1234567890123}"),
              KS_OK);
    CHECK_STR(s(ev.incident), "1234567890123");
    CHECK_INT(decode("{\"type\":\"feedback\",\"ts\":1,\"score\":5}"), KS_OK);
    CHECK_STR(s(ev.incident), "(absent)");
}

static void metric_decodes_labels_in_written_order(void)
{
    CHECK_INT(decode("{\"type\":\"metric\",\"ts\":1,\"name\":\"conversion\",\"value\":0.031,"
                     "\"labels\":{\"shop\":\"de\",\"device\":\"mobile\",\"empty\":\"\"}}"),
              KS_OK);
    CHECK_INT(ev.type, KS_EV_METRIC);
    CHECK_STR(s(ev.name), "conversion");
    CHECK(ev.value == 0.031);
    CHECK_INT(ev.nlabels, 3);
    if (ev.nlabels == 3) {
        CHECK_STR(s(ev.labels[0].key), "shop");
        CHECK_STR(s(ev.labels[0].val), "de");
        CHECK_STR(s(ev.labels[1].key), "device");
        CHECK_STR(s(ev.labels[1].val), "mobile");
        CHECK_STR(s(ev.labels[2].key), "empty");
        CHECK_INT(ev.labels[2].val.len, 0);
    }
}

static void metric_value_may_be_negative_and_labels_empty(void)
{
    CHECK_INT(decode("{\"type\":\"metric\",\"ts\":1,\"name\":\"delta\",\"value\":-7,"
                     "\"labels\":{}}"),
              KS_OK);
    CHECK(ev.value == -7.0);
    CHECK_INT(ev.nlabels, 0);
    CHECK(ev.labels == NULL);
}

static void tick_carries_only_ts(void)
{
    CHECK_INT(decode("{\"type\":\"tick\",\"ts\":\"2026-11-22T10:00:00Z\"}"), KS_OK);
    CHECK_INT(ev.type, KS_EV_TICK);
    CHECK_INT(ev.ts, T_10);
    CHECK_STR(s(ev.channel), "(absent)");
    CHECK_INT(ev.qty, 0);
}

/* ---- common fields ------------------------------------------------------ */

static void ts_with_offset_is_converted_to_utc(void)
{
    /* 10:00:00.250 at +01:00 is 09:00:00.250Z: 1795341600000 - 3600000 + 250. */
    CHECK_INT(decode("{\"type\":\"tick\",\"ts\":\"2026-11-22T10:00:00.250+01:00\"}"), KS_OK);
    CHECK_INT(ev.ts, 1795338000250LL);
    CHECK_INT(decode("{\"type\":\"tick\",\"ts\":\"2024-02-29T23:59:59.999-05:30\"}"), KS_OK);
    CHECK_INT(ev.ts, 1709270999999LL);
}

static void ts_as_integer_milliseconds_is_accepted(void)
{
    CHECK_INT(decode("{\"type\":\"tick\",\"ts\":1795341600000}"), KS_OK);
    CHECK_INT(ev.ts, T_10);
    CHECK_INT(decode("{\"type\":\"tick\",\"ts\":0}"), KS_OK);
    CHECK_INT(ev.ts, 0);
    CHECK_INT(decode("{\"type\":\"tick\",\"ts\":253402300799999}"), KS_OK);
    CHECK_INT(ev.ts, 253402300799999LL);
}

static void ts_fraction_is_truncated_to_milliseconds(void)
{
    CHECK_INT(decode("{\"type\":\"tick\",\"ts\":\"2026-11-22T10:00:00.2509Z\"}"), KS_OK);
    CHECK_INT(ev.ts, T_10 + 250);
    CHECK_INT(decode("{\"type\":\"tick\",\"ts\":\"2026-11-22T10:00:00.5Z\"}"), KS_OK);
    CHECK_INT(ev.ts, T_10 + 500);
}

static void ts_as_float_is_rejected(void)
{
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":1795341600000.0}"),
              "tick: field \"ts\" must be an RFC 3339 timestamp or integer epoch milliseconds, "
              "got 1795341600000.0");
}

static void ts_negative_is_rejected(void)
{
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":-1}"),
              "tick: field \"ts\" must be epoch milliseconds between 0 and 253402300799999, "
              "got -1");
}

static void ts_beyond_year_9999_is_rejected(void)
{
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":253402300800000}"),
              "tick: field \"ts\" must be epoch milliseconds between 0 and 253402300799999, "
              "got 253402300800000");
}

static void ts_that_is_not_rfc3339_is_rejected(void)
{
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":\"yesterday\"}"),
              "tick: field \"ts\" must be an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SSZ) or epoch "
              "milliseconds, got \"yesterday\"");
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":\"2026-11-22T10:00:00\"}"),
              "tick: field \"ts\" needs a zone (Z or +hh:mm), got \"2026-11-22T10:00:00\"");
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":\"1795341600000\"}"),
              "tick: field \"ts\" must be an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SSZ) or epoch "
              "milliseconds, got \"1795341600000\"");
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":true}"),
              "tick: field \"ts\" must be an RFC 3339 timestamp or integer epoch milliseconds, "
              "got true");
}

static void ts_on_a_day_that_does_not_exist_is_rejected(void)
{
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":\"2025-02-29T10:00:00.000Z\"}"),
              "tick: field \"ts\" is not a valid calendar date and time, "
              "got \"2025-02-29T10:00:00.000Z\"");
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":\"2026-11-22T24:00:00.000Z\"}"),
              "tick: field \"ts\" is not a valid calendar date and time, "
              "got \"2026-11-22T24:00:00.000Z\"");
}

static void ts_is_required(void)
{
    CHECK_STR(reject("{\"type\":\"tick\"}"), "tick: field \"ts\" is required");
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":null}"), "tick: field \"ts\" is required");
}

static void type_is_required(void)
{
    CHECK_STR(reject("{\"ts\":1,\"channel\":\"c\"}"), "event: field \"type\" is required");
}

static void unknown_type_names_the_known_ones(void)
{
    CHECK_STR(reject("{\"type\":\"foo\",\"ts\":1}"),
              "event: field \"type\" is an unknown type \"foo\" (expected one of inventory, sync, "
              "order, health, stock, receipt, complaint, feedback, metric, tick)");
}

static void type_that_is_not_a_string_is_rejected(void)
{
    CHECK_STR(reject("{\"type\":7,\"ts\":1}"),
              "event: field \"type\" must be a string naming the event type, got 7");
}

static void id_and_source_must_be_strings(void)
{
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":1,\"id\":5}"),
              "tick: field \"id\" must be a string, got 5");
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":1,\"source\":[\"erp\"]}"),
              "tick: field \"source\" must be a string, got [\"erp\"]");
}

static void top_level_that_is_not_an_object_is_rejected(void)
{
    CHECK_STR(reject("[1,2]"), "event: not a JSON object");
    CHECK_STR(reject("\"inventory\""), "event: not a JSON object");
    CHECK_STR(reject("17"), "event: not a JSON object");
    CHECK_STR(reject("null"), "event: not a JSON object");
}

static void invalid_json_names_the_column(void)
{
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":}"),
              "json: invalid JSON at column 21: unexpected token near '}'");
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":1} x"),
              "json: invalid JSON at column 24: end of file expected near 'x'");
    CHECK_STR(reject(""), "json: invalid JSON at column 0: unexpected token near end of file");
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":017}"),
              "json: invalid JSON at column 21: invalid token near '0'");
}

static void duplicate_key_is_invalid_json(void)
{
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":1,\"ts\":2}"),
              "json: invalid JSON at column 26: duplicate object key near '\"ts\"'");
}

/* jansson refuses an integer beyond 64 bits before the fields are read; the
 * reason names the field all the same (SPEC 1), a timestamp with its range */
static void integer_too_big_for_64_bits_names_its_field(void)
{
    CHECK_STR(reject(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":99999999999999999999}"),
              "inventory: field \"qty\" is an integer beyond 64 bits, got 99999999999999999999");
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":99999999999999999999}"),
              "tick: field \"ts\" must be epoch milliseconds between 0 and 253402300799999, got "
              "99999999999999999999");
    CHECK_STR(reject("{\"ts\":-99999999999999999999,\"type\":\"tick\"}"),
              "tick: field \"ts\" must be epoch milliseconds between 0 and 253402300799999, got "
              "-99999999999999999999");
    CHECK_STR(reject("{\"type\":\"order\",\"ts\":1,\"promised_ship\":100000000000000000000}"),
              "order: field \"promised_ship\" must be epoch milliseconds between 0 and "
              "253402300799999, got 100000000000000000000");
    /* the field is found by its place, not by its value (1.0e20 is the same number) */
    CHECK_STR(reject("{\"type\":\"order\",\"x\":1.0e20,\"ts\":1,\"order_id\":\"o\",\"lines\":"
                     "[{\"sku\":\"a\",\"qty\":1},{\"sku\":\"b\",\"qty\":100000000000000000000}]}"),
              "order: field \"lines[1].qty\" is an integer beyond 64 bits, got "
              "100000000000000000000");
    /* without a known type the prefix is "event"; outside an object, jansson's words */
    CHECK_STR(reject("{\"ts\":99999999999999999999}"),
              "event: field \"ts\" must be epoch milliseconds between 0 and 253402300799999, got "
              "99999999999999999999");
    CHECK_STR(reject("[99999999999999999999]"),
              "json: invalid JSON at column 21: too big integer near '99999999999999999999'");
}

static void invalid_utf8_names_the_byte(void)
{
    /* byte 17, counting from 1, is the lone continuation byte 0x80 */
    CHECK_STR(reject("{\"type\":\"tick\",\"\x80\":1,\"ts\":1}"), "line: invalid UTF-8 at byte 17");
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":1,\"x\":\"\xc3\"}"),
              "line: invalid UTF-8 at byte 28");
    /* an overlong encoding of '/' and a UTF-16 surrogate are invalid too */
    CHECK_STR(reject("{\"a\":\"\xc0\xaf\"}"), "line: invalid UTF-8 at byte 7");
    CHECK_STR(reject("{\"a\":\"\xed\xa0\x80\"}"), "line: invalid UTF-8 at byte 7");
}

static void valid_utf8_in_strings_is_kept(void)
{
    CHECK_INT(decode(INV "\"channel\":\"bücher\",\"sku\":\"\xf0\x9f\x98\x80\",\"qty\":1}"), KS_OK);
    CHECK_STR(s(ev.channel), "bücher");
    CHECK_STR(s(ev.sku), "\xf0\x9f\x98\x80");
    CHECK_INT(decode(INV "\"channel\":\"b\\u00fccher\",\"sku\":\"\\ud83d\\ude00\",\"qty\":1}"),
              KS_OK);
    CHECK_STR(s(ev.channel), "bücher");
    CHECK_STR(s(ev.sku), "\xf0\x9f\x98\x80");
}

static void line_over_one_mib_is_rejected(void)
{
    size_t n = KS_LINE_MAX + 1;
    char *line = malloc(n);
    memset(line, ' ', n);
    static const char head[] = INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1}";
    memcpy(line, head, sizeof(head) - 1);
    CHECK_INT(decode_n(line, n), KS_EINPUT);
    CHECK_STR(err.msg, "line: longer than 1 MiB (1048577 bytes)");
    /* exactly 1 MiB is fine, and so is 1 MiB followed by the ignored '\r' */
    CHECK_INT(decode_n(line, n - 1), KS_OK);
    line[n - 1] = '\r';
    CHECK_INT(decode_n(line, n), KS_OK);
    free(line);
}

static void nul_in_a_string_is_rejected(void)
{
    CHECK_STR(reject(INV "\"channel\":\"ama\\u0000zon\",\"sku\":\"s\",\"qty\":1}"),
              "inventory: field \"channel\" must not contain NUL, got \"ama\\u0000zon\"");
    CHECK_STR(reject(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1,\"batch\":\"\\u0000\"}"),
              "inventory: field \"batch\" must not contain NUL, got \"\\u0000\"");
    CHECK_STR(reject("{\"type\":\"metric\",\"ts\":1,\"name\":\"m\",\"value\":1,"
                     "\"labels\":{\"k\":\"a\\u0000\"}}"),
              "metric: field \"labels.k\" must not contain NUL, got \"a\\u0000\"");
    /* jansson takes no NUL in a key even when it takes one in a value: the
     * key as written is named */
    CHECK_STR(reject("{\"type\":\"tick\",\"ts\":1,\"a\\u0000b\":1}"),
              "event: field \"a\\u0000b\" must not contain NUL (in its name)");
    CHECK_STR(reject("{\"type\":\"metric\",\"ts\":1,\"name\":\"m\",\"value\":1,"
                     "\"labels\":{\"k\\u0000\":\"a\"}}"),
              "event: field \"k\\u0000\" must not contain NUL (in its name)");
    /* a raw NUL byte is not JSON at all */
    static const char raw[] = "{\"type\":\"tick\",\"ts\":1}\0";
    CHECK_INT(decode_n(raw, sizeof(raw) - 1), KS_EINPUT);
    CHECK_STR(err.msg, "json: invalid JSON at column 23: end of file expected near end of file");
}

static void null_optional_fields_count_as_absent(void)
{
    CHECK_INT(decode(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1,\"batch\":null,"
                         "\"location\":null,\"id\":null,\"source\":null}"),
              KS_OK);
    CHECK_STR(s(ev.batch), "(absent)");
    CHECK_STR(s(ev.location), "(absent)");
    CHECK_STR(s(ev.id), "(absent)");
    CHECK_STR(s(ev.source), "(absent)");
    CHECK_INT(decode("{\"type\":\"order\",\"ts\":1,\"order_id\":\"o\",\"channel\":\"c\","
                     "\"status\":\"shipped\",\"value\":null,\"lines\":null,"
                     "\"promised_ship\":null}"),
              KS_OK);
    CHECK_INT(ev.has_value, 0);
    CHECK_INT(ev.nlines, 0);
    CHECK_INT(ev.promised_ship, KS_TIME_NONE);
    CHECK_INT(decode("{\"type\":\"feedback\",\"ts\":1,\"score\":3,\"incident\":null}"), KS_OK);
    CHECK_STR(s(ev.incident), "(absent)");
}

static void empty_optional_string_counts_as_absent(void)
{
    CHECK_INT(decode(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1,\"batch\":\"\",\"id\":\"\"}"),
              KS_OK);
    CHECK_STR(s(ev.batch), "(absent)");
    CHECK_STR(s(ev.id), "(absent)");
}

static void unknown_fields_are_ignored(void)
{
    CHECK_INT(decode(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1,\"future\":{\"a\":[1,2]},"
                         "\"price\":9.5}"),
              KS_OK);
    CHECK_INT(ev.qty, 1);
    CHECK_INT(decode("{\"type\":\"tick\",\"ts\":1,\"channel\":5}"), KS_OK);
}

static void trailing_carriage_return_is_ignored(void)
{
    CHECK_INT(decode(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1}\r"), KS_OK);
    CHECK_INT(decode("{\"type\":\"tick\",\"ts\":1}\r"), KS_OK);
    /* only one: a second '\r' is whitespace inside the line, still fine */
    CHECK_INT(decode("{\"type\":\"tick\",\"ts\":1}\r\r"), KS_OK);
}

static void source_is_set_even_on_rejection(void)
{
    CHECK_INT(decode(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":-1,\"source\":\"csv:feed\"}"),
              KS_EINPUT);
    CHECK_STR(s(ev.source), "csv:feed");
    CHECK_INT(decode("{\"type\":\"nope\",\"source\":\"oms\"}"), KS_EINPUT);
    CHECK_STR(s(ev.source), "oms");
    CHECK_INT(decode("{\"source\":\"oms\",\"type\":\"tick\",\"ts\":1,"), KS_EINPUT);
    CHECK_STR(s(ev.source), "(absent)");
    CHECK_INT(decode("{\"source\":7,\"type\":\"tick\"}"), KS_EINPUT);
    CHECK_STR(s(ev.source), "(absent)");
}

static void long_values_are_cut_in_messages(void)
{
    CHECK_STR(reject(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":\"0123456789012345678901234567"
                         "8901234567890123456789\"}"),
              "inventory: field \"qty\" must be an integer >= 0, "
              "got \"012345678901234567890123456789012345678...");
    CHECK_STR(reject(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":[1,2,3,4,5,6,7,8,9,10,11,12,13,"
                         "14,15,16,17,18,19,20]}"),
              "inventory: field \"qty\" must be an integer >= 0, "
              "got [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,...");
}

/* ---- rejections, type by type ------------------------------------------ */

static void inventory_qty_as_string_is_rejected(void)
{
    CHECK_STR(reject(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":\"12\"}"),
              "inventory: field \"qty\" must be an integer >= 0, got \"12\"");
}

static void inventory_negative_qty_is_rejected(void)
{
    CHECK_STR(reject(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":-1}"),
              "inventory: field \"qty\" must be an integer >= 0, got -1");
}

static void inventory_fractional_qty_is_rejected(void)
{
    CHECK_STR(reject(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1.5}"),
              "inventory: field \"qty\" must be an integer >= 0, got 1.5");
    CHECK_STR(reject(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":17.0}"),
              "inventory: field \"qty\" must be an integer >= 0, got 17.0");
    CHECK_STR(reject(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1e3}"),
              "inventory: field \"qty\" must be an integer >= 0, got 1000.0");
}

static void inventory_qty_above_4294967295_is_rejected(void)
{
    CHECK_STR(reject(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":4294967296}"),
              "inventory: field \"qty\" must be an integer <= 4294967295, got 4294967296");
}

static void inventory_qty_is_required(void)
{
    CHECK_STR(reject(INV "\"channel\":\"c\",\"sku\":\"s\"}"),
              "inventory: field \"qty\" is required");
    CHECK_STR(reject(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":null}"),
              "inventory: field \"qty\" is required");
}

static void inventory_channel_is_required(void)
{
    CHECK_STR(reject(INV "\"sku\":\"s\",\"qty\":1}"), "inventory: field \"channel\" is required");
}

static void inventory_empty_channel_is_rejected(void)
{
    CHECK_STR(reject(INV "\"channel\":\"\",\"sku\":\"s\",\"qty\":1}"),
              "inventory: field \"channel\" must be a non-empty string, got \"\"");
}

static void inventory_numeric_sku_is_rejected(void)
{
    CHECK_STR(reject(INV "\"channel\":\"c\",\"sku\":12345,\"qty\":1}"),
              "inventory: field \"sku\" must be a non-empty string, got 12345");
    CHECK_STR(reject(INV "\"channel\":\"c\",\"qty\":1}"), "inventory: field \"sku\" is required");
}

static void inventory_optional_strings_reject_other_types(void)
{
    CHECK_STR(reject(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1,\"batch\":3}"),
              "inventory: field \"batch\" must be a string, got 3");
    CHECK_STR(reject(INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1,\"location\":{}}"),
              "inventory: field \"location\" must be a string, got {}");
}

static void sync_unknown_status_is_rejected(void)
{
    CHECK_STR(reject("{\"type\":\"sync\",\"ts\":1,\"channel\":\"c\",\"status\":\"fine\"}"),
              "sync: field \"status\" must be one of ok, error, got \"fine\"");
    CHECK_STR(reject("{\"type\":\"sync\",\"ts\":1,\"channel\":\"c\",\"status\":\"OK\"}"),
              "sync: field \"status\" must be one of ok, error, got \"OK\"");
}

static void sync_status_and_channel_are_required(void)
{
    CHECK_STR(reject("{\"type\":\"sync\",\"ts\":1,\"channel\":\"c\"}"),
              "sync: field \"status\" is required");
    CHECK_STR(reject("{\"type\":\"sync\",\"ts\":1,\"status\":\"ok\"}"),
              "sync: field \"channel\" is required");
}

static void sync_unknown_error_kind_is_rejected(void)
{
    CHECK_STR(reject("{\"type\":\"sync\",\"ts\":1,\"channel\":\"c\",\"status\":\"error\","
                     "\"error\":\"none\"}"),
              "sync: field \"error\" must be one of auth, rate_limit, api, timeout, other, "
              "got \"none\"");
    CHECK_STR(reject("{\"type\":\"sync\",\"ts\":1,\"channel\":\"c\",\"status\":\"error\","
                     "\"detail\":429}"),
              "sync: field \"detail\" must be a string, got 429");
}

static void order_required_fields_are_named(void)
{
    CHECK_STR(reject("{\"type\":\"order\",\"ts\":1,\"channel\":\"c\",\"status\":\"accepted\"}"),
              "order: field \"order_id\" is required");
    CHECK_STR(reject("{\"type\":\"order\",\"ts\":1,\"order_id\":\"o\",\"status\":\"accepted\"}"),
              "order: field \"channel\" is required");
    CHECK_STR(reject("{\"type\":\"order\",\"ts\":1,\"order_id\":\"o\",\"channel\":\"c\"}"),
              "order: field \"status\" is required");
    CHECK_STR(reject("{\"type\":\"order\",\"ts\":1,\"order_id\":\"o\",\"channel\":\"c\","
                     "\"status\":\"lost\"}"),
              "order: field \"status\" must be one of accepted, rejected, cancelled, shipped, "
              "delivered, got \"lost\"");
}

static void order_value_must_be_a_number_of_at_least_zero(void)
{
    CHECK_STR(reject("{\"type\":\"order\",\"ts\":1,\"order_id\":\"o\",\"channel\":\"c\","
                     "\"status\":\"accepted\",\"value\":-0.5}"),
              "order: field \"value\" must be a number >= 0, got -0.5");
    CHECK_STR(reject("{\"type\":\"order\",\"ts\":1,\"order_id\":\"o\",\"channel\":\"c\","
                     "\"status\":\"accepted\",\"value\":\"59.90\"}"),
              "order: field \"value\" must be a number >= 0, got \"59.90\"");
}

static void order_lines_are_checked_one_by_one(void)
{
#define ORD                                                                                        \
    "{\"type\":\"order\",\"ts\":1,\"order_id\":\"o\",\"channel\":\"c\",\"status\":\"accepted\","
    CHECK_STR(reject(ORD "\"lines\":{\"sku\":\"A\",\"qty\":1}}"),
              "order: field \"lines\" must be an array of {\"sku\", \"qty\"} objects, "
              "got {\"sku\":\"A\",\"qty\":1}");
    CHECK_STR(reject(ORD "\"lines\":[{\"sku\":\"A\",\"qty\":1},\"B\"]}"),
              "order: field \"lines[1]\" must be an object, got \"B\"");
    CHECK_STR(reject(ORD "\"lines\":[{\"qty\":1}]}"), "order: field \"lines[0].sku\" is required");
    CHECK_STR(reject(ORD "\"lines\":[{\"sku\":\"\",\"qty\":1}]}"),
              "order: field \"lines[0].sku\" must be a non-empty string, got \"\"");
    CHECK_STR(reject(ORD "\"lines\":[{\"sku\":\"A\",\"qty\":0}]}"),
              "order: field \"lines[0].qty\" must be an integer >= 1, got 0");
    CHECK_STR(reject(ORD "\"lines\":[{\"sku\":\"A\"}]}"),
              "order: field \"lines[0].qty\" is required");
}

static void order_optional_fields_are_type_checked(void)
{
    CHECK_STR(reject(ORD "\"reason\":1}"), "order: field \"reason\" must be a string, got 1");
    CHECK_STR(reject(ORD "\"customer\":true}"),
              "order: field \"customer\" must be a string, got true");
    CHECK_STR(reject(ORD "\"email\":[]}"), "order: field \"email\" must be a string, got []");
    CHECK_STR(reject(ORD "\"currency\":978}"),
              "order: field \"currency\" must be a string, got 978");
    CHECK_STR(reject(ORD "\"location\":false}"),
              "order: field \"location\" must be a string, got false");
    CHECK_STR(reject(ORD "\"promised_ship\":\"tomorrow\"}"),
              "order: field \"promised_ship\" must be an RFC 3339 timestamp "
              "(YYYY-MM-DDTHH:MM:SSZ) or epoch milliseconds, got \"tomorrow\"");
    CHECK_INT(decode(ORD "\"promised_ship\":1795341600000}"), KS_OK);
    CHECK_INT(ev.promised_ship, T_10);
#undef ORD
}

/* An order's email becomes an SMTP recipient (RCPT TO:<...>, To:): only
 * one plain address is taken, so that no value can end the command early
 * and add one of its own. */
static void order_email_must_be_one_plain_address(void)
{
#define ORD                                                                                        \
    "{\"type\":\"order\",\"ts\":1,\"order_id\":\"o\",\"channel\":\"c\",\"status\":\"accepted\","
#define WHY "order: field \"email\" must be an e-mail address (name@domain): "
    CHECK_STR(reject(ORD "\"email\":\"c1@x.example>\\r\\nRCPT TO:<evil@attacker.example\"}"),
              WHY "a line break is not allowed, got "
                  "\"c1@x.example>\\r\\nRCPT TO:<evil@attacker...");
    CHECK_STR(reject(ORD "\"email\":\"c1@x.example\\n\"}"),
              WHY "a line break is not allowed, got \"c1@x.example\\n\"");
    CHECK_STR(reject(ORD "\"email\":\"c1@x.example\\r\"}"),
              WHY "a line break is not allowed, got \"c1@x.example\\r\"");
    CHECK_STR(reject(ORD "\"email\":\"Ann Lee <ann@x.example>\"}"),
              WHY "white space is not allowed, got \"Ann Lee <ann@x.example>\"");
    CHECK_STR(reject(ORD "\"email\":\"ann@x.example\\t\"}"),
              WHY "white space is not allowed, got \"ann@x.example\\t\"");
    CHECK_STR(reject(ORD "\"email\":\"<ann@x.example>\"}"),
              WHY "'<' is not allowed, got \"<ann@x.example>\"");
    CHECK_STR(reject(ORD "\"email\":\"ann@x.example>\"}"),
              WHY "'>' is not allowed, got \"ann@x.example>\"");
    CHECK_STR(reject(ORD "\"email\":\"ann@x.example,evil@y.example\"}"),
              WHY "',' is not allowed, got \"ann@x.example,evil@y.example\"");
    CHECK_STR(reject(ORD "\"email\":\"ann@x.example;evil@y.example\"}"),
              WHY "';' is not allowed, got \"ann@x.example;evil@y.example\"");
    CHECK_STR(reject(ORD "\"email\":\"list:ann@x.example\"}"),
              WHY "':' is not allowed, got \"list:ann@x.example\"");
    CHECK_STR(reject(ORD "\"email\":\"\\\"ann\\\"@x.example\"}"),
              WHY "'\"' is not allowed, got \"\\\"ann\\\"@x.example\"");
    CHECK_STR(reject(ORD "\"email\":\"ann(c)@x.example\"}"),
              WHY "'(' is not allowed, got \"ann(c)@x.example\"");
    CHECK_STR(reject(ORD "\"email\":\"ann@x.example)\"}"),
              WHY "')' is not allowed, got \"ann@x.example)\"");
    CHECK_STR(reject(ORD "\"email\":\"ann@[127.0.0.1]\"}"),
              WHY "'[' is not allowed, got \"ann@[127.0.0.1]\"");
    CHECK_STR(reject(ORD "\"email\":\"ann@x]\"}"), WHY "']' is not allowed, got \"ann@x]\"");
    CHECK_STR(reject(ORD "\"email\":\"a\\\\nn@x.example\"}"),
              WHY "'\\' is not allowed, got \"a\\\\nn@x.example\"");
    CHECK_STR(reject(ORD "\"email\":\"ann\\u0007@x.example\"}"),
              WHY "a control character is not allowed, got \"ann\\u0007@x.example\"");
    CHECK_STR(reject(ORD "\"email\":\"ann\\u007f@x.example\"}"),
              WHY "a control character is not allowed, got \"ann\x7f@x.example\"");
    CHECK_STR(reject(ORD "\"email\":\"ann\\u0085@x.example\"}"),
              WHY "a control character is not allowed, got \"ann\xc2\x85@x.example\"");
    CHECK_STR(reject(ORD "\"email\":\"ann.x.example\"}"),
              WHY "it has no '@', got \"ann.x.example\"");
    CHECK_STR(reject(ORD "\"email\":\"ann@x@y.example\"}"),
              WHY "it has more than one '@', got \"ann@x@y.example\"");
    CHECK_STR(reject(ORD "\"email\":\"@x.example\"}"),
              WHY "nothing comes before the '@', got \"@x.example\"");
    CHECK_STR(reject(ORD "\"email\":\"ann@\"}"), WHY "nothing comes after the '@', got \"ann@\"");
    /* 254 bytes is the longest address SMTP carries */
    char line[512], local[300];
    memset(local, 'a', sizeof(local));
    snprintf(line, sizeof(line), ORD "\"email\":\"%.*s@x.example\"}", 244, local);
    CHECK_INT(decode(line), KS_OK);
    CHECK_INT(ev.email.len, 254);
    snprintf(line, sizeof(line), ORD "\"email\":\"%.*s@x.example\"}", 245, local);
    CHECK_STR(reject(line), WHY "it is longer than 254 bytes, got "
                                "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...");
    /* what an address may hold: dots, plus tags, hyphens, UTF-8 */
    CHECK_INT(decode(ORD "\"email\":\"ann.lee+orders@mail-1.x.example\"}"), KS_OK);
    CHECK_STR(s(ev.email), "ann.lee+orders@mail-1.x.example");
    CHECK_INT(decode(ORD "\"email\":\"j\xc3\xbcrgen@m\xc3\xbcller.example\"}"), KS_OK);
    CHECK_STR(s(ev.email), "j\xc3\xbcrgen@m\xc3\xbcller.example");
    CHECK_INT(decode(ORD "\"email\":\"c1@x\"}"), KS_OK);
    /* absent stays absent: null and "" are no address */
    CHECK_INT(decode(ORD "\"email\":\"\"}"), KS_OK);
    CHECK_STR(s(ev.email), "(absent)");
    CHECK_INT(decode(ORD "\"email\":null}"), KS_OK);
    CHECK_STR(s(ev.email), "(absent)");
#undef WHY
#undef ORD
}

static void health_rejections_name_the_field(void)
{
    CHECK_STR(reject("{\"type\":\"health\",\"ts\":1,\"status\":\"up\"}"),
              "health: field \"system\" is required");
    CHECK_STR(reject("{\"type\":\"health\",\"ts\":1,\"system\":\"wms\",\"status\":\"degraded\"}"),
              "health: field \"status\" must be one of up, down, got \"degraded\"");
    CHECK_STR(reject("{\"type\":\"health\",\"ts\":1,\"system\":\"wms\"}"),
              "health: field \"status\" is required");
    CHECK_STR(reject("{\"type\":\"health\",\"ts\":1,\"system\":\"wms\",\"status\":\"up\","
                     "\"latency_ms\":-1}"),
              "health: field \"latency_ms\" must be a number >= 0, got -1");
}

static void stock_rejections_name_the_field(void)
{
    CHECK_STR(reject("{\"type\":\"stock\",\"ts\":1,\"qty\":1}"),
              "stock: field \"sku\" is required");
    CHECK_STR(reject("{\"type\":\"stock\",\"ts\":1,\"sku\":\"A\"}"),
              "stock: field \"qty\" is required");
    CHECK_STR(reject("{\"type\":\"stock\",\"ts\":1,\"sku\":\"A\",\"qty\":-3}"),
              "stock: field \"qty\" must be an integer >= 0, got -3");
}

static void receipt_rejections_name_the_field(void)
{
#define RCP "{\"type\":\"receipt\",\"ts\":1,"
    CHECK_STR(reject(RCP "\"supplier\":\"s\",\"sku\":\"A\",\"expected\":1,\"received\":1}"),
              "receipt: field \"po\" is required");
    CHECK_STR(reject(RCP "\"po\":\"P\",\"sku\":\"A\",\"expected\":1,\"received\":1}"),
              "receipt: field \"supplier\" is required");
    CHECK_STR(reject(RCP "\"po\":\"P\",\"supplier\":\"s\",\"expected\":1,\"received\":1}"),
              "receipt: field \"sku\" is required");
    CHECK_STR(reject(RCP "\"po\":\"P\",\"supplier\":\"s\",\"sku\":\"A\",\"received\":1}"),
              "receipt: field \"expected\" is required");
    CHECK_STR(reject(RCP "\"po\":\"P\",\"supplier\":\"s\",\"sku\":\"A\",\"expected\":1}"),
              "receipt: field \"received\" is required");
    CHECK_STR(reject(RCP "\"po\":\"P\",\"supplier\":\"s\",\"sku\":\"A\",\"expected\":1,"
                         "\"received\":-1}"),
              "receipt: field \"received\" must be an integer >= 0, got -1");
    CHECK_STR(reject(RCP "\"po\":\"P\",\"supplier\":\"s\",\"sku\":\"A\",\"expected\":1,"
                         "\"received\":1,\"damaged\":\"2\"}"),
              "receipt: field \"damaged\" must be an integer >= 0, got \"2\"");
    CHECK_STR(reject(RCP "\"po\":\"P\",\"supplier\":\"s\",\"sku\":\"A\",\"expected\":1,"
                         "\"received\":1,\"wrong\":0.5}"),
              "receipt: field \"wrong\" must be an integer >= 0, got 0.5");
    CHECK_STR(reject(RCP "\"po\":\"P\",\"supplier\":\"s\",\"sku\":\"A\",\"expected\":1,"
                         "\"received\":1,\"due\":-5}"),
              "receipt: field \"due\" must be epoch milliseconds between 0 and 253402300799999, "
              "got -5");
    CHECK_STR(reject(RCP "\"po\":\"P\",\"supplier\":\"s\",\"sku\":\"A\",\"expected\":1,"
                         "\"received\":1,\"unit_cost\":-0.01}"),
              "receipt: field \"unit_cost\" must be a number >= 0, got -0.01");
#undef RCP
}

static void complaint_rejections_name_the_field(void)
{
    CHECK_STR(reject("{\"type\":\"complaint\",\"ts\":1,\"order_id\":\"o\"}"),
              "complaint: field \"reason\" is required");
    CHECK_STR(reject("{\"type\":\"complaint\",\"ts\":1,\"reason\":\"late\",\"value\":\"10\"}"),
              "complaint: field \"value\" must be a number, got \"10\"");
    CHECK_STR(reject("{\"type\":\"complaint\",\"ts\":1,\"reason\":\"late\",\"sku\":1}"),
              "complaint: field \"sku\" must be a string, got 1");
}

static void feedback_score_must_be_1_to_5(void)
{
    CHECK_STR(reject("{\"type\":\"feedback\",\"ts\":1,\"score\":0}"),
              "feedback: field \"score\" must be an integer between 1 and 5, got 0");
    CHECK_STR(reject("{\"type\":\"feedback\",\"ts\":1,\"score\":6}"),
              "feedback: field \"score\" must be an integer between 1 and 5, got 6");
    CHECK_STR(reject("{\"type\":\"feedback\",\"ts\":1,\"score\":4.5}"),
              "feedback: field \"score\" must be an integer between 1 and 5, got 4.5");
    CHECK_STR(reject("{\"type\":\"feedback\",\"ts\":1}"), "feedback: field \"score\" is required");
}

static void feedback_incident_must_be_a_string_or_an_integer(void)
{
    CHECK_STR(reject("{\"type\":\"feedback\",\"ts\":1,\"score\":2,\"incident\":1.5}"),
              "feedback: field \"incident\" must be a string or an integer, got 1.5");
}

static void metric_rejections_name_the_field(void)
{
    CHECK_STR(reject("{\"type\":\"metric\",\"ts\":1,\"value\":1}"),
              "metric: field \"name\" is required");
    CHECK_STR(reject("{\"type\":\"metric\",\"ts\":1,\"name\":\"m\"}"),
              "metric: field \"value\" is required");
    CHECK_STR(reject("{\"type\":\"metric\",\"ts\":1,\"name\":\"m\",\"value\":\"1\"}"),
              "metric: field \"value\" must be a number, got \"1\"");
    CHECK_STR(reject("{\"type\":\"metric\",\"ts\":1,\"name\":\"m\",\"value\":1,\"labels\":[]}"),
              "metric: field \"labels\" must be an object of strings, got []");
    CHECK_STR(reject("{\"type\":\"metric\",\"ts\":1,\"name\":\"m\",\"value\":1,"
                     "\"labels\":{\"shop\":\"de\",\"n\":1}}"),
              "metric: field \"labels.n\" must be a string, got 1");
    CHECK_STR(reject("{\"type\":\"metric\",\"ts\":1,\"name\":\"m\",\"value\":1,"
                     "\"labels\":{\"\":\"x\"}}"),
              "metric: field \"labels\" must not have an empty key");
}

static void first_fault_in_field_order_is_reported(void)
{
    /* qty, channel and ts are all wrong: ts comes first */
    CHECK_STR(reject("{\"type\":\"inventory\",\"qty\":-1,\"ts\":\"x\",\"channel\":5}"),
              "inventory: field \"ts\" must be an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SSZ) or "
              "epoch milliseconds, got \"x\"");
}

/* ---- names and the decoder object -------------------------------------- */

static void names_cover_every_value(void)
{
    CHECK_STR(ks_event_type_name(KS_EV_INVENTORY), "inventory");
    CHECK_STR(ks_event_type_name(KS_EV_TICK), "tick");
    CHECK(ks_event_type_name(KS_EV__COUNT) == NULL);
    CHECK(ks_event_type_name((enum ks_event_type)(-1)) == NULL);
    CHECK_STR(ks_sync_error_name(KS_SYNCERR_NONE), "none");
    CHECK_STR(ks_sync_error_name(KS_SYNCERR_RATE_LIMIT), "rate_limit");
    CHECK(ks_sync_error_name((enum ks_sync_error)6) == NULL);
    CHECK_STR(ks_order_status_name(KS_ORDER_DELIVERED), "delivered");
    CHECK(ks_order_status_name((enum ks_order_status)5) == NULL);
}

static void decoder_frees_everything_it_allocated(void)
{
    long before = ks_alloc_live();
    struct ks_decoder *d = ks_decoder_new();
    struct ks_event e;
    struct ks_err er;
    static const char *lines[] = {
        "{\"type\":\"order\",\"ts\":1,\"order_id\":\"o\",\"channel\":\"c\",\"status\":\"accepted\","
        "\"lines\":[{\"sku\":\"A\",\"qty\":1},{\"sku\":\"B\",\"qty\":2}]}",
        "{\"type\":\"metric\",\"ts\":1,\"name\":\"m\",\"value\":1,\"labels\":{\"a\":\"b\"}}",
        INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1}",
        "{\"type\":\"metric\",\"ts\":1,\"name\":\"m\",\"value\":1,\"labels\":{\"a\":1}}",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        ks_event_decode(d, lines[i], strlen(lines[i]), &e, &er);
    }
    ks_decoder_free(d);
    ks_decoder_free(NULL);
    CHECK_INT(ks_alloc_live(), before);
}

static void strings_stay_valid_until_the_next_decode(void)
{
    struct ks_decoder *d = ks_decoder_new();
    struct ks_event e;
    struct ks_err er;
    char line[] = "{\"type\":\"sync\",\"ts\":1,\"channel\":\"amazon\",\"status\":\"ok\"}";
    CHECK_INT(ks_event_decode(d, line, strlen(line), &e, &er), KS_OK);
    memset(line, 'x', sizeof(line) - 1); /* the general decoder copied what it needs */
    CHECK_STR(s(e.channel), "amazon");
    ks_decoder_free(d);
}

/* ---- the fast path ------------------------------------------------------ */

static void fast_path_takes_plain_inventory_lines(void)
{
    struct ks_decoder *d = ks_decoder_new();
    struct ks_event e;
    static const char line[] = "{\"type\":\"inventory\",\"ts\":\"2026-11-22T10:00:00.000Z\","
                               "\"channel\":\"amazon\",\"sku\":\"SKU-0012345\",\"qty\":17,"
                               "\"batch\":\"amazon-3\"}";
    CHECK_INT(ks_event_decode_fast(d, line, sizeof(line) - 1, &e), KS_OK);
    CHECK_INT(ks_decoder_fast_hits(d), 1);
    CHECK_INT(e.ts, T_10);
    CHECK_INT(e.qty, 17);
    /* slices point into the line */
    CHECK(e.channel.p > line && e.channel.p < line + sizeof(line));
    CHECK_STR(s(e.sku), "SKU-0012345");
    ks_decoder_free(d);
}

static void fast_path_accepts_any_key_order_and_whitespace(void)
{
    struct ks_decoder *d = ks_decoder_new();
    struct ks_event e;
    static const char line[] =
        " {\t\"qty\" : 0 ,\n\"sku\":\"s\", \"source\":null,\"ts\":1795341600000"
        ",\"channel\":\"c\",\"type\":\"inventory\",\"id\":\"i\"}  \r";
    CHECK_INT(ks_event_decode_fast(d, line, sizeof(line) - 1, &e), KS_OK);
    CHECK_INT(e.ts, T_10);
    CHECK_STR(s(e.id), "i");
    CHECK_STR(s(e.source), "(absent)");
    check_line(line, sizeof(line) - 1);
    ks_decoder_free(d);
}

static void fast_path_declines_what_it_is_not_sure_about(void)
{
    static const char *lines[] = {
        INV "\"channel\":\"a\\\"b\",\"sku\":\"s\",\"qty\":1}",      /* escape */
        INV "\"channel\":\"bücher\",\"sku\":\"s\",\"qty\":1}",      /* non-ASCII */
        INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1,\"x\":1}",   /* unknown key */
        INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1,\"qty\":1}", /* duplicate */
        INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":-0}",          /* sign */
        INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1.0}",         /* fraction */
        INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1e2}",         /* exponent */
        INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":01}",          /* leading zero */
        INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":4294967296}",  /* range */
        INV "\"channel\":\"\",\"sku\":\"s\",\"qty\":1}",            /* empty required */
        INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1",            /* unterminated */
        INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1,}",          /* trailing comma */
        INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1}}",          /* trailing garbage */
        "{\"type\":\"stock\",\"ts\":1,\"sku\":\"s\",\"qty\":1}",    /* other type */
        "{\"type\":\"inventory\",\"ts\":\"2025-02-29T10:00:00.000Z\",\"channel\":\"c\","
        "\"sku\":\"s\",\"qty\":1}", /* no such day */
        "{\"type\":\"inventory\",\"ts\":\"2026-11-22T10:00:00.000Z\",\"channel\":\"c\t\","
        "\"sku\":\"s\",\"qty\":1}", /* control character */
    };
    struct ks_decoder *d = ks_decoder_new();
    struct ks_event e;
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        if (ks_event_decode_fast(d, lines[i], strlen(lines[i]), &e) != KS_EINPUT) {
            fprintf(stderr, "FAIL %s: fast path took line %zu\n", t_current, i);
            t_failed_checks++;
        }
        check_line(lines[i], strlen(lines[i]));
    }
    CHECK_INT(ks_decoder_fast_hits(d), 0);
    ks_decoder_free(d);
}

static void fast_path_date_cache_follows_the_date(void)
{
    /* alternate days, month ends and a leap day so the one-entry cache
     * misses and refills; the general decoder is the reference */
    static const char *ts[] = {
        "2026-11-22T10:00:00.000Z", "2026-11-23T00:00:00.000Z", "2026-11-22T23:59:59.999Z",
        "2024-02-29T12:00:00.000Z", "2024-03-01T00:00:00Z",     "2000-02-29T00:00:00.001Z",
        "1970-01-01T00:00:00.000Z", "9999-12-31T23:59:60.999Z", "2026-12-31T23:59:59Z",
        "2100-02-28T01:02:03.004Z", "2026-11-22t10:00:00.000Z", "2026-11-22 10:00:00.000Z",
        "2026-11-22T10:00:00.000z", "0000-01-01T00:00:00.000Z",
    };
    struct ks_decoder *d = ks_decoder_new();
    struct ks_event e;
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
            char line[256];
            ks_time want;
            snprintf(line, sizeof(line),
                     "{\"type\":\"inventory\",\"ts\":\"%s\",\"channel\":\"c\",\"sku\":\"s\","
                     "\"qty\":1}",
                     ts[i]);
            CHECK_INT(ks_time_parse(ts[i], strlen(ts[i]), &want, NULL), 0);
            CHECK_INT(ks_event_decode_fast(d, line, strlen(line), &e), KS_OK);
            CHECK_INT(e.ts, want);
            check_line(line, strlen(line));
        }
    }
    ks_decoder_free(d);
}

static void decode_uses_the_fast_path_only_for_inventory(void)
{
    struct ks_decoder *d = ks_decoder_new();
    struct ks_event e;
    struct ks_err er;
    static const char inv[] = INV "\"channel\":\"c\",\"sku\":\"s\",\"qty\":1}";
    static const char tick[] = "{\"type\":\"tick\",\"ts\":1}";
    CHECK_INT(ks_event_decode(d, inv, sizeof(inv) - 1, &e, &er), KS_OK);
    CHECK_INT(ks_event_decode(d, tick, sizeof(tick) - 1, &e, &er), KS_OK);
    CHECK_INT(ks_event_decode(d, inv, sizeof(inv) - 1, &e, &er), KS_OK);
    CHECK_INT(ks_decoder_fast_hits(d), 2);
    ks_decoder_free(d);
}

/* ks_event_decode_fast_next (the intake's decoder) over a buffer: each
 * line's end, its event, and same_prev exactly where the line before names
 * the same channel or batch, near misses included. */
static void fast_next_finds_lines_and_repeated_channels_and_batches(void)
{
    static const struct {
        const char *channel, *batch; /* batch NULL: none */
        uint32_t same;
    } want[] = {
        {"amazon", "a-1", 0},                              /* the first line */
        {"amazon", "a-1", KS_SAME_CHANNEL | KS_SAME_BATCH},
        {"amazon2", "xa-1", 0},                            /* longer, each */
        {"amazo", "a-1", 0},                               /* shorter, each */
        {"amazo", NULL, KS_SAME_CHANNEL},
        {"amazo", "a-1", KS_SAME_CHANNEL},                 /* no batch before */
        {"amazo", "0123456789abc", KS_SAME_CHANNEL},
        {"amazo", "0123456789abc", KS_SAME_CHANNEL | KS_SAME_BATCH}, /* 13: the longest */
        {"amazo", "0123456789abcd", KS_SAME_CHANNEL},
        {"amazo", "0123456789abcd", KS_SAME_CHANNEL},      /* 14: not compared */
        {"a-very-long-name", "b", 0},                      /* 16 bytes: not compared */
        {"a-very-long-name", "b", KS_SAME_BATCH},
        {"ebay", "b", KS_SAME_BATCH},
        {"ebay", "b", KS_SAME_CHANNEL | KS_SAME_BATCH},
    };
    size_t n = sizeof(want) / sizeof(want[0]);
    struct ks_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        ks_buf_printf(&b,
                      "{\"type\":\"inventory\",\"ts\":\"2026-11-22T10:00:%02zu.000Z\",\"channel\":"
                      "\"%s\",\"sku\":\"SKU-%zu\",\"qty\":%zu",
                      i, want[i].channel, i, i + 1);
        if (want[i].batch) {
            ks_buf_printf(&b, ",\"batch\":\"%s\"", want[i].batch);
        }
        ks_buf_puts(&b, "}\n");
    }
    /* A line the fast path declines, then a canonical one at the very end
     * (too close to it for the one-pass road), no newline after it. */
    ks_buf_puts(&b, "{\"type\":\"tick\",\"ts\":1}\n");
    ks_buf_puts(&b, "{\"type\":\"inventory\",\"ts\":\"2026-11-22T10:01:00.000Z\",\"channel\":"
                    "\"ebay\",\"sku\":\"S\",\"qty\":1,\"batch\":\"b\"}");
    struct ks_decoder *d = ks_decoder_new();
    ks_decoder_new_buffer(d);
    const char *p = b.p, *end = b.p + b.len;
    struct ks_event e;
    ks_event_clear(&e);
    for (size_t i = 0; i < n + 2; i++) {
        const char *nl;
        enum ks_rc rc = ks_event_decode_fast_next(d, p, end, &e, &nl);
        CHECK(i == n + 1 ? nl == NULL : nl == memchr(p, '\n', (size_t)(end - p)));
        if (i == n) {
            CHECK_INT(rc, KS_EINPUT);
        } else {
            CHECK_INT(rc, KS_OK);
            CHECK_INT(e.qty, i < n ? (int64_t)i + 1 : 1);
            CHECK_INT(e.same_prev, i < n ? want[i].same : 0);
            if (i < n) {
                CHECK(ks_str_eq(e.channel, want[i].channel));
                CHECK(want[i].batch ? ks_str_eq(e.batch, want[i].batch) : e.batch.p == NULL);
            }
        }
        p = nl ? nl + 1 : end;
    }
    CHECK(p == end);
    /* A new buffer: the first line is compared with nothing. */
    ks_decoder_new_buffer(d);
    const char *nl;
    CHECK_INT(ks_event_decode_fast_next(d, b.p, end, &e, &nl), KS_OK);
    CHECK_INT(e.same_prev, 0);
    const char *second = nl + 1;
    CHECK_INT(ks_event_decode_fast_next(d, second, end, &e, &nl), KS_OK);
    CHECK_INT(e.same_prev, KS_SAME_CHANNEL | KS_SAME_BATCH);
    /* Not the line right after the last one: compared with nothing. */
    CHECK_INT(ks_event_decode_fast_next(d, second, end, &e, &nl), KS_OK);
    CHECK_INT(e.same_prev, 0);
    ks_decoder_free(d);
    ks_buf_fini(&b);
}

/* A line with an id right after ts takes the one-pass road too, and packs
 * with its id and the id's hash; the channel and batch of the line before
 * are recognised across lines with and without an id. */
static void lines_with_an_id_take_the_one_pass_road_and_pack(void)
{
    static const char *const ids[] = {"e-1", NULL, "an-id-of-forty-bytes-0123456789abcdefghi", "x",
                                      ""};
    size_t n = sizeof(ids) / sizeof(ids[0]);
    struct ks_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        ks_buf_printf(&b, "{\"type\":\"inventory\",\"ts\":\"2026-11-22T10:00:%02zu.000Z\"", i);
        if (ids[i]) {
            ks_buf_printf(&b, ",\"id\":\"%s\"", ids[i]);
        }
        ks_buf_printf(&b, ",\"channel\":\"amazon\",\"sku\":\"SKU-%zu\",\"qty\":%zu,\"batch\":\"a-1\"}\n",
                      i, i + 1);
    }
    ks_buf_puts(&b, "{\"type\":\"tick\",\"ts\":1}\n"); /* room for the one-pass road */
    struct ks_decoder *d = ks_decoder_new(), *ref = ks_decoder_new();
    ks_decoder_new_buffer(d);
    const char *p = b.p, *end = b.p + b.len;
    struct ks_event scratch, want, got;
    ks_event_clear(&scratch);
    for (size_t i = 0; i < n; i++) {
        struct ks_line l;
        const char *nl;
        uint64_t hits = ks_decoder_fast_hits(d);
        CHECK_INT(ks_line_decode_next(d, p, end, &l, &scratch, &nl), KS_OK);
        CHECK(nl == memchr(p, '\n', (size_t)(end - p)));
        CHECK_INT(ks_decoder_fast_hits(d), hits + 1);
        CHECK_INT(l.packed, 1);
        int has = ids[i] && ids[i][0];
        CHECK_INT(l.id_len, has ? strlen(ids[i]) : 0);
        if (has) {
            CHECK(l.id_hash == ks_event_id_hash((struct ks_str){ids[i], strlen(ids[i])}));
        }
        /* i > 0 follow a canonical line naming amazon and a-1; the empty id
         * is not the one-pass shape, so the last compares with nothing */
        CHECK_INT(l.same_prev, i == 0 || i == n - 1 ? 0 : KS_SAME_CHANNEL | KS_SAME_BATCH);
        CHECK_INT(ks_event_decode_fast(ref, p, l.len, &want), KS_OK);
        ks_event_clear(&got);
        ks_line_unpack(&l, &got);
        want.same_prev = got.same_prev;
        CHECK(memcmp(&want, &got, sizeof(want)) == 0);
        p = nl + 1;
    }
    ks_decoder_free(d);
    ks_decoder_free(ref);
    ks_buf_fini(&b);
}

/* ---- differential: generated inventory lines ---------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)((rng >> 11) % n);
}

static const char *pick(const char *const *v, size_t n)
{
    return v[rnd((uint32_t)n)];
}
#define PICK(v) pick((v), sizeof(v) / sizeof((v)[0]))

static void put_ws(struct ks_buf *b)
{
    static const char *const ws[] = {"", "", "", "", "", " ", "  ", "\t", "\n", " \r ", "\r"};
    if (rnd(4) == 0) {
        ks_buf_puts(b, PICK(ws));
    }
}

/* A string value as JSON text: mostly plain, sometimes with escapes,
 * UTF-8, invalid bytes, control characters or DEL. */
static void put_string_value(struct ks_buf *b)
{
    static const char *const plain[] = {"amazon",
                                        "ebay",
                                        "SKU-0012345",
                                        "a",
                                        "shop/de",
                                        "x y z",
                                        "~!@#$%^&*()_+-={}[]|:;'<>,.?",
                                        "0",
                                        "12",
                                        "amazon-3",
                                        "Berlin Lager 7"};
    static const char *const odd[] = {
        "ama\\u007azon",
        "a\\\"b",
        "a\\\\b",
        "\\/",
        "bücher",
        "\xf0\x9f\x98\x80",
        "\\u00fc",
        "\\ud83d\\ude00",
        "\\u0000",
        "a\\u0000b",
        "\\ud800",
        "\x7f",
        "\t",
        "\xff",
        "\xc3",
        "",
        "\\n",
        "\\u20ac",
        "\xe2\x82\xac",
        "\\x",
        "\\",
        "a\x01",
    };
    ks_buf_putc(b, '"');
    if (rnd(10) == 0) {
        ks_buf_puts(b, PICK(odd));
    } else {
        ks_buf_puts(b, PICK(plain));
        if (rnd(3) == 0) {
            ks_buf_printf(b, "-%u", rnd(100000));
        }
    }
    ks_buf_putc(b, '"');
}

static void put_ts_value(struct ks_buf *b)
{
    static const char *const fixed[] = {
        "\"2026-11-22T10:00:00Z\"",
        "\"2026-11-22T10:00:00.250+01:00\"",
        "\"2026-11-22T10:00:00.1Z\"",
        "\"2026-11-22T10:00:00.123456789Z\"",
        "\"2026-11-22T10:00:00.1234567890Z\"",
        "\"2026-11-22T10:00:00.Z\"",
        "\"2026-11-22t10:00:00.000z\"",
        "\"2026-11-22 10:00:00.000Z\"",
        "\"2026-11-22T10:00:00.000-23:59\"",
        "\"2026-11-22T10:00:00.000+24:00\"",
        "\"2026-11-22T10:00:00.000\"",
        "\"2026-11-22T10:00:00.000Zx\"",
        "\"2026-11-22\"",
        "\"\"",
        "\"\\u0032026-11-22T10:00:00.000Z\"",
        "1795341600000",
        "0",
        "253402300799999",
        "253402300800000",
        "-1",
        "-0",
        "01795341600000",
        "1795341600000.0",
        "1.7e12",
        "9999999999999999",
        "null",
        "true",
        "[]",
        "{}",
        "\"1795341600000\"",
        "\"2026-11-22T10:00:00.0000Z\"",
        "\"2026-13-01T00:00:00.000Z\"",
        "\"2026-00-10T00:00:00.000Z\"",
        "\"2026-11-00T00:00:00.000Z\"",
        "\"2026-11-31T00:00:00.000Z\"",
        "\"2026-11-22T10:60:00.000Z\"",
        "\"2026-11-22T10:00:61.000Z\"",
        "\"2026-11-22T10:0a:00.000Z\"",
        "\"2026/11/22T10:00:00.000Z\"",
        "\"+026-11-22T10:00:00.000Z\"",
    };
    if (rnd(5) != 0) {
        /* the fixed shape with a random, sometimes impossible, date and time */
        static const unsigned years[] = {1970, 1999, 2000, 2024, 2025, 2026, 2100, 2400, 9999, 0};
        unsigned y = years[rnd(10)], mo = 1 + rnd(12), d = 1 + rnd(28);
        unsigned h = rnd(24), mi = rnd(60), se = rnd(60), ms = rnd(1000);
        if (rnd(4) == 0) {
            /* month ends, leap days and out-of-range parts */
            mo = rnd(3) ? 2 : rnd(14);
            d = rnd(3) ? 27 + rnd(6) : rnd(32);
            h = rnd(3) ? h : 20 + rnd(6);
            mi = rnd(3) ? mi : 58 + rnd(3);
            se = rnd(3) ? se : 58 + rnd(4);
        }
        if (rnd(8) == 0) {
            ks_buf_printf(b, "\"%04u-%02u-%02uT%02u:%02u:%02uZ\"", y, mo, d, h, mi, se);
        } else {
            ks_buf_printf(b, "\"%04u-%02u-%02uT%02u:%02u:%02u.%03uZ\"", y, mo, d, h, mi, se, ms);
        }
    } else if (rnd(3) == 0) {
        ks_buf_printf(b, "%llu", (unsigned long long)rnd(2000000000) * 1000 + rnd(1000));
    } else {
        ks_buf_puts(b, PICK(fixed));
    }
}

static void put_qty_value(struct ks_buf *b)
{
    static const char *const odd[] = {
        "0",
        "4294967295",
        "4294967296",
        "-1",
        "-0",
        "00",
        "017",
        "1.0",
        "1e3",
        "1E3",
        "\"12\"",
        "null",
        "99999999999999999999",
        "12345678901234567",
        "999999999999999",
        "1.5",
        "true",
        "[1]",
        "-",
        "1-",
        "0x10",
        "",
    };
    if (rnd(8) == 0) {
        ks_buf_puts(b, PICK(odd));
    } else {
        ks_buf_printf(b, "%u", rnd(4) == 0 ? rnd(4000000000u) : rnd(100));
    }
}

/* One inventory-like line: each field present with a plain value most of
 * the time, in random order, with random whitespace and now and then an
 * odd value, a missing or repeated key, an unknown key or broken syntax. */
static void gen_line(struct ks_buf *b)
{
    static const char *const keys[] = {"type",  "ts",       "channel", "sku",   "qty",
                                       "batch", "location", "id",      "source"};
    static const char *const other_keys[] = {"Type", "qty2", "extra", "t\\u0073", "", "\\u0071ty"};
    static const char *const types[] = {
        "\"inventory\"", "\"inventory\"", "\"inventory\"",       "\"inventory\"",
        "\"Inventory\"", "\"stock\"",     "\"inv\\u0065ntory\"", "5",
        "null",          "\"inventory \""};
    int order[12], n = 0;
    for (int i = 0; i < 9; i++) {
        if (i < 5 ? rnd(40) != 0 : rnd(3) == 0) {
            order[n++] = i;
        }
    }
    if (rnd(30) == 0) {
        order[n++] = (int)rnd(9); /* a repeated key */
    }
    if (rnd(20) == 0) {
        order[n++] = 9; /* an unknown key */
    }
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rnd((uint32_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    ks_buf_reset(b);
    if (rnd(200) == 0) {
        ks_buf_puts(b, "\xef\xbb\xbf"); /* a byte order mark */
    }
    put_ws(b);
    ks_buf_putc(b, rnd(300) ? '{' : '[');
    for (int i = 0; i < n; i++) {
        put_ws(b);
        ks_buf_printf(b, "\"%s\"", order[i] == 9 ? PICK(other_keys) : keys[order[i]]);
        put_ws(b);
        ks_buf_putc(b, rnd(300) ? ':' : '=');
        put_ws(b);
        switch (order[i]) {
        case 0:
            ks_buf_puts(b, rnd(8) ? "\"inventory\"" : PICK(types));
            break;
        case 1:
            put_ts_value(b);
            break;
        case 4:
            put_qty_value(b);
            break;
        case 9:
            ks_buf_puts(b, rnd(2) ? "1" : "{\"a\":[null,\"b\"]}");
            break;
        default:
            if (rnd(25) == 0) {
                ks_buf_puts(b, rnd(2) ? "null" : "42");
            } else {
                put_string_value(b);
            }
            break;
        }
        put_ws(b);
        if (i + 1 < n) {
            ks_buf_putc(b, rnd(300) ? ',' : ';');
        } else if (rnd(200) == 0) {
            ks_buf_putc(b, ',');
        }
    }
    put_ws(b);
    if (rnd(150)) {
        ks_buf_putc(b, '}');
    }
    put_ws(b);
    if (rnd(150) == 0) {
        ks_buf_puts(b, rnd(2) ? "x" : "{}");
    }
    if (rnd(100) == 0) {
        ks_buf_putc(b, '\0');
    }
    if (rnd(10) == 0) {
        ks_buf_putc(b, '\r');
    }
}

static void differential_generated_inventory_lines_agree(void)
{
    struct ks_buf b = {0};
    long lines = diff_lines, fast = diff_fast_ok, gen = diff_gen_ok, bad = 0;
    for (int i = 0; i < 20000; i++) {
        gen_line(&b);
        if (!check_line(b.p, b.len) && ++bad >= 10) {
            break; /* enough to debug; do not flood the log */
        }
    }
    ks_buf_fini(&b);
    lines = diff_lines - lines;
    fast = diff_fast_ok - fast;
    gen = diff_gen_ok - gen;
    printf("differential: %ld generated lines, fast path took %ld, general accepted %ld\n", lines,
           fast, gen);
    /* the mix must exercise both sides of every decision */
    CHECK(fast > lines / 5);
    CHECK(gen > fast);
    CHECK(lines - gen > lines / 5);
}

/* ---- differential: canonical lines -------------------------------------- */

/* A plain string (printable ASCII, no quote or backslash) of a length
 * around the decoder's 8- and 16-byte steps. */
static void put_plain(struct ks_buf *b)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                "-_./ :#~,{}[]";
    static const unsigned lens[] = {1, 2, 4, 6, 7, 8, 9, 11, 15, 16, 17, 24, 40};
    unsigned n = lens[rnd(sizeof(lens) / sizeof(lens[0]))];
    for (unsigned i = 0; i < n; i++) {
        ks_buf_putc(b, chars[rnd(sizeof(chars) - 1)]);
    }
}

/*
 * One line in the shape feeds write (keys type, ts, channel, sku, qty and
 * optionally batch in that order, no whitespace, a 24-byte ts), with values
 * near the edges: timestamps mostly within a few minutes (so the decoder's
 * minute cache both hits and misses) and sometimes impossible, qty of 1 to
 * 12 digits, an empty batch, now and then a trailing byte after the object.
 */
static void gen_canonical(struct ks_buf *b)
{
    static const char *const tails[] = {"}", "}", "}", "}", "} ", "}\r", "}\t \r", "} x", "}}"};
    unsigned y = 2026, mo = 11, d = 22, h = 10, mi = rnd(3), se = rnd(60), ms = rnd(1000);
    switch (rnd(12)) {
    case 0:
        y = rnd(10000), mo = 1 + rnd(12), d = 1 + rnd(28), h = rnd(24), mi = rnd(60);
        break;
    case 1:
        mo = rnd(14), d = rnd(33), h = 22 + rnd(3), mi = 58 + rnd(3), se = 58 + rnd(4);
        break;
    case 2:
        y = rnd(2) ? 2024 : 2100, mo = 2, d = 28 + rnd(2);
        break;
    default:
        break;
    }
    ks_buf_reset(b);
    ks_buf_printf(b, "{\"type\":\"inventory\",\"ts\":\"%04u-%02u-%02uT%02u:%02u:%02u.%03uZ\"", y,
                  mo, d, h, mi, se, ms);
    switch (rnd(6)) { /* an id with the envelope, now and then empty */
    case 0:
        ks_buf_puts(b, ",\"id\":\"\"");
        break;
    case 1:
    case 2:
        ks_buf_puts(b, ",\"id\":\"");
        put_plain(b);
        ks_buf_putc(b, '"');
        break;
    default:
        break;
    }
    ks_buf_puts(b, ",\"channel\":\"");
    put_plain(b);
    ks_buf_puts(b, "\",\"sku\":\"");
    put_plain(b);
    ks_buf_puts(b, "\",\"qty\":");
    switch (rnd(8)) {
    case 0:
        ks_buf_printf(b, "%llu", (unsigned long long)rnd(1000000) * 1000000 + rnd(1000000));
        break;
    case 1:
        ks_buf_printf(b, "%u", rnd(4000000000u));
        break;
    case 2:
        ks_buf_printf(b, "0%u", rnd(10));
        break;
    default:
        ks_buf_printf(b, "%u", rnd(3) ? rnd(300) : rnd(10000000));
        break;
    }
    switch (rnd(4)) {
    case 0:
        break;
    case 1:
        ks_buf_puts(b, ",\"batch\":\"\"");
        break;
    default:
        ks_buf_puts(b, ",\"batch\":\"");
        put_plain(b);
        ks_buf_putc(b, '"');
        break;
    }
    ks_buf_puts(b, rnd(4) ? "}" : PICK(tails));
}

/* Changes, deletes or inserts one byte of b, or cuts it short. */
static void mutate(struct ks_buf *b)
{
    static const char odd[] = "\"\\\x01\x1f\x7f\x80\xc3\xff 09:,.}{Zz-Tt\0";
    if (b->len == 0) {
        return;
    }
    size_t at = rnd((uint32_t)b->len);
    char c = odd[rnd(sizeof(odd) - 1)];
    switch (rnd(4)) {
    case 0:
        b->p[at] = c;
        break;
    case 1:
        memmove(b->p + at, b->p + at + 1, b->len - at - 1);
        b->len--;
        break;
    case 2:
        ks_buf_putc(b, ' ');
        memmove(b->p + at + 1, b->p + at, b->len - at - 1);
        b->p[at] = c;
        break;
    default:
        b->len = at;
        break;
    }
}

static void differential_canonical_lines_agree(void)
{
    struct ks_buf b = {0};
    long lines = diff_lines, fast = diff_fast_ok, gen = diff_gen_ok, bad = 0, missed = 0;
    for (int i = 0; i < 30000 && bad < 10; i++) {
        gen_canonical(&b);
        int mutated = rnd(2);
        for (int m = mutated ? 1 + (int)rnd(2) : 0; m > 0; m--) {
            mutate(&b);
        }
        long fast_before = diff_fast_ok, gen_before = diff_gen_ok;
        if (!check_line(b.p, b.len)) {
            bad++;
        } else if (!mutated && diff_gen_ok > gen_before && diff_fast_ok == fast_before) {
            /* a plain line the general decoder takes must not need it */
            if (missed++ < 3) {
                fprintf(stderr, "FAIL %s: fast path declines a plain line\n", t_current);
                show_line(b.p, b.len);
            }
            t_failed_checks++;
        }
    }
    ks_buf_fini(&b);
    lines = diff_lines - lines;
    fast = diff_fast_ok - fast;
    gen = diff_gen_ok - gen;
    printf("differential: %ld canonical-shape lines, fast path took %ld, general accepted %ld\n",
           lines, fast, gen);
    CHECK(fast > lines / 3);
    CHECK(lines - gen > lines / 5);
}

/* ---- differential: files ------------------------------------------------ */

/* Checks every line of p[0..n) (split at '\n'). */
static void check_lines(const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t len = nl ? (size_t)(nl - p) : n;
        check_line(p, len);
        if (!nl) {
            break;
        }
        n -= len + 1;
        p = nl + 1;
    }
}

static long files_seen;

/* Calls fn on every regular file under dir (recursively) whose name ends
 * in suffix ("" for all). Returns -1 when dir cannot be opened. */
static int walk(const char *dir, const char *suffix, void (*fn)(const char *path))
{
    DIR *dh = opendir(dir);
    if (!dh) {
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        char path[4096];
        struct stat st;
        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (stat(path, &st) != 0) {
            continue;
        }
        size_t nl = strlen(de->d_name), sl = strlen(suffix);
        if (S_ISDIR(st.st_mode)) {
            walk(path, suffix, fn);
        } else if (S_ISREG(st.st_mode) && nl >= sl && strcmp(de->d_name + nl - sl, suffix) == 0) {
            fn(path);
        }
    }
    closedir(dh);
    return 0;
}

/* A corpus file is one fuzz input: check it whole, as the fuzzer does, and
 * line by line, as a replay would read it. */
static void check_corpus_file(const char *path)
{
    size_t n;
    char *p = t_slurp(path, &n);
    if (!p) {
        fprintf(stderr, "FAIL %s: cannot read %s\n", t_current, path);
        t_failed_checks++;
        return;
    }
    files_seen++;
    check_line(p, n);
    check_lines(p, n);
    ks_free(p);
}

static void check_ndjson_file(const char *path)
{
    size_t n;
    char *p = t_slurp(path, &n);
    if (!p) {
        fprintf(stderr, "FAIL %s: cannot read %s\n", t_current, path);
        t_failed_checks++;
        return;
    }
    files_seen++;
    check_lines(p, n);
    ks_free(p);
}

static void differential_fuzz_corpus_agrees(void)
{
    files_seen = 0;
    CHECK_INT(walk("tests/fuzz/corpus-decode", "", check_corpus_file), 0);
    CHECK(files_seen >= 30);
}

static void differential_scenario_ndjson_agrees(void)
{
    files_seen = 0;
    long before = diff_lines;
    /* Scenarios may not exist yet; every one that does is checked. */
    walk("tests/scenarios", ".ndjson", check_ndjson_file);
    walk("examples", ".ndjson", check_ndjson_file);
    printf("differential: %ld scenario files, %ld lines\n", files_seen, diff_lines - before);
}

int main(void)
{
    dec = ks_decoder_new();
    dfast = ks_decoder_new();
    dgen = ks_decoder_new();
    dboth = ks_decoder_new();

    RUN(inventory_line_decodes_every_field);
    RUN(inventory_with_location_id_and_source_decodes);
    RUN(inventory_qty_of_4294967295_is_accepted);
    RUN(sync_ok_decodes);
    RUN(sync_error_decodes_its_kind_and_detail);
    RUN(order_decodes_every_field);
    RUN(order_every_status_decodes);
    RUN(order_integer_value_and_empty_lines_decode);
    RUN(health_decodes);
    RUN(stock_decodes);
    RUN(receipt_decodes_every_field);
    RUN(receipt_damaged_and_wrong_default_to_zero);
    RUN(complaint_decodes);
    RUN(feedback_decodes_with_a_string_incident);
    RUN(feedback_integer_incident_is_kept_as_text);
    RUN(metric_decodes_labels_in_written_order);
    RUN(metric_value_may_be_negative_and_labels_empty);
    RUN(tick_carries_only_ts);

    RUN(ts_with_offset_is_converted_to_utc);
    RUN(ts_as_integer_milliseconds_is_accepted);
    RUN(ts_fraction_is_truncated_to_milliseconds);
    RUN(ts_as_float_is_rejected);
    RUN(ts_negative_is_rejected);
    RUN(ts_beyond_year_9999_is_rejected);
    RUN(ts_that_is_not_rfc3339_is_rejected);
    RUN(ts_on_a_day_that_does_not_exist_is_rejected);
    RUN(ts_is_required);
    RUN(type_is_required);
    RUN(unknown_type_names_the_known_ones);
    RUN(type_that_is_not_a_string_is_rejected);
    RUN(id_and_source_must_be_strings);
    RUN(top_level_that_is_not_an_object_is_rejected);
    RUN(invalid_json_names_the_column);
    RUN(duplicate_key_is_invalid_json);
    RUN(integer_too_big_for_64_bits_names_its_field);
    RUN(invalid_utf8_names_the_byte);
    RUN(valid_utf8_in_strings_is_kept);
    RUN(line_over_one_mib_is_rejected);
    RUN(nul_in_a_string_is_rejected);
    RUN(null_optional_fields_count_as_absent);
    RUN(empty_optional_string_counts_as_absent);
    RUN(unknown_fields_are_ignored);
    RUN(trailing_carriage_return_is_ignored);
    RUN(source_is_set_even_on_rejection);
    RUN(long_values_are_cut_in_messages);

    RUN(inventory_qty_as_string_is_rejected);
    RUN(inventory_negative_qty_is_rejected);
    RUN(inventory_fractional_qty_is_rejected);
    RUN(inventory_qty_above_4294967295_is_rejected);
    RUN(inventory_qty_is_required);
    RUN(inventory_channel_is_required);
    RUN(inventory_empty_channel_is_rejected);
    RUN(inventory_numeric_sku_is_rejected);
    RUN(inventory_optional_strings_reject_other_types);
    RUN(sync_unknown_status_is_rejected);
    RUN(sync_status_and_channel_are_required);
    RUN(sync_unknown_error_kind_is_rejected);
    RUN(order_required_fields_are_named);
    RUN(order_value_must_be_a_number_of_at_least_zero);
    RUN(order_lines_are_checked_one_by_one);
    RUN(order_optional_fields_are_type_checked);
    RUN(order_email_must_be_one_plain_address);
    RUN(health_rejections_name_the_field);
    RUN(stock_rejections_name_the_field);
    RUN(receipt_rejections_name_the_field);
    RUN(complaint_rejections_name_the_field);
    RUN(feedback_score_must_be_1_to_5);
    RUN(feedback_incident_must_be_a_string_or_an_integer);
    RUN(metric_rejections_name_the_field);
    RUN(first_fault_in_field_order_is_reported);

    RUN(names_cover_every_value);
    RUN(decoder_frees_everything_it_allocated);
    RUN(strings_stay_valid_until_the_next_decode);

    RUN(fast_path_takes_plain_inventory_lines);
    RUN(fast_path_accepts_any_key_order_and_whitespace);
    RUN(fast_path_declines_what_it_is_not_sure_about);
    RUN(fast_path_date_cache_follows_the_date);
    RUN(fast_next_finds_lines_and_repeated_channels_and_batches);
    RUN(lines_with_an_id_take_the_one_pass_road_and_pack);
    RUN(decode_uses_the_fast_path_only_for_inventory);

    RUN(differential_generated_inventory_lines_agree);
    RUN(differential_canonical_lines_agree);
    RUN(differential_fuzz_corpus_agrees);
    RUN(differential_scenario_ndjson_agrees);

    ks_decoder_free(dec);
    ks_decoder_free(dfast);
    ks_decoder_free(dgen);
    ks_decoder_free(dboth);
    return t_done();
}
