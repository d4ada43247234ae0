/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `cmake --install` into a DESTDIR: every system integration file lands where the distribution's
 * service manager, udev and bus look for it, the files agree with each other (names, user, paths),
 * systemd accepts the units (dfusd's and dfusd-web's), and the journal catalog explains every
 * MESSAGE_ID the daemon logs. The security exposure scores are printed, not asserted.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "test-main.h"

typedef struct Installed {
        char *destdir;
} Installed;

/* One installation serves every test of this program. */
static void install(Installed *f) {
        g_autoptr(GError) error = NULL;
        g_autofree char *out = NULL, *err = NULL;
        int status = 0;
        const char *build = g_getenv("DFUSD_BUILD_DIR");
        g_auto(GStrv) env = g_get_environ();

        g_assert_nonnull(build);
        f->destdir = g_dir_make_tmp("dfusd-install-XXXXXX", &error);
        g_assert_no_error(error);
        env = g_environ_setenv(env, "DESTDIR", f->destdir, TRUE);
        g_spawn_sync(NULL, (char *[]){"cmake", "--install", (char *)build, NULL}, env, G_SPAWN_SEARCH_PATH,
                     NULL, NULL, &out, &err, &status, &error);
        g_assert_no_error(error);
        if (!g_spawn_check_wait_status(status, NULL))
                g_error("cmake --install failed:\n%s%s", out, err);
}

static void uninstall(Installed *f) {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->destdir);
        if (!g_test_failed())
                g_assert_cmpint(system(cmd), ==, 0);
        g_free(f->destdir);
}

static char *installed_path(Installed *f, const char *dir_var, const char *name) {
        const char *dir = g_getenv(dir_var);
        g_assert_nonnull(dir);
        g_assert_true(g_path_is_absolute(dir));
        return g_build_filename(f->destdir, dir, name, NULL);
}

static char *read_installed(Installed *f, const char *dir_var, const char *name) {
        g_autofree char *path = installed_path(f, dir_var, name);
        char *text = NULL;

        if (!g_file_get_contents(path, &text, NULL, NULL))
                g_error("%s was not installed", path);
        return text;
}

/* The value of the first "key=" line. */
static char *ini_value(const char *text, const char *key) {
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        size_t klen = strlen(key);

        for (char **l = lines; *l; l++)
                if (strncmp(*l, key, klen) == 0 && (*l)[klen] == '=')
                        return g_strstrip(g_strdup(*l + klen + 1));
        return NULL;
}

static void assert_ini(const char *text, const char *key, const char *expected) {
        g_autofree char *v = ini_value(text, key);
        g_assert_cmpstr(v, ==, expected);
}

static void assert_executable(Installed *f, const char *path) {
        g_autofree char *p = g_build_filename(f->destdir, path, NULL);
        g_assert_true(g_path_is_absolute(path));
        if (!g_file_test(p, G_FILE_TEST_IS_EXECUTABLE))
                g_error("%s names %s, which was not installed as an executable", "a unit or activation file",
                        path);
}

static void test_layout(gconstpointer data) {
        Installed *f = (Installed *)data;
        g_autofree char *unit = read_installed(f, "DFUSD_SYSTEMD_UNIT_DIR", "dfusd.service");
        g_autofree char *activation =
                read_installed(f, "DFUSD_DBUS_SYSTEM_SERVICES_DIR", "org.dfusd.Flash1.service");
        g_autofree char *policy = read_installed(f, "DFUSD_DBUS_SYSTEM_POLICY_DIR", "org.dfusd.Flash1.conf");
        g_autofree char *xml = read_installed(f, "DFUSD_DBUS_INTERFACES_DIR", "org.dfusd.Flash1.xml");
        g_autofree char *rules = read_installed(f, "DFUSD_UDEV_RULES_DIR", "70-dfusd.rules");
        g_autofree char *sysusers = read_installed(f, "DFUSD_SYSUSERS_DIR", "dfusd.conf");
        g_autofree char *tmpfiles = read_installed(f, "DFUSD_TMPFILES_DIR", "dfusd.conf");
        g_autofree char *conf = read_installed(f, "DFUSD_SYSCONF_DIR", "dfusd/dfusd.conf");
        g_autofree char *exec_start = ini_value(unit, "ExecStart"), *exec = ini_value(activation, "Exec");

        /* both ways of starting the daemon name the binary that was installed */
        g_assert_nonnull(exec_start);
        assert_executable(f, exec_start);
        g_assert_cmpstr(exec, ==, exec_start);

        /* one bus name, one unit, one user everywhere */
        assert_ini(unit, "BusName", "org.dfusd.Flash1");
        assert_ini(activation, "Name", "org.dfusd.Flash1");
        assert_ini(activation, "SystemdService", "dfusd.service");
        assert_ini(activation, "User", "dfusd");
        assert_ini(unit, "User", "dfusd");
        assert_ini(unit, "StateDirectory", "dfusd");
        g_assert_nonnull(strstr(policy, "<allow own=\"org.dfusd.Flash1\"/>"));
        g_assert_nonnull(strstr(policy, "<policy group=\"dfusd\">"));
        g_assert_nonnull(strstr(xml, "<interface name=\"org.dfusd.Flash1.Manager\">"));
        g_assert_true(g_str_has_prefix(sysusers, "#") && strstr(sysusers, "\nu dfusd "));
        g_assert_nonnull(strstr(tmpfiles, "\nd /var/lib/dfusd 0700 dfusd dfusd"));
        g_assert_nonnull(strstr(rules, "GROUP=\"dfusd\""));
        g_assert_nonnull(strstr(rules, "ENV{SYSTEMD_WANTS}+=\"dfusd.service\""));
        g_assert_nonnull(strstr(conf, "[Daemon]"));
}

