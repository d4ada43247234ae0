/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "bus-access.h"
#include "bus-device.h"
#include "bus-dict.h"
#include "bus.h"
#include "device.h"
#include "job.h"
#include "log.h"
#include "manager.h"
#include "option-read.h"

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

static int property_get_protection(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        Device *d = userdata;
        return sd_bus_message_append(reply, "s", dfuse_protection_to_string(d->protection));
}

static int property_get_current_job(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error) {
        Device *d = userdata;
        return bus_append_object_path(reply, DFUSD_JOB_PREFIX,
                                      d->current_job && d->current_job->accepted ? d->current_job->id : 0);
}

static int property_get_last_job(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Device *d = userdata;
        return bus_append_object_path(reply, DFUSD_JOB_PREFIX, d->last_job_id);
}

static int property_get_last_error(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        Device *d = userdata;
        return sd_bus_message_append(reply, "s", d->last_error ? d->last_error : "");
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

/* ReadOptionBytes() -> a{sv}: "family" s, "address" u, "bytes" ay, "fields" a{ss} (name -> value). */
static void option_read_done(Manager *mgr, int result, const OptionBytesFamily *f, const uint8_t *block,
                             const DfuError *e, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = userdata, *reply = NULL;
        int r;

        if (mgr->exiting)
                return;
        if (result < 0) {
                (void)bus_reply_core_error(m, e);
                return;
        }
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}{sv}", "family", "s", f->name, "address", "u",
                                          f->address);
        if (r >= 0)
                r = bus_message_open_dict_entry(reply, "bytes", "ay");
        if (r >= 0)
                r = sd_bus_message_append_array(reply, 'y', block, f->size);
        if (r >= 0)
                r = bus_message_close_dict_entry(reply);
        if (r >= 0)
                r = bus_message_open_dict_entry(reply, "fields", "a{ss}");
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{ss}");
        for (size_t i = 0; r >= 0 && i < f->n_fields; i++) {
                char buf[64];
                const OptionBytesField *fl = &f->fields[i];
                r = sd_bus_message_append(
                        reply, "{ss}", fl->name,
                        option_bytes_field_format(fl, option_bytes_field_get(fl, block), buf, sizeof(buf)));
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = bus_message_close_dict_entry(reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to reply to ReadOptionBytes: %m");
}

static int method_read_option_bytes(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Device *d = userdata;
        DfuError e = DFU_ERROR_INIT;
        uid_t uid;
        int r;

        /* It takes the board for a moment: only those who may flash it. */
        r = bus_access_check_caller(d->manager, m, &uid, error);
        if (r < 0)
                return r;
        r = option_read_start(d->manager, d, option_read_done, sd_bus_message_ref(m), &e);
        if (r < 0) {
                sd_bus_message_unref(m);
                return bus_error_from_core(error, &e);
        }
        return 1;
}

const sd_bus_vtable bus_device_vtable[] = {
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
        SD_BUS_PROPERTY("Protection", "s", property_get_protection, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CurrentJob", "o", property_get_current_job, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastJob", "o", property_get_last_job, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastError", "s", property_get_last_error, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("ReadOptionBytes", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", option_bytes),
                                method_read_option_bytes, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int bus_device_object_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                           sd_bus_error *error) {
        Bus *b = userdata;
        _cleanup_free_ char *port = NULL;
        Device *d;

        if (sd_bus_path_decode(path, DFUSD_DEVICE_PREFIX, &port) <= 0)
                return 0;
        d = device_find(b->manager, port);
        if (!d || !d->published)
                return 0;
        *found = d;
        return 1;
}

int bus_device_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                               sd_bus_error *error) {
        Bus *b = userdata;
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        LIST_FOREACH (devices, d, b->manager->devices) {
                _cleanup_free_ char *p = NULL;
                if (d->published && (bus_device_path(d, &p) < 0 || strv_extend(&l, p) < 0))
                        return -ENOMEM;
        }
        *nodes = TAKE_PTR(l);
        return 1;
}
