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

static char *flash_job(Integ *t, const char *const *images, GVariant *options, const char *want_state) {
        g_autofree char *job = NULL, *state = NULL, *err = NULL;
        g_autoptr(GError) error = NULL;

        job = integ_submit(t, images, options, &error);
        g_assert_no_error(error);
        state = integ_wait_job(t, job, 60);
        err = integ_get_string(t, job, DFUSD_JOB, "Error");
        if (!g_str_equal(state, want_state))
                g_error("job ended %s, not %s: %s", state, want_state, err);
        return g_steal_pointer(&job);
}

/* The image is written and verified, then the board is locked: its reads are refused, and the flash
 * (read behind the bootloader's back) holds the image. */
static void test_lock(Integ *t, gconstpointer data) {
        (void)data;
        g_autofree uint8_t *img = integ_pattern(4096, 23);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 4096}, 1);
        g_autofree char *job = NULL, *note = NULL, *prot = NULL;
        g_autoptr(GBytes) dump = NULL;
        const char *images[] = {file, NULL};

        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);
        job = flash_job(t, images, integ_options("lock", g_variant_new_boolean(TRUE), NULL), "done");
        note = integ_get_string(t, job, DFUSD_JOB, "Protection");
        g_test_message("%s", note);
        g_assert_nonnull(strstr(note, "locked (RDP level 1)"));
        prot = device_protection(t, "1-1");
        g_assert_cmpstr(prot, ==, "read-protected");
        g_autofree char *recorded = integ_history_newest_string(t, "protection");
        g_assert_cmpstr(recorded, ==, note);
        integ_stop(t);
        dump = integ_dump(t, "1-1");
        integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, img, 4096);
}

/* BOR level by name on an F4 and an H7: read, changed, written, reset, read back equal; then flashed. */
static void test_option_bytes(Integ *t, gconstpointer data) {
        (void)data;
        static const char *const parts[] = {"f405", "h743", NULL};
        g_autofree uint8_t *img = integ_pattern(2048, 24);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 2048}, 1);
        const char *images[] = {file, NULL};

        integ_start(t, &(IntegRun){.boards = 2, .parts = parts});
        integ_wait_devices(t, 2, 10);
        for (unsigned i = 0; i < 2; i++) {
                g_autofree char *job = NULL, *note = NULL, *again = NULL, *note2 = NULL;
                const char *port = i == 0 ? "1-1" : "1-2";
                job = flash_job(t, images,
                                integ_options("port", g_variant_new_string(port), "option-bytes",
                                              g_variant_new_string("bor_lev=1"), "leave",
                                              g_variant_new_boolean(FALSE), NULL),
                                "done");
                note = integ_get_string(t, job, DFUSD_JOB, "Protection");
                g_test_message("%s: %s", parts[i], note);
                g_assert_nonnull(strstr(note, i == 0 ? "bor_lev off -> 1" : "bor_lev off -> 1"));
                g_assert_nonnull(strstr(note, "read back equal"));
                /* Asked again, nothing changes. */
                again = flash_job(t, images,
                                  integ_options("port", g_variant_new_string(port), "option-bytes",
                                                g_variant_new_string("bor_lev=1"), "leave",
                                                g_variant_new_boolean(FALSE), NULL),
                                  "done");
                note2 = integ_get_string(t, again, DFUSD_JOB, "Protection");
                g_assert_cmpstr(note2, ==, "option bytes already as asked");

                /* Read on demand, the board shows the new value. */
                g_autofree char *dev = integ_device_path(t, port);
                g_autoptr(GError) error = NULL;
                g_autoptr(GVariant) r =
                        integ_call(t, dev, DFUSD_DEVICE, "ReadOptionBytes", NULL, "(a{sv})", &error);
                g_assert_no_error(error);
                g_autoptr(GVariant) dict = g_variant_get_child_value(r, 0);
                g_autoptr(GVariant) fields = g_variant_lookup_value(dict, "fields", G_VARIANT_TYPE("a{ss}"));
                const char *bor = NULL, *rdp = NULL;
                g_assert_nonnull(fields);
                g_assert_true(g_variant_lookup(fields, "bor_lev", "&s", &bor));
                g_assert_cmpstr(bor, ==, "1");
                g_assert_true(g_variant_lookup(fields, "rdp", "&s", &rdp));
                g_assert_cmpstr(rdp, ==, "0");
        }
}

