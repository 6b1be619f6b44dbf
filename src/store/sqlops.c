/*
 * sqlops.c - the store's operations, written once over a SQL driver (sql.h):
 * SQLite (sqlite.c) and PostgreSQL (postgres.c) run the same code, the same
 * statements (schema.c) and the same migrations.
 *
 * An operation binds its values with SQLV(...), runs one statement and reads
 * the rows; errors are KS_EIO with what was being done and the database's
 * message ("store: insert dead letter: database is locked"), or the
 * operation's own KS_ENOTFOUND / KS_ESTATE.
 */
#include "sql.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

/* The state behind struct ks_store.impl. */
struct sqlstore {
    const struct ks_sqldrv *drv;
    void *conn;
    struct ks_sqlcur ck; /* the checkpoint part being read (ck_next) */
    int ck_reading;      /* ck holds a part */
    int64_t ck_part;     /* the next part to read */
};

static struct sqlstore *db(struct ks_store *s)
{
    KS_ASSERT(s && s->impl);
    return s->impl;
}

/* ---- running statements ---------------------------------------------------- */

static enum ks_rc q_query(struct sqlstore *d, enum ks_st id, const struct ks_sqlv *v, int n,
                          struct ks_sqlcur *c, struct ks_err *err, const char *what)
{
    return d->drv->query(d->conn, id, v, n, c, err, what);
}

static int q_next(struct ks_sqlcur *c, struct ks_err *err, const char *what)
{
    return c->drv->next(c, err, what);
}

static void q_done(struct ks_sqlcur *c)
{
    c->drv->done(c);
}

/* Runs a statement to its end. *changes (when given): the rows it changed;
 * *ret (when given): the first column of its first row (RETURNING id). */
static enum ks_rc q_exec(struct sqlstore *d, enum ks_st id, const struct ks_sqlv *v, int n,
                         int64_t *changes, int64_t *ret, struct ks_err *err, const char *what)
{
    struct ks_sqlcur c;
    enum ks_rc rc = q_query(d, id, v, n, &c, err, what);
    if (rc != KS_OK) {
        return rc;
    }
    int r, first = 1;
    while ((r = q_next(&c, err, what)) == 1) {
        if (first && ret) {
            *ret = c.drv->col_int(&c, 0);
        }
        first = 0;
    }
    if (changes) {
        *changes = c.changes;
    }
    q_done(&c);
    return r < 0 ? KS_EIO : KS_OK;
}

/* Runs a statement that gives at most one row and reads its first ncol
 * integer columns into out; *found (when given) says whether a row came. */
static enum ks_rc q_ints(struct sqlstore *d, enum ks_st id, const struct ks_sqlv *v, int n,
                         int64_t *out, int ncol, int *found, struct ks_err *err, const char *what)
{
    struct ks_sqlcur c;
    enum ks_rc rc = q_query(d, id, v, n, &c, err, what);
    if (rc != KS_OK) {
        return rc;
    }
    int r = q_next(&c, err, what);
    for (int i = 0; i < ncol; i++) {
        out[i] = r == 1 && !c.drv->is_null(&c, i) ? c.drv->col_int(&c, i) : 0;
    }
    if (found) {
        *found = r == 1;
    }
    q_done(&c);
    return r < 0 ? KS_EIO : KS_OK;
}

static int64_t c_int(struct ks_sqlcur *c, int i)
{
    return c->drv->col_int(c, i);
}

static const char *c_text(struct ks_sqlcur *c, int i)
{
    size_t n;
    return c->drv->col_text(c, i, &n);
}

/* A timestamp column: KS_TIME_NONE for NULL; -1 when the text is not RFC 3339. */
static int c_time(struct ks_sqlcur *c, int i, ks_time *out)
{
    size_t n = 0;
    const char *s = c->drv->col_text(c, i, &n);
    if (!s) {
        *out = KS_TIME_NONE;
        return 0;
    }
    return ks_time_parse(s, n, out, NULL);
}

/* Ends a listing: the cursor is done; r is what q_next last said. */
static enum ks_rc end_list(struct ks_sqlcur *c, int r)
{
    q_done(c);
    return r < 0 ? KS_EIO : KS_OK;
}

/* ---- open, migrations, close ------------------------------------------------- */

static enum ks_rc schema_version(struct sqlstore *d, int64_t *v, struct ks_err *err)
{
    int64_t has = 0;
    enum ks_rc rc =
        q_ints(d, ST_HAS_MIGRATIONS, SQLV_NONE, &has, 1, NULL, err, "read schema version");
    *v = 0;
    if (rc == KS_OK && has) {
        rc = q_ints(d, ST_SCHEMA_VERSION, SQLV_NONE, v, 1, NULL, err, "read schema version");
    }
    return rc;
}

static enum ks_rc refuse_newer(const char *uri, int64_t v, struct ks_err *err)
{
    return ks_err_set(err, KS_ESTATE,
                      "store: %s: database schema version %lld is newer than this kintsugi "
                      "supports (%d); use a newer kintsugi",
                      uri, (long long)v, ks_sql_schema_version);
}

static enum ks_rc backfill_9(struct sqlstore *d, struct ks_err *err);

/* Migration 11: the database's id, 16 random bytes as 32 hex digits, and
 * the first hook call sent with it (the calls already there keep the key
 * they were sent with). Run under the migration lock, so that every
 * process on the database reads the one id written. */
static enum ks_rc id_11(struct sqlstore *d, struct ks_err *err)
{
    const char *what = "migration 11: the database's id";
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return ks_err_set(err, KS_EIO, "store: %s: no random bytes to be had", what);
    }
    static const char hex[] = "0123456789abcdef";
    char id[32], from[24];
    for (size_t i = 0; i < sizeof(raw); i++) {
        id[2 * i] = hex[raw[i] >> 4];
        id[2 * i + 1] = hex[raw[i] & 15];
    }
    int64_t next = 1;
    enum ks_rc rc = q_ints(d, ST_MIG11_NEXT_HOOK, SQLV_NONE, &next, 1, NULL, err, what);
    if (rc == KS_OK) {
        rc = q_exec(d, ST_MIG11_PUT, SQLV(V_TEXT("db_id"), V_BYTES(id, sizeof(id))), NULL, NULL,
                    err, what);
    }
    if (rc == KS_OK) {
        int n = snprintf(from, sizeof(from), "%lld", (long long)next);
        rc = q_exec(d, ST_MIG11_PUT, SQLV(V_TEXT("hook_keys_from"), V_BYTES(from, (size_t)n)),
                    NULL, NULL, err, what);
    }
    return rc;
}

/* Reads the database's id and the first hook call sent with it (migration
 * 11) into s, once, at open. */
static enum ks_rc read_id(struct ks_store *s, struct ks_err *err)
{
    struct ks_buf b = {0};
    int found = 0;
    enum ks_rc rc = s->ops->get_blob(s, "db_id", &b, &found, err);
    int ok = rc == KS_OK && found && b.len == 32;
    for (size_t i = 0; ok && i < b.len; i++) {
        ok = (b.p[i] >= '0' && b.p[i] <= '9') || (b.p[i] >= 'a' && b.p[i] <= 'f');
    }
    if (ok) {
        memcpy(s->db_id, b.p, 32);
        s->db_id[32] = 0;
        ks_buf_reset(&b);
        rc = s->ops->get_blob(s, "hook_keys_from", &b, &found, err);
        char num[24] = {0};
        if (rc == KS_OK && found && b.len > 0 && b.len < sizeof(num)) {
            memcpy(num, b.p, b.len);
            char *end;
            long long v = strtoll(num, &end, 10);
            ok = *end == 0 && v >= 1;
            s->hook_keys_from = v;
        } else {
            ok = 0;
        }
    }
    ks_buf_fini(&b);
    if (rc == KS_OK && !ok) {
        rc = ks_err_set(err, KS_ESTATE,
                        "store: %s: the database's id (blobs 'db_id', 'hook_keys_from', written "
                        "by migration 11) is missing or damaged",
                        s->uri);
    }
    return rc;
}

/* Applies the missing migrations in one transaction. The version is read
 * first without a lock, so that opening an up-to-date database never waits
 * for another connection's write, then again under the driver's migration
 * lock in case another process migrated in between. */
