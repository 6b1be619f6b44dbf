/*
 * test_auth.c - API tokens: their shape, what the store keeps (the SHA-256,
 * never the text), verification with roles, revocation, unique names,
 * migration 5 on an older database, and a token taken by the HTTP server
 * end to end. The store tests run on SQLite and on PostgreSQL (tdb.h).
 */
#include "../../src/auth/auth.h"
#include "../../src/http/http.h"
#include "../../src/store/store.h"
#include "tdb.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static struct ks_store *open_ok(void)
{
    struct ks_store *s = NULL;
    struct ks_err err = {0};
    if (ks_store_open(&s, tdb_uri, &err) != KS_OK) {
        fprintf(stderr, "FAIL %s: open %s: %s\n", t_current, tdb_uri, err.msg);
        t_failed_checks++;
        exit(1);
    }
    return s;
}

static const ks_time T0 = 1795000000000LL; /* 2026-11-18 */

static void create_ok(struct ks_store *s, const char *name, enum ks_auth_role role,
                      char tok[KS_TOKEN_BUF])
{
    struct ks_err err = {0};
    enum ks_rc rc = ks_auth_create(s, name, role, T0, tok, &err);
    if (rc != KS_OK) {
        fprintf(stderr, "FAIL %s: create %s: %s\n", t_current, name, err.msg);
        t_failed_checks++;
    }
}

/* ---- tests ----------------------------------------------------------------- */

