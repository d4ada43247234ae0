/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "option-bytes.h"
#include "parts.h"
#include "test-main.h"
#include <glib.h>

static uint32_t word(const uint8_t *b, unsigned off) {
        return (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 | (uint32_t)b[off + 2] << 16 |
               (uint32_t)b[off + 3] << 24;
}

/* Every family matches the option-byte alternate setting of each of its parts, and its factory block
 * decodes to every field's reset value with consistent complements. */
static void test_tables(void) {
        for (size_t i = 0; i < option_bytes_n_families; i++) {
                const OptionBytesFamily *f = &option_bytes_families[i];
                uint8_t block[OPTION_BYTES_MAX];
                DfuError e = DFU_ERROR_INIT;

                g_test_message("%s (%s)", f->name, f->source);
                g_assert_cmpuint(f->size, <=, OPTION_BYTES_MAX);
                for (const char *const *p = f->parts; *p; p++) {
                        const PartInfo *part = part_find(*p);
                        _cleanup_(memmap_freep) MemMap *map = NULL;
                        g_assert_nonnull(part);
                        g_assert_true(option_bytes_family_for_part(part) == f);
                        g_assert_cmpint(part_memmap(part, &map, &e), ==, 0);
                        g_assert_cmpuint(map->n_layouts, >=, 2);
                        g_assert_cmphex(map->layouts[1].regions[0].address, ==, f->address);
                        g_assert_cmpuint(map->layouts[1].regions[0].size, ==, f->size);
                }
                /* The factory block and the fields' reset values tell the same story. */
                option_bytes_reset_block(f, block);
                g_assert_cmpint(option_bytes_check(f, block, &e), ==, 0);
                g_assert_cmpuint(option_bytes_rdp_level(f, block), ==, 0);
                for (size_t k = 0; k < f->n_fields; k++) {
                        const OptionBytesField *fl = &f->fields[k];
                        g_assert_cmpuint(fl->offset + 4u, <=, f->size);
                        g_assert_cmpuint(option_bytes_field_get(fl, block), ==, fl->reset);
                        g_assert_true(option_bytes_field_find(f, fl->name) == fl);
                }
        }
        g_assert_null(option_bytes_family_find("f072"));
        g_assert_true(option_bytes_family_find("H743") == option_bytes_family_find("h7"));
}

/* The factory words the reference manuals give. */
static void test_reset_values(void) {
        uint8_t b[OPTION_BYTES_MAX];

        /* RM0090: USER 0xEF (BOR off, software watchdog, no resets), RDP 0xAA, nWRP 0xFFF. */
        option_bytes_reset_block(option_bytes_family_find("f4"), b);
        g_assert_cmphex(word(b, 0), ==, 0x5510AAEF);
        g_assert_cmphex(word(b, 8), ==, 0xF0000FFF);
        /* RM0351 FLASH_OPTR reset, and its complement. */
        option_bytes_reset_block(option_bytes_family_find("l4"), b);
        g_assert_cmphex(word(b, 0), ==, 0xFFEFF8AA);
        g_assert_cmphex(word(b, 4), ==, ~0xFFEFF8AAu);
        /* RM0440 FLASH_OPTR reset of category 2 parts. */
        option_bytes_reset_block(option_bytes_family_find("g4"), b);
        g_assert_cmphex(word(b, 0), ==, 0xFFEFF8AA);
        /* H7: RDP 0xAA in OPTSR_CUR and OPTSR_PRG, BOR off. */
        option_bytes_reset_block(option_bytes_family_find("h7"), b);
        g_assert_cmphex((word(b, 0) >> 8) & 0xFF, ==, 0xAA);
        g_assert_cmphex(word(b, 0), ==, word(b, 4));
        g_assert_cmphex(word(b, 0) & 0xC, ==, 0);
}

static void test_changes(void) {
        const OptionBytesFamily *f4 = option_bytes_family_find("f405"),
                                *h7 = option_bytes_family_find("h743");
        OptionBytesChange c[OPTION_BYTES_CHANGES_MAX];
        uint8_t b[OPTION_BYTES_MAX], before[OPTION_BYTES_MAX];
        DfuError e = DFU_ERROR_INIT;
        char buf[64];
        size_t n = 0;

        option_bytes_reset_block(f4, b);
        memcpy(before, b, sizeof(b));
        g_assert_cmpint(option_bytes_parse_changes(f4, "bor_lev=2,wdg_sw=0", false, c, &n, &e), ==, 0);
        g_assert_cmpuint(n, ==, 2);
        option_bytes_apply(c, n, b);
        g_assert_cmpint(option_bytes_check(f4, b, &e), ==, 0);
        g_assert_cmpstr(
                option_bytes_field_format(option_bytes_field_find(f4, "bor_lev"),
                                          option_bytes_field_get(option_bytes_field_find(f4, "bor_lev"), b),
                                          buf, sizeof(buf)),
                ==, "2");
        /* Only the named fields (and their complements) changed. */
        g_assert_cmphex(b[0], ==, (before[0] & ~0x2C) | 0x04);
        g_assert_cmphex(b[2], ==, (uint8_t)~b[0]);
        g_assert_cmpmem(b + 4, 12, before + 4, 12);
        g_assert_cmphex(b[1], ==, 0xAA);

        option_bytes_reset_block(h7, b);
        g_assert_cmpint(option_bytes_parse_changes(h7, "bor_lev=3", false, c, &n, &e), ==, 0);
        option_bytes_apply(c, n, b);
        g_assert_cmphex(word(b, 0) & 0xC, ==, 0xC);
        g_assert_cmphex(word(b, 4) & 0xC, ==, 0xC);

        /* Refusals. */
        struct {
                const OptionBytesFamily *f;
                const char *spec;
                bool permanent;
                int r;
                const char *words;
        } bad[] = {
                {f4, "foo=1", false, -EINVAL, "no field \"foo\""},
                {f4, "bor_lev=4", false, -EINVAL, "not allowed; allowed: 3, 2, 1, off"},
                {f4, "nwrp=0x1000", false, -EINVAL, "out of range"},
                {f4, "nwrp=-1", false, -EINVAL, "out of range"},
                {f4, "rdp=2", false, -EPERM, "allow-permanent-lock"},
                {f4, "bor_lev", false, -EINVAL, "not FIELD=VALUE"},
                {f4, "bor_lev=1,bor_lev=2", false, -EINVAL, "given twice"},
                {f4, "", false, -EINVAL, "No option bytes"},
                {h7, "wdg_sw=1", false, -EINVAL, "no field"},
                {NULL, "bor_lev=1", false, -EINVAL, "No option-byte table"},
        };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                e = (DfuError)DFU_ERROR_INIT;
                g_assert_cmpint(
                        option_bytes_parse_changes(bad[i].f, bad[i].spec, bad[i].permanent, c, &n, &e), ==,
                        bad[i].r);
                g_test_message("%s: %s", bad[i].spec, e.message);
                g_assert_nonnull(strstr(e.message, bad[i].words));
        }
        g_assert_cmpint(option_bytes_parse_changes(f4, "rdp=2", true, c, &n, &e), ==, 0);
        option_bytes_reset_block(f4, b);
        option_bytes_apply(c, n, b);
        g_assert_cmpuint(option_bytes_rdp_level(f4, b), ==, 2);
        g_assert_cmpint(option_bytes_parse_changes(f4, "rdp=1", false, c, &n, &e), ==, 0);
        option_bytes_apply(c, n, b);
        g_assert_cmpuint(option_bytes_rdp_level(f4, b), ==, 1);

        /* A broken complement is noticed. */
        b[2] ^= 1;
        g_assert_cmpint(option_bytes_check(f4, b, &e), ==, -EBADMSG);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/option-bytes/tables", test_tables);
        g_test_add_func("/option-bytes/reset-values", test_reset_values);
        g_test_add_func("/option-bytes/changes", test_changes);
        return test_run();
}
