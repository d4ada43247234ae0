/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the engine's files share behind dfuse.h: the device object, the requests and the quirks. */

#include <time.h>

#include "dfuse.h"

enum {
        DFU_REQ_DETACH = 0,
        DFU_REQ_DNLOAD = 1,
        DFU_REQ_UPLOAD = 2,
        DFU_REQ_GETSTATUS = 3,
        DFU_REQ_CLRSTATUS = 4,
        DFU_REQ_GETSTATE = 5,
        DFU_REQ_ABORT = 6,
};

enum {
        DFU_STATE_APP_IDLE = 0,
        DFU_STATE_APP_DETACH = 1,
        DFU_STATE_IDLE = 2,
        DFU_STATE_DNLOAD_SYNC = 3,
        DFU_STATE_DNBUSY = 4,
        DFU_STATE_DNLOAD_IDLE = 5,
        DFU_STATE_MANIFEST_SYNC = 6,
        DFU_STATE_MANIFEST = 7,
        DFU_STATE_MANIFEST_WAIT_RESET = 8,
        DFU_STATE_UPLOAD_IDLE = 9,
        DFU_STATE_ERROR = 10,
};

enum {
        DFU_STATUS_OK = 0,
        DFU_STATUS_ERR_TARGET = 1,
        DFU_STATUS_ERR_VENDOR = 11,
};

enum {
        DFUSE_CMD_GET_COMMANDS = 0x00,
        DFUSE_CMD_SET_ADDRESS = 0x21,
        DFUSE_CMD_ERASE = 0x41,
        DFUSE_CMD_READ_UNPROTECT = 0x92,
};

/* Block numbers 2..65535 follow one set-address; 65535 itself is left unused, as a margin against
 * bootloaders that count it as a wrap to 0. */
#define DFUSE_MAX_BLOCKS_PER_ADDRESS (65535u - 2u)

/* What the quirk table says about one board. */
typedef struct DfuseQuirks {
        unsigned part_quirks;      /* PartQuirk bits in effect */
        unsigned timeout_ms;       /* per control transfer */
        unsigned poll_stalls;      /* stalled polls taken as "busy" */
        unsigned mass_erase_ms;    /* minimum time a mass erase may take, whatever bwPollTimeout says */
        bool clrstatus_on_arrival; /* skip the first GETSTATUS: the board is known to start in dfuERROR */
        bool double_clrstatus;     /* a command stuck in dfuDNBUSY is released by two CLRSTATUS */
        bool reset_on_leave;       /* no answer to the leave GETSTATUS, a timeout included, is success */
} DfuseQuirks;

void dfuse_quirks_lookup(uint16_t vid, uint16_t pid, uint16_t bcd_device, const PartInfo *part,
                         DfuseQuirks *ret);

/* One decoded GETSTATUS answer. */
typedef struct DfuStatus {
        uint8_t status;
        uint32_t poll_timeout_ms;
        uint8_t state;
        uint8_t string_index;
} DfuStatus;

int dfu_status_decode(const uint8_t *buf, size_t len, DfuStatus *ret);

/* "1-1.3" -> bus 1, ports {1, 3}. Returns the number of ports or a negative errno. */
int usb_port_path_parse(const char *s, uint8_t *ret_bus, uint8_t *ports, size_t max_ports);
int usb_port_path_format(uint8_t bus, const uint8_t *ports, size_t n_ports, char *buf, size_t size);

int libusb_error_to_errno(int r);

/* What the engine is doing, for messages: "erase of sector 0x08020000". */
typedef struct DfuseOp {
        DfusePhase phase;
        const char *what; /* "erase of sector", "write of block at", ... */
        uint32_t address;
        bool mass_erase;
        bool no_address; /* the message names no address */
} DfuseOp;

struct DfuseDevice {
        libusb_context *own_ctx; /* dfuse_open(NULL, ...): freed with the device */
        libusb_device *dev;
        libusb_device_handle *handle;
        bool claimed;
        int alt_current; /* -1: unknown */
        DfuseInfo info;
        DfuseQuirks quirks;

