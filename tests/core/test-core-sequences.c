/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-board values in the core: values are taken in the order jobs start, a job that failed after
 * writing spoils its value, one that failed before returns it (handed out again first), a finite
 * sequence that runs out fails the job with nothing taken, and a sequence in use is not removed.
 */
#include <errno.h>

#include "core-test.h"
#include "sequence.h"
#include "store.h"
#include "test-main.h"

typedef struct Added {
        bool done;
        int result;
} Added;

static void on_added(Manager *m, Sequence *q, int result, const char *error, void *userdata) {
        Added *a = userdata;
        a->done = true;
        a->result = result;
}

static bool added(CoreTest *t, void *userdata) {
        return ((Added *)userdata)->done;
}

static Sequence *add_counter(CoreTest *t, const char *name, uint64_t start, bool has_last, uint64_t last) {
        g_autofree char *error = NULL;
        Added a = {};

        g_assert_cmpint(sequence_add(t->m,
                                     &(SequenceSpec){.name = name,
                                                     .start = start,
                                                     .has_last = has_last,
                                                     .last = last,
                                                     .list_fd = -EBADF},
                                     on_added, &a, &error),
                        ==, 0);
        g_assert_true(core_test_run_until(t, added, &a, 5000));
        g_assert_cmpint(a.result, ==, 0);
        return sequence_find(t->m, name);
}

static bool job_ended(CoreTest *t, void *userdata) {
        Job *j = userdata;
        return job_state_is_final(j->state);
}

static const char *value_of(Job *j) {
        return j->values && j->values[0] ? j->values[1] : NULL;
}

static void test_order_spoiled_returned_exhausted(void) {
        CoreTest t = {};
        Sequence *q;
        Job *j[5];

        core_test_setup(&t, NULL);
        core_test_plug(&t, "1-1", "f405", "A1");
        core_test_plug(&t, "1-2", "f405", "A2");
        q = add_counter(&t, "c", 17, true, 20);
        g_assert_cmpuint(sequence_left(q), ==, 4);

        j[0] = core_test_submit(
                &t, (const char *[]){"port=1-1", "leave=no", "patches=0x08000010:u32le:c", NULL}, NULL);
        j[1] = core_test_submit(
                &t, (const char *[]){"port=1-2", "leave=no", "patches=0x08000010:u32le:c", NULL}, NULL);
        core_test_wait_started(&t, 2);
        g_assert_cmpstr(value_of(j[0]), ==, "17");
        g_assert_cmpstr(value_of(j[1]), ==, "18");
        g_assert_cmpuint(q->taken, ==, 2);
        /* The fake worker was writing: a failure spoils. */
        core_test_release(&t, 2, -EIO);
        g_assert_cmpuint(q->spoiled, ==, 1);
        core_test_release(&t, 1, 0);
        g_assert_cmpuint(q->used, ==, 1);

        /* A value too large for dec:1 fails the job before anything is written: returned, then first. */
        j[2] = core_test_submit(
                &t, (const char *[]){"port=1-1", "leave=no", "patches=0x08000010:dec:1:c", NULL}, NULL);
        g_assert_true(core_test_run_until(&t, job_ended, j[2], 5000));
        g_assert_cmpint(j[2]->state, ==, JOB_FAILED);
        g_assert_nonnull(strstr(j[2]->error, "19"));
        g_assert_cmpuint(q->returned, ==, 1);
        g_assert_cmpuint(q->pending, ==, 1);
        g_assert_cmpuint(sequence_left(q), ==, 2);
        j[3] = core_test_submit(
                &t, (const char *[]){"port=1-1", "leave=no", "patches=0x08000010:u32le:c", NULL}, NULL);
        core_test_wait_started(&t, 3);
        g_assert_cmpstr(value_of(j[3]), ==, "19");
        core_test_release(&t, j[3]->id, 0);

        /* 20 is the last; then the sequence is exhausted and a job fails with nothing taken. */
        j[4] = core_test_submit(
                &t, (const char *[]){"port=1-2", "leave=no", "patches=0x08000010:u32le:c", NULL}, NULL);
        core_test_wait_started(&t, 4);
        g_assert_cmpstr(value_of(j[4]), ==, "20");
        core_test_release(&t, j[4]->id, 0);
        g_assert_cmpuint(sequence_left(q), ==, 0);
        {
                Job *k = core_test_submit(
                        &t, (const char *[]){"port=1-1", "leave=no", "patches=0x08000010:u32le:c", NULL},
                        NULL);
                g_assert_true(core_test_run_until(&t, job_ended, k, 5000));
                g_assert_cmpint(k->state, ==, JOB_FAILED);
                g_assert_cmpstr(k->error, ==, "Sequence c is exhausted.");
                g_assert_null(k->values);
        }
        g_assert_cmpuint(q->used, ==, 3);
        g_assert_cmpuint(q->taken, ==, 0);

        /* The counts come back from the store as they were. */
        {
                g_autofree char *dir = g_strdup(t.dir);
                core_test_stop(&t);
                core_test_start(&t, dir, NULL);
                core_test_ready(&t);
                q = sequence_find(t.m, "c");
                g_assert_nonnull(q);
                g_assert_cmpuint(q->used, ==, 3);
                g_assert_cmpuint(q->spoiled, ==, 1);
                g_assert_cmpuint(q->returned, ==, 1);
                g_assert_cmpuint(q->pending, ==, 0);
                g_assert_true(q->exhausted);
        }
        core_test_teardown(&t);
}

