/*
 * http.c - the route table on libmicrohttpd (see http.h for the contract).
 *
 * libmicrohttpd calls `access` several times per request: once when the
 * headers are in (everything that can be refused before the body is
 * refused then: unknown path, wrong method, too many requests, a declared
 * body over the limit, a content type the route does not take, a missing
 * or insufficient token), then once per piece of the body (appended to
 * the request's buffer, counted against the limit), then once more when the
 * body is complete (the handler runs and its answer is queued). `completed`
 * is called when the response has been sent or the connection broke: it
 * runs the hooks, frees the request and counts it out, which is what
 * ks_http_stop waits for.
 *
 * The listening socket is ours (bound here, for a precise error and the
 * ephemeral port); ks_http_stop takes it back with MHD_quiesce_daemon and
 * closes it, so that no connection is accepted while in-progress requests
 * finish.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SEGS 32  /* path segments of a pattern or a request */
#define SEG_MAX 63   /* bytes of a pattern's segment */
#define SHOWN_MAX 256 /* bytes of a pattern as shown, without the values of its segments */
#define DEFAULT_MAX_BODY ((size_t)1 << 20)
#define DEFAULT_INFLIGHT 256
/* A chunked body over its limit is read and dropped up to this much more, to
 * answer 413; past that the connection is cut. */
#define DISCARD_MAX ((size_t)1 << 20)

/* A route's pattern, split once at start. */
struct seg {
    char s[SEG_MAX + 1];
    size_t len;
    int param;      /* {name}: s is the name */
    const char *in; /* {name:a|b}: the values it takes ("a|b", within the pattern); NULL: any */
    size_t inlen;
};
struct route {
    const struct ks_http_route *r;
    struct seg seg[MAX_SEGS];
    int nseg;
    /* the pattern as messages and the hooks show it: "/v1/guard/{verb}",
     * the values a segment takes left out */
    char shown[SHOWN_MAX];
};

struct ks_http {
    struct MHD_Daemon *d;
    int listen_fd; /* ours until MHD_start_daemon, then MHD's until quiesce */
    int port;
    struct ks_http_opts o;
    struct route *routes;
    size_t nroutes;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    unsigned active; /* requests between their headers and their end (lock) */
    int stopping;    /* lock */
};

/* One request's state, from its headers to `completed`. */
struct ks_http_conn {
    struct ks_http *h;
    struct MHD_Connection *mc;
    const struct route *rt;
    char *path;    /* the path as given (the hooks read it after libmicrohttpd's copy is gone) */
    char *raw;     /* the path as sent, still percent-encoded: split before it is decoded */
    char method[16];
    char *pathbuf; /* the path, its segments NUL-terminated: param values */
    const char *seg[MAX_SEGS];
    int nseg;
    struct ks_http_req req;
    struct ks_buf body;
    size_t limit;
    size_t discarded; /* bytes dropped after the limit was passed */
    int over;         /* the body passed the limit */
    int queued;       /* a response is queued */
    int status;
    uint64_t bytes_out;
    struct timespec t0;
    char ctype[96];
};

/* ---- small helpers -------------------------------------------------------- */

const char *ks_http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "";
    }
}

#define BODY_GRACE_US (10 * 1000000LL) /* a body's first seconds, at any rate */
#define BODY_MIN_RATE 1024             /* bytes a second on average after them */

static int64_t micros_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)(t.tv_sec - t0->tv_sec) * 1000000 + (t.tv_nsec - t0->tv_nsec) / 1000;
}

void ks_http_add_header(struct ks_http_resp *r, const char *name, const char *value)
{
    KS_ASSERT(!strpbrk(name, "\r\n:") && !strpbrk(value, "\r\n"));
    ks_buf_puts(&r->headers, name);
    ks_buf_puts(&r->headers, ": ");
    ks_buf_puts(&r->headers, value);
    ks_buf_puts(&r->headers, "\r\n");
}

void ks_http_error(struct ks_http_resp *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->status = status;
    r->content_type = "application/json";
    ks_buf_reset(&r->body);
    ks_buf_puts(&r->body, "{\"error\":{\"code\":");
    ks_json_escape(&r->body, code, strlen(code));
    ks_buf_puts(&r->body, ",\"message\":");
    ks_json_escape(&r->body, msg, strlen(msg));
    ks_buf_puts(&r->body, "}}\n");
}

const char *ks_http_param(const struct ks_http_req *r, const char *name)
{
    const struct ks_http_conn *c = r->conn;
    if (!c || !c->rt) {
        return NULL;
    }
    for (int i = 0; i < c->rt->nseg; i++) {
        if (c->rt->seg[i].param && strcmp(c->rt->seg[i].s, name) == 0) {
            return c->seg[i];
        }
    }
    return NULL;
}

