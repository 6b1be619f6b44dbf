/*
 * hook.c - one delivery attempt of an action: an HTTP POST with libcurl or a
 * command run through /bin/sh, each bounded by the hook's timeout, plus the
 * retry schedule (backoff, retry limit) the delivery loop follows.
 *
 * Each webhook attempt uses its own CURL easy handle: attempts are rare (an
 * incident's containment, not a stream), so a fresh handle costs nothing
 * that matters and shares no state (connections, cookies, DNS) between
 * attempts or threads. Commands are started with posix_spawn, which is safe
 * in a threaded program, in a process group of their own so that a timeout
 * kills everything the command started.
 */
#include "hook.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Response body bytes read (and discarded) before the connection is dropped. */
#define MAX_RESPONSE_BODY (1u << 20)
/* Bytes of a command's stderr kept to find its first line. */
#define MAX_STDERR_LINE 200

/* ---- libcurl's global state ---------------------------------------------- */

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static int global_ready;

void ks_hook_global_init(void)
{
    pthread_mutex_lock(&global_lock);
    if (!global_ready) {
        /* A failure here resurfaces as curl_easy_init returning NULL, which
         * an attempt reports as a delivery failure. */
        global_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    }
    pthread_mutex_unlock(&global_lock);
}

void ks_hook_global_cleanup(void)
{
    pthread_mutex_lock(&global_lock);
    if (global_ready) {
        curl_global_cleanup();
        global_ready = 0;
    }
    pthread_mutex_unlock(&global_lock);
}

/* ---- small helpers ----------------------------------------------------- */

static ks_time mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ks_time)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "300ms" below a second, else ks_duration_fmt's "10s", "1m30s". */
static void fmt_timeout(ks_time t, char out[32])
{
    if (t < KS_SEC) {
        snprintf(out, 32, "%lldms", (long long)t);
    } else {
        ks_duration_fmt(t, out);
    }
}

/* Keeps detail to one printable line: control characters become spaces. */
static void one_line(char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            *s = ' ';
        }
    }
}

static void set_detail(struct ks_hook_result *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_detail(struct ks_hook_result *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
    va_end(ap);
    one_line(out->detail);
}

static int has_ctl(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 1;
        }
    }
    return 0;
}

/* ---- checks shared with the config loader ------------------------------- */

/* Headers kintsugi sets itself (or that describe the body it sends). */
static const char *const reserved_headers[] = {
    "Content-Type", "Content-Length",    "Idempotency-Key", "User-Agent",
    "Host",         "Transfer-Encoding", "Expect",          NULL};

const char *ks_hook_url_problem(const char *url)
{
    size_t skip;
    if (!strncasecmp(url, "http://", 7)) {
        skip = 7;
    } else if (!strncasecmp(url, "https://", 8)) {
        skip = 8;
    } else {
        return "must start with http:// or https://";
    }
    if (!url[skip] || url[skip] == '/') {
        return "needs a host after the scheme";
    }
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
            return "must not contain spaces or control characters";
        }
    }
    return NULL;
}

const char *ks_hook_header_problem(const char *name, const char *value)
{
    /* RFC 9110 token characters. */
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    if (!*name) {
        return "a header name must not be empty";
    }
    for (const char *p = name; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 (ch && strchr(tchar, ch));
        if (!ok) {
            return "a header name may hold only letters, digits and !#$%&'*+-.^_`|~";
        }
    }
    for (size_t i = 0; reserved_headers[i]; i++) {
        if (!strcasecmp(name, reserved_headers[i])) {
            return "this header is set by kintsugi";
        }
    }
    for (const char *p = value; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            return "a header value must not contain line breaks or control characters";
        }
    }
    return NULL;
}

