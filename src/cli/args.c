/* args.c - option parsing and help shared by every command. */
#include "cli.h"

#include "../engine/engine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ks_cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kintsugi: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* One byte through the filter: out gets what it decides (0 to 4 bytes). A
 * UTF-8 sequence is held in t until it is complete, then written as it is,
 * or as one '?' when it is a C1 control (U+0080-U+009F: C2 80..C2 9F, CSI
 * among them); a byte that cannot be part of valid UTF-8 (a lone 0x9B, an
 * overlong form, a surrogate) is a '?', and so is a sequence cut short. */
static size_t term_byte(struct ks_cli_term *t, unsigned char c, char *out)
{
    size_t o = 0;
    if (t->len) {
        unsigned char lead = t->seq[0];
        int ok = (c & 0xC0) == 0x80;
        if (ok && t->len == 1) {
            /* the second byte's narrower ranges (RFC 3629) */
            ok = !((lead == 0xE0 && c < 0xA0) || (lead == 0xED && c > 0x9F) ||
                   (lead == 0xF0 && c < 0x90) || (lead == 0xF4 && c > 0x8F));
        }
        if (ok) {
            t->seq[t->len++] = c;
            if (t->len < t->need) {
                return 0;
            }
            size_t n = t->len;
            t->len = 0;
            if (lead == 0xC2 && t->seq[1] <= 0x9F) {
                out[0] = '?';
                return 1;
            }
            memcpy(out, t->seq, n);
            return n;
        }
        out[o++] = '?';
        t->len = 0;
    }
    if (c < 0x80) {
        out[o++] = (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '?' : (char)c;
    } else if (c >= 0xC2 && c <= 0xF4) {
        t->seq[0] = c;
        t->len = 1;
        t->need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    } else {
        out[o++] = '?';
    }
    return o;
}

size_t ks_cli_term_put(struct ks_cli_term *t, const char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        o += term_byte(t, (unsigned char)in[i], out + o);
    }
    return o;
}

const char *ks_cli_safe(const char *s)
{
    static struct ks_buf ring[4];
    static unsigned next;
    if (!s) {
        return NULL;
    }
    size_t n = strlen(s);
    if (ks_utf8_control_at(s, n) == (size_t)-1 && ks_utf8_invalid_at(s, n) == (size_t)-1) {
        return s; /* nothing to change: most text */
    }
    struct ks_buf *b = &ring[next++ % 4];
    ks_buf_reset(b);
    struct ks_cli_term t = {0};
    char out[8];
    for (const char *p = s; *p; p++) {
        char c = *p == '\t' || *p == '\n' || *p == '\r' ? ' ' : *p;
        ks_buf_put(b, out, term_byte(&t, (unsigned char)c, out));
    }
    if (t.len) {
        ks_buf_putc(b, '?'); /* cut short at the end */
    }
    if (!b->p) {
        ks_buf_puts(b, "");
    }
    return b->p;
}

/* Every byte a command writes to standard output passes here: a control
 * character other than newline and tab (ESC above all: an event's text could
 * otherwise move the cursor, recolour or retitle an operator's terminal, or
 * hide a line with a carriage return), DEL, a C1 control (U+0080-U+009F: C2
 * 9B is the one-character CSI to a terminal that reads UTF-8) and a byte that
 * is not valid UTF-8 (a lone 9B is CSI to one that reads Latin-1) are
 * written as '?' (ks_cli_term_put). JSON documents never hold one
 * unescaped but C1 controls, which become '?' there too. A sequence that a
 * write ends in the middle of waits for the next write; one still unfinished
 * when the process ends is not written. */
static ssize_t stdout_write(void *cookie, const char *buf, size_t n)
{
    static struct ks_cli_term t;
    (void)cookie;
    char tmp[2 * 4096 + 8];
    size_t done = 0;
    while (done < n) {
        size_t k = n - done < 4096 ? n - done : 4096;
        size_t m = ks_cli_term_put(&t, buf + done, k, tmp);
        size_t off = 0;
        while (off < m) {
            ssize_t w = write(STDOUT_FILENO, tmp + off, m - off);
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                return done ? (ssize_t)done : -1;
            }
            off += (size_t)w;
        }
        done += k;
    }
    return (ssize_t)n;
}

void ks_cli_guard_stdout(void)
{
    static const cookie_io_functions_t io = {.write = stdout_write};
    int tty = isatty(STDOUT_FILENO);
    FILE *f = fopencookie(NULL, "w", io);
    if (!f) {
        return; /* out of memory at start: the plain stream stays */
    }
    setvbuf(f, NULL, tty ? _IOLBF : _IOFBF, tty ? 0 : 1 << 16);
    fflush(stdout);
    stdout = f;
}

