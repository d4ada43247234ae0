/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engine-flash: drives the DfuSe engine the way the daemon does (image -> sanitize -> plan -> execute),
 * one thread per board on one shared libusb context. The engine tests and benchmarks run it under
 * dfusd-sim; it prints one line per board:
 *   PORT ok|failed requests=N polls=N set_addresses=N erases=N skipped=N written=N elapsed_us=N [message]
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sanitize.h"
/* The private header too: --window shrinks the set-address window to test its wrap-around. */
#include "dfuse.h"

typedef struct Job {
        const char *port;
        const char *image;
        pthread_t thread;
        int r;
        DfuseStats stats;
        DfuError error;
        atomic_bool cancel;
        atomic_uint blocks;
        atomic_bool done;
        unsigned last_phase;
        uint64_t phase_done[_DFUSE_PHASE_MAX], phase_total[_DFUSE_PHASE_MAX];
        unsigned sectors_done, sectors_total; /* of the erase phase */
        bool backwards, leave_announced;
} Job;

typedef struct Args {
        uint32_t base;
        bool verify, leave, mass_erase, retry, info, own_context;
        unsigned skip;
        unsigned timeout_ms;
        unsigned cancel_after; /* write blocks; 0 = never */
        const char *read_back; /* directory */
        bool no_erase;
        unsigned window;         /* blocks per set-address, 0 = the engine's */
        const char *retry_steps; /* sent to dfusd-sim's control FIFO when an attempt failed */
        libusb_context *ctx;
} Args;

static Args args = {.base = 0x08000000, .leave = true};

/* Records the last report of each phase and whether the phases and their byte counts only went forward. */
static void on_progress(const DfuseProgress *p, void *userdata) {
        Job *job = userdata;

        if (p->phase == DFUSE_PHASE_WRITE)
                atomic_fetch_add(&job->blocks, 1);
        if (p->phase < job->last_phase || p->phase >= _DFUSE_PHASE_MAX ||
            p->bytes_done < job->phase_done[p->phase] || p->bytes_done > p->bytes_total)
                job->backwards = true;
        if (p->phase == DFUSE_PHASE_ERASE) {
                if (p->sectors_done < job->sectors_done || p->sectors_done > p->sectors_total)
                        job->backwards = true;
                job->sectors_done = p->sectors_done;
                job->sectors_total = p->sectors_total;
        }
        if (p->phase == DFUSE_PHASE_LEAVE)
                job->leave_announced = true;
        job->last_phase = p->phase;
        job->phase_done[p->phase] = p->bytes_done;
        job->phase_total[p->phase] = p->bytes_total;
}

static int prepare(Job *job, DfuseDevice *d, Plan **ret) {
        _cleanup_(image_freep) Image *image = NULL;
        _cleanup_(sanitize_report_freep) SanitizeReport *report = NULL;
        const DfuseInfo *info = dfuse_get_info(d);
        ImageLoadOptions lo = {.has_base = true, .base = args.base};
        SanitizeOptions so = {};
        PlanOptions po = {.mass_erase = args.mass_erase,
                          .verify = args.verify,
                          .leave = args.leave,
                          .skip = args.skip};
        int r;

        r = image_load_path(job->image, &lo, &image, &job->error);
        if (r < 0)
                return r;
        r = sanitize_image(image, info->map, &so, &report, &job->error);
        if (r < 0)
                return r;
        if (report->rejected)
                return dfu_error_set(&job->error, EINVAL, "image rejected: %s", report->reject_reason);
        if (info->map->n_layouts == 0)
                return dfu_error_set(&job->error, EINVAL, "the board reports no memory map");
        return plan_build(report->kept, &info->map->layouts[0], info->transfer_size, info->part, &po, ret,
                          &job->error);
}

/* Reads the first run back with dfuse_read() into PORT.read in the --read-back directory. */
static int read_back(Job *job, DfuseDevice *d, const Plan *plan) {
        char path[512];

        if (plan->n_runs == 0)
                return 0;
        const PlanRun *run = &plan->runs[0];
        _cleanup_free_ uint8_t *buf = malloc(run->size);
        if (!buf)
                return -ENOMEM;
        int r = dfuse_read(d, run->alt_setting, run->address, buf, run->size, &job->cancel, &job->error);
        if (r < 0)
                return r;
        (void)snprintf(path, sizeof(path), "%s/%s.read", args.read_back, job->port);
        _cleanup_fclose_ FILE *f = fopen(path, "we");
        if (!f || fwrite(buf, 1, run->size, f) != run->size)
                return dfu_error_set(&job->error, EIO, "cannot write %s", path);
        return 0;
}

