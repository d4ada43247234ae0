/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>

#include "web-client.h"

void web_reply_free(WebReply *r) {
        if (!r)
                return;
        g_clear_pointer(&r->headers, g_hash_table_unref);
        g_clear_pointer(&r->body, g_bytes_unref);
        g_free(r);
}

/* Undoes "Transfer-Encoding: chunked". */
static GBytes *dechunk(const char *p, gsize n) {
        GByteArray *out = g_byte_array_new();
        const char *end = p + n;

        while (p < end) {
                char *e;
                guint64 len = g_ascii_strtoull(p, &e, 16);
                const char *nl = g_strstr_len(p, end - p, "\r\n");
                if (!nl || len == 0)
                        break;
                p = nl + 2;
                if ((guint64)(end - p) < len)
                        len = end - p;
                g_byte_array_append(out, (const guint8 *)p, (guint)len);
                p += len + 2;
        }
        return g_byte_array_free_to_bytes(out);
}

WebReply *web_raw(guint16 port, const void *request, gsize size) {
        g_autoptr(GSocketClient) client = g_socket_client_new();
        g_autoptr(GSocketConnection) conn = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GByteArray) all = g_byte_array_new();
        WebReply *r = g_new0(WebReply, 1);
        GInputStream *in;
        GOutputStream *out;
        guint8 buf[65536];
        gssize n;
        const char *head, *sep;

        g_socket_client_set_timeout(client, 30);
        conn = g_socket_client_connect_to_host(client, "127.0.0.1", port, NULL, &error);
        g_assert_no_error(error);
        out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
        in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
        /* a server that answers early may close before all is sent: that is an answer too */
        (void)g_output_stream_write_all(out, request, size, NULL, NULL, NULL);
        while ((n = g_input_stream_read(in, buf, sizeof(buf), NULL, NULL)) > 0)
                g_byte_array_append(all, buf, (guint)n);

        r->headers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        head = (const char *)all->data;
        sep = all->len ? g_strstr_len(head, all->len, "\r\n\r\n") : NULL;
        if (!sep) {
                r->body = g_bytes_new(NULL, 0);
                return r;
        }
        g_autofree char *header_text = g_strndup(head, sep - head);
        g_auto(GStrv) lines = g_strsplit(header_text, "\r\n", -1);
        sscanf(lines[0], "HTTP/1.%*d %u", &r->status);
        for (gsize i = 1; lines[i]; i++) {
                char *colon = strchr(lines[i], ':');
                if (colon)
                        g_hash_table_insert(r->headers, g_ascii_strdown(lines[i], colon - lines[i]),
                                            g_strdup(g_strstrip(colon + 1)));
        }
        const char *body = sep + 4;
        gsize body_len = all->len - (body - head);
        const char *te = g_hash_table_lookup(r->headers, "transfer-encoding");
        r->body = te && g_str_equal(te, "chunked") ? dechunk(body, body_len) : g_bytes_new(body, body_len);
        return r;
}

WebReply *web_request(guint16 port, const char *method, const char *path, const char *token,
                      const char *headers, const void *body, gsize body_size) {
        g_autoptr(GByteArray) req = g_byte_array_new();
        g_autofree char *head = g_strdup_printf("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                                                "%s%s%s%sContent-Length: %" G_GSIZE_FORMAT "\r\n\r\n",
                                                method, path, token ? "Authorization: Bearer " : "",
                                                token ?: "", token ? "\r\n" : "", headers ?: "", body_size);

        g_byte_array_append(req, (const guint8 *)head, strlen(head));
        if (body_size)
                g_byte_array_append(req, body, (guint)body_size);
        return web_raw(port, req->data, req->len);
}

GBytes *web_multipart(const char *boundary, GBytes *const *images, gsize n_images, const char *options) {
        GByteArray *b = g_byte_array_new();

        for (gsize i = 0; i < n_images; i++) {
                g_autofree char *h =
                        g_strdup_printf("--%s\r\nContent-Disposition: form-data; name=\"image\"; "
                                        "filename=\"image%" G_GSIZE_FORMAT
                                        ".hex\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                                        boundary, i);
                gsize n;
                const guint8 *d = g_bytes_get_data(images[i], &n);
                g_byte_array_append(b, (const guint8 *)h, strlen(h));
                g_byte_array_append(b, d, (guint)n);
                g_byte_array_append(b, (const guint8 *)"\r\n", 2);
        }
        if (options) {
                g_autofree char *h =
                        g_strdup_printf("--%s\r\nContent-Disposition: form-data; name=\"options\"\r\n"
                                        "Content-Type: application/json\r\n\r\n%s\r\n",
                                        boundary, options);
                g_byte_array_append(b, (const guint8 *)h, strlen(h));
        }
        g_autofree char *end = g_strdup_printf("--%s--\r\n", boundary);
        g_byte_array_append(b, (const guint8 *)end, strlen(end));
        return g_byte_array_free_to_bytes(b);
}

const char *web_reply_text(WebReply *r) {
        /* GBytes from a GByteArray is not NUL-terminated: keep a terminated copy on the reply */
        gsize n;
        const char *d = g_bytes_get_data(r->body, &n);
        char *s = g_strndup(d ? d : "", n);
        g_bytes_unref(r->body);
        r->body = g_bytes_new_take(s, n + 1);
        return s;
}

guint16 web_spawn(Integ *t, const char *config, GSubprocess **ret) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
        g_autofree char *conf_path = integ_write_file(t, "web.conf", config, strlen(config));
        g_autofree char *line = NULL;
        g_autoptr(GDataInputStream) in = NULL;
        GSubprocess *web;
        const char *colon;
        guint16 port;

        g_subprocess_launcher_setenv(l, "DBUS_SESSION_BUS_ADDRESS", t->bus_address, TRUE);
        web = g_subprocess_launcher_spawn(l, &error, g_getenv("DFUSD_WEB"), "--user", "--listen",
                                          "127.0.0.1:0", "--config", conf_path, NULL);
        g_assert_no_error(error);
        *ret = web;
        /* the server prints the port it bound first */
        in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(web));
        line = g_data_input_stream_read_line(in, NULL, NULL, &error);
        g_assert_no_error(error);
        g_assert_nonnull(line);
        colon = strrchr(line, ':');
        g_assert_nonnull(colon);
        port = (guint16)g_ascii_strtoull(colon + 1, NULL, 10);
        g_assert_cmpuint(port, >, 0);
        /* web_request() speaks plain HTTP: a TLS server's caller waits for it with its own client */
        if (strstr(line, "https://"))
                return port;
        /* listening comes first; the copy of dfusd's objects follows within a bus round trip */
        for (unsigned i = 0;; i++) {
                g_autoptr(WebReply) r = web_request(port, "GET", "/api/v1/devices", NULL, NULL, NULL, 0);
                if (r->status == 200)
                        break;
                g_assert_cmpuint(i, <, 1000);
                g_usleep(10 * 1000);
        }
        return port;
}
