/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* [Trust]: in signed and allowlist mode only approved images are flashed; the rest is refused with the
 * reason, before anything is queued or spooled, and the job names what accepted its image. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "test-main.h"

#define FLASH_BASE     0x08000000u
#define IMAGE_REJECTED "org.dfusd.Flash1.Error.ImageRejected"

static bool have_openssl(void) {
        return system("openssl version >/dev/null 2>&1") == 0;
}

static void sh(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void sh(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        g_autofree char *cmd = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_assert_cmpint(system(cmd), ==, 0);
}

static GVariant *signatures_option(const char *const *sig_paths) {
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("aay"));
        for (size_t i = 0; sig_paths[i]; i++) {
                g_autofree char *data = NULL;
                gsize size = 0;
                if (*sig_paths[i])
                        g_assert_true(g_file_get_contents(sig_paths[i], &data, &size, NULL));
                g_variant_builder_add_value(
                        &b, g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, data ?: "", size, 1));
        }
        return integ_options("signatures", g_variant_builder_end(&b), NULL);
}

/* app.hex, other.hex (one byte differs), keys line and foreign, keys.d with line's public key,
 * app.hex.sig by line, app.hex.foreign.sig by foreign, approved.d listing app.hex only. */
static void make_material(Integ *t, uint8_t **ret_img) {
        uint8_t *img = integ_pattern(4096, 11);
        g_free(integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 4096}, 1));

        img[100] ^= 0x40;
        g_free(integ_write_ihex(t, "other.hex", &(IntegSegment){FLASH_BASE, img, 4096}, 1));
        img[100] ^= 0x40;
        sh("cd %s && mkdir keys.d approved.d && "
           "openssl genpkey -algorithm ed25519 -out line.key 2>/dev/null && "
           "openssl genpkey -algorithm ed25519 -out foreign.key 2>/dev/null && "
           "openssl pkey -in line.key -pubout -out keys.d/line.pem && "
           "openssl pkeyutl -sign -rawin -inkey line.key -in app.hex -out app.hex.sig && "
           "openssl pkeyutl -sign -rawin -inkey foreign.key -in app.hex -out app.hex.foreign.sig && "
           "sha256sum app.hex > approved.d/release.sha256",
           t->dir);
        *ret_img = img;
}

static char *path_in(Integ *t, const char *name) {
        return g_build_filename(t->dir, name, NULL);
}

static void assert_refused(Integ *t, const char *image, GVariant *options, const char *reason) {
        g_autofree char *path = path_in(t, image), *job = NULL, *rule = NULL;
        g_autoptr(GError) error = NULL, rule_error = NULL;
        const char *images[] = {path, NULL};

        g_variant_ref_sink(options);
        job = integ_submit(t, images, options, &error);
        g_assert_null(job);
        integ_assert_dbus_error(error, IMAGE_REJECTED, reason, NULL);
        g_test_message("%s: %s", image, error->message);
        /* A rule is checked when it is added, the same way. */
        rule = integ_add_rule(t, images, integ_options("match-port", g_variant_new_string("*"), NULL),
                              &rule_error);
        g_assert_null(rule);
        g_assert_nonnull(rule_error);
        g_variant_unref(options);
}

/* Nothing of a refused image reached the spool, and no job is left. */
static void assert_nothing_kept(Integ *t, const char *image) {
        g_autofree char *path = path_in(t, image), *data = NULL, *hash = NULL, *spooled = NULL;
        gsize size;
        g_autoptr(GVariant) jobs = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Jobs", NULL);

        g_assert_true(g_file_get_contents(path, &data, &size, NULL));
        hash = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, size);
        spooled = g_build_filename(t->state_dir, "spool", hash, NULL);
        g_assert_false(g_file_test(spooled, G_FILE_TEST_EXISTS));
        g_assert_nonnull(jobs);
        g_assert_cmpuint(g_variant_n_children(jobs), ==, 0);
}

static void flash_accepted(Integ *t, GVariant *options, const char *trust_words, char **ret_port) {
        g_autofree char *path = path_in(t, "app.hex"), *job = NULL, *state = NULL, *trust = NULL;
        g_autoptr(GError) error = NULL;
        const char *images[] = {path, NULL};

        job = integ_submit(t, images, options, &error);
        g_assert_no_error(error);
        state = integ_wait_job(t, job, 60);
        g_assert_cmpstr(state, ==, "done");
        trust = integ_get_string(t, job, DFUSD_JOB, "Trust");
        g_test_message("accepted by %s", trust);
        g_assert_nonnull(strstr(trust, trust_words));
        *ret_port = integ_get_string(t, job, DFUSD_JOB, "PortPath");
}

