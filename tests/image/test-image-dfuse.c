/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DfuSe containers and raw binaries (with or without a plain DFU suffix). */
#include <errno.h>
#include <unistd.h>
#include <zlib.h>

#include "image-test.h"
#include "test-main.h"

static const uint8_t seq[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static void put32(GByteArray *b, uint32_t v) {
        uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
        g_byte_array_append(b, le, 4);
}

static void put16(GByteArray *b, uint16_t v) {
        uint8_t le[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
        g_byte_array_append(b, le, 2);
}

/* Fixes DFUImageSize and the suffix CRC after a test changed the file on purpose. */
static void fix_sizes(GByteArray *b) {
        uint32_t body = b->len - 16, crc;
        for (unsigned i = 0; i < 4; i++)
                b->data[6 + i] = (uint8_t)(body >> (8 * i));
        crc = ~(uint32_t)crc32(0, b->data, b->len - 4);
        for (unsigned i = 0; i < 4; i++)
                b->data[b->len - 4 + i] = (uint8_t)(crc >> (8 * i));
}

static void add_suffix(GByteArray *b, uint16_t bcd_dfu) {
        put16(b, 0x2200);
        put16(b, 0xDF11);
        put16(b, 0x0483);
        put16(b, bcd_dfu);
        g_byte_array_append(b, (const uint8_t *)"UFD\x10", 4);
        put32(b, 0);
}

/* Two targets: alt 0 with two elements, alt 1 (option bytes) with one. */
static GByteArray *two_targets(void) {
        GByteArray *b = g_byte_array_new();
        uint8_t name[255] = "Internal Flash";

        g_byte_array_append(b, (const uint8_t *)"DfuSe\x01", 6);
        put32(b, 0);
        g_byte_array_append(b, (const uint8_t *)"\x02", 1);

        g_byte_array_append(b, (const uint8_t *)"Target\x00", 7);
        put32(b, 1);
        g_byte_array_append(b, name, sizeof(name));
        put32(b, 8 + 16 + 8 + 4);
        put32(b, 2);
        put32(b, 0x08000000);
        put32(b, 16);
        g_byte_array_append(b, seq, 16);
        put32(b, 0x08004000);
        put32(b, 4);
        g_byte_array_append(b, seq, 4);

        g_byte_array_append(b, (const uint8_t *)"Target\x01", 7);
        put32(b, 0);
        memset(name, 0, sizeof(name));
        g_byte_array_append(b, name, sizeof(name));
        put32(b, 8 + 2);
        put32(b, 1);
        put32(b, 0x1FFFC000);
        put32(b, 2);
        g_byte_array_append(b, (const uint8_t *)"\xAA\xBB", 2);

        add_suffix(b, 0x011A);
        fix_sizes(b);
        return b;
}

static void test_read(void) {
        g_autoptr(GByteArray) b = two_targets();
        DfuError error = DFU_ERROR_INIT;
        _cleanup_(image_freep) Image *image = NULL;

        g_assert_cmpint(image_load_buffer(b->data, b->len, "fw.dfu", NULL, &image, &error), ==, 0);
        g_assert_cmpint(image->format, ==, IMAGE_FORMAT_DFUSE);
        g_assert_cmpuint(image->n_segments, ==, 3);
        assert_segment(image, 0, 0x08000000, seq, 16);
        assert_segment(image, 1, 0x08004000, seq, 4);
        assert_segment(image, 2, 0x1FFFC000, "\xAA\xBB", 2);
        g_assert_cmpstr(image->segments[1].source, ==, "fw.dfu:target 0 element 1");
        g_assert_cmpint(image->segments[0].alt_setting, ==, 0);
        g_assert_cmpint(image->segments[2].alt_setting, ==, 1);
        g_assert_cmphex(image->suffix_vid, ==, 0x0483);
        g_assert_cmphex(image->suffix_pid, ==, 0xDF11);
        g_assert_cmphex(image->suffix_bcd_device, ==, 0x2200);
}

/* Applies `edit` to a good file, optionally fixes sizes and CRC, and expects every fragment. */
#define expect_edit_error(fix, edit, ...)                                        \
        do {                                                                     \
                g_autoptr(GByteArray) b = two_targets();                         \
                edit;                                                            \
                if (fix)                                                         \
                        fix_sizes(b);                                            \
                expect_load_error(b->data, b->len, "fw.dfu", NULL, __VA_ARGS__); \
        } while (0)

static void test_errors(void) {
        /* Offsets: prefix 0-10, target 0 at 11 (size at 277), elements from 285, target 1 at 321, suffix
         * at 605 (bcdDFU at 611, CRC at 617). */
        expect_edit_error(false, b->data[300] ^= 1, "fw.dfu: offset 617: suffix CRC");
        expect_edit_error(false, b->data[b->len - 7] = 'X', "fw.dfu: offset 605: no DFU suffix");
        expect_edit_error(true, b->data[b->len - 10] = 0x10,
                          "fw.dfu: offset 611: bcdDFU 0x0110, expected 0x011A");
        expect_edit_error(true, b->data[5] = 2, "fw.dfu: offset 5: prefix version 2, expected 1");
        /* A wrong prefix size behind a broken CRC: the suffix is checked first, and named exactly. */
        expect_edit_error(false, (b->data[6] ^= 1, fix_sizes(b), b->data[6] ^= 1, b->data[b->len - 4] = 0),
                          "fw.dfu: offset 617: suffix CRC 0x38D02E00, expected 0x5D631357");
        expect_edit_error(true, b->data[11] = 't',
                          "fw.dfu: offset 11: target 0: signature is not \"Target\"");
        expect_edit_error(true, b->data[321 + 5] = 'X', "fw.dfu: offset 321: target 1: signature");
        expect_edit_error(true, b->data[278] = 0x10,
                          "fw.dfu: offset 277: target 0: size 4132 runs past the suffix (320 bytes left)");
        expect_edit_error(
                true, b->data[289] = 29,
                "fw.dfu: offset 289: target 0 element 0: size 29 runs past the end of the target (28");
        expect_edit_error(true, b->data[281] = 3, "fw.dfu: offset", "target 0 element 2: header runs past");
        expect_edit_error(true, b->data[281] = 1,
                          "fw.dfu: offset 309: target 0: 12 bytes follow its 1 elements");
        expect_edit_error(true, b->data[10] = 1,
                          "fw.dfu: offset 321: 284 bytes after the last of 1 targets");
        expect_edit_error(true, b->data[10] = 3, "fw.dfu: offset 605: target 2: prefix needs 274 bytes");
        expect_edit_error(true, g_byte_array_set_size(b, 20), "fw.dfu: 20 bytes are too short");
        /* An element reaching past 4 GiB. */
        expect_edit_error(
                true, (b->data[285] = 0xF8, b->data[286] = 0xFF, b->data[287] = 0xFF, b->data[288] = 0xFF),
                "fw.dfu: offset 285: target 0 element 0", "0xFFFFFFF8");
}

static void test_image_size_field(void) {
        g_autoptr(GByteArray) b = two_targets();
        b->data[6] ^= 1;
        /* Keep the CRC right so that the size check is what fails. */
        uint32_t crc = ~(uint32_t)crc32(0, b->data, b->len - 4);
        for (unsigned i = 0; i < 4; i++)
                b->data[b->len - 4 + i] = (uint8_t)(crc >> (8 * i));
        expect_load_error(b->data, b->len, "fw.dfu", NULL, "fw.dfu: offset 6: image size 604",
                          "holds 605 bytes before its suffix");
}

static void test_write_round_trip(void) {
        g_autoptr(GRand) rand = g_rand_new_with_seed(2);
        _cleanup_(image_freep) Image *image = random_image(rand, 5, 0x08000000);
        DfuError error = DFU_ERROR_INIT;
        FILE *f = tmpfile();
        _cleanup_(image_freep) Image *back = NULL;

        g_assert_cmpint(
                image_write_dfuse(image, 2, "Internal Flash", 0x0483, 0xDF11, 0x2200, fileno(f), &error), ==,
                0);
        g_assert_cmpint(lseek(fileno(f), 0, SEEK_SET), ==, 0);
        g_assert_cmpint(image_load_fd(fileno(f), "out.dfu", NULL, &back, &error), ==, 0);
        fclose(f);
        assert_same_bytes(image, back);
        for (size_t i = 0; i < back->n_segments; i++)
                g_assert_cmpint(back->segments[i].alt_setting, ==, 2);
        g_assert_cmphex(back->suffix_vid, ==, 0x0483);
        g_assert_cmphex(back->suffix_pid, ==, 0xDF11);
        g_assert_cmphex(back->suffix_bcd_device, ==, 0x2200);
}

static void test_binary(void) {
        ImageLoadOptions opts = {.has_base = true, .base = 0x08000000};
        DfuError error = DFU_ERROR_INIT;
        _cleanup_(image_freep) Image *image = NULL;

        expect_load_error(seq, 16, "fw.bin", NULL,
                          "fw.bin: raw binary needs a base address (--base 0x08000000)");
        g_assert_cmpint(image_load_buffer(seq, 16, "fw.bin", &opts, &image, &error), ==, 0);
        g_assert_cmpint(image->format, ==, IMAGE_FORMAT_BINARY);
        g_assert_cmpuint(image->n_segments, ==, 1);
        assert_segment(image, 0, 0x08000000, seq, 16);
        g_assert_cmpstr(image->segments[0].source, ==, "fw.bin");
        g_assert_false(image->has_entry);

        opts.base = 0xFFFFFFF8;
        expect_load_error(seq, 16, "fw.bin", &opts, "fw.bin: 16 bytes at base 0xFFFFFFF8");
        expect_load_error("", 0, "fw.bin", &opts, "fw.bin: file is empty");
}

static void test_plain_dfu_suffix(void) {
        ImageLoadOptions opts = {.has_base = true, .base = 0x08000000};
        g_autoptr(GByteArray) b = g_byte_array_new();
        DfuError error = DFU_ERROR_INIT;
        _cleanup_(image_freep) Image *image = NULL;

        g_byte_array_append(b, seq, 16);
        add_suffix(b, 0x0100);
        uint32_t crc = ~(uint32_t)crc32(0, b->data, b->len - 4);
        for (unsigned i = 0; i < 4; i++)
                b->data[b->len - 4 + i] = (uint8_t)(crc >> (8 * i));

        g_assert_cmpint(image_detect_format(b->data, b->len), ==, IMAGE_FORMAT_BINARY);
        g_assert_cmpint(image_load_buffer(b->data, b->len, "fw.dfu", &opts, &image, &error), ==, 0);
        g_assert_cmpuint(image->n_segments, ==, 1);
        assert_segment(image, 0, 0x08000000, seq, 16);
        g_assert_cmphex(image->suffix_vid, ==, 0x0483);

        b->data[3] ^= 0x40;
        expect_load_error(b->data, b->len, "fw.dfu", &opts, "fw.dfu: offset 28: suffix CRC");
}

static void test_write_binary(void) {
        _cleanup_(image_freep) Image *image = image_new("gaps");
        const uint8_t expect[10] = {0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0, 1, 2, 3};
        char out[32];
        FILE *f = tmpfile();

        g_assert_cmpint(image_add_segment(image, 0x100, seq, 2, "a", -1, NULL), ==, 0);
        g_assert_cmpint(image_add_segment(image, 0x106, seq, 4, "b", -1, NULL), ==, 0);
        g_assert_cmpint(image_write_binary(image, fileno(f), NULL), ==, 0);
        g_assert_cmpint(pread(fileno(f), out, sizeof(out), 0), ==, 10);
        g_assert_cmpmem(out, 10, expect, 10);
        fclose(f);

        /* Reading it back gives one segment with the gap as 0xFF. */
        ImageLoadOptions opts = {.has_base = true, .base = 0x100};
        _cleanup_(image_freep) Image *back = write_and_reload(image, image_write_binary, &opts);
        g_assert_cmpuint(back->n_segments, ==, 1);
        assert_segment(back, 0, 0x100, expect, 10);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/dfuse/read", test_read);
        g_test_add_func("/dfuse/errors", test_errors);
        g_test_add_func("/dfuse/image-size-field", test_image_size_field);
        g_test_add_func("/dfuse/write-round-trip", test_write_round_trip);
        g_test_add_func("/binary/read", test_binary);
        g_test_add_func("/binary/plain-dfu-suffix", test_plain_dfu_suffix);
        g_test_add_func("/binary/write", test_write_binary);
        return test_run();
}
