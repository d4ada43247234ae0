/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <string.h>

#include "store-test.h"
#include "test-main.h"

/* A history of N ended jobs, and the same history as a list to check the queries against. */
#define N 1200

typedef struct Model {
        char port[16], serial[16], image[16];
        const char *result;
        uint64_t end_usec;
} Model;

static Model model[N + 1];

static void model_fill(StoreFixture *f) {
        static const char *const results[] = {"done", "done", "done", "failed", "cancelled"};
        DoneLog log = {};

        for (uint32_t i = 1; i <= N; i++) {
                Model *m = &model[i];
                (void)snprintf(m->port, sizeof(m->port), "1-1.%u", i % 7);
                (void)snprintf(m->serial, sizeof(m->serial), "S%u", i % 13);
                (void)snprintf(m->image, sizeof(m->image), "img%u", i % 3);
                m->result = results[i % 5];
                /* Not in end order everywhere: a clock step back now and then. */
                m->end_usec = 1000000 + i * 1000ull - (i % 10 == 0 ? 5500 : 0);
                end_job(f, &log, i, m->result, m->port, m->serial, m->image, m->end_usec);
        }
        wait_done(f, &log, N);
        for (size_t i = 0; i < N; i++)
                g_assert_cmpint(log.results[i], ==, 0);
}

static bool model_match(const Model *m, const StoreHistoryFilter *flt) {
        return (!flt->since || m->end_usec >= flt->since) && (!flt->until || m->end_usec <= flt->until) &&
               (!flt->port || streq(flt->port, m->port)) &&
               (!flt->serial || streq(flt->serial, m->serial)) &&
               (!flt->image || streq(flt->image, m->image)) &&
               (!flt->result || streq(flt->result, m->result));
}

/* Pages back from the newest entry with the given page size; the pages must add up to the model. */
static size_t check_filter(StoreFixture *f, StoreHistoryFilter flt, uint32_t page) {
        g_autofree uint32_t *got = g_new0(uint32_t, N), *want = g_new0(uint32_t, N);
        size_t n_got = 0, n_want = 0;

        for (uint32_t i = 1; i <= N; i++)
                if (model_match(&model[i], &flt))
                        want[n_want++] = i;
        flt.before = 0;
        flt.limit = page;
        for (;;) {
                g_autoptr(StoreHistory) h = NULL;
                history_query(f, &flt, &h);
                g_assert_cmpuint(h->n, <=, page);
                /* Newer pages were collected first: shift them up. */
                memmove(got + h->n, got, n_got * sizeof(uint32_t));
                for (size_t i = 0; i < h->n; i++) {
                        const StoreHistoryEntry *e = &h->entries[i];
                        const Model *m = &model[e->id];
                        g_assert_cmpuint(e->cursor, ==, e->id);
                        g_assert_cmpstr(e->result, ==, m->result);
                        g_assert_cmpstr(e->port, ==, m->port);
                        g_assert_cmpstr(e->serial, ==, m->serial);
                        g_assert_cmpstr(e->image_sha256, ==, m->image);
                        g_assert_cmpuint(e->end_usec, ==, m->end_usec);
                        g_assert_cmpuint(e->duration_usec, ==, 2000);
                        g_assert_cmpuint(e->bytes, ==, e->id * 10u);
                        got[i] = e->id;
                }
                n_got += h->n;
                g_assert_cmpuint(n_got, <=, n_want);
                if (!h->more) {
                        g_assert_cmpuint(n_got, ==, n_want);
                        break;
                }
                g_assert_cmpuint(h->n, ==, page);
                flt.before = h->entries[0].cursor;
        }
        for (size_t i = 0; i < n_want; i++)
                g_assert_cmpuint(got[i], ==, want[i]);
        return n_want;
}

static void test_filters(void) {
        StoreFixture f;

        fixture_init(&f);
        fixture_open(&f);
        model_fill(&f);
        g_assert_cmpuint(check_filter(&f, (StoreHistoryFilter){}, 1000), ==, N);
        g_assert_cmpuint(check_filter(&f, (StoreHistoryFilter){}, 7), ==, N);
        /* since/until are inclusive: job 600 ends at 1594500, after jobs 595..599. */
        g_assert_cmpuint(check_filter(&f, (StoreHistoryFilter){.since = 1594500}, 50), ==, 606);
        g_assert_cmpuint(check_filter(&f, (StoreHistoryFilter){.until = 1594500}, 50), ==, 595);
        g_assert_cmpuint(check_filter(&f, (StoreHistoryFilter){.since = 1100000, .until = 1200000}, 9), ==,
                         100);
        g_assert_cmpuint(check_filter(&f, (StoreHistoryFilter){.port = "1-1.3"}, 13), ==, 172);
        g_assert_cmpuint(check_filter(&f, (StoreHistoryFilter){.serial = "S5"}, 10), ==, 92);
        g_assert_cmpuint(check_filter(&f, (StoreHistoryFilter){.image = "img2"}, 100), ==, 400);
        g_assert_cmpuint(check_filter(&f, (StoreHistoryFilter){.result = "failed"}, 33), ==, 240);
        g_assert_cmpuint(check_filter(&f, (StoreHistoryFilter){.port = "1-1.0", .result = "done"}, 11), ==,
                         103);
        g_assert_cmpuint(
                check_filter(&f, (StoreHistoryFilter){.serial = "S5", .image = "img1", .since = 1500000}, 3),
                ==, 17);
        g_assert_cmpuint(check_filter(&f, (StoreHistoryFilter){.serial = "nope"}, 10), ==, 0);
        fixture_done(&f);
}