const char *ks_http_query(const struct ks_http_req *r, const char *name)
{
    const char *v = NULL;
    if (!r->conn || MHD_lookup_connection_value_n(r->conn->mc, MHD_GET_ARGUMENT_KIND, name,
                                                  strlen(name), &v, NULL) != MHD_YES) {
        return NULL;
    }
    return v ? v : "";
}

const char *ks_http_header(const struct ks_http_req *r, const char *name)
{
    return r->conn ? MHD_lookup_connection_value(r->conn->mc, MHD_HEADER_KIND, name) : NULL;
}

/* ---- routes ----------------------------------------------------------------- */

/* Splits a pattern into segments; -1 with a message for a bad one. */
static int compile(struct route *rt, const struct ks_http_route *r, struct ks_err *err)
{
    rt->r = r;
    rt->nseg = 0;
    const char *p = r->pattern;
    if (!p || p[0] != '/' || !r->method || !r->fn) {
        ks_err_set(err, KS_EUSAGE, "http: route %s %s: needs a method, a handler and a "
                                   "pattern starting with /",
                   r->method ? r->method : "?", p ? p : "?");
        return -1;
    }
    while (*p == '/') {
        p++;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (rt->nseg == MAX_SEGS || n > SEG_MAX + 2) {
            ks_err_set(err, KS_EUSAGE, "http: route %s: too many or too long segments",
                       r->pattern);
            return -1;
        }
        struct seg *s = &rt->seg[rt->nseg++];
        s->param = n >= 2 && p[0] == '{' && p[n - 1] == '}';
        const char *from = s->param ? p + 1 : p;
        s->len = s->param ? n - 2 : n;
        s->in = NULL;
        s->inlen = 0;
        const char *colon = s->param ? memchr(from, ':', s->len) : NULL;
        if (colon) {
            /* {verb:pause|release}: only those values are this route's */
            s->in = colon + 1;
            s->inlen = s->len - (size_t)(s->in - from);
            s->len = (size_t)(colon - from);
        }
        if (s->len > SEG_MAX || (s->param && s->len == 0) || (colon && s->inlen == 0) ||
            (!s->param && memchr(from, '{', s->len))) {
            ks_err_set(err, KS_EUSAGE, "http: route %s: bad segment '%.*s'", r->pattern, (int)n,
                       p);
            return -1;
        }
        memcpy(s->s, from, s->len);
        s->s[s->len] = 0;
        p += n;
    }
    /* as shown: each {name:values} as {name} */
    size_t o = 0;
    for (int i = 0; i < rt->nseg; i++) {
        const struct seg *s = &rt->seg[i];
        o += (size_t)snprintf(rt->shown + o, o < SHOWN_MAX ? SHOWN_MAX - o : 0,
                              s->param ? "/{%s}" : "/%s", s->s);
    }
    if (o >= SHOWN_MAX) {
        ks_err_set(err, KS_EUSAGE, "http: route %s: too long", r->pattern);
        return -1;
    }
    return 0;
}

/* Whether v is one of the values of segment s ("a|b"). */
static int value_listed(const struct seg *s, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = s->in, *end = s->in + s->inlen; p < end;) {
        const char *bar = memchr(p, '|', (size_t)(end - p));
        size_t k = bar ? (size_t)(bar - p) : (size_t)(end - p);
        if (k == n && memcmp(p, v, n) == 0) {
            return 1;
        }
        p += k + 1;
    }
    return 0;
}

/* 1 when the request's path is the route's; 0 when it is not; -1 when it
 * would be but for a value its segment does not list ({verb:a|b}). */
static int path_matches(const struct route *rt, const struct ks_http_conn *c)
{
    if (rt->nseg != c->nseg) {
        return 0;
    }
    int listed = 1;
    for (int i = 0; i < c->nseg; i++) {
        const struct seg *s = &rt->seg[i];
        if (s->param ? c->seg[i][0] == 0 : strcmp(s->s, c->seg[i]) != 0) {
            return 0;
        }
        if (s->in && !value_listed(s, c->seg[i])) {
            listed = 0;
        }
    }
    return listed ? 1 : -1;
}

/* The values a route's segment lists, for a 404 ("{verb} is one of pause,
 * release"): the first such segment the request's path does not match. */
static void values_of(const struct route *rt, const struct ks_http_conn *c, char *out, size_t cap)
{
    out[0] = 0;
    for (int i = 0; i < rt->nseg && i < c->nseg; i++) {
        const struct seg *s = &rt->seg[i];
        if (s->in && !value_listed(s, c->seg[i])) {
            size_t o = (size_t)snprintf(out, cap, "{%s} is one of ", s->s);
            for (size_t k = 0; k < s->inlen && o + 3 < cap; k++) {
                if (s->in[k] == '|') {
                    out[o++] = ',';
                    out[o++] = ' ';
                } else {
                    out[o++] = s->in[k];
                }
            }
            out[o < cap ? o : cap - 1] = 0;
            return;
        }
    }
}

static int method_matches(const char *route, const char *req)
{
    return strcmp(route, req) == 0 || (strcmp(req, "HEAD") == 0 && strcmp(route, "GET") == 0);
}

