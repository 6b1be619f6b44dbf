/*
 * test_hook.c - hook delivery against a real HTTP server and real commands.
 *
 * The server is written here with plain sockets: one thread accepting on
 * 127.0.0.1 (an ephemeral port), one connection at a time. It parses each
 * request (request line, headers, Content-Length body), records it, and
 * answers from a script: a status per request, or no answer at all. Only
 * 127.0.0.1 is ever used; proxy variables point at a closed local port to
 * prove they are ignored. Commands write into a temporary directory.
 *
 * The server thread allocates with malloc, never ks_malloc, so that the
 * allocation counter the leak checks read belongs to the test thread alone.
 */
#include "../../src/contain/hook.h"
#include "slurp.h"
#include "t.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static long live_before;
#define LEAK_START() (live_before = ks_alloc_live())
#define LEAK_END() CHECK_INT(ks_alloc_live(), live_before)

#include "httpd.h"

/* A hook owning nothing: the tests point its strings at literals and
 * buffers, so it must not go to ks_hook_cfg_fini. */
static struct ks_hook_cfg web_hook(const char *url, ks_time timeout)
{
    struct ks_hook_cfg h = {0};
    h.action = "stop_order_import";
    h.url = (char *)url;
    h.retries = 5;
    h.backoff = KS_SEC;
    h.timeout = timeout;
    return h;
}

static struct ks_hook_cfg cmd_hook(const char *command, ks_time timeout)
{
    struct ks_hook_cfg h = {0};
    h.action = "pause_listings";
    h.command = (char *)command;
    h.retries = 3;
    h.backoff = 2 * KS_SEC;
    h.timeout = timeout;
    return h;
}

static const char body_json[] = "{\"action\":\"stop_order_import\",\"incident\":\"INC-42\","
                                "\"reason\":\"wms down at Leipzig \xc3\xa9\",\"skus\":[\"A-1\","
                                "\"B-2\"]}";

/* ---- webhooks ----------------------------------------------------------- */

static void webhook_fails_twice_then_succeeds_with_one_key(void)
{
    LEAK_START();
    static const struct reply script[] = {{500, "Internal Server Error", NULL, 21},
                                          {500, "Internal Server Error", NULL, 0},
                                          {200, "OK", NULL, 2}};
    struct server s;
    CHECK(server_start(&s, script, 3) == 0);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hooks/stop", s.port);
    struct ks_hook_cfg h = web_hook(url, 5 * KS_SEC);
    struct ks_hook_header hdr[] = {{"Authorization", "Bearer xyz"}, {"X-Tenant", "acme"}};
    h.headers = hdr;
    h.nheaders = 2;

    /* What the delivery loop does, without the waiting. */
    struct ks_hook_result res[8];
    int attempts = 0;
    for (;;) {
        CHECK_INT(ks_hook_attempt(&h, body_json, "inc-42/stop_order_import/1", &res[attempts]),
                  KS_OK);
        attempts++;
        if (res[attempts - 1].ok || !ks_hook_may_retry(&h, attempts) || attempts == 8) {
            break;
        }
    }
    CHECK_INT(attempts, 3);
    CHECK_INT(res[0].ok, 0);
    CHECK_INT(res[0].http_status, 500);
    CHECK_STR(res[0].detail, "HTTP 500 Internal Server Error");
    CHECK_INT(res[1].ok, 0);
    CHECK_INT(res[1].http_status, 500);
    CHECK_INT(res[2].ok, 1);
    CHECK_INT(res[2].http_status, 200);
    CHECK_INT(res[2].exit_code, -1);
    CHECK_STR(res[2].detail, "HTTP 200 OK");

    CHECK_INT(server_count(&s), 3);
    for (size_t i = 0; i < s.nreq && i < 3; i++) {
        const struct request *r = &s.req[i];
        char v[256];
        CHECK_STR(r->line, "POST /hooks/stop HTTP/1.1");
        CHECK_STR(header(r, "Idempotency-Key", v, sizeof(v)), "inc-42/stop_order_import/1");
        CHECK_STR(header(r, "Content-Type", v, sizeof(v)), "application/json");
        CHECK_STR(header(r, "User-Agent", v, sizeof(v)), "kintsugi");
        CHECK_STR(header(r, "Authorization", v, sizeof(v)), "Bearer xyz");
        CHECK_STR(header(r, "X-Tenant", v, sizeof(v)), "acme");
        CHECK(header(r, "Expect", v, sizeof(v)) == NULL);
        CHECK_INT(r->body_len, strlen(body_json));
        CHECK_STR(r->body, body_json);
    }
    server_stop(&s);
    LEAK_END();
}

