/*
 * test_store_vfs.c - the SQLite store when the disk fails: a shim VFS over
 * the default one (registered as the default, so ks_store_open uses it
 * unchanged) fails the Nth write or sync from the moment it is armed, with
 * SQLITE_IOERR_WRITE, SQLITE_FULL or SQLITE_IOERR_FSYNC. For every N up to
 * past the last write of a transaction, the test drives store operations
 * (incidents, a large blob, a dead letter, the journal) and checks:
 *   - the failing operation returns KS_EIO with "store: WHAT: REASON" on
 *     one line, REASON SQLite's own ("disk I/O error", "database or disk is
 *     full");
 *   - nothing is half-applied: after the rollback every row of the
 *     transaction is there or none is;
 *   - once the fault clears the same store (no reopening) takes the same
 *     transaction again, and a fresh connection finds the database whole
 *     (PRAGMA integrity_check = ok) with what was committed.
 * Databases live in a fresh mkdtemp directory that is removed after.
 */
#include "../../src/store/store.h"
#include "t.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- the shim VFS ------------------------------------------------------------- */

enum fault_kind { FAULT_WRITE, FAULT_FULL, FAULT_SYNC };

static struct {
    sqlite3_vfs *real;
    int armed;          /* count calls and fail the nth */
    enum fault_kind kind;
    long nth, calls;    /* the call that fails (1-based), calls so far */
    long failed;        /* faults injected */
} shim;

struct shim_file {
    sqlite3_file base; /* our methods */
    sqlite3_file *real; /* the default VFS's file, right after this struct */
};

static int fault_now(enum fault_kind k)
{
    if (!shim.armed || (k == FAULT_SYNC) != (shim.kind == FAULT_SYNC)) {
        return 0;
    }
    if (++shim.calls == shim.nth) {
        shim.failed++;
        return 1;
    }
    return 0;
}

#define REAL(f) (((struct shim_file *)(f))->real)

static int x_close(sqlite3_file *f)
{
    int rc = REAL(f)->pMethods ? REAL(f)->pMethods->xClose(REAL(f)) : SQLITE_OK;
    return rc;
}
static int x_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}
static int x_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    if (fault_now(FAULT_WRITE)) {
        return shim.kind == FAULT_FULL ? SQLITE_FULL : SQLITE_IOERR_WRITE;
    }
    return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}
static int x_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int x_sync(sqlite3_file *f, int flags)
{
    if (fault_now(FAULT_SYNC)) {
        return SQLITE_IOERR_FSYNC;
    }
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int x_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int x_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int x_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int x_check(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int x_fcntl(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int x_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int x_devchar(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int x_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp);
}
static int x_shmlock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void x_shmbarrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int x_shmunmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int x_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}
static int x_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods shim_io = {
    3,         x_close,  x_read,   x_write,      x_truncate, x_sync,    x_size,
    x_lock,    x_unlock, x_check,  x_fcntl,      x_sector,   x_devchar, x_shmmap,
    x_shmlock, x_shmbarrier, x_shmunmap, x_fetch, x_unfetch,
};

static int x_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    (void)vfs;
    struct shim_file *sf = (struct shim_file *)f;
    sf->real = (sqlite3_file *)(sf + 1);
    memset(sf->real, 0, (size_t)shim.real->szOsFile);
    int rc = shim.real->xOpen(shim.real, name, sf->real, flags, out);
    /* SQLite calls xClose only when pMethods is set, even after a failed open */
    f->pMethods = sf->real->pMethods ? &shim_io : NULL;
    return rc;
}
static int x_delete(sqlite3_vfs *v, const char *name, int sync)
{
    (void)v;
    return shim.real->xDelete(shim.real, name, sync);
}
static int x_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return shim.real->xAccess(shim.real, name, flags, out);
}
static int x_fullpath(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return shim.real->xFullPathname(shim.real, name, n, out);
}
static void *x_dlopen(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return shim.real->xDlOpen(shim.real, name);
}
static void x_dlerror(sqlite3_vfs *v, int n, char *msg)
{
    (void)v;
    shim.real->xDlError(shim.real, n, msg);
}
static void (*x_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    (void)v;
    return shim.real->xDlSym(shim.real, h, sym);
}
static void x_dlclose(sqlite3_vfs *v, void *h)
{
    (void)v;
    shim.real->xDlClose(shim.real, h);
}
static int x_random(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return shim.real->xRandomness(shim.real, n, out);
}
static int x_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return shim.real->xSleep(shim.real, us);
}
static int x_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return shim.real->xCurrentTime(shim.real, out);
}
static int x_lasterr(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return shim.real->xGetLastError ? shim.real->xGetLastError(shim.real, n, out) : 0;
}
static int x_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    return shim.real->xCurrentTimeInt64(shim.real, out);
}

