/*
 * auth.c - API tokens: created from getrandom(), stored as their SHA-256
 * (OpenSSL's libcrypto, which libcurl already pulls in), verified by hash
 * with a constant-time compare (see auth.h).
 */
#include "auth.h"

#include "../store/store.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <string.h>
#include <sys/random.h>

static const char *const role_names[] = {"none", "viewer", "responder", "admin"};

const char *ks_role_name(enum ks_auth_role r)
{
    return (unsigned)r < sizeof(role_names) / sizeof(role_names[0]) ? role_names[r] : "unknown";
}

int ks_role_parse(const char *s, enum ks_auth_role *out)
{
    for (int r = KS_ROLE_VIEWER; r <= KS_ROLE_ADMIN; r++) {
        if (s && strcmp(s, role_names[r]) == 0) {
            *out = (enum ks_auth_role)r;
            return 0;
        }
    }
    return -1;
}

int ks_auth_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > KS_TOKEN_NAME_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '@')) {
            return 0;
        }
    }
    return 1;
}

void ks_sha256(const void *p, size_t n, unsigned char out[32])
{
    SHA256(p, n, out);
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 32 bytes as 43 base64url characters (no padding) at out. */
static void encode32(const unsigned char in[32], char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= 32; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        out[o++] = b64url[v >> 6 & 63];
        out[o++] = b64url[v & 63];
    }
    /* the last two bytes: three characters */
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = b64url[v >> 18 & 63];
    out[o++] = b64url[v >> 12 & 63];
    out[o++] = b64url[v >> 6 & 63];
    KS_ASSERT(o == KS_TOKEN_LEN - 3);
}

/* Whether s looks like a token this module made: "ks_" and 43 base64url
 * characters. Checked before hashing so that garbage gets a clear answer. */
static int token_shape_ok(const char *s)
{
    if (strncmp(s, "ks_", 3) != 0 || strlen(s) != KS_TOKEN_LEN) {
        return 0;
    }
    for (const char *p = s + 3; *p; p++) {
        if (!strchr(b64url, *p)) {
            return 0;
        }
    }
    return 1;
}

static enum ks_rc random_bytes(unsigned char *p, size_t n, struct ks_err *err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return ks_err_set(err, KS_EIO, "token: random source: %s", strerror(errno));
        }
        got += (size_t)r;
    }
    return KS_OK;
}

enum ks_rc ks_auth_create(struct ks_store *s, const char *name, enum ks_auth_role role, ks_time now,
                          char token[KS_TOKEN_BUF], struct ks_err *err)
{
    token[0] = 0;
    if (!ks_auth_name_ok(name)) {
        return ks_err_set(err, KS_EUSAGE,
                          "token name '%s' is not valid: 1 to %d letters, digits, '.', '_', "
                          "'-' or '@'",
                          name ? name : "", KS_TOKEN_NAME_MAX);
    }
    if (role < KS_ROLE_VIEWER || role > KS_ROLE_ADMIN) {
        return ks_err_set(err, KS_EUSAGE, "a token's role is viewer, responder or admin");
    }
    unsigned char raw[32];
    enum ks_rc rc = random_bytes(raw, sizeof(raw), err);
    if (rc != KS_OK) {
        return rc;
    }
    char text[KS_TOKEN_BUF];
    memcpy(text, "ks_", 3);
    encode32(raw, text + 3);
    text[KS_TOKEN_LEN] = 0;
    OPENSSL_cleanse(raw, sizeof(raw));
    struct ks_token_row row = {name, ks_role_name(role), {0}, now, KS_TIME_NONE};
    ks_sha256(text, KS_TOKEN_LEN, row.hash);
    rc = s->ops->add_token(s, &row, err);
    if (rc == KS_OK) {
        memcpy(token, text, KS_TOKEN_BUF);
    }
    OPENSSL_cleanse(text, sizeof(text));
    return rc;
}

struct found {
    int n;
    int same;
    enum ks_rc rc;
    char name[KS_TOKEN_NAME_MAX + 1];
    enum ks_auth_role role;
    ks_time revoked_at;
    const unsigned char *want;
};

static int found_row(void *ctx, const struct ks_token_row *row)
{
    struct found *f = ctx;
    f->n++;
    /* The row was found by its hash; the compare is there so that the
     * decision never rests on a byte-by-byte early exit. */
    f->same = CRYPTO_memcmp(row->hash, f->want, sizeof(row->hash)) == 0;
    snprintf(f->name, sizeof(f->name), "%s", row->name);
    f->revoked_at = row->revoked_at;
    if (ks_role_parse(row->role, &f->role) != 0) {
        f->rc = KS_EIO;
    }
    return 1;
}

enum ks_rc ks_auth_verify(struct ks_store *s, const char *bearer, struct ks_auth_who *who,
                          struct ks_err *err)
{
    memset(who, 0, sizeof(*who));
    if (!bearer || !*bearer) {
        return ks_err_set(err, KS_EINPUT,
                          "no token: send Authorization: Bearer ks_... (kintsugi token create "
                          "makes one)");
    }
    if (!token_shape_ok(bearer)) {
        return ks_err_set(err, KS_EINPUT,
                          "not a kintsugi token (they look like ks_ and 43 characters)");
    }
    unsigned char hash[32];
    ks_sha256(bearer, strlen(bearer), hash);
    struct found f = {0, 0, KS_OK, "", KS_ROLE_NONE, KS_TIME_NONE, hash};
    enum ks_rc rc = s->ops->list_tokens(s, hash, found_row, &f, err);
    if (rc != KS_OK) {
        return rc;
    }
    if (f.rc != KS_OK) {
        return ks_err_set(err, KS_EIO, "store: token '%s' has an unknown role", f.name);
    }
    if (f.n == 0 || !f.same) {
        return ks_err_set(err, KS_ENOTFOUND, "unknown token");
    }
    if (f.revoked_at != KS_TIME_NONE) {
        return ks_err_set(err, KS_ESTATE, "token '%s' was revoked", f.name);
    }
    memcpy(who->name, f.name, sizeof(who->name));
    who->role = f.role;
    return KS_OK;
}

struct lister {
    int (*fn)(void *ctx, const struct ks_token_info *t);
    void *ctx;
};

static int list_row(void *ctx, const struct ks_token_row *row)
{
    struct lister *l = ctx;
    struct ks_token_info t = {row->name, KS_ROLE_NONE, row->created_at, row->revoked_at};
    ks_role_parse(row->role, &t.role); /* an unknown role lists as none */
    return l->fn(l->ctx, &t);
}

enum ks_rc ks_auth_list(struct ks_store *s, int (*fn)(void *ctx, const struct ks_token_info *t),
                        void *ctx, struct ks_err *err)
{
    struct lister l = {fn, ctx};
    return s->ops->list_tokens(s, NULL, list_row, &l, err);
}

enum ks_rc ks_auth_revoke(struct ks_store *s, const char *name, ks_time now, int *was_revoked,
                          struct ks_err *err)
{
    if (was_revoked) {
        *was_revoked = 0;
    }
    enum ks_rc rc = s->ops->revoke_token(s, name, now, err);
    if (rc == KS_ESTATE) {
        if (was_revoked) {
            *was_revoked = 1;
        }
        return KS_OK;
    }
    return rc;
}
