/*
 * test_http.c - the HTTP server over real sockets on 127.0.0.1, with libcurl
 * as the client (and a raw socket where curl would hide what is tested):
 * routing and parameters, every error the server answers itself, body
 * limits, authentication and roles, the hooks, concurrent requests, 429,
 * and a graceful stop with a slow request in progress. Most tests run in
 * both threading models. Every test checks that what the server allocated
 * (ks_malloc, on its threads too) is freed once it has stopped.
 */
#include "../../src/http/http.h"
#include "../../src/serve/serve_int.h"
#include "t.h"

#include <arpa/inet.h>
#include <errno.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static unsigned threads; /* the model under test: 0 thread per connection, N a pool */

/* ---- the client ---------------------------------------------------------- */

struct res {
    long status;
    char body[8192];
    size_t body_len;
    char headers[4096];
    size_t headers_len;
    CURLcode rc;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct res *r = ctx;
    size_t k = size * n;
    size_t room = sizeof(r->body) - 1 - r->body_len;
    size_t c = k < room ? k : room;
    memcpy(r->body + r->body_len, p, c);
    r->body_len += c;
    r->body[r->body_len] = 0;
    return k;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    struct res *r = ctx;
    size_t k = size * n;
    size_t room = sizeof(r->headers) - 1 - r->headers_len;
    size_t c = k < room ? k : room;
    memcpy(r->headers + r->headers_len, p, c);
    r->headers_len += c;
    r->headers[r->headers_len] = 0;
    return k;
}

/* One request; hdrs is NULL or NULL-terminated "Name: value" lines. A
 * handle may be passed to reuse its connection (keep-alive). */
static struct res *req_on(CURL *h, int port, const char *method, const char *path,
                          const char *const *hdrs, const char *body, size_t body_len)
{
    struct res *r = calloc(1, sizeof(*r));
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    int own = h == NULL;
    if (own) {
        h = curl_easy_init();
    } else {
        curl_easy_reset(h);
    }
    struct curl_slist *sl = NULL;
    for (size_t i = 0; hdrs && hdrs[i]; i++) {
        sl = curl_slist_append(sl, hdrs[i]);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    }
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, sl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    r->rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(sl);
    if (own) {
        curl_easy_cleanup(h);
    }
    return r;
}

static struct res *req(int port, const char *method, const char *path, const char *const *hdrs,
                       const char *body)
{
    return req_on(NULL, port, method, path, hdrs, body, body ? strlen(body) : 0);
}

static int has_header(const struct res *r, const char *line)
{
    return strcasestr(r->headers, line) != NULL;
}

/* ---- handlers --------------------------------------------------------------- */

static int calls; /* handler calls (atomic) */

/* Echoes what the request was: params, queries, a header, the caller, the body. */
static void echo(const struct ks_http_req *q, struct ks_http_resp *r, void *ctx)
{
    (void)ctx;
    __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
    struct ks_json j;
    ks_json_init(&j, &r->body, 0);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "method");
    ks_json_str(&j, q->method);
    ks_json_key(&j, "pattern");
    ks_json_str(&j, q->route->pattern);
    const char *names[] = {"id", "step", "verb", "status", "x", "flag", "missing"};
    for (size_t i = 0; i < 3; i++) {
        const char *v = ks_http_param(q, names[i]);
        if (v) {
            ks_json_key(&j, names[i]);
            ks_json_str(&j, v);
        }
    }
    for (size_t i = 3; i < 7; i++) {
        const char *v = ks_http_query(q, names[i]);
        if (v) {
            char k[32];
            snprintf(k, sizeof(k), "q_%s", names[i]);
            ks_json_key(&j, k);
            ks_json_str(&j, v);
        }
    }
    const char *t = ks_http_header(q, "x-test");
    if (t) {
        ks_json_key(&j, "x_test");
        ks_json_str(&j, t);
    }
    ks_json_key(&j, "who");
    ks_json_str(&j, q->who.name);
    ks_json_key(&j, "role");
    ks_json_str(&j, ks_role_name(q->who.role));
    ks_json_key(&j, "ctype");
    ks_json_str(&j, q->content_type);
    ks_json_key(&j, "len");
    ks_json_int(&j, (int64_t)q->body_len);
    if (q->json) {
        ks_json_key(&j, "json_type");
        ks_json_int(&j, json_typeof(q->json));
    }
    ks_json_obj_end(&j);
    ks_http_add_header(r, "X-Echo", "yes");
}

static void created(const struct ks_http_req *q, struct ks_http_resp *r, void *ctx)
{
    (void)q;
    (void)ctx;
    r->status = 201;
    r->content_type = "text/plain";
    ks_buf_puts(&r->body, "made\n");
}

static void conflict(const struct ks_http_req *q, struct ks_http_resp *r, void *ctx)
{
    (void)ctx;
    ks_http_error(r, 409, "conflict", "incident %s is resolved", ks_http_param(q, "id"));
}

/* A gate the slow handler waits at until the test opens it. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open, gate_waiting;

static void gate_reset(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = 0;
    gate_waiting = 0;
    pthread_mutex_unlock(&gate_lock);
}

static void gate_release(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

/* Waits until n handlers wait at the gate (up to 5 s). */
static int gate_wait_for(int n)
{
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&gate_lock);
        int w = gate_waiting;
        pthread_mutex_unlock(&gate_lock);
        if (w >= n) {
            return 1;
        }
        usleep(10000);
    }
    return 0;
}

static void slow(const struct ks_http_req *q, struct ks_http_resp *r, void *ctx)
{
    (void)q;
    (void)ctx;
    pthread_mutex_lock(&gate_lock);
    gate_waiting++;
    while (!gate_open) {
        pthread_cond_wait(&gate_cond, &gate_lock);
    }
    pthread_mutex_unlock(&gate_lock);
    usleep(50000); /* still working when the gate opens */
    ks_buf_puts(&r->body, "{\"slow\":true}");
}

/* ---- auth ---------------------------------------------------------------------- */

