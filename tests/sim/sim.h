/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "parts.h"

/*
 * A model of the STM32 system-memory DFU bootloader (AN3156), pure C, no I/O: it answers control
 * requests and says when the answer is ready. The umockdev glue (testbed-*.c) turns this into a USB
 * device; the unit tests (test-sim-*.c) drive it directly. Deterministic given the times passed in.
 *
 * What it does, where the real one leaves a choice:
 * - DFU 1.1 states; a request the state does not allow stalls and enters dfuERROR/errSTALLEDPKT
 *   (dfuERROR keeps its first status until CLRSTATUS). DETACH stalls: it is an application request.
 * - Memories are found by address whatever the alternate setting: flash (alt 0), the regions of the
 *   other alternate settings (option bytes, OTP, device feature), RAM the bootloader reaches and its
 *   system memory (per family, sim-mem.c). Anything else is errTARGET. Flash starts erased.
 * - ECC parts keep a programmed flag per flash word; partial words are padded with 0xFF.
 * - Option bytes take exactly their whole area, then the board resets (SIM_EVENT_RESET with the
 *   busy answer); read unprotect likewise after a mass erase.
 * - Leave: DNLOAD of length 0 in dfuIDLE/dfuDNLOAD-IDLE, whatever wValue; the next GETSTATUS answers
 *   dfuMANIFEST (or the board drops off first, PART_QUIRK_RESET_ON_LEAVE) and the board is gone.
 */

typedef struct SimBoard SimBoard;

typedef struct SimBoardOptions {
        const PartInfo *part;
        uint8_t unique_id[12]; /* 96-bit unique ID; serial string derived as the ROM does */
        double time_scale;     /* 1.0 = datasheet timing, 0.01 = 100x faster; <= 0 is taken as 1.0 */
        bool read_protected;
        /*
         * Bit n: sector n of the flash map (alternate setting 0, in address order) is write-protected.
         * Erasing or programming it does nothing and reports no error, as the ROM does for erases
         * (AN3156); only a verify notices.
         */
        uint64_t write_protected;
        /*
         * The board runs with (part->quirks | quirks) & ~quirks_off: a zeroed options struct gives the
         * part's own quirks, `quirks` adds extra ones, `quirks_off` removes some of the part's.
         */
        unsigned quirks;
        unsigned quirks_off;
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
        SIM_OK,         /* answered: *len bytes of data (IN) or accepted (OUT) */
        SIM_STALL,      /* protocol stall: -EPIPE on the host */
        SIM_NO_ANSWER,  /* never completes (fault injection): host times out */
        SIM_DISCONNECT, /* the board dropped off the bus (leave, reset, injected unplug) */
} SimResult;

/* Events the glue must act on after a request. */
typedef enum SimEvent {
        SIM_EVENT_NONE = 0,
        SIM_EVENT_RESET = 1 << 0, /* disconnect, then come back (option bytes, read unprotect) */
        SIM_EVENT_LEAVE = 1 << 1, /* disconnect for good: the application runs */
} SimEvent;

/* DFU 1.1 states and status codes, as on the wire. */
enum {
        SIM_STATE_APP_IDLE = 0,
        SIM_STATE_APP_DETACH = 1,
        SIM_STATE_IDLE = 2,
        SIM_STATE_DNLOAD_SYNC = 3,
        SIM_STATE_DNBUSY = 4,
        SIM_STATE_DNLOAD_IDLE = 5,
        SIM_STATE_MANIFEST_SYNC = 6,
        SIM_STATE_MANIFEST = 7,
        SIM_STATE_MANIFEST_WAIT_RESET = 8,
        SIM_STATE_UPLOAD_IDLE = 9,
        SIM_STATE_ERROR = 10,
};