static void closed_port_is_connection_refused(void)
{
    LEAK_START();
    /* Bind an ephemeral port and close it without listening: nobody is there. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof(a);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
    close(fd);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hooks/stop", ntohs(a.sin_port));
    struct ks_hook_cfg h = web_hook(url, 5 * KS_SEC);
    struct ks_hook_result r;
    CHECK_INT(ks_hook_attempt(&h, body_json, "k1", &r), KS_OK);
    CHECK_INT(r.ok, 0);
    CHECK_INT(r.http_status, 0);
    CHECK_STR(r.detail, "connection refused");
    LEAK_END();
}

static void silent_server_times_out_within_the_timeout(void)
{
    LEAK_START();
    static const struct reply script[] = {{0, NULL, NULL, 0}};
    struct server s;
    CHECK(server_start(&s, script, 1) == 0);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", s.port);
    struct ks_hook_cfg h = web_hook(url, 300);
    struct ks_hook_result r;
    ks_time t0 = mono_now();
    CHECK_INT(ks_hook_attempt(&h, body_json, "k1", &r), KS_OK);
    ks_time took = mono_now() - t0;
    CHECK(took >= 250);
    CHECK(took < 1500);
    CHECK_INT(r.ok, 0);
    CHECK_STR(r.detail, "timed out after 300ms");
    CHECK_INT(server_count(&s), 1); /* the request did arrive */
    server_stop(&s);
    LEAK_END();
}

static void redirect_is_a_failure_and_not_followed(void)
{
    LEAK_START();
    static char location[160];
    static struct reply script[] = {{302, "Found", NULL, 0}, {200, "OK", NULL, 0}};
    struct server s;
    CHECK(server_start(&s, script, 2) == 0);
    snprintf(location, sizeof(location), "Location: http://127.0.0.1:%d/elsewhere\r\n", s.port);
    script[0].extra = location;
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hooks/stop", s.port);
    struct ks_hook_cfg h = web_hook(url, 5 * KS_SEC);
    struct ks_hook_result r;
    CHECK_INT(ks_hook_attempt(&h, body_json, "k1", &r), KS_OK);
    CHECK_INT(r.ok, 0);
    CHECK_INT(r.http_status, 302);
    char want[256];
    snprintf(want, sizeof(want),
             "HTTP 302 Found (redirect to http://127.0.0.1:%d/elsewhere not followed)", s.port);
    CHECK_STR(r.detail, want);
    CHECK_INT(server_count(&s), 1);
    server_stop(&s);
    LEAK_END();
}

static void only_2xx_is_success(void)
{
    LEAK_START();
    static const struct reply script[] = {{204, "No Content", NULL, 0},
                                          {404, "Not Found", NULL, 9},
                                          {429, "Too Many Requests", NULL, 0},
                                          {418, "I'm a teapot", NULL, 0}};
    struct server s;
    CHECK(server_start(&s, script, 4) == 0);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
    struct ks_hook_cfg h = web_hook(url, 5 * KS_SEC);
    struct ks_hook_result r;
    CHECK_INT(ks_hook_attempt(&h, "{}", "k1", &r), KS_OK);
    CHECK_INT(r.ok, 1);
    CHECK_STR(r.detail, "HTTP 204 No Content");
    CHECK_INT(ks_hook_attempt(&h, "{}", "k1", &r), KS_OK);
    CHECK_INT(r.ok, 0);
    CHECK_STR(r.detail, "HTTP 404 Not Found");
    CHECK_INT(ks_hook_attempt(&h, "{}", "k1", &r), KS_OK);
    CHECK_INT(r.ok, 0);
    CHECK_STR(r.detail, "HTTP 429 Too Many Requests");
    CHECK_INT(ks_hook_attempt(&h, "{}", "k1", &r), KS_OK);
    CHECK_INT(r.ok, 0);
    CHECK_INT(r.http_status, 418);
    CHECK_STR(r.detail, "HTTP 418 I'm a teapot");
    server_stop(&s);
    LEAK_END();
}

