/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "context.h"
#include "device.h"
#include "dfuse.h"
#include "hotplug.h"
#include "journal.h"
#include "log.h"
#include "strv.h"
#include "tasks.h"

typedef struct Probe {
        Context *ctx;
        Device *device;
        bool initial;
        /* filled on the thread */
        int result;
        unsigned attempts;
        DfuError error;
        char serial[64];
        uint16_t vid, pid, bcd_device, transfer_size;
        char **alt_strings;
        const PartInfo *part;
        DfuseProtection protection;
} Probe;

static bool probe_worth_retry(int r) {
        return r == -ENOENT || r == -ENODEV || r == -EACCES || r == -EPERM || r == -EBUSY;
}

static void probe_run(void *userdata) {
        Probe *p = userdata;
        Context *ctx = p->ctx;
        _cleanup_(dfuse_closep) DfuseDevice *dev = NULL;

        /* The node can lag behind the uevent by a moment: retry briefly, quickly at first. */
        unsigned attempt;
        for (attempt = 0;; attempt++) {
                p->error = (DfuError)DFU_ERROR_INIT;
                p->result = dfuse_open(ctx->usb, p->device->port_path, &dev, &p->error);
                /* Only a node that is not there (yet) or not ours (yet) is worth another try. */
                if (p->result >= 0 || attempt >= 12 || !probe_worth_retry(p->result))
                        break;
                struct timespec ts = {0, (attempt < 5 ? 5 : 50) * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        p->attempts = attempt + 1;
        if (p->result < 0)
                return;

        const DfuseInfo *info = dfuse_get_info(dev);
        memcpy(p->serial, info->serial, sizeof(p->serial));
        p->serial[sizeof(p->serial) - 1] = 0;
        p->vid = info->vid;
        p->pid = info->pid;
        p->bcd_device = info->bcd_device;
        p->transfer_size = info->transfer_size;
        p->part = info->part;
        p->alt_strings = calloc(1, sizeof(char *));
        for (unsigned i = 0; p->alt_strings && i < info->n_alt; i++)
                if (strv_extend(&p->alt_strings, info->alt_strings[i] ? info->alt_strings[i] : "") < 0)
                        p->alt_strings = strv_free(p->alt_strings);
        if (!p->alt_strings) {
                p->result = dfu_error_set(&p->error, ENOMEM, "Out of memory.");
                return;
        }
        /* Read-out protection, learned without changing anything; a board that does not say stays
         * "unknown" and is still listed. */
        DfuError e = DFU_ERROR_INIT;
        if (dfuse_probe_protection(dev, NULL, &p->protection, &e) < 0)
                log_debug("Board on port %s: protection unknown: %s", p->device->port_path,
                          dfu_error_message(&e));
}

static void probe_done(Manager *m, void *userdata) {
        Probe *p = userdata;
        Context *ctx = p->ctx;
        Device *d = p->device;
        int r;

        if (p->initial && ctx->probes_pending > 0)
                ctx->probes_pending--;

        if (d->removed || m->exiting)
                device_free(d);
        else if (p->result < 0) {
                log_warning("Failed to read the bootloader on port %s: %s", d->port_path,
                            dfu_error_message(&p->error));
                (void)device_publish(d, NULL);
        } else {
                log_debug("Board on port %s read in %u attempt(s).", d->port_path, p->attempts);
                r = device_publish(d, &(DeviceInfo){.serial = p->serial,
                                                    .vid = p->vid,
                                                    .pid = p->pid,
                                                    .bcd_device = p->bcd_device,
                                                    .transfer_size = p->transfer_size,
                                                    .alt_strings = p->alt_strings,
                                                    .part = p->part,
                                                    .protection = p->protection});
                if (r < 0) {
                        log_error_errno(r, "Failed to set up the board on port %s: %m", d->port_path);
                        device_remove(d);
                } else
                        journal_board_attached(d);
        }

        strv_free(p->alt_strings);
        free(p);
        if (!m->exiting && ctx->probes_pending == 0)
                context_ready(ctx);
}

static uint16_t sysattr_hex(struct udev_device *dev, const char *name) {
        const char *v = udev_device_get_sysattr_value(dev, name);
        return v ? (uint16_t)strtoul(v, NULL, 16) : 0;
}

static int device_added(Context *ctx, struct udev_device *dev, bool initial) {
        const char *devtype = udev_device_get_devtype(dev), *port = udev_device_get_sysname(dev);
        Device *d;
        Probe *p;
        int r;

        if (!devtype || !streq(devtype, "usb_device") || !port)
                return 0;
        if (!config_wants_id(&ctx->manager->config, sysattr_hex(dev, "idVendor"),
                             sysattr_hex(dev, "idProduct")))
                return 0;
        d = device_find(ctx->manager, port);
        if (d && d->failed && !d->current_job) {
                /* It failed to answer before: read it again. */
                device_remove(d);
                d = NULL;
        }
        if (d && !d->removed)
                return 0; /* a repeated add */

        r = device_new(ctx->manager, port, udev_device_get_syspath(dev), sysattr_hex(dev, "idVendor"),
                       sysattr_hex(dev, "idProduct"), &d);
        if (r < 0)
                return log_oom();

        p = calloc(1, sizeof(Probe));
        if (!p) {
                device_free(d);
                return log_oom();
        }
        *p = (Probe){.ctx = ctx, .device = d, .initial = initial};
        r = tasks_start(ctx->manager, probe_run, probe_done, p);
        if (r < 0) {
                free(p);
                device_free(d);
                return log_error_errno(r, "Failed to start reading the board on port %s: %m", port);
        }
        if (initial)
                ctx->probes_pending++;
        return 0;
}

static void device_removed(Context *ctx, struct udev_device *dev) {
        const char *port = udev_device_get_sysname(dev);
        Device *d;

        if (!port)
                return;
        d = device_find(ctx->manager, port);
        if (!d || d->removed)
                return;
        if (!d->published) {
                d->removed = true; /* freed when its probe returns */
                return;
        }
        journal_board_detached(d);
        device_remove(d);
}

static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Context *ctx = userdata;
        struct udev_device *dev;

        while ((dev = udev_monitor_receive_device(ctx->monitor))) {
                const char *action = udev_device_get_action(dev);
                if (action && streq(action, "remove"))
                        device_removed(ctx, dev);
                else if (action &&
                         (streq(action, "add") || streq(action, "change") || streq(action, "bind")))
                        (void)device_added(ctx, dev, false);
                udev_device_unref(dev);
        }
        return 0;
}

static int enumerate(Context *ctx) {
        struct udev_enumerate *e = udev_enumerate_new(ctx->udev);
        struct udev_list_entry *entry;

        if (!e)
                return log_oom();
        (void)udev_enumerate_add_match_subsystem(e, "usb");
        (void)udev_enumerate_add_match_property(e, "DEVTYPE", "usb_device");
        if (udev_enumerate_scan_devices(e) < 0)
                log_warning("Failed to enumerate USB devices; relying on hotplug events.");
        udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e)) {
                struct udev_device *dev =
                        udev_device_new_from_syspath(ctx->udev, udev_list_entry_get_name(entry));
                if (!dev)
                        continue;
                (void)device_added(ctx, dev, true);
                udev_device_unref(dev);
        }
        udev_enumerate_unref(e);
        return 0;
}

int hotplug_setup(Context *ctx) {
        int r;

        ctx->udev = udev_new();
        if (!ctx->udev)
                return log_error_errno(errno ? errno : ENOMEM, "Failed to create udev context: %m");
        ctx->monitor = udev_monitor_new_from_netlink(ctx->udev, "udev");
        if (!ctx->monitor)
                return log_error_errno(errno ? errno : ENOMEM, "Failed to create udev monitor: %m");
        r = udev_monitor_filter_add_match_subsystem_devtype(ctx->monitor, "usb", "usb_device");
        if (r < 0)
                return log_error_errno(r, "Failed to filter udev monitor: %m");
        r = udev_monitor_enable_receiving(ctx->monitor);
        if (r < 0)
                return log_error_errno(r, "Failed to enable udev monitor: %m");
        r = sd_event_add_io(ctx->event, &ctx->monitor_source, udev_monitor_get_fd(ctx->monitor), EPOLLIN,
                            on_monitor, ctx);
        if (r < 0)
                return log_error_errno(r, "Failed to watch udev monitor: %m");
        return enumerate(ctx);
}