/* Fills out and returns KS_EUSAGE when h cannot be attempted at all. */
static enum ks_rc check_usable(const struct ks_hook_cfg *h, struct ks_hook_result *out)
{
    const char *why = NULL;
    if (!h->url == !h->command) {
        why = h->url ? "both a url and a command" : "neither a url nor a command";
        set_detail(out, "hook not usable: %s", why);
        return KS_EUSAGE;
    }
    if (h->timeout <= 0) {
        set_detail(out, "hook not usable: timeout must be greater than 0");
        return KS_EUSAGE;
    }
    if (h->command && !*h->command) {
        set_detail(out, "hook not usable: empty command");
        return KS_EUSAGE;
    }
    if (h->url && (why = ks_hook_url_problem(h->url)) != NULL) {
        set_detail(out, "hook not usable: url %s", why);
        return KS_EUSAGE;
    }
    for (size_t i = 0; h->url && i < h->nheaders; i++) {
        why = ks_hook_header_problem(h->headers[i].name, h->headers[i].value);
        if (why) {
            set_detail(out, "hook not usable: header %s: %s", h->headers[i].name, why);
            return KS_EUSAGE;
        }
    }
    return KS_OK;
}

/* ---- webhooks ------------------------------------------------------------- */

struct http_state {
    size_t body_bytes;
    int body_capped;  /* we dropped the connection after MAX_RESPONSE_BODY */
    char reason[100]; /* reason phrase of the last status line ("" in HTTP/2) */
    ks_time retry_after; /* the last response's Retry-After in ms (delay-seconds), 0: none */
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    struct http_state *st = ud;
    size_t len = size * n;
    st->body_bytes += len;
    if (st->body_bytes > MAX_RESPONSE_BODY) {
        st->body_capped = 1;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    return len;
}

/* Keeps the reason phrase of each status line: the last one (after any
 * "100 Continue") is the response's. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct http_state *st = ud;
    size_t len = size * n;
    static const char ra[] = "retry-after:";
    if (len > sizeof(ra) - 1 && strncasecmp(p, ra, sizeof(ra) - 1) == 0) {
        size_t i = sizeof(ra) - 1;
        long long v = 0;
        int digits = 0;
        while (i < len && p[i] == ' ') {
            i++;
        }
        for (; i < len && p[i] >= '0' && p[i] <= '9' && digits < 9; i++, digits++) {
            v = v * 10 + (p[i] - '0');
        }
        /* delay-seconds only; an HTTP date is taken as no hint */
        st->retry_after = digits ? v * KS_SEC : 0;
        return len;
    }
    if (len < 5 || memcmp(p, "HTTP/", 5) != 0) {
        return len;
    }
    st->retry_after = 0; /* a new response (after a 100 Continue) */
    size_t i = 5;
    while (i < len && p[i] != ' ') {
        i++; /* version */
    }
    while (i < len && p[i] == ' ') {
        i++;
    }
    while (i < len && p[i] >= '0' && p[i] <= '9') {
        i++; /* status */
    }
    while (i < len && p[i] == ' ') {
        i++;
    }
    size_t o = 0;
    for (; i < len && p[i] != '\r' && p[i] != '\n' && o + 1 < sizeof(st->reason); i++) {
        st->reason[o++] = p[i];
    }
    st->reason[o] = 0;
    return len;
}

/* Appends "Name: value" to list; *failed is set when libcurl cannot. */
static struct curl_slist *add_header(struct curl_slist *list, const char *name, const char *value,
                                     int *failed)
{
    struct ks_buf b = {0};
    /* "Name:" alone would remove the header; "Name;" sends it empty. */
    if (*value) {
        ks_buf_printf(&b, "%s: %s", name, value);
    } else {
        ks_buf_printf(&b, "%s;", name);
    }
    struct curl_slist *next = curl_slist_append(list, b.p);
    ks_buf_fini(&b);
    if (!next) {
        *failed = 1;
        return list;
    }
    return next;
}

