/*
 * web.h - the dashboard's files (web/), compiled into the binary by the
 * Makefile (scripts/embed.c writes build/gen/web_assets.c) and served by
 * `kintsugi serve` without a token: the page holds no data, its calls to
 * /v1/ carry the token the person signs in with. docs/DASHBOARD.md.
 */
#ifndef KS_WEB_H
#define KS_WEB_H

#include "../http/http.h"

#include <stddef.h>

struct ks_web_asset {
    const char *path; /* "/" for index.html, else "/NAME" */
    const char *type; /* the Content-Type */
    const unsigned char *data;
    size_t len;
    const char *etag; /* a quoted hash of the bytes */
};

/* Generated: every file of web/. */
extern const struct ks_web_asset ks_web_assets[];
extern const size_t ks_web_nassets;

/* The Content-Security-Policy every asset is served with: scripts, styles
 * and connections to this origin only, no inline code, no frames. */
#define KS_WEB_CSP                                                                                 \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "                \
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* The handler of an asset's route (ctx: the struct ks_web_asset): the bytes
 * with their type, an ETag, Cache-Control no-cache (revalidated on every
 * load, 304 when If-None-Match names the ETag), the CSP and
 * X-Content-Type-Options. */
void ks_web_serve(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);

/* Appends a GET route per asset to out[0, cap) from index n; returns the new count. */
size_t ks_web_routes(struct ks_http_route *out, size_t n, size_t cap);

#endif
