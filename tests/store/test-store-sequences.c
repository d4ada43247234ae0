/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "store-test.h"
#include "test-main.h"

/* Allocations: order, returned values first, exhaustion with nothing taken, settling at the end and
 * after a crash, and the history's view of who got what. */

typedef struct Got {
        int result;
        char *values[8];
        char *exhausted;
        bool called;
} Got;

static void on_allocated(int result, const StoreValue *values, size_t n, const char *exhausted,
                         void *userdata) {
        Got *g = userdata;

        g->called = true;
        g->result = result;
        for (size_t i = 0; result >= 0 && i < n && i < 8; i++)
                g->values[i] = g_strdup_printf("%s=%s", values[i].sequence, values[i].value);
        g->exhausted = g_strdup(exhausted);
}

static void got_clear(Got *g) {
        for (size_t i = 0; i < 8; i++)
                g_free(g->values[i]);
        g_free(g->exhausted);
        *g = (Got){};
}

static DoneEntry *tag(DoneLog *log) {
        DoneEntry *e = g_new0(DoneEntry, 1);
        e->log = log;
        return e;
}

static void submit(StoreFixture *f, DoneLog *log, uint32_t id) {
        char *images[] = {"aa11", NULL};
        StoreJobSubmit j = {.id = id, .submit_usec = id, .options_json = "{}", .image_hashes = images};
        g_assert_cmpint(store_job_submit(f->store, &j, done_log, tag(log)), ==, 0);
        wait_done(f, log, log->n + 1);
}

static void start(StoreFixture *f, uint32_t id, char **sequences, Got *g) {
        StoreJobStart s = {.id = id, .start_usec = 1000 + id, .port = "1-1", .serial = "S"};
        got_clear(g);
        g_assert_cmpint(store_job_start_allocate(f->store, &s, sequences, on_allocated, g), ==, 0);
        while (!g->called)
                g_assert_cmpint(sd_event_run(f->event, 10 * 1000 * 1000), >=, 0);
}

static void end(StoreFixture *f, DoneLog *log, uint32_t id, const char *result, StoreValuesEnd how) {
        StoreJobEnd e = {
                .id = id, .result = result, .port = "1-1", .end_usec = 5000 + id, .values_end = how};
        g_assert_cmpint(store_job_end(f->store, &e, done_log, tag(log)), ==, 0);
        wait_done(f, log, log->n + 1);
}

static void add_counter(StoreFixture *f, DoneLog *log, const char *name, uint64_t start, uint64_t step,
                        bool has_last, uint64_t last) {
        StoreSequence q = {
                .name = (char *)name, .start = start, .step = step, .has_last = has_last, .last = last};
        g_assert_cmpint(store_sequence_add(f->store, &q, done_log, tag(log)), ==, 0);
        wait_done(f, log, log->n + 1);
        g_assert_cmpint(log->results[log->n - 1], ==, 0);
}

static const StoreSequence *find(StoreState *st, const char *name) {
        FOREACH_ARRAY (q, st->sequences, st->n_sequences)
                if (streq(q->name, name))
                        return q;
        return NULL;
}

