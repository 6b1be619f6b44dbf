/*
 * test_store.c - the store on both backends: schema and migrations,
 * incidents, dead letters with raw bytes, blobs, transactions, a second
 * connection, the journal; SQLite's file and WAL; PostgreSQL's connection
 * loss, failed transactions, writer lock and dialect. Each test gets a new
 * database (tdb.h): a file in a fresh mkdtemp directory, or a fresh schema
 * on the test server.
 */
#include "../../src/store/sql.h"
#include "../../src/store/store.h"
#include "tdb.h"

#include <sys/stat.h>

static void put_incident(struct ks_store *s, int64_t id, const char *status, const char *summary)
{
    char detail[128];
    snprintf(detail, sizeof(detail), "{\"id\":%lld,\"timeline\":[]}", (long long)id);
    struct ks_incident_row row = {
        .id = id,
        .type = "sync_failure",
        .severity = "P3",
        .status = status,
        .fingerprint = "sync_failure:amazon",
        .detected_at = tdb_time("2026-11-22T10:00:04.250Z"),
        .summary_json = summary,
        .detail_json = detail,
    };
    struct ks_err err = {0};
    CHECK_INT(s->ops->put_incident(s, &row, &err), KS_OK);
}

/* Collects listed incidents as "id:status:severity:detected_at " into a buffer. */
static int collect_incident(void *ctx, const struct ks_incident_row *row)
{
    char at[32];
    ks_time_fmt(row->detected_at, at);
    ks_buf_printf(ctx, "%lld:%s:%s:%s ", (long long)row->id, row->status, row->severity, at);
    return 0;
}

static int stop_after_first(void *ctx, const struct ks_incident_row *row)
{
    ks_buf_printf(ctx, "%lld ", (long long)row->id);
    return 1;
}

static void list_into(struct ks_store *s, const char *status, struct ks_buf *b)
{
    struct ks_err err = {0};
    ks_buf_reset(b);
    ks_buf_puts(b, "");
    struct ks_incident_filter f = {.status = status};
    CHECK_INT(s->ops->list_incidents(s, &f, collect_incident, b, &err), KS_OK);
}

/* Dead letters as read back, copied out of the callback. */
struct dl_copy {
    int64_t id, line;
    char source[64], reason[128], status[16];
    char *raw;
    size_t raw_len;
    ks_time received_at;
};
struct dl_list {
    struct dl_copy items[8];
    int n;
};

static int collect_dl(void *ctx, const struct ks_deadletter *dl)
{
    struct dl_list *l = ctx;
    if (l->n == 8) {
        return 1;
    }
    struct dl_copy *c = &l->items[l->n++];
    c->id = dl->id;
    c->line = dl->line;
    snprintf(c->source, sizeof(c->source), "%s", dl->source ? dl->source : "(null)");
    snprintf(c->reason, sizeof(c->reason), "%s", dl->reason ? dl->reason : "(null)");
    snprintf(c->status, sizeof(c->status), "%s", dl->status ? dl->status : "(null)");
    c->raw = ks_malloc(dl->raw_len + 1);
    memcpy(c->raw, dl->raw, dl->raw_len);
    c->raw_len = dl->raw_len;
    c->received_at = dl->received_at;
    return 0;
}

static void dl_list_free(struct dl_list *l)
{
    for (int i = 0; i < l->n; i++) {
        ks_free(l->items[i].raw);
    }
    l->n = 0;
}

/* ---- tests ------------------------------------------------------------- */

