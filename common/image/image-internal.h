/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between the format readers and writers in this folder; not part of the public contract. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image.h"

/*
 * Text formats deliver data a record at a time, mostly in address order. Appending each record to
 * a growing run and starting a new run only at a gap keeps parsing linear. All runs share one data
 * buffer, where each new run starts at the end: a file of scattered one-byte records then costs a
 * Run (24 bytes) and its byte each, not an allocation each. Overlaps and ordering are resolved once,
 * at the end.
 */
typedef struct Run {
        uint32_t address;
        uint32_t size;
        size_t offset; /* of its bytes in RunBuilder.data */
        unsigned line; /* where the run starts, for messages */
        uint32_t seq;  /* order of arrival: a stable sort keeps the first data first */
} Run;

typedef struct RunBuilder {
        Run *runs; /* the last one is open: records continuing it are appended */
        size_t n_runs, n_allocated;
        uint8_t *data;
        size_t data_size, data_allocated;
} RunBuilder;

void run_builder_done(RunBuilder *b);
/* Appends data at address; the caller guarantees address + len <= 2^32. */
int run_builder_add(RunBuilder *b, uint32_t address, const uint8_t *data, size_t len, unsigned line,
                    DfuError *error);
/* Moves the runs into image as coalesced segments named `source`; empties the builder. */
int run_builder_finish(RunBuilder *b, Image *image, const char *source, DfuError *error);

/* Hex digit values, 0xFF for anything that is not a hex digit. */
extern const uint8_t hex_value_table[256];

static inline int hex_byte(const char *p) {
        uint8_t hi = hex_value_table[(uint8_t)p[0]], lo = hex_value_table[(uint8_t)p[1]];
        if ((hi | lo) & 0xF0)
                return -1;
        return hi << 4 | lo;
}

static inline uint32_t get_be32(const uint8_t *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint16_t get_le16(const uint8_t *p) {
        return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get_le32(const uint8_t *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void put_le16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v) {
        for (unsigned i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

/* Lines of a text format: LF or CRLF, trailing blanks dropped, counted from 1. */
typedef struct TextCursor {
        const char *buf;
        size_t len, pos;
        unsigned line;
} TextCursor;

/* Starts after a UTF-8 byte order mark, which some editors write. */
TextCursor text_cursor(const uint8_t *buf, size_t len);
bool text_next_line(TextCursor *c, const char **ret, size_t *ret_len);

/* A record-per-line format that closes with an end record (Intel HEX, SREC). */
typedef struct TextFormat {
        const char *end_record; /* "end-of-file record" */
        const char *end_hint;   /* what it looks like, for a file without one: ":00000001FF" */
        /* Reads one non-blank line (line end and trailing blanks dropped), the line-th; returns 1
         * when it was the end record, 0 for any other, or a negative errno with error set. */
        int (*read_line)(void *state, const char *p, size_t n, unsigned line, DfuError *error);
} TextFormat;

/* Feeds every non-blank line to f->read_line. Blank lines may follow the end record; anything
 * else after it, or no end record at all, is an error. */
int text_read_records(const uint8_t *buf, size_t len, const char *name, const TextFormat *f, void *state,
                      DfuError *error);
/* "name: line L: column C: expected <expected>, found 'x'" */
int text_error_char(DfuError *error, const char *name, unsigned line, size_t column, char ch,
                    const char *expected);
/* Decodes n bytes from 2n hex digits at p, which is at 1-based `column` of the line. */
int text_hex_bytes(const char *p, size_t column, uint8_t *out, size_t n, const char *name, unsigned line,
                   DfuError *error);

/* Readers: fill an empty image (name and format already set). Messages start with `name: `. */
int ihex_parse(const uint8_t *buf, size_t len, Image *image, DfuError *error);
int srec_parse(const uint8_t *buf, size_t len, Image *image, DfuError *error);
int elf_parse(const uint8_t *buf, size_t len, Image *image, DfuError *error);
int dfuse_parse(const uint8_t *buf, size_t len, Image *image, DfuError *error);
int binary_parse(const uint8_t *buf, size_t len, const ImageLoadOptions *opts, Image *image,
                 DfuError *error);

/* DFU 1.1 suffix at the end of a file: 16 bytes ending in "UFD", length 16 and a CRC-32. */
#define DFU_SUFFIX_SIZE 16
bool dfu_suffix_present(const uint8_t *buf, size_t len);
/* Checks the CRC and fills image->suffix_*; the offsets in messages are from the file's start. */
int dfu_suffix_parse(const uint8_t *buf, size_t len, Image *image, DfuError *error);
void dfu_suffix_append(uint8_t *buf, size_t len_without_suffix, uint16_t vid, uint16_t pid,
                       uint16_t bcd_device);

/* Writes all of buf, retrying on short writes and EINTR. */
int write_full(int fd, const void *buf, size_t len);
