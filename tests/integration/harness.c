/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* The test that is running, so that a failed assertion (which aborts) can still print the daemon's
 * log and leave no bus or daemon behind. Test programs may keep this one piece of global state. */
static Integ *current;

const char *integ_dfusd_path(void) {
        const char *p = g_getenv("DFUSD_BIN");
        g_assert_nonnull(p);
        return p;
}

const char *integ_sim_path(void) {
        const char *p = g_getenv("DFUSD_SIM");
        g_assert_nonnull(p);
        return p;
}

static void print_log(const Integ *t) {
        g_autofree char *log = NULL;
        if (!t->log_path || !g_file_get_contents(t->log_path, &log, NULL, NULL))
                return;
        fprintf(stderr, "---- runner and dfusd log (%s) ----\n%s---- end of log ----\n", t->log_path, log);
}

static void kill_subprocess(GSubprocess *p) {
        if (p && g_subprocess_get_identifier(p))
                g_subprocess_force_exit(p);
}

/* A test killed from outside (a ctest timeout) must not leave its bus and runner behind. */
static void die_with_parent(gpointer userdata) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void on_abort(int sig) {
        if (current) {
                /* no bus call here: the assertion may have fired inside GDBus */
                if (current->daemon_pid > 0)
                        (void)kill(current->daemon_pid, SIGKILL);
                print_log(current);
                kill_subprocess(current->runner);
                kill_subprocess(current->bus);
        }
        signal(sig, SIG_DFL);
        raise(sig);
}

void integ_setup(Integ *t, gconstpointer data) {
        g_autoptr(GError) error = NULL;

        memset(t, 0, sizeof(*t));
        t->dir = g_dir_make_tmp("dfusd-integ-XXXXXX", &error);
        g_assert_no_error(error);
        /* The system-bus test connects as an unprivileged user: the socket must be reachable. */
        g_assert_cmpint(chmod(t->dir, 0755), ==, 0);
        t->state_dir = g_build_filename(t->dir, "state", NULL);
        t->runtime_dir = g_build_filename(t->dir, "run", NULL);
        t->dump_dir = g_build_filename(t->dir, "dump", NULL);
        t->log_path = g_build_filename(t->dir, "log", NULL);
        g_assert_cmpint(g_mkdir(t->state_dir, 0700), ==, 0);
        g_assert_cmpint(g_mkdir(t->runtime_dir, 0700), ==, 0);
        g_assert_cmpint(g_mkdir(t->dump_dir, 0755), ==, 0);
        current = t;
        /* g_assert*() aborts; g_error() traps */
        signal(SIGABRT, on_abort);
        signal(SIGTRAP, on_abort);
}

static void rm_rf(const char *path) {
        g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
                g_autofree char *p = g_build_filename(path, name, NULL);
                if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
                        rm_rf(p);
                else
                        (void)g_unlink(p);
        }
        (void)g_rmdir(path);
}

/* Outside a GTest program (the benchmarks) nothing counts as failed. */
static bool test_failed(void) {
        return g_test_initialized() && g_test_failed();
}

void integ_teardown(Integ *t, gconstpointer data) {
        if (t->runner && g_subprocess_get_identifier(t->runner))
                integ_stop(t);
        if (test_failed())
                print_log(t);
        g_clear_object(&t->conn);
        kill_subprocess(t->bus);
        if (t->bus)
                g_subprocess_wait(t->bus, NULL, NULL);
        g_clear_object(&t->bus);
        g_clear_object(&t->runner);
        if (!test_failed() && !g_getenv("DFUSD_INTEG_KEEP"))
                rm_rf(t->dir);
        g_free(t->dir);
        g_free(t->state_dir);
        g_free(t->runtime_dir);
        g_free(t->dump_dir);
        g_free(t->log_path);
        g_free(t->bus_address);
        current = NULL;
}

static const char session_conf[] = "<busconfig>\n"
                                   "  <type>session</type>\n"
                                   "  <listen>unix:path=%s/bus</listen>\n"
                                   "  <auth>EXTERNAL</auth>\n"
                                   "  <policy context=\"default\">\n"
                                   "    <allow user=\"*\"/>\n"
                                   "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
                                   "    <allow eavesdrop=\"true\"/>\n"
                                   "    <allow own=\"*\"/>\n"
                                   "  </policy>\n"
                                   "</busconfig>\n";

