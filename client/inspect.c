/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "inspect-device.h"
#include "inspect.h"
#include "parse-util.h"

/* `dfusctl inspect`: runs the daemon's image pipeline locally, touching no board. */

typedef struct InspectArgs {
        const char *family;
        char **layouts; /* borrowed from argv, one per alternate setting */
        size_t n_layouts;
        bool has_base;
        uint32_t base;
        uint16_t transfer_size;
        bool strict, allow_option_bytes, mass_erase, patch_erase;
        Patch patches[PATCH_MAX];
        size_t n_patches;
        const char *export_path;
        ImageFormat export_format;
        const char *option_bytes;
        bool allow_permanent_lock;
} InspectArgs;

void verb_inspect_help(void) {
        printf("Usage: dfusctl inspect [--family NAME | --layout STRING...] [OPTIONS] IMAGE...\n\n"
               "Loads the images (Intel HEX, S-record, ELF, DfuSe, raw binary with --base), merges them,\n"
               "judges every segment against the board's memory map (keep, drop, reject) and prints\n"
               "the flash plan: sectors to erase, runs to write, totals and an estimate. No board is\n"
               "touched and the daemon is not needed.\n\n"
               "Options:\n"
               "     --family=NAME        Take the memory map and timing of a known part (e.g. h743)\n"
               "     --layout=STRING      A DfuSe memory map string, once per alternate setting, in order\n"
               "     --device=PORT        Ask dfusd, with the map of the live board on this port\n"
               "     --base=ADDR          Load address of raw binary images\n"
               "     --transfer-size=N    wTransferSize (default: the part's, else 2048)\n"
               "     --strict             Reject images with segments outside the device's memory\n"
               "     --allow-option-bytes Keep segments in option bytes / OTP\n"
               "     --mass-erase         Plan a mass erase instead of sector erases\n"
               "     --patch=ADDRESS:FORMAT:SEQUENCE  Where a per-board value would go (repeatable)\n"
               "     --patch-erase        Allow patches in sectors the image does not touch\n"
               "     --export=FILE        Write the kept segments (.hex, .dfu or .bin by extension)\n"
               "     --export-format=FMT  ihex, dfuse or binary, whatever the extension\n"
               "     --option-bytes=FIELD=VALUE,...  With --family: the option bytes a job would write,\n"
               "                          field by field from the factory values, and the bytes (no\n"
               "                          image needed); --allow-permanent-lock admits rdp=2\n\n"
               "JSON (--json) keys: images[], part (name or null), accepted, reject_reason,\n"
               "bytes_kept, bytes_dropped, segments[] {source, address, size, verdict (keep|drop|\n"
               "reject), kind, alt_setting, region, reason}, plans[] {alt_setting, region,\n"
               "transfer_size, flash_word, mass_erase, erases[] {address, size}, runs[] {address,\n"
               "size, blocks}, bytes_total, blocks_total, estimate_ms, leave_address, skip_refused},\n"
               "patches[] {address, format, sequence, size, place} (with --patch).\n"
               "Addresses and sizes are numbers.\n\n"
               "Exit status: 0 accepted, 1 rejected, 2 bad command line, 3 unreadable or invalid file.\n");
}

static void list_families(FILE *f) {
        for (unsigned i = 0; i < part_table_size; i++)
                fprintf(f, "%s%s", i > 0 ? ", " : "", part_table[i].name);
}

static int parse_u32(const char *s, uint32_t *ret) {
        uint64_t v;
        int r;

        r = parse_uint64(s, 0, UINT32_MAX, &v);
        if (r < 0)
                return r;
        *ret = (uint32_t)v;
        return 0;
}

static ImageFormat format_from_extension(const char *path) {
        const char *dot = strrchr(path, '.');
        if (!dot)
                return IMAGE_FORMAT_UNKNOWN;
        if (strcasecmp(dot, ".hex") == 0 || strcasecmp(dot, ".ihex") == 0 || strcasecmp(dot, ".ihx") == 0)
                return IMAGE_FORMAT_IHEX;
        if (strcasecmp(dot, ".dfu") == 0)
                return IMAGE_FORMAT_DFUSE;
        if (strcasecmp(dot, ".bin") == 0)
                return IMAGE_FORMAT_BINARY;
        return IMAGE_FORMAT_UNKNOWN;
}

static bool export_format_ok(ImageFormat f) {
        return f == IMAGE_FORMAT_IHEX || f == IMAGE_FORMAT_DFUSE || f == IMAGE_FORMAT_BINARY;
}

