/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core-test.h"
#include "image-set.h"
#include "spool.h"
#include "submit.h"
#include "worker.h"

#include <glib/gstdio.h>

uint64_t core_test_clock = 1700000000000000;

static uint64_t fake_clock(void) {
        return __atomic_load_n(&core_test_clock, __ATOMIC_SEQ_CST);
}

static void record(CoreTest *t, char *event) {
        g_ptr_array_add(t->events, event);
}

static void on_device_added(Device *d, void *userdata) {
        record(userdata, g_strdup_printf("device-added %s", d->port_path));
}
static void on_device_removed(Device *d, void *userdata) {
        record(userdata, g_strdup_printf("device-removed %s", d->port_path));
}
static void on_job_added(Job *j, void *userdata) {
        record(userdata, g_strdup_printf("job-added %u", j->id));
}
static void on_job_removed(Job *j, void *userdata) {
        record(userdata, g_strdup_printf("job-removed %u", j->id));
}
static void on_job_completed(Job *j, void *userdata) {
        record(userdata, g_strdup_printf("job-completed %u %s", j->id, job_state_to_string(j->state)));
}
static void on_job_changed(Job *j, const char *const *properties, void *userdata) {
        if (properties && g_strv_contains(properties, "State"))
                record(userdata, g_strdup_printf("job-state %u %s", j->id, job_state_to_string(j->state)));
}
static void on_rule_added(Rule *r, void *userdata) {
        record(userdata, g_strdup_printf("rule-added %u", r->id));
}

static const ManagerEvents recording_events = {
        .device_added = on_device_added,
        .device_removed = on_device_removed,
        .job_added = on_job_added,
        .job_removed = on_job_removed,
        .job_changed = on_job_changed,
        .job_completed = on_job_completed,
        .rule_added = on_rule_added,
};

/* The fake engine: says it writes, then waits for the test to let it end. */
static int fake_run(Job *j) {
        CoreTest *t = j->manager->events_userdata;
        DfuseProgress p = {.phase = DFUSE_PHASE_WRITE, .bytes_total = j->plan->bytes_total};
        gpointer result = NULL;
        int r;

        pthread_mutex_lock(&t->lock);
        g_ptr_array_add(t->started, g_strdup_printf("%u@%s", j->id, j->port_path));
        t->running++;
        t->max_running = MAX(t->max_running, t->running);
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->lock);

        worker_progress(&p, j);
        pthread_mutex_lock(&t->lock);
        while (!t->release_all && !atomic_load(&j->cancel) &&
               !g_hash_table_lookup_extended(t->release, GUINT_TO_POINTER(j->id), NULL, &result))
                pthread_cond_wait(&t->cond, &t->lock);
        t->running--;
        pthread_mutex_unlock(&t->lock);

        r = atomic_load(&j->cancel) ? -ECANCELED : GPOINTER_TO_INT(result);
        if (r == 0) {
                j->stats.bytes_written = j->plan->bytes_total;
                p = (DfuseProgress){.phase = DFUSE_PHASE_DONE};
                worker_progress(&p, j);
        } else
                dfu_error_set(&j->worker_error, -r, "The fake board failed: %s", strerror(-r));
        return r;
}

static void load_config(CoreTest *t, const char *daemon_config) {
        g_autofree char *path = g_build_filename(t->dir, "dfusd.conf", NULL);
        g_autofree char *text = g_strdup_printf("[Daemon]\n%s\n", daemon_config ? daemon_config : "");

        g_assert_true(g_file_set_contents(path, text, -1, NULL));
        g_assert_cmpint(config_load(&t->m->config, path), ==, 0);
}

