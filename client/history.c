/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef DFUSCTL_HAVE_BUS

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus.h"
#include "exit-codes.h"
#include "flash.h"
#include "history.h"
#include "output.h"
#include "parse-util.h"
#include "progress.h"
#include "strv.h"
#include "verbs-bus.h"

void verb_history_help(void) {
        printf("dfusctl history [--since TIME] [--until TIME] [--port PATH] [--serial SERIAL]\n"
               "                [--image SHA256] [--result done|failed|cancelled] [--value VALUE]\n"
               "                [--limit N]\n"
               "                [--format table|csv|jsonl] [--page-size N]\n\n"
               "Show the ended jobs dfusd recorded, oldest first: every one that matches, or with\n"
               "--limit N the newest N of them; the table's VALUES column holds the per-board values\n"
               "each job took (SEQUENCE=VALUE ...). The filters all must hold:\n"
               "  --since TIME, --until TIME  the job ended at or after / at or before TIME\n"
               "  --port PATH, --serial SERIAL  on this board\n"
               "  --image SHA256    of this image: 64 hex digits, or several joined by commas as\n"
               "                    the job's ImageSha256 shows them (a job of several images)\n"
               "  --result RESULT   ended done, failed or cancelled\n"
               "  --value VALUE     took this per-board value (a serial number, a MAC address)\n"
               "TIME is \"YYYY-MM-DD [HH:MM[:SS]]\" (local time; a date alone is its midnight),\n"
               "\"today\", \"yesterday\", \"@UNIX-SECONDS\", or an age such as \"30min\", \"2h\", "
               "\"7d\".\n\n"
               "dfusd answers in pages of at most %u entries (--page-size, default %u); dfusctl reads\n"
               "as many as it needs. --format csv and jsonl print page by page, holding one page in\n"
               "memory (they read the history twice: back to find the pages, then forward); the\n"
               "table, --json and --limit hold every entry they print.\n\n"
               "--format csv: RFC 4180, CRLF line ends, a header row (none with --no-legend), the\n"
               "columns id, result, error, port, serial, station, target, image-sha256, submit-time,\n"
               "start-time, end-time (ISO 8601 UTC, \"2026-01-05T10:11:12Z\"), duration-usec, bytes,\n"
               "dropped-segments, interrupted (true/false), rule, then submit-time-usec,\n"
               "start-time-usec, end-time-usec (the same times as CLOCK_REALTIME microseconds), trust\n"
               "(the key or allow-list that accepted the images), protection (what the job changed),\n"
               "values: the per-board values as SEQUENCE=VALUE joined by spaces, origin (who asked:\n"
               "Submit's \"origin\" option, web:NAME for a job sent through dfusd-web), then one column\n"
               "per sequence dfusd knows, value-NAME, with the value the job took from it.\n"
               "A key an entry lacks is an empty field.\n"
               "--format jsonl: one JSON object per line, each entry as --json shows it.\n"
               "With --json: {\"entries\": [...]}, each entry as the daemon records it: \"id\",\n"
               "\"result\", \"error\", \"port\", \"serial\", \"station\", \"target\", \"image-sha256\",\n"
               "\"submit-time\", \"start-time\", \"end-time\", \"duration-usec\", \"bytes\",\n"
               "\"dropped-segments\", \"interrupted\", \"rule\", \"cursor\", \"trust\", \"protection\", "
               "\"origin\", "
               "\"values\"\n([[SEQUENCE, VALUE], ...], the per-board values the job took and did not "
               "return).\n",
               HISTORY_PAGE_MAX, HISTORY_PAGE_MAX);
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
static bool parse_time(const char *s, uint64_t *ret) {
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

static const char *const table_headers[] = {"TIME",  "JOB",    "PORT",   "SERIAL", "RESULT",
                                            "IMAGE", "VALUES", "ORIGIN", "MESSAGE"};

static Table *history_table_new(void) {
        return table_new(ELEMENTSOF(table_headers), table_headers);
}

static int table_add_history_row(Table *t, json_object *e) {
        static const char *const keys[][6] = {
                {"end-time", "end_time", "submit-time", "time", "timestamp", NULL},
                {"id", "Id", "job", NULL},
                {"port", "port-path", NULL},
                {"serial", "Serial", NULL},
                {"result", "state", "State", NULL},
                {"image-sha256", "image_sha256", "sha256", NULL},
                {NULL}, /* VALUES */
                {"origin", NULL},
                {"error", "message", "reason", NULL},
        };
        _cleanup_free_ char *values = malloc(HISTORY_VALUES_MAX);
        char buf[ELEMENTSOF(table_headers)][128];
        const char *cells[ELEMENTSOF(table_headers)];
        OutputColor color;

        if (!values)
                return -ENOMEM;
        for (size_t k = 0; k < ELEMENTSOF(table_headers); k++)
                cells[k] = entry_str(e, keys[k], buf[k], sizeof buf[k]);
        if (strlen(cells[5]) > 12)
                buf[5][12] = '\0';
        /* The per-board values, as --format csv's values column. */
        cells[6] = *history_values_string(e, values) ? values : "-";
        color = streq(cells[4], "done")     ? OUTPUT_COLOR_GREEN
                : streq(cells[4], "failed") ? OUTPUT_COLOR_RED
                                            : OUTPUT_COLOR_YELLOW;
        return table_add_row(t, cells, 4, color);
}

typedef struct HistoryArgs {
        bool have_since, have_until, have_format;
        uint64_t since, until, limit;
        const char *port, *serial, *result, *value;
        char *image; /* lowercase */
        uint32_t page_size;
        HistoryFormat format;
} HistoryArgs;

static void history_args_done(HistoryArgs *a) {
        a->image = mfree(a->image);
}

/* Where the entries go, oldest first. */
typedef struct Sink {
        const DfusctlContext *ctx;
        HistoryFormat format;
        Table *table;       /* the table form */
        json_object *array; /* --json */
        bool started;       /* csv: the header is out */
        char **sequences;   /* csv: a column each */
} Sink;

static int sink_emit(json_object *e, void *userdata) {
        Sink *s = userdata;
        int r;

        if (s->array)
                return json_object_array_add(s->array, json_object_get(e)) < 0 ? -ENOMEM : 0;
        switch (s->format) {
        case HISTORY_FORMAT_CSV:
                if (!s->started && !s->ctx->no_legend) {
                        r = history_csv_header(stdout, s->sequences);
                        if (r < 0)
                                return r;
                }
                s->started = true;
                return history_csv_row(stdout, e, s->sequences);
        case HISTORY_FORMAT_JSONL:
                return history_jsonl_row(stdout, e);
        default:
                return table_add_history_row(s->table, e);
        }
}

static int compare_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sequences the daemon knows, by name: CSV gets a column for each. An older dfusd has none. */
static char **history_sequences(sd_bus *bus) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **paths = NULL;
        char **names;
        size_t n = 0;

        if (sd_bus_get_property(bus, DFUSD_BUS_NAME, DFUSD_PATH, DFUSD_IFACE_MGR, "Sequences", NULL, &reply,
                                "ao") < 0 ||
            sd_bus_message_read_strv(reply, &paths) < 0)
                return NULL;
        names = calloc(strv_length(paths) + 1, sizeof(char *));
        for (char **p = paths; names && p && *p; p++) {
                char buf[128];
                names[n] = strdup(object_path_id_buf(*p, buf, sizeof(buf)));
                if (!names[n])
                        return strv_free(names);
                n++;
        }
        if (names)
                qsort(names, n, sizeof(char *), compare_str);
        return names;
}

static int sink_finish(Sink *s) {
        if (s->array)
                return output_json_member("entries", s->array, stdout);
        if (s->format == HISTORY_FORMAT_CSV && !s->started && !s->ctx->no_legend)
                return history_csv_header(stdout, s->sequences);
        if (s->format == HISTORY_FORMAT_TABLE)
                return table_print_or_empty(s->table, stdout, "No jobs recorded.", !s->ctx->no_legend,
                                            s->ctx->color);
        return 0;
}

/* One GetHistory call: the user's filter, the page's limit, and `before` only when paging back (a
 * dfusd that does not know a key refuses the call, so only keys asked for are sent). */
typedef struct Fetcher {
        sd_bus *bus;
        const HistoryArgs *args;
        sd_bus_error error;
} Fetcher;

static int history_filter(sd_bus_message *m, const HistoryArgs *a, uint64_t before, uint32_t limit) {
        int r;

        r = sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r >= 0 && a->have_since)
                r = sd_bus_message_append(m, "{sv}", "since", "t", a->since);
        if (r >= 0 && a->have_until)
                r = sd_bus_message_append(m, "{sv}", "until", "t", a->until);
        if (r >= 0 && a->port)
                r = sd_bus_message_append(m, "{sv}", "port", "s", a->port);
        if (r >= 0 && a->serial)
                r = sd_bus_message_append(m, "{sv}", "serial", "s", a->serial);
        if (r >= 0 && a->image)
                r = sd_bus_message_append(m, "{sv}", "image", "s", a->image);
        if (r >= 0 && a->result)
                r = sd_bus_message_append(m, "{sv}", "result", "s", a->result);
        if (r >= 0 && a->value)
                r = sd_bus_message_append(m, "{sv}", "value", "s", a->value);
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "limit", "u", limit);
        if (r >= 0 && before > 0)
                r = sd_bus_message_append(m, "{sv}", "before", "t", before);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

