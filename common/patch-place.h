/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "image/image.h"
#include "memmap.h"
#include "patch.h"

/*
 * Where a patch lands decides whether a job may carry it. Its bytes must be written by the job
 * anyway: inside the kept image (the image's bytes there are replaced), or in the erased part of a
 * sector the job erases because the image touches it (or because of a mass erase). A patch in a
 * sector the image does not touch wipes that sector, so it needs patch_erase. Anything else (RAM,
 * unmapped, read-only, overlapping another patch) is a rejection.
 */

typedef enum PatchPlace {
        PATCH_PLACE_IMAGE,         /* all of its bytes replace image bytes */
        PATCH_PLACE_ERASED,        /* partly or wholly in the erased part of a sector erased anyway */
        PATCH_PLACE_ERASED_FOR_IT, /* in a sector erased only for it (patch_erase) */
        _PATCH_PLACE_MAX,
} PatchPlace;

const char *patch_place_to_string(PatchPlace p);

/*
 * Checks every patch against layout and the kept image, and adds the bytes the image lacks (as 0xFF,
 * the value is written into the plan later) to kept so that the plan erases and writes them. places
 * (n entries, may be NULL) gets each patch's placement. A rejection is -EMEDIUMTYPE with the reason.
 */
int patch_place_all(Image *kept, const MemLayout *layout, const Patch *patches, size_t n, bool mass_erase,
                    bool patch_erase, PatchPlace *places, DfuError *error);