void core_test_start(CoreTest *t, const char *dir, const char *daemon_config) {
        g_autofree char *error = NULL;

        if (!t->events) {
                t->events = g_ptr_array_new_with_free_func(g_free);
                t->started = g_ptr_array_new_with_free_func(g_free);
                t->release = g_hash_table_new(g_direct_hash, g_direct_equal);
                pthread_mutex_init(&t->lock, NULL);
                pthread_cond_init(&t->cond, NULL);
        }
        if (!t->dir)
                t->dir = g_strdup(dir);
        g_assert_cmpint(sd_event_new(&t->event), >=, 0);
        g_assert_cmpint(manager_new(t->event, &t->m), ==, 0);
        load_config(t, daemon_config);
        free(t->m->config.state_dir);
        t->m->config.state_dir = strdup(t->dir);
        t->m->run_job = fake_run;
        t->m->clock_realtime = fake_clock;
        t->m->events = &recording_events;
        t->m->events_userdata = t;
        if (manager_start(t->m, &error) < 0)
                g_error("manager_start: %s", error);
}

void core_test_setup(CoreTest *t, const char *daemon_config) {
        g_autofree char *dir = g_dir_make_tmp("dfusd-core-XXXXXX", NULL);

        g_assert_nonnull(dir);
        core_test_start(t, dir, daemon_config);
        core_test_ready(t);
}

void core_test_ready(CoreTest *t) {
        manager_boards_known(t->m);
}

void core_test_stop(CoreTest *t) {
        pthread_mutex_lock(&t->lock);
        t->release_all = true;
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->lock);
        t->m = manager_free(t->m);
        t->event = sd_event_unref(t->event);
        t->release_all = false;
        g_hash_table_remove_all(t->release);
        g_ptr_array_set_size(t->started, 0);
        t->running = t->max_running = 0;
}

void core_test_teardown(CoreTest *t) {
        g_autofree char *cmd = NULL;

        core_test_stop(t);
        cmd = g_strdup_printf("rm -rf '%s'", t->dir);
        g_assert_cmpint(system(cmd), ==, 0);
        g_ptr_array_unref(t->events);
        g_ptr_array_unref(t->started);
        g_hash_table_unref(t->release);
        pthread_mutex_destroy(&t->lock);
        pthread_cond_destroy(&t->cond);
        g_free(t->dir);
}

Device *core_test_plug(CoreTest *t, const char *port, const char *part_name, const char *serial) {
        const PartInfo *part = part_find(part_name);

        g_assert_nonnull(part);
        return core_test_plug_strings(t, port, part_name, serial, (char *const *)part->alt_strings);
}

Device *core_test_plug_strings(CoreTest *t, const char *port, const char *part_name, const char *serial,
                               char *const *alt_strings) {
        const PartInfo *part = part_find(part_name);
        Device *d;

        g_assert_nonnull(part);
        g_assert_cmpint(device_new(t->m, port, NULL, 0x0483, 0xdf11, &d), ==, 0);
        g_assert_cmpint(device_publish(d, &(DeviceInfo){.serial = serial,
                                                        .vid = 0x0483,
                                                        .pid = 0xdf11,
                                                        .bcd_device = part->bcd_device,
                                                        .transfer_size = part->transfer_size,
                                                        .alt_strings = alt_strings,
                                                        .part = part}),
                        ==, 0);
        return d;
}

void core_test_unplug(CoreTest *t, const char *port) {
        Device *d = device_find(t->m, port);
        g_assert_nonnull(d);
        device_remove(d);
}

static uint8_t *pattern(size_t size, uint8_t seed) {
        uint8_t *b = g_malloc(size);
        for (size_t i = 0; i < size; i++)
                b[i] = (uint8_t)(seed + i * 7);
        return b;
}

