/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus-json.h"

static int read_basic_json(sd_bus_message *m, char type, json_object **ret) {
        union {
                uint8_t y;
                int16_t n;
                uint16_t q;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                double d;
                int b;
                const char *s;
                int h;
        } v;
        int r;

        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;
        switch (type) {
        case SD_BUS_TYPE_BYTE:
                *ret = json_object_new_int(v.y);
                break;
        case SD_BUS_TYPE_INT16:
                *ret = json_object_new_int(v.n);
                break;
        case SD_BUS_TYPE_UINT16:
                *ret = json_object_new_int(v.q);
                break;
        case SD_BUS_TYPE_INT32:
        case SD_BUS_TYPE_UNIX_FD:
                *ret = json_object_new_int(v.i);
                break;
        case SD_BUS_TYPE_UINT32:
                *ret = json_object_new_int64(v.u);
                break;
        case SD_BUS_TYPE_INT64:
                *ret = json_object_new_int64(v.x);
                break;
        case SD_BUS_TYPE_UINT64:
                *ret = json_object_new_uint64(v.t);
                break;
        case SD_BUS_TYPE_DOUBLE:
                *ret = json_object_new_double(v.d);
                break;
        case SD_BUS_TYPE_BOOLEAN:
                *ret = json_object_new_boolean(v.b);
                break;
        default: /* s, o, g */
                *ret = json_object_new_string(v.s);
        }
        return *ret ? 0 : -ENOMEM;
}

static int read_dict_json(sd_bus_message *m, const char *contents, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, contents);
        if (r < 0)
                return r;
        /* contents is "{kv}": the entry's own signature is what lies between the braces. */
        _cleanup_free_ char *entry = strndup(contents + 1, strlen(contents) - 2);
        if (!entry)
                return -ENOMEM;
        while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, entry)) > 0) {
                _cleanup_(json_object_putp) json_object *key = NULL, *value = NULL;

                r = read_basic_json(m, entry[0], &key);
                if (r < 0)
                        return r;
                r = bus_message_read_json(m, &value);
                if (r < 0)
                        return r;
                json_object_object_add(o, json_object_get_string(key), TAKE_PTR(value));
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static int read_container_json(sd_bus_message *m, char type, const char *contents, json_object **ret) {
        _cleanup_(json_object_putp) json_object *a = NULL;
        int r;

        if (type == SD_BUS_TYPE_ARRAY && contents[0] == SD_BUS_TYPE_DICT_ENTRY_BEGIN)
                return read_dict_json(m, contents, ret);

        r = sd_bus_message_enter_container(m, type, contents);
        if (r < 0)
                return r;
        if (type == SD_BUS_TYPE_VARIANT) {
                r = bus_message_read_json(m, ret);
                if (r < 0)
                        return r;
                return sd_bus_message_exit_container(m);
        }
        a = json_object_new_array();
        if (!a)
                return -ENOMEM;
        for (;;) {
                json_object *item = NULL;

                r = sd_bus_message_at_end(m, false);
                if (r < 0)
                        return r;
                if (r > 0)
                        break;
                r = bus_message_read_json(m, &item);
                if (r < 0)
                        return r;
                json_object_array_add(a, item);
        }
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

int bus_message_read_json(sd_bus_message *m, json_object **ret) {
        const char *contents = NULL;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENXIO;
        if (type == SD_BUS_TYPE_ARRAY || type == SD_BUS_TYPE_VARIANT || type == SD_BUS_TYPE_STRUCT)
                return read_container_json(m, type, contents, ret);
        return read_basic_json(m, type, ret);
}
