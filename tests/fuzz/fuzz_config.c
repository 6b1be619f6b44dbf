/*
 * fuzz_config.c - libFuzzer target for the kintsugi.yaml loader
 * (src/config/config.c and every module's key table).
 *
 * Each input is one configuration file, written to a file of its own (the
 * loader reads a path, as `kintsugi check-config` and every command do) and
 * loaded. What holds for every input: the verdict is KS_OK or KS_EUSAGE; a
 * rejection is one line that starts with the file's path and is exactly
 * the first line `check-config` writes, and leaves the defaults; an
 * acceptance has no check-config problem and keeps the path; loading again
 * gives the same verdict and message. An accepted file keeps its text, which
 * loads again from memory (ks_config_load_text); its text without secrets
 * (ks_config_redacted, what the server records for its journal) loads too.
 * Every allocation
 * is released per input, so LeakSanitizer sees it.
 *
 *   make build/fuzz/fuzz_config
 *   make fuzz FUZZ=config
 */
#include "../../src/config/config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];
static char dir[64];

static void die(const char *what)
{
    fprintf(stderr, "fuzz_config: %s\n", what);
    abort();
}

static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

static void write_input(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        snprintf(dir, sizeof(dir), "/tmp/fuzz_config.XXXXXX");
        if (!mkdtemp(dir)) {
            die("cannot make a temporary directory");
        }
        snprintf(path, sizeof(path), "%s/kintsugi.yaml", dir);
        atexit(cleanup);
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        die("cannot write the input");
    }
}

/* The accepted configuration's text, from memory and without its secrets. */
static void redacted(const struct ks_config *cfg)
{
    struct ks_config t;
    struct ks_err err = {0};
    struct ks_buf r = {0};
    if (!cfg->source || ks_config_load_text(&t, path, cfg->source, cfg->source_len, &err) != KS_OK) {
        die("the accepted text does not load from memory");
    }
    ks_config_fini(&t);
    if (ks_config_redacted(cfg->source, cfg->source_len, &r) != 0) {
        die("the accepted text cannot be redacted");
    }
    if (ks_config_load_text(&t, path, r.p ? r.p : "", r.len, &err) != KS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        die("the redacted text does not load");
    }
    ks_config_fini(&t);
    ks_buf_fini(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_input(data, size);
    struct ks_config cfg, again;
    struct ks_err err = {0}, err2 = {0};
    enum ks_rc rc = ks_config_load(&cfg, path, &err);

    char first[sizeof(err.msg) + 2] = "";
    FILE *out = tmpfile();
    if (!out) {
        die("cannot make a temporary file");
    }
    int problems = ks_config_check(path, out);
    rewind(out);
    if (!fgets(first, sizeof(first), out)) {
        first[0] = 0;
    }
    fclose(out);
    first[strcspn(first, "\n")] = 0;

    if (rc == KS_OK) {
        if (problems != 0 || !cfg.path || strcmp(cfg.path, path) != 0) {
            die("accepted with problems, or without its path");
        }
    } else if (rc == KS_EUSAGE) {
        size_t n = strlen(err.msg);
        if (problems < 1 || strncmp(err.msg, path, strlen(path)) != 0 || cfg.path) {
            die("rejection without problems, without the path, or not as defaults");
        }
        if (strchr(err.msg, '\n') || ks_utf8_invalid_at(err.msg, n) != (size_t)-1) {
            die("message of more than one line, or not UTF-8");
        }
        /* check-config's line is the whole message (the error may be cut at
         * its buffer's end) */
        if (strncmp(first, err.msg, n) != 0) {
            die("check-config's first problem is not the load's error");
        }
    } else {
        die("verdict is neither KS_OK nor KS_EUSAGE");
    }
    if (ks_config_load(&again, path, &err2) != rc || (rc != KS_OK && strcmp(err.msg, err2.msg))) {
        die("a second load differs");
    }
    if (rc == KS_OK) {
        redacted(&cfg);
    }
    ks_config_fini(&cfg);
    ks_config_fini(&again);
    if (ks_alloc_live() != 0) {
        die("allocations left after fini");
    }
    return 0;
}
