/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "testbed.h" /* first: see there */

#include <umockdev.h>

/* A control URB (or a synchronous USBDEVFS_CONTROL) between submission and reaping. */
typedef struct Urb {
        UMockdevIoctlClient *client; /* the open file that submitted it (reference) */
        UMockdevIoctlData *data;     /* struct usbdevfs_urb / usbdevfs_ctrltransfer (reference) */
        UMockdevIoctlData *buffer;   /* its data buffer (reference), NULL without one */
        uint64_t ready_us;           /* completes at this monotonic time; UINT64_MAX: never */
        int status;                  /* 0 or a negative errno, as the kernel reports it */
        size_t length;               /* data bytes transferred */
        size_t offset;               /* where the data stage starts in buffer (8 for URBs) */
        uint8_t *answer;             /* IN data from the model (length bytes) */
        bool sync;                   /* USBDEVFS_CONTROL: complete the ioctl itself */
} Urb;

struct TestbedBoard {
        Testbed *testbed;
        char *port;
        const PartInfo *part;
        UMockdevIoctlBase *handler;
        gulong handler_id;

        GMutex lock; /* guards everything below, including the model */
        SimBoard *sim;
        bool plugged;                  /* has a device in sysfs that clients may talk to */
        unsigned plug_count;           /* times it appeared on the bus */
        uint64_t plugged_at_us;        /* monotonic time of the last appearance */
        uint64_t first_dfu_request_us; /* first DFU class request since then, 0: none yet */
        unsigned devnum;
        char *syspath;    /* /sys/devices/... as umockdev names it */
        char *devnode;    /* /dev/bus/usb/001/NNN */
        uint64_t drop_at; /* leaves the bus at this time (UINT64_MAX: not scheduled) */
        bool comes_back;  /* the drop is a reset: re-enumerate afterwards */
        bool gone;        /* unplugged by the user: never comes back */
        int fifo;         /* our end of the device node (a FIFO, see testbed-usbfs.c) */
        bool fifo_full;
        GQueue pending;       /* Urb*: submitted, not completed */
        GQueue done;          /* Urb*: completed, not reaped */
        GQueue blocked_reaps; /* UMockdevIoctlClient*: waiting in a blocking REAPURB */
        UMockdevIoctlClient *claimed_by;
        int timer_fd;
        GSource *timer_source;
        bool busy; /* counted in Testbed.busy_now, see board_set_busy_locked() */
};

#define SYSFS_BUS  "/devices/pci0000:00/0000:00:14.0/usb1"
#define MAX_DEVNUM 127

struct Testbed {
        UMockdevTestbed *umockdev;
        char *root_dir;
        GMainContext *main_context;
        double time_scale;
        GPtrArray *boards;  /* TestbedBoard*, in order of creation */
        GHashTable *hubs;   /* port path of the hubs created so far */
        GMutex devnum_lock; /* devnums are taken on the main context, freed from any thread */
        bool devnum_used[MAX_DEVNUM + 1];
        unsigned devnum_next;
        GMainContext *timer_context;
        GMainLoop *timer_loop;
        GThread *timer_thread;
        GMutex busy_lock; /* guards the three below; taken under a board's lock, never around one */
        unsigned busy_now, busy_max;
        unsigned hold_until_busy; /* 0: no hold */
};

/* testbed-usbfs.c */
void board_attach_handler(TestbedBoard *b);
void board_detach_handler(TestbedBoard *b);
/* With the lock held: move URBs whose time has come to the done queue, then re-arm the timer. */
void board_run_timers_locked(TestbedBoard *b, uint64_t now);
/* With the lock held: fail every pending URB (the device is gone). */
void board_kill_urbs_locked(TestbedBoard *b, int status);
void board_fifo_update_locked(TestbedBoard *b);
void urb_free(Urb *u);

/* testbed-sysfs.c */
char *port_syspath(const char *port);
unsigned devnum_take(Testbed *t); /* 0 when the bus is full */
void devnum_release(Testbed *t, unsigned n);
char *device_description(const char *syspath, unsigned devnum, uint16_t vid, uint16_t pid, uint16_t bcd,
                         const char *product, const char *serial);
int stage_descriptors(Testbed *t, const char *syspath, const uint8_t *desc, size_t n);
int stage_node(Testbed *t, const char *devnode, bool fifo);
int testbed_ensure_hub(Testbed *t, const char *hub_port, DfuError *error);

/* testbed-core.c */
GMainContext *testbed_timer_context(Testbed *t);
/* Called with the lock held when the board must leave the bus (now or at drop_at). */
void board_schedule_drop_locked(TestbedBoard *b);
/*
 * A board is busy from its first download with data (a DfuSe command or a block: the host has work for
 * it) until it leaves the bus. Counts it in and out of the rack's busy boards; with the board's lock.
 */
void board_set_busy_locked(TestbedBoard *b, bool busy);
/* Whether the board must hold its operations (testbed_hold_until_busy()); with the board's lock. */
bool board_held_locked(TestbedBoard *b);
uint64_t testbed_now_us(void);
