/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "log.h"

/* org.dfusd.Flash1.Device: one object per attached bootloader, at device/<escaped port path>. */

static int property_get_station(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Device *d = userdata;
        return sd_bus_message_append(reply, "s", d->station ? d->station : "");
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", device_state(userdata));
}

static int property_get_part(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Device *d = userdata;
        return sd_bus_message_append(reply, "s", d->part ? d->part->name : "");
}

static int property_get_current_job(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error) {
        Device *d = userdata;
        return sd_bus_message_append(reply, "o", d->current_job ? d->current_job->object_path : "/");
}

static int property_get_memory_map(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        Device *d = userdata;
        return sd_bus_message_append_strv(reply, d->alt_strings);
}

static int property_get_serial(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Device *d = userdata;
        return sd_bus_message_append(reply, "s", d->serial ? d->serial : "");
}

static int property_get_serial_duplicated(sd_bus *bus, const char *path, const char *interface,
                                          const char *property, sd_bus_message *reply, void *userdata,
                                          sd_bus_error *error) {
        Device *d = userdata;
        return sd_bus_message_append(reply, "b", d->serial_duplicated);
}

const sd_bus_vtable device_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("PortPath", "s", NULL, offsetof(Device, port_path), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Station", "s", property_get_station, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Serial", "s", property_get_serial, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SerialDuplicated", "b", property_get_serial_duplicated, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VendorId", "q", NULL, offsetof(Device, vid), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ProductId", "q", NULL, offsetof(Device, pid), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("BcdDevice", "q", NULL, offsetof(Device, bcd_device), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("TransferSize", "q", NULL, offsetof(Device, transfer_size),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MemoryMap", "as", property_get_memory_map, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Part", "s", property_get_part, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CurrentJob", "o", property_get_current_job, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

int device_object_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                       sd_bus_error *error) {
        Context *ctx = userdata;
        _cleanup_free_ char *port = NULL;
        Device *d;

        if (sd_bus_path_decode(path, DFUSD_DEVICE_PREFIX, &port) <= 0)
                return 0;
        d = device_find(ctx, port);
        if (!d || !d->published)
                return 0;
        *found = d;
        return 1;
}

int device_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                           sd_bus_error *error) {
        Context *ctx = userdata;
        char **l = calloc(1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        LIST_FOREACH (devices, d, ctx->devices)
                if (d->published && strv_extend(&l, d->object_path) < 0) {
                        strv_free(l);
                        return -ENOMEM;
                }
        *nodes = l;
        return 1;
}

int bus_device_add(Device *d) {
        Context *ctx = d->ctx;
        int r;

        r = sd_bus_emit_object_added(ctx->bus, d->object_path);
        if (r < 0)
                log_debug_errno(r, "Failed to announce %s: %m", d->object_path);
        return bus_manager_emit_changed(ctx, "Devices");
}

int bus_device_remove(Device *d) {
        Context *ctx = d->ctx;
        int r;

        r = sd_bus_emit_object_removed(ctx->bus, d->object_path);
        if (r < 0)
                log_debug_errno(r, "Failed to announce removal of %s: %m", d->object_path);
        d->published = false;
        return bus_manager_emit_changed(ctx, "Devices");
}

int bus_device_emit_changed(Device *d, const char *property) {
        if (!d->published)
                return 0;
        if (property)
                return sd_bus_emit_properties_changed(d->ctx->bus, d->object_path, DFUSD_IFACE_DEVICE,
                                                      property, NULL);
        return sd_bus_emit_properties_changed(d->ctx->bus, d->object_path, DFUSD_IFACE_DEVICE, "State",
                                              "CurrentJob", NULL);
}
