/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * Per-board data: a patch writes one value taken from a named sequence at a fixed address of every
 * board a job flashes. The text form, used on the command line, in the job's options and in its
 * records, is ADDRESS:FORMAT:SEQUENCE, e.g. "0x08001000:u32le:boards"; patch_to_string() gives the
 * canonical spelling. Values always arrive as text: a counter's value in decimal, a list's line as
 * written in the list.
 */

/* Bounds: a job's options and records stay small, a patch stays inside one flash line or so. */
#define PATCH_MAX          16
#define PATCH_WIDTH_MAX    256
#define SEQUENCE_NAME_MAX  64
#define SEQUENCE_VALUE_MAX 512

typedef enum PatchFormat {
        PATCH_U32LE,
        PATCH_U32BE,
        PATCH_U64LE,
        PATCH_U64BE,
        PATCH_DEC,   /* ASCII decimal, zero-padded to width bytes */
        PATCH_HEX,   /* ASCII hex, upper case, zero-padded to width bytes */
        PATCH_MAC,   /* 6 bytes big-endian: a number below 2^48, or "aa:bb:cc:dd:ee:ff" */
        PATCH_BYTES, /* hex digits (':' or '-' between bytes allowed), exactly width bytes */
        PATCH_STR,   /* text, NUL-padded to width bytes */
        _PATCH_FORMAT_MAX,
} PatchFormat;

typedef struct Patch {
        uint32_t address;
        PatchFormat format;
        unsigned width; /* bytes written */
        char sequence[SEQUENCE_NAME_MAX + 1];
} Patch;

/* [A-Za-z0-9_-]{1,64} */
bool sequence_name_is_valid(const char *name);

/* "u32le", "dec:8", ...: the format part of the text form. */
int patch_format_parse(const char *s, PatchFormat *ret_format, unsigned *ret_width, DfuError *error);
/* Writes the format part ("dec:8") into buf. */
void patch_format_to_string(PatchFormat f, unsigned width, char buf[static 16]);

/* ADDRESS:FORMAT:SEQUENCE; the address in C syntax (0x..., or decimal). */
int patch_parse(const char *s, Patch *ret, DfuError *error);
/* The canonical text form: "0x08001000:u32le:boards" (malloc'd, NULL when out of memory). */
char *patch_to_string(const Patch *p);

/* Renders value into exactly p->width bytes at buf; a value that does not fit is -ERANGE, one that is
 * not of the expected kind -EINVAL, both with a message naming the patch and the value. */
int patch_render(const Patch *p, const char *value, uint8_t *buf, DfuError *error);

/* Whether [a, a + an) and [b, b + bn) share a byte. */
static inline bool patch_ranges_overlap(uint32_t a, uint32_t an, uint32_t b, uint32_t bn) {
        return (uint64_t)a < (uint64_t)b + bn && (uint64_t)b < (uint64_t)a + an;
}
