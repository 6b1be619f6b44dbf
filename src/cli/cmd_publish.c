/*
 * cmd_publish.c - `kintsugi publish`: NDJSON event files onto the NATS
 * JetStream stream that `kintsugi serve --bus` consumes (src/bus/,
 * docs/BUS.md). Every line is decoded by the same decoder as `kintsugi
 * ingest`; a rejected line is printed with its place and reason, counted,
 * and published alone on PREFIX.rejected for the server's dead letters.
 * Consecutive events of one partition share a message.
 */
#include "../bus/bus.h"
#include "../event/event.h"
#include "cli.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct ks_opt opts[] = {
    {"bus", 1, "the NATS server(s): nats://HOST:PORT[,nats://HOST:PORT...] (required)", 0, NULL},
    {"stream", 1, "the JetStream stream (default KINTSUGI; created if absent)", 0, NULL},
    {"subject", 1, "the subjects' prefix (default kintsugi.events: subjects PREFIX.0 ...)", 0,
     NULL},
    {"partitions", 1, "how many partitions the keys are spread over (default 8, at most 1024)",
     0, NULL},
    {"window", 1, "messages whose acknowledgement is awaited at a time (default 4096)", 0, NULL},
    {"lines-per-message", 1,
     "consecutive events of one partition carried by one message (default 100; 1: one each)", 0,
     NULL},
    {"json", 0, "print the summary as JSON on stdout", 0, NULL},
    {"quiet", 0, "no progress line and no summary (rejections are still printed)", 0, NULL},
};

static const struct ks_cmd_spec spec = {
    "kintsugi publish --bus nats://HOST:PORT [--stream NAME] [--subject PREFIX]\n"
    "       [--partitions N] [--window N] [--lines-per-message N] [--json] [--quiet] FILE...|-",
    "Publish NDJSON events to NATS JetStream, for `kintsugi serve --bus` to consume.",
    "Each line is checked as `kintsugi ingest` checks it; a rejected line is printed on stderr\n"
    "as FILE:LINE: TYPE: field \"x\" reason, counted, and published on PREFIX.rejected, where\n"
    "the server dead-letters it (raw text kept) and its feed-rejects detector counts it, as\n"
    "ingest does. Each event goes to the subject PREFIX.P, P = FNV-1a(key) mod N, the key\n"
    "keeping an update together: the channel for inventory, sync and order events,\n"
    "system/location for health, the PO for receipts (docs/BUS.md lists every type). The\n"
    "stream is created when absent (file storage, subjects PREFIX.*). Publishing does not\n"
    "wait for each acknowledgement: up to --window are in flight; the command ends once\n"
    "every one came back.\n\n"
    "Consecutive events of one partition travel together, up to --lines-per-message (and\n"
    "64 KiB) in one message, one line each: the stream's order is the files' order, and a\n"
    "message per event would make the bus, not kintsugi, the limit (docs/PERFORMANCE.md).\n"
    "Each message carries an id made of the file's name, its first and last line numbers and\n"
    "its text's hash: publishing the same file again within 10 minutes adds nothing.\n\n"
    "examples:\n"
    "  kintsugi publish --bus nats://127.0.0.1:4222 day.ndjson\n"
    "  kintsugi simulate --fault all | kintsugi publish --bus nats://bus:4222 --json -\n\n"
    "exit status: 0 every event published and acknowledged (even with rejected lines: see the\n"
    "summary), 1 a file could not be read or the bus failed or did not acknowledge every\n"
    "event (publish the same files again: what was stored is not stored twice), 2 usage.",
    opts, sizeof(opts) / sizeof(opts[0])};

static const char *opt(const char *name, const char *dflt)
{
    const char *v = ks_cli_opt(&spec, name)->value;
    return v ? v : dflt;
}

