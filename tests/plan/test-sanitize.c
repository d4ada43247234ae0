/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <string.h>

#include "parts.h"
#include "sanitize.h"
#include "test-main.h"
#include <glib.h>

static MemMap *map_of(const char *part) {
        DfuError error = DFU_ERROR_INIT;
        MemMap *map = NULL;

        g_assert_cmpint(part_memmap(part_find(part), &map, &error), ==, 0);
        return map;
}

static MemMap *map_from(const char *const *strings) {
        DfuError error = DFU_ERROR_INIT;
        MemMap *map = memmap_new();

        for (size_t i = 0; strings[i]; i++)
                g_assert_cmpint(memmap_add(map, strings[i], &error), ==, 0);
        return map;
}

/* An image with one segment per (address, size) pair, filled with a pattern. */
static Image *image_of(size_t n, const uint32_t *spec) {
        Image *img = image_new("test.hex");
        DfuError error = DFU_ERROR_INIT;

        for (size_t i = 0; i < n; i++) {
                g_autofree uint8_t *data = g_malloc(spec[2 * i + 1]);
                g_autofree char *src = g_strdup_printf("test.hex:%zu", i);
                for (uint32_t k = 0; k < spec[2 * i + 1]; k++)
                        data[k] = (uint8_t)(k * 7 + i);
                g_assert_cmpint(image_add_segment(img, spec[2 * i], data, spec[2 * i + 1], src, -1, &error),
                                ==, 0);
        }
        return img;
}

static SanitizeReport *run_quiet(const Image *img, const MemMap *map, const SanitizeOptions *o) {
        DfuError error = DFU_ERROR_INIT;
        SanitizeReport *r = NULL;

        g_assert_cmpint(sanitize_image(img, map, o, &r, &error), ==, 0);
        g_assert_nonnull(r);
        return r;
}

static SanitizeReport *run(const Image *img, const MemMap *map, const SanitizeOptions *o) {
        SanitizeReport *r = run_quiet(img, map, o);

        for (size_t i = 0; i < r->n_verdicts; i++)
                g_test_message("%s 0x%08X: %s", verdict_to_string(r->verdicts[i].verdict),
                               r->verdicts[i].address, r->verdicts[i].reason);
        return r;
}

static void assert_contains(const char *s, const char *needle) {
        if (!s || !strstr(s, needle))
                g_error("\"%s\" does not contain \"%s\"", s, needle);
}

static void test_keep(void) {
        _cleanup_(memmap_freep) MemMap *map = map_of("f405");
        /* One segment inside a sector, one across the 16K/64K/128K sector sizes. */
        const uint32_t spec[] = {0x08000000, 100, 0x0800F000, 0x20000};
        _cleanup_(image_freep) Image *img = image_of(2, spec);
        img->has_entry = true;
        img->entry = 0x08000101;
        _cleanup_(sanitize_report_freep) SanitizeReport *r = run(img, map, NULL);

        g_assert_false(r->rejected);
        g_assert_cmpuint(r->n_verdicts, ==, 2);
        for (size_t i = 0; i < 2; i++) {
                g_assert_cmpint(r->verdicts[i].verdict, ==, VERDICT_KEEP);
                g_assert_cmpint(r->verdicts[i].alt_setting, ==, 0);
                g_assert_cmpstr(r->verdicts[i].region_name, ==, "Internal Flash");
                g_assert_cmpint(r->verdicts[i].kind, ==, ADDRESS_FLASH);
        }
        g_assert_cmpstr(r->verdicts[1].source, ==, "test.hex:1");
        g_assert_cmpuint(r->bytes_kept, ==, 100 + 0x20000);
        g_assert_cmpuint(r->bytes_dropped, ==, 0);
        g_assert_cmpuint(r->kept->n_segments, ==, 2);
        g_assert_cmpmem(r->kept->segments[1].data, 0x20000, img->segments[1].data, 0x20000);
        g_assert_true(r->kept->has_entry);
        g_assert_cmphex(r->kept->entry, ==, 0x08000101);
}