static void sha256_matches_the_standard_vector(void)
{
    unsigned char h[32];
    ks_sha256("abc", 3, h);
    char hex[65];
    for (int i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    }
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void roles_are_ordered_and_named(void)
{
    enum ks_auth_role r;
    CHECK(KS_ROLE_NONE < KS_ROLE_VIEWER && KS_ROLE_VIEWER < KS_ROLE_RESPONDER &&
          KS_ROLE_RESPONDER < KS_ROLE_ADMIN);
    CHECK_INT(ks_role_parse("responder", &r), 0);
    CHECK_INT(r, KS_ROLE_RESPONDER);
    CHECK_INT(ks_role_parse("none", &r), -1);
    CHECK_INT(ks_role_parse("Admin", &r), -1);
    CHECK_INT(ks_role_parse(NULL, &r), -1);
    CHECK_STR(ks_role_name(KS_ROLE_ADMIN), "admin");
    CHECK_STR(ks_role_name(KS_ROLE_NONE), "none");
}

static void token_is_ks_and_43_base64url_characters_and_verifies_with_its_role(void)
{
    tdb_setup();
    long before = ks_alloc_live();
    struct ks_store *s = open_ok();
    char a[KS_TOKEN_BUF], b[KS_TOKEN_BUF];
    create_ok(s, "ci", KS_ROLE_RESPONDER, a);
    create_ok(s, "alice@shop", KS_ROLE_ADMIN, b);
    CHECK_INT(strlen(a), 46);
    CHECK(strncmp(a, "ks_", 3) == 0);
    CHECK_INT(strspn(a + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              43);
    CHECK(strcmp(a, b) != 0);
    struct ks_auth_who who;
    struct ks_err err = {0};
    CHECK_INT(ks_auth_verify(s, a, &who, &err), KS_OK);
    CHECK_STR(who.name, "ci");
    CHECK_INT(who.role, KS_ROLE_RESPONDER);
    CHECK_INT(ks_auth_verify(s, b, &who, &err), KS_OK);
    CHECK_STR(who.name, "alice@shop");
    CHECK_INT(who.role, KS_ROLE_ADMIN);
    ks_store_close(s);
    CHECK_INT(ks_alloc_live(), before);
    tdb_teardown();
}

static void the_store_keeps_the_sha256_never_the_token(void)
{
    tdb_setup();
    struct ks_store *s = open_ok();
    char tok[KS_TOKEN_BUF];
    create_ok(s, "ci", KS_ROLE_VIEWER, tok);
    ks_store_close(s);
    unsigned char h[32];
    ks_sha256(tok, strlen(tok), h);
    char sql[1200], hex[65];
    for (int i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02X", h[i]);
    }
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM tokens WHERE %s = '%s'",
             tdb_pg ? "upper(encode(hash, 'hex'))" : "hex(hash)", hex);
    CHECK_INT(tdb_int(sql), 1);
    if (tdb_pg) {
        /* and nothing else in the table holds its text */
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM tokens t WHERE position('%.43s' in t::text) > 0", tok + 3);
        CHECK_INT(tdb_int(sql), 0);
        tdb_teardown();
        return;
    }
    /* the token's text is nowhere in the file (the random part of it) */
    FILE *f = fopen(tdb_uri, "rb");
    CHECK(f != NULL);
    if (f) {
        static char data[1 << 20];
        size_t n = fread(data, 1, sizeof(data), f);
        fclose(f);
        CHECK(memmem(data, n, tok + 3, 43) == NULL);
        CHECK(memmem(data, n, "ci", 2) != NULL); /* the name is */
    }
    /* nor in the write-ahead log */
    snprintf(sql, sizeof(sql), "%s-wal", tdb_uri);
    f = fopen(sql, "rb");
    if (f) {
        static char wal[4 << 20];
        size_t n = fread(wal, 1, sizeof(wal), f);
        fclose(f);
        CHECK(memmem(wal, n, tok + 3, 43) == NULL);
    }
    tdb_teardown();
}

static void unknown_malformed_and_missing_tokens_are_refused(void)
{
    tdb_setup();
    long before = ks_alloc_live();
    struct ks_store *s = open_ok();
    char tok[KS_TOKEN_BUF];
    create_ok(s, "ci", KS_ROLE_VIEWER, tok);
    struct ks_auth_who who;
    struct ks_err err = {0};
    /* one character changed: well formed, unknown */
    char other[KS_TOKEN_BUF];
    memcpy(other, tok, sizeof(other));
    other[10] = other[10] == 'A' ? 'B' : 'A';
    CHECK_INT(ks_auth_verify(s, other, &who, &err), KS_ENOTFOUND);
    CHECK_STR(err.msg, "unknown token");
    CHECK_STR(who.name, "");
    CHECK_INT(who.role, KS_ROLE_NONE);
    CHECK_INT(ks_auth_verify(s, "ks_short", &who, &err), KS_EINPUT);
    CHECK(strstr(err.msg, "not a kintsugi token") != NULL);
    char bad[KS_TOKEN_BUF];
    memcpy(bad, tok, sizeof(bad));
    bad[20] = '+'; /* not base64url */
    CHECK_INT(ks_auth_verify(s, bad, &who, &err), KS_EINPUT);
    CHECK_INT(ks_auth_verify(s, "", &who, &err), KS_EINPUT);
    CHECK_INT(ks_auth_verify(s, NULL, &who, &err), KS_EINPUT);
    char longer[KS_TOKEN_BUF + 1];
    snprintf(longer, sizeof(longer), "%sA", tok);
    CHECK_INT(ks_auth_verify(s, longer, &who, &err), KS_EINPUT);
    ks_store_close(s);
    CHECK_INT(ks_alloc_live(), before);
    tdb_teardown();
}

static void a_revoked_token_stops_verifying_and_stays_listed(void)
{
    tdb_setup();
    struct ks_store *s = open_ok();
    char tok[KS_TOKEN_BUF];
    create_ok(s, "ci", KS_ROLE_RESPONDER, tok);
    struct ks_err err = {0};
    int was = -1;
    CHECK_INT(ks_auth_revoke(s, "ci", T0 + 1000, &was, &err), KS_OK);
    CHECK_INT(was, 0);
    struct ks_auth_who who;
    CHECK_INT(ks_auth_verify(s, tok, &who, &err), KS_ESTATE);
    CHECK_STR(err.msg, "token 'ci' was revoked");
    /* again: nothing changes, the first time is kept */
    CHECK_INT(ks_auth_revoke(s, "ci", T0 + 5000, &was, &err), KS_OK);
    CHECK_INT(was, 1);
    CHECK_INT(tdb_int("SELECT count(*) FROM tokens WHERE revoked_at = '2026-11-18T11:06:41.000Z'"),
              1);
    CHECK_INT(ks_auth_revoke(s, "nobody", T0, &was, &err), KS_ENOTFOUND);
    CHECK_STR(err.msg, "no token named 'nobody'");
    ks_store_close(s);
    tdb_teardown();
}

static void names_are_unique_for_ever(void)
{
    tdb_setup();
    struct ks_store *s = open_ok();
    char tok[KS_TOKEN_BUF], again[KS_TOKEN_BUF];
    create_ok(s, "ci", KS_ROLE_VIEWER, tok);
    struct ks_err err = {0};
    CHECK_INT(ks_auth_create(s, "ci", KS_ROLE_ADMIN, T0, again, &err), KS_ESTATE);
    CHECK(strstr(err.msg, "a token named 'ci' already exists") != NULL);
    CHECK_STR(again, "");
    CHECK_INT(ks_auth_revoke(s, "ci", T0, NULL, &err), KS_OK);
    CHECK_INT(ks_auth_create(s, "ci", KS_ROLE_ADMIN, T0, again, &err), KS_ESTATE);
    CHECK_INT(tdb_int("SELECT count(*) FROM tokens"), 1);
    ks_store_close(s);
    tdb_teardown();
}

static void bad_names_and_roles_are_usage_errors(void)
{
    tdb_setup();
    struct ks_store *s = open_ok();
    char tok[KS_TOKEN_BUF];
    struct ks_err err = {0};
    const char *bad[] = {"", "has space", "semi;colon", "ünï",
                         "12345678901234567890123456789012345678901234567890123456789012345"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT(ks_auth_create(s, bad[i], KS_ROLE_VIEWER, T0, tok, &err), KS_EUSAGE);
    }
    CHECK_INT(ks_auth_create(s, NULL, KS_ROLE_VIEWER, T0, tok, &err), KS_EUSAGE);
    CHECK_INT(ks_auth_create(s, "ok", KS_ROLE_NONE, T0, tok, &err), KS_EUSAGE);
    CHECK_INT(ks_auth_create(s, "ok", (enum ks_auth_role)9, T0, tok, &err), KS_EUSAGE);
    CHECK(ks_auth_name_ok("1234567890123456789012345678901234567890123456789012345678901234"));
    CHECK(ks_auth_name_ok("deploy-bot.prod_2@eu"));
    CHECK_INT(tdb_int("SELECT count(*) FROM tokens"), 0);
    ks_store_close(s);
    tdb_teardown();
}

struct listed {
    char text[1024];
};

static int on_token(void *ctx, const struct ks_token_info *t)
{
    struct listed *l = ctx;
    char c[32], r[32] = "-";
    ks_time_fmt(t->created_at, c);
    if (t->revoked_at != KS_TIME_NONE) {
        ks_time_fmt(t->revoked_at, r);
    }
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof(l->text) - n, "%s %s %s %s\n", t->name, ks_role_name(t->role), c,
             r);
    return 0;
}

