/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus-json.h"
#include "metrics.h"
#include "time-util.h"

/* Seconds: a small image takes a second, a large one on a slow part minutes. */
static const double bucket_le[METRICS_BUCKETS] = {1, 2, 5, 10, 20, 30, 60, 120, 300, 600};

void metrics_done(Metrics *m) {
        for (size_t i = 0; i < m->n_parts; i++)
                free(m->parts[i].part);
        for (size_t i = 0; i < m->n_stations; i++)
                free(m->stations[i].station);
        *m = (Metrics){};
}

static json_object *get(json_object *o, const char *key) {
        json_object *v;
        return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *get_str(json_object *o, const char *key) {
        json_object *v = get(o, key);
        return v ? json_object_get_string(v) : "";
}

static uint64_t local_midnight_usec(uint64_t now_usec) {
        time_t t = (time_t)(now_usec / USEC_PER_SEC);
        struct tm tm;

        if (!localtime_r(&t, &tm))
                return now_usec;
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        tm.tm_isdst = -1;
        t = mktime(&tm);
        return t < 0 ? now_usec : (uint64_t)t * USEC_PER_SEC;
}

static void roll_day(Metrics *m, uint64_t now) {
        uint64_t midnight = local_midnight_usec(now);

        if (midnight != m->day_start_usec) {
                m->day_start_usec = midnight;
                m->today_done = m->today_failed = 0;
        }
}

static MetricsPart *part_slot(Metrics *m, const char *part) {
        const char *name = part[0] ? part : "unknown";

        for (size_t i = 0; i < m->n_parts; i++)
                if (streq(m->parts[i].part, name))
                        return &m->parts[i];
        /* a fixed number of label values: a part beyond it counts nowhere rather than grow the page */
        if (m->n_parts == METRICS_PARTS_MAX || !(m->parts[m->n_parts].part = strdup(name)))
                return NULL;
        return &m->parts[m->n_parts++];
}

static void station_success(Metrics *m, const char *station, uint64_t when) {
        for (size_t i = 0; i < m->n_stations; i++)
                if (streq(m->stations[i].station, station)) {
                        m->stations[i].last_success_usec = when;
                        return;
                }
        if (m->n_stations == METRICS_STATIONS_MAX || !(m->stations[m->n_stations].station = strdup(station)))
                return;
        m->stations[m->n_stations++].last_success_usec = when;
}

void metrics_job_ended(Metrics *m, const WebConfig *c, const Mirror *mirror, json_object *props) {
        const char *state = get_str(props, "State"), *port = get_str(props, "PortPath");
        uint64_t start = json_object_get_uint64(get(props, "StartTime")),
                 end = json_object_get_uint64(get(props, "EndTime")) ?: now_realtime_usec();
        json_object *device = mirror_props(mirror, get_str(props, "Device"));
        const char *station = get_str(device, "Station");
        MetricsPart *p;

        roll_day(m, end);
        if (streq(state, "cancelled")) {
                m->jobs_cancelled++;
                return;
        }
        if (streq(state, "failed")) {
                m->jobs_failed++;
                m->today_failed++;
                return;
        }
        m->jobs_done++;
        m->today_done++;
        m->bytes_written += json_object_get_uint64(get(props, "BytesTotal"));
        m->recent_done[m->n_recent++ % METRICS_RECENT] = end;
        if (!station[0])
                station = web_config_station(c, port) ?: port;
        if (station[0])
                station_success(m, station, end);
        p = part_slot(m, get_str(device, "Part"));
        if (p && start && end >= start) {
                double sec = (double)(end - start) / USEC_PER_SEC;
                for (size_t i = 0; i < METRICS_BUCKETS; i++)
                        if (sec <= bucket_le[i])
                                p->buckets[i]++;
                p->count++;
                p->sum_sec += sec;
        }
}

#define TODAY_PAGE 1000u

/* One page of today's history, newest first from before (0: from now); counts it and returns the
 * cursor to read on from, or 0 when this was the last page. */
static int load_today_page(Metrics *m, sd_bus *bus, uint64_t before, uint64_t hour_ago, uint64_t *ret_next) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        _cleanup_(json_object_putp) json_object *entries = NULL;
        size_t n;
        int r;

        r = sd_bus_message_new_method_call(bus, &call, DFUSD_BUS_NAME, DFUSD_PATH, DFUSD_IFACE_MGR,
                                           "GetHistory");
        if (r >= 0)
                r = sd_bus_message_open_container(call, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(call, "{sv}{sv}", "since", "t", m->day_start_usec, "limit", "u",
                                          (uint32_t)TODAY_PAGE);
        if (r >= 0 && before)
                r = sd_bus_message_append(call, "{sv}", "before", "t", before);
        if (r >= 0)
                r = sd_bus_message_close_container(call);
        if (r >= 0)
                r = sd_bus_call(bus, call, 0, NULL, &reply);
        if (r >= 0)
                r = bus_message_read_json(reply, &entries);
        if (r < 0)
                return r;
        n = json_object_array_length(entries);
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(entries, i);
                const char *result = get_str(e, "result");
                uint64_t end = json_object_get_uint64(get(e, "end-time"));
                if (streq(result, "done")) {
                        m->today_done++;
                        /* only the last hour's count for the rate: older pages cannot push them out */
                        if (end >= hour_ago && m->n_recent < METRICS_RECENT)
                                m->recent_done[m->n_recent++] = end;
                } else if (streq(result, "failed"))
                        m->today_failed++;
        }
        /* the page is oldest first: its first cursor is where the next (older) page ends */
        *ret_next = n < TODAY_PAGE
                            ? 0
                            : json_object_get_uint64(get(json_object_array_get_idx(entries, 0), "cursor"));
        if (*ret_next && before && *ret_next >= before)
                return -EBADMSG; /* a cursor that does not go back would never end */
        return 0;
}

