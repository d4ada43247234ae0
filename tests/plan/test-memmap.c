/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "memmap.h"
#include "test-main.h"
#include <glib.h>

typedef struct Run {
        uint32_t address, count, size;
        uint8_t attributes;
} Run;

typedef struct Case {
        const char *string;
        const char *name;
        unsigned n_regions;
        uint32_t region_address[2];
        unsigned n_runs;
        Run runs[6];
} Case;

#define K 1024u
#define G (MEM_READABLE | MEM_ERASABLE | MEM_WRITABLE)
#define E (MEM_READABLE | MEM_WRITABLE)

/* Every string of the reference table, with what it must mean. */
static const Case cases[] = {
        {"@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
         "Internal Flash",
         1,
         {0x08000000},
         3,
         {{0x08000000, 4, 16 * K, G}, {0x08010000, 1, 64 * K, G}, {0x08020000, 7, 128 * K, G}}},
        {"@Option Bytes  /0x1FFFC000/01*016 e",
         "Option Bytes",
         1,
         {0x1FFFC000},
         1,
         {{0x1FFFC000, 1, 16, E}}},
        {"@OTP Memory /0x1FFF7800/01*512 e,01*016 e",
         "OTP Memory",
         1,
         {0x1FFF7800},
         2,
         {{0x1FFF7800, 1, 512, E}, {0x1FFF7A00, 1, 16, E}}},
        {"@Device Feature/0xFFFF0000/01*004 e",
         "Device Feature",
         1,
         {0xFFFF0000},
         1,
         {{0xFFFF0000, 1, 4, E}}},
        {"@Internal Flash  /0x08000000/04*016Kg,01*064Kg,03*128Kg",
         "Internal Flash",
         1,
         {0x08000000},
         3,
         {{0x08000000, 4, 16 * K, G}, {0x08010000, 1, 64 * K, G}, {0x08020000, 3, 128 * K, G}}},
        {"@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg,04*016Kg,01*064Kg,07*128Kg",
         "Internal Flash",
         1,
         {0x08000000},
         6,
         {{0x08000000, 4, 16 * K, G},
          {0x08010000, 1, 64 * K, G},
          {0x08020000, 7, 128 * K, G},
          {0x08100000, 4, 16 * K, G},
          {0x08110000, 1, 64 * K, G},
          {0x08120000, 7, 128 * K, G}}},
        {"@Option Bytes  /0x1FFFC000/01*016 e/0x1FFEC000/01*016 e",
         "Option Bytes",
         2,
         {0x1FFFC000, 0x1FFEC000},
         2,
         {{0x1FFFC000, 1, 16, E}, {0x1FFEC000, 1, 16, E}}},
        {"@Internal Flash  /0x08000000/04*016Kg,01*64Kg,03*128Kg",
         "Internal Flash",
         1,
         {0x08000000},
         3,
         {{0x08000000, 4, 16 * K, G}, {0x08010000, 1, 64 * K, G}, {0x08020000, 3, 128 * K, G}}},
        {"@OTP Memory /0x1FF07800/01*528e", "OTP Memory", 1, {0x1FF07800}, 1, {{0x1FF07800, 1, 528, E}}},
        {"@Internal Flash  /0x08000000/064*0002Kg",
         "Internal Flash",
         1,
         {0x08000000},
         1,
         {{0x08000000, 64, 2 * K, G}}},
        {"@Internal Flash  /0x08000000/128*002Kg",
         "Internal Flash",
         1,
         {0x08000000},
         1,
         {{0x08000000, 128, 2 * K, G}}},
        {"@Internal Flash  /0x08000000/1536*128g",
         "Internal Flash",
         1,
         {0x08000000},
         1,
         {{0x08000000, 1536, 128, G}}},
        {"@DATA Memory /0x08080000/2*3Ke", "DATA Memory", 1, {0x08080000}, 1, {{0x08080000, 2, 3 * K, E}}},
        {"@Internal Flash  /0x08000000/0256*0002Kg",
         "Internal Flash",
         1,
         {0x08000000},
         1,
         {{0x08000000, 256, 2 * K, G}}},
        {"@Option Bytes  /0x1FFF7800/01*040 e",
         "Option Bytes",
         1,
         {0x1FFF7800},
         1,
         {{0x1FFF7800, 1, 40, E}}},
        {"@Internal Flash   /0x08000000/64*02Kg",
         "Internal Flash",
         1,
         {0x08000000},
         1,
         {{0x08000000, 64, 2 * K, G}}},
        {"@Option Bytes   /0x1FFF7800/01*40Be",
         "Option Bytes",
         1,
         {0x1FFF7800},
         1,
         {{0x1FFF7800, 1, 40, E}}},
        {"@Internal Flash   /0x08000000/16*128Kg",
         "Internal Flash",
         1,
         {0x08000000},
         1,
         {{0x08000000, 16, 128 * K, G}}},
        {"@Option Bytes   /0x5200201C/01*128 e",
         "Option Bytes",
         1,
         {0x5200201C},
         1,
         {{0x5200201C, 1, 128, E}}},
        {"@Internal Flash   /0x08000000/8*128Kg",
         "Internal Flash",
         1,
         {0x08000000},
         1,
         {{0x08000000, 8, 128 * K, G}}},
        {"@Internal Flash   /0x08000000/256*08Kg",
         "Internal Flash",
         1,
         {0x08000000},
         1,
         {{0x08000000, 256, 8 * K, G}}},
        {"@Option Bytes   /0x40022040/01*64 e",
         "Option Bytes",
         1,
         {0x40022040},
         1,
         {{0x40022040, 1, 64, E}}},
        {"@OTP Memory   /0x0BFA0000/01*512 e", "OTP Memory", 1, {0x0BFA0000}, 1, {{0x0BFA0000, 1, 512, E}}},
        /* Not from a device, but allowed by the grammar: letters a..g, M, space before the letter. */
        {"@X/0x00000000/1*1Ma,1*2Kb,1*3Bc,1*4d,1*5 f,1*6K g",
         "X",
         1,
         {0},
         6,
         {{0, 1, 1024 * K, 1},
          {1024 * K, 1, 2 * K, 2},
          {1024 * K + 2 * K, 1, 3, 3},
          {1024 * K + 2 * K + 3, 1, 4, 4},
          {1024 * K + 2 * K + 7, 1, 5, 6},
          {1024 * K + 2 * K + 12, 1, 6 * K, 7}}},
};

