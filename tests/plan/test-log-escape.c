/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "log.h"
#include <glib.h>

static void test_escapes(void) {
        static const struct {
                const char *in, *want;
        } cases[] = {
                {"plain text", "plain text"},
                {"X\n<2>FORGED", "X\\n<2>FORGED"},
                {"a\r\nb", "a\\r\\nb"},
                {"tab\there", "tab\\there"},
                {"\x1b[31mred", "\\x1b[31mred"},
                {"\x01\x1f\x7f", "\\x01\\x1f\\x7f"},
                {"Grüße ✓", "Grüße ✓"}, /* UTF-8 stays as it is */
                {"", ""},
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                char out[64];
                size_t n = log_escape(cases[i].in, out, sizeof(out));
                g_assert_cmpstr(out, ==, cases[i].want);
                g_assert_cmpuint(n, ==, strlen(cases[i].want));
        }
}

static void test_truncates_whole_escapes(void) {
        char out[6];

        /* "ab\x1b" needs 6 bytes plus the NUL: the escape is left out, not cut in half. */
        g_assert_cmpuint(log_escape("ab\x1b", out, sizeof(out)), ==, 2);
        g_assert_cmpstr(out, ==, "ab");
        g_assert_cmpuint(log_escape("abcdefgh", out, sizeof(out)), ==, 5);
        g_assert_cmpstr(out, ==, "abcde");
        g_assert_cmpuint(log_escape("x", out, 0), ==, 0);
}

/* Every line written has exactly one priority prefix and one line end. */
static void test_log_line_is_one_line(void) {
        if (g_test_subprocess()) {
                log_set_max_level(LOG_LEVEL_DEBUG);
                log_warning("serial %s", "X\n<2>FORGED\r\n<0>again");
                return;
        }
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        g_test_trap_assert_stderr("<4>serial X\\n<2>FORGED\\r\\n<0>again\n");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/log/escapes", test_escapes);
        g_test_add_func("/log/truncates-whole-escapes", test_truncates_whole_escapes);
        g_test_add_func("/log/one-line", test_log_line_is_one_line);
        return g_test_run();
}
