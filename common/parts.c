/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "parts.h"

/*
 * Strings are byte-exact copies of what the ROM bootloaders report (see dfuse-protocol.md); where a
 * string is not confirmed by a device log it says so. Timing figures are datasheet *typical* values
 * at the widest parallelism (x32 / 64-bit / flash word), because estimates should match a healthy
 * board at 3.3 V; the engine uses the _max_ figures only to decide how long to keep waiting. Where a
 * figure is an estimate rather than a datasheet value, its comment says so.
 */

#define ST_VID          0x0483
#define ST_DFU_PID      0xDF11
#define PRODUCT_CLASSIC "STM32  BOOTLOADER" /* two spaces, F0..F7, L4 */
#define PRODUCT_FS      "DFU in FS Mode"    /* newer generations: G0, G4, H7, U5 */

#define F4_OPTION_BYTES   "@Option Bytes  /0x1FFFC000/01*016 e"
#define F4_OTP            "@OTP Memory /0x1FFF7800/01*512 e,01*016 e"
#define F4_DEVICE_FEATURE "@Device Feature/0xFFFF0000/01*004 e"
#define H7_FLASH_2M       "@Internal Flash   /0x08000000/16*128Kg"
#define H7_OPTION_BYTES   "@Option Bytes   /0x5200201C/01*128 e"
#define FLASH_256x8K      "@Internal Flash   /0x08000000/256*08Kg"
#define G0B1_SAME_STRING  "@Internal Flash   /0x08000000/256*02Kg"

static const char *const f405_alts[] = {
        "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
        F4_OPTION_BYTES,
        F4_OTP,
        F4_DEVICE_FEATURE,
        NULL,
};

static const char *const f411_alts[] = {
        "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,03*128Kg",
        F4_OPTION_BYTES,
        F4_OTP,
        F4_DEVICE_FEATURE,
        NULL,
};

static const char *const f429_alts[] = {
        "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg,04*016Kg,01*064Kg,07*128Kg",
        "@Option Bytes  /0x1FFFC000/01*016 e/0x1FFEC000/01*016 e",
        F4_OTP,
        F4_DEVICE_FEATURE,
        NULL,
};

static const char *const f722_alts[] = {
        "@Internal Flash  /0x08000000/04*016Kg,01*64Kg,03*128Kg",
        /* Not confirmed by a device log: the F72x option bytes start at 0x1FFF0000, 32 bytes. */
        "@Option Bytes  /0x1FFF0000/01*032 e",
        "@OTP Memory /0x1FF07800/01*528e",
        NULL,
};

static const char *const f072_alts[] = {
        "@Internal Flash  /0x08000000/064*0002Kg",
        /* Not confirmed by a device log: F0 option bytes at 0x1FFFF800, 16 bytes. */
        "@Option Bytes  /0x1FFFF800/01*016 e",
        NULL,
};

static const char *const l476_alts[] = {
        "@Internal Flash  /0x08000000/0256*0002Kg",
        "@Option Bytes  /0x1FFF7800/01*040 e",
        NULL,
};

static const char *const g431_alts[] = {
        "@Internal Flash   /0x08000000/64*02Kg",
        "@Option Bytes   /0x1FFF7800/01*40Be",
        NULL,
};

static const char *const h743_alts[] = {
        H7_FLASH_2M,
        H7_OPTION_BYTES,
        NULL,
};

static const char *const h723_alts[] = {
        "@Internal Flash   /0x08000000/8*128Kg",
        /* Not confirmed by a device log: assumed to match the H743's option-byte window. */
        H7_OPTION_BYTES,
        NULL,
};

static const char *const h7a3_alts[] = {
        FLASH_256x8K,
        NULL,
};

static const char *const u585_alts[] = {
        FLASH_256x8K,
        "@Option Bytes   /0x40022040/01*64 e",
        "@OTP Memory   /0x0BFA0000/01*512 e",
        NULL,
};

/* The G0B1 names its flash on every alternate setting, so option bytes cannot be found by name. */
static const char *const g0b1_alts[] = {
        G0B1_SAME_STRING,
        G0B1_SAME_STRING,
        G0B1_SAME_STRING,
        NULL,
};

/*
 * F4 timing, DS8626 (F405/F407) table "Flash memory programming", x32 typical: 16 KB sector 250 ms,
 * 64 KB 550 ms, 128 KB 1 s (max 2 s), mass erase 8 s (max 16 s x32; 32 s x8), word program 16 us
 * (max 100 us). 1 s / 128 KiB = 7.81 ms/KiB; the 250 ms floor covers the small sectors.
 */
