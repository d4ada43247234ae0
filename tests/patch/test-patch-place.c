/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "patch-place.h"
#include "plan.h"
#include "test-main.h"
#include <glib.h>

/* F4-like: four 16 KiB sectors, then a 64 KiB one; option bytes read-only elsewhere. */
#define MAP "@Internal Flash  /0x08000000/04*016Kg,01*064Kg"

typedef struct Fixture {
        MemLayout layout;
        Image *kept;
} Fixture;

static void fixture_setup(Fixture *f, uint32_t address, uint32_t size) {
        DfuError e = DFU_ERROR_INIT;
        uint8_t data[0x800];

        memset(data, 0x5A, sizeof(data));
        g_assert_cmpint(memlayout_parse(MAP, 0, &f->layout, &e), ==, 0);
        f->kept = image_new("app.bin");
        g_assert_cmpint(image_add_segment(f->kept, address, data, size, "app.bin", -1, &e), ==, 0);
}

static void fixture_done(Fixture *f) {
        memlayout_done(&f->layout);
        image_free(f->kept);
}

static Patch patch(const char *s) {
        DfuError e = DFU_ERROR_INIT;
        Patch p;
        g_assert_cmpint(patch_parse(s, &p, &e), ==, 0);
        return p;
}

static int place(Fixture *f, const Patch *p, size_t n, bool patch_erase, PatchPlace *places, DfuError *e) {
        return patch_place_all(f->kept, &f->layout, p, n, false, patch_erase, places, e);
}

static void test_inside_segment(void) {
        Fixture f;
        Patch p = patch("0x08000100:u32le:s");
        PatchPlace where;
        DfuError e = DFU_ERROR_INIT;

        fixture_setup(&f, 0x08000000, 0x800);
        g_assert_cmpint(place(&f, &p, 1, false, &where, &e), ==, 0);
        g_assert_cmpint(where, ==, PATCH_PLACE_IMAGE);
        g_assert_cmpuint(f.kept->n_segments, ==, 1);
        fixture_done(&f);
}

static void test_erased_part_of_touched_sector(void) {
        Fixture f;
        Patch p = patch("0x08003F00:str:16:s");
        PatchPlace where;
        DfuError e = DFU_ERROR_INIT;

        fixture_setup(&f, 0x08000000, 0x800);
        g_assert_cmpint(place(&f, &p, 1, false, &where, &e), ==, 0);
        g_assert_cmpint(where, ==, PATCH_PLACE_ERASED);
        /* The patch's bytes join the image as blank, so that the plan writes them. */
        g_assert_cmpuint(f.kept->n_segments, ==, 2);
        g_assert_cmpuint(f.kept->segments[1].address, ==, 0x08003F00);
        g_assert_cmpuint(f.kept->segments[1].size, ==, 16);
        fixture_done(&f);
}

static void test_across_segment_edge(void) {
        Fixture f;
        Patch p = patch("0x080007FE:u32be:s");
        PatchPlace where;
        DfuError e = DFU_ERROR_INIT;

        fixture_setup(&f, 0x08000000, 0x800);
        g_assert_cmpint(place(&f, &p, 1, false, &where, &e), ==, 0);
        g_assert_cmpint(where, ==, PATCH_PLACE_ERASED);
        g_assert_cmpuint(f.kept->n_segments, ==, 2);
        g_assert_cmpuint(f.kept->segments[1].address, ==, 0x08000800);
        g_assert_cmpuint(f.kept->segments[1].size, ==, 2);
        fixture_done(&f);
}

