/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Edges of common/ that only a one-line change would cross: a prefix on a full message stays inside
 * the message, an empty image writes nothing, ...
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "image/image.h" /* before glib.h, which replaces MIN and MAX */
#include "memmap.h"
#include "parse-util.h"
#include "parts.h"
#include "patch-place.h"
#include "patch.h"
#include "strv.h"
#include "test-main.h"
#include <glib.h>

/* The byte after the message belongs to whatever follows the DfuError: a prefix must not touch it. */
static void test_error_prefix_bounds(void) {
        struct {
                DfuError e;
                char canary[8];
        } s = {.e = DFU_ERROR_INIT};
        char full[sizeof(s.e.message)];

        memcpy(s.canary, "canary!", sizeof(s.canary));
        memset(full, 'a', sizeof(full) - 1);
        full[sizeof(full) - 1] = 0;
        g_assert_cmpint(dfu_error_set(&s.e, ENOENT, "%s", full), ==, -ENOENT);
        g_assert_cmpint(dfu_error_prefix(&s.e, "image.hex: "), ==, -ENOENT);
        g_assert_cmpuint(strlen(s.e.message), ==, sizeof(s.e.message) - 1);
        g_assert_true(g_str_has_prefix(s.e.message, "image.hex: aaa"));
        g_assert_cmpmem(s.canary, sizeof(s.canary), "canary!", sizeof(s.canary));

        /* no error to prefix: the caller still gets a failure */
        g_assert_cmpint(dfu_error_prefix(NULL, "image.hex: "), ==, -EIO);
        DfuError unset = DFU_ERROR_INIT;
        g_assert_cmpint(dfu_error_prefix(&unset, "image.hex: "), ==, -EIO);
        g_assert_cmpstr(unset.message, ==, "image.hex: ");
}

/* An image without segments writes an empty binary, not the bytes of a segment it does not have. */
static void test_binary_empty(void) {
        _cleanup_(image_freep) Image *image = image_new("empty");
        DfuError error = DFU_ERROR_INIT;
        int fds[2];

        g_assert_cmpint(pipe(fds), ==, 0);
        g_assert_cmpint(image_write_binary(image, fds[1], &error), ==, 0);
        close(fds[1]);
        char buf[16];
        g_assert_cmpint(read(fds[0], buf, sizeof(buf)), ==, 0);
        close(fds[0]);
}

/* Spaces and tabs before the first record are skipped like blank lines, whichever comes first. */
static void test_detect_blanks(void) {
        static const char *const texts[] = {" :00000001FF", "\t:00000001FF", " \t\r\n:00000001FF",
                                            "\t S9030000FC"};
        for (size_t i = 0; i < G_N_ELEMENTS(texts); i++)
                g_assert_cmpint(image_detect_format((const uint8_t *)texts[i], strlen(texts[i])), ==,
                                i < 3 ? IMAGE_FORMAT_IHEX : IMAGE_FORMAT_SREC);
}

static int write_dfuse(const Image *image, int fd, DfuError *error) {
        return image_write_dfuse(image, 0, NULL, 0x0483, 0xdf11, 0x2200, fd, error);
}

/* Each writer refuses a missing image and a closed descriptor before it writes anything. */
static void test_writers_refuse(void) {
        static int (*const writers[])(const Image *, int, DfuError *) = {image_write_binary,
                                                                         image_write_ihex, write_dfuse};
        _cleanup_(image_freep) Image *image = image_new("app");
        static const uint8_t data[4] = {1, 2, 3, 4};

        g_assert_cmpint(image_add_segment(image, 0x08000000, data, sizeof(data), "app", -1, NULL), ==, 0);
        for (size_t i = 0; i < G_N_ELEMENTS(writers); i++) {
                DfuError e1 = DFU_ERROR_INIT, e2 = DFU_ERROR_INIT;
                g_assert_cmpint(writers[i](NULL, STDERR_FILENO, &e1), ==, -EINVAL);
                g_assert_nonnull(strstr(e1.message, "invalid arguments to image_write_"));
                g_assert_cmpint(writers[i](image, -1, &e2), ==, -EINVAL);
                g_assert_nonnull(strstr(e2.message, "invalid arguments to image_write_"));
        }
}

/* No bytes but a length, or nowhere to put the digest: refused, not hashed from whatever is there. */
static void test_sha256_refuses(void) {
        char hex[65] = "";

        g_assert_cmpint(sha256_hex(NULL, 3, hex), ==, -EINVAL);
        g_assert_cmpstr(hex, ==, "");
        g_assert_cmpint(sha256_hex((const uint8_t *)"abc", 3, NULL), ==, -EINVAL);
}

static void test_boolean_words(void) {
        static const char *const yes[] = {"yes", "YES", "true", "True", "on", "ON", "1"};
        static const char *const no[] = {"no", "No", "false", "FALSE", "off", "Off", "0"};
        static const char *const neither[] = {"", "2", "y", "n", "yes ", "enable"};

        for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
                bool v = false;
                g_assert_cmpint(parse_boolean(yes[i], &v), ==, 0);
                g_assert_true(v);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(no); i++) {
                bool v = true;
                g_assert_cmpint(parse_boolean(no[i], &v), ==, 0);
                g_assert_false(v);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(neither); i++) {
                bool v = true;
                g_assert_cmpint(parse_boolean(neither[i], &v), ==, -EINVAL);
                g_assert_true(v);
        }
}

