/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "bus-json.h"
#include "log.h"
#include "mirror.h"

static const struct {
        const char *kind, *prefix, *iface;
        bool reported; /* to MirrorCallbacks.changed, and so to the browsers */
} kinds[] = {
        {"device", DFUSD_DEVICE_PATH "/", DFUSD_IFACE_DEVICE, true},
        {"job", DFUSD_JOB_PATH "/", DFUSD_IFACE_JOB, true},
        {"rule", DFUSD_RULE_PATH "/", DFUSD_IFACE_RULE, true},
        {"sequence", DFUSD_SEQUENCE_PATH "/", DFUSD_IFACE_SEQUENCE, false},
};

const char *mirror_kind(const char *path) {
        for (size_t i = 0; path && i < ELEMENTSOF(kinds); i++)
                if (strncmp(path, kinds[i].prefix, strlen(kinds[i].prefix)) == 0)
                        return kinds[i].kind;
        return NULL;
}

const char *mirror_kind_iface(const char *kind) {
        for (size_t i = 0; kind && i < ELEMENTSOF(kinds); i++)
                if (streq(kinds[i].kind, kind))
                        return kinds[i].iface;
        return NULL;
}

json_object *mirror_props(const Mirror *m, const char *path) {
        json_object *ifaces, *props;
        const char *iface = mirror_kind_iface(mirror_kind(path));

        if (!iface || !m->objects || !json_object_object_get_ex(m->objects, path, &ifaces) ||
            !json_object_object_get_ex(ifaces, iface, &props))
                return NULL;
        return props;
}

bool job_state_is_final(const char *state) {
        return state && (streq(state, "done") || streq(state, "failed") || streq(state, "cancelled"));
}

static const char *props_state(json_object *props) {
        json_object *s;
        return props && json_object_object_get_ex(props, "State", &s) ? json_object_get_string(s) : NULL;
}

static void notify(Mirror *m, const char *path, bool removed) {
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (kinds[i].reported && strncmp(path, kinds[i].prefix, strlen(kinds[i].prefix)) == 0 &&
                    m->cb.changed)
                        return m->cb.changed(m->userdata, kinds[i].kind, path, removed);
}

/* Merges {interface -> props} into the object at path, creating it. */
static int merge_object(Mirror *m, const char *path, json_object *ifaces) {
        json_object *have;

        if (!json_object_object_get_ex(m->objects, path, &have)) {
                have = json_object_new_object();
                if (!have || json_object_object_add(m->objects, path, have) < 0)
                        return -ENOMEM;
        }
        json_object_object_foreach(ifaces, iface, props) {
                json_object *cur;
                if (!json_object_object_get_ex(have, iface, &cur)) {
                        json_object_object_add(have, iface, json_object_get(props));
                        continue;
                }
                json_object_object_foreach(props, k, v) json_object_object_add(cur, k, json_object_get(v));
        }
        return 0;
}

int mirror_add(Mirror *m, const char *path, const char *iface, json_object *props) {
        _cleanup_(json_object_putp) json_object *ifaces = json_object_new_object();
        int r;

        if (!ifaces || json_object_object_add(ifaces, iface, json_object_get(props)) < 0)
                return -ENOMEM;
        r = merge_object(m, path, ifaces);
        if (r < 0)
                return r;
        notify(m, path, false);
        return 0;
}

static int on_properties_changed(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Mirror *m = userdata;
        _cleanup_(json_object_putp) json_object *changed = NULL;
        const char *iface, *path = sd_bus_message_get_path(msg);
        json_object *ifaces, *props;
        const char *before;
        bool was_final;

        if (!path || !mirror_kind(path) || sd_bus_message_read(msg, "s", &iface) < 0 ||
            bus_message_read_json(msg, &changed) < 0)
                return 0;
        /* Changes of an object not seen yet come before its InterfacesAdded cannot: ignore them. */
        if (!json_object_object_get_ex(m->objects, path, &ifaces) ||
            !json_object_object_get_ex(ifaces, iface, &props))
                return 0;
        before = props_state(props);
        was_final = job_state_is_final(before);
        json_object_object_foreach(changed, k, v) json_object_object_add(props, k, json_object_get(v));
        if (streq(mirror_kind(path), "job") && !was_final && job_state_is_final(props_state(props)) &&
            m->cb.job_ended)
                m->cb.job_ended(m->userdata, path, props);
        notify(m, path, false);
        return 0;
}

static int on_interfaces_added(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Mirror *m = userdata;
        _cleanup_(json_object_putp) json_object *ifaces = NULL;
        const char *path;

        if (sd_bus_message_read(msg, "o", &path) < 0 || bus_message_read_json(msg, &ifaces) < 0)
                return 0;
        if (merge_object(m, path, ifaces) < 0)
                return log_oom();
        notify(m, path, false);
        return 0;
}

static void remove_object(Mirror *m, const char *path) {
        _cleanup_free_ char *p = strdup(path);

        if (!p || !json_object_object_get_ex(m->objects, path, NULL))
                return;
        json_object_object_del(m->objects, p);
        notify(m, p, true);
}

