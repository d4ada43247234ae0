/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Start-up after a stop or a crash: what the store holds for each job decides what happens to it.
 * Submitted only: queued again. Started: run again, marked interrupted. Leave recorded: the board had
 * everything, so the job ends done without touching it. Ended: history only.
 */
#include <errno.h>
#include <unistd.h>

#include "core-test.h"
#include "store.h"
#include "test-main.h"

static void store_done(int result, void *userdata) {
        g_assert_cmpint(result, ==, 0);
        (*(unsigned *)userdata)++;
}

static void write_records(const char *dir, const char *hash) {
        sd_event *e = NULL;
        Store *s = NULL;
        StoreState *st = NULL;
        char *hashes[] = {(char *)hash, NULL};
        unsigned done = 0, want = 0;

        g_assert_cmpint(sd_event_new(&e), >=, 0);
        g_assert_cmpint(store_open(dir, e, &s, &st, NULL), ==, 0);
        for (uint32_t id = 1; id <= 5; id++) {
                g_assert_cmpint(
                        store_job_submit(
                                s,
                                &(StoreJobSubmit){.id = id,
                                                  .submit_usec = 1000 + id,
                                                  .target = "port=1-1",
                                                  .options_json = "{\"port\":\"1-1\",\"leave\":false}",
                                                  .image_hashes = hashes},
                                store_done, &done),
                        ==, 0);
                want++;
        }
        /* 2, 3, 4 started; 3 asked the board to leave; 4 ended; 1 and 5 never started */
        for (uint32_t id = 2; id <= 4; id++, want++)
                g_assert_cmpint(
                        store_job_start(s, &(StoreJobStart){.id = id, .start_usec = 2000, .port = "1-1"},
                                        store_done, &done),
                        ==, 0);
        g_assert_cmpint(store_job_leave(s, 3, 3000), ==, 0);
        g_assert_cmpint(
                store_job_end(s, &(StoreJobEnd){.id = 4, .result = "done", .port = "1-1", .end_usec = 4000},
                              store_done, &done),
                ==, 0);
        want++;
        while (done < want)
                g_assert_cmpint(sd_event_run(e, 100 * 1000), >=, 0);
        store_state_free(st);
        store_close(s);
        sd_event_unref(e);
}

static bool job_ended(CoreTest *t, void *userdata) {
        Job *j = job_find(t->m, GPOINTER_TO_UINT(userdata));
        return j && job_state_is_final(j->state) && !j->finishing;
}

static void test_replay(void) {
        CoreTest t = {};
        g_autofree char *dir = g_dir_make_tmp("dfusd-core-XXXXXX", NULL);
        g_autofree char *hash = NULL;
        Job *j;

        /* the image the jobs need is in the spool, written as Submit would */
        t.dir = g_strdup(dir);
        {
                CoreTest tmp = {.dir = g_strdup(dir)};
                hash = core_test_spool_image(&tmp, 1024, 7);
                g_free(tmp.dir);
        }
        write_records(dir, hash);

        core_test_start(&t, dir, NULL);
        core_test_plug(&t, "1-1", "f405", "A1");
        core_test_ready(&t);

        /* 3 ends done without running */
        g_assert_true(core_test_run_until(&t, job_ended, GUINT_TO_POINTER(3), CORE_TEST_TIMEOUT_MS));
        j = job_find(t.m, 3);
        g_assert_cmpint(j->state, ==, JOB_DONE);
        g_assert_true(core_test_has_event(&t, "job-completed 3 done"));
        /* 4 had ended: it is history, not a job */
        g_assert_null(job_find(t.m, 4));
        /* 1 and 2 run again, in id order; 2 was interrupted */
        core_test_wait_started(&t, 1);
        g_assert_cmpstr(g_ptr_array_index(t.started, 0), ==, "1@1-1");
        g_assert_false(job_find(t.m, 1)->interrupted);
        g_assert_true(job_find(t.m, 2)->interrupted);
        core_test_release(&t, 1, 0);
        core_test_wait_started(&t, 2);
        g_assert_cmpstr(g_ptr_array_index(t.started, 1), ==, "2@1-1");
        core_test_release(&t, 2, 0);
        core_test_wait_started(&t, 3);
        g_assert_cmpstr(g_ptr_array_index(t.started, 2), ==, "5@1-1");
        core_test_release(&t, 5, 0);
        /* new jobs never reuse an id */
        j = core_test_submit(&t, (const char *[]){"port=1-1", NULL}, NULL);
        g_assert_cmpuint(j->id, ==, 6);
        core_test_teardown(&t);
}

/* A job whose spooled image is gone ends failed at start, naming the file. */
static void test_replay_missing_image(void) {
        CoreTest t = {};
        g_autofree char *dir = g_dir_make_tmp("dfusd-core-XXXXXX", NULL);
        g_autofree char *missing = g_strdup_printf("%064d", 0);
        Job *j;

        write_records(dir, missing);
        t.dir = g_strdup(dir);
        core_test_start(&t, dir, NULL);
        core_test_ready(&t);
        g_assert_true(core_test_run_until(&t, job_ended, GUINT_TO_POINTER(1), CORE_TEST_TIMEOUT_MS));
        j = job_find(t.m, 1);
        g_assert_cmpint(j->state, ==, JOB_FAILED);
        g_test_message("%s", j->error);
        g_assert_nonnull(strstr(j->error, "is missing"));
        g_assert_nonnull(strstr(j->error, missing));
        core_test_teardown(&t);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/core/replay/each-record-shape", test_replay);
        g_test_add_func("/core/replay/missing-image", test_replay_missing_image);
        return test_run();
}
