/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sim-private.h"

/* String indexes as the ROM numbers them: the alternate settings' names follow the serial. */
enum {
        STR_LANGID = 0,
        STR_MANUFACTURER = 1,
        STR_PRODUCT = 2,
        STR_SERIAL = 3,
        STR_FIRST_ALT = 4,
};

enum {
        USB_REQ_GET_STATUS = 0,
        USB_REQ_GET_DESCRIPTOR = 6,
        USB_REQ_GET_CONFIGURATION = 8,
        USB_REQ_SET_CONFIGURATION = 9,
        USB_REQ_GET_INTERFACE = 10,
        USB_REQ_SET_INTERFACE = 11,
};

enum {
        USB_DT_DEVICE = 1,
        USB_DT_CONFIG = 2,
        USB_DT_STRING = 3,
        USB_DT_INTERFACE = 4,
        USB_DT_DFU_FUNCTIONAL = 0x21,
};

#define DEVICE_DESC_LEN 18
#define CONFIG_DESC_LEN 9
#define IFACE_DESC_LEN  9
#define DFU_DESC_LEN    9

/* The ROM's algorithm, per AN3156/dfu-util logs: bytes of the 96-bit unique ID folded into 6. */
void sim_desc_serial(const SimBoardOptions *opts, char out[static 13]) {
        const uint8_t *id = opts->unique_id;

        if (opts->part->serial) {
                snprintf(out, 13, "%s", opts->part->serial);
                return;
        }
        snprintf(out, 13, "%02X%02X%02X%02X%02X%02X", id[11], (uint8_t)(id[10] + id[2]), id[9],
                 (uint8_t)(id[8] + id[0]), id[7], id[6]);
}

const char *sim_board_serial(const SimBoard *b) {
        return b->serial;
}

static void put16(uint8_t *p, uint16_t v) {
        p[0] = v & 0xFF;
        p[1] = v >> 8;
}

static size_t device_descriptor(const SimBoard *b, uint8_t d[static DEVICE_DESC_LEN]) {
        d[0] = DEVICE_DESC_LEN;
        d[1] = USB_DT_DEVICE;
        put16(d + 2, 0x0200);   /* bcdUSB */
        d[4] = d[5] = d[6] = 0; /* class per interface */
        d[7] = 64;              /* bMaxPacketSize0 */
        put16(d + 8, b->part->vid);
        put16(d + 10, b->part->pid);
        put16(d + 12, b->part->bcd_device);
        d[14] = STR_MANUFACTURER;
        d[15] = STR_PRODUCT;
        d[16] = STR_SERIAL;
        d[17] = 1; /* bNumConfigurations */
        return DEVICE_DESC_LEN;
}

static size_t config_length(const SimBoard *b) {
        return CONFIG_DESC_LEN + (size_t)b->n_alt * IFACE_DESC_LEN + DFU_DESC_LEN;
}

/* Writes the whole configuration descriptor into d, which holds config_length() bytes. */
static void config_descriptor(const SimBoard *b, uint8_t *d) {
        uint8_t *p = d;
        bool same = b->quirks & PART_QUIRK_SAME_ALT_STRINGS;

        p[0] = CONFIG_DESC_LEN;
        p[1] = USB_DT_CONFIG;
        put16(p + 2, (uint16_t)config_length(b));
        p[4] = 1;    /* bNumInterfaces */
        p[5] = 1;    /* bConfigurationValue */
        p[6] = 0;    /* iConfiguration */
        p[7] = 0xC0; /* self-powered */
        p[8] = 0x32; /* 100 mA */
        p += CONFIG_DESC_LEN;

        for (unsigned alt = 0; alt < b->n_alt; alt++, p += IFACE_DESC_LEN) {
                p[0] = IFACE_DESC_LEN;
                p[1] = USB_DT_INTERFACE;
                p[2] = 0; /* bInterfaceNumber */
                p[3] = (uint8_t)alt;
                p[4] = 0;    /* no endpoints besides EP0 */
                p[5] = 0xFE; /* application specific */
                p[6] = 0x01; /* DFU */
                p[7] = 0x02; /* DFU mode */
                p[8] = (uint8_t)(STR_FIRST_ALT + (same ? 0 : alt));
        }

        /* Will detach, manifestation intolerant, upload, download; DFU 1.1a (DfuSe). */
        p[0] = DFU_DESC_LEN;
        p[1] = USB_DT_DFU_FUNCTIONAL;
        p[2] = 0x0B;
        put16(p + 3, 255); /* wDetachTimeOut */
        put16(p + 5, b->part->transfer_size);
        put16(p + 7, 0x011A);
}

