/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dfusctl keygen and sign make what openssl makes, and flash sends IMAGE.sig or --signature with its
 * images to a daemon that accepts only signed ones. */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "test-main.h"

static void test_sign_and_flash(Integ *t, gconstpointer data) {
        (void)data;
        g_auto(CtlResult) r = {};
        g_autofree char *app = NULL, *other = NULL, *key = NULL, *conf = NULL, *cmd = NULL;
        g_autofree char *sig = NULL, *wrong = NULL;

        if (system("openssl version >/dev/null 2>&1") != 0)
                return test_skip("no openssl command");
        app = ctl_image(t, "app.hex", 2048, false, 3);
        other = ctl_image(t, "other.hex", 2048, false, 4);
        key = g_build_filename(t->dir, "line", NULL);
        sig = g_strdup_printf("%s.sig", app);
        wrong = g_strdup_printf("%s.sig", other);

        /* The keys are read at each call: the directory may appear after the start. */
        conf = g_strdup_printf("[Trust]\nMode=signed\nKeyDirectory=%s/keys.d\n", t->dir);
        integ_start(t, &(IntegRun){.boards = 1, .config = conf});
        integ_wait_devices(t, 1, 10);

        g_assert_cmpint(ctl_run(t, &r, "keygen", key, NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "SHA256:"));
        ctl_result_clear(&r);
        /* Never overwrites a key. */
        g_assert_cmpint(ctl_run(t, &r, "keygen", key, NULL), ==, 3);
        ctl_result_clear(&r);
        g_autofree char *pem = g_strdup_printf("%s.pem", key);
        g_assert_cmpint(ctl_run(t, &r, "sign", "--key", pem, app, other, NULL), ==, 0);
        ctl_result_clear(&r);
        /* openssl is the reference: it verifies what dfusctl signed with the key dfusctl made. */
        cmd = g_strdup_printf(
                "cd %s && mkdir keys.d && cp line.pub.pem keys.d/ && "
                "openssl pkeyutl -verify -rawin -pubin -inkey line.pub.pem -in app.hex -sigfile "
                "app.hex.sig >/dev/null",
                t->dir);
        g_assert_cmpint(system(cmd), ==, 0);

        /* IMAGE.sig beside the image is picked up. */
        g_assert_cmpint(ctl_run(t, &r, "flash", "--no-leave", app, NULL), ==, 0);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "job", "1", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "Accepted by"));
        g_assert_nonnull(strstr(r.out, "(line.pub.pem)"));
        ctl_result_clear(&r);

        /* --signature overrides it: the wrong one is refused with the reason, exit status 1. */
        g_assert_cmpint(ctl_run(t, &r, "flash", "--no-leave", "--signature", wrong, app, NULL), ==, 1);
        g_assert_nonnull(strstr(r.err, "bad signature"));
        ctl_result_clear(&r);
        /* One per image. */
        g_assert_cmpint(ctl_run(t, &r, "flash", "--signature", sig, "--signature", sig, app, NULL), ==, 2);
        ctl_result_clear(&r);
        /* No signature at all. */
        g_assert_cmpint(unlink(wrong), ==, 0);
        g_assert_cmpint(ctl_run(t, &r, "flash", "--no-leave", other, NULL), ==, 1);
        g_assert_nonnull(strstr(r.err, "has no signature"));
        ctl_result_clear(&r);
        integ_stop(t);
}

/* flash --lock, the PROTECTION column, flash --unprotect, and the word PERMANENT. */
static void test_protection(Integ *t, gconstpointer data) {
        (void)data;
        g_auto(CtlResult) r = {};
        g_autofree char *app = ctl_image(t, "app.hex", 2048, false, 5);

        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);
        g_assert_cmpint(ctl_run(t, &r, "devices", "--option-bytes", "1-1", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "bor_lev        off"));
        g_assert_nonnull(strstr(r.out, "ef aa 10 55"));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "flash", "--lock", app, NULL), ==, 0);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "devices", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "PROTECTION"));
        g_assert_nonnull(strstr(r.out, "read-protected"));
        ctl_result_clear(&r);
        /* Refused on the locked board, with the way out; then regressed and flashed. */
        g_assert_cmpint(ctl_run(t, &r, "flash", "--no-leave", app, NULL), ==, 5);
        g_assert_true(strstr(r.out, "--unprotect") || strstr(r.err, "--unprotect"));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "flash", "--no-leave", "--unprotect", app, NULL), ==, 0);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "job", "3", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "read protection removed"));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "devices", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "none"));
        ctl_result_clear(&r);

        /* RDP level 2 wants the word PERMANENT, or --yes-permanent without a terminal. */
        g_assert_cmpint(
                ctl_run(t, &r, "flash", "--option-bytes", "rdp=2", "--allow-permanent-lock", app, NULL), ==,
                2);
        g_assert_nonnull(strstr(r.err, "--yes-permanent"));
        ctl_result_clear(&r);
        /* Without --allow-permanent-lock the daemon refuses it. */
        g_assert_cmpint(ctl_run(t, &r, "flash", "--option-bytes", "rdp=2", app, NULL), ==, 2);
        g_assert_nonnull(strstr(r.err, "allow-permanent-lock"));
        ctl_result_clear(&r);
        integ_stop(t);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/client/trust/sign-and-flash", Integ, NULL, integ_setup, test_sign_and_flash,
                   integ_teardown);
        g_test_add("/client/trust/protection", Integ, NULL, integ_setup, test_protection, integ_teardown);
        return test_run();
}
