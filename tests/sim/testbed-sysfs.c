/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What libusb and libudev find of a device in the testbed: its sysfs path and attributes, its
 * descriptors and node, the hubs above it, its address on the bus.
 */
#include "testbed-private.h" /* first: see testbed.h */

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

bool testbed_port_valid(const char *port) {
        const char *p = port;
        unsigned tiers = 0;

        if (strncmp(p, "1-", 2) != 0)
                return false;
        p += 2;
        for (;;) {
                char *end;
                errno = 0;
                unsigned long n = strtoul(p, &end, 10);
                if (errno || end == p || *p == '0' || *p == '+' || *p == '-' || n < 1 || n > 31)
                        return false;
                tiers++;
                p = end;
                if (*p == '\0')
                        return tiers <= 4;
                if (*p != '.')
                        return false;
                p++;
        }
}

/* /devices/.../usb1/1-9/1-9.2 for "1-9.2": every hub on the way is a directory level. */
char *port_syspath(const char *port) {
        GString *s = g_string_new(SYSFS_BUS);
        const char *dot = port;

        while ((dot = strchr(dot, '.'))) {
                g_string_append_c(s, '/');
                g_string_append_len(s, port, dot - port);
                dot++;
        }
        g_string_append_printf(s, "/%s", port);
        return g_string_free(s, FALSE);
}

unsigned devnum_take(Testbed *t) {
        g_mutex_lock(&t->devnum_lock);
        unsigned n = 0;
        for (unsigned i = 0; i < MAX_DEVNUM - 1; i++) {
                unsigned c = t->devnum_next;
                t->devnum_next = c >= MAX_DEVNUM ? 2 : c + 1;
                if (!t->devnum_used[c]) {
                        t->devnum_used[c] = true;
                        n = c;
                        break;
                }
        }
        g_mutex_unlock(&t->devnum_lock);
        return n;
}

void devnum_release(Testbed *t, unsigned n) {
        g_mutex_lock(&t->devnum_lock);
        if (n <= MAX_DEVNUM)
                t->devnum_used[n] = false;
        g_mutex_unlock(&t->devnum_lock);
}

/*
 * The attributes and properties libusb and libudev read, as umockdev-record writes them, but without
 * the device node and the binary "descriptors": umockdev announces a device ("add") as soon as it has
 * created its directory, before it would write those, so they are staged beforehand.
 */
char *device_description(const char *syspath, unsigned devnum, uint16_t vid, uint16_t pid, uint16_t bcd,
                         const char *product, const char *serial) {
        GString *s = g_string_new(NULL);

        g_string_append_printf(s, "P: %s\n", syspath);
        g_string_append_printf(
                s,
                "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DRIVER=usb\n"
                "E: DEVNAME=/dev/bus/usb/001/%03u\nE: BUSNUM=001\nE: DEVNUM=%03u\n"
                "E: MAJOR=189\nE: MINOR=%u\nE: PRODUCT=%x/%x/%x\n"
                "E: ID_VENDOR_ID=%04x\nE: ID_MODEL_ID=%04x\nE: ID_REVISION=%04x\nE: ID_BUS=usb\n",
                devnum, devnum, devnum - 1, vid, pid, bcd, vid, pid, bcd);
        if (serial)
                g_string_append_printf(s, "E: ID_SERIAL_SHORT=%s\n", serial);
        g_string_append_printf(
                s,
                "A: busnum=1\\n\nA: devnum=%u\\n\nA: speed=12\\n\nA: bConfigurationValue=1\\n\n"
                "A: bNumConfigurations=1\\n\nA: dev=189:%u\\n\nA: idVendor=%04x\\n\n"
                "A: idProduct=%04x\\n\nA: bcdDevice=%04x\\n\nA: version= 2.00\\n\n",
                devnum, devnum - 1, vid, pid, bcd);
        if (product)
                g_string_append_printf(s, "A: product=%s\\n\n", product);
        if (serial)
                g_string_append_printf(s, "A: serial=%s\\n\n", serial);
        return g_string_free(s, FALSE);
}