int metrics_load_today(Metrics *m, sd_bus *bus) {
        uint64_t now = now_realtime_usec(), before = 0;
        int r;

        m->day_start_usec = local_midnight_usec(now);
        m->today_done = m->today_failed = 0;
        m->n_recent = 0;
        /* Page by page back to midnight: called when dfusd appears, not per request. A line that
         * flashes ten thousand boards a day reads ten pages once. */
        do {
                r = load_today_page(m, bus, before, now - MIN(now, 3600 * USEC_PER_SEC), &before);
                if (r < 0)
                        return r;
        } while (before);
        return 0;
}

json_object *metrics_today(Metrics *m) {
        uint64_t now = now_realtime_usec(), per_hour = 0;
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        roll_day(m, now);
        for (size_t i = 0; i < MIN(m->n_recent, (size_t)METRICS_RECENT); i++)
                if (m->recent_done[i] + 3600 * USEC_PER_SEC >= now)
                        per_hour++;
        json_object_object_add(o, "done", json_object_new_uint64(m->today_done));
        json_object_object_add(o, "failed", json_object_new_uint64(m->today_failed));
        json_object_object_add(o, "per_hour", json_object_new_uint64(per_hour));
        return o;
}

/* A label value as the text format wants it: backslash, quote and newline escaped. */
static void label(FILE *f, const char *s) {
        for (; *s; s++)
                if (*s == '\\' || *s == '"')
                        fprintf(f, "\\%c", *s);
                else if (*s == '\n')
                        fputs("\\n", f);
                else
                        fputc(*s, f);
}

typedef struct BoardCount {
        char part[64], state[32];
        unsigned n;
} BoardCount;

static void render_boards(FILE *f, const Mirror *mirror) {
        BoardCount counts[128];
        size_t n = 0;
        unsigned queued = 0;

        json_object_object_foreach(mirror->objects, path, ifaces) {
                const char *kind = mirror_kind(path);
                json_object *props = kind ? get(ifaces, mirror_kind_iface(kind)) : NULL;
                size_t i;

                if (!props)
                        continue;
                if (streq(kind, "job")) {
                        const char *s = get_str(props, "State");
                        queued += streq(s, "queued") || streq(s, "waiting");
                        continue;
                }
                if (!streq(kind, "device"))
                        continue;
                for (i = 0; i < n; i++)
                        if (streq(counts[i].part, get_str(props, "Part")) &&
                            streq(counts[i].state, get_str(props, "State")))
                                break;
                if (i == n) {
                        if (n == ELEMENTSOF(counts))
                                continue;
                        counts[n] = (BoardCount){};
                        snprintf(counts[n].part, sizeof(counts[n].part), "%s", get_str(props, "Part"));
                        snprintf(counts[n].state, sizeof(counts[n].state), "%s", get_str(props, "State"));
                        n++;
                }
                counts[i].n++;
        }
        fputs("# HELP dfusd_boards Boards attached in their bootloader, by part and state.\n"
              "# TYPE dfusd_boards gauge\n",
              f);
        for (size_t i = 0; i < n; i++) {
                fputs("dfusd_boards{part=\"", f);
                label(f, counts[i].part);
                fputs("\",state=\"", f);
                label(f, counts[i].state);
                fprintf(f, "\"} %u\n", counts[i].n);
        }
        fprintf(f,
                "# HELP dfusd_queue_length Jobs queued or waiting for their board.\n"
                "# TYPE dfusd_queue_length gauge\n"
                "dfusd_queue_length %u\n",
                queued);
}

