/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "harness.h"

#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#define CALL_TIMEOUT_MS 20000

GVariant *integ_options(const char *first_key, ...) {
        GVariantBuilder b;
        va_list ap;

        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        va_start(ap, first_key);
        for (const char *key = first_key; key; key = va_arg(ap, const char *))
                g_variant_builder_add(&b, "{sv}", key, va_arg(ap, GVariant *));
        va_end(ap);
        return g_variant_builder_end(&b);
}

GVariant *integ_call_fds(Integ *t, const char *method, const int *fds, size_t n_fds, GVariant *options,
                         const char *reply_type, GError **error) {
        g_autoptr(GUnixFDList) list = g_unix_fd_list_new();
        GVariantBuilder handles;

        g_variant_builder_init(&handles, G_VARIANT_TYPE("ah"));
        for (size_t i = 0; i < n_fds; i++) {
                int idx = g_unix_fd_list_append(list, fds[i], error);
                if (idx < 0)
                        return NULL;
                g_variant_builder_add(&handles, "h", idx);
        }
        if (!options)
                options = integ_options(NULL, NULL);
        return g_dbus_connection_call_with_unix_fd_list_sync(
                t->conn, DFUSD_BUS_NAME, DFUSD_PATH, DFUSD_MANAGER, method,
                g_variant_new("(ah@a{sv})", &handles, options),
                reply_type ? G_VARIANT_TYPE(reply_type) : NULL, G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS,
                list, NULL, NULL, error);
}

static char *call_images(Integ *t, const char *method, const char *const *images, GVariant *options,
                         GError **error) {
        g_autoptr(GVariant) r = NULL;
        int fds[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
        size_t n = 0;
        char *path = NULL;

        for (; images && images[n]; n++) {
                g_assert_cmpuint(n, <, G_N_ELEMENTS(fds));
                fds[n] = open(images[n], O_RDONLY | O_CLOEXEC);
                g_assert_cmpint(fds[n], >=, 0);
        }
        r = integ_call_fds(t, method, fds, n, options, "(o)", error);
        for (size_t i = 0; i < n; i++)
                close(fds[i]);
        if (r)
                g_variant_get(r, "(o)", &path);
        return path;
}

char *integ_submit(Integ *t, const char *const *images, GVariant *options, GError **error) {
        return call_images(t, "Submit", images, options, error);
}

char *integ_add_rule(Integ *t, const char *const *images, GVariant *options, GError **error) {
        return call_images(t, "AddRule", images, options, error);
}

GVariant *integ_call(Integ *t, const char *path, const char *iface, const char *method, GVariant *args,
                     const char *reply_type, GError **error) {
        return g_dbus_connection_call_sync(t->conn, DFUSD_BUS_NAME, path, iface, method, args,
                                           reply_type ? G_VARIANT_TYPE(reply_type) : NULL,
                                           G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, error);
}

GVariant *integ_get(Integ *t, const char *path, const char *iface, const char *prop, GError **error) {
        g_autoptr(GVariant) r = NULL;
        GVariant *v = NULL;

        r = g_dbus_connection_call_sync(t->conn, DFUSD_BUS_NAME, path, "org.freedesktop.DBus.Properties",
                                        "Get", g_variant_new("(ss)", iface, prop), G_VARIANT_TYPE("(v)"),
                                        G_DBUS_CALL_FLAGS_NO_AUTO_START, 5000, NULL, error);
        if (!r)
                return NULL;
        g_variant_get(r, "(v)", &v);
        return v;
}

char *integ_get_string(Integ *t, const char *path, const char *iface, const char *prop) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) v = integ_get(t, path, iface, prop, &error);

        g_assert_no_error(error);
        g_assert_true(g_variant_is_of_type(v, G_VARIANT_TYPE_STRING) ||
                      g_variant_is_of_type(v, G_VARIANT_TYPE_OBJECT_PATH));
        return g_variant_dup_string(v, NULL);
}

static bool state_is_final(const char *s) {
        return g_str_equal(s, "done") || g_str_equal(s, "failed") || g_str_equal(s, "cancelled");
}

