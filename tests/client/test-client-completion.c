/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bash completion of dfusctl, run by bash against a live dfusd: verbs, options, and the port
 * paths, job and rule numbers it asks the daemon for. */
#include <string.h>

#include "ctl.h"
#include "test-main.h"

static const char *const h743[] = {"h743", NULL};

/* Completes the words (the last one being completed) and returns COMPREPLY, one per line. */
static char *complete(Integ *t, const char *const *words) {
        g_autoptr(GString) script = g_string_new(NULL);
        g_autofree char *out = NULL, *err = NULL, *dir = g_path_get_dirname(ctl_path());
        g_autofree char *path = g_strconcat(dir, ":", g_getenv("PATH") ?: "/usr/bin:/bin", NULL);
        g_auto(GStrv) env = ctl_environ(t);
        g_autoptr(GError) error = NULL;
        const char *completion = g_getenv("DFUSCTL_COMPLETION");
        unsigned n = g_strv_length((char **)words);
        int status;

        g_assert_nonnull(completion);
        env = g_environ_setenv(env, "PATH", path, TRUE);
        g_string_append_printf(script, "source '%s'\nCOMP_WORDS=(", completion);
        for (unsigned i = 0; i < n; i++)
                g_string_append_printf(script, " '%s'", words[i]);
        g_string_append_printf(script, ")\nCOMP_CWORD=%u\n_dfusctl\nprintf '%%s\\n' \"${COMPREPLY[@]}\"\n",
                               n - 1);
        g_assert_true(g_spawn_sync(NULL, (char *[]){"bash", "--norc", "-c", script->str, NULL}, env,
                                   G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error));
        g_assert_no_error(error);
        g_assert_cmpint(status, ==, 0);
        g_test_message("%s -> %s%s", script->str, out, err);
        return g_steal_pointer(&out);
}

static void test_completion(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", 4096, false, 31);
        g_autofree char *verbs = NULL, *opts = NULL, *ports = NULL, *jobs = NULL, *rules = NULL,
                        *subs = NULL, *history_opts = NULL, *results = NULL, *formats = NULL;
        g_auto(CtlResult) r = {};

        integ_start(t, &(IntegRun){.boards = 2, .parts = h743});
        integ_wait_devices(t, 2, 10);

        verbs = complete(t, (const char *const[]){"dfusctl", "h", NULL});
        g_assert_cmpstr(verbs, ==, "history\n");
        opts = complete(t, (const char *const[]){"dfusctl", "flash", "app.hex", "--no-", NULL});
        g_assert_nonnull(strstr(opts, "--no-leave\n"));
        g_assert_nonnull(strstr(opts, "--no-block\n"));
        g_assert_nonnull(strstr(opts, "--no-verify\n"));
        subs = complete(t, (const char *const[]){"dfusctl", "rule", "", NULL});
        g_assert_cmpstr(subs, ==, "add\nlist\nremove\n");
        history_opts = complete(t, (const char *const[]){"dfusctl", "history", "--re", NULL});
        g_assert_cmpstr(history_opts, ==, "--result\n");
        results = complete(t, (const char *const[]){"dfusctl", "history", "--result", "", NULL});
        g_assert_cmpstr(results, ==, "done\nfailed\ncancelled\n");
        formats = complete(t, (const char *const[]){"dfusctl", "history", "--format", "", NULL});
        g_assert_cmpstr(formats, ==, "table\ncsv\njsonl\n");

        /* Values from the daemon the command line names (--user: the test's bus). */
        ports = complete(t, (const char *const[]){"dfusctl", "--user", "flash", image, "--port", "", NULL});
        g_assert_cmpstr(ports, ==, "1-1\n1-2\n");
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--port", "1-2", "--no-leave", NULL), ==, 0);
        ctl_result_clear(&r);
        jobs = complete(t, (const char *const[]){"dfusctl", "--user", "job", "", NULL});
        g_assert_cmpstr(jobs, ==, "1\n");
        g_assert_cmpint(ctl_run(t, &r, "rule", "add", image, "--match", "any", NULL), ==, 0);
        rules = complete(t, (const char *const[]){"dfusctl", "--user", "rule", "remove", "", NULL});
        g_assert_cmpstr(rules, ==, "1\n");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/client/completion", Integ, NULL, integ_setup, test_completion, integ_teardown);
        return test_run();
}
