/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "option-bytes.h"
#include "parse-util.h"

#define NONE (-1)

static const OptionBytesValue rdp_values[] = {{"0", 0xAA}, {"1", 0xBB}, {"2", 0xCC}, {}};
static const OptionBytesValue bit_values[] = {{"0", 0}, {"1", 1}, {}};
/* F4/F7 BOR_LEV: 00 level 3 (2.70-3.60 V), 01 level 2, 10 level 1, 11 off. */
static const OptionBytesValue f4_bor_values[] = {{"3", 0}, {"2", 1}, {"1", 2}, {"off", 3}, {}};
/* L4/G4 BOR_LEV: levels 0 (1.7 V) to 4 (2.8 V); 5-7 reserved. */
static const OptionBytesValue l4_bor_values[] = {{"0", 0}, {"1", 1}, {"2", 2}, {"3", 3}, {"4", 4}, {}};
/* H7 BOR_LEV: 00 off, 01 level 1 (2.1 V), 10 level 2 (2.4 V), 11 level 3 (2.7 V). */
static const OptionBytesValue h7_bor_values[] = {{"off", 0}, {"1", 1}, {"2", 2}, {"3", 3}, {}};

#define FIELD(n, off, sh, w, cmp, vals, rst, desc)                                                    \
        {                                                                                             \
                .name = n, .offset = off, .shift = sh, .width = w, .complement = cmp, .mirror = NONE, \
                .values = vals, .reset = rst, .description = desc                                     \
        }
#define MIRRORED(n, off, sh, w, mir, vals, rst, desc)                                                 \
        {                                                                                             \
                .name = n, .offset = off, .shift = sh, .width = w, .complement = NONE, .mirror = mir, \
                .values = vals, .reset = rst, .description = desc                                     \
        }

/*
 * F4: RM0090 (F405/F407/F42x) section 3.7.1, Table 16 "Option byte organization", and RM0383 (F411)
 * Table 9: 0x1FFFC000 [15:8] RDP, [7:0] USER (nRST_STDBY 7, nRST_STOP 6, WDG_SW 5, BOR_LEV 3:2);
 * 0x1FFFC008 [11:0] nWRP (one bit per sector, 1 = not protected). The flash array keeps the bitwise
 * complement of each half-word in the half-word above it (not confirmed by a device log for the F4:
 * the tables list the half-words only), as the F0/F1/F3 tables show explicitly.
 */
static const OptionBytesField f4_fields[] = {
        FIELD("rdp", 0, 8, 8, 2, rdp_values, 0xAA, "read-out protection level"),
        FIELD("bor_lev", 0, 2, 2, 2, f4_bor_values, 3, "brown-out reset level"),
        FIELD("bfb2", 0, 4, 1, 2, bit_values, 0, "boot from bank 2 (F42x dual bank; 0 elsewhere)"),
        FIELD("wdg_sw", 0, 5, 1, 2, bit_values, 1, "watchdog by software (1) or hardware (0)"),
        FIELD("nrst_stop", 0, 6, 1, 2, bit_values, 1, "no reset entering Stop"),
        FIELD("nrst_stdby", 0, 7, 1, 2, bit_values, 1, "no reset entering Standby"),
        FIELD("nwrp", 8, 0, 12, 10, NULL, 0xFFF, "write protection per sector, 0 = protected"),
};

/*
 * F7: RM0431 (F72x/F73x) section 3.4.1, Table 8 "Option byte organization": 0x1FFF0000 [15:8] RDP,
 * [7:0] USER (nRST_STDBY 7, nRST_STOP 6, IWDG_SW 5, WWDG_SW 4, BOR_LEV 3:2); 0x1FFF0008 [7:0] nWRP;
 * 0x1FFF0010 BOOT_ADD0, 0x1FFF0018 BOOT_ADD1 ([15:0], address bits 29:14); complements as for the F4.
 */
