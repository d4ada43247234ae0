/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Edges of the core that a one-line change would cross unnoticed otherwise: the history's filters,
 * serials that are empty or missing, memory maps that do not parse.
 */
#include <errno.h>

#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <sys/stat.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "config.h"
#include "core-test.h"
#include "device.h"
#include "history.h"
#include "journal.h"
#include "log.h"
#include "option-read.h"
#include "prepare.h"
#include "progress.h"
#include "sequence.h"
#include "spool.h"
#include "store.h"
#include "submit.h"
#include "tasks.h"
#include "test-main.h"

typedef struct HistoryWait {
        bool done;
        int result;
        StoreHistory *page;
} HistoryWait;

static void history_done(Manager *m, int result, StoreHistory *page, void *userdata) {
        HistoryWait *w = userdata;
        (void)m;
        *w = (HistoryWait){true, result, page};
}

static bool history_ready(CoreTest *t, void *userdata) {
        (void)t;
        return ((HistoryWait *)userdata)->done;
}

/* The ids of the entries the filter finds, oldest first: "1 2". */
static char *history_ids(CoreTest *t, const StoreHistoryFilter *f) {
        HistoryWait w = {};
        GString *s = g_string_new(NULL);

        g_assert_cmpint(history_query(t->m, f, history_done, &w), ==, 0);
        g_assert_true(core_test_run_until(t, history_ready, &w, CORE_TEST_TIMEOUT_MS));
        g_assert_cmpint(w.result, ==, 0);
        for (size_t i = 0; i < w.page->n; i++)
                g_string_append_printf(s, "%s%u", i ? " " : "", w.page->entries[i].id);
        store_history_free(w.page);
        return g_string_free(s, FALSE);
}

/* Each filter of a history query is applied, and only that one. */
static void test_history_filters(void) {
        CoreTest t = {};
        Job *a, *b;

        core_test_setup(&t, NULL);
        core_test_plug(&t, "1-1", "f405", "A1");
        core_test_plug(&t, "1-2", "f405", "B2");
        a = core_test_submit(&t, (const char *[]){"port=1-1", "leave=no", NULL}, NULL);
        g_assert_nonnull(a);
        core_test_release(&t, a->id, 0);
        b = core_test_submit(&t, (const char *[]){"port=1-2", "leave=no", NULL}, NULL);
        g_assert_nonnull(b);
        core_test_release(&t, b->id, -EIO);

        static const struct {
                StoreHistoryFilter f;
                const char *ids;
        } cases[] = {
                {{}, "1 2"},
                {{.port = "1-1"}, "1"},
                {{.serial = "B2"}, "2"},
                {{.port = "1-1", .serial = "B2"}, ""},
                {{.result = "failed"}, "2"},
                {{.result = "done"}, "1"},
                {{.image = "0000000000000000000000000000000000000000000000000000000000000000"}, ""},
                {{.serial = "A1",
                  .image = "0000000000000000000000000000000000000000000000000000000000000000"},
                 ""},
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *ids = history_ids(&t, &cases[i].f);
                g_assert_cmpstr(ids, ==, cases[i].ids);
        }
        core_test_teardown(&t);
}

/* Boards without a serial, or whose probe failed, are not duplicates of each other; two that report
 * the same serial are. */
static void test_duplicate_serials(void) {
        char *const *alts = (char *const *)part_find("f405")->alt_strings;
        CoreTest t = {};
        Device *failed, *e1, *e2, *s1, *s2;

        core_test_setup(&t, NULL);
        g_assert_cmpint(device_new(t.m, "1-9", NULL, 0x0483, 0xdf11, &failed), ==, 0);
        g_assert_cmpint(device_publish(failed, NULL), ==, 0);
        e1 = core_test_plug_strings(&t, "1-1", "f405", "", alts);
        e2 = core_test_plug_strings(&t, "1-2", "f405", "", alts);
        s1 = core_test_plug_strings(&t, "1-3", "f405", "S1", alts);
        s2 = core_test_plug_strings(&t, "1-4", "f405", "S1", alts);
        g_assert_true(failed->failed);
        g_assert_false(failed->serial_duplicated);
        g_assert_false(e1->serial_duplicated);
        g_assert_false(e2->serial_duplicated);
        g_assert_true(s1->serial_duplicated);
        g_assert_true(s2->serial_duplicated);
        core_test_teardown(&t);
}

