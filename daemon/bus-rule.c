/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "log.h"

/* org.dfusd.Flash1.Rule: an auto-flash rule, at rule/<n>. */

static int property_get_match(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *s = rule_match_string(userdata);
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
        return job_options_append(reply, &r->opts);
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
        return sd_bus_message_append_strv(reply, r->flashed);
}

static int method_remove(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Rule *rule = userdata;
        Context *ctx = rule->ctx;
        int r;

        r = access_check_caller(ctx, m, NULL, error);
        if (r < 0)
                return r;
        log_info("Rule %" PRIu32 " removed.", rule->id);
        (void)bus_rule_remove(rule);
        _cleanup_strv_free_ char **hashes = TAKE_PTR(rule->image_hashes);
        rule_free(rule);
        spool_release(ctx, hashes);
        (void)bus_manager_emit_changed(ctx, "Rules");
        r = rules_save(ctx);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to save the rules: %m");
        return sd_bus_reply_method_return(m, NULL);
}

const sd_bus_vtable rule_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "u", NULL, offsetof(Rule, id), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Match", "s", property_get_match, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Once", "b", property_get_once, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Options", "a{sv}", property_get_options, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ImageSha256", "s", property_get_image_sha256, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("BoardsFlashed", "as", property_get_boards_flashed, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD("Remove", NULL, NULL, method_remove, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int rule_object_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                     sd_bus_error *error) {
        uint32_t id = bus_object_path_id(path, DFUSD_RULE_PREFIX);
        Rule *r = id > 0 ? rule_find(userdata, id) : NULL;

        if (!r)
                return 0;
        *found = r;
        return 1;
}

int rule_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Context *ctx = userdata;
        char **l = calloc(1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        LIST_FOREACH (rules, r, ctx->rules)
                if (strv_extend(&l, r->object_path) < 0) {
                        strv_free(l);
                        return -ENOMEM;
                }
        *nodes = l;
        return 1;
}

int bus_rule_add(Rule *rule) {
        int r = sd_bus_emit_object_added(rule->ctx->bus, rule->object_path);
        if (r < 0)
                log_debug_errno(r, "Failed to announce %s: %m", rule->object_path);
        return bus_manager_emit_changed(rule->ctx, "Rules");
}

int bus_rule_remove(Rule *rule) {
        int r = sd_bus_emit_object_removed(rule->ctx->bus, rule->object_path);
        if (r < 0)
                log_debug_errno(r, "Failed to announce removal of %s: %m", rule->object_path);
        return 0;
}

int bus_rule_emit_changed(Rule *rule, const char *property) {
        return sd_bus_emit_properties_changed(rule->ctx->bus, rule->object_path, DFUSD_IFACE_RULE, property,
                                              NULL);
}