int ks_cli_count(const char *opt, const char *name, int64_t *out)
{
    if (!opt) {
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(opt, &end, 10);
    if (!*opt || *end || v < 0 || errno) {
        ks_cli_error("--%s '%s' is not a whole number >= 0", name, opt);
        return -1;
    }
    *out = v;
    return 0;
}

int ks_cli_id(const char *s, const char *what, int64_t *id)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10) {
            v = (uint64_t)INT64_MAX + 1; /* too large: stays so */
            continue;
        }
        v = v * 10 + d;
    }
    if (i == 0 || s[i] || v < 1 || v > (uint64_t)INT64_MAX) {
        ks_cli_error("'%s' is not %s (a whole number from 1 to %lld)", s, what,
                     (long long)INT64_MAX);
        return -1;
    }
    *id = (int64_t)v;
    return 0;
}

void ks_cli_help(const struct ks_cmd_spec *spec, FILE *out)
{
    fprintf(out, "usage: %s\n\n%s\n", spec->usage, spec->summary);
    if (spec->nopts) {
        fprintf(out, "\noptions:\n");
        for (size_t i = 0; i < spec->nopts; i++) {
            char left[64];
            snprintf(left, sizeof(left), "--%s%s", spec->opts[i].name,
                     spec->opts[i].has_arg ? " VALUE" : "");
            fprintf(out, "  %-22s %s\n", left, spec->opts[i].help);
        }
        fprintf(out, "  %-22s %s\n", "--help", "show this help");
        fprintf(out, "  %-22s %s\n", "--",
                "end of options: the words after it are arguments, even '-5'");
    }
    if (spec->details) {
        fprintf(out, "\n%s\n", spec->details);
    }
    if (!spec->details || !strstr(spec->details, "exit status")) {
        /* every command keeps this convention (src/cli/cli.h, KS_EXIT_*) */
        fprintf(out, "\nexit status: 0 done, 1 it failed (nothing found by that name, a refused "
                     "change, the\ndatabase; the message says which), 2 usage or configuration "
                     "error.\n");
    }
}

struct ks_opt *ks_cli_opt(const struct ks_cmd_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->nopts; i++) {
        if (strcmp(spec->opts[i].name, name) == 0) {
            return &spec->opts[i];
        }
    }
    KS_ASSERT(!"option not declared");
    return NULL;
}

int ks_cli_parse(const struct ks_cmd_spec *spec, int argc, char **argv, char **args, int *nargs)
{
    int only_args = 0;
    *nargs = 0;
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        if (only_args || w[0] != '-' || strcmp(w, "-") == 0) {
            args[(*nargs)++] = argv[i];
            continue;
        }
        if (strcmp(w, "--") == 0) {
            only_args = 1;
            continue;
        }
        if (strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0) {
            ks_cli_help(spec, stdout);
            return -1;
        }
        if (w[1] != '-') {
            /* Text that starts with '-' ("-5 units were missing", an amount
             * of -5) is no option: "--" before it says so. */
            ks_cli_error("unknown option '%s' (options are spelled --name; an argument that starts "
                         "with '-' goes after '--', which ends the options; see --help)",
                         w);
            return KS_EXIT_USAGE;
        }
        const char *name = w + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        struct ks_opt *o = NULL;
        for (size_t k = 0; k < spec->nopts; k++) {
            if (strlen(spec->opts[k].name) == nlen && memcmp(spec->opts[k].name, name, nlen) == 0) {
                o = &spec->opts[k];
            }
        }
        if (!o) {
            ks_cli_error("unknown option '--%.*s' for '%s' (see --help)", (int)nlen, name,
                         spec->usage);
            return KS_EXIT_USAGE;
        }
        o->set++;
        if (!o->has_arg) {
            if (eq) {
                ks_cli_error("option '--%s' takes no value", o->name);
                return KS_EXIT_USAGE;
            }
            continue;
        }
        if (eq) {
            o->value = eq + 1;
        } else if (i + 1 < argc) {
            o->value = argv[++i];
        } else {
            ks_cli_error("option '--%s' needs a value", o->name);
            return KS_EXIT_USAGE;
        }
    }
    return KS_EXIT_OK;
}

