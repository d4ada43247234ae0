/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libusb.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "memmap.h"
#include "parts.h"
#include "plan.h"

/*
 * The DfuSe protocol engine (ST AN3156) on libusb. One DfuseDevice per board and per thread; the
 * engine holds no global state, so the daemon runs one per busy board at the same time. Calls block:
 * the daemon runs them in a worker thread and reports through its event loop.
 */

typedef struct DfuseDevice DfuseDevice;

typedef enum DfusePhase {
        DFUSE_PHASE_CONNECT,
        DFUSE_PHASE_READ, /* reading sectors for skip decisions */
        DFUSE_PHASE_ERASE,
        DFUSE_PHASE_WRITE,
        DFUSE_PHASE_VERIFY,
        DFUSE_PHASE_LEAVE,
        DFUSE_PHASE_DONE,
        _DFUSE_PHASE_MAX,
} DfusePhase;

typedef struct DfuseInfo {
        char port_path[64]; /* "1-1.3" */
        char serial[64];
        char product[128];
        uint16_t vid, pid, bcd_device;
        uint16_t transfer_size;
        uint8_t attributes; /* DFU functional descriptor bmAttributes */
        uint16_t dfu_version;
        uint8_t interface_number;
        unsigned n_alt;
        char **alt_strings;   /* n_alt strings, as reported */
        MemMap *map;          /* parsed; NULL-free: a string that does not parse gives an empty layout */
        const PartInfo *part; /* best match, or NULL */
} DfuseInfo;

typedef struct DfuseProgress {
        DfusePhase phase;
        uint64_t bytes_done;  /* of the current phase */
        uint64_t bytes_total; /* of the current phase */
        uint32_t address;     /* current address */
        /* Erase phase: sectors erased so far and to erase (skipped ones not counted); 0 and 0 for a
         * mass erase and in every other phase. */
        unsigned sectors_done, sectors_total;
} DfuseProgress;

typedef void (*DfuseProgressFn)(const DfuseProgress *p, void *userdata);

typedef struct DfuseStats {
        unsigned requests; /* control transfers issued */
        unsigned polls;    /* GETSTATUS */
        unsigned erases_done, erases_skipped;
        uint64_t bytes_written, bytes_verified;
        uint64_t elapsed_us;
        /* Appended: how the run went, for benchmarks and the job report. */
        unsigned set_addresses;    /* set-address commands sent */
        unsigned stalls_tolerated; /* stalled polls taken as "busy" (quirk) */
        unsigned stuck_released;   /* commands stuck in dfuDNBUSY released by CLRSTATUS (quirk) */
        uint64_t bytes_read;       /* uploaded, for skip decisions and verify */
} DfuseStats;

const char *dfuse_phase_to_string(DfusePhase p);
const char *dfu_state_to_string(uint8_t state);
const char *dfu_status_to_string(uint8_t status);

/*
 * Opens the DFU interface of the board at a port path ("1-1.3"). ctx is the caller's and may be shared
 * by every board's thread; NULL gives the device a libusb context of its own, freed by dfuse_close().
 * With many boards flashing at once, a context per board scales better: on a shared context every
 * completed transfer wakes every thread waiting in a synchronous transfer.
 */
int dfuse_open(libusb_context *ctx, const char *port_path, DfuseDevice **ret, DfuError *error);
int dfuse_open_device(libusb_device *dev, DfuseDevice **ret, DfuError *error);
DfuseDevice *dfuse_close(DfuseDevice *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(DfuseDevice *, dfuse_close);

const DfuseInfo *dfuse_get_info(const DfuseDevice *d);

/* Overrides the per-request USB timeout the quirk table chose (default 5 s), e.g. from configuration. */
void dfuse_set_timeout(DfuseDevice *d, unsigned timeout_ms);

/* Caps the blocks written per set-address (DfuSe's block number is 16 bits: at most 65,533). Tests use a
 * small window to reach the wrap-around with small images. */
void dfuse_set_window(DfuseDevice *d, unsigned max_blocks);

/* The PartQuirk bits in effect for this board (the part's own plus the quirk table's). */
unsigned dfuse_get_quirks(const DfuseDevice *d);

/*
 * Runs the plan: bring to dfuIDLE, (read for skips,) erase, write, verify, leave. cancel (may be NULL)
 * is checked between any two transfers (-ECANCELED, the board left in dfuIDLE). A board that vanishes
 * after the leave request succeeded. progress (may be NULL) runs in the calling thread at the start of
 * every phase (bytes_done 0; LEAVE before the leave request is sent) and after every transfer that
 * moves data or completes an erase; throttle it there. stats (may be NULL) is zeroed
 * first. Failures: a negative errno and a message naming phase, address, DFU state and status:
 * -EIO the board reported an error status (then it is cleared, the board stays usable), -EACCES
 * errVENDOR (read-out protection), -ENODEV the board vanished, -ETIMEDOUT no answer within the USB
 * timeout, -EPIPE a stalled request, -EPROTO a state the protocol does not allow, -EINVAL a plan
 * that does not fit the board.
 */
int dfuse_execute(DfuseDevice *d, const Plan *plan, DfuseProgressFn progress, void *userdata,
                  const atomic_bool *cancel, DfuseStats *stats, DfuError *error);

/* Reads size bytes at address from alternate setting alt into buf (UPLOAD); leaves the board in dfuIDLE. */
int dfuse_read(DfuseDevice *d, unsigned alt, uint32_t address, uint8_t *buf, uint32_t size,
               const atomic_bool *cancel, DfuError *error);

/* Read-out protection as the ROM bootloader shows it: it refuses reads of the flash (errVENDOR). */
typedef enum DfuseProtection {
        DFUSE_PROTECTION_UNKNOWN,
        DFUSE_PROTECTION_NONE,
        DFUSE_PROTECTION_READ, /* RDP level 1: reads, erases and writes refused */
        _DFUSE_PROTECTION_MAX,
} DfuseProtection;

/* "unknown", "none", "read-protected". */
const char *dfuse_protection_to_string(DfuseProtection p);

/* Learns the board's read-out protection without changing anything: one block uploaded from the start
 * of the flash (alternate setting 0). Leaves the board in dfuIDLE. A failure other than the refusal
 * itself is returned (with *ret DFUSE_PROTECTION_UNKNOWN). */
int dfuse_probe_protection(DfuseDevice *d, const atomic_bool *cancel, DfuseProtection *ret, DfuError *error);

/* Read unprotect (0x92): the board mass-erases its flash and RAM, removes the protection and resets; it
 * does not answer again on this handle. Returns once the command was accepted (or the board dropped off
 * the bus doing it); the caller waits for it to enumerate again. */
int dfuse_read_unprotect(DfuseDevice *d, const atomic_bool *cancel, DfuError *error);

/* Writes a whole option-byte block (alternate setting alt, at address) the way the ROM takes it: one
 * download, after which the bootloader loads the option bytes and resets (it does not answer again on
 * this handle). Returns once the block was accepted or the board dropped off the bus doing it. */
int dfuse_write_option_bytes(DfuseDevice *d, unsigned alt, uint32_t address, const uint8_t *data,
                             uint16_t size, const atomic_bool *cancel, DfuError *error);