static enum ks_rc migrate(struct ks_store *s, struct ks_err *err)
{
    struct sqlstore *d = db(s);
    int64_t v;
    enum ks_rc rc = schema_version(d, &v, err);
    if (rc != KS_OK) {
        return rc;
    }
    if (v > ks_sql_schema_version) {
        return refuse_newer(s->uri, v, err);
    }
    if (v == ks_sql_schema_version) {
        return KS_OK;
    }
    if ((rc = d->drv->begin_migration(d->conn, err)) != KS_OK) {
        return rc;
    }
    rc = d->drv->script(d->conn,
                        "CREATE TABLE IF NOT EXISTS schema_migrations("
                        "version INTEGER PRIMARY KEY, applied_at TEXT)",
                        err, "create schema_migrations");
    if (rc == KS_OK) {
        rc = schema_version(d, &v, err);
    }
    if (rc == KS_OK && v > ks_sql_schema_version) {
        rc = refuse_newer(s->uri, v, err);
    }
    ks_time now = ks_time_now();
    for (; rc == KS_OK && v < ks_sql_schema_version; v++) {
        char what[64];
        snprintf(what, sizeof(what), "migration %lld", (long long)v + 1);
        rc = d->drv->script(d->conn, ks_sql_migrations[v], err, what);
        if (rc == KS_OK && v + 1 == 9) {
            rc = backfill_9(d, err);
        }
        if (rc == KS_OK && v + 1 == 11) {
            rc = id_11(d, err);
        }
        if (rc == KS_OK) {
            rc = q_exec(d, ST_ADD_MIGRATION, SQLV(V_INT(v + 1), V_TIME(now)), NULL, NULL, err,
                        what);
        }
    }
    if (rc == KS_OK) {
        rc = d->drv->commit(d->conn, err);
    }
    if (rc != KS_OK) {
        d->drv->rollback(d->conn, NULL);
    }
    return rc;
}

static void sql_close(struct ks_store *s)
{
    if (s && s->impl) {
        struct sqlstore *d = s->impl;
        if (d->ck_reading) {
            q_done(&d->ck);
        }
        d->drv->disconnect(d->conn);
        ks_free(d);
        s->impl = NULL;
    }
}

static enum ks_rc sql_open(struct ks_store *s, const struct ks_sqldrv *drv, const char *uri,
                           struct ks_err *err)
{
    struct sqlstore *d = ks_calloc(1, sizeof(*d));
    d->drv = drv;
    enum ks_rc rc = drv->connect(&d->conn, uri, err);
    if (rc != KS_OK) {
        ks_free(d);
        return rc;
    }
    s->impl = d;
    rc = migrate(s, err);
    if (rc == KS_OK) {
        rc = drv->ready(d->conn, err);
    }
    if (rc == KS_OK) {
        rc = read_id(s, err);
    }
    if (rc != KS_OK) {
        sql_close(s);
    }
    return rc;
}

static enum ks_rc open_sqlite(struct ks_store *s, const char *uri, struct ks_err *err)
{
    return sql_open(s, &ks_sqldrv_sqlite, uri, err);
}

static enum ks_rc open_pg(struct ks_store *s, const char *uri, struct ks_err *err)
{
    return sql_open(s, &ks_sqldrv_pg, uri, err);
}

/* ---- transactions ------------------------------------------------------------- */

static enum ks_rc sql_begin(struct ks_store *s, struct ks_err *err)
{
    return db(s)->drv->begin(db(s)->conn, err);
}

static enum ks_rc sql_commit(struct ks_store *s, struct ks_err *err)
{
    return db(s)->drv->commit(db(s)->conn, err);
}

/* Nothing left to roll back (the database already did, after a full disk or
 * a lost connection) is success, not an error on top of the first one. */
static enum ks_rc sql_rollback(struct ks_store *s, struct ks_err *err)
{
    return db(s)->drv->rollback(db(s)->conn, err);
}

static enum ks_rc sql_release(struct ks_store *s, struct ks_err *err)
{
    struct sqlstore *d = db(s);
    return d->drv->release ? d->drv->release(d->conn, err) : KS_OK;
}

static enum ks_rc sql_lock_writer(struct ks_store *s, int *got, struct ks_err *err)
{
    struct sqlstore *d = db(s);
    return d->drv->lock_writer(d->conn, got, err);
}

/* ---- incidents ------------------------------------------------------------------- */

/* The columns of migration 9, as the incident's JSON has them: a value
 * the JSON lacks (or that is not of its type) is NULL. Strings are borrowed
 * from j. */
struct inc_cols {
    json_t *j;
    json_t *title, *owner, *repeat_of, *orders, *customers, *units, *revenue;
    ks_time started, acked, contained, resolved, review_due;
};

static ks_time json_instant(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    ks_time t;
    if (!s || ks_time_parse(s, strlen(s), &t, NULL) != 0) {
        return KS_TIME_NONE;
    }
    return t;
}

static json_t *json_typed(json_t *o, const char *key, int (*is)(const json_t *))
{
    json_t *v = json_object_get(o, key);
    return v && is(v) ? v : NULL;
}

static int is_string(const json_t *v)
{
    return json_is_string(v);
}
static int is_integer(const json_t *v)
{
    return json_is_integer(v);
}
static int is_number(const json_t *v)
{
    return json_is_number(v);
}

/* From the summary (json); NULL or not a JSON object: every column NULL. */
static void inc_cols_read(const char *json, struct inc_cols *c)
{
    memset(c, 0, sizeof(*c));
    c->j = json ? json_loads(json, 0, NULL) : NULL;
    if (!json_is_object(c->j)) {
        json_decref(c->j);
        c->j = NULL;
    }
    json_t *j = c->j, *imp = json_object_get(j, "impact");
    c->title = json_typed(j, "title", is_string);
    c->owner = json_typed(j, "owner", is_string);
    c->repeat_of = json_typed(j, "repeat_of", is_integer);
    c->orders = json_typed(imp, "orders", is_integer);
    c->customers = json_typed(imp, "customers", is_integer);
    c->units = json_typed(imp, "units", is_integer);
    c->revenue = json_typed(imp, "revenue", is_number);
    c->started = json_instant(j, "started_at");
    c->acked = json_instant(j, "acknowledged_at");
    c->contained = json_instant(j, "contained_at");
    c->resolved = json_instant(j, "resolved_at");
    c->review_due = json_instant(j, "review_due");
}

static struct ks_sqlv v_jtext(json_t *v)
{
    return v ? V_TEXT(json_string_value(v)) : V_NULL;
}
static struct ks_sqlv v_jint(json_t *v)
{
    return v ? V_INT(json_integer_value(v)) : V_NULL;
}
static struct ks_sqlv v_jreal(json_t *v)
{
    return v ? V_REAL(json_number_value(v)) : V_NULL;
}

/* The derived values in the order of INCIDENT_DERIVED (schema.c). */
#define INC_COLS_VALUES(c)                                                                         \
    v_jtext((c)->title), v_jtext((c)->owner), V_TIME((c)->started), V_TIME((c)->acked),            \
        V_TIME((c)->contained), V_TIME((c)->resolved), V_TIME((c)->review_due),                    \
        v_jint((c)->repeat_of), v_jint((c)->orders), v_jint((c)->customers), v_jint((c)->units),   \
        v_jreal((c)->revenue)

/* The scope's lists as rows of incident_scope, in the JSON's order. */
static enum ks_rc put_scope(struct sqlstore *d, int64_t id, const struct inc_cols *c, int clear,
                            struct ks_err *err, const char *what)
{
    static const char *const lists[][2] = {{"channels", "channel"},
                                           {"locations", "location"},
                                           {"systems", "system"},
                                           {"purchase_orders", "purchase_order"}};
    enum ks_rc rc = clear ? q_exec(d, ST_DEL_SCOPE, SQLV(V_INT(id)), NULL, NULL, err, what) : KS_OK;
    json_t *scope = json_object_get(c->j, "scope");
    for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]) && rc == KS_OK; k++) {
        size_t i;
        json_t *v;
        int64_t pos = 0;
        json_array_foreach(json_object_get(scope, lists[k][0]), i, v)
        {
            const char *name = json_string_value(v);
            if (name && rc == KS_OK) {
                rc = q_exec(d, ST_ADD_SCOPE,
                            SQLV(V_INT(id), V_TEXT(lists[k][1]), V_INT(++pos), V_TEXT(name)), NULL,
                            NULL, err, what);
            }
        }
    }
    return rc;
}

/* The columns of migration 9 are derived from the summary (the detail when
 * there is no summary): what readers filter on is what they would parse. */
static enum ks_rc sql_put_incident(struct ks_store *s, const struct ks_incident_row *r,
                                   struct ks_err *err)
{
    char what[64];
    snprintf(what, sizeof(what), "save incident %lld", (long long)r->id);
    struct inc_cols c;
    inc_cols_read(r->summary_json ? r->summary_json : r->detail_json, &c);
    enum ks_rc rc =
        q_exec(db(s), ST_PUT_INCIDENT,
               SQLV(V_INT(r->id), V_TEXT(r->type), V_TEXT(r->severity), V_TEXT(r->status),
                    V_TEXT(r->fingerprint), V_TIME(r->detected_at), V_TEXT(r->summary_json),
                    V_TEXT(r->detail_json), INC_COLS_VALUES(&c)),
               NULL, NULL, err, what);
    if (rc == KS_OK) {
        rc = put_scope(db(s), r->id, &c, 1, err, what);
    }
    json_decref(c.j);
    return rc;
}

/* Migration 9 fills the new columns and the scope of the incidents already
 * stored, from their JSON, a page at a time (no cursor stays open across the
 * updates). */
