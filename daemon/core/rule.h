/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "job-options.h"
#include "list.h"

typedef struct Manager Manager;
typedef struct Device Device;
typedef struct Job Job;

/*
 * Auto-flash rules: every attaching board that matches gets a job. With "once" (the default) a board,
 * keyed by port path and serial, is flashed once per rule: it comes back in the bootloader after its
 * own leave only when someone wants it there. Rules live in the store, their images in the spool.
 */
typedef struct Rule Rule;

struct Rule {
        Manager *manager;
        uint32_t id;
        JobOptions opts; /* match-* and once included */
        uid_t owner;
        char **image_hashes;
        bool images_held; /* in the spool, while the rule exists */
        char *image_sha256;
        char *trust; /* what [Trust] accepted the images by when the rule was added; NULL: off or unknown */
        /* why the rule no longer flashes (its images are no longer trusted, or a sequence it draws from ran
         * out); NULL: active */
        char *stopped;
        char *stopped_sequence; /* set when it stopped because this sequence had nothing left */
        char **flashed;         /* "port serial" keys of boards flashed under this rule */
        LIST_FIELDS(Rule, rules);
};

/* Rules dfusd keeps at most: each is looked at for every board that attaches. */
#define RULES_MAX 256

int rule_new(Manager *m, uint32_t id, Rule **ret);
/* Holds the rule's spooled images for as long as it exists. */
int rule_hold_images(Rule *r);
Rule *rule_free(Rule *r);
Rule *rule_find(Manager *m, uint32_t id);

/* Records a new rule (done runs once that is durable), then applies it to the boards attached. */
typedef void (*RuleRecordedFn)(Rule *r, int result, void *userdata);
int rule_add(Rule *r, RuleRecordedFn done, void *userdata);
/* Forgets the rule, in the store too. */
int rule_remove(Rule *r);

/* Checks every rule's images against the trust configuration as it is now: a rule whose images are no
 * longer trusted stops, says why (Rule.Stopped) and the journal says so. Reads the trust directories. */
void rule_check_trust(Manager *m);

/* A board appeared: every rule that matches it gets a job for it. */
void rule_device_added(Manager *m, Device *d);
/* The rule starts no more jobs, for the reason given (until dfusd starts again). */
void rule_stop(Rule *r, const char *why);
/* Offers an attached board to an active rule: it gets a job if the rule matches it and wants it. */
void rule_offer_board(Rule *rule, Device *d);

/* Sequences (rule-sequence.c). A rule stops, saying which, as soon as a sequence it draws from has no
 * value left (none left at start, or one of its jobs found it exhausted): attaching boards then starts no
 * job that could only fail. It resumes by itself once that sequence has values again: a value returned
 * by a job that failed before writing, or the sequence removed and added again. */
void rule_stop_for_sequence(Rule *r, const char *sequence);
/* Stops every active rule that draws from a sequence with no value left (or no longer there). */
void rule_check_sequences(Manager *m);
/* The sequence has values again (added, or a value came back): the rules waiting for it resume and
 * are offered the boards attached. */
void rule_sequence_refilled(Manager *m, const char *sequence);
bool rule_waits_for_sequence(const Rule *r, const char *sequence);

/* A rule's job ended: a board flashed once is remembered. */
void rule_job_finished(Manager *m, Job *j);
