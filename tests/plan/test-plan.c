/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "parts.h"
#include "plan.h"
#include "test-main.h"
#include <glib.h>

typedef struct Fixture {
        MemMap *map;
        Image *img;
        const PartInfo *part;
} Fixture;

static void fixture_init(Fixture *f, const char *part) {
        DfuError error = DFU_ERROR_INIT;

        f->part = part_find(part);
        g_assert_cmpint(part_memmap(f->part, &f->map, &error), ==, 0);
        f->img = image_new("test.hex");
}

static void fixture_done(Fixture *f) {
        memmap_free(f->map);
        image_free(f->img);
}

static void add(Fixture *f, uint32_t address, uint32_t size, const char *source, int alt) {
        g_autofree uint8_t *data = g_malloc(size);
        DfuError error = DFU_ERROR_INIT;

        for (uint32_t k = 0; k < size; k++)
                data[k] = (uint8_t)(address + k);
        g_assert_cmpint(image_add_segment(f->img, address, data, size, source, alt, &error), ==, 0);
}

static Plan *build(Fixture *f, unsigned alt, const PlanOptions *o) {
        DfuError error = DFU_ERROR_INIT;
        Plan *p = NULL;

        g_assert_cmpint(
                plan_build(f->img, &f->map->layouts[alt], f->part->transfer_size, f->part, o, &p, &error),
                ==, 0);
        return p;
}

static void test_runs(void) {
        Fixture f;
        fixture_init(&f, "f405");
        /* Adjacent segments from different sources make one run; a gap starts another. */
        add(&f, 0x08000000, 5000, "a.hex", -1);
        add(&f, 0x08000000 + 5000, 3000, "b.hex", -1);
        add(&f, 0x08004003, 10, "c.hex", -1);
        _cleanup_(plan_freep) Plan *p = build(&f, 0, NULL);

        g_assert_cmpuint(p->n_runs, ==, 2);
        g_assert_cmphex(p->runs[0].address, ==, 0x08000000);
        g_assert_cmpuint(p->runs[0].size, ==, 8000);
        g_assert_cmphex(p->runs[1].address, ==, 0x08004003); /* the run starts where its bytes start */
        /* Padded to the 32-bit word: 0x08004003 + 10 = ...0D, up to ...10. */
        g_assert_cmpuint(p->runs[1].size, ==, 13);
        g_assert_cmpuint(p->runs[1].data[9], ==, (uint8_t)(0x08004003 + 9));
        g_assert_cmpuint(p->runs[1].data[10], ==, 0xFF);
        g_assert_cmpuint(p->runs[1].data[12], ==, 0xFF);
        g_assert_cmpmem(p->runs[0].data, 5000, f.img->segments[0].data, 5000);
        g_assert_cmpmem(p->runs[0].data + 5000, 3000, f.img->segments[1].data, 3000);
        /* Blocks of at most wTransferSize from the run start: 8000 bytes in 2048-byte blocks. */
        g_assert_cmpuint(p->transfer_size, ==, 2048);
        g_assert_cmpuint(p->blocks_total, ==, 4 + 1);
        g_assert_cmpuint(p->bytes_total, ==, 8000 + 13);
        g_assert_cmpuint(p->flash_word, ==, 4);
        fixture_done(&f);
}

static void test_erase_once(void) {
        Fixture f;
        fixture_init(&f, "f405");
        /* Three segments in sector 0, one spanning sectors 1..4 (16K, 16K, 16K, 64K), one in sector 6. */
        add(&f, 0x08000000, 16, "a", -1);
        add(&f, 0x08000100, 16, "b", -1);
        add(&f, 0x08003000, 16, "c", -1);
        add(&f, 0x08007FF0, 0x8020, "d", -1);
        add(&f, 0x08040000, 4, "e", -1);
        _cleanup_(plan_freep) Plan *p = build(&f, 0, NULL);
        const uint32_t expected[] = {0x08000000, 0x08004000, 0x08008000, 0x0800C000, 0x08010000, 0x08040000};

        g_assert_cmpuint(p->n_erases, ==, G_N_ELEMENTS(expected));
        for (size_t i = 0; i < p->n_erases; i++)
                g_assert_cmphex(p->erases[i].address, ==, expected[i]);
        g_assert_cmpuint(p->erases[4].size, ==, 64 * 1024);
        g_assert_cmpuint(p->erases[1].write_offset, ==, 0x3FF0);
        g_assert_cmpuint(p->erases[2].write_offset, ==, 0);
        g_assert_false(p->mass_erase);
        g_assert_cmpuint(p->n_runs, ==, 5);
        fixture_done(&f);
}