static void huge_response_body_is_not_read_in_full(void)
{
    LEAK_START();
    static const struct reply script[] = {{200, "OK", NULL, 8u << 20}};
    struct server s;
    CHECK(server_start(&s, script, 1) == 0);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
    struct ks_hook_cfg h = web_hook(url, 5 * KS_SEC);
    struct ks_hook_result r;
    CHECK_INT(ks_hook_attempt(&h, "{}", "k1", &r), KS_OK);
    CHECK_INT(r.ok, 1);
    CHECK_INT(r.http_status, 200);
    CHECK_STR(r.detail, "HTTP 200 OK");
    server_stop(&s);
    LEAK_END();
}

static void unusable_configs_are_usage_errors_never_crashes(void)
{
    LEAK_START();
    static const char *const bad_urls[] = {"ftp://127.0.0.1/x",
                                           "http://",
                                           "127.0.0.1/x",
                                           "http://127.0.0.1:99999/x",
                                           "http://[::1/x",
                                           "http://127.0.0.1/a b",
                                           ""};
    struct ks_hook_result r;
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        struct ks_hook_cfg h = web_hook(bad_urls[i], 300);
        enum ks_rc rc = ks_hook_attempt(&h, "{}", "k1", &r);
        if (rc != KS_EUSAGE) {
            fprintf(stderr, "  url \"%s\": rc %d, %s\n", bad_urls[i], rc, r.detail);
        }
        CHECK_INT(rc, KS_EUSAGE);
        CHECK_INT(r.ok, 0);
        CHECK(strncmp(r.detail, "hook not usable: ", 17) == 0);
    }
    struct ks_hook_cfg h = web_hook("http://127.0.0.1:9/x", 300);
    h.command = "true";
    CHECK_INT(ks_hook_attempt(&h, "{}", "k1", &r), KS_EUSAGE);
    CHECK_STR(r.detail, "hook not usable: both a url and a command");
    h.url = h.command = NULL;
    CHECK_INT(ks_hook_attempt(&h, "{}", "k1", &r), KS_EUSAGE);
    CHECK_STR(r.detail, "hook not usable: neither a url nor a command");
    h = web_hook("http://127.0.0.1:9/x", 0);
    CHECK_INT(ks_hook_attempt(&h, "{}", "k1", &r), KS_EUSAGE);
    h = web_hook("http://127.0.0.1:9/x", 300);
    struct ks_hook_header bad = {"Idempotency-Key", "mine"};
    h.headers = &bad;
    h.nheaders = 1;
    CHECK_INT(ks_hook_attempt(&h, "{}", "k1", &r), KS_EUSAGE);
    CHECK_STR(r.detail, "hook not usable: header Idempotency-Key: this header is set by kintsugi");
    /* A key that would split the request's headers is refused. */
    h = web_hook("http://127.0.0.1:9/x", 300);
    CHECK_INT(ks_hook_attempt(&h, "{}", "k1\r\nX-Evil: 1", &r), KS_EINPUT);
    CHECK_INT(r.ok, 0);
    CHECK_INT(ks_hook_attempt(&h, "{}", "", &r), KS_EINPUT);
    LEAK_END();
}

static void url_and_header_checks(void)
{
    CHECK(ks_hook_url_problem("http://oms.internal/x") == NULL);
    CHECK(ks_hook_url_problem("HTTPS://oms.internal") == NULL);
    CHECK_STR(ks_hook_url_problem("ftp://x"), "must start with http:// or https://");
    CHECK_STR(ks_hook_url_problem("https://"), "needs a host after the scheme");
    CHECK_STR(ks_hook_url_problem("http://a b"), "must not contain spaces or control characters");
    CHECK(ks_hook_header_problem("Authorization", "Bearer xyz") == NULL);
    CHECK(ks_hook_header_problem("X-Empty", "") == NULL);
    CHECK(ks_hook_header_problem("X Tenant", "a") != NULL);
    CHECK(ks_hook_header_problem("X-Tenant:", "a") != NULL);
    CHECK(ks_hook_header_problem("", "a") != NULL);
    CHECK(ks_hook_header_problem("X-A", "a\r\nX-B: b") != NULL);
    CHECK(ks_hook_header_problem("content-type", "text/plain") != NULL);
    CHECK(ks_hook_header_problem("USER-AGENT", "x") != NULL);
}