static const OptionBytesField f7_fields[] = {
        FIELD("rdp", 0, 8, 8, 2, rdp_values, 0xAA, "read-out protection level"),
        FIELD("bor_lev", 0, 2, 2, 2, f4_bor_values, 3, "brown-out reset level"),
        FIELD("wwdg_sw", 0, 4, 1, 2, bit_values, 1, "window watchdog by software"),
        FIELD("iwdg_sw", 0, 5, 1, 2, bit_values, 1, "independent watchdog by software"),
        FIELD("nrst_stop", 0, 6, 1, 2, bit_values, 1, "no reset entering Stop"),
        FIELD("nrst_stdby", 0, 7, 1, 2, bit_values, 1, "no reset entering Standby"),
        FIELD("nwrp", 8, 0, 8, 10, NULL, 0xFF, "write protection per sector, 0 = protected"),
        FIELD("boot_add0", 16, 0, 16, 18, NULL, 0x0080, "boot address with BOOT0 low, bits 29:14"),
        FIELD("boot_add1", 24, 0, 16, 26, NULL, 0x0040, "boot address with BOOT0 high, bits 29:14"),
};

/*
 * L4: RM0351 section 3.4.1, Table 13 "Option byte organization" and FLASH_OPTR (3.7.8, reset
 * 0xFFEFF8AA): double words at 0x1FFF7800, the value in [31:0] and its complement in [63:32]: USER and
 * RDP (RDP 7:0, BOR_LEV 10:8, nRST_STOP 12, nRST_STDBY 13, nRST_SHDW 14, IWDG_SW 16, IWDG_STOP 17,
 * IWDG_STDBY 18, WWDG_SW 19, BFB2 20, DUALBANK 21, nBOOT1 23, SRAM2_PE 24, SRAM2_RST 25), PCROP1_STRT
 * (+8), PCROP1_END (+16), WRP1AR (+24: start 7:0, end 23:16), WRP1BR (+32).
 */
static const OptionBytesField l4_fields[] = {
        FIELD("rdp", 0, 0, 8, 4, rdp_values, 0xAA, "read-out protection level"),
        FIELD("bor_lev", 0, 8, 3, 4, l4_bor_values, 0, "brown-out reset level"),
        FIELD("nrst_stop", 0, 12, 1, 4, bit_values, 1, "no reset entering Stop"),
        FIELD("nrst_stdby", 0, 13, 1, 4, bit_values, 1, "no reset entering Standby"),
        FIELD("nrst_shdw", 0, 14, 1, 4, bit_values, 1, "no reset entering Shutdown"),
        FIELD("iwdg_sw", 0, 16, 1, 4, bit_values, 1, "independent watchdog by software"),
        FIELD("iwdg_stop", 0, 17, 1, 4, bit_values, 1, "independent watchdog runs in Stop"),
        FIELD("iwdg_stdby", 0, 18, 1, 4, bit_values, 1, "independent watchdog runs in Standby"),
        FIELD("wwdg_sw", 0, 19, 1, 4, bit_values, 1, "window watchdog by software"),
        FIELD("bfb2", 0, 20, 1, 4, bit_values, 0, "boot from bank 2"),
        FIELD("dualbank", 0, 21, 1, 4, bit_values, 1, "dual-bank flash (1 MB parts)"),
        FIELD("nboot1", 0, 23, 1, 4, bit_values, 1, "boot configuration with BOOT0"),
        FIELD("sram2_pe", 0, 24, 1, 4, bit_values, 1, "SRAM2 parity check off"),
        FIELD("sram2_rst", 0, 25, 1, 4, bit_values, 1, "SRAM2 kept at reset"),
        FIELD("wrp1a_strt", 24, 0, 8, 28, NULL, 0xFF, "bank 1 area A write protection, first page"),
        FIELD("wrp1a_end", 24, 16, 8, 28, NULL, 0x00, "bank 1 area A write protection, last page"),
        FIELD("wrp1b_strt", 32, 0, 8, 36, NULL, 0xFF, "bank 1 area B write protection, first page"),
        FIELD("wrp1b_end", 32, 16, 8, 36, NULL, 0x00, "bank 1 area B write protection, last page"),
};