static enum ks_rc backfill_9(struct sqlstore *d, struct ks_err *err)
{
    const char *what = "migration 9: fill the incidents' columns";
    int64_t after = 0;
    enum ks_rc rc = KS_OK;
    for (;;) {
        struct ks_sqlcur cur;
        int64_t ids[64];
        char *json[64];
        int n = 0, r;
        if ((rc = q_query(d, ST_MIG9_PAGE, SQLV(V_INT(after)), &cur, err, what)) != KS_OK) {
            return rc;
        }
        while (n < 64 && (r = q_next(&cur, err, what)) == 1) {
            const char *text = c_text(&cur, 1); /* the summary, else the detail */
            ids[n] = c_int(&cur, 0);
            json[n++] = text ? ks_strdup(text) : NULL;
        }
        q_done(&cur);
        if (n < 64 && r < 0) {
            rc = KS_EIO;
        }
        for (int i = 0; i < n; i++) {
            if (rc == KS_OK) {
                struct inc_cols c;
                inc_cols_read(json[i], &c);
                rc = q_exec(d, ST_MIG9_SET, SQLV(V_INT(ids[i]), INC_COLS_VALUES(&c)), NULL, NULL,
                            err, what);
                if (rc == KS_OK) {
                    rc = put_scope(d, ids[i], &c, 0, err, what);
                }
                json_decref(c.j);
            }
            ks_free(json[i]);
        }
        if (rc != KS_OK || n < 64) {
            return rc;
        }
        after = ids[n - 1];
    }
}

/* A row without the requested JSON appends "null", so that out always holds
 * one JSON value. */
static enum ks_rc sql_get_incident(struct ks_store *s, int64_t id, int detail, struct ks_buf *out,
                                   struct ks_err *err)
{
    char what[64];
    snprintf(what, sizeof(what), "read incident %lld", (long long)id);
    struct ks_sqlcur c;
    enum ks_rc rc = q_query(db(s), detail ? ST_GET_DETAIL : ST_GET_SUMMARY, SQLV(V_INT(id)), &c,
                            err, what);
    if (rc != KS_OK) {
        return rc;
    }
    int r = q_next(&c, err, what);
    if (r == 1) {
        size_t n = 0;
        const char *json = c.drv->col_text(&c, 0, &n);
        if (json) {
            ks_buf_put(out, json, n);
        } else {
            ks_buf_puts(out, "null");
        }
    }
    q_done(&c);
    if (r == 0) {
        return ks_err_set(err, KS_ENOTFOUND, "no incident %lld", (long long)id);
    }
    return r < 0 ? KS_EIO : KS_OK;
}

static enum ks_rc sql_list_incidents(struct ks_store *s, const struct ks_incident_filter *f,
                                     int (*fn)(void *ctx, const struct ks_incident_row *row),
                                     void *ctx, struct ks_err *err)
{
    const char *what = "list incidents";
    static const struct ks_incident_filter all = {0};
    if (!f) {
        f = &all;
    }
    /* the bounds as text that lives until the rows are read (SQLite binds
     * without a copy) */
    char since[32], until[32];
    if (f->since != 0 && f->since != KS_TIME_NONE) {
        ks_time_fmt(f->since, since);
    }
    if (f->until != 0 && f->until != KS_TIME_NONE) {
        ks_time_fmt(f->until, until);
    }
#define FILTER_VALUES                                                                              \
    V_TEXT(f->severity), V_TEXT(f->type),                                                          \
        V_TEXT(f->since != 0 && f->since != KS_TIME_NONE ? since : NULL),                          \
        V_TEXT(f->until != 0 && f->until != KS_TIME_NONE ? until : NULL), V_TEXT(f->channel)
    struct ks_sqlcur c;
    enum ks_rc rc;
    if (!f->status) {
        rc = q_query(db(s), ST_LIST_ALL, SQLV(FILTER_VALUES), &c, err, what);
    } else if (strcmp(f->status, "open") == 0) {
        rc = q_query(db(s), ST_LIST_OPEN, SQLV(FILTER_VALUES), &c, err, what);
    } else {
        rc = q_query(db(s), ST_LIST_STATUS, SQLV(FILTER_VALUES, V_TEXT(f->status)), &c, err, what);
    }
#undef FILTER_VALUES
    if (rc != KS_OK) {
        return rc;
    }
    int r;
    while ((r = q_next(&c, err, what)) == 1) {
        struct ks_incident_row row = {
            .id = c_int(&c, 0),
            .type = c_text(&c, 1),
            .severity = c_text(&c, 2),
            .status = c_text(&c, 3),
            .fingerprint = c_text(&c, 4),
            .summary_json = c_text(&c, 6),
            .detail_json = c_text(&c, 7),
            .title = c_text(&c, 8),
            .owner = c_text(&c, 9),
            .repeat_of = c_int(&c, 15),
            .orders = c_int(&c, 16),
            .customers = c_int(&c, 17),
            .units = c_int(&c, 18),
            .revenue = c.drv->col_real(&c, 19),
        };
        /* every instant column: detected_at (5), then started_at .. review_due */
        static const int tcol[] = {5, 10, 11, 12, 13, 14};
        static const char *const tname[] = {"detected_at",  "started_at",  "acknowledged_at",
                                            "contained_at", "resolved_at", "review_due"};
        ks_time *tv[] = {&row.detected_at,  &row.started_at,  &row.acknowledged_at,
                         &row.contained_at, &row.resolved_at, &row.review_due};
        for (size_t k = 0; k < sizeof(tcol) / sizeof(tcol[0]); k++) {
            if (c_time(&c, tcol[k], tv[k]) != 0) {
                ks_err_set(err, KS_EIO,
                           "store: list incidents: incident %lld has a malformed %s \"%.40s\"",
                           (long long)row.id, tname[k], c_text(&c, tcol[k]));
                q_done(&c);
                return KS_EIO;
            }
        }
        if (fn(ctx, &row)) {
            break;
        }
    }
    return end_list(&c, r);
}

/* ---- dead letters ------------------------------------------------------------------ */

/* A dead letter without a status is stored as "pending". */
static enum ks_rc sql_add_deadletter(struct ks_store *s, struct ks_deadletter *dl,
                                     struct ks_err *err)
{
    return q_exec(db(s), ST_ADD_DL,
                  SQLV(V_TEXT(dl->source), V_INT(dl->line), V_TEXT(dl->reason),
                       V_BYTES(dl->raw, dl->raw_len), V_TEXT(dl->status ? dl->status : "pending"),
                       V_TIME(dl->received_at)),
                  NULL, &dl->id, err, "insert dead letter");
}

static enum ks_rc sql_list_deadletters(struct ks_store *s, const char *status,
                                       int (*fn)(void *ctx, const struct ks_deadletter *dl),
                                       void *ctx, struct ks_err *err)
{
    const char *what = "list dead letters";
    struct ks_sqlcur c;
    enum ks_rc rc = status ? q_query(db(s), ST_LIST_DL_STATUS, SQLV(V_TEXT(status)), &c, err, what)
                           : q_query(db(s), ST_LIST_DL_ALL, SQLV_NONE, &c, err, what);
    if (rc != KS_OK) {
        return rc;
    }
    int r;
    while ((r = q_next(&c, err, what)) == 1) {
        struct ks_deadletter dl = {
            .id = c_int(&c, 0),
            .source = c_text(&c, 1),
            .line = c_int(&c, 2),
            .reason = c_text(&c, 3),
            .status = c_text(&c, 5),
        };
        dl.raw = c.drv->col_bytes(&c, 4, &dl.raw_len);
        if (c_time(&c, 6, &dl.received_at) != 0) {
            ks_err_set(err, KS_EIO,
                       "store: list dead letters: dead letter %lld has a malformed "
                       "received_at \"%.40s\"",
                       (long long)dl.id, c_text(&c, 6));
            q_done(&c);
            return KS_EIO;
        }
        if (fn(ctx, &dl)) {
            break;
        }
    }
    return end_list(&c, r);
}

/* status or reason NULL keeps the stored value; raw NULL keeps the stored
 * bytes. KS_ENOTFOUND when no dead letter has that id. */
static enum ks_rc sql_update_deadletter(struct ks_store *s, int64_t id, const char *status,
                                        const char *reason, const char *raw, size_t raw_len,
                                        struct ks_err *err)
{
    char what[64];
    snprintf(what, sizeof(what), "update dead letter %lld", (long long)id);
    int64_t changed = 0;
    enum ks_rc rc =
        raw ? q_exec(db(s), ST_UPDATE_DL_RAW,
                     SQLV(V_INT(id), V_TEXT(status), V_TEXT(reason), V_BYTES(raw, raw_len)),
                     &changed, NULL, err, what)
            : q_exec(db(s), ST_UPDATE_DL, SQLV(V_INT(id), V_TEXT(status), V_TEXT(reason)),
                     &changed, NULL, err, what);
    if (rc == KS_OK && changed == 0) {
        return ks_err_set(err, KS_ENOTFOUND, "no dead letter %lld", (long long)id);
    }
    return rc;
}

