/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus-json.h"
#include "repr.h"

unsigned repr_path_id(const char *path, const char *prefix) {
        _cleanup_free_ char *s = NULL;
        char *end;
        unsigned long v;

        if (!path || sd_bus_path_decode(path, prefix, &s) <= 0 || !s[0])
                return 0;
        v = strtoul(s, &end, 10);
        return *end || v > UINT32_MAX ? 0 : (unsigned)v;
}

static json_object *get(json_object *props, const char *key) {
        json_object *v;
        return json_object_object_get_ex(props, key, &v) ? v : NULL;
}

static const char *get_str(json_object *props, const char *key) {
        json_object *v = get(props, key);
        return v ? json_object_get_string(v) : "";
}

/* Copies props[from] to o[to] (a new reference), when there. */
static void copy(json_object *o, const char *to, json_object *props, const char *from) {
        json_object *v = get(props, from);
        json_object_object_add(o, to, v ? json_object_get(v) : NULL);
}

static void add_id(json_object *o, const char *key, const char *path, const char *prefix) {
        unsigned id = repr_path_id(path, prefix);
        json_object_object_add(o, key, id ? json_object_new_int64(id) : NULL);
}

json_object *repr_device(const WebConfig *c, const Mirror *m, json_object *props) {
        json_object *o = json_object_new_object();
        const char *port = get_str(props, "PortPath"), *station = get_str(props, "Station");

        if (!o)
                return NULL;
        copy(o, "port", props, "PortPath");
        /* dfusd names the station from its own configuration; ours is the same file */
        json_object_object_add(o, "station",
                               json_object_new_string(station[0] ? station : web_config_station(c, port) ?: ""));
        copy(o, "part", props, "Part");
        copy(o, "serial", props, "Serial");
        copy(o, "serial_duplicated", props, "SerialDuplicated");
        copy(o, "state", props, "State");
        add_id(o, "job", get_str(props, "CurrentJob"), DFUSD_JOB_PATH);
        add_id(o, "last_job", get_str(props, "LastJob"), DFUSD_JOB_PATH);
        copy(o, "last_error", props, "LastError");
        return o;
}

/* The Job's Values, a(ss), as [{"sequence": ..., "value": ...}]: what each board got. */
static json_object *job_values(json_object *props) {
        json_object *in = get(props, "Values"), *out = json_object_new_array();

        for (size_t i = 0;
             out && in && json_object_is_type(in, json_type_array) && i < json_object_array_length(in);
             i++) {
                json_object *pair = json_object_array_get_idx(in, i), *o;

                if (!json_object_is_type(pair, json_type_array) || json_object_array_length(pair) != 2)
                        continue;
                o = json_object_new_object();
                if (!o || json_object_array_add(out, o) < 0) {
                        json_object_put(o);
                        json_object_put(out);
                        return NULL;
                }
                json_object_object_add(o, "sequence", json_object_get(json_object_array_get_idx(pair, 0)));
                json_object_object_add(o, "value", json_object_get(json_object_array_get_idx(pair, 1)));
        }
        return out;
}

json_object *repr_job(json_object *props, bool with_report) {
        static const struct {
                const char *to, *from;
        } keys[] = {
                {"id", "Id"},
                {"state", "State"},
                {"progress", "Progress"},
                {"port", "PortPath"},
                {"error", "Error"},
                {"target", "Target"},
                {"bytes_done", "BytesDone"},
                {"bytes_total", "BytesTotal"},
                {"rate", "Rate"},
                {"submit_time", "SubmitTime"},
                {"start_time", "StartTime"},
                {"end_time", "EndTime"},
                {"expected_end_time", "ExpectedEndTime"},
                {"image_sha256", "ImageSha256"},
                {"origin", "Origin"},
        };
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                copy(o, keys[i].to, props, keys[i].from);
        add_id(o, "rule", get_str(props, "Rule"), DFUSD_RULE_PATH);
        json_object_object_add(o, "values", job_values(props));
        if (with_report)
                copy(o, "report", props, "Report");
        return o;
}

