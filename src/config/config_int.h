/*
 * config_int.h - internals of the config module shared with its unit test.
 *
 * The tests use these to prove that examples/kintsugi.yaml sets every key the
 * tables declare, so the example cannot fall behind the tables.
 */
#ifndef KS_CONFIG_INT_H
#define KS_CONFIG_INT_H

#include "config.h"

/* Receives a key pattern: the dotted path of a leaf key with NAME for a
 * channel, system, role or person name and [] for a list element
 * ("channels.NAME.zero_spike.skus_pct", "metrics[].labels"). */
typedef void (*ks_config_key_fn)(void *ctx, const char *pattern);

/* Calls fn with the pattern of every leaf key the tables declare, in
 * reference order. */
void ks_config_each_key(ks_config_key_fn fn, void *ctx);

/* Checks path like ks_config_check (writing nothing) and calls fn with the
 * pattern of every leaf key the file sets, valid or not, in the order they
 * are applied. Returns the number of problems. */
int ks_config_each_set(const char *path, ks_config_key_fn fn, void *ctx);

#endif
