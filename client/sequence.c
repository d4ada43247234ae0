/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef DFUSCTL_HAVE_BUS

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bus.h"
#include "exit-codes.h"
#include "output.h"
#include "parse-util.h"
#include "patch.h"
#include "remote.h"
#include "verbs-bus.h"

#define DFUSD_SEQUENCE_PREFIX "/org/dfusd/Flash1/sequence"
#define DFUSD_IFACE_SEQUENCE  "org.dfusd.Flash1.Sequence"

void verb_sequence_help(void) {
        printf("dfusctl sequence add NAME (--start N [--step S] [--last N] | --list FILE)\n"
               "dfusctl sequence list\n"
               "dfusctl sequence show NAME\n"
               "dfusctl sequence remove NAME\n\n"
               "Sources of per-board values (serial numbers, MAC addresses, keys) that flash --patch\n"
               "and rule add --patch write into each board, never twice. A counter hands out START,\n"
               "START+STEP, ... up to LAST (at most 2^63-1); a list hands out the lines of FILE in\n"
               "order (blank lines and lines starting with '#' are skipped; the daemon keeps a copy).\n"
               "A value ends used (written and verified), spoiled (its board failed after writing\n"
               "began: never handed out again) or returned (nothing was written: handed out again\n"
               "first). NAME: 1 to 64 of A-Z a-z 0-9 _ -. remove is refused while a job or rule\n"
               "uses the sequence.\n\n"
               "With --json: add and show print the Sequence properties (\"Name\", \"Kind\", \"Start\",\n"
               "\"Step\", \"Last\", \"Next\", \"Taken\", \"Used\", \"Spoiled\", \"Returned\", \"Left\") "
               "with\n"
               "\"path\"; show adds \"SpoiledValues\" when some are: the first 100, lowest first, each\n"
               "{\"value\", \"job\", \"port\", \"serial\", \"end-time\"}, as its text form lists them\n"
               "below the counts. list prints {\"sequences\": [...]}. Left and Last are "
               "18446744073709551615 when\n"
               "unbounded.\n");
}

static int sequence_path(const char *name, char **ret) {
        if (!sequence_name_is_valid(name)) {
                fprintf(stderr,
                        "dfusctl sequence: \"%s\" is not a sequence name (1 to %d of A-Z a-z 0-9 _ -).\n",
                        name, SEQUENCE_NAME_MAX);
                return EXIT_USAGE;
        }
        return sd_bus_path_encode(DFUSD_SEQUENCE_PREFIX, name, ret) < 0 ? EXIT_IO : EXIT_ACCEPTED;
}

static void format_count(uint64_t v, char buf[32]) {
        if (v == UINT64_MAX)
                snprintf(buf, 32, "-");
        else
                snprintf(buf, 32, "%" PRIu64, v);
}

static int print_sequences(json_object *list, const DfusctlContext *ctx) {
        static const char *const headers[] = {"NAME",    "KIND",     "NEXT",  "USED",
                                              "SPOILED", "RETURNED", "TAKEN", "LEFT"};
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);

        if (!t)
                return EXIT_IO;
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *q = json_object_array_get_idx(list, i);
                char next[32], used[32], spoiled[32], returned[32], taken[32], left[32];

                format_count(json_get_u64(q, "Next"), next);
                format_count(json_get_u64(q, "Used"), used);
                format_count(json_get_u64(q, "Spoiled"), spoiled);
                format_count(json_get_u64(q, "Returned"), returned);
                format_count(json_get_u64(q, "Taken"), taken);
                format_count(json_get_u64(q, "Left"), left);
                if (table_add_row(t,
                                  (const char *const[]){json_get_str(q, "Name", "?"),
                                                        json_get_str(q, "Kind", "?"), next, used, spoiled,
                                                        returned, taken, left},
                                  -1, OUTPUT_COLOR_NONE) < 0)
                        return EXIT_IO;
        }
        return table_print_or_empty(t, stdout, "No sequences.", !ctx->no_legend, ctx->color) < 0
                       ? EXIT_IO
                       : EXIT_ACCEPTED;
}

/* The spoiled values, at most SPOILED_SHOWN of them, as an array; NULL when there are none. */
#define SPOILED_SHOWN 100u
static int read_spoiled(sd_bus *bus, const char *path, json_object **ret, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, DFUSD_BUS_NAME, path, DFUSD_IFACE_SEQUENCE, "GetSpoiled", error, &reply,
                               "u", SPOILED_SHOWN);
        if (r < 0)
                return r;
        return bus_message_read_json(reply, ret);
}