        bool arrived;        /* no request sent yet since open: the arrival quirks apply */
        unsigned max_blocks; /* per set-address window: DFUSE_MAX_BLOCKS_PER_ADDRESS, less in tests */

        /* Per call of dfuse_execute()/dfuse_read(). */
        DfuseStats *stats; /* never NULL while a call runs: the caller's or own_stats */
        DfuseStats own_stats;
        const atomic_bool *cancel;
        uint8_t last_state; /* last state the board reported or a request implies */
        bool pointer_valid; /* the address pointer is known: this call set it */
        uint32_t pointer;
        DfuseOp last_op; /* what ran last, for the cancellation message */
};

/*
 * The state of a device nothing was sent to yet: the real set-address window, alternate setting
 * unknown. dfuse_open_device() starts with it, and so does a test that puts a device of its own
 * making around an in-process transport.
 */
void dfuse_device_init(DfuseDevice *d);

/* Sets up the per-call fields and brings the board to dfuIDLE on the given alternate setting. */
void dfuse_call_begin(DfuseDevice *d, DfuseStats *stats, const atomic_bool *cancel);
int dfuse_call_end(DfuseDevice *d, int r, uint64_t start_us, DfuError *error);

/* Raw requests. Each returns bytes transferred or a negative errno and counts itself. */
int dfu_request_out(DfuseDevice *d, uint8_t request, uint16_t value, const uint8_t *data, uint16_t len);
int dfu_request_in(DfuseDevice *d, uint8_t request, uint16_t value, uint8_t *data, uint16_t len,
                   unsigned timeout_ms);
int dfu_get_status(DfuseDevice *d, DfuStatus *ret, unsigned timeout_ms);

/* Protocol steps (usb-dfuse-proto.c); on failure they fill error with the op's context. */
int dfuse_to_idle(DfuseDevice *d, DfuError *error);
int dfuse_abort(DfuseDevice *d, const DfuseOp *op, DfuError *error);
int dfuse_ready_for_dnload(DfuseDevice *d, const DfuseOp *op, DfuError *error);
int dfuse_select_alt(DfuseDevice *d, unsigned alt, DfuError *error);
int dfuse_dnload_wait(DfuseDevice *d, uint16_t block, const uint8_t *data, uint16_t len, const DfuseOp *op,
                      DfuError *error);
int dfuse_set_address(DfuseDevice *d, uint32_t address, const DfuseOp *op, DfuError *error);
int dfuse_erase_sector(DfuseDevice *d, uint32_t address, DfuError *error);
int dfuse_mass_erase(DfuseDevice *d, DfuError *error);
/* Progress of one phase across several calls. */
typedef struct ProgressCtx {
        DfuseProgressFn fn;
        void *userdata;
        uint64_t done, total;
        unsigned sectors_done, sectors_total; /* erase phase only */
} ProgressCtx;

void progress_add(ProgressCtx *pc, DfusePhase phase, uint32_t address, uint64_t bytes);

int dfuse_upload_range(DfuseDevice *d, uint32_t address, uint8_t *buf, uint32_t size, const DfuseOp *op,
                       ProgressCtx *pc, DfuError *error);
int dfuse_leave(DfuseDevice *d, bool has_address, uint32_t address, DfuError *error);
bool dfuse_cancelled(const DfuseDevice *d);
int dfuse_fail(DfuseDevice *d, int r, const DfuseOp *op, const DfuStatus *st, DfuError *error);

/* H743 rev V: two CLRSTATUS release a command stuck in dfuDNBUSY. */
int dfuse_clear_stuck(DfuseDevice *d, const DfuseOp *op, DfuError *error);

uint64_t now_us(void);
/* Monotonic, absolute: never wakes before deadline (microseconds of now_us()). */
void sleep_until_us(uint64_t deadline);
