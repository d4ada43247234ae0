/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-json.h"
#include "history-query.h"
#include "history.h"
#include "routes.h"
#include "web.h"

static const char *lookup(void *userdata, const char *name) {
        return http_query(userdata, name);
}

typedef struct ArgCheck {
        const char *bad; /* the first argument that is not a filter (the connection's memory) */
} ArgCheck;

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        ArgCheck *c = cls;

        if (history_query_arg_known(key))
                return MHD_YES;
        c->bad = key;
        return MHD_NO;
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
        ArgCheck check = {};
        const char *what = NULL;
        _cleanup_(history_query_done) HistoryQuery q = {};
        enum MHD_Result ret;
        size_t n;
        int k;

        if (!http_require(r, ROLE_VIEWER, &ret))
                return ret;
        (void)MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, check_arg, &check);
        if (check.bad)
                return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad-request",
                                        "Unknown history filter '%s'.", check.bad);
        k = history_query_parse(&q, lookup, r, &what);
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
