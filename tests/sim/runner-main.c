/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dfusd-sim: runs a command while simulated STM32 DFU bootloaders sit on a umockdev USB bus, then
 * dumps what the boards hold. The command sees them through unmodified libusb and libudev.
 */
#include "runner.h" /* first: see testbed.h */

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <umockdev.h>
#include <unistd.h>

#define PRELOAD_LIB  "libumockdev-preload.so.0"
#define BOARDS_UNSET INT_MIN

typedef struct Runner {
        /* options */
        int n_boards;
        char **part_names;
        double time_scale;
        char *script_path;
        char *dump_dir;
        gboolean read_protected;
        char *ports_opt;
        int hold_until_busy;
        char *control_opt;

        const PartInfo **parts;
        unsigned n_parts;
        char **ports;
        char **command;
        Testbed *testbed;
        Script *script;
        char *control_path; /* FIFO of steps from the command, see control_open() */
        int control_fd;
        GString *control_buf;
        guint control_source;
        GMainLoop *loop;
        GPid child;
        int child_status;
} Runner;

static void runner_done(Runner *r) {
        if (r->control_source)
                g_source_remove(r->control_source);
        safe_close(r->control_fd);
        if (r->control_path)
                (void)g_unlink(r->control_path);
        g_free(r->control_path);
        if (r->control_buf)
                g_string_free(r->control_buf, TRUE);
        if (r->loop)
                g_main_loop_unref(r->loop);
        script_free(r->script);
        testbed_free(r->testbed);
        g_strfreev(r->ports);
        g_free(r->parts);
        g_strfreev(r->part_names);
        g_free(r->script_path);
        g_free(r->dump_dir);
        g_free(r->ports_opt);
        g_free(r->control_opt);
}

static const char help_text[] =
        "Starts N simulated STM32 DFU bootloaders on a umockdev USB bus (ports 1-1 ... 1-8, then hubs\n"
        "1-9.1 ... 1-9.7, 1-10.1 ...), runs COMMAND under it (UMOCKDEV_DIR and LD_PRELOAD set, plus\n"
        "DFUSD_SIM_BOARDS and DFUSD_SIM_PORTS), and exits with COMMAND's status. With --dump-dir, each\n"
        "board's flash goes to DIR/<port>.bin and its part, serial and counters to DIR/<port>.json,\n"
        "and DIR/rack.json gives boards_busy_max, the most boards busy at once (a board is busy from its\n"
        "first download with data until it leaves the bus). --hold-until-busy N keeps every busy board's\n"
        "operations from ending (polls answer dfuDNBUSY) until N boards have been busy at once.\n"
        "--part may repeat: boards take the parts in order, the last one repeats.\n"
        "\n"
        "Script (--script FILE), one step per line, '#' comments:\n"
        "  [at SECONDS] plug PORT [part=NAME] [protected]\n"
        "  [at SECONDS] unplug PORT\n"
        "  [at SECONDS] board PORT unplug|hang [phase=P] [after=N]\n"
        "  [at SECONDS] board PORT stall [count=N] [phase=P] [after=N | poll=N]\n"
        "  [at SECONDS] board PORT status errNAME|NUMBER [phase=P] [after=N]\n"
        "  [at SECONDS] release   (boards held by --hold-until-busy go on)\n"
        "SECONDS: wall-clock time after COMMAND started (no --time-scale); without \"at\" the step happens\n"
        "before COMMAND starts. P: any, erase, write, read, leave; the fault fires at the first request\n"
        "of the phase after N more of them. plug on a port whose board left brings that board back.\n"
        "COMMAND may also write steps (without \"at\"), one per line, to the FIFO named by\n"
        "DFUSD_SIM_CONTROL (--control PATH: created there, for a test that drives dfusd-sim from outside):\n"
        "each runs when its line arrives, so a test acts when it is ready.";

