/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bad calls get one clean error reply each, and the daemon keeps answering. */
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "test-main.h"

#define FLASH_BASE 0x08000000u

static char *small_image(Integ *t) {
        g_autofree uint8_t *img = integ_pattern(1024, 5);
        return integ_write_ihex(t, "small.hex", &(IntegSegment){FLASH_BASE, img, 1024}, 1);
}

static void assert_still_answering(Integ *t) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) v = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Version", &error);
        g_assert_no_error(error);
        g_assert_nonnull(v);
}

/* Asserts the error's D-Bus name is one of the NULL-terminated list, and that it says something. */
static void assert_error(GError *error, const char *const *names) {
        g_autofree char *name = NULL;

        g_assert_nonnull(error);
        name = g_dbus_error_get_remote_error(error);
        g_test_message("%s: %s", name, error->message);
        g_assert_nonnull(name);
        if (!g_strv_contains(names, name))
                g_error("unexpected error %s: %s", name, error->message);
        g_dbus_error_strip_remote_error(error);
        g_assert_cmpstr(error->message, !=, "");
}

#define INVALID_ARGS   "org.freedesktop.DBus.Error.InvalidArgs"
#define IMAGE_REJECTED "org.dfusd.Flash1.Error.ImageRejected"
#define NO_DEVICE      "org.dfusd.Flash1.Error.NoDevice"

static void submit_expect(Integ *t, const char *const *images, GVariant *options, const char *const *names) {
        g_autoptr(GError) error = NULL;
        g_autofree char *job = integ_submit(t, images, options, &error);

        g_assert_null(job);
        assert_error(error, names);
        assert_still_answering(t);
}

static void submit_fd_expect(Integ *t, int fd, const char *const *names) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = integ_call_fds(t, "Submit", &fd, 1, NULL, "(o)", &error);

        g_assert_null(r);
        assert_error(error, names);
        assert_still_answering(t);
}

static void test_options(Integ *t, gconstpointer data) {
        g_autofree char *file = small_image(t);
        const char *images[] = {file, NULL};
        const char *invalid[] = {INVALID_ARGS, NULL};
        g_autoptr(GVariant) jobs = NULL;

        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);
        submit_expect(t, images, integ_options("no-such-option", g_variant_new_boolean(TRUE), NULL),
                      invalid);
        submit_expect(t, images, integ_options("verify", g_variant_new_string("yes"), NULL), invalid);
        submit_expect(t, images, integ_options("base", g_variant_new_uint32(FLASH_BASE), NULL), invalid);
        submit_expect(t, images, integ_options("port", g_variant_new_uint32(1), NULL), invalid);
        submit_expect(t, images,
                      integ_options("port", g_variant_new_string("1-1"), "serial", g_variant_new_string("x"),
                                    NULL),
                      invalid);
        /* no image at all */
        submit_expect(t, (const char *[]){NULL}, NULL, (const char *[]){INVALID_ARGS, IMAGE_REJECTED, NULL});
        /* a board that is not there, without waiting */
        submit_expect(t, images, integ_options("port", g_variant_new_string("1-15"), NULL),
                      (const char *[]){NO_DEVICE, NULL});

        /* none of these left a job behind */
        jobs = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Jobs", NULL);
        g_assert_nonnull(jobs);
        g_assert_cmpuint(g_variant_n_children(jobs), ==, 0);
}

static void test_bad_fds(Integ *t, gconstpointer data) {
        const char *rejected[] = {IMAGE_REJECTED, INVALID_ARGS, NULL};
        int dir, sv[2];

        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);

        dir = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(dir, >=, 0);
        submit_fd_expect(t, dir, rejected);
        close(dir);

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
        submit_fd_expect(t, sv[0], rejected);
        close(sv[0]);
        close(sv[1]);
}

