/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "context.h"
#include "hotplug.h"
#include "log.h"
#include "parse-util.h"

/* dfusd: flashes STM32 boards in their ROM DFU bootloader, for callers on D-Bus. */

typedef struct Args {
        bool user;
        const char *config;
        const char *state_dir;
        const char *runtime_dir;
        unsigned max_parallel;
        bool verbose;
} Args;

static void help(void) {
        printf("dfusd [OPTIONS...]\n\n"
               "Flashes STM32 boards in their ROM DFU bootloader, for callers on D-Bus.\n\n"
               "  -h --help               Show this help\n"
               "     --version            Show the version\n"
               "     --user               Serve on the session bus instead of the system bus\n"
               "     --config FILE        Configuration file (default /etc/dfusd/dfusd.conf)\n"
               "     --state-dir DIR      Job journal, spool and rules (default $STATE_DIRECTORY)\n"
               "     --runtime-dir DIR    Accepted for compatibility; unused\n"
               "     --max-parallel N     Boards flashed at the same time\n"
               "  -v --verbose            Log debug messages\n");
}

static int parse_args(int argc, char *argv[], Args *a) {
        enum { ARG_VERSION = 0x100, ARG_USER, ARG_CONFIG, ARG_STATE_DIR, ARG_RUNTIME_DIR, ARG_MAX_PARALLEL };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"user", no_argument, NULL, ARG_USER},
                {"config", required_argument, NULL, ARG_CONFIG},
                {"state-dir", required_argument, NULL, ARG_STATE_DIR},
                {"runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR},
                {"max-parallel", required_argument, NULL, ARG_MAX_PARALLEL},
                {"verbose", no_argument, NULL, 'v'},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "hv", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("dfusd %s\n", DFUSD_VERSION);
                        return 0;
                case ARG_USER:
                        a->user = true;
                        break;
                case ARG_CONFIG:
                        a->config = optarg;
                        break;
                case ARG_STATE_DIR:
                        a->state_dir = optarg;
                        break;
                case ARG_RUNTIME_DIR:
                        a->runtime_dir = optarg;
                        break;
                case ARG_MAX_PARALLEL: {
                        uint64_t v;
                        if (parse_uint64(optarg, 10, 1024, &v) < 0 || v < 1)
                                return log_error_errno(EINVAL, "Invalid --max-parallel: %s (1..1024)",
                                                       optarg);
                        a->max_parallel = (unsigned)v;
                        break;
                }
                case 'v':
                        a->verbose = true;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "Unexpected argument: %s", argv[optind]);
        return 1;
}

/* $STATE_DIRECTORY may list several directories separated by ':'; the first is ours. */
static char *first_dir(const char *list) {
        return list ? strndup(list, strcspn(list, ":")) : NULL;
}

static int setup_dirs(Context *ctx, const Args *a) {
        Config *c = &ctx->manager->config;

        if (a->state_dir) {
                free(c->state_dir);
                c->state_dir = strdup(a->state_dir);
        } else if (getenv("STATE_DIRECTORY")) {
                free(c->state_dir);
                c->state_dir = first_dir(getenv("STATE_DIRECTORY"));
        } else if (!c->state_dir) {
                const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
                if (!a->user)
                        c->state_dir = strdup("/var/lib/dfusd");
                else if (xdg && asprintf(&c->state_dir, "%s/dfusd", xdg) < 0)
                        c->state_dir = NULL;
                else if (!xdg && home && asprintf(&c->state_dir, "%s/.local/state/dfusd", home) < 0)
                        c->state_dir = NULL;
        }
        if (!c->state_dir)
                return log_error_errno(EINVAL, "No state directory: pass --state-dir.");
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Context *ctx = userdata;

        log_info("Received %s, stopping.", strsignal((int)si->ssi_signo));
        (void)sd_notify(false, "STOPPING=1\nSTATUS=Stopping.");
        /* Running jobs stop between two transfers and stay unfinished in the store: resumed next time. */
        manager_stop(ctx->manager);
        return sd_event_exit(ctx->event, 0);
}

static int run(const Args *a) {
        _cleanup_(context_freep) Context *ctx = NULL;
        _cleanup_free_ char *error = NULL;
        sigset_t mask;
        int r;

        r = context_new(&ctx);
        if (r < 0)
                return log_error_errno(r, "Failed to set up: %m");
        ctx->user = ctx->manager->user = a->user;
        r = config_load(&ctx->manager->config, a->config ? a->config : "/etc/dfusd/dfusd.conf");
        if (r < 0)
                return r;
        if (a->max_parallel)
                ctx->manager->config.max_parallel = a->max_parallel;
        config_log_trust(&ctx->manager->config);
        r = setup_dirs(ctx, a);
        if (r < 0)
                return r;

        /* Blocked before any thread starts, so that only the event loop sees them. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        (void)sd_event_add_signal(ctx->event, NULL, SIGTERM, on_signal, ctx);
        (void)sd_event_add_signal(ctx->event, NULL, SIGINT, on_signal, ctx);
        r = sd_event_set_watchdog(ctx->event, true);
        if (r < 0)
                log_warning_errno(r, "Failed to enable the watchdog: %m");

        /* One instance per state directory and per bus, decided before any board, job or record is
         * touched: a second dfusd changes nothing. */
        r = context_lock_state_dir(ctx);
        if (r < 0)
                return r;
        r = bus_new(ctx->manager, a->user, &ctx->bus);
        if (r < 0)
                return r;

        r = libusb_init(&ctx->usb);
        if (r < 0)
                return log_error_errno(EIO, "Failed to initialize libusb: %s", libusb_error_name(r));
        r = manager_start(ctx->manager, &error);
        if (r < 0)
                return log_error_errno(r, "Failed to open the job store: %s", error ? error : strerror(-r));
        r = hotplug_setup(ctx);
        if (r < 0)
                return r;
        if (ctx->probes_pending == 0)
                context_ready(ctx);

        r = sd_event_loop(ctx->event);
        if (r < 0)
                return log_error_errno(r, "Exiting with failure: %m");
        return 0;
}

int main(int argc, char *argv[]) {
        Args a = {};
        int r;

        /* One malloc arena per worker thread would keep freed image buffers resident: 32 boards at once
         * must stay within a small RSS budget. */
        (void)mallopt(M_ARENA_MAX, 2);

        r = parse_args(argc, argv, &a);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        if (a.verbose)
                log_set_max_level(LOG_LEVEL_DEBUG);
        r = run(&a);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
