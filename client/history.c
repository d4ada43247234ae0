/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef DFUSCTL_HAVE_BUS

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus.h"
#include "exit-codes.h"
#include "flash.h"
#include "output.h"
#include "parse-util.h"
#include "progress.h"
#include "verbs-bus.h"

void verb_history_help(void) {
        printf("dfusctl history [--since TIME] [--port PATH] [--serial SERIAL] [--limit N]\n\n"
               "Show the job journal, newest last. TIME is \"YYYY-MM-DD [HH:MM[:SS]]\", \"today\",\n"
               "\"yesterday\", \"@UNIX-SECONDS\", or an age such as \"30min\", \"2h\", \"7d\".\n\n"
               "With --json: {\"entries\": [...]}, each entry as the daemon records it in its journal.\n");
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static bool parse_age(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } units[] = {
                {"s", 1000000ULL},    {"sec", 1000000ULL},   {"min", 60000000ULL},   {"m", 60000000ULL},
                {"h", 3600000000ULL}, {"d", 86400000000ULL}, {"w", 604800000000ULL},
        };
        char *end;
        unsigned long long n = strtoull(s, &end, 10);

        if (end == s)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(end, units[i].suffix) || (end[0] == ' ' && streq(end + 1, units[i].suffix)) ||
                    (strncmp(end, units[i].suffix, strlen(units[i].suffix)) == 0 &&
                     streq(end + strlen(units[i].suffix), " ago"))) {
                        uint64_t age = n * units[i].usec, now = now_usec();

                        *ret = age < now ? now - age : 0;
                        return true;
                }
        return false;
}

/* Local calendar time or a relative form, to CLOCK_REALTIME microseconds. */
static bool parse_since(const char *s, uint64_t *ret) {
        static const char *const formats[] = {"%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                                              "%Y-%m-%dT%H:%M", "%Y-%m-%d"};
        time_t now = time(NULL);
        struct tm tm;
        uint64_t v;

        if (s[0] == '@' && parse_uint64(s + 1, 0, UINT64_MAX / 1000000, &v) >= 0) {
                *ret = v * 1000000;
                return true;
        }
        if (streq(s, "today") || streq(s, "yesterday")) {
                localtime_r(&now, &tm);
                tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
                tm.tm_mday -= streq(s, "yesterday");
                tm.tm_isdst = -1;
                *ret = (uint64_t)mktime(&tm) * 1000000;
                return true;
        }
        if (parse_age(s, ret))
                return true;
        for (size_t i = 0; i < ELEMENTSOF(formats); i++) {
                const char *end;

                memset(&tm, 0, sizeof tm);
                end = strptime(s, formats[i], &tm);
                if (end && *end == '\0') {
                        tm.tm_isdst = -1;
                        *ret = (uint64_t)mktime(&tm) * 1000000;
                        return true;
                }
        }
        return false;
}

/* The journal's key for a column, trying the names an entry may use. */
static const char *entry_str(json_object *e, const char *const *keys, char *buf, size_t size) {
        for (; *keys; keys++) {
                json_object *v;

                if (!json_object_object_get_ex(e, *keys, &v))
                        continue;
                if (json_object_is_type(v, json_type_int) && strstr(*keys, "ime")) {
                        format_timestamp(buf, size, json_object_get_uint64(v));
                        return buf;
                }
                snprintf(buf, size, "%s", json_object_get_string(v));
                return buf;
        }
        return "-";
}

static int print_history(json_object *entries, const DfusctlContext *ctx) {
        static const char *const headers[] = {"TIME", "JOB", "PORT", "SERIAL", "RESULT", "IMAGE", "MESSAGE"};
        static const char *const keys[][6] = {
                {"end-time", "end_time", "submit-time", "time", "timestamp", NULL},
                {"id", "Id", "job", NULL},
                {"port", "port-path", NULL},
                {"serial", "Serial", NULL},
                {"result", "state", "State", NULL},
                {"image-sha256", "image_sha256", "sha256", NULL},
                {"error", "message", "reason", NULL},
        };
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);
        size_t n = json_object_array_length(entries);

        if (!t)
                return EXIT_IO;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(entries, i);
                char buf[ELEMENTSOF(headers)][128];
                const char *cells[ELEMENTSOF(headers)];
                OutputColor color;

                for (size_t k = 0; k < ELEMENTSOF(headers); k++)
                        cells[k] = entry_str(e, keys[k], buf[k], sizeof buf[k]);
                if (strlen(cells[5]) > 12)
                        buf[5][12] = '\0';
                color = streq(cells[4], "done")     ? OUTPUT_COLOR_GREEN
                        : streq(cells[4], "failed") ? OUTPUT_COLOR_RED
                                                    : OUTPUT_COLOR_YELLOW;
                if (table_add_row(t, cells, 4, color) < 0)
                        return EXIT_IO;
        }
        return table_print_or_empty(t, stdout, "No jobs recorded.", !ctx->no_legend, ctx->color) < 0
                       ? EXIT_IO
                       : EXIT_ACCEPTED;
}

