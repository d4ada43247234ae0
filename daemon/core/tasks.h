/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

typedef struct Manager Manager;

/*
 * Blocking work (USB transfers, reading a caller's pipe, the store's queries) runs on a thread of its
 * own; its completion is handed back to the event loop through an eventfd, so that every object is
 * only ever touched by the loop thread.
 */
typedef void (*TaskRunFn)(void *userdata);
typedef void (*TaskDoneFn)(Manager *m, void *userdata);

int tasks_setup(Manager *m);
/* -EAGAIN when MAX_TASKS threads are running already. */
int tasks_start(Manager *m, TaskRunFn run, TaskDoneFn done, void *userdata);
/* From any thread: run the loop's completions soon. */
void tasks_wake(Manager *m);
/* At exit: waits for every thread (jobs were told to cancel) and runs their completions. */
void tasks_join_all(Manager *m);

/* Threads at most: every board busy plus the reads, history queries and probes in flight. */
#define TASKS_MAX 1280