int ks_cli_time(const char *name, const char *opt, ks_time *out)
{
    *out = KS_TIME_NONE;
    if (!opt) {
        return 0;
    }
    size_t n = strlen(opt);
    if (n && strspn(opt, "0123456789") == n) {
        /* integer epoch milliseconds, as an event's ts may be (SPEC 1) */
        errno = 0;
        unsigned long long v = strtoull(opt, NULL, 10);
        if (errno || v > 253402300799999ULL) {
            ks_cli_error("--%s '%s' must be epoch milliseconds between 0 and 253402300799999",
                         name, opt);
            return -1;
        }
        *out = (ks_time)v;
        return 0;
    }
    const char *why;
    if (ks_time_parse(opt, n, out, &why) != 0) {
        ks_cli_error("--%s '%s' %s", name, opt, why);
        return -1;
    }
    return 0;
}

int ks_cli_at(const char *opt, ks_time *out)
{
    return ks_cli_time("at", opt, out);
}

void ks_cli_at_before_clock(const struct ks_engine *eng, ks_time at)
{
    ks_time clock = eng ? ks_engine_clock(eng) : KS_TIME_NONE;
    if (at == KS_TIME_NONE || clock == KS_TIME_NONE || at >= clock) {
        return;
    }
    char a[32], c[32];
    ks_time_fmt(at, a);
    ks_time_fmt(clock, c);
    fprintf(stderr,
            "kintsugi: note: --at %s is before the engine clock (%s): recorded at %s, since the "
            "clock never goes back and a timeline reads oldest first\n",
            a, c, c);
}

void ks_cli_clock_mark(const struct ks_engine *eng, struct ks_cli_clock *m)
{
    struct ks_engine_stats st;
    ks_engine_stats(eng, &st);
    m->clock = ks_engine_clock(eng);
    m->incidents = st.incidents;
    m->escalations = st.escalations;
}

void ks_cli_clock_moved(const struct ks_engine *eng, const struct ks_cli_clock *m)
{
    ks_time clock = ks_engine_clock(eng);
    if (m->clock == KS_TIME_NONE || clock == KS_TIME_NONE || clock <= m->clock) {
        return;
    }
    struct ks_engine_stats st;
    ks_engine_stats(eng, &st);
    char a[32], b[32];
    ks_time_fmt(m->clock, a);
    ks_time_fmt(clock, b);
    int64_t opened = st.incidents - m->incidents;
    uint64_t raised = st.escalations - m->escalations;
    if (opened <= 0 && raised == 0) {
        fprintf(stderr, "kintsugi: note: --at moved the engine clock from %s to %s; no timer "
                        "due meanwhile opened or raised an incident\n",
                a, b);
        return;
    }
    fprintf(stderr,
            "kintsugi: note: --at moved the engine clock from %s to %s, and the timers due "
            "meanwhile fired: %lld %s opened, %llu %s (kintsugi incidents)\n",
            a, b, (long long)(opened > 0 ? opened : 0), opened == 1 ? "incident" : "incidents",
            (unsigned long long)raised, raised == 1 ? "escalation" : "escalations");
}

int ks_cli_wait(const char *opt, ks_time *out)
{
    *out = 30 * KS_SEC;
    if (opt && ks_duration_parse(opt, out) != 0) {
        ks_cli_error("--wait '%s' is not a duration (e.g. 30s, 2m)", opt);
        return -1;
    }
    return 0;
}

int ks_cli_person(const char *name, const char *value)
{
    char why[64];
    const char *bad = value ? ks_person_invalid(value, why, sizeof(why)) : NULL;
    if (bad) {
        ks_cli_error("--%s: a person's name %s", name, bad);
        return -1;
    }
    return 0;
}

const char *ks_cli_by(const char *opt)
{
    if (!opt || !*opt) {
        opt = getenv("USER");
    }
    return opt && *opt ? opt : "cli";
}

int ks_cli_verb(const struct ks_cli_verb *verbs, size_t n, const char *word)
{
    for (size_t i = 0; word && i < n; i++) {
        if (!strcmp(verbs[i].name, word)) {
            return (int)i;
        }
    }
    return -1;
}

int ks_cli_listen(const char *s, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(s, ':');
    const char *p = colon ? colon + 1 : s;
    char *end;
    long v = strtol(p, &end, 10);
    if (!*p || *end || v < 0 || v > 65535) {
        return -1;
    }
    *port = (int)v;
    size_t n = colon ? (size_t)(colon - s) : 0;
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    if (n >= cap) {
        return -1;
    }
    memcpy(host, s, n);
    host[n] = 0;
    if (!*host) {
        snprintf(host, cap, "127.0.0.1");
    }
    return 0;
}
