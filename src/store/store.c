/*
 * store.c - picks the storage backend from the URI and owns the struct
 * ks_store handle; everything else is the backend's (sqlite.c for now).
 */
#include "store.h"

#include <string.h>

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

enum ks_rc ks_store_open(struct ks_store **out, const char *uri, struct ks_err *err)
{
    *out = NULL;
    if (!uri || !*uri) {
        return ks_err_set(err, KS_EUSAGE, "store: no database given (a file path or postgres://)");
    }
    if (has_prefix(uri, "postgres://") || has_prefix(uri, "postgresql://")) {
        return ks_err_set(err, KS_EUSAGE, "PostgreSQL storage is not built into this binary yet");
    }
    struct ks_store *s = ks_calloc(1, sizeof(*s));
    s->ops = &ks_store_sqlite_ops;
    s->uri = ks_strdup(uri);
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
