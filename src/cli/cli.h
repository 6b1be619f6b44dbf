/*
 * cli.h - the command line: one file per command, a table in main.c, and a
 * small option parser that lets options stand before or after the arguments
 * (`kintsugi incident show 3 --db x.db --json`).
 *
 * Exit codes (SPEC section 8): 0 ok, 1 runtime failure, 2 usage or
 * configuration error.
 */
#ifndef KS_CLI_H
#define KS_CLI_H

#include "../core/core.h"

struct ks_engine;

#define KS_EXIT_OK 0
#define KS_EXIT_FAIL 1
#define KS_EXIT_USAGE 2

/* One option of a command. has_arg: 0 flag, 1 takes a value. After parsing,
 * `set` counts occurrences and `value` holds the last value given. */
struct ks_opt {
    const char *name; /* without the leading "--" */
    int has_arg;
    const char *help;
    int set;
    const char *value;
};

/* A command's description for parsing and --help. */
struct ks_cmd_spec {
    const char *usage;   /* "kintsugi ingest [--config F] [--db F] FILE...|-" */
    const char *summary; /* one line */
    const char *details; /* paragraphs that teach, with examples; may be NULL */
    struct ks_opt *opts;
    size_t nopts;
};

/*
 * Parses argv[0..argc) (the words after the command name). Options are
 * "--name value", "--name=value" or "--flag" anywhere; "--" ends options;
 * "-" alone is an argument. Positional words are collected into args (a
 * pointer array the caller provides with room for argc entries).
 * Returns KS_EXIT_OK, KS_EXIT_USAGE after printing a clear message, or -1
 * after printing help (the caller then exits 0). "--help"/"-h" print help.
 */
int ks_cli_parse(const struct ks_cmd_spec *spec, int argc, char **argv, char **args,
                 int *nargs);
/* Finds an option's state by name (asserts it exists). */
struct ks_opt *ks_cli_opt(const struct ks_cmd_spec *spec, const char *name);
void ks_cli_help(const struct ks_cmd_spec *spec, FILE *out);
/* Prints "kintsugi: " + message to stderr. */
void ks_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parses s as an id: decimal digits only, 1 to INT64_MAX. Returns 0 with *id
 * set, or -1 after printing "'S' is not WHAT (...)", WHAT being e.g. "an
 * incident id": a number too large for an id is refused, not clamped. */
int ks_cli_id(const char *s, const char *what, int64_t *id);
/* Parses the value of option --name, a whole number >= 0, into *out (left
 * as it is when opt is NULL). Returns 0, or -1 after printing what is wrong. */
int ks_cli_count(const char *opt, const char *name, int64_t *out);
/* Text from events or people made safe for a terminal, on one line: control
 * characters (an escape sequence, a newline inside a title; C1 controls
 * too) and bytes that are not valid UTF-8 become '?' (tab, CR and LF a
 * space). Returns one of a few rotating buffers: valid until the fourth
 * call after it; NULL stays NULL. */
const char *ks_cli_safe(const char *s);
/* The terminal filter of standard output, as a function: n bytes of in
 * into out (room for 2 * n + 4 bytes), returning how many. C0 controls but
 * newline and tab, DEL, C1 controls (U+0080-U+009F) and every byte that is
 * not part of valid UTF-8 become '?'; valid UTF-8 passes unchanged. A
 * sequence that in ends in the middle of waits in t (zeroed before the
 * first call) for the next call. */
struct ks_cli_term {
    unsigned char seq[4]; /* a UTF-8 sequence begun, not yet complete */
    unsigned len, need;   /* bytes in seq; bytes it takes */
};
size_t ks_cli_term_put(struct ks_cli_term *t, const char *in, size_t n, char *out);
/* Puts that filter on standard output for the rest of the process, so that
 * no text from an event or a person can drive the terminal it is read on. */
void ks_cli_guard_stdout(void);
/* Parses the time option --NAME (an RFC 3339 timestamp or integer epoch
 * milliseconds, as an event's ts) into *out, or KS_TIME_NONE when opt is
 * NULL. Returns 0, or -1 after printing what is wrong with it. */
int ks_cli_time(const char *name, const char *opt, ks_time *out);
/* ks_cli_time for --at. */
int ks_cli_at(const char *opt, ks_time *out);
/* Says on stderr that a person's --at before the engine clock is recorded
 * at the clock (the engine stamps it so); nothing when at is NONE or not
 * earlier. */