/*
 * G4: RM0440 section 5.4.1, Table 29 "Option byte organization" and FLASH_OPTR (5.7.8, reset
 * 0xFFEFF8AA on category 2 parts such as the G431): the L4's double-word layout; OPTR adds nSWBOOT0 26,
 * nBOOT0 27, NRST_MODE 29:28, IRHEN 30, and bit 25 is CCMSRAM_RST.
 */
static const OptionBytesValue nrst_mode_values[] = {
        {"reset-input", 1}, {"gpio", 2}, {"bidirectional", 3}, {}};
static const OptionBytesField g4_fields[] = {
        FIELD("rdp", 0, 0, 8, 4, rdp_values, 0xAA, "read-out protection level"),
        FIELD("bor_lev", 0, 8, 3, 4, l4_bor_values, 0, "brown-out reset level"),
        FIELD("nrst_stop", 0, 12, 1, 4, bit_values, 1, "no reset entering Stop"),
        FIELD("nrst_stdby", 0, 13, 1, 4, bit_values, 1, "no reset entering Standby"),
        FIELD("nrst_shdw", 0, 14, 1, 4, bit_values, 1, "no reset entering Shutdown"),
        FIELD("iwdg_sw", 0, 16, 1, 4, bit_values, 1, "independent watchdog by software"),
        FIELD("iwdg_stop", 0, 17, 1, 4, bit_values, 1, "independent watchdog runs in Stop"),
        FIELD("iwdg_stdby", 0, 18, 1, 4, bit_values, 1, "independent watchdog runs in Standby"),
        FIELD("wwdg_sw", 0, 19, 1, 4, bit_values, 1, "window watchdog by software"),
        FIELD("bfb2", 0, 20, 1, 4, bit_values, 0, "boot from bank 2 (category 3 parts; 0 elsewhere)"),
        FIELD("nboot1", 0, 23, 1, 4, bit_values, 1, "boot configuration with BOOT0"),
        FIELD("sram_pe", 0, 24, 1, 4, bit_values, 1, "SRAM parity check off"),
        FIELD("ccmsram_rst", 0, 25, 1, 4, bit_values, 1, "CCM SRAM kept at reset"),
        FIELD("nswboot0", 0, 26, 1, 4, bit_values, 1, "BOOT0 from the pin (1) or nBOOT0 (0)"),
        FIELD("nboot0", 0, 27, 1, 4, bit_values, 1, "BOOT0 value when nSWBOOT0 is 0"),
        FIELD("nrst_mode", 0, 28, 2, 4, nrst_mode_values, 3, "PG10 as reset input, GPIO or both"),
        FIELD("irhen", 0, 30, 1, 4, bit_values, 1, "internal resets drive the NRST pin"),
        FIELD("wrp1a_strt", 24, 0, 7, 28, NULL, 0x7F, "area A write protection, first page"),
        FIELD("wrp1a_end", 24, 16, 7, 28, NULL, 0x00, "area A write protection, last page"),
        FIELD("wrp1b_strt", 32, 0, 7, 36, NULL, 0x7F, "area B write protection, first page"),
        FIELD("wrp1b_end", 32, 16, 7, 36, NULL, 0x00, "area B write protection, last page"),
};

/*
 * H7: RM0433 (H742/H743/H750/H753) section 4.9.8 FLASH_OPTSR_CUR and 4.9.9 FLASH_OPTSR_PRG, and
 * RM0399 (H745/H747) likewise: the "Option Bytes" alternate setting shows the option registers from
 * 0x5200201C: OPTSR_CUR (+0) and OPTSR_PRG (+4), OPTCCR (+8), PRAR_CUR1/PRG1 (+12/+16), SCAR_CUR1/PRG1
 * (+20/+24), WPSN_CUR1R/PRG1R (+28/+32), BOOT_CUR/PRG (+36/+40). No complements: a field is written to
 * its _PRG image too. OPTSR: BOR_LEV 3:2, IWDG1_SW 4, NRST_STOP_D1 6, NRST_STBY_D1 7, RDP 15:8,
 * FZ_IWDG_STOP 17, FZ_IWDG_SDBY 18, SECURITY 21, IO_HSLV 29, SWAP_BANK_OPT 31.
 */