/* Copies an installed unit into dir, with ExecStart= (when it has one) pointing into the DESTDIR. */
static char *copy_unit(Installed *f, const char *dir, const char *name) {
        g_autofree char *unit = read_installed(f, "DFUSD_SYSTEMD_UNIT_DIR", name);
        g_autofree char *exec_start = strstr(unit, "\nExecStart=") ? ini_value(unit, "ExecStart") : NULL;
        char *copy = g_build_filename(dir, name, NULL);
        g_autofree char *text = NULL;

        if (exec_start) {
                g_autofree char *installed_exec = g_build_filename(f->destdir, exec_start, NULL);
                g_autofree char *old = g_strconcat("ExecStart=", exec_start, NULL);
                g_autofree char *new = g_strconcat("ExecStart=", installed_exec, NULL);
                g_auto(GStrv) parts = g_strsplit(unit, old, 2);
                text = g_strjoinv(new, parts);
        } else
                text = g_strdup(unit);
        g_assert_true(g_file_set_contents(copy, text, -1, NULL));
        return copy;
}

/* systemd-analyze verify on copies of the installed units (a socket's service next to it). */
static void test_verify(gconstpointer data) {
        Installed *f = (Installed *)data;
        static const char *const units[] = {"dfusd.service", "dfusd-web.service", "dfusd-web.socket"};
        g_autofree char *dir = g_build_filename(f->destdir, "verify", NULL);

        g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
        for (size_t i = 0; i < G_N_ELEMENTS(units); i++)
                g_free(copy_unit(f, dir, units[i]));
        for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
                g_autofree char *copy = g_build_filename(dir, units[i], NULL);
                g_autofree char *out = NULL, *err = NULL;
                g_autoptr(GError) error = NULL;
                int status = 0;

                g_spawn_sync(NULL, (char *[]){"systemd-analyze", "verify", "--man=no", copy, NULL}, NULL,
                             G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error);
                g_assert_no_error(error);
                if (!g_spawn_check_wait_status(status, NULL) || (err && *err))
                        g_error("systemd-analyze verify %s:\n%s%s", copy, out, err);
        }
}

/* The installed sysusers.d and tmpfiles.d files, applied to the DESTDIR as to a new system image. */
static void test_sysusers_tmpfiles(gconstpointer data) {
        Installed *f = (Installed *)data;
        g_autofree char *root = g_strconcat("--root=", f->destdir, NULL);
        g_autofree char *passwd = NULL, *group = NULL, *out = NULL, *err = NULL;
        g_autofree char *etc = g_build_filename(f->destdir, "etc", NULL);
        g_autofree char *passwd_path = g_build_filename(etc, "passwd", NULL);
        g_autofree char *group_path = g_build_filename(f->destdir, "etc", "group", NULL);
        g_autofree char *state = g_build_filename(f->destdir, "var", "lib", "dfusd", NULL);
        g_autoptr(GError) error = NULL;
        struct stat st;
        int status = 0;

        /* a new image has an /etc, even when the install put nothing there (prefix /usr/local) */
        g_assert_cmpint(g_mkdir_with_parents(etc, 0755), ==, 0);
        g_spawn_sync(NULL, (char *[]){"systemd-sysusers", root, NULL}, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                     &out, &err, &status, &error);
        g_assert_no_error(error);
        if (!g_spawn_check_wait_status(status, NULL))
                g_error("systemd-sysusers %s: %s%s", root, out, err);
        g_assert_true(g_file_get_contents(passwd_path, &passwd, NULL, NULL));
        g_assert_true(g_file_get_contents(group_path, &group, NULL, NULL));
        g_assert_true(g_str_has_prefix(passwd, "dfusd:") || strstr(passwd, "\ndfusd:"));
        g_assert_true(g_str_has_prefix(group, "dfusd:") || strstr(group, "\ndfusd:"));

        g_clear_pointer(&out, g_free);
        g_clear_pointer(&err, g_free);
        g_spawn_sync(NULL, (char *[]){"systemd-tmpfiles", root, "--create", NULL}, NULL, G_SPAWN_SEARCH_PATH,
                     NULL, NULL, &out, &err, &status, &error);
        g_assert_no_error(error);
        if (!g_spawn_check_wait_status(status, NULL))
                g_error("systemd-tmpfiles %s --create: %s%s", root, out, err);
        g_assert_cmpint(stat(state, &st), ==, 0);
        g_assert_true(S_ISDIR(st.st_mode));
        g_assert_cmpint(st.st_mode & 07777, ==, 0700);
        /* owned by the user sysusers just made, not by whoever ran the install */
        g_assert_cmpuint(st.st_uid, !=, getuid());
}

