/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus-json.h"
#include "history.h"
#include "parse-util.h"
#include "routes.h"
#include "web.h"

/* since= and until=: microseconds since the epoch as dfusd keeps them, or "2026-01-05T10:11:12Z". */
static int parse_time(const char *s, uint64_t *ret) {
        struct tm tm = {};
        const char *end;
        time_t t;

        if (parse_uint64(s, 10, UINT64_MAX, ret) >= 0)
                return 0;
        end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!end || (end[0] && !streq(end, "Z")))
                return -EINVAL;
        t = timegm(&tm);
        if (t < 0)
                return -EINVAL;
        *ret = (uint64_t)t * 1000000ULL;
        return 0;
}

typedef struct HistoryQuery {
        uint64_t since, until, before;
        uint32_t limit;
        const char *port, *serial, *result;
        char *image;
} HistoryQuery;

static void history_query_done(HistoryQuery *q) {
        free(q->image);
}

typedef struct ArgCheck {
        Request *r;
        char *bad; /* the first argument that is not a filter */
} ArgCheck;

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        static const char *const known[] = {"since",  "until", "port",   "serial", "image",
                                            "result", "limit", "before", "format", "access_token"};
        ArgCheck *c = cls;

        for (size_t i = 0; i < ELEMENTSOF(known); i++)
                if (streq(key, known[i]))
                        return MHD_YES;
        c->bad = strdup(key);
        return MHD_NO;
}

/* Fills q from the query; on bad input returns -EINVAL with *what naming the argument. */
static int parse_query(Request *r, HistoryQuery *q, const char **what) {
        const char *v;
        uint64_t u;

        *q = (HistoryQuery){.limit = 100};
        if ((v = http_query(r, "since")) && parse_time(v, &q->since) < 0)
                return *what = "since", -EINVAL;
        if ((v = http_query(r, "until")) && parse_time(v, &q->until) < 0)
                return *what = "until", -EINVAL;
        if ((v = http_query(r, "before")) && parse_uint64(v, 10, UINT64_MAX, &q->before) < 0)
                return *what = "before", -EINVAL;
        if ((v = http_query(r, "limit"))) {
                if (parse_uint64(v, 10, HISTORY_PAGE_MAX, &u) < 0 || u == 0)
                        return *what = "limit", -EINVAL;
                q->limit = (uint32_t)u;
        }
        if ((v = http_query(r, "result")) && !history_result_is_valid(v))
                return *what = "result", -EINVAL;
        q->result = v;
        q->port = http_query(r, "port");
        q->serial = http_query(r, "serial");
        if ((v = http_query(r, "image")) && history_image_normalize(v, &q->image) < 0)
                return *what = "image", -EINVAL;
        return 0;
}

static int append_filter(sd_bus_message *m, const HistoryQuery *q) {
        int k = sd_bus_message_open_container(m, 'a', "{sv}");

        if (k >= 0 && q->since)
                k = sd_bus_message_append(m, "{sv}", "since", "t", q->since);
        if (k >= 0 && q->until)
                k = sd_bus_message_append(m, "{sv}", "until", "t", q->until);
        if (k >= 0 && q->before)
                k = sd_bus_message_append(m, "{sv}", "before", "t", q->before);
        if (k >= 0)
                k = sd_bus_message_append(m, "{sv}", "limit", "u", q->limit);
        if (k >= 0 && q->port)
                k = sd_bus_message_append(m, "{sv}", "port", "s", q->port);
        if (k >= 0 && q->serial)
                k = sd_bus_message_append(m, "{sv}", "serial", "s", q->serial);
        if (k >= 0 && q->image)
                k = sd_bus_message_append(m, "{sv}", "image", "s", q->image);
        if (k >= 0 && q->result)
                k = sd_bus_message_append(m, "{sv}", "result", "s", q->result);
        if (k >= 0)
                k = sd_bus_message_close_container(m);
        return k;
}

static bool wants_csv(Request *r) {
        const char *accept = http_header(r, MHD_HTTP_HEADER_ACCEPT);
        const char *format = http_query(r, "format");
        return (accept && strstr(accept, "text/csv")) || (format && streq(format, "csv"));
}

static enum MHD_Result reply_csv(Request *r, json_object *entries) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        int k;

        if (!f)
                return MHD_NO;
        k = history_csv_header(f, NULL);
        for (size_t i = 0; k >= 0 && i < json_object_array_length(entries); i++)
                k = history_csv_row(f, json_object_array_get_idx(entries, i), NULL);
        if (fclose(f) != 0 || k < 0)
                return MHD_NO;
        return http_reply_text(r, MHD_HTTP_OK, "text/csv; charset=utf-8", TAKE_PTR(buf), size);
}

enum MHD_Result routes_history(Request *r) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(json_object_putp) json_object *entries = NULL, *o = NULL;
        ArgCheck check = {r, NULL};
        const char *what = NULL;
        _cleanup_(history_query_done) HistoryQuery q = {};
        enum MHD_Result ret;
        size_t n;
        int k;

        if (!http_require(r, ROLE_VIEWER, &ret))
                return ret;
        (void)MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, check_arg, &check);
        if (check.bad) {
                _cleanup_free_ char *bad = check.bad;
                return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad-request",
                                        "Unknown history filter '%s'.", bad);
        }
        k = parse_query(r, &q, &what);
        if (k < 0)
                return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad-request", "Invalid value for '%s'.",
                                        what);

        k = sd_bus_message_new_method_call(r->web->bus, &m, DFUSD_BUS_NAME, DFUSD_PATH, DFUSD_IFACE_MGR,
                                           "GetHistory");
        if (k >= 0)
                k = append_filter(m, &q);
        if (k < 0)
                return MHD_NO;
        k = sd_bus_call(r->web->bus, m, 30 * 1000000ULL, &error, &reply);
        if (k < 0)
                return http_reply_bus_error(r, &error, k, "read the history");
        if (bus_message_read_json(reply, &entries) < 0 || !json_object_is_type(entries, json_type_array))
                return http_reply_error(r, MHD_HTTP_BAD_GATEWAY, "bad-gateway",
                                        "dfusd's history reply is unreadable.");
        if (wants_csv(r))
                return reply_csv(r, entries);
        o = json_object_new_object();
        if (!o)
                return MHD_NO;
        n = json_object_array_length(entries);
        /* a full page may have more before it: the oldest entry's cursor reads on */
        if (n == q.limit && n > 0) {
                json_object *c;
                if (json_object_object_get_ex(json_object_array_get_idx(entries, 0), "cursor", &c))
                        json_object_object_add(o, "next_before", json_object_get(c));
        }
        json_object_object_add(o, "entries", TAKE_PTR(entries));
        return http_reply_json(r, MHD_HTTP_OK, o);
}
