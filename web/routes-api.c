/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bus-json.h"
#include "log.h"
#include "parse-util.h"
#include "repr.h"
#include "routes.h"
#include "sse.h"
#include "web.h"

/* Reads are answered from the mirror; only writes wait for dfusd, and not forever. */
#define CALL_TIMEOUT_USEC (30 * 1000000ULL)

static enum MHD_Result reply_list(Request *r, const char *kind, const char *key) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *list;
        enum MHD_Result ret;

        if (!http_require(r, ROLE_VIEWER, &ret))
                return ret;
        if (!r->web->mirror.dfusd_up)
                return http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "dfusd-unreachable",
                                        "dfusd is not on the bus.");
        list = repr_list(&r->web->config, &r->web->mirror, kind);
        if (!o || !list)
                return json_object_put(list), MHD_NO;
        json_object_object_add(o, key, list);
        return http_reply_json(r, MHD_HTTP_OK, o);
}

/* The object of KIND whose Id is ID (dfusd chooses the paths: read them, never build them). */
static json_object *find_object(Request *r, const char *kind, const char *id, char **ret_path) {
        uint64_t n;

        if (strspn(id, "0123456789") != strlen(id) || parse_uint64(id, 10, UINT32_MAX, &n) < 0 || n == 0)
                return NULL;
        json_object_object_foreach(r->web->mirror.objects, path, ifaces) {
                const char *k = mirror_kind(path);
                json_object *props, *v;

                if (!k || !streq(k, kind) ||
                    !json_object_object_get_ex(ifaces, mirror_kind_iface(k), &props) ||
                    !json_object_object_get_ex(props, "Id", &v) || json_object_get_uint64(v) != n)
                        continue;
                *ret_path = strdup(path);
                return *ret_path ? props : NULL;
        }
        return NULL;
}

/* GET of one job or rule, or DELETE: Job.Cancel or Rule.Remove, then the object as it was read. */
static enum MHD_Result object_get_or_act(Request *r, const char *kind, const char *id) {
        bool job = streq(kind, "job"), act = streq(r->method, "DELETE");
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ char *path = NULL;
        json_object *props;
        enum MHD_Result ret;
        int k;

        if (!http_require(r, !act ? ROLE_VIEWER : job ? ROLE_OPERATOR : ROLE_ADMIN, &ret))
                return ret;
        props = find_object(r, kind, id, &path);
        if (!props)
                return http_reply_error(r, MHD_HTTP_NOT_FOUND, "not-found", "No %s %s.", kind, id);
        /* read before acting: a removed rule is gone from the mirror once dfusd says so */
        o = job ? repr_job(props, true) : repr_rule(props);
        if (!o)
                return MHD_NO;
        if (act) {
                k = sd_bus_call_method(r->web->bus, DFUSD_BUS_NAME, path,
                                       job ? DFUSD_IFACE_JOB : DFUSD_IFACE_RULE, job ? "Cancel" : "Remove",
                                       &error, NULL, NULL);
                if (k < 0)
                        return http_reply_bus_error(r, &error, k,
                                                    job ? "cancel the job" : "remove the rule");
                log_info("%s %s %s by %s.", job ? "Job" : "Rule", id, job ? "cancelled" : "removed",
                         r->token ? r->token->name : "?");
        }
        return http_reply_json(r, MHD_HTTP_OK, o);
}

enum MHD_Result routes_events(Request *r) {
        struct MHD_Response *resp = NULL;
        enum MHD_Result ret;
        int k;

        if (!http_require(r, ROLE_VIEWER, &ret))
                return ret;
        k = sse_response(r->web->sse, r->conn, http_header(r, "Last-Event-ID"), &resp);
        if (k == -EBUSY)
                return http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "too-many-clients",
                                        "Too many event streams are open.");
        if (k < 0)
                return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        http_add_common_headers(resp);
        /* a stream is idle by nature; the keepalive comments keep it well inside this */
        MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)60);
        ret = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        r->answered = true;
        return ret;
}

static enum MHD_Result on_devices(Request *r, const char *id) {
        return reply_list(r, "device", "devices");
}

static enum MHD_Result on_jobs(Request *r, const char *id) {
        return reply_list(r, "job", "jobs");
}

static enum MHD_Result on_job(Request *r, const char *id) {
        return object_get_or_act(r, "job", id);
}

static enum MHD_Result on_rules(Request *r, const char *id) {
        return reply_list(r, "rule", "rules");
}

static enum MHD_Result on_rule(Request *r, const char *id) {
        return object_get_or_act(r, "rule", id);
}

static enum MHD_Result on_history(Request *r, const char *id) {
        return routes_history(r);
}

static enum MHD_Result on_events(Request *r, const char *id) {
        return routes_events(r);
}

/*
 * Every route under /api/v1/, one line each ("{id}": one path segment, the object's number). The
 * POSTs are answered by routes-upload.c as their bodies stream in; they are listed so that the table
 * is the whole API (docs/openapi.yaml is checked against it by tests/web/openapi-check.py).
 */
static const struct {
        const char *method, *path;
        enum MHD_Result (*handler)(Request *r, const char *id);
} api_routes[] = {
        /* clang-format off */
        {"GET",    "devices",    on_devices},
        {"GET",    "jobs",       on_jobs},
        {"POST",   "jobs",       NULL},
        {"GET",    "jobs/{id}",  on_job},
        {"DELETE", "jobs/{id}",  on_job},
        {"GET",    "rules",      on_rules},
        {"POST",   "rules",      NULL},
        {"GET",    "rules/{id}", on_rule},
        {"DELETE", "rules/{id}", on_rule},
        {"GET",    "history",    on_history},
        {"GET",    "events",     on_events},
        /* clang-format on */
};

/* Whether PATH is the route's: the same name, and an id segment where the route has "{id}". */
static bool route_matches(const char *route, const char *path, const char **ret_id) {
        const char *slash = strchr(route, '/');
        size_t n = slash ? (size_t)(slash - route) : strlen(route);

        if (strncmp(path, route, n) != 0)
                return false;
        if (!slash) {
                *ret_id = NULL;
                return path[n] == '\0';
        }
        if (path[n] != '/' || !path[n + 1] || strchr(path + n + 1, '/'))
                return false;
        *ret_id = path + n + 1;
        return true;
}

enum MHD_Result routes_api(Request *r, const char *path) {
        const char *method = streq(r->method, "HEAD") ? "GET" : r->method, *id = NULL;
        bool known = false;

        for (size_t i = 0; i < ELEMENTSOF(api_routes); i++) {
                if (!route_matches(api_routes[i].path, path, &id))
                        continue;
                known = true;
                if (streq(api_routes[i].method, method) && api_routes[i].handler)
                        return api_routes[i].handler(r, id);
        }
        if (known)
                return http_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method-not-allowed",
                                        "%s is not allowed on %s.", r->method, r->url);
        return http_reply_error(r, MHD_HTTP_NOT_FOUND, "not-found", "No such API endpoint.");
}
