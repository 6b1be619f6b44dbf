/* test_core.c - time, durations, JSON writer, interning, hash map, UTF-8,
 * varints. */
#include "../../src/core/core.h"
#include "t.h"

static ks_time parse(const char *s)
{
    ks_time t = KS_TIME_NONE;
    const char *why;
    if (ks_time_parse(s, strlen(s), &t, &why) != 0) {
        return KS_TIME_NONE;
    }
    return t;
}

static void rfc3339_utc_is_epoch_milliseconds(void)
{
    CHECK_INT(parse("1970-01-01T00:00:00Z"), 0);
    /* SPEC section 1 gives this pair; 2026-11-22 is day 20779 since the epoch */
    CHECK_INT(parse("2026-11-22T10:00:00Z"), 1795341600000LL);
    CHECK_INT(parse("2026-11-22T10:00:00Z"), 20779LL * 86400000 + 10 * 3600000LL);
    CHECK_INT(parse("2026-11-22T10:00:00.250Z"), 1795341600250LL);
}

static void rfc3339_offsets_are_applied(void)
{
    CHECK_INT(parse("2026-11-22T10:00:00.250+01:00"), parse("2026-11-22T09:00:00.250Z"));
    CHECK_INT(parse("2026-11-22T10:00:00-05:30"), parse("2026-11-22T15:30:00Z"));
}

static void fractions_truncate_to_milliseconds(void)
{
    CHECK_INT(parse("2026-11-22T10:00:00.123456789Z") - parse("2026-11-22T10:00:00Z"), 123);
    CHECK_INT(parse("2026-11-22T10:00:00.5Z") - parse("2026-11-22T10:00:00Z"), 500);
}

static void bad_timestamps_are_refused(void)
{
    CHECK_INT(parse("2026-11-22"), KS_TIME_NONE);
    CHECK_INT(parse("2026-11-22T10:00:00"), KS_TIME_NONE);
    CHECK_INT(parse("2026-02-29T10:00:00Z"), KS_TIME_NONE);
    CHECK_INT(parse("2026-13-01T10:00:00Z"), KS_TIME_NONE);
    CHECK_INT(parse("2026-11-22T24:00:00Z"), KS_TIME_NONE);
    CHECK_INT(parse("2026-11-22T10:00:00Zjunk"), KS_TIME_NONE);
    CHECK_INT(parse("2026-11-22T10:00:00.Z"), KS_TIME_NONE);
    CHECK(parse("2024-02-29T10:00:00Z") != KS_TIME_NONE);
}

static void formatting_round_trips(void)
{
    char out[32];
    ks_time t = parse("2026-11-22T10:00:04.007Z");
    ks_time_fmt(t, out);
    CHECK_STR(out, "2026-11-22T10:00:04.007Z");
    ks_time_fmt(parse("1969-12-31T23:59:59.999Z"), out);
    CHECK_STR(out, "1969-12-31T23:59:59.999Z");
}

static void durations_parse_and_format(void)
{
    ks_time d;
    CHECK(ks_duration_parse("30m", &d) == 0 && d == 30 * KS_MIN);
    CHECK(ks_duration_parse("2h", &d) == 0 && d == 2 * KS_HOUR);
    CHECK(ks_duration_parse("7d", &d) == 0 && d == 7 * KS_DAY);
    CHECK(ks_duration_parse("500ms", &d) == 0 && d == 500);
    CHECK(ks_duration_parse("90", &d) == 0 && d == 90 * KS_SEC);
    CHECK(ks_duration_parse("5 parsecs", &d) != 0);
    char out[32];
    ks_duration_fmt(30 * KS_MIN, out);
    CHECK_STR(out, "30m");
    ks_duration_fmt(KS_HOUR + 30 * KS_MIN, out);
    CHECK_STR(out, "1h30m");
    ks_duration_fmt(1500, out);
    CHECK_STR(out, "1.500s");
    ks_duration_fmt(0, out);
    CHECK_STR(out, "0s");
}

