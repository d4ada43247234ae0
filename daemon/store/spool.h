/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

/*
 * The spool: STATE_DIR/spool/<sha256>, the bytes of every image a queued job or a rule still needs, so
 * that they survive a restart. Files are written whole and durably (temp file, fsync, rename, fsync of
 * the directory) and removed when nothing refers to them. Blocking: call from a thread.
 */

int spool_write(const char *state_dir, const char *hash, const uint8_t *buf, size_t size);
int spool_read(const char *state_dir, const char *hash, uint64_t cap, uint8_t **ret, size_t *ret_size,
               DfuError *error);

/* Removes the spooled files among hashes (all of them if hashes is NULL) that keep says are not needed;
 * keep is a NULL-terminated list of hashes still referred to. Leftover temp files go too. keep was
 * taken at requested (CLOCK_REALTIME): a file written or reused since may belong to a job or rule that
 * keep could not know of, and stays. */
void spool_collect(const char *state_dir, char *const *hashes, char *const *keep,
                   const struct timespec *requested);

/* Bytes in the spool now. */
uint64_t spool_usage(const char *state_dir);
