/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "macro.h"
#include "parse-util.h"
#include "upload-parse.h"

/* The post processor's buffer: a part's name and headers must fit in it. */
#define UPLOAD_PP_BUFFER (64 * 1024)

typedef enum PartKind { PART_NONE, PART_IMAGE, PART_OPTIONS } PartKind;

/* Per-upload parser state the callback needs beyond what Upload shows. */
typedef struct UploadPrivate {
        Upload pub;
        PartKind part;       /* of the last callback */
        uint64_t part_bytes; /* of the current part so far */
} UploadPrivate;

static int fail(Upload *u, unsigned status, const char *name, const char *fmt, ...) _printf_(4, 5);
static int fail(Upload *u, unsigned status, const char *name, const char *fmt, ...) {
        va_list ap;

        if (u->status)
                return -EINVAL;
        u->status = status;
        u->error_name = name;
        va_start(ap, fmt);
        if (vasprintf(&u->error, fmt, ap) < 0)
                u->error = NULL;
        va_end(ap);
        return -EINVAL;
}

static int write_all(int fd, const char *data, size_t size) {
        while (size > 0) {
                ssize_t n = write(fd, data, size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                data += n;
                size -= (size_t)n;
        }
        return 0;
}

/* libmicrohttpd calls back with offset 0 once a part starts, but may do so twice for one part: once
 * with no bytes (the part's headers ended a read) and again with the first bytes. A part that starts
 * while the last one of its kind is still empty is therefore taken as the same part: an empty image
 * carries nothing to flash, and an empty options part is the same as none. */
static bool part_starts(UploadPrivate *p, PartKind kind, uint64_t off) {
        bool starts = off == 0 && !(p->part == kind && p->part_bytes == 0);

        if (starts || p->part != kind)
                p->part_bytes = 0;
        p->part = kind;
        return starts;
}

static int on_image(UploadPrivate *p, const char *data, uint64_t off, size_t size) {
        Upload *u = &p->pub;

        if (part_starts(p, PART_IMAGE, off) || u->n_fds == 0) {
                int fd;
                if (u->n_fds == UPLOAD_IMAGES_MAX)
                        return fail(u, MHD_HTTP_BAD_REQUEST, "bad-request",
                                    "At most %d images travel in one request.", UPLOAD_IMAGES_MAX);
                fd = memfd_create("dfusd-web-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
                if (fd < 0)
                        return fail(u, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                    "Failed to make room for the image: %m");
                u->fds[u->n_fds++] = fd;
        }
        p->part_bytes += size;
        u->bytes += size;
        if (u->bytes > u->size_cap)
                return fail(u, MHD_HTTP_CONTENT_TOO_LARGE, "too-large",
                            "The images are larger than %llu bytes.", (unsigned long long)u->size_cap);
        if (write_all(u->fds[u->n_fds - 1], data, size) < 0)
                return fail(u, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "Failed to keep the image: %m");
        return 0;
}

static int on_options(UploadPrivate *p, const char *data, uint64_t off, size_t size) {
        Upload *u = &p->pub;
        char *n;

        if (part_starts(p, PART_OPTIONS, off) && ++u->n_options > 1)
                return fail(u, MHD_HTTP_BAD_REQUEST, "bad-request",
                            "The form has more than one 'options' part.");
        p->part_bytes += size;
        if (u->options_len + size > UPLOAD_OPTIONS_MAX)
                return fail(u, MHD_HTTP_CONTENT_TOO_LARGE, "too-large",
                            "The options are larger than %d bytes.", UPLOAD_OPTIONS_MAX);
        n = realloc(u->options, u->options_len + size + 1);
        if (!n)
                return -ENOMEM;
        u->options = n;
        memcpy(u->options + u->options_len, data, size);
        u->options_len += size;
        u->options[u->options_len] = '\0';
        return 0;
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                               const char *content_type, const char *transfer_encoding, const char *data,
                               uint64_t off, size_t size) {
        UploadPrivate *p = cls;
        Upload *u = &p->pub;

        if (u->status)
                return MHD_YES; /* read on to the end, keeping nothing */
        if (key && streq(key, "image"))
                (void)on_image(p, data, off, size);
        else if (key && streq(key, "options")) {
                if (on_options(p, data, off, size) == -ENOMEM)
                        return MHD_NO;
        } else
                (void)fail(u, MHD_HTTP_BAD_REQUEST, "bad-request",
                           "Unknown form field '%s': expected 'image' or 'options'.", key ?: "");
        return MHD_YES;
}

int upload_new(struct MHD_Connection *conn, const char *content_type, const char *content_length,
               uint64_t size_cap, Upload **ret) {
        UploadPrivate *p = calloc(1, sizeof(*p));
        Upload *u;
        uint64_t n;

        if (!p)
                return -ENOMEM;
        u = &p->pub;
        u->size_cap = size_cap;
        *ret = u;
        if (!content_type || strncasecmp(content_type, MHD_HTTP_POST_ENCODING_MULTIPART_FORMDATA,
                                         strlen(MHD_HTTP_POST_ENCODING_MULTIPART_FORMDATA)) != 0)
                return fail(u, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type",
                            "Send multipart/form-data: parts 'image' (one or more) and 'options'."),
                       0;
        /* The form's own framing is small next to any image, so the cap holds for the whole body. */
        if (content_length && parse_uint64(content_length, 10, UINT64_MAX, &n) >= 0 &&
            n > size_cap + UPLOAD_OPTIONS_MAX)
                return fail(u, MHD_HTTP_CONTENT_TOO_LARGE, "too-large",
                            "The request is larger than %llu bytes.", (unsigned long long)size_cap),
                       0;
        u->pp = MHD_create_post_processor(conn, UPLOAD_PP_BUFFER, on_part, p);
        if (!u->pp)
                return fail(u, MHD_HTTP_BAD_REQUEST, "bad-request",
                            "The Content-Type has no usable boundary= (2 characters or more)."),
                       0;
        return 0;
}

Upload *upload_free(Upload *u) {
        if (!u)
                return NULL;
        if (u->pp)
                (void)MHD_destroy_post_processor(u->pp);
        for (size_t i = 0; i < u->n_fds; i++)
                safe_close(u->fds[i]);
        free(u->options);
        free(u->error);
        /* pub is UploadPrivate's first member */
        free((UploadPrivate *)u);
        return NULL;
}

bool upload_feed(Upload *u, const char *data, size_t size) {
        if (u->pp && MHD_post_process(u->pp, data, size) != MHD_YES)
                (void)fail(u, MHD_HTTP_BAD_REQUEST, "bad-request", "The multipart body is malformed.");
        /* A body without Content-Length is cut off once it is well past what an upload within the
         * cap takes: it is not read to its end only to be refused, nor for ever when what follows
         * is junk the parts never see (after an error, or after the closing boundary). */
        u->received += size;
        return u->received <= 2 * u->size_cap + UPLOAD_OPTIONS_MAX;
}

/* One JSON object and nothing after it, in UTF-8 (D-Bus strings must be). */
static int parse_options(Upload *u, json_object **ret) {
        json_tokener *tok = json_tokener_new();
        enum json_tokener_error jerr;
        json_object *o;
        size_t end;

        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, u->options, (int)u->options_len);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (jerr == json_tokener_continue)
                jerr = json_tokener_error_parse_eof;
        if (!o || jerr != json_tokener_success || end != u->options_len ||
            !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                if (jerr != json_tokener_success)
                        return fail(u, MHD_HTTP_BAD_REQUEST, "bad-request",
                                    "The 'options' part is not JSON: %s.", json_tokener_error_desc(jerr));
                if (end != u->options_len)
                        return fail(u, MHD_HTTP_BAD_REQUEST, "bad-request",
                                    "The 'options' part has more after its JSON object (at byte %zu).", end);
                return fail(u, MHD_HTTP_BAD_REQUEST, "bad-request",
                            "The 'options' part is not a JSON object.");
        }
        *ret = o;
        return 0;
}

static bool string_ok(json_object *s) {
        /* a NUL inside would cut the string short on the bus */
        return strlen(json_object_get_string(s)) == (size_t)json_object_get_string_len(s);
}

int upload_options_patches(json_object *v, Patch patches[static PATCH_MAX], size_t *ret_n, DfuError *error) {
        size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;

        if (!json_object_is_type(v, json_type_array))
                return dfu_error_set(error, EINVAL,
                                     "Option 'patches' must be a list of ADDRESS:FORMAT:SEQUENCE.");
        if (n > PATCH_MAX)
                return dfu_error_set(error, EINVAL,
                                     "Option 'patches' has %zu entries; at most %d are allowed.", n,
                                     PATCH_MAX);
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(v, i);

                if (!json_object_is_type(e, json_type_string))
                        return dfu_error_set(error, EINVAL,
                                             "Option 'patches', entry %zu: expected a string.", i + 1);
                if (patch_parse(json_object_get_string(e), &patches[i], error) < 0)
                        return dfu_error_prefix(error, "Option 'patches', entry %zu: ", i + 1);
        }
        *ret_n = n;
        return 0;
}