/* The key checks every table with a webhook uses (`hooks:`, a webhook
 * receiver): the problem and the value as given, a NUL inside a header. */
static void key_checks_of_a_webhook(void)
{
    char buf[256];
    CHECK(ks_hook_url_check("https://oms.internal/x", buf, sizeof(buf)) == NULL);
    CHECK_STR(ks_hook_url_check("ftp://feeds.internal/zero", buf, sizeof(buf)),
              "must start with http:// or https://, got \"ftp://feeds.internal/zero\"");
    CHECK_STR(ks_hook_url_check("https://", buf, sizeof(buf)),
              "needs a host after the scheme, got \"https://\"");
    CHECK(ks_hook_header_check("X-Tenant", 8, "acme", 4) == NULL);
    CHECK(ks_hook_header_check("X-Empty", 7, "", 0) == NULL);
    CHECK_STR(ks_hook_header_check("X-Tenant", 8, "ac\0me", 5),
              "a header must not contain a NUL character");
    CHECK_STR(ks_hook_header_check("X\0Y", 3, "acme", 4),
              "a header must not contain a NUL character");
    CHECK_STR(ks_hook_header_check("Idempotency-Key", 15, "k", 1),
              "this header is set by kintsugi");
    CHECK_STR(ks_hook_header_check("X Tenant", 8, "a", 1), ks_hook_header_problem("X Tenant", "a"));
}

/* ---- commands ------------------------------------------------------------- */

static char tmpdir[64];

/* The whole file, NUL-terminated (ks_free it); NULL when it cannot be read. */
static char *slurp(const char *path)
{
    size_t len;
    return t_slurp(path, &len);
}

static void command_exit_0_is_success(void)
{
    LEAK_START();
    struct ks_hook_cfg h =
        cmd_hook("echo noise on stdout; echo and on stderr >&2; exit 0", KS_SEC * 5);
    struct ks_hook_result r;
    CHECK_INT(ks_hook_attempt(&h, body_json, "k1", &r), KS_OK);
    CHECK_INT(r.ok, 1);
    CHECK_INT(r.exit_code, 0);
    CHECK_INT(r.http_status, 0);
    CHECK_STR(r.detail, "exit 0");
    LEAK_END();
}

static void command_failure_shows_first_stderr_line(void)
{
    LEAK_START();
    struct ks_hook_cfg h = cmd_hook(
        "echo >&2; echo '  listing API said: 401 unauthorized' >&2; echo second >&2; exit 3",
        5 * KS_SEC);
    struct ks_hook_result r;
    CHECK_INT(ks_hook_attempt(&h, body_json, "k1", &r), KS_OK);
    CHECK_INT(r.ok, 0);
    CHECK_INT(r.exit_code, 3);
    CHECK_STR(r.detail, "exit 3: listing API said: 401 unauthorized");
    h = cmd_hook("exit 4", 5 * KS_SEC);
    CHECK_INT(ks_hook_attempt(&h, body_json, "k1", &r), KS_OK);
    CHECK_STR(r.detail, "exit 4");
    h = cmd_hook("/nonexistent/pause-listings", 5 * KS_SEC);
    CHECK_INT(ks_hook_attempt(&h, body_json, "k1", &r), KS_OK);
    CHECK_INT(r.exit_code, 127);
    CHECK(strncmp(r.detail, "exit 127: ", 10) == 0);
    CHECK(strstr(r.detail, "/nonexistent/pause-listings") != NULL);
    h = cmd_hook("kill -TERM $$", 5 * KS_SEC);
    CHECK_INT(ks_hook_attempt(&h, body_json, "k1", &r), KS_OK);
    CHECK_INT(r.ok, 0);
    CHECK_INT(r.exit_code, 128 + SIGTERM);
    CHECK(strncmp(r.detail, "killed by signal 15", 19) == 0);
    LEAK_END();
}