/* The default policy of Debian's system.conf, then our real policy file on top. */
static const char system_conf[] =
        "<busconfig>\n"
        "  <type>system</type>\n"
        "  <listen>unix:path=%s/bus</listen>\n"
        "  <auth>EXTERNAL</auth>\n"
        "  <policy context=\"default\">\n"
        "    <allow user=\"*\"/>\n"
        "    <deny own=\"*\"/>\n"
        "    <deny send_type=\"method_call\"/>\n"
        "    <allow send_type=\"signal\"/>\n"
        "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
        "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
        "    <allow receive_type=\"method_call\"/>\n"
        "    <allow receive_type=\"method_return\"/>\n"
        "    <allow receive_type=\"error\"/>\n"
        "    <allow receive_type=\"signal\"/>\n"
        "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"/>\n"
        "    <allow send_destination=\"org.freedesktop.DBus\"\n"
        "           send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"
        "    <allow send_destination=\"org.freedesktop.DBus\" "
        "send_interface=\"org.freedesktop.DBus.Properties\"/>\n"
        "  </policy>\n"
        "  <include>%s</include>\n"
        "</busconfig>\n";

static void start_bus(Integ *t, bool system_bus) {
        g_autoptr(GError) error = NULL;
        g_autofree char *conf = NULL, *conf_path = NULL, *arg = NULL, *line = NULL;
        g_autoptr(GDataInputStream) in = NULL;
        g_autoptr(GSubprocessLauncher) l = NULL;

        if (system_bus) {
                const char *policy = g_getenv("DFUSD_POLICY");
                g_assert_nonnull(policy);
                conf = g_strdup_printf(system_conf, t->dir, policy);
        } else
                conf = g_strdup_printf(session_conf, t->dir);
        conf_path = g_build_filename(t->dir, "bus.conf", NULL);
        g_assert_true(g_file_set_contents(conf_path, conf, -1, NULL));
        arg = g_strconcat("--config-file=", conf_path, NULL);
        l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
        g_subprocess_launcher_set_child_setup(l, die_with_parent, NULL, NULL);
        t->bus = g_subprocess_launcher_spawn(l, &error, "dbus-daemon", arg, "--nofork", "--print-address=1",
                                             NULL);
        g_assert_no_error(error);
        in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(t->bus));
        line = g_data_input_stream_read_line(in, NULL, NULL, &error);
        g_assert_no_error(error);
        g_assert_nonnull(line);
        t->bus_address = g_strdup(g_strstrip(line));
        t->system_bus = system_bus;
        t->conn = g_dbus_connection_new_for_address_sync(
                t->bus_address,
                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                NULL, NULL, &error);
        g_assert_no_error(error);
}

static GPtrArray *runner_argv(Integ *t, const IntegRun *run) {
        GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);

        if (run->user) {
                /* as a service user would: the directories it writes must let it */
                g_ptr_array_add(argv, g_strdup("setpriv"));
                struct passwd *pw = getpwnam(run->user);
                g_assert_nonnull(pw);
                g_ptr_array_add(argv, g_strdup_printf("--reuid=%u", (unsigned)pw->pw_uid));
                g_ptr_array_add(argv, g_strdup_printf("--regid=%u", (unsigned)pw->pw_gid));
                g_ptr_array_add(argv, g_strdup("--clear-groups"));
                g_assert_cmpint(chmod(t->state_dir, 0777), ==, 0);
                g_assert_cmpint(chmod(t->runtime_dir, 0777), ==, 0);
                g_assert_cmpint(chmod(t->dump_dir, 0777), ==, 0);
        }
        g_ptr_array_add(argv, g_strdup(integ_sim_path()));
        g_ptr_array_add(argv, g_strdup("--boards"));
        g_ptr_array_add(argv, g_strdup_printf("%u", run->boards));
        for (const char *const *p = run->parts; p && *p; p++) {
                g_ptr_array_add(argv, g_strdup("--part"));
                g_ptr_array_add(argv, g_strdup(*p));
        }
        g_ptr_array_add(argv, g_strdup("--time-scale"));
        g_ptr_array_add(argv, g_strdup(run->time_scale ?: INTEG_TIME_SCALE));
        if (run->hold_until_busy > 0)
                g_ptr_array_add(argv, g_strdup_printf("--hold-until-busy=%u", run->hold_until_busy));
        if (run->script) {
                g_autofree char *name = g_strdup_printf("script-%u", t->runs);
                g_ptr_array_add(argv, g_strdup("--script"));
                g_ptr_array_add(argv, integ_write_file(t, name, run->script, strlen(run->script)));
        }
        g_ptr_array_add(argv, g_strdup("--dump-dir"));
        g_ptr_array_add(argv, g_strdup(t->dump_dir));
        g_ptr_array_add(argv, g_strdup("--control"));
        g_ptr_array_add(argv, g_strdup_printf("%s/control-%u", t->dump_dir, t->runs));
        g_ptr_array_add(argv, g_strdup("--"));
        g_ptr_array_add(argv, g_strdup(integ_dfusd_path()));
        g_ptr_array_add(argv, g_strdup("--config"));
        {
                g_autofree char *name = g_strdup_printf("dfusd-%u.conf", t->runs);
                const char *conf = run->config ?: "";
                g_ptr_array_add(argv, integ_write_file(t, name, conf, strlen(conf)));
        }
        if (!run->system_bus)
                g_ptr_array_add(argv, g_strdup("--user"));
        g_ptr_array_add(argv, NULL);
        return argv;
}

