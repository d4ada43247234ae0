/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading images from descriptors: what kinds are accepted, and the size cap before and while reading. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "image-test.h"

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

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        signal(SIGPIPE, SIG_IGN);
        g_test_add_func("/load/regular-file-cap", test_regular_file_cap);
        g_test_add_func("/load/pipe-cap", test_pipe_cap);
        g_test_add_func("/load/pipe", test_pipe_load);
        g_test_add_func("/load/nonblocking-pipe", test_nonblocking_pipe);
        g_test_add_func("/load/refused-kinds", test_refused_kinds);
        g_test_add_func("/load/buffer-cap", test_buffer_cap);
        return g_test_run();
}
