/*
 * cmd_serve.c - `kintsugi serve`: the engine live behind HTTP (src/serve/,
 * src/http/). Prints "listening on http://HOST:PORT" on stderr when ready;
 * SIGTERM or SIGINT stop it: no new connection, requests in progress
 * finished, the state saved, exit 0.
 */
#include "../bus/bus.h"
#include "../serve/serve.h"
#include "../store/store.h"
#include "cli.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct ks_opt opts[] = {
    {"listen", 1, "HOST:PORT to listen on (default 127.0.0.1:8080; port 0: any free port)", 0,
     NULL},
    {"advertise", 1, "the URL others reach this server at, which standbys and refused commands "
                     "name (default: the --listen address, a wildcard host such as 0.0.0.0 "
                     "replaced by this machine's name)",
     0, NULL},
    {"db", 1, "SQLite file or postgresql:// URI (default: ./kintsugi.db; created if absent)", 0, NULL},
    {"config", 1, "configuration file (default: $KINTSUGI_CONFIG or ./kintsugi.yaml)", 0, NULL},
    {"clock", 1, "wall (default: timers fire on the wall clock) or event (event time, as a "
                 "replay)",
     0, NULL},
    {"max-skew", 1, "wall clock: an event's ts may be at most this far ahead (default 5m)", 0,
     NULL},
    {"update-idle", 1, "open inventory updates close after this long without events (default "
                       "5s; POST /v1/events?end=true closes them at once)",
     0, NULL},
    {"open-metrics", 0, "serve /metrics without a token (for a Prometheus on a trusted network)",
     0, NULL},
    {"max-body", 1, "POST /v1/events: the largest body in bytes (default 67108864, 64 MiB)", 0,
     NULL},
    {"bus", 1, "also consume events from NATS JetStream: nats://HOST:PORT[,...] (docs/BUS.md)", 0,
     NULL},
    {"bus-stream", 1, "--bus: the stream (default KINTSUGI; created if absent)", 0, NULL},
    {"bus-subject", 1, "--bus: the subjects' prefix (default kintsugi.events)", 0, NULL},
    {"bus-consumer", 1, "--bus: the durable consumer's name (default kintsugi)", 0, NULL},
    {"bus-batch", 1, "--bus: messages fetched, committed and acknowledged together (default 512)",
     0, NULL},
    {"bus-ack-wait", 1, "--bus: a message not acknowledged by then is delivered again (default "
                        "30s)",
     0, NULL},
};
static const struct ks_cmd_spec spec = {
    "kintsugi serve [--listen HOST:PORT] [--advertise URL] [--db F] [--config F]\n"
    "       [--clock wall|event]\n"
    "       [--max-skew DUR] [--update-idle DUR] [--max-body BYTES] [--open-metrics]\n"
    "       [--bus nats://HOST:PORT [--bus-stream S] [--bus-subject P] [--bus-consumer C]\n"
    "        [--bus-batch N] [--bus-ack-wait DUR]]",
    "Run kintsugi live: events and people's actions over HTTP, timers on the wall clock.",
    "It owns the database while it runs: other kintsugi commands that change it are refused\n"
    "with the server's name (reading commands work meanwhile). A request that changes state is\n"
    "answered only once it is committed; after a crash or kill -9 the server loads its last\n"
    "saved state and re-applies its journal, so nothing acknowledged is lost.\n\n"
    "Every /v1/ request needs a token (kintsugi token create --name NAME --role ROLE):\n"
    "  curl -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/x-ndjson' \\\n"
    "       --data-binary @events.ndjson http://127.0.0.1:8080/v1/events\n"
    "  curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8080/v1/incidents?status=open\n"
    "/healthz and /readyz need none. docs/API.md lists every route.\n\n"
    "--clock event runs on event time, as `kintsugi ingest` does (backfills, tests, demos): the\n"
    "same events posted in the same order give the same incidents, to the millisecond.\n\n"
    "--bus also takes the events `kintsugi publish` put on a NATS JetStream stream, with a\n"
    "durable pull consumer: each batch is committed with the stream sequence it reaches, then\n"
    "acknowledged; a restart resumes after the committed sequence and skips what is delivered\n"
    "again. A bus that is down is retried with backoff and shown on /healthz (\"bus\").\n\n"
    "Several servers on one PostgreSQL database: the first is active, the others wait as\n"
    "standbys (answering /healthz and /readyz only) and one takes over, from the committed\n"
    "state and on its own address, when the active one stops or dies (docs/DEPLOY.md). A\n"
    "second server on one SQLite file is refused.\n\n"
    "exit status: 0 stopped by SIGTERM or SIGINT after saving (a standby: at once), 1 runtime\n"
    "failure (address in use, store), 2 usage or configuration error.",
    opts, sizeof(opts) / sizeof(opts[0])};

