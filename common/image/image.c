/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "image-internal.h"

static const char *const format_names[_IMAGE_FORMAT_MAX] = {
        [IMAGE_FORMAT_UNKNOWN] = "unknown", [IMAGE_FORMAT_IHEX] = "ihex",   [IMAGE_FORMAT_SREC] = "srec",
        [IMAGE_FORMAT_ELF] = "elf",         [IMAGE_FORMAT_DFUSE] = "dfuse", [IMAGE_FORMAT_BINARY] = "binary",
};

const char *image_format_to_string(ImageFormat f) {
        if (f < 0 || f >= _IMAGE_FORMAT_MAX)
                return NULL;
        return format_names[f];
}

ImageFormat image_format_from_string(const char *s) {
        static const struct {
                const char *name;
                ImageFormat format;
        } aliases[] = {
                {"ihex", IMAGE_FORMAT_IHEX}, {"hex", IMAGE_FORMAT_IHEX},      {"srec", IMAGE_FORMAT_SREC},
                {"s19", IMAGE_FORMAT_SREC},  {"elf", IMAGE_FORMAT_ELF},       {"dfuse", IMAGE_FORMAT_DFUSE},
                {"dfu", IMAGE_FORMAT_DFUSE}, {"binary", IMAGE_FORMAT_BINARY}, {"bin", IMAGE_FORMAT_BINARY},
        };

        if (!s)
                return IMAGE_FORMAT_UNKNOWN;
        for (size_t i = 0; i < ELEMENTSOF(aliases); i++)
                if (strcasecmp(s, aliases[i].name) == 0)
                        return aliases[i].format;
        return IMAGE_FORMAT_UNKNOWN;
}

Image *image_new(const char *name) {
        Image *image = calloc(1, sizeof(Image));
        if (!image)
                return NULL;
        image->name = strdup(name ?: "image");
        if (!image->name)
                return mfree(image);
        return image;
}

static void segment_done(Segment *s) {
        s->data = mfree(s->data);
        s->source = mfree(s->source);
}

Image *image_free(Image *image) {
        if (!image)
                return NULL;
        FOREACH_ARRAY (s, image->segments, image->n_segments)
                segment_done(s);
        free(image->segments);
        free(image->name);
        return mfree(image);
}

uint64_t image_total_size(const Image *image) {
        uint64_t total = 0;

        if (!image)
                return 0;
        FOREACH_ARRAY (s, image->segments, image->n_segments)
                total += s->size;
        return total;
}

static uint64_t segment_end(const Segment *s) {
        return (uint64_t)s->address + s->size;
}

