/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A list sequence's file: what is a value, and the caps on the file, a line and the count, each
 * refused with the line it was found on. */
#include <glib.h>
#include <string.h>

#include "sequence-list.h"
#include "strv.h"
#include "test-main.h"

static int parse(const char *data, size_t size, char ***ret, DfuError *why) {
        *why = (DfuError)DFU_ERROR_INIT;
        return sequence_list_parse(data, size, ret, why);
}

static void test_values(void) {
        static const char text[] = "# MACs\r\n\r\n  02:80:E1:00:00:01 \r\n\t# indented comment\n#\n"
                                   "a\tb\n   \t  \nlast";
        _cleanup_strv_free_ char **l = NULL;
        DfuError why;

        g_assert_cmpint(parse(text, sizeof(text) - 1, &l, &why), ==, 0);
        g_assert_cmpuint(strv_length(l), ==, 3);
        g_assert_cmpstr(l[0], ==, "02:80:E1:00:00:01");
        /* A '#' after blanks is still a comment: the line is trimmed first. */
        g_assert_cmpstr(l[1], ==, "a\tb");
        g_assert_cmpstr(l[2], ==, "last");
}

static void test_refused(void) {
        _cleanup_strv_free_ char **l = NULL;
        g_autofree char *long_value = g_strnfill(SEQUENCE_LIST_LINE_MAX + 1, 'v');
        g_autofree char *at_max = g_strnfill(SEQUENCE_LIST_LINE_MAX, 'v');
        DfuError why;

        g_assert_cmpint(parse("", 0, &l, &why), ==, -EINVAL);
        g_assert_cmpstr(why.message, ==, "no values (only blank lines and comments).");
        g_assert_cmpint(parse("a\nb\x01\n", 5, &l, &why), ==, -EINVAL);
        g_assert_cmpstr(why.message, ==, "line 2: a control character.");
        g_assert_cmpint(parse("a\n\nb\0c\n", 7, &l, &why), ==, -EINVAL);
        g_assert_cmpstr(why.message, ==, "line 3: a NUL byte; a list is text.");
        g_assert_cmpint(parse(long_value, strlen(long_value), &l, &why), ==, -EINVAL);
        g_assert_cmpstr(why.message, ==, "line 1: longer than 512 characters.");
        /* The longest value is fine, surrounded by blanks too. */
        g_autofree char *padded = g_strdup_printf("   %s   \n", at_max);
        g_assert_cmpint(parse(padded, strlen(padded), &l, &why), ==, 0);
        g_assert_cmpuint(strlen(l[0]), ==, SEQUENCE_LIST_LINE_MAX);
}

/* A line that never ends, and a file far larger than a list should be: refused, not held. */
static void test_huge(void) {
        size_t size = SEQUENCE_LIST_FILE_MAX;
        g_autofree char *data = g_malloc(size + 1);
        _cleanup_strv_free_ char **l = NULL;
        DfuError why;

        memset(data, 'x', size + 1);
        memcpy(data, "one\ntwo\n", 8);
        g_assert_cmpint(parse(data, size, &l, &why), ==, -EINVAL);
        g_assert_cmpstr(why.message, ==, "line 3: longer than 512 characters.");
        g_assert_cmpint(parse(data, size + 1, &l, &why), ==, -EINVAL);
        g_assert_cmpstr(why.message, ==, "larger than 16777216 bytes.");
}

/* The most values a list may have parse in time linear in their number; one more is refused with its
 * line. */
static void test_count(void) {
        GString *s = g_string_sized_new(8 * SEQUENCE_LIST_VALUES_MAX);
        _cleanup_strv_free_ char **l = NULL;
        DfuError why;

        g_string_append(s, "# header\n");
        for (unsigned i = 0; i < SEQUENCE_LIST_VALUES_MAX; i++)
                g_string_append_printf(s, "%u\n", i);
        g_assert_cmpint(parse(s->str, s->len, &l, &why), ==, 0);
        g_assert_cmpuint(strv_length(l), ==, SEQUENCE_LIST_VALUES_MAX);
        g_assert_cmpstr(l[SEQUENCE_LIST_VALUES_MAX - 1], ==, "999999");
        l = strv_free(l);
        g_string_append(s, "one too many\n");
        g_assert_cmpint(parse(s->str, s->len, &l, &why), ==, -EINVAL);
        g_assert_cmpstr(why.message, ==, "line 1000002: more than 1000000 values.");
        g_string_free(s, TRUE);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/sequence-list/values", test_values);
        g_test_add_func("/sequence-list/refused", test_refused);
        g_test_add_func("/sequence-list/huge", test_huge);
        g_test_add_func("/sequence-list/count", test_count);
        return test_run();
}