static int number(const char *name, long lo, long hi, long dflt, long *out)
{
    const char *v = ks_cli_opt(&spec, name)->value;
    *out = dflt;
    if (!v) {
        return 0;
    }
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!*v || *end || errno || n < lo || n > hi) {
        ks_cli_error("--%s '%s': expected a whole number from %ld to %ld", name, v, lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

struct counts {
    uint64_t lines, published, rejected, messages;
    uint64_t *by_part;
};

/* The message being filled: consecutive events of one partition. */
struct group {
    struct ks_buf text; /* lines joined by '\n' */
    uint32_t part;
    int64_t first, last; /* line numbers */
    uint64_t n;
};
#define KS_PUBLISH_MAX_BYTES (64 * 1024)

static ks_time last_drawn;
static void progress(struct ks_bus_pub *p, const struct counts *c, int final)
{
    ks_time now = ks_time_now();
    if (!final && now - last_drawn < 250) {
        return;
    }
    last_drawn = now;
    uint64_t acked, failed;
    ks_bus_pub_counts(p, &acked, &failed);
    char a[32], b[32];
    fprintf(stderr, "\r  publish: %s events sent, %s acknowledged, %llu rejected, %llu failed ",
            ks_fmt_count(c->published, a), ks_fmt_count(acked, b),
            (unsigned long long)c->rejected, (unsigned long long)failed);
    if (final) {
        fputc('\n', stderr);
    }
}

/* Publishes one input; 0, or -1 when the bus failed (said). */
/* Publishes the group as one message, if it holds anything. */
static int flush(struct group *g, const char *base, const char *subject, struct ks_bus_pub *p,
                 struct counts *c, struct ks_err *err)
{
    if (!g->n) {
        return 0;
    }
    char id[200];
    snprintf(id, sizeof(id), "%.120s:%lld-%lld:%016llx", base, (long long)g->first,
             (long long)g->last, (unsigned long long)ks_hash(g->text.p, g->text.len));
    if (ks_bus_pub_send(p, subject, g->text.p, g->text.len, id, err) != 0) {
        return -1;
    }
    c->published += g->n;
    c->messages++;
    if (g->part != UINT32_MAX) {
        c->by_part[g->part] += g->n;
    }
    g->n = 0;
    g->text.len = 0;
    return 0;
}

static int publish_file(FILE *f, const char *name, struct ks_decoder *d, struct ks_bus_pub *p,
                        const struct ks_bus_conf *conf, long per_msg, struct counts *c, int tty)
{
    const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int64_t lineno = 0;
    int rc = 0;
    struct group g = {0};
    char subject[128], gsubject[128] = "";
    struct ks_err err = {0};
    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t n = (size_t)got;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
            n--;
        }
        size_t sp = 0;
        while (sp < n && (line[sp] == ' ' || line[sp] == '\t')) {
            sp++;
        }
        if (sp == n) {
            continue; /* a blank line: nothing, as in ingest */
        }
        c->lines++;
        struct ks_event ev;
        char kb[256];
        uint32_t part = UINT32_MAX;
        if (ks_event_decode(d, line, n, &ev, &err) != KS_OK) {
            /* said here with its place, and published all the same (alone)
             * on PREFIX.rejected: the server dead-letters it with its raw
             * text and the feed-rejects detector counts it, as ingest does */
            c->rejected++;
            fprintf(stderr, "%s%s:%lld: %s\n", tty ? "\r" : "", name, (long long)lineno, err.msg);
            snprintf(subject, sizeof(subject), "%s.%s", conf->prefix, KS_BUS_REJECTED);
        } else {
            part = ks_bus_partition(ks_bus_key(&ev, kb, sizeof(kb)), conf->partitions);
            ks_bus_subject(conf->prefix, part, subject, sizeof(subject));
        }
        /* the group goes when the partition changes, when it is full, and
         * before a rejected line (which travels alone) */
        if (g.n && (part == UINT32_MAX || part != g.part || g.n >= (uint64_t)per_msg ||
                    g.text.len + 1 + n > KS_PUBLISH_MAX_BYTES)) {
            if ((rc = flush(&g, base, gsubject, p, c, &err)) != 0) {
                break;
            }
        }
        if (g.n) {
            ks_buf_putc(&g.text, '\n');
        } else {
            g.first = lineno;
            g.part = part;
            snprintf(gsubject, sizeof(gsubject), "%s", subject);
        }
        ks_buf_put(&g.text, line, n);
        g.last = lineno;
        g.n++;
        if (part == UINT32_MAX && (rc = flush(&g, base, gsubject, p, c, &err)) != 0) {
            break;
        }
        if (tty) {
            progress(p, c, 0);
        }
    }
    if (rc == 0) {
        rc = flush(&g, base, gsubject, p, c, &err);
    }
    if (rc != 0) {
        if (tty) {
            fputc('\n', stderr);
        }
        ks_cli_error("%s:%lld: %s", name, (long long)g.first, err.msg);
    }
    if (rc == 0 && ferror(f)) {
        ks_cli_error("%s: %s", name, strerror(errno));
        rc = -1;
    }
    ks_buf_fini(&g.text);
    free(line);
    return rc;
}

