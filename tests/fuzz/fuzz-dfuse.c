/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The DfuSe reader on any bytes: no crash, no leak, and what it accepts survives a write and read
 * back. Half of the inputs get a correct suffix CRC first, or the fuzzer would hardly ever get past
 * the CRC check into the targets and elements.
 */
#include <zlib.h>

#include "fuzz-image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t *copy = NULL;

        if (size >= 16 && (data[size - 1] & 1)) {
                copy = malloc(size);
                if (!copy)
                        return 0;
                memcpy(copy, data, size);
                uint32_t crc = ~(uint32_t)crc32(0, copy, (uInt)(size - 4));
                for (unsigned i = 0; i < 4; i++)
                        copy[size - 4 + i] = (uint8_t)(crc >> (8 * i));
                data = copy;
        }
        fuzz_load_round_trip(data, size, "fuzz.dfu", IMAGE_FORMAT_DFUSE);
        free(copy);
        return 0;
}
