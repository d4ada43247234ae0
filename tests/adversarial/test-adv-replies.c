/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Replies that would grow with the input: Inspect and Submit of images with very many segments, the
 * objects of a job holding such an image, and the history of a long-lived station. Every reply stays
 * under 1 MiB, and dfusd stays on the bus.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "adv.h"

#define SPARSE_REJECTED 200000 /* the 2.8 MB file of the report: over the segment cap */
#define SPARSE_ACCEPTED 60000  /* under the cap: accepted, its report capped */
#define HISTORY_JOBS    150000

static const char *const h743[] = {"h743", NULL};

static GVariant *port_options(void) {
        return integ_options("port", g_variant_new_string("1-1"), NULL);
}

static void assert_rejected_for_segments(GError *error) {
        g_autofree char *name = adv_error_name(error);
        g_assert_cmpstr(name, ==, ADV_IMAGE_REJECTED);
        g_assert_nonnull(strstr(error->message, "more than 65536 separate segments"));
        g_assert_nonnull(strstr(error->message, "image 1"));
}

static GVariant *inspect_file(Integ *t, const char *path, GError **error) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        GVariant *r = integ_call_fds(t, "Inspect", &fd, 1, port_options(), "(a{sv})", error);
        close(fd);
        return r;
}

static void test_inspect(Integ *t, gconstpointer data) {
        g_autofree char *rejected = adv_write_sparse_hex(t, "sparse-200k.hex", SPARSE_REJECTED);
        g_autofree char *accepted = adv_write_sparse_hex(t, "sparse-60k.hex", SPARSE_ACCEPTED);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL, result = NULL, segments = NULL;
        guint32 total = 0;

        integ_start(t, &(IntegRun){.boards = 1, .parts = h743});
        integ_wait_devices(t, 1, 10);

        r = inspect_file(t, rejected, &error);
        g_assert_null(r);
        assert_rejected_for_segments(error);
        adv_assert_answers(t);

        r = inspect_file(t, accepted, NULL);
        g_assert_nonnull(r);
        g_test_message("Inspect reply: %zu bytes", g_variant_get_size(r));
        g_assert_cmpuint(g_variant_get_size(r), <, ADV_REPLY_MAX);
        result = g_variant_get_child_value(r, 0);
        g_assert_true(g_variant_lookup(result, "segments-total", "u", &total));
        g_assert_cmpuint(total, ==, SPARSE_ACCEPTED);
        segments = g_variant_lookup_value(result, "segments", G_VARIANT_TYPE("aa{sv}"));
        g_assert_nonnull(segments);
        g_assert_cmpuint(g_variant_n_children(segments), <=, 256);

        adv_assert_answers(t);
        adv_assert_bounded(t, 200 * 1024, 64);
        g_assert_cmpuint(adv_history_count(t), ==, 0);
        integ_stop(t);
        adv_assert_dump_blank(t, "1-1");
}

static void test_submit(Integ *t, gconstpointer data) {
        g_autofree char *rejected = adv_write_sparse_hex(t, "sparse-200k.hex", SPARSE_REJECTED);
        g_autofree char *accepted = adv_write_sparse_hex(t, "sparse-60k.hex", SPARSE_ACCEPTED);
        g_autoptr(GError) error = NULL;
        g_autofree char *job = NULL, *state = NULL;

        integ_start(t, &(IntegRun){.boards = 1, .parts = h743});
        integ_wait_devices(t, 1, 10);

        job = integ_submit(t, (const char *[]){rejected, NULL}, port_options(), &error);
        g_assert_null(job);
        assert_rejected_for_segments(error);

        job = integ_submit(t, (const char *[]){accepted, NULL},
                           integ_options("port", g_variant_new_string("1-1"), "leave",
                                         g_variant_new_boolean(FALSE), NULL),
                           NULL);
        g_assert_nonnull(job);
        /* What dfusctl devices, jobs and watch call, while the job holds its report. */
        for (unsigned i = 0; i < 2; i++) {
                g_autoptr(GVariant) objects = integ_call(t, DFUSD_PATH, "org.freedesktop.DBus.ObjectManager",
                                                         "GetManagedObjects", NULL, "(a{oa{sa{sv}}})", NULL);
                g_assert_nonnull(objects);
                g_test_message("GetManagedObjects reply: %zu bytes", g_variant_get_size(objects));
                g_assert_cmpuint(g_variant_get_size(objects), <, ADV_REPLY_MAX);
                if (i == 0) {
                        state = integ_wait_job(t, job, 60);
                        g_assert_cmpstr(state, ==, "done");
                }
        }

        adv_assert_answers(t);
        adv_assert_bounded(t, 200 * 1024, 64);
        g_assert_cmpuint(adv_history_count(t), ==, 1);
        integ_stop(t);

        /* Exactly the image: byte i at every second address, the bytes between erased. */
        g_autoptr(GBytes) dump = integ_dump(t, "1-1");
        gsize n;
        const uint8_t *p = g_bytes_get_data(dump, &n);
        g_assert_cmpuint(n, >=, 2 * SPARSE_ACCEPTED);
        for (gsize i = 0; i < n; i++) {
                uint8_t want = i < 2 * SPARSE_ACCEPTED && i % 2 == 0 ? (uint8_t)(i / 2) : 0xFF;
                if (p[i] != want)
                        g_error("dump byte 0x%zx is 0x%02x, expected 0x%02x", i, p[i], want);
        }
}

