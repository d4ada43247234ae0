/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "adv.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void adv_assert_answers(Integ *t) {
        gint64 best = G_MAXINT64;

        for (unsigned i = 0; i < 3 && best > ADV_GET_MAX_USEC; i++) {
                g_autoptr(GError) error = NULL;
                gint64 start = g_get_monotonic_time();
                g_autoptr(GVariant) v = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Version", &error);
                g_assert_no_error(error);
                g_assert_nonnull(v);
                best = MIN(best, g_get_monotonic_time() - start);
        }
        g_test_message("Get answered in %" G_GINT64_FORMAT " us", best);
        g_assert_cmpint(best, <=, ADV_GET_MAX_USEC);
}

long adv_rss_kib(pid_t pid) {
        g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid), *text = NULL;
        const char *p;

        if (!g_file_get_contents(path, &text, NULL, NULL) || !(p = strstr(text, "VmRSS:")))
                return -1;
        return strtol(p + strlen("VmRSS:"), NULL, 10);
}

unsigned adv_fd_count(pid_t pid) {
        g_autofree char *path = g_strdup_printf("/proc/%d/fd", (int)pid);
        DIR *d = opendir(path);
        unsigned n = 0;

        g_assert_nonnull(d);
        for (struct dirent *e; (e = readdir(d));)
                n += e->d_name[0] != '.';
        closedir(d);
        return n;
}

void adv_assert_bounded(Integ *t, long max_rss_kib, unsigned max_fds) {
        pid_t pid = integ_daemon_pid(t);
        unsigned fds = 0;

        g_assert_cmpint(pid, >, 0);
        for (unsigned i = 0; i < 1000; i++) {
                fds = adv_fd_count(pid);
                if (fds <= max_fds)
                        break;
                g_usleep(10 * 1000);
        }
        long rss = adv_rss_kib(pid);
        g_test_message("dfusd: %u fds, %ld KiB resident", fds, rss);
        g_assert_cmpuint(fds, <=, max_fds);
        g_assert_cmpint(rss, >, 0);
        /* Under AddressSanitizer the quarantine and shadow memory make RSS say nothing of dfusd. */
        if (!g_getenv("ASAN_OPTIONS"))
                g_assert_cmpint(rss, <=, max_rss_kib);
}

unsigned adv_history_count(Integ *t) {
        guint64 before = 0;
        unsigned total = 0;

        for (;;) {
                g_autoptr(GError) error = NULL;
                GVariant *filter = before ? integ_options("limit", g_variant_new_uint32(1000), "before",
                                                          g_variant_new_uint64(before), NULL)
                                          : integ_options("limit", g_variant_new_uint32(1000), NULL);
                g_autoptr(GVariant) r = integ_call(t, DFUSD_PATH, DFUSD_MANAGER, "GetHistory",
                                                   g_variant_new("(@a{sv})", filter), "(aa{sv})", &error);
                g_assert_no_error(error);
                g_assert_cmpuint(g_variant_get_size(r), <, ADV_REPLY_MAX);
                g_autoptr(GVariant) entries = g_variant_get_child_value(r, 0);
                size_t n = g_variant_n_children(entries);
                total += (unsigned)n;
                if (n < 1000)
                        return total;
                g_autoptr(GVariant) first = g_variant_get_child_value(entries, 0);
                g_assert_true(g_variant_lookup(first, "cursor", "t", &before));
        }
}

char *adv_error_name(const GError *error) {
        char *name = error ? g_dbus_error_get_remote_error(error) : NULL;
        return name ?: g_strdup("");
}

char *adv_write_sparse_hex(Integ *t, const char *name, size_t n) {
        GString *s = g_string_sized_new(n * 14 + 64);
        unsigned hi = 0x10000;

        for (size_t i = 0; i < n; i++) {
                uint32_t a = ADV_FLASH_BASE + 2 * (uint32_t)i;
                if (a >> 16 != hi) {
                        hi = a >> 16;
                        g_string_append_printf(s, ":02000004%04X%02X\n", hi,
                                               (uint8_t) - (2 + 4 + (hi >> 8) + (hi & 0xFF)));
                }
                uint8_t sum = (uint8_t)(1 + (a >> 8 & 0xFF) + (a & 0xFF) + (i & 0xFF));
                g_string_append_printf(s, ":01%04X00%02X%02X\n", a & 0xFFFF, (unsigned)(i & 0xFF),
                                       (uint8_t)-sum);
        }
        g_string_append(s, ":00000001FF\n");
        char *path = integ_write_file(t, name, s->str, s->len);
        g_string_free(s, TRUE);
        return path;
}

GDBusConnection *adv_connect(Integ *t) {
        g_autoptr(GError) error = NULL;
        GDBusConnection *c = g_dbus_connection_new_for_address_sync(
                t->bus_address,
                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                NULL, NULL, &error);
        g_assert_no_error(error);
        return c;
}

typedef struct AsyncCall {
        GVariant **reply;
        GError **error;
        int *pending;
} AsyncCall;

static void on_reply(GObject *source, GAsyncResult *res, gpointer userdata) {
        AsyncCall *c = userdata;
        GError *error = NULL;
        GVariant *r = g_dbus_connection_call_with_unix_fd_list_finish(G_DBUS_CONNECTION(source), NULL, res,
                                                                      &error);
        if (c->reply)
                *c->reply = r;
        else if (r)
                g_variant_unref(r);
        if (c->error)
                *c->error = error;
        else
                g_clear_error(&error);
        (*c->pending)--;
        g_free(c);
}

void adv_call_fds_async(GDBusConnection *conn, const char *method, const int *fds, size_t n_fds,
                        GVariant *options, GVariant **ret_reply, GError **ret_error, int *pending) {
        g_autoptr(GUnixFDList) list = g_unix_fd_list_new();
        GVariantBuilder handles;
        AsyncCall *c = g_new(AsyncCall, 1);

        *c = (AsyncCall){ret_reply, ret_error, pending};
        g_variant_builder_init(&handles, G_VARIANT_TYPE("ah"));
        for (size_t i = 0; i < n_fds; i++) {
                int idx = g_unix_fd_list_append(list, fds[i], NULL);
                g_assert_cmpint(idx, >=, 0);
                g_variant_builder_add(&handles, "h", idx);
        }
        (*pending)++;
        g_dbus_connection_call_with_unix_fd_list(
                conn, DFUSD_BUS_NAME, DFUSD_PATH, DFUSD_MANAGER, method,
                g_variant_new("(ah@a{sv})", &handles, options ?: integ_options(NULL, NULL)), NULL,
                G_DBUS_CALL_FLAGS_NONE, 120000, list, NULL, on_reply, c);
}

bool adv_wait_pending(int *pending, unsigned timeout_sec) {
        gint64 end = g_get_monotonic_time() + (gint64)timeout_sec * G_USEC_PER_SEC;

        while (*pending > 0 && g_get_monotonic_time() < end)
                g_main_context_iteration(NULL, FALSE) || (g_usleep(1000), TRUE);
        return *pending == 0;
}

void adv_assert_dump_blank(Integ *t, const char *port) {
        g_autoptr(GBytes) dump = integ_dump(t, port);
        gsize n;
        const uint8_t *p;

        g_assert_nonnull(dump);
        p = g_bytes_get_data(dump, &n);
        for (gsize i = 0; i < n; i++)
                if (p[i] != 0xFF)
                        g_error("%s: byte 0x%08zx is 0x%02x, the board was written", port, i, p[i]);
}