/* Three fixed tokens, and a body-borne key for the AUTH_BODY route. */
static enum ks_rc auth(void *ctx, const struct ks_http_req *q, const char *bearer,
                       struct ks_auth_who *who, struct ks_err *err)
{
    (void)ctx;
    static const struct {
        const char *token, *name;
        enum ks_auth_role role;
    } known[] = {{"tv", "vera", KS_ROLE_VIEWER},
                 {"tr", "rui", KS_ROLE_RESPONDER},
                 {"ta", "ada", KS_ROLE_ADMIN}};
    if (q->route->flags & KS_HTTP_AUTH_BODY) {
        if (strstr(q->body, "\"routing_key\":\"rk-1\"")) {
            snprintf(who->name, sizeof(who->name), "pagerduty");
            who->role = KS_ROLE_RESPONDER;
            return KS_OK;
        }
        return ks_err_set(err, KS_ENOTFOUND, "unknown routing_key");
    }
    if (!bearer) {
        return ks_err_set(err, KS_EINPUT, "no token");
    }
    if (strcmp(bearer, "boom") == 0) {
        return ks_err_set(err, KS_EIO, "store: disk on fire");
    }
    if (strcmp(bearer, "oom") == 0) {
        return ks_err_set(err, KS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(bearer, known[i].token) == 0) {
            snprintf(who->name, sizeof(who->name), "%s", known[i].name);
            who->role = known[i].role;
            return KS_OK;
        }
    }
    return ks_err_set(err, KS_ENOTFOUND, "unknown token");
}

/* ---- hooks ------------------------------------------------------------------------ */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_log[512];
static int nlogs, nobs;

static void access_log(void *ctx, const struct ks_http_done *d)
{
    (void)ctx;
    pthread_mutex_lock(&log_lock);
    snprintf(last_log, sizeof(last_log), "%s %s %s %d who=%s remote=%s in=%llu out=%llu ok=%d",
             d->method, d->path, d->pattern ? d->pattern : "-", d->status, d->who, d->remote,
             (unsigned long long)d->bytes_in, (unsigned long long)d->bytes_out, d->completed);
    nlogs++;
    pthread_mutex_unlock(&log_lock);
}

/* The hooks run after the response is sent, observe before access_log:
 * waits (up to 10 s) until access_log has seen n requests. */
static void wait_logs(int n)
{
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&log_lock);
        int seen = nlogs;
        pthread_mutex_unlock(&log_lock);
        if (seen >= n) {
            return;
        }
        usleep(5000);
    }
}

static void observe(void *ctx, const struct ks_http_done *d)
{
    (void)ctx;
    if (d->micros >= 0) {
        __atomic_fetch_add(&nobs, 1, __ATOMIC_RELAXED);
    }
}

/* ---- the server under test ------------------------------------------------------------ */

static const struct ks_http_route routes[] = {
    {"GET", "/healthz", echo, NULL, KS_ROLE_NONE, 0, NULL, KS_HTTP_ANY_QUERY, NULL},
    {"GET", "/v1/incidents", echo, NULL, KS_ROLE_VIEWER, 0, NULL, 0, "status, x, flag"},
    {"GET", "/v1/incidents/{id}", echo, NULL, KS_ROLE_VIEWER, 0, NULL, 0, "status"},
    {"DELETE", "/v1/incidents/{id}", conflict, NULL, KS_ROLE_ADMIN, 0, NULL, 0, NULL},
    {"POST", "/v1/incidents/{id}/ack", echo, NULL, KS_ROLE_RESPONDER, 0, "application/json",
     KS_HTTP_JSON, NULL},
    {"POST", "/v1/incidents/{id}/steps/{step}", echo, NULL, KS_ROLE_RESPONDER, 0, NULL, 0, NULL},
    {"POST", "/v1/events", echo, NULL, KS_ROLE_RESPONDER, 1024,
     "application/x-ndjson, application/json", 0, "end"},
    {"POST", "/v1/made", created, NULL, KS_ROLE_NONE, 0, NULL, 0, NULL},
    {"POST", "/v2/enqueue", echo, NULL, KS_ROLE_RESPONDER, 0, "application/json",
     KS_HTTP_JSON | KS_HTTP_AUTH_BODY, NULL},
    {"GET", "/slow", slow, NULL, KS_ROLE_NONE, 0, NULL, 0, NULL},
    {"POST", "/v1/guard/{verb:pause|release}", echo, NULL, KS_ROLE_ADMIN, 0, NULL, 0, NULL},
};

static struct ks_http *start(unsigned max_inflight, int with_hooks)
{
    struct ks_http_opts o = {0};
    o.routes = routes;
    o.nroutes = sizeof(routes) / sizeof(routes[0]);
    o.auth = auth;
    o.threads = threads;
    o.max_inflight = max_inflight;
    if (with_hooks) {
        o.access_log = access_log;
        o.observe = observe;
    }
    struct ks_err err = {0};
    struct ks_http *h = ks_http_start(&o, &err);
    if (!h) {
        fprintf(stderr, "FAIL %s: start: %s\n", t_current, err.msg);
        t_failed_checks++;
        exit(1);
    }
    return h;
}

static long live_before;
#define LEAK_START() (live_before = ks_alloc_live())
#define LEAK_END() CHECK_INT(ks_alloc_live(), live_before)

static const char *const as_viewer[] = {"Authorization: Bearer tv", NULL};
static const char *const as_responder[] = {"Authorization: Bearer tr", NULL};
static const char *const as_admin[] = {"Authorization: Bearer ta", NULL};

/* ---- tests ------------------------------------------------------------------------------ */

static void routes_match_literal_and_param_segments(void)
{
    LEAK_START();
    struct ks_http *h = start(0, 0);
    int port = ks_http_port(h);
    CHECK(port > 0);
    struct res *r = req(port, "GET", "/v1/incidents/42", as_viewer, NULL);
    CHECK_INT(r->status, 200);
    CHECK(strstr(r->body, "\"pattern\":\"/v1/incidents/{id}\"") != NULL);
    CHECK(strstr(r->body, "\"id\":\"42\"") != NULL);
    CHECK(has_header(r, "Content-Type: application/json"));
    CHECK(has_header(r, "X-Echo: yes"));
    free(r);
    r = req(port, "GET", "/v1/incidents", as_viewer, NULL);
    CHECK(strstr(r->body, "\"pattern\":\"/v1/incidents\"") != NULL);
    free(r);
    r = req(port, "POST", "/v1/incidents/7/steps/spot_check", as_responder, NULL);
    CHECK_INT(r->status, 200);
    CHECK(strstr(r->body, "\"id\":\"7\",\"step\":\"spot_check\"") != NULL);
    free(r);
    r = req(port, "HEAD", "/healthz", NULL, NULL);
    CHECK_INT(r->status, 200);
    CHECK_INT(r->body_len, 0);
    free(r);
    r = req(port, "POST", "/v1/made", NULL, "x");
    CHECK_INT(r->status, 201);
    CHECK_STR(r->body, "made\n");
    CHECK(has_header(r, "Content-Type: text/plain"));
    free(r);
    /* an empty segment is no parameter, and a trailing slash is another path */
    r = req(port, "GET", "/v1/incidents//", as_viewer, NULL);
    CHECK_INT(r->status, 404);
    free(r);
    ks_http_stop(h);
    LEAK_END();
}