#define F4_TIMING                                                                       \
        .erase_ms_per_kib_x100 = 781, .erase_ms_min = 250, .mass_erase_ms = 8000,       \
        .mass_erase_max_ms = 35000, .program_us_per_kib = 4096, .poll_timeout_ms = 100, \
        .erase_poll_timeout_ms = 1000

/*
 * H7 timing, DS12110 (H743/H753), x32 typical: 128 KB sector 1.1 s (max 2.2 s), 256-bit flash word
 * program 130 us (up to 290 us). The datasheet gives no bank erase figure we trust, so mass erase is
 * estimated as every sector erased in turn (16 x 1.1 s per 2 MB).
 */
#define H7_TIMING                                                                      \
        .erase_ms_per_kib_x100 = 859, .erase_ms_min = 100, .program_us_per_kib = 4160, \
        .poll_timeout_ms = 10, .erase_poll_timeout_ms = 1100

const PartInfo part_table[] = {
        {
                .name = "f405",
                .description = "STM32F405/F407 (1 MB)",
                .vid = ST_VID,
                .pid = ST_DFU_PID,
                .bcd_device = 0x2200,
                .transfer_size = 2048,
                .product = PRODUCT_CLASSIC,
                .alt_strings = f405_alts,
                F4_TIMING,
                .quirks = PART_QUIRK_MASS_ERASE_LIES | PART_QUIRK_ARRIVES_IN_ERROR,
        },
        {
                .name = "f411",
                .description = "STM32F411xE (512 KB)",
                .vid = ST_VID,
                .pid = ST_DFU_PID,
                .bcd_device = 0x2200,
                .transfer_size = 2048,
                .product = PRODUCT_CLASSIC,
                .alt_strings = f411_alts,
                /* DS10314 (F411): same cell as the F405; x8 maxima 800 ms/16 KB, 16 s mass erase. */
                F4_TIMING,
                .quirks = PART_QUIRK_ARRIVES_IN_ERROR,
        },
        {
                .name = "f429",
                .description = "STM32F42x/F43x (2 MB, dual bank)",
                .vid = ST_VID,
                .pid = ST_DFU_PID,
                .bcd_device = 0x2200,
                .transfer_size = 2048,
                .product = PRODUCT_CLASSIC,
                .alt_strings = f429_alts,
                /* DS9405 (F427/F429): same figures as DS8626; mass erase covers both banks. */
                .erase_ms_per_kib_x100 = 781,
                .erase_ms_min = 250,
                .mass_erase_ms = 16000,
                .mass_erase_max_ms = 64000,
                .program_us_per_kib = 4096,
                .poll_timeout_ms = 100,
                .erase_poll_timeout_ms = 1000,
                .quirks = PART_QUIRK_ARRIVES_IN_ERROR,
        },
        {
                .name = "f722",
                .description = "STM32F72x/F73x (512 KB)",
                .vid = ST_VID,
                .pid = ST_DFU_PID,
                .bcd_device = 0x2200,
                .transfer_size = 2048,
                .product = PRODUCT_CLASSIC,
                .serial = "STM32FxSTM32", /* every F723 reports this constant */
                .alt_strings = f722_alts,
                /* DS11853 (F722): x32 typ 16 KB 250 ms, 128 KB 1 s, mass erase 7 s, word 16 us. */
                .erase_ms_per_kib_x100 = 781,
                .erase_ms_min = 250,
                .mass_erase_ms = 7000,
                .mass_erase_max_ms = 32000,
                .program_us_per_kib = 4096,
                .poll_timeout_ms = 100,
                .erase_poll_timeout_ms = 1000,
        },
        {
                .name = "f072",
                .description = "STM32F070/F072 (128 KB)",
                .vid = ST_VID,
                .pid = ST_DFU_PID,
                .bcd_device = 0x2200,
                .transfer_size = 2048,
                .product = PRODUCT_CLASSIC,
                .serial = "FFFFFFFEFFFF",
                .alt_strings = f072_alts,
                /* DS9826 (F072): page (2 KB) erase 20-40 ms, mass erase 20-40 ms, half-word 53.5 us. */
                .erase_ms_per_kib_x100 = 1000,
                .erase_ms_min = 20,
                .mass_erase_ms = 20,
                .mass_erase_max_ms = 40,
                .program_us_per_kib = 27392,
                .poll_timeout_ms = 5,
                .erase_poll_timeout_ms = 40,
        },
        {
                .name = "l476",
                .description = "STM32L4 (512 KB, 2 KB pages)",
                .vid = ST_VID,
                .pid = ST_DFU_PID,
                .bcd_device = 0x2200,
                .transfer_size = 2048,
                .product = PRODUCT_CLASSIC,
                .alt_strings = l476_alts,
                .ecc_word = 8,
                /*
                 * DS10198 (L476): page erase typ 22 ms (max 24.47 ms), mass erase 22.1 ms, double word
                 * 81.7 us. The ROM asks for less than a page erase takes, which is why polls after an
                 * erase stall (PART_QUIRK_POLL_STALLS): 21 ms is what an L43x ROM reported in a dfu-util
                 * -v log ("Poll timeout 21 ms", ST community, "USB DFU on STM32L432 and STM32L433");
                 * no L476 log was found, so that L4 figure stands in for it.
                 */
                .erase_ms_per_kib_x100 = 1100,
                .erase_ms_min = 22,
                .mass_erase_ms = 23,
                .mass_erase_max_ms = 50,
                .program_us_per_kib = 10458,
                .poll_timeout_ms = 5,
                .erase_poll_timeout_ms = 21,
                .quirks = PART_QUIRK_POLL_STALLS,
        },
        {
                .name = "g431",
                .description = "STM32G431 (128 KB)",
                .vid = ST_VID,
                .pid = ST_DFU_PID,
                .bcd_device = 0x0200,
                .transfer_size = 1024,
                .product = PRODUCT_FS,
                .alt_strings = g431_alts,
                .ecc_word = 8,
                /* DS12589 (G431): page erase typ 22.02 ms, mass erase 22.13 ms, double word 81.69 us. */
                .erase_ms_per_kib_x100 = 1101,
                .erase_ms_min = 22,
                .mass_erase_ms = 23,
                .mass_erase_max_ms = 50,
                .program_us_per_kib = 10456,
                .poll_timeout_ms = 5,
                .erase_poll_timeout_ms = 25,
                .quirks = PART_QUIRK_RESET_ON_LEAVE,
        },
        {
                .name = "h743",
                .description = "STM32H743/H753/H750 (2 MB, dual bank)",
                .vid = ST_VID,
                .pid = ST_DFU_PID,
                .bcd_device = 0x0200,
                .transfer_size = 2048,
                .product = PRODUCT_FS,
                .alt_strings = h743_alts,
                .ecc_word = 32,
                H7_TIMING,
                .mass_erase_ms = 17600,
                .mass_erase_max_ms = 35200,
                .quirks = PART_QUIRK_STUCK_DNBUSY | PART_QUIRK_RESET_ON_LEAVE,
        },
        {
                .name = "h747",
                .description = "STM32H745/H747/H755/H757 (2 MB, dual bank, dual core)",
                .vid = ST_VID,
                .pid = ST_DFU_PID,
                .bcd_device = 0x0200,
                .transfer_size = 2048,
                .product = PRODUCT_FS,
                .alt_strings = h743_alts, /* same flash map as the H743 */
                .ecc_word = 32,
                .dual_core = true,
                /* DS12930 (H747): same flash cell and figures as DS12110. */
                H7_TIMING,
                .mass_erase_ms = 17600,
                .mass_erase_max_ms = 35200,
                .quirks = PART_QUIRK_RESET_ON_LEAVE,
        },
        {
                .name = "h723",
                .description = "STM32H723/H733/H725/H735 (1 MB)",
                .vid = ST_VID,
                .pid = ST_DFU_PID,
                .bcd_device = 0x0200,
                .transfer_size = 2048,
                .product = PRODUCT_FS,
                .alt_strings = h723_alts,
                .ecc_word = 32,
                /* DS13313 (H723): same 128 KB sector cell as the H743. */
                H7_TIMING,
                .mass_erase_ms = 8800,
                .mass_erase_max_ms = 17600,
                .quirks = PART_QUIRK_RESET_ON_LEAVE,
        },
        {
                .name = "h7a3",
                .description = "STM32H7A3/H7B3 (2 MB, 8 KB sectors)",
                .vid = ST_VID,
                .pid = ST_DFU_PID,
                .bcd_device = 0x0200,
                .transfer_size = 2048,
                .product = PRODUCT_FS,
                .alt_strings = h7a3_alts,
                .ecc_word = 16,
                /*
                 * Estimates, not datasheet figures (DS13195 was not checked): 8 KB sector erase about
                 * 20 ms (2.5 ms per KiB), 128-bit word program about 70 us, bank erase about 5 s.
                 */
                .erase_ms_per_kib_x100 = 250,
                .erase_ms_min = 20,
                .mass_erase_ms = 5120,
                .mass_erase_max_ms = 20000,
                .program_us_per_kib = 4480,
                .poll_timeout_ms = 10,
                .erase_poll_timeout_ms = 20,
                .quirks = PART_QUIRK_RESET_ON_LEAVE,
        },
        {
                .name = "u585",
                .description = "STM32U575/U585 (2 MB, 8 KB pages)",
                .vid = ST_VID,
                .pid = ST_DFU_PID,
                .bcd_device = 0x0200,
                .transfer_size = 2048,
                .product = PRODUCT_FS,
                .alt_strings = u585_alts,
                .ecc_word = 16,
                /*
                 * Estimates, not datasheet figures (DS13086 was not checked): 8 KB page erase about
                 * 1.5 ms (counted as 2 ms), bank erase about 3 ms, quad-word program about 118 us.
                 */
                .erase_ms_per_kib_x100 = 19,
                .erase_ms_min = 2,
                .mass_erase_ms = 3,
                .mass_erase_max_ms = 200,
                .program_us_per_kib = 7552,
                .poll_timeout_ms = 5,
                .erase_poll_timeout_ms = 5,
                .quirks = PART_QUIRK_RESET_ON_LEAVE,
        },
        {
                .name = "g0b1",
                .description = "STM32G0B1/G0C1 (512 KB, dual bank)",
                .vid = ST_VID,
                .pid = ST_DFU_PID,
                .bcd_device = 0x0200,
                .transfer_size = 1024,
                .product = PRODUCT_FS,
                .alt_strings = g0b1_alts,
                .ecc_word = 8,
                /* DS13560 (G0B1): page erase typ 22 ms, mass erase 22.1 ms, double word 85 us. */
                .erase_ms_per_kib_x100 = 1100,
                .erase_ms_min = 22,
                .mass_erase_ms = 23,
                .mass_erase_max_ms = 50,
                .program_us_per_kib = 10880,
                .poll_timeout_ms = 5,
                .erase_poll_timeout_ms = 25,
                .quirks = PART_QUIRK_SAME_ALT_STRINGS | PART_QUIRK_RESET_ON_LEAVE,
        },
};

