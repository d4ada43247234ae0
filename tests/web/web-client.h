/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A small HTTP/1.1 client for the tests: one request per connection (Connection: close), the raw
 * request bytes as given, so that malformed requests can be sent as well as good ones.
 */

#include <gio/gio.h>
#include <glib.h>

#include "harness.h"

typedef struct WebReply {
        unsigned status;
        GHashTable *headers; /* lower-case name -> value */
        GBytes *body;
} WebReply;

void web_reply_free(WebReply *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WebReply, web_reply_free)

/* Sends REQUEST as it is and reads the reply to the end of the connection. */
WebReply *web_raw(guint16 port, const void *request, gsize size);
/* METHOD PATH with an optional bearer token, extra header lines ("Name: value\r\n"...) and body. */
WebReply *web_request(guint16 port, const char *method, const char *path, const char *token,
                      const char *headers, const void *body, gsize body_size);
/* A multipart/form-data body: image parts (name "image") then an options part, if given. */
GBytes *web_multipart(const char *boundary, GBytes *const *images, gsize n_images, const char *options);
const char *web_reply_text(WebReply *r);

/* Starts dfusd-web --user on a free loopback port of the test's bus, with CONFIG as the text of its
 * configuration file, and waits until it serves dfusd's objects (with TLS, only until it listens:
 * web_request() speaks plain HTTP). Returns the port; *ret the process. */
guint16 web_spawn(Integ *t, const char *config, GSubprocess **ret);