static void json_writer_escapes_and_separates(void)
{
    struct ks_buf b = {0};
    struct ks_json j;
    ks_json_init(&j, &b, 0);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "a");
    ks_json_str(&j, "q\"\\\n\x01");
    ks_json_key(&j, "b");
    ks_json_arr_begin(&j);
    ks_json_int(&j, -3);
    ks_json_num(&j, 0.5);
    ks_json_num(&j, 2);
    ks_json_null(&j);
    ks_json_arr_end(&j);
    ks_json_key(&j, "c");
    ks_json_obj_begin(&j);
    ks_json_obj_end(&j);
    ks_json_key(&j, "t");
    ks_json_time(&j, KS_TIME_NONE);
    ks_json_obj_end(&j);
    CHECK_STR(b.p, "{\"a\":\"q\\\"\\\\\\n\\u0001\",\"b\":[-3,0.5,2.0,null],\"c\":{},\"t\":null}");
    /* DEL and the C1 controls (CSI, U+009B, above all) are escaped too; the
     * rest of UTF-8 is kept as it is */
    ks_buf_reset(&b);
    ks_json_escape(&b,
                   "\x7f \xc2\x9b"
                   "31m \xc2\x80 \xc2\xa0 \xc3\xab",
                   16);
    CHECK_STR(b.p, "\"\\u007f \\u009b"
                   "31m \\u0080 \xc2\xa0 \xc3\xab\"");
    ks_buf_fini(&b);
}

/* Figures are written whole (money above all), in the shortest form that
 * reads back as the same number. */
static void json_numbers_keep_every_digit(void)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {{1234567.89, "1234567.89"}, {10000.01, "10000.01"}, {0.1, "0.1"},
                 {1.0 / 3, "0.3333333333333333"}, {1e21, "1e+21"}, {-42.5, "-42.5"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ks_buf b = {0};
        struct ks_json j;
        ks_json_init(&j, &b, 0);
        ks_json_num(&j, cases[i].v);
        CHECK_STR(b.p, cases[i].want);
        ks_buf_fini(&b);
    }
}

/* Nine orders of 1000.10 and one of 999.10 are 10000 exactly: a strict
 * "> 10000" threshold is not crossed by binary fractions' drift. */
static void money_adds_up_without_drift(void)
{
    double sum = 0, plain = 0;
    for (int i = 0; i < 9; i++) {
        sum = ks_money_add(sum, 1000.10);
        plain += 1000.10;
    }
    sum = ks_money_add(sum, 999.10);
    plain += 999.10;
    CHECK(plain > 10000.0); /* what the plain sum did */
    CHECK(sum == 10000.0);
    CHECK(!(sum > 10000.0));
    CHECK(ks_money_add(10000.0, 0.01) > 10000.0);
    CHECK(ks_money_add(1e12, 0.5) == 1e12 + 0.5); /* past the rounding's range: kept */
}

static void interning_gives_dense_stable_ids(void)
{
    struct ks_intern t;
    ks_intern_init(&t);
    char s[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(s, sizeof(s), "SKU-%07d", i);
        CHECK_INT(ks_intern_add(&t, s, strlen(s)), i);
    }
    CHECK_INT(ks_intern_add(&t, "SKU-0000042", 11), 42);
    CHECK_INT(ks_intern_find(&t, "SKU-0004999", 11), 4999);
    CHECK_INT(ks_intern_find(&t, "nope", 4), UINT32_MAX);
    CHECK_STR(ks_intern_str(&t, 7), "SKU-0000007");
    ks_intern_fini(&t);
}

/* A dictionary loaded whole: the same ids as one by one, growing the table
 * in the middle of a batch, and it stops before the first string already
 * there (a damaged dictionary). */
static void interning_many_new_strings_at_once(void)
{
    struct ks_intern t, u;
    ks_intern_init(&t);
    ks_intern_init(&u);
    enum { N = 3000 };
    static char buf[N][16];
    const char *s[N];
    size_t n[N];
    for (int i = 0; i < N; i++) {
        n[i] = (size_t)snprintf(buf[i], sizeof(buf[i]), "SKU-%07d", i * 7);
        s[i] = buf[i];
        CHECK_INT(ks_intern_add(&u, s[i], n[i]), i);
    }
    CHECK_INT(ks_intern_add_new(&t, s, n, 1000), 1000);
    CHECK_INT(ks_intern_add_new(&t, s + 1000, n + 1000, N - 1000), N - 1000);
    CHECK_INT(t.n, N);
    int same = 1;
    for (int i = 0; i < N; i++) {
        same &= ks_intern_find(&t, s[i], n[i]) == (uint32_t)i &&
                strcmp(ks_intern_str(&t, (uint32_t)i), ks_intern_str(&u, (uint32_t)i)) == 0;
    }
    CHECK(same);
    CHECK_INT(ks_intern_find(&t, "SKU-0000001", 11), UINT32_MAX);
    /* The 3rd of this batch is already there: two are added, then it stops. */
    const char *again[] = {"new-1", "new-2", "SKU-0000014", "new-3"};
    size_t again_n[] = {5, 5, 11, 5};
    CHECK_INT(ks_intern_add_new(&t, again, again_n, 4), 2);
    CHECK_INT(t.n, N + 2);
    CHECK_INT(ks_intern_find(&t, "new-2", 5), N + 1);
    CHECK_INT(ks_intern_find(&t, "new-3", 5), UINT32_MAX);
    CHECK_INT(ks_intern_add_new(&t, again, again_n, 0), 0);
    ks_intern_fini(&t);
    ks_intern_fini(&u);
}

