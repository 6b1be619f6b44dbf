/*
 * http.h - kintsugi's HTTP server: a table of routes on libmicrohttpd.
 *
 * A route is a method, a path pattern whose {name} segments match any one
 * non-empty segment ("/v1/incidents/{id}/ack"), or one of the values listed
 * ("/v1/guard/{verb:pause|release}": another verb is no route's, 404 naming
 * them, before the method and the token are looked at), a handler, the least role
 * that may call it, a body limit and the content types it accepts. The
 * server answers what no handler should have to, each as a JSON error
 * {"error": {"code": "...", "message": "..."}}:
 *
 *   400 invalid            a query parameter the route does not take (its `query`),
 *                          or one given twice; Content-Length, Authorization or
 *                          Content-Type given twice
 *   400 bad_json           the route parses JSON (KS_HTTP_JSON) and the body is not
 *   401 unauthorized       no token, an unknown or a revoked one
 *   403 forbidden          the token's role is below the route's
 *   404 not_found          no route has this path
 *   405 method_not_allowed routes have the path, none the method (Allow lists theirs)
 *   413 too_large          the body is over the route's limit; a declared
 *                          Content-Length over it is refused before any byte
 *                          of the body is read
 *   415 unsupported_media_type  a body whose Content-Type the route does not take
 *   429 too_many_requests  more requests in progress than max_inflight
 *   503 stopping           a request that arrived after ks_http_stop began
 *   503 unavailable        the auth callback could not read its tokens (KS_EIO:
 *                          the store is unavailable)
 *
 * Threading: by default one thread per connection (libmicrohttpd's
 * MHD_USE_THREAD_PER_CONNECTION), so that a handler may block (a durable
 * acknowledgement waiting for its commit) without holding up requests on
 * other connections; `threads` > 0 picks a pool of that many event-loop
 * threads instead (see docs/API.md for the measurements). Either way
 * handlers and hooks run on the server's threads, several at once: what
 * they share they must lock. Memory comes from ks_malloc.
 */
#ifndef KS_HTTP_H
#define KS_HTTP_H

#include "../auth/auth.h"
#include "../core/core.h"

#include <jansson.h>

struct ks_http;
struct ks_http_conn; /* private: the request's connection state */

/* One request as a handler sees it. Everything is borrowed for the call. */
struct ks_http_req {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* decoded, without the query */
    const char *body;   /* the whole body, NUL-terminated (an empty string when none) */
    size_t body_len;
    /* The media type of Content-Type, lowercased, without parameters
     * ("application/json"); "" when the request has none. */
    const char *content_type;
    /* The caller as the auth callback named it: name "" and role
     * KS_ROLE_NONE on a route open to all (then the callback is not asked). */
    struct ks_auth_who who;
    /* With KS_HTTP_JSON: the body parsed (jansson; freed after the handler),
     * any JSON value (an object, an array, null, a number...: the handler
     * checks its type); NULL for an empty body. */
    json_t *json;
    const struct ks_http_route *route;
    struct ks_http_conn *conn;
};

/* A path parameter ("id" of "/v1/incidents/{id}"), NULL if the route has
 * none of that name. */
const char *ks_http_param(const struct ks_http_req *r, const char *name);
/* A query parameter, decoded ("?status=open&x=a%20b"): NULL when absent,
 * "" for a bare key ("?verbose"). A key given twice is refused before the
 * handler runs (400), unless the route has KS_HTTP_ANY_QUERY: then the
 * first. */
const char *ks_http_query(const struct ks_http_req *r, const char *name);
/* A request header by name, case-insensitive; NULL when absent. */
const char *ks_http_header(const struct ks_http_req *r, const char *name);

/* What a handler answers. The server sets status 200, content type
 * "application/json" and an empty body before calling it. */
struct ks_http_resp {
    int status;
    const char *content_type; /* must outlive the call: a literal */
    struct ks_buf body;
    struct ks_buf headers; /* extra headers: "Name: value\r\n" each (ks_http_add_header) */
};

/* Adds a response header (no CR or LF in either: asserted). */
void ks_http_add_header(struct ks_http_resp *r, const char *name, const char *value);
/* Replaces the answer with {"error": {"code": code, "message": ...}} and
 * status; the message is formatted like printf. */
