/*
 * keys.h - how a module declares its keys of kintsugi.yaml.
 *
 * Every key is declared once, in a table of struct ks_key (name, type, where
 * its value lives, default as text, help) kept beside the module that reads
 * it, like Fluent Bit's config maps: the engine's in src/engine/keys.c, the
 * hooks' in src/contain/hook_keys.c, the reviews' in src/review/keys.c. A
 * table is an array ended by an entry without a name; sections, named maps
 * (channels, systems, roles, people, hooks) and lists (metrics) point to the
 * table of what they contain. The program lists the top-level keys of every
 * module in the order they are applied (src/shell/keys.c, ks_config_root);
 * the loader, `check-config` and docs/CONFIG.md all come from the tables.
 *
 * A key's value lives at an offset in a struct: struct ks_config itself, or
 * a struct described by a struct ks_key_struct (the entries of a named map
 * or a list, whose defaults may live in struct ks_config). Checks that span
 * the keys of one entry (exactly one of two keys, a name defined elsewhere)
 * are the entry's `done` function, which reports through the
 * ks_key_check functions below.
 */
#ifndef KS_CONFIG_KEYS_H
#define KS_CONFIG_KEYS_H

#include "config.h"

#include <stddef.h>

enum ks_key_type {
    KS_KEY_DURATION, /* ks_time: "30s", "15m", "2h", "7d", bare seconds */
    KS_KEY_PERCENT,  /* double, 0..100, an optional trailing '%' */
    KS_KEY_INT,      /* int >= min (and <= max when max is not 0) */
    KS_KEY_NUMBER,   /* double >= min (or > min with KS_KEY_POSITIVE; any with KS_KEY_SIGNED) */
    KS_KEY_STRING,   /* char *, never empty */
    KS_KEY_SEVERITY, /* enum ks_severity from "P1".."P3" */
    KS_KEY_SECTION,  /* a mapping of the keys in sub */
    KS_KEY_MAP,      /* a mapping of names, each a mapping of the keys in sub */
    KS_KEY_LIST,     /* a sequence of mappings of the keys in sub */
    KS_KEY_STRLIST,  /* a sequence of strings: char ** at off, size_t count at off2 */
    KS_KEY_STRMAP,   /* a mapping of strings: struct ks_key_pair * at off, size_t count at off2 */
    KS_KEY_BOOL      /* int, 0 or 1, from true/false */
};

#define KS_KEY_REQUIRED 1u /* an entry without it is an error */
#define KS_KEY_POSITIVE 2u /* strictly greater than min */
#define KS_KEY_SIGNED 4u   /* KS_KEY_NUMBER: any finite number */
#define KS_KEY_CURRENCY 8u /* KS_KEY_STRING: three capital letters */
/* KS_KEY_STRING: a file or directory. A relative one is taken from the
 * directory of the configuration file, not the working directory: the value
 * kept (and checked) is that directory joined with it. */
#define KS_KEY_PATH 16u

/* "No such offset" in struct ks_key_struct. */
#define KS_KEY_NONE ((size_t)-1)

/* One pair of a KS_KEY_STRMAP value. The struct a module keeps its pairs in
 * must have this layout (two char *, name first): check it with a
 * _Static_assert beside the table. */
struct ks_key_pair {
    char *name, *value;
};

/* The state of the loader while it checks one entry (see `done`). */
struct ks_key_check;

/* A struct keys live in other than struct ks_config: the entries of a named
 * map or a list. Entries are an array in struct ks_config, grown as the file
 * names them. */
struct ks_key_struct {
    size_t size;         /* sizeof one entry */
    size_t array, count; /* offsets in struct ks_config of the entries (T *) and their number
                          * (size_t) */
    size_t name;         /* offset of the entry's char * name (named maps), or KS_KEY_NONE */
    /* Offset in struct ks_config of a struct of the same type that holds the
     * defaults: keys outside the entries (detectors: ...) set it, and an entry
     * starts as a copy of it (so it must own no memory). KS_KEY_NONE: an entry
     * starts zeroed, with the defaults of its table. */
    size_t defaults;
    /* Checks across the keys of one entry, after they are applied (may be
     * NULL); reports with ks_key_issue. */
    void (*done)(struct ks_key_check *chk, void *entry);
};

