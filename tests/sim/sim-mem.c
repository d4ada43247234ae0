/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "option-bytes.h"
#include "sim-private.h"

/*
 * RAM the ROM bootloader writes on request, and its own system memory (readable, never writable),
 * from the memory maps of the reference manuals. Main SRAM only: SRAMs in other power domains or
 * behind clocks the bootloader leaves off (H7 SRAM1-4 at 0x30000000/0x38000000) are out of reach,
 * which is exactly where the real bootloader answers errTARGET.
 */
static const SimFamily families[] = {
        {"f0", {{0x20000000, 0x4000}}, {0x1FFFC800, 0x3000}},
        {"f1", {{0x20000000, 0x10000}}, {0x1FFFB000, 0x4800}},
        {"f2", {{0x20000000, 0x20000}}, {0x1FFF0000, 0x7800}},
        {"f3", {{0x20000000, 0xA000}}, {0x1FFFD800, 0x2000}},
        {"f4", {{0x20000000, 0x20000}}, {0x1FFF0000, 0x7800}},
        {"f7", {{0x20000000, 0x40000}}, {0x1FF00000, 0x10000}},
        {"g0", {{0x20000000, 0x24000}}, {0x1FFF0000, 0x7000}},
        {"g4", {{0x20000000, 0x5800}, {0x10000000, 0x2800}}, {0x1FFF0000, 0x7000}},
        /* DTCM and AXI SRAM; SRAM1-3 (0x30000000) and SRAM4 (0x38000000) are not reachable. */
        {"h7", {{0x20000000, 0x20000}, {0x24000000, 0x80000}}, {0x1FF00000, 0x20000}},
        {"l0", {{0x20000000, 0x5000}}, {0x1FF00000, 0x1000}},
        {"l4", {{0x20000000, 0x18000}, {0x10000000, 0x8000}}, {0x1FFF0000, 0x7000}},
        {"u5", {{0x20000000, 0xC0000}}, {0x0BF90000, 0x10000}},
};

static const SimFamily family_default = {"", {{0x20000000, 0x4000}}, {0x1FFF0000, 0x1000}};

const SimFamily *sim_family_find(const char *part_name) {
        FOREACH_ARRAY (f, families, ELEMENTSOF(families))
                if (part_name && strncasecmp(part_name, f->prefix, strlen(f->prefix)) == 0)
                        return f;
        return &family_default;
}

static bool range_inside(uint32_t address, uint32_t size, uint32_t start, uint32_t len) {
        return address >= start && (uint64_t)address + size <= (uint64_t)start + len;
}

static int add_sectors(SimBoard *b, const MemLayout *l) {
        size_t n = 0;

        for (size_t r = 0; r < l->n_regions; r++)
                for (size_t k = 0; k < l->regions[r].n_runs; k++)
                        n += l->regions[r].runs[k].count;
        if (n == 0)
                return -EINVAL;
        b->sectors = calloc(n, sizeof(SimSector));
        if (!b->sectors)
                return -ENOMEM;

        for (size_t r = 0; r < l->n_regions; r++)
                for (size_t k = 0; k < l->regions[r].n_runs; k++) {
                        const MemSectorRun *run = &l->regions[r].runs[k];
                        for (uint32_t i = 0; i < run->count; i++)
                                b->sectors[b->n_sectors++] = (SimSector){
                                        .address = run->address + i * run->size,
                                        .size = run->size,
                                        .attributes = run->attributes,
                                };
                }
        return 0;
}

static int sector_cmp(const void *a, const void *b) {
        const SimSector *x = a, *y = b;
        return x->address < y->address ? -1 : x->address > y->address;
}

static int init_flash(SimBoard *b) {
        uint64_t end = 0;
        int r;

        r = add_sectors(b, &b->map->layouts[0]);
        if (r < 0)
                return r;
        qsort(b->sectors, b->n_sectors, sizeof(SimSector), sector_cmp);

        b->flash_base = b->sectors[0].address;
        FOREACH_ARRAY (s, b->sectors, b->n_sectors)
                end = MAX(end, (uint64_t)s->address + s->size);
        if (end - b->flash_base > UINT32_MAX)
                return -EINVAL;
        b->flash_size = (uint32_t)(end - b->flash_base);

        b->flash = malloc(b->flash_size);
        if (!b->flash)
                return -ENOMEM;
        memset(b->flash, 0xFF, b->flash_size);

        if (b->part->ecc_word > 0) {
                b->programmed = calloc(DIV_ROUND_UP(b->flash_size, b->part->ecc_word), 1);
                if (!b->programmed)
                        return -ENOMEM;
        }

        b->counters.n_sectors = b->n_sectors;
        b->counters.erases_per_sector = calloc(b->n_sectors, sizeof(unsigned));
        return b->counters.erases_per_sector ? 0 : -ENOMEM;
}

