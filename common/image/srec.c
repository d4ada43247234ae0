/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "image-internal.h"

typedef struct SrecState {
        const char *name;
        RunBuilder runs;
        unsigned line;
        unsigned end_line; /* the S7/S8/S9 record, 0 until seen */
        uint32_t n_data;   /* S1/S2/S3 records so far, for S5/S6 */
        Image *image;
} SrecState;

static void srec_state_done(SrecState *st) {
        run_builder_done(&st->runs);
}

/* Address field width by record type; 0 = reserved. */
static const uint8_t srec_address_size[10] = {2, 2, 3, 4, 0, 2, 3, 4, 3, 2};

static int srec_record(SrecState *st, unsigned type, const uint8_t *addr_bytes, unsigned addr_size,
                       const uint8_t *data, unsigned n_data, DfuError *error) {
        uint32_t address = 0;
        for (unsigned i = 0; i < addr_size; i++)
                address = address << 8 | addr_bytes[i];

        switch (type) {
        case 0: /* header: free text, nothing to load */
                return 0;
        case 1:
        case 2:
        case 3:
                if ((uint64_t)address + n_data > UINT64_C(1) << 32)
                        return dfu_error_set(error, EINVAL,
                                             "%s: line %u: %u data bytes at 0x%08" PRIX32
                                             " go past the end of the 32-bit address space",
                                             st->name, st->line, n_data, address);
                st->n_data++;
                return run_builder_add(&st->runs, address, data, n_data, st->line, error);
        case 5:
        case 6:
                if (address != st->n_data)
                        return dfu_error_set(error, EINVAL,
                                             "%s: line %u: S%u says %" PRIu32 " data records, but %" PRIu32
                                             " precede it",
                                             st->name, st->line, type, address, st->n_data);
                return 0;
        default: /* 7, 8, 9 */
                st->image->has_entry = true;
                st->image->entry = address;
                st->end_line = st->line;
                return 0;
        }
}

/* One non-blank line, without its line end or trailing blanks: TextFormat.read_line. */
static int srec_line(void *state, const char *p, size_t n, unsigned line, DfuError *error) {
        SrecState *st = state;
        uint8_t bytes[256];
        int r;

        st->line = line;

        if (p[0] != 'S')
                return text_error_char(error, st->name, st->line, 1, p[0], "'S' at the start of a record");
        if (n < 2 || p[1] < '0' || p[1] > '9' || srec_address_size[p[1] - '0'] == 0)
                return text_error_char(error, st->name, st->line, 2, n < 2 ? ' ' : p[1],
                                       "a record type S0-S3 or S5-S9");
        unsigned type = (unsigned)(p[1] - '0'), addr_size = srec_address_size[type];

        size_t digits = n - 2;
        if (digits < 2)
                return dfu_error_set(error, EINVAL, "%s: line %u: record too short", st->name, st->line);
        r = text_hex_bytes(p + 2, 3, bytes, 1, st->name, st->line, error);
        if (r < 0)
                return r;
        unsigned count = bytes[0];
        if (count < addr_size + 1)
                return dfu_error_set(
                        error, EINVAL,
                        "%s: line %u: byte count 0x%02X is too small for an S%u record (at least "
                        "0x%02X)",
                        st->name, st->line, count, type, addr_size + 1);
        size_t want = 2 * ((size_t)count + 1);
        if (digits != want)
                return dfu_error_set(
                        error, EINVAL,
                        "%s: line %u: byte count 0x%02X needs %zu hex digits after 'S%u', found %zu",
                        st->name, st->line, count, want, type, digits);
        r = text_hex_bytes(p + 2, 3, bytes, count + 1, st->name, st->line, error);
        if (r < 0)
                return r;

        uint8_t sum = 0;
        for (unsigned i = 0; i < count; i++)
                sum += bytes[i];
        uint8_t expected = (uint8_t)~sum, given = bytes[count];
        if (given != expected)
                return dfu_error_set(error, EINVAL, "%s: line %u: checksum 0x%02X, expected 0x%02X",
                                     st->name, st->line, given, expected);

        r = srec_record(st, type, bytes + 1, addr_size, bytes + 1 + addr_size, count - addr_size - 1, error);
        return r < 0 ? r : st->end_line > 0;
}

int srec_parse(const uint8_t *buf, size_t len, Image *image, DfuError *error) {
        static const TextFormat format = {
                .end_record = "termination record",
                .end_hint = "S7, S8 or S9",
                .read_line = srec_line,
        };
        _cleanup_(srec_state_done) SrecState st = {.name = image->name, .image = image};
        int r;

        r = text_read_records(buf, len, st.name, &format, &st, error);
        if (r < 0)
                return r;
        return run_builder_finish(&st.runs, image, st.name, error);
}
