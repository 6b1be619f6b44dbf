/*
 * fuzz_command.c - libFuzzer target for the server's journaled commands
 * (src/serve/live_cmd.c): the JSON {"op": ..., ...} that people's actions,
 * the guard and the alert intakes become, parsed and applied to the engine
 * live and again when a restart re-applies the journal.
 *
 * Each input is one command, applied to an engine that holds the state
 * after tests/scenarios/wms_location_down and
 * contain_corruption_holds_and_zeroes (an outage and a paused channel, so
 * that incidents, steps and the guard are there to act on). What holds for
 * every input: the verdict is KS_OK, or a refusal (KS_EUSAGE, KS_EINPUT, KS_ENOTFOUND,
 * KS_ESTATE) with a message of one line; an accepted command answers a JSON
 * object; the engine, whatever the command did, saves a state that loads
 * back and saves to the same bytes. Engines are freed per input, so
 * LeakSanitizer sees every allocation. Run from the repository root.
 *
 *   make build/fuzz/fuzz_command
 *   make fuzz FUZZ=command
 */
#include "../../src/serve/serve_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
    fprintf(stderr, "fuzz_command: %s\n", what);
    abort();
}

static struct ks_config cfg;
static struct ks_buf base; /* the saved state every input starts from */

static void feed(struct ks_engine *e, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        die("cannot read a scenario (run from the repository root)");
    }
    uint32_t in = ks_engine_input(e, "seed");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int64_t no = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        struct ks_err err = {0};
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            len--;
        }
        ks_engine_event(e, in, ++no, line, len, &err);
    }
    free(line);
    fclose(f);
}

static void init(void)
{
    ks_config_defaults(&cfg);
    struct ks_engine *e = ks_engine_new(&cfg);
    feed(e, "tests/scenarios/contain_corruption_holds_and_zeroes/events.ndjson");
    feed(e, "tests/scenarios/wms_location_down/events.ndjson");
    ks_engine_save(e, &base);
    ks_engine_free(e);
}

static struct ks_engine *fresh(const void *p, size_t n)
{
    struct ks_engine *e = ks_engine_new(&cfg);
    struct ks_err err = {0};
    if (ks_engine_load(e, p, n, &err) != KS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        die("a saved state does not load");
    }
    return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base.len) {
        init();
    }
    long live = ks_alloc_live();
    /* A copy of exactly size bytes, so ASan flags any read past the command. */
    char *cmd = malloc(size ? size : 1);
    memcpy(cmd, data, size);
    struct ks_engine *e = fresh(base.p, base.len);
    struct ks_buf out = {0};
    struct ks_err err = {0};
    ks_time at = ks_engine_clock(e) + 60000;
    enum ks_rc rc = ks_live_cmd_apply(e, cmd, size, "fuzz", at, &out, &err);
    if (rc == KS_OK) {
        json_t *o = json_loadb(out.p, out.len, 0, NULL);
        if (!json_is_object(o)) {
            die("an accepted command without a JSON object for its answer");
        }
        json_decref(o);
    } else if (rc == KS_EUSAGE || rc == KS_EINPUT || rc == KS_ENOTFOUND || rc == KS_ESTATE) {
        if (!err.msg[0] || strchr(err.msg, '\n')) {
            die("a refusal without a message of one line");
        }
    } else {
        fprintf(stderr, "rc %d: %s\n", (int)rc, err.msg);
        die("a verdict that is neither KS_OK nor a refusal");
    }
    struct ks_buf one = {0}, two = {0};
    ks_engine_save(e, &one);
    struct ks_engine *e2 = fresh(one.p, one.len);
    ks_engine_save(e2, &two);
    if (one.len != two.len || memcmp(one.p, two.p, one.len) != 0) {
        die("the state after the command, saved and loaded, saves otherwise");
    }
    ks_engine_free(e2);
    ks_engine_free(e);
    ks_buf_fini(&one);
    ks_buf_fini(&two);
    ks_buf_fini(&out);
    free(cmd);
    if (ks_alloc_live() != live) {
        die("allocations left after freeing the engines");
    }
    return 0;
}
