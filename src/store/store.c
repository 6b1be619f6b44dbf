/*
 * store.c - picks the storage backend from the URI and owns the struct
 * ks_store handle; everything else is the backend's (sqlops.c over the
 * SQLite or PostgreSQL driver).
 */
#include "store.h"

#include <string.h>

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The URI as messages show it: a password between "user:" and "@" is
 * replaced by "***". */
static char *redacted(const char *uri)
{
    const char *auth = strstr(uri, "://");
    char *out = ks_strdup(uri);
    if (!auth) {
        return out;
    }
    auth += 3;
    const char *at = strchr(auth, '@'), *slash = strchr(auth, '/');
    const char *colon = strchr(auth, ':');
    if (at && (!slash || at < slash) && colon && colon < at) {
        size_t head = (size_t)(colon + 1 - uri);
        ks_free(out);
        struct ks_buf b = {0};
        ks_buf_put(&b, uri, head);
        ks_buf_puts(&b, "***");
        ks_buf_puts(&b, at);
        out = ks_strdup(b.p);
        ks_buf_fini(&b);
    }
    return out;
}

int ks_store_is_shared(const char *uri)
{
    return uri && (has_prefix(uri, "postgres://") || has_prefix(uri, "postgresql://"));
}

enum ks_rc ks_store_open(struct ks_store **out, const char *uri, struct ks_err *err)
{
    *out = NULL;
    if (!uri || !*uri) {
        return ks_err_set(err, KS_EUSAGE,
                          "store: no database given (a file path or postgresql://...)");
    }
    struct ks_store *s = ks_calloc(1, sizeof(*s));
    if (ks_store_is_shared(uri)) {
        s->ops = &ks_store_pg_ops;
        s->uri = redacted(uri);
    } else {
        s->ops = &ks_store_sqlite_ops;
        s->uri = ks_strdup(uri);
    }
    enum ks_rc rc = s->ops->open(s, uri, err);
    if (rc != KS_OK) {
        ks_free(s->uri);
        ks_free(s);
        return rc;
    }
    *out = s;
    return KS_OK;
}

void ks_store_close(struct ks_store *s)
{
    if (!s) {
        return;
    }
    s->ops->close(s);
    ks_free(s->uri);
    ks_free(s);
}

void ks_store_hook_key(const struct ks_store *s, int64_t id, const char *key, struct ks_buf *out)
{
    if (id >= s->hook_keys_from) {
        ks_buf_printf(out, "%s-", s->db_id);
    }
    ks_buf_puts(out, key);
}
