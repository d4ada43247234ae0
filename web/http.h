/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The HTTP server: libmicrohttpd in external-epoll mode, run from the sd-event loop, with the limits
 * (connections overall and per address, per-connection timeout, header memory) set where it starts.
 * Each request gets a Request; the routes-*.c files answer it through the helpers below.
 */

#include <json-c/json.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "auth.h"
#include "macro.h"

typedef struct Web Web;
typedef struct Http Http;
typedef struct Upload Upload;

typedef struct Request {
        Web *web;
        struct MHD_Connection *conn;
        const char *method, *url;
        WebRole role;
        const Token *token; /* NULL: a loopback reader without one */
        bool answered;      /* a response is queued; the rest of the body is ignored */
        Upload *upload;
} Request;

/* Starts listening on the socket systemd passed, or on Listen=. Prints the address it bound. */
int http_start(Web *w, Http **ret);
Http *http_free(Http *h);
/* Runs the server once from the event loop soon (after streams were resumed). */
void http_kick(Http *h);

/* The whole JSON document as the response. Returns MHD_YES or MHD_NO as the access handler does. */
enum MHD_Result http_reply_json(Request *r, unsigned status, json_object *body);
enum MHD_Result http_reply_error(Request *r, unsigned status, const char *name, const char *fmt, ...)
        _printf_(4, 5);
enum MHD_Result http_reply_text(Request *r, unsigned status, const char *content_type, char *text,
                                size_t len);
/* A dfusd error reply as the HTTP status and error name that say the same. */
enum MHD_Result http_reply_bus_error(Request *r, const sd_bus_error *error, int err, const char *what);
/* Queues 401 or 403 unless the client's role reaches ROLE; returns whether it does. */
bool http_require(Request *r, WebRole role, enum MHD_Result *ret);
/* A header or query argument, or NULL. */
const char *http_header(Request *r, const char *name);
const char *http_query(Request *r, const char *name);
void http_add_common_headers(struct MHD_Response *resp);
