/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memmap.h"

/*
 * Grammar, as ST's bootloaders write it (spacing varies between generations):
 *   '@' name '/' group ( '/' group )*
 *   group  = address '/' run ( ',' run )*
 *   run    = count '*' size ' '* [ 'B' | 'K' | 'M' ] ' '* letter
 * count and size are decimal with optional leading zeros; the size multiplier is absent or a space
 * for bytes; letter is 'a'..'g', its value (1..7) a bit field of MEM_*.
 */

typedef struct Parser {
        const char *s;
        size_t pos;
        DfuError *error;
} Parser;

static int parse_fail(Parser *p, const char *expected) {
        char found[16];

        if (p->s[p->pos] == 0)
                snprintf(found, sizeof(found), "end of string");
        else if (isprint((unsigned char)p->s[p->pos]))
                snprintf(found, sizeof(found), "'%c'", p->s[p->pos]);
        else
                snprintf(found, sizeof(found), "byte 0x%02X", (unsigned char)p->s[p->pos]);

        return dfu_error_set(p->error, EINVAL, "memory map \"%.200s\" at column %zu: expected %s, found %s",
                             p->s, p->pos + 1, expected, found);
}

static void skip_spaces(Parser *p) {
        while (p->s[p->pos] == ' ')
                p->pos++;
}

static int parse_decimal(Parser *p, const char *what, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;
        size_t start = p->pos;

        while (isdigit((unsigned char)p->s[p->pos])) {
                v = v * 10 + (uint64_t)(p->s[p->pos] - '0');
                if (v > max) {
                        p->pos = start;
                        return dfu_error_set(p->error, ERANGE,
                                             "memory map \"%.200s\" at column %zu: %s larger than %" PRIu64,
                                             p->s, start + 1, what, max);
                }
                p->pos++;
        }
        if (p->pos == start)
                return parse_fail(p, what);
        *ret = v;
        return 0;
}

static int parse_address(Parser *p, uint32_t *ret) {
        uint64_t v = 0;
        size_t start;

        if (p->s[p->pos] != '0' || (p->s[p->pos + 1] != 'x' && p->s[p->pos + 1] != 'X'))
                return parse_fail(p, "a start address \"0x...\"");
        p->pos += 2;
        start = p->pos;
        while (isxdigit((unsigned char)p->s[p->pos])) {
                char c = p->s[p->pos];
                v = v * 16 +
                    (uint64_t)(isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10);
                if (v > UINT32_MAX) {
                        p->pos = start;
                        return dfu_error_set(p->error, ERANGE,
                                             "memory map \"%.200s\" at column %zu: address beyond 32 bits",
                                             p->s, start + 1);
                }
                p->pos++;
        }
        if (p->pos == start)
                return parse_fail(p, "hexadecimal digits of the start address");
        *ret = (uint32_t)v;
        return 0;
}

static int parse_run(Parser *p, uint64_t next, MemSectorRun *ret) {
        uint64_t count, size;
        size_t size_col;
        int r;

        r = parse_decimal(p, "a sector count", UINT32_MAX, &count);
        if (r < 0)
                return r;
        if (count == 0) {
                p->pos--;
                return parse_fail(p, "a sector count of at least 1");
        }
        if (p->s[p->pos] != '*')
                return parse_fail(p, "'*' after the sector count");
        p->pos++;
        size_col = p->pos;
        r = parse_decimal(p, "a sector size", UINT32_MAX, &size);
        if (r < 0)
                return r;
        skip_spaces(p);
        if (p->s[p->pos] != 0 && strchr("BKM", p->s[p->pos])) {
                size *= p->s[p->pos] == 'M' ? 1024 * 1024 : p->s[p->pos] == 'K' ? 1024 : 1;
                p->pos++;
                skip_spaces(p);
        }
        if (p->s[p->pos] < 'a' || p->s[p->pos] > 'g')
                return parse_fail(p, "a size multiplier (B, K, M) or an attribute letter 'a'..'g'");
        if (size == 0 || size > UINT32_MAX) {
                p->pos = size_col;
                return parse_fail(p, "a sector size between 1 byte and 4 GiB");
        }
        if (next + count * size > UINT64_C(1) << 32) {
                p->pos = size_col;
                return dfu_error_set(
                        p->error, ERANGE,
                        "memory map \"%.200s\" at column %zu: sectors run past the end of the 32-bit "
                        "address space",
                        p->s, size_col + 1);
        }

        *ret = (MemSectorRun){
                .address = (uint32_t)next,
                .count = (uint32_t)count,
                .size = (uint32_t)size,
                .attributes = (uint8_t)(p->s[p->pos] - 'a' + 1),
        };
        p->pos++;
        return 0;
}