static sqlite3_vfs shim_vfs;

static void shim_register(void)
{
    shim.real = sqlite3_vfs_find(NULL);
    shim_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(struct shim_file) + shim.real->szOsFile,
        .mxPathname = shim.real->mxPathname,
        .zName = "faulty",
        .xOpen = x_open,
        .xDelete = x_delete,
        .xAccess = x_access,
        .xFullPathname = x_fullpath,
        .xDlOpen = x_dlopen,
        .xDlError = x_dlerror,
        .xDlSym = x_dlsym,
        .xDlClose = x_dlclose,
        .xRandomness = x_random,
        .xSleep = x_sleep,
        .xCurrentTime = x_time,
        .xGetLastError = x_lasterr,
        .xCurrentTimeInt64 = x_time64,
    };
    sqlite3_vfs_register(&shim_vfs, 1);
}

static void arm(enum fault_kind k, long nth)
{
    shim.kind = k;
    shim.nth = nth;
    shim.calls = 0;
    shim.failed = 0;
    shim.armed = 1;
}

static void disarm(void)
{
    shim.armed = 0;
}

/* ---- the store ------------------------------------------------------------------ */

static char dir[256], path[300];

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/ks-vfs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(path, sizeof(path), "%s/kintsugi.db", dir);
}

static void teardown(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            char p[600];
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
        }
    }
    if (d) {
        closedir(d);
    }
    rmdir(dir);
}

/* One number through a connection of its own (the real VFS, never armed). */
static long long raw_int(const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, "unix") == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static int integrity_ok(void)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int ok = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, "unix") == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *r = sqlite3_column_text(st, 0);
        ok = r && !strcmp((const char *)r, "ok");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok;
}

static char big[300 * 1024];

/* The transaction of round r: three incidents, a large blob, a dead letter and
 * a journal entry, committed. Returns the first failure (KS_OK: committed);
 * on failure it rolls back as every caller of the store does. */
static enum ks_rc round_tx(struct ks_store *s, int r, struct ks_err *err)
{
    const struct ks_store_ops *o = s->ops;
    enum ks_rc rc = o->begin(s, err);
    for (int i = 0; rc == KS_OK && i < 3; i++) {
        char summary[64];
        snprintf(summary, sizeof(summary), "{\"id\":%d}", r * 3 + i + 1);
        struct ks_incident_row row = {
            .id = r * 3 + i + 1,
            .type = "sync_failure",
            .severity = "P3",
            .status = "investigating",
            .fingerprint = "sync_failure:amazon",
            .detected_at = 1795338000000 + r,
            .summary_json = summary,
            .detail_json = summary,
        };
        rc = o->put_incident(s, &row, err);
    }
    if (rc == KS_OK) {
        char key[32];
        snprintf(key, sizeof(key), "big-%d", r);
        big[0] = (char)r;
        rc = o->put_blob(s, key, big, sizeof(big), err);
    }
    if (rc == KS_OK) {
        struct ks_deadletter dl = {.source = "vfs", .line = r, .reason = "event: bad", .raw = "x",
                                   .raw_len = 1, .status = "pending", .received_at = 1};
        rc = o->add_deadletter(s, &dl, err);
    }
    if (rc == KS_OK) {
        struct ks_journal_row j = {0, "events", 1, "vfs", "{}", 2};
        rc = o->add_journal(s, &j, err);
    }
    if (rc == KS_OK) {
        rc = o->commit(s, err);
    }
    if (rc != KS_OK) {
        struct ks_err e2 = {0};
        o->rollback(s, &e2);
    }
    return rc;
}

/* A failure message: "store: WHAT: REASON", one line, naming the fault. */
static int clear_message(const struct ks_err *err, enum fault_kind k)
{
    const char *want = k == FAULT_FULL ? "database or disk is full" : "disk I/O error";
    return err->rc == KS_EIO && !strncmp(err->msg, "store: ", 7) && strstr(err->msg, want) &&
           !strchr(err->msg, '\n');
}

/* Rows of round r present: 0 (none) .. 6 (all: 3 incidents, blob, dead
 * letter, journal entry), read through a connection of its own. */
static long long rows_of(int r)
{
    char sql[400];
    snprintf(sql, sizeof(sql),
             "SELECT (SELECT count(*) FROM incidents WHERE id BETWEEN %d AND %d) + "
             "(SELECT count(*) FROM blobs WHERE key = 'big-%d') + "
             "(SELECT count(*) FROM deadletters WHERE line = %d) + "
             "(SELECT count(*) FROM journal WHERE seq = %d)",
             r * 3 + 1, r * 3 + 3, r, r, r + 1);
    return raw_int(sql);
}