static void test_reference_strings(void) {
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                const Case *c = &cases[i];
                DfuError error = DFU_ERROR_INIT;
                MemLayout l;
                unsigned n = 0;
                uint64_t total = 0;

                g_test_message("%s", c->string);
                g_assert_cmpint(memlayout_parse(c->string, 3, &l, &error), ==, 0);
                g_assert_cmpstr(l.name, ==, c->name);
                g_assert_cmpuint(l.alt_setting, ==, 3);
                g_assert_cmpuint(l.n_regions, ==, c->n_regions);
                for (size_t r = 0; r < l.n_regions; r++) {
                        g_assert_cmphex(l.regions[r].address, ==, c->region_address[r]);
                        uint64_t size = 0;
                        for (size_t k = 0; k < l.regions[r].n_runs; k++, n++) {
                                const MemSectorRun *run = &l.regions[r].runs[k];
                                g_assert_cmpuint(n, <, c->n_runs);
                                g_assert_cmphex(run->address, ==, c->runs[n].address);
                                g_assert_cmpuint(run->count, ==, c->runs[n].count);
                                g_assert_cmpuint(run->size, ==, c->runs[n].size);
                                g_assert_cmpuint(run->attributes, ==, c->runs[n].attributes);
                                size += (uint64_t)run->count * run->size;
                        }
                        g_assert_cmpuint(l.regions[r].size, ==, size);
                        total += size;
                }
                g_assert_cmpuint(n, ==, c->n_runs);
                g_assert_cmpuint(memlayout_total_size(&l), ==, total);

                /* The normalised form parses back to the same layout. */
                g_autofree char *s = memlayout_to_string(&l);
                MemLayout again;
                g_assert_nonnull(s);
                g_assert_cmpint(memlayout_parse(s, 3, &again, &error), ==, 0);
                g_autofree char *s2 = memlayout_to_string(&again);
                g_assert_cmpstr(s, ==, s2);
                g_assert_cmpuint(memlayout_total_size(&again), ==, total);
                memlayout_done(&again);
                memlayout_done(&l);
        }
}

static void test_to_string(void) {
        DfuError error = DFU_ERROR_INIT;
        MemLayout l;

        g_assert_cmpint(
                memlayout_parse("@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg", 0, &l, &error),
                ==, 0);
        g_autofree char *s = memlayout_to_string(&l);
        g_assert_cmpstr(s, ==, "@Internal Flash/0x08000000/4*16Kg,1*64Kg,7*128Kg");
        memlayout_done(&l);

        g_assert_cmpint(memlayout_parse("@OTP Memory /0x1FF07800/01*528e", 0, &l, &error), ==, 0);
        g_autofree char *o = memlayout_to_string(&l);
        g_assert_cmpstr(o, ==, "@OTP Memory/0x1FF07800/1*528 e");
        memlayout_done(&l);
}

typedef struct Bad {
        const char *string;
        size_t column;
        const char *expected;
} Bad;

