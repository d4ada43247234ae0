/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "test-main.h"
#include "trust.h"

/* A directory with two key pairs (line, foreign), keys.d holding only line's public key, an image, its
 * signatures by both keys, and approved.d listing the image. */
typedef struct Fixture {
        char *dir, *keys, *approved;
        char *image, *sig_line, *sig_foreign;
} Fixture;

static bool have_openssl(void) {
        return system("openssl version >/dev/null 2>&1") == 0;
}

static void run(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void run(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        g_autofree char *cmd = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_assert_cmpint(system(cmd), ==, 0);
}

static void write_file(const char *path, const void *data, size_t size) {
        g_autoptr(GError) e = NULL;
        g_assert_true(g_file_set_contents(path, data, (gssize)size, &e));
}

static void fixture_set_up(Fixture *f, gconstpointer data) {
        (void)data;
        static const uint8_t image[] = "\x00\x10\x00\x20\x01\x02\x00\x08 firmware";

        f->dir = g_dir_make_tmp("test-trust-XXXXXX", NULL);
        g_assert_nonnull(f->dir);
        f->keys = g_build_filename(f->dir, "keys.d", NULL);
        f->approved = g_build_filename(f->dir, "approved.d", NULL);
        f->image = g_build_filename(f->dir, "app.bin", NULL);
        f->sig_line = g_build_filename(f->dir, "app.bin.sig", NULL);
        f->sig_foreign = g_build_filename(f->dir, "app.bin.foreign.sig", NULL);
        g_assert_cmpint(g_mkdir(f->keys, 0700), ==, 0);
        g_assert_cmpint(g_mkdir(f->approved, 0700), ==, 0);
        write_file(f->image, image, sizeof(image));
        if (!have_openssl())
                return;
        run("cd %s && openssl genpkey -algorithm ed25519 -out line.key 2>/dev/null && "
            "openssl genpkey -algorithm ed25519 -out foreign.key 2>/dev/null && "
            "openssl pkey -in line.key -pubout -out keys.d/line.pem 2>/dev/null && "
            "openssl pkeyutl -sign -rawin -inkey line.key -in app.bin -out app.bin.sig && "
            "openssl pkeyutl -sign -rawin -inkey foreign.key -in app.bin -out app.bin.foreign.sig",
            f->dir);
        run("cd %s && sha256sum app.bin > approved.d/release.sha256", f->dir);
}

static void fixture_tear_down(Fixture *f, gconstpointer data) {
        (void)data;
        run("rm -rf '%s'", f->dir);
        g_free(f->dir);
        g_free(f->keys);
        g_free(f->approved);
        g_free(f->image);
        g_free(f->sig_line);
        g_free(f->sig_foreign);
}

static uint8_t *read_all(const char *path, size_t *size) {
        gchar *buf = NULL;
        gsize n = 0;
        g_assert_true(g_file_get_contents(path, &buf, &n, NULL));
        *size = n;
        return (uint8_t *)buf;
}

/* Checks path's bytes (tampered: one bit flipped) with signature sig_path (NULL: none). */
static int check(const Fixture *f, TrustMode mode, bool tampered, const char *sig_path, char **source,
                 DfuError *error) {
        _cleanup_(trust_store_freep) TrustStore *s = NULL;
        g_autofree uint8_t *data = NULL, *sig = NULL;
        size_t size, sig_size = 0;
        char sha[65];
        int r;

        r = trust_store_load(mode, f->approved, f->keys, &s, error);
        if (r < 0)
                return r;
        data = read_all(f->image, &size);
        if (tampered)
                data[size - 1] ^= 1;
        if (sig_path)
                sig = read_all(sig_path, &sig_size);
        g_assert_cmpint(sha256_hex(data, size, sha), ==, 0);
        return trust_store_check(s, "image 1", data, size, sha, sig, sig_size, source, error);
}

static void test_modes(void) {
        g_assert_cmpint(trust_mode_from_string("off"), ==, TRUST_OFF);
        g_assert_cmpint(trust_mode_from_string("allowlist"), ==, TRUST_ALLOWLIST);
        g_assert_cmpint(trust_mode_from_string("signed"), ==, TRUST_SIGNED);
        g_assert_cmpint(trust_mode_from_string("Signed"), <, 0);
        g_assert_cmpint(trust_mode_from_string(NULL), <, 0);
        g_assert_cmpstr(trust_mode_to_string(TRUST_SIGNED), ==, "signed");
}

static void test_signed_good(Fixture *f, gconstpointer data) {
        (void)data;
        g_autofree char *source = NULL, *fp = NULL, *pub = g_build_filename(f->keys, "line.pem", NULL);
        DfuError e = DFU_ERROR_INIT;

        if (!have_openssl())
                return test_skip("no openssl command");
        g_assert_cmpint(check(f, TRUST_SIGNED, false, f->sig_line, &source, &e), ==, 0);
        g_assert_cmpint(trust_key_file_fingerprint(pub, &fp, &e), ==, 0);
        g_assert_true(g_str_has_prefix(fp, "SHA256:"));
        g_assert_cmpuint(strlen(fp), ==, 7 + 64);
        g_autofree char *want = g_strdup_printf("key %s (line.pem)", fp);
        g_assert_cmpstr(source, ==, want);

        /* The private key names the same fingerprint. */
        g_autofree char *priv = g_build_filename(f->dir, "line.key", NULL), *fp2 = NULL;
        g_assert_cmpint(trust_key_file_fingerprint(priv, &fp2, &e), ==, 0);
        g_assert_cmpstr(fp, ==, fp2);
}

static void test_signed_refused(Fixture *f, gconstpointer data) {
        (void)data;
        char *source = NULL;

        if (!have_openssl())
                return test_skip("no openssl command");
        struct {
                bool tampered;
                const char *sig;
                const char *reason;
        } cases[] = {
                {true, f->sig_line, "bad signature"},
                {false, f->sig_foreign, "bad signature"},
                {false, NULL, "has no signature"},
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                DfuError e = DFU_ERROR_INIT;
                g_assert_cmpint(check(f, TRUST_SIGNED, cases[i].tampered, cases[i].sig, &source, &e), ==,
                                -EMEDIUMTYPE);
                g_assert_null(source);
                g_test_message("%s", e.message);
                g_assert_nonnull(strstr(e.message, cases[i].reason));
        }

        /* A signature of the wrong size, and no keys at all. */
        g_autofree char *short_sig = g_build_filename(f->dir, "short.sig", NULL);
        write_file(short_sig, "abc", 3);
        DfuError e = DFU_ERROR_INIT;
        g_assert_cmpint(check(f, TRUST_SIGNED, false, short_sig, &source, &e), ==, -EMEDIUMTYPE);
        g_assert_nonnull(strstr(e.message, "bad signature: 3 bytes"));
        run("rm %s/line.pem", f->keys);
        e = (DfuError)DFU_ERROR_INIT;
        g_assert_cmpint(check(f, TRUST_SIGNED, false, f->sig_line, &source, &e), ==, -EMEDIUMTYPE);
        g_assert_nonnull(strstr(e.message, "unknown key"));
}

static void test_malformed_keys(Fixture *f, gconstpointer data) {
        (void)data;
        _cleanup_(trust_store_freep) TrustStore *s = NULL;
        DfuError e = DFU_ERROR_INIT;

        if (!have_openssl())
                return test_skip("no openssl command");
        /* Not PEM. */
        g_autofree char *bad = g_build_filename(f->keys, "bad.pem", NULL);
        write_file(bad, "hello\n", 6);
        g_assert_cmpint(trust_store_load(TRUST_SIGNED, f->approved, f->keys, &s, &e), ==, -EBADMSG);
        g_assert_nonnull(strstr(e.message, "bad.pem: not a PEM public key"));
        /* A private key does not belong there. */
        run("cp %s/line.key %s", f->dir, bad);
        e = (DfuError)DFU_ERROR_INIT;
        g_assert_cmpint(trust_store_load(TRUST_SIGNED, f->approved, f->keys, &s, &e), ==, -EBADMSG);
        /* Another algorithm. */
        run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null | openssl pkey "
            "-pubout -out %s 2>/dev/null",
            bad);
        e = (DfuError)DFU_ERROR_INIT;
        g_assert_cmpint(trust_store_load(TRUST_SIGNED, f->approved, f->keys, &s, &e), ==, -EBADMSG);
        g_assert_nonnull(strstr(e.message, "not an Ed25519 key"));
        /* Too large. */
        g_autofree char *big = g_malloc0(TRUST_KEY_FILE_MAX + 1);
        write_file(bad, big, TRUST_KEY_FILE_MAX + 1);
        e = (DfuError)DFU_ERROR_INIT;
        g_assert_cmpint(trust_store_load(TRUST_SIGNED, f->approved, f->keys, &s, &e), ==, -EFBIG);
        /* Files without the suffix are not keys. */
        run("mv %s %s/README", bad, f->keys);
        e = (DfuError)DFU_ERROR_INIT;
        g_assert_cmpint(trust_store_load(TRUST_SIGNED, f->approved, f->keys, &s, &e), ==, 0);
}

