/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Intel HEX: every record type, addressing modes, tolerated variations, every error and its place. */
#include <errno.h>
#include <unistd.h>

#include "image-test.h"
#include "test-main.h"

static const uint8_t seq[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

static void test_linear(void) {
        g_autoptr(GString) s = g_string_new(NULL);
        const uint8_t ext[2] = {0x08, 0x00}, start[4] = {0x08, 0x00, 0x01, 0x99};

        ihex_record(s, 0x04, 0, ext, 2);
        ihex_record(s, 0x00, 0x0000, seq, 16);
        ihex_record(s, 0x00, 0x0010, seq + 16, 16);
        ihex_record(s, 0x00, 0x0100, seq, 4); /* a gap: a second segment */
        ihex_record(s, 0x05, 0, start, 4);
        ihex_record(s, 0x01, 0, NULL, 0);

        _cleanup_(image_freep) Image *image = load_text(s->str, "app.hex", NULL);
        g_assert_cmpint(image->format, ==, IMAGE_FORMAT_IHEX);
        g_assert_cmpuint(image->n_segments, ==, 2);
        assert_segment(image, 0, 0x08000000, seq, 32);
        assert_segment(image, 1, 0x08000100, seq, 4);
        g_assert_cmpstr(image->segments[0].source, ==, "app.hex");
        g_assert_cmpint(image->segments[0].alt_setting, ==, -1);
        g_assert_true(image->has_entry);
        g_assert_cmphex(image->entry, ==, 0x08000199);
}

static void test_segmented(void) {
        g_autoptr(GString) s = g_string_new(NULL);
        const uint8_t seg[2] = {0x10, 0x00}, start[4] = {0x12, 0x34, 0x00, 0x10};
        ihex_record(s, 0x02, 0, seg, 2);
        ihex_record(s, 0x00, 0x0010, seq, 8);
        /* Runs past the end of the 64 KiB segment: continues at its start, like the 8086 did. */
        ihex_record(s, 0x00, 0xFFFC, seq, 8);
        ihex_record(s, 0x03, 0, start, 4);
        ihex_record(s, 0x01, 0, NULL, 0);

        _cleanup_(image_freep) Image *image = load_text(s->str, "seg.hex", NULL);
        g_assert_cmpuint(image->n_segments, ==, 3);
        assert_segment(image, 0, 0x10000, seq + 4, 4);
        assert_segment(image, 1, 0x10010, seq, 8);
        assert_segment(image, 2, 0x1FFFC, seq, 4);
        g_assert_true(image->has_entry);
        g_assert_cmphex(image->entry, ==, 0x12340 + 0x10);
}

static void test_variations(void) {
        /* CRLF, lower case, records out of address order, blank lines at the end, a BOM. */
        const char *text = "\xEF\xBB\xBF"
                           ":0400100004050607D6\r\n"
                           ":0400000000010203F6\r\n"
                           ":04000c00aabbccdde2\r\n"
                           ":0400080008090a0bce\r\n"
                           ":00000001ff\r\n"
                           "\r\n\n  \n";
        const uint8_t expect[] = {8, 9, 10, 11, 0xAA, 0xBB, 0xCC, 0xDD, 4, 5, 6, 7};
        _cleanup_(image_freep) Image *image = load_text(text, "mixed.hex", NULL);
        g_assert_cmpuint(image->n_segments, ==, 2);
        assert_segment(image, 0, 0, seq, 4);
        assert_segment(image, 1, 8, expect, sizeof(expect));
}

static void test_only_eof(void) {
        _cleanup_(image_freep) Image *image = load_text(":00000001FF\n", "empty.hex", NULL);
        g_assert_cmpuint(image->n_segments, ==, 0);
        g_assert_false(image->has_entry);
}

static void test_overlap_in_file(void) {
        g_autoptr(GString) s = g_string_new(NULL);
        uint8_t other[8];
        memcpy(other, seq + 4, 8);
        ihex_record(s, 0x00, 0x0000, seq, 16);
        ihex_record(s, 0x00, 0x0004, seq + 4, 8); /* the same bytes again: fine */
        ihex_record(s, 0x01, 0, NULL, 0);
        _cleanup_(image_freep) Image *image = load_text(s->str, "dup.hex", NULL);
        g_assert_cmpuint(image->n_segments, ==, 1);
        assert_segment(image, 0, 0, seq, 16);

        g_string_truncate(s, 0);
        ihex_record(s, 0x00, 0x0000, seq, 16);
        ihex_record(s, 0x00, 0x0020, seq, 16);
        other[2] = 0xEE;
        ihex_record(s, 0x00, 0x0004, other, 8);
        ihex_record(s, 0x01, 0, NULL, 0);
        expect_text_error(s->str, "dup.hex", "dup.hex: line 3:", "0x00000006-0x00000006", "line 1");
}

static void test_errors(void) {
        expect_text_error(":00000001FF\n:0400000000010203F6\n", "app.hex",
                          "app.hex: line 2: data after the end", "line 1");
        expect_text_error(":0400000000010203F6\n", "app.hex", "app.hex: no end-of-file record",
                          "after line 1");
        expect_text_error(":0400000000010203F6\n:04000400000102030F\n:00000001FF\n", "app.hex",
                          "app.hex: line 2: checksum 0x0F, expected 0xF2");
        expect_text_error(":0400000000010203F6\n:0400000000010203F5\n", "app.hex",
                          "app.hex: line 2: checksum 0xF5, expected 0xF6");
        expect_text_error(":04000000000G0203F6\n", "app.hex", "app.hex: line 1: column 13:", "hex digit",
                          "'G'");
        expect_text_error(":0400000000010203\n", "app.hex",
                          "app.hex: line 1: byte count 0x04 needs 18 hex digits", "found 16");
        expect_text_error(":0400000000010203F6AA\n", "app.hex", "line 1: byte count 0x04", "found 20");
        expect_text_error(":0000000600FA\n", "app.hex", "line 1: byte count");
        expect_text_error(":00000006FA\n:00000001FF\n", "app.hex",
                          "app.hex: line 1: unknown record type 06");
        expect_text_error(":0100000401FA\n:00000001FF\n", "app.hex",
                          "app.hex: line 1: record type 04 with 1 data", "expected 2");
        expect_text_error(":0100000100FE\n", "app.hex",
                          "line 1: record type 01 with 1 data bytes, expected 0");
        expect_text_error(":020000050000F9\n", "app.hex",
                          "line 1: record type 05 with 2 data bytes, expected 4");
        expect_text_error(":0400000000010203F6\n 0400\n", "app.hex",
                          "app.hex: line 2: column 1: expected ':'");
        expect_text_error(":0400000000010203F6\n:\n", "app.hex", "app.hex: line 2: record too short");
        expect_text_error(":0\n", "app.hex", "app.hex: line 1: record too short");
        /* Linear address 0xFFFF0000 + 0xFFFE + 4 bytes: past 4 GiB. */
        expect_text_error(":02000004FFFFFC\n:04FFFE0000010203F9\n:00000001FF\n", "top.hex",
                          "top.hex: line 2:", "0xFFFFFFFE", "32-bit address space");
}

/* n one-byte records at every second address from 0x08000000, in the given order. */
static char *sparse_hex(size_t n, bool descending) {
        GString *s = g_string_new(NULL);
        unsigned hi = 0x10000;

        for (size_t k = 0; k < n; k++) {
                size_t i = descending ? n - 1 - k : k;
                uint32_t a = 0x08000000 + 2 * (uint32_t)i;
                if (a >> 16 != hi) {
                        hi = a >> 16;
                        g_string_append_printf(s, ":02000004%04X%02X\n", hi,
                                               (uint8_t) - (2 + 4 + (hi >> 8) + (hi & 0xFF)));
                }
                uint8_t sum = (uint8_t)(1 + (a >> 8 & 0xFF) + (a & 0xFF) + (i & 0xFF));
                g_string_append_printf(s, ":01%04X00%02X%02X\n", a & 0xFFFF, (unsigned)(i & 0xFF),
                                       (uint8_t)-sum);
        }
        g_string_append(s, ":00000001FF\n");
        return g_string_free(s, FALSE);
}

/* The segment cap counts segments after joining: at the cap an image loads, one more is refused. */
static void test_segment_cap(void) {
        g_autofree char *at_cap = sparse_hex(IMAGE_SEGMENT_CAP, false);
        Image *image = load_text(at_cap, "cap.hex", NULL);
        g_assert_cmpuint(image->n_segments, ==, IMAGE_SEGMENT_CAP);
        g_assert_cmpuint(image_total_size(image), ==, IMAGE_SEGMENT_CAP);
        image_free(image);

        g_autofree char *over = sparse_hex(IMAGE_SEGMENT_CAP + 1, true);
        expect_text_error(over, "over.hex", "over.hex: more than 65536 separate segments", "65537");

        /* Records out of order that end up adjacent are one segment, however many there were. */
        GString *s = g_string_new(":020000040800F2\n");
        for (int i = 0x7FFF; i >= 0; i--)
                g_string_append_printf(s, ":01%04X00AA%02X\n", (unsigned)i * 2,
                                       (uint8_t) - (1 + ((i * 2) >> 8) + ((i * 2) & 0xFF) + 0xAA));
        for (int i = 0; i < 0x8000; i++)
                g_string_append_printf(s, ":01%04X00BB%02X\n", (unsigned)i * 2 + 1,
                                       (uint8_t) - (1 + ((i * 2 + 1) >> 8) + ((i * 2 + 1) & 0xFF) + 0xBB));
        g_string_append(s, ":00000001FF\n");
        g_autofree char *joined = g_string_free(s, FALSE);
        image = load_text(joined, "joined.hex", NULL);
        g_assert_cmpuint(image->n_segments, ==, 1);
        g_assert_cmpuint(image->segments[0].size, ==, 0x10000);
        g_assert_cmphex(image->segments[0].data[0], ==, 0xAA);
        g_assert_cmphex(image->segments[0].data[0xFFFF], ==, 0xBB);
        image_free(image);
}

static void test_write_round_trip(void) {
        g_autoptr(GRand) rand = g_rand_new_with_seed(1);

        for (unsigned round = 0; round < 20; round++) {
                _cleanup_(image_freep) Image *image =
                        random_image(rand, round % 7 + 1, 0x07FF0000 + round * 1000);
                image->has_entry = round % 2;
                image->entry = 0x08000101 + round;

                _cleanup_(image_freep) Image *back = write_and_reload(image, image_write_ihex, NULL);
                g_assert_cmpint(back->format, ==, IMAGE_FORMAT_IHEX);
                assert_same_bytes(image, back);
                g_assert_cmpint(back->has_entry, ==, image->has_entry);
                if (image->has_entry)
                        g_assert_cmphex(back->entry, ==, image->entry);
        }
}

static void test_write_format(void) {
        _cleanup_(image_freep) Image *image = image_new("w");
        g_assert_cmpint(image_add_segment(image, 0x0800FFF8, seq, 20, "w", -1, NULL), ==, 0);
        FILE *f = tmpfile();
        g_assert_cmpint(image_write_ihex(image, fileno(f), NULL), ==, 0);
        char text[512] = {};
        g_assert_cmpint(pread(fileno(f), text, sizeof(text) - 1, 0), >, 0);
        fclose(f);
        /* A record never crosses a 64 KiB boundary, and a type 04 record announces each window. */
        g_assert_cmpstr(text, ==,
                        ":020000040800F2\n"
                        ":08FFF8000001020304050607E5\n"
                        ":020000040801F1\n"
                        ":0C00000008090A0B0C0D0E0F1011121352\n"
                        ":00000001FF\n");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/ihex/linear", test_linear);
        g_test_add_func("/ihex/segmented", test_segmented);
        g_test_add_func("/ihex/variations", test_variations);
        g_test_add_func("/ihex/only-eof", test_only_eof);
        g_test_add_func("/ihex/overlap-in-file", test_overlap_in_file);
        g_test_add_func("/ihex/errors", test_errors);
        g_test_add_func("/ihex/segment-cap", test_segment_cap);
        g_test_add_func("/ihex/write-round-trip", test_write_round_trip);
        g_test_add_func("/ihex/write-format", test_write_format);
        return test_run();
}
