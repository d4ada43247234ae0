/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The stream dfusctl -H writes on ssh's standard input and the remote dfusctl reads: round trips, the
 * caps (refused from the announcement alone, before any byte of the body is read), every truncation,
 * and names that are not base names. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image-stream.h"
#include "test-main.h"

/* A memfd holding bytes, at offset 0: a stream to read, or a file to send. */
static int memfd_with(const void *data, size_t len) {
        int fd = memfd_create("test", MFD_CLOEXEC);

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(write(fd, data, len), ==, (ssize_t)len);
        g_assert_cmpint(lseek(fd, 0, SEEK_SET), ==, 0);
        return fd;
}

static GBytes *fd_contents(int fd) {
        GByteArray *a = g_byte_array_new();
        uint8_t buf[4096];
        ssize_t k;

        while ((k = read(fd, buf, sizeof buf)) > 0)
                g_byte_array_append(a, buf, (guint)k);
        g_assert_cmpint(k, ==, 0);
        return g_byte_array_free_to_bytes(a);
}

/* Writes files[] (name, bytes) as a stream; returns the stream's bytes. */
static GBytes *stream_of(const char *const *names, GBytes *const *data, size_t n) {
        g_autofree ImageStreamFile *files = g_new0(ImageStreamFile, MAX(n, 1));
        DfuError error = DFU_ERROR_INIT;
        int out = memfd_create("stream", MFD_CLOEXEC);
        GBytes *s;

        for (size_t i = 0; i < n; i++) {
                gsize len;
                const void *p = g_bytes_get_data(data[i], &len);
                files[i] =
                        (ImageStreamFile){.name = (char *)names[i], .fd = memfd_with(p, len), .size = len};
                /* The writer reads from offset 0 whatever the file's offset. */
                g_assert_cmpint(lseek(files[i].fd, len / 2, SEEK_SET), >=, 0);
        }
        g_assert_cmpint(image_stream_write(out, files, n, &error), ==, 0);
        for (size_t i = 0; i < n; i++)
                close(files[i].fd);
        g_assert_cmpint(lseek(out, 0, SEEK_SET), ==, 0);
        s = fd_contents(out);
        close(out);
        return s;
}

/* Reads bytes as a stream; returns the errno and fills *files or *message. */
static int read_stream(const void *bytes, size_t len, uint64_t cap, ImageStreamFile **files, size_t *n,
                       char **message) {
        DfuError error = DFU_ERROR_INIT;
        int in = memfd_with(bytes, len), r;

        *files = NULL;
        *n = 0;
        r = image_stream_read(in, cap, files, n, &error);
        close(in);
        if (message)
                *message = r < 0 ? g_strdup(dfu_error_message(&error)) : NULL;
        return r;
}

static GBytes *pattern(size_t n, unsigned seed) {
        uint8_t *p = g_malloc(n ?: 1);

        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 8));
        return g_bytes_new_take(p, n);
}

static void test_round_trip(void) {
        /* Larger than the copy buffer, empty, and standard input's name. */
        g_autoptr(GBytes) a = pattern(200 * 1024 + 3, 1), b = pattern(0, 2), c = pattern(17, 3);
        GBytes *data[] = {a, b, c};
        const char *names[] = {"app.hex", "empty.bin", "-"};
        g_autoptr(GBytes) s = stream_of(names, data, 3);
        ImageStreamFile *files;
        size_t n;

        g_assert_cmpint(
                read_stream(g_bytes_get_data(s, NULL), g_bytes_get_size(s), 1 << 20, &files, &n, NULL), ==,
                0);
        g_assert_cmpuint(n, ==, 3);
        for (size_t i = 0; i < n; i++) {
                int fd = image_stream_open(files, n, names[i]);
                g_autoptr(GBytes) got = NULL;

                g_assert_cmpstr(files[i].name, ==, names[i]);
                g_assert_cmpuint(files[i].size, ==, g_bytes_get_size(data[i]));
                /* Sealed: nobody changes the bytes on their way to the daemon. */
                g_assert_cmpint(fcntl(files[i].fd, F_GET_SEALS) & F_SEAL_WRITE, ==, F_SEAL_WRITE);
                g_assert_cmpint(fd, >=, 0);
                got = fd_contents(fd);
                g_assert_true(g_bytes_equal(got, data[i]));
                close(fd);
                /* Each open starts at offset 0 again. */
                fd = image_stream_open(files, n, names[i]);
                g_clear_pointer(&got, g_bytes_unref);
                got = fd_contents(fd);
                g_assert_true(g_bytes_equal(got, data[i]));
                close(fd);
        }
        g_assert_cmpint(image_stream_open(files, n, "other.hex"), ==, -ENOENT);
        image_stream_files_free(files, n);
}

