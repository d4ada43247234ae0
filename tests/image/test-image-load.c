/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading images from descriptors: what kinds are accepted, and the size cap before and while reading. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "image-test.h"
#include "test-main.h"

static void expect_read_error(int fd, uint64_t cap, const char *fragment) {
        DfuError error = DFU_ERROR_INIT;
        uint8_t *buf = NULL;
        size_t size = 0;
        g_assert_cmpint(read_fd_capped(fd, "input", cap, &buf, &size, &error), <, 0);
        g_assert_null(buf);
        if (!strstr(error.message, fragment))
                g_error("message \"%s\" lacks \"%s\"", error.message, fragment);
}

static void test_regular_file_cap(void) {
        g_autofree char *path = NULL;
        int fd = g_file_open_tmp("image-XXXXXX.hex", &path, NULL);
        const char *text = ":0400000000010203F6\n:00000001FF\n";
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(write(fd, text, strlen(text)), ==, (ssize_t)strlen(text));

        /* Refused by its size alone: the descriptor is still at the end, nothing was read. */
        expect_read_error(fd, 10, "input: 32 bytes exceed the size limit of 10 bytes");

        DfuError error = DFU_ERROR_INIT;
        ImageLoadOptions small = {.size_cap = 31};
        _cleanup_(image_freep) Image *image = NULL;
        g_assert_cmpint(image_load_path(path, &small, &image, &error), ==, -EFBIG);
        g_assert_nonnull(strstr(error.message, "32 bytes exceed the size limit of 31 bytes"));

        ImageLoadOptions exact = {.size_cap = 32};
        g_assert_cmpint(image_load_path(path, &exact, &image, NULL), ==, 0);
        g_assert_cmpuint(image->n_segments, ==, 1);
        g_assert_cmpstr(image->name, ==, path);

        close(fd);
        unlink(path);
}

static gpointer pipe_writer(gpointer data) {
        int fd = GPOINTER_TO_INT(data);
        uint8_t block[4096];
        memset(block, 'x', sizeof(block));
        /* Writes until the reader gives up and closes its end. */
        for (unsigned i = 0; i < 1024; i++)
                if (write(fd, block, sizeof(block)) < 0)
                        break;
        close(fd);
        return NULL;
}

static void test_pipe_cap(void) {
        int p[2];
        g_assert_cmpint(pipe(p), ==, 0);
        GThread *t = g_thread_new("writer", pipe_writer, GINT_TO_POINTER(p[1]));
        /* Stops once past the cap instead of reading all 4 MiB. */
        expect_read_error(p[0], 100000, "input: more than 100000 bytes, the size limit");
        close(p[0]);
        g_thread_join(t);
}

static void test_pipe_load(void) {
        const char *text = "S107010000010203F1\nS9030000FC\n";
        int p[2];
        g_assert_cmpint(pipe(p), ==, 0);
        g_assert_cmpint(write(p[1], text, strlen(text)), ==, (ssize_t)strlen(text));
        close(p[1]);

        DfuError error = DFU_ERROR_INIT;
        _cleanup_(image_freep) Image *image = NULL;
        g_assert_cmpint(image_load_fd(p[0], "stdin", NULL, &image, &error), ==, 0);
        g_assert_cmpint(image->format, ==, IMAGE_FORMAT_SREC);
        assert_segment(image, 0, 0x100, "\x00\x01\x02\x03", 4);
        close(p[0]);

        /* An empty pipe is an empty file. */
        g_assert_cmpint(pipe(p), ==, 0);
        close(p[1]);
        ImageLoadOptions opts = {.has_base = true};
        error = (DfuError)DFU_ERROR_INIT;
        g_assert_cmpint(image_load_fd(p[0], "stdin", &opts, &image, &error), <, 0);
        g_assert_cmpstr(error.message, ==, "stdin: file is empty");
        close(p[0]);
}

static gpointer late_writer(gpointer data) {
        int fd = GPOINTER_TO_INT(data);
        const char *text = ":0400000000010203F6\n:00000001FF\n";
        g_usleep(20000);
        g_assert_cmpint(write(fd, text, strlen(text)), ==, (ssize_t)strlen(text));
        close(fd);
        return NULL;
}

