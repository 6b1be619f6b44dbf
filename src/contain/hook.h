/*
 * hook.h - delivering an action to a system kintsugi does not own.
 *
 * When kintsugi contains an incident it asks other systems to act: stop order
 * import, pause listings, zero a channel, ... (the action names are
 * ks_action_names[] in config.h). Each action can be configured as a hook
 * under `hooks:` in kintsugi.yaml: an HTTP webhook (a JSON POST with an
 * idempotency key) or a command (the JSON on its stdin).
 *
 * This module makes one attempt at a time and says how it went; it keeps no
 * state between attempts. The caller (the delivery loop) owns the schedule:
 * it asks ks_hook_may_retry whether another attempt is allowed and
 * ks_hook_backoff how long to wait, and records every attempt in the
 * incident's timeline. docs/HOOKS.md describes the whole contract as the
 * receiving side sees it.
 */
#ifndef KS_HOOK_H
#define KS_HOOK_H

#include "../config/keys.h"
#include "../core/core.h"

/* One extra HTTP request header of a webhook: a KS_KEY_STRMAP pair of
 * kintsugi.yaml (`hooks:`, a webhook under `receivers:`). */
struct ks_hook_header {
    char *name, *value;
};
_Static_assert(sizeof(struct ks_hook_header) == sizeof(struct ks_key_pair) &&
                   offsetof(struct ks_hook_header, name) == offsetof(struct ks_key_pair, name) &&
                   offsetof(struct ks_hook_header, value) == offsetof(struct ks_key_pair, value),
               "a hook header is a key pair");

/* A configured hook. Exactly one of url and command is set (the config
 * loader guarantees it; ks_hook_attempt refuses anything else). All strings
 * are owned by the struct; ks_hook_cfg_fini frees them. */
struct ks_hook_cfg {
    char *action;                   /* the action name, one of ks_action_names[] */
    char *url;                      /* "http://..." or "https://...", or NULL */
    char *command;                  /* run with /bin/sh -c, or NULL */
    int retries;                    /* further attempts after the first fails: 0..20, default 5 */
    ks_time backoff;                /* delay before the first retry, doubled each time: 1s */
    ks_time timeout;                /* limit of one attempt, connection included: 10s */
    struct ks_hook_header *headers; /* webhooks only */
    size_t nheaders;
};

/* How one attempt went. detail is one printable line for the timeline:
 * "HTTP 200 OK", "HTTP 503 Service Unavailable", "connection refused",
 * "timed out after 10s", "exit 0", "exit 2: <first line of stderr>". */
struct ks_hook_result {
    int ok;           /* 1: the other system accepted the action */
    long http_status; /* the response's status, 0 when none was received */
    int exit_code;    /* a command's exit status, 128 + N when signal N ended it; -1
                         for a webhook and for a command that timed out or did not
                         start */
    ks_time retry_after; /* a webhook response's Retry-After (delay-seconds) in ms, 0: none */
    char detail[256];
};

/* The most a retry waits, however many attempts failed before. */
#define KS_HOOK_MAX_BACKOFF (5 * KS_MIN)

/* Makes one attempt to deliver body (a JSON document, NUL-terminated) for
 * hook h, with key as its idempotency key (the same for every attempt of one
 * action), and fills *out.
 *
 * Webhook: POST body to h->url with the headers Content-Type:
 * application/json, Idempotency-Key: key, User-Agent: kintsugi, then
 * h->headers. A 2xx status is success; anything else fails, including a
 * redirect (never followed). The whole attempt is limited to h->timeout;
 * proxies from the environment are ignored; the response body is discarded
 * (read up to 1 MiB, then the connection is dropped).
 *
 * Command: /bin/sh -c h->command in its own process group, with body on
 * stdin, stdout discarded, and KINTSUGI_ACTION and KINTSUGI_IDEMPOTENCY_KEY
 * added to the environment. Exit status 0 is success. When h->timeout passes
 * the whole process group is killed (SIGKILL). Processes the command leaves
 * running in the background after it exits are not waited for.
 *
 * Returns KS_OK whenever an attempt was made, whatever its outcome (out->ok
 * says): a refused connection, a 503 or an exit status of 1 are delivery
 * failures for the caller to retry. Returns KS_EUSAGE when the hook cannot
 * work as configured, so that retrying is pointless: neither or both of url
 * and command, a URL that is not http(s) or that libcurl cannot parse, a
 * timeout <= 0. Returns KS_EINPUT when key holds a control character (it
 * would break the request's headers). In every case *out is filled, with a
 * detail. body, key and out must not be NULL. */
