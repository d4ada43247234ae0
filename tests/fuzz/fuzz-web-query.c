/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dfusd-web's reading of a request's query and token (web/history-query.c, web/auth.c) on any query
 * string and Authorization header, as they arrive through libmicrohttpd: no crash, no leak; a parsed
 * filter is within its bounds and a refusal names a known argument; a token is found exactly when the
 * secret presented is the one on file.
 *
 * Input: up to the first newline is the query string of GET /api/v1/history; the next line, if there
 * is one, is the Authorization header.
 */
#include <errno.h>
#include <stdio.h>

#include "auth.h"
#include "fuzz-web.h"
#include "history-query.h"
#include "history.h"
#include "macro.h"

#define FUZZ_SECRET "s3cret"

static Tokens *tokens;

static const char *lookup(void *userdata, const char *name) {
        return MHD_lookup_connection_value(userdata, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        (void)history_query_arg_known(key);
        return MHD_YES;
}

static void check_query(struct MHD_Connection *conn) {
        HistoryQuery q;
        const char *what = NULL;
        int r;

        (void)MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, check_arg, NULL);
        r = history_query_parse(&q, lookup, conn, &what);
        if (r < 0) {
                if (r != -EINVAL || !what || !history_query_arg_known(what))
                        abort();
        } else if (q.limit == 0 || q.limit > HISTORY_PAGE_MAX ||
                   (q.result && !history_result_is_valid(q.result)) || (q.image && !q.image[0]))
                abort();
        history_query_done(&q);
}

static void check_token(struct MHD_Connection *conn, const char *method) {
        const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        const char *secret = auth_request_secret(auth, method, lookup(conn, "access_token"));
        const Token *t = tokens_find(tokens, secret);

        if (!!t != (secret && streq(secret, FUZZ_SECRET)))
                abort();
        if (t && (t->role != ROLE_OPERATOR || !streq(t->name, "mes")))
                abort();
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
        check_query(conn);
        check_token(conn, method);
        *upload_data_size = 0;
        return fuzz_web_reply(conn, MHD_HTTP_OK);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
}

/* A tokens file as the line would have it, holding the hash of FUZZ_SECRET. */
static void load_tokens(void) {
        char path[] = "/tmp/fuzz-web-tokens-XXXXXX";
        int fd = mkstemp(path);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

        if (!f)
                abort();
        /* sha256("s3cret") */
        fprintf(f, "# name role sha256\nmes operator "
                   "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0\n");
        if (fclose(f) != 0 || tokens_load(path, &tokens) < 0)
                abort();
        unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct MHD_Daemon *d;
        char *query, *auth = NULL, *req = NULL;
        const uint8_t *rest;
        size_t rest_len, req_len = 0;
        FILE *f;

        if (!d) {
                load_tokens();
                d = fuzz_web_daemon(on_request, on_completed);
        }
        rest = fuzz_web_line(data, size, &query, &rest_len);
        if (rest_len > 0 || (size > 0 && rest > data && rest[-1] == '\n'))
                (void)fuzz_web_line(rest, rest_len, &auth, &rest_len);
        f = open_memstream(&req, &req_len);
        if (!f)
                abort();
        fprintf(f, "GET /api/v1/history?%s HTTP/1.1\r\nHost: fuzz\r\n", query);
        if (auth)
                fprintf(f, "Authorization: %s\r\n", auth);
        fputs("\r\n", f);
        if (fclose(f) != 0)
                abort();
        fuzz_web_request(d, req, req_len, req_len);
        free(req);
        free(query);
        free(auth);
        return 0;
}
