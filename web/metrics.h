/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * /metrics in the Prometheus text format: gauges read from the mirror when scraped, counters and the
 * duration histogram kept from the jobs this process saw end, and today's counts for the station
 * page's strip (read from dfusd's history when dfusd appears, then counted on).
 */

#include <json-c/json.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "config.h"
#include "mirror.h"

#define METRICS_PARTS_MAX    64
#define METRICS_STATIONS_MAX 256
#define METRICS_BUCKETS      10
#define METRICS_RECENT       4096

typedef struct MetricsPart {
        char *part;
        uint64_t buckets[METRICS_BUCKETS]; /* cumulative, as Prometheus wants them */
        uint64_t count;
        double sum_sec;
} MetricsPart;

typedef struct MetricsStation {
        char *station;
        uint64_t last_success_usec;
} MetricsStation;

typedef struct Metrics {
        uint64_t jobs_done, jobs_failed, jobs_cancelled;
        uint64_t bytes_written;
        MetricsPart parts[METRICS_PARTS_MAX];
        size_t n_parts;
        MetricsStation stations[METRICS_STATIONS_MAX];
        size_t n_stations;
        /* today, for the page */
        uint64_t day_start_usec;
        uint64_t today_done, today_failed;
        uint64_t recent_done[METRICS_RECENT]; /* end times of the last jobs done, for the hourly rate */
        size_t n_recent;
} Metrics;

void metrics_done(Metrics *m);
/* A job reached done, failed or cancelled (props as the mirror has them). */
void metrics_job_ended(Metrics *m, const WebConfig *c, const Mirror *mirror, json_object *props);
/* Reads today's done and failed jobs from dfusd's history. */
int metrics_load_today(Metrics *m, sd_bus *bus);
/* {"done": N, "failed": N, "per_hour": N} */
json_object *metrics_today(Metrics *m);
/* The whole exposition; *ret is malloc'ed. */
int metrics_render(Metrics *m, const Mirror *mirror, unsigned sse_clients, char **ret, size_t *ret_size);
