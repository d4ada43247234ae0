/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "events.h"
#include "list.h"
#include "macro.h"
#include "spool.h"
#include "store.h"

/*
 * The daemon's core: boards, jobs, the queue, rules, and the threads that do the blocking work. It knows
 * nothing of D-Bus; it tells the outside what changed through ManagerEvents, and the bus layer calls its
 * functions. Every function here runs on the event loop thread unless it says otherwise.
 */

typedef struct Task Task;

/* Runs a job's plan on its board, on a worker thread: the USB engine by default, a fake in tests. */
typedef int (*JobRunFn)(Job *j);

typedef struct Manager {
        sd_event *event;
        Config config;
        bool user; /* serving a session bus: its owner may do anything */
        Store *store;
        Spool *spool;

        const ManagerEvents *events;
        void *events_userdata;
        JobRunFn run_job;
        /* The wall clock of the records (submit, start, end times): a fake one in tests. Thread-safe. */
        uint64_t (*clock_realtime)(void);

        Device *devices;
        unsigned n_devices;
        uint64_t device_generation;

        Job *jobs;
        unsigned n_jobs, n_running, n_lingering;
        uint32_t next_job_id;

        Rule *rules;
        uint32_t next_rule_id;

        Sequence *sequences;
        unsigned n_sequences_adding; /* AddSequence calls not recorded yet */

        unsigned reads_pending; /* image sets being read by Submit, Inspect or AddRule */

        /* worker threads report here */
        int wake_fd; /* eventfd */
        sd_event_source *wake_source;
        pthread_mutex_t tasks_lock;
        Task *tasks_done;
        Task *tasks_running;
        unsigned n_tasks;

        sd_event_source *progress_timer;
        sd_event_source *prune_timer;
        bool boards_known;        /* the initial boards are read: before, no job can tell it has none */
        unsigned resumes_pending; /* unfinished jobs of the last run still reading their images */
        bool exiting;
        bool draining;        /* lost the bus: running jobs end, nothing new starts, then exit */
        atomic_bool stopping; /* exiting, for threads */
} Manager;

int manager_new(sd_event *event, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Opens the store, loads the rules and the unfinished jobs, and queues those. On failure *ret_error
 * says what went wrong. */
int manager_start(Manager *m, char **ret_error);
/* Running jobs stop between two transfers and stay unfinished in the store: resumed next time. */
void manager_stop(Manager *m);

/* The boards attached at start are read: the queue may now decide. */
void manager_boards_known(Manager *m);

/* The bus is gone: running jobs finish and are recorded, queued ones stay for the next start, then the
 * event loop exits with -ENOTCONN. */
void manager_drain(Manager *m);
/* Called when a job ended: exits the loop once a drain is complete. */
void manager_check_drained(Manager *m);

/* The outside's hooks: the emitters below call them if set. */
void manager_emit_changed(Manager *m, const char *property);
void manager_emit_device_changed(Manager *m, Device *d, const char *const *properties);
void manager_emit_job_changed(Manager *m, Job *j, const char *const *properties);
void manager_emit_rule_changed(Manager *m, Rule *r, const char *const *properties);
#define MANAGER_EMIT(m, event, ...)                                            \
        do {                                                                   \
                if ((m)->events && (m)->events->event)                         \
                        (m)->events->event(__VA_ARGS__, (m)->events_userdata); \
        } while (0)

/* A one-line status for sd_notify. */
int manager_status(const Manager *m, char **ret);
/* May uid change things (submit, add rules, cancel others' jobs)? root, the group, the session's owner. */
bool manager_uid_may_change(const Manager *m, uid_t uid);