enum ks_rc ks_hook_attempt(const struct ks_hook_cfg *h, const char *body, const char *key,
                           struct ks_hook_result *out);

/* The delay before retry n (n >= 1: the delay after the first failed
 * attempt is ks_hook_backoff(h, 1)): h->backoff * 2^(n-1), at most
 * KS_HOOK_MAX_BACKOFF. n < 1 is taken as 1. */
ks_time ks_hook_backoff(const struct ks_hook_cfg *h, int n);

/* Whether, after `attempts` attempts (1-based, all made and failed), another
 * may be made: attempts < 1 + h->retries. */
int ks_hook_may_retry(const struct ks_hook_cfg *h, int attempts);

/* Initializes libcurl's global state (curl_global_init) once. Call it before
 * starting threads; ks_hook_attempt calls it too. Thread-safe. */
void ks_hook_global_init(void);
/* Releases libcurl's global state (curl_global_cleanup) if it was
 * initialized: at exit, when no attempt is in progress. */
void ks_hook_global_cleanup(void);

/* Why url cannot be a webhook's URL ("must start with http:// or
 * https://"), or NULL when it can. The config loader reports the same. */
const char *ks_hook_url_problem(const char *url);
/* Why a configured header cannot be sent (a name that is not an HTTP token, a
 * line break in the value, a header kintsugi sets itself: Content-Type,
 * Content-Length, Idempotency-Key, User-Agent, Host, Transfer-Encoding,
 * Expect), or NULL when it can. */
const char *ks_hook_header_problem(const char *name, const char *value);

/* ---- keys of a call made through ks_hook_attempt ----------------------------------- */

/* What every table of keys that configures a webhook checks alike (the
 * `hooks:` keys and a receiver's `webhook` under `receivers:`; see
 * src/config/keys.h). Each macro is the part of a row that does not depend on
 * the table: the table adds the name, where the value lives and the help.
 *
 * KS_HOOK_KEY_URL: the webhook's http(s) URL, checked by ks_hook_url_check.
 * KS_HOOK_KEY_HEADERS: its extra request headers (struct ks_hook_header
 * pairs; the table sets .off2 to their count), each checked by
 * ks_hook_header_check.
 * KS_HOOK_KEY_BACKOFF, KS_HOOK_KEY_TIMEOUT: ks_hook_backoff's first wait
 * (1s) and the limit of one attempt (10s), both longer than zero. */
#define KS_HOOK_KEY_URL                                                                            \
    .type = KS_KEY_STRING, .check = ks_hook_url_check, .type_name = "http(s) URL"
#define KS_HOOK_KEY_HEADERS                                                                        \
    .type = KS_KEY_STRMAP, .check_pair = ks_hook_header_check,                                     \
    .bad_value = "a header value must be a string (quote an empty one)"
#define KS_HOOK_KEY_BACKOFF .type = KS_KEY_DURATION, .def = "1s", .flags = KS_KEY_POSITIVE
#define KS_HOOK_KEY_TIMEOUT .type = KS_KEY_DURATION, .def = "10s", .flags = KS_KEY_POSITIVE

/* A KS_KEY_STRING check (struct ks_key's check) of a webhook's URL: NULL when
 * ks_hook_url_problem finds none, else the problem and the value as given
 * ("must start with http:// or https://, got \"ftp://x\""), written into
 * buf[0, cap). */
const char *ks_hook_url_check(const char *s, char *buf, size_t cap);
/* A KS_KEY_STRMAP check (struct ks_key's check_pair) of one header: NULL when
 * it can be sent, "a header must not contain a NUL character" when name or
 * value holds one (their lengths say), else ks_hook_header_problem's
 * message. */
const char *ks_hook_header_check(const char *name, size_t name_len, const char *value,
                                 size_t value_len);

/* The `hooks:` keys of kintsugi.yaml (hook_keys.c). */
extern const struct ks_key ks_hook_keys[];
/* The hook configured for an action, or NULL when there is none (or action
 * is NULL). */
const struct ks_hook_cfg *ks_config_hook(const struct ks_config *cfg, const char *action);

/* Frees what h owns and zeroes it. Takes NULL. */
void ks_hook_cfg_fini(struct ks_hook_cfg *h);

#endif
