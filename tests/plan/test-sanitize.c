/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "parts.h"
#include "sanitize.h"
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

static SanitizeReport *run(const Image *img, const MemMap *map, const SanitizeOptions *o) {
        DfuError error = DFU_ERROR_INIT;
        SanitizeReport *r = NULL;

        g_assert_cmpint(sanitize_image(img, map, o, &r, &error), ==, 0);
        g_assert_nonnull(r);
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
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/sanitize/keep", test_keep);
        g_test_add_func("/sanitize/keep-across-regions", test_keep_across_regions);
        g_test_add_func("/sanitize/drop", test_drop);
        g_test_add_func("/sanitize/strict", test_strict);
        g_test_add_func("/sanitize/straddle", test_straddle);
        g_test_add_func("/sanitize/not-writable", test_not_writable);
        g_test_add_func("/sanitize/option-bytes", test_option_bytes);
        g_test_add_func("/sanitize/nothing-left", test_nothing_left);
        g_test_add_func("/sanitize/dfuse-target", test_dfuse_target);
        g_test_add_func("/sanitize/same-strings", test_same_strings);
        g_test_add_func("/sanitize/address-kind", test_address_kind);
        return g_test_run();
}
