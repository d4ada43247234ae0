/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "dfuse.h"

typedef struct Job Job;
typedef struct Device Device;

/*
 * Read-out protection as an explicit job step. A read-protected board (known from the probe at attach,
 * or probed here when that said nothing) fails its job before anything is erased, with a message that
 * names the board and the option that would regress it. With the option "unprotect" the job sends the
 * read unprotect, which mass-erases the flash and resets the board; the job then waits for the board to
 * come back on the same port, checks that it is no longer protected, and runs its plan.
 */

/* Returned by protect_before_plan() as the job's result: the board resets on purpose. */
#define PROTECT_BOARD_RETURNS 1

/* How long a board may take to come back after a read unprotect (F405: a mass erase of up to ~32 s). */
#define PROTECT_RETURN_TIMEOUT_USEC (120 * USEC_PER_SEC)

/* On the worker thread, before the plan: 0 to go on, PROTECT_BOARD_RETURNS, or a negative errno with
 * the job's worker_error set. */
int protect_before_plan(Job *j, DfuseDevice *dev);
/* On the worker thread: the plan failed with r; a refusal for read-out protection names the way out. */
int protect_explain_failure(Job *j, int r);

/* On the event loop, from the worker's end: the job waits for its board on the same port. */
void protect_await_return(Job *j);
/* Whether board d may take job j: a job waiting for its board's return takes it only once it came back
 * (a newer udev add than the board it left). */
bool protect_device_fits(const Job *j, const Device *d);