static void open_creates_schema_at_current_version(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    CHECK(s != NULL);
    CHECK_STR(s->ops->name, tdb_pg ? "postgres" : "sqlite");
    CHECK_STR(s->uri, tdb_uri);
    ks_store_close(s);
    if (tdb_pg) {
        CHECK_INT(tdb_int("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
                          "AND tablename IN ('incidents', 'deadletters', 'blobs', "
                          "'schema_migrations')"),
                  4);
        CHECK_INT(tdb_int("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() "
                          "AND indexname IN ('incidents_status', 'incidents_fingerprint')"),
                  2);
    } else {
        CHECK_INT(tdb_int("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                          "('incidents', 'deadletters', 'blobs', 'schema_migrations')"),
                  4);
        CHECK_INT(tdb_int("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                          "('incidents_status', 'incidents_fingerprint')"),
                  2);
    }
    CHECK(tdb_int("SELECT max(version) FROM schema_migrations") >= 1);
    CHECK_INT(tdb_int("SELECT count(*) FROM schema_migrations WHERE applied_at IS NULL"), 0);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void open_puts_the_file_in_wal_mode(void)
{
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    ks_store_close(s);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    CHECK_INT(sqlite3_open(tdb_uri, &db), SQLITE_OK);
    CHECK_INT(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    CHECK_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    tdb_teardown();
}

static void reopening_keeps_data_and_does_not_reapply_migrations(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    put_incident(s, 1, "investigating", "{\"id\":1}");
    ks_store_close(s);
    /* Mark the applied rows: a second application would add rows or fail. */
    CHECK_INT(tdb_exec("UPDATE schema_migrations SET applied_at = 'first-open'"), 0);
    long long versions = tdb_int("SELECT count(*) FROM schema_migrations");

    s = tdb_open(tdb_uri);
    struct ks_buf b = {0};
    struct ks_err err = {0};
    CHECK_INT(s->ops->get_incident(s, 1, 0, &b, &err), KS_OK);
    CHECK_STR(b.p, "{\"id\":1}");
    ks_store_close(s);
    CHECK_INT(tdb_int("SELECT count(*) FROM schema_migrations"), versions);
    CHECK_INT(tdb_int("SELECT count(*) FROM schema_migrations "
                            "WHERE applied_at = 'first-open'"),
              versions);
    ks_buf_fini(&b);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void memory_database_works(void)
{
    long before = ks_alloc_live();
    struct ks_store *s = tdb_open(":memory:");
    put_incident(s, 3, "investigating", "{\"id\":3}");
    struct ks_buf b = {0};
    struct ks_err err = {0};
    CHECK_INT(s->ops->get_incident(s, 3, 0, &b, &err), KS_OK);
    CHECK_STR(b.p, "{\"id\":3}");
    ks_buf_fini(&b);
    ks_store_close(s);
    CHECK_INT(ks_alloc_live(), before);
}

/* No server there: a clear error naming the database and the server, never
 * the password. */
static void unreachable_postgres_is_an_io_error_naming_the_server(void)
{
    long before = ks_alloc_live();
    struct ks_store *s = (struct ks_store *)1;
    struct ks_err err = {0};
    CHECK_INT(ks_store_open(&s, "postgresql://kintsugi:s3cret@127.0.0.1:1/ks", &err), KS_EIO);
    CHECK(s == NULL);
    CHECK(strncmp(err.msg, "store: connect to PostgreSQL (database ks on 127.0.0.1 port 1): ",
                  64) == 0);
    CHECK(strstr(err.msg, "Connection refused") != NULL);
    CHECK(strstr(err.msg, "s3cret") == NULL);
    CHECK_INT(ks_store_open(&s, "postgres://kintsugi@127.0.0.1:1/ks", &err), KS_EIO);
    CHECK(s == NULL);
    CHECK_INT(ks_alloc_live(), before);
}

static void a_file_that_is_not_a_database_is_an_io_error(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    FILE *f = fopen(tdb_uri, "w");
    CHECK(f != NULL);
    if (f) {
        for (int i = 0; i < 200; i++) {
            fputs("this is not a database, it is a text file\n", f);
        }
        fclose(f);
    }
    struct ks_store *s = NULL;
    struct ks_err err = {0};
    CHECK_INT(ks_store_open(&s, tdb_uri, &err), KS_EIO);
    CHECK(s == NULL);
    CHECK(strncmp(err.msg, "store: open ", 12) == 0);
    CHECK(strstr(err.msg, "not a database") != NULL);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void database_from_a_newer_kintsugi_is_refused(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    ks_store_close(tdb_open(tdb_uri));
    CHECK_INT(
        tdb_exec("INSERT INTO schema_migrations VALUES(999, '2030-01-01T00:00:00.000Z')"),
        0);
    struct ks_store *s = NULL;
    struct ks_err err = {0};
    CHECK_INT(ks_store_open(&s, tdb_uri, &err), KS_ESTATE);
    CHECK(s == NULL);
    CHECK(strstr(err.msg, "schema version 999 is newer than this kintsugi supports") != NULL);
    CHECK(strstr(err.msg, tdb_uri) != NULL);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void put_incident_upserts_by_id(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    put_incident(s, 7, "investigating", "{\"v\":1}");
    put_incident(s, 7, "contained", "{\"v\":2}");
    struct ks_buf b = {0};
    list_into(s, NULL, &b);
    CHECK_STR(b.p, "7:contained:P3:2026-11-22T10:00:04.250Z ");
    struct ks_err err = {0};
    ks_buf_reset(&b);
    CHECK_INT(s->ops->get_incident(s, 7, 0, &b, &err), KS_OK);
    CHECK_STR(b.p, "{\"v\":2}");
    ks_buf_reset(&b);
    CHECK_INT(s->ops->get_incident(s, 7, 1, &b, &err), KS_OK);
    CHECK_STR(b.p, "{\"id\":7,\"timeline\":[]}");
    ks_buf_fini(&b);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void list_incidents_filters_by_status_in_id_order(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    put_incident(s, 5, "resolved", "{}");
    put_incident(s, 2, "investigating", "{}");
    put_incident(s, 9, "contained", "{}");
    put_incident(s, 4, "resolving", "{}");
    struct ks_buf b = {0};
    const char *at = "2026-11-22T10:00:04.250Z";
    char want[512];

    list_into(s, NULL, &b);
    snprintf(want, sizeof(want),
             "2:investigating:P3:%s 4:resolving:P3:%s 5:resolved:P3:%s "
             "9:contained:P3:%s ",
             at, at, at, at);
    CHECK_STR(b.p, want);

    list_into(s, "open", &b);
    snprintf(want, sizeof(want), "2:investigating:P3:%s 4:resolving:P3:%s 9:contained:P3:%s ", at,
             at, at);
    CHECK_STR(b.p, want);

    list_into(s, "resolved", &b);
    snprintf(want, sizeof(want), "5:resolved:P3:%s ", at);
    CHECK_STR(b.p, want);

    list_into(s, "acknowledged", &b);
    CHECK_STR(b.p, "");

    ks_buf_fini(&b);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void list_incidents_stops_when_the_callback_asks(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    put_incident(s, 1, "investigating", "{}");
    put_incident(s, 2, "investigating", "{}");
    struct ks_buf b = {0};
    struct ks_err err = {0};
    ks_buf_puts(&b, "");
    CHECK_INT(s->ops->list_incidents(s, NULL, stop_after_first, &b, &err), KS_OK);
    CHECK_STR(b.p, "1 ");
    /* The statement was reset: listing again starts over. */
    ks_buf_reset(&b);
    CHECK_INT(s->ops->list_incidents(s, NULL, stop_after_first, &b, &err), KS_OK);
    CHECK_STR(b.p, "1 ");
    ks_buf_fini(&b);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void missing_detected_at_reads_back_as_none(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    struct ks_incident_row row = {.id = 1,
                                  .type = "t",
                                  .severity = "P2",
                                  .status = "contained",
                                  .fingerprint = "f",
                                  .detected_at = KS_TIME_NONE,
                                  .summary_json = "{}",
                                  .detail_json = "{}"};
    struct ks_err err = {0};
    CHECK_INT(s->ops->put_incident(s, &row, &err), KS_OK);
    struct ks_buf b = {0};
    list_into(s, NULL, &b);
    CHECK_STR(b.p, "1:contained:P2:- ");
    ks_buf_fini(&b);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

/* ---- the columns of migration 9 ------------------------------------------------ */

/* A summary as the engine renders one (the fields the columns take). */
static void summary_of(struct ks_buf *b, int64_t id, const char *title, const char *channels,
                       const char *acked, int64_t orders, double revenue)
{
    ks_buf_reset(b);
    ks_buf_printf(b,
                  "{\"id\":%lld,\"type\":\"data_corruption\",\"severity\":\"P1\","
                  "\"status\":\"contained\",\"title\":\"%s\",\"fingerprint\":\"f\","
                  "\"scope\":{\"channels\":%s,\"skus\":412,\"sku_list\":[\"a\"],"
                  "\"locations\":[\"berlin\"],\"systems\":[\"erp\",\"wms\"],"
                  "\"purchase_orders\":[],\"sources\":[]},"
                  "\"started_at\":\"2026-11-22T10:00:00.000Z\","
                  "\"detected_at\":\"2026-11-22T10:00:04.000Z\",\"acknowledged_at\":%s,"
                  "\"contained_at\":\"2026-11-22T10:00:04.000Z\",\"resolved_at\":null,"
                  "\"owner\":\"alice\",\"signals\":[],"
                  "\"impact\":{\"orders\":%lld,\"customers\":7,\"revenue\":%.17g,\"units\":31},"
                  "\"repeat_of\":3,\"review_due\":null}",
                  (long long)id, title, channels, acked, (long long)orders, revenue);
}

/* Every column of one listed incident, as text. */
static int collect_columns(void *ctx, const struct ks_incident_row *r)
{
    char t[6][32];
    const ks_time v[6] = {r->started_at,   r->detected_at, r->acknowledged_at,
                          r->contained_at, r->resolved_at, r->review_due};
    for (int i = 0; i < 6; i++) {
        ks_time_fmt(v[i], t[i]);
    }
    ks_buf_printf(ctx, "%lld|%s|%s|%s %s %s %s %s %s|%lld|%lld %lld %lld %.17g\n", (long long)r->id,
                  r->title ? r->title : "(null)", r->owner ? r->owner : "(null)", t[0], t[1], t[2],
                  t[3], t[4], t[5], (long long)r->repeat_of, (long long)r->orders,
                  (long long)r->customers, (long long)r->units, r->revenue);
    return 0;
}

/* The rows of incident_scope, "incident:kind:pos:name ..." in key order. */
static void scope_rows(struct ks_buf *out)
{
    ks_buf_reset(out);
    ks_buf_puts(out, "");
    long long n = tdb_int("SELECT count(*) FROM incident_scope");
    for (long long i = 0; i < n; i++) {
        /* one row at a time through tdb_int: its id, kind, pos and the name's length
         * identify it, the name is checked by the count of exact matches below */
        char q[256];
        snprintf(q, sizeof(q),
                 "SELECT incident * 1000 + pos * 10 + CASE kind WHEN 'channel' THEN 1 "
                 "WHEN 'location' THEN 2 WHEN 'system' THEN 3 ELSE 4 END FROM incident_scope "
                 "ORDER BY incident, kind, pos LIMIT 1 OFFSET %lld",
                 i);
        ks_buf_printf(out, "%lld ", tdb_int(q));
    }
}

static void incident_columns_are_derived_from_the_json_and_read_back(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    struct ks_buf sum = {0}, b = {0};
    struct ks_err err = {0};
    summary_of(&sum, 1, "Zero-inventory spike on amazon", "[\"amazon\",\"ebay\"]", "null", 12,
               1234.5);
    struct ks_incident_row row = {.id = 1,
                                  .type = "data_corruption",
                                  .severity = "P1",
                                  .status = "contained",
                                  .fingerprint = "f",
                                  .detected_at = tdb_time("2026-11-22T10:00:04.000Z"),
                                  .summary_json = sum.p,
                                  .detail_json = "{\"timeline\":[]}"};
    CHECK_INT(s->ops->put_incident(s, &row, &err), KS_OK);
    ks_buf_puts(&b, "");
    CHECK_INT(s->ops->list_incidents(s, NULL, collect_columns, &b, &err), KS_OK);
    CHECK_STR(b.p, "1|Zero-inventory spike on amazon|alice|2026-11-22T10:00:00.000Z "
                   "2026-11-22T10:00:04.000Z - 2026-11-22T10:00:04.000Z - -|3|12 7 31 1234.5\n");
    /* the columns themselves, as a report's SQL would read them */
    CHECK_INT(tdb_int("SELECT count(*) FROM incidents WHERE id = 1 AND "
                      "started_at = '2026-11-22T10:00:00.000Z' AND "
                      "contained_at = '2026-11-22T10:00:04.000Z' AND acknowledged_at IS NULL AND "
                      "resolved_at IS NULL AND review_due IS NULL AND owner = 'alice' AND "
                      "repeat_of = 3 AND orders = 12 AND customers = 7 AND units = 31 AND "
                      "revenue = 1234.5"),
              1);
    /* the scope: channels 1, 2; location 1; systems 1, 2 (kind order: channel,
     * location, system) */
    scope_rows(&b);
    CHECK_STR(b.p, "1011 1021 1012 1013 1023 ");
    CHECK_INT(tdb_int("SELECT count(*) FROM incident_scope WHERE incident = 1 AND "
                      "((kind = 'channel' AND pos = 1 AND name = 'amazon') OR "
                      "(kind = 'channel' AND pos = 2 AND name = 'ebay') OR "
                      "(kind = 'location' AND name = 'berlin') OR "
                      "(kind = 'system' AND pos = 1 AND name = 'erp') OR "
                      "(kind = 'system' AND pos = 2 AND name = 'wms'))"),
              5);

    /* Written again: acknowledged, the scope down to one channel, more impact. */
    summary_of(&sum, 1, "Zero-inventory spike on amazon", "[\"ebay\"]",
               "\"2026-11-22T10:05:00.250Z\"", 40, 99.99);
    CHECK_INT(s->ops->put_incident(s, &row, &err), KS_OK);
    ks_buf_reset(&b);
    CHECK_INT(s->ops->list_incidents(s, NULL, collect_columns, &b, &err), KS_OK);
    CHECK_STR(b.p, "1|Zero-inventory spike on amazon|alice|2026-11-22T10:00:00.000Z "
                   "2026-11-22T10:00:04.000Z 2026-11-22T10:05:00.250Z 2026-11-22T10:00:04.000Z - "
                   "-|3|40 7 31 99.989999999999995\n");
    CHECK_INT(tdb_int("SELECT count(*) FROM incident_scope WHERE kind = 'channel'"), 1);
    CHECK_INT(tdb_int("SELECT count(*) FROM incident_scope WHERE name = 'ebay' AND pos = 1"), 1);

    /* No summary: from the detail. JSON without the fields (or not JSON at
     * all): NULL columns, read back as none and 0. */
    struct ks_incident_row r2 = {.id = 2,
                                 .type = "t",
                                 .severity = "P3",
                                 .status = "resolved",
                                 .detected_at = KS_TIME_NONE,
                                 .detail_json = "{\"title\":\"from the detail\","
                                                "\"resolved_at\":\"2026-11-23T00:00:00.000Z\"}"};
    struct ks_incident_row r3 = {.id = 3,
                                 .type = "t",
                                 .severity = "P3",
                                 .status = "resolved",
                                 .detected_at = KS_TIME_NONE,
                                 .summary_json = "{\"impact\":{\"orders\":\"many\"}}"};
    struct ks_incident_row r4 = {.id = 4,
                                 .type = "t",
                                 .severity = "P3",
                                 .status = "resolved",
                                 .detected_at = KS_TIME_NONE,
                                 .summary_json = "not json"};
    CHECK_INT(s->ops->put_incident(s, &r2, &err), KS_OK);
    CHECK_INT(s->ops->put_incident(s, &r3, &err), KS_OK);
    CHECK_INT(s->ops->put_incident(s, &r4, &err), KS_OK);
    ks_buf_reset(&b);
    struct ks_incident_filter resolved = {.status = "resolved"};
    CHECK_INT(s->ops->list_incidents(s, &resolved, collect_columns, &b, &err), KS_OK);
    CHECK_STR(b.p, "2|from the detail|(null)|- - - - 2026-11-23T00:00:00.000Z -|0|0 0 0 0\n"
                   "3|(null)|(null)|- - - - - -|0|0 0 0 0\n"
                   "4|(null)|(null)|- - - - - -|0|0 0 0 0\n");
    CHECK_INT(tdb_int("SELECT count(*) FROM incidents WHERE id IN (3, 4) AND title IS NULL AND "
                      "orders IS NULL AND revenue IS NULL AND started_at IS NULL"),
              2);
    ks_buf_fini(&sum);
    ks_buf_fini(&b);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

/* A database as kintsugi left it at schema version 8, with incidents:
 * migration 9 fills their columns and scope from their JSON. */
static void migration_9_fills_the_columns_of_a_version_8_database(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_buf sql = {0}, sum = {0}, b = {0};
    ks_buf_puts(&sql, "CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, "
                      "applied_at TEXT);");
    for (int v = 0; v < 8; v++) {
        ks_buf_puts(&sql, ks_sql_migrations[v]);
        ks_buf_printf(&sql,
                      ";INSERT INTO schema_migrations VALUES(%d, "
                      "'2026-11-01T00:00:00.000Z');",
                      v + 1);
    }
    /* 70 incidents (more than one page of the backfill), one without JSON */
    for (int id = 1; id <= 70; id++) {
        char title[32];
        snprintf(title, sizeof(title), "incident %d", id);
        summary_of(&sum, id, title, id % 2 ? "[\"amazon\"]" : "[\"ebay\",\"amazon\"]",
                   id % 3 ? "null" : "\"2026-11-22T10:01:00.000Z\"", id, id * 10.25);
        ks_buf_printf(&sql,
                      "INSERT INTO incidents(id, type, severity, status, fingerprint, "
                      "detected_at, summary_json, detail_json) VALUES(%d, 'data_corruption', "
                      "'P1', 'contained', 'f', '2026-11-22T10:00:04.000Z', '%s', '{}');",
                      id, sum.p);
    }
    ks_buf_puts(&sql, "INSERT INTO incidents(id, type, severity, status) "
                      "VALUES(71, 't', 'P3', 'resolved');");
    struct ks_buf pg = {0};
    if (tdb_pg) {
        ks_sql_to_pg(sql.p, 1, &pg);
    }
    CHECK_INT(tdb_exec(tdb_pg ? pg.p : sql.p), 0);
    CHECK_INT(tdb_int("SELECT max(version) FROM schema_migrations"), 8);

    struct ks_store *s = tdb_open(tdb_uri);
    CHECK_INT(tdb_int("SELECT max(version) FROM schema_migrations"), ks_sql_schema_version);
    CHECK(ks_sql_schema_version >= 9);
    struct ks_err err = {0};
    ks_buf_puts(&b, "");
    struct ks_incident_filter one = {.since = tdb_time("2026-11-22T10:00:04.000Z")};
    CHECK_INT(s->ops->list_incidents(s, &one, collect_columns, &b, &err), KS_OK);
    /* the first three and the last two, as the JSON had them */
    const char *head = "1|incident 1|alice|2026-11-22T10:00:00.000Z 2026-11-22T10:00:04.000Z - "
                       "2026-11-22T10:00:04.000Z - -|3|1 7 31 10.25\n"
                       "2|incident 2|alice|2026-11-22T10:00:00.000Z 2026-11-22T10:00:04.000Z - "
                       "2026-11-22T10:00:04.000Z - -|3|2 7 31 20.5\n"
                       "3|incident 3|alice|2026-11-22T10:00:00.000Z 2026-11-22T10:00:04.000Z "
                       "2026-11-22T10:01:00.000Z 2026-11-22T10:00:04.000Z - -|3|3 7 31 30.75\n";
    CHECK(strncmp(b.p, head, strlen(head)) == 0);
    const char *tail = "69|incident 69|alice|2026-11-22T10:00:00.000Z 2026-11-22T10:00:04.000Z "
                       "2026-11-22T10:01:00.000Z 2026-11-22T10:00:04.000Z - -|3|69 7 31 707.25\n"
                       "70|incident 70|alice|2026-11-22T10:00:00.000Z 2026-11-22T10:00:04.000Z - "
                       "2026-11-22T10:00:04.000Z - -|3|70 7 31 717.5\n";
    CHECK(b.len > strlen(tail) && strcmp(b.p + b.len - strlen(tail), tail) == 0);
    CHECK_INT(tdb_int("SELECT count(*) FROM incidents WHERE title IS NOT NULL"), 70);
    CHECK_INT(tdb_int("SELECT count(*) FROM incidents WHERE acknowledged_at IS NOT NULL"), 23);
    CHECK_INT(tdb_int("SELECT count(*) FROM incidents WHERE id = 71 AND title IS NULL AND "
                      "orders IS NULL"),
              1);
    /* the scope: amazon in all 70, ebay (first) in the 35 even ones */
    CHECK_INT(tdb_int("SELECT count(*) FROM incident_scope WHERE kind = 'channel' AND "
                      "name = 'amazon'"),
              70);
    CHECK_INT(tdb_int("SELECT count(*) FROM incident_scope WHERE kind = 'channel' AND "
                      "name = 'ebay' AND pos = 1"),
              35);
    CHECK_INT(tdb_int("SELECT count(*) FROM incident_scope"), 70 + 35 + 70 + 140);
    /* filters work on the filled columns */
    struct ks_incident_filter ebay = {.channel = "ebay"};
    ks_buf_reset(&b);
    CHECK_INT(s->ops->list_incidents(s, &ebay, stop_after_first, &b, &err), KS_OK);
    CHECK_STR(b.p, "2 ");
    ks_store_close(s);
    /* opened again: nothing applied twice */
    s = tdb_open(tdb_uri);
    CHECK_INT(tdb_int("SELECT count(*) FROM incident_scope"), 70 + 35 + 70 + 140);
    CHECK_INT(tdb_int("SELECT count(*) FROM schema_migrations"), ks_sql_schema_version);
    ks_store_close(s);
    ks_buf_fini(&sql);
    ks_buf_fini(&pg);
    ks_buf_fini(&sum);
    ks_buf_fini(&b);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static int is_db_id(const char *id)
{
    if (strlen(id) != 32) {
        return 0;
    }
    for (const char *p = id; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static int take_remedy(void *ctx, const struct ks_remedy_row *r)
{
    struct ks_buf *b = ctx;
    ks_buf_printf(b, "%lld %s %s %s %s %lld|", (long long)r->id, r->status,
                  r->declined_by ? r->declined_by : "-", r->declined_why ? r->declined_why : "-",
                  r->approved_by ? r->approved_by : "-",
                  r->declined_at == KS_TIME_NONE ? -1LL : (long long)r->declined_at);
    return 0;
}

/* Migration 12 (declined remedies) keeps the remedies of a database written
 * before it: not declined; a decline is then written and read back whole. */
static void migration_12_keeps_the_remedies(void)
{
    tdb_setup();
    struct ks_buf sql = {0}, pg = {0}, got = {0};
    ks_buf_puts(&sql, "CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, "
                      "applied_at TEXT);");
    for (int v = 0; v < 10; v++) {
        ks_buf_puts(&sql, ks_sql_migrations[v]);
        ks_buf_printf(&sql, ";INSERT INTO schema_migrations VALUES(%d, '2026-11-01T00:00:00.000Z');",
                      v + 1);
    }
    ks_buf_puts(&sql, "INSERT INTO remedies(id, incident, order_id, kind, amount, currency, status, "
                      "by_person, requested_at, affected, review_missed) VALUES(1, 1, 'o1', "
                      "'refund', 120, 'USD', 'pending', 'carol', '2026-11-22T10:20:00.000Z', 1, "
                      "0);");
    if (tdb_pg) {
        ks_sql_to_pg(sql.p, 1, &pg);
    }
    CHECK_INT(tdb_exec(tdb_pg ? pg.p : sql.p), 0);
    struct ks_store *s = tdb_open(tdb_uri);
    struct ks_err err = {0};
    CHECK_INT(tdb_int("SELECT max(version) FROM schema_migrations"), ks_sql_schema_version);
    CHECK(ks_sql_schema_version >= 12);
    CHECK_INT(s->ops->list_remedies(s, 0, 0, take_remedy, &got, &err), KS_OK);
    CHECK_STR(got.p, "1 pending - - - -1|");
    struct ks_remedy_row r = {.id = 1, .incident = 1, .order_id = "o1", .kind = "refund",
                              .has_amount = 1, .amount = 120, .currency = "USD",
                              .status = "declined", .by = "carol", .requested_at = 1,
                              .granted_at = KS_TIME_NONE, .review_due = KS_TIME_NONE,
                              .reviewed_at = KS_TIME_NONE, .declined_by = "bob",
                              .declined_at = 1795000000000, .declined_why = "shipped already"};
    CHECK_INT(s->ops->put_remedy(s, &r, &err), KS_OK);
    ks_buf_reset(&got);
    CHECK_INT(s->ops->list_remedies(s, 0, 0, take_remedy, &got, &err), KS_OK);
    CHECK_STR(got.p, "1 declined bob shipped already - 1795000000000|");
    ks_store_close(s);
    ks_buf_fini(&sql);
    ks_buf_fini(&pg);
    ks_buf_fini(&got);
    tdb_teardown();
}

/* Migration 11 gives a database of version 10 its id; the hook calls it
 * holds keep the key they were sent with, the later ones carry the id.
 * Every connection reads the one id; another database has another. */
static void migration_11_gives_the_database_an_id(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_buf sql = {0}, pg = {0}, k = {0};
    ks_buf_puts(&sql, "CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, "
                      "applied_at TEXT);");
    for (int v = 0; v < 10; v++) {
        ks_buf_puts(&sql, ks_sql_migrations[v]);
        ks_buf_printf(&sql,
                      ";INSERT INTO schema_migrations VALUES(%d, "
                      "'2026-11-01T00:00:00.000Z');",
                      v + 1);
    }
    for (int id = 1; id <= 3; id++) {
        ks_buf_printf(&sql,
                      "INSERT INTO hooks(id, key, incident, action, body, status, attempts) "
                      "VALUES(%d, 'kintsugi-1-hold_orders-%d', 1, 'hold_orders', '{}', "
                      "'pending', 1);",
                      id, id);
    }
    if (tdb_pg) {
        ks_sql_to_pg(sql.p, 1, &pg);
    }
    CHECK_INT(tdb_exec(tdb_pg ? pg.p : sql.p), 0);
    CHECK_INT(tdb_int("SELECT count(*) FROM blobs"), 0);

    struct ks_store *s = tdb_open(tdb_uri), *s2 = tdb_open(tdb_uri);
    CHECK(ks_sql_schema_version >= 11);
    CHECK(is_db_id(s->db_id));
    CHECK_STR(s2->db_id, s->db_id);
    CHECK_INT(s->hook_keys_from, 4);
    CHECK_INT(s2->hook_keys_from, 4);
    CHECK_INT(tdb_int("SELECT count(*) FROM blobs WHERE key IN ('db_id', 'hook_keys_from')"), 2);
    /* a call of before keeps its key, a later one carries the id */
    ks_store_hook_key(s, 3, "kintsugi-1-hold_orders-3", &k);
    CHECK_STR(k.p, "kintsugi-1-hold_orders-3");
    ks_buf_reset(&k);
    ks_store_hook_key(s, 4, "kintsugi-2-hold_orders-4", &k);
    char want[96];
    snprintf(want, sizeof(want), "%s-kintsugi-2-hold_orders-4", s->db_id);
    CHECK_STR(k.p, want);
    char id[33];
    snprintf(id, sizeof(id), "%s", s->db_id);
    ks_store_close(s2);
    ks_store_close(s);
    /* opened again: the same id, nothing applied twice */
    s = tdb_open(tdb_uri);
    CHECK_STR(s->db_id, id);
    CHECK_INT(s->hook_keys_from, 4);
    CHECK_INT(tdb_int("SELECT count(*) FROM schema_migrations"), ks_sql_schema_version);
    ks_store_close(s);
    tdb_teardown();

    /* a new database: its own id, every hook call with it */
    tdb_setup();
    s = tdb_open(tdb_uri);
    CHECK(is_db_id(s->db_id));
    CHECK(strcmp(s->db_id, id) != 0);
    CHECK_INT(s->hook_keys_from, 1);
    ks_store_close(s);
    /* an id gone is an error, not a database without one */
    CHECK_INT(tdb_exec("DELETE FROM blobs WHERE key = 'db_id'"), 0);
    struct ks_err err = {0};
    s = (struct ks_store *)1;
    CHECK_INT(ks_store_open(&s, tdb_uri, &err), KS_ESTATE);
    CHECK(s == NULL);
    CHECK(strstr(err.msg, "the database's id") != NULL);
    tdb_teardown();
    ks_buf_fini(&sql);
    ks_buf_fini(&pg);
    ks_buf_fini(&k);
    CHECK_INT(ks_alloc_live(), before);
}

/* One incident with the columns the filters read. */
static void put_filtered(struct ks_store *s, int64_t id, const char *type, const char *sev,
                         const char *status, const char *detected, const char *channels)
{
    char sum[256];
    snprintf(sum, sizeof(sum), "{\"id\":%lld,\"scope\":{\"channels\":%s}}", (long long)id,
             channels);
    struct ks_incident_row row = {.id = id,
                                  .type = type,
                                  .severity = sev,
                                  .status = status,
                                  .fingerprint = "f",
                                  .detected_at = tdb_time(detected),
                                  .summary_json = sum,
                                  .detail_json = sum};
    struct ks_err err = {0};
    CHECK_INT(s->ops->put_incident(s, &row, &err), KS_OK);
}

static int collect_ids(void *ctx, const struct ks_incident_row *row)
{
    ks_buf_printf(ctx, "%lld ", (long long)row->id);
    return 0;
}

static const char *ids_of(struct ks_store *s, const struct ks_incident_filter *f, struct ks_buf *b)
{
    struct ks_err err = {0};
    ks_buf_reset(b);
    ks_buf_puts(b, "");
    CHECK_INT(s->ops->list_incidents(s, f, collect_ids, b, &err), KS_OK);
    return b->p;
}

static void list_incidents_filters_by_severity_type_channel_and_period(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    put_filtered(s, 1, "data_corruption", "P1", "resolved", "2026-11-01T00:00:00.000Z",
                 "[\"amazon\"]");
    put_filtered(s, 2, "sync_failure", "P2", "investigating", "2026-11-02T00:00:00.000Z",
                 "[\"ebay\",\"amazon\"]");
    put_filtered(s, 3, "data_corruption", "P1", "contained", "2026-11-03T00:00:00.000Z",
                 "[\"ebay\"]");
    put_filtered(s, 4, "system_outage", "P3", "investigating", "2026-11-04T00:00:00.000Z", "[]");
    put_filtered(s, 5, "data_corruption", "P2", "resolving", "2026-11-05T00:00:00.000Z",
                 "[\"Amazon\"]");
    struct ks_buf b = {0};
    CHECK_STR(ids_of(s, NULL, &b), "1 2 3 4 5 ");
    CHECK_STR(ids_of(s, &(struct ks_incident_filter){.severity = "P1"}, &b), "1 3 ");
    CHECK_STR(ids_of(s, &(struct ks_incident_filter){.type = "data_corruption"}, &b), "1 3 5 ");
    /* a channel anywhere in the scope, exactly (Amazon is another channel) */
    CHECK_STR(ids_of(s, &(struct ks_incident_filter){.channel = "amazon"}, &b), "1 2 ");
    CHECK_STR(ids_of(s, &(struct ks_incident_filter){.channel = "ebay"}, &b), "2 3 ");
    CHECK_STR(ids_of(s, &(struct ks_incident_filter){.channel = "otto"}, &b), "");
    /* [since, until) */
    CHECK_STR(ids_of(s,
                     &(struct ks_incident_filter){.since = tdb_time("2026-11-02T00:00:00.000Z"),
                                                  .until = tdb_time("2026-11-04T00:00:00.000Z")},
                     &b),
              "2 3 ");
    CHECK_STR(ids_of(s,
                     &(struct ks_incident_filter){.until = tdb_time("2026-11-02T00:00:00.001Z")},
                     &b),
              "1 2 ");
    CHECK_STR(ids_of(s,
                     &(struct ks_incident_filter){.since = tdb_time("2026-11-04T00:00:00.000Z"),
                                                  .until = KS_TIME_NONE},
                     &b),
              "4 5 ");
    /* combined, and with the status filters */
    CHECK_STR(ids_of(s, &(struct ks_incident_filter){.status = "open", .severity = "P1"}, &b),
              "3 ");
    CHECK_STR(ids_of(s, &(struct ks_incident_filter){.status = "open", .channel = "amazon"}, &b),
              "2 ");
    CHECK_STR(
        ids_of(s, &(struct ks_incident_filter){.status = "investigating", .type = "system_outage"},
               &b),
        "4 ");
    CHECK_STR(ids_of(s,
                     &(struct ks_incident_filter){.type = "data_corruption",
                                                  .severity = "P2",
                                                  .channel = "Amazon",
                                                  .since = tdb_time("2026-11-05T00:00:00.000Z")},
                     &b),
              "5 ");
    CHECK_STR(ids_of(s, &(struct ks_incident_filter){.status = "resolved", .severity = "P2"}, &b),
              "");
    /* the indexes the listing's filters use */
    if (tdb_pg) {
        CHECK_INT(tdb_int("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() "
                          "AND indexname IN ('incidents_status', 'incidents_severity', "
                          "'incidents_type', 'incidents_detected', 'incident_scope_name')"),
                  5);
    } else {
        CHECK_INT(tdb_int("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                          "('incidents_status', 'incidents_severity', 'incidents_type', "
                          "'incidents_detected', 'incident_scope_name')"),
                  5);
    }
    /* undoing a run's tail drops the scope of the incidents it undoes */
    struct ks_err err = {0};
    struct ks_store_trim t = {0, 0, 0, 2, -1, -1};
    CHECK_INT(s->ops->trim(s, &t, &err), KS_OK);
    CHECK_STR(ids_of(s, &(struct ks_incident_filter){.channel = "ebay"}, &b), "2 ");
    CHECK_INT(tdb_int("SELECT count(*) FROM incident_scope WHERE incident > 2"), 0);
    ks_buf_fini(&b);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void get_unknown_incident_is_not_found(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    struct ks_buf b = {0};
    struct ks_err err = {0};
    CHECK_INT(s->ops->get_incident(s, 42, 0, &b, &err), KS_ENOTFOUND);
    CHECK_STR(err.msg, "no incident 42");
    CHECK_INT(err.rc, KS_ENOTFOUND);
    CHECK_INT(b.len, 0);
    CHECK_INT(s->ops->get_incident(s, 42, 1, &b, &err), KS_ENOTFOUND);
    ks_buf_fini(&b);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void dead_letters_keep_raw_bytes_exactly(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    /* A NUL in the middle, invalid UTF-8 (lone continuation, overlong, 0xFF). */
    static const char raw1[] = "{\"type\":\"inv\0ntory\",\"sku\":\"\x80\xC0\xAF\xFF\"}\r";
    size_t raw1_len = sizeof(raw1) - 1;
    static const char raw2[] = "not json at all";
    struct ks_deadletter a = {.source = "events.ndjson",
                              .line = 17,
                              .reason = "inventory: field \"qty\" must be an integer >= 0",
                              .raw = raw1,
                              .raw_len = raw1_len,
                              .status = "pending",
                              .received_at = tdb_time("2026-11-22T10:00:00.123Z")};
    struct ks_deadletter b = {.source = "-",
                              .line = 3,
                              .reason = "not valid JSON",
                              .raw = raw2,
                              .raw_len = sizeof(raw2) - 1,
                              .received_at = tdb_time("2026-11-22T10:00:01.000Z")};
    struct ks_deadletter empty = {.source = "http",
                                  .line = 1,
                                  .reason = "empty line",
                                  .raw = "",
                                  .raw_len = 0,
                                  .status = "replayed",
                                  .received_at = KS_TIME_NONE};
    struct ks_err err = {0};
    CHECK_INT(s->ops->add_deadletter(s, &a, &err), KS_OK);
    CHECK_INT(s->ops->add_deadletter(s, &b, &err), KS_OK);
    CHECK_INT(s->ops->add_deadletter(s, &empty, &err), KS_OK);
    CHECK(a.id > 0);
    CHECK(b.id > a.id);
    CHECK(empty.id > b.id);
    ks_store_close(s);
    /* Stored as BLOB (BYTEA), not text: no encoding ever touches the bytes. */
    if (tdb_pg) {
        CHECK_INT(tdb_int("SELECT count(*) FROM information_schema.columns WHERE table_schema = "
                          "current_schema() AND table_name = 'deadletters' AND column_name = "
                          "'raw' AND data_type = 'bytea'"),
                  1);
    } else {
        CHECK_INT(tdb_int("SELECT count(*) FROM deadletters WHERE typeof(raw) <> 'blob'"), 0);
    }

    s = tdb_open(tdb_uri);
    struct dl_list l = {0};
    CHECK_INT(s->ops->list_deadletters(s, NULL, collect_dl, &l, &err), KS_OK);
    CHECK_INT(l.n, 3);
    if (l.n == 3) {
        CHECK_INT(l.items[0].id, a.id);
        CHECK_STR(l.items[0].source, "events.ndjson");
        CHECK_INT(l.items[0].line, 17);
        CHECK_STR(l.items[0].reason, "inventory: field \"qty\" must be an integer >= 0");
        CHECK_STR(l.items[0].status, "pending");
        CHECK_INT(l.items[0].raw_len, raw1_len);
        CHECK(memcmp(l.items[0].raw, raw1, raw1_len) == 0);
        CHECK_INT(l.items[0].received_at, tdb_time("2026-11-22T10:00:00.123Z"));
        /* No status given is stored as pending. */
        CHECK_STR(l.items[1].status, "pending");
        CHECK_INT(l.items[1].raw_len, sizeof(raw2) - 1);
        CHECK(memcmp(l.items[1].raw, raw2, sizeof(raw2) - 1) == 0);
        CHECK_INT(l.items[2].raw_len, 0);
        CHECK_INT(l.items[2].received_at, KS_TIME_NONE);
    }
    dl_list_free(&l);
    CHECK_INT(s->ops->list_deadletters(s, "replayed", collect_dl, &l, &err), KS_OK);
    CHECK_INT(l.n, 1);
    CHECK_INT(l.items[0].id, empty.id);
    dl_list_free(&l);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void update_deadletter_changes_status_reason_and_raw(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    struct ks_deadletter a = {.source = "f",
                              .line = 1,
                              .reason = "bad qty",
                              .raw = "{\"qty\":-1}",
                              .raw_len = 10,
                              .status = "pending",
                              .received_at = tdb_time("2026-11-22T10:00:00Z")};
    struct ks_err err = {0};
    CHECK_INT(s->ops->add_deadletter(s, &a, &err), KS_OK);

    /* Status and reason only: the raw bytes stay. */
    CHECK_INT(s->ops->update_deadletter(s, a.id, "pending", "still bad", NULL, 0, &err), KS_OK);
    struct dl_list l = {0};
    CHECK_INT(s->ops->list_deadletters(s, NULL, collect_dl, &l, &err), KS_OK);
    CHECK_INT(l.n, 1);
    CHECK_STR(l.items[0].reason, "still bad");
    CHECK_INT(l.items[0].raw_len, 10);
    CHECK(memcmp(l.items[0].raw, "{\"qty\":-1}", 10) == 0);
    dl_list_free(&l);

    /* Fixed bytes, with a NUL, replace the raw line. */
    static const char fixed[] = "{\"qty\":1}\0x";
    CHECK_INT(s->ops->update_deadletter(s, a.id, "replayed", "fixed by hand", fixed,
                                        sizeof(fixed) - 1, &err),
              KS_OK);
    CHECK_INT(s->ops->list_deadletters(s, "replayed", collect_dl, &l, &err), KS_OK);
    CHECK_INT(l.n, 1);
    CHECK_STR(l.items[0].status, "replayed");
    CHECK_STR(l.items[0].reason, "fixed by hand");
    CHECK_INT(l.items[0].raw_len, sizeof(fixed) - 1);
    CHECK(memcmp(l.items[0].raw, fixed, sizeof(fixed) - 1) == 0);
    dl_list_free(&l);
    CHECK_INT(s->ops->list_deadletters(s, "pending", collect_dl, &l, &err), KS_OK);
    CHECK_INT(l.n, 0);

    /* NULL keeps the stored status and reason. */
    CHECK_INT(s->ops->update_deadletter(s, a.id, NULL, NULL, NULL, 0, &err), KS_OK);
    CHECK_INT(s->ops->list_deadletters(s, "replayed", collect_dl, &l, &err), KS_OK);
    CHECK_INT(l.n, 1);
    CHECK_STR(l.items[0].reason, "fixed by hand");
    dl_list_free(&l);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void update_unknown_deadletter_is_not_found(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    struct ks_err err = {0};
    CHECK_INT(s->ops->update_deadletter(s, 77, "replayed", "x", NULL, 0, &err), KS_ENOTFOUND);
    CHECK_STR(err.msg, "no dead letter 77");
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void blobs_round_trip_and_are_replaced(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    struct ks_buf b = {0};
    struct ks_err err = {0};
    int found = -1;
    CHECK_INT(s->ops->get_blob(s, "checkpoint", &b, &found, &err), KS_OK);
    CHECK_INT(found, 0);
    CHECK_INT(b.len, 0);
    CHECK_INT(s->ops->put_blob(s, "checkpoint", "a\0b", 3, &err), KS_OK);
    CHECK_INT(s->ops->put_blob(s, "checkpoint", "xy\0\xff", 4, &err), KS_OK);
    CHECK_INT(s->ops->put_blob(s, "empty", NULL, 0, &err), KS_OK);
    CHECK_INT(s->ops->get_blob(s, "checkpoint", &b, &found, &err), KS_OK);
    CHECK_INT(found, 1);
    CHECK_INT(b.len, 4);
    CHECK(b.len == 4 && memcmp(b.p, "xy\0\xff", 4) == 0);
    ks_buf_reset(&b);
    found = -1;
    CHECK_INT(s->ops->get_blob(s, "empty", &b, &found, &err), KS_OK);
    CHECK_INT(found, 1);
    CHECK_INT(b.len, 0);
    ks_buf_fini(&b);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void a_20_mb_blob_round_trips(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    size_t n = 20u * 1024 * 1024 + 7;
    unsigned char *big = ks_malloc(n);
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        big[i] = (unsigned char)x;
    }
    struct ks_store *s = tdb_open(tdb_uri);
    struct ks_err err = {0};
    CHECK_INT(ks_store_begin(s, &err), KS_OK);
    CHECK_INT(s->ops->put_blob(s, "checkpoint", big, n, &err), KS_OK);
    CHECK_INT(ks_store_commit(s, &err), KS_OK);
    ks_store_close(s);

    s = tdb_open(tdb_uri);
    struct ks_buf b = {0};
    int found = 0;
    CHECK_INT(s->ops->get_blob(s, "checkpoint", &b, &found, &err), KS_OK);
    CHECK_INT(found, 1);
    CHECK_INT(b.len, n);
    CHECK(b.len == n && memcmp(b.p, big, n) == 0);
    ks_buf_fini(&b);
    ks_free(big);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void rollback_discards_everything_since_begin(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    struct ks_err err = {0};
    put_incident(s, 1, "investigating", "{\"kept\":true}");
    CHECK_INT(ks_store_begin(s, &err), KS_OK);
    put_incident(s, 1, "resolved", "{\"kept\":false}");
    put_incident(s, 2, "investigating", "{}");
    struct ks_deadletter dl = {.source = "f", .line = 1, .reason = "r", .raw = "x", .raw_len = 1};
    CHECK_INT(s->ops->add_deadletter(s, &dl, &err), KS_OK);
    CHECK_INT(s->ops->put_blob(s, "checkpoint", "new", 3, &err), KS_OK);
    CHECK_INT(ks_store_rollback(s, &err), KS_OK);

    struct ks_buf b = {0};
    list_into(s, NULL, &b);
    CHECK_STR(b.p, "1:investigating:P3:2026-11-22T10:00:04.250Z ");
    struct dl_list l = {0};
    CHECK_INT(s->ops->list_deadletters(s, NULL, collect_dl, &l, &err), KS_OK);
    CHECK_INT(l.n, 0);
    int found = -1;
    ks_buf_reset(&b);
    CHECK_INT(s->ops->get_blob(s, "checkpoint", &b, &found, &err), KS_OK);
    CHECK_INT(found, 0);
    /* Nothing is left to roll back: that is not an error. */
    CHECK_INT(ks_store_rollback(s, &err), KS_OK);
    ks_buf_fini(&b);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void commit_without_begin_is_an_io_error_saying_what_failed(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    struct ks_err err = {0};
    CHECK_INT(ks_store_commit(s, &err), KS_EIO);
    CHECK_INT(err.rc, KS_EIO);
    CHECK_STR(err.msg, "store: commit: cannot commit - no transaction is active");
    CHECK_INT(ks_store_begin(s, &err), KS_OK);
    CHECK_INT(ks_store_begin(s, &err), KS_EIO);
    CHECK_STR(err.msg, "store: begin transaction: cannot start a transaction within a transaction");
    CHECK_INT(ks_store_commit(s, &err), KS_OK);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void second_connection_sees_committed_data_only(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *w = tdb_open(tdb_uri);
    struct ks_store *r = tdb_open(tdb_uri);
    struct ks_err err = {0};
    struct ks_buf b = {0};

    CHECK_INT(ks_store_begin(w, &err), KS_OK);
    put_incident(w, 1, "investigating", "{}");
    /* WAL: the reader is not blocked by the open write transaction and
     * does not see its rows yet. */
    list_into(r, NULL, &b);
    CHECK_STR(b.p, "");
    CHECK_INT(ks_store_commit(w, &err), KS_OK);
    list_into(r, NULL, &b);
    CHECK_STR(b.p, "1:investigating:P3:2026-11-22T10:00:04.250Z ");

    /* And the other way round, outside any explicit transaction. */
    CHECK_INT(r->ops->put_blob(r, "checkpoint", "r", 1, &err), KS_OK);
    int found = 0;
    ks_buf_reset(&b);
    CHECK_INT(w->ops->get_blob(w, "checkpoint", &b, &found, &err), KS_OK);
    CHECK_INT(found, 1);
    CHECK_STR(b.p, "r");
    ks_buf_fini(&b);
    ks_store_close(r);
    ks_store_close(w);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void closing_null_does_nothing(void)
{
    ks_store_close(NULL);
    CHECK(1);
}

/* The server's journal: entries come back in order after a seq, exactly;
 * trimming drops those a saved state accounts for; seqs are never reused. */
struct jlist {
    int n;
    int64_t seq[8];
    char data[8][32];
    char kind[8][16];
    ks_time at[8];
};

static int jrow(void *ctx, const struct ks_journal_row *r)
{
    struct jlist *l = ctx;
    if (l->n < 8) {
        l->seq[l->n] = r->seq;
        snprintf(l->data[l->n], sizeof(l->data[0]), "%.*s", (int)r->len, (const char *)r->data);
        snprintf(l->kind[l->n], sizeof(l->kind[0]), "%s", r->kind);
        l->at[l->n] = r->at;
    }
    l->n++;
    return 0;
}

static void journal_appends_lists_in_order_trims_and_never_reuses_seqs(void)
{
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    struct ks_err err = {0};
    const char *bodies[] = {"{\"type\":\"tick\"}", "{\"op\":\"ack\",\"id\":1}", "a\nb"};
    const char *kinds[] = {"events", "command", "events+end"};
    int64_t seqs[3];
    for (int i = 0; i < 3; i++) {
        struct ks_journal_row r = {0, kinds[i], 1000 + i, "bob", bodies[i], strlen(bodies[i])};
        CHECK_INT(s->ops->add_journal(s, &r, &err), KS_OK);
        seqs[i] = r.seq;
    }
    CHECK_INT(seqs[0], 1);
    CHECK_INT(seqs[2], 3);
    struct jlist l = {0};
    CHECK_INT(s->ops->list_journal(s, 1, jrow, &l, &err), KS_OK);
    CHECK_INT(l.n, 2);
    CHECK_INT(l.seq[0], 2);
    CHECK_STR(l.data[0], "{\"op\":\"ack\",\"id\":1}");
    CHECK_STR(l.kind[0], "command");
    CHECK_INT(l.at[0], 1001);
    CHECK_STR(l.data[1], "a\nb");
    CHECK_STR(l.kind[1], "events+end");
    CHECK_INT(s->ops->trim_journal(s, 3, &err), KS_OK);
    memset(&l, 0, sizeof(l));
    CHECK_INT(s->ops->list_journal(s, 0, jrow, &l, &err), KS_OK);
    CHECK_INT(l.n, 0);
    struct ks_journal_row r = {0, "events", 2000, "bob", "x", 1};
    CHECK_INT(s->ops->add_journal(s, &r, &err), KS_OK);
    CHECK_INT(r.seq, 4);
    ks_store_close(s);
    tdb_teardown();
}

/* ---- PostgreSQL only ------------------------------------------------------ */

/* Ends the store's session from another one, as a server restart would. */
static void kill_store_sessions(void)
{
    CHECK_INT(tdb_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                       "application_name = 'kintsugi' AND pid <> pg_backend_pid()"),
              0);
    /* The server needs a moment to end the session. */
    for (int i = 0; i < 50 && tdb_int("SELECT count(*) FROM pg_stat_activity WHERE "
                                      "application_name = 'kintsugi'") > 0;
         i++) {
        usleep(20 * 1000);
    }
}

/* A connection gone while idle: a read and a BEGIN are sent again on a new
 * one (nothing of them can have been done); a write fails clearly (it may
 * have been), and the next statement opens the connection again. */
static void a_lost_connection_is_opened_again_a_write_never_sent_twice(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    put_incident(s, 1, "investigating", "{\"id\":1}");
    kill_store_sessions();
    struct ks_buf b = {0};
    struct ks_err err = {0};
    CHECK_INT(s->ops->get_incident(s, 1, 0, &b, &err), KS_OK);
    CHECK_STR(b.p, "{\"id\":1}");
    struct ks_incident_row row = {.id = 2,
                                  .type = "sync_failure",
                                  .severity = "P3",
                                  .status = "investigating",
                                  .fingerprint = "sync_failure:amazon",
                                  .detected_at = tdb_time("2026-11-22T10:00:04.250Z"),
                                  .summary_json = "{}",
                                  .detail_json = "{}"};
    /* prepared on this connection: the write itself meets the lost one */
    CHECK_INT(s->ops->put_incident(s, &row, &err), KS_OK);
    kill_store_sessions();
    CHECK_INT(s->ops->put_incident(s, &row, &err), KS_EIO);
    CHECK(strncmp(err.msg, "store: save incident 2: the connection to PostgreSQL was lost: ",
                  63) == 0);
    CHECK_INT(s->ops->put_incident(s, &row, &err), KS_OK);
    kill_store_sessions();
    CHECK_INT(ks_store_begin(s, &err), KS_OK);
    put_incident(s, 3, "investigating", "{}");
    CHECK_INT(ks_store_commit(s, &err), KS_OK);
    list_into(s, NULL, &b);
    CHECK(strstr(b.p, "2:investigating") && strstr(b.p, "3:investigating"));
    ks_buf_fini(&b);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

/* The writer lock across a lost connection: taken again as the connection
 * is opened again; taken by another session meanwhile, the connection is
 * fenced and writes nothing more. */
static void a_writer_reconnects_with_its_lock_or_is_fenced(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *a = tdb_open(tdb_uri), *b = tdb_open(tdb_uri);
    struct ks_err err = {0};
    int got = 0;
    CHECK_INT(a->ops->lock_writer(a, &got, &err), KS_OK);
    CHECK_INT(got, 1);
    kill_store_sessions();
    /* a's next transaction reconnects and takes the lock again first */
    CHECK_INT(ks_store_begin(a, &err), KS_OK);
    put_incident(a, 1, "investigating", "{}");
    CHECK_INT(ks_store_commit(a, &err), KS_OK);
    CHECK_INT(b->ops->lock_writer(b, &got, &err), KS_OK);
    CHECK_INT(got, 0);
    /* lost again; b takes the lock before a notices */
    kill_store_sessions();
    CHECK_INT(b->ops->lock_writer(b, &got, &err), KS_OK);
    CHECK_INT(got, 1);
    CHECK_INT(a->ops->lock_writer(a, &got, &err), KS_ESTATE);
    CHECK_INT(got, 0);
    CHECK(strstr(err.msg, "another process holds it now") != NULL);
    struct ks_buf out = {0};
    CHECK_INT(a->ops->get_incident(a, 1, 0, &out, &err), KS_ESTATE);
    CHECK_INT(ks_store_begin(a, &err), KS_ESTATE);
    CHECK(strstr(err.msg, "this process writes no more") != NULL);
    CHECK_INT(b->ops->lock_writer(b, &got, &err), KS_OK);
    CHECK_INT(got, 1);
    ks_buf_fini(&out);
    ks_store_close(a);
    ks_store_close(b);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

static void a_connection_lost_in_a_transaction_fails_until_the_rollback(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    struct ks_err err = {0};
    CHECK_INT(ks_store_begin(s, &err), KS_OK);
    put_incident(s, 1, "investigating", "{}");
    kill_store_sessions();
    struct ks_incident_row row = {.id = 2, .status = "investigating"};
    CHECK_INT(s->ops->put_incident(s, &row, &err), KS_EIO);
    CHECK(strstr(err.msg, "connection to PostgreSQL was lost") != NULL);
    CHECK_INT(s->ops->put_incident(s, &row, &err), KS_EIO);
    CHECK_STR(err.msg, "store: save incident 2: the connection to PostgreSQL was lost during a "
                       "transaction (the server rolled it back)");
    CHECK_INT(ks_store_commit(s, &err), KS_EIO);
    CHECK_INT(ks_store_rollback(s, &err), KS_OK);
    /* Nothing of the transaction was kept; the store works again. */
    struct ks_buf b = {0};
    list_into(s, NULL, &b);
    CHECK_STR(b.p, "");
    put_incident(s, 3, "investigating", "{}");
    list_into(s, NULL, &b);
    CHECK_STR(b.p, "3:investigating:P3:2026-11-22T10:00:04.250Z ");
    ks_buf_fini(&b);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

/* PostgreSQL answers COMMIT of a failed transaction with a silent ROLLBACK:
 * the store says so instead. */
static void commit_after_a_failed_statement_is_an_error_and_keeps_nothing(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    struct ks_err err = {0};
    CHECK_INT(tdb_exec("DROP TABLE costs"), 0);
    CHECK_INT(ks_store_begin(s, &err), KS_OK);
    put_incident(s, 1, "investigating", "{}");
    struct ks_cost_row cost = {1, "direct", 10.5, "ann", KS_TIME_NONE};
    CHECK_INT(s->ops->put_cost(s, &cost, &err), KS_EIO);
    CHECK_STR(err.msg, "store: save cost of incident 1: relation \"costs\" does not exist");
    CHECK_INT(ks_store_commit(s, &err), KS_EIO);
    CHECK_STR(err.msg, "store: commit: a statement of this transaction failed; it was rolled back");
    CHECK_INT(ks_store_rollback(s, &err), KS_OK);
    struct ks_buf b = {0};
    list_into(s, NULL, &b);
    CHECK_STR(b.p, "");
    ks_buf_fini(&b);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

/* The writer lock is the database's: one session holds it until it ends. */
static void the_writer_lock_is_held_by_one_session_until_it_ends(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *a = tdb_open(tdb_uri), *b = tdb_open(tdb_uri);
    struct ks_err err = {0};
    int got = -1;
    CHECK(a->ops->lock_writer != NULL);
    CHECK_INT(a->ops->lock_writer(a, &got, &err), KS_OK);
    CHECK_INT(got, 1);
    CHECK_INT(b->ops->lock_writer(b, &got, &err), KS_OK);
    CHECK_INT(got, 0);
    ks_store_close(a);
    /* The server ends the session (and its lock) a moment after the close. */
    for (int i = 0; i < 100; i++) {
        CHECK_INT(b->ops->lock_writer(b, &got, &err), KS_OK);
        if (got) {
            break;
        }
        usleep(20 * 1000);
    }
    CHECK_INT(got, 1);
    ks_store_close(b);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

/* Ids after an undone tail continue after the marks; a hook key is added once. */
static void ids_continue_after_trim_marks(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    struct ks_err err = {0};
    struct ks_deadletter dl = {.source = "f", .line = 1, .reason = "r", .raw = "x", .raw_len = 1};
    for (int i = 0; i < 5; i++) {
        CHECK_INT(s->ops->add_deadletter(s, &dl, &err), KS_OK);
    }
    CHECK_INT(dl.id, 5);
    struct ks_store_trim t = {2, 0, 0, 0, -1, -1};
    CHECK_INT(s->ops->trim(s, &t, &err), KS_OK);
    CHECK_INT(s->ops->add_deadletter(s, &dl, &err), KS_OK);
    CHECK_INT(dl.id, 3);
    int64_t mdl = -1, mhook = -1;
    CHECK_INT(s->ops->max_ids(s, &mdl, &mhook, &err), KS_OK);
    CHECK_INT(mdl, 3);
    CHECK_INT(mhook, 0);
    struct ks_hook_row h = {.key = "k1", .incident = 1, .action = "pause", .body = "{}",
                            .next_at = KS_TIME_NONE};
    CHECK_INT(s->ops->add_hook(s, &h, &err), KS_OK);
    CHECK_INT(s->ops->add_hook(s, &h, &err), KS_OK); /* the same key: ignored */
    CHECK_INT(s->ops->max_ids(s, &mdl, &mhook, &err), KS_OK);
    CHECK_INT(mhook, 1);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

/* The checkpoint comes back in parts, in order, and the SKU dictionary and
 * the feed in pages, whatever their number. */
static int count_block(void *ctx, int64_t a, int64_t b, const void *p, size_t n)
{
    int64_t *sum = ctx;
    (void)b;
    (void)p;
    sum[0]++;
    sum[1] += a;
    sum[2] += (int64_t)n;
    return 0;
}

static void checkpoint_parts_and_paged_blocks_come_back_in_order(void)
{
    long before = ks_alloc_live();
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    struct ks_err err = {0};
    CHECK_INT(ks_store_begin(s, &err), KS_OK);
    CHECK_INT(s->ops->ck_clear(s, &err), KS_OK);
    for (int i = 0; i < 3; i++) {
        char part[16];
        snprintf(part, sizeof(part), "part%d", i);
        CHECK_INT(s->ops->ck_put(s, i, part, 5, &err), KS_OK);
    }
    for (int i = 0; i < 150; i++) {
        CHECK_INT(s->ops->add_skus(s, 1 + 10 * i, 10, "abc", 3, &err), KS_OK);
        CHECK_INT(s->ops->add_feed_block(s, "amazon", 1 + 4 * i, 4 + 4 * i, "ab", 2, &err),
                  KS_OK);
    }
    CHECK_INT(ks_store_commit(s, &err), KS_OK);
    uint64_t total = 0;
    int found = 0;
    CHECK_INT(s->ops->ck_open(s, &total, &found, &err), KS_OK);
    CHECK_INT(found, 1);
    CHECK_INT(total, 15);
    struct ks_buf all = {0};
    const void *p;
    size_t n;
    while (s->ops->ck_next(s, &p, &n, &err) == KS_OK && n > 0) {
        ks_buf_put(&all, p, n);
    }
    s->ops->ck_close(s);
    CHECK_STR(all.p, "part0part1part2");
    ks_buf_fini(&all);
    int64_t sum[3] = {0, 0, 0};
    CHECK_INT(s->ops->list_skus(s, 1001, count_block, sum, &err), KS_OK);
    CHECK_INT(sum[0], 100); /* ids 1, 11, ..., 991 */
    CHECK_INT(sum[1], 100 + 10 * 99 * 100 / 2);
    memset(sum, 0, sizeof(sum));
    CHECK_INT(s->ops->list_feed_blocks(s, "amazon", 8, count_block, sum, &err), KS_OK);
    CHECK_INT(sum[0], 148); /* the blocks that hold changes after seq 8 */
    CHECK_INT(sum[2], 296);
    ks_store_close(s);
    tdb_teardown();
    CHECK_INT(ks_alloc_live(), before);
}

/* The dialect step: SQLite's DDL and statements as PostgreSQL reads them. */
static void the_sqlite_dialect_translates_to_postgres(void)
{
    struct ks_buf b = {0};
    ks_sql_to_pg("CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL, "
                 "text TEXT, amount REAL, raw BLOB, k INTEGER PRIMARY KEY, "
                 "offset INTEGER, note TEXT DEFAULT 'a ?1 INTEGER ''x''') WITHOUT ROWID;",
                 1, &b);
    CHECK_STR(b.p, "CREATE TABLE t(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                   "n BIGINT NOT NULL, text TEXT COLLATE \"C\", amount DOUBLE PRECISION, "
                   "raw BYTEA, k BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                   "\"offset\" BIGINT, note TEXT COLLATE \"C\" DEFAULT 'a ?1 INTEGER ''x''') ;");
    ks_buf_reset(&b);
    ks_sql_to_pg("SELECT \"offset\" FROM t WHERE a = ?1 AND b > ?12 LIMIT 64 OFFSET 3", 0, &b);
    CHECK_STR(b.p, "SELECT \"offset\" FROM t WHERE a = $1 AND b > $12 LIMIT 64 OFFSET 3");
    ks_buf_fini(&b);
}

static long long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

/* 6 MiB of journal entries in 64 KiB commits on connection s. */
static void write_6mib(struct ks_store *s)
{
    static char body[64 * 1024];
    memset(body, 'x', sizeof(body));
    struct ks_err err = {0};
    for (int i = 0; i < 96; i++) {
        struct ks_journal_row r = {0, "events", 1000 + i, "bob", body, sizeof(body)};
        CHECK_INT(s->ops->add_journal(s, &r, &err), KS_OK);
    }
}

/* By default a commit copies the log into the database once it passes
 * 4 MiB; with log_autocopy off it never does, and copy_log from a second
 * connection does it (what kintsugi serve's log-copy thread relies on).
 * PostgreSQL has no such log to copy (the server manages its WAL): both
 * operations are absent, and kintsugi serve starts no copying thread. */
static void the_log_is_copied_at_commit_or_by_copy_log_only(void)
{
    tdb_setup();
    struct ks_store *s = tdb_open(tdb_uri);
    struct ks_err err = {0};
    if (tdb_pg) {
        CHECK(s->ops->log_autocopy == NULL);
        CHECK(s->ops->copy_log == NULL);
        ks_store_close(s);
        tdb_teardown();
        return;
    }
    char wal[1100];
    snprintf(wal, sizeof(wal), "%s-wal", tdb_uri);
    long long db0 = file_size(tdb_uri);
    write_6mib(s);
    CHECK(file_size(tdb_uri) > db0 + (4 << 20)); /* copied by a commit */
    ks_store_close(s);
    tdb_teardown();

    tdb_setup();
    snprintf(wal, sizeof(wal), "%s-wal", tdb_uri);
    s = tdb_open(tdb_uri);
    db0 = file_size(tdb_uri);
    CHECK_INT(s->ops->log_autocopy(s, 0, &err), KS_OK);
    write_6mib(s);
    CHECK_INT(file_size(tdb_uri), db0);          /* nothing copied */
    CHECK(file_size(wal) > (6LL << 20));         /* all of it in the log */
    struct ks_store *c = tdb_open(tdb_uri);
    CHECK_INT(c->ops->copy_log(c, &err), KS_OK);
    CHECK(file_size(tdb_uri) > db0 + (6LL << 20)); /* copied by the other connection */
    struct jlist l = {0};
    CHECK_INT(s->ops->list_journal(s, 95, jrow, &l, &err), KS_OK);
    CHECK_INT(l.n, 1);
    ks_store_close(c);
    ks_store_close(s);
    tdb_teardown();
}

int main(void)
{
    RUN(the_sqlite_dialect_translates_to_postgres);
    RUN(open_puts_the_file_in_wal_mode);
    RUN(memory_database_works);
    RUN(a_file_that_is_not_a_database_is_an_io_error);
    RUN(unreachable_postgres_is_an_io_error_naming_the_server);
    RUN(closing_null_does_nothing);
    RUN_BOTH(open_creates_schema_at_current_version);
    RUN_BOTH(reopening_keeps_data_and_does_not_reapply_migrations);
    RUN_BOTH(database_from_a_newer_kintsugi_is_refused);
    RUN_BOTH(put_incident_upserts_by_id);
    RUN_BOTH(list_incidents_filters_by_status_in_id_order);
    RUN_BOTH(list_incidents_stops_when_the_callback_asks);
    RUN_BOTH(missing_detected_at_reads_back_as_none);
    RUN_BOTH(incident_columns_are_derived_from_the_json_and_read_back);
    RUN_BOTH(migration_9_fills_the_columns_of_a_version_8_database);
    RUN_BOTH(migration_11_gives_the_database_an_id);
    RUN_BOTH(migration_12_keeps_the_remedies);
    RUN_BOTH(list_incidents_filters_by_severity_type_channel_and_period);
    RUN_BOTH(get_unknown_incident_is_not_found);
    RUN_BOTH(dead_letters_keep_raw_bytes_exactly);
    RUN_BOTH(update_deadletter_changes_status_reason_and_raw);
    RUN_BOTH(update_unknown_deadletter_is_not_found);
    RUN_BOTH(blobs_round_trip_and_are_replaced);
    RUN_BOTH(a_20_mb_blob_round_trips);
    RUN_BOTH(rollback_discards_everything_since_begin);
    RUN_BOTH(commit_without_begin_is_an_io_error_saying_what_failed);
    RUN_BOTH(second_connection_sees_committed_data_only);
    RUN_BOTH(journal_appends_lists_in_order_trims_and_never_reuses_seqs);
    RUN_BOTH(ids_continue_after_trim_marks);
    RUN_BOTH(checkpoint_parts_and_paged_blocks_come_back_in_order);
    RUN_PG(a_lost_connection_is_opened_again_a_write_never_sent_twice);
    RUN_PG(a_writer_reconnects_with_its_lock_or_is_fenced);
    RUN_PG(a_connection_lost_in_a_transaction_fails_until_the_rollback);
    RUN_PG(commit_after_a_failed_statement_is_an_error_and_keeps_nothing);
    RUN_PG(the_writer_lock_is_held_by_one_session_until_it_ends);
    RUN_BOTH(the_log_is_copied_at_commit_or_by_copy_log_only);
    return t_done();
}
