/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Hotplug as a libudev client sees it under dfusd-sim: boards plugged and unplugged by the script,
 * announced once each, complete when announced, with the device node and serial a daemon keys on. The
 * test runs itself under dfusd-sim in "drive" mode, which starts the monitors, waits for each one's
 * "ready" line, only then sends the steps to dfusd-sim's control FIFO, and prints what they saw.
 */
#include "test-main.h"
#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <libudev.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Prints "ACTION PORT DEVNODE SERIAL" per usb_device event until PORT's remove, at most 30 s. */
static int monitor(const char *last_port) {
        struct udev *u = udev_new();
        struct udev_monitor *m = udev_monitor_new_from_netlink(u, "udev");
        int r = 1;

        if (!m || udev_monitor_filter_add_match_subsystem_devtype(m, "usb", "usb_device") < 0 ||
            udev_monitor_enable_receiving(m) < 0) {
                fprintf(stderr, "cannot monitor uevents\n");
                return 2;
        }
        printf("ready\n");
        fflush(stdout);
        struct pollfd p = {udev_monitor_get_fd(m), POLLIN, 0};
        while (r != 0 && poll(&p, 1, 30000) > 0) {
                struct udev_device *d = udev_monitor_receive_device(m);
                if (!d)
                        continue;
                const char *action = udev_device_get_action(d), *port = udev_device_get_sysname(d);
                /* At "add" the device must be complete: its descriptors and node are there. */
                bool complete = udev_device_get_sysattr_value(d, "descriptors") &&
                                udev_device_get_devnode(d) &&
                                access(udev_device_get_devnode(d), R_OK | W_OK) == 0;
                printf("%s %s %s %s%s\n", action, port, udev_device_get_devnode(d) ?: "-",
                       udev_device_get_property_value(d, "ID_SERIAL_SHORT") ?: "-",
                       g_str_equal(action, "add") && !complete ? " incomplete" : "");
                fflush(stdout);
                if (g_str_equal(action, "remove") && g_str_equal(port, last_port))
                        r = 0;
                udev_device_unref(d);
        }
        udev_monitor_unref(m);
        udev_unref(u);
        return r;
}

static char *self;

/*
 * Under dfusd-sim: starts the monitors, waits until each has said "ready" (its netlink socket is
 * listening), then sends the steps. No event can come before a monitor listens, whatever the load:
 * the order is the test's own, not a script's clock. Prints every monitor's lines, in monitor order.
 */
static int drive(unsigned monitors, const char *last_port, const char *steps) {
        g_autoptr(GPtrArray) procs = g_ptr_array_new_with_free_func(g_object_unref);
        g_autoptr(GPtrArray) outs = g_ptr_array_new_with_free_func(g_object_unref);
        g_autoptr(GError) error = NULL;
        int r = 0;

        for (unsigned i = 0; i < monitors; i++) {
                const char *argv[] = {self, "--monitor", last_port, NULL};
                GSubprocess *p = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
                if (!p) {
                        fprintf(stderr, "%s\n", error->message);
                        return 2;
                }
                g_ptr_array_add(procs, p);
                g_ptr_array_add(outs, g_data_input_stream_new(g_subprocess_get_stdout_pipe(p)));
        }
        for (unsigned i = 0; i < monitors; i++) {
                g_autofree char *line = g_data_input_stream_read_line(outs->pdata[i], NULL, NULL, NULL);
                if (!line || !g_str_equal(line, "ready")) {
                        fprintf(stderr, "monitor %u did not get ready\n", i);
                        return 2;
                }
        }
        /* a FIFO: written in place (g_file_set_contents() would replace it with a file) */
        FILE *control = fopen(g_getenv("DFUSD_SIM_CONTROL"), "w");
        if (!control || fputs(steps, control) < 0 || fclose(control) != 0) {
                fprintf(stderr, "cannot write to DFUSD_SIM_CONTROL\n");
                return 2;
        }
        for (unsigned i = 0; i < monitors; i++) {
                for (char *line; (line = g_data_input_stream_read_line(outs->pdata[i], NULL, NULL, NULL));
                     g_free(line))
                        printf("%s\n", line);
                if (!g_subprocess_wait_check(procs->pdata[i], NULL, NULL))
                        r = 1;
        }
        return r;
}

