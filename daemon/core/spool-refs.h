/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

typedef struct Manager Manager;

/*
 * The spool keeps the images that queued jobs and rules still need. When a job ends or a rule goes, the
 * files among hashes that nothing refers to any more are removed, on a thread (NULL: every file nothing
 * refers to, and leftover temp files).
 */
void spool_refs_release(Manager *m, char *const *hashes);