/* Describes a transfer that did not complete. */
static enum ks_rc http_error(const struct ks_hook_cfg *h, CURL *c, CURLcode rc, const char *errbuf,
                             struct ks_hook_result *out)
{
    const char *why = *errbuf ? errbuf : curl_easy_strerror(rc);
    char t[32];
    long oserr = 0;
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        fmt_timeout(h->timeout, t);
        set_detail(out, "timed out after %s", t);
        break;
    case CURLE_COULDNT_CONNECT:
        curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
        if (oserr == ECONNREFUSED) {
            set_detail(out, "connection refused");
        } else if (oserr) {
            set_detail(out, "cannot connect: %s", strerror((int)oserr));
        } else {
            set_detail(out, "cannot connect: %s", why);
        }
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        set_detail(out, "cannot resolve host (%s)", why);
        break;
    case CURLE_GOT_NOTHING:
        set_detail(out, "empty reply from server");
        break;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        set_detail(out, "hook not usable: bad url: %s", why);
        return KS_EUSAGE;
    default:
        set_detail(out, "%s", why);
        break;
    }
    return KS_OK;
}

static enum ks_rc http_attempt(const struct ks_hook_cfg *h, const char *body, const char *key,
                               struct ks_hook_result *out)
{
    ks_hook_global_init();
    CURL *c = curl_easy_init();
    if (!c) {
        set_detail(out, "cannot start an HTTP request (libcurl initialization failed)");
        return KS_OK;
    }
    struct http_state st = {0};
    char errbuf[CURL_ERROR_SIZE] = "";
    int failed = 0;
    struct curl_slist *hdrs = NULL;
    hdrs = add_header(hdrs, "Content-Type", "application/json", &failed);
    hdrs = add_header(hdrs, "Idempotency-Key", key, &failed);
    /* "Expect:" without a value removes the header libcurl adds to large
     * bodies, and with it a wait for "100 Continue" that some servers never
     * send. */
    struct curl_slist *next = curl_slist_append(hdrs, "Expect:");
    failed |= !next;
    hdrs = next ? next : hdrs;
    for (size_t i = 0; i < h->nheaders; i++) {
        hdrs = add_header(hdrs, h->headers[i].name, h->headers[i].value, &failed);
    }
    /* libcurl reports a misuse of an option only through setopt's code; the
     * options here are all valid, so the one that matters is the URL. */
    CURLcode rc = curl_easy_setopt(c, CURLOPT_URL, h->url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(c, CURLOPT_USERAGENT, "kintsugi");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)h->timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->timeout);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &st);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &st);

    enum ks_rc ret = KS_OK;
    if (failed) {
        set_detail(out, "cannot build the request headers (out of memory)");
    } else if (rc != CURLE_OK) {
        ret = http_error(h, c, rc, errbuf, out);
    } else {
        rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->http_status);
        out->retry_after = st.retry_after;
        if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && st.body_capped)) {
            long s = out->http_status;
            out->ok = s >= 200 && s <= 299;
            const char *sep = st.reason[0] ? " " : "";
            char *loc = NULL;
            if (s >= 300 && s <= 399 && curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == 0 &&
                loc) {
                set_detail(out, "HTTP %ld%s%s (redirect to %s not followed)", s, sep, st.reason,
                           loc);
            } else if (s >= 300 && s <= 399) {
                set_detail(out, "HTTP %ld%s%s (redirect not followed)", s, sep, st.reason);
            } else {
                set_detail(out, "HTTP %ld%s%s", s, sep, st.reason);
            }
        } else {
            ret = http_error(h, c, rc, errbuf, out);
        }
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return ret;
}

/* ---- commands ------------------------------------------------------------- */

/* The environment of the command: ours, with the two variables replaced.
 * The array and the two strings it adds are freed with free_env. */
