/*
 * review.h - post-incident reviews, recovery metrics and the cost of a
 * mistake (SPEC section 7, docs/REVIEWS.md).
 *
 * Everything here reads the store (incidents as the engine rendered them,
 * reviews and action items as people wrote them, costs people entered) and
 * returns JSON or Markdown documents, so that the CLI and a later HTTP server
 * serve the same documents. `now` is the engine clock (event time): what is
 * overdue, and whether a retention window has passed, is judged against it.
 *
 * Writing (a review, an item's closure, a cost part) changes the store only;
 * the caller hands the engine what it must know (ks_engine_review_sync) in the
 * same transaction.
 */
#ifndef KS_REVIEW_H
#define KS_REVIEW_H

#include "../config/config.h"
#include "../core/core.h"
#include "../engine/engine.h"
#include "../store/store.h"

/* The reviews' keys of kintsugi.yaml (keys.c): review, cost. */
extern const struct ks_key ks_review_keys[];

/* ---- a review as people write it ------------------------------------------- */

/* The limits of a review as people write it (docs/REVIEWS.md): the whole
 * document (the read-only keys of `review show --json` count too; the body
 * of POST /v1/reviews/{id} has the same limit), the entries of each list
 * (whys, went_well, improve, action_items), the bytes of each text, and of
 * the notes. */
#define KS_REVIEW_MAX_BYTES (1024 * 1024)
#define KS_REVIEW_MAX_LIST 100
#define KS_REVIEW_MAX_TEXT 8192
#define KS_REVIEW_MAX_NOTES 65536

struct ks_review_action {
    char *text, *owner; /* owner NULL: none */
    ks_time due;        /* KS_TIME_NONE: none */
    char *kind;         /* immediate | systematic | prevention */
    char *status;       /* open | done | dropped; NULL: keep the stored one (open when new) */
    int line;
};

struct ks_review_doc {
    char *category;  /* process | system | human | environmental, or NULL */
    char *cause;     /* the root cause, or NULL */
    int known_risk;  /* 1, 0, or -1 when not said */
    char **whys, **went_well, **improve;
    size_t nwhys, nwell, nimprove;
    struct ks_review_action *items;
    size_t nitems;
    char *notes; /* the Markdown body after the front matter, or NULL */
};

/*
 * Parses a review: Markdown with a YAML front matter (between two `---`
 * lines; the body is kept as notes) or plain YAML (JSON is YAML too). Keys:
 * root_cause {category, text, known_risk}, whys, went_well, improve,
 * action_items [{text, owner, due, kind, status}], notes; the read-only keys
 * of `review show --json` (at the top and in each action item) are ignored
 * so that its output can be edited and set again. A text is a string: null,
 * a boolean or a number written unquoted is refused, as is a NUL character,
 * invalid UTF-8 in the notes, and anything past the limits above. On bad
 * input returns KS_EINPUT with "NAME:LINE: reason" (a JSON document's
 * syntax error says "not valid JSON") and leaves doc empty.
 */
enum ks_rc ks_review_parse(const char *name, const char *text, size_t n,
                           struct ks_review_doc *doc, struct ks_err *err);
void ks_review_doc_fini(struct ks_review_doc *doc);
/* 1 when doc holds nothing: no root cause (category, text or known_risk),
 * no whys, went_well, improve or action items, no notes (blank texts count
 * as none). Saving it would empty the review. */
int ks_review_doc_empty(const struct ks_review_doc *doc);

/*
 * What saving a review emptied or deleted that held something before: a
 * review is set whole, so a key left out of the document is emptied as if
 * it were given empty. fields: "root_cause", "whys", "went_well",
 * "improve", "notes", "action_items" (every item gone), in that order;
 * items: the action items deleted (no longer in the document), closed: how
 * many of them were done or dropped. ks_review_cleared_fini frees items.
 */
struct ks_review_cleared {
    const char *fields[6];
    size_t nfields;
    int64_t *items;
    size_t nitems, closed;
};
void ks_review_cleared_fini(struct ks_review_cleared *c);
/* "cleared":[...],"deleted_items":[...] (the members, without braces). */
void ks_review_cleared_json(const struct ks_review_cleared *c, struct ks_buf *out);

/*
 * Saves a parsed review of incident id: the review row and its action items
 * (an item keeps its id and status when the new text names it again: same
 * text). *items (ks_free) gets what the engine must know. KS_ENOTFOUND for
 * an incident the store does not have.
 */
enum ks_rc ks_review_save(struct ks_store *s, int64_t id, const struct ks_review_doc *doc,
                          const char *by, ks_time at, struct ks_review_item **items, size_t *n,
                          struct ks_err *err);
