/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

typedef struct Context Context;

/*
 * Boards come and go through libudev: an initial enumeration and a netlink monitor on the event loop.
 * A board is known by its port path. Its descriptors are read by opening it briefly with the engine on
 * a thread; only then is it published. Adds are idempotent (udev may repeat them), removals are trusted
 * at once (a re-scan right after one may still show the board). Once the initial boards are read, the
 * context is ready.
 */
int hotplug_setup(Context *ctx);
