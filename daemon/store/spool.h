/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "macro.h"

/*
 * The spool: STATE_DIR/spool/<sha256>, the bytes of every image a queued job or a rule still needs, so
 * that they survive a restart. Files are written whole and durably (temp file, fsync, rename, fsync of
 * the directory) and removed when nothing refers to them.
 *
 * A write claims its file for the writer until spool_unclaim(): the collector never removes a claimed
 * file, so an image being handed in, and not yet referred to by the job or rule it is for, survives a
 * collection that runs meanwhile. The object is thread-safe; its file operations block: call them from
 * a thread.
 */

typedef struct Spool Spool;

int spool_new(const char *state_dir, Spool **ret);
Spool *spool_free(Spool *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Spool *, spool_free);

/* Stores the bytes under hash (unless they are there already) and claims them; 0 or a negative errno. */
int spool_write(Spool *s, const char *hash, const uint8_t *buf, size_t size);
void spool_unclaim(Spool *s, const char *hash);

int spool_read(Spool *s, const char *hash, uint64_t cap, uint8_t **ret, size_t *ret_size, DfuError *error);

/* Removes the spooled files among hashes (all of them if hashes is NULL) that are neither in keep (the
 * hashes still referred to) nor claimed. The full collection (hashes NULL) removes old temp files too. */
void spool_collect(Spool *s, char *const *hashes, char *const *keep);

/* Bytes in the spool now. */
uint64_t spool_usage(Spool *s);