static const OptionBytesField h7_fields[] = {
        MIRRORED("rdp", 0, 8, 8, 4, rdp_values, 0xAA, "read-out protection level"),
        MIRRORED("bor_lev", 0, 2, 2, 4, h7_bor_values, 0, "brown-out reset level"),
        MIRRORED("iwdg1_sw", 0, 4, 1, 4, bit_values, 1, "independent watchdog 1 by software"),
        MIRRORED("nrst_stop_d1", 0, 6, 1, 4, bit_values, 1, "no reset when D1 enters Stop"),
        MIRRORED("nrst_stby_d1", 0, 7, 1, 4, bit_values, 1, "no reset when D1 enters Standby"),
        MIRRORED("iwdg_fz_stop", 0, 17, 1, 4, bit_values, 1, "independent watchdog runs in Stop"),
        MIRRORED("iwdg_fz_sdby", 0, 18, 1, 4, bit_values, 1, "independent watchdog runs in Standby"),
        MIRRORED("security", 0, 21, 1, 4, bit_values, 0, "secure access mode"),
        MIRRORED("io_hslv", 0, 29, 1, 4, bit_values, 0, "I/O high speed at low voltage"),
        MIRRORED("swap_bank", 0, 31, 1, 4, bit_values, 0, "banks swapped"),
        MIRRORED("wrpsn", 28, 0, 8, 32, NULL, 0xFF, "bank 1 write protection per sector, 0 = protected"),
};

/* Factory blocks where reserved bits are not all ones (the tables' reset values). */
static const uint8_t f4_reset[16] = {0xEF, 0xAA, 0x10, 0x55, 0xFF, 0xFF, 0xFF, 0xFF,
                                     0xFF, 0x0F, 0x00, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF};
/* F72x: FLASH_OPTCR reset 0xC0FFAAFD, OPTCR1 0x00400080 (BOOT_ADD1 0x0040, BOOT_ADD0 0x0080). */
static const uint8_t f7_reset[32] = {0xFF, 0xAA, 0x00, 0x55, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC0, 0x00,
                                     0x3F, 0xFF, 0xFF, 0xFF, 0xFF, 0x80, 0x00, 0x7F, 0xFF, 0xFF, 0xFF,
                                     0xFF, 0xFF, 0x40, 0x00, 0xBF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};

static const char *const f4_parts[] = {"f405", "f411", "f429", NULL};
static const char *const f7_parts[] = {"f722", NULL};
static const char *const l4_parts[] = {"l476", NULL};
static const char *const g4_parts[] = {"g431", NULL};
static const char *const h7_parts[] = {"h743", "h747", "h723", NULL};

const OptionBytesFamily option_bytes_families[] = {
        {"f4", "STM32F405/F407/F411/F42x", f4_parts, 0x1FFFC000, 16, f4_fields, ELEMENTSOF(f4_fields),
         f4_reset, "RM0090 Table 16, RM0383 Table 9"},
        {"f7", "STM32F72x/F73x", f7_parts, 0x1FFF0000, 32, f7_fields, ELEMENTSOF(f7_fields), f7_reset,
         "RM0431 Table 8"},
        {"l4", "STM32L47x/L48x", l4_parts, 0x1FFF7800, 40, l4_fields, ELEMENTSOF(l4_fields), NULL,
         "RM0351 Table 13, FLASH_OPTR"},
        {"g4", "STM32G431/G441", g4_parts, 0x1FFF7800, 40, g4_fields, ELEMENTSOF(g4_fields), NULL,
         "RM0440 Table 29, FLASH_OPTR"},
        {"h7", "STM32H742/H743/H745/H747/H72x", h7_parts, 0x5200201C, 128, h7_fields, ELEMENTSOF(h7_fields),
         NULL, "RM0433 4.9.8-4.9.9, RM0399"},
};
const size_t option_bytes_n_families = ELEMENTSOF(option_bytes_families);

