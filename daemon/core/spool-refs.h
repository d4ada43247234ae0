/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

typedef struct Manager Manager;

/*
 * The spool keeps the images that queued jobs and rules still need: each job or rule holds its images
 * while it needs them, and when it lets go, the files that nobody else holds are removed, on a thread.
 */
int spool_refs_hold(Manager *m, char *const *hashes);
void spool_refs_release(Manager *m, char *const *hashes);
/* Removes the files among hashes (every one if NULL, and leftover temp files) that nobody holds. */
void spool_refs_collect(Manager *m, char *const *hashes);