/* Each value as Submit's a{sv} can carry it: s, b, t or as; "patches" as a(uss). */
static int check_options(Upload *u, json_object *opts) {
        json_object_object_foreach(opts, key, v) {
                if (streq(key, "origin"))
                        return fail(u, MHD_HTTP_BAD_REQUEST, "bad-request",
                                    "Option 'origin' is set by dfusd-web from the token.");
                if (streq(key, "patches")) {
                        Patch patches[PATCH_MAX];
                        DfuError error = DFU_ERROR_INIT;
                        size_t n;
                        int r = upload_options_patches(v, patches, &n, &error);

                        if (r < 0)
                                return fail(u, MHD_HTTP_BAD_REQUEST, "bad-request", "%s",
                                            dfu_error_message(&error));
                        continue;
                }
                switch (json_object_get_type(v)) {
                case json_type_string:
                        if (!string_ok(v))
                                return fail(u, MHD_HTTP_BAD_REQUEST, "bad-request",
                                            "Option '%s' holds a NUL character.", key);
                        break;
                case json_type_boolean:
                        break;
                case json_type_int:
                        /* json-c keeps numbers past INT64_MAX as uint64: only a sign makes it negative */
                        if (json_object_get_int64(v) < 0)
                                return fail(u, MHD_HTTP_BAD_REQUEST, "bad-request",
                                            "Option '%s' must not be negative.", key);
                        break;
                case json_type_array:
                        for (size_t i = 0; i < json_object_array_length(v); i++) {
                                json_object *e = json_object_array_get_idx(v, i);
                                if (!json_object_is_type(e, json_type_string) || !string_ok(e))
                                        return fail(u, MHD_HTTP_BAD_REQUEST, "bad-request",
                                                    "Option '%s' must be a list of strings.", key);
                        }
                        break;
                default:
                        return fail(u, MHD_HTTP_BAD_REQUEST, "bad-request",
                                    "Option '%s' must be a string, a boolean, a whole number or a list of "
                                    "strings.",
                                    key);
                }
        }
        return 0;
}

int upload_finish(Upload *u, json_object **ret_options) {
        json_object *opts = NULL;
        int r;

        if (u->pp && MHD_destroy_post_processor(u->pp) != MHD_YES)
                (void)fail(u, MHD_HTTP_BAD_REQUEST, "bad-request", "The multipart body ends early.");
        u->pp = NULL;
        if (u->status)
                return -EINVAL;
        if (u->n_fds == 0)
                return fail(u, MHD_HTTP_BAD_REQUEST, "bad-request", "No part named 'image' in the form.");
        r = u->options_len > 0 ? parse_options(u, &opts) : (opts = json_object_new_object()) ? 0 : -ENOMEM;
        if (r >= 0)
                r = check_options(u, opts);
        for (size_t i = 0; r >= 0 && i < u->n_fds; i++) {
                if (lseek(u->fds[i], 0, SEEK_SET) < 0)
                        r = fail(u, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                 "Failed to rewind image %zu: %m", i + 1);
                /* sealed: what dfusd reads is what was uploaded, whoever else holds the fd */
                else
                        (void)fcntl(u->fds[i], F_ADD_SEALS,
                                    F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
        }
        if (r < 0) {
                json_object_put(opts);
                return r;
        }
        *ret_options = opts;
        return 0;
}
