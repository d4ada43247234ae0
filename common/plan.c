/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

/* Full-speed USB moves about 1 KiB per millisecond through DNLOAD/UPLOAD control transfers. */
#define USB_US_PER_KIB 1000

Plan *plan_free(Plan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_runs; i++)
                free(p->runs[i].data);
        free(p->runs);
        free(p->erases);
        return mfree(p);
}

static bool segment_in_layout(const Segment *s, const MemLayout *l, const PlanOptions *o) {
        if (s->alt_setting >= 0)
                return (unsigned)s->alt_setting == l->alt_setting;
        return l->alt_setting == o->alt_setting;
}

/* Checks the segment lies in writable sectors; appends the erasable sectors it touches, once each. */
static int add_erases(Plan *p, const Segment *s, const MemLayout *l, DfuError *error) {
        uint64_t a = s->address, end = (uint64_t)s->address + s->size;

        while (a < end) {
                MemSector sec;
                if (memlayout_find_sector(l, (uint32_t)a, &sec) < 0)
                        return dfu_error_set(error, EINVAL,
                                             "%s: 0x%08" PRIX32
                                             " is outside \"%s\" (alt %u); sanitize the image "
                                             "first",
                                             s->source, (uint32_t)a, l->name, l->alt_setting);
                if (!(sec.attributes & MEM_WRITABLE))
                        return dfu_error_set(error, EINVAL,
                                             "%s: sector 0x%08" PRIX32 " of \"%s\" is not writable",
                                             s->source, sec.address, l->name);
                if ((sec.attributes & MEM_ERASABLE) && !p->mass_erase &&
                    (p->n_erases == 0 || p->erases[p->n_erases - 1].address != sec.address)) {
                        PlanErase *e = realloc(p->erases, (p->n_erases + 1) * sizeof(*e));
                        if (!e)
                                return dfu_error_set(error, ENOMEM, "Out of memory");
                        p->erases = e;
                        p->erases[p->n_erases++] = (PlanErase){
                                .address = sec.address,
                                .size = sec.size,
                                .write_offset = (uint32_t)(MAX(a, (uint64_t)sec.address) - sec.address),
                        };
                }
                a = (uint64_t)sec.address + sec.size;
        }
        return 0;
}

static uint64_t align_up(uint64_t v, unsigned a) {
        return DIV_ROUND_UP(v, a) * a;
}

/*
 * Appends the segment to the last run when it continues it, or when the two share a flash word (an
 * ECC word may be programmed once only, so both parts must go in one write); else starts a run.
 * The bytes between two segments of one flash word are 0xFF, which programs nothing.
 */
static int add_to_runs(Plan *p, const Segment *s, unsigned alt, DfuError *error) {
        PlanRun *last = p->n_runs > 0 ? &p->runs[p->n_runs - 1] : NULL;
        uint64_t start = s->address;

        if (last && last->alt_setting == alt &&
            align_up((uint64_t)last->address + last->size, p->flash_word) >= start) {
                uint32_t old = last->size, size = (uint32_t)(start + s->size - last->address);
                uint8_t *d = realloc(last->data, size);
                if (!d)
                        return dfu_error_set(error, ENOMEM, "Out of memory");
                memset(d + old, 0xFF, size - old);
                memcpy(d + (start - last->address), s->data, s->size);
                last->data = d;
                last->size = size;
                return 0;
        }

        PlanRun *r = realloc(p->runs, (p->n_runs + 1) * sizeof(*r));
        if (!r)
                return dfu_error_set(error, ENOMEM, "Out of memory");
        p->runs = r;
        r[p->n_runs] = (PlanRun){.address = s->address, .size = s->size, .alt_setting = alt};
        r[p->n_runs].data = malloc(MAX(s->size, 1u));
        if (!r[p->n_runs].data)
                return dfu_error_set(error, ENOMEM, "Out of memory");
        memcpy(r[p->n_runs].data, s->data, s->size);
        p->n_runs++;
        return 0;
}

/*
 * Pads the end of each run with 0xFF up to the flash word, inside its last block only, and only
 * where the padding stays in the run's last sector (option bytes are written as the exact area).
 */
static int pad_runs(Plan *p, const MemLayout *l, DfuError *error) {
        for (size_t i = 0; i < p->n_runs; i++) {
                PlanRun *r = &p->runs[i];
                uint64_t end = align_up((uint64_t)r->address + r->size, p->flash_word);
                uint32_t size = (uint32_t)(end - r->address), old = r->size;
                MemSector sec;

                if (size == old)
                        continue;
                if (memlayout_find_sector(l, r->address + old - 1, &sec) < 0 ||
                    end > (uint64_t)sec.address + sec.size || !(sec.attributes & MEM_ERASABLE))
                        continue;
                uint8_t *d = realloc(r->data, size);
                if (!d)
                        return dfu_error_set(error, ENOMEM, "Out of memory");
                memset(d + old, 0xFF, size - old);
                r->data = d;
                r->size = size;
        }
        return 0;
}