static void test_counter_and_list(void) {
        char *both[] = {"boards", "macs", "boards", NULL};
        char *lines[] = {"02:80:E1:00:00:01", "02:80:E1:00:00:02", "02:80:E1:00:00:03", NULL};
        StoreFixture f;
        DoneLog log = {};
        Got g = {};

        fixture_init(&f);
        fixture_open(&f);
        add_counter(&f, &log, "boards", 1000, 2, true, 1004);
        StoreSequence list = {.name = "macs", .kind = STORE_SEQUENCE_LIST, .values = lines};
        g_assert_cmpint(store_sequence_add(f.store, &list, done_log, tag(&log)), ==, 0);
        g_assert_cmpint(store_sequence_add(f.store, &list, done_log, tag(&log)), ==, 0);
        wait_done(&f, &log, 3);
        g_assert_cmpint(log.results[1], ==, 0);
        g_assert_cmpint(log.results[2], ==, -EEXIST);

        for (uint32_t id = 1; id <= 4; id++)
                submit(&f, &log, id);
        start(&f, 1, both, &g);
        g_assert_cmpint(g.result, ==, 0);
        g_assert_cmpstr(g.values[0], ==, "boards=1000");
        g_assert_cmpstr(g.values[1], ==, "macs=02:80:E1:00:00:01");
        g_assert_null(g.values[2]); /* one value per sequence and job */
        start(&f, 2, both, &g);
        g_assert_cmpstr(g.values[0], ==, "boards=1002");
        g_assert_cmpstr(g.values[1], ==, "macs=02:80:E1:00:00:02");

        /* Job 2 failed before writing: its values come back first. */
        end(&f, &log, 2, "failed", STORE_VALUES_RETURNED);
        start(&f, 3, both, &g);
        g_assert_cmpstr(g.values[0], ==, "boards=1002");
        g_assert_cmpstr(g.values[1], ==, "macs=02:80:E1:00:00:02");
        end(&f, &log, 1, "done", STORE_VALUES_USED);
        end(&f, &log, 3, "failed", STORE_VALUES_SPOILED);
        start(&f, 4, both, &g);
        g_assert_cmpstr(g.values[0], ==, "boards=1004");
        g_assert_cmpstr(g.values[1], ==, "macs=02:80:E1:00:00:03");
        end(&f, &log, 4, "done", STORE_VALUES_USED);

        /* Both are spent now: a start takes nothing and records nothing. */
        submit(&f, &log, 5);
        start(&f, 5, both, &g);
        g_assert_cmpint(g.result, ==, -ENOSPC);
        g_assert_cmpstr(g.exhausted, ==, "boards");

        fixture_close(&f);
        fixture_open(&f);
        const StoreSequence *b = find(f.state, "boards"), *m = find(f.state, "macs");
        g_assert_nonnull(b);
        g_assert_nonnull(m);
        g_assert_true(b->exhausted);
        g_assert_cmpuint(b->used, ==, 2);
        g_assert_cmpuint(b->spoiled, ==, 1);
        g_assert_cmpuint(b->returned, ==, 1);
        g_assert_cmpuint(b->pending, ==, 0);
        g_assert_cmpuint(m->n_values, ==, 3);
        g_assert_cmpuint(m->next, ==, 3);
        /* Job 5 never started: it is still unfinished with no start. */
        g_assert_cmpuint(f.state->n_jobs, ==, 1);
        g_assert_false(f.state->jobs[0].started);

        g_autoptr(StoreHistory) h = NULL;
        history_query(&f, &(StoreHistoryFilter){.value = "1002"}, &h);
        g_assert_cmpuint(h->n, ==, 1);
        g_assert_cmpuint(h->entries[0].id, ==, 3);
        g_assert_cmpstr(h->entries[0].values[0], ==, "boards");
        g_assert_cmpstr(h->entries[0].values[1], ==, "1002");
        g_assert_cmpstr(h->entries[0].values[3], ==, "02:80:E1:00:00:02");

        g_assert_cmpint(store_sequence_remove(f.store, "macs", done_log, tag(&log)), ==, 0);
        g_assert_cmpint(store_sequence_remove(f.store, "macs", done_log, tag(&log)), ==, 0);
        wait_done(&f, &log, log.n + 2);
        g_assert_cmpint(log.results[log.n - 2], ==, 0);
        g_assert_cmpint(log.results[log.n - 1], ==, -ENOENT);
        got_clear(&g);
        fixture_done(&f);
}

static void test_crash_spoils(void) {
        char *seq[] = {"c", NULL};
        StoreFixture f;
        DoneLog log = {};
        Got g = {};

        fixture_init(&f);
        fixture_open(&f);
        add_counter(&f, &log, "c", 1, 1, false, 0);
        submit(&f, &log, 1);
        submit(&f, &log, 2);
        start(&f, 1, seq, &g);
        start(&f, 2, seq, &g);
        g_assert_cmpstr(g.values[0], ==, "c=2");
        /* Job 2 got as far as the leave request: its value is on the board. */
        g_assert_cmpint(store_job_leave(f.store, 2, 3000), ==, 0);
        fixture_close(&f);

        fixture_open(&f);
        const StoreSequence *c = find(f.state, "c");
        g_assert_cmpuint(c->taken, ==, 0);
        g_assert_cmpuint(c->spoiled, ==, 1);
        g_assert_cmpuint(c->used, ==, 1);
        g_assert_cmpuint(c->next, ==, 3);
        /* The resumed job draws a new value. */
        start(&f, 1, seq, &g);
        g_assert_cmpstr(g.values[0], ==, "c=3");
        got_clear(&g);
        fixture_done(&f);
}

/* The value the next job would take, or the errno saying why there is none. */
static char *peek(StoreFixture *f, const char *name, int *ret) {
        char *v = NULL;

        *ret = store_sequence_peek(f->store, name, &v);
        return v;
}