/* Closes action item item_id: status "done" or "drop". *incident gets its
 * incident, *items the engine's view of that incident's items. KS_ESTATE when
 * it is closed already. */
enum ks_rc ks_review_item_close(struct ks_store *s, int64_t item_id, const char *verb,
                                const char *by, const char *note, ks_time at, int64_t *incident,
                                struct ks_review_item **items, size_t *n, struct ks_err *err);
/* The largest amount a cost part takes (docs/REVIEWS.md). */
#define KS_COST_MAX 1e15
/* Whether part is a cost part and amount one it takes (a finite number from
 * 0 to KS_COST_MAX): KS_EUSAGE saying which is wrong otherwise, "unknown
 * cost part '...'" or "an amount ...". */
enum ks_rc ks_review_cost_check(const char *part, double amount, struct ks_err *err);
/* Enters or overrides a part of an incident's cost: direct, response, churn,
 * repeats or brand. KS_EUSAGE for another part or an amount
 * ks_review_cost_check refuses. */
enum ks_rc ks_review_cost_set(struct ks_store *s, int64_t id, const char *part, double amount,
                              const char *by, ks_time at, struct ks_err *err);

/*
 * The same three writes with what the engine must know, as every door makes
 * them inside one transaction of the shell: the store's rows, the engine's
 * view of the review (ks_engine_review_sync) and a timeline note by the
 * person; cleared (may be NULL) gets what a review set emptied. at
 * KS_TIME_NONE: the engine clock. reapply: the server re-applying its
 * journal, whose rows may be written already - an item closed already the
 * same way by the same person is then closed again without error.
 */
enum ks_rc ks_review_apply_set(struct ks_store *s, struct ks_engine *e, int64_t id,
                               const struct ks_review_doc *doc, const char *by, ks_time at,
                               struct ks_review_cleared *cleared, struct ks_err *err);
enum ks_rc ks_review_apply_item(struct ks_store *s, struct ks_engine *e, int64_t item_id,
                                const char *verb, const char *by, const char *note, ks_time at,
                                int reapply, int64_t *incident, struct ks_err *err);
enum ks_rc ks_review_apply_cost(struct ks_store *s, struct ks_engine *e, const char *currency,
                                int64_t id, const char *part, double amount, const char *by,
                                ks_time at, struct ks_err *err);

/* ---- reading ---------------------------------------------------------------- */

/* Every incident, review, item and cost of a store, loaded once. */
struct ks_review_set;
enum ks_rc ks_review_load(struct ks_store *s, const struct ks_config *cfg, ks_time now,
                         struct ks_review_set **out, struct ks_err *err);
void ks_review_free(struct ks_review_set *l);

/* The review of one incident: the draft from the record, what people wrote,
 * the action items and the flags. KS_ENOTFOUND for an unknown incident. */
enum ks_rc ks_review_show_json(const struct ks_review_set *l, int64_t id, struct ks_buf *out,
                                struct ks_err *err);
enum ks_rc ks_review_show_markdown(const struct ks_review_set *l, int64_t id, struct ks_buf *out,
                                    struct ks_err *err);
/* The text `review edit` opens: Markdown with the editable keys as YAML
 * front matter and the draft as the body. */
enum ks_rc ks_review_template(const struct ks_review_set *l, int64_t id, struct ks_buf *out,
                                    struct ks_err *err);
/* [{"incident","title","flags":[{"flag","reason"}]}] of every review with a flag. */
void ks_review_flags_json(const struct ks_review_set *l, struct ks_buf *out);
/* Action items across reviews: only_open, owner (NULL: any), only_overdue. */
void ks_review_items_json(const struct ks_review_set *l, int only_open, const char *owner,
                         int only_overdue, struct ks_buf *out);

/* The cost of incident id: its parts, total and multiplier, each with how it
 * was reached. */
enum ks_rc ks_review_cost_json(const struct ks_review_set *l, int64_t id, struct ks_buf *out,
                              struct ks_err *err);

/* The recovery report over incidents detected in [since, until) (either may
 * be KS_TIME_NONE), grouped by "type", "severity", "channel", "week" or NULL. */
struct ks_report_opts {
    ks_time since, until;
    const char *by;
};
enum ks_rc ks_review_report_json(const struct ks_review_set *l, const struct ks_report_opts *o,
                                struct ks_buf *out, struct ks_err *err);
enum ks_rc ks_review_report_markdown(const struct ks_review_set *l, const struct ks_report_opts *o,
                                    struct ks_buf *out, struct ks_err *err);

#endif