struct ks_key {
    const char *name;
    enum ks_key_type type;
    const struct ks_key_struct *base; /* the struct the offsets are in; NULL: struct ks_config */
    size_t off;                       /* offset of the value in the base struct */
    size_t off2;      /* KS_KEY_STRLIST, KS_KEY_STRMAP: offset of the size_t count */
    const char *def;  /* the default, as it would be written in the file */
    const char *from; /* under channels/systems: the key whose value is inherited */
    double min;       /* lowest value (durations in ms) */
    double max;       /* KS_KEY_INT: highest value; KS_KEY_DURATION: longest (ms, else
                       * 3650d); when not 0 */
    unsigned flags;
    int tag;                           /* for the entry's done check (metric rules: kind + 1) */
    const struct ks_key *sub;          /* KS_KEY_SECTION, KS_KEY_MAP, KS_KEY_LIST */
    const struct ks_key_struct *entry; /* KS_KEY_MAP, KS_KEY_LIST: what one entry is */
    const char *inherit; /* KS_KEY_MAP: where the unnamed keys of an entry inherit from */
    /* KS_KEY_STRING: a further check of a value (a KS_KEY_STRLIST: of each
     * item): NULL when it is good, else the whole message, which may be
     * written into buf. */
    const char *(*check)(const char *s, char *buf, size_t cap);
    /* KS_KEY_STRING, KS_KEY_STRLIST: the same, for a check that reads the
     * configuration applied so far (a name defined by an earlier section). */
    const char *(*check_cfg)(const struct ks_config *cfg, const char *s, char *buf, size_t cap);
    /* KS_KEY_STRING: a check that may find more than one problem (the files
     * of a directory), after check and check_cfg: reports each with
     * ks_key_issue(chk, line, NULL, ...), line being the value's. The value
     * is kept when it reports none. */
    void (*check_each)(struct ks_key_check *chk, int line, const char *s);
    /* KS_KEY_STRMAP: a check of each pair (the strings may hold NUL
     * characters: their lengths are given): NULL or the message. */
    const char *(*check_pair)(const char *name, size_t name_len, const char *value,
                              size_t value_len);
    const char *bad_value; /* KS_KEY_STRMAP: the message for a value that is not a string */
    const char *type_name; /* the reference's type, when not the type's own ("http(s) URL") */
    const char *help;
};

/* One top-level key of kintsugi.yaml: the row named `name` of a module's
 * table. */
struct ks_key_root {
    const struct ks_key *table;
    const char *name;
};
/* Every top-level key, in the order they are applied, listed in messages
 * and documented (src/shell/keys.c); ended by { NULL, NULL }. Every row of
 * every table listed must be listed exactly once. */
extern const struct ks_key_root ks_config_root[];
/* The configuration module's own keys (currency). */
extern const struct ks_key ks_config_keys[];

/* ---- for an entry's done function ---------------------------------------------- */

/* The configuration being loaded (what was applied so far: sections that
 * come earlier in ks_config_root are complete). */
const struct ks_config *ks_key_config(const struct ks_key_check *chk);
/* The line of the entry: of its name (named maps), else of its first key. */
int ks_key_entry_line(const struct ks_key_check *chk);
/* 1 when the entry's value is a mapping, 0 when empty, -1 for anything else
 * (already reported). */
int ks_key_entry_kind(const struct ks_key_check *chk);
/* The line of the key at path inside the entry ("url", "sync_freshness.interval"),
 * or of its value with of_value; 0 when the file does not set it. */
int ks_key_line(const struct ks_key_check *chk, const char *path, int of_value);
/* Calls fn with every key the entry sets, in file order: its row in the
 * entry's table (NULL for an unknown key, already reported) and its line. */
void ks_key_each_set(const struct ks_key_check *chk,
                     void (*fn)(struct ks_key_check *chk, void *arg, const struct ks_key *row,
                                int line),
                     void *arg);
/* Records a problem at line, for the entry's key path extended by key (NULL:
 * the entry itself). */
void ks_key_issue(struct ks_key_check *chk, int line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- for messages ------------------------------------------------------------------ */

/* The one of names closest to s[0, n), when close enough to be a likely typo;
 * else NULL. */
const char *ks_key_closest(const char *s, size_t n, const char *const *names, size_t count);
/* Writes s[0, n) quoted for a message, escaped, cut after 60 bytes (or when
 * out is nearly full) with "...". cap must be at least 16. */
void ks_key_quote(const char *s, size_t n, char *out, size_t cap);
/* "did you mean \"x\"?" for the action name closest to s[0, n), or the list
 * of every action. */
void ks_action_hint(const char *s, size_t n, char *out, size_t cap);

#endif