static void test_bad_images(Integ *t, gconstpointer data) {
        const char *rejected[] = {IMAGE_REJECTED, NULL};
        g_autofree char *garbage = integ_write_file(t, "garbage.hex", ":10000000ZZ\n", 12);
        g_autofree char *empty = integ_write_file(t, "empty.hex", ":00000001FF\n", 12);
        g_autofree char *big = integ_write_file(t, "big.bin", "", 0);
        g_autofree uint8_t *ram = integ_pattern(256, 3);
        g_autofree char *ram_only = NULL;
        int fd;

        /* only RAM contents: nothing left to write is a reject */
        ram_only = integ_write_ihex(t, "ram.hex", &(IntegSegment){0x20000000, ram, 256}, 1);
        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);

        submit_expect(t, (const char *[]){garbage, NULL}, NULL, rejected);
        submit_expect(t, (const char *[]){empty, NULL}, NULL, rejected);
        submit_expect(t, (const char *[]){ram_only, NULL}, NULL, rejected);

        /* larger than the configured cap (64 MiB by default); sparse, so cheap to make */
        fd = open(big, O_WRONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(ftruncate(fd, 65 * 1024 * 1024), ==, 0);
        close(fd);
        submit_expect(t, (const char *[]){big, NULL},
                      integ_options("base", g_variant_new_uint64(FLASH_BASE), NULL), rejected);
}

/* A pipe is a valid image source; one whose writer never finishes is given up after ReadTimeout=. */
static void test_pipe(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(2048, 6);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 2048}, 1);
        g_autofree char *text = NULL, *state = NULL, *job = NULL, *port = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;
        g_autoptr(GBytes) dump = NULL;
        gsize len = 0;
        int p[2];

        g_assert_true(g_file_get_contents(file, &text, &len, NULL));
        g_assert_cmpuint(len, <, 65536); /* fits the pipe buffer: written before the call */
        integ_start(t, &(IntegRun){.boards = 1, .config = "[Daemon]\nReadTimeout=1\n"});
        integ_wait_devices(t, 1, 10);

        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        g_assert_cmpint(write(p[1], text, len), ==, (ssize_t)len);
        close(p[1]);
        /* the board stays in DFU mode for the second call */
        r = integ_call_fds(t, "Submit", &p[0], 1, integ_options("leave", g_variant_new_boolean(FALSE), NULL),
                           "(o)", &error);
        close(p[0]);
        g_assert_no_error(error);
        g_variant_get(r, "(o)", &job);
        state = integ_wait_job(t, job, 60);
        g_assert_cmpstr(state, ==, "done");
        port = integ_get_string(t, job, DFUSD_JOB, "PortPath");

        /* the writer stays open and silent */
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        g_assert_cmpint(write(p[1], text, 100), ==, 100);
        submit_fd_expect(t, p[0], (const char *[]){IMAGE_REJECTED, "org.dfusd.Flash1.Error.Failed", NULL});
        close(p[0]);
        close(p[1]);

        integ_stop(t);
        dump = integ_dump(t, port);
        integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, img, 2048);
}

typedef struct SubmitReply {
        bool done;
        GVariant *reply;
        GError *error;
} SubmitReply;

static void on_submit_reply(GObject *source, GAsyncResult *res, gpointer userdata) {
        SubmitReply *r = userdata;

        r->reply = g_dbus_connection_call_with_unix_fd_list_finish(G_DBUS_CONNECTION(source), NULL, res,
                                                                   &r->error);
        r->done = true;
}

/* While a Submit waits for a slow pipe, the daemon answers other calls: its loop never blocks on a read. */
static void test_pipe_does_not_block(Integ *t, gconstpointer data) {
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        g_autoptr(GVariant) version = NULL;
        SubmitReply reply = {};
        g_autoptr(GError) error = NULL;
        GVariantBuilder h;
        int p[2];

        integ_start(t, &(IntegRun){.boards = 1, .config = "[Daemon]\nReadTimeout=3\n"});
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        g_assert_cmpint(g_unix_fd_list_append(fds, p[0], NULL), ==, 0);
        close(p[0]);
        g_variant_builder_init(&h, G_VARIANT_TYPE("ah"));
        g_variant_builder_add(&h, "h", 0);
        g_dbus_connection_call_with_unix_fd_list(
                t->conn, DFUSD_BUS_NAME, DFUSD_PATH, DFUSD_MANAGER, "Submit",
                g_variant_new("(ah@a{sv})", &h, integ_options(NULL, NULL)), NULL, G_DBUS_CALL_FLAGS_NONE,
                20000, fds, NULL, on_submit_reply, &reply);
        /* the Submit went out first on this connection; this answer must not wait for it */
        version = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Version", &error);
        g_assert_no_error(error);
        while (g_main_context_iteration(NULL, FALSE))
                ;
        g_assert_false(reply.done);

        close(p[1]);
        while (!reply.done)
                g_main_context_iteration(NULL, TRUE);
        g_assert_null(reply.reply);
        integ_assert_dbus_error(reply.error, IMAGE_REJECTED, "image 1: file is empty", NULL);
        g_error_free(reply.error);
}

