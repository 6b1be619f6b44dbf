/*
 * fuzz_array.c - libFuzzer target for ks_event_array_lines (src/event/array.c),
 * the split of a JSON array body of POST /v1/events into lines, checked
 * against jansson: whenever jansson reads the input as an array (or an
 * object), the split must succeed with one line per element, and each line,
 * read by jansson alone, must equal its element. Whatever the input, every
 * line the split writes ends with its newline and holds no other one, and a
 * refusal says where ("body: ...").
 *
 *   make build/fuzz/fuzz_array
 *   make fuzz FUZZ=array
 */
#include "../../src/event/event.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
    fprintf(stderr, "fuzz_array: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    struct ks_buf out = {0};
    char why[300] = "";
    int rc = ks_event_array_lines(body, size, &out, why, sizeof(why));
    if (rc != 0 && strncmp(why, "body: ", 6) != 0) {
        die("a refusal that does not say where");
    }
    size_t nlines = 0;
    for (size_t i = 0; i < out.len; i++) {
        nlines += out.p[i] == '\n';
    }
    if (rc == 0 && out.len && out.p[out.len - 1] != '\n') {
        die("a line without its newline");
    }
    json_error_t je;
    json_t *whole = json_loadb(body, size, JSON_ALLOW_NUL, &je);
    if (whole && (json_is_array(whole) || json_is_object(whole))) {
        if (rc != 0) {
            die("refused what jansson reads as an array or an object");
        }
        size_t want = json_is_array(whole) ? json_array_size(whole) : 1;
        if (nlines != want) {
            die("not one line per element");
        }
        const char *p = out.p;
        for (size_t k = 0; k < want; k++) {
            const char *nl = memchr(p, '\n', (size_t)(out.p + out.len - p));
            json_t *one = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
            json_t *el = json_is_array(whole) ? json_array_get(whole, k) : whole;
            if (!one || !json_equal(one, el)) {
                die("a line that is not its element");
            }
            json_decref(one);
            p = nl + 1;
        }
    }
    json_decref(whole);
    ks_buf_fini(&out);
    return 0;
}