/* A peek shows what the next start takes (a returned value first) and takes nothing. */
static void test_peek(void) {
        char *both[] = {"boards", "macs", NULL};
        char *lines[] = {"first", "second", NULL};
        StoreFixture f;
        DoneLog log = {};
        Got g = {};
        char *v;
        int r;

        fixture_init(&f);
        fixture_open(&f);
        add_counter(&f, &log, "boards", 1000, 2, true, 1002);
        StoreSequence list = {.name = "macs", .kind = STORE_SEQUENCE_LIST, .values = lines};
        g_assert_cmpint(store_sequence_add(f.store, &list, done_log, tag(&log)), ==, 0);
        wait_done(&f, &log, 2);

        v = peek(&f, "macs", &r);
        g_assert_cmpint(r, ==, 0);
        g_assert_cmpstr(v, ==, "first");
        g_free(v);
        v = peek(&f, "macs", &r);
        g_assert_cmpstr(v, ==, "first");
        g_free(v);
        v = peek(&f, "nope", &r);
        g_assert_cmpint(r, ==, -ENOENT);
        g_assert_null(v);

        for (uint32_t id = 1; id <= 3; id++)
                submit(&f, &log, id);
        start(&f, 1, both, &g);
        g_assert_cmpstr(g.values[1], ==, "macs=first");
        v = peek(&f, "macs", &r);
        g_assert_cmpstr(v, ==, "second");
        g_free(v);
        v = peek(&f, "boards", &r);
        g_assert_cmpstr(v, ==, "1002");
        g_free(v);
        /* Job 1 failed before writing: its values are what the next start takes, and a peek says so. */
        end(&f, &log, 1, "failed", STORE_VALUES_RETURNED);
        v = peek(&f, "macs", &r);
        g_assert_cmpstr(v, ==, "first");
        g_free(v);
        v = peek(&f, "boards", &r);
        g_assert_cmpstr(v, ==, "1000");
        g_free(v);
        start(&f, 2, both, &g);
        g_assert_cmpstr(g.values[0], ==, "boards=1000");
        g_assert_cmpstr(g.values[1], ==, "macs=first");
        start(&f, 3, both, &g);
        g_assert_cmpstr(g.values[0], ==, "boards=1002");
        g_assert_cmpstr(g.values[1], ==, "macs=second");
        v = peek(&f, "boards", &r);
        g_assert_cmpint(r, ==, -ENOSPC);
        g_assert_null(v);
        v = peek(&f, "macs", &r);
        g_assert_cmpint(r, ==, -ENOSPC);
        g_assert_null(v);
        got_clear(&g);
        fixture_done(&f);
}

/* The spoiled values, lowest first, with their job and board; a limit; an unknown sequence. */
static void test_spoiled(void) {
        char *seq[] = {"c", NULL};
        StoreSpoiled *v = NULL;
        StoreFixture f;
        DoneLog log = {};
        Got g = {};
        size_t n;

        fixture_init(&f);
        fixture_open(&f);
        add_counter(&f, &log, "c", 1, 1, false, 0);
        for (uint32_t id = 1; id <= 4; id++) {
                submit(&f, &log, id);
                start(&f, id, seq, &g);
        }
        end(&f, &log, 3, "failed", STORE_VALUES_SPOILED);
        end(&f, &log, 1, "failed", STORE_VALUES_SPOILED);
        end(&f, &log, 2, "done", STORE_VALUES_USED);
        end(&f, &log, 4, "failed", STORE_VALUES_RETURNED);

        g_assert_cmpint(store_sequence_spoiled(f.store, "c", 10, &v, &n), ==, 0);
        g_assert_cmpuint(n, ==, 2);
        g_assert_cmpstr(v[0].value, ==, "1");
        g_assert_cmpuint(v[0].job_id, ==, 1);
        g_assert_cmpstr(v[0].port, ==, "1-1");
        g_assert_cmpstr(v[1].value, ==, "3");
        g_assert_cmpuint(v[1].end_usec, ==, 5003);
        store_spoiled_free(v, n);
        g_assert_cmpint(store_sequence_spoiled(f.store, "c", 1, &v, &n), ==, 0);
        g_assert_cmpuint(n, ==, 1);
        store_spoiled_free(v, n);
        g_assert_cmpint(store_sequence_spoiled(f.store, "nope", 10, &v, &n), ==, -ENOENT);
        got_clear(&g);
        fixture_done(&f);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/store/sequences/counter-and-list", test_counter_and_list);
        g_test_add_func("/store/sequences/crash-spoils", test_crash_spoils);
        g_test_add_func("/store/sequences/peek", test_peek);
        g_test_add_func("/store/sequences/spoiled", test_spoiled);
        return test_run();
}
