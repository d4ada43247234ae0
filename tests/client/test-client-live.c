/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The live displays: flash's progress on a terminal (a pty) and on a pipe, NO_COLOR, and watch in
 * its three forms (redrawn screen, one line per event, JSON lines). */
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "test-main.h"

static const char *const h743[] = {"h743", NULL};

static void start(Integ *t, unsigned boards) {
        integ_start(t, &(IntegRun){.boards = boards, .parts = h743});
        integ_wait_devices(t, boards, 10);
}

/* Reads what the pty's master gets until stop is seen (or, with stop NULL, until the other side is
 * closed by every process). */
static void read_pty(int master, GString *out, const char *stop) {
        for (;;) {
                struct pollfd p = {.fd = master, .events = POLLIN};
                char buf[4096];
                ssize_t n;
                int r = poll(&p, 1, 60 * 1000);

                if (r == 0)
                        g_error("no output on the pty within 60 s; so far: %s", out->str);
                if (r < 0 && errno == EINTR)
                        continue;
                n = read(master, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) /* EIO: every process closed the other side */
                        return;
                g_string_append_len(out, buf, n);
                if (stop && strstr(out->str, stop))
                        return;
        }
}

/* Starts dfusctl with stdout on a new pty; returns the master side. */
static GSubprocess *spawn_on_pty(Integ *t, char **env, const char *const *args, int *ret_master) {
        g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        g_autoptr(GError) error = NULL;
        GSubprocess *p;
        int master, slave;

        g_assert_cmpint(openpty(&master, &slave, NULL, NULL, NULL), ==, 0);
        g_ptr_array_add(argv, (char *)ctl_path());
        g_ptr_array_add(argv, (char *)"--user");
        for (const char *const *a = args; *a; a++)
                g_ptr_array_add(argv, (char *)*a);
        g_ptr_array_add(argv, NULL);
        g_subprocess_launcher_set_environ(l, env);
        g_subprocess_launcher_take_stdout_fd(l, slave);
        p = g_subprocess_launcher_spawnv(l, (const char *const *)argv->pdata, &error);
        g_assert_no_error(error);
        *ret_master = master;
        return p; /* the launcher closes our copy of the slave side when it goes */
}

static int run_on_pty(Integ *t, char **env, const char *const *args, GString *out) {
        g_autoptr(GSubprocess) p = NULL;
        g_autoptr(GError) error = NULL;
        int master;

        p = spawn_on_pty(t, env, args, &master);
        read_pty(master, out, NULL);
        close(master);
        g_assert_true(g_subprocess_wait(p, NULL, &error));
        g_assert_no_error(error);
        g_test_message("pty output: %s", out->str);
        return g_subprocess_get_exit_status(p);
}

static void test_progress_pty(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", 128 * 1024, false, 11);
        g_autoptr(GString) out = g_string_new(NULL), plain = g_string_new(NULL);
        g_auto(GStrv) env = NULL, no_color = NULL;

        start(t, 1);
        env = ctl_environ(t);
        env = g_environ_setenv(env, "TERM", "xterm", TRUE);
        g_assert_cmpint(run_on_pty(t, env, (const char *const[]){"flash", image, "--no-leave", NULL}, out),
                        ==, 0);
        /* Redrawn in place (cursor up, clear line), with a bar and colour. */
        g_assert_nonnull(strstr(out->str, "\033[1A"));
        g_assert_nonnull(strstr(out->str, "\033[K"));
        g_assert_nonnull(strstr(out->str, "\033[0;32m"));
        g_assert_nonnull(strstr(out->str, "[####################] 100%"));
        g_assert_nonnull(strstr(out->str, "1-1: "));

        /* NO_COLOR: still redrawn in place, but no colour. */
        no_color = g_environ_setenv(g_strdupv(env), "NO_COLOR", "1", TRUE);
        g_assert_cmpint(
                run_on_pty(t, no_color, (const char *const[]){"flash", image, "--no-leave", NULL}, plain),
                ==, 0);
        g_assert_nonnull(strstr(plain->str, "\033[K"));
        g_assert_null(strstr(plain->str, "\033[0;3"));
        g_assert_nonnull(strstr(plain->str, "done"));
}

