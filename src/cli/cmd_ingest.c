/*
 * cmd_ingest.c - `kintsugi ingest`: replay NDJSON files (or stdin) in event
 * time into the store. Effects are written per chunk in one transaction; the
 * engine state with the position in every input every 30 s and at the end,
 * so the next ingest into the same database continues exactly where this one
 * stopped, and an interrupted one (signal, crash, full disk) resumes.
 */
#include "../shell/shell.h"
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <malloc.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static struct ks_opt opts[] = {
    {"config", 1, "configuration file (default: $KINTSUGI_CONFIG or ./kintsugi.yaml)", 0, NULL},
    {"db", 1, "SQLite file or postgresql:// URI (default: ./kintsugi.db)", 0, NULL},
    {"json", 0, "print the summary as JSON on stdout", 0, NULL},
    {"quiet", 0, "no progress line and no summary (rejections are still printed)", 0, NULL},
    {"no-deliver", 0, "leave hook calls and messages queued (for `kintsugi hooks deliver`, "
                      "`kintsugi messages deliver` or the server)",
     0, NULL},
    {"from-start", 0, "take every FILE from its first line, even one this database has taken", 0,
     NULL},
};

static const struct ks_cmd_spec spec = {
    "kintsugi ingest [--config F] [--db F] [--json] [--quiet] FILE...|-",
    "Replay NDJSON events into the database in event time: detectors run, incidents open,\n"
    "escalate and are stored. The clock is the largest event ts seen; a second ingest into\n"
    "the same database continues where the first stopped.",
    "Each rejected line is printed on stderr as FILE:LINE: TYPE: field \"x\" reason and kept\n"
    "as a dead letter (see 'kintsugi deadletters'); the rest of the input goes on. On a\n"
    "terminal the first 20 are printed and the others counted; redirected, every one.\n"
    "Duplicate ids are ignored and counted. The end of the input closes open updates but\n"
    "fires no timer: send a {\"type\":\"tick\",\"ts\":...} line to move the clock.\n\n"
    "The database remembers how far it took each file (by path and first bytes): running\n"
    "the same ingest again after an interruption (Ctrl-C, kill, crash, full disk) resumes\n"
    "after the last saved line, and a file that grew continues with its new lines.\n"
    "One writer at a time: a second ingest or a person's command waits for this one.\n\n"
    "examples:\n"
    "  kintsugi ingest events.ndjson\n"
    "  kintsugi simulate --fault zero-spike | kintsugi ingest --db shop.db -\n"
    "  kintsugi ingest --json day1.ndjson day2.ndjson\n\n"
    "exit status: 0 ingested (even with rejected lines: see the summary), 1 a file could not\n"
    "be read or the database failed (what was saved is said; run again to resume), 2 usage\n"
    "or configuration error, 130 / 143 stopped by SIGINT / SIGTERM after saving.",
    opts, sizeof(opts) / sizeof(opts[0])};

/* The allocator for a process that grows its tables for seconds and ends.
 * First touches of pages are most of what the system charges an ingest
 * (docs/PERFORMANCE.md: about 12 us each on a virtual machine), so:
 * memory freed along the way (a grown array's old copy, a checkpoint's
 * buffers) stays in the process for the next use instead of going back to
 * the system and coming back page by page; blocks of up to 32 MiB come from
 * the heap rather than from mappings of their own; and the heap is grown
 * once by HEAP_AHEAD and that part asked to be backed by 2 MiB pages where
 * the system does that on request (one fault for 512 pages). Hints only: no
 * result depends on them. */
#define HEAP_AHEAD ((size_t)192 << 20)
static void tune_allocator(void)
{
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_TOP_PAD, 64 << 20);
#if defined(MADV_HUGEPAGE) && !defined(__SANITIZE_ADDRESS__)
    /* Blocks under the mapping threshold, so that the heap itself grows;
     * with an allocator that does not grow it (the sanitizers'), nothing. */
    enum { NBLK = 8 };
    void *blk[NBLK] = {0};
    uintptr_t lo = (uintptr_t)sbrk(0), hi = lo;
    for (int i = 0; i < NBLK; i++) {
        blk[i] = malloc(HEAP_AHEAD / NBLK);
        hi = (uintptr_t)sbrk(0);
        if (hi == lo) {
            break;
        }
    }
    for (int i = NBLK - 1; i >= 0; i--) {
        free(blk[i]);
    }
    const uintptr_t huge = (uintptr_t)2 << 20;
    lo = (lo + huge - 1) & ~(huge - 1);
    hi &= ~(huge - 1);
    if (lo != (uintptr_t)-1 && hi > lo && hi - lo <= 2 * HEAP_AHEAD) {
        madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    }
