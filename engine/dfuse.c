/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfuse-internal.h"

#define USB_CLASS_APP_SPECIFIC 0xfe
#define DFU_SUBCLASS           0x01
#define DFU_FUNCTIONAL_TYPE    0x21
#define MAX_PORTS              8

DEFINE_TRIVIAL_CLEANUP_FUNC(struct libusb_config_descriptor *, libusb_free_config_descriptor);

static void device_list_freep(libusb_device ***l) {
        if (*l)
                libusb_free_device_list(*l, 1);
}

/* Finds the DFU functional descriptor in a run of descriptors (an interface's or configuration's extra). */
static bool parse_functional(const unsigned char *p, int len, DfuseInfo *info) {
        while (len >= 2) {
                uint8_t bl = p[0];
                if (bl < 2 || bl > len)
                        return false;
                /* DFU 1.0 descriptors stop before bcdDFUVersion (7 bytes). */
                if (p[1] == DFU_FUNCTIONAL_TYPE && bl >= 7) {
                        info->attributes = p[2];
                        info->transfer_size = (uint16_t)(p[5] | p[6] << 8);
                        info->dfu_version = bl >= 9 ? (uint16_t)(p[7] | p[8] << 8) : 0x0100;
                        return true;
                }
                p += bl;
                len -= bl;
        }
        return false;
}

/* Picks the interface whose alternate settings are DFU (class FE/01) and their string indexes. */
static int find_dfu_interface(const struct libusb_config_descriptor *cfg, DfuseInfo *info,
                              uint8_t *ret_strings, DfuError *error) {
        for (int i = 0; i < cfg->bNumInterfaces; i++) {
                const struct libusb_interface *intf = &cfg->interface[i];
                bool found = false, functional = false;

                for (int a = 0; a < intf->num_altsetting; a++) {
                        const struct libusb_interface_descriptor *alt = &intf->altsetting[a];
                        if (alt->bInterfaceClass != USB_CLASS_APP_SPECIFIC ||
                            alt->bInterfaceSubClass != DFU_SUBCLASS)
                                continue;
                        if (alt->bAlternateSetting >= 255)
                                continue;
                        found = true;
                        info->interface_number = alt->bInterfaceNumber;
                        if (alt->bAlternateSetting + 1u > info->n_alt)
                                info->n_alt = alt->bAlternateSetting + 1u;
                        ret_strings[alt->bAlternateSetting] = alt->iInterface;
                        if (!functional)
                                functional = parse_functional(alt->extra, alt->extra_length, info);
                }
                if (!found)
                        continue;
                /* Some bootloaders put the functional descriptor after the configuration instead. */
                if (!functional)
                        functional = parse_functional(cfg->extra, cfg->extra_length, info);
                if (!functional)
                        return dfu_error_set(error, EPROTO,
                                             "the DFU interface %u has no DFU functional descriptor",
                                             info->interface_number);
                if (info->transfer_size == 0)
                        return dfu_error_set(error, EPROTO,
                                             "the DFU functional descriptor reports wTransferSize 0");
                return 0;
        }
        return dfu_error_set(error, ENODEV, "the device has no DFU interface (class FE, subclass 01)");
}

static int read_string(libusb_device_handle *h, uint8_t index, char *buf, size_t size) {
        buf[0] = 0;
        if (index == 0)
                return 0;
        int r = libusb_get_string_descriptor_ascii(h, index, (unsigned char *)buf, (int)size);
        buf[r > 0 ? MIN((size_t)r, size - 1) : 0] = 0;
        return r < 0 ? libusb_error_to_errno(r) : 0;
}

/* A string that does not parse still takes its alternate setting's index, as an empty layout. */
static int add_layout(MemMap *map, const char *s) {
        DfuError ignored = DFU_ERROR_INIT;
        unsigned alt = (unsigned)map->n_layouts;

        if (memmap_add(map, s, &ignored) >= 0 && map->n_layouts == alt + 1)
                return 0;
        MemLayout *l = realloc(map->layouts, (alt + 1) * sizeof(MemLayout));
        if (!l)
                return -ENOMEM;
        map->layouts = l;
        l[alt] = (MemLayout){.alt_setting = alt, .name = strdup(s)};
        map->n_layouts = alt + 1;
        return 0;
}