static int parse_options(Runner *r, int *argc, char ***argv, DfuError *error) {
        const GOptionEntry entries[] = {
                {"boards", 'n', 0, G_OPTION_ARG_INT, &r->n_boards,
                 "Number of boards (default 1; 0: only what the script plugs)", "N"},
                {"part", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &r->part_names,
                 "Part of the boards (default f405)", "NAME"},
                {"time-scale", 't', 0, G_OPTION_ARG_DOUBLE, &r->time_scale,
                 "Scale of the datasheet timing (default 1.0; 0.001 = 1000x faster)", "X"},
                {"script", 's', 0, G_OPTION_ARG_FILENAME, &r->script_path, "Plug, unplug and fault script",
                 "FILE"},
                {"dump-dir", 'd', 0, G_OPTION_ARG_FILENAME, &r->dump_dir, "Write flash and counters here",
                 "DIR"},
                {"protected", 0, 0, G_OPTION_ARG_NONE, &r->read_protected, "Boards start read-protected",
                 NULL},
                {"ports", 0, 0, G_OPTION_ARG_STRING, &r->ports_opt,
                 "Port paths of the boards, comma-separated", "LIST"},
                {"hold-until-busy", 0, 0, G_OPTION_ARG_INT, &r->hold_until_busy,
                 "Busy boards hold their operations until N are busy at once", "N"},
                {"control", 0, 0, G_OPTION_ARG_FILENAME, &r->control_opt,
                 "Create the control FIFO (DFUSD_SIM_CONTROL) here", "PATH"},
                {},
        };
        g_autoptr(GOptionContext) ctx = g_option_context_new("-- COMMAND [ARG...]");
        g_autoptr(GError) gerror = NULL;

        g_option_context_set_summary(ctx,
                                     "Runs COMMAND with simulated STM32 DFU bootloaders on the USB bus.");
        g_option_context_set_description(ctx, help_text);
        g_option_context_add_main_entries(ctx, entries, NULL);
        g_option_context_set_strict_posix(ctx, TRUE);
        if (!g_option_context_parse(ctx, argc, argv, &gerror))
                return dfu_error_set(error, EINVAL, "%s", gerror->message);

        char **rest = *argv + 1;
        if (*rest && streq(*rest, "--"))
                rest++;
        if (!*rest)
                return dfu_error_set(error, EINVAL,
                                     "No command given: dfusd-sim [OPTION...] -- COMMAND [ARG...]");
        r->command = rest;
        if (!(r->time_scale > 0 && r->time_scale <= 1000))
                return dfu_error_set(error, EINVAL, "--time-scale must be a number in (0, 1000]");
        if (r->hold_until_busy < 0 || r->hold_until_busy > 100)
                return dfu_error_set(error, EINVAL, "--hold-until-busy must be between 0 and 100, got %d",
                                     r->hold_until_busy);
        return 0;
}

static int resolve_parts(Runner *r, DfuError *error) {
        const char *dflt[] = {"f405", NULL};
        const char *const *names = r->part_names ? (const char *const *)r->part_names : dflt;

        r->n_parts = g_strv_length((char **)names);
        r->parts = g_new0(const PartInfo *, r->n_parts);
        for (unsigned i = 0; i < r->n_parts; i++) {
                r->parts[i] = part_find(names[i]);
                if (!r->parts[i]) {
                        g_autoptr(GString) known = g_string_new(NULL);
                        for (unsigned k = 0; k < part_table_size; k++)
                                g_string_append_printf(known, "%s%s", k ? ", " : "", part_table[k].name);
                        return dfu_error_set(error, EINVAL,
                                             "Unknown part \"%s\" (--part): expected one of %s", names[i],
                                             known->str);
                }
        }
        return 0;
}

/* 1-1 ... 1-8 on the root hub, then 7-port hubs on root ports 9, 10, ... */
static char *default_port(unsigned i) {
        if (i < 8)
                return g_strdup_printf("1-%u", i + 1);
        return g_strdup_printf("1-%u.%u", 9 + (i - 8) / 7, (i - 8) % 7 + 1);
}

