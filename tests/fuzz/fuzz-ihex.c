/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ihex reader on any bytes: no crash, no leak, and what it accepts survives a write and read back. */
#include "fuzz-image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        fuzz_load_round_trip(data, size, "fuzz.ihex", IMAGE_FORMAT_IHEX);
        return 0;
}
