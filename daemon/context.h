/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libudev.h>
#include <libusb.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "bus.h"
#include "macro.h"
#include "manager.h"

/* The running daemon: the core, its bus face, and the sources of boards (udev, libusb). */
typedef struct Context {
        sd_event *event;
        Manager *manager;
        Bus *bus;
        bool user;

        int lock_fd; /* the state directory's lock: one instance per directory */

        struct udev *udev;
        struct udev_monitor *monitor;
        sd_event_source *monitor_source;
        unsigned probes_pending; /* of the initial enumeration */
        bool ready;
        libusb_context *usb;
} Context;

int context_new(Context **ret);
Context *context_free(Context *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Context *, context_free);

/* Takes STATE_DIR/dfusd.lock, or fails naming the process that holds it. */
int context_lock_state_dir(Context *c);
/* The initial boards are known: serve calls, tell the service manager. */
void context_ready(Context *c);
