/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The body of POST /api/v1/jobs and /api/v1/rules: a multipart form of parts named "image" (one or
 * more, in order) and at most one part named "options" holding a JSON object with Submit's keys.
 * libmicrohttpd's post processor splits the form as it arrives; this keeps each image in a memfd (the
 * bytes go to dfusd as a file descriptor, never as a path), holds everything to the caps, and records
 * the first thing wrong as an HTTP status, an error name and a message. No bus here: the route turns
 * a good upload into the call, and the fuzz target drives the same code with hostile bodies.
 */

#include <json-c/json.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "patch.h"

/* dfusd takes at most 16 images in one call (dbus-daemon's fd limit per message). */
#define UPLOAD_IMAGES_MAX  16
#define UPLOAD_OPTIONS_MAX (64 * 1024)

typedef struct Upload {
        uint64_t size_cap; /* of the images together */
        struct MHD_PostProcessor *pp;
        int fds[UPLOAD_IMAGES_MAX];
        size_t n_fds;
        uint64_t bytes;    /* of the images so far */
        uint64_t received; /* of the body so far, framing and all */
        char *options;
        size_t options_len;
        unsigned n_options; /* parts named options */
        /* the first thing wrong with the body; answered once it has been read */
        unsigned status;
        const char *error_name;
        char *error;
} Upload;

/* Decides on the headers alone: the type must be multipart/form-data with a boundary and a declared
 * length within the cap, so that nothing of a body that could not be flashed is read. Returns 0 and
 * *ret, whose status is set if the request is refused already; or -ENOMEM. */
int upload_new(struct MHD_Connection *conn, const char *content_type, const char *content_length,
               uint64_t size_cap, Upload **ret);
Upload *upload_free(Upload *u);
/* Hands a piece of the body to the post processor. Returns false once the client should be cut off:
 * it sent well past what any upload within the cap takes, without announcing a length. */
bool upload_feed(Upload *u, const char *data, size_t size);
/* The body ended: checks that it was whole and holds an image, and that the options are one JSON
 * object whose values are strings, booleans, whole numbers >= 0 or lists of strings (not "origin",
 * which the web service sets). Rewinds and seals the images. Returns 0 with *ret_options (an empty
 * object when the part was absent), or -EINVAL with the reason in u. */
int upload_finish(Upload *u, json_object **ret_options);

/* The "patches" option: a list of ADDRESS:FORMAT:SEQUENCE texts, as `dfusctl --patch` takes them, at
 * most PATCH_MAX. Fills patches[] and *ret_n; on a bad entry -EINVAL with error naming it. */
int upload_options_patches(json_object *v, Patch patches[static PATCH_MAX], size_t *ret_n, DfuError *error);
