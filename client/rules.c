/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef DFUSCTL_HAVE_BUS

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "exit-codes.h"
#include "flash.h"
#include "glob-check.h"
#include "output.h"
#include "verbs-bus.h"

void verb_rule_help(void) {
        printf("dfusctl rule add IMAGE... --match SPEC [--every-time] [OPTIONS]\n"
               "dfusctl rule list\n"
               "dfusctl rule remove ID\n\n"
               "Flash every board that attaches and matches. SPEC is port=GLOB, serial=GLOB,\n"
               "station=GLOB, part=NAME or any; --match may be given more than once (all must hold).\n"
               "GLOB is fnmatch(3) syntax (*, ?, [...]); a malformed one, such as an unclosed '[', is "
               "refused.\n"
               "A board is flashed once per rule unless --every-time is given.\n"
               "OPTIONS are those of dfusctl flash that say how to write: --part, --strict, --verify,\n"
               "--no-verify, --no-leave, --mass-erase, --skip-identical, --skip-blank,\n"
               "--allow-option-bytes, --base, --patch, --patch-erase: each board a rule flashes\n"
               "takes its own values.\n\n"
               "With --json: add prints {\"path\", and the Rule properties}; list prints {\"rules\": "
               "[...]}\n"
               "with \"path\", \"Id\", \"Match\", \"Once\", \"Options\", \"ImageSha256\", "
               "\"BoardsFlashed\".\n");
}

static const char *const match_keys[] = {"port", "serial", "station", "part"};
#define MATCH_ANY ((int)ELEMENTSOF(match_keys))

/* The index in match_keys of SPEC's key, or MATCH_ANY for "any". Prints what is wrong and returns -EINVAL
 * for a SPEC that is neither, or whose glob (port, serial, station: dfusd matches them with
 * fnmatch(3)) is malformed. */
static int match_check(const char *spec) {
        const char *eq = strchr(spec, '='), *why = NULL;

        if (streq(spec, "any"))
                return MATCH_ANY;
        for (size_t i = 0; eq && i < ELEMENTSOF(match_keys); i++) {
                if ((size_t)(eq - spec) != strlen(match_keys[i]) ||
                    strncmp(spec, match_keys[i], eq - spec) != 0 || !eq[1])
                        continue;
                if (!streq(match_keys[i], "part") && glob_pattern_check(eq + 1, &why) < 0) {
                        fprintf(stderr, "dfusctl rule add: --match %s: malformed pattern \"%s\": %s.\n",
                                match_keys[i], eq + 1, why);
                        return -EINVAL;
                }
                return (int)i;
        }
        fprintf(stderr,
                "dfusctl rule add: --match \"%s\": expected port=GLOB, serial=GLOB, station=GLOB, "
                "part=NAME or any.\n",
                spec);
        return -EINVAL;
}

static int append_match(sd_bus_message *m, const char *spec) {
        int k = match_check(spec);
        char key[32];

        if (k < 0 || k == MATCH_ANY)
                return k < 0 ? k : 0;
        snprintf(key, sizeof key, "match-%s", match_keys[k]);
        return sd_bus_message_append(m, "{sv}", key, "s", strchr(spec, '=') + 1);
}

