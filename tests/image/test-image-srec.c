/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Motorola S-records: header, three address widths, counts, start addresses, errors with lines. */
#include <errno.h>

#include "image-test.h"
#include "test-main.h"

static const uint8_t seq[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static void srec_record(GString *s, unsigned type, uint32_t address, const void *data, size_t n) {
        static const unsigned widths[10] = {2, 2, 3, 4, 0, 2, 3, 4, 3, 2};
        const uint8_t *d = data;
        unsigned w = widths[type];
        uint8_t sum = (uint8_t)(n + w + 1);

        g_string_append_printf(s, "S%u%02zX", type, n + w + 1);
        for (unsigned i = w; i-- > 0;) {
                uint8_t b = (uint8_t)(address >> (8 * i));
                g_string_append_printf(s, "%02X", b);
                sum += b;
        }
        for (size_t i = 0; i < n; i++) {
                g_string_append_printf(s, "%02X", d[i]);
                sum += d[i];
        }
        g_string_append_printf(s, "%02X\n", (uint8_t)~sum);
}

static void test_widths(void) {
        g_autoptr(GString) s = g_string_new(NULL);
        srec_record(s, 0, 0, "HDR", 3);
        srec_record(s, 1, 0x1000, seq, 8);
        srec_record(s, 2, 0x123456, seq, 4);
        srec_record(s, 3, 0x08000008, seq + 8, 8);
        srec_record(s, 3, 0x08000000, seq, 8);
        srec_record(s, 5, 4, NULL, 0);
        srec_record(s, 7, 0x08000101, NULL, 0);

        _cleanup_(image_freep) Image *image = load_text(s->str, "app.srec", NULL);
        g_assert_cmpint(image->format, ==, IMAGE_FORMAT_SREC);
        g_assert_cmpuint(image->n_segments, ==, 3);
        assert_segment(image, 0, 0x1000, seq, 8);
        assert_segment(image, 1, 0x123456, seq, 4);
        assert_segment(image, 2, 0x08000000, seq, 16);
        g_assert_cmpstr(image->segments[2].source, ==, "app.srec");
        g_assert_true(image->has_entry);
        g_assert_cmphex(image->entry, ==, 0x08000101);
}

static void test_terminations(void) {
        for (unsigned type = 7; type <= 9; type++) {
                g_autoptr(GString) s = g_string_new(NULL);
                srec_record(s, 1, 0x0100, seq, 4);
                srec_record(s, 6, 1, NULL, 0);
                srec_record(s, type, 0x1234, NULL, 0);
                g_string_append(s, "\r\n\r\n");
                _cleanup_(image_freep) Image *image = load_text(s->str, "t.s19", NULL);
                g_assert_cmpuint(image->n_segments, ==, 1);
                g_assert_cmphex(image->entry, ==, 0x1234);
        }
}

static void test_errors(void) {
        g_autoptr(GString) s = g_string_new(NULL);

        srec_record(s, 1, 0x0100, seq, 4);
        srec_record(s, 5, 2, NULL, 0);
        srec_record(s, 9, 0, NULL, 0);
        expect_text_error(s->str, "app.srec", "app.srec: line 2: S5 says 2 data records, but 1 precede it");

        g_string_truncate(s, 0);
        srec_record(s, 1, 0x0100, seq, 4);
        expect_text_error(s->str, "app.srec", "app.srec: no termination record", "after line 1");

        g_string_truncate(s, 0);
        srec_record(s, 9, 0, NULL, 0);
        srec_record(s, 1, 0x0100, seq, 4);
        expect_text_error(s->str, "app.srec",
                          "app.srec: line 2: data after the termination record at line 1");

        expect_text_error("S107010000010203EE\nS9030000FC\n", "app.srec",
                          "app.srec: line 1: checksum 0xEE, expected 0xF1");
        expect_text_error("S1070100000102F1\nS9030000FC\n", "app.srec",
                          "app.srec: line 1: byte count 0x07 needs 16 hex digits", "found 14");
        expect_text_error("S10701000001Z203F1\nS9030000FC\n", "app.srec",
                          "app.srec: line 1: column 13:", "hex digit", "'Z'");
        expect_text_error("S4030000FC\nS9030000FC\n", "app.srec",
                          "line 1: column 2: expected a record type");
        expect_text_error("S107010000010203F1\nX9030000FC\n", "app.srec", "line 2: column 1: expected 'S'");
        expect_text_error("S3020000\nS9030000FC\n", "app.srec",
                          "line 1: byte count 0x02 is too small for an S3");
        expect_text_error("S1\n", "app.srec", "line 1: record too short");
        expect_text_error("S309FFFFFFFE00010203F5\nS9030000FC\n", "app.srec", "line 1:", "0xFFFFFFFE",
                          "32-bit address space");
}

static void test_peer_file(void) {
        /* Written by srec_cat 1.64 from a two-segment .hex; kept verbatim as a fixture. */
        g_autofree char *path = g_build_filename(IMAGE_TEST_DIR, "fixtures", "two-segments.srec", NULL);
        DfuError error = DFU_ERROR_INIT;
        _cleanup_(image_freep) Image *image = NULL;
        g_assert_cmpint(image_load_path(path, NULL, &image, &error), ==, 0);
        uint8_t first[40];
        for (unsigned i = 0; i < sizeof(first); i++)
                first[i] = (uint8_t)i;
        g_assert_cmpuint(image->n_segments, ==, 2);
        assert_segment(image, 0, 0x08000000, first, sizeof(first));
        assert_segment(image, 1, 0x08020000, "\xDE\xAD\xBE", 3);
        /* S7: the 32-bit start address. */
        g_assert_true(image->has_entry);
        g_assert_cmphex(image->entry, ==, 0x08000099);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/srec/widths", test_widths);
        g_test_add_func("/srec/terminations", test_terminations);
        g_test_add_func("/srec/errors", test_errors);
        g_test_add_func("/srec/peer-file", test_peer_file);
        return test_run();
}
