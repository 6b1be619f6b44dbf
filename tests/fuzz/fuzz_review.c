/*
 * fuzz_review.c - libFuzzer target for the review document parser
 * (src/review/parse.c): what `kintsugi review set` and
 * PUT /v1/incidents/{id}/review read from an edited review.
 *
 * Each input is one review (Markdown with a YAML front matter, or YAML).
 * What holds for every input: the verdict is KS_OK or KS_EINPUT; a rejection
 * is one line of valid UTF-8 that starts "review.md:LINE: " with LINE not
 * past the input's last line, and leaves the document empty; an accepted
 * document holds only known categories, kinds and statuses, no action item
 * without text, known_risk -1, 0 or 1, and only texts that can be stored
 * whole: valid UTF-8, within the limits of review.h (entries of a list,
 * bytes of a text and of the notes); parsing again gives the same verdict,
 * message and document. Every allocation is released per input.
 *
 *   make build/fuzz/fuzz_review
 *   make fuzz FUZZ=review
 */
#include "../../src/review/review.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
    fprintf(stderr, "fuzz_review: %s\n", what);
    abort();
}

static int one_of(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++) {
        if (!strcmp(s, list[i])) {
            return 1;
        }
    }
    return 0;
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static int same_list(char **a, size_t na, char **b, size_t nb)
{
    if (na != nb) {
        return 0;
    }
    for (size_t i = 0; i < na; i++) {
        if (!same_str(a[i], b[i]) || !a[i]) {
            return 0;
        }
    }
    return 1;
}

static int same_doc(const struct ks_review_doc *a, const struct ks_review_doc *b)
{
    if (!same_str(a->category, b->category) || !same_str(a->cause, b->cause) ||
        a->known_risk != b->known_risk || !same_str(a->notes, b->notes) ||
        !same_list(a->whys, a->nwhys, b->whys, b->nwhys) ||
        !same_list(a->went_well, a->nwell, b->went_well, b->nwell) ||
        !same_list(a->improve, a->nimprove, b->improve, b->nimprove) || a->nitems != b->nitems) {
        return 0;
    }
    for (size_t i = 0; i < a->nitems; i++) {
        const struct ks_review_action *x = &a->items[i], *y = &b->items[i];
        if (!same_str(x->text, y->text) || !same_str(x->owner, y->owner) || x->due != y->due ||
            !same_str(x->kind, y->kind) || !same_str(x->status, y->status) || x->line != y->line) {
            return 0;
        }
    }
    return 1;
}

/* A text kept whole: valid UTF-8 (a NUL would have cut it: its length is
 * the one libyaml read, which the parser checked) of at most max bytes. */
static void check_text(const char *s, size_t max)
{
    if (s && (strlen(s) > max || ks_utf8_invalid_at(s, strlen(s)) != (size_t)-1)) {
        die("a text accepted that is over its limit or not UTF-8");
    }
}

static void check_list(char **v, size_t n)
{
    if (n > KS_REVIEW_MAX_LIST) {
        die("a list accepted with more entries than its limit");
    }
    for (size_t i = 0; i < n; i++) {
        check_text(v[i], KS_REVIEW_MAX_TEXT);
    }
}

static void check_accepted(const struct ks_review_doc *d, long lines)
{
    check_text(d->cause, KS_REVIEW_MAX_TEXT);
    check_text(d->notes, KS_REVIEW_MAX_NOTES);
    check_list(d->whys, d->nwhys);
    check_list(d->went_well, d->nwell);
    check_list(d->improve, d->nimprove);
    if (d->nitems > KS_REVIEW_MAX_LIST) {
        die("more action items accepted than the limit");
    }
    static const char *const categories[] = {"process", "system", "human", "environmental", NULL};
    static const char *const kinds[] = {"immediate", "systematic", "prevention", NULL};
    static const char *const statuses[] = {"open", "done", "dropped", NULL};
    if (d->category && !one_of(d->category, categories)) {
        die("unknown category accepted");
    }
    if (d->known_risk < -1 || d->known_risk > 1) {
        die("known_risk out of range");
    }
    for (size_t i = 0; i < d->nitems; i++) {
        const struct ks_review_action *a = &d->items[i];
        if (!a->text || !a->text[0]) {
            die("action item without text");
        }
        check_text(a->text, KS_REVIEW_MAX_TEXT);
        check_text(a->owner, KS_REVIEW_MAX_TEXT);
        if (!a->kind || !one_of(a->kind, kinds) || (a->status && !one_of(a->status, statuses))) {
            die("action item of unknown kind or status");
        }
        if (a->line < 1 || a->line > lines + 1) {
            die("action item line out of the input");
        }
    }
}

static void check_rejected(const struct ks_review_doc *d, const struct ks_err *err, long lines)
{
    size_t n = strlen(err->msg);
    char *end;
    if (strncmp(err->msg, "review.md:", 10) != 0) {
        die("rejection without the file's name");
    }
    long line = strtol(err->msg + 10, &end, 10);
    if (line < 1 || line > lines + 1 || strncmp(end, ": ", 2) != 0) {
        die("rejection without its line");
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)err->msg[i] < 0x20) {
            die("message holds a control character");
        }
    }
    if (ks_utf8_invalid_at(err->msg, n) != (size_t)-1) {
        die("message is not UTF-8");
    }
    if (d->category || d->cause || d->nwhys || d->nwell || d->nimprove || d->nitems || d->notes) {
        die("a rejected review left something in the document");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so ASan flags any read past the text. */
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    /* YAML breaks lines at \n, \r, and NEL, LS and PS (0x85, 0xE2 ...): at
     * most this many lines */
    long lines = 1;
    for (size_t i = 0; i < size; i++) {
        lines += data[i] == '\n' || data[i] == '\r' || data[i] == 0x85 || data[i] == 0xE2;
    }
    struct ks_review_doc d, again;
    memset(&d, 0, sizeof(d));
    memset(&again, 0, sizeof(again));
    struct ks_err err = {0}, err2 = {0};
    enum ks_rc rc = ks_review_parse("review.md", text, size, &d, &err);
    if (rc == KS_OK) {
        check_accepted(&d, lines);
    } else if (rc == KS_EINPUT) {
        check_rejected(&d, &err, lines);
    } else {
        die("verdict is neither KS_OK nor KS_EINPUT");
    }
    if (ks_review_parse("review.md", text, size, &again, &err2) != rc ||
        (rc != KS_OK && strcmp(err.msg, err2.msg) != 0) || (rc == KS_OK && !same_doc(&d, &again))) {
        die("a second parse differs");
    }
    ks_review_doc_fini(&d);
    ks_review_doc_fini(&again);
    free(text);
    if (ks_alloc_live() != 0) {
        die("allocations left after fini");
    }
    return 0;
}
