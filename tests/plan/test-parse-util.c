/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>

#include "parse-util.h"
#include "test-main.h"
#include <glib.h>

static void test_accepts(void) {
        static const struct {
                const char *s;
                int base;
                uint64_t max, want;
        } cases[] = {
                {"0", 10, 5, 0},
                {"1024", 10, 1024, 1024},
                {"010", 10, 100, 10},
                {"010", 0, 100, 8},
                {"0x08000000", 0, UINT32_MAX, 0x08000000},
                {"0XfF", 0, 255, 255},
                {"ff", 16, 255, 255},
                {"18446744073709551615", 10, UINT64_MAX, UINT64_MAX},
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                uint64_t v = 12345;

                g_assert_cmpint(parse_uint64(cases[i].s, cases[i].base, cases[i].max, &v), ==, 0);
                g_assert_cmpuint(v, ==, cases[i].want);
        }
}

static void test_rejects(void) {
        static const struct {
                const char *s;
                int base;
                uint64_t max;
                int want;
        } cases[] = {
                {"", 10, UINT64_MAX, -EINVAL},           {"-1", 10, UINT64_MAX, -EINVAL},
                {"-0", 0, UINT64_MAX, -EINVAL},          {"12k", 10, UINT64_MAX, -EINVAL},
                {"0x10", 10, UINT64_MAX, -EINVAL},       {"x", 0, UINT64_MAX, -EINVAL},
                {" ", 0, UINT64_MAX, -EINVAL},           {"1025", 10, 1024, -ERANGE},
                {"0x100000000", 0, UINT32_MAX, -ERANGE}, {"18446744073709551616", 10, UINT64_MAX, -ERANGE},
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                uint64_t v = 12345;

                g_assert_cmpint(parse_uint64(cases[i].s, cases[i].base, cases[i].max, &v), ==,
                                cases[i].want);
                /* A refused string leaves the result alone. */
                g_assert_cmpuint(v, ==, 12345);
        }
        g_assert_cmpint(parse_uint64(NULL, 10, UINT64_MAX, &(uint64_t){0}), ==, -EINVAL);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/parse-util/accepts", test_accepts);
        g_test_add_func("/parse-util/rejects", test_rejects);
        return test_run();
}