static int on_interfaces_removed(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Mirror *m = userdata;
        const char *path;

        if (sd_bus_message_read(msg, "o", &path) < 0)
                return 0;
        /* dfusd serves one interface per object: its removal is the object's. */
        remove_object(m, path);
        return 0;
}

static int mirror_sync(Mirror *m);

static int on_manager_signal(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Mirror *m = userdata;
        const char *path;
        uint32_t id;

        if (sd_bus_message_is_signal(msg, DFUSD_IFACE_MGR, "JobNew")) {
                if (sd_bus_message_read(msg, "uo", &id, &path) < 0 ||
                    json_object_object_get_ex(m->objects, path, NULL))
                        return 0;
                /* InterfacesAdded normally comes first; should it not, read everything again. */
                return mirror_sync(m);
        }
        if (sd_bus_message_is_signal(msg, DFUSD_IFACE_MGR, "JobRemoved") &&
            sd_bus_message_read(msg, "uo", &id, &path) >= 0)
                remove_object(m, path);
        return 0;
}

static void set_objects(Mirror *m, json_object *objects, bool up) {
        json_object_put(m->objects);
        m->objects = objects;
        m->dfusd_up = up;
        if (m->cb.resynced)
                m->cb.resynced(m->userdata);
}

static int on_managed_objects(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Mirror *m = userdata;
        json_object *objects = NULL;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        m->sync_slot = sd_bus_slot_unref(m->sync_slot);
        if (e) {
                log_warning("dfusd is not reachable: %s", e->message ?: e->name);
                objects = json_object_new_object();
                if (!objects)
                        return log_oom();
                set_objects(m, objects, false);
                return 0;
        }
        if (bus_message_read_json(reply, &objects) < 0 || !json_object_is_type(objects, json_type_object)) {
                json_object_put(objects);
                log_warning("dfusd's GetManagedObjects reply could not be read.");
                return 0;
        }
        set_objects(m, objects, true);
        return 0;
}

static int mirror_sync(Mirror *m) {
        m->sync_slot = sd_bus_slot_unref(m->sync_slot);
        return sd_bus_call_method_async(m->bus, &m->sync_slot, DFUSD_BUS_NAME, DFUSD_PATH,
                                        "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                                        on_managed_objects, m, NULL);
}

static int on_name_owner_changed(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Mirror *m = userdata;
        const char *name, *old_owner, *new_owner;
        json_object *empty;

        if (sd_bus_message_read(msg, "sss", &name, &old_owner, &new_owner) < 0 ||
            !streq(name, DFUSD_BUS_NAME))
                return 0;
        if (new_owner[0]) {
                log_info("dfusd is on the bus as %s; reading its objects.", new_owner);
                return mirror_sync(m);
        }
        log_warning("dfusd left the bus.");
        empty = json_object_new_object();
        if (!empty)
                return log_oom();
        set_objects(m, empty, false);
        return 0;
}

int mirror_start(Mirror *m, sd_bus *bus, const MirrorCallbacks *cb, void *userdata) {
        static const struct {
                const char *rule;
                sd_bus_message_handler_t handler;
        } matches[] = {
                {"type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                 "path_namespace='" DFUSD_PATH "'",
                 on_properties_changed},
                {"type='signal',interface='org.freedesktop.DBus.ObjectManager',member='InterfacesAdded',"
                 "path='" DFUSD_PATH "'",
                 on_interfaces_added},
                {"type='signal',interface='org.freedesktop.DBus.ObjectManager',member='InterfacesRemoved',"
                 "path='" DFUSD_PATH "'",
                 on_interfaces_removed},
                {"type='signal',interface='" DFUSD_IFACE_MGR "',path='" DFUSD_PATH "'", on_manager_signal},
                {"type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
                 "member='NameOwnerChanged',arg0='" DFUSD_BUS_NAME "'",
                 on_name_owner_changed},
        };
        int r;

        *m = (Mirror){.bus = sd_bus_ref(bus), .cb = *cb, .userdata = userdata};
        m->objects = json_object_new_object();
        if (!m->objects)
                return log_oom();
        /* The matches go out before GetManagedObjects on the same connection, so no change falls
         * between the copy and the signals. */
        for (size_t i = 0; i < ELEMENTSOF(matches); i++) {
                r = sd_bus_add_match_async(bus, &m->match_slots[i], matches[i].rule, matches[i].handler,
                                           NULL, m);
                if (r < 0)
                        return log_error_errno(r, "Failed to subscribe to dfusd's signals: %m");
        }
        r = mirror_sync(m);
        if (r < 0)
                return log_error_errno(r, "Failed to ask dfusd for its objects: %m");
        return 0;
}

void mirror_done(Mirror *m) {
        for (size_t i = 0; i < ELEMENTSOF(m->match_slots); i++)
                m->match_slots[i] = sd_bus_slot_unref(m->match_slots[i]);
        m->sync_slot = sd_bus_slot_unref(m->sync_slot);
        json_object_put(m->objects);
        m->objects = NULL;
        m->bus = sd_bus_unref(m->bus);
}