static void test_untouched_sector(void) {
        Fixture f;
        Patch p = patch("0x08004000:u32le:s");
        PatchPlace where;
        DfuError e = DFU_ERROR_INIT;

        fixture_setup(&f, 0x08000000, 0x800);
        g_assert_cmpint(place(&f, &p, 1, false, &where, &e), ==, -EMEDIUMTYPE);
        g_assert_nonnull(strstr(e.message, "patch-erase"));
        e = (DfuError)DFU_ERROR_INIT;
        g_assert_cmpint(place(&f, &p, 1, true, &where, &e), ==, 0);
        g_assert_cmpint(where, ==, PATCH_PLACE_ERASED_FOR_IT);
        fixture_done(&f);

        /* A mass erase wipes it anyway. */
        fixture_setup(&f, 0x08000000, 0x800);
        g_assert_cmpint(patch_place_all(f.kept, &f.layout, &p, 1, true, false, &where, &e), ==, 0);
        g_assert_cmpint(where, ==, PATCH_PLACE_ERASED);
        fixture_done(&f);
}

static void test_ram_and_outside(void) {
        Fixture f;
        Patch ram = patch("0x20000000:u32le:s"), past = patch("0x0801FFFE:u32le:s");
        DfuError e = DFU_ERROR_INIT;

        fixture_setup(&f, 0x08000000, 0x800);
        g_assert_cmpint(place(&f, &ram, 1, true, NULL, &e), ==, -EMEDIUMTYPE);
        g_assert_nonnull(strstr(e.message, "RAM"));
        e = (DfuError)DFU_ERROR_INIT;
        g_assert_cmpint(place(&f, &past, 1, true, NULL, &e), ==, -EMEDIUMTYPE);
        g_assert_nonnull(strstr(e.message, "0x08020000"));
        fixture_done(&f);
}

static void test_overlapping(void) {
        Fixture f;
        Patch p[2] = {patch("0x08000100:u64le:a"), patch("0x08000104:u32le:b")};
        DfuError e = DFU_ERROR_INIT;

        fixture_setup(&f, 0x08000000, 0x800);
        g_assert_cmpint(place(&f, p, 2, false, NULL, &e), ==, -EMEDIUMTYPE);
        g_assert_nonnull(strstr(e.message, "overlaps"));
        p[1] = patch("0x08000108:u32le:b");
        e = (DfuError)DFU_ERROR_INIT;
        g_assert_cmpint(place(&f, p, 2, false, NULL, &e), ==, 0);
        fixture_done(&f);
}

static void test_plan_overwrite(void) {
        Fixture f;
        Patch p = patch("0x08003FFC:u32le:s");
        DfuError e = DFU_ERROR_INIT;
        PlanOptions po = {.verify = true};
        Plan *plan = NULL;
        const uint8_t v[4] = {1, 2, 3, 4};

        fixture_setup(&f, 0x08000000, 0x800);
        g_assert_cmpint(place(&f, &p, 1, false, NULL, &e), ==, 0);
        g_assert_cmpint(plan_build(f.kept, &f.layout, 2048, NULL, &po, &plan, &e), ==, 0);
        g_assert_cmpint(plan_overwrite(plan, 0x08003FFC, v, 4), ==, 0);
        g_assert_cmpint(plan_overwrite(plan, 0x08004000, v, 4), ==, -ENOENT);
        for (size_t i = 0; i < plan->n_runs; i++)
                if (plan->runs[i].address <= 0x08003FFC &&
                    0x08003FFC < plan->runs[i].address + plan->runs[i].size)
                        g_assert_cmpmem(plan->runs[i].data + (0x08003FFC - plan->runs[i].address), 4, v, 4);
        plan_free(plan);
        fixture_done(&f);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/patch-place/inside-segment", test_inside_segment);
        g_test_add_func("/patch-place/erased-part", test_erased_part_of_touched_sector);
        g_test_add_func("/patch-place/across-edge", test_across_segment_edge);
        g_test_add_func("/patch-place/untouched-sector", test_untouched_sector);
        g_test_add_func("/patch-place/ram-and-outside", test_ram_and_outside);
        g_test_add_func("/patch-place/overlapping", test_overlapping);
        g_test_add_func("/patch-place/plan-overwrite", test_plan_overwrite);
        return test_run();
}
