/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>
#include <strings.h>

#include "dfuse-internal.h"

/*
 * The one place where bootloader bugs turn into host behaviour. A row applies when every key it sets
 * matches (0 / NULL = any); rows apply in order, later rows override the values they set. The part's
 * own PartQuirk bits (common/parts.h) select rows too, so a new part inherits its family's fixes by
 * declaring the bits, and a bug tied to one silicon revision can be keyed by bcdDevice.
 */
typedef struct QuirkRow {
        uint16_t vid, pid;
        uint16_t bcd_device; /* 0: any */
        const char *part;    /* short part name, NULL: any */
        unsigned part_quirk; /* PartQuirk bit the part must declare, 0: none needed */

        unsigned add_part_quirks;
        unsigned timeout_ms;
        unsigned poll_stalls;
        unsigned mass_erase_ms;
        bool clrstatus_on_arrival, double_clrstatus, reset_on_leave;
} QuirkRow;

#define ST_VID     0x0483
#define ST_DFU_PID 0xdf11

static const QuirkRow quirk_rows[] = {
        /* fwupd's STM32 entry: F745 answers a 2 KB DNLOAD slower than libusb's customary 1 s. */
        {.vid = ST_VID, .pid = ST_DFU_PID, .timeout_ms = 5000},
        /*
         * L4: a poll after a DfuSe command stalls until the command ends, and the erase bwPollTimeout
         * is shorter than the erase; dfu-util tolerates 3 stalls per command.
         */
        {.part_quirk = PART_QUIRK_POLL_STALLS, .poll_stalls = 3},
        /* F405: mass erase reports 100 ms but needs up to ~32 s (DS8626: 16 s typical on F411). */
        {.part_quirk = PART_QUIRK_MASS_ERASE_LIES, .mass_erase_ms = 35000},
        /* F4: a fresh bootloader starts in dfuERROR/errFIRMWARE; one GETSTATUS less per job. */
        {.part_quirk = PART_QUIRK_ARRIVES_IN_ERROR, .clrstatus_on_arrival = true},
        /* H743 rev V: stays in dfuDNBUSY after erasing past 1 MB until cleared twice. */
        {.part_quirk = PART_QUIRK_STUCK_DNBUSY, .double_clrstatus = true},
        /* Newer generations reset before answering the GETSTATUS that follows the leave request. */
        {.part_quirk = PART_QUIRK_RESET_ON_LEAVE, .reset_on_leave = true},
};

static bool row_matches(const QuirkRow *q, uint16_t vid, uint16_t pid, uint16_t bcd_device,
                        const PartInfo *part) {
        if (q->vid && q->vid != vid)
                return false;
        if (q->pid && q->pid != pid)
                return false;
        if (q->bcd_device && q->bcd_device != bcd_device)
                return false;
        if (q->part && (!part || strcasecmp(q->part, part->name) != 0))
                return false;
        if (q->part_quirk && (!part || !(part->quirks & q->part_quirk)))
                return false;
        return true;
}

void dfuse_quirks_lookup(uint16_t vid, uint16_t pid, uint16_t bcd_device, const PartInfo *part,
                         DfuseQuirks *ret) {
        *ret = (DfuseQuirks){
                .part_quirks = part ? part->quirks : 0,
                .timeout_ms = 5000,
        };

        FOREACH_ARRAY (q, quirk_rows, ELEMENTSOF(quirk_rows)) {
                if (!row_matches(q, vid, pid, bcd_device, part))
                        continue;
                ret->part_quirks |= q->add_part_quirks;
                if (q->timeout_ms)
                        ret->timeout_ms = q->timeout_ms;
                if (q->poll_stalls)
                        ret->poll_stalls = q->poll_stalls;
                if (q->mass_erase_ms)
                        ret->mass_erase_ms = q->mass_erase_ms;
                ret->clrstatus_on_arrival |= q->clrstatus_on_arrival;
                ret->double_clrstatus |= q->double_clrstatus;
                ret->reset_on_leave |= q->reset_on_leave;
        }

        /* The part table knows the real mass erase duration better than a family-wide figure. */
        if ((ret->part_quirks & PART_QUIRK_MASS_ERASE_LIES) && part &&
            part->mass_erase_max_ms > ret->mass_erase_ms)
                ret->mass_erase_ms = part->mass_erase_max_ms;
}
