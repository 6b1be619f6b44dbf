/* remedy_int.h - what the files of src/remedy/ share (private). */
#ifndef KS_REMEDY_INT_H
#define KS_REMEDY_INT_H

#include "remedy.h"

/* What role r may grant of remedy kind ("*" when the kind is not named). */
enum ks_remedy_right ks_remedy_role_right(const struct ks_role *r, const char *kind,
                                          double *limit);
/* Whether some role of the configuration may grant kind at all. */
int ks_remedy_offerable(const struct ks_config *cfg, const char *kind);
/* The i-th remedy (0..3) the policy offers for an incident type: the
 * customer's own choices (add 0), or what the shop may add (add 1); NULL
 * past the end. */
const char *ks_remedy_choices(const char *type, int add, size_t i);
/* The remedy in the customer's words ("cancel your order, with a full refund"). */
const char *ks_remedy_phrase(const char *kind);
/* "30.00 USD", or "the order's value" without an amount. */
void ks_remedy_money(struct ks_buf *b, int has_amount, double amount, const char *currency);
/* The value kintsugi knows of a remedy's order (ks_engine_order_value). */
struct ks_remedy_value {
    int known; /* 0: no event of the order gave a value */
    double value;
};
/* One remedy as JSON (remedy.h, ks_remedy_list_json); with v (the answer
 * of a grant or an approval), also "order_value": the value, or null when
 * it is not known. */
void ks_remedy_row_json(struct ks_json *j, const struct ks_remedy_row *r,
                        const struct ks_remedy_value *v);

#endif
