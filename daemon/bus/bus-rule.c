/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-access.h"
#include "bus-dict.h"
#include "bus-rule.h"
#include "bus.h"
#include "log.h"
#include "manager.h"
#include "rule.h"

/* org.dfusd.Flash1.Rule: an auto-flash rule, at rule/<n>. */

static int property_get_match(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Rule *rule = userdata;
        _cleanup_free_ char *s = job_options_match_string(&rule->opts);
        if (!s)
                return -ENOMEM;
        return sd_bus_message_append(reply, "s", s);
}

static int property_get_once(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Rule *r = userdata;
        return sd_bus_message_append(reply, "b", r->opts.once);
}

static int property_get_options(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Rule *r = userdata;
        return bus_job_options_append(reply, &r->opts);
}

static int property_get_image_sha256(sd_bus *bus, const char *path, const char *interface,
                                     const char *property, sd_bus_message *reply, void *userdata,
                                     sd_bus_error *error) {
        Rule *r = userdata;
        return sd_bus_message_append(reply, "s", r->image_sha256 ? r->image_sha256 : "");
}

static int property_get_boards_flashed(sd_bus *bus, const char *path, const char *interface,
                                       const char *property, sd_bus_message *reply, void *userdata,
                                       sd_bus_error *error) {
        Rule *r = userdata;
        size_t n = strv_length(r->flashed);

        /* A rule that flashes every board of a line for years must not grow a reply without bound: the
         * most recent ones are shown, the store has them all. */
        return sd_bus_message_append_strv(reply, r->flashed ? r->flashed + (n > 1000 ? n - 1000 : 0) : NULL);
}

static int property_get_stopped(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Rule *r = userdata;
        return sd_bus_message_append(reply, "s", r->stopped ? r->stopped : "");
}

static int method_remove(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Rule *rule = userdata;
        int r;

        r = bus_access_check_caller(rule->manager, m, NULL, error);
        if (r < 0)
                return r;
        r = rule_remove(rule);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to remove the rule: %m");
        return sd_bus_reply_method_return(m, NULL);
}

const sd_bus_vtable bus_rule_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "u", NULL, offsetof(Rule, id), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Match", "s", property_get_match, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Once", "b", property_get_once, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Options", "a{sv}", property_get_options, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ImageSha256", "s", property_get_image_sha256, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("BoardsFlashed", "as", property_get_boards_flashed, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Stopped", "s", property_get_stopped, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD("Remove", NULL, NULL, method_remove, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int bus_rule_object_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                         sd_bus_error *error) {
        Bus *b = userdata;
        uint32_t id = bus_object_path_id(path, DFUSD_RULE_PREFIX);
        Rule *r = id > 0 ? rule_find(b->manager, id) : NULL;

        if (!r)
                return 0;
        *found = r;
        return 1;
}

int bus_rule_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                             sd_bus_error *error) {
        Bus *b = userdata;
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        LIST_FOREACH (rules, r, b->manager->rules) {
                _cleanup_free_ char *p = NULL;
                if (bus_object_path_new(DFUSD_RULE_PREFIX, r->id, &p) < 0 || strv_extend(&l, p) < 0)
                        return -ENOMEM;
        }
        *nodes = TAKE_PTR(l);
        return 1;
}