static void test_keep_across_regions(void) {
        /* Two address groups that touch: one contiguous writable memory. */
        const char *const strings[] = {"@Flash/0x08000000/1*16Kg/0x08004000/1*16Kg", NULL};
        _cleanup_(memmap_freep) MemMap *map = map_from(strings);
        const uint32_t spec[] = {0x08003000, 0x2000};
        _cleanup_(image_freep) Image *img = image_of(1, spec);
        _cleanup_(sanitize_report_freep) SanitizeReport *r = run(img, map, NULL);

        g_assert_false(r->rejected);
        g_assert_cmpint(r->verdicts[0].verdict, ==, VERDICT_KEEP);
}

static void test_drop(void) {
        _cleanup_(memmap_freep) MemMap *map = map_of("h747");
        const uint32_t spec[] = {0x08000000, 256,        0x2001FF00, 4,          0x38000000,
                                 16,         0x40021000, 8,          0x90000000, 64};
        _cleanup_(image_freep) Image *img = image_of(5, spec);
        _cleanup_(sanitize_report_freep) SanitizeReport *r = run(img, map, NULL);

        g_assert_false(r->rejected);
        g_assert_null(r->reject_reason);
        g_assert_cmpint(r->verdicts[0].verdict, ==, VERDICT_KEEP);
        for (size_t i = 1; i < 5; i++) {
                g_assert_cmpint(r->verdicts[i].verdict, ==, VERDICT_DROP);
                g_assert_cmpint(r->verdicts[i].alt_setting, ==, -1);
                g_assert_null(r->verdicts[i].region_name);
                assert_contains(r->verdicts[i].reason, "NOLOAD");
        }
        assert_contains(r->verdicts[1].reason, "0x2001FF00-0x2001FF03");
        assert_contains(r->verdicts[1].reason, "DTCM");
        assert_contains(r->verdicts[1].reason, "RAM is 0x20000000-0x3FFFFFFF");
        g_assert_cmpint(r->verdicts[1].kind, ==, ADDRESS_RAM);
        assert_contains(r->verdicts[2].reason, "0x38000000-0x3800000F");
        assert_contains(r->verdicts[2].reason, "SRAM4");
        g_assert_cmpint(r->verdicts[2].kind, ==, ADDRESS_RAM);
        g_assert_cmpint(r->verdicts[3].kind, ==, ADDRESS_PERIPHERAL);
        assert_contains(r->verdicts[3].reason, "peripheral");
        g_assert_cmpint(r->verdicts[4].kind, ==, ADDRESS_EXTERNAL);
        assert_contains(r->verdicts[4].reason, "external memory");
        g_assert_cmpuint(r->bytes_kept, ==, 256);
        g_assert_cmpuint(r->bytes_dropped, ==, 4 + 16 + 8 + 64);
        g_assert_cmpuint(r->kept->n_segments, ==, 1);
}

static void test_strict(void) {
        _cleanup_(memmap_freep) MemMap *map = map_of("h747");
        const uint32_t spec[] = {0x08000000, 256, 0x38000000, 16};
        _cleanup_(image_freep) Image *img = image_of(2, spec);
        SanitizeOptions o = {.strict = true};
        _cleanup_(sanitize_report_freep) SanitizeReport *r = run(img, map, &o);

        g_assert_true(r->rejected);
        g_assert_cmpint(r->verdicts[0].verdict, ==, VERDICT_KEEP);
        g_assert_cmpint(r->verdicts[1].verdict, ==, VERDICT_REJECT);
        assert_contains(r->reject_reason, "0x38000000");
        assert_contains(r->reject_reason, "test.hex:1");
}

