/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The real system-bus policy (dbus/org.dfusd.Flash1.conf) on a system-type bus: dfusd owns the name
 * as root; an unprivileged caller may read everything but is refused every method that changes
 * something, by the bus itself (AccessDenied) before the daemon sees the call.
 */
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "test-main.h"

#define ACCESS_DENIED "org.freedesktop.DBus.Error.AccessDenied"

/* ---- the unprivileged side, run by this same program under setpriv ---- */

static int check(bool ok, const char *what, GError *error) {
        printf("%s: %s%s%s\n", ok ? "ok" : "FAILED", what, error ? ": " : "", error ? error->message : "");
        return ok ? 0 : 1;
}

static bool denied(GError *error) {
        g_autofree char *name = error ? g_dbus_error_get_remote_error(error) : NULL;
        return name && g_str_equal(name, ACCESS_DENIED);
}

static GVariant *call(GDBusConnection *c, const char *path, const char *iface, const char *method,
                      GVariant *args, GUnixFDList *fds, GError **error) {
        return g_dbus_connection_call_with_unix_fd_list_sync(c, DFUSD_BUS_NAME, path, iface, method, args,
                                                             NULL, G_DBUS_CALL_FLAGS_NONE, 10000, fds, NULL,
                                                             NULL, error);
}

static GDBusConnection *connect_bus(const char *address, GError **error) {
        return g_dbus_connection_new_for_address_sync(address,
                                                      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                              G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                      NULL, NULL, error);
}

typedef struct Flood {
        unsigned pending, answered, busy, failed;
} Flood;

static void flood_reply(GObject *source, GAsyncResult *res, gpointer userdata) {
        Flood *f = userdata;
        g_autoptr(GError) e = NULL;
        g_autoptr(GVariant) r =
                g_dbus_connection_call_with_unix_fd_list_finish(G_DBUS_CONNECTION(source), NULL, res, &e);
        g_autofree char *name = e ? g_dbus_error_get_remote_error(e) : NULL;

        f->pending--;
        if (r)
                f->answered++;
        else if (name && (g_str_equal(name, "org.dfusd.Flash1.Error.Busy") ||
                          g_str_equal(name, "org.freedesktop.DBus.Error.LimitsExceeded")))
                f->busy++;
        else {
                f->failed++;
                printf("FAILED: flooded Inspect: %s\n", e ? e->message : "?");
        }
}

/* An unprivileged caller floods Inspect (anyone may call it): every call gets an answer or a Busy
 * refusal, none hangs, and dfusd still answers afterwards. */
static int flood_inspect(GDBusConnection *c, const char *image, unsigned n) {
        Flood f = {};
        gint64 deadline = g_get_monotonic_time() + 120 * G_USEC_PER_SEC;

        for (unsigned i = 0; i < n; i++) {
                int fd = open(image, O_RDONLY | O_CLOEXEC);
                g_autoptr(GUnixFDList) fds = NULL;
                GVariantBuilder h;

                if (fd < 0)
                        return check(false, "open image", NULL);
                fds = g_unix_fd_list_new_from_array(&fd, 1);
                g_variant_builder_init(&h, G_VARIANT_TYPE("ah"));
                g_variant_builder_add(&h, "h", 0);
                g_dbus_connection_call_with_unix_fd_list(
                        c, "org.dfusd.Flash1", DFUSD_PATH, DFUSD_MANAGER, "Inspect",
                        g_variant_new("(ah@a{sv})", &h,
                                      g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0)),
                        NULL, G_DBUS_CALL_FLAGS_NONE, 60000, fds, NULL, flood_reply, &f);
                f.pending++;
        }
        while (f.pending > 0 && g_get_monotonic_time() < deadline)
                g_main_context_iteration(NULL, TRUE);
        printf("flood of %u Inspects: %u answered, %u refused as busy, %u failed, %u without reply\n", n,
               f.answered, f.busy, f.failed, f.pending);
        return check(f.pending == 0 && f.failed == 0 && f.answered > 0, "every flooded Inspect answered",
                     NULL);
}