static int fetch_page(uint64_t before, uint32_t limit, json_object **ret, void *userdata) {
        Fetcher *f = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        sd_bus_error_free(&f->error);
        r = sd_bus_message_new_method_call(f->bus, &m, DFUSD_BUS_NAME, DFUSD_PATH, DFUSD_IFACE_MGR,
                                           "GetHistory");
        if (r >= 0)
                r = history_filter(m, f->args, before, limit);
        if (r >= 0)
                r = sd_bus_call(f->bus, m, 0, &f->error, &reply);
        if (r >= 0)
                r = bus_message_read_json(reply, ret);
        return r;
}

/* The long name of the option whose getopt value is c ("until"). */
static const char *option_long_name(const struct option *options, int c) {
        for (size_t i = 0; options[i].name; i++)
                if (options[i].val == c)
                        return options[i].name;
        return "?";
}

static int parse_history_args(int argc, char *argv[], const DfusctlContext *ctx, HistoryArgs *a) {
        enum {
                OPT_UNTIL = OPT_PATCH_ERASE + 1,
                OPT_IMAGE,
                OPT_RESULT,
                OPT_FORMAT,
                OPT_PAGE_SIZE,
                OPT_VALUE
        };
        static const struct option options[] = {
                {"since", required_argument, NULL, OPT_SINCE},
                {"until", required_argument, NULL, OPT_UNTIL},
                {"port", required_argument, NULL, OPT_PORT},
                {"serial", required_argument, NULL, OPT_SERIAL},
                {"image", required_argument, NULL, OPT_IMAGE},
                {"result", required_argument, NULL, OPT_RESULT},
                {"limit", required_argument, NULL, OPT_LIMIT},
                {"format", required_argument, NULL, OPT_FORMAT},
                {"page-size", required_argument, NULL, OPT_PAGE_SIZE},
                {"value", required_argument, NULL, OPT_VALUE},
                {},
        };
        const char *expected = NULL;
        char range[64];
        uint64_t v;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "n:", options, NULL)) >= 0) {
                switch (c) {
                case OPT_SINCE:
                case OPT_UNTIL:
                        if (!parse_time(optarg, c == OPT_SINCE ? &a->since : &a->until))
                                expected = "a time such as \"2026-01-05 14:00\", \"today\", \"@1767225600\" "
                                           "or \"2h\"";
                        else if (c == OPT_SINCE)
                                a->have_since = true;
                        else
                                a->have_until = true;
                        break;
                case OPT_PORT:
                        a->port = optarg;
                        break;
                case OPT_SERIAL:
                        a->serial = optarg;
                        break;
                case OPT_IMAGE:
                        a->image = mfree(a->image);
                        r = history_image_normalize(optarg, &a->image);
                        if (r == -ENOMEM)
                                return EXIT_IO;
                        if (r < 0)
                                expected = "64 hex digits (a SHA-256), or several such joined by commas";
                        break;
                case OPT_VALUE:
                        a->value = optarg;
                        break;
                case OPT_RESULT:
                        a->result = optarg;
                        if (!history_result_is_valid(optarg))
                                expected = "done, failed or cancelled";
                        break;
                case 'n':
                case OPT_LIMIT:
                        /* 0 is no limit, as it always was. */
                        if (parse_uint64(optarg, 10, UINT64_MAX, &a->limit) < 0)
                                expected = "a number of jobs";
                        break;
                case OPT_FORMAT:
                        a->format = history_format_from_string(optarg);
                        a->have_format = true;
                        if (a->format < 0)
                                expected = "table, csv or jsonl";
                        break;
                case OPT_PAGE_SIZE:
                        snprintf(range, sizeof range, "a number from 1 to %u", HISTORY_PAGE_MAX);
                        if (parse_uint64(optarg, 10, HISTORY_PAGE_MAX, &v) < 0 || v == 0)
                                expected = range;
                        a->page_size = (uint32_t)v;
                        break;
                default:
                        return EXIT_USAGE;
                }
                if (expected) {
                        fprintf(stderr, "dfusctl history: %s%s: expected %s, got \"%s\".\n",
                                c == 'n' ? "-" : "--", c == 'n' ? "n" : option_long_name(options, c),
                                expected, optarg);
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "dfusctl history: unexpected argument \"%s\".\n", argv[optind]);
                return EXIT_USAGE;
        }
        if (a->have_since && a->have_until && a->since > a->until) {
                fprintf(stderr, "dfusctl history: --since is later than --until: no job can match.\n");
                return EXIT_USAGE;
        }
        if (ctx->json && a->have_format) {
                fprintf(stderr, "dfusctl history: --json and --format exclude each other.\n");
                return EXIT_USAGE;
        }
        return EXIT_ACCEPTED;
}