static char **build_env(const char *action, const char *key)
{
    static const char va[] = "KINTSUGI_ACTION=", vk[] = "KINTSUGI_IDEMPOTENCY_KEY=";
    size_t n = 0;
    for (char **e = environ; e && *e; e++) {
        n++;
    }
    char **env = ks_malloc((n + 3) * sizeof(*env));
    size_t o = 0;
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, va, sizeof(va) - 1) != 0 && strncmp(*e, vk, sizeof(vk) - 1) != 0) {
            env[o++] = *e;
        }
    }
    struct ks_buf a = {0}, k = {0};
    ks_buf_printf(&a, "%s%s", va, action ? action : "");
    ks_buf_printf(&k, "%s%s", vk, key);
    env[o++] = a.p;
    env[o++] = k.p;
    env[o] = NULL;
    return env;
}

static void free_env(char **env)
{
    size_t n = 0;
    while (env[n]) {
        n++;
    }
    ks_free(env[n - 1]);
    ks_free(env[n - 2]);
    ks_free(env);
}

/* Collects the first non-blank line of a command's stderr. */
struct errline {
    char text[MAX_STDERR_LINE + 1];
    size_t len;
    int done; /* the line ended (or is as long as we keep) */
};

static void errline_feed(struct errline *l, const char *p, size_t n)
{
    for (size_t i = 0; i < n && !l->done; i++) {
        char ch = p[i];
        if (ch == '\n' || ch == '\r') {
            l->done = l->len > 0;
            continue;
        }
        if (l->len == 0 && (ch == ' ' || ch == '\t')) {
            continue;
        }
        l->text[l->len++] = ch;
        l->text[l->len] = 0;
        l->done = l->len == MAX_STDERR_LINE;
    }
}

/* Writes body into an unlinked temporary file, positioned at its start, to
 * be the command's stdin: a file, unlike a pipe, never blocks the writer nor
 * raises SIGPIPE when the command does not read it. Returns the fd or -1. */
static int body_file(const char *body)
{
    FILE *f = tmpfile();
    if (!f) {
        return -1;
    }
    size_t n = strlen(body);
    int fd = -1;
    if (fwrite(body, 1, n, f) == n && fflush(f) == 0 && lseek(fileno(f), 0, SEEK_SET) == 0) {
        fd = fcntl(fileno(f), F_DUPFD_CLOEXEC, 3);
    }
    fclose(f);
    return fd;
}

static void describe_exit(const struct ks_hook_cfg *h, int status, int timed_out,
                          const struct errline *l, struct ks_hook_result *out)
{
    char t[32];
    if (timed_out) {
        fmt_timeout(h->timeout, t);
        out->exit_code = -1;
        set_detail(out, "timed out after %s (killed)", t);
    } else if (WIFEXITED(status)) {
        out->exit_code = WEXITSTATUS(status);
        out->ok = out->exit_code == 0;
        if (out->exit_code != 0 && l->len) {
            set_detail(out, "exit %d: %s", out->exit_code, l->text);
        } else {
            set_detail(out, "exit %d", out->exit_code);
        }
    } else if (WIFSIGNALED(status)) {
        out->exit_code = 128 + WTERMSIG(status);
        set_detail(out, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    } else {
        out->exit_code = -1;
        set_detail(out, "ended with wait status %d", status);
    }
}

/* Reads the command's stderr until it closes, the command exits or the
 * deadline passes. Returns 1 when the deadline passed first. */
static int watch(pid_t pid, int errfd, ks_time deadline, int *status, struct errline *l)
{
    int reaped = 0;
    char buf[4096];
    for (;;) {
        if (!reaped) {
            pid_t r = waitpid(pid, status, WNOHANG);
            reaped = r == pid || (r < 0 && errno == ECHILD);
        }
        if (reaped) {
            /* Whatever is already written; a background process that keeps
             * stderr open is not waited for. */
            ssize_t got;
            for (int i = 0; errfd >= 0 && i < 16 && (got = read(errfd, buf, sizeof(buf))) > 0;
                 i++) {
                errline_feed(l, buf, (size_t)got);
            }
            return 0;
        }
        ks_time left = deadline - mono_ms();
        if (left <= 0) {
            return 1;
        }
        /* Once stderr is closed only the exit is left to wait for, which
         * follows at once; before, stderr's end usually wakes us first. */
        int wait_ms = (int)(left < 100 ? left : 100);
        struct pollfd pfd = {.fd = errfd, .events = POLLIN};
        if (errfd < 0) {
            wait_ms = wait_ms < 2 ? wait_ms : 2;
        }
        int pr = poll(&pfd, errfd >= 0 ? 1 : 0, wait_ms);
        if (pr > 0 && errfd >= 0) {
            ssize_t got = read(errfd, buf, sizeof(buf));
            if (got > 0) {
                errline_feed(l, buf, (size_t)got);
            } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(errfd);
                errfd = -1;
            }
        }
    }
}

