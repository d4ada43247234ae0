/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "memmap.h"

/*
 * The STM32 parts dfusd knows: what their ROM bootloader reports (strings, transfer size, bcdDevice),
 * their flash physics and timing (datasheet figures), and their known bootloader quirks. The
 * simulator builds its boards from this table; the engine takes its quirks from it; the sanitizer
 * and planner take the ECC trait and timing from it.
 */

typedef enum PartQuirk {
        /*
         * Polls after a DfuSe command (set address, erase) stall until it ends, and the erase
         * bwPollTimeout is shorter than the erase; up to 3 stalled polls mean "busy" (L4).
         */
        PART_QUIRK_POLL_STALLS = 1 << 0,
        /* bwPollTimeout for mass erase is far too small; the real duration is mass_erase_ms (F405). */
        PART_QUIRK_MASS_ERASE_LIES = 1 << 1,
        /* May enumerate in dfuERROR/errFIRMWARE; CLRSTATUS first (F4). */
        PART_QUIRK_ARRIVES_IN_ERROR = 1 << 2,
        /* Stuck in dfuDNBUSY after erasing past 1 MB until two CLRSTATUS (H743 rev V). */
        PART_QUIRK_STUCK_DNBUSY = 1 << 3,
        /* Every alternate setting reports the same string (G0B1): never find a memory by name. */
        PART_QUIRK_SAME_ALT_STRINGS = 1 << 4,
        /* Resets instead of answering the GETSTATUS after a leave request (newer generations). */
        PART_QUIRK_RESET_ON_LEAVE = 1 << 5,
} PartQuirk;

typedef struct PartInfo {
        const char *name;        /* short, lower-case: "f405", "h743", "g431" */
        const char *description; /* "STM32F405/F407 (1 MB)" */
        uint16_t vid, pid;
        uint16_t bcd_device;    /* 0x2200 older generations, 0x0200 G0/G4/H7/U5 */
        uint16_t transfer_size; /* wTransferSize */
        const char *product;    /* iProduct string */
        const char *serial;     /* constant serial the part reports, or NULL for the unique-ID form */
        const char *const *alt_strings; /* NULL-terminated, index = alternate setting */
        unsigned ecc_word; /* bytes per ECC-protected flash word (0: no ECC, bits AND on rewrite) */
        bool dual_core;

        /* Timing (datasheet typical values, milliseconds unless stated). */
        unsigned erase_ms_per_kib_x100; /* sector erase time per KiB, in 1/100 ms */
        unsigned erase_ms_min;          /* floor for small sectors/pages */
        unsigned mass_erase_ms;
        unsigned mass_erase_max_ms; /* worst case: how long the engine waits for a mass erase */
        unsigned program_us_per_kib;
        unsigned poll_timeout_ms;       /* bwPollTimeout reported for writes */
        unsigned erase_poll_timeout_ms; /* bwPollTimeout reported for erases */

        unsigned quirks; /* PartQuirk bits */
} PartInfo;

extern const PartInfo part_table[];
extern const unsigned part_table_size;

/* By short name, case-insensitive ("H743" == "h743"). */
const PartInfo *part_find(const char *name);

/* Best match for what a board reports: its alternate-setting strings (exact) and bcdDevice. */
const PartInfo *part_match(const char *const *alt_strings, unsigned n_alt, uint16_t bcd_device);

/* Erase time of one sector of the given size, per the part's timing. */
unsigned part_sector_erase_ms(const PartInfo *p, uint32_t sector_size);
unsigned part_program_us(const PartInfo *p, uint32_t bytes);

/* Whole-chip erase time, typical (for estimates). */
unsigned part_mass_erase_ms(const PartInfo *p);

/* Builds the MemMap of the part from its alt strings. */
int part_memmap(const PartInfo *p, MemMap **ret, DfuError *error);