static void list_gives_names_roles_and_times_in_name_order(void)
{
    tdb_setup();
    long before = ks_alloc_live();
    struct ks_store *s = open_ok();
    char tok[KS_TOKEN_BUF];
    create_ok(s, "zed", KS_ROLE_VIEWER, tok);
    create_ok(s, "amy", KS_ROLE_ADMIN, tok);
    struct ks_err err = {0};
    CHECK_INT(ks_auth_revoke(s, "zed", T0 + KS_HOUR, NULL, &err), KS_OK);
    struct listed l = {""};
    CHECK_INT(ks_auth_list(s, on_token, &l, &err), KS_OK);
    CHECK_STR(l.text, "amy admin 2026-11-18T11:06:40.000Z -\n"
                      "zed viewer 2026-11-18T11:06:40.000Z 2026-11-18T12:06:40.000Z\n");
    ks_store_close(s);
    CHECK_INT(ks_alloc_live(), before);
    tdb_teardown();
}

static void migration_5_adds_tokens_to_an_older_database(void)
{
    tdb_setup();
    struct ks_store *s = open_ok();
    ks_store_close(s);
    CHECK_INT(tdb_int("SELECT max(version) FROM schema_migrations"), 12);
    /* back to version 4, as a database written before tokens (and the
     * server's journal, migration 6, the outbox of messages, 7, remedies,
     * 8, the incidents' columns, 9, delivery leases, 10, the database's
     * id, 11, and declined remedies, 12) */
    CHECK_INT(tdb_exec("DELETE FROM blobs WHERE key IN ('db_id', 'hook_keys_from'); "
                       "ALTER TABLE hooks DROP COLUMN lease_owner; "
                       "ALTER TABLE hooks DROP COLUMN lease_until; "
                       "DROP TABLE incident_scope; DROP INDEX incidents_severity; "
                       "DROP INDEX incidents_type; DROP INDEX incidents_detected; "
                       "ALTER TABLE incidents DROP COLUMN title; "
                       "ALTER TABLE incidents DROP COLUMN owner; "
                       "ALTER TABLE incidents DROP COLUMN started_at; "
                       "ALTER TABLE incidents DROP COLUMN acknowledged_at; "
                       "ALTER TABLE incidents DROP COLUMN contained_at; "
                       "ALTER TABLE incidents DROP COLUMN resolved_at; "
                       "ALTER TABLE incidents DROP COLUMN review_due; "
                       "ALTER TABLE incidents DROP COLUMN repeat_of; "
                       "ALTER TABLE incidents DROP COLUMN orders; "
                       "ALTER TABLE incidents DROP COLUMN customers; "
                       "ALTER TABLE incidents DROP COLUMN units; "
                       "ALTER TABLE incidents DROP COLUMN revenue; "
                       "DROP TABLE remedies; DROP TABLE messages; DROP TABLE message_triggers; "
                       "DROP TABLE journal; DROP TABLE tokens; "
                       "DELETE FROM schema_migrations WHERE version >= 5"),
              0);
    CHECK_INT(tdb_int(tdb_pg ? "SELECT count(*) FROM pg_tables WHERE schemaname = "
                               "current_schema() AND tablename = 'tokens'"
                             : "SELECT count(*) FROM sqlite_master WHERE name = 'tokens'"),
              0);
    s = open_ok();
    char tok[KS_TOKEN_BUF];
    create_ok(s, "ci", KS_ROLE_VIEWER, tok);
    ks_store_close(s);
    CHECK_INT(tdb_int("SELECT max(version) FROM schema_migrations"), 12);
    CHECK_INT(tdb_int("SELECT count(*) FROM tokens"), 1);
    tdb_teardown();
}

