/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "test-main.h"
#include <glib.h>
#include <glib/gstdio.h>

/*
 * The bytes `dfusctl inspect --family h743 --export` keeps must be exactly those srec_cat keeps when
 * it crops the same file to the H743's flash, and for an ELF exactly what objcopy extracts from its
 * flash sections. Random images are seeded; a failure names the seed (DFUSD_DIFF_SEED reruns one).
 */

#define FLASH_START 0x08000000u
#define FLASH_END   0x08200000u

typedef struct Area {
        uint32_t start, end;
} Area;

static const Area areas[] = {
        {FLASH_START, FLASH_END}, {FLASH_START, FLASH_END}, {FLASH_START, FLASH_END}, /* weighted */
        {0x20000000, 0x20020000},                                                     /* DTCM */
        {0x24000000, 0x24080000},                                                     /* AXI SRAM */
        {0x38000000, 0x38010000},                                                     /* SRAM4 */
};

static int run(char **argv, char **out) {
        g_autoptr(GError) error = NULL;
        g_autofree char *err = NULL;
        int status;

        if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out, &err, &status, &error))
                g_error("cannot run %s: %s", argv[0], error->message);
        if (err && err[0])
                g_test_message("%s: %s", argv[0], err);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static Image *load(const char *path) {
        DfuError error = DFU_ERROR_INIT;
        Image *img = NULL;

        if (image_load_path(path, NULL, &img, &error) < 0)
                g_error("%s", error.message);
        return img;
}

/* The image as maximal runs of bytes, whatever the segment boundaries and sources. */
static GArray *flatten(const Image *img, GByteArray **ret_bytes) {
        GArray *runs = g_array_new(FALSE, FALSE, sizeof(Area));
        GByteArray *bytes = g_byte_array_new();

        for (size_t i = 0; i < img->n_segments; i++) {
                const Segment *s = &img->segments[i];
                Area *last = runs->len ? &g_array_index(runs, Area, runs->len - 1) : NULL;
                if (last && last->end == s->address)
                        last->end += s->size;
                else {
                        Area a = {s->address, s->address + s->size};
                        g_array_append_val(runs, a);
                }
                g_byte_array_append(bytes, s->data, s->size);
        }
        *ret_bytes = bytes;
        return runs;
}

static void assert_same(const char *ours, const char *theirs, const char *what) {
        _cleanup_(image_freep) Image *a = load(ours), *b = load(theirs);
        GByteArray *ba, *bb;
        g_autoptr(GArray) ra = flatten(a, &ba), rb = flatten(b, &bb);

        if (ra->len != rb->len)
                g_error("%s: dfusctl kept %u ranges, the reference %u", what, ra->len, rb->len);
        for (unsigned i = 0; i < ra->len; i++) {
                Area x = g_array_index(ra, Area, i), y = g_array_index(rb, Area, i);
                if (x.start != y.start || x.end != y.end)
                        g_error("%s: range %u is 0x%08X-0x%08X in dfusctl's output, 0x%08X-0x%08X in the "
                                "reference",
                                what, i, x.start, x.end, y.start, y.end);
        }
        if (ba->len != bb->len || memcmp(ba->data, bb->data, ba->len) != 0)
                g_error("%s: kept bytes differ", what);
        g_byte_array_unref(ba);
        g_byte_array_unref(bb);
}

static bool overlaps(const Image *img, uint32_t a, uint32_t size) {
        for (size_t i = 0; i < img->n_segments; i++) {
                const Segment *s = &img->segments[i];
                if (a < s->address + s->size && s->address < a + size)
                        return true;
        }
        return false;
}