static int resolve_ports(Runner *r, DfuError *error) {
        if (r->ports_opt) {
                r->ports = g_strsplit(r->ports_opt, ",", -1);
                unsigned n = g_strv_length(r->ports);
                for (unsigned i = 0; i < n; i++) {
                        g_strstrip(r->ports[i]);
                        for (unsigned k = 0; k < i; k++)
                                if (streq(r->ports[k], r->ports[i]))
                                        return dfu_error_set(error, EINVAL, "--ports: %s is listed twice",
                                                             r->ports[i]);
                        if (!testbed_port_valid(r->ports[i]))
                                return dfu_error_set(
                                        error, EINVAL,
                                        "--ports: item %u \"%s\": expected a port path such as 1-3 or 1-9.2",
                                        i + 1, r->ports[i]);
                }
                if (r->n_boards >= 0 && (unsigned)r->n_boards != n)
                        return dfu_error_set(error, EINVAL, "--boards %d but --ports lists %u ports",
                                             r->n_boards, n);
                r->n_boards = (int)n;
                return 0;
        }
        if (r->n_boards == BOARDS_UNSET)
                r->n_boards = 1;
        if (r->n_boards < 0 || r->n_boards > 100)
                return dfu_error_set(error, EINVAL, "--boards must be between 0 and 100, got %d",
                                     r->n_boards);
        r->ports = g_new0(char *, r->n_boards + 1);
        for (int i = 0; i < r->n_boards; i++)
                r->ports[i] = default_port((unsigned)i);
        return 0;
}

static const PartInfo *part_for_index(const Runner *r, unsigned i) {
        return r->parts[MIN(i, r->n_parts - 1)];
}

static int runner_plug(Runner *r, const char *port, const PartInfo *part, bool prot, DfuError *error) {
        if (testbed_find(r->testbed, port))
                return testbed_replug(r->testbed, port, error);
        SimBoard *sim = runner_make_board(part, port, r->time_scale, prot);
        if (!sim)
                return dfu_error_set(error, ENOMEM, "Cannot build a %s board for %s", part->name, port);
        return testbed_add_board(r->testbed, port, part, sim, error);
}

static int run_step(Runner *r, const ScriptStep *st, DfuError *error) {
        int k;

        switch (st->action) {
        case SCRIPT_PLUG:
                return runner_plug(r, st->port, st->part ?: part_for_index(r, UINT_MAX), st->protected_,
                                   error);
        case SCRIPT_UNPLUG:
                k = testbed_unplug(r->testbed, st->port);
                break;
        case SCRIPT_FAULT:
                k = testbed_inject(r->testbed, st->port, &st->fault);
                break;
        case SCRIPT_RELEASE:
                testbed_hold_until_busy(r->testbed, 0);
                return 0;
        default:
                k = -EINVAL;
        }
        if (k == -ENOENT)
                return dfu_error_set(error, ENOENT, "%s:%u: no board at %s", r->script_path, st->line,
                                     st->port);
        if (k < 0)
                return dfu_error_set(error, -k, "%s:%u: cannot act on %s: %s", r->script_path, st->line,
                                     st->port, g_strerror(-k));
        return 0;
}

/*
 * Steps the command sends when it is ready for them (a job waiting, a monitor listening): a test that
 * plugs a board through the FIFO depends on the order of its own actions, not on a script's clock.
 */
static void control_line(Runner *r, const char *line) {
        _cleanup_(script_freep) Script *script = NULL;
        DfuError error = DFU_ERROR_INIT;

        if (script_parse("DFUSD_SIM_CONTROL", line, &script, &error) < 0) {
                g_printerr("dfusd-sim: %s\n", dfu_error_message(&error));
                return;
        }
        for (size_t i = 0; i < script->n_steps; i++) {
                if (script->steps[i].timed)
                        g_printerr("dfusd-sim: DFUSD_SIM_CONTROL: \"at\" does not apply here: %s\n", line);
                else if (run_step(r, &script->steps[i], &error) < 0)
                        g_printerr("dfusd-sim: %s\n", dfu_error_message(&error));
                error = (DfuError)DFU_ERROR_INIT;
        }
}

static gboolean control_cb(gint fd, GIOCondition condition, gpointer userdata) {
        Runner *r = userdata;
        char buf[4096];
        ssize_t n;

        while ((n = read(fd, buf, sizeof(buf))) > 0)
                g_string_append_len(r->control_buf, buf, n);
        for (char *nl; (nl = memchr(r->control_buf->str, '\n', r->control_buf->len));) {
                *nl = '\0';
                g_autofree char *line = g_strdup(r->control_buf->str);
                g_string_erase(r->control_buf, 0, nl - r->control_buf->str + 1);
                control_line(r, line);
        }
        return G_SOURCE_CONTINUE;
}