/* Segment i of an Inspect answer or a Report: where, what it was judged, and the words of its reason. */
static void assert_verdict(GVariant *segments, size_t i, uint32_t address, uint32_t size,
                           const char *verdict, const char *kind, ...) G_GNUC_NULL_TERMINATED;
static void assert_verdict(GVariant *segments, size_t i, uint32_t address, uint32_t size,
                           const char *verdict, const char *kind, ...) {
        g_autoptr(GVariant) s = g_variant_get_child_value(segments, i);
        const char *text = NULL, *word;
        uint32_t u = 0;
        va_list ap;

        g_assert_true(g_variant_lookup(s, "address", "u", &u));
        g_assert_cmphex(u, ==, address);
        g_assert_true(g_variant_lookup(s, "size", "u", &u));
        g_assert_cmpuint(u, ==, size);
        g_assert_true(g_variant_lookup(s, "verdict", "&s", &text));
        g_assert_cmpstr(text, ==, verdict);
        g_assert_true(g_variant_lookup(s, "kind", "&s", &text));
        g_assert_cmpstr(text, ==, kind);
        g_assert_true(g_variant_lookup(s, "reason", "&s", &text));
        va_start(ap, kind);
        while ((word = va_arg(ap, const char *)))
                if (!strstr(text, word))
                        g_error("segment %zu: \"%s\" lacks \"%s\"", i, text, word);
        va_end(ap);
}

/* Inspect touches no board: an offline part's map, the dual-core drop verdicts. */
static void test_inspect(Integ *t, gconstpointer data) {
        g_autofree uint8_t *app = integ_pattern(2048, 8), *mailbox = integ_pattern(64, 9);
        IntegSegment segs[] = {{FLASH_BASE, app, 2048}, {0x38000000, mailbox, 64}};
        g_autofree char *file = integ_write_ihex(t, "app.hex", segs, 2);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL, result = NULL, segments = NULL;
        gboolean accepted = FALSE;
        int fd;

        integ_start(t, &(IntegRun){.boards = 0});
        fd = open(file, O_RDONLY | O_CLOEXEC);
        r = integ_call_fds(t, "Inspect", &fd, 1, integ_options("part", g_variant_new_string("h747"), NULL),
                           "(a{sv})", &error);
        close(fd);
        g_assert_no_error(error);
        result = g_variant_get_child_value(r, 0);
        g_assert_true(g_variant_lookup(result, "accepted", "b", &accepted));
        g_assert_true(accepted);
        segments = g_variant_lookup_value(result, "segments", G_VARIANT_TYPE("aa{sv}"));
        g_assert_nonnull(segments);
        g_assert_cmpuint(g_variant_n_children(segments), ==, 2);
        assert_verdict(segments, 0, FLASH_BASE, 2048, "keep", "flash",
                       "0x08000000-0x080007FF in \"Internal Flash\" (alt 0)", NULL);
        assert_verdict(segments, 1, 0x38000000, 64, "drop", "RAM",
                       "0x38000000-0x3800003F (64 bytes) lies outside every memory",
                       "(SRAM4; RAM is 0x20000000-0x3FFFFFFF)",
                       "mark the section NOLOAD in the linker script", NULL);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/integ/errors/options", Integ, NULL, integ_setup, test_options, integ_teardown);
        g_test_add("/integ/errors/fds", Integ, NULL, integ_setup, test_bad_fds, integ_teardown);
        g_test_add("/integ/errors/images", Integ, NULL, integ_setup, test_bad_images, integ_teardown);
        g_test_add("/integ/errors/pipe", Integ, NULL, integ_setup, test_pipe, integ_teardown);
        g_test_add("/integ/errors/pipe-does-not-block", Integ, NULL, integ_setup, test_pipe_does_not_block,
                   integ_teardown);
        g_test_add("/integ/errors/inspect", Integ, NULL, integ_setup, test_inspect, integ_teardown);
        return test_run();
}