static void test_mass_erase(void) {
        Fixture f;
        fixture_init(&f, "f405");
        add(&f, 0x08000000, 100, "a", -1);
        add(&f, 0x08080000, 100, "b", -1);
        PlanOptions o = {.mass_erase = true};
        _cleanup_(plan_freep) Plan *p = build(&f, 0, &o);

        g_assert_true(p->mass_erase);
        g_assert_cmpuint(p->n_erases, ==, 0);
        g_assert_cmpuint(p->n_runs, ==, 2);
        fixture_done(&f);
}

static void test_skip_blank(void) {
        Fixture f;
        PlanOptions o = {.skip = PLAN_SKIP_BLANK | PLAN_SKIP_IDENTICAL};

        fixture_init(&f, "h743");
        add(&f, 0x08000000, 100, "a", -1);
        Plan *p = build(&f, 0, &o);
        g_assert_cmpuint(p->skip, ==, PLAN_SKIP_IDENTICAL);
        g_assert_nonnull(p->skip_refused);
        g_assert_nonnull(strstr(p->skip_refused, "ECC"));
        /* The sector is read first to decide: one 128 KB sector at 1 KiB per ms. */
        g_assert_cmpuint(p->estimate_read_ms, ==, 128);
        plan_free(p);

        /* Unknown part: refused as well. */
        DfuError error = DFU_ERROR_INIT;
        g_assert_cmpint(plan_build(f.img, &f.map->layouts[0], 2048, NULL, &o, &p, &error), ==, 0);
        g_assert_cmpuint(p->skip, ==, PLAN_SKIP_IDENTICAL);
        g_assert_nonnull(p->skip_refused);
        g_assert_cmpuint(p->estimate_ms, ==, 0);
        plan_free(p);
        fixture_done(&f);

        fixture_init(&f, "f405");
        add(&f, 0x08000000, 100, "a", -1);
        p = build(&f, 0, &o);
        g_assert_cmpuint(p->skip, ==, PLAN_SKIP_BLANK | PLAN_SKIP_IDENTICAL);
        g_assert_null(p->skip_refused);
        plan_free(p);
        fixture_done(&f);
}

static void test_ecc_padding(void) {
        Fixture f;
        fixture_init(&f, "h743");
        /* Two segments in one 32-byte flash word must go in one write; a far one pads its own word. */
        add(&f, 0x08000000, 4, "a", -1);
        add(&f, 0x08000010, 4, "b", -1);
        add(&f, 0x08000100, 33, "c", -1);
        _cleanup_(plan_freep) Plan *p = build(&f, 0, NULL);

        g_assert_cmpuint(p->flash_word, ==, 32);
        g_assert_cmpuint(p->n_runs, ==, 2);
        g_assert_cmpuint(p->runs[0].size, ==, 32);
        g_assert_cmpuint(p->runs[0].data[3], ==, 3);
        for (size_t i = 4; i < 16; i++)
                g_assert_cmpuint(p->runs[0].data[i], ==, 0xFF);
        g_assert_cmpuint(p->runs[0].data[16], ==, 0x10);
        g_assert_cmphex(p->runs[1].address, ==, 0x08000100);
        g_assert_cmpuint(p->runs[1].size, ==, 64);
        /* Never a gap filled: 0x08000020..0x080000FF is not written. */
        g_assert_cmpuint(p->bytes_total, ==, 32 + 64);
        g_assert_cmpuint(p->n_erases, ==, 1);
        fixture_done(&f);
}

static void test_estimate(void) {
        Fixture f;
        fixture_init(&f, "h743");
        add(&f, 0x08000000, 2048, "a", -1);
        PlanOptions o = {.verify = true, .leave = true};
        _cleanup_(plan_freep) Plan *p = build(&f, 0, &o);

        /* One 128 KB sector (1099 ms) + 2 KiB programmed (8.32 ms) + 2 KiB down and up (2 ms each). */
        g_assert_cmpuint(p->estimate_ms, ==, DIV_ROUND_UP(1099000 + 8320 + 2000 + 2000, 1000));
        /* By phase, as the daemon weighs its progress: nothing read, the erase, write, verify. */
        g_assert_cmpuint(p->estimate_read_ms, ==, 0);
        g_assert_cmpuint(p->estimate_erase_ms, ==, 1099);
        g_assert_cmpuint(p->estimate_write_ms, ==, DIV_ROUND_UP(8320 + 2000, 1000));
        g_assert_cmpuint(p->estimate_verify_ms, ==, 2);
        g_assert_true(p->verify);
        g_assert_true(p->leave);
        /* No entry point: the leave goes through the first kept byte, never the last run's pointer. */
        g_assert_true(p->has_leave_address);
        g_assert_cmphex(p->leave_address, ==, 0x08000000);
        fixture_done(&f);
}