int ks_cmd_publish(int argc, char **argv)
{
    char **args = ks_malloc(((size_t)argc + 1) * sizeof(char *));
    int nargs, rc = ks_cli_parse(&spec, argc, argv, args, &nargs);
    if (rc != 0) {
        ks_free(args);
        return rc < 0 ? KS_EXIT_OK : rc;
    }
    struct ks_bus_conf conf = {0};
    conf.url = opt("bus", NULL);
    conf.stream = opt("stream", KS_BUS_STREAM);
    conf.prefix = opt("subject", KS_BUS_PREFIX);
    long parts, window;
    struct ks_err err = {0};
    if (nargs == 0 || !conf.url) {
        ks_cli_error("publish needs --bus nats://HOST:PORT and at least one FILE (or -); see "
                     "'kintsugi publish --help'");
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    if (ks_bus_url_check(conf.url, &err) != 0 ||
        ks_bus_name_check("--stream", conf.stream, 0, &err) != 0 ||
        ks_bus_name_check("--subject", conf.prefix, 1, &err) != 0) {
        ks_cli_error("%s", err.msg);
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    long per_msg;
    if (number("partitions", 1, KS_BUS_MAX_PARTITIONS, KS_BUS_PARTITIONS, &parts) != 0 ||
        number("window", 1, 1 << 20, 4096, &window) != 0 ||
        number("lines-per-message", 1, 10000, 100, &per_msg) != 0) {
        ks_free(args);
        return KS_EXIT_USAGE;
    }
    conf.partitions = (uint32_t)parts;
    conf.window = (int)window;
    int quiet = ks_cli_opt(&spec, "quiet")->set > 0, json = ks_cli_opt(&spec, "json")->set > 0;
    int tty = isatty(2) && !quiet;
    /* every file readable before anything is published */
    FILE **files = ks_calloc((size_t)nargs, sizeof(FILE *));
    for (int i = 0; i < nargs; i++) {
        files[i] = strcmp(args[i], "-") == 0 ? stdin : fopen(args[i], "r");
        if (!files[i]) {
            ks_cli_error("%s: %s", args[i], strerror(errno));
            rc = KS_EXIT_FAIL;
            break;
        }
    }
    struct ks_bus_pub *p = NULL;
    ks_time t0 = ks_time_now();
    if (rc == 0 && ks_bus_pub_open(&p, &conf, &err) != 0) {
        ks_cli_error("%s: %s", conf.url, err.msg);
        rc = KS_EXIT_FAIL;
    }
    struct counts c = {0};
    c.by_part = ks_calloc(conf.partitions, sizeof(uint64_t));
    struct ks_decoder *d = ks_decoder_new();
    for (int i = 0; i < nargs && rc == 0; i++) {
        if (publish_file(files[i], args[i], d, p, &conf, per_msg, &c, tty) != 0) {
            rc = KS_EXIT_FAIL;
        }
    }
    ks_decoder_free(d);
    if (rc == 0 && ks_bus_pub_finish(p, 60 * KS_SEC, &err) != 0) {
        ks_cli_error("%s", err.msg);
        rc = KS_EXIT_FAIL;
    }
    double secs = (double)(ks_time_now() - t0) / 1000.0;
    uint64_t acked = 0, failed = 0;
    if (p) {
        ks_bus_pub_counts(p, &acked, &failed);
        if (tty) {
            progress(p, &c, 1);
        }
    }
    if (p && json) {
        printf("{\"bus\":\"%s\",\"stream\":\"%s\",\"subject\":\"%s\",\"partitions\":%u,"
               "\"lines\":%llu,\"published\":%llu,\"messages\":%llu,\"acknowledged\":%llu,"
               "\"rejected\":%llu,\"not_acknowledged\":%llu,\"seconds\":%.3f,\"by_partition\":[",
               conf.url, conf.stream, conf.prefix, conf.partitions,
               (unsigned long long)c.lines, (unsigned long long)c.published,
               (unsigned long long)c.messages,
               (unsigned long long)acked, (unsigned long long)c.rejected,
               (unsigned long long)(c.published - acked), secs);
        for (uint32_t i = 0; i < conf.partitions; i++) {
            printf("%s%llu", i ? "," : "", (unsigned long long)c.by_part[i]);
        }
        printf("]}\n");
    } else if (p && !quiet) {
        char a[32];
        printf("published %s events to %s (stream %s, %u partitions of %s) in %.2f s (%.0f "
               "events/s): %llu acknowledged, %llu rejected lines\n",
               ks_fmt_count(c.published, a), conf.url, conf.stream, conf.partitions, conf.prefix,
               secs, secs > 0 ? (double)c.published / secs : 0.0, (unsigned long long)acked,
               (unsigned long long)c.rejected);
    }
    ks_bus_pub_close(p);
    for (int i = 0; i < nargs; i++) {
        if (files[i] && files[i] != stdin) {
            fclose(files[i]);
        }
    }
    ks_free(files);
    ks_free(c.by_part);
    ks_free(args);
    return rc;
}
