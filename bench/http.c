/*
 * http.c - the HTTP server's own cost, client and server in one process on
 * 127.0.0.1 (so on 2 cores they share the machine): C client threads with
 * libcurl over kept-alive connections, a trivial handler.
 *
 *   build/bench/http [--threads N] [--clients C] [--seconds S] [--lines L]
 *
 * --threads 0 (default) is the server's thread per connection, N a pool of
 * N event loops. Without --lines each client sends GET /ping in a loop and
 * the program prints requests/s and the latency quantiles the clients saw.
 * With --lines L each client POSTs NDJSON batches of L inventory lines
 * (about 120 bytes each) to a handler that counts the lines, and it prints
 * batches/s, lines/s and MB/s: the server's share of POST /v1/events
 * before any engine or store work.
 */
#include "../src/http/http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void ping(const struct ks_http_req *q, struct ks_http_resp *r, void *ctx)
{
    (void)q;
    (void)ctx;
    ks_buf_puts(&r->body, "{\"ok\":true}");
}

static void events(const struct ks_http_req *q, struct ks_http_resp *r, void *ctx)
{
    (void)ctx;
    size_t n = 0;
    for (const char *p = q->body; (p = memchr(p, '\n', q->body_len - (size_t)(p - q->body)));
         p++) {
        n++;
    }
    ks_buf_printf(&r->body, "{\"accepted\":%zu}", n);
}

static size_t sink(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

struct client {
    int port;
    double until;
    const char *body;
    size_t body_len;
    long n, bad;
    double *lat; /* seconds per request */
    size_t nlat, cap;
};

static void *run(void *arg)
{
    struct client *c = arg;
    CURL *h = curl_easy_init();
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", c->port, c->body ? "/v1/events" : "/ping");
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/x-ndjson");
    hd = curl_slist_append(hd, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    if (c->body) {
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
    }
    for (;;) {
        double t0 = now_s();
        if (t0 >= c->until) {
            break;
        }
        long status = 0;
        if (curl_easy_perform(h) != CURLE_OK ||
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200) {
            c->bad++;
            continue;
        }
        c->n++;
        if (c->nlat == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 4096;
            c->lat = realloc(c->lat, c->cap * sizeof(double));
        }
        c->lat[c->nlat++] = now_s() - t0;
    }
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    unsigned threads = 0;
    int clients = 4, lines = 0;
    double seconds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--threads") == 0) {
            threads = (unsigned)atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--clients") == 0) {
            clients = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--seconds") == 0) {
            seconds = atof(argv[i + 1]);
        } else if (strcmp(argv[i], "--lines") == 0) {
            lines = atoi(argv[i + 1]);
        } else {
            fprintf(stderr, "usage: http [--threads N] [--clients C] [--seconds S] [--lines L]\n");
            return 2;
        }
    }
    if (clients < 1 || clients > 256) {
        fprintf(stderr, "--clients: 1 to 256\n");
        return 2;
    }
    struct ks_http_route routes[] = {
        {"GET", "/ping", ping, NULL, KS_ROLE_NONE, 0, NULL, 0, NULL},
        {"POST", "/v1/events", events, NULL, KS_ROLE_NONE, 64u << 20, "application/x-ndjson", 0,
         NULL},
    };
    struct ks_http_opts o = {0};
    o.routes = routes;
    o.nroutes = 2;
    o.threads = threads;
    struct ks_err err = {0};
    struct ks_http *h = ks_http_start(&o, &err);
    if (!h) {
        fprintf(stderr, "http: %s\n", err.msg);
        return 1;
    }
    struct ks_buf body = {0};
    for (int i = 0; i < lines; i++) {
        ks_buf_printf(&body,
                      "{\"type\":\"inventory\",\"ts\":\"2026-11-22T10:00:00.000Z\",\"channel\":"
                      "\"amazon\",\"sku\":\"SKU-%07d\",\"qty\":17,\"batch\":\"amazon-3\"}\n",
                      i);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct client *c = calloc((size_t)clients, sizeof(*c));
    pthread_t *t = calloc((size_t)clients, sizeof(*t));
    double t0 = now_s();
    for (int i = 0; i < clients; i++) {
        c[i].port = ks_http_port(h);
        c[i].until = t0 + seconds;
        c[i].body = lines ? body.p : NULL;
        c[i].body_len = body.len;
        pthread_create(&t[i], NULL, run, &c[i]);
    }
    long n = 0, bad = 0;
    size_t nlat = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(t[i], NULL);
        n += c[i].n;
        bad += c[i].bad;
        nlat += c[i].nlat;
    }
    double el = now_s() - t0;
    double *all = malloc((nlat ? nlat : 1) * sizeof(double));
    size_t k = 0;
    for (int i = 0; i < clients; i++) {
        memcpy(all + k, c[i].lat, c[i].nlat * sizeof(double));
        k += c[i].nlat;
        free(c[i].lat);
    }
    qsort(all, nlat, sizeof(double), cmp);
    double p50 = nlat ? all[nlat / 2] : 0, p99 = nlat ? all[nlat * 99 / 100] : 0;
    char model[64];
    if (threads) {
        snprintf(model, sizeof(model), "pool of %u", threads);
    } else {
        snprintf(model, sizeof(model), "thread per connection");
    }
    if (lines) {
        printf("%s, %d clients, batches of %d lines (%zu bytes): %.0f batches/s, "
               "%.0f lines/s, %.0f MB/s; p50 %.2f ms, p99 %.2f ms; %ld failed\n",
               model, clients, lines, body.len, (double)n / el,
               (double)n * lines / el, (double)n * (double)body.len / el / 1e6, p50 * 1e3,
               p99 * 1e3, bad);
    } else {
        printf("%s, %d clients, GET /ping: %.0f requests/s; p50 %.3f ms, p99 %.3f ms; "
               "%ld failed\n",
               model, clients, (double)n / el, p50 * 1e3,
               p99 * 1e3, bad);
    }
    free(all);
    free(c);
    free(t);
    ks_buf_fini(&body);
    ks_http_stop(h);
    curl_global_cleanup();
    return bad ? 1 : 0;
}