const unsigned part_table_size = ELEMENTSOF(part_table);

const PartInfo *part_find(const char *name) {
        if (!name)
                return NULL;
        for (unsigned i = 0; i < part_table_size; i++)
                if (strcasecmp(part_table[i].name, name) == 0)
                        return &part_table[i];
        return NULL;
}

static unsigned part_n_alts(const PartInfo *p) {
        unsigned n = 0;

        while (p->alt_strings[n])
                n++;
        return n;
}

/*
 * The flash string (alternate setting 0) must equal the part's exactly, spacing included, and no
 * other setting the two have in common may differ. Boards may report fewer or more settings than
 * the table lists (an OTP or engineering area), so among the parts that qualify the one with the
 * most equal strings wins, then the same number of settings, then bcdDevice; ties go to the
 * earlier entry (H743 before H747: their bootloaders report the same map).
 */
const PartInfo *part_match(const char *const *alt_strings, unsigned n_alt, uint16_t bcd_device) {
        const PartInfo *best = NULL;
        int best_score = -1;

        if (!alt_strings || n_alt == 0 || !alt_strings[0])
                return NULL;
        for (unsigned i = 0; i < part_table_size; i++) {
                const PartInfo *p = &part_table[i];
                unsigned n = part_n_alts(p), common = MIN(n, n_alt);
                bool ok = true;
                int score;

                for (unsigned k = 0; k < common && ok; k++)
                        ok = alt_strings[k] && streq(alt_strings[k], p->alt_strings[k]);
                if (!ok)
                        continue;
                score = (int)common * 4 + (n == n_alt ? 2 : 0) + (p->bcd_device == bcd_device ? 1 : 0);
                if (score > best_score) {
                        best = p;
                        best_score = score;
                }
        }
        return best;
}