static void test_malformed(void) {
        static const Bad bad[] = {
                {"", 1, "'@'"},
                {"Internal Flash/0x08000000/1*2Kg", 1, "'@'"},
                {"@Internal Flash", 16, "'/' after the name"},
                {"@F/08000000/1*2Kg", 4, "start address"},
                {"@F/0x/1*2Kg", 6, "hexadecimal digits"},
                {"@F/0x08000000", 14, "'/' after the start address"},
                {"@F/0x08000000/", 15, "sector count"},
                {"@F/0x08000000/04016Kg", 20, "'*' after the sector count"},
                {"@F/0x08000000/4*Kg", 17, "sector size"},
                {"@F/0x08000000/4*16K", 20, "attribute letter"},
                {"@F/0x08000000/4*16Kh", 20, "attribute letter"},
                {"@F/0x08000000/4*16Kg;1*1Kg", 21, "',' or '/'"},
                {"@F/0x08000000/0*16Kg", 15, "at least 1"},
                {"@F/0x08000000/4*0Kg", 17, "between 1 byte"},
                {"@F/0x08000000/4*16Kg,", 22, "sector count"},
                {"@F/0xFFFFFFFF/2*1Kg", 17, "end of the 32-bit"},
                {"@F/0x108000000/1*1Kg", 6, "beyond 32 bits"},
                {"@F/0x08000000/1*1Kg/0x08000000/1*1Kg", 0, "overlap"},
        };

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                DfuError error = DFU_ERROR_INIT;
                MemLayout l = {};

                g_test_message("%s", bad[i].string);
                g_assert_cmpint(memlayout_parse(bad[i].string, 0, &l, &error), <, 0);
                g_assert_null(l.name);
                g_assert_nonnull(strstr(error.message, bad[i].expected));
                g_assert_nonnull(strstr(error.message, bad[i].string));
                if (bad[i].column > 0) {
                        g_autofree char *col = g_strdup_printf("at column %zu:", bad[i].column);
                        g_test_message("%s", error.message);
                        g_assert_nonnull(strstr(error.message, col));
                }
        }
}

static void test_find_sector(void) {
        DfuError error = DFU_ERROR_INIT;
        MemSector s;
        MemLayout l;

        g_assert_cmpint(
                memlayout_parse("@Option Bytes  /0x1FFFC000/01*016 e/0x1FFEC000/01*016 e", 1, &l, &error),
                ==, 0);
        g_assert_cmpint(memlayout_find_sector(&l, 0x1FFEC00F, &s), ==, 0);
        g_assert_cmphex(s.address, ==, 0x1FFEC000);
        g_assert_cmpuint(s.region, ==, 1);
        g_assert_cmpuint(s.index, ==, 1);
        g_assert_cmpint(memlayout_find_sector(&l, 0x1FFEC010, &s), ==, -ENOENT);
        memlayout_done(&l);

        g_assert_cmpint(
                memlayout_parse("@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg", 0, &l, &error),
                ==, 0);
        g_assert_cmpint(memlayout_find_sector(&l, 0x07FFFFFF, &s), ==, -ENOENT);
        g_assert_cmpint(memlayout_find_sector(&l, 0x08000000, &s), ==, 0);
        g_assert_cmpuint(s.index, ==, 0);
        g_assert_cmpint(memlayout_find_sector(&l, 0x0800C123, &s), ==, 0);
        g_assert_cmphex(s.address, ==, 0x0800C000);
        g_assert_cmpuint(s.size, ==, 16 * K);
        g_assert_cmpuint(s.index, ==, 3);
        g_assert_cmpint(memlayout_find_sector(&l, 0x0801FFFF, &s), ==, 0);
        g_assert_cmpuint(s.index, ==, 4);
        g_assert_cmpint(memlayout_find_sector(&l, 0x080FFFFF, &s), ==, 0);
        g_assert_cmphex(s.address, ==, 0x080E0000);
        g_assert_cmpuint(s.index, ==, 11);
        g_assert_cmpuint(s.attributes, ==, G);
        g_assert_cmpint(memlayout_find_sector(&l, 0x08100000, &s), ==, -ENOENT);
        memlayout_done(&l);
}

static void test_memmap(void) {
        _cleanup_(memmap_freep) MemMap *map = memmap_new();
        DfuError error = DFU_ERROR_INIT;

        g_assert_cmpint(memmap_add(map, "@Internal Flash   /0x08000000/16*128Kg", &error), ==, 0);
        g_assert_cmpint(memmap_add(map, "@Option Bytes   /0x5200201C/01*128 e", &error), ==, 0);
        g_assert_cmpint(memmap_add(map, "@Broken/0x0", &error), <, 0);
        g_assert_cmpuint(map->n_layouts, ==, 2);
        g_assert_cmpuint(map->layouts[1].alt_setting, ==, 1);
        g_assert_cmpuint(memlayout_total_size(&map->layouts[0]), ==, 2 * 1024 * K);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/memmap/reference-strings", test_reference_strings);
        g_test_add_func("/memmap/to-string", test_to_string);
        g_test_add_func("/memmap/malformed", test_malformed);
        g_test_add_func("/memmap/find-sector", test_find_sector);
        g_test_add_func("/memmap/memmap", test_memmap);
        return test_run();
}