/* The sysfs "descriptors" of a device about to be added (umockdev accepts an existing directory). */
int stage_descriptors(Testbed *t, const char *syspath, const uint8_t *desc, size_t n) {
        g_autofree char *dir = g_build_filename(t->root_dir, "sys", syspath, NULL);
        g_autofree char *path = g_build_filename(dir, "descriptors", NULL);

        if (g_mkdir_with_parents(dir, 0755) < 0)
                return negative_errno();
        if (!g_file_set_contents(path, (const char *)desc, (gssize)n, NULL))
                return -EIO;
        return 0;
}

/*
 * The device node: a FIFO for a board (see testbed-usbfs.c), whose fd (our end) is returned; an empty
 * file for a hub, and then -EBADF (no fd) on success.
 */
int stage_node(Testbed *t, const char *devnode, bool fifo) {
        g_autofree char *path = g_build_filename(t->root_dir, devnode, NULL);
        g_autofree char *dir = g_path_get_dirname(path);

        if (g_mkdir_with_parents(dir, 0755) < 0)
                return negative_errno();
        (void)unlink(path);
        if (!fifo)
                return g_file_set_contents(path, "", 0, NULL) ? -EBADF : -EIO;
        if (mkfifo(path, 0666) < 0)
                return negative_errno();
        int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        (void)fcntl(fd, F_SETPIPE_SZ, 4096);
        return fd;
}

/* A plain 7-port full-speed hub, so that libusb finds the parent of "1-9.2" and reports that path. */
int testbed_ensure_hub(Testbed *t, const char *hub_port, DfuError *error) {
        static const uint8_t desc[] = {
                0x12, 0x01, 0x00, 0x02, 0x09, 0x00, 0x00, 0x40, 0xe3, 0x05,
                0x08, 0x06, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, /* device: class hub, VID 05e3 PID 0608 */
                0x09, 0x02, 0x19, 0x00, 0x01, 0x01, 0x00, 0xe0, 0x32, /* configuration */
                0x09, 0x04, 0x00, 0x00, 0x01, 0x09, 0x00, 0x00, 0x00, /* interface: hub */
                0x07, 0x05, 0x81, 0x03, 0x01, 0x00, 0x0c,             /* status change endpoint */
        };
        g_autoptr(GError) gerror = NULL;

        if (g_hash_table_contains(t->hubs, hub_port))
                return 0;
        if (testbed_find(t, hub_port))
                return dfu_error_set(error, EEXIST, "Port %s holds a board, so nothing can hang below it",
                                     hub_port);
        const char *dot = strrchr(hub_port, '.');
        if (dot) {
                g_autofree char *parent = g_strndup(hub_port, dot - hub_port);
                int r = testbed_ensure_hub(t, parent, error);
                if (r < 0)
                        return r;
        }

        unsigned devnum = devnum_take(t);
        if (devnum == 0)
                return dfu_error_set(error, ENOSPC, "No USB address left on bus 1 for the hub at %s",
                                     hub_port);
        g_autofree char *syspath = port_syspath(hub_port);
        g_autofree char *devnode = g_strdup_printf("/dev/bus/usb/001/%03u", devnum);
        g_autofree char *d = device_description(syspath, devnum, 0x05e3, 0x0608, 0x0100, "USB2.0 Hub", NULL);
        int r = stage_descriptors(t, syspath, desc, sizeof(desc));
        if (r >= 0)
                r = stage_node(t, devnode, false);
        if (r < 0 && r != -EBADF)
                return dfu_error_set(error, -r, "Cannot prepare the hub at %s: %s", hub_port,
                                     g_strerror(-r));
        if (!umockdev_testbed_add_from_string(t->umockdev, d, &gerror))
                return dfu_error_set(error, EINVAL, "Cannot add the hub at %s: %s", hub_port,
                                     gerror->message);
        g_hash_table_add(t->hubs, g_strdup(hub_port));
        return 0;
}