static void map_holds_many_keys(void)
{
    struct ks_map64 m = {0};
    for (uint64_t k = 1; k <= 100000; k++) {
        *ks_map64_put(&m, k * 7919, NULL) = k;
    }
    int ok = 1;
    for (uint64_t k = 1; k <= 100000; k++) {
        uint64_t *v = ks_map64_get(&m, k * 7919);
        ok &= v && *v == k;
    }
    CHECK(ok);
    CHECK(ks_map64_get(&m, 3) == NULL);
    int added;
    ks_map64_put(&m, 7919, &added);
    CHECK_INT(added, 0);
    CHECK_INT(m.n, 100000);
    ks_map64_fini(&m);
}

/* m's keys and values in the order of its slots, as a checkpoint has them,
 * loaded into l. */
static int load_in_slot_order(const struct ks_map64 *m, struct ks_map64 *l)
{
    ks_map64_load_begin(l, m->n);
    for (size_t j = 0; j < m->cap; j++) {
        if (m->keys[j]) {
            ks_map64_load_add(l, m->keys[j], m->vals[j]);
        }
    }
    return ks_map64_load_end(l);
}

/* A map loaded from the order of its slots comes back laid out as it was,
 * also where a run of keys wraps from the last slot to the first: put back
 * in that order, the run came back in another order (and a checkpoint saved
 * again listed them so). Keys in the order of a larger map are put one by
 * one; a key twice is refused. */
static void a_map_loaded_in_the_order_of_its_slots_is_laid_out_as_it_was(void)
{
    struct ks_map64 m = {0}, l = {0}, p = {0};
    for (uint64_t s = 0; s < 24; s++) {
        *ks_map64_put(&m, ((s << 32) | 2) + 1, NULL) = s;
    }
    CHECK(m.cap == 64 && m.keys[0] != 0 && m.keys[63] != 0); /* a run wraps */
    CHECK_INT(load_in_slot_order(&m, &l), 0);
    CHECK_INT(l.cap, m.cap);
    CHECK_INT(l.n, m.n);
    CHECK(memcmp(l.keys, m.keys, m.cap * 8) == 0 && memcmp(l.vals, m.vals, m.cap * 8) == 0);
    for (size_t j = 0; j < m.cap; j++) {
        if (m.keys[j]) {
            *ks_map64_put(&p, m.keys[j], NULL) = m.vals[j];
        }
    }
    CHECK(memcmp(p.keys, m.keys, m.cap * 8) != 0); /* what putting them did */
    ks_map64_fini(&l);
    ks_map64_fini(&p);

    /* putting a key the map holds does not grow it: the capacity follows
     * from the number of keys */
    ks_map64_fini(&m);
    for (uint64_t k = 1; k <= 32; k++) {
        *ks_map64_put(&m, k, NULL) = k;
    }
    ks_map64_put(&m, 32, NULL);
    CHECK_INT(m.cap, 64);

    /* the slot order of a map twice the size: each key put, found, and the
     * map saved again loads as it is */
    struct ks_map64 big = {0};
    big.cap = 128;
    big.keys = ks_calloc(128, 8);
    big.vals = ks_calloc(128, 8);
    for (uint64_t k = 1; k <= 32; k++) {
        *ks_map64_put(&big, k, NULL) = k;
    }
    CHECK_INT(load_in_slot_order(&big, &l), 0);
    CHECK_INT(l.cap, 64);
    int ok = 1;
    for (uint64_t k = 1; k <= 32; k++) {
        const uint64_t *v = ks_map64_get(&l, k);
        ok &= v && *v == k;
    }
    CHECK(ok);
    CHECK_INT(load_in_slot_order(&l, &p), 0);
    CHECK(memcmp(p.keys, l.keys, 64 * 8) == 0);
    ks_map64_fini(&big);
    ks_map64_fini(&l);
    ks_map64_fini(&p);

    /* a key twice */
    ks_map64_load_begin(&l, 3);
    ks_map64_load_add(&l, 5, 1);
    ks_map64_load_add(&l, 9, 2);
    ks_map64_load_add(&l, 5, 3);
    CHECK_INT(ks_map64_load_end(&l), -1);
    CHECK_INT(l.n, 0);
    CHECK(ks_map64_get(&l, 5) == NULL);
    ks_map64_fini(&l);
    ks_map64_fini(&m);
}

