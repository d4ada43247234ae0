/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "image/image.h"
#include "job-options.h"
#include "memmap.h"
#include "parts.h"
#include "patch-place.h"
#include "plan.h"
#include "sanitize.h"

typedef struct Device Device;

/* What an image is judged against: a board's own memory map, or a part's from the part table. */
typedef struct PrepareTarget {
        const MemMap *map;
        uint16_t transfer_size;
        const PartInfo *part; /* may be NULL */
        uint16_t vid, pid;    /* of the board; 0 when judged against a part */
        const char *port_path;
} PrepareTarget;

void prepare_target_from_device(const Device *d, PrepareTarget *ret);
/* *ret_map holds the part's map for as long as ret is used. */
int prepare_target_from_part(const PartInfo *part, MemMap **ret_map, PrepareTarget *ret, DfuError *error);

/*
 * The one step from images and options to what a board gets: sanitize against the target's map, then
 * plan. Submit, Inspect, AddRule, rule matching and resumed jobs all come here. Returns 0 with the report
 * and the plan; -EMEDIUMTYPE when the image is rejected (the report says why, and so does error); another
 * negative errno when something else failed.
 */
int prepare_image(const Image *image, const JobOptions *o, const PrepareTarget *t, bool default_verify,
                  SanitizeReport **ret_report, Plan **ret_plan, DfuError *error);
/* The same, and where each of the job's patches lands (places: PATCH_MAX entries, in their order). */
int prepare_image_places(const Image *image, const JobOptions *o, const PrepareTarget *t,
                         bool default_verify, SanitizeReport **ret_report, Plan **ret_plan,
                         PatchPlace *places, DfuError *error);
