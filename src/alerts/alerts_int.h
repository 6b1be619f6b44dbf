/*
 * alerts_int.h - helpers shared by the files of src/alerts; private to it.
 */
#ifndef KS_ALERTS_INT_H
#define KS_ALERTS_INT_H

#include "alerts.h"

#include <jansson.h>
#include <string.h>

/* The flags both parsers load with. Duplicate keys are taken as the
 * senders' own languages take them (the last one wins) rather than refused:
 * these bodies come from machines we do not control, and refusing makes
 * them retry for ever. "\u0000" stays a JSON error, so every string is a C
 * string. */
#define KS_ALERTS_JSON_FLAGS (JSON_DECODE_ANY)

/* The member key of obj, or NULL when it is absent or JSON null. */
static inline json_t *ks_alerts_member(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

/* Adds s[0..n) to l unless an equal string is there already. */
void ks_alerts_strs_add(struct ks_alert_strs *l, const char *s, size_t n);
void ks_alerts_strs_fini(struct ks_alert_strs *l);

/* Compact JSON of v (any value), ks_malloc'd; object members in the order
 * jansson keeps them (the order sent). */
char *ks_alerts_dump(json_t *v);

/* Unicode code points in valid UTF-8 s[0..n). */
size_t ks_alerts_utf8_chars(const char *s, size_t n);

/* Whether type names one of kintsugi's incident types (SPEC section 3). */
int ks_alerts_known_type(const char *s, size_t n);

#endif