static void query_params_are_decoded_and_headers_case_insensitive(void)
{
    LEAK_START();
    struct ks_http *h = start(0, 0);
    const char *const hdrs[] = {"Authorization: Bearer tv", "X-TEST: Hello There", NULL};
    struct res *r = req(ks_http_port(h), "GET", "/v1/incidents?status=open&x=a%20b%26c&flag",
                        hdrs, NULL);
    CHECK_INT(r->status, 200);
    CHECK(strstr(r->body, "\"q_status\":\"open\",\"q_x\":\"a b&c\",\"q_flag\":\"\"") != NULL);
    CHECK(strstr(r->body, "\"q_missing\"") == NULL);
    CHECK(strstr(r->body, "\"x_test\":\"Hello There\"") != NULL);
    free(r);
    /* %00 is not decoded: a NUL would cut the id and the query short */
    r = req(ks_http_port(h), "GET", "/v1/incidents/1%00abc?status=open%00junk", hdrs, NULL);
    CHECK_INT(r->status, 200);
    CHECK(strstr(r->body, "\"id\":\"1%00abc\"") != NULL);
    CHECK(strstr(r->body, "\"q_status\":\"open%00junk\"") != NULL);
    free(r);
    /* a path that is not UTF-8 once decoded is refused */
    r = req(ks_http_port(h), "GET", "/v1/incidents/%ff%fe", hdrs, NULL);
    CHECK_INT(r->status, 400);
    CHECK(strstr(r->body, "not valid UTF-8") != NULL);
    free(r);
    ks_http_stop(h);
    LEAK_END();
}

static void query_params_a_route_does_not_take_are_refused(void)
{
    LEAK_START();
    struct ks_http *h = start(0, 0);
    const char *const hdrs[] = {"Authorization: Bearer tv", NULL};
    /* a misspelt filter is named with those the route takes, not dropped */
    struct res *r = req(ks_http_port(h), "GET", "/v1/incidents?status=open&staus=open", hdrs,
                        NULL);
    CHECK_INT(r->status, 400);
    CHECK_STR(r->body, "{\"error\":{\"code\":\"invalid\",\"message\":\"query \\\"staus\\\" is "
                       "not known (status, x, flag)\"}}\n");
    free(r);
    r = req(ks_http_port(h), "GET", "/v1/incidents/3?x=1", hdrs, NULL);
    CHECK_INT(r->status, 400);
    CHECK(strstr(r->body, "query \\\"x\\\" is not known (status)") != NULL);
    free(r);
    /* a route that takes none says so; a name is not a prefix of another */
    r = req(ks_http_port(h), "GET", "/v1/incidents?stat=1", hdrs, NULL);
    CHECK_INT(r->status, 400);
    free(r);
    const char *const resp_hdrs[] = {"Authorization: Bearer tr", NULL};
    r = req(ks_http_port(h), "POST", "/v1/incidents/3/steps/s?note=x", resp_hdrs, NULL);
    CHECK_INT(r->status, 400);
    CHECK(strstr(r->body, "query \\\"note\\\" is not known (none)") != NULL);
    free(r);
    /* a name given twice is refused, not read as its first value */
    r = req(ks_http_port(h), "GET", "/v1/incidents?status=resolved&x=1&status=investigating",
            hdrs, NULL);
    CHECK_INT(r->status, 400);
    CHECK_STR(r->body, "{\"error\":{\"code\":\"invalid\",\"message\":\"query \\\"status\\\" is "
                       "given more than once (each parameter is taken once; there is no list of "
                       "values)\"}}\n");
    free(r);
    r = req(ks_http_port(h), "GET", "/v1/incidents?flag&flag=", hdrs, NULL);
    CHECK_INT(r->status, 400);
    CHECK(strstr(r->body, "query \\\"flag\\\" is given more than once") != NULL);
    free(r);
    r = req(ks_http_port(h), "GET", "/v1/incidents?status=open&x=1&flag", hdrs, NULL);
    CHECK_INT(r->status, 200);
    free(r);
    /* after the token: a caller without one learns nothing of the route */
    r = req(ks_http_port(h), "GET", "/v1/incidents?staus=open", NULL, NULL);
    CHECK_INT(r->status, 401);
    free(r);
    /* a route that takes any */
    r = req(ks_http_port(h), "GET", "/healthz?probe=1", NULL, NULL);
    CHECK_INT(r->status, 200);
    free(r);
    r = req(ks_http_port(h), "GET", "/healthz?probe=1&probe=2", NULL, NULL);
    CHECK_INT(r->status, 200);
    free(r);
    ks_http_stop(h);
    LEAK_END();
}

static void unknown_path_is_404_in_json(void)
{
    LEAK_START();
    struct ks_http *h = start(0, 0);
    struct res *r = req(ks_http_port(h), "GET", "/v1/nothing/here", as_admin, NULL);
    CHECK_INT(r->status, 404);
    CHECK_STR(r->body, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such path: "
                       "/v1/nothing/here\"}}\n");
    CHECK(has_header(r, "Content-Type: application/json"));
    free(r);
    ks_http_stop(h);
    LEAK_END();
}

/* unrouted_status: everything but the routes answered as the owner says
 * (a standby's 503 with Retry-After), the routes as usual */
static void unrouted_status_answers_everything_else(void)
{
    LEAK_START();
    struct ks_http_opts o = {0};
    o.routes = routes;
    o.nroutes = 1; /* GET /healthz only */
    o.threads = threads;
    o.unrouted_status = 503;
    o.unrouted_code = "standby";
    o.unrouted_msg = "a standby";
    struct ks_err err = {0};
    struct ks_http *h = ks_http_start(&o, &err);
    CHECK(h != NULL);
    if (!h) {
        return;
    }
    int port = ks_http_port(h);
    struct res *r = req(port, "GET", "/healthz", NULL, NULL);
    CHECK_INT(r->status, 200);
    free(r);
    const char *const paths[][2] = {{"GET", "/v1/nothing"}, {"POST", "/healthz"},
                                    {"POST", "/v1/events"}, {"DELETE", "/v1/incidents/1"}};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        r = req(port, paths[i][0], paths[i][1], as_admin, "x");
        CHECK_INT(r->status, 503);
        CHECK_STR(r->body, "{\"error\":{\"code\":\"standby\",\"message\":\"a standby\"}}\n");
        CHECK(has_header(r, "Retry-After: 1"));
        free(r);
    }
    ks_http_stop(h);
    LEAK_END();
}