#endif
}

int ks_cmd_ingest(int argc, char **argv)
{
    tune_allocator();
    char **args = ks_malloc(((size_t)argc + 1) * sizeof(char *));
    int nargs, rc = ks_cli_parse(&spec, argc, argv, args, &nargs);
    if (rc != 0 || nargs == 0) {
        if (rc == 0) {
            ks_cli_error("ingest needs at least one FILE (or - for standard input); see "
                         "'kintsugi ingest --help'");
            rc = KS_EXIT_USAGE;
        }
        ks_free(args);
        return rc < 0 ? KS_EXIT_OK : rc;
    }
    const char *db = ks_shell_db(ks_cli_opt(&spec, "db")->value);
    if ((rc = ks_shell_db_check(db)) != 0) {
        ks_free(args);
        return rc; /* a usage error before any file is looked at */
    }
    struct ks_progress pg = {0};
    ks_cli_progress(&pg, isatty(2) && !ks_cli_opt(&spec, "quiet")->set);
    for (int i = 0; i < nargs; i++) {
        struct stat sb;
        if (strcmp(args[i], "-") != 0) {
            if (stat(args[i], &sb) != 0) {
                ks_cli_error("%s: %s", args[i], strerror(errno));
                ks_free(args);
                return KS_EXIT_FAIL;
            }
            if (S_ISDIR(sb.st_mode)) {
                /* before the database is made: a wrong argument leaves nothing behind */
                ks_cli_error("%s: is a directory (ingest takes NDJSON files, or - for standard "
                             "input)",
                             args[i]);
                ks_free(args);
                return KS_EXIT_USAGE;
            }
            if (access(args[i], R_OK) != 0) {
                ks_cli_error("%s: %s", args[i], strerror(errno));
                ks_free(args);
                return KS_EXIT_FAIL;
            }
            pg.total_bytes += (uint64_t)sb.st_size;
        }
    }
    struct ks_shell a;
    rc = ks_shell_open(&a, ks_cli_opt(&spec, "config")->value, db, KS_SHELL_ENGINE | KS_SHELL_CREATE);
    if (rc != 0) {
        ks_free(args);
        return rc;
    }
    struct ks_engine_stats before, after;
    ks_engine_stats(a.eng, &before);
    ks_shell_stop_on_signals();
    struct ks_input *ins = ks_calloc((size_t)nargs, sizeof(*ins));
    int from_start = ks_cli_opt(&spec, "from-start")->set > 0;
    size_t nins = 0;
    int moved = 0;
    for (int i = 0; i < nargs && rc == 0; i++) {
        int stdin_input = strcmp(args[i], "-") == 0;
        int fd = stdin_input ? 0 : open(args[i], O_RDONLY);
        if (fd < 0) {
            ks_cli_error("%s: %s", args[i], strerror(errno));
            rc = KS_EXIT_FAIL;
            break;
        }
        struct ks_input *in = &ins[nins++];
        rc = ks_shell_input_open(&a, in, fd, args[i], from_start);
        int64_t offset = in->row.offset;
        if (rc == 0) {
            rc = ks_shell_ingest_fd(&a, fd, in, ins, nins, &pg);
        }
        /* An input known to this database, read to its end before, that has
         * not grown: nothing was taken from it, its position stands. */
        moved |= !in->path || !in->resumed || in->row.offset != offset;
        if (!stdin_input) {
            close(fd);
        }
    }
    if (rc == 0) {
        /* Nothing new in any input: the state loaded is the state saved, and
         * restart to ready does not write it again. */
        moved |= ks_engine_end_input(a.eng) > 0 || !ks_shell_unchanged(&a);
        rc = moved ? ks_shell_checkpoint(&a, ins, nins) : 0;
    }
    if (rc != 0 && nins) {
        /* Say what stands: the last saved line of each input. */
        ks_cli_progress_end(&pg, a.eng);
        for (size_t i = 0; i < nins; i++) {
            fprintf(stderr, "kintsugi: %s: %s\n", ins[i].name,
                    !ins[i].path ? "standard input cannot be resumed; what was saved stays"
                                 : "a later run resumes after its last saved line");
        }
        if (rc == KS_SHELL_STOPPED) {
            int sig = ks_shell_stop_signal;
            fprintf(stderr, "kintsugi: stopped by %s after saving; run the same command again to "
                            "resume\n",
                    sig == SIGINT ? "SIGINT" : "SIGTERM");
            rc = 128 + sig;
        }
    }
    for (size_t i = 0; i < nins; i++) {
        ks_shell_input_fini(&ins[i]);
    }
    ks_free(ins);
    struct ks_delivery dl = {0};
    /* Every call still pending in the outbox, this run's and those an
     * interrupted run queued. */
    int deliver = !ks_cli_opt(&spec, "no-deliver")->set;
    if (rc == 0 && deliver) {
        ks_cli_progress_end(&pg, a.eng); /* the ingest's line ends, the deliveries' follow */
        pg.show = NULL;
        ks_cli_delivery_progress(&a, isatty(2) && !ks_cli_opt(&spec, "quiet")->set);
        rc = ks_shell_deliver(&a, 10 * KS_SEC, &dl);
    }
    /* The messages the triggers queued (and any an interrupted run left). */
    struct ks_msg_delivery md = {0};
    if (rc == 0 && deliver) {
        rc = ks_shell_messages_deliver(&a, 10 * KS_SEC, &md);
    }
    ks_cli_delivery_end();
    ks_cli_progress_end(&pg, a.eng);
    ks_engine_stats(a.eng, &after);
    uint64_t events = after.events - before.events, rejected = after.rejected - before.rejected,
             dups = after.duplicates - before.duplicates,
             opened = after.incidents_opened - before.incidents_opened,
             escalated = after.escalations - before.escalations;
    if (rc == 0 && ks_cli_opt(&spec, "json")->set) {
        char clock[32];
        ks_time_fmt(ks_engine_clock(a.eng), clock);
        printf("{\"db\":\"%s\",\"events\":%llu,\"rejected\":%llu,\"duplicates\":%llu,"
               "\"incidents_opened\":%llu,\"escalations\":%llu,\"incidents_total\":%lld,"
               "\"clock\":\"%s\"}\n",
               db, (unsigned long long)events, (unsigned long long)rejected,
               (unsigned long long)dups, (unsigned long long)opened,
               (unsigned long long)escalated, (long long)after.incidents, clock);
    } else if (rc == 0 && !ks_cli_opt(&spec, "quiet")->set) {
        char a1[32], a2[32];
        printf("ingested %s events into %s: %llu rejected, %llu duplicates; incidents: %llu "
               "opened, %llu escalations (%s in total)\n",
               ks_fmt_count(events, a1), db, (unsigned long long)rejected,
               (unsigned long long)dups, (unsigned long long)opened,
               (unsigned long long)escalated, ks_fmt_count((uint64_t)after.incidents, a2));
        if (rejected) {
            printf("rejected lines are dead letters: kintsugi deadletters --db %s\n", db);
        }
        if (a.hooks_queued || dl.done || dl.failed || dl.unconfigured || dl.left) {
            printf("hooks: %u delivered, %u failed, %u not configured%s (kintsugi hooks --db %s)\n",
                   dl.done, dl.failed, dl.unconfigured, dl.left ? ", some wait for a retry" : "",
                   db);
        }
        if (a.messages_queued || md.sent || md.failed || md.left) {
            printf("messages: %llu queued, %u sent, %u failed%s (kintsugi messages --db %s)\n",
                   (unsigned long long)a.messages_queued, md.sent, md.failed,
                   md.left ? ", some wait for a retry" : "", db);
        }
        if (md.failed) {
            printf("failed messages: kintsugi messages receivers --db %s says which receiver; "
                   "once it is fixed, kintsugi messages retry-failed --db %s\n",
                   db, db);
        }
        if (md.left) {
            printf("messages still waiting: kintsugi messages receivers --db %s says why; "
                   "kintsugi messages deliver --db %s (or kintsugi serve) sends them when due\n",
                   db, db);
        }
        if (dl.failed) {
            printf("hook calls that gave up: kintsugi hooks --status failed --db %s; once the "
                   "other system is back, kintsugi hooks retry KEY --db %s\n",
                   db, db);
        }
        if (after.incidents) {
            printf("next: kintsugi incidents --db %s\n", db);
        }
    }
    ks_shell_close(&a);
    ks_free(args);
    return rc;
}
