/* web.c - serving the dashboard's embedded files (web.h). */
#include "web.h"

#include <string.h>

/* Whether an If-None-Match header names etag ("*", or one of a list). */
static int etag_matches(const char *inm, const char *etag)
{
    if (!inm) {
        return 0;
    }
    if (strcmp(inm, "*") == 0) {
        return 1;
    }
    size_t n = strlen(etag);
    for (const char *p = strstr(inm, etag); p; p = strstr(p + 1, etag)) {
        char after = p[n];
        if (after == 0 || after == ',' || after == ' ') {
            return 1;
        }
    }
    return 0;
}

void ks_web_serve(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx)
{
    const struct ks_web_asset *a = ctx;
    ks_http_add_header(resp, "Cache-Control", "no-cache");
    ks_http_add_header(resp, "ETag", a->etag);
    ks_http_add_header(resp, "Content-Security-Policy", KS_WEB_CSP);
    ks_http_add_header(resp, "X-Content-Type-Options", "nosniff");
    ks_http_add_header(resp, "Referrer-Policy", "no-referrer");
    if (etag_matches(ks_http_header(req, "If-None-Match"), a->etag)) {
        resp->status = 304;
        return;
    }
    resp->content_type = a->type;
    ks_buf_put(&resp->body, a->data, a->len);
}

size_t ks_web_routes(struct ks_http_route *out, size_t n, size_t cap)
{
    for (size_t i = 0; i < ks_web_nassets && n < cap; i++) {
        out[n++] = (struct ks_http_route){"GET",        ks_web_assets[i].path,
                                          ks_web_serve, (void *)&ks_web_assets[i],
                                          KS_ROLE_NONE, 0,
                                          NULL,         KS_HTTP_ANY_QUERY,
                                          NULL};
    }
    return n;
}
