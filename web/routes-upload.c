/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bus-json.h"
#include "log.h"
#include "parse-util.h"
#include "repr.h"
#include "routes.h"
#include "web.h"

/* dfusd takes at most 16 images in one call (dbus-daemon's fd limit per message). */
#define UPLOAD_IMAGES_MAX  16
#define UPLOAD_OPTIONS_MAX (64 * 1024)
/* dfusd reads and sanitizes every image before it replies */
#define SUBMIT_TIMEOUT_USEC (120 * 1000000ULL)

struct Upload {
        bool rule;
        struct MHD_PostProcessor *pp;
        int fds[UPLOAD_IMAGES_MAX];
        size_t n_fds;
        uint64_t bytes; /* of the images so far */
        char *options;
        size_t options_len;
        /* the first thing wrong with the body; answered once it has been read */
        unsigned status;
        const char *error_name;
        char *error;
};

void routes_upload_free(Upload *u) {
        if (!u)
                return;
        if (u->pp)
                (void)MHD_destroy_post_processor(u->pp);
        for (size_t i = 0; i < u->n_fds; i++)
                safe_close(u->fds[i]);
        free(u->options);
        free(u->error);
        free(u);
}

bool routes_upload_wants(const char *method, const char *url) {
        return streq(method, "POST") && (streq(url, "/api/v1/jobs") || streq(url, "/api/v1/rules"));
}

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

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                               const char *content_type, const char *transfer_encoding, const char *data,
                               uint64_t off, size_t size) {
        Request *r = cls;
        Upload *u = r->upload;

        if (u->status)
                return MHD_YES; /* read on to the end, keeping nothing */
        if (streq(key, "image")) {
                if (off == 0) {
                        int fd;
                        if (u->n_fds == UPLOAD_IMAGES_MAX)
                                return fail(u, MHD_HTTP_BAD_REQUEST, "bad-request",
                                            "At most %d images travel in one request.", UPLOAD_IMAGES_MAX),
                                       MHD_YES;
                        /* the bytes go to dfusd as a file descriptor, never as a path */
                        fd = memfd_create("dfusd-web-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
                        if (fd < 0)
                                return fail(u, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                            "Failed to make room for the image: %m"),
                                       MHD_YES;
                        u->fds[u->n_fds++] = fd;
                }
                if (u->n_fds == 0)
                        return MHD_YES;
                u->bytes += size;
                if (u->bytes > r->web->config.upload_size_cap)
                        return fail(u, MHD_HTTP_CONTENT_TOO_LARGE, "too-large",
                                    "The images are larger than %llu bytes.",
                                    (unsigned long long)r->web->config.upload_size_cap),
                               MHD_YES;
                if (write_all(u->fds[u->n_fds - 1], data, size) < 0)
                        return fail(u, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                    "Failed to keep the image: %m"),
                               MHD_YES;
                return MHD_YES;
        }
        if (streq(key, "options")) {
                char *n;
                if (u->options_len + size > UPLOAD_OPTIONS_MAX)
                        return fail(u, MHD_HTTP_CONTENT_TOO_LARGE, "too-large",
                                    "The options are larger than %d bytes.", UPLOAD_OPTIONS_MAX),
                               MHD_YES;
                n = realloc(u->options, u->options_len + size + 1);
                if (!n)
                        return MHD_NO;
                u->options = n;
                memcpy(u->options + u->options_len, data, size);
                u->options_len += size;
                u->options[u->options_len] = '\0';
                return MHD_YES;
        }
        return fail(u, MHD_HTTP_BAD_REQUEST, "bad-request",
                    "Unknown form field '%s': expected 'image' or 'options'.", key),
               MHD_YES;
}

enum MHD_Result routes_upload_begin(Request *r) {
        const char *type = http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
        const char *length = http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
        bool rule = streq(r->url, "/api/v1/rules");
        enum MHD_Result ret;
        uint64_t n;
        Upload *u;

        if (!http_require(r, rule ? ROLE_ADMIN : ROLE_OPERATOR, &ret))
                return ret;
        if (!type || strncasecmp(type, MHD_HTTP_POST_ENCODING_MULTIPART_FORMDATA,
                                 strlen(MHD_HTTP_POST_ENCODING_MULTIPART_FORMDATA)) != 0)
                return http_reply_error(
                        r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type",
                        "Send multipart/form-data: parts 'image' (one or more) and 'options'.");
        /* Refused on the headers alone: nothing of a body that could not be flashed is read. The
         * form's own framing is small next to any image, so the cap holds for the whole body. */
        if (length && parse_uint64(length, 10, UINT64_MAX, &n) >= 0 &&
            n > r->web->config.upload_size_cap + UPLOAD_OPTIONS_MAX)
                return http_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "too-large",
                                        "The request is larger than %llu bytes.",
                                        (unsigned long long)r->web->config.upload_size_cap);
        u = calloc(1, sizeof(*u));
        if (!u)
                return MHD_NO;
        u->rule = rule;
        r->upload = u;
        u->pp = MHD_create_post_processor(r->conn, 64 * 1024, on_part, r);
        if (!u->pp)
                return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad-request",
                                        "The multipart body has no boundary.");
        return MHD_YES;
}