static int usage_error(const char *msg) {
        fprintf(stderr, "dfusctl inspect: %s\n", msg);
        return EXIT_USAGE;
}

/* Returns -1 to continue, or an exit code. */
static int parse_args(int argc, char *argv[], InspectArgs *a) {
        enum {
                ARG_FAMILY = 0x100,
                ARG_LAYOUT,
                ARG_BASE,
                ARG_TS,
                ARG_STRICT,
                ARG_AOB,
                ARG_MASS,
                ARG_EXPORT,
                ARG_EFMT,
                ARG_OB,
                ARG_PERM,
                ARG_PATCH,
                ARG_PATCH_ERASE,
        };
        static const struct option options[] = {
                {"family", required_argument, NULL, ARG_FAMILY},
                {"layout", required_argument, NULL, ARG_LAYOUT},
                {"base", required_argument, NULL, ARG_BASE},
                {"transfer-size", required_argument, NULL, ARG_TS},
                {"strict", no_argument, NULL, ARG_STRICT},
                {"allow-option-bytes", no_argument, NULL, ARG_AOB},
                {"mass-erase", no_argument, NULL, ARG_MASS},
                {"export", required_argument, NULL, ARG_EXPORT},
                {"export-format", required_argument, NULL, ARG_EFMT},
                {"option-bytes", required_argument, NULL, ARG_OB},
                {"allow-permanent-lock", no_argument, NULL, ARG_PERM},
                {"patch", required_argument, NULL, ARG_PATCH},
                {"patch-erase", no_argument, NULL, ARG_PATCH_ERASE},
                {},
        };
        uint32_t v;
        int c;

        optind = 0;
        opterr = 1;
        /* GNU getopt permutes: options may follow the images, which keep their order. */
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case ARG_FAMILY:
                        a->family = optarg;
                        break;
                case ARG_LAYOUT: {
                        char **l = realloc(a->layouts, (a->n_layouts + 1) * sizeof(char *));
                        if (!l)
                                return usage_error("out of memory");
                        a->layouts = l;
                        l[a->n_layouts++] = optarg;
                        break;
                }
                case ARG_BASE:
                        if (parse_u32(optarg, &a->base) < 0)
                                return usage_error("--base needs an address such as 0x08000000");
                        a->has_base = true;
                        break;
                case ARG_TS:
                        if (parse_u32(optarg, &v) < 0 || v == 0 || v > UINT16_MAX)
                                return usage_error("--transfer-size needs a number from 1 to 65535");
                        a->transfer_size = (uint16_t)v;
                        break;
                case ARG_STRICT:
                        a->strict = true;
                        break;
                case ARG_AOB:
                        a->allow_option_bytes = true;
                        break;
                case ARG_MASS:
                        a->mass_erase = true;
                        break;
                case ARG_EXPORT:
                        a->export_path = optarg;
                        break;
                case ARG_OB:
                        a->option_bytes = optarg;
                        break;
                case ARG_PERM:
                        a->allow_permanent_lock = true;
                        break;
                case ARG_PATCH: {
                        DfuError error = DFU_ERROR_INIT;
                        if (a->n_patches >= PATCH_MAX)
                                return usage_error("at most 16 patches");
                        if (patch_parse(optarg, &a->patches[a->n_patches], &error) < 0) {
                                fprintf(stderr, "dfusctl inspect: --patch: %s\n", dfu_error_message(&error));
                                return EXIT_USAGE;
                        }
                        a->n_patches++;
                        break;
                }
                case ARG_PATCH_ERASE:
                        a->patch_erase = true;
                        break;
                case ARG_EFMT:
                        a->export_format = image_format_from_string(optarg);
                        if (!export_format_ok(a->export_format))
                                return usage_error("--export-format must be ihex, dfuse or binary");
                        break;
                default:
                        return EXIT_USAGE;
                }
        }
        return -1;
}

