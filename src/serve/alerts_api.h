/* alerts_api.h - the alert routes of `kintsugi serve` (alerts_api.c):
 * POST /v2/enqueue (PagerDuty Events API v2) and POST /v1/alertmanager
 * (Alertmanager webhook, version 4). docs/API.md and docs/ALERTS.md. */
#ifndef KS_SERVE_ALERTS_API_H
#define KS_SERVE_ALERTS_API_H

#include "serve.h"

/* POST /v2/enqueue (ctx: the struct ks_api). */
void ks_alerts_post_enqueue(const struct ks_http_req *req, struct ks_http_resp *resp, void *ctx);
/* POST /v1/alertmanager (ctx: the struct ks_api). */
void ks_alerts_post_alertmanager(const struct ks_http_req *req, struct ks_http_resp *resp,
                                 void *ctx);
/* A request to a KS_HTTP_AUTH_BODY route sent without a bearer token: the
 * body's routing_key, verified as a token of the store s. */
enum ks_rc ks_alerts_auth_body(struct ks_store *s, const struct ks_http_req *req,
                               struct ks_auth_who *who, struct ks_err *err);

#endif