static void test_straddle(void) {
        _cleanup_(memmap_freep) MemMap *map = map_of("h743");
        /* The end of the 2 MB flash, and a segment reaching from RAM... into nothing but RAM. */
        const uint32_t spec[] = {0x081FFF00, 0x200};
        _cleanup_(image_freep) Image *img = image_of(1, spec);
        _cleanup_(sanitize_report_freep) SanitizeReport *r = run(img, map, NULL);

        g_assert_true(r->rejected);
        g_assert_cmpint(r->verdicts[0].verdict, ==, VERDICT_REJECT);
        assert_contains(r->verdicts[0].reason, "straddles");
        assert_contains(r->verdicts[0].reason, "0x08200000");

        /* Starting before the flash and running into it is a straddle too. */
        const uint32_t spec2[] = {0x07FFFF00, 0x200};
        _cleanup_(image_freep) Image *img2 = image_of(1, spec2);
        _cleanup_(sanitize_report_freep) SanitizeReport *r2 = run(img2, map, NULL);
        g_assert_cmpint(r2->verdicts[0].verdict, ==, VERDICT_REJECT);
        assert_contains(r2->verdicts[0].reason, "0x07FFFF00");

        /* Two groups with a hole between them. */
        const char *const strings[] = {"@Flash/0x08000000/1*16Kg/0x08008000/1*16Kg", NULL};
        _cleanup_(memmap_freep) MemMap *holey = map_from(strings);
        const uint32_t spec3[] = {0x08003000, 0x2000};
        _cleanup_(image_freep) Image *img3 = image_of(1, spec3);
        _cleanup_(sanitize_report_freep) SanitizeReport *r3 = run(img3, holey, NULL);
        g_assert_cmpint(r3->verdicts[0].verdict, ==, VERDICT_REJECT);
        assert_contains(r3->verdicts[0].reason, "0x08004000");
}

static SanitizeReport *run_one(const MemMap *map, uint32_t address, uint32_t size,
                               const SanitizeOptions *o) {
        const uint32_t spec[] = {address, size};
        _cleanup_(image_freep) Image *img = image_of(1, spec);
        return run_quiet(img, map, o);
}

/* The H743's 2 MB flash ends at 0x08200000 and starts at 0x08000000: one byte either way decides. */
static void test_flash_edges_h743(void) {
        _cleanup_(memmap_freep) MemMap *map = map_of("h743");

        _cleanup_(sanitize_report_freep) SanitizeReport *past = run_one(map, 0x081FFF00, 257, NULL);
        g_assert_true(past->rejected);
        g_assert_cmpint(past->verdicts[0].verdict, ==, VERDICT_REJECT);
        g_assert_cmpstr(past->verdicts[0].reason, ==,
                        "0x081FFF00-0x08200000 straddles the edge of \"Internal Flash\" (alt 0): 0x08200000 "
                        "lies outside it; fix the linker script so the section fits inside the memory");
        g_assert_cmpuint(past->bytes_kept, ==, 0);
        g_assert_cmpuint(past->kept->n_segments, ==, 0);
        g_assert_true(g_str_has_prefix(past->reject_reason, "test.hex:0: 0x081FFF00-0x08200000 straddles"));

        _cleanup_(sanitize_report_freep) SanitizeReport *last = run_one(map, 0x081FFF00, 256, NULL);
        g_assert_false(last->rejected);
        g_assert_cmpint(last->verdicts[0].verdict, ==, VERDICT_KEEP);
        g_assert_cmpstr(last->verdicts[0].reason, ==, "0x081FFF00-0x081FFFFF in \"Internal Flash\" (alt 0)");
        g_assert_cmpuint(last->bytes_kept, ==, 256);

        /* Straddling the start is rejected, never dropped as if it lay outside the flash. */
        _cleanup_(sanitize_report_freep) SanitizeReport *before = run_one(map, 0x07FFFFFF, 2, NULL);
        g_assert_true(before->rejected);
        g_assert_cmpint(before->verdicts[0].verdict, ==, VERDICT_REJECT);
        g_assert_cmpstr(before->verdicts[0].reason, ==,
                        "0x07FFFFFF-0x08000000 straddles the edge of \"Internal Flash\" (alt 0): 0x07FFFFFF "
                        "lies outside it; fix the linker script so the section fits inside the memory");
        g_assert_cmpuint(before->bytes_dropped, ==, 0);

        /* Single bytes: the last one of the flash is kept, the first one past it dropped. */
        _cleanup_(sanitize_report_freep) SanitizeReport *one = run_one(map, 0x081FFFFF, 1, NULL);
        g_assert_cmpint(one->verdicts[0].verdict, ==, VERDICT_KEEP);
        g_assert_cmpuint(one->bytes_kept, ==, 1);
        _cleanup_(sanitize_report_freep) SanitizeReport *out = run_one(map, 0x08200000, 1, NULL);
        g_assert_cmpint(out->verdicts[0].verdict, ==, VERDICT_DROP);
        g_assert_cmpuint(out->bytes_dropped, ==, 1);
}