/* http://HOST:PORT, with an IPv6 address in brackets. */
static void server_url(char *out, size_t cap, const char *host, int port)
{
    snprintf(out, cap, strchr(host, ':') ? "http://[%s]:%d" : "http://%s:%d", host, port);
}

/* The URL this server is named by (the writer lock's holder: what standbys
 * and refused commands show): --advertise, else the listening address with
 * a wildcard host replaced by this machine's name (http://0.0.0.0:8080 would
 * send a person to their own machine). */
static void advertised(char *out, size_t cap, const char *adv, const char *host, int port)
{
    char name[256];
    if (adv) {
        snprintf(out, cap, "%s", adv);
    } else if ((!*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "::")) &&
               gethostname(name, sizeof(name)) == 0) {
        name[sizeof(name) - 1] = 0;
        server_url(out, cap, name, port);
    } else {
        server_url(out, cap, host, port);
    }
}

/* A duration in seconds from the environment variable name, when set, into
 * *out: at least a millisecond, or (never_at_0) -1 for 0 or less: never. */
static void env_seconds(const char *name, int never_at_0, ks_time *out)
{
    const char *s = getenv(name);
    if (!s || !*s) {
        return;
    }
    double v = strtod(s, NULL);
    ks_time t = (ks_time)(v * KS_SEC);
    *out = v <= 0 && never_at_0 ? -1 : t > 0 ? t : 1;
}

/* The address this server listens on, and the name others are given for it. */
static void urls(char *url, char *self, size_t cap, const char *adv, const char *host, int port)
{
    server_url(url, cap, host, port);
    advertised(self, cap, adv, host, port);
}

static void access_log(void *ctx, const struct ks_http_done *d)
{
    (void)ctx;
    if (d->status >= 500) {
        fprintf(stderr, "kintsugi: %s %s -> %d (%s)\n", d->method, d->path, d->status,
                d->who && *d->who ? d->who : "-");
    }
}

