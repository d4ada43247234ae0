/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A libmicrohttpd server without a listening socket, inside the fuzz target: each input becomes one
 * HTTP request written into a socketpair whose other end the server takes as a connection. The bytes
 * go through libmicrohttpd's request line, header, query and multipart parsing before they reach
 * dfusd-web's code, as a hostile client's would; the target's handler calls that code and checks it.
 */

#include <fcntl.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* More rounds than any request takes: the server is run without waiting, so each round is cheap. */
#define FUZZ_WEB_ROUNDS 100000

static inline struct MHD_Daemon *fuzz_web_daemon(MHD_AccessHandlerCallback handler,
                                                 MHD_RequestCompletedCallback completed) {
        struct MHD_Daemon *d =
                MHD_start_daemon(MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, handler, NULL,
                                 MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                                 /* as dfusd-web's server: the request line and headers must fit here */
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_END);
        if (!d)
                abort();
        return d;
}

static inline void fuzz_web_pump(struct MHD_Daemon *d, int fd, bool *closed) {
        char buf[4096];
        ssize_t n;

        (void)MHD_run(d);
        /* the reply is read and dropped; end of file is the server closing the connection */
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                ;
        if (n == 0)
                *closed = true;
}

/* Sends the request in pieces of at most `piece` bytes, running the server between them, then ends
 * the client's side and runs the server until it has closed the connection. */
static inline void fuzz_web_request(struct MHD_Daemon *d, const char *req, size_t size, size_t piece) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        bool closed = false;
        size_t off = 0;
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
                abort();
        if (MHD_add_connection(d, sv[0], (struct sockaddr *)&sa, sizeof(sa)) != MHD_YES)
                abort();
        for (unsigned round = 0; off < size && !closed && round < FUZZ_WEB_ROUNDS; round++) {
                ssize_t n = send(sv[1], req + off, piece < size - off ? piece : size - off, MSG_NOSIGNAL);
                if (n > 0)
                        off += (size_t)n;
                fuzz_web_pump(d, sv[1], &closed);
        }
        (void)shutdown(sv[1], SHUT_WR);
        for (unsigned round = 0; !closed && round < FUZZ_WEB_ROUNDS; round++)
                fuzz_web_pump(d, sv[1], &closed);
        /* a server that neither answers nor closes on end of file would be a hang in dfusd-web */
        if (!closed)
                abort();
        close(sv[1]);
        (void)MHD_run(d);
}

/* The input up to the first newline as a C string (in *line, malloc'd), and what follows it. */
static inline const uint8_t *fuzz_web_line(const uint8_t *data, size_t size, char **line, size_t *rest) {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t n = nl ? (size_t)(nl - data) : size;

        *line = strndup((const char *)data, n);
        if (!*line)
                abort();
        *rest = nl ? size - n - 1 : 0;
        return nl ? nl + 1 : data + size;
}

static inline enum MHD_Result fuzz_web_reply(struct MHD_Connection *conn, unsigned status) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret;

        if (!resp)
                abort();
        /* the fuzz client sends one request per connection */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
        ret = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return ret;
}