static void command_gets_body_on_stdin_and_env(void)
{
    LEAK_START();
    char cmd[512], path[128], envpath[128];
    snprintf(path, sizeof(path), "%s/body.json", tmpdir);
    snprintf(envpath, sizeof(envpath), "%s/env.txt", tmpdir);
    snprintf(cmd, sizeof(cmd),
             "cat > '%s' && printf '%%s|%%s' \"$KINTSUGI_ACTION\" "
             "\"$KINTSUGI_IDEMPOTENCY_KEY\" > '%s'",
             path, envpath);
    /* Stale values in our own environment are replaced, not duplicated. */
    setenv("KINTSUGI_ACTION", "stale", 1);
    struct ks_hook_cfg h = cmd_hook(cmd, 5 * KS_SEC);
    struct ks_hook_result r;
    CHECK_INT(ks_hook_attempt(&h, body_json, "inc-42/pause_listings/1", &r), KS_OK);
    unsetenv("KINTSUGI_ACTION");
    CHECK_INT(r.ok, 1);
    char *got = slurp(path);
    CHECK_STR(got, body_json);
    ks_free(got);
    got = slurp(envpath);
    CHECK_STR(got, "pause_listings|inc-42/pause_listings/1");
    ks_free(got);
    unlink(path);
    unlink(envpath);
    LEAK_END();
}

static void command_that_ignores_a_large_body_is_fine(void)
{
    LEAK_START();
    size_t n = 4u << 20;
    char *big = ks_malloc(n + 1);
    memset(big, ' ', n);
    big[0] = '[';
    big[n - 1] = ']';
    big[n] = 0;
    struct ks_hook_cfg h = cmd_hook("exit 0", 5 * KS_SEC);
    struct ks_hook_result r;
    CHECK_INT(ks_hook_attempt(&h, big, "k1", &r), KS_OK);
    CHECK_INT(r.ok, 1);
    char cmd[512], path[128];
    snprintf(path, sizeof(path), "%s/big.json", tmpdir);
    snprintf(cmd, sizeof(cmd), "wc -c > '%s'", path);
    h = cmd_hook(cmd, 5 * KS_SEC);
    CHECK_INT(ks_hook_attempt(&h, big, "k1", &r), KS_OK);
    char *got = slurp(path);
    CHECK(got && strtoul(got, NULL, 10) == n);
    ks_free(got);
    unlink(path);
    ks_free(big);
    LEAK_END();
}

/* Whether pid is gone (or a zombie nobody reaped yet). */
static int process_gone(pid_t pid)
{
    if (kill(pid, 0) != 0) {
        return 1;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return 1;
    }
    char state = 0;
    int scanned = fscanf(f, "%*d %*s %c", &state);
    fclose(f);
    return scanned == 1 && state == 'Z';
}

static pid_t read_pid(const char *path)
{
    char *s = slurp(path);
    pid_t pid = s ? (pid_t)strtol(s, NULL, 10) : 0;
    ks_free(s);
    return pid;
}

static void command_past_its_timeout_is_killed_with_its_children(void)
{
    LEAK_START();
    char cmd[512], path[128];
    snprintf(path, sizeof(path), "%s/child.pid", tmpdir);
    snprintf(cmd, sizeof(cmd), "sleep 30 & echo $! > '%s'; sleep 30", path);
    struct ks_hook_cfg h = cmd_hook(cmd, 300);
    struct ks_hook_result r;
    ks_time t0 = mono_now();
    CHECK_INT(ks_hook_attempt(&h, body_json, "k1", &r), KS_OK);
    ks_time took = mono_now() - t0;
    CHECK(took >= 250);
    CHECK(took < 1500);
    CHECK_INT(r.ok, 0);
    CHECK_INT(r.exit_code, -1);
    CHECK_STR(r.detail, "timed out after 300ms (killed)");
    pid_t child = read_pid(path);
    CHECK(child > 0);
    int gone = 0;
    for (int i = 0; child > 0 && i < 100 && !gone; i++) {
        gone = process_gone(child);
        if (!gone) {
            usleep(10000);
        }
    }
    CHECK(gone);
    unlink(path);
    LEAK_END();
}

static void background_process_holding_stderr_is_not_waited_for(void)
{
    LEAK_START();
    char cmd[512], path[128];
    snprintf(path, sizeof(path), "%s/bg.pid", tmpdir);
    snprintf(cmd, sizeof(cmd), "sleep 20 & echo $! > '%s'; exit 0", path);
    struct ks_hook_cfg h = cmd_hook(cmd, 5 * KS_SEC);
    struct ks_hook_result r;
    ks_time t0 = mono_now();
    CHECK_INT(ks_hook_attempt(&h, body_json, "k1", &r), KS_OK);
    CHECK(mono_now() - t0 < 1000);
    CHECK_INT(r.ok, 1);
    CHECK_STR(r.detail, "exit 0");
    pid_t bg = read_pid(path);
    if (bg > 0) {
        kill(bg, SIGKILL); /* ours to clean up: the hook left it running by design */
    }
    unlink(path);
    LEAK_END();
}