enum MHD_Result routes_upload_feed(Request *r, const char *data, size_t *size) {
        Upload *u = r->upload;

        if (MHD_post_process(u->pp, data, *size) != MHD_YES)
                (void)fail(u, MHD_HTTP_BAD_REQUEST, "bad-request", "The multipart body is malformed.");
        /* A body without Content-Length is cut off once it is well past the cap: it is not read to
         * its end only to be refused. */
        if (u->status == MHD_HTTP_CONTENT_TOO_LARGE && u->bytes > 2 * r->web->config.upload_size_cap)
                return MHD_NO;
        *size = 0;
        return MHD_YES;
}

/* The options part as Submit's a{sv}: strings, booleans, whole numbers (t), lists of strings. */
static int append_options(Request *r, sd_bus_message *m, json_object *opts) {
        _cleanup_free_ char *origin = NULL;
        int k;

        k = sd_bus_message_open_container(m, 'a', "{sv}");
        if (k < 0)
                return k;
        json_object_object_foreach(opts, key, v) {
                if (streq(key, "origin"))
                        return fail(r->upload, MHD_HTTP_BAD_REQUEST, "bad-request",
                                    "Option 'origin' is set by dfusd-web from the token.");
                switch (json_object_get_type(v)) {
                case json_type_string:
                        k = sd_bus_message_append(m, "{sv}", key, "s", json_object_get_string(v));
                        break;
                case json_type_boolean:
                        k = sd_bus_message_append(m, "{sv}", key, "b", (int)json_object_get_boolean(v));
                        break;
                case json_type_int:
                        if (json_object_get_int64(v) < 0)
                                return fail(r->upload, MHD_HTTP_BAD_REQUEST, "bad-request",
                                            "Option '%s' must not be negative.", key);
                        k = sd_bus_message_append(m, "{sv}", key, "t", json_object_get_uint64(v));
                        break;
                case json_type_array:
                        k = sd_bus_message_open_container(m, 'e', "sv");
                        if (k >= 0)
                                k = sd_bus_message_append(m, "s", key);
                        if (k >= 0)
                                k = sd_bus_message_open_container(m, 'v', "as");
                        if (k >= 0)
                                k = sd_bus_message_open_container(m, 'a', "s");
                        for (size_t i = 0; k >= 0 && i < json_object_array_length(v); i++) {
                                json_object *e = json_object_array_get_idx(v, i);
                                if (!json_object_is_type(e, json_type_string))
                                        return fail(r->upload, MHD_HTTP_BAD_REQUEST, "bad-request",
                                                    "Option '%s' must be a list of strings.", key);
                                k = sd_bus_message_append(m, "s", json_object_get_string(e));
                        }
                        for (int i = 0; k >= 0 && i < 3; i++)
                                k = sd_bus_message_close_container(m);
                        break;
                default:
                        return fail(r->upload, MHD_HTTP_BAD_REQUEST, "bad-request",
                                    "Option '%s' must be a string, a boolean, a whole number or a list of "
                                    "strings.",
                                    key);
                }
                if (k < 0)
                        return k;
        }
        /* the record says who asked: the token's name */
        if (asprintf(&origin, "web:%s", r->token ? r->token->name : "anonymous") < 0)
                return -ENOMEM;
        k = sd_bus_message_append(m, "{sv}", "origin", "s", origin);
        if (k < 0)
                return k;
        return sd_bus_message_close_container(m);
}

