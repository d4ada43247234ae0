/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "image-internal.h"

/* Layout per ST's UM0391: all fields little-endian. */
#define PREFIX_SIZE 11 /* "DfuSe", bVersion, DFUImageSize, bTargets */
#define TARGET_PREFIX_SIZE \
        274 /* "Target", bAlternateSetting, bTargetNamed, szTargetName[255], size, count */
#define TARGET_NAME_SIZE 255
#define ELEMENT_HEADER   8 /* dwElementAddress, dwElementSize */
#define BCD_DFU_DFUSE    0x011A

/* The complement of zlib's crc32(): DFU's CRC has no final XOR. */
static uint32_t dfu_crc(const uint8_t *buf, size_t len) {
        uLong crc = crc32(0L, Z_NULL, 0);
        while (len > 0) {
                uInt n = (uInt)MIN(len, (size_t)1 << 30);
                crc = crc32(crc, buf, n);
                buf += n;
                len -= n;
        }
        return ~(uint32_t)crc;
}

bool dfu_suffix_present(const uint8_t *buf, size_t len) {
        return len >= DFU_SUFFIX_SIZE && memcmp(buf + len - 8, "UFD", 3) == 0 &&
               buf[len - 5] == DFU_SUFFIX_SIZE;
}

int dfu_suffix_parse(const uint8_t *buf, size_t len, Image *image, DfuError *error) {
        if (!dfu_suffix_present(buf, len))
                return dfu_error_set(
                        error, EINVAL,
                        "%s: offset %zu: no DFU suffix (signature \"UFD\" and length 16 expected in "
                        "the last 16 bytes)",
                        image->name, len >= DFU_SUFFIX_SIZE ? len - DFU_SUFFIX_SIZE : 0);

        const uint8_t *s = buf + len - DFU_SUFFIX_SIZE;
        uint32_t given = get_le32(s + 12), expected = dfu_crc(buf, len - 4);
        if (given != expected)
                return dfu_error_set(error, EINVAL,
                                     "%s: offset %zu: suffix CRC 0x%08" PRIX32 ", expected 0x%08" PRIX32,
                                     image->name, len - 4, given, expected);

        image->suffix_bcd_device = get_le16(s);
        image->suffix_pid = get_le16(s + 2);
        image->suffix_vid = get_le16(s + 4);
        return 0;
}

void dfu_suffix_append(uint8_t *buf, size_t len_without_suffix, uint16_t vid, uint16_t pid,
                       uint16_t bcd_device) {
        uint8_t *s = buf + len_without_suffix;

        put_le16(s, bcd_device);
        put_le16(s + 2, pid);
        put_le16(s + 4, vid);
        put_le16(s + 6, BCD_DFU_DFUSE);
        memcpy(s + 8, "UFD", 3);
        s[11] = DFU_SUFFIX_SIZE;
        put_le32(s + 12, dfu_crc(buf, len_without_suffix + 12));
}

static int dfuse_elements(const uint8_t *buf, size_t pos, size_t end, unsigned target, uint8_t alt,
                          uint32_t n_elements, Image *image, DfuError *error) {
        const char *name = image->name;
        int r;

        for (uint32_t e = 0; e < n_elements; e++) {
                if (end - pos < ELEMENT_HEADER)
                        return dfu_error_set(error, EINVAL,
                                             "%s: offset %zu: target %u element %" PRIu32
                                             ": header runs past the end of the target",
                                             name, pos, target, e);
                uint32_t address = get_le32(buf + pos), size = get_le32(buf + pos + 4);
                if (size > end - pos - ELEMENT_HEADER)
                        return dfu_error_set(error, EINVAL,
                                             "%s: offset %zu: target %u element %" PRIu32 ": size %" PRIu32
                                             " runs past the end of the target (%zu bytes left)",
                                             name, pos + 4, target, e, size, end - pos - ELEMENT_HEADER);
                if ((uint64_t)address + size > UINT64_C(1) << 32)
                        return dfu_error_set(error, EINVAL,
                                             "%s: offset %zu: target %u element %" PRIu32 ": %" PRIu32
                                             " bytes at 0x%08" PRIX32
                                             " go past the end of the address space",
                                             name, pos, target, e, size, address);

                char source[512];
                (void)snprintf(source, sizeof(source), "%s:target %u element %" PRIu32, name, target, e);
                r = image_add_segment(image, address, buf + pos + ELEMENT_HEADER, size, source, alt, error);
                if (r < 0)
                        return r;
                pos += ELEMENT_HEADER + size;
        }
        if (pos != end)
                return dfu_error_set(error, EINVAL,
                                     "%s: offset %zu: target %u: %zu bytes follow its %" PRIu32
                                     " elements within the target size",
                                     name, pos, target, end - pos, n_elements);
        return 0;
}

