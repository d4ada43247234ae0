/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Messages no client library would send: every method with the wrong signature, fd handles that
 * point at nothing, and a client that disconnects while its large image is still being read.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "adv.h"

typedef struct Target {
        const char *path, *iface, *method;
} Target;

static const Target targets[] = {
        {DFUSD_PATH, DFUSD_MANAGER, "Submit"},
        {DFUSD_PATH, DFUSD_MANAGER, "Inspect"},
        {DFUSD_PATH, DFUSD_MANAGER, "AddRule"},
        {DFUSD_PATH, DFUSD_MANAGER, "GetHistory"},
        {DFUSD_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"},
        {DFUSD_PATH, "org.freedesktop.DBus.Properties", "Get"},
        {DFUSD_PATH, "org.freedesktop.DBus.Properties", "GetAll"},
        {DFUSD_PATH, "org.freedesktop.DBus.Properties", "Set"},
        {DFUSD_PATH "/job/1", DFUSD_JOB, "Cancel"},
        {DFUSD_PATH "/rule/1", DFUSD_RULE, "Remove"},
        {DFUSD_PATH, "org.freedesktop.DBus.Introspectable", "Introspect"},
        {DFUSD_PATH, "org.freedesktop.DBus.Peer", "Ping"},
};

static GVariant *garbage_body(unsigned k) {
        switch (k % 8) {
        case 0:
                return NULL;
        case 1:
                return g_variant_new("(u)", 42);
        case 2:
                return g_variant_new("(ss)", "x", "y");
        case 3:
                return g_variant_new("(ah@a{sv})", NULL,
                                     integ_options("port", g_variant_new_uint32(1), NULL));
        case 4:
                return g_variant_new("(@a{sv})", integ_options("limit", g_variant_new_string("all"), NULL));
        case 5:
                return g_variant_new("(a{ss})", NULL);
        case 6:
                return g_variant_new("(vvv)", g_variant_new_int32(1), g_variant_new_string(""),
                                     g_variant_new_boolean(TRUE));
        default:
                return g_variant_new("(ay)", NULL);
        }
}

static void test_garbage(Integ *t, gconstpointer data) {
        g_autofree char *hex = NULL;
        g_autofree uint8_t *img = integ_pattern(512, 1);
        unsigned replies = 0;

        hex = integ_write_ihex(t, "fw.hex", &(IntegSegment){ADV_FLASH_BASE, img, 512}, 1);
        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);

        for (size_t i = 0; i < G_N_ELEMENTS(targets); i++)
                for (unsigned k = 0; k < 8; k++) {
                        g_autoptr(GDBusMessage) msg = g_dbus_message_new_method_call(
                                DFUSD_BUS_NAME, targets[i].path, targets[i].iface, targets[i].method);
                        GVariant *body = garbage_body(k);
                        if (body)
                                g_dbus_message_set_body(msg, body);
                        g_autoptr(GError) error = NULL;
                        g_autoptr(GDBusMessage) reply = g_dbus_connection_send_message_with_reply_sync(
                                t->conn, msg, G_DBUS_SEND_MESSAGE_FLAGS_NONE, 5000, NULL, NULL, &error);
                        g_assert_no_error(error);
                        g_assert_nonnull(reply);
                        replies++;
                }
        g_test_message("%u calls, each answered", replies);

        /* Handles that index no fd in the message. */
        for (const char *const *m = (const char *const[]){"Submit", "Inspect", "AddRule", NULL}; *m; m++) {
                g_autoptr(GDBusMessage) msg =
                        g_dbus_message_new_method_call(DFUSD_BUS_NAME, DFUSD_PATH, DFUSD_MANAGER, *m);
                GVariantBuilder b;
                g_variant_builder_init(&b, G_VARIANT_TYPE("ah"));
                g_variant_builder_add(&b, "h", 5);
                g_variant_builder_add(&b, "h", -1);
                g_dbus_message_set_body(msg, g_variant_new("(ah@a{sv})", &b, integ_options(NULL, NULL)));
                g_autoptr(GError) error = NULL;
                g_autoptr(GDBusMessage) reply = g_dbus_connection_send_message_with_reply_sync(
                        t->conn, msg, G_DBUS_SEND_MESSAGE_FLAGS_NONE, 5000, NULL, NULL, &error);
                /* The bus may refuse it itself; if it reaches dfusd, the reply is an error. */
                if (reply)
                        g_assert_cmpint(g_dbus_message_get_message_type(reply), ==,
                                        G_DBUS_MESSAGE_TYPE_ERROR);
        }

        adv_assert_answers(t);
        adv_assert_bounded(t, 100 * 1024, 64);
        g_assert_cmpuint(adv_history_count(t), ==, 0);
        integ_stop(t);
        adv_assert_dump_blank(t, "1-1");
}

/* A Submit of a pipe: 8 MiB are written, then the client disconnects, then the writer closes. */
static void test_disconnect_mid_submit(Integ *t, gconstpointer data) {
        g_autoptr(GDBusConnection) client = NULL;
        g_autofree uint8_t *chunk = g_malloc(64 * 1024);
        int p[2], pending = 0;

        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);
        client = adv_connect(t);
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        adv_call_fds_async(client, "Submit", &p[0], 1,
                           integ_options("port", g_variant_new_string("1-1"), "base",
                                         g_variant_new_uint64(ADV_FLASH_BASE), NULL),
                           NULL, NULL, &pending);
        close(p[0]);
        g_main_context_iteration(NULL, FALSE);
        memset(chunk, 0x5A, 64 * 1024);
        for (unsigned i = 0; i < 128; i++)
                g_assert_cmpint(write(p[1], chunk, 64 * 1024), ==, 64 * 1024);
        g_dbus_connection_close_sync(client, NULL, NULL);
        close(p[1]);
        adv_wait_pending(&pending, 10);

        /* Whatever became of the job, it ends; nothing is lost and nothing hangs. */
        g_usleep(500 * 1000);
        g_autoptr(GVariant) jobs = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Jobs", NULL);
        g_assert_nonnull(jobs);
        for (size_t i = 0; i < g_variant_n_children(jobs); i++) {
                g_autofree char *job = NULL;
                g_variant_get_child(jobs, i, "o", &job);
                g_autofree char *state = integ_wait_job(t, job, 60);
                g_test_message("job %s: %s", job, state);
        }
        adv_assert_answers(t);
        adv_assert_bounded(t, 150 * 1024, 64);
        unsigned n = adv_history_count(t);
        g_assert_cmpuint(n, ==, g_variant_n_children(jobs));
        integ_stop(t);
        if (n == 0)
                adv_assert_dump_blank(t, "1-1");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/adversarial/protocol/garbage", Integ, NULL, integ_setup, test_garbage, integ_teardown);
        g_test_add("/adversarial/protocol/disconnect-mid-submit", Integ, NULL, integ_setup,
                   test_disconnect_mid_submit, integ_teardown);
        return g_test_run();
}