int verb_history(int argc, char *argv[], const DfusctlContext *ctx) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(history_args_done) HistoryArgs a = {.page_size = HISTORY_PAGE_MAX};
        _cleanup_(table_freep) Table *table = NULL;
        _cleanup_(json_object_putp) json_object *array = NULL;
        _cleanup_strv_free_ char **sequences = NULL;
        Fetcher f = {.error = SD_BUS_ERROR_NULL, .args = &a};
        Sink sink = {.ctx = ctx};
        HistoryWalk w;
        int r;

        r = parse_history_args(argc, argv, ctx, &a);
        if (r != EXIT_ACCEPTED)
                return r;
        sink.format = a.format;
        if (ctx->json)
                sink.array = array = json_object_new_array();
        else if (a.format == HISTORY_FORMAT_TABLE)
                sink.table = table = history_table_new();
        if (ctx->json ? !array : a.format == HISTORY_FORMAT_TABLE && !table)
                return EXIT_IO;

        r = bus_connect(ctx, &bus);
        if (r != EXIT_ACCEPTED)
                return r;
        f.bus = bus;
        if (!ctx->json && a.format == HISTORY_FORMAT_CSV)
                sink.sequences = sequences = history_sequences(bus);
        w = (HistoryWalk){
                .fetch = fetch_page,
                .fetch_userdata = &f,
                .emit = sink_emit,
                .emit_userdata = &sink,
                .limit = a.limit,
                .page_size = a.page_size,
                .stream = !ctx->json && a.format != HISTORY_FORMAT_TABLE,
        };
        r = history_walk(&w);
        if (r < 0 && sd_bus_error_is_set(&f.error)) {
                r = bus_log_error(ctx, "read the job history", &f.error, r);
                sd_bus_error_free(&f.error);
                return r;
        }
        sd_bus_error_free(&f.error);
        if (r == -EPROTO || r == -EBADMSG) {
                fprintf(stderr, "dfusctl history: dfusd's reply does not page as GetHistory does (%s).\n",
                        r == -EPROTO ? "cursors not ascending below \"before\""
                                     : "a page larger than asked");
                return EXIT_IO;
        }
        if (r < 0)
                return bus_log_error(ctx, "read the job history", NULL, r);
        if (w.truncated)
                fprintf(stderr,
                        "dfusctl history: warning: dfusd does not page its history (no \"cursor\" in "
                        "its entries); only the newest page was read.\n");
        r = sink_finish(&sink);
        if (r >= 0 && fflush(stdout) != 0)
                r = -EIO;
        if (r < 0) {
                fprintf(stderr, "dfusctl history: Failed to write the history: %s\n", strerror(-r));
                return EXIT_IO;
        }
        return EXIT_ACCEPTED;
}

#endif