static bool runner_alive(Integ *t) {
        return t->runner && g_subprocess_get_identifier(t->runner);
}

void integ_start(Integ *t, const IntegRun *run) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GSubprocessLauncher) l = NULL;
        g_autoptr(GPtrArray) argv = NULL;
        int log_fd;

        if (!t->bus)
                start_bus(t, run->system_bus);
        g_assert_false(runner_alive(t));
        g_clear_object(&t->runner);

        l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_MERGE);
        g_subprocess_launcher_set_child_setup(l, die_with_parent, NULL, NULL);
        g_subprocess_launcher_setenv(
                l, run->system_bus ? "DBUS_SYSTEM_BUS_ADDRESS" : "DBUS_SESSION_BUS_ADDRESS", t->bus_address,
                TRUE);
        g_subprocess_launcher_setenv(l, "STATE_DIRECTORY", t->state_dir, TRUE);
        g_subprocess_launcher_setenv(l, "RUNTIME_DIRECTORY", t->runtime_dir, TRUE);
        g_subprocess_launcher_setenv(l, "SYSTEMD_LOG_LEVEL", "debug", TRUE);
        log_fd = open(t->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        g_assert_cmpint(log_fd, >=, 0);
        g_subprocess_launcher_take_stdout_fd(l, log_fd);

        argv = runner_argv(t, run);
        t->runner = g_subprocess_launcher_spawnv(l, (const char *const *)argv->pdata, &error);
        g_assert_no_error(error);
        t->runs++;

        for (unsigned i = 0; i < 2000; i++) {
                g_autoptr(GError) e = NULL;
                g_autoptr(GVariant) v = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Version", &e);
                if (v) {
                        t->daemon_pid = integ_daemon_pid(t);
                        return;
                }
                if (!runner_alive(t))
                        g_error("the runner exited before dfusd answered on the bus");
                g_usleep(10 * 1000);
        }
        g_error("dfusd did not answer on the bus within 20 s");
}

pid_t integ_daemon_pid(Integ *t) {
        g_autoptr(GVariant) r = NULL;
        guint32 pid = 0;

        r = g_dbus_connection_call_sync(t->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                        g_variant_new("(s)", DFUSD_BUS_NAME), G_VARIANT_TYPE("(u)"),
                                        G_DBUS_CALL_FLAGS_NONE, 2000, NULL, NULL);
        if (!r)
                return 0;
        g_variant_get(r, "(u)", &pid);
        return (pid_t)pid;
}

static void wait_runner(Integ *t) {
        for (unsigned i = 0; i < 3000 && runner_alive(t); i++)
                g_usleep(10 * 1000);
        if (runner_alive(t)) {
                kill_subprocess(t->runner);
                g_error("the runner did not exit within 30 s after dfusd was stopped");
        }
}

static void signal_daemon(Integ *t, int sig) {
        pid_t pid = integ_daemon_pid(t);

        if (pid <= 0)
                g_error("dfusd is no longer on the bus (runner %s)",
                        runner_alive(t) ? "still running" : "exited");
        g_assert_cmpint(kill(pid, sig), ==, 0);
        wait_runner(t);
}

