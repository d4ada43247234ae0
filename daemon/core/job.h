/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "dfuse.h"
#include "image/image.h"
#include "job-options.h"
#include "list.h"
#include "plan.h"
#include "sanitize.h"
#include "store.h"

typedef struct Manager Manager;
typedef struct Device Device;

typedef enum JobState {
        JOB_QUEUED,
        JOB_WAITING,
        JOB_ERASING,
        JOB_WRITING,
        JOB_VERIFYING,
        JOB_LEAVING,
        JOB_DONE,
        JOB_FAILED,
        JOB_CANCELLED,
        _JOB_STATE_MAX,
} JobState;

/* What the worker thread shares with the event loop, under Job.lock. */
typedef struct JobShared {
        DfusePhase phase;
        uint64_t phase_done, phase_total; /* bytes */
        unsigned sectors_done, sectors_total;
        uint64_t phase_start_usec;
        uint64_t bytes_written; /* of the image, whatever the phase */
        bool dirty;
        bool leave_requested;
} JobShared;

typedef struct Job Job;

struct Job {
        Manager *manager;
        uint32_t id;
        JobState state;
        JobOptions opts;
        uid_t owner;
        char *target;        /* as given ("port=1-1.3"), or the board chosen by default */
        Image *image;        /* merged, as loaded */
        char **image_hashes; /* spooled inputs, in order */
        bool images_held;    /* in the spool, until the job ends */
        char *image_sha256;
        char *trust;     /* what [Trust] accepted the images by; NULL with trust off */
        char *port_path; /* the board, once matched */
        char *serial;
        char *station;
        const PartInfo *part;
        SanitizeReport *report;
        Plan *plan;
        uint32_t rule_id;
        uint64_t prepared_generation; /* the Device.generation the plan was built for, 0: none */
        bool interrupted;             /* re-queued after the daemon stopped while it ran */
        bool allocating;              /* its start record and values are being written */
        char **values;                /* pairs: sequence, value: what it took for its board */
        bool accepted;                /* its submit record is on disk: the job exists for everyone */
        bool finishing;               /* its end record is being written */
        bool lingering;               /* ended, still shown until JobLinger passes */
        JobState final_state;
        uint64_t submit_usec, start_usec, end_usec, expected_end_usec;
        uint64_t bytes_done, bytes_total, rate;
        double progress;
        /* The engine's phase as last published; none until the job has run. Its units are sectors
         * while erasing, bytes otherwise. */
        bool has_phase;
        DfusePhase phase;
        uint64_t phase_done, phase_total;
        char *error;
        sd_event_source *timeout_source;
        sd_event_source *linger_source;

        /* protection steps (protect.c) */
        DfuseProtection board_protection; /* the board's when the job was given it */
        bool unprotect_sent;              /* the board was sent the read unprotect */
        bool unprotect_done;              /* ... and came back unprotected */
        bool option_bytes_sent;           /* the named option bytes were written */
        bool option_bytes_done;           /* ... and read back equal, or were already so */
        char *option_bytes_note;          /* "bor_lev 3 -> 1", for the record */
        bool lock_sent;                   /* RDP was set: the job ends once reads are refused */
        unsigned lock_level;
        bool board_reset;         /* it reset its board on purpose: the plan stays */
        bool returning;           /* waiting for the board to come back on the same port */
        uint64_t left_generation; /* Device.generation of the board it waits to come back */
        char *protection_done;    /* what the job changed, for the record; NULL: nothing */
        sd_event_source *return_source;

        /* worker */
        atomic_bool cancel;
        pthread_mutex_t lock;
        JobShared shared;
        bool running;
        int result;
        DfuError worker_error;
        DfuseStats stats;
        LIST_FIELDS(Job, jobs);
};

const char *job_state_to_string(JobState s);
bool job_state_is_final(JobState s);

/* A job not yet known to anyone: job_accept() or job_free(). */
int job_new(Manager *m, uint32_t id, Job **ret);
Job *job_free(Job *j);
DEFINE_TRIVIAL_CLEANUP_FUNC(Job *, job_free);
Job *job_find(Manager *m, uint32_t id);

/* Sanitizes and plans the job's image for board d, or, with d NULL, for the part the job names. A
 * rejected image is -EMEDIUMTYPE with the reason in error; the report stays on the job either way. */
int job_prepare(Job *j, const Device *d, DfuError *error);

/* Reads the job's images back from the spool on a thread (a rule's job, a resumed job): done runs on the
 * loop with the image set on the job, or with the error. Not at all when the daemon is exiting. */
typedef void (*JobLoadedFn)(Job *j, int result, const DfuError *error);
int job_load_images(Job *j, JobLoadedFn done);

/* Holds the job's spooled images until it ends (or is freed): a restart needs them. */
int job_hold_images(Job *j);

/* Records the job (done runs once that is durable, or failed), then it is accepted and queued. */
typedef void (*JobRecordedFn)(Job *j, int result, void *userdata);
int job_submit(Job *j, JobRecordedFn done, void *userdata);

void job_set_state(Job *j, JobState s);
/* Ends the job: records the outcome, then tells everyone. */
void job_finish(Job *j, JobState s, const char *error);
/* -EALREADY when it has ended already. */
int job_cancel(Job *j);
int job_arm_timeout(Job *j);
/* How the job's values end, from how far it got: used when done, returned when nothing was written. */
StoreValuesEnd job_values_end(const Job *j, JobState s);
/* How many of the image's bytes the job wrote, for the record. */
uint64_t job_dropped_segments(const Job *j);