static uint64_t get_u64(json_object *props, const char *key) {
        json_object *v = get(props, key);
        return v ? json_object_get_uint64(v) : 0;
}

/* A family of gauges, one sample per sequence; UINT64_MAX (an unbounded counter's Left) is +Inf. */
static void render_sequence_gauge(FILE *f, const Mirror *mirror, const char *metric, const char *property,
                                  const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", metric, help, metric);
        json_object_object_foreach(mirror->objects, path, ifaces) {
                json_object *props;
                uint64_t v;

                const char *kind = mirror_kind(path);

                if (!kind || !streq(kind, "sequence") || !(props = get(ifaces, DFUSD_IFACE_SEQUENCE)))
                        continue;
                v = get_u64(props, property);
                fprintf(f, "%s{sequence=\"", metric);
                label(f, get_str(props, "Name"));
                if (v == UINT64_MAX)
                        fputs("\"} +Inf\n", f);
                else
                        fprintf(f, "\"} %" PRIu64 "\n", v);
        }
}

static void render_sequences(FILE *f, const Mirror *mirror) {
        render_sequence_gauge(f, mirror, "dfusd_sequence_values_left", "Left",
                              "Values a sequence can still hand out, returned ones included.");
        render_sequence_gauge(f, mirror, "dfusd_sequence_values_used", "Used",
                              "Values written to a board and verified.");
        render_sequence_gauge(f, mirror, "dfusd_sequence_values_spoiled", "Spoiled",
                              "Values that may be on a board whose job failed: never handed out again.");
}

int metrics_render(Metrics *m, const Mirror *mirror, unsigned sse_clients, char **ret, size_t *ret_size) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;
        fprintf(f,
                "# HELP dfusd_up Whether dfusd is on the bus.\n"
                "# TYPE dfusd_up gauge\n"
                "dfusd_up %d\n",
                mirror->dfusd_up);
        render_boards(f, mirror);
        render_sequences(f, mirror);
        fprintf(f,
                "# HELP dfusd_jobs_total Jobs ended since dfusd-web started, by result.\n"
                "# TYPE dfusd_jobs_total counter\n"
                "dfusd_jobs_total{result=\"done\"} %" PRIu64 "\n"
                "dfusd_jobs_total{result=\"failed\"} %" PRIu64 "\n"
                "dfusd_jobs_total{result=\"cancelled\"} %" PRIu64 "\n"
                "# HELP dfusd_written_bytes_total Image bytes written by jobs that ended done.\n"
                "# TYPE dfusd_written_bytes_total counter\n"
                "dfusd_written_bytes_total %" PRIu64 "\n",
                m->jobs_done, m->jobs_failed, m->jobs_cancelled, m->bytes_written);
        fputs("# HELP dfusd_job_duration_seconds Time from a job's start to its end, of jobs done, by "
              "part.\n"
              "# TYPE dfusd_job_duration_seconds histogram\n",
              f);
        for (size_t i = 0; i < m->n_parts; i++) {
                const MetricsPart *p = &m->parts[i];
                for (size_t b = 0; b < METRICS_BUCKETS; b++) {
                        fputs("dfusd_job_duration_seconds_bucket{part=\"", f);
                        label(f, p->part);
                        fprintf(f, "\",le=\"%g\"} %" PRIu64 "\n", bucket_le[b], p->buckets[b]);
                }
                fputs("dfusd_job_duration_seconds_bucket{part=\"", f);
                label(f, p->part);
                fprintf(f, "\",le=\"+Inf\"} %" PRIu64 "\n", p->count);
                fputs("dfusd_job_duration_seconds_sum{part=\"", f);
                label(f, p->part);
                fprintf(f, "\"} %.6f\n", p->sum_sec);
                fputs("dfusd_job_duration_seconds_count{part=\"", f);
                label(f, p->part);
                fprintf(f, "\"} %" PRIu64 "\n", p->count);
        }
        fputs("# HELP dfusd_station_last_success_timestamp_seconds When a station last finished a board.\n"
              "# TYPE dfusd_station_last_success_timestamp_seconds gauge\n",
              f);
        for (size_t i = 0; i < m->n_stations; i++) {
                fputs("dfusd_station_last_success_timestamp_seconds{station=\"", f);
                label(f, m->stations[i].station);
                fprintf(f, "\"} %.3f\n", (double)m->stations[i].last_success_usec / USEC_PER_SEC);
        }
        fprintf(f,
                "# HELP dfusd_web_event_clients Browsers following the event stream.\n"
                "# TYPE dfusd_web_event_clients gauge\n"
                "dfusd_web_event_clients %u\n",
                sse_clients);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_size = size;
        return 0;
}
