/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * How the core tells the outside what changed. The bus layer fills this in to emit signals and
 * PropertiesChanged; tests fill it in to record what happened. Every member may be NULL. They run on
 * the event loop thread, never from a worker.
 */

typedef struct Device Device;
typedef struct Job Job;
typedef struct Rule Rule;
typedef struct Sequence Sequence;

typedef struct ManagerEvents {
        void (*manager_changed)(const char *property, void *userdata);
        void (*device_added)(Device *d, void *userdata);
        void (*device_removed)(Device *d, void *userdata);
        /* properties: NULL-terminated; NULL means State and CurrentJob */
        void (*device_changed)(Device *d, const char *const *properties, void *userdata);
        void (*job_added)(Job *j, void *userdata);
        void (*job_removed)(Job *j, void *userdata);
        void (*job_changed)(Job *j, const char *const *properties, void *userdata);
        void (*job_completed)(Job *j, void *userdata);
        void (*rule_added)(Rule *r, void *userdata);
        void (*rule_removed)(Rule *r, void *userdata);
        void (*rule_changed)(Rule *r, const char *const *properties, void *userdata);
        void (*sequence_added)(Sequence *q, void *userdata);
        void (*sequence_removed)(Sequence *q, void *userdata);
        /* its counts changed: Next, Used, Spoiled, Returned, Left */
        void (*sequence_changed)(Sequence *q, void *userdata);
} ManagerEvents;
