/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Oracles shared by the image fuzz targets: what loads must survive a write and a read back. */

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bytes of a and b are the same at the same addresses, however the segments are split. */
static inline void fuzz_assert_same_content(const Image *a, const Image *b) {
        size_t i = 0, j = 0;
        uint32_t ai = 0, bj = 0; /* offsets inside a->segments[i] and b->segments[j] */

        if (image_total_size(a) != image_total_size(b))
                abort();
        while (i < a->n_segments && j < b->n_segments) {
                const Segment *x = &a->segments[i], *y = &b->segments[j];
                if ((uint64_t)x->address + ai != (uint64_t)y->address + bj)
                        abort();
                uint32_t n = MIN(x->size - ai, y->size - bj);
                if (memcmp(x->data + ai, y->data + bj, n) != 0)
                        abort();
                ai += n;
                bj += n;
                if (ai == x->size)
                        i++, ai = 0;
                if (bj == y->size)
                        j++, bj = 0;
        }
}

/* Writes image with `write`, reads it back as `format` and checks that nothing changed. */
static inline void fuzz_round_trip(const Image *image, int (*write)(const Image *, int, DfuError *),
                                   ImageFormat format) {
        ImageLoadOptions opts = {.format = format};
        Image *back = NULL;
        int fd = memfd_create("fuzz", MFD_CLOEXEC);
        if (fd < 0)
                abort();
        if (write(image, fd, NULL) < 0 || lseek(fd, 0, SEEK_SET) != 0)
                abort();
        if (image_load_fd(fd, "back", &opts, &back, NULL) < 0)
                abort();
        fuzz_assert_same_content(image, back);
        if (format == IMAGE_FORMAT_IHEX &&
            (back->has_entry != image->has_entry || back->entry != image->entry))
                abort();
        image_free(back);
        close(fd);
}

static inline int write_dfuse_default(const Image *image, int fd, DfuError *error) {
        return image_write_dfuse(image, 0, "Internal Flash", 0x0483, 0xDF11, 0x2200, fd, error);
}

/* Loads data as format: a failure must explain itself, and what loads must survive being written
 * as Intel HEX and as DfuSe and read back. */
static inline void fuzz_load_round_trip(const uint8_t *data, size_t size, const char *name,
                                        ImageFormat format) {
        ImageLoadOptions opts = {.format = format};
        DfuError error = DFU_ERROR_INIT;
        Image *image = NULL;

        if (image_load_buffer(data, size, name, &opts, &image, &error) < 0) {
                if (error.code <= 0 || error.message[0] == 0)
                        abort();
                return;
        }
        fuzz_round_trip(image, image_write_ihex, IMAGE_FORMAT_IHEX);
        fuzz_round_trip(image, write_dfuse_default, IMAGE_FORMAT_DFUSE);
        image_free(image);
}
