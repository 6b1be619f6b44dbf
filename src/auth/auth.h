/*
 * auth.h - API tokens: who may call kintsugi's HTTP API, and with which role.
 *
 * A token is "ks_" followed by 32 random bytes (getrandom) in base64url
 * without padding: 46 characters, shown once when it is created and never
 * stored. The store keeps the token's name, role and the SHA-256 of the
 * token text (OpenSSL's libcrypto), so a copy of the database gives no
 * usable token. Verifying a bearer looks its hash up and compares the
 * stored hash in constant time.
 *
 * Names are unique for ever, revoked tokens included: the name becomes the
 * actor of what the token does (timeline entries), and one name always means
 * one token. Rotating a token is "create ci-2, switch, revoke ci".
 *
 * Roles are ordered: viewer < responder < admin. A route asks for a minimum.
 */
#ifndef KS_AUTH_H
#define KS_AUTH_H

#include "../core/core.h"

struct ks_store;

/* Ordered: a role allows everything a lower one does. */
enum ks_auth_role {
    KS_ROLE_NONE = 0, /* no token needed (a route's minimum only) */
    KS_ROLE_VIEWER = 1,
    KS_ROLE_RESPONDER = 2,
    KS_ROLE_ADMIN = 3
};

/* "none", "viewer", "responder", "admin". */
const char *ks_role_name(enum ks_auth_role r);
/* Parses viewer|responder|admin (not none). Returns 0, or -1 for anything else. */
int ks_role_parse(const char *s, enum ks_auth_role *out);

#define KS_TOKEN_NAME_MAX 64
/* "ks_" + 43 base64url characters, and a NUL. */
#define KS_TOKEN_LEN 46
#define KS_TOKEN_BUF (KS_TOKEN_LEN + 1)

/* Whether name may name a token: 1 to 64 of A-Z a-z 0-9 . _ - @. */
int ks_auth_name_ok(const char *name);

/* SHA-256 of n bytes into out[32]. */
void ks_sha256(const void *p, size_t n, unsigned char out[32]);

/*
 * Creates a token for name with role (viewer..admin) at `now` and writes its
 * text into token (the only time it exists outside the caller's hands).
 * Errors: KS_EUSAGE for a bad name or role, KS_ESTATE when the name is taken
 * (also by a revoked token), KS_EIO for the store or the random source.
 */
enum ks_rc ks_auth_create(struct ks_store *s, const char *name, enum ks_auth_role role, ks_time now,
                          char token[KS_TOKEN_BUF], struct ks_err *err);

/* Who a verified token is. */
struct ks_auth_who {
    char name[KS_TOKEN_NAME_MAX + 1];
    enum ks_auth_role role;
};

/*
 * Verifies a bearer token (the text after "Bearer "): fills who and returns
 * KS_OK for a known, unrevoked token. KS_EINPUT when it is not a kintsugi
 * token at all, KS_ENOTFOUND when no token has that hash, KS_ESTATE when
 * the token was revoked (each with a message fit for a 401 answer), KS_EIO
 * when the store failed.
 */
enum ks_rc ks_auth_verify(struct ks_store *s, const char *bearer, struct ks_auth_who *who,
                          struct ks_err *err);

/* One token as listed: never its text, nor its hash. Strings are borrowed
 * for the call. */
struct ks_token_info {
    const char *name;
    enum ks_auth_role role;
    ks_time created_at;
    ks_time revoked_at; /* KS_TIME_NONE: in force */
};

/* Calls fn for every token in name order; fn returns non-zero to stop. */
enum ks_rc ks_auth_list(struct ks_store *s, int (*fn)(void *ctx, const struct ks_token_info *t),
                        void *ctx, struct ks_err *err);

/*
 * Revokes the token named name at `now`: it stops verifying at once.
 * KS_ENOTFOUND when there is no such token; a token already revoked stays as
 * it was and *was_revoked (which may be NULL) says so (its first revocation
 * time is kept).
 */
enum ks_rc ks_auth_revoke(struct ks_store *s, const char *name, ks_time now, int *was_revoked,
                          struct ks_err *err);

#endif
