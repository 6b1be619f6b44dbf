/*
 * fuzz_template.c - libFuzzer target for the message template parser
 * (src/comms/template.c).
 *
 * Each input is one template file, parsed as every kind. What holds for
 * every input: the verdict is KS_OK or KS_EINPUT; a rejection has a message
 * that starts with a line number ("N: ") not past the input's last line; an
 * accepted template renders, with every placeholder's value "v", a subject
 * of one line and a body without "{{" or "}}" (no hole, no half
 * placeholder); parsing again gives the same verdict. Every allocation is
 * released per input, so LeakSanitizer sees it.
 *
 *   make build/fuzz/fuzz_template
 *   make fuzz FUZZ=template
 */
#include "../../src/comms/comms.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The one helper of the configuration module the parser uses (for "did you
 * mean" hints); the target links only core and the parser. */
const char *ks_key_closest(const char *s, size_t n, const char *const *names, size_t count)
{
    (void)s, (void)n, (void)names, (void)count;
    return NULL;
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz_template: %s\n", what);
    abort();
}

static const char *v(void *ctx, const char *name)
{
    (void)ctx, (void)name;
    return "v";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    long lines = 1;
    for (size_t i = 0; i < size; i++) {
        lines += data[i] == '\n';
    }
    for (int k = 0; k < KS_TPL__COUNT; k++) {
        struct ks_tpl *t = NULL;
        struct ks_err err = {0};
        enum ks_rc rc = ks_tpl_parse((enum ks_tpl_kind)k, text, size, &t, &err);
        if (rc != KS_OK && rc != KS_EINPUT) {
            die("verdict is neither KS_OK nor KS_EINPUT");
        }
        if (rc == KS_EINPUT) {
            char *end;
            long line = strtol(err.msg, &end, 10);
            if (t || line < 1 || line > lines + 1 || strncmp(end, ": ", 2) != 0) {
                die("a rejection without its line");
            }
            continue;
        }
        if (!t) {
            die("accepted without a template");
        }
        struct ks_buf s = {0}, b = {0};
        ks_tpl_render(t, v, NULL, &s, &b);
        if (!s.p || strchr(s.p, '\n') || strchr(s.p, '\r')) {
            die("a subject of more than one line");
        }
        if (!b.p || strstr(b.p, "{{") || strstr(b.p, "}}") || strstr(s.p, "{{") ||
            strstr(s.p, "}}")) {
            die("a rendered template with a placeholder left in it");
        }
        struct ks_tpl *t2 = NULL;
        if (ks_tpl_parse((enum ks_tpl_kind)k, text, size, &t2, &err) != KS_OK) {
            die("parsing again changed the verdict");
        }
        ks_tpl_free(t2);
        ks_tpl_free(t);
        ks_buf_fini(&s);
        ks_buf_fini(&b);
    }
    return 0;
}
