/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "image-internal.h"

typedef struct IhexState {
        const char *name;
        RunBuilder runs;
        uint32_t base;  /* from the last 02 or 04 record */
        bool segmented; /* 02 addressing: offsets wrap within the 64 KiB segment */
        unsigned line;
        unsigned eof_line; /* 0 until the end-of-file record */
        Image *image;
} IhexState;

static int ihex_data(IhexState *st, uint16_t offset, const uint8_t *data, unsigned count, DfuError *error) {
        if (st->segmented) {
                /* An 8086 segment is 64 KiB: a record running past its end continues at its start. */
                unsigned first = MIN(count, 0x10000u - offset);
                int r = run_builder_add(&st->runs, st->base + offset, data, first, st->line, error);
                if (r < 0 || first == count)
                        return r;
                return run_builder_add(&st->runs, st->base, data + first, count - first, st->line, error);
        }

        uint32_t address = st->base + offset;
        if ((uint64_t)address + count > UINT64_C(1) << 32)
                return dfu_error_set(error, EINVAL,
                                     "%s: line %u: %u data bytes at 0x%08" PRIX32
                                     " go past the end of the 32-bit address space",
                                     st->name, st->line, count, address);
        return run_builder_add(&st->runs, address, data, count, st->line, error);
}

static int ihex_expect_count(IhexState *st, uint8_t type, unsigned count, unsigned expected,
                             DfuError *error) {
        if (count == expected)
                return 0;
        return dfu_error_set(error, EINVAL, "%s: line %u: record type %02X with %u data bytes, expected %u",
                             st->name, st->line, type, count, expected);
}

static int ihex_record(IhexState *st, const uint8_t *b, DfuError *error) {
        unsigned count = b[0];
        uint16_t offset = (uint16_t)(b[1] << 8 | b[2]);
        uint8_t type = b[3];
        const uint8_t *data = b + 4;
        int r;

        switch (type) {
        case 0x00:
                return ihex_data(st, offset, data, count, error);
        case 0x01:
                r = ihex_expect_count(st, type, count, 0, error);
                st->eof_line = st->line;
                return r;
        case 0x02:
        case 0x04:
                r = ihex_expect_count(st, type, count, 2, error);
                if (r < 0)
                        return r;
                st->segmented = type == 0x02;
                st->base = (uint32_t)(data[0] << 8 | data[1]) << (type == 0x02 ? 4 : 16);
                return 0;
        case 0x03:
        case 0x05:
                r = ihex_expect_count(st, type, count, 4, error);
                if (r < 0)
                        return r;
                st->image->has_entry = true;
                if (type == 0x03) /* CS:IP */
                        st->image->entry = ((uint32_t)(data[0] << 8 | data[1]) << 4) +
                                           (uint32_t)(data[2] << 8 | data[3]);
                else
                        st->image->entry = get_be32(data);
                return 0;
        default:
                return dfu_error_set(error, EINVAL, "%s: line %u: unknown record type %02X, expected 00-05",
                                     st->name, st->line, type);
        }
}

/* One non-blank line, without its line end or trailing blanks: TextFormat.read_line. */
static int ihex_line(void *state, const char *p, size_t n, unsigned line, DfuError *error) {
        IhexState *st = state;
        uint8_t bytes[5 + 255];
        int r;

        st->line = line;

        if (p[0] != ':')
                return text_error_char(error, st->name, st->line, 1, p[0], "':' at the start of a record");

        size_t digits = n - 1;
        if (digits < 2)
                return dfu_error_set(error, EINVAL, "%s: line %u: record too short", st->name, st->line);
        r = text_hex_bytes(p + 1, 2, bytes, 1, st->name, st->line, error);
        if (r < 0)
                return r;
        size_t want = 2 * (5 + (size_t)bytes[0]);
        if (digits != want)
                return dfu_error_set(
                        error, EINVAL,
                        "%s: line %u: byte count 0x%02X needs %zu hex digits after ':', found %zu", st->name,
                        st->line, bytes[0], want, digits);
        r = text_hex_bytes(p + 1, 2, bytes, want / 2, st->name, st->line, error);
        if (r < 0)
                return r;

        uint8_t sum = 0;
        for (size_t i = 0; i < want / 2 - 1; i++)
                sum += bytes[i];
        uint8_t expected = (uint8_t)-sum, given = bytes[want / 2 - 1];
        if (given != expected)
                return dfu_error_set(error, EINVAL, "%s: line %u: checksum 0x%02X, expected 0x%02X",
                                     st->name, st->line, given, expected);

        r = ihex_record(st, bytes, error);
        return r < 0 ? r : st->eof_line > 0;
}

static void ihex_state_done(IhexState *st) {
        run_builder_done(&st->runs);
}

int ihex_parse(const uint8_t *buf, size_t len, Image *image, DfuError *error) {
        static const TextFormat format = {
                .end_record = "end-of-file record",
                .end_hint = ":00000001FF",
                .read_line = ihex_line,
        };
        _cleanup_(ihex_state_done) IhexState st = {.name = image->name, .image = image};
        int r;

        r = text_read_records(buf, len, st.name, &format, &st, error);
        if (r < 0)
                return r;
        return run_builder_finish(&st.runs, image, st.name, error);
}
