/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "image-internal.h"

/*
 * Only the first bytes decide. A text format is recognised by its record marker alone, so that a
 * damaged .hex gets the reader's precise complaint instead of being taken for raw bytes and written
 * to flash as such. Raw Cortex-M images start with the initial stack pointer, whose low byte is
 * 8-byte aligned and therefore never ':' (0x3A) or 'S' (0x53).
 */
ImageFormat image_detect_format(const uint8_t *buf, size_t len) {
        size_t i = 0;

        if (!buf || len == 0)
                return IMAGE_FORMAT_UNKNOWN;
        if (len >= 4 && memcmp(buf,
                               "\x7f"
                               "ELF",
                               4) == 0)
                return IMAGE_FORMAT_ELF;
        if (len >= 5 && memcmp(buf, "DfuSe", 5) == 0)
                return IMAGE_FORMAT_DFUSE;

        /* Editors and some tools leave a byte order mark or blank lines in front of text records. */
        if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
                i = 3;
        while (i < len && (buf[i] == '\r' || buf[i] == '\n' || buf[i] == ' ' || buf[i] == '\t'))
                i++;
        if (i < len && buf[i] == ':')
                return IMAGE_FORMAT_IHEX;
        if (i + 1 < len && buf[i] == 'S' && buf[i + 1] >= '0' && buf[i + 1] <= '9')
                return IMAGE_FORMAT_SREC;

        /* A plain DFU 1.1 file (suffix, no DfuSe prefix) is raw bytes too; the loader strips it. */
        return IMAGE_FORMAT_BINARY;
}