static void test_remove_in_use(void) {
        g_autofree char *why = NULL;
        CoreTest t = {};
        Sequence *q;
        Job *j;

        core_test_setup(&t, NULL);
        q = add_counter(&t, "s", 1, false, 0);
        j = core_test_submit(
                &t, (const char *[]){"any", "wait", "part=f405", "patches=0x08000010:u32le:s", NULL}, NULL);
        g_assert_nonnull(j);
        g_assert_cmpint(sequence_remove(q, &why), ==, -EBUSY);
        g_assert_nonnull(strstr(why, "job"));
        g_assert_cmpint(job_cancel(j), ==, 0);
        g_assert_true(core_test_run_until(&t, job_ended, j, 5000));
        g_assert_cmpint(sequence_remove(q, NULL), ==, 0);
        g_assert_null(sequence_find(t.m, "s"));
        core_test_teardown(&t);
}

static void test_list_parse(void) {
        static const char text[] = "# header\n\n  a1 \r\nb2\n#c\n\tc3\nd4";
        g_auto(GStrv) l = NULL;
        DfuError why = DFU_ERROR_INIT;
        g_autofree char *longline = g_strnfill(SEQUENCE_VALUE_MAX + 1, 'x');

        g_assert_cmpint(sequence_list_parse(text, sizeof(text) - 1, &l, &why), ==, 0);
        g_assert_cmpuint(g_strv_length(l), ==, 4);
        g_assert_cmpstr(l[0], ==, "a1");
        g_assert_cmpstr(l[2], ==, "c3");
        g_assert_cmpstr(l[3], ==, "d4");
        g_assert_cmpint(sequence_list_parse("# only\n\n", 8, &l, &why), ==, -EINVAL);
        g_assert_nonnull(strstr(why.message, "no values"));
        why = (DfuError)DFU_ERROR_INIT;
        g_assert_cmpint(sequence_list_parse(longline, strlen(longline), &l, &why), ==, -EINVAL);
        g_assert_nonnull(strstr(why.message, "line 1"));
        why = (DfuError)DFU_ERROR_INIT;
        g_assert_cmpint(sequence_list_parse("a\nb\0c\n", 6, &l, &why), ==, -EINVAL);
        g_assert_nonnull(strstr(why.message, "line 2"));
}

/* A job takes its value when it starts on its board, not when it is submitted: a job queued behind
 * another on the same board holds nothing until then, and gets the next value in start order. */
static void test_taken_at_start(void) {
        CoreTest t = {};
        Sequence *q;
        Job *first, *queued;

        core_test_setup(&t, NULL);
        core_test_plug(&t, "1-1", "f405", "A1");
        q = add_counter(&t, "c", 100, false, 0);
        first = core_test_submit(
                &t, (const char *[]){"port=1-1", "leave=no", "patches=0x08000010:u32le:c", NULL}, NULL);
        core_test_wait_started(&t, 1);
        queued = core_test_submit(
                &t, (const char *[]){"port=1-1", "leave=no", "patches=0x08000010:u32le:c", NULL}, NULL);
        core_test_wait_state(&t, queued->id, JOB_QUEUED);
        g_assert_cmpstr(value_of(first), ==, "100");
        g_assert_null(queued->values);
        g_assert_cmpuint(q->taken, ==, 1);
        g_assert_cmpuint(q->next, ==, 101);
        core_test_release(&t, first->id, 0);
        core_test_wait_started(&t, 2);
        g_assert_cmpstr(value_of(queued), ==, "101");
        core_test_release(&t, queued->id, 0);
        g_assert_true(core_test_run_until(&t, job_ended, queued, 5000));
        g_assert_cmpuint(q->used, ==, 2);
        core_test_teardown(&t);
}

/* The number of sequences is bounded: past SEQUENCES_MAX (those being added count too) AddSequence is
 * refused with a message, and removing one makes room. */
static void test_count_capped(void) {
        g_autofree char *error = NULL;
        char name[16];
        CoreTest t = {};
        Added a = {};

        core_test_setup(&t, NULL);
        for (unsigned i = 0; i < SEQUENCES_MAX - 1; i++) {
                snprintf(name, sizeof(name), "s%u", i);
                g_assert_nonnull(add_counter(&t, name, 1, false, 0));
        }
        /* the last free place, taken by an add that is not recorded yet */
        g_assert_cmpint(sequence_add(t.m, &(SequenceSpec){.name = "pending", .start = 1, .list_fd = -EBADF},
                                     on_added, &a, NULL),
                        ==, 0);
        g_assert_cmpint(sequence_add(t.m, &(SequenceSpec){.name = "one-more", .start = 1, .list_fd = -EBADF},
                                     on_added, NULL, &error),
                        ==, -EBUSY);
        g_assert_nonnull(strstr(error, "at most 256 sequences and has 256; remove one first"));
        g_assert_true(core_test_run_until(&t, added, &a, 5000));
        g_assert_cmpint(a.result, ==, 0);
        g_assert_cmpint(sequence_remove(sequence_find(t.m, "s0"), NULL), ==, 0);
        g_assert_nonnull(add_counter(&t, "one-more", 1, false, 0));
        core_test_teardown(&t);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/core/sequences/order-spoiled-returned-exhausted",
                        test_order_spoiled_returned_exhausted);
        g_test_add_func("/core/sequences/remove-in-use", test_remove_in_use);
        g_test_add_func("/core/sequences/list-parse", test_list_parse);
        g_test_add_func("/core/sequences/taken-at-start", test_taken_at_start);
        g_test_add_func("/core/sequences/count-capped", test_count_capped);
        return test_run();
}