static void print_spoiled(json_object *spoiled, uint64_t total) {
        printf("\nSpoiled values (never handed out again):\n");
        for (size_t i = 0; i < json_object_array_length(spoiled); i++) {
                json_object *v = json_object_array_get_idx(spoiled, i);
                printf("  %s  job %" PRIu64 " on %s%s%s%s\n", json_get_str(v, "value", "?"),
                       json_get_u64(v, "job"),
                       *json_get_str(v, "port", "") ? json_get_str(v, "port", "") : "-",
                       *json_get_str(v, "serial", "") ? " (" : "", json_get_str(v, "serial", ""),
                       *json_get_str(v, "serial", "") ? ")" : "");
        }
        if (total > json_object_array_length(spoiled))
                printf("  ... and %" PRIu64 " more (dfusctl history --result failed --json).\n",
                       total - json_object_array_length(spoiled));
}

static int print_one(sd_bus *bus, const char *path, const DfusctlContext *ctx) {
        _cleanup_(json_object_putp) json_object *props = NULL, *list = NULL, *spoiled = NULL;
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = bus_get_all(bus, path, DFUSD_IFACE_SEQUENCE, &error, &props);
        if (r < 0)
                return bus_log_error(ctx, "read the sequence", &error, r);
        json_object_object_add(props, "path", json_object_new_string(path));
        if (json_get_u64(props, "Spoiled") > 0) {
                r = read_spoiled(bus, path, &spoiled, &error);
                if (r < 0)
                        return bus_log_error(ctx, "read the spoiled values", &error, r);
                json_object_object_add(props, "SpoiledValues", json_object_get(spoiled));
        }
        if (ctx->json)
                return output_json(props, stdout) < 0 ? EXIT_IO : EXIT_ACCEPTED;
        if (streq(json_get_str(props, "Kind", ""), "counter"))
                printf("%s: counter from %" PRIu64 " step %" PRIu64 "%s\n", json_get_str(props, "Name", "?"),
                       json_get_u64(props, "Start"), json_get_u64(props, "Step"),
                       json_get_u64(props, "Last") == UINT64_MAX ? ", unbounded" : "");
        else
                printf("%s: list of %" PRIu64 " values\n", json_get_str(props, "Name", "?"),
                       json_get_u64(props, "Last"));
        list = json_object_new_array();
        if (!list || json_object_array_add(list, json_object_get(props)) < 0)
                return EXIT_IO;
        r = print_sequences(list, ctx);
        if (r == EXIT_ACCEPTED && spoiled)
                print_spoiled(spoiled, json_get_u64(props, "Spoiled"));
        return r;
}