static void test_leave_address(void) {
        Fixture f;
        fixture_init(&f, "g431");
        add(&f, 0x08000000, 3000, "a", -1);
        f.img->has_entry = true;
        f.img->entry = 0x08000299;
        /* No vector table points at the entry: fall back to the first kept byte. */
        Plan *p = build(&f, 0, NULL);
        g_assert_true(p->has_leave_address);
        g_assert_cmphex(p->leave_address, ==, 0x08000000);
        g_assert_cmpuint(p->transfer_size, ==, 1024);
        g_assert_cmpuint(p->blocks_total, ==, 3);
        g_assert_cmpuint(p->flash_word, ==, 8);
        g_assert_cmpuint(p->bytes_total, ==, 3000);
        g_assert_cmpuint(p->n_erases, ==, 2);
        plan_free(p);

        /* A vector table at 0x08000200 (initial SP, then the reset vector = entry): jump through it. */
        const uint8_t table[8] = {0x00, 0x00, 0x02, 0x20, 0x99, 0x02, 0x00, 0x08};
        memcpy(f.img->segments[0].data + 0x200, table, sizeof(table));
        p = build(&f, 0, NULL);
        g_assert_cmphex(p->leave_address, ==, 0x08000200);
        plan_free(p);
        fixture_done(&f);

        /*
         * The table as the last 8 bytes of a later run, its SP the lowest address taken as RAM
         * (0x10000000): still found, not the fallback to the first kept byte.
         */
        const uint8_t low_sp[8] = {0x00, 0x00, 0x00, 0x10, 0x99, 0x02, 0x00, 0x08};
        fixture_init(&f, "g431");
        add(&f, 0x08000000, 16, "a", -1);
        g_assert_cmpint(image_add_segment(f.img, 0x08000100, low_sp, 8, "vt", -1, NULL), ==, 0);
        f.img->has_entry = true;
        f.img->entry = 0x08000299;
        p = build(&f, 0, NULL);
        g_assert_cmpuint(p->n_runs, ==, 2);
        g_assert_cmpuint(p->runs[1].size, ==, 8);
        g_assert_cmphex(p->leave_address, ==, 0x08000100);
        plan_free(p);
        fixture_done(&f);
        g_assert_null(plan_free(NULL));
}

static void test_option_bytes(void) {
        Fixture f;
        fixture_init(&f, "h743");
        add(&f, 0x08000000, 64, "flash", 0);
        add(&f, 0x5200201C, 128, "ob", 1);
        PlanOptions o = {.mass_erase = true};
        _cleanup_(plan_freep) Plan *p0 = build(&f, 0, &o);
        _cleanup_(plan_freep) Plan *p1 = build(&f, 1, &o);

        g_assert_cmpuint(p0->n_runs, ==, 1);
        g_assert_true(p0->mass_erase);
        /* The option area: not erasable, written as it is, never padded past its end. */
        g_assert_cmpuint(p1->alt_setting, ==, 1);
        g_assert_false(p1->mass_erase);
        g_assert_cmpuint(p1->n_erases, ==, 0);
        g_assert_cmpuint(p1->n_runs, ==, 1);
        g_assert_cmphex(p1->runs[0].address, ==, 0x5200201C);
        g_assert_cmpuint(p1->runs[0].size, ==, 128);

        /* A segment that names alternate setting 0 belongs to it, whatever setting the options name. */
        PlanOptions other = {.alt_setting = 1};
        _cleanup_(plan_freep) Plan *p2 = build(&f, 0, &other);
        g_assert_cmpuint(p2->n_runs, ==, 1);
        g_assert_cmphex(p2->runs[0].address, ==, 0x08000000);
        g_assert_cmpuint(p2->runs[0].size, ==, 64);
        fixture_done(&f);
}

static void test_errors(void) {
        Fixture f;
        DfuError error = DFU_ERROR_INIT;
        Plan *p = NULL;

        fixture_init(&f, "h743");
        add(&f, 0x24000000, 64, "ram", -1);
        g_assert_cmpint(plan_build(f.img, &f.map->layouts[0], 2048, f.part, NULL, &p, &error), ==, -EINVAL);
        g_assert_nonnull(strstr(error.message, "0x24000000"));
        g_assert_null(p);
        g_assert_cmpint(plan_build(f.img, &f.map->layouts[0], 0, f.part, NULL, &p, NULL), ==, -EINVAL);
        fixture_done(&f);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/plan/runs", test_runs);
        g_test_add_func("/plan/erase-once", test_erase_once);
        g_test_add_func("/plan/mass-erase", test_mass_erase);
        g_test_add_func("/plan/skip-blank", test_skip_blank);
        g_test_add_func("/plan/ecc-padding", test_ecc_padding);
        g_test_add_func("/plan/estimate", test_estimate);
        g_test_add_func("/plan/leave-address", test_leave_address);
        g_test_add_func("/plan/option-bytes", test_option_bytes);
        g_test_add_func("/plan/errors", test_errors);
        return test_run();
}
