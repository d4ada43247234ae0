/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Image model: insertion order, coalescing, overlaps, merging, format names, detection, SHA-256. */
#include <errno.h>

#include "image-test.h"
#include "test-main.h"

static void test_add_keeps_order(void) {
        _cleanup_(image_freep) Image *image = image_new("t");
        const uint8_t a[4] = {1, 2, 3, 4}, b[2] = {5, 6}, c[3] = {7, 8, 9};

        g_assert_cmpint(image_add_segment(image, 0x100, a, 4, "a", -1, NULL), ==, 0);
        g_assert_cmpint(image_add_segment(image, 0x10, b, 2, "b", -1, NULL), ==, 0);
        g_assert_cmpint(image_add_segment(image, 0x80, c, 3, "c", -1, NULL), ==, 0);
        g_assert_cmpint(image_add_segment(image, 0x200, c, 0, "empty", -1, NULL), ==, 0);

        g_assert_cmpuint(image->n_segments, ==, 3);
        assert_segment(image, 0, 0x10, b, 2);
        assert_segment(image, 1, 0x80, c, 3);
        assert_segment(image, 2, 0x100, a, 4);
        g_assert_cmpstr(image->segments[1].source, ==, "c");
        g_assert_cmpuint(image_total_size(image), ==, 9);
}

static void test_coalesce_same_source(void) {
        _cleanup_(image_freep) Image *image = image_new("t");
        const uint8_t d[8] = {0, 1, 2, 3, 4, 5, 6, 7};

        /* Inserted out of order; the middle piece joins both neighbours. */
        g_assert_cmpint(image_add_segment(image, 0x1000, d, 2, "x", -1, NULL), ==, 0);
        g_assert_cmpint(image_add_segment(image, 0x1004, d + 4, 4, "x", -1, NULL), ==, 0);
        g_assert_cmpuint(image->n_segments, ==, 2);
        g_assert_cmpint(image_add_segment(image, 0x1002, d + 2, 2, "x", -1, NULL), ==, 0);
        g_assert_cmpuint(image->n_segments, ==, 1);
        assert_segment(image, 0, 0x1000, d, 8);

        /* Adjacent but from another source or another alternate setting: stays separate. */
        g_assert_cmpint(image_add_segment(image, 0x1008, d, 2, "y", -1, NULL), ==, 0);
        g_assert_cmpint(image_add_segment(image, 0x100A, d, 2, "y", 1, NULL), ==, 0);
        g_assert_cmpuint(image->n_segments, ==, 3);
}

