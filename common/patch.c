/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse-util.h"
#include "patch.h"

typedef struct PatchFormatInfo {
        const char *name;
        unsigned width; /* fixed width, or 0 when the format takes ":N" */
} PatchFormatInfo;

static const PatchFormatInfo patch_formats[_PATCH_FORMAT_MAX] = {
        [PATCH_U32LE] = {"u32le", 4}, [PATCH_U32BE] = {"u32be", 4}, [PATCH_U64LE] = {"u64le", 8},
        [PATCH_U64BE] = {"u64be", 8}, [PATCH_DEC] = {"dec", 0},     [PATCH_HEX] = {"hex", 0},
        [PATCH_MAC] = {"mac", 6},     [PATCH_BYTES] = {"bytes", 0}, [PATCH_STR] = {"str", 0},
};

bool sequence_name_is_valid(const char *name) {
        size_t n = name ? strlen(name) : 0;

        if (n == 0 || n > SEQUENCE_NAME_MAX)
                return false;
        for (const char *c = name; *c; c++)
                if (!isascii(*c) || (!isalnum(*c) && *c != '_' && *c != '-'))
                        return false;
        return true;
}

int patch_format_parse(const char *s, PatchFormat *ret_format, unsigned *ret_width, DfuError *error) {
        const char *colon = strchr(s, ':');
        size_t len = colon ? (size_t)(colon - s) : strlen(s);

        for (PatchFormat f = 0; f < _PATCH_FORMAT_MAX; f++) {
                const PatchFormatInfo *info = &patch_formats[f];
                uint64_t width;

                if (strlen(info->name) != len || strncmp(info->name, s, len) != 0)
                        continue;
                if (info->width > 0) {
                        if (colon)
                                return dfu_error_set(error, EINVAL, "Format '%s' takes no width.", s);
                        *ret_format = f;
                        *ret_width = info->width;
                        return 0;
                }
                if (!colon || parse_uint64(colon + 1, 10, PATCH_WIDTH_MAX, &width) < 0 || width == 0)
                        return dfu_error_set(error, EINVAL,
                                             "Format '%s' needs a width in bytes from 1 to %d: '%s:N'.", s,
                                             PATCH_WIDTH_MAX, info->name);
                *ret_format = f;
                *ret_width = (unsigned)width;
                return 0;
        }
        return dfu_error_set(error, EINVAL,
                             "Unknown patch format '%s': expected u32le, u32be, u64le, u64be, dec:N, hex:N, "
                             "mac, bytes:N or str:N.",
                             s);
}

void patch_format_to_string(PatchFormat f, unsigned width, char buf[static 16]) {
        if (patch_formats[f].width > 0)
                (void)snprintf(buf, 16, "%s", patch_formats[f].name);
        else
                (void)snprintf(buf, 16, "%s:%u", patch_formats[f].name, width);
}

int patch_parse(const char *s, Patch *ret, DfuError *error) {
        _cleanup_free_ char *copy = NULL;
        char *format, *sequence;
        uint64_t address;
        Patch p = {};
        int r;

        if (!s || strlen(s) > 128)
                return dfu_error_set(error, EINVAL, "Patch '%.128s' is too long.", s ? s : "");
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        /* ADDRESS:FORMAT[:WIDTH]:SEQUENCE: the first field and the last are fixed, the middle is the format.
         */
        format = strchr(copy, ':');
        sequence = strrchr(copy, ':');
        if (!format || sequence == format)
                return dfu_error_set(error, EINVAL, "Patch '%s': expected ADDRESS:FORMAT:SEQUENCE.", s);
        *format++ = '\0';
        *sequence++ = '\0';
        if (parse_uint64(copy, 0, UINT32_MAX, &address) < 0)
                return dfu_error_set(error, EINVAL, "Patch '%s': '%s' is not a 32-bit address.", s, copy);
        r = patch_format_parse(format, &p.format, &p.width, error);
        if (r < 0)
                return dfu_error_prefix(error, "Patch '%s': ", s);
        if (!sequence_name_is_valid(sequence))
                return dfu_error_set(error, EINVAL,
                                     "Patch '%s': sequence name '%s' is not 1 to %d of A-Z a-z 0-9 _ -.", s,
                                     sequence, SEQUENCE_NAME_MAX);
        if (address + p.width - 1 > UINT32_MAX)
                return dfu_error_set(error, ERANGE, "Patch '%s' runs past the end of the address space.", s);
        p.address = (uint32_t)address;
        strcpy(p.sequence, sequence);
        *ret = p;
        return 0;
}

char *patch_to_string(const Patch *p) {
        char format[16], *s;

        patch_format_to_string(p->format, p->width, format);
        if (asprintf(&s, "0x%08" PRIX32 ":%s:%s", p->address, format, p->sequence) < 0)
                return NULL;
        return s;
}

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char)tolower((unsigned char)c);
        return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Hex digit pairs, optionally separated by ':' or '-' between bytes; exactly n bytes. */