unsigned part_sector_erase_ms(const PartInfo *p, uint32_t sector_size) {
        uint64_t ms;

        if (!p)
                return 0;
        ms = (uint64_t)sector_size * p->erase_ms_per_kib_x100 / (1024 * 100);
        return (unsigned)MAX(ms, (uint64_t)p->erase_ms_min);
}

unsigned part_program_us(const PartInfo *p, uint32_t bytes) {
        if (!p)
                return 0;
        return (unsigned)DIV_ROUND_UP((uint64_t)bytes * p->program_us_per_kib, 1024);
}

unsigned part_mass_erase_ms(const PartInfo *p) {
        return p ? p->mass_erase_ms : 0;
}

int part_memmap(const PartInfo *p, MemMap **ret, DfuError *error) {
        _cleanup_(memmap_freep) MemMap *map = NULL;
        int r;

        if (!p || !ret)
                return dfu_error_set(error, EINVAL, "No part");
        map = memmap_new();
        if (!map)
                return dfu_error_set(error, ENOMEM, "Out of memory");
        for (unsigned i = 0; p->alt_strings[i]; i++) {
                r = memmap_add(map, p->alt_strings[i], error);
                if (r < 0)
                        return dfu_error_prefix(error, "part %s: ", p->name);
        }
        *ret = TAKE_PTR(map);
        return 0;
}