static uint32_t read_le32(const uint8_t *b) {
        return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/*
 * The vector table holding the entry point: a 4-aligned word pair (SP in RAM, reset vector ==
 * entry with the Thumb bit) in a kept run. Tables are aligned to at least 128 bytes, so only such
 * addresses are tried.
 */
static bool find_vector_table(const Plan *p, uint32_t entry, uint32_t *ret) {
        for (size_t i = 0; i < p->n_runs; i++) {
                const PlanRun *r = &p->runs[i];
                for (uint32_t off = (128 - r->address % 128) % 128; (uint64_t)off + 8 <= r->size;
                     off += 128) {
                        uint32_t sp = read_le32(r->data + off), pc = read_le32(r->data + off + 4);
                        if ((pc | 1) == (entry | 1) && sp >= 0x10000000 && sp < 0x40000000) {
                                *ret = r->address + off;
                                return true;
                        }
                }
        }
        return false;
}

static void plan_leave(Plan *p, const Image *kept) {
        uint32_t table;

        if (p->n_runs == 0)
                return;
        p->has_leave_address = true;
        if (kept->has_entry && find_vector_table(p, kept->entry, &table))
                p->leave_address = table;
        else
                p->leave_address = p->runs[0].address;
}

static void plan_estimate(Plan *p, const PartInfo *part) {
        uint64_t read = 0, erase = 0, write = 0, verify = 0;

        if (!part)
                return;
        /* The engine reads the planned sectors first only for skip decisions, never with a mass erase. */
        if ((p->skip & (PLAN_SKIP_IDENTICAL | PLAN_SKIP_BLANK)) && !p->mass_erase)
                for (size_t i = 0; i < p->n_erases; i++)
                        read += (uint64_t)p->erases[i].size * USB_US_PER_KIB / 1024;
        if (p->mass_erase)
                erase += (uint64_t)part_mass_erase_ms(part) * 1000;
        for (size_t i = 0; i < p->n_erases; i++)
                erase += (uint64_t)part_sector_erase_ms(part, p->erases[i].size) * 1000;
        for (size_t i = 0; i < p->n_runs; i++)
                write += part_program_us(part, p->runs[i].size);
        write += p->bytes_total * USB_US_PER_KIB / 1024;
        if (p->verify)
                verify += p->bytes_total * USB_US_PER_KIB / 1024;
        p->estimate_read_ms = DIV_ROUND_UP(read, 1000);
        p->estimate_erase_ms = DIV_ROUND_UP(erase, 1000);
        p->estimate_write_ms = DIV_ROUND_UP(write, 1000);
        p->estimate_verify_ms = DIV_ROUND_UP(verify, 1000);
        p->estimate_ms = DIV_ROUND_UP(read + erase + write + verify, 1000);
}

static void plan_skips(Plan *p, const PartInfo *part, unsigned requested) {
        p->skip = requested;
        if (!(requested & PLAN_SKIP_BLANK))
                return;
        if (!part) {
                p->skip &= ~(unsigned)PLAN_SKIP_BLANK;
                p->skip_refused =
                        "blank-skip refused: the part is unknown, so its flash may have ECC, where a "
                        "word that reads blank may already be programmed";
        } else if (part->ecc_word > 0) {
                p->skip &= ~(unsigned)PLAN_SKIP_BLANK;
                p->skip_refused =
                        "blank-skip refused: this part has ECC flash, where a word that reads blank "
                        "may already be programmed and cannot be written again without an erase";
        }
}

int plan_build(const Image *kept, const MemLayout *layout, uint16_t transfer_size, const PartInfo *part,
               const PlanOptions *opts, Plan **ret, DfuError *error) {
        _cleanup_(plan_freep) Plan *p = NULL;
        PlanOptions none = {};
        int r;

        if (!kept || !layout || !ret)
                return dfu_error_set(error, EINVAL, "plan: missing image or memory layout");
        if (transfer_size == 0)
                return dfu_error_set(error, EINVAL, "plan: wTransferSize is 0");
        if (!opts)
                opts = &none;

        p = calloc(1, sizeof(*p));
        if (!p)
                return dfu_error_set(error, ENOMEM, "Out of memory");
        p->alt_setting = layout->alt_setting;
        p->transfer_size = transfer_size;
        p->mass_erase = opts->mass_erase && layout->alt_setting == opts->alt_setting;
        p->verify = opts->verify;
        p->leave = opts->leave;
        /* Non-ECC STM32 flash is programmed in 32-bit words at most (F0: half-words, within that). */
        p->flash_word = part && part->ecc_word > 0 ? part->ecc_word : 4;
        plan_skips(p, part, opts->skip);

        for (size_t i = 0; i < kept->n_segments; i++) {
                const Segment *s = &kept->segments[i];
                if (!segment_in_layout(s, layout, opts) || s->size == 0)
                        continue;
                r = add_erases(p, s, layout, error);
                if (r < 0)
                        return r;
                r = add_to_runs(p, s, layout->alt_setting, error);
                if (r < 0)
                        return r;
        }
        r = pad_runs(p, layout, error);
        if (r < 0)
                return r;

        for (size_t i = 0; i < p->n_runs; i++) {
                p->bytes_total += p->runs[i].size;
                p->blocks_total += DIV_ROUND_UP(p->runs[i].size, transfer_size);
        }
        plan_estimate(p, part);
        if (layout->alt_setting == opts->alt_setting)
                plan_leave(p, kept);

        *ret = TAKE_PTR(p);
        return 0;
}

int plan_overwrite(Plan *p, uint32_t address, const uint8_t *bytes, size_t len) {
        uint64_t a = address, end = (uint64_t)address + len;

        /* Check first, then write: a patch is written whole or not at all. */
        for (int pass = 0; pass < 2; pass++)
                for (a = address; a < end;) {
                        const PlanRun *run = NULL;
                        for (size_t i = 0; i < p->n_runs; i++)
                                if (p->runs[i].address <= a &&
                                    a < (uint64_t)p->runs[i].address + p->runs[i].size) {
                                        run = &p->runs[i];
                                        break;
                                }
                        if (!run)
                                return -ENOENT;
                        uint64_t piece_end = MIN(end, (uint64_t)run->address + run->size);
                        if (pass == 1)
                                memcpy(run->data + (a - run->address), bytes + (a - address), piece_end - a);
                        a = piece_end;
                }
        return 0;
}
