/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "image-set.h"
#include "job-options.h"
#include "job.h"
#include "patch-place.h"
#include "rule.h"

typedef struct Manager Manager;
typedef struct Device Device;

/*
 * What Submit, Inspect and AddRule do once their caller is known and their options parsed. Failures are
 * a negative errno and a message in error; the errno says the kind: -ENODEV no such board, -EBUSY try
 * later, -EINVAL bad arguments, -EMEDIUMTYPE image rejected, other: failed.
 */

/* Image reads in flight at most, for all callers together. */
#define SUBMIT_READS_MAX 64

typedef void (*ImagesLoadedFn)(Manager *m, ImageSet *set, void *userdata);

/* Reads the images (fds are taken whatever happens) on a thread; done gets the set, which it frees, even
 * when the daemon is exiting (m->exiting).
 * With spool, a set that parsed is spooled. -EBUSY when SUBMIT_READS_MAX reads are in flight. */
/* sigs (may be NULL; taken) are the caller's detached signatures, checked as [Trust] says. */
int submit_load_images(Manager *m, int *fds, size_t n_fds, const JobOptions *o, ImageSignatures *sigs,
                       bool spool, ImagesLoadedFn done, void *userdata, DfuError *error);

/* Picks the board a new job is for now: the only one attached, or the one its options name; *ret is
 * NULL for a job that may wait. Fills in the port when the caller named no board. */
int submit_resolve(Manager *m, JobOptions *o, Device **ret, DfuError *error);

/* Creates a job from a loaded set (its image is taken) and options (taken), prepares it and records it;
 * done runs once it is durable, then the job is queued. A refused job leaves nothing in the spool. */
int submit_job(Manager *m, ImageSet *set, JobOptions *o, uid_t owner, JobRecordedFn done, void *userdata,
               DfuError *error);

/* Where a patch goes and what the next board would get there, allocating nothing. */
typedef struct InspectPatch {
        Patch patch;
        PatchPlace place;
        char *sample;       /* the value the next board would get */
        char *sample_bytes; /* as hex, or NULL */
        char *sample_error; /* why the sample does not fit, or NULL */
} InspectPatch;

typedef struct InspectResult {
        SanitizeReport *report;
        Plan *plan; /* NULL when rejected */
        const PartInfo *part;
        InspectPatch *patches;
        size_t n_patches;
} InspectResult;
void submit_inspect_result_done(InspectResult *r);

/* Judges a set against a board, a part or given layouts, touching nothing. A rejection is a result
 * (report->rejected), not an error. */
int submit_inspect(Manager *m, const ImageSet *set, const JobOptions *o, InspectResult *ret,
                   DfuError *error);

/* Fills in what the next board would get at each patch (sample, sample_bytes or sample_error), reading
 * the store on a thread; done runs on the loop (-ESHUTDOWN at exit). res stays the caller's and must
 * live until then. */
typedef void (*InspectSampledFn)(Manager *m, int result, void *userdata);
int submit_inspect_sample(Manager *m, InspectResult *res, InspectSampledFn done, void *userdata);

/* Creates and records a rule from a loaded set and options (taken). */
int submit_rule(Manager *m, ImageSet *set, JobOptions *o, uid_t owner, RuleRecordedFn done, void *userdata,
                DfuError *error);
