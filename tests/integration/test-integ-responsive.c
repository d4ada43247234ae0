/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bus loop never waits for the disk: with the job store's database locked by another process (as a
 * slow or busy filesystem would hold it), a Submit waits for its record to become durable, while Get
 * and GetHistory are answered at once. Once the lock goes, the Submit is answered and its job runs.
 */
#include <sqlite3.h>
#include <string.h>

#include "harness.h"
#include "test-main.h"

#define FLASH_BASE 0x08000000u

typedef struct SubmitCall {
        Integ *t;
        const char *file;
        char *job;
        GError *error;
        gint done;
} SubmitCall;

static gpointer submit_thread(gpointer p) {
        SubmitCall *c = p;

        c->job = integ_submit(c->t, (const char *[]){c->file, NULL},
                              integ_options("port", g_variant_new_string("1-1"), NULL), &c->error);
        g_atomic_int_set(&c->done, 1);
        return NULL;
}

static int cmp_i64(const void *a, const void *b) {
        gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
        return x < y ? -1 : x > y;
}

static void test_store_locked(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(4096, 5);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 4096}, 1);
        g_autofree char *db_path = NULL, *state = NULL;
        SubmitCall call = {.t = t, .file = file};
        gint64 lat[20];
        sqlite3 *db = NULL;
        GThread *thread;

        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 30);
        db_path = g_build_filename(t->state_dir, "dfusd.db", NULL);
        g_assert_cmpint(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
        g_assert_cmpint(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), ==, SQLITE_OK);

        thread = g_thread_new("submit", submit_thread, &call);
        /* Long enough for the image to be read and its record to reach the locked store. */
        g_usleep(300 * 1000);
        for (unsigned i = 0; i < G_N_ELEMENTS(lat); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(GVariant) v = NULL, h = NULL;
                gint64 start = g_get_monotonic_time();

                v = integ_get(t, "/org/dfusd/Flash1", "org.dfusd.Flash1.Manager", "Version", &error);
                g_assert_no_error(error);
                h = integ_call(
                        t, "/org/dfusd/Flash1", "org.dfusd.Flash1.Manager", "GetHistory",
                        g_variant_new("(@a{sv})", integ_options("limit", g_variant_new_uint32(5), NULL)),
                        "(aa{sv})", &error);
                g_assert_no_error(error);
                lat[i] = g_get_monotonic_time() - start;
                g_usleep(20 * 1000);
        }
        /* The Submit is still waiting for the store: the lock really held it up. */
        g_assert_cmpint(g_atomic_int_get(&call.done), ==, 0);
        g_assert_cmpint(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), ==, SQLITE_OK);
        sqlite3_close(db);
        g_thread_join(thread);
        g_assert_no_error(call.error);
        g_assert_nonnull(call.job);

        qsort(lat, G_N_ELEMENTS(lat), sizeof(lat[0]), cmp_i64);
        g_test_message("Get + GetHistory while the store was locked: median %" G_GINT64_FORMAT
                       " us, max %" G_GINT64_FORMAT " us",
                       lat[G_N_ELEMENTS(lat) / 2], lat[G_N_ELEMENTS(lat) - 1]);
        /* A loop that waited on the store would take the whole lock time (over 700 ms) per call. */
        g_assert_cmpint(lat[G_N_ELEMENTS(lat) / 2], <, 50 * 1000);
        g_assert_cmpint(lat[G_N_ELEMENTS(lat) - 1], <, 500 * 1000);

        state = integ_wait_job(t, call.job, 60);
        g_assert_cmpstr(state, ==, "done");
        g_free(call.job);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/integ/responsive/store-locked", Integ, NULL, integ_setup, test_store_locked,
                   integ_teardown);
        return test_run();
}
