/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <string.h>

#include "inspect.h"
#include "option-bytes.h"
#include "output.h"

/* `dfusctl inspect --family NAME --option-bytes FIELD=VALUE,...`: what a job with these option bytes
 * would write, from the family's factory block, touching no board. */

static void hex(const uint8_t *b, size_t n, char *out) {
        for (size_t i = 0; i < n; i++)
                sprintf(out + 2 * i, "%02x", b[i]);
}

static int print_json(const OptionBytesFamily *f, const uint8_t *before, const uint8_t *after) {
        json_object *doc = json_object_new_object(), *fields = json_object_new_array();
        char buf[64], b2[64], h[2 * OPTION_BYTES_MAX + 1];
        int k;

        if (!doc || !fields) {
                json_object_put(doc);
                json_object_put(fields);
                return EXIT_IO;
        }
        json_object_object_add(doc, "family", json_object_new_string(f->name));
        json_object_object_add(doc, "address", json_object_new_int64(f->address));
        json_object_object_add(doc, "size", json_object_new_int64(f->size));
        for (size_t i = 0; i < f->n_fields; i++) {
                const OptionBytesField *fl = &f->fields[i];
                uint32_t a = option_bytes_field_get(fl, before), c = option_bytes_field_get(fl, after);
                json_object *o = json_object_new_object();
                json_object_object_add(o, "name", json_object_new_string(fl->name));
                json_object_object_add(
                        o, "before",
                        json_object_new_string(option_bytes_field_format(fl, a, buf, sizeof(buf))));
                json_object_object_add(
                        o, "after",
                        json_object_new_string(option_bytes_field_format(fl, c, b2, sizeof(b2))));
                json_object_object_add(o, "changed", json_object_new_boolean(a != c));
                json_object_object_add(o, "description", json_object_new_string(fl->description));
                json_object_array_add(fields, o);
        }
        json_object_object_add(doc, "fields", fields);
        hex(before, f->size, h);
        json_object_object_add(doc, "before", json_object_new_string(h));
        hex(after, f->size, h);
        json_object_object_add(doc, "after", json_object_new_string(h));
        k = output_json(doc, stdout);
        json_object_put(doc);
        return k < 0 ? EXIT_IO : EXIT_ACCEPTED;
}

static void print_bytes(const char *label, uint32_t address, const uint8_t *b, size_t n) {
        printf("%s:\n", label);
        for (size_t i = 0; i < n; i += 16) {
                printf("  %08zx ", (size_t)address + i);
                for (size_t k = i; k < n && k < i + 16; k++)
                        printf(" %02x", b[k]);
                printf("\n");
        }
}

static int print_text(const OptionBytesFamily *f, const uint8_t *before, const uint8_t *after,
                      const DfusctlContext *ctx) {
        static const char *const headers[] = {"FIELD", "FACTORY", "AFTER", "", "MEANING"};
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);

        if (!t)
                return EXIT_IO;
        printf("Option bytes of %s (%s), %u bytes at 0x%08X; from %s.\n\n", f->name, f->description, f->size,
               f->address, f->source);
        for (size_t i = 0; i < f->n_fields; i++) {
                const OptionBytesField *fl = &f->fields[i];
                uint32_t a = option_bytes_field_get(fl, before), c = option_bytes_field_get(fl, after);
                char b1[64], b2[64];
                const char *cells[] = {fl->name, option_bytes_field_format(fl, a, b1, sizeof(b1)),
                                       option_bytes_field_format(fl, c, b2, sizeof(b2)),
                                       a != c ? "changed" : "", fl->description};
                if (table_add_row(t, cells, 3, a != c ? OUTPUT_COLOR_YELLOW : OUTPUT_COLOR_NONE) < 0)
                        return EXIT_IO;
        }
        if (table_print(t, stdout, !ctx->no_legend, ctx->color) < 0)
                return EXIT_IO;
        printf("\n");
        print_bytes("Factory block", f->address, before, f->size);
        print_bytes("Block written", f->address, after, f->size);
        return EXIT_ACCEPTED;
}

int inspect_option_bytes(const char *family, const char *spec, bool allow_permanent,
                         const DfusctlContext *ctx) {
        const OptionBytesFamily *f = option_bytes_family_find(family);
        OptionBytesChange c[OPTION_BYTES_CHANGES_MAX];
        uint8_t before[OPTION_BYTES_MAX], after[OPTION_BYTES_MAX];
        DfuError error = DFU_ERROR_INIT;
        size_t n;

        if (!f) {
                fprintf(stderr,
                        "dfusctl inspect: no option-byte table for \"%s\"; there are for:", family ?: "");
                for (size_t i = 0; i < option_bytes_n_families; i++)
                        fprintf(stderr, " %s", option_bytes_families[i].name);
                fprintf(stderr, " (or one of their parts).\n");
                return EXIT_USAGE;
        }
        if (option_bytes_parse_changes(f, spec, allow_permanent, c, &n, &error) < 0) {
                fprintf(stderr, "dfusctl inspect: %s\n", dfu_error_message(&error));
                return EXIT_REJECTED;
        }
        option_bytes_reset_block(f, before);
        memcpy(after, before, sizeof(after));
        option_bytes_apply(c, n, after);
        return ctx->json ? print_json(f, before, after) : print_text(f, before, after, ctx);
}
