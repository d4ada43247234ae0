/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "image-internal.h"

int binary_parse(const uint8_t *buf, size_t len, const ImageLoadOptions *opts, Image *image,
                 DfuError *error) {
        int r;

        /* A plain DFU 1.1 file is the raw image plus a 16-byte suffix; only the image goes to flash. */
        if (dfu_suffix_present(buf, len)) {
                r = dfu_suffix_parse(buf, len, image, error);
                if (r < 0)
                        return r;
                len -= DFU_SUFFIX_SIZE;
        }

        if (!opts || !opts->has_base)
                return dfu_error_set(error, EINVAL,
                                     "%s: raw binary needs a base address (--base 0x08000000)", image->name);
        if (len == 0)
                return dfu_error_set(error, EINVAL, "%s: no data before the DFU suffix", image->name);
        if ((uint64_t)opts->base + len > UINT64_C(1) << 32)
                return dfu_error_set(error, EINVAL,
                                     "%s: %zu bytes at base 0x%08" PRIX32
                                     " go past the end of the 32-bit address space",
                                     image->name, len, opts->base);

        return image_add_segment(image, opts->base, buf, (uint32_t)len, image->name, -1, error);
}

int image_write_binary(const Image *image, int fd, DfuError *error) {
        static const uint8_t gap[4096] = {[0 ... 4095] = 0xFF};
        int r;

        if (!image || fd < 0)
                return dfu_error_set(error, EINVAL, "invalid arguments to image_write_binary");

        uint64_t at = image->n_segments > 0 ? image->segments[0].address : 0;
        FOREACH_ARRAY (s, image->segments, image->n_segments) {
                /* Erased flash reads 0xFF, so that is what the gaps hold. */
                for (uint64_t n; at < s->address; at += n) {
                        n = MIN(s->address - at, (uint64_t)sizeof(gap));
                        r = write_full(fd, gap, (size_t)n);
                        if (r < 0)
                                goto fail;
                }
                r = write_full(fd, s->data, s->size);
                if (r < 0)
                        goto fail;
                at = (uint64_t)s->address + s->size;
        }
        return 0;
fail:
        return dfu_error_set(error, r, "%s: cannot write the binary: %s", image->name, strerror(-r));
}
