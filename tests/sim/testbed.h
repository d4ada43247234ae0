/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Before GLib: it redefines MIN and MAX where macro.h would clash with it. */
#include "error.h"
#include "sim.h"

#include <glib.h>
#include <stdbool.h>

/*
 * Simulated bootloaders as USB devices in a umockdev testbed: sysfs entries libusb and libudev read,
 * a usbdevfs ioctl handler per board that feeds control URBs to the model, and hotplug uevents.
 *
 * Threads: plug/unplug/uevents run on the context given to testbed_new() (the runner's main loop);
 * ioctls arrive on umockdev's worker thread; URB completions run on a timer thread of our own so that
 * neither loop delays them. Each board has its own lock, so boards never wait for each other.
 */

typedef struct Testbed Testbed;
typedef struct TestbedBoard TestbedBoard;

int testbed_new(GMainContext *main_context, double time_scale, Testbed **ret, DfuError *error);
Testbed *testbed_free(Testbed *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Testbed *, testbed_free);

const char *testbed_root_dir(const Testbed *t);

/* Validates a port path ("1-3", "1-9.2"): bus 1, up to 4 tiers, ports 1..31 (a big root hub). */
bool testbed_port_valid(const char *port);

/*
 * Creates a board at a port (which must be free) and plugs it in (umockdev announces it with an "add"
 * uevent). Takes ownership of sim.
 */
int testbed_add_board(Testbed *t, const char *port, const PartInfo *part, SimBoard *sim, DfuError *error);

/* Brings back a board that left the bus, freshly powered up in its bootloader. Main context only. */
int testbed_replug(Testbed *t, const char *port, DfuError *error);

/* Pulls a board off the bus for good, as a user unplugging the cable. Main context only. */
int testbed_unplug(Testbed *t, const char *port);

/*
 * Each board that is busy (from its first download with data until it leaves the bus) holds its
 * operations (sim_board_hold()) until n boards have been busy at the same time. Set before the command
 * starts; 0 (the default) holds nothing.
 */
void testbed_hold_until_busy(Testbed *t, unsigned n);
/*
 * The most boards busy at the same time so far: the overlap the model itself saw, whatever the clock
 * says about when requests arrived.
 */
unsigned testbed_busy_max(Testbed *t);

/* Arms a fault on a board, under its lock. */
int testbed_inject(Testbed *t, const char *port, const SimFaultSpec *f);

TestbedBoard *testbed_find(Testbed *t, const char *port);
unsigned testbed_n_boards(const Testbed *t);
TestbedBoard *testbed_board(Testbed *t, unsigned i);

const char *testbed_board_port(const TestbedBoard *b);
const PartInfo *testbed_board_part(const TestbedBoard *b);
bool testbed_board_plugged(TestbedBoard *b);
unsigned testbed_board_plug_count(TestbedBoard *b);
/* Monotonic µs of the last appearance and of the first DFU class request after it (0: none). */
void testbed_board_times(TestbedBoard *b, uint64_t *plugged_at_us, uint64_t *first_dfu_request_us);

/* The model, for dumps after the command ended: no ioctl may run concurrently then. */
const SimBoard *testbed_board_sim(const TestbedBoard *b);