/* Every MESSAGE_ID the daemon logs has an entry in the installed catalog, which journalctl reads. */
static void test_catalog(gconstpointer data) {
        Installed *f = (Installed *)data;
        const char *src = g_getenv("DFUSD_SOURCE_DIR");
        g_autofree char *root = g_strconcat("--root=", f->destdir, NULL);
        g_autofree char *journal_c = NULL, *path = NULL, *out = NULL, *err = NULL;
        g_autofree char *catalog = read_installed(f, "DFUSD_JOURNAL_CATALOG_DIR", "dfusd.catalog");
        g_autoptr(GRegex) re = g_regex_new("MESSAGE_ID=([0-9a-f]{32})", 0, 0, NULL);
        g_autoptr(GMatchInfo) m = NULL;
        g_autoptr(GError) error = NULL;
        unsigned n = 0;
        int status = 0;

        g_assert_nonnull(src);
        path = g_build_filename(src, "daemon", "core", "journal.c", NULL);
        g_assert_true(g_file_get_contents(path, &journal_c, NULL, NULL));
        g_spawn_sync(NULL, (char *[]){"journalctl", root, "--update-catalog", NULL}, NULL,
                     G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, &err, &status, &error);
        g_assert_no_error(error);
        if (!g_spawn_check_wait_status(status, NULL))
                g_error("journalctl %s --update-catalog: %s", root, err);
        g_clear_pointer(&err, g_free);
        g_spawn_sync(NULL, (char *[]){"journalctl", root, "--list-catalog", NULL}, NULL, G_SPAWN_SEARCH_PATH,
                     NULL, NULL, &out, &err, &status, &error);
        g_assert_no_error(error);
        g_assert_true(g_spawn_check_wait_status(status, NULL));

        for (g_regex_match(re, journal_c, 0, &m); g_match_info_matches(m); g_match_info_next(m, NULL)) {
                g_autofree char *id = g_match_info_fetch(m, 1);
                g_autofree char *heading = g_strconcat("\n-- ", id, "\n", NULL);
                g_autofree char *listed = g_strconcat(id, " dfusd: ", NULL);

                if (!strstr(catalog, heading))
                        g_error("MESSAGE_ID %s has no entry in dfusd.catalog", id);
                if (!g_str_has_prefix(out, listed) && !strstr(out, listed))
                        g_error("journalctl --list-catalog does not list %s:\n%s", id, out);
                n++;
        }
        g_assert_cmpuint(n, >=, 3);
}

/* The exposure score of each service: a figure to read, not a pass mark. */
static void test_security(gconstpointer data) {
        Installed *f = (Installed *)data;
        static const char *const units[] = {"dfusd.service", "dfusd-web.service"};

        for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
                g_autofree char *unit = installed_path(f, "DFUSD_SYSTEMD_UNIT_DIR", units[i]);
                g_autofree char *out = NULL, *err = NULL;
                g_autoptr(GError) error = NULL;
                const char *overall;
                int status = 0;

                g_spawn_sync(NULL,
                             (char *[]){"systemd-analyze", "security", "--offline=true", "--no-pager", unit,
                                        NULL},
                             NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error);
                g_assert_no_error(error);
                overall = strstr(out, "Overall exposure level");
                g_assert_nonnull(overall);
                printf("# %s: %.*s\n", units[i], (int)strcspn(overall, "\n"), overall);
        }
}

int main(int argc, char **argv) {
        Installed f = {0};
        int r;

        g_test_init(&argc, &argv, NULL);
        install(&f);
        g_test_add_data_func("/install/layout", &f, test_layout);
        g_test_add_data_func("/install/systemd-verify", &f, test_verify);
        g_test_add_data_func("/install/sysusers-tmpfiles", &f, test_sysusers_tmpfiles);
        g_test_add_data_func("/install/journal-catalog", &f, test_catalog);
        g_test_add_data_func("/install/systemd-security", &f, test_security);
        r = test_run();
        uninstall(&f);
        return r;
}
