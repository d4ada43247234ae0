/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parts.h"

/*
 * A model of the STM32 system-memory DFU bootloader (AN3156), pure C, no I/O: it answers control
 * requests and says when the answer is ready. The umockdev glue (testbed.c) turns this into a USB
 * device; the unit tests drive it directly.
 */

typedef struct SimBoard SimBoard;

typedef struct SimBoardOptions {
        const PartInfo *part;
        uint8_t unique_id[12]; /* 96-bit unique ID; serial string derived as the ROM does */
        double time_scale;     /* 1.0 = datasheet timing, 0.01 = 100x faster */
        bool read_protected;
        unsigned quirks;       /* PartQuirk bits to enable (subset of part->quirks or extra) */
} SimBoardOptions;

/* A setup packet as on the wire (little-endian fields already decoded). */
typedef struct SimSetup {
        uint8_t bmRequestType;
        uint8_t bRequest;
        uint16_t wValue;
        uint16_t wIndex;
        uint16_t wLength;
} SimSetup;

typedef enum SimResult {
        SIM_OK,            /* answered: *len bytes of data (IN) or accepted (OUT) */
        SIM_STALL,         /* protocol stall: -EPIPE on the host */
        SIM_NO_ANSWER,     /* never completes (fault injection): host times out */
        SIM_DISCONNECT,    /* the board dropped off the bus (leave, reset, injected unplug) */
} SimResult;

/* Events the glue must act on after a request. */
typedef enum SimEvent {
        SIM_EVENT_NONE = 0,
        SIM_EVENT_RESET = 1 << 0, /* disconnect, then come back (option bytes, read unprotect) */
        SIM_EVENT_LEAVE = 1 << 1, /* disconnect for good: the application runs */
} SimEvent;

SimBoard *sim_board_new(const SimBoardOptions *opts);
SimBoard *sim_board_free(SimBoard *b);

/* The 18-byte device descriptor followed by the whole configuration descriptor (sysfs "descriptors"). */
size_t sim_board_descriptors(const SimBoard *b, uint8_t *buf, size_t size);
const char *sim_board_serial(const SimBoard *b);

/*
 * One control transfer at time now_us (monotonic, microseconds). data holds wLength bytes for OUT and
 * receives up to wLength bytes for IN; *len is set to the bytes transferred. *ready_us is when the
 * answer may complete (>= now_us): a GETSTATUS sent before the pending operation has finished is
 * answered when it finishes. *events receives SimEvent bits.
 */
SimResult sim_board_control(SimBoard *b, const SimSetup *setup, uint8_t *data, size_t *len, uint64_t now_us,
                            uint64_t *ready_us, unsigned *events);

/* Fault injection. */
typedef enum SimFault {
        SIM_FAULT_NONE,
        SIM_FAULT_UNPLUG,        /* disconnect when the trigger fires */
        SIM_FAULT_STALL,         /* stall the next `count` requests */
        SIM_FAULT_STATUS,        /* answer the next GETSTATUS with dfuERROR + `status` */
        SIM_FAULT_NO_ANSWER,     /* stop answering */
} SimFault;

typedef enum SimPhase {
        SIM_PHASE_ANY,
        SIM_PHASE_ERASE,
        SIM_PHASE_WRITE,
        SIM_PHASE_READ,
        SIM_PHASE_LEAVE,
} SimPhase;

typedef struct SimFaultSpec {
        SimFault fault;
        SimPhase phase;       /* trigger at the first request of this phase ... */
        unsigned after;       /* ... after this many further requests in it */
        unsigned count;       /* for STALL */
        uint8_t status;       /* for STATUS */
} SimFaultSpec;

void sim_board_inject(SimBoard *b, const SimFaultSpec *f);

/* Memory access for dumps and checks. */
int sim_board_read_flash(const SimBoard *b, uint32_t address, uint8_t *buf, size_t size);
uint32_t sim_board_flash_base(const SimBoard *b);
uint32_t sim_board_flash_size(const SimBoard *b);

/* Counters, written by the runner as JSON. */
typedef struct SimCounters {
        unsigned requests, getstatus, dnload, upload, clrstatus, abort, stalls;
        unsigned set_address, erase, mass_erase, blocks_written, leave;
        unsigned *erases_per_sector; /* n_sectors entries, owned by the board */
        size_t n_sectors;
        uint64_t bytes_written, bytes_read;
        uint64_t device_min_us; /* sum of operation times and full-speed transfer times */
        unsigned errors;        /* requests answered with a DFU error status */
} SimCounters;

const SimCounters *sim_board_counters(const SimBoard *b);