/* ---- blobs --------------------------------------------------------------------------- */

/* Bound with its 64-bit length and without a copy: a checkpoint may be
 * hundreds of megabytes. */
static enum ks_rc sql_put_blob(struct ks_store *s, const char *key, const void *p, size_t n,
                               struct ks_err *err)
{
    char what[128];
    snprintf(what, sizeof(what), "save blob %.60s (%zu bytes)", key, n);
    return q_exec(db(s), ST_PUT_BLOB, SQLV(V_TEXT(key), V_BYTES(p, n)), NULL, NULL, err, what);
}

static enum ks_rc sql_get_blob(struct ks_store *s, const char *key, struct ks_buf *out,
                               int *found, struct ks_err *err)
{
    char what[96];
    snprintf(what, sizeof(what), "read blob %.60s", key);
    struct ks_sqlcur c;
    *found = 0;
    enum ks_rc rc = q_query(db(s), ST_GET_BLOB, SQLV(V_TEXT(key)), &c, err, what);
    if (rc != KS_OK) {
        return rc;
    }
    int r = q_next(&c, err, what);
    if (r == 1) {
        size_t n = 0;
        const void *p = c.drv->col_bytes(&c, 0, &n);
        ks_buf_put(out, p, n);
        *found = 1;
    }
    return end_list(&c, r);
}

/* ---- the guarded feed, the SKU dictionary, the checkpoint ------------------------------ */

static enum ks_rc sql_add_feed_block(struct ks_store *s, const char *channel, int64_t first,
                                     int64_t last, const void *data, size_t n, struct ks_err *err)
{
    return q_exec(db(s), ST_ADD_FEED_BLOCK,
                  SQLV(V_TEXT(channel), V_INT(first), V_INT(last), V_BYTES(data, n)), NULL, NULL,
                  err, "insert feed block");
}

/* Calls fn(ctx, int0, int1, bytes2) for the rows of a paged listing: the
 * statement takes (key0, key1, after) and gives pages ordered by column 0;
 * each page starts after the last row of the previous one. A page at a time
 * keeps a client that reads whole results (libpq) from holding them all. */
#define BLOCK_PAGE 64 /* the LIMIT of the paged statements */

static enum ks_rc each_block(struct sqlstore *d, enum ks_st id, const char *text, int64_t bound,
                             int (*fn)(void *ctx, int64_t a, int64_t b, const void *p, size_t n),
                             void *ctx, struct ks_err *err, const char *what)
{
    int64_t after = INT64_MIN;
    for (;;) {
        struct ks_sqlcur c;
        enum ks_rc rc = text ? q_query(d, id, SQLV(V_TEXT(text), V_INT(bound), V_INT(after)), &c,
                                       err, what)
                             : q_query(d, id, SQLV(V_INT(bound), V_INT(after)), &c, err, what);
        if (rc != KS_OK) {
            return rc;
        }
        int r = 0, rows = 0, stop = 0;
        while (!stop && (r = q_next(&c, err, what)) == 1) {
            size_t n = 0;
            const void *p = c.drv->col_bytes(&c, 2, &n);
            after = c_int(&c, 0);
            rows++;
            stop = fn(ctx, after, c_int(&c, 1), p, n);
        }
        q_done(&c);
        if (!stop && r < 0) {
            return KS_EIO;
        }
        if (stop || rows < BLOCK_PAGE) {
            return KS_OK;
        }
    }
}

static enum ks_rc sql_list_feed_blocks(struct ks_store *s, const char *channel, int64_t since,
                                       ks_feed_block_fn fn, void *ctx, struct ks_err *err)
{
    return each_block(db(s), ST_LIST_FEED_BLOCKS, channel, since, fn, ctx, err, "list feed");
}

static enum ks_rc sql_list_feed_channels(struct ks_store *s,
                                         int (*fn)(void *ctx, const char *ch), void *ctx,
                                         struct ks_err *err)
{
    const char *what = "list feed channels";
    struct ks_sqlcur c;
    enum ks_rc rc = q_query(db(s), ST_FEED_CHANNELS, SQLV_NONE, &c, err, what);
    if (rc != KS_OK) {
        return rc;
    }
    int r;
    while ((r = q_next(&c, err, what)) == 1 && !fn(ctx, c_text(&c, 0))) {
    }
    return end_list(&c, r);
}

static enum ks_rc sql_trim_feed(struct ks_store *s, const char *channel, int64_t seq,
                                struct ks_err *err)
{
    char what[96];
    snprintf(what, sizeof(what), "trim feed of %.60s", channel);
    return q_exec(db(s), ST_TRIM_FEED, SQLV(V_TEXT(channel), V_INT(seq)), NULL, NULL, err, what);
}

static enum ks_rc sql_add_skus(struct ks_store *s, int64_t first, int64_t count, const void *data,
                               size_t n, struct ks_err *err)
{
    return q_exec(db(s), ST_ADD_SKUS, SQLV(V_INT(first), V_INT(count), V_BYTES(data, n)), NULL,
                  NULL, err, "insert SKU dictionary block");
}

static enum ks_rc sql_list_skus(struct ks_store *s, int64_t below, ks_sku_block_fn fn, void *ctx,
                                struct ks_err *err)
{
    return each_block(db(s), ST_LIST_SKUS, NULL, below, fn, ctx, err, "read SKU dictionary");
}

static enum ks_rc sql_ck_clear(struct ks_store *s, struct ks_err *err)
{
    return q_exec(db(s), ST_CK_CLEAR, SQLV_NONE, NULL, NULL, err, "clear checkpoint");
}

static enum ks_rc sql_ck_put(struct ks_store *s, int64_t part, const void *p, size_t n,
                             struct ks_err *err)
{
    char what[96];
    snprintf(what, sizeof(what), "save checkpoint part %lld (%zu bytes)", (long long)part, n);
    return q_exec(db(s), ST_CK_PUT, SQLV(V_INT(part), V_BYTES(p, n)), NULL, NULL, err, what);
}

static enum ks_rc sql_ck_open(struct ks_store *s, uint64_t *total, int *found, struct ks_err *err)
{
    struct sqlstore *d = db(s);
    int64_t v[2];
    enum ks_rc rc = q_ints(d, ST_CK_SIZE, SQLV_NONE, v, 2, NULL, err, "read checkpoint");
    *found = rc == KS_OK && v[0] > 0;
    *total = rc == KS_OK ? (uint64_t)v[1] : 0;
    d->ck_part = 0;
    return rc;
}

/* Parts are read one by one by number (0, 1, ...), each held until the
 * next call: the checkpoint is never in memory twice. */
static enum ks_rc sql_ck_next(struct ks_store *s, const void **p, size_t *n, struct ks_err *err)
{
    struct sqlstore *d = db(s);
    if (d->ck_reading) {
        q_done(&d->ck);
        d->ck_reading = 0;
    }
    *p = NULL;
    *n = 0;
    enum ks_rc rc =
        q_query(d, ST_CK_PART, SQLV(V_INT(d->ck_part)), &d->ck, err, "read checkpoint");
    if (rc != KS_OK) {
        return rc;
    }
    int r = q_next(&d->ck, err, "read checkpoint");
    if (r != 1) {
        q_done(&d->ck);
        return r < 0 ? KS_EIO : KS_OK;
    }
    d->ck_reading = 1;
    d->ck_part++;
    *p = d->ck.drv->col_bytes(&d->ck, 0, n);
    return KS_OK;
}

static void sql_ck_close(struct ks_store *s)
{
    struct sqlstore *d = db(s);
    if (d->ck_reading) {
        q_done(&d->ck);
        d->ck_reading = 0;
    }
}

static enum ks_rc sql_max_ids(struct ks_store *s, int64_t *dl, int64_t *hook, struct ks_err *err)
{
    int64_t v[2];
    enum ks_rc rc = q_ints(db(s), ST_MAX_IDS, SQLV_NONE, v, 2, NULL, err, "read last ids");
    *dl = v[0];
    *hook = v[1];
    return rc;
}

static enum ks_rc sql_trim(struct ks_store *s, const struct ks_store_trim *t, struct ks_err *err)
{
    struct sqlstore *d = db(s);
    enum ks_rc rc =
        q_exec(d, ST_TRIM_DL, SQLV(V_INT(t->deadletter)), NULL, NULL, err, "undo dead letters");
    if (rc == KS_OK) {
        rc = q_exec(d, ST_TRIM_HOOKS, SQLV(V_INT(t->hook)), NULL, NULL, err, "undo hook calls");
    }
    if (rc == KS_OK) {
        rc = q_exec(d, ST_TRIM_SKUS, SQLV(V_INT(t->skus)), NULL, NULL, err,
                    "undo SKU dictionary");
    }
    if (rc == KS_OK) {
        rc = q_exec(d, ST_TRIM_INCIDENTS, SQLV(V_INT(t->incidents)), NULL, NULL, err,
                    "undo incidents");
    }
    if (rc == KS_OK) {
        rc = q_exec(d, ST_TRIM_SCOPE, SQLV(V_INT(t->incidents)), NULL, NULL, err,
                    "undo incidents' scope");
    }
    if (rc == KS_OK) {
        rc = q_exec(d, ST_TRIM_SEQ, SQLV(V_INT(t->deadletter), V_INT(t->hook)), NULL, NULL, err,
                    "reset ids");
    }
    if (rc == KS_OK && t->messages >= 0) {
        rc = q_exec(d, ST_TRIM_MESSAGES, SQLV(V_INT(t->messages)), NULL, NULL, err,
                    "undo messages");
    }
    if (rc == KS_OK && t->triggers >= 0) {
        rc = q_exec(d, ST_TRIM_TRIGGERS, SQLV(V_INT(t->triggers)), NULL, NULL, err,
                    "undo triggers");
    }
    return rc;
}