static int dfuse_target(const uint8_t *buf, size_t *pos, size_t body_end, unsigned t, Image *image,
                        DfuError *error) {
        const char *name = image->name;
        size_t p = *pos;

        if (body_end - p < TARGET_PREFIX_SIZE)
                return dfu_error_set(
                        error, EINVAL,
                        "%s: offset %zu: target %u: prefix needs %d bytes, only %zu left before the "
                        "suffix",
                        name, p, t, TARGET_PREFIX_SIZE, body_end - p);
        if (memcmp(buf + p, "Target", 6) != 0)
                return dfu_error_set(error, EINVAL, "%s: offset %zu: target %u: signature is not \"Target\"",
                                     name, p, t);

        uint8_t alt = buf[p + 6];
        uint32_t size = get_le32(buf + p + 266), n_elements = get_le32(buf + p + 270);
        p += TARGET_PREFIX_SIZE;
        if (size > body_end - p)
                return dfu_error_set(error, EINVAL,
                                     "%s: offset %zu: target %u: size %" PRIu32
                                     " runs past the suffix (%zu bytes left)",
                                     name, p - 8, t, size, body_end - p);

        int r = dfuse_elements(buf, p, p + size, t, alt, n_elements, image, error);
        if (r < 0)
                return r;
        *pos = p + size;
        return 0;
}

int dfuse_parse(const uint8_t *buf, size_t len, Image *image, DfuError *error) {
        const char *name = image->name;
        int r;

        if (len < PREFIX_SIZE + DFU_SUFFIX_SIZE)
                return dfu_error_set(
                        error, EINVAL,
                        "%s: %zu bytes are too short for a DfuSe file (prefix and suffix need %d)", name,
                        len, PREFIX_SIZE + DFU_SUFFIX_SIZE);
        if (memcmp(buf, "DfuSe", 5) != 0)
                return dfu_error_set(error, EINVAL, "%s: offset 0: signature is not \"DfuSe\"", name);
        r = dfu_suffix_parse(buf, len, image, error);
        if (r < 0)
                return r;
        uint16_t bcd_dfu = get_le16(buf + len - 10);
        if (bcd_dfu != BCD_DFU_DFUSE)
                return dfu_error_set(error, EINVAL,
                                     "%s: offset %zu: bcdDFU 0x%04X, expected 0x%04X for DfuSe", name,
                                     len - 10, bcd_dfu, BCD_DFU_DFUSE);
        if (buf[5] != 1)
                return dfu_error_set(error, EINVAL, "%s: offset 5: prefix version %u, expected 1", name,
                                     buf[5]);

        size_t body_end = len - DFU_SUFFIX_SIZE;
        uint32_t image_size = get_le32(buf + 6);
        if (image_size != body_end)
                return dfu_error_set(error, EINVAL,
                                     "%s: offset 6: image size %" PRIu32
                                     ", but the file holds %zu bytes before its suffix",
                                     name, image_size, body_end);

        size_t pos = PREFIX_SIZE;
        for (unsigned t = 0; t < buf[10]; t++) {
                r = dfuse_target(buf, &pos, body_end, t, image, error);
                if (r < 0)
                        return r;
        }
        if (pos != body_end)
                return dfu_error_set(
                        error, EINVAL,
                        "%s: offset %zu: %zu bytes after the last of %u targets, before the suffix", name,
                        pos, body_end - pos, buf[10]);
        return 0;
}

int image_write_dfuse(const Image *image, uint8_t alt_setting, const char *target_name, uint16_t vid,
                      uint16_t pid, uint16_t bcd_device, int fd, DfuError *error) {
        if (!image || fd < 0)
                return dfu_error_set(error, EINVAL, "invalid arguments to image_write_dfuse");

        uint64_t body = PREFIX_SIZE + TARGET_PREFIX_SIZE;
        FOREACH_ARRAY (s, image->segments, image->n_segments)
                body += ELEMENT_HEADER + (uint64_t)s->size;
        if (body + DFU_SUFFIX_SIZE > UINT32_MAX)
                return dfu_error_set(error, EFBIG, "%s: too large for a DfuSe file", image->name);

        _cleanup_free_ uint8_t *buf = calloc(1, (size_t)body + DFU_SUFFIX_SIZE);
        if (!buf)
                return dfu_error_set(error, ENOMEM, "%s: out of memory", image->name);

        memcpy(buf, "DfuSe", 5);
        buf[5] = 1;
        put_le32(buf + 6, (uint32_t)body);
        buf[10] = 1;

        uint8_t *t = buf + PREFIX_SIZE;
        memcpy(t, "Target", 6);
        t[6] = alt_setting;
        if (target_name) {
                put_le32(t + 7, 1);
                strncpy((char *)t + 11, target_name, TARGET_NAME_SIZE - 1);
        }
        put_le32(t + 266, (uint32_t)(body - PREFIX_SIZE - TARGET_PREFIX_SIZE));
        put_le32(t + 270, (uint32_t)image->n_segments);

        uint8_t *p = t + TARGET_PREFIX_SIZE;
        FOREACH_ARRAY (s, image->segments, image->n_segments) {
                put_le32(p, s->address);
                put_le32(p + 4, s->size);
                memcpy(p + ELEMENT_HEADER, s->data, s->size);
                p += ELEMENT_HEADER + s->size;
        }
        dfu_suffix_append(buf, (size_t)body, vid, pid, bcd_device);

        int r = write_full(fd, buf, (size_t)body + DFU_SUFFIX_SIZE);
        if (r < 0)
                return dfu_error_set(error, r, "%s: cannot write the DfuSe file: %s", image->name,
                                     strerror(-r));
        return 0;
}