static void utf8_validation_finds_the_first_bad_byte(void)
{
    CHECK(ks_utf8_invalid_at("plain", 5) == (size_t)-1);
    CHECK(ks_utf8_invalid_at("caf\xc3\xa9", 5) == (size_t)-1);
    CHECK_INT(ks_utf8_invalid_at("ab\xff", 3), 2);
    CHECK_INT(ks_utf8_invalid_at("ab\xc3", 3), 2);          /* truncated */
    CHECK_INT(ks_utf8_invalid_at("\xc0\xaf", 2), 0);        /* overlong */
    CHECK_INT(ks_utf8_invalid_at("x\xed\xa0\x80", 4), 1);   /* surrogate */
    /* control characters: C0, DEL, C1 (U+0080-U+009F); not U+00A0 and above */
    CHECK(ks_utf8_control_at("Zo\xc3\xab \xc2\xa0x", 8) == (size_t)-1);
    CHECK_INT(ks_utf8_control_at("a\tb", 3), 1);
    CHECK_INT(ks_utf8_control_at("ab\x7f", 3), 2);
    CHECK_INT(ks_utf8_control_at("x\xc2\x85y", 4), 1);      /* U+0085, next line */
    CHECK_INT(ks_utf8_control_at("x\xc2\x9f", 3), 1);       /* U+009F */
    CHECK(ks_utf8_control_at("x\xc2", 2) == (size_t)-1);    /* C2 at the end: not read past */
}

static void counts_get_thousands_separators(void)
{
    char out[32];
    CHECK_STR(ks_fmt_count(0, out), "0");
    CHECK_STR(ks_fmt_count(3020, out), "3,020");
    CHECK_STR(ks_fmt_count(10000000, out), "10,000,000");
    /* a percentage over a limit never reads as the limit */
    CHECK_STR(ks_fmt_pct_above(100.0 * 19 / 377, 5, out), "5.04");
    CHECK_STR(ks_fmt_pct_above(5.6, 5, out), "5.6");
    CHECK_STR(ks_fmt_pct_above(5.00004, 5, out), "5.0000"); /* four decimals at most */
    CHECK_STR(ks_fmt_pct_above(5.0001, 5, out), "5.0001");
    CHECK_STR(ks_fmt_pct_above(100.0 * 2 / 7, 20, out), "28.6");
}

/* The varints of the checkpoint and of the feed's blocks: LEB128 bytes as
 * the format gives them, a round trip at every width, and a damaged varint
 * refused without reading past its end. */
/* Amounts typed by a person (remedy --amount, cost set): decimal only, at
 * most two decimals; the range is the caller's. */
static void amounts_are_decimal_with_at_most_two_decimals(void)
{
    double v = -1;
    CHECK_INT(ks_amount_parse("0", &v), 0);
    CHECK(v == 0);
    CHECK_INT(ks_amount_parse("10000", &v), 0);
    CHECK(v == 10000);
    CHECK_INT(ks_amount_parse("49.99", &v), 0);
    CHECK(v == 49.99);
    CHECK_INT(ks_amount_parse("0.5", &v), 0);
    CHECK(v == 0.5);
    CHECK_INT(ks_amount_parse("10000000000000001", &v), 0); /* the range is the caller's */
    static const char *const bad[] = {"0x10", "0X10", "1e3",   "1E3",  "-5", "+5", "inf", "nan",
                                      ".5",   "5.",   "5.001", "5,00", " 5", "5 ", "",    "30 USD"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = -1;
        if (ks_amount_parse(bad[i], &v) != -1 || v != -1) {
            fprintf(stderr, "  amount '%s' was taken\n", bad[i]);
            CHECK(0);
        }
    }
}

/* A person's name (--by, an owner): not blank, at most 200 bytes of UTF-8,
 * no control character - C1 included. */