static int sequence_add(int argc, char *argv[], const DfusctlContext *ctx) {
        enum { ARG_START = 0x100, ARG_STEP, ARG_LAST, ARG_LIST };
        static const struct option options[] = {
                {"start", required_argument, NULL, ARG_START},
                {"step", required_argument, NULL, ARG_STEP},
                {"last", required_argument, NULL, ARG_LAST},
                {"list", required_argument, NULL, ARG_LIST},
                {},
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_close_ int fd = -EBADF;
        uint64_t values[3] = {};
        bool have[3] = {};
        const char *list = NULL, *path, *keys[3] = {"start", "step", "last"};
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                if (c == ARG_LIST) {
                        list = optarg;
                        continue;
                }
                if (c < ARG_START || c > ARG_LAST)
                        return EXIT_USAGE;
                if (parse_uint64(optarg, 0, INT64_MAX, &values[c - ARG_START]) < 0) {
                        fprintf(stderr,
                                "dfusctl sequence add: --%s: expected a number up to %" PRIi64
                                ", got \"%s\".\n",
                                keys[c - ARG_START], INT64_MAX, optarg);
                        return EXIT_USAGE;
                }
                have[c - ARG_START] = true;
        }
        if (optind + 1 != argc || (!list == !have[0]) || (list && (have[1] || have[2]))) {
                fprintf(stderr,
                        "dfusctl sequence add: expected NAME and either --start N [--step S] [--last N] "
                        "or --list FILE (see dfusctl sequence --help).\n");
                return EXIT_USAGE;
        }
        if (have[1] && values[1] == 0) {
                fprintf(stderr, "dfusctl sequence add: --step must be at least 1.\n");
                return EXIT_USAGE;
        }
        if (list) {
                struct stat st;
                int e;

                fd = remote_open_input(ctx, list);
                e = fd < 0 ? -fd : fstat(fd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
                if (e != 0) {
                        fprintf(stderr, "dfusctl sequence add: Failed to open list %s: %s\n", list,
                                strerror(e));
                        return EXIT_IO;
                }
        }
        /* With a list and -H, the command runs on the host: no bus here. */
        r = list ? bus_connect_inputs(ctx, &bus) : bus_connect(ctx, &bus);
        if (r != EXIT_ACCEPTED || !bus)
                return r;
        r = sd_bus_message_new_method_call(bus, &m, DFUSD_BUS_NAME, DFUSD_PATH, DFUSD_IFACE_MGR,
                                           "AddSequence");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", argv[optind]);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (size_t i = 0; r >= 0 && i < 3; i++)
                if (have[i])
                        r = sd_bus_message_append(m, "{sv}", keys[i], "t", values[i]);
        if (r >= 0 && list)
                r = sd_bus_message_append(m, "{sv}", "list", "h", fd);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return bus_log_error(ctx, "add the sequence", &error, r);
        if (ctx->json)
                return print_one(bus, path, ctx);
        printf("%s\n", path);
        return EXIT_ACCEPTED;
}

static int sequence_list(int argc, char *argv[], const DfusctlContext *ctx) {
        _cleanup_(json_object_putp) json_object *list = NULL;
        int r;

        if (argc > 1) {
                fprintf(stderr, "dfusctl sequence list: unexpected argument \"%s\".\n", argv[1]);
                return EXIT_USAGE;
        }
        r = bus_list_objects(ctx, DFUSD_IFACE_SEQUENCE, "list sequences", &list);
        if (r != EXIT_ACCEPTED)
                return r;
        if (ctx->json)
                return output_json_member("sequences", list, stdout) < 0 ? EXIT_IO : EXIT_ACCEPTED;
        return print_sequences(list, ctx);
}

/* `sequence show|remove NAME`: the object path of NAME and a bus. Returns an exit status. */
static int sequence_connect(int argc, char *argv[], const DfusctlContext *ctx, char **ret_path,
                            sd_bus **ret_bus) {
        int r;

        if (argc != 2) {
                fprintf(stderr, "dfusctl sequence %s: expected one sequence name.\n", argv[0]);
                return EXIT_USAGE;
        }
        r = sequence_path(argv[1], ret_path);
        return r == EXIT_ACCEPTED ? bus_connect(ctx, ret_bus) : r;
}

static int sequence_show(int argc, char *argv[], const DfusctlContext *ctx) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *path = NULL;
        int r = sequence_connect(argc, argv, ctx, &path, &bus);

        return r == EXIT_ACCEPTED ? print_one(bus, path, ctx) : r;
}

static int sequence_remove(int argc, char *argv[], const DfusctlContext *ctx) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        int r = sequence_connect(argc, argv, ctx, &path, &bus);

        if (r != EXIT_ACCEPTED)
                return r;
        r = sd_bus_call_method(bus, DFUSD_BUS_NAME, path, DFUSD_IFACE_SEQUENCE, "Remove", &error, NULL,
                               NULL);
        if (r < 0)
                return bus_log_error(ctx, "remove the sequence", &error, r);
        if (ctx->json) {
                _cleanup_(json_object_putp) json_object *doc = json_object_new_object();
                json_object_object_add(doc, "path", json_object_new_string(path));
                json_object_object_add(doc, "removed", json_object_new_boolean(true));
                return output_json(doc, stdout) < 0 ? EXIT_IO : EXIT_ACCEPTED;
        }
        return EXIT_ACCEPTED;
}

int verb_sequence(int argc, char *argv[], const DfusctlContext *ctx) {
        static const struct {
                const char *name;
                int (*run)(int argc, char *argv[], const DfusctlContext *ctx);
        } subs[] = {
                {"add", sequence_add},
                {"list", sequence_list},
                {"show", sequence_show},
                {"remove", sequence_remove},
        };

        for (size_t i = 0; argc >= 2 && i < ELEMENTSOF(subs); i++)
                if (streq(argv[1], subs[i].name))
                        return subs[i].run(argc - 1, argv + 1, ctx);
        fprintf(stderr,
                "dfusctl sequence: expected add, list, show or remove (see dfusctl sequence --help).\n");
        return EXIT_USAGE;
}

#endif