/* unrouted_why: the owner names the code and message of each answer */
static void set_why(void *ctx, const char **code, char *msg, size_t cap)
{
    *code = "starting";
    snprintf(msg, cap, "%s", (const char *)ctx);
}

static void unrouted_why_names_the_reason(void)
{
    LEAK_START();
    struct ks_http_opts o = {0};
    o.routes = routes;
    o.nroutes = 1; /* GET /healthz only */
    o.threads = threads;
    o.unrouted_status = 503;
    o.unrouted_code = "standby";
    o.unrouted_msg = "a standby";
    o.unrouted_why = set_why;
    o.unrouted_ctx = (void *)"starting: loading the state; retry";
    struct ks_err err = {0};
    struct ks_http *h = ks_http_start(&o, &err);
    CHECK(h != NULL);
    if (!h) {
        return;
    }
    struct res *r = req(ks_http_port(h), "POST", "/v1/events", as_admin, "x");
    CHECK_INT(r->status, 503);
    CHECK_STR(r->body, "{\"error\":{\"code\":\"starting\",\"message\":\"starting: loading the "
                       "state; retry\"}}\n");
    CHECK(has_header(r, "Retry-After: 1"));
    free(r);
    ks_http_stop(h);
    LEAK_END();
}

/* The server that listens while the state loads: a lone one (no standby
 * waiting, none taken over) says it is starting, not that it is a standby. */
static void loading_server_says_starting_not_standby(void)
{
    LEAK_START();
    struct ks_err err = {0};
    struct ks_http *h = ks_standby_http_start("127.0.0.1", 0, &err);
    CHECK(h != NULL);
    if (!h) {
        return;
    }
    int port = ks_http_port(h);
    struct res *r = req(port, "POST", "/v1/incidents/1/ack", as_admin, "{}");
    CHECK_INT(r->status, 503);
    CHECK_STR(r->body, "{\"error\":{\"code\":\"starting\",\"message\":\"starting: loading the "
                       "state; retry\"}}\n");
    CHECK(has_header(r, "Retry-After: 1"));
    free(r);
    r = req(port, "GET", "/healthz", NULL, NULL);
    CHECK_INT(r->status, 200);
    CHECK_STR(r->body, "{\"status\":\"starting\"}");
    free(r);
    r = req(port, "GET", "/readyz", NULL, NULL);
    CHECK_INT(r->status, 503);
    CHECK(strstr(r->body, "\"code\":\"not_ready\",\"message\":\"starting: loading the state\"") !=
          NULL);
    free(r);
    ks_http_stop(h);
    LEAK_END();
}

/* A segment that lists its values: another value is no route's, 404
 * before the method and the token are looked at. */
static void listed_values_of_a_segment_route_only_those(void)
{
    LEAK_START();
    struct ks_http *h = start(0, 1);
    int port = ks_http_port(h);
    struct res *r = req(port, "POST", "/v1/guard/pause", as_admin, NULL);
    CHECK_INT(r->status, 200);
    CHECK(strstr(r->body, "\"pattern\":\"/v1/guard/{verb:pause|release}\"") != NULL);
    CHECK(strstr(r->body, "\"verb\":\"pause\"") != NULL);
    free(r);
    const char *const *who[] = {as_admin, as_viewer, NULL};
    const char *const methods[] = {"GET", "POST", "DELETE"};
    for (size_t w = 0; w < 3; w++) {
        for (size_t m = 0; m < 3; m++) {
            r = req(port, methods[m], "/v1/guard/bogus", who[w], NULL);
            CHECK_INT(r->status, 404);
            CHECK_STR(r->body, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such path: "
                               "/v1/guard/bogus ({verb} is one of pause, release)\"}}\n");
            free(r);
        }
    }
    /* a listed value: the method, then the role, as everywhere; the pattern
     * shown without its values */
    r = req(port, "GET", "/v1/guard/release", as_viewer, NULL);
    CHECK_INT(r->status, 405);
    CHECK(has_header(r, "Allow: POST"));
    free(r);
    r = req(port, "POST", "/v1/guard/release", as_viewer, NULL);
    CHECK_INT(r->status, 403);
    CHECK(strstr(r->body, "token 'vera' has role viewer; POST /v1/guard/{verb} needs admin or "
                          "above") != NULL);
    free(r);
    ks_http_stop(h);
    /* the hooks see the pattern as shown */
    CHECK(strstr(last_log, "/v1/guard/{verb}") != NULL);
    LEAK_END();
}

static void wrong_method_is_405_with_allow(void)
{
    LEAK_START();
    struct ks_http *h = start(0, 0);
    struct res *r = req(ks_http_port(h), "PUT", "/v1/incidents/3", as_admin, "{}");
    CHECK_INT(r->status, 405);
    CHECK(has_header(r, "Allow: GET, HEAD, DELETE"));
    CHECK(strstr(r->body, "\"code\":\"method_not_allowed\"") != NULL);
    free(r);
    ks_http_stop(h);
    LEAK_END();
}

static void handler_errors_keep_the_json_shape(void)
{
    LEAK_START();
    struct ks_http *h = start(0, 0);
    struct res *r = req(ks_http_port(h), "DELETE", "/v1/incidents/3", as_admin, NULL);
    CHECK_INT(r->status, 409);
    CHECK_STR(r->body,
              "{\"error\":{\"code\":\"conflict\",\"message\":\"incident 3 is resolved\"}}\n");
    free(r);
    ks_http_stop(h);
    LEAK_END();
}