static int parse_group(Parser *p, MemRegion *ret) {
        MemSectorRun *runs = NULL;
        size_t n = 0;
        uint32_t address = 0;
        uint64_t next;
        int r;

        r = parse_address(p, &address);
        if (r < 0)
                return r;
        if (p->s[p->pos] != '/')
                return parse_fail(p, "'/' after the start address");
        p->pos++;

        next = address;
        for (;;) {
                MemSectorRun *a = realloc(runs, (n + 1) * sizeof(*runs));
                if (!a) {
                        free(runs);
                        return dfu_error_set(p->error, ENOMEM, "Out of memory");
                }
                runs = a;
                r = parse_run(p, next, &runs[n]);
                if (r < 0) {
                        free(runs);
                        return r;
                }
                next += (uint64_t)runs[n].count * runs[n].size;
                n++;
                if (p->s[p->pos] != ',')
                        break;
                p->pos++;
        }

        *ret = (MemRegion){.address = address, .size = next - address, .runs = runs, .n_runs = n};
        return 0;
}

static int parse_name(Parser *p, char **ret) {
        const char *slash;
        size_t len;

        if (p->s[0] != '@')
                return parse_fail(p, "'@' at the start of the name");
        slash = strchr(p->s, '/');
        if (!slash) {
                p->pos = strlen(p->s);
                return parse_fail(p, "'/' after the name");
        }
        len = (size_t)(slash - p->s) - 1;
        while (len > 0 && isspace((unsigned char)p->s[len]))
                len--;
        *ret = strndup(p->s + 1, len);
        if (!*ret)
                return dfu_error_set(p->error, ENOMEM, "Out of memory");
        p->pos = (size_t)(slash - p->s) + 1;
        return 0;
}

static int layout_check_overlap(Parser *p, const MemLayout *l) {
        for (size_t i = 0; i < l->n_regions; i++)
                for (size_t j = i + 1; j < l->n_regions; j++) {
                        const MemRegion *a = &l->regions[i], *b = &l->regions[j];
                        if (a->address < b->address + b->size && b->address < a->address + a->size)
                                return dfu_error_set(p->error, EINVAL,
                                                     "memory map \"%.200s\": address groups 0x%08" PRIX32
                                                     " and 0x%08" PRIX32 " overlap",
                                                     p->s, a->address, b->address);
                }
        return 0;
}

int memlayout_parse(const char *s, unsigned alt_setting, MemLayout *ret, DfuError *error) {
        _cleanup_(memlayout_done) MemLayout l = {.alt_setting = alt_setting};
        Parser p = {.s = s, .error = error};
        int r;

        if (!s || !ret)
                return dfu_error_set(error, EINVAL, "No memory map string");

        r = parse_name(&p, &l.name);
        if (r < 0)
                return r;

        for (;;) {
                MemRegion *a = realloc(l.regions, (l.n_regions + 1) * sizeof(*l.regions));
                if (!a)
                        return dfu_error_set(error, ENOMEM, "Out of memory");
                l.regions = a;
                r = parse_group(&p, &l.regions[l.n_regions]);
                if (r < 0)
                        return r;
                l.n_regions++;
                /* A trailing '/' or spaces after the last run occur in the wild; tolerate them. */
                skip_spaces(&p);
                if (s[p.pos] == '/' && s[p.pos + 1] == 0)
                        p.pos++;
                if (s[p.pos] == 0)
                        break;
                if (s[p.pos] != '/')
                        return parse_fail(&p, "',' or '/' or the end of the string");
                p.pos++;
        }

        r = layout_check_overlap(&p, &l);
        if (r < 0)
                return r;

        *ret = l;
        l = (MemLayout){};
        return 0;
}