/* Intel HEX at the flash base: what a caller hands over, and what a restart reads back. */
static GString *ihex(size_t size, uint8_t seed) {
        g_autofree uint8_t *b = pattern(size, seed);
        GString *s = g_string_new(NULL);
        uint8_t ela[] = {2, 0, 0, 4, CORE_FLASH_BASE >> 24, (CORE_FLASH_BASE >> 16) & 0xff};
        unsigned sum = 0;

        for (size_t i = 0; i < sizeof(ela); i++)
                sum += ela[i];
        g_string_append_printf(s, ":02000004%02X%02X%02X\n", ela[4], ela[5], (unsigned)(-sum & 0xff));
        for (size_t off = 0; off < size; off += 16) {
                size_t n = MIN((size_t)16, size - off);
                uint16_t a = (uint16_t)(CORE_FLASH_BASE + off);
                sum = (unsigned)n + (a >> 8) + (a & 0xff);
                g_string_append_printf(s, ":%02zX%04X00", n, a);
                for (size_t k = 0; k < n; k++) {
                        g_string_append_printf(s, "%02X", b[off + k]);
                        sum += b[off + k];
                }
                g_string_append_printf(s, "%02X\n", (unsigned)(-sum & 0xff));
        }
        g_string_append(s, ":00000001FF\n");
        return s;
}

/* Spooled as a caller's image is: claimed in the daemon's spool until the set holding it is freed. */
static char *spool_image(CoreTest *t, size_t size, uint8_t seed, bool keep_claim) {
        g_autoptr(GString) text = ihex(size, seed);
        Spool *own = NULL, *spool = t->m ? t->m->spool : NULL;
        char hash[65];

        if (!spool)
                g_assert_cmpint(spool_new(t->dir, &own), ==, 0);
        g_assert_cmpint(sha256_hex((const uint8_t *)text->str, text->len, hash), ==, 0);
        g_assert_cmpint(spool_write(spool ?: own, hash, (const uint8_t *)text->str, text->len), ==, 0);
        if (!keep_claim)
                spool_unref(spool ?: own, hash);
        spool_free(own);
        return g_strdup(hash);
}

char *core_test_spool_image(CoreTest *t, size_t size, uint8_t seed) {
        return spool_image(t, size, seed, false);
}

static void parse_options(const char *const *kv, JobOptions *o) {
        for (const char *const *p = kv; p && *p; p++) {
                g_auto(GStrv) f = g_strsplit(*p, "=", 2);
                const OptionDef *d = job_option_find(f[0]);
                g_autofree char *error = NULL;
                g_auto(GStrv) list = NULL;
                OptionValue v = {};

                g_assert_nonnull(d);
                if (d->kind == OPT_PATCHES) {
                        /* patches=0x08000100:u32le:c;0x08000200:str:8:l */
                        list = g_strsplit(f[1], ";", -1);
                        v.strv = list;
                } else if (d->kind == OPT_STRING)
                        v.string = f[1];
                else if (d->kind == OPT_BOOL || d->kind == OPT_TRISTATE)
                        v.boolean = !f[1] || !g_str_equal(f[1], "no");
                else
                        v.u64 = g_ascii_strtoull(f[1], NULL, 0);
                if (job_option_set(d, o, &v, &error) < 0)
                        g_error("option %s: %s", *p, error);
        }
}

static ImageSet *image_set(CoreTest *t, size_t size, uint8_t seed) {
        ImageSet *set = g_new0(ImageSet, 1);
        g_autoptr(GString) text = ihex(size, seed);
        g_autofree char *hash = spool_image(t, size, seed, true);
        DfuError error = DFU_ERROR_INIT;

        if (image_load_buffer((const uint8_t *)text->str, text->len, "image 1", &(ImageLoadOptions){},
                              &set->merged, &error) < 0)
                g_error("%s", dfu_error_message(&error));
        g_assert_cmpint(strv_extend(&set->hashes, hash), ==, 0);
        set->spool = t->m->spool;
        set->claimed = true;
        return set;
}

typedef struct Recorded {
        bool done;
        int result;
        uint32_t id;
} Recorded;

static void job_recorded(Job *j, int result, void *userdata) {
        Recorded *r = userdata;
        *r = (Recorded){true, result, j->id};
}

static bool recorded(CoreTest *t, void *userdata) {
        return ((Recorded *)userdata)->done;
}