/* Index of the first segment that ends after address. */
static size_t image_bisect(const Image *image, uint32_t address) {
        size_t lo = 0, hi = image->n_segments;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (segment_end(&image->segments[mid]) <= address)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* The same bytes from two places are fine; different bytes mean one of the inputs is wrong. */
static int image_check_overlap(const Image *image, uint32_t address, const uint8_t *data, uint32_t size,
                               const char *source, DfuError *error) {
        uint64_t end = (uint64_t)address + size;

        for (size_t i = image_bisect(image, address); i < image->n_segments; i++) {
                const Segment *s = &image->segments[i];
                if (s->address >= end)
                        break;

                uint32_t from = MAX(s->address, address);
                uint32_t to = (uint32_t)(MIN(segment_end(s), end) - 1); /* inclusive: may be 0xFFFFFFFF */
                for (uint64_t a = from; a <= to; a++) {
                        uint8_t old = s->data[a - s->address], new = data[a - address];
                        if (old == new)
                                continue;

                        uint64_t b = a;
                        while (b + 1 <= to && s->data[b + 1 - s->address] != data[b + 1 - address])
                                b++;
                        return dfu_error_set(error, EINVAL,
                                             "bytes at 0x%08" PRIX64 "-0x%08" PRIX64
                                             " differ between %s and %s (0x%02X vs 0x%02X at 0x%08" PRIX64
                                             ")",
                                             a, b, s->source, source, old, new, a);
                }
        }
        return 0;
}

static bool segments_joinable(const Segment *a, const Segment *b) {
        return segment_end(a) == b->address && a->alt_setting == b->alt_setting &&
               streq(a->source, b->source);
}

/* Appends segment i + 1 to segment i. */
static int image_join(Image *image, size_t i) {
        Segment *a = &image->segments[i], *b = &image->segments[i + 1];
        uint8_t *d = realloc(a->data, (size_t)a->size + b->size);
        if (!d)
                return -ENOMEM;
        memcpy(d + a->size, b->data, b->size);
        a->data = d;
        a->size += b->size;
        segment_done(b);
        memmove(b, b + 1, (image->n_segments - i - 2) * sizeof(Segment));
        image->n_segments--;
        return 0;
}

static int image_insert_piece(Image *image, uint32_t address, const uint8_t *data, uint32_t size,
                              const char *source, int alt_setting) {
        if (image->n_segments == image->n_allocated) {
                size_t n = MAX(image->n_allocated * 2, (size_t)16);
                Segment *grown = reallocarray(image->segments, n, sizeof(Segment));
                if (!grown)
                        return -ENOMEM;
                image->segments = grown;
                image->n_allocated = n;
        }
        Segment *array = image->segments;

        Segment s = {.address = address, .size = size, .alt_setting = alt_setting};
        s.data = malloc(size);
        s.source = strdup(source);
        if (!s.data || !s.source) {
                segment_done(&s);
                return -ENOMEM;
        }
        memcpy(s.data, data, size);

        size_t i = image_bisect(image, address);
        memmove(array + i + 1, array + i, (image->n_segments - i) * sizeof(Segment));
        array[i] = s;
        image->n_segments++;

        if (i + 1 < image->n_segments && segments_joinable(&array[i], &array[i + 1])) {
                int r = image_join(image, i);
                if (r < 0)
                        return r;
        }
        if (i > 0 && segments_joinable(&image->segments[i - 1], &image->segments[i]))
                return image_join(image, i - 1);
        return 0;
}

int image_add_segment(Image *image, uint32_t address, const uint8_t *data, uint32_t size, const char *source,
                      int alt_setting, DfuError *error) {
        int r;

        if (!image || (!data && size > 0) || !source)
                return dfu_error_set(error, EINVAL, "invalid arguments to image_add_segment");
        if (size == 0)
                return 0;
        if ((uint64_t)address + size > UINT64_C(1) << 32)
                return dfu_error_set(error, EINVAL,
                                     "%s: %" PRIu32 " bytes at 0x%08" PRIX32
                                     " go past the end of the 32-bit "
                                     "address space",
                                     source, size, address);

        r = image_check_overlap(image, address, data, size, source, error);
        if (r < 0)
                return r;

        /* Only the bytes no segment holds yet are added; agreeing overlaps keep their first source. */
        uint64_t cursor = address, end = (uint64_t)address + size;
        while (cursor < end) {
                size_t i = image_bisect(image, (uint32_t)cursor);
                const Segment *next = i < image->n_segments ? &image->segments[i] : NULL;

                if (next && next->address <= cursor) {
                        cursor = segment_end(next);
                        continue;
                }
                uint64_t piece_end = next ? MIN(end, (uint64_t)next->address) : end;
                r = image_insert_piece(image, (uint32_t)cursor, data + (cursor - address),
                                       (uint32_t)(piece_end - cursor), source, alt_setting);
                if (r < 0)
                        return dfu_error_set(error, r, "%s: out of memory adding a segment", source);
                cursor = piece_end;
        }
        /* Formats that add segment by segment (ELF, DfuSe elements) meet the same cap as text ones. */
        if (image->n_segments > IMAGE_SEGMENT_CAP)
                return dfu_error_set(error, EFBIG,
                                     "%s: more than %u separate segments; firmware has a few dozen: is "
                                     "this a data dump?",
                                     image->name ?: source, IMAGE_SEGMENT_CAP);
        return 0;
}

int image_merge(Image *dst, const Image *src, DfuError *error) {
        int r;

        if (!dst || !src)
                return dfu_error_set(error, EINVAL, "invalid arguments to image_merge");
        if (dst == src) /* every byte agrees with itself */
                return 0;

        /* Check everything before changing anything: a failed merge leaves dst as it was. */
        FOREACH_ARRAY (s, src->segments, src->n_segments) {
                r = image_check_overlap(dst, s->address, s->data, s->size, s->source, error);
                if (r < 0)
                        return r;
        }
        FOREACH_ARRAY (s, src->segments, src->n_segments) {
                r = image_add_segment(dst, s->address, s->data, s->size, s->source, s->alt_setting, error);
                if (r < 0)
                        return r;
        }

        if (!dst->has_entry && src->has_entry) {
                dst->has_entry = true;
                dst->entry = src->entry;
        }
        if (!dst->suffix_vid && !dst->suffix_pid && !dst->suffix_bcd_device) {
                dst->suffix_vid = src->suffix_vid;
                dst->suffix_pid = src->suffix_pid;
                dst->suffix_bcd_device = src->suffix_bcd_device;
        }
        return 0;
}