static char *run_monitored(const char *steps, const char *last_port, unsigned monitors, int *status) {
        g_autoptr(GError) error = NULL;
        char *out = NULL;
        g_autofree char *n = g_strdup_printf("%u", monitors);
        const char *argv[] = {DFUSD_SIM,  "--time-scale=0.001",
                              "--boards", "2",
                              "--part",   "f405",
                              "--",       self,
                              "--drive",  n,
                              last_port,  steps,
                              NULL};

        g_spawn_sync(NULL, (char **)argv, NULL, 0, NULL, NULL, &out, NULL, status, &error);
        g_assert_no_error(error);
        if (g_test_verbose())
                g_printerr("%s", out);
        return out;
}

/* The line of the first event of this action and port, or NULL. */
static const char *find_event(const char *out, const char *action, const char *port) {
        g_autofree char *prefix = g_strdup_printf("%s %s ", action, port);
        for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (g_str_has_prefix(l, prefix))
                        return l;
        return NULL;
}

static void test_plug_unplug(void) {
        int status;
        g_autofree char *out = run_monitored("plug 1-9.4 part=g431\n"
                                             "unplug 1-1\n"
                                             "unplug 1-9.4\n",
                                             "1-9.4", 1, &status);

        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 0);
        const char *add = find_event(out, "add", "1-9.4");
        const char *gone = find_event(out, "remove", "1-1");
        const char *remove = find_event(out, "remove", "1-9.4");
        g_assert_nonnull(add);
        g_assert_nonnull(gone);
        g_assert_nonnull(remove);
        g_assert_true(add < remove);
        /* one "add" per arrival, sent when the device is complete */
        g_assert_null(find_event(add + 1, "add", "1-9.4"));
        g_assert_null(strstr(out, "incomplete"));
        /* the node and serial are there in every event, "remove" included */
        g_assert_true(g_str_has_prefix(add, "add 1-9.4 /dev/bus/usb/001/"));
        g_assert_true(g_str_has_prefix(remove, "remove 1-9.4 /dev/bus/usb/001/"));
        g_autofree char *gone_line = g_strndup(gone, strcspn(gone, "\n"));
        g_assert_cmpstr(gone_line, ==, "remove 1-1 /dev/bus/usb/001/002 006A00500001");
        g_assert_null(find_event(out, "remove", "1-2"));
}

/* Several libudev clients at once (a daemon and dfu-util, say) each get every event. */
static void test_many_monitors(void) {
        int status;
        g_autofree char *out = run_monitored("plug 1-5\nunplug 1-5\n", "1-5", 4, &status);
        unsigned adds = 0, removes = 0;

        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 0);
        for (const char *l = out; (l = strstr(l, "add 1-5 ")); l++)
                adds++;
        for (const char *l = out; (l = strstr(l, "remove 1-5 ")); l++)
                removes++;
        g_assert_cmpuint(adds, ==, 4);
        g_assert_cmpuint(removes, ==, 4);
}

int main(int argc, char **argv) {
        if (argc == 3 && g_str_equal(argv[1], "--monitor"))
                return monitor(argv[2]);
        if (argc == 5 && g_str_equal(argv[1], "--drive")) {
                self = g_canonicalize_filename(argv[0], NULL);
                return drive((unsigned)g_ascii_strtoull(argv[2], NULL, 10), argv[3], argv[4]);
        }

        g_test_init(&argc, &argv, NULL);
        self = g_canonicalize_filename(argv[0], NULL);
        g_test_add_func("/peer/uevents/plug-unplug", test_plug_unplug);
        g_test_add_func("/peer/uevents/many-monitors", test_many_monitors);
        return test_run();
}
