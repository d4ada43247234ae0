/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>

#include "parse-util.h"

int parse_uint64(const char *s, int base, uint64_t max, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (!s || !s[0] || s[0] == '-')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, base);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno != 0 || end == s || *end != '\0')
                return -EINVAL;
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}