static int read_strings(DfuseDevice *d, const struct libusb_device_descriptor *dd, const uint8_t *alt_index,
                        DfuError *error) {
        DfuseInfo *info = &d->info;
        char buf[256];

        /* Serial and product are for people; a board that cannot tell them is still usable. */
        (void)read_string(d->handle, dd->iSerialNumber, info->serial, sizeof(info->serial));
        (void)read_string(d->handle, dd->iProduct, info->product, sizeof(info->product));

        info->alt_strings = calloc(info->n_alt + 1, sizeof(char *));
        info->map = memmap_new();
        if (!info->alt_strings || !info->map)
                return dfu_error_set(error, ENOMEM, "out of memory");
        for (unsigned a = 0; a < info->n_alt; a++) {
                /* Without its memory map nothing can be planned. */
                int r = read_string(d->handle, alt_index[a], buf, sizeof(buf));
                if (r < 0)
                        return dfu_error_set(error, -r,
                                             "%s: cannot read the name of alternate setting %u: %s",
                                             info->port_path, a, strerror(-r));
                info->alt_strings[a] = strdup(buf);
                if (!info->alt_strings[a] || add_layout(info->map, buf) < 0)
                        return dfu_error_set(error, ENOMEM, "out of memory");
        }
        info->part = part_match((const char *const *)info->alt_strings, info->n_alt, info->bcd_device);
        return 0;
}

static void port_path_of(libusb_device *dev, char *buf, size_t size) {
        uint8_t ports[MAX_PORTS];
        int n = libusb_get_port_numbers(dev, ports, (int)ELEMENTSOF(ports));

        if (n <= 0 || usb_port_path_format(libusb_get_bus_number(dev), ports, (size_t)n, buf, size) < 0)
                (void)snprintf(buf, size, "%u-0", libusb_get_bus_number(dev));
}

static int open_handle(DfuseDevice *d, DfuError *error) {
        int r = libusb_open(d->dev, &d->handle);
        if (r < 0)
                return dfu_error_set(error, -libusb_error_to_errno(r),
                                     "cannot open the USB device at %s: %s", d->info.port_path,
                                     libusb_strerror(r));
        /* The ROM bootloader has no kernel driver; this only matters for look-alike boards. */
        (void)libusb_set_auto_detach_kernel_driver(d->handle, 1);
        r = libusb_claim_interface(d->handle, d->info.interface_number);
        if (r < 0)
                return dfu_error_set(error, -libusb_error_to_errno(r), "cannot claim interface %u of %s: %s",
                                     d->info.interface_number, d->info.port_path, libusb_strerror(r));
        d->claimed = true;
        return 0;
}

void dfuse_device_init(DfuseDevice *d) {
        d->alt_current = -1;
        d->max_blocks = DFUSE_MAX_BLOCKS_PER_ADDRESS;
        d->arrived = true;
        d->last_state = DFU_STATE_IDLE;
}

int dfuse_open_device(libusb_device *dev, DfuseDevice **ret, DfuError *error) {
        _cleanup_(dfuse_closep) DfuseDevice *d = NULL;
        _cleanup_(libusb_free_config_descriptorp) struct libusb_config_descriptor *cfg = NULL;
        struct libusb_device_descriptor dd;
        uint8_t alt_index[256] = {};
        int r;

        d = calloc(1, sizeof(*d));
        if (!d)
                return dfu_error_set(error, ENOMEM, "out of memory");
        d->dev = libusb_ref_device(dev);
        dfuse_device_init(d);
        port_path_of(dev, d->info.port_path, sizeof(d->info.port_path));

        r = libusb_get_device_descriptor(dev, &dd);
        if (r < 0)
                return dfu_error_set(error, -libusb_error_to_errno(r),
                                     "cannot read the device descriptor of %s: %s", d->info.port_path,
                                     libusb_strerror(r));
        d->info.vid = dd.idVendor;
        d->info.pid = dd.idProduct;
        d->info.bcd_device = dd.bcdDevice;

        r = libusb_get_active_config_descriptor(dev, &cfg);
        if (r < 0)
                r = libusb_get_config_descriptor(dev, 0, &cfg);
        if (r < 0)
                return dfu_error_set(error, -libusb_error_to_errno(r),
                                     "cannot read the configuration of %s: %s", d->info.port_path,
                                     libusb_strerror(r));
        r = find_dfu_interface(cfg, &d->info, alt_index, error);
        if (r < 0)
                return dfu_error_prefix(error, "%s: ", d->info.port_path);

        r = open_handle(d, error);
        if (r < 0)
                return r;
        r = read_strings(d, &dd, alt_index, error);
        if (r < 0)
                return r;
        dfuse_quirks_lookup(d->info.vid, d->info.pid, d->info.bcd_device, d->info.part, &d->quirks);
        *ret = TAKE_PTR(d);
        return 0;
}

