/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * The memory map a DfuSe bootloader publishes as its interface alternate-setting strings, e.g.
 * "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg". One MemLayout per alternate setting;
 * each '/'-separated address group is a MemRegion made of runs of equal sectors.
 */

enum {
        MEM_READABLE = 1 << 0,
        MEM_ERASABLE = 1 << 1,
        MEM_WRITABLE = 1 << 2,
};

typedef struct MemSectorRun {
        uint32_t address; /* of the first sector of the run */
        uint32_t count;
        uint32_t size;      /* bytes per sector */
        uint8_t attributes; /* MEM_* bits: letter 'a' + value - 1 */
} MemSectorRun;

typedef struct MemRegion {
        uint32_t address;
        uint64_t size; /* sum of the runs */
        MemSectorRun *runs;
        size_t n_runs;
} MemRegion;

typedef struct MemLayout {
        unsigned alt_setting;
        char *name; /* trailing spaces trimmed: "Internal Flash" */
        MemRegion *regions;
        size_t n_regions;
} MemLayout;

typedef struct MemMap {
        MemLayout *layouts; /* index = alternate setting */
        size_t n_layouts;
} MemMap;

/* One located sector. */
typedef struct MemSector {
        uint32_t address;
        uint32_t size;
        uint8_t attributes;
        unsigned region; /* index in layout->regions */
        size_t index;    /* global index of the sector in the layout, counting from 0 */
} MemSector;

/*
 * Parses one alternate-setting string. On error the message quotes the string and points at the
 * offending character ("at column 27: expected '*' after the sector count").
 */
int memlayout_parse(const char *s, unsigned alt_setting, MemLayout *ret, DfuError *error);
void memlayout_done(MemLayout *l);

/* Appends a layout parsed from s as the next alternate setting. */
int memmap_add(MemMap *map, const char *s, DfuError *error);
MemMap *memmap_new(void);
MemMap *memmap_free(MemMap *map);
DEFINE_TRIVIAL_CLEANUP_FUNC(MemMap *, memmap_free);

/* Finds the sector holding addr; -ENOENT when no region of the layout covers it. */
int memlayout_find_sector(const MemLayout *l, uint32_t addr, MemSector *ret);
uint64_t memlayout_total_size(const MemLayout *l);

/* Formats the layout back into DfuSe syntax (normalised), for logs and `dfusctl devices`. */
char *memlayout_to_string(const MemLayout *l);
