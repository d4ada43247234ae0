/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The queue: submission order, one job per board, MaxParallel, jobs that wait for a board, jobs whose
 * board goes away, and what the records say.
 */
#include <errno.h>

#include "core-test.h"
#include "store.h"
#include "test-main.h"

static void test_order_and_max_parallel(void) {
        CoreTest t = {};
        Job *jobs[5];

        core_test_setup(&t, "MaxParallel=2");
        core_test_plug(&t, "1-1", "f405", "A1");
        core_test_plug(&t, "1-2", "f405", "A2");
        core_test_plug(&t, "1-3", "f405", "A3");
        /* two on 1-1, then one each on the others: with room for two, the first and third start */
        jobs[0] = core_test_submit(&t, (const char *[]){"port=1-1", "leave=no", NULL}, NULL);
        jobs[1] = core_test_submit(&t, (const char *[]){"port=1-1", "leave=no", NULL}, NULL);
        jobs[2] = core_test_submit(&t, (const char *[]){"port=1-2", "leave=no", NULL}, NULL);
        jobs[3] = core_test_submit(&t, (const char *[]){"port=1-3", "leave=no", NULL}, NULL);
        jobs[4] = core_test_submit(&t, (const char *[]){"port=1-3", "leave=no", NULL}, NULL);
        for (unsigned i = 0; i < 5; i++)
                g_assert_nonnull(jobs[i]);
        core_test_wait_started(&t, 2);
        /* Both start at once: their threads may report in either order. */
        g_assert_true(g_ptr_array_find_with_equal_func(t.started, "1@1-1", g_str_equal, NULL));
        g_assert_true(g_ptr_array_find_with_equal_func(t.started, "3@1-2", g_str_equal, NULL));
        g_assert_cmpint(jobs[1]->state, ==, JOB_QUEUED);
        g_assert_cmpint(jobs[3]->state, ==, JOB_QUEUED);

        core_test_release(&t, 1, 0);
        core_test_wait_started(&t, 3);
        /* job 2 (1-1, submitted before 4) takes the free slot */
        g_assert_cmpstr(g_ptr_array_index(t.started, 2), ==, "2@1-1");
        core_test_release(&t, 3, 0);
        core_test_wait_started(&t, 4);
        g_assert_cmpstr(g_ptr_array_index(t.started, 3), ==, "4@1-3");
        core_test_release(&t, 2, 0);
        core_test_release(&t, 4, 0);
        core_test_wait_started(&t, 5);
        g_assert_cmpstr(g_ptr_array_index(t.started, 4), ==, "5@1-3");
        core_test_release(&t, 5, -EIO);
        g_assert_cmpuint(t.max_running, ==, 2);
        g_assert_true(core_test_has_event(&t, "job-completed 1 done"));
        g_assert_true(core_test_has_event(&t, "job-completed 5 failed"));
        core_test_teardown(&t);
}

/* `flash --wait --part F405`: the part name as typed must find the f405 board that arrives. */
static void test_wait_part_any_case(void) {
        CoreTest t = {};
        Job *j;

        core_test_setup(&t, NULL);
        j = core_test_submit(&t, (const char *[]){"any", "wait", "part=F405", NULL}, NULL);
        g_assert_nonnull(j);
        core_test_wait_state(&t, j->id, JOB_WAITING);
        core_test_plug(&t, "1-4", "h743", "H1");
        /* an H7 is not what the job asked for */
        core_test_wait_state(&t, j->id, JOB_WAITING);
        core_test_plug(&t, "1-5", "f405", "F1");
        core_test_wait_started(&t, 1);
        g_assert_cmpstr(g_ptr_array_index(t.started, 0), ==, "1@1-5");
        core_test_release(&t, j->id, 0);
        core_test_teardown(&t);
}

/* A job queued behind another on a board that goes away ends: it did not ask to wait. */
static void test_board_gone(void) {
        CoreTest t = {};
        DfuError error = DFU_ERROR_INIT;
        Job *a, *b, *c;

        core_test_setup(&t, NULL);
        core_test_plug(&t, "1-1", "f405", "A1");
        a = core_test_submit(&t, (const char *[]){"port=1-1", "leave=no", NULL}, NULL);
        b = core_test_submit(&t, (const char *[]){"port=1-1", "leave=no", NULL}, NULL);
        c = core_test_submit(&t, (const char *[]){"port=1-1", "wait", "timeout=1", NULL}, NULL);
        core_test_wait_started(&t, 1);
        core_test_unplug(&t, "1-1");
        core_test_wait_state(&t, b->id, JOB_FAILED);
        g_assert_cmpstr(b->error, ==, "No matching board is attached any more; pass wait to wait for one.");
        /* the one that asked to wait does, until its timeout */
        core_test_wait_state(&t, c->id, JOB_WAITING);
        core_test_release(&t, a->id, -ENODEV);
        core_test_wait_state(&t, c->id, JOB_FAILED);
        g_assert_cmpstr(c->error, ==, "No matching board appeared within 1 s.");

        /* and a new job for a board that is not there is refused at once */
        g_assert_null(core_test_submit(&t, (const char *[]){"port=1-1", NULL}, &error));
        g_assert_cmpint(error.code, ==, ENODEV);
        core_test_teardown(&t);
}

