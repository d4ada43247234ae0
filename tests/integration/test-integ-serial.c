/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-board data end to end: sequences added over the bus, boards flashed at once with a counter and
 * a list patch, each dump holding its own values; faults that spoil or return a value; kill -9 with
 * boards mid-write; a rule that numbers each board it flashes.
 */
#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "test-main.h"

#define FLASH_BASE 0x08000000u
#define IMAGE_SIZE (8 * 1024)
#define SERIAL_AT  0x08000100u /* inside the image */
#define MAC_AT     0x08003000u /* in the erased part of the image's first sector */
#define MAC_WIDTH  17
#define SEQ_PREFIX "/org/dfusd/Flash1/sequence/"
#define DFUSD_SEQ  "org.dfusd.Flash1.Sequence"

static char *image(Integ *t, uint8_t **ret) {
        *ret = integ_pattern(IMAGE_SIZE, 77);
        return integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, *ret, IMAGE_SIZE}, 1);
}

static char *add_counter(Integ *t, const char *name, uint64_t start, GError **error) {
        g_autoptr(GVariant) r = integ_call(
                t, DFUSD_PATH, DFUSD_MANAGER, "AddSequence",
                g_variant_new("(s@a{sv})", name, integ_options("start", g_variant_new_uint64(start), NULL)),
                "(o)", error);
        char *path = NULL;

        if (r)
                g_variant_get(r, "(o)", &path);
        return path;
}

static char *add_list(Integ *t, const char *name, const char *text, GError **error) {
        g_autofree char *file = integ_write_file(t, "list.txt", text, strlen(text));
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        g_autoptr(GVariant) r = NULL;
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        char *path = NULL;

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(g_unix_fd_list_append(fds, fd, NULL), ==, 0);
        close(fd);
        r = g_dbus_connection_call_with_unix_fd_list_sync(
                t->conn, DFUSD_BUS_NAME, DFUSD_PATH, DFUSD_MANAGER, "AddSequence",
                g_variant_new("(s@a{sv})", name, integ_options("list", g_variant_new_handle(0), NULL)),
                G_VARIANT_TYPE("(o)"), G_DBUS_CALL_FLAGS_NONE, 30000, fds, NULL, NULL, error);
        if (r)
                g_variant_get(r, "(o)", &path);
        return path;
}

static GVariant *patches(const char *serial_format, gboolean with_mac) {
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a(uss)"));
        g_variant_builder_add(&b, "(uss)", SERIAL_AT, serial_format, "boards");
        if (with_mac)
                g_variant_builder_add(&b, "(uss)", MAC_AT, "str:17", "macs");
        return g_variant_builder_end(&b);
}

static char *submit(Integ *t, const char *hex, const char *port, GVariant *p, GError **error) {
        return integ_submit(t, (const char *[]){hex, NULL},
                            integ_options("port", g_variant_new_string(port), "patches", p, NULL), error);
}

static uint64_t seq_u64(Integ *t, const char *path, const char *prop) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) v = integ_get(t, path, DFUSD_SEQ, prop, &error);
        g_assert_no_error(error);
        return g_variant_get_uint64(v);
}

/* The job's Values as "seq=value" strings, in order. */
static char *job_values(Integ *t, const char *job) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) v = integ_get(t, job, DFUSD_JOB, "Values", &error);
        GString *s = g_string_new(NULL);
        GVariantIter it;
        const char *seq, *value;

        g_assert_no_error(error);
        g_variant_iter_init(&it, v);
        while (g_variant_iter_next(&it, "(&s&s)", &seq, &value))
                g_string_append_printf(s, "%s%s=%s", s->len ? " " : "", seq, value);
        return g_string_free(s, FALSE);
}