const OptionBytesFamily *option_bytes_family_find(const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < option_bytes_n_families; i++) {
                const OptionBytesFamily *f = &option_bytes_families[i];
                if (!strcasecmp(f->name, name))
                        return f;
                for (const char *const *p = f->parts; *p; p++)
                        if (!strcasecmp(*p, name))
                                return f;
        }
        return NULL;
}

const OptionBytesFamily *option_bytes_family_for_part(const PartInfo *p) {
        return p ? option_bytes_family_find(p->name) : NULL;
}

const OptionBytesField *option_bytes_field_find(const OptionBytesFamily *f, const char *name) {
        for (size_t i = 0; f && name && i < f->n_fields; i++)
                if (!strcasecmp(f->fields[i].name, name))
                        return &f->fields[i];
        return NULL;
}

static uint32_t word_get(const uint8_t *block, unsigned offset) {
        return (uint32_t)block[offset] | (uint32_t)block[offset + 1] << 8 |
               (uint32_t)block[offset + 2] << 16 | (uint32_t)block[offset + 3] << 24;
}

static void word_put(uint8_t *block, unsigned offset, uint32_t v) {
        for (unsigned i = 0; i < 4; i++)
                block[offset + i] = (uint8_t)(v >> (8 * i));
}

static uint32_t field_mask(const OptionBytesField *fl) {
        return (fl->width >= 32 ? UINT32_MAX : ((UINT32_C(1) << fl->width) - 1)) << fl->shift;
}

uint32_t option_bytes_field_get(const OptionBytesField *fl, const uint8_t *block) {
        return (word_get(block, fl->offset) & field_mask(fl)) >> fl->shift;
}

static void set_bits(uint8_t *block, unsigned offset, uint32_t mask, uint32_t bits) {
        word_put(block, offset, (word_get(block, offset) & ~mask) | (bits & mask));
}

/* A complement covers the bytes from the field's word up to the complement: a half-word on the F4/F7,
 * a word on the L4/G4. */
static unsigned pair_size(const OptionBytesField *fl) {
        return fl->complement > (int)fl->offset ? (unsigned)fl->complement - fl->offset : 0;
}

void option_bytes_field_set(const OptionBytesField *fl, uint8_t *block, uint32_t raw) {
        uint32_t mask = field_mask(fl), bits = raw << fl->shift;

        set_bits(block, fl->offset, mask, bits);
        for (unsigned i = 0; i < pair_size(fl); i++)
                block[fl->complement + i] = (uint8_t)~block[fl->offset + i];
        if (fl->mirror >= 0)
                set_bits(block, (unsigned)fl->mirror, mask, bits);
}

const char *option_bytes_field_format(const OptionBytesField *fl, uint32_t raw, char *buf, size_t size) {
        /* Any RDP value but level 0's and level 2's is level 1. */
        if (streq(fl->name, "rdp"))
                return raw == 0xAA ? "0" : raw == 0xCC ? "2" : "1";
        for (const OptionBytesValue *v = fl->values; v && v->name; v++)
                if (v->raw == raw)
                        return v->name;
        (void)snprintf(buf, size, fl->values ? "0x%x (not a documented value)" : "0x%x", raw);
        return buf;
}

void option_bytes_reset_block(const OptionBytesFamily *f, uint8_t *block) {
        if (f->reset) {
                memcpy(block, f->reset, f->size);
                return;
        }
        memset(block, 0xFF, f->size);
        for (size_t i = 0; i < f->n_fields; i++)
                option_bytes_field_set(&f->fields[i], block, f->fields[i].reset);
}

int option_bytes_check(const OptionBytesFamily *f, const uint8_t *block, DfuError *error) {
        for (size_t i = 0; i < f->n_fields; i++) {
                const OptionBytesField *fl = &f->fields[i];
                for (unsigned k = 0; k < pair_size(fl); k++)
                        if ((uint8_t)(block[fl->offset + k] ^ block[fl->complement + k]) != 0xFF)
                                return dfu_error_set(error, EBADMSG,
                                                     "Option bytes: byte %u (field %s) does not match its "
                                                     "complement at %u.",
                                                     fl->offset + k, fl->name, fl->complement + k);
        }
        return 0;
}

