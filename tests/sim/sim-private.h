/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "memmap.h"
#include "sim.h"

/* DFU requests (bRequest of class requests to the DFU interface). */
enum {
        DFU_DETACH = 0,
        DFU_DNLOAD = 1,
        DFU_UPLOAD = 2,
        DFU_GETSTATUS = 3,
        DFU_CLRSTATUS = 4,
        DFU_GETSTATE = 5,
        DFU_ABORT = 6,
};

/* DfuSe commands, first byte of a DNLOAD block 0. */
enum {
        DFUSE_GET_COMMANDS = 0x00,
        DFUSE_SET_ADDRESS = 0x21,
        DFUSE_ERASE = 0x41,
        DFUSE_READ_UNPROTECT = 0x92,
};

/* One sector of internal flash, from alternate setting 0. */
typedef struct SimSector {
        uint32_t address, size;
        uint8_t attributes; /* MEM_* */
} SimSector;

typedef enum SimAreaKind {
        SIM_AREA_OPTION, /* written whole through the option registers; the board resets */
        SIM_AREA_OTP,    /* one-time programmable: bits only clear, nothing erases them */
        SIM_AREA_PLAIN,  /* anything else the ROM lists (device feature): stored as written */
} SimAreaKind;

/* A region of an alternate setting other than 0 (option bytes, OTP, ...). */
typedef struct SimArea {
        uint32_t address, size;
        SimAreaKind kind;
        uint8_t attributes;
        uint8_t *data;
} SimArea;

typedef struct SimRange {
        uint32_t address, size;
} SimRange;

#define SIM_RAM_RANGES 3

/* What a family's ROM bootloader can reach besides the memories it lists: RAM and system memory. */
typedef struct SimFamily {
        const char *prefix; /* of PartInfo.name */
        SimRange ram[SIM_RAM_RANGES];
        SimRange system;
} SimFamily;

typedef enum SimMemKind {
        SIM_MEM_NONE,
        SIM_MEM_FLASH,
        SIM_MEM_AREA,
        SIM_MEM_RAM,
        SIM_MEM_SYSTEM,
} SimMemKind;

/* The command a DNLOAD left for the next GETSTATUS. */
typedef enum SimOp {
        SIM_OP_NONE,
        SIM_OP_SET_ADDRESS,
        SIM_OP_ERASE,
        SIM_OP_MASS_ERASE,
        SIM_OP_UNPROTECT,
        SIM_OP_WRITE,
} SimOp;

typedef struct SimFaultSlot {
        SimFaultSpec spec;
        unsigned seen; /* requests of the phase seen so far */
        bool fired;
} SimFaultSlot;

struct SimBoard {
        const PartInfo *part;
        unsigned quirks;
        double time_scale;
        uint8_t unique_id[12];
        char serial[13];
        unsigned n_alt;

        /* Memory. */
        MemMap *map;
        SimSector *sectors;
        size_t n_sectors;
        uint32_t flash_base, flash_size;
        uint8_t *flash;
        uint8_t *programmed; /* per ECC word: 1 once programmed, 0 after erase (ECC parts only) */
        SimArea *areas;
        size_t n_areas;
        const SimFamily *family;
        uint8_t *ram[SIM_RAM_RANGES]; /* allocated at the first write: reads of untouched RAM give 0 */
        bool read_protected;
        uint64_t write_protected; /* sector bits */

        /* DFU. */
        uint8_t state, status;
        unsigned alt;
        uint32_t pointer;
        SimOp op;
        uint32_t op_address;
        uint8_t *op_data; /* wTransferSize bytes */
        size_t op_len;
        uint8_t op_status; /* result of the operation, told by the GETSTATUS after the busy one */
        bool op_reset;     /* the operation resets the board */
        bool op_stuck;     /* PART_QUIRK_STUCK_DNBUSY: busy until two CLRSTATUS */
        unsigned stuck_clears;
        unsigned poll_ms; /* bwPollTimeout of the running operation */
        uint64_t busy_until;
        uint64_t poll_deadline; /* start of the operation + bwPollTimeout */
        unsigned early_polls;
        bool gone;

        /* Faults. */
        SimFaultSlot faults[SIM_FAULTS_MAX];
        size_t n_faults;
        SimPhase phase;
        unsigned stall_left;
        unsigned silent_left; /* UINT_MAX: for good */
        bool status_fault;
        uint8_t status_fault_code;
        bool held; /* sim_board_hold() */

        SimCounters counters;
};

/* sim-mem.c */
int sim_mem_init(SimBoard *b);
void sim_mem_done(SimBoard *b);
void sim_mem_power_cycle(SimBoard *b);
SimMemKind sim_mem_classify(const SimBoard *b, uint32_t address, uint32_t size, SimArea **ret_area);
const SimSector *sim_mem_find_sector(const SimBoard *b, uint32_t address, size_t *ret_index);
/* These return a DFU status code. */
uint8_t sim_mem_erase_sector(SimBoard *b, uint32_t address, const SimSector **ret);
void sim_mem_mass_erase(SimBoard *b);
/* Read unprotect: the option bytes say RDP level 0 again. */
void sim_mem_set_rdp_level0(SimBoard *b);
uint8_t sim_mem_write(SimBoard *b, uint32_t address, const uint8_t *data, size_t size, bool *ret_reset);
/* Readable bytes copied from address (fewer at the end of a memory), or -EFAULT. */
int sim_mem_read(const SimBoard *b, uint32_t address, uint8_t *buf, size_t size);
const SimFamily *sim_family_find(const char *part_name);

/* sim-desc.c */
void sim_desc_serial(const SimBoardOptions *opts, char out[static 13]);
SimResult sim_desc_standard(SimBoard *b, const SimSetup *s, uint8_t *data, size_t *len);

/* sim-dfu.c */
void sim_dfu_power_on(SimBoard *b);
SimResult sim_dfu_request(SimBoard *b, const SimSetup *s, uint8_t *data, size_t *len, uint64_t now,
                          uint64_t *ready, unsigned *events);

/* sim-fault.c */
SimPhase sim_fault_phase(const SimSetup *s, const uint8_t *data);
SimResult sim_fault_check(SimBoard *b, SimPhase phase, bool poll);

/* sim-board.c */
uint64_t sim_scaled_us(const SimBoard *b, uint64_t us);
unsigned sim_scaled_poll_ms(const SimBoard *b, unsigned ms);