static SimAreaKind area_kind(const char *name) {
        if (name && strcasestr(name, "option"))
                return SIM_AREA_OPTION;
        if (name && strcasestr(name, "otp"))
                return SIM_AREA_OTP;
        return SIM_AREA_PLAIN;
}

/* The family's option-byte block as it leaves the factory, with RDP level 1 on a board that starts
 * read-protected. */
static const OptionBytesFamily *area_option_family(const SimBoard *b, const SimArea *area) {
        const OptionBytesFamily *f = option_bytes_family_for_part(b->part);
        return f && area->kind == SIM_AREA_OPTION && area->address == f->address && area->size == f->size
                       ? f
                       : NULL;
}

static void init_option_bytes(SimBoard *b, SimArea *area) {
        const OptionBytesFamily *f = area_option_family(b, area);

        if (!f)
                return;
        option_bytes_reset_block(f, area->data);
        if (b->read_protected)
                option_bytes_field_set(option_bytes_field_find(f, "rdp"), area->data, 0xBB);
}

void sim_mem_set_rdp_level0(SimBoard *b) {
        for (size_t i = 0; i < b->n_areas; i++) {
                const OptionBytesFamily *f = area_option_family(b, &b->areas[i]);
                if (f)
                        option_bytes_field_set(option_bytes_field_find(f, "rdp"), b->areas[i].data, 0xAA);
        }
}

/* Regions of the other alternate settings that do not overlap flash (G0B1 repeats the flash string). */
static int init_areas(SimBoard *b) {
        size_t n = 0;

        for (size_t a = 1; a < b->map->n_layouts; a++)
                n += b->map->layouts[a].n_regions;
        b->areas = calloc(MAX(n, 1u), sizeof(SimArea));
        if (!b->areas)
                return -ENOMEM;

        for (size_t a = 1; a < b->map->n_layouts; a++) {
                const MemLayout *l = &b->map->layouts[a];
                for (size_t r = 0; r < l->n_regions; r++) {
                        const MemRegion *reg = &l->regions[r];
                        if (reg->size == 0 || reg->size > UINT32_MAX || reg->n_runs == 0)
                                continue;
                        if (sim_mem_classify(b, reg->address, (uint32_t)reg->size, NULL) != SIM_MEM_NONE)
                                continue;
                        SimArea *area = &b->areas[b->n_areas];
                        *area = (SimArea){
                                .address = reg->address,
                                .size = (uint32_t)reg->size,
                                .kind = area_kind(l->name),
                                .attributes = reg->runs[0].attributes,
                        };
                        area->data = malloc(area->size);
                        if (!area->data)
                                return -ENOMEM;
                        memset(area->data, 0xFF, area->size);
                        init_option_bytes(b, area);
                        b->n_areas++;
                }
        }
        return 0;
}

int sim_mem_init(SimBoard *b) {
        _cleanup_(memmap_freep) MemMap *map = NULL;
        DfuError e = DFU_ERROR_INIT;
        int r;

        r = part_memmap(b->part, &map, &e);
        if (r < 0)
                return r;
        if (map->n_layouts == 0)
                return -EINVAL;
        b->map = TAKE_PTR(map);
        b->family = sim_family_find(b->part->name);

        r = init_flash(b);
        if (r < 0)
                return r;
        return init_areas(b);
}

void sim_mem_done(SimBoard *b) {
        free(b->sectors);
        free(b->flash);
        free(b->programmed);
        for (size_t i = 0; i < b->n_areas; i++)
                free(b->areas[i].data);
        free(b->areas);
        for (size_t i = 0; i < SIM_RAM_RANGES; i++)
                free(b->ram[i]);
        free(b->counters.erases_per_sector);
        memmap_free(b->map);
}

void sim_mem_power_cycle(SimBoard *b) {
        for (size_t i = 0; i < SIM_RAM_RANGES; i++)
                b->ram[i] = mfree(b->ram[i]);
}

const SimSector *sim_mem_find_sector(const SimBoard *b, uint32_t address, size_t *ret_index) {
        size_t lo = 0, hi = b->n_sectors;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                const SimSector *s = &b->sectors[mid];
                if (address < s->address)
                        hi = mid;
                else if (address - s->address >= s->size)
                        lo = mid + 1;
                else {
                        if (ret_index)
                                *ret_index = mid;
                        return s;
                }
        }
        return NULL;
}

/* True when every byte of the range lies in flash sectors having all the given attributes. */
static bool flash_covers(const SimBoard *b, uint32_t address, uint32_t size, uint8_t attributes) {
        uint64_t a = address, end = (uint64_t)address + size;

        while (a < end) {
                const SimSector *s = sim_mem_find_sector(b, (uint32_t)a, NULL);
                if (!s || (s->attributes & attributes) != attributes)
                        return false;
                a = (uint64_t)s->address + s->size;
        }
        return true;
}