int ks_cmd_serve(int argc, char **argv)
{
    char **args = ks_malloc(((size_t)argc + 1) * sizeof(char *));
    int nargs, rc = ks_cli_parse(&spec, argc, argv, args, &nargs);
    ks_free(args);
    if (rc != 0) {
        return rc < 0 ? KS_EXIT_OK : rc;
    }
    if (nargs) {
        ks_cli_error("serve takes no arguments (see kintsugi serve --help)");
        return KS_EXIT_USAGE;
    }
    char host[256];
    int port;
    const char *listen = ks_cli_opt(&spec, "listen")->value;
    if (ks_cli_listen(listen ? listen : "127.0.0.1:8080", host, sizeof(host), &port) != 0) {
        ks_cli_error("--listen '%s': expected HOST:PORT (e.g. 127.0.0.1:8080, 0.0.0.0:9000, "
                     "[::1]:8080)",
                     listen);
        return KS_EXIT_USAGE;
    }
    const char *adv = ks_cli_opt(&spec, "advertise")->value;
    if (adv && strncmp(adv, "http://", 7) != 0 && strncmp(adv, "https://", 8) != 0) {
        ks_cli_error("--advertise '%s': expected a URL such as http://kintsugi-1.internal:8080",
                     adv);
        return KS_EXIT_USAGE;
    }
    struct ks_live_opts lo = {0};
    lo.db = ks_cli_opt(&spec, "db")->value ? ks_cli_opt(&spec, "db")->value : "kintsugi.db";
    lo.config = ks_cli_opt(&spec, "config")->value;
    const char *clock = ks_cli_opt(&spec, "clock")->value;
    if (clock && strcmp(clock, "wall") != 0 && strcmp(clock, "event") != 0) {
        ks_cli_error("--clock '%s': use wall or event", clock);
        return KS_EXIT_USAGE;
    }
    lo.clock_event = clock && strcmp(clock, "event") == 0;
    const char *skew = ks_cli_opt(&spec, "max-skew")->value;
    if (skew && (ks_duration_parse(skew, &lo.max_skew) != 0 || lo.max_skew <= 0)) {
        ks_cli_error("--max-skew '%s': expected a duration such as 5m, 30s or 1h", skew);
        return KS_EXIT_USAGE;
    }
    const char *idle = ks_cli_opt(&spec, "update-idle")->value;
    if (idle && (ks_duration_parse(idle, &lo.update_idle) != 0 || lo.update_idle <= 0)) {
        ks_cli_error("--update-idle '%s': expected a duration such as 5s or 500ms", idle);
        return KS_EXIT_USAGE;
    }
    struct ks_api api = {0};
    api.max_events_body = 64u << 20;
    const char *mb = ks_cli_opt(&spec, "max-body")->value;
    if (mb) {
        char *end;
        unsigned long long v = strtoull(mb, &end, 10);
        if (!*mb || *end || v < 1024 || v > (1ull << 32)) {
            ks_cli_error("--max-body '%s': expected bytes from 1024 to 4294967296", mb);
            return KS_EXIT_USAGE;
        }
        api.max_events_body = (size_t)v;
    }
    struct ks_bus_conf bus = {0};
    bus.url = ks_cli_opt(&spec, "bus")->value;
    if (bus.url) {
        struct ks_err be = {0};
        const char *bs = ks_cli_opt(&spec, "bus-stream")->value;
        const char *bp = ks_cli_opt(&spec, "bus-subject")->value;
        const char *bc = ks_cli_opt(&spec, "bus-consumer")->value;
        bus.stream = bs ? bs : KS_BUS_STREAM;
        bus.prefix = bp ? bp : KS_BUS_PREFIX;
        bus.consumer = bc ? bc : KS_BUS_CONSUMER;
        if (ks_bus_url_check(bus.url, &be) != 0 ||
            ks_bus_name_check("--bus-stream", bus.stream, 0, &be) != 0 ||
            ks_bus_name_check("--bus-subject", bus.prefix, 1, &be) != 0 ||
            ks_bus_name_check("--bus-consumer", bus.consumer, 0, &be) != 0) {
            ks_cli_error("%s", be.msg);
            return KS_EXIT_USAGE;
        }
        const char *bb = ks_cli_opt(&spec, "bus-batch")->value;
        bus.batch = 512;
        if (bb) {
            char *end;
            long v = strtol(bb, &end, 10);
            if (!*bb || *end || v < 1 || v > 65536) {
                ks_cli_error("--bus-batch '%s': expected a whole number from 1 to 65536", bb);
                return KS_EXIT_USAGE;
            }
            bus.batch = (int)v;
        }
        const char *aw = ks_cli_opt(&spec, "bus-ack-wait")->value;
        if (aw && (ks_duration_parse(aw, &bus.ack_wait) != 0 || bus.ack_wait < 100)) {
            ks_cli_error("--bus-ack-wait '%s': expected a duration of 100ms or more, such as 30s",
                         aw);
            return KS_EXIT_USAGE;
        }
    } else if (ks_cli_opt(&spec, "bus-stream")->set || ks_cli_opt(&spec, "bus-subject")->set ||
               ks_cli_opt(&spec, "bus-consumer")->set || ks_cli_opt(&spec, "bus-batch")->set ||
               ks_cli_opt(&spec, "bus-ack-wait")->set) {
        ks_cli_error("--bus-stream, --bus-subject, --bus-consumer, --bus-batch and --bus-ack-wait "
                     "go with --bus");
        return KS_EXIT_USAGE;
    }
    env_seconds("KINTSUGI_CHECKPOINT_EVERY", 0, &lo.checkpoint_every);
    env_seconds("KINTSUGI_CHECKPOINT_IDLE", 1, &lo.checkpoint_idle);
    env_seconds("KINTSUGI_LOCK_CHECK", 1, &lo.lock_check);
    env_seconds("KINTSUGI_TICK", 0, &lo.tick);
    if (lo.tick > 0 && lo.tick < 10) {
        lo.tick = 10; /* the writer's idle pass: never a busy loop */
    }
    const char *cb = getenv("KINTSUGI_CHECKPOINT_BYTES");
    if (cb && *cb) {
        double v = strtod(cb, NULL);
        lo.checkpoint_bytes = v >= 1 ? (size_t)v : 1;
    }
    char url[300], self[300];
    urls(url, self, sizeof(url), adv, host, port);
    lo.url = self;

    /* Signals are taken by sigwait on this thread alone: block them before
     * any thread starts, so that every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Listen at once with the standby's two answers while ks_live_open
     * loads the state (a large one takes seconds: /healthz says "starting"
     * and /readyz 503, so that a liveness probe does not kill a server that
     * loads), or waits for a shared database another server owns; the full
     * server then takes the port over. */
    struct ks_http *standby = NULL;
    {
        struct ks_err se = {0};
        if (!(standby = ks_standby_http_start(host, port, &se))) {
            ks_cli_error("cannot listen on %s: %s", listen ? listen : "127.0.0.1:8080", se.msg);
            return KS_EXIT_FAIL;
        }
        if (port == 0) {
            port = ks_http_port(standby);
            urls(url, self, sizeof(url), adv, host, port);
        }
    }
    struct ks_live *live;
    rc = ks_live_open(&live, &lo);
    ks_http_stop(standby);
    if (rc != 0) {
        /* a standby stopped by SIGTERM or SIGINT before it took over */
        return rc == KS_LIVE_STOPPED ? KS_EXIT_OK : rc;
    }
    api.live = live;
    static struct ks_metrics metrics = {.mu = PTHREAD_MUTEX_INITIALIZER};
    api.metrics = &metrics;
    api.metrics_open = ks_cli_opt(&spec, "open-metrics")->set > 0;
    struct ks_http_route routes[64];
    struct ks_http_opts ho = {0};
    ho.host = host;
    ho.port = port;
    ho.routes = routes;
    ho.nroutes = ks_api_routes(&api, routes, 64);
    ho.auth = ks_api_auth;
    ho.auth_ctx = &api;
    ho.access_log = access_log;
    ho.observe = ks_metrics_observe;
    ho.observe_ctx = &metrics;
    struct ks_err err = {0};
    struct ks_bus_sub *sub = NULL;
    if (bus.url) {
        /* started after the writer: its batches are jobs of the writer */
        sub = ks_bus_sub_new(live, &bus);
        api.health = ks_bus_health;
        api.health_ctx = sub;
    }
    /* Requests that come before the writer starts wait in its queue. */
    struct ks_http *h = ks_http_start(&ho, &err);
    if (!h) {
        ks_cli_error("cannot listen on %s: %s", listen ? listen : "127.0.0.1:8080", err.msg);
        ks_bus_sub_stop(sub);
        ks_live_close(live);
        return KS_EXIT_FAIL;
    }
    if (port == 0) {
        urls(url, self, sizeof(url), adv, host, ks_http_port(h));
    }
    if (ks_live_set_url(live, self) != 0) {
        ks_http_stop(h);
        ks_bus_sub_stop(sub);
        ks_live_close(live);
        return KS_EXIT_FAIL;
    }
    ks_live_start(live);
    if (sub) {
        ks_bus_sub_start(sub);
    }
    fprintf(stderr, "listening on %s\n", url);
    if (strcmp(url, self) != 0) {
        fprintf(stderr, "kintsugi: standbys and refused commands name this server %s "
                        "(--advertise)\n",
                self);
    }
    fflush(stderr);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    fprintf(stderr, "kintsugi: %s: finishing requests in progress and saving\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    ks_http_stop(h);
    ks_bus_sub_stop(sub); /* a batch in progress is committed and acknowledged first */
    rc = ks_live_close(live);
    if (rc == 0) {
        /* a PostgreSQL URI is never printed (its password) */
        fprintf(stderr, "kintsugi: stopped; state saved to %s\n",
                ks_store_is_shared(lo.db) ? "the database" : lo.db);
    }
    return rc;
}
