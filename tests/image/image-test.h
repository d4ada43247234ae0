/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers shared by the image tests: load from a string, expect a failure naming a place. */

/* Before glib.h, which replaces MIN and MAX with its own. */
#include "image/image.h"

#include <glib.h>
#include <string.h>

static inline Image *load_text(const char *text, const char *name, const ImageLoadOptions *opts) {
        DfuError error = DFU_ERROR_INIT;
        Image *image = NULL;
        int r = image_load_buffer((const uint8_t *)text, strlen(text), name, opts, &image, &error);
        if (r < 0)
                g_error("loading %s failed: %s", name, error.message);
        return image;
}

/* Asserts that loading fails and that the message contains every given fragment. */
static inline void expect_load_error_v(const uint8_t *buf, size_t len, const char *name,
                                       const ImageLoadOptions *opts, const char *const *fragments) {
        DfuError error = DFU_ERROR_INIT;
        Image *image = NULL;
        int r = image_load_buffer(buf, len, name, opts, &image, &error);
        if (r >= 0)
                g_error("loading %s succeeded, expected an error", name);
        g_assert_null(image);
        g_assert_cmpint(error.code, >, 0);
        for (const char *const *f = fragments; *f; f++)
                if (!strstr(error.message, *f))
                        g_error("message \"%s\" lacks \"%s\"", error.message, *f);
}

#define expect_load_error(buf, len, name, opts, ...)                       \
        expect_load_error_v((const uint8_t *)(buf), (len), (name), (opts), \
                            (const char *const[]){__VA_ARGS__, NULL})

#define expect_text_error(text, name, ...) expect_load_error((text), strlen(text), (name), NULL, __VA_ARGS__)

static inline void assert_segment(const Image *image, size_t i, uint32_t address, const void *data,
                                  uint32_t size) {
        g_assert_cmpuint(image->n_segments, >, i);
        g_assert_cmphex(image->segments[i].address, ==, address);
        g_assert_cmpuint(image->segments[i].size, ==, size);
        g_assert_cmpmem(image->segments[i].data, size, data, size);
}

/* Same address ranges with the same bytes (sources may differ). */
static inline void assert_same_bytes(const Image *a, const Image *b) {
        g_assert_cmpuint(a->n_segments, ==, b->n_segments);
        for (size_t i = 0; i < a->n_segments; i++)
                assert_segment(b, i, a->segments[i].address, a->segments[i].data, a->segments[i].size);
}

/* The same bytes at the same addresses, however the segments are split and named. */
static inline Image *image_flatten(const Image *image) {
        Image *flat = image_new("flat");
        g_assert_nonnull(flat);
        for (size_t i = 0; i < image->n_segments; i++) {
                const Segment *s = &image->segments[i];
                g_assert_cmpint(image_add_segment(flat, s->address, s->data, s->size, "flat", -1, NULL), ==,
                                0);
        }
        return flat;
}

static inline void assert_same_content(const Image *a, const Image *b) {
        Image *fa = image_flatten(a), *fb = image_flatten(b);
        assert_same_bytes(fa, fb);
        image_free(fa);
        image_free(fb);
}

/* Appends one Intel HEX record with a correct checksum. */
static inline void ihex_record(GString *s, uint8_t type, uint16_t offset, const void *data, size_t n) {
        const uint8_t *d = data;
        uint8_t sum = (uint8_t)(n + (offset >> 8) + (offset & 0xFF) + type);
        g_string_append_printf(s, ":%02zX%04X%02X", n, offset, type);
        for (size_t i = 0; i < n; i++) {
                g_string_append_printf(s, "%02X", d[i]);
                sum += d[i];
        }
        g_string_append_printf(s, "%02X\n", (uint8_t)-sum);
}

/* Writes with `write` to a temporary file and loads it back with image_load_fd. */
static inline Image *write_and_reload(const Image *image, int (*write)(const Image *, int, DfuError *),
                                      const ImageLoadOptions *opts) {
        DfuError error = DFU_ERROR_INIT;
        FILE *f = tmpfile();
        Image *back = NULL;

        g_assert_nonnull(f);
        if (write(image, fileno(f), &error) < 0)
                g_error("writing failed: %s", error.message);
        g_assert_cmpint(lseek(fileno(f), 0, SEEK_SET), ==, 0);
        if (image_load_fd(fileno(f), "back", opts, &back, &error) < 0)
                g_error("reading back failed: %s", error.message);
        fclose(f);
        return back;
}

/* A random image: n segments with random sizes and gaps, some crossing 64 KiB boundaries. */
static inline Image *random_image(GRand *rand, unsigned n, uint32_t start) {
        Image *image = image_new("random");
        uint32_t at = start;
        for (unsigned i = 0; i < n; i++) {
                uint32_t size = (uint32_t)g_rand_int_range(rand, 1, 3000);
                uint8_t *d = g_malloc(size);
                for (uint32_t k = 0; k < size; k++)
                        d[k] = (uint8_t)g_rand_int(rand);
                at += (uint32_t)g_rand_int_range(rand, 1, 70000);
                g_assert_cmpint(image_add_segment(image, at, d, size, "random", -1, NULL), ==, 0);
                at += size;
                g_free(d);
        }
        return image;
}