static void body_over_the_route_limit_is_413(void)
{
    LEAK_START();
    calls = 0;
    struct ks_http *h = start(0, 0);
    int port = ks_http_port(h);
    char big[2048];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    const char *const nd[] = {"Authorization: Bearer tr", "Content-Type: application/x-ndjson",
                              NULL};
    struct res *r = req(port, "POST", "/v1/events", nd, big);
    CHECK_INT(r->status, 413);
    CHECK(strstr(r->body, "\"code\":\"too_large\"") != NULL);
    CHECK(strstr(r->body, "at most 1024") != NULL);
    free(r);
    /* the same without a declared length (chunked): read, dropped, refused */
    const char *const chunked[] = {"Authorization: Bearer tr", "Content-Type: application/x-ndjson",
                                   "Transfer-Encoding: chunked", NULL};
    r = req(port, "POST", "/v1/events", chunked, big);
    CHECK_INT(r->status, 413);
    free(r);
    /* at the limit exactly: taken */
    big[1024] = 0;
    r = req(port, "POST", "/v1/events", nd, big);
    CHECK_INT(r->status, 200);
    CHECK(strstr(r->body, "\"len\":1024") != NULL);
    free(r);
    r = req(port, "POST", "/v1/events", chunked, big);
    CHECK_INT(r->status, 200);
    CHECK(strstr(r->body, "\"len\":1024") != NULL);
    free(r);
    CHECK_INT(calls, 2);
    ks_http_stop(h);
    LEAK_END();
}

/* A raw client: sends head (and nothing more), returns what came back
 * within 2 s in out. */
static void raw_exchange(int port, const char *head, char *out, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    out[0] = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return;
    }
    send(fd, head, strlen(head), MSG_NOSIGNAL);
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    size_t n = 0;
    ssize_t got;
    while (n + 1 < cap && (got = recv(fd, out + n, cap - 1 - n, 0)) > 0) {
        n += (size_t)got;
        out[n] = 0;
        if (strstr(out, "\r\n\r\n") && strstr(out, "}}\n")) {
            break;
        }
    }
    close(fd);
}

static void declared_length_over_limit_is_refused_before_the_body(void)
{
    LEAK_START();
    struct ks_http *h = start(0, 0);
    char out[4096];
    /* 100 MB announced, not one byte of it sent: the answer comes anyway */
    raw_exchange(ks_http_port(h),
                 "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tr\r\n"
                 "Content-Type: application/x-ndjson\r\nContent-Length: 100000000\r\n\r\n",
                 out, sizeof(out));
    CHECK(strncmp(out, "HTTP/1.1 413", 12) == 0);
    CHECK(strstr(out, "\"code\":\"too_large\"") != NULL);
    /* and with Expect: 100-continue, no 100 is sent before it */
    raw_exchange(ks_http_port(h),
                 "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tr\r\n"
                 "Content-Type: application/x-ndjson\r\nContent-Length: 100000000\r\n"
                 "Expect: 100-continue\r\n\r\n",
                 out, sizeof(out));
    CHECK(strncmp(out, "HTTP/1.1 413", 12) == 0);
    /* two lengths are refused, not framed by the first (request smuggling) */
    raw_exchange(ks_http_port(h),
                 "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tr\r\n"
                 "Content-Type: application/x-ndjson\r\nContent-Length: 3\r\n"
                 "Content-Length: 6\r\n\r\nabcdef",
                 out, sizeof(out));
    CHECK(strncmp(out, "HTTP/1.1 400", 12) == 0);
    CHECK(strstr(out, "more than one Content-Length header") != NULL);
    /* two tokens, or two types: refused, not read as the first */
    raw_exchange(ks_http_port(h),
                 "GET /v1/incidents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tv\r\n"
                 "authorization: Bearer tr\r\n\r\n",
                 out, sizeof(out));
    CHECK(strncmp(out, "HTTP/1.1 400", 12) == 0);
    CHECK(strstr(out, "{\"error\":{\"code\":\"invalid\",\"message\":\"more than one "
                      "Authorization header: send it once\"}}") != NULL);
    raw_exchange(ks_http_port(h),
                 "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tr\r\n"
                 "Content-Type: application/x-ndjson\r\nContent-Type: application/json\r\n"
                 "Content-Length: 2\r\n\r\n{}",
                 out, sizeof(out));
    CHECK(strncmp(out, "HTTP/1.1 400", 12) == 0);
    CHECK(strstr(out, "more than one Content-Type header: send it once") != NULL);
    ks_http_stop(h);
    LEAK_END();
}

static void unsupported_content_type_is_415(void)
{
    LEAK_START();
    struct ks_http *h = start(0, 0);
    int port = ks_http_port(h);
    const char *const xml[] = {"Authorization: Bearer tr", "Content-Type: text/xml", NULL};
    struct res *r = req(port, "POST", "/v1/events", xml, "<a/>");
    CHECK_INT(r->status, 415);
    CHECK(strstr(r->body, "\"code\":\"unsupported_media_type\"") != NULL);
    CHECK(has_header(r, "Accept: application/x-ndjson, application/json"));
    free(r);
    /* parameters and case do not matter */
    const char *const json[] = {"Authorization: Bearer tr",
                                "Content-Type: Application/JSON; charset=utf-8", NULL};
    r = req(port, "POST", "/v1/events", json, "{}");
    CHECK_INT(r->status, 200);
    CHECK(strstr(r->body, "\"ctype\":\"application/json\"") != NULL);
    free(r);
    /* no body, no type: not refused */
    r = req(port, "POST", "/v1/incidents/1/ack", as_responder, NULL);
    CHECK_INT(r->status, 200);
    free(r);
    ks_http_stop(h);
    LEAK_END();
}

/* A compressed body (Content-Encoding other than identity) is refused on
 * every route with a body before the handler sees a byte of it. */