static void test_zero_files(void) {
        g_autoptr(GBytes) s = stream_of(NULL, NULL, 0);
        ImageStreamFile *files;
        size_t n = 99;

        g_assert_cmpuint(g_bytes_get_size(s), ==, IMAGE_STREAM_MAGIC_LEN + 8);
        g_assert_cmpint(read_stream(g_bytes_get_data(s, NULL), g_bytes_get_size(s), 1024, &files, &n, NULL),
                        ==, 0);
        g_assert_cmpuint(n, ==, 0);
        image_stream_files_free(files, n);
}

/* A header announcing count files, then one file head with size and a name of name_len bytes. */
static GByteArray *crafted(uint32_t count, uint64_t size, uint16_t name_len, const char *name) {
        GByteArray *a = g_byte_array_new();
        uint8_t le[8];

        g_byte_array_append(a, (const uint8_t *)IMAGE_STREAM_MAGIC, IMAGE_STREAM_MAGIC_LEN);
        for (int i = 0; i < 4; i++)
                le[i] = (uint8_t)(IMAGE_STREAM_VERSION >> (8 * i));
        g_byte_array_append(a, le, 4);
        for (int i = 0; i < 4; i++)
                le[i] = (uint8_t)(count >> (8 * i));
        g_byte_array_append(a, le, 4);
        for (int i = 0; i < 8; i++)
                le[i] = (uint8_t)(size >> (8 * i));
        g_byte_array_append(a, le, 8);
        le[0] = (uint8_t)name_len;
        le[1] = (uint8_t)(name_len >> 8);
        g_byte_array_append(a, le, 2);
        g_byte_array_append(a, (const uint8_t *)name, (guint)strlen(name));
        return a;
}

static void expect_refused(GByteArray *a, uint64_t cap, int code, const char *message) {
        g_autofree char *got = NULL;
        ImageStreamFile *files;
        size_t n;

        g_assert_cmpint(read_stream(a->data, a->len, cap, &files, &n, &got), ==, code);
        g_assert_null(files);
        if (!strstr(got, message))
                g_error("expected \"%s\" in \"%s\"", message, got);
        g_byte_array_unref(a);
}

static void test_caps(void) {
        /* A million times the caps: refused from the numbers, with nothing behind them in the stream
         * (reading or allocating first would say "stream ended" instead). */
        expect_refused(crafted(IMAGE_STREAM_FILES_MAX * 1000000u, 0, 0, ""), 1024, -E2BIG,
                       "33000000 files announced, at most 33");
        expect_refused(crafted(1, UINT64_C(1024) * 1000000, 7, "app.hex"), 1024, -EFBIG,
                       "file 1 of 1 (app.hex): 1024000000 bytes, more than the 1024 bytes a file may have");
        expect_refused(crafted(1, UINT64_MAX, 7, "app.hex"), UINT64_C(64) << 20, -EFBIG,
                       "18446744073709551615 bytes, more than the 67108864");
        expect_refused(crafted(1, 4, 65535, ""), 1024, -EBADMSG,
                       "file 1 of 1: a name of 65535 bytes, expected 1 to 255");
        expect_refused(crafted(1, 4, 0, ""), 1024, -EBADMSG, "a name of 0 bytes, expected 1 to 255");

        /* Exactly the cap is fine; one byte more is not, even when the announcement lied. */
        g_autoptr(GBytes) big = pattern(1024, 4), more = pattern(1025, 5);
        g_autoptr(GBytes) s1 = stream_of((const char *[]){"a"}, (GBytes *[]){big}, 1);
        g_autoptr(GBytes) s2 = stream_of((const char *[]){"a"}, (GBytes *[]){more}, 1);
        ImageStreamFile *files;
        size_t n;

        g_assert_cmpint(
                read_stream(g_bytes_get_data(s1, NULL), g_bytes_get_size(s1), 1024, &files, &n, NULL), ==,
                0);
        image_stream_files_free(files, n);
        g_assert_cmpint(
                read_stream(g_bytes_get_data(s2, NULL), g_bytes_get_size(s2), 1024, &files, &n, NULL), ==,
                -EFBIG);

        /* What the sender reads from a pipe into memory is capped too. */
        int fd = memfd_with(g_bytes_get_data(more, NULL), 1025);
        uint64_t size;
        g_assert_cmpint(image_stream_memfd_from(fd, 1024, "t", &size), ==, -EFBIG);
        g_assert_cmpint(lseek(fd, 0, SEEK_SET), ==, 0);
        int copy = image_stream_memfd_from(fd, 1025, "t", &size);
        g_assert_cmpint(copy, >=, 0);
        g_assert_cmpuint(size, ==, 1025);
        close(copy);
        close(fd);
}

