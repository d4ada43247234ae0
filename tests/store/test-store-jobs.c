/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include "store-test.h"
#include "test-main.h"

static DoneEntry *tag(DoneLog *log, uintptr_t t) {
        DoneEntry *e = g_new0(DoneEntry, 1);
        *e = (DoneEntry){.log = log, .tag = t};
        return e;
}

static void submit(StoreFixture *f, DoneLog *log, uint32_t id, uint32_t rule) {
        char *images[] = {"aa11", "bb22", NULL};
        StoreJobSubmit j = {
                .id = id,
                .owner = 1000 + id,
                .submit_usec = 100 * id,
                .target = id % 2 ? "port=1-1" : NULL,
                .options_json = "{\"verify\":true}",
                .image_hashes = images,
                .rule_id = rule,
        };
        g_assert_cmpint(store_job_submit(f->store, &j, done_log, tag(log, id)), ==, 0);
}

typedef struct LeaveArgs {
        Store *store;
        uint32_t id;
        int result;
} LeaveArgs;

static gpointer leave_thread(gpointer p) {
        LeaveArgs *a = p;
        a->result = store_job_leave(a->store, a->id, 7777);
        return NULL;
}

static void test_round_trip(void) {
        StoreFixture f;
        DoneLog log = {};

        fixture_init(&f);
        fixture_open(&f);
        g_assert_cmpuint(f.state->n_jobs, ==, 0);
        g_assert_cmpuint(f.state->n_rules, ==, 0);
        g_assert_cmpuint(f.state->next_job_id, ==, 1);
        g_assert_cmpuint(f.state->next_rule_id, ==, 1);
        g_assert_cmpuint(f.state->imported_jobs, ==, 0);

        submit(&f, &log, 1, 0);
        submit(&f, &log, 2, 9);
        submit(&f, &log, 3, 0);
        StoreJobStart s1 = {.id = 1, .start_usec = 150, .port = "1-1", .serial = "S1", .station = "bench"};
        StoreJobStart s2 = {.id = 2, .start_usec = 250, .port = "1-2"};
        g_assert_cmpint(store_job_start(f.store, &s1, done_log, tag(&log, 11)), ==, 0);
        g_assert_cmpint(store_job_start(f.store, &s2, done_log, tag(&log, 12)), ==, 0);
        wait_done(&f, &log, 5);

        /* The leave is written from another thread, which waits until it is durable. */
        LeaveArgs a = {.store = f.store, .id = 2, .result = 1};
        GThread *t = g_thread_new("leave", leave_thread, &a);
        g_thread_join(t);
        g_assert_cmpint(a.result, ==, 0);
        g_assert_cmpint(store_job_leave(f.store, 99, 1), ==, -ENOENT);

        StoreJobEnd e1 = {.id = 1,
                          .result = "done",
                          .port = "1-1",
                          .serial = "S1",
                          .station = "bench",
                          .target = "port=1-1",
                          .image_sha256 = "cafe",
                          .submit_usec = 100,
                          .start_usec = 150,
                          .end_usec = 900,
                          .bytes = 4096,
                          .dropped_segments = 2,
                          .interrupted = true};
        g_assert_cmpint(store_job_end(f.store, &e1, done_log, tag(&log, 21)), ==, 0);
        wait_done(&f, &log, 6);
        for (size_t i = 0; i < log.n; i++)
                g_assert_cmpint(log.results[i], ==, 0);

        fixture_close(&f);
        fixture_open(&f);
        g_assert_cmpuint(f.state->next_job_id, ==, 4);
        g_assert_cmpuint(f.state->n_jobs, ==, 2);
        StoreUnfinished *j = &f.state->jobs[0];
        g_assert_cmpuint(j->id, ==, 2);
        g_assert_cmpuint(j->owner, ==, 1002);
        g_assert_cmpuint(j->rule_id, ==, 9);
        g_assert_cmpuint(j->submit_usec, ==, 200);
        g_assert_null(j->target);
        g_assert_cmpstr(j->options_json, ==, "{\"verify\":true}");
        g_assert_cmpuint(strv_length(j->image_hashes), ==, 2);
        g_assert_cmpstr(j->image_hashes[0], ==, "aa11");
        g_assert_cmpstr(j->image_hashes[1], ==, "bb22");
        g_assert_true(j->started);
        g_assert_true(j->leave);
        j = &f.state->jobs[1];
        g_assert_cmpuint(j->id, ==, 3);
        g_assert_cmpstr(j->target, ==, "port=1-1");
        g_assert_false(j->started);
        g_assert_false(j->leave);

        g_autoptr(StoreHistory) h = NULL;
        history_query(&f, NULL, &h);
        g_assert_cmpuint(h->n, ==, 1);
        g_assert_false(h->more);
        StoreHistoryEntry *x = &h->entries[0];
        g_assert_cmpuint(x->cursor, ==, 1);
        g_assert_cmpuint(x->id, ==, 1);
        g_assert_cmpuint(x->rule_id, ==, 0);
        g_assert_cmpstr(x->result, ==, "done");
        g_assert_null(x->error);
        g_assert_cmpstr(x->port, ==, "1-1");
        g_assert_cmpstr(x->serial, ==, "S1");
        g_assert_cmpstr(x->station, ==, "bench");
        g_assert_cmpstr(x->target, ==, "port=1-1");
        g_assert_cmpstr(x->image_sha256, ==, "cafe");
        g_assert_cmpuint(x->submit_usec, ==, 100);
        g_assert_cmpuint(x->start_usec, ==, 150);
        g_assert_cmpuint(x->end_usec, ==, 900);
        g_assert_cmpuint(x->duration_usec, ==, 750);
        g_assert_cmpuint(x->bytes, ==, 4096);
        g_assert_cmpuint(x->dropped_segments, ==, 2);
        g_assert_true(x->interrupted);
        fixture_done(&f);
}