/* Splits the request's path into c->seg; 0 when it cannot be a route's. */
static size_t unescape(void *cls, struct MHD_Connection *mc, char *s);

/* The path's segments, each percent-decoded on its own once the path is
 * split at its slashes, so that a value holding an encoded slash
 * (/v1/feed/amazon%2Fus: the channel "amazon/us") stays one segment. */
static int split_path(struct ks_http_conn *c, const char *url)
{
    const char *src = c->raw ? c->raw : url;
    if (src[0] != '/') {
        return 0;
    }
    ks_free(c->pathbuf);
    c->pathbuf = ks_strdup(src);
    char *p = c->pathbuf;
    c->nseg = 0;
    while (*p == '/') {
        *p++ = 0;
        if (c->nseg == MAX_SEGS) {
            return 0;
        }
        c->seg[c->nseg++] = p;
        char *e = strchr(p, '/');
        p = e ? e : p + strlen(p);
    }
    if (c->raw) {
        for (int i = 0; i < c->nseg; i++) {
            unescape(NULL, NULL, (char *)c->seg[i]); /* in place, within the segment */
        }
    }
    return 1;
}

/* ---- answering ---------------------------------------------------------------- */

static void resp_init(struct ks_http_resp *r)
{
    memset(r, 0, sizeof(*r));
    r->status = 200;
    r->content_type = "application/json";
}

static void resp_fini(struct ks_http_resp *r)
{
    ks_buf_fini(&r->body);
    ks_buf_fini(&r->headers);
}

/* Queues r on the connection (and frees what r holds). close: ask the client
 * to close the connection after it (a body left unread, or stopping). */
static enum MHD_Result answer(struct ks_http_conn *c, struct ks_http_resp *r, int close)
{
    struct MHD_Response *mr;
    size_t n = r->body.len;
    if (n) {
        /* the body's buffer goes to MHD, which frees it once sent */
        mr = MHD_create_response_from_buffer_with_free_callback(n, r->body.p, ks_free);
        if (mr) {
            r->body.p = NULL;
            r->body.len = r->body.cap = 0;
        }
    } else {
        mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!mr) {
        resp_fini(r);
        return MHD_NO;
    }
    if (r->content_type && n) {
        MHD_add_response_header(mr, "Content-Type", r->content_type);
    }
    /* extra headers: "Name: value\r\n" each */
    for (char *line = r->headers.p; line && *line;) {
        char *eol = strstr(line, "\r\n");
        char *colon = strchr(line, ':');
        KS_ASSERT(eol && colon && colon < eol);
        *eol = 0;
        *colon = 0;
        MHD_add_response_header(mr, line, colon + 2);
        line = eol + 2;
    }
    if (close) {
        MHD_add_response_header(mr, "Connection", "close");
    }
    enum MHD_Result ok = MHD_queue_response(c->mc, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    if (ok == MHD_YES) {
        c->queued = 1;
        c->status = r->status;
        c->bytes_out = n;
    }
    resp_fini(r);
    return ok;
}

static enum MHD_Result refuse(struct ks_http_conn *c, int status, const char *code,
                              const char *extra_name, const char *extra_value, const char *fmt,
                              ...) __attribute__((format(printf, 6, 7)));

/* Answers a JSON error before or after the body. */
static enum MHD_Result refuse(struct ks_http_conn *c, int status, const char *code,
                              const char *extra_name, const char *extra_value, const char *fmt,
                              ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct ks_http_resp r;
    resp_init(&r);
    ks_http_error(&r, status, code, "%s", msg);
    if (extra_name) {
        ks_http_add_header(&r, extra_name, extra_value);
    }
    return answer(c, &r, status == 503);
}

/* ---- the request's way ------------------------------------------------------------ */

/* The media type of Content-Type, lowercased, without parameters. */
static void media_type(const char *h, char *out, size_t cap)
{
    size_t o = 0;
    if (h) {
        while (*h == ' ' || *h == '\t') {
            h++;
        }
        for (; *h && *h != ';' && *h != ' ' && *h != '\t' && o + 1 < cap; h++) {
            char ch = *h;
            out[o++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
        }
    }
    out[o] = 0;
}

/* Whether media type t is in the comma-separated list. */
static int type_listed(const char *list, const char *t)
{
    size_t n = strlen(t);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        const char *e = p;
        while (*e && *e != ',' && *e != ' ') {
            e++;
        }
        if ((size_t)(e - p) == n && n && strncasecmp(p, t, n) == 0) {
            return 1;
        }
        p = e;
    }
    return 0;
}

static int is_json_type(const char *t)
{
    size_t n = strlen(t);
    return strcmp(t, "application/json") == 0 || (n > 5 && strcmp(t + n - 5, "+json") == 0);
}

/* Runs the auth callback and the role check; 0 to go on, else a response
 * was queued (or MHD_NO must be returned: *res). */
static int authenticate(struct ks_http_conn *c, enum MHD_Result *res)
{
    const struct ks_http_route *r = c->rt->r;
    if (r->role == KS_ROLE_NONE) {
        return 0;
    }
    struct ks_http *h = c->h;
    const char *auth = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "Authorization");
    char *bearer = NULL;
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        /* The token without the white space around it: RFC 9110 allows
         * optional white space (spaces, tabs) around a field's value, and
         * libmicrohttpd keeps what trails it. */
        const char *b = auth + 7;
        while (*b == ' ' || *b == '\t') {
            b++;
        }
        size_t n = strlen(b);
        while (n && (b[n - 1] == ' ' || b[n - 1] == '\t')) {
            n--;
        }
        bearer = ks_strndup(b, n);
    }
    struct ks_err err = {0};
    enum ks_rc rc = KS_EINPUT;
    if (!h->o.auth) {
        ks_err_set(&err, KS_EINPUT, "this server takes no tokens");
    } else {
        rc = h->o.auth(h->o.auth_ctx, &c->req, bearer, &c->req.who, &err);
    }
    ks_free(bearer);
    if (rc == KS_EINPUT || rc == KS_ENOTFOUND || rc == KS_ESTATE) {
        memset(&c->req.who, 0, sizeof(c->req.who));
        *res = refuse(c, 401, "unauthorized", "WWW-Authenticate", "Bearer realm=\"kintsugi\"",
                      "%s", err.msg[0] ? err.msg : "a token is needed");
        return 1;
    }
    if (rc == KS_EIO) {
        /* the tokens' store is away (a lost database connection): try again later */
        memset(&c->req.who, 0, sizeof(c->req.who));
        ks_log(KS_LOG_WARN, "http", "auth: %s", err.msg);
        *res = refuse(c, 503, "unavailable", NULL, NULL, "cannot check the token now: %s",
                      err.msg);
        return 1;
    }
    if (rc != KS_OK) {
        memset(&c->req.who, 0, sizeof(c->req.who));
        ks_log(KS_LOG_ERROR, "http", "auth: %s", err.msg);
        *res = refuse(c, 500, "internal", NULL, NULL, "authentication failed: %s", err.msg);
        return 1;
    }
    if (c->req.who.role < r->role) {
        *res = refuse(c, 403, "forbidden", NULL, NULL,
                      "token '%s' has role %s; %s %s needs %s or above", c->req.who.name,
                      ks_role_name(c->req.who.role), r->method, c->rt->shown,
                      ks_role_name(r->role));
        return 1;
    }
    return 0;
}

