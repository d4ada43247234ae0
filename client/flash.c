/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef DFUSCTL_HAVE_BUS

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exit-codes.h"
#include "flash.h"
#include "output.h"
#include "progress.h"
#include "verbs-bus.h"

void verb_flash_help(void) {
        printf("dfusctl flash IMAGE... [OPTIONS]\n\n"
               "Write one or more images (merged) to a board and follow the job to its end.\n\n"
               "Which board (default: the only one attached):\n"
               "  --port PATH        the board on this USB port path (\"1-1.3\")\n"
               "  --serial SERIAL    the board reporting this serial\n"
               "  --station NAME     the board on this station (dfusd.conf)\n"
               "  --all              every attached board, one job each\n"
               "  --wait             wait for a matching board to appear\n"
               "  --timeout SEC      give up waiting after SEC seconds\n\n"
               "How:\n"
               "  --part NAME        sanitize against this part's map while waiting\n"
               "  --strict           reject instead of dropping segments outside flash\n"
               "  --verify, --no-verify  read back after writing\n"
               "  --no-leave         stay in the bootloader afterwards\n"
               "  --mass-erase       erase the whole flash first\n"
               "  --skip-identical   skip sectors that already hold the image\n"
               "  --skip-blank       skip erasing sectors that read blank (parts without ECC)\n"
               "  --allow-option-bytes  write segments in option bytes / OTP\n"
               "  --base ADDR        load address of raw binaries\n"
               "  --option-bytes FIELD=VALUE,...  change these option bytes first (by name, see\n"
               "                     dfusctl inspect --family NAME --option-bytes ...), verified after the\n"
               "                     board's reset\n"
               "  --lock             set read-out protection (RDP level 1) after writing and verifying,\n"
               "                     then check that reads are refused\n"
               "  --allow-permanent-lock  admit rdp=2 in --option-bytes (asks for PERMANENT on a\n"
               "                     terminal; --yes-permanent in scripts)\n"
               "  --unprotect        on a read-protected board, regress the protection first (a read\n"
               "                     unprotect: erases the whole flash and resets the board)\n"
               "  --signature FILE   detached Ed25519 signature of the next image (repeatable, in image\n"
               "                     order); default: IMAGE.sig beside each image, when there is one\n"
               "  --patch ADDRESS:FORMAT:SEQUENCE  write each board's own value of SEQUENCE at\n"
               "                     ADDRESS (repeatable, at most 16); FORMAT: u32le, u32be, u64le,\n"
               "                     u64be, dec:N, hex:N, mac, bytes:N, str:N\n"
               "  --patch-erase      allow patches in sectors the image does not touch (erased)\n"
               "  --no-block         print the job paths and return at once\n\n"
               "With --json: {\"jobs\": [{\"path\", \"success\", \"message\", and the Job properties}]}.\n"
               "The Job property \"Values\" lists each board's (sequence, value) pairs.\n");
}

static int parse_flash_args(int argc, char *argv[], FlashOptions *o) {
        static const struct option options[] = {
                WRITE_LONG_OPTIONS,
                {"port", required_argument, NULL, OPT_PORT},
                {"serial", required_argument, NULL, OPT_SERIAL},
                {"station", required_argument, NULL, OPT_STATION},
                {"all", no_argument, NULL, OPT_ALL},
                {"wait", no_argument, NULL, OPT_WAIT},
                {"no-block", no_argument, NULL, OPT_NO_BLOCK},
                {"timeout", required_argument, NULL, OPT_TIMEOUT},
                {},
        };
        int c, r, targets;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                r = flash_options_parse_option(c, optarg, o);
                if (r < 0 || r == 0)
                        return EXIT_USAGE;
        }
        if (optind >= argc) {
                fprintf(stderr, "dfusctl flash: expected at least one image (see dfusctl flash --help).\n");
                return EXIT_USAGE;
        }
        targets = !!o->port + !!o->serial + !!o->station + o->all;
        if (targets > 1 || (o->all && o->wait)) {
                fprintf(stderr, "dfusctl flash: --port, --serial, --station, --all and --wait --all "
                                "exclude each other.\n");
                return EXIT_USAGE;
        }
        return EXIT_ACCEPTED;
}

/* The port paths of every attached board, for --all. */
static void strv_free_n(char **v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                free(v[i]);
        free(v);
}

