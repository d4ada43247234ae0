/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "patch.h"
#include "sequence-list.h"
#include "strv.h"

_Static_assert(SEQUENCE_LIST_LINE_MAX == SEQUENCE_VALUE_MAX, "a list's line is one value");

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r';
}

/* The values, grown geometrically: a list of a million lines costs a million appends, not their square. */
typedef struct Values {
        char **v;
        size_t n, allocated;
} Values;

static int values_append(Values *l, const char *s, size_t len) {
        if (l->n + 1 >= l->allocated) {
                size_t want = MAX(l->allocated * 2, (size_t)64);
                char **nv = reallocarray(l->v, want, sizeof(char *));
                if (!nv)
                        return -ENOMEM;
                l->v = nv;
                l->allocated = want;
        }
        l->v[l->n] = strndup(s, len);
        if (!l->v[l->n])
                return -ENOMEM;
        l->v[++l->n] = NULL;
        return 0;
}

/* The line [p, p + len) trimmed: *ret_len 0 for a blank line or a comment. -EINVAL names what is wrong. */
static int list_line(const char *p, size_t len, size_t line, const char **ret, size_t *ret_len,
                     DfuError *error) {
        if (memchr(p, '\0', len))
                return dfu_error_set(error, EINVAL, "line %zu: a NUL byte; a list is text.", line);
        while (len > 0 && is_blank(*p))
                p++, len--;
        while (len > 0 && is_blank(p[len - 1]))
                len--;
        if (len > 0 && *p == '#')
                len = 0;
        if (len > SEQUENCE_LIST_LINE_MAX)
                return dfu_error_set(error, EINVAL, "line %zu: longer than %d characters.", line,
                                     SEQUENCE_LIST_LINE_MAX);
        for (size_t i = 0; i < len; i++)
                if (iscntrl((unsigned char)p[i]) && p[i] != '\t')
                        return dfu_error_set(error, EINVAL, "line %zu: a control character.", line);
        *ret = p;
        *ret_len = len;
        return 0;
}

int sequence_list_parse(const char *data, size_t size, char ***ret, DfuError *error) {
        Values l = {};
        size_t line = 0;
        int r = 0;

        if (size > SEQUENCE_LIST_FILE_MAX)
                return dfu_error_set(error, EINVAL, "larger than %" PRIu64 " bytes.",
                                     SEQUENCE_LIST_FILE_MAX);
        for (const char *p = data, *end = data + size; r >= 0 && p < end;) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
                const char *v = NULL;
                size_t vlen = 0;

                line++;
                r = list_line(p, len, line, &v, &vlen, error);
                p += len + 1;
                if (r < 0 || vlen == 0)
                        continue;
                if (l.n >= SEQUENCE_LIST_VALUES_MAX)
                        r = dfu_error_set(error, EINVAL, "line %zu: more than %u values.", line,
                                          SEQUENCE_LIST_VALUES_MAX);
                else if (values_append(&l, v, vlen) < 0)
                        r = dfu_error_set(error, ENOMEM, "out of memory.");
        }
        if (r >= 0 && l.n == 0)
                r = dfu_error_set(error, EINVAL, "no values (only blank lines and comments).");
        if (r < 0) {
                strv_free(l.v);
                return r;
        }
        *ret = l.v;
        return 0;
}