static void encoded_body_is_415(void)
{
    LEAK_START();
    struct ks_http *h = start(0, 0);
    int port = ks_http_port(h);
    const char *const gz[] = {"Authorization: Bearer tr", "Content-Type: application/x-ndjson",
                              "Content-Encoding: gzip", NULL};
    struct res *r = req(port, "POST", "/v1/events", gz, "\x1f\x8b\x08");
    CHECK_INT(r->status, 415);
    CHECK(strstr(r->body, "\"code\":\"unsupported_media_type\"") != NULL);
    CHECK(strstr(r->body, "Content-Encoding gzip is not taken here") != NULL);
    CHECK(has_header(r, "Accept-Encoding: identity"));
    free(r);
    /* a list names the first coding that is not identity */
    const char *const two[] = {"Authorization: Bearer tr", "Content-Type: application/json",
                               "Content-Encoding: identity, br", NULL};
    r = req(port, "POST", "/v1/incidents/1/ack", two, "{}");
    CHECK_INT(r->status, 415);
    CHECK(strstr(r->body, "Content-Encoding br is not taken here") != NULL);
    free(r);
    /* the route that authenticates from its body refuses it before reading it */
    const char *const pd[] = {"Content-Type: application/json", "Content-Encoding: deflate",
                              NULL};
    r = req(port, "POST", "/v2/enqueue", pd, "{\"routing_key\":\"rk-1\"}");
    CHECK_INT(r->status, 415);
    free(r);
    /* identity is the body as it is; no body is never refused */
    const char *const id[] = {"Authorization: Bearer tr", "Content-Type: application/json",
                              "Content-Encoding: Identity", NULL};
    r = req(port, "POST", "/v1/events", id, "{}");
    CHECK_INT(r->status, 200);
    free(r);
    const char *const nobody[] = {"Authorization: Bearer tr", "Content-Encoding: gzip", NULL};
    r = req(port, "POST", "/v1/incidents/1/ack", nobody, NULL);
    CHECK_INT(r->status, 200);
    free(r);
    ks_http_stop(h);
    LEAK_END();
}

/* RFC 9110: optional white space around a field value is not part of it. */
static void bearer_token_without_surrounding_white_space(void)
{
    LEAK_START();
    struct ks_http *h = start(0, 0);
    int port = ks_http_port(h);
    const char *const trailing[] = {"Authorization: Bearer tr ", NULL};
    struct res *r = req(port, "POST", "/v1/incidents/1/ack", trailing, NULL);
    CHECK_INT(r->status, 200);
    free(r);
    const char *const tabs[] = {"Authorization: Bearer \ttr\t \t", NULL};
    r = req(port, "POST", "/v1/incidents/1/ack", tabs, NULL);
    CHECK_INT(r->status, 200);
    free(r);
    /* white space inside the token is the token's */
    const char *const inside[] = {"Authorization: Bearer t r", NULL};
    r = req(port, "POST", "/v1/incidents/1/ack", inside, NULL);
    CHECK_INT(r->status, 401);
    free(r);
    ks_http_stop(h);
    LEAK_END();
}

static void bad_json_is_400_with_its_place(void)
{
    LEAK_START();
    struct ks_http *h = start(0, 0);
    int port = ks_http_port(h);
    const char *const json[] = {"Authorization: Bearer tr", "Content-Type: application/json",
                                NULL};
    struct res *r = req(port, "POST", "/v1/incidents/1/ack", json, "{\"by\": \"alice\",\n}");
    CHECK_INT(r->status, 400);
    CHECK(strstr(r->body, "\"code\":\"bad_json\"") != NULL);
    CHECK(strstr(r->body, "line 2") != NULL);
    free(r);
    r = req(port, "POST", "/v1/incidents/1/ack", json, "{\"by\": \"alice\"}");
    CHECK_INT(r->status, 200);
    CHECK(strstr(r->body, "\"json_type\":0") != NULL); /* JSON_OBJECT */
    free(r);
    /* valid JSON that is no object reaches the handler, which checks its type */
    r = req(port, "POST", "/v1/incidents/1/ack", json, " null ");
    CHECK_INT(r->status, 200);
    CHECK(strstr(r->body, "\"json_type\":7") != NULL); /* JSON_NULL */
    free(r);
    r = req(port, "POST", "/v1/incidents/1/ack", json, "\"x\"");
    CHECK_INT(r->status, 200);
    CHECK(strstr(r->body, "\"json_type\":2") != NULL); /* JSON_STRING */
    free(r);
    /* a UTF-8 byte order mark before it is taken off */
    r = req(port, "POST", "/v1/incidents/1/ack", json, "\xEF\xBB\xBF{\"by\": \"alice\"}");
    CHECK_INT(r->status, 200);
    CHECK(strstr(r->body, "\"json_type\":0") != NULL);
    free(r);
    r = req(port, "POST", "/v1/incidents/1/ack", json, "0 1");
    CHECK_INT(r->status, 400);
    CHECK(strstr(r->body, "\"code\":\"bad_json\"") != NULL);
    free(r);
    ks_http_stop(h);
    LEAK_END();
}

static void tokens_and_roles_give_401_and_403(void)
{
    LEAK_START();
    struct ks_http *h = start(0, 0);
    int port = ks_http_port(h);
    struct res *r = req(port, "GET", "/v1/incidents", NULL, NULL);
    CHECK_INT(r->status, 401);
    CHECK(strstr(r->body, "\"code\":\"unauthorized\"") != NULL);
    CHECK(has_header(r, "WWW-Authenticate: Bearer"));
    free(r);
    const char *const wrong[] = {"Authorization: Bearer nope", NULL};
    r = req(port, "GET", "/v1/incidents", wrong, NULL);
    CHECK_INT(r->status, 401);
    CHECK(strstr(r->body, "unknown token") != NULL);
    free(r);
    const char *const basic[] = {"Authorization: Basic dXNlcjpwYXNz", NULL};
    r = req(port, "GET", "/v1/incidents", basic, NULL);
    CHECK_INT(r->status, 401);
    free(r);
    r = req(port, "POST", "/v1/incidents/1/ack", as_viewer, NULL);
    CHECK_INT(r->status, 403);
    CHECK(strstr(r->body, "token 'vera' has role viewer; POST /v1/incidents/{id}/ack needs "
                          "responder or above") != NULL);
    free(r);
    r = req(port, "POST", "/v1/incidents/1/ack", as_admin, NULL);
    CHECK_INT(r->status, 200);
    CHECK(strstr(r->body, "\"who\":\"ada\",\"role\":\"admin\"") != NULL);
    free(r);
    const char *const boom[] = {"Authorization: Bearer boom", NULL};
    r = req(port, "GET", "/v1/incidents", boom, NULL);
    /* the tokens' store away: try again later */
    CHECK_INT(r->status, 503);
    CHECK(strstr(r->body, "\"unavailable\"") != NULL);
    CHECK(strstr(r->body, "cannot check the token now: store: disk on fire") != NULL);
    free(r);
    const char *const oom[] = {"Authorization: Bearer oom", NULL};
    r = req(port, "GET", "/v1/incidents", oom, NULL);
    CHECK_INT(r->status, 500);
    CHECK(strstr(r->body, "\"internal\"") != NULL);
    free(r);
    /* an open route never asks */
    r = req(port, "GET", "/healthz", wrong, NULL);
    CHECK_INT(r->status, 200);
    CHECK(strstr(r->body, "\"who\":\"\",\"role\":\"none\"") != NULL);
    free(r);
    /* the token is checked before the body's size */
    const char *const nd[] = {"Content-Type: application/x-ndjson", NULL};
    char big[2048];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    r = req(port, "POST", "/v1/events", nd, big);
    CHECK_INT(r->status, 401);
    free(r);
    ks_http_stop(h);
    LEAK_END();
}