/* Whether name is one of list's comma separated names ("status, view"). */
static int name_listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        p += strspn(p, ", ");
        size_t k = strcspn(p, ",");
        while (k && p[k - 1] == ' ') {
            k--;
        }
        if (k && k == n && memcmp(p, name, n) == 0) {
            return 1;
        }
        p += strcspn(p, ",");
    }
    return 0;
}

#define QUERY_SEEN 32 /* names a route takes, told apart to find one given twice */

struct query_check {
    const char *known;
    char bad[128];
    int found;      /* 1: a name the route does not take; 2: one given twice */
    const char *seen[QUERY_SEEN]; /* the names met so far (libmicrohttpd's, borrowed) */
    size_t nseen;
};

static enum MHD_Result query_name(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind, (void)value;
    struct query_check *q = cls;
    key = key ? key : "";
    if (!name_listed(q->known, key)) {
        snprintf(q->bad, sizeof(q->bad), "%s", key);
        q->found = 1;
        return MHD_NO;
    }
    /* A name given twice (?status=resolved&status=investigating) is refused:
     * a handler reads one value, and the other would be dropped without a
     * word. Only names of the route's list get here, each kept once, so
     * the list of those seen stays short. */
    for (size_t i = 0; i < q->nseen; i++) {
        if (strcmp(q->seen[i], key) == 0) {
            snprintf(q->bad, sizeof(q->bad), "%s", key);
            q->found = 2;
            return MHD_NO;
        }
    }
    if (q->nseen < QUERY_SEEN) {
        q->seen[q->nseen++] = key;
    }
    return MHD_YES;
}

/* Refuses a query parameter the route does not take (400, naming it and
 * those it takes), or one given twice (400 naming it); 0 to go on. */
static int query_refused(struct ks_http_conn *c, enum MHD_Result *res)
{
    const struct ks_http_route *r = c->rt->r;
    if (r->flags & KS_HTTP_ANY_QUERY) {
        return 0;
    }
    struct query_check q = {.known = r->query};
    MHD_get_connection_values(c->mc, MHD_GET_ARGUMENT_KIND, query_name, &q);
    if (!q.found) {
        return 0;
    }
    if (q.found == 2) {
        *res = refuse(c, 400, "invalid", NULL, NULL,
                      "query \"%s\" is given more than once (each parameter is taken once; "
                      "there is no list of values)",
                      q.bad);
        return 1;
    }
    *res = refuse(c, 400, "invalid", NULL, NULL, "query \"%s\" is not known (%s)", q.bad,
                  r->query && *r->query ? r->query : "none");
    return 1;
}

