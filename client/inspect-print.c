/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "inspect.h"
#include "output.h"

static OutputColor verdict_color(Verdict v) {
        return v == VERDICT_KEEP   ? OUTPUT_COLOR_GREEN
               : v == VERDICT_DROP ? OUTPUT_COLOR_YELLOW
                                   : OUTPUT_COLOR_RED;
}

static void print_segments(const InspectResult *r, const DfusctlContext *ctx) {
        static const char *const headers[] = {"VERDICT", "ADDRESS", "END", "SIZE", "WHERE", "SOURCE"};
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);
        const SanitizeReport *rep = r->report;

        if (!t)
                return;
        for (size_t i = 0; i < rep->n_verdicts; i++) {
                const SegmentVerdict *v = &rep->verdicts[i];
                char start[16], end[16], size[32], where[160];

                format_address(v->address, start);
                format_address(v->address + (v->size ? v->size - 1 : 0), end);
                format_bytes(v->size, size);
                if (v->region_name)
                        snprintf(where, sizeof(where), "%s (alt %d)", v->region_name, v->alt_setting);
                else if (v->kind == ADDRESS_RAM)
                        snprintf(where, sizeof(where), "RAM (%s)", address_ram_name(v->address));
                else
                        snprintf(where, sizeof(where), "%s", address_kind_to_string(v->kind));
                const char *cells[] = {verdict_to_string(v->verdict), start, end, size, where, v->source};
                (void)table_add_row(t, cells, 0, verdict_color(v->verdict));
        }
        (void)table_print(t, stdout, !ctx->no_legend, ctx->color);

        for (size_t i = 0; i < rep->n_verdicts; i++) {
                const SegmentVerdict *v = &rep->verdicts[i];
                if (v->verdict == VERDICT_KEEP)
                        continue;
                printf("%s%s%s: %s: %s\n", output_color_on(ctx->color, verdict_color(v->verdict)),
                       v->verdict == VERDICT_DROP ? "warning" : "error", output_color_off(ctx->color),
                       v->source, v->reason);
        }
}

static void print_plan(const InspectResult *r, const Plan *p, const DfusctlContext *ctx) {
        static const char *const headers[] = {"STEP", "ADDRESS", "SIZE", "UNITS"};
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);
        const MemLayout *l = &r->map->layouts[p->alt_setting];
        char size[32], addr[16], blocks[64], total[32], eta[32];

        if (!t)
                return;
        printf("\n%sPlan for alt %u \"%s\"%s (wTransferSize %u, flash word %u bytes)\n",
               output_color_on(ctx->color, OUTPUT_COLOR_BOLD), p->alt_setting, l->name,
               output_color_off(ctx->color), p->transfer_size, p->flash_word);
        if (p->mass_erase) {
                const char *cells[] = {"mass-erase", "-", "-", "-"};
                (void)table_add_row(t, cells, -1, OUTPUT_COLOR_NONE);
        }
        /* Consecutive sectors of one size read better as one row: 256 pages of a U5 are one line. */
        for (size_t i = 0, n; i < p->n_erases; i += n) {
                const PlanErase *e = &p->erases[i];
                for (n = 1; i + n < p->n_erases && p->erases[i + n].size == e->size &&
                            p->erases[i + n].address == e->address + n * e->size;
                     n++)
                        ;
                format_address(e->address, addr);
                format_bytes((uint64_t)n * e->size, size);
                if (n == 1)
                        snprintf(blocks, sizeof(blocks), "1 sector");
                else
                        snprintf(blocks, sizeof(blocks), "%zu sectors of %" PRIu32 " KiB", n,
                                 e->size / 1024);
                const char *cells[] = {"erase", addr, size, blocks};
                (void)table_add_row(t, cells, -1, OUTPUT_COLOR_NONE);
        }
        for (size_t i = 0; i < p->n_runs; i++) {
                format_address(p->runs[i].address, addr);
                format_bytes(p->runs[i].size, size);
                snprintf(blocks, sizeof(blocks), "%" PRIu64 " block%s",
                         (uint64_t)DIV_ROUND_UP(p->runs[i].size, p->transfer_size),
                         DIV_ROUND_UP(p->runs[i].size, p->transfer_size) == 1 ? "" : "s");
                const char *cells[] = {"write", addr, size, blocks};
                (void)table_add_row(t, cells, -1, OUTPUT_COLOR_NONE);
        }
        (void)table_print(t, stdout, !ctx->no_legend, ctx->color);
        if (p->skip_refused)
                printf("note: %s\n", p->skip_refused);
        if (ctx->no_legend)
                return;
        format_bytes(p->bytes_total, total);
        printf("Total: %s%zu sector erase%s, %zu run%s (one set-address each), %s in %" PRIu64 " block%s",
               p->mass_erase ? "mass erase, " : "", p->n_erases, p->n_erases == 1 ? "" : "s", p->n_runs,
               p->n_runs == 1 ? "" : "s", total, p->blocks_total, p->blocks_total == 1 ? "" : "s");
        if (r->part) {
                format_duration_ms(p->estimate_ms, eta);
                printf("; estimate %s with verify on %s", eta, r->part->name);
        }
        printf("\n");
        if (p->has_leave_address)
                printf("Leave: jump through the vector table at 0x%08" PRIX32 "\n", p->leave_address);
}

