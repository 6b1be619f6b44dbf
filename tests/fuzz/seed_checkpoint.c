/*
 * seed_checkpoint.c - makes the seeds of fuzz_checkpoint: the engine state
 * saved after the events of each NDJSON file given, one file each, named
 * after the file's directory. With --left, every hook call is then reported
 * as not configured (as the shell does when kintsugi.yaml has no hook for
 * its action), so that the automated steps that asked for them are left to a
 * person, and the seed is named NAME-left.
 *
 *   cc -std=c11 -D_GNU_SOURCE -fsanitize=address,undefined -o build/seed_checkpoint \
 *      tests/fuzz/seed_checkpoint.c build/san/libkintsugi.a \
 *      $(pkg-config --libs sqlite3 yaml-0.1 jansson libcurl libcrypto libmicrohttpd) -lm -lpthread
 *   build/seed_checkpoint [--left] tests/fuzz/corpus-checkpoint \
 *      tests/scenarios/NAME/events.ndjson ...
 */
#include "../../src/engine/engine.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    int left = argc > 1 && strcmp(argv[1], "--left") == 0;
    argv += left;
    argc -= left;
    if (argc < 3) {
        fprintf(stderr, "usage: seed_checkpoint [--left] OUTDIR FILE.ndjson...\n");
        return 2;
    }
    struct ks_config cfg;
    ks_config_defaults(&cfg);
    for (int i = 2; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        struct ks_engine *e = ks_engine_new(&cfg);
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
        const struct ks_hook_effect *he = NULL;
        size_t nh = left ? ks_engine_hooks(e, &he) : 0;
        for (size_t k = 0; k < nh; k++) {
            ks_engine_hook_result(e, he[k].incident, he[k].action,
                                  ks_engine_hook_requested(he[k].body), 0, 0, 1,
                                  "no hook is configured");
        }
        struct ks_buf b = {0};
        ks_engine_save(e, &b);
        char path[4096], copy[4096];
        snprintf(copy, sizeof(copy), "%s", argv[i]);
        snprintf(path, sizeof(path), "%s/%s%s", argv[1], basename(dirname(copy)),
                 left ? "-left" : "");
        FILE *o = fopen(path, "wb");
        if (!o || fwrite(b.p, 1, b.len, o) != b.len || fclose(o) != 0) {
            perror(path);
            return 1;
        }
        printf("%s: %zu bytes\n", path, b.len);
        ks_buf_fini(&b);
        ks_engine_free(e);
    }
    return 0;
}