/* Everything decided from the headers. Returns 0 to go on to the body, else
 * a response was queued (*res says how). */
/* How many times the request gives each header that must come once. */
static const char *const once[] = {"Content-Length", "Authorization", "Content-Type"};
#define NONCE (sizeof(once) / sizeof(once[0]))

static enum MHD_Result count_once(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind, (void)value;
    int *n = cls;
    for (size_t i = 0; key && i < NONCE; i++) {
        n[i] += strcasecmp(key, once[i]) == 0;
    }
    return MHD_YES;
}

/* The first header of `once` the request gives more than once, or NULL. */
static const char *header_twice(struct ks_http_conn *c)
{
    int n[NONCE] = {0};
    MHD_get_connection_values(c->mc, MHD_HEADER_KIND, count_once, n);
    for (size_t i = 0; i < NONCE; i++) {
        if (n[i] > 1) {
            return once[i];
        }
    }
    return NULL;
}

/* The first content coding of the request's Content-Encoding headers that
 * is not identity ("gzip", "br"), or "" when the body is sent as it is. */
struct coding {
    char name[64];
};

static enum MHD_Result find_coding(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct coding *cd = cls;
    if (cd->name[0] || strcasecmp(key, "Content-Encoding") != 0 || !value) {
        return MHD_YES;
    }
    for (const char *p = value; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        const char *e = p;
        while (*e && *e != ',' && *e != ' ' && *e != '\t') {
            e++;
        }
        size_t n = (size_t)(e - p);
        if (n && !(n == 8 && strncasecmp(p, "identity", 8) == 0)) {
            snprintf(cd->name, sizeof(cd->name), "%.*s", (int)n, p);
            /* shown in a JSON message: printable ASCII only */
            for (char *q = cd->name; *q; q++) {
                *q = (unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e ? '?' : *q;
            }
            break;
        }
        p = e;
    }
    return MHD_YES;
}

static int on_headers(struct ks_http_conn *c, const char *url, const char *method,
                      enum MHD_Result *res)
{
    struct ks_http *h = c->h;
    pthread_mutex_lock(&h->lock);
    int stopping = h->stopping;
    unsigned active = h->active;
    pthread_mutex_unlock(&h->lock);
    if (stopping) {
        *res = refuse(c, 503, "stopping", NULL, NULL, "the server is stopping");
        return 1;
    }
    /* The health checks answer whatever else is going on: a load balancer
     * or an orchestrator must not take a busy server for a dead one. */
    int health = !strcmp(url, "/healthz") || !strcmp(url, "/readyz");
    if (active > h->o.max_inflight && !health) {
        *res = refuse(c, 429, "too_many_requests", "Retry-After", "1",
                      "more than %u requests in progress; retry shortly", h->o.max_inflight);
        return 1;
    }
    if (h->o.unrouted_status) {
        /* nothing but the routes: everything else is refused as the owner says */
        int any = split_path(c, url);
        for (size_t i = 0; any && i < h->nroutes && !c->rt; i++) {
            if (path_matches(&h->routes[i], c) > 0 &&
                method_matches(h->routes[i].r->method, method)) {
                c->rt = &h->routes[i];
            }
        }
        if (!c->rt) {
            const char *code = h->o.unrouted_code;
            char msg[400];
            snprintf(msg, sizeof(msg), "%s", h->o.unrouted_msg ? h->o.unrouted_msg : "unavailable");
            if (h->o.unrouted_why) {
                h->o.unrouted_why(h->o.unrouted_ctx, &code, msg, sizeof(msg));
            }
            *res = refuse(c, h->o.unrouted_status, code, "Retry-After", "1", "%s", msg);
            return 1;
        }
    }
    size_t bad = ks_utf8_invalid_at(url, strlen(url));
    if (bad != (size_t)-1) {
        *res = refuse(c, 400, "invalid", NULL, NULL,
                      "path: not valid UTF-8 once percent-decoded (byte %zu)", bad + 1);
        return 1;
    }
    if (!c->rt && !split_path(c, url)) {
        *res = refuse(c, 404, "not_found", NULL, NULL, "no such path: %s", url);
        return 1;
    }
    struct ks_buf allow = {0};
    const struct route *near = NULL; /* the path, but for a value it does not list */
    for (size_t i = 0; i < h->nroutes && !c->rt; i++) {
        const struct route *rt = &h->routes[i];
        int m = path_matches(rt, c);
        if (m < 0 && !near) {
            near = rt;
        }
        if (m <= 0) {
            continue;
        }
        if (method_matches(rt->r->method, method)) {
            c->rt = rt;
        } else if (!strstr(allow.p ? allow.p : "", rt->r->method)) {
            if (allow.len) {
                ks_buf_puts(&allow, ", ");
            }
            ks_buf_puts(&allow, rt->r->method);
            if (!strcmp(rt->r->method, "GET")) {
                ks_buf_puts(&allow, ", HEAD"); /* answered as GET is, without the body */
            }
        }
    }
    if (!c->rt) {
        if (allow.len) {
            *res = refuse(c, 405, "method_not_allowed", "Allow", allow.p,
                          "%s is not allowed on %s (allowed: %s)", method, url, allow.p);
        } else if (near) {
            /* a verb that does not exist: not "method not allowed", not "forbidden" */
            char vals[200];
            values_of(near, c, vals, sizeof(vals));
            *res = refuse(c, 404, "not_found", NULL, NULL, "no such path: %s (%s)", url, vals);
        } else {
            *res = refuse(c, 404, "not_found", NULL, NULL, "no such path: %s", url);
        }
        ks_buf_fini(&allow);
        return 1;
    }
    ks_buf_fini(&allow);
    c->req.route = c->rt->r;
    const struct ks_http_route *r = c->rt->r;
    c->limit = r->max_body ? r->max_body : h->o.max_body;
    const char *cl = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "Content-Length");
    const char *te = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "Transfer-Encoding");
    const char *twice = header_twice(c);
    if (twice) {
        /* Two lengths: a proxy in front may have framed the body by the other
         * one (request smuggling). Two tokens or two types: which one the
         * sender meant is not known (the first would be taken, a proxy may
         * have read the other). Refused, before the token is looked at. */
        *res = refuse(c, 400, "invalid", NULL, NULL,
                      "more than one %s header: send it once", twice);
        return 1;
    }
    unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
    int has_body = declared > 0 || te != NULL;
    media_type(MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "Content-Type"), c->ctype,
               sizeof(c->ctype));
    c->req.content_type = c->ctype;
    /* Authentication comes before the body's checks, so that a caller without a
     * token learns nothing about the route's limits. */
    if (!(r->flags & KS_HTTP_AUTH_BODY) && (authenticate(c, res) || query_refused(c, res))) {
        return 1;
    }
    if (declared > c->limit) {
        *res = refuse(c, 413, "too_large", NULL, NULL,
                      "the body is %llu bytes; %s %s takes at most %zu", declared, r->method,
                      c->rt->shown, c->limit);
        return 1;
    }
    if (has_body && r->types && !type_listed(r->types, c->ctype)) {
        *res = refuse(c, 415, "unsupported_media_type", "Accept", r->types,
                      "Content-Type %s is not taken here; send one of: %s",
                      c->ctype[0] ? c->ctype : "(none)", r->types);
        return 1;
    }
    struct coding cd = {""};
    MHD_get_connection_values(c->mc, MHD_HEADER_KIND, find_coding, &cd);
    if (has_body && cd.name[0]) {
        /* A compressed body read as it is would be garbage to the handler
         * (NDJSON lines of binary, dead letters): no route takes one. */
        *res = refuse(c, 415, "unsupported_media_type", "Accept-Encoding", "identity",
                      "Content-Encoding %s is not taken here; send the body uncompressed "
                      "(no Content-Encoding, or identity)",
                      cd.name);
        return 1;
    }
    if (declared) {
        /* one allocation for a body whose size is known */
        c->body.p = ks_malloc((size_t)declared + 1);
        c->body.cap = (size_t)declared + 1;
        c->body.p[0] = 0;
    }
    return 0;
}