void memlayout_done(MemLayout *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n_regions; i++)
                free(l->regions[i].runs);
        free(l->regions);
        free(l->name);
        *l = (MemLayout){};
}

MemMap *memmap_new(void) {
        return calloc(1, sizeof(MemMap));
}

MemMap *memmap_free(MemMap *map) {
        if (!map)
                return NULL;
        for (size_t i = 0; i < map->n_layouts; i++)
                memlayout_done(&map->layouts[i]);
        free(map->layouts);
        return mfree(map);
}

int memmap_add(MemMap *map, const char *s, DfuError *error) {
        MemLayout l;
        int r;

        if (!map)
                return dfu_error_set(error, EINVAL, "No memory map");
        r = memlayout_parse(s, (unsigned)map->n_layouts, &l, error);
        if (r < 0)
                return r;
        MemLayout *a = realloc(map->layouts, (map->n_layouts + 1) * sizeof(*a));
        if (!a) {
                memlayout_done(&l);
                return dfu_error_set(error, ENOMEM, "Out of memory");
        }
        map->layouts = a;
        map->layouts[map->n_layouts++] = l;
        return 0;
}

int memlayout_find_sector(const MemLayout *l, uint32_t addr, MemSector *ret) {
        size_t index = 0;

        if (!l)
                return -EINVAL;
        for (unsigned i = 0; i < l->n_regions; i++) {
                const MemRegion *g = &l->regions[i];
                if (addr < g->address || (uint64_t)addr >= (uint64_t)g->address + g->size) {
                        for (size_t k = 0; k < g->n_runs; k++)
                                index += g->runs[k].count;
                        continue;
                }
                for (size_t k = 0; k < g->n_runs; k++) {
                        const MemSectorRun *run = &g->runs[k];
                        uint64_t end = (uint64_t)run->address + (uint64_t)run->count * run->size;
                        if (addr >= end) {
                                index += run->count;
                                continue;
                        }
                        uint32_t nth = (addr - run->address) / run->size;
                        if (ret)
                                *ret = (MemSector){
                                        .address = run->address + nth * run->size,
                                        .size = run->size,
                                        .attributes = run->attributes,
                                        .region = i,
                                        .index = index + nth,
                                };
                        return 0;
                }
        }
        return -ENOENT;
}

uint64_t memlayout_total_size(const MemLayout *l) {
        uint64_t total = 0;

        for (size_t i = 0; l && i < l->n_regions; i++)
                total += l->regions[i].size;
        return total;
}

static void format_size(uint32_t size, char buf[16]) {
        if (size % (1024 * 1024) == 0)
                snprintf(buf, 16, "%" PRIu32 "M", size / (1024 * 1024));
        else if (size % 1024 == 0)
                snprintf(buf, 16, "%" PRIu32 "K", size / 1024);
        else
                snprintf(buf, 16, "%" PRIu32 " ", size);
}

char *memlayout_to_string(const MemLayout *l) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        FILE *f;

        if (!l)
                return NULL;
        f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        fprintf(f, "@%s", l->name ?: "");
        for (size_t i = 0; i < l->n_regions; i++) {
                fprintf(f, "/0x%08" PRIX32 "/", l->regions[i].address);
                for (size_t k = 0; k < l->regions[i].n_runs; k++) {
                        const MemSectorRun *run = &l->regions[i].runs[k];
                        char size[16];
                        format_size(run->size, size);
                        fprintf(f, "%s%" PRIu32 "*%s%c", k > 0 ? "," : "", run->count, size,
                                'a' + run->attributes - 1);
                }
        }
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(buf);
}
