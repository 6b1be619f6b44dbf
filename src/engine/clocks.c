/* clocks.c - the response-SLA clocks of the incidents still open, as the
 * dashboard's "Now" page counts them down (GET /v1/sla). The deadlines live
 * in the engine only (its timers); the stored incident rows do not carry
 * them. */
#include "engine_int.h"

#include <string.h>

/* The instant of the SLA entry whose text starts with prefix (the deadline a
 * missed clock had), or KS_TIME_NONE. */
static ks_time missed_at(const struct ks_incident *inc, const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = inc->ntl; i-- > 0;) {
        const struct ks_tl *t = &inc->tl[i];
        if (t->kind == KS_TL_SLA && t->text && strncmp(t->text, prefix, n) == 0) {
            return t->at;
        }
    }
    return KS_TIME_NONE;
}

/* {"due": T, "missed": B}, or null when the clock does not run. */
static void clock_json(struct ks_json *j, ks_time due, int missed, ks_time was)
{
    if (!missed && due == KS_TIME_NONE) {
        ks_json_null(j);
        return;
    }
    ks_json_obj_begin(j);
    ks_json_key(j, "due");
    ks_json_time(j, missed ? was : due);
    ks_json_key(j, "missed");
    ks_json_bool(j, missed);
    ks_json_obj_end(j);
}

void ks_engine_sla_json(const struct ks_engine *e, struct ks_buf *out)
{
    struct ks_json j;
    ks_json_init(&j, out, 0);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "clock");
    ks_json_time(&j, ks_engine_clock(e));
    ks_json_key(&j, "incidents");
    ks_json_arr_begin(&j);
    for (size_t i = 0; i < e->ninc; i++) {
        const struct ks_incident *inc = e->inc[i];
        if (inc->status == KS_ST_RESOLVED) {
            continue;
        }
        int ack_open = inc->acknowledged_at == KS_TIME_NONE;
        ks_json_obj_begin(&j);
        ks_json_key(&j, "id");
        ks_json_int(&j, inc->id);
        ks_json_key(&j, "ack");
        clock_json(&j, ack_open ? inc->ack_due : KS_TIME_NONE, ack_open && inc->ack_missed,
                   ack_open && inc->ack_missed ? missed_at(inc, "Acknowledgement SLA missed")
                                               : KS_TIME_NONE);
        ks_json_key(&j, "resolve");
        clock_json(&j, inc->resolve_due, inc->resolve_missed,
                   inc->resolve_missed ? missed_at(inc, "Resolution SLA missed") : KS_TIME_NONE);
        ks_json_obj_end(&j);
    }
    ks_json_arr_end(&j);
    ks_json_obj_end(&j);
}
