/*
 * standby.c - what a standby `kintsugi serve` answers while it waits for the
 * shared database another server owns (docs/DEPLOY.md): /healthz 200 with
 * "status":"standby" and who is active, /readyz 503 with the same reason, so
 * that a load balancer sends nothing to it and an operator sees why. Every
 * other request is 503 (Retry-After: 1), `standby` there, `starting` on a
 * server that loads its state (not a standby). It listens on the server's own
 * address from its start (SQLite too), and is stopped once the state is
 * loaded, before the full server starts there.
 */
#include "serve.h"
#include "../shell/shell.h"

static void standby_healthz(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    (void)req;
    (void)ctx;
    char who[300];
    if (!ks_shell_standby_of(who, sizeof(who))) {
        /* starting, or taking over: the lock taken, the state loading */
        ks_buf_puts(&resp->body, "{\"status\":\"starting\"}");
        return;
    }
    struct ks_json j;
    ks_json_init(&j, &resp->body, 0);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "status");
    ks_json_str(&j, "standby");
    ks_json_key(&j, "active");
    ks_json_str(&j, who);
    ks_json_obj_end(&j);
}

static void standby_readyz(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    (void)req;
    (void)ctx;
    char who[300];
    if (!ks_shell_standby_of(who, sizeof(who))) {
        ks_http_error(resp, 503, "not_ready", "starting: loading the state");
        return;
    }
    ks_http_error(resp, 503, "standby",
                  "standby: the database is owned by %s; this server takes over when that "
                  "one stops",
                  who);
}

/* Every other request: 503 with Retry-After. A server that loads its state
 * (a start, or a wait for a command that holds the database) says so; only
 * a standby, or one taking over, sends the client to the active server. */
static void standby_unrouted(void *ctx, const char **code, char *msg, size_t cap)
{
    (void)ctx;
    char who[300];
    if (ks_shell_standby_of(who, sizeof(who)) || ks_shell_took_over()) {
        *code = "standby";
        snprintf(msg, cap, "this server is a standby or taking over; retry, or send requests "
                           "to the active server");
        return;
    }
    *code = "starting";
    snprintf(msg, cap, "starting: loading the state; retry");
}

static const struct ks_http_route standby_routes[] = {
    {"GET", "/healthz", standby_healthz, NULL, KS_ROLE_NONE, 0, NULL, KS_HTTP_ANY_QUERY, NULL},
    {"GET", "/readyz", standby_readyz, NULL, KS_ROLE_NONE, 0, NULL, KS_HTTP_ANY_QUERY, NULL},
};

struct ks_http *ks_standby_http_start(const char *host, int port, struct ks_err *err)
{
    struct ks_http_opts o = {0};
    o.host = host;
    o.port = port;
    o.routes = standby_routes;
    o.nroutes = sizeof(standby_routes) / sizeof(standby_routes[0]);
    o.drain_ms = 1000;
    /* everything else: 503 with Retry-After, so that a client that was
     * talking to this address before a restart retries instead of giving up */
    o.unrouted_status = 503;
    o.unrouted_why = standby_unrouted;
    return ks_http_start(&o, err);
}