/* A few segments in flash and RAM, some back to back; none crosses an area's edge. */
static Image *random_image(GRand *rand) {
        Image *img = image_new("in.hex");
        DfuError error = DFU_ERROR_INIT;
        unsigned n = (unsigned)g_rand_int_range(rand, 2, 14);
        uint32_t prev_end = 0;

        for (unsigned i = 0; i < n; i++) {
                const Area *area = &areas[g_rand_int_range(rand, 0, G_N_ELEMENTS(areas))];
                uint32_t size = (uint32_t)g_rand_int_range(rand, 1, g_rand_boolean(rand) ? 300 : 40000);
                uint32_t a;
                if (prev_end && g_rand_int_range(rand, 0, 3) == 0)
                        a = prev_end; /* back to back with the previous one */
                else
                        a = area->start +
                            (uint32_t)g_rand_int_range(rand, 0, (gint32)(area->end - area->start - size));
                bool inside = false;
                for (size_t k = 0; k < G_N_ELEMENTS(areas); k++)
                        inside |= a >= areas[k].start && (uint64_t)a + size <= areas[k].end;
                if (!inside || overlaps(img, a, size))
                        continue;
                g_autofree uint8_t *data = g_malloc(size);
                for (uint32_t k = 0; k < size; k++)
                        data[k] = (uint8_t)g_rand_int(rand);
                g_autofree char *src = g_strdup_printf("seg%u", i);
                g_assert_cmpint(image_add_segment(img, a, data, size, src, -1, &error), ==, 0);
                prev_end = a + size;
        }
        /* At least one flash segment, so the image is accepted. */
        if (!overlaps(img, FLASH_START, FLASH_END - FLASH_START)) {
                uint8_t b[3] = {1, 2, 3};
                g_assert_cmpint(image_add_segment(img, FLASH_START + 0x100000, b, 3, "flash", -1, &error),
                                ==, 0);
        }
        return img;
}