static void test_progress_pipe(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", 128 * 1024, false, 12);
        g_auto(CtlResult) r = {};
        g_auto(GStrv) lines = NULL;

        start(t, 1);
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--no-leave", NULL), ==, 0);
        g_assert_null(strchr(r.out, '\033'));
        g_assert_null(strchr(r.out, '\r'));
        /* One line per phase, then the result. */
        lines = g_strsplit(g_strchomp(r.out), "\n", -1);
        g_assert_cmpstr(lines[0], ==, "1-1: erasing");
        g_assert_cmpstr(lines[1], ==, "1-1: writing");
        g_assert_true(g_str_has_prefix(lines[g_strv_length(lines) - 1], "1-1: done in "));
        g_assert_nonnull(strstr(lines[g_strv_length(lines) - 1], "/s), 128 KiB written"));
        for (guint i = 1; lines[i]; i++)
                g_assert_cmpstr(lines[i], !=, lines[i - 1]);
}

/* 1 MiB on an H743 at a fifth of its datasheet timing: eight 128 KiB sectors, and every phase
 * lasts several redraws (about 1.8 s of erase, 2 s of write, 0.4 s of verify, which only USB
 * bounds). */
#define PHASES_IMAGE_SIZE (1024 * 1024)
#define PHASES_SECTORS    8
static const IntegRun phases_run = {.boards = 1, .parts = h743, .time_scale = "0.2"};

/* "412 KiB", "900.8 KiB", "12 B", "1.2 MiB" as dfusctl prints them, in bytes (to a rounding). */
static double parse_size(const char *s) {
        char *end;
        double v = g_ascii_strtod(s, &end);

        while (*end == ' ')
                end++;
        return g_str_has_prefix(end, "MiB") ? v * 1024 * 1024 : g_str_has_prefix(end, "KiB") ? v * 1024 : v;
}

/* Every phase the live line showed, in order, each counter and the whole job's percentage only
 * going forward. */
static void test_progress_phases(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", PHASES_IMAGE_SIZE, false, 16);
        g_autoptr(GString) out = g_string_new(NULL);
        g_autoptr(GRegex) re = g_regex_new("(erasing|writing|verifying) ([0-9.]+(?: [KM]?i?B)?)(?:/| / )"
                                           "([0-9.]+(?: [KM]?i?B)?)|(done in [0-9.]+ m?s \\()|"
                                           "job \\[[#.]{20}\\] +([0-9]+)%",
                                           0, 0, NULL);
        g_autoptr(GMatchInfo) m = NULL;
        g_auto(GStrv) env = NULL;
        const char *const order[] = {"erasing", "writing", "verifying", "done"};
        unsigned seen = 0, rank = 0, percent = 0;
        double counter = 0;

        integ_start(t, &phases_run);
        integ_wait_devices(t, 1, 10);
        env = g_environ_setenv(ctl_environ(t), "TERM", "xterm", TRUE);
        env = g_environ_setenv(env, "NO_COLOR", "1", TRUE);
        g_assert_cmpint(run_on_pty(t, env,
                                   (const char *const[]){"flash", image, "--verify", "--no-leave", NULL},
                                   out),
                        ==, 0);
        g_assert_nonnull(re);
        for (g_regex_match(re, out->str, 0, &m); g_match_info_matches(m); g_match_info_next(m, NULL)) {
                g_autofree char *phase = g_match_info_fetch(m, 1), *done = g_match_info_fetch(m, 2),
                                *total = g_match_info_fetch(m, 3), *end = g_match_info_fetch(m, 4),
                                *pct = g_match_info_fetch(m, 5);
                const char *name = end && end[0] ? "done" : phase;
                unsigned r = 0;

                if (pct && pct[0]) {
                        /* The bar is the whole job's: it never goes back. */
                        g_assert_cmpuint((unsigned)atoi(pct), >=, percent);
                        percent = (unsigned)atoi(pct);
                        continue;
                }
                while (r < G_N_ELEMENTS(order) && !g_str_equal(order[r], name))
                        r++;
                g_assert_cmpuint(r, <, G_N_ELEMENTS(order));
                /* Phases in order, never back to an earlier one. */
                g_assert_cmpuint(r, >=, rank);
                if (r > rank || !(seen & 1u << r))
                        counter = 0;
                rank = r;
                seen |= 1u << r;
                if (g_str_equal(name, "done"))
                        continue;
                /* Within a phase the counter only grows, and never past its total. */
                g_assert_cmpfloat(parse_size(done), >=, counter);
                g_assert_cmpfloat(parse_size(done), <=, parse_size(total));
                counter = parse_size(done);
                if (g_str_equal(name, "erasing"))
                        g_assert_cmpuint(atoi(total), ==, PHASES_SECTORS);
                else
                        g_assert_cmpfloat(parse_size(total), >=, PHASES_IMAGE_SIZE - 100);
        }
        /* Every phase was shown: erase counted in sectors, write and verify in bytes of the image. */
        g_assert_cmpuint(seen, ==, 0xf);
        g_assert_cmpuint(percent, ==, 100);
        /* Some sector counted part-way (which ones, the redraws' timing decides). */
        g_assert_true(g_regex_match_simple("erasing [1-7]/8 sectors", out->str, 0, 0));
        g_assert_nonnull(strstr(out->str, " / 1 MiB"));
        g_assert_nonnull(strstr(out->str, "ETA "));
        g_assert_nonnull(strstr(out->str, "1-1: done in "));
}