/* One layout per alternate setting, in order: one that does not parse stays, empty, in its place. */
static void test_map_keeps_places(void) {
        char *alts[] = {(char *)"garbled", (char *)"@Internal Flash  /0x08000000/04*016Kg", NULL};
        char *both[] = {alts[1], (char *)"@Option Bytes  /0x1FFFC000/01*016 e", NULL};
        CoreTest t = {};
        Device *d, *ok;

        core_test_setup(&t, NULL);
        d = core_test_plug_strings(&t, "1-1", "f405", "G1", alts);
        ok = core_test_plug_strings(&t, "1-2", "f405", "G2", both);
        g_assert_cmpuint(d->map->n_layouts, ==, 2);
        g_assert_cmpuint(d->map->layouts[0].n_regions, ==, 0);
        g_assert_cmpuint(d->map->layouts[1].n_regions, ==, 1);
        g_assert_cmphex(d->map->layouts[1].regions[0].address, ==, 0x08000000);
        g_assert_cmpuint(ok->map->n_layouts, ==, 2);
        g_assert_cmpuint(ok->map->layouts[1].alt_setting, ==, 1);
        g_assert_cmphex(ok->map->layouts[1].regions[0].address, ==, 0x1FFFC000);
        core_test_teardown(&t);
}

/* What fn writes to stderr, caught in a file (the log goes there). */
static char *stderr_of(void (*fn)(void *userdata), void *userdata) {
        g_autofree char *dir = g_dir_make_tmp("dfusd-stderr-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "log", NULL);
        char *text = NULL;

        fflush(stderr);
        int saved = dup(STDERR_FILENO), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        g_assert_cmpint(saved, >=, 0);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(dup2(fd, STDERR_FILENO), ==, STDERR_FILENO);
        fn(userdata);
        fflush(stderr);
        g_assert_cmpint(dup2(saved, STDERR_FILENO), ==, STDERR_FILENO);
        close(saved);
        close(fd);
        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        (void)g_unlink(path);
        (void)g_rmdir(dir);
        return text;
}

typedef struct ConfigLoad {
        Config c;
        const char *path;
        int r;
} ConfigLoad;

static void config_load_fn(void *userdata) {
        ConfigLoad *l = userdata;
        l->r = config_load(&l->c, l->path);
}

/* A setting that is not understood or out of range is named in a warning and ignored; the good ones
 * around it hold and are not complained about. */
static void test_config_warnings(void) {
        g_autofree char *dir = g_dir_make_tmp("dfusd-config-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "dfusd.conf", NULL);
        ConfigLoad l = {.path = path};

        g_assert_true(g_file_set_contents(path,
                                          "[Daemon]\nMaxParallel=3\nBogus=1\nMaxParallel=0\n"
                                          "[Elsewhere]\nKey=value\n",
                                          -1, NULL));
        config_init(&l.c);
        g_autofree char *log = stderr_of(config_load_fn, &l);
        g_assert_cmpint(l.r, ==, 0);
        g_assert_cmpuint(l.c.max_parallel, ==, 3);
        g_assert_nonnull(strstr(log, "dfusd.conf: ignoring [Daemon] Bogus=1: not understood."));
        g_assert_nonnull(strstr(log, "dfusd.conf: ignoring [Daemon] MaxParallel=0: out of range."));
        g_assert_nonnull(strstr(log, "dfusd.conf: ignoring [Elsewhere] Key=value: not understood."));
        g_assert_null(strstr(log, "MaxParallel=3"));
        config_done(&l.c);
        (void)g_unlink(path);
        (void)g_rmdir(dir);
}

/* Under the unit stderr is the journal's stream ($JOURNAL_STREAM names it): the board's arrival is
 * then logged once, as the structured entry, not a second time on stderr. */
static void attached_as_journal_fn(void *userdata) {
        struct stat st;
        g_assert_cmpint(fstat(STDERR_FILENO, &st), ==, 0);
        g_autofree char *stream =
                g_strdup_printf("%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
        g_assert_true(g_setenv("JOURNAL_STREAM", stream, TRUE));
        journal_board_attached(userdata);
        g_unsetenv("JOURNAL_STREAM");
}

static void attached_fn(void *userdata) {
        journal_board_attached(userdata);
}

static void test_journal_stream(void) {
        CoreTest t = {};

        core_test_setup(&t, NULL);
        Device *d = core_test_plug(&t, "1-1", "f405", "A1");
        g_autofree char *as_journal = stderr_of(attached_as_journal_fn, d);
        g_autofree char *by_hand = stderr_of(attached_fn, d);
        g_assert_null(strstr(as_journal, "Board attached"));
        g_assert_nonnull(strstr(by_hand, "Board attached on port 1-1: 0483:df11 serial 'A1', part f405."));
        core_test_teardown(&t);
}

static void journal_entries_fn(void *userdata) {
        const Job *j = userdata;
        journal_job_finished(j, 0);
        journal_protection_changed(j, "unprotect", "read protection lifted");
        journal_rule_stopped(7, "its image is no longer approved");
}

/* The journal's entries for a job and a rule: a failure to send one is a debug line of each, and only
 * a failure (whether a journal listens decides which it is here). The rule's stop is a warning too. */
static void test_journal_failures(void) {
        bool journal = sd_journal_print(LOG_DEBUG, "dfusd test-core-edges: is a journal listening?") >= 0;
        CoreTest t = {};

        core_test_setup(&t, NULL);
        core_test_plug(&t, "1-1", "f405", "A1");
        Job *j = core_test_submit(&t, (const char *[]){"port=1-1", "leave=no", NULL}, NULL);
        g_assert_nonnull(j);
        core_test_release(&t, j->id, 0);
        int level = log_get_max_level();
        log_set_max_level(LOG_DEBUG);
        g_autofree char *log = stderr_of(journal_entries_fn, j);
        log_set_max_level(level);

        unsigned n = 0;
        for (const char *p = log; (p = strstr(p, "Failed to write to the journal")); p++)
                n++;
        g_assert_cmpuint(n, ==, journal ? 0 : 3);
        g_assert_nonnull(strstr(log, "Rule 7 stopped: its image is no longer approved"));
        core_test_teardown(&t);
}

/* A job's patch in a sector the image does not touch is refused (without patch-erase) when the image
 * is prepared, not left out of the plan. */
static void test_patch_outside_image(void) {
        _cleanup_(memmap_freep) MemMap *map = NULL;
        _cleanup_(image_freep) Image *image = image_new("app.hex");
        _cleanup_(sanitize_report_freep) SanitizeReport *report = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        static const uint8_t data[1024] = {0x5A};
        DfuError e = DFU_ERROR_INIT;
        PrepareTarget target;
        JobOptions o;

        g_assert_cmpint(image_add_segment(image, CORE_FLASH_BASE, data, sizeof(data), "app.hex", -1, &e), ==,
                        0);
        g_assert_cmpint(prepare_target_from_part(part_find("f405"), &map, &target, &e), ==, 0);
        job_options_init(&o);
        o.patches = g_new0(char *, 2);
        o.patches[0] = strdup("0x08060000:u32le:serial");
        g_assert_cmpint(prepare_image(image, &o, &target, false, &report, &plan, &e), ==, -EMEDIUMTYPE);
        g_assert_nonnull(strstr(
                e.message,
                "Patch at 0x08060000 (serial) is in sector 0x08060000 that the image does not touch"));
        g_assert_null(plan);
        job_options_done(&o);
}

static void option_read_nothing(Manager *m, int result, const OptionBytesFamily *f, const uint8_t *block,
                                const DfuError *error, void *userdata) {
        (void)m, (void)result, (void)f, (void)block, (void)error, (void)userdata;
        g_assert_not_reached();
}

/* Reading a board's option bytes waits for no job: a board that is flashing is busy. */
static void test_option_read_busy(void) {
        DfuError e = DFU_ERROR_INIT;
        CoreTest t = {};

        core_test_setup(&t, NULL);
        Device *d = core_test_plug(&t, "1-1", "f405", "A1");
        Job *j = core_test_submit(&t, (const char *[]){"port=1-1", "leave=no", NULL}, NULL);
        g_assert_nonnull(j);
        core_test_wait_started(&t, 1);
        g_assert_cmpint(option_read_start(t.m, d, option_read_nothing, NULL, &e), ==, -EBUSY);
        g_assert_cmpstr(e.message, ==, "The board on port 1-1 is busy.");
        g_assert_false(d->reading);
        core_test_release(&t, j->id, 0);
        core_test_teardown(&t);
}

/* The phase model fills its _DFUSE_PHASE_MAX entries and nothing after them. */
static void test_progress_model_bounds(void) {
        Plan plan = {.estimate_ms = 100,
                     .estimate_erase_ms = 40,
                     .estimate_write_ms = 50,
                     .estimate_verify_ms = 10};
        struct {
                uint64_t model[_DFUSE_PHASE_MAX];
                uint64_t canary;
        } s = {.canary = 0x5A5A5A5A5A5A5A5Au};

        progress_phase_model(&plan, s.model);
        g_assert_cmpuint(s.model[DFUSE_PHASE_ERASE], ==, 40000);
        g_assert_cmpuint(s.model[DFUSE_PHASE_WRITE], ==, 50000);
        g_assert_cmphex(s.canary, ==, 0x5A5A5A5A5A5A5A5Au);
}

/* A phase without a count (a mass erase) has done none of its share by count: only its elapsed time
 * shortens what is left. */
static void test_progress_no_count(void) {
        Plan plan = {.estimate_ms = 100, .estimate_erase_ms = 40, .estimate_write_ms = 60};
        ProgressEstimate none, start;

        progress_estimate(&plan, &(ProgressSample){.phase = DFUSE_PHASE_ERASE, .phase_elapsed_usec = 10000},
                          &none);
        progress_estimate(&plan, &(ProgressSample){.phase = DFUSE_PHASE_ERASE, .total = 100}, &start);
        g_assert_cmpfloat(none.progress, ==, 0);
        g_assert_cmpfloat(start.progress, ==, 0);
        g_assert_cmpuint(none.remaining_usec, ==, 30000 + 60000);
}

/* Inspect against layouts given as an option: they are parsed (a bad one named), the image judged
 * against them, and each patch placed. */
static void test_inspect_layouts(void) {
        static const uint8_t data[1024] = {0x5A};
        _cleanup_(image_set_freep) ImageSet *set = g_new0(ImageSet, 1);
        DfuError e = DFU_ERROR_INIT;
        InspectResult res = {};
        CoreTest t = {};
        JobOptions o;

        core_test_setup(&t, NULL);
        set->merged = image_new("app.hex");
        g_assert_cmpint(
                image_add_segment(set->merged, CORE_FLASH_BASE, data, sizeof(data), "app.hex", -1, &e), ==,
                0);
        job_options_init(&o);
        o.layouts = g_new0(char *, 2);
        o.layouts[0] = strdup("@Internal Flash  /0x08000000/04*016Kg");
        o.patches = g_new0(char *, 2);
        o.patches[0] = strdup("0x08000100:u32le:serial");
        g_assert_cmpint(submit_inspect(t.m, set, &o, &res, &e), ==, 0);
        g_assert_false(res.report->rejected);
        g_assert_nonnull(res.plan);
        g_assert_cmpuint(res.n_patches, ==, 1);
        g_assert_cmphex(res.patches[0].patch.address, ==, 0x08000100);
        g_assert_cmpint(res.patches[0].place, ==, PATCH_PLACE_IMAGE);
        submit_inspect_result_done(&res);

        free(o.layouts[0]);
        o.layouts[0] = strdup("garbled");
        res = (InspectResult){};
        g_assert_cmpint(submit_inspect(t.m, set, &o, &res, &e), ==, -EINVAL);
        g_assert_true(g_str_has_prefix(e.message, "Option 'layouts': memory map \"garbled\""));
        job_options_done(&o);
        core_test_teardown(&t);
}

typedef struct Blocked {
        int fds[2];
        bool done;
} Blocked;

static void blocked_run(void *userdata) {
        Blocked *b = userdata;
        char c;
        g_assert_cmpint(read(b->fds[0], &c, 1), ==, 1);
}

static void blocked_done(Manager *m, void *userdata) {
        (void)m;
        ((Blocked *)userdata)->done = true;
}

static bool tasks_idle(CoreTest *t, void *userdata) {
        (void)userdata;
        pthread_mutex_lock(&t->m->tasks_lock);
        bool idle = !t->m->tasks_running && !t->m->tasks_done;
        pthread_mutex_unlock(&t->m->tasks_lock);
        return idle;
}

static bool blocked_finished(CoreTest *t, void *userdata) {
        (void)t;
        return ((Blocked *)userdata)->done;
}

/* A task that runs is listed as running until its thread ends (what the exit waits for), and its
 * completion then runs on the loop. */
static void test_task_listed(void) {
        Blocked b = {};
        CoreTest t = {};

        core_test_setup(&t, NULL);
        g_assert_true(core_test_run_until(&t, tasks_idle, NULL, CORE_TEST_TIMEOUT_MS));
        g_assert_cmpint(pipe(b.fds), ==, 0);
        g_assert_cmpint(tasks_start(t.m, blocked_run, blocked_done, &b), ==, 0);
        pthread_mutex_lock(&t.m->tasks_lock);
        g_assert_nonnull(t.m->tasks_running);
        pthread_mutex_unlock(&t.m->tasks_lock);
        g_assert_cmpint(write(b.fds[1], "x", 1), ==, 1);
        g_assert_true(core_test_run_until(&t, blocked_finished, &b, CORE_TEST_TIMEOUT_MS));
        g_assert_true(core_test_run_until(&t, tasks_idle, NULL, CORE_TEST_TIMEOUT_MS));
        close(b.fds[0]);
        close(b.fds[1]);
        core_test_teardown(&t);
}

typedef struct ListAdded {
        bool done;
        int result;
        Sequence *q;
        char *error;
} ListAdded;

static void list_added(Manager *m, Sequence *q, int result, const char *error, void *userdata) {
        ListAdded *a = userdata;
        (void)m;
        *a = (ListAdded){true, result, q, g_strdup(error)};
}

static bool list_added_done(CoreTest *t, void *userdata) {
        (void)t;
        return ((ListAdded *)userdata)->done;
}

/* A list sequence is read from its file on a thread; the sequence exists once it is stored, and a
 * list that does not parse is refused with the line that is wrong. */
static ListAdded add_list(CoreTest *t, const char *name, const char *text) {
        g_autofree char *dir = g_dir_make_tmp("dfusd-list-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "list", NULL);
        g_autofree char *error = NULL;
        ListAdded a = {};

        g_assert_true(g_file_set_contents(path, text, -1, NULL));
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(
                sequence_add(t->m, &(SequenceSpec){.name = name, .kind = STORE_SEQUENCE_LIST, .list_fd = fd},
                             list_added, &a, &error),
                ==, 0);
        g_assert_true(core_test_run_until(t, list_added_done, &a, 5000));
        close(fd);
        (void)g_unlink(path);
        (void)g_rmdir(dir);
        return a;
}

static void test_sequence_list(void) {
        CoreTest t = {};

        core_test_setup(&t, NULL);
        ListAdded good = add_list(&t, "macs", "02:80:e1:00:00:01\n02:80:e1:00:00:02\n");
        g_assert_cmpint(good.result, ==, 0);
        g_assert_nonnull(good.q);
        g_assert_cmpuint(good.q->n_values, ==, 2);
        g_assert_true(sequence_find(t.m, "macs") == good.q);

        ListAdded bad = add_list(&t, "bad", "one\ntw\x01o\n");
        g_assert_cmpint(bad.result, ==, -EINVAL);
        g_assert_null(bad.q);
        g_assert_cmpstr(bad.error, ==, "The list for sequence 'bad', line 2: a control character.");
        g_assert_null(sequence_find(t.m, "bad"));
        g_free(good.error);
        g_free(bad.error);
        core_test_teardown(&t);
}

static int spool_has(CoreTest *t, const char *hash) {
        DfuError e = DFU_ERROR_INIT;
        g_autofree uint8_t *buf = NULL;
        size_t size;
        return spool_read(t->m->spool, hash, 1024 * 1024, &buf, &size, &e);
}

/* A refused Submit leaves nothing in the spool: its own image is collected, and only its own. */
static void test_refused_submit_spool(void) {
        DfuError e = DFU_ERROR_INIT;
        CoreTest t = {};

        core_test_setup(&t, NULL);
        /* the image core_test_submit() hands over, and another one nobody holds either */
        g_autofree char *own = core_test_spool_image(&t, 1024, 7);
        g_autofree char *other = core_test_spool_image(&t, 1024, 8);
        g_assert_null(core_test_submit(&t, (const char *[]){"port=9-9", NULL}, &e));
        g_assert_cmpint(e.code, ==, ENODEV);
        g_assert_true(core_test_run_until(&t, tasks_idle, NULL, CORE_TEST_TIMEOUT_MS));
        g_assert_cmpint(spool_has(&t, own), ==, -ENOENT);
        g_assert_cmpint(spool_has(&t, other), ==, 0);
        core_test_teardown(&t);
}

/* The engine's last progress (phase "done") is what a job that ended done shows, even when its thread
 * has ended by the time the loop hears of both. */
static void test_done_phase(void) {
        CoreTest t = {};
        Job *j;

        core_test_setup(&t, NULL);
        core_test_plug(&t, "1-1", "f405", "P1");
        j = core_test_submit(&t, (const char *[]){"port=1-1", "leave=no", NULL}, NULL);
        g_assert_nonnull(j);
        core_test_wait_started(&t, 1);
        core_test_release(&t, j->id, 0);
        g_assert_cmpint(j->state, ==, JOB_DONE);
        g_assert_true(j->has_phase);
        g_assert_cmpint(j->phase, ==, DFUSE_PHASE_DONE);
        g_assert_cmpuint(j->bytes_done, ==, j->bytes_total);
        core_test_teardown(&t);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/core/history/filters", test_history_filters);
        g_test_add_func("/core/devices/duplicate-serials", test_duplicate_serials);
        g_test_add_func("/core/devices/map-keeps-places", test_map_keeps_places);
        g_test_add_func("/core/config/warnings", test_config_warnings);
        g_test_add_func("/core/journal/stream", test_journal_stream);
        g_test_add_func("/core/journal/failures", test_journal_failures);
        g_test_add_func("/core/prepare/patch-outside-image", test_patch_outside_image);
        g_test_add_func("/core/option-read/busy", test_option_read_busy);
        g_test_add_func("/core/progress/model-bounds", test_progress_model_bounds);
        g_test_add_func("/core/progress/no-count", test_progress_no_count);
        g_test_add_func("/core/inspect/layouts", test_inspect_layouts);
        g_test_add_func("/core/tasks/listed", test_task_listed);
        g_test_add_func("/core/sequences/list", test_sequence_list);
        g_test_add_func("/core/spool/refused-submit", test_refused_submit_spool);
        g_test_add_func("/core/jobs/done-phase", test_done_phase);
        return test_run();
}
