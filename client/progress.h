/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Following jobs to their end and showing them: one live line per board on a terminal, one line
 * per phase change on a pipe. follow_* owns the bus side (matches, signals, Ctrl-C = cancel),
 * progress_* only renders what it is given.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>
#include <systemd/sd-bus.h>

#include "bus.h"

typedef struct JobView {
        char *path;
        json_object *props; /* last known org.dfusd.Flash1.Job properties */
        bool completed, success;
        char *message;       /* Completed's message, or Error */
        char *printed_state; /* pipe mode: the state last printed */
} JobView;

typedef struct Progress {
        FILE *out;
        bool tty, color;
        unsigned lines_drawn;
} Progress;

/* Decides between the live and the line-per-event display, and whether colour may be used. */
void progress_init(Progress *p, FILE *out);
/* Shows the jobs' current state: redraws the live lines, or prints phase changes. */
void progress_update(Progress *p, JobView *jobs, size_t n);
/* The final line per job (after the live lines, which stay on screen). */
void progress_finish(Progress *p, JobView *jobs, size_t n);

/* One job as a live line: board, phase with its own counter, the whole job's bar and percent,
 * rate, ETA. */
void progress_format_line(const Progress *p, json_object *props, char *buf, size_t size);
/* Where a job is, counted in the phase's unit: "erasing 3/8 sectors", "writing 412 KiB / 900.8 KiB",
 * "leaving", "done in 5.3 s (170 KiB/s)", "failed while writing", "queued". */
void progress_format_phase(json_object *props, char *buf, size_t size);

/* Human-readable helpers shared with the listing verbs. */
/* "2026-11-29 01:23:45" in local time, or "-" for 0. */
void format_timestamp(char *buf, size_t size, uint64_t realtime_usec);
/* The board a job is for: its port path, else its target description. */
const char *job_label(json_object *props);
bool job_state_is_final(const char *state);
/* Colour for a state ("done" green, "failed" red, ...), or "" when colour is off. */
const char *state_color(const Progress *p, const char *state);
const char *color_reset(const Progress *p);

typedef struct Follow Follow;

/* Installs the signal matches; call before submitting, so no Completed can be missed. */
int follow_new(sd_bus *bus, Follow **ret);
Follow *follow_free(Follow *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(Follow *, follow_free);
/* Starts tracking a submitted job; reads its properties right away. */
int follow_add_job(Follow *f, const char *path);
JobView *follow_jobs(Follow *f, size_t *n);
/* Runs until every job has completed, the daemon goes away, or a second Ctrl-C; the first Ctrl-C
 * cancels the jobs. Returns 0, or an exit status when the daemon vanished. */
int follow_run(Follow *f, Progress *p);
