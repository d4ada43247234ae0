/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "dfuse.h"
#include "job-options.h"
#include "parts.h"
#include "plan.h"

typedef struct Job Job;
typedef struct Device Device;

/*
 * Read-out protection as an explicit job step. A read-protected board (known from the probe at attach,
 * or probed here when that said nothing) fails its job before anything is erased, with a message that
 * names the board and the option that would regress it. With the option "unprotect" the job sends the
 * read unprotect, which mass-erases the flash and resets the board; the job then waits for the board to
 * come back on the same port, checks that it is no longer protected, and runs its plan. Option bytes
 * named by the job change the same way before the plan (read, change the named fields, write, reset,
 * read back and compare); the lock is the last step, checked by the refused read after the reset.
 */

/* Returned by the steps as the job's result: the board resets on purpose (and the job goes on once it
 * is back), or the job is complete (the lock was checked after the board's return). */
#define PROTECT_BOARD_RETURNS 1
#define PROTECT_JOB_DONE      2

/* How long a board may take to come back after a read unprotect (F405: a mass erase of up to ~32 s). */
#define PROTECT_RETURN_TIMEOUT_USEC (120 * USEC_PER_SEC)

/* On the worker thread, before the plan: 0 to go on, PROTECT_BOARD_RETURNS, or a negative errno with
 * the job's worker_error set. */
int protect_before_plan(Job *j, DfuseDevice *dev);
/* On the worker thread, after the plan was written and verified: the lock (RDP level 1, or the level
 * the option bytes name), 0 when the job asks for none. */
int protect_after_plan(Job *j, DfuseDevice *dev);
/* Whether the options "lock", "option-bytes" and "allow-permanent-lock" fit the part (its option-byte
 * table, allowed values, RDP level 2 only when allowed); with a lock the plan does not leave. -EINVAL. */
int protect_check_options(const JobOptions *o, const PartInfo *part, Plan *plan, DfuError *error);

/* On the worker thread: the plan failed with r; a refusal for read-out protection names the way out. */
int protect_explain_failure(Job *j, int r);

/* On the event loop, from the worker's end: the job waits for its board on the same port. */
void protect_await_return(Job *j);
/* Whether board d may take job j: a job waiting for its board's return takes it only once it came back
 * (a newer udev add than the board it left). */
bool protect_device_fits(const Job *j, const Device *d);