static enum ks_rc command_attempt(const struct ks_hook_cfg *h, const char *body, const char *key,
                                  struct ks_hook_result *out)
{
    int in = body_file(body);
    if (in < 0) {
        set_detail(out, "cannot write the body for the command's stdin: %s", strerror(errno));
        return KS_OK;
    }
    int errp[2];
    if (pipe2(errp, O_CLOEXEC) != 0) {
        set_detail(out, "cannot create a pipe for the command: %s", strerror(errno));
        close(in);
        return KS_OK;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    /* Sockets and files of the daemon are none of the command's business. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);

    char **env = build_env(h->action, key);
    char *argv[] = {"sh", "-c", h->command, NULL};
    pid_t pid;
    ks_time deadline = mono_ms() + h->timeout;
    int err = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, env);
    free_env(env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(in);
    close(errp[1]);
    if (err != 0) {
        close(errp[0]);
        set_detail(out, "cannot run /bin/sh: %s", strerror(err));
        return KS_OK;
    }
    fcntl(errp[0], F_SETFL, fcntl(errp[0], F_GETFL) | O_NONBLOCK);

    struct errline line = {0};
    int status = 0;
    int timed_out = watch(pid, errp[0], deadline, &status, &line);
    if (timed_out) {
        kill(-pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    close(errp[0]);
    describe_exit(h, status, timed_out, &line, out);
    return KS_OK;
}

/* ---- the public functions -------------------------------------------------- */

enum ks_rc ks_hook_attempt(const struct ks_hook_cfg *h, const char *body, const char *key,
                           struct ks_hook_result *out)
{
    KS_ASSERT(h && body && key && out);
    memset(out, 0, sizeof(*out));
    out->exit_code = -1;
    enum ks_rc rc = check_usable(h, out);
    if (rc != KS_OK) {
        return rc;
    }
    if (!*key || has_ctl(key)) {
        set_detail(out, "bad idempotency key: %s",
                   *key ? "it holds a control character" : "it is empty");
        return KS_EINPUT;
    }
    return h->url ? http_attempt(h, body, key, out) : command_attempt(h, body, key, out);
}

ks_time ks_hook_backoff(const struct ks_hook_cfg *h, int n)
{
    ks_time d = h->backoff > 0 ? h->backoff : 0;
    for (int i = 1; i < n && d < KS_HOOK_MAX_BACKOFF; i++) {
        d *= 2;
    }
    return d < KS_HOOK_MAX_BACKOFF ? d : KS_HOOK_MAX_BACKOFF;
}

int ks_hook_may_retry(const struct ks_hook_cfg *h, int attempts)
{
    return attempts < 1 + (h->retries > 0 ? h->retries : 0);
}

void ks_hook_cfg_fini(struct ks_hook_cfg *h)
{
    if (!h) {
        return;
    }
    ks_free(h->action);
    ks_free(h->url);
    ks_free(h->command);
    for (size_t i = 0; i < h->nheaders; i++) {
        ks_free(h->headers[i].name);
        ks_free(h->headers[i].value);
    }
    ks_free(h->headers);
    memset(h, 0, sizeof(*h));
}
