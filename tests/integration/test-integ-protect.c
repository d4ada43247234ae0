/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Read-out protection: learned at attach, a job on a protected board refused before any erase, and
 * regressed on request (read unprotect, the board resets and comes back on its port, then the job). */
#include <string.h>

#include "harness.h"
#include "test-main.h"

#define FLASH_BASE 0x08000000u

static char *device_protection(Integ *t, const char *port) {
        g_autofree char *dev = integ_device_path(t, port);
        g_assert_nonnull(dev);
        return integ_get_string(t, dev, DFUSD_DEVICE, "Protection");
}

static void test_refuse_then_unprotect(Integ *t, gconstpointer data) {
        (void)data;
        g_autofree uint8_t *img = integ_pattern(8192, 21);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 8192}, 1);
        g_autofree char *job = NULL, *state = NULL, *err = NULL, *prot = NULL, *note = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) dump = NULL;
        const char *images[] = {file, NULL};

        integ_start(t, &(IntegRun){.boards = 0, .script = "plug 1-1 part=f405 protected\n"});
        integ_wait_devices(t, 1, 10);
        prot = device_protection(t, "1-1");
        g_assert_cmpstr(prot, ==, "read-protected");

        /* Refused before any erase, naming the board and the option. */
        job = integ_submit(t, images, integ_options("leave", g_variant_new_boolean(FALSE), NULL), &error);
        g_assert_no_error(error);
        state = integ_wait_job(t, job, 60);
        g_assert_cmpstr(state, ==, "failed");
        err = integ_get_string(t, job, DFUSD_JOB, "Error");
        g_test_message("%s", err);
        g_assert_nonnull(strstr(err, "port 1-1"));
        g_assert_nonnull(strstr(err, "read-protected"));
        g_assert_nonnull(strstr(err, "'unprotect'"));
        g_clear_pointer(&job, g_free);
        g_clear_pointer(&state, g_free);

        /* With unprotect: regressed, back on the same port, flashed and verified. */
        job = integ_submit(t, images,
                           integ_options("unprotect", g_variant_new_boolean(TRUE), "leave",
                                         g_variant_new_boolean(FALSE), NULL),
                           &error);
        g_assert_no_error(error);
        state = integ_wait_job(t, job, 60);
        g_assert_cmpstr(state, ==, "done");
        note = integ_get_string(t, job, DFUSD_JOB, "Protection");
        g_assert_nonnull(strstr(note, "read protection removed"));
        g_clear_pointer(&prot, g_free);
        prot = device_protection(t, "1-1");
        g_assert_cmpstr(prot, ==, "none");

        integ_stop(t);
        dump = integ_dump(t, "1-1");
        integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, img, 8192);
        /* The regression erased the rest of the flash. */
        integ_assert_blank(dump, FLASH_BASE, FLASH_BASE + 0x10000, 0x10000);
}

static void test_unprotect_unprotected(Integ *t, gconstpointer data) {
        (void)data;
        g_autofree uint8_t *img = integ_pattern(2048, 22);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 2048}, 1);
        g_autofree char *job = NULL, *state = NULL, *note = NULL, *prot = NULL;
        g_autoptr(GError) error = NULL;
        const char *images[] = {file, NULL};

        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);
        prot = device_protection(t, "1-1");
        g_assert_cmpstr(prot, ==, "none");
        /* Nothing to regress: the option changes nothing. */
        job = integ_submit(t, images, integ_options("unprotect", g_variant_new_boolean(TRUE), NULL), &error);
        g_assert_no_error(error);
        state = integ_wait_job(t, job, 60);
        g_assert_cmpstr(state, ==, "done");
        note = integ_get_string(t, job, DFUSD_JOB, "Protection");
        g_assert_cmpstr(note, ==, "");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/integ/protect/refuse-then-unprotect", Integ, NULL, integ_setup,
                   test_refuse_then_unprotect, integ_teardown);
        g_test_add("/integ/protect/unprotect-unprotected", Integ, NULL, integ_setup,
                   test_unprotect_unprotected, integ_teardown);
        return test_run();
}
