/*
 * smtpd.h - a real SMTP server for tests (header-only, test code): one
 * thread accepting on 127.0.0.1 (an ephemeral port), one connection at a
 * time. It accepts every command (250), takes DATA up to the lone ".", and
 * keeps every line it received, byte for byte, in one transcript: what an
 * SMTP client sent, commands and message alike, is there to be read. It
 * offers no SMTPUTF8 and no STARTTLS, like a plain relay. The server thread
 * allocates with malloc, never ks_malloc, so that the allocation counter
 * leak checks read belongs to the test thread alone.
 */
#ifndef KS_TEST_SMTPD_H
#define KS_TEST_SMTPD_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct smtpd {
    int fd, port;
    pthread_t thread;
    pthread_mutex_t lock;
    int stop;
    int connections;
    char *log; /* every line received, NUL-terminated (malloc) */
    size_t len, cap;
};

static inline int smtpd_stopping(struct smtpd *s)
{
    pthread_mutex_lock(&s->lock);
    int v = s->stop;
    pthread_mutex_unlock(&s->lock);
    return v;
}

/* Waits up to 50 ms at a time for fd to be readable; -1 once stopping. */
static inline int smtpd_wait(struct smtpd *s, int fd)
{
    for (;;) {
        if (smtpd_stopping(s)) {
            return -1;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0) {
            return 0;
        }
    }
}

static inline void smtpd_log(struct smtpd *s, const char *p, size_t n)
{
    pthread_mutex_lock(&s->lock);
    if (s->len + n + 1 > s->cap) {
        s->cap = (s->len + n + 1) * 2;
        s->log = realloc(s->log, s->cap);
    }
    memcpy(s->log + s->len, p, n);
    s->len += n;
    s->log[s->len] = 0;
    pthread_mutex_unlock(&s->lock);
}

static inline void smtpd_say(int fd, const char *text)
{
    size_t n = strlen(text);
    while (n > 0) {
        ssize_t put = send(fd, text, n, MSG_NOSIGNAL);
        if (put <= 0) {
            return;
        }
        text += put;
        n -= (size_t)put;
    }
}

/* Answers one line of the conversation; *data is set while the message
 * is read. Returns -1 after QUIT. */
static inline int smtpd_answer(int fd, const char *line, int *data)
{
    if (*data) {
        if (!strcmp(line, ".\r\n")) {
            *data = 0;
            smtpd_say(fd, "250 2.0.0 queued\r\n");
        }
        return 0;
    }
    if (!strncasecmp(line, "EHLO", 4)) {
        smtpd_say(fd, "250-test.example\r\n250 8BITMIME\r\n");
    } else if (!strncasecmp(line, "DATA", 4)) {
        *data = 1;
        smtpd_say(fd, "354 go ahead\r\n");
    } else if (!strncasecmp(line, "QUIT", 4)) {
        smtpd_say(fd, "221 bye\r\n");
        return -1;
    } else {
        smtpd_say(fd, "250 ok\r\n");
    }
    return 0;
}

/* One connection, line by line, until QUIT or the client hangs up. */
static inline void smtpd_session(struct smtpd *s, int fd)
{
    char buf[65536];
    size_t len = 0;
    int data = 0;
    smtpd_say(fd, "220 test.example ESMTP\r\n");
    while (smtpd_wait(s, fd) == 0) {
        ssize_t got = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (got <= 0) {
            return;
        }
        len += (size_t)got;
        buf[len] = 0;
        char *nl;
        while ((nl = memchr(buf, '\n', len))) {
            size_t n = (size_t)(nl + 1 - buf);
            char line[65536];
            memcpy(line, buf, n);
            line[n] = 0;
            memmove(buf, buf + n, len - n);
            len -= n;
            smtpd_log(s, line, n);
            if (smtpd_answer(fd, line, &data) != 0) {
                return;
            }
        }
        if (len == sizeof(buf) - 1) {
            return; /* a line longer than any SMTP allows */
        }
    }
}

static inline void *smtpd_serve(void *arg)
{
    struct smtpd *s = arg;
    while (smtpd_wait(s, s->fd) == 0) {
        int fd = accept(s->fd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        pthread_mutex_lock(&s->lock);
        s->connections++;
        pthread_mutex_unlock(&s->lock);
        smtpd_session(s, fd);
        close(fd);
    }
    return NULL;
}

static inline int smtpd_start(struct smtpd *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof(a);
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s->fd, 8) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &alen) != 0) {
        perror("test SMTP server");
        return -1;
    }
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->thread, NULL, smtpd_serve, s) == 0 ? 0 : -1;
}

/* Stops the server; its transcript (s->log, "" when nothing came) and
 * connection count stay readable until smtpd_free. */
static inline void smtpd_stop(struct smtpd *s)
{
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    close(s->fd);
    pthread_mutex_destroy(&s->lock);
    if (!s->log) {
        s->log = calloc(1, 1);
    }
}

static inline void smtpd_free(struct smtpd *s)
{
    free(s->log);
    s->log = NULL;
}

/* How many lines of the transcript start with prefix. */
static inline int smtpd_lines(const struct smtpd *s, const char *prefix)
{
    int n = 0;
    size_t k = strlen(prefix);
    for (const char *p = s->log; p && *p;) {
        n += !strncmp(p, prefix, k);
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : p + strlen(p);
    }
    return n;
}

#endif