static enum MHD_Result reply_created(Request *r, const char *path, bool rule) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(json_object_putp) json_object *props = NULL, *o = NULL;
        _cleanup_free_ char *location = NULL;
        struct MHD_Response *resp;
        const char *s;
        enum MHD_Result ret;
        int k;

        /* the mirror hears of the new object only once this request is done: ask for it */
        k = sd_bus_call_method(r->web->bus, DFUSD_BUS_NAME, path, "org.freedesktop.DBus.Properties",
                               "GetAll", &error, &reply, "s", rule ? DFUSD_IFACE_RULE : DFUSD_IFACE_JOB);
        if (k < 0)
                return http_reply_bus_error(r, &error, k, "read the new object");
        if (bus_message_read_json(reply, &props) < 0 ||
            mirror_add(&r->web->mirror, path, rule ? DFUSD_IFACE_RULE : DFUSD_IFACE_JOB, props) < 0)
                return MHD_NO;
        o = rule ? repr_rule(props) : repr_job(props, true);
        if (!o || asprintf(&location, "/api/v1/%s/%u", rule ? "rules" : "jobs",
                           repr_path_id(path, rule ? DFUSD_RULE_PATH : DFUSD_JOB_PATH)) < 0)
                return MHD_NO;
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        resp = MHD_create_response_from_buffer(strlen(s), (void *)s, MHD_RESPMEM_MUST_COPY);
        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
        http_add_common_headers(resp);
        ret = MHD_queue_response(r->conn, MHD_HTTP_CREATED, resp);
        MHD_destroy_response(resp);
        r->answered = true;
        return ret;
}

enum MHD_Result routes_upload_finish(Request *r) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(json_object_putp) json_object *opts = NULL;
        Upload *u = r->upload;
        const char *path;
        int k;

        if (MHD_destroy_post_processor(u->pp) != MHD_YES)
                (void)fail(u, MHD_HTTP_BAD_REQUEST, "bad-request", "The multipart body ends early.");
        u->pp = NULL;
        if (!u->status && u->n_fds == 0)
                (void)fail(u, MHD_HTTP_BAD_REQUEST, "bad-request", "No part named 'image' in the form.");
        if (!u->status && u->options) {
                enum json_tokener_error jerr;
                opts = json_tokener_parse_verbose(u->options, &jerr);
                if (!opts || !json_object_is_type(opts, json_type_object))
                        (void)fail(u, MHD_HTTP_BAD_REQUEST, "bad-request",
                                   "The 'options' part is not a JSON object%s%s.", opts ? "" : ": ",
                                   opts ? "" : json_tokener_error_desc(jerr));
        }
        if (!opts && !u->status && !(opts = json_object_new_object()))
                return MHD_NO;
        if (!u->status && !r->web->mirror.dfusd_up)
                (void)fail(u, MHD_HTTP_SERVICE_UNAVAILABLE, "dfusd-unreachable", "dfusd is not on the bus.");

        k = u->status ? -EINVAL
                      : sd_bus_message_new_method_call(r->web->bus, &m, DFUSD_BUS_NAME, DFUSD_PATH,
                                                       DFUSD_IFACE_MGR, u->rule ? "AddRule" : "Submit");
        if (k >= 0)
                k = sd_bus_message_open_container(m, 'a', "h");
        for (size_t i = 0; k >= 0 && i < u->n_fds; i++) {
                (void)lseek(u->fds[i], 0, SEEK_SET);
                /* sealed: what dfusd reads is what was uploaded, whoever else holds the fd */
                (void)fcntl(u->fds[i], F_ADD_SEALS,
                            F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
                k = sd_bus_message_append_basic(m, 'h', &u->fds[i]);
        }
        if (k >= 0)
                k = sd_bus_message_close_container(m);
        if (k >= 0)
                k = append_options(r, m, opts);
        if (u->status)
                return http_reply_error(r, u->status, u->error_name, "%s", u->error ?: "Out of memory.");
        if (k < 0)
                return MHD_NO;
        k = sd_bus_call(r->web->bus, m, SUBMIT_TIMEOUT_USEC, &error, &reply);
        if (k < 0)
                return http_reply_bus_error(r, &error, k, u->rule ? "add the rule" : "submit the job");
        k = sd_bus_message_read(reply, "o", &path);
        if (k < 0)
                return MHD_NO;
        log_info("%s %s for %s.", u->rule ? "Rule" : "Job", path, r->token ? r->token->name : "?");
        return reply_created(r, path, u->rule);
}
