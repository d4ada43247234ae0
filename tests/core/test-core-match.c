/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one matcher: which board a job's target or a rule's match names. A table of boards against
 * specs, each cell the expected answer.
 */
#include "match.h"
#include "test-main.h"

#include <glib.h>

typedef struct Board {
        const char *port, *serial, *station, *part;
        bool duplicated;
} Board;

static const Board boards[] = {
        {"1-1", "3557375A3133", "A", "f405", false},
        {"1-10", "3557375A3134", "B", "f405", false},
        {"1-1.2", "STM32FxSTM32", NULL, "f722", true},
        {"2-3", "", "C1", "h743", false},
        {"2-4", "0042", NULL, NULL, false},
};

typedef struct Case {
        const char *name;
        MatchSpec spec;
        const char *expect; /* one letter per board: y or n */
} Case;

static const Case cases[] = {
        {"nothing named, not any", {}, "nnnnn"},
        {"any", {.any = true}, "yyyyy"},
        /* a port is the board on exactly that port: 1-1 is not 1-10, nor 1-1.2 */
        {"port 1-1", {.port = "1-1"}, "ynnnn"},
        {"port 1-10", {.port = "1-10"}, "nynnn"},
        {"port glob 1-1*", {.port = "1-1*"}, "yyynn"},
        {"port glob 1-1.?", {.port = "1-1.?"}, "nnynn"},
        {"port set", {.port = "[12]-[34]"}, "nnnyy"},
        {"serial exact", {.serial = "3557375A3133"}, "ynnnn"},
        {"serial glob", {.serial = "3557375A313?"}, "yynnn"},
        {"serial duplicated, as a rule sees it", {.serial = "STM32FxSTM32"}, "nnynn"},
        {"serial duplicated, as a job sees it", {.serial = "STM32FxSTM32", .unique_serial = true}, "nnnnn"},
        {"empty serial never matches", {.serial = "*"}, "yyyny"},
        {"station", {.station = "A"}, "ynnnn"},
        {"station glob", {.station = "C*"}, "nnnyn"},
        /* part names are compared without regard to case: F405 is f405 */
        {"part f405", {.part = "f405"}, "yynnn"},
        {"part F405", {.part = "F405"}, "yynnn"},
        {"part H743", {.part = "H743"}, "nnnyn"},
        {"unknown part never matches a part", {.part = "f411"}, "nnnnn"},
        {"port and part", {.port = "1-*", .part = "F405"}, "yynnn"},
        {"port and serial must both hold", {.port = "1-1", .serial = "3557375A3134"}, "nnnnn"},
};

static void test_table(void) {
        const PartInfo *parts[G_N_ELEMENTS(boards)];
        Device devices[G_N_ELEMENTS(boards)] = {};

        for (size_t b = 0; b < G_N_ELEMENTS(boards); b++) {
                parts[b] = boards[b].part ? part_find(boards[b].part) : NULL;
                g_assert_true(!boards[b].part || parts[b]);
                devices[b].port_path = (char *)boards[b].port;
                devices[b].serial = (char *)boards[b].serial;
                devices[b].station = boards[b].station;
                devices[b].part = parts[b];
                devices[b].serial_duplicated = boards[b].duplicated;
        }
        for (size_t c = 0; c < G_N_ELEMENTS(cases); c++)
                for (size_t b = 0; b < G_N_ELEMENTS(boards); b++) {
                        bool want = cases[c].expect[b] == 'y';
                        if (match_board(&cases[c].spec, &devices[b]) != want)
                                g_error("%s: board on port %s: expected %s", cases[c].name, boards[b].port,
                                        want ? "a match" : "no match");
                }
}

static void test_specs_from_options(void) {
        JobOptions o;
        MatchSpec s;

        job_options_init(&o);
        o.any = true;
        o.part = (char *)"F405";
        match_spec_from_job_options(&o, &s);
        g_assert_true(s.any);
        g_assert_cmpstr(s.part, ==, "F405");
        g_assert_true(s.unique_serial);

        /* with a board named, the part only checks the image: it does not narrow the match */
        o.any = false;
        o.port = (char *)"1-1";
        match_spec_from_job_options(&o, &s);
        g_assert_null(s.part);
        g_assert_cmpstr(s.port, ==, "1-1");

        job_options_init(&o);
        o.match_station = (char *)"A*";
        match_spec_from_rule_options(&o, &s);
        g_assert_true(s.any);
        g_assert_false(s.unique_serial);
        g_assert_cmpstr(s.station, ==, "A*");
}

static void test_glob_valid(void) {
        g_assert_cmpint(match_glob_valid("1-1"), ==, 0);
        g_assert_cmpint(match_glob_valid("1-[0-9]*"), ==, 0);
        g_assert_cmpint(match_glob_valid("[]]"), ==, 0);
        g_assert_cmpint(match_glob_valid("[!a]"), ==, 0);
        g_assert_cmpint(match_glob_valid("a\\["), ==, 0);
        g_assert_cmpint(match_glob_valid("port=["), ==, -EINVAL);
        g_assert_cmpint(match_glob_valid("1-[0-9"), ==, -EINVAL);
        g_assert_cmpint(match_glob_valid("abc\\"), ==, -EINVAL);
        /* a ']' right after '[' (or after its '!' or '^') is a member of the set, not its end */
        g_assert_cmpint(match_glob_valid("[]"), ==, -EINVAL);
        g_assert_cmpint(match_glob_valid("[!]"), ==, -EINVAL);
        g_assert_cmpint(match_glob_valid("[^]"), ==, -EINVAL);
        g_assert_cmpint(match_glob_valid("[!]]"), ==, 0);
        g_assert_cmpint(match_glob_valid("[^]]"), ==, 0);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/core/match/table", test_table);
        g_test_add_func("/core/match/specs", test_specs_from_options);
        g_test_add_func("/core/match/glob-valid", test_glob_valid);
        return test_run();
}