void ks_http_error(struct ks_http_resp *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

typedef void (*ks_http_handler_fn)(const struct ks_http_req *req, struct ks_http_resp *resp,
                                   void *ctx);

/* Route flags. */
#define KS_HTTP_JSON 1u      /* parse an application/json body into req->json (400 if bad) */
#define KS_HTTP_AUTH_BODY 2u /* authenticate after the body is read (the callback sees it) */
#define KS_HTTP_ANY_QUERY 4u /* take any query parameter (a foreign format's, a page's) */

struct ks_http_route {
    const char *method;  /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    /* "/v1/incidents/{id}", "/v1/guard/{verb:pause|release}"; segments of 63
     * bytes at most. Messages and the hooks show it without the values
     * ("/v1/guard/{verb}"). */
    const char *pattern;
    ks_http_handler_fn fn;
    void *ctx;
    enum ks_auth_role role; /* the least role allowed; KS_ROLE_NONE: anyone, no token */
    size_t max_body;   /* bytes; 0: the server's default (opts.max_body) */
    /* Media types accepted for a body, comma separated
     * ("application/json, application/x-ndjson"); NULL: any. A request
     * without a body is never refused for its type. */
    const char *types;
    unsigned flags; /* KS_HTTP_* */
    /* The names of the query parameters the route takes, comma separated
     * ("status, view"); NULL: none. Any other is refused with 400 invalid
     * naming it and these (a misspelt filter must not be dropped without a
     * word), as is one of them given twice, after the token is checked,
     * before the body is read; unless the route has KS_HTTP_ANY_QUERY. */
    const char *query;
};

/*
 * The auth callback: decides who sends a request to a route whose role is
 * above KS_ROLE_NONE. bearer is the token of "Authorization: Bearer TOKEN"
 * (NULL when there is none). Without KS_HTTP_AUTH_BODY it runs before the
 * body is read (req->body is ""), with it after (a route that
 * authenticates from the body, e.g. a routing key). Fill who and return
 * KS_OK, or: KS_EINPUT, KS_ENOTFOUND, KS_ESTATE for a 401 with err's
 * message; anything else is a 500. The server then answers 403 when
 * who->role is below the route's.
 */
typedef enum ks_rc (*ks_http_auth_fn)(void *ctx, const struct ks_http_req *req, const char *bearer,
                                      struct ks_auth_who *who, struct ks_err *err);

/* The reason of an answer to a request no route takes (opts.unrouted_why):
 * sets *code (a literal) and writes the message into msg. */
typedef void (*ks_http_unrouted_fn)(void *ctx, const char **code, char *msg, size_t cap);

/* What the hooks learn of each finished request. */
struct ks_http_done {
    const char *method, *path;
    /* the route's pattern as shown ("/v1/guard/{verb}", its values left
     * out; the server's until ks_http_stop returns); NULL when none matched */
    const char *pattern;
    int status;
    const char *who;     /* the token's name, "" when none */
    const char *remote;  /* the client's address ("127.0.0.1") */
    uint64_t bytes_in, bytes_out; /* bodies */
    int64_t micros;      /* from the request's headers to its response sent */
    int completed;       /* 0: the connection broke before the response was sent */
};
typedef void (*ks_http_done_fn)(void *ctx, const struct ks_http_done *d);

struct ks_http_opts {
    const char *host; /* address to bind ("127.0.0.1", "0.0.0.0", "::"); NULL: 127.0.0.1 */
    int port;         /* 0: an ephemeral port (ks_http_port says which) */
    const struct ks_http_route *routes;
    size_t nroutes;
    ks_http_auth_fn auth; /* NULL: a route that needs a role answers 401 */
    void *auth_ctx;
    size_t max_body;        /* default body limit; 0: 1 MiB */
    unsigned max_inflight;  /* requests in progress at once; 0: 256; over it: 429 */
    unsigned max_conns;     /* open connections; 0: 4 x max_inflight */
    unsigned threads;       /* 0: a thread per connection; N: a pool of N event loops */
    unsigned idle_timeout;  /* seconds an idle connection is kept; 0: 60 */
    int64_t drain_ms;       /* how long ks_http_stop waits for requests in progress; 0: 10 s */
    ks_http_done_fn access_log; /* each finished request; NULL: none */
    void *access_ctx;
    ks_http_done_fn observe; /* each finished request, for latency histograms; NULL: none */
    void *observe_ctx;
    /* A request that no route takes: with unrouted_status 0, 404 not_found
     * (405 when other methods have the path); else that status with
     * unrouted_code and unrouted_msg and "Retry-After: 1" (a standby's 503:
     * clients retry instead of giving up). unrouted_why, when set, is asked
     * for the code and message of each such answer instead, for an owner
     * whose reason changes (a server starting, then a standby). */
    int unrouted_status;
    const char *unrouted_code, *unrouted_msg;
    ks_http_unrouted_fn unrouted_why;
    void *unrouted_ctx;
};

/*
 * Starts serving: binds host:port, then answers on the server's threads
 * until ks_http_stop. The routes (and their strings) must outlive the
 * server; they are checked here (a bad pattern is KS_EUSAGE). KS_EIO when
 * the address cannot be bound (in use, bad host). Returns NULL on failure.
 */
struct ks_http *ks_http_start(const struct ks_http_opts *o, struct ks_err *err);
/* The port the server listens on (the ephemeral one when opts.port was 0). */
int ks_http_port(const struct ks_http *h);
/* Requests in progress now (received, not yet answered). */
unsigned ks_http_inflight(const struct ks_http *h);
/*
 * Stops: no new connection is accepted, requests in progress are finished
 * and answered (waiting up to opts.drain_ms), requests arriving meanwhile on
 * open connections get 503, then every connection is closed and the
 * threads joined (a handler still running after drain_ms is waited for:
 * handlers must return), and h is freed. Takes NULL. Must not be called
 * from a handler.
 */
void ks_http_stop(struct ks_http *h);

/* The reason phrase of a status ("Not Found"). */
const char *ks_http_reason(int status);

#endif