static int unprivileged_client(const char *address, const char *image, const char *job, const char *rule,
                               const char *sequence) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusConnection) c = NULL;
        int failures = 0;

        c = connect_bus(address, &error);
        if (!c)
                return check(false, "connect", error);
        printf("running as uid %u\n", (unsigned)getuid());

        struct {
                const char *path, *iface, *method;
                GVariant *args;
                bool with_fd, allowed;
        } calls[] = {
                {DFUSD_PATH, "org.freedesktop.DBus.Properties", "Get",
                 g_variant_new("(ss)", DFUSD_MANAGER, "Version"), false, true},
                {DFUSD_PATH, "org.freedesktop.DBus.Properties", "GetAll",
                 g_variant_new("(s)", DFUSD_MANAGER), false, true},
                {DFUSD_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL, false, true},
                {DFUSD_PATH, "org.freedesktop.DBus.Introspectable", "Introspect", NULL, false, true},
                {DFUSD_PATH, DFUSD_MANAGER, "GetHistory", g_variant_new("(a{sv})", NULL), false, true},
                {job, "org.freedesktop.DBus.Properties", "Get", g_variant_new("(ss)", DFUSD_JOB, "State"),
                 false, true},
                {DFUSD_PATH, DFUSD_MANAGER, "Inspect", NULL, true, true},
                {DFUSD_PATH, DFUSD_MANAGER, "Submit", NULL, true, false},
                {DFUSD_PATH, DFUSD_MANAGER, "AddRule", NULL, true, false},
                {job, DFUSD_JOB, "Cancel", NULL, false, false},
                {rule, DFUSD_RULE, "Remove", NULL, false, false},
                {sequence, "org.dfusd.Flash1.Sequence", "GetSpoiled", g_variant_new("(u)", 10), false, true},
                {sequence, "org.freedesktop.DBus.Properties", "Get",
                 g_variant_new("(ss)", "org.dfusd.Flash1.Sequence", "Left"), false, true},
                {sequence, "org.dfusd.Flash1.Sequence", "Remove", NULL, false, false},
                {DFUSD_PATH, DFUSD_MANAGER, "AddSequence",
                 g_variant_new("(s@a{sv})", "more", integ_options("start", g_variant_new_uint64(1), NULL)),
                 false, false},
                {DFUSD_PATH, "org.freedesktop.DBus.Properties", "Set",
                 g_variant_new("(ssv)", DFUSD_MANAGER, "MaxParallel", g_variant_new_uint32(1)), false,
                 false},
        };
        for (size_t i = 0; i < G_N_ELEMENTS(calls); i++) {
                g_autoptr(GError) e = NULL;
                g_autoptr(GVariant) r = NULL;
                g_autoptr(GUnixFDList) fds = NULL;
                g_autofree char *what =
                        g_strdup_printf("%s %s.%s %s", calls[i].path, calls[i].iface, calls[i].method,
                                        calls[i].allowed ? "allowed" : "denied");
                GVariant *args = calls[i].args;

                if (calls[i].with_fd) {
                        int fd = open(image, O_RDONLY | O_CLOEXEC);
                        GVariantBuilder h;
                        if (fd < 0)
                                return check(false, "open image", NULL);
                        fds = g_unix_fd_list_new_from_array(&fd, 1);
                        g_variant_builder_init(&h, G_VARIANT_TYPE("ah"));
                        g_variant_builder_add(&h, "h", 0);
                        args = g_variant_new("(ah@a{sv})", &h,
                                             g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));
                }
                r = call(c, calls[i].path, calls[i].iface, calls[i].method, args, fds, &e);
                failures += check(calls[i].allowed ? r != NULL : denied(e), what, e);
        }
        failures += flood_inspect(c, image, 300);
        {
                g_autoptr(GError) e = NULL;
                g_autoptr(GVariant) r = call(c, DFUSD_PATH, "org.freedesktop.DBus.Properties", "Get",
                                             g_variant_new("(ss)", DFUSD_MANAGER, "Version"), NULL, &e);
                failures += check(r != NULL, "Get after the flood", e);
        }
        return failures ? 1 : 0;
}

/* Cancels a job as whoever runs this; exit 0 when the answer is the expected one. */
static int cancel_client(const char *address, const char *job, bool expect_allowed) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusConnection) c = NULL;
        g_autoptr(GVariant) r = NULL;
        g_autofree char *name = NULL;

        c = connect_bus(address, &error);
        if (!c)
                return check(false, "connect", error);
        r = call(c, job, DFUSD_JOB, "Cancel", NULL, NULL, &error);
        if (expect_allowed)
                return check(r != NULL, "Cancel allowed", error);
        name = error ? g_dbus_error_get_remote_error(error) : NULL;
        return check(name && g_str_equal(name, "org.dfusd.Flash1.Error.AccessDenied"),
                     "Cancel denied by dfusd", error);
}

/* ---- the tests ---- */