static int parse_hex_bytes(const char *s, uint8_t *buf, size_t n) {
        size_t i = 0;

        while (*s) {
                int hi, lo;

                if (i > 0 && (*s == ':' || *s == '-'))
                        s++;
                hi = hex_digit(s[0]);
                lo = hi >= 0 ? hex_digit(s[1]) : -1;
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                if (i >= n)
                        return -ERANGE;
                buf[i++] = (uint8_t)(hi << 4 | lo);
                s += 2;
        }
        return i == n ? 0 : -ERANGE;
}

static void put_be(uint8_t *buf, unsigned n, uint64_t v) {
        for (unsigned i = 0; i < n; i++)
                buf[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void put_le(uint8_t *buf, unsigned n, uint64_t v) {
        for (unsigned i = 0; i < n; i++)
                buf[i] = (uint8_t)(v >> (8 * i));
}

static int render_number(const Patch *p, const char *value, const char *what, uint64_t max, uint64_t *ret,
                         DfuError *error) {
        /* Decimal, or hex with 0x: never octal, a list's "0042" is forty-two. */
        bool hex = value[0] == '0' && (value[1] == 'x' || value[1] == 'X');
        int r = parse_uint64(hex ? value + 2 : value, hex ? 16 : 10, max, ret);

        if (r == -ERANGE)
                return dfu_error_set(error, ERANGE,
                                     "Value %s does not fit %s at 0x%08" PRIX32 " (at most %" PRIu64 ").",
                                     value, what, p->address, max);
        if (r < 0 || !isxdigit((unsigned char)value[hex ? 2 : 0]))
                return dfu_error_set(error, EINVAL,
                                     "Value '%s' is not a number, as %s at 0x%08" PRIX32 " needs.", value,
                                     what, p->address);
        return 0;
}

int patch_render(const Patch *p, const char *value, uint8_t *buf, DfuError *error) {
        char format[16], text[PATCH_WIDTH_MAX + 24];
        uint64_t v;
        size_t len;
        int r;

        patch_format_to_string(p->format, p->width, format);
        switch (p->format) {
        case PATCH_U32LE:
        case PATCH_U32BE:
        case PATCH_U64LE:
        case PATCH_U64BE: {
                bool wide = p->format == PATCH_U64LE || p->format == PATCH_U64BE;
                r = render_number(p, value, format, wide ? UINT64_MAX : UINT32_MAX, &v, error);
                if (r < 0)
                        return r;
                if (p->format == PATCH_U32LE || p->format == PATCH_U64LE)
                        put_le(buf, p->width, v);
                else
                        put_be(buf, p->width, v);
                return 0;
        }
        case PATCH_DEC:
        case PATCH_HEX:
                r = render_number(p, value, format, UINT64_MAX, &v, error);
                if (r < 0)
                        return r;
                (void)snprintf(text, sizeof(text), p->format == PATCH_DEC ? "%0*" PRIu64 : "%0*" PRIX64,
                               (int)p->width, v);
                if (strlen(text) > p->width)
                        return dfu_error_set(error, ERANGE,
                                             "Value %s needs %zu digits, %s at 0x%08" PRIX32 " has %u.",
                                             value, strlen(text), format, p->address, p->width);
                memcpy(buf, text, p->width);
                return 0;
        case PATCH_MAC:
                if (strchr(value, ':') || strchr(value, '-')) {
                        r = parse_hex_bytes(value, buf, 6);
                        if (r < 0)
                                return dfu_error_set(
                                        error, EINVAL,
                                        "Value '%s' is not a MAC address (aa:bb:cc:dd:ee:ff) for "
                                        "the patch at 0x%08" PRIX32 ".",
                                        value, p->address);
                        return 0;
                }
                r = render_number(p, value, "mac (48 bits)", (UINT64_C(1) << 48) - 1, &v, error);
                if (r < 0)
                        return r;
                put_be(buf, 6, v);
                return 0;
        case PATCH_BYTES:
                r = parse_hex_bytes(value, buf, p->width);
                if (r == -ERANGE)
                        return dfu_error_set(
                                error, ERANGE,
                                "Value '%s' is not exactly %u bytes of hex, as %s at 0x%08" PRIX32 " needs.",
                                value, p->width, format, p->address);
                if (r < 0)
                        return dfu_error_set(error, EINVAL,
                                             "Value '%s' is not hex digits, as %s at 0x%08" PRIX32 " needs.",
                                             value, format, p->address);
                return 0;
        case PATCH_STR:
                len = strlen(value);
                if (len > p->width)
                        return dfu_error_set(error, ERANGE,
                                             "Value '%s' is %zu bytes long, %s at 0x%08" PRIX32 " holds %u.",
                                             value, len, format, p->address, p->width);
                memset(buf, 0, p->width);
                memcpy(buf, value, len);
                return 0;
        default:
                return dfu_error_set(error, EINVAL, "Unknown patch format.");
        }
}
