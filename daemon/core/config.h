/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "trust.h"

/*
 * dfusd.conf, ini syntax:
 *   [Daemon]   MaxParallel=, DefaultVerify=, ImageSizeCap=, JobLinger= (seconds), MaxLingeringJobs=,
 *              MaxQueuedJobs=, SpoolSizeCap=,
 *              ReadTimeout= (seconds), HistoryRetention= (an age: 90d, 2y; default keep forever),
 *              StateDirectory=, Group=
 *   [Stations] <port path> = <name>
 *   [Devices]  VID:PID = <anything>     extra bootloader IDs to watch besides 0483:DF11
 *   [Trust]    Mode=off|allowlist|signed, ApprovedDirectory=, KeyDirectory= (see trust.h)
 */

typedef struct Station {
        char *port_path;
        char *name;
} Station;

typedef struct UsbId {
        uint16_t vid, pid;
} UsbId;

typedef struct Config {
        unsigned max_parallel;
        bool default_verify;
        uint64_t image_size_cap;
        uint64_t job_linger_usec;
        unsigned max_lingering_jobs;     /* ended jobs kept on the bus at most, oldest removed first */
        unsigned max_queued_jobs;        /* jobs not yet ended at most; Submit is Busy beyond */
        uint64_t spool_size_cap;         /* bytes of images kept for queued jobs and rules */
        uint64_t read_timeout_usec;      /* how long a pipe may take to deliver an image */
        uint64_t history_retention_usec; /* 0: keep every record */
        char *state_dir;
        char *group; /* may call mutating methods */
        Station *stations;
        size_t n_stations;
        UsbId *ids;
        size_t n_ids;
        TrustMode trust_mode;
        char *trust_approved_dir; /* NULL: TRUST_APPROVED_DIR_DEFAULT */
        char *trust_key_dir;      /* NULL: TRUST_KEY_DIR_DEFAULT */
} Config;

void config_init(Config *c);
void config_done(Config *c);
int config_load(Config *c, const char *path);
const char *config_station(const Config *c, const char *port_path);
bool config_wants_id(const Config *c, uint16_t vid, uint16_t pid);
const char *config_trust_approved_dir(const Config *c);
const char *config_trust_key_dir(const Config *c);
/* Says in the journal which images are accepted: any (with a notice), or from where. */
void config_log_trust(const Config *c);
