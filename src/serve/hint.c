/* hint.c - the way out an error names, for a person using the HTTP API:
 * the engine's and the shell's messages name the command that helps
 * ("add a note: kintsugi incident note 3 TEXT --by NAME"), which a running
 * server refuses (it owns the database). The API's answers name the route
 * instead ("add a note: POST /v1/incidents/3/note"). docs/API.md. */
#include "serve_int.h"

#include <ctype.h>
#include <string.h>

/* A command as the messages write it, and its route: {N} matches a whole
 * number, {W} a name (letters, digits, _ . / -); the route repeats them in
 * order of appearance, a slash as %2F. */
static const char *const hints[][2] = {
    {"kintsugi incident note {N} TEXT --by NAME", "POST /v1/incidents/{N}/note"},
    {"kintsugi action approve {N} {W} --by NAME",
     "POST /v1/actions/{N}/approve {\"action\": \"{W}\"}"},
    {"kintsugi action list", "GET /v1/actions"},
    {"kintsugi guard rollback {N}", "POST /v1/guard/rollback {\"incident\": {N}}"},
    {"kintsugi guard accept {N}", "POST /v1/guard/accept {\"incident\": {N}}"},
    {"kintsugi feed {W} --state", "GET /v1/feed/{W}?state=1"},
    {"kintsugi hooks", "GET /v1/hooks"},
    {"kintsugi messages", "GET /v1/messages"},
};

static int is_name(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '/' || c == '-';
}

/* Matches pattern at s: the length matched (0: none), the captures' spans. */
static size_t match(const char *s, const char *pat, const char *cap[2], size_t caplen[2])
{
    const char *p = s;
    int n = 0;
    while (*pat) {
        if (!strncmp(pat, "{N}", 3) || !strncmp(pat, "{W}", 3)) {
            int digits = pat[1] == 'N';
            const char *b = p;
            while (*p && (digits ? isdigit((unsigned char)*p) : is_name(*p))) {
                p++;
            }
            if (p == b || n == 2) {
                return 0;
            }
            cap[n] = b;
            caplen[n++] = (size_t)(p - b);
            pat += 3;
        } else if (*p == *pat) {
            p++;
            pat++;
        } else {
            return 0;
        }
    }
    /* a whole command: not the start of a longer word */
    return is_name(*p) ? 0 : (size_t)(p - s);
}

void ks_api_hint(const char *msg, struct ks_buf *out)
{
    const char *p = msg;
    while (*p) {
        size_t used = 0;
        if (!strncmp(p, "kintsugi ", 9)) {
            for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]) && !used; i++) {
                const char *cap[2];
                size_t caplen[2];
                if (!(used = match(p, hints[i][0], cap, caplen))) {
                    continue;
                }
                int n = 0;
                for (const char *r = hints[i][1]; *r;) {
                    if (!strncmp(r, "{N}", 3) || !strncmp(r, "{W}", 3)) {
                        for (size_t k = 0; k < caplen[n]; k++) {
                            /* a slash of a name is one path segment: %2F */
                            if (cap[n][k] == '/') {
                                ks_buf_puts(out, "%2F");
                            } else {
                                ks_buf_putc(out, cap[n][k]);
                            }
                        }
                        n++;
                        r += 3;
                    } else {
                        ks_buf_putc(out, *r++);
                    }
                }
            }
        }
        if (used) {
            p += used;
        } else {
            ks_buf_putc(out, *p++);
        }
    }
    ks_buf_put(out, "", 0);
}