/* An old jobs.jsonl of many ended jobs, imported once at start. */
static void write_old_journal(Integ *t, unsigned n) {
        g_autofree char *path = g_build_filename(t->state_dir, "jobs.jsonl", NULL);
        FILE *f = fopen(path, "we");

        g_assert_nonnull(f);
        for (unsigned i = 1; i <= n; i++) {
                guint64 at = 1600000000000000ull + (guint64)i * 1000000;
                fprintf(f,
                        "{\"event\":\"end\",\"id\":%u,\"time\":%" G_GUINT64_FORMAT
                        ",\"result\":\"done\",\"port\":\"1-1\",\"serial\":\"SN%u\",\"target\":\"port=1-1\","
                        "\"image-sha256\":\"%064x\",\"submit-time\":%" G_GUINT64_FORMAT
                        ",\"start-time\":%" G_GUINT64_FORMAT ",\"end-time\":%" G_GUINT64_FORMAT
                        ",\"bytes\":65536}\n",
                        i, at, i, i, at - 500000, at - 400000, at);
        }
        g_assert_cmpint(fclose(f), ==, 0);
}

static void test_history(Integ *t, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL, entries = NULL;

        write_old_journal(t, HISTORY_JOBS);
        integ_start(t, &(IntegRun){.boards = 1});

        /* What dfusctl history sends: no limit at all. */
        r = integ_call(t, DFUSD_PATH, DFUSD_MANAGER, "GetHistory",
                       g_variant_new("(@a{sv})", integ_options(NULL, NULL)), "(aa{sv})", &error);
        g_assert_no_error(error);
        g_test_message("GetHistory reply: %zu bytes", g_variant_get_size(r));
        g_assert_cmpuint(g_variant_get_size(r), <, ADV_REPLY_MAX);
        entries = g_variant_get_child_value(r, 0);
        g_assert_cmpuint(g_variant_n_children(entries), ==, 100);

        /* The largest page allowed, and a limit beyond it, stay under the bound too. */
        g_clear_pointer(&r, g_variant_unref);
        r = integ_call(
                t, DFUSD_PATH, DFUSD_MANAGER, "GetHistory",
                g_variant_new("(@a{sv})", integ_options("limit", g_variant_new_uint32(G_MAXUINT32), NULL)),
                "(aa{sv})", &error);
        g_assert_no_error(error);
        g_assert_cmpuint(g_variant_get_size(r), <, ADV_REPLY_MAX);

        adv_assert_answers(t);
        g_assert_cmpuint(adv_history_count(t), ==, HISTORY_JOBS);
        adv_assert_answers(t);
        adv_assert_bounded(t, 200 * 1024, 64);
        integ_stop(t);
        adv_assert_dump_blank(t, "1-1");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/adversarial/replies/inspect-sparse", Integ, NULL, integ_setup, test_inspect,
                   integ_teardown);
        g_test_add("/adversarial/replies/submit-sparse", Integ, NULL, integ_setup, test_submit,
                   integ_teardown);
        g_test_add("/adversarial/replies/history", Integ, NULL, integ_setup, test_history, integ_teardown);
        return g_test_run();
}
