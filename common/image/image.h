/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * A firmware image is a set of non-overlapping byte ranges in the 32-bit address space, sorted by
 * address. Adjacent ranges from the same source are coalesced by the loader; ranges from different
 * sources stay separate so that reports can name where each byte came from.
 */

typedef enum ImageFormat {
        IMAGE_FORMAT_UNKNOWN,
        IMAGE_FORMAT_IHEX,
        IMAGE_FORMAT_SREC,
        IMAGE_FORMAT_ELF,
        IMAGE_FORMAT_DFUSE,  /* DfuSe container with prefix, targets and elements */
        IMAGE_FORMAT_BINARY, /* raw bytes (also a plain DFU 1.1 file: suffix stripped) */
        _IMAGE_FORMAT_MAX,
} ImageFormat;

typedef struct Segment {
        uint32_t address;
        uint32_t size;   /* bytes; address + size <= 2^32 */
        uint8_t *data;   /* owned */
        char *source;    /* owned: "app.hex", "app.elf:.data", "fw.dfu:target 0 element 1" */
        int alt_setting; /* DfuSe target's alternate setting, or -1 when the format has none */
} Segment;

typedef struct Image {
        Segment *segments; /* sorted by address, non-overlapping */
        size_t n_segments;
        size_t n_allocated; /* room in segments: grown by doubling, so adding one by one stays linear */
        char *name;         /* owned: file name for messages */
        ImageFormat format;
        bool has_entry;
        uint32_t entry; /* start address record / e_entry */
        /* DfuSe suffix, when the file had one (else 0): checked against the board later. */
        uint16_t suffix_vid, suffix_pid, suffix_bcd_device;
} Image;

#define IMAGE_SIZE_CAP_DEFAULT (UINT64_C(64) * 1024 * 1024)

/*
 * Separate segments an image may have, after joining adjacent records. A linker's output has a few
 * dozen; even the largest STM32 flash (4 MiB) split that often would mean a gap every 64 bytes,
 * which no build produces. Far beyond it lie only data dumps or hostile input, whose per-segment
 * bookkeeping (verdicts, reports, plan runs) would otherwise grow with every record.
 */
#define IMAGE_SEGMENT_CAP 65536u

typedef struct ImageLoadOptions {
        bool has_base; /* raw binaries need a base address */
        uint32_t base;
        uint64_t size_cap;  /* 0 = IMAGE_SIZE_CAP_DEFAULT; input larger than this is refused unread */
        ImageFormat format; /* UNKNOWN = detect from content */
} ImageLoadOptions;

const char *image_format_to_string(ImageFormat f);
ImageFormat image_format_from_string(const char *s);

/* Content sniffing; never looks at the name. */
ImageFormat image_detect_format(const uint8_t *buf, size_t len);

/* Parses buf (len bytes) named `name` (used in messages). */
int image_load_buffer(const uint8_t *buf, size_t len, const char *name, const ImageLoadOptions *opts,
                      Image **ret, DfuError *error);

/* Reads a regular file or a pipe with the size cap, then parses it. Does not close fd. */
int image_load_fd(int fd, const char *name, const ImageLoadOptions *opts, Image **ret, DfuError *error);
int image_load_path(const char *path, const ImageLoadOptions *opts, Image **ret, DfuError *error);

/* Reads all of fd (regular file or FIFO/pipe only) up to cap bytes into a malloc'd buffer. */
int read_fd_capped(int fd, const char *name, uint64_t cap, uint8_t **ret, size_t *ret_size, DfuError *error);

/*
 * Merges src into dst (CM7 + CM4 images of a dual-core part). Overlapping bytes that agree are fine;
 * a byte that differs is an error naming both sources and the first differing range.
 */
int image_merge(Image *dst, const Image *src, DfuError *error);

Image *image_new(const char *name);
Image *image_free(Image *image);
DEFINE_TRIVIAL_CLEANUP_FUNC(Image *, image_free);

/* Inserts a copy of data as a new segment keeping the order; fails on overlap with different bytes. */
int image_add_segment(Image *image, uint32_t address, const uint8_t *data, uint32_t size, const char *source,
                      int alt_setting, DfuError *error);

uint64_t image_total_size(const Image *image);

/* Writers, for `dfusctl inspect --export`. */
int image_write_ihex(const Image *image, int fd, DfuError *error);
/* One DfuSe target with the given alternate setting, suffix with vid/pid/bcd (0xFFFF = any). */
int image_write_dfuse(const Image *image, uint8_t alt_setting, const char *target_name, uint16_t vid,
                      uint16_t pid, uint16_t bcd_device, int fd, DfuError *error);
/* From the first address to the end of the last segment, gaps filled with 0xFF. */
int image_write_binary(const Image *image, int fd, DfuError *error);

/* SHA-256 of a buffer as 64 lower-case hex digits + NUL (libcrypto). */
int sha256_hex(const uint8_t *buf, size_t len, char ret[65]);