unsigned option_bytes_rdp_level(const OptionBytesFamily *f, const uint8_t *block) {
        const OptionBytesField *rdp = option_bytes_field_find(f, "rdp");
        uint32_t v = rdp ? option_bytes_field_get(rdp, block) : 0xAA;
        return v == 0xAA ? 0 : v == 0xCC ? 2 : 1;
}

static int parse_value(const OptionBytesFamily *f, const OptionBytesField *fl, const char *s, uint32_t *ret,
                       DfuError *error) {
        uint32_t max = fl->width >= 32 ? UINT32_MAX : (UINT32_C(1) << fl->width) - 1;
        uint64_t v;

        for (const OptionBytesValue *val = fl->values; val && val->name; val++)
                if (!strcasecmp(val->name, s)) {
                        *ret = val->raw;
                        return 0;
                }
        if (fl->values) {
                char allowed[256] = "";
                for (const OptionBytesValue *val = fl->values; val->name; val++)
                        (void)snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed), "%s%s",
                                       val == fl->values ? "" : ", ", val->name);
                return dfu_error_set(error, EINVAL, "Option bytes of %s: %s=%s is not allowed; allowed: %s.",
                                     f->name, fl->name, s, allowed);
        }
        if (parse_uint64(s, 0, max, &v) < 0)
                return dfu_error_set(error, EINVAL,
                                     "Option bytes of %s: %s=%s is out of range; it takes 0 to 0x%x.",
                                     f->name, fl->name, s, max);
        *ret = (uint32_t)v;
        return 0;
}

int option_bytes_parse_changes(const OptionBytesFamily *f, const char *spec, bool allow_permanent,
                               OptionBytesChange *ret, size_t *ret_n, DfuError *error) {
        _cleanup_free_ char *copy = spec ? strdup(spec) : NULL;
        size_t n = 0;
        char *save = NULL;

        if (!f)
                return dfu_error_set(error, EINVAL, "No option-byte table for this part.");
        if (!copy)
                return dfu_error_set(error, spec ? ENOMEM : EINVAL, "No option bytes given.");
        for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(item, '=');
                const OptionBytesField *fl;
                uint32_t raw;
                int r;

                if (!eq || eq == item || !eq[1])
                        return dfu_error_set(error, EINVAL, "Option bytes: \"%s\" is not FIELD=VALUE.",
                                             item);
                *eq = 0;
                fl = option_bytes_field_find(f, item);
                if (!fl)
                        return dfu_error_set(error, EINVAL, "Option bytes of %s have no field \"%s\".",
                                             f->name, item);
                r = parse_value(f, fl, eq + 1, &raw, error);
                if (r < 0)
                        return r;
                if (streq(fl->name, "rdp") && raw == 0xCC && !allow_permanent)
                        return dfu_error_set(
                                error, EPERM,
                                "RDP level 2 disables the bootloader and debug for good; it needs "
                                "the option allow-permanent-lock.");
                for (size_t i = 0; i < n; i++)
                        if (ret[i].field == fl)
                                return dfu_error_set(error, EINVAL, "Option bytes: %s is given twice.",
                                                     fl->name);
                if (n >= OPTION_BYTES_CHANGES_MAX)
                        return dfu_error_set(error, E2BIG, "Option bytes: more than %d fields.",
                                             OPTION_BYTES_CHANGES_MAX);
                ret[n++] = (OptionBytesChange){fl, raw};
        }
        if (n == 0)
                return dfu_error_set(error, EINVAL, "No option bytes given.");
        *ret_n = n;
        return 0;
}

void option_bytes_apply(const OptionBytesChange *c, size_t n, uint8_t *block) {
        for (size_t i = 0; i < n; i++)
                option_bytes_field_set(c[i].field, block, c[i].raw);
}
