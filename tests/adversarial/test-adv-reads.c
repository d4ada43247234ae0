/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Image reads as a flood: pipes whose writer never closes, a thousand Inspects at once, and large
 * images that must never reach the spool. dfusd refuses what is beyond its limits with Busy, keeps
 * answering, and gives every fd back once the callers are gone.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "adv.h"

#define PENDING_PIPES 600
#define CONCURRENT    1000
#define IDLE_FDS_MAX  64

#define LIMITS_EXCEEDED "org.freedesktop.DBus.Error.LimitsExceeded"

static GVariant *port_options(void) {
        return integ_options("port", g_variant_new_string("1-1"), NULL);
}

static unsigned spool_files_now(Integ *t) {
        g_autofree char *path = g_build_filename(t->state_dir, "spool", NULL);
        g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
        unsigned n = 0;

        while (d && g_dir_read_name(d))
                n++;
        return n;
}

/* A rejected Submit's file is removed by the daemon's store thread, just after the reply: a second. */
static unsigned spool_files(Integ *t) {
        unsigned n = spool_files_now(t);

        for (unsigned i = 0; i < 100 && n > 0; i++) {
                g_usleep(10 * 1000);
                n = spool_files_now(t);
        }
        return n;
}

/* One client, 600 Inspects of pipes it never closes: 8 are read, the rest are Busy at once. */
static void test_pending_pipes(Integ *t, gconstpointer data) {
        g_autoptr(GDBusConnection) client = NULL;
        GVariant *replies[PENDING_PIPES] = {};
        GError *errors[PENDING_PIPES] = {};
        int writers[PENDING_PIPES], pending = 0;
        unsigned busy = 0;

        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);
        client = adv_connect(t);
        for (unsigned i = 0; i < PENDING_PIPES; i++) {
                int p[2];
                g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
                adv_call_fds_async(client, "Inspect", &p[0], 1, port_options(), &replies[i], &errors[i],
                                   &pending);
                close(p[0]);
                writers[i] = p[1];
        }
        /* Everything but the reads in progress is answered without waiting for ReadTimeout. */
        gint64 end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
        while (pending > 8 && g_get_monotonic_time() < end)
                g_main_context_iteration(NULL, TRUE);
        g_assert_cmpint(pending, <=, 8);
        for (unsigned i = 0; i < PENDING_PIPES; i++) {
                g_autofree char *name = adv_error_name(errors[i]);
                /* The bus's own limit on pending replies per connection may refuse some first. */
                busy += g_str_equal(name, ADV_BUSY) || g_str_equal(name, LIMITS_EXCEEDED);
        }
        g_test_message("%u of %u Inspects were Busy (or refused by the bus)", busy, PENDING_PIPES);
        g_assert_cmpuint(busy, >=, PENDING_PIPES - 8);
        adv_assert_answers(t);

        /* The caller goes away: its pipes close, the reads end, every fd comes back. */
        g_dbus_connection_close_sync(client, NULL, NULL);
        for (unsigned i = 0; i < PENDING_PIPES; i++)
                close(writers[i]);
        adv_wait_pending(&pending, 10);
        for (unsigned i = 0; i < PENDING_PIPES; i++) {
                g_clear_pointer(&replies[i], g_variant_unref);
                g_clear_error(&errors[i]);
        }
        adv_assert_bounded(t, 100 * 1024, IDLE_FDS_MAX);
        adv_assert_answers(t);
        g_assert_cmpuint(spool_files(t), ==, 0);
        integ_stop(t);
        adv_assert_dump_blank(t, "1-1");
}

/* A thousand Inspects of a real image from 20 clients at once: each gets a reply, accepted or Busy. */
static void test_concurrent(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(4096, 9);
        g_autofree char *file = integ_write_ihex(t, "fw.hex", &(IntegSegment){ADV_FLASH_BASE, img, 4096}, 1);
        GDBusConnection *clients[20];
        GVariant *replies[CONCURRENT] = {};
        GError *errors[CONCURRENT] = {};
        int pending = 0;
        unsigned ok = 0, busy = 0;

        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);
        for (unsigned c = 0; c < G_N_ELEMENTS(clients); c++)
                clients[c] = adv_connect(t);
        for (unsigned i = 0; i < CONCURRENT; i++) {
                int fd = open(file, O_RDONLY | O_CLOEXEC);
                g_assert_cmpint(fd, >=, 0);
                adv_call_fds_async(clients[i % G_N_ELEMENTS(clients)], "Inspect", &fd, 1, port_options(),
                                   &replies[i], &errors[i], &pending);
                close(fd);
        }
        g_assert_true(adv_wait_pending(&pending, 60));
        for (unsigned i = 0; i < CONCURRENT; i++) {
                g_autofree char *name = adv_error_name(errors[i]);
                if (replies[i])
                        ok++;
                else if (g_str_equal(name, ADV_BUSY) || g_str_equal(name, LIMITS_EXCEEDED))
                        busy++;
                else
                        g_error("Inspect %u: %s: %s", i, name, errors[i]->message);
                g_clear_pointer(&replies[i], g_variant_unref);
                g_clear_error(&errors[i]);
        }
        g_test_message("%u accepted, %u Busy", ok, busy);
        g_assert_cmpuint(ok + busy, ==, CONCURRENT);
        g_assert_cmpuint(ok, >, 0);
        for (unsigned c = 0; c < G_N_ELEMENTS(clients); c++)
                g_object_unref(clients[c]);
        adv_assert_answers(t);
        adv_assert_bounded(t, 150 * 1024, IDLE_FDS_MAX);
        g_assert_cmpuint(spool_files(t), ==, 0);
        integ_stop(t);
        adv_assert_dump_blank(t, "1-1");
}