/* Write protection by option bytes: sector 1 protected, a job that writes it fails its verify. */
static void test_write_protection(Integ *t, gconstpointer data) {
        (void)data;
        g_autofree uint8_t *img = integ_pattern(2048, 26);
        g_autofree char *file =
                integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE + 0x4000, img, 2048}, 1);
        g_autofree char *job = NULL, *err = NULL;
        const char *images[] = {file, NULL};

        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);
        job = flash_job(t, images,
                        integ_options("option-bytes", g_variant_new_string("nwrp=0xffd"), "leave",
                                      g_variant_new_boolean(FALSE), NULL),
                        "failed");
        err = integ_get_string(t, job, DFUSD_JOB, "Error");
        g_test_message("%s", err);
        g_assert_nonnull(strstr(err, "0x08004000"));
}

/* What cannot be right is refused at Submit, touching no board. */
static void test_option_bytes_refused(Integ *t, gconstpointer data) {
        (void)data;
        static const char *const parts[] = {"f405", "f072", NULL};
        g_autofree uint8_t *img = integ_pattern(1024, 25);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 1024}, 1);
        const char *images[] = {file, NULL};
        struct {
                const char *port, *spec;
                bool lock, permanent;
                const char *words;
        } bad[] = {
                {"1-1", "foo=1", false, false, "no field \"foo\""},
                {"1-1", "bor_lev=7", false, false, "not allowed"},
                {"1-1", "nwrp=0x10000", false, false, "out of range"},
                {"1-1", "rdp=2", false, false, "allow-permanent-lock"},
                {"1-1", "rdp=1", true, false, "'lock'"},
                {"1-2", NULL, true, false, "none for part f072"},
        };

        integ_start(t, &(IntegRun){.boards = 2, .parts = parts});
        integ_wait_devices(t, 2, 10);
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(GError) error = NULL;
                g_autofree char *job = NULL;
                GVariantBuilder b;

                g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
                g_variant_builder_add(&b, "{sv}", "port", g_variant_new_string(bad[i].port));
                if (bad[i].spec)
                        g_variant_builder_add(&b, "{sv}", "option-bytes", g_variant_new_string(bad[i].spec));
                if (bad[i].lock)
                        g_variant_builder_add(&b, "{sv}", "lock", g_variant_new_boolean(TRUE));
                job = integ_submit(t, images, g_variant_builder_end(&b), &error);
                g_assert_null(job);
                integ_assert_dbus_error(error, "org.freedesktop.DBus.Error.InvalidArgs", bad[i].words, NULL);
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/integ/protect/refuse-then-unprotect", Integ, NULL, integ_setup,
                   test_refuse_then_unprotect, integ_teardown);
        g_test_add("/integ/protect/unprotect-unprotected", Integ, NULL, integ_setup,
                   test_unprotect_unprotected, integ_teardown);
        g_test_add("/integ/protect/lock", Integ, NULL, integ_setup, test_lock, integ_teardown);
        g_test_add("/integ/protect/option-bytes", Integ, NULL, integ_setup, test_option_bytes,
                   integ_teardown);
        g_test_add("/integ/protect/write-protection", Integ, NULL, integ_setup, test_write_protection,
                   integ_teardown);
        g_test_add("/integ/protect/option-bytes-refused", Integ, NULL, integ_setup,
                   test_option_bytes_refused, integ_teardown);
        return test_run();
}
