/*
 * learn.h - what the learning commands (review, report, cost) share (private
 * to cli/): the store opened with every review loaded, judged at the engine
 * clock.
 */
#ifndef KS_CLI_LEARN_H
#define KS_CLI_LEARN_H

#include "../review/review.h"
#include "../shell/shell.h"
#include "cli.h"

/* The engine clock saved with the last checkpoint (KS_TIME_NONE: none),
 * read from the head of the saved state without restoring the engine. */
ks_time ks_learn_clock(struct ks_shell *a);
/* Opens the database read-only and loads every review; `now` is --now when
 * given, else the engine clock. Returns 0 or an exit code (printed). */
int ks_learn_open(struct ks_shell *a, const char *config, const char *db, const char *now_opt,
                  struct ks_review_set **set);
int ks_learn_parse_id(const char *s, int64_t *id);

#endif
