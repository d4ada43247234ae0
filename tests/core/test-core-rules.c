/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Auto-flash rules: once per board or every time, boards that leave and return, and a restart. */
#include "core-test.h"
#include "test-main.h"

static bool has_job_for(CoreTest *t, void *userdata) {
        LIST_FOREACH (jobs, j, t->m->jobs)
                if (j->accepted && j->port_path && g_str_equal(j->port_path, userdata))
                        return true;
        return false;
}

static Job *wait_rule_job(CoreTest *t, unsigned n_started) {
        core_test_wait_started(t, n_started);
        const char *s = g_ptr_array_index(t->started, n_started - 1);
        return job_find(t->m, (uint32_t)g_ascii_strtoull(s, NULL, 10));
}

static void test_once(void) {
        CoreTest t = {};
        Rule *rule;
        Job *j;

        core_test_setup(&t, NULL);
        rule = core_test_add_rule(&t,
                                  (const char *[]){"match-port=1-*", "match-part=F405", "leave=no", NULL});
        g_assert_nonnull(rule);
        core_test_plug(&t, "1-1", "f405", "A1");
        j = wait_rule_job(&t, 1);
        g_assert_cmpuint(j->rule_id, ==, rule->id);
        g_assert_cmpstr(j->target, ==, "port=1-1");
        core_test_release(&t, j->id, 0);
        g_assert_cmpstr(rule->flashed[0], ==, "1-1 A1");
        g_assert_null(rule->flashed[1]);

        /* not its part, not its port: nothing */
        core_test_plug(&t, "1-2", "h743", "H1");
        core_test_plug(&t, "2-1", "f405", "A9");
        /* the same board leaves and returns: flashed once already */
        core_test_unplug(&t, "1-1");
        core_test_plug(&t, "1-1", "f405", "A1");
        /* another board on that port is a new board */
        core_test_unplug(&t, "1-1");
        core_test_plug(&t, "1-1", "f405", "A2");
        j = wait_rule_job(&t, 2);
        g_assert_cmpstr(j->serial, ==, "A2");
        core_test_release(&t, j->id, 0);
        g_assert_cmpuint(t.started->len, ==, 2);
        g_assert_cmpstr(rule->flashed[1], ==, "1-1 A2");
        core_test_teardown(&t);
}

static void test_every_time_and_restart(void) {
        CoreTest t = {};
        g_autofree char *dir = NULL;
        Rule *rule;
        Job *j;

        core_test_setup(&t, NULL);
        rule = core_test_add_rule(&t, (const char *[]){"match-serial=B*", "once=no", "leave=no", NULL});
        core_test_plug(&t, "3-1", "g431", "B7");
        j = wait_rule_job(&t, 1);
        core_test_release(&t, j->id, 0);
        core_test_unplug(&t, "3-1");
        core_test_plug(&t, "3-1", "g431", "B7");
        j = wait_rule_job(&t, 2);
        core_test_release(&t, j->id, 0);
        g_assert_false(rule->opts.once);

        /* a restart keeps the rule, its options and the boards it flashed */
        dir = g_strdup(t.dir);
        core_test_stop(&t);
        core_test_start(&t, dir, NULL);
        core_test_ready(&t);
        rule = rule_find(t.m, 1);
        g_assert_nonnull(rule);
        g_assert_false(rule->opts.once);
        g_assert_cmpstr(rule->opts.match_serial, ==, "B*");
        g_assert_cmpstr(rule->flashed[0], ==, "3-1 B7");
        g_assert_true(core_test_has_event(&t, "rule-added 1"));
        core_test_plug(&t, "3-1", "g431", "B7");
        g_assert_true(core_test_run_until(&t, has_job_for, (void *)"3-1", CORE_TEST_TIMEOUT_MS));
        core_test_teardown(&t);
}

/* A rule added while boards are attached applies to them, but not to one that was just asked to leave. */
static void test_added_with_boards(void) {
        CoreTest t = {};
        Device *left;

        core_test_setup(&t, NULL);
        core_test_plug(&t, "1-1", "f405", "A1");
        left = core_test_plug(&t, "1-2", "f405", "A2");
        device_mark_left(left);
        core_test_add_rule(&t, (const char *[]){"leave=no", NULL});
        core_test_wait_started(&t, 1);
        g_assert_cmpstr(g_ptr_array_index(t.started, 0), ==, "1@1-1");
        g_assert_false(has_job_for(&t, (void *)"1-2"));
        core_test_teardown(&t);
}

/* The number of rules is bounded: past RULES_MAX AddRule is refused as busy with a message, and
 * removing one makes room. */
static void test_count_capped(void) {
        DfuError error = DFU_ERROR_INIT;
        char port[32];
        CoreTest t = {};
        Rule *first = NULL;

        core_test_setup(&t, NULL);
        for (unsigned i = 0; i < RULES_MAX; i++) {
                snprintf(port, sizeof(port), "match-port=9-%u", i);
                Rule *r = core_test_add_rule(&t, (const char *[]){port, NULL});
                first = first ?: r;
        }
        g_assert_cmpint(core_test_add_rule_refused(&t, (const char *[]){"match-port=9-999", NULL}, &error),
                        ==, -EBUSY);
        g_assert_nonnull(strstr(error.message, "at most 256 rules and has 256; remove one first"));
        g_assert_cmpint(rule_remove(first), ==, 0);
        g_assert_nonnull(core_test_add_rule(&t, (const char *[]){"match-port=9-999", NULL}));
        core_test_teardown(&t);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/core/rules/once", test_once);
        g_test_add_func("/core/rules/every-time-and-restart", test_every_time_and_restart);
        g_test_add_func("/core/rules/added-with-boards", test_added_with_boards);
        g_test_add_func("/core/rules/count-capped", test_count_capped);
        return test_run();
}