enum {
        SIM_STATUS_OK = 0,
        SIM_STATUS_ERR_TARGET = 1,
        SIM_STATUS_ERR_FILE = 2,
        SIM_STATUS_ERR_WRITE = 3,
        SIM_STATUS_ERR_ERASE = 4,
        SIM_STATUS_ERR_CHECK_ERASED = 5,
        SIM_STATUS_ERR_PROG = 6,
        SIM_STATUS_ERR_VERIFY = 7,
        SIM_STATUS_ERR_ADDRESS = 8,
        SIM_STATUS_ERR_NOTDONE = 9,
        SIM_STATUS_ERR_FIRMWARE = 10,
        SIM_STATUS_ERR_VENDOR = 11,
        SIM_STATUS_ERR_USBR = 12,
        SIM_STATUS_ERR_POR = 13,
        SIM_STATUS_ERR_UNKNOWN = 14,
        SIM_STATUS_ERR_STALLEDPKT = 15,
};

/* NULL when the part's memory map does not parse or memory runs out. */
SimBoard *sim_board_new(const SimBoardOptions *opts);
SimBoard *sim_board_free(SimBoard *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(SimBoard *, sim_board_free);

/*
 * Power cycle into the bootloader again (after a leave, an injected unplug, or to start over): RAM is
 * lost, a running operation ends, flash, option bytes and pending injected faults are kept, the DFU
 * state starts afresh.
 */
void sim_board_reset(SimBoard *b);

/* The interface alternate setting (usbdevfs SETINTERFACE): 0, or -EINVAL when the board has no such alt. */
int sim_board_set_alt(SimBoard *b, unsigned alt);
unsigned sim_board_alt(const SimBoard *b);

const PartInfo *sim_board_part(const SimBoard *b);
unsigned sim_board_quirks(const SimBoard *b);
uint8_t sim_board_state(const SimBoard *b);
uint8_t sim_board_status(const SimBoard *b);
/* True once the board left DFU mode or was unplugged: every request answers SIM_DISCONNECT. */
bool sim_board_gone(const SimBoard *b);

/*
 * The 18-byte device descriptor followed by the whole configuration descriptor (sysfs "descriptors").
 * Returns the full length and copies at most size bytes (buf may be NULL with size 0).
 */
size_t sim_board_descriptors(const SimBoard *b, uint8_t *buf, size_t size);
/* Twelve upper-case hex digits from the unique ID, or the part's constant serial. */
const char *sim_board_serial(const SimBoard *b);

/*
 * One control transfer at time now_us (monotonic, microseconds). data holds wLength bytes for OUT and
 * receives up to wLength bytes for IN; *len is set to the bytes transferred. *ready_us is when the
 * answer may complete (>= now_us): a GETSTATUS sent before the pending operation has finished is
 * answered when it finishes. *events receives SimEvent bits.
 */
SimResult sim_board_control(SimBoard *b, const SimSetup *setup, uint8_t *data, size_t *len, uint64_t now_us,
                            uint64_t *ready_us, unsigned *events);
/*
 * Standard requests handled: GET_DESCRIPTOR (device, configuration, string; LANGID 0x0409, UTF-16LE),
 * GET_STATUS, GET/SET_CONFIGURATION, GET/SET_INTERFACE. DFU class requests go to interface 0.
 * While an operation runs the bootloader NAKs everything, so any request sent then is answered at the
 * operation's end (*ready_us), except, on PART_QUIRK_POLL_STALLS parts, polls after a DfuSe command
 * (set address, erase, mass erase) sent before it ends or its bwPollTimeout elapses: up to three in a
 * row stall at once, the next is answered busy. Polls after a block write always wait.
 * SIM_EVENT_RESET: the board has already reset itself; the glue re-enumerates it (the first request
 * after that waits for the operation that caused the reset).
 */

/* Fault injection. */
typedef enum SimFault {
        SIM_FAULT_NONE,
        SIM_FAULT_UNPLUG,    /* disconnect when the trigger fires */
        SIM_FAULT_STALL,     /* stall the next `count` requests */
        SIM_FAULT_STATUS,    /* answer the next GETSTATUS with dfuERROR + `status` */
        SIM_FAULT_NO_ANSWER, /* swallow the next `count` requests (0: every request from now on) */
} SimFault;

typedef enum SimPhase {
        SIM_PHASE_ANY,
        SIM_PHASE_ERASE,
        SIM_PHASE_WRITE,
        SIM_PHASE_READ,
        SIM_PHASE_LEAVE,
} SimPhase;

/*
 * Phases: ERASE starts with a DNLOAD of 0x41, WRITE with a DNLOAD block >= 2, READ with an UPLOAD
 * block >= 2, LEAVE with a DNLOAD of length 0; every other request (set address, GETSTATUS, ...)
 * belongs to the phase of the last one that started a phase.
 */
typedef struct SimFaultSpec {
        SimFault fault;
        SimPhase phase; /* trigger at the first request of this phase ... */
        unsigned after; /* ... after this many further requests in it */
        unsigned count; /* for STALL (0 counts as 1) and NO_ANSWER */
        bool polls;     /* only GETSTATUS requests count for `after`, and one of them fires it */
        uint8_t status; /* for STATUS */
} SimFaultSpec;

/* Queues a fault; specs fire independently, each once. -ENOSPC when SIM_FAULTS_MAX are queued. */
#define SIM_FAULTS_MAX 16
int sim_board_inject(SimBoard *b, const SimFaultSpec *f);
/* Drops every queued fault and ends any stall or silence in progress. */
void sim_board_clear_faults(SimBoard *b);

/*
 * While held, a started operation does not end: every poll answers dfuDNBUSY with its bwPollTimeout
 * (at least 1 ms, so a host keeps waiting instead of counting zero-wait polls). dfusd-sim's
 * --hold-until-busy keeps boards busy this way until enough of them are busy at once.
 */
void sim_board_hold(SimBoard *b, bool hold);

/*
 * Memory access for dumps and checks: any memory the board models (flash, option bytes, OTP, RAM the
 * bootloader reaches). -EFAULT when part of the range is not modelled.
 */
int sim_board_read_flash(const SimBoard *b, uint32_t address, uint8_t *buf, size_t size);
/* Preloads flash as if programmed by a previous job (ECC words written are marked programmed). */
int sim_board_write_flash(SimBoard *b, uint32_t address, const uint8_t *buf, size_t size);
uint32_t sim_board_flash_base(const SimBoard *b);
uint32_t sim_board_flash_size(const SimBoard *b);

/* Counters, written by the runner as JSON. */
typedef struct SimCounters {
        unsigned requests, getstatus, dnload, upload, clrstatus, abort, stalls;
        unsigned set_address, erase, mass_erase, blocks_written, leave;
        unsigned *erases_per_sector; /* n_sectors entries, owned by the board */
        size_t n_sectors;
        uint64_t bytes_written, bytes_read;
        /*
         * Sum over erases, writes and mass erases of max(operation time, reported bwPollTimeout) (a
         * host may not poll sooner), plus the full-speed bus time of every control transfer (see
         * sim_usb_transfer_us()). A set address does no work: only its bus time counts, the wait a
         * host spends after it is overhead of the host's choosing.
         */
        uint64_t device_min_us;
        uint64_t op_us;   /* operation times alone (erase, program), at the board's time scale */
        uint64_t wait_us; /* the waits a host cannot skip, as in device_min_us */
        uint64_t bus_us;  /* full-speed bus time alone; device_min_us = wait_us + bus_us */
        unsigned errors;  /* requests answered with a DFU error status */
} SimCounters;

const SimCounters *sim_board_counters(const SimBoard *b);

/*
 * Best-case full-speed bus time of one control transfer with data_len bytes of data: a SETUP
 * transaction, ceil(data_len / 64) data transactions and a status transaction, each costing a token,
 * a data packet header and CRC, a handshake and two turnarounds (105 bit times), plus the setup and
 * data bytes at worst-case bit stuffing (8 * 7/6 bit times per byte), at 12 Mbit/s. 2048 bytes:
 * about 1.9 ms; a GETSTATUS: about 37 us.
 */
uint64_t sim_usb_transfer_us(size_t data_len);
