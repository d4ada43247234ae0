/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The unit's sandbox fits the daemon: every system call dfusd makes while it flashes, handles bad
 * input, and stops is allowed by the unit's SystemCallFilter=, and every socket it opens is of a family
 * in RestrictAddressFamilies=. The calls are traced with strace through a real job. Under umockdev
 * the usbfs ioctls and the uevent socket go through its preload library (AF_UNIX instead of
 * AF_NETLINK), whose own calls are traced too: the check covers the daemon's code paths, not the
 * kernel's view of a real board.
 */
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "test-main.h"

#define FLASH_BASE 0x08000000u

static char *run(char **argv) {
        g_autoptr(GError) error = NULL;
        char *out = NULL;
        g_autofree char *err = NULL;
        int status = 0;

        g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error);
        g_assert_no_error(error);
        if (!g_spawn_check_wait_status(status, NULL))
                g_error("%s failed: %s", argv[0], err);
        return out;
}

/* Adds the calls of a filter group (recursively) or a single call to set. */
static void expand(GHashTable *set, const char *item) {
        g_autofree char *out = NULL;
        g_auto(GStrv) lines = NULL;

        if (item[0] != '@') {
                g_hash_table_add(set, g_strdup(item));
                return;
        }
        out = run((char *[]){"systemd-analyze", "syscall-filter", "--no-pager", (char *)item, NULL});
        lines = g_strsplit(out, "\n", -1);
        for (char **l = lines + 1; *l; l++) {
                g_autofree char *w = g_strstrip(g_strdup(*l));
                if (*w && *w != '#')
                        expand(set, w);
        }
}

/* The set of calls the unit's SystemCallFilter= lines allow, read from the generated unit. */
static GHashTable *unit_allowed_calls(const char *unit_path) {
        g_autoptr(GHashTable) denied = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        GHashTable *allowed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autofree char *unit = NULL;
        g_auto(GStrv) lines = NULL;

        g_assert_true(g_file_get_contents(unit_path, &unit, NULL, NULL));
        lines = g_strsplit(unit, "\n", -1);
        for (char **l = lines; *l; l++) {
                g_auto(GStrv) words = NULL;
                bool deny;
                if (!g_str_has_prefix(*l, "SystemCallFilter="))
                        continue;
                deny = (*l)[strlen("SystemCallFilter=")] == '~';
                words = g_strsplit(*l + strlen("SystemCallFilter=") + deny, " ", -1);
                for (char **w = words; *w; w++)
                        if (**w)
                                expand(deny ? denied : allowed, *w);
        }
        g_assert_cmpuint(g_hash_table_size(allowed), >, 0);
        GHashTableIter it;
        gpointer key;
        g_hash_table_iter_init(&it, denied);
        while (g_hash_table_iter_next(&it, &key, NULL))
                g_hash_table_remove(allowed, key);
        return allowed;
}

/* A wrapper that runs dfusd under strace, writing one trace per process below dir. */
static char *strace_wrapper(Integ *t, const char *dir) {
        /* LeakSanitizer cannot work under ptrace; the other programs look for leaks */
        g_autofree char *script =
                g_strdup_printf("#!/bin/sh\nexport ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\"\n"
                                "exec strace -f -qq -o %s/trace -e trace=all %s \"$@\"\n",
                                dir, integ_dfusd_path());
        char *path = integ_write_file(t, "dfusd-traced", script, strlen(script));
        g_assert_cmpint(chmod(path, 0755), ==, 0);
        return path;
}

static void flash_and_fail_once(Integ *t) {
        g_autofree uint8_t *img = integ_pattern(4096, 41);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 4096}, 1);
        g_autofree char *garbage = integ_write_file(t, "garbage.hex", ":zz\n", 4);
        g_autofree char *job = NULL, *state = NULL, *bad = NULL;
        g_autoptr(GError) error = NULL;

        /* As its unit runs it: as an unprivileged user (libraries act differently for root: SQLite, for
         * one, hands its journal files to the database's owner with fchown). */
        integ_start(t, &(IntegRun){.boards = 1, .user = getuid() == 0 ? "nobody" : NULL});
        integ_wait_devices(t, 1, 30);
        job = integ_submit(t, (const char *[]){file, NULL}, NULL, &error);
        g_assert_no_error(error);
        state = integ_wait_job(t, job, 60);
        g_assert_cmpstr(state, ==, "done");
        bad = integ_submit(t, (const char *[]){garbage, NULL}, NULL, &error);
        g_assert_null(bad);
        g_clear_error(&error);
        integ_stop(t);
}

static void test_sandbox(Integ *t, gconstpointer data) {
        const char *unit_path = g_getenv("DFUSD_UNIT");
        g_autofree char *traces = g_build_filename(t->dir, "traces", NULL);
        g_autofree char *wrapper = NULL, *strace = g_find_program_in_path("strace");
        g_autoptr(GHashTable) allowed = NULL,
                              seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autoptr(GRegex) call = g_regex_new("^[0-9]+ +([a-z0-9_]+)\\(", G_REGEX_MULTILINE, 0, NULL);
        g_autoptr(GRegex) sock = g_regex_new("socket\\((AF_[A-Z0-9]+)", 0, 0, NULL);
        g_autoptr(GDir) d = NULL;
        const char *name;
        unsigned blocked = 0;

        if (!strace) {
                test_skip("strace is not installed");
                return;
        }
        g_assert_nonnull(unit_path);
        allowed = unit_allowed_calls(unit_path);
        g_assert_cmpint(g_mkdir(traces, 0777), ==, 0);
        g_assert_cmpint(chmod(traces, 0777), ==, 0);
        wrapper = strace_wrapper(t, traces);
        g_setenv("DFUSD_BIN", wrapper, TRUE);
        flash_and_fail_once(t);

        d = g_dir_open(traces, 0, NULL);
        g_assert_nonnull(d);
        while ((name = g_dir_read_name(d))) {
                g_autofree char *path = g_build_filename(traces, name, NULL), *text = NULL;
                g_autoptr(GMatchInfo) m = NULL, s = NULL;
                g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
                for (g_regex_match(call, text, 0, &m); g_match_info_matches(m); g_match_info_next(m, NULL))
                        g_hash_table_add(seen, g_match_info_fetch(m, 1));
                for (g_regex_match(sock, text, 0, &s); g_match_info_matches(s); g_match_info_next(s, NULL)) {
                        g_autofree char *family = g_match_info_fetch(s, 1);
                        if (!g_str_equal(family, "AF_UNIX") && !g_str_equal(family, "AF_NETLINK"))
                                g_error("dfusd opened a %s socket, which RestrictAddressFamilies= refuses",
                                        family);
                }
        }
        g_assert_cmpuint(g_hash_table_size(seen), >, 20);
        GHashTableIter it;
        gpointer key;
        g_hash_table_iter_init(&it, seen);
        while (g_hash_table_iter_next(&it, &key, NULL))
                /* execve is strace starting dfusd, before the filter would apply */
                if (!g_hash_table_contains(allowed, key) && !g_str_equal(key, "execve")) {
                        g_test_message("not allowed by the unit: %s", (const char *)key);
                        blocked++;
                }
        g_test_message("%u distinct system calls, %u outside the unit's filter", g_hash_table_size(seen),
                       blocked);
        g_assert_cmpuint(blocked, ==, 0);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/integ/sandbox/syscalls", Integ, NULL, integ_setup, test_sandbox, integ_teardown);
        return test_run();
}