/* The runner exits with the command's status: a clean stop of dfusd is 0 (no crash, no leak report). */
void integ_stop(Integ *t) {
        signal_daemon(t, SIGTERM);
        if (!g_subprocess_get_if_exited(t->runner) || g_subprocess_get_exit_status(t->runner) != 0)
                g_error("dfusd did not stop cleanly on SIGTERM (runner status 0x%x)",
                        g_subprocess_get_status(t->runner));
}

void integ_crash(Integ *t) {
        signal_daemon(t, SIGKILL);
}

GBytes *integ_dump(Integ *t, const char *port) {
        g_autofree char *name = g_strconcat(port, ".bin", NULL);
        g_autofree char *path = g_build_filename(t->dump_dir, name, NULL);
        char *data = NULL;
        gsize size = 0;

        if (!g_file_get_contents(path, &data, &size, NULL))
                return NULL;
        return g_bytes_new_take(data, size);
}

char *integ_runner_json(Integ *t) {
        g_autoptr(GDir) d = g_dir_open(t->dump_dir, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d)))
                if (g_str_has_suffix(name, ".json")) {
                        g_autofree char *path = g_build_filename(t->dump_dir, name, NULL);
                        char *data = NULL;
                        if (g_file_get_contents(path, &data, NULL, NULL))
                                return data;
                }
        return NULL;
}

void integ_sim_step(Integ *t, const char *step) {
        g_autofree char *path = g_strdup_printf("%s/control-%u", t->dump_dir, t->runs - 1);
        g_autofree char *line = g_strconcat(step, "\n", NULL);
        /* the runner holds the FIFO open for reading, so this neither blocks nor fails */
        int fd = open(path, O_WRONLY | O_CLOEXEC);

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(write(fd, line, strlen(line)), ==, (gssize)strlen(line));
        close(fd);
}

unsigned integ_busy_max(Integ *t) {
        g_autofree char *path = g_build_filename(t->dump_dir, "rack.json", NULL), *text = NULL;
        g_autoptr(GRegex) re = g_regex_new("\"boards_busy_max\": *([0-9]+)", 0, 0, NULL);
        g_autoptr(GMatchInfo) m = NULL;
        g_autoptr(GError) error = NULL;

        g_file_get_contents(path, &text, NULL, &error);
        g_assert_no_error(error);
        g_assert_true(g_regex_match(re, text, 0, &m));
        g_autofree char *n = g_match_info_fetch(m, 1);
        return (unsigned)g_ascii_strtoull(n, NULL, 10);
}

char *integ_write_file(Integ *t, const char *name, const void *data, size_t size) {
        char *path = g_build_filename(t->dir, name, NULL);
        g_autoptr(GError) error = NULL;

        g_file_set_contents(path, data, (gssize)size, &error);
        g_assert_no_error(error);
        return path;
}

static void ihex_record(GString *s, uint8_t type, uint16_t address, const uint8_t *data, size_t n) {
        uint8_t sum = (uint8_t)(n + (address >> 8) + (address & 0xff) + type);

        g_string_append_printf(s, ":%02X%04X%02X", (unsigned)n, address, type);
        for (size_t i = 0; i < n; i++) {
                g_string_append_printf(s, "%02X", data[i]);
                sum += data[i];
        }
        g_string_append_printf(s, "%02X\n", (uint8_t)-sum);
}

char *integ_write_ihex(Integ *t, const char *name, const IntegSegment *segs, size_t n) {
        g_autoptr(GString) s = g_string_new(NULL);

        for (size_t i = 0; i < n; i++) {
                uint32_t upper = UINT32_MAX;
                for (size_t off = 0; off < segs[i].size;) {
                        uint32_t a = segs[i].address + (uint32_t)off;
                        size_t len = MIN(segs[i].size - off, 16 - (a & 15));
                        if (a >> 16 != upper) {
                                uint8_t ext[2] = {a >> 24, (a >> 16) & 0xff};
                                upper = a >> 16;
                                ihex_record(s, 4, 0, ext, 2);
                        }
                        len = MIN(len, 0x10000 - (a & 0xffff));
                        ihex_record(s, 0, a & 0xffff, segs[i].data + off, len);
                        off += len;
                }
        }
        ihex_record(s, 1, 0, NULL, 0);
        return integ_write_file(t, name, s->str, s->len);
}

uint8_t *integ_pattern(size_t size, uint32_t seed) {
        uint8_t *p = g_malloc(size);
        uint32_t x = seed * 2654435761u + 1;

        for (size_t i = 0; i < size; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                p[i] = (uint8_t)x;
        }
        return p;
}