/*
 * For each fault kind, fail the 1st, 2nd, ... call from the start of a round's
 * transaction until a round commits untouched; each failing round leaves
 * nothing behind and the next attempt of the same round, fault cleared,
 * commits it whole.
 */
static void sweep(enum fault_kind k, int sync_after)
{
    setup();
    struct ks_store *s = NULL;
    struct ks_err err = {0};
    CHECK_INT(ks_store_open(&s, path, &err), KS_OK);
    if (!s) {
        teardown();
        return;
    }
    int r = 0, failures = 0, refused = 0;
    for (long nth = 1; nth < 200; nth++) {
        arm(k, nth);
        memset(&err, 0, sizeof(err));
        enum ks_rc rc = round_tx(s, r, &err);
        if (rc == KS_OK && sync_after) {
            /* a sync happens when the log is copied into the database */
            rc = s->ops->release(s, &err);
        }
        long injected = shim.failed;
        disarm();
        if (!injected) {
            CHECK_INT(rc, KS_OK);
            CHECK_INT(rows_of(r), 6);
            break;
        }
        failures++;
        if (rc == KS_OK) {
            /* a fault SQLite absorbed (a sync of the log copy it retries
             * later): the round is committed */
            CHECK_INT(rows_of(r), 6);
            r++;
            continue;
        }
        refused++;
        if (!clear_message(&err, k)) {
            fprintf(stderr, "FAIL %s: fault %ld: unclear message \"%s\"\n", t_current, nth, err.msg);
            t_failed_checks++;
        }
        long long seen = rows_of(r);
        if (sync_after && seen == 6) {
            r++; /* committed; the copy of the log failed after */
            continue;
        }
        if (seen != 0) {
            fprintf(stderr, "FAIL %s: fault %ld (%s) left %lld rows of 6\n", t_current, nth,
                    err.msg, seen);
            t_failed_checks++;
        }
        /* the fault cleared: the same store takes the same round */
        memset(&err, 0, sizeof(err));
        if (round_tx(s, r, &err) != KS_OK) {
            fprintf(stderr, "FAIL %s: after fault %ld: %s\n", t_current, nth, err.msg);
            t_failed_checks++;
            break;
        }
        CHECK_INT(rows_of(r), 6);
        r++;
    }
    CHECK(failures >= 2); /* the sweep did reach faults inside transactions */
    printf("%s: %d faults injected (%d refused with a clear error, nothing half-applied), "
           "%d rounds committed\n",
           t_current, failures, refused, r + 1);
    ks_store_close(s);
    CHECK(integrity_ok());
    /* every committed round, and nothing else */
    CHECK_INT(raw_int("SELECT count(*) FROM incidents"), (long long)(r + 1) * 3);
    teardown();
}

static void failed_write_rolls_back_and_store_recovers(void)
{
    sweep(FAULT_WRITE, 0);
}

static void disk_full_rolls_back_and_store_recovers(void)
{
    sweep(FAULT_FULL, 0);
}

static void failed_fsync_reported_and_store_recovers(void)
{
    sweep(FAULT_SYNC, 1);
}

/* A fault while opening (creating the schema) is an error naming the file;
 * opening again once it clears works. */
static void fault_at_open_names_the_file(void)
{
    setup();
    for (long nth = 1; nth < 50; nth++) {
        struct ks_store *s = NULL;
        struct ks_err err = {0};
        arm(FAULT_FULL, nth);
        enum ks_rc rc = ks_store_open(&s, path, &err);
        long injected = shim.failed;
        disarm();
        if (rc == KS_OK) {
            ks_store_close(s);
            if (!injected) {
                break;
            }
            continue;
        }
        if (rc != KS_EIO || !strstr(err.msg, "store: ") ||
            !strstr(err.msg, "database or disk is full")) {
            fprintf(stderr, "FAIL %s: fault %ld: \"%s\"\n", t_current, nth, err.msg);
            t_failed_checks++;
        }
        CHECK_INT(ks_store_open(&s, path, &err), KS_OK);
        ks_store_close(s);
    }
    CHECK(integrity_ok());
    teardown();
}

int main(void)
{
    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (char)(i * 2654435761u >> 13);
    }
    shim_register();
    RUN(failed_write_rolls_back_and_store_recovers);
    RUN(disk_full_rolls_back_and_store_recovers);
    RUN(failed_fsync_reported_and_store_recovers);
    RUN(fault_at_open_names_the_file);
    return t_done();
}