char *integ_wait_job_state(Integ *t, const char *job, const char *state, unsigned timeout_sec) {
        char *s = NULL;

        for (unsigned i = 0; i < timeout_sec * 100; i++) {
                g_free(s);
                s = integ_get_string(t, job, DFUSD_JOB, "State");
                if ((state && g_str_equal(s, state)) || state_is_final(s))
                        return s;
                g_usleep(10 * 1000);
        }
        g_test_message("job %s still %s after %u s", job, s, timeout_sec);
        return s;
}

char *integ_wait_job(Integ *t, const char *job, unsigned timeout_sec) {
        return integ_wait_job_state(t, job, NULL, timeout_sec);
}

void integ_wait_devices(Integ *t, unsigned n, unsigned timeout_sec) {
        gsize have = 0;

        for (unsigned i = 0; i < timeout_sec * 100; i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(GVariant) v = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Devices", &error);
                g_assert_no_error(error);
                have = g_variant_n_children(v);
                if (have == n)
                        return;
                g_usleep(10 * 1000);
        }
        g_assert_cmpuint(have, ==, n);
}

void integ_assert_flash(GBytes *dump, uint32_t flash_base, uint32_t address, const uint8_t *data,
                        size_t size) {
        gsize len;
        const uint8_t *d = g_bytes_get_data(dump, &len);

        g_assert_nonnull(dump);
        g_assert_cmpuint(address, >=, flash_base);
        g_assert_cmpuint(address - flash_base + size, <=, len);
        for (size_t i = 0; i < size; i++)
                if (d[address - flash_base + i] != data[i]) {
                        g_test_message("flash differs at 0x%08zx: 0x%02x, expected 0x%02x", address + i,
                                       d[address - flash_base + i], data[i]);
                        g_assert_cmpmem(d + address - flash_base + i, 1, data + i, 1);
                }
}

void integ_assert_blank(GBytes *dump, uint32_t flash_base, uint32_t address, size_t size) {
        g_autofree uint8_t *ff = g_malloc(size);

        memset(ff, 0xff, size);
        integ_assert_flash(dump, flash_base, address, ff, size);
}

void integ_assert_dbus_error(const GError *error, const char *name, ...) {
        g_autoptr(GError) copy = NULL;
        g_autofree char *remote = NULL;
        const char *word;
        va_list ap;

        g_assert_nonnull(error);
        remote = g_dbus_error_get_remote_error(error);
        g_assert_cmpstr(remote, ==, name);
        copy = g_error_copy(error);
        g_dbus_error_strip_remote_error(copy);
        va_start(ap, name);
        while ((word = va_arg(ap, const char *)))
                if (!strstr(copy->message, word))
                        g_error("%s: \"%s\" lacks \"%s\"", name, copy->message, word);
        va_end(ap);
}

char *integ_device_path(Integ *t, const char *port) {
        g_autoptr(GVariant) devices = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Devices", NULL);
        GVariantIter it;
        const char *path;

        g_assert_nonnull(devices);
        g_variant_iter_init(&it, devices);
        while (g_variant_iter_next(&it, "&o", &path)) {
                /* a board may leave between the two calls */
                g_autoptr(GVariant) p = integ_get(t, path, DFUSD_DEVICE, "PortPath", NULL);
                if (p && g_str_equal(g_variant_get_string(p, NULL), port))
                        return g_strdup(path);
        }
        return NULL;
}

void integ_wait_device(Integ *t, const char *port, bool present, unsigned timeout_sec) {
        for (unsigned i = 0; i < timeout_sec * 100; i++) {
                g_autofree char *p = integ_device_path(t, port);
                if ((p != NULL) == present)
                        return;
                g_usleep(10 * 1000);
        }
        g_error("board %s still %s after %u s", port, present ? "absent" : "present", timeout_sec);
}

char *integ_history_newest_string(Integ *t, const char *key) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r =
                integ_call(t, DFUSD_PATH, DFUSD_MANAGER, "GetHistory",
                           g_variant_new("(@a{sv})", integ_options("limit", g_variant_new_uint32(1), NULL)),
                           "(aa{sv})", &error);
        g_autoptr(GVariant) entries = NULL, entry = NULL;
        const char *v = "";

        g_assert_no_error(error);
        entries = g_variant_get_child_value(r, 0);
        g_assert_cmpuint(g_variant_n_children(entries), ==, 1);
        entry = g_variant_get_child_value(entries, 0);
        (void)g_variant_lookup(entry, key, "&s", &v);
        return g_strdup(v);
}