static int run_once(Job *job) {
        _cleanup_(dfuse_closep) DfuseDevice *d = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        int r;

        /* NULL: the device gets a libusb context of its own. */
        r = dfuse_open(args.own_context ? NULL : args.ctx, job->port, &d, &job->error);
        if (r < 0)
                return r;
        if (args.timeout_ms)
                dfuse_set_timeout(d, args.timeout_ms);
        if (args.window)
                dfuse_set_window(d, args.window);
        if (args.info) {
                const DfuseInfo *info = dfuse_get_info(d);
                printf("%s info vid=%04x pid=%04x bcd=%04x transfer_size=%u attributes=0x%02x dfu=%04x "
                       "part=%s serial=%s quirks=0x%x alts=%u\n",
                       job->port, info->vid, info->pid, info->bcd_device, info->transfer_size,
                       info->attributes, info->dfu_version, info->part ? info->part->name : "-",
                       info->serial, dfuse_get_quirks(d), info->n_alt);
                for (unsigned a = 0; a < info->n_alt; a++)
                        printf("%s alt%u \"%s\"\n", job->port, a, info->alt_strings[a]);
        }
        r = prepare(job, d, &plan);
        if (r < 0)
                return r;
        /* Plans are data: dropping the erases shows what the verify step says about unerased flash. */
        if (args.no_erase)
                plan->n_erases = 0;
        memset(job->phase_done, 0, sizeof(job->phase_done));
        job->last_phase = 0;
        job->backwards = false;
        job->leave_announced = false;
        job->sectors_done = job->sectors_total = 0;
        r = dfuse_execute(d, plan, on_progress, job, &job->cancel, &job->stats, &job->error);
        if (r < 0 || !args.read_back)
                return r;
        return read_back(job, d, plan);
}

/*
 * The board is brought back (replugged, or pulled and replugged after a hang) when the failure has
 * happened, not at a time a script guessed it would have: the order does not depend on the machine.
 */
static void send_steps(const char *steps) {
        const char *path = getenv("DFUSD_SIM_CONTROL");
        FILE *f;

        if (!steps)
                return;
        if (!path || !(f = fopen(path, "w")) || fputs(steps, f) < 0 || fclose(f) != 0)
                fprintf(stderr, "cannot send \"%s\" to DFUSD_SIM_CONTROL\n", steps);
}

static void *job_thread(void *p) {
        Job *job = p;

        job->r = run_once(job);
        /*
         * A board that failed must take the next job: open it again (once the simulator has replugged or
         * released it) and flash it completely.
         */
        if (job->r < 0 && args.retry) {
                struct timespec start, now;
                clock_gettime(CLOCK_MONOTONIC, &start);
                fprintf(stderr, "%s: first attempt failed: %s\n", job->port, dfu_error_message(&job->error));
                send_steps(args.retry_steps);
                do {
                        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
                        job->error = (DfuError)DFU_ERROR_INIT;
                        atomic_store(&job->cancel, false);
                        job->r = run_once(job);
                        clock_gettime(CLOCK_MONOTONIC, &now);
                        /* only bounds a board that never comes back: the steps bring it back at once */
                } while (job->r < 0 && now.tv_sec - start.tv_sec < 60);
        }
        atomic_store(&job->done, true);
        return NULL;
}

static int parse_skip(const char *s) {
        if (streq(s, "none"))
                args.skip = 0;
        else if (streq(s, "identical"))
                args.skip = PLAN_SKIP_IDENTICAL;
        else if (streq(s, "blank"))
                args.skip = PLAN_SKIP_BLANK;
        else if (streq(s, "both"))
                args.skip = PLAN_SKIP_IDENTICAL | PLAN_SKIP_BLANK;
        else
                return -EINVAL;
        return 0;
}

static int parse_args(int argc, char **argv) {
        static const struct option options[] = {
                {"base", required_argument, NULL, 'b'},
                {"verify", no_argument, NULL, 'v'},
                {"no-leave", no_argument, NULL, 'n'},
                {"mass-erase", no_argument, NULL, 'm'},
                {"skip", required_argument, NULL, 's'},
                {"timeout", required_argument, NULL, 't'},
                {"cancel-after", required_argument, NULL, 'c'},
                {"retry", no_argument, NULL, 'r'},
                {"info", no_argument, NULL, 'i'},
                {"context-per-board", no_argument, NULL, 'x'},
                {"read-back", required_argument, NULL, 'R'},
                {"no-erase", no_argument, NULL, 'E'},
                {"window", required_argument, NULL, 'w'},
                {"retry-steps", required_argument, NULL, 'S'},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case 'b':
                        args.base = (uint32_t)strtoul(optarg, NULL, 0);
                        break;
                case 'v':
                        args.verify = true;
                        break;
                case 'n':
                        args.leave = false;
                        break;
                case 'm':
                        args.mass_erase = true;
                        break;
                case 's':
                        if (parse_skip(optarg) < 0)
                                return -EINVAL;
                        break;
                case 't':
                        args.timeout_ms = (unsigned)strtoul(optarg, NULL, 0);
                        break;
                case 'c':
                        args.cancel_after = (unsigned)strtoul(optarg, NULL, 0);
                        break;
                case 'r':
                        args.retry = true;
                        break;
                case 'i':
                        args.info = true;
                        break;
                case 'x':
                        args.own_context = true;
                        break;
                case 'R':
                        args.read_back = optarg;
                        break;
                case 'E':
                        args.no_erase = true;
                        break;
                case 'w':
                        args.window = (unsigned)strtoul(optarg, NULL, 0);
                        break;
                case 'S':
                        args.retry_steps = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        }
        return optind;
}

