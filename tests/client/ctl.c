/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gio/gio.h>
#include <stdarg.h>
#include <sys/wait.h>

#include "ctl.h"

const char *ctl_path(void) {
        const char *p = g_getenv("DFUSCTL_BIN");

        g_assert_nonnull(p);
        return p;
}

char **ctl_environ(Integ *t) {
        char **env = g_get_environ();

        env = g_environ_setenv(env, "DBUS_SESSION_BUS_ADDRESS", t->bus_address, TRUE);
        env = g_environ_unsetenv(env, "NO_COLOR");
        return env;
}

/* dfusctl with in on a pipe to its standard input. */
static void spawn_with_stdin(char **argv, char **envp, GBytes *in, CtlResult *r) {
        g_autoptr(GSubprocessLauncher) l =
                g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                          G_SUBPROCESS_FLAGS_STDERR_PIPE);
        g_autoptr(GSubprocess) p = NULL;
        g_autoptr(GBytes) out = NULL, err = NULL;
        g_autoptr(GError) error = NULL;

        g_subprocess_launcher_set_environ(l, envp);
        p = g_subprocess_launcher_spawnv(l, (const char *const *)argv, &error);
        g_assert_no_error(error);
        g_assert_true(g_subprocess_communicate(p, in, NULL, &out, &err, &error));
        g_assert_no_error(error);
        /* Empty output is "", as g_spawn_sync() gives it. */
        r->out = g_strndup(g_bytes_get_data(out, NULL) ?: "", g_bytes_get_size(out));
        r->err = g_strndup(g_bytes_get_data(err, NULL) ?: "", g_bytes_get_size(err));
        r->status = g_subprocess_get_if_exited(p) ? g_subprocess_get_exit_status(p)
                                                  : 128 + g_subprocess_get_term_sig(p);
}

static int run(Integ *t, char **envp, bool user, GBytes *in, CtlResult *r, const char *const *args) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) env = envp ? NULL : ctl_environ(t);
        g_autoptr(GString) cmd = g_string_new(user ? "dfusctl --user" : "dfusctl");
        int wait_status = 0;

        g_ptr_array_add(argv, (char *)ctl_path());
        if (user)
                g_ptr_array_add(argv, (char *)"--user");
        for (const char *const *a = args; *a; a++) {
                g_ptr_array_add(argv, (char *)*a);
                g_string_append_printf(cmd, " %s", *a);
        }
        g_ptr_array_add(argv, NULL);
        *r = (CtlResult){};
        if (in)
                spawn_with_stdin((char **)argv->pdata, envp ?: env, in, r);
        else {
                g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, envp ?: env, G_SPAWN_DEFAULT, NULL,
                                           NULL, &r->out, &r->err, &wait_status, &error));
                g_assert_no_error(error);
                r->status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
        }
        g_test_message("$ %s%s\n-> %d\n%s%s", cmd->str, in ? " < stdin" : "", r->status, r->out, r->err);
        return r->status;
}

int ctl_runv(Integ *t, char **envp, CtlResult *r, const char *const *args) {
        return run(t, envp, true, NULL, r, args);
}

int ctl_runv_stdin(Integ *t, char **envp, GBytes *in, CtlResult *r, const char *const *args) {
        return run(t, envp, true, in, r, args);
}

static GPtrArray *args_from(const char *first, va_list ap) {
        GPtrArray *args = g_ptr_array_new();

        for (const char *a = first; a; a = va_arg(ap, const char *))
                g_ptr_array_add(args, (char *)a);
        g_ptr_array_add(args, NULL);
        return args;
}

int ctl_run(Integ *t, CtlResult *r, const char *first, ...) {
        g_autoptr(GPtrArray) args = NULL;
        va_list ap;

        va_start(ap, first);
        args = args_from(first, ap);
        va_end(ap);
        return ctl_runv(t, NULL, r, (const char *const *)args->pdata);
}

int ctl_run_system(Integ *t, const char *system_bus_address, CtlResult *r, const char *first, ...) {
        g_autoptr(GPtrArray) args = NULL;
        g_auto(GStrv) env =
                g_environ_setenv(ctl_environ(t), "DBUS_SYSTEM_BUS_ADDRESS", system_bus_address, TRUE);
        va_list ap;

        va_start(ap, first);
        args = args_from(first, ap);
        va_end(ap);
        return run(t, env, false, NULL, r, (const char *const *)args->pdata);
}

void ctl_result_clear(CtlResult *r) {
        g_clear_pointer(&r->out, g_free);
        g_clear_pointer(&r->err, g_free);
}

json_object *ctl_json(const CtlResult *r) {
        enum json_tokener_error e = json_tokener_success;
        json_object *o = json_tokener_parse_verbose(r->out, &e);

        if (!o)
                g_error("dfusctl's stdout is not JSON (%s): %s", json_tokener_error_desc(e), r->out);
        return o;
}

json_object *jget(json_object *o, const char *key) {
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v))
                g_error("JSON has no key \"%s\": %s", key, json_object_to_json_string(o));
        return v;
}

const char *jstr(json_object *o, const char *key) {
        json_object *v = jget(o, key);

        g_assert_true(json_object_is_type(v, json_type_string));
        return json_object_get_string(v);
}

char *ctl_image(Integ *t, const char *name, size_t n, bool ram, uint32_t seed) {
        g_autofree uint8_t *flash = integ_pattern(n, seed);
        g_autofree uint8_t *sram = integ_pattern(256, seed + 1);
        IntegSegment segs[] = {{0x08000000, flash, n}, {0x38000000, sram, 256}};

        return integ_write_ihex(t, name, segs, ram ? 2 : 1);
}
