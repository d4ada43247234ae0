/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image-internal.h"

#define IHEX_BYTES_PER_RECORD 16

typedef struct HexOut {
        int fd;
        size_t n;
        int error; /* first write error, reported at the end */
        char buf[64 * 1024];
} HexOut;

static void hex_out_flush(HexOut *o) {
        if (o->n > 0 && o->error == 0)
                o->error = write_full(o->fd, o->buf, o->n);
        o->n = 0;
}

static void hex_out_record(HexOut *o, uint8_t type, uint16_t offset, const uint8_t *data, size_t count) {
        static const char digits[] = "0123456789ABCDEF";
        uint8_t head[4] = {(uint8_t)count, (uint8_t)(offset >> 8), (uint8_t)offset, type};
        uint8_t sum = 0;

        if (sizeof(o->buf) - o->n < 1 + 2 * (5 + 255) + 1)
                hex_out_flush(o);

        char *p = o->buf + o->n;
        *p++ = ':';
        for (size_t i = 0; i < 4 + count; i++) {
                uint8_t b = i < 4 ? head[i] : data[i - 4];
                sum += b;
                *p++ = digits[b >> 4];
                *p++ = digits[b & 15];
        }
        sum = (uint8_t)-sum;
        *p++ = digits[sum >> 4];
        *p++ = digits[sum & 15];
        *p++ = '\n';
        o->n = (size_t)(p - o->buf);
}

int image_write_ihex(const Image *image, int fd, DfuError *error) {
        if (!image || fd < 0)
                return dfu_error_set(error, EINVAL, "invalid arguments to image_write_ihex");

        _cleanup_free_ HexOut *o = malloc(sizeof(HexOut));
        if (!o)
                return dfu_error_set(error, ENOMEM, "out of memory");
        *o = (HexOut){.fd = fd};

        uint32_t upper = 0;
        FOREACH_ARRAY (s, image->segments, image->n_segments) {
                for (uint64_t done = 0; done < s->size;) {
                        uint32_t a = (uint32_t)(s->address + done);
                        if (a >> 16 != upper) {
                                upper = a >> 16;
                                uint8_t ext[2] = {(uint8_t)(upper >> 8), (uint8_t)upper};
                                hex_out_record(o, 0x04, 0, ext, 2);
                        }
                        /* Records stay within one 64 KiB window: readers differ on wrapping. */
                        size_t n = MIN((uint64_t)IHEX_BYTES_PER_RECORD, s->size - done);
                        n = MIN(n, 0x10000u - (a & 0xFFFF));
                        hex_out_record(o, 0x00, (uint16_t)a, s->data + done, n);
                        done += n;
                }
        }
        if (image->has_entry) {
                uint8_t e[4] = {(uint8_t)(image->entry >> 24), (uint8_t)(image->entry >> 16),
                                (uint8_t)(image->entry >> 8), (uint8_t)image->entry};
                hex_out_record(o, 0x05, 0, e, 4);
        }
        hex_out_record(o, 0x01, 0, NULL, 0);
        hex_out_flush(o);

        if (o->error < 0)
                return dfu_error_set(error, o->error, "%s: cannot write Intel HEX: %s", image->name,
                                     strerror(-o->error));
        return 0;
}