/* What a refused write reports, and that the writes around it in the same batch still apply. */
static void test_refused(void) {
        StoreFixture f;
        DoneLog log = {};

        fixture_init(&f);
        fixture_open(&f);
        submit(&f, &log, 1, 0);
        submit(&f, &log, 1, 0);
        StoreJobStart s = {.id = 5, .start_usec = 1};
        g_assert_cmpint(store_job_start(f.store, &s, done_log, tag(&log, 5)), ==, 0);
        submit(&f, &log, 2, 0);
        end_job(&f, &log, 2, "failed", "1-2", NULL, NULL, 5000);
        end_job(&f, &log, 2, "done", "1-2", NULL, NULL, 6000);
        g_assert_cmpint(store_rule_remove(f.store, 4, done_log, tag(&log, 40)), ==, 0);
        g_assert_cmpint(store_rule_flashed(f.store, 4, "1-1 S", done_log, tag(&log, 41)), ==, 0);
        g_assert_cmpint(store_job_start(f.store, NULL, NULL, NULL), ==, -EINVAL);
        g_assert_cmpint(store_job_end(f.store, &(StoreJobEnd){.id = 3}, NULL, NULL), ==, -EINVAL);
        wait_done(&f, &log, 8);
        const int expected[] = {0, -EEXIST, -ENOENT, 0, 0, -EALREADY, -ENOENT, -ENOENT};
        for (size_t i = 0; i < G_N_ELEMENTS(expected); i++)
                g_assert_cmpint(log.results[i], ==, expected[i]);

        g_autoptr(StoreHistory) h = NULL;
        history_query(&f, NULL, &h);
        g_assert_cmpuint(h->n, ==, 1);
        g_assert_cmpstr(h->entries[0].result, ==, "failed");
        g_assert_cmpuint(h->entries[0].end_usec, ==, 5000);
        fixture_done(&f);
}

typedef struct DurableCheck {
        DoneLog *log;
        sqlite3 *db;
        uint32_t id;
} DurableCheck;

/* A completion must find its record committed: visible to another connection. */
static void done_durable(int result, void *userdata) {
        DurableCheck *c = userdata;
        sqlite3_stmt *st = NULL;

        g_assert_cmpint(result, ==, 0);
        g_assert_cmpint(sqlite3_prepare_v2(c->db, "SELECT COUNT(*) FROM jobs WHERE id = ?", -1, &st, NULL),
                        ==, SQLITE_OK);
        g_assert_cmpint(sqlite3_bind_int64(st, 1, c->id), ==, SQLITE_OK);
        g_assert_cmpint(sqlite3_step(st), ==, SQLITE_ROW);
        g_assert_cmpint(sqlite3_column_int(st, 0), ==, 1);
        sqlite3_finalize(st);
        c->log->tags[c->log->n] = c->id;
        c->log->results[c->log->n++] = result;
        g_free(c);
}

