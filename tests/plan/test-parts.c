/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "parts.h"
#include "test-main.h"
#include <glib.h>

static void test_table(void) {
        static const char *const required[] = {"f405", "f411", "f429", "f722", "f072", "l476",
                                               "g431", "h743", "h747", "h723", "u585", "g0b1"};

        for (size_t i = 0; i < G_N_ELEMENTS(required); i++)
                g_assert_nonnull(part_find(required[i]));
        g_assert_true(part_find("H743") == part_find("h743"));
        g_assert_null(part_find("h999"));
        g_assert_null(part_find(NULL));

        for (unsigned i = 0; i < part_table_size; i++) {
                const PartInfo *p = &part_table[i];
                _cleanup_(memmap_freep) MemMap *map = NULL;
                DfuError error = DFU_ERROR_INIT;

                g_test_message("%s", p->name);
                g_assert_cmpint(part_memmap(p, &map, &error), ==, 0);
                g_assert_cmpuint(map->n_layouts, >=, 1);
                /* Alternate setting 0 is the flash: erasable and writable from 0x08000000. */
                g_assert_cmphex(map->layouts[0].regions[0].address, ==, 0x08000000);
                g_assert_cmpuint(map->layouts[0].regions[0].runs[0].attributes, ==, 7);
                g_assert_cmphex(p->vid, ==, 0x0483);
                g_assert_cmphex(p->pid, ==, 0xDF11);
                g_assert_true(p->bcd_device == 0x2200 || p->bcd_device == 0x0200);
                g_assert_true(p->transfer_size == 1024 || p->transfer_size == 2048);
                g_assert_nonnull(p->product);
                g_assert_cmpuint(p->erase_ms_min, >, 0);
                g_assert_cmpuint(p->mass_erase_max_ms, >=, p->mass_erase_ms);
                g_assert_cmpuint(p->program_us_per_kib, >, 0);
                /* Part names must stay unique: part_find and the daemon's Part property rely on it. */
                for (unsigned k = 0; k < i; k++)
                        g_assert_cmpstr(part_table[k].name, !=, p->name);
        }
}

static void test_traits(void) {
        g_assert_cmpuint(part_find("h743")->ecc_word, ==, 32);
        g_assert_cmpuint(part_find("h7a3")->ecc_word, ==, 16);
        g_assert_cmpuint(part_find("u585")->ecc_word, ==, 16);
        g_assert_cmpuint(part_find("l476")->ecc_word, ==, 8);
        g_assert_cmpuint(part_find("g431")->ecc_word, ==, 8);
        g_assert_cmpuint(part_find("f405")->ecc_word, ==, 0);
        g_assert_cmpuint(part_find("f072")->ecc_word, ==, 0);
        g_assert_cmpuint(part_find("g431")->transfer_size, ==, 1024);
        g_assert_cmpuint(part_find("g0b1")->transfer_size, ==, 1024);
        g_assert_cmphex(part_find("h743")->bcd_device, ==, 0x0200);
        g_assert_cmphex(part_find("f405")->bcd_device, ==, 0x2200);
        g_assert_true(part_find("h747")->dual_core);
        g_assert_true(part_find("g0b1")->quirks & PART_QUIRK_SAME_ALT_STRINGS);
        g_assert_true(part_find("f405")->quirks & PART_QUIRK_MASS_ERASE_LIES);
        g_assert_true(part_find("l476")->quirks & PART_QUIRK_POLL_STALLS);
        g_assert_cmpstr(part_find("f722")->serial, ==, "STM32FxSTM32");
        g_assert_cmpstr(part_find("f405")->product, ==, "STM32  BOOTLOADER");
        g_assert_cmpstr(part_find("u585")->product, ==, "DFU in FS Mode");

        /* G0B1: the same string on every alternate setting. */
        const PartInfo *g0 = part_find("g0b1");
        g_assert_nonnull(g0->alt_strings[1]);
        for (unsigned i = 1; g0->alt_strings[i]; i++)
                g_assert_cmpstr(g0->alt_strings[i], ==, g0->alt_strings[0]);
}