/*
 * What the sanitizer must decide, worked out byte by byte from memlayout_find_sector(): the flash
 * layout first, then the others in order; the first one holding any byte decides.
 */
static Verdict expected_verdict(const MemMap *map, uint32_t address, uint32_t size, const MemLayout **where,
                                uint32_t *gap) {
        for (size_t pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < map->n_layouts; i++) {
                        const MemLayout *l = &map->layouts[i];
                        bool inside = false, outside = false, writable = true;
                        if ((pass == 0) != (l->alt_setting == 0))
                                continue;
                        for (uint64_t b = address; b < (uint64_t)address + size; b++) {
                                MemSector sec;
                                if (memlayout_find_sector(l, (uint32_t)b, &sec) == 0) {
                                        inside = true;
                                        writable = writable && (sec.attributes & MEM_WRITABLE);
                                } else if (!outside) {
                                        outside = true;
                                        *gap = (uint32_t)b;
                                }
                        }
                        if (!inside)
                                continue;
                        *where = l;
                        return outside || !writable ? VERDICT_REJECT : VERDICT_KEEP;
                }
        return VERDICT_DROP;
}

static void check_segment(const MemMap *map, uint64_t address, uint32_t size) {
        const SanitizeOptions o = {.allow_option_bytes = true};
        const MemLayout *where = NULL;
        uint32_t gap = 0;

        if (address + size > UINT64_C(1) << 32)
                return;
        Verdict want = expected_verdict(map, (uint32_t)address, size, &where, &gap);
        _cleanup_(sanitize_report_freep) SanitizeReport *r = run_one(map, (uint32_t)address, size, &o);
        const SegmentVerdict *v = &r->verdicts[0];
        g_autofree char *range =
                g_strdup_printf("0x%08" PRIX64 "-0x%08" PRIX64, address, address + size - 1);

        if (v->verdict != want)
                g_error("%s (%" PRIu32 " bytes): %s, expected %s (%s)", range, size,
                        verdict_to_string(v->verdict), verdict_to_string(want), v->reason);
        g_assert_true(g_str_has_prefix(v->reason, range));
        g_assert_cmpuint(r->bytes_kept, ==, want == VERDICT_KEEP ? size : 0);
        g_assert_cmpuint(r->bytes_dropped, ==, want == VERDICT_DROP ? size : 0);
        if (want == VERDICT_DROP) {
                assert_contains(v->reason, "lies outside every memory");
                return;
        }
        g_assert_cmpint(v->alt_setting, ==, (int)where->alt_setting);
        g_assert_cmpstr(v->region_name, ==, where->name);
        if (want == VERDICT_KEEP) {
                g_autofree char *reason =
                        g_strdup_printf("%s in \"%s\" (alt %u)", range, where->name, where->alt_setting);
                g_assert_cmpstr(v->reason, ==, reason);
        } else if (strstr(v->reason, "straddles")) {
                g_autofree char *lies = g_strdup_printf(": 0x%08" PRIX32 " lies outside it", gap);
                assert_contains(v->reason, lies);
        } else
                assert_contains(v->reason, "not writable");
}