static void test_record_times(void) {
        CoreTest t = {};
        StoreHistory *h = NULL;
        Job *j;

        core_test_setup(&t, NULL);
        core_test_plug(&t, "1-1", "f405", "A1");
        core_test_clock = 1700000000000000;
        j = core_test_submit(&t, (const char *[]){"port=1-1", "leave=no", NULL}, NULL);
        g_assert_cmpuint(j->submit_usec, ==, 1700000000000000);
        core_test_wait_started(&t, 1);
        core_test_clock += 5 * 1000000;
        core_test_release(&t, j->id, 0);
        g_assert_cmpuint(j->start_usec, ==, 1700000000000000);
        g_assert_cmpuint(j->end_usec, ==, 1700000005000000);
        g_assert_cmpuint(j->bytes_done, ==, j->bytes_total);
        g_assert_cmpint(store_history_query(t.m->store, &(StoreHistoryFilter){.limit = 10}, &h), ==, 0);
        g_assert_cmpuint(h->n, ==, 1);
        g_assert_cmpuint(h->entries[0].id, ==, j->id);
        g_assert_cmpstr(h->entries[0].result, ==, "done");
        g_assert_cmpstr(h->entries[0].port, ==, "1-1");
        g_assert_cmpstr(h->entries[0].serial, ==, "A1");
        g_assert_cmpuint(h->entries[0].end_usec, ==, 1700000005000000);
        g_assert_cmpuint(h->entries[0].duration_usec, ==, 5000000);
        store_history_free(h);
        core_test_teardown(&t);
}

/* An ended job stays visible for JobLinger, and never more than MaxLingeringJobs of them. */
static void test_linger_cap(void) {
        CoreTest t = {};

        core_test_setup(&t, "MaxLingeringJobs=2\nJobLinger=3600");
        core_test_plug(&t, "1-1", "f405", "A1");
        for (unsigned i = 1; i <= 4; i++) {
                Job *j = core_test_submit(&t, (const char *[]){"port=1-1", "leave=no", NULL}, NULL);
                core_test_wait_started(&t, i);
                core_test_release(&t, j->id, 0);
        }
        g_assert_null(job_find(t.m, 1));
        g_assert_null(job_find(t.m, 2));
        g_assert_nonnull(job_find(t.m, 3));
        g_assert_nonnull(job_find(t.m, 4));
        g_assert_true(core_test_has_event(&t, "job-removed 1"));
        g_assert_true(core_test_has_event(&t, "job-removed 2"));
        g_assert_false(core_test_has_event(&t, "job-removed 3"));
        core_test_teardown(&t);
}

static void test_max_queued(void) {
        CoreTest t = {};
        DfuError error = DFU_ERROR_INIT;

        core_test_setup(&t, "MaxQueuedJobs=2");
        core_test_plug(&t, "1-1", "f405", "A1");
        g_assert_nonnull(core_test_submit(&t, (const char *[]){"port=1-1", NULL}, NULL));
        g_assert_nonnull(core_test_submit(&t, (const char *[]){"port=1-1", NULL}, NULL));
        g_assert_null(core_test_submit(&t, (const char *[]){"port=1-1", NULL}, &error));
        g_assert_cmpint(error.code, ==, EBUSY);
        g_assert_cmpstr(error.message, ==, "2 jobs are waiting or running already (MaxQueuedJobs=2).");
        core_test_teardown(&t);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/core/queue/order-and-max-parallel", test_order_and_max_parallel);
        g_test_add_func("/core/queue/wait-part-any-case", test_wait_part_any_case);
        g_test_add_func("/core/queue/board-gone", test_board_gone);
        g_test_add_func("/core/queue/record-times", test_record_times);
        g_test_add_func("/core/queue/linger-cap", test_linger_cap);
        g_test_add_func("/core/queue/max-queued", test_max_queued);
        return test_run();
}
