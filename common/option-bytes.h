/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "parts.h"

/*
 * Option bytes by name: per family, where each field lies in the block the ROM bootloader shows on its
 * "Option Bytes" alternate setting (offset, bits, the complement the flash keeps beside it, a mirror
 * register image to write as well), the values it allows and its factory value. The block is read,
 * only the named fields change (with their complements), and it is written back whole, as the ROM
 * requires.
 */

typedef struct OptionBytesValue {
        const char *name; /* as the user writes it: "off", "1", "sw" */
        uint32_t raw;     /* the bits */
} OptionBytesValue;

typedef struct OptionBytesField {
        const char *name; /* lower case: "bor_lev", "rdp", "nwrp" */
        uint16_t offset;  /* of the little-endian 32-bit word holding the field */
        uint8_t shift, width;
        int16_t complement; /* offset of the word holding the bitwise complement at the same bits; -1 */
        int16_t mirror;     /* offset of a second word written with the same value (H7: _PRG); -1 */
        const OptionBytesValue *values; /* NULL-name-terminated allowed values; NULL: any that fits */
        uint32_t reset;                 /* factory value */
        const char *description;
} OptionBytesField;

typedef struct OptionBytesFamily {
        const char *name;         /* "f4", "f7", "l4", "g4", "h7" */
        const char *description;  /* "STM32F405/F407/F411/F42x" */
        const char *const *parts; /* part names (parts.h) it covers */
        uint32_t address, size;   /* the block of alternate setting 1 (first region) */
        const OptionBytesField *fields;
        size_t n_fields;
        const uint8_t *reset; /* the factory block, or NULL: fields at their reset values, the rest 0xFF */
        const char *source;   /* the reference manual table */
} OptionBytesFamily;

/* The largest block of any family. */
#define OPTION_BYTES_MAX 128u

extern const OptionBytesFamily option_bytes_families[];
extern const size_t option_bytes_n_families;

/* By family name ("f4") or part name ("f405"), case-insensitive; NULL if none. */
const OptionBytesFamily *option_bytes_family_find(const char *name);
const OptionBytesFamily *option_bytes_family_for_part(const PartInfo *p);
const OptionBytesField *option_bytes_field_find(const OptionBytesFamily *f, const char *name);

uint32_t option_bytes_field_get(const OptionBytesField *fl, const uint8_t *block);
/* Sets the field, its complement and its mirror. */
void option_bytes_field_set(const OptionBytesField *fl, uint8_t *block, uint32_t raw);
/* "off", "3", "0x0fff": the value's name when it has one. */
const char *option_bytes_field_format(const OptionBytesField *fl, uint32_t raw, char *buf, size_t size);

/* The factory block: every field at its reset value, every other byte 0xFF. */
void option_bytes_reset_block(const OptionBytesFamily *f, uint8_t *block);
/* Every field whose complement is kept matches it. */
int option_bytes_check(const OptionBytesFamily *f, const uint8_t *block, DfuError *error);

/* RDP level 0, 1 or 2 of a block (level 1: any value but level 0's and level 2's). */
unsigned option_bytes_rdp_level(const OptionBytesFamily *f, const uint8_t *block);

typedef struct OptionBytesChange {
        const OptionBytesField *field;
        uint32_t raw;
} OptionBytesChange;

#define OPTION_BYTES_CHANGES_MAX 32

/* "bor_lev=1,iwdg_sw=0": every field known to the family, every value allowed, each field once. RDP
 * level 2 is refused unless allow_permanent; -EINVAL with the reason. */
int option_bytes_parse_changes(const OptionBytesFamily *f, const char *spec, bool allow_permanent,
                               OptionBytesChange *ret, size_t *ret_n, DfuError *error);
void option_bytes_apply(const OptionBytesChange *c, size_t n, uint8_t *block);
