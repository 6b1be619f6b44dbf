/*
 * fuzz_checkpoint.c - libFuzzer target for the engine state's reader
 * (src/engine/checkpoint.c): what `kintsugi ingest` and `kintsugi serve`
 * load from the store at start.
 *
 * Each input is one saved state, loaded into a fresh engine with the
 * default configuration. What holds for every input: the verdict is KS_OK
 * or KS_EIO with a message that starts "checkpoint: "; a state that loads,
 * saved again, loads into another fresh engine and saves to the very same
 * bytes. Both engines are freed per input, so LeakSanitizer sees every
 * allocation. The seeds are states saved by the engine itself after the
 * events of tests/fuzz/seed_checkpoint.c (see there to make them again).
 *
 *   make build/fuzz/fuzz_checkpoint
 *   make fuzz FUZZ=checkpoint
 */
#include "../../src/engine/engine.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
    fprintf(stderr, "fuzz_checkpoint: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ks_config cfg;
    static int have_cfg;
    if (!have_cfg) {
        ks_config_defaults(&cfg);
        have_cfg = 1;
    }
    /* A copy of exactly size bytes, so ASan flags any read past the state. */
    unsigned char *p = malloc(size ? size : 1);
    memcpy(p, data, size);
    struct ks_engine *e = ks_engine_new(&cfg);
    struct ks_err err = {0};
    enum ks_rc rc = ks_engine_load(e, p, size, &err);
    if (rc == KS_OK) {
        struct ks_buf one = {0}, two = {0};
        ks_engine_save(e, &one);
        struct ks_engine *e2 = ks_engine_new(&cfg);
        struct ks_err err2 = {0};
        if (ks_engine_load(e2, one.p, one.len, &err2) != KS_OK) {
            fprintf(stderr, "%s\n", err2.msg);
            die("a state saved again does not load");
        }
        ks_engine_save(e2, &two);
        if (one.len != two.len || memcmp(one.p, two.p, one.len) != 0) {
            die("a state saved, loaded and saved again differs");
        }
        ks_engine_free(e2);
        ks_buf_fini(&one);
        ks_buf_fini(&two);
    } else if (rc != KS_EIO || strncmp(err.msg, "checkpoint: ", 12) != 0) {
        die("a rejection that is not KS_EIO \"checkpoint: ...\"");
    }
    ks_engine_free(e);
    free(p);
    if (ks_alloc_live() != 0) {
        die("allocations left after freeing the engines");
    }
    return 0;
}