/* Segments ending exactly at, one byte before and one byte after an edge, and starting likewise. */
static void check_edge(const MemMap *map, uint64_t edge) {
        static const uint32_t sizes[] = {1, 2, 16, 4096};

        for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++)
                for (int shift = -1; shift <= 1; shift++) {
                        uint64_t end = edge + (uint64_t)(int64_t)shift, start = end;
                        if (end >= sizes[i])
                                check_segment(map, end - sizes[i], sizes[i]);
                        check_segment(map, start, sizes[i]);
                }
}

static void check_map_edges(const MemMap *map) {
        for (size_t i = 0; i < map->n_layouts; i++)
                for (size_t g = 0; g < map->layouts[i].n_regions; g++) {
                        const MemRegion *region = &map->layouts[i].regions[g];
                        check_edge(map, region->address);
                        check_edge(map, region->address + region->size);
                        for (size_t k = 0; k < region->n_runs; k++) {
                                const MemSectorRun *run = &region->runs[k];
                                check_edge(map, run->address);
                                check_edge(map, run->address + (uint64_t)run->count * run->size);
                        }
                }
}

static void test_every_edge(void) {
        for (unsigned i = 0; i < part_table_size; i++) {
                _cleanup_(memmap_freep) MemMap *map = NULL;
                g_assert_cmpint(part_memmap(&part_table[i], &map, NULL), ==, 0);
                check_map_edges(map);
        }

        /* Groups with a hole, groups that touch, a read-only sector between writable ones. */
        const char *const holey[] = {"@Flash/0x08000000/2*1Kg/0x08001000/1*2Kg/0x08001800/1*1Kg",
                                     "@Option Bytes/0x08002000/1*016 e", NULL};
        const char *const guarded[] = {"@Flash/0x08000000/1*16Ka,3*16Kg,1*64Ka", NULL};
        _cleanup_(memmap_freep) MemMap *m1 = map_from(holey);
        _cleanup_(memmap_freep) MemMap *m2 = map_from(guarded);
        check_map_edges(m1);
        check_map_edges(m2);
}

static void test_not_writable(void) {
        const char *const strings[] = {"@Flash/0x08000000/1*16Ka,3*16Kg", NULL};
        _cleanup_(memmap_freep) MemMap *map = map_from(strings);
        const uint32_t spec[] = {0x08003F00, 0x200, 0x08008000, 16};
        _cleanup_(image_freep) Image *img = image_of(2, spec);
        _cleanup_(sanitize_report_freep) SanitizeReport *r = run(img, map, NULL);

        g_assert_true(r->rejected);
        g_assert_cmpint(r->verdicts[0].verdict, ==, VERDICT_REJECT);
        assert_contains(r->verdicts[0].reason, "not writable");
        g_assert_cmpint(r->verdicts[1].verdict, ==, VERDICT_KEEP);
}

static void test_option_bytes(void) {
        _cleanup_(memmap_freep) MemMap *map = map_of("f405");
        const uint32_t spec[] = {0x08000000, 64, 0x1FFFC000, 16};
        _cleanup_(image_freep) Image *img = image_of(2, spec);
        _cleanup_(sanitize_report_freep) SanitizeReport *r = run(img, map, NULL);

        g_assert_true(r->rejected);
        g_assert_cmpint(r->verdicts[1].verdict, ==, VERDICT_REJECT);
        g_assert_cmpint(r->verdicts[1].alt_setting, ==, 1);
        g_assert_cmpstr(r->verdicts[1].region_name, ==, "Option Bytes");
        assert_contains(r->verdicts[1].reason, "--allow-option-bytes");

        SanitizeOptions o = {.allow_option_bytes = true};
        _cleanup_(sanitize_report_freep) SanitizeReport *ok = run(img, map, &o);
        g_assert_false(ok->rejected);
        g_assert_cmpint(ok->verdicts[1].verdict, ==, VERDICT_KEEP);
        g_assert_cmpint(ok->kept->segments[1].alt_setting, ==, 1);
        g_assert_cmpint(ok->kept->segments[0].alt_setting, ==, 0);

        /* OTP too. */
        const uint32_t otp[] = {0x1FFF7800, 32};
        _cleanup_(image_freep) Image *img2 = image_of(1, otp);
        _cleanup_(sanitize_report_freep) SanitizeReport *r2 = run(img2, map, NULL);
        g_assert_true(r2->rejected);
        g_assert_cmpstr(r2->verdicts[0].region_name, ==, "OTP Memory");
}