static int ram_index(const SimBoard *b, uint32_t address, uint32_t size) {
        for (int i = 0; i < SIM_RAM_RANGES; i++)
                if (b->family->ram[i].size > 0 &&
                    range_inside(address, size, b->family->ram[i].address, b->family->ram[i].size))
                        return i;
        return -1;
}

SimMemKind sim_mem_classify(const SimBoard *b, uint32_t address, uint32_t size, SimArea **ret_area) {
        size = MAX(size, 1u);
        if (flash_covers(b, address, size, 0))
                return SIM_MEM_FLASH;
        for (size_t i = 0; i < b->n_areas; i++)
                if (range_inside(address, size, b->areas[i].address, b->areas[i].size)) {
                        if (ret_area)
                                *ret_area = &b->areas[i];
                        return SIM_MEM_AREA;
                }
        if (ram_index(b, address, size) >= 0)
                return SIM_MEM_RAM;
        if (range_inside(address, size, b->family->system.address, b->family->system.size))
                return SIM_MEM_SYSTEM;
        return SIM_MEM_NONE;
}

static bool sector_protected(const SimBoard *b, size_t index) {
        return index < 64 && (b->write_protected & (UINT64_C(1) << index));
}

static void erase_sector(SimBoard *b, size_t index) {
        const SimSector *s = &b->sectors[index];
        uint32_t off = s->address - b->flash_base;

        if (sector_protected(b, index))
                return;

        memset(b->flash + off, 0xFF, s->size);
        if (b->programmed) {
                unsigned w = b->part->ecc_word;
                memset(b->programmed + off / w, 0, DIV_ROUND_UP(s->size, w));
        }
}

/* The ROM erases the page holding the address, whatever the offset inside it. */
uint8_t sim_mem_erase_sector(SimBoard *b, uint32_t address, const SimSector **ret) {
        size_t index;
        const SimSector *s = sim_mem_find_sector(b, address, &index);

        if (!s || !(s->attributes & MEM_ERASABLE))
                return SIM_STATUS_ERR_TARGET;
        erase_sector(b, index);
        b->counters.erases_per_sector[index]++;
        *ret = s;
        return SIM_STATUS_OK;
}

void sim_mem_mass_erase(SimBoard *b) {
        for (size_t i = 0; i < b->n_sectors; i++)
                erase_sector(b, i);
}

/*
 * ECC flash programs whole flash words, once per erase. L4 (RM0351, FLASH_SR PROGERR) and G4 (RM0440,
 * same flag): programming a double word that is not erased fails with PROGERR and writes nothing.
 * H7 (RM0433, "FLASH program operations"): a 256-bit flash word may be programmed only once after an
 * erase; a second programming leaves a word whose ECC no longer matches (ECC error flags on read), so
 * the bootloader's write fails. Both report errPROG here. A word written with 0xFF reads blank but its
 * ECC is set, so the programmed state is kept per word, never inferred from content. Conservative
 * choice: the parts' exception for rewriting a word to all zeros is not modelled. The bootloader
 * programs whole words: a partial word (short last block, unaligned start) is padded with 0xFF and
 * counts as programmed. Words go in order, so those before a failing one stay written.
 */
static uint8_t write_flash_ecc(SimBoard *b, uint32_t off, const uint8_t *data, size_t size) {
        unsigned w = b->part->ecc_word;

        for (size_t word = off / w; word <= (off + size - 1) / w; word++) {
                if (b->programmed[word])
                        return SIM_STATUS_ERR_PROG;
                size_t start = MAX((size_t)off, word * w), end = MIN(off + size, (word + 1) * w);
                for (size_t i = start; i < end; i++)
                        b->flash[i] &= data[i - off];
                b->programmed[word] = 1;
        }
        return SIM_STATUS_OK;
}

/* Without ECC programming only clears bits: a rewrite ANDs silently, only a verify notices. */
static uint8_t write_flash(SimBoard *b, uint32_t address, const uint8_t *data, size_t size) {
        if (!flash_covers(b, address, (uint32_t)size, MEM_WRITABLE))
                return SIM_STATUS_ERR_TARGET;

        /* Sector by sector: write-protected ones keep their bytes, silently. */
        for (size_t done = 0; done < size;) {
                uint32_t a = address + (uint32_t)done, off = a - b->flash_base;
                size_t index;
                const SimSector *s = sim_mem_find_sector(b, a, &index);
                size_t n = (size_t)MIN((uint64_t)(size - done), (uint64_t)s->address + s->size - a);

                if (!sector_protected(b, index)) {
                        if (b->programmed) {
                                uint8_t r = write_flash_ecc(b, off, data + done, n);
                                if (r != SIM_STATUS_OK)
                                        return r;
                        } else
                                for (size_t i = 0; i < n; i++)
                                        b->flash[off + i] &= data[done + i];
                }
                done += n;
        }
        return SIM_STATUS_OK;
}