static void check_ids(const StoreHistory *h, uint32_t first, size_t n, bool more) {
        g_assert_cmpuint(h->n, ==, n);
        g_assert_true(h->more == more);
        for (size_t i = 0; i < n; i++)
                g_assert_cmpuint(h->entries[i].id, ==, first + i);
}

static void test_limits(void) {
        StoreFixture f;

        fixture_init(&f);
        fixture_open(&f);
        model_fill(&f);
        g_autoptr(StoreHistory) a = NULL, b = NULL, c = NULL, d = NULL, e = NULL;
        history_query(&f, &(StoreHistoryFilter){}, &a);
        check_ids(a, N - STORE_HISTORY_LIMIT_DEFAULT + 1, STORE_HISTORY_LIMIT_DEFAULT, true);
        history_query(&f, &(StoreHistoryFilter){.limit = 5000}, &b);
        check_ids(b, N - STORE_HISTORY_LIMIT_MAX + 1, STORE_HISTORY_LIMIT_MAX, true);
        history_query(&f, &(StoreHistoryFilter){.limit = 1000, .before = 201}, &c);
        check_ids(c, 1, 200, false);
        history_query(&f, &(StoreHistoryFilter){.limit = 1, .before = 1}, &d);
        check_ids(d, 1, 0, false);
        /* Exactly as many as the limit: nothing older. */
        history_query(&f, &(StoreHistoryFilter){.limit = 10, .before = 11}, &e);
        check_ids(e, 1, 10, false);
        fixture_done(&f);
}

static void test_prune(void) {
        StoreFixture f;
        DoneLog log = {};

        fixture_init(&f);
        fixture_open(&f);
        model_fill(&f);
        StoreJobSubmit queued = {.id = N + 1, .options_json = "{}"};
        g_assert_cmpint(store_job_submit(f.store, &queued, NULL, NULL), ==, 0);
        /* Before job 600's end: jobs 1..594 go. */
        DoneEntry *e = g_new0(DoneEntry, 1);
        *e = (DoneEntry){.log = &log, .tag = 1};
        g_assert_cmpint(store_prune(f.store, 1594500, done_log, e), ==, 0);
        wait_done(&f, &log, 1);
        g_assert_cmpint(log.results[0], ==, 594);
        g_assert_cmpuint(check_filter(&f, (StoreHistoryFilter){.since = 1594500}, 100), ==, 606);
        g_autoptr(StoreHistory) left = NULL;
        history_query(&f, &(StoreHistoryFilter){.limit = 1000}, &left);
        check_ids(left, 595, 606, false);

        e = g_new0(DoneEntry, 1);
        *e = (DoneEntry){.log = &log, .tag = 2};
        g_assert_cmpint(store_prune(f.store, UINT64_MAX, done_log, e), ==, 0);
        wait_done(&f, &log, 2);
        g_assert_cmpint(log.results[1], ==, 606);
        fixture_close(&f);

        /* Neither job ids nor cursors come back after their rows are gone; the unfinished job stays. */
        fixture_open(&f);
        g_assert_cmpuint(f.state->next_job_id, ==, N + 2);
        g_assert_cmpuint(f.state->n_jobs, ==, 1);
        g_assert_cmpuint(f.state->jobs[0].id, ==, N + 1);
        end_job(&f, &log, N + 2, "done", "1-1", "S", "img", 5000000);
        wait_done(&f, &log, 3);
        g_autoptr(StoreHistory) h = NULL;
        history_query(&f, NULL, &h);
        g_assert_cmpuint(h->n, ==, 1);
        g_assert_cmpuint(h->entries[0].id, ==, N + 2);
        g_assert_cmpuint(h->entries[0].cursor, ==, N + 1);
        fixture_close(&f);
        fixture_open(&f);
        g_assert_cmpuint(f.state->next_job_id, ==, N + 3);
        fixture_done(&f);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/store/history/filters", test_filters);
        g_test_add_func("/store/history/limits", test_limits);
        g_test_add_func("/store/history/prune", test_prune);
        return test_run();
}