Job *core_test_submit(CoreTest *t, const char *const *options, DfuError *error) {
        JobOptions o;
        ImageSet *set = image_set(t, 1024, 7);
        Recorded rec = {};
        int r;

        job_options_init(&o);
        parse_options(options, &o);
        r = submit_job(t->m, set, &o, 0, job_recorded, &rec, error);
        image_set_free(set);
        job_options_done(&o);
        if (r < 0)
                return NULL;
        g_assert_true(core_test_run_until(t, recorded, &rec, CORE_TEST_TIMEOUT_MS));
        g_assert_cmpint(rec.result, ==, 0);
        return job_find(t->m, rec.id);
}

static void rule_recorded(Rule *rule, int result, void *userdata) {
        Recorded *r = userdata;
        *r = (Recorded){true, result, rule->id};
}

static int add_rule(CoreTest *t, const char *const *options, Recorded *rec, DfuError *error) {
        ImageSet *set = image_set(t, 1024, 9);
        JobOptions o;
        int r;

        job_options_init(&o);
        parse_options(options, &o);
        r = submit_rule(t->m, set, &o, 0, rule_recorded, rec, error);
        image_set_free(set);
        job_options_done(&o);
        return r;
}

Rule *core_test_add_rule(CoreTest *t, const char *const *options) {
        DfuError error = DFU_ERROR_INIT;
        Recorded rec = {};

        if (add_rule(t, options, &rec, &error) < 0)
                g_error("%s", dfu_error_message(&error));
        g_assert_true(core_test_run_until(t, recorded, &rec, CORE_TEST_TIMEOUT_MS));
        g_assert_cmpint(rec.result, ==, 0);
        return rule_find(t->m, rec.id);
}

int core_test_add_rule_refused(CoreTest *t, const char *const *options, DfuError *error) {
        Recorded rec = {};
        int r = add_rule(t, options, &rec, error);

        g_assert_cmpint(r, <, 0);
        return r;
}

bool core_test_run_until(CoreTest *t, bool (*cond)(CoreTest *t, void *userdata), void *userdata,
                         unsigned timeout_ms) {
        gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

        while (!cond(t, userdata)) {
                if (g_get_monotonic_time() >= deadline)
                        return false;
                g_assert_cmpint(sd_event_run(t->event, 10 * 1000), >=, 0);
        }
        return true;
}

typedef struct StateWait {
        uint32_t id;
        JobState state;
} StateWait;

static bool in_state(CoreTest *t, void *userdata) {
        StateWait *w = userdata;
        Job *j = job_find(t->m, w->id);
        return j && j->state == w->state && !j->finishing;
}

void core_test_wait_state(CoreTest *t, uint32_t id, JobState s) {
        Job *j;
        if (!core_test_run_until(t, in_state, &(StateWait){id, s}, CORE_TEST_TIMEOUT_MS))
                g_error("job %u never reached %s (it is %s)", id, job_state_to_string(s),
                        (j = job_find(t->m, id)) ? job_state_to_string(j->state) : "gone");
}

void core_test_release(CoreTest *t, uint32_t id, int result) {
        pthread_mutex_lock(&t->lock);
        g_hash_table_insert(t->release, GUINT_TO_POINTER(id), GINT_TO_POINTER(result));
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->lock);
        core_test_wait_state(t, id,
                             result == 0            ? JOB_DONE
                             : result == -ECANCELED ? JOB_CANCELLED
                                                    : JOB_FAILED);
}

static bool n_started(CoreTest *t, void *userdata) {
        unsigned n;
        pthread_mutex_lock(&t->lock);
        n = t->started->len;
        pthread_mutex_unlock(&t->lock);
        return n >= GPOINTER_TO_UINT(userdata);
}

void core_test_wait_started(CoreTest *t, unsigned n) {
        if (!core_test_run_until(t, n_started, GUINT_TO_POINTER(n), CORE_TEST_TIMEOUT_MS))
                g_error("%u job(s) started, %u expected", t->started->len, n);
}

bool core_test_has_event(CoreTest *t, const char *event) {
        for (unsigned i = 0; i < t->events->len; i++)
                if (g_str_equal(g_ptr_array_index(t->events, i), event))
                        return true;
        return false;
}