static int rule_add_message(sd_bus_message *m, char **matches, size_t n_matches, bool every_time,
                            const FlashOptions *o) {
        int r = 0;

        for (size_t i = 0; r >= 0 && i < n_matches; i++)
                r = append_match(m, matches[i]);
        if (r >= 0 && every_time)
                r = sd_bus_message_append(m, "{sv}", "once", "b", 0);
        if (r >= 0)
                r = flash_options_append(m, o, false);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

static int rule_add(int argc, char *argv[], const DfusctlContext *ctx) {
        static const struct option options[] = {
                WRITE_LONG_OPTIONS,
                {"match", required_argument, NULL, OPT_MATCH},
                {"every-time", no_argument, NULL, OPT_EVERY_TIME},
                {},
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char **matches = calloc(argc, sizeof(char *));
        _cleanup_(flash_signatures_done) FlashSignatures sigs = {};
        FlashOptions o = {.verify = -1, .signatures = &sigs};
        size_t n_matches = 0, n_fds;
        bool every_time = false;
        const char *path;
        int *fds = NULL, c, r;

        optind = 0;
        while (matches && (c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                if (c == OPT_MATCH) {
                        if (match_check(optarg) < 0)
                                return EXIT_USAGE;
                        matches[n_matches++] = optarg;
                } else if (c == OPT_EVERY_TIME)
                        every_time = true;
                else if (flash_options_parse_option(c, optarg, &o) <= 0)
                        return EXIT_USAGE;
        }
        if (optind >= argc || n_matches == 0) {
                fprintf(stderr,
                        "dfusctl rule add: expected images and --match (see dfusctl rule --help).\n");
                return EXIT_USAGE;
        }
        n_fds = argc - optind;
        r = flash_signatures_load(&sigs, ctx, argv + optind, n_fds);
        if (r != EXIT_ACCEPTED)
                return r;
        r = flash_options_confirm_permanent(&o, "rule add");
        if (r != EXIT_ACCEPTED)
                return r;
        r = images_open_connect(ctx, argv + optind, n_fds, &fds, &bus);
        if (r != EXIT_ACCEPTED || !bus) /* without a bus: it ran on the host of -H */
                return r;
        r = images_method_new(bus, "AddRule", fds, n_fds, &m);
        if (r >= 0)
                r = rule_add_message(m, matches, n_matches, every_time, &o);
        if (r >= 0)
                r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        r = r == -EINVAL && !sd_bus_error_is_set(&error) ? EXIT_USAGE
            : r < 0                                      ? bus_log_error(ctx, "add the rule", &error, r)
                                                         : EXIT_ACCEPTED;
        images_close(fds, n_fds);
        if (r != EXIT_ACCEPTED)
                return r;

        if (ctx->json) {
                _cleanup_(json_object_putp) json_object *props = NULL;
                _cleanup_bus_error_ sd_bus_error e2 = SD_BUS_ERROR_NULL;

                if (bus_get_all(bus, path, DFUSD_IFACE_RULE, &e2, &props) < 0)
                        props = json_object_new_object();
                json_object_object_add(props, "path", json_object_new_string(path));
                return output_json(props, stdout) < 0 ? EXIT_IO : EXIT_ACCEPTED;
        }
        printf("%s\n", path);
        return EXIT_ACCEPTED;
}

/* "verify=true leave=false" from the rule's options. */
static void format_options(json_object *options, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = '\0';
        if (!json_object_is_type(options, json_type_object))
                return;
        json_object_object_foreach(options, key, value) {
                int n = snprintf(buf + len, size - len, "%s%s=%s", len ? " " : "", key,
                                 json_object_get_string(value));
                if (n < 0 || (size_t)n >= size - len)
                        break;
                len += n;
        }
}

static int print_rules(json_object *rules, const DfusctlContext *ctx) {
        static const char *const headers[] = {"ID", "MATCH", "ONCE", "FLASHED", "IMAGE", "OPTIONS"};
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);
        int r;

        if (!t)
                return EXIT_IO;
        for (size_t i = 0; i < json_object_array_length(rules); i++) {
                json_object *rule = json_object_array_get_idx(rules, i), *flashed = NULL, *opts = NULL;
                char id[16], count[16], image[16], options[256];

                (void)json_object_object_get_ex(rule, "BoardsFlashed", &flashed);
                (void)json_object_object_get_ex(rule, "Options", &opts);
                snprintf(id, sizeof id, "%" PRIu64, json_get_u64(rule, "Id"));
                snprintf(count, sizeof count, "%zu",
                         json_object_is_type(flashed, json_type_array) ? json_object_array_length(flashed)
                                                                       : 0);
                snprintf(image, sizeof image, "%.12s", json_get_str(rule, "ImageSha256", "-"));
                format_options(opts, options, sizeof options);
                if (table_add_row(t,
                                  (const char *const[]){id, json_get_str(rule, "Match", "?"),
                                                        json_get_bool(rule, "Once") ? "yes" : "no", count,
                                                        image, options[0] ? options : "-"},
                                  -1, OUTPUT_COLOR_NONE) < 0)
                        return EXIT_IO;
        }
        r = table_print_or_empty(t, stdout, "No rules.", !ctx->no_legend, ctx->color);
        /* A stopped rule says why, below the table. */
        for (size_t i = 0; r >= 0 && i < json_object_array_length(rules); i++) {
                json_object *rule = json_object_array_get_idx(rules, i);
                if (*json_get_str(rule, "Stopped", ""))
                        printf("Rule %" PRIu64 " is stopped: %s\n", json_get_u64(rule, "Id"),
                               json_get_str(rule, "Stopped", ""));
        }
        return r < 0 ? EXIT_IO : EXIT_ACCEPTED;
}

static int rule_list(int argc, char *argv[], const DfusctlContext *ctx) {
        _cleanup_(json_object_putp) json_object *rules = NULL;
        int r;

        if (argc > 1) {
                fprintf(stderr, "dfusctl rule list: unexpected argument \"%s\".\n", argv[1]);
                return EXIT_USAGE;
        }
        r = bus_list_objects(ctx, DFUSD_IFACE_RULE, "list rules", &rules);
        if (r != EXIT_ACCEPTED)
                return r;
        if (ctx->json)
                return output_json_member("rules", rules, stdout) < 0 ? EXIT_IO : EXIT_ACCEPTED;
        return print_rules(rules, ctx);
}

static int rule_remove(int argc, char *argv[], const DfusctlContext *ctx) {
        _cleanup_free_ char *path = NULL;

        if (argc != 2 || bus_object_path_from_arg(DFUSD_RULE_PREFIX, argv[1], &path) < 0) {
                fprintf(stderr, "dfusctl rule remove: expected one rule number or rule object path.\n");
                return EXIT_USAGE;
        }
        return bus_call_object_method(ctx, DFUSD_IFACE_RULE, argv[1], &path, "Remove", "remove the rule",
                                      "removed", NULL);
}

int verb_rule(int argc, char *argv[], const DfusctlContext *ctx) {
        if (argc < 2) {
                fprintf(stderr, "dfusctl rule: expected add, list or remove.\n");
                return EXIT_USAGE;
        }
        if (streq(argv[1], "add"))
                return rule_add(argc - 1, argv + 1, ctx);
        if (streq(argv[1], "list"))
                return rule_list(argc - 1, argv + 1, ctx);
        if (streq(argv[1], "remove"))
                return rule_remove(argc - 1, argv + 1, ctx);
        fprintf(stderr, "dfusctl rule: unknown subcommand \"%s\"; expected add, list or remove.\n", argv[1]);
        return EXIT_USAGE;
}

#endif
