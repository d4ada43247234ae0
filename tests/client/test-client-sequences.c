/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dfusctl sequence and --patch against the real dfusd on simulated boards: the verbs, their JSON, the
 * values in flash's output and in the history, and the argument checks. */
#include <string.h>

#include "ctl.h"
#include "test-main.h"

#define FLASH_BASE 0x08000000u

static void test_sequences(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", 4096, false, 3);
        g_autofree char *list =
                integ_write_file(t, "macs.txt", "# batch 7\n02:80:E1:00:00:01\n\n02:80:E1:00:00:02\n", 47);
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;

        integ_start(t, &(IntegRun){.boards = 2});
        integ_wait_devices(t, 2, 10);
        g_assert_cmpint(
                ctl_run(t, &r, "sequence", "add", "serial", "--start", "0x100", "--last", "0x101", NULL), ==,
                0);
        g_assert_cmpstr(r.out, ==, "/org/dfusd/Flash1/sequence/serial\n");
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "sequence", "add", "mac-list", "--list", list, "--json", NULL), ==,
                        0);
        doc = ctl_json(&r);
        g_assert_cmpstr(jstr(doc, "Kind"), ==, "list");
        g_assert_cmpuint(json_object_get_uint64(jget(doc, "Left")), ==, 2);
        g_clear_pointer(&doc, json_object_put);
        ctl_result_clear(&r);

        /* Bad arguments: told before anything is sent. */
        g_assert_cmpint(ctl_run(t, &r, "sequence", "add", "x", NULL), ==, 2);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "sequence", "add", "a.b", "--start", "1", NULL), !=, 0);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--patch", "0x08000100:u33le:serial", NULL), ==, 2);
        g_assert_nonnull(strstr(r.err, "u33le"));
        ctl_result_clear(&r);
        /* A patch in RAM is a rejected image. */
        g_assert_cmpint(
                ctl_run(t, &r, "flash", image, "--port", "1-1", "--patch", "0x20000000:u32le:serial", NULL),
                ==, 1);
        g_assert_nonnull(strstr(r.err, "RAM"));
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--all", "--no-leave", "--patch",
                                "0x08000100:u32le:serial", "--patch", "0x08000200:mac:mac-list", NULL),
                        ==, 0);
        g_assert_nonnull(strstr(r.out, "serial=256 mac-list=02:80:E1:00:00:01"));
        g_assert_nonnull(strstr(r.out, "serial=257 mac-list=02:80:E1:00:00:02"));
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "sequence", "list", "--no-legend", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "mac-list"));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "sequence", "show", "serial", "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        g_assert_cmpuint(json_object_get_uint64(jget(doc, "Used")), ==, 2);
        g_assert_cmpuint(json_object_get_uint64(jget(doc, "Left")), ==, 0);
        g_clear_pointer(&doc, json_object_put);
        ctl_result_clear(&r);

        /* Exhausted: the job fails with the sequence's name. */
        g_assert_cmpint(
                ctl_run(t, &r, "flash", image, "--port", "1-1", "--patch", "0x08000100:u32le:serial", NULL),
                ==, 5);
        g_assert_nonnull(strstr(r.out, "Sequence serial is exhausted."));
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "history", "--value", "257", "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        g_assert_cmpuint(json_object_array_length(jget(doc, "entries")), ==, 1);
        g_clear_pointer(&doc, json_object_put);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "history", "--value", "257", "--format", "csv", "--no-legend", NULL),
                        ==, 0);
        /* values, origin (dfusctl sends none), then one column per sequence */
        g_assert_nonnull(strstr(r.out, ",serial=257 mac-list=02:80:E1:00:00:02,,02:80:E1:00:00:02,257\r\n"));
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "sequence", "remove", "serial", NULL), ==, 0);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "sequence", "show", "serial", NULL), !=, 0);
        ctl_result_clear(&r);
        integ_stop(t);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/client/sequences", Integ, NULL, integ_setup, test_sequences, integ_teardown);
        return test_run();
}
