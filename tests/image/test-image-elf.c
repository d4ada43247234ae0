/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ELF32 images built by the real cross toolchain, checked against objcopy's view of the same file. */
#include <errno.h>

#include "image-test.h"
#include "test-main.h"

#ifdef TEST_APP_ELF
static GBytes *read_fixture(void) {
        g_autoptr(GError) e = NULL;
        gchar *data;
        gsize len;
        if (!g_file_get_contents(TEST_APP_ELF, &data, &len, &e))
                g_error("%s", e->message);
        return g_bytes_new_take(data, len);
}
#endif

static void test_sections(void) {
#ifdef TEST_APP_ELF
        DfuError error = DFU_ERROR_INIT;
        _cleanup_(image_freep) Image *image = NULL;
        const uint8_t data_init[8] = {0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66, 0x55};

        g_assert_cmpint(image_load_path(TEST_APP_ELF, NULL, &image, &error), ==, 0);
        g_assert_cmpint(image->format, ==, IMAGE_FORMAT_ELF);
        g_assert_cmpuint(image->n_segments, ==, 3);
        /* .data is placed at its load address in flash, right after .text; .bss adds nothing. */
        g_assert_cmphex(image->segments[0].address, ==, 0x08000000);
        g_assert_cmpuint(image->segments[0].size, ==, 0x10);
        g_assert_true(g_str_has_suffix(image->segments[0].source, "app.elf:.isr_vector,.text"));
        assert_segment(image, 1, 0x08000010, data_init, 8);
        g_assert_true(g_str_has_suffix(image->segments[1].source, "app.elf:.data"));
        assert_segment(image, 2, 0x38000000, "\xBE\xBA\xFE\xCA", 4);
        g_assert_true(g_str_has_suffix(image->segments[2].source, "app.elf:.mailbox"));
        g_assert_true(image->has_entry);
        g_assert_cmphex(image->entry, ==, 0x08000009);
#else
        test_skip("arm-none-eabi binutils not found");
#endif
}

static void test_same_as_objcopy(void) {
#ifdef TEST_APP_ELF
        DfuError error = DFU_ERROR_INIT;
        _cleanup_(image_freep) Image *elf = NULL, *hex = NULL;

        g_assert_cmpint(image_load_path(TEST_APP_ELF, NULL, &elf, &error), ==, 0);
        g_assert_cmpint(image_load_path(TEST_APP_ELF ".hex", NULL, &hex, &error), ==, 0);
        assert_same_content(elf, hex);
        g_assert_cmphex(hex->entry, ==, elf->entry);
#else
        test_skip("arm-none-eabi binutils not found");
#endif
}

static void test_errors(void) {
#ifdef TEST_APP_ELF
        g_autoptr(GBytes) bytes = read_fixture();
        gsize len;
        const uint8_t *orig = g_bytes_get_data(bytes, &len);
        g_autofree uint8_t *b = g_memdup2(orig, len);

        b[4] = 2;
        expect_load_error(b, len, "app.elf", NULL, "app.elf: offset 4: ELF64 is not supported");
        b[4] = 1;
        b[5] = 2;
        expect_load_error(b, len, "app.elf", NULL, "app.elf: offset 5: big-endian ELF is not supported");
        b[5] = 1;
        b[16] = 1; /* e_type = ET_REL */
        expect_load_error(b, len, "app.elf", NULL, "app.elf: a relocatable object file");
        b[16] = 2;
        /* Move the mailbox onto the vectors: the same addresses with other bytes, from two sections. */
        memcpy(b + 52 + 2 * 32 + 12, "\x00\x00\x00\x08", 4);
        expect_load_error(b, len, "app.elf", NULL, "bytes at 0x08000000-0x08000003 differ between",
                          "app.elf:.isr_vector,.text and", "app.elf:.mailbox");
        memcpy(b + 52 + 2 * 32 + 12, "\x00\x00\x00\x38", 4);
        /* Cut inside the first segment's file data. */
        expect_load_error(b, 0x1008, "app.elf", NULL,
                          "app.elf: program header 0: file data at offset 0x1000+0x10",
                          "beyond the end of the file (4104 bytes)");
#else
        test_skip("arm-none-eabi binutils not found");
#endif
        ImageLoadOptions forced = {.format = IMAGE_FORMAT_ELF};
        expect_load_error(":00000001FF\n", 12, "app.hex", &forced, "app.hex: not an ELF file");
        expect_load_error("\x7f"
                          "ELF",
                          4, "short.elf", NULL, "short.elf: not an ELF file");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/elf/sections", test_sections);
        g_test_add_func("/elf/same-as-objcopy", test_same_as_objcopy);
        g_test_add_func("/elf/errors", test_errors);
        return test_run();
}
