/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

typedef struct Manager Manager;
typedef struct Job Job;

/*
 * The scheduler: one running job per board, any number of boards at once up to MaxParallel. Jobs are
 * served in submission order; a job whose board is busy is "queued", one with no matching board
 * attached is "waiting" and starts when one arrives, if it said wait; otherwise it fails.
 */
void queue_dispatch(Manager *m);
/* An accepted job joins the queue and everyone hears of it. */
int queue_add(Manager *m, Job *j);