static void test_nonblocking_pipe(void) {
        /* A client may hand over a non-blocking pipe whose writer is not done yet: wait, do not fail. */
        int p[2];
        g_assert_cmpint(pipe2(p, O_NONBLOCK | O_CLOEXEC), ==, 0);
        GThread *t = g_thread_new("writer", late_writer, GINT_TO_POINTER(p[1]));
        DfuError error = DFU_ERROR_INIT;
        _cleanup_(image_freep) Image *image = NULL;
        g_assert_cmpint(image_load_fd(p[0], "pipe", NULL, &image, &error), ==, 0);
        g_assert_cmpuint(image_total_size(image), ==, 4);
        g_thread_join(t);
        close(p[0]);
}

static void test_refused_kinds(void) {
        int fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        expect_read_error(fd, 0, "input: is a directory; expected a regular file or a pipe");
        close(fd);

        int sv[2];
        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
        expect_read_error(sv[0], 0, "input: is a socket; expected a regular file or a pipe");
        close(sv[0]);
        close(sv[1]);

        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        expect_read_error(fd, 0, "input: is a character device");
        close(fd);

        DfuError error = DFU_ERROR_INIT;
        Image *image = NULL;
        g_assert_cmpint(image_load_path("/nonexistent/fw.hex", NULL, &image, &error), ==, -ENOENT);
        g_assert_nonnull(strstr(error.message, "/nonexistent/fw.hex: cannot open"));
}

static void test_buffer_cap(void) {
        ImageLoadOptions opts = {.size_cap = 4, .has_base = true};
        expect_load_error("12345", 5, "big.bin", &opts, "big.bin: 5 bytes exceed the size limit of 4 bytes");
}

/*
 * The fuzzing seeds that load, each record's checksum off by one in turn: every record type, in both cases
 * of hex digits and with CRLF line ends, is refused at its own line with both checksums named.
 */
static void test_ihex_corpus_checksums(void) {
        g_autofree char *dir = g_build_filename(IMAGE_TEST_DIR, "..", "fuzz", "corpus", "ihex", NULL);
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        unsigned records = 0, types = 0;
        const char *name;

        g_assert_nonnull(d);
        while ((name = g_dir_read_name(d))) {
                g_autofree char *path = g_build_filename(dir, name, NULL);
                g_autofree char *text = NULL;
                gsize len;
                g_assert_true(g_file_get_contents(path, &text, &len, NULL));
                /* Seeds that are refused for another reason say nothing about checksums. */
                Image *image = NULL;
                if (image_load_buffer((const uint8_t *)text, len, name, NULL, &image, NULL) < 0)
                        continue;
                image_free(image);

                g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
                for (unsigned i = 0; lines[i]; i++) {
                        char *line = lines[i];
                        size_t n = strcspn(line, "\r");
                        if (n < 11 || line[0] != ':')
                                continue;
                        char given_digits[3] = {line[n - 2], line[n - 1], 0};
                        char type_digits[3] = {line[7], line[8], 0};
                        unsigned expected = (unsigned)g_ascii_strtoull(given_digits, NULL, 16);
                        unsigned given = (expected + 1) & 0xFF;
                        types |= 1u << g_ascii_strtoull(type_digits, NULL, 16);

                        g_autofree char *broken_line =
                                g_strdup_printf("%.*s%02X%s", (int)n - 2, line, given, line + n);
                        char *saved = lines[i];
                        lines[i] = broken_line;
                        g_autofree char *broken = g_strjoinv("\n", lines);
                        lines[i] = saved;
                        g_autofree char *msg =
                                g_strdup_printf("%s: line %u: checksum 0x%02X, expected 0x%02X", name, i + 1,
                                                given, expected);
                        expect_text_error(broken, name, msg);
                        records++;
                }
        }
        g_assert_cmpuint(records, ==, 13);
        /* Data, end of file, both address kinds and both start-address kinds. */
        g_assert_cmphex(types, ==, 0x3F);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        signal(SIGPIPE, SIG_IGN);
        g_test_add_func("/load/regular-file-cap", test_regular_file_cap);
        g_test_add_func("/load/pipe-cap", test_pipe_cap);
        g_test_add_func("/load/pipe", test_pipe_load);
        g_test_add_func("/load/nonblocking-pipe", test_nonblocking_pipe);
        g_test_add_func("/load/refused-kinds", test_refused_kinds);
        g_test_add_func("/load/buffer-cap", test_buffer_cap);
        g_test_add_func("/load/ihex-corpus-checksums", test_ihex_corpus_checksums);
        return test_run();
}