/* The port paths of every attached board, for --all, in port order. */
static int list_ports(sd_bus *bus, const DfusctlContext *args, char ***ret, size_t *ret_n) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(json_object_putp) json_object *objects = NULL, *devices = NULL;
        char **ports;
        size_t n;
        int r;

        r = bus_get_managed_objects(bus, &error, &objects);
        if (r < 0)
                return bus_log_error(args, "list boards", &error, r);
        devices = managed_objects_filter(objects, DFUSD_IFACE_DEVICE);
        n = devices ? json_object_array_length(devices) : 0;
        ports = calloc(n + 1, sizeof(char *));
        if (!devices || !ports) {
                free(ports);
                return EXIT_IO;
        }
        for (size_t i = 0; i < n; i++)
                if (!(ports[i] =
                              strdup(json_get_str(json_object_array_get_idx(devices, i), "PortPath", "")))) {
                        strv_free_n(ports, i);
                        return EXIT_IO;
                }
        *ret = ports;
        *ret_n = n;
        return EXIT_ACCEPTED;
}

static int submit_one(sd_bus *bus, const DfusctlContext *args, const int *fds, size_t n_fds,
                      const FlashOptions *o, const char *port, char **ret_path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        FlashOptions one = *o;
        const char *path;
        int r;

        if (port)
                one.port = port;
        r = images_method_new(bus, "Submit", fds, n_fds, &m);
        if (r >= 0)
                r = flash_options_append(m, &one, true);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return bus_log_error(args, "build the request", &error, r);
        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0) {
                char what[128];

                snprintf(what, sizeof what, "submit the job%s%s", port ? " for " : "", port ?: "");
                return bus_log_error(args, what, &error, r);
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0 || !(*ret_path = strdup(path)))
                return bus_log_error(args, "read the job path", &error, r < 0 ? r : -ENOMEM);
        return EXIT_ACCEPTED;
}

static json_object *jobs_json(JobView *jobs, size_t n) {
        json_object *doc = json_object_new_object(), *array = json_object_new_array();

        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_get(jobs[i].props);

                json_object_object_add(o, "path", json_object_new_string(jobs[i].path));
                if (jobs[i].completed) {
                        json_object_object_add(o, "success", json_object_new_boolean(jobs[i].success));
                        json_object_object_add(o, "message", json_object_new_string(jobs[i].message ?: ""));
                }
                json_object_array_add(array, o);
        }
        json_object_object_add(doc, "jobs", array);
        return doc;
}

static int jobs_exit_status(JobView *jobs, size_t n, int submit_status) {
        bool cancelled = false, no_board = false;

        for (size_t i = 0; i < n; i++) {
                if (!jobs[i].completed)
                        continue;
                if (streq(json_get_str(jobs[i].props, "State", ""), "cancelled"))
                        cancelled = true;
                else if (!jobs[i].success && !json_get_str(jobs[i].props, "PortPath", "")[0])
                        /* It never got a board: --wait ran into its --timeout. */
                        no_board = true;
                else if (!jobs[i].success)
                        return EXIT_BOARD_FAILED;
        }
        if (submit_status != EXIT_ACCEPTED)
                return submit_status;
        return no_board ? EXIT_NO_BOARD : cancelled ? EXIT_CANCELLED : EXIT_ACCEPTED;
}

/* The daemon has read every image to its end before it replies; the next board's job reads them
 * again from the start through the same open files. With whence SEEK_CUR: only checks that it can. */
static int rewind_images(const int *fds, size_t n_fds, int whence) {
        for (size_t k = 0; k < n_fds; k++)
                if (lseek(fds[k], 0, whence) < 0) {
                        fprintf(stderr,
                                "dfusctl: --all reads each image once per board, and image %zu is a "
                                "pipe; pass a file instead.\n",
                                k + 1);
                        return EXIT_USAGE;
                }
        return EXIT_ACCEPTED;
}

