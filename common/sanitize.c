/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sanitize.h"

static const char *const verdict_names[_VERDICT_MAX] = {
        [VERDICT_KEEP] = "keep",
        [VERDICT_DROP] = "drop",
        [VERDICT_REJECT] = "reject",
};

static const char *const address_kind_names[_ADDRESS_KIND_MAX] = {
        [ADDRESS_FLASH] = "flash",
        [ADDRESS_RAM] = "RAM",
        [ADDRESS_PERIPHERAL] = "peripheral registers",
        [ADDRESS_EXTERNAL] = "external memory",
        [ADDRESS_SYSTEM] = "system memory",
        [ADDRESS_CODE_OTHER] = "ITCM / boot alias",
        [ADDRESS_UNKNOWN] = "unknown",
};

const char *verdict_to_string(Verdict v) {
        return v >= 0 && v < _VERDICT_MAX ? verdict_names[v] : NULL;
}

const char *address_kind_to_string(AddressKind k) {
        return k >= 0 && k < _ADDRESS_KIND_MAX ? address_kind_names[k] : NULL;
}

/* The Cortex-M memory map as STM32 parts fill it; used to explain, never to decide. */
AddressKind address_kind(uint32_t a) {
        if (a < 0x08000000)
                return ADDRESS_CODE_OTHER;
        if (a < 0x10000000)
                return ADDRESS_FLASH;
        if (a < 0x1FF00000)
                return ADDRESS_RAM; /* CCM data RAM of the F4/F3 at 0x10000000 */
        if (a < 0x20000000)
                return ADDRESS_SYSTEM; /* system memory, OTP, option bytes */
        if (a < 0x40000000)
                return ADDRESS_RAM; /* SRAM, DTCM, AXI SRAM, SRAM1-4 */
        if (a < 0x60000000)
                return ADDRESS_PERIPHERAL;
        if (a < 0xE0000000)
                return ADDRESS_EXTERNAL; /* FMC banks, QSPI/OCTOSPI memory-mapped windows */
        return ADDRESS_SYSTEM;           /* Cortex-M private peripheral bus */
}

/* The run of equal sectors holding addr, or NULL. */
static const MemSectorRun *layout_find_run(const MemLayout *l, uint32_t addr) {
        for (size_t i = 0; i < l->n_regions; i++)
                for (size_t k = 0; k < l->regions[i].n_runs; k++) {
                        const MemSectorRun *run = &l->regions[i].runs[k];
                        if (addr >= run->address && addr - run->address < (uint64_t)run->count * run->size)
                                return run;
                }
        return NULL;
}

typedef enum Coverage {
        COVER_NONE,    /* no byte lies in the layout */
        COVER_PARTIAL, /* some bytes do, some do not */
        COVER_FULL,
} Coverage;

typedef struct Placement {
        Coverage coverage;
        bool writable;         /* every sector touched has MEM_WRITABLE */
        uint32_t first_gap;    /* first address outside the layout when partial */
        uint32_t not_writable; /* first address of a sector without MEM_WRITABLE */
} Placement;

/* Walks the segment run by run (sectors of a run share their attributes). */
static Placement layout_place(const MemLayout *l, uint32_t address, uint32_t size) {
        Placement p = {.writable = true};
        uint64_t a = address, end = (uint64_t)address + size;
        bool inside = false, outside = false;

        while (a < end) {
                const MemSectorRun *run = layout_find_run(l, (uint32_t)a);
                if (!run) {
                        if (!outside)
                                p.first_gap = (uint32_t)a;
                        outside = true;
                        /* Skip to the next region start above a, if any. */
                        uint64_t next = end;
                        for (size_t i = 0; i < l->n_regions; i++)
                                if (l->regions[i].address > a && l->regions[i].address < next)
                                        next = l->regions[i].address;
                        a = next;
                        continue;
                }
                inside = true;
                if (!(run->attributes & MEM_WRITABLE) && p.writable) {
                        p.writable = false;
                        p.not_writable = (uint32_t)a;
                }
                a = (uint64_t)run->address + (uint64_t)run->count * run->size;
        }
        p.coverage = !inside ? COVER_NONE : outside ? COVER_PARTIAL : COVER_FULL;
        return p;
}

static char *strdup_printf(const char *fmt, ...) _printf_(1, 2);
static char *strdup_printf(const char *fmt, ...) {
        va_list ap;
        char *s;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
}