static void test_timing(void) {
        const PartInfo *h7 = part_find("h743"), *f4 = part_find("f405");

        /* DS12110: 128 KB sector typ 1.1 s at x32; DS8626: 1 s at x32, 16 KB 250 ms. */
        g_assert_cmpuint(part_sector_erase_ms(h7, 128 * 1024), ==, 1099);
        g_assert_cmpuint(part_sector_erase_ms(f4, 128 * 1024), ==, 999);
        g_assert_cmpuint(part_sector_erase_ms(f4, 16 * 1024), ==, 250);
        g_assert_cmpuint(part_program_us(h7, 2048), ==, 8320);
        g_assert_cmpuint(part_program_us(NULL, 2048), ==, 0);
        g_assert_cmpuint(part_mass_erase_ms(f4), ==, 8000);
}

static void test_match(void) {
        const char *f405[] = {"@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
                              "@Option Bytes  /0x1FFFC000/01*016 e",
                              "@OTP Memory /0x1FFF7800/01*512 e,01*016 e",
                              "@Device Feature/0xFFFF0000/01*004 e"};
        const char *h7[] = {"@Internal Flash   /0x08000000/16*128Kg",
                            "@Option Bytes   /0x5200201C/01*128 e"};
        const char *u5[] = {"@Internal Flash   /0x08000000/256*08Kg", "@Option Bytes   /0x40022040/01*64 e",
                            "@OTP Memory   /0x0BFA0000/01*512 e"};
        const char *h7a3[] = {"@Internal Flash   /0x08000000/256*08Kg"};
        const char *g4[] = {"@Internal Flash   /0x08000000/64*02Kg", "@Option Bytes   /0x1FFF7800/01*40Be"};
        const char *g4_spacing[] = {"@Internal Flash  /0x08000000/64*02Kg",
                                    "@Option Bytes   /0x1FFF7800/01*40Be"};
        const char *g0[] = {"@Internal Flash   /0x08000000/256*02Kg",
                            "@Internal Flash   /0x08000000/256*02Kg",
                            "@Internal Flash   /0x08000000/256*02Kg"};

        g_assert_true(part_match(f405, 4, 0x2200) == part_find("f405"));
        g_assert_true(part_match(f405, 4, 0x2100) == part_find("f405")); /* bcdDevice only ranks */
        g_assert_true(part_match(f405, 3, 0x2200) == part_find("f405")); /* fewer settings than the table */
        g_assert_true(part_match(f405, 1, 0x2200) == part_find("f405"));
        const char *f405_more[] = {f405[0], f405[1], f405[2], f405[3], "@Engi bytes /0x1FFF7000/01*016 e"};
        g_assert_true(part_match(f405_more, 5, 0x2200) == part_find("f405"));
        const char *f405_odd[] = {f405[0], "@Option Bytes  /0x1FFFC000/01*032 e"};
        g_assert_null(part_match(f405_odd, 2, 0x2200));                /* a setting both have differs */
        g_assert_true(part_match(h7, 2, 0x0200) == part_find("h743")); /* H747 reports the same map */
        g_assert_true(part_match(u5, 3, 0x0200) == part_find("u585"));
        g_assert_true(part_match(h7a3, 1, 0x0200) == part_find("h7a3")); /* same flash string as U585 */
        g_assert_true(part_match(u5, 1, 0x0200) == part_find("h7a3"));
        g_assert_true(part_match(u5, 2, 0x0200) == part_find("u585"));
        g_assert_true(part_match(g4, 2, 0x0200) == part_find("g431"));
        g_assert_null(part_match(g4_spacing, 2, 0x0200)); /* exact strings, spacing included */
        g_assert_true(part_match(g0, 3, 0x0200) == part_find("g0b1"));
        g_assert_null(part_match(NULL, 0, 0));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/parts/table", test_table);
        g_test_add_func("/parts/traits", test_traits);
        g_test_add_func("/parts/timing", test_timing);
        g_test_add_func("/parts/match", test_match);
        return test_run();
}