static void a_route_may_authenticate_from_the_body(void)
{
    LEAK_START();
    struct ks_http *h = start(0, 0);
    int port = ks_http_port(h);
    const char *const json[] = {"Content-Type: application/json", NULL};
    struct res *r = req(port, "POST", "/v2/enqueue", json,
                        "{\"routing_key\":\"rk-1\",\"event_action\":\"trigger\"}");
    CHECK_INT(r->status, 200);
    CHECK(strstr(r->body, "\"who\":\"pagerduty\",\"role\":\"responder\"") != NULL);
    free(r);
    r = req(port, "POST", "/v2/enqueue", json, "{\"routing_key\":\"rk-2\"}");
    CHECK_INT(r->status, 401);
    CHECK(strstr(r->body, "unknown routing_key") != NULL);
    free(r);
    ks_http_stop(h);
    LEAK_END();
}

static void hooks_see_every_finished_request(void)
{
    LEAK_START();
    nlogs = nobs = 0;
    struct ks_http *h = start(0, 1);
    int port = ks_http_port(h);
    struct res *r = req(port, "POST", "/v1/incidents/9/ack", as_responder, NULL);
    free(r);
    /* the hooks run after the response is sent: wait for them */
    wait_logs(1);
    pthread_mutex_lock(&log_lock);
    CHECK_INT(nlogs, 1);
    CHECK(strncmp(last_log, "POST /v1/incidents/9/ack /v1/incidents/{id}/ack 200 who=rui "
                            "remote=127.0.0.1 in=0 out=",
                  84) == 0);
    CHECK(strstr(last_log, "ok=1") != NULL);
    pthread_mutex_unlock(&log_lock);
    r = req(port, "GET", "/nope", NULL, NULL);
    free(r);
    wait_logs(2);
    pthread_mutex_lock(&log_lock);
    CHECK(strncmp(last_log, "GET /nope - 404 who= ", 21) == 0);
    pthread_mutex_unlock(&log_lock);
    CHECK_INT(__atomic_load_n(&nobs, __ATOMIC_RELAXED), 2);
    ks_http_stop(h);
    LEAK_END();
}

/* ---- concurrency ------------------------------------------------------------------------ */

struct client {
    int port, n, ok;
    const char *path;
    long status; /* of the last request */
};

static void *client_run(void *arg)
{
    struct client *c = arg;
    CURL *h = curl_easy_init();
    for (int i = 0; i < c->n; i++) {
        struct res *r = req_on(h, c->port, "GET", c->path, as_viewer, NULL, 0);
        c->status = r->status;
        if (r->status == 200 && strstr(r->body, "\"id\":\"5\"")) {
            c->ok++;
        }
        free(r);
    }
    curl_easy_cleanup(h);
    return NULL;
}

static void concurrent_clients_are_all_answered(void)
{
    LEAK_START();
    calls = 0;
    struct ks_http *h = start(0, 0);
    enum { NC = 8, PER = 40 };
    struct client c[NC];
    pthread_t t[NC];
    for (int i = 0; i < NC; i++) {
        c[i] = (struct client){ks_http_port(h), PER, 0, "/v1/incidents/5", 0};
        pthread_create(&t[i], NULL, client_run, &c[i]);
    }
    int ok = 0;
    for (int i = 0; i < NC; i++) {
        pthread_join(t[i], NULL);
        ok += c[i].ok;
    }
    CHECK_INT(ok, NC * PER);
    CHECK_INT(calls, NC * PER);
    ks_http_stop(h);
    LEAK_END();
}

static void *slow_client(void *arg)
{
    struct client *c = arg;
    struct res *r = req(c->port, "GET", "/slow", NULL, NULL);
    c->status = r->status;
    c->ok = r->status == 200 && strcmp(r->body, "{\"slow\":true}") == 0;
    free(r);
    return NULL;
}

/* Thread per connection only: in a pool, a handler that blocks holds up its
 * event loop, so the second slow request may wait behind the first instead
 * of running beside it (which is why the server defaults to a thread per
 * connection). */
static void over_max_inflight_is_429(void)
{
    if (threads) {
        return;
    }
    LEAK_START();
    gate_reset();
    struct ks_http *h = start(2, 0);
    int port = ks_http_port(h);
    struct client c[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        c[i] = (struct client){port, 1, 0, "/slow", 0};
        pthread_create(&t[i], NULL, slow_client, &c[i]);
    }
    CHECK(gate_wait_for(2));
    CHECK_INT(ks_http_inflight(h), 2);
    struct res *r = req(port, "GET", "/v1/incidents", as_viewer, NULL);
    CHECK_INT(r->status, 429);
    CHECK(strstr(r->body, "\"code\":\"too_many_requests\"") != NULL);
    CHECK(has_header(r, "Retry-After: 1"));
    free(r);
    /* the health check answers whatever else is going on */
    r = req(port, "GET", "/healthz", NULL, NULL);
    CHECK_INT(r->status, 200);
    free(r);
    gate_release();
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        CHECK(c[i].ok);
    }
    /* room again */
    for (int i = 0; i < 100 && ks_http_inflight(h) > 0; i++) {
        usleep(10000);
    }
    r = req(port, "GET", "/healthz", NULL, NULL);
    CHECK_INT(r->status, 200);
    free(r);
    ks_http_stop(h);
    LEAK_END();
}

static void *open_later(void *arg)
{
    (void)arg;
    usleep(200000);
    gate_release();
    return NULL;
}

static void stop_finishes_a_slow_request_in_progress(void)
{
    LEAK_START();
    gate_reset();
    struct ks_http *h = start(0, 0);
    int port = ks_http_port(h);
    struct client c = {port, 1, 0, "/slow", 0};
    pthread_t t;
    pthread_create(&t, NULL, slow_client, &c);
    CHECK(gate_wait_for(1));
    /* open the gate a little after stop began: stop must wait for it */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t opener;
    pthread_create(&opener, NULL, open_later, NULL);
    ks_http_stop(h);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(opener, NULL);
    pthread_join(t, NULL);
    CHECK(c.ok);
    CHECK_INT(c.status, 200);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    CHECK(ms >= 200); /* it waited for the request */
    /* nothing listens any more */
    struct res *r = req(port, "GET", "/healthz", NULL, NULL);
    CHECK(r->rc == CURLE_COULDNT_CONNECT);
    free(r);
    LEAK_END();
}

