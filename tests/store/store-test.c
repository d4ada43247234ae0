/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "store-test.h"

#include <glib/gstdio.h>

void fixture_init(StoreFixture *f) {
        *f = (StoreFixture){};
        f->dir = g_dir_make_tmp("dfusd-store-XXXXXX", NULL);
        g_assert_nonnull(f->dir);
        g_assert_cmpint(sd_event_new(&f->event), >=, 0);
}

void fixture_open(StoreFixture *f) {
        _cleanup_free_ char *error = NULL;
        int r;

        g_assert_null(f->store);
        f->state = store_state_free(f->state);
        r = store_open(f->dir, f->event, &f->store, &f->state, &error);
        if (r < 0)
                g_error("store_open: %s (%d)", error ? error : "no message", r);
        g_assert_null(error);
        g_assert_nonnull(f->state);
}

void fixture_close(StoreFixture *f) {
        f->store = store_close(f->store);
}

static void remove_tree(const char *dir) {
        GDir *d = g_dir_open(dir, 0, NULL);
        const char *name;

        if (!d)
                return;
        while ((name = g_dir_read_name(d))) {
                g_autofree char *p = g_build_filename(dir, name, NULL);
                if (g_file_test(p, G_FILE_TEST_IS_DIR))
                        remove_tree(p);
                else
                        (void)g_unlink(p);
        }
        g_dir_close(d);
        (void)g_rmdir(dir);
}

void fixture_done(StoreFixture *f) {
        fixture_close(f);
        f->state = store_state_free(f->state);
        f->event = sd_event_unref(f->event);
        remove_tree(f->dir);
        g_free(f->dir);
}

char *fixture_path(StoreFixture *f, const char *name) {
        return g_build_filename(f->dir, name, NULL);
}

void done_log(int result, void *userdata) {
        DoneEntry *e = userdata;

        g_assert_cmpuint(e->log->n, <, G_N_ELEMENTS(e->log->results));
        e->log->tags[e->log->n] = e->tag;
        e->log->results[e->log->n++] = result;
        g_free(e);
}

void wait_done(StoreFixture *f, DoneLog *log, size_t n) {
        gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

        while (log->n < n) {
                g_assert_cmpint(g_get_monotonic_time(), <, deadline);
                g_assert_cmpint(sd_event_run(f->event, 100000), >=, 0);
        }
        g_assert_cmpuint(log->n, ==, n);
}

void end_job(StoreFixture *f, DoneLog *log, uint32_t id, const char *result, const char *port,
             const char *serial, const char *image, uint64_t end_usec) {
        DoneEntry *e = g_new0(DoneEntry, 1);
        StoreJobEnd j = {
                .id = id,
                .result = result,
                .port = port,
                .serial = serial,
                .image_sha256 = image,
                .submit_usec = end_usec - 3000,
                .start_usec = end_usec - 2000,
                .end_usec = end_usec,
                .bytes = id * 10u,
        };

        *e = (DoneEntry){.log = log, .tag = id};
        g_assert_cmpint(store_job_end(f->store, &j, done_log, e), ==, 0);
}

void history_query(StoreFixture *f, const StoreHistoryFilter *flt, StoreHistory **ret) {
        g_assert_cmpint(store_history_query(f->store, flt, ret), ==, 0);
        g_assert_nonnull(*ret);
}