static void test_overlap_agree(void) {
        _cleanup_(image_freep) Image *image = image_new("t");
        const uint8_t d[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

        g_assert_cmpint(image_add_segment(image, 0x104, d + 4, 4, "first", -1, NULL), ==, 0);
        /* Covers the first one and more on both sides, same bytes where they meet. */
        g_assert_cmpint(image_add_segment(image, 0x100, d, 16, "second", -1, NULL), ==, 0);
        g_assert_cmpuint(image->n_segments, ==, 3);
        assert_segment(image, 0, 0x100, d, 4);
        assert_segment(image, 1, 0x104, d + 4, 4);
        assert_segment(image, 2, 0x108, d + 8, 8);
        g_assert_cmpstr(image->segments[1].source, ==, "first");
        g_assert_cmpstr(image->segments[2].source, ==, "second");
        g_assert_cmpuint(image_total_size(image), ==, 16);
}

static void test_overlap_disagree(void) {
        _cleanup_(image_freep) Image *image = image_new("t");
        const uint8_t a[8] = {0, 1, 2, 3, 4, 5, 6, 7}, b[8] = {2, 3, 0xAA, 0xBB, 6, 7, 8, 9};
        DfuError error = DFU_ERROR_INIT;

        g_assert_cmpint(image_add_segment(image, 0x08000000, a, 8, "cm7.hex", -1, NULL), ==, 0);
        g_assert_cmpint(image_add_segment(image, 0x08000002, b, 8, "cm4.hex", -1, &error), ==, -EINVAL);
        g_assert_nonnull(strstr(error.message, "0x08000004-0x08000005"));
        g_assert_nonnull(strstr(error.message, "cm7.hex"));
        g_assert_nonnull(strstr(error.message, "cm4.hex"));
        /* Nothing was added. */
        g_assert_cmpuint(image->n_segments, ==, 1);
        g_assert_cmpuint(image_total_size(image), ==, 8);
}

static void test_address_space_end(void) {
        _cleanup_(image_freep) Image *image = image_new("t");
        const uint8_t d[4] = {1, 2, 3, 4};
        DfuError error = DFU_ERROR_INIT;

        g_assert_cmpint(image_add_segment(image, 0xFFFFFFFC, d, 4, "top", -1, NULL), ==, 0);
        g_assert_cmpint(image_add_segment(image, 0xFFFFFFFE, d + 2, 2, "top2", -1, NULL), ==, 0);
        g_assert_cmpint(image_add_segment(image, 0xFFFFFFFE, d, 4, "over", -1, &error), ==, -EINVAL);
        g_assert_nonnull(strstr(error.message, "0xFFFFFFFE"));
}

static void test_merge(void) {
        _cleanup_(image_freep) Image *cm7 = image_new("cm7.hex");
        _cleanup_(image_freep) Image *cm4 = image_new("cm4.hex");
        _cleanup_(image_freep) Image *bad = image_new("bad.hex");
        const uint8_t a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[2] = {3, 9};
        DfuError error = DFU_ERROR_INIT;

        g_assert_cmpint(image_add_segment(cm7, 0x08000000, a, 4, "cm7.hex", -1, NULL), ==, 0);
        cm7->has_entry = false;
        g_assert_cmpint(image_add_segment(cm4, 0x08100000, b, 4, "cm4.hex", -1, NULL), ==, 0);
        g_assert_cmpint(image_add_segment(cm4, 0x08000002, a + 2, 2, "cm4.hex", -1, NULL), ==, 0);
        cm4->has_entry = true;
        cm4->entry = 0x08100001;

        g_assert_cmpint(image_merge(cm7, cm4, &error), ==, 0);
        g_assert_cmpuint(cm7->n_segments, ==, 2);
        g_assert_cmpuint(image_total_size(cm7), ==, 8);
        g_assert_true(cm7->has_entry);
        g_assert_cmphex(cm7->entry, ==, 0x08100001);

        g_assert_cmpint(image_add_segment(bad, 0x08000002, c, 2, "bad.hex", -1, NULL), ==, 0);
        g_assert_cmpint(image_add_segment(bad, 0x09000000, c, 2, "bad.hex", -1, NULL), ==, 0);
        g_assert_cmpint(image_merge(cm7, bad, &error), ==, -EINVAL);
        g_assert_nonnull(strstr(error.message, "0x08000003-0x08000003"));
        g_assert_nonnull(strstr(error.message, "cm7.hex"));
        g_assert_nonnull(strstr(error.message, "bad.hex"));
        /* A failed merge changes nothing, not even the part that would have fit. */
        g_assert_cmpuint(cm7->n_segments, ==, 2);
        g_assert_cmpuint(image_total_size(cm7), ==, 8);
}

static void test_format_names(void) {
        for (ImageFormat f = IMAGE_FORMAT_IHEX; f < _IMAGE_FORMAT_MAX; f++)
                g_assert_cmpint(image_format_from_string(image_format_to_string(f)), ==, f);
        g_assert_cmpint(image_format_from_string("HEX"), ==, IMAGE_FORMAT_IHEX);
        g_assert_cmpint(image_format_from_string("bin"), ==, IMAGE_FORMAT_BINARY);
        g_assert_cmpint(image_format_from_string("zip"), ==, IMAGE_FORMAT_UNKNOWN);
        g_assert_cmpint(image_format_from_string(NULL), ==, IMAGE_FORMAT_UNKNOWN);
        g_assert_null(image_format_to_string(_IMAGE_FORMAT_MAX));
}

static void test_detect(void) {
        static const struct {
                const char *content;
                size_t len;
                ImageFormat expected;
        } cases[] = {
                {"\x7f"
                 "ELF\x01\x01",
                 6, IMAGE_FORMAT_ELF},
                {"DfuSe\x01", 6, IMAGE_FORMAT_DFUSE},
                {":10000000", 9, IMAGE_FORMAT_IHEX},
                {"\r\n\n:00000001FF", 14, IMAGE_FORMAT_IHEX},
                {"\xEF\xBB\xBF:00000001FF", 14, IMAGE_FORMAT_IHEX},
                {"S00600004844521B", 16, IMAGE_FORMAT_SREC},
                {"S9030000FC", 10, IMAGE_FORMAT_SREC},
                {"SX", 2, IMAGE_FORMAT_BINARY},
                {"\x00\x00\x02\x20\x09\x01\x00\x08", 8, IMAGE_FORMAT_BINARY},
                {"\x7f"
                 "EL",
                 3, IMAGE_FORMAT_BINARY},
                {"DfuS", 4, IMAGE_FORMAT_BINARY},
                {"x", 1, IMAGE_FORMAT_BINARY},
                {"", 0, IMAGE_FORMAT_UNKNOWN},
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
                g_assert_cmpint(image_detect_format((const uint8_t *)cases[i].content, cases[i].len), ==,
                                cases[i].expected);
}

static void test_sha256(void) {
        char hex[65];
        g_assert_cmpint(sha256_hex((const uint8_t *)"abc", 3, hex), ==, 0);
        g_assert_cmpstr(hex, ==, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        g_assert_cmpint(sha256_hex(NULL, 0, hex), ==, 0);
        g_assert_cmpstr(hex, ==, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/image/add-keeps-order", test_add_keeps_order);
        g_test_add_func("/image/coalesce-same-source", test_coalesce_same_source);
        g_test_add_func("/image/overlap-agree", test_overlap_agree);
        g_test_add_func("/image/overlap-disagree", test_overlap_disagree);
        g_test_add_func("/image/address-space-end", test_address_space_end);
        g_test_add_func("/image/merge", test_merge);
        g_test_add_func("/image/format-names", test_format_names);
        g_test_add_func("/image/detect", test_detect);
        g_test_add_func("/image/sha256", test_sha256);
        return test_run();
}