static void test_policy(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(1024, 1);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){0x08000000, img, 1024}, 1);
        g_autofree char *job = NULL, *rule = NULL, *out = NULL, *err = NULL, *state = NULL, *sequence = NULL;
        g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL, rules = NULL;
        int status = 0;

        if (getuid() != 0) {
                test_skip("needs root: the daemon owns the system-bus name as root");
                return;
        }
        integ_start(t, &(IntegRun){.boards = 1, .system_bus = true});

        /* root may submit: a job that waits for a board that never comes */
        job = integ_submit(t, (const char *[]){file, NULL},
                           integ_options("port", g_variant_new_string("1-15"), "wait",
                                         g_variant_new_boolean(TRUE), "part", g_variant_new_string("f405"),
                                         NULL),
                           &error);
        g_assert_no_error(error);

        rule = integ_add_rule(t, (const char *[]){file, NULL},
                              integ_options("match-port", g_variant_new_string("1-14"), NULL), &error);
        g_assert_no_error(error);
        r = integ_call(t, DFUSD_PATH, DFUSD_MANAGER, "AddSequence",
                       g_variant_new("(s@a{sv})", "serials",
                                     integ_options("start", g_variant_new_uint64(1000), NULL)),
                       "(o)", &error);
        g_assert_no_error(error);
        g_variant_get(r, "(o)", &sequence);
        g_clear_pointer(&r, g_variant_unref);

        g_spawn_sync(NULL,
                     (char *[]){"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", self,
                                "--client", t->bus_address, file, job, rule, sequence, NULL},
                     NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error);
        g_assert_no_error(error);
        g_test_message("unprivileged client:\n%s%s", out, err);
        if (!g_spawn_check_wait_status(status, NULL))
                g_error("the unprivileged client saw the wrong answers:\n%s%s", out, err);

        /* the rule and the sequence are still there */
        g_free(state);
        state = integ_get_string(t, sequence, "org.dfusd.Flash1.Sequence", "Name");
        g_assert_cmpstr(state, ==, "serials");
        g_clear_pointer(&state, g_free);
        rules = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Rules", &error);
        g_assert_no_error(error);
        g_assert_cmpuint(g_variant_n_children(rules), ==, 1);
        /* the job the unprivileged caller tried to cancel is still there; root may cancel it */
        state = integ_get_string(t, job, DFUSD_JOB, "State");
        g_assert_cmpstr(state, ==, "waiting");
        r = integ_call(t, job, DFUSD_JOB, "Cancel", NULL, NULL, &error);
        g_assert_no_error(error);
        g_free(state);
        state = integ_wait_job(t, job, 10);
        g_assert_cmpstr(state, ==, "cancelled");
}

static void run_as(char **argv, const char *what) {
        g_autofree char *out = NULL, *err = NULL;
        g_autoptr(GError) error = NULL;
        int status = 0;

        g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error);
        g_assert_no_error(error);
        g_test_message("%s:\n%s%s", what, out, err);
        if (!g_spawn_check_wait_status(status, NULL))
                g_error("%s saw the wrong answer:\n%s%s", what, out, err);
}

/*
 * The daemon's own check, behind the bus policy: on a bus that lets everyone through, a caller in the
 * configured group may cancel another user's job; a caller outside it may not. Membership comes from
 * the group database for the uid the bus reports, never from the caller's process: a process that
 * merely carries the group among its supplementary groups (setpriv --groups) is not a member. dfusd
 * runs as an unprivileged user, as in its unit.
 */
static void test_group_member(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(1024, 2);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){0x08000000, img, 1024}, 1);
        g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
        g_autofree char *job = NULL, *state = NULL;
        g_autoptr(GError) error = NULL;

        if (getuid() != 0) {
                test_skip("needs root to call as other users");
                return;
        }
        /* "daemon" is the primary group of user daemon in every Debian group database. */
        integ_start(t, &(IntegRun){.boards = 1, .config = "[Daemon]\nGroup=daemon\n", .user = "nobody"});
        {
                g_autofree char *proc = g_strdup_printf("/proc/%d", (int)integ_daemon_pid(t));
                struct stat st;
                g_assert_cmpint(stat(proc, &st), ==, 0);
                g_assert_cmpuint(st.st_uid, ==, getpwnam("nobody")->pw_uid);
        }
        job = integ_submit(t, (const char *[]){file, NULL},
                           integ_options("port", g_variant_new_string("1-15"), "wait",
                                         g_variant_new_boolean(TRUE), "part", g_variant_new_string("f405"),
                                         NULL),
                           &error);
        g_assert_no_error(error);
        run_as((char *[]){"setpriv", "--reuid=bin", "--regid=bin", "--clear-groups", self, "--cancel-denied",
                          t->bus_address, job, NULL},
               "a caller outside group daemon");
        run_as((char *[]){"setpriv", "--reuid=bin", "--regid=bin", "--groups=daemon", self,
                          "--cancel-denied", t->bus_address, job, NULL},
               "a caller whose process carries group daemon, which the group database does not give it");
        state = integ_get_string(t, job, DFUSD_JOB, "State");
        g_assert_cmpstr(state, ==, "waiting");
        run_as((char *[]){"setpriv", "--reuid=daemon", "--regid=daemon", "--clear-groups", self,
                          "--cancel-allowed", t->bus_address, job, NULL},
               "a caller in group daemon");
        g_free(state);
        state = integ_wait_job(t, job, 10);
        g_assert_cmpstr(state, ==, "cancelled");
}

int main(int argc, char **argv) {
        if (argc == 7 && g_str_equal(argv[1], "--client"))
                return unprivileged_client(argv[2], argv[3], argv[4], argv[5], argv[6]);
        if (argc == 4 && g_str_has_prefix(argv[1], "--cancel-"))
                return cancel_client(argv[2], argv[3], g_str_equal(argv[1], "--cancel-allowed"));

        g_test_init(&argc, &argv, NULL);
        g_test_add("/integ/system-bus/policy", Integ, NULL, integ_setup, test_policy, integ_teardown);
        g_test_add("/integ/access/group-member", Integ, NULL, integ_setup, test_group_member,
                   integ_teardown);
        return test_run();
}