/* Cancels from outside the worker, as the daemon's bus thread would, once enough blocks went out. */
static void cancel_watch(Job *jobs, int n) {
        for (bool pending = true; pending;) {
                pending = false;
                for (int i = 0; i < n; i++) {
                        if (atomic_load(&jobs[i].done) || atomic_load(&jobs[i].cancel))
                                continue;
                        if (atomic_load(&jobs[i].blocks) >= args.cancel_after)
                                atomic_store(&jobs[i].cancel, true);
                        else
                                pending = true;
                }
                nanosleep(&(struct timespec){0, 200 * 1000}, NULL);
        }
}

int main(int argc, char **argv) {
        int first = parse_args(argc, argv), n, failed = 0;

        if (first < 0 || first >= argc) {
                fprintf(stderr,
                        "usage: engine-flash [--base ADDR] [--verify] [--no-leave] [--mass-erase] "
                        "[--skip none|identical|blank|both] [--timeout MS] [--cancel-after BLOCKS] "
                        "[--retry [--retry-steps STEPS]] "
                        "[--info] [--context-per-board] [--read-back DIR] [--no-erase] [--window BLOCKS] "
                        "PORT=IMAGE...\n");
                return 2;
        }
        n = argc - first;
        Job *jobs = calloc((size_t)n, sizeof(Job));
        if (!jobs || libusb_init(&args.ctx) < 0)
                return 1;

        for (int i = 0; i < n; i++) {
                char *eq = strchr(argv[first + i], '=');
                if (!eq) {
                        fprintf(stderr, "engine-flash: expected PORT=IMAGE, got \"%s\"\n", argv[first + i]);
                        return 2;
                }
                *eq = 0;
                jobs[i].port = argv[first + i];
                jobs[i].image = eq + 1;
        }
        for (int i = 0; i < n; i++)
                if (pthread_create(&jobs[i].thread, NULL, job_thread, &jobs[i]) != 0)
                        return 1;
        if (args.cancel_after)
                cancel_watch(jobs, n);
        for (int i = 0; i < n; i++) {
                Job *j = &jobs[i];
                (void)pthread_join(j->thread, NULL);
                printf("%s %s requests=%u polls=%u set_addresses=%u erases=%u skipped=%u written=%llu "
                       "verified=%llu stalls=%u stuck=%u elapsed_us=%llu%s%s\n",
                       j->port, j->r < 0 ? "failed" : "ok", j->stats.requests, j->stats.polls,
                       j->stats.set_addresses, j->stats.erases_done, j->stats.erases_skipped,
                       (unsigned long long)j->stats.bytes_written,
                       (unsigned long long)j->stats.bytes_verified, j->stats.stalls_tolerated,
                       j->stats.stuck_released, (unsigned long long)j->stats.elapsed_us, j->r < 0 ? " " : "",
                       j->r < 0 ? dfu_error_message(&j->error) : "");
                printf("%s progress read=%llu/%llu erase=%llu/%llu write=%llu/%llu verify=%llu/%llu done=%s "
                       "forward=%s leave=%s sectors=%u/%u\n",
                       j->port, (unsigned long long)j->phase_done[DFUSE_PHASE_READ],
                       (unsigned long long)j->phase_total[DFUSE_PHASE_READ],
                       (unsigned long long)j->phase_done[DFUSE_PHASE_ERASE],
                       (unsigned long long)j->phase_total[DFUSE_PHASE_ERASE],
                       (unsigned long long)j->phase_done[DFUSE_PHASE_WRITE],
                       (unsigned long long)j->phase_total[DFUSE_PHASE_WRITE],
                       (unsigned long long)j->phase_done[DFUSE_PHASE_VERIFY],
                       (unsigned long long)j->phase_total[DFUSE_PHASE_VERIFY],
                       j->last_phase == DFUSE_PHASE_DONE ? "yes" : "no", j->backwards ? "no" : "yes",
                       j->leave_announced ? "yes" : "no", j->sectors_done, j->sectors_total);
                failed += j->r < 0;
        }
        fflush(stdout);
        libusb_exit(args.ctx);
        free(jobs);
        return failed ? 1 : 0;
}