static int build_map(const InspectArgs *a, const PartInfo **ret_part, MemMap **ret_map) {
        _cleanup_(memmap_freep) MemMap *map = NULL;
        const PartInfo *part = NULL;
        DfuError error = DFU_ERROR_INIT;

        if (!a->family && a->n_layouts == 0) {
                fprintf(stderr, "dfusctl inspect: which board? Give --family NAME (one of: ");
                list_families(stderr);
                fprintf(stderr,
                        ") or the board's memory map with --layout STRING, once per alternate setting\n");
                return EXIT_USAGE;
        }
        if (a->family) {
                part = part_find(a->family);
                if (!part) {
                        fprintf(stderr, "dfusctl inspect: unknown family \"%s\"; known: ", a->family);
                        list_families(stderr);
                        fputc('\n', stderr);
                        return EXIT_USAGE;
                }
        }
        if (a->n_layouts > 0) {
                map = memmap_new();
                if (!map)
                        return usage_error("out of memory");
                for (size_t i = 0; i < a->n_layouts; i++)
                        if (memmap_add(map, a->layouts[i], &error) < 0) {
                                fprintf(stderr, "dfusctl inspect: --layout: %s\n",
                                        dfu_error_message(&error));
                                return EXIT_USAGE;
                        }
        } else if (part_memmap(part, &map, &error) < 0) {
                fprintf(stderr, "dfusctl inspect: %s\n", dfu_error_message(&error));
                return EXIT_IO;
        }
        *ret_part = part;
        *ret_map = TAKE_PTR(map);
        return -1;
}

static int load_images(const InspectArgs *a, char **paths, size_t n, Image **ret) {
        _cleanup_(image_freep) Image *merged = NULL;
        ImageLoadOptions lo = {.has_base = a->has_base, .base = a->base};

        for (size_t i = 0; i < n; i++) {
                _cleanup_(image_freep) Image *img = NULL;
                DfuError error = DFU_ERROR_INIT;

                if (image_load_path(paths[i], &lo, &img, &error) < 0) {
                        fprintf(stderr, "dfusctl inspect: %s\n", dfu_error_message(&error));
                        return EXIT_IO;
                }
                if (!merged) {
                        merged = TAKE_PTR(img);
                        continue;
                }
                if (image_merge(merged, img, &error) < 0) {
                        fprintf(stderr, "dfusctl inspect: %s\n", dfu_error_message(&error));
                        return EXIT_IO;
                }
        }
        *ret = TAKE_PTR(merged);
        return -1;
}

static int build_plans(const InspectArgs *a, InspectResult *r) {
        const Image *kept = r->report->kept;
        uint16_t ts = a->transfer_size ?: r->part ? r->part->transfer_size : 2048;

        for (size_t alt = 0; alt < r->map->n_layouts; alt++) {
                PlanOptions po = {.mass_erase = a->mass_erase, .verify = true, .leave = true};
                DfuError error = DFU_ERROR_INIT;
                bool used = false;
                Plan *p;

                for (size_t i = 0; i < kept->n_segments && !used; i++)
                        used = kept->segments[i].alt_setting == (int)alt;
                if (!used)
                        continue;
                if (plan_build(kept, &r->map->layouts[alt], ts, r->part, &po, &p, &error) < 0) {
                        fprintf(stderr, "dfusctl inspect: %s\n", dfu_error_message(&error));
                        return EXIT_IO;
                }
                Plan **l = realloc(r->plans, (r->n_plans + 1) * sizeof(Plan *));
                if (!l) {
                        plan_free(p);
                        return EXIT_IO;
                }
                r->plans = l;
                r->plans[r->n_plans++] = p;
        }
        return -1;
}

/* As the daemon's prepare step does: the patches' bytes join the kept image, or the image is rejected. */
static int place_patches(const InspectArgs *a, InspectResult *r, PatchPlace *places) {
        DfuError error = DFU_ERROR_INIT;
        int k;

        k = patch_place_all(r->report->kept, &r->map->layouts[0], a->patches, a->n_patches, a->mass_erase,
                            a->patch_erase, places, &error);
        if (k == -ENOMEM)
                return EXIT_IO;
        if (k < 0) {
                free(r->report->reject_reason);
                r->report->reject_reason = strdup(dfu_error_message(&error));
                r->report->rejected = true;
                if (!r->report->reject_reason)
                        return EXIT_IO;
                return -1;
        }
        r->patches = a->patches;
        r->places = places;
        r->n_patches = a->n_patches;
        return -1;
}

static bool kept_beyond_alt0(const Image *kept) {
        for (size_t i = 0; i < kept->n_segments; i++)
                if (kept->segments[i].alt_setting > 0)
                        return true;
        return false;
}