/* Opened for reading and writing: a writer that closes never leaves us an end of file to spin on. */
static int control_open(Runner *r, DfuError *error) {
        r->control_path =
                r->control_opt ? g_strdup(r->control_opt)
                               : g_build_filename(testbed_root_dir(r->testbed), "dfusd-sim-control", NULL);
        if (mkfifo(r->control_path, 0600) < 0)
                return dfu_error_set(error, errno, "Cannot create %s: %m", r->control_path);
        r->control_fd = open(r->control_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (r->control_fd < 0)
                return dfu_error_set(error, errno, "Cannot open %s: %m", r->control_path);
        r->control_buf = g_string_new(NULL);
        r->control_source = g_unix_fd_add(r->control_fd, G_IO_IN, control_cb, r);
        g_setenv("DFUSD_SIM_CONTROL", r->control_path, TRUE);
        return 0;
}

typedef struct TimedStep {
        Runner *runner;
        const ScriptStep *step;
} TimedStep;

static gboolean timed_step_cb(gpointer userdata) {
        TimedStep *ts = userdata;
        DfuError error = DFU_ERROR_INIT;

        if (run_step(ts->runner, ts->step, &error) < 0)
                g_printerr("dfusd-sim: %s\n", dfu_error_message(&error));
        return G_SOURCE_REMOVE;
}

static void schedule_steps(Runner *r) {
        for (size_t i = 0; r->script && i < r->script->n_steps; i++) {
                const ScriptStep *st = &r->script->steps[i];
                if (!st->timed)
                        continue;
                TimedStep *ts = g_new(TimedStep, 1);
                *ts = (TimedStep){r, st};
                g_timeout_add_full(G_PRIORITY_HIGH, (guint)(st->at * 1000 + 0.5), timed_step_cb, ts, g_free);
        }
}

static int build_rack(Runner *r, DfuError *error) {
        int k = testbed_new(g_main_context_default(), r->time_scale, &r->testbed, error);
        if (k < 0)
                return k;
        testbed_hold_until_busy(r->testbed, (unsigned)r->hold_until_busy);
        for (unsigned i = 0; r->ports[i]; i++) {
                k = runner_plug(r, r->ports[i], part_for_index(r, i), r->read_protected, error);
                if (k < 0)
                        return k;
        }
        if (r->script_path) {
                k = script_load(r->script_path, &r->script, error);
                if (k < 0)
                        return k;
                for (size_t i = 0; i < r->script->n_steps; i++)
                        if (!r->script->steps[i].timed) {
                                k = run_step(r, &r->script->steps[i], error);
                                if (k < 0)
                                        return k;
                        }
        }

        g_autoptr(GString) ports = g_string_new(NULL);
        for (unsigned i = 0; i < testbed_n_boards(r->testbed); i++) {
                TestbedBoard *b = testbed_board(r->testbed, i);
                if (testbed_board_plugged(b))
                        g_string_append_printf(ports, "%s%s", ports->len ? "," : "", testbed_board_port(b));
        }
        g_autofree char *n = g_strdup_printf("%u", testbed_n_boards(r->testbed));
        g_setenv("DFUSD_SIM_BOARDS", n, TRUE);
        g_setenv("DFUSD_SIM_PORTS", ports->str, TRUE);
        return control_open(r, error);
}

static void child_exited(GPid pid, gint status, gpointer userdata) {
        Runner *r = userdata;

        r->child_status = status;
        g_spawn_close_pid(pid);
        g_main_loop_quit(r->loop);
}

typedef struct SignalForward {
        Runner *runner;
        int sig;
} SignalForward;

static gboolean forward_signal(gpointer userdata) {
        SignalForward *f = userdata;

        if (f->runner->child > 0)
                (void)kill(f->runner->child, f->sig);
        return G_SOURCE_CONTINUE;
}

/* A runner killed without a chance to forward the signal must not leave its command behind. */
static void child_setup(gpointer user_data) {
        (void)signal(SIGPIPE, SIG_DFL); /* ignored dispositions survive exec */
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static int run_command(Runner *r, DfuError *error) {
        static const int signals[] = {SIGTERM, SIGINT, SIGHUP};
        SignalForward fwd[ELEMENTSOF(signals)];
        guint sources[ELEMENTSOF(signals)];
        g_autoptr(GError) gerror = NULL;

        r->loop = g_main_loop_new(NULL, FALSE);
        if (!g_spawn_async(NULL, r->command, NULL,
                           G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_CHILD_INHERITS_STDIN,
                           child_setup, NULL, &r->child, &gerror))
                return dfu_error_set(error, ENOEXEC, "Cannot run %s: %s", r->command[0], gerror->message);
        g_child_watch_add(r->child, child_exited, r);
        for (unsigned i = 0; i < ELEMENTSOF(signals); i++) {
                fwd[i] = (SignalForward){r, signals[i]};
                sources[i] = g_unix_signal_add(signals[i], forward_signal, &fwd[i]);
        }
        schedule_steps(r);

        g_main_loop_run(r->loop);
        r->child = 0;
        for (unsigned i = 0; i < ELEMENTSOF(signals); i++)
                g_source_remove(sources[i]);
        return 0;
}

static int dump_all(Runner *r, DfuError *error) {
        if (g_mkdir_with_parents(r->dump_dir, 0755) < 0)
                return dfu_error_set(error, errno, "Cannot create %s: %m", r->dump_dir);
        for (unsigned i = 0; i < testbed_n_boards(r->testbed); i++) {
                int k = dump_board(testbed_board(r->testbed, i), r->dump_dir, error);
                if (k < 0)
                        return k;
        }
        return dump_rack(r->testbed, r->dump_dir, error);
}

/* Our netlink fix-up (preload-netlink.c) must come right before umockdev's preload. */
static char *preload_list(const char *old, const char *shim) {
        g_auto(GStrv) items = g_strsplit_set(old ?: "", ": ", -1);
        g_autoptr(GString) s = g_string_new(NULL);
        bool have_umockdev = false;

        for (char **i = items; *i; i++) {
                if (!**i || (shim && streq(*i, shim)))
                        continue;
                if (strstr(*i, "libumockdev-preload")) {
                        have_umockdev = true;
                        if (shim)
                                g_string_append_printf(s, "%s%s", s->len ? ":" : "", shim);
                }
                g_string_append_printf(s, "%s%s", s->len ? ":" : "", *i);
        }
        if (!have_umockdev) {
                g_autofree char *head =
                        shim ? g_strdup_printf("%s:%s", shim, PRELOAD_LIB) : g_strdup(PRELOAD_LIB);
                g_string_prepend(s, s->len ? ":" : "");
                g_string_prepend(s, head);
        }
        return g_strdup(s->str);
}

/*
 * The testbed's uevents reach clients only if this process runs under the preload too: re-execute
 * under it. The command inherits the list.
 */
static int setup_preload(char **argv, DfuError *error) {
        const char *old = g_getenv("LD_PRELOAD");
        const char *shim = access(DFUSD_SIM_PRELOAD, R_OK) == 0 ? DFUSD_SIM_PRELOAD : NULL;
        bool have_umockdev = old && strstr(old, "libumockdev-preload");
        g_autofree char *preload = preload_list(old, shim);

        if (old && streq(old, preload))
                return 0;
        g_setenv("LD_PRELOAD", preload, TRUE);
        if (have_umockdev)
                return 0;
        execv("/proc/self/exe", argv);
        return dfu_error_set(error, errno, "Cannot re-execute under %s: %m", PRELOAD_LIB);
}

static int exit_code(int status) {
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return 255;
}

int main(int argc, char **argv) {
        _cleanup_(runner_done)
                Runner r = {.time_scale = 1.0, .n_boards = BOARDS_UNSET, .control_fd = -EBADF};
        DfuError error = DFU_ERROR_INIT;

        setlocale(LC_ALL, "");
        /* A client that exits while its URB completes leaves us writing to a closed socket: that must
         * fail the write, not kill every board of the rack. */
        (void)signal(SIGPIPE, SIG_IGN);
        if (setup_preload(argv, &error) < 0 || parse_options(&r, &argc, &argv, &error) < 0 ||
            resolve_parts(&r, &error) < 0 || resolve_ports(&r, &error) < 0 || build_rack(&r, &error) < 0 ||
            run_command(&r, &error) < 0) {
                g_printerr("dfusd-sim: %s\n", dfu_error_message(&error));
                return 125;
        }
        if (r.dump_dir && dump_all(&r, &error) < 0) {
                g_printerr("dfusd-sim: %s\n", dfu_error_message(&error));
                return 125;
        }
        return exit_code(r.child_status);
}
