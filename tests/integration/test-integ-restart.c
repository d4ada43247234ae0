/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kill -9 with work in hand: a job mid-erase, one queued behind it, one waiting for a board, a rule.
 * After a restart on the same state directory nothing acknowledged is lost, the jobs run to the end,
 * and the job journal holds only whole lines.
 */
#include <json-c/json.h>
#include <string.h>

#include "harness.h"
#include "test-main.h"

#define FLASH_BASE 0x08000000u

static char *image(Integ *t, const char *name, size_t size, uint32_t seed, uint8_t **ret) {
        *ret = integ_pattern(size, seed);
        return integ_write_ihex(t, name, &(IntegSegment){FLASH_BASE, *ret, size}, 1);
}

static bool strv_has_path(GVariant *paths, const char *path) {
        GVariantIter it;
        const char *p;

        g_variant_iter_init(&it, paths);
        while (g_variant_iter_next(&it, "&o", &p))
                if (g_str_equal(p, path))
                        return true;
        return false;
}

/* Every line of jobs.jsonl is a whole JSON object; the file ends at a line end. */
static unsigned check_journal(Integ *t) {
        g_autofree char *path = g_build_filename(t->state_dir, "jobs.jsonl", NULL);
        g_autofree char *text = NULL;
        g_auto(GStrv) lines = NULL;
        gsize len = 0;
        unsigned n = 0;

        if (!g_file_get_contents(path, &text, &len, NULL))
                g_error("no job journal at %s", path);
        g_assert_cmpuint(len, >, 0);
        g_assert_cmpint(text[len - 1], ==, '\n');
        lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l && **l; l++, n++) {
                json_object *o = json_tokener_parse(*l);
                if (!o || !json_object_is_type(o, json_type_object))
                        g_error("%s: line %u is not a JSON object: %s", path, n + 1, *l);
                json_object_put(o);
        }
        return n;
}

static void test_kill9(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img_a = NULL, *img_b = NULL, *img_c = NULL;
        g_autofree char *fa = image(t, "a.hex", 256 * 1024, 31, &img_a);
        g_autofree char *fb = image(t, "b.hex", 16 * 1024, 32, &img_b);
        g_autofree char *fc = image(t, "c.hex", 16 * 1024, 33, &img_c);
        g_autofree char *a = NULL, *b = NULL, *c = NULL, *rule = NULL, *state = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) jobs = NULL, rules = NULL;
        const char *parts[] = {"f405", NULL};
        unsigned lines_before;

        /* slow enough (f405 erases at a fifth of datasheet time) to be killed mid-job */
        integ_start(t, &(IntegRun){.boards = 1, .parts = parts, .time_scale = "0.2"});
        integ_wait_devices(t, 1, 10);
        /* a stays in the bootloader (no leave) so that b, queued behind it, finds the board */
        a = integ_submit(t, (const char *[]){fa, NULL},
                         integ_options("port", g_variant_new_string("1-1"), "leave",
                                       g_variant_new_boolean(FALSE), NULL),
                         &error);
        g_assert_no_error(error);
        b = integ_submit(t, (const char *[]){fb, NULL},
                         integ_options("port", g_variant_new_string("1-1"), "wait",
                                       g_variant_new_boolean(TRUE), "part", g_variant_new_string("f405"),
                                       NULL),
                         &error);
        g_assert_no_error(error);
        c = integ_submit(t, (const char *[]){fc, NULL},
                         integ_options("port", g_variant_new_string("1-5"), "wait",
                                       g_variant_new_boolean(TRUE), "part", g_variant_new_string("f405"),
                                       NULL),
                         &error);
        g_assert_no_error(error);
        rule = integ_add_rule(t, (const char *[]){fc, NULL},
                              integ_options("match-port", g_variant_new_string("1-7"), NULL), &error);
        g_assert_no_error(error);
        state = integ_wait_job_state(t, a, "erasing", 30);
        g_assert_cmpstr(state, ==, "erasing");

        integ_crash(t);
        lines_before = check_journal(t);
        g_test_message("journal: %u lines after kill -9", lines_before);

        /* the board the waiting job wants arrives after the restart */
        integ_start(t, &(IntegRun){.boards = 1, .parts = parts, .script = "at 3 plug 1-5 part=f405\n"});
        jobs = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Jobs", &error);
        g_assert_no_error(error);
        g_assert_true(strv_has_path(jobs, a));
        g_assert_true(strv_has_path(jobs, b));
        g_assert_true(strv_has_path(jobs, c));
        rules = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Rules", &error);
        g_assert_no_error(error);
        g_assert_true(strv_has_path(rules, rule));

        for (unsigned i = 0; i < 3; i++) {
                const char *job = i == 0 ? a : i == 1 ? b : c;
                g_free(state);
                state = integ_wait_job(t, job, 120);
                g_test_message("%s: %s", job, state);
                g_assert_cmpstr(state, ==, "done");
        }
        {
                /* the history read back over the bus covers the jobs of both runs */
                g_autoptr(GVariant) h =
                        integ_call(t, DFUSD_PATH, DFUSD_MANAGER, "GetHistory",
                                   g_variant_new("(@a{sv})", integ_options(NULL, NULL)), "(aa{sv})", &error);
                g_autoptr(GVariant) entries = NULL;
                g_assert_no_error(error);
                entries = g_variant_get_child_value(h, 0);
                g_test_message("GetHistory: %zu entries", g_variant_n_children(entries));
                g_assert_cmpuint(g_variant_n_children(entries), >=, 3);
        }
        integ_stop(t);
        g_assert_cmpuint(check_journal(t), >, lines_before);
        {
                /* a ran again from the start, then b (queued behind it) overwrote the first sector */
                g_autoptr(GBytes) d1 = integ_dump(t, "1-1"), d5 = integ_dump(t, "1-5");
                integ_assert_flash(d1, FLASH_BASE, FLASH_BASE, img_b, 16 * 1024);
                integ_assert_flash(d1, FLASH_BASE, FLASH_BASE + 16 * 1024, img_a + 16 * 1024, 240 * 1024);
                integ_assert_flash(d5, FLASH_BASE, FLASH_BASE, img_c, 16 * 1024);
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/integ/restart/kill9", Integ, NULL, integ_setup, test_kill9, integ_teardown);
        return test_run();
}