static uint32_t le32(const uint8_t *p) {
        return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static const char *const macs[] = {
        "02:80:E1:00:00:01", "02:80:E1:00:00:02", "02:80:E1:00:00:03", "02:80:E1:00:00:04",
        "02:80:E1:00:00:05", "02:80:E1:00:00:06", "02:80:E1:00:00:07", "02:80:E1:00:00:08",
        "02:80:E1:00:00:09", "02:80:E1:00:00:0A",
};

static void test_eight_boards(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = NULL;
        g_autofree char *hex = image(t, &img), *counter = NULL, *list = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GString) text = g_string_new("# MAC addresses of this batch\n\n");
        char *jobs[8] = {};
        bool seen[8] = {};

        for (size_t i = 0; i < G_N_ELEMENTS(macs); i++)
                g_string_append_printf(text, "%s\n", macs[i]);
        integ_start(t, &(IntegRun){.boards = 8});
        integ_wait_devices(t, 8, 20);
        counter = add_counter(t, "boards", 1000, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(counter, ==, SEQ_PREFIX "boards");
        list = add_list(t, "macs", text->str, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(seq_u64(t, list, "Left"), ==, 10);
        g_assert_cmpuint(seq_u64(t, counter, "Left"), ==, UINT64_MAX);
        /* A name is given once. */
        g_free(add_counter(t, "boards", 1, &error));
        g_assert_nonnull(error);
        g_clear_error(&error);

        {
                /* Inspect tells where each patch goes and what the next board would get, taking nothing. */
                int fd = open(hex, O_RDONLY | O_CLOEXEC);
                g_autoptr(GVariant) r =
                        integ_call_fds(t, "Inspect", &fd, 1,
                                       integ_options("port", g_variant_new_string("1-1"), "patches",
                                                     patches("u32le", TRUE), NULL),
                                       "(a{sv})", &error);
                g_autoptr(GVariant) result = NULL, places = NULL, first = NULL, second = NULL;
                const char *s;

                close(fd);
                g_assert_no_error(error);
                result = g_variant_get_child_value(r, 0);
                places = g_variant_lookup_value(result, "patches", G_VARIANT_TYPE("aa{sv}"));
                g_assert_nonnull(places);
                g_assert_cmpuint(g_variant_n_children(places), ==, 2);
                first = g_variant_get_child_value(places, 0);
                second = g_variant_get_child_value(places, 1);
                g_assert_true(g_variant_lookup(first, "place", "&s", &s));
                g_assert_cmpstr(s, ==, "in the image");
                g_assert_true(g_variant_lookup(first, "sample-bytes", "&s", &s));
                g_assert_cmpstr(s, ==, "E8 03 00 00");
                g_assert_true(g_variant_lookup(second, "place", "&s", &s));
                g_assert_cmpstr(s, ==, "in erased flash of a sector the image erases");
                g_assert_cmpuint(seq_u64(t, counter, "Next"), ==, 1000);
        }
        for (unsigned i = 0; i < 8; i++) {
                g_autofree char *port = g_strdup_printf("1-%u", i + 1);
                jobs[i] = submit(t, hex, port, patches("u32le", TRUE), &error);
                g_assert_no_error(error);
        }
        for (unsigned i = 0; i < 8; i++) {
                g_autofree char *state = integ_wait_job(t, jobs[i], 120);
                g_assert_cmpstr(state, ==, "done");
        }
        g_assert_cmpuint(seq_u64(t, counter, "Used"), ==, 8);
        g_assert_cmpuint(seq_u64(t, counter, "Next"), ==, 1008);
        g_assert_cmpuint(seq_u64(t, list, "Used"), ==, 8);
        g_assert_cmpuint(seq_u64(t, list, "Left"), ==, 2);

        /* The values each job took, and the history's record of them, agree. */
        char *expect[8] = {};
        for (unsigned i = 0; i < 8; i++) {
                expect[i] = job_values(t, jobs[i]);
                g_test_message("%s: %s", jobs[i], expect[i]);
        }
        {
                g_autoptr(GVariant) h =
                        integ_call(t, DFUSD_PATH, DFUSD_MANAGER, "GetHistory",
                                   g_variant_new("(@a{sv})",
                                                 integ_options("value", g_variant_new_string("1003"), NULL)),
                                   "(aa{sv})", &error);
                g_autoptr(GVariant) entries = NULL, entry = NULL, values = NULL;
                g_assert_no_error(error);
                entries = g_variant_get_child_value(h, 0);
                g_assert_cmpuint(g_variant_n_children(entries), ==, 1);
                entry = g_variant_get_child_value(entries, 0);
                values = g_variant_lookup_value(entry, "values", G_VARIANT_TYPE("a(ss)"));
                g_assert_nonnull(values);
                g_assert_cmpuint(g_variant_n_children(values), ==, 2);
        }
        integ_stop(t);

        for (unsigned i = 0; i < 8; i++) {
                g_autofree char *port = g_strdup_printf("1-%u", i + 1), *want = NULL;
                g_autoptr(GBytes) dump = integ_dump(t, port);
                const uint8_t *d = g_bytes_get_data(dump, NULL);
                uint32_t serial = le32(d + (SERIAL_AT - FLASH_BASE));
                const char *mac = (const char *)d + (MAC_AT - FLASH_BASE);
                uint8_t padded[MAC_WIDTH + 1] = {};

                g_assert_cmpuint(serial, >=, 1000);
                g_assert_cmpuint(serial, <, 1008);
                g_assert_false(seen[serial - 1000]);
                seen[serial - 1000] = true;
                /* Counter and list are drawn together in start order: the k-th start got both k-th. */
                memcpy(padded, macs[serial - 1000], strlen(macs[serial - 1000]));
                g_assert_cmpmem(mac, MAC_WIDTH, padded, MAC_WIDTH);
                /* The rest of the image is the image. */
                integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, img, SERIAL_AT - FLASH_BASE);
                integ_assert_flash(dump, FLASH_BASE, SERIAL_AT + 4, img + (SERIAL_AT + 4 - FLASH_BASE),
                                   IMAGE_SIZE - (SERIAL_AT + 4 - FLASH_BASE));
                integ_assert_blank(dump, FLASH_BASE, FLASH_BASE + IMAGE_SIZE,
                                   MAC_AT - FLASH_BASE - IMAGE_SIZE);
                /* The job on this board recorded these values. */
                want = g_strdup_printf("boards=%u macs=%s", serial, macs[serial - 1000]);
                bool found = false;
                for (unsigned k = 0; k < 8; k++)
                        found = found || g_str_equal(expect[k], want);
                g_assert_true(found);
        }
        for (unsigned i = 0; i < 8; i++) {
                g_free(jobs[i]);
                g_free(expect[i]);
        }
}

static void test_faults(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = NULL;
        g_autofree char *hex = image(t, &img), *counter = NULL, *big = NULL, *a = NULL, *b = NULL, *c = NULL,
                        *state = NULL, *err = NULL;
        g_autoptr(GError) error = NULL;

        /* The board at 1-1 is pulled out in the middle of its write. */
        integ_start(t, &(IntegRun){.boards = 2, .script = "board 1-1 unplug phase=write after=2\n"});
        integ_wait_devices(t, 2, 20);
        counter = add_counter(t, "boards", 1, &error);
        g_assert_no_error(error);

        a = submit(t, hex, "1-1", patches("u32le", FALSE), &error);
        g_assert_no_error(error);
        state = integ_wait_job(t, a, 60);
        g_assert_cmpstr(state, ==, "failed");
        g_assert_cmpuint(seq_u64(t, counter, "Spoiled"), ==, 1);

        /* A value that does not fit its format fails the job before anything is written: returned. */
        big = add_counter(t, "big", 100000, &error);
        g_assert_no_error(error);
        {
                GVariantBuilder p;
                g_variant_builder_init(&p, G_VARIANT_TYPE("a(uss)"));
                g_variant_builder_add(&p, "(uss)", SERIAL_AT, "dec:4", "big");
                b = submit(t, hex, "1-2", g_variant_builder_end(&p), &error);
                g_assert_no_error(error);
        }
        g_free(state);
        state = integ_wait_job(t, b, 60);
        g_assert_cmpstr(state, ==, "failed");
        err = integ_get_string(t, b, DFUSD_JOB, "Error");
        g_test_message("%s", err);
        g_assert_nonnull(strstr(err, "100000"));
        g_assert_cmpuint(seq_u64(t, big, "Returned"), ==, 1);
        g_assert_cmpuint(seq_u64(t, big, "Spoiled"), ==, 0);

        /* The spoiled value is never handed out again: the next board gets 2. */
        c = submit(t, hex, "1-2", patches("u32le", FALSE), &error);
        g_assert_no_error(error);
        g_free(state);
        state = integ_wait_job(t, c, 60);
        g_assert_cmpstr(state, ==, "done");
        g_assert_cmpuint(seq_u64(t, counter, "Used"), ==, 1);
        g_assert_cmpuint(seq_u64(t, counter, "Next"), ==, 3);

        /* In use by a rule: not removed. */
        {
                g_autofree char *rule =
                        integ_add_rule(t, (const char *[]){hex, NULL},
                                       integ_options("match-port", g_variant_new_string("1-9"), "patches",
                                                     patches("u32le", FALSE), NULL),
                                       &error);
                g_autoptr(GVariant) r = NULL;
                g_assert_no_error(error);
                r = integ_call(t, counter, DFUSD_SEQ, "Remove", NULL, NULL, &error);
                g_assert_nonnull(error);
                g_assert_nonnull(strstr(error->message, "rule"));
                g_clear_error(&error);
                g_variant_unref(integ_call(t, rule, DFUSD_RULE, "Remove", NULL, NULL, &error));
                g_assert_no_error(error);
                g_variant_unref(integ_call(t, counter, DFUSD_SEQ, "Remove", NULL, NULL, &error));
                g_assert_no_error(error);
        }
        integ_stop(t);
        {
                g_autoptr(GBytes) dump = integ_dump(t, "1-2");
                const uint8_t *d = g_bytes_get_data(dump, NULL);
                g_assert_cmpuint(le32(d + (SERIAL_AT - FLASH_BASE)), ==, 2);
        }
}

/* Every value of the sequence ever taken: used or spoiled, none twice, none missing in between. */
static void check_allocations(Integ *t, unsigned used, unsigned spoiled) {
        g_autofree char *path = g_build_filename(t->state_dir, "dfusd.db", NULL);
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;

        g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
        g_assert_cmpint(sqlite3_prepare_v2(db,
                                           "SELECT count(*) FILTER (WHERE state = 'used'), "
                                           "count(*) FILTER (WHERE state = 'spoiled'), "
                                           "count(*) FILTER (WHERE state NOT IN ('used', 'spoiled')), "
                                           "count(DISTINCT idx), min(idx), max(idx) FROM allocations",
                                           -1, &st, NULL),
                        ==, SQLITE_OK);
        g_assert_cmpint(sqlite3_step(st), ==, SQLITE_ROW);
        g_test_message("used %d spoiled %d other %d distinct %d min %d max %d", sqlite3_column_int(st, 0),
                       sqlite3_column_int(st, 1), sqlite3_column_int(st, 2), sqlite3_column_int(st, 3),
                       sqlite3_column_int(st, 4), sqlite3_column_int(st, 5));
        g_assert_cmpint(sqlite3_column_int(st, 0), ==, (int)used);
        g_assert_cmpint(sqlite3_column_int(st, 1), ==, (int)spoiled);
        g_assert_cmpint(sqlite3_column_int(st, 2), ==, 0);
        g_assert_cmpint(sqlite3_column_int(st, 3), ==, (int)(used + spoiled));
        g_assert_cmpint(sqlite3_column_int(st, 4), ==, 1);
        g_assert_cmpint(sqlite3_column_int(st, 5), ==, (int)(used + spoiled));
        sqlite3_finalize(st);
        sqlite3_close(db);
}

static void test_kill9(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(256 * 1024, 5);
        g_autofree char *hex =
                integ_write_ihex(t, "big.hex", &(IntegSegment){FLASH_BASE, img, 256 * 1024}, 1);
        g_autofree char *counter = NULL;
        g_autoptr(GError) error = NULL;
        const char *parts[] = {"f405", NULL};
        char *jobs[4] = {};

        integ_start(t, &(IntegRun){.boards = 4, .parts = parts, .time_scale = "0.2"});
        integ_wait_devices(t, 4, 20);
        counter = add_counter(t, "boards", 1, &error);
        g_assert_no_error(error);
        for (unsigned i = 0; i < 4; i++) {
                g_autofree char *port = g_strdup_printf("1-%u", i + 1);
                jobs[i] = submit(t, hex, port, patches("u32le", FALSE), &error);
                g_assert_no_error(error);
        }
        for (unsigned i = 0; i < 4; i++) {
                g_autofree char *state = integ_wait_job_state(t, jobs[i], "writing", 60);
                g_assert_cmpstr(state, ==, "writing");
        }
        integ_crash(t);

        integ_start(t, &(IntegRun){.boards = 4, .parts = parts});
        for (unsigned i = 0; i < 4; i++) {
                g_autofree char *state = integ_wait_job(t, jobs[i], 120);
                g_assert_cmpstr(state, ==, "done");
                g_free(jobs[i]);
        }
        integ_stop(t);
        /* The four taken before the crash are spoiled; the resumed jobs took four new ones. */
        check_allocations(t, 4, 4);
        for (unsigned i = 0; i < 4; i++) {
                g_autofree char *port = g_strdup_printf("1-%u", i + 1);
                g_autoptr(GBytes) dump = integ_dump(t, port);
                uint32_t v = le32((const uint8_t *)g_bytes_get_data(dump, NULL) + (SERIAL_AT - FLASH_BASE));
                g_assert_cmpuint(v, >=, 5);
                g_assert_cmpuint(v, <=, 8);
        }
}

static void test_rule(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = NULL;
        g_autofree char *hex = image(t, &img), *counter = NULL, *rule = NULL, *stopped = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;
        bool seen[3] = {};

        /* Three boards for three values; the fourth finds the sequence exhausted and stops the rule. */
        integ_start(t,
                    &(IntegRun){.boards = 0,
                                .script = "at 2 plug 1-1\nat 3 plug 1-2\nat 4 plug 1-3\nat 6 plug 1-4\n"});
        r = integ_call(t, DFUSD_PATH, DFUSD_MANAGER, "AddSequence",
                       g_variant_new("(s@a{sv})", "boards",
                                     integ_options("start", g_variant_new_uint64(500), "last",
                                                   g_variant_new_uint64(502), NULL)),
                       "(o)", &error);
        g_assert_no_error(error);
        g_variant_get(r, "(o)", &counter);
        rule = integ_add_rule(t, (const char *[]){hex, NULL},
                              integ_options("match-port", g_variant_new_string("1-*"), "patches",
                                            patches("u32le", FALSE), NULL),
                              &error);
        g_assert_no_error(error);
        for (unsigned tries = 0; tries < 600 && seq_u64(t, counter, "Used") < 3; tries++)
                g_usleep(100 * 1000);
        g_assert_cmpuint(seq_u64(t, counter, "Used"), ==, 3);
        g_assert_cmpuint(seq_u64(t, counter, "Left"), ==, 0);
        for (unsigned tries = 0; tries < 600; tries++) {
                g_free(stopped);
                stopped = integ_get_string(t, rule, DFUSD_RULE, "Stopped");
                if (stopped[0])
                        break;
                g_usleep(100 * 1000);
        }
        g_assert_cmpstr(stopped, ==, "Sequence boards is exhausted.");
        integ_stop(t);
        for (unsigned i = 0; i < 3; i++) {
                g_autofree char *port = g_strdup_printf("1-%u", i + 1);
                g_autoptr(GBytes) dump = integ_dump(t, port);
                uint32_t v = le32((const uint8_t *)g_bytes_get_data(dump, NULL) + (SERIAL_AT - FLASH_BASE));
                g_assert_cmpuint(v, >=, 500);
                g_assert_cmpuint(v, <, 503);
                g_assert_false(seen[v - 500]);
                seen[v - 500] = true;
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/integ/serial/eight-boards", Integ, NULL, integ_setup, test_eight_boards,
                   integ_teardown);
        g_test_add("/integ/serial/faults", Integ, NULL, integ_setup, test_faults, integ_teardown);
        g_test_add("/integ/serial/kill9", Integ, NULL, integ_setup, test_kill9, integ_teardown);
        g_test_add("/integ/serial/rule", Integ, NULL, integ_setup, test_rule, integ_teardown);
        return test_run();
}