static enum ks_rc sql_find_input(struct ks_store *s, const char *path, struct ks_input_row *out,
                                 int *found, struct ks_err *err)
{
    char what[128];
    snprintf(what, sizeof(what), "find input %.100s", path);
    int64_t v[6];
    enum ks_rc rc = q_ints(db(s), ST_FIND_INPUT, SQLV(V_TEXT(path)), v, 6, found, err, what);
    if (rc == KS_OK && *found) {
        *out = (struct ks_input_row){v[0], path, v[1], (uint64_t)v[2], v[3], v[4], v[5]};
    }
    return rc;
}

static enum ks_rc sql_put_input(struct ks_store *s, struct ks_input_row *r, struct ks_err *err)
{
    char what[128];
    snprintf(what, sizeof(what), "save position in %.100s", r->path);
    ks_time now = ks_time_now();
    int64_t changed = 0;
    enum ks_rc rc = KS_OK;
    if (r->id) {
        rc = q_exec(db(s), ST_UPDATE_INPUT,
                    SQLV(V_INT(r->id), V_TEXT(r->path), V_INT(r->prefix_len),
                         V_INT((int64_t)r->prefix_hash), V_INT(r->offset), V_INT(r->line),
                         V_INT(r->size), V_TIME(now)),
                    &changed, NULL, err, what);
    }
    if (rc == KS_OK && changed == 0) {
        rc = q_exec(db(s), ST_ADD_INPUT,
                    SQLV(V_TEXT(r->path), V_INT(r->prefix_len), V_INT((int64_t)r->prefix_hash),
                         V_INT(r->offset), V_INT(r->line), V_INT(r->size), V_TIME(now)),
                    NULL, &r->id, err, what);
    }
    return rc;
}

/* ---- the hook outbox --------------------------------------------------------------------- */

static enum ks_rc sql_add_hook(struct ks_store *s, const struct ks_hook_row *r,
                               struct ks_err *err)
{
    return q_exec(db(s), ST_ADD_HOOK,
                  SQLV(V_TEXT(r->key), V_INT(r->incident), V_TEXT(r->action), V_TEXT(r->body),
                       V_TEXT(r->status ? r->status : "pending"), V_INT(r->attempts),
                       V_TIME(r->next_at), V_TEXT(r->detail)),
                  NULL, NULL, err, "insert hook call");
}

static enum ks_rc hook_rows(struct ks_sqlcur *c,
                            int (*fn)(void *ctx, const struct ks_hook_row *row), void *ctx,
                            struct ks_err *err, const char *what);

static enum ks_rc sql_list_hooks(struct ks_store *s, const char *status,
                                 int (*fn)(void *ctx, const struct ks_hook_row *row), void *ctx,
                                 struct ks_err *err)
{
    const char *what = "list hook calls";
    struct ks_sqlcur c;
    enum ks_rc rc = status
                        ? q_query(db(s), ST_LIST_HOOKS_STATUS, SQLV(V_TEXT(status)), &c, err, what)
                        : q_query(db(s), ST_LIST_HOOKS_ALL, SQLV_NONE, &c, err, what);
    if (rc != KS_OK) {
        return rc;
    }
    return hook_rows(&c, fn, ctx, err, what);
}

static enum ks_rc sql_get_hook(struct ks_store *s, const char *key,
                               int (*fn)(void *ctx, const struct ks_hook_row *row), void *ctx,
                               struct ks_err *err)
{
    const char *what = "read a hook call";
    struct ks_sqlcur c;
    enum ks_rc rc = q_query(db(s), ST_GET_HOOK, SQLV(V_TEXT(key)), &c, err, what);
    return rc != KS_OK ? rc : hook_rows(&c, fn, ctx, err, what);
}

/* Calls fn for each row of a statement that gives KS_SQL_HOOK_COLS. */
static enum ks_rc hook_rows(struct ks_sqlcur *c,
                            int (*fn)(void *ctx, const struct ks_hook_row *row), void *ctx,
                            struct ks_err *err, const char *what)
{
    int r;
    while ((r = q_next(c, err, what)) == 1) {
        struct ks_hook_row row = {c_text(c, 0), c_int(c, 1), c_text(c, 2), c_text(c, 3),
                                  c_text(c, 4), c_int(c, 5), KS_TIME_NONE,  c_text(c, 7),
                                  c_int(c, 8),  c_text(c, 9), KS_TIME_NONE};
        c_time(c, 6, &row.next_at);
        c_time(c, 10, &row.lease_until);
        if (fn(ctx, &row)) {
            break;
        }
    }
    return end_list(c, r);
}

static enum ks_rc sql_update_hook(struct ks_store *s, const char *key, const char *status,
                                  int64_t attempts, ks_time next_at, const char *detail,
                                  struct ks_err *err)
{
    int64_t changed = 0;
    enum ks_rc rc = q_exec(db(s), ST_UPDATE_HOOK,
                           SQLV(V_TEXT(key), V_TEXT(status), V_INT(attempts), V_TIME(next_at),
                                V_TEXT(detail)),
                           &changed, NULL, err, "update hook call");
    if (rc == KS_OK && changed == 0) {
        return ks_err_set(err, KS_ENOTFOUND, "store: no hook call with key %s", key);
    }
    return rc;
}

/* ---- reviews, action items and entered costs (migration 4) ------------------------------- */

static enum ks_rc sql_put_review(struct ks_store *s, const struct ks_review_row *r,
                                 struct ks_err *err)
{
    char what[64];
    snprintf(what, sizeof(what), "save review of incident %lld", (long long)r->incident);
    return q_exec(db(s), ST_PUT_REVIEW,
                  SQLV(V_INT(r->incident), V_TEXT(r->doc), V_TEXT(r->by), V_TIME(r->at),
                       V_TIME(r->root_cause_at)),
                  NULL, NULL, err, what);
}

static enum ks_rc sql_list_reviews(struct ks_store *s, int64_t incident,
                                   int (*fn)(void *ctx, const struct ks_review_row *row),
                                   void *ctx, struct ks_err *err)
{
    const char *what = "list reviews";
    struct ks_sqlcur c;
    enum ks_rc rc =
        incident ? q_query(db(s), ST_LIST_REVIEWS_ONE, SQLV(V_INT(incident)), &c, err, what)
                 : q_query(db(s), ST_LIST_REVIEWS_ALL, SQLV_NONE, &c, err, what);
    if (rc != KS_OK) {
        return rc;
    }
    int r;
    while ((r = q_next(&c, err, what)) == 1) {
        struct ks_review_row row = {c_int(&c, 0), c_text(&c, 1), c_text(&c, 2),
                                    KS_TIME_NONE, KS_TIME_NONE,  KS_TIME_NONE};
        c_time(&c, 3, &row.at);
        c_time(&c, 4, &row.first_at);
        c_time(&c, 5, &row.root_cause_at);
        if (fn(ctx, &row)) {
            break;
        }
    }
    return end_list(&c, r);
}

static enum ks_rc sql_put_item(struct ks_store *s, struct ks_item_row *r, struct ks_err *err)
{
    char what[80];
    snprintf(what, sizeof(what), "save action item of incident %lld", (long long)r->incident);
    if (!r->id) {
        return q_exec(db(s), ST_ADD_ITEM,
                      SQLV(V_INT(r->incident), V_INT(r->pos), V_TEXT(r->text), V_TEXT(r->owner),
                           V_TIME(r->due), V_TEXT(r->kind), V_TEXT(r->status),
                           V_TEXT(r->closed_by), V_TIME(r->closed_at), V_TEXT(r->note)),
                      NULL, &r->id, err, what);
    }
    int64_t changed = 0;
    enum ks_rc rc = q_exec(db(s), ST_UPDATE_ITEM,
                           SQLV(V_INT(r->id), V_INT(r->incident), V_INT(r->pos), V_TEXT(r->text),
                                V_TEXT(r->owner), V_TIME(r->due), V_TEXT(r->kind),
                                V_TEXT(r->status), V_TEXT(r->closed_by), V_TIME(r->closed_at),
                                V_TEXT(r->note)),
                           &changed, NULL, err, what);
    if (rc == KS_OK && changed == 0) {
        return ks_err_set(err, KS_ENOTFOUND, "no action item %lld", (long long)r->id);
    }
    return rc;
}