/* The body is in: the handler runs and its answer is queued. */
static enum MHD_Result on_body(struct ks_http_conn *c)
{
    const struct ks_http_route *r = c->rt->r;
    enum MHD_Result res;
    if (c->over) {
        return refuse(c, 413, "too_large", NULL, NULL, "the body is over %zu bytes, the most %s "
                                                       "%s takes",
                      c->limit, r->method, c->rt->shown);
    }
    c->req.body = c->body.p ? c->body.p : "";
    c->req.body_len = c->body.len;
    if (is_json_type(c->ctype) && c->req.body_len >= 3 &&
        memcmp(c->req.body, "\xEF\xBB\xBF", 3) == 0) {
        /* A UTF-8 byte order mark that some editors and Windows tools write
         * first: not part of the JSON (RFC 8259 lets a parser ignore it),
         * taken off every JSON body, as POST /v1/events does for NDJSON. */
        c->req.body += 3;
        c->req.body_len -= 3;
    }
    if ((r->flags & KS_HTTP_AUTH_BODY) && (authenticate(c, &res) || query_refused(c, &res))) {
        return res;
    }
    if ((r->flags & KS_HTTP_JSON) && c->req.body_len && is_json_type(c->ctype)) {
        /* a key given twice is refused: which one was meant is not known
         * ({"amount": 5, "amount": 500}); any JSON value is taken (null, 0,
         * "x" as well as an array), so that a body that is JSON of the
         * wrong type is the handler's 400 invalid ("body: must be a JSON
         * object, got null"), not bad_json */
        json_error_t je;
        c->req.json = json_loadb(c->req.body, c->req.body_len,
                                 JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
        if (!c->req.json) {
            const char *what = "the body is not JSON", *why = je.text;
            if (strstr(why, "JSON_ALLOW_NUL")) {
                why = "a string holds a NUL character (\\u0000)";
            } else if (strstr(why, "duplicate object key")) {
                what = "the body gives a key twice (which one is meant is not known)";
            }
            return refuse(c, 400, "bad_json", NULL, NULL, "%s: line %d column %d: %s", what,
                          je.line, je.column, why);
        }
    }
    struct ks_http_resp resp;
    resp_init(&resp);
    r->fn(&c->req, &resp, r->ctx);
    json_decref(c->req.json);
    c->req.json = NULL;
    return answer(c, &resp, 0);
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *mc, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    (void)version;
    struct ks_http *h = cls;
    struct ks_http_conn *c = *con_cls;
    if (!c || !c->h) {
        if (!c) {
            c = ks_calloc(1, sizeof(*c));
        }
        c->h = h;
        c->mc = mc;
        clock_gettime(CLOCK_MONOTONIC, &c->t0);
        snprintf(c->method, sizeof(c->method), "%s", method);
        c->path = ks_strdup(url);
        c->req.method = c->method;
        c->req.path = c->path;
        c->req.body = "";
        c->req.content_type = "";
        c->req.conn = c;
        *con_cls = c;
        pthread_mutex_lock(&h->lock);
        h->active++;
        pthread_mutex_unlock(&h->lock);
        enum MHD_Result res = MHD_YES;
        if (on_headers(c, url, method, &res)) {
            return res;
        }
        return MHD_YES;
    }
    if (c->queued) {
        /* refused early: whatever libmicrohttpd still hands over is dropped */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        /* A body that trickles in (under 1 KiB/s on average after 10 s) holds
         * a request slot for nothing: the connection is dropped. */
        int64_t us = micros_since(&c->t0);
        if (us > BODY_GRACE_US &&
            (int64_t)(c->body.len + c->discarded + n) < us / 1000000 * BODY_MIN_RATE) {
            return MHD_NO;
        }
        if (c->over || c->body.len + n > c->limit) {
            c->over = 1;
            c->discarded += n;
            if (c->discarded > DISCARD_MAX) {
                return MHD_NO; /* a client that keeps sending is cut off */
            }
            return MHD_YES;
        }
        ks_buf_put(&c->body, upload_data, n);
        return MHD_YES;
    }
    return on_body(c);
}

static void completed_cb(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct ks_http *h = cls;
    struct ks_http_conn *c = *con_cls;
    if (!c) {
        return;
    }
    *con_cls = NULL;
    if (!c->h) {
        /* only the request line came: nothing was counted or routed */
        ks_free(c->raw);
        ks_free(c);
        return;
    }
    if (h->o.access_log || h->o.observe) {
        char remote[INET6_ADDRSTRLEN] = "";
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET) {
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                          remote, sizeof(remote));
            } else if (sa->sa_family == AF_INET6) {
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                          remote, sizeof(remote));
            }
        }
        struct ks_http_done d = {c->req.method,
                                 c->req.path,
                                 c->rt ? c->rt->shown : NULL,
                                 c->status,
                                 c->req.who.name,
                                 remote,
                                 c->body.len + c->discarded,
                                 c->bytes_out,
                                 micros_since(&c->t0),
                                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK};
        if (h->o.observe) {
            h->o.observe(h->o.observe_ctx, &d);
        }
        if (h->o.access_log) {
            h->o.access_log(h->o.access_ctx, &d);
        }
    }
    json_decref(c->req.json);
    ks_buf_fini(&c->body);
    ks_free(c->pathbuf);
    ks_free(c->path);
    ks_free(c->raw);
    ks_free(c);
    pthread_mutex_lock(&h->lock);
    h->active--;
    if (h->active == 0) {
        pthread_cond_broadcast(&h->idle);
    }
    pthread_mutex_unlock(&h->lock);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* %HH decoded in paths and query values, as libmicrohttpd does, except %00:
 * a NUL would cut the text short for every C string after it
 * (/v1/incidents/1%00abc read as incident 1), so it stays as written. */