/* Which RAM an address most likely is, by the STM32 families' maps (H7 names where they differ). */
const char *address_ram_name(uint32_t a) {
        if (a < 0x20000000)
                return "CCM RAM";
        if (a < 0x20020000)
                return "SRAM or DTCM";
        if (a >= 0x24000000 && a < 0x24100000)
                return "AXI SRAM";
        if (a >= 0x30000000 && a < 0x30050000)
                return "SRAM1-3";
        if (a >= 0x38000000 && a < 0x38010000)
                return "SRAM4";
        return "SRAM";
}

static char *drop_hint(uint32_t address, AddressKind k) {
        switch (k) {
        case ADDRESS_RAM:
                return strdup_printf(
                        "an initialised RAM section (%s; RAM is 0x20000000-0x3FFFFFFF), which the "
                        "bootloader cannot program: mark the section NOLOAD in the linker script",
                        address_ram_name(address));
        case ADDRESS_PERIPHERAL:
                return strdup("peripheral registers, which cannot be flashed: remove the section or mark it "
                              "NOLOAD "
                              "in the linker script");
        case ADDRESS_EXTERNAL:
                return strdup("external memory (FMC, QSPI/OCTOSPI) that the ROM bootloader cannot program: "
                              "flash it "
                              "with an external loader and mark the section NOLOAD in the linker script");
        default:
                return strdup("memory the bootloader does not report: mark the section NOLOAD in the linker "
                              "script");
        }
}

static bool layout_is_flash(const MemMap *map, const SanitizeOptions *o, const MemLayout *l) {
        return l->alt_setting == o->alt_setting;
}

/* Decides one segment; fills v (its strings owned by v). */
static int judge(const Segment *s, const MemMap *map, const SanitizeOptions *o, SegmentVerdict *v) {
        uint32_t last = s->address + (s->size ? s->size - 1 : 0);

        v->kind = address_kind(s->address);
        v->alt_setting = -1;

        /* A DfuSe target names its alternate setting: the bytes belong to that memory only. */
        if (s->alt_setting >= 0 && (size_t)s->alt_setting >= map->n_layouts) {
                v->verdict = VERDICT_REJECT;
                v->reason = strdup_printf("targets alternate setting %d, but the device reports only %zu",
                                          s->alt_setting, map->n_layouts);
                return v->reason ? 0 : -ENOMEM;
        }

        for (size_t pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < map->n_layouts; i++) {
                        const MemLayout *l = &map->layouts[i];
                        bool is_flash = layout_is_flash(map, o, l);
                        /* First the flash layout (or the segment's own target), then every other one. */
                        bool primary = s->alt_setting >= 0 ? (size_t)s->alt_setting == i : is_flash;
                        if ((pass == 0) != primary)
                                continue;
                        Placement p = layout_place(l, s->address, s->size);
                        if (p.coverage == COVER_NONE)
                                continue;

                        v->alt_setting = (int)l->alt_setting;
                        v->region_name = strdup(l->name ?: "");
                        if (!v->region_name)
                                return -ENOMEM;
                        if (p.coverage == COVER_PARTIAL) {
                                v->verdict = VERDICT_REJECT;
                                v->reason = strdup_printf(
                                        "0x%08" PRIX32 "-0x%08" PRIX32
                                        " straddles the edge of \"%s\" (alt %u): "
                                        "0x%08" PRIX32
                                        " lies outside it; fix the linker script so the section "
                                        "fits inside the memory",
                                        s->address, last, l->name, l->alt_setting, p.first_gap);
                        } else if (!p.writable) {
                                v->verdict = VERDICT_REJECT;
                                v->reason = strdup_printf(
                                        "0x%08" PRIX32 "-0x%08" PRIX32
                                        " lies in \"%s\" (alt %u), which is not writable at "
                                        "0x%08" PRIX32,
                                        s->address, last, l->name, l->alt_setting, p.not_writable);
                        } else if (!is_flash && !o->allow_option_bytes && !o->all_alt_settings) {
                                v->verdict = VERDICT_REJECT;
                                v->reason = strdup_printf(
                                        "0x%08" PRIX32 "-0x%08" PRIX32
                                        " lies in \"%s\" (alt %u), not in the "
                                        "flash: writing option bytes or OTP needs an explicit option "
                                        "(--allow-option-bytes)",
                                        s->address, last, l->name, l->alt_setting);
                        } else {
                                v->verdict = VERDICT_KEEP;
                                v->kind = is_flash ? ADDRESS_FLASH : v->kind;
                                v->reason =
                                        strdup_printf("0x%08" PRIX32 "-0x%08" PRIX32 " in \"%s\" (alt %u)",
                                                      s->address, last, l->name, l->alt_setting);
                        }
                        return v->reason ? 0 : -ENOMEM;
                }
        }

        _cleanup_free_ char *hint = drop_hint(s->address, v->kind);
        if (!hint)
                return -ENOMEM;
        v->verdict = o->strict ? VERDICT_REJECT : VERDICT_DROP;
        v->reason = strdup_printf(
                "0x%08" PRIX32 "-0x%08" PRIX32 " (%" PRIu32 " bytes) lies outside every memory "
                "the device reports; it looks like %s%s",
                s->address, last, s->size, hint, o->strict ? " (strict mode rejects the image)" : "");
        return v->reason ? 0 : -ENOMEM;
}

