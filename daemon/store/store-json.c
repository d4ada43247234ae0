/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <json-c/json.h>
#include <string.h>

#include "store-internal.h"

/* String lists (image hashes) are kept as JSON arrays: the same text the old files held. */

char *store_strv_to_json(char *const *l) {
        json_object *a = json_object_new_array();
        char *text = NULL;

        if (!a)
                return NULL;
        for (; l && *l; l++) {
                json_object *v = json_object_new_string(*l);
                if (!v || json_object_array_add(a, v) < 0) {
                        json_object_put(v);
                        json_object_put(a);
                        return NULL;
                }
        }
        text = strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
        json_object_put(a);
        return text;
}

int store_strv_from_json(const char *text, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        json_object *a;
        int r = 0;

        if (!l)
                return -ENOMEM;
        a = json_tokener_parse(text ? text : "[]");
        if (!a || !json_object_is_type(a, json_type_array)) {
                json_object_put(a);
                return -EBADMSG;
        }
        for (size_t i = 0; r >= 0 && i < json_object_array_length(a); i++) {
                const char *s = json_object_get_string(json_object_array_get_idx(a, i));
                r = s ? strv_extend(&l, s) : -EBADMSG;
        }
        json_object_put(a);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}
