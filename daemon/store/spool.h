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
 * Files are counted: a write holds its file for the writer, and every job or rule that needs one holds it
 * too (spool_ref); the collector removes only files that nobody holds, deciding at the moment it
 * unlinks, so an image being handed in or just taken over by a new job survives any collection that
 * runs meanwhile. The object is thread-safe; its file operations block: call them from a thread.
 */

typedef struct Spool Spool;

int spool_new(const char *state_dir, Spool **ret);
Spool *spool_free(Spool *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Spool *, spool_free);

/* Stores the bytes under hash (unless they are there already) and holds them; 0 or a negative errno. */
int spool_write(Spool *s, const char *hash, const uint8_t *buf, size_t size);
int spool_ref(Spool *s, const char *hash);
void spool_unref(Spool *s, const char *hash);

int spool_read(Spool *s, const char *hash, uint64_t cap, uint8_t **ret, size_t *ret_size, DfuError *error);

/* Removes the spooled files among hashes (all of them if hashes is NULL) that nobody holds. The full
 * collection (hashes NULL) removes old temp files too. */
void spool_collect(Spool *s, char *const *hashes);

/* Bytes in the spool now. */
uint64_t spool_usage(Spool *s);