static int history_filter(sd_bus_message *m, bool have_since, uint64_t since, const char *port,
                          const char *serial, bool have_limit, uint64_t limit) {
        int r;

        r = sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r >= 0 && have_since)
                r = sd_bus_message_append(m, "{sv}", "since", "t", since);
        if (r >= 0 && port)
                r = sd_bus_message_append(m, "{sv}", "port", "s", port);
        if (r >= 0 && serial)
                r = sd_bus_message_append(m, "{sv}", "serial", "s", serial);
        if (r >= 0 && have_limit)
                r = sd_bus_message_append(m, "{sv}", "limit", "u", (uint32_t)limit);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

int verb_history(int argc, char *argv[], const DfusctlContext *ctx) {
        static const struct option options[] = {
                {"since", required_argument, NULL, OPT_SINCE},
                {"port", required_argument, NULL, OPT_PORT},
                {"serial", required_argument, NULL, OPT_SERIAL},
                {"limit", required_argument, NULL, OPT_LIMIT},
                {},
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(json_object_putp) json_object *entries = NULL;
        const char *port = NULL, *serial = NULL;
        bool have_since = false, have_limit = false;
        uint64_t since = 0, limit = 0;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "n:", options, NULL)) >= 0) {
                if (c == OPT_SINCE && parse_since(optarg, &since))
                        have_since = true;
                else if (c == OPT_PORT)
                        port = optarg;
                else if (c == OPT_SERIAL)
                        serial = optarg;
                else if ((c == OPT_LIMIT || c == 'n') && parse_uint64(optarg, 0, UINT32_MAX, &limit) >= 0)
                        have_limit = true;
                else {
                        if (c == OPT_SINCE || c == OPT_LIMIT || c == 'n')
                                fprintf(stderr, "dfusctl history: cannot parse \"%s\" (see --help).\n",
                                        optarg);
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "dfusctl history: unexpected argument \"%s\".\n", argv[optind]);
                return EXIT_USAGE;
        }
        r = bus_connect(ctx, &bus);
        if (r != EXIT_ACCEPTED)
                return r;
        r = sd_bus_message_new_method_call(bus, &m, DFUSD_BUS_NAME, DFUSD_PATH, DFUSD_IFACE_MGR,
                                           "GetHistory");
        if (r >= 0)
                r = history_filter(m, have_since, since, port, serial, have_limit, limit);
        if (r >= 0)
                r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r >= 0)
                r = bus_message_read_json(reply, &entries);
        if (r < 0)
                return bus_log_error(ctx, "read the job journal", &error, r);
        if (ctx->json)
                return output_json_member("entries", entries, stdout) < 0 ? EXIT_IO : EXIT_ACCEPTED;
        return print_history(entries, ctx);
}

#endif