json_object *repr_rule(json_object *props) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        copy(o, "id", props, "Id");
        copy(o, "match", props, "Match");
        copy(o, "once", props, "Once");
        copy(o, "options", props, "Options");
        copy(o, "image_sha256", props, "ImageSha256");
        copy(o, "boards_flashed", props, "BoardsFlashed");
        copy(o, "trust", props, "Trust");
        copy(o, "stopped", props, "Stopped");
        return o;
}

static size_t station_rank(const WebConfig *c, const char *port) {
        for (size_t i = 0; i < c->n_stations; i++)
                if (streq(c->stations[i].port, port))
                        return i;
        return c->n_stations;
}

static int compare_devices(const void *a, const void *b, void *userdata) {
        const WebConfig *c = userdata;
        json_object *const *x = a, *const *y = b;
        const char *px = json_object_get_string(get(*x, "port")),
                   *py = json_object_get_string(get(*y, "port"));
        size_t rx = station_rank(c, px ?: ""), ry = station_rank(c, py ?: "");

        if (rx != ry)
                return rx < ry ? -1 : 1;
        return strverscmp(px ?: "", py ?: "");
}

static int compare_ids(const void *a, const void *b, void *userdata) {
        json_object *const *x = a, *const *y = b;
        uint64_t ix = json_object_get_uint64(get(*x, "id")), iy = json_object_get_uint64(get(*y, "id"));
        return ix < iy ? -1 : ix > iy;
}

/* Sorts with a context, which json_object_array_sort() cannot pass: the station order. */
static json_object *sorted(json_object *a, const WebConfig *c, bool devices) {
        size_t n = json_object_array_length(a);
        _cleanup_free_ json_object **items = calloc(n ?: 1, sizeof(json_object *));
        json_object *out = json_object_new_array_ext((int)n);

        if (!items || !out) {
                json_object_put(out);
                return NULL;
        }
        for (size_t i = 0; i < n; i++)
                items[i] = json_object_array_get_idx(a, i);
        qsort_r(items, n, sizeof(json_object *), devices ? compare_devices : compare_ids, (void *)c);
        for (size_t i = 0; i < n; i++)
                json_object_array_add(out, json_object_get(items[i]));
        return out;
}

json_object *repr_list(const WebConfig *c, const Mirror *m, const char *kind) {
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        json_object_object_foreach(m->objects, path, ifaces) {
                const char *k = mirror_kind(path);
                json_object *props, *item;

                if (!k || !streq(k, kind) ||
                    !json_object_object_get_ex(ifaces, mirror_kind_iface(k), &props))
                        continue;
                item = streq(kind, "device") ? repr_device(c, m, props)
                       : streq(kind, "job")  ? repr_job(props, false)
                                             : repr_rule(props);
                if (!item || json_object_array_add(a, item) < 0) {
                        json_object_put(item);
                        return NULL;
                }
        }
        return sorted(a, c, streq(kind, "device"));
}

json_object *repr_snapshot(const WebConfig *c, const Mirror *m, json_object *today) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *stations = json_object_new_array();

        if (!o || !stations)
                return json_object_put(stations), NULL;
        json_object_object_add(o, "dfusd", json_object_new_boolean(m->dfusd_up));
        json_object_object_add(o, "devices", repr_list(c, m, "device"));
        json_object_object_add(o, "jobs", repr_list(c, m, "job"));
        json_object_object_add(o, "rules", repr_list(c, m, "rule"));
        json_object_object_add(o, "stations", stations);
        for (size_t i = 0; i < c->n_stations; i++) {
                json_object *s = json_object_new_object();
                if (!s || json_object_array_add(stations, s) < 0)
                        return json_object_put(s), NULL;
                json_object_object_add(s, "port", json_object_new_string(c->stations[i].port));
                json_object_object_add(s, "name", json_object_new_string(c->stations[i].name));
        }
        json_object_object_add(o, "today", json_object_get(today));
        return TAKE_PTR(o);
}