static enum ks_rc sql_del_item(struct ks_store *s, int64_t id, struct ks_err *err)
{
    char what[64];
    snprintf(what, sizeof(what), "delete action item %lld", (long long)id);
    return q_exec(db(s), ST_DEL_ITEM, SQLV(V_INT(id)), NULL, NULL, err, what);
}

static enum ks_rc sql_list_items(struct ks_store *s, int64_t incident,
                                 int (*fn)(void *ctx, const struct ks_item_row *row), void *ctx,
                                 struct ks_err *err)
{
    const char *what = "list action items";
    struct ks_sqlcur c;
    enum ks_rc rc =
        incident ? q_query(db(s), ST_LIST_ITEMS_ONE, SQLV(V_INT(incident)), &c, err, what)
                 : q_query(db(s), ST_LIST_ITEMS_ALL, SQLV_NONE, &c, err, what);
    if (rc != KS_OK) {
        return rc;
    }
    int r;
    while ((r = q_next(&c, err, what)) == 1) {
        struct ks_item_row row = {c_int(&c, 0),   c_int(&c, 1),   c_int(&c, 2),
                                  c_text(&c, 3),  c_text(&c, 4),  KS_TIME_NONE,
                                  c_text(&c, 6),  c_text(&c, 7),  c_text(&c, 8),
                                  KS_TIME_NONE,   c_text(&c, 10)};
        c_time(&c, 5, &row.due);
        c_time(&c, 9, &row.closed_at);
        if (fn(ctx, &row)) {
            break;
        }
    }
    return end_list(&c, r);
}

static enum ks_rc sql_put_cost(struct ks_store *s, const struct ks_cost_row *r,
                               struct ks_err *err)
{
    char what[64];
    snprintf(what, sizeof(what), "save cost of incident %lld", (long long)r->incident);
    return q_exec(db(s), ST_PUT_COST,
                  SQLV(V_INT(r->incident), V_TEXT(r->part), V_REAL(r->amount), V_TEXT(r->by),
                       V_TIME(r->at)),
                  NULL, NULL, err, what);
}

static enum ks_rc sql_list_costs(struct ks_store *s, int64_t incident,
                                 int (*fn)(void *ctx, const struct ks_cost_row *row), void *ctx,
                                 struct ks_err *err)
{
    const char *what = "list costs";
    struct ks_sqlcur c;
    enum ks_rc rc =
        incident ? q_query(db(s), ST_LIST_COSTS_ONE, SQLV(V_INT(incident)), &c, err, what)
                 : q_query(db(s), ST_LIST_COSTS_ALL, SQLV_NONE, &c, err, what);
    if (rc != KS_OK) {
        return rc;
    }
    int r;
    while ((r = q_next(&c, err, what)) == 1) {
        struct ks_cost_row row = {c_int(&c, 0), c_text(&c, 1), c.drv->col_real(&c, 2),
                                  c_text(&c, 3), KS_TIME_NONE};
        c_time(&c, 4, &row.at);
        if (fn(ctx, &row)) {
            break;
        }
    }
    return end_list(&c, r);
}

/* ---- API tokens (migration 5) ------------------------------------------------------------- */

static enum ks_rc sql_add_token(struct ks_store *s, const struct ks_token_row *r,
                                struct ks_err *err)
{
    char what[96];
    snprintf(what, sizeof(what), "save token '%.60s'", r->name);
    int64_t changed = 0;
    enum ks_rc rc = q_exec(db(s), ST_ADD_TOKEN,
                           SQLV(V_TEXT(r->name), V_TEXT(r->role), V_BYTES(r->hash, sizeof(r->hash)),
                                V_TIME(r->created_at)),
                           &changed, NULL, err, what);
    if (rc == KS_OK && changed == 0) {
        return ks_err_set(err, KS_ESTATE,
                          "a token named '%s' already exists (names are never reused, revoked "
                          "tokens included: pick another name)",
                          r->name);
    }
    return rc;
}

static enum ks_rc sql_list_tokens(struct ks_store *s, const unsigned char *hash,
                                  int (*fn)(void *ctx, const struct ks_token_row *row), void *ctx,
                                  struct ks_err *err)
{
    const char *what = "list tokens";
    struct ks_sqlcur c;
    enum ks_rc rc = hash ? q_query(db(s), ST_LIST_TOKENS_HASH, SQLV(V_BYTES(hash, 32)), &c, err,
                                   what)
                         : q_query(db(s), ST_LIST_TOKENS_ALL, SQLV_NONE, &c, err, what);
    if (rc != KS_OK) {
        return rc;
    }
    int r;
    while ((r = q_next(&c, err, what)) == 1) {
        struct ks_token_row row = {c_text(&c, 0), c_text(&c, 1), {0}, KS_TIME_NONE,
                                   KS_TIME_NONE};
        size_t n = 0;
        const void *h = c.drv->col_bytes(&c, 2, &n);
        if (!row.name || !row.role || n != sizeof(row.hash)) {
            q_done(&c);
            return ks_err_set(err, KS_EIO, "store: a token row is damaged (name, role or hash)");
        }
        memcpy(row.hash, h, sizeof(row.hash));
        c_time(&c, 3, &row.created_at);
        c_time(&c, 4, &row.revoked_at);
        if (fn(ctx, &row)) {
            break;
        }
    }
    return end_list(&c, r);
}

static enum ks_rc sql_revoke_token(struct ks_store *s, const char *name, ks_time at,
                                   struct ks_err *err)
{
    char what[96];
    snprintf(what, sizeof(what), "revoke token '%.60s'", name);
    int64_t changed = 0, n = 0;
    enum ks_rc rc = q_exec(db(s), ST_REVOKE_TOKEN, SQLV(V_TEXT(name), V_TIME(at)), &changed, NULL,
                           err, what);
    if (rc != KS_OK || changed > 0) {
        return rc;
    }
    rc = q_ints(db(s), ST_HAS_TOKEN, SQLV(V_TEXT(name)), &n, 1, NULL, err, what);
    if (rc != KS_OK) {
        return rc;
    }
    if (n == 0) {
        return ks_err_set(err, KS_ENOTFOUND, "no token named '%s'", name);
    }
    return ks_err_set(err, KS_ESTATE, "token '%s' was already revoked", name);
}

/* ---- the server's journal (migration 6) ----------------------------------------------------- */

static enum ks_rc sql_add_journal(struct ks_store *s, struct ks_journal_row *r,
                                  struct ks_err *err)
{
    return q_exec(db(s), ST_ADD_JOURNAL,
                  SQLV(V_TEXT(r->kind), V_INT(r->at), V_TEXT(r->source), V_BYTES(r->data, r->len)),
                  NULL, &r->seq, err, "append to the journal");
}

static enum ks_rc sql_list_journal(struct ks_store *s, int64_t after,
                                   int (*fn)(void *ctx, const struct ks_journal_row *row),
                                   void *ctx, struct ks_err *err)
{
    const char *what = "read the journal";
    struct ks_sqlcur c;
    enum ks_rc rc = q_query(db(s), ST_LIST_JOURNAL, SQLV(V_INT(after)), &c, err, what);
    if (rc != KS_OK) {
        return rc;
    }
    int r;
    while ((r = q_next(&c, err, what)) == 1) {
        struct ks_journal_row row = {c_int(&c, 0), c_text(&c, 1), c_int(&c, 2), c_text(&c, 3),
                                     NULL, 0};
        row.data = c.drv->col_bytes(&c, 4, &row.len);
        if (fn(ctx, &row)) {
            break;
        }
    }
    return end_list(&c, r);
}

static enum ks_rc sql_trim_journal(struct ks_store *s, int64_t upto, struct ks_err *err)
{
    return q_exec(db(s), ST_TRIM_JOURNAL, SQLV(V_INT(upto)), NULL, NULL, err,
                  "trim the journal");
}

/* ---- the outbox of messages (migration 7) --------------------------------------------------- */

static enum ks_rc sql_add_message(struct ks_store *s, struct ks_message_row *r, int *added,
                                  struct ks_err *err)
{
    int64_t changed = 0, id = 0;
    enum ks_rc rc = q_exec(db(s), ST_ADD_MESSAGE,
                           SQLV(V_TEXT(r->key), V_INT(r->incident), V_TEXT(r->kind),
                                V_TEXT(r->audience), V_TEXT(r->recipient), V_TEXT(r->receiver),
                                V_TEXT(r->order_id), V_TEXT(r->subject), V_TEXT(r->body),
                                V_TEXT(r->status ? r->status : "queued"), V_INT(r->attempts),
                                V_TIME(r->created_at), V_TIME(r->sent_at), V_TIME(r->next_at),
                                V_TEXT(r->detail)),
                           &changed, &id, err, "queue message");
    *added = rc == KS_OK && changed > 0;
    if (*added) {
        r->id = id;
    }
    return rc;
}

