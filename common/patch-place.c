/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "patch-place.h"

static const char *const patch_place_table[_PATCH_PLACE_MAX] = {
        [PATCH_PLACE_IMAGE] = "in the image",
        [PATCH_PLACE_ERASED] = "in erased flash of a sector the image erases",
        [PATCH_PLACE_ERASED_FOR_IT] = "in a sector erased for the patch",
};

const char *patch_place_to_string(PatchPlace p) {
        return p >= 0 && p < _PATCH_PLACE_MAX ? patch_place_table[p] : "unknown";
}

static bool image_covers(const Image *image, uint32_t address, uint32_t size) {
        uint64_t a = address, end = (uint64_t)address + size;

        for (size_t i = 0; i < image->n_segments && a < end; i++) {
                const Segment *s = &image->segments[i];
                if (s->address <= a && a < (uint64_t)s->address + s->size)
                        a = (uint64_t)s->address + s->size;
        }
        return a >= end;
}

static bool image_touches(const Image *image, uint32_t address, uint32_t size) {
        for (size_t i = 0; i < image->n_segments; i++)
                if (patch_ranges_overlap(image->segments[i].address, image->segments[i].size, address, size))
                        return true;
        return false;
}

/* Adds 0xFF bytes wherever [address, address + size) is not in the image yet. */
static int image_fill_gaps(Image *image, const Patch *p, DfuError *error) {
        static const uint8_t blank[PATCH_WIDTH_MAX] = {[0 ... PATCH_WIDTH_MAX - 1] = 0xFF};
        uint64_t a = p->address, end = (uint64_t)p->address + p->width;
        char source[96];

        (void)snprintf(source, sizeof(source), "patch at 0x%08" PRIX32 " (%s)", p->address, p->sequence);
        while (a < end) {
                uint64_t gap_end = end;
                bool inside = false;

                for (size_t i = 0; i < image->n_segments; i++) {
                        const Segment *s = &image->segments[i];
                        uint64_t s_end = (uint64_t)s->address + s->size;
                        if (s->address <= a && a < s_end) {
                                a = s_end;
                                inside = true;
                                break;
                        }
                        if (s->address > a && s->address < gap_end)
                                gap_end = s->address;
                }
                if (inside)
                        continue;
                int r = image_add_segment(image, (uint32_t)a, blank, (uint32_t)(gap_end - a), source, -1,
                                          error);
                if (r < 0)
                        return r;
                a = gap_end;
        }
        return 0;
}

static int place_one(const Image *kept, const MemLayout *layout, const Patch *p, bool mass_erase,
                     bool patch_erase, PatchPlace *ret, DfuError *error) {
        uint64_t a = p->address, end = (uint64_t)p->address + p->width;
        PatchPlace place = PATCH_PLACE_IMAGE;

        while (a < end) {
                MemSector sec;

                if (memlayout_find_sector(layout, (uint32_t)a, &sec) < 0)
                        return dfu_error_set(error, EMEDIUMTYPE,
                                             "Patch at 0x%08" PRIX32 " (%s): 0x%08" PRIX32
                                             " is outside the board's \"%s\" (RAM or unmapped): only "
                                             "flash the job writes can be patched.",
                                             p->address, p->sequence, (uint32_t)a, layout->name);
                if (!(sec.attributes & MEM_WRITABLE))
                        return dfu_error_set(error, EMEDIUMTYPE,
                                             "Patch at 0x%08" PRIX32 " (%s): sector 0x%08" PRIX32
                                             " is not writable.",
                                             p->address, p->sequence, sec.address);
                uint64_t piece_end = MIN(end, (uint64_t)sec.address + sec.size);
                if (!image_covers(kept, (uint32_t)a, (uint32_t)(piece_end - a))) {
                        if (mass_erase || image_touches(kept, sec.address, sec.size))
                                place = MAX(place, PATCH_PLACE_ERASED);
                        else if (patch_erase)
                                place = PATCH_PLACE_ERASED_FOR_IT;
                        else
                                return dfu_error_set(
                                        error, EMEDIUMTYPE,
                                        "Patch at 0x%08" PRIX32 " (%s) is in sector 0x%08" PRIX32
                                        " that the image does not touch: allow erasing it with "
                                        "patch-erase (dfusctl --patch-erase); whatever it holds "
                                        "is lost.",
                                        p->address, p->sequence, sec.address);
                }
                a = piece_end;
        }
        *ret = place;
        return 0;
}

int patch_place_all(Image *kept, const MemLayout *layout, const Patch *patches, size_t n, bool mass_erase,
                    bool patch_erase, PatchPlace *places, DfuError *error) {
        int r;

        for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < i; k++)
                        if (patch_ranges_overlap(patches[i].address, patches[i].width, patches[k].address,
                                                 patches[k].width))
                                return dfu_error_set(error, EMEDIUMTYPE,
                                                     "Patch at 0x%08" PRIX32 " (%s) overlaps the patch at "
                                                     "0x%08" PRIX32 " (%s).",
                                                     patches[i].address, patches[i].sequence,
                                                     patches[k].address, patches[k].sequence);
        /* Every placement is judged against the image as given, before any gap is filled. */
        for (size_t i = 0; i < n; i++) {
                PatchPlace place = PATCH_PLACE_IMAGE;
                r = place_one(kept, layout, &patches[i], mass_erase, patch_erase, &place, error);
                if (r < 0)
                        return r;
                if (places)
                        places[i] = place;
        }
        for (size_t i = 0; i < n; i++) {
                r = image_fill_gaps(kept, &patches[i], error);
                if (r < 0)
                        return r;
        }
        return 0;
}