static int export_kept(const InspectArgs *a, const InspectResult *r) {
        ImageFormat f = a->export_format ?: format_from_extension(a->export_path);
        DfuError error = DFU_ERROR_INIT;
        _cleanup_close_ int fd = -EBADF;
        int k;

        fd = open(a->export_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                fprintf(stderr, "dfusctl inspect: cannot create %s: %m\n", a->export_path);
                return EXIT_IO;
        }
        if (f == IMAGE_FORMAT_IHEX)
                k = image_write_ihex(r->report->kept, fd, &error);
        else if (f == IMAGE_FORMAT_DFUSE && kept_beyond_alt0(r->report->kept)) {
                /* One target per file from our writer: option bytes would land in the flash target. */
                fprintf(stderr,
                        "dfusctl inspect: %s: a .dfu export holds the flash (alt 0) only; export "
                        "option bytes as .hex\n",
                        a->export_path);
                return EXIT_IO;
        } else if (f == IMAGE_FORMAT_DFUSE)
                k = image_write_dfuse(r->report->kept, (uint8_t)0, r->map->layouts[0].name,
                                      r->part ? r->part->vid : 0xFFFF, r->part ? r->part->pid : 0xFFFF,
                                      0xFFFF, fd, &error);
        else
                k = image_write_binary(r->report->kept, fd, &error);
        if (k < 0) {
                fprintf(stderr, "dfusctl inspect: %s: %s\n", a->export_path, dfu_error_message(&error));
                return EXIT_IO;
        }
        return -1;
}

static void result_done(InspectResult *r) {
        for (size_t i = 0; i < r->n_plans; i++)
                plan_free(r->plans[i]);
        free(r->plans);
        sanitize_report_free(r->report);
}

int verb_inspect(int argc, char *argv[], const DfusctlContext *ctx) {
        _cleanup_(memmap_freep) MemMap *map = NULL;
        _cleanup_(image_freep) Image *image = NULL;
        _cleanup_(result_done) InspectResult r = {};
        PatchPlace places[PATCH_MAX] = {};
        InspectArgs a = {};
        _cleanup_free_ char **layouts = NULL;
        DfuError error = DFU_ERROR_INIT;
        int k;

        /* A live board's map comes from the daemon: a separate path, with flash's options. */
        if (inspect_wants_device(argc, argv))
                return inspect_device(argc, argv, ctx);
        k = parse_args(argc, argv, &a);
        layouts = a.layouts;
        if (k >= 0)
                return k;
        if (a.option_bytes) {
                if (!a.family)
                        return usage_error(
                                "--option-bytes needs --family NAME (f4, f7, l4, g4, h7 or a part)");
                if (ctx->json && optind < argc)
                        return usage_error("with --json, --option-bytes takes no image: one document each");
                k = inspect_option_bytes(a.family, a.option_bytes, a.allow_permanent_lock, ctx);
                /* With images too, their verdicts follow. */
                if (k != EXIT_ACCEPTED || optind >= argc)
                        return k;
                printf("\n");
        }
        if (optind >= argc)
                return usage_error("no image given; see dfusctl inspect --help");
        if (a.export_path && !a.export_format && !export_format_ok(format_from_extension(a.export_path)))
                return usage_error(
                        "cannot tell the export format from the file name: use a .hex, .dfu or .bin "
                        "name, or --export-format");
        k = build_map(&a, &r.part, &map);
        if (k >= 0)
                return k;
        r.map = map;
        r.images = argv + optind;
        r.n_images = (size_t)(argc - optind);
        k = load_images(&a, r.images, r.n_images, &image);
        if (k >= 0)
                return k;

        SanitizeOptions so = {.strict = a.strict, .allow_option_bytes = a.allow_option_bytes};
        if (sanitize_image(image, map, &so, &r.report, &error) < 0) {
                fprintf(stderr, "dfusctl inspect: %s\n", dfu_error_message(&error));
                return EXIT_IO;
        }
        if (!r.report->rejected && a.n_patches > 0) {
                k = place_patches(&a, &r, places);
                if (k >= 0)
                        return k;
        }
        if (!r.report->rejected) {
                k = build_plans(&a, &r);
                if (k >= 0)
                        return k;
        }

        if (ctx->json) {
                if (inspect_print_json(&r) < 0)
                        return EXIT_IO;
        } else
                inspect_print_text(&r, ctx);

        if (r.report->rejected)
                return EXIT_REJECTED;
        if (a.export_path) {
                k = export_kept(&a, &r);
                if (k >= 0)
                        return k;
        }
        return EXIT_ACCEPTED;
}