static enum ks_rc message_rows(struct ks_sqlcur *c,
                               int (*fn)(void *ctx, const struct ks_message_row *row), void *ctx,
                               struct ks_err *err, const char *what);

static enum ks_rc sql_list_messages(struct ks_store *s, const struct ks_message_filter *f,
                                    int (*fn)(void *ctx, const struct ks_message_row *row),
                                    void *ctx, struct ks_err *err)
{
    const char *what = "list messages";
    struct ks_sqlcur c;
    enum ks_rc rc = q_query(db(s), ST_LIST_MESSAGES,
                            SQLV(V_INT(f ? f->id : 0), V_INT(f ? f->incident : 0),
                                 V_TEXT(f ? f->audience : NULL), V_TEXT(f ? f->status : NULL),
                                 V_TEXT(f ? f->receiver : NULL)),
                            &c, err, what);
    if (rc != KS_OK) {
        return rc;
    }
    return message_rows(&c, fn, ctx, err, what);
}

/* Calls fn for each row of a statement that gives KS_SQL_MESSAGE_COLS. */
static enum ks_rc message_rows(struct ks_sqlcur *c,
                               int (*fn)(void *ctx, const struct ks_message_row *row), void *ctx,
                               struct ks_err *err, const char *what)
{
    int r;
    while ((r = q_next(c, err, what)) == 1) {
        struct ks_message_row m = {
            .id = c_int(c, 0),
            .key = c_text(c, 1),
            .incident = c_int(c, 2),
            .kind = c_text(c, 3),
            .audience = c_text(c, 4),
            .recipient = c_text(c, 5),
            .receiver = c_text(c, 6),
            .order_id = c_text(c, 7),
            .subject = c_text(c, 8),
            .body = c_text(c, 9),
            .status = c_text(c, 10),
            .attempts = c_int(c, 11),
            .detail = c_text(c, 15),
            .lease_owner = c_text(c, 16),
        };
        c_time(c, 12, &m.created_at);
        c_time(c, 13, &m.sent_at);
        c_time(c, 14, &m.next_at);
        c_time(c, 17, &m.lease_until);
        if (fn(ctx, &m)) {
            break;
        }
    }
    return end_list(c, r);
}

/* ---- delivery leases (migration 10) --------------------------------------------------------- */

/* A claim's rows handed on, counted. */
struct counted {
    int (*fn)(void *ctx, const struct ks_message_row *row);
    void *ctx;
    int64_t n;
};

static int count_row(void *ctx, const struct ks_message_row *row)
{
    struct counted *k = ctx;
    k->n++;
    return k->fn(k->ctx, row);
}

static enum ks_rc sql_claim_due(struct ks_store *s, int messages, const char *receiver,
                                const char *owner, ks_time now, ks_time until, int64_t limit,
                                int (*fn)(void *ctx, const struct ks_hook_row *row),
                                int (*mfn)(void *ctx, const struct ks_message_row *row), void *ctx,
                                struct ks_err *err)
{
    const char *what = messages ? "claim due messages" : "claim due hook calls";
    struct ks_sqlcur c;
    if (!messages) {
        enum ks_rc rc = q_query(db(s), ST_CLAIM_HOOKS,
                                SQLV(V_TEXT(owner), V_TIME(until), V_TIME(now), V_INT(limit)), &c,
                                err, what);
        return rc != KS_OK ? rc : hook_rows(&c, fn, ctx, err, what);
    }
    /* the shop's people first, then customers up to the limit */
    struct counted k = {mfn, ctx, 0};
    enum ks_st st[2] = {ST_CLAIM_PEOPLE, ST_CLAIM_CUSTOMERS};
    for (int i = 0; i < 2 && k.n < limit; i++) {
        enum ks_rc rc = q_query(db(s), st[i],
                                SQLV(V_TEXT(owner), V_TIME(until), V_TIME(now),
                                     V_INT(limit - k.n), V_TEXT(receiver)),
                                &c, err, what);
        if (rc == KS_OK) {
            rc = message_rows(&c, count_row, &k, err, what);
        }
        if (rc != KS_OK) {
            return rc;
        }
    }
    return KS_OK;
}

static enum ks_rc sql_due_summary(struct ks_store *s, int messages, const char *receiver,
                                  const char *owner, ks_time now, int64_t *due, ks_time *next,
                                  struct ks_err *err)
{
    const char *what = messages ? "look for due messages" : "look for due hook calls";
    struct ks_sqlcur c;
    enum ks_rc rc = messages ? q_query(db(s), ST_DUE_MESSAGES,
                                       SQLV(V_TEXT(owner), V_TIME(now), V_TEXT(receiver)), &c,
                                       err, what)
                             : q_query(db(s), ST_DUE_HOOKS, SQLV(V_TEXT(owner), V_TIME(now)),
                                       &c, err, what);
    if (rc != KS_OK) {
        return rc;
    }
    *due = 0;
    *next = KS_TIME_NONE;
    int r = q_next(&c, err, what);
    if (r == 1) {
        ks_time a = KS_TIME_NONE, b = KS_TIME_NONE;
        *due = c_int(&c, 0);
        c_time(&c, 1, &a);
        c_time(&c, 2, &b);
        *next = a == KS_TIME_NONE || (b != KS_TIME_NONE && b < a) ? b : a;
    }
    return end_list(&c, r);
}

static enum ks_rc sql_void_leases(struct ks_store *s, const char *process, struct ks_err *err)
{
    enum ks_rc rc = q_exec(db(s), ST_VOID_HOOK_LEASES, SQLV(V_TEXT(process)), NULL, NULL, err,
                           "end the leases of hook calls");
    if (rc == KS_OK) {
        rc = q_exec(db(s), ST_VOID_MESSAGE_LEASES, SQLV(V_TEXT(process)), NULL, NULL, err,
                    "end the leases of messages");
    }
    return rc;
}

static enum ks_rc sql_due_now(struct ks_store *s, const char *receiver, int64_t *n,
                              struct ks_err *err)
{
    *n = 0;
    return q_exec(db(s), ST_DUE_NOW, SQLV(V_TEXT(receiver)), n, NULL, err,
                  "make waiting messages due");
}

static enum ks_rc sql_hold_messages(struct ks_store *s, const char *receiver, const char *owner,
                                    ks_time now, ks_time until, const char *detail, int64_t *held,
                                    struct ks_err *err)
{
    *held = 0;
    return q_exec(db(s), ST_HOLD_MESSAGES,
                  SQLV(V_TEXT(receiver), V_TEXT(owner), V_TIME(now), V_TIME(until), V_TEXT(detail)),
                  held, NULL, err, "hold the messages of a receiver");
}

static enum ks_rc sql_update_message(struct ks_store *s, int64_t id, const char *status,
                                     int64_t attempts, ks_time next_at, ks_time sent_at,
                                     const char *detail, struct ks_err *err)
{
    char what[64];
    snprintf(what, sizeof(what), "update message %lld", (long long)id);
    int64_t changed = 0;
    enum ks_rc rc = q_exec(db(s), ST_UPDATE_MESSAGE,
                           SQLV(V_INT(id), V_TEXT(status), V_INT(attempts), V_TIME(next_at),
                                V_TIME(sent_at), V_TEXT(detail)),
                           &changed, NULL, err, what);
    if (rc == KS_OK && changed == 0) {
        return ks_err_set(err, KS_ENOTFOUND, "no message %lld", (long long)id);
    }
    return rc;
}

static enum ks_rc sql_message_id(struct ks_store *s, const char *key, const char *receiver,
                                 int64_t *id, struct ks_err *err)
{
    int found = 0;
    enum ks_rc rc = q_ints(db(s), ST_MESSAGE_ID, SQLV(V_TEXT(key), V_TEXT(receiver)), id, 1,
                           &found, err, "find a message by key");
    if (rc == KS_OK && !found) {
        return ks_err_set(err, KS_ENOTFOUND, "no message of key %s for %s", key, receiver);
    }
    return rc;
}

static enum ks_rc sql_get_trigger(struct ks_store *s, int64_t incident, const char *name,
                                  int64_t seq, struct ks_trigger_row *out, int *found,
                                  struct ks_err *err)
{
    const char *what = "read trigger";
    struct ks_sqlcur c;
    *found = 0;
    enum ks_rc rc = q_query(db(s), ST_GET_TRIGGER, SQLV(V_INT(incident), V_TEXT(name), V_INT(seq)),
                            &c, err, what);
    if (rc != KS_OK) {
        return rc;
    }
    int r = q_next(&c, err, what);
    if (r == 1) {
        *found = 1;
        *out = (struct ks_trigger_row){incident, name, seq, KS_TIME_NONE, c_int(&c, 1)};
        c_time(&c, 0, &out->at);
    }
    return end_list(&c, r);
}