static size_t unescape(void *cls, struct MHD_Connection *mc, char *s)
{
    (void)cls, (void)mc;
    char *w = s;
    for (const char *r = s; *r;) {
        int hi, lo;
        if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi << 4 | lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

/* The first callback of a request, with its target exactly as sent: its
 * path is kept, still encoded, in the request's state that access_cb takes
 * over. */
static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *mc)
{
    (void)cls, (void)mc;
    struct ks_http_conn *c = ks_calloc(1, sizeof(*c));
    c->raw = ks_strndup(uri, strcspn(uri, "?#"));
    return c;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
        msg[--n] = 0;
    }
    /* libmicrohttpd reports clients that go away as errors: noise for us */
    ks_log(KS_LOG_DEBUG, "http", "libmicrohttpd: %s", msg);
}

/* ---- start and stop --------------------------------------------------------------- */

static int listen_on(const char *host, int port, struct ks_err *err)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    int g = getaddrinfo(host, ps, &hints, &res);
    if (g != 0) {
        ks_err_set(err, KS_EIO, "http: %s:%d: %s", host, port, gai_strerror(g));
        return -1;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 511) == 0) {
            break;
        }
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        ks_err_set(err, KS_EIO, "http: listen on %s:%d: %s", host, port, strerror(e));
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t n = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &n) != 0) {
        return -1;
    }
    if (ss.ss_family == AF_INET6) {
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

struct ks_http *ks_http_start(const struct ks_http_opts *o, struct ks_err *err)
{
    struct ks_http *h = ks_calloc(1, sizeof(*h));
    h->o = *o;
    if (!h->o.host) {
        h->o.host = "127.0.0.1";
    }
    if (!h->o.max_body) {
        h->o.max_body = DEFAULT_MAX_BODY;
    }
    if (!h->o.max_inflight) {
        h->o.max_inflight = DEFAULT_INFLIGHT;
    }
    if (!h->o.max_conns) {
        h->o.max_conns = 4 * h->o.max_inflight;
    }
    if (!h->o.idle_timeout) {
        h->o.idle_timeout = 60;
    }
    if (!h->o.drain_ms) {
        h->o.drain_ms = 10 * KS_SEC;
    }
    h->listen_fd = -1;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->idle, NULL);
    h->nroutes = o->nroutes;
    h->routes = ks_calloc(o->nroutes ? o->nroutes : 1, sizeof(*h->routes));
    for (size_t i = 0; i < o->nroutes; i++) {
        if (compile(&h->routes[i], &o->routes[i], err) != 0) {
            ks_http_stop(h);
            return NULL;
        }
    }
    h->listen_fd = listen_on(h->o.host, o->port, err);
    if (h->listen_fd < 0) {
        ks_http_stop(h);
        return NULL;
    }
    h->port = bound_port(h->listen_fd);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    flags |= o->threads ? MHD_USE_EPOLL : MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_LISTEN_SOCKET, h->listen_fd, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed_cb, h},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)h->o.max_conns, NULL},
        /* One address cannot hold every connection (clients that send their
         * headers a line at a time, say): a quarter of them at most. */
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT,
         (intptr_t)(h->o.max_conns / 4 > 16 ? h->o.max_conns / 4 : 16), NULL},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, NULL},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_seen, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)h->o.idle_timeout, NULL},
        /* the read buffer and the headers of one connection */
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)(64 * 1024), NULL},
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL},
        {o->threads ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)o->threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, access_cb, h, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
    if (!h->d) {
        ks_err_set(err, KS_EIO, "http: could not start serving on %s:%d", h->o.host, h->port);
        ks_http_stop(h);
        return NULL;
    }
    return h;
}

