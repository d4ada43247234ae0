/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ihex reader on any bytes: no crash, no leak, and what it accepts survives a write and read back. */
#include "fuzz-image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ImageLoadOptions opts = {.format = IMAGE_FORMAT_IHEX};
        DfuError error = DFU_ERROR_INIT;
        Image *image = NULL;

        if (image_load_buffer(data, size, "fuzz.ihex", &opts, &image, &error) < 0) {
                /* Every failure explains itself. */
                if (error.code <= 0 || error.message[0] == 0)
                        abort();
                return 0;
        }
        fuzz_round_trip(image, image_write_ihex, IMAGE_FORMAT_IHEX);
        fuzz_round_trip(image, write_dfuse_default, IMAGE_FORMAT_DFUSE);
        image_free(image);
        return 0;
}
