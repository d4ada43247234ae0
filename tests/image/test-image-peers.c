/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The readers against the tools users have today: random segment sets written by our Intel HEX
 * writer are converted by srec_cat (S-record, Intel HEX with its own record layout, 0xFF-filled
 * binary) and must read back as the same bytes; dfu-suffix must accept our DfuSe files and we
 * must read its suffixes.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "image-test.h"
#include "test-main.h"

static char *tmpdir;

static void run(const char *const *argv) {
        g_autoptr(GError) e = NULL;
        g_autofree char *out = NULL, *err = NULL;
        int status;
        if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &e))
                g_error("%s: %s", argv[0], e->message);
        if (!g_spawn_check_wait_status(status, &e))
                g_error("%s failed: %s\n%s%s", argv[0], e->message, out, err);
}

static char *tmp_path(const char *name) {
        return g_build_filename(tmpdir, name, NULL);
}

static Image *load(const char *path, const ImageLoadOptions *opts) {
        DfuError error = DFU_ERROR_INIT;
        Image *image = NULL;
        if (image_load_path(path, opts, &image, &error) < 0)
                g_error("%s", error.message);
        return image;
}

static void write_file(const Image *image, const char *path, int (*write)(const Image *, int, DfuError *)) {
        DfuError error = DFU_ERROR_INIT;
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        g_assert_cmpint(fd, >=, 0);
        if (write(image, fd, &error) < 0)
                g_error("%s", error.message);
        close(fd);
}

static void test_srec_cat(void) {
#ifdef SREC_CAT
        g_autoptr(GRand) rand = g_rand_new_with_seed(3);
        g_autofree char *hex = tmp_path("x.hex"), *srec = tmp_path("y.srec"), *hex2 = tmp_path("w.hex"),
                        *bin = tmp_path("z.bin"), *ours = tmp_path("ours.bin");

        for (unsigned round = 0; round < 8; round++) {
                _cleanup_(image_freep) Image *image =
                        random_image(rand, round + 1, 0x08000000 + round * 0x1234);
                image->has_entry = true;
                image->entry = 0x08000401;
                write_file(image, hex, image_write_ihex);

                run((const char *const[]){SREC_CAT, hex, "-intel", "-o", srec, "-motorola", NULL});
                _cleanup_(image_freep) Image *s = load(srec, NULL);
                g_assert_cmpint(s->format, ==, IMAGE_FORMAT_SREC);
                assert_same_content(image, s);

                run((const char *const[]){SREC_CAT, hex, "-intel", "-o", hex2, "-intel", "-line-length=76",
                                          NULL});
                _cleanup_(image_freep) Image *h = load(hex2, NULL);
                assert_same_content(image, h);
                g_assert_cmphex(h->entry, ==, image->entry);

                /* Gaps filled with 0xFF, from the first address on, as image_write_binary does. */
                g_autofree char *offset = g_strdup_printf("-0x%08X", image->segments[0].address);
                run((const char *const[]){SREC_CAT, "(", hex, "-intel", "-fill", "0xFF", "-over", hex,
                                          "-intel", ")", "-offset", offset, "-o", bin, "-binary", NULL});
                write_file(image, ours, image_write_binary);
                g_autofree char *a = NULL, *b = NULL;
                gsize alen, blen;
                g_assert_true(g_file_get_contents(bin, &a, &alen, NULL));
                g_assert_true(g_file_get_contents(ours, &b, &blen, NULL));
                g_assert_cmpmem(a, alen, b, blen);

                ImageLoadOptions opts = {.has_base = true, .base = image->segments[0].address};
                _cleanup_(image_freep) Image *z = load(bin, &opts);
                g_assert_cmpuint(z->n_segments, ==, 1);
                g_assert_cmpuint(z->segments[0].size, ==, alen);
        }
#else
        test_skip("srec_cat not found");
#endif
}

static void test_dfu_suffix(void) {
#ifdef DFU_SUFFIX
        g_autoptr(GRand) rand = g_rand_new_with_seed(4);
        _cleanup_(image_freep) Image *image = random_image(rand, 3, 0x08000000);
        g_autofree char *dfu = tmp_path("ours.dfu"), *bin = tmp_path("plain.dfu");
        DfuError error = DFU_ERROR_INIT;

        int fd = open(dfu, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        g_assert_cmpint(image_write_dfuse(image, 0, "Internal Flash", 0x0483, 0xDF11, 0x2200, fd, &error),
                        ==, 0);
        close(fd);
        /* dfu-suffix checks the CRC and the suffix fields; it fails on a bad one. */
        run((const char *const[]){DFU_SUFFIX, "-c", dfu, NULL});

        write_file(image, bin, image_write_binary);
        run((const char *const[]){DFU_SUFFIX, "-v", "0483", "-p", "df11", "-d", "2200", "-a", bin, NULL});
        ImageLoadOptions opts = {.has_base = true, .base = image->segments[0].address};
        _cleanup_(image_freep) Image *plain = load(bin, &opts);
        g_assert_cmphex(plain->suffix_vid, ==, 0x0483);
        g_assert_cmphex(plain->suffix_pid, ==, 0xDF11);
        g_assert_cmphex(plain->suffix_bcd_device, ==, 0x2200);
        /* The suffix is gone, the gaps are 0xFF: the same bytes as the image where it has any. */
        g_assert_cmpuint(plain->segments[0].size, ==,
                         image->segments[image->n_segments - 1].address +
                                 image->segments[image->n_segments - 1].size - image->segments[0].address);
        for (size_t i = 0; i < image->n_segments; i++)
                g_assert_cmpmem(plain->segments[0].data +
                                        (image->segments[i].address - image->segments[0].address),
                                image->segments[i].size, image->segments[i].data, image->segments[i].size);
#else
        test_skip("dfu-suffix not found");
#endif
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        tmpdir = g_dir_make_tmp("image-peers-XXXXXX", NULL);
        g_assert_nonnull(tmpdir);
        g_test_add_func("/peers/srec-cat", test_srec_cat);
        g_test_add_func("/peers/dfu-suffix", test_dfu_suffix);
        int r = test_run();
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
        (void)!system(cmd);
        g_free(tmpdir);
        return r;
}
