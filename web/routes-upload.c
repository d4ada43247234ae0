/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-json.h"
#include "bus-patches.h"
#include "log.h"
#include "repr.h"
#include "routes.h"
#include "upload-parse.h"
#include "web.h"

/* dfusd reads and sanitizes every image before it replies */
#define SUBMIT_TIMEOUT_USEC (120 * 1000000ULL)

void routes_upload_free(Upload *u) {
        upload_free(u);
}

bool routes_upload_wants(const char *method, const char *url) {
        return streq(method, "POST") && (streq(url, "/api/v1/jobs") || streq(url, "/api/v1/rules"));
}

static bool is_rule(Request *r) {
        return streq(r->url, "/api/v1/rules");
}

enum MHD_Result routes_upload_begin(Request *r) {
        enum MHD_Result ret;
        Upload *u = NULL;

        if (!http_require(r, is_rule(r) ? ROLE_ADMIN : ROLE_OPERATOR, &ret))
                return ret;
        if (upload_new(r->conn, http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE),
                       http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH), r->web->config.upload_size_cap,
                       &u) < 0)
                return MHD_NO;
        r->upload = u;
        /* refused on the headers alone: nothing of a body that could not be flashed is read */
        if (u->status)
                return http_reply_error(r, u->status, u->error_name, "%s", u->error ?: "Out of memory.");
        return MHD_YES;
}

enum MHD_Result routes_upload_feed(Request *r, const char *data, size_t *size) {
        if (!upload_feed(r->upload, data, *size))
                return MHD_NO;
        *size = 0;
        return MHD_YES;
}

/* The options as Submit's a{sv}; upload_finish() let through only what maps to s, b, t or as, and
 * "patches", which goes as a(uss). */
static int append_options(Request *r, sd_bus_message *m, json_object *opts) {
        _cleanup_free_ char *origin = NULL;
        int k;

        k = sd_bus_message_open_container(m, 'a', "{sv}");
        json_object_object_foreach(opts, key, v) {
                if (k < 0)
                        return k;
                switch (json_object_get_type(v)) {
                case json_type_string:
                        k = sd_bus_message_append(m, "{sv}", key, "s", json_object_get_string(v));
                        break;
                case json_type_boolean:
                        k = sd_bus_message_append(m, "{sv}", key, "b", (int)json_object_get_boolean(v));
                        break;
                case json_type_int:
                        k = sd_bus_message_append(m, "{sv}", key, "t", json_object_get_uint64(v));
                        break;
                case json_type_array:
                        if (streq(key, "patches")) {
                                Patch patches[PATCH_MAX];
                                DfuError error = DFU_ERROR_INIT;
                                size_t n = 0;

                                /* upload_finish() checked them already */
                                k = upload_options_patches(v, patches, &n, &error);
                                if (k >= 0)
                                        k = bus_append_patches(m, patches, n);
                                break;
                        }
                        k = sd_bus_message_open_container(m, 'e', "sv");
                        if (k >= 0)
                                k = sd_bus_message_append(m, "s", key);
                        if (k >= 0)
                                k = sd_bus_message_open_container(m, 'v', "as");
                        if (k >= 0)
                                k = sd_bus_message_open_container(m, 'a', "s");
                        for (size_t i = 0; k >= 0 && i < json_object_array_length(v); i++)
                                k = sd_bus_message_append(
                                        m, "s", json_object_get_string(json_object_array_get_idx(v, i)));
                        for (int i = 0; k >= 0 && i < 3; i++)
                                k = sd_bus_message_close_container(m);
                        break;
                default:
                        k = -EINVAL;
                }
        }
        /* the record says who asked: the token's name */
        if (k >= 0 && asprintf(&origin, "web:%s", r->token ? r->token->name : "anonymous") < 0)
                return -ENOMEM;
        if (k >= 0)
                k = sd_bus_message_append(m, "{sv}", "origin", "s", origin);
        if (k >= 0)
                k = sd_bus_message_close_container(m);
        return k;
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
        bool rule = is_rule(r);
        const char *path;
        int k;

        k = upload_finish(u, &opts);
        if (k == -EINVAL)
                return http_reply_error(r, u->status, u->error_name, "%s", u->error ?: "Out of memory.");
        if (k < 0)
                return MHD_NO;
        if (!r->web->mirror.dfusd_up)
                return http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "dfusd-unreachable",
                                        "dfusd is not on the bus.");
        k = sd_bus_message_new_method_call(r->web->bus, &m, DFUSD_BUS_NAME, DFUSD_PATH, DFUSD_IFACE_MGR,
                                           rule ? "AddRule" : "Submit");
        if (k >= 0)
                k = sd_bus_message_open_container(m, 'a', "h");
        for (size_t i = 0; k >= 0 && i < u->n_fds; i++)
                k = sd_bus_message_append_basic(m, 'h', &u->fds[i]);
        if (k >= 0)
                k = sd_bus_message_close_container(m);
        if (k >= 0)
                k = append_options(r, m, opts);
        if (k < 0)
                return http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                        "Failed to build the %s call: %s", rule ? "AddRule" : "Submit",
                                        strerror(-k));
        k = sd_bus_call(r->web->bus, m, SUBMIT_TIMEOUT_USEC, &error, &reply);
        if (k < 0)
                return http_reply_bus_error(r, &error, k, rule ? "add the rule" : "submit the job");
        k = sd_bus_message_read(reply, "o", &path);
        if (k < 0)
                return MHD_NO;
        log_info("%s %s for %s.", rule ? "Rule" : "Job", path, r->token ? r->token->name : "?");
        return reply_created(r, path, rule);
}