static void test_nothing_left(void) {
        _cleanup_(memmap_freep) MemMap *map = map_of("h743");
        const uint32_t spec[] = {0x20000000, 64, 0x24000000, 64};
        _cleanup_(image_freep) Image *img = image_of(2, spec);
        _cleanup_(sanitize_report_freep) SanitizeReport *r = run(img, map, NULL);

        g_assert_true(r->rejected);
        g_assert_cmpint(r->verdicts[0].verdict, ==, VERDICT_DROP);
        g_assert_cmpint(r->verdicts[1].verdict, ==, VERDICT_DROP);
        assert_contains(r->reject_reason, "nothing left to write");

        _cleanup_(image_freep) Image *empty = image_new("empty.hex");
        _cleanup_(sanitize_report_freep) SanitizeReport *r2 = run(empty, map, NULL);
        g_assert_true(r2->rejected);
        g_assert_cmpuint(r2->n_verdicts, ==, 0);
}

static void test_dfuse_target(void) {
        _cleanup_(memmap_freep) MemMap *map = map_of("h743");
        _cleanup_(image_freep) Image *img = image_new("fw.dfu");
        DfuError error = DFU_ERROR_INIT;
        uint8_t data[16] = {1, 2, 3};

        g_assert_cmpint(image_add_segment(img, 0x08000000, data, 16, "fw.dfu:target 0", 0, &error), ==, 0);
        g_assert_cmpint(image_add_segment(img, 0x08100000, data, 16, "fw.dfu:target 5", 5, &error), ==, 0);
        _cleanup_(sanitize_report_freep) SanitizeReport *r = run(img, map, NULL);
        g_assert_cmpint(r->verdicts[0].verdict, ==, VERDICT_KEEP);
        g_assert_cmpint(r->verdicts[1].verdict, ==, VERDICT_REJECT);
        assert_contains(r->verdicts[1].reason, "alternate setting 5");
}

static void test_same_strings(void) {
        /* G0B1: every alternate setting is "Internal Flash"; the flash setting is alt 0. */
        _cleanup_(memmap_freep) MemMap *map = map_of("g0b1");
        const uint32_t spec[] = {0x08000000, 2048};
        _cleanup_(image_freep) Image *img = image_of(1, spec);
        _cleanup_(sanitize_report_freep) SanitizeReport *r = run(img, map, NULL);

        g_assert_false(r->rejected);
        g_assert_cmpint(r->verdicts[0].alt_setting, ==, 0);
}

static void test_address_kind(void) {
        g_assert_cmpint(address_kind(0x00000000), ==, ADDRESS_CODE_OTHER);
        g_assert_cmpint(address_kind(0x08000000), ==, ADDRESS_FLASH);
        g_assert_cmpint(address_kind(0x10000000), ==, ADDRESS_RAM);
        g_assert_cmpint(address_kind(0x1FFF7800), ==, ADDRESS_SYSTEM);
        g_assert_cmpint(address_kind(0x20000000), ==, ADDRESS_RAM);
        g_assert_cmpint(address_kind(0x3FFFFFFF), ==, ADDRESS_RAM);
        g_assert_cmpint(address_kind(0x40000000), ==, ADDRESS_PERIPHERAL);
        g_assert_cmpint(address_kind(0x5FFFFFFF), ==, ADDRESS_PERIPHERAL);
        g_assert_cmpint(address_kind(0x60000000), ==, ADDRESS_EXTERNAL);
        g_assert_cmpint(address_kind(0x90000000), ==, ADDRESS_EXTERNAL);
        g_assert_cmpint(address_kind(0xE0000000), ==, ADDRESS_SYSTEM);
        for (int k = 0; k < _ADDRESS_KIND_MAX; k++)
                g_assert_nonnull(address_kind_to_string(k));
        g_assert_null(address_kind_to_string(_ADDRESS_KIND_MAX));
        g_assert_cmpstr(address_ram_name(0x38000000), ==, "SRAM4");
        g_assert_cmpstr(address_ram_name(0x2001FF00), ==, "SRAM or DTCM");
        g_assert_cmpstr(address_ram_name(0x24000000), ==, "AXI SRAM");
        g_assert_cmpstr(address_ram_name(0x10000000), ==, "CCM RAM");
        g_assert_cmpstr(verdict_to_string(VERDICT_DROP), ==, "drop");
        g_assert_null(verdict_to_string(_VERDICT_MAX));
        g_assert_null(verdict_to_string((Verdict)-1));
}