/* Every proper prefix of a valid stream is refused as cut short, naming the part it was in. */
static void test_truncation(void) {
        g_autoptr(GBytes) a = pattern(100, 6), b = pattern(50, 7);
        g_autoptr(GBytes) s = stream_of((const char *[]){"app.hex", "cm4.hex"}, (GBytes *[]){a, b}, 2);
        const uint8_t *p = g_bytes_get_data(s, NULL);
        size_t len = g_bytes_get_size(s);
        /* header 16, file 1 head 10 + 7 + 100, file 2 head 10 + 7 + 50 */
        const struct {
                size_t cut;
                const char *message;
        } named[] = {
                {0, "stream ended after 0 of the 16 bytes of its header"},
                {15, "stream ended after 15 of the 16 bytes of its header"},
                {16 + 9, "file 1 of 2: stream ended after 9 of the 10 bytes of its size and name length"},
                {16 + 10 + 3, "file 1 of 2: stream ended after 3 of the 7 bytes of its name"},
                {16 + 17 + 40, "file 1 of 2 (app.hex): stream ended after 40 of 100 bytes"},
                {16 + 117 + 17 + 49, "file 2 of 2 (cm4.hex): stream ended after 49 of 50 bytes"},
        };
        ImageStreamFile *files;
        size_t n;

        g_assert_cmpuint(len, ==, 16 + 117 + 67);
        for (size_t cut = 0; cut < len; cut++) {
                g_autofree char *message = NULL;

                g_assert_cmpint(read_stream(p, cut, 1024, &files, &n, &message), ==, -EBADMSG);
                g_assert_nonnull(strstr(message, "stream ended after"));
        }
        for (size_t i = 0; i < G_N_ELEMENTS(named); i++) {
                g_autofree char *message = NULL;

                g_assert_cmpint(read_stream(p, named[i].cut, 1024, &files, &n, &message), ==, -EBADMSG);
                g_assert_cmpstr(message, ==, named[i].message);
        }
        g_assert_cmpint(read_stream(p, len, 1024, &files, &n, NULL), ==, 0);
        g_assert_cmpuint(n, ==, 2);
        image_stream_files_free(files, n);

        /* One byte too many is as wrong as one too few. */
        g_autofree uint8_t *longer = g_malloc(len + 1);
        g_autofree char *message = NULL;
        memcpy(longer, p, len);
        longer[len] = 'x';
        g_assert_cmpint(read_stream(longer, len + 1, 1024, &files, &n, &message), ==, -EBADMSG);
        g_assert_cmpstr(message, ==, "unexpected data after the last of 2 files");
}

static void test_bad_header(void) {
        GByteArray *a = crafted(1, 0, 1, "a");

        a->data[0] = 'X';
        expect_refused(a, 1024, -EBADMSG, "not an image stream: expected \"DFUSCTL\\n\"");
        a = crafted(1, 0, 1, "a");
        a->data[IMAGE_STREAM_MAGIC_LEN] = 2;
        expect_refused(a, 1024, -EPROTO, "stream version 2, this dfusctl reads version 1");
}

static void test_names(void) {
        const char *bad[] = {"../etc/passwd", "/etc/passwd", "a/b", "..", "."};
        g_autoptr(GBytes) empty = pattern(0, 0);
        DfuError error = DFU_ERROR_INIT;

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autofree char *message =
                        g_strdup_printf("file 1 of 1: name \"%s\" is not a base name", bad[i]);
                ImageStreamFile f = {.name = (char *)bad[i], .fd = -1};
                int out = memfd_create("stream", MFD_CLOEXEC);

                g_assert_false(image_stream_name_valid(bad[i]));
                expect_refused(crafted(1, 0, (uint16_t)strlen(bad[i]), bad[i]), 1024, -EBADMSG, message);
                /* The writer refuses them too. */
                g_assert_cmpint(image_stream_write(out, &f, 1, &error), ==, -EINVAL);
                close(out);
        }
        /* A NUL inside the announced length. */
        GByteArray *a = crafted(1, 0, 3, "a");
        g_byte_array_append(a, (const uint8_t *)"\0b", 2);
        expect_refused(a, 1024, -EBADMSG, "is not a base name");

        /* Two files of one name: the remote command line could not tell them apart. */
        g_autoptr(GBytes) s =
                stream_of((const char *[]){"app.hex", "app.hex"}, (GBytes *[]){empty, empty}, 2);
        ImageStreamFile *files;
        size_t n;
        g_autofree char *message = NULL;
        g_assert_cmpint(
                read_stream(g_bytes_get_data(s, NULL), g_bytes_get_size(s), 1024, &files, &n, &message), ==,
                -EBADMSG);
        g_assert_cmpstr(message, ==, "file 2 of 2 (app.hex): a second file of that name");
        g_assert_true(image_stream_name_valid("app v2 'rc' $x.hex"));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/image-stream/round-trip", test_round_trip);
        g_test_add_func("/image-stream/zero-files", test_zero_files);
        g_test_add_func("/image-stream/caps", test_caps);
        g_test_add_func("/image-stream/truncation", test_truncation);
        g_test_add_func("/image-stream/bad-header", test_bad_header);
        g_test_add_func("/image-stream/names", test_names);
        return test_run();
}