/* Inspect never spools, even 60 MiB; a rejected Submit leaves nothing behind either. */
static void test_spool(Integ *t, gconstpointer data) {
        const size_t size = 60u << 20;
        g_autofree uint8_t *big = g_malloc(size);
        g_autofree char *bin = NULL, *job = NULL;
        g_autofree uint8_t *ram = integ_pattern(256, 3);
        g_autofree char *ram_only = integ_write_ihex(t, "ram.hex", &(IntegSegment){0x20000000, ram, 256}, 1);
        GVariant *options;

        memset(big, 0xA5, size);
        bin = integ_write_file(t, "big.bin", big, size);
        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);

        for (unsigned i = 0; i < 2; i++) {
                int fd = open(bin, O_RDONLY | O_CLOEXEC);
                g_autoptr(GVariant) r = NULL;
                options = integ_options("port", g_variant_new_string("1-1"), "base",
                                        g_variant_new_uint64(ADV_FLASH_BASE), NULL);
                r = integ_call_fds(t, "Inspect", &fd, 1, options, "(a{sv})", NULL);
                close(fd);
                g_assert_nonnull(r); /* answered, most of it dropped or rejected: it is 60 MiB */
                g_assert_cmpuint(spool_files(t), ==, 0);
        }
        for (unsigned i = 0; i < 2; i++) {
                g_autoptr(GError) error = NULL;
                g_autofree char *name = NULL;
                job = integ_submit(t, (const char *[]){i ? ram_only : bin, NULL},
                                   integ_options("port", g_variant_new_string("1-1"), "base",
                                                 g_variant_new_uint64(ADV_FLASH_BASE), "strict",
                                                 g_variant_new_boolean(TRUE), NULL),
                                   &error);
                g_assert_null(job);
                name = adv_error_name(error);
                g_assert_cmpstr(name, ==, ADV_IMAGE_REJECTED);
                g_assert_cmpuint(spool_files(t), ==, 0);
        }
        adv_assert_answers(t);
        adv_assert_bounded(t, 300 * 1024, IDLE_FDS_MAX);
        g_assert_cmpuint(adv_history_count(t), ==, 0);
        integ_stop(t);
        adv_assert_dump_blank(t, "1-1");
}

/* Files are read from their start whatever offset the caller left them at, the same fd may come twice,
 * and the spool has a size cap: a Submit beyond it is refused by name, with nothing queued. */
static void test_offsets_and_spool_cap(Integ *t, gconstpointer data) {
        g_autofree uint8_t *a = integ_pattern(48 * 1024, 5), *b = integ_pattern(48 * 1024, 6);
        g_autofree char *fa = integ_write_ihex(t, "a.hex", &(IntegSegment){ADV_FLASH_BASE, a, 48 * 1024}, 1);
        g_autofree char *fb =
                integ_write_ihex(t, "b.hex", &(IntegSegment){ADV_FLASH_BASE + 0x10000, b, 48 * 1024}, 1);
        g_autofree char *job = NULL, *name = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL, dict = NULL;
        guint64 kept = 0;
        int fd = open(fa, O_RDONLY | O_CLOEXEC), fds[2];

        /* Room for one of these images in the spool, not for two. */
        integ_start(t, &(IntegRun){.boards = 1, .config = "[Daemon]\nSpoolSizeCap=200K\n"});
        integ_wait_devices(t, 1, 10);

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(lseek(fd, 100, SEEK_SET), ==, 100);
        fds[0] = fds[1] = fd;
        r = integ_call_fds(t, "Inspect", fds, 2, integ_options("port", g_variant_new_string("1-1"), NULL),
                           "(a{sv})", &error);
        g_assert_no_error(error);
        dict = g_variant_get_child_value(r, 0);
        g_assert_true(g_variant_lookup(dict, "bytes-kept", "t", &kept));
        g_assert_cmpuint(kept, ==, 48 * 1024);
        close(fd);

        job = integ_submit(t, (const char *[]){fa, NULL},
                           integ_options("port", g_variant_new_string("1-1"), "leave",
                                         g_variant_new_boolean(FALSE), NULL),
                           &error);
        g_assert_no_error(error);
        g_free(job);
        job = integ_submit(t, (const char *[]){fb, NULL},
                           integ_options("port", g_variant_new_string("1-1"), NULL), &error);
        g_assert_null(job);
        name = adv_error_name(error);
        g_assert_cmpstr(name, ==, "org.dfusd.Flash1.Error.Failed");
        g_assert_nonnull(strstr(error->message, "The spool for queued jobs and rules is full"));
        g_assert_nonnull(strstr(error->message, "SpoolSizeCap=204800"));
        adv_assert_answers(t);
        integ_stop(t);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/adversarial/reads/pending-pipes", Integ, NULL, integ_setup, test_pending_pipes,
                   integ_teardown);
        g_test_add("/adversarial/reads/concurrent", Integ, NULL, integ_setup, test_concurrent,
                   integ_teardown);
        g_test_add("/adversarial/reads/spool", Integ, NULL, integ_setup, test_spool, integ_teardown);
        g_test_add("/adversarial/reads/offsets-and-spool-cap", Integ, NULL, integ_setup,
                   test_offsets_and_spool_cap, integ_teardown);
        return g_test_run();
}
