/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "device.h"
#include "job.h"
#include "manager.h"
#include "rule.h"

/* After the project's headers: GLib redefines MIN and MAX its own way. */
#include <glib.h>

/*
 * The core on its own: a real Manager with a real store in a temporary directory, fake boards
 * (published as hotplug would), a fake worker in place of the USB engine that runs only when the test
 * lets it, a fake wall clock, and ManagerEvents that record what the outside would have heard.
 */

#define CORE_FLASH_BASE 0x08000000u
/* Only bounds a hang: a loaded 2-core machine with sanitizers may be slow, never wrong. */
#define CORE_TEST_TIMEOUT_MS 60000

typedef struct CoreTest {
        char *dir;
        sd_event *event;
        Manager *m;
        GPtrArray *events; /* "job-added 1", "job-completed 1 done", "device-added 1-1", ... */

        /* the fake worker */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        GPtrArray *started;  /* "JOB@PORT" in the order the worker began */
        GHashTable *release; /* job id -> result to return (0 or a negative errno) */
        bool release_all;
        unsigned running, max_running;
} CoreTest;

/* A fake wall clock: the tests set it, the records carry it. */
extern uint64_t core_test_clock;

/* Opens the store in a new temporary directory (kept if config is given: "MaxParallel=2"...). */
void core_test_setup(CoreTest *t, const char *daemon_config);
/* Like setup, on an existing directory (a restart); boards plugged before core_test_ready() are the
 * ones present at start. */
void core_test_start(CoreTest *t, const char *dir, const char *daemon_config);
void core_test_ready(CoreTest *t);
void core_test_stop(CoreTest *t);
void core_test_teardown(CoreTest *t);

Device *core_test_plug(CoreTest *t, const char *port, const char *part, const char *serial);
/* The same with the board's own alternate setting strings (a map that does not parse, ...). */
Device *core_test_plug_strings(CoreTest *t, const char *port, const char *part, const char *serial,
                               char *const *alt_strings);
void core_test_unplug(CoreTest *t, const char *port);

/* Spools an image of size bytes at the flash base (pattern from seed); returns its hash. */
char *core_test_spool_image(CoreTest *t, size_t size, uint8_t seed);
/* Submits an image through the core as Submit does, with options from "key=value" pairs (port=,
 * serial=, station=, part=, any, wait, timeout=, leave=no); waits until it is recorded. NULL and
 * *error set when refused. */
Job *core_test_submit(CoreTest *t, const char *const *options, DfuError *error);
/* Adds a rule as AddRule does (match-port=, match-part=, once=no, ...); waits until it is recorded. */
Rule *core_test_add_rule(CoreTest *t, const char *const *options);
/* The same for a rule the core must refuse at once: returns its error (negative), message in error. */
int core_test_add_rule_refused(CoreTest *t, const char *const *options, DfuError *error);

/* Runs the loop until cond() holds or timeout_ms pass; returns whether it holds. */
bool core_test_run_until(CoreTest *t, bool (*cond)(CoreTest *t, void *userdata), void *userdata,
                         unsigned timeout_ms);
/* Lets the fake worker of job id end with result, then waits until the job ended. */
void core_test_release(CoreTest *t, uint32_t id, int result);
/* Waits until n workers have started (all time). */
void core_test_wait_started(CoreTest *t, unsigned n);
/* Waits until the job is in state s. */
void core_test_wait_state(CoreTest *t, uint32_t id, JobState s);
bool core_test_has_event(CoreTest *t, const char *event);