void inspect_print_text(const InspectResult *r, const DfusctlContext *ctx) {
        const SanitizeReport *rep = r->report;
        char kept[32], dropped[32];

        print_segments(r, ctx);
        if (!ctx->no_legend) {
                format_bytes(rep->bytes_kept, kept);
                format_bytes(rep->bytes_dropped, dropped);
                printf("%s kept, %s dropped\n", kept, dropped);
        }
        if (rep->rejected) {
                printf("%sImage rejected%s: %s\n", output_color_on(ctx->color, OUTPUT_COLOR_RED),
                       output_color_off(ctx->color), rep->reject_reason);
                return;
        }
        for (size_t i = 0; i < r->n_patches; i++) {
                char format[16];
                patch_format_to_string(r->patches[i].format, r->patches[i].width, format);
                printf("%s0x%08" PRIX32 " %-9s %-16s %s\n", i == 0 ? "Patches: " : "         ",
                       r->patches[i].address, format, r->patches[i].sequence,
                       patch_place_to_string(r->places[i]));
        }
        for (size_t i = 0; i < r->n_plans; i++)
                print_plan(r, r->plans[i], ctx);
}

static json_object *segment_json(const SegmentVerdict *v) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "source", json_string_or_null(v->source));
        json_object_object_add(o, "address", json_object_new_int64(v->address));
        json_object_object_add(o, "size", json_object_new_int64(v->size));
        json_object_object_add(o, "verdict", json_object_new_string(verdict_to_string(v->verdict)));
        json_object_object_add(o, "kind", json_object_new_string(address_kind_to_string(v->kind)));
        json_object_object_add(o, "alt_setting",
                               v->alt_setting >= 0 ? json_object_new_int(v->alt_setting) : NULL);
        json_object_object_add(o, "region", json_string_or_null(v->region_name));
        json_object_object_add(o, "reason", json_string_or_null(v->reason));
        return o;
}

static json_object *plan_json(const InspectResult *r, const Plan *p) {
        json_object *o = json_object_new_object(), *erases = json_object_new_array(),
                    *runs = json_object_new_array();

        json_object_object_add(o, "alt_setting", json_object_new_int((int)p->alt_setting));
        json_object_object_add(o, "region", json_object_new_string(r->map->layouts[p->alt_setting].name));
        json_object_object_add(o, "transfer_size", json_object_new_int(p->transfer_size));
        json_object_object_add(o, "flash_word", json_object_new_int((int)p->flash_word));
        json_object_object_add(o, "mass_erase", json_object_new_boolean(p->mass_erase));
        for (size_t i = 0; i < p->n_erases; i++) {
                json_object *e = json_object_new_object();
                json_object_object_add(e, "address", json_object_new_int64(p->erases[i].address));
                json_object_object_add(e, "size", json_object_new_int64(p->erases[i].size));
                json_object_array_add(erases, e);
        }
        json_object_object_add(o, "erases", erases);
        for (size_t i = 0; i < p->n_runs; i++) {
                json_object *w = json_object_new_object();
                json_object_object_add(w, "address", json_object_new_int64(p->runs[i].address));
                json_object_object_add(w, "size", json_object_new_int64(p->runs[i].size));
                json_object_object_add(
                        w, "blocks", json_object_new_int64(DIV_ROUND_UP(p->runs[i].size, p->transfer_size)));
                json_object_array_add(runs, w);
        }
        json_object_object_add(o, "runs", runs);
        json_object_object_add(o, "bytes_total", json_object_new_int64((int64_t)p->bytes_total));
        json_object_object_add(o, "blocks_total", json_object_new_int64((int64_t)p->blocks_total));
        json_object_object_add(o, "estimate_ms",
                               r->part ? json_object_new_int64((int64_t)p->estimate_ms) : NULL);
        json_object_object_add(o, "leave_address",
                               p->has_leave_address ? json_object_new_int64(p->leave_address) : NULL);
        json_object_object_add(o, "skip_refused", json_string_or_null(p->skip_refused));
        return o;
}

int inspect_print_json(const InspectResult *r) {
        json_object *doc = json_object_new_object(), *images = json_object_new_array(),
                    *segments = json_object_new_array(), *plans = json_object_new_array();
        const SanitizeReport *rep = r->report;
        int k;

        for (size_t i = 0; i < r->n_images; i++)
                json_object_array_add(images, json_object_new_string(r->images[i]));
        json_object_object_add(doc, "images", images);
        json_object_object_add(doc, "part", json_string_or_null(r->part ? r->part->name : NULL));
        json_object_object_add(doc, "accepted", json_object_new_boolean(!rep->rejected));
        json_object_object_add(doc, "reject_reason", json_string_or_null(rep->reject_reason));
        json_object_object_add(doc, "bytes_kept", json_object_new_int64((int64_t)rep->bytes_kept));
        json_object_object_add(doc, "bytes_dropped", json_object_new_int64((int64_t)rep->bytes_dropped));
        for (size_t i = 0; i < rep->n_verdicts; i++)
                json_object_array_add(segments, segment_json(&rep->verdicts[i]));
        json_object_object_add(doc, "segments", segments);
        for (size_t i = 0; i < r->n_plans; i++)
                json_object_array_add(plans, plan_json(r, r->plans[i]));
        json_object_object_add(doc, "plans", plans);
        if (r->n_patches > 0) {
                json_object *patches = json_object_new_array();
                for (size_t i = 0; i < r->n_patches; i++) {
                        json_object *o = json_object_new_object();
                        char format[16];

                        patch_format_to_string(r->patches[i].format, r->patches[i].width, format);
                        json_object_object_add(o, "address", json_object_new_int64(r->patches[i].address));
                        json_object_object_add(o, "format", json_object_new_string(format));
                        json_object_object_add(o, "sequence",
                                               json_object_new_string(r->patches[i].sequence));
                        json_object_object_add(o, "size", json_object_new_int(r->patches[i].width));
                        json_object_object_add(o, "place",
                                               json_object_new_string(patch_place_to_string(r->places[i])));
                        json_object_array_add(patches, o);
                }
                json_object_object_add(doc, "patches", patches);
        }

        k = output_json(doc, stdout);
        json_object_put(doc);
        return k;
}
