/*
 * hook_keys.c - the `hooks:` keys of kintsugi.yaml (see src/config/keys.h):
 * one entry per action, a webhook or a command, and its checks; the checks
 * every webhook's keys share (hook.h: KS_HOOK_KEY_URL, ...); and the lookup
 * of a configured hook.
 */
#include "hook.h"

#include <string.h>

static void hook_done(struct ks_key_check *chk, void *entry);

static const struct ks_key_struct hook_entry = {
    .size = sizeof(struct ks_hook_cfg),
    .array = offsetof(struct ks_config, hooks),
    .count = offsetof(struct ks_config, nhooks),
    .name = offsetof(struct ks_hook_cfg, action),
    .defaults = KS_KEY_NONE,
    .done = hook_done,
};

const char *ks_hook_url_check(const char *s, char *buf, size_t cap)
{
    const char *why = ks_hook_url_problem(s);
    if (!why) {
        return NULL;
    }
    char w[96];
    ks_key_quote(s, strlen(s), w, sizeof(w));
    snprintf(buf, cap, "%s, got %s", why, w);
    return buf;
}

const char *ks_hook_header_check(const char *name, size_t name_len, const char *value,
                                 size_t value_len)
{
    if (strlen(name) != name_len || strlen(value) != value_len) {
        return "a header must not contain a NUL character";
    }
    return ks_hook_header_problem(name, value);
}

#define HOOK(f) .base = &hook_entry, .off = offsetof(struct ks_hook_cfg, f)

static const struct ks_key hook_keys[] = {
    {.name = "url",
     KS_HOOK_KEY_URL,
     HOOK(url),
     .help = "A webhook: the JSON body is POSTed here (`http://` or `https://`). Set exactly "
             "one of `url` and `command`."},
    {.name = "command",
     .type = KS_KEY_STRING,
     HOOK(command),
     .help = "A command, run with `/bin/sh -c`, the JSON body on its stdin; exit status 0 is "
             "success."},
    {.name = "retries",
     .type = KS_KEY_INT,
     HOOK(retries),
     .def = "5",
     .min = 0,
     .max = 20,
     .help = "Further attempts after a failed one (5: at most 6 attempts in all)."},
    {.name = "backoff",
     KS_HOOK_KEY_BACKOFF,
     HOOK(backoff),
     .help = "Wait before the first retry; each later retry waits twice the one before, at "
             "most 5m."},
    {.name = "timeout",
     KS_HOOK_KEY_TIMEOUT,
     HOOK(timeout),
     .help = "Limit of one attempt (connecting included); a command still running then is "
             "killed."},
    {.name = "headers",
     KS_HOOK_KEY_HEADERS,
     HOOK(headers),
     .off2 = offsetof(struct ks_hook_cfg, nheaders),
     .help = "Extra HTTP request headers of a webhook (`Authorization: \"Bearer ...\"`)."},
    {.name = NULL} /* end */
};

const struct ks_key ks_hook_keys[] = {
    {.name = "hooks",
     .type = KS_KEY_MAP,
     .sub = hook_keys,
     .entry = &hook_entry,
     .help = "How kintsugi asks other systems to act, by action name (see Actions below): a "
             "webhook or a command each, retried with backoff. None by default; "
             "docs/HOOKS.md describes what is sent."},
    {.name = NULL} /* end */
};

/* A hook: its name is an action, and it has exactly one of url and command
 * (headers only with a url). */
static void hook_done(struct ks_key_check *chk, void *entry)
{
    const struct ks_hook_cfg *h = entry;
    int line = ks_key_entry_line(chk);
    if (!ks_action_known(h->action)) {
        char hint[400];
        ks_action_hint(h->action, strlen(h->action), hint, sizeof(hint));
        ks_key_issue(chk, line, NULL, "unknown action (%s)", hint);
    }
    if (ks_key_entry_kind(chk) < 0) {
        return; /* already reported as not a mapping */
    }
    int url = ks_key_line(chk, "url", 0), command = ks_key_line(chk, "command", 0);
    int headers = ks_key_line(chk, "headers", 0);
    if (url && command) {
        int second_is_command = command >= url;
        ks_key_issue(chk, second_is_command ? command : url, second_is_command ? "command" : "url",
                     "conflicts with \"%s\": a hook has exactly one of url, command",
                     second_is_command ? "url" : "command");
    } else if (!url && !command) {
        ks_key_issue(chk, line, NULL, "needs exactly one of url, command");
    } else if (command && headers) {
        ks_key_issue(chk, headers, "headers",
                     "only a webhook (url) sends headers; a command gets the body on stdin");
    }
}

const struct ks_hook_cfg *ks_config_hook(const struct ks_config *cfg, const char *action)
{
    for (size_t i = 0; action && i < cfg->nhooks; i++) {
        if (!strcmp(cfg->hooks[i].action, action)) {
            return &cfg->hooks[i];
        }
    }
    return NULL;
}
