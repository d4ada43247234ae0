/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Detection and dispatch on any bytes, and merging an image with itself (every byte agrees). */
#include "fuzz-image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ImageLoadOptions opts = {.has_base = true, .base = 0x08000000};
        DfuError error = DFU_ERROR_INIT;
        Image *a = NULL, *b = NULL;

        (void)image_detect_format(data, size);
        if (image_load_buffer(data, size, "fuzz", &opts, &a, &error) < 0) {
                if (error.code <= 0 || error.message[0] == 0)
                        abort();
                return 0;
        }
        if (image_load_buffer(data, size, "fuzz", &opts, &b, NULL) < 0)
                abort();
        uint64_t total = image_total_size(a);
        if (image_merge(a, b, &error) < 0 || image_total_size(a) != total)
                abort();
        fuzz_assert_same_content(a, b);

        char sha[65];
        if (sha256_hex(data, size, sha) < 0)
                abort();
        image_free(a);
        image_free(b);
        return 0;
}