/* Reads lines from a watch until one contains needle. */
static void read_until(GDataInputStream *in, GPtrArray *lines, const char *needle) {
        for (;;) {
                g_autoptr(GError) error = NULL;
                char *line = g_data_input_stream_read_line(in, NULL, NULL, &error);

                g_assert_no_error(error);
                if (!line)
                        g_error("watch ended before \"%s\"", needle);
                g_ptr_array_add(lines, line);
                if (strstr(line, needle))
                        return;
        }
}

static GSubprocess *spawn_watch(Integ *t, bool json, GDataInputStream **ret_in) {
        g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) env = ctl_environ(t);
        GSubprocess *p;

        g_subprocess_launcher_set_environ(l, env);
        p = g_subprocess_launcher_spawn(l, &error, ctl_path(), "--user", "watch", json ? "--json" : NULL,
                                        NULL);
        g_assert_no_error(error);
        *ret_in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(p));
        return p;
}

static void stop_watch(GSubprocess *p) {
        g_autoptr(GError) error = NULL;

        g_subprocess_send_signal(p, SIGTERM);
        g_assert_true(g_subprocess_wait(p, NULL, &error));
        g_assert_true(g_subprocess_get_if_exited(p));
        g_assert_cmpint(g_subprocess_get_exit_status(p), ==, 0);
}

/* The JSON of a job in each phase carries the phase, its counters, and the whole job's Progress. */
static void assert_phase_fields(json_object *job, GHashTable *phases) {
        const char *phase = jstr(job, "Phase"), *state = jstr(job, "State");
        guint64 done = json_object_get_uint64(jget(job, "PhaseDone")),
                total = json_object_get_uint64(jget(job, "PhaseTotal"));
        double progress = json_object_get_double(jget(job, "Progress"));

        g_assert_cmpuint(done, <=, total);
        g_assert_cmpfloat(progress, >=, 0);
        g_assert_cmpfloat(progress, <=, 1);
        if (g_str_equal(phase, "erasing"))
                g_assert_cmpuint(total, ==, PHASES_SECTORS);
        else if (g_str_equal(phase, "writing") || g_str_equal(phase, "verifying"))
                g_assert_cmpuint(total, >=, PHASES_IMAGE_SIZE);
        else if (g_str_equal(phase, "done"))
                g_assert_cmpfloat(progress, ==, 1);
        else if (phase[0] == '\0')
                /* Not started yet: the state says why. */
                g_assert_true(g_str_equal(state, "queued") || g_str_equal(state, "waiting") ||
                              g_str_equal(state, "erasing"));
        if (phase[0])
                g_hash_table_add(phases, g_strdup(phase));
}

