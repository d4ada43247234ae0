/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfusctl.h"
#include "output.h"
#include "remote.h"
#include "verbs-bus.h"

/*
 * One entry per verb; a verb lives in client/<verb>.c. Verbs that talk to the daemon go inside the
 * DFUSCTL_HAVE_BUS block, so a build without libsystemd still inspects images.
 */
static const DfusctlVerb verbs[] = {
        {"inspect", "[OPTIONS] IMAGE...", "Show what a board would get: verdicts per segment and the plan",
         verb_inspect, verb_inspect_help},
        {"keygen", "NAME", "Make an Ed25519 key pair for signing images", verb_keygen, verb_keygen_help},
        {"sign", "--key KEY IMAGE...", "Write IMAGE.sig, a signature dfusd checks", verb_sign,
         verb_sign_help},
#ifdef DFUSCTL_HAVE_BUS
        {"devices", "", "List the attached boards", verb_devices, verb_devices_help},
        {"flash", "IMAGE... [OPTIONS]", "Write images to one or more boards", verb_flash, verb_flash_help},
        {"jobs", "[--all]", "List the jobs", verb_jobs, verb_jobs_help},
        {"job", "ID", "Show one job with its report", verb_job, verb_job_help},
        {"cancel", "ID", "Cancel a job", verb_cancel, verb_cancel_help},
        {"watch", "", "Follow every board and job live", verb_watch, verb_watch_help},
        {"rule", "add|list|remove ...", "Flash boards automatically when they attach", verb_rule,
         verb_rule_help},
        {"sequence", "add|list|show|remove", "Per-board values: counters and lists", verb_sequence,
         verb_sequence_help},
        {"history", "[OPTIONS]", "Show the job history", verb_history, verb_history_help},
#endif
};

static void help(void) {
        printf("Usage: dfusctl [OPTIONS] COMMAND ...\n\n"
               "Flash STM32 boards through their USB DFU (DfuSe) bootloader, via the dfusd daemon.\n\n"
               "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                printf("  %-8s %-20s %s\n", verbs[i].name, verbs[i].synopsis, verbs[i].summary);
        printf("\nOptions:\n"
               "  -h --help           Show this help (dfusctl COMMAND --help: the command's own)\n"
               "     --version        Show the version\n"
               "     --json           Print one JSON document on stdout instead of text\n"
               "     --user           Talk to the daemon on the session bus\n"
               "  -H --host=[USER@]HOST  Talk to the daemon on a remote host over ssh\n"
               "     --no-legend      Omit column headers and totals\n"
               "\nExit status:\n"
               "  0  accepted / success\n"
               "  1  the image was rejected\n"
               "  2  bad command line, or nothing to act on (no such job or rule, job already ended)\n"
               "  3  a file could not be read, parsed or written\n"
               "  4  no board matched\n"
               "  5  a board failed its job\n"
               "  6  the daemon could not be reached\n"
               "  7  a job was cancelled\n"
               "  8  the files sent over -H arrived cut short or malformed\n"
               "\nColour is used on a terminal only, never when NO_COLOR is set.\n"
               "The JSON keys of each command are listed in its --help and stay stable.\n");
}

/* Global options may stand anywhere before "--"; what is not one is left for the verb, in order. */
static int parse_globals(int argc, char *argv[], DfusctlContext *ctx, int *ret_argc, bool *ret_help,
                         bool *ret_version) {
        int out = 1;
        bool rest = false;

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];

                if (rest) {
                        argv[out++] = argv[i];
                        continue;
                }
                if (streq(a, "--")) {
                        rest = true;
                        argv[out++] = argv[i];
                } else if (streq(a, "--json"))
                        ctx->json = true;
                else if (streq(a, "--user"))
                        ctx->user = true;
                else if (streq(a, "--images-from-stdin"))
                        ctx->images_from_stdin = true;
                else if (streq(a, "--no-legend"))
                        ctx->no_legend = true;
                else if (streq(a, "--version"))
                        *ret_version = true;
                else if (streq(a, "-h") || streq(a, "--help"))
                        *ret_help = true;
                else if (streq(a, "-H") || streq(a, "--host")) {
                        if (i + 1 >= argc) {
                                fprintf(stderr, "dfusctl: option %s needs an argument\n", a);
                                return -1;
                        }
                        ctx->host = argv[++i];
                } else if (strncmp(a, "--host=", 7) == 0)
                        ctx->host = a + 7;
                else if (strncmp(a, "-H", 2) == 0)
                        ctx->host = a + 2;
                else
                        argv[out++] = argv[i];
        }
        argv[out] = NULL;
        *ret_argc = out;
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(remote_files_done) RemoteFiles files = {};
        DfusctlContext ctx = {.files = &files};
        bool want_help = false, want_version = false;
        int n;

        if (parse_globals(argc, argv, &ctx, &n, &want_help, &want_version) < 0)
                return EXIT_USAGE;
        ctx.color = !ctx.json && output_want_color(stdout);

        if (ctx.images_from_stdin && ctx.host) {
                fprintf(stderr, "dfusctl: --images-from-stdin is what -H runs on the host; not both.\n");
                return EXIT_USAGE;
        }
        if (want_version) {
                printf("dfusctl %s\n", DFUSD_VERSION);
                return EXIT_ACCEPTED;
        }
        if (n < 2) {
                if (want_help) {
                        help();
                        return EXIT_ACCEPTED;
                }
                fprintf(stderr, "dfusctl: missing command; see dfusctl --help\n");
                return EXIT_USAGE;
        }

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(argv[1], verbs[i].name))
                        continue;
                if (want_help) {
                        if (verbs[i].help)
                                verbs[i].help();
                        else
                                help();
                        return EXIT_ACCEPTED;
                }
                if (ctx.images_from_stdin) {
                        int r = remote_receive(&files);
                        if (r != EXIT_ACCEPTED)
                                return r;
                }
                ctx.argc = n - 1;
                ctx.argv = argv + 1;
                return verbs[i].run(n - 1, argv + 1, &ctx);
        }

        if (want_help) {
                help();
                return EXIT_ACCEPTED;
        }
        fprintf(stderr, "dfusctl: unknown command \"%s\"; see dfusctl --help\n", argv[1]);
        return EXIT_USAGE;
}