/* Under a testbed or a kernel without parent links libusb may not know the whole port chain; sysfs does. */
static bool sysfs_matches(libusb_device *dev, const char *port_path) {
        char path[128], buf[32];
        unsigned bus, addr;

        (void)snprintf(path, sizeof(path), "/sys/bus/usb/devices/%s/busnum", port_path);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f || !fgets(buf, sizeof(buf), f) || sscanf(buf, "%u", &bus) != 1)
                return false;
        (void)snprintf(path, sizeof(path), "/sys/bus/usb/devices/%s/devnum", port_path);
        _cleanup_fclose_ FILE *g = fopen(path, "re");
        if (!g || !fgets(buf, sizeof(buf), g) || sscanf(buf, "%u", &addr) != 1)
                return false;
        return libusb_get_bus_number(dev) == bus && libusb_get_device_address(dev) == addr;
}

static void libusb_exitp(libusb_context **c) {
        if (*c)
                libusb_exit(*c);
}

int dfuse_open(libusb_context *ctx, const char *port_path, DfuseDevice **ret, DfuError *error) {
        /* Declared first so that it is torn down last, after the device list's references. */
        _cleanup_(libusb_exitp) libusb_context *own = NULL;
        _cleanup_(device_list_freep) libusb_device **list = NULL;
        uint8_t want[MAX_PORTS], bus;
        libusb_device *found = NULL;
        int n_want, r;
        ssize_t n;

        n_want = usb_port_path_parse(port_path, &bus, want, ELEMENTSOF(want));
        if (n_want < 0)
                return dfu_error_set(error, EINVAL,
                                     "invalid port path \"%s\": expected BUS-PORT[.PORT...], e.g. 1-1.3",
                                     port_path ?: "");
        if (!ctx) {
                r = libusb_init(&own);
                if (r < 0)
                        return dfu_error_set(error, -libusb_error_to_errno(r),
                                             "cannot initialise libusb: %s", libusb_strerror(r));
                ctx = own;
        }
        n = libusb_get_device_list(ctx, &list);
        if (n < 0)
                return dfu_error_set(error, -libusb_error_to_errno((int)n), "cannot list USB devices: %s",
                                     libusb_strerror((int)n));

        for (ssize_t i = 0; i < n && !found; i++) {
                uint8_t ports[MAX_PORTS];
                int k = libusb_get_port_numbers(list[i], ports, (int)ELEMENTSOF(ports));
                if (libusb_get_bus_number(list[i]) == bus && k == n_want &&
                    memcmp(ports, want, (size_t)k) == 0)
                        found = list[i];
        }
        for (ssize_t i = 0; i < n && !found; i++)
                if (sysfs_matches(list[i], port_path))
                        found = list[i];
        if (!found)
                return dfu_error_set(error, ENODEV, "no USB device at port %s", port_path);

        r = dfuse_open_device(found, ret, error);
        if (r < 0)
                return r;
        (void)snprintf((*ret)->info.port_path, sizeof((*ret)->info.port_path), "%s", port_path);
        (*ret)->own_ctx = TAKE_PTR(own);
        return 0;
}

DfuseDevice *dfuse_close(DfuseDevice *d) {
        if (!d)
                return NULL;
        if (d->handle) {
                /* Fails harmlessly when the board has already left or vanished. */
                if (d->claimed)
                        (void)libusb_release_interface(d->handle, d->info.interface_number);
                libusb_close(d->handle);
        }
        if (d->dev)
                libusb_unref_device(d->dev);
        if (d->own_ctx)
                libusb_exit(d->own_ctx);
        if (d->info.alt_strings)
                for (unsigned a = 0; a < d->info.n_alt; a++)
                        free(d->info.alt_strings[a]);
        free(d->info.alt_strings);
        memmap_free(d->info.map);
        return mfree(d);
}

const DfuseInfo *dfuse_get_info(const DfuseDevice *d) {
        return d ? &d->info : NULL;
}

void dfuse_set_timeout(DfuseDevice *d, unsigned timeout_ms) {
        if (d && timeout_ms > 0)
                d->quirks.timeout_ms = timeout_ms;
}

void dfuse_set_window(DfuseDevice *d, unsigned max_blocks) {
        if (d && max_blocks > 0)
                d->max_blocks = MIN(max_blocks, DFUSE_MAX_BLOCKS_PER_ADDRESS);
}

unsigned dfuse_get_quirks(const DfuseDevice *d) {
        return d ? d->quirks.part_quirks : 0;
}