static int submit_all(sd_bus *bus, const DfusctlContext *args, const FlashOptions *o, const int *fds,
                      size_t n_fds, Follow *f) {
        char **ports = NULL, *path = NULL;
        size_t n_ports = 0;
        int status = EXIT_ACCEPTED, r;

        if (o->all) {
                r = list_ports(bus, args, &ports, &n_ports);
                if (r != EXIT_ACCEPTED)
                        return r;
                if (n_ports == 0) {
                        fprintf(stderr, "dfusctl: No board attached.\n");
                        strv_free_n(ports, n_ports);
                        return EXIT_NO_BOARD;
                }
        }
        /* Before the first job, so that a pipe given to --all fails before anything runs. */
        if (n_ports > 1 && rewind_images(fds, n_fds, SEEK_CUR) != EXIT_ACCEPTED) {
                strv_free_n(ports, n_ports);
                return EXIT_USAGE;
        }
        for (size_t i = 0; i < MAX(n_ports, (size_t)1); i++) {
                r = i > 0 ? rewind_images(fds, n_fds, SEEK_SET) : EXIT_ACCEPTED;
                if (r != EXIT_ACCEPTED) {
                        status = r;
                        break;
                }
                r = submit_one(bus, args, fds, n_fds, o, ports ? ports[i] : NULL, &path);
                if (r != EXIT_ACCEPTED) {
                        if (status == EXIT_ACCEPTED)
                                status = r;
                        continue;
                }
                r = follow_add_job(f, path);
                free(path);
                if (r < 0) {
                        status = EXIT_IO;
                        break;
                }
        }
        strv_free_n(ports, n_ports);
        return status;
}

static void print_warnings(JobView *jobs, size_t n, char *const *paths, size_t n_paths) {
        _cleanup_free_ json_object **reports = calloc(n, sizeof(*reports));
        _cleanup_free_ const char **labels = calloc(n, sizeof(*labels));

        if (!reports || !labels)
                return;
        for (size_t i = 0; i < n; i++) {
                if (!json_object_object_get_ex(jobs[i].props, "Report", &reports[i]))
                        reports[i] = NULL;
                labels[i] = job_label(jobs[i].props);
        }
        report_print_warnings(reports, labels, n, paths, n_paths);
}

int verb_flash(int argc, char *argv[], const DfusctlContext *ctx) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(follow_freep) Follow *f = NULL;
        _cleanup_(flash_signatures_done) FlashSignatures sigs = {};
        FlashOptions o = FLASH_OPTIONS_INIT;
        Progress progress;
        int *fds = NULL, status, r;
        JobView *jobs;
        size_t n;

        o.signatures = &sigs;
        r = parse_flash_args(argc, argv, &o);
        if (r != EXIT_ACCEPTED)
                return r;
        r = flash_signatures_load(&sigs, ctx, argv + optind, argc - optind);
        if (r != EXIT_ACCEPTED)
                return r;
        r = flash_options_confirm_permanent(&o, "flash");
        if (r != EXIT_ACCEPTED)
                return r;
        r = images_open_connect(ctx, argv + optind, argc - optind, &fds, &bus);
        if (r != EXIT_ACCEPTED || !bus) /* without a bus: it ran on the host of -H */
                return r;
        /* Matches go in before Submit, so that no signal of a short job can be missed. */
        r = follow_new(bus, &f);
        if (r < 0) {
                r = bus_log_error(ctx, "subscribe to job signals", NULL, r);
                goto finish;
        }
        status = submit_all(bus, ctx, &o, fds, argc - optind, f);
        images_close(fds, argc - optind);
        fds = NULL;

        jobs = follow_jobs(f, &n);
        if (n == 0)
                return status;
        print_warnings(jobs, n, argv + optind, argc - optind);
        if (o.no_block) {
                if (ctx->json) {
                        _cleanup_(json_object_putp) json_object *doc = jobs_json(jobs, n);
                        (void)output_json(doc, stdout);
                } else
                        for (size_t i = 0; i < n; i++)
                                printf("%s\n", jobs[i].path);
                return status;
        }

        progress_init(&progress, stdout);
        r = follow_run(f, ctx->json ? NULL : &progress);
        if (r < 0)
                return bus_log_error(ctx, "follow the jobs", NULL, r);
        jobs = follow_jobs(f, &n);
        if (ctx->json) {
                _cleanup_(json_object_putp) json_object *doc = jobs_json(jobs, n);
                (void)output_json(doc, stdout);
        } else
                progress_finish(&progress, jobs, n);
        if (r != EXIT_ACCEPTED)
                return r;
        return jobs_exit_status(jobs, n, status);

finish:
        images_close(fds, argc - optind);
        return r;
}

#endif