/* Each named RAM ends where the next begins: the first and last byte of each, and the byte after. */
static void test_ram_name_edges(void) {
        const struct {
                uint32_t address;
                const char *name;
        } table[] = {
                {0x1FFFFFFF, "CCM RAM"},  {0x20000000, "SRAM or DTCM"}, {0x2001FFFF, "SRAM or DTCM"},
                {0x20020000, "SRAM"},     {0x23FFFFFF, "SRAM"},         {0x24000000, "AXI SRAM"},
                {0x240FFFFF, "AXI SRAM"}, {0x24100000, "SRAM"},         {0x2FFFFFFF, "SRAM"},
                {0x30000000, "SRAM1-3"},  {0x3004FFFF, "SRAM1-3"},      {0x30050000, "SRAM"},
                {0x37FFFFFF, "SRAM"},     {0x38000000, "SRAM4"},        {0x3800FFFF, "SRAM4"},
                {0x38010000, "SRAM"},
        };

        for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
                g_test_message("0x%08X", table[i].address);
                g_assert_cmpstr(address_ram_name(table[i].address), ==, table[i].name);
        }
}

/* A DfuSe target for alternate setting 0 on a board that reports no memory at all is refused. */
static void test_target_without_layouts(void) {
        _cleanup_(memmap_freep) MemMap *map = memmap_new();
        _cleanup_(image_freep) Image *img = image_new("fw.dfu");
        DfuError error = DFU_ERROR_INIT;
        uint8_t data[16] = {1, 2, 3};

        g_assert_cmpint(image_add_segment(img, 0x08000000, data, 16, "fw.dfu:target 0", 0, &error), ==, 0);
        _cleanup_(sanitize_report_freep) SanitizeReport *r = run(img, map, NULL);
        g_assert_cmpint(r->verdicts[0].verdict, ==, VERDICT_REJECT);
        g_assert_cmpstr(r->verdicts[0].reason, ==,
                        "targets alternate setting 0, but the device reports only 0");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/sanitize/keep", test_keep);
        g_test_add_func("/sanitize/keep-across-regions", test_keep_across_regions);
        g_test_add_func("/sanitize/drop", test_drop);
        g_test_add_func("/sanitize/strict", test_strict);
        g_test_add_func("/sanitize/straddle", test_straddle);
        g_test_add_func("/sanitize/flash-edges-h743", test_flash_edges_h743);
        g_test_add_func("/sanitize/every-edge", test_every_edge);
        g_test_add_func("/sanitize/not-writable", test_not_writable);
        g_test_add_func("/sanitize/option-bytes", test_option_bytes);
        g_test_add_func("/sanitize/nothing-left", test_nothing_left);
        g_test_add_func("/sanitize/dfuse-target", test_dfuse_target);
        g_test_add_func("/sanitize/same-strings", test_same_strings);
        g_test_add_func("/sanitize/address-kind", test_address_kind);
        g_test_add_func("/sanitize/ram-name-edges", test_ram_name_edges);
        g_test_add_func("/sanitize/target-without-layouts", test_target_without_layouts);
        return test_run();
}