static void test_job_json_phases(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", PHASES_IMAGE_SIZE, false, 17);
        g_autoptr(GHashTable) polled = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
                              watched = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GDataInputStream) in = NULL;
        g_autoptr(GSubprocess) p = NULL;
        g_autoptr(json_object) doc = NULL;
        g_auto(CtlResult) r = {};
        g_autofree char *path = NULL;
        const char *state = "";

        integ_start(t, &phases_run);
        integ_wait_devices(t, 1, 10);
        p = spawn_watch(t, true, &in);
        read_until(in, lines, "\"snapshot\"");
        g_assert_cmpint(
                ctl_run(t, &r, "flash", image, "--verify", "--no-leave", "--no-block", "--json", NULL), ==,
                0);
        doc = ctl_json(&r);
        path = g_strdup(jstr(json_object_array_get_idx(jget(doc, "jobs"), 0), "path"));
        assert_phase_fields(json_object_array_get_idx(jget(doc, "jobs"), 0), polled);
        /* dfusctl job --json while it runs, whatever phase each call finds it in. */
        for (unsigned i = 0; i < 3000 && !g_str_equal(state, "done"); i++) {
                g_autoptr(json_object) job = NULL;

                ctl_result_clear(&r);
                g_assert_cmpint(ctl_run(t, &r, "job", path, "--json", NULL), ==, 0);
                job = ctl_json(&r);
                assert_phase_fields(job, polled);
                state = g_intern_string(jstr(job, "State"));
                g_assert_cmpstr(state, !=, "failed");
                g_assert_cmpstr(state, !=, "cancelled");
                g_usleep(20 * 1000);
        }
        g_assert_cmpstr(state, ==, "done");
        g_assert_true(g_hash_table_contains(polled, "erasing"));
        g_assert_true(g_hash_table_contains(polled, "writing"));
        g_assert_true(g_hash_table_contains(polled, "done"));

        /* watch --json saw every phase published, each change with its counters. */
        read_until(in, lines, "\"completed\"");
        stop_watch(p);
        for (guint i = 0; i < lines->len; i++) {
                g_autoptr(json_object) o = json_tokener_parse(lines->pdata[i]);
                json_object *props;

                if (!o || !g_str_equal(jstr(o, "event"), "changed") ||
                    !json_object_object_get_ex(o, "properties", &props) ||
                    !json_object_object_get_ex(props, "Phase", NULL))
                        continue;
                jget(props, "PhaseDone");
                jget(props, "PhaseTotal");
                jget(props, "Progress");
                g_hash_table_add(watched, g_strdup(jstr(props, "Phase")));
        }
        for (const char *const *ph = (const char *const[]){"erasing", "writing", "verifying", "done", NULL};
             *ph; ph++)
                if (!g_hash_table_contains(watched, *ph))
                        g_error("watch --json never showed Phase \"%s\"", *ph);
}

static void test_watch_lines(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", 64 * 1024, false, 13);
        g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GDataInputStream) in = NULL;
        g_autoptr(GSubprocess) p = NULL;
        g_auto(CtlResult) r = {};
        bool writing = false;

        start(t, 2);
        p = spawn_watch(t, false, &in);
        read_until(in, lines, "board 1-2 present");
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--port", "1-2", "--no-leave", NULL), ==, 0);
        read_until(in, lines, "1-2: done");
        stop_watch(p);
        for (guint i = 0; i < lines->len; i++) {
                const char *l = lines->pdata[i];
                g_assert_null(strchr(l, '\033'));
                writing |= strstr(l, "1-2: writing") != NULL;
                /* Transitions only: the same line never twice in a row. */
                if (i > 0)
                        g_assert_cmpstr(strchr(l, ' '), !=, strchr(lines->pdata[i - 1], ' '));
        }
        g_assert_true(writing);
}

/* A job that finds its sequence exhausted: watch says so, on its line and as the board's LastError. */
static void test_watch_exhausted(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", 4096, false, 15);
        g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GDataInputStream) in = NULL, json_in = NULL;
        g_autoptr(GSubprocess) p = NULL, json = NULL;
        g_auto(CtlResult) r = {};

        start(t, 1);
        g_assert_cmpint(ctl_run(t, &r, "sequence", "add", "one", "--start", "1", "--last", "1", NULL), ==,
                        0);
        ctl_result_clear(&r);
        g_assert_cmpint(
                ctl_run(t, &r, "flash", image, "--no-leave", "--patch", "0x08000100:u32le:one", NULL), ==,
                0);
        ctl_result_clear(&r);
        p = spawn_watch(t, false, &in);
        read_until(in, lines, "board 1-1 present");
        json = spawn_watch(t, true, &json_in);
        read_until(json_in, lines, "\"snapshot\"");
        g_assert_cmpint(
                ctl_run(t, &r, "flash", image, "--no-leave", "--patch", "0x08000100:u32le:one", NULL), ==,
                5);
        read_until(in, lines, "failed: Sequence one is exhausted.");
        g_assert_nonnull(strstr(lines->pdata[lines->len - 1], "job 2 "));
        read_until(json_in, lines, "\"LastError\":\"Sequence one is exhausted.\"");
        stop_watch(p);
        stop_watch(json);
}

