/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "image/image.h"
#include "memmap.h"

/*
 * The verdict on each segment of an image against the memory map a board reports: keep what lies
 * in writable flash, drop (with an explanation) what lies outside every region the board reports,
 * reject what cannot be placed safely. See DESIGN.md section 3.
 */

typedef enum Verdict {
        VERDICT_KEEP,
        VERDICT_DROP,
        VERDICT_REJECT,
        _VERDICT_MAX,
} Verdict;

/* What an address most likely is on an STM32, for messages. */
typedef enum AddressKind {
        ADDRESS_FLASH,
        ADDRESS_RAM,        /* 0x20000000-0x3FFFFFFF (SRAM, DTCM, SRAM4 at 0x38000000) */
        ADDRESS_PERIPHERAL, /* 0x40000000-0x5FFFFFFF */
        ADDRESS_EXTERNAL,   /* 0x60000000-0xDFFFFFFF: FMC, QSPI/OCTOSPI */
        ADDRESS_SYSTEM,     /* system memory, option bytes, OTP */
        ADDRESS_CODE_OTHER, /* ITCM etc. below 0x08000000 */
        ADDRESS_UNKNOWN,
        _ADDRESS_KIND_MAX,
} AddressKind;

typedef struct SegmentVerdict {
        uint32_t address;
        uint32_t size;
        char *source; /* owned copy of Segment.source */
        Verdict verdict;
        AddressKind kind;
        int alt_setting;   /* the layout it was placed in, -1 if none */
        char *region_name; /* owned: layout name it lies in, or NULL */
        char *reason;      /* owned: one sentence, including the fix for drops */
} SegmentVerdict;

typedef struct SanitizeOptions {
        bool strict;             /* every drop becomes a reject */
        bool allow_option_bytes; /* segments in non-flash alternate settings are kept for them */
        unsigned alt_setting;    /* the flash layout, normally 0 */
        bool all_alt_settings;   /* place segments in any alternate setting that is writable */
} SanitizeOptions;

typedef struct SanitizeReport {
        SegmentVerdict *verdicts;
        size_t n_verdicts;
        Image *kept; /* owned: only the kept segments */
        bool rejected;
        char *reject_reason; /* owned, first reject's reason, when rejected */
        uint64_t bytes_kept, bytes_dropped;
} SanitizeReport;

const char *verdict_to_string(Verdict v);
const char *address_kind_to_string(AddressKind k);
AddressKind address_kind(uint32_t address);
/* For an ADDRESS_RAM address, which RAM it most likely is: "SRAM4", "AXI SRAM", "SRAM or DTCM"... */
const char *address_ram_name(uint32_t address);

/* Never fails for a rejected image: rejection is in the report. Fails only on bad arguments/OOM. */
int sanitize_image(const Image *image, const MemMap *map, const SanitizeOptions *opts, SanitizeReport **ret,
                   DfuError *error);

SanitizeReport *sanitize_report_free(SanitizeReport *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(SanitizeReport *, sanitize_report_free);