static void person_names_are_one_line_of_utf8(void)
{
    char buf[64];
    CHECK(ks_person_invalid("alice", buf, sizeof(buf)) == NULL);
    CHECK(ks_person_invalid("Zoë Ünal", buf, sizeof(buf)) == NULL);
    CHECK_STR(ks_person_invalid("", buf, sizeof(buf)), "is empty");
    CHECK_STR(ks_person_invalid(" \t", buf, sizeof(buf)), "is blank");
    CHECK_STR(ks_person_invalid("bo\nb", buf, sizeof(buf)), "holds a control character (byte 3)");
    CHECK_STR(ks_person_invalid("x\xc2\x9by", buf, sizeof(buf)),
              "holds a control character (byte 2)");
    CHECK_STR(ks_person_invalid("x\x7fy", buf, sizeof(buf)), "holds a control character (byte 2)");
    CHECK_STR(ks_person_invalid("d\xffn", buf, sizeof(buf)), "is not valid UTF-8 (byte 2)");
    char name[KS_PERSON_MAX + 2];
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = 0;
    CHECK_STR(ks_person_invalid(name, buf, sizeof(buf)), "is at most 200 bytes (this one has 201)");
    name[KS_PERSON_MAX] = 0;
    CHECK(ks_person_invalid(name, buf, sizeof(buf)) == NULL);
}

static void varints_round_trip_and_refuse_damage(void)
{
    struct ks_buf b = {0};
    ks_varint_put(&b, 0);
    ks_varint_put(&b, 127);
    ks_varint_put(&b, 300);
    CHECK_INT(b.len, 4);
    CHECK_INT((unsigned char)b.p[0], 0x00);
    CHECK_INT((unsigned char)b.p[1], 0x7f);
    CHECK_INT((unsigned char)b.p[2], 0xac);
    CHECK_INT((unsigned char)b.p[3], 0x02);
    CHECK_INT(b.p[b.len], 0);
    ks_buf_reset(&b);
    static const uint64_t vals[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX, (uint64_t)1 << 62,
                                    UINT64_MAX};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        ks_varint_put(&b, vals[i]);
    }
    CHECK_INT(b.len, 1 + 1 + 1 + 2 + 2 + 3 + 5 + 9 + 10);
    const unsigned char *p = (const unsigned char *)b.p, *end = p + b.len;
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        uint64_t v = 0;
        CHECK_INT(ks_varint_get(&p, end, &v), 0);
        CHECK(v == vals[i]);
    }
    CHECK(p == end);
    uint64_t v = 0;
    CHECK_INT(ks_varint_get(&p, end, &v), -1); /* nothing left */
    /* cut short: the last byte still says "more" */
    const unsigned char cut[] = {0x80, 0x80};
    p = cut;
    CHECK_INT(ks_varint_get(&p, cut + 2, &v), -1);
    CHECK(p == cut + 2);
    /* over 64 bits: a tenth byte above 1, or an eleventh byte */
    const unsigned char wide[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    p = wide;
    CHECK_INT(ks_varint_get(&p, wide + 10, &v), -1);
    const unsigned char longer[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x00};
    p = longer;
    CHECK_INT(ks_varint_get(&p, longer + 11, &v), -1);
    CHECK(p <= longer + 11);
    static const int64_t sv[] = {0, -1, 1, -2, INT64_MAX, INT64_MIN};
    static const uint64_t zv[] = {0, 1, 2, 3, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof(sv) / sizeof(sv[0]); i++) {
        CHECK(ks_zig(sv[i]) == zv[i]);
        CHECK(ks_unzig(zv[i]) == sv[i]);
    }
    ks_buf_fini(&b);
}

int main(void)
{
    RUN(rfc3339_utc_is_epoch_milliseconds);
    RUN(rfc3339_offsets_are_applied);
    RUN(fractions_truncate_to_milliseconds);
    RUN(bad_timestamps_are_refused);
    RUN(formatting_round_trips);
    RUN(durations_parse_and_format);
    RUN(json_writer_escapes_and_separates);
    RUN(json_numbers_keep_every_digit);
    RUN(money_adds_up_without_drift);
    RUN(interning_gives_dense_stable_ids);
    RUN(interning_many_new_strings_at_once);
    RUN(map_holds_many_keys);
    RUN(a_map_loaded_in_the_order_of_its_slots_is_laid_out_as_it_was);
    RUN(utf8_validation_finds_the_first_bad_byte);
    RUN(counts_get_thousands_separators);
    RUN(amounts_are_decimal_with_at_most_two_decimals);
    RUN(person_names_are_one_line_of_utf8);
    RUN(varints_round_trip_and_refuse_damage);
    return t_done();
}