static void test_watch_json(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", 64 * 1024, false, 14);
        g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GDataInputStream) in = NULL;
        g_autoptr(GSubprocess) p = NULL;
        g_auto(CtlResult) r = {};
        unsigned added = 0, changed = 0, completed = 0;

        start(t, 1);
        p = spawn_watch(t, true, &in);
        read_until(in, lines, "\"snapshot\"");
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--no-leave", NULL), ==, 0);
        read_until(in, lines, "\"completed\"");
        stop_watch(p);
        for (guint i = 0; i < lines->len; i++) {
                g_autoptr(json_object) o = json_tokener_parse(lines->pdata[i]);
                const char *event;

                if (!o)
                        g_error("not a JSON line: %s", (char *)lines->pdata[i]);
                event = jstr(o, "event");
                if (g_str_equal(event, "snapshot"))
                        g_assert_true(json_object_is_type(jget(o, "objects"), json_type_object));
                else if (g_str_equal(event, "added")) {
                        added++;
                        g_assert_true(json_object_is_type(jget(o, "interfaces"), json_type_object));
                } else if (g_str_equal(event, "changed")) {
                        changed++;
                        g_assert_true(json_object_is_type(jget(o, "properties"), json_type_object));
                        jstr(o, "interface");
                } else if (g_str_equal(event, "completed")) {
                        completed++;
                        g_assert_true(json_object_get_boolean(jget(o, "success")));
                }
        }
        g_assert_cmpuint(added, >=, 1);
        g_assert_cmpuint(changed, >=, 2);
        g_assert_cmpuint(completed, ==, 1);
}

/* A station screen outlives a restart of dfusd: it says so and reads everything again. */
static void test_watch_restart(Integ *t, gconstpointer data) {
        g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GDataInputStream) in = NULL;
        g_autoptr(GSubprocess) p = NULL;

        start(t, 1);
        p = spawn_watch(t, true, &in);
        read_until(in, lines, "\"snapshot\"");
        integ_stop(t);
        read_until(in, lines, "\"running\":false");
        start(t, 2);
        read_until(in, lines, "\"running\":true");
        read_until(in, lines, "\"snapshot\"");
        /* The board is in the new snapshot, or arrives right after it. */
        if (!strstr(lines->pdata[lines->len - 1], "\"PortPath\":\"1-1\""))
                read_until(in, lines, "\"PortPath\":\"1-1\"");
        stop_watch(p);
}

static void test_watch_screen(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", 64 * 1024, false, 15);
        g_autoptr(GString) out = g_string_new(NULL);
        g_autoptr(GSubprocess) p = NULL;
        g_autoptr(GError) error = NULL;
        g_auto(CtlResult) r = {};
        g_auto(GStrv) env = NULL;
        int master;

        start(t, 1);
        env = ctl_environ(t);
        p = spawn_on_pty(t, env, (const char *const[]){"watch", NULL}, &master);
        read_pty(master, out, "1-1");
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--no-leave", NULL), ==, 0);
        read_pty(master, out, "100%");
        g_subprocess_send_signal(p, SIGTERM);
        read_pty(master, out, NULL);
        close(master);
        g_assert_true(g_subprocess_wait(p, NULL, &error));
        g_assert_cmpint(g_subprocess_get_exit_status(p), ==, 0);
        /* Redrawn in place: home, lines cleared to their end, the rest of the old screen cleared;
         * the boards' table and the job's bar. */
        g_assert_nonnull(strstr(out->str, "\033[H"));
        g_assert_nonnull(strstr(out->str, "\033[K"));
        g_assert_nonnull(strstr(out->str, "\033[J"));
        g_assert_nonnull(strstr(out->str, "PORT"));
        g_assert_nonnull(strstr(out->str, "h743"));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/client/progress/pty", Integ, NULL, integ_setup, test_progress_pty, integ_teardown);
        g_test_add("/client/progress/pipe", Integ, NULL, integ_setup, test_progress_pipe, integ_teardown);
        g_test_add("/client/progress/phases", Integ, NULL, integ_setup, test_progress_phases,
                   integ_teardown);
        g_test_add("/client/progress/job-json", Integ, NULL, integ_setup, test_job_json_phases,
                   integ_teardown);
        g_test_add("/client/watch/lines", Integ, NULL, integ_setup, test_watch_lines, integ_teardown);
        g_test_add("/client/watch/json", Integ, NULL, integ_setup, test_watch_json, integ_teardown);
        g_test_add("/client/watch/exhausted", Integ, NULL, integ_setup, test_watch_exhausted,
                   integ_teardown);
        g_test_add("/client/watch/restart", Integ, NULL, integ_setup, test_watch_restart, integ_teardown);
        g_test_add("/client/watch/screen", Integ, NULL, integ_setup, test_watch_screen, integ_teardown);
        return test_run();
}