static void test_signed(Integ *t, gconstpointer data) {
        (void)data;
        g_autofree uint8_t *img = NULL;
        g_autofree char *conf = NULL, *sig = NULL, *foreign = NULL, *port = NULL, *fp = NULL, *pub = NULL;
        g_autofree char *fp_out = NULL;
        g_autoptr(GBytes) dump = NULL;

        if (!have_openssl())
                return test_skip("no openssl command");
        make_material(t, &img);
        sig = path_in(t, "app.hex.sig");
        foreign = path_in(t, "app.hex.foreign.sig");
        conf = g_strdup_printf("[Trust]\nMode=signed\nKeyDirectory=%s/keys.d\n", t->dir);
        integ_start(t, &(IntegRun){.boards = 1, .config = conf});
        integ_wait_devices(t, 1, 10);

        assert_refused(t, "app.hex", integ_options(NULL, NULL), "has no signature");
        assert_refused(t, "other.hex", signatures_option((const char *[]){sig, NULL}), "bad signature");
        assert_nothing_kept(t, "other.hex");
        assert_refused(t, "app.hex", signatures_option((const char *[]){foreign, NULL}), "bad signature");
        /* An empty entry stands for no signature. */
        assert_refused(t, "app.hex", signatures_option((const char *[]){"", NULL}), "has no signature");

        /* The record names the key by its fingerprint and file, as openssl computes it. */
        sh("openssl pkey -pubin -in %s/keys.d/line.pem -outform DER | tail -c 32 | sha256sum | cut -c1-64 > "
           "%s/fp",
           t->dir, t->dir);
        pub = path_in(t, "fp");
        g_assert_true(g_file_get_contents(pub, &fp_out, NULL, NULL));
        g_strstrip(fp_out);
        fp = g_strdup_printf("key SHA256:%s (line.pem)", fp_out);
        flash_accepted(t, signatures_option((const char *[]){sig, NULL}), fp, &port);
        /* The history keeps it. */
        g_autofree char *recorded = integ_history_newest_string(t, "trust");
        g_assert_cmpstr(recorded, ==, fp);

        integ_stop(t);
        dump = integ_dump(t, port);
        integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, img, 4096);
}

static void test_allowlist(Integ *t, gconstpointer data) {
        (void)data;
        g_autofree uint8_t *img = NULL;
        g_autofree char *conf = NULL, *port = NULL;
        g_autoptr(GBytes) dump = NULL;

        if (!have_openssl())
                return test_skip("no openssl command");
        make_material(t, &img);
        conf = g_strdup_printf("[Trust]\nMode=allowlist\nApprovedDirectory=%s/approved.d\n", t->dir);
        integ_start(t, &(IntegRun){.boards = 1, .config = conf});
        integ_wait_devices(t, 1, 10);

        assert_refused(t, "other.hex", integ_options(NULL, NULL), "is not listed");
        assert_nothing_kept(t, "other.hex");
        /* The board stays in its bootloader for the next job. */
        flash_accepted(t, integ_options("leave", g_variant_new_boolean(FALSE), NULL),
                       "allowlist release.sha256", &port);

        /* The list is read per call: an image listed later is accepted from then on. */
        sh("cd %s && sha256sum other.hex > approved.d/later.sha256", t->dir);
        {
                g_autofree char *path = path_in(t, "other.hex"), *job = NULL, *state = NULL;
                g_autoptr(GError) error = NULL;
                job = integ_submit(t, (const char *[]){path, NULL}, NULL, &error);
                g_assert_no_error(error);
                state = integ_wait_job(t, job, 60);
                g_assert_cmpstr(state, ==, "done");
        }
        integ_stop(t);
        dump = integ_dump(t, port);
        g_assert_nonnull(dump);
}

/* A rule is checked when added and again when [Trust] changes: with its key gone, it stops and says why. */
static void test_rule_stops(Integ *t, gconstpointer data) {
        (void)data;
        g_autofree uint8_t *img = NULL;
        g_autofree char *conf = NULL, *sig = NULL, *app = NULL, *rule = NULL, *trust = NULL, *stopped = NULL;
        g_autoptr(GError) error = NULL;

        if (!have_openssl())
                return test_skip("no openssl command");
        make_material(t, &img);
        sig = path_in(t, "app.hex.sig");
        app = path_in(t, "app.hex");
        conf = g_strdup_printf("[Trust]\nMode=signed\nKeyDirectory=%s/keys.d\n", t->dir);
        integ_start(t, &(IntegRun){.boards = 0, .config = conf});
        GVariant *opts = signatures_option((const char *[]){sig, NULL});
        GVariantBuilder b;
        GVariantIter it;
        const char *k;
        GVariant *v;
        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        g_variant_iter_init(&it, opts);
        while (g_variant_iter_next(&it, "{&sv}", &k, &v))
                g_variant_builder_add(&b, "{sv}", k, v);
        g_variant_builder_add(&b, "{sv}", "match-port", g_variant_new_string("*"));
        g_variant_unref(g_variant_ref_sink(opts));
        rule = integ_add_rule(t, (const char *[]){app, NULL}, g_variant_builder_end(&b), &error);
        g_assert_no_error(error);
        trust = integ_get_string(t, rule, DFUSD_RULE, "Trust");
        g_assert_nonnull(strstr(trust, "(line.pem)"));
        stopped = integ_get_string(t, rule, DFUSD_RULE, "Stopped");
        g_assert_cmpstr(stopped, ==, "");
        g_clear_pointer(&stopped, g_free);
        integ_stop(t);

        /* The key is withdrawn while the daemon is down: at the next start the rule stops. */
        sh("rm %s/keys.d/line.pem", t->dir);
        integ_start(t, &(IntegRun){.boards = 0, .config = conf});
        stopped = integ_get_string(t, rule, DFUSD_RULE, "Stopped");
        g_test_message("%s", stopped);
        g_assert_nonnull(strstr(stopped, "no longer in"));
        integ_stop(t);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/integ/trust/signed", Integ, NULL, integ_setup, test_signed, integ_teardown);
        g_test_add("/integ/trust/allowlist", Integ, NULL, integ_setup, test_allowlist, integ_teardown);
        g_test_add("/integ/trust/rule-stops", Integ, NULL, integ_setup, test_rule_stops, integ_teardown);
        return test_run();
}
