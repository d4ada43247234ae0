/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dfusd-web's upload parsing (web/upload-parse.c) on any multipart body, as it arrives through
 * libmicrohttpd: no crash, no leak, every refusal explains itself, and the outcome does not depend on
 * how the body was cut into pieces on the way (the same body fed whole to a second parser must give
 * the same images, options and status).
 *
 * Input: the first byte sets the size of the pieces the client writes (1..64 bytes, its low 6 bits)
 * and whether the body goes with Content-Length or in chunks of that size (bit 6); up to the first
 * newline is the Content-Type header; the rest is the body.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>

#include "fuzz-web.h"
#include "macro.h"
#include "upload-parse.h"

/* small, so that the too-large path is reached by small inputs */
#define FUZZ_SIZE_CAP 1024

typedef struct Conn {
        Upload *u;
        char *body; /* as libmicrohttpd delivered it */
        size_t len;
        bool answered;
} Conn;

static void fd_contents(int fd, char **ret, size_t *ret_len) {
        off_t end = lseek(fd, 0, SEEK_END);
        char *buf;

        if (end < 0 || !(buf = malloc((size_t)end + 1)) || pread(fd, buf, (size_t)end, 0) != end)
                abort();
        *ret = buf;
        *ret_len = (size_t)end;
}

/* to read what a finding did: FUZZ_WEB_DEBUG=1 fuzz-web-upload FILE */
static void debug(const Upload *u, json_object *opts) {
        if (getenv("FUZZ_WEB_DEBUG"))
                fprintf(stderr, "upload: %u %s: %s; %zu images, %llu bytes, options %s\n", u->status,
                        u->error_name ?: "ok", u->error ?: "", u->n_fds, (unsigned long long)u->bytes,
                        opts ? json_object_to_json_string(opts) : "-");
}

static void check_refusal(const Upload *u) {
        debug(u, NULL);
        if (u->status < 400 || u->status > 599 || !u->error_name || !u->error || !u->error[0])
                abort();
}

static void check_accepted(const Upload *u, json_object *opts) {
        uint64_t total = 0;

        debug(u, opts);
        if (u->status || u->n_fds == 0 || u->n_fds > UPLOAD_IMAGES_MAX || u->bytes > FUZZ_SIZE_CAP ||
            !json_object_is_type(opts, json_type_object) || json_object_object_get_ex(opts, "origin", NULL))
                abort();
        for (size_t i = 0; i < u->n_fds; i++) {
                off_t end = lseek(u->fds[i], 0, SEEK_END);
                /* sealed: a write must fail */
                if (end < 0 || write(u->fds[i], "x", 1) != -1)
                        abort();
                total += (uint64_t)end;
        }
        if (total != u->bytes)
                abort();
}

/* The same body fed whole to a second parser gives the same outcome. */
static void check_same_whole(Conn *c, struct MHD_Connection *conn, int r, json_object *opts) {
        json_object *whole_opts = NULL;
        Upload *w = NULL;
        int rw;

        if (upload_new(conn,
                       MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
                       MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH),
                       FUZZ_SIZE_CAP, &w) < 0)
                abort();
        (void)upload_feed(w, c->body ?: "", c->len);
        rw = upload_finish(w, &whole_opts);
        if (rw != r || w->status != c->u->status)
                abort();
        if (r == 0) {
                if (w->n_fds != c->u->n_fds || w->bytes != c->u->bytes ||
                    !json_object_equal(opts, whole_opts))
                        abort();
                for (size_t i = 0; i < w->n_fds; i++) {
                        char *a, *b;
                        size_t na, nb;
                        fd_contents(w->fds[i], &a, &na);
                        fd_contents(c->u->fds[i], &b, &nb);
                        if (na != nb || memcmp(a, b, na) != 0)
                                abort();
                        free(a);
                        free(b);
                }
        }
        json_object_put(whole_opts);
        upload_free(w);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
        Conn *c = *con_cls;
        json_object *opts = NULL;
        enum MHD_Result ret;
        int r;

        if (!c) {
                c = calloc(1, sizeof(*c));
                if (!c)
                        abort();
                *con_cls = c;
                if (upload_new(
                            conn,
                            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
                            MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                        MHD_HTTP_HEADER_CONTENT_LENGTH),
                            FUZZ_SIZE_CAP, &c->u) < 0)
                        abort();
                if (c->u->status) {
                        check_refusal(c->u);
                        c->answered = true;
                        return fuzz_web_reply(conn, c->u->status);
                }
                return MHD_YES;
        }
        if (c->answered) {
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                char *n = realloc(c->body, c->len + *upload_data_size);
                if (!n)
                        abort();
                c->body = n;
                memcpy(c->body + c->len, upload_data, *upload_data_size);
                c->len += *upload_data_size;
                if (!upload_feed(c->u, upload_data, *upload_data_size))
                        return MHD_NO;
                *upload_data_size = 0;
                return MHD_YES;
        }
        r = upload_finish(c->u, &opts);
        if (r != 0 && r != -EINVAL)
                abort();
        if (r == 0)
                check_accepted(c->u, opts);
        else
                check_refusal(c->u);
        check_same_whole(c, conn, r, opts);
        json_object_put(opts);
        c->answered = true;
        ret = fuzz_web_reply(conn, r == 0 ? MHD_HTTP_CREATED : c->u->status);
        return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        Conn *c = *con_cls;

        if (!c)
                return;
        upload_free(c->u);
        free(c->body);
        free(c);
        *con_cls = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct MHD_Daemon *d;
        char *type, *req = NULL;
        const uint8_t *body;
        size_t body_len, piece, req_len = 0;
        FILE *f;

        if (size < 1)
                return 0;
        if (!d)
                d = fuzz_web_daemon(on_request, on_completed);
        piece = 1 + (data[0] & 0x3f);
        body = fuzz_web_line(data + 1, size - 1, &type, &body_len);
        f = open_memstream(&req, &req_len);
        if (!f)
                abort();
        fprintf(f, "POST /api/v1/jobs HTTP/1.1\r\nHost: fuzz\r\nContent-Type: %s\r\n", type);
        if (data[0] & 0x40) {
                /* no length announced: the body in chunks of the piece size */
                fputs("Transfer-Encoding: chunked\r\n\r\n", f);
                for (size_t off = 0; off < body_len; off += piece) {
                        size_t n = MIN(piece, body_len - off);
                        fprintf(f, "%zx\r\n", n);
                        fwrite(body + off, 1, n, f);
                        fputs("\r\n", f);
                }
                fputs("0\r\n\r\n", f);
        } else {
                fprintf(f, "Content-Length: %zu\r\n\r\n", body_len);
                fwrite(body, 1, body_len, f);
        }
        if (fclose(f) != 0)
                abort();
        fuzz_web_request(d, req, req_len, piece);
        free(req);
        free(type);
        return 0;
}