static void verdict_done(SegmentVerdict *v) {
        free(v->source);
        free(v->region_name);
        free(v->reason);
}

SanitizeReport *sanitize_report_free(SanitizeReport *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_verdicts; i++)
                verdict_done(&r->verdicts[i]);
        free(r->verdicts);
        image_free(r->kept);
        free(r->reject_reason);
        return mfree(r);
}

static int report_finish(SanitizeReport *r) {
        if (r->rejected || r->bytes_kept > 0)
                return 0;
        r->rejected = true;
        r->reject_reason =
                strdup(r->n_verdicts == 0 ? "the image holds no data"
                                          : "nothing left to write: no segment lies in writable flash");
        return r->reject_reason ? 0 : -ENOMEM;
}

int sanitize_image(const Image *image, const MemMap *map, const SanitizeOptions *opts, SanitizeReport **ret,
                   DfuError *error) {
        _cleanup_(sanitize_report_freep) SanitizeReport *r = NULL;
        SanitizeOptions none = {};
        int k;

        if (!image || !map || !ret)
                return dfu_error_set(error, EINVAL, "sanitize: missing image or memory map");
        if (!opts)
                opts = &none;

        r = calloc(1, sizeof(*r));
        if (!r)
                return dfu_error_set(error, ENOMEM, "Out of memory");
        r->verdicts = calloc(MAX(image->n_segments, (size_t)1), sizeof(*r->verdicts));
        r->kept = image_new(image->name);
        if (!r->verdicts || !r->kept)
                return dfu_error_set(error, ENOMEM, "Out of memory");
        r->kept->has_entry = image->has_entry;
        r->kept->entry = image->entry;
        r->kept->format = image->format;
        r->kept->suffix_vid = image->suffix_vid;
        r->kept->suffix_pid = image->suffix_pid;
        r->kept->suffix_bcd_device = image->suffix_bcd_device;

        for (size_t i = 0; i < image->n_segments; i++) {
                const Segment *s = &image->segments[i];
                SegmentVerdict *v = &r->verdicts[r->n_verdicts++];

                *v = (SegmentVerdict){.address = s->address, .size = s->size};
                v->source = strdup(s->source ?: image->name ?: "");
                if (!v->source || judge(s, map, opts, v) < 0)
                        return dfu_error_set(error, ENOMEM, "Out of memory");

                switch (v->verdict) {
                case VERDICT_KEEP:
                        k = image_add_segment(r->kept, s->address, s->data, s->size, s->source,
                                              v->alt_setting, error);
                        if (k < 0)
                                return k;
                        r->bytes_kept += s->size;
                        break;
                case VERDICT_DROP:
                        r->bytes_dropped += s->size;
                        break;
                default:
                        if (!r->rejected) {
                                r->rejected = true;
                                r->reject_reason = strdup_printf("%s: %s", v->source, v->reason);
                                if (!r->reject_reason)
                                        return dfu_error_set(error, ENOMEM, "Out of memory");
                        }
                        break;
                }
        }

        if (report_finish(r) < 0)
                return dfu_error_set(error, ENOMEM, "Out of memory");
        *ret = TAKE_PTR(r);
        return 0;
}
