/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

typedef struct Manager Manager;
typedef struct Job Job;
typedef struct Device Device;
typedef struct DfuseProgress DfuseProgress;

/*
 * One thread per running job calls the engine (Manager.run_job). Progress lands in Job.shared under
 * Job.lock; the event loop picks it up on a 100 ms timer (so PropertiesChanged stays at most ~10/s per
 * job) or at once when the phase changes.
 */
int worker_start(Job *j, Device *d);
void worker_flush_all(Manager *m);

/* The default JobRunFn: the DfuSe engine on the job's board. */
int worker_run_engine(Job *j);
/* For a JobRunFn: reports engine progress into the job (from the worker thread). */
void worker_progress(const DfuseProgress *p, void *userdata);
