/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Auto-flash rules: boards flashed as they attach, once, and no more after Remove(). */
#include <string.h>

#include "harness.h"
#include "test-main.h"

#define FLASH_BASE 0x08000000u

static guint rule_boards_flashed(Integ *t, const char *rule) {
        g_autoptr(GVariant) v = integ_get(t, rule, DFUSD_RULE, "BoardsFlashed", NULL);
        g_assert_nonnull(v);
        return (guint)g_variant_n_children(v);
}

static guint n_jobs(Integ *t) {
        g_autoptr(GVariant) v = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Jobs", NULL);
        g_assert_nonnull(v);
        return (guint)g_variant_n_children(v);
}

/*
 * A rule flashes 1-3 and 1-4 as they attach; each board leaves for its application after the job.
 * 1-3 then comes back (its application reset it into the bootloader): once=true means no second job.
 */
static void test_rule(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(4096, 23);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 4096}, 1);
        g_autofree char *rule = NULL;
        g_autoptr(GError) error = NULL;
        guint jobs_before;

        integ_start(t, &(IntegRun){.boards = 1});
        rule = integ_add_rule(t, (const char *[]){file, NULL},
                              integ_options("match-port", g_variant_new_string("1-[34]"), NULL), &error);
        g_assert_no_error(error);
        /* the boards arrive once the rule is there, however long adding it took */
        integ_sim_step(t, "plug 1-3 part=f405");
        integ_sim_step(t, "plug 1-4 part=f405");
        /* the board at 1-1 was there before the rule and does not match */
        for (unsigned i = 0; i < 3000 && rule_boards_flashed(t, rule) < 2; i++)
                g_usleep(10 * 1000);
        g_assert_cmpuint(rule_boards_flashed(t, rule), ==, 2);
        integ_wait_device(t, "1-3", false, 30);
        jobs_before = n_jobs(t);

        /* back again (only now that it has left): the rule has flashed it once already */
        integ_sim_step(t, "plug 1-3");
        integ_wait_device(t, "1-3", true, 30);
        g_assert_cmpuint(n_jobs(t), ==, jobs_before);
        g_assert_cmpuint(rule_boards_flashed(t, rule), ==, 2);

        integ_stop(t);
        for (unsigned i = 0; i < 2; i++) {
                g_autoptr(GBytes) dump = integ_dump(t, i == 0 ? "1-3" : "1-4");
                integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, img, 4096);
        }
        {
                g_autoptr(GBytes) untouched = integ_dump(t, "1-1");
                integ_assert_blank(untouched, FLASH_BASE, FLASH_BASE, 4096);
        }
}

/* A removed rule leaves the bus and flashes nothing more. */
static void test_rule_remove(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(2048, 26);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 2048}, 1);
        g_autofree char *rule = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL, rules = NULL, gone = NULL;
        g_autoptr(GBytes) d5 = NULL, d6 = NULL;
        guint jobs_before;

        integ_start(t, &(IntegRun){.boards = 1});
        rule = integ_add_rule(t, (const char *[]){file, NULL},
                              integ_options("match-port", g_variant_new_string("1-[56]"), NULL), &error);
        g_assert_no_error(error);
        integ_sim_step(t, "plug 1-5 part=f405");
        for (unsigned i = 0; i < 3000 && rule_boards_flashed(t, rule) < 1; i++)
                g_usleep(10 * 1000);
        g_assert_cmpuint(rule_boards_flashed(t, rule), ==, 1);

        r = integ_call(t, rule, DFUSD_RULE, "Remove", NULL, NULL, &error);
        g_assert_no_error(error);
        rules = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Rules", &error);
        g_assert_no_error(error);
        g_assert_cmpuint(g_variant_n_children(rules), ==, 0);
        gone = integ_get(t, rule, DFUSD_RULE, "Match", &error);
        g_assert_null(gone);
        g_assert_true(g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT) ||
                      g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_INTERFACE) ||
                      g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD));
        g_clear_error(&error);

        jobs_before = n_jobs(t);
        /* plugged after the rule is gone, not at a time the removal was expected to be done by */
        integ_sim_step(t, "plug 1-6 part=f405");
        integ_wait_device(t, "1-6", true, 30);
        g_assert_cmpuint(n_jobs(t), ==, jobs_before);
        integ_stop(t);
        d5 = integ_dump(t, "1-5");
        d6 = integ_dump(t, "1-6");
        integ_assert_flash(d5, FLASH_BASE, FLASH_BASE, img, 2048);
        integ_assert_blank(d6, FLASH_BASE, FLASH_BASE, 2048);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/integ/rules/once", Integ, NULL, integ_setup, test_rule, integ_teardown);
        g_test_add("/integ/rules/remove", Integ, NULL, integ_setup, test_rule_remove, integ_teardown);
        return test_run();
}