int ks_http_port(const struct ks_http *h)
{
    return h->port;
}

unsigned ks_http_inflight(const struct ks_http *h)
{
    struct ks_http *m = (struct ks_http *)h;
    pthread_mutex_lock(&m->lock);
    unsigned n = m->active;
    pthread_mutex_unlock(&m->lock);
    return n;
}

void ks_http_stop(struct ks_http *h)
{
    if (!h) {
        return;
    }
    if (h->d) {
        pthread_mutex_lock(&h->lock);
        h->stopping = 1;
        pthread_mutex_unlock(&h->lock);
        /* No more connections: the listening socket comes back to us. It is
         * shut down at once (a client that connects now is refused, not left
         * waiting) and closed after MHD_stop_daemon: a worker of the pool may
         * still be taking it out of its epoll set, and closing it under that
         * worker would let the number be reused while it does. */
        MHD_socket fd = MHD_quiesce_daemon(h->d);
        if (fd != MHD_INVALID_SOCKET) {
            shutdown(fd, SHUT_RDWR);
        }
        h->listen_fd = fd != MHD_INVALID_SOCKET ? fd : -1;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += h->o.drain_ms / 1000;
        until.tv_nsec += (h->o.drain_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&h->lock);
        while (h->active > 0) {
            if (pthread_cond_timedwait(&h->idle, &h->lock, &until) == ETIMEDOUT) {
                ks_log(KS_LOG_WARN, "http",
                       "stopping with %u requests still in progress after %lld ms", h->active,
                       (long long)h->o.drain_ms);
                break;
            }
        }
        pthread_mutex_unlock(&h->lock);
        MHD_stop_daemon(h->d);
    }
    if (h->listen_fd >= 0) {
        close(h->listen_fd);
    }
    pthread_cond_destroy(&h->idle);
    pthread_mutex_destroy(&h->lock);
    ks_free(h->routes);
    ks_free(h);
}
