/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "image/image.h"
#include "memmap.h"
#include "parts.h"

/*
 * The flash plan is data: the exact erases, writes and checks a job will perform. `dfusctl inspect`
 * prints it; the engine executes it.
 */

typedef struct PlanErase {
        uint32_t address; /* sector start */
        uint32_t size;
        /* With skip options the engine reads the sector first; these tell it what may be skipped. */
        uint32_t write_offset; /* first byte of the sector the image writes (for identical checks) */
} PlanErase;

/* One contiguous run written with one set-address and consecutive block numbers. */
typedef struct PlanRun {
        uint32_t address; /* start of the run; blocks are at address + k * transfer_size */
        uint32_t size;    /* bytes, padded with 0xFF only inside the last block's words */
        uint8_t *data;    /* owned */
        unsigned alt_setting;
} PlanRun;

typedef enum PlanSkip {
        PLAN_SKIP_NONE = 0,
        PLAN_SKIP_IDENTICAL = 1 << 0, /* read first; sectors already equal to the image need nothing */
        PLAN_SKIP_BLANK = 1 << 1,     /* sectors that read blank need no erase: non-ECC parts only */
} PlanSkip;

typedef struct PlanOptions {
        bool mass_erase;
        bool verify;
        bool leave;
        unsigned skip; /* PlanSkip bits */
        unsigned alt_setting;
} PlanOptions;

typedef struct Plan {
        unsigned alt_setting;
        uint16_t transfer_size;
        bool mass_erase;
        bool verify;
        bool leave;
        unsigned skip;            /* effective: PLAN_SKIP_BLANK is cleared on ECC parts */
        const char *skip_refused; /* static: why a requested skip was cleared, or NULL */
        unsigned flash_word;      /* bytes: runs end padded with 0xFF to a multiple of this */
        /*
         * Where the Address Pointer goes before the leave request. The ROM bootloader jumps through
         * a vector table there (initial SP, then the reset vector), so this is the table that holds
         * the image's entry point, not the entry point itself; without an entry, the first kept
         * flash byte. Never left to the bootloader: after a download its pointer is the last run.
         */
        uint32_t leave_address;
        bool has_leave_address;
        PlanErase *erases; /* address order, each sector once */
        size_t n_erases;
        PlanRun *runs; /* address order */
        size_t n_runs;
        uint64_t bytes_total; /* to download */
        uint64_t blocks_total;
        uint64_t estimate_ms; /* from the part's timing, 0 when the part is unknown */
        /* The same estimate by phase (each rounded up, so they may add up to a little more): the
         * reads for skip decisions, the erases, the download with its programming, the read-back. */
        uint64_t estimate_read_ms, estimate_erase_ms, estimate_write_ms, estimate_verify_ms;
} Plan;

/* part may be NULL (unknown board): no estimate, no ECC knowledge (then blank-skip is refused). */
int plan_build(const Image *kept, const MemLayout *layout, uint16_t transfer_size, const PartInfo *part,
               const PlanOptions *opts, Plan **ret, DfuError *error);
Plan *plan_free(Plan *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Plan *, plan_free);

/* Replaces len bytes at address in the runs' data (a patch's value, once taken): -ENOENT when some of
 * them are not in any run. */
int plan_overwrite(Plan *p, uint32_t address, const uint8_t *bytes, size_t len);
