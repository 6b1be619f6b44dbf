/* redact.c - a configuration's text without its secrets (ks_config_redacted):
 * what a store may keep of it. The YAML is loaded as a document, the values
 * that may hold a credential are replaced, and the document is written again.
 *
 *   receivers.NAME.password          "redacted"
 *   receivers.NAME.headers.H         "redacted"
 *   receivers.NAME.smtp / .webhook   scheme://host:port only (no user,
 *   hooks.ACTION.url                 password, path or query)
 *   hooks.ACTION.headers.H           "redacted"
 *   hooks.ACTION.command             "redacted"
 *
 * A replaced value is a new node: another key that refers to the same one
 * (a YAML alias) keeps what it had.
 */
#include "config.h"

#include <string.h>
#include <yaml.h>

/* Set when memory ran out: nothing is written then, rather than a secret. */
static __thread int out_of_memory;

/* The pairs of a mapping node (they stay in place while nodes are added;
 * the nodes themselves may move). */
static int pairs_of(yaml_document_t *d, int id, yaml_node_pair_t **start, yaml_node_pair_t **top)
{
    yaml_node_t *n = yaml_document_get_node(d, id);
    if (!n || n->type != YAML_MAPPING_NODE) {
        return 0;
    }
    *start = n->data.mapping.pairs.start;
    *top = n->data.mapping.pairs.top;
    return 1;
}

/* The pair of mapping id whose key is key; NULL if none. */
static yaml_node_pair_t *pair_of(yaml_document_t *d, int id, const char *key)
{
    yaml_node_pair_t *p, *top;
    if (!pairs_of(d, id, &p, &top)) {
        return NULL;
    }
    for (; p < top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(key) &&
            !memcmp(k->data.scalar.value, key, k->data.scalar.length)) {
            return p;
        }
    }
    return NULL;
}

/* The pair's value becomes a new scalar node holding text: another key that
 * refers to the old one (a YAML alias) keeps it. */
static void replace(yaml_document_t *d, yaml_node_pair_t *p, const char *text, size_t len)
{
    yaml_node_t *v = p ? yaml_document_get_node(d, p->value) : NULL;
    if (!v || v->type != YAML_SCALAR_NODE) {
        return;
    }
    int id = yaml_document_add_scalar(d, NULL, (const yaml_char_t *)text, (int)len,
                                      YAML_DOUBLE_QUOTED_SCALAR_STYLE);
    if (!id) {
        out_of_memory = 1;
        return;
    }
    p->value = id;
}

static void redact(yaml_document_t *d, yaml_node_pair_t *p)
{
    replace(d, p, "redacted", 8);
}

/* scheme://[user[:password]@]host[:port][/path][?query] -> scheme://host[:port]
 * ("redacted" for a host left empty, so that the URL is still one). */
static void redact_url(yaml_document_t *d, yaml_node_pair_t *p)
{
    yaml_node_t *v = p ? yaml_document_get_node(d, p->value) : NULL;
    if (!v || v->type != YAML_SCALAR_NODE) {
        return;
    }
    const char *u = (const char *)v->data.scalar.value;
    const char *sep = strstr(u, "://");
    if (!sep) {
        redact(d, p);
        return;
    }
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *host = auth;
    for (size_t i = 0; i < alen; i++) {
        if (auth[i] == '@') {
            host = auth + i + 1;
        }
    }
    size_t hlen = (size_t)(auth + alen - host), slen = (size_t)(auth - u);
    struct ks_buf t = {0};
    ks_buf_put(&t, u, slen);
    if (hlen) {
        ks_buf_put(&t, host, hlen);
    } else {
        ks_buf_puts(&t, "redacted");
    }
    replace(d, p, t.p, t.len);
    ks_buf_fini(&t);
}

/* Every value of a mapping (headers). */
static void redact_values(yaml_document_t *d, yaml_node_pair_t *of)
{
    yaml_node_pair_t *p, *top;
    if (of && pairs_of(d, of->value, &p, &top)) {
        for (; p < top; p++) {
            redact(d, p);
        }
    }
}

static void receiver(yaml_document_t *d, int r)
{
    redact(d, pair_of(d, r, "password"));
    redact_url(d, pair_of(d, r, "smtp"));
    redact_url(d, pair_of(d, r, "webhook"));
    redact_values(d, pair_of(d, r, "headers"));
}

static void hook(yaml_document_t *d, int h)
{
    redact_url(d, pair_of(d, h, "url"));
    redact(d, pair_of(d, h, "command"));
    redact_values(d, pair_of(d, h, "headers"));
}

/* Every entry of a mapping of named entries (receivers, hooks). */
static void each_entry(yaml_document_t *d, yaml_node_pair_t *of,
                       void (*fn)(yaml_document_t *d, int entry))
{
    yaml_node_pair_t *p, *top;
    if (of && pairs_of(d, of->value, &p, &top)) {
        for (; p < top; p++) {
            fn(d, p->value);
        }
    }
}

static int put(void *ctx, unsigned char *p, size_t n)
{
    ks_buf_put(ctx, p, n);
    return 1;
}

int ks_config_redacted(const char *text, size_t len, struct ks_buf *out)
{
    ks_buf_reset(out);
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_parser_delete(&parser);
        return -1;
    }
    yaml_parser_delete(&parser);
    if (!yaml_document_get_root_node(&doc)) {
        yaml_document_delete(&doc);
        return 0; /* no document: nothing to keep */
    }
    out_of_memory = 0;
    each_entry(&doc, pair_of(&doc, 1, "receivers"), receiver); /* the root is node 1 */
    each_entry(&doc, pair_of(&doc, 1, "hooks"), hook);
    yaml_emitter_t em;
    if (out_of_memory || !yaml_emitter_initialize(&em)) {
        yaml_document_delete(&doc);
        return -1;
    }
    yaml_emitter_set_output(&em, put, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    int ok = yaml_emitter_open(&em);
    if (ok) {
        ok = yaml_emitter_dump(&em, &doc); /* which deletes the document, done or not */
    } else {
        yaml_document_delete(&doc);
    }
    ok = ok && yaml_emitter_close(&em) && yaml_emitter_flush(&em);
    yaml_emitter_delete(&em);
    if (!ok) {
        ks_buf_reset(out);
        return -1;
    }
    return 0;
}