struct ks_engine;
void ks_cli_at_before_clock(const struct ks_engine *eng, ks_time at);
/* A person's command at a later --at moves the engine clock, and the timers
 * due meanwhile fire: ks_cli_clock_mark before the command, ks_cli_clock_moved
 * after it, which says on stderr how far the clock went and what fired
 * (incidents opened, escalations), so that nothing opens unannounced. */
struct ks_cli_clock {
    ks_time clock;
    int64_t incidents;
    uint64_t escalations;
};
void ks_cli_clock_mark(const struct ks_engine *eng, struct ks_cli_clock *m);
void ks_cli_clock_moved(const struct ks_engine *eng, const struct ks_cli_clock *m);
/* Parses a --wait option (how long a delivery waits for retries: a
 * duration) into *out, 30s when opt is NULL. Returns 0, or -1 after printing
 * what is wrong with it. */
int ks_cli_wait(const char *opt, ks_time *out);
/* A --listen address: HOST:PORT, [V6]:PORT or PORT (host 127.0.0.1 when
 * empty), into host (cap bytes) and port. -1 when malformed. */
int ks_cli_listen(const char *s, char *host, size_t cap, int *port);
/* The value of option --NAME that names a person (--by): NULL (not given)
 * or a person's name (ks_person_invalid: not blank, at most 200 bytes of
 * UTF-8, no control character). Returns 0, or -1 after printing "--by: a
 * person's name is blank" or the like. */
int ks_cli_person(const char *name, const char *value);
/* Who a note of the timeline names when --by is optional: opt, else $USER,
 * else "cli". */
const char *ks_cli_by(const char *opt);

/* One verb of a command that has verbs (`incident status ID STATUS`): its
 * name, the number of words that follow it, and those words for a message
 * ("ID STATUS"; NULL where the command does not say). */
struct ks_cli_verb {
    const char *name;
    int nargs;
    const char *takes;
};
/* The index in verbs[0, n) of the verb named word, or -1 when word is NULL
 * or names none. */
int ks_cli_verb(const struct ks_cli_verb *verbs, size_t n, const char *word);

struct ks_progress; /* src/shell/shell.h */
/* Sets up an ingest's progress for a terminal: with tty, a line on stderr
 * updated after every chunk, and each rejection printed on a line of its
 * own; without, rejections only. The final line is shown by
 * ks_cli_progress_end. Leaves the byte counts alone. */
void ks_cli_progress(struct ks_progress *pg, int tty);
void ks_cli_progress_end(struct ks_progress *pg, const struct ks_engine *e);
/* A delivery's progress on a terminal (tty): a line on stderr per outbox
 * ("messages: 1,200 delivered, 1 to retry, 0 failed"), redrawn as attempts
 * are recorded; ks_cli_delivery_end draws the last one and ends it. */
struct ks_shell; /* src/shell/shell.h */
void ks_cli_delivery_progress(struct ks_shell *a, int tty);
void ks_cli_delivery_end(void);

/* Commands: each returns an exit code. argv[0] is the first word after the
 * command's name. */
int ks_cmd_ingest(int argc, char **argv);
int ks_cmd_messages(int argc, char **argv);
int ks_cmd_serve(int argc, char **argv);
int ks_cmd_publish(int argc, char **argv);
int ks_cmd_incidents(int argc, char **argv);
int ks_cmd_incident(int argc, char **argv);
int ks_cmd_deadletters(int argc, char **argv);
int ks_cmd_check_config(int argc, char **argv);
int ks_cmd_simulate(int argc, char **argv);
int ks_cmd_demo(int argc, char **argv);
int ks_cmd_guard(int argc, char **argv);
int ks_cmd_feed(int argc, char **argv);
int ks_cmd_action(int argc, char **argv);
int ks_cmd_reconcile(int argc, char **argv);
int ks_cmd_hooks(int argc, char **argv);
int ks_cmd_review(int argc, char **argv);
int ks_cmd_report(int argc, char **argv);
int ks_cmd_cost(int argc, char **argv);
int ks_cmd_remedy(int argc, char **argv);
int ks_cmd_promise(int argc, char **argv);
int ks_cmd_token(int argc, char **argv);

#endif