/* ---- end to end: the HTTP server asking the store ------------------------------ */

/* The store is used by one thread at a time: the server's threads take turns. */
struct guard {
    pthread_mutex_t lock;
    struct ks_store *s;
};

static enum ks_rc store_auth(void *ctx, const struct ks_http_req *q, const char *bearer,
                             struct ks_auth_who *who, struct ks_err *err)
{
    (void)q;
    struct guard *g = ctx;
    pthread_mutex_lock(&g->lock);
    enum ks_rc rc = ks_auth_verify(g->s, bearer, who, err);
    pthread_mutex_unlock(&g->lock);
    return rc;
}

static void whoami(const struct ks_http_req *q, struct ks_http_resp *r, void *ctx)
{
    (void)ctx;
    ks_buf_printf(&r->body, "{\"who\":\"%s\"}", q->who.name);
}

static size_t sink(char *p, size_t size, size_t n, void *ctx)
{
    struct ks_buf *b = ctx;
    ks_buf_put(b, p, size * n);
    return size * n;
}

static long get(int port, const char *token, struct ks_buf *body)
{
    CURL *h = curl_easy_init();
    char url[128], auth[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/whoami", port);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    struct curl_slist *sl = curl_slist_append(NULL, auth);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, sl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    long status = 0;
    ks_buf_reset(body);
    if (curl_easy_perform(h) == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_slist_free_all(sl);
    curl_easy_cleanup(h);
    return status;
}

static void the_server_takes_a_created_token_until_it_is_revoked(void)
{
    tdb_setup();
    long before = ks_alloc_live();
    struct guard g = {PTHREAD_MUTEX_INITIALIZER, open_ok()};
    char viewer[KS_TOKEN_BUF], responder[KS_TOKEN_BUF];
    create_ok(g.s, "vera", KS_ROLE_VIEWER, viewer);
    create_ok(g.s, "ci", KS_ROLE_RESPONDER, responder);
    struct ks_http_route routes[] = {
        {"GET", "/v1/whoami", whoami, NULL, KS_ROLE_RESPONDER, 0, NULL, 0, NULL},
    };
    struct ks_http_opts o = {0};
    o.routes = routes;
    o.nroutes = 1;
    o.auth = store_auth;
    o.auth_ctx = &g;
    struct ks_err err = {0};
    struct ks_http *h = ks_http_start(&o, &err);
    CHECK(h != NULL);
    if (h) {
        int port = ks_http_port(h);
        struct ks_buf body = {0};
        CHECK_INT(get(port, responder, &body), 200);
        CHECK_STR(body.p, "{\"who\":\"ci\"}");
        CHECK_INT(get(port, viewer, &body), 403);
        pthread_mutex_lock(&g.lock);
        CHECK_INT(ks_auth_revoke(g.s, "ci", T0, NULL, &err), KS_OK);
        pthread_mutex_unlock(&g.lock);
        CHECK_INT(get(port, responder, &body), 401);
        CHECK(strstr(body.p, "token 'ci' was revoked") != NULL);
        ks_buf_fini(&body);
        ks_http_stop(h);
    }
    ks_store_close(g.s);
    CHECK_INT(ks_alloc_live(), before);
    tdb_teardown();
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(sha256_matches_the_standard_vector);
    RUN(roles_are_ordered_and_named);
    RUN_BOTH(token_is_ks_and_43_base64url_characters_and_verifies_with_its_role);
    RUN_BOTH(the_store_keeps_the_sha256_never_the_token);
    RUN_BOTH(unknown_malformed_and_missing_tokens_are_refused);
    RUN_BOTH(a_revoked_token_stops_verifying_and_stays_listed);
    RUN_BOTH(names_are_unique_for_ever);
    RUN_BOTH(bad_names_and_roles_are_usage_errors);
    RUN_BOTH(list_gives_names_roles_and_times_in_name_order);
    RUN_BOTH(migration_5_adds_tokens_to_an_older_database);
    RUN_BOTH(the_server_takes_a_created_token_until_it_is_revoked);
    curl_global_cleanup();
    return t_done();
}
