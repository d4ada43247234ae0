/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "dfusctl.h"
#include "image/image.h"
#include "memmap.h"
#include "parts.h"
#include "patch-place.h"
#include "plan.h"
#include "sanitize.h"

/* Everything `dfusctl inspect` found, for the text and JSON printers. */
typedef struct InspectResult {
        char **images; /* the file names, in command-line order */
        size_t n_images;
        const PartInfo *part; /* --family, or NULL */
        const MemMap *map;
        SanitizeReport *report;
        Plan **plans; /* one per alternate setting that has kept bytes, in alt order */
        size_t n_plans;
        const Patch *patches; /* --patch, with where each lands */
        const PatchPlace *places;
        size_t n_patches;
} InspectResult;

void inspect_print_text(const InspectResult *r, const DfusctlContext *ctx);
int inspect_print_json(const InspectResult *r);

/* --option-bytes: the named fields changed from the family's factory block; an exit status. */
int inspect_option_bytes(const char *family, const char *spec, bool allow_permanent,
                         const DfusctlContext *ctx);
