/*
 * keys.c - kintsugi.yaml as the program reads it: the top-level keys of
 * every module (src/config/keys.h), in the order they are applied, listed in
 * messages ("expected one of: ...") and documented in docs/CONFIG.md.
 *
 * The order matters where one section reads another: the thresholds under
 * `detectors` and `contain` come before the `channels` and `systems` entries
 * that start as copies of them, and `roles` before the `people` who have
 * them. Each module keeps its keys in its own table; a new key of a module
 * goes into that table and, when it is a top-level key, into this list.
 */
#include "../comms/comms.h"
#include "../config/keys.h"
#include "../contain/hook.h"
#include "../engine/engine.h"
#include "../review/review.h"

/* One key a line. */
/* clang-format off */
const struct ks_key_root ks_config_root[] = {
    {ks_config_keys, "currency"},
    {ks_engine_keys, "detectors"},
    {ks_engine_keys, "contain"},
    {ks_hook_keys, "hooks"},
    {ks_engine_keys, "channels"},
    {ks_engine_keys, "systems"},
    {ks_engine_keys, "metrics"},
    {ks_engine_keys, "sla"},
    {ks_engine_keys, "assessment"},
    {ks_review_keys, "review"},
    {ks_review_keys, "cost"},
    {ks_engine_keys, "dedup_retention"},
    {ks_engine_keys, "ts_horizon"},
    {ks_engine_keys, "roles"},
    {ks_engine_keys, "people"},
    {ks_comms_keys, "receivers"},
    {ks_comms_keys, "notify"},
    {ks_comms_keys, "messages"},
    {NULL, NULL},
};
/* clang-format on */