static void test_order(void) {
        g_autofree char *path = NULL;
        StoreFixture f;
        DoneLog log = {};
        sqlite3 *db = NULL;

        fixture_init(&f);
        fixture_open(&f);
        path = fixture_path(&f, "dfusd.db");
        g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
        for (uint32_t id = 1; id <= 500; id++) {
                DurableCheck *c = g_new0(DurableCheck, 1);
                *c = (DurableCheck){.log = &log, .db = db, .id = id};
                StoreJobSubmit j = {.id = id, .options_json = "{}"};
                g_assert_cmpint(store_job_submit(f.store, &j, done_durable, c), ==, 0);
                if (id % 50 == 0)
                        (void)sd_event_run(f.event, 0);
        }
        wait_done(&f, &log, 500);
        for (size_t i = 0; i < 500; i++)
                g_assert_cmpuint(log.tags[i], ==, i + 1);
        sqlite3_close(db);

        /* Closing writes out what is queued and runs its completions. */
        DoneLog closing = {};
        for (uint32_t id = 501; id <= 600; id++)
                end_job(&f, &closing, id, "done", "1-1", "S", NULL, 1000 + id);
        fixture_close(&f);
        g_assert_cmpuint(closing.n, ==, 100);
        for (size_t i = 0; i < 100; i++) {
                g_assert_cmpint(closing.results[i], ==, 0);
                g_assert_cmpuint(closing.tags[i], ==, 501 + i);
        }
        fixture_open(&f);
        g_assert_cmpuint(f.state->n_jobs, ==, 500);
        g_assert_cmpuint(f.state->next_job_id, ==, 601);
        fixture_done(&f);
}

static void child_ack(int result, void *userdata) {
        int *fd = userdata;
        static uint32_t acked = 0; /* the child only: it never returns */

        if (result == 0) {
                acked++;
                g_assert_cmpint(write(*fd, &acked, sizeof(acked)), ==, sizeof(acked));
        }
}

/* Writes jobs as fast as it can and reports each completion on fd, until it is killed. */
static G_NORETURN void child_run(const char *dir, int fd) {
        sd_event *event = NULL;
        Store *s = NULL;

        if (sd_event_new(&event) < 0 || store_open(dir, event, &s, NULL, NULL) < 0)
                _exit(1);
        for (uint32_t id = 1;; id++) {
                StoreJobSubmit j = {.id = id, .options_json = "{}"};
                StoreJobEnd e = {.id = id, .result = "done", .end_usec = id};
                if (store_job_submit(s, &j, NULL, NULL) < 0 || store_job_end(s, &e, child_ack, &fd) < 0)
                        _exit(1);
                if (id % 16 == 0)
                        (void)sd_event_run(event, 0);
        }
}

static void test_kill(void) {
        StoreFixture f;
        int p[2];
        uint32_t acked = 0, n;
        pid_t pid;

        fixture_init(&f);
        g_assert_cmpint(pipe(p), ==, 0);
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                close(p[0]);
                child_run(f.dir, p[1]);
        }
        close(p[1]);
        while (acked < 300 && read(p[0], &n, sizeof(n)) == sizeof(n))
                acked = n;
        g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
        g_assert_cmpint(waitpid(pid, NULL, 0), ==, pid);
        while (read(p[0], &n, sizeof(n)) == sizeof(n))
                acked = n;
        close(p[0]);
        g_assert_cmpuint(acked, >=, 300);

        /* Every acknowledged end is there (ids 1..acked ended in order: cursor == id). */
        fixture_open(&f);
        g_autoptr(StoreHistory) h = NULL;
        history_query(&f, &(StoreHistoryFilter){.before = acked + 1, .limit = 1000}, &h);
        g_assert_cmpuint(h->n, ==, MIN(acked, 1000u));
        for (size_t i = 0; i < h->n; i++) {
                g_assert_cmpuint(h->entries[i].cursor, ==, acked - h->n + 1 + i);
                g_assert_cmpuint(h->entries[i].id, ==, acked - h->n + 1 + i);
        }
        g_assert_cmpuint(f.state->next_job_id, >=, acked + 1);
        fixture_done(&f);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/store/round-trip", test_round_trip);
        g_test_add_func("/store/refused", test_refused);
        g_test_add_func("/store/order", test_order);
        g_test_add_func("/store/kill", test_kill);
        return test_run();
}