static void test_srec_cat(void) {
        g_autofree char *srec_cat = g_find_program_in_path("srec_cat");
        const char *dfusctl = g_getenv("DFUSCTL");
        g_autofree char *dir = NULL, *in = NULL, *kept = NULL, *ref = NULL;
        guint32 first = 1, count = 24;

        if (!srec_cat) {
                test_skip("srec_cat is not installed (package srecord)");
                return;
        }
        if (g_getenv("DFUSD_DIFF_SEED")) {
                first = (guint32)strtoul(g_getenv("DFUSD_DIFF_SEED"), NULL, 0);
                count = 1;
        }
        dir = g_dir_make_tmp("dfusd-diff-XXXXXX", NULL);
        in = g_build_filename(dir, "in.hex", NULL);
        kept = g_build_filename(dir, "kept.hex", NULL);
        ref = g_build_filename(dir, "out.hex", NULL);

        for (guint32 seed = first; seed < first + count; seed++) {
                g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
                _cleanup_(image_freep) Image *img = random_image(rand);
                DfuError error = DFU_ERROR_INIT;
                g_autofree char *what =
                        g_strdup_printf("seed %u (%zu segments; rerun with DFUSD_DIFF_SEED=%u)", seed,
                                        img->n_segments, seed);
                int fd;

                g_test_message("%s", what);
                fd = open(in, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                g_assert_cmpint(fd, >=, 0);
                g_assert_cmpint(image_write_ihex(img, fd, &error), ==, 0);
                close(fd);

                char *ours[] = {(char *)dfusctl, "inspect", "--family", "h743", "--export", kept, in, NULL};
                char *theirs[] = {srec_cat,     in,   "-intel", "-crop",  "0x08000000",
                                  "0x08200000", "-o", ref,      "-intel", NULL};
                if (run(ours, NULL) != 0)
                        g_error("%s: dfusctl inspect failed", what);
                if (run(theirs, NULL) != 0)
                        g_error("%s: srec_cat failed", what);
                assert_same(kept, ref, what);
        }
        g_unlink(in);
        g_unlink(kept);
        g_unlink(ref);
        g_rmdir(dir);
}

/* The sections of the ELF whose load address lies in the H7's flash and that have contents. */
static GPtrArray *flash_sections(const char *objdump, const char *elf) {
        char *argv[] = {(char *)objdump, "-h", (char *)elf, NULL};
        g_autofree char *out = NULL;
        g_auto(GStrv) lines = NULL;
        GPtrArray *names = g_ptr_array_new_with_free_func(g_free);

        g_assert_cmpint(run(argv, &out), ==, 0);
        lines = g_strsplit(out, "\n", -1);
        for (size_t i = 0; lines[i] && lines[i + 1]; i++) {
                g_auto(GStrv) f = g_strsplit_set(g_strstrip(lines[i]), " \t", -1);
                g_autoptr(GPtrArray) w = g_ptr_array_new();
                for (size_t k = 0; f[k]; k++)
                        if (f[k][0])
                                g_ptr_array_add(w, f[k]);
                /* "Idx Name Size VMA LMA File-off Algn", then the flags line. */
                if (w->len < 7 || !g_ascii_isdigit(((char *)w->pdata[0])[0]))
                        continue;
                uint64_t size = g_ascii_strtoull(w->pdata[2], NULL, 16),
                         lma = g_ascii_strtoull(w->pdata[4], NULL, 16);
                if (size > 0 && lma >= FLASH_START && lma < FLASH_END && strstr(lines[i + 1], "LOAD"))
                        g_ptr_array_add(names, g_strdup(w->pdata[1]));
        }
        return names;
}

static void test_objcopy(void) {
        g_autofree char *objcopy = g_find_program_in_path("arm-none-eabi-objcopy");
        g_autofree char *objdump = g_find_program_in_path("arm-none-eabi-objdump");
        g_autofree char *elf = g_build_filename(g_getenv("FIXTURES"), "dualcore", "cm7.elf", NULL);
        g_autofree char *dir = NULL, *kept = NULL, *ref = NULL;

        if (!objcopy || !objdump) {
                test_skip("arm-none-eabi-objcopy is not installed (package binutils-arm-none-eabi)");
                return;
        }
        dir = g_dir_make_tmp("dfusd-diff-XXXXXX", NULL);
        kept = g_build_filename(dir, "kept.bin", NULL);
        ref = g_build_filename(dir, "ref.bin", NULL);

        g_autoptr(GPtrArray) sections = flash_sections(objdump, elf);
        g_assert_cmpuint(sections->len, >=, 2);
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(argv, g_strdup(objcopy));
        g_ptr_array_add(argv, g_strdup("-O"));
        g_ptr_array_add(argv, g_strdup("binary"));
        g_ptr_array_add(argv, g_strdup("--gap-fill=0xff"));
        for (unsigned i = 0; i < sections->len; i++)
                g_ptr_array_add(argv, g_strdup_printf("--only-section=%s", (char *)sections->pdata[i]));
        g_ptr_array_add(argv, g_strdup(elf));
        g_ptr_array_add(argv, g_strdup(ref));
        g_ptr_array_add(argv, NULL);
        g_assert_cmpint(run((char **)argv->pdata, NULL), ==, 0);

        char *ours[] = {
                (char *)g_getenv("DFUSCTL"), "inspect", "--family", "h747", "--export", kept, elf, NULL};
        g_assert_cmpint(run(ours, NULL), ==, 0);

        g_autofree char *a = NULL, *b = NULL;
        gsize la, lb;
        g_assert_true(g_file_get_contents(kept, &a, &la, NULL));
        g_assert_true(g_file_get_contents(ref, &b, &lb, NULL));
        g_assert_cmpmem(a, la, b, lb);

        g_unlink(kept);
        g_unlink(ref);
        g_rmdir(dir);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        if (!g_getenv("DFUSCTL") || !g_getenv("FIXTURES")) {
                g_printerr("DFUSCTL and FIXTURES must be set (ctest sets them)\n");
                return 1;
        }
        g_test_add_func("/diff/srec_cat-crop", test_srec_cat);
        g_test_add_func("/diff/objcopy-flash-sections", test_objcopy);
        return test_run();
}
