/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "patch.h"
#include "test-main.h"
#include <glib.h>

static void render_ok(const char *spec, const char *value, const void *want, size_t n) {
        DfuError e = DFU_ERROR_INIT;
        uint8_t buf[PATCH_WIDTH_MAX];
        Patch p;

        g_assert_cmpint(patch_parse(spec, &p, &e), ==, 0);
        g_assert_cmpuint(p.width, ==, n);
        memset(buf, 0xAA, sizeof(buf));
        g_assert_cmpint(patch_render(&p, value, buf, &e), ==, 0);
        g_assert_cmpmem(buf, n, want, n);
        /* Nothing past the patch's width is touched. */
        g_assert_cmpuint(buf[n], ==, 0xAA);
}

static void render_fails(const char *spec, const char *value, int want, const char *mentions) {
        DfuError e = DFU_ERROR_INIT;
        uint8_t buf[PATCH_WIDTH_MAX];
        Patch p;

        g_assert_cmpint(patch_parse(spec, &p, &e), ==, 0);
        g_assert_cmpint(patch_render(&p, value, buf, &e), ==, want);
        g_assert_nonnull(strstr(e.message, mentions));
}

static void test_integers(void) {
        render_ok("0x08001000:u32le:s", "305419896", "\x78\x56\x34\x12", 4);
        render_ok("0x08001000:u32be:s", "305419896", "\x12\x34\x56\x78", 4);
        render_ok("0x08001000:u32le:s", "4294967295", "\xff\xff\xff\xff", 4);
        render_ok("0x08001000:u32le:s", "0", "\0\0\0\0", 4);
        render_ok("0x08001000:u64le:s", "1", "\1\0\0\0\0\0\0\0", 8);
        render_ok("0x08001000:u64be:s", "1", "\0\0\0\0\0\0\0\1", 8);
        render_ok("0x08001000:u64be:s", "18446744073709551615", "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
        render_ok("0x08001000:u32le:s", "0x10", "\x10\0\0\0", 4);
        /* A list's "0010" is ten, never octal. */
        render_ok("0x08001000:u32le:s", "0010", "\x0a\0\0\0", 4);
        render_fails("0x08001000:u32le:s", "4294967296", -ERANGE, "4294967296");
        render_fails("0x08001000:u64le:s", "18446744073709551616", -ERANGE, "u64le");
        render_fails("0x08001000:u32be:s", "abc", -EINVAL, "not a number");
        render_fails("0x08001000:u32be:s", "-1", -EINVAL, "not a number");
        render_fails("0x08001000:u32be:s", "", -EINVAL, "not a number");
}

static void test_text_numbers(void) {
        render_ok("0x08001000:dec:8:s", "42", "00000042", 8);
        render_ok("0x08001000:dec:3:s", "999", "999", 3);
        render_fails("0x08001000:dec:3:s", "1000", -ERANGE, "4 digits");
        render_ok("0x08001000:hex:4:s", "48879", "BEEF", 4);
        render_ok("0x08001000:hex:6:s", "255", "0000FF", 6);
        render_fails("0x08001000:hex:2:s", "256", -ERANGE, "hex:2");
}

static void test_mac(void) {
        render_ok("0x08001000:mac:s", "1", "\0\0\0\0\0\1", 6);
        render_ok("0x08001000:mac:s", "0x0280E1000001", "\x02\x80\xe1\x00\x00\x01", 6);
        render_ok("0x08001000:mac:s", "281474976710655", "\xff\xff\xff\xff\xff\xff", 6);
        render_ok("0x08001000:mac:s", "02:80:e1:00:00:2A", "\x02\x80\xe1\x00\x00\x2a", 6);
        render_fails("0x08001000:mac:s", "281474976710656", -ERANGE, "48 bits");
        render_fails("0x08001000:mac:s", "02:80:e1:00:00", -EINVAL, "MAC");
}

static void test_bytes_and_str(void) {
        render_ok("0x08001000:bytes:4:s", "DEADbeef", "\xde\xad\xbe\xef", 4);
        render_ok("0x08001000:bytes:3:s", "01-02-03", "\1\2\3", 3);
        render_fails("0x08001000:bytes:4:s", "DEADBE", -ERANGE, "exactly 4 bytes");
        render_fails("0x08001000:bytes:2:s", "DEADBE", -ERANGE, "exactly 2 bytes");
        render_fails("0x08001000:bytes:2:s", "XY00", -EINVAL, "not hex");
        render_ok("0x08001000:str:6:s", "SN-1", "SN-1\0\0", 6);
        render_ok("0x08001000:str:4:s", "SN-1", "SN-1", 4);
        render_fails("0x08001000:str:3:s", "SN-1", -ERANGE, "holds 3");
}

static void test_parse(void) {
        static const char *const bad[] = {
                "0x08001000:u32le",     "08001000:u33le:s",
                "0x100000000:u32le:s",  "0x08001000:dec:s",
                "0x08001000:dec:0:s",   "0x08001000:dec:257:s",
                "0x08001000:u32le:4:s", "0x08001000:u32le:a b",
                "0xFFFFFFFE:u32le:s",   "x:u32le:s",
                "0x08001000:u32le:",
        };
        DfuError e = DFU_ERROR_INIT;
        _cleanup_free_ char *s = NULL;
        Patch p;

        g_assert_cmpint(patch_parse("134221824:dec:10:boards-2_a", &p, &e), ==, 0);
        g_assert_cmpuint(p.address, ==, 0x08001000);
        g_assert_cmpint(p.format, ==, PATCH_DEC);
        g_assert_cmpuint(p.width, ==, 10);
        g_assert_cmpstr(p.sequence, ==, "boards-2_a");
        s = patch_to_string(&p);
        g_assert_cmpstr(s, ==, "0x08001000:dec:10:boards-2_a");
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                e = (DfuError)DFU_ERROR_INIT;
                g_assert_cmpint(patch_parse(bad[i], &p, &e), <, 0);
                g_assert_cmpstr(e.message, !=, "");
        }
        g_assert_true(sequence_name_is_valid("a"));
        g_assert_false(sequence_name_is_valid(""));
        g_assert_false(sequence_name_is_valid("a.b"));
        g_assert_false(
                sequence_name_is_valid("0123456789012345678901234567890123456789012345678901234567890123X"));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/patch/integers", test_integers);
        g_test_add_func("/patch/text-numbers", test_text_numbers);
        g_test_add_func("/patch/mac", test_mac);
        g_test_add_func("/patch/bytes-and-str", test_bytes_and_str);
        g_test_add_func("/patch/parse", test_parse);
        return test_run();
}