static enum ks_rc sql_put_trigger(struct ks_store *s, const struct ks_trigger_row *r,
                                  struct ks_err *err)
{
    return q_exec(db(s), ST_PUT_TRIGGER,
                  SQLV(V_INT(r->incident), V_TEXT(r->name), V_INT(r->seq), V_TIME(r->at),
                       V_INT(r->done)),
                  NULL, NULL, err, "record trigger");
}

static enum ks_rc sql_message_stats(struct ks_store *s,
                                    int (*fn)(void *ctx, const struct ks_message_stat *st),
                                    void *ctx, struct ks_err *err)
{
    const char *what = "count messages by receiver";
    struct ks_sqlcur c;
    enum ks_rc rc = q_query(db(s), ST_MESSAGE_STATS, SQLV_NONE, &c, err, what);
    if (rc != KS_OK) {
        return rc;
    }
    int r;
    while ((r = q_next(&c, err, what)) == 1) {
        struct ks_message_stat st = {.receiver = c_text(&c, 0),
                                     .status = c_text(&c, 1),
                                     .count = c_int(&c, 2),
                                     .oldest = KS_TIME_NONE,
                                     .last_detail = c_text(&c, 4),
                                     .next_at = KS_TIME_NONE};
        c_time(&c, 3, &st.oldest);
        c_time(&c, 5, &st.next_at);
        if (fn(ctx, &st)) {
            break;
        }
    }
    return end_list(&c, r);
}

static enum ks_rc sql_max_message_ids(struct ks_store *s, int64_t *message, int64_t *trigger,
                                      struct ks_err *err)
{
    int64_t v[2];
    enum ks_rc rc =
        q_ints(db(s), ST_MAX_MESSAGE_IDS, SQLV_NONE, v, 2, NULL, err, "read last message ids");
    *message = v[0];
    *trigger = v[1];
    return rc;
}

/* ---- remedies (migration 8) ------------------------------------------------------------------ */

/* A new remedy (id 0) takes the next id; a known one is replaced whole, so
 * that writing the same row again changes nothing. */
static enum ks_rc sql_put_remedy(struct ks_store *s, struct ks_remedy_row *r, struct ks_err *err)
{
    char what[80];
    snprintf(what, sizeof(what), "save remedy of incident %lld", (long long)r->incident);
#define REMEDY_VALUES                                                                              \
    V_INT(r->incident), V_TEXT(r->order_id), V_TEXT(r->kind),                                     \
        r->has_amount ? V_REAL(r->amount) : V_NULL, V_TEXT(r->currency), V_TEXT(r->status),        \
        V_TEXT(r->by), V_TEXT(r->approved_by), V_TIME(r->requested_at), V_TIME(r->granted_at),     \
        V_TEXT(r->note), V_INT(r->affected), V_TEXT(r->complex), V_TIME(r->review_due),            \
        V_TEXT(r->review_status), V_INT(r->review_missed), V_TEXT(r->reviewed_by),                 \
        V_TIME(r->reviewed_at), V_TEXT(r->declined_by), V_TIME(r->declined_at),                    \
        V_TEXT(r->declined_why)
    if (!r->id) {
        return q_exec(db(s), ST_ADD_REMEDY, SQLV(REMEDY_VALUES), NULL, &r->id, err, what);
    }
    return q_exec(db(s), ST_PUT_REMEDY, SQLV(REMEDY_VALUES, V_INT(r->id)), NULL, NULL, err, what);
#undef REMEDY_VALUES
}

static enum ks_rc sql_list_remedies(struct ks_store *s, int64_t incident, int64_t id,
                                    int (*fn)(void *ctx, const struct ks_remedy_row *row),
                                    void *ctx, struct ks_err *err)
{
    const char *what = "list remedies";
    struct ks_sqlcur c;
    enum ks_rc rc =
        id         ? q_query(db(s), ST_LIST_REMEDIES_ID, SQLV(V_INT(id)), &c, err, what)
        : incident ? q_query(db(s), ST_LIST_REMEDIES_INCIDENT, SQLV(V_INT(incident)), &c, err, what)
                   : q_query(db(s), ST_LIST_REMEDIES_ALL, SQLV_NONE, &c, err, what);
    if (rc != KS_OK) {
        return rc;
    }
    int r;
    while ((r = q_next(&c, err, what)) == 1) {
        struct ks_remedy_row m = {
            .id = c_int(&c, 0),
            .incident = c_int(&c, 1),
            .order_id = c_text(&c, 2),
            .kind = c_text(&c, 3),
            .amount = c.drv->col_real(&c, 4),
            .has_amount = !c.drv->is_null(&c, 4),
            .currency = c_text(&c, 5),
            .status = c_text(&c, 6),
            .by = c_text(&c, 7),
            .approved_by = c_text(&c, 8),
            .note = c_text(&c, 11),
            .affected = (int)c_int(&c, 12),
            .complex = c_text(&c, 13),
            .review_status = c_text(&c, 15),
            .review_missed = (int)c_int(&c, 16),
            .reviewed_by = c_text(&c, 17),
            .declined_by = c_text(&c, 19),
            .declined_why = c_text(&c, 21),
        };
        c_time(&c, 9, &m.requested_at);
        c_time(&c, 10, &m.granted_at);
        c_time(&c, 14, &m.review_due);
        c_time(&c, 18, &m.reviewed_at);
        c_time(&c, 20, &m.declined_at);
        if (fn(ctx, &m)) {
            break;
        }
    }
    return end_list(&c, r);
}

/* ---- the write-ahead log's copy (SQLite only) -------------------------------------------------- */

static enum ks_rc sql_log_autocopy(struct ks_store *s, int on, struct ks_err *err)
{
    struct sqlstore *d = db(s);
    return d->drv->log_autocopy ? d->drv->log_autocopy(d->conn, on, err) : KS_OK;
}

static enum ks_rc sql_copy_log(struct ks_store *s, struct ks_err *err)
{
    struct sqlstore *d = db(s);
    return d->drv->copy_log ? d->drv->copy_log(d->conn, err) : KS_OK;
}

/* ---- the two tables of operations ------------------------------------------------------------ */

#define SQL_OPS                                                                                    \
    .close = sql_close, .begin = sql_begin, .commit = sql_commit, .rollback = sql_rollback,        \
    .put_incident = sql_put_incident, .get_incident = sql_get_incident,                            \
    .list_incidents = sql_list_incidents, .add_deadletter = sql_add_deadletter,                    \
    .list_deadletters = sql_list_deadletters, .update_deadletter = sql_update_deadletter,          \
    .put_blob = sql_put_blob, .get_blob = sql_get_blob, .add_feed_block = sql_add_feed_block,      \
    .list_feed_blocks = sql_list_feed_blocks, .list_feed_channels = sql_list_feed_channels,        \
    .trim_feed = sql_trim_feed, .add_skus = sql_add_skus, .list_skus = sql_list_skus,              \
    .ck_clear = sql_ck_clear, .ck_put = sql_ck_put, .ck_open = sql_ck_open,                        \
    .ck_next = sql_ck_next, .ck_close = sql_ck_close, .max_ids = sql_max_ids, .trim = sql_trim,    \
    .find_input = sql_find_input, .put_input = sql_put_input, .release = sql_release,              \
    .add_hook = sql_add_hook, .list_hooks = sql_list_hooks, .get_hook = sql_get_hook,              \
    .update_hook = sql_update_hook,                                                                \
    .put_review = sql_put_review, .list_reviews = sql_list_reviews, .put_item = sql_put_item,      \
    .del_item = sql_del_item, .list_items = sql_list_items, .put_cost = sql_put_cost,              \
    .list_costs = sql_list_costs, .add_token = sql_add_token, .list_tokens = sql_list_tokens,      \
    .revoke_token = sql_revoke_token, .add_journal = sql_add_journal,                              \
    .list_journal = sql_list_journal, .trim_journal = sql_trim_journal,                            \
    .add_message = sql_add_message, .list_messages = sql_list_messages,                            \
    .update_message = sql_update_message, .message_id = sql_message_id,                            \
    .claim_due = sql_claim_due,                            \
    .void_leases = sql_void_leases, .due_summary = sql_due_summary,                              \
    .hold_messages = sql_hold_messages, .due_now = sql_due_now,                                    \
    .get_trigger = sql_get_trigger,                          \
    .put_trigger = sql_put_trigger, .max_message_ids = sql_max_message_ids,                        \
    .message_stats = sql_message_stats,                        \
    .put_remedy = sql_put_remedy, .list_remedies = sql_list_remedies

const struct ks_store_ops ks_store_sqlite_ops = {
    .name = "sqlite",
    .open = open_sqlite,
    .log_autocopy = sql_log_autocopy,
    .copy_log = sql_copy_log,
    SQL_OPS,
};

/* The writer lock lives in the database (an advisory lock), not on a file.
 * No log_autocopy / copy_log: the server manages its own WAL, and kintsugi
 * serve starts no copying thread for it (docs/STORAGE.md). */
const struct ks_store_ops ks_store_pg_ops = {
    .name = "postgres",
    .open = open_pg,
    .lock_writer = sql_lock_writer,
    SQL_OPS,
};