static uint8_t write_area(SimArea *area, uint32_t address, const uint8_t *data, size_t size,
                          bool *ret_reset) {
        uint32_t off = address - area->address;

        if (!(area->attributes & MEM_WRITABLE))
                return SIM_STATUS_ERR_TARGET;
        switch (area->kind) {
        case SIM_AREA_OPTION:
                /* The ROM loads all option bytes at once and relaunches: nothing else is accepted. */
                if (off != 0 || size != area->size)
                        return SIM_STATUS_ERR_TARGET;
                memcpy(area->data, data, size);
                *ret_reset = true;
                return SIM_STATUS_OK;
        case SIM_AREA_OTP:
                for (size_t i = 0; i < size; i++)
                        area->data[off + i] &= data[i];
                return SIM_STATUS_OK;
        case SIM_AREA_PLAIN:
        default:
                memcpy(area->data + off, data, size);
                return SIM_STATUS_OK;
        }
}

static uint8_t write_ram(SimBoard *b, uint32_t address, const uint8_t *data, size_t size) {
        int i = ram_index(b, address, (uint32_t)size);
        const SimRange *range = &b->family->ram[i];

        if (!b->ram[i]) {
                b->ram[i] = calloc(range->size, 1);
                if (!b->ram[i])
                        return SIM_STATUS_ERR_UNKNOWN;
        }
        memcpy(b->ram[i] + (address - range->address), data, size);
        return SIM_STATUS_OK;
}

uint8_t sim_mem_write(SimBoard *b, uint32_t address, const uint8_t *data, size_t size, bool *ret_reset) {
        SimArea *area = NULL;

        *ret_reset = false;
        if (size == 0)
                return SIM_STATUS_OK;
        switch (sim_mem_classify(b, address, (uint32_t)size, &area)) {
        case SIM_MEM_FLASH:
                return write_flash(b, address, data, size);
        case SIM_MEM_AREA: {
                uint8_t st = write_area(area, address, data, size, ret_reset);
                const OptionBytesFamily *f = area_option_family(b, area);
                /* The option bytes take effect at the reset that follows: RDP above level 0 protects,
                 * a cleared nWRP/WRPSN bit write-protects its sector. */
                if (st == SIM_STATUS_OK && f) {
                        const OptionBytesField *wrp =
                                option_bytes_field_find(f, "nwrp") ?: option_bytes_field_find(f, "wrpsn");
                        b->read_protected = option_bytes_rdp_level(f, area->data) > 0;
                        if (wrp)
                                b->write_protected = ~(uint64_t)option_bytes_field_get(wrp, area->data) &
                                                     ((UINT64_C(1) << wrp->width) - 1);
                }
                return st;
        }
        case SIM_MEM_RAM:
                return write_ram(b, address, data, size);
        default:
                return SIM_STATUS_ERR_TARGET;
        }
}

/* Length of the modelled memory from address on, and where its bytes are (NULL: reads as zero). */
static uint32_t locate(const SimBoard *b, uint32_t address, const uint8_t **ret) {
        SimArea *area = NULL;
        int i;

        *ret = NULL;
        switch (sim_mem_classify(b, address, 1, &area)) {
        case SIM_MEM_FLASH: {
                uint64_t end = address;
                const SimSector *s;
                while (end <= UINT32_MAX && (s = sim_mem_find_sector(b, (uint32_t)end, NULL)))
                        end = (uint64_t)s->address + s->size;
                *ret = b->flash + (address - b->flash_base);
                return (uint32_t)(end - address);
        }
        case SIM_MEM_AREA:
                *ret = area->data + (address - area->address);
                return area->size - (address - area->address);
        case SIM_MEM_RAM:
                i = ram_index(b, address, 1);
                if (b->ram[i])
                        *ret = b->ram[i] + (address - b->family->ram[i].address);
                return b->family->ram[i].address + b->family->ram[i].size - address;
        case SIM_MEM_SYSTEM:
                return b->family->system.address + b->family->system.size - address;
        default:
                return 0;
        }
}

int sim_mem_read(const SimBoard *b, uint32_t address, uint8_t *buf, size_t size) {
        const uint8_t *src;
        uint32_t n = locate(b, address, &src);

        if (n == 0)
                return -EFAULT;
        n = (uint32_t)MIN((size_t)n, size);
        if (src)
                memcpy(buf, src, n);
        else
                memset(buf, 0, n);
        return (int)n;
}
