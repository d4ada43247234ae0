/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "macro.h"
#include "patch-place.h"
#include "prepare.h"
#include "protect.h"

void prepare_target_from_device(const Device *d, PrepareTarget *ret) {
        *ret = (PrepareTarget){
                .map = d->map,
                .transfer_size = d->transfer_size,
                .part = d->part,
                .vid = d->vid,
                .pid = d->pid,
                .port_path = d->port_path,
        };
}

int prepare_target_from_part(const PartInfo *part, MemMap **ret_map, PrepareTarget *ret, DfuError *error) {
        int r;

        if (!part)
                return dfu_error_set(error, EINVAL, "No board to check the image against: name the part.");
        r = part_memmap(part, ret_map, error);
        if (r < 0)
                return r;
        *ret = (PrepareTarget){.map = *ret_map, .transfer_size = part->transfer_size, .part = part};
        return 0;
}

/* A DfuSe file names the device it was made for; 0xFFFF means any. */
static int check_suffix(const Image *image, const PrepareTarget *t, DfuError *error) {
        if (!t->vid || !image->suffix_vid || image->suffix_vid == 0xFFFF)
                return 0;
        if (image->suffix_vid == t->vid && (image->suffix_pid == 0xFFFF || image->suffix_pid == t->pid))
                return 0;
        return dfu_error_set(error, EMEDIUMTYPE,
                             "%s is made for USB device %04x:%04x, the board on port %s is %04x:%04x.",
                             image->name ? image->name : "The image", image->suffix_vid, image->suffix_pid,
                             t->port_path ? t->port_path : "?", t->vid, t->pid);
}

static int reject(SanitizeReport *report, DfuError *error, const char *reason) {
        if (!report->rejected || !report->reject_reason) {
                char *copy = strdup(reason);
                if (!copy)
                        return -ENOMEM;
                free(report->reject_reason);
                report->reject_reason = copy;
                report->rejected = true;
        }
        return dfu_error_set(error, EMEDIUMTYPE, "%s", report->reject_reason);
}

/* Places the patches: their bytes join the kept image (as blanks where it had none) so that the plan
 * erases and writes them; the worker puts each board's values there once it has taken them. */
static int prepare_patches(SanitizeReport *report, const JobOptions *o, const MemLayout *layout,
                           PatchPlace *places, DfuError *error) {
        DfuError place_error = DFU_ERROR_INIT;
        _cleanup_free_ Patch *patches = NULL;
        size_t n;
        int r;

        if (!o->patches)
                return 0;
        r = job_options_patches(o, &patches, &n);
        if (r < 0)
                return r == -ENOMEM ? r : reject(report, error, "The job's patches are unreadable.");
        r = patch_place_all(report->kept, layout, patches, n, o->mass_erase, o->patch_erase, places,
                            &place_error);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return reject(report, error, dfu_error_message(&place_error));
        return 0;
}

int prepare_image(const Image *image, const JobOptions *o, const PrepareTarget *t, bool default_verify,
                  SanitizeReport **ret_report, Plan **ret_plan, DfuError *error) {
        return prepare_image_places(image, o, t, default_verify, ret_report, ret_plan, NULL, error);
}

int prepare_image_places(const Image *image, const JobOptions *o, const PrepareTarget *t,
                         bool default_verify, SanitizeReport **ret_report, Plan **ret_plan,
                         PatchPlace *places, DfuError *error) {
        _cleanup_(sanitize_report_freep) SanitizeReport *report = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        DfuError plan_error = DFU_ERROR_INIT;
        SanitizeOptions so;
        PlanOptions po;
        int r;

        r = check_suffix(image, t, error);
        if (r < 0)
                return r;
        job_options_sanitize(o, &so);
        r = sanitize_image(image, t->map, &so, &report, error);
        if (r < 0)
                return r;

        if (report->rejected)
                r = reject(report, error, report->reject_reason ? report->reject_reason : "Image rejected.");
        else if (t->map->n_layouts == 0)
                r = reject(report, error, "The board reports no memory map.");
        else if ((r = prepare_patches(report, o, &t->map->layouts[0], places, error)) < 0) {
                if (r == -ENOMEM)
                        return r;
        } else {
                job_options_plan(o, default_verify, &po);
                r = plan_build(report->kept, &t->map->layouts[0], t->transfer_size, t->part, &po, &plan,
                               &plan_error);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        r = reject(report, error, dfu_error_message(&plan_error));
                else if (protect_check_options(o, t->part, plan, error) < 0) {
                        /* Not the image's fault: the options are wrong for this board. */
                        *ret_report = TAKE_PTR(report);
                        return -EINVAL;
                }
        }
        *ret_report = TAKE_PTR(report);
        if (ret_plan)
                *ret_plan = TAKE_PTR(plan);
        return r == -ENOMEM ? r : r < 0 ? -EMEDIUMTYPE : 0;
}
