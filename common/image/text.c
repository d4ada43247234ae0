/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "image-internal.h"

/* Value of each hex digit character; X for every other byte. Rows of 32 characters. */
#define X 0xFF
const uint8_t hex_value_table[256] = {
        X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
        X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, X, X, X, X, X, X,
        X, 10, 11, 12, 13, 14, 15, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
        X, 10, 11, 12, 13, 14, 15, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
        X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
        X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
        X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
        X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
};
#undef X

int write_full(int fd, const void *buf, size_t len) {
        const uint8_t *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        return -EIO;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

TextCursor text_cursor(const uint8_t *buf, size_t len) {
        TextCursor c = {.buf = (const char *)buf, .len = len};
        if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
                c.pos = 3;
        return c;
}

bool text_next_line(TextCursor *c, const char **ret, size_t *ret_len) {
        if (c->pos >= c->len)
                return false;

        const char *start = c->buf + c->pos;
        const char *nl = memchr(start, '\n', c->len - c->pos);
        size_t n = nl ? (size_t)(nl - start) : c->len - c->pos;

        c->pos += n + (nl ? 1 : 0);
        c->line++;
        while (n > 0 && (start[n - 1] == '\r' || start[n - 1] == ' ' || start[n - 1] == '\t'))
                n--;
        *ret = start;
        *ret_len = n;
        return true;
}

int text_read_records(const uint8_t *buf, size_t len, const char *name, const TextFormat *f, void *state,
                      DfuError *error) {
        TextCursor c = text_cursor(buf, len);
        unsigned end_line = 0;
        const char *p;
        size_t n;
        int r;

        while (text_next_line(&c, &p, &n)) {
                if (n == 0)
                        continue;
                if (end_line > 0)
                        return dfu_error_set(error, EINVAL, "%s: line %u: data after the %s at line %u",
                                             name, c.line, f->end_record, end_line);
                r = f->read_line(state, p, n, c.line, error);
                if (r < 0)
                        return r;
                if (r > 0)
                        end_line = c.line;
        }
        if (end_line == 0)
                return dfu_error_set(error, EINVAL, "%s: no %s (%s) after line %u; is the file truncated?",
                                     name, f->end_record, f->end_hint, c.line);
        return 0;
}

int text_error_char(DfuError *error, const char *name, unsigned line, size_t column, char ch,
                    const char *expected) {
        if (isprint((unsigned char)ch))
                return dfu_error_set(error, EINVAL, "%s: line %u: column %zu: expected %s, found '%c'", name,
                                     line, column, expected, ch);
        return dfu_error_set(error, EINVAL, "%s: line %u: column %zu: expected %s, found byte 0x%02X", name,
                             line, column, expected, (unsigned char)ch);
}

int text_hex_bytes(const char *p, size_t column, uint8_t *out, size_t n, const char *name, unsigned line,
                   DfuError *error) {
        for (size_t i = 0; i < n; i++) {
                int v = hex_byte(p + 2 * i);
                if (_likely_(v >= 0)) {
                        out[i] = (uint8_t)v;
                        continue;
                }
                size_t bad = hex_value_table[(uint8_t)p[2 * i]] > 15 ? 2 * i : 2 * i + 1;
                return text_error_char(error, name, line, column + bad, p[bad], "a hex digit");
        }
        return 0;
}