static void test_allowlist(Fixture *f, gconstpointer data) {
        (void)data;
        g_autofree char *source = NULL;
        DfuError e = DFU_ERROR_INIT;

        if (!have_openssl())
                return test_skip("no openssl command");
        g_assert_cmpint(check(f, TRUST_ALLOWLIST, false, NULL, &source, &e), ==, 0);
        g_assert_cmpstr(source, ==, "allowlist release.sha256");
        g_clear_pointer(&source, g_free);

        /* Miss: another image. */
        g_assert_cmpint(check(f, TRUST_ALLOWLIST, true, NULL, &source, &e), ==, -EMEDIUMTYPE);
        g_assert_nonnull(strstr(e.message, "is not listed"));

        /* Binary mode marker, upper case, comments and CRLF are sha256sum's format too. */
        run("cd %s && { echo '# release 1.2'; sha256sum -b app.bin | tr a-f A-F | sed 's/$/\\r/'; } > "
            "approved.d/release.sha256",
            f->dir);
        e = (DfuError)DFU_ERROR_INIT;
        g_assert_cmpint(check(f, TRUST_ALLOWLIST, false, NULL, &source, &e), ==, 0);
        g_clear_pointer(&source, g_free);

        /* A malformed line fails closed, naming the file and line. */
        run("cd %s && echo 'deadbeef  other.bin' >> approved.d/release.sha256", f->dir);
        e = (DfuError)DFU_ERROR_INIT;
        g_assert_cmpint(check(f, TRUST_ALLOWLIST, false, NULL, &source, &e), ==, -EBADMSG);
        g_assert_nonnull(strstr(e.message, "release.sha256, line 3: not a sha256sum line"));

        /* No directory: nothing is approved. */
        run("rm -r %s", f->approved);
        e = (DfuError)DFU_ERROR_INIT;
        g_assert_cmpint(check(f, TRUST_ALLOWLIST, false, NULL, &source, &e), ==, -EMEDIUMTYPE);
}

