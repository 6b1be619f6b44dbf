/*
 * post_events.c - a load client for `kintsugi serve` (bench/serve.sh).
 *
 *   post_events --url URL --token T --batch N [--clients C] FILE
 *       posts FILE's lines in batches of N lines (application/x-ndjson) from C
 *       threads (each its own connection, taking the next batch in turn),
 *       checks every answer is 202 and counts what was accepted; prints
 *       seconds, events/s, requests and the latency of each request.
 *   post_events --url URL --token T --single [--limit N] FILE
 *       posts lines one per request, one after the other, and prints the
 *       latency percentiles of a single event: request sent to 202 received,
 *       which kintsugi gives only after the event, the incident it opens or
 *       changes and the containment it applies are committed.
 *   --path P posts to another path (default /v1/events); --type T another
 *   Content-Type; --raw posts the whole FILE as one body, N times (--repeat).
 *
 * Output: "key value" lines, as the other benchmarks print them.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct batch {
    const char *p;
    size_t len;
    size_t lines;
};

static struct {
    const char *url, *token, *path, *type;
    struct batch *batches;
    size_t nbatches;
    size_t next; /* the next batch to send (atomic) */
    double *lat; /* seconds per request */
    uint64_t accepted, duplicates, rejected, failed;
} g;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct answer {
    char buf[4096];
    size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    size_t k = size * n;
    size_t room = sizeof(a->buf) - 1 - a->len;
    size_t c = k < room ? k : room;
    memcpy(a->buf + a->len, p, c);
    a->len += c;
    a->buf[a->len] = 0;
    return k;
}

static uint64_t field(const char *s, const char *key)
{
    const char *p = strstr(s, key);
    return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static void *client(void *arg)
{
    (void)arg;
    CURL *c = curl_easy_init();
    char url[1024], auth[256], type[128];
    snprintf(url, sizeof(url), "%s%s", g.url, g.path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", g.token);
    snprintf(type, sizeof(type), "Content-Type: %s", g.type);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, type);
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    for (;;) {
        size_t i = __atomic_fetch_add(&g.next, 1, __ATOMIC_RELAXED);
        if (i >= g.nbatches) {
            break;
        }
        struct answer a = {{0}, 0};
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, g.batches[i].p);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)g.batches[i].len);
        double t0 = now();
        CURLcode rc = curl_easy_perform(c);
        g.lat[i] = now() - t0;
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (rc != CURLE_OK || (code != 202 && code != 200)) {
            __atomic_fetch_add(&g.failed, 1, __ATOMIC_RELAXED);
            if (g.failed < 4) {
                fprintf(stderr, "post_events: batch %zu: %s %ld %s\n", i, curl_easy_strerror(rc),
                        code, a.buf);
            }
            continue;
        }
        __atomic_fetch_add(&g.accepted, field(a.buf, "\"accepted\":"), __ATOMIC_RELAXED);
        __atomic_fetch_add(&g.duplicates, field(a.buf, "\"duplicates\":"), __ATOMIC_RELAXED);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) {
        perror(path);
        exit(2);
    }
    p[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return p;
}

int main(int argc, char **argv)
{
    size_t batch = 1000, clients = 1, limit = 0, repeat = 1;
    int single = 0, raw = 0;
    const char *file = NULL;
    g.path = "/v1/events";
    g.type = "application/x-ndjson";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--url") && v) {
            g.url = v, i++;
        } else if (!strcmp(a, "--token") && v) {
            g.token = v, i++;
        } else if (!strcmp(a, "--path") && v) {
            g.path = v, i++;
        } else if (!strcmp(a, "--type") && v) {
            g.type = v, i++;
        } else if (!strcmp(a, "--batch") && v) {
            batch = strtoull(v, NULL, 10), i++;
        } else if (!strcmp(a, "--clients") && v) {
            clients = strtoull(v, NULL, 10), i++;
        } else if (!strcmp(a, "--limit") && v) {
            limit = strtoull(v, NULL, 10), i++;
        } else if (!strcmp(a, "--repeat") && v) {
            repeat = strtoull(v, NULL, 10), i++;
        } else if (!strcmp(a, "--single")) {
            single = 1;
        } else if (!strcmp(a, "--raw")) {
            raw = 1;
        } else if (a[0] != '-' && !file) {
            file = a;
        } else {
            fprintf(stderr, "usage: post_events --url URL --token T [--batch N] [--clients C] "
                            "[--single [--limit N]] [--raw --repeat N] [--path P] [--type T] "
                            "FILE\n");
            return 2;
        }
    }
    if (!g.url || !file || !batch || !clients) {
        fprintf(stderr, "post_events: --url and FILE are needed\n");
        return 2;
    }
    if (!g.token) {
        g.token = "";
    }
    size_t len;
    char *data = slurp(file, &len);
    size_t cap = 1024, lines = 0;
    g.batches = malloc(cap * sizeof(*g.batches));
    if (raw) {
        for (size_t r = 0; r < repeat; r++) {
            if (g.nbatches == cap) {
                g.batches = realloc(g.batches, (cap *= 2) * sizeof(*g.batches));
            }
            g.batches[g.nbatches++] = (struct batch){data, len, 1};
        }
        lines = repeat;
    } else {
        if (single) {
            batch = 1;
            clients = 1;
        }
        const char *p = data, *end = data + len;
        while (p < end && (!limit || g.nbatches < limit)) {
            const char *s = p;
            size_t k = 0;
            while (p < end && k < batch) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                p = nl ? nl + 1 : end;
                k++;
            }
            if (g.nbatches == cap) {
                g.batches = realloc(g.batches, (cap *= 2) * sizeof(*g.batches));
            }
            g.batches[g.nbatches++] = (struct batch){s, (size_t)(p - s), k};
            lines += k;
        }
    }
    g.lat = calloc(g.nbatches ? g.nbatches : 1, sizeof(double));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_t *th = malloc(clients * sizeof(pthread_t));
    double t0 = now();
    for (size_t i = 0; i < clients; i++) {
        pthread_create(&th[i], NULL, client, NULL);
    }
    for (size_t i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
    }
    double secs = now() - t0;
    /* The slowest request, by number (1-based), before the sort loses it. */
    size_t slowest = 0;
    for (size_t i = 1; i < g.nbatches; i++) {
        if (g.lat[i] > g.lat[slowest]) {
            slowest = i;
        }
    }
    qsort(g.lat, g.nbatches, sizeof(double), cmp);
    size_t n = g.nbatches;
    printf("requests %zu\n", n);
    printf("lines %zu\n", lines);
    printf("bytes %zu\n", raw ? len * repeat : len);
    printf("accepted %llu\n", (unsigned long long)g.accepted);
    printf("duplicates %llu\n", (unsigned long long)g.duplicates);
    printf("failed %llu\n", (unsigned long long)g.failed);
    printf("seconds %.3f\n", secs);
    printf("events_s %.0f\n", (double)lines / secs);
    printf("requests_s %.1f\n", (double)n / secs);
    if (n) {
        printf("latency_p50_ms %.3f\n", g.lat[n / 2] * 1e3);
        printf("latency_p99_ms %.3f\n", g.lat[(size_t)((double)n * 0.99) < n ? (size_t)((double)n * 0.99) : n - 1] * 1e3);
        printf("latency_max_ms %.3f\n", g.lat[n - 1] * 1e3);
        printf("latency_max_request %zu\n", slowest + 1);
    }
    curl_global_cleanup();
    free(th);
    free(g.lat);
    free(g.batches);
    free(data);
    return g.failed ? 1 : 0;
}