static void test_memmap_add_no_map(void) {
        DfuError e = DFU_ERROR_INIT;

        g_assert_cmpint(memmap_add(NULL, "@Internal Flash  /0x08000000/04*016Kg", &e), ==, -EINVAL);
        g_assert_cmpstr(e.message, ==, "No memory map");
}

/* No alternate settings, or a count of none: no part, whatever the strings hold. */
static void test_part_match_nothing(void) {
        const char *f405[] = {"@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg", NULL};

        g_assert_null(part_match(NULL, 0, 0x2200));
        g_assert_null(part_match(NULL, 1, 0x2200));
        g_assert_null(part_match(f405, 0, 0x2200));
        g_assert_true(part_match(f405, 1, 0x2200) == part_find("f405"));
}

/* A byte whose second digit is not hex is refused, not taken as its first digit and 0xF. */
static void test_patch_bytes_half(void) {
        DfuError e = DFU_ERROR_INIT;
        uint8_t buf[PATCH_WIDTH_MAX];
        Patch p;

        g_assert_cmpint(patch_parse("0x08001000:bytes:2:s", &p, &e), ==, 0);
        g_assert_cmpint(patch_render(&p, "AB0G", buf, &e), ==, -EINVAL);
        g_assert_nonnull(strstr(e.message, "'AB0G' is not hex digits"));
}

/* The bytes a patch adds count against the image's segment cap like any others: the placement fails
 * with the loader's complaint, it does not go on with an image past the cap. */
static void test_patch_fill_past_cap(void) {
        _cleanup_(image_freep) Image *kept = image_new("app");
        DfuError e = DFU_ERROR_INIT;
        static const uint8_t byte = 0x5A;
        MemLayout layout;
        Patch p;

        /* every other byte: IMAGE_SEGMENT_CAP segments that do not touch */
        for (uint32_t i = 0; i < IMAGE_SEGMENT_CAP; i++)
                g_assert_cmpint(image_add_segment(kept, 0x08000000 + 2 * i, &byte, 1, "app", -1, &e), ==, 0);
        g_assert_cmpuint(kept->n_segments, ==, IMAGE_SEGMENT_CAP);
        g_assert_cmpint(
                memlayout_parse("@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg", 0, &layout, &e),
                ==, 0);
        g_assert_cmpint(patch_parse("0x08000001:bytes:1:serial", &p, &e), ==, 0);
        g_assert_cmpint(patch_place_all(kept, &layout, &p, 1, false, false, NULL, &e), ==, -EFBIG);
        g_assert_nonnull(strstr(e.message, "more than 65536 separate segments"));
        memlayout_done(&layout);
}

/* The separator goes between the strings only. */
static void test_strv_join(void) {
        g_autofree char *three = strv_join((char *[]){(char *)"a", (char *)"bc", (char *)"d", NULL}, ", ");
        g_autofree char *one = strv_join((char *[]){(char *)"a", NULL}, ", ");
        g_autofree char *none = strv_join(NULL, ", ");

        g_assert_cmpstr(three, ==, "a, bc, d");
        g_assert_cmpstr(one, ==, "a");
        g_assert_cmpstr(none, ==, "");
}

/* A descriptor that cannot be read (a file opened for writing) fails with the reason, not as an empty
 * file. */
static void test_read_fails(void) {
        g_autofree char *dir = g_dir_make_tmp("common-edges-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "app.hex", NULL);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        DfuError e = DFU_ERROR_INIT;
        uint8_t *buf = NULL;
        size_t size = 7;

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(write(fd, ":00000001FF\n", 12), ==, 12);
        g_assert_cmpint(read_fd_capped(fd, "app.hex", 1024, &buf, &size, &e), ==, -EBADF);
        g_assert_cmpstr(e.message, ==, "app.hex: cannot read: Bad file descriptor");
        g_assert_null(buf);
        close(fd);
        g_assert_cmpint(unlink(path), ==, 0);
        g_assert_cmpint(rmdir(dir), ==, 0);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/common/error/prefix-bounds", test_error_prefix_bounds);
        g_test_add_func("/common/image/binary-empty", test_binary_empty);
        g_test_add_func("/common/image/detect-blanks", test_detect_blanks);
        g_test_add_func("/common/image/writers-refuse", test_writers_refuse);
        g_test_add_func("/common/image/sha256-refuses", test_sha256_refuses);
        g_test_add_func("/common/parse/boolean-words", test_boolean_words);
        g_test_add_func("/common/memmap/add-no-map", test_memmap_add_no_map);
        g_test_add_func("/common/parts/match-nothing", test_part_match_nothing);
        g_test_add_func("/common/patch/bytes-half", test_patch_bytes_half);
        g_test_add_func("/common/patch/fill-past-cap", test_patch_fill_past_cap);
        g_test_add_func("/common/strv/join", test_strv_join);
        g_test_add_func("/common/image/read-fails", test_read_fails);
        return test_run();
}