/* ---- the schedule ----------------------------------------------------------- */

static void backoff_doubles_and_caps_at_5_minutes(void)
{
    struct ks_hook_cfg h = web_hook("http://127.0.0.1/", KS_SEC);
    CHECK_INT(ks_hook_backoff(&h, 1), KS_SEC);
    CHECK_INT(ks_hook_backoff(&h, 2), 2 * KS_SEC);
    CHECK_INT(ks_hook_backoff(&h, 3), 4 * KS_SEC);
    CHECK_INT(ks_hook_backoff(&h, 5), 16 * KS_SEC);
    CHECK_INT(ks_hook_backoff(&h, 9), 256 * KS_SEC);
    CHECK_INT(ks_hook_backoff(&h, 10), 5 * KS_MIN); /* 512s capped */
    CHECK_INT(ks_hook_backoff(&h, 1000000), 5 * KS_MIN);
    CHECK_INT(ks_hook_backoff(&h, 0), KS_SEC);
    CHECK_INT(ks_hook_backoff(&h, -3), KS_SEC);
    h.backoff = 10 * KS_MIN;
    CHECK_INT(ks_hook_backoff(&h, 1), KS_HOOK_MAX_BACKOFF);
    h.backoff = 250;
    CHECK_INT(ks_hook_backoff(&h, 3), 1000);
}

static void may_retry_respects_retries(void)
{
    struct ks_hook_cfg h = web_hook("http://127.0.0.1/", KS_SEC);
    h.retries = 5; /* up to 6 attempts */
    for (int a = 1; a <= 5; a++) {
        CHECK(ks_hook_may_retry(&h, a));
    }
    CHECK(!ks_hook_may_retry(&h, 6));
    CHECK(!ks_hook_may_retry(&h, 7));
    h.retries = 0;
    CHECK(!ks_hook_may_retry(&h, 1));
    h.retries = 20;
    CHECK(ks_hook_may_retry(&h, 20));
    CHECK(!ks_hook_may_retry(&h, 21));
}

static void cfg_fini_frees_everything_and_takes_null(void)
{
    LEAK_START();
    struct ks_hook_cfg h = {0};
    h.action = ks_strdup("stop_order_import");
    h.url = ks_strdup("http://127.0.0.1/");
    h.headers = ks_malloc(sizeof(*h.headers));
    h.headers[0].name = ks_strdup("Authorization");
    h.headers[0].value = ks_strdup("Bearer xyz");
    h.nheaders = 1;
    ks_hook_cfg_fini(&h);
    CHECK(h.action == NULL && h.url == NULL && h.headers == NULL && h.nheaders == 0);
    ks_hook_cfg_fini(&h);
    ks_hook_cfg_fini(NULL);
    LEAK_END();
}

int main(void)
{
    /* Proxies from the environment must not matter: these point nowhere. */
    setenv("http_proxy", "http://127.0.0.1:9", 1);
    setenv("HTTP_PROXY", "http://127.0.0.1:9", 1);
    setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ks_test_hook_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    ks_hook_global_init();
    RUN(webhook_fails_twice_then_succeeds_with_one_key);
    RUN(closed_port_is_connection_refused);
    RUN(silent_server_times_out_within_the_timeout);
    RUN(redirect_is_a_failure_and_not_followed);
    RUN(only_2xx_is_success);
    RUN(huge_response_body_is_not_read_in_full);
    RUN(unusable_configs_are_usage_errors_never_crashes);
    RUN(url_and_header_checks);
    RUN(key_checks_of_a_webhook);
    RUN(command_exit_0_is_success);
    RUN(command_failure_shows_first_stderr_line);
    RUN(command_gets_body_on_stdin_and_env);
    RUN(command_that_ignores_a_large_body_is_fine);
    RUN(command_past_its_timeout_is_killed_with_its_children);
    RUN(background_process_holding_stderr_is_not_waited_for);
    RUN(backoff_doubles_and_caps_at_5_minutes);
    RUN(may_retry_respects_retries);
    RUN(cfg_fini_frees_everything_and_takes_null);
    ks_hook_global_cleanup();
    rmdir(tmpdir);
    return t_done();
}
