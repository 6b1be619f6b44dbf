/*
 * httpd.h - a real HTTP server for tests (header-only, test code): one thread
 * accepting on 127.0.0.1 (an ephemeral port), one connection at a time. It
 * parses each request (request line, headers, Content-Length body), records
 * it, and answers from a script: a status per request, or no answer at all.
 * The server thread allocates with malloc, never ks_malloc, so that the
 * allocation counter leak checks read belongs to the test thread alone.
 */
#ifndef KS_TEST_HTTPD_H
#define KS_TEST_HTTPD_H

#include "../../src/core/core.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static inline ks_time mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ks_time)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the test server ------------------------------------------------------ */

/* One scripted answer. status 0: read the request, then never answer. */
struct reply {
    int status;
    const char *reason;
    const char *extra; /* more header lines, each ending in \r\n, or NULL */
    size_t body_len;   /* bytes of response body ('x' each) */
};

#define MAX_REQ 8

struct request {
    char line[512];     /* "POST /hooks/stop HTTP/1.1" */
    char headers[8192]; /* the header lines, each ending in \r\n */
    char *body;         /* malloc'd, NUL-terminated */
    size_t body_len;
};

struct server {
    int fd, port;
    pthread_t thread;
    pthread_mutex_t lock;
    int stop;
    const struct reply *script;
    size_t nscript;
    struct request req[MAX_REQ];
    size_t nreq;
};

static inline int stopping(struct server *s)
{
    pthread_mutex_lock(&s->lock);
    int v = s->stop;
    pthread_mutex_unlock(&s->lock);
    return v;
}

/* Waits up to 50 ms at a time for fd to be readable; -1 once stopping. */
static inline int wait_readable(struct server *s, int fd)
{
    for (;;) {
        if (stopping(s)) {
            return -1;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0) {
            return 0;
        }
    }
}

/* Reads one request into r. Returns 0, or -1 if the client went away first. */
static inline int read_request(struct server *s, int fd, struct request *r)
{
    char buf[16384];
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        if (len == sizeof(buf) - 1 || wait_readable(s, fd) != 0) {
            return -1;
        }
        ssize_t got = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (got <= 0) {
            return -1;
        }
        len += (size_t)got;
        buf[len] = 0;
        end = strstr(buf, "\r\n\r\n");
    }
    char *eol = strstr(buf, "\r\n");
    snprintf(r->line, sizeof(r->line), "%.*s", (int)(eol - buf), buf);
    snprintf(r->headers, sizeof(r->headers), "%.*s", (int)(end + 2 - (eol + 2)), eol + 2);
    size_t want = 0;
    for (char *h = r->headers; *h;) {
        char *next = strstr(h, "\r\n");
        if (!strncasecmp(h, "Content-Length:", 15)) {
            want = (size_t)strtoul(h + 15, NULL, 10);
        }
        h = next ? next + 2 : h + strlen(h);
    }
    r->body = malloc(want + 1);
    size_t have = len - (size_t)(end + 4 - buf);
    memcpy(r->body, end + 4, have < want ? have : want);
    while (have < want) {
        if (wait_readable(s, fd) != 0) {
            break;
        }
        ssize_t got = recv(fd, r->body + have, want - have, 0);
        if (got <= 0) {
            break;
        }
        have += (size_t)got;
    }
    r->body_len = have < want ? have : want;
    r->body[r->body_len] = 0;
    return 0;
}

static inline void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t put = send(fd, p, n, MSG_NOSIGNAL);
        if (put <= 0) {
            return; /* the client hung up: fine, it may stop reading */
        }
        p += put;
        n -= (size_t)put;
    }
}

static inline void answer(struct server *s, int fd, const struct reply *rp)
{
    if (rp->status == 0) {
        /* Never answer: wait for the client to give up and close. */
        char sink[256];
        while (wait_readable(s, fd) == 0 && recv(fd, sink, sizeof(sink), 0) > 0) {
        }
        return;
    }
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
                     rp->status, rp->reason, rp->body_len, rp->extra ? rp->extra : "");
    send_all(fd, head, (size_t)n);
    char chunk[8192];
    memset(chunk, 'x', sizeof(chunk));
    for (size_t sent = 0; sent < rp->body_len;) {
        size_t k = rp->body_len - sent < sizeof(chunk) ? rp->body_len - sent : sizeof(chunk);
        ssize_t put = send(fd, chunk, k, MSG_NOSIGNAL);
        if (put <= 0) {
            break;
        }
        sent += (size_t)put;
    }
}

static inline void *serve(void *arg)
{
    struct server *s = arg;
    while (wait_readable(s, s->fd) == 0) {
        int fd = accept(s->fd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        struct request r;
        memset(&r, 0, sizeof(r));
        if (read_request(s, fd, &r) == 0) {
            pthread_mutex_lock(&s->lock);
            size_t i = s->nreq;
            if (s->nreq < MAX_REQ) {
                s->req[s->nreq++] = r;
            } else {
                free(r.body);
            }
            pthread_mutex_unlock(&s->lock);
            const struct reply *rp = &s->script[i < s->nscript ? i : s->nscript - 1];
            answer(s, fd, rp);
        } else {
            free(r.body);
        }
        close(fd);
    }
    return NULL;
}

/* Starts a server on 127.0.0.1 answering from script (n >= 1 replies; the
 * last one repeats). */
static inline int server_start(struct server *s, const struct reply *script, size_t n)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->script = script;
    s->nscript = n;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof(a);
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s->fd, 8) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &alen) != 0) {
        perror("test server");
        return -1;
    }
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->thread, NULL, serve, s) == 0 ? 0 : -1;
}

static inline void server_stop(struct server *s)
{
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    close(s->fd);
    for (size_t i = 0; i < s->nreq; i++) {
        free(s->req[i].body);
    }
    pthread_mutex_destroy(&s->lock);
}

static inline size_t server_count(struct server *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->nreq;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* The value of header name in r (first occurrence), copied into out. */
static inline const char *header(const struct request *r, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *h = r->headers; *h;) {
        const char *next = strstr(h, "\r\n");
        size_t len = next ? (size_t)(next - h) : strlen(h);
        if (len > n && !strncasecmp(h, name, n) && h[n] == ':') {
            const char *v = h + n + 1;
            while (*v == ' ') {
                v++;
            }
            snprintf(out, cap, "%.*s", (int)(len - (size_t)(v - h)), v);
            return out;
        }
        h = next ? next + 2 : h + len;
    }
    return NULL;
}

#endif