static void test_off(Fixture *f, gconstpointer data) {
        (void)data;
        char *source = (char *)"x";
        DfuError e = DFU_ERROR_INIT;

        /* Off reads no directory at all. */
        g_assert_cmpint(check(f, TRUST_OFF, true, NULL, &source, &e), ==, 0);
        g_assert_null(source);
}

/* A rule's images are checked again when the trust directories change: every hash against the
 * allow-list (the message names which image), the keys named in its source against keys.d. */
static void test_recheck(Fixture *f, gconstpointer data) {
        (void)data;
        _cleanup_(trust_store_freep) TrustStore *listed = NULL, *keyed = NULL;
        g_autofree char *pub = g_build_filename(f->keys, "line.pem", NULL);
        g_autofree char *foreign = g_build_filename(f->dir, "foreign.key", NULL);
        g_autofree char *fp = NULL, *fp_foreign = NULL;
        g_autofree uint8_t *bytes = NULL;
        char sha[65], other[65];
        DfuError e = DFU_ERROR_INIT;
        size_t size;

        if (!have_openssl())
                return test_skip("no openssl command");
        bytes = read_all(f->image, &size);
        g_assert_cmpint(sha256_hex(bytes, size, sha), ==, 0);
        g_assert_cmpint(sha256_hex(bytes, size - 1, other), ==, 0);

        g_assert_cmpint(trust_store_load(TRUST_ALLOWLIST, f->approved, f->keys, &listed, &e), ==, 0);
        g_assert_cmpint(trust_store_recheck(listed, (char *[]){sha, sha, NULL}, NULL, &e), ==, 0);
        g_assert_cmpint(trust_store_recheck(listed, (char *[]){sha, other, NULL}, NULL, &e), ==,
                        -EMEDIUMTYPE);
        g_assert_nonnull(strstr(e.message, "image 2 is not approved"));
        e = (DfuError)DFU_ERROR_INIT;
        g_assert_cmpint(trust_store_recheck(listed, (char *[]){other, sha, NULL}, NULL, &e), ==,
                        -EMEDIUMTYPE);
        g_assert_nonnull(strstr(e.message, "image 1 is not approved"));

        g_assert_cmpint(trust_key_file_fingerprint(pub, &fp, &e), ==, 0);
        g_assert_cmpint(trust_key_file_fingerprint(foreign, &fp_foreign, &e), ==, 0);
        g_autofree char *good = g_strdup_printf("key %s (line.pem)", fp);
        g_autofree char *gone = g_strdup_printf("key %s (line.pem), key %s (old.pem)", fp, fp_foreign);
        g_assert_cmpint(trust_store_load(TRUST_SIGNED, f->approved, f->keys, &keyed, &e), ==, 0);
        g_assert_cmpint(trust_store_recheck(keyed, (char *[]){sha, NULL}, good, &e), ==, 0);
        e = (DfuError)DFU_ERROR_INIT;
        g_assert_cmpint(trust_store_recheck(keyed, (char *[]){sha, NULL}, gone, &e), ==, -EMEDIUMTYPE);
        g_assert_nonnull(strstr(e.message, fp_foreign));
        g_assert_nonnull(strstr(e.message, "is no longer in"));
        e = (DfuError)DFU_ERROR_INIT;
        g_assert_cmpint(trust_store_recheck(keyed, (char *[]){sha, NULL}, "allowlist release.sha256", &e),
                        ==, -EMEDIUMTYPE);
        g_assert_nonnull(strstr(e.message, "were not checked for signatures"));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/trust/modes", test_modes);
#define ADD(name, fn) g_test_add("/trust/" name, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
        ADD("signed-good", test_signed_good);
        ADD("signed-refused", test_signed_refused);
        ADD("malformed-keys", test_malformed_keys);
        ADD("allowlist", test_allowlist);
        ADD("off", test_off);
        ADD("recheck", test_recheck);
        return test_run();
}