static void start_refuses_bad_patterns_and_busy_ports(void)
{
    LEAK_START();
    struct ks_http_route bad[] = {{"GET", "/v1/{}", echo, NULL, KS_ROLE_NONE, 0, NULL, 0, NULL}};
    struct ks_http_opts o = {0};
    o.routes = bad;
    o.nroutes = 1;
    struct ks_err err = {0};
    CHECK(ks_http_start(&o, &err) == NULL);
    CHECK_INT(err.rc, KS_EUSAGE);
    CHECK(strstr(err.msg, "bad segment '{}'") != NULL);
    bad[0].pattern = "/v1/guard/{verb:}";
    CHECK(ks_http_start(&o, &err) == NULL);
    CHECK(strstr(err.msg, "bad segment '{verb:}'") != NULL);
    struct ks_http *h = start(0, 0);
    o.routes = routes;
    o.port = ks_http_port(h);
    CHECK(ks_http_start(&o, &err) == NULL);
    CHECK_INT(err.rc, KS_EIO);
    CHECK(strstr(err.msg, "Address already in use") != NULL);
    o.port = 0;
    o.host = "no.such.host.invalid";
    CHECK(ks_http_start(&o, &err) == NULL);
    CHECK_INT(err.rc, KS_EIO);
    ks_http_stop(h);
    ks_http_stop(NULL);
    LEAK_END();
}

/* A body that trickles in (a byte every half second, no token: the route
 * authenticates from the body) is cut off after the grace of 10 s, so it
 * cannot hold a request slot for as long as it likes. */
static void a_trickling_body_is_cut_off(void)
{
    if (threads) {
        return; /* the same code in a pool; once is enough for 10 s */
    }
    LEAK_START();
    struct ks_http *h = start(0, 0);
    int port = ks_http_port(h);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_INT(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    const char *head = "POST /v2/enqueue HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 500\r\n\r\n";
    send(fd, head, strlen(head), MSG_NOSIGNAL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int closed = 0;
    for (int i = 0; i < 60 && !closed; i++) {
        if (send(fd, " ", 1, MSG_NOSIGNAL) != 1) {
            closed = 1;
            break;
        }
        usleep(500000);
        char buf[64];
        ssize_t got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        closed = got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    close(fd);
    CHECK(closed);
    long secs = (long)(t1.tv_sec - t0.tv_sec);
    CHECK(secs >= 10 && secs <= 20);
    for (int i = 0; i < 100 && ks_http_inflight(h) > 0; i++) {
        usleep(10000);
    }
    CHECK_INT(ks_http_inflight(h), 0);
    ks_http_stop(h);
    LEAK_END();
}

static void run_all(void)
{
    RUN(routes_match_literal_and_param_segments);
    RUN(query_params_are_decoded_and_headers_case_insensitive);
    RUN(query_params_a_route_does_not_take_are_refused);
    RUN(unknown_path_is_404_in_json);
    RUN(wrong_method_is_405_with_allow);
    RUN(listed_values_of_a_segment_route_only_those);
    RUN(unrouted_status_answers_everything_else);
    RUN(unrouted_why_names_the_reason);
    RUN(loading_server_says_starting_not_standby);
    RUN(handler_errors_keep_the_json_shape);
    RUN(body_over_the_route_limit_is_413);
    RUN(declared_length_over_limit_is_refused_before_the_body);
    RUN(unsupported_content_type_is_415);
    RUN(encoded_body_is_415);
    RUN(bad_json_is_400_with_its_place);
    RUN(bearer_token_without_surrounding_white_space);
    RUN(tokens_and_roles_give_401_and_403);
    RUN(a_route_may_authenticate_from_the_body);
    RUN(hooks_see_every_finished_request);
    RUN(concurrent_clients_are_all_answered);
    RUN(over_max_inflight_is_429);
    RUN(a_trickling_body_is_cut_off);
    RUN(stop_finishes_a_slow_request_in_progress);
}

/* The API's errors name routes where the messages name commands
 * (src/serve/hint.c). */
static void api_hint_names_routes(void)
{
    static const char *const cases[][2] = {
        {"step x is already done (by al at T); nothing recorded (add a note: kintsugi incident "
         "note 12 TEXT --by NAME)",
         "step x is already done (by al at T); nothing recorded (add a note: POST "
         "/v1/incidents/12/note)"},
        {"step z waits for an approval: kintsugi action approve 4 zero_channel --by NAME",
         "step z waits for an approval: POST /v1/actions/4/approve {\"action\": \"zero_channel\"}"},
        {"amazon holds values of incident 3: roll it back (kintsugi guard rollback 3) or accept "
         "it (kintsugi guard accept 3) first",
         "amazon holds values of incident 3: roll it back (POST /v1/guard/rollback "
         "{\"incident\": 3}) or accept it (POST /v1/guard/accept {\"incident\": 3}) first"},
        {"no proposed 'x' (see kintsugi action list)", "no proposed 'x' (see GET /v1/actions)"},
        {"read the whole state (kintsugi feed amazon/us --state) and go on",
         "read the whole state (GET /v1/feed/amazon%2Fus?state=1) and go on"},
        {"no message 9 (kintsugi messages lists them)", "no message 9 (GET /v1/messages lists them)"},
        /* not a command it knows, or not all of one: as it is */
        {"kintsugi messagesx; kintsugi guard rollback N; kintsugi serve at http://h:1",
         "kintsugi messagesx; kintsugi guard rollback N; kintsugi serve at http://h:1"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ks_buf b = {0};
        ks_api_hint(cases[i][0], &b);
        CHECK_STR(b.p ? b.p : "", cases[i][1]);
        ks_buf_fini(&b);
    }
}

int main(void)
{
    RUN(api_hint_names_routes);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    threads = 0;
    run_all();
    RUN(start_refuses_bad_patterns_and_busy_ports);
    /* the same with a pool of two event loops */
    threads = 2;
    run_all();
    curl_global_cleanup();
    return t_done();
}