size_t sim_board_descriptors(const SimBoard *b, uint8_t *buf, size_t size) {
        uint8_t d[DEVICE_DESC_LEN + CONFIG_DESC_LEN + 256 * IFACE_DESC_LEN + DFU_DESC_LEN];
        size_t n = DEVICE_DESC_LEN + config_length(b);

        device_descriptor(b, d);
        config_descriptor(b, d + DEVICE_DESC_LEN);
        if (buf)
                memcpy(buf, d, MIN(n, size));
        return n;
}

static const char *string_for(const SimBoard *b, unsigned index) {
        switch (index) {
        case STR_MANUFACTURER:
                return "STMicroelectronics";
        case STR_PRODUCT:
                return b->part->product;
        case STR_SERIAL:
                return b->serial;
        default:
                if (index >= STR_FIRST_ALT && index - STR_FIRST_ALT < b->n_alt)
                        return b->part->alt_strings[index - STR_FIRST_ALT];
                return NULL;
        }
}

/* String descriptors are UTF-16LE; every string the ROM reports is ASCII. */
static SimResult string_descriptor(const SimBoard *b, unsigned index, uint16_t langid, uint8_t *data,
                                   size_t *len, size_t max) {
        uint8_t d[255];
        size_t n;

        if (index == STR_LANGID) {
                d[0] = 4;
                d[1] = USB_DT_STRING;
                put16(d + 2, 0x0409);
                n = 4;
        } else {
                const char *s = string_for(b, index);
                if (!s || langid != 0x0409)
                        return SIM_STALL;
                n = 2;
                for (; *s && n + 2 <= sizeof(d); s++, n += 2)
                        put16(d + n, (uint8_t)*s);
                d[0] = (uint8_t)n;
                d[1] = USB_DT_STRING;
        }
        *len = MIN(n, max);
        if (*len > 0)
                memcpy(data, d, *len);
        return SIM_OK;
}

static SimResult get_descriptor(SimBoard *b, const SimSetup *s, uint8_t *data, size_t *len) {
        uint8_t type = s->wValue >> 8, index = s->wValue & 0xFF;
        uint8_t d[CONFIG_DESC_LEN + 256 * IFACE_DESC_LEN + DFU_DESC_LEN];
        size_t n;

        switch (type) {
        case USB_DT_DEVICE:
                n = device_descriptor(b, d);
                break;
        case USB_DT_CONFIG:
                if (index != 0)
                        return SIM_STALL;
                config_descriptor(b, d);
                n = config_length(b);
                break;
        case USB_DT_STRING:
                return string_descriptor(b, index, s->wIndex, data, len, s->wLength);
        default:
                return SIM_STALL;
        }
        *len = MIN(n, (size_t)s->wLength);
        if (*len > 0)
                memcpy(data, d, *len);
        return SIM_OK;
}

int sim_board_set_alt(SimBoard *b, unsigned alt) {
        if (alt >= b->n_alt)
                return -EINVAL;
        b->alt = alt;
        return 0;
}

unsigned sim_board_alt(const SimBoard *b) {
        return b->alt;
}

SimResult sim_desc_standard(SimBoard *b, const SimSetup *s, uint8_t *data, size_t *len) {
        bool in = s->bmRequestType & 0x80;
        uint8_t recipient = s->bmRequestType & 0x1F;

        *len = 0;
        switch (s->bRequest) {
        case USB_REQ_GET_DESCRIPTOR:
                return in ? get_descriptor(b, s, data, len) : SIM_STALL;
        case USB_REQ_GET_STATUS:
                if (!in || s->wLength < 2)
                        return SIM_STALL;
                data[0] = recipient == 0 ? 1 : 0; /* device: self-powered */
                data[1] = 0;
                *len = 2;
                return SIM_OK;
        case USB_REQ_GET_CONFIGURATION:
                if (!in || s->wLength < 1)
                        return SIM_STALL;
                data[0] = 1;
                *len = 1;
                return SIM_OK;
        case USB_REQ_SET_CONFIGURATION:
                return !in && s->wValue <= 1 ? SIM_OK : SIM_STALL;
        case USB_REQ_GET_INTERFACE:
                if (!in || s->wIndex != 0 || s->wLength < 1)
                        return SIM_STALL;
                data[0] = (uint8_t)b->alt;
                *len = 1;
                return SIM_OK;
        case USB_REQ_SET_INTERFACE:
                return !in && s->wIndex == 0 && sim_board_set_alt(b, s->wValue) == 0 ? SIM_OK : SIM_STALL;
        default:
                return SIM_STALL;
        }
}
